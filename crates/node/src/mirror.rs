//! The mirror: keeps the items of a mirrored tracker's projects (one store project per synced
//! collection, see [`tandem_connectors::Mapping`]) and the tracker's records in step, over the
//! [`Tracker`] seam, so every connector gets the same guarantees from this one piece of code.
//!
//! - **Pull**: every poll interval, the changed records of each collection (the connector's
//!   change feed) are brought into the mirror with their comments and attachments, by an actor
//!   named `<Tracker>/<user>`. The sync engine then treats them as local changes.
//! - **Push**: changes made to mirror items by anyone else (the sync engine applying a remote
//!   change, an admin) are read from the item event log — a durable outbox with a stored
//!   cursor — and written to the tracker: a new record (found again by its correlation if an
//!   earlier try got as far as creating it), the fields that changed, new comments, new and
//!   removed attachments.
//! - **Three-way merge**: for each record the mirror keeps the fields as last agreed with the
//!   tracker (the snapshot). A pull takes only the fields the tracker changed since; a push
//!   writes only the fields changed in the mirror since. Neither side's concurrent edit of
//!   another field is overwritten.
//! - The mirror's own writes are recognised when read back (the connector notes them in its
//!   change feed) and not pulled again; its actor name keeps the push from writing back what
//!   the pull brought.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt, TryStreamExt};
use serde_json::json;
use tandem_connectors::{
    Collections, ErrorKind, Feed, Mapping, NewFile, RemoteAttachment, RemoteComment, RemoteRecord,
    Tracker, TrackerError, TrackerKind,
};
use tandem_model::{
    Actor, CustomFields, Impact, ItemKey, MirrorKind, MirrorLink, NewAttachment, NewComment,
    NewProject, NewSyncError, Person, TrackerEvent,
};
use tandem_store::StoreError;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::state::AppState;
use crate::sync::item_json::View;

/// How often the push looks for mirror changes between polls when nothing wakes it (the sync
/// engine does after each change it applies; an admin's edit waits for this).
const PUSH_EVERY: Duration = Duration::from_millis(200);
/// Records per change-feed page (the connector reads them whole).
pub const PAGE: u32 = 500;
/// Records pulled into the mirror at once.
const PULL_CONCURRENCY: usize = 32;
/// Items pushed to the tracker at once.
const PUSH_CONCURRENCY: usize = 8;
/// Attachment links checked per request when looking for attachments deleted in the tracker.
const SWEEP_BATCH: u32 = 100;
/// Polls between two such sweeps.
const POLLS_PER_SWEEP: u32 = 6;
/// Events read per push round.
const PUSH_BATCH: u32 = 500;

/// Actor names of the mirror's writes start with this; the push skips them.
pub fn actor_prefix(kind: TrackerKind) -> String {
    format!("{kind}/")
}

/// The tracker id of a collection's mirror links (`servicenow:incident`).
pub fn tracker_id(kind: TrackerKind, collection: &str) -> String {
    format!("{}:{collection}", kind.id())
}

fn poll_setting(kind: TrackerKind, collection: &str) -> String {
    format!("{}.poll.{collection}", kind.id())
}

fn attachment_poll_setting(kind: TrackerKind, collection: &str) -> String {
    format!("{}.poll_attachments.{collection}", kind.id())
}

/// Where the push is in the item event log.
fn push_cursor(kind: TrackerKind) -> String {
    format!("{}.push_after", kind.id())
}

/// Items whose refused write an admin asked to retry (Resolve and retry), as a JSON list of
/// keys: kept in the store so that a restart before the next push round loses none.
fn push_retries_setting(kind: TrackerKind) -> String {
    format!("{}.push_retry", kind.id())
}

#[derive(Debug, thiserror::Error)]
pub enum MirrorError {
    #[error(transparent)]
    Tracker(#[from] TrackerError),
    #[error("the mirror could not be updated: {0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Mirror(String),
    #[error(
        "its record {id} in {collection} was deleted in {tracker}. Resolve and retry creates the record again (with the item's comments and attachments); to stop syncing the item instead, Unexalate it"
    )]
    Deleted {
        tracker: TrackerKind,
        collection: String,
        id: String,
    },
}

impl MirrorError {
    /// The disk under this node's database failed (full, read-only, I/O error).
    fn is_storage_fault(&self) -> bool {
        matches!(self, MirrorError::Store(e) if e.is_storage_fault())
    }

