//! The emulated site's data: users, projects, issue types, priorities, resolutions, the
//! workflow, the field catalogue, and issues with their comments, attachments and change
//! history; and the writes integrations make (create, edit, transition, delete, comment,
//! attach), each checked as Jira checks it and recorded in the changelog.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde_json::{Map, Value, json};

use super::adf;
use super::error::ApiError;
use super::fields::{self, FieldDef, Kind};
use super::jql::{self, FieldValue};
use super::workflow::Workflow;

/// Which Jira the emulator plays.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Flavour {
    /// Jira Cloud: REST v3 (ADF) and v2, users by accountId, Basic email:API-token.
    #[default]
    Cloud,
    /// Jira Data Center: REST v2 only (wiki markup), users by name, Bearer personal access
    /// tokens (and Basic user:password).
    Dc,
}

#[derive(Debug, Clone)]
pub struct User {
    pub account_id: String,
    /// DC's user name (`name`/`key`).
    pub name: String,
    pub email: String,
    pub display_name: String,
    pub active: bool,
}

#[derive(Debug, Clone)]
pub struct Named {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone)]
pub struct Project {
    pub id: String,
    pub key: String,
    pub name: String,
    pub lead: String,
    pub components: Vec<Named>,
    pub versions: Vec<Named>,
    next_number: u64,
}

#[derive(Debug, Clone)]
pub struct IssueType {
    pub id: String,
    pub name: String,
    pub description: String,
    pub subtask: bool,
    /// -1 sub-task, 0 standard, 1 epic.
    pub hierarchy: i32,
}

#[derive(Debug, Clone)]
pub struct Comment {
    pub id: u64,
    pub author: String,
    pub update_author: String,
    /// ADF.
    pub body: Value,
    pub created: Timestamp,
    pub updated: Timestamp,
    pub visibility: Option<Value>,
    /// False for Jira Service Management internal comments (`sd.public.comment`).
    pub public: bool,
}

#[derive(Debug, Clone)]
pub struct Attachment {
    pub id: u64,
    pub issue: u64,
    pub filename: String,
    pub mime_type: String,
    pub bytes: Vec<u8>,
    pub author: String,
    pub created: Timestamp,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChangeItem {
    pub field: String,
    pub field_type: &'static str,
    pub field_id: String,
    pub from: Option<String>,
    pub from_string: Option<String>,
    pub to: Option<String>,
    pub to_string: Option<String>,
}

#[derive(Debug, Clone)]
pub struct History {
    pub id: u64,
    pub author: String,
    pub created: Timestamp,
    pub items: Vec<ChangeItem>,
}

#[derive(Debug, Clone)]
pub struct Issue {
    pub id: u64,
    pub key: String,
    pub project: String,
    pub issue_type: String,
    pub status: String,
    /// Settable fields by id, in the emulator's stored form (see `accept`).
    pub values: BTreeMap<String, Value>,
    pub creator: String,
    pub created: Timestamp,
    pub updated: Timestamp,
    pub resolution_date: Option<Timestamp>,
    pub comments: Vec<Comment>,
    pub attachments: Vec<u64>,
    /// Oldest first.
    pub changelog: Vec<History>,
}

/// A registered webhook (`/rest/api/3/webhook`).
#[derive(Debug, Clone)]
pub struct Webhook {
    pub id: u64,
    /// Admin webhooks (`/rest/webhooks/1.0/webhook`) have a name; dynamic ones do not.
    pub name: Option<String>,
    /// Signs deliveries (`X-Hub-Signature: sha256=…`) when set.
    pub secret: Option<String>,
    pub url: String,
    pub events: Vec<String>,
    pub jql: String,
    pub query: jql::Query,
    pub field_ids: Vec<String>,
    pub expires: Timestamp,
}

/// What registering a webhook takes.
pub struct NewWebhook<'a> {
    pub name: Option<String>,
    pub secret: Option<String>,
    pub url: &'a str,
    pub events: Vec<String>,
    pub jql: &'a str,
    pub field_ids: Vec<String>,
}

pub const WEBHOOK_EVENTS: &[&str] = &[
    "jira:issue_created",
    "jira:issue_updated",
    "jira:issue_deleted",
    "comment_created",
    "comment_updated",
    "comment_deleted",
    "issue_property_set",
    "issue_property_deleted",
];

/// The stored values a write sets by field id (`None` clears), and the comment bodies its
/// `update.comment` adds.
type Changes = (BTreeMap<String, Option<Value>>, Vec<Value>);

/// The site.
pub struct Site {
    pub flavour: Flavour,
    pub users: Vec<User>,
    pub projects: Vec<Project>,
    pub issue_types: Vec<IssueType>,
    pub priorities: Vec<Named>,
    pub resolutions: Vec<Named>,
    pub workflow: Workflow,
    pub fields: Vec<FieldDef>,
    pub issues: BTreeMap<u64, Issue>,
    pub attachments: BTreeMap<u64, Attachment>,
    pub webhooks: Vec<Webhook>,
    pub clock_offset_ms: i64,
    pub max_attachment_bytes: usize,
    next_issue: u64,
    next_comment: u64,
    next_attachment: u64,
    next_history: u64,
    next_webhook: u64,
    last_now: Timestamp,
}

/// A user seed: who exists on the site.
#[derive(Debug, Clone)]
pub struct UserSeed {
    pub email: String,
    pub display_name: String,
}

/// A Cloud-style accountId derived from the e-mail: 24 hex digits, stable across restarts.
pub fn account_id(email: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(email.to_lowercase().as_bytes());
    let hex: String = digest.iter().take(12).map(|b| format!("{b:02x}")).collect();
    format!("5f{}", &hex[2..])
}

fn named(id: &str, name: &str) -> Named {
    Named {
        id: id.into(),
        name: name.into(),
    }
}

impl Site {
    pub fn new(flavour: Flavour, users: &[UserSeed], projects: &[(String, String)]) -> Self {
        let users: Vec<User> = users
            .iter()
            .map(|u| User {
                account_id: account_id(&u.email),
                name: u.email.split('@').next().unwrap_or(&u.email).to_owned(),
                email: u.email.clone(),
                display_name: u.display_name.clone(),
                active: true,
            })
            .collect();
        let lead = users
            .first()
            .map(|u| u.account_id.clone())
            .unwrap_or_default();
        let projects = projects
            .iter()
            .enumerate()
            .map(|(i, (key, name))| {
                let base = 10_000 + i as u64 * 100;
                Project {
                    id: base.to_string(),
                    key: key.clone(),
                    name: name.clone(),
                    lead: lead.clone(),
                    components: vec![
                        named(&(base + 1).to_string(), "Backend"),
                        named(&(base + 2).to_string(), "Frontend"),
                    ],
                    versions: vec![
                        named(&(base + 11).to_string(), "1.0"),
                        named(&(base + 12).to_string(), "2.0"),
                    ],
                    next_number: 1,
                }
            })
            .collect();
        let it =
            |id: &str, name: &str, subtask: bool, hierarchy: i32, description: &str| IssueType {
                id: id.into(),
                name: name.into(),
                description: description.into(),
                subtask,
                hierarchy,
            };
        Self {
            flavour,
            users,
            projects,
            issue_types: vec![
                it(
                    "10000",
                    "Epic",
                    false,
                    1,
                    "A big user story that needs to be broken down.",
                ),
                it(
                    "10001",
                    "Task",
                    false,
                    0,
                    "A small, distinct piece of work.",
                ),
                it("10002", "Bug", false, 0, "A problem or error."),
                it(
                    "10003",
                    "Story",
                    false,
                    0,
                    "Functionality or a feature expressed as a user goal.",
                ),
                it(
                    "10004",
                    "Sub-task",
                    true,
                    -1,
                    "A small piece of work that's part of a larger task.",
                ),
            ],
            priorities: vec![
                named("1", "Highest"),
                named("2", "High"),
                named("3", "Medium"),
                named("4", "Low"),
                named("5", "Lowest"),
            ],
            resolutions: vec![
                named("10000", "Done"),
                named("10001", "Won't Do"),
                named("10002", "Duplicate"),
            ],
            workflow: Workflow::default(),
            fields: fields::catalogue(),
            issues: BTreeMap::new(),
            attachments: BTreeMap::new(),
            webhooks: Vec::new(),
            clock_offset_ms: 0,
            max_attachment_bytes: 10 * 1024 * 1024,
            next_issue: 10_000,
            next_comment: 10_000,
            next_attachment: 10_000,
            next_history: 10_000,
            next_webhook: 1,
            last_now: Timestamp::UNIX_EPOCH,
        }
    }

