//! What describes a site: projects, issue types and their create screens
//! (`/issue/createmeta/{project}/issuetypes[/{id}]`), fields (`/field`, custom fields found by
//! name), statuses, priorities, resolutions, the attachment settings, and users found by
//! e-mail (`accountId` on Cloud, `name` on Data Center). Fields, users and create screens are
//! kept once read (see `Client::forget_metadata`).

use std::sync::Arc;

use serde_json::Value;

use super::client::{Client, Flavour, Result, id_of, segment, str_of};
use super::error::{bad, field_error};

/// A project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    pub id: String,
    pub key: String,
    pub name: String,
}

/// An issue type of a project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueType {
    pub id: String,
    pub name: String,
    pub subtask: bool,
    /// Epic 1, standard 0, sub-task −1 (Cloud's `hierarchyLevel`; 0 when not said).
    pub hierarchy_level: i64,
}

/// A field of the site (`GET /field`).
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub id: String,
    pub name: String,
    pub custom: bool,
    /// `schema`: `type` (string, number, date, datetime, array, option, user, option-with-child…),
    /// `items`, `custom` (the custom field type's key), `system`.
    pub schema: Value,
}

/// How a field's value is written, from its schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// A single-line string.
    Text,
    /// Rich text: ADF on Cloud, wiki markup on Data Center (description, environment,
    /// paragraph custom fields).
    RichText,
    Number,
    Date,
    DateTime,
    /// A single select list (`{"value": …}`).
    Option,
    /// A multi-select or checkboxes (`[{"value": …}]`).
    Options,
    /// A cascading select (`{"value": …, "child": {"value": …}}`).
    Cascading,
    User,
    Users,
    Labels,
    Components,
    Versions,
    Priority,
    Resolution,
    Parent,
    Other,
}

impl Field {
    /// How values of this field are written.
    pub fn kind(&self) -> FieldKind {
        kind_of(&self.id, &self.schema)
    }
}

pub(crate) fn kind_of(id: &str, schema: &Value) -> FieldKind {
    let ty = str_of(schema, "type");
    let items = str_of(schema, "items");
    let custom = str_of(schema, "custom");
    let system = str_of(schema, "system");
    let name = if system.is_empty() { id } else { system };
    match name {
        "description" | "environment" => return FieldKind::RichText,
        "labels" => return FieldKind::Labels,
        "components" => return FieldKind::Components,
        "fixVersions" | "versions" => return FieldKind::Versions,
        "priority" => return FieldKind::Priority,
        "resolution" => return FieldKind::Resolution,
        "parent" => return FieldKind::Parent,
        "duedate" => return FieldKind::Date,
        _ => {}
    }
    if custom.ends_with(":textarea") {
        return FieldKind::RichText;
    }
    match (ty, items) {
        ("string", _) => FieldKind::Text,
        ("number", _) => FieldKind::Number,
        ("date", _) => FieldKind::Date,
        ("datetime", _) => FieldKind::DateTime,
        ("option", _) => FieldKind::Option,
        ("option-with-child", _) => FieldKind::Cascading,
        ("user", _) => FieldKind::User,
        ("array", "user") => FieldKind::Users,
        ("array", "option") => FieldKind::Options,
        ("array", "string") => FieldKind::Labels,
        ("array", "component") => FieldKind::Components,
        ("array", "version") => FieldKind::Versions,
        ("priority", _) => FieldKind::Priority,
        ("resolution", _) => FieldKind::Resolution,
        _ => FieldKind::Other,
    }
}

/// A field on a create screen, with what it accepts.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldMeta {
    pub id: String,
    pub name: String,
    pub required: bool,
    pub schema: Value,
    /// Options, priorities, components, versions… as Jira lists them (empty when free).
    pub allowed_values: Vec<Value>,
    pub has_default: bool,
}

impl FieldMeta {
    fn from_json(id_hint: &str, v: &Value) -> Self {
        let id = [str_of(v, "fieldId"), str_of(v, "key"), id_hint]
            .into_iter()
            .find(|s| !s.is_empty())
            .unwrap_or_default()
            .to_owned();
        Self {
            name: str_of(v, "name").to_owned(),
            required: v.get("required").and_then(Value::as_bool).unwrap_or(false),
            schema: v.get("schema").cloned().unwrap_or(Value::Null),
            allowed_values: v
                .get("allowedValues")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default(),
            has_default: v
                .get("hasDefaultValue")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            id,
        }
    }

