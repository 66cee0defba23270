//! A label as Exalate's scripts see it: a `Label` whose `label` is its text
//! (`issue.labels.collect { it.label }`), which still equals, sorts and joins as that text
//! (`issue.labels.contains("urgent")`, `it.toLowerCase()`) and travels as the text.

use std::rc::Rc;

use serde_json::Value as Json;
use tandem_script::{HostObject, Invoker, Value};

pub struct Label(Rc<str>);

/// A label of this text.
pub fn label(text: &str) -> Value {
    Value::Host(Rc::new(Label(Rc::from(text))))
}

impl HostObject for Label {
    fn type_name(&self) -> &str {
        "Label"
    }

    fn get_property(&self, name: &str) -> Result<Option<Value>, String> {
        Ok(match name {
            "label" | "name" => Some(Value::Str(self.0.clone())),
            _ => None,
        })
    }

    fn call_method(
        &self,
        name: &str,
        args: &[Value],
        _invoker: &mut dyn Invoker,
    ) -> Option<Result<Value, String>> {
        match name {
            "getLabel" | "toString" if args.is_empty() => Some(Ok(Value::Str(self.0.clone()))),
            _ => None,
        }
    }

    fn property_names(&self) -> Vec<String> {
        vec!["label".into()]
    }

    fn display(&self) -> String {
        self.0.to_string()
    }

    fn truthy(&self) -> bool {
        !self.0.is_empty()
    }

    fn to_json(&self) -> Json {
        Json::String(self.0.to_string())
    }

    fn as_text(&self) -> Option<&str> {
        Some(&self.0)
    }
}

/// Makes each text of `item.labels` (a map's `labels` list) a [`Label`].
pub fn wrap_labels(item: &Value) {
    let Value::Map(m) = item else {
        return;
    };
    let key = tandem_script::value::Key::Str(Rc::from("labels"));
    let Some(Value::List(list)) = m.borrow().get(&key).cloned() else {
        return;
    };
    for v in list.borrow_mut().iter_mut() {
        if let Value::Str(s) = v {
            *v = Value::Host(Rc::new(Label(s.clone())));
        }
    }
}