    /// The emulator's clock: real time moved by the test's offset, never going back and
    /// advancing at least a millisecond per call, so writes have distinct `updated` stamps.
    pub fn now(&mut self) -> Timestamp {
        let t = self.peek_now();
        let t = if t <= self.last_now {
            self.last_now
                .checked_add(jiff::SignedDuration::from_millis(1))
                .unwrap_or(self.last_now)
        } else {
            t
        };
        self.last_now = t;
        t
    }

    /// The clock without advancing it.
    pub fn peek_now(&self) -> Timestamp {
        let now = Timestamp::now();
        let t = now
            .checked_add(jiff::SignedDuration::from_millis(self.clock_offset_ms))
            .unwrap_or(now);
        // Jira keeps milliseconds.
        Timestamp::from_millisecond(t.as_millisecond()).unwrap_or(t)
    }

    // --- look-ups --------------------------------------------------------------------------

    pub fn user(&self, account_id: &str) -> Option<&User> {
        self.users.iter().find(|u| u.account_id == account_id)
    }

    /// A user from a reference as written: `{"accountId"}` on Cloud, `{"name"}`/`{"key"}` on DC.
    fn user_ref(&self, v: &Value) -> Option<&User> {
        match self.flavour {
            Flavour::Cloud => v
                .get("accountId")
                .or_else(|| v.get("id"))
                .and_then(Value::as_str)
                .and_then(|id| self.user(id)),
            Flavour::Dc => v
                .get("name")
                .or_else(|| v.get("key"))
                .and_then(Value::as_str)
                .and_then(|n| self.users.iter().find(|u| u.name == n)),
        }
    }

    pub fn project(&self, id_or_key: &str) -> Option<&Project> {
        self.projects
            .iter()
            .find(|p| p.id == id_or_key || p.key.eq_ignore_ascii_case(id_or_key))
    }

    pub fn issue_type(&self, id: &str) -> Option<&IssueType> {
        self.issue_types.iter().find(|t| t.id == id)
    }

    pub fn field(&self, id: &str) -> Option<&FieldDef> {
        self.fields.iter().find(|f| f.id == id)
    }

    /// An issue by id or key (keys case-insensitively, as Jira finds them).
    pub fn issue_id(&self, id_or_key: &str) -> Option<u64> {
        if let Ok(id) = id_or_key.parse::<u64>() {
            return self.issues.contains_key(&id).then_some(id);
        }
        self.issues
            .values()
            .find(|i| i.key.eq_ignore_ascii_case(id_or_key))
            .map(|i| i.id)
    }

    pub fn issue(&self, id_or_key: &str) -> Result<&Issue, ApiError> {
        self.issue_id(id_or_key)
            .and_then(|id| self.issues.get(&id))
            .ok_or_else(ApiError::no_issue)
    }

    pub fn subtasks(&self, id: u64) -> impl Iterator<Item = &Issue> {
        self.issues
            .values()
            .filter(move |i| i.values.get("parent").and_then(Value::as_u64) == Some(id))
    }

    // --- values ----------------------------------------------------------------------------

    /// Checks a written value and gives its stored form (`None` clears the field).
    fn accept(
        &self,
        def: &FieldDef,
        v: &Value,
        v2: bool,
        project: &Project,
    ) -> Result<Option<Value>, String> {
        if v.is_null() {
            if def.id == "summary" {
                return Err("You must specify a summary of the issue.".into());
            }
            return Ok(None);
        }
        let invalid = || format!("Specify a valid value for {}", def.name);
        Ok(Some(match &def.kind {
            Kind::Text => {
                let s = v
                    .as_str()
                    .ok_or_else(|| "Operation value must be a string".to_owned())?;
                if def.id == "summary" {
                    if s.trim().is_empty() {
                        return Err("You must specify a summary of the issue.".into());
                    }
                    if s.chars().count() > 255 {
                        return Err("Summary must be less than 255 characters.".into());
                    }
                    if s.contains('\n') {
                        return Err(
                            "The summary is invalid because it contains newline characters.".into(),
                        );
                    }
                }
                json!(s)
            }
            Kind::Rich => {
                if v2 {
                    adf::from_wiki(v.as_str().ok_or("Operation value must be a string")?)
                } else {
                    adf::validate(v)?;
                    v.clone()
                }
            }
            Kind::Number => json!(
                v.as_f64()
                    .ok_or_else(|| "Operation value must be a number".to_owned())?
            ),
            Kind::Date => json!(fields::date(v)?),
            Kind::User => json!(
                self.user_ref(v)
                    .ok_or_else(|| user_error(self.flavour, v))?
                    .account_id
            ),
            Kind::MultiUser => {
                let list = v.as_array().ok_or_else(invalid)?;
                let ids: Result<Vec<String>, String> = list
                    .iter()
                    .map(|u| {
                        self.user_ref(u)
                            .map(|u| u.account_id.clone())
                            .ok_or_else(|| user_error(self.flavour, u))
                    })
                    .collect();
                json!(ids?)
            }
            Kind::Select(options) => {
                let o = fields::find_option(options, v).ok_or_else(|| {
                    format!(
                        "Option value '{}' is not valid",
                        v.get("value").or_else(|| v.get("id")).unwrap_or(v)
                    )
                })?;
                json!(o.id)
            }
            Kind::Cascading(options) => {
                let parent = fields::find_option(options, v).ok_or_else(invalid)?;
                let child = match v.get("child") {
                    None | Some(Value::Null) => None,
                    Some(c) => Some(
                        fields::find_option(&parent.children, c)
                            .ok_or_else(|| {
                                format!(
                                    "Option value '{}' is not valid for parent '{}'",
                                    c.get("value").unwrap_or(c),
                                    parent.value
                                )
                            })?
                            .id
                            .clone(),
                    ),
                };
                json!({ "parent": parent.id, "child": child })
            }
            Kind::Labels => {
                let list = v.as_array().ok_or_else(invalid)?;
                let mut labels = Vec::new();
                for l in list {
                    labels.push(label(l)?);
                }
                json!(labels)
            }
            Kind::Priority => {
                let p = self
                    .priority_ref(v)
                    .ok_or("The priority selected is invalid.")?;
                json!(p)
            }
            Kind::Components | Kind::Versions => {
                let list = v.as_array().ok_or_else(invalid)?;
                let mut ids = Vec::new();
                for item in list {
                    ids.push(project_ref(def, project, item)?);
                }
                json!(ids)
            }
            Kind::Parent => {
                let key = v
                    .get("key")
                    .or_else(|| v.get("id"))
                    .and_then(Value::as_str)
                    .ok_or_else(invalid)?;
                let id = self
                    .issue_id(key)
                    .ok_or_else(|| "Could not find issue by id or key.".to_owned())?;
                json!(id)
            }
            Kind::Resolution => {
                let r = self
                    .named_ref(&self.resolutions, v)
                    .ok_or("The resolution selected is invalid.")?;
                json!(r)
            }
            Kind::IssueType | Kind::Project | Kind::ReadOnly => return Err(not_on_screen(&def.id)),
        }))
    }

