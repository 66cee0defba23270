//! The host boundary: objects implemented in Rust (items, replicas, helpers) that scripts use
//! through properties and methods, and the [`Clock`] that dates read. The engine never does I/O
//! itself; a host object may, and only the host's clock tells a script what time it is.

use crate::diagnostic::ScriptError;
use crate::value::Value;

/// Lets a host method call back into the script, e.g. a closure passed as an argument.
pub trait Invoker {
    fn call(&mut self, callee: &Value, args: Vec<Value>) -> Result<Value, ScriptError>;
}

/// An object with properties and methods implemented in Rust.
///
/// Errors are plain-words messages; the engine adds the line, column and stack.
pub trait HostObject {
    /// The name shown in messages and by `getClass()`, e.g. `Issue` or `NodeHelper`.
    fn type_name(&self) -> &str;
    /// `Ok(None)` means there is no such property (the engine then reports it, with a
    /// suggestion from [`HostObject::property_names`]).
    fn get_property(&self, name: &str) -> Result<Option<Value>, String>;
    fn set_property(&self, name: &str, value: Value) -> Result<(), String> {
        let _ = value;
        Err(format!(
            "property '{name}' of {} is read-only",
            self.type_name()
        ))
    }
    /// `None` means there is no such method.
    fn call_method(
        &self,
        name: &str,
        args: &[Value],
        invoker: &mut dyn Invoker,
    ) -> Option<Result<Value, String>>;
    fn property_names(&self) -> Vec<String> {
        Vec::new()
    }
    fn method_names(&self) -> Vec<String> {
        Vec::new()
    }
    fn truthy(&self) -> bool {
        true
    }
    fn display(&self) -> String {
        self.type_name().to_string()
    }
    /// How the object appears in JSON output (variables out, `JsonOutput.toJson`).
    fn to_json(&self) -> serde_json::Value {
        serde_json::Value::Null
    }
    /// The text the object stands for, if it stands for one (Exalate's `Label`): it then
    /// equals and sorts as that text, and the String methods it does not have itself are the
    /// text's (`label.toLowerCase()`).
    fn as_text(&self) -> Option<&str> {
        None
    }
}

/// Classes the host offers to scripts besides the language's own: `new X(…)` for a class the
/// script does not define, and `X.NAME` constants (Exalate's `BasicIssueKey`, `TraceType.COMMENT`).
/// A class is named by its last segment (`com.exalate.basic.domain.BasicIssueKey` is
/// `BasicIssueKey`).
pub trait HostClasses {
    /// Whether the host offers `class` (so that `TraceType` alone names it).
    fn has_class(&self, class: &str) -> bool;
    /// `new class(args)`; `None` when the host has no such class.
    fn construct(&self, class: &str, args: &[Value]) -> Option<Result<Value, String>>;
    /// `class.name`; `None` when the host has no such class or constant.
    fn static_property(&self, class: &str, name: &str) -> Option<Result<Value, String>> {
        let _ = (class, name);
        None
    }
    /// `class.name(args)`; `None` when the host has no such class or method.
    fn static_call(
        &self,
        class: &str,
        name: &str,
        args: &[Value],
    ) -> Option<Result<Value, String>> {
        let _ = (class, name, args);
        None
    }
}

/// What time it is for a run: `new Date()`, `Instant.now()`, `System.currentTimeMillis()` and
/// the time zone that `Date.toString()` and `SimpleDateFormat` use when a script names none (the
/// JVM default zone in Groovy). The host supplies one in [`crate::Limits::clock`]; a run without
/// one refuses to tell the time. A Test run passes a [`FixedClock`] so results repeat.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> jiff::Timestamp;
    /// The zone used where a script names none.
    fn time_zone(&self) -> jiff::tz::TimeZone {
        jiff::tz::TimeZone::UTC
    }
}

/// The host's real clock, in UTC.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> jiff::Timestamp {
        jiff::Timestamp::now()
    }
}

/// A clock stopped at one instant, for reproducible runs.
#[derive(Debug, Clone)]
pub struct FixedClock {
    pub now: jiff::Timestamp,
    pub zone: jiff::tz::TimeZone,
}

impl Clock for FixedClock {
    fn now(&self) -> jiff::Timestamp {
        self.now
    }
    fn time_zone(&self) -> jiff::tz::TimeZone {
        self.zone.clone()
    }
}
