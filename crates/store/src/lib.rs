//! Persistence for a Tandem node behind one interface, [`Store`].
//!
//! [`sqlite::SqliteStore`] is the embedded default: one database file in WAL mode, written by a
//! single writer thread (rusqlite) that receives commands over a channel, read through a small
//! pool of read-only connections. A PostgreSQL backend for several node processes plugs in
//! behind the same trait; the node holds an `Arc<dyn Store>` and never sees SQL.
//!
//! Every change to an item writes its history rows and a [`TrackerEvent`] in the same
//! transaction as the change (a transactional outbox): the sync engine reads events with
//! [`Items::events_after`] and can never miss one or see one for a change that rolled back.
//!
//! **Architecture invariant:** this crate knows nothing of HTTP or of the console; its types
//! are the domain types of `tandem-model` plus the few records that only storage has (users,
//! sessions, API tokens, settings).

use async_trait::async_trait;
use jiff::Timestamp;
use tandem_model::query::Query;
use tandem_model::{
    Actor, Attachment, AttachmentLink, Change, Comment, CommentLink, ConflictRecord, Connection,
    IncomingRequest, Item, ItemKey, ItemPatch, MirrorKind, MirrorLink, NewAttachment, NewComment,
    NewItem, NewProject, NewSyncError, Project, ProjectKey, RequestState, Scope, SyncError,
    TrackerEvent, Trigger, Twin, ValidationError,
};
use tandem_model::{BulkJob, JobKind, JobProgress, JobState};
use uuid::Uuid;

pub mod sqlite;

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// `what` is the kind of record ("item", "project", "comment", …), `key` how it was named.
    #[error("{what} {key} does not exist")]
    NotFound { what: &'static str, key: String },
    /// A unique name or key is already taken.
    #[error("{0}")]
    AlreadyExists(String),
    /// An update named a version the item has moved past: someone else changed it first.
    #[error(
        "item {key} was changed by someone else (you edited version {expected}, it is now at version {actual}): reload it and apply your change again"
    )]
    VersionConflict {
        key: String,
        expected: i64,
        actual: i64,
    },
    /// An update of a record other than an item read an older version than the stored one.
    #[error("{what} {key} was changed meanwhile: reload it and try again")]
    Changed { what: &'static str, key: String },
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// The database file could not be opened or prepared.
    #[error("cannot open database {path}: {reason}")]
    Open { path: String, reason: String },
    /// The schema could not be brought up to date.
    #[error("cannot migrate database {path}: {reason}")]
    Migration { path: String, reason: String },
    /// A database fault: an internal error, never shown to API callers as it is.
    #[error("database error: {0}")]
    Database(String),
    /// The storage under the database failed: the disk is full, read-only or failing. Unlike
    /// [`StoreError::Database`] this is not the data's or the code's fault, and it is
    /// transient: the same write succeeds once the cause is gone (space freed, disk remounted).
    #[error("{}", storage_message(*fault, dir, detail))]
    Storage {
        fault: StorageFault,
        /// The directory holding the database (the node's data directory); empty when the
        /// backend does not know it.
        dir: String,
        /// What the database engine said.
        detail: String,
    },
    /// The store was shut down (the writer thread is gone).
    #[error("the database is closed")]
    Closed,
}

/// How the storage under the database failed ([`StoreError::Storage`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageFault {
    /// No space left on the disk (SQLite's `SQLITE_FULL`, the system's `ENOSPC`).
    Full,
    /// The database cannot be written: a read-only file system or files (`SQLITE_READONLY`).
    ReadOnly,
    /// A read or write of the disk failed (`SQLITE_IOERR`), or a file the database needs could
    /// not be opened (`SQLITE_CANTOPEN`).
    Io,
}

fn storage_message(fault: StorageFault, dir: &str, detail: &str) -> String {
    let dir = if dir.is_empty() {
        "the data directory"
    } else {
        dir
    };
    match fault {
        StorageFault::Full => format!(
            "the disk holding {dir} is full: free space on it; the node carries on by itself \
             once there is room"
        ),
        StorageFault::ReadOnly => format!(
            "the database in {dir} cannot be written ({detail}): the file system is read-only \
             or the files are not writable; the node carries on by itself once it can write"
        ),
        StorageFault::Io => format!(
            "the disk holding {dir} failed a read or write ({detail}): check the disk and the \
             system log; the node retries by itself"
        ),
    }
}

impl StoreError {
    /// Whether this is a fault of the storage under the database (disk full, read-only,
    /// I/O error) rather than of the data or the request: transient, worth retrying later,
    /// never an item's sync error.
    pub fn is_storage_fault(&self) -> bool {
        self.storage_fault().is_some()
    }

    /// The storage fault, when this is one.
    pub fn storage_fault(&self) -> Option<StorageFault> {
        match self {
            StoreError::Storage { fault, .. } => Some(*fault),
            _ => None,
        }
    }