    fn priority_ref(&self, v: &Value) -> Option<String> {
        self.named_ref(&self.priorities, v)
    }

    fn named_ref(&self, list: &[Named], v: &Value) -> Option<String> {
        let id = v.get("id").and_then(Value::as_str);
        let name = v.get("name").and_then(Value::as_str);
        list.iter()
            .find(|n| {
                Some(n.id.as_str()) == id || name.is_some_and(|x| n.name.eq_ignore_ascii_case(x))
            })
            .map(|n| n.id.clone())
    }

    /// Applies one `update` operation to a field's stored value.
    fn operate(
        &self,
        def: &FieldDef,
        current: Option<&Value>,
        op: &str,
        arg: &Value,
        v2: bool,
        project: &Project,
    ) -> Result<Option<Value>, String> {
        let multi = matches!(
            def.kind,
            Kind::Labels | Kind::Components | Kind::Versions | Kind::MultiUser
        );
        match op {
            "set" => self.accept(def, arg, v2, project),
            "add" | "remove" if multi => {
                let one = match self.accept(def, &Value::Array(vec![arg.clone()]), v2, project)? {
                    Some(Value::Array(mut v)) if v.len() == 1 => v.remove(0),
                    _ => return Err(format!("Invalid value for {}", def.name)),
                };
                let mut list: Vec<Value> = current
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                if op == "add" {
                    if !list.contains(&one) {
                        list.push(one);
                    }
                } else {
                    list.retain(|x| *x != one);
                }
                Ok(Some(Value::Array(list)))
            }
            _ => Err(format!(
                "Field '{}' does not support the '{op}' operation.",
                def.id
            )),
        }
    }

    /// `fields` and `update` of a create or edit body: the new stored values by field id, or
    /// Jira's per-field errors.
    fn changes(
        &self,
        body: &Value,
        current: &BTreeMap<String, Value>,
        v2: bool,
        project: &Project,
        creating: bool,
    ) -> Result<Changes, ApiError> {
        let mut errors = Map::new();
        let mut out: BTreeMap<String, Option<Value>> = BTreeMap::new();
        let mut comments = Vec::new();
        if let Some(f) = body.get("fields") {
            let Some(f) = f.as_object() else {
                return Err(ApiError::bad_request("Field 'fields' must be an object."));
            };
            for (id, v) in f {
                if creating && (id == "project" || id == "issuetype") {
                    continue;
                }
                match self.field(id).filter(|d| d.settable()) {
                    None => {
                        errors.insert(id.clone(), json!(not_on_screen(id)));
                    }
                    Some(def) => match self.accept(def, v, v2, project) {
                        Ok(val) => {
                            out.insert(id.clone(), val);
                        }
                        Err(e) => {
                            errors.insert(id.clone(), json!(e));
                        }
                    },
                }
            }
        }
        if let Some(u) = body.get("update") {
            let Some(u) = u.as_object() else {
                return Err(ApiError::bad_request("Field 'update' must be an object."));
            };
            for (id, ops) in u {
                let Some(ops) = ops.as_array() else {
                    errors.insert(id.clone(), json!("Operations must be a list."));
                    continue;
                };
                if id == "comment" {
                    for op in ops {
                        match op.get("add").and_then(|a| a.get("body")) {
                            Some(body) => comments.push(body.clone()),
                            None => {
                                errors.insert(
                                    "comment".into(),
                                    json!("Only 'add' with a body is supported for comment."),
                                );
                            }
                        }
                    }
                    continue;
                }
                if out.contains_key(id) {
                    errors.insert(
                        id.clone(),
                        json!(format!(
                            "Field '{id}' cannot be set in both 'fields' and 'update'."
                        )),
                    );
                    continue;
                }
                let Some(def) = self.field(id).filter(|d| d.settable()) else {
                    errors.insert(id.clone(), json!(not_on_screen(id)));
                    continue;
                };
                let mut value = current.get(id).cloned();
                for op in ops {
                    let Some((name, arg)) = op.as_object().and_then(|o| o.iter().next()) else {
                        errors.insert(
                            id.clone(),
                            json!("Each operation is an object such as {\"set\": value}."),
                        );
                        break;
                    };
                    match self.operate(def, value.as_ref(), name, arg, v2, project) {
                        Ok(v) => value = v,
                        Err(e) => {
                            errors.insert(id.clone(), json!(e));
                            break;
                        }
                    }
                }
                out.insert(id.clone(), value);
            }
        }
        if errors.is_empty() {
            Ok((out, comments))
        } else {
            Err(ApiError::fields(errors))
        }
    }

    fn check_parent(
        &self,
        issue_type: &IssueType,
        project: &Project,
        parent: Option<u64>,
    ) -> Result<(), ApiError> {
        match (issue_type.subtask, parent.and_then(|p| self.issues.get(&p))) {
            (true, None) => Err(ApiError::field(
                "parent",
                "Sub-tasks must be created with a parent issue.",
            )),
            (true, Some(p)) => {
                let ptype = self.issue_type(&p.issue_type);
                if p.project != project.id || ptype.is_none_or(|t| t.subtask) {
                    Err(ApiError::field(
                        "parent",
                        "Given parent work item does not belong to appropriate hierarchy.",
                    ))
                } else {
                    Ok(())
                }
            }
            (false, Some(p)) => {
                let level = self.issue_type(&p.issue_type).map_or(0, |t| t.hierarchy);
                if level != issue_type.hierarchy + 1 {
                    Err(ApiError::field(
                        "parent",
                        "Given parent work item does not belong to appropriate hierarchy.",
                    ))
                } else {
                    Ok(())
                }
            }
            (false, None) => Ok(()),
        }
    }

    // --- writes ----------------------------------------------------------------------------

    /// `POST /issue`: the new issue's id.
    pub fn create(&mut self, caller: &str, body: &Value, v2: bool) -> Result<u64, ApiError> {
        let fields = body.get("fields").and_then(Value::as_object);
        let mut errors = Map::new();
        let project = fields
            .and_then(|f| f.get("project"))
            .and_then(|p| p.get("key").or_else(|| p.get("id")))
            .and_then(Value::as_str)
            .and_then(|p| self.project(p))
            .cloned();
        if project.is_none() {
            errors.insert("project".into(), json!("Specify a valid project ID or key"));
        }
        let issue_type = fields.and_then(|f| f.get("issuetype")).and_then(|t| {
            let id = t.get("id").and_then(Value::as_str);
            let name = t.get("name").and_then(Value::as_str);
            self.issue_types
                .iter()
                .find(|it| {
                    Some(it.id.as_str()) == id
                        || name.is_some_and(|n| it.name.eq_ignore_ascii_case(n))
                })
                .cloned()
        });
        if issue_type.is_none() {
            errors.insert("issuetype".into(), json!("Specify an issue type"));
        }
        let (Some(project), Some(issue_type)) = (project, issue_type) else {
            return Err(ApiError::fields(errors));
        };
        let (changes, comments) = self.changes(body, &BTreeMap::new(), v2, &project, true)?;
        let mut values: BTreeMap<String, Value> = changes
            .into_iter()
            .filter_map(|(k, v)| Some((k, v?)))
            .collect();
        if !values.contains_key("summary") {
            return Err(ApiError::field(
                "summary",
                "You must specify a summary of the issue.",
            ));
        }
        self.check_parent(
            &issue_type,
            &project,
            values.get("parent").and_then(Value::as_u64),
        )?;
        values
            .entry("reporter".into())
            .or_insert_with(|| json!(caller));
        values
            .entry("priority".into())
            .or_insert_with(|| json!("3"));
        let now = self.now();
        let id = self.next_issue;
        self.next_issue += 1;
        let p = self
            .projects
            .iter_mut()
            .find(|p| p.id == project.id)
            .ok_or_else(ApiError::no_issue)?;
        let key = format!("{}-{}", p.key, p.next_number);
        p.next_number += 1;
        let mut issue = Issue {
            id,
            key,
            project: project.id.clone(),
            issue_type: issue_type.id.clone(),
            status: self.workflow.initial.clone(),
            values,
            creator: caller.to_owned(),
            created: now,
            updated: now,
            resolution_date: None,
            comments: Vec::new(),
            attachments: Vec::new(),
            changelog: Vec::new(),
        };
        for body in comments {
            let c = self.new_comment(caller, &body, v2, None, true, now)?;
            issue.comments.push(c);
        }
        self.issues.insert(id, issue);
        Ok(id)
    }

