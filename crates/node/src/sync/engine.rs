//! The sync engine's two loops, run side by side by one background task per node:
//!
//! - **Outgoing**: reads the tracker's change events (the store's transactional outbox) after a
//!   stored watermark; for each change of an item with an active twin, runs the connection's
//!   outgoing rules and — only when the replica differs from the last one sent — queues it for
//!   the remote in the same transaction that records it as sent. Changes the engine itself
//!   wrote for a connection are not sent back on that connection (no echo).
//! - **Incoming**: runs the stored incoming requests in order per twin: the incoming rules, then
//!   the item's create or update, comments by the merge's decisions, the twin's replicas, and an
//!   acknowledgement back that carries this side's key (so both sides show the link). A failure
//!   records a sync error and blocks only that twin's later requests.

use std::time::Duration;

use jiff::Timestamp;
use serde_json::{Value, json};
use tandem_model::{
    Actor, CommentLink, CommentOp, Connection, ConnectionRole, ConnectionStatus, FieldClocks,
    Impact, ItemKey, NewComment, NewSyncError, Person, Precedence, Replica, RequestState, Side,
    Twin, TwinState,
};
use tandem_store::StoreError;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::helpers::Env;
use super::rules::{self, IncomingInput, RuleError};
use super::scope;
use crate::state::AppState;

/// The setting that keeps the last change event the outgoing loop handled.
const WATERMARK: &str = "sync.events_seq";
/// Message kinds on the connection's queue.
pub const SYNC: &str = "sync";
pub const SYNC_ACK: &str = "sync_ack";
/// "I could not apply your change of this item": the reason, and the error's id on this
/// side's Errors page, where it is retried. Version 1 of its payload is [`FailureReport`].
/// Older nodes ignore a kind they do not know (and log it), so it is sent to every remote.
pub const SYNC_FAILED: &str = "sync_failed";
/// "My item is now known by this key" (`{"my_key", "your_key", "display_key"}`): a display key
/// that came after the last replica (ServiceNow numbers a record the bridge wrote), told once.
/// Every replica and acknowledgement carries `display_key` too. Older nodes ignore the kind,
/// and the field, and keep showing the key.
pub const SYNC_KEY: &str = "sync_key";
const BATCH: u32 = 200;
/// How often an idle loop looks anyway (a wake-up it missed, a request whose retry is due).
const IDLE_ROUND: Duration = Duration::from_millis(500);
/// Items (or twins) one step works on at once: enough that the store's writer commits many
/// of their writes together, few enough to keep memory and database readers in bounds.
const CONCURRENCY: usize = 64;

/// How the reason of a connection paused for rules that do not compile starts: such a
/// connection takes no requests and sends nothing until its rules are saved again.
pub const RULES_BROKEN: &str = "the sync rules do not compile: ";

/// The connection waits for its rules to be fixed ([`RULES_BROKEN`]).
pub fn paused_by_rules(connection: &Connection) -> bool {
    connection.status == ConnectionStatus::Error
        && connection
            .status_reason
            .as_deref()
            .is_some_and(|r| r.starts_with(RULES_BROKEN))
}

/// How the reason of a connection paused because the node's plan no longer allows its mode
/// starts (a Script connection after the Evaluation ends): it resumes by itself when a license
/// key is installed.
pub const PLAN_PAUSE: &str = "paused by the node's plan: ";

/// The connection waits for a license ([`PLAN_PAUSE`]).
pub fn paused_by_plan(connection: &Connection) -> bool {
    connection.status == ConnectionStatus::Error
        && connection
            .status_reason
            .as_deref()
            .is_some_and(|r| r.starts_with(PLAN_PAUSE))
}

/// Nothing of the connection runs until its rules are fixed or a license is added.
pub fn paused(connection: &Connection) -> bool {
    paused_by_rules(connection) || paused_by_plan(connection)
}

/// Why one sync step failed.
#[derive(Debug, thiserror::Error)]
pub enum SyncFailure {
    #[error(transparent)]
    Rule(#[from] RuleError),
    #[error("{0}")]
    Apply(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The item changed while the request was applied: run it again (it stays pending).
    #[error("the item changed while the sync was applied; it runs again")]
    Retry,
    /// A first sync has nowhere to create its item: the rules read the connection's target
    /// project, and this side's admin has not chosen one.
    #[error(
        "no target project: connection {connection} has no project chosen for new items from \
         {remote}. This node's admin chooses one (Connections → Edit {connection} → Target \
         project, or `tandem connection target {connection} KEY`), then picks Resolve and retry"
    )]
    NoTargetProject { connection: String, remote: String },
    /// The target project chosen for the connection is not on this node (deleted since).
    #[error(
        "the target project {project} of connection {connection} does not exist on this node: \
         create it, or choose another (Connections → Edit {connection} → Target project), then \
         pick Resolve and retry"
    )]
    TargetProjectMissing { connection: String, project: String },
}

impl SyncFailure {
    /// The storage under the database failed (disk full, read-only, I/O error): nothing is
    /// wrong with the change, which waits and runs again once the store takes writes.
    pub fn is_storage_fault(&self) -> bool {
        matches!(self, SyncFailure::Store(e) if e.is_storage_fault())
    }
}

impl From<super::item_json::FieldError> for SyncFailure {
    fn from(e: super::item_json::FieldError) -> Self {
        SyncFailure::Apply(format!("the incoming rules left {e}"))
    }
}

/// Runs both loops until `cancel` fires. They run side by side: a node that receives a burst
/// of changes also sends the ones its people make meanwhile.
pub async fn run(state: AppState, cancel: CancellationToken) {
    match send_unsent(&state).await {
        Ok(_) => {}
        // The incoming loop looks again, with its pauses, once the store takes writes.
        Err(e) if e.is_storage_fault() => {
            state.owed().owe_unsent();
            crate::storage::report(&state, "incoming sync", &e, crate::storage::FIRST_PAUSE);
        }
        Err(e) => {
            tracing::error!(error = %e, "Items a crash left under sync with nothing sent could not be sent.");
        }
    }
    if let Err(e) = super::jobs::resume(&state).await {
        tracing::error!(error = %e, "The bulk jobs a stop cut short could not be taken up again.");
    }
    let outgoing = repeat(
        "outgoing sync",
        &cancel,
        || outgoing_step(&state),
        || async { state.store().item_changed().await },
        &state,
    );
    let incoming = repeat(
        "incoming sync",
        &cancel,
        || incoming_step(&state),
        || state.sync_woken(),
        &state,
    );
    tokio::join!(outgoing, incoming);
}

/// Runs `step` again at once while it finds work, else after `woken` (or [`IDLE_ROUND`]).
async fn repeat<S, SF, W, WF>(
    which: &'static str,
    cancel: &CancellationToken,
    step: S,
    woken: W,
    state: &AppState,
) where
    S: Fn() -> SF,
    SF: std::future::Future<Output = Result<usize, SyncFailure>>,
    W: Fn() -> WF,
    WF: std::future::Future<Output = ()>,
{
    let mut backoff = crate::storage::Backoff::default();
    loop {
        let pause = match step().await {
            Ok(n) if n > 0 => {
                backoff.succeeded();
                state.wake_delivery();
                continue;
            }
            Ok(_) => {
                backoff.succeeded();
                IDLE_ROUND
            }
            // The step runs again after a pause (or once something is written again, which
            // the store can then do): running it at once would fail alike, again and again.
            Err(e) if e.is_storage_fault() => {
                let pause = backoff.failed();
                crate::storage::report(state, which, &e, pause);
                pause
            }
            Err(e) => {
                tracing::warn!(error = %e, loop = which, "A sync step failed.");
                IDLE_ROUND
            }
        };
        tokio::select! {
            () = cancel.cancelled() => return,
            () = woken() => {}
            () = tokio::time::sleep(pause) => {}
        }
    }
}

/// The actor the engine writes as for a connection; its `via_sync` marks the writes as the
/// connection's own, so they are not sent back on it.
pub fn actor(connection: &Connection) -> Actor {
    Actor {
        name: format!("sync:{}", connection.name),
        via_sync: Some(connection.id.to_string()),
    }
}

