//! Jira issues and the node's mirror of them, and the mirror as sync rules see it.
//!
//! A mirrored issue is a store item in the project that mirrors its Jira project. Its summary,
//! description (ADF on Cloud, wiki markup on Data Center, Markdown in the store) and labels
//! are the item's own fields. Every other field is kept in the item's custom fields as Jira
//! sent it — system fields by their ids (`status`, `issuetype`, `components`, `duedate`),
//! custom fields by their Jira names where the site's field list names them uniquely
//! (`Severity`; else `customfield_10010`), the key as `issuekey` and the id as `id` — and the
//! item's status (from the status category), priority (by name), assignee, reporter and type
//! are derived from them, so the console shows the issue like any item while the Jira status
//! name stays readable. Named objects (`status`, `priority`, `issuetype`, `resolution`, and
//! `parent` by key) also carry their name as `value`, the way the store's queries read a
//! reference (a ServiceNow `{link, value}`), so that a trigger's `status = "In Review"` can
//! be answered on the mirror.
//!
//! Both directions merge three ways against the **snapshot**, the issue's fields as last
//! agreed: a pull takes only what changed in Jira since, a push writes only what changed in the
//! item since, in the shape [`super::Jira`]'s `update` takes (rich text as Markdown, which the
//! connector converts for the flavour; `status` by name, moved through the workflow;
//! `resolution` only with a status). Fields Jira computes are never written.
//!
//! Scripts see an issue as Exalate's Jira scripts do (`issue.key`, `issue.status.name`,
//! `issue.assignee.accountId`, `issue.customFields."Severity".value`, …); items of projects
//! that mirror no Jira project are built-in items.

use serde_json::{Value, json};
use tandem_model::query::Query;
use tandem_model::{
    CustomFields, Item, ItemPatch, ItemType, MAX_SUMMARY, MAX_TEXT, NewItem, Person, Priority,
    ProjectKey, Status,
};

use super::client::Flavour;
use super::issues::{CORRELATION_LABEL_PREFIX, rich_to_markdown};
use crate::schema::{Collections, FieldError, Mapping, Schema, TriggerError};
use crate::tracker::{Fields, RemoteRecord, TrackerKind};

/// Keys of the snapshot that are the item's own fields, not custom fields: the summary, the
/// description as Markdown, and every label (correlation labels too).
const OWN: &[&str] = &["summary", "description", "labels"];

/// Fields never kept: their history is the item's comments and attachments, or they change
/// without the issue changing (`lastViewed`).
const DROPPED: &[&str] = &["comment", "attachment", "worklog", "lastViewed"];

/// Jira's system fields (and the two keys the mirror adds): what `issue.customFields` leaves
/// out, and names a custom field is never kept under.
const SYSTEM: &[&str] = &[
    "id",
    "issuekey",
    "key",
    "summary",
    "description",
    "status",
    "statusCategory",
    "priority",
    "labels",
    "assignee",
    "reporter",
    "creator",
    "issuetype",
    "project",
    "components",
    "fixVersions",
    "versions",
    "parent",
    "resolution",
    "resolutiondate",
    "duedate",
    "created",
    "updated",
    "environment",
    "statuscategorychangedate",
    "lastViewed",
    "votes",
    "watches",
    "worklog",
    "comment",
    "attachment",
    "issuelinks",
    "subtasks",
    "timetracking",
    "timeestimate",
    "timeoriginalestimate",
    "timespent",
    "aggregatetimespent",
    "aggregatetimeestimate",
    "aggregatetimeoriginalestimate",
    "aggregateprogress",
    "progress",
    "workratio",
    "security",
    "thumbnail",
    "issuerestriction",
];

/// Fields Jira computes or that an edit cannot set: never written back.
const COMPUTED: &[&str] = &[
    "id",
    "issuekey",
    "key",
    "project",
    "issuetype",
    "statusCategory",
    "creator",
    "created",
    "updated",
    "resolutiondate",
    "statuscategorychangedate",
    "lastViewed",
    "votes",
    "watches",
    "workratio",
    "progress",
    "aggregateprogress",
    "timespent",
    "timeestimate",
    "timeoriginalestimate",
    "aggregatetimespent",
    "aggregatetimeestimate",
    "aggregatetimeoriginalestimate",
    "subtasks",
    "issuelinks",
    "thumbnail",
    "issuerestriction",
];

/// Named objects that also carry their name (`parent`: its key) as `value`.
const NAMED: &[(&str, &str)] = &[
    ("status", "name"),
    ("priority", "name"),
    ("issuetype", "name"),
    ("resolution", "name"),
    ("parent", "key"),
];

/// The synced Jira projects and the store projects that mirror them, in the order configured.
pub type Projects = Collections;

/// The synced Jira projects, each mirrored by a store project of the same key where that is a
/// valid store key (Jira's `SUP` → `SUP`), else of its letters; two that come out alike get
/// numbered keys.
pub fn projects(keys: &[String]) -> Projects {
    Collections::numbered(keys, project_key_for)
}

