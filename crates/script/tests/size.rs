//! The compiled form of the shared bench pair stays small (goal: under 100 KB). Measured as the
//! heap bytes that `Script::compile` leaves allocated, counted per thread by a wrapping
//! allocator so parallel tests do not disturb the figure.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use tandem_script::Script;

use crate::common::shared_dir;

struct PerThread;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn grow(by: isize) {
    let _ = LIVE.try_with(|c| {
        let now = c.get() + by;
        c.set(now);
        let _ = PEAK.try_with(|p| p.set(p.get().max(now)));
    });
}

/// Runs `f` and returns its value with the most heap bytes it had allocated at once on this
/// thread (beyond what was live before): what a budget has to bound.
pub fn peak_heap<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let start = LIVE.with(|c| c.get());
    PEAK.with(|p| p.set(start));
    let v = f();
    let peak = PEAK.with(|p| p.get());
    (v, (peak - start).max(0) as usize)
}

unsafe impl GlobalAlloc for PerThread {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        grow(l.size() as isize);
        unsafe { System.alloc(l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        grow(new as isize - l.size() as isize);
        unsafe { System.realloc(p, l, new) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        let _ = LIVE.try_with(|c| c.set(c.get() - l.size() as isize));
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static ALLOC: PerThread = PerThread;

#[test]
fn compiled_bench_pair_is_under_100_kb() {
    let dir = shared_dir().join("bench/script-pair");
    let outgoing = std::fs::read_to_string(dir.join("outgoing.groovy")).expect("outgoing.groovy");
    let incoming = std::fs::read_to_string(dir.join("incoming.groovy")).expect("incoming.groovy");
    let before = LIVE.with(|c| c.get());
    let scripts = (
        Script::compile(&outgoing).expect("parses"),
        Script::compile(&incoming).expect("parses"),
    );
    let size = LIVE.with(|c| c.get()) - before;
    drop(scripts);
    println!("compiled pair: {size} bytes");
    assert!(
        size > 0 && size < 100_000,
        "the compiled pair takes {size} bytes"
    );
}
