//! Log lines that anyone on the network can cause (a refused node-to-node request, a connection
//! over the cap) are written at most once per kind and source per interval: the next line says
//! how many were left out. Without it, an unauthenticated client fills the disk and buries the
//! lines that matter.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How often one kind of line from one source is written at most.
pub const LOG_INTERVAL: Duration = Duration::from_secs(60);

/// Sources remembered at most; past it, new sources share one line per kind.
const MAX_SOURCES: usize = 4096;

/// Decides which refusal lines are written.
#[derive(Debug)]
pub struct LogLimiter {
    interval: Duration,
    max_sources: usize,
    seen: Mutex<HashMap<(&'static str, Option<IpAddr>), Window>>,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    /// When the last line of this key was written.
    logged: Instant,
    /// Lines left out since.
    suppressed: u64,
}

impl Default for LogLimiter {
    fn default() -> Self {
        LogLimiter::new(LOG_INTERVAL, MAX_SOURCES)
    }
}

impl LogLimiter {
    pub fn new(interval: Duration, max_sources: usize) -> Self {
        LogLimiter {
            interval,
            max_sources,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// `Some(n)` when a line of `kind` from `source` may be written now, `n` being how many
    /// were left out since the last one; `None` when this one is left out.
    pub fn allow(&self, kind: &'static str, source: Option<IpAddr>) -> Option<u64> {
        self.allow_at(kind, source, Instant::now())
    }

    fn allow_at(&self, kind: &'static str, source: Option<IpAddr>, now: Instant) -> Option<u64> {
        // A poisoned lock only means another thread panicked while counting: the counts are
        // still usable.
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut key = (kind, source);
        if !seen.contains_key(&key) && seen.len() >= self.max_sources {
            let interval = self.interval;
            seen.retain(|_, w| now.duration_since(w.logged) < interval);
            if seen.len() >= self.max_sources {
                key = (kind, None);
            }
        }
        match seen.get_mut(&key) {
            Some(window) if now.duration_since(window.logged) < self.interval => {
                window.suppressed += 1;
                None
            }
            Some(window) => {
                let suppressed = window.suppressed;
                *window = Window {
                    logged: now,
                    suppressed: 0,
                };
                Some(suppressed)
            }
            None => {
                seen.insert(
                    key,
                    Window {
                        logged: now,
                        suppressed: 0,
                    },
                );
                Some(0)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> Option<IpAddr> {
        Some(IpAddr::from([192, 0, 2, last]))
    }

    #[test]
    fn one_line_per_source_and_kind_per_interval_then_the_count_left_out() {
        let limiter = LogLimiter::new(Duration::from_secs(60), 100);
        let start = Instant::now();
        assert_eq!(limiter.allow_at("refused", ip(1), start), Some(0));
        for _ in 0..999 {
            assert_eq!(limiter.allow_at("refused", ip(1), start), None);
        }
        // Another source and another kind are counted apart.
        assert_eq!(limiter.allow_at("refused", ip(2), start), Some(0));
        assert_eq!(limiter.allow_at("over cap", ip(1), start), Some(0));
        let later = start + Duration::from_secs(61);
        assert_eq!(limiter.allow_at("refused", ip(1), later), Some(999));
        assert_eq!(limiter.allow_at("refused", ip(1), later), None);
    }

    #[test]
    fn past_the_most_sources_new_ones_share_a_line() {
        let limiter = LogLimiter::new(Duration::from_secs(60), 2);
        let now = Instant::now();
        assert_eq!(limiter.allow_at("refused", ip(1), now), Some(0));
        assert_eq!(limiter.allow_at("refused", ip(2), now), Some(0));
        // The table is full of recent sources: the others share one line of the kind.
        assert_eq!(limiter.allow_at("refused", ip(3), now), Some(0));
        assert_eq!(limiter.allow_at("refused", ip(4), now), None);
        // Once the old ones are stale, a new source gets its own line again.
        let later = now + Duration::from_secs(61);
        assert_eq!(limiter.allow_at("refused", ip(5), later), Some(0));
    }
}
