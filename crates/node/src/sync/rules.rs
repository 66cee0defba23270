//! Runs a connection's sync rules. Scripts are compiled and run on a blocking thread (script
//! values are not `Send`); what goes in and comes out is JSON, so the async engine never holds
//! a script value.
//!
//! - Outgoing: `issue` (the local item, see [`super::item_json`]) and an empty `replica`; the
//!   replica the rules fill is the result.
//! - Incoming: `replica` (with `addedComments`, `changedComments`, `removedComments`,
//!   `addedAttachments`, `removedAttachments` added), `previous` (the last replica received, or
//!   null), `firstSync`, and `issue`; the `issue` the rules leave is the result.

use serde_json::Value;
use tandem_script::{Limits, Script, ScriptError, binding, from_json, to_json};

/// A rule that failed: which script, the message, and the rendered trace (line, caret, stack).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the {which} rules failed: {message}")]
pub struct RuleError {
    pub which: &'static str,
    pub message: String,
    /// The failing line with a caret and the script stack; `None` when no script ran.
    pub trace: Option<String>,
    /// `true` when the script does not compile: the whole connection waits, not one item.
    pub compile: bool,
}

fn failed(which: &'static str, source: &str, e: &ScriptError, compile: bool) -> RuleError {
    RuleError {
        which,
        message: e.message.clone(),
        trace: Some(e.render(source, which)),
        compile,
    }
}

/// The budgets one rule run gets.
pub fn limits() -> Limits {
    Limits::default()
}

/// Compiles `source`; the error names the line and column.
pub fn check(which: &'static str, source: &str) -> Result<(), RuleError> {
    Script::compile(source)
        .map(|_| ())
        .map_err(|e| failed(which, source, &e, true))
}

/// Runs the outgoing rules on `item`; returns the replica.
pub fn outgoing(source: &str, item: &Value) -> Result<Value, RuleError> {
    const WHICH: &str = "outgoing";
    let script = Script::compile(source).map_err(|e| failed(WHICH, source, &e, true))?;
    let replica = from_json(&Value::Object(Default::default()));
    let vars = binding([
        ("issue", from_json(item)),
        ("entity", from_json(item)),
        ("replica", replica.clone()),
    ]);
    let outcome = script.run(vars, &limits());
    outcome
        .result
        .map_err(|e| failed(WHICH, source, &e, false))?;
    // The rules may have assigned a new map to `replica`; read it back from the binding.
    let replica = outcome
        .variables
        .get("replica")
        .map(to_json)
        .unwrap_or(Value::Null);
    if !replica.is_object() {
        return Err(RuleError {
            which: WHICH,
            message: "the rules left `replica` as something that is not a map".into(),
            trace: None,
            compile: false,
        });
    }
    Ok(replica)
}

/// What the incoming rules get.
pub struct IncomingInput {
    pub replica: Value,
    pub previous: Option<Value>,
    pub first_sync: bool,
    pub item: Value,
}

/// Runs the incoming rules; returns the `issue` they leave.
pub fn incoming(source: &str, input: IncomingInput) -> Result<Value, RuleError> {
    const WHICH: &str = "incoming";
    let script = Script::compile(source).map_err(|e| failed(WHICH, source, &e, true))?;
    let issue = from_json(&input.item);
    let vars = binding([
        ("replica", from_json(&input.replica)),
        (
            "previous",
            input
                .previous
                .as_ref()
                .map_or(tandem_script::Value::Null, from_json),
        ),
        ("firstSync", tandem_script::Value::Bool(input.first_sync)),
        ("issue", issue.clone()),
        ("entity", issue),
    ]);
    let outcome = script.run(vars, &limits());
    outcome
        .result
        .map_err(|e| failed(WHICH, source, &e, false))?;
    let issue = outcome
        .variables
        .get("issue")
        .map(to_json)
        .unwrap_or(Value::Null);
    Ok(issue)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn outgoing_rules_fill_the_replica() {
        let replica = outgoing(
            "replica.summary = issue.summary\nreplica.status = issue.status",
            &json!({"summary": "Broken", "status": {"name": "Done"}}),
        )
        .unwrap();
        assert_eq!(
            replica,
            json!({"summary": "Broken", "status": {"name": "Done"}})
        );
    }

    #[test]
    fn incoming_rules_change_the_issue() {
        let issue = incoming(
            "if (firstSync) { issue.projectKey = 'ENG' }\nissue.summary = replica.summary + '!'",
            IncomingInput {
                replica: json!({"summary": "Broken"}),
                previous: None,
                first_sync: true,
                item: json!({"summary": ""}),
            },
        )
        .unwrap();
        assert_eq!(issue, json!({"summary": "Broken!", "projectKey": "ENG"}));
    }

    #[test]
    fn a_failing_rule_names_its_line() {
        let e = outgoing("replica.a = 1\nreplica.b = issue.nope.x", &json!({})).unwrap_err();
        assert_eq!(e.which, "outgoing");
        assert!(!e.compile);
        assert!(e.trace.unwrap().contains(":2:"), "names line 2");
        let e = outgoing("replica.a = (", &json!({})).unwrap_err();
        assert!(e.compile);
    }
}