/// The store key for a Jira project key: the same where valid, else its capitals and digits.
pub fn project_key_for(jira: &str) -> ProjectKey {
    if let Ok(k) = jira.to_ascii_uppercase().parse() {
        return k;
    }
    let letters: String = jira
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .skip_while(|c| !c.is_ascii_uppercase())
        .take(10)
        .collect();
    let text = if letters.len() < 2 {
        format!("J{letters}X")
    } else {
        letters
    };
    text.parse()
        .unwrap_or_else(|_| "JIRA".parse().expect("JIRA is a project key"))
}

/// A value's name: a string, or an object's `name` / `value` / `key`.
fn name_of(v: &Value) -> Option<&str> {
    match v {
        Value::String(s) => Some(s.as_str()),
        Value::Object(o) => ["name", "value", "key"]
            .iter()
            .find_map(|k| o.get(*k).and_then(Value::as_str)),
        _ => None,
    }
    .filter(|s| !s.is_empty())
}

/// The category of a status: Jira's `statusCategory.key`, or guessed from the name when the
/// status came without one (a name the rules set).
pub fn status_category(status: &Value) -> Status {
    match status
        .get("statusCategory")
        .and_then(|c| c.get("key"))
        .and_then(Value::as_str)
    {
        Some("new") => Status::ToDo,
        Some("done") => Status::Done,
        Some("indeterminate") => Status::InProgress,
        _ => guess_status(name_of(status).unwrap_or_default()),
    }
}

/// The category a status name most likely has in a Jira workflow.
fn guess_status(name: &str) -> Status {
    if let Ok(s) = name.parse() {
        return s;
    }
    let n = name.to_ascii_lowercase();
    match n.as_str() {
        "" | "open" | "new" | "backlog" | "reopened" | "selected for development" | "todo" => {
            Status::ToDo
        }
        "closed" | "resolved" | "cancelled" | "canceled" | "won't do" | "rejected" | "declined"
        | "complete" | "completed" => Status::Done,
        _ => Status::InProgress,
    }
}

/// The store priority for a Jira priority name (the old default scheme's names too).
pub fn priority_of(name: &str) -> Priority {
    if let Ok(p) = name.parse() {
        return p;
    }
    match name.to_ascii_lowercase().as_str() {
        "blocker" | "critical" | "urgent" => Priority::Highest,
        "major" => Priority::High,
        "minor" => Priority::Low,
        "trivial" => Priority::Lowest,
        _ => Priority::Medium,
    }
}

/// The store item type for a Jira issue type name (anything unknown is a task).
pub fn item_type_of(name: &str) -> ItemType {
    name.parse().unwrap_or(ItemType::Task)
}

/// A Jira user as a store person: display name (or whatever names them) and e-mail.
pub(crate) fn person_in(v: &Value) -> Option<Person> {
    let o = v.as_object()?;
    let text = |k: &str| {
        o.get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.trim().is_empty())
    };
    let email = text("emailAddress").or_else(|| text("email"));
    let name = ["displayName", "name", "accountId", "key"]
        .iter()
        .find_map(|k| text(k))
        .or(email)?;
    Some(Person {
        name: name.to_owned(),
        email: email.map(str::to_owned),
    })
}

/// The labels the item shows: every label but the correlation labels Tandem put on issues it
/// created.
fn visible_labels(labels: &[String]) -> Vec<String> {
    let mut out: Vec<String> = labels
        .iter()
        .filter(|l| !l.starts_with(CORRELATION_LABEL_PREFIX))
        .cloned()
        .collect();
    out.sort();
    out.dedup();
    out
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect()
}

fn get<'a>(fields: &'a CustomFields, key: &str) -> &'a Value {
    fields.get(key).unwrap_or(&Value::Null)
}

/// The summary an item can hold: Jira's (at most 255 characters), or the key when empty.
fn summary_of(record: &Fields) -> String {
    let s: String = record
        .get("summary")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .trim()
        .chars()
        .take(MAX_SUMMARY)
        .collect();
    if s.is_empty() {
        match record.get("issuekey").and_then(Value::as_str) {
            Some(k) if !k.is_empty() => k.to_owned(),
            _ => "(no summary)".to_owned(),
        }
    } else {
        s
    }
}

/// A system field (or a key the mirror adds), which `issue.customFields` leaves out.
pub(crate) fn is_system(key: &str) -> bool {
    SYSTEM.contains(&key)
}

/// Jira's issues as the store keeps them, and the rules see them.
#[derive(Debug, Clone)]
pub struct JiraSchema {
    flavour: Flavour,
    projects: Projects,
    /// Field id → name, every field of the site (`TrackerExtras::describe`).
    fields: Vec<(String, String)>,
}

impl JiraSchema {
    /// The schema for the issues of `projects` on a site of `flavour`, custom fields kept by id
    /// until [`JiraSchema::with_fields`] names them.
    pub fn new(flavour: Flavour, projects: Projects) -> Self {
        Self {
            flavour,
            projects,
            fields: Vec::new(),
        }
    }

    /// Keeps custom fields under their names: the site's fields as id → name
    /// (`Description::fields`).
    pub fn with_fields(mut self, fields: Vec<(String, String)>) -> Self {
        self.fields = fields;
        self
    }

    pub fn flavour(&self) -> Flavour {
        self.flavour
    }

