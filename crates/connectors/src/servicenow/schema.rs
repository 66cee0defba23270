//! ServiceNow records and the node's mirror of them, and the mirror as sync rules see it.
//!
//! A mirrored record is a store item in the project of its table (`incident` → `INC`): every
//! column is kept as ServiceNow sent it in the item's custom fields, journal entries are its
//! comments (work notes internal), and its summary, description, status and priority are
//! derived from the columns so the console shows it like any item. Scripts see the columns by
//! their own names (`entity.short_description`, `entity.state`, `entity.u_vendor`), plus
//! `entity.key` (the number), `entity.tableName`, `entity.comments` (public) and
//! `entity.work_notes` (internal), and `entity.attachments`.

use serde_json::{Map, Value, json};
use tandem_model::query::Query;
use tandem_model::{CustomFields, Item, ItemPatch, NewItem, Priority, ProjectKey, Status};

use crate::schema::{Collections, FieldError, Mapping, Schema, TriggerError};
use crate::tracker::{Fields, RemoteRecord, TrackerKind};

/// Columns that are never kept in the mirror: journal fields read as `""` (their history is
/// the item's comments).
const JOURNAL_COLUMNS: &[&str] = &["comments", "work_notes", "comments_and_work_notes"];

/// Keys of the scripts' view that are not columns.
const VIEW_KEYS: &[&str] = &[
    "id",
    "key",
    "tableName",
    "projectKey",
    "comments",
    "work_notes",
    "attachments",
    "summary",
];

/// The synced tables and the projects that mirror them, in the order configured.
pub type Tables = Collections;

/// The synced tables and their projects: each table's project key is ServiceNow's number
/// prefix where well known (`incident` → `INC`), and two tables that abbreviate alike get
/// numbered keys.
pub fn tables(names: &[String]) -> Tables {
    Collections::numbered(names, project_key_for)
}

/// The table a first sync creates a record in unless the rules say otherwise.
fn default_table(tables: &Tables) -> &str {
    tables.default_collection().unwrap_or("incident")
}

/// The project key of a table: ServiceNow's number prefix where it is well known, else the
/// table name's letters.
pub fn project_key_for(table: &str) -> ProjectKey {
    let known = match table {
        "incident" => Some("INC"),
        "problem" => Some("PRB"),
        "change_request" => Some("CHG"),
        "sc_request" => Some("REQ"),
        "sc_req_item" => Some("RITM"),
        "sc_task" => Some("SCTASK"),
        "task" => Some("TASK"),
        _ => None,
    };
    let text = known.map_or_else(
        || {
            let letters: String = table
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .map(|c| c.to_ascii_uppercase())
                .skip_while(|c| !c.is_ascii_uppercase())
                .take(10)
                .collect();
            if letters.len() < 2 {
                format!("SN{letters}")
            } else {
                letters
            }
        },
        str::to_owned,
    );
    text.parse()
        .unwrap_or_else(|_| "SN".parse().expect("SN is a project key"))
}

/// A column's value as text: strings as they are, references by their `value`.
pub fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Object(o) => o.get("value").map(value_text).unwrap_or_default(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Array(_) => v.to_string(),
    }
}

fn column<'a>(fields: &'a CustomFields, name: &str) -> &'a str {
    match fields.get(name) {
        Some(Value::String(s)) => s,
        Some(Value::Object(o)) => o.get("value").and_then(Value::as_str).unwrap_or(""),
        _ => "",
    }
}

