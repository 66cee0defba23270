//! Comments: list (every page), add, edit, delete. Bodies go in and out as Markdown (ADF on
//! Cloud, wiki markup on Data Center, see `adf` and `wiki`).
//!
//! Jira Service Management marks agent-only comments with the entity property
//! `sd.public.comment` = `{"internal": true}` (answered as `jsdPublic: false`); a comment
//! restricted to a group or role (`visibility`) is not public either. Both are reported as
//! [`Comment::internal`], so a caller never passes them on as public; an internal comment is
//! added with that property.

use reqwest::Method;
use serde_json::{Value, json};

use super::adf::Converted;
use super::client::{Body, Client, Result, id_of, segment, str_of};
use super::error::bad;
use super::issues::{markdown_to_rich, rich_to_markdown};
use super::meta::UserRef;
use super::retry::Repeat;

/// A comment on an issue.
#[derive(Debug, Clone, PartialEq)]
pub struct Comment {
    pub id: String,
    pub author: Option<UserRef>,
    /// The body as Markdown, and what the conversion lost.
    pub body: Converted<String>,
    /// The body as Jira sent it (ADF, or a wiki string).
    pub raw_body: Value,
    pub created: String,
    pub updated: String,
    /// Not for the customer: a JSM internal note, or restricted by `visibility`.
    pub internal: bool,
}

impl Comment {
    fn from_json(client: &Client, v: &Value) -> Option<Self> {
        let id = id_of(v, "id");
        if id.is_empty() {
            return None;
        }
        let raw_body = v.get("body").cloned().unwrap_or(Value::Null);
        // Anything but an explicit `jsdPublic: true` with no visibility is treated as internal
        // when Jira says it is JSM-internal; a missing `jsdPublic` (Jira Software) is public.
        let jsd_internal = v.get("jsdPublic").and_then(Value::as_bool) == Some(false);
        let restricted = v.get("visibility").is_some_and(|vis| !vis.is_null());
        let internal_property = v
            .get("properties")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .any(|p| {
                str_of(p, "key") == "sd.public.comment"
                    && p.pointer("/value/internal").and_then(Value::as_bool) == Some(true)
            });
        Some(Self {
            id,
            author: v
                .get("author")
                .and_then(|a| UserRef::from_json(client.flavour(), a)),
            body: rich_to_markdown(client.flavour(), &raw_body),
            raw_body,
            created: str_of(v, "created").to_owned(),
            updated: str_of(v, "updated").to_owned(),
            internal: jsd_internal || restricted || internal_property,
        })
    }
}

impl Client {
    /// Every comment of an issue, oldest first.
    pub async fn comments(&self, key: &str) -> Result<Vec<Comment>> {
        let path = format!("/issue/{}/comment", segment(key)?);
        let mut out = Vec::new();
        // Rows read, a comment without an id included, so the next page starts after them.
        let mut read = 0usize;
        for _ in 0..1000 {
            let start = read.to_string();
            let v = self
                .get_json(
                    &path,
                    &[
                        ("startAt", &start),
                        ("maxResults", "100"),
                        ("orderBy", "created"),
                    ],
                )
                .await?;
            let page = v
                .get("comments")
                .and_then(Value::as_array)
                .ok_or_else(|| bad("GET", &path, "no `comments` list"))?;
            let n = page.len();
            read += n;
            out.extend(page.iter().filter_map(|c| Comment::from_json(self, c)));
            let total = v.get("total").and_then(Value::as_u64).unwrap_or(0);
            if n == 0 || read as u64 >= total {
                break;
            }
        }
        Ok(out)
    }

    /// Adds a comment written in Markdown; `internal` makes it a Jira Service Management
    /// internal note (`sd.public.comment`). Not retried after Jira may have acted.
    pub async fn add_comment(&self, key: &str, markdown: &str, internal: bool) -> Result<Comment> {
        let path = format!("/issue/{}/comment", segment(key)?);
        let mut body = json!({ "body": markdown_to_rich(self.flavour(), markdown).value });
        if internal {
            body["properties"] =
                json!([{ "key": "sd.public.comment", "value": { "internal": true } }]);
        }
        let v = self
            .send_json(Method::POST, &path, &[], body, Repeat::Unsafe)
            .await?;
        let mut c =
            Comment::from_json(self, &v).ok_or_else(|| bad("POST", &path, "no comment id"))?;
        c.internal |= internal;
        self.note_own_issue_write(key).await;
        Ok(c)
    }

    /// Replaces a comment's body (Markdown). Repeating it leaves the same comment.
    pub async fn edit_comment(&self, key: &str, id: &str, markdown: &str) -> Result<Comment> {
        let path = format!("/issue/{}/comment/{}", segment(key)?, segment(id)?);
        let body = json!({ "body": markdown_to_rich(self.flavour(), markdown).value });
        let v = self
            .send_json(Method::PUT, &path, &[], body, Repeat::Safe)
            .await?;
        let c = Comment::from_json(self, &v).ok_or_else(|| bad("PUT", &path, "no comment id"))?;
        self.note_own_issue_write(key).await;
        Ok(c)
    }

    /// Deletes a comment; one already gone counts as deleted.
    pub async fn delete_comment(&self, key: &str, id: &str) -> Result<()> {
        let url = self.url(
            &format!("/issue/{}/comment/{}", segment(key)?, segment(id)?),
            &[],
        );
        match self
            .send(Method::DELETE, &url, &Body::Empty, Repeat::Safe)
            .await
        {
            Ok(_) => {
                self.note_own_issue_write(key).await;
                Ok(())
            }
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// After a write that moved the issue's `updated` without returning it: reads the issue's
    /// `updated` so polling does not take the write for someone else's. Best effort; a failure
    /// only means the change comes back once.
    pub(crate) async fn note_own_issue_write(&self, key: &str) {
        let Ok(path) = segment(key).map(|k| format!("/issue/{k}")) else {
            return;
        };
        if let Ok(v) = self.get_json(&path, &[("fields", "updated")]).await
            && let Some(issue) = super::issues::Issue::from_json(self.flavour(), &v)
        {
            self.note_own_write(&issue);
        }
    }
}
