//! ServiceNow as a [`Tracker`]: collections are tables, records their rows (fields as the Table
//! API sends them), comments the journal (Additional comments public, Work notes internal;
//! journal entries cannot be changed or deleted), attachments `sys_attachment`, listed apart
//! from their records ([`Feed::Attachments`]), and change detection the [`Poller`]'s.
//!
//! The poll state of each feed is held here between [`Tracker::resume`] and
//! [`Tracker::advance`], and every write of this connector (a create, an update, a journal
//! entry, an upload) is noted in it, so that reading the write back is not taken for a change
//! made in ServiceNow.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use serde_json::{Map, json};

use super::attachments::{AttachmentMeta, NewAttachment};
use super::client::{Client, ServiceNowError};
use super::journal::JournalKind;
use super::poll::{PollState, Poller};
use super::record::Record;
use crate::tracker::{
    Capabilities, Changes, Cursor, ErrorKind, Feed, Fields, NewFile, RemoteAttachment,
    RemoteComment, RemoteRecord, Tracker, TrackerError, TrackerKind,
};

/// The column a record created by Tandem carries its correlation in (and the one ServiceNow
/// shows next to it).
const CORRELATION: &str = "correlation_id";
const CORRELATION_DISPLAY: &str = "correlation_display";

/// A ServiceNow instance as the mirror uses it.
pub struct ServiceNow {
    client: Arc<Client>,
    page_size: u32,
    feeds: Mutex<HashMap<(String, Feed), PollState>>,
}

impl std::fmt::Debug for ServiceNow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceNow")
            .field("client", &self.client)
            .field("page_size", &self.page_size)
            .finish_non_exhaustive()
    }
}

impl ServiceNow {
    /// The instance `client` talks to, read `page_size` rows per poll page.
    pub fn new(client: Arc<Client>, page_size: u32) -> Self {
        Self {
            client,
            page_size: page_size.max(1),
            feeds: Mutex::new(HashMap::new()),
        }
    }

    /// The client underneath (sync scripts' `httpClient` and reference lookups use it).
    pub fn client(&self) -> &Arc<Client> {
        &self.client
    }

    fn feeds(&self) -> std::sync::MutexGuard<'_, HashMap<(String, Feed), PollState>> {
        // The map is only ever replaced whole under the lock: a panic elsewhere left it intact.
        self.feeds.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn state(&self, table: &str, feed: Feed) -> PollState {
        self.feeds()
            .get(&(table.to_owned(), feed))
            .cloned()
            .unwrap_or_default()
    }

    /// Remembers a row this connector wrote, so reading it back is not a change.
    fn note_own_write(&self, table: &str, feed: Feed, record: &Record) {
        self.feeds()
            .entry((table.to_owned(), feed))
            .or_default()
            .note_own_write(record);
    }
}

fn error(e: ServiceNowError) -> TrackerError {
    let status = e.status();
    let kind = if e.is_transient() {
        ErrorKind::Transient
    } else {
        match (&e, status) {
            (ServiceNowError::Auth { .. }, _) | (_, Some(401)) => ErrorKind::Unauthorized,
            (_, Some(403)) => ErrorKind::Forbidden,
            (_, Some(404)) => ErrorKind::NotFound,
            (ServiceNowError::Config(_), _) => ErrorKind::Invalid,
            (ServiceNowError::BadResponse { .. } | ServiceNowError::HashMismatch { .. }, _) => {
                ErrorKind::Invalid
            }
            _ => ErrorKind::Refused,
        }
    };
    TrackerError::new(TrackerKind::ServiceNow, kind, status, e)
}

fn remote(record: Record) -> RemoteRecord {
    RemoteRecord {
        id: record.sys_id().to_owned(),
        updated_by: record.str("sys_updated_by").to_owned(),
        fields: record.into_fields(),
    }
}

fn remote_attachment(meta: AttachmentMeta) -> RemoteAttachment {
    RemoteAttachment {
        id: meta.sys_id,
        record: meta.table_sys_id,
        file_name: meta.file_name,
        content_type: meta.content_type,
        size: meta.size_bytes,
        sha256: meta.hash,
        created_by: meta.created_by,
    }
}

fn journal_kind(internal: bool) -> JournalKind {
    if internal {
        JournalKind::WorkNotes
    } else {
        JournalKind::Comments
    }
}

/// A feed's state after a page, keeping the own writes noted (by pushes) while the page was
/// taken in that the page did not read back.
fn with_own_writes(mut next: PollState, current: &PollState) -> PollState {
    for (id, counts) in &current.own {
        let read = next.seen.get(id).map_or(-1, |s| s.mod_count);
        let entry = next.own.entry(id.clone()).or_default();
        for c in counts {
            if !entry.contains(c) && *c > read {
                entry.push(*c);
            }
        }
        if entry.is_empty() {
            next.own.remove(id);
        }
    }
    next
}

