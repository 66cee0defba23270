//! Exalate's own classes as incoming rules use them to connect to an item that exists already
//! and to link comments they wrote themselves:
//!
//! - `new com.exalate.basic.domain.BasicIssueKey(id, key[, entityType])`: an item's key
//!   (`id`, `key`/`URN`, `idStr`, `entityType`).
//! - `new com.exalate.basic.domain.BasicNonPersistentTrace()` with `setType`, `setLocalId`,
//!   `setRemoteId`, `setAction`, `setToSynchronize` (each returns the trace), added to the
//!   `traces` list the incoming rules get: `TraceType.COMMENT` links a local comment to the
//!   remote one, so that `mergeComments` does not add it again.
//! - `TraceType` (`COMMENT`, `ATTACHMENT`, `WORKLOG`, `ISSUE`) and `TraceAction` (`NONE`,
//!   `TO_CREATE`, `TO_UPDATE`, `TO_DELETE`).
//! - `new scala.Tuple2(key, traces)` and `scala.collection.JavaConverters.asScalaBuffer(list)
//!   .toSeq()`: what an incoming script returns to say "this remote item is that local one"
//!   ([`connect_of`] reads it).

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use serde_json::{Value as Json, json};
use tandem_script::{HostClasses, HostObject, Invoker, Value, to_json};

/// The classes above, for [`tandem_script::Setup::classes`], on a node serving `tracker`
/// (classes of other platforms are refused naming it).
pub struct ExalateClasses {
    pub tracker: super::platforms::Tracker,
}

const TRACE_TYPES: &[&str] = &["COMMENT", "ATTACHMENT", "WORKLOG", "ISSUE"];
const TRACE_ACTIONS: &[&str] = &["NONE", "TO_CREATE", "TO_UPDATE", "TO_DELETE"];

impl HostClasses for ExalateClasses {
    fn has_class(&self, class: &str) -> bool {
        matches!(
            class,
            "BasicIssueKey" | "BasicNonPersistentTrace" | "TraceType" | "TraceAction" | "Tuple2"
        ) || super::platforms::foreign_class(class).is_some()
    }

    fn construct(&self, class: &str, args: &[Value]) -> Option<Result<Value, String>> {
        Some(match class {
            "BasicIssueKey" => issue_key(args),
            "BasicNonPersistentTrace" => Ok(Trace::made()),
            c if super::platforms::foreign_class(c).is_some() => {
                Err(super::platforms::class_refusal(c, "new", self.tracker).unwrap_or_default())
            }
            "Tuple2" => match args {
                [a, b] => Ok(Value::Host(Rc::new(Tuple2(a.clone(), b.clone())))),
                _ => Err(format!(
                    "new Tuple2 takes two values (the key and the traces), not {}",
                    args.len()
                )),
            },
            _ => return None,
        })
    }

    fn static_property(&self, class: &str, name: &str) -> Option<Result<Value, String>> {
        let known = match class {
            "TraceType" => TRACE_TYPES,
            "TraceAction" => TRACE_ACTIONS,
            _ => return super::platforms::class_refusal(class, name, self.tracker).map(Err),
        };
        Some(if known.contains(&name) {
            Ok(Value::str(name))
        } else {
            Err(format!(
                "{class} has no constant {name} ({})",
                known.join(", ")
            ))
        })
    }

    fn static_call(
        &self,
        class: &str,
        name: &str,
        _args: &[Value],
    ) -> Option<Result<Value, String>> {
        super::platforms::class_refusal(class, name, self.tracker).map(Err)
    }
}

fn issue_key(args: &[Value]) -> Result<Value, String> {
    let text = |v: &Value| match v {
        Value::Null => None,
        v => Some(v.to_string()),
    };
    let (id, key, entity_type) = match args {
        [id, key] => (text(id), text(key), None),
        [id, key, kind] => (text(id), text(key), text(kind)),
        _ => {
            return Err(format!(
                "new BasicIssueKey takes (id, key) or (id, key, entityType), not {} arguments",
                args.len()
            ));
        }
    };
    Ok(Value::Host(Rc::new(IssueKey {
        id,
        key,
        entity_type,
    })))
}

/// `BasicIssueKey`: which item.
pub struct IssueKey {
    id: Option<String>,
    key: Option<String>,
    entity_type: Option<String>,
}

fn text_or_null(v: &Option<String>) -> Value {
    v.as_deref().map_or(Value::Null, Value::str)
}

impl HostObject for IssueKey {
    fn type_name(&self) -> &str {
        "BasicIssueKey"
    }

    fn get_property(&self, name: &str) -> Result<Option<Value>, String> {
        Ok(Some(match name {
            "id" | "idStr" => text_or_null(&self.id),
            "key" | "URN" | "urn" => text_or_null(&self.key),
            "entityType" => text_or_null(&self.entity_type),
            _ => return Ok(None),
        }))
    }

