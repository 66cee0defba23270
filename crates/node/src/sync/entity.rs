//! Methods of the local item as the rules see it (`issue`, `entity`, `workItem`, and on
//! ServiceNow the variable named after the record's table): `setStatus(name)`, Exalate's
//! standard status line, and the ServiceNow choice lists it and `nodeHelper.getUrgency` read.
//!
//! Status names are matched as the tracker matches them: on the built-in tracker its three
//! statuses in any case (`"in progress"` is In Progress); on ServiceNow the labels of the
//! table's `state` choices (read from the instance's `sys_choice`, case-insensitively, as
//! ServiceNow compares text), or a choice's value itself (`"6"`).

use std::rc::Rc;

use tandem_model::Status;
use tandem_script::{HostObject, Invoker, Value};

use super::helpers::Env;

/// The methods of one local item, answered for the map the rules see ([`tandem_script::Setup::methods`]).
pub struct EntityMethods {
    item: Value,
    env: Env,
}

impl EntityMethods {
    pub fn new(item: Value, env: Env) -> Rc<EntityMethods> {
        Rc::new(EntityMethods { item, env })
    }

    fn set(&self, name: &str, value: Value) {
        if let Value::Map(m) = &self.item {
            m.borrow_mut()
                .insert(tandem_script::value::Key::Str(Rc::from(name)), value);
        }
    }

    fn get_text(&self, name: &str) -> Option<String> {
        let Value::Map(m) = &self.item else {
            return None;
        };
        match m
            .borrow()
            .get(&tandem_script::value::Key::Str(Rc::from(name)))
        {
            Some(Value::Str(s)) => Some(s.to_string()),
            _ => None,
        }
    }

    /// `setStatus(name)`: the item's status becomes the one named, as the tracker names it.
    fn set_status(&self, args: &[Value]) -> Result<Value, String> {
        let name = match args {
            [Value::Null] => return Err("setStatus needs a status name, not null".into()),
            [v @ Value::Map(_)] => {
                // A status object (`nodeHelper.getStatus("Done")`, `replica.status`).
                let json = tandem_script::to_json(v);
                match json["name"].as_str() {
                    Some(n) => n.to_owned(),
                    None => {
                        return Err("setStatus takes a status name or a status with a name".into());
                    }
                }
            }
            [v] => v.to_string(),
            _ => {
                return Err(format!(
                    "setStatus takes (statusName), not {} arguments",
                    args.len()
                ));
            }
        };
        if let Some(table) = self
            .get_text("tableName")
            .filter(|_| self.env.serves_servicenow())
        {
            let (value, _) = self.env.choice(&table, "state", &name)?.ok_or_else(|| {
                let labels = self
                    .env
                    .choices(&table, "state")
                    .map(|c| {
                        c.iter()
                            .map(|(_, l)| l.clone())
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .unwrap_or_default();
                format!("setStatus: '{name}' is not a state of ServiceNow table {table} ({labels})")
            })?;
            self.set("state", Value::str(value));
            return Ok(Value::Null);
        }
        let status: Status = name.trim().parse().map_err(|_| {
            format!(
                "setStatus: '{name}' is not a status of the built-in tracker (To Do, In Progress, Done)"
            )
        })?;
        let mut m = tandem_script::value::MapData::default();
        m.insert(
            tandem_script::value::Key::Str(Rc::from("name")),
            Value::str(status.as_str()),
        );
        self.set("status", Value::map(m));
        Ok(Value::Null)
    }
}

impl HostObject for EntityMethods {
    fn type_name(&self) -> &str {
        "Issue"
    }

    fn get_property(&self, _name: &str) -> Result<Option<Value>, String> {
        Ok(None)
    }

    fn call_method(
        &self,
        name: &str,
        args: &[Value],
        _invoker: &mut dyn Invoker,
    ) -> Option<Result<Value, String>> {
        match name {
            "setStatus" => Some(self.set_status(args)),
            _ => None,
        }
    }

    fn method_names(&self) -> Vec<String> {
        vec!["setStatus".into()]
    }
}

/// The choice of `choices` (value, label) that `name` names: its label in any case, its
/// label without the `"3 - "` number ServiceNow puts before some (urgency's `"3 - Low"` is
/// `"Low"`), or its value.
pub fn find_choice<'a>(
    choices: &'a [(String, String)],
    name: &str,
) -> Option<&'a (String, String)> {
    let name = name.trim();
    let bare = |label: &'a str| -> &'a str {
        match label.split_once(" - ") {
            Some((n, rest)) if n.trim().parse::<i64>().is_ok() => rest.trim(),
            _ => label,
        }
    };
    choices
        .iter()
        .find(|(_, l)| l.eq_ignore_ascii_case(name))
        .or_else(|| {
            choices
                .iter()
                .find(|(_, l)| bare(l).eq_ignore_ascii_case(name))
        })
        .or_else(|| choices.iter().find(|(v, _)| v == name))
}

