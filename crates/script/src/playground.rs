//! Entry points for the `tandem script check|run|bench` commands: plain functions from source
//! text and JSON to rendered text and JSON, so the binary only does the file handling.

use std::fmt;
use std::time::Instant;

use serde_json::{Map, Value as J, json};

use crate::{Binding, Limits, Script, ScriptError, Value, binding, from_json, to_json};

/// Parses `source`; `Err` is the rendered diagnostic (message, `file:line:column`, source line
/// and caret).
pub fn check(source: &str, file_name: &str) -> Result<(), String> {
    Script::compile(source)
        .map(|_| ())
        .map_err(|e| e.render(source, file_name))
}

fn input_binding(input: &Option<J>) -> (Binding, Vec<String>) {
    match input {
        Some(J::Object(o)) => (
            binding(o.iter().map(|(k, v)| (k.as_str(), from_json(v)))),
            o.keys().cloned().collect(),
        ),
        _ => (Binding::default(), Vec::new()),
    }
}

fn error_json(e: &ScriptError, source: &str) -> J {
    let (line, column) = e.line_col(source);
    let mut message = e.message.clone();
    if let crate::ErrorKind::Exception(class) = &e.kind {
        message = format!("{class}: {message}");
    }
    json!({"message": message, "line": line, "column": column})
}

/// Runs `source` with the variables of `input` (a JSON object) and returns the conformance
/// output object and whether the script failed.
pub fn run(source: &str, input: Option<J>) -> (J, bool) {
    let (vars, names) = input_binding(&input);
    let script = match Script::compile(source) {
        Ok(s) => s,
        Err(e) => {
            let variables = match &input {
                Some(J::Object(o)) => J::Object(o.clone()),
                _ => J::Object(Map::new()),
            };
            return (
                json!({"error": error_json(&e, source), "stdout": "", "variables": variables}),
                true,
            );
        }
    };
    // the playground is a host: its runs read the real clock
    let limits = Limits {
        clock: Some(std::sync::Arc::new(crate::SystemClock)),
        ..Limits::default()
    };
    let out = script.run(vars, &limits);
    let mut variables = Map::new();
    for n in &names {
        variables.insert(
            n.clone(),
            out.variables.get(n.as_str()).map_or(J::Null, to_json),
        );
    }
    match out.result {
        Ok(v) => (
            json!({"result": to_json(&v), "stdout": out.stdout, "variables": variables}),
            false,
        ),
        Err(e) => (
            json!({"error": error_json(&e, source), "stdout": out.stdout, "variables": variables}),
            true,
        ),
    }
}

/// Timings of the outgoing+incoming pair, in microseconds per pair.
#[derive(Debug, Clone)]
pub struct BenchReport {
    pub n: usize,
    pub compiled_once_us: f64,
    pub parse_each_time_us: f64,
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "compiled-once: {:.2} us per pair", self.compiled_once_us)?;
        writeln!(
            f,
            "parse-each-time: {:.2} us per pair",
            self.parse_each_time_us
        )?;
        write!(f, "(n = {} runs after {} warm-up runs)", self.n, self.n)
    }
}

/// One sync of the pair: outgoing on a fresh copy (`deep_copy`) of the item's `issue`, incoming on an empty
/// item with `firstSync = true`.
pub fn run_pair(
    outgoing: &Script,
    incoming: &Script,
    issue: &Value,
    limits: &Limits,
) -> Result<Value, ScriptError> {
    let vars = binding([
        ("issue", issue.deep_copy()),
        ("replica", Value::map(Default::default())),
    ]);
    let out = outgoing.run(vars, limits);
    out.result?;
    let replica = out.variables.get("replica").cloned().unwrap_or(Value::Null);
    let vars = binding([
        ("replica", replica),
        ("issue", Value::map(Default::default())),
        ("firstSync", Value::Bool(true)),
    ]);
    let inc = incoming.run(vars, limits);
    inc.result?;
    Ok(inc.variables.get("issue").cloned().unwrap_or(Value::Null))
}

/// Times the pair `n` times after `n` warm-up runs, compiled once and parsed on every run.
pub fn bench(outgoing: &str, incoming: &str, item: J, n: usize) -> Result<BenchReport, String> {
    let n = n.max(1);
    let issue = from_json(item.get("issue").unwrap_or(&item));
    let out = Script::compile(outgoing).map_err(|e| e.render(outgoing, "outgoing.groovy"))?;
    let inc = Script::compile(incoming).map_err(|e| e.render(incoming, "incoming.groovy"))?;
    let limits = Limits::default();
    let fail = |e: ScriptError| e.message;
    for _ in 0..n {
        run_pair(&out, &inc, &issue, &limits).map_err(fail)?;
    }
    let t = Instant::now();
    for _ in 0..n {
        run_pair(&out, &inc, &issue, &limits).map_err(fail)?;
    }
    let compiled = t.elapsed().as_secs_f64() * 1e6 / n as f64;
    for _ in 0..n {
        let o = Script::compile(outgoing).map_err(|e| e.message)?;
        let i = Script::compile(incoming).map_err(|e| e.message)?;
        run_pair(&o, &i, &issue, &limits).map_err(fail)?;
    }
    let t = Instant::now();
    for _ in 0..n {
        let o = Script::compile(outgoing).map_err(|e| e.message)?;
        let i = Script::compile(incoming).map_err(|e| e.message)?;
        run_pair(&o, &i, &issue, &limits).map_err(fail)?;
    }
    let parsed = t.elapsed().as_secs_f64() * 1e6 / n as f64;
    Ok(BenchReport {
        n,
        compiled_once_us: compiled,
        parse_each_time_us: parsed,
    })
}