/// The columns of a record as the mirror keeps them.
pub fn columns(record: &Fields) -> CustomFields {
    record
        .iter()
        .filter(|(k, _)| !JOURNAL_COLUMNS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Summary, description, status and priority derived from the columns.
fn derived(fields: &CustomFields) -> (String, String, Status, Priority) {
    let summary = match column(fields, "short_description").trim() {
        "" => match column(fields, "number") {
            "" => "(no short description)".to_owned(),
            n => n.to_owned(),
        },
        s => s.chars().take(255).collect(),
    };
    let description = column(fields, "description").to_owned();
    let state = column(fields, "state");
    let closed_state = matches!(state, "6" | "7" | "8" | "106" | "107")
        && column(fields, "sys_class_name") != "change_request";
    let status = if column(fields, "active") == "false" || closed_state {
        Status::Done
    } else if matches!(state, "" | "1" | "-5" | "101") {
        Status::ToDo
    } else {
        Status::InProgress
    };
    let priority = match column(fields, "priority") {
        "1" => Priority::Highest,
        "2" => Priority::High,
        "4" => Priority::Low,
        "5" => Priority::Lowest,
        _ => Priority::Medium,
    };
    (summary, description, status, priority)
}

/// The mirror item of a record seen for the first time.
pub fn new_item(record: &Fields, project: &ProjectKey) -> NewItem {
    let fields = columns(record);
    let (summary, description, status, priority) = derived(&fields);
    let mut item = NewItem::new(project.clone(), summary);
    item.description = description;
    item.status = status;
    item.priority = priority;
    item.custom_fields = fields;
    item
}

/// What changes in the mirror item to take the columns ServiceNow changed since `base` (the
/// columns last agreed); without a base, every column as ServiceNow has it. Columns changed
/// only in the mirror are left for the push.
pub fn pull_patch(item: &Item, record: &Fields, base: Option<&CustomFields>) -> ItemPatch {
    let mut fields = item.custom_fields.clone();
    for (k, v) in columns(record) {
        if base.is_none_or(|b| b.get(&k) != Some(&v)) {
            fields.insert(k, v);
        }
    }
    patch_to(item, fields)
}

/// The patch that gives `item` exactly these columns (and what derives from them).
fn patch_to(item: &Item, fields: CustomFields) -> ItemPatch {
    let mut patch = ItemPatch::default();
    let mut changed = CustomFields::new();
    for (k, v) in &fields {
        if item.custom_fields.get(k) != Some(v) {
            changed.insert(k.clone(), v.clone());
        }
    }
    if !changed.is_empty() {
        patch.custom_fields = Some(changed);
    }
    let (summary, description, status, priority) = derived(&fields);
    if summary != item.summary {
        patch.summary = Some(summary);
    }
    if description != item.description {
        patch.description = Some(description);
    }
    if status != item.status {
        patch.status = Some(status);
    }
    if priority != item.priority {
        patch.priority = Some(priority);
    }
    patch
}

/// Columns ServiceNow computes or owns, never written back.
fn writable(column: &str) -> bool {
    !(column.starts_with("sys_")
        || JOURNAL_COLUMNS.contains(&column)
        || matches!(
            column,
            "number" | "active" | "priority" | "incident_state" | "problem_state"
        ))
}

/// The writable columns changed in the mirror since `base` (the columns last agreed with
/// ServiceNow), as strings (references by sys_id): what a push writes.
pub fn local_changes(item: &Item, base: &CustomFields) -> Map<String, Value> {
    let mut out = Map::new();
    for (k, v) in &item.custom_fields {
        if !writable(k) {
            continue;
        }
        let mine = value_text(v);
        let agreed = base.get(k).map(value_text).unwrap_or_default();
        if mine != agreed {
            out.insert(k.clone(), Value::String(mine));
        }
    }
    out
}

/// The columns of a new record for a mirror item that has none yet.
pub fn record_fields(item: &Item) -> Map<String, Value> {
    let mut out: Map<String, Value> = item
        .custom_fields
        .iter()
        .filter(|(k, v)| writable(k) && !value_text(v).is_empty())
        .map(|(k, v)| (k.clone(), Value::String(value_text(v))))
        .collect();
    if !out.contains_key("short_description") {
        out.insert("short_description".into(), json!(item.summary));
    }
    out
}

/// The item as scripts see it.
pub fn item_json(item: &Item, table: &str) -> Value {
    let mut view = Map::new();
    for (k, v) in &item.custom_fields {
        view.insert(k.clone(), v.clone());
    }
    let number = column(&item.custom_fields, "number");
    view.insert(
        "key".into(),
        json!(if number.is_empty() {
            item.key.to_string()
        } else {
            number.to_owned()
        }),
    );
    view.insert("tableName".into(), json!(table));
    // Exalate's `entity.id` on ServiceNow: the record's sys_id.
    view.insert(
        "id".into(),
        match column(&item.custom_fields, "sys_id") {
            "" => Value::Null,
            id => json!(id),
        },
    );
    view.insert("projectKey".into(), json!(item.key.project.to_string()));
    let comment = |c: &tandem_model::Comment| {
        json!({
            "id": c.id.to_string(),
            "body": c.body,
            "author": {"displayName": c.author.name, "email": c.author.email},
            "created": c.created.to_string(),
            "internal": c.internal,
        })
    };
    view.insert(
        "comments".into(),
        Value::Array(
            item.comments
                .iter()
                .filter(|c| !c.internal)
                .map(comment)
                .collect(),
        ),
    );
    view.insert(
        "work_notes".into(),
        Value::Array(
            item.comments
                .iter()
                .filter(|c| c.internal)
                .map(comment)
                .collect(),
        ),
    );
    view.insert(
        "attachments".into(),
        Value::Array(
            item.attachments
                .iter()
                .map(|a| {
                    json!({
                        "id": a.id.to_string(),
                        "filename": a.filename,
                        "mimetype": a.mime_type,
                        "filesize": a.size,
                        "hash": a.sha256,
                    })
                })
                .collect(),
        ),
    );
    Value::Object(view)
}

/// An empty record for a first sync, in the default table.
pub fn blank_item_json(tables: &Tables) -> Value {
    let table = default_table(tables);
    json!({
        "key": null,
        "tableName": table,
        "projectKey": tables.project_of(table).map(ToString::to_string),
        "short_description": "",
        "description": "",
        "comments": [],
        "work_notes": [],
        "attachments": [],
    })
}

/// The columns the rules left in the view, as strings (ServiceNow's values are strings).
fn view_columns(after: &Value) -> Result<CustomFields, FieldError> {
    let obj = after.as_object().ok_or_else(|| FieldError {
        field: "",
        problem: "the rules replaced the entity with something that is not a record".into(),
    })?;
    let mut fields = CustomFields::new();
    for (k, v) in obj {
        if VIEW_KEYS.contains(&k.as_str()) || JOURNAL_COLUMNS.contains(&k.as_str()) {
            continue;
        }
        let kept = match v {
            Value::String(_) | Value::Object(_) => v.clone(),
            Value::Null => Value::String(String::new()),
            Value::Bool(b) => Value::String(b.to_string()),
            Value::Number(n) => Value::String(n.to_string()),
            Value::Array(_) => {
                return Err(FieldError {
                    field: "entity",
                    problem: format!("column {k} cannot hold a list"),
                });
            }
        };
        fields.insert(k.clone(), kept);
    }
    Ok(fields)
}

/// What the incoming rules changed in a mirror item.
pub fn patch_from_json(item: &Item, after: &Value) -> Result<ItemPatch, FieldError> {
    let mut fields = item.custom_fields.clone();
    for (k, v) in view_columns(after)? {
        fields.insert(k, v);
    }
    Ok(patch_to(item, fields))
}

/// The mirror item a first sync creates (the record is created in ServiceNow from it).
pub fn new_item_from_json(after: &Value, tables: &Tables) -> Result<NewItem, FieldError> {
    let table = after
        .get("tableName")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .unwrap_or(default_table(tables));
    let project = tables.project_of(table).ok_or_else(|| FieldError {
        field: "tableName",
        problem: format!(
            "'{table}' is not a table this node syncs ({})",
            tables.iter().map(|(t, _)| t).collect::<Vec<_>>().join(", ")
        ),
    })?;
    let fields = view_columns(after)?;
    let (summary, description, status, priority) = derived(&fields);
    let mut item = NewItem::new(project.clone(), summary);
    item.description = description;
    item.status = status;
    item.priority = priority;
    item.custom_fields = fields;
    Ok(item)
}

/// ServiceNow as the sync rules and the mirror see it: a record's columns by their own names,
/// its journals as `comments` and `work_notes`, triggers as encoded queries. Items of projects
/// that mirror no table (a ServiceNow node keeps built-in projects too) are built-in items.
#[derive(Debug, Clone)]
pub struct ServiceNowSchema {
    tables: Tables,
}

impl ServiceNowSchema {
    pub fn new(tables: Tables) -> Self {
        Self { tables }
    }

    fn table_of(&self, item: &Item) -> Option<&str> {
        self.tables.collection_of(&item.key.project)
    }
}

impl Schema for ServiceNowSchema {
    fn kind(&self) -> TrackerKind {
        TrackerKind::ServiceNow
    }

    fn collections(&self) -> Option<&Collections> {
        Some(&self.tables)
    }

    fn mapping(&self) -> Option<&dyn Mapping> {
        Some(self)
    }

    fn journals(&self) -> bool {
        true
    }

    fn collection_field(&self) -> &'static str {
        "tableName"
    }

    fn item_json(&self, item: &Item) -> Value {
        match self.table_of(item) {
            Some(table) => item_json(item, table),
            None => crate::builtin::item_json(item),
        }
    }

    fn blank_item_json(&self) -> Value {
        blank_item_json(&self.tables)
    }

    fn patch_from_json(&self, item: &Item, after: &Value) -> Result<ItemPatch, FieldError> {
        match self.table_of(item) {
            Some(_) => patch_from_json(item, after),
            None => crate::builtin::patch_from_json(item, after),
        }
    }

    fn new_item_from_json(&self, after: &Value) -> Result<NewItem, FieldError> {
        new_item_from_json(after, &self.tables)
    }

    fn parse_trigger(&self, text: &str) -> Result<Query, TriggerError> {
        super::trigger::translate(text, &self.tables).map_err(TriggerError::Invalid)
    }

    fn display_key<'a>(&self, item: &'a Item) -> Option<&'a str> {
        self.table_of(item)?;
        item.custom_fields
            .get("number")
            .and_then(Value::as_str)
            .filter(|n| !n.trim().is_empty())
    }
}

