//! Connectors: how a node reads and writes the items of a real tracker over that tracker's own
//! API. One module per tracker: [`servicenow`], [`jira`].
//!
//! A connector is a client of the tracker's public REST API and nothing else: tests run it
//! against the emulators in `tandem-emulators` over HTTP, exactly as it runs against the real
//! service, so a shortcut can never hide a bug.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC};

pub mod builtin;
pub mod jira;
pub mod schema;
pub mod servicenow;
pub mod tracker;

pub use schema::{Builtin, Collections, FieldError, Mapping, Schema, TriggerError};

pub use tracker::{
    Capabilities, Changes, Cursor, ErrorKind, Feed, Fields, NewFile, RemoteAttachment,
    RemoteComment, RemoteRecord, Tracker, TrackerError, TrackerKind,
};

/// RFC 3986's unreserved characters (§2.3): a query value or a path segment keeps these and
/// has every other byte percent-encoded.
pub const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');
