//! [`Store`] for [`SqliteStore`]: validates input, then sends writes to the writer thread and
//! reads to the read pool. The SQL lives in the sibling modules.

use async_trait::async_trait;
use jiff::Timestamp;
use tandem_model::query::Query;
use tandem_model::{
    Actor, Attachment, Change, Comment, Connection, Item, ItemKey, ItemPatch, NewAttachment,
    NewComment, NewItem, NewProject, Person, Project, ProjectKey, TrackerEvent,
};
use tandem_model::{
    AttachmentLink, CommentLink, ConflictRecord, IncomingRequest, MirrorKind, MirrorLink,
    NewSyncError, RequestState, Scope, SyncError, Trigger, Twin, ValidationError,
};
use uuid::Uuid;

use super::sync::twins::{self, Child};
use super::sync::{jobs, records, requests};
use super::{SqliteStore, auth, comments, connections, items, metrics, mirror, now};
use crate::{
    AcceptanceRecord, Accounts, ApiToken, BulkJobs, Connections, Health, Items, Messages, Mirrors,
    NewSession, OutboundMessage, Page, Requests, Result, SearchResult, Session, Settings,
    StorageProblem, SyncGauges, SyncLog, TokenScope, Twins, User,
};
use tandem_model::{BulkJob, JobKind, JobProgress, JobState};

/// Attachments larger than this are hashed on the blocking pool rather than inline.
const HASH_INLINE_LIMIT: usize = 64 * 1024;

impl SqliteStore {
    async fn write<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&rusqlite::Connection) -> Result<T> + Send + 'static,
    {
        let result = self.writer.write(work).await;
        self.noted(result, true)
    }

    /// [`Self::write`] for a change of items: wakes whoever waits on `item_changed`.
    async fn write_item<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&rusqlite::Connection) -> Result<T> + Send + 'static,
    {
        let result = self.writer.write(work).await;
        if result.is_ok() {
            self.item_changes.notify_one();
        }
        self.noted(result, true)
    }

    /// Names the data directory in a storage fault and keeps [`Health::storage_problem`] up to
    /// date: set by a storage fault, cleared by a write that went through.
    fn noted<T>(&self, result: Result<T>, write: bool) -> Result<T> {
        let mut problem = self
            .problem
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match result {
            Ok(value) => {
                if write && let Some(gone) = problem.take() {
                    tracing::info!(fault = %gone.message, since = %gone.since, "The database takes writes again.");
                }
                Ok(value)
            }
            Err(e) => {
                let e = e.in_dir(&self.dir);
                // Every read and write passes here: each fault is counted once, whoever called
                // ([`Health::storage_faults`]).
                if metrics::is_storage_fault(&e) {
                    self.faults
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                if let Some(fault) = e.storage_fault()
                    && problem.is_none()
                {
                    tracing::error!(error = %e, "The database cannot write: the node retries by itself, with pauses, until it can.");
                    *problem = Some(StorageProblem {
                        fault,
                        message: e.to_string(),
                        since: Timestamp::now(),
                    });
                }
                Err(e)
            }
        }
    }

    /// [`Self::read`] for a lookup by key: runs on the calling thread (see `Readers::lookup`).
    async fn lookup<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut rusqlite::Connection) -> Result<T> + Send + 'static,
    {
        let result = self.readers.lookup(work).await;
        self.noted(result, false)
    }

    /// [`Self::write`] for a change of what decides a connection's reach: moves
    /// [`Connections::reach_version`] once it is committed.
    async fn write_reach<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&rusqlite::Connection) -> Result<T> + Send + 'static,
    {
        let result = self.writer.write(work).await;
        // Moved whatever the outcome: a write that failed after its commit (the answer lost)
        // must not leave a cache on the old version.
        self.reach_version
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        result
    }

    async fn read<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut rusqlite::Connection) -> Result<T> + Send + 'static,
    {
        let result = self.readers.read(work).await;
        self.noted(result, false)
    }
}

/// The SHA-256 of the attachment's bytes, computed before the write is queued so that the writer
/// never spends its time on it: inline for a small attachment, on the blocking pool otherwise.
async fn hashed(attachment: NewAttachment) -> Result<(NewAttachment, String)> {
    if attachment.bytes.len() <= HASH_INLINE_LIMIT {
        let sha256 = comments::sha256_hex(&attachment.bytes);
        return Ok((attachment, sha256));
    }
    tokio::task::spawn_blocking(move || {
        let sha256 = comments::sha256_hex(&attachment.bytes);
        (attachment, sha256)
    })
    .await
    .map_err(|e| crate::StoreError::Database(format!("hashing the attachment failed: {e}")))
}

