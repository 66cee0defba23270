//! Store behaviour tests: one binary, modules by topic.
//!
//! The "story" modules are written against `Arc<dyn Store>` only, so that every backend runs the
//! same suite (`common::open` picks the backend); `sqlite` holds what only the SQLite backend
//! has: its file, lock, pragmas and migrations.

mod common;

mod auth;
mod comments;
mod concurrency;
mod connections;
mod events;
mod items;
mod metrics;
mod mirror;
mod projects;
mod search;
mod sqlite;
mod sync;
