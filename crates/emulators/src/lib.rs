//! Emulators: faithful local stand-ins for the REST APIs of trackers that cannot run on a
//! build machine, used by Tandem's tests and by the demo. They are test and demo tools, clearly
//! named as such, never the real services, and keep everything in memory.
//!
//! Main types: [`servicenow::start`] takes an [`servicenow::EmulatorConfig`] and returns a
//! [`servicenow::RunningEmulator`] serving ServiceNow's Table API, Attachment API, Basic and
//! OAuth authentication, journals and switchable faults; [`servicenow::EmulateServiceNowArgs`]
//! and [`servicenow::run`] are the `tandem emulate servicenow` subcommand. [`jira::start`] takes
//! a [`jira::JiraConfig`] and serves Jira Cloud's REST API v3 (or Data Center's v2) with
//! projects, a workflow, custom fields, comments, attachments, JQL and webhooks;
//! [`jira::EmulateJiraArgs`] and [`jira::run`] are `tandem emulate jira`. [`prism`] is the
//! contract harness the Jira tests share: Stoplight Prism checking exchanges against
//! Atlassian's OpenAPI document.
//!
//! **Architecture invariant:** the node never depends on this crate except in tests and the
//! demo. The connectors talk to an emulator exactly as to the real service, over HTTP, so an
//! emulator can never hide a bug behind a shortcut.

pub mod jira;
pub mod prism;
pub mod servicenow;
