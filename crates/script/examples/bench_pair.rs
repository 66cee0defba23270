//! `cargo run --release --example bench_pair [N] [compiled]`: the playground's bench on the
//! shared pair; with `compiled`, only the compiled-once loop (for profiling).
fn main() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/bench/script-pair");
    let read = |n: &str| std::fs::read_to_string(dir.join(n)).unwrap_or_default();
    let n = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(20000);
    let item: serde_json::Value = serde_json::from_str(&read("issue.json")).unwrap_or_default();
    if std::env::args().nth(2).as_deref() == Some("compiled") {
        let out = tandem_script::Script::compile(&read("outgoing.groovy")).ok();
        let inc = tandem_script::Script::compile(&read("incoming.groovy")).ok();
        let (Some(out), Some(inc)) = (out, inc) else {
            return;
        };
        let limits = tandem_script::Limits::default();
        let t = std::time::Instant::now();
        for _ in 0..n {
            let _ = tandem_script::playground::run_pair(&out, &inc, &item["issue"], &limits);
        }
        println!(
            "{:.2} us per pair",
            t.elapsed().as_secs_f64() * 1e6 / n as f64
        );
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