impl Mapping for ServiceNowSchema {
    fn snapshot(&self, record: &RemoteRecord) -> CustomFields {
        columns(&record.fields)
    }

    fn new_item(&self, record: &RemoteRecord, project: &ProjectKey) -> NewItem {
        new_item(&record.fields, project)
    }

    fn pull_patch(
        &self,
        item: &Item,
        record: &RemoteRecord,
        base: Option<&CustomFields>,
    ) -> ItemPatch {
        pull_patch(item, &record.fields, base)
    }

    fn local_changes(&self, item: &Item, base: &CustomFields) -> Fields {
        local_changes(item, base)
    }

    fn record_fields(&self, item: &Item) -> Fields {
        record_fields(item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(v: Value) -> Fields {
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    fn mirror(r: &Fields) -> Item {
        let new = new_item(r, &"INC".parse().expect("key"));
        Item {
            key: "INC-1".parse().expect("key"),
            summary: new.summary,
            description: new.description,
            status: new.status,
            priority: new.priority,
            assignee: None,
            reporter: None,
            labels: Vec::new(),
            custom_fields: new.custom_fields,
            item_type: tandem_model::ItemType::Task,
            parent: None,
            comments: Vec::new(),
            attachments: Vec::new(),
            created: jiff::Timestamp::UNIX_EPOCH,
            updated: jiff::Timestamp::UNIX_EPOCH,
            version: 1,
        }
    }

    fn incident() -> Fields {
        record(json!({
            "sys_id": "abc", "number": "INC0010001", "short_description": "Email down",
            "description": "since 9:00", "state": "2", "priority": "2", "urgency": "1",
            "comments": "", "work_notes": "", "active": "true",
            "assignment_group": {"link": "http://i/api/now/table/sys_user_group/g1", "value": "g1"},
            "sys_mod_count": "3",
        }))
    }

    #[test]
    fn tables_get_servicenow_prefixes_as_project_keys() {
        let t = tables(&["incident".into(), "problem".into(), "u_vendor_case".into()]);
        assert_eq!(
            t.project_of("incident").map(ToString::to_string).as_deref(),
            Some("INC")
        );
        assert_eq!(
            t.project_of("problem").map(ToString::to_string).as_deref(),
            Some("PRB")
        );
        assert_eq!(
            t.project_of("u_vendor_case")
                .map(ToString::to_string)
                .as_deref(),
            Some("UVENDORCAS")
        );
        assert_eq!(
            t.collection_of(&"PRB".parse().expect("key")),
            Some("problem")
        );
        assert_eq!(default_table(&t), "incident");
        let twice = tables(&["u_a_x".into(), "u_ax".into()]);
        let keys: Vec<String> = twice.iter().map(|(_, k)| k.to_string()).collect();
        assert_eq!(keys.len(), 2);
        assert_ne!(keys[0], keys[1]);
    }

    #[test]
    fn a_record_mirrors_with_its_columns_and_derived_fields() {
        let item = mirror(&incident());
        assert_eq!(item.summary, "Email down");
        assert_eq!(item.status, Status::InProgress);
        assert_eq!(item.priority, Priority::High);
        assert!(!item.custom_fields.contains_key("comments"));
        assert_eq!(pull_patch(&item, &incident(), None), ItemPatch::default());
        let mut changed = incident();
        changed.insert("state".into(), json!("6"));
        let patch = pull_patch(&item, &changed.clone(), None);
        assert_eq!(patch.status, Some(Status::Done));
        assert_eq!(patch.custom_fields.expect("columns")["state"], json!("6"));
        // With a base, a column changed only in the mirror is kept for the push.
        let base = columns(&incident());
        let mut mine = item.clone();
        mine.custom_fields.insert("urgency".into(), json!("3"));
        let patch = pull_patch(&mine, &changed, Some(&base));
        let cf = patch.custom_fields.expect("columns");
        assert_eq!(cf.get("state"), Some(&json!("6")));
        assert!(!cf.contains_key("urgency"), "{cf:?}");
    }

    #[test]
    fn scripts_see_columns_by_name_and_their_changes_come_back_as_strings() {
        let item = mirror(&incident());
        let mut view = item_json(&item, "incident");
        assert_eq!(view["key"], json!("INC0010001"));
        assert_eq!(view["tableName"], json!("incident"));
        assert_eq!(view["short_description"], json!("Email down"));
        assert_eq!(view["assignment_group"]["value"], json!("g1"));
        assert_eq!(view["comments"], json!([]));
        view["urgency"] = json!(2);
        view["short_description"] = json!("Email restored");
        view["hold_reason"] = json!("1");
        let patch = patch_from_json(&item, &view).expect("patch");
        let cf = patch.custom_fields.expect("columns");
        assert_eq!(cf["urgency"], json!("2"));
        assert_eq!(cf["hold_reason"], json!("1"));
        assert_eq!(patch.summary.as_deref(), Some("Email restored"));
        view["urgency"] = json!(["no"]);
        assert!(patch_from_json(&item, &view).is_err());
    }

    #[test]
    fn only_writable_columns_changed_since_the_base_go_back_to_servicenow() {
        let base = columns(&incident());
        let mut item = mirror(&incident());
        assert!(local_changes(&item, &base).is_empty());
        item.custom_fields.insert("state".into(), json!("6"));
        item.custom_fields
            .insert("close_code".into(), json!("Solved (Permanently)"));
        item.custom_fields
            .insert("sys_mod_count".into(), json!("9"));
        item.custom_fields.insert("priority".into(), json!("1"));
        let patch = local_changes(&item, &base);
        assert_eq!(
            patch.keys().collect::<Vec<_>>(),
            ["state", "close_code"],
            "{patch:?}"
        );
        let fresh = record_fields(&item);
        assert_eq!(fresh["assignment_group"], json!("g1"));
        assert!(!fresh.contains_key("number") && !fresh.contains_key("sys_id"));
    }

    #[test]
    fn a_first_sync_creates_in_the_table_the_rules_name() {
        let tables = tables(&["incident".into(), "problem".into()]);
        let mut blank = blank_item_json(&tables);
        assert_eq!(blank["tableName"], json!("incident"));
        blank["short_description"] = json!("From Jira");
        let new = new_item_from_json(&blank, &tables).expect("new");
        assert_eq!(new.project.to_string(), "INC");
        assert_eq!(new.summary, "From Jira");
        blank["tableName"] = json!("problem");
        assert_eq!(
            new_item_from_json(&blank, &tables)
                .expect("new")
                .project
                .to_string(),
            "PRB"
        );
        blank["tableName"] = json!("sys_user");
        let e = new_item_from_json(&blank, &tables).expect_err("not synced");
        assert!(e.problem.contains("incident, problem"), "{e}");
    }
}