/// A mirror link names its tracker object by a tracker and an id, neither of them empty.
fn check_mirror_ids(tracker: &str, external_id: &str) -> Result<(), ValidationError> {
    if tracker.trim().is_empty() {
        return Err(ValidationError::Empty { field: "tracker" });
    }
    if external_id.trim().is_empty() {
        return Err(ValidationError::Empty {
            field: "external id",
        });
    }
    Ok(())
}

#[async_trait]
impl Health for SqliteStore {
    async fn ping(&self) -> Result<()> {
        self.read(|conn| {
            conn.prepare_cached("SELECT 1")?
                .query_row([], |_| Ok(()))
                .map_err(Into::into)
        })
        .await
    }

    fn storage_faults(&self) -> u64 {
        self.faults.load(std::sync::atomic::Ordering::Relaxed)
    }

    async fn sync_gauges(&self) -> Result<SyncGauges> {
        self.read(metrics::sync_gauges).await
    }

    fn storage_problem(&self) -> Option<StorageProblem> {
        self.problem
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    async fn probe_storage(&self) -> Result<()> {
        let at = now().as_millisecond().to_string();
        self.write(move |conn| auth::set_setting(conn, "storage.probe", &at))
            .await
    }
}

#[async_trait]
impl Settings for SqliteStore {
    async fn setting(&self, key: &str) -> Result<Option<String>> {
        let key = key.to_owned();
        self.lookup(move |conn| auth::setting(conn, &key)).await
    }

    async fn set_setting(&self, key: &str, value: &str) -> Result<()> {
        let (key, value) = (key.to_owned(), value.to_owned());
        self.write(move |conn| auth::set_setting(conn, &key, &value))
            .await
    }

    async fn set_setting_if_absent(&self, key: &str, value: &str) -> Result<String> {
        let (key, value) = (key.to_owned(), value.to_owned());
        self.write(move |conn| auth::set_setting_if_absent(conn, &key, &value))
            .await
    }

    async fn delete_setting(&self, key: &str) -> Result<()> {
        let key = key.to_owned();
        self.write(move |conn| auth::delete_setting(conn, &key))
            .await
    }

    async fn take_setting(&self, key: &str, value: &str) -> Result<bool> {
        let (key, value) = (key.to_owned(), value.to_owned());
        self.write(move |conn| auth::take_setting(conn, &key, &value))
            .await
    }
}

#[async_trait]
impl Accounts for SqliteStore {
    async fn upsert_user(&self, username: &str, password_hash: &str) -> Result<User> {
        let (username, hash) = (username.to_owned(), password_hash.to_owned());
        self.write(move |conn| auth::upsert_user(conn, &username, &hash, now()))
            .await
    }

    async fn user_by_name(&self, username: &str) -> Result<Option<User>> {
        let username = username.to_owned();
        self.read(move |conn| auth::user_by_name(conn, &username))
            .await
    }

    async fn create_user(&self, username: &str, password_hash: &str) -> Result<User> {
        let (username, hash) = (username.to_owned(), password_hash.to_owned());
        self.write(move |conn| auth::create_user(conn, &username, &hash, now()))
            .await
    }

    async fn user_count(&self) -> Result<u64> {
        self.read(|conn| auth::user_count(conn)).await
    }

    async fn users(&self) -> Result<Vec<User>> {
        self.read(|conn| auth::users(conn)).await
    }

    async fn create_session(&self, session: NewSession) -> Result<()> {
        self.write(move |conn| auth::create_session(conn, &session, now()))
            .await
    }

    async fn session(&self, id_hash: &str, now: Timestamp) -> Result<Option<Session>> {
        let id_hash = id_hash.to_owned();
        self.read(move |conn| auth::session(conn, &id_hash, now))
            .await
    }

    async fn delete_session(&self, id_hash: &str) -> Result<()> {
        let id_hash = id_hash.to_owned();
        self.write(move |conn| auth::delete_session(conn, &id_hash))
            .await
    }

    async fn create_api_token(
        &self,
        name: &str,
        token_hash: &str,
        created_by: &str,
        scope: TokenScope,
    ) -> Result<ApiToken> {
        let (name, hash, by) = (
            name.to_owned(),
            token_hash.to_owned(),
            created_by.to_owned(),
        );
        self.write(move |conn| auth::create_api_token(conn, &name, &hash, &by, scope, now()))
            .await
    }

    async fn api_tokens(&self) -> Result<Vec<ApiToken>> {
        self.read(|conn| auth::api_tokens(conn)).await
    }

