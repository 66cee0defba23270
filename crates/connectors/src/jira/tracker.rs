//! Jira as a [`Tracker`]: collections are projects (by key), records issues (by id, fields as
//! REST sends them, plus `issuekey`), comments Jira's (editable and deletable; Jira Service
//! Management internal ones kept internal, bodies as Markdown), attachments on the issue (a
//! new file changes its issue's `updated`, so there is no separate attachment feed), and change
//! detection JQL polling (`poll`).
//!
//! Fields written through the seam are JSON keyed by field id or name and converted by the
//! field's type ([`value_of`]): strings into rich text as Markdown, options by value, users by
//! e-mail, components and versions by name, the parent by key, `null` to clear. Two names are
//! not fields: `status` moves the issue through its workflow (with `resolution` when given),
//! and `issuetype` picks the type on create (default `Task`).
//!
//! The poll state of each feed is held here between [`Tracker::resume`] and
//! [`Tracker::advance`]; the client notes its own writes, and `advance` keeps those a page did
//! not read back, so a write of this connector never comes back as a change.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use serde_json::Value;

use super::attachments::{Attachment, NewAttachment};
use super::client::{Auth, Client};
use super::error::{ErrorKind as JiraKind, JiraError};
use super::issues::{FieldValue, Issue, NewIssue, jql_quote};
use super::meta::FieldKind;
use super::poll::{Cursor as JiraCursor, PollOptions};
use crate::tracker::{
    Capabilities, Changes, Cursor, ErrorKind, Feed, Fields, NewFile, RemoteAttachment,
    RemoteComment, RemoteRecord, Tracker, TrackerError, TrackerKind,
};

/// The issue type of a create that names none.
const DEFAULT_ISSUE_TYPE: &str = "Task";

/// A Jira site as the mirror uses it.
pub struct Jira {
    client: Arc<Client>,
    user: String,
    options: PollOptions,
    feeds: Mutex<HashMap<(String, Feed), JiraCursor>>,
}

impl std::fmt::Debug for Jira {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jira")
            .field("client", &self.client)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

impl Jira {
    /// The site `client` talks to, polled with `options`. The node's user is the account's
    /// e-mail on Cloud; on Data Center use [`Jira::connect`] to learn the token's user name.
    pub fn new(client: Arc<Client>, options: PollOptions) -> Self {
        let user = match client.auth() {
            Auth::ApiToken { email, .. } => email.clone(),
            Auth::PersonalAccessToken { .. } => String::new(),
        };
        Self {
            client,
            user,
            options,
            feeds: Mutex::new(HashMap::new()),
        }
    }

    /// Like [`Jira::new`], asking Jira who the credentials sign in as (`/myself`): the
    /// `accountId` on Cloud, the user name on Data Center.
    pub async fn connect(client: Arc<Client>, options: PollOptions) -> Result<Self, TrackerError> {
        let me = client.myself().await.map_err(error)?;
        let mut jira = Self::new(client, options);
        jira.user = me.id;
        Ok(jira)
    }

    /// The client underneath.
    pub fn client(&self) -> &Arc<Client> {
        &self.client
    }

    fn feeds(&self) -> std::sync::MutexGuard<'_, HashMap<(String, Feed), JiraCursor>> {
        // The map is only ever replaced whole under the lock: a panic elsewhere left it intact.
        self.feeds.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The fields of a create or an update as the client writes them; `status` and
    /// `resolution` apart.
    async fn values(
        &self,
        fields: &Fields,
    ) -> Result<(Vec<(String, FieldValue)>, Option<String>, Option<String>), TrackerError> {
        let mut out = Vec::new();
        let (mut status, mut resolution) = (None, None);
        for (name, v) in fields {
            match name.as_str() {
                "status" => status = name_in(v),
                "resolution" if status.is_some() || fields.contains_key("status") => {
                    resolution = name_in(v)
                }
                "issuetype" | "project" | "issuekey" | "key" | "id" => {}
                _ => {
                    let field = self.client.field(name).await.map_err(error)?;
                    out.push((field.id.clone(), value_of(field.kind(), v)));
                }
            }
        }
        Ok((out, status, resolution))
    }

