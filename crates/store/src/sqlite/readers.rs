//! Read-only connections for queries, so that reads never queue behind writes (WAL lets them
//! read while the writer writes).
//!
//! A semaphore bounds how many reads run at once; each runs on tokio's blocking pool with a
//! connection taken from a small idle list (opened on demand, at most one per permit), so an
//! async caller never blocks a runtime thread — except lookups by key (`lookup`), which are
//! shorter than the hand-over to another thread and run where they are called.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OpenFlags};
use tokio::sync::Semaphore;

use super::{connection_error, prepare_connection};
use crate::{Result, StoreError};

pub(super) struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    permits: Arc<Semaphore>,
}

impl Readers {
    /// Opens one connection at once, so that a database that cannot be read fails at start-up.
    pub(super) fn open(path: PathBuf, size: usize) -> Result<Arc<Readers>> {
        let readers = Readers {
            idle: Mutex::new(Vec::with_capacity(size)),
            permits: Arc::new(Semaphore::new(size)),
            path,
        };
        let first = readers.connect()?;
        readers.give_back(first);
        Ok(Arc::new(readers))
    }

    fn connect(&self) -> Result<Connection> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&self.path, flags)
            .map_err(|e| connection_error(&self.path, &e))?;
        prepare_connection(&conn).map_err(|e| connection_error(&self.path, &e))?;
        conn.set_prepared_statement_cache_capacity(64);
        Ok(conn)
    }

    fn take(&self) -> Result<Connection> {
        let idle = self
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop();
        match idle {
            Some(conn) => Ok(conn),
            None => self.connect(),
        }
    }

    fn give_back(&self, conn: Connection) {
        self.idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(conn);
    }

    /// Runs `work` — a lookup by key that reads a few rows — with a read-only connection on the
    /// calling thread. Handing such a read to another thread costs more than the read (two
    /// thread wake-ups against tens of microseconds on cached pages), and a sync step makes
    /// several per item. When every connection is busy it queues like [`Readers::read`].
    pub(super) async fn lookup<T, F>(self: &Arc<Self>, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        let Ok(permit) = self.permits.try_acquire() else {
            return self.read(work).await;
        };
        let mut conn = self.take()?;
        let outcome = work(&mut conn);
        self.give_back(conn);
        drop(permit);
        outcome
    }

    /// Runs `work` with a read-only connection, off the async runtime.
    pub(super) async fn read<T, F>(self: &Arc<Self>, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Closed)?;
        let readers = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let mut conn = readers.take()?;
            let outcome = work(&mut conn);
            readers.give_back(conn);
            outcome
        })
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "A database read failed unexpectedly.");
            StoreError::Database("a read failed unexpectedly".into())
        })?
    }
}