    /// `last_used` is kept to within `auth::LAST_USED_PRECISION`: a use soon after the last
    /// recorded one is a read only.
    async fn use_api_token(&self, token_hash: &str, now: Timestamp) -> Result<Option<ApiToken>> {
        let hash = token_hash.to_owned();
        let found = {
            let hash = hash.clone();
            self.read(move |conn| auth::live_token(conn, &hash)).await?
        };
        let Some(token) = found else {
            return Ok(None);
        };
        let fresh = token.last_used.is_some_and(|last| {
            last <= now && now.duration_since(last) < auth::LAST_USED_PRECISION
        });
        if fresh {
            return Ok(Some(token));
        }
        self.write(move |conn| auth::mark_token_used(conn, &hash, now))
            .await
    }

    async fn revoke_api_token(&self, id: i64) -> Result<()> {
        self.write(move |conn| auth::revoke_api_token(conn, id, now()))
            .await
    }
}

#[async_trait]
impl Items for SqliteStore {
    async fn create_project(&self, project: NewProject) -> Result<Project> {
        project.validate()?;
        self.write(move |conn| items::create_project(conn, &project, now()))
            .await
    }

    async fn projects(&self) -> Result<Vec<Project>> {
        self.read(|conn| items::projects(conn)).await
    }

    async fn project(&self, key: &ProjectKey) -> Result<Option<Project>> {
        let key = key.clone();
        self.lookup(move |conn| items::project(conn, &key)).await
    }

    async fn create_item(&self, item: NewItem, actor: &Actor) -> Result<Item> {
        item.validate()?;
        let actor = actor.clone();
        self.write_item(move |conn| items::create_item(conn, item, &actor, now()))
            .await
    }

    async fn item(&self, key: &ItemKey) -> Result<Option<Item>> {
        let key = key.clone();
        self.lookup(move |conn| {
            // One read transaction, so that the item and its children are of one version.
            let tx = conn.transaction()?;
            Ok(items::load_item(&tx, &key)?.map(|(_, item)| item))
        })
        .await
    }

    async fn update_item(&self, key: &ItemKey, patch: ItemPatch, actor: &Actor) -> Result<Item> {
        patch.validate()?;
        let (key, actor) = (key.clone(), actor.clone());
        self.write_item(move |conn| items::update_item(conn, &key, &patch, &actor, now()))
            .await
    }

    async fn search_items(
        &self,
        query: &Query,
        page: Page,
        now: Timestamp,
    ) -> Result<SearchResult> {
        let query = query.clone();
        self.read(move |conn| items::search(conn, &query, page, now))
            .await
    }

    async fn history(&self, key: &ItemKey) -> Result<Vec<Change>> {
        let key = key.clone();
        self.read(move |conn| items::history(conn, &key)).await
    }

    async fn add_comment(
        &self,
        key: &ItemKey,
        comment: NewComment,
        actor: &Actor,
    ) -> Result<Comment> {
        comment.validate()?;
        let (key, actor) = (key.clone(), actor.clone());
        self.write_item(move |conn| comments::add_comment(conn, &key, comment, &actor, now()))
            .await
    }

    async fn edit_comment(
        &self,
        key: &ItemKey,
        comment_id: i64,
        body: &str,
        actor: &Actor,
    ) -> Result<Comment> {
        // The body follows the rules of a new comment's.
        NewComment {
            author: Person::default(),
            body: body.to_owned(),
            internal: false,
            origin: None,
        }
        .validate()?;
        let (key, body, actor) = (key.clone(), body.to_owned(), actor.clone());
        self.write_item(move |conn| {
            comments::edit_comment(conn, &key, comment_id, &body, &actor, now())
        })
        .await
    }

    async fn delete_comment(&self, key: &ItemKey, comment_id: i64, actor: &Actor) -> Result<()> {
        let (key, actor) = (key.clone(), actor.clone());
        self.write_item(move |conn| comments::delete_comment(conn, &key, comment_id, &actor, now()))
            .await
    }

    async fn add_attachment(
        &self,
        key: &ItemKey,
        attachment: NewAttachment,
        actor: &Actor,
    ) -> Result<Attachment> {
        attachment.validate()?;
        let (attachment, sha256) = hashed(attachment).await?;
        let (key, actor) = (key.clone(), actor.clone());
        self.write_item(move |conn| {
            comments::add_attachment(conn, &key, attachment, sha256, &actor, now())
        })
        .await
    }

    async fn attachment(&self, key: &ItemKey, id: i64) -> Result<Option<(Attachment, Vec<u8>)>> {
        let key = key.clone();
        self.read(move |conn| comments::attachment(conn, &key, id))
            .await
    }

    async fn remove_attachment(&self, key: &ItemKey, id: i64, actor: &Actor) -> Result<()> {
        let (key, actor) = (key.clone(), actor.clone());
        self.write_item(move |conn| comments::remove_attachment(conn, &key, id, &actor, now()))
            .await
    }

    async fn item_changed(&self) {
        self.item_changes.notified().await;
    }

