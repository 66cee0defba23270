//! JQL polling: every change handed over once, across pages (`nextPageToken` on Cloud,
//! `startAt` on Data Center), the client's own writes not handed back, someone else's edits
//! handed over, and a cursor that survives being stored.

use std::collections::BTreeSet;
use std::time::Duration;

use tandem_connectors::jira::{Client, Cursor, FieldValue, Flavour, PollOptions};

use super::common::{Site, start};

both_flavours!(changes_are_paged_once_and_own_writes_do_not_come_back);

const SCOPE: &str = "project = SUP";

/// Polls until the pass ends; the keys handed over, the pages read, the cursor to store.
async fn drain(c: &Client, cursor: Cursor, options: &PollOptions) -> (Vec<String>, usize, Cursor) {
    let mut cursor = cursor;
    let mut keys = Vec::new();
    for pages in 1..=50 {
        let changes = c.changes(SCOPE, &cursor, options).await.expect("poll");
        keys.extend(changes.issues.iter().map(|i| i.key.clone()));
        // Stored as a caller would store it.
        cursor = serde_json::from_str(&serde_json::to_string(&changes.cursor).expect("json"))
            .expect("cursor");
        if !changes.more {
            return (keys, pages, cursor);
        }
    }
    panic!("the pass did not end in 50 pages");
}

async fn changes_are_paged_once_and_own_writes_do_not_come_back(flavour: Flavour) {
    let site: Site = start(flavour).await;
    let c = site.client();
    let options = PollOptions {
        page_size: 2,
        overlap: Duration::from_secs(120),
    };
    let mut made = BTreeSet::new();
    for n in 0..5 {
        made.insert(site.create_as_someone(&format!("change {n}")).await);
    }
    let (keys, pages, cursor) = drain(&c, Cursor::default(), &options).await;
    assert_eq!(
        keys.iter().cloned().collect::<BTreeSet<_>>(),
        made,
        "{keys:?}"
    );
    assert_eq!(keys.len(), 5, "each change once: {keys:?}");
    assert!(pages >= 3, "paged by two: {pages} pages");
    assert!(cursor.watermark().is_some());

    let (again, _, cursor) = drain(&c, cursor, &options).await;
    assert!(again.is_empty(), "nothing changed since: {again:?}");

    let first = made.iter().next().expect("one").clone();
    c.update_issue(
        &first,
        &[("summary".into(), FieldValue::Text("edited by us".into()))],
    )
    .await
    .expect("own edit");
    c.add_comment(&first, "our comment", false)
        .await
        .expect("own comment");
    let (own, _, cursor) = drain(&c, cursor, &options).await;
    assert!(own.is_empty(), "own writes are not changes: {own:?}");

    let last = made.iter().last().expect("one").clone();
    site.edit_as_someone(&last, serde_json::json!({"summary": "edited by someone"}))
        .await;
    let (theirs, _, cursor) = drain(&c, cursor, &options).await;
    assert_eq!(theirs, vec![last.clone()]);

    // An hour later, a change is still found from the stored cursor, by a new client.
    site.advance_clock(3600).await;
    site.edit_as_someone(&first, serde_json::json!({"summary": "much later"}))
        .await;
    let fresh = site.client();
    let (later, _, _) = drain(&fresh, cursor, &options).await;
    assert_eq!(later, vec![first]);
    site.stop().await;
}

both_flavours!(an_issue_edited_while_a_pass_pages_pushes_no_other_out_of_sight);

/// Paging by `updated`, an issue edited mid-pass moves to the end of the order and everything
/// after it moves up a place. On Data Center (`startAt`) each page starts a little early, so
/// the pass itself sees every issue; on both flavours the next pass (which re-reads the
/// overlap window) hands over the edited one, and no issue is ever lost.
async fn an_issue_edited_while_a_pass_pages_pushes_no_other_out_of_sight(flavour: Flavour) {
    let site: Site = start(flavour).await;
    let c = site.client();
    let options = PollOptions {
        page_size: 2,
        overlap: Duration::from_secs(120),
    };
    let mut keys = Vec::new();
    for n in 0..6 {
        keys.push(site.create_as_someone(&format!("moving {n}")).await);
    }
    let first = c
        .changes(SCOPE, &Cursor::default(), &options)
        .await
        .expect("first page");
    let mut handed: Vec<String> = first.issues.iter().map(|i| i.key.clone()).collect();
    assert_eq!(handed, keys[..2].to_vec());
    // The first issue read is edited: it moves to the end of the order.
    site.edit_as_someone(&keys[0], serde_json::json!({"summary": "moved"}))
        .await;
    let (rest, _, cursor) = drain(&c, first.cursor, &options).await;
    handed.extend(rest);
    let within_the_pass: BTreeSet<&String> = handed.iter().collect();
    if flavour == Flavour::DataCenter {
        assert_eq!(
            within_the_pass.len(),
            6,
            "startAt pages start early enough: {handed:?}"
        );
    }
    let (next_pass, _, _) = drain(&c, cursor, &options).await;
    handed.extend(next_pass);
    let all: BTreeSet<String> = handed.iter().cloned().collect();
    assert_eq!(
        all,
        keys.iter().cloned().collect::<BTreeSet<_>>(),
        "{handed:?}"
    );
    assert!(
        handed.iter().filter(|k| **k == keys[0]).count() >= 2,
        "the edit is handed over too: {handed:?}"
    );
    site.stop().await;
}
