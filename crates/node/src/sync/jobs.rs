//! Bulk jobs: Bulk Exalate, Bulk Unexalate, Sync again of a whole connection and Clean-up run
//! as durable jobs (`Store::create_bulk_job`). A job stores its progress with a resume point
//! now and then (after each page, or each second for the kinds that go one item at a time —
//! never after every item), so a node stopped or killed half-way takes it up again at start,
//! under the same id, from the last stored point ([`resume`]); what it does to an item it
//! goes through again is idempotent (an item under sync is left as it is, a stopped twin stays
//! stopped, a replica sent again is applied as the same replica).
//!
//! While a job runs, its live counts are in memory ([`LiveJob`], held by `AppState`), so the
//! API, the console and the CLI see every item without a write per item. An item that fails
//! counts as failed and is a sync error (Resolve and retry); a fault that would fail every item
//! — the store failing, the connection deleted or paused, rules that do not compile — stops the
//! job with the reason. A cancel stops it after the items under way.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use tandem_model::query::{Field, OrderBy};
use tandem_model::{BulkJob, Connection, ItemKey, JobKind, JobProgress, JobState, Trigger};
use tandem_store::{Page, StoreError};

use super::engine::{self, SyncFailure};
use super::operations;
use crate::state::AppState;

/// Items one Bulk Exalate brings under sync at once.
const BULK_CONCURRENCY: usize = 32;
/// Items (or twins) read per page; a Bulk Exalate stores its progress once per page.
const PAGE: u32 = 500;
/// The kinds that go one item at a time store their progress at most this often.
const SAVE_EVERY: Duration = Duration::from_secs(1);

/// A running job's counts as they are now, and its cancel flag.
#[derive(Debug, Default)]
pub struct LiveJob {
    done: AtomicU64,
    failed: AtomicU64,
    total: AtomicU64,
    changed: AtomicU64,
    cancel: AtomicBool,
    /// Items gone through when this process took the job up, and when: the rate counts only
    /// what this process did.
    base: AtomicU64,
    since: std::sync::OnceLock<Instant>,
}

impl LiveJob {
    fn set(&self, progress: &JobProgress, resume: &Resume) {
        self.done.store(progress.done, Ordering::Relaxed);
        self.failed.store(progress.failed, Ordering::Relaxed);
        self.total.store(progress.total, Ordering::Relaxed);
        self.changed.store(resume.changed, Ordering::Relaxed);
    }

    /// Asks the job to stop after the items under way.
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }

    fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }

    /// Items per second this process has gone through since it took the job up.
    fn rate(&self) -> Option<f64> {
        let since = self.since.get()?;
        let elapsed = since.elapsed().as_secs_f64();
        let gone = (self.done.load(Ordering::Relaxed) + self.failed.load(Ordering::Relaxed))
            .saturating_sub(self.base.load(Ordering::Relaxed));
        (elapsed >= 0.5 && gone > 0).then(|| gone as f64 / elapsed)
    }
}

/// A kind's resume point and what it counts besides done and failed, stored as the job's
/// `resume` (JSON text: only this module reads it).
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct Resume {
    /// Bulk Exalate: the offset, in key order, of the next page of matches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    offset: Option<u32>,
    /// Bulk Unexalate and Sync again: the last twin gone through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    after: Option<String>,
    /// Clean-up: the queued changes it voided (once, before removing twins).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    queued: Option<u64>,
    /// Items the job changed: brought under sync, stopped, sent again, removed.
    #[serde(default)]
    changed: u64,
}

impl Resume {
    fn read(job: &BulkJob) -> Resume {
        job.progress
            .resume
            .as_deref()
            .and_then(|text| serde_json::from_str(text).ok())
            .unwrap_or_default()
    }

    fn text(&self) -> String {
        serde_json::to_string(self).expect("a resume point serializes")
    }
}

/// A job as the API, the console and the CLI show it: the stored record with the live counts
/// of a running job, the connection's name, and rate and ETA.
#[derive(Debug, Clone)]
pub struct JobView {
    pub job: BulkJob,
    pub connection: String,
    /// Items the job changed (brought under sync, stopped, sent again, removed).
    pub changed: u64,
    /// Clean-up: the queued changes it dropped.
    pub queued: Option<u64>,
    /// Items per second.
    pub rate: Option<f64>,
    /// Seconds until it is through, at that rate.
    pub eta_seconds: Option<u64>,
}

