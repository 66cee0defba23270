//! Attachments: list an issue's, upload one (multipart part `file`, with
//! `X-Atlassian-Token: no-check`, which Jira's XSRF check requires), download one, delete one
//! (tracker-apis.md §2.3). The site's size limit (`GET /attachment/meta`) is checked before an
//! upload leaves, so a too-large file fails with [`JiraError::TooLarge`] instead of a 413 after
//! the bytes were sent.

use reqwest::Method;
use serde_json::Value;

use super::client::{Body, Client, Result, id_of, json_of, segment, str_of};
use super::error::{JiraError, bad};
use super::retry::Repeat;

/// An attachment's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub id: String,
    pub filename: String,
    pub mime_type: String,
    pub size: u64,
    pub created: String,
    /// The download URL Jira gives (`…/attachment/content/{id}`).
    pub content_url: String,
    /// Who attached it: the `accountId` on Cloud, the user name on Data Center.
    pub author: String,
}

impl Attachment {
    pub(crate) fn from_json(v: &Value) -> Option<Self> {
        let id = id_of(v, "id");
        if id.is_empty() {
            return None;
        }
        Some(Self {
            id,
            filename: str_of(v, "filename").to_owned(),
            mime_type: str_of(v, "mimeType").to_owned(),
            size: v.get("size").and_then(Value::as_u64).unwrap_or(0),
            created: str_of(v, "created").to_owned(),
            content_url: str_of(v, "content").to_owned(),
            author: v
                .get("author")
                .map(|a| {
                    let id = str_of(a, "accountId");
                    if id.is_empty() { str_of(a, "name") } else { id }.to_owned()
                })
                .unwrap_or_default(),
        })
    }
}

/// A file to attach.
#[derive(Debug, Clone)]
pub struct NewAttachment {
    pub filename: String,
    /// The MIME type (`application/octet-stream` when unknown).
    pub mime_type: String,
    pub bytes: Vec<u8>,
}

impl Client {
    /// The attachments of an issue.
    pub async fn attachments(&self, key: &str) -> Result<Vec<Attachment>> {
        let path = format!("/issue/{}", segment(key)?);
        let v = self.get_json(&path, &[("fields", "attachment")]).await?;
        let list: Vec<Attachment> = v
            .pointer("/fields/attachment")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Attachment::from_json)
            .collect();
        let mut caches = self.caches();
        for a in &list {
            caches.attachment_issue.insert(a.id.clone(), key.to_owned());
        }
        Ok(list)
    }

    /// One attachment's metadata, or `None` when it is gone.
    pub async fn attachment(&self, id: &str) -> Result<Option<Attachment>> {
        let path = format!("/attachment/{}", segment(id)?);
        match self.get_json(&path, &[]).await {
            Ok(v) => Ok(Attachment::from_json(&v)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Uploads a file to an issue, after checking the site's size limit. Not retried after
    /// Jira may have acted (a repeated upload makes a second attachment).
    pub async fn upload(&self, key: &str, file: &NewAttachment) -> Result<Attachment> {
        if let Some(limit) = self.attachment_limit().await?
            && file.bytes.len() as u64 > limit
        {
            return Err(JiraError::TooLarge {
                filename: file.filename.clone(),
                size: file.bytes.len() as u64,
                limit,
            });
        }
        let path = format!("/issue/{}/attachments", segment(key)?);
        let url = self.url(&path, &[]);
        let body = Body::File {
            filename: file.filename.clone(),
            content_type: if file.mime_type.is_empty() {
                "application/octet-stream".into()
            } else {
                file.mime_type.clone()
            },
            bytes: file.bytes.clone(),
        };
        let r = self.send(Method::POST, &url, &body, Repeat::Unsafe).await?;
        let v = json_of(r, "POST", &path).await?;
        let made = v
            .as_array()
            .and_then(|a| a.first())
            .and_then(Attachment::from_json)
            .ok_or_else(|| bad("POST", &path, "no attachment in the answer"))?;
        self.caches()
            .attachment_issue
            .insert(made.id.clone(), key.to_owned());
        self.note_own_issue_write(key).await;
        Ok(made)
    }

    /// An attachment's bytes (asked for directly, `redirect=false`, so the credentials never
    /// follow a redirect elsewhere).
    pub async fn download(&self, id: &str) -> Result<Vec<u8>> {
        let path = format!("/attachment/content/{}", segment(id)?);
        let url = self.url(&path, &[("redirect", "false")]);
        let r = self
            .send(Method::GET, &url, &Body::Empty, Repeat::Safe)
            .await?;
        let bytes = r
            .bytes()
            .await
            .map_err(|e| bad("GET", &path, format!("the content could not be read: {e}")))?;
        Ok(bytes.to_vec())
    }

    /// Deletes an attachment; one already gone counts as deleted. When the client knows the
    /// attachment's issue (it listed or uploaded it), the change to the issue is noted as its
    /// own write.
    pub async fn delete_attachment(&self, id: &str) -> Result<()> {
        let url = self.url(&format!("/attachment/{}", segment(id)?), &[]);
        match self
            .send(Method::DELETE, &url, &Body::Empty, Repeat::Safe)
            .await
        {
            Ok(_) => {
                let issue = self.caches().attachment_issue.remove(id);
                if let Some(key) = issue {
                    self.note_own_issue_write(&key).await;
                }
                Ok(())
            }
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e),
        }
    }
}