    /// Names `dir` as the directory holding the database in a storage fault that does not
    /// say yet where it happened.
    pub fn in_dir(self, at: &str) -> Self {
        match self {
            StoreError::Storage { fault, dir, detail } if dir.is_empty() => StoreError::Storage {
                fault,
                dir: at.to_owned(),
                detail,
            },
            other => other,
        }
    }

    pub fn not_found(what: &'static str, key: impl ToString) -> Self {
        StoreError::NotFound {
            what,
            key: key.to_string(),
        }
    }
}

/// What one connection holds now, counted for the node's `/metrics` ([`Health::sync_gauges`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionGauges {
    pub connection_id: Uuid,
    pub name: String,
    /// Messages on its outbox, waiting for the remote's acknowledgement.
    pub queued: u64,
    /// When the oldest of them was queued.
    pub oldest_queued: Option<Timestamp>,
    /// Its twins, active and stopped.
    pub twins: u64,
    /// Its sync errors not yet resolved.
    pub open_errors: u64,
}

/// The counts `/metrics` reads at each scrape ([`Health::sync_gauges`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncGauges {
    /// One per connection, in name order.
    pub connections: Vec<ConnectionGauges>,
    /// Open sync errors of the whole node (no connection).
    pub node_open_errors: u64,
}

/// What [`Messages::record_acceptance`] did with an acceptance's proof.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AcceptanceRecord {
    /// Recorded: the connection's first acceptance, or a repeat describing the acceptor as the
    /// first did.
    Recorded,
    /// This very proof was recorded before: a replay.
    ProofSeen,
    /// An earlier acceptance of the connection described the acceptor otherwise.
    OtherDescriptor,
}

/// A console or API user. Only admins exist for now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    pub username: String,
    /// PHC-format argon2 hash; never the password itself.
    pub password_hash: String,
    pub created: Timestamp,
}

/// A console login session. Only a hash of the session cookie is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id_hash: String,
    pub user_id: i64,
    pub username: String,
    /// The anti-CSRF token every form of this session must carry.
    pub csrf_token: String,
    pub created: Timestamp,
    pub expires: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSession {
    pub id_hash: String,
    pub user_id: i64,
    pub csrf_token: String,
    pub expires: Timestamp,
}

/// A bearer token for the API. Only a hash of the token is stored; the token itself is shown
/// once, when it is created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    pub id: i64,
    pub name: String,
    pub token_hash: String,
    pub created_by: String,
    pub created: Timestamp,
    pub last_used: Option<Timestamp>,
    pub revoked: Option<Timestamp>,
    pub scope: TokenScope,
}

/// What an API token may do. Tokens made before scopes existed are `Admin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TokenScope {
    /// Reads only (GET).
    ReadOnly,
    /// Reads, and runs sync operations (exalate, unexalate, retry, bulk); changes no
    /// connection, rules, settings, items or users.
    SyncOperator,
    /// Everything.
    Admin,
}

impl TokenScope {
    pub const ALL: [TokenScope; 3] = [
        TokenScope::ReadOnly,
        TokenScope::SyncOperator,
        TokenScope::Admin,
    ];

    /// The stored and typed name: `read`, `sync`, `admin`.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenScope::ReadOnly => "read",
            TokenScope::SyncOperator => "sync",
            TokenScope::Admin => "admin",
        }
    }

    /// For people: "read-only", "sync operator", "admin".
    pub fn label(self) -> &'static str {
        match self {
            TokenScope::ReadOnly => "read-only",
            TokenScope::SyncOperator => "sync operator",
            TokenScope::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<TokenScope> {
        TokenScope::ALL
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(text.trim()))
    }

    /// Whether a token of this scope may do what needs `needed`.
    pub fn allows(self, needed: TokenScope) -> bool {
        self >= needed
    }
}

/// A message queued for the remote node of a connection, kept until the remote acknowledges it.
/// `seq` numbers the connection's messages from 1 without gaps, in the order they were queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundMessage {
    pub connection_id: Uuid,
    pub seq: i64,
    /// What the message is (`control`, and the sync engine's kinds); the payload's schema.
    pub kind: String,
    /// JSON text.
    pub payload: String,
    pub created: Timestamp,
}

/// A message received from a connection's remote, to be stored as a pending request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedRequest {
    pub seq: i64,
    pub kind: String,
    /// The sender's key of the item the request is about (what orders requests per twin).
    pub remote_key: Option<String>,
    pub payload: String,
}

/// Which page of search results to return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub offset: u32,
    pub limit: u32,
}

impl Default for Page {
    fn default() -> Self {
        Page {
            offset: 0,
            limit: 50,
        }
    }
}

/// The most items one search returns.
pub const MAX_PAGE: u32 = 1000;

#[derive(Debug, Clone, PartialEq)]
pub struct SearchResult {
    pub items: Vec<Item>,
    /// How many items match in all, across pages.
    pub total: u64,
}

/// A storage fault that lasts ([`Health::storage_problem`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageProblem {
    pub fault: StorageFault,
    /// The fault in plain words, naming the data directory.
    pub message: String,
    /// When the first write failed on it.
    pub since: Timestamp,
}