    /// `PUT /issue/{key}`: the change recorded, if anything changed.
    pub fn edit(
        &mut self,
        caller: &str,
        id: u64,
        body: &Value,
        v2: bool,
    ) -> Result<Option<History>, ApiError> {
        let issue = self.issues.get(&id).ok_or_else(ApiError::no_issue)?;
        let project = self
            .project(&issue.project)
            .cloned()
            .ok_or_else(ApiError::no_issue)?;
        if let Some(f) = body.get("fields").and_then(Value::as_object) {
            for read_only in ["project", "issuetype", "status"] {
                if f.contains_key(read_only) {
                    return Err(ApiError::field(read_only, not_on_screen(read_only)));
                }
            }
        }
        let (changes, comments) = self.changes(body, &issue.values, v2, &project, false)?;
        if let Some(Some(parent)) = changes.get("parent") {
            let t = self
                .issue_type(&issue.issue_type)
                .cloned()
                .ok_or_else(ApiError::no_issue)?;
            if parent.as_u64() == Some(id) {
                return Err(ApiError::field(
                    "parent",
                    "An issue cannot be its own parent.",
                ));
            }
            self.check_parent(&t, &project, parent.as_u64())?;
        }
        let items = self.change_items(id, &changes);
        let now = self.now();
        let mut new_comments = Vec::new();
        for body in comments {
            new_comments.push(self.new_comment(caller, &body, v2, None, true, now)?);
        }
        let history = self.record(id, caller, items, now);
        let issue = self.issues.get_mut(&id).ok_or_else(ApiError::no_issue)?;
        for (k, v) in changes {
            match v {
                Some(v) => issue.values.insert(k, v),
                None => issue.values.remove(&k),
            };
        }
        if history.is_some() || !new_comments.is_empty() {
            issue.updated = now;
        }
        issue.comments.extend(new_comments);
        Ok(history)
    }

    fn change_items(&self, id: u64, changes: &BTreeMap<String, Option<Value>>) -> Vec<ChangeItem> {
        let Some(issue) = self.issues.get(&id) else {
            return Vec::new();
        };
        changes
            .iter()
            .filter(|(k, v)| issue.values.get(*k) != v.as_ref())
            .filter_map(|(k, v)| {
                let def = self.field(k)?;
                let (from, from_string) = self.display(def, issue.values.get(k));
                let (to, to_string) = self.display(def, v.as_ref());
                Some(ChangeItem {
                    field: if def.custom() {
                        def.name.clone()
                    } else {
                        k.clone()
                    },
                    field_type: if def.custom() { "custom" } else { "jira" },
                    field_id: k.clone(),
                    from,
                    from_string,
                    to,
                    to_string,
                })
            })
            .collect()
    }

    /// A stored value as the changelog shows it: (`from`/`to` ids, `fromString`/`toString`).
    pub fn display(&self, def: &FieldDef, v: Option<&Value>) -> (Option<String>, Option<String>) {
        let Some(v) = v else {
            return (None, None);
        };
        let list = |v: &Value| -> Vec<String> {
            v.as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        match &def.kind {
            Kind::Rich => (None, Some(adf::to_wiki(v))),
            Kind::Text | Kind::Date => (None, v.as_str().map(str::to_owned)),
            Kind::Number => (None, Some(v.to_string())),
            Kind::User => {
                let id = v.as_str().unwrap_or_default();
                (
                    Some(id.to_owned()),
                    self.user(id).map(|u| u.display_name.clone()),
                )
            }
            Kind::MultiUser => {
                let ids = list(v);
                let names: Vec<String> = ids
                    .iter()
                    .filter_map(|i| self.user(i))
                    .map(|u| u.display_name.clone())
                    .collect();
                (Some(ids.join(", ")), Some(names.join(", ")))
            }
            Kind::Labels => (None, Some(list(v).join(" "))),
            Kind::Select(options) => {
                let id = v.as_str().unwrap_or_default();
                (
                    Some(id.to_owned()),
                    options.iter().find(|o| o.id == id).map(|o| o.value.clone()),
                )
            }
            Kind::Cascading(options) => {
                let pid = v.get("parent").and_then(Value::as_str).unwrap_or_default();
                let parent = options.iter().find(|o| o.id == pid);
                let child = v
                    .get("child")
                    .and_then(Value::as_str)
                    .and_then(|c| parent.and_then(|p| p.children.iter().find(|o| o.id == c)));
                let text = match (parent, child) {
                    (Some(p), Some(c)) => format!(
                        "Parent values: {}({})Level 1 values: {}({})",
                        p.value, p.id, c.value, c.id
                    ),
                    (Some(p), None) => format!("Parent values: {}({})", p.value, p.id),
                    _ => String::new(),
                };
                (Some(pid.to_owned()), Some(text))
            }
            Kind::Priority => self.named_display(&self.priorities, v),
            Kind::Resolution => self.named_display(&self.resolutions, v),
            Kind::Components | Kind::Versions => {
                (Some(list(v).join(", ")), Some(list(v).join(", ")))
            }
            Kind::Parent => {
                let id = v.as_u64().unwrap_or_default();
                (
                    Some(id.to_string()),
                    self.issues.get(&id).map(|i| i.key.clone()),
                )
            }
            _ => (None, Some(v.to_string())),
        }
    }

    fn named_display(&self, list: &[Named], v: &Value) -> (Option<String>, Option<String>) {
        let id = v.as_str().unwrap_or_default();
        (
            Some(id.to_owned()),
            list.iter().find(|n| n.id == id).map(|n| n.name.clone()),
        )
    }

    fn record(
        &mut self,
        id: u64,
        author: &str,
        items: Vec<ChangeItem>,
        at: Timestamp,
    ) -> Option<History> {
        if items.is_empty() {
            return None;
        }
        let history = History {
            id: self.next_history,
            author: author.to_owned(),
            created: at,
            items,
        };
        self.next_history += 1;
        self.issues.get_mut(&id)?.changelog.push(history.clone());
        Some(history)
    }

    /// `POST /issue/{key}/transitions`: the change recorded and any comment added.
    pub fn transition(
        &mut self,
        caller: &str,
        id: u64,
        body: &Value,
        v2: bool,
    ) -> Result<(History, Option<u64>), ApiError> {
        let transition_id = body
            .pointer("/transition/id")
            .and_then(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .or_else(|| v.as_u64().map(|n| n.to_string()))
            })
            .ok_or_else(|| ApiError::bad_request("Missing 'transition' identifier"))?;
        let issue = self
            .issues
            .get(&id)
            .cloned()
            .ok_or_else(ApiError::no_issue)?;
        let mut resolution = None;
        if let Some(f) = body.get("fields").and_then(Value::as_object) {
            for (k, v) in f {
                let on_screen = k == "resolution"
                    && self
                        .workflow
                        .transitions
                        .iter()
                        .any(|t| t.id == transition_id && t.requires_resolution);
                if !on_screen {
                    return Err(ApiError::field(k, not_on_screen(k)));
                }
                resolution = Some(self.named_ref(&self.resolutions, v).ok_or_else(|| {
                    ApiError::field("resolution", "The resolution selected is invalid.")
                })?);
            }
        }
        let t = self
            .workflow
            .check(&issue.status, &transition_id, resolution.is_some())
            .map_err(|e| match e {
                super::workflow::WorkflowError::ResolutionRequired => {
                    ApiError::field("resolution", e.to_string())
                }
                e => ApiError::bad_request(e.to_string()),
            })?
            .clone();
        let mut comment_bodies = Vec::new();
        if let Some(ops) = body.pointer("/update/comment").and_then(Value::as_array) {
            for op in ops {
                match op.pointer("/add/body") {
                    Some(b) => comment_bodies.push(b.clone()),
                    None => {
                        return Err(ApiError::field(
                            "comment",
                            "Only 'add' with a body is supported for comment.",
                        ));
                    }
                }
            }
        }
        let now = self.now();
        let mut comment = None;
        let mut new_comments = Vec::new();
        for b in comment_bodies {
            let c = self.new_comment(caller, &b, v2, None, true, now)?;
            comment = Some(c.id);
            new_comments.push(c);
        }
        let status_name = |s: &str| self.workflow.status(s).map(|s| s.name.clone());
        let mut items = vec![ChangeItem {
            field: "status".into(),
            field_type: "jira",
            field_id: "status".into(),
            from: Some(issue.status.clone()),
            from_string: status_name(&issue.status),
            to: Some(t.to.clone()),
            to_string: status_name(&t.to),
        }];
        let old_resolution = issue.values.get("resolution").cloned();
        let new_resolution = match (&resolution, t.clears_resolution) {
            (Some(r), _) => Some(json!(r)),
            (None, true) => None,
            (None, false) => old_resolution.clone(),
        };
        if new_resolution != old_resolution {
            let def = self
                .field("resolution")
                .cloned()
                .ok_or_else(ApiError::no_issue)?;
            let (from, from_string) = self.display(&def, old_resolution.as_ref());
            let (to, to_string) = self.display(&def, new_resolution.as_ref());
            items.push(ChangeItem {
                field: "resolution".into(),
                field_type: "jira",
                field_id: "resolution".into(),
                from,
                from_string,
                to,
                to_string,
            });
        }
        let history = self
            .record(id, caller, items, now)
            .ok_or_else(ApiError::no_issue)?;
        let issue = self.issues.get_mut(&id).ok_or_else(ApiError::no_issue)?;
        issue.status = t.to.clone();
        match new_resolution {
            Some(r) => {
                if issue.values.insert("resolution".into(), r).is_none() {
                    issue.resolution_date = Some(now);
                }
            }
            None => {
                issue.values.remove("resolution");
                issue.resolution_date = None;
            }
        }
        issue.updated = now;
        issue.comments.extend(new_comments);
        Ok((history, comment))
    }

