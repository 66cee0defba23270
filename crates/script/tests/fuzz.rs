//! Property test: no input makes the lexer, parser or evaluator panic or overflow the stack.
//! Inputs come from a seeded generator (repeatable): random characters from Groovy's syntax,
//! token soup, mutations of the conformance scripts and pathological nesting. Every script that
//! parses is also run under small limits.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

use tandem_script::{Limits, Script, Value, binding, from_json};

use crate::common::{case_dirs, shared_dir};

/// xorshift64*: small, seedable, good enough to spread inputs.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const ALPHABET: &[u8] = b"abcxyz019_ \n\t\"'/\\$.{}[]()<>=!?:;,+-*%~&|^@#it";
const TOKENS: &[&str] = &[
    "def",
    "x",
    "y",
    "it",
    "=",
    "==",
    "(",
    ")",
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "->",
    "?.",
    "?:",
    "*.",
    "..",
    "..<",
    "<=>",
    "=~",
    "==~",
    "~/a+/",
    "/b/",
    "in",
    "!in",
    "as",
    "instanceof",
    "String",
    "int",
    "if",
    "else",
    "while",
    "for",
    "switch",
    "case",
    "default",
    "return",
    "break",
    "continue",
    "try",
    "catch",
    "finally",
    "throw",
    "new",
    "Exception",
    "class",
    "\n",
    ";",
    "1",
    "2.5",
    "-3",
    "\"s\"",
    "'t'",
    "\"${x}\"",
    "\"$x.y\"",
    "'''m'''",
    "null",
    "true",
    "+",
    "-",
    "*",
    "/",
    "%",
    "**",
    "++",
    "--",
    "+=",
    "<<",
    "&&",
    "||",
    "!",
    "?",
    ".",
    "each",
    "collect",
    "size()",
    "[:]",
    "[1, 2]",
    "var",
    "do",
    "println",
    "Math.max(1, 2)",
    "::",
    "===",
    "?[0]",
    "?=",
];

fn run_one(source: &str) -> Result<(), String> {
    let r = catch_unwind(AssertUnwindSafe(|| {
        if let Ok(script) = Script::compile(source) {
            let issue = from_json(&serde_json::json!({"summary": "s", "labels": ["a"], "n": 3}));
            let vars = binding([
                ("issue", issue),
                ("replica", Value::map(Default::default())),
                ("x", Value::Int(1)),
            ]);
            let limits = Limits {
                max_steps: 20_000,
                max_alloc_bytes: 16 << 20,
                max_depth: 50,
                max_time: Duration::from_secs(2),
                max_stack_bytes: 1 << 20,
                clock: None,
            };
            let out = script.run(vars, &limits);
            if let Err(e) = out.result {
                let _ = e.render(source, "fuzz.groovy");
            }
        } else if let Err(e) = Script::compile(source) {
            let _ = e.render(source, "fuzz.groovy");
        }
    }));
    r.map_err(|_| format!("panicked on input:\n{source}"))
}

