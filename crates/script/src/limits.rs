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
    /// The clock dates read (`new Date()`, `Instant.now()`); `None` refuses to tell the time.
    pub clock: Option<std::sync::Arc<dyn crate::host::Clock>>,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_steps: 10_000_000,
            max_alloc_bytes: 256 << 20,
            max_depth: 200,
            max_time: Duration::from_secs(10),
            max_stack_bytes: 1 << 20,
            clock: None,
        }
    }
}

/// Bytes one value slot of a list takes (what a list is charged per element).
pub(crate) const VALUE_BYTES: usize = std::mem::size_of::<crate::value::Value>();
/// Bytes a new short string value takes beyond its text: the slot and the shared allocation's
/// counters.
pub(crate) const STR_BYTES: usize = VALUE_BYTES + 16;
/// Bytes one map entry takes: key, value, hash and index.
pub(crate) const ENTRY_BYTES: usize =
    std::mem::size_of::<crate::value::Key>() + VALUE_BYTES + 2 * std::mem::size_of::<usize>();
/// Units of built-in work (elements copied, compared or scanned) between two looks at the clock.
const WORK_PER_CLOCK_CHECK: u64 = 1 << 16;

/// `n` list slots, saturating: a size that overflows is over any budget.
pub(crate) fn list_bytes(n: usize) -> usize {
    n.saturating_mul(VALUE_BYTES)
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
    /// Work done inside built-ins since the clock was last read.
    work: u64,
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
            work: 0,
            deadline: None,
            started: None,
        }
    }

    /// Starts the clock: the time limit counts from here.
    pub fn start(&mut self) {
        let now = Instant::now();
        self.started = Some(now);
        self.deadline = Some(now + self.limits.max_time);
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
        self.check_time(span)
    }

    /// Stops the run once its time is up. Built-ins that loop over their input call it through
    /// [`Budget::work`]; a regex compile calls it directly.
    pub fn check_time(&mut self, span: Span) -> Result<(), ScriptError> {
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

    /// Records `units` of work done by a built-in (elements copied, compared, scanned) and reads
    /// the clock every [`WORK_PER_CLOCK_CHECK`] units, so one long call cannot outlive the time
    /// limit by much. It is not a step: the step count stays what the script's text did.
    #[inline]
    pub fn work(&mut self, units: usize, span: Span) -> Result<(), ScriptError> {
        self.work = self.work.saturating_add(units as u64);
        if self.work >= WORK_PER_CLOCK_CHECK {
            self.work = 0;
            return self.check_time(span);
        }
        Ok(())
    }

    /// Counts `weight` extra steps (a regex compile costs more than a statement).
    pub fn steps_weighted(&mut self, weight: u64, span: Span) -> Result<(), ScriptError> {
        self.steps = self.steps.saturating_add(weight);
        self.check_slow(span)
    }

    /// Bytes the run may still allocate.
    pub fn room(&self) -> u64 {
        self.limits.max_alloc_bytes.saturating_sub(self.alloc)
    }

    /// Adds `bytes` to the allocation total: called before the allocation, with its size
    /// computed up front (a size that overflowed saturates and so is over the limit).
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
