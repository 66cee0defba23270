//! The CLI playground's functions: `check`, `run` (the conformance output format) and `bench`.

use serde_json::json;
use tandem_script::playground::{bench, check, run};

#[test]
fn check_accepts_valid_scripts_and_renders_syntax_errors() {
    assert_eq!(check("def x = 1\nreturn x", "ok.groovy"), Ok(()));
    let err = check("def x = (1 +\n", "bad.groovy").expect_err("does not parse");
    assert!(err.contains("bad.groovy:"), "{err}");
    assert!(err.contains('^'), "{err}");
}

#[test]
fn run_prints_the_conformance_format() {
    let (out, failed) = run(
        "println 'hi'\nissue.summary = 'x'\nreturn 1 + 1",
        Some(json!({"issue": {}})),
    );
    assert!(!failed);
    assert_eq!(
        out,
        json!({"result": 2, "stdout": "hi\n", "variables": {"issue": {"summary": "x"}}})
    );
    let (out, failed) = run("println 'before'\nreturn 1 / 0", None);
    assert!(failed);
    assert_eq!(
        out,
        json!({"error": {"message": "ArithmeticException: Division by zero", "line": 2, "column": 8}, "stdout": "before\n", "variables": {}})
    );
}

#[test]
fn bench_reports_both_timings() {
    let r = bench(
        "replica.summary = issue.summary",
        "issue.summary = replica.summary",
        json!({"issue": {"summary": "s"}}),
        10,
    )
    .expect("the pair runs");
    let text = r.to_string();
    assert!(
        text.contains("compiled-once: ") && text.contains(" us per pair"),
        "{text}"
    );
    assert!(text.contains("parse-each-time: "), "{text}");
}