fn inputs() -> Vec<String> {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let mut out = Vec::new();
    for _ in 0..1500 {
        let n = rng.below(120);
        out.push((0..n).map(|_| *rng.pick(ALPHABET) as char).collect());
    }
    let unicode: Vec<char> = "aé€😀ß\u{301}\u{200b}\"'$/{}()[].\n ".chars().collect();
    for _ in 0..500 {
        let n = rng.below(60);
        out.push((0..n).map(|_| *rng.pick(&unicode)).collect());
    }
    for _ in 0..1500 {
        let n = rng.below(40);
        out.push(
            (0..n)
                .map(|_| *rng.pick(TOKENS))
                .collect::<Vec<_>>()
                .join(" "),
        );
    }
    let scripts: Vec<String> = case_dirs(&shared_dir().join("conformance/groovy"))
        .iter()
        .filter_map(|d| std::fs::read_to_string(d.join("script.groovy")).ok())
        .collect();
    for _ in 0..1500 {
        let s = rng.pick(&scripts).clone();
        let chars: Vec<char> = s.chars().collect();
        let (a, b) = (rng.below(chars.len() + 1), rng.below(chars.len() + 1));
        let (a, b) = (a.min(b), a.max(b));
        let mutated: String = match rng.below(3) {
            0 => chars[..a].iter().chain(chars[b..].iter()).collect(),
            1 => chars[..b].iter().chain(chars[a..].iter()).collect(),
            _ => {
                let t = *rng.pick(TOKENS);
                chars[..a].iter().collect::<String>() + t + &chars[a..].iter().collect::<String>()
            }
        };
        out.push(mutated);
    }
    for unit in [
        "(", "[", "{", "!", "-", "~", "\"${", "x.", "[a:", "if (x) ", "{ -> ", "(int) ", "new X(",
        "x?.", "++",
    ] {
        out.push(unit.repeat(5000) + "1");
    }
    out.push("def f(n) { f(n + 1) }\nf(0)".into());
    out.push("def c\nc = { c() }\nc()".into());
    out.push("def l = []\nfor (i in 0..3000) { l = [l] }\nprintln l\nl == l.clone()".into());
    out.push("def s = 'x'\nwhile (true) { s = s + s }".into());
    out.push("[3, 1, 2].sort { a, b -> 1 }".into());
    out.push("'a' * 1000000000".into());
    out.push("(0..2000000000).each { }".into());
    out.push("for (i in 0..2000000000) { }".into());
    out.push("(-9223372036854775807L..9223372036854775807L).size()".into());
    out.push("def l = []\nl[9223372036854775807L] = 1".into());
    out.push("String.format('%999999999999999999999d|%.99999999999f', 1, 2.5)".into());
    out.push("(1..100000000).collect { it }".into());
    out.push("[1, 2] == (0..9223372036854775807L)".into());
    out.push("def x = [1]\nfor (i in 0..60) { x = [x, x] }\n[x.toString().size(), x == x.collect { it }, x.flatten().size(), groovy.json.JsonOutput.toJson(x).size()]".into());
    out.push("def m = [:]\nm[m] = 1\nm.put(m, 2)\nm.remove(m)\nm.containsKey(m)\nprintln m".into());
    out.push("def sb = new StringBuilder('x')\nsb.append(sb)\nsb << sb\nsb.toString()".into());
    out.push("def l = [1]\nl << l\nl.add(l)\nprintln l\n[l == l, l.sum(), l.flatten(), l.unique(), l.sort(), l.toString()]".into());
    out.push(
        "def m = [a: 1]\nm.b = m\nm.each { k, v -> m.c = 1 }\nm.collectEntries { [it.key, m] }"
            .into(),
    );
    out.push("def l = [3, 1, 2]\nl.each { l << it }\nl.sort { a, b -> l.clear(); a <=> b }\nl.removeAll { l.add(1) }".into());
    out.push("def b = -170141183460469231731687303715884105728G\n[-b, b.abs(), b.intdiv(-1), b % -1, b / 3, b * 1.5, b - 1]".into());
    out.push(
        "def d = -17014118346046923173168730371588410572.8\n[-d, d / 0.7, d % 0.3, d * d, d.abs()]"
            .into(),
    );
    out
}

#[test]
fn no_input_panics_the_lexer_parser_or_evaluator() {
    let handle = std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(|| {
            let inputs = inputs();
            let failures: Vec<String> = inputs.iter().filter_map(|s| run_one(s).err()).collect();
            (inputs.len(), failures)
        })
        .expect("spawn the fuzz thread");
    let (n, failures) = handle.join().expect("the fuzz thread does not crash");
    assert!(n > 4000);
    assert!(
        failures.is_empty(),
        "{} of {n} inputs panic:\n{}",
        failures.len(),
        failures.join("\n----\n")
    );
}

#[test]
fn deep_nesting_and_recursion_stop_cleanly_on_a_2_mib_thread() {
    let handle = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(|| {
            let mut failures = Vec::new();
            for unit in ["(", "[", "{", "!", "-", "\"${", "[a:", "if (x) ", "{ -> "] {
                let src = unit.repeat(5000) + "1";
                if let Err(e) = run_one(&src) {
                    failures.push(e);
                }
            }
            for src in [
                "def f(n) { f(n + 1) }\nf(0)",
                "def c\nc = { c() }\nc()",
                "def f(n) { [1].collect { f(n + 1) } }\nf(0)",
            ] {
                let script = Script::compile(src).expect("parses");
                let out = script.run(Default::default(), &Limits::default());
                match out.result {
                    Err(e) if e.kind == tandem_script::ErrorKind::Limit => {}
                    other => failures.push(format!(
                        "{src}: expected a limit error, got {:?}",
                        other.map(|v| v.to_string())
                    )),
                }
            }
            failures
        })
        .expect("spawn");
    let failures = handle.join().expect("no stack overflow on a 2 MiB thread");
    assert!(failures.is_empty(), "{failures:?}");
}