impl JobView {
    pub fn title(&self) -> &'static str {
        self.job.kind.title()
    }

    /// What a job that went through did, in a sentence for the console; none while it runs,
    /// or when it stopped or was cancelled (its page says so).
    pub fn outcome(&self) -> Option<String> {
        if self.job.state != JobState::Done || self.job.error.is_some() {
            return None;
        }
        let connection = &self.connection;
        let failed = match self.job.progress.failed {
            0 => String::new(),
            n => format!(" {} failed: see the Errors page.", count(n, "item")),
        };
        let trigger = self
            .job
            .trigger_id
            .map(|id| format!(" matching trigger {id}"))
            .unwrap_or_default();
        Some(match self.job.kind {
            JobKind::Exalate => format!(
                "Bulk Exalate on {connection}: {}{trigger} brought under sync.{failed}",
                count(self.changed, "item")
            ),
            JobKind::Unexalate => format!(
                "Bulk Unexalate on {connection}: {}{trigger} no longer under sync; the items stay on both sides.{failed}",
                count(self.changed, "item")
            ),
            JobKind::SyncAgain => format!(
                "Sync again on {connection}: {} sent again with the current rules.{failed}",
                count(self.changed, "item")
            ),
            JobKind::CleanUp => {
                let queued = match self.queued.unwrap_or(0) {
                    0 => "no changes were still queued".to_owned(),
                    n => format!(
                        "{} still queued for the remote {} dropped with it, not sent",
                        count(n, "change"),
                        if n == 1 { "was" } else { "were" }
                    ),
                };
                format!(
                    "Clean-up of {connection}: the sync data of {} is removed here and on the remote; the items stay; {queued}.",
                    count(self.changed, "twin")
                )
            }
        })
    }

    /// Percent gone through, for a bar.
    pub fn percent(&self) -> u64 {
        let p = &self.job.progress;
        let gone = p.done + p.failed;
        match (gone * 100).checked_div(p.total) {
            Some(percent) => percent.min(100),
            None if self.job.state.is_finished() => 100,
            None => 0,
        }
    }

    /// The rate for people: "12.5 items/s", or "—".
    pub fn rate_text(&self) -> String {
        self.rate
            .map_or_else(|| "—".to_owned(), |r| format!("{r:.1} items/s"))
    }

    /// The ETA for people: "about 3 min", or "—".
    pub fn eta_text(&self) -> String {
        match self.eta_seconds {
            None => "—".to_owned(),
            Some(s) if s < 60 => format!("about {s} s"),
            Some(s) if s < 3600 => format!("about {} min", s.div_ceil(60)),
            Some(s) => format!("about {:.1} h", s as f64 / 3600.0),
        }
    }

    /// The JSON the API answers for a job (and `GET /sync/bulk/{id}`, which keeps its fields).
    pub fn to_json(&self) -> serde_json::Value {
        let j = &self.job;
        serde_json::json!({
            "job": j.id,
            "kind": j.kind.as_str(),
            "connection": self.connection,
            "trigger": j.trigger_id,
            "state": j.state.as_str(),
            "done": j.progress.done,
            "total": j.progress.total,
            "failed": j.progress.failed,
            "changed": self.changed,
            "queued": self.queued,
            "rate": self.rate,
            "eta_seconds": self.eta_seconds,
            "started": j.started.to_string(),
            "updated": j.updated.to_string(),
            "finished": j.state.is_finished(),
            "finished_at": j.finished.map(|t| t.to_string()),
            "cancel_requested": j.cancel_requested,
            "error": j.error,
        })
    }
}

/// What a job can be asked to run on.
fn not_found(id: i64) -> SyncFailure {
    SyncFailure::Store(StoreError::not_found("bulk job", id))
}

