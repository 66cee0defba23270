//! History and the event outbox: every change to an item writes both, in order, with the
//! item's new version.

use tandem_model::{Actor, EventKind, ItemPatch, NewAttachment, NewComment, Person, Status};

use crate::common::{alice, key, new_item, with_item, with_project};

fn comment(body: &str) -> NewComment {
    NewComment {
        author: Person {
            name: "alice".into(),
            email: None,
        },
        body: body.into(),
        internal: false,
        origin: None,
    }
}

#[tokio::test]
async fn every_mutation_writes_history_and_one_event() {
    let store = with_project().await;
    let ops1 = key("OPS-1");
    store
        .create_item(new_item("OPS", "Printer on fire"), &alice())
        .await
        .unwrap();
    let patch = ItemPatch {
        summary: Some("Printer smoking".into()),
        status: Some(Status::InProgress),
        ..ItemPatch::default()
    };
    store.update_item(&ops1, patch, &alice()).await.unwrap();
    let c = store
        .add_comment(&ops1, comment("On it."), &alice())
        .await
        .unwrap();
    store
        .edit_comment(&ops1, c.id, "On it, with an extinguisher.", &alice())
        .await
        .unwrap();
    let a = store
        .add_attachment(
            &ops1,
            NewAttachment {
                filename: "smoke.jpg".into(),
                mime_type: "image/jpeg".into(),
                author: Person::default(),
                bytes: vec![1, 2, 3],
            },
            &alice(),
        )
        .await
        .unwrap();
    store
        .remove_attachment(&ops1, a.id, &alice())
        .await
        .unwrap();

    let events = store.events_after(0, 100).await.unwrap();
    let kinds: Vec<EventKind> = events.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            EventKind::ItemCreated,
            EventKind::ItemUpdated,
            EventKind::CommentAdded,
            EventKind::CommentEdited,
            EventKind::AttachmentAdded,
            EventKind::AttachmentRemoved,
        ]
    );
    let versions: Vec<i64> = events.iter().map(|e| e.version).collect();
    assert_eq!(versions, [1, 2, 3, 4, 5, 6]);
    assert!(events.windows(2).all(|w| w[0].seq < w[1].seq));
    assert!(events.iter().all(|e| e.item == ops1 && e.actor == "alice"));

    let item = store.item(&ops1).await.unwrap().unwrap();
    assert_eq!(item.version, 6);

    let history = store.history(&ops1).await.unwrap();
    let rows: Vec<(&str, Option<&str>, Option<&str>)> = history
        .iter()
        .map(|h| {
            (
                h.change.field.as_str(),
                h.change.from.as_deref(),
                h.change.to.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("created", None, Some("Printer on fire")),
            ("summary", Some("Printer on fire"), Some("Printer smoking")),
            ("status", Some("To Do"), Some("In Progress")),
            ("comment", None, Some("On it.")),
            (
                "comment",
                Some("On it."),
                Some("On it, with an extinguisher.")
            ),
            ("attachment", None, Some("smoke.jpg")),
            ("attachment", Some("smoke.jpg"), None),
        ]
    );
    assert!(
        history
            .windows(2)
            .all(|w| w[0].id < w[1].id && w[0].at <= w[1].at)
    );
}

#[tokio::test]
async fn events_name_the_sync_connection_that_made_the_change() {
    let store = with_item().await;
    let engine = Actor {
        name: "sync".into(),
        via_sync: Some("jira-prod".into()),
    };
    let patch = ItemPatch {
        summary: Some("from Jira".into()),
        ..ItemPatch::default()
    };
    store
        .update_item(&key("OPS-1"), patch, &engine)
        .await
        .unwrap();
    let events = store.events_after(0, 100).await.unwrap();
    assert_eq!(events[0].via_sync, None);
    assert_eq!(events[1].via_sync.as_deref(), Some("jira-prod"));
    assert_eq!(events[1].actor, "sync");
}

#[tokio::test]
async fn events_after_reads_in_seq_order_from_a_cursor() {
    let store = with_project().await;
    for n in 0..5 {
        store
            .create_item(new_item("OPS", &format!("item {n}")), &alice())
            .await
            .unwrap();
    }
    let first = store.events_after(0, 2).await.unwrap();
    assert_eq!(first.len(), 2);
    let rest = store.events_after(first[1].seq, 100).await.unwrap();
    let numbers: Vec<i64> = first.iter().chain(&rest).map(|e| e.item.number).collect();
    assert_eq!(numbers, [1, 2, 3, 4, 5]);
    let last = rest.last().unwrap().seq;
    assert!(store.events_after(last, 100).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_failed_change_leaves_no_event() {
    let store = with_item().await;
    let stale = ItemPatch {
        summary: Some("x".into()),
        expected_version: Some(7),
        ..ItemPatch::default()
    };
    assert!(
        store
            .update_item(&key("OPS-1"), stale, &alice())
            .await
            .is_err()
    );
    assert!(
        store
            .add_comment(&key("OPS-2"), comment("nobody home"), &alice())
            .await
            .is_err()
    );
    assert_eq!(store.events_after(0, 100).await.unwrap().len(), 1);
    assert_eq!(store.history(&key("OPS-1")).await.unwrap().len(), 1);
}
