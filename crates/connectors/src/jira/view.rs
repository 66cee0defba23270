//! A mirrored Jira issue as sync rules see it, with the names Exalate's Jira scripts use
//! (`issue.key`, `issue.status.name`, `issue.assignee.accountId`, `issue.issueType.name`,
//! `issue.customFields."Severity".value`, `issue.fixVersions`, …), and the way back: what the
//! incoming rules changed in that view becomes an [`ItemPatch`] (or a [`NewItem`] on a first
//! sync). Only what differs from the view the rules were given is taken, so a field the rules
//! did not touch is never rewritten in another shape.

use serde_json::{Map, Value, json};
use tandem_model::{CustomFields, Item, ItemPatch, ItemType, NewItem, Person, Priority, Status};

use super::schema::{JiraSchema, Projects, item_type_of, priority_of, status_category};
use crate::builtin::field_value;
use crate::schema::FieldError;

/// The keys of the view that are not `customFields`: system fields the view shows under
/// Exalate's names, or that the rules cannot set.
fn is_system(key: &str) -> bool {
    super::schema::is_system(key)
}

fn bad(field: &'static str, problem: impl Into<String>) -> FieldError {
    FieldError {
        field,
        problem: problem.into(),
    }
}

fn name_in(v: &Value) -> Option<&str> {
    match v {
        Value::String(s) => Some(s.as_str()),
        Value::Object(o) => ["name", "value", "key"]
            .iter()
            .find_map(|k| o.get(*k).and_then(Value::as_str)),
        _ => None,
    }
}

/// A Jira user as the scripts see one: `displayName`, `email`, and Cloud's `accountId` or Data
/// Center's `key` and `username`.
fn user_json(raw: &Value, person: Option<&Person>) -> Value {
    let Some(p) = person else {
        return Value::Null;
    };
    let mut out = json!({"displayName": p.name, "email": p.email});
    // The Jira user only where it is the same person the item names.
    if super::schema::person_in(raw).as_ref() == Some(p) {
        for (from, to) in [
            ("accountId", "accountId"),
            ("key", "key"),
            ("name", "username"),
            ("active", "active"),
        ] {
            if let Some(v) = raw.get(from) {
                out[to] = v.clone();
            }
        }
        if out.get("key").is_none()
            && let Some(id) = raw.get("accountId")
        {
            out["key"] = id.clone();
        }
    }
    out
}

/// A named object as the view shows it: Jira's own where it says the same as the item
/// (`consistent`), else `{name}`.
fn named_json(raw: Option<&Value>, consistent: bool, name: &str) -> Value {
    match raw {
        Some(Value::Object(o)) if consistent => {
            let mut o = o.clone();
            o.remove("value");
            Value::Object(o)
        }
        _ => json!({ "name": name }),
    }
}

fn names_json(raw: Option<&Value>) -> Value {
    Value::Array(
        raw.and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|v| match v {
                Value::Object(o) => {
                    let mut out = Map::new();
                    for k in ["id", "name", "description", "released", "releaseDate"] {
                        if let Some(x) = o.get(k) {
                            out.insert(k.into(), x.clone());
                        }
                    }
                    Value::Object(out)
                }
                other => json!({ "name": other }),
            })
            .collect(),
    )
}

