//! A built-in item as sync rules see it (`issue` in the scripts, with the names Exalate's Jira
//! scripts use: `issue.summary`, `issue.status.name`, `issue.assignee.displayName`,
//! `issue.customFields`), and the way back: what the incoming rules left in `issue` becomes an
//! [`ItemPatch`] or a [`NewItem`].

use serde_json::{Map, Value, json};

pub use crate::schema::FieldError;
use tandem_model::{
    CustomFields, Item, ItemKey, ItemPatch, ItemType, NewItem, Person, Priority, ProjectKey, Status,
};

/// The item as a JSON object for the scripts.
pub fn item_json(item: &Item) -> Value {
    json!({
        // The built-in tracker's items are known by their keys: the key is the id too.
        "id": item.key.to_string(),
        "key": item.key.to_string(),
        "projectKey": item.key.project.to_string(),
        "summary": item.summary,
        "description": item.description,
        "status": {"name": item.status.as_str()},
        "priority": {"name": item.priority.as_str()},
        "assignee": item.assignee.as_ref().map(person_json),
        "reporter": item.reporter.as_ref().map(person_json),
        "labels": item.labels,
        // Exalate's three names of the type: `type` and `issueType` objects, `typeName` text.
        "type": {"name": item.item_type.as_str()},
        "issueType": {"name": item.item_type.as_str()},
        "typeName": item.item_type.as_str(),
        // The parent's id, which is its key here.
        "parentId": item.parent.as_ref().map(ToString::to_string),
        "customFields": Value::Object(item.custom_fields.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
        "comments": item.comments.iter().map(comment_json).collect::<Vec<_>>(),
        "attachments": item.attachments.iter().map(|a| json!({
            "id": a.id.to_string(),
            "filename": a.filename,
            "mimetype": a.mime_type,
            "filesize": a.size,
            "hash": a.sha256,
        })).collect::<Vec<_>>(),
        "created": item.created.to_string(),
        "updated": item.updated.to_string(),
    })
}

/// Custom fields as the rules see them: each `customFields."Name"` is an object whose
/// `value` is the field's value, as in Exalate (`issue.customFields."Tier".value`). Outside
/// the rules (the item, the replica on the wire, conflicts) a custom field is its raw value;
/// [`wrap_custom_fields`] and [`unwrap_custom_fields`] translate at the rules' edge.
///
/// Wraps each field of `v.customFields` (when it is a map) as `{value}`, and adds `names` the
/// rules mention that it lacks, as `{value: null}`, so that `….value = x` works for a field
/// the item does not have yet. With `create`, a missing `customFields` is made for them.
pub fn wrap_custom_fields(v: &mut Value, names: &[String], create: bool) {
    let Some(obj) = v.as_object_mut() else {
        return;
    };
    if !obj.contains_key("customFields") || obj["customFields"].is_null() {
        if !create || names.is_empty() {
            return;
        }
        obj.insert("customFields".into(), json!({}));
    }
    let Some(fields) = obj.get_mut("customFields").and_then(Value::as_object_mut) else {
        return;
    };
    for value in fields.values_mut() {
        *value = json!({ "value": value.take() });
    }
    for name in names {
        if !fields.contains_key(name) {
            fields.insert(name.clone(), json!({ "value": null }));
        }
    }
}

/// Custom fields of a replica received (`replica`, `previous`) as the rules see them: each
/// field the remote sent is wrapped as `{value}`; one it did not send is absent, so that
/// `replica.customFields."X"` and `replica.customFields."X"?.value` read null, as in Exalate.
/// `customFields` itself is always a map.
pub fn wrap_received_custom_fields(v: &mut Value) {
    let Some(obj) = v.as_object_mut() else {
        return;
    };
    if !obj.get("customFields").is_some_and(Value::is_object) {
        obj.insert("customFields".into(), json!({}));
    }
    wrap_custom_fields(v, &[], false);
}

/// A custom field wrapper's value (`{value: X}` → X, through any nesting, as when a rule
/// assigns a wrapper to another's `value`); anything else as it is. Never the wrapper itself:
/// no field is ever written as `[value:null]`.
pub fn field_value(v: &Value) -> &Value {
    let mut v = v;
    while let Value::Object(o) = v
        && o.len() == 1
        && let Some(inner) = o.get("value")
    {
        v = inner;
    }
    v
}

/// The way back from [`wrap_custom_fields`]: a field left as an object whose only key is
/// `value` becomes that value; anything else (a raw value a rule assigned,
/// `issue.customFields.Tier = "Gold"`) stays as it is. A field that is null and that `keep`
/// does not have is dropped (a name the rules mention but left empty); one `keep` has stays
/// null (the rules cleared it).
pub fn unwrap_custom_fields(v: &mut Value, keep: Option<&Value>) {
    let Some(fields) = v
        .as_object_mut()
        .and_then(|o| o.get_mut("customFields"))
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    for value in fields.values_mut() {
        *value = field_value(value).clone();
    }
    fields.retain(|name, value| {
        !value.is_null() || keep.is_some_and(|k| !k["customFields"][name.as_str()].is_null())
    });
}

/// An empty item for a first sync: the incoming rules fill it.
pub fn blank_item_json() -> Value {
    json!({
        "id": null,
        "key": null,
        "projectKey": null,
        "summary": "",
        "description": "",
        "status": {"name": Status::ToDo.as_str()},
        "priority": {"name": Priority::Medium.as_str()},
        "assignee": null,
        "reporter": null,
        "labels": [],
        "type": null,
        "issueType": null,
        "typeName": null,
        "parentId": null,
        "customFields": {},
        "comments": [],
        "attachments": [],
    })
}

/// A local comment as the rules see it. A comment sync copied from a remote one also says
/// where it came from (`syncedFrom`, the remote's short name) and who wrote it there
/// (`originalAuthor`, like `author`), whoever it was written as here.
fn comment_json(c: &tandem_model::Comment) -> Value {
    let mut comment = json!({
        "id": c.id.to_string(),
        "body": c.body,
        "author": person_json(&c.author),
        "created": c.created.to_string(),
        "internal": c.internal,
    });
    if let Some(origin) = &c.origin {
        comment["syncedFrom"] = json!(origin.synced_from);
        comment["originalAuthor"] = origin.author.as_ref().map_or(Value::Null, person_json);
    }
    comment
}

fn person_json(p: &Person) -> Value {
    json!({"displayName": p.name, "email": p.email})
}

fn bad(field: &'static str, problem: impl Into<String>) -> FieldError {
    FieldError {
        field,
        problem: problem.into(),
    }
}

fn text(obj: &Map<String, Value>, field: &'static str) -> Result<Option<String>, FieldError> {
    // A custom field's wrapper assigned to a text field gives its value, never its text.
    match obj.get(field).map(field_value) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(String::new())),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(bad(field, format!("expected text, got {other}"))),
    }
}