/// Every store trait, for code that calls store methods on a concrete store (`SqliteStore`):
/// `use tandem_store::prelude::*;`. Through `dyn Store` they need no import.
pub mod prelude {
    pub use crate::{
        Accounts, BulkJobs, Connections, Health, Items, Messages, Mirrors, Requests, Settings,
        Store, SyncLog, Twins,
    };
}

/// Everything a node persists. Implementations must make each method atomic, and every item
/// change must bump the item's version, record history and emit a [`TrackerEvent`] in the same
/// transaction.
pub trait Store:
    Health
    + Settings
    + Accounts
    + Items
    + Connections
    + Messages
    + Twins
    + Requests
    + SyncLog
    + BulkJobs
    + Mirrors
    + Send
    + Sync
    + 'static
{
}

impl<T> Store for T where
    T: Health
        + Settings
        + Accounts
        + Items
        + Connections
        + Messages
        + Twins
        + Requests
        + SyncLog
        + BulkJobs
        + Mirrors
        + Send
        + Sync
        + 'static
{
}

/// The store's own health: whether the database answers and the disk under it takes writes.
#[async_trait]
pub trait Health: Send + Sync {
    /// Succeeds when the database answers a trivial query.
    async fn ping(&self) -> Result<()>;
    /// How many operations failed on a fault of the database or the disk under it (not on
    /// what was asked: a missing record, a conflict, invalid input) since the store was opened.
    fn storage_faults(&self) -> u64;
    /// Queue depth, oldest queued message, twins and open errors of every connection, read
    /// in one snapshot with cheap indexed queries: what `/metrics` shows at each scrape.
    async fn sync_gauges(&self) -> Result<SyncGauges>;

    /// The storage fault the last write met, while it lasts: from a write that failed on one
    /// (disk full, read-only, I/O error) until a write succeeds again. `None` when writes work.
    fn storage_problem(&self) -> Option<StorageProblem> {
        None
    }

    /// A small write that shows whether the storage takes writes (again): clears
    /// [`Health::storage_problem`] when it succeeds, sets it when it fails on a storage fault.
    async fn probe_storage(&self) -> Result<()>;
}

/// The node's settings: a small key/value table.
#[async_trait]
pub trait Settings: Send + Sync {
    async fn setting(&self, key: &str) -> Result<Option<String>>;
    async fn set_setting(&self, key: &str, value: &str) -> Result<()>;
    /// Stores `value` unless the key already has one; returns the value that is stored now.
    /// Lets the first of several starting processes win (node identity, setup token).
    async fn set_setting_if_absent(&self, key: &str, value: &str) -> Result<String>;
    async fn delete_setting(&self, key: &str) -> Result<()>;
    /// Deletes the setting if it holds `value`, atomically; whether it did. Of several callers
    /// with the same value, exactly one gets `true` (a one-time token is used once).
    async fn take_setting(&self, key: &str, value: &str) -> Result<bool>;
}

/// Users, their sessions and their API tokens.
#[async_trait]
pub trait Accounts: Send + Sync {
    /// Creates the user, or sets the password of the existing user of that name.
    async fn upsert_user(&self, username: &str, password_hash: &str) -> Result<User>;
    /// Creates the user; `AlreadyExists` when the name is taken.
    async fn create_user(&self, username: &str, password_hash: &str) -> Result<User>;
    async fn user_by_name(&self, username: &str) -> Result<Option<User>>;
    async fn user_count(&self) -> Result<u64>;
    /// All users, by name.
    async fn users(&self) -> Result<Vec<User>>;
    async fn create_session(&self, session: NewSession) -> Result<()>;
    /// The session with this id hash, unless it has expired.
    async fn session(&self, id_hash: &str, now: Timestamp) -> Result<Option<Session>>;
    async fn delete_session(&self, id_hash: &str) -> Result<()>;
    async fn create_api_token(
        &self,
        name: &str,
        token_hash: &str,
        created_by: &str,
        scope: TokenScope,
    ) -> Result<ApiToken>;
    /// All tokens, revoked ones included, newest first.
    async fn api_tokens(&self) -> Result<Vec<ApiToken>>;
    /// The unrevoked token with this hash; records `now` as its last use. `last_used` is kept
    /// to within a minute: a use soon after the recorded one need not be written, so that a
    /// busy API client does not turn every request into a database write.
    async fn use_api_token(&self, token_hash: &str, now: Timestamp) -> Result<Option<ApiToken>>;
    /// Revokes a token; `NotFound` when there is no such token.
    async fn revoke_api_token(&self, id: i64) -> Result<()>;
}

/// The built-in tracker: projects, items, comments, attachments, history, search, and the item event log (the outbox every change is read from).
#[async_trait]
pub trait Items: Send + Sync {
    /// `AlreadyExists` when the key is taken.
    async fn create_project(&self, project: NewProject) -> Result<Project>;
    async fn projects(&self) -> Result<Vec<Project>>;
    async fn project(&self, key: &ProjectKey) -> Result<Option<Project>>;