/// The issue as scripts see it.
pub fn item_json(item: &Item, project: &str) -> Value {
    let cf = &item.custom_fields;
    let raw = |k: &str| cf.get(k);
    let status = raw("status");
    let status_json = named_json(
        status,
        status.is_some_and(|s| status_category(s) == item.status),
        item.status.as_str(),
    );
    let priority = raw("priority");
    let priority_json = named_json(
        priority,
        priority
            .and_then(name_in)
            .is_some_and(|p| priority_of(p) == item.priority),
        item.priority.as_str(),
    );
    let issue_type = raw("issuetype");
    let type_json = named_json(
        issue_type,
        issue_type
            .and_then(name_in)
            .is_some_and(|t| item_type_of(t) == item.item_type),
        item.item_type.as_str(),
    );
    let type_name = type_json["name"].clone();
    let jira_project = raw("project");
    let project_key = jira_project
        .and_then(|p| p.get("key"))
        .and_then(Value::as_str)
        .unwrap_or(project);
    let parent = raw("parent");
    let text = |k: &str| raw(k).cloned().unwrap_or(Value::Null);
    let custom: Map<String, Value> = cf
        .iter()
        .filter(|(k, _)| !is_system(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let comment = |c: &tandem_model::Comment| {
        let mut v = json!({
            "id": c.id.to_string(),
            "body": c.body,
            "author": {"displayName": c.author.name, "email": c.author.email},
            "created": c.created.to_string(),
            "internal": c.internal,
        });
        if let Some(origin) = &c.origin {
            v["syncedFrom"] = json!(origin.synced_from);
            v["originalAuthor"] = origin.author.as_ref().map_or(
                Value::Null,
                |a| json!({"displayName": a.name, "email": a.email}),
            );
        }
        v
    };
    json!({
        "id": raw("id").cloned().unwrap_or(Value::Null),
        "key": raw("issuekey").cloned().unwrap_or_else(|| json!(item.key.to_string())),
        "projectKey": project_key,
        "project": {
            "key": project_key,
            "name": jira_project.and_then(|p| p.get("name")).cloned().unwrap_or(Value::Null),
            "id": jira_project.and_then(|p| p.get("id")).cloned().unwrap_or(Value::Null),
        },
        "summary": item.summary,
        "description": item.description,
        "status": status_json,
        "priority": priority_json,
        "labels": item.labels,
        "assignee": user_json(raw("assignee").unwrap_or(&Value::Null), item.assignee.as_ref()),
        "reporter": user_json(raw("reporter").unwrap_or(&Value::Null), item.reporter.as_ref()),
        "creator": raw("creator").and_then(|c| {
            super::schema::person_in(c).map(|p| user_json(c, Some(&p)))
        }),
        "issueType": type_json.clone(),
        "type": type_json,
        "typeName": type_name,
        "parentId": parent.and_then(|p| p.get("id")).cloned().unwrap_or(Value::Null),
        "parentKey": parent.and_then(|p| p.get("key")).cloned().unwrap_or(Value::Null),
        "components": names_json(raw("components")),
        "fixVersions": names_json(raw("fixVersions")),
        "affectedVersions": names_json(raw("versions")),
        "resolution": raw("resolution").map_or(Value::Null, |r| named_json(Some(r), true, "")),
        "dueDate": text("duedate"),
        "environment": text("environment"),
        "created": raw("created").cloned().unwrap_or_else(|| json!(item.created.to_string())),
        "updated": raw("updated").cloned().unwrap_or_else(|| json!(item.updated.to_string())),
        "resolutionDate": text("resolutiondate"),
        "customFields": custom,
        "comments": item.comments.iter().map(comment).collect::<Vec<_>>(),
        "attachments": item.attachments.iter().map(|a| json!({
            "id": a.id.to_string(),
            "filename": a.filename,
            "mimetype": a.mime_type,
            "filesize": a.size,
            "hash": a.sha256,
        })).collect::<Vec<_>>(),
    })
}

/// An issue that does not exist yet, in the first synced project, for a first sync.
pub fn blank_item_json(projects: &Projects) -> Value {
    let project = projects.default_collection();
    json!({
        "id": null,
        "key": null,
        "projectKey": project,
        "project": {"key": project, "name": null, "id": null},
        "summary": "",
        "description": "",
        "status": {"name": Status::ToDo.as_str()},
        "priority": {"name": Priority::Medium.as_str()},
        "labels": [],
        "assignee": null,
        "reporter": null,
        "creator": null,
        "issueType": {"name": ItemType::Task.as_str()},
        "type": {"name": ItemType::Task.as_str()},
        "typeName": ItemType::Task.as_str(),
        "parentId": null,
        "parentKey": null,
        "components": [],
        "fixVersions": [],
        "affectedVersions": [],
        "resolution": null,
        "dueDate": null,
        "environment": null,
        "created": null,
        "updated": null,
        "resolutionDate": null,
        "customFields": {},
        "comments": [],
        "attachments": [],
    })
}

/// What the rules changed, as the item's fields and its kept Jira fields.
#[derive(Debug, Default)]
struct Draft {
    summary: Option<String>,
    description: Option<String>,
    status: Option<Status>,
    priority: Option<Priority>,
    labels: Option<Vec<String>>,
    assignee: Option<Option<Person>>,
    reporter: Option<Option<Person>>,
    item_type: Option<ItemType>,
    /// Kept fields to set (null: clear).
    fields: CustomFields,
}

fn text(v: &Value, field: &'static str) -> Result<String, FieldError> {
    match field_value(v) {
        Value::Null => Ok(String::new()),
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(bad(field, format!("expected text, got {other}"))),
    }
}

/// `{"name": "Done"}` or `"Done"`; `None` for null or an empty name.
fn name(v: &Value, field: &'static str) -> Result<Option<String>, FieldError> {
    match field_value(v) {
        Value::Null => Ok(None),
        Value::String(s) if s.trim().is_empty() => Ok(None),
        Value::String(s) => Ok(Some(s.trim().to_owned())),
        Value::Object(o) => match o.get("name").or_else(|| o.get("value")) {
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.trim().to_owned())),
            None | Some(Value::Null) | Some(Value::String(_)) => Ok(None),
            Some(other) => Err(bad(field, format!("name must be text, got {other}"))),
        },
        other => Err(bad(field, format!("expected a name, got {other}"))),
    }
}