/// `{"name": "Done"}` or `"Done"`.
fn named(obj: &Map<String, Value>, field: &'static str) -> Result<Option<String>, FieldError> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Object(o)) => match o.get("name") {
            Some(Value::String(s)) => Ok(Some(s.clone())),
            None | Some(Value::Null) => Ok(None),
            Some(other) => Err(bad(field, format!("name must be text, got {other}"))),
        },
        Some(other) => Err(bad(field, format!("expected a name, got {other}"))),
    }
}

fn status(obj: &Map<String, Value>) -> Result<Option<Status>, FieldError> {
    named(obj, "status")?
        .map(|name| {
            name.parse::<Status>().map_err(|_| {
                bad(
                    "status",
                    format!("'{name}' is not a status here (To Do, In Progress, Done)"),
                )
            })
        })
        .transpose()
}

fn priority(obj: &Map<String, Value>) -> Result<Option<Priority>, FieldError> {
    named(obj, "priority")?
        .map(|name| {
            name.parse::<Priority>().map_err(|_| {
                bad(
                    "priority",
                    format!("'{name}' is not a priority here (Highest, High, Medium, Low, Lowest)"),
                )
            })
        })
        .transpose()
}

/// `{"displayName", "email"}`, a bare name, or null (nobody). `None`: not present.
fn person(
    obj: &Map<String, Value>,
    field: &'static str,
) -> Result<Option<Option<Person>>, FieldError> {
    match obj.get(field) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(name)) if name.trim().is_empty() => Ok(Some(None)),
        Some(Value::String(name)) => Ok(Some(Some(Person {
            name: name.clone(),
            email: None,
        }))),
        Some(Value::Object(o)) => {
            let name = o
                .get("displayName")
                .or_else(|| o.get("name"))
                .and_then(Value::as_str)
                .unwrap_or_default();
            let email = o.get("email").and_then(Value::as_str).map(str::to_owned);
            if name.trim().is_empty() && email.is_none() {
                return Ok(Some(None));
            }
            Ok(Some(Some(Person {
                name: if name.trim().is_empty() {
                    email.clone().unwrap_or_default()
                } else {
                    name.to_owned()
                },
                email,
            })))
        }
        Some(other) => Err(bad(field, format!("expected a person, got {other}"))),
    }
}

