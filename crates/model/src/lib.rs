//! Tandem's domain: the built-in tracker's projects, items, comments, attachments and change
//! history, and the small query language that searches them.
//!
//! Main types: [`Item`], [`NewItem`], [`ItemPatch`], [`Comment`], [`Attachment`], [`Change`],
//! [`TrackerEvent`], and [`query::Query`].
//!
//! **Architecture invariant:** this crate is plain Rust. It knows nothing of HTTP, JSON wire
//! shapes or SQL; the `store` and `node` crates translate at their edges.

pub mod item;
pub mod query;

pub use item::*;
