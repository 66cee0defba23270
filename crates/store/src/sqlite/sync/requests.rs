//! Requests received from a connection's remote: stored in the transaction that records their
//! seq as received, then run in order per remote item.

use std::sync::LazyLock;

use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, Row, params};
use tandem_model::{IncomingRequest, RequestState};
use uuid::Uuid;

use super::Checked;
use crate::sqlite::{connections, millis};
use crate::{Result, StoreError};

const COLUMNS: &str =
    "id, connection_id, seq, kind, remote_key, payload, state, attempts, received, updated";

/// A request row as SQLite has it, before its values are checked.
struct Stored {
    id: i64,
    connection_id: String,
    seq: i64,
    kind: String,
    remote_key: Option<String>,
    payload: String,
    state: String,
    attempts: i64,
    received: i64,
    updated: i64,
}

impl Stored {
    /// Reads a row of [`COLUMNS`].
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Stored> {
        Ok(Stored {
            id: row.get(0)?,
            connection_id: row.get(1)?,
            seq: row.get(2)?,
            kind: row.get(3)?,
            remote_key: row.get(4)?,
            payload: row.get(5)?,
            state: row.get(6)?,
            attempts: row.get(7)?,
            received: row.get(8)?,
            updated: row.get(9)?,
        })
    }

    fn into_request(self) -> Result<IncomingRequest> {
        let row = Checked(format!(
            "sync request {} (seq {} of connection {})",
            self.id, self.seq, self.connection_id
        ));
        Ok(IncomingRequest {
            id: self.id,
            connection_id: row.uuid("connection_id", &self.connection_id)?,
            seq: self.seq,
            state: RequestState::parse(&self.state)
                .ok_or_else(|| row.damaged(format!("unknown state {:?}", self.state)))?,
            attempts: row.count("attempts", self.attempts)?,
            received: row.time("received", self.received)?,
            updated: row.time("updated", self.updated)?,
            kind: self.kind,
            remote_key: self.remote_key,
            payload: self.payload,
        })
    }
}

fn collect(rows: impl Iterator<Item = rusqlite::Result<Stored>>) -> Result<Vec<IncomingRequest>> {
    rows.map(|row| row?.into_request()).collect()
}

/// Stores the request and advances the inbound seq (`connections::advance_inbound_seq`, which
/// alone keeps it), only when `seq` is the next one: the remote numbers its messages from 1
/// without gaps, so anything else is a repeat or follows a message this side never stored.
pub(in crate::sqlite) fn receive(
    conn: &Connection,
    connection_id: Uuid,
    seq: i64,
    kind: &str,
    remote_key: Option<&str>,
    payload: &str,
    now: Timestamp,
) -> Result<bool> {
    connections::require(conn, connection_id)?;
    let last = connections::inbound_seq(conn, connection_id)?;
    if last.checked_add(1) != Some(seq) {
        return Ok(false);
    }
    conn.prepare_cached(
        "INSERT INTO sync_requests \
         (connection_id, seq, kind, remote_key, payload, state, attempts, received, updated) \
         VALUES (?1, ?2, ?3, ?4, ?5, 'pending', 0, ?6, ?6)",
    )?
    .execute(params![
        connections::id_text(connection_id),
        seq,
        kind,
        remote_key,
        payload,
        millis(now)
    ])?;
    if !connections::advance_inbound_seq(conn, connection_id, seq)? {
        // Cannot happen: seq is last + 1 inside this transaction. Failing rolls the insert back.
        return Err(StoreError::Database(format!(
            "the inbound seq of connection {connection_id} did not advance to {seq}"
        )));
    }
    Ok(true)
}

/// Pending requests with no earlier open (pending or failed) request in their group: the same
/// connection and remote key, `IS` so that requests without a key group together per
/// connection. The outer scan reads the partial index of pending requests in id order; the
/// `NOT EXISTS` probes the partial index of open requests, so applied requests cost nothing.
static RUNNABLE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {COLUMNS} FROM sync_requests r WHERE r.state = 'pending' AND NOT EXISTS ( \
             SELECT 1 FROM sync_requests e \
             WHERE e.connection_id = r.connection_id AND e.remote_key IS r.remote_key \
             AND e.id < r.id AND e.state IN ('pending', 'failed')) \
         ORDER BY r.id LIMIT ?1"
    )
});

