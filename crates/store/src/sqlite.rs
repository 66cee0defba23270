//! The embedded default backend: one SQLite file in WAL mode.
//!
//! - **One writer.** A dedicated thread owns the only write connection and runs write jobs
//!   sent over a channel, group-committing the jobs that queue up (module `writer`).
//! - **Pooled readers.** Queries run on read-only connections on tokio's blocking pool, so they
//!   never wait for the writer and never block the runtime (module `readers`).
//! - **One process.** An exclusive lock on `<db>.lock` keeps a second Tandem process away from
//!   the file; PostgreSQL is the backend for several processes.
//! - **Migrations** are SQL files compiled in and applied on open ([`migrations`]).
//!
//! Times are stored as INTEGER unix milliseconds.

use std::fs::{File, TryLockError};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use jiff::Timestamp;
use rusqlite::functions::FunctionFlags;
use rusqlite::types::Type;
use rusqlite::{Connection, OpenFlags, Row};

use crate::{Result, StoreError};

mod auth;
mod comments;
mod connections;
mod items;
mod metrics;
pub mod migrations;
mod mirror;
mod query;
mod readers;
mod store;
mod sync;
mod writer;

/// How hard SQLite syncs each commit to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Synchronous {
    /// fsync on every commit: a committed change survives power loss (the default).
    #[default]
    Full,
    /// fsync at checkpoints only: ~15x faster writes; a power cut may lose the last commits
    /// (never corrupts the database).
    Normal,
}

#[derive(Debug, Clone, Default)]
pub struct SqliteOptions {
    pub synchronous: Synchronous,
}

/// The SQLite [`Store`](crate::Store). Open it once per process with [`SqliteStore::open`].
/// Dropping it lets the writer finish the queued writes, waits for that (briefly blocking the
/// dropping thread), closes the database and releases the lock file.
pub struct SqliteStore {
    // Field order matters: the writer is joined (and its connection closed) before the lock
    // file is released.
    writer: writer::Writer,
    readers: Arc<readers::Readers>,
    path: PathBuf,
    /// Signalled after every committed item change ([`crate::Store::item_changed`]).
    item_changes: tokio::sync::Notify,
    /// Operations that failed on a storage fault ([`crate::Store::storage_faults`]).
    faults: std::sync::atomic::AtomicU64,
    _lock: File,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// How long a connection waits for a lock held by another before giving up.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`, takes the process lock, and brings
    /// the schema up to date. Blocking, but brief: call it once at start-up.
    pub fn open(path: &Path, options: SqliteOptions) -> Result<SqliteStore> {
        let shown = path.display().to_string();
        let open_error = |reason: String| StoreError::Open {
            path: shown.clone(),
            reason,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
            && !dir.is_dir()
        {
            return Err(open_error(format!(
                "the directory {} does not exist (or is not a directory)",
                dir.display()
            )));
        }
        let lock = take_lock(path).map_err(open_error)?;

        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut conn =
            Connection::open_with_flags(path, flags).map_err(|e| connection_error(path, &e))?;
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .map_err(|e| connection_error(path, &e))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(open_error(format!(
                "cannot switch the database to WAL mode (it stays in {mode} mode); is it on a \
                 network file system?"
            )));
        }
        let synchronous = match options.synchronous {
            Synchronous::Full => "FULL",
            Synchronous::Normal => "NORMAL",
        };
        conn.pragma_update(None, "synchronous", synchronous)
            .and_then(|()| conn.pragma_update(None, "foreign_keys", "ON"))
            .and_then(|()| prepare_connection(&conn))
            .map_err(|e| connection_error(path, &e))?;
        conn.set_prepared_statement_cache_capacity(64);
        migrations::migrate(&mut conn, &shown)?;

        let writer = writer::Writer::spawn(conn)
            .map_err(|e| open_error(format!("cannot start the writer thread: {e}")))?;
        // Reads mostly hit cached pages, but some wait on the disk: allow a few per core.
        let size = std::thread::available_parallelism().map_or(4, |n| (2 * n.get()).clamp(4, 16));
        let readers = readers::Readers::open(path.to_path_buf(), size)?;
        tracing::info!(path = %shown, synchronous, "Database opened.");
        Ok(SqliteStore {
            writer,
            readers,
            path: path.to_path_buf(),
            item_changes: tokio::sync::Notify::new(),
            faults: std::sync::atomic::AtomicU64::new(0),
            _lock: lock,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Takes the exclusive lock on `<db>.lock`, which keeps other Tandem processes away from the
/// database for as long as the returned file is open. Writes our process id into it, for
/// whoever wonders who holds it.
fn take_lock(db: &Path) -> std::result::Result<File, String> {
    let mut name = db.as_os_str().to_owned();
    name.push(".lock");
    let lock_path = PathBuf::from(name);
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock_path)
        .map_err(|e| {
            let why = if e.kind() == std::io::ErrorKind::PermissionDenied {
                "the directory is not writable".to_owned()
            } else {
                e.to_string()
            };
            format!("cannot create the lock file {}: {why}", lock_path.display())
        })?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            return Err(format!(
                "another Tandem process is using this database (it holds {}); stop that \
                 process, or give this one another data directory",
                lock_path.display()
            ));
        }
        Err(TryLockError::Error(e)) => {
            return Err(format!("cannot lock {}: {e}", lock_path.display()));
        }
    }
    // Best effort: the pid only helps people; the lock is what counts.
    let _ = file
        .set_len(0)
        .and_then(|()| writeln!(file, "{}", std::process::id()));
    Ok(file)
}

/// Settings every connection needs, writer and readers alike.
fn prepare_connection(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // Temporary data in memory rather than in files: the writer's group commit runs each job
    // in a savepoint, whose undo pages SQLite otherwise writes to a temporary file (a write
    // system call per page, for data that is thrown away at the commit).
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    // `tandem_fold(text)`: lower-cases text (all of Unicode, unlike SQLite's `lower`), for
    // case-insensitive matching. NULL stays NULL.
    conn.create_scalar_function(
        "tandem_fold",
        1,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| Ok(ctx.get::<Option<String>>(0)?.map(|s| fold(&s))),
    )?;
    // Reading the schema now turns "not a database" into an error at open, not at first use.
    conn.query_row("SELECT count(*) FROM sqlite_schema", [], |_| Ok(()))
}

/// The case folding behind `tandem_fold` and every case-insensitive comparison.
fn fold(text: &str) -> String {
    text.to_lowercase()
}

/// An open error in plain words.
fn connection_error(path: &Path, e: &rusqlite::Error) -> StoreError {
    use rusqlite::ErrorCode as C;
    let reason = match e.sqlite_error_code() {
        Some(C::NotADatabase) => {
            "the file is not a SQLite database (or it is encrypted or damaged)".to_owned()
        }
        Some(C::CannotOpen) if path.is_dir() => "it is a directory, not a file".to_owned(),
        Some(C::CannotOpen) => {
            "SQLite cannot open the file (check that the directory exists and is writable)"
                .to_owned()
        }
        Some(C::ReadOnly | C::PermissionDenied) => {
            "the file or its directory is not writable".to_owned()
        }
        Some(C::DatabaseCorrupt) => "the database file is damaged".to_owned(),
        _ => e.to_string(),
    };
    StoreError::Open {
        path: path.display().to_string(),
        reason,
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Database(e.to_string())
    }
}

/// Now, at the millisecond precision the database keeps, so that what a write returns equals
/// what a later read returns.
fn now() -> Timestamp {
    Timestamp::from_millisecond(Timestamp::now().as_millisecond())
        .expect("the current time, truncated to milliseconds, is a valid timestamp")
}

fn millis(t: Timestamp) -> i64 {
    t.as_millisecond()
}

/// A column that a value in it could not be turned into.
fn bad_column(
    idx: usize,
    ty: Type,
    e: impl std::error::Error + Send + Sync + 'static,
) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(idx, ty, Box::new(e))
}

