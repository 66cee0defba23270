//! Journal fields: `comments` (Additional comments, customer-visible) and `work_notes`
//! (internal). History is read from `sys_journal_field`; when that table's read ACL hides it
//! (ServiceNow answers 200 with no rows, or 403) the connector reads the fields' display values
//! instead and parses the entries out of the text. A comment is written by writing the field,
//! which appends an entry (tracker-apis.md §1.11).
//!
//! "Hidden" is concluded only from evidence a race cannot produce: a 403, or display values
//! showing entries that the table still does not list when asked again *after* the display
//! read (a comment written between the first table read and the display read shows in both).
//! Every conclusion expires after [`ClientConfig::journal_recheck`](super::ClientConfig), since
//! an admin can change the table's read ACL at any time.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use serde_json::{Map, json};
use sha2::{Digest, Sha256};

use super::client::{Client, ServiceNowError};
use super::record::{Record, parse_time};

/// Which journal field an entry belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JournalKind {
    /// `comments`: Additional comments, visible to the customer.
    Comments,
    /// `work_notes`: internal.
    WorkNotes,
}

impl JournalKind {
    pub fn column(self) -> &'static str {
        match self {
            JournalKind::Comments => "comments",
            JournalKind::WorkNotes => "work_notes",
        }
    }

    fn from_column(c: &str) -> Option<Self> {
        match c {
            "comments" => Some(JournalKind::Comments),
            "work_notes" => Some(JournalKind::WorkNotes),
            _ => None,
        }
    }

    fn label(self) -> &'static str {
        match self {
            JournalKind::Comments => "Additional comments",
            JournalKind::WorkNotes => "Work notes",
        }
    }
}

/// Where the entries were read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JournalSource {
    /// `sys_journal_field` rows: each entry has its own sys_id; authors are user names.
    Table,
    /// The parsed display value: ids are derived from the entry; authors are display names.
    DisplayValue,
}

/// One journal entry of one record.
#[derive(Debug, Clone, PartialEq)]
pub struct JournalEntry {
    /// The `sys_journal_field` sys_id, or `dv-<hash>` of the entry for display-value reads
    /// (stable as long as the entry is).
    pub id: String,
    /// The record's sys_id (`element_id`).
    pub record: String,
    pub kind: JournalKind,
    pub text: String,
    pub created_on: Timestamp,
    /// The author: a user name (`sys_created_by`) or, from display values, a display name.
    pub author: String,
}

impl JournalEntry {
    pub fn internal(&self) -> bool {
        self.kind == JournalKind::WorkNotes
    }
}

/// What the connector knows of the journal table's readability.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    Unknown,
    /// The table lists entries: an empty answer means "none".
    Table,
    /// The table's read ACL hides it: entries come from display values.
    Hidden,
}

/// [`Access`] with the time it was concluded; a conclusion older than `recheck` reads as
/// [`Access::Unknown`], so the connector looks again.
#[derive(Debug)]
pub(crate) struct AccessCache {
    recheck: Duration,
    known: Mutex<Option<(Access, Instant)>>,
}

impl AccessCache {
    pub(crate) fn new(recheck: Duration) -> Self {
        Self {
            recheck,
            known: Mutex::new(None),
        }
    }

    fn get(&self) -> Access {
        let known = self
            .known
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match *known {
            Some((access, at)) if at.elapsed() < self.recheck => access,
            _ => Access::Unknown,
        }
    }

    fn set(&self, access: Access) {
        let mut known = self
            .known
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let changed = known.is_none_or(|(was, _)| was != access);
        *known = Some((access, Instant::now()));
        drop(known);
        if changed && access == Access::Hidden {
            tracing::warn!(
                "sys_journal_field is hidden from the proxy user by its read ACL; reading \
                 comments from display values (checked again periodically)"
            );
        }
    }
}