pub(in crate::sqlite) fn runnable(conn: &Connection, limit: u32) -> Result<Vec<IncomingRequest>> {
    let mut stmt = conn.prepare_cached(&RUNNABLE)?;
    collect(stmt.query_map([limit], Stored::from_row)?)
}

pub(in crate::sqlite) fn by_id(conn: &Connection, id: i64) -> Result<Option<IncomingRequest>> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM sync_requests WHERE id = ?1"
    ))?
    .query_row([id], Stored::from_row)
    .optional()?
    .map(Stored::into_request)
    .transpose()
}

/// Newest first. The states travel as one JSON array parameter, so that one cached statement
/// serves every filter; an empty array means every state.
pub(in crate::sqlite) fn list(
    conn: &Connection,
    connection_id: Option<Uuid>,
    states: &[RequestState],
    limit: u32,
) -> Result<Vec<IncomingRequest>> {
    let states: Vec<&str> = states.iter().map(|s| s.as_str()).collect();
    let states = serde_json::to_string(&states).expect("a list of strings always serializes");
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM sync_requests \
         WHERE (?1 IS NULL OR connection_id = ?1) \
         AND (json_array_length(?2) = 0 OR state IN (SELECT value FROM json_each(?2))) \
         ORDER BY id DESC LIMIT ?3"
    ))?;
    collect(stmt.query_map(
        params![connection_id.map(connections::id_text), states, limit],
        Stored::from_row,
    )?)
}

/// How many of the connection's requests are pending (the partial index of pending ones
/// holds just those rows).
pub(in crate::sqlite) fn pending_count(conn: &Connection, connection_id: Uuid) -> Result<u64> {
    let count: i64 = conn
        .prepare_cached(
            "SELECT COUNT(*) FROM sync_requests WHERE state = 'pending' AND connection_id = ?1",
        )?
        .query_row([connections::id_text(connection_id)], |row| row.get(0))?;
    Ok(u64::try_from(count).unwrap_or(0))
}

/// `Failed` counts an attempt; the other states do not.
pub(in crate::sqlite) fn set_state(
    conn: &Connection,
    id: i64,
    state: RequestState,
    now: Timestamp,
) -> Result<()> {
    let updated = conn
        .prepare_cached(
            "UPDATE sync_requests SET state = ?2, attempts = attempts + ?3, updated = ?4 \
             WHERE id = ?1",
        )?
        .execute(params![
            id,
            state.as_str(),
            i64::from(state == RequestState::Failed),
            millis(now)
        ])?;
    if updated == 0 {
        return Err(StoreError::not_found("sync request", id));
    }
    Ok(())
}

pub(in crate::sqlite) fn exists(conn: &Connection, id: i64) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM sync_requests WHERE id = ?1)")?
        .query_row([id], |row| row.get(0))?)
}

#[cfg(test)]
mod tests {
    use crate::sqlite::migrations;

    /// The queries that run on every poll must read indexes, not the table.
    #[test]
    fn runnable_requests_read_the_partial_indexes() {
        let mut conn = rusqlite::Connection::open_in_memory().expect("in-memory database");
        migrations::migrate(&mut conn, "mem").expect("migrate");
        let sql = format!("EXPLAIN QUERY PLAN {}", *super::RUNNABLE);
        let plan: Vec<String> = conn
            .prepare(&sql)
            .and_then(|mut s| s.query_map([10], |r| r.get(3))?.collect())
            .expect("query plan");
        let plan = plan.join("\n");
        assert!(plan.contains("USING INDEX sync_requests_pending"), "{plan}");
        assert!(plan.contains("USING INDEX sync_requests_open"), "{plan}");
    }
}
