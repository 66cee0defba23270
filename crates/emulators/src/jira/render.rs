//! How the site's data reads over REST: issues (`IssueBean`) with `fields` selection and
//! `expand`, users, statuses, comments, attachments, changelogs and field metadata, in v3 (ADF)
//! or v2 (wiki markup) form, each shaped as Atlassian's OpenAPI document describes it.

use jiff::Timestamp;
use serde_json::{Map, Value, json};

use super::adf;
use super::fields::{FieldDef, Kind, SelectOption};
use super::site::{Attachment, Comment, Flavour, History, Issue, IssueType, Named, Project, Site};

/// `2021-01-20T15:58:12.797+0000`, as Jira writes timestamps (UTC here).
pub fn timestamp(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S%.3f%z").to_string()
}

/// Which fields a read returns (`fields=` as Jira takes it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    all: bool,
    navigable: bool,
    include: Vec<String>,
    exclude: Vec<String>,
}

impl Selection {
    /// From `fields` values (each may be comma-separated); `default` when none is given.
    pub fn parse<'a>(values: impl IntoIterator<Item = &'a str>, default: &str) -> Self {
        let mut items: Vec<String> = values
            .into_iter()
            .flat_map(|v| v.split(','))
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect();
        if items.is_empty() {
            items = default
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
        }
        let mut sel = Self {
            all: false,
            navigable: false,
            include: Vec::new(),
            exclude: Vec::new(),
        };
        for i in items {
            match i.as_str() {
                "*all" => sel.all = true,
                "*navigable" => sel.navigable = true,
                _ => match i.strip_prefix('-') {
                    Some(x) => sel.exclude.push(x.to_owned()),
                    None => sel.include.push(i),
                },
            }
        }
        sel
    }

    pub fn wants(&self, def: &FieldDef) -> bool {
        if self.exclude.contains(&def.id) {
            return false;
        }
        self.all
            || (self.navigable && def.id != "comment")
            || self
                .include
                .iter()
                .any(|x| *x == def.id || x.eq_ignore_ascii_case(&def.name))
    }

    /// Only ids are asked for (search/jql's default).
    pub fn is_empty(&self) -> bool {
        !self.all && !self.navigable && self.include.iter().all(|i| i == "id")
    }
}

/// A renderer for one request: the site, the base URL the client used, the API version.
pub struct View<'a> {
    pub site: &'a Site,
    pub base: String,
    pub v2: bool,
}

fn avatars(base: &str, seed: &str) -> Value {
    let url = |n: u32| format!("{base}/secure/useravatar?size={n}&ownerId={seed}");
    json!({ "48x48": url(48), "24x24": url(24), "16x16": url(16), "32x32": url(32) })
}