    /// `DELETE /issue/{key}`: the issues removed (sub-tasks first).
    pub fn delete(&mut self, id: u64, delete_subtasks: bool) -> Result<Vec<Issue>, ApiError> {
        let subtasks: Vec<u64> = self.subtasks(id).map(|i| i.id).collect();
        if !subtasks.is_empty() && !delete_subtasks {
            return Err(ApiError::bad_request(
                "The issue has subtasks. To delete the issue, set deleteSubtasks to true.",
            ));
        }
        let mut removed = Vec::new();
        for sid in subtasks.into_iter().chain([id]) {
            if let Some(issue) = self.issues.remove(&sid) {
                for a in &issue.attachments {
                    self.attachments.remove(a);
                }
                removed.push(issue);
            }
        }
        Ok(removed)
    }

    fn new_comment(
        &mut self,
        caller: &str,
        body: &Value,
        v2: bool,
        visibility: Option<Value>,
        public: bool,
        at: Timestamp,
    ) -> Result<Comment, ApiError> {
        let body = comment_body(body, v2)?;
        let c = Comment {
            id: self.next_comment,
            author: caller.to_owned(),
            update_author: caller.to_owned(),
            body,
            created: at,
            updated: at,
            visibility,
            public,
        };
        self.next_comment += 1;
        Ok(c)
    }

    /// `POST /issue/{key}/comment`: the new comment's id.
    pub fn add_comment(
        &mut self,
        caller: &str,
        id: u64,
        body: &Value,
        v2: bool,
    ) -> Result<u64, ApiError> {
        if !self.issues.contains_key(&id) {
            return Err(ApiError::no_issue());
        }
        let visibility = visibility(body)?;
        let public = is_public(body);
        let now = self.now();
        let text = body
            .get("body")
            .ok_or_else(|| ApiError::field("comment", "Comment body can not be empty!"))?;
        let c = self.new_comment(caller, text, v2, visibility, public, now)?;
        let cid = c.id;
        let issue = self.issues.get_mut(&id).ok_or_else(ApiError::no_issue)?;
        issue.comments.push(c);
        issue.updated = now;
        Ok(cid)
    }

    pub fn comment(&self, id: u64, comment: &str) -> Result<&Comment, ApiError> {
        let issue = self.issues.get(&id).ok_or_else(ApiError::no_issue)?;
        issue
            .comments
            .iter()
            .find(|c| c.id.to_string() == comment)
            .ok_or_else(|| {
                ApiError::not_found(format!("Can not find a comment for the id: {comment}."))
            })
    }

    /// `PUT /issue/{key}/comment/{id}`.
    pub fn edit_comment(
        &mut self,
        caller: &str,
        id: u64,
        comment: &str,
        body: &Value,
        v2: bool,
    ) -> Result<u64, ApiError> {
        self.comment(id, comment)?;
        let text = body
            .get("body")
            .ok_or_else(|| ApiError::field("comment", "Comment body can not be empty!"))?;
        let text = comment_body(text, v2)?;
        let new_visibility = visibility(body)?;
        let now = self.now();
        let issue = self.issues.get_mut(&id).ok_or_else(ApiError::no_issue)?;
        let c = issue
            .comments
            .iter_mut()
            .find(|c| c.id.to_string() == comment)
            .ok_or_else(ApiError::no_issue)?;
        c.body = text;
        c.updated = now;
        c.update_author = caller.to_owned();
        if body.get("visibility").is_some() {
            c.visibility = new_visibility;
        }
        if body.get("properties").is_some() {
            c.public = is_public(body);
        }
        let cid = c.id;
        issue.updated = now;
        Ok(cid)
    }

    /// `DELETE /issue/{key}/comment/{id}`: the removed comment.
    pub fn delete_comment(&mut self, id: u64, comment: &str) -> Result<Comment, ApiError> {
        self.comment(id, comment)?;
        let now = self.now();
        let issue = self.issues.get_mut(&id).ok_or_else(ApiError::no_issue)?;
        let at = issue
            .comments
            .iter()
            .position(|c| c.id.to_string() == comment)
            .ok_or_else(ApiError::no_issue)?;
        issue.updated = now;
        Ok(issue.comments.remove(at))
    }

