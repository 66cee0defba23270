//! Tandem's domain: the built-in tracker's projects, items, comments, attachments and change
//! history, the small query language that searches them, and connections between nodes.
//!
//! Main types: [`Item`], [`NewItem`], [`ItemPatch`], [`Comment`], [`Attachment`], [`Change`],
//! [`TrackerEvent`], and [`query::Query`].
//!
//! **Architecture invariant:** this crate is plain Rust. It knows nothing of HTTP, JSON wire
//! shapes or SQL; the `store` and `node` crates translate at their edges.

pub mod connection;
pub mod item;
pub mod query;
pub mod twin;

pub use connection::{
    Connection, ConnectionRole, ConnectionStatus, InvitationState, Mode, RemoteNode,
};
pub use item::*;
pub use twin::{
    AttachmentTwin, CommentTwin, ConflictRecord, Impact, IncomingRequest, NewSyncError,
    RequestState, SyncError, Trigger, Twin, TwinState,
};
