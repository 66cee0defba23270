//! A ServiceNow reference column as Exalate's scripts read it: `entity.assigned_to.display_value`
//! (the referenced record's name, read from the instance the first time it is asked for),
//! `.link` (the record's REST address, for `nodeHelper.getTableByLink`) and `.value` (its
//! sys_id). Written back, it is the column as it was (`{link, value}`); an empty reference is
//! `""`, as ServiceNow gives it.

use std::cell::OnceCell;
use std::rc::Rc;

use serde_json::{Map, Value as Json};
use tandem_script::{HostObject, Invoker, Value};

use super::helpers::Env;

pub struct Reference {
    /// The column as the mirror keeps it.
    raw: Map<String, Json>,
    /// Where its display value is read: (table, sys_id of the record, column).
    owner: Option<(String, String, String)>,
    env: Env,
    display: OnceCell<Result<Value, String>>,
}

impl Reference {
    fn text(&self, key: &str) -> Value {
        match self.raw.get(key) {
            Some(Json::String(s)) => Value::str(s.as_str()),
            _ => Value::Null,
        }
    }

    fn display_value(&self) -> Result<Value, String> {
        self.display
            .get_or_init(|| {
                if let Some(Json::String(s)) = self.raw.get("display_value") {
                    return Ok(Value::str(s.as_str()));
                }
                let Some((table, sys_id, column)) = &self.owner else {
                    return Ok(Value::Null);
                };
                let path = format!(
                    "/api/now/table/{table}/{sys_id}?sysparm_fields={column}&sysparm_display_value=true"
                );
                let answer = self
                    .env
                    .servicenow_json(&format!("{column}.display_value"), &path)?;
                Ok(match &answer["result"][column.as_str()] {
                    Json::String(s) => Value::str(s.as_str()),
                    Json::Object(o) => match o.get("display_value") {
                        Some(Json::String(s)) => Value::str(s.as_str()),
                        _ => Value::Null,
                    },
                    _ => Value::Null,
                })
            })
            .clone()
    }
}

impl HostObject for Reference {
    fn type_name(&self) -> &str {
        "Reference"
    }

    fn get_property(&self, name: &str) -> Result<Option<Value>, String> {
        Ok(Some(match name {
            "display_value" | "displayValue" => self.display_value()?,
            "link" => self.text("link"),
            "value" | "sys_id" => self.text("value"),
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
            "getDisplay_value" | "getDisplayValue" => "display_value",
            "getLink" => "link",
            "getValue" => "value",
            "toString" => return Some(Ok(Value::str(self.display()))),
            _ => return None,
        };
        if !args.is_empty() {
            return Some(Err(format!("{name} takes no arguments")));
        }
        Some(self.get_property(property).map(Option::unwrap_or_default))
    }

    fn property_names(&self) -> Vec<String> {
        ["display_value", "link", "value"]
            .map(String::from)
            .to_vec()
    }

    fn display(&self) -> String {
        match self.raw.get("value") {
            Some(Json::String(s)) => s.clone(),
            _ => String::new(),
        }
    }

    fn to_json(&self) -> Json {
        Json::Object(self.raw.clone())
    }
}

/// The record `entity` (a ServiceNow record as the rules see it) with each reference column
/// (`{link, value}`) made a [`Reference`].
pub fn wrap_references(entity: &Value, env: &Env) {
    let Value::Map(m) = entity else {
        return;
    };
    let text = |k: &str| match m.borrow().get(&tandem_script::value::Key::Str(Rc::from(k))) {
        Some(Value::Str(s)) => Some(s.to_string()),
        _ => None,
    };
    let owner = text("tableName").zip(text("sys_id"));
    let mut map = m.borrow_mut();
    for (key, value) in map.iter_mut() {
        let Value::Map(_) = value else {
            continue;
        };
        let raw = tandem_script::to_json(value);
        let Json::Object(raw) = raw else {
            continue;
        };
        if !raw.contains_key("link") {
            continue;
        }
        let column = key.as_str().unwrap_or_default().to_owned();
        *value = Value::Host(Rc::new(Reference {
            raw,
            owner: owner.clone().map(|(table, sys_id)| (table, sys_id, column)),
            env: env.clone(),
            display: OnceCell::new(),
        }));
    }
}