/// A user the rules left: an e-mail, or an object with `email`, `displayName`, `accountId`,
/// `key` or `username`; null for nobody. Kept as Jira names a user, so the connector writes it
/// by e-mail, else by account id or user name.
fn user(v: &Value, field: &'static str) -> Result<(Value, Option<Person>), FieldError> {
    let mut raw = Map::new();
    match field_value(v) {
        Value::Null => return Ok((Value::Null, None)),
        Value::String(s) if s.trim().is_empty() => return Ok((Value::Null, None)),
        Value::String(s) if s.contains('@') => {
            raw.insert("emailAddress".into(), json!(s.trim()));
        }
        Value::String(s) => {
            raw.insert("displayName".into(), json!(s.trim()));
        }
        Value::Object(o) => {
            for (from, to) in [
                ("email", "emailAddress"),
                ("emailAddress", "emailAddress"),
                ("displayName", "displayName"),
                ("accountId", "accountId"),
                ("username", "name"),
                ("name", "name"),
                ("key", "key"),
            ] {
                if let Some(Value::String(s)) = o.get(from)
                    && !s.trim().is_empty()
                    && !raw.contains_key(to)
                {
                    raw.insert(to.into(), json!(s.trim()));
                }
            }
        }
        other => return Err(bad(field, format!("expected a user, got {other}"))),
    }
    let raw = Value::Object(raw);
    match super::schema::person_in(&raw) {
        Some(p) => Ok((raw, Some(p))),
        None => Ok((Value::Null, None)),
    }
}

fn labels(v: &Value) -> Result<Vec<String>, FieldError> {
    match v {
        Value::Null => Ok(Vec::new()),
        Value::Array(values) => {
            let mut out = values
                .iter()
                .map(|v| match field_value(v) {
                    Value::String(s) => Ok(s.clone()),
                    // Exalate's Label objects.
                    Value::Object(o) if o.get("label").is_some_and(Value::is_string) => {
                        Ok(o["label"].as_str().unwrap_or_default().to_owned())
                    }
                    other => Err(bad("labels", format!("a label must be text, got {other}"))),
                })
                .collect::<Result<Vec<_>, _>>()?;
            out.sort();
            out.dedup();
            Ok(out)
        }
        other => Err(bad("labels", format!("expected a list, got {other}"))),
    }
}