    pub fn kind(&self) -> FieldKind {
        kind_of(&self.id, &self.schema)
    }
}

/// A user as the connector refers to them: `accountId` on Cloud, `name` on Data Center.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRef {
    pub id: String,
    pub display_name: String,
    /// Empty when the user's privacy settings hide it.
    pub email: String,
    /// IANA zone (`timeZone`), when Jira says.
    pub time_zone: Option<String>,
}

impl UserRef {
    pub(crate) fn from_json(flavour: Flavour, v: &Value) -> Option<Self> {
        let id = match flavour {
            Flavour::Cloud => str_of(v, "accountId"),
            Flavour::DataCenter => [str_of(v, "name"), str_of(v, "key")]
                .into_iter()
                .find(|s| !s.is_empty())
                .unwrap_or_default(),
        };
        if id.is_empty() {
            return None;
        }
        Some(Self {
            id: id.to_owned(),
            display_name: str_of(v, "displayName").to_owned(),
            email: str_of(v, "emailAddress").to_owned(),
            time_zone: v.get("timeZone").and_then(Value::as_str).map(str::to_owned),
        })
    }

    /// The user as a field value or a body refers to them.
    pub fn to_json(&self, flavour: Flavour) -> Value {
        match flavour {
            Flavour::Cloud => serde_json::json!({ "accountId": self.id }),
            Flavour::DataCenter => serde_json::json!({ "name": self.id }),
        }
    }
}

/// A status of the site's workflows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub id: String,
    pub name: String,
    /// `new`, `indeterminate` or `done`.
    pub category: String,
}

impl Status {
    pub(crate) fn from_json(v: &Value) -> Self {
        Self {
            id: id_of(v, "id"),
            name: str_of(v, "name").to_owned(),
            category: v
                .get("statusCategory")
                .map(|c| str_of(c, "key").to_owned())
                .unwrap_or_default(),
        }
    }
}

/// A named thing with an id: priorities, resolutions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named {
    pub id: String,
    pub name: String,
}

/// Pages of `{startAt, maxResults, total, <key>: [...]}` are read to the end, at most this many.
const MAX_PAGES: usize = 100;

impl Client {
    /// The signed-in user.
    pub async fn myself(&self) -> Result<UserRef> {
        let v = self.get_json("/myself", &[]).await?;
        UserRef::from_json(self.flavour(), &v)
            .ok_or_else(|| bad("GET", "/myself", "no accountId or name"))
    }

    /// Every project the user can see.
    pub async fn projects(&self) -> Result<Vec<Project>> {
        let v = self.get_json("/project", &[]).await?;
        let list = v
            .as_array()
            .ok_or_else(|| bad("GET", "/project", "not a list"))?;
        Ok(list
            .iter()
            .map(|p| Project {
                id: id_of(p, "id"),
                key: str_of(p, "key").to_owned(),
                name: str_of(p, "name").to_owned(),
            })
            .filter(|p| !p.key.is_empty())
            .collect())
    }

    /// The issue types one can create in `project` (`/issue/createmeta/{project}/issuetypes`),
    /// kept once read.
    pub async fn issue_types(&self, project: &str) -> Result<Vec<IssueType>> {
        if let Some(types) = self.caches().issue_types.get(project) {
            return Ok(types.clone());
        }
        let path = format!("/issue/createmeta/{}/issuetypes", segment(project)?);
        let rows = self.all_pages(&path, &["issueTypes", "values"]).await?;
        let types: Vec<IssueType> = rows
            .iter()
            .map(|t| IssueType {
                id: id_of(t, "id"),
                name: str_of(t, "name").to_owned(),
                subtask: t.get("subtask").and_then(Value::as_bool).unwrap_or(false),
                hierarchy_level: t.get("hierarchyLevel").and_then(Value::as_i64).unwrap_or(0),
            })
            .filter(|t| !t.id.is_empty())
            .collect();
        self.caches()
            .issue_types
            .insert(project.to_owned(), types.clone());
        Ok(types)
    }

