//! Sync errors, conflicts and triggers. "Newest first" is by id (the order of recording), so
//! that two records of one millisecond, or a clock set back, keep their order.

use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, Row, params};
use tandem_model::{ConflictRecord, Impact, ItemKey, NewSyncError, SyncError, Trigger};
use uuid::Uuid;

use super::{Checked, requests};
use crate::sqlite::{connections, millis};
use crate::{Result, StoreError};

// --- sync errors ------------------------------------------------------------------------------

const ERROR_COLUMNS: &str = "id, impact, connection_id, project, number, remote_key, \
     request_id, at, message, script_trace, resolved, remote_error_id";

/// A sync error row as SQLite has it, before its values are checked.
struct StoredError {
    id: i64,
    impact: String,
    connection_id: Option<String>,
    project: Option<String>,
    number: Option<i64>,
    remote_key: Option<String>,
    request_id: Option<i64>,
    at: i64,
    message: String,
    script_trace: Option<String>,
    resolved: Option<i64>,
    remote_error_id: Option<i64>,
}

impl StoredError {
    /// Reads a row of [`ERROR_COLUMNS`].
    fn from_row(row: &Row<'_>) -> rusqlite::Result<StoredError> {
        Ok(StoredError {
            id: row.get(0)?,
            impact: row.get(1)?,
            connection_id: row.get(2)?,
            project: row.get(3)?,
            number: row.get(4)?,
            remote_key: row.get(5)?,
            request_id: row.get(6)?,
            at: row.get(7)?,
            message: row.get(8)?,
            script_trace: row.get(9)?,
            resolved: row.get(10)?,
            remote_error_id: row.get(11)?,
        })
    }

    fn into_error(self) -> Result<SyncError> {
        let row = Checked(format!("sync error {}", self.id));
        let local_key = match (&self.project, self.number) {
            (Some(project), Some(number)) => Some(row.key(project, number)?),
            (None, None) => None,
            _ => return Err(row.damaged("it has a project or an item number but not both")),
        };
        Ok(SyncError {
            id: self.id,
            impact: Impact::parse(&self.impact)
                .ok_or_else(|| row.damaged(format!("unknown impact {:?}", self.impact)))?,
            connection_id: self
                .connection_id
                .as_deref()
                .map(|id| row.uuid("connection_id", id))
                .transpose()?,
            local_key,
            at: row.time("at", self.at)?,
            resolved: row.opt_time("resolved", self.resolved)?,
            remote_key: self.remote_key,
            request_id: self.request_id,
            message: self.message,
            script_trace: self.script_trace,
            remote_error: self.remote_error_id,
        })
    }
}

fn errors(rows: impl Iterator<Item = rusqlite::Result<StoredError>>) -> Result<Vec<SyncError>> {
    rows.map(|row| row?.into_error()).collect()
}

/// `NotFound` for an unknown connection or request, rather than a foreign key failure.
pub(in crate::sqlite) fn record_error(
    conn: &Connection,
    e: &NewSyncError,
    now: Timestamp,
) -> Result<SyncError> {
    if let Some(id) = e.connection_id {
        connections::require(conn, id)?;
    }
    if let Some(request) = e.request_id
        && !requests::exists(conn, request)?
    {
        return Err(StoreError::not_found("sync request", request));
    }
    let key = e.local_key.as_ref();
    conn.prepare_cached(&format!(
        "INSERT INTO sync_errors (impact, connection_id, project, number, remote_key, \
         request_id, at, message, script_trace, remote_error_id) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) \
         RETURNING {ERROR_COLUMNS}"
    ))?
    .query_row(
        params![
            e.impact.as_str(),
            e.connection_id.map(connections::id_text),
            key.map(|k| k.project.as_str()),
            key.map(|k| k.number),
            e.remote_key,
            e.request_id,
            millis(now),
            e.message,
            e.script_trace,
            e.remote_error,
        ],
        StoredError::from_row,
    )?
    .into_error()
}

