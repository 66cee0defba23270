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

use crate::{Result, StorageFault, StorageProblem, StoreError};

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
    /// The directory holding the database, as storage faults name it.
    dir: String,
    /// The storage fault the last write met, until a write succeeds ([`crate::Store::storage_problem`]).
    problem: std::sync::Mutex<Option<StorageProblem>>,
    /// Signalled after every committed item change ([`crate::Store::item_changed`]).
    item_changes: tokio::sync::Notify,
    /// Operations that failed on a storage fault ([`crate::Store::storage_faults`]).
    faults: std::sync::atomic::AtomicU64,
    /// [`crate::Store::reach_version`]: moved after each committed write of a scope, a
    /// trigger or a connection's deletion. Only this process writes the database (the lock
    /// file), so an in-memory counter sees every such write.
    reach_version: std::sync::atomic::AtomicU64,
    _lock: File,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Lets the database grow by at most `pages` pages from its size now (SQLite's
    /// `max_page_count`), or with `None` as far as the disk allows again. Past the limit a
    /// write fails as on a full disk (`SQLITE_FULL`, a [`StorageFault::Full`]); one that fits
    /// goes through. Storage-fault tests use it for a full disk at an exact point, without
    /// filling one.
    pub async fn limit_growth(&self, pages: Option<u32>) -> Result<()> {
        self.writer
            .write(move |conn| {
                let most: i64 = match pages {
                    Some(pages) => {
                        let now: i64 = conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
                        now + i64::from(pages)
                    }
                    // SQLite's own ceiling: the pragma clamps it.
                    None => i64::from(u32::MAX - 1),
                };
                conn.query_row(&format!("PRAGMA max_page_count = {most}"), [], |_| Ok(()))?;
                Ok(())
            })
            .await
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
            dir: database_dir(path),
            problem: std::sync::Mutex::new(None),
            item_changes: tokio::sync::Notify::new(),
            faults: std::sync::atomic::AtomicU64::new(0),
            reach_version: std::sync::atomic::AtomicU64::new(0),
            _lock: lock,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The directory holding the database file, as people know it (`.` for a bare file name).
fn database_dir(db: &Path) -> String {
    match db.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) => dir.display().to_string(),
        None => ".".to_owned(),
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
        match storage_fault(&e) {
            // Where it happened is added by the store, which knows its directory.
            Some(fault) => StoreError::Storage {
                fault,
                dir: String::new(),
                detail: e.to_string(),
            },
            None => StoreError::Database(e.to_string()),
        }
    }
}