    /// Stores an uploaded file on an issue; its id.
    pub fn add_attachment(
        &mut self,
        caller: &str,
        id: u64,
        filename: &str,
        mime_type: &str,
        bytes: Vec<u8>,
    ) -> Result<u64, ApiError> {
        if !self.issues.contains_key(&id) {
            return Err(ApiError::no_issue());
        }
        let now = self.now();
        let aid = self.next_attachment;
        self.next_attachment += 1;
        self.attachments.insert(
            aid,
            Attachment {
                id: aid,
                issue: id,
                filename: filename.to_owned(),
                mime_type: mime_type.to_owned(),
                bytes,
                author: caller.to_owned(),
                created: now,
            },
        );
        let item = ChangeItem {
            field: "Attachment".into(),
            field_type: "jira",
            field_id: "attachment".into(),
            from: None,
            from_string: None,
            to: Some(aid.to_string()),
            to_string: Some(filename.to_owned()),
        };
        self.record(id, caller, vec![item], now);
        let issue = self.issues.get_mut(&id).ok_or_else(ApiError::no_issue)?;
        issue.attachments.push(aid);
        issue.updated = now;
        Ok(aid)
    }

    /// Removes an attachment; the issue it was on and the change recorded.
    pub fn delete_attachment(
        &mut self,
        caller: &str,
        aid: u64,
    ) -> Result<(u64, Option<History>), ApiError> {
        let a = self.attachments.remove(&aid).ok_or_else(|| {
            ApiError::not_found(format!("The attachment with id '{aid}' does not exist"))
        })?;
        let now = self.now();
        let item = ChangeItem {
            field: "Attachment".into(),
            field_type: "jira",
            field_id: "attachment".into(),
            from: Some(aid.to_string()),
            from_string: Some(a.filename.clone()),
            to: None,
            to_string: None,
        };
        let history = self.record(a.issue, caller, vec![item], now);
        if let Some(issue) = self.issues.get_mut(&a.issue) {
            issue.attachments.retain(|x| *x != aid);
            issue.updated = now;
        }
        Ok((a.issue, history))
    }

    /// Registers a webhook; its id, or why not.
    pub fn add_webhook(&mut self, new: NewWebhook<'_>) -> Result<u64, Vec<String>> {
        let NewWebhook {
            name,
            secret,
            url,
            events,
            jql,
            field_ids,
        } = new;
        let mut errors = Vec::new();
        for e in &events {
            if !WEBHOOK_EVENTS.contains(&e.as_str()) {
                errors.push(format!("Event '{e}' is not supported."));
            }
        }
        if events.is_empty() {
            errors.push("At least one event is required.".into());
        }
        let query = match jql::Query::parse(jql) {
            Ok(q) => {
                if let Err(e) = q
                    .check_fields(|f| self.jql_field_known(f))
                    .and_then(|()| q.check_dates(|f| self.jql_field_is_date(f), self.peek_now()))
                {
                    errors.push(e.0);
                }
                q
            }
            Err(e) => {
                errors.push(format!("Invalid JQL: {}", e.0));
                return Err(errors);
            }
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        let id = self.next_webhook;
        self.next_webhook += 1;
        let expires = self
            .peek_now()
            .checked_add(jiff::SignedDuration::from_hours(30 * 24))
            .unwrap_or_else(|_| self.peek_now());
        self.webhooks.push(Webhook {
            id,
            name,
            secret,
            url: url.to_owned(),
            events,
            jql: jql.to_owned(),
            query,
            field_ids,
            expires,
        });
        Ok(id)
    }

    // --- JQL ---------------------------------------------------------------------------------

    pub fn jql_field_known(&self, f: &str) -> bool {
        const SYSTEM: &[&str] = &[
            "project",
            "key",
            "issuekey",
            "id",
            "status",
            "statuscategory",
            "issuetype",
            "type",
            "summary",
            "description",
            "environment",
            "text",
            "comment",
            "assignee",
            "reporter",
            "creator",
            "priority",
            "labels",
            "resolution",
            "created",
            "createddate",
            "updated",
            "updateddate",
            "resolved",
            "resolutiondate",
            "due",
            "duedate",
            "parent",
            "component",
            "fixversion",
        ];
        SYSTEM.contains(&f) || self.custom_by_clause(f).is_some()
    }

    /// Whether a JQL field name holds dates.
    pub fn jql_field_is_date(&self, f: &str) -> bool {
        matches!(
            f,
            "created"
                | "createddate"
                | "updated"
                | "updateddate"
                | "resolved"
                | "resolutiondate"
                | "due"
                | "duedate"
        ) || self
            .custom_by_clause(f)
            .is_some_and(|d| d.kind == Kind::Date)
    }

    fn custom_by_clause(&self, f: &str) -> Option<&FieldDef> {
        self.fields.iter().filter(|d| d.custom()).find(|d| {
            d.name.eq_ignore_ascii_case(f) || d.custom_id().is_some_and(|n| f == format!("cf[{n}]"))
        })
    }

    /// An issue as JQL sees it.
    pub fn subject<'a>(&'a self, issue: &'a Issue) -> IssueSubject<'a> {
        IssueSubject { site: self, issue }
    }
}

fn user_error(flavour: Flavour, v: &Value) -> String {
    match flavour {
        Flavour::Cloud => format!(
            "Specified user does not exist or you do not have required permissions: {}",
            v.get("accountId").unwrap_or(v)
        ),
        Flavour::Dc => format!("User '{}' does not exist.", v.get("name").unwrap_or(v)),
    }
}

fn label(v: &Value) -> Result<String, String> {
    let s = v.as_str().ok_or("Labels must be strings.")?;
    if s.is_empty() || s.contains(char::is_whitespace) {
        return Err(format!("The label '{s}' contains spaces which is invalid."));
    }
    if s.chars().count() > 255 {
        return Err("The label must be less than 255 characters.".into());
    }
    Ok(s.to_owned())
}

fn project_ref(def: &FieldDef, project: &Project, v: &Value) -> Result<String, String> {
    let list = if def.kind == Kind::Components {
        &project.components
    } else {
        &project.versions
    };
    let id = v.get("id").and_then(Value::as_str);
    let name = v.get("name").and_then(Value::as_str);
    list.iter()
        .find(|n| Some(n.id.as_str()) == id || Some(n.name.as_str()) == name)
        .map(|n| n.id.clone())
        .ok_or_else(|| {
            let what = if def.kind == Kind::Components {
                "Component"
            } else {
                "Version"
            };
            format!(
                "{what} name '{}' is not valid",
                name.or(id).unwrap_or_default()
            )
        })
}

pub fn not_on_screen(field: &str) -> String {
    format!("Field '{field}' cannot be set. It is not on the appropriate screen, or unknown.")
}

fn comment_body(body: &Value, v2: bool) -> Result<Value, ApiError> {
    if v2 {
        let s = body
            .as_str()
            .ok_or_else(|| ApiError::field("comment", "Comment body must be a string."))?;
        if s.trim().is_empty() {
            return Err(ApiError::field("comment", "Comment body can not be empty!"));
        }
        Ok(adf::from_wiki(s))
    } else {
        adf::validate(body).map_err(|e| ApiError::field("comment", e))?;
        if adf::plain_text(body).trim().is_empty()
            && body
                .get("content")
                .and_then(Value::as_array)
                .is_none_or(Vec::is_empty)
        {
            return Err(ApiError::field("comment", "Comment body can not be empty!"));
        }
        Ok(body.clone())
    }
}

fn visibility(body: &Value) -> Result<Option<Value>, ApiError> {
    match body.get("visibility") {
        None | Some(Value::Null) => Ok(None),
        Some(v) => {
            let kind = v.get("type").and_then(Value::as_str);
            let value = v
                .get("value")
                .or_else(|| v.get("identifier"))
                .and_then(Value::as_str);
            match (kind, value) {
                (Some("group" | "role"), Some(_)) => Ok(Some(v.clone())),
                _ => Err(ApiError::field(
                    "commentLevel",
                    "You are currently not a member of the project role or group.",
                )),
            }
        }
    }
}

/// Jira Service Management: a comment whose `sd.public.comment` property says `internal`.
fn is_public(body: &Value) -> bool {
    !body
        .get("properties")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|p| {
            p.get("key").and_then(Value::as_str) == Some("sd.public.comment")
                && p.pointer("/value/internal").and_then(Value::as_bool) == Some(true)
        })
}

