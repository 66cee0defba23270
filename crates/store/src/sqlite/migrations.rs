//! The SQLite schema's migrations: versioned SQL files under `migrations/sqlite/`, compiled into
//! the binary and applied on open. The schema version lives in `PRAGMA user_version`, so a
//! database written by an older Tandem is brought up to date, and one written by a newer Tandem
//! is refused instead of being misread.
//!
//! To change the schema, add a file `NNNN_what.sql` and a line to [`MIGRATIONS`]; never edit a
//! migration that has shipped.

use rusqlite::Connection;
use rusqlite_migration::{M, Migrations};

use crate::{Result, StoreError};

/// Every migration, oldest first. The schema version after applying the first `n` is `n`.
pub const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/sqlite/0001_initial.sql"),
    include_str!("../../migrations/sqlite/0002_search_indexes.sql"),
    include_str!("../../migrations/sqlite/0003_connections.sql"),
    include_str!("../../migrations/sqlite/0004_sync.sql"),
    include_str!("../../migrations/sqlite/0005_field_versions.sql"),
    include_str!("../../migrations/sqlite/0006_mirror.sql"),
    include_str!("../../migrations/sqlite/0007_mirror_snapshot.sql"),
    include_str!("../../migrations/sqlite/0008_twin_months.sql"),
    include_str!("../../migrations/sqlite/0009_ids_never_reused.sql"),
    include_str!("../../migrations/sqlite/0010_connection_scope.sql"),
    include_str!("../../migrations/sqlite/0012_accept_proofs.sql"),
    include_str!("../../migrations/sqlite/0013_token_scopes.sql"),
    include_str!("../../migrations/sqlite/0014_bulk_jobs.sql"),
    include_str!("../../migrations/sqlite/0015_conflict_restore.sql"),
    include_str!("../../migrations/sqlite/0016_target_project_remote_errors.sql"),
    include_str!("../../migrations/sqlite/0017_item_type_parent.sql"),
    include_str!("../../migrations/sqlite/0018_comment_origin.sql"),
    include_str!("../../migrations/sqlite/0019_twin_display_keys.sql"),
];

/// The schema version this binary writes.
pub const SCHEMA_VERSION: usize = MIGRATIONS.len();

fn migrations() -> Migrations<'static> {
    Migrations::new(MIGRATIONS.iter().map(|sql| M::up(sql)).collect())
}

/// Brings the database up to [`SCHEMA_VERSION`]. `path` only names the file in errors.
pub(super) fn migrate(conn: &mut Connection, path: &str) -> Result<()> {
    let fail = |reason: String| StoreError::Migration {
        path: path.to_owned(),
        reason,
    };
    let found: i64 = conn
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(|e| fail(format!("cannot read the schema version: {e}")))?;
    if found < 0 || usize::try_from(found).is_ok_and(|v| v > SCHEMA_VERSION) {
        return Err(fail(format!(
            "it was written by a newer Tandem (schema version {found}; this Tandem knows up to \
             version {SCHEMA_VERSION}): upgrade Tandem, or restore a backup made by this version"
        )));
    }
    if usize::try_from(found).is_ok_and(|v| v == SCHEMA_VERSION) {
        return Ok(());
    }
    tracing::info!(
        path,
        from = found,
        to = SCHEMA_VERSION,
        "Migrating the database schema."
    );
    migrations()
        .to_latest(conn)
        .map_err(|e| fail(format!("migration from version {found} failed: {e}")))
}

/// Applies the first `version` migrations only. For tests that need a database as an older
/// Tandem left it.
#[doc(hidden)]
pub fn migrate_to_version(conn: &mut Connection, version: usize) -> Result<()> {
    migrations()
        .to_version(conn, version)
        .map_err(|e| StoreError::Migration {
            path: conn.path().unwrap_or("(in memory)").to_owned(),
            reason: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_apply_to_an_empty_database() {
        assert!(migrations().validate().is_ok());
        let mut conn = Connection::open_in_memory().expect("in-memory database");
        migrate(&mut conn, "mem").expect("migrate");
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .expect("user_version");
        assert_eq!(version, SCHEMA_VERSION as i64);
        // A second run is a no-op.
        migrate(&mut conn, "mem").expect("migrate again");
    }

    #[test]
    fn a_database_from_a_newer_tandem_is_refused() {
        let mut conn = Connection::open_in_memory().expect("in-memory database");
        conn.pragma_update(None, "user_version", 99)
            .expect("set user_version");
        let err = migrate(&mut conn, "x.db").expect_err("must refuse");
        assert!(
            err.to_string().contains("written by a newer Tandem"),
            "{err}"
        );
    }
}