    /// Creates an item numbered after the last one of its project. `NotFound` for an unknown
    /// project.
    async fn create_item(&self, item: NewItem, actor: &Actor) -> Result<Item>;
    async fn item(&self, key: &ItemKey) -> Result<Option<Item>>;
    /// Applies the patch atomically. With `expected_version` set, refuses with
    /// `VersionConflict` when the item has moved on. A patch that changes nothing changes
    /// nothing: no version bump, no history, no event.
    async fn update_item(&self, key: &ItemKey, patch: ItemPatch, actor: &Actor) -> Result<Item>;
    /// The items matching `query`, in its order, fully loaded (comments and attachment
    /// metadata). `now` resolves relative times such as `-7d`. `page.limit` is capped at
    /// [`MAX_PAGE`]; `total` counts every match. Operators mean what they mean in JQL (the
    /// SQLite backend's `sqlite::query` module documents each): `!=` matches only items that
    /// have a value, text matching is case-insensitive, `priority > Medium` means more urgent.
    async fn search_items(&self, query: &Query, page: Page, now: Timestamp)
    -> Result<SearchResult>;
    /// The item's history, oldest first; `NotFound` for an unknown item. Fields are named
    /// `created` (to: the summary the item was created with), `summary`, `description`,
    /// `status`, `priority`, `assignee`, `reporter`, `labels` (space-separated), `cf:<name>`,
    /// `comment` (the body added, or an edit's old and new body) and `attachment` (the file
    /// name added or removed).
    async fn history(&self, key: &ItemKey) -> Result<Vec<Change>>;

    /// `NotFound` for an unknown item. Like every change to an item, bumps its version.
    async fn add_comment(
        &self,
        key: &ItemKey,
        comment: NewComment,
        actor: &Actor,
    ) -> Result<Comment>;
    /// Replaces the body of a comment of this item (`NotFound` for a comment of another
    /// item). The same body again changes nothing.
    async fn edit_comment(
        &self,
        key: &ItemKey,
        comment_id: i64,
        body: &str,
        actor: &Actor,
    ) -> Result<Comment>;

    /// Deletes a comment of this item (`NotFound` for a comment of another item); recorded in
    /// the history with the body it had.
    async fn delete_comment(&self, key: &ItemKey, comment_id: i64, actor: &Actor) -> Result<()>;

    async fn add_attachment(
        &self,
        key: &ItemKey,
        attachment: NewAttachment,
        actor: &Actor,
    ) -> Result<Attachment>;
    /// The attachment's metadata and bytes, if it belongs to this item. The SHA-256 is
    /// computed by the store.
    async fn attachment(&self, key: &ItemKey, id: i64) -> Result<Option<(Attachment, Vec<u8>)>>;
    async fn remove_attachment(&self, key: &ItemKey, id: i64, actor: &Actor) -> Result<()>;

    /// Events with `seq > after`, oldest first, at most `limit`. A reader that remembers the
    /// last `seq` it handled never misses an event.
    async fn events_after(&self, after: i64, limit: u32) -> Result<Vec<TrackerEvent>>;
    /// Returns once an item change has committed since the last time it returned (at once if
    /// one has): what lets the sync engine pick up a change as it happens rather than on its
    /// next round. Meant for one waiter.
    async fn item_changed(&self);
}

/// Connections to other nodes and their scopes.
#[async_trait]
pub trait Connections: Send + Sync {
    /// Stores a new connection as given, with version 1 (the `version` passed is ignored).
    /// `AlreadyExists` when its id or its name is taken (names are compared case-insensitively).
    async fn create_connection(&self, connection: Connection) -> Result<Connection>;
    /// All connections, oldest first.
    async fn connections(&self) -> Result<Vec<Connection>>;
    async fn connection(&self, id: Uuid) -> Result<Option<Connection>>;
    /// Case-insensitive.
    async fn connection_by_name(&self, name: &str) -> Result<Option<Connection>>;
    /// Replaces every field but `id` and `created`, when the stored version is still
    /// `connection.version`; returns the stored connection with its version bumped. `Changed`
    /// when another update came first, `NotFound` when it was deleted, `AlreadyExists` when
    /// the new name is taken.
    async fn update_connection(&self, connection: &Connection) -> Result<Connection>;
    /// Deletes the connection with everything kept for it (queued messages, nonces, sequence
    /// numbers, twins, incoming requests, sync errors, conflicts, triggers). `NotFound` when there is no such connection.
    async fn delete_connection(&self, id: Uuid) -> Result<()>;
    /// The scope the connection's admin set (`None`: none set, the default applies).
    /// `NotFound` for an unknown connection.
    async fn connection_scope(&self, id: Uuid) -> Result<Option<Scope>>;
    /// Sets the connection's scope, or with `None` removes it (the default applies again).
    /// `NotFound` for an unknown connection.
    async fn set_connection_scope(&self, id: Uuid, scope: Option<&Scope>) -> Result<()>;
    /// A number that changes whenever what decides a connection's reach changes: a scope set
    /// or removed, a trigger added, changed or deleted, a connection deleted. The node caches
    /// what it works out from those and works it out again when this moves. A backend shared
    /// by several processes must move it for the writes of any of them (or move it on every
    /// call, which turns the caching off).
    fn reach_version(&self) -> u64;
}

