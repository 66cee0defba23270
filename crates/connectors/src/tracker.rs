//! The tracker seam: what a tracker is to the mirror that keeps a node's items and the
//! tracker's records in step. Every connector (one module per tracker) implements [`Tracker`]
//! over the tracker's own API; the mirror is written once over it and knows no tracker by name.
//!
//! The vocabulary is the tracker's, kept neutral:
//! - a **collection** is where records live (a ServiceNow table, a Jira project);
//! - a **record** is one work item there, with its **fields** as the tracker names them
//!   (a [`RemoteRecord`]); comments and attachments hang off a record;
//! - **change detection** reads the records (and, where the tracker lists them apart, the
//!   attachments) changed since a cursor. The cursor is the connector's own; the mirror only
//!   persists it, as opaque text, after it has taken the changes in, so a crash reads them again
//!   and never skips any. The connector also recognises its own writes when they are read back,
//!   so a change the mirror wrote never comes back to it as the tracker's.
//!
//! Errors are one type for every connector ([`TrackerError`]): the mirror asks them whether a
//! retry can help ([`ErrorKind`]), never what their text says.

use std::collections::{BTreeSet, HashMap};
use std::error::Error as StdError;

use serde_json::{Map, Value};

/// A record's fields as the tracker names them (ServiceNow columns, Jira fields).
pub type Fields = Map<String, Value>;

/// Which tracker a node serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TrackerKind {
    /// Tandem's own tracker: the node's store is the tracker, so it has no mirror.
    Builtin,
    ServiceNow,
    Jira,
}

impl TrackerKind {
    /// The tracker's id in stored names (mirror links `servicenow:incident`, settings
    /// `servicenow.poll.incident`): never changes once data is stored under it.
    pub fn id(self) -> &'static str {
        match self {
            TrackerKind::Builtin => "builtin",
            TrackerKind::ServiceNow => "servicenow",
            TrackerKind::Jira => "jira",
        }
    }

    /// The tracker's name as admins read it.
    pub fn name(self) -> &'static str {
        match self {
            TrackerKind::Builtin => "the built-in tracker",
            TrackerKind::ServiceNow => "ServiceNow",
            TrackerKind::Jira => "Jira",
        }
    }
}

impl std::fmt::Display for TrackerKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What a tracker can do beyond the common ground, so the mirror asks rather than tries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// Attachments are listed apart from their records ([`Feed::Attachments`]), so a new file
    /// does not change its record (ServiceNow's `sys_attachment`).
    pub attachment_feed: bool,
    /// A comment can be changed after it was written (Jira; not ServiceNow's journal).
    pub edit_comments: bool,
    /// A comment can be deleted (Jira; not ServiceNow's journal).
    pub delete_comments: bool,
}

/// What change detection reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Feed {
    /// The records of a collection that changed.
    Records,
    /// Attachments added to records of a collection, where the tracker lists them apart.
    Attachments,
}

/// One record as the tracker answered it.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteRecord {
    /// The tracker's stable id of the record (ServiceNow's `sys_id`, Jira's issue id).
    pub id: String,
    /// Who changed it last, as the tracker names users (empty when it does not say).
    pub updated_by: String,
    /// Its fields as the tracker names them.
    pub fields: Fields,
}

/// One comment of a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteComment {
    /// The tracker's id of the comment.
    pub id: String,
    /// The id of the record it belongs to.
    pub record: String,
    pub body: String,
    /// Meant for the tracker's own team only (a ServiceNow work note, a Jira Service
    /// Management internal comment): never sent anywhere as a public one.
    pub internal: bool,
    /// Who wrote it, as the tracker names users.
    pub author: String,
}

/// One attachment of a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteAttachment {
    /// The tracker's id of the attachment.
    pub id: String,
    /// The id of the record it belongs to.
    pub record: String,
    pub file_name: String,
    /// The MIME type the tracker gives (empty when it gives none).
    pub content_type: String,
    pub size: u64,
    /// The SHA-256 of the content in hex, when the tracker says it (empty otherwise).
    pub sha256: String,
    /// Who attached it, as the tracker names users.
    pub created_by: String,
}

/// A file to attach to a record.
#[derive(Debug, Clone)]
pub struct NewFile {
    pub file_name: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// Where change detection will continue once a page of changes is taken in: opaque to the
/// mirror, which hands it back to [`Tracker::advance`] and persists what that returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor(String);

impl Cursor {
    /// A cursor a connector made (its own serialised state).
    pub fn new(text: String) -> Self {
        Self(text)
    }

    /// The connector's serialised state.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One page of changes.
#[derive(Debug, Clone)]
pub struct Changes {
    /// Changed records, whole ([`Feed::Records`]).
    pub records: Vec<RemoteRecord>,
    /// New attachments ([`Feed::Attachments`]).
    pub attachments: Vec<RemoteAttachment>,
    /// More changes wait: read again at once.
    pub more: bool,
    /// Where to continue once these are taken in.
    pub next: Cursor,
}

/// Why a call to a tracker failed, as the caller must act on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Trying again later may succeed (unreachable, busy, rate limited, failing).
    Transient,
    /// The record (or comment, attachment) does not exist, or the tracker hides it.
    NotFound,
    /// The tracker's user may not do this (an ACL, a permission scheme).
    Forbidden,
    /// The tracker refused the credentials.
    Unauthorized,
    /// The tracker refused the request as it is (a field it does not take, a rule of its own).
    Refused,
    /// This tracker cannot do this at all.
    Unsupported,
    /// The settings or the answer make no sense (a bad URL, a response not as documented).
    Invalid,
}

/// A failed call to a tracker: what it means for the caller ([`ErrorKind`]), the HTTP status
/// when the tracker answered, and the connector's own error as the source. It displays as the
/// connector's message, which names the tracker.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct TrackerError {
    pub tracker: TrackerKind,
    pub kind: ErrorKind,
    pub status: Option<u16>,
    message: String,
    #[source]
    source: Option<Box<dyn StdError + Send + Sync>>,
}