/// Components or versions by name: a list of names or of `{name}`.
fn name_list(v: &Value, field: &'static str) -> Result<Value, FieldError> {
    match field_value(v) {
        Value::Null => Ok(json!([])),
        Value::Array(values) => values
            .iter()
            .map(|v| name(v, field).map(|n| n.map(|n| json!({ "name": n }))))
            .filter_map(Result::transpose)
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        Value::String(s) => Ok(Value::Array(
            s.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|n| json!({ "name": n }))
                .collect(),
        )),
        other => Err(bad(field, format!("expected a list of names, got {other}"))),
    }
}

/// The parent as a Jira reference: by key (`SUP-1`) or by id (digits).
fn parent(v: &Value) -> Result<Value, FieldError> {
    match field_value(v) {
        Value::Null => Ok(Value::Null),
        Value::String(s) if s.trim().is_empty() => Ok(Value::Null),
        Value::String(s) if s.trim().bytes().all(|b| b.is_ascii_digit()) => {
            Ok(json!({ "id": s.trim() }))
        }
        Value::String(s) => Ok(json!({ "key": s.trim(), "value": s.trim() })),
        Value::Number(n) => Ok(json!({ "id": n.to_string() })),
        Value::Object(o) if o.contains_key("key") || o.contains_key("id") => {
            Ok(Value::Object(o.clone()))
        }
        other => Err(bad(
            "parentId",
            format!("expected an issue key or id, got {other}"),
        )),
    }
}

/// What differs between the view the rules were given (`before`) and what they left
/// (`after`).
fn draft(schema: &JiraSchema, before: &Value, after: &Value) -> Result<Draft, FieldError> {
    let obj = after.as_object().ok_or_else(|| {
        bad(
            "",
            "the rules replaced the issue with something that is not an issue",
        )
    })?;
    let changed = |k: &str| obj.get(k).filter(|v| **v != before[k]);
    let mut d = Draft::default();
    if let Some(v) = changed("summary") {
        d.summary = Some(text(v, "summary")?);
    }
    if let Some(v) = changed("description") {
        d.description = Some(text(v, "description")?);
    }
    if let Some(v) = changed("status")
        && let Some(n) = name(v, "status")?
        && name(&before["status"], "status")?.is_none_or(|b| !b.eq_ignore_ascii_case(&n))
    {
        d.status = Some(status_category(&json!({ "name": n })));
        d.fields
            .insert("status".into(), json!({"name": n, "value": n}));
    }
    if let Some(v) = changed("priority")
        && let Some(n) = name(v, "priority")?
        && name(&before["priority"], "priority")?.is_none_or(|b| !b.eq_ignore_ascii_case(&n))
    {
        d.priority = Some(priority_of(&n));
        d.fields
            .insert("priority".into(), json!({"name": n, "value": n}));
    }
    if let Some(v) = changed("labels") {
        d.labels = Some(labels(v)?);
    }
    for (field, slot) in [("assignee", &mut d.assignee), ("reporter", &mut d.reporter)] {
        if let Some(v) = obj.get(field).filter(|v| **v != before[field]) {
            let (raw, person) = user(v, field)?;
            // The same person in another shape (a replica's `{displayName, email}`) is no
            // change: Jira's own user object stays.
            if person.is_some() && person == user(&before[field], field)?.1 {
                continue;
            }
            d.fields.insert(field.into(), raw);
            *slot = Some(person);
        }
    }
    for field in ["typeName", "type", "issueType"] {
        if let Some(v) = changed(field)
            && let Some(n) = name(v, field)?
            && !before[field]
                .get("name")
                .or(Some(&before[field]))
                .and_then(Value::as_str)
                .is_some_and(|b| b.eq_ignore_ascii_case(&n))
        {
            d.item_type = Some(item_type_of(&n));
            d.fields
                .insert("issuetype".into(), json!({"name": n, "value": n}));
            break;
        }
    }
    for field in ["parentId", "parentKey"] {
        if let Some(v) = changed(field) {
            d.fields.insert("parent".into(), parent(v)?);
            break;
        }
    }
    if let Some(v) = changed("resolution") {
        d.fields.insert(
            "resolution".into(),
            name(v, "resolution")?.map_or(Value::Null, |n| json!({"name": n, "value": n})),
        );
    }
    if let Some(v) = changed("dueDate") {
        let due = text(v, "dueDate")?;
        d.fields.insert(
            "duedate".into(),
            if due.is_empty() {
                Value::Null
            } else {
                json!(due)
            },
        );
    }
    if let Some(v) = changed("environment") {
        d.fields
            .insert("environment".into(), field_value(v).clone());
    }
    for (field, id) in [
        ("components", "components"),
        ("fixVersions", "fixVersions"),
        ("affectedVersions", "versions"),
    ] {
        if let Some(v) = changed(field) {
            let list = name_list(v, field)?;
            if list != names_of_view(&before[field]) {
                d.fields.insert(id.into(), list);
            }
        }
    }
    match obj.get("customFields") {
        None | Some(Value::Null) => {}
        Some(Value::Object(fields)) => {
            for (name, value) in fields {
                let value = field_value(value);
                if before["customFields"].get(name).unwrap_or(&Value::Null) == value {
                    continue;
                }
                let shown = before["customFields"].get(name).is_some();
                let key = shown
                    .then(|| name.clone())
                    .or_else(|| schema.key_for_name(name))
                    .or_else(|| name.starts_with("customfield_").then(|| name.clone()))
                    .ok_or_else(|| {
                    bad(
                        "customFields",
                        format!("Jira has no field named '{name}' (custom fields are named as in Jira, or by id: customfield_10010)"),
                    )
                })?;
                d.fields.insert(key, value.clone());
            }
        }
        Some(other) => {
            return Err(bad(
                "customFields",
                format!("expected a map of field name to value, got {other}"),
            ));
        }
    }
    Ok(d)
}

