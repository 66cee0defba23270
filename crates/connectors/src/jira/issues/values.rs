//! Field values as each field's type takes them: a [`FieldValue`] becomes JSON for the
//! field's kind (options checked against the screen's allowed values, users looked up by
//! e-mail, dates checked, rich text converted from Markdown), and an edit compares the JSON it
//! would send with the value so that only changes are written.

use std::collections::BTreeSet;

use serde_json::{Value, json};
use tracing::debug;

use super::{FieldValue, display, markdown_to_rich, rich_to_markdown};
use crate::jira::adf;
use crate::jira::client::{Client, Flavour, Result, str_of};
use crate::jira::error::field_error;
use crate::jira::meta::{Field, FieldKind, kind_of};

impl Client {
    /// The JSON a field takes for `value`; `allowed` are the screen's allowed values, checked
    /// when the screen lists any.
    pub(crate) async fn field_json(
        &self,
        field: &Field,
        value: &FieldValue,
        allowed: Option<&[Value]>,
    ) -> Result<Value> {
        let kind = kind_of(&field.id, &field.schema);
        let wrong = |what: &str| {
            field_error(format!(
                "field `{}` ({}) takes {}, not {what}",
                field.name,
                field.id,
                describe(kind)
            ))
        };
        let allowed = allowed.filter(|a| !a.is_empty());
        let check = |v: &str, key: &str| -> Result<()> {
            let Some(list) = allowed else { return Ok(()) };
            if list
                .iter()
                .any(|a| str_of(a, key) == v || str_of(a, "value") == v || str_of(a, "name") == v)
            {
                Ok(())
            } else {
                let names: Vec<String> = list.iter().map(display).collect();
                Err(field_error(format!(
                    "`{v}` is not a value of field `{}` ({}); it takes: {}",
                    field.name,
                    field.id,
                    names.join(", ")
                )))
            }
        };
        Ok(match (kind, value) {
            (_, FieldValue::Raw(v)) => v.clone(),
            (
                FieldKind::Labels
                | FieldKind::Components
                | FieldKind::Versions
                | FieldKind::Users
                | FieldKind::Options,
                FieldValue::Clear,
            ) => json!([]),
            (_, FieldValue::Clear) => Value::Null,
            (FieldKind::RichText, FieldValue::Markdown(md)) => {
                let c = markdown_to_rich(self.flavour(), md);
                if !c.is_lossless() {
                    debug!(field = %field.id, lossy = ?c.lossy, "Markdown written to Jira lost some formatting.");
                }
                c.value
            }
            (FieldKind::RichText, FieldValue::Text(t)) => match self.flavour() {
                Flavour::Cloud => adf::from_plain_text(t),
                Flavour::DataCenter => Value::String(t.clone()),
            },
            (FieldKind::Text | FieldKind::Other, FieldValue::Text(t) | FieldValue::Markdown(t)) => {
                json!(t)
            }
            (FieldKind::Number, FieldValue::Number(n)) => {
                number(*n).ok_or_else(|| wrong("a number that is not finite"))?
            }
            (FieldKind::Number, FieldValue::Text(t)) => {
                let n: f64 = t.trim().parse().map_err(|_| wrong(&format!("`{t}`")))?;
                number(n).ok_or_else(|| wrong(&format!("`{t}`")))?
            }
            (FieldKind::Date, FieldValue::Date(d) | FieldValue::Text(d)) => {
                let date: jiff::civil::Date = d
                    .trim()
                    .parse()
                    .map_err(|_| wrong(&format!("`{d}` (dates are yyyy-MM-dd)")))?;
                json!(date.to_string())
            }
            (FieldKind::DateTime, FieldValue::DateTime(d) | FieldValue::Text(d)) => {
                let t = crate::jira::poll::parse_time(d)
                    .ok_or_else(|| wrong(&format!("`{d}` (a date and time with an offset)")))?;
                json!(crate::jira::poll::format_time(t))
            }
            (FieldKind::Option, FieldValue::Option(o) | FieldValue::Text(o)) => {
                check(o, "value")?;
                json!({ "value": o })
            }
            (FieldKind::Options, FieldValue::Options(list)) => {
                for o in list {
                    check(o, "value")?;
                }
                Value::Array(list.iter().map(|o| json!({ "value": o })).collect())
            }
            (FieldKind::Cascading, FieldValue::Cascading { parent, child }) => {
                check(parent, "value")?;
                if let (Some(child), Some(list)) = (child, allowed) {
                    let parent_option = list.iter().find(|a| str_of(a, "value") == parent);
                    let children: Vec<&Value> = parent_option
                        .and_then(|p| p.get("children"))
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .collect();
                    if !children.iter().any(|c| str_of(c, "value") == child) {
                        return Err(field_error(format!(
                            "`{child}` is not an option under `{parent}` in field `{}` ({}); it takes: {}",
                            field.name,
                            field.id,
                            children
                                .iter()
                                .map(|c| str_of(c, "value"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        )));
                    }
                }
                match child {
                    Some(c) => json!({ "value": parent, "child": { "value": c } }),
                    None => json!({ "value": parent }),
                }
            }
            (FieldKind::User, FieldValue::User(u) | FieldValue::Text(u)) => {
                self.user_json(u).await?
            }
            (FieldKind::Users, FieldValue::Users(list)) => {
                let mut out = Vec::new();
                for u in list {
                    out.push(self.user_json(u).await?);
                }
                Value::Array(out)
            }
            (FieldKind::Labels, FieldValue::Labels(list)) => {
                if let Some(bad) = list
                    .iter()
                    .find(|l| l.is_empty() || l.contains(char::is_whitespace))
                {
                    return Err(field_error(format!(
                        "label `{bad}` cannot be used: Jira labels hold no spaces"
                    )));
                }
                json!(list)
            }
            (FieldKind::Components | FieldKind::Versions, FieldValue::Names(list)) => {
                for n in list {
                    check(n, "name")?;
                }
                Value::Array(list.iter().map(|n| json!({ "name": n })).collect())
            }
            (FieldKind::Priority | FieldKind::Resolution, FieldValue::Names(list))
                if list.len() == 1 =>
            {
                check(&list[0], "name")?;
                json!({ "name": list[0] })
            }
            (FieldKind::Priority | FieldKind::Resolution, FieldValue::Text(n)) => {
                check(n, "name")?;
                json!({ "name": n })
            }
            (FieldKind::Parent, FieldValue::Parent(k) | FieldValue::Text(k)) => json!({ "key": k }),
            (_, other) => return Err(wrong(&format!("{other:?}"))),
        })
    }

    async fn user_json(&self, who: &str) -> Result<Value> {
        if !who.contains('@') {
            return Ok(match self.flavour() {
                Flavour::Cloud => json!({ "accountId": who }),
                Flavour::DataCenter => json!({ "name": who }),
            });
        }
        let user = self.user_by_email(who).await?.ok_or_else(|| {
            field_error(format!(
                "no Jira user has the e-mail `{who}` (or the integration user may not see it)"
            ))
        })?;
        Ok(user.to_json(self.flavour()))
    }
}

/// A number as JSON: whole numbers without a fraction (`5`, not `5.0`).
fn number(n: f64) -> Option<Value> {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        return Some(json!(n as i64));
    }
    serde_json::Number::from_f64(n).map(Value::Number)
}

fn describe(kind: FieldKind) -> &'static str {
    match kind {
        FieldKind::Text => "text",
        FieldKind::RichText => "rich text (Markdown or text)",
        FieldKind::Number => "a number",
        FieldKind::Date => "a date",
        FieldKind::DateTime => "a date and time",
        FieldKind::Option => "one option",
        FieldKind::Options => "a list of options",
        FieldKind::Cascading => "a parent option and a child option",
        FieldKind::User => "a user",
        FieldKind::Users => "a list of users",
        FieldKind::Labels => "labels",
        FieldKind::Components => "component names",
        FieldKind::Versions => "version names",
        FieldKind::Priority => "a priority name",
        FieldKind::Resolution => "a resolution name",
        FieldKind::Parent => "a parent issue key",
        FieldKind::Other => "a raw JSON value",
    }
}

