//! Bulk jobs (migration `0014_bulk_jobs`): created running, their progress stored now and then,
//! finished once. Only a running job's row changes: progress or a finish that arrives after
//! the job ended (a cancel that raced it) leaves the finished record as it was.

use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, Row, params};
use tandem_model::{BulkJob, JobKind, JobProgress, JobState};
use uuid::Uuid;

use super::Checked;
use crate::sqlite::{connections, millis};
use crate::{Result, StoreError};

const JOB_COLUMNS: &str = "id, kind, connection_id, trigger_id, state, done, total, failed, \
     resume, started, updated, finished, error, cancel_requested";

/// A job row as SQLite has it, before its values are checked.
struct StoredJob {
    id: i64,
    kind: String,
    connection_id: String,
    trigger_id: Option<i64>,
    state: String,
    done: i64,
    total: i64,
    failed: i64,
    resume: Option<String>,
    started: i64,
    updated: i64,
    finished: Option<i64>,
    error: Option<String>,
    cancel_requested: bool,
}

impl StoredJob {
    /// Reads a row of [`JOB_COLUMNS`].
    fn from_row(row: &Row<'_>) -> rusqlite::Result<StoredJob> {
        Ok(StoredJob {
            id: row.get(0)?,
            kind: row.get(1)?,
            connection_id: row.get(2)?,
            trigger_id: row.get(3)?,
            state: row.get(4)?,
            done: row.get(5)?,
            total: row.get(6)?,
            failed: row.get(7)?,
            resume: row.get(8)?,
            started: row.get(9)?,
            updated: row.get(10)?,
            finished: row.get(11)?,
            error: row.get(12)?,
            cancel_requested: row.get(13)?,
        })
    }

    fn into_job(self) -> Result<BulkJob> {
        let row = Checked(format!("bulk job {}", self.id));
        let count = |column: &str, n: i64| {
            u64::try_from(n).map_err(|_| row.damaged(format!("{column} {n} is not a count")))
        };
        Ok(BulkJob {
            id: self.id,
            kind: JobKind::parse(&self.kind)
                .ok_or_else(|| row.damaged(format!("kind {:?} is not a job kind", self.kind)))?,
            connection_id: row.uuid("connection_id", &self.connection_id)?,
            trigger_id: self.trigger_id,
            state: JobState::parse(&self.state)
                .ok_or_else(|| row.damaged(format!("state {:?} is not a job state", self.state)))?,
            progress: JobProgress {
                done: count("done", self.done)?,
                total: count("total", self.total)?,
                failed: count("failed", self.failed)?,
                resume: self.resume,
            },
            started: row.time("started", self.started)?,
            updated: row.time("updated", self.updated)?,
            finished: row.opt_time("finished", self.finished)?,
            error: self.error,
            cancel_requested: self.cancel_requested,
        })
    }
}

/// SQLite's integers are signed: a count past `i64::MAX` is stored as that.
fn stored_count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

pub(in crate::sqlite) fn create_job(
    conn: &Connection,
    kind: JobKind,
    connection_id: Uuid,
    trigger_id: Option<i64>,
    total: u64,
    now: Timestamp,
) -> Result<BulkJob> {
    connections::require(conn, connection_id)?;
    conn.prepare_cached(&format!(
        "INSERT INTO bulk_jobs (kind, connection_id, trigger_id, state, total, started, updated) \
         VALUES (?1, ?2, ?3, 'running', ?4, ?5, ?5) RETURNING {JOB_COLUMNS}"
    ))?
    .query_row(
        params![
            kind.as_str(),
            connections::id_text(connection_id),
            trigger_id,
            stored_count(total),
            millis(now)
        ],
        StoredJob::from_row,
    )?
    .into_job()
}

pub(in crate::sqlite) fn job(conn: &Connection, id: i64) -> Result<Option<BulkJob>> {
    conn.prepare_cached(&format!(
        "SELECT {JOB_COLUMNS} FROM bulk_jobs WHERE id = ?1"
    ))?
    .query_row([id], StoredJob::from_row)
    .optional()?
    .map(StoredJob::into_job)
    .transpose()
}

fn existing(conn: &Connection, id: i64) -> Result<BulkJob> {
    job(conn, id)?.ok_or_else(|| StoreError::not_found("bulk job", id))
}

/// Stores a running job's progress; returns the job as stored (a finished one unchanged).
pub(in crate::sqlite) fn save_progress(
    conn: &Connection,
    id: i64,
    progress: &JobProgress,
    now: Timestamp,
) -> Result<BulkJob> {
    conn.prepare_cached(
        "UPDATE bulk_jobs SET done = ?2, total = ?3, failed = ?4, resume = ?5, updated = ?6 \
         WHERE id = ?1 AND state = 'running'",
    )?
    .execute(params![
        id,
        stored_count(progress.done),
        stored_count(progress.total),
        stored_count(progress.failed),
        progress.resume,
        millis(now)
    ])?;
    existing(conn, id)
}

/// Ends a running job with its last progress; a finished one is returned unchanged.
pub(in crate::sqlite) fn finish_job(
    conn: &Connection,
    id: i64,
    state: JobState,
    progress: &JobProgress,
    error: Option<&str>,
    now: Timestamp,
) -> Result<BulkJob> {
    if state == JobState::Running {
        return Err(StoreError::Database(format!(
            "bulk job {id} cannot be finished as running"
        )));
    }
    conn.prepare_cached(
        "UPDATE bulk_jobs SET state = ?2, done = ?3, total = ?4, failed = ?5, resume = ?6, \
         error = ?7, updated = ?8, finished = ?8 WHERE id = ?1 AND state = 'running'",
    )?
    .execute(params![
        id,
        state.as_str(),
        stored_count(progress.done),
        stored_count(progress.total),
        stored_count(progress.failed),
        progress.resume,
        error,
        millis(now)
    ])?;
    existing(conn, id)
}

/// Marks a running job to stop; a finished one is returned unchanged.
pub(in crate::sqlite) fn request_cancel(conn: &Connection, id: i64) -> Result<BulkJob> {
    conn.prepare_cached(
        "UPDATE bulk_jobs SET cancel_requested = 1 WHERE id = ?1 AND state = 'running'",
    )?
    .execute([id])?;
    existing(conn, id)
}

/// Newest first: of one connection or all, only the running ones when asked.
pub(in crate::sqlite) fn jobs(
    conn: &Connection,
    connection_id: Option<Uuid>,
    running_only: bool,
    limit: u32,
) -> Result<Vec<BulkJob>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {JOB_COLUMNS} FROM bulk_jobs \
         WHERE (?1 IS NULL OR connection_id = ?1) AND (?2 = 0 OR state = 'running') \
         ORDER BY id DESC LIMIT ?3"
    ))?;
    let rows = stmt.query_map(
        params![connection_id.map(connections::id_text), running_only, limit],
        StoredJob::from_row,
    )?;
    rows.map(|row| row?.into_job()).collect()
}
