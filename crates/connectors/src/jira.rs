//! The Jira connector: Jira Cloud's REST API v3 (ADF rich text, users by `accountId`, search by
//! `/search/jql`) and Jira Data Center's REST API v2 (wiki markup, users by `name`, the old
//! `/search`), chosen by [`Flavour`]. The API facts it relies on are collected, with sources,
//! in `shared/reference/tracker-apis.md` §2; its behaviour is checked against the Jira emulator
//! and, through Stoplight Prism, against Atlassian's OpenAPI document (`tests/jira.rs`).
//!
//! Layout, one file per concern: `client` (flavours, authentication, sending), `retry` (429s
//! with `Retry-After` and `X-RateLimit-*`, 5xx only when repeating is safe), `error`
//! ([`JiraError`]), `meta` (projects, issue types, create screens, fields, statuses,
//! priorities, users by e-mail), `issues` (read, create, edit, delete, find by correlation),
//! `transitions` (status changes and path finding), `comments` (JSM internal comments kept
//! internal), `attachments`, `poll` (JQL polling and its cursor), `webhook` (signatures),
//! `adf` and `wiki` (rich text to and from Markdown), and `tracker` ([`Jira`], the connector
//! behind the [`crate::Tracker`] seam), `extras` (what the seam lacks for Jira).

pub mod adf;
mod attachments;
mod client;
mod comments;
mod error;
mod extras;
mod issues;
mod meta;
mod poll;
mod retry;
mod tracker;
mod transitions;
pub mod webhook;
pub mod wiki;

pub use attachments::{Attachment, NewAttachment};
pub use client::{Auth, Client, ClientConfig, Flavour};
pub use comments::Comment;
pub use error::{ErrorKind, ErrorText, JiraError};
pub use extras::{Description, TrackerExtras};
pub use issues::{
    CORRELATION_LABEL_PREFIX, FieldValue, Issue, NewIssue, correlation_label, markdown_to_rich,
    rich_to_markdown,
};
pub use meta::{Field, FieldKind, FieldMeta, IssueType, Named, Project, Status, UserRef};
pub use poll::{Changes, Cursor, PageRef, PollOptions, SearchPage, format_time, parse_time};
pub use retry::{RateLimitStatus, RetryPolicy};
pub use tracker::{Jira, value_of};
pub use transitions::{MAX_STEPS, Transition};
