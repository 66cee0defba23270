//! Crash safety: nodes killed with SIGKILL in the middle of sync work lose and duplicate nothing.
