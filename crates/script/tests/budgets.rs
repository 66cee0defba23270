//! Every built-in that builds a string, list or map charges the memory budget before it
//! allocates, with the size computed up front; expensive built-ins and regex compiles honour the
//! time limit. Each case would have run past its budget (or allocated far beyond it) before.
//! The heap a run takes at its peak is measured per thread by the allocator in `size.rs`.

use std::time::{Duration, Instant};

use tandem_script::{ErrorKind, Limits, Script, to_json};

use crate::size::peak_heap;

const MIB: usize = 1 << 20;

fn small() -> Limits {
    Limits {
        max_alloc_bytes: MIB as u64,
        ..Limits::default()
    }
}

/// Runs `src` under `limits`; returns the error, the heap peak and the elapsed time.
fn stopped(src: &str, limits: Limits) -> (ErrorKind, String, usize, Duration) {
    let script = Script::compile(src).unwrap_or_else(|e| panic!("{src}: {}", e.message));
    let t = Instant::now();
    let (result, peak) = peak_heap(|| script.run(Default::default(), &limits).result);
    let elapsed = t.elapsed();
    match result {
        Err(e) => (e.kind, e.message, peak, elapsed),
        Ok(v) => panic!(
            "{src}: the script must be stopped, it returned {}",
            to_json(&v)
        ),
    }
}

/// The script is stopped by the 1 MiB memory limit without the heap ever holding much more.
fn assert_memory_limit(src: &str) {
    let (kind, msg, peak, _) = stopped(src, small());
    assert_eq!(kind, ErrorKind::Limit, "{src}: {msg}");
    assert!(msg.contains("memory limit"), "{src}: {msg}");
    assert!(
        peak < 6 * MIB,
        "{src}: the heap reached {peak} bytes under a 1 MiB budget"
    );
}

/// Keeps `expr` (evaluated with `s`, a 100 000-character string, in scope) 50 times: 5 MB
/// against a 1 MiB budget.
fn assert_kept_results_are_charged(expr: &str) {
    let src = format!(
        "def s = 'x' * 100000\ndef keep = []\nfor (i in 0..<50) {{ keep << ({expr}) }}\nkeep.size()"
    );
    assert_memory_limit(&src);
}

#[test]
fn string_plus_and_concat_charge_before_allocating() {
    assert_memory_limit("def s = 'x' * 1000\nfor (i in 0..<14) { s = s.plus(s) }\ns.size()");
    assert_memory_limit("def s = 'x' * 1000\nfor (i in 0..<14) { s = s.concat(s) }\ns.size()");
    assert_memory_limit("def s = 'x' * 1000\nfor (i in 0..<14) { s = s + s }\ns.size()");
    assert_memory_limit("def s = 'x' * 1000\nfor (i in 0..<14) { s = \"${s}${s}\" }\ns.size()");
}

#[test]
fn replace_with_an_empty_target_charges_its_whole_result_first() {
    assert_memory_limit("def r = 'y' * 100000\n('x' * 1000).replace('', r).size()");
}

#[test]
fn string_builders_charge_what_they_return() {
    for expr in [
        "s.toCharArray()",
        "s.chars()",
        "s.tokenize('')",
        "(s + ' ').tokenize()",
        "s.reverse()",
        "s.take(99999)",
        "s.drop(1)",
        "s.toUpperCase()",
        "s.toLowerCase()",
        "s.capitalize()",
        "s.uncapitalize()",
        "s.substring(1)",
        "s.padLeft(100001)",
        "s.padRight(100001, 'ab')",
        "s.center(100002)",
        "s.split('')",
        "s.collect { it }",
        "s.toList()",
        "s.findAll('x')",
        "(s =~ /x/).collect { it }",
        "s.replaceAll('x', 'yy')",
        "s.minus('q')",
        "s.stripIndent()",
        "s.readLines()",
        "s.multiply(1)",
        "s.toString() * 1",
        "String.valueOf([s])",
        "[s].toString()",
        "[s].join('')",
        "[s, s].join(',').size()",
        "[a: s].toString()",
        "sprintf('%s', s)",
        "String.format('%s', s)",
    ] {
        assert_kept_results_are_charged(expr);
    }
}