/// Names of a list the view showed, as a draft writes them.
fn names_of_view(v: &Value) -> Value {
    Value::Array(
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e.get("name").and_then(Value::as_str))
            .map(|n| json!({ "name": n }))
            .collect(),
    )
}

/// What the incoming rules changed in a mirrored issue.
pub fn patch_from_json(
    schema: &JiraSchema,
    item: &Item,
    after: &Value,
) -> Result<ItemPatch, FieldError> {
    let before = schema_view(schema, item);
    let d = draft(schema, &before, after)?;
    let mut patch = ItemPatch {
        summary: d.summary.filter(|s| *s != item.summary),
        description: d.description.filter(|s| *s != item.description),
        status: d.status.filter(|s| *s != item.status),
        priority: d.priority.filter(|p| *p != item.priority),
        labels: d.labels.filter(|l| *l != item.labels),
        assignee: d.assignee.filter(|a| *a != item.assignee),
        reporter: d.reporter.filter(|r| *r != item.reporter),
        item_type: d.item_type.filter(|t| *t != item.item_type),
        ..ItemPatch::default()
    };
    let mut fields = CustomFields::new();
    for (k, v) in d.fields {
        match (v.is_null(), item.custom_fields.get(&k)) {
            (true, None) => {}
            (_, Some(old)) if *old == v => {}
            _ => {
                fields.insert(k, v);
            }
        }
    }
    if !fields.is_empty() {
        patch.custom_fields = Some(fields);
    }
    Ok(patch)
}

fn schema_view(schema: &JiraSchema, item: &Item) -> Value {
    use crate::schema::Schema;
    schema.item_json(item)
}