/// The unresolved ones read the partial index `sync_errors_unresolved`.
pub(in crate::sqlite) fn errors_page(
    conn: &Connection,
    include_resolved: bool,
    limit: u32,
) -> Result<Vec<SyncError>> {
    let sql = if include_resolved {
        format!("SELECT {ERROR_COLUMNS} FROM sync_errors ORDER BY id DESC LIMIT ?1")
    } else {
        format!(
            "SELECT {ERROR_COLUMNS} FROM sync_errors WHERE resolved IS NULL \
             ORDER BY id DESC LIMIT ?1"
        )
    };
    let mut stmt = conn.prepare_cached(&sql)?;
    errors(stmt.query_map([limit], StoredError::from_row)?)
}

pub(in crate::sqlite) fn error(conn: &Connection, id: i64) -> Result<Option<SyncError>> {
    conn.prepare_cached(&format!(
        "SELECT {ERROR_COLUMNS} FROM sync_errors WHERE id = ?1"
    ))?
    .query_row([id], StoredError::from_row)
    .optional()?
    .map(StoredError::into_error)
    .transpose()
}

pub(in crate::sqlite) fn resolve_error(
    conn: &Connection,
    id: i64,
    now: Timestamp,
) -> Result<SyncError> {
    conn.prepare_cached(&format!(
        "UPDATE sync_errors SET resolved = ?2 WHERE id = ?1 RETURNING {ERROR_COLUMNS}"
    ))?
    .query_row(params![id, millis(now)], StoredError::from_row)
    .optional()?
    .ok_or_else(|| StoreError::not_found("sync error", id))?
    .into_error()
}

/// Resolves the open errors the remote reported about the item (its change was applied there
/// since); returns how many.
pub(in crate::sqlite) fn resolve_reported_errors(
    conn: &Connection,
    connection_id: Uuid,
    key: &ItemKey,
    now: Timestamp,
) -> Result<u64> {
    let n = conn
        .prepare_cached(
            "UPDATE sync_errors SET resolved = ?4 WHERE connection_id = ?1 AND project = ?2 \
             AND number = ?3 AND remote_error_id IS NOT NULL AND resolved IS NULL",
        )?
        .execute(params![
            connections::id_text(connection_id),
            key.project.as_str(),
            key.number,
            millis(now)
        ])?;
    Ok(n as u64)
}