    async fn events_after(&self, after: i64, limit: u32) -> Result<Vec<TrackerEvent>> {
        self.read(move |conn| items::events_after(conn, after, limit))
            .await
    }
}

#[async_trait]
impl Connections for SqliteStore {
    async fn create_connection(&self, connection: Connection) -> Result<Connection> {
        self.write(move |conn| connections::create(conn, &connection))
            .await
    }

    async fn connections(&self) -> Result<Vec<Connection>> {
        self.read(|conn| connections::all(conn)).await
    }

    async fn connection(&self, id: Uuid) -> Result<Option<Connection>> {
        self.lookup(move |conn| connections::by_id(conn, id)).await
    }

    async fn connection_by_name(&self, name: &str) -> Result<Option<Connection>> {
        let name = name.to_owned();
        self.lookup(move |conn| connections::by_name(conn, &name))
            .await
    }

    async fn update_connection(&self, connection: &Connection) -> Result<Connection> {
        let connection = connection.clone();
        self.write(move |conn| connections::update(conn, &connection))
            .await
    }

    async fn delete_connection(&self, id: Uuid) -> Result<()> {
        self.write_reach(move |conn| connections::delete(conn, id))
            .await
    }

    async fn connection_scope(&self, id: Uuid) -> Result<Option<Scope>> {
        self.lookup(move |conn| connections::scope(conn, id)).await
    }

    async fn set_connection_scope(&self, id: Uuid, scope: Option<&Scope>) -> Result<()> {
        let scope = scope.cloned();
        self.write_reach(move |conn| connections::set_scope(conn, id, scope.as_ref()))
            .await
    }

    fn reach_version(&self) -> u64 {
        self.reach_version
            .load(std::sync::atomic::Ordering::Acquire)
    }
}

#[async_trait]
impl Messages for SqliteStore {
    async fn enqueue_message(&self, connection_id: Uuid, kind: &str, payload: &str) -> Result<i64> {
        let (kind, payload) = (kind.to_owned(), payload.to_owned());
        self.write(move |conn| connections::enqueue(conn, connection_id, &kind, &payload, now()))
            .await
    }

    async fn queued_count(&self, connection_id: Uuid) -> Result<u64> {
        self.lookup(move |conn| connections::queued_count(conn, connection_id))
            .await
    }

    async fn outbound_messages(
        &self,
        connection_id: Uuid,
        after: i64,
        limit: u32,
    ) -> Result<Vec<OutboundMessage>> {
        self.read(move |conn| connections::outbound(conn, connection_id, after, limit))
            .await
    }

    async fn void_queued_messages(
        &self,
        connection_id: Uuid,
        kinds: &[&str],
        void: &str,
    ) -> Result<u64> {
        let kinds: Vec<String> = kinds.iter().map(|k| (*k).to_owned()).collect();
        let void = void.to_owned();
        self.write(move |conn| connections::void_queued(conn, connection_id, &kinds, &void))
            .await
    }

    async fn ack_messages(&self, connection_id: Uuid, up_to: i64) -> Result<()> {
        self.write(move |conn| connections::ack(conn, connection_id, up_to))
            .await
    }

    async fn outbound_seq(&self, connection_id: Uuid) -> Result<i64> {
        self.lookup(move |conn| connections::outbound_seq(conn, connection_id))
            .await
    }

    async fn inbound_seq(&self, connection_id: Uuid) -> Result<i64> {
        self.lookup(move |conn| connections::inbound_seq(conn, connection_id))
            .await
    }

    async fn advance_inbound_seq(&self, connection_id: Uuid, seq: i64) -> Result<bool> {
        self.write(move |conn| connections::advance_inbound_seq(conn, connection_id, seq))
            .await
    }

    async fn remember_nonce(
        &self,
        connection_id: Uuid,
        nonce: &str,
        expires: Timestamp,
        now: Timestamp,
    ) -> Result<bool> {
        let nonce = nonce.to_owned();
        self.write(move |conn| {
            connections::remember_nonce(conn, connection_id, &nonce, expires, now)
        })
        .await
    }

    async fn record_acceptance(
        &self,
        connection_id: Uuid,
        proof_id: [u8; 32],
        descriptor: [u8; 32],
        now: Timestamp,
    ) -> Result<AcceptanceRecord> {
        self.write(move |conn| {
            connections::record_acceptance(conn, connection_id, &proof_id, &descriptor, now)
        })
        .await
    }
}

#[async_trait]
impl Twins for SqliteStore {
    async fn create_twin(&self, twin: Twin) -> Result<Twin> {
        self.write(move |conn| twins::create(conn, &twin)).await
    }

    async fn twins_made_in_month(&self, at: Timestamp) -> Result<u64> {
        self.read(move |conn| twins::made_in_month(conn, at)).await
    }