impl Client {
    /// The journal entries of records of `table`, oldest first, grouped by record sys_id, in
    /// one request per batch where the journal table is readable.
    pub async fn journals(
        &self,
        table: &str,
        sys_ids: &[&str],
    ) -> Result<(HashMap<String, Vec<JournalEntry>>, JournalSource), ServiceNowError> {
        if sys_ids.is_empty() {
            return Ok((HashMap::new(), JournalSource::Table));
        }
        let access = self.journal_access.get();
        let mut undecided = false;
        if access != Access::Hidden {
            match self.journal_rows(table, sys_ids).await {
                Ok(rows) if !rows.is_empty() => {
                    self.journal_access.set(Access::Table);
                    return Ok((by_record(rows), JournalSource::Table));
                }
                Ok(_) if access == Access::Table => {
                    return Ok((HashMap::new(), JournalSource::Table));
                }
                // No rows, and it is not known yet whether that means "none" or "hidden".
                Ok(_) => undecided = true,
                Err(ServiceNowError::Api { status: 403, .. }) => {
                    self.journal_access.set(Access::Hidden);
                }
                Err(e) => return Err(e),
            }
        }
        let entries = self.journal_display(table, sys_ids).await?;
        if undecided && !entries.is_empty() {
            // The display values show entries the table did not list. Either its ACL hides
            // them, or they were written after the table was read: asked again now, a readable
            // table lists them.
            let rows = self.journal_rows(table, sys_ids).await?;
            if !rows.is_empty() {
                self.journal_access.set(Access::Table);
                return Ok((by_record(rows), JournalSource::Table));
            }
            self.journal_access.set(Access::Hidden);
        }
        Ok((by_record(entries), JournalSource::DisplayValue))
    }

    async fn journal_rows(
        &self,
        table: &str,
        sys_ids: &[&str],
    ) -> Result<Vec<JournalEntry>, ServiceNowError> {
        let mut entries = Vec::new();
        // sys_ids go in the URL: a bounded number per request keeps it short.
        for chunk in sys_ids.chunks(super::client::IDS_PER_REQUEST) {
            let query = format!(
                "name={table}^element_idIN{}^elementINcomments,work_notes^ORDERBYsys_created_on",
                chunk.join(",")
            );
            let rows = self
                .list(
                    "sys_journal_field",
                    &query,
                    Some("sys_id,element_id,element,value,sys_created_on,sys_created_by"),
                    10_000,
                )
                .await?;
            entries.extend(rows.iter().filter_map(entry_of_row));
        }
        Ok(entries)
    }

    async fn journal_display(
        &self,
        table: &str,
        sys_ids: &[&str],
    ) -> Result<Vec<JournalEntry>, ServiceNowError> {
        let path = format!("/api/now/table/{table}");
        let mut rows = Vec::new();
        for chunk in sys_ids.chunks(super::client::IDS_PER_REQUEST) {
            let query = format!("sys_idIN{}", chunk.join(","));
            let limit = chunk.len().to_string();
            let url = self.url_with(
                &path,
                &[
                    ("sysparm_query", &query),
                    ("sysparm_fields", "sys_id,comments,work_notes"),
                    ("sysparm_display_value", "true"),
                    ("sysparm_limit", &limit),
                ],
            );
            let first = self.page_at(&url).await?;
            rows.extend(self.rows_from(first).await?);
        }
        let mut entries = Vec::new();
        for row in &rows {
            for kind in [JournalKind::Comments, JournalKind::WorkNotes] {
                entries.extend(parse_display_journal(
                    row.sys_id(),
                    kind,
                    row.display(kind.column()),
                ));
            }
        }
        entries.sort_by_key(|e| e.created_on);
        Ok(entries)
    }

    /// Appends a comment (or work note) to a record; returns the record after the write.
    pub async fn add_journal_entry(
        &self,
        table: &str,
        sys_id: &str,
        kind: JournalKind,
        text: &str,
    ) -> Result<Record, ServiceNowError> {
        let mut fields = Map::new();
        fields.insert(kind.column().to_owned(), json!(text));
        self.update(table, sys_id, &fields).await
    }
}

fn by_record(entries: Vec<JournalEntry>) -> HashMap<String, Vec<JournalEntry>> {
    let mut by_record: HashMap<String, Vec<JournalEntry>> = HashMap::new();
    for e in entries {
        by_record.entry(e.record.clone()).or_default().push(e);
    }
    by_record
}

