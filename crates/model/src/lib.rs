//! Tandem's domain: the built-in tracker's projects, items, comments, attachments and change
//! history, the small query language that searches them, connections between nodes, and the
//! pure rules of synchronisation.
//!
//! Main types: [`Item`], [`NewItem`], [`ItemPatch`], [`Comment`], [`Attachment`], [`Change`],
//! [`TrackerEvent`], and [`query::Query`]; for sync, the [`Replica`] one side sends for an
//! item (with its [`CommentDelta`] and [`AttachmentDelta`]), the comment and attachment merges
//! ([`merge_comments`] → [`CommentOp`], [`merge_attachments`] → [`AttachmentOp`]), and the
//! conflict rule (per-field versions, [`settle`] → [`Conflict`]). A node on an external
//! tracker records which store object mirrors which tracker object as [`MirrorLink`]s.
//!
//! **Architecture invariant:** this crate is plain Rust. It knows nothing of HTTP, wire
//! envelopes or SQL; the `store` and `node` crates translate at their edges. The one JSON type
//! it uses is `serde_json::Value`, because a replica's content and custom fields are JSON by
//! nature (scripts set arbitrary keys); it never parses or prints JSON text.

pub mod connection;
pub mod item;
pub mod job;
pub mod mirror;
pub mod query;
pub mod replica;
pub mod sync;
pub mod twin;

pub use connection::{
    Connection, ConnectionRole, ConnectionStatus, InvitationState, Mode, RemoteNode, Scope,
};
pub use item::*;
pub use job::{BulkJob, JobKind, JobProgress, JobState};
pub use mirror::{MirrorKind, MirrorLink};
pub use replica::{
    AttachmentDelta, CommentDelta, Replica, ReplicaAttachment, ReplicaComment, ReplicaError,
    ReplicaUser, attachment_delta, comment_delta,
};
pub use sync::{
    AttachmentOp, AttachmentTwin, CommentOp, CommentSpec, CommentTwin, Conflict, FieldClock,
    FieldClocks, LocalAttachment, LocalComment, Precedence, Settled, Side, changed_fields,
    changed_versioned_fields, default_comment_format, merge_attachments, merge_comments, settle,
};
pub use twin::{
    AttachmentLink, CommentLink, ConflictRecord, Impact, IncomingRequest, NewSyncError,
    RequestState, SyncError, Trigger, Twin, TwinState,
};