/// Whether writing `new` (the JSON about to be sent) would leave the field as `now` has it.
pub(super) fn same_value(flavour: Flavour, kind: FieldKind, now: &Value, new: &Value) -> bool {
    let empty = |v: &Value| {
        v.is_null() || v.as_array().is_some_and(Vec::is_empty) || v.as_str() == Some("")
    };
    if empty(now) && empty(new) {
        return true;
    }
    let ident = |v: &Value| -> String {
        ["accountId", "name", "key", "value", "id"]
            .iter()
            .find_map(|k| v.get(*k).and_then(Value::as_str))
            .unwrap_or_default()
            .to_owned()
    };
    let set = |v: &Value, f: &dyn Fn(&Value) -> String| -> BTreeSet<String> {
        v.as_array().into_iter().flatten().map(f).collect()
    };
    match kind {
        FieldKind::RichText => {
            rich_to_markdown(flavour, now).value == rich_to_markdown(flavour, new).value
        }
        FieldKind::Number => now.as_f64().is_some() && now.as_f64() == new.as_f64(),
        FieldKind::Option | FieldKind::Priority | FieldKind::Resolution | FieldKind::Parent => {
            !empty(now) && ident(now) == ident(new) && !ident(new).is_empty()
        }
        FieldKind::User => !empty(now) && ident(now) == ident(new),
        FieldKind::Cascading => {
            str_of(now, "value") == str_of(new, "value")
                && now.get("child").map(|c| str_of(c, "value"))
                    == new.get("child").map(|c| str_of(c, "value"))
        }
        FieldKind::Options | FieldKind::Users | FieldKind::Components | FieldKind::Versions => {
            set(now, &ident) == set(new, &ident)
        }
        FieldKind::Labels => {
            let s = |v: &Value| set(v, &|l: &Value| l.as_str().unwrap_or_default().to_owned());
            s(now) == s(new)
        }
        _ => now == new,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unchanged_values_are_recognised() {
        let cloud = Flavour::Cloud;
        assert!(same_value(
            cloud,
            FieldKind::Option,
            &json!({"value": "Sev 2", "id": "1"}),
            &json!({"value": "Sev 2"})
        ));
        assert!(!same_value(
            cloud,
            FieldKind::Option,
            &json!({"value": "Sev 2"}),
            &json!({"value": "Sev 3"})
        ));
        assert!(same_value(
            cloud,
            FieldKind::Labels,
            &json!(["b", "a"]),
            &json!(["a", "b"])
        ));
        assert!(same_value(
            cloud,
            FieldKind::Components,
            &json!([{"name": "Backend", "id": "1"}]),
            &json!([{"name": "Backend"}])
        ));
        assert!(same_value(cloud, FieldKind::Number, &json!(3), &json!(3.0)));
        assert!(same_value(
            cloud,
            FieldKind::Labels,
            &Value::Null,
            &json!([])
        ));
        assert!(same_value(
            cloud,
            FieldKind::Cascading,
            &json!({"value": "EMEA", "id": "1", "child": {"value": "Berlin", "id": "2"}}),
            &json!({"value": "EMEA", "child": {"value": "Berlin"}})
        ));
        assert!(same_value(
            cloud,
            FieldKind::RichText,
            &adf::from_plain_text("hi"),
            &adf::from_markdown("hi").value
        ));
    }
}
