//! The ServiceNow emulator driven over HTTP, as a connector would drive a real instance.

mod attachments;
mod auth;
mod clients;
mod common;
mod faults;
mod journal;
mod queries;
mod real_clients;
mod table;