/// The job with its live counts and pace.
pub async fn view(state: &AppState, mut job: BulkJob) -> Result<JobView, SyncFailure> {
    let resume = Resume::read(&job);
    let mut changed = resume.changed;
    let mut rate = None;
    if let Some(live) = state.live_job(job.id)
        && !job.state.is_finished()
    {
        job.progress.done = job.progress.done.max(live.done.load(Ordering::Relaxed));
        job.progress.failed = job.progress.failed.max(live.failed.load(Ordering::Relaxed));
        job.progress.total = live.total.load(Ordering::Relaxed).max(job.progress.total);
        changed = changed.max(live.changed.load(Ordering::Relaxed));
        job.cancel_requested |= live.cancelled();
        rate = live.rate();
    } else if let Some(end) = job.finished {
        let secs = (end.as_millisecond() - job.started.as_millisecond()) as f64 / 1000.0;
        let gone = job.progress.done + job.progress.failed;
        rate = (secs >= 0.001 && gone > 0).then(|| gone as f64 / secs);
    }
    let left = job
        .progress
        .total
        .saturating_sub(job.progress.done + job.progress.failed);
    let eta_seconds = match (job.state, rate) {
        (JobState::Running, Some(r)) if r > 0.0 => Some((left as f64 / r).ceil() as u64),
        _ => None,
    };
    let connection = state
        .store()
        .connection(job.connection_id)
        .await?
        .map_or_else(|| job.connection_id.to_string(), |c| c.name);
    Ok(JobView {
        job,
        connection,
        changed,
        queued: resume.queued,
        rate,
        eta_seconds,
    })
}

/// One job, `NotFound` (404) when there is none.
pub async fn get(state: &AppState, id: i64) -> Result<JobView, SyncFailure> {
    let job = state
        .store()
        .bulk_job(id)
        .await?
        .ok_or_else(|| not_found(id))?;
    view(state, job).await
}

/// Jobs newest first, of one connection or all.
pub async fn list(
    state: &AppState,
    connection: Option<&Connection>,
    limit: u32,
) -> Result<Vec<JobView>, SyncFailure> {
    let jobs = state
        .store()
        .bulk_jobs(connection.map(|c| c.id), false, limit)
        .await?;
    let mut views = Vec::with_capacity(jobs.len());
    for job in jobs {
        views.push(view(state, job).await?);
    }
    Ok(views)
}

/// Asks a running job to stop after the items under way; a finished one is left as it is.
pub async fn cancel(state: &AppState, id: i64) -> Result<JobView, SyncFailure> {
    let found = state
        .store()
        .bulk_job(id)
        .await?
        .ok_or_else(|| not_found(id))?;
    if found.kind == JobKind::CleanUp && !found.state.is_finished() {
        // Half a Clean-up would leave the remote unaware of the twins removed here.
        return Err(SyncFailure::Apply(format!(
            "job {id} is a Clean-up: it cannot be cancelled, it finishes what it started"
        )));
    }
    let job = state.store().request_bulk_job_cancel(id).await?;
    if let Some(live) = state.live_job(id) {
        live.cancel();
    }
    if !job.state.is_finished() && state.live_job(id).is_none() {
        // Nothing runs it here (it is being taken up, or another process runs it): it stops
        // when its runner next stores its progress.
        tracing::info!(
            job = id,
            "Cancel requested for a bulk job not running in this process."
        );
    }
    view(state, job).await
}

/// Starts a job of the kind on the connection (and trigger, for Bulk Exalate and Bulk
/// Unexalate) in the background and returns it as stored. A trigger whose query does not
/// parse is refused before anything is stored.
pub async fn start(
    state: &AppState,
    kind: JobKind,
    connection: &Connection,
    trigger: Option<&Trigger>,
) -> Result<BulkJob, SyncFailure> {
    Ok(launch(state, kind, connection, trigger).await?.0)
}

/// [`start`], then waits until the job ends; returns it as it ended.
pub async fn run_to_end(
    state: &AppState,
    kind: JobKind,
    connection: &Connection,
    trigger: Option<&Trigger>,
) -> Result<JobView, SyncFailure> {
    let (job, task) = launch(state, kind, connection, trigger).await?;
    task.await
        .map_err(|e| SyncFailure::Apply(format!("the {} stopped: {e}", kind.title())))?;
    get(state, job.id).await
}

