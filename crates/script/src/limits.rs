//! The sandbox's budgets: steps, allocated bytes, call depth and wall time. Each has a default
//! and is configurable; exceeding one stops the script with an error scripts cannot catch.

use std::time::{Duration, Instant};

use crate::diagnostic::{ScriptError, Span};

/// Limits for one run of a script.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Statements, loop iterations and calls together.
    pub max_steps: u64,
    /// Approximate bytes allocated by strings, lists and maps over the whole run.
    pub max_alloc_bytes: u64,
    /// Nested calls of script methods and closures.
    pub max_depth: usize,
    /// Wall-clock time for the run.
    pub max_time: Duration,
    /// Native stack the evaluator may use below the point where the run started; deep
    /// recursion stops with an error before it could overflow the thread's stack. The default
    /// fits the 2 MiB stacks of spawned threads.
    pub max_stack_bytes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_steps: 10_000_000,
            max_alloc_bytes: 256 << 20,
            max_depth: 200,
            max_time: Duration::from_secs(10),
            max_stack_bytes: 1 << 20,
        }
    }
}

/// An address on the current stack, to measure how much of it recursion has used.
#[inline(always)]
pub(crate) fn stack_position() -> usize {
    let marker = 0u8;
    std::hint::black_box(&marker) as *const u8 as usize
}

/// What a run has used so far.
pub(crate) struct Budget {
    pub limits: Limits,
    pub steps: u64,
    pub alloc: u64,
    pub depth: usize,
    deadline: Option<Instant>,
    started: Option<Instant>,
}

impl Budget {
    pub fn new(limits: Limits) -> Budget {
        Budget {
            limits,
            steps: 0,
            alloc: 0,
            depth: 0,
            deadline: None,
            started: None,
        }
    }

    #[inline]
    pub fn step(&mut self, span: Span) -> Result<(), ScriptError> {
        self.steps += 1;
        if self.steps & 1023 == 0 {
            return self.check_slow(span);
        }
        Ok(())
    }

    #[cold]
    fn check_slow(&mut self, span: Span) -> Result<(), ScriptError> {
        if self.steps > self.limits.max_steps {
            return Err(ScriptError::limit(
                format!(
                    "the script was stopped after {} steps (the limit is {}): is there an endless loop?",
                    self.steps, self.limits.max_steps
                ),
                span,
            ));
        }
        let now = Instant::now();
        let deadline = *self.deadline.get_or_insert(now + self.limits.max_time);
        self.started.get_or_insert(now);
        if now > deadline {
            return Err(ScriptError::limit(
                format!(
                    "the script was stopped after running for {:?} (the limit is {:?})",
                    now - self.started.unwrap_or(now),
                    self.limits.max_time
                ),
                span,
            ));
        }
        Ok(())
    }

    #[inline]
    pub fn step_exact(&mut self, span: Span) -> Result<(), ScriptError> {
        self.step(span)?;
        if self.steps > self.limits.max_steps {
            return self.check_slow(span);
        }
        Ok(())
    }

    pub fn charge(&mut self, bytes: usize, span: Span) -> Result<(), ScriptError> {
        self.alloc = self.alloc.saturating_add(bytes as u64);
        if self.alloc > self.limits.max_alloc_bytes {
            return Err(ScriptError::limit(
                format!(
                    "the script allocated more than {} bytes (its memory limit)",
                    self.limits.max_alloc_bytes
                ),
                span,
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_budget_stops_exactly_after_the_limit() {
        let mut b = Budget::new(Limits {
            max_steps: 3,
            ..Limits::default()
        });
        let span = Span::default();
        assert!((0..3).all(|_| b.step_exact(span).is_ok()));
        assert!(b.step_exact(span).is_err());
    }

    #[test]
    fn allocation_budget_counts_the_total() {
        let mut b = Budget::new(Limits {
            max_alloc_bytes: 100,
            ..Limits::default()
        });
        assert!(b.charge(60, Span::default()).is_ok());
        assert!(b.charge(60, Span::default()).is_err());
    }
}
