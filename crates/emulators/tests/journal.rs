//! Journals: comments and work notes append to `sys_journal_field`; the fields read empty raw
//! and as the history with display values.

use serde_json::{Value, json};

use crate::common::{self, DISPLAY_NAME, USER, id};

#[tokio::test]
async fn writing_comments_and_work_notes_appends_journal_rows() {
    let emu = common::start().await;
    let rec = emu
        .create("incident", json!({ "comments": "first public" }))
        .await;
    let sys_id = id(&rec);
    emu.advance_clock(1).await;
    let up = emu
        .patch("incident", &sys_id, json!({ "work_notes": "internal" }))
        .await;
    assert_eq!(up["sys_mod_count"], "1", "a journal entry is an update");
    assert_eq!(
        up["work_notes"], "",
        "journal fields read empty without display values"
    );
    emu.advance_clock(1).await;
    emu.patch("incident", &sys_id, json!({ "comments": "second public" }))
        .await;

    let q = format!(
        "/api/now/table/sys_journal_field?sysparm_query=element_id={sys_id}%5EelementINcomments,work_notes%5EORDERBYsys_created_on"
    );
    let body = emu.get_json(&q).await;
    let rows = body["result"].as_array().expect("array");
    let got: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| {
            (
                r["element"].as_str().expect("s"),
                r["value"].as_str().expect("s"),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("comments", "first public"),
            ("work_notes", "internal"),
            ("comments", "second public")
        ]
    );
    for r in rows {
        assert_eq!(r["name"], "incident");
        assert_eq!(r["element_id"], sys_id.as_str());
        assert_eq!(r["sys_created_by"], USER);
        assert_eq!(r["sys_id"].as_str().map(str::len), Some(32));
    }
    emu.stop().await;
}

#[tokio::test]
async fn display_values_give_the_history_newest_first_with_headers() {
    let emu = common::start().await;
    let rec = emu.create("incident", json!({ "comments": "hello" })).await;
    let sys_id = id(&rec);
    emu.advance_clock(1).await;
    emu.patch("incident", &sys_id, json!({ "work_notes": "note" }))
        .await;
    let body: Value = emu
        .get_json(&format!(
            "/api/now/table/incident/{sys_id}?sysparm_fields=comments,work_notes,comments_and_work_notes&sysparm_display_value=true"
        ))
        .await;
    let r = &body["result"];
    let comments = r["comments"].as_str().expect("string");
    assert!(
        comments.ends_with(&format!(
            " - {DISPLAY_NAME} (Additional comments)\nhello\n\n"
        )),
        "{comments:?}"
    );
    assert!(!comments.contains("note"));
    let both = r["comments_and_work_notes"].as_str().expect("string");
    let note_at = both.find("(Work notes)\nnote").expect("work note present");
    let hello_at = both
        .find("(Additional comments)\nhello")
        .expect("comment present");
    assert!(note_at < hello_at, "newest first: {both:?}");
    emu.stop().await;
}

#[tokio::test]
async fn a_blank_journal_write_adds_nothing() {
    let emu = common::start().await;
    let rec = emu.create("incident", json!({})).await;
    let up = emu
        .patch("incident", &id(&rec), json!({ "comments": "  " }))
        .await;
    assert_eq!(up["sys_mod_count"], "0");
    let body = emu.get_json("/api/now/table/sys_journal_field").await;
    assert_eq!(body["result"], json!([]));
    emu.stop().await;
}