/// Work a storage fault stopped after its change was recorded — the replica an apply sends
/// back, the stop it asks for, start-up's look for twins a crash left with nothing sent —
/// kept until the incoming loop can do it: its next round, after the loop's pause (the
/// storage watch wakes it once a write goes through again).
///
/// It lives in memory: a node stopped while the fault lasts forgets it. Nothing is lost
/// then either: start-up looks for unsent twins again, and `tandem sync verify` (or the
/// periodic pass) finds a replica that was not sent back and sends it.
#[derive(Default)]
pub struct Owed {
    unsent: std::sync::atomic::AtomicBool,
    after_apply: std::sync::Mutex<Vec<(Uuid, ItemKey, AfterWork)>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AfterWork {
    SyncBack,
    Unexalate,
}

impl AfterWork {
    async fn run(
        self,
        state: &AppState,
        connection: &Connection,
        key: &ItemKey,
    ) -> Result<(), SyncFailure> {
        match self {
            AfterWork::SyncBack => sync_back(state, connection, key).await,
            AfterWork::Unexalate => super::operations::unexalate(state, connection, key)
                .await
                .map(|_| ()),
        }
    }
}

impl Owed {
    fn owe_unsent(&self) {
        self.unsent
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    fn owe(&self, connection: Uuid, key: ItemKey, work: AfterWork) {
        let mut owed = self.after_apply.lock().unwrap_or_else(|e| e.into_inner());
        if !owed
            .iter()
            .any(|(c, k, w)| *c == connection && *k == key && *w == work)
        {
            owed.push((connection, key, work));
        }
    }

    fn take(&self) -> Vec<(Uuid, ItemKey, AfterWork)> {
        std::mem::take(&mut *self.after_apply.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Puts back what could not be done yet, ahead of what was owed meanwhile.
    fn put_back(&self, mut left: Vec<(Uuid, ItemKey, AfterWork)>) {
        let mut owed = self.after_apply.lock().unwrap_or_else(|e| e.into_inner());
        left.append(&mut owed);
        *owed = left;
    }

    /// How many pieces of work wait (for tests and the log).
    pub fn len(&self) -> usize {
        self.after_apply
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
            + usize::from(self.unsent.load(std::sync::atomic::Ordering::Relaxed))
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Does what [`Owed`] holds; fails with the storage fault that stops it again, leaving the
/// rest owed.
async fn settle_owed(state: &AppState) -> Result<usize, SyncFailure> {
    let owed = state.owed();
    let mut done = 0;
    if owed
        .unsent
        .swap(false, std::sync::atomic::Ordering::Relaxed)
    {
        match send_unsent(state).await {
            Ok(n) => done += n,
            Err(e) => {
                owed.owe_unsent();
                return Err(e);
            }
        }
    }
    let mut work = owed.take().into_iter();
    while let Some((connection_id, key, what)) = work.next() {
        let connection = match state.store().connection(connection_id).await {
            Ok(Some(connection)) => connection,
            // Deleted meanwhile: nothing left to do for it.
            Ok(None) => continue,
            Err(e) => {
                let mut left = vec![(connection_id, key, what)];
                left.extend(work);
                owed.put_back(left);
                return Err(e.into());
            }
        };
        let result = what.run(state, &connection, &key).await;
        match result {
            Ok(()) => done += 1,
            Err(e) if e.is_storage_fault() => {
                let mut left = vec![(connection_id, key, what)];
                left.extend(work);
                owed.put_back(left);
                return Err(e);
            }
            Err(e) => record_item_error(state, &connection, Some(&key), None, None, &e).await,
        }
    }
    if done > 0 {
        tracing::info!(done, "Did the sync work a storage fault had held up.");
    }
    Ok(done)
}

/// How many of the node's item changes the outgoing loop has not looked at yet, counted up to
/// one batch: zero when every change so far was sent, or found to need no sending.
pub async fn changes_waiting(state: &AppState) -> Result<u64, StoreError> {
    let store = state.store();
    let after: i64 = store
        .setting(WATERMARK)
        .await?
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Ok(store.events_after(after, BATCH).await?.len() as u64)
}

async fn outgoing_step(state: &AppState) -> Result<usize, SyncFailure> {
    let store = state.store();
    let after: i64 = store
        .setting(WATERMARK)
        .await?
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let events = store.events_after(after, BATCH).await?;
    let Some(last) = events.last().map(|e| e.seq) else {
        return Ok(0);
    };
    let count = events.len();
    let triggers = std::sync::Arc::new(store.triggers(None).await?);
    // Each item's changes in order, different items side by side: a twin's sends are ordered
    // by its lock anyway, and the store commits concurrent writes together.
    let mut by_item: Vec<(ItemKey, Vec<tandem_model::TrackerEvent>)> = Vec::new();
    for event in events {
        match by_item.iter_mut().find(|(key, _)| *key == event.item) {
            Some((_, list)) => list.push(event),
            None => by_item.push((event.item.clone(), vec![event])),
        }
    }
    let mut tasks = tokio::task::JoinSet::new();
    let mut storage_fault = None;
    for (_, events) in by_item {
        while tasks.len() >= CONCURRENCY {
            storage_fault = storage_fault.or(finish(tasks.join_next().await));
        }
        let (state, triggers) = (state.clone(), triggers.clone());
        tasks.spawn(async move {
            for event in &events {
                outgoing_event(&state, &triggers, event).await?;
            }
            Ok(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        storage_fault = storage_fault.or(finish(Some(done)));
    }
    // A change that could not be sent for want of storage is sent again from the same place
    // (a replica equal to the one sent before is not queued twice).
    if let Some(fault) = storage_fault {
        return Err(fault);
    }
    store.set_setting(WATERMARK, &last.to_string()).await?;
    Ok(count)
}

/// Logs what a concurrent step's task could not do (its item's failures are recorded as sync
/// errors by the task itself; this is what lies beyond: the database, a panic). A storage
/// fault is handed back instead, for the step to fail with it and its loop to pause.
fn finish(
    done: Option<Result<Result<(), SyncFailure>, tokio::task::JoinError>>,
) -> Option<SyncFailure> {
    match done {
        Some(Ok(Err(e))) if e.is_storage_fault() => return Some(e),
        Some(Ok(Err(e))) => tracing::warn!(error = %e, "A sync step failed."),
        Some(Err(e)) => tracing::error!(error = %e, "A sync task stopped unexpectedly."),
        _ => {}
    }
    None
}

/// One change event: triggers may bring the item under sync, and every active twin of the
/// item sends it (unless the change is that twin's own incoming sync).
async fn outgoing_event(
    state: &AppState,
    triggers: &[tandem_model::Trigger],
    event: &tandem_model::TrackerEvent,
) -> Result<(), SyncFailure> {
    let store = state.store();
    let twins = store.twins_of_item(&event.item).await?;
    // Triggers bring items that are created or changed to match under sync.
    let mut checked = Vec::new();
    for trigger in triggers.iter().filter(|t| t.active) {
        let id = trigger.connection_id;
        if checked.contains(&id) || twins.iter().any(|t| t.connection_id == id) {
            continue;
        }
        checked.push(id);
        if event.via_sync.as_deref() == Some(id.to_string().as_str()) {
            continue;
        }
        let of_connection: Vec<_> = triggers
            .iter()
            .filter(|t| t.connection_id == id)
            .cloned()
            .collect();
        if super::operations::matches_trigger(state, &of_connection, &event.item).await?
            && let Some(connection) = store.connection(id).await?
            && !paused(&connection)
            // An item the outgoing rules send nothing for is skipped, not an error.
            && let Err(e) = exalate_new(state, &connection, &event.item).await
        {
            if e.is_storage_fault() {
                return Err(e);
            }
            record_item_error(state, &connection, Some(&event.item), None, None, &e).await;
        }
    }
    for twin in twins {
        if twin.state != TwinState::Active
            || event.via_sync.as_deref() == Some(twin.connection_id.to_string().as_str())
        {
            continue;
        }
        let Some(connection) = store.connection(twin.connection_id).await? else {
            continue;
        };
        // Its changes go out when the rules are saved again or a license is added (every twin
        // is synced again then).
        if paused(&connection) {
            continue;
        }
        if let Err(e) = send(state, &connection, &twin.local_key).await {
            if e.is_storage_fault() {
                return Err(e);
            }
            record_item_error(state, &connection, Some(&twin.local_key), None, None, &e).await;
        }
    }
    Ok(())
}

/// Runs the outgoing rules on the item and queues the replica when it differs from the last
/// one sent. Returns whether something was queued.
pub async fn send(
    state: &AppState,
    connection: &Connection,
    key: &ItemKey,
) -> Result<bool, SyncFailure> {
    let _twin = state.lock_twin(connection.id, key).await;
    Ok(send_locked(state, connection, key).await?.queued)
}

/// Sync again: sends the twin's item whole (every field stamped, every attachment's bytes), as
/// if nothing had been sent before, even when it did not change; recorded and queued in one
/// transaction. The caller holds the twin's lock and read `twin` under it. Returns whether
/// something was queued (not when the rules send nothing).
pub(crate) async fn send_again(
    state: &AppState,
    connection: &Connection,
    mut twin: Twin,
) -> Result<bool, SyncFailure> {
    twin.last_sent = None;
    Ok(send_twin(state, connection, twin, false).await?.queued)
}

/// What the outgoing rules make of a twin's item, before anything is written.
#[derive(Default)]
struct Prepared {
    /// The item as the outgoing rules saw it (None: it does not exist).
    item: Option<tandem_model::Item>,
    /// The outgoing rules left the replica empty (a bare `return` before filling it, Exalate's
    /// way to send nothing): there is nothing to queue.
    empty: bool,
    /// The replica to queue, when it differs from the last one sent (or is forced).
    outgoing: Option<Outgoing>,
}

/// A replica ready to queue, or only a new display key ([`SYNC_KEY`]).
struct Outgoing {
    /// The twin as it is once the message is queued: the replica recorded as its last sent,
    /// with the field versions that stamp it and the display key told.
    twin: Twin,
    /// [`SYNC`] or [`SYNC_KEY`].
    kind: &'static str,
    /// The message.
    payload: String,
}

/// What [`send_locked`] did.
struct Sent {
    queued: bool,
    /// The item as the outgoing rules saw it (None: no twin or no item).
    item: Option<tandem_model::Item>,
}

/// [`send`] for a caller that holds the twin's lock. The fields whose values differ from the
/// last replica sent are this side's edits: each gets a new version, stored with the replica
/// in the transaction that queues it.
async fn send_locked(
    state: &AppState,
    connection: &Connection,
    key: &ItemKey,
) -> Result<Sent, SyncFailure> {
    let Some(twin) = state.store().twin(connection.id, key).await? else {
        return Ok(Sent {
            queued: false,
            item: None,
        });
    };
    send_twin(state, connection, twin, false).await
}

/// [`send_locked`] with the twin read already (under the lock the caller holds). With
/// `force`, the replica is queued even when it is the one sent last (`syncHelper.
/// syncBackAfterProcessing()`); only the fields that changed get new versions either way.
async fn send_twin(
    state: &AppState,
    connection: &Connection,
    twin: Twin,
    force: bool,
) -> Result<Sent, SyncFailure> {
    let prepared = prepare_send(state, connection, twin, force).await?;
    if let Some(out) = &prepared.outgoing {
        queue(state, out).await?;
    }
    Ok(Sent {
        queued: prepared.outgoing.is_some(),
        item: prepared.item,
    })
}

/// Queues a prepared replica and records it as sent, in one transaction.
async fn queue(state: &AppState, out: &Outgoing) -> Result<(), SyncFailure> {
    state
        .store()
        .queue_sync(&out.twin, out.kind, &out.payload)
        .await?;
    Ok(())
}

/// Runs the outgoing rules on the twin's item and makes the replica to queue, when it differs
/// from the last one sent (`twin` as the caller holds it, under its lock); writes nothing, so
/// that a caller that records the twin too does both in one transaction.
async fn prepare_send(
    state: &AppState,
    connection: &Connection,
    mut twin: Twin,
    force: bool,
) -> Result<Prepared, SyncFailure> {
    let store = state.store();
    let key = &twin.local_key.clone();
    let Some(item) = store.item(key).await? else {
        return Ok(Prepared::default());
    };
    // The remote reads nothing outside the connection's scope: an item that left it is no
    // longer sent (it goes out again, changes and all, once the scope holds it again). Under
    // the default scope, a twin this side's admin brought under sync (`leads`) is inside: the
    // twin in hand says so, also before an Exalate has written it.
    let reach = scope::reach(state, connection).await?;
    if !((reach.is_default() && twin.leads) || reach.contains(state, key).await?) {
        tracing::info!(connection = %connection.name, item = %key, "Not sent: the item is outside the connection's scope.");
        return Ok(Prepared {
            item: Some(item),
            empty: false,
            outgoing: None,
        });
    }
    let outcome = outgoing_run(state, connection, &item).await?;
    emit_log(connection, &key.to_string(), &outcome.log);
    let replica = outcome.replica;
    // The rules sent nothing: nothing goes out, and what was sent last stays the baseline.
    if replica.as_object().is_some_and(serde_json::Map::is_empty) {
        return Ok(Prepared {
            item: Some(item),
            empty: true,
            outgoing: None,
        });
    }
    let last = twin
        .last_sent
        .as_deref()
        .and_then(|l| serde_json::from_str::<Value>(l).ok());
    let display_key = crate::servicenow::keys::display_key(state, &item);
    if !force
        && let Some(last) = &last
        && same(last, &replica)
    {
        // No replica, but the remote learns the key its admin knows the item by, once.
        let outgoing = (display_key != twin.display_key_sent).then(|| {
            let payload = json!({
                "my_key": key.to_string(),
                "your_key": twin.remote_key,
                "display_key": display_key,
            });
            twin.display_key_sent = display_key;
            Outgoing {
                twin,
                kind: SYNC_KEY,
                payload: payload.to_string(),
            }
        });
        return Ok(Prepared {
            item: Some(item),
            empty: false,
            outgoing,
        });
    }
    let me = precedence(connection, &twin);
    let last = last.and_then(|l| Replica::from_json(l).ok());
    if let Ok(now) = Replica::from_json(replica.clone()) {
        for field in tandem_model::changed_versioned_fields(last.as_ref(), &now) {
            twin.clock.bump(&field, me);
        }
    }
    let files = new_files(state, key, &replica, twin.last_sent.as_deref()).await?;
    // The copies this side made of the remote's comments and attachments, as the remote's
    // ids: the remote learns them here too if this change overtakes their acknowledgement.
    let copies = |links: Vec<(i64, String, Side)>| -> Vec<Value> {
        links
            .into_iter()
            .filter(|(_, _, origin)| *origin == Side::Remote)
            .map(|(local, remote, _)| json!({"remote_id": remote, "local_id": local.to_string()}))
            .collect()
    };
    // (An item without comments or attachments has no copies to tell: no lookup.)
    let comment_copies = if item.comments.is_empty() {
        Vec::new()
    } else {
        copies(
            store
                .comment_twins(connection.id, key)
                .await?
                .into_iter()
                .map(|l| (l.local_id, l.remote_id, l.origin))
                .collect(),
        )
    };
    let attachment_copies = if item.attachments.is_empty() {
        Vec::new()
    } else {
        copies(
            store
                .attachment_twins(connection.id, key)
                .await?
                .into_iter()
                .map(|l| (l.local_id, l.remote_id, l.origin))
                .collect(),
        )
    };
    let payload = json!({
        "local_key": key.to_string(),
        "remote_key": twin.remote_key,
        "replica": replica,
        "clock": twin.clock.to_json(),
        "comments": comment_copies,
        "attachments": attachment_copies,
        "files": files,
        "at": item.updated.to_string(),
        "node": state.identity().id,
        // Sent by `syncHelper.syncBackAfterProcessing()`: its receiver sends nothing back for
        // it, so that rules asking for it on both sides cannot play ping-pong.
        "sync_back": force,
        // The key this side's admin knows the item by, when it is not its key.
        "display_key": display_key,
    });
    twin.last_sent = Some(replica.to_string());
    twin.display_key_sent = display_key;
    Ok(Prepared {
        item: Some(item),
        empty: false,
        outgoing: Some(Outgoing {
            twin,
            kind: SYNC,
            payload: payload.to_string(),
        }),
    })
}

/// Which stamps this side of the twin writes: the initiator's win ties; on a local connection
/// (both sides this node) the side that brought the item under sync.
fn precedence(connection: &Connection, twin: &Twin) -> Precedence {
    match connection.role {
        ConnectionRole::Initiator => Precedence::First,
        ConnectionRole::Acceptor => Precedence::Second,
        ConnectionRole::Local if twin.leads => Precedence::First,
        ConnectionRole::Local => Precedence::Second,
    }
}

/// The bytes of the replica's attachments that the last replica sent did not have (by id and
/// hash), base64 by attachment id: the remote cannot fetch them (it may not be able to call
/// this node), so they travel with the change.
async fn new_files(
    state: &AppState,
    key: &ItemKey,
    replica: &Value,
    last_sent: Option<&str>,
) -> Result<serde_json::Map<String, Value>, SyncFailure> {
    use base64::Engine as _;
    let sent: Vec<(String, String)> = last_sent
        .and_then(|s| serde_json::from_str::<Value>(s).ok())
        .and_then(|v| v["attachments"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .map(|a| {
            (
                id_text(&a["id"]),
                a["hash"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let mut files = serde_json::Map::new();
    for attachment in replica["attachments"].as_array().into_iter().flatten() {
        let id = id_text(&attachment["id"]);
        let hash = attachment["hash"].as_str().unwrap_or_default().to_owned();
        if sent.contains(&(id.clone(), hash)) {
            continue;
        }
        let Ok(number) = id.parse::<i64>() else {
            continue;
        };
        if let Some((_, bytes)) = state.store().attachment(key, number).await? {
            files.insert(
                id,
                Value::String(base64::engine::general_purpose::STANDARD.encode(bytes)),
            );
        }
    }
    Ok(files)
}

/// An id as text, whether the replica holds it as a string or a number.
fn id_text(id: &Value) -> String {
    match id {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn same(a: &Value, b: &Value) -> bool {
    match (Replica::from_json(a.clone()), Replica::from_json(b.clone())) {
        (Ok(a), Ok(b)) => a.same_content(&b),
        _ => a == b,
    }
}

/// The helpers' view of the node for one connection's rules; call it on the async side.
pub(crate) fn helper_env(state: &AppState, connection: &Connection) -> Env {
    let settings = state.settings();
    let about = super::helpers::About::new(
        connection,
        &settings.node_url,
        &crate::peer::tracker_url(state),
    );
    let env = Env::new(
        state.shared_store(),
        tokio::runtime::Handle::current(),
        connection.id,
    )
    .with_about(about);
    let env = match state.view().collections() {
        Some(tables) if state.view().kind() == tandem_connectors::TrackerKind::ServiceNow => {
            env.with_tables(tables.iter().map(|(t, _)| t.to_owned()).collect())
        }
        _ => env,
    };
    match state.servicenow() {
        Some(client) => env.with_servicenow(client.clone()),
        None => env,
    }
}

/// Writes what the rules logged with `debug.info`/`debug.warn` to the node's log.
fn emit_log(connection: &Connection, item: &str, log: &[String]) {
    for line in log {
        tracing::info!(connection = %connection.name, item, log = %line, "The sync rules logged a line.");
    }
}

/// The replica the outgoing rules make of `item`. Used for the comparisons and baselines the
/// engine computes besides sending, so what the rules log is dropped here; [`send`] logs it.
pub(crate) async fn outgoing_replica(
    state: &AppState,
    connection: &Connection,
    item: &tandem_model::Item,
) -> Result<Value, RuleError> {
    Ok(outgoing_run(state, connection, item).await?.replica)
}

/// The same for a Test run, whose rules see `clock` when it fixes the time.
pub(crate) async fn test_outgoing_replica(
    state: &AppState,
    connection: &Connection,
    item: &tandem_model::Item,
    clock: Option<std::sync::Arc<dyn tandem_script::Clock>>,
) -> Result<Value, RuleError> {
    Ok(outgoing_run_at(state, connection, item, clock)
        .await?
        .replica)
}

async fn outgoing_run(
    state: &AppState,
    connection: &Connection,
    item: &tandem_model::Item,
) -> Result<rules::OutgoingOutcome, RuleError> {
    outgoing_run_at(state, connection, item, None).await
}

async fn outgoing_run_at(
    state: &AppState,
    connection: &Connection,
    item: &tandem_model::Item,
    clock: Option<std::sync::Arc<dyn tandem_script::Clock>>,
) -> Result<rules::OutgoingOutcome, RuleError> {
    let source = connection.outgoing_script.clone();
    let env = helper_env(state, connection).with_item_key(item.key.clone());
    let env = match clock {
        Some(clock) => env.with_clock(clock),
        None => env,
    };
    let item = state.view().item_json(item);
    let _slot = state.rules_slot().await;
    tokio::task::spawn_blocking(move || rules::outgoing(&source, &item, &env))
        .await
        .unwrap_or_else(|e| {
            Err(RuleError {
                which: "outgoing",
                message: format!("the rules stopped unexpectedly: {e}"),
                trace: None,
                compile: false,
            })
        })
}

async fn incoming_step(state: &AppState) -> Result<usize, SyncFailure> {
    // First what an earlier apply left owed: the requests after it come after it.
    let owed_done = if state.owed().is_empty() {
        0
    } else {
        settle_owed(state).await?
    };
    let store = state.store();
    let mut requests = store.runnable_requests(BATCH).await?;
    // The store gives at most one request per twin (the next in its order), so these run side
    // by side. A request without an item (a clean-up) waits until those before it are done,
    // and runs alone.
    match requests.iter().position(|r| r.remote_key.is_none()) {
        Some(0) => requests.truncate(1),
        Some(at) => requests.truncate(at),
        None => {}
    }
    let count = requests.len();
    let mut connections: Vec<Connection> = Vec::new();
    let mut tasks = tokio::task::JoinSet::new();
    let mut storage_fault = None;
    for request in requests {
        let connection = match connections.iter().find(|c| c.id == request.connection_id) {
            Some(c) => c.clone(),
            None => {
                let Some(c) = store.connection(request.connection_id).await? else {
                    continue;
                };
                connections.push(c.clone());
                c
            }
        };
        // A paused connection's requests wait, stored, until it runs again.
        if connection.status == ConnectionStatus::Deactivated || paused(&connection) {
            continue;
        }
        while tasks.len() >= CONCURRENCY {
            storage_fault = storage_fault.or(finish(tasks.join_next().await));
        }
        let state = state.clone();
        tasks.spawn(async move { run_request(&state, &connection, &request).await });
    }
    while let Some(done) = tasks.join_next().await {
        storage_fault = storage_fault.or(finish(Some(done)));
    }
    // The requests it stopped stay pending: they run again after the loop's pause.
    if let Some(fault) = storage_fault {
        return Err(fault);
    }
    Ok(count + owed_done)
}

/// What an apply leaves to record with the request's completion, in its transaction.
/// The twin's lock stays held until that is recorded: a send in between would compare the
/// item with the replica sent before the apply, and send the remote's change back.
#[derive(Default)]
struct Completion<'a> {
    /// The twin as the apply left it.
    twin: Option<Twin>,
    /// A message for the remote (kind, payload): the acknowledgement.
    message: Option<(String, String)>,
    lock: Option<tokio::sync::MutexGuard<'a, ()>>,
    /// What the incoming rules asked `syncHelper` to do once the apply is recorded.
    after: AfterApply,
}

/// `syncHelper.syncBackAfterProcessing()` and `unExalateAfterProcessing()`, for the item.
#[derive(Default)]
struct AfterApply {
    key: Option<ItemKey>,
    sync_back: bool,
    unexalate: bool,
}

/// Applies one stored request and records how it went.
async fn run_request(
    state: &AppState,
    connection: &Connection,
    request: &tandem_model::IncomingRequest,
) -> Result<(), SyncFailure> {
    let store = state.store();
    let started = std::time::Instant::now();
    let payload: Value = serde_json::from_str(&request.payload).unwrap_or(Value::Null);
    let done = Completion::default();
    let result = match request.kind.as_str() {
        SYNC => apply_sync(state, connection, &payload).await,
        SYNC_ACK => apply_ack(state, connection, &payload).await,
        SYNC_KEY => apply_display_key(state, connection, &payload).await,
        SYNC_FAILED => super::report::reported(state, connection, &payload)
            .await
            .map(|()| done),
        super::operations::SYNC_STOP => {
            apply_stop(state, connection, &payload).await.map(|()| done)
        }
        super::operations::SYNC_CONNECT => apply_connect(state, connection, &payload).await,
        super::operations::SYNC_CONNECT_REFUSED => connect_refused(state, connection, &payload)
            .await
            .map(|()| done),
        super::operations::SYNC_CLEANUP => super::operations::apply_clean_up(state, connection)
            .await
            .map(|()| done),
        super::operations::SYNC_VOID => Ok(done),
        super::operations::SYNC_CLEANED_UP => {
            super::operations::cleaned_up_remotely(state, connection)
                .await
                .map(|()| done)
        }
        other => Err(SyncFailure::Apply(format!(
            "this node does not handle '{other}' messages"
        ))),
    };
    match result {
        Ok(done) => {
            store
                .complete_request(connection.id, request.id, done.twin, done.message)
                .await?;
            drop(done.lock);
            state.metrics().applied(&connection.name, started.elapsed());
            after_apply(state, connection, done.after).await;
            // On ServiceNow the change goes on to the instance: no need to wait for its round.
            state.wake_bridge();
            // A failure report syncs nothing: the connection's Last sync stays.
            if request.kind != SYNC_FAILED && request.kind != SYNC_KEY {
                touch_connection(state, connection.id).await;
            }
        }
        // Still pending: the next round runs it again on the item as it is then.
        Err(SyncFailure::Retry) => {}
        // Still pending too, and not the request's fault: it runs again once the store takes
        // writes (the step fails with it, so the loop pauses first).
        Err(e) if e.is_storage_fault() => return Err(e),
        // Not this request's fault: it waits, pending, while the connection is paused.
        Err(e @ SyncFailure::Rule(RuleError { compile: true, .. })) => {
            record_item_error(
                state,
                connection,
                None,
                request.remote_key.as_deref(),
                None,
                &e,
            )
            .await;
        }
        Err(e) => {
            let local = match &request.remote_key {
                Some(remote) => store
                    .twin_by_remote(connection.id, remote)
                    .await?
                    .map(|t| t.local_key),
                None => None,
            };
            // The error before the request's state: a request marked failed with no error to
            // say so would wait for an admin nobody tells. When the error cannot be recorded
            // (the disk is full) the request stays pending and runs again later.
            let recorded = try_record_item_error(
                state,
                connection,
                local.as_ref(),
                request.remote_key.as_deref(),
                Some(request.id),
                &e,
            )
            .await?;
            store
                .set_request_state(request.id, RequestState::Failed)
                .await?;
            // The sender's admin sees it too, on its item.
            if request.kind == SYNC
                && let Some(error) = recorded
            {
                super::report::report(state, connection, request, &error).await;
            }
        }
    }
    Ok(())
}

/// Does what the incoming rules asked for once their change is recorded: sends this side's
/// replica back (after the acknowledgement, in the connection's order) and stops the twin.
/// A failure here is the item's sync error; the change itself stays applied.
/// A storage fault leaves the work owed ([`Owed`]): the change is recorded, so the request is
/// done, and the incoming loop does the rest once the store takes writes again.
async fn after_apply(state: &AppState, connection: &Connection, after: AfterApply) {
    let Some(key) = after.key else { return };
    let mut work = Vec::with_capacity(2);
    if after.sync_back {
        work.push(AfterWork::SyncBack);
    }
    if after.unexalate {
        work.push(AfterWork::Unexalate);
    }
    let mut work = work.into_iter();
    while let Some(what) = work.next() {
        let result = what.run(state, connection, &key).await;
        match result {
            Ok(()) => {}
            Err(e) if e.is_storage_fault() => {
                crate::storage::report(state, "sync", &e, crate::storage::FIRST_PAUSE);
                // In order: a stop owed after a send owed waits for the send.
                for owed in std::iter::once(what).chain(work) {
                    state.owed().owe(connection.id, key.clone(), owed);
                }
                state.wake_sync();
                return;
            }
            Err(e) => record_item_error(state, connection, Some(&key), None, None, &e).await,
        }
    }
}

/// Sends this side's replica of the twin back (`syncHelper.syncBackAfterProcessing()`).
async fn sync_back(
    state: &AppState,
    connection: &Connection,
    key: &ItemKey,
) -> Result<(), SyncFailure> {
    let _twin = state.lock_twin(connection.id, key).await;
    match state.store().twin(connection.id, key).await? {
        Some(twin) if twin.state == TwinState::Active => {
            send_twin(state, connection, twin, true).await?;
            state.wake_delivery();
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Records the failure as the item's sync error (or the connection's, for rules that do not
/// compile); logs what cannot be recorded. A storage fault is never an item's error: it is
/// reported, rate-limited, and the work it stopped runs again by itself.
pub(crate) async fn record_item_error(
    state: &AppState,
    connection: &Connection,
    local_key: Option<&ItemKey>,
    remote_key: Option<&str>,
    request_id: Option<i64>,
    failure: &SyncFailure,
) {
    let _ = try_record_item_error(
        state, connection, local_key, remote_key, request_id, failure,
    )
    .await;
}

/// [`record_item_error`], failing with the storage fault that kept the error from being
/// recorded; the error recorded, when it was.
async fn try_record_item_error(
    state: &AppState,
    connection: &Connection,
    local_key: Option<&ItemKey>,
    remote_key: Option<&str>,
    request_id: Option<i64>,
    failure: &SyncFailure,
) -> Result<Option<tandem_model::SyncError>, SyncFailure> {
    if failure.is_storage_fault() {
        crate::storage::report(state, "sync", failure, crate::storage::FIRST_PAUSE);
        return Ok(None);
    }
    let (impact, trace) = match failure {
        SyncFailure::Rule(e) if e.compile => (Impact::Connection, e.trace.clone()),
        SyncFailure::Rule(e) => (Impact::Item, e.trace.clone()),
        _ => (Impact::Item, None),
    };
    tracing::warn!(connection = %connection.name, item = ?local_key, error = %failure, "Sync failed.");
    let recorded = state
        .store()
        .record_sync_error(NewSyncError {
            impact,
            connection_id: Some(connection.id),
            local_key: local_key.cloned(),
            remote_key: remote_key.map(str::to_owned),
            request_id,
            message: failure.to_string(),
            script_trace: trace,
            remote_error: None,
        })
        .await;
    let recorded = match recorded {
        Ok(error) => {
            notify_webhook(state, Some(connection), &error);
            Some(error)
        }
        Err(e) if e.is_storage_fault() => {
            crate::storage::report(state, "sync", &e, crate::storage::FIRST_PAUSE);
            return Err(e.into());
        }
        Err(e) => {
            tracing::error!(error = %e, "A sync error could not be recorded.");
            None
        }
    };
    if let SyncFailure::Rule(e) = failure
        && e.compile
    {
        pause_for_rules(state, connection.id, e).await;
    }
    Ok(recorded)
}

/// The node's plan allows one more twin this month, or the item gets an error that says so
/// (Resolve and retry once a license key is added, or next month).
pub(crate) async fn admit_new_twin(state: &AppState) -> Result<(), SyncFailure> {
    match crate::license::admit_new_twin(state).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(refusal)) => Err(SyncFailure::Apply(refusal.to_string())),
        Err(e) => Err(SyncFailure::Apply(format!(
            "the node's plan could not be read: {e}"
        ))),
    }
}

/// Puts the connection in Error because its rules do not compile: nothing more of it runs
/// (each item would fail the same way) until the rules are saved again.
async fn pause_for_rules(state: &AppState, id: Uuid, e: &RuleError) {
    for _ in 0..5 {
        let Ok(Some(mut connection)) = state.store().connection(id).await else {
            return;
        };
        if paused_by_rules(&connection) {
            return;
        }
        connection.status = ConnectionStatus::Error;
        connection.status_reason = Some(format!("{RULES_BROKEN}{e}"));
        connection.updated = Timestamp::now();
        match state.store().update_connection(&connection).await {
            Ok(_) => {
                tracing::warn!(connection = %connection.name, error = %e, "The connection is paused: its sync rules do not compile.");
                return;
            }
            Err(StoreError::Changed { .. }) => {}
            Err(err) => {
                tracing::error!(error = %err, "A connection could not be paused.");
                return;
            }
        }
    }
}

/// Tells the configured webhook about a new sync error, in the background (a slow or broken
/// webhook never holds up sync): an error of a connection, or of the node's tracker when
/// `connection` is `None` (ServiceNow refused a write).
pub(crate) fn notify_webhook(
    state: &AppState,
    connection: Option<&Connection>,
    error: &tandem_model::SyncError,
) {
    let Some(url) = state.config().error_webhook.clone() else {
        return;
    };
    let notice = json!({
        "event": "sync_error",
        "node": state.settings().name,
        "id": error.id,
        "impact": error.impact.as_str(),
        "connection": connection.map(|c| c.name.as_str()),
        "item": error.local_key.as_ref().map(ToString::to_string),
        "remote_item": error.remote_key,
        "at": error.at.to_string(),
        "message": error.message,
        "errors_page": format!("{}/sync/errors", state.settings().node_url),
    });
    let http = state.admin_http().clone();
    tokio::spawn(async move {
        if let Err(e) = http.post(&url).json(&notice).send().await {
            tracing::warn!(webhook = %url, error = %e, "The error webhook could not be called.");
        }
    });
}

/// Applies one replica from the remote.
async fn apply_sync<'a>(
    state: &'a AppState,
    connection: &Connection,
    payload: &Value,
) -> Result<Completion<'a>, SyncFailure> {
    let store = state.store();
    let remote_key = payload["local_key"]
        .as_str()
        .ok_or_else(|| SyncFailure::Apply("the sync request names no item".into()))?
        .to_owned();
    let replica = payload["replica"].clone();
    // A sender that carries no versions (none does today) has its fields taken as they come.
    let remote_clock = match payload.get("clock") {
        Some(clock) => Some(
            FieldClocks::from_json(clock)
                .map_err(|e| SyncFailure::Apply(format!("the sync request's {e}")))?,
        ),
        None => None,
    };
    let mut known = store.twin_by_remote(connection.id, &remote_key).await?;
    // The sender names this side's item: an item this side exalated, whose acknowledgement
    // (which carries the sender's key) may come after this change. Never a second item for it.
    if known.is_none()
        && let Some(mine) = payload["remote_key"]
            .as_str()
            .and_then(|k| k.parse::<ItemKey>().ok())
        && let Some(t) = store.twin(connection.id, &mine).await?
        && t.remote_key.is_none()
    {
        known = Some(t);
    }
    // Held to the end: no send or acknowledgement of this twin runs in between.
    let twin_lock = match &known {
        Some(t) => Some(state.lock_twin(connection.id, &t.local_key).await),
        None => None,
    };
    // The item's last history entry before this apply (read before this side's changes are
    // sent, so it is never later than what was sent): a change people make while the apply
    // runs must still be sent, not folded into what counts as sent.
    let history_before = match &known {
        Some(t) => Some(
            store
                .history(&t.local_key)
                .await?
                .last()
                .map_or(0, |c| c.id),
        ),
        None => None,
    };
    // The item left the connection's scope (the admin narrowed it, or the item no longer
    // matches its query): the remote no longer writes it, and learns nothing (no answer;
    // the error is this side's, and Resolve and retry applies it once the scope holds it).
    if let Some(t) = &known
        && !scope::contains(state, connection, &t.local_key).await?
    {
        return Err(SyncFailure::Apply(format!(
            "the change from {remote_key} was not applied: {} is outside the scope of connection {}",
            t.local_key, connection.name
        )));
    }
    let (twin, item_before) = match known {
        Some(t) => {
            // This side's own changes go out first, stamped: the versions compared below must
            // be this side's current ones, and the item the rules see the one stamped.
            let sent = send_locked(state, connection, &t.local_key).await?;
            let item = sent.item.ok_or_else(|| {
                SyncFailure::Apply(format!("the local item {} no longer exists", t.local_key))
            })?;
            let twin = store
                .twin(connection.id, &t.local_key)
                .await?
                .ok_or_else(|| {
                    SyncFailure::Apply(format!("the twin of {} vanished", t.local_key))
                })?;
            (Some(twin), Some(item))
        }
        None => {
            // Sent before the remote took in this side's Clean-up: it would make a second copy
            // of an item whose link the Clean-up removed. Dropped, and said so.
            if super::operations::cleaning_up(state, connection).await? {
                tracing::warn!(connection = %connection.name, remote_item = %remote_key, "Dropped a change the remote sent before it took in the Clean-up.");
                return Ok(Completion::default());
            }
            // The sender holds its item linked to one of this side's that no twin here links
            // back to (a Connect this side refused, the refusal still on its way): not a new
            // item, so no copy. Dropped, and said so.
            if let Some(linked) = payload["remote_key"].as_str() {
                tracing::warn!(connection = %connection.name, remote_item = %remote_key, item = linked, "Dropped a change for an item the remote links to one this side does not link back.");
                return Ok(Completion::default());
            }
            (None, None)
        }
    };
    let first_sync = twin.is_none();
    if let Some(t) = &twin {
        learn_links(state, connection, &t.local_key, payload).await?;
    }
    let (links, attachment_links, previous) = match &twin {
        Some(t) => (
            store.comment_twins(connection.id, &t.local_key).await?,
            store.attachment_twins(connection.id, &t.local_key).await?,
            t.last_received
                .as_deref()
                .and_then(|p| serde_json::from_str(p).ok()),
        ),
        None => (Vec::new(), Vec::new(), None),
    };
    // Every field settled by the versions of both sides: the greater keeps its value.
    let flushed: Option<Value> = twin
        .as_ref()
        .and_then(|t| t.last_sent.as_deref())
        .and_then(|l| serde_json::from_str(l).ok());
    let settled = match (&twin, &remote_clock, &flushed) {
        (Some(t), Some(remote), Some(local_now)) => {
            match (
                Replica::from_json(local_now.clone()),
                Replica::from_json(replica.clone()),
            ) {
                (Ok(local_now), Ok(incoming)) => tandem_model::settle(
                    &t.clock,
                    remote,
                    &local_now,
                    &incoming,
                    precedence(connection, t),
                ),
                _ => Vec::new(),
            }
        }
        _ => Vec::new(),
    };
    // The rules see the fields this side keeps as this side's item has them now (what its
    // outgoing rules make of it), so whatever they make of them (`entity.short_description =
    // replica.summary` on ServiceNow, a field of another name) leaves the local value as it is.
    let keeps_local = settled.iter().any(|s| {
        s.kept == Side::Local && !s.same && !matches!(s.field.as_str(), "comments" | "attachments")
    });
    let rules_replica = match (&item_before, keeps_local) {
        (Some(before), true) => {
            let local = outgoing_replica(state, connection, before).await?;
            replica_keeping_local(&replica, Some(&local), &settled)
        }
        _ => replica.clone(),
    };
    let input = IncomingInput {
        replica: rules_replica,
        previous,
        first_sync,
        item: item_before.as_ref().map_or_else(
            || state.view().blank_item_json(),
            |i| state.view().item_json(i),
        ),
        comment_twins: links.iter().map(CommentLink::twin).collect(),
        attachment_twins: attachment_links
            .iter()
            .map(tandem_model::AttachmentLink::twin)
            .collect(),
        journals: state.view().journals(),
    };
    let source = connection.incoming_script.clone();
    // The incoming rules run once per change applied: their httpClient writes go out.
    let env = helper_env(state, connection).with_writes(super::helpers::Writes::Send);
    let env = if first_sync {
        // A first sync makes a twin, whichever way the rules make or find its item.
        admit_new_twin(state).await?;
        env.with_remote_key(remote_key.clone())
    } else {
        env
    };
    let slot = state.rules_slot().await;
    let mut outcome = tokio::task::spawn_blocking(move || rules::incoming(&source, input, &env))
        .await
        .map_err(|e| SyncFailure::Apply(format!("the rules stopped unexpectedly: {e}")))??;
    drop(slot);
    let shown = item_before
        .as_ref()
        .map_or_else(|| format!("new from {remote_key}"), |i| i.key.to_string());
    emit_log(connection, &shown, &outcome.log);
    if outcome.sync_back && payload["sync_back"].as_bool() == Some(true) {
        // This change is itself a sync back: answering it with another would never end.
        tracing::info!(connection = %connection.name, item = %shown, "syncBackAfterProcessing() is not honoured for a change that is itself sent back.");
        outcome.sync_back = false;
    }
    if let Some(before) = &item_before {
        // Where a kept field has the same name on the item, restore its exact value too: rules
        // that transform a value on the way out and back (`toUpperCase()` one way only) would
        // otherwise change it even from this side's own replica.
        keep_local_values(&mut outcome.item, &state.view().item_json(before), &settled);
        for conflict in settled.iter().filter_map(|s| s.conflict.as_ref()) {
            store
                .record_conflict(tandem_model::ConflictRecord {
                    id: 0,
                    connection_id: connection.id,
                    local_key: before.key.clone(),
                    field: conflict.field.clone(),
                    local_value: conflict.local_value.to_string(),
                    remote_value: conflict.remote_value.to_string(),
                    kept_local: conflict.kept == Side::Local,
                    at: Timestamp::now(),
                    restored: None,
                })
                .await?;
        }
    }

    let actor = actor(connection);
    let item = match item_before {
        // The rules connected the remote item to one that exists here (Exalate's
        // `return new Tuple2(new BasicIssueKey(…), traces)`): linked, nothing created or
        // written.
        None if outcome.connect.as_ref().is_some_and(|c| c.stored) => {
            // `store(issue)` made the item and its twin during the run: what the rules set
            // after is applied to it.
            let key: tandem_model::ItemKey = outcome
                .connect
                .as_ref()
                .and_then(|c| c.key.as_deref())
                .and_then(|k| k.parse().ok())
                .ok_or_else(|| SyncFailure::Apply("store(issue) made no item".into()))?;
            let stored = store.item(&key).await?.ok_or_else(|| {
                SyncFailure::Apply(format!("the item {key} store(issue) made vanished"))
            })?;
            let mut patch = state.view().patch_from_json(&stored, &outcome.item)?;
            if patch == tandem_model::ItemPatch::default() {
                stored
            } else {
                patch.expected_version = Some(stored.version);
                store.update_item(&key, patch, &actor).await?
            }
        }
        None if outcome.connect.is_some() => {
            connect_existing(state, connection, &remote_key, outcome.connect.as_ref()).await?
        }
        None => {
            let new = match state.view().new_item_from_json(&outcome.item) {
                Ok(new) => new,
                // The default rules read the target project: say what is missing, and where
                // to set it, rather than which field the rules left empty.
                Err(e) if e.field == "projectKey" && connection.target_project.is_none() => {
                    return Err(SyncFailure::NoTargetProject {
                        connection: connection.name.clone(),
                        remote: connection.remote_short_name.clone(),
                    });
                }
                Err(e) => return Err(e.into()),
            };
            if connection.target_project.as_deref() == Some(new.project.as_str())
                && store.project(&new.project).await?.is_none()
            {
                return Err(SyncFailure::TargetProjectMissing {
                    connection: connection.name.clone(),
                    project: new.project.to_string(),
                });
            }
            // Only where the scope reaches: rules that create elsewhere give the remote no
            // item it could then read.
            if !scope::reach(state, connection)
                .await?
                .may_hold(&new.project)
            {
                return Err(SyncFailure::Apply(format!(
                    "the incoming rules create {remote_key}'s copy in project {}, outside the scope of connection {}: widen the scope or change the rules",
                    new.project, connection.name
                )));
            }
            admit_new_twin(state).await?;
            let (item, _created) = store
                .create_twinned_item(connection.id, &remote_key, new, &actor)
                .await?;
            item
        }
        Some(before) => {
            let mut patch = state.view().patch_from_json(&before, &outcome.item)?;
            if patch == tandem_model::ItemPatch::default() {
                before
            } else {
                // Only over the item the rules saw: a change made meanwhile is handled by a
                // fresh run, never overwritten.
                patch.expected_version = Some(before.version);
                match store.update_item(&before.key, patch, &actor).await {
                    Ok(item) => item,
                    Err(StoreError::VersionConflict { .. }) => return Err(SyncFailure::Retry),
                    Err(e) => return Err(e.into()),
                }
            }
        }
    };

    // The fields as this apply wrote them, before anyone else's change could come in.
    let written = item.clone();
    // Comments and attachments written below change the item as the rules will see it.
    let touched_children = !outcome.comment_ops.is_empty()
        || !outcome.attachment_ops.is_empty()
        || !outcome.new_comments.is_empty();
    // Comments the rules added themselves (`commentHelper.addComment`): this side's own, by
    // this side of the connection. They count as sent with the rest of this apply.
    for added in std::mem::take(&mut outcome.new_comments) {
        store
            .add_comment(
                &item.key,
                NewComment {
                    author: Person {
                        name: connection.local_short_name.clone(),
                        email: None,
                    },
                    body: added.body,
                    internal: added.internal,
                    origin: None,
                },
                &actor,
            )
            .await?;
    }
    let mut acked_comments = Vec::new();
    for op in outcome.comment_ops {
        match op {
            CommentOp::Add {
                remote_id,
                body,
                internal,
                author,
                written_by,
            } => {
                let comment = store
                    .add_twinned_comment(
                        connection.id,
                        &item.key,
                        &remote_id,
                        NewComment {
                            author: Person {
                                name: author
                                    .unwrap_or_else(|| connection.remote_short_name.clone()),
                                email: None,
                            },
                            body,
                            internal,
                            origin: Some(tandem_model::CommentOrigin {
                                synced_from: connection.remote_short_name.clone(),
                                author: written_by,
                            }),
                        },
                        &actor,
                    )
                    .await?;
                acked_comments
                    .push(json!({"remote_id": remote_id, "local_id": comment.id.to_string()}));
            }
            // Gone already (deleted here meanwhile, or by this request's run that a crash cut
            // short): nothing left to do.
            CommentOp::Edit { local_id, body, .. } => {
                match store.edit_comment(&item.key, local_id, &body, &actor).await {
                    Ok(_) | Err(StoreError::NotFound { .. }) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            CommentOp::Delete { local_id } => {
                match store.delete_comment(&item.key, local_id, &actor).await {
                    Ok(()) | Err(StoreError::NotFound { .. }) => {}
                    Err(e) => return Err(e.into()),
                }
                match store
                    .delete_comment_twin(connection.id, &item.key, local_id)
                    .await
                {
                    Ok(()) | Err(StoreError::NotFound { .. }) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
    }

    // Comments the rules linked themselves (`traces.add(new BasicNonPersistentTrace()…)`):
    // the local comment is the remote one's copy from now on, and the remote learns it.
    for (local_id, remote_id) in std::mem::take(&mut outcome.comment_traces) {
        let Ok(local_id) = local_id.parse::<i64>() else {
            continue;
        };
        let linked = store.comment_twins(connection.id, &item.key).await?;
        if linked
            .iter()
            .any(|l| l.remote_id == remote_id || l.local_id == local_id)
        {
            continue;
        }
        let exists = store
            .item(&item.key)
            .await?
            .is_some_and(|i| i.comments.iter().any(|c| c.id == local_id));
        if !exists {
            return Err(SyncFailure::Apply(format!(
                "the incoming rules traced remote comment {remote_id} to comment {local_id}, which {} does not have",
                item.key
            )));
        }
        store
            .add_comment_twin(tandem_model::CommentLink {
                connection_id: connection.id,
                local_key: item.key.clone(),
                local_id,
                remote_id: remote_id.clone(),
                origin: Side::Remote,
            })
            .await?;
        acked_comments.push(json!({"remote_id": remote_id, "local_id": local_id.to_string()}));
    }

    let mut acked_attachments = Vec::new();
    for op in outcome.attachment_ops {
        if let Some((remote_id, local_id)) =
            apply_attachment(state, connection, &item.key, op, &payload["files"], &actor).await?
        {
            acked_attachments
                .push(json!({"remote_id": remote_id, "local_id": local_id.to_string()}));
        }
    }

    // Record what was received, and take what the item now looks like as sent: the change
    // just applied is the remote's, not one to send back.
    let after = if touched_children {
        store.item(&item.key).await?.unwrap_or(item)
    } else {
        item
    };
    // A twin made by this apply is this apply's alone (nothing else knows the new item yet).
    let mut twin = match twin {
        Some(t) => t,
        None => store
            .twin(connection.id, &after.key)
            .await?
            .ok_or_else(|| SyncFailure::Apply(format!("the twin of {} vanished", after.key)))?,
    };
    let baseline = outgoing_replica(state, connection, &after).await?;
    // Someone changed the item while the apply ran (the item update itself refuses that, but
    // a comment or an attachment may come in between): only the fields the remote won count
    // as sent, so that the rest still goes out.
    let changed_meanwhile = match &history_before {
        Some(last) => store
            .history(&after.key)
            .await?
            .iter()
            .any(|c| c.id > *last && !c.actor.starts_with("sync:")),
        None => false,
    };
    let counted_sent = match (&flushed, changed_meanwhile) {
        (Some(flushed), true) => {
            let written = outgoing_replica(state, connection, &written).await?;
            sent_with_remote_fields(flushed, &written, &settled)
        }
        _ => baseline,
    };
    twin.last_sent = Some(counted_sent.to_string());
    if let Some(remote) = &remote_clock {
        let me = precedence(connection, &twin);
        twin.clock.merge(remote, me);
    }
    twin.remote_key = Some(remote_key.clone());
    twin.last_received = Some(replica.to_string());
    twin.last_sync = Some(Timestamp::now());
    learn_display_key(&mut twin, payload);
    // The key this side's admin knows the item by goes back with the acknowledgement: the
    // remote shows it for its twin (a ServiceNow number comes later, by `SYNC_KEY`).
    let display_key = crate::servicenow::keys::display_key(state, &after);
    twin.display_key_sent.clone_from(&display_key);
    let ack = json!({
        "your_key": remote_key,
        "my_key": after.key.to_string(),
        "display_key": display_key,
        "comments": acked_comments,
        "attachments": acked_attachments,
        // What this side counts as sent, never a change made meanwhile: the remote takes it
        // as its `previous`, and a change already in it would never count as added. When the
        // rules send the replica back after this apply, that replica is the remote's next one
        // to compare with its `previous`: what these rules added (a comment) must count as
        // added there, so the acknowledgement carries none.
        "replica": if outcome.sync_back { Value::Null } else { counted_sent.clone() },
    });
    // Recorded with the request's completion, in one transaction.
    Ok(Completion {
        after: AfterApply {
            key: Some(after.key.clone()),
            sync_back: outcome.sync_back,
            unexalate: outcome.unexalate,
        },
        twin: Some(twin),
        message: Some((SYNC_ACK.to_owned(), ack.to_string())),
        lock: twin_lock,
    })
}

/// Adds, links or removes one attachment as the merge decided; an added file's bytes come
/// with the request and must match the hash the replica gives.
async fn apply_attachment(
    state: &AppState,
    connection: &Connection,
    key: &ItemKey,
    op: tandem_model::AttachmentOp,
    files: &Value,
    actor: &Actor,
) -> Result<Option<(String, i64)>, SyncFailure> {
    use base64::Engine as _;
    use tandem_model::{AttachmentLink, AttachmentOp, NewAttachment};
    let store = state.store();
    match op {
        AttachmentOp::Add {
            remote_id,
            filename,
            mimetype,
            hash,
        } => {
            let bytes = files[remote_id.as_str()]
                .as_str()
                .and_then(|b64| base64::engine::general_purpose::STANDARD.decode(b64).ok())
                .ok_or_else(|| {
                    SyncFailure::Apply(format!(
                        "the remote sent attachment {filename} without its content"
                    ))
                })?;
            let actual = {
                use sha2::Digest as _;
                sha2::Sha256::digest(&bytes)
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<String>()
            };
            if !actual.eq_ignore_ascii_case(&hash) {
                return Err(SyncFailure::Apply(format!(
                    "attachment {filename} arrived damaged: its SHA-256 is {actual}, the remote said {hash}"
                )));
            }
            let attachment = store
                .add_twinned_attachment(
                    connection.id,
                    key,
                    &remote_id,
                    NewAttachment {
                        filename,
                        mime_type: mimetype,
                        author: Person {
                            name: connection.remote_short_name.clone(),
                            email: None,
                        },
                        bytes,
                    },
                    actor,
                )
                .await?;
            return Ok(Some((remote_id, attachment.id)));
        }
        AttachmentOp::Link {
            local_id,
            remote_id,
        } => {
            store
                .add_attachment_twin(AttachmentLink {
                    connection_id: connection.id,
                    local_key: key.clone(),
                    local_id,
                    remote_id,
                    origin: Side::Remote,
                })
                .await?;
        }
        AttachmentOp::Remove { local_id } => {
            match store.remove_attachment(key, local_id, actor).await {
                Ok(()) | Err(StoreError::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
            match store
                .delete_attachment_twin(connection.id, key, local_id)
                .await
            {
                Ok(()) | Err(StoreError::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(None)
}

/// Puts back this side's value of every field where its version is the greater: the incoming
/// rules set fields from the replica wholesale, and an older value must not overwrite a newer
/// one. (Where both hold the same version, what the rules make of it stands: they may derive
/// the field from something else.) Assumes, as the default rules do, that a replica key names
/// the same item field on both sides.
/// The incoming replica with every field this side keeps (settled local, with a different
/// value) replaced by this side's value in `local_now` (its item as its outgoing rules see it). Comments and attachments are merged
/// by their own rules and left as they are.
fn replica_keeping_local(
    replica: &Value,
    local_now: Option<&Value>,
    settled: &[tandem_model::Settled],
) -> Value {
    let mut out = replica.clone();
    let (Some(local_now), Some(map)) = (local_now, out.as_object_mut()) else {
        return out;
    };
    for field in settled.iter().filter(|s| s.kept == Side::Local && !s.same) {
        match field.field.split_once('.') {
            Some(("customFields", name)) => {
                let local = local_now["customFields"].get(name).cloned();
                let fields = map
                    .entry("customFields")
                    .or_insert_with(|| Value::Object(serde_json::Map::new()));
                if let Some(fields) = fields.as_object_mut() {
                    match local {
                        Some(v) => {
                            fields.insert(name.to_owned(), v);
                        }
                        None => {
                            fields.remove(name);
                        }
                    }
                }
            }
            _ if matches!(field.field.as_str(), "comments" | "attachments") => {}
            _ => match local_now.get(&field.field) {
                Some(v) => {
                    map.insert(field.field.clone(), v.clone());
                }
                None => {
                    map.remove(&field.field);
                }
            },
        }
    }
    out
}

fn keep_local_values(item: &mut Value, before: &Value, settled: &[tandem_model::Settled]) {
    for field in settled.iter().filter(|s| s.kept == Side::Local && !s.same) {
        match field.field.split_once('.') {
            Some(("customFields", name)) => {
                if let Some(fields) = item["customFields"].as_object_mut() {
                    match before["customFields"].get(name) {
                        Some(v) => {
                            fields.insert(name.to_owned(), v.clone());
                        }
                        None => {
                            fields.remove(name);
                        }
                    }
                }
            }
            _ => {
                if let Some(fields) = item.as_object_mut() {
                    match before.get(&field.field) {
                        Some(v) => {
                            fields.insert(field.field.clone(), v.clone());
                        }
                        None => {
                            fields.remove(&field.field);
                        }
                    }
                }
            }
        }
    }
}

/// The replica to count as sent when the item also changed locally during an apply: the one
/// sent before, with the values of the fields the remote won or the rules wrote at the same
/// version taken from `baseline` (what the rules make of the item as the apply wrote it). Everything else still differs and goes out with the next send.
fn sent_with_remote_fields(
    flushed: &Value,
    baseline: &Value,
    settled: &[tandem_model::Settled],
) -> Value {
    let mut sent = flushed.clone();
    let Some(out) = sent.as_object_mut() else {
        return baseline.clone();
    };
    for field in settled.iter().filter(|s| s.kept == Side::Remote || s.same) {
        let (container, name) = match field.field.split_once('.') {
            Some(("customFields", name)) => (Some("customFields"), name),
            _ => (None, field.field.as_str()),
        };
        let (target, source) = match container {
            Some(c) => {
                let Some(target) = out.entry(c).or_insert_with(|| json!({})).as_object_mut() else {
                    continue;
                };
                (target, &baseline[c])
            }
            None => (&mut *out, baseline),
        };
        match source.get(name) {
            Some(v) => {
                target.insert(name.to_owned(), v.clone());
            }
            None => {
                target.remove(name);
            }
        }
    }
    sent
}

/// Which kind of link an acknowledgement reports.
#[derive(Clone, Copy)]
enum Child {
    Comment,
    Attachment,
}

/// The remote applied one of this side's replicas: learn its key and its comment ids.
async fn apply_ack<'a>(
    state: &'a AppState,
    connection: &Connection,
    payload: &Value,
) -> Result<Completion<'a>, SyncFailure> {
    let store = state.store();
    let local: ItemKey = payload["your_key"]
        .as_str()
        .and_then(|k| k.parse().ok())
        .ok_or_else(|| {
            SyncFailure::Apply("the acknowledgement names no item of this node".into())
        })?;
    let remote = payload["my_key"]
        .as_str()
        .ok_or_else(|| SyncFailure::Apply("the acknowledgement names no remote item".into()))?;
    let twin_lock = state.lock_twin(connection.id, &local).await;
    let Some(mut twin) = store.twin(connection.id, &local).await? else {
        return Ok(Completion::default()); // unexalated meanwhile (the lock is let go here)
    };
    // Not for an item outside the scope: its link and replicas stay as they are.
    if !scope::contains(state, connection, &local).await? {
        tracing::warn!(connection = %connection.name, item = %local, remote_item = remote, "Dropped an acknowledgement for an item outside the connection's scope.");
        return Ok(Completion::default());
    }
    if twin.remote_key.as_deref() != Some(remote) {
        twin.remote_key = Some(remote.to_owned());
    }
    learn_display_key(&mut twin, payload);
    // The remote's replica after it applied ours: what both sides now agree on.
    if payload["replica"].is_object() {
        twin.last_received = Some(payload["replica"].to_string());
    }
    twin.last_sync = Some(Timestamp::now());
    learn_links(state, connection, &local, payload).await?;
    // The remote applied a change of the item: what it reported failing before is over.
    store.resolve_reported_errors(connection.id, &local).await?;
    Ok(Completion {
        twin: Some(twin),
        message: None,
        lock: Some(twin_lock),
        after: AfterApply::default(),
    })
}

/// Takes the display key a replica, acknowledgement or [`SYNC_KEY`] says the remote's item is
/// known by (`display_key`: text, or null for none). A message without the field (an older
/// node) leaves the key shown as it is; text that is no key to show is taken as none.
fn learn_display_key(twin: &mut Twin, payload: &Value) {
    let Some(told) = payload.get("display_key") else {
        return;
    };
    twin.remote_display_key = told
        .as_str()
        .and_then(tandem_model::twin::display_key)
        .map(str::to_owned);
}

/// [`SYNC_KEY`]: the remote's item is known by a new display key. For a twin this side does
/// not have (unexalated meanwhile) there is nothing to do.
async fn apply_display_key<'a>(
    state: &'a AppState,
    connection: &Connection,
    payload: &Value,
) -> Result<Completion<'a>, SyncFailure> {
    let store = state.store();
    let remote = payload["my_key"]
        .as_str()
        .ok_or_else(|| SyncFailure::Apply("the new display key names no remote item".into()))?;
    let Some(found) = store.twin_by_remote(connection.id, remote).await? else {
        return Ok(Completion::default());
    };
    let lock = state.lock_twin(connection.id, &found.local_key).await;
    let Some(mut twin) = store.twin(connection.id, &found.local_key).await? else {
        return Ok(Completion::default());
    };
    if twin.remote_key.as_deref() != Some(remote) {
        return Ok(Completion::default()); // linked to another remote item meanwhile
    }
    learn_display_key(&mut twin, payload);
    Ok(Completion {
        twin: Some(twin),
        lock: Some(lock),
        ..Completion::default()
    })
}

/// Records the comment and attachment links `payload` reports, as `[{"remote_id": this side's
/// id, "local_id": the remote's id}]` under `comments` and `attachments`: an acknowledgement
/// reports the copies the remote just made, and every sync request repeats the copies its
/// sender holds — so a copy of this side's comment that comes back before the
/// acknowledgement is known for what it is, never added a second time.
async fn learn_links(
    state: &AppState,
    connection: &Connection,
    local: &ItemKey,
    payload: &Value,
) -> Result<(), SyncFailure> {
    let store = state.store();
    for (links, child) in [
        ("comments", Child::Comment),
        ("attachments", Child::Attachment),
    ] {
        for link in payload[links].as_array().into_iter().flatten() {
            let (Some(mine), Some(theirs)) = (
                link["remote_id"]
                    .as_str()
                    .and_then(|s| s.parse::<i64>().ok()),
                link["local_id"].as_str(),
            ) else {
                continue;
            };
            let (local_key, remote_id) = (local.clone(), theirs.to_owned());
            let result = match child {
                Child::Comment => {
                    store
                        .add_comment_twin(CommentLink {
                            connection_id: connection.id,
                            local_key,
                            local_id: mine,
                            remote_id,
                            origin: Side::Local,
                        })
                        .await
                }
                Child::Attachment => {
                    store
                        .add_attachment_twin(tandem_model::AttachmentLink {
                            connection_id: connection.id,
                            local_key,
                            local_id: mine,
                            remote_id,
                            origin: Side::Local,
                        })
                        .await
                }
            };
            // Already linked (a repeated acknowledgement), or removed meanwhile: nothing to do.
            if let Err(e) = result
                && !matches!(
                    e,
                    StoreError::AlreadyExists(_) | StoreError::NotFound { .. }
                )
            {
                return Err(e.into());
            }
        }
    }
    Ok(())
}

/// The remote unexalated its item: stop this side's twin too (both keep their data).
async fn apply_stop(
    state: &AppState,
    connection: &Connection,
    payload: &Value,
) -> Result<(), SyncFailure> {
    let store = state.store();
    let Some(local) = payload["your_key"]
        .as_str()
        .and_then(|k| k.parse::<ItemKey>().ok())
    else {
        return Err(SyncFailure::Apply(
            "the unexalate names no item of this node".into(),
        ));
    };
    if let Some(mut twin) = store.twin(connection.id, &local).await?
        && twin.state != TwinState::Stopped
    {
        twin.state = TwinState::Stopped;
        store.update_twin(&twin).await?;
    }
    Ok(())
}

/// The remote connected one of its items to one of this node's: record the twin here too.
/// A Connect this side does not take — the key names no item here, or one outside the
/// connection's scope, or one in sync with another item of the remote, or the incoming rules
/// refuse it — is answered with [`SYNC_CONNECT_REFUSED`] and the one reason
/// [`scope::REFUSED`], whatever the case, so that the remote cannot tell which keys exist
/// here; the precise reason is logged. Nothing changes here.
///
/// [`SYNC_CONNECT_REFUSED`]: super::operations::SYNC_CONNECT_REFUSED
async fn apply_connect<'a>(
    state: &'a AppState,
    connection: &Connection,
    payload: &Value,
) -> Result<Completion<'a>, SyncFailure> {
    let store = state.store();
    let (Some(asked), Some(remote)) = (payload["your_key"].as_str(), payload["my_key"].as_str())
    else {
        return Err(SyncFailure::Apply("the connect names no items".into()));
    };
    let refuse = |reason: String| {
        tracing::warn!(connection = %connection.name, item = asked, remote_item = remote, reason = %reason, "Refused a Connect.");
        let answer = json!({"your_key": remote, "my_key": asked, "reason": scope::REFUSED});
        Ok(Completion {
            message: Some((
                super::operations::SYNC_CONNECT_REFUSED.to_owned(),
                answer.to_string(),
            )),
            ..Completion::default()
        })
    };
    // The remote's admin may have typed the key this side's admin knows the item by (a
    // ServiceNow record's number).
    let Some(local) = crate::servicenow::keys::resolve(state, asked).await? else {
        return refuse(format!("{asked} is not an item key on this node"));
    };
    let Some(item) = store.item(&local).await? else {
        return refuse(format!("this node has no item {local}"));
    };
    if !scope::contains(state, connection, &local).await? {
        return refuse(format!("{local} is outside the connection's scope"));
    }
    // Held until the completion is recorded: an Exalate or Unexalate here meanwhile would
    // otherwise write its older copy of the twin back.
    let lock = state.lock_twin(connection.id, &local).await;
    let twin = store.twin(connection.id, &local).await?;
    if let Some(twin) = &twin
        && twin.state == TwinState::Active
        && twin.remote_key.as_deref().is_some_and(|k| k != remote)
    {
        return refuse(format!(
            "{local} is in sync with {} on this connection already",
            twin.remote_key.as_deref().unwrap_or_default()
        ));
    }
    if twin.is_none() && super::operations::cleaning_up(state, connection).await? {
        tracing::warn!(connection = %connection.name, item = %local, "Dropped a Connect the remote sent before it took in the Clean-up.");
        return Ok(Completion::default());
    }
    // The incoming rules have their say: a throw (or `debug.error`) refuses the Connect. What
    // they set is not written: Connect copies nothing.
    match connect_rules(state, connection, &item, remote, payload).await {
        Ok(()) => {}
        Err(e @ SyncFailure::Rule(RuleError { compile: true, .. })) => return Err(e),
        Err(SyncFailure::Rule(e)) => {
            return refuse(format!("the incoming rules refused it: {e}"));
        }
        Err(e) => return Err(e),
    }
    // The sender learns the key that links the twin when its admin typed another (a number),
    // and the key this side's admin knows the item by, as an acknowledgement would tell it.
    let display_key = crate::servicenow::keys::display_key(state, &item);
    let answer = (asked != local.to_string() || display_key.is_some()).then(|| {
        let ack =
            json!({"your_key": remote, "my_key": local.to_string(), "display_key": display_key});
        (SYNC_ACK.to_owned(), ack.to_string())
    });
    match twin {
        Some(mut twin) => {
            let was_stopped = twin.state == TwinState::Stopped;
            twin.remote_key = Some(remote.to_owned());
            twin.state = TwinState::Active;
            if answer.is_some() {
                twin.display_key_sent.clone_from(&display_key);
            }
            learn_display_key(&mut twin, payload);
            // Exalated again after an Unexalate: what changed here meanwhile goes out, recorded
            // with the twin and the request's completion in one transaction.
            let mut message = None;
            if was_stopped
                && let Some(out) = prepare_send(state, connection, twin.clone(), false)
                    .await?
                    .outgoing
            {
                twin = out.twin;
                message = Some((out.kind.to_owned(), out.payload));
            }
            // The answer goes first, for the sender to know the key the change names.
            match (answer, &message) {
                (Some((kind, ack)), Some(_)) => {
                    store.enqueue_message(connection.id, &kind, &ack).await?;
                }
                (Some(ack), None) => message = Some(ack),
                (None, _) => {}
            }
            Ok(Completion {
                twin: Some(twin),
                message,
                lock: Some(lock),
                after: AfterApply::default(),
            })
        }
        None => {
            admit_new_twin(state).await?;
            let baseline = outgoing_replica(state, connection, &item).await?;
            let mut twin = Twin {
                connection_id: connection.id,
                local_key: local,
                remote_key: Some(remote.to_owned()),
                state: TwinState::Active,
                last_sent: Some(baseline.to_string()),
                last_received: None,
                created: Timestamp::now(),
                last_sync: Some(Timestamp::now()),
                clock: FieldClocks::default(),
                leads: false,
                remote_display_key: None,
                display_key_sent: answer.as_ref().and(display_key),
            };
            learn_display_key(&mut twin, payload);
            store.create_twin(twin).await?;
            Ok(Completion {
                message: answer,
                ..Completion::default()
            })
        }
    }
}

/// The item a first sync's incoming rules connected the remote item `remote_key` to, linked
/// to it as a Connect would link it: it must exist, be in the connection's scope and have no
/// twin on the connection yet.
async fn connect_existing(
    state: &AppState,
    connection: &Connection,
    remote_key: &str,
    to: Option<&super::exalate::ConnectTo>,
) -> Result<tandem_model::Item, SyncFailure> {
    let store = state.store();
    let named = to
        .and_then(|t| t.key.clone().or_else(|| t.id.clone()))
        .unwrap_or_default();
    let refused = |why: String| {
        SyncFailure::Apply(format!(
            "the incoming rules connect {remote_key} to {named}, {why}"
        ))
    };
    let key: tandem_model::ItemKey = match named.parse() {
        Ok(key) => key,
        // A ServiceNow record named as Exalate names it: its number (the key) or sys_id (the
        // id); the mirror item is found by that column.
        Err(_) => mirror_named(state, to)
            .await?
            .ok_or_else(|| refused("which is no item of this node".into()))?,
    };
    let item = store
        .item(&key)
        .await?
        .ok_or_else(|| refused("which does not exist".into()))?;
    if !scope::contains(state, connection, &key).await? {
        return Err(refused(format!(
            "which is outside the scope of connection {}",
            connection.name
        )));
    }
    if let Some(t) = store.twin(connection.id, &key).await? {
        return Err(refused(format!(
            "which is in sync with {} already",
            t.remote_key.unwrap_or_default()
        )));
    }
    admit_new_twin(state).await?;
    store
        .create_twin(Twin {
            connection_id: connection.id,
            local_key: key,
            remote_key: Some(remote_key.to_owned()),
            state: TwinState::Active,
            last_sent: None,
            last_received: None,
            created: Timestamp::now(),
            last_sync: Some(Timestamp::now()),
            clock: FieldClocks::default(),
            leads: false,
            remote_display_key: None,
            display_key_sent: None,
        })
        .await?;
    Ok(item)
}

/// The mirror item of the ServiceNow record whose `number` is `to.key` or whose `sys_id` is
/// `to.id`, on a node that serves ServiceNow.
async fn mirror_named(
    state: &AppState,
    to: Option<&super::exalate::ConnectTo>,
) -> Result<Option<tandem_model::ItemKey>, SyncFailure> {
    let Some(to) = to.filter(|_| state.view().kind() == tandem_connectors::TrackerKind::ServiceNow)
    else {
        return Ok(None);
    };
    let plain =
        |v: &str| !v.is_empty() && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    for (column, value) in [("number", &to.key), ("sys_id", &to.id)] {
        let Some(value) = value.as_deref().filter(|v| plain(v)) else {
            continue;
        };
        let Ok(query) = tandem_model::query::Query::parse(&format!("cf[{column}] = \"{value}\""))
        else {
            continue;
        };
        let found = state
            .store()
            .search_items(
                &query,
                tandem_store::Page {
                    offset: 0,
                    limit: 1,
                },
                Timestamp::now(),
            )
            .await?;
        if let Some(item) = found.items.into_iter().next() {
            return Ok(Some(item.key));
        }
    }
    Ok(None)
}

/// Runs the incoming rules on a Connect, as on a first change of an existing item: `issue` is
/// the local item, `replica` what the remote's outgoing rules make of its item (or only its
/// key, from a sender that does not send it), `previous` null and `firstSync` false. Their
/// `httpClient` writes are logged, not sent, and what they set is dropped.
async fn connect_rules(
    state: &AppState,
    connection: &Connection,
    item: &tandem_model::Item,
    remote: &str,
    payload: &Value,
) -> Result<(), SyncFailure> {
    let replica = match &payload["replica"] {
        Value::Object(r) if !r.is_empty() => Value::Object(r.clone()),
        _ => json!({"key": remote}),
    };
    let store = state.store();
    let input = IncomingInput {
        replica,
        previous: None,
        first_sync: false,
        item: state.view().item_json(item),
        comment_twins: store
            .comment_twins(connection.id, &item.key)
            .await?
            .iter()
            .map(CommentLink::twin)
            .collect(),
        attachment_twins: store
            .attachment_twins(connection.id, &item.key)
            .await?
            .iter()
            .map(tandem_model::AttachmentLink::twin)
            .collect(),
        journals: state.view().journals(),
    };
    let source = connection.incoming_script.clone();
    let env = helper_env(state, connection).with_writes(super::helpers::Writes::Simulate);
    let _slot = state.rules_slot().await;
    let outcome = tokio::task::spawn_blocking(move || rules::incoming(&source, input, &env))
        .await
        .map_err(|e| SyncFailure::Apply(format!("the rules stopped unexpectedly: {e}")))??;
    emit_log(connection, &item.key.to_string(), &outcome.log);
    Ok(())
}

/// How the error of a refused Connect begins (Resolve and retry only dismisses it).
pub(crate) const CONNECT_REFUSED: &str = "the remote refused to connect";

/// The remote refused a Connect this side sent: the link is removed (the item stays as it
/// is, out of sync on this connection) and the item gets an error with the remote's reason.
async fn connect_refused(
    state: &AppState,
    connection: &Connection,
    payload: &Value,
) -> Result<(), SyncFailure> {
    let store = state.store();
    let (Some(local), Some(remote)) = (
        payload["your_key"]
            .as_str()
            .and_then(|k| k.parse::<ItemKey>().ok()),
        payload["my_key"].as_str(),
    ) else {
        return Err(SyncFailure::Apply(
            "the refused Connect names no item of this node".into(),
        ));
    };
    let reason = payload["reason"].as_str().unwrap_or("no reason given");
    let _twin = state.lock_twin(connection.id, &local).await;
    // Only the link the Connect made: the item may have been linked again since.
    match store.twin(connection.id, &local).await? {
        Some(twin) if twin.remote_key.as_deref() == Some(remote) => {
            store.withdraw_twin(connection.id, &local).await?;
        }
        _ => return Ok(()),
    }
    let failure = SyncFailure::Apply(format!(
        "{CONNECT_REFUSED} {local} to {remote}: {reason}. The link is removed; \
         Connect again with the key of an existing item of the remote"
    ));
    record_item_error(
        state,
        connection,
        Some(&local),
        Some(remote),
        None,
        &failure,
    )
    .await;
    Ok(())
}

async fn touch_connection(state: &AppState, id: Uuid) {
    if !state.due_touch(id) {
        return;
    }
    for _ in 0..3 {
        let Ok(Some(mut c)) = state.store().connection(id).await else {
            return;
        };
        c.last_sync = Some(Timestamp::now());
        if state.store().update_connection(&c).await.is_ok() {
            return;
        }
    }
}

/// Brings an item under sync on a connection (the Exalate operation): records the twin and
/// sends the item's replica. When the outgoing rules send nothing for the item (they return
/// before filling the replica), it is not brought under sync, and the error says why.
pub async fn exalate(
    state: &AppState,
    connection: &Connection,
    key: &ItemKey,
) -> Result<Twin, SyncFailure> {
    match bring(state, connection, key, false).await? {
        Brought::Twin(twin) => Ok(*twin),
        Brought::AlreadyActive => Err(SyncFailure::Apply(format!(
            "{key} could not be brought under sync"
        ))),
        Brought::NothingToSend => Err(SyncFailure::Apply(format!(
            "the outgoing rules of connection {} send nothing for {key} (they return before filling the replica), so it is not brought under sync",
            connection.name
        ))),
    }
}

/// Refuses an admin's operation on a connection whose invitation was not accepted yet: there
/// is no remote to send to, and there may never be one.
pub fn not_pending(connection: &Connection) -> Result<(), SyncFailure> {
    if connection.status != ConnectionStatus::Pending {
        return Ok(());
    }
    Err(SyncFailure::Apply(format!(
        "connection {} is Pending: the other side has not accepted its invitation yet, so nothing can be sent; \
         do this once the connection is Active (its page can make a new invitation code if the first was lost)",
        connection.name
    )))
}

/// What an admin is told of an item brought under sync on a deactivated connection: its
/// replica waits, stored, until the connection is activated again. `None` when it goes now.
pub fn held_note(connection: &Connection) -> Option<String> {
    (connection.status == ConnectionStatus::Deactivated).then(|| {
        format!(
            "held until connection {} is activated again: it is deactivated",
            connection.name
        )
    })
}

/// [`exalate`] for Bulk Exalate and triggers: an item under sync already is left as it is
/// (bringing it again would only resend what the remote has), and one the outgoing rules send
/// nothing for is skipped. Returns whether it brought the item.
pub async fn exalate_new(
    state: &AppState,
    connection: &Connection,
    key: &ItemKey,
) -> Result<bool, SyncFailure> {
    Ok(matches!(
        bring(state, connection, key, true).await?,
        Brought::Twin(_)
    ))
}

/// What [`bring`] did.
enum Brought {
    /// Boxed: a twin is large next to the other variants.
    Twin(Box<Twin>),
    /// With `skip_active`: the twin was active already; left alone.
    AlreadyActive,
    /// The outgoing rules sent nothing: the item is not under sync (the twin this call made is
    /// removed again, a stopped one stays stopped).
    NothingToSend,
}

/// Records the twin (or makes a stopped one active) and sends the item, under the twin's
/// lock. With `skip_active`, an active twin is left alone. The twin and its first replica (and
/// the Connect that makes a stopped remote half active again) are written in one transaction:
/// a crash leaves the item brought with its replica queued, or not brought at all.
async fn bring(
    state: &AppState,
    connection: &Connection,
    key: &ItemKey,
    skip_active: bool,
) -> Result<Brought, SyncFailure> {
    if paused(connection) {
        return Err(SyncFailure::Apply(format!(
            "connection {} is {}",
            connection.name,
            connection.status_reason.as_deref().unwrap_or("paused")
        )));
    }
    // The admin's own Exalate waits for nothing that may never come. (A trigger's match while
    // the invitation waits is queued, as before, and goes out once it is accepted.)
    if !skip_active {
        not_pending(connection)?;
    }
    let store = state.store();
    // The admin's own Exalate is consent enough under the default scope (the item is in it
    // from then on); a scope the admin set holds it too.
    let reach = scope::reach(state, connection).await?;
    let consented = reach.is_default() && !skip_active;
    if !consented && !reach.contains(state, key).await? {
        if skip_active {
            // A trigger or Bulk Exalate reaching past the scope: skipped, as an item the
            // outgoing rules send nothing for.
            tracing::info!(connection = %connection.name, item = %key, "Not brought under sync: the item is outside the connection's scope.");
            return Ok(Brought::NothingToSend);
        }
        return Err(scope::outside(connection, key));
    }
    let _lock = state.lock_twin(connection.id, key).await;
    // The incoming side may record this item's twin at the same moment (the remote exalated
    // it too, or a trigger fired there; it holds no lock for a twin it creates): a clash
    // re-reads the twin rather than failing.
    let mut attempts = 0;
    loop {
        attempts += 1;
        // The twin as it is to be, with its state before this call (None: this call makes it).
        let (twin, before) = match store.twin(connection.id, key).await? {
            Some(t) if t.state == TwinState::Active && skip_active => {
                return Ok(Brought::AlreadyActive);
            }
            Some(mut t) => {
                let before = t.state;
                t.state = TwinState::Active;
                // The admin brings it under sync: this side's consent from now on (for the
                // default scope; precedence reads `leads` on local connections only).
                if connection.role != ConnectionRole::Local {
                    t.leads = true;
                }
                (t, Some(before))
            }
            None => {
                admit_new_twin(state).await?;
                let twin = Twin {
                    connection_id: connection.id,
                    local_key: key.clone(),
                    remote_key: None,
                    state: TwinState::Active,
                    last_sent: None,
                    last_received: None,
                    created: Timestamp::now(),
                    last_sync: None,
                    clock: FieldClocks::default(),
                    leads: true,
                    remote_display_key: None,
                    display_key_sent: None,
                };
                (twin, None)
            }
        };
        let prepared = prepare_send(state, connection, twin.clone(), false).await?;
        if prepared.item.is_none() {
            return Err(SyncFailure::Apply(format!("there is no item {key}")));
        }
        if prepared.empty && before != Some(TwinState::Active) {
            tracing::info!(connection = %connection.name, item = %key, "The outgoing rules send nothing for the item: it is not brought under sync.");
            return Ok(Brought::NothingToSend);
        }
        let mut messages = Vec::new();
        let twin = match prepared.outgoing {
            Some(out) => {
                messages.push((out.kind.to_owned(), out.payload));
                out.twin
            }
            None => twin,
        };
        // A twin stopped by Unexalate (on both sides) syncs again both ways: the remote is
        // told to make its half active again (the Connect message does that to a twin it has)
        // and sends what changed there meanwhile.
        if before == Some(TwinState::Stopped)
            && let Some(remote) = &twin.remote_key
        {
            let message = json!({"your_key": remote, "my_key": key.to_string()});
            messages.push((
                super::operations::SYNC_CONNECT.to_owned(),
                message.to_string(),
            ));
        }
        // Active already and nothing new to send: nothing to write.
        if before == Some(TwinState::Active) && messages.is_empty() {
            return Ok(Brought::Twin(Box::new(twin)));
        }
        match store
            .write_twin_and_queue(&twin, before.is_none(), &messages)
            .await
        {
            Ok(twin) => {
                state.wake_sync();
                state.wake_delivery();
                return Ok(Brought::Twin(Box::new(twin)));
            }
            Err(StoreError::NotFound { what: "item", .. }) => {
                return Err(SyncFailure::Apply(format!("there is no item {key}")));
            }
            Err(StoreError::AlreadyExists(_) | StoreError::Changed { .. }) if attempts < 5 => {}
            Err(e) => return Err(e.into()),
        }
    }
}

/// Twins a crash left active with nothing sent, nothing queued and no remote item: versions
/// before [`Store::write_twin_and_queue`] recorded an Exalate's twin and queued its first
/// replica in two writes, and a crash between them left the item looking under sync (Bulk
/// Exalate and triggers skip it) while the remote never heard of it. Sends each now, as the
/// Exalate would have; one whose rules send nothing is withdrawn, as the Exalate would have
/// done. A paused connection's wait: saving its rules (or a license) syncs every twin again.
///
/// [`Store::write_twin_and_queue`]: tandem_store::Store::write_twin_and_queue
async fn send_unsent(state: &AppState) -> Result<usize, SyncFailure> {
    let store = state.store();
    let mut sent = 0;
    let mut connections: Vec<Connection> = Vec::new();
    for stranded in store.unsent_twins().await? {
        let connection = match connections.iter().find(|c| c.id == stranded.connection_id) {
            Some(c) => c.clone(),
            None => {
                let Some(c) = store.connection(stranded.connection_id).await? else {
                    continue;
                };
                connections.push(c.clone());
                c
            }
        };
        if paused(&connection) {
            continue;
        }
        let key = &stranded.local_key;
        let _lock = state.lock_twin(connection.id, key).await;
        // Read again under the lock: an Exalate or an acknowledgement may have come first.
        let Some(twin) = store.twin(connection.id, key).await? else {
            continue;
        };
        if twin.state != TwinState::Active || twin.remote_key.is_some() || twin.last_sent.is_some()
        {
            continue;
        }
        let prepared = match prepare_send(state, &connection, twin, false).await {
            Ok(prepared) => prepared,
            // Not the item's fault: the whole look runs again once the store takes writes.
            Err(e) if e.is_storage_fault() => return Err(e),
            Err(e) => {
                record_item_error(state, &connection, Some(key), None, None, &e).await;
                continue;
            }
        };
        match prepared.outgoing {
            Some(out) => {
                queue(state, &out).await?;
                sent += 1;
            }
            // The rules send nothing for it (or the item is gone): it was never brought.
            None => match store.withdraw_twin(connection.id, key).await {
                Ok(()) | Err(StoreError::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            },
        }
    }
    if sent > 0 {
        tracing::warn!(
            twins = sent,
            "Sent the first replica of items a crash had left under sync with nothing sent."
        );
        state.wake_delivery();
    }
    Ok(sent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_older_node_that_says_no_display_key_leaves_the_one_shown() {
        let mut twin = Twin {
            connection_id: Uuid::nil(),
            local_key: "ENG-1".parse().unwrap(),
            remote_key: Some("INC-9".into()),
            state: TwinState::Active,
            last_sent: None,
            last_received: None,
            created: Timestamp::UNIX_EPOCH,
            last_sync: None,
            clock: FieldClocks::default(),
            leads: false,
            remote_display_key: None,
            display_key_sent: None,
        };
        let learn = |twin: &mut Twin, payload: Value| {
            learn_display_key(twin, &payload);
            twin.remote_display_key.clone()
        };
        let told = json!({"my_key": "INC-9", "display_key": "INC0010005"});
        assert_eq!(learn(&mut twin, told).as_deref(), Some("INC0010005"));
        // An older node's acknowledgement has no field: the number stays.
        let older = json!({"my_key": "INC-9", "your_key": "ENG-1"});
        assert_eq!(learn(&mut twin, older).as_deref(), Some("INC0010005"));
        // A node that says none (null), or text that is no key to show: none.
        assert_eq!(learn(&mut twin, json!({"display_key": null})), None);
        twin.remote_display_key = Some("INC0010005".into());
        assert_eq!(learn(&mut twin, json!({"display_key": "a\nb"})), None);
    }

    #[test]
    fn owed_work_is_kept_once_in_order_and_goes_back_ahead_of_newer_work() {
        let owed = Owed::default();
        let connection = Uuid::nil();
        let key = |k: &str| k.parse::<ItemKey>().unwrap();
        assert!(owed.is_empty());
        owed.owe(connection, key("ENG-1"), AfterWork::SyncBack);
        owed.owe(connection, key("ENG-1"), AfterWork::SyncBack);
        owed.owe(connection, key("ENG-1"), AfterWork::Unexalate);
        assert_eq!(owed.len(), 2, "the same work is owed once");
        let taken = owed.take();
        assert!(owed.is_empty());
        owed.owe(connection, key("ENG-2"), AfterWork::SyncBack);
        owed.put_back(taken);
        let order: Vec<(String, AfterWork)> = owed
            .take()
            .into_iter()
            .map(|(_, k, w)| (k.to_string(), w))
            .collect();
        assert_eq!(
            order,
            [
                ("ENG-1".to_owned(), AfterWork::SyncBack),
                ("ENG-1".to_owned(), AfterWork::Unexalate),
                ("ENG-2".to_owned(), AfterWork::SyncBack),
            ]
        );
        owed.owe_unsent();
        assert_eq!(owed.len(), 1);
    }
}