    async fn finish_status(
        &self,
        issue: Issue,
        status: Option<String>,
        resolution: Option<String>,
    ) -> Result<Issue, TrackerError> {
        match status {
            Some(s)
                if issue
                    .status()
                    .is_none_or(|now| !now.name.eq_ignore_ascii_case(&s)) =>
            {
                self.client
                    .move_to_status(&issue.key, &s, resolution.as_deref())
                    .await
                    .map_err(error)
            }
            _ => Ok(issue),
        }
    }
}

/// A name given as a string or as `{"name": …}` / `{"value": …}`.
fn name_in(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Object(o) => ["name", "value", "id"]
            .iter()
            .find_map(|k| o.get(*k).and_then(Value::as_str))
            .map(str::to_owned),
        _ => None,
    }
}

fn names_in(v: &Value) -> Vec<String> {
    match v {
        Value::Array(items) => items.iter().filter_map(name_in).collect(),
        Value::String(s) => s
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        other => name_in(other).into_iter().collect(),
    }
}

/// A user given as an e-mail, an id, or `{"accountId"|"name"|"emailAddress": …}`.
fn user_in(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Object(o) => ["emailAddress", "accountId", "name"]
            .iter()
            .find_map(|k| o.get(*k).and_then(Value::as_str))
            .map(str::to_owned),
        _ => None,
    }
}

/// A JSON value for a field of `kind`, as the client writes it. What does not fit the field's
/// type is sent as it is, for Jira to judge.
pub fn value_of(kind: FieldKind, v: &Value) -> FieldValue {
    if v.is_null() {
        return FieldValue::Clear;
    }
    match (kind, v) {
        (FieldKind::RichText, Value::String(s)) => FieldValue::Markdown(s.clone()),
        (FieldKind::Text, Value::String(s)) => FieldValue::Text(s.clone()),
        (FieldKind::Number, Value::Number(n)) => n
            .as_f64()
            .map_or(FieldValue::Raw(v.clone()), FieldValue::Number),
        (FieldKind::Number, Value::String(s)) => FieldValue::Text(s.clone()),
        (FieldKind::Date, Value::String(s)) => FieldValue::Date(s.clone()),
        (FieldKind::DateTime, Value::String(s)) => FieldValue::DateTime(s.clone()),
        (FieldKind::Option, _) => name_in(v).map_or(FieldValue::Raw(v.clone()), FieldValue::Option),
        (FieldKind::Options, _) => FieldValue::Options(names_in(v)),
        (FieldKind::Cascading, Value::Object(o)) => match o.get("value").and_then(Value::as_str) {
            Some(parent) => FieldValue::Cascading {
                parent: parent.to_owned(),
                child: o.get("child").and_then(name_in),
            },
            None => FieldValue::Raw(v.clone()),
        },
        (FieldKind::Cascading, Value::String(s)) => {
            let (parent, child) = match s.split_once(" / ") {
                Some((p, c)) => (p.to_owned(), Some(c.to_owned())),
                None => (s.clone(), None),
            };
            FieldValue::Cascading { parent, child }
        }
        (FieldKind::User, _) => user_in(v).map_or(FieldValue::Raw(v.clone()), FieldValue::User),
        (FieldKind::Users, Value::Array(items)) => {
            FieldValue::Users(items.iter().filter_map(user_in).collect())
        }
        (FieldKind::Labels, Value::Array(items)) => FieldValue::Labels(
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
        ),
        (FieldKind::Components | FieldKind::Versions, _) => FieldValue::Names(names_in(v)),
        (FieldKind::Priority | FieldKind::Resolution, _) => {
            name_in(v).map_or(FieldValue::Raw(v.clone()), |n| FieldValue::Names(vec![n]))
        }
        (FieldKind::Parent, Value::String(k)) => FieldValue::Parent(k.clone()),
        (FieldKind::Parent, Value::Object(o)) => match o.get("key").and_then(Value::as_str) {
            Some(k) => FieldValue::Parent(k.to_owned()),
            None => FieldValue::Raw(v.clone()),
        },
        _ => FieldValue::Raw(v.clone()),
    }
}

