//! Keeps the mirror (store items, see [`super::view`]) and the ServiceNow instance in step.
//!
//! - **Pull**: every poll interval, the changed rows of each table (the connector's
//!   [`Poller`]) are brought into the mirror with their journal entries and attachments, by an
//!   actor named `ServiceNow/<user>`. The sync engine then treats them as local changes.
//! - **Push**: changes made to mirror items by anyone else (the sync engine applying a remote
//!   change, an admin) are read from the item event log — a durable outbox with a stored
//!   cursor — and written to ServiceNow: a new record (found again by its `correlation_id` if
//!   an earlier try got as far as creating it), the columns that changed, new comments and work
//!   notes, new and removed attachments.
//! - **Three-way merge**: for each record the bridge keeps the columns as last agreed with
//!   ServiceNow (the snapshot). A pull takes only the columns ServiceNow changed since; a push
//!   writes only the columns changed in the mirror since. Neither side's concurrent edit of
//!   another column is overwritten.
//! - The bridge's own writes are recognised when polled back and not pulled again.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt, TryStreamExt};
use serde_json::{Map, Value, json};
use tandem_connectors::servicenow::{
    AttachmentMeta, Client, JournalEntry, JournalKind, NewAttachment as SnAttachment, PollState,
    Poller, Record, ServiceNowError,
};
use tandem_model::{
    Actor, CustomFields, Impact, ItemKey, MirrorKind, MirrorLink, NewAttachment, NewComment,
    NewProject, NewSyncError, Person, TrackerEvent,
};
use tandem_store::StoreError;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::view::{self, Tables};
use crate::config::ServiceNowConfig;
use crate::state::AppState;

/// Actor names of the bridge's writes start with this; the push skips them.
pub const ACTOR_PREFIX: &str = "ServiceNow/";
/// How often the push looks for mirror changes between polls when nothing wakes it (the sync
/// engine does after each change it applies; an admin's edit waits for this).
const PUSH_EVERY: Duration = Duration::from_millis(200);
/// Rows per poll page (scanned by their change columns; changed ones fetched whole).
const PAGE: u32 = 500;
/// Records pulled into the mirror at once.
const PULL_CONCURRENCY: usize = 32;
/// Items pushed to ServiceNow at once.
const PUSH_CONCURRENCY: usize = 8;
/// Attachment links checked per request when looking for attachments deleted in ServiceNow.
const SWEEP_BATCH: u32 = 100;
/// Polls between two such sweeps.
const POLLS_PER_SWEEP: u32 = 6;
/// Events read per push round.
const PUSH_BATCH: u32 = 500;
const PUSH_CURSOR: &str = "servicenow.push_after";
/// Items whose refused write an admin asked to retry (Resolve and retry), as a JSON list of
/// keys: kept in the store so that a restart before the next push round loses none.
const PUSH_RETRIES: &str = "servicenow.push_retry";

/// The tracker id of a table's mirror links.
pub fn tracker_id(table: &str) -> String {
    format!("servicenow:{table}")
}

fn poll_setting(table: &str) -> String {
    format!("servicenow.poll.{table}")
}

fn attachment_poll_setting(table: &str) -> String {
    format!("servicenow.poll_attachments.{table}")
}

#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    #[error(transparent)]
    ServiceNow(#[from] ServiceNowError),
    #[error("the mirror could not be updated: {0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Mirror(String),
    #[error(
        "its record {sys_id} in the {table} table was deleted in ServiceNow. Resolve and retry creates the record again (with the item's comments and attachments); to stop syncing the item instead, Unexalate it"
    )]
    Deleted { table: String, sys_id: String },
}

impl BridgeError {
    /// The disk under this node's database failed (full, read-only, I/O error).
    fn is_storage_fault(&self) -> bool {
        matches!(self, BridgeError::Store(e) if e.is_storage_fault())
    }

    /// Worth trying again later as it is (the instance was down or busy, the database locked).
    fn is_transient(&self) -> bool {
        match self {
            BridgeError::ServiceNow(e) => e.is_transient(),
            BridgeError::Store(_) => true,
            BridgeError::Mirror(_) | BridgeError::Deleted { .. } => false,
        }
    }
}

/// What the General settings page shows of the bridge.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BridgeStatus {
    pub last_poll: Option<jiff::Timestamp>,
    pub last_error: Option<String>,
    pub pulled: u64,
    pub pushed: u64,
    pub requests: u64,
}

struct TablePollers {
    table: String,
    records: Poller,
    attachments: Poller,
}

/// A client of the configured instance.
pub fn client(config: &ServiceNowConfig) -> Result<Client, ServiceNowError> {
    let auth = match &config.oauth {
        Some((id, secret)) => tandem_connectors::servicenow::Auth::OAuth {
            client_id: id.clone(),
            client_secret: secret.expose().to_owned(),
            user: config.user.clone(),
            password: config.password.expose().to_owned(),
        },
        None => tandem_connectors::servicenow::Auth::Basic {
            user: config.user.clone(),
            password: config.password.expose().to_owned(),
        },
    };
    Client::new(tandem_connectors::servicenow::ClientConfig::new(
        &config.instance_url,
        auth,
    ))
}

pub struct Bridge {
    state: AppState,
    client: std::sync::Arc<Client>,
    tables: Tables,
    config: ServiceNowConfig,
    pollers: tokio::sync::Mutex<Vec<TablePollers>>,
    /// The proxy user was refused reading `sys_attachment` (its ACL): said once as a warning,
    /// then only in the debug log, while records and journals keep syncing.
    attachments_refused: std::sync::atomic::AtomicBool,
}

/// Whether a read failed because the proxy user may not read attachments (403, an ACL).
fn attachments_refused(e: &ServiceNowError) -> bool {
    e.status() == Some(403)
}

