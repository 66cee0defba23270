//! The Attachment API (`/api/now/attachment`): list the files of records, download one with its
//! sha256 checked, upload one with its content type, delete one (tracker-apis.md §1.12).
//! Attachments do not change their record's `sys_updated_on`, so new ones are found by polling
//! `sys_attachment` itself (see `poll`).

use reqwest::Method;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::client::{Body, Client, Page, Repeat, ServiceNowError, bad, json_body, percent_encode};
use super::record::{Record, parse_time};

/// An attachment's metadata as ServiceNow lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct AttachmentMeta {
    pub sys_id: String,
    pub file_name: String,
    pub content_type: String,
    pub size_bytes: u64,
    /// The sha256 of the content, lower-case hex; empty when the instance does not say.
    pub hash: String,
    pub table_name: String,
    pub table_sys_id: String,
    pub created_on: Option<jiff::Timestamp>,
    pub created_by: String,
}

impl AttachmentMeta {
    pub fn from_record(r: &Record) -> Self {
        Self {
            sys_id: r.sys_id().to_owned(),
            file_name: r.str("file_name").to_owned(),
            content_type: r.str("content_type").to_owned(),
            size_bytes: r.str("size_bytes").parse().unwrap_or(0),
            hash: r.str("hash").to_ascii_lowercase(),
            table_name: r.str("table_name").to_owned(),
            table_sys_id: r.str("table_sys_id").to_owned(),
            created_on: parse_time(r.str("sys_created_on")),
            created_by: r.str("sys_created_by").to_owned(),
        }
    }
}

/// A file to attach.
#[derive(Debug, Clone)]
pub struct NewAttachment {
    pub file_name: String,
    /// The MIME type; ServiceNow requires one (`application/octet-stream` when unknown).
    pub content_type: String,
    pub bytes: Vec<u8>,
}

const ATTACHMENT_FIELDS: &str = "sys_id,file_name,content_type,size_bytes,hash,table_name,\
                                 table_sys_id,sys_created_on,sys_created_by,sys_updated_on,sys_mod_count";

impl Client {
    /// The attachments of records of `table`, in one listing (all pages).
    pub async fn attachments(
        &self,
        table: &str,
        sys_ids: &[&str],
    ) -> Result<Vec<AttachmentMeta>, ServiceNowError> {
        if sys_ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut files = Vec::new();
        // sys_ids go in the URL: a bounded number per request keeps it short.
        for chunk in sys_ids.chunks(super::client::IDS_PER_REQUEST) {
            let query = format!(
                "table_name={table}^table_sys_idIN{}^ORDERBYsys_created_on",
                chunk.join(",")
            );
            let rows = self.attachment_rows(&query, 10_000).await?;
            files.extend(rows.iter().map(AttachmentMeta::from_record));
        }
        Ok(files)
    }

    /// Rows of `sys_attachment` matching an encoded query, through the Attachment API: all
    /// pages.
    pub(crate) async fn attachment_rows(
        &self,
        query: &str,
        page_size: u32,
    ) -> Result<Vec<Record>, ServiceNowError> {
        let first = self.attachment_page(query, page_size).await?;
        self.rows_from(first).await
    }

    /// Which of these attachments still exist, by sys_id: the others were deleted (deleting an
    /// attachment changes neither its record nor any row a poll would see).
    pub async fn attachments_present(
        &self,
        sys_ids: &[&str],
    ) -> Result<std::collections::BTreeSet<String>, ServiceNowError> {
        let mut present = std::collections::BTreeSet::new();
        for chunk in sys_ids.chunks(super::client::IDS_PER_REQUEST) {
            let query = format!("sys_idIN{}", chunk.join(","));
            let rows = self
                .attachment_rows(&query, super::client::IDS_PER_REQUEST as u32)
                .await?;
            present.extend(rows.iter().map(|r| r.sys_id().to_owned()));
        }
        Ok(present)
    }

    /// The first page of `sys_attachment` rows matching an encoded query.
    pub(crate) async fn attachment_page(
        &self,
        query: &str,
        page_size: u32,
    ) -> Result<Page, ServiceNowError> {
        let limit = page_size.max(1).to_string();
        let url = self.url_with(
            "/api/now/attachment",
            &[
                ("sysparm_query", query),
                ("sysparm_fields", ATTACHMENT_FIELDS),
                ("sysparm_limit", &limit),
            ],
        );
        self.page_at(&url).await
    }

    /// The bytes of an attachment, checked against its sha256.
    pub async fn download(&self, meta: &AttachmentMeta) -> Result<Vec<u8>, ServiceNowError> {
        let path = format!("/api/now/attachment/{}/file", id_segment(&meta.sys_id)?);
        let url = self.url_with(&path, &[]);
        let response = self
            .send(Method::GET, &url, &Body::Empty, Repeat::Safe)
            .await?;
        let bytes = response
            .bytes()
            .await
            .map_err(|e| bad("GET", &path, format!("the file could not be read: {e}")))?
            .to_vec();
        if !meta.hash.is_empty() {
            let actual = hex(&Sha256::digest(&bytes));
            if actual != meta.hash {
                return Err(ServiceNowError::HashMismatch {
                    sys_id: meta.sys_id.clone(),
                    expected: meta.hash.clone(),
                    actual,
                });
            }
        }
        Ok(bytes)
    }

    /// Attaches a file to a record (`POST /api/now/attachment/file`, the raw body with its
    /// content type). Checks the sha256 ServiceNow reports against what was sent.
    pub async fn upload(
        &self,
        table: &str,
        sys_id: &str,
        file: &NewAttachment,
    ) -> Result<AttachmentMeta, ServiceNowError> {
        if file.file_name.is_empty() {
            return Err(ServiceNowError::Config(
                "an attachment needs a file name".into(),
            ));
        }
        let path = "/api/now/attachment/file";
        let url = self.url_with(
            path,
            &[
                ("table_name", table),
                ("table_sys_id", sys_id),
                ("file_name", &file.file_name),
            ],
        );
        let content_type = if file.content_type.is_empty() {
            "application/octet-stream".to_owned()
        } else {
            file.content_type.clone()
        };
        let body = Body::Bytes {
            content_type,
            bytes: file.bytes.clone(),
        };
        let response = self.send(Method::POST, &url, &body, Repeat::Unsafe).await?;
        let value = json_body(response, "POST", path).await?;
        let Some(Value::Object(result)) = value.get("result") else {
            return Err(bad("POST", path, "no `result` object".into()));
        };
        let meta = AttachmentMeta::from_record(&Record::new(result.clone()));
        let sent = hex(&Sha256::digest(&file.bytes));
        if !meta.hash.is_empty() && meta.hash != sent {
            return Err(ServiceNowError::HashMismatch {
                sys_id: meta.sys_id,
                expected: sent,
                actual: meta.hash,
            });
        }
        Ok(meta)
    }

    /// Deletes an attachment; one already gone counts as deleted.
    pub async fn delete_attachment(&self, sys_id: &str) -> Result<(), ServiceNowError> {
        let path = format!("/api/now/attachment/{}", id_segment(sys_id)?);
        let url = self.url_with(&path, &[]);
        match self
            .send(Method::DELETE, &url, &Body::Empty, Repeat::Safe)
            .await
        {
            Ok(_) | Err(ServiceNowError::Api { status: 404, .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

fn id_segment(s: &str) -> Result<&str, ServiceNowError> {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(s)
    } else {
        Err(ServiceNowError::Config(format!(
            "`{}` is not an attachment sys_id",
            percent_encode(s)
        )))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
