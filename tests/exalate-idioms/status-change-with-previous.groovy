// Idiom: act only on what changed since the last sync — the incoming rules compare the
// replica's status with the previous replica's (previous) and set the status only when it
// moved, leaving a local status change alone otherwise.
// Source: Exalate docs, "previous" (the replica received on the previous sync, in the incoming rules).
// Given on A: {"project": "SUP", "summary": "Moves along"}
// Then on A: SUP-1 {"status": "Done"}
// Expect ENG-1: {"status": "Done", "description": "moved from To Do to Done"}
// ---- incoming on B
if (firstSync) {
    issue.projectKey = "ENG"
}
issue.summary = replica.summary
if (previous != null && previous.status?.name != replica.status?.name) {
    issue.setStatus(replica.status.name)
    issue.description = "moved from " + previous.status.name + " to " + replica.status.name
}