    fn project_of(&self, item: &Item) -> Option<&str> {
        self.projects.collection_of(&item.key.project)
    }

    /// The key a field is kept under in the item: a system field's id, a custom field's name
    /// when no other field has it, else its id.
    pub fn key_of(&self, id: &str) -> String {
        if SYSTEM.contains(&id) {
            return id.to_owned();
        }
        let Some((_, name)) = self.fields.iter().find(|(i, _)| i == id) else {
            return id.to_owned();
        };
        let clash = name.trim().is_empty()
            || SYSTEM.iter().any(|s| s.eq_ignore_ascii_case(name))
            || self
                .fields
                .iter()
                .filter(|(_, n)| n.eq_ignore_ascii_case(name))
                .count()
                > 1;
        if clash { id.to_owned() } else { name.clone() }
    }

    /// The key of a field the rules or a trigger name by id (`customfield_10010`), by name
    /// (`Severity`, any case) or by the key it is kept under; `None` when the site's field list
    /// is known and has no such field.
    pub fn key_for_name(&self, name: &str) -> Option<String> {
        if SYSTEM.contains(&name) || self.fields.iter().any(|(id, _)| id == name) {
            return Some(self.key_of(name));
        }
        if let Some((id, _)) = self.fields.iter().find(|(_, n)| n == name).or_else(|| {
            self.fields
                .iter()
                .find(|(_, n)| n.eq_ignore_ascii_case(name))
        }) {
            return Some(self.key_of(id));
        }
        self.fields.is_empty().then(|| name.to_owned())
    }

    /// A record's fields as the mirror keeps them in the item (not the item's own fields).
    fn kept(&self, record: &RemoteRecord) -> CustomFields {
        let mut out = CustomFields::new();
        if !record.id.is_empty() {
            out.insert("id".into(), json!(record.id));
        }
        for (id, v) in &record.fields {
            if v.is_null() || OWN.contains(&id.as_str()) || DROPPED.contains(&id.as_str()) {
                continue;
            }
            let mut v = v.clone();
            if let Some((_, by)) = NAMED.iter().find(|(f, _)| f == id)
                && let Value::Object(o) = &mut v
                && let Some(name) = o.get(*by).and_then(Value::as_str).map(str::to_owned)
            {
                o.insert("value".into(), json!(name));
            }
            out.insert(self.key_of(id), v);
        }
        out
    }

    fn description_of(&self, record: &Fields) -> String {
        let md = rich_to_markdown(
            self.flavour,
            record.get("description").unwrap_or(&Value::Null),
        );
        md.value.chars().take(MAX_TEXT).collect()
    }

    /// The item's fields in the snapshot's shape, to compare with one.
    fn agreed_of_item(item: &Item) -> CustomFields {
        let mut out = item.custom_fields.clone();
        out.insert("summary".into(), json!(item.summary));
        out.insert("description".into(), json!(item.description));
        out.insert("labels".into(), json!(item.labels));
        out
    }

    /// The item a record becomes.
    pub fn item_from_record(&self, record: &RemoteRecord, project: &ProjectKey) -> NewItem {
        let snap = self.snapshot_of(record);
        let mut item = NewItem::new(
            project.clone(),
            get(&snap, "summary").as_str().unwrap_or_default(),
        );
        item.description = get(&snap, "description")
            .as_str()
            .unwrap_or_default()
            .to_owned();
        item.labels = visible_labels(&strings(snap.get("labels")));
        let fields: CustomFields = snap
            .into_iter()
            .filter(|(k, _)| !OWN.contains(&k.as_str()))
            .collect();
        item.status = status_category(get(&fields, "status"));
        item.priority = name_of(get(&fields, "priority")).map_or(Priority::Medium, priority_of);
        item.assignee = person_in(get(&fields, "assignee"));
        item.reporter = person_in(get(&fields, "reporter"));
        item.item_type = name_of(get(&fields, "issuetype")).map_or(ItemType::Task, item_type_of);
        item.custom_fields = fields;
        item
    }

    fn snapshot_of(&self, record: &RemoteRecord) -> CustomFields {
        let mut snap = self.kept(record);
        snap.insert("summary".into(), json!(summary_of(&record.fields)));
        snap.insert(
            "description".into(),
            json!(self.description_of(&record.fields)),
        );
        snap.insert("labels".into(), json!(strings(record.fields.get("labels"))));
        snap
    }