fn labels(obj: &Map<String, Value>) -> Result<Option<Vec<String>>, FieldError> {
    match obj.get("labels") {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(Vec::new())),
        Some(Value::Array(values)) => values
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.clone()),
                Value::Object(o) => o
                    .get("label")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .ok_or_else(|| bad("labels", "a label must be text")),
                other => Err(bad("labels", format!("a label must be text, got {other}"))),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(|mut l| {
                l.sort();
                l.dedup();
                Some(l)
            }),
        Some(other) => Err(bad("labels", format!("expected a list, got {other}"))),
    }
}

/// The type the rules left, under any of Exalate's names (`typeName`, `type`, `issueType`:
/// the one that differs from `current` wins, so a rule may set any of them); `None` when none
/// is set or changed.
fn item_type(
    obj: &Map<String, Value>,
    current: Option<ItemType>,
) -> Result<Option<ItemType>, FieldError> {
    for field in ["typeName", "type", "issueType"] {
        let Some(name) = named(obj, field)? else {
            continue;
        };
        let t: ItemType = name.parse().map_err(|_| {
            bad(
                field,
                format!("'{name}' is not an item type here (Task, Bug, Story, Epic, Sub-task)"),
            )
        })?;
        if Some(t) != current {
            return Ok(Some(t));
        }
    }
    Ok(None)
}

/// `parentId` as the rules left it: `Some(None)` for null, `None` when absent.
fn parent(obj: &Map<String, Value>) -> Result<Option<Option<ItemKey>>, FieldError> {
    match obj.get("parentId").map(field_value) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(Some(None)),
        Some(Value::String(s)) => s
            .trim()
            .parse()
            .map(|k| Some(Some(k)))
            .map_err(|_| bad("parentId", format!("'{s}' is not the key of an item here"))),
        Some(other) => Err(bad(
            "parentId",
            format!("expected an item key, got {other}"),
        )),
    }
}

/// The custom fields the rules left: a map of name to value, a null value meaning "no value".
fn custom_fields(obj: &Map<String, Value>) -> Result<Option<&Map<String, Value>>, FieldError> {
    match obj.get("customFields") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(o)) => Ok(Some(o)),
        Some(other) => Err(bad(
            "customFields",
            format!("expected a map of field name to value, got {other}"),
        )),
    }
}

/// The custom fields the rules changed, as the item patch merges them: a changed value, or
/// null for a field the item has and the rules cleared. A field the rules left out is kept.
fn custom_fields_patch(
    item: &Item,
    obj: &Map<String, Value>,
) -> Result<Option<CustomFields>, FieldError> {
    let Some(after) = custom_fields(obj)? else {
        return Ok(None);
    };
    let mut changed = CustomFields::new();
    for (name, value) in after {
        match (value, item.custom_fields.get(name)) {
            (Value::Null, None) => {}
            (value, Some(old)) if value == old => {}
            (value, _) => {
                changed.insert(name.clone(), value.clone());
            }
        }
    }
    Ok((!changed.is_empty()).then_some(changed))
}

fn object(after: &Value) -> Result<&Map<String, Value>, FieldError> {
    after.as_object().ok_or_else(|| {
        bad(
            "",
            "the rules replaced the issue with something that is not an item",
        )
    })
}

/// The changes the rules made to `item`: only fields whose value differs.
pub fn patch_from_json(item: &Item, after: &Value) -> Result<ItemPatch, FieldError> {
    let obj = object(after)?;
    let mut patch = ItemPatch::default();
    if let Some(s) = text(obj, "summary")?
        && s != item.summary
    {
        patch.summary = Some(s);
    }
    if let Some(d) = text(obj, "description")?
        && d != item.description
    {
        patch.description = Some(d);
    }
    if let Some(s) = status(obj)?
        && s != item.status
    {
        patch.status = Some(s);
    }
    if let Some(p) = priority(obj)?
        && p != item.priority
    {
        patch.priority = Some(p);
    }
    if let Some(a) = person(obj, "assignee")?
        && a != item.assignee
    {
        patch.assignee = Some(a);
    }
    if let Some(r) = person(obj, "reporter")?
        && r != item.reporter
    {
        patch.reporter = Some(r);
    }
    if let Some(l) = labels(obj)?
        && l != item.labels
    {
        patch.labels = Some(l);
    }
    patch.custom_fields = custom_fields_patch(item, obj)?;
    patch.item_type = item_type(obj, Some(item.item_type))?;
    if let Some(p) = parent(obj)?
        && p != item.parent
    {
        if p.as_ref() == Some(&item.key) {
            return Err(bad(
                "parentId",
                format!("{} cannot be its own parent", item.key),
            ));
        }
        patch.parent = Some(p);
    }
    Ok(patch)
}

