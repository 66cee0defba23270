//! Change detection by JQL polling (tracker-apis.md §2.4–§2.5), the fallback and catch-up
//! behind webhooks.
//!
//! - Each pass asks for `(<scope>) AND updated >= "<watermark − overlap>" ORDER BY updated ASC,
//!   key ASC`. JQL dates have minute precision and are read in the searching user's time zone
//!   (the client asks `/myself` once), and Cloud's search is eventually consistent, so the
//!   *overlap* window is read again each pass and issues already handed over are recognised
//!   by `(issue id, updated)` and skipped.
//! - Pages: `/search/jql` with `nextPageToken` on Cloud; the old `/search` with `startAt` on
//!   Data Center, where each page starts a little before the previous one ended, so an issue
//!   moving to the end of the order while the pass pages cannot push another out of sight.
//! - The [`Cursor`] is opaque to callers and serialisable. [`Client::changes`] does not move
//!   it: the caller hands the changes over durably, then stores the batch's cursor. A crash in
//!   between hands the same issues over again, which an idempotent consumer ignores.
//! - Own writes: every issue this client creates or edits is noted as `(id, updated)` and
//!   carried into the next cursor; reading that exact version back is not a change.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::client::{Client, Flavour, Result};
use super::error::bad;
use super::issues::Issue;
use super::retry::Repeat;

/// Where the next page of a search starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PageRef {
    /// Cloud's `nextPageToken` (bound to its query; valid for 7 days).
    Token(String),
    /// Data Center's `startAt`.
    StartAt(u64),
}

/// One page of a JQL search.
#[derive(Debug, Clone)]
pub struct SearchPage {
    pub issues: Vec<Issue>,
    /// The next page, or `None` on the last.
    pub next: Option<PageRef>,
}

/// Where polling is. Serialise it and store it with the data it led to; its fields are the
/// connector's business.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Cursor {
    /// Every change up to this instant (epoch milliseconds) has been handed over.
    watermark_ms: Option<i64>,
    /// Inside a pass: the next page and what the pass has seen so far.
    pass: Option<Pass>,
    /// Issue id → the `updated` handed over, for issues inside the overlap window.
    seen: BTreeMap<String, String>,
    /// `(issue id, updated)` of this connector's own writes not yet read back.
    own: BTreeSet<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Pass {
    page: PageRef,
    /// The `updated >=` bound of the pass's query (epoch ms); `None` for the first pass ever.
    from_ms: Option<i64>,
    /// The latest `updated` read in the pass.
    max_ms: i64,
}

impl Cursor {
    /// A cursor that hands over changes made from `since` on (the beginning when `None`).
    pub fn since(since: Option<jiff::Timestamp>) -> Self {
        Self {
            watermark_ms: since.map(|t| t.as_millisecond()),
            ..Self::default()
        }
    }

    /// Everything up to this instant has been handed over.
    pub fn watermark(&self) -> Option<jiff::Timestamp> {
        self.watermark_ms
            .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
    }

    /// Keeps the own writes `current` noted that this cursor has not read back.
    pub(crate) fn keep_own_writes(&mut self, current: &Cursor) {
        for own in &current.own {
            if self.seen.get(&own.0) != Some(&own.1) {
                self.own.insert(own.clone());
            }
        }
    }

    /// Keeps the own writes `client` made that this cursor has not read back.
    pub(crate) fn keep_own_writes_of(&mut self, client: &Client) {
        let writes = client.caches().own_writes.clone();
        for own in writes {
            if self.seen.get(&own.0) != Some(&own.1) {
                self.own.insert(own);
            }
        }
    }

    /// Remembers a write of the caller's own (an issue as a create or an edit returned it).
    pub fn note_own_write(&mut self, issue: &Issue) {
        if !issue.id.is_empty() && !issue.updated().is_empty() {
            self.own
                .insert((issue.id.clone(), issue.updated().to_owned()));
        }
    }
}

/// One page of changes and the cursor to store once they are handed over.
#[derive(Debug)]
pub struct Changes {
    /// Issues changed by someone else, with every field, oldest change first.
    pub issues: Vec<Issue>,
    pub cursor: Cursor,
    /// The pass has more pages: poll again at once.
    pub more: bool,
}

/// How to poll.
#[derive(Debug, Clone)]
pub struct PollOptions {
    /// Issues per page (Cloud answers at most 100 with fields).
    pub page_size: u32,
    /// How far before the watermark each pass starts reading again.
    pub overlap: Duration,
}

impl Default for PollOptions {
    fn default() -> Self {
        Self {
            page_size: 50,
            overlap: Duration::from_secs(120),
        }
    }
}

/// Own writes and seen issues older than this before the watermark are forgotten.
const FORGET_AFTER: Duration = Duration::from_secs(24 * 3600);