    /// What changes in `item` to take what Jira changed since `base` (all of it without one).
    pub fn patch_from_record(
        &self,
        item: &Item,
        record: &RemoteRecord,
        base: Option<&CustomFields>,
    ) -> ItemPatch {
        let new = self.snapshot_of(record);
        let changed = |k: &str| base.is_none_or(|b| get(b, k) != get(&new, k));
        let mut patch = ItemPatch::default();
        if changed("summary")
            && let Some(s) = get(&new, "summary").as_str()
            && s != item.summary
        {
            patch.summary = Some(s.to_owned());
        }
        if changed("description")
            && let Some(d) = get(&new, "description").as_str()
            && d != item.description
        {
            patch.description = Some(d.to_owned());
        }
        if changed("labels") {
            let labels = visible_labels(&strings(new.get("labels")));
            if labels != visible_labels(&item.labels) {
                patch.labels = Some(labels);
            }
        }
        let mut cf = CustomFields::new();
        for (k, v) in &new {
            if OWN.contains(&k.as_str()) || !changed(k) {
                continue;
            }
            if item.custom_fields.get(k) != Some(v) {
                cf.insert(k.clone(), v.clone());
            }
        }
        if let Some(b) = base {
            for k in b.keys() {
                if !OWN.contains(&k.as_str())
                    && !new.contains_key(k)
                    && item.custom_fields.contains_key(k)
                {
                    cf.insert(k.clone(), Value::Null);
                }
            }
        }
        if changed("status") {
            let s = status_category(get(&new, "status"));
            if s != item.status {
                patch.status = Some(s);
            }
        }
        if changed("priority") {
            let p = name_of(get(&new, "priority")).map_or(Priority::Medium, priority_of);
            if p != item.priority {
                patch.priority = Some(p);
            }
        }
        if changed("assignee") {
            let a = person_in(get(&new, "assignee"));
            if a != item.assignee {
                patch.assignee = Some(a);
            }
        }
        if changed("reporter") {
            let r = person_in(get(&new, "reporter"));
            if r != item.reporter {
                patch.reporter = Some(r);
            }
        }
        if changed("issuetype") {
            let t = name_of(get(&new, "issuetype")).map_or(ItemType::Task, item_type_of);
            if t != item.item_type {
                patch.item_type = Some(t);
            }
        }
        if !cf.is_empty() {
            patch.custom_fields = Some(cf);
        }
        patch
    }

    /// The fields to write to Jira: those changed in `item` since `base`.
    pub fn changes_since(&self, item: &Item, base: &CustomFields) -> Fields {
        let mine = Self::agreed_of_item(item);
        let mut out = Fields::new();
        if get(&mine, "summary") != get(base, "summary") {
            out.insert("summary".into(), json!(item.summary));
        }
        if get(&mine, "description") != get(base, "description") {
            // Markdown: the connector writes it as ADF or wiki markup for the flavour.
            out.insert("description".into(), json!(item.description));
        }
        let agreed = strings(base.get("labels"));
        if visible_labels(&item.labels) != visible_labels(&agreed) {
            let mut labels = visible_labels(&item.labels);
            labels.extend(
                agreed
                    .into_iter()
                    .filter(|l| l.starts_with(CORRELATION_LABEL_PREFIX)),
            );
            out.insert("labels".into(), json!(labels));
        }
        let mut keys: Vec<&String> = item.custom_fields.keys().collect();
        keys.extend(base.keys().filter(|k| !item.custom_fields.contains_key(*k)));
        for k in keys {
            let (now, then) = (get(&mine, k), get(base, k));
            if OWN.contains(&k.as_str()) || now == then || COMPUTED.contains(&k.as_str()) {
                continue;
            }
            let v = match k.as_str() {
                "status" | "priority" | "resolution" => {
                    name_of(now).map_or(Value::Null, |n| json!(n))
                }
                _ => now.clone(),
            };
            if k == "status" && v.is_null() {
                continue;
            }
            out.insert(k.clone(), v);
        }
        // The item's own status, priority and people, changed where their Jira value was not.
        if !out.contains_key("status") && item.status != status_category(get(base, "status")) {
            out.insert("status".into(), json!(item.status.as_str()));
        }
        let agreed_priority = name_of(get(base, "priority")).map_or(Priority::Medium, priority_of);
        if !out.contains_key("priority") && item.priority != agreed_priority {
            out.insert("priority".into(), json!(item.priority.as_str()));
        }
        for (field, who) in [("assignee", &item.assignee), ("reporter", &item.reporter)] {
            if !out.contains_key(field) && *who != person_in(get(base, field)) {
                out.insert(field.into(), user_value(who.as_ref()));
            }
        }
        // A resolution is set by the transition that moves the status.
        if !out.contains_key("status") {
            out.remove("resolution");
        }
        out
    }

