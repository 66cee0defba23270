//! Change detection by polling (tracker-apis.md §1.13). ServiceNow has no outbound webhooks
//! out of the box, so the connector reads the rows whose `sys_updated_on` moved since its
//! watermark.
//!
//! - `sys_updated_on` has one-second resolution and a transaction can commit after a later one
//!   was read, so each pass starts an *overlap window* before the watermark, and rows already
//!   handed over are recognised by `(sys_id, sys_mod_count)` and skipped.
//! - Within a pass, pages are read by keyset (`sys_updated_on`, then `sys_id`), never by offset:
//!   a row updated while the pass pages cannot shift the others out of sight, and thousands of
//!   rows with the same second (a bulk import) page through in order.
//! - The connector's own writes are recognised: when every update between the last version
//!   handed over and the one read was the connector's own, the row is not handed over again.
//! - Nothing is lost across a crash: [`Poller::next_batch`] does not move the state; the caller
//!   hands the changes over durably, then [`Poller::advance`]s and stores [`PollState`]. A crash
//!   between the two hands the same rows over again, which an idempotent consumer ignores.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::client::{Client, ServiceNowError};
use super::record::{Record, format_time, parse_time};

/// The columns that tell whether a row changed.
const SCAN_FIELDS: &str = "sys_id,sys_updated_on,sys_mod_count,sys_updated_by";
/// Rows fetched whole per request (their sys_ids go in the URL).
const FETCH_CHUNK: usize = super::client::IDS_PER_REQUEST;

/// The version of a row last handed over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seen {
    pub mod_count: i64,
    pub updated_on: String,
}

/// Where polling is; serialise it and store it with the data it led to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PollState {
    /// Every change up to this `sys_updated_on` has been handed over (ServiceNow's format).
    pub watermark: Option<String>,
    /// Inside a pass: the `(sys_updated_on, sys_id)` of the last row handed over.
    pub cursor: Option<(String, String)>,
    /// Rows handed over inside the overlap window.
    pub seen: BTreeMap<String, Seen>,
    /// The connector's own writes not yet read back: sys_id → the `sys_mod_count`s they made.
    pub own: BTreeMap<String, Vec<i64>>,
}

impl PollState {
    /// Remembers a write of the connector's own (the row a create or update returned), so that
    /// reading it back is not taken for someone else's change.
    pub fn note_own_write(&mut self, record: &Record) {
        let (id, count) = (record.sys_id(), record.mod_count());
        if id.is_empty() || count < 0 {
            return;
        }
        let counts = self.own.entry(id.to_owned()).or_default();
        if !counts.contains(&count) {
            counts.push(count);
        }
    }
}

/// One page of changes and the state to store once they are handed over.
#[derive(Debug)]
pub struct Batch {
    /// The changed rows, whole.
    pub changes: Vec<Record>,
    pub state: PollState,
    /// True when the pass has more pages: poll again at once.
    pub more: bool,
}

#[derive(Debug, Clone)]
enum Source {
    Table(String),
    /// `sys_attachment` rows of a table, through the Attachment API.
    Attachments(String),
}

/// Polls one table (or the attachments of one table) for changes.
#[derive(Debug, Clone)]
pub struct Poller {
    source: Source,
    fields: Option<String>,
    page_size: u32,
    overlap: Duration,
    state: PollState,
}

impl Poller {
    /// Polls rows of `table`, from `state` (default: from the beginning).
    pub fn table(table: &str, state: PollState) -> Self {
        Self::new(Source::Table(table.to_owned()), state)
    }

    /// Polls the attachments of rows of `table`.
    pub fn attachments(table: &str, state: PollState) -> Self {
        Self::new(Source::Attachments(table.to_owned()), state)
    }

    fn new(source: Source, state: PollState) -> Self {
        Self {
            source,
            fields: None,
            page_size: 500,
            overlap: Duration::from_secs(60),
            state,
        }
    }

    /// The columns to read (`sysparm_fields`); the poll adds the ones it needs.
    pub fn fields(mut self, fields: &str) -> Self {
        let mut list: Vec<&str> = fields
            .split(',')
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .collect();
        for needed in [
            "sys_id",
            "sys_updated_on",
            "sys_mod_count",
            "sys_updated_by",
        ] {
            if !list.contains(&needed) {
                list.push(needed);
            }
        }
        self.fields = Some(list.join(","));
        self
    }

    pub fn page_size(mut self, rows: u32) -> Self {
        self.page_size = rows.max(1);
        self
    }

    pub fn overlap(mut self, overlap: Duration) -> Self {
        self.overlap = overlap;
        self
    }

    pub fn state(&self) -> &PollState {
        &self.state
    }

    /// Takes the state of a batch whose changes have been handed over.
    pub fn advance(&mut self, state: PollState) {
        self.state = state;
    }

