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
}

unsafe impl GlobalAlloc for PerThread {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let _ = LIVE.try_with(|c| c.set(c.get() + l.size() as isize));
        unsafe { System.alloc(l) }
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