/// The open errors per connection (`None`: the node's own), in one read.
pub(in crate::sqlite) fn open_error_counts(conn: &Connection) -> Result<Vec<(Option<Uuid>, u64)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT connection_id, COUNT(*) FROM sync_errors WHERE resolved IS NULL \
         GROUP BY connection_id",
    )?;
    let rows = stmt
        .query_map([], |row| {
            Ok((row.get::<_, Option<String>>(0)?, row.get::<_, i64>(1)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.into_iter()
        .map(|(id, n)| {
            let id = id
                .map(|id| {
                    Uuid::try_parse(&id).map_err(|e| {
                        StoreError::Database(format!(
                            "sync error connection {id:?} is damaged: {e}"
                        ))
                    })
                })
                .transpose()?;
            Ok((id, u64::try_from(n).unwrap_or(0)))
        })
        .collect()
}

pub(in crate::sqlite) fn set_error_message(
    conn: &Connection,
    id: i64,
    message: &str,
) -> Result<SyncError> {
    conn.prepare_cached(&format!(
        "UPDATE sync_errors SET message = ?2 WHERE id = ?1 RETURNING {ERROR_COLUMNS}"
    ))?
    .query_row(params![id, message], StoredError::from_row)
    .optional()?
    .ok_or_else(|| StoreError::not_found("sync error", id))?
    .into_error()
}

// --- conflicts --------------------------------------------------------------------------------

const CONFLICT_COLUMNS: &str = "id, connection_id, project, number, field, local_value, \
     remote_value, kept_local, at, restored";

/// A conflict row as SQLite has it, before its values are checked.
struct StoredConflict {
    id: i64,
    connection_id: String,
    project: String,
    number: i64,
    field: String,
    local_value: String,
    remote_value: String,
    kept_local: bool,
    at: i64,
    restored: Option<i64>,
}

impl StoredConflict {
    /// Reads a row of [`CONFLICT_COLUMNS`].
    fn from_row(row: &Row<'_>) -> rusqlite::Result<StoredConflict> {
        Ok(StoredConflict {
            id: row.get(0)?,
            connection_id: row.get(1)?,
            project: row.get(2)?,
            number: row.get(3)?,
            field: row.get(4)?,
            local_value: row.get(5)?,
            remote_value: row.get(6)?,
            kept_local: row.get(7)?,
            at: row.get(8)?,
            restored: row.get(9)?,
        })
    }

    fn into_conflict(self) -> Result<ConflictRecord> {
        let row = Checked(format!(
            "conflict {} ({}-{}, field {})",
            self.id, self.project, self.number, self.field
        ));
        Ok(ConflictRecord {
            id: self.id,
            connection_id: row.uuid("connection_id", &self.connection_id)?,
            local_key: row.key(&self.project, self.number)?,
            at: row.time("at", self.at)?,
            restored: self
                .restored
                .map(|at| row.time("restored", at))
                .transpose()?,
            field: self.field,
            local_value: self.local_value,
            remote_value: self.remote_value,
            kept_local: self.kept_local,
        })
    }
}

/// Numbers and times the conflict; `NotFound` for an unknown connection.
pub(in crate::sqlite) fn record_conflict(
    conn: &Connection,
    c: &ConflictRecord,
    now: Timestamp,
) -> Result<ConflictRecord> {
    connections::require(conn, c.connection_id)?;
    conn.prepare_cached(&format!(
        "INSERT INTO conflicts (connection_id, project, number, field, local_value, \
         remote_value, kept_local, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
         RETURNING {CONFLICT_COLUMNS}"
    ))?
    .query_row(
        params![
            connections::id_text(c.connection_id),
            c.local_key.project.as_str(),
            c.local_key.number,
            c.field,
            c.local_value,
            c.remote_value,
            c.kept_local,
            millis(now),
        ],
        StoredConflict::from_row,
    )?
    .into_conflict()
}

/// Newest first, read backwards off `conflicts_by_item`.
pub(in crate::sqlite) fn conflicts(
    conn: &Connection,
    local_key: &ItemKey,
) -> Result<Vec<ConflictRecord>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {CONFLICT_COLUMNS} FROM conflicts WHERE project = ?1 AND number = ?2 \
         ORDER BY id DESC"
    ))?;
    let rows = stmt.query_map(
        params![local_key.project.as_str(), local_key.number],
        StoredConflict::from_row,
    )?;
    rows.map(|row| row?.into_conflict()).collect()
}

/// A connection's conflicts with ids below `before` (all when `None`), newest first, at most
/// `limit`: read backwards off `conflicts_by_connection`.
pub(in crate::sqlite) fn connection_conflicts(
    conn: &Connection,
    connection_id: Uuid,
    before: Option<i64>,
    limit: u32,
) -> Result<Vec<ConflictRecord>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {CONFLICT_COLUMNS} FROM conflicts WHERE connection_id = ?1 AND id < ?2 \
         ORDER BY id DESC LIMIT ?3"
    ))?;
    let rows = stmt.query_map(
        params![
            connections::id_text(connection_id),
            before.unwrap_or(i64::MAX),
            limit
        ],
        StoredConflict::from_row,
    )?;
    rows.map(|row| row?.into_conflict()).collect()
}

pub(in crate::sqlite) fn conflict(conn: &Connection, id: i64) -> Result<Option<ConflictRecord>> {
    conn.prepare_cached(&format!(
        "SELECT {CONFLICT_COLUMNS} FROM conflicts WHERE id = ?1"
    ))?
    .query_row(params![id], StoredConflict::from_row)
    .optional()?
    .map(StoredConflict::into_conflict)
    .transpose()
}