    /// Remembers a write of the connector's own (the row a create or update returned), so that
    /// reading it back is not taken for someone else's change.
    pub fn note_own_write(&mut self, record: &Record) {
        self.state.note_own_write(record);
    }

    /// The next page of changed rows. Does not move the poller: call [`Poller::advance`]
    /// with the batch's state once the changes are handed over.
    ///
    /// A table is read in two steps: the page of rows in the window with only the columns that
    /// tell a change (`sys_id`, `sys_updated_on`, `sys_mod_count`), then whole rows for the
    /// changed ones only (`sys_idIN…`). The overlap window is read again on every poll; this
    /// keeps that cheap when thousands of rows changed within it.
    pub async fn next_batch(&self, client: &Client) -> Result<Batch, ServiceNowError> {
        let query = self.query();
        let table = match &self.source {
            Source::Table(table) => table,
            Source::Attachments(_) => {
                let page = client.attachment_page(&query, self.page_size).await?;
                return Ok(self.batch(page.rows));
            }
        };
        let rows = client
            .list_page(table, &query, Some(SCAN_FIELDS), self.page_size)
            .await?
            .rows;
        let mut batch = self.batch(rows);
        if batch.changes.is_empty() {
            return Ok(batch);
        }
        let mut full: std::collections::HashMap<String, Record> = std::collections::HashMap::new();
        for chunk in batch.changes.chunks(FETCH_CHUNK) {
            let ids: Vec<&str> = chunk.iter().map(Record::sys_id).collect();
            let rows = client
                .list(
                    table,
                    &format!("sys_idIN{}", ids.join(",")),
                    self.fields.as_deref(),
                    FETCH_CHUNK as u32,
                )
                .await?;
            full.extend(rows.into_iter().map(|r| (r.sys_id().to_owned(), r)));
        }
        // A row deleted since the scan is no change to hand over; a row changed again since
        // is handed over as it is now, and counted as seen at that version.
        batch.changes.retain_mut(|c| match full.remove(c.sys_id()) {
            Some(row) => {
                if row.mod_count() > c.mod_count() {
                    batch.state.seen.insert(
                        row.sys_id().to_owned(),
                        Seen {
                            mod_count: row.mod_count(),
                            updated_on: row.str("sys_updated_on").to_owned(),
                        },
                    );
                }
                *c = row;
                true
            }
            None => false,
        });
        Ok(batch)
    }

    fn query(&self) -> String {
        let mut base = String::new();
        if let Source::Attachments(table) = &self.source {
            base.push_str(&format!("table_name={table}^"));
        }
        let order = "ORDERBYsys_updated_on^ORDERBYsys_id";
        match (&self.state.cursor, &self.state.watermark) {
            (Some((t, id)), _) => {
                format!("{base}sys_updated_on>{t}^NQ{base}sys_updated_on={t}^sys_id>{id}^{order}")
            }
            (None, Some(w)) => {
                let from = parse_time(w)
                    .and_then(|t| t.checked_sub(self.overlap).ok())
                    .map_or_else(|| w.clone(), format_time);
                format!("{base}sys_updated_on>={from}^{order}")
            }
            (None, None) => format!("{base}{order}"),
        }
    }

