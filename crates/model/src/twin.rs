//! What a node records about syncing: twins (a local item linked to a remote one by a
//! connection), comment and attachment twins, incoming sync requests, sync errors, conflicts and
//! triggers. The logic that uses them is in `sync`; these are the records.

use jiff::Timestamp;
use uuid::Uuid;

use crate::ItemKey;
use crate::sync::Side;

/// Whether a twin still syncs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TwinState {
    /// Changes flow.
    Active,
    /// Unexalated: the link is kept for the record, changes no longer flow.
    Stopped,
}

impl TwinState {
    pub fn as_str(self) -> &'static str {
        match self {
            TwinState::Active => "active",
            TwinState::Stopped => "stopped",
        }
    }

    pub fn parse(text: &str) -> Option<TwinState> {
        [TwinState::Active, TwinState::Stopped]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// A local item linked to a remote one by a connection.
#[derive(Clone, Debug, PartialEq)]
pub struct Twin {
    pub connection_id: Uuid,
    pub local_key: ItemKey,
    /// The remote item's key; `None` until the remote acknowledges the first sync.
    pub remote_key: Option<String>,
    pub state: TwinState,
    /// The last replica this side queued for the remote (JSON text): an outgoing change that
    /// produces the same replica again is not sent.
    pub last_sent: Option<String>,
    /// The last replica received from the remote (JSON text): the incoming rules' `previous`.
    pub last_received: Option<String>,
    pub created: Timestamp,
    /// When a sync event of this twin was last applied, either direction.
    pub last_sync: Option<Timestamp>,
    /// The versions of the replica's fields on this side, updated with every replica sent and
    /// applied: what settles concurrent edits (see [`crate::sync::clock`]).
    pub clock: crate::FieldClocks,
    /// This side brought the item under sync (Exalate or Connect), rather than receiving it.
    pub leads: bool,
    /// The key the remote's admin knows its item by, when it is not `remote_key` (a ServiceNow
    /// record's number, INC0010005, for the mirror item INC-9): what this side shows and takes
    /// for the remote item. `None` until the remote says one (an older remote never does).
    /// Only shown and typed: `remote_key` stays what twins and messages link by.
    pub remote_display_key: Option<String>,
    /// The key this side last told the remote its own item is known by ([`display_key`]): a
    /// number that comes after the first sync is told once, even when no replica goes out.
    pub display_key_sent: Option<String>,
}

/// The longest display key taken from a remote ([`display_key`]).
pub const MAX_DISPLAY_KEY: usize = 100;

/// A display key a remote sent, when it is one to show: trimmed, not empty, at most
/// [`MAX_DISPLAY_KEY`] characters and without control characters (it comes from another
/// machine and goes on pages and terminals).
pub fn display_key(raw: &str) -> Option<&str> {
    let key = raw.trim();
    (!key.is_empty()
        && key.chars().count() <= MAX_DISPLAY_KEY
        && !key.chars().any(char::is_control))
    .then_some(key)
}

/// A local comment linked to a remote comment, as stored; recorded in both directions, so a
/// comment this side sent never comes back as a new one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommentLink {
    pub connection_id: Uuid,
    pub local_key: ItemKey,
    pub local_id: i64,
    pub remote_id: String,
    /// Which side wrote the original: the merge edits and deletes only the copies it made.
    pub origin: Side,
}

impl CommentLink {
    /// The link as the comment merge reads it.
    pub fn twin(&self) -> crate::sync::CommentTwin {
        crate::sync::CommentTwin {
            local_id: self.local_id,
            remote_id: self.remote_id.clone(),
            origin: self.origin,
        }
    }
}

/// A local attachment linked to a remote one, as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttachmentLink {
    pub connection_id: Uuid,
    pub local_key: ItemKey,
    pub local_id: i64,
    pub remote_id: String,
    pub origin: Side,
}

impl AttachmentLink {
    /// The link as the attachment merge reads it.
    pub fn twin(&self) -> crate::sync::AttachmentTwin {
        crate::sync::AttachmentTwin {
            local_id: self.local_id,
            remote_id: self.remote_id.clone(),
            origin: self.origin,
        }
    }
}

/// Where an incoming sync request stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RequestState {
    /// Stored, acknowledged to the remote, not applied yet.
    Pending,
    Applied,
    /// Applying failed; a sync error says why. Later requests of the same twin wait.
    Failed,
}