/// An issue seen by the JQL evaluator.
pub struct IssueSubject<'a> {
    site: &'a Site,
    issue: &'a Issue,
}

impl IssueSubject<'_> {
    fn user_terms(&self, id: Option<&str>) -> FieldValue {
        FieldValue::Terms(match id.and_then(|i| self.site.user(i)) {
            Some(u) => vec![
                u.account_id.clone(),
                u.email.clone(),
                u.name.clone(),
                u.display_name.clone(),
            ],
            None => Vec::new(),
        })
    }

    fn named_terms(list: &[Named], id: Option<&str>) -> FieldValue {
        FieldValue::Terms(match id.and_then(|i| list.iter().find(|n| n.id == i)) {
            Some(n) => vec![n.id.clone(), n.name.clone()],
            None => Vec::new(),
        })
    }

    fn text(&self, id: &str) -> String {
        self.issue
            .values
            .get(id)
            .map(adf::plain_text)
            .unwrap_or_default()
    }
}

impl jql::Subject for IssueSubject<'_> {
    fn value(&self, field: &str) -> Option<FieldValue> {
        let i = self.issue;
        let s = self.site;
        let str_of = |id: &str| i.values.get(id).and_then(Value::as_str);
        let project = s.project(&i.project);
        Some(match field {
            "project" => FieldValue::Terms(project.map_or_else(Vec::new, |p| {
                vec![p.key.clone(), p.id.clone(), p.name.clone()]
            })),
            "key" | "issuekey" | "id" => FieldValue::Terms(vec![i.key.clone(), i.id.to_string()]),
            "status" => FieldValue::Terms(
                s.workflow
                    .status(&i.status)
                    .map_or_else(Vec::new, |st| vec![st.name.clone(), st.id.clone()]),
            ),
            "statuscategory" => {
                FieldValue::Terms(s.workflow.status(&i.status).map_or_else(Vec::new, |st| {
                    vec![
                        st.category.key().into(),
                        st.category.name().into(),
                        st.category.id().to_string(),
                    ]
                }))
            }
            "issuetype" | "type" => FieldValue::Terms(
                s.issue_type(&i.issue_type)
                    .map_or_else(Vec::new, |t| vec![t.name.clone(), t.id.clone()]),
            ),
            "summary" => FieldValue::Text(str_of("summary").unwrap_or_default().to_owned()),
            "description" | "environment" => FieldValue::Text(self.text(field)),
            "comment" => FieldValue::Text(
                i.comments
                    .iter()
                    .map(|c| adf::plain_text(&c.body))
                    .collect::<Vec<_>>()
                    .join("\n"),
            ),
            "text" => FieldValue::Text(format!(
                "{}\n{}\n{}",
                str_of("summary").unwrap_or_default(),
                self.text("description"),
                i.comments
                    .iter()
                    .map(|c| adf::plain_text(&c.body))
                    .collect::<Vec<_>>()
                    .join("\n")
            )),
            "assignee" | "reporter" => self.user_terms(str_of(field)),
            "creator" => self.user_terms(Some(&i.creator)),
            "priority" => Self::named_terms(&s.priorities, str_of("priority")),
            "resolution" => Self::named_terms(&s.resolutions, str_of("resolution")),
            "labels" => FieldValue::Terms(
                i.values
                    .get("labels")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|l| l.as_str().map(str::to_owned))
                    .collect(),
            ),
            "component" | "fixversion" => {
                let (id, list) = if field == "component" {
                    ("components", project.map(|p| &p.components))
                } else {
                    ("fixVersions", project.map(|p| &p.versions))
                };
                let mut terms = Vec::new();
                for v in i
                    .values
                    .get(id)
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                {
                    terms.push(v.to_owned());
                    if let Some(n) = list.and_then(|l| l.iter().find(|n| n.id == v)) {
                        terms.push(n.name.clone());
                    }
                }
                FieldValue::Terms(terms)
            }
            "parent" => FieldValue::Terms(
                i.values
                    .get("parent")
                    .and_then(Value::as_u64)
                    .and_then(|p| s.issues.get(&p))
                    .map_or_else(Vec::new, |p| vec![p.key.clone(), p.id.to_string()]),
            ),
            "created" | "createddate" => FieldValue::Time(Some(i.created)),
            "updated" | "updateddate" => FieldValue::Time(Some(i.updated)),
            "resolved" | "resolutiondate" => FieldValue::Time(i.resolution_date),
            "due" | "duedate" => FieldValue::Time(str_of("duedate").and_then(day_start)),
            other => {
                let def = s.custom_by_clause(other)?;
                let v = i.values.get(&def.id);
                match &def.kind {
                    Kind::Number => FieldValue::Number(v.and_then(Value::as_f64)),
                    Kind::Date => FieldValue::Time(v.and_then(Value::as_str).and_then(day_start)),
                    Kind::User => self.user_terms(v.and_then(Value::as_str)),
                    Kind::MultiUser => {
                        let mut terms = Vec::new();
                        for id in v
                            .and_then(Value::as_array)
                            .into_iter()
                            .flatten()
                            .filter_map(Value::as_str)
                        {
                            if let FieldValue::Terms(t) = self.user_terms(Some(id)) {
                                terms.extend(t);
                            }
                        }
                        FieldValue::Terms(terms)
                    }
                    Kind::Select(options) => FieldValue::Terms(
                        v.and_then(Value::as_str)
                            .and_then(|id| options.iter().find(|o| o.id == id))
                            .map_or_else(Vec::new, |o| vec![o.value.clone(), o.id.clone()]),
                    ),
                    Kind::Cascading(options) => {
                        let mut terms = Vec::new();
                        let parent = v
                            .and_then(|v| v.get("parent"))
                            .and_then(Value::as_str)
                            .and_then(|p| options.iter().find(|o| o.id == p));
                        if let Some(p) = parent {
                            terms.extend([p.value.clone(), p.id.clone()]);
                            if let Some(c) = v
                                .and_then(|v| v.get("child"))
                                .and_then(Value::as_str)
                                .and_then(|c| p.children.iter().find(|o| o.id == c))
                            {
                                terms.extend([c.value.clone(), c.id.clone()]);
                            }
                        }
                        FieldValue::Terms(terms)
                    }
                    Kind::Rich => FieldValue::Text(v.map(adf::plain_text).unwrap_or_default()),
                    _ => FieldValue::Text(v.and_then(Value::as_str).unwrap_or_default().to_owned()),
                }
            }
        })
    }
}