pub(crate) fn error(e: JiraError) -> TrackerError {
    let status = e.status();
    let kind = match e.kind() {
        JiraKind::Transient => ErrorKind::Transient,
        JiraKind::NotFound => ErrorKind::NotFound,
        JiraKind::Forbidden => ErrorKind::Forbidden,
        JiraKind::Unauthorized => ErrorKind::Unauthorized,
        JiraKind::Refused => ErrorKind::Refused,
        JiraKind::Unsupported => ErrorKind::Unsupported,
        JiraKind::Invalid => ErrorKind::Invalid,
    };
    TrackerError::new(TrackerKind::Jira, kind, status, e)
}

pub(crate) fn remote(issue: Issue) -> RemoteRecord {
    let mut fields = issue.fields;
    fields.insert("issuekey".into(), Value::String(issue.key));
    RemoteRecord {
        id: issue.id,
        // Jira's issue has no "updated by"; own writes are recognised by the cursor instead.
        updated_by: String::new(),
        fields,
    }
}

fn remote_attachment(record: &str, a: Attachment) -> RemoteAttachment {
    RemoteAttachment {
        id: a.id,
        record: record.to_owned(),
        file_name: a.filename,
        content_type: a.mime_type,
        size: a.size,
        sha256: String::new(),
        created_by: a.author,
    }
}