    fn call_method(
        &self,
        name: &str,
        args: &[Value],
        _invoker: &mut dyn Invoker,
    ) -> Option<Result<Value, String>> {
        let property = match name {
            "getId" | "getIdStr" => "id",
            "getURN" | "getKey" => "key",
            "getEntityType" => "entityType",
            "toString" => return Some(Ok(Value::str(self.display()))),
            _ => return None,
        };
        if !args.is_empty() {
            return Some(Err(format!("{name} takes no arguments")));
        }
        Some(self.get_property(property).map(Option::unwrap_or_default))
    }

    fn property_names(&self) -> Vec<String> {
        ["id", "idStr", "key", "URN", "entityType"]
            .map(String::from)
            .to_vec()
    }

    fn method_names(&self) -> Vec<String> {
        ["getId", "getIdStr", "getURN", "getKey", "getEntityType"]
            .map(String::from)
            .to_vec()
    }

    fn display(&self) -> String {
        self.key
            .clone()
            .or_else(|| self.id.clone())
            .unwrap_or_default()
    }

    fn to_json(&self) -> Json {
        json!({"id": self.id, "key": self.key, "entityType": self.entity_type})
    }
}

/// `BasicNonPersistentTrace`: a link between a local and a remote comment (or attachment)
/// the incoming rules made themselves.
pub struct Trace {
    me: Weak<Trace>,
    fields: RefCell<TraceFields>,
}

#[derive(Default, Clone)]
struct TraceFields {
    kind: Option<String>,
    local_id: Option<String>,
    remote_id: Option<String>,
    action: Option<String>,
    to_synchronize: bool,
}

impl Trace {
    fn made() -> Value {
        Value::Host(Rc::new_cyclic(|me| Trace {
            me: me.clone(),
            fields: RefCell::new(TraceFields::default()),
        }))
    }

    fn this(&self) -> Value {
        self.me
            .upgrade()
            .map_or(Value::Null, |t| Value::Host(t as Rc<dyn HostObject>))
    }
}

impl HostObject for Trace {
    fn type_name(&self) -> &str {
        "BasicNonPersistentTrace"
    }

    fn get_property(&self, name: &str) -> Result<Option<Value>, String> {
        let f = self.fields.borrow();
        Ok(Some(match name {
            "type" => text_or_null(&f.kind),
            "localId" => text_or_null(&f.local_id),
            "remoteId" => text_or_null(&f.remote_id),
            "action" => text_or_null(&f.action),
            "toSynchronize" => Value::Bool(f.to_synchronize),
            _ => return Ok(None),
        }))
    }

    fn set_property(&self, name: &str, value: Value) -> Result<(), String> {
        let text = match &value {
            Value::Null => None,
            v => Some(v.to_string()),
        };
        let mut f = self.fields.borrow_mut();
        match name {
            "type" => f.kind = text,
            "localId" => f.local_id = text,
            "remoteId" => f.remote_id = text,
            "action" => f.action = text,
            "toSynchronize" => f.to_synchronize = value.truthy(),
            _ => return Err(format!("BasicNonPersistentTrace has no property '{name}'")),
        }
        Ok(())
    }

    fn call_method(
        &self,
        name: &str,
        args: &[Value],
        _invoker: &mut dyn Invoker,
    ) -> Option<Result<Value, String>> {
        let property = match name {
            "setType" => "type",
            "setLocalId" => "localId",
            "setRemoteId" => "remoteId",
            "setAction" => "action",
            "setToSynchronize" => "toSynchronize",
            "getType" => return Some(self.get_property("type").map(Option::unwrap_or_default)),
            "getLocalId" => {
                return Some(self.get_property("localId").map(Option::unwrap_or_default));
            }
            "getRemoteId" => {
                return Some(self.get_property("remoteId").map(Option::unwrap_or_default));
            }
            _ => return None,
        };
        let [value] = args else {
            return Some(Err(format!("{name} takes one value, not {}", args.len())));
        };
        Some(
            self.set_property(property, value.clone())
                .map(|()| self.this()),
        )
    }

    fn property_names(&self) -> Vec<String> {
        ["type", "localId", "remoteId", "action", "toSynchronize"]
            .map(String::from)
            .to_vec()
    }

    fn method_names(&self) -> Vec<String> {
        [
            "setType",
            "setLocalId",
            "setRemoteId",
            "setAction",
            "setToSynchronize",
            "getType",
            "getLocalId",
            "getRemoteId",
        ]
        .map(String::from)
        .to_vec()
    }

    fn to_json(&self) -> Json {
        let f = self.fields.borrow();
        json!({
            "type": f.kind,
            "localId": f.local_id,
            "remoteId": f.remote_id,
            "action": f.action,
            "toSynchronize": f.to_synchronize,
        })
    }
}

/// `scala.Tuple2`: two values, `_1` and `_2`.
pub struct Tuple2(Value, Value);

impl HostObject for Tuple2 {
    fn type_name(&self) -> &str {
        "Tuple2"
    }

    fn get_property(&self, name: &str) -> Result<Option<Value>, String> {
        Ok(match name {
            "_1" => Some(self.0.clone()),
            "_2" => Some(self.1.clone()),
            _ => None,
        })
    }

    fn call_method(
        &self,
        name: &str,
        _args: &[Value],
        _invoker: &mut dyn Invoker,
    ) -> Option<Result<Value, String>> {
        match name {
            "_1" => Some(Ok(self.0.clone())),
            "_2" => Some(Ok(self.1.clone())),
            _ => None,
        }
    }