fn day_start(s: &str) -> Option<Timestamp> {
    let day = jiff::civil::Date::strptime("%Y-%m-%d", s).ok()?;
    jiff::tz::TimeZone::UTC
        .to_timestamp(day.to_datetime(jiff::civil::Time::midnight()))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site() -> Site {
        Site::new(
            Flavour::Cloud,
            &[
                UserSeed {
                    email: "ann@example.com".into(),
                    display_name: "Ann".into(),
                },
                UserSeed {
                    email: "bob@example.com".into(),
                    display_name: "Bob".into(),
                },
            ],
            &[("SUP".into(), "Support".into())],
        )
    }

    fn create(s: &mut Site, fields: Value) -> Result<u64, ApiError> {
        let caller = s.users[0].account_id.clone();
        s.create(&caller, &json!({ "fields": fields }), false)
    }

    #[test]
    fn account_ids_are_stable_and_look_like_clouds() {
        assert_eq!(account_id("Ann@Example.com"), account_id("ann@example.com"));
        assert_eq!(account_id("a@b").len(), 24);
        assert_ne!(account_id("a@b"), account_id("c@d"));
    }

    #[test]
    fn create_checks_required_fields_and_values() {
        let mut s = site();
        let e = create(
            &mut s,
            json!({"project": {"key": "SUP"}, "issuetype": {"name": "Task"}}),
        )
        .expect_err("no summary");
        assert!(e.errors.contains_key("summary"));
        let e = create(
            &mut s,
            json!({"project": {"key": "NOPE"}, "issuetype": {"name": "Task"}, "summary": "x"}),
        )
        .expect_err("project");
        assert!(e.errors.contains_key("project"));
        let e = create(&mut s, json!({
            "project": {"key": "SUP"}, "issuetype": {"name": "Task"}, "summary": "x",
            "description": "not adf", "labels": ["has space"], "customfield_10010": {"value": "Sev 9"},
            "customfield_99999": 1, "status": {"name": "Done"}
        })).expect_err("bad values");
        for f in [
            "description",
            "labels",
            "customfield_10010",
            "customfield_99999",
            "status",
        ] {
            assert!(e.errors.contains_key(f), "{f} in {:?}", e.errors);
        }
        let e = create(
            &mut s,
            json!({"project": {"key": "SUP"}, "issuetype": {"name": "Sub-task"}, "summary": "x"}),
        )
        .expect_err("a sub-task needs a parent");
        assert!(e.errors.contains_key("parent"));
    }

    #[test]
    fn custom_fields_are_kept_and_found_by_jql() {
        let mut s = site();
        let bob = s.users[1].account_id.clone();
        let id = create(
            &mut s,
            json!({
                "project": {"key": "SUP"}, "issuetype": {"id": "10002"}, "summary": "Broken",
                "customfield_10010": {"value": "Sev 2"},
                "customfield_10011": {"value": "EMEA", "child": {"value": "Berlin"}},
                "customfield_10012": 8, "customfield_10013": "2025-03-01",
                "customfield_10014": {"accountId": bob}, "customfield_10015": [{"accountId": bob}]
            }),
        )
        .expect("created");
        let issue = s.issues[&id].clone();
        assert_eq!(issue.key, "SUP-1");
        let ctx = jql::Context {
            now: s.peek_now(),
            current_user: bob.clone(),
        };
        for q in [
            "Severity = \"Sev 2\"",
            "cf[10011] = Berlin",
            "\"Story Points\" > 5",
            "\"Target date\" >= 2025-02-28",
            "Reviewer = currentUser()",
            "\"Watch team\" = bob@example.com",
            "issuetype = Bug",
            "project = SUP",
        ] {
            let query = jql::Query::parse(q).expect("parses");
            assert!(query.check_fields(|f| s.jql_field_known(f)).is_ok(), "{q}");
            assert!(
                query.matches(&s.subject(&issue), &ctx).expect("evaluates"),
                "{q}"
            );
        }
        let e = create(
            &mut s,
            json!({"project": {"key": "SUP"}, "issuetype": {"id": "10002"}, "summary": "x",
            "customfield_10011": {"value": "EMEA", "child": {"value": "Austin"}}}),
        )
        .expect_err("child of another parent");
        assert!(e.errors.contains_key("customfield_10011"));
    }

    #[test]
    fn edits_record_changes_and_updates_add_and_remove() {
        let mut s = site();
        let me = s.users[0].account_id.clone();
        let id = create(&mut s, json!({"project": {"key": "SUP"}, "issuetype": {"name": "Task"}, "summary": "a", "labels": ["x"]})).expect("created");
        let before = s.issues[&id].updated;
        let h = s
            .edit(&me, id, &json!({"fields": {"summary": "b"}, "update": {"labels": [{"add": "y"}, {"remove": "x"}]}}), false)
            .expect("edited")
            .expect("a change");
        let fields: Vec<&str> = h.items.iter().map(|i| i.field.as_str()).collect();
        assert_eq!(fields, ["labels", "summary"]);
        assert_eq!(s.issues[&id].values["labels"], json!(["y"]));
        assert!(s.issues[&id].updated > before);
        assert!(
            s.edit(&me, id, &json!({"fields": {"summary": "b"}}), false)
                .expect("edited")
                .is_none(),
            "no change, no history"
        );
        assert!(
            s.edit(
                &me,
                id,
                &json!({"fields": {"status": {"name": "Done"}}}),
                false
            )
            .is_err()
        );
    }

    #[test]
    fn transitions_follow_the_workflow_and_set_resolution() {
        let mut s = site();
        let me = s.users[0].account_id.clone();
        let id = create(
            &mut s,
            json!({"project": {"key": "SUP"}, "issuetype": {"name": "Task"}, "summary": "a"}),
        )
        .expect("created");
        assert!(
            s.transition(&me, id, &json!({"transition": {"id": "51"}}), false)
                .is_err(),
            "not from To Do"
        );
        s.transition(&me, id, &json!({"transition": {"id": "21"}}), false)
            .expect("start");
        s.transition(&me, id, &json!({"transition": {"id": "31"}}), false)
            .expect("review");
        let e = s
            .transition(&me, id, &json!({"transition": {"id": "51"}}), false)
            .expect_err("needs a resolution");
        assert!(e.errors.contains_key("resolution"));
        let (h, _) = s
            .transition(
                &me,
                id,
                &json!({"transition": {"id": "51"}, "fields": {"resolution": {"name": "Done"}}}),
                false,
            )
            .expect("done");
        assert_eq!(h.items.len(), 2);
        assert!(s.issues[&id].resolution_date.is_some());
        s.transition(&me, id, &json!({"transition": {"id": "71"}}), false)
            .expect("reopen");
        assert!(!s.issues[&id].values.contains_key("resolution"));
        assert!(s.issues[&id].resolution_date.is_none());
    }

    #[test]
    fn internal_comments_are_marked_and_deleted_issues_take_subtasks() {
        let mut s = site();
        let me = s.users[0].account_id.clone();
        let parent = create(
            &mut s,
            json!({"project": {"key": "SUP"}, "issuetype": {"name": "Task"}, "summary": "p"}),
        )
        .expect("parent");
        let key = s.issues[&parent].key.clone();
        let child = create(&mut s, json!({"project": {"key": "SUP"}, "issuetype": {"name": "Sub-task"}, "summary": "c", "parent": {"key": key}})).expect("child");
        let body = json!({"body": adf::from_text("internal"), "properties": [{"key": "sd.public.comment", "value": {"internal": true}}]});
        let c = s.add_comment(&me, parent, &body, false).expect("comment");
        assert!(!s.comment(parent, &c.to_string()).expect("found").public);
        assert!(s.delete(parent, false).is_err());
        let removed = s.delete(parent, true).expect("deleted");
        assert_eq!(
            removed.iter().map(|i| i.id).collect::<Vec<_>>(),
            [child, parent]
        );
    }
}