    /// Worth trying again later as it is (the tracker was down or busy, the database locked).
    fn is_transient(&self) -> bool {
        match self {
            MirrorError::Tracker(e) => e.is_transient(),
            MirrorError::Store(_) => true,
            MirrorError::Mirror(_) | MirrorError::Deleted { .. } => false,
        }
    }
}

/// What the General settings page shows of the mirror.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MirrorStatus {
    pub last_poll: Option<jiff::Timestamp>,
    pub last_error: Option<String>,
    pub pulled: u64,
    pub pushed: u64,
    pub requests: u64,
}

/// What a mirror is of: the tracker, where it is (for project descriptions and messages),
/// and how often it is polled.
#[derive(Clone)]
pub struct Mirrored {
    pub tracker: Arc<dyn Tracker>,
    /// The tracker's address (the ServiceNow instance, the Jira site).
    pub origin: String,
    pub poll_interval: Duration,
}

pub struct Mirror {
    state: AppState,
    tracker: Arc<dyn Tracker>,
    kind: TrackerKind,
    view: View,
    origin: String,
    /// The tracker's user was refused reading attachments (an ACL): said once as a warning,
    /// then only in the debug log, while records and comments keep syncing.
    attachments_refused: std::sync::atomic::AtomicBool,
}

/// Whether a read failed because the tracker's user may not read attachments (an ACL).
fn attachments_refused(e: &TrackerError) -> bool {
    e.kind == ErrorKind::Forbidden
}

impl Mirror {
    /// A mirror of `mirrored`; `None` when the node's schema mirrors no collections.
    pub fn new(state: AppState, mirrored: Mirrored) -> Option<Self> {
        let view = state.view();
        view.mapping()?;
        view.collections()?;
        Some(Self {
            kind: mirrored.tracker.kind(),
            tracker: mirrored.tracker,
            origin: mirrored.origin,
            view,
            state,
            attachments_refused: std::sync::atomic::AtomicBool::new(false),
        })
    }

    fn mapping(&self) -> &dyn Mapping {
        self.view
            .mapping()
            .expect("checked when the mirror was made")
    }

    fn collections(&self) -> &Collections {
        self.view
            .collections()
            .expect("checked when the mirror was made")
    }

    fn link_tracker(&self, collection: &str) -> String {
        tracker_id(self.kind, collection)
    }

    /// Notes that attachments cannot be read; the pull goes on without them.
    fn skip_attachments(&self, collection: &str, e: &TrackerError) {
        if self
            .attachments_refused
            .swap(true, std::sync::atomic::Ordering::Relaxed)
        {
            debug!(collection, error = %e, "Attachments still cannot be read; skipped.");
        } else {
            warn!(collection, user = %self.tracker.user(), error = %e, "The tracker's user may not read attachments ({} refused it): records and comments sync without attachments until its permissions allow it.", self.kind);
        }
    }

    pub fn tracker(&self) -> &Arc<dyn Tracker> {
        &self.tracker
    }

    fn actor(&self, user: &str) -> Actor {
        Actor {
            name: format!(
                "{}{}",
                actor_prefix(self.kind),
                if user.is_empty() { "unknown" } else { user }
            ),
            via_sync: None,
        }
    }