    /// An issue type of `project` by name (case-insensitive) or id.
    pub async fn issue_type(&self, project: &str, name_or_id: &str) -> Result<IssueType> {
        self.issue_types(project)
            .await?
            .into_iter()
            .find(|t| t.id == name_or_id || t.name.eq_ignore_ascii_case(name_or_id))
            .ok_or_else(|| {
                field_error(format!(
                    "project {project} has no issue type `{name_or_id}` the integration user may create"
                ))
            })
    }

    /// The create screen of an issue type (`/issue/createmeta/{project}/issuetypes/{id}`).
    pub async fn create_fields(&self, project: &str, type_id: &str) -> Result<Arc<Vec<FieldMeta>>> {
        let key = (project.to_owned(), type_id.to_owned());
        if let Some(found) = self.caches().create_meta.get(&key) {
            return Ok(found.clone());
        }
        let path = format!(
            "/issue/createmeta/{}/issuetypes/{}",
            segment(project)?,
            segment(type_id)?
        );
        let rows = self.all_pages(&path, &["fields", "values"]).await?;
        let metas: Arc<Vec<FieldMeta>> =
            Arc::new(rows.iter().map(|f| FieldMeta::from_json("", f)).collect());
        self.caches().create_meta.insert(key, metas.clone());
        Ok(metas)
    }

    /// Every field of the site (`GET /field`), kept once read.
    pub async fn fields(&self) -> Result<Arc<Vec<Field>>> {
        if let Some(f) = &self.caches().fields {
            return Ok(f.clone());
        }
        let v = self.get_json("/field", &[]).await?;
        let list = v
            .as_array()
            .ok_or_else(|| bad("GET", "/field", "not a list"))?;
        let fields: Arc<Vec<Field>> = Arc::new(
            list.iter()
                .map(|f| Field {
                    id: str_of(f, "id").to_owned(),
                    name: str_of(f, "name").to_owned(),
                    custom: f.get("custom").and_then(Value::as_bool).unwrap_or(false),
                    schema: f.get("schema").cloned().unwrap_or(Value::Null),
                })
                .filter(|f| !f.id.is_empty())
                .collect(),
        );
        self.caches().fields = Some(fields.clone());
        Ok(fields)
    }