impl View<'_> {
    pub fn api(&self) -> String {
        format!("{}/rest/api/{}", self.base, if self.v2 { 2 } else { 3 })
    }

    /// A user (`UserDetails`/`User`) by accountId; `null` when unknown.
    pub fn user(&self, account_id: &str) -> Value {
        let Some(u) = self.site.user(account_id) else {
            return Value::Null;
        };
        match self.site.flavour {
            Flavour::Cloud => json!({
                "self": format!("{}/user?accountId={}", self.api(), u.account_id),
                "accountId": u.account_id,
                "accountType": "atlassian",
                "emailAddress": u.email,
                "avatarUrls": avatars(&self.base, &u.account_id),
                "displayName": u.display_name,
                "active": u.active,
                "timeZone": "UTC",
            }),
            Flavour::Dc => json!({
                "self": format!("{}/user?username={}", self.api(), u.name),
                "key": u.name,
                "name": u.name,
                "emailAddress": u.email,
                "avatarUrls": avatars(&self.base, &u.name),
                "displayName": u.display_name,
                "active": u.active,
                "timeZone": "UTC",
            }),
        }
    }

    pub fn status(&self, id: &str) -> Value {
        let Some(s) = self.site.workflow.status(id) else {
            return Value::Null;
        };
        json!({
            "self": format!("{}/status/{}", self.api(), s.id),
            "description": "",
            "iconUrl": format!("{}/images/icons/statuses/generic.png", self.base),
            "name": s.name,
            "id": s.id,
            "statusCategory": {
                "self": format!("{}/statuscategory/{}", self.api(), s.category.id()),
                "id": s.category.id(),
                "key": s.category.key(),
                "colorName": s.category.color(),
                "name": s.category.name(),
            }
        })
    }

    pub fn issue_type(&self, t: &IssueType) -> Value {
        json!({
            "self": format!("{}/issuetype/{}", self.api(), t.id),
            "id": t.id,
            "description": t.description,
            "iconUrl": format!("{}/images/icons/issuetypes/{}.png", self.base, t.name.to_lowercase()),
            "name": t.name,
            "subtask": t.subtask,
            "avatarId": 10300,
            "hierarchyLevel": t.hierarchy,
        })
    }

    pub fn project_short(&self, p: &Project) -> Value {
        json!({
            "self": format!("{}/project/{}", self.api(), p.id),
            "id": p.id,
            "key": p.key,
            "name": p.name,
            "projectTypeKey": "software",
            "simplified": false,
            "avatarUrls": avatars(&self.base, &p.key),
        })
    }

    pub fn project(&self, p: &Project) -> Value {
        let mut v = self.project_short(p);
        v["expand"] = json!("description,lead,issueTypes,url,projectKeys,permissions,insight");
        v["description"] = json!("");
        v["lead"] = self.user(&p.lead);
        v["components"] = Value::Array(p.components.iter().map(|c| self.component(c)).collect());
        v["issueTypes"] = Value::Array(
            self.site
                .issue_types
                .iter()
                .map(|t| self.issue_type(t))
                .collect(),
        );
        v["assigneeType"] = json!("UNASSIGNED");
        v["versions"] = Value::Array(p.versions.iter().map(|x| self.version(p, x)).collect());
        v["style"] = json!("classic");
        v["isPrivate"] = json!(false);
        v["properties"] = json!({});
        v
    }

    pub fn component(&self, c: &Named) -> Value {
        json!({ "self": format!("{}/component/{}", self.api(), c.id), "id": c.id, "name": c.name })
    }

    pub fn version(&self, p: &Project, v: &Named) -> Value {
        json!({
            "self": format!("{}/version/{}", self.api(), v.id),
            "id": v.id, "name": v.name, "archived": false, "released": false,
            "projectId": p.id.parse::<u64>().unwrap_or_default(),
        })
    }

    pub fn priority(&self, p: &Named) -> Value {
        json!({
            "self": format!("{}/priority/{}", self.api(), p.id),
            "iconUrl": format!("{}/images/icons/priorities/{}.svg", self.base, p.name.to_lowercase()),
            "name": p.name,
            "id": p.id,
        })
    }

    pub fn resolution(&self, r: &Named) -> Value {
        json!({ "self": format!("{}/resolution/{}", self.api(), r.id), "id": r.id, "name": r.name, "description": "" })
    }

    fn option(&self, o: &SelectOption) -> Value {
        json!({ "self": format!("{}/customFieldOption/{}", self.api(), o.id), "value": o.value, "id": o.id })
    }

    /// Rich text as this API version writes it.
    pub fn rich(&self, doc: &Value) -> Value {
        if self.v2 {
            json!(adf::to_wiki(doc))
        } else {
            doc.clone()
        }
    }

    /// A short issue reference (`parent`, `subtasks`).
    fn issue_ref(&self, i: &Issue) -> Value {
        let mut fields = json!({
            "summary": i.values.get("summary").cloned().unwrap_or(Value::Null),
            "status": self.status(&i.status),
            "priority": i.values.get("priority").and_then(Value::as_str)
                .and_then(|p| self.site.priorities.iter().find(|x| x.id == p))
                .map_or(Value::Null, |p| self.priority(p)),
        });
        if let Some(t) = self.site.issue_type(&i.issue_type) {
            fields["issuetype"] = self.issue_type(t);
        }
        json!({ "id": i.id.to_string(), "key": i.key, "self": format!("{}/issue/{}", self.api(), i.id), "fields": fields })
    }

    fn named_value(&self, list: &[Named], v: Option<&Value>, f: impl Fn(&Named) -> Value) -> Value {
        v.and_then(Value::as_str)
            .and_then(|id| list.iter().find(|n| n.id == id))
            .map_or(Value::Null, f)
    }

    /// A field's value as a read returns it.
    pub fn field(&self, issue: &Issue, def: &FieldDef) -> Value {
        let site = self.site;
        let v = issue.values.get(&def.id);
        let project = site.project(&issue.project);
        match def.id.as_str() {
            "project" => return project.map_or(Value::Null, |p| self.project_short(p)),
            "issuetype" => {
                return site
                    .issue_type(&issue.issue_type)
                    .map_or(Value::Null, |t| self.issue_type(t));
            }
            "status" => return self.status(&issue.status),
            "created" => return json!(timestamp(issue.created)),
            "updated" => return json!(timestamp(issue.updated)),
            "resolutiondate" => {
                return issue
                    .resolution_date
                    .map_or(Value::Null, |t| json!(timestamp(t)));
            }
            "creator" => return self.user(&issue.creator),
            "issuekey" => return json!(issue.key),
            "subtasks" => {
                return Value::Array(site.subtasks(issue.id).map(|s| self.issue_ref(s)).collect());
            }
            "comment" => {
                let comments: Vec<Value> = issue
                    .comments
                    .iter()
                    .map(|c| self.comment(issue, c))
                    .collect();
                return json!({
                    "comments": comments,
                    "self": format!("{}/issue/{}/comment", self.api(), issue.id),
                    "maxResults": comments.len(), "total": comments.len(), "startAt": 0,
                });
            }
            "attachment" => {
                return Value::Array(
                    issue
                        .attachments
                        .iter()
                        .filter_map(|a| site.attachments.get(a))
                        .map(|a| self.attachment(a))
                        .collect(),
                );
            }
            _ => {}
        }
        let Some(v) = v else {
            return match def.kind {
                Kind::Labels | Kind::Components | Kind::Versions => json!([]),
                _ => Value::Null,
            };
        };
        match &def.kind {
            Kind::Text | Kind::Date | Kind::Number => v.clone(),
            Kind::Rich => self.rich(v),
            Kind::User => self.user(v.as_str().unwrap_or_default()),
            Kind::MultiUser => Value::Array(
                v.as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .map(|u| self.user(u))
                    .collect(),
            ),
            Kind::Labels => v.clone(),
            Kind::Select(options) => v
                .as_str()
                .and_then(|id| options.iter().find(|o| o.id == id))
                .map_or(Value::Null, |o| self.option(o)),
            Kind::Cascading(options) => {
                let parent = v
                    .get("parent")
                    .and_then(Value::as_str)
                    .and_then(|p| options.iter().find(|o| o.id == p));
                match parent {
                    None => Value::Null,
                    Some(p) => {
                        let mut out = self.option(p);
                        if let Some(c) = v
                            .get("child")
                            .and_then(Value::as_str)
                            .and_then(|c| p.children.iter().find(|o| o.id == c))
                        {
                            out["child"] = self.option(c);
                        }
                        out
                    }
                }
            }
            Kind::Priority => self.named_value(&site.priorities, Some(v), |p| self.priority(p)),
            Kind::Resolution => {
                self.named_value(&site.resolutions, Some(v), |r| self.resolution(r))
            }
            Kind::Components => match project {
                Some(p) => Value::Array(
                    v.as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                        .filter_map(|id| p.components.iter().find(|c| c.id == id))
                        .map(|c| self.component(c))
                        .collect(),
                ),
                None => json!([]),
            },
            Kind::Versions => match project {
                Some(p) => Value::Array(
                    v.as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                        .filter_map(|id| p.versions.iter().find(|c| c.id == id))
                        .map(|x| self.version(p, x))
                        .collect(),
                ),
                None => json!([]),
            },
            Kind::Parent => v
                .as_u64()
                .and_then(|p| site.issues.get(&p))
                .map_or(Value::Null, |p| self.issue_ref(p)),
            Kind::IssueType | Kind::Project | Kind::ReadOnly => Value::Null,
        }
    }

    pub fn comment(&self, issue: &Issue, c: &Comment) -> Value {
        let mut v = json!({
            "self": format!("{}/issue/{}/comment/{}", self.api(), issue.id, c.id),
            "id": c.id.to_string(),
            "author": self.user(&c.author),
            "body": self.rich(&c.body),
            "updateAuthor": self.user(&c.update_author),
            "created": timestamp(c.created),
            "updated": timestamp(c.updated),
            "jsdPublic": c.public,
        });
        if let Some(vis) = &c.visibility {
            v["visibility"] = vis.clone();
        }
        v
    }

    pub fn attachment(&self, a: &Attachment) -> Value {
        json!({
            "self": format!("{}/attachment/{}", self.api(), a.id),
            "id": a.id.to_string(),
            "filename": a.filename,
            "author": self.user(&a.author),
            "created": timestamp(a.created),
            "size": a.bytes.len(),
            "mimeType": a.mime_type,
            "content": format!("{}/attachment/content/{}", self.api(), a.id),
        })
    }

    pub fn history(&self, h: &History) -> Value {
        json!({
            "id": h.id.to_string(),
            "author": self.user(&h.author),
            "created": timestamp(h.created),
            // Absent values are left out: the document types them as strings, never null.
            "items": h.items.iter().map(|i| {
                let mut item = json!({ "field": i.field, "fieldtype": i.field_type, "fieldId": i.field_id });
                for (k, v) in [("from", &i.from), ("fromString", &i.from_string), ("to", &i.to), ("toString", &i.to_string)] {
                    if let Some(v) = v {
                        item[k] = json!(v);
                    }
                }
                item
            }).collect::<Vec<_>>(),
        })
    }

    /// An issue (`IssueBean`) with the selected fields and the expansions asked for.
    pub fn issue(&self, issue: &Issue, sel: &Selection, expand: &[&str]) -> Value {
        let mut out = Map::new();
        out.insert(
            "expand".into(),
            json!(
                "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations"
            ),
        );
        out.insert("id".into(), json!(issue.id.to_string()));
        out.insert(
            "self".into(),
            json!(format!("{}/issue/{}", self.api(), issue.id)),
        );
        out.insert("key".into(), json!(issue.key));
        let defs: Vec<&FieldDef> = self
            .site
            .fields
            .iter()
            .filter(|d| sel.wants(d) && d.id != "issuekey")
            .collect();
        if !sel.is_empty() || !defs.is_empty() {
            let fields: Map<String, Value> = defs
                .iter()
                .map(|d| (d.id.clone(), self.field(issue, d)))
                .collect();
            out.insert("fields".into(), Value::Object(fields));
        }
        if expand.contains(&"names") {
            out.insert(
                "names".into(),
                defs.iter()
                    .map(|d| (d.id.clone(), json!(d.name)))
                    .collect::<Map<_, _>>()
                    .into(),
            );
        }
        if expand.contains(&"schema") {
            out.insert(
                "schema".into(),
                defs.iter()
                    .map(|d| (d.id.clone(), d.schema()))
                    .collect::<Map<_, _>>()
                    .into(),
            );
        }
        if expand.contains(&"renderedFields") {
            let rendered: Map<String, Value> = defs
                .iter()
                .map(|d| {
                    let v = match (&d.kind, issue.values.get(&d.id)) {
                        (Kind::Rich, Some(doc)) => {
                            json!(format!("<p>{}</p>", html_escape(&adf::plain_text(doc))))
                        }
                        _ => Value::Null,
                    };
                    (d.id.clone(), v)
                })
                .collect();
            out.insert("renderedFields".into(), Value::Object(rendered));
        }
        if expand.contains(&"transitions") {
            out.insert(
                "transitions".into(),
                Value::Array(self.transitions(issue, false, None)),
            );
        }
        if expand.contains(&"editmeta") {
            out.insert("editmeta".into(), self.edit_meta(issue));
        }
        if expand.contains(&"changelog") {
            let histories: Vec<Value> = issue
                .changelog
                .iter()
                .rev()
                .map(|h| self.history(h))
                .collect();
            out.insert(
                "changelog".into(),
                json!({ "startAt": 0, "maxResults": histories.len(), "total": histories.len(), "histories": histories }),
            );
        }
        Value::Object(out)
    }

    /// The transitions available to an issue (`IssueTransition`s).
    pub fn transitions(&self, issue: &Issue, with_fields: bool, only: Option<&str>) -> Vec<Value> {
        self.site
            .workflow
            .available(&issue.status)
            .into_iter()
            .filter(|t| only.is_none_or(|id| id == t.id))
            .map(|t| {
                let mut v = json!({
                    "id": t.id,
                    "name": t.name,
                    "to": self.status(&t.to),
                    "hasScreen": t.requires_resolution,
                    "isGlobal": t.from.is_empty(),
                    "isInitial": false,
                    "isAvailable": true,
                    "isConditional": false,
                    "isLooped": false,
                });
                if with_fields {
                    let mut fields = Map::new();
                    if t.requires_resolution
                        && let Some(def) = self.site.field("resolution")
                    {
                        let mut meta =
                            self.field_meta(def, self.site.project(&issue.project), None, false);
                        meta["required"] = json!(true);
                        fields.insert("resolution".into(), meta);
                    }
                    v["fields"] = Value::Object(fields);
                }
                v
            })
            .collect()
    }

    /// `IssueUpdateMetadata`: the fields on the edit screen.
    pub fn edit_meta(&self, issue: &Issue) -> Value {
        let project = self.site.project(&issue.project);
        let issue_type = self.site.issue_type(&issue.issue_type);
        let fields: Map<String, Value> = self
            .site
            .fields
            .iter()
            .filter(|d| d.settable())
            .map(|d| (d.id.clone(), self.field_meta(d, project, issue_type, false)))
            .collect();
        json!({ "fields": fields })
    }

    /// `FieldMetadata` (or `FieldCreateMetadata` with `fieldId`).
    pub fn field_meta(
        &self,
        def: &FieldDef,
        project: Option<&Project>,
        issue_type: Option<&IssueType>,
        with_field_id: bool,
    ) -> Value {
        let required = matches!(def.id.as_str(), "summary" | "project" | "issuetype")
            || (def.id == "parent" && issue_type.is_some_and(|t| t.subtask));
        let mut v = json!({
            "required": required,
            "schema": def.schema(),
            "name": def.name,
            "key": def.id,
            "hasDefaultValue": def.id == "priority",
            "operations": def.operations(),
        });
        if with_field_id {
            v["fieldId"] = json!(def.id);
        }
        let allowed: Option<Vec<Value>> = match &def.kind {
            Kind::Select(options) => Some(options.iter().map(|o| self.option(o)).collect()),
            Kind::Cascading(options) => Some(
                options
                    .iter()
                    .map(|o| {
                        let mut p = self.option(o);
                        p["children"] =
                            Value::Array(o.children.iter().map(|c| self.option(c)).collect());
                        p
                    })
                    .collect(),
            ),
            Kind::Priority => Some(
                self.site
                    .priorities
                    .iter()
                    .map(|p| self.priority(p))
                    .collect(),
            ),
            Kind::Resolution => Some(
                self.site
                    .resolutions
                    .iter()
                    .map(|r| self.resolution(r))
                    .collect(),
            ),
            Kind::Components => {
                project.map(|p| p.components.iter().map(|c| self.component(c)).collect())
            }
            Kind::Versions => {
                project.map(|p| p.versions.iter().map(|x| self.version(p, x)).collect())
            }
            Kind::IssueType => issue_type.map(|t| vec![self.issue_type(t)]),
            Kind::Project => project.map(|p| vec![self.project_short(p)]),
            _ => None,
        };
        if let Some(a) = allowed {
            v["allowedValues"] = Value::Array(a);
        }
        if def.id == "priority" {
            v["defaultValue"] = self
                .site
                .priorities
                .iter()
                .find(|p| p.id == "3")
                .map_or(Value::Null, |p| self.priority(p));
        }
        if matches!(def.kind, Kind::User | Kind::MultiUser) {
            v["autoCompleteUrl"] = json!(format!("{}/user/search?query=", self.api()));
        }
        if def.id == "labels" {
            v["autoCompleteUrl"] =
                json!(format!("{}/rest/api/1.0/labels/suggest?query=", self.base));
        }
        v
    }
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\n', "<br/>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_have_millis_and_an_offset_without_colon() {
        let t: Timestamp = "2021-01-20T04:58:12.797Z".parse().expect("timestamp");
        assert_eq!(timestamp(t), "2021-01-20T04:58:12.797+0000");
    }

    #[test]
    fn field_selection_follows_jira() {
        let defs = super::super::fields::catalogue();
        let by = |id: &str| defs.iter().find(|d| d.id == id).expect("field");
        let all = Selection::parse(["*all,-comment"], "");
        assert!(all.wants(by("summary")) && !all.wants(by("comment")));
        let nav = Selection::parse(Vec::<&str>::new(), "*navigable");
        assert!(nav.wants(by("status")) && !nav.wants(by("comment")));
        let some = Selection::parse(["summary", "Story Points"], "*all");
        assert!(
            some.wants(by("summary"))
                && some.wants(by("customfield_10012"))
                && !some.wants(by("status"))
        );
        assert!(Selection::parse(Vec::<&str>::new(), "id").is_empty());
        assert!(!some.is_empty());
    }
}
