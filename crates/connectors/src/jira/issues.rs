//! Issues: read one with its fields ([`Issue`]), create one through its create screen
//! (`/issue/createmeta/{project}/issuetypes/{id}`), edit one (only the fields whose value
//! changes, checked against the edit screen), delete one, and find the issue a create made
//! again by its correlation label when the create's answer was lost.
//!
//! Values are written as [`FieldValue`]s and turned into what each field's type takes: select
//! options by value, cascading selects, users by e-mail (resolved to `accountId` on Cloud,
//! `name` on Data Center), numbers, dates, labels, components and versions by name, the parent
//! by key, and rich text from Markdown (ADF on Cloud, wiki markup on Data Center).

use reqwest::Method;
use serde_json::{Map, Value, json};
use tracing::debug;

use super::adf::{self, Converted};
use super::client::{Client, Flavour, Result, id_of, segment, str_of};
use super::error::{JiraError, bad, field_error};
use super::meta::Status;
use super::retry::Repeat;
use super::wiki;

mod values;

use values::same_value;

/// The label prefix that marks an issue created by Tandem with a correlation id.
pub const CORRELATION_LABEL_PREFIX: &str = "tandem-";

/// A value to write to a field; the client turns it into the JSON the field's type takes.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    /// A single-line string (plain text into a rich-text field).
    Text(String),
    /// Markdown: ADF on Cloud, wiki markup on Data Center.
    Markdown(String),
    Number(f64),
    /// `yyyy-MM-dd`.
    Date(String),
    /// RFC 3339 / Jira's `2021-01-20T15:58:12.797+0000`.
    DateTime(String),
    /// A select list's option by its value.
    Option(String),
    /// A multi-select's options by value.
    Options(Vec<String>),
    /// A cascading select: the parent option and, optionally, a child option.
    Cascading {
        parent: String,
        child: Option<String>,
    },
    /// A user by e-mail (or by accountId / name when it has no `@`).
    User(String),
    Users(Vec<String>),
    Labels(Vec<String>),
    /// Components or versions by name; a priority or resolution by name as one element.
    Names(Vec<String>),
    /// The parent issue, by key.
    Parent(String),
    /// Empties the field.
    Clear,
    /// JSON sent as it is.
    Raw(Value),
}

/// An issue to create.
#[derive(Debug, Clone)]
pub struct NewIssue {
    /// The project's key.
    pub project: String,
    /// The issue type's name (case-insensitive) or id.
    pub issue_type: String,
    /// Fields by id or name (`summary`, `Story Points`, `customfield_10010`).
    pub fields: Vec<(String, FieldValue)>,
}

/// An issue as Jira sent it, with accessors for what the connector reads. Values stay JSON:
/// nothing in them is trusted to have a shape.
#[derive(Debug, Clone, PartialEq)]
pub struct Issue {
    pub id: String,
    pub key: String,
    /// Field id → value.
    pub fields: Map<String, Value>,
    /// Field id → name (`expand=names`), when asked for.
    pub names: Map<String, Value>,
    pub flavour: Flavour,
}

impl Issue {
    pub(crate) fn from_json(flavour: Flavour, v: &Value) -> Option<Self> {
        let id = id_of(v, "id");
        if id.is_empty() {
            return None;
        }
        Some(Self {
            id,
            key: str_of(v, "key").to_owned(),
            fields: v
                .get("fields")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default(),
            names: v
                .get("names")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default(),
            flavour,
        })
    }

    /// A field's value by id, or by name when the issue was read with its names.
    pub fn field(&self, id_or_name: &str) -> Option<&Value> {
        if let Some(v) = self.fields.get(id_or_name) {
            return Some(v);
        }
        let id = self.names.iter().find_map(|(id, name)| {
            name.as_str()
                .is_some_and(|n| n.eq_ignore_ascii_case(id_or_name))
                .then_some(id)
        })?;
        self.fields.get(id)
    }