impl Client {
    /// One page of a JQL search: `/search/jql` with `nextPageToken` on Cloud, `/search` with
    /// `startAt` on Data Center. `fields` as Jira takes them (`*all`, `summary`, …).
    pub async fn search(
        &self,
        jql: &str,
        fields: &[&str],
        page: Option<&PageRef>,
        max: u32,
    ) -> Result<SearchPage> {
        let max = max.clamp(1, 100);
        let (path, body) = match self.flavour() {
            Flavour::Cloud => {
                let mut body = json!({"jql": jql, "fields": fields, "maxResults": max});
                if let Some(PageRef::Token(t)) = page {
                    body["nextPageToken"] = json!(t);
                }
                ("/search/jql", body)
            }
            Flavour::DataCenter => {
                let start = match page {
                    Some(PageRef::StartAt(n)) => *n,
                    _ => 0,
                };
                (
                    "/search",
                    json!({"jql": jql, "fields": fields, "maxResults": max, "startAt": start}),
                )
            }
        };
        // A search reads; repeating it is harmless.
        let v = self
            .send_json(Method::POST, path, &[], body, Repeat::Safe)
            .await?;
        let list = v
            .get("issues")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("POST", path, "no `issues` list"))?;
        let issues: Vec<Issue> = list
            .iter()
            .filter_map(|i| Issue::from_json(self.flavour(), i))
            .collect();
        let next = match self.flavour() {
            Flavour::Cloud => v
                .get("nextPageToken")
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
                .filter(|_| v.get("isLast").and_then(Value::as_bool) != Some(true))
                // The same token again would page forever.
                .filter(|t| !matches!(page, Some(PageRef::Token(sent)) if sent == t))
                .map(|t| PageRef::Token(t.to_owned())),
            Flavour::DataCenter => {
                // Counted from the start asked for, not the one answered: a server that
                // ignored `startAt` cannot keep a pass paging forever.
                let start = match page {
                    Some(PageRef::StartAt(n)) => *n,
                    _ => 0,
                };
                let total = v.get("total").and_then(Value::as_u64).unwrap_or(0);
                let end = start.saturating_add(list.len() as u64);
                (!list.is_empty() && end < total).then_some(PageRef::StartAt(end))
            }
        };
        Ok(SearchPage { issues, next })
    }

    /// The next page of issues matching `scope` (JQL without `ORDER BY`, e.g. `project =
    /// SUP`) changed since `cursor` by someone other than this connector. Does not move the
    /// cursor: store the returned one once the changes are handed over.
    pub async fn changes(
        &self,
        scope: &str,
        cursor: &Cursor,
        options: &PollOptions,
    ) -> Result<Changes> {
        let mut next = cursor.clone();
        next.own.extend(self.caches().own_writes.iter().cloned());
        let overlap_ms = i64::try_from(options.overlap.as_millis()).unwrap_or(i64::MAX);
        let (from_ms, page, mut max_ms) = match &cursor.pass {
            Some(p) => (p.from_ms, Some(p.page.clone()), p.max_ms),
            None => (
                cursor.watermark_ms.map(|w| w.saturating_sub(overlap_ms)),
                None,
                cursor.watermark_ms.unwrap_or(i64::MIN),
            ),
        };
        let mut jql = format!("({scope})");
        if let Some(from) = from_ms {
            jql.push_str(&format!(
                " AND updated >= \"{}\"",
                self.jql_minute(from).await?
            ));
        }
        jql.push_str(" ORDER BY updated ASC, key ASC");
        let result = self
            .search(&jql, &["*all"], page.as_ref(), options.page_size)
            .await?;
        let mut issues = Vec::new();
        for issue in result.issues {
            let updated = issue.updated().to_owned();
            if let Some(ms) = parse_time(&updated).map(|t| t.as_millisecond()) {
                max_ms = max_ms.max(ms);
            }
            if next.seen.get(&issue.id) == Some(&updated) {
                continue;
            }
            next.seen.insert(issue.id.clone(), updated.clone());
            if next.own.contains(&(issue.id.clone(), updated)) {
                continue;
            }
            issues.push(issue);
        }
        let more = match result.next {
            Some(page) => {
                // Data Center pages by offset: start the next page a little early, so an issue
                // moving to the end meanwhile cannot push one out of sight.
                let page = match page {
                    PageRef::StartAt(end) => {
                        let start = match &cursor.pass {
                            Some(Pass {
                                page: PageRef::StartAt(s),
                                ..
                            }) => *s,
                            _ => 0,
                        };
                        // A quarter of the page, at least one issue, at most 20, and always
                        // less than the page, so every page moves the pass on.
                        let read = end.saturating_sub(start);
                        let margin = (read / 4).clamp(1, 20).min(read.saturating_sub(1));
                        PageRef::StartAt(end - margin)
                    }
                    token => token,
                };
                next.pass = Some(Pass {
                    page,
                    from_ms,
                    max_ms,
                });
                true
            }
            None => {
                next.pass = None;
                if max_ms > i64::MIN {
                    next.watermark_ms = Some(next.watermark_ms.unwrap_or(i64::MIN).max(max_ms));
                }
                next.forget_old(overlap_ms);
                false
            }
        };
        Ok(Changes {
            issues,
            cursor: next,
            more,
        })
    }

    /// A JQL date literal for an instant, floored to the minute, in the integration user's
    /// time zone (which is how Jira reads it).
    async fn jql_minute(&self, ms: i64) -> Result<String> {
        let zone = self.jql_zone().await?;
        let t = jiff::Timestamp::from_millisecond(ms).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        Ok(t.to_zoned_datetime(zone)
            .strftime("%Y-%m-%d %H:%M")
            .to_string())
    }

    async fn jql_zone(&self) -> Result<jiff::tz::TimeZone> {
        if let Some(z) = self.caches().zone.clone() {
            return Ok(z);
        }
        let me = self.myself().await?;
        let zone = me
            .time_zone
            .as_deref()
            .and_then(|name| jiff::tz::TimeZone::get(name).ok())
            .unwrap_or(jiff::tz::TimeZone::UTC);
        self.caches().zone = Some(zone.clone());
        Ok(zone)
    }
}