/// The item a first sync creates; `projectKey` must be set by the rules.
pub fn new_item_from_json(after: &Value) -> Result<NewItem, FieldError> {
    let obj = object(after)?;
    let project: ProjectKey = match obj.get("projectKey") {
        Some(Value::String(key)) => key
            .parse()
            .map_err(|_| bad("projectKey", format!("'{key}' is not a project key")))?,
        _ => {
            return Err(bad(
                "projectKey",
                "is not set: a first sync must say which project the new item goes to (issue.projectKey = \"KEY\")",
            ));
        }
    };
    let summary = text(obj, "summary")?.unwrap_or_default();
    let mut item = NewItem::new(project, summary);
    item.description = text(obj, "description")?.unwrap_or_default();
    if let Some(s) = status(obj)? {
        item.status = s;
    }
    if let Some(p) = priority(obj)? {
        item.priority = p;
    }
    item.assignee = person(obj, "assignee")?.flatten();
    item.reporter = person(obj, "reporter")?.flatten();
    item.labels = labels(obj)?.unwrap_or_default();
    if let Some(t) = item_type(obj, None)? {
        item.item_type = t;
    }
    item.parent = parent(obj)?.flatten();
    item.custom_fields = custom_fields(obj)?
        .map(|fields| {
            fields
                .iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    Ok(item)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item() -> Item {
        Item {
            key: "SUP-7".parse().unwrap(),
            summary: "Printer on fire".into(),
            description: "Third floor".into(),
            status: Status::ToDo,
            priority: Priority::High,
            assignee: None,
            reporter: Some(Person {
                name: "Ana".into(),
                email: Some("ana@example.com".into()),
            }),
            labels: vec!["hardware".into()],
            custom_fields: [("Tier".to_owned(), json!("Gold"))].into_iter().collect(),
            item_type: ItemType::Task,
            parent: None,
            comments: vec![],
            attachments: vec![],
            created: jiff::Timestamp::UNIX_EPOCH,
            updated: jiff::Timestamp::UNIX_EPOCH,
            version: 3,
        }
    }

    #[test]
    fn an_item_reads_with_exalate_names() {
        let v = item_json(&item());
        assert_eq!(v["key"], "SUP-7");
        assert_eq!(v["projectKey"], "SUP");
        assert_eq!(v["status"]["name"], "To Do");
        assert_eq!(v["priority"]["name"], "High");
        assert_eq!(v["reporter"]["displayName"], "Ana");
        assert_eq!(v["customFields"]["Tier"], "Gold");
    }

    #[test]
    fn an_unchanged_item_is_an_empty_patch() {
        let i = item();
        assert_eq!(
            patch_from_json(&i, &item_json(&i)).unwrap(),
            ItemPatch::default()
        );
    }

    #[test]
    fn changed_fields_become_the_patch() {
        let i = item();
        let mut v = item_json(&i);
        v["summary"] = json!("Printer fixed");
        v["status"] = json!("Done");
        v["assignee"] = json!({"displayName": "Bo"});
        v["labels"] = json!(["b", "a", "a"]);
        let patch = patch_from_json(&i, &v).unwrap();
        assert_eq!(patch.summary.as_deref(), Some("Printer fixed"));
        assert_eq!(patch.status, Some(Status::Done));
        assert_eq!(patch.assignee.unwrap().unwrap().name, "Bo");
        assert_eq!(patch.labels.unwrap(), vec!["a", "b"]);
        assert!(patch.description.is_none());
    }

    #[test]
    fn a_custom_field_wrapper_in_a_text_field_gives_its_value_never_its_text() {
        let i = item();
        let mut v = item_json(&i);
        // `issue.summary = replica.customFields.Title`, `issue.description = … .Missing`
        v["summary"] = json!({"value": "From a field"});
        v["description"] = json!({"value": {"value": null}});
        let patch = patch_from_json(&i, &v).unwrap();
        assert_eq!(patch.summary.as_deref(), Some("From a field"));
        assert_eq!(patch.description.as_deref(), Some(""));
        // Inside customFields, nested wrappers unwrap to the value.
        let mut fields =
            json!({"customFields": {"A": {"value": {"value": "x"}}, "B": {"value": "y", "id": 1}}});
        unwrap_custom_fields(&mut fields, None);
        assert_eq!(
            fields["customFields"],
            json!({"A": "x", "B": {"value": "y", "id": 1}})
        );
    }

    #[test]
    fn a_wrong_value_names_its_field() {
        let i = item();
        let mut v = item_json(&i);
        v["status"] = json!({"name": "Closed-ish"});
        let e = patch_from_json(&i, &v).unwrap_err();
        assert_eq!(e.field, "status");
        assert!(e.to_string().contains("Closed-ish"), "{e}");
        v["status"] = json!("Done");
        v["labels"] = json!("one");
        assert_eq!(patch_from_json(&i, &v).unwrap_err().field, "labels");
    }

    #[test]
    fn custom_fields_are_objects_with_a_value_inside_the_rules_only() {
        let mut v = item_json(&item());
        wrap_custom_fields(&mut v, &["Team".to_owned()], true);
        assert_eq!(
            v["customFields"],
            json!({"Tier": {"value": "Gold"}, "Team": {"value": null}})
        );
        // A rule sets one through `.value`, another assigns a raw value.
        v["customFields"]["Team"]["value"] = json!("Ops");
        let before = item_json(&item());
        let mut raw = v.clone();
        raw["customFields"]["Tier"] = json!("Silver");
        unwrap_custom_fields(&mut raw, Some(&before));
        assert_eq!(
            raw["customFields"],
            json!({"Tier": "Silver", "Team": "Ops"})
        );
        // A name the rules mentioned and left empty is dropped; a field cleared stays null.
        let mut untouched = item_json(&item());
        wrap_custom_fields(&mut untouched, &["Team".to_owned()], true);
        untouched["customFields"]["Tier"]["value"] = Value::Null;
        unwrap_custom_fields(&mut untouched, Some(&before));
        assert_eq!(untouched["customFields"], json!({"Tier": null}));
        // A raw value that is itself a map with more than `value` stays whole.
        let mut option = json!({"customFields": {"Color": {"value": "Red", "id": 3}}});
        unwrap_custom_fields(&mut option, None);
        assert_eq!(
            option["customFields"]["Color"],
            json!({"value": "Red", "id": 3})
        );
        // Without `create`, nothing is added where there are no custom fields (a ServiceNow
        // record).
        let mut record = json!({"short_description": "x"});
        wrap_custom_fields(&mut record, &["Tier".to_owned()], false);
        assert_eq!(record, json!({"short_description": "x"}));
    }

    #[test]
    fn a_patch_changes_set_and_cleared_custom_fields_only() {
        let i = item();
        let mut v = item_json(&i);
        v["customFields"] = json!({"Tier": "Gold", "Team": "Ops"});
        let patch = patch_from_json(&i, &v).unwrap();
        assert_eq!(
            patch.custom_fields.unwrap(),
            [("Team".to_owned(), json!("Ops"))]
                .into_iter()
                .collect::<CustomFields>()
        );
        v["customFields"] = json!({"Tier": null, "Never": null});
        let patch = patch_from_json(&i, &v).unwrap();
        assert_eq!(
            patch.custom_fields.unwrap(),
            [("Tier".to_owned(), Value::Null)]
                .into_iter()
                .collect::<CustomFields>()
        );
        let mut applied = i.clone();
        patch_from_json(&i, &v).unwrap().apply(&mut applied);
        assert!(
            applied.custom_fields.is_empty(),
            "{:?}",
            applied.custom_fields
        );
    }

    #[test]
    fn a_first_sync_needs_a_project() {
        let mut v = blank_item_json();
        v["summary"] = json!("From the other side");
        let e = new_item_from_json(&v).unwrap_err();
        assert_eq!(e.field, "projectKey");
        v["projectKey"] = json!("ENG");
        let new = new_item_from_json(&v).unwrap();
        assert_eq!(new.project.to_string(), "ENG");
        assert_eq!(new.summary, "From the other side");
        assert_eq!(new.status, Status::ToDo);
    }
}
