//! Storage faults at run time: a full, read-only or failing disk under the database.
//!
//! The store names the fault ([`tandem_store::StoreError::Storage`]) and remembers it until a
//! write succeeds ([`tandem_store::Store::storage_problem`]); `/healthz` answers 503 with it
//! meanwhile. [`watch`] finds out when the cause is gone — a small probe write, with pauses
//! that grow while it fails — and wakes the loops, which pause on a storage fault with
//! [`Backoff`] rather than spin (one retry after another fills the log, the second way to fill
//! a disk). What failed on the fault is retried by them, never parked as an item's sync error.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::state::AppState;

/// The first pause after a storage fault.
pub const FIRST_PAUSE: Duration = Duration::from_secs(1);
/// The longest pause between tries while the fault lasts.
pub const LONGEST_PAUSE: Duration = Duration::from_secs(30);
/// How often [`watch`] looks whether the store met a fault, while it has not.
const LOOK_EVERY: Duration = Duration::from_secs(1);
/// The longest pause between two probes: a probe costs one small write, and the sooner one
/// goes through, the sooner everything that waits runs.
const LONGEST_PROBE_PAUSE: Duration = Duration::from_secs(5);

/// Pauses that double from [`FIRST_PAUSE`] to [`LONGEST_PAUSE`] while a loop keeps failing
/// on a storage fault, and start again from the first once a round works.
#[derive(Debug, Default, Clone, Copy)]
pub struct Backoff {
    failures: u32,
}

impl Backoff {
    /// A round worked.
    pub fn succeeded(&mut self) {
        self.failures = 0;
    }

    /// A round failed on a storage fault: how long to pause before the next.
    pub fn failed(&mut self) -> Duration {
        let pause = FIRST_PAUSE
            .saturating_mul(1 << self.failures.min(10))
            .min(LONGEST_PAUSE);
        self.failures = self.failures.saturating_add(1);
        pause
    }
}

/// Logs that a loop met a storage fault and pauses for `pause`: one line per loop a minute
/// (the count left out in the next), however often it fails.
pub fn report(
    state: &AppState,
    which: &'static str,
    error: &dyn std::fmt::Display,
    pause: Duration,
) {
    if let Some(left_out) = state.refusal_log(which, None) {
        tracing::warn!(
            task = which,
            error = %error,
            retry_in = ?pause,
            left_out,
            "Storage fault: the work waits and is retried by itself."
        );
    }
}

/// While the store reports a storage fault, tries a small write now and then; once one goes
/// through, wakes the loops so that what waited runs at once.
pub async fn watch(state: AppState, cancel: CancellationToken) {
    let mut backoff = Backoff::default();
    loop {
        let pause = if state.store().storage_problem().is_none() {
            backoff.succeeded();
            LOOK_EVERY
        } else {
            match state.store().probe_storage().await {
                Ok(()) => {
                    backoff.succeeded();
                    state.wake_sync();
                    state.wake_delivery();
                    state.wake_bridge();
                    LOOK_EVERY
                }
                Err(_) => backoff.failed().min(LONGEST_PROBE_PAUSE),
            }
        };
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(pause) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_double_up_to_the_longest_and_start_again_after_a_round_that_works() {
        let mut backoff = Backoff::default();
        let pauses: Vec<u64> = (0..8).map(|_| backoff.failed().as_secs()).collect();
        assert_eq!(pauses, [1, 2, 4, 8, 16, 30, 30, 30]);
        backoff.succeeded();
        assert_eq!(backoff.failed(), FIRST_PAUSE);
    }
}