async fn launch(
    state: &AppState,
    kind: JobKind,
    connection: &Connection,
    trigger: Option<&Trigger>,
) -> Result<(BulkJob, tokio::task::JoinHandle<()>), SyncFailure> {
    let trigger_id = match (kind.needs_trigger(), trigger) {
        (true, Some(t)) => {
            operations::parse_trigger(&state.view(), &t.query)?;
            Some(t.id)
        }
        (true, None) => {
            return Err(SyncFailure::Apply(format!(
                "a {} needs a trigger",
                kind.title()
            )));
        }
        (false, _) => None,
    };
    let total = match kind {
        // Counted on the first page of matches.
        JobKind::Exalate => 0,
        JobKind::SyncAgain | JobKind::Unexalate => {
            state.store().active_twin_count(connection.id).await?
        }
        JobKind::CleanUp => state.store().twin_count(connection.id).await?,
    };
    let job = state
        .store()
        .create_bulk_job(kind, connection.id, trigger_id, total)
        .await?;
    tracing::info!(connection = %connection.name, job = job.id, kind = kind.as_str(), "Bulk job started.");
    let task = spawn(state, job.clone());
    Ok((job, task))
}

/// Takes up every job still running in the store (a stop or a crash cut it short), under its
/// own id, from its last stored point; turns a Bulk Exalate that an older version marked under
/// way (the setting `sync.bulk.<trigger>`) into a job first. Returns how many it took up.
pub async fn resume(state: &AppState) -> Result<usize, SyncFailure> {
    adopt_legacy_bulk_exalates(state).await?;
    let store = state.store();
    let mut resumed = 0;
    for job in store.bulk_jobs(None, true, u32::MAX).await? {
        if state.live_job(job.id).is_some() {
            continue;
        }
        tracing::info!(
            job = job.id,
            kind = job.kind.as_str(),
            done = job.progress.done,
            total = job.progress.total,
            "Taking up a bulk job the node's stop cut short."
        );
        spawn(state, job);
        resumed += 1;
    }
    Ok(resumed)
}

/// Versions before bulk jobs were stored marked a Bulk Exalate under way with the setting
/// `sync.bulk.<trigger>` (its value the connection's id): each becomes a job, so none is lost.
async fn adopt_legacy_bulk_exalates(state: &AppState) -> Result<(), SyncFailure> {
    let store = state.store();
    for trigger in store.triggers(None).await? {
        let key = format!("sync.bulk.{}", trigger.id);
        if store.setting(&key).await?.is_none() {
            continue;
        }
        if store.connection(trigger.connection_id).await?.is_some() {
            let job = store
                .create_bulk_job(JobKind::Exalate, trigger.connection_id, Some(trigger.id), 0)
                .await?;
            tracing::info!(
                job = job.id,
                trigger = trigger.id,
                "A Bulk Exalate an older version left under way is now a job."
            );
        }
        // A crash between the two makes a second job for it: harmless, it finds every item
        // under sync already.
        store.delete_setting(&key).await?;
    }
    Ok(())
}

fn spawn(state: &AppState, job: BulkJob) -> tokio::task::JoinHandle<()> {
    let live = state.register_job(job.id);
    let state = state.clone();
    tokio::spawn(async move {
        let id = job.id;
        run(&state, job, live).await;
        state.forget_job(id);
    })
}

/// Why a job stopped before going through every item.
enum Stop {
    Cancelled,
    Fault(String),
}

impl From<StoreError> for Stop {
    fn from(e: StoreError) -> Self {
        Stop::Fault(format!("the store failed: {e}"))
    }
}

/// A job being run: its counts and resume point, and when they were last stored.
struct Run<'a> {
    state: &'a AppState,
    id: i64,
    progress: JobProgress,
    resume: Resume,
    live: Arc<LiveJob>,
    saved: Instant,
}