impl TrackerError {
    /// An error of `kind` with the connector's error as its source.
    pub fn new(
        tracker: TrackerKind,
        kind: ErrorKind,
        status: Option<u16>,
        source: impl StdError + Send + Sync + 'static,
    ) -> Self {
        Self {
            tracker,
            kind,
            status,
            message: source.to_string(),
            source: Some(Box::new(source)),
        }
    }

    /// This tracker cannot do `what`.
    pub fn unsupported(tracker: TrackerKind, what: &str) -> Self {
        Self {
            tracker,
            kind: ErrorKind::Unsupported,
            status: None,
            message: format!("{tracker} cannot {what}"),
            source: None,
        }
    }

    /// Trying again later may succeed.
    pub fn is_transient(&self) -> bool {
        self.kind == ErrorKind::Transient
    }
}

/// A tracker as the mirror uses it: read changes, read and write records, their comments and
/// their attachments. One node serves one tracker, chosen at run time, so the trait is object
/// safe and used as `Arc<dyn Tracker>`.
#[async_trait::async_trait]
pub trait Tracker: Send + Sync + 'static {
    fn kind(&self) -> TrackerKind;
    fn capabilities(&self) -> Capabilities;
    /// The user the node acts as in the tracker (its own writes are this user's).
    fn user(&self) -> &str;
    /// Requests sent to the tracker so far (the settings page and `/metrics` show it).
    fn requests_sent(&self) -> u64;

    /// Continues change detection of a feed from the state last persisted (`None`: from the
    /// beginning). Forgets what was noted before.
    fn resume(&self, collection: &str, feed: Feed, saved: Option<&str>);
    /// The next page of changes since where the feed is. Does not move it: the caller takes the
    /// changes in, then [`Tracker::advance`]s.
    async fn changes(&self, collection: &str, feed: Feed) -> Result<Changes, TrackerError>;
    /// Moves the feed to `next` (keeping the own writes noted since the page was read) and
    /// returns the state to persist.
    fn advance(&self, collection: &str, feed: Feed, next: Cursor) -> String;

    /// One record, or `None` when it does not exist.
    async fn record(
        &self,
        collection: &str,
        id: &str,
    ) -> Result<Option<RemoteRecord>, TrackerError>;
    /// The record an earlier create with this correlation made, if it got that far; a create
    /// that failed half way is found again instead of made twice.
    async fn find_correlated(
        &self,
        collection: &str,
        correlation: &str,
    ) -> Result<Option<RemoteRecord>, TrackerError>;
    /// Creates a record carrying `correlation`; returns it as the tracker made it.
    async fn create(
        &self,
        collection: &str,
        fields: &Fields,
        correlation: &str,
    ) -> Result<RemoteRecord, TrackerError>;
    /// Writes the changed fields of a record; returns it after the write.
    async fn update(
        &self,
        collection: &str,
        id: &str,
        changed: &Fields,
    ) -> Result<RemoteRecord, TrackerError>;

    /// The comments of these records, oldest first, by record id.
    async fn comments(
        &self,
        collection: &str,
        ids: &[&str],
    ) -> Result<HashMap<String, Vec<RemoteComment>>, TrackerError>;
    /// Adds a comment (an internal one where `internal`); returns it where the tracker answers
    /// with the comment it made (Jira), `None` where the caller reads the record's comments
    /// to find it (ServiceNow's journal answers with the record).
    async fn add_comment(
        &self,
        collection: &str,
        id: &str,
        body: &str,
        internal: bool,
    ) -> Result<Option<RemoteComment>, TrackerError>;
    /// Changes a comment's text, where [`Capabilities::edit_comments`].
    async fn edit_comment(
        &self,
        _collection: &str,
        _record: &str,
        _comment: &str,
        _body: &str,
    ) -> Result<(), TrackerError> {
        Err(TrackerError::unsupported(self.kind(), "change a comment"))
    }
    /// Deletes a comment, where [`Capabilities::delete_comments`].
    async fn delete_comment(
        &self,
        _collection: &str,
        _record: &str,
        _comment: &str,
    ) -> Result<(), TrackerError> {
        Err(TrackerError::unsupported(self.kind(), "delete a comment"))
    }

    /// The attachments of these records.
    async fn attachments(
        &self,
        collection: &str,
        ids: &[&str],
    ) -> Result<Vec<RemoteAttachment>, TrackerError>;
    /// Which of these attachments still exist (a deleted attachment changes no record a
    /// change feed sees).
    async fn attachments_present(&self, ids: &[&str]) -> Result<BTreeSet<String>, TrackerError>;
    /// The content of an attachment, checked against its hash where the tracker gives one.
    async fn download(&self, attachment: &RemoteAttachment) -> Result<Vec<u8>, TrackerError>;
    /// Attaches a file to a record.
    async fn upload(
        &self,
        collection: &str,
        id: &str,
        file: NewFile,
    ) -> Result<RemoteAttachment, TrackerError>;
    /// Deletes an attachment of a record; one already gone counts as deleted.
    async fn delete_attachment(
        &self,
        collection: &str,
        record: &str,
        id: &str,
    ) -> Result<(), TrackerError>;
}
