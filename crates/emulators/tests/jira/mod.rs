//! The Jira emulator over HTTP: its behaviour (`api`, `search`, `webhooks`, `faults`,
//! `flavours`), Atlassian's OpenAPI contract checked by Stoplight Prism in front of it
//! (`contract`), and real Python clients nobody here wrote (`real_clients`).

mod api;
mod common;
mod contract;
mod faults;
mod flavours;
mod real_clients;
mod search;
mod webhooks;