    /// The fields of a new issue for `item`.
    pub fn create_fields(&self, item: &Item) -> Fields {
        let mut out = Fields::new();
        out.insert("summary".into(), json!(item.summary));
        if !item.description.is_empty() {
            out.insert("description".into(), json!(item.description));
        }
        let labels = visible_labels(&item.labels);
        if !labels.is_empty() {
            out.insert("labels".into(), json!(labels));
        }
        for (k, v) in &item.custom_fields {
            if v.is_null() || COMPUTED.contains(&k.as_str()) || k == "resolution" {
                continue;
            }
            out.insert(
                k.clone(),
                match k.as_str() {
                    "status" | "priority" => name_of(v).map_or(Value::Null, |n| json!(n)),
                    _ => v.clone(),
                },
            );
        }
        if let Some(t) = item.custom_fields.get("issuetype").and_then(name_of) {
            out.insert("issuetype".into(), json!(t));
        } else {
            out.insert("issuetype".into(), json!(item.item_type.as_str()));
        }
        // A status or priority the rules named is written by its name; else the item's own,
        // unless it is the default Jira starts an issue with anyway.
        let status = match item.custom_fields.get("status") {
            Some(raw) if status_category(raw) == item.status => name_of(raw).map(str::to_owned),
            _ if item.status == Status::ToDo => None,
            _ => Some(item.status.as_str().to_owned()),
        };
        match status {
            Some(s) => {
                out.insert("status".into(), json!(s));
                if let Some(r) = item.custom_fields.get("resolution").and_then(name_of) {
                    out.insert("resolution".into(), json!(r));
                }
            }
            None => {
                out.remove("status");
            }
        }
        let priority = match item.custom_fields.get("priority") {
            Some(raw) if name_of(raw).map(priority_of) == Some(item.priority) => {
                name_of(raw).map(str::to_owned)
            }
            _ if item.priority == Priority::Medium => None,
            _ => Some(item.priority.as_str().to_owned()),
        };
        match priority {
            Some(p) => out.insert("priority".into(), json!(p)),
            None => out.remove("priority"),
        };
        for (field, who) in [("assignee", &item.assignee), ("reporter", &item.reporter)] {
            let raw = item.custom_fields.get(field);
            if raw.map(person_in).unwrap_or_default() != *who {
                match who {
                    Some(p) => {
                        out.insert(field.into(), user_value(Some(p)));
                    }
                    None => {
                        out.remove(field);
                    }
                }
            }
        }
        out.retain(|_, v| !v.is_null());
        out
    }
}

/// A person as `Jira::update` takes a user: by e-mail where known, else by name; `null`
/// unassigns.
fn user_value(p: Option<&Person>) -> Value {
    match p {
        None => Value::Null,
        Some(p) => json!(p.email.clone().unwrap_or_else(|| p.name.clone())),
    }
}

impl Mapping for JiraSchema {
    fn snapshot(&self, record: &RemoteRecord) -> CustomFields {
        self.snapshot_of(record)
    }

    fn new_item(&self, record: &RemoteRecord, project: &ProjectKey) -> NewItem {
        self.item_from_record(record, project)
    }

    fn pull_patch(
        &self,
        item: &Item,
        record: &RemoteRecord,
        base: Option<&CustomFields>,
    ) -> ItemPatch {
        self.patch_from_record(item, record, base)
    }

    fn local_changes(&self, item: &Item, base: &CustomFields) -> Fields {
        self.changes_since(item, base)
    }

    fn record_fields(&self, item: &Item) -> Fields {
        self.create_fields(item)
    }
}

impl Schema for JiraSchema {
    fn kind(&self) -> TrackerKind {
        TrackerKind::Jira
    }

    fn collections(&self) -> Option<&Collections> {
        Some(&self.projects)
    }

    fn mapping(&self) -> Option<&dyn Mapping> {
        Some(self)
    }

    fn journals(&self) -> bool {
        false
    }

    fn item_json(&self, item: &Item) -> Value {
        match self.project_of(item) {
            Some(project) => super::view::item_json(item, project),
            None => crate::builtin::item_json(item),
        }
    }

    fn blank_item_json(&self) -> Value {
        super::view::blank_item_json(&self.projects)
    }

    fn patch_from_json(&self, item: &Item, after: &Value) -> Result<ItemPatch, FieldError> {
        match self.project_of(item) {
            Some(_) => super::view::patch_from_json(self, item, after),
            None => crate::builtin::patch_from_json(item, after),
        }
    }

    fn new_item_from_json(&self, after: &Value) -> Result<NewItem, FieldError> {
        super::view::new_item_from_json(self, &self.projects, after)
    }

    fn parse_trigger(&self, text: &str) -> Result<Query, TriggerError> {
        if text.trim().is_empty() {
            return Err(TriggerError::Empty {
                example: "project = SUP AND issuetype = Bug AND priority in (High, Highest)",
            });
        }
        super::trigger::translate(text, self).map_err(TriggerError::Invalid)
    }