    /// The mirror projects exist and the change feeds start where they stopped.
    pub async fn prepare(&self) -> Result<(), MirrorError> {
        let store = self.state.store();
        for (collection, key) in self.collections().iter() {
            if store.project(key).await?.is_none() {
                let created = store
                    .create_project(NewProject {
                        key: key.clone(),
                        name: format!("{} {collection}", self.kind),
                        description: format!("Mirror of {collection} of {}", self.origin),
                    })
                    .await;
                match created {
                    Ok(_) | Err(StoreError::AlreadyExists(_)) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        for (collection, _) in self.collections().iter() {
            let saved = store.setting(&poll_setting(self.kind, collection)).await?;
            self.tracker
                .resume(collection, Feed::Records, saved.as_deref());
            if self.tracker.capabilities().attachment_feed {
                let saved = store
                    .setting(&attachment_poll_setting(self.kind, collection))
                    .await?;
                self.tracker
                    .resume(collection, Feed::Attachments, saved.as_deref());
            }
        }
        Ok(())
    }

    /// Pulls every collection's changes into the mirror; returns how many records were
    /// brought in.
    pub async fn pull(&self) -> Result<u64, MirrorError> {
        let mut pulled = 0;
        let collections: Vec<String> = self
            .collections()
            .iter()
            .map(|(c, _)| c.to_owned())
            .collect();
        for collection in &collections {
            loop {
                let changes = self.tracker.changes(collection, Feed::Records).await?;
                pulled += changes.records.len() as u64;
                self.pull_records(collection, &changes.records).await?;
                let saved = self
                    .tracker
                    .advance(collection, Feed::Records, changes.next);
                self.state
                    .store()
                    .set_setting(&poll_setting(self.kind, collection), &saved)
                    .await?;
                if !changes.more {
                    break;
                }
            }
            if !self.tracker.capabilities().attachment_feed {
                continue;
            }
            loop {
                let changes = match self.tracker.changes(collection, Feed::Attachments).await {
                    Ok(changes) => changes,
                    Err(e) if attachments_refused(&e) => {
                        // The feed stays where it is: once readable, nothing is missed.
                        self.skip_attachments(collection, &e);
                        break;
                    }
                    Err(e) => return Err(e.into()),
                };
                let mut by_record: HashMap<String, Vec<RemoteAttachment>> = HashMap::new();
                for a in &changes.attachments {
                    by_record
                        .entry(a.record.clone())
                        .or_default()
                        .push(a.clone());
                }
                for (record, files) in by_record {
                    self.pull_new_attachments(collection, &record, &files)
                        .await?;
                }
                let saved = self
                    .tracker
                    .advance(collection, Feed::Attachments, changes.next);
                self.state
                    .store()
                    .set_setting(&attachment_poll_setting(self.kind, collection), &saved)
                    .await?;
                if !changes.more {
                    break;
                }
            }
        }
        Ok(pulled)
    }

    /// Removes from the mirror the attachments deleted in the tracker, which no poll sees (the
    /// attachment feed finds new files; a record's pull reconciles its files only when the
    /// record itself changes). Returns how many were removed. Costs one request per
    /// [`SWEEP_BATCH`] mirrored attachments.
    pub async fn sweep_attachments(&self) -> Result<u64, MirrorError> {
        let store = self.state.store();
        let mut removed = 0;
        for (table, _) in self.collections().iter() {
            let tracker = self.link_tracker(table);
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
                let present = match self.tracker.attachments_present(&ids).await {
                    Ok(present) => present,
                    Err(e) if attachments_refused(&e) => {
                        self.skip_attachments(table, &e);
                        break;
                    }
                    Err(e) => return Err(e.into()),
                };
                let actor = self.actor(self.tracker.user());
                for link in links.iter().filter(|l| !present.contains(&l.external_id)) {
                    self.remove_deleted_attachment(link, &actor).await?;
                    info!(item = %link.item, attachment = %link.external_id, tracker = %self.kind, "An attachment deleted in the tracker left the mirror.");
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }

    /// Removes from the mirror an attachment deleted in the tracker, and its link.
    async fn remove_deleted_attachment(
        &self,
        link: &MirrorLink,
        actor: &Actor,
    ) -> Result<(), MirrorError> {
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

    async fn pull_records(
        &self,
        collection: &str,
        records: &[RemoteRecord],
    ) -> Result<(), MirrorError> {
        if records.is_empty() {
            return Ok(());
        }
        let ids: Vec<&str> = records.iter().map(|r| r.id.as_str()).collect();
        let comments = self.tracker.comments(collection, &ids).await?;
        // `None`: the files cannot be read, so the mirror's attachments are left as they are.
        let files = match self.tracker.attachments(collection, &ids).await {
            Ok(files) => Some(files),
            Err(e) if attachments_refused(&e) => {
                self.skip_attachments(collection, &e);
                None
            }
            Err(e) => return Err(e.into()),
        };
        let mut files_of: HashMap<&str, Vec<&RemoteAttachment>> = HashMap::new();
        for f in files.iter().flatten() {
            files_of.entry(f.record.as_str()).or_default().push(f);
        }
        let (none, no_comments) = (Vec::new(), Vec::new());
        // Records side by side: their writes share the store's commits.
        stream::iter(records.iter().map(Ok))
            .try_for_each_concurrent(PULL_CONCURRENCY, |record| {
                let id = record.id.as_str();
                self.pull_record(
                    collection,
                    record,
                    comments.get(id).unwrap_or(&no_comments),
                    files
                        .is_some()
                        .then(|| files_of.get(id).unwrap_or(&none).as_slice()),
                )
            })
            .await
    }

    /// The fields last agreed with the tracker for a record (kept with its mirror link).
    async fn snapshot(
        &self,
        collection: &str,
        id: &str,
    ) -> Result<Option<CustomFields>, MirrorError> {
        Ok(self
            .state
            .store()
            .mirror_snapshot(&self.link_tracker(collection), id)
            .await?
            .and_then(|s| serde_json::from_str(&s).ok()))
    }

    async fn set_snapshot(
        &self,
        collection: &str,
        record: &RemoteRecord,
    ) -> Result<(), MirrorError> {
        let fields = self.mapping().snapshot(record);
        let text = serde_json::to_string(&fields).unwrap_or_default();
        self.state
            .store()
            .set_mirror_snapshot(&self.link_tracker(collection), &record.id, &text)
            .await?;
        Ok(())
    }

    /// Brings one record, its comments and its attachments (`None` when they cannot be read)
    /// into the mirror.
    async fn pull_record(
        &self,
        table: &str,
        record: &RemoteRecord,
        journal: &[RemoteComment],
        files: Option<&[&RemoteAttachment]>,
    ) -> Result<(), MirrorError> {
        let store = self.state.store();
        let tracker = self.link_tracker(table);
        let sys_id = record.id.as_str();
        let actor = self.actor(&record.updated_by);
        let project = self
            .collections()
            .project_of(table)
            .ok_or_else(|| MirrorError::Mirror(format!("no project mirrors {table}")))?;
        let key = match store
            .mirror_link(&tracker, MirrorKind::Record, sys_id)
            .await?
        {
            None => {
                let (item, _) = store
                    .create_mirrored_item(
                        &tracker,
                        sys_id,
                        self.mapping().new_item(record, project),
                        &actor,
                    )
                    .await?;
                item.key
            }
            Some(link) => {
                let item = store.item(&link.item).await?.ok_or_else(|| {
                    MirrorError::Mirror(format!("the mirror item {} is gone", link.item))
                })?;
                let base = self.snapshot(table, sys_id).await?;
                let patch = self.mapping().pull_patch(&item, record, base.as_ref());
                if patch != tandem_model::ItemPatch::default() {
                    store.update_item(&item.key, patch, &actor).await?;
                }
                item.key
            }
        };
        self.set_snapshot(table, record).await?;
        // Comments of the mirror that no tracker comment is linked to yet: a push may have
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
                .position(|c| c.internal == entry.internal && c.body.trim() == entry.body.trim())
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
                        body: entry.body.clone(),
                        internal: entry.internal,
                        origin: None,
                    },
                    &self.actor(&entry.author),
                )
                .await?;
        }
        let Some(files) = files else {
            return Ok(());
        };
        let owned: Vec<RemoteAttachment> = files.iter().map(|f| (*f).clone()).collect();
        self.pull_new_attachments(table, sys_id, &owned).await?;
        // Attachments deleted in the tracker leave the mirror too.
        let present: BTreeSet<&str> = files.iter().map(|f| f.id.as_str()).collect();
        for link in store.mirror_links_of_item(&tracker, &key).await? {
            if link.kind == MirrorKind::Attachment && !present.contains(link.external_id.as_str()) {
                self.remove_deleted_attachment(&link, &actor).await?;
            }
        }
        Ok(())
    }

    /// The mirror item's comments and attachments that no comment or attachment of the
    /// tracker is linked to yet (none when the item is gone).
    async fn unlinked(
        &self,
        tracker: &str,
        key: &ItemKey,
    ) -> Result<(Vec<tandem_model::Comment>, Vec<tandem_model::Attachment>), MirrorError> {
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
        files: &[RemoteAttachment],
    ) -> Result<(), MirrorError> {
        let store = self.state.store();
        let tracker = self.link_tracker(table);
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
                .mirror_link(&tracker, MirrorKind::Attachment, &f.id)
                .await?
                .is_some()
            {
                continue;
            }
            if let Some(i) = unwritten.iter().position(|a| {
                a.filename == f.file_name && !f.sha256.is_empty() && a.sha256 == f.sha256
            }) {
                // An upload of the push that stopped before its link was kept.
                let local = unwritten.remove(i);
                store
                    .set_mirror_link(MirrorLink {
                        tracker: tracker.clone(),
                        kind: MirrorKind::Attachment,
                        external_id: f.id.clone(),
                        item: record.item.clone(),
                        local_id: local.id,
                    })
                    .await?;
                continue;
            }
            let bytes = self.tracker.download(f).await?;
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
                    &f.id,
                    file,
                    &self.actor(&f.created_by),
                )
                .await
            {
                Ok(_) => {}
                Err(StoreError::Invalid(e)) => {
                    warn!(file = %f.file_name, record = sys_id, tracker = %self.kind, error = %e, "An attachment of the tracker cannot be mirrored.");
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Writes the mirror's new changes to the tracker, and the items an admin asked to retry;
    /// returns how many items were pushed.
    pub async fn push(&self) -> Result<u64, MirrorError> {
        let retried = self.push_retries().await?;
        let store = self.state.store();
        let cursor = push_cursor(self.kind);
        let after: i64 = store
            .setting(&cursor)
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
                let table = self.collections().collection_of(&key.project)?.to_owned();
                Some((key, seq, table))
            })
            .collect();
        let outcomes: Vec<(ItemKey, i64, Result<(), MirrorError>)> = stream::iter(work)
            .map(|(key, seq, table)| self.push_one(key, seq, table))
            .buffer_unordered(PUSH_CONCURRENCY)
            .collect()
            .await;
        let mut pushed = retried;
        let mut retry_from: Option<(i64, MirrorError)> = None;
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
                .set_setting(&cursor, &(seq - 1).max(after).to_string())
                .await?;
            return Err(e);
        }
        store.set_setting(&cursor, &last.to_string()).await?;
        Ok(pushed)
    }

    /// Pushes the items an admin asked to retry; returns how many were written. One that fails
    /// for a passing reason stays asked for; one refused again is a new item error.
    async fn push_retries(&self) -> Result<u64, MirrorError> {
        let asked = retries(&self.state, self.kind).await?;
        if asked.is_empty() {
            return Ok(0);
        }
        let mut done = Vec::new();
        let mut pushed = 0;
        let mut failure = None;
        for key in asked {
            let Some(table) = self
                .collections()
                .collection_of(&key.project)
                .map(str::to_owned)
            else {
                done.push(key);
                continue;
            };
            let mut result = self.push_item(&table, &key).await;
            if let Err(MirrorError::Deleted { id, .. }) = &result {
                // The admin asks for the record again: forget the deleted one, so the push
                // creates a new record with everything the item holds.
                self.forget_record(&table, &key, id).await?;
                result = self.push_item(&table, &key).await;
            }
            match result {
                Ok(()) => {
                    info!(item = %key, tracker = %self.kind, "Wrote an item to the tracker again, as an admin asked.");
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
        forget_retries(&self.state, self.kind, &done).await?;
        match failure {
            Some(e) => Err(e),
            None => Ok(pushed),
        }
    }

    /// Drops the item's links to a record deleted in the tracker, and to its comments and
    /// attachments.
    async fn forget_record(
        &self,
        table: &str,
        key: &ItemKey,
        sys_id: &str,
    ) -> Result<(), MirrorError> {
        let store = self.state.store();
        let tracker = self.link_tracker(table);
        for link in store.mirror_links_of_item(&tracker, key).await? {
            store
                .delete_mirror_link(&tracker, link.kind, &link.external_id)
                .await?;
        }
        info!(item = %key, record = sys_id, tracker = %self.kind, "Forgot a record deleted in the tracker; the item makes a new one.");
        Ok(())
    }

    /// Records the tracker's refusal of an item's write as an error of that item.
    async fn refused(&self, key: &ItemKey, e: &MirrorError) -> Result<(), MirrorError> {
        warn!(item = %key, tracker = %self.kind, error = %e, "The tracker refused a change of a mirrored record.");
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
                    MirrorError::Deleted { .. } => {
                        format!("{key} cannot be written to {}: {e}.", self.kind)
                    }
                    _ => format!(
                        "{tracker} refused the change of {key}: {e}. Once the cause is fixed \
                         (in {tracker}, or in the incoming rules and then Sync again from the \
                         other side), Resolve and retry writes it again.",
                        tracker = self.kind
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
    ) -> (ItemKey, i64, Result<(), MirrorError>) {
        let result = self.push_item(&table, &key).await;
        (key, seq, result)
    }

    fn is_local_change(&self, e: &TrackerEvent) -> bool {
        !e.actor.starts_with(&actor_prefix(self.kind))
            && self.collections().collection_of(&e.item.project).is_some()
    }

    /// The correlation id a record created for a mirror item carries, so that a retry finds it.
    fn correlation(&self, key: &ItemKey) -> String {
        format!("tandem:{}:{key}", self.state.identity().id)
    }

    /// Makes the tracker match one mirror item: the record, its comments, its attachments. A
    /// write that finds the record gone is [`MirrorError::Deleted`].
    async fn push_item(&self, table: &str, key: &ItemKey) -> Result<(), MirrorError> {
        match self.push_item_once(table, key).await {
            Err(MirrorError::Tracker(e)) if e.kind == ErrorKind::NotFound => {
                let links = self
                    .state
                    .store()
                    .mirror_links_of_item(&self.link_tracker(table), key)
                    .await?;
                let Some(record) = links.iter().find(|l| l.kind == MirrorKind::Record) else {
                    return Err(e.into());
                };
                match self.tracker.record(table, &record.external_id).await? {
                    Some(_) => Err(e.into()),
                    None => Err(MirrorError::Deleted {
                        tracker: self.kind,
                        collection: table.to_owned(),
                        id: record.external_id.clone(),
                    }),
                }
            }
            other => other,
        }
    }

    async fn push_item_once(&self, table: &str, key: &ItemKey) -> Result<(), MirrorError> {
        let store = self.state.store();
        let tracker = self.link_tracker(table);
        let Some(item) = store.item(key).await? else {
            return Ok(());
        };
        let links = store.mirror_links_of_item(&tracker, key).await?;
        let proxy = self.actor(self.tracker.user());
        let (sys_id, written) = match links.iter().find(|l| l.kind == MirrorKind::Record) {
            None => {
                let correlation = self.correlation(key);
                let record = match self.tracker.find_correlated(table, &correlation).await? {
                    Some(r) => r,
                    None => {
                        let fields = self.mapping().record_fields(&item);
                        self.tracker.create(table, &fields, &correlation).await?
                    }
                };
                store
                    .set_mirror_link(MirrorLink {
                        tracker: tracker.clone(),
                        kind: MirrorKind::Record,
                        external_id: record.id.clone(),
                        item: key.clone(),
                        local_id: 0,
                    })
                    .await?;
                info!(item = %key, record = %record.id, tracker = %self.kind, "Created a record in the tracker for a mirror item.");
                (record.id.clone(), Some((record, None)))
            }
            Some(link) => {
                let base = self.snapshot(table, &link.external_id).await?;
                let changes = match &base {
                    Some(base) => self.mapping().local_changes(&item, base),
                    None => tandem_connectors::Fields::new(),
                };
                if changes.is_empty() {
                    (link.external_id.clone(), None)
                } else {
                    let record = self
                        .tracker
                        .update(table, &link.external_id, &changes)
                        .await?;
                    debug!(item = %key, fields = ?changes.keys().collect::<Vec<_>>(), "Wrote mirror changes to the tracker.");
                    (link.external_id.clone(), Some((record, base)))
                }
            }
        };
        if let Some((record, base)) = written {
            // The mirror takes what the tracker made of the write: the number, computed fields.
            let patch = self.mapping().pull_patch(&item, &record, base.as_ref());
            if patch != tandem_model::ItemPatch::default() {
                store.update_item(key, patch, &proxy).await?;
            }
            self.set_snapshot(table, &record).await?;
        }
        // The item as read above: a comment or file added since has its own event, pushed next.
        self.push_comments(table, &sys_id, &item, &links).await?;
        self.push_attachments(table, &sys_id, &item, &links).await?;
        Ok(())
    }

    async fn push_comments(
        &self,
        table: &str,
        sys_id: &str,
        item: &tandem_model::Item,
        links: &[MirrorLink],
    ) -> Result<(), MirrorError> {
        let store = self.state.store();
        let tracker = self.link_tracker(table);
        let key = &item.key;
        let linked = linked_ids(links, MirrorKind::Comment);
        let new: Vec<&tandem_model::Comment> = item
            .comments
            .iter()
            .filter(|c| !linked.contains(&c.id))
            .collect();
        if new.is_empty() {
            return Ok(());
        }
        let unlinked = async || -> Result<Vec<RemoteComment>, MirrorError> {
            let mut comments = self.tracker.comments(table, &[sys_id]).await?;
            let mut out = Vec::new();
            for c in comments.remove(sys_id).unwrap_or_default() {
                if store
                    .mirror_link(&tracker, MirrorKind::Comment, &c.id)
                    .await?
                    .is_none()
                {
                    out.push(c);
                }
            }
            Ok(out)
        };
        let link = async |comment: &tandem_model::Comment,
                          remote: &mut Vec<RemoteComment>|
               -> Result<bool, MirrorError> {
            let Some(i) = remote.iter().position(|c| {
                c.internal == comment.internal && c.body.trim() == comment.body.trim()
            }) else {
                return Ok(false);
            };
            let found = remote.remove(i);
            store
                .set_mirror_link(MirrorLink {
                    tracker: tracker.clone(),
                    kind: MirrorKind::Comment,
                    external_id: found.id,
                    item: key.clone(),
                    local_id: comment.id,
                })
                .await?;
            Ok(true)
        };
        // An earlier try may have written some before it stopped: link those instead.
        let mut remote = unlinked().await?;
        let mut written = Vec::new();
        for comment in new {
            if link(comment, &mut remote).await? {
                continue;
            }
            let made = self
                .tracker
                .add_comment(table, sys_id, &comment.body, comment.internal)
                .await?;
            match made {
                Some(made) => {
                    store
                        .set_mirror_link(MirrorLink {
                            tracker: tracker.clone(),
                            kind: MirrorKind::Comment,
                            external_id: made.id,
                            item: key.clone(),
                            local_id: comment.id,
                        })
                        .await?;
                }
                // Found in the record's comments below.
                None => written.push(comment),
            }
        }
        if !written.is_empty() {
            let mut remote = unlinked().await?;
            for comment in written {
                if !link(comment, &mut remote).await? {
                    warn!(item = %key, comment = comment.id, tracker = %self.kind, "A comment written to the tracker was not found there.");
                }
            }
        }
        Ok(())
    }

    async fn push_attachments(
        &self,
        table: &str,
        sys_id: &str,
        item: &tandem_model::Item,
        links: &[MirrorLink],
    ) -> Result<(), MirrorError> {
        let store = self.state.store();
        let tracker = self.link_tracker(table);
        let key = &item.key;
        let linked = linked_ids(links, MirrorKind::Attachment);
        for a in item.attachments.iter().filter(|a| !linked.contains(&a.id)) {
            let Some((meta, bytes)) = store.attachment(key, a.id).await? else {
                continue;
            };
            let uploaded = self
                .tracker
                .upload(
                    table,
                    sys_id,
                    NewFile {
                        file_name: meta.filename.clone(),
                        content_type: meta.mime_type.clone(),
                        bytes,
                    },
                )
                .await?;
            store
                .set_mirror_link(MirrorLink {
                    tracker: tracker.clone(),
                    kind: MirrorKind::Attachment,
                    external_id: uploaded.id,
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
            self.tracker
                .delete_attachment(table, sys_id, &l.external_id)
                .await?;
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

/// Asks the mirror to write a mirror item to the tracker again (Resolve and retry of a refused
/// write); `false` when the item mirrors no record on this node.
pub async fn retry_push(state: &AppState, key: &ItemKey) -> Result<bool, StoreError> {
    let view = state.view();
    let Some(collections) = view.collections() else {
        return Ok(false);
    };
    if collections.collection_of(&key.project).is_none() {
        return Ok(false);
    }
    let kind = view.kind();
    let guard = state.bridge_retries_lock().await;
    let mut asked = retries(state, kind).await?;
    if !asked.contains(key) {
        asked.push(key.clone());
        save_retries(state, kind, &asked).await?;
    }
    drop(guard);
    state.wake_bridge();
    Ok(true)
}

async fn retries(state: &AppState, kind: TrackerKind) -> Result<Vec<ItemKey>, StoreError> {
    let text = state.store().setting(&push_retries_setting(kind)).await?;
    Ok(text
        .and_then(|t| serde_json::from_str::<Vec<String>>(&t).ok())
        .unwrap_or_default()
        .iter()
        .filter_map(|k| k.parse().ok())
        .collect())
}

async fn save_retries(
    state: &AppState,
    kind: TrackerKind,
    keys: &[ItemKey],
) -> Result<(), StoreError> {
    let text: Vec<String> = keys.iter().map(ToString::to_string).collect();
    state
        .store()
        .set_setting(&push_retries_setting(kind), &json!(text).to_string())
        .await
}

/// Drops the keys a push round has dealt with, keeping any asked for meanwhile.
async fn forget_retries(
    state: &AppState,
    kind: TrackerKind,
    done: &[ItemKey],
) -> Result<(), StoreError> {
    if done.is_empty() {
        return Ok(());
    }
    let _guard = state.bridge_retries_lock().await;
    let mut asked = retries(state, kind).await?;
    asked.retain(|k| !done.contains(k));
    save_retries(state, kind, &asked).await
}

/// Runs the mirror of the tracker the node serves until the node stops, and starts it again
/// whenever an admin saves other settings (or, on a node that served the built-in tracker, the
/// first ones): the running round ends where it is, as at a stop, and the new mirror takes up
/// from the stored change-feed state.
pub async fn supervise(state: AppState, cancel: CancellationToken) {
    let mut served = state.watch_served();
    loop {
        let mirrored = served.borrow_and_update().mirrored.clone();
        let round = cancel.child_token();
        // Ends only when the round is cancelled: by the node's stop or by a change below.
        let bridge = async {
            if let Some(mirrored) = mirrored {
                run(state.clone(), mirrored, round.clone()).await;
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
                info!("The tracker settings changed: the mirror starts again with them.");
            }
        }
    }
}

/// Sync errors the mirror records when it cannot poll the tracker start with this
/// (`ServiceNow: `).
pub fn poll_error_prefix(kind: TrackerKind) -> String {
    format!("{kind}: ")
}

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
    async fn adopt(state: &AppState, kind: TrackerKind) -> PollHealth {
        let mut health = PollHealth::default();
        let prefix = poll_error_prefix(kind);
        if let Ok(errors) = state.store().sync_errors(false, 1000).await
            && let Some(open) = errors
                .into_iter()
                .find(|e| e.impact == Impact::Node && e.message.starts_with(&prefix))
        {
            health.error_id = Some(open.id);
            health.since = Some(open.at);
        }
        health
    }

    async fn failed(
        &mut self,
        state: &AppState,
        kind: TrackerKind,
        origin: &str,
        every: Duration,
        error: &str,
    ) {
        let now = jiff::Timestamp::now();
        let since = *self.since.get_or_insert(now);
        self.failures += 1;
        let message = format!(
            "{}polling {origin} fails since {} ({} polls): {error}. No change \
             comes from or goes to {kind} meanwhile; the node tries again every {} s, \
             Resolve and retry polls now.",
            poll_error_prefix(kind),
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
                Ok(_) => info!("Polling the tracker works again; its sync error is resolved."),
                Err(e) => warn!(error = %e, "A polling error could not be resolved."),
            }
        }
    }
}

/// Runs the mirror until the node stops: a pull every poll interval, pushes in between.
pub async fn run(state: AppState, mirrored: Mirrored, cancel: CancellationToken) {
    let poll_interval = mirrored.poll_interval;
    let instance = mirrored.origin.clone();
    let kind = mirrored.tracker.kind();
    let Some(bridge) = Mirror::new(state.clone(), mirrored) else {
        return;
    };
    state.set_bridge_status(|s| *s = MirrorStatus::default());
    state.metrics().bridge_started();
    let mut health = PollHealth::adopt(&state, kind).await;
    let mut prepared = false;
    let mut next_poll = Instant::now();
    let mut polls = 0u32;
    let mut backoff = crate::storage::Backoff::default();
    loop {
        // A storage fault met in the round: the next waits (it would fail alike), and says so
        // once a minute rather than every round.
        let mut storage_fault: Option<MirrorError> = None;
        // A stop ends a round where it is, as a crash would: what was handed over is committed,
        // and the poll state only moves after that, so the next start takes up from there.
        let round = async {
            if !prepared {
                match bridge.prepare().await {
                    Ok(()) => prepared = true,
                    Err(e) => {
                        warn!(error = %e, tracker = %kind, "The mirror cannot be prepared; trying again.");
                        state.set_bridge_status(|s| s.last_error = Some(e.to_string()));
                        health
                            .failed(&state, kind, &instance, poll_interval, &e.to_string())
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
                        debug!(error = %e, tracker = %kind, "A push to the tracker failed; trying again.");
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
                                        "Swept attachments deleted in the tracker."
                                    ),
                                    Err(e) => {
                                        warn!(error = %e, tracker = %kind, "Looking for attachments deleted in the tracker failed; trying again later.");
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
                            warn!(error = %e, tracker = %kind, "Syncing with the tracker failed; trying again at the next poll.");
                            state.set_bridge_status(|s| s.last_error = Some(e.to_string()));
                            health
                                .failed(&state, kind, &instance, poll_interval, &e.to_string())
                                .await;
                        }
                    }
                }
                let requests = bridge.tracker().requests_sent();
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
                crate::storage::report(&state, "the tracker's mirror", e, pause);
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
    fn stored_names_keep_the_tracker_and_the_collection() {
        // Stored with data: these names never change.
        let sn = TrackerKind::ServiceNow;
        assert_eq!(tracker_id(sn, "incident"), "servicenow:incident");
        assert_eq!(poll_setting(sn, "problem"), "servicenow.poll.problem");
        assert_eq!(
            attachment_poll_setting(sn, "problem"),
            "servicenow.poll_attachments.problem"
        );
        assert_eq!(push_cursor(sn), "servicenow.push_after");
        assert_eq!(push_retries_setting(sn), "servicenow.push_retry");
        assert_eq!(actor_prefix(sn), "ServiceNow/");
        assert_eq!(poll_error_prefix(sn), "ServiceNow: ");
    }
}
