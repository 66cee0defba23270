//! The single writer: one thread owns the write connection and runs write jobs that arrive
//! over a channel, answering each through a oneshot.
//!
//! Jobs that queue up while a commit is in flight are **group-committed**: the writer takes up
//! to [`MAX_BATCH`] waiting jobs, runs each inside its own savepoint of one transaction, and
//! commits once. A job that fails rolls back to its savepoint without disturbing the others,
//! and nobody hears "done" before the commit that holds their change has returned. With
//! `synchronous=FULL` this shares one fsync among concurrent writers.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::thread::JoinHandle;

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use crate::{Result, StorageFault, StoreError};

/// Most jobs committed together.
const MAX_BATCH: usize = 64;
/// Jobs that may wait for the writer before senders wait too.
const QUEUE: usize = 1024;
/// A batch that takes longer than this is logged.
const SLOW_BATCH: std::time::Duration = std::time::Duration::from_secs(1);

/// A unit of work for the writer thread.
trait Job: Send {
    /// Runs the job inside the open transaction. Returns whether it succeeded (its changes
    /// should be kept).
    fn run(&mut self, conn: &Connection) -> bool;
    /// Sends the answer once the transaction has ended; `commit_error` says why the commit
    /// failed, when it did.
    fn finish(self: Box<Self>, commit_error: Option<&CommitError>);
    /// The storage fault the job failed on, when it did.
    fn fault(&self) -> Option<StorageFault>;
}

/// Why a transaction could not be started or committed: every job of the batch hears it.
pub(super) struct CommitError {
    fault: Option<StorageFault>,
    reason: String,
}

impl CommitError {
    fn new(e: &rusqlite::Error) -> Self {
        CommitError {
            fault: super::storage_fault(e),
            reason: e.to_string(),
        }
    }

    /// A storage fault reaches every caller, which report it (rate-limited, by the node): one
    /// more line per batch here would only fill the full disk faster.
    fn log(&self, what: &'static str) {
        if self.fault.is_some() {
            tracing::debug!(error = %self.reason, "{what}");
        } else {
            tracing::error!(error = %self.reason, "{what}");
        }
    }

    fn to_store_error(&self) -> StoreError {
        let detail = format!("the change could not be committed: {}", self.reason);
        match self.fault {
            Some(fault) => StoreError::Storage {
                fault,
                dir: String::new(),
                detail,
            },
            None => StoreError::Database(detail),
        }
    }
}

struct Pending<T, F> {
    work: Option<F>,
    outcome: Option<Result<T>>,
    reply: oneshot::Sender<Result<T>>,
}

impl<T, F> Job for Pending<T, F>
where
    T: Send + 'static,
    F: FnOnce(&Connection) -> Result<T> + Send + 'static,
{
    fn run(&mut self, conn: &Connection) -> bool {
        let Some(work) = self.work.take() else {
            return false;
        };
        let outcome = catch_unwind(AssertUnwindSafe(|| work(conn))).unwrap_or_else(|_| {
            tracing::error!("A database write panicked; its changes are rolled back.");
            Err(StoreError::Database("a write failed unexpectedly".into()))
        });
        let ok = outcome.is_ok();
        self.outcome = Some(outcome);
        ok
    }

    fn fault(&self) -> Option<StorageFault> {
        match &self.outcome {
            Some(Err(e)) => e.storage_fault(),
            _ => None,
        }
    }

    fn finish(self: Box<Self>, commit_error: Option<&CommitError>) {
        let outcome = match (self.outcome, commit_error) {
            (Some(Ok(_)), Some(failed)) => Err(failed.to_store_error()),
            (Some(outcome), _) => outcome,
            (None, Some(failed)) => Err(failed.to_store_error()),
            (None, None) => Err(StoreError::Database("the write did not run".into())),
        };
        // The caller may have gone away (request cancelled); the change stands regardless.
        let _ = self.reply.send(outcome);
    }
}

/// The handle to the writer thread. Dropping it lets the thread finish the queued jobs, close
/// the connection and exit, and waits for that.
pub(super) struct Writer {
    jobs: Option<mpsc::Sender<Box<dyn Job>>>,
    thread: Option<JoinHandle<()>>,
}