/// Node-to-node messages: the outbound queue, sequence numbers both ways, replay protection.
#[async_trait]
pub trait Messages: Send + Sync {
    /// Queues a message for the connection's remote; returns its `seq`. `NotFound` for an
    /// unknown connection.
    async fn enqueue_message(&self, connection_id: Uuid, kind: &str, payload: &str) -> Result<i64>;
    /// How many messages wait in the connection's queue (sent but not yet acknowledged).
    async fn queued_count(&self, connection_id: Uuid) -> Result<u64>;
    /// The connection's queued messages with `seq > after`, oldest first, at most `limit`.
    async fn outbound_messages(
        &self,
        connection_id: Uuid,
        after: i64,
        limit: u32,
    ) -> Result<Vec<OutboundMessage>>;
    /// The `seq` of the connection's last queued message (acknowledged or not); 0 before the
    /// first.
    async fn outbound_seq(&self, connection_id: Uuid) -> Result<i64>;
    /// Drops the connection's queued messages with `seq <= up_to`: the remote has them.
    async fn ack_messages(&self, connection_id: Uuid, up_to: i64) -> Result<()>;
    /// Turns the connection's queued messages of `kinds` into `void` messages with an empty
    /// payload, keeping their place in the sequence (a receiver skips them); returns how many.
    async fn void_queued_messages(
        &self,
        connection_id: Uuid,
        kinds: &[&str],
        void: &str,
    ) -> Result<u64>;
    /// The highest `seq` received from the connection's remote and recorded with
    /// [`Messages::advance_inbound_seq`]; 0 before the first.
    async fn inbound_seq(&self, connection_id: Uuid) -> Result<i64>;
    /// Records that the remote's message `seq` was handled, when `seq` is higher than the last
    /// recorded one; returns whether it was (`false`: an old or repeated message).
    async fn advance_inbound_seq(&self, connection_id: Uuid, seq: i64) -> Result<bool>;
    /// Remembers a request nonce of a connection until `expires`; returns `false` when the
    /// nonce was already remembered and has not expired (a replay). Forgets expired nonces.
    async fn remember_nonce(
        &self,
        connection_id: Uuid,
        nonce: &str,
        expires: Timestamp,
        now: Timestamp,
    ) -> Result<bool>;

    /// Records the proof of an acceptance the initiator is about to take (`proof_id`, a hash
    /// of it) with the digest of the acceptor's descriptor it carries, in one step: refused as
    /// [`AcceptanceRecord::ProofSeen`] when that proof was recorded before, and as
    /// [`AcceptanceRecord::OtherDescriptor`] when an earlier acceptance of the connection
    /// described the acceptor otherwise. `NotFound` for an unknown connection.
    async fn record_acceptance(
        &self,
        connection_id: Uuid,
        proof_id: [u8; 32],
        descriptor: [u8; 32],
        now: Timestamp,
    ) -> Result<AcceptanceRecord>;
}