impl Run<'_> {
    fn cancelled(&self) -> bool {
        self.live.cancelled()
    }

    fn publish(&self) {
        self.live.set(&self.progress, &self.resume);
    }

    /// Counts one item's outcome. A failure that would fail every item stops the job; any
    /// other is the item's sync error and the job goes on.
    async fn tally(
        &mut self,
        connection: &Connection,
        key: &ItemKey,
        outcome: Result<bool, SyncFailure>,
    ) -> Result<(), Stop> {
        match outcome {
            Ok(changed) => {
                self.progress.done += 1;
                self.resume.changed += u64::from(changed);
            }
            Err(e) if fatal(&e) => return Err(Stop::Fault(e.to_string())),
            Err(e) => {
                self.progress.failed += 1;
                engine::record_item_error(self.state, connection, Some(key), None, None, &e).await;
            }
        }
        self.publish();
        Ok(())
    }

    /// Stores the progress when `now` or when a second has gone by; learns of a cancel
    /// requested elsewhere, and of the connection being deleted (its jobs go with it).
    async fn save(&mut self, now: bool) -> Result<(), Stop> {
        self.publish();
        if !now && self.saved.elapsed() < SAVE_EVERY {
            return Ok(());
        }
        self.progress.resume = Some(self.resume.text());
        let stored = match self
            .state
            .store()
            .save_bulk_job_progress(self.id, &self.progress)
            .await
        {
            Err(StoreError::NotFound { .. }) => {
                return Err(Stop::Fault("its connection was deleted".into()));
            }
            other => other?,
        };
        self.saved = Instant::now();
        if stored.cancel_requested {
            self.live.cancel();
        }
        if stored.state.is_finished() {
            return Err(Stop::Cancelled);
        }
        Ok(())
    }

    /// The connection as it is now; one deleted or paused stops the job.
    async fn connection(&self, id: uuid::Uuid) -> Result<Connection, Stop> {
        let connection = self
            .state
            .store()
            .connection(id)
            .await?
            .ok_or_else(|| Stop::Fault("its connection was deleted".into()))?;
        if engine::paused(&connection) {
            return Err(Stop::Fault(format!(
                "connection {} is {}",
                connection.name,
                connection.status_reason.as_deref().unwrap_or("paused")
            )));
        }
        Ok(connection)
    }
}

/// A failure that every item would meet alike: the store failing, rules that do not compile.
fn fatal(e: &SyncFailure) -> bool {
    match e {
        SyncFailure::Store(s) => !matches!(
            s,
            StoreError::NotFound { .. }
                | StoreError::AlreadyExists(_)
                | StoreError::VersionConflict { .. }
                | StoreError::Changed { .. }
                | StoreError::Invalid(_)
        ),
        SyncFailure::Rule(r) => r.compile,
        SyncFailure::Apply(_)
        | SyncFailure::Retry
        | SyncFailure::NoTargetProject { .. }
        | SyncFailure::TargetProjectMissing { .. } => false,
    }
}

async fn run(state: &AppState, job: BulkJob, live: Arc<LiveJob>) {
    let resume = Resume::read(&job);
    live.set(&job.progress, &resume);
    live.base
        .store(job.progress.done + job.progress.failed, Ordering::Relaxed);
    let _ = live.since.set(Instant::now());
    if job.cancel_requested {
        live.cancel();
    }
    let mut run = Run {
        state,
        id: job.id,
        progress: job.progress.clone(),
        resume,
        live,
        saved: Instant::now(),
    };
    let outcome = go(&mut run, &job).await;
    run.progress.resume = Some(run.resume.text());
    let (end, error) = match outcome {
        Ok(()) => {
            // Matches that appeared while it ran were taken too.
            run.progress.total = run
                .progress
                .total
                .max(run.progress.done + run.progress.failed);
            (JobState::Done, None)
        }
        Err(Stop::Cancelled) => (JobState::Cancelled, None),
        Err(Stop::Fault(reason)) => (JobState::Failed, Some(reason)),
    };
    run.publish();
    match state
        .store()
        .finish_bulk_job(job.id, end, &run.progress, error.as_deref())
        .await
    {
        Ok(_) => {
            tracing::info!(
                job = job.id,
                kind = job.kind.as_str(),
                state = end.as_str(),
                done = run.progress.done,
                failed = run.progress.failed,
                error = error.as_deref(),
                "Bulk job ended."
            );
        }
        // It stays running in the store and is taken up at the next start.
        Err(e) => {
            tracing::error!(job = job.id, error = %e, "A bulk job's end could not be stored; it is taken up again when the node starts.");
        }
    }
}

