//! `cargo run --release --example bench_pair [N] [compiled|alloc]`: the playground's bench on
//! the shared pair; `compiled` runs only the compiled-once loop (for profiling), `alloc` counts
//! allocations per pair and the heap size of the compiled scripts.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering::Relaxed};

struct Counting;
static LIVE: AtomicIsize = AtomicIsize::new(0);
static COUNT: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Relaxed);
        COUNT.fetch_add(1, Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Relaxed);
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static A: Counting = Counting;

fn main() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/bench/script-pair");
    let read = |n: &str| std::fs::read_to_string(dir.join(n)).unwrap_or_default();
    let n = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(20000);
    let item: serde_json::Value = serde_json::from_str(&read("issue.json")).unwrap_or_default();
    let mode = std::env::args().nth(2);
    if matches!(mode.as_deref(), Some("compiled" | "alloc")) {
        let before = LIVE.load(Relaxed);
        let out = tandem_script::Script::compile(&read("outgoing.groovy")).ok();
        let inc = tandem_script::Script::compile(&read("incoming.groovy")).ok();
        let size = LIVE.load(Relaxed) - before;
        let (Some(out), Some(inc)) = (out, inc) else {
            return;
        };
        let limits = tandem_script::Limits::default();
        let issue = tandem_script::from_json(&item["issue"]);
        let c0 = COUNT.load(Relaxed);
        let t = std::time::Instant::now();
        for _ in 0..n {
            let _ = tandem_script::playground::run_pair(&out, &inc, &issue, &limits);
        }
        let us = t.elapsed().as_secs_f64() * 1e6 / n as f64;
        println!(
            "{us:.2} us per pair, {} allocations per pair",
            (COUNT.load(Relaxed) - c0) / n
        );
        println!("compiled pair heap size: {size} bytes");
        return;
    }
    match tandem_script::playground::bench(
        &read("outgoing.groovy"),
        &read("incoming.groovy"),
        item,
        n,
    ) {
        Ok(r) => println!("{r}"),
        Err(e) => eprintln!("{e}"),
    }
}