/// Twins (an item and its remote twin), their comment and attachment twins, and the composite writes that keep an item, its twin and its queue entries together.
#[async_trait]
pub trait Twins: Send + Sync {
    /// Stores a new twin as given. `AlreadyExists` when the local item already has a twin on
    /// this connection, or the remote key is already linked to another local item;
    /// `NotFound` for an unknown connection or item.
    async fn create_twin(&self, twin: Twin) -> Result<Twin>;
    /// How many twins were made in the calendar month (UTC) of `at`, on every connection; twins
    /// removed since still count.
    async fn twins_made_in_month(&self, at: Timestamp) -> Result<u64>;
    async fn twin(&self, connection_id: Uuid, local_key: &ItemKey) -> Result<Option<Twin>>;
    async fn twin_by_remote(&self, connection_id: Uuid, remote_key: &str) -> Result<Option<Twin>>;
    /// Every twin of one local item, across connections, oldest first.
    async fn twins_of_item(&self, local_key: &ItemKey) -> Result<Vec<Twin>>;
    /// A connection's twins ordered by local key (project, then number), those after `after`,
    /// at most `limit`.
    async fn twins(
        &self,
        connection_id: Uuid,
        after: Option<&ItemKey>,
        limit: u32,
    ) -> Result<Vec<Twin>>;
    /// How many twins the connection has, stopped ones included.
    async fn twin_count(&self, connection_id: Uuid) -> Result<u64>;
    /// How many of the connection's twins are active: its work items under sync.
    async fn active_twin_count(&self, connection_id: Uuid) -> Result<u64>;
    /// Replaces the twin's remote key, state, replicas, last sync, field versions and lead.
    /// `NotFound`;
    /// `AlreadyExists` when the remote key is linked to another local item.
    async fn update_twin(&self, twin: &Twin) -> Result<Twin>;
    /// Deletes the twin with its comment and attachment twins. `NotFound`.
    async fn delete_twin(&self, connection_id: Uuid, local_key: &ItemKey) -> Result<()>;
    /// Deletes a twin that never came into being (the rules sent nothing for its item, or the
    /// remote refused its Connect) and takes it back out of its month's count
    /// ([`Twins::twins_made_in_month`]). `NotFound`.
    async fn withdraw_twin(&self, connection_id: Uuid, local_key: &ItemKey) -> Result<()>;
    /// In one transaction: creates the twin (`create`, as [`Twins::create_twin`]) or replaces it
    /// (as [`Twins::update_twin`]), and queues `messages` (kind, payload) for the remote, in
    /// order. What brings an item under sync (Exalate, Connect) or stops it (Unexalate) writes
    /// the twin and what it tells the remote together, so a crash leaves both or neither: never
    /// a twin that looks under sync while nothing was sent. Errors as those two methods.
    async fn write_twin_and_queue(
        &self,
        twin: &Twin,
        create: bool,
        messages: &[(String, String)],
    ) -> Result<Twin>;
    /// Active twins with nothing sent and no remote item, on every connection, oldest first:
    /// an Exalate a crash cut short between recording the twin and queuing its first replica
    /// (versions before [`Twins::write_twin_and_queue`] wrote them apart). Nothing is queued
    /// for them either: every replica queued is recorded as sent in its transaction.
    async fn unsent_twins(&self) -> Result<Vec<Twin>>;
    /// In one transaction: records the twin's last sent replica, the field versions that stamp
    /// it and the display key told with it (`last_sent`, `clock`, `display_key_sent`; nothing
    /// else of `twin`), and queues a message for the remote; returns the message's seq.
    /// `NotFound` for an unknown twin.
    async fn queue_sync(&self, twin: &Twin, kind: &str, payload: &str) -> Result<i64>;
    /// In one transaction: creates the item and an active twin linking it to `remote_key`.
    /// When `remote_key` already has a twin, creates nothing and returns that twin's item with
    /// `false`: a retried create never makes a second item.
    async fn create_twinned_item(
        &self,
        connection_id: Uuid,
        remote_key: &str,
        item: NewItem,
        actor: &Actor,
    ) -> Result<(Item, bool)>;

    // --- sync: comment and attachment twins -------------------------------------------------------
    /// Records the link; recording the same link again changes nothing. `AlreadyExists` when the
    /// local comment or the remote id is linked to another.
    async fn add_comment_twin(&self, twin: CommentLink) -> Result<()>;
    /// In one transaction: adds the comment (a copy of the remote's comment `remote_id`) and
    /// links it, so that a crash between the two can never leave an unlinked copy that a
    /// retry would add again. `AlreadyExists` when `remote_id` is linked already.
    async fn add_twinned_comment(
        &self,
        connection_id: Uuid,
        key: &ItemKey,
        remote_id: &str,
        comment: NewComment,
        actor: &Actor,
    ) -> Result<Comment>;
    /// [`Twins::add_twinned_comment`] for an attachment.
    async fn add_twinned_attachment(
        &self,
        connection_id: Uuid,
        key: &ItemKey,
        remote_id: &str,
        attachment: NewAttachment,
        actor: &Actor,
    ) -> Result<Attachment>;
    async fn comment_twins(
        &self,
        connection_id: Uuid,
        local_key: &ItemKey,
    ) -> Result<Vec<CommentLink>>;
    async fn delete_comment_twin(
        &self,
        connection_id: Uuid,
        local_key: &ItemKey,
        local_id: i64,
    ) -> Result<()>;
    async fn add_attachment_twin(&self, twin: AttachmentLink) -> Result<()>;
    async fn attachment_twins(
        &self,
        connection_id: Uuid,
        local_key: &ItemKey,
    ) -> Result<Vec<AttachmentLink>>;
    async fn delete_attachment_twin(
        &self,
        connection_id: Uuid,
        local_key: &ItemKey,
        local_id: i64,
    ) -> Result<()>;
}