    pub fn summary(&self) -> &str {
        self.fields
            .get("summary")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    /// When the issue last changed, as Jira writes it (`2021-01-20T15:58:12.797+0000`).
    pub fn updated(&self) -> &str {
        self.fields
            .get("updated")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    pub fn status(&self) -> Option<Status> {
        self.fields.get("status").map(Status::from_json)
    }

    pub fn issue_type(&self) -> &str {
        self.fields
            .get("issuetype")
            .map_or("", |t| str_of(t, "name"))
    }

    pub fn project_key(&self) -> &str {
        self.fields.get("project").map_or("", |p| str_of(p, "key"))
    }

    pub fn labels(&self) -> Vec<String> {
        self.fields
            .get("labels")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect()
    }

    /// The correlation id Tandem created this issue with, if any.
    pub fn correlation(&self) -> Option<String> {
        self.labels()
            .into_iter()
            .find_map(|l| l.strip_prefix(CORRELATION_LABEL_PREFIX).map(str::to_owned))
    }

    /// A rich-text field (description, environment, paragraph custom fields) as Markdown.
    pub fn markdown(&self, id_or_name: &str) -> Converted<String> {
        rich_to_markdown(self.flavour, self.field(id_or_name).unwrap_or(&Value::Null))
    }

    /// The description as Markdown.
    pub fn description(&self) -> Converted<String> {
        self.markdown("description")
    }

    /// A field's value as plain words: an option's value (`Parent / Child` for a cascade), a
    /// user's display name, names joined by `, `, numbers and strings as they are.
    pub fn display(&self, id_or_name: &str) -> String {
        display(self.field(id_or_name).unwrap_or(&Value::Null))
    }
}

/// Rich text as Jira sent it (ADF on Cloud v3, a wiki string on v2) as Markdown.
pub fn rich_to_markdown(flavour: Flavour, v: &Value) -> Converted<String> {
    match v {
        Value::Null => Converted {
            value: String::new(),
            lossy: Vec::new(),
        },
        Value::String(s) => match flavour {
            // Cloud's v3 keeps plain strings in single-line fields.
            Flavour::Cloud => Converted {
                value: s.clone(),
                lossy: Vec::new(),
            },
            Flavour::DataCenter => wiki::to_markdown(s),
        },
        doc => adf::to_markdown(doc),
    }
}

/// Markdown as the rich text this flavour writes.
pub fn markdown_to_rich(flavour: Flavour, markdown: &str) -> Converted<Value> {
    match flavour {
        Flavour::Cloud => adf::from_markdown(markdown),
        Flavour::DataCenter => {
            let w = wiki::from_markdown(markdown);
            Converted {
                value: Value::String(w.value),
                lossy: w.lossy,
            }
        }
    }
}

fn display(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        // Jira sends whole numbers as `8.0`; they read as `8`.
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() < 9.0e15 => (f as i64).to_string(),
            _ => n.to_string(),
        },
        Value::Bool(b) => b.to_string(),
        Value::Array(items) => items.iter().map(display).collect::<Vec<_>>().join(", "),
        Value::Object(o) => {
            let own = ["value", "displayName", "name", "key"]
                .iter()
                .find_map(|k| o.get(*k).and_then(Value::as_str))
                .unwrap_or_default()
                .to_owned();
            match o.get("child") {
                Some(child) => format!("{own} / {}", display(child)),
                None => own,
            }
        }
    }
}

/// A label Tandem can put on an issue for a correlation id (labels hold no spaces).
pub fn correlation_label(correlation: &str) -> Result<String> {
    let ok = !correlation.is_empty()
        && correlation.len() <= 200
        && correlation
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'));
    if !ok {
        return Err(field_error(format!(
            "correlation id `{correlation}` cannot be a Jira label (letters, digits, - _ . : only)"
        )));
    }
    Ok(format!("{CORRELATION_LABEL_PREFIX}{correlation}"))
}