    /// A field by id (`customfield_10010`, `summary`) or by name (case-insensitive). Two custom
    /// fields with the same name are an error that names both ids.
    pub async fn field(&self, id_or_name: &str) -> Result<Field> {
        let fields = self.fields().await?;
        if let Some(f) = fields.iter().find(|f| f.id == id_or_name) {
            return Ok(f.clone());
        }
        let named: Vec<&Field> = fields
            .iter()
            .filter(|f| f.name.eq_ignore_ascii_case(id_or_name.trim()))
            .collect();
        match named.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(field_error(format!(
                "Jira has no field `{id_or_name}` (by id or name)"
            ))),
            many => Err(field_error(format!(
                "several Jira fields are called `{id_or_name}` ({}); name one by its id",
                many.iter()
                    .map(|f| f.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    /// Every status of the site's workflows.
    pub async fn statuses(&self) -> Result<Vec<Status>> {
        let v = self.get_json("/status", &[]).await?;
        Ok(v.as_array()
            .ok_or_else(|| bad("GET", "/status", "not a list"))?
            .iter()
            .map(Status::from_json)
            .collect())
    }

    /// The site's priorities.
    pub async fn priorities(&self) -> Result<Vec<Named>> {
        self.named("/priority").await
    }

    /// The site's resolutions.
    pub async fn resolutions(&self) -> Result<Vec<Named>> {
        self.named("/resolution").await
    }

    async fn named(&self, path: &str) -> Result<Vec<Named>> {
        let v = self.get_json(path, &[]).await?;
        Ok(v.as_array()
            .ok_or_else(|| bad("GET", path, "not a list"))?
            .iter()
            .map(|p| Named {
                id: id_of(p, "id"),
                name: str_of(p, "name").to_owned(),
            })
            .collect())
    }

    /// A user by e-mail (exact, case-insensitive), or `None`. Cloud answers `accountId`s, Data
    /// Center `name`s; found users are kept.
    pub async fn user_by_email(&self, email: &str) -> Result<Option<UserRef>> {
        let wanted = email.trim().to_lowercase();
        if wanted.is_empty() {
            return Ok(None);
        }
        if let Some(u) = self.caches().users.get(&wanted) {
            return Ok(Some(u.clone()));
        }
        let param = match self.flavour() {
            Flavour::Cloud => "query",
            Flavour::DataCenter => "username",
        };
        let v = self
            .get_json("/user/search", &[(param, &wanted), ("maxResults", "20")])
            .await?;
        let users: Vec<UserRef> = v
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|u| UserRef::from_json(self.flavour(), u))
            .collect();
        let found = users
            .iter()
            .find(|u| u.email.eq_ignore_ascii_case(&wanted))
            .cloned();
        if let Some(u) = &found {
            self.caches().users.insert(wanted, u.clone());
        }
        Ok(found)
    }

    /// The largest attachment the site accepts (`GET /attachment/meta`), `None` when it does
    /// not say; an error when attachments are switched off.
    pub async fn attachment_limit(&self) -> Result<Option<u64>> {
        if let Some(limit) = self.caches().attachment_limit {
            return Ok(limit);
        }
        let v = self.get_json("/attachment/meta", &[]).await?;
        if v.get("enabled").and_then(Value::as_bool) == Some(false) {
            return Err(super::error::JiraError::Unsupported {
                what: "attachments".into(),
                why: "they are switched off on this site".into(),
            });
        }
        let limit = v.get("uploadLimit").and_then(Value::as_u64);
        self.caches().attachment_limit = Some(limit);
        Ok(limit)
    }

    /// Every row of a `{startAt, maxResults, total, <key>}` listing.
    async fn all_pages(&self, path: &str, keys: &[&str]) -> Result<Vec<Value>> {
        let mut rows = Vec::new();
        for _ in 0..MAX_PAGES {
            let start = rows.len().to_string();
            let v = self
                .get_json(path, &[("startAt", &start), ("maxResults", "100")])
                .await?;
            let page = keys
                .iter()
                .find_map(|k| v.get(*k).and_then(Value::as_array))
                .ok_or_else(|| bad("GET", path, format!("no `{}` list", keys[0])))?;
            let n = page.len();
            rows.extend(page.iter().cloned());
            let total = v.get("total").and_then(Value::as_u64);
            let last = v.get("isLast").and_then(Value::as_bool);
            if n == 0 || last == Some(true) || total.is_none_or(|t| rows.len() as u64 >= t) {
                break;
            }
        }
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn field_kinds_come_from_the_schema() {
        let k = |id: &str, schema: Value| kind_of(id, &schema);
        assert_eq!(
            k("summary", json!({"type": "string", "system": "summary"})),
            FieldKind::Text
        );
        assert_eq!(
            k("description", json!({"type": "string"})),
            FieldKind::RichText
        );
        assert_eq!(
            k(
                "customfield_1",
                json!({"type": "string", "custom": "com.atlassian.jira.plugin.system.customfieldtypes:textarea"})
            ),
            FieldKind::RichText
        );
        assert_eq!(
            k("customfield_2", json!({"type": "option-with-child"})),
            FieldKind::Cascading
        );
        assert_eq!(
            k("customfield_3", json!({"type": "array", "items": "user"})),
            FieldKind::Users
        );
        assert_eq!(
            k("customfield_4", json!({"type": "array", "items": "option"})),
            FieldKind::Options
        );
        assert_eq!(k("duedate", json!({"type": "date"})), FieldKind::Date);
        assert_eq!(
            k("fixVersions", json!({"type": "array", "items": "version"})),
            FieldKind::Versions
        );
        assert_eq!(k("x", json!(null)), FieldKind::Other);
    }

    #[test]
    fn users_are_named_per_flavour() {
        let v = json!({"accountId": "abc", "name": "alex", "displayName": "Alex", "emailAddress": "a@x"});
        assert_eq!(
            UserRef::from_json(Flavour::Cloud, &v).expect("user").id,
            "abc"
        );
        let u = UserRef::from_json(Flavour::DataCenter, &v).expect("user");
        assert_eq!(u.to_json(Flavour::DataCenter), json!({"name": "alex"}));
        assert_eq!(
            UserRef::from_json(Flavour::Cloud, &json!({"name": "x"})),
            None
        );
    }
}
