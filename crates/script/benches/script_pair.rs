//! Times the shared outgoing/incoming rule pair (`shared/bench/script-pair`): compiled once,
//! and parsed on every run, as `groovy-baseline.groovy` does for real Groovy.

use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};
use tandem_script::playground::run_pair;
use tandem_script::{Limits, Script};

fn pair_dir() -> PathBuf {
    let shared = match std::env::var_os("TANDEM_SHARED_DIR") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
    };
    shared.join("bench/script-pair")
}

fn read(name: &str) -> String {
    let p = pair_dir().join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
}

fn bench_pair(c: &mut Criterion) {
    let outgoing = read("outgoing.groovy");
    let incoming = read("incoming.groovy");
    let item: serde_json::Value =
        serde_json::from_str(&read("issue.json")).expect("issue.json is JSON");
    let issue = tandem_script::from_json(&item["issue"]);
    let limits = Limits::default();
    let out = Script::compile(&outgoing).expect("outgoing parses");
    let inc = Script::compile(&incoming).expect("incoming parses");
    run_pair(&out, &inc, &issue, &limits).expect("the pair runs");
    c.bench_function("pair compiled-once", |b| {
        b.iter(|| run_pair(&out, &inc, &issue, &limits))
    });
    c.bench_function("pair parse-each-time", |b| {
        b.iter(|| {
            let o = Script::compile(&outgoing).expect("outgoing parses");
            let i = Script::compile(&incoming).expect("incoming parses");
            run_pair(&o, &i, &issue, &limits)
        })
    });
}

criterion_group!(benches, bench_pair);
criterion_main!(benches);