/// Incoming sync requests: received in order, run, completed with their answer.
#[async_trait]
pub trait Requests: Send + Sync {
    /// In one transaction: stores a message received from the remote as a pending request and
    /// records `seq` as received. Returns `false` and stores nothing when `seq` is not the next
    /// one expected (an old or repeated message, or one after a gap). `NotFound` for an unknown
    /// connection.
    async fn receive_request(
        &self,
        connection_id: Uuid,
        seq: i64,
        kind: &str,
        remote_key: Option<&str>,
        payload: &str,
    ) -> Result<bool> {
        let request = ReceivedRequest {
            seq,
            kind: kind.to_owned(),
            remote_key: remote_key.map(str::to_owned),
            payload: payload.to_owned(),
        };
        Ok(self.receive_requests(connection_id, vec![request]).await? == 1)
    }
    /// [`Requests::receive_request`] for several messages in one transaction (one commit for a
    /// whole delivered batch), in order: stops at the first whose `seq` is not the next one.
    /// Returns how many were stored.
    async fn receive_requests(
        &self,
        connection_id: Uuid,
        requests: Vec<ReceivedRequest>,
    ) -> Result<usize>;
    /// In one transaction, what applying a request ends with: the twin as the apply left it
    /// (when given), a message queued for the remote (when given: the acknowledgement), and
    /// the request marked applied. A crash leaves either all of it or none, so a request runs
    /// again only when none of its ending was recorded.
    async fn complete_request(
        &self,
        connection_id: Uuid,
        request_id: i64,
        twin: Option<Twin>,
        message: Option<(String, String)>,
    ) -> Result<()>;
    /// Pending requests that may run now, oldest first, at most `limit`: a request waits while
    /// an earlier request of the same connection and remote key is pending or failed (changes
    /// of one twin apply in order; a failure blocks only that twin).
    async fn runnable_requests(&self, limit: u32) -> Result<Vec<IncomingRequest>>;
    async fn request(&self, id: i64) -> Result<Option<IncomingRequest>>;
    /// Requests in the given states (all when empty), of one connection or all, newest first.
    async fn requests(
        &self,
        connection_id: Option<Uuid>,
        states: &[RequestState],
        limit: u32,
    ) -> Result<Vec<IncomingRequest>>;
    /// How many requests of the connection are received and not applied yet.
    async fn pending_request_count(&self, connection_id: Uuid) -> Result<u64>;
    /// Sets the state; `Failed` also counts an attempt. `NotFound`.
    async fn set_request_state(&self, id: i64, state: RequestState) -> Result<()>;
}

/// Sync errors, conflicts and triggers.
#[async_trait]
pub trait SyncLog: Send + Sync {
    async fn record_sync_error(&self, error: NewSyncError) -> Result<SyncError>;
    /// Newest first; resolved ones only when asked.
    async fn sync_errors(&self, include_resolved: bool, limit: u32) -> Result<Vec<SyncError>>;
    async fn sync_error(&self, id: i64) -> Result<Option<SyncError>>;
    /// Marks the error resolved now; `NotFound`.
    async fn resolve_sync_error(&self, id: i64) -> Result<SyncError>;
    /// Replaces the message of an error that is still going on (a remote unreachable since
    /// a time, with its next try), keeping its id and time; `NotFound`.
    async fn set_sync_error_message(&self, id: i64, message: &str) -> Result<SyncError>;
    /// Resolves the open errors the remote reported about the item ([`SyncError::remote_error`]):
    /// the remote has applied a change of it since. Returns how many.
    async fn resolve_reported_errors(&self, connection_id: Uuid, key: &ItemKey) -> Result<u64>;
    /// The open sync errors per connection (`None`: the node's own), in one read: the
    /// Connections page marks connections with any, the console's menu shows the total.
    async fn open_error_counts(&self) -> Result<Vec<(Option<Uuid>, u64)>>;
    /// Stores a conflict (`id` and `at` as given are ignored: the store numbers and times it).
    async fn record_conflict(&self, conflict: ConflictRecord) -> Result<ConflictRecord>;
    /// A local item's conflicts, newest first.
    async fn conflicts(&self, local_key: &ItemKey) -> Result<Vec<ConflictRecord>>;
    /// A connection's conflicts with ids below `before` (from the first when `None`), newest
    /// first, at most `limit`: the next page starts before the last id of this one.
    async fn connection_conflicts(
        &self,
        connection_id: Uuid,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<ConflictRecord>>;
    async fn conflict(&self, id: i64) -> Result<Option<ConflictRecord>>;
    /// Records that the conflict's losing value was written back to its item, now (an earlier
    /// restore keeps its time); `NotFound`.
    async fn mark_conflict_restored(&self, id: i64) -> Result<ConflictRecord>;
    /// `NotFound` for an unknown connection.
    async fn create_trigger(
        &self,
        connection_id: Uuid,
        query: &str,
        active: bool,
        note: &str,
    ) -> Result<Trigger>;
    /// One connection's triggers, or all, oldest first.
    async fn triggers(&self, connection_id: Option<Uuid>) -> Result<Vec<Trigger>>;
    /// Replaces query, active flag and note. `NotFound`.
    async fn update_trigger(&self, trigger: &Trigger) -> Result<Trigger>;
    async fn delete_trigger(&self, id: i64) -> Result<()>;
}

/// Bulk jobs (Bulk Exalate, Bulk Connect, Clean-up) and their progress.
#[async_trait]
pub trait BulkJobs: Send + Sync {
    // A bulk job is stored running when it starts, its progress stored now and then (never after
    // every item), and finished once; a finished job's record no longer changes.

