//! The emulators (ServiceNow, Jira) driven over HTTP, as a connector would drive the real services.

mod attachments;
mod auth;
mod clients;
mod common;
mod faults;
mod jira;
mod journal;
mod queries;
mod real_clients;
mod table;
