//! What the node's `/metrics` reads from the database at each scrape, and which errors are
//! storage faults (counted by every read and write, [`crate::Store::storage_faults`]).
//!
//! The counts are read when they are asked for, never kept up to date by the writes: each is
//! one indexed query per connection (the outbox's and twins' primary keys, the sync errors'
//! connection index), so a scrape costs a few milliseconds and a write nothing.

use rusqlite::OptionalExtension as _;

use super::opt_time_at;
use crate::{ConnectionGauges, Result, StoreError, SyncGauges};

/// Whether `e` is a fault of the database or the disk under it, rather than a refusal of what
/// was asked (a missing record, a conflict, invalid input).
pub(super) fn is_storage_fault(e: &StoreError) -> bool {
    match e {
        StoreError::Storage { .. }
        | StoreError::Database(_)
        | StoreError::Open { .. }
        | StoreError::Migration { .. }
        | StoreError::Closed => true,
        StoreError::NotFound { .. }
        | StoreError::AlreadyExists(_)
        | StoreError::VersionConflict { .. }
        | StoreError::Changed { .. }
        | StoreError::Invalid(_) => false,
    }
}

pub(super) fn sync_gauges(conn: &mut rusqlite::Connection) -> Result<SyncGauges> {
    // One read transaction: every count of the scrape is of the same moment.
    let tx = conn.transaction()?;
    let connections: Vec<(String, String)> = tx
        .prepare_cached("SELECT id, name FROM connections ORDER BY name")?
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut gauges = SyncGauges::default();
    for (id, name) in connections {
        let connection_id = uuid::Uuid::parse_str(&id)
            .map_err(|e| StoreError::Database(format!("connection id {id:?} is damaged: {e}")))?;
        let count = |sql: &str| -> Result<u64> {
            let n: i64 = tx.prepare_cached(sql)?.query_row([&id], |row| row.get(0))?;
            Ok(u64::try_from(n).unwrap_or(0))
        };
        let queued = count("SELECT COUNT(*) FROM connection_outbox WHERE connection_id = ?1")?;
        // The queue is in seq order: its first message is the oldest.
        let oldest_queued = tx
            .prepare_cached(
                "SELECT created FROM connection_outbox WHERE connection_id = ?1 \
                 ORDER BY seq LIMIT 1",
            )?
            .query_row([&id], |row| opt_time_at(row, 0))
            .optional()?
            .flatten();
        let twins = count("SELECT COUNT(*) FROM twins WHERE connection_id = ?1")?;
        let open_errors = count(
            "SELECT COUNT(*) FROM sync_errors WHERE connection_id = ?1 AND resolved IS NULL",
        )?;
        gauges.connections.push(ConnectionGauges {
            connection_id,
            name,
            queued,
            oldest_queued,
            twins,
            open_errors,
        });
    }
    let node_open_errors: i64 = tx
        .prepare_cached(
            "SELECT COUNT(*) FROM sync_errors WHERE connection_id IS NULL AND resolved IS NULL",
        )?
        .query_row([], |row| row.get(0))?;
    gauges.node_open_errors = u64::try_from(node_open_errors).unwrap_or(0);
    Ok(gauges)
}