    /// Records a new running job. `NotFound` for an unknown connection.
    async fn create_bulk_job(
        &self,
        kind: JobKind,
        connection_id: Uuid,
        trigger_id: Option<i64>,
        total: u64,
    ) -> Result<BulkJob>;
    /// Stores a running job's progress and returns the job (with `cancel_requested`, how a
    /// runner learns of a cancel); a finished job is returned unchanged. `NotFound`.
    async fn save_bulk_job_progress(&self, id: i64, progress: &JobProgress) -> Result<BulkJob>;
    /// Ends a running job (`Done`, `Failed` or `Cancelled`, never `Running`) with its last
    /// progress and the reason it failed; a finished job is returned unchanged. `NotFound`.
    async fn finish_bulk_job(
        &self,
        id: i64,
        state: JobState,
        progress: &JobProgress,
        error: Option<&str>,
    ) -> Result<BulkJob>;
    /// Asks a running job to stop after the items under way; a finished job is returned
    /// unchanged. `NotFound`.
    async fn request_bulk_job_cancel(&self, id: i64) -> Result<BulkJob>;
    /// Jobs of one connection or all, newest first; only the running ones when asked.
    async fn bulk_jobs(
        &self,
        connection_id: Option<Uuid>,
        running_only: bool,
        limit: u32,
    ) -> Result<Vec<BulkJob>>;
    async fn bulk_job(&self, id: i64) -> Result<Option<BulkJob>>;
}

/// Mirror links: which store item, comment or attachment mirrors which record, comment or attachment of an external tracker, with the snapshot of the record as last agreed.
#[async_trait]
pub trait Mirrors: Send + Sync {
    // A node that sits on an external tracker (ServiceNow) mirrors the tracker's records as
    // items; a `MirrorLink` remembers which store item, comment or attachment mirrors which
    // record, journal entry or attachment. A tracker object (tracker, kind, external id) has one
    // link at most. `tracker` names the tracker and table, e.g. `servicenow:incident`. Writing
    // a link with an empty tracker or external id is `Invalid`.

    /// The link of the tracker object `external_id` of this kind, if there is one.
    async fn mirror_link(
        &self,
        tracker: &str,
        kind: MirrorKind,
        external_id: &str,
    ) -> Result<Option<MirrorLink>>;
    /// Every link of the item on the tracker, of all kinds: ordered by kind (record, comment,
    /// attachment), then by local id.
    async fn mirror_links_of_item(&self, tracker: &str, item: &ItemKey) -> Result<Vec<MirrorLink>>;
    /// The tracker's links of one kind, ordered by external id, those after `after` (all when
    /// `None`), at most `limit`: for a walk through every mirrored object.
    async fn mirror_links_of_kind(
        &self,
        tracker: &str,
        kind: MirrorKind,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<MirrorLink>>;
    /// Records the link, replacing the one its tracker object had. `NotFound` for an unknown
    /// item. The comment or attachment `local_id` is not checked: a link to one that does not
    /// exist is stale, and the mirrored writes replace it. Deleting a comment or attachment
    /// deletes the links to it (ids may be handed out again).
    async fn set_mirror_link(&self, link: MirrorLink) -> Result<()>;
    /// The snapshot kept with a record link (see [`Mirrors::set_mirror_snapshot`]), if any.
    async fn mirror_snapshot(&self, tracker: &str, external_id: &str) -> Result<Option<String>>;
    /// Keeps `snapshot` (the record's columns as last agreed with the tracker, a JSON text) with
    /// the record's link; setting the link again keeps it. `NotFound` without a record link.
    async fn set_mirror_snapshot(
        &self,
        tracker: &str,
        external_id: &str,
        snapshot: &str,
    ) -> Result<()>;
    /// Forgets the link of the tracker object; nothing happens when it has none.
    async fn delete_mirror_link(
        &self,
        tracker: &str,
        kind: MirrorKind,
        external_id: &str,
    ) -> Result<()>;
    /// Creates the item and its Record link in one transaction; when the link exists already,
    /// returns that item and false.
    ///
    /// The item is created as [`Items::create_item`] creates it (history, and an event naming
    /// `actor`); a crash can never leave it without its link, so a retried create never makes
    /// a second item. When the link exists, nothing is written.
    async fn create_mirrored_item(
        &self,
        tracker: &str,
        external_id: &str,
        item: NewItem,
        actor: &Actor,
    ) -> Result<(Item, bool)>;
    /// Adds the comment and its Comment link in one transaction; when the link exists, returns
    /// the linked comment and false.
    ///
    /// The comment is added as [`Items::add_comment`] adds it (the item's version bumped,
    /// history, an event). A link whose comment was deleted meanwhile is stale: it is replaced
    /// and the comment added anew. `AlreadyExists` when the journal entry is mirrored by a
    /// comment of another item; `NotFound` for an unknown item.
    async fn add_mirrored_comment(
        &self,
        tracker: &str,
        key: &ItemKey,
        external_id: &str,
        comment: NewComment,
        actor: &Actor,
    ) -> Result<(Comment, bool)>;
    /// Adds the attachment and its Attachment link in one transaction; when the link exists,
    /// returns the linked attachment and false.
    ///
    /// [`Mirrors::add_mirrored_comment`] for an attachment, added as [`Items::add_attachment`]
    /// adds it.
    async fn add_mirrored_attachment(
        &self,
        tracker: &str,
        key: &ItemKey,
        external_id: &str,
        attachment: NewAttachment,
        actor: &Actor,
    ) -> Result<(Attachment, bool)>;
}