    async fn twin(&self, connection_id: Uuid, local_key: &ItemKey) -> Result<Option<Twin>> {
        let key = local_key.clone();
        self.lookup(move |conn| twins::by_local(conn, connection_id, &key))
            .await
    }

    async fn twin_by_remote(&self, connection_id: Uuid, remote_key: &str) -> Result<Option<Twin>> {
        let remote_key = remote_key.to_owned();
        self.lookup(move |conn| twins::by_remote(conn, connection_id, &remote_key))
            .await
    }

    async fn twins_of_item(&self, local_key: &ItemKey) -> Result<Vec<Twin>> {
        let key = local_key.clone();
        self.lookup(move |conn| twins::of_item(conn, &key)).await
    }

    async fn twins(
        &self,
        connection_id: Uuid,
        after: Option<&ItemKey>,
        limit: u32,
    ) -> Result<Vec<Twin>> {
        let after = after.cloned();
        self.read(move |conn| twins::page(conn, connection_id, after.as_ref(), limit))
            .await
    }

    async fn twin_count(&self, connection_id: Uuid) -> Result<u64> {
        self.read(move |conn| twins::count(conn, connection_id))
            .await
    }

    async fn active_twin_count(&self, connection_id: Uuid) -> Result<u64> {
        self.read(move |conn| twins::count_active(conn, connection_id))
            .await
    }

    async fn update_twin(&self, twin: &Twin) -> Result<Twin> {
        let twin = twin.clone();
        self.write(move |conn| twins::update(conn, &twin)).await
    }

    async fn delete_twin(&self, connection_id: Uuid, local_key: &ItemKey) -> Result<()> {
        let key = local_key.clone();
        self.write(move |conn| twins::delete(conn, connection_id, &key))
            .await
    }

    async fn withdraw_twin(&self, connection_id: Uuid, local_key: &ItemKey) -> Result<()> {
        let key = local_key.clone();
        self.write(move |conn| twins::withdraw(conn, connection_id, &key))
            .await
    }

    async fn write_twin_and_queue(
        &self,
        twin: &Twin,
        create: bool,
        messages: &[(String, String)],
    ) -> Result<Twin> {
        let (twin, messages) = (twin.clone(), messages.to_vec());
        self.write(move |conn| {
            let written = if create {
                twins::create(conn, &twin)?
            } else {
                twins::update(conn, &twin)?
            };
            for (kind, payload) in &messages {
                connections::enqueue(conn, twin.connection_id, kind, payload, now())?;
            }
            Ok(written)
        })
        .await
    }

    async fn unsent_twins(&self) -> Result<Vec<Twin>> {
        self.read(|conn| twins::unsent(conn)).await
    }

    async fn queue_sync(&self, twin: &Twin, kind: &str, payload: &str) -> Result<i64> {
        let twin = twin.clone();
        let (kind, payload) = (kind.to_owned(), payload.to_owned());
        self.write(move |conn| twins::queue_sync(conn, &twin, (&kind, &payload), now()))
            .await
    }

    async fn create_twinned_item(
        &self,
        connection_id: Uuid,
        remote_key: &str,
        item: NewItem,
        actor: &Actor,
    ) -> Result<(Item, bool)> {
        item.validate()?;
        let (remote_key, actor) = (remote_key.to_owned(), actor.clone());
        self.write_item(move |conn| {
            twins::create_twinned_item(conn, connection_id, &remote_key, item, &actor, now())
        })
        .await
    }

    async fn add_comment_twin(&self, twin: CommentLink) -> Result<()> {
        let link = twins::Link {
            connection_id: twin.connection_id,
            local_key: twin.local_key,
            local_id: twin.local_id,
            remote_id: twin.remote_id,
            origin: twin.origin,
        };
        self.write(move |conn| twins::add_link(conn, Child::Comment, &link))
            .await
    }

    async fn add_twinned_comment(
        &self,
        connection_id: Uuid,
        key: &ItemKey,
        remote_id: &str,
        comment: NewComment,
        actor: &Actor,
    ) -> Result<Comment> {
        comment.validate()?;
        let (key, actor, remote_id) = (key.clone(), actor.clone(), remote_id.to_owned());
        self.write_item(move |conn| {
            let added = comments::add_comment(conn, &key, comment, &actor, now())?;
            twins::add_link(
                conn,
                Child::Comment,
                &twins::Link {
                    connection_id,
                    local_key: key,
                    local_id: added.id,
                    remote_id,
                    origin: tandem_model::Side::Remote,
                },
            )?;
            Ok(added)
        })
        .await
    }