    fn display_key<'a>(&self, item: &'a Item) -> Option<&'a str> {
        self.project_of(item)?;
        item.custom_fields
            .get("issuekey")
            .and_then(Value::as_str)
            .filter(|k| !k.trim().is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jira::{adf, wiki};

    pub(crate) fn catalogue() -> Vec<(String, String)> {
        [
            ("summary", "Summary"),
            ("status", "Status"),
            ("customfield_10010", "Severity"),
            ("customfield_10011", "Story Points"),
            ("customfield_10012", "Team"),
            ("customfield_10013", "Team"),
            ("customfield_10014", "Labels"),
        ]
        .into_iter()
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
        .collect()
    }

    pub(crate) fn schema(flavour: Flavour) -> JiraSchema {
        JiraSchema::new(flavour, projects(&["SUP".into(), "ops".into()])).with_fields(catalogue())
    }

    const DESCRIPTION: &str = "Steps:\n\n1. open\n2. click **Save**";

    /// An issue as `Jira`'s tracker returns it (REST fields plus `issuekey`), Cloud's shape.
    pub(crate) fn issue(flavour: Flavour) -> RemoteRecord {
        let description = match flavour {
            Flavour::Cloud => adf::from_markdown(DESCRIPTION).value,
            Flavour::DataCenter => json!(wiki::from_markdown(DESCRIPTION).value),
        };
        let user = |name: &str, email: &str, id: &str| match flavour {
            Flavour::Cloud => {
                json!({"accountId": id, "displayName": name, "emailAddress": email, "active": true})
            }
            Flavour::DataCenter => {
                json!({"name": id, "key": format!("JIRAUSER{id}"), "displayName": name, "emailAddress": email, "active": true})
            }
        };
        let Value::Object(fields) = json!({
            "issuekey": "SUP-12",
            "summary": "Printer on fire",
            "description": description,
            "status": {"id": "10001", "name": "In Review", "statusCategory": {"id": 4, "key": "indeterminate", "name": "In Progress"}},
            "priority": {"id": "2", "name": "High"},
            "labels": ["fire", "tandem-corr-1"],
            "assignee": user("Alex Agent", "alex.agent@example.com", "5b10a2844c20165700ede21g"),
            "reporter": user("Ana Reporter", "ana@example.com", "5b10a2844c20165700ede21h"),
            "creator": user("Ana Reporter", "ana@example.com", "5b10a2844c20165700ede21h"),
            "issuetype": {"id": "10004", "name": "Bug", "subtask": false},
            "project": {"id": "10000", "key": "SUP", "name": "Support"},
            "components": [{"id": "10100", "name": "Backend"}],
            "fixVersions": [{"id": "10200", "name": "1.0", "released": false}],
            "parent": {"id": "10041", "key": "SUP-3", "fields": {"summary": "Office"}},
            "resolution": null,
            "duedate": "2030-01-31",
            "created": "2026-12-01T09:00:00.000+0000",
            "updated": "2026-12-02T10:30:00.000+0000",
            "lastViewed": "2026-12-02T10:31:00.000+0000",
            "comment": {"comments": [], "total": 0},
            "attachment": [],
            "votes": {"votes": 0},
            "customfield_10010": {"id": "10020", "value": "Sev 2"},
            "customfield_10011": 5.0,
            "customfield_10012": "Ops",
            "customfield_10013": "Dev",
            "customfield_10014": ["x"],
            "customfield_10099": null,
        }) else {
            unreachable!("an object literal")
        };
        RemoteRecord {
            id: "10042".into(),
            updated_by: String::new(),
            fields,
        }
    }

    pub(crate) fn stored(new: NewItem, number: i64) -> Item {
        Item {
            key: tandem_model::ItemKey {
                project: new.project,
                number,
            },
            summary: new.summary,
            description: new.description,
            status: new.status,
            priority: new.priority,
            assignee: new.assignee,
            reporter: new.reporter,
            labels: new.labels,
            custom_fields: new.custom_fields,
            item_type: new.item_type,
            parent: new.parent,
            comments: Vec::new(),
            attachments: Vec::new(),
            created: jiff::Timestamp::UNIX_EPOCH,
            updated: jiff::Timestamp::UNIX_EPOCH,
            version: 1,
        }
    }

    pub(crate) fn mirror(s: &JiraSchema, r: &RemoteRecord) -> Item {
        stored(s.new_item(r, &"SUP".parse().expect("key")), 1)
    }

    fn apply(item: &mut Item, patch: &ItemPatch) {
        patch.apply(item);
    }

    #[test]
    fn projects_keep_their_jira_keys_where_the_store_takes_them() {
        let p = projects(&["SUP".into(), "ops".into(), "A_B".into(), "SUP".into()]);
        let keys: Vec<String> = p.iter().map(|(_, k)| k.to_string()).collect();
        assert_eq!(keys, ["SUP", "OPS", "AB", "SUP2"]);
        assert_eq!(p.collection_of(&"OPS".parse().expect("key")), Some("ops"));
    }

    #[test]
    fn an_issue_becomes_an_item_in_both_flavours() {
        for flavour in [Flavour::Cloud, Flavour::DataCenter] {
            let s = schema(flavour);
            let item = mirror(&s, &issue(flavour));
            assert_eq!(item.summary, "Printer on fire");
            assert_eq!(item.description, DESCRIPTION, "{flavour:?}");
            assert_eq!(item.status, Status::InProgress, "from the category");
            assert_eq!(item.priority, Priority::High);
            assert_eq!(item.labels, ["fire"], "correlation labels stay in Jira");
            assert_eq!(item.item_type, ItemType::Bug);
            let alex = item.assignee.clone().expect("assignee");
            assert_eq!(alex.name, "Alex Agent");
            assert_eq!(alex.email.as_deref(), Some("alex.agent@example.com"));
            assert_eq!(
                item.reporter.clone().expect("reporter").name,
                "Ana Reporter"
            );
            let cf = &item.custom_fields;
            assert_eq!(cf["issuekey"], json!("SUP-12"));
            assert_eq!(cf["id"], json!("10042"));
            assert_eq!(cf["status"]["name"], json!("In Review"), "the name stays");
            assert_eq!(cf["status"]["value"], json!("In Review"), "queryable");
            assert_eq!(cf["parent"]["value"], json!("SUP-3"));
            assert_eq!(cf["Severity"], json!({"id": "10020", "value": "Sev 2"}));
            assert_eq!(cf["Story Points"], json!(5.0));
            // Two fields named Team, and one named like a system field: kept by id.
            assert_eq!(cf["customfield_10012"], json!("Ops"));
            assert_eq!(cf["customfield_10013"], json!("Dev"));
            assert_eq!(cf["customfield_10014"], json!(["x"]));
            for gone in [
                "summary",
                "description",
                "labels",
                "comment",
                "attachment",
                "lastViewed",
                "resolution",
                "customfield_10099",
            ] {
                assert!(!cf.contains_key(gone), "{gone}");
            }
            assert!(item.clone().custom_fields.contains_key("created"));
            assert_eq!(s.display_key(&item), Some("SUP-12"));
        }
    }

    #[test]
    fn a_pull_then_a_push_changes_nothing() {
        for flavour in [Flavour::Cloud, Flavour::DataCenter] {
            let s = schema(flavour);
            let r = issue(flavour);
            let item = mirror(&s, &r);
            let base = s.snapshot(&r);
            assert_eq!(s.local_changes(&item, &base), Fields::new(), "{flavour:?}");
            assert_eq!(s.pull_patch(&item, &r, Some(&base)), ItemPatch::default());
            assert_eq!(s.pull_patch(&item, &r, None), ItemPatch::default());
        }
    }

    #[test]
    fn a_concurrent_change_of_another_field_survives_both_ways() {
        let s = schema(Flavour::Cloud);
        let r = issue(Flavour::Cloud);
        let base = s.snapshot(&r);
        let mut item = mirror(&s, &r);
        // Here: a new summary and severity. In Jira, meanwhile: priority and a label.
        item.summary = "Printer on fire (3rd floor)".into();
        item.custom_fields
            .insert("Severity".into(), json!({"value": "Sev 1"}));
        let mut jira = r.clone();
        jira.fields
            .insert("priority".into(), json!({"id": "1", "name": "Highest"}));
        jira.fields
            .insert("labels".into(), json!(["fire", "hot", "tandem-corr-1"]));
        let pull = s.pull_patch(&item, &jira, Some(&base));
        assert_eq!(pull.summary, None, "the local summary is kept");
        assert_eq!(pull.priority, Some(Priority::Highest));
        assert_eq!(
            pull.labels.as_deref(),
            Some(&["fire".into(), "hot".into()][..])
        );
        let cf = pull.custom_fields.clone().expect("fields");
        assert_eq!(cf.keys().collect::<Vec<_>>(), ["priority"], "{cf:?}");
        apply(&mut item, &pull);
        // The push then writes only what changed here.
        let push = s.local_changes(&item, &s.snapshot(&jira));
        assert_eq!(
            push,
            json!({"summary": "Printer on fire (3rd floor)", "Severity": {"value": "Sev 1"}})
                .as_object()
                .cloned()
                .expect("object")
        );
    }

    #[test]
    fn a_push_writes_changed_fields_as_jira_takes_them_and_never_computed_ones() {
        let s = schema(Flavour::Cloud);
        let r = issue(Flavour::Cloud);
        let base = s.snapshot(&r);
        let mut item = mirror(&s, &r);
        item.description = "Now *fixed*".into();
        item.labels = vec!["done".into()];
        item.status = Status::Done;
        item.priority = Priority::Low;
        item.assignee = Some(Person {
            name: "Bo".into(),
            email: Some("bo@example.com".into()),
        });
        item.reporter = None;
        for computed in ["issuekey", "id", "created", "updated", "creator", "votes"] {
            item.custom_fields
                .insert(computed.into(), json!("tampered"));
        }
        item.custom_fields
            .insert("resolution".into(), json!({"name": "Fixed"}));
        item.custom_fields.shift_remove("duedate");
        let push = s.local_changes(&item, &base);
        assert_eq!(push["description"], json!("Now *fixed*"), "Markdown");
        assert_eq!(push["labels"], json!(["done", "tandem-corr-1"]));
        assert_eq!(
            push["status"],
            json!("Done"),
            "by name, through the workflow"
        );
        assert_eq!(push["resolution"], json!("Fixed"), "with the status");
        assert_eq!(push["priority"], json!("Low"));
        assert_eq!(push["assignee"], json!("bo@example.com"));
        assert_eq!(push["reporter"], Value::Null);
        assert_eq!(push["duedate"], Value::Null, "cleared");
        for computed in [
            "issuekey", "id", "created", "updated", "creator", "votes", "summary",
        ] {
            assert!(!push.contains_key(computed), "{computed}: {push:?}");
        }
        // A status the rules named goes by its Jira name; a resolution alone is not written.
        let mut item = mirror(&s, &r);
        item.custom_fields.insert(
            "status".into(),
            json!({"name": "Waiting", "value": "Waiting"}),
        );
        assert_eq!(
            s.local_changes(&item, &base),
            json!({"status": "Waiting"})
                .as_object()
                .cloned()
                .expect("object")
        );
        let mut item = mirror(&s, &r);
        item.custom_fields
            .insert("resolution".into(), json!({"name": "Fixed"}));
        assert!(s.local_changes(&item, &base).is_empty());
    }

    #[test]
    fn a_create_carries_the_item_and_what_the_rules_named() {
        let s = schema(Flavour::Cloud);
        let mut new = NewItem::new("SUP".parse().expect("key"), "From ServiceNow");
        new.description = "**bold**".into();
        new.labels = vec!["sn".into()];
        new.priority = Priority::High;
        new.status = Status::InProgress;
        new.item_type = ItemType::Bug;
        new.assignee = Some(Person {
            name: "Alex".into(),
            email: Some("alex.agent@example.com".into()),
        });
        new.custom_fields
            .insert("Severity".into(), json!({"value": "Sev 1"}));
        let item = stored(new, 1);
        let fields = s.record_fields(&item);
        assert_eq!(
            fields,
            json!({
                "summary": "From ServiceNow", "description": "**bold**", "labels": ["sn"],
                "Severity": {"value": "Sev 1"}, "issuetype": "Bug", "status": "In Progress",
                "priority": "High", "assignee": "alex.agent@example.com",
            })
            .as_object()
            .cloned()
            .expect("object")
        );
        // Defaults are left to Jira; a mirrored issue's own fields are not copied into a new one.
        let plain = stored(NewItem::new("SUP".parse().expect("key"), "x"), 2);
        assert_eq!(
            s.record_fields(&plain),
            json!({"summary": "x", "issuetype": "Task"})
                .as_object()
                .cloned()
                .expect("object")
        );
        let copy = s.record_fields(&mirror(&s, &issue(Flavour::Cloud)));
        for computed in [
            "issuekey",
            "id",
            "created",
            "project",
            "creator",
            "resolution",
        ] {
            assert!(!copy.contains_key(computed), "{computed}");
        }
        assert_eq!(copy["status"], json!("In Review"));
        assert_eq!(copy["issuetype"], json!("Bug"));
    }

    #[test]
    fn a_field_gone_from_jira_is_removed_from_the_item() {
        let s = schema(Flavour::Cloud);
        let r = issue(Flavour::Cloud);
        let base = s.snapshot(&r);
        let item = mirror(&s, &r);
        let mut jira = r.clone();
        jira.fields.insert("customfield_10010".into(), Value::Null);
        let patch = s.pull_patch(&item, &jira, Some(&base));
        assert_eq!(
            patch.custom_fields.expect("fields")["Severity"],
            Value::Null
        );
    }

    mod random {
        use proptest::prelude::*;
        use proptest::test_runner::{Config, RngSeed};

        use super::*;

        fn config() -> Config {
            Config {
                cases: 128,
                failure_persistence: None,
                rng_seed: RngSeed::Fixed(17),
                ..Config::default()
            }
        }

        fn leaf() -> impl Strategy<Value = Value> {
            prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::from),
                (-1000i64..1000).prop_map(Value::from),
                "[ -~]{0,12}".prop_map(Value::from),
                "[A-Za-z ]{1,10}".prop_map(|n| json!({"name": n})),
                "[A-Za-z ]{1,10}".prop_map(|v| json!({"value": v, "id": "1"})),
            ]
        }

        fn record() -> impl Strategy<Value = RemoteRecord> {
            (
                "[ -~]{0,300}",
                "[ -~\n*#_`]{0,200}",
                prop::collection::vec("[a-z0-9-]{1,8}", 0..4),
                prop_oneof![
                    Just("new"),
                    Just("indeterminate"),
                    Just("done"),
                    Just("odd")
                ],
                "[A-Za-z ]{0,10}",
                prop::collection::vec(("[a-zA-Z_]{1,12}", leaf()), 0..8),
                any::<bool>(),
            )
                .prop_map(|(summary, md, labels, category, name, extra, dc)| {
                    let flavour = if dc {
                        Flavour::DataCenter
                    } else {
                        Flavour::Cloud
                    };
                    let mut r = issue(flavour);
                    let f = &mut r.fields;
                    f.insert("summary".into(), json!(summary));
                    f.insert(
                        "description".into(),
                        match flavour {
                            Flavour::Cloud => adf::from_markdown(&md).value,
                            Flavour::DataCenter => json!(wiki::from_markdown(&md).value),
                        },
                    );
                    f.insert("labels".into(), json!(labels));
                    f.insert(
                        "status".into(),
                        json!({"name": name, "statusCategory": {"key": category}}),
                    );
                    f.insert("priority".into(), json!({"name": name}));
                    f.insert("issuetype".into(), json!({"name": name}));
                    for (k, v) in extra {
                        f.insert(k, v);
                    }
                    if dc {
                        r.id = "7".into();
                    }
                    r
                })
        }

        proptest! {
            #![proptest_config(config())]

            #[test]
            fn a_mirrored_record_has_no_local_changes(r in record()) {
                for flavour in [Flavour::Cloud, Flavour::DataCenter] {
                    let s = schema(flavour);
                    let item = mirror(&s, &r);
                    let base = s.snapshot(&r);
                    prop_assert_eq!(s.local_changes(&item, &base), Fields::new());
                    prop_assert_eq!(s.pull_patch(&item, &r, Some(&base)), ItemPatch::default());
                }
            }
        }
    }
}