/// `store(issue)`: Exalate's "persist now", which incoming rules call on a first sync before
/// they make sub-items that need the new item's key. On the built-in tracker the item is
/// created at once from what the rules set so far, linked to the remote item as the twin the
/// first sync makes (so a retry after a later failure updates it, never makes a second one);
/// `issue.key` and `issue.id` then name it, and what the rules set afterwards is applied to it
/// when they end. Called again, or on an item that exists, it does nothing. A Test run creates
/// nothing and says so in its log; outgoing rules may not call it.
pub struct StoreNow {
    env: Env,
    /// The remote item of this first sync; `None` outside an incoming first sync.
    remote_key: Option<String>,
    log: Rc<super::helpers::Debug>,
    /// The key of the item `store` created.
    pub created: std::cell::RefCell<Option<tandem_model::ItemKey>>,
}

impl StoreNow {
    pub fn new(
        env: Env,
        remote_key: Option<String>,
        log: Rc<super::helpers::Debug>,
    ) -> Rc<StoreNow> {
        Rc::new(StoreNow {
            env,
            remote_key,
            log,
            created: std::cell::RefCell::new(None),
        })
    }

    /// The variable `store`, a function.
    pub fn function(self: &Rc<Self>) -> Value {
        Value::Closure(Rc::new(tandem_script::value::Func::MethodRef {
            recv: Some(Value::Host(self.clone())),
            name: Rc::from("store"),
        }))
    }

    fn store(&self, args: &[Value]) -> Result<Value, String> {
        let [issue @ Value::Map(m)] = args else {
            return Err("store takes the local item: store(issue)".into());
        };
        let json = tandem_script::to_json(issue);
        let has_key = json["key"].as_str().is_some_and(|k| !k.is_empty());
        if has_key || self.created.borrow().is_some() {
            return Ok(issue.clone());
        }
        if self.env.serves_servicenow() {
            return Err("store(entity) is not offered on ServiceNow nodes: the record is created when the rules end — see docs/exalate-api.md".into());
        }
        if self.env.simulates_writes() {
            self.log.note(
                "test run: store(issue) created nothing (a real sync creates the item here)".into(),
            );
            return Ok(issue.clone());
        }
        let Some(remote_key) = self.remote_key.clone() else {
            return Err(
                "store(issue) works in the incoming rules of a first sync (it creates the new item at once)"
                    .into(),
            );
        };
        let mut json = json;
        super::item_json::unwrap_custom_fields(&mut json, None);
        let new = super::item_json::new_item_from_json(&json)
            .map_err(|e| format!("store(issue): {e}"))?;
        let item = self.env.create_twinned(&remote_key, new)?;
        let key = item.key.to_string();
        let mut map = m.borrow_mut();
        for k in ["key", "id"] {
            map.insert(
                tandem_script::value::Key::Str(Rc::from(k)),
                Value::str(key.as_str()),
            );
        }
        drop(map);
        *self.created.borrow_mut() = Some(item.key);
        Ok(issue.clone())
    }
}

impl HostObject for StoreNow {
    fn type_name(&self) -> &str {
        "Store"
    }

    fn get_property(&self, _name: &str) -> Result<Option<Value>, String> {
        Ok(None)
    }

    fn call_method(
        &self,
        name: &str,
        args: &[Value],
        _invoker: &mut dyn Invoker,
    ) -> Option<Result<Value, String>> {
        (name == "store").then(|| self.store(args))
    }
}

/// A map the rules see as one of Exalate's objects (`Replica`): messages name it so, and it
/// has no methods of its own.
pub struct Named(pub &'static str);

impl HostObject for Named {
    fn type_name(&self) -> &str {
        self.0
    }

    fn get_property(&self, _name: &str) -> Result<Option<Value>, String> {
        Ok(None)
    }

    fn call_method(
        &self,
        _name: &str,
        _args: &[Value],
        _invoker: &mut dyn Invoker,
    ) -> Option<Result<Value, String>> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_choice_is_found_by_label_in_any_case_by_its_bare_label_or_by_value() {
        let choices: Vec<(String, String)> =
            [("1", "1 - High"), ("2", "2 - Medium"), ("3", "3 - Low")]
                .map(|(v, l)| (v.to_owned(), l.to_owned()))
                .to_vec();
        assert_eq!(
            find_choice(&choices, "low").map(|c| c.0.as_str()),
            Some("3")
        );
        assert_eq!(
            find_choice(&choices, "2 - medium").map(|c| c.0.as_str()),
            Some("2")
        );
        assert_eq!(find_choice(&choices, "1").map(|c| c.0.as_str()), Some("1"));
        assert_eq!(find_choice(&choices, "Urgent"), None);
    }
}
