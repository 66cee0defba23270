//! The ServiceNow emulator driven over HTTP, as a connector would drive a real instance.

mod auth;
mod common;
mod journal;
mod queries;
mod table;