    async fn add_twinned_attachment(
        &self,
        connection_id: Uuid,
        key: &ItemKey,
        remote_id: &str,
        attachment: NewAttachment,
        actor: &Actor,
    ) -> Result<Attachment> {
        attachment.validate()?;
        let (attachment, sha256) = hashed(attachment).await?;
        let (key, actor, remote_id) = (key.clone(), actor.clone(), remote_id.to_owned());
        self.write_item(move |conn| {
            let added = comments::add_attachment(conn, &key, attachment, sha256, &actor, now())?;
            twins::add_link(
                conn,
                Child::Attachment,
                &twins::Link {
                    connection_id,
                    local_key: key,
                    local_id: added.id,
                    remote_id,
                    origin: tandem_model::Side::Remote,
                },
            )?;
            Ok(added)
        })
        .await
    }

    async fn comment_twins(
        &self,
        connection_id: Uuid,
        local_key: &ItemKey,
    ) -> Result<Vec<CommentLink>> {
        let key = local_key.clone();
        let links = self
            .lookup(move |conn| twins::links(conn, Child::Comment, connection_id, &key))
            .await?;
        Ok(links
            .into_iter()
            .map(|l| CommentLink {
                connection_id: l.connection_id,
                local_key: l.local_key,
                local_id: l.local_id,
                remote_id: l.remote_id,
                origin: l.origin,
            })
            .collect())
    }

    async fn delete_comment_twin(
        &self,
        connection_id: Uuid,
        local_key: &ItemKey,
        local_id: i64,
    ) -> Result<()> {
        let key = local_key.clone();
        self.write(move |conn| {
            twins::delete_link(conn, Child::Comment, connection_id, &key, local_id)
        })
        .await
    }

    async fn add_attachment_twin(&self, twin: AttachmentLink) -> Result<()> {
        let link = twins::Link {
            connection_id: twin.connection_id,
            local_key: twin.local_key,
            local_id: twin.local_id,
            remote_id: twin.remote_id,
            origin: twin.origin,
        };
        self.write(move |conn| twins::add_link(conn, Child::Attachment, &link))
            .await
    }

    async fn attachment_twins(
        &self,
        connection_id: Uuid,
        local_key: &ItemKey,
    ) -> Result<Vec<AttachmentLink>> {
        let key = local_key.clone();
        let links = self
            .lookup(move |conn| twins::links(conn, Child::Attachment, connection_id, &key))
            .await?;
        Ok(links
            .into_iter()
            .map(|l| AttachmentLink {
                connection_id: l.connection_id,
                local_key: l.local_key,
                local_id: l.local_id,
                remote_id: l.remote_id,
                origin: l.origin,
            })
            .collect())
    }

    async fn delete_attachment_twin(
        &self,
        connection_id: Uuid,
        local_key: &ItemKey,
        local_id: i64,
    ) -> Result<()> {
        let key = local_key.clone();
        self.write(move |conn| {
            twins::delete_link(conn, Child::Attachment, connection_id, &key, local_id)
        })
        .await
    }
}

#[async_trait]
impl Requests for SqliteStore {
    async fn receive_requests(
        &self,
        connection_id: Uuid,
        requests: Vec<crate::ReceivedRequest>,
    ) -> Result<usize> {
        self.write(move |conn| {
            let now = now();
            let mut stored = 0;
            for r in &requests {
                if !requests::receive(
                    conn,
                    connection_id,
                    r.seq,
                    &r.kind,
                    r.remote_key.as_deref(),
                    &r.payload,
                    now,
                )? {
                    break;
                }
                stored += 1;
            }
            Ok(stored)
        })
        .await
    }

    async fn runnable_requests(&self, limit: u32) -> Result<Vec<IncomingRequest>> {
        self.read(move |conn| requests::runnable(conn, limit)).await
    }

    async fn request(&self, id: i64) -> Result<Option<IncomingRequest>> {
        self.read(move |conn| requests::by_id(conn, id)).await
    }

    async fn requests(
        &self,
        connection_id: Option<Uuid>,
        states: &[RequestState],
        limit: u32,
    ) -> Result<Vec<IncomingRequest>> {
        let states = states.to_vec();
        self.read(move |conn| requests::list(conn, connection_id, &states, limit))
            .await
    }

    async fn pending_request_count(&self, connection_id: Uuid) -> Result<u64> {
        self.read(move |conn| requests::pending_count(conn, connection_id))
            .await
    }

    async fn complete_request(
        &self,
        connection_id: Uuid,
        request_id: i64,
        twin: Option<Twin>,
        message: Option<(String, String)>,
    ) -> Result<()> {
        self.write(move |conn| {
            if let Some(twin) = &twin {
                twins::update(conn, twin)?;
            }
            if let Some((kind, payload)) = &message {
                connections::enqueue(conn, connection_id, kind, payload, now())?;
            }
            requests::set_state(conn, request_id, RequestState::Applied, now())
        })
        .await
    }