    fn batch(&self, rows: Vec<Record>) -> Batch {
        let mut state = self.state.clone();
        let more = rows.len() as u32 >= self.page_size;
        let mut changes = Vec::new();
        for row in rows {
            let (id, count, updated) = (
                row.sys_id().to_owned(),
                row.mod_count(),
                row.str("sys_updated_on").to_owned(),
            );
            if id.is_empty() {
                continue;
            }
            state.cursor = Some((updated.clone(), id.clone()));
            let before = state.seen.get(&id).map(|s| s.mod_count);
            if before.is_some_and(|b| b >= count) {
                continue;
            }
            let own = state.own.get(&id).is_some_and(|own| {
                let from = before.unwrap_or(-1) + 1;
                count >= from && (from..=count).all(|c| own.contains(&c))
            });
            state.seen.insert(
                id.clone(),
                Seen {
                    mod_count: count,
                    updated_on: updated,
                },
            );
            if own {
                continue;
            }
            changes.push(row);
        }
        if !more {
            // The pass is over: everything up to the last row read is handed over.
            if let Some((t, _)) = state.cursor.take() {
                let later = match (
                    parse_time(&t),
                    state.watermark.as_deref().and_then(parse_time),
                ) {
                    (Some(a), Some(b)) => a > b,
                    (Some(_), None) => true,
                    _ => false,
                };
                if later {
                    state.watermark = Some(t);
                }
            }
            if let Some(w) = state.watermark.as_deref().and_then(parse_time)
                && let Ok(horizon) = w.checked_sub(self.overlap)
            {
                state
                    .seen
                    .retain(|_, s| parse_time(&s.updated_on).is_none_or(|t| t >= horizon));
            }
            let seen = &state.seen;
            state.own.retain(|id, counts| {
                let read = seen.get(id).map_or(-1, |s| s.mod_count);
                counts.retain(|c| *c > read);
                !counts.is_empty()
            });
        }
        Batch {
            changes,
            state,
            more,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn row(id: &str, count: i64, updated: &str) -> Record {
        let Value::Object(m) = json!({
            "sys_id": id, "sys_mod_count": count.to_string(), "sys_updated_on": updated,
        }) else {
            unreachable!()
        };
        Record::new(m)
    }

    fn ids(b: &Batch) -> Vec<&str> {
        b.changes.iter().map(Record::sys_id).collect()
    }

    #[test]
    fn the_first_pass_reads_everything_in_order_and_sets_the_watermark() {
        let p = Poller::table("incident", PollState::default()).page_size(2);
        assert_eq!(p.query(), "ORDERBYsys_updated_on^ORDERBYsys_id");
        let b = p.batch(vec![
            row("a", 0, "2025-01-01 10:00:00"),
            row("b", 0, "2025-01-01 10:00:00"),
        ]);
        assert!(b.more);
        assert_eq!(ids(&b), ["a", "b"]);
        let mut p = p;
        p.advance(b.state);
        assert_eq!(
            p.query(),
            "sys_updated_on>2025-01-01 10:00:00^NQsys_updated_on=2025-01-01 10:00:00^sys_id>b^ORDERBYsys_updated_on^ORDERBYsys_id"
        );
        let b = p.batch(vec![row("c", 3, "2025-01-01 10:00:05")]);
        assert!(!b.more);
        assert_eq!(b.state.watermark.as_deref(), Some("2025-01-01 10:00:05"));
        assert_eq!(b.state.cursor, None);
        p.advance(b.state);
        assert_eq!(
            p.query(),
            "sys_updated_on>=2025-01-01 09:59:05^ORDERBYsys_updated_on^ORDERBYsys_id"
        );
    }

    #[test]
    fn rows_read_again_in_the_overlap_are_skipped_unless_they_changed() {
        let mut p = Poller::table("incident", PollState::default());
        let b = p.batch(vec![
            row("a", 1, "2025-01-01 10:00:00"),
            row("b", 0, "2025-01-01 10:00:01"),
        ]);
        p.advance(b.state);
        let b = p.batch(vec![
            row("a", 1, "2025-01-01 10:00:00"),
            row("b", 1, "2025-01-01 10:00:02"),
        ]);
        assert_eq!(ids(&b), ["b"]);
    }

    #[test]
    fn own_writes_are_not_handed_back_but_mixed_ones_are() {
        let mut p = Poller::table("incident", PollState::default());
        let b = p.batch(vec![
            row("a", 1, "2025-01-01 10:00:00"),
            row("b", 1, "2025-01-01 10:00:00"),
        ]);
        p.advance(b.state);
        // The connector wrote a (→2, →3) and b (→3); someone else wrote b's 2.
        p.note_own_write(&row("a", 2, "2025-01-01 10:00:01"));
        p.note_own_write(&row("a", 3, "2025-01-01 10:00:02"));
        p.note_own_write(&row("b", 3, "2025-01-01 10:00:02"));
        // And created c.
        p.note_own_write(&row("c", 0, "2025-01-01 10:00:02"));
        let b = p.batch(vec![
            row("a", 3, "2025-01-01 10:00:02"),
            row("b", 3, "2025-01-01 10:00:02"),
            row("c", 0, "2025-01-01 10:00:02"),
        ]);
        assert_eq!(ids(&b), ["b"], "b's version 2 was someone else's");
        assert!(
            b.state.own.is_empty(),
            "read back, forgotten: {:?}",
            b.state.own
        );
    }

    #[test]
    fn seen_rows_outside_the_overlap_are_forgotten() {
        let mut p =
            Poller::table("incident", PollState::default()).overlap(Duration::from_secs(10));
        let b = p.batch(vec![
            row("a", 0, "2025-01-01 10:00:00"),
            row("b", 0, "2025-01-01 10:05:00"),
        ]);
        assert_eq!(b.state.seen.keys().collect::<Vec<_>>(), ["b"]);
        p.advance(b.state);
        let state = serde_json::to_string(p.state()).expect("serialises");
        let back: PollState = serde_json::from_str(&state).expect("parses");
        assert_eq!(&back, p.state());
    }

    #[test]
    fn attachments_name_their_table_in_both_keyset_groups() {
        let state = PollState {
            cursor: Some(("2025-01-01 10:00:00".into(), "x".into())),
            ..PollState::default()
        };
        let p = Poller::attachments("incident", state);
        assert_eq!(
            p.query(),
            "table_name=incident^sys_updated_on>2025-01-01 10:00:00^NQtable_name=incident^sys_updated_on=2025-01-01 10:00:00^sys_id>x^ORDERBYsys_updated_on^ORDERBYsys_id"
        );
    }
}