impl Writer {
    pub(super) fn spawn(conn: Connection) -> std::io::Result<Writer> {
        let (tx, rx) = mpsc::channel(QUEUE);
        let thread = std::thread::Builder::new()
            .name("tandem-store-writer".into())
            .spawn(move || run(conn, rx))?;
        Ok(Writer {
            jobs: Some(tx),
            thread: Some(thread),
        })
    }

    /// Runs `work` on the writer thread in a transaction and returns its result once committed.
    pub(super) async fn write<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let jobs = self.jobs.as_ref().ok_or(StoreError::Closed)?;
        let (reply, answer) = oneshot::channel();
        let job = Box::new(Pending {
            work: Some(work),
            outcome: None,
            reply,
        });
        jobs.send(job).await.map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.jobs = None;
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("The database writer thread panicked.");
        }
    }
}

fn run(conn: Connection, mut rx: mpsc::Receiver<Box<dyn Job>>) {
    let mut batch: Vec<Box<dyn Job>> = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let started = std::time::Instant::now();
        let jobs = batch.len();
        run_batch(&conn, &mut batch);
        let took = started.elapsed();
        if took >= SLOW_BATCH {
            tracing::warn!(
                jobs,
                millis = took.as_millis() as u64,
                "A database write was slow; is the disk overloaded?"
            );
        }
    }
    tracing::debug!("The database writer is closing.");
    if let Err((_, e)) = conn.close() {
        tracing::warn!(error = %e, "Closing the database failed.");
    }
}