async fn go(run: &mut Run<'_>, job: &BulkJob) -> Result<(), Stop> {
    if run.cancelled() {
        return Err(Stop::Cancelled);
    }
    let trigger = match job.trigger_id {
        Some(id) => Some(
            run.state
                .store()
                .triggers(Some(job.connection_id))
                .await?
                .into_iter()
                .find(|t| t.id == id)
                .ok_or_else(|| Stop::Fault(format!("its trigger {id} was deleted")))?,
        ),
        None => None,
    };
    match (job.kind, trigger) {
        (JobKind::Exalate, Some(trigger)) => exalate(run, job.connection_id, &trigger).await,
        (JobKind::Unexalate, Some(trigger)) => {
            each_twin(run, job.connection_id, |state, connection, twin| {
                let trigger = Trigger {
                    active: true,
                    ..trigger.clone()
                };
                async move {
                    if !operations::matches_trigger(&state, &[trigger], &twin).await? {
                        return Ok(false);
                    }
                    operations::unexalate(&state, &connection, &twin).await?;
                    Ok(true)
                }
            })
            .await
        }
        (JobKind::SyncAgain, _) => {
            let connection = run.connection(job.connection_id).await?;
            let reach = super::scope::reach(run.state, &connection)
                .await
                .map_err(|e| Stop::Fault(e.to_string()))?;
            each_twin(run, job.connection_id, move |state, connection, twin| {
                let reach = reach.clone();
                async move {
                    // Items outside the scope are not sent at all.
                    if !reach.contains(&state, &twin).await? {
                        return Ok(false);
                    }
                    operations::sync_again(&state, &connection, &twin).await?;
                    Ok(true)
                }
            })
            .await
        }
        (JobKind::CleanUp, _) => clean_up(run, job.connection_id).await,
        (kind, None) => Err(Stop::Fault(format!("a {} needs a trigger", kind.title()))),
    }
}

/// Bulk Exalate: every current match of the trigger, in key order (which edits made while the
/// job runs do not reshuffle), a page at a time, several items at once so their writes share
/// the store's commits. Stored after each page with the next page's offset: a job taken up
/// again goes through the page it was in once more, where the items it brought are found under
/// sync already and left as they are.
async fn exalate(
    run: &mut Run<'_>,
    connection_id: uuid::Uuid,
    trigger: &Trigger,
) -> Result<(), Stop> {
    let mut query = operations::parse_trigger(&run.state.view(), &trigger.query)
        .map_err(|e| Stop::Fault(e.to_string()))?;
    query.order = vec![OrderBy {
        field: Field::Key,
        descending: false,
    }];
    let mut offset = run.resume.offset.unwrap_or(0);
    loop {
        let connection = run.connection(connection_id).await?;
        let page = run
            .state
            .store()
            .search_items(
                &query,
                Page {
                    offset,
                    limit: PAGE,
                },
                Timestamp::now(),
            )
            .await?;
        // The matches now; those gone through count even if they no longer match.
        run.progress.total = page.total.max(run.progress.done + run.progress.failed);
        run.publish();
        if page.items.is_empty() {
            break;
        }
        offset += page.items.len() as u32;
        let mut tasks = tokio::task::JoinSet::new();
        let mut stop = None;
        for item in page.items {
            if run.cancelled() || stop.is_some() {
                break;
            }
            while tasks.len() >= BULK_CONCURRENCY {
                if let Some(done) = tasks.join_next().await
                    && let Err(s) = settle(run, &connection, done).await
                {
                    stop.get_or_insert(s);
                }
            }
            let (state, connection) = (run.state.clone(), connection.clone());
            tasks.spawn(async move {
                // Items under sync already (exalated before, or arrived from the remote) stay
                // as they are.
                let brought = engine::exalate_new(&state, &connection, &item.key).await;
                (item.key, brought)
            });
        }
        while let Some(done) = tasks.join_next().await {
            if let Err(s) = settle(run, &connection, done).await {
                stop.get_or_insert(s);
            }
        }
        if let Some(stop) = stop {
            return Err(stop);
        }
        if run.cancelled() {
            return Err(Stop::Cancelled);
        }
        run.resume.offset = Some(offset);
        run.save(true).await?;
    }
    Ok(())
}

