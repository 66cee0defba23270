//! The sandbox: each limit has a default, is configurable, and stops the script with a clear
//! error that `try`/`catch` cannot swallow; capabilities outside the script are refused.

use std::time::{Duration, Instant};

use tandem_script::{ErrorKind, Limits, Script};

fn fail(src: &str, limits: Limits) -> (ErrorKind, String) {
    let script = Script::compile(src).expect("parses");
    let e = script
        .run(Default::default(), &limits)
        .result
        .expect_err("the script must be stopped");
    (e.kind, e.message)
}

#[test]
fn wall_time_limit_stops_an_endless_loop() {
    let limits = Limits {
        max_steps: u64::MAX,
        max_time: Duration::from_millis(200),
        ..Limits::default()
    };
    let t = Instant::now();
    let (kind, msg) = fail("while (true) { }", limits);
    assert_eq!(kind, ErrorKind::Limit);
    assert!(msg.contains("the limit is 200ms"), "{msg}");
    assert!(t.elapsed() < Duration::from_secs(5));
}

#[test]
fn step_limit_is_deterministic_and_not_catchable() {
    let limits = Limits {
        max_steps: 5_000,
        ..Limits::default()
    };
    let (kind, msg) = fail(
        "try { while (true) { } } catch (Throwable t) { return 'swallowed' }",
        limits,
    );
    assert_eq!(kind, ErrorKind::Limit);
    assert!(
        msg.starts_with("the script was stopped after 5001 steps"),
        "{msg}"
    );
}

#[test]
fn memory_limit_stops_runaway_allocation() {
    let limits = Limits {
        max_alloc_bytes: 1 << 20,
        ..Limits::default()
    };
    let (kind, msg) = fail("def l = []\nwhile (true) { l << 'x' * 1000 }", limits);
    assert_eq!(kind, ErrorKind::Limit);
    assert!(msg.contains("memory limit"), "{msg}");
    let (kind, _) = fail("'abc' * 100000000", Limits::default());
    assert_eq!(kind, ErrorKind::Limit);
}

#[test]
fn recursion_limit_is_configurable() {
    let limits = Limits {
        max_depth: 10,
        ..Limits::default()
    };
    let (kind, msg) = fail("def f(n) { f(n + 1) }\nf(0)", limits);
    assert_eq!(kind, ErrorKind::Limit);
    assert!(msg.contains("at most 10 levels"), "{msg}");
}

#[test]
fn no_files_processes_network_reflection_or_eval() {
    for src in [
        "new File('/etc/passwd').text",
        "'ls'.execute()",
        "System.exit(0)",
        "System.getenv('HOME')",
        "Class.forName('java.lang.Runtime')",
        "Runtime.getRuntime()",
        "evaluate('1')",
        "new URL('http://example.com').text",
        "Thread.sleep(10)",
        "new GroovyShell().evaluate('1')",
    ] {
        let script = Script::compile(src).expect("parses");
        let e = script
            .run(Default::default(), &Limits::default())
            .result
            .expect_err(src);
        assert!(
            matches!(&e.kind, ErrorKind::Exception(c) if c == "SecurityException"),
            "{src}: {e:?}"
        );
    }
}