/// Records `now` as the conflict's restore, keeping an earlier one; `NotFound`.
pub(in crate::sqlite) fn mark_conflict_restored(
    conn: &Connection,
    id: i64,
    now: Timestamp,
) -> Result<ConflictRecord> {
    conn.prepare_cached(&format!(
        "UPDATE conflicts SET restored = coalesce(restored, ?2) WHERE id = ?1 \
         RETURNING {CONFLICT_COLUMNS}"
    ))?
    .query_row(params![id, millis(now)], StoredConflict::from_row)
    .optional()?
    .ok_or_else(|| StoreError::not_found("conflict", id))?
    .into_conflict()
}

// --- triggers ---------------------------------------------------------------------------------

const TRIGGER_COLUMNS: &str = "id, connection_id, query, active, note, created";

/// A trigger row as SQLite has it, before its values are checked.
struct StoredTrigger {
    id: i64,
    connection_id: String,
    query: String,
    active: bool,
    note: String,
    created: i64,
}

impl StoredTrigger {
    /// Reads a row of [`TRIGGER_COLUMNS`].
    fn from_row(row: &Row<'_>) -> rusqlite::Result<StoredTrigger> {
        Ok(StoredTrigger {
            id: row.get(0)?,
            connection_id: row.get(1)?,
            query: row.get(2)?,
            active: row.get(3)?,
            note: row.get(4)?,
            created: row.get(5)?,
        })
    }

    fn into_trigger(self) -> Result<Trigger> {
        let row = Checked(format!(
            "trigger {} of connection {}",
            self.id, self.connection_id
        ));
        Ok(Trigger {
            id: self.id,
            connection_id: row.uuid("connection_id", &self.connection_id)?,
            created: row.time("created", self.created)?,
            query: self.query,
            active: self.active,
            note: self.note,
        })
    }
}

fn triggers(rows: impl Iterator<Item = rusqlite::Result<StoredTrigger>>) -> Result<Vec<Trigger>> {
    rows.map(|row| row?.into_trigger()).collect()
}

pub(in crate::sqlite) fn create_trigger(
    conn: &Connection,
    connection_id: Uuid,
    query: &str,
    active: bool,
    note: &str,
    now: Timestamp,
) -> Result<Trigger> {
    connections::require(conn, connection_id)?;
    conn.prepare_cached(&format!(
        "INSERT INTO triggers (connection_id, query, active, note, created) \
         VALUES (?1, ?2, ?3, ?4, ?5) RETURNING {TRIGGER_COLUMNS}"
    ))?
    .query_row(
        params![
            connections::id_text(connection_id),
            query,
            active,
            note,
            millis(now)
        ],
        StoredTrigger::from_row,
    )?
    .into_trigger()
}

/// Oldest (lowest id) first.
pub(in crate::sqlite) fn all_triggers(
    conn: &Connection,
    connection_id: Option<Uuid>,
) -> Result<Vec<Trigger>> {
    match connection_id {
        Some(id) => {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {TRIGGER_COLUMNS} FROM triggers WHERE connection_id = ?1 ORDER BY id"
            ))?;
            triggers(stmt.query_map([connections::id_text(id)], StoredTrigger::from_row)?)
        }
        None => {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {TRIGGER_COLUMNS} FROM triggers ORDER BY id"
            ))?;
            triggers(stmt.query_map([], StoredTrigger::from_row)?)
        }
    }
}

/// Replaces query, active flag and note; the connection and `created` stay.
pub(in crate::sqlite) fn update_trigger(conn: &Connection, t: &Trigger) -> Result<Trigger> {
    conn.prepare_cached(&format!(
        "UPDATE triggers SET query = ?2, active = ?3, note = ?4 WHERE id = ?1 \
         RETURNING {TRIGGER_COLUMNS}"
    ))?
    .query_row(
        params![t.id, t.query, t.active, t.note],
        StoredTrigger::from_row,
    )
    .optional()?
    .ok_or_else(|| StoreError::not_found("trigger", t.id))?
    .into_trigger()
}

pub(in crate::sqlite) fn delete_trigger(conn: &Connection, id: i64) -> Result<()> {
    let deleted = conn
        .prepare_cached("DELETE FROM triggers WHERE id = ?1")?
        .execute([id])?;
    if deleted == 0 {
        return Err(StoreError::not_found("trigger", id));
    }
    Ok(())
}
