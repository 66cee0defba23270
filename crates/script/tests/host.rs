//! The host interface: Rust objects with properties and methods, variables in and out, JSON
//! conversion both ways.

use std::cell::RefCell;
use std::rc::Rc;

use tandem_script::{HostObject, Invoker, Limits, Script, Value, binding, from_json, to_json};

/// A stand-in for `nodeHelper`: a property, a method, and a method that calls a closure back.
struct Helper {
    calls: RefCell<Vec<String>>,
}

impl HostObject for Helper {
    fn type_name(&self) -> &str {
        "NodeHelper"
    }
    fn get_property(&self, name: &str) -> Result<Option<Value>, String> {
        Ok(match name {
            "version" => Some(Value::Int(3)),
            _ => None,
        })
    }
    fn call_method(
        &self,
        name: &str,
        args: &[Value],
        invoker: &mut dyn Invoker,
    ) -> Option<Result<Value, String>> {
        self.calls.borrow_mut().push(name.to_string());
        Some(match name {
            "getStatus" => Ok(Value::str(format!(
                "status:{}",
                args.first().map(|v| v.to_string()).unwrap_or_default()
            ))),
            "mapEach" => {
                let items = args
                    .first()
                    .and_then(|v| v.iter_items())
                    .unwrap_or_default();
                let f = args.get(1).cloned().unwrap_or(Value::Null);
                let mut out = Vec::new();
                for it in items {
                    match invoker.call(&f, vec![it]) {
                        Ok(v) => out.push(v),
                        Err(e) => return Some(Err(e.message)),
                    }
                }
                Ok(Value::list(out))
            }
            "fail" => Err("the tracker refused the request".into()),
            _ => return None,
        })
    }
    fn property_names(&self) -> Vec<String> {
        vec!["version".into()]
    }
    fn method_names(&self) -> Vec<String> {
        vec!["getStatus".into(), "mapEach".into(), "fail".into()]
    }
}

fn run(src: &str, helper: Rc<Helper>) -> tandem_script::Outcome {
    let script = Script::compile(src).expect("parses");
    let vars = binding([
        ("nodeHelper", Value::Host(helper)),
        (
            "issue",
            from_json(&serde_json::json!({"key": "A-1", "n": 2.5})),
        ),
    ]);
    script.run(vars, &Limits::default())
}

#[test]
fn host_objects_expose_properties_and_methods_and_call_closures_back() {
    let helper = Rc::new(Helper {
        calls: RefCell::new(Vec::new()),
    });
    let out = run(
        "[nodeHelper.version, nodeHelper.getStatus('Done'), nodeHelper.mapEach([1, 2]) { it * 10 }]",
        helper.clone(),
    );
    let v = out.result.map(|v| to_json(&v)).map_err(|e| e.message);
    assert_eq!(v, Ok(serde_json::json!([3, "status:Done", [10, 20]])));
    assert_eq!(*helper.calls.borrow(), vec!["getStatus", "mapEach"]);
}

#[test]
fn host_errors_and_unknown_members_are_clear() {
    let helper = Rc::new(Helper {
        calls: RefCell::new(Vec::new()),
    });
    let e = run("nodeHelper.getStatuss('x')", helper.clone())
        .result
        .err()
        .map(|e| e.message);
    assert_eq!(
        e.as_deref(),
        Some(
            "no method 'getStatuss' on NodeHelper; did you mean 'getStatus'? (its methods: getStatus, mapEach, fail)"
        )
    );
    let e = run("nodeHelper.versoin", helper.clone())
        .result
        .err()
        .map(|e| e.message);
    assert_eq!(
        e.as_deref(),
        Some("no property 'versoin' on a value of type NodeHelper; did you mean 'version'?")
    );
    let e = run("nodeHelper.fail()", helper)
        .result
        .err()
        .map(|e| e.message);
    assert_eq!(e.as_deref(), Some("the tracker refused the request"));
}

#[test]
fn variables_go_in_and_come_out_with_undeclared_assignments() {
    let helper = Rc::new(Helper {
        calls: RefCell::new(Vec::new()),
    });
    let out = run(
        "issue.key = 'B-2'\ncreated = [issue.n * 2]\ndef local = 1",
        helper,
    );
    assert!(out.result.is_ok());
    assert_eq!(
        out.variables.get("issue").map(to_json),
        Some(serde_json::json!({"key": "B-2", "n": 2.5}))
    );
    assert_eq!(
        out.variables.get("created").map(to_json),
        Some(serde_json::json!([5.0]))
    );
    assert!(out.variables.get("local").is_none());
}

#[test]
fn json_round_trips_through_values() {
    let j = serde_json::json!({"a": [1, 2147483648i64, 2.5, "s", null, true], "b": {"c": {}}});
    assert_eq!(to_json(&from_json(&j)), j);
}

#[test]
fn a_strict_map_reads_like_an_object_of_fixed_properties() {
    let script = Script::compile(
        "def a = [issue.summary, issue.dueDate, issue.status?.name]\nissue.extra = 2\na << issue.extra\nreturn issue.statusd",
    )
    .unwrap();
    let issue = from_json(&serde_json::json!({"summary": "s", "status": {"name": "Done"}}));
    let strict = |issue: &Value| {
        vec![tandem_script::Strict {
            map: issue.clone(),
            class: "Issue".into(),
            known: vec!["dueDate".into()],
        }]
    };
    let out = script.run_strict(
        binding([("issue", issue.clone())]),
        &Limits::default(),
        strict(&issue),
    );
    let e = out.result.unwrap_err();
    assert_eq!(
        e.kind,
        tandem_script::ErrorKind::Exception("MissingPropertyException".into()),
        "{e:?}"
    );
    assert!(
        e.message
            .contains("No such property: statusd for class: Issue")
            && e.message.contains("did you mean 'status'"),
        "{}",
        e.message
    );
    let source = "def a = [issue.summary, issue.dueDate, issue.status?.name]\nissue.extra = 2\na << issue.extra\nreturn issue.statusd";
    assert_eq!(e.line_col(source).0, 4, "names the line");
    // Without strictness the same map reads null, as a Groovy map does.
    let out = script.run(binding([("issue", issue)]), &Limits::default());
    assert_eq!(to_json(&out.result.unwrap()), serde_json::Value::Null);
    // Known properties read null and new ones can be written.
    let script =
        Script::compile("issue.extra = 2\n[issue.summary, issue.dueDate, issue.extra]").unwrap();
    let issue = from_json(&serde_json::json!({"summary": "s"}));
    let out = script.run_strict(
        binding([("issue", issue.clone())]),
        &Limits::default(),
        strict(&issue),
    );
    assert_eq!(
        to_json(&out.result.unwrap()),
        serde_json::json!(["s", null, 2])
    );
}
