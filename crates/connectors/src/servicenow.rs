//! The ServiceNow connector: the Now Platform's Table API and Attachment API, Basic or OAuth 2
//! authentication, journals (comments and work notes), and change detection by polling
//! `sys_updated_on`. The API facts it relies on are collected, with sources, in
//! `shared/reference/tracker-apis.md` §1.
//!
//! Layout: `client` (authentication, retries on 429 and 5xx, the `{"result": …}` envelope,
//! `Link` pagination), `record` (a row as ServiceNow sends it: every value a string),
//! `journal` (reading history from `sys_journal_field`, falling back to the display-value text),
//! `attachments`, `poll` (the watermark, overlap window and de-duplication).

mod attachments;
mod client;
mod journal;
mod poll;
mod record;
mod schema;
mod tracker;
mod trigger;

pub use attachments::{AttachmentMeta, NewAttachment};
pub use client::{
    Auth, Client, ClientConfig, Exchange, RetryPolicy, ServiceNowError, check_script_headers,
};
pub use journal::{JournalEntry, JournalKind, JournalSource, parse_display_journal};
pub use poll::{Batch, PollState, Poller, Seen};
pub use record::{Record, format_time, parse_time};
pub use schema::{ServiceNowSchema, Tables, project_key_for, tables, value_text};
pub use tracker::ServiceNow;
pub use trigger::translate as translate_trigger;