fn entry_of_row(row: &Record) -> Option<JournalEntry> {
    Some(JournalEntry {
        id: row.sys_id().to_owned(),
        record: row.str("element_id").to_owned(),
        kind: JournalKind::from_column(row.str("element"))?,
        text: row.str("value").to_owned(),
        created_on: parse_time(row.str("sys_created_on"))?,
        author: row.str("sys_created_by").to_owned(),
    })
}

/// Parses a journal field's display value: entries newest first, each headed
/// `YYYY-MM-DD HH:MM:SS - <display name> (Additional comments|Work notes)`, then the text, then
/// a blank line. Returns them oldest first. Text before the first header is ignored.
pub fn parse_display_journal(record: &str, kind: JournalKind, text: &str) -> Vec<JournalEntry> {
    let mut entries = Vec::new();
    let mut current: Option<(Timestamp, String, Vec<&str>)> = None;
    for line in text.lines() {
        if let Some((at, author)) = header(line, kind) {
            if let Some(done) = current.take() {
                entries.push(done);
            }
            current = Some((at, author, Vec::new()));
        } else if let Some((_, _, body)) = current.as_mut() {
            body.push(line);
        }
    }
    entries.extend(current);
    let mut out: Vec<JournalEntry> = entries
        .into_iter()
        .map(|(at, author, body)| {
            let text = body.join("\n").trim_end_matches('\n').to_owned();
            let mut h = Sha256::new();
            for part in [
                record,
                kind.column(),
                &at.as_second().to_string(),
                &author,
                &text,
            ] {
                h.update(part.as_bytes());
                h.update([0]);
            }
            let digest: String = h.finalize()[..12]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            JournalEntry {
                id: format!("dv-{digest}"),
                record: record.to_owned(),
                kind,
                text,
                created_on: at,
                author,
            }
        })
        .collect();
    out.reverse();
    out
}

/// `2025-08-01 10:11:12 - Fred Luddy (Additional comments)` → the time and the author.
fn header(line: &str, kind: JournalKind) -> Option<(Timestamp, String)> {
    let line = line.trim_end();
    let rest = line.strip_suffix(&format!(" ({})", kind.label()))?;
    let (time, author) = (rest.get(..19)?, rest.get(19..)?);
    let author = author.strip_prefix(" - ")?;
    Some((parse_time(time)?, author.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_text_parses_into_entries_oldest_first() {
        let text = "2025-08-02 09:00:00 - Beth Anglin (Additional comments)\nsecond\n\nwith a blank line\n\n\
                    2025-08-01 10:11:12 - Fred Luddy (Additional comments)\nfirst\n\n";
        let entries = parse_display_journal("r1", JournalKind::Comments, text);
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].text, "first");
        assert_eq!(entries[0].author, "Fred Luddy");
        assert_eq!(entries[1].text, "second\n\nwith a blank line");
        assert_eq!(entries[1].author, "Beth Anglin");
        assert!(entries[0].created_on < entries[1].created_on);
        assert!(entries[0].id.starts_with("dv-") && entries[0].id != entries[1].id);
        let again = parse_display_journal("r1", JournalKind::Comments, text);
        assert_eq!(entries, again, "ids are stable");
    }

    #[test]
    fn work_note_headers_do_not_count_as_comments() {
        let text = "2025-08-01 10:11:12 - Fred Luddy (Work notes)\ninternal\n\n";
        assert!(parse_display_journal("r", JournalKind::Comments, text).is_empty());
        let notes = parse_display_journal("r", JournalKind::WorkNotes, text);
        assert_eq!(notes.len(), 1);
        assert!(notes[0].internal());
    }

    #[test]
    fn garbage_yields_nothing_and_never_panics() {
        for t in [
            "",
            "no header",
            "2025 - x (Additional comments)",
            "é(Additional comments)",
        ] {
            assert!(
                parse_display_journal("r", JournalKind::Comments, t).is_empty(),
                "{t}"
            );
        }
    }
}