fn exec(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

/// Runs the jobs in one transaction, each in its own savepoint when there are several, then
/// answers them all.
fn run_batch(conn: &Connection, batch: &mut Vec<Box<dyn Job>>) {
    if let Err(e) = exec(conn, "BEGIN IMMEDIATE") {
        let failed = CommitError::new(&e);
        failed.log("Cannot start a write transaction.");
        for job in batch.drain(..) {
            job.finish(Some(&failed));
        }
        return;
    }
    let mut any_ok = false;
    if let [job] = batch.as_mut_slice() {
        any_ok = job.run(conn);
        if !any_ok && conn.is_autocommit() {
            // SQLite rolled the transaction back itself (it may on a full disk or an I/O
            // error): nothing is left to roll back, and the job has its own error.
            for job in batch.drain(..) {
                job.finish(None);
            }
            return;
        }
    } else {
        for index in 0..batch.len() {
            let job = &mut batch[index];
            let step = exec(conn, "SAVEPOINT job").map(|()| job.run(conn));
            if matches!(step, Ok(false)) && conn.is_autocommit() {
                // SQLite rolled the whole transaction back itself (it may on a full disk or
                // an I/O error): the jobs run before this one lost their changes and those
                // after it never ran. Each hears the fault that caused it, a storage fault
                // its caller retries, not the failed rollback of a savepoint that is gone.
                let failed = CommitError {
                    fault: job.fault(),
                    reason:
                        "the transaction was rolled back by the database when a write in it failed"
                            .into(),
                };
                failed.log("A write transaction was rolled back by the database.");
                for job in batch.drain(..) {
                    job.finish(Some(&failed));
                }
                return;
            }
            let result = match step {
                Ok(true) => exec(conn, "RELEASE job").map(|()| true),
                Ok(false) => {
                    { exec(conn, "ROLLBACK TO job").and_then(|()| exec(conn, "RELEASE job")) }
                        .map(|()| false)
                }
                Err(e) => Err(e),
            };
            match result {
                Ok(ok) => any_ok |= ok,
                Err(e) => {
                    // The savepoint machinery itself failed: give up on the whole batch.
                    let failed = CommitError::new(&e);
                    failed.log("A write savepoint failed.");
                    let _ = exec(conn, "ROLLBACK");
                    for job in batch.drain(..) {
                        job.finish(Some(&failed));
                    }
                    return;
                }
            }
        }
    }
    if !any_ok && conn.is_autocommit() {
        for job in batch.drain(..) {
            job.finish(None);
        }
        return;
    }
    let end = if any_ok { "COMMIT" } else { "ROLLBACK" };
    let commit_error = exec(conn, end).err().map(|e| {
        let failed = CommitError::new(&e);
        failed.log("Committing a write transaction failed.");
        let _ = exec(conn, "ROLLBACK");
        failed
    });
    for job in batch.drain(..) {
        job.finish(commit_error.as_ref());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job<F>(work: F) -> (Box<dyn Job>, oneshot::Receiver<Result<()>>)
    where
        F: FnOnce(&Connection) -> Result<()> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job = Box::new(Pending {
            work: Some(work),
            outcome: None,
            reply,
        });
        (job, answer)
    }

    fn insert(n: i64) -> impl FnOnce(&Connection) -> Result<()> + Send + 'static {
        move |conn| {
            conn.execute("INSERT INTO t (n) VALUES (?1)", [n])?;
            Ok(())
        }
    }

    #[test]
    fn a_failing_job_rolls_back_alone_and_the_batch_commits() {
        let conn = Connection::open_in_memory().expect("in-memory database");
        conn.execute_batch("CREATE TABLE t (n INTEGER)")
            .expect("create table");
        let (a, a_answer) = job(insert(1));
        let (b, b_answer) = job(|conn| {
            insert(2)(conn)?;
            Err(StoreError::Database("changed my mind".into()))
        });
        let (c, c_answer) = job(|_| panic!("a bug"));
        let (d, d_answer) = job(insert(4));
        let mut batch = vec![a, b, c, d];
        run_batch(&conn, &mut batch);

        assert!(batch.is_empty());
        assert!(a_answer.blocking_recv().expect("answered").is_ok());
        assert!(b_answer.blocking_recv().expect("answered").is_err());
        assert!(c_answer.blocking_recv().expect("answered").is_err());
        assert!(d_answer.blocking_recv().expect("answered").is_ok());
        let kept: Vec<i64> = conn
            .prepare("SELECT n FROM t ORDER BY n")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .expect("read back");
        assert_eq!(kept, [1, 4]);
        assert!(conn.is_autocommit(), "the transaction is closed");
    }

    /// A full disk may make SQLite roll the whole transaction back itself: the batch's other
    /// jobs then hear a storage fault (their callers retry), never the failed rollback of a
    /// savepoint that is gone, and none is told its change was kept when it was not.
    #[test]
    fn a_job_that_fills_the_disk_leaves_the_others_told_the_truth() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let conn = Connection::open(dir.path().join("t.db")).expect("database");
        conn.execute_batch("CREATE TABLE t (n INTEGER, pad BLOB)")
            .expect("create table");
        let pages: i64 = conn
            .query_row("PRAGMA page_count", [], |r| r.get(0))
            .expect("page count");
        conn.query_row(&format!("PRAGMA max_page_count = {pages}"), [], |_| Ok(()))
            .expect("freeze the size");
        let (a, a_answer) = job(insert(1));
        let (b, b_answer) = job(|conn| {
            conn.execute("INSERT INTO t (n, pad) VALUES (2, zeroblob(1000000))", [])?;
            Ok(())
        });
        let (c, c_answer) = job(insert(3));
        run_batch(&conn, &mut vec![a, b, c]);

        let b_error = b_answer.blocking_recv().expect("answered").unwrap_err();
        assert_eq!(
            b_error.storage_fault(),
            Some(StorageFault::Full),
            "{b_error}"
        );
        let mut told_kept = Vec::new();
        for (n, answer) in [(1, a_answer), (3, c_answer)] {
            match answer.blocking_recv().expect("answered") {
                Ok(()) => told_kept.push(n),
                Err(e) => assert_eq!(e.storage_fault(), Some(StorageFault::Full), "{e}"),
            }
        }
        let kept: Vec<i64> = conn
            .prepare("SELECT n FROM t ORDER BY n")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .expect("read back");
        assert_eq!(kept, told_kept);
        assert!(conn.is_autocommit(), "the transaction is closed");
    }

    #[test]
    fn a_lone_failing_job_is_rolled_back() {
        let conn = Connection::open_in_memory().expect("in-memory database");
        conn.execute_batch("CREATE TABLE t (n INTEGER)")
            .expect("create table");
        let (a, answer) = job(|conn| {
            insert(1)(conn)?;
            Err(StoreError::Database("no".into()))
        });
        run_batch(&conn, &mut vec![a]);
        assert!(answer.blocking_recv().expect("answered").is_err());
        let count: i64 = conn
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .expect("count");
        assert_eq!(count, 0);
        assert!(conn.is_autocommit());
    }
}