impl Cursor {
    /// Forgets what can no longer come back inside the overlap window.
    fn forget_old(&mut self, overlap_ms: i64) {
        let Some(w) = self.watermark_ms else { return };
        let horizon_ms = i64::try_from(FORGET_AFTER.as_millis()).unwrap_or(i64::MAX);
        let keep_from = w.saturating_sub(overlap_ms.saturating_add(60_000));
        let old =
            |updated: &str| parse_time(updated).is_none_or(|t| t.as_millisecond() < keep_from);
        self.seen.retain(|_, updated| !old(updated));
        let own_from = w.saturating_sub(horizon_ms);
        self.own.retain(|(_, updated)| {
            parse_time(updated).is_some_and(|t| t.as_millisecond() >= own_from)
        });
    }
}

/// Jira's timestamps (`2021-01-20T15:58:12.797+0000`, or RFC 3339).
pub fn parse_time(s: &str) -> Option<jiff::Timestamp> {
    let s = s.trim();
    if let Ok(t) = s.parse::<jiff::Timestamp>() {
        return Some(t);
    }
    // `+0000` → `+00:00`.
    let b = s.as_bytes();
    if b.len() > 5
        && matches!(b[b.len() - 5], b'+' | b'-')
        && b[b.len() - 4..].iter().all(u8::is_ascii_digit)
    {
        let (head, off) = s.split_at(s.len() - 2);
        return format!("{head}:{off}").parse().ok();
    }
    None
}

/// An instant as Jira writes it, in UTC (`2021-01-20T15:58:12.797+0000`).
pub fn format_time(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jira_timestamps_parse_with_and_without_a_colon_in_the_offset() {
        let a = parse_time("2021-01-20T15:58:12.797+1100").expect("basic offset");
        let b = parse_time("2021-01-20T04:58:12.797Z").expect("rfc 3339");
        assert_eq!(a, b);
        assert_eq!(format_time(b), "2021-01-20T04:58:12.797+0000");
        assert_eq!(parse_time("yesterday"), None);
    }

    #[test]
    fn a_cursor_is_opaque_but_round_trips_through_serde() {
        let mut c = Cursor::since(Some(jiff::Timestamp::UNIX_EPOCH));
        c.seen
            .insert("1".into(), "2021-01-20T15:58:12.797+0000".into());
        let text = serde_json::to_string(&c).expect("json");
        let back: Cursor = serde_json::from_str(&text).expect("back");
        assert_eq!(back, c);
        let empty: Cursor = serde_json::from_str("{}").expect("defaults");
        assert_eq!(empty, Cursor::default());
    }

    #[test]
    fn old_seen_and_own_entries_are_forgotten() {
        let mut c = Cursor::since(parse_time("2026-01-02T00:00:00.000+0000"));
        c.seen
            .insert("old".into(), "2026-01-01T00:00:00.000+0000".into());
        c.seen
            .insert("new".into(), "2026-01-01T23:59:30.000+0000".into());
        c.own
            .insert(("x".into(), "2025-12-30T00:00:00.000+0000".into()));
        c.forget_old(60_000);
        assert_eq!(c.seen.keys().collect::<Vec<_>>(), vec!["new"]);
        assert!(c.own.is_empty());
    }
}