#[test]
fn list_builders_charge_what_they_return() {
    let big = "def l = (1..20000).toList()\ndef keep = []\nfor (i in 0..<50) { keep << (EXPR) }";
    for expr in [
        "l.take(20000)",
        "l.drop(1)",
        "l.tail()",
        "l.init()",
        "l.reverse()",
        "l.collect { it }",
        "l.collect()",
        "l.findAll { true }",
        "l + l",
        "l.plus(l)",
        "l * 2",
        "l.multiply(2)",
        "[] + (1..20000)",
        "new ArrayList(l)",
        "l.sort(false)",
        "l.toSorted()",
        "l.toList()",
        "l.subList(0, 20000)",
        "l.collate(2)",
        "l.withIndex()",
        "l.indexed()",
        "l.collectEntries { [it, it] }",
        "l.groupBy { it }",
        "l.countBy { it }",
        "l.collectMany { [it] }",
        "l.findResults { it }",
        "l.split { it % 2 }",
        "l.step(1)",
        "l.unique(false)",
        "l.toSet()",
        "[l].flatten()",
        "l.clone()",
        "l*.toString()",
        "l.minus(0)",
        "l - 0",
        "l.intersect(l)",
        "l.takeWhile { true }",
        "l.dropWhile { false }",
    ] {
        assert_memory_limit(&big.replace("EXPR", expr));
    }
}

#[test]
fn map_builders_charge_what_they_return() {
    let big = "def m = (1..2000).collectEntries { [it, it] }\ndef keep = []\nfor (i in 0..<50) { keep << (EXPR) }";
    for expr in [
        "m + m",
        "m.plus(m)",
        "m.collectEntries { k, v -> [k, v] }",
        "m.findAll { true }",
        "m.collect { it.key }",
        "m.keySet()",
        "m.values()",
        "m.entrySet()",
        "m.subMap(m.keySet())",
        "m.sort()",
        "m.groupBy { it.value }",
        "new LinkedHashMap(m)",
        "m.toString()",
        "groovy.json.JsonOutput.toJson(m)",
    ] {
        assert_memory_limit(&big.replace("EXPR", expr));
    }
}

#[test]
fn growing_a_list_in_place_is_charged() {
    assert_memory_limit("def l = [1] * 1000\nfor (i in 0..<20) { l.addAll(l) }\nl.size()");
    assert_memory_limit("def l = [1] * 1000\nfor (i in 0..<20) { l += l }\nl.size()");
    assert_memory_limit("def l = []\nl.addAll(1..100000000)\nl.size()");
    assert_memory_limit("def m = [:]\nfor (i in 0..<100000) { m[i] = i }\nm.size()");
    assert_memory_limit("def m = [:]\nfor (i in 0..<100000) { m.put(i, i) }\nm.size()");
    assert_memory_limit(
        "def sb = new StringBuilder('x' * 1000)\nfor (i in 0..<14) { sb.append(sb.toString()) }\nsb.length()",
    );
    assert_memory_limit(
        "def sb = new StringBuilder('x' * 1000)\nfor (i in 0..<14) { sb << sb.toString() }\nsb.length()",
    );
}

#[test]
fn shared_elements_cannot_multiply_a_string_past_the_budget() {
    // 10 000 references to one 10 kB string: the list itself is small, its text is 100 MB
    let share = "def s = 'x' * 10000\ndef l = [s] * 10000\n";
    for tail in [
        "l.join(',')",
        "l.toString()",
        "'' + l",
        "\"${l}\"",
        "println l",
        "l.sum()",
        "l.inject('') { a, b -> a + b }",
        "groovy.json.JsonOutput.toJson(l)",
        "'abc'.contains(l)",
        "l.toString().size()",
    ] {
        let src = format!("{share}{tail}");
        let limits = Limits {
            max_alloc_bytes: 4 * MIB as u64,
            ..Limits::default()
        };
        let (kind, msg, peak, _) = stopped(&src, limits);
        assert_eq!(kind, ErrorKind::Limit, "{src}: {msg}");
        assert!(msg.contains("memory limit"), "{src}: {msg}");
        assert!(
            peak < 24 * MIB,
            "{src}: the heap reached {peak} bytes under a 4 MiB budget"
        );
    }
}

#[test]
fn sizes_that_overflow_are_limit_errors_not_panics() {
    for src in [
        "'ab' * 9223372036854775807",
        "'ab'.multiply(9223372036854775807)",
        "'ab'.repeat(2147483647)",
        "[1, 2] * 9223372036854775807",
        "'x'.padLeft(2147483647)",
        "'x'.center(2147483647, 'ab')",
        "('ab' * 1000).replace('', 'x' * 1000000)",
        "('x' * 300000).replace('x', 'y' * 300000)",
        "(1..2147483647).toList()",
        "(1..2147483647).collect { it }",
    ] {
        assert_memory_limit(src);
    }
}