    fn property_names(&self) -> Vec<String> {
        vec!["_1".into(), "_2".into()]
    }

    fn to_json(&self) -> Json {
        json!({"_1": to_json(&self.0), "_2": to_json(&self.1)})
    }
}

/// The `scala` package as scripts reach it: `scala.collection.JavaConverters` (or
/// `JavaConversions`), whose `asScalaBuffer(list)` / `asScala(list)` give the list back with
/// `toSeq()`, `toList()` and `asJava()`.
pub struct ScalaPackage(&'static str);

/// The variable `scala`.
pub fn scala() -> Value {
    Value::Host(Rc::new(ScalaPackage("scala")))
}

impl HostObject for ScalaPackage {
    fn type_name(&self) -> &str {
        self.0
    }

    fn get_property(&self, name: &str) -> Result<Option<Value>, String> {
        Ok(match (self.0, name) {
            ("scala", "collection") => Some(Value::Host(Rc::new(ScalaPackage("scala.collection")))),
            ("scala.collection", "JavaConverters" | "JavaConversions") => {
                Some(Value::Host(Rc::new(ScalaPackage("JavaConverters"))))
            }
            _ => None,
        })
    }

    fn call_method(
        &self,
        name: &str,
        args: &[Value],
        _invoker: &mut dyn Invoker,
    ) -> Option<Result<Value, String>> {
        match (self.0, name) {
            ("JavaConverters", "asScalaBuffer" | "asScala" | "seqAsJavaList" | "asJava") => {
                Some(match args {
                    [list] => Ok(Value::Host(Rc::new(ScalaSeq(list.clone())))),
                    _ => Err(format!("{name} takes one list, not {}", args.len())),
                })
            }
            _ => None,
        }
    }

    fn property_names(&self) -> Vec<String> {
        match self.0 {
            "scala" => vec!["collection".into()],
            "scala.collection" => vec!["JavaConverters".into(), "JavaConversions".into()],
            _ => Vec::new(),
        }
    }

    fn method_names(&self) -> Vec<String> {
        match self.0 {
            "JavaConverters" => vec!["asScalaBuffer".into(), "asScala".into()],
            _ => Vec::new(),
        }
    }
}

/// A list seen through Scala's converters: `toSeq()`, `toList()`, `asJava()` give it back.
struct ScalaSeq(Value);

impl HostObject for ScalaSeq {
    fn type_name(&self) -> &str {
        "Buffer"
    }

    fn get_property(&self, _name: &str) -> Result<Option<Value>, String> {
        Ok(None)
    }

    fn call_method(
        &self,
        name: &str,
        _args: &[Value],
        _invoker: &mut dyn Invoker,
    ) -> Option<Result<Value, String>> {
        matches!(name, "toSeq" | "toList" | "asJava" | "toBuffer").then(|| Ok(self.0.clone()))
    }

    fn method_names(&self) -> Vec<String> {
        vec!["toSeq".into(), "toList".into(), "asJava".into()]
    }

    fn to_json(&self) -> Json {
        to_json(&self.0)
    }
}

/// What incoming rules said about the local item of a first sync: connect to this one
/// (`return new Tuple2(new BasicIssueKey(id, key), traces)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectTo {
    /// The item's key, or its id where only that was given.
    pub key: Option<String>,
    pub id: Option<String>,
    /// `store(issue)` made the item and its twin during the run: what the rules set is
    /// applied to it.
    pub stored: bool,
}

/// The item a script's result names, when it is Exalate's `Tuple2(BasicIssueKey, traces)` or a
/// bare `BasicIssueKey`.
pub fn connect_of(result: &Value) -> Option<ConnectTo> {
    let Value::Host(h) = result else {
        return None;
    };
    let key = match h.type_name() {
        "Tuple2" => h.to_json()["_1"].clone(),
        "BasicIssueKey" => h.to_json(),
        _ => return None,
    };
    let text = |v: &Json| match v {
        Json::String(s) if !s.is_empty() => Some(s.clone()),
        Json::Number(n) => Some(n.to_string()),
        _ => None,
    };
    let to = ConnectTo {
        key: text(&key["key"]),
        id: text(&key["id"]),
        stored: false,
    };
    (to.key.is_some() || to.id.is_some()).then_some(to)
}

/// A comment trace the rules added to `traces`: (local comment id, remote comment id).
pub fn comment_traces(traces: &Value) -> Vec<(String, String)> {
    let Value::List(list) = traces else {
        return Vec::new();
    };
    list.borrow()
        .iter()
        .filter_map(|t| {
            let t = to_json(t);
            let kind = t["type"].as_str().unwrap_or("COMMENT");
            if kind != "COMMENT" {
                return None;
            }
            let id = |v: &Json| match v {
                Json::String(s) if !s.is_empty() => Some(s.clone()),
                Json::Number(n) => Some(n.to_string()),
                _ => None,
            };
            Some((id(&t["localId"])?, id(&t["remoteId"])?))
        })
        .collect()
}