impl Client {
    /// One issue with every field and the fields' names, or `None` when it does not exist (or
    /// is hidden from the integration user: Jira answers 404 for both).
    pub async fn issue(&self, key_or_id: &str) -> Result<Option<Issue>> {
        let path = format!("/issue/{}", segment(key_or_id)?);
        match self
            .get_json(&path, &[("fields", "*all"), ("expand", "names")])
            .await
        {
            Ok(v) => Ok(Some(
                Issue::from_json(self.flavour(), &v).ok_or_else(|| bad("GET", &path, "no id"))?,
            )),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn issue_required(&self, key_or_id: &str) -> Result<Issue> {
        self.issue(key_or_id).await?.ok_or_else(|| JiraError::Api {
            status: 404,
            method: "GET".into(),
            path: format!("/issue/{key_or_id}"),
            text: super::error::ErrorText {
                messages: vec![
                    "Issue does not exist or you do not have permission to see it.".into(),
                ],
                errors: Default::default(),
            },
        })
    }

    /// Creates an issue through its create screen: fields are found by id or name, checked
    /// against the screen (present, allowed values, required ones given) and converted. With a
    /// `correlation`, the issue carries the label `tandem-<correlation>`, by which
    /// [`Client::find_by_correlation`] finds it again when this call's answer was lost.
    ///
    /// Not retried after Jira may have acted: a 5xx or a dropped connection comes back as
    /// [`JiraError::Uncertain`]; look the correlation up before creating again.
    pub async fn create_issue(&self, new: &NewIssue, correlation: Option<&str>) -> Result<Issue> {
        let issue_type = self.issue_type(&new.project, &new.issue_type).await?;
        let screen = self.create_fields(&new.project, &issue_type.id).await?;
        let mut fields = Map::new();
        fields.insert("project".into(), json!({"key": new.project}));
        fields.insert("issuetype".into(), json!({"id": issue_type.id}));
        for (name, value) in &new.fields {
            let field = self.field(name).await?;
            let meta = screen.iter().find(|m| m.id == field.id).ok_or_else(|| {
                field_error(format!(
                    "field `{}` ({}) is not on the create screen of {} / {}",
                    field.name, field.id, new.project, issue_type.name
                ))
            })?;
            let json = self
                .field_json(&field, value, Some(&meta.allowed_values))
                .await?;
            fields.insert(field.id.clone(), json);
        }
        if let Some(c) = correlation {
            let label = correlation_label(c)?;
            if !screen.iter().any(|m| m.id == "labels") {
                return Err(JiraError::Unsupported {
                    what: "a correlation label".into(),
                    why: format!(
                        "labels are not on the create screen of {} / {}",
                        new.project, issue_type.name
                    ),
                });
            }
            let labels = fields.entry("labels").or_insert_with(|| json!([]));
            if let Value::Array(list) = labels {
                if !list.iter().any(|l| l.as_str() == Some(label.as_str())) {
                    list.push(json!(label));
                }
            } else {
                *labels = json!([label]);
            }
        }
        let missing: Vec<&str> = screen
            .iter()
            .filter(|m| m.required && !m.has_default && !fields.contains_key(&m.id))
            .map(|m| {
                if m.name.is_empty() {
                    m.id.as_str()
                } else {
                    m.name.as_str()
                }
            })
            .collect();
        if !missing.is_empty() {
            return Err(field_error(format!(
                "{} / {} requires {} to create an issue",
                new.project,
                issue_type.name,
                missing.join(", ")
            )));
        }
        let created = self
            .send_json(
                Method::POST,
                "/issue",
                &[],
                json!({ "fields": fields }),
                Repeat::Unsafe,
            )
            .await?;
        let key = str_of(&created, "key");
        let id = id_of(&created, "id");
        let which = if key.is_empty() { id } else { key.to_owned() };
        if which.is_empty() {
            return Err(bad("POST", "/issue", "no id or key for the created issue"));
        }
        let issue = self.issue_required(&which).await?;
        self.note_own_write(&issue);
        Ok(issue)
    }

    /// Edits an issue: only the fields whose value differs from the issue's are sent, checked
    /// against the edit screen (`/issue/{key}/editmeta`). Returns the issue as it is after the
    /// edit (unchanged and without a write when nothing differed).
    pub async fn update_issue(
        &self,
        key_or_id: &str,
        changes: &[(String, FieldValue)],
    ) -> Result<Issue> {
        let current = self.issue_required(key_or_id).await?;
        let path = format!("/issue/{}", segment(&current.key)?);
        let meta = self
            .get_json(&format!("{path}/editmeta"), &[])
            .await?
            .get("fields")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let mut send = Map::new();
        for (name, value) in changes {
            let field = self.field(name).await?;
            let Some(screen) = meta.get(&field.id) else {
                return Err(field_error(format!(
                    "field `{}` ({}) is not on the edit screen of {}",
                    field.name, field.id, current.key
                )));
            };
            let allowed: Vec<Value> = screen
                .get("allowedValues")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let json = self.field_json(&field, value, Some(&allowed)).await?;
            let now = current.fields.get(&field.id).unwrap_or(&Value::Null);
            if same_value(self.flavour(), field.kind(), now, &json) {
                continue;
            }
            send.insert(field.id.clone(), json);
        }
        if send.is_empty() {
            debug!(issue = %current.key, "Nothing to change; no edit sent.");
            return Ok(current);
        }
        self.send_json(
            Method::PUT,
            &path,
            &[],
            json!({ "fields": send }),
            Repeat::Safe,
        )
        .await?;
        let issue = self.issue_required(&current.key).await?;
        self.note_own_write(&issue);
        Ok(issue)
    }

    /// Deletes an issue and its sub-tasks; one already gone counts as deleted.
    pub async fn delete_issue(&self, key_or_id: &str) -> Result<()> {
        let url = self.url(
            &format!("/issue/{}", segment(key_or_id)?),
            &[("deleteSubtasks", "true")],
        );
        match self
            .send(
                Method::DELETE,
                &url,
                &super::client::Body::Empty,
                Repeat::Safe,
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// The issue of `project` created with `correlation` (its `tandem-…` label), if any: how a
    /// caller finds out whether a create whose answer was lost happened.
    pub async fn find_by_correlation(
        &self,
        project: &str,
        correlation: &str,
    ) -> Result<Option<Issue>> {
        let label = correlation_label(correlation)?;
        let jql = format!(
            "project = {} AND labels = \"{label}\" ORDER BY created ASC",
            jql_quote(project)
        );
        let page = self.search(&jql, &["*all"], None, 2).await?;
        let Some(first) = page.issues.into_iter().next() else {
            return Ok(None);
        };
        // Search is eventually consistent and trimmed; read the issue whole.
        self.issue(&first.id).await
    }

    /// Remembers a write of this client's own, so polling does not hand it back as a change.
    pub fn note_own_write(&self, issue: &Issue) {
        if issue.id.is_empty() || issue.updated().is_empty() {
            return;
        }
        let mut c = self.caches();
        c.own_writes
            .push((issue.id.clone(), issue.updated().to_owned()));
        let excess = c.own_writes.len().saturating_sub(10_000);
        c.own_writes.drain(..excess);
    }
}

/// A JQL string literal (or a bare key when it is one).
pub(crate) fn jql_quote(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return s.to_owned();
    }
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn correlation_labels_hold_no_spaces_or_quotes() {
        assert_eq!(correlation_label("abc-1").expect("label"), "tandem-abc-1");
        for bad in ["", "a b", "a\"b", "x)OR(1=1"] {
            assert!(correlation_label(bad).is_err(), "{bad}");
        }
        assert_eq!(jql_quote("SUP"), "SUP");
        assert_eq!(jql_quote("a \"b\""), "\"a \\\"b\\\"\"");
    }

    #[test]
    fn values_display_as_words() {
        assert_eq!(
            display(&json!({"value": "EMEA", "child": {"value": "Berlin"}})),
            "EMEA / Berlin"
        );
        assert_eq!(
            display(&json!([{"displayName": "A"}, {"displayName": "B"}])),
            "A, B"
        );
        assert_eq!(display(&json!(2.5)), "2.5");
    }
}