/// The mirror item a first sync creates; the issue is then created in Jira from it, in the
/// Jira project `projectKey` names (the first synced one when the rules name none).
pub fn new_item_from_json(
    schema: &JiraSchema,
    projects: &Projects,
    after: &Value,
) -> Result<NewItem, FieldError> {
    // `issue.projectKey = "OPS"` or `issue.project = nodeHelper.getProject("OPS")`: whichever
    // the rules changed from the blank issue's default.
    let default = projects.default_collection();
    let by_key = after.get("projectKey").and_then(Value::as_str);
    let by_project = after
        .get("project")
        .and_then(|p| p.get("key"))
        .and_then(Value::as_str);
    let named = [by_key, by_project]
        .into_iter()
        .flatten()
        .find(|k| Some(*k) != default)
        .or(by_key)
        .map(str::trim)
        .filter(|k| !k.is_empty());
    let jira_project = match named {
        Some(k) => projects
            .iter()
            .find(|(c, _)| c.eq_ignore_ascii_case(k))
            .map(|(c, _)| c),
        None => projects.default_collection(),
    };
    let Some(jira_project) = jira_project else {
        return Err(bad(
            "projectKey",
            format!(
                "'{}' is not a Jira project this node syncs ({})",
                named.unwrap_or_default(),
                projects
                    .iter()
                    .map(|(c, _)| c)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    };
    let project = projects
        .project_of(jira_project)
        .ok_or_else(|| bad("projectKey", "no project mirrors it"))?;
    let d = draft(schema, &blank_item_json(projects), after)?;
    let mut item = NewItem::new(project.clone(), d.summary.unwrap_or_default());
    item.description = d.description.unwrap_or_default();
    item.status = d.status.unwrap_or(Status::ToDo);
    item.priority = d.priority.unwrap_or(Priority::Medium);
    item.labels = d.labels.unwrap_or_default();
    item.assignee = d.assignee.flatten();
    item.reporter = d.reporter.flatten();
    item.item_type = d.item_type.unwrap_or(ItemType::Task);
    item.custom_fields = d.fields.into_iter().filter(|(_, v)| !v.is_null()).collect();
    Ok(item)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jira::Flavour;
    use crate::schema::{Mapping, Schema};

    fn fixture() -> (JiraSchema, Item, crate::tracker::RemoteRecord) {
        let s = JiraSchema::new(
            Flavour::Cloud,
            super::super::schema::projects(&["SUP".into(), "OPS".into()]),
        )
        .with_fields(vec![
            ("customfield_10010".into(), "Severity".into()),
            ("customfield_10011".into(), "Story Points".into()),
        ]);
        let Value::Object(fields) = json!({
            "issuekey": "SUP-12",
            "summary": "Printer on fire",
            "description": {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [{"type": "text", "text": "Third floor"}]}]},
            "status": {"id": "3", "name": "In Review", "statusCategory": {"key": "indeterminate"}},
            "priority": {"id": "2", "name": "High"},
            "labels": ["fire"],
            "assignee": {"accountId": "acc-1", "displayName": "Alex Agent", "emailAddress": "alex@example.com"},
            "reporter": {"accountId": "acc-2", "displayName": "Ana"},
            "issuetype": {"id": "10004", "name": "Bug"},
            "project": {"id": "10000", "key": "SUP", "name": "Support"},
            "components": [{"id": "1", "name": "Backend", "self": "http://x"}],
            "fixVersions": [{"id": "2", "name": "1.0", "self": "http://x"}],
            "parent": {"id": "10041", "key": "SUP-3"},
            "resolution": {"id": "1", "name": "Fixed"},
            "duedate": "2030-01-31",
            "created": "2026-12-01T09:00:00.000+0000",
            "customfield_10010": {"id": "10020", "value": "Sev 2"},
            "customfield_10011": 5.0,
        }) else {
            unreachable!("an object literal")
        };
        let r = crate::tracker::RemoteRecord {
            id: "10042".into(),
            updated_by: String::new(),
            fields,
        };
        let new = s.new_item(&r, &"SUP".parse().expect("key"));
        let mut item = Item {
            key: "SUP-1".parse().expect("key"),
            summary: new.summary,
            description: new.description,
            status: new.status,
            priority: new.priority,
            assignee: new.assignee,
            reporter: new.reporter,
            labels: new.labels,
            custom_fields: new.custom_fields,
            item_type: new.item_type,
            parent: None,
            comments: Vec::new(),
            attachments: Vec::new(),
            created: jiff::Timestamp::UNIX_EPOCH,
            updated: jiff::Timestamp::UNIX_EPOCH,
            version: 1,
        };
        for internal in [false, true] {
            item.comments.push(tandem_model::Comment {
                id: item.comments.len() as i64 + 1,
                author: Person {
                    name: "Alex Agent".into(),
                    email: None,
                },
                body: format!("note internal={internal}"),
                internal,
                created: jiff::Timestamp::UNIX_EPOCH,
                edited: None,
                origin: None,
            });
        }
        (s, item, r)
    }

    /// Every field an Exalate Jira script reads, as it reads it.
    #[test]
    fn scripts_see_an_issue_as_exalate_jira_scripts_do() {
        let (s, item, _) = fixture();
        let v = s.item_json(&item);
        for (path, want) in [
            ("/key", json!("SUP-12")),
            ("/id", json!("10042")),
            ("/summary", json!("Printer on fire")),
            ("/description", json!("Third floor")),
            ("/status/name", json!("In Review")),
            ("/priority/name", json!("High")),
            ("/labels", json!(["fire"])),
            ("/assignee/displayName", json!("Alex Agent")),
            ("/assignee/email", json!("alex@example.com")),
            ("/assignee/accountId", json!("acc-1")),
            ("/assignee/key", json!("acc-1")),
            ("/reporter/displayName", json!("Ana")),
            ("/reporter/email", Value::Null),
            ("/issueType/name", json!("Bug")),
            ("/type/name", json!("Bug")),
            ("/typeName", json!("Bug")),
            ("/project/key", json!("SUP")),
            ("/project/name", json!("Support")),
            ("/projectKey", json!("SUP")),
            ("/components/0/name", json!("Backend")),
            ("/fixVersions/0/name", json!("1.0")),
            ("/parentId", json!("10041")),
            ("/parentKey", json!("SUP-3")),
            ("/resolution/name", json!("Fixed")),
            ("/dueDate", json!("2030-01-31")),
            ("/created", json!("2026-12-01T09:00:00.000+0000")),
            ("/customFields/Severity/value", json!("Sev 2")),
            ("/customFields/Story Points", json!(5.0)),
            ("/comments/0/internal", json!(false)),
            ("/comments/1/internal", json!(true)),
            ("/comments/1/body", json!("note internal=true")),
        ] {
            assert_eq!(v.pointer(path), Some(&want), "{path} in {v:#}");
        }
        assert!(
            v["customFields"].get("status").is_none(),
            "system fields are not custom"
        );
        assert!(
            v["status"].get("value").is_none(),
            "the mirror's query aid is not shown"
        );
        assert!(!s.journals());
        assert_eq!(s.collection_field(), "projectKey");
    }

    #[test]
    fn an_untouched_view_is_no_change_and_changes_come_back_in_jira_shapes() {
        let (s, item, r) = fixture();
        let v = s.item_json(&item);
        assert_eq!(
            s.patch_from_json(&item, &v).expect("patch"),
            ItemPatch::default()
        );
        let mut after = v.clone();
        after["summary"] = json!("Printer fixed");
        after["status"]["name"] = json!("Done");
        after["priority"] = json!({"name": "Critical"});
        after["labels"] = json!(["b", "a"]);
        after["assignee"] = json!({"email": "bo@example.com", "displayName": "Bo"});
        after["issueType"] = json!({"name": "Task"});
        after["parentId"] = json!("SUP-4");
        after["dueDate"] = Value::Null;
        after["fixVersions"] = json!(["2.0"]);
        after["customFields"]["Severity"] = json!({"value": "Sev 1"});
        after["customFields"]["customfield_10011"] = json!(8);
        let p = s.patch_from_json(&item, &after).expect("patch");
        assert_eq!(p.summary.as_deref(), Some("Printer fixed"));
        assert_eq!(p.status, Some(Status::Done));
        assert_eq!(
            p.priority,
            Some(Priority::Highest),
            "Critical is the highest"
        );
        assert_eq!(p.labels, Some(vec!["a".into(), "b".into()]));
        assert_eq!(p.assignee.clone().flatten().expect("someone").name, "Bo");
        assert_eq!(p.item_type, Some(ItemType::Task));
        let cf = p.custom_fields.clone().expect("fields");
        assert_eq!(cf["status"]["name"], json!("Done"));
        assert_eq!(cf["priority"]["name"], json!("Critical"));
        assert_eq!(
            cf["assignee"],
            json!({"emailAddress": "bo@example.com", "displayName": "Bo"})
        );
        assert_eq!(cf["issuetype"]["name"], json!("Task"));
        assert_eq!(cf["parent"]["key"], json!("SUP-4"));
        assert_eq!(cf["duedate"], Value::Null);
        assert_eq!(cf["fixVersions"], json!([{"name": "2.0"}]));
        assert_eq!(cf["Severity"], json!("Sev 1"), "a wrapper gives its value");
        assert_eq!(cf["Story Points"], json!(8), "named by id, kept by name");
        // Applied and pushed: Jira gets each in the shape its update takes.
        let mut applied = item.clone();
        p.apply(&mut applied);
        let base = s.snapshot(&r);
        let push = s.local_changes(&applied, &base);
        assert_eq!(push["status"], json!("Done"));
        assert_eq!(push["priority"], json!("Critical"));
        assert_eq!(push["assignee"]["emailAddress"], json!("bo@example.com"));
        assert!(
            !push.contains_key("issuetype"),
            "Jira changes no type by edit"
        );
        // Errors name the field.
        after["labels"] = json!("one");
        assert_eq!(
            s.patch_from_json(&item, &after).expect_err("bad").field,
            "labels"
        );
        // The same people and labels in other shapes are no change.
        let mut same = v.clone();
        same["assignee"] = json!({"displayName": "Alex Agent", "email": "alex@example.com"});
        same["labels"] = json!([{"label": "fire"}]);
        assert_eq!(
            s.patch_from_json(&item, &same).expect("patch"),
            ItemPatch::default()
        );
        let mut unknown = v.clone();
        unknown["customFields"]["Nope"] = json!(1);
        let e = s
            .patch_from_json(&item, &unknown)
            .expect_err("unknown field");
        assert!(e.problem.contains("Nope"), "{e}");
    }

    #[test]
    fn a_first_sync_creates_in_the_jira_project_the_rules_name() {
        let (s, _, _) = fixture();
        let mut blank = s.blank_item_json();
        assert_eq!(blank["projectKey"], json!("SUP"));
        blank["summary"] = json!("From ServiceNow");
        blank["status"] = json!({"name": "In Review"});
        blank["assignee"] = json!("alex@example.com");
        blank["customFields"] = json!({"Severity": {"value": "Sev 3"}, "Story Points": null});
        let new = s.new_item_from_json(&blank).expect("new");
        assert_eq!(new.project.to_string(), "SUP");
        assert_eq!(new.status, Status::InProgress);
        assert_eq!(
            new.assignee.clone().expect("someone").email.as_deref(),
            Some("alex@example.com")
        );
        assert_eq!(new.custom_fields["status"]["name"], json!("In Review"));
        assert_eq!(new.custom_fields["Severity"], json!("Sev 3"));
        assert!(!new.custom_fields.contains_key("Story Points"));
        blank["projectKey"] = json!("ops");
        assert_eq!(
            s.new_item_from_json(&blank)
                .expect("new")
                .project
                .to_string(),
            "OPS"
        );
        blank["projectKey"] = json!("SUP");
        blank["project"] = json!({"key": "OPS"});
        assert_eq!(
            s.new_item_from_json(&blank)
                .expect("new")
                .project
                .to_string(),
            "OPS"
        );
        blank["project"] = Value::Null;
        blank["projectKey"] = json!("HR");
        let e = s.new_item_from_json(&blank).expect_err("not synced");
        assert!(e.problem.contains("SUP, OPS"), "{e}");
    }

    #[test]
    fn items_of_projects_that_mirror_no_jira_project_are_built_in_items() {
        let (s, mut item, _) = fixture();
        item.key = "LOCAL-1".parse().expect("key");
        assert_eq!(s.item_json(&item), crate::builtin::item_json(&item));
        assert_eq!(s.display_key(&item), None);
        let mut v = s.item_json(&item);
        v["status"] = json!("Done");
        assert_eq!(
            s.patch_from_json(&item, &v).expect("patch"),
            crate::builtin::patch_from_json(&item, &v).expect("patch")
        );
    }
}