#[async_trait::async_trait]
impl Tracker for ServiceNow {
    fn kind(&self) -> TrackerKind {
        TrackerKind::ServiceNow
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            attachment_feed: true,
            edit_comments: false,
            delete_comments: false,
        }
    }

    fn user(&self) -> &str {
        self.client.user()
    }

    fn requests_sent(&self) -> u64 {
        self.client.requests_sent()
    }

    fn resume(&self, table: &str, feed: Feed, saved: Option<&str>) {
        let state = saved
            .and_then(|s| serde_json::from_str(s).ok())
            .unwrap_or_default();
        self.feeds().insert((table.to_owned(), feed), state);
    }

    async fn changes(&self, table: &str, feed: Feed) -> Result<Changes, TrackerError> {
        let state = self.state(table, feed);
        let poller = match feed {
            Feed::Records => Poller::table(table, state),
            Feed::Attachments => Poller::attachments(table, state),
        }
        .page_size(self.page_size);
        let batch = poller.next_batch(&self.client).await.map_err(error)?;
        let next = Cursor::new(serde_json::to_string(&batch.state).unwrap_or_default());
        let (records, attachments) = match feed {
            Feed::Records => (batch.changes.into_iter().map(remote).collect(), Vec::new()),
            Feed::Attachments => (
                Vec::new(),
                batch
                    .changes
                    .iter()
                    .map(|r| remote_attachment(AttachmentMeta::from_record(r)))
                    .collect(),
            ),
        };
        Ok(Changes {
            records,
            attachments,
            more: batch.more,
            next,
        })
    }

    fn advance(&self, table: &str, feed: Feed, next: Cursor) -> String {
        let mut feeds = self.feeds();
        let current = feeds.entry((table.to_owned(), feed)).or_default();
        // A cursor is only ever one `changes` made, so it parses; a default state would read
        // everything again, which the mirror takes in idempotently.
        let next: PollState = serde_json::from_str(next.as_str()).unwrap_or_default();
        *current = with_own_writes(next, current);
        serde_json::to_string(current).unwrap_or_default()
    }

    async fn record(&self, table: &str, id: &str) -> Result<Option<RemoteRecord>, TrackerError> {
        Ok(self
            .client
            .get(table, id, None)
            .await
            .map_err(error)?
            .map(remote))
    }

    async fn find_correlated(
        &self,
        table: &str,
        correlation: &str,
    ) -> Result<Option<RemoteRecord>, TrackerError> {
        // One row is enough; and only a row that carries the correlation counts: on a table
        // without the column ServiceNow ignores the term and returns any row.
        let found = self
            .client
            .first_page(table, &format!("{CORRELATION}={correlation}"), None, 1)
            .await
            .map_err(error)?;
        let Some(record) = found
            .into_iter()
            .find(|r| r.str(CORRELATION) == correlation)
        else {
            return Ok(None);
        };
        // Written by an earlier try of this node's: not a change made in ServiceNow.
        self.note_own_write(table, Feed::Records, &record);
        Ok(Some(remote(record)))
    }

    async fn create(
        &self,
        table: &str,
        fields: &Fields,
        correlation: &str,
    ) -> Result<RemoteRecord, TrackerError> {
        let mut fields = fields.clone();
        fields.insert(CORRELATION.into(), json!(correlation));
        fields.insert(CORRELATION_DISPLAY.into(), json!("Tandem"));
        let record = self.client.create(table, &fields).await.map_err(error)?;
        self.note_own_write(table, Feed::Records, &record);
        Ok(remote(record))
    }

    async fn update(
        &self,
        table: &str,
        id: &str,
        changed: &Fields,
    ) -> Result<RemoteRecord, TrackerError> {
        let record = self
            .client
            .update(table, id, changed)
            .await
            .map_err(error)?;
        self.note_own_write(table, Feed::Records, &record);
        Ok(remote(record))
    }

    async fn comments(
        &self,
        table: &str,
        ids: &[&str],
    ) -> Result<HashMap<String, Vec<RemoteComment>>, TrackerError> {
        let (journals, _) = self.client.journals(table, ids).await.map_err(error)?;
        Ok(journals
            .into_iter()
            .map(|(record, entries)| {
                let comments = entries
                    .into_iter()
                    .map(|e| RemoteComment {
                        internal: e.internal(),
                        id: e.id,
                        record: e.record,
                        body: e.text,
                        author: e.author,
                    })
                    .collect();
                (record, comments)
            })
            .collect())
    }

    async fn add_comment(
        &self,
        table: &str,
        id: &str,
        body: &str,
        internal: bool,
    ) -> Result<Option<RemoteComment>, TrackerError> {
        let record = self
            .client
            .add_journal_entry(table, id, journal_kind(internal), body)
            .await
            .map_err(error)?;
        self.note_own_write(table, Feed::Records, &record);
        // The write answers with the record, not the entry: the caller reads the journal.
        Ok(None)
    }

    async fn attachments(
        &self,
        table: &str,
        ids: &[&str],
    ) -> Result<Vec<RemoteAttachment>, TrackerError> {
        let files = self.client.attachments(table, ids).await.map_err(error)?;
        Ok(files.into_iter().map(remote_attachment).collect())
    }

    async fn attachments_present(&self, ids: &[&str]) -> Result<BTreeSet<String>, TrackerError> {
        self.client.attachments_present(ids).await.map_err(error)
    }

    async fn download(&self, attachment: &RemoteAttachment) -> Result<Vec<u8>, TrackerError> {
        let meta = AttachmentMeta {
            sys_id: attachment.id.clone(),
            file_name: attachment.file_name.clone(),
            content_type: attachment.content_type.clone(),
            size_bytes: attachment.size,
            hash: attachment.sha256.clone(),
            table_name: String::new(),
            table_sys_id: attachment.record.clone(),
            created_on: None,
            created_by: attachment.created_by.clone(),
        };
        self.client.download(&meta).await.map_err(error)
    }

    async fn upload(
        &self,
        table: &str,
        id: &str,
        file: NewFile,
    ) -> Result<RemoteAttachment, TrackerError> {
        let uploaded = self
            .client
            .upload(
                table,
                id,
                &NewAttachment {
                    file_name: file.file_name,
                    content_type: file.content_type,
                    bytes: file.bytes,
                },
            )
            .await
            .map_err(error)?;
        // An attachment row is never updated: its first version is the one to skip.
        let mut row = Map::new();
        row.insert("sys_id".into(), json!(uploaded.sys_id));
        row.insert("sys_mod_count".into(), json!("0"));
        self.note_own_write(table, Feed::Attachments, &Record::new(row));
        Ok(remote_attachment(uploaded))
    }

    async fn delete_attachment(
        &self,
        _table: &str,
        _record: &str,
        id: &str,
    ) -> Result<(), TrackerError> {
        // Deleting an attachment changes no row a feed reads: nothing to note.
        self.client.delete_attachment(id).await.map_err(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::servicenow::Seen;

    #[test]
    fn own_writes_noted_during_a_page_survive_its_state() {
        let mut current = PollState::default();
        current.own.insert("a".into(), vec![3]);
        current.own.insert("b".into(), vec![1]);
        let mut next = PollState::default();
        next.seen.insert(
            "b".into(),
            Seen {
                mod_count: 1,
                updated_on: "2025-01-01 00:00:00".into(),
            },
        );
        let merged = with_own_writes(next, &current);
        assert_eq!(merged.own.get("a"), Some(&vec![3]));
        assert_eq!(merged.own.get("b"), None, "already read back");
    }

    #[test]
    fn errors_say_what_the_caller_can_do() {
        let api = |status| ServiceNowError::Api {
            status,
            method: "PATCH".into(),
            path: "/api/now/table/incident/x".into(),
            message: "no".into(),
            detail: None,
        };
        assert_eq!(error(api(503)).kind, ErrorKind::Transient);
        assert_eq!(error(api(404)).kind, ErrorKind::NotFound);
        assert_eq!(error(api(403)).kind, ErrorKind::Forbidden);
        assert_eq!(error(api(400)).kind, ErrorKind::Refused);
        let e = error(api(400));
        assert_eq!(e.status, Some(400));
        assert!(
            e.to_string().starts_with("ServiceNow answered 400"),
            "{e}: the connector's message is kept"
        );
        assert!(std::error::Error::source(&e).is_some());
    }

    #[test]
    fn a_cursor_round_trips_through_advance() {
        let client = Client::new(crate::servicenow::ClientConfig::new(
            "http://127.0.0.1:9",
            crate::servicenow::Auth::Basic {
                user: "u".into(),
                password: "p".into(),
            },
        ))
        .expect("a valid config");
        let sn = ServiceNow::new(Arc::new(client), 10);
        let saved = PollState {
            watermark: Some("2025-01-01 00:00:00".into()),
            ..PollState::default()
        };
        sn.resume(
            "incident",
            Feed::Records,
            Some(&serde_json::to_string(&saved).expect("serialises")),
        );
        assert_eq!(sn.state("incident", Feed::Records), saved);
        let mut row = Map::new();
        row.insert("sys_id".into(), json!("r1"));
        row.insert("sys_mod_count".into(), json!("4"));
        sn.note_own_write("incident", Feed::Records, &Record::new(row));
        let persisted = sn.advance(
            "incident",
            Feed::Records,
            Cursor::new(serde_json::to_string(&PollState::default()).expect("serialises")),
        );
        let state: PollState = serde_json::from_str(&persisted).expect("parses");
        assert_eq!(state.own.get("r1"), Some(&vec![4]), "the own write is kept");
        assert_eq!(state.watermark, None, "the page's state is taken");
    }
}