#[async_trait::async_trait]
impl Tracker for Jira {
    fn kind(&self) -> TrackerKind {
        TrackerKind::Jira
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            attachment_feed: false,
            edit_comments: true,
            delete_comments: true,
        }
    }

    fn user(&self) -> &str {
        &self.user
    }

    fn requests_sent(&self) -> u64 {
        self.client.requests_sent()
    }

    fn resume(&self, project: &str, feed: Feed, saved: Option<&str>) {
        let state = saved
            .and_then(|s| serde_json::from_str(s).ok())
            .unwrap_or_default();
        self.feeds().insert((project.to_owned(), feed), state);
    }

    async fn changes(&self, project: &str, feed: Feed) -> Result<Changes, TrackerError> {
        let state = self
            .feeds()
            .get(&(project.to_owned(), feed))
            .cloned()
            .unwrap_or_default();
        if feed == Feed::Attachments {
            // A new file changes its issue's `updated`: it comes with the issue's change.
            return Ok(Changes {
                records: Vec::new(),
                attachments: Vec::new(),
                more: false,
                next: Cursor::new(serde_json::to_string(&state).unwrap_or_default()),
            });
        }
        let scope = format!("project = {}", jql_quote(project));
        let page = self
            .client
            .changes(&scope, &state, &self.options)
            .await
            .map_err(error)?;
        Ok(Changes {
            records: page.issues.into_iter().map(remote).collect(),
            attachments: Vec::new(),
            more: page.more,
            next: Cursor::new(serde_json::to_string(&page.cursor).unwrap_or_default()),
        })
    }

    fn advance(&self, project: &str, feed: Feed, next: Cursor) -> String {
        let mut feeds = self.feeds();
        let current = feeds.entry((project.to_owned(), feed)).or_default();
        // A cursor is only ever one `changes` made, so it parses; a default one would read
        // everything again, which the mirror takes in idempotently.
        let mut next: JiraCursor = serde_json::from_str(next.as_str()).unwrap_or_default();
        next.keep_own_writes(current);
        next.keep_own_writes_of(&self.client);
        *current = next;
        serde_json::to_string(current).unwrap_or_default()
    }

    async fn record(&self, _project: &str, id: &str) -> Result<Option<RemoteRecord>, TrackerError> {
        Ok(self.client.issue(id).await.map_err(error)?.map(remote))
    }

    async fn find_correlated(
        &self,
        project: &str,
        correlation: &str,
    ) -> Result<Option<RemoteRecord>, TrackerError> {
        let found = self
            .client
            .find_by_correlation(project, correlation)
            .await
            .map_err(error)?;
        Ok(found.map(|issue| {
            // Written by an earlier try of this node's: not a change made in Jira.
            self.client.note_own_write(&issue);
            remote(issue)
        }))
    }

    async fn create(
        &self,
        project: &str,
        fields: &Fields,
        correlation: &str,
    ) -> Result<RemoteRecord, TrackerError> {
        let issue_type = fields
            .get("issuetype")
            .and_then(name_in)
            .unwrap_or_else(|| DEFAULT_ISSUE_TYPE.to_owned());
        let (values, status, resolution) = self.values(fields).await?;
        let issue = self
            .client
            .create_issue(
                &NewIssue {
                    project: project.to_owned(),
                    issue_type,
                    fields: values,
                },
                Some(correlation),
            )
            .await
            .map_err(error)?;
        Ok(remote(self.finish_status(issue, status, resolution).await?))
    }

    async fn update(
        &self,
        _project: &str,
        id: &str,
        changed: &Fields,
    ) -> Result<RemoteRecord, TrackerError> {
        let (values, status, resolution) = self.values(changed).await?;
        let issue = self.client.update_issue(id, &values).await.map_err(error)?;
        Ok(remote(self.finish_status(issue, status, resolution).await?))
    }

    async fn comments(
        &self,
        _project: &str,
        ids: &[&str],
    ) -> Result<HashMap<String, Vec<RemoteComment>>, TrackerError> {
        let mut out = HashMap::new();
        for id in ids {
            let comments = self.client.comments(id).await.map_err(error)?;
            let list = comments
                .into_iter()
                .map(|c| RemoteComment {
                    id: c.id,
                    record: (*id).to_owned(),
                    body: c.body.value,
                    internal: c.internal,
                    author: c.author.map(|a| a.id).unwrap_or_default(),
                })
                .collect();
            out.insert((*id).to_owned(), list);
        }
        Ok(out)
    }

    async fn add_comment(
        &self,
        _project: &str,
        id: &str,
        body: &str,
        internal: bool,
    ) -> Result<Option<RemoteComment>, TrackerError> {
        let made = self
            .client
            .add_comment(id, body, internal)
            .await
            .map_err(error)?;
        Ok(Some(RemoteComment {
            id: made.id,
            record: id.to_owned(),
            body: made.body.value,
            internal: made.internal,
            author: made.author.map(|a| a.id).unwrap_or_default(),
        }))
    }

    async fn edit_comment(
        &self,
        _project: &str,
        record: &str,
        comment: &str,
        body: &str,
    ) -> Result<(), TrackerError> {
        self.client
            .edit_comment(record, comment, body)
            .await
            .map(|_| ())
            .map_err(error)
    }

    async fn delete_comment(
        &self,
        _project: &str,
        record: &str,
        comment: &str,
    ) -> Result<(), TrackerError> {
        self.client
            .delete_comment(record, comment)
            .await
            .map_err(error)
    }

    async fn attachments(
        &self,
        _project: &str,
        ids: &[&str],
    ) -> Result<Vec<RemoteAttachment>, TrackerError> {
        let mut out = Vec::new();
        for id in ids {
            let files = self.client.attachments(id).await.map_err(error)?;
            out.extend(files.into_iter().map(|a| remote_attachment(id, a)));
        }
        Ok(out)
    }

    async fn attachments_present(&self, ids: &[&str]) -> Result<BTreeSet<String>, TrackerError> {
        let mut present = BTreeSet::new();
        for id in ids {
            // An id Jira cannot even parse as one is not present either.
            match self.client.attachment(id).await {
                Ok(Some(_)) => {
                    present.insert((*id).to_owned());
                }
                Ok(None) => {}
                Err(e) if e.kind() == JiraKind::Refused => {}
                Err(e) => return Err(error(e)),
            }
        }
        Ok(present)
    }

    async fn download(&self, attachment: &RemoteAttachment) -> Result<Vec<u8>, TrackerError> {
        self.client.download(&attachment.id).await.map_err(error)
    }

    async fn upload(
        &self,
        _project: &str,
        id: &str,
        file: NewFile,
    ) -> Result<RemoteAttachment, TrackerError> {
        let made = self
            .client
            .upload(
                id,
                &NewAttachment {
                    filename: file.file_name,
                    mime_type: file.content_type,
                    bytes: file.bytes,
                },
            )
            .await
            .map_err(error)?;
        Ok(remote_attachment(id, made))
    }

    async fn delete_attachment(
        &self,
        _project: &str,
        record: &str,
        id: &str,
    ) -> Result<(), TrackerError> {
        self.client.delete_attachment(id).await.map_err(error)?;
        // Deleting a file moves the issue's `updated`: that is this node's write, whether or
        // not this client listed the file before.
        self.client.note_own_issue_write(record).await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_values_become_what_each_field_takes() {
        assert_eq!(
            value_of(FieldKind::RichText, &json!("**hi**")),
            FieldValue::Markdown("**hi**".into())
        );
        assert_eq!(
            value_of(FieldKind::Option, &json!({"value": "Sev 1"})),
            FieldValue::Option("Sev 1".into())
        );
        assert_eq!(
            value_of(FieldKind::Cascading, &json!("EMEA / Berlin")),
            FieldValue::Cascading {
                parent: "EMEA".into(),
                child: Some("Berlin".into())
            }
        );
        assert_eq!(
            value_of(
                FieldKind::Cascading,
                &json!({"value": "EMEA", "child": {"value": "London"}})
            ),
            FieldValue::Cascading {
                parent: "EMEA".into(),
                child: Some("London".into())
            }
        );
        assert_eq!(
            value_of(FieldKind::Users, &json!(["a@x", {"accountId": "b"}])),
            FieldValue::Users(vec!["a@x".into(), "b".into()])
        );
        assert_eq!(
            value_of(FieldKind::Components, &json!([{"name": "Backend"}])),
            FieldValue::Names(vec!["Backend".into()])
        );
        assert_eq!(
            value_of(FieldKind::Priority, &json!("High")),
            FieldValue::Names(vec!["High".into()])
        );
        assert_eq!(
            value_of(FieldKind::Parent, &json!({"key": "SUP-1"})),
            FieldValue::Parent("SUP-1".into())
        );
        assert_eq!(value_of(FieldKind::Labels, &Value::Null), FieldValue::Clear);
        assert_eq!(
            value_of(FieldKind::Number, &json!(true)),
            FieldValue::Raw(json!(true))
        );
    }

    #[test]
    fn errors_say_what_the_caller_can_do() {
        let api = |status| JiraError::Api {
            status,
            method: "PUT".into(),
            path: "/issue/SUP-1".into(),
            text: Default::default(),
        };
        assert_eq!(error(api(503)).kind, ErrorKind::Transient);
        assert_eq!(error(api(404)).kind, ErrorKind::NotFound);
        assert_eq!(error(api(403)).kind, ErrorKind::Forbidden);
        assert_eq!(error(api(400)).kind, ErrorKind::Refused);
        let e = error(api(400));
        assert_eq!((e.status, e.tracker), (Some(400), TrackerKind::Jira));
        assert!(e.to_string().starts_with("Jira answered 400"), "{e}");
        assert!(std::error::Error::source(&e).is_some());
    }
}
