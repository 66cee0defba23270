//! What a node fetches and sends on others' behalf: the probe, destination checks, tracker credentials, httpClient paths, attachments served, files on disk.