/// The fault of the storage under the database behind a SQLite error, when it is one: the
/// errors that say nothing about the data or the statement, and go away with their cause.
fn storage_fault(e: &rusqlite::Error) -> Option<StorageFault> {
    use rusqlite::ErrorCode as C;
    match e.sqlite_error_code()? {
        C::DiskFull => Some(StorageFault::Full),
        C::ReadOnly => Some(StorageFault::ReadOnly),
        C::SystemIoFailure | C::CannotOpen => Some(StorageFault::Io),
        _ => None,
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
    use crate::prelude::*;

    fn sqlite_error(code: std::ffi::c_int) -> rusqlite::Error {
        rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), None)
    }

    #[test]
    fn disk_full_read_only_and_io_errors_are_storage_faults_and_the_rest_are_not() {
        use rusqlite::ffi;
        let cases = [
            (ffi::SQLITE_FULL, Some(StorageFault::Full)),
            (ffi::SQLITE_READONLY, Some(StorageFault::ReadOnly)),
            (ffi::SQLITE_IOERR, Some(StorageFault::Io)),
            (ffi::SQLITE_IOERR_WRITE, Some(StorageFault::Io)),
            (ffi::SQLITE_IOERR_FSYNC, Some(StorageFault::Io)),
            (ffi::SQLITE_CANTOPEN, Some(StorageFault::Io)),
            (ffi::SQLITE_CONSTRAINT_UNIQUE, None),
            (ffi::SQLITE_CORRUPT, None),
            (ffi::SQLITE_BUSY, None),
            (ffi::SQLITE_MISUSE, None),
        ];
        for (code, fault) in cases {
            let e = StoreError::from(sqlite_error(code));
            assert_eq!(e.storage_fault(), fault, "code {code}: {e}");
            assert_eq!(e.is_storage_fault(), fault.is_some());
            if fault.is_none() {
                assert!(matches!(e, StoreError::Database(_)), "code {code}: {e:?}");
            }
        }
        // Errors that are not SQLite's own are never storage faults.
        let e = StoreError::from(rusqlite::Error::QueryReturnedNoRows);
        assert!(!e.is_storage_fault());
    }

    #[test]
    fn a_storage_fault_names_the_directory_holding_the_database() {
        let full =
            StoreError::from(sqlite_error(rusqlite::ffi::SQLITE_FULL)).in_dir("/var/lib/tandem");
        assert_eq!(
            full.to_string(),
            "the disk holding /var/lib/tandem is full: free space on it; the node carries on \
             by itself once there is room"
        );
        // Named once: where it happened first stays.
        let again = full.in_dir("/elsewhere");
        assert!(again.to_string().contains("/var/lib/tandem"), "{again}");
        let io = StoreError::from(sqlite_error(rusqlite::ffi::SQLITE_IOERR_WRITE)).in_dir("/data");
        assert!(
            io.to_string()
                .starts_with("the disk holding /data failed a read or write ("),
            "{io}"
        );
        let read_only =
            StoreError::from(sqlite_error(rusqlite::ffi::SQLITE_READONLY)).in_dir("/data");
        assert!(
            read_only
                .to_string()
                .starts_with("the database in /data cannot be written"),
            "{read_only}"
        );
        // Other errors are left as they are.
        let other = StoreError::not_found("item", "SUP-1").in_dir("/data");
        assert_eq!(other.to_string(), "item SUP-1 does not exist");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_database_is_a_storage_fault_that_lasts_until_a_write_goes_through() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let store = SqliteStore::open(&dir.path().join("t.db"), SqliteOptions::default())
            .expect("open store");
        assert_eq!(store.storage_problem(), None);
        // SQLite's own limit on the file's size answers as a full disk does (SQLITE_FULL).
        let pages: i64 = store
            .writer
            .write(|conn| Ok(conn.query_row("PRAGMA page_count", [], |r| r.get(0))?))
            .await
            .expect("page count");
        store
            .writer
            .write(move |conn| {
                conn.query_row(&format!("PRAGMA max_page_count = {pages}"), [], |_| Ok(()))?;
                Ok(())
            })
            .await
            .expect("limit the size");
        let big = "x".repeat(64 * 1024);
        let mut failed = None;
        for n in 0..10 {
            if let Err(e) = store.set_setting(&format!("big.{n}"), &big).await {
                failed = Some(e);
                break;
            }
        }
        let failed = failed.expect("a write over the size limit fails");
        let shown = dir.path().display().to_string();
        assert_eq!(
            failed.storage_fault(),
            Some(StorageFault::Full),
            "{failed:?}"
        );
        assert!(
            failed
                .to_string()
                .starts_with(&format!("the disk holding {shown} is full")),
            "{failed}"
        );
        let problem = store.storage_problem().expect("the fault is remembered");
        assert_eq!(problem.fault, StorageFault::Full);
        assert_eq!(problem.message, failed.to_string());
        // Reads still work, and do not end the fault.
        assert_eq!(store.setting("nothing").await.expect("read"), None);
        assert!(store.storage_problem().is_some());
        // Once there is room, the probe goes through and the fault is over.
        store
            .writer
            .write(|conn| {
                conn.query_row("PRAGMA max_page_count = 1000000", [], |_| Ok(()))?;
                Ok(())
            })
            .await
            .expect("lift the limit");
        store.probe_storage().await.expect("the probe writes");
        assert_eq!(store.storage_problem(), None);
        store
            .set_setting("big.after", &big)
            .await
            .expect("room again");
    }

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
