//! End-to-end tests: real nodes on loopback ports chosen by the OS, driven over HTTP, and the
//! `tandem` binary driven as a user runs it, and the console in headless Chromium. One test
//! binary, modules by topic.

mod common;

mod admin_details;
mod api;
mod browser;
mod browser_wizard;
mod bulk_jobs;
mod cli;
mod connection_cli;
mod connections;
mod console;
mod console_connections;
mod console_sync;
mod crash;
mod exalate_idioms;
mod first_hour;
mod item_sync;
mod metrics;
mod openapi;
mod security;
mod servicenow;
mod servicenow_chaos;
mod storage_fault;
mod sync;
mod sync_chaos;
mod sync_cli;
mod sync_rules;
mod verify;