#[test]
fn regex_compiles_honour_a_short_time_limit() {
    let limits = Limits {
        max_time: Duration::from_millis(300),
        max_steps: u64::MAX,
        ..Limits::default()
    };
    // a new pattern on every iteration: each compile is work the run must pay for
    // (each takes tens of milliseconds; before, the clock was read only every 1 024 steps)
    let src = "def i = 0\nwhile (true) {\n  i++\n  try { 'a' ==~ ('(?:\\\\w{20}){20}' + i) } catch (e) { }\n}";
    let (kind, msg, _, elapsed) = stopped(src, limits);
    assert_eq!(kind, ErrorKind::Limit, "{msg}");
    assert!(msg.contains("the limit is 300ms"), "{msg}");
    assert!(
        elapsed < Duration::from_secs(3),
        "a 300 ms run went on for {elapsed:?}"
    );
}

#[test]
fn long_builtins_honour_the_time_limit() {
    let limits = Limits {
        max_time: Duration::from_millis(300),
        max_steps: u64::MAX,
        ..Limits::default()
    };
    // quadratic built-ins over lists the memory budget allows: no script step inside them
    for src in [
        "def l = (1..200000).toList()\nwhile (true) { l - l }",
        "def l = (1..200000).toList()\nwhile (true) { l.intersect(l.reverse()) }",
        "def l = (1..200000).toList()\nwhile (true) { l.unique() }",
        "def l = (1..200000).collect { 'k' + it }\nwhile (true) { l.toSorted() }",
    ] {
        let (kind, msg, _, elapsed) = stopped(src, limits.clone());
        assert_eq!(kind, ErrorKind::Limit, "{src}: {msg}");
        assert!(
            elapsed < Duration::from_secs(5),
            "{src}: a 300 ms run went on for {elapsed:?}"
        );
    }
}

#[test]
fn the_regex_cache_and_patterns_are_bounded() {
    // a pattern longer than the limit is refused with a clear error, not compiled
    let script = Script::compile("'a' ==~ ('a' * 100000)").expect("parses");
    let e = script
        .run(Default::default(), &Limits::default())
        .result
        .expect_err("a 100 kB pattern is refused");
    assert!(e.message.contains("pattern"), "{}", e.message);
    // many distinct patterns do not pile up in the cache: the heap stays small
    let src = "for (i in 0..<3000) { 'a' ==~ ('a{1,30}b{1,30}' + i) }\n1";
    let script = Script::compile(src).expect("parses");
    let (r, peak) = peak_heap(|| script.run(Default::default(), &Limits::default()).result);
    assert!(r.is_ok(), "{:?}", r.err().map(|e| e.message));
    assert!(peak < 64 * MIB, "3000 patterns kept {peak} bytes");
}

#[test]
fn big_integer_powers_are_exact_or_an_error_never_wrapped() {
    let run = |src: &str| {
        Script::compile(src)
            .expect("parses")
            .run(Default::default(), &Limits::default())
            .result
            .map(|v| v.to_string())
    };
    match run("2G ** 100000000") {
        Ok(v) => panic!("2G ** 100000000 gave {v}"),
        Err(e) => assert!(
            e.message.contains("too large") || e.message.contains("memory limit"),
            "{}",
            e.message
        ),
    }
    assert!(
        run("2 ** 200").is_err(),
        "2 ** 200 needs more than 128 bits"
    );
    assert!(run("3L ** 100").is_err());
    assert_eq!(run("2 ** 10").ok().as_deref(), Some("1024"));
    assert_eq!(
        run("(2 ** 31).getClass().simpleName").ok().as_deref(),
        Some("BigInteger")
    );
    assert_eq!(run("2 ** 31").ok().as_deref(), Some("2147483648"));
    assert_eq!(
        run("2 ** 100").ok().as_deref(),
        Some("1267650600228229401496703205376")
    );
    assert_eq!(run("1G ** 100000000").ok().as_deref(), Some("1"));
    assert_eq!(run("(-1) ** 100000001").ok().as_deref(), Some("-1"));
    assert_eq!(run("1.5 ** 3").ok().as_deref(), Some("3.375"));
    assert!(
        run("2.5 ** 5000").is_err(),
        "2.5 ** 5000 is too large for a BigDecimal here"
    );
}