    async fn set_request_state(&self, id: i64, state: RequestState) -> Result<()> {
        self.write(move |conn| requests::set_state(conn, id, state, now()))
            .await
    }
}

#[async_trait]
impl SyncLog for SqliteStore {
    async fn record_sync_error(&self, error: NewSyncError) -> Result<SyncError> {
        self.write(move |conn| records::record_error(conn, &error, now()))
            .await
    }

    async fn sync_errors(&self, include_resolved: bool, limit: u32) -> Result<Vec<SyncError>> {
        self.read(move |conn| records::errors_page(conn, include_resolved, limit))
            .await
    }

    async fn sync_error(&self, id: i64) -> Result<Option<SyncError>> {
        self.read(move |conn| records::error(conn, id)).await
    }

    async fn resolve_sync_error(&self, id: i64) -> Result<SyncError> {
        self.write(move |conn| records::resolve_error(conn, id, now()))
            .await
    }

    async fn set_sync_error_message(&self, id: i64, message: &str) -> Result<SyncError> {
        let message = message.to_owned();
        self.write(move |conn| records::set_error_message(conn, id, &message))
            .await
    }

    async fn resolve_reported_errors(&self, connection_id: Uuid, key: &ItemKey) -> Result<u64> {
        let key = key.clone();
        self.write(move |conn| records::resolve_reported_errors(conn, connection_id, &key, now()))
            .await
    }

    async fn open_error_counts(&self) -> Result<Vec<(Option<Uuid>, u64)>> {
        self.read(|conn| records::open_error_counts(conn)).await
    }

    async fn record_conflict(&self, conflict: ConflictRecord) -> Result<ConflictRecord> {
        self.write(move |conn| records::record_conflict(conn, &conflict, now()))
            .await
    }

    async fn conflicts(&self, local_key: &ItemKey) -> Result<Vec<ConflictRecord>> {
        let key = local_key.clone();
        self.read(move |conn| records::conflicts(conn, &key)).await
    }

    async fn connection_conflicts(
        &self,
        connection_id: Uuid,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<ConflictRecord>> {
        self.read(move |conn| records::connection_conflicts(conn, connection_id, before, limit))
            .await
    }

    async fn conflict(&self, id: i64) -> Result<Option<ConflictRecord>> {
        self.read(move |conn| records::conflict(conn, id)).await
    }

    async fn mark_conflict_restored(&self, id: i64) -> Result<ConflictRecord> {
        self.write(move |conn| records::mark_conflict_restored(conn, id, now()))
            .await
    }

    async fn create_trigger(
        &self,
        connection_id: Uuid,
        query: &str,
        active: bool,
        note: &str,
    ) -> Result<Trigger> {
        let (query, note) = (query.to_owned(), note.to_owned());
        self.write_reach(move |conn| {
            records::create_trigger(conn, connection_id, &query, active, &note, now())
        })
        .await
    }

    async fn triggers(&self, connection_id: Option<Uuid>) -> Result<Vec<Trigger>> {
        self.lookup(move |conn| records::all_triggers(conn, connection_id))
            .await
    }

    async fn update_trigger(&self, trigger: &Trigger) -> Result<Trigger> {
        let trigger = trigger.clone();
        self.write_reach(move |conn| records::update_trigger(conn, &trigger))
            .await
    }

    async fn delete_trigger(&self, id: i64) -> Result<()> {
        self.write_reach(move |conn| records::delete_trigger(conn, id))
            .await
    }
}

#[async_trait]
impl BulkJobs for SqliteStore {
    async fn create_bulk_job(
        &self,
        kind: JobKind,
        connection_id: Uuid,
        trigger_id: Option<i64>,
        total: u64,
    ) -> Result<BulkJob> {
        self.write(move |conn| {
            jobs::create_job(conn, kind, connection_id, trigger_id, total, now())
        })
        .await
    }

    async fn save_bulk_job_progress(&self, id: i64, progress: &JobProgress) -> Result<BulkJob> {
        let progress = progress.clone();
        self.write(move |conn| jobs::save_progress(conn, id, &progress, now()))
            .await
    }

    async fn finish_bulk_job(
        &self,
        id: i64,
        state: JobState,
        progress: &JobProgress,
        error: Option<&str>,
    ) -> Result<BulkJob> {
        let (progress, error) = (progress.clone(), error.map(str::to_owned));
        self.write(move |conn| {
            jobs::finish_job(conn, id, state, &progress, error.as_deref(), now())
        })
        .await
    }

    async fn request_bulk_job_cancel(&self, id: i64) -> Result<BulkJob> {
        self.write(move |conn| jobs::request_cancel(conn, id)).await
    }