fn time_at(row: &Row<'_>, idx: usize) -> rusqlite::Result<Timestamp> {
    let ms: i64 = row.get(idx)?;
    Timestamp::from_millisecond(ms).map_err(|e| bad_column(idx, Type::Integer, e))
}

fn opt_time_at(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<Timestamp>> {
    match row.get::<_, Option<i64>>(idx)? {
        None => Ok(None),
        Some(ms) => Timestamp::from_millisecond(ms)
            .map(Some)
            .map_err(|e| bad_column(idx, Type::Integer, e)),
    }
}

/// Whether an error is a UNIQUE or PRIMARY KEY constraint failing.
fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_extended_error_code(),
        Some(rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY)
    )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::Store;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reads_do_not_wait_for_a_write_in_progress() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let store = SqliteStore::open(&dir.path().join("t.db"), SqliteOptions::default())
            .expect("open store");
        store.set_setting("k", "before").await.expect("set");

        // A write that holds the writer (and its open transaction) until told to finish.
        let (started_tx, started_rx) = tokio::sync::oneshot::channel();
        let (finish_tx, finish_rx) = std::sync::mpsc::channel::<()>();
        let store = Arc::new(store);
        let writing = {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                store
                    .writer
                    .write(move |conn| {
                        auth::set_setting(conn, "k", "after")?;
                        let _ = started_tx.send(());
                        let _ = finish_rx.recv_timeout(Duration::from_secs(10));
                        Ok(())
                    })
                    .await
            })
        };
        started_rx.await.expect("the write started");

        // The read answers while the write is still open, and sees the committed state.
        let read = tokio::time::timeout(Duration::from_secs(5), store.setting("k"))
            .await
            .expect("the read did not wait for the write")
            .expect("read");
        assert_eq!(read.as_deref(), Some("before"));

        finish_tx.send(()).expect("the write is waiting");
        writing.await.expect("join").expect("write");
        assert_eq!(
            store.setting("k").await.expect("read").as_deref(),
            Some("after")
        );
    }
}