/// Counts one Bulk Exalate item as its task ended.
async fn settle(
    run: &mut Run<'_>,
    connection: &Connection,
    done: Result<(ItemKey, Result<bool, SyncFailure>), tokio::task::JoinError>,
) -> Result<(), Stop> {
    match done {
        Ok((key, outcome)) => run.tally(connection, &key, outcome).await,
        Err(e) => Err(Stop::Fault(format!("an item's task stopped: {e}"))),
    }
}

/// Goes through the connection's active twins in key order, one at a time, after the last one
/// stored: Bulk Unexalate and Sync again. `work` says whether it changed the twin.
async fn each_twin<F, Fut>(
    run: &mut Run<'_>,
    connection_id: uuid::Uuid,
    work: F,
) -> Result<(), Stop>
where
    F: Fn(AppState, Connection, ItemKey) -> Fut,
    Fut: std::future::Future<Output = Result<bool, SyncFailure>>,
{
    let mut after: Option<ItemKey> = run.resume.after.as_deref().and_then(|k| k.parse().ok());
    loop {
        let connection = run.connection(connection_id).await?;
        let page = run
            .state
            .store()
            .twins(connection_id, after.as_ref(), PAGE)
            .await?;
        let Some(last) = page.last() else { break };
        let last = last.local_key.clone();
        for twin in page
            .into_iter()
            .filter(|t| t.state == tandem_model::TwinState::Active)
        {
            if run.cancelled() {
                return Err(Stop::Cancelled);
            }
            let outcome = work(
                run.state.clone(),
                connection.clone(),
                twin.local_key.clone(),
            )
            .await;
            run.tally(&connection, &twin.local_key, outcome).await?;
            run.resume.after = Some(twin.local_key.to_string());
            run.save(false).await?;
        }
        run.resume.after = Some(last.to_string());
        after = Some(last);
        run.save(true).await?;
    }
    run.progress.total = run.progress.done + run.progress.failed;
    Ok(())
}

/// Clean-up: voids the changes still queued for the remote (once: the count is stored with
/// the resume point), removes every twin of the connection, then tells the remote. Taken up
/// again it goes on removing what is left; removing a twin twice cannot happen.
async fn clean_up(run: &mut Run<'_>, connection_id: uuid::Uuid) -> Result<(), Stop> {
    let connection = run
        .state
        .store()
        .connection(connection_id)
        .await?
        .ok_or_else(|| Stop::Fault("its connection was deleted".into()))?;
    let store = run.state.store();
    if run.resume.queued.is_none() {
        // Between delivery rounds, so none is in a push on its way (see `operations`).
        let _round = run.state.delivery_round().await;
        let queued = store
            .void_queued_messages(
                connection.id,
                &[engine::SYNC, operations::SYNC_CONNECT],
                operations::SYNC_VOID,
            )
            .await?;
        run.resume.queued = Some(queued);
        run.save(true).await?;
    }
    loop {
        let page = store.twins(connection.id, None, PAGE).await?;
        if page.is_empty() {
            break;
        }
        run.progress.total = run
            .progress
            .total
            .max(run.progress.done + run.progress.failed + page.len() as u64);
        for twin in page {
            if run.cancelled() {
                return Err(Stop::Cancelled);
            }
            store.delete_twin(connection.id, &twin.local_key).await?;
            run.progress.done += 1;
            run.resume.changed += 1;
            run.save(false).await?;
        }
    }
    operations::finish_clean_up(
        run.state,
        &connection,
        run.resume.changed,
        run.resume.queued.unwrap_or(0),
    )
    .await
    .map_err(|e| Stop::Fault(e.to_string()))?;
    run.progress.total = run.progress.done + run.progress.failed;
    Ok(())
}

/// `1 item`, `3 items`.
fn count(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}
