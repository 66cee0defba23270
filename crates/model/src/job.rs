//! Bulk jobs: the operations that go through many items of one connection (Bulk Exalate, Bulk
//! Unexalate, Sync again of every twin, Clean-up), kept as records so that a node that stops
//! half-way takes each up again, under the same id, where it was.

use jiff::Timestamp;
use uuid::Uuid;

/// What a bulk job does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JobKind {
    /// Bulk Exalate: brings a trigger's current matches under sync.
    Exalate,
    /// Bulk Unexalate: stops syncing the twins whose items match a trigger.
    Unexalate,
    /// Sync again of every active twin of the connection.
    SyncAgain,
    /// Clean-up: removes the connection's sync data on both sides, keeping the items.
    CleanUp,
}

impl JobKind {
    pub const ALL: [JobKind; 4] = [
        JobKind::Exalate,
        JobKind::Unexalate,
        JobKind::SyncAgain,
        JobKind::CleanUp,
    ];

    /// The name stored and shown by the API: `exalate`, `unexalate`, `sync_again`, `clean_up`.
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Exalate => "exalate",
            JobKind::Unexalate => "unexalate",
            JobKind::SyncAgain => "sync_again",
            JobKind::CleanUp => "clean_up",
        }
    }

    pub fn parse(text: &str) -> Option<JobKind> {
        JobKind::ALL.into_iter().find(|k| k.as_str() == text)
    }

    /// How people call it: "Bulk Exalate", "Clean-up", …
    pub fn title(self) -> &'static str {
        match self {
            JobKind::Exalate => "Bulk Exalate",
            JobKind::Unexalate => "Bulk Unexalate",
            JobKind::SyncAgain => "Sync again",
            JobKind::CleanUp => "Clean-up",
        }
    }

    /// Whether the job goes over a trigger's matches (and so names a trigger).
    pub fn needs_trigger(self) -> bool {
        matches!(self, JobKind::Exalate | JobKind::Unexalate)
    }
}

/// Where a bulk job is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JobState {
    /// Under way (or cut short by a stop, to be taken up when the node starts).
    Running,
    /// Went through every item; some may have failed (each one a sync error).
    Done,
    /// Stopped by a fault that would have failed every item; `error` says which.
    Failed,
    /// Stopped on request after the items under way.
    Cancelled,
}

impl JobState {
    pub const ALL: [JobState; 4] = [
        JobState::Running,
        JobState::Done,
        JobState::Failed,
        JobState::Cancelled,
    ];

    /// `running`, `done`, `failed` or `cancelled`.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Running => "running",
            JobState::Done => "done",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<JobState> {
        JobState::ALL.into_iter().find(|s| s.as_str() == text)
    }

    pub fn is_finished(self) -> bool {
        self != JobState::Running
    }
}

/// How far a job is: what it stores now and then while it runs (never after every item).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JobProgress {
    /// Items gone through without a failure.
    pub done: u64,
    /// Items the job expects to go through (matches or twins when it started or last looked).
    pub total: u64,
    /// Items that failed; each is a sync error that can be retried.
    pub failed: u64,
    /// Where to go on after a restart, in the kind's own terms (an offset, the last key, …):
    /// every item before it is accounted for in the counts.
    pub resume: Option<String>,
}

/// A bulk job as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BulkJob {
    pub id: i64,
    pub kind: JobKind,
    pub connection_id: Uuid,
    /// The trigger whose matches it goes over (Bulk Exalate and Bulk Unexalate).
    pub trigger_id: Option<i64>,
    pub state: JobState,
    pub progress: JobProgress,
    pub started: Timestamp,
    /// When its progress was last stored.
    pub updated: Timestamp,
    pub finished: Option<Timestamp>,
    /// Why it failed.
    pub error: Option<String>,
    /// An admin asked it to stop; it stops after the items under way.
    pub cancel_requested: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_states_read_back_what_they_write() {
        for kind in JobKind::ALL {
            assert_eq!(JobKind::parse(kind.as_str()), Some(kind));
        }
        for state in JobState::ALL {
            assert_eq!(JobState::parse(state.as_str()), Some(state));
        }
        assert_eq!(JobKind::parse("bulk"), None);
    }
}