impl Bridge {
    /// A bridge for the node's instance; `None` on a node that serves no ServiceNow instance.
    pub fn new(state: AppState, config: ServiceNowConfig) -> Option<Self> {
        let client = state.servicenow()?.clone();
        Some(Self {
            tables: Tables::new(&config.tables),
            state,
            client,
            config,
            pollers: tokio::sync::Mutex::new(Vec::new()),
            attachments_refused: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Notes that attachments cannot be read; the pull goes on without them.
    fn skip_attachments(&self, table: &str, e: &ServiceNowError) {
        if self
            .attachments_refused
            .swap(true, std::sync::atomic::Ordering::Relaxed)
        {
            debug!(table, error = %e, "Attachments still cannot be read; skipped.");
        } else {
            warn!(table, user = %self.config.user, error = %e, "The proxy user cannot read sys_attachment (ServiceNow refused it): records and comments sync without attachments until its ACLs allow it.");
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    fn actor(&self, user: &str) -> Actor {
        Actor {
            name: format!(
                "{ACTOR_PREFIX}{}",
                if user.is_empty() { "unknown" } else { user }
            ),
            via_sync: None,
        }
    }

    /// The mirror projects exist and the pollers start where they stopped.
    pub async fn prepare(&self) -> Result<(), BridgeError> {
        let store = self.state.store();
        for (table, key) in self.tables.iter() {
            if store.project(key).await?.is_none() {
                let created = store
                    .create_project(NewProject {
                        key: key.clone(),
                        name: format!("ServiceNow {table}"),
                        description: format!(
                            "Mirror of the {table} table of {}",
                            self.config.instance_url
                        ),
                    })
                    .await;
                match created {
                    Ok(_) | Err(StoreError::AlreadyExists(_)) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        let mut pollers = Vec::new();
        for (table, _) in self.tables.iter() {
            let load = async |key: String| -> Result<PollState, BridgeError> {
                Ok(store
                    .setting(&key)
                    .await?
                    .and_then(|s| serde_json::from_str(&s).ok())
                    .unwrap_or_default())
            };
            pollers.push(TablePollers {
                table: table.to_owned(),
                records: Poller::table(table, load(poll_setting(table)).await?).page_size(PAGE),
                attachments: Poller::attachments(
                    table,
                    load(attachment_poll_setting(table)).await?,
                )
                .page_size(PAGE),
            });
        }
        *self.pollers.lock().await = pollers;
        Ok(())
    }

    /// Pulls every table's changes into the mirror; returns how many rows were brought in.
    pub async fn pull(&self) -> Result<u64, BridgeError> {
        let mut pulled = 0;
        let tables: Vec<String> = self.tables.iter().map(|(t, _)| t.to_owned()).collect();
        for (i, table) in tables.iter().enumerate() {
            loop {
                let poller = self.pollers.lock().await[i].records.clone();
                let batch = poller.next_batch(&self.client).await?;
                let records = batch.changes;
                pulled += records.len() as u64;
                self.pull_records(table, &records).await?;
                let state_json = {
                    let mut pollers = self.pollers.lock().await;
                    let next = with_own_writes(batch.state, pollers[i].records.state());
                    let json = serde_json::to_string(&next).unwrap_or_default();
                    pollers[i].records.advance(next);
                    json
                };
                self.state
                    .store()
                    .set_setting(&poll_setting(table), &state_json)
                    .await?;
                if !batch.more {
                    break;
                }
            }
            loop {
                let poller = self.pollers.lock().await[i].attachments.clone();
                let batch = match poller.next_batch(&self.client).await {
                    Ok(batch) => batch,
                    Err(e) if attachments_refused(&e) => {
                        // The watermark stays: once readable, nothing is missed.
                        self.skip_attachments(table, &e);
                        break;
                    }
                    Err(e) => return Err(e.into()),
                };
                let mut by_record: HashMap<String, Vec<AttachmentMeta>> = HashMap::new();
                for c in &batch.changes {
                    let meta = AttachmentMeta::from_record(c);
                    by_record
                        .entry(meta.table_sys_id.clone())
                        .or_default()
                        .push(meta);
                }
                for (sys_id, files) in by_record {
                    self.pull_new_attachments(table, &sys_id, &files).await?;
                }
                let state_json = {
                    let mut pollers = self.pollers.lock().await;
                    let next = with_own_writes(batch.state, pollers[i].attachments.state());
                    let json = serde_json::to_string(&next).unwrap_or_default();
                    pollers[i].attachments.advance(next);
                    json
                };
                self.state
                    .store()
                    .set_setting(&attachment_poll_setting(table), &state_json)
                    .await?;
                if !batch.more {
                    break;
                }
            }
        }
        Ok(pulled)
    }

    /// Removes from the mirror the attachments deleted in ServiceNow, which no poll sees (the
    /// attachment poll finds new files; a record's pull reconciles its files only when the
    /// record itself changes). Returns how many were removed. Costs one request per
    /// [`SWEEP_BATCH`] mirrored attachments.
    pub async fn sweep_attachments(&self) -> Result<u64, BridgeError> {
        let store = self.state.store();
        let mut removed = 0;
        for (table, _) in self.tables.iter() {
            let tracker = tracker_id(table);
            let mut after: Option<String> = None;
            loop {
                let links = store
                    .mirror_links_of_kind(
                        &tracker,
                        MirrorKind::Attachment,
                        after.as_deref(),
                        SWEEP_BATCH,
                    )
                    .await?;
                let Some(last) = links.last() else { break };
                after = Some(last.external_id.clone());
                let ids: Vec<&str> = links.iter().map(|l| l.external_id.as_str()).collect();
                let present = match self.client.attachments_present(&ids).await {
                    Ok(present) => present,
                    Err(e) if attachments_refused(&e) => {
                        self.skip_attachments(table, &e);
                        break;
                    }
                    Err(e) => return Err(e.into()),
                };
                let actor = self.actor(&self.config.user);
                for link in links.iter().filter(|l| !present.contains(&l.external_id)) {
                    self.remove_deleted_attachment(link, &actor).await?;
                    info!(item = %link.item, attachment = %link.external_id, "An attachment deleted in ServiceNow left the mirror.");
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }

    /// Removes from the mirror an attachment deleted in ServiceNow, and its link.
    async fn remove_deleted_attachment(
        &self,
        link: &MirrorLink,
        actor: &Actor,
    ) -> Result<(), BridgeError> {
        let store = self.state.store();
        match store
            .remove_attachment(&link.item, link.local_id, actor)
            .await
        {
            Ok(()) | Err(StoreError::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        store
            .delete_mirror_link(&link.tracker, MirrorKind::Attachment, &link.external_id)
            .await?;
        Ok(())
    }

    async fn pull_records(&self, table: &str, records: &[Record]) -> Result<(), BridgeError> {
        if records.is_empty() {
            return Ok(());
        }
        let ids: Vec<&str> = records.iter().map(Record::sys_id).collect();
        let (journals, _) = self.client.journals(table, &ids).await?;
        // `None`: the files cannot be read, so the mirror's attachments are left as they are.
        let files = match self.client.attachments(table, &ids).await {
            Ok(files) => Some(files),
            Err(e) if attachments_refused(&e) => {
                self.skip_attachments(table, &e);
                None
            }
            Err(e) => return Err(e.into()),
        };
        let mut files_of: HashMap<&str, Vec<&AttachmentMeta>> = HashMap::new();
        for f in files.iter().flatten() {
            files_of.entry(f.table_sys_id.as_str()).or_default().push(f);
        }
        let (none, no_journal) = (Vec::new(), Vec::new());
        // Records side by side: their writes share the store's commits.
        stream::iter(records.iter().map(Ok))
            .try_for_each_concurrent(PULL_CONCURRENCY, |record| {
                let sys_id = record.sys_id();
                self.pull_record(
                    table,
                    record,
                    journals.get(sys_id).unwrap_or(&no_journal),
                    files
                        .is_some()
                        .then(|| files_of.get(sys_id).unwrap_or(&none).as_slice()),
                )
            })
            .await
    }

    /// The columns last agreed with ServiceNow for a record (kept with its mirror link).
    async fn snapshot(
        &self,
        table: &str,
        sys_id: &str,
    ) -> Result<Option<CustomFields>, BridgeError> {
        Ok(self
            .state
            .store()
            .mirror_snapshot(&tracker_id(table), sys_id)
            .await?
            .and_then(|s| serde_json::from_str(&s).ok()))
    }

    async fn set_snapshot(&self, table: &str, record: &Record) -> Result<(), BridgeError> {
        let columns = view::columns(record);
        let text = serde_json::to_string(&columns).unwrap_or_default();
        self.state
            .store()
            .set_mirror_snapshot(&tracker_id(table), record.sys_id(), &text)
            .await?;
        Ok(())
    }

    /// Brings one record, its journal and its attachments (`None` when they cannot be read)
    /// into the mirror.
    async fn pull_record(
        &self,
        table: &str,
        record: &Record,
        journal: &[JournalEntry],
        files: Option<&[&AttachmentMeta]>,
    ) -> Result<(), BridgeError> {
        let store = self.state.store();
        let tracker = tracker_id(table);
        let sys_id = record.sys_id();
        let actor = self.actor(record.str("sys_updated_by"));
        let project = self
            .tables
            .project_of(table)
            .ok_or_else(|| BridgeError::Mirror(format!("no project mirrors {table}")))?;
        let key = match store
            .mirror_link(&tracker, MirrorKind::Record, sys_id)
            .await?
        {
            None => {
                let (item, _) = store
                    .create_mirrored_item(&tracker, sys_id, view::new_item(record, project), &actor)
                    .await?;
                item.key
            }
            Some(link) => {
                let item = store.item(&link.item).await?.ok_or_else(|| {
                    BridgeError::Mirror(format!("the mirror item {} is gone", link.item))
                })?;
                let base = self.snapshot(table, sys_id).await?;
                let patch = view::pull_patch(&item, record, base.as_ref());
                if patch != tandem_model::ItemPatch::default() {
                    store.update_item(&item.key, patch, &actor).await?;
                }
                item.key
            }
        };
        self.set_snapshot(table, record).await?;
        // Comments of the mirror that no journal entry is linked to yet: a push may have
        // written one and stopped (a crash, a failed read-back) before linking it.
        let (mut unwritten, _) = self.unlinked(&tracker, &key).await?;
        for entry in journal {
            if store
                .mirror_link(&tracker, MirrorKind::Comment, &entry.id)
                .await?
                .is_some()
            {
                continue;
            }
            if let Some(i) = unwritten
                .iter()
                .position(|c| c.internal == entry.internal() && c.body.trim() == entry.text.trim())
            {
                // That write, read back: link it instead of copying it in a second time.
                let comment = unwritten.remove(i);
                store
                    .set_mirror_link(MirrorLink {
                        tracker: tracker.clone(),
                        kind: MirrorKind::Comment,
                        external_id: entry.id.clone(),
                        item: key.clone(),
                        local_id: comment.id,
                    })
                    .await?;
                continue;
            }
            store
                .add_mirrored_comment(
                    &tracker,
                    &key,
                    &entry.id,
                    NewComment {
                        author: Person {
                            name: entry.author.clone(),
                            email: None,
                        },
                        body: entry.text.clone(),
                        internal: entry.internal(),
                        origin: None,
                    },
                    &self.actor(&entry.author),
                )
                .await?;
        }
        let Some(files) = files else {
            return Ok(());
        };
        let owned: Vec<AttachmentMeta> = files.iter().map(|f| (*f).clone()).collect();
        self.pull_new_attachments(table, sys_id, &owned).await?;
        // Attachments deleted in ServiceNow leave the mirror too.
        let present: BTreeSet<&str> = files.iter().map(|f| f.sys_id.as_str()).collect();
        for link in store.mirror_links_of_item(&tracker, &key).await? {
            if link.kind == MirrorKind::Attachment && !present.contains(link.external_id.as_str()) {
                self.remove_deleted_attachment(&link, &actor).await?;
            }
        }
        Ok(())
    }

    /// The mirror item's comments and attachments that no journal entry or ServiceNow
    /// attachment is linked to yet (none when the item is gone).
    async fn unlinked(
        &self,
        tracker: &str,
        key: &ItemKey,
    ) -> Result<(Vec<tandem_model::Comment>, Vec<tandem_model::Attachment>), BridgeError> {
        let store = self.state.store();
        let Some(item) = store.item(key).await? else {
            return Ok((Vec::new(), Vec::new()));
        };
        let links = store.mirror_links_of_item(tracker, key).await?;
        let (comments, attachments) = (
            linked_ids(&links, MirrorKind::Comment),
            linked_ids(&links, MirrorKind::Attachment),
        );
        Ok((
            item.comments
                .into_iter()
                .filter(|c| !comments.contains(&c.id))
                .collect(),
            item.attachments
                .into_iter()
                .filter(|a| !attachments.contains(&a.id))
                .collect(),
        ))
    }

    /// Copies attachments of a mirrored record that the mirror does not have yet.
    async fn pull_new_attachments(
        &self,
        table: &str,
        sys_id: &str,
        files: &[AttachmentMeta],
    ) -> Result<(), BridgeError> {
        let store = self.state.store();
        let tracker = tracker_id(table);
        let Some(record) = store
            .mirror_link(&tracker, MirrorKind::Record, sys_id)
            .await?
        else {
            // Not mirrored yet: the record's own pull brings its files.
            return Ok(());
        };
        let (_, mut unwritten) = self.unlinked(&tracker, &record.item).await?;
        for f in files {
            if store
                .mirror_link(&tracker, MirrorKind::Attachment, &f.sys_id)
                .await?
                .is_some()
            {
                continue;
            }
            if let Some(i) = unwritten
                .iter()
                .position(|a| a.filename == f.file_name && !f.hash.is_empty() && a.sha256 == f.hash)
            {
                // An upload of the push that stopped before its link was kept.
                let local = unwritten.remove(i);
                store
                    .set_mirror_link(MirrorLink {
                        tracker: tracker.clone(),
                        kind: MirrorKind::Attachment,
                        external_id: f.sys_id.clone(),
                        item: record.item.clone(),
                        local_id: local.id,
                    })
                    .await?;
                continue;
            }
            let bytes = self.client.download(f).await?;
            let author = Person {
                name: f.created_by.clone(),
                email: None,
            };
            let file = NewAttachment {
                filename: f.file_name.clone(),
                mime_type: if f.content_type.is_empty() {
                    "application/octet-stream".into()
                } else {
                    f.content_type.clone()
                },
                author,
                bytes,
            };
            match store
                .add_mirrored_attachment(
                    &tracker,
                    &record.item,
                    &f.sys_id,
                    file,
                    &self.actor(&f.created_by),
                )
                .await
            {
                Ok(_) => {}
                Err(StoreError::Invalid(e)) => {
                    warn!(file = %f.file_name, record = sys_id, error = %e, "A ServiceNow attachment cannot be mirrored.");
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Writes the mirror's new changes to ServiceNow, and the items an admin asked to retry;
    /// returns how many items were pushed.
    pub async fn push(&self) -> Result<u64, BridgeError> {
        let retried = self.push_retries().await?;
        let store = self.state.store();
        let after: i64 = store
            .setting(PUSH_CURSOR)
            .await?
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let events = store.events_after(after, PUSH_BATCH).await?;
        let Some(last) = events.last().map(|e| e.seq) else {
            return Ok(retried);
        };
        // Each item once, in the order of its first pending change.
        let mut items: Vec<(ItemKey, i64)> = Vec::new();
        for e in events.iter().filter(|e| self.is_local_change(e)) {
            if !items.iter().any(|(k, _)| *k == e.item) {
                items.push((e.item.clone(), e.seq));
            }
        }
        // Items side by side (each item's own writes stay in order inside `push_item`).
        let work: Vec<(ItemKey, i64, String)> = items
            .into_iter()
            .filter_map(|(key, seq)| {
                let table = self.tables.table_of(&key.project)?.to_owned();
                Some((key, seq, table))
            })
            .collect();
        let outcomes: Vec<(ItemKey, i64, Result<(), BridgeError>)> = stream::iter(work)
            .map(|(key, seq, table)| self.push_one(key, seq, table))
            .buffer_unordered(PUSH_CONCURRENCY)
            .collect()
            .await;
        let mut pushed = retried;
        let mut retry_from: Option<(i64, BridgeError)> = None;
        for (key, seq, result) in outcomes {
            match result {
                Ok(()) => pushed += 1,
                Err(e) if e.is_transient() => {
                    if retry_from.as_ref().is_none_or(|(s, _)| seq < *s) {
                        retry_from = Some((seq, e));
                    }
                }
                Err(e) => self.refused(&key, &e).await?,
            }
        }
        if let Some((seq, e)) = retry_from {
            // The next round starts again from the first item that could not be written; the
            // items after it that were written meanwhile find nothing left to do.
            store
                .set_setting(PUSH_CURSOR, &(seq - 1).max(after).to_string())
                .await?;
            return Err(e);
        }
        store.set_setting(PUSH_CURSOR, &last.to_string()).await?;
        Ok(pushed)
    }

    /// Pushes the items an admin asked to retry; returns how many were written. One that fails
    /// for a passing reason stays asked for; one refused again is a new item error.
    async fn push_retries(&self) -> Result<u64, BridgeError> {
        let asked = retries(&self.state).await?;
        if asked.is_empty() {
            return Ok(0);
        }
        let mut done = Vec::new();
        let mut pushed = 0;
        let mut failure = None;
        for key in asked {
            let Some(table) = self.tables.table_of(&key.project).map(str::to_owned) else {
                done.push(key);
                continue;
            };
            let mut result = self.push_item(&table, &key).await;
            if let Err(BridgeError::Deleted { sys_id, .. }) = &result {
                // The admin asks for the record again: forget the deleted one, so the push
                // creates a new record with everything the item holds.
                self.forget_record(&table, &key, sys_id).await?;
                result = self.push_item(&table, &key).await;
            }
            match result {
                Ok(()) => {
                    info!(item = %key, "Wrote an item to ServiceNow again, as an admin asked.");
                    pushed += 1;
                }
                Err(e) if e.is_transient() => {
                    failure = Some(e);
                    continue;
                }
                Err(e) => self.refused(&key, &e).await?,
            }
            done.push(key);
        }
        forget_retries(&self.state, &done).await?;
        match failure {
            Some(e) => Err(e),
            None => Ok(pushed),
        }
    }

    /// Drops the item's links to a record deleted in ServiceNow, and to its journal entries and
    /// attachments.
    async fn forget_record(
        &self,
        table: &str,
        key: &ItemKey,
        sys_id: &str,
    ) -> Result<(), BridgeError> {
        let store = self.state.store();
        let tracker = tracker_id(table);
        for link in store.mirror_links_of_item(&tracker, key).await? {
            store
                .delete_mirror_link(&tracker, link.kind, &link.external_id)
                .await?;
        }
        info!(item = %key, sys_id, "Forgot a record deleted in ServiceNow; the item makes a new one.");
        Ok(())
    }

    /// Records ServiceNow's refusal of an item's write as an error of that item.
    async fn refused(&self, key: &ItemKey, e: &BridgeError) -> Result<(), BridgeError> {
        warn!(item = %key, error = %e, "ServiceNow refused a change of a mirrored record.");
        let error = self
            .state
            .store()
            .record_sync_error(NewSyncError {
                impact: Impact::Item,
                connection_id: None,
                local_key: Some(key.clone()),
                remote_key: None,
                request_id: None,
                message: match e {
                    BridgeError::Deleted { .. } => {
                        format!("{key} cannot be written to ServiceNow: {e}.")
                    }
                    _ => format!(
                        "ServiceNow refused the change of {key}: {e}. Once the cause is fixed \
                         (in ServiceNow, or in the incoming rules and then Sync again from the \
                         other side), Resolve and retry writes it again."
                    ),
                },
                script_trace: None,
                remote_error: None,
            })
            .await?;
        crate::sync::engine::notify_webhook(&self.state, None, &error);
        Ok(())
    }

    async fn push_one(
        &self,
        key: ItemKey,
        seq: i64,
        table: String,
    ) -> (ItemKey, i64, Result<(), BridgeError>) {
        let result = self.push_item(&table, &key).await;
        (key, seq, result)
    }

    fn is_local_change(&self, e: &TrackerEvent) -> bool {
        !e.actor.starts_with(ACTOR_PREFIX) && self.tables.table_of(&e.item.project).is_some()
    }

    async fn note_own_write(&self, table: &str, record: &Record) {
        let mut pollers = self.pollers.lock().await;
        if let Some(p) = pollers.iter_mut().find(|p| p.table == table) {
            p.records.note_own_write(record);
        }
    }

    async fn note_own_attachment(&self, table: &str, meta: &AttachmentMeta) {
        let Value::Object(fields) = json!({"sys_id": meta.sys_id, "sys_mod_count": "0"}) else {
            return;
        };
        let mut pollers = self.pollers.lock().await;
        if let Some(p) = pollers.iter_mut().find(|p| p.table == table) {
            p.attachments.note_own_write(&Record::new(fields));
        }
    }

    /// The correlation id a record created for a mirror item carries, so that a retry finds it.
    fn correlation(&self, key: &ItemKey) -> String {
        format!("tandem:{}:{key}", self.state.identity().id)
    }

    /// Makes ServiceNow match one mirror item: the record, its journal, its attachments. A
    /// write that finds the record gone is [`BridgeError::Deleted`].
    async fn push_item(&self, table: &str, key: &ItemKey) -> Result<(), BridgeError> {
        match self.push_item_once(table, key).await {
            Err(BridgeError::ServiceNow(e)) if e.status() == Some(404) => {
                let tracker = tracker_id(table);
                let links = self
                    .state
                    .store()
                    .mirror_links_of_item(&tracker, key)
                    .await?;
                let Some(record) = links.iter().find(|l| l.kind == MirrorKind::Record) else {
                    return Err(e.into());
                };
                match self
                    .client
                    .get(table, &record.external_id, Some("sys_id"))
                    .await?
                {
                    Some(_) => Err(e.into()),
                    None => Err(BridgeError::Deleted {
                        table: table.to_owned(),
                        sys_id: record.external_id.clone(),
                    }),
                }
            }
            other => other,
        }
    }

    async fn push_item_once(&self, table: &str, key: &ItemKey) -> Result<(), BridgeError> {
        let store = self.state.store();
        let tracker = tracker_id(table);
        let Some(item) = store.item(key).await? else {
            return Ok(());
        };
        let links = store.mirror_links_of_item(&tracker, key).await?;
        let proxy = self.actor(&self.config.user);
        let (sys_id, written) = match links.iter().find(|l| l.kind == MirrorKind::Record) {
            None => {
                let correlation = self.correlation(key);
                // One row is enough; and only a row that carries the correlation counts: on a
                // table without the column ServiceNow ignores the term and returns any row.
                let found = self
                    .client
                    .first_page(table, &format!("correlation_id={correlation}"), None, 1)
                    .await?;
                let record = match found
                    .into_iter()
                    .find(|r| r.str("correlation_id") == correlation)
                {
                    Some(r) => r,
                    None => {
                        let mut fields = view::record_fields(&item);
                        fields.insert("correlation_id".into(), json!(correlation));
                        fields.insert("correlation_display".into(), json!("Tandem"));
                        self.client.create(table, &fields).await?
                    }
                };
                self.note_own_write(table, &record).await;
                store
                    .set_mirror_link(MirrorLink {
                        tracker: tracker.clone(),
                        kind: MirrorKind::Record,
                        external_id: record.sys_id().to_owned(),
                        item: key.clone(),
                        local_id: 0,
                    })
                    .await?;
                info!(item = %key, number = record.str("number"), "Created a ServiceNow record for a mirror item.");
                (record.sys_id().to_owned(), Some((record, None)))
            }
            Some(link) => {
                let base = self.snapshot(table, &link.external_id).await?;
                let changes: Map<String, Value> = match &base {
                    Some(base) => view::local_changes(&item, base),
                    None => Map::new(),
                };
                if changes.is_empty() {
                    (link.external_id.clone(), None)
                } else {
                    let record = self
                        .client
                        .update(table, &link.external_id, &changes)
                        .await?;
                    self.note_own_write(table, &record).await;
                    debug!(item = %key, columns = ?changes.keys().collect::<Vec<_>>(), "Wrote mirror changes to ServiceNow.");
                    (link.external_id.clone(), Some((record, base)))
                }
            }
        };
        if let Some((record, base)) = written {
            // The mirror takes what ServiceNow made of the write: the number, computed columns.
            let patch = view::pull_patch(&item, &record, base.as_ref());
            if patch != tandem_model::ItemPatch::default() {
                store.update_item(key, patch, &proxy).await?;
            }
            self.set_snapshot(table, &record).await?;
        }
        self.push_comments(table, &sys_id, key, &links).await?;
        self.push_attachments(table, &sys_id, key, &links).await?;
        Ok(())
    }

    async fn push_comments(
        &self,
        table: &str,
        sys_id: &str,
        key: &ItemKey,
        links: &[MirrorLink],
    ) -> Result<(), BridgeError> {
        let store = self.state.store();
        let tracker = tracker_id(table);
        let Some(item) = store.item(key).await? else {
            return Ok(());
        };
        let linked = linked_ids(links, MirrorKind::Comment);
        let new: Vec<&tandem_model::Comment> = item
            .comments
            .iter()
            .filter(|c| !linked.contains(&c.id))
            .collect();
        if new.is_empty() {
            return Ok(());
        }
        let unlinked = async || -> Result<Vec<JournalEntry>, BridgeError> {
            let (journals, _) = self.client.journals(table, &[sys_id]).await?;
            let mut out = Vec::new();
            for e in journals.get(sys_id).cloned().unwrap_or_default() {
                if store
                    .mirror_link(&tracker, MirrorKind::Comment, &e.id)
                    .await?
                    .is_none()
                {
                    out.push(e);
                }
            }
            Ok(out)
        };
        let link = async |comment: &tandem_model::Comment,
                          entries: &mut Vec<JournalEntry>|
               -> Result<bool, BridgeError> {
            let kind = if comment.internal {
                JournalKind::WorkNotes
            } else {
                JournalKind::Comments
            };
            let Some(i) = entries
                .iter()
                .position(|e| e.kind == kind && e.text.trim() == comment.body.trim())
            else {
                return Ok(false);
            };
            let entry = entries.remove(i);
            store
                .set_mirror_link(MirrorLink {
                    tracker: tracker.clone(),
                    kind: MirrorKind::Comment,
                    external_id: entry.id,
                    item: key.clone(),
                    local_id: comment.id,
                })
                .await?;
            Ok(true)
        };
        // An earlier try may have written some before it stopped: link those instead.
        let mut entries = unlinked().await?;
        let mut written = Vec::new();
        for comment in new {
            if link(comment, &mut entries).await? {
                continue;
            }
            let kind = if comment.internal {
                JournalKind::WorkNotes
            } else {
                JournalKind::Comments
            };
            let record = self
                .client
                .add_journal_entry(table, sys_id, kind, &comment.body)
                .await?;
            self.note_own_write(table, &record).await;
            written.push(comment);
        }
        if !written.is_empty() {
            let mut entries = unlinked().await?;
            for comment in written {
                if !link(comment, &mut entries).await? {
                    warn!(item = %key, comment = comment.id, "A comment written to ServiceNow was not found in its journal.");
                }
            }
        }
        Ok(())
    }

    async fn push_attachments(
        &self,
        table: &str,
        sys_id: &str,
        key: &ItemKey,
        links: &[MirrorLink],
    ) -> Result<(), BridgeError> {
        let store = self.state.store();
        let tracker = tracker_id(table);
        let Some(item) = store.item(key).await? else {
            return Ok(());
        };
        let linked = linked_ids(links, MirrorKind::Attachment);
        for a in item.attachments.iter().filter(|a| !linked.contains(&a.id)) {
            let Some((meta, bytes)) = store.attachment(key, a.id).await? else {
                continue;
            };
            let uploaded = self
                .client
                .upload(
                    table,
                    sys_id,
                    &SnAttachment {
                        file_name: meta.filename.clone(),
                        content_type: meta.mime_type.clone(),
                        bytes,
                    },
                )
                .await?;
            self.note_own_attachment(table, &uploaded).await;
            store
                .set_mirror_link(MirrorLink {
                    tracker: tracker.clone(),
                    kind: MirrorKind::Attachment,
                    external_id: uploaded.sys_id,
                    item: key.clone(),
                    local_id: a.id,
                })
                .await?;
        }
        let present: BTreeSet<i64> = item.attachments.iter().map(|a| a.id).collect();
        for l in links
            .iter()
            .filter(|l| l.kind == MirrorKind::Attachment && !present.contains(&l.local_id))
        {
            self.client.delete_attachment(&l.external_id).await?;
            store
                .delete_mirror_link(&tracker, MirrorKind::Attachment, &l.external_id)
                .await?;
        }
        Ok(())
    }
}

/// The local ids (comments or attachments) that links of this kind point to.
fn linked_ids(links: &[MirrorLink], kind: MirrorKind) -> BTreeSet<i64> {
    links
        .iter()
        .filter(|l| l.kind == kind)
        .map(|l| l.local_id)
        .collect()
}

/// A batch's poll state, keeping the own writes noted (by pushes) while the batch was pulled.
fn with_own_writes(mut next: PollState, current: &PollState) -> PollState {
    for (id, counts) in &current.own {
        let read = next.seen.get(id).map_or(-1, |s| s.mod_count);
        let entry = next.own.entry(id.clone()).or_default();
        for c in counts {
            if !entry.contains(c) && *c > read {
                entry.push(*c);
            }
        }
        if entry.is_empty() {
            next.own.remove(id);
        }
    }
    next
}

/// Asks the bridge to write a mirror item to ServiceNow again (Resolve and retry of a refused
/// write); `false` when the item mirrors no ServiceNow record on this node.
pub async fn retry_push(state: &AppState, key: &ItemKey) -> Result<bool, StoreError> {
    let crate::sync::item_json::View::ServiceNow(tables) = state.view() else {
        return Ok(false);
    };
    if tables.table_of(&key.project).is_none() {
        return Ok(false);
    }
    let guard = state.bridge_retries_lock().await;
    let mut asked = retries(state).await?;
    if !asked.contains(key) {
        asked.push(key.clone());
        save_retries(state, &asked).await?;
    }
    drop(guard);
    state.wake_bridge();
    Ok(true)
}

async fn retries(state: &AppState) -> Result<Vec<ItemKey>, StoreError> {
    let text = state.store().setting(PUSH_RETRIES).await?;
    Ok(text
        .and_then(|t| serde_json::from_str::<Vec<String>>(&t).ok())
        .unwrap_or_default()
        .iter()
        .filter_map(|k| k.parse().ok())
        .collect())
}

async fn save_retries(state: &AppState, keys: &[ItemKey]) -> Result<(), StoreError> {
    let text: Vec<String> = keys.iter().map(ToString::to_string).collect();
    state
        .store()
        .set_setting(PUSH_RETRIES, &json!(text).to_string())
        .await
}

/// Drops the keys a push round has dealt with, keeping any asked for meanwhile.
async fn forget_retries(state: &AppState, done: &[ItemKey]) -> Result<(), StoreError> {
    if done.is_empty() {
        return Ok(());
    }
    let _guard = state.bridge_retries_lock().await;
    let mut asked = retries(state).await?;
    asked.retain(|k| !done.contains(k));
    save_retries(state, &asked).await
}

/// Runs the bridge of the ServiceNow instance the node serves until the node stops, and starts
/// it again whenever an admin saves other settings (or, on a node that served the built-in
/// tracker, the first ones): the running round ends where it is, as at a stop, and the new
/// bridge takes up from the stored poll state.
pub async fn supervise(state: AppState, cancel: CancellationToken) {
    let mut served = state.watch_served();
    loop {
        let config = served.borrow_and_update().servicenow.clone();
        let round = cancel.child_token();
        // Ends only when the round is cancelled: by the node's stop or by a change below.
        let bridge = async {
            if let Some(config) = config {
                run(state.clone(), config, round.clone()).await;
            }
            round.cancelled().await;
        };
        tokio::pin!(bridge);
        tokio::select! {
            () = &mut bridge => return, // the node stops
            changed = served.changed() => {
                round.cancel();
                bridge.await;
                if changed.is_err() || cancel.is_cancelled() {
                    return;
                }
                info!("The ServiceNow settings changed: the bridge starts again with them.");
            }
        }
    }
}

/// Sync errors the bridge records when it cannot poll the instance start with this.
pub const POLL_ERROR: &str = "ServiceNow: ";

/// While polling the instance fails, one node-impact sync error says so (its message kept up to
/// date); a poll that succeeds resolves it.
#[derive(Default)]
struct PollHealth {
    error_id: Option<i64>,
    since: Option<jiff::Timestamp>,
    failures: u32,
}

impl PollHealth {
    /// After a restart: the polling error still open is this run's to update or resolve.
    async fn adopt(state: &AppState) -> PollHealth {
        let mut health = PollHealth::default();
        if let Ok(errors) = state.store().sync_errors(false, 1000).await
            && let Some(open) = errors
                .into_iter()
                .find(|e| e.impact == Impact::Node && e.message.starts_with(POLL_ERROR))
        {
            health.error_id = Some(open.id);
            health.since = Some(open.at);
        }
        health
    }

    async fn failed(&mut self, state: &AppState, instance: &str, every: Duration, error: &str) {
        let now = jiff::Timestamp::now();
        let since = *self.since.get_or_insert(now);
        self.failures += 1;
        let message = format!(
            "{POLL_ERROR}polling {instance} fails since {} ({} polls): {error}. No change \
             comes from or goes to ServiceNow meanwhile; the bridge tries again every {} s, \
             Resolve and retry polls now.",
            jiff::Timestamp::from_second(since.as_second()).unwrap_or(since),
            self.failures,
            every.as_secs().max(1),
        );
        let store = state.store();
        if let Some(id) = self.error_id {
            match store.set_sync_error_message(id, &message).await {
                Ok(e) if e.resolved.is_none() => return,
                Ok(_) | Err(StoreError::NotFound { .. }) => {}
                Err(e) => {
                    warn!(error = %e, "A polling error could not be updated.");
                    return;
                }
            }
        }
        match store
            .record_sync_error(NewSyncError {
                impact: Impact::Node,
                connection_id: None,
                local_key: None,
                remote_key: None,
                request_id: None,
                message,
                script_trace: None,
                remote_error: None,
            })
            .await
        {
            Ok(recorded) => {
                self.error_id = Some(recorded.id);
                crate::sync::engine::notify_webhook(state, None, &recorded);
            }
            Err(e) => warn!(error = %e, "A polling error could not be recorded."),
        }
    }

    async fn succeeded(&mut self, state: &AppState) {
        self.since = None;
        self.failures = 0;
        if let Some(id) = self.error_id.take() {
            match state.store().resolve_sync_error(id).await {
                Ok(_) => info!("Polling ServiceNow works again; its sync error is resolved."),
                Err(e) => warn!(error = %e, "A polling error could not be resolved."),
            }
        }
    }
}

/// Runs the bridge until the node stops: a pull every poll interval, pushes in between.
pub async fn run(state: AppState, config: ServiceNowConfig, cancel: CancellationToken) {
    let poll_interval = config.poll_interval;
    let instance = config.instance_url.clone();
    let Some(bridge) = Bridge::new(state.clone(), config) else {
        return;
    };
    state.set_bridge_status(|s| *s = BridgeStatus::default());
    state.metrics().bridge_started();
    let mut health = PollHealth::adopt(&state).await;
    let mut prepared = false;
    let mut next_poll = Instant::now();
    let mut polls = 0u32;
    let mut backoff = crate::storage::Backoff::default();
    loop {
        // A storage fault met in the round: the next waits (it would fail alike), and says so
        // once a minute rather than every round.
        let mut storage_fault: Option<BridgeError> = None;
        // A stop ends a round where it is, as a crash would: what was handed over is committed,
        // and the poll state only moves after that, so the next start takes up from there.
        let round = async {
            if !prepared {
                match bridge.prepare().await {
                    Ok(()) => prepared = true,
                    Err(e) => {
                        warn!(error = %e, "The ServiceNow mirror cannot be prepared; trying again.");
                        state.set_bridge_status(|s| s.last_error = Some(e.to_string()));
                        health
                            .failed(&state, &instance, poll_interval, &e.to_string())
                            .await;
                    }
                }
            }
            if prepared {
                // Push first, so a pull meets few mirror changes not yet written (the three-way
                // merge keeps those that it does meet); a failing push does not hold the pull up.
                match bridge.push().await {
                    Ok(n) => state.set_bridge_status(|s| s.pushed += n),
                    Err(e) if e.is_storage_fault() => {
                        state.set_bridge_status(|s| s.last_error = Some(e.to_string()));
                        storage_fault = Some(e);
                    }
                    Err(e) => {
                        debug!(error = %e, "A push to ServiceNow failed; trying again.");
                        state.set_bridge_status(|s| s.last_error = Some(e.to_string()));
                    }
                }
                if storage_fault.is_none()
                    && (state.take_bridge_poll_request() || Instant::now() >= next_poll)
                {
                    next_poll = Instant::now() + poll_interval;
                    match bridge.pull().await {
                        Ok(n) => {
                            health.succeeded(&state).await;
                            state.set_bridge_status(|s| {
                                s.last_poll = Some(jiff::Timestamp::now());
                                s.last_error = None;
                                s.pulled += n;
                            });
                            polls += 1;
                            if polls.is_multiple_of(POLLS_PER_SWEEP) {
                                match bridge.sweep_attachments().await {
                                    Ok(0) => {}
                                    Ok(n) => debug!(
                                        removed = n,
                                        "Swept attachments deleted in ServiceNow."
                                    ),
                                    Err(e) => {
                                        warn!(error = %e, "Looking for attachments deleted in ServiceNow failed; trying again later.");
                                        state.set_bridge_status(|s| {
                                            s.last_error = Some(e.to_string())
                                        });
                                    }
                                }
                            }
                        }
                        Err(e) if e.is_storage_fault() => {
                            state.set_bridge_status(|s| s.last_error = Some(e.to_string()));
                            storage_fault = Some(e);
                        }
                        Err(e) => {
                            warn!(error = %e, "Syncing with ServiceNow failed; trying again at the next poll.");
                            state.set_bridge_status(|s| s.last_error = Some(e.to_string()));
                            health
                                .failed(&state, &instance, poll_interval, &e.to_string())
                                .await;
                        }
                    }
                }
                let requests = bridge.client().requests_sent();
                state.set_bridge_status(|s| s.requests = requests);
            }
        };
        tokio::select! {
            () = cancel.cancelled() => return,
            () = round => {}
        }
        let pause = match &storage_fault {
            Some(e) => {
                let pause = backoff.failed();
                crate::storage::report(&state, "ServiceNow bridge", e, pause);
                pause
            }
            None => {
                backoff.succeeded();
                PUSH_EVERY
            }
        };
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(pause) => {}
            // The sync engine applied a change: push it now.
            () = state.bridge_woken() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_writes_noted_during_a_pull_survive_its_state() {
        let mut current = PollState::default();
        current.own.insert("a".into(), vec![3]);
        current.own.insert("b".into(), vec![1]);
        let mut next = PollState::default();
        next.seen.insert(
            "b".into(),
            tandem_connectors::servicenow::Seen {
                mod_count: 1,
                updated_on: "2025-01-01 00:00:00".into(),
            },
        );
        let merged = with_own_writes(next, &current);
        assert_eq!(merged.own.get("a"), Some(&vec![3]));
        assert_eq!(merged.own.get("b"), None, "already read back");
    }

    #[test]
    fn tracker_ids_and_settings_name_the_table() {
        assert_eq!(tracker_id("incident"), "servicenow:incident");
        assert_eq!(poll_setting("problem"), "servicenow.poll.problem");
    }
}
