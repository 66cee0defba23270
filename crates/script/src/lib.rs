//! Tandem's script engine: a fast, sandboxed interpreter for the subset of Groovy that sync
//! rules are written in, checked against real Groovy 4. [`Script::compile`] parses source into
//! a syntax tree once; [`Script::run`] evaluates it against a binding of variables under
//! [`Limits`] and returns an [`Outcome`] (the result or a [`ScriptError`], the printed output and
//! the variables after the run). Values are [`Value`]s, convertible to and from
//! `serde_json::Value` ([`from_json`], [`to_json`]); items and helpers enter as [`HostObject`]s.
//! The crate does no I/O of its own and depends on nothing that does: no files, processes,
//! network or reflection are reachable from a script, and the only clock is the host's
//! [`Clock`] in [`Limits::clock`] (`new Date()`, `Instant.now()`; a run without one refuses to
//! tell the time, and a [`FixedClock`] makes a run reproducible). Dates, zones and Java's date
//! patterns are in [`time`], on jiff with its zone database built in.
//!
//! Stages: [`lexer`] → [`parser`] → [`ast`] → `resolve` (Groovy's compile-time scope rules) →
//! `eval` (tree walking with shared local cells, names interned at parse time) over
//! [`value`]s (dates in [`time`]), with the GDK in `stdlib`, errors in [`diagnostic`] and the sandbox's budgets in
//! [`limits`]. Values are `Rc`-based and not `Send`: compile and run a script on one thread.
//! Deep recursion is stopped by [`Limits::max_stack_bytes`] before it can overflow the native
//! stack; the default (1 MiB) fits threads with the usual 2 MiB stack.
//!
//! Known differences from Groovy 4, all deliberate or not yet needed by sync rules: a GString
//! is a `String` here (Groovy's `map["${k}"]` misses a `String` key because GString hashes
//! differently; here it finds it); BigDecimal results never use a negative scale (`10 / 0.5` is
//! `20`, Groovy prints `2E+1`; `12.5.setScale(-1, …)` is `10`, Groovy's `1E+1`);
//! `DecimalFormat` rounds a double from its shortest decimal form where Java uses its exact
//! binary value (they differ only on ties such as `1.015d` with two places);
//! `Math.random()`, files, processes, the network, reflection and `evaluate` are refused with a
//! `SecurityException`; Java streams (`list.stream()`) are refused naming Groovy's collection
//! methods instead; `JsonBuilder`'s closure DSL and a closure's `delegate` are not offered;
//! interfaces, enums, traits and labelled `break` are rejected with a syntax error naming the
//! construct.
//!
//! The CLI playground (`tandem script check|run|bench`) calls [`playground`]:
//!
//! ```text
//! pub fn playground::check(source: &str, file_name: &str) -> Result<(), String>
//!     Err is the rendered diagnostic: message, file:line:column, source line and caret.
//! pub fn playground::run(source: &str, input: Option<serde_json::Value>) -> (serde_json::Value, bool)
//!     {"result": …, "stdout": "…", "variables": {…}} or
//!     {"error": {"message": …, "line": …, "column": …}, "stdout": …, "variables": …}; the bool is
//!     true when the script failed (exit code 1).
//! pub fn playground::bench(outgoing: &str, incoming: &str, item: serde_json::Value, n: usize)
//!     -> Result<playground::BenchReport, String>
//!     Display prints "compiled-once: X us per pair" and "parse-each-time: Y us per pair".
//! ```

pub mod ast;
pub mod diagnostic;
mod eval;
pub mod host;
mod json;
pub mod lexer;
pub mod limits;
mod num;
pub mod parser;
pub mod playground;
mod resolve;
mod stdlib;
pub mod time;
pub mod value;

use std::rc::Rc;

pub use diagnostic::{ErrorKind, ScriptError, Span};
pub use eval::Binding;
pub use host::{Clock, FixedClock, HostClasses, HostObject, Invoker, SystemClock};
pub use json::{from_json, to_json};
pub use limits::Limits;
pub use value::Value;

/// A parsed script, ready to run any number of times.
pub struct Script {
    program: ast::Program,
}

/// What one run produced.
pub struct Outcome {
    /// The script's value (its last statement or `return`), or the error that stopped it.
    pub result: Result<Value, ScriptError>,
    /// What `println`/`print` wrote.
    pub stdout: String,
    /// The binding after the run: the variables passed in plus any the script assigned
    /// without declaring them.
    pub variables: Binding,
}

impl Script {
    /// Parses `source`. Errors carry the span of the offending token.
    pub fn compile(source: &str) -> Result<Script, ScriptError> {
        let program = parser::parse(source)?;
        resolve::check(&program)?;
        Ok(Script { program })
    }

    /// Runs the script with `variables` as its binding.
    pub fn run(&self, variables: Binding, limits: &Limits) -> Outcome {
        self.run_strict(variables, limits, Vec::new())
    }

    /// Runs the script with `variables` as its binding, where each of `strict` is a map the
    /// script sees as an object of fixed properties.
    pub fn run_strict(&self, variables: Binding, limits: &Limits, strict: Vec<Strict>) -> Outcome {
        self.run_with(
            variables,
            limits,
            Setup {
                strict,
                ..Setup::default()
            },
        )
    }

    /// Runs the script with `variables` as its binding and what the host adds in `setup`.
    pub fn run_with(&self, variables: Binding, limits: &Limits, setup: Setup) -> Outcome {
        let mut it = eval::Interp::new(&self.program, variables, limits.clone());
        for s in setup.strict {
            it.make_strict(s);
        }
        for (map, methods) in setup.methods {
            it.add_map_methods(map, methods);
        }
        it.host_classes = setup.classes;
        let result = it.run();
        Outcome {
            result,
            stdout: std::mem::take(&mut it.stdout),
            variables: std::mem::take(&mut it.binding),
        }
    }
}

/// A map the script sees as an object with fixed properties, as Exalate's `issue` is: reading a
/// property the map neither has nor lists in `known` (a typo such as `issue.statusd`) is a
/// `MissingPropertyException` naming the property and the class, not null. Writing one is
/// allowed, and `known` properties the map lacks read null.
pub struct Strict {
    /// The map (a [`Value::Map`]; anything else is ignored).
    pub map: Value,
    /// The class the message names, e.g. `Issue`.
    pub class: String,
    pub known: Vec<String>,
}

/// What a host adds to a run besides the variables.
#[derive(Default)]
pub struct Setup {
    /// Maps that are objects of fixed properties.
    pub strict: Vec<Strict>,
    /// Methods of maps the host made (`issue.setStatus("Done")` on the map `issue`): a call
    /// on the map that is no entry of it goes to the host object first, and to the map's own
    /// methods when the host object has no such method.
    pub methods: Vec<(Value, Rc<dyn HostObject>)>,
    /// Classes the host offers (`new BasicIssueKey(…)`, `TraceType.COMMENT`).
    pub classes: Option<Rc<dyn HostClasses>>,
}

/// A binding from `(name, value)` pairs.
pub fn binding<I, K>(vars: I) -> Binding
where
    I: IntoIterator<Item = (K, Value)>,
    K: AsRef<str>,
{
    vars.into_iter()
        .map(|(k, v)| (Rc::from(k.as_ref()), v))
        .collect()
}