    async fn bulk_jobs(
        &self,
        connection_id: Option<Uuid>,
        running_only: bool,
        limit: u32,
    ) -> Result<Vec<BulkJob>> {
        self.read(move |conn| jobs::jobs(conn, connection_id, running_only, limit))
            .await
    }

    async fn bulk_job(&self, id: i64) -> Result<Option<BulkJob>> {
        self.read(move |conn| jobs::job(conn, id)).await
    }
}

#[async_trait]
impl Mirrors for SqliteStore {
    async fn mirror_link(
        &self,
        tracker: &str,
        kind: MirrorKind,
        external_id: &str,
    ) -> Result<Option<MirrorLink>> {
        let (tracker, external_id) = (tracker.to_owned(), external_id.to_owned());
        self.lookup(move |conn| mirror::link(conn, &tracker, kind, &external_id))
            .await
    }

    async fn mirror_links_of_item(&self, tracker: &str, item: &ItemKey) -> Result<Vec<MirrorLink>> {
        let (tracker, item) = (tracker.to_owned(), item.clone());
        self.lookup(move |conn| mirror::links_of_item(conn, &tracker, &item))
            .await
    }

    async fn mirror_links_of_kind(
        &self,
        tracker: &str,
        kind: MirrorKind,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<MirrorLink>> {
        let (tracker, after) = (tracker.to_owned(), after.map(str::to_owned));
        self.lookup(move |conn| {
            mirror::links_of_kind(conn, &tracker, kind, after.as_deref(), limit)
        })
        .await
    }

    async fn mirror_snapshot(&self, tracker: &str, external_id: &str) -> Result<Option<String>> {
        let (tracker, external_id) = (tracker.to_owned(), external_id.to_owned());
        self.lookup(move |conn| mirror::snapshot(conn, &tracker, &external_id))
            .await
    }

    async fn set_mirror_snapshot(
        &self,
        tracker: &str,
        external_id: &str,
        snapshot: &str,
    ) -> Result<()> {
        let (tracker, external_id, snapshot) = (
            tracker.to_owned(),
            external_id.to_owned(),
            snapshot.to_owned(),
        );
        self.write(move |conn| mirror::set_snapshot(conn, &tracker, &external_id, &snapshot))
            .await
    }

    async fn set_mirror_link(&self, link: MirrorLink) -> Result<()> {
        check_mirror_ids(&link.tracker, &link.external_id)?;
        self.write(move |conn| mirror::set_link(conn, &link)).await
    }

    async fn delete_mirror_link(
        &self,
        tracker: &str,
        kind: MirrorKind,
        external_id: &str,
    ) -> Result<()> {
        let (tracker, external_id) = (tracker.to_owned(), external_id.to_owned());
        self.write(move |conn| mirror::delete_link(conn, &tracker, kind, &external_id))
            .await
    }

    async fn create_mirrored_item(
        &self,
        tracker: &str,
        external_id: &str,
        item: NewItem,
        actor: &Actor,
    ) -> Result<(Item, bool)> {
        check_mirror_ids(tracker, external_id)?;
        item.validate()?;
        let (tracker, external_id, actor) =
            (tracker.to_owned(), external_id.to_owned(), actor.clone());
        self.write_item(move |conn| {
            mirror::create_mirrored_item(conn, (&tracker, &external_id), item, &actor, now())
        })
        .await
    }

    async fn add_mirrored_comment(
        &self,
        tracker: &str,
        key: &ItemKey,
        external_id: &str,
        comment: NewComment,
        actor: &Actor,
    ) -> Result<(Comment, bool)> {
        check_mirror_ids(tracker, external_id)?;
        comment.validate()?;
        let (tracker, external_id) = (tracker.to_owned(), external_id.to_owned());
        let (key, actor) = (key.clone(), actor.clone());
        self.write_item(move |conn| {
            mirror::add_mirrored_comment(
                conn,
                (&tracker, &external_id),
                &key,
                comment,
                &actor,
                now(),
            )
        })
        .await
    }

    async fn add_mirrored_attachment(
        &self,
        tracker: &str,
        key: &ItemKey,
        external_id: &str,
        attachment: NewAttachment,
        actor: &Actor,
    ) -> Result<(Attachment, bool)> {
        check_mirror_ids(tracker, external_id)?;
        attachment.validate()?;
        let (attachment, sha256) = hashed(attachment).await?;
        let (tracker, external_id) = (tracker.to_owned(), external_id.to_owned());
        let (key, actor) = (key.clone(), actor.clone());
        self.write_item(move |conn| {
            mirror::add_mirrored_attachment(
                conn,
                (&tracker, &external_id),
                &key,
                attachment,
                sha256,
                &actor,
                now(),
            )
        })
        .await
    }
}