impl RequestState {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestState::Pending => "pending",
            RequestState::Applied => "applied",
            RequestState::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<RequestState> {
        [
            RequestState::Pending,
            RequestState::Applied,
            RequestState::Failed,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

/// A message received from a connection's remote, stored before it was acknowledged.
#[derive(Clone, Debug, PartialEq)]
pub struct IncomingRequest {
    pub id: i64,
    pub connection_id: Uuid,
    /// The remote's message seq.
    pub seq: i64,
    pub kind: String,
    /// The remote item's key the request is about (for ordering per twin), if any.
    pub remote_key: Option<String>,
    /// JSON text.
    pub payload: String,
    pub state: RequestState,
    pub attempts: u32,
    pub received: Timestamp,
    pub updated: Timestamp,
}

/// What a sync error stops.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Impact {
    /// One item's sync waits.
    Item,
    /// The whole connection waits (its rules do not compile, say).
    Connection,
    /// The node cannot sync at all.
    Node,
}

impl Impact {
    pub fn as_str(self) -> &'static str {
        match self {
            Impact::Item => "item",
            Impact::Connection => "connection",
            Impact::Node => "node",
        }
    }

    pub fn parse(text: &str) -> Option<Impact> {
        [Impact::Item, Impact::Connection, Impact::Node]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// A sync error as the Errors page lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncError {
    pub id: i64,
    pub impact: Impact,
    pub connection_id: Option<Uuid>,
    pub local_key: Option<ItemKey>,
    pub remote_key: Option<String>,
    /// The incoming request that failed, when one did (Resolve and retry runs it again).
    pub request_id: Option<i64>,
    pub at: Timestamp,
    pub message: String,
    /// The failing script's line with a caret and the script stack, when a script failed.
    pub script_trace: Option<String>,
    /// Set when the remote reported this error: it could not apply this node's change of the
    /// item. The id is the error's on the remote's Errors page, where it is retried.
    pub remote_error: Option<i64>,
    pub resolved: Option<Timestamp>,
}

/// A new sync error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewSyncError {
    pub impact: Impact,
    pub connection_id: Option<Uuid>,
    pub local_key: Option<ItemKey>,
    pub remote_key: Option<String>,
    pub request_id: Option<i64>,
    pub message: String,
    pub script_trace: Option<String>,
    /// The remote's error id, for an error the remote reported ([`SyncError::remote_error`]).
    pub remote_error: Option<i64>,
}

/// Two concurrent edits of one field: the value kept and the value overwritten, never lost.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConflictRecord {
    pub id: i64,
    pub connection_id: Uuid,
    pub local_key: ItemKey,
    pub field: String,
    /// JSON text of this side's value.
    pub local_value: String,
    /// JSON text of the remote's value.
    pub remote_value: String,
    /// `true` when this side's value was kept.
    pub kept_local: bool,
    pub at: Timestamp,
    /// When an admin wrote the value that lost back to the item (see
    /// `Store::mark_conflict_restored`); `None` while not restored.
    pub restored: Option<Timestamp>,
}

impl ConflictRecord {
    /// JSON text of the value that was overwritten: the remote's when this side's was kept,
    /// else this side's.
    pub fn losing_value(&self) -> &str {
        if self.kept_local {
            &self.remote_value
        } else {
            &self.local_value
        }
    }
}

/// A query that brings matching items under sync on a connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trigger {
    pub id: i64,
    pub connection_id: Uuid,
    /// In the tracker's own query language (the built-in tracker's JQL-like language here).
    pub query: String,
    pub active: bool,
    pub note: String,
    pub created: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_remote_display_key_is_shown_only_when_it_is_a_short_line_of_text() {
        assert_eq!(display_key(" INC0010005 "), Some("INC0010005"));
        assert_eq!(display_key(""), None);
        assert_eq!(display_key("   "), None);
        assert_eq!(display_key("INC\u{1b}[31m5"), None);
        assert_eq!(display_key("INC\n5"), None);
        assert_eq!(
            display_key(&"9".repeat(MAX_DISPLAY_KEY)).map(str::len),
            Some(100)
        );
        assert_eq!(display_key(&"9".repeat(MAX_DISPLAY_KEY + 1)), None);
    }
}
