//! Mirror links: which store item, comment or attachment mirrors which record, journal entry or
//! attachment of an external tracker; and the mirrored writes, which create a store object and
//! its link at once, so that mirroring one tracker object twice makes one copy.

use std::sync::Arc;
use std::time::Duration;

use tandem_model::{
    Actor, Comment, EventKind, MirrorKind, MirrorLink, NewAttachment, NewComment, Person,
    TrackerEvent,
};
use tandem_store::{Store, StoreError};

use crate::common::{TestStore, alice, key, new_item, with_item, with_project};

const INCIDENTS: &str = "servicenow:incident";

fn link(kind: MirrorKind, external_id: &str, item: &str, local_id: i64) -> MirrorLink {
    MirrorLink {
        tracker: INCIDENTS.into(),
        kind,
        external_id: external_id.into(),
        item: key(item),
        local_id,
    }
}

fn mirror() -> Actor {
    Actor {
        name: "servicenow".into(),
        via_sync: Some("ServiceNow".into()),
    }
}

fn comment(body: &str) -> NewComment {
    NewComment {
        author: Person {
            name: "Beth Anglin".into(),
            email: None,
        },
        body: body.into(),
        internal: false,
        origin: None,
    }
}

/// Mirrors the journal entry `journal` as a comment with this body on `item`.
async fn mirror_comment(
    store: &TestStore,
    item: &str,
    journal: &str,
    body: &str,
) -> Result<(Comment, bool), StoreError> {
    store
        .add_mirrored_comment(INCIDENTS, &key(item), journal, comment(body), &mirror())
        .await
}

fn file(name: &str, bytes: &[u8]) -> NewAttachment {
    NewAttachment {
        filename: name.into(),
        mime_type: "text/plain".into(),
        author: Person {
            name: "Beth Anglin".into(),
            email: None,
        },
        bytes: bytes.to_vec(),
    }
}

async fn events(store: &TestStore) -> Vec<TrackerEvent> {
    store.events_after(0, 1000).await.unwrap()
}

/// Whether `item_changed` has been signalled (it returns at once when it has).
async fn item_changed(store: &TestStore) -> bool {
    tokio::time::timeout(Duration::from_secs(5), store.item_changed())
        .await
        .is_ok()
}

fn assert_invalid(err: &StoreError) {
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
}

// --- links ------------------------------------------------------------------------------------

#[tokio::test]
async fn links_round_trip() {
    let store = with_item().await;
    let record = link(MirrorKind::Record, "sys-1", "OPS-1", 0);
    let journal = link(MirrorKind::Comment, "journal-1", "OPS-1", 7);
    let file = link(MirrorKind::Attachment, "att-1", "OPS-1", 3);
    for l in [&record, &journal, &file] {
        store.set_mirror_link(l.clone()).await.unwrap();
    }
    for l in [&record, &journal, &file] {
        assert_eq!(
            store
                .mirror_link(INCIDENTS, l.kind, &l.external_id)
                .await
                .unwrap()
                .as_ref(),
            Some(l)
        );
    }

    // A link is of one tracker, kind and id.
    let none = |tracker: &'static str, kind: MirrorKind, id: &'static str| {
        let store = Arc::clone(&store.store);
        async move { store.mirror_link(tracker, kind, id).await.unwrap() }
    };
    assert_eq!(
        none("servicenow:problem", MirrorKind::Record, "sys-1").await,
        None
    );
    assert_eq!(none(INCIDENTS, MirrorKind::Comment, "sys-1").await, None);
    assert_eq!(none(INCIDENTS, MirrorKind::Record, "sys-2").await, None);

    // Setting the link of a tracker object again replaces it.
    store
        .create_item(new_item("OPS", "Another"), &alice())
        .await
        .unwrap();
    let moved = link(MirrorKind::Comment, "journal-1", "OPS-2", 9);
    store.set_mirror_link(moved.clone()).await.unwrap();
    assert_eq!(
        store
            .mirror_link(INCIDENTS, MirrorKind::Comment, "journal-1")
            .await
            .unwrap(),
        Some(moved)
    );
    assert_eq!(
        store
            .mirror_links_of_item(INCIDENTS, &key("OPS-1"))
            .await
            .unwrap(),
        vec![record, file]
    );
}

#[tokio::test]
async fn a_link_needs_its_item_and_both_ids() {
    let store = with_item().await;
    let err = store
        .set_mirror_link(link(MirrorKind::Record, "sys-1", "OPS-9", 0))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::NotFound { what: "item", key } if key == "OPS-9"),
        "{err:?}"
    );
    let err = store
        .set_mirror_link(link(MirrorKind::Record, "", "OPS-1", 0))
        .await
        .unwrap_err();
    assert_invalid(&err);
    let err = store
        .set_mirror_link(MirrorLink {
            tracker: " ".into(),
            ..link(MirrorKind::Record, "sys-1", "OPS-1", 0)
        })
        .await
        .unwrap_err();
    assert_invalid(&err);
    assert!(
        store
            .mirror_links_of_item(INCIDENTS, &key("OPS-1"))
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn an_items_links_list_by_kind_then_local_id() {
    let store = with_item().await;
    store
        .create_item(new_item("OPS", "Another"), &alice())
        .await
        .unwrap();
    let listed = vec![
        link(MirrorKind::Record, "sys-1", "OPS-1", 0),
        link(MirrorKind::Comment, "journal-b", "OPS-1", 2),
        link(MirrorKind::Comment, "journal-a", "OPS-1", 10),
        link(MirrorKind::Attachment, "att-z", "OPS-1", 1),
        link(MirrorKind::Attachment, "att-y", "OPS-1", 4),
    ];
    // Set in another order, with links of another item and another tracker around them.
    for at in [4, 2, 0, 3, 1] {
        store.set_mirror_link(listed[at].clone()).await.unwrap();
    }
    store
        .set_mirror_link(link(MirrorKind::Comment, "journal-c", "OPS-2", 1))
        .await
        .unwrap();
    store
        .set_mirror_link(MirrorLink {
            tracker: "servicenow:problem".into(),
            ..link(MirrorKind::Record, "prb-1", "OPS-1", 0)
        })
        .await
        .unwrap();

    assert_eq!(
        store
            .mirror_links_of_item(INCIDENTS, &key("OPS-1"))
            .await
            .unwrap(),
        listed
    );
    assert_eq!(
        store
            .mirror_links_of_item("servicenow:problem", &key("OPS-1"))
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        store
            .mirror_links_of_item(INCIDENTS, &key("OPS-2"))
            .await
            .unwrap(),
        vec![link(MirrorKind::Comment, "journal-c", "OPS-2", 1)]
    );
    assert!(
        store
            .mirror_links_of_item(INCIDENTS, &key("OPS-3"))
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_trackers_links_of_one_kind_page_by_external_id() {
    let store = with_item().await;
    store
        .create_item(new_item("OPS", "Another"), &alice())
        .await
        .unwrap();
    for (id, item, local) in [
        ("att-c", "OPS-2", 3),
        ("att-a", "OPS-1", 1),
        ("att-b", "OPS-1", 2),
    ] {
        store
            .set_mirror_link(link(MirrorKind::Attachment, id, item, local))
            .await
            .unwrap();
    }
    // Other kinds and trackers stay out.
    store
        .set_mirror_link(link(MirrorKind::Comment, "att-0", "OPS-1", 1))
        .await
        .unwrap();
    store
        .set_mirror_link(MirrorLink {
            tracker: "servicenow:problem".into(),
            ..link(MirrorKind::Attachment, "att-1", "OPS-1", 5)
        })
        .await
        .unwrap();
    let ids = |links: Vec<MirrorLink>| -> Vec<String> {
        links.into_iter().map(|l| l.external_id).collect()
    };
    let first = store
        .mirror_links_of_kind(INCIDENTS, MirrorKind::Attachment, None, 2)
        .await
        .unwrap();
    assert_eq!(first[0], link(MirrorKind::Attachment, "att-a", "OPS-1", 1));
    assert_eq!(ids(first), ["att-a", "att-b"]);
    let rest = store
        .mirror_links_of_kind(INCIDENTS, MirrorKind::Attachment, Some("att-b"), 2)
        .await
        .unwrap();
    assert_eq!(ids(rest), ["att-c"]);
    assert!(
        store
            .mirror_links_of_kind(INCIDENTS, MirrorKind::Attachment, Some("att-c"), 2)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn deleting_a_link_forgets_it_and_deleting_none_is_no_error() {
    let store = with_item().await;
    let record = link(MirrorKind::Record, "sys-1", "OPS-1", 0);
    let journal = link(MirrorKind::Comment, "journal-1", "OPS-1", 7);
    store.set_mirror_link(record.clone()).await.unwrap();
    store.set_mirror_link(journal.clone()).await.unwrap();

    store
        .delete_mirror_link(INCIDENTS, MirrorKind::Comment, "journal-1")
        .await
        .unwrap();
    assert_eq!(
        store
            .mirror_link(INCIDENTS, MirrorKind::Comment, "journal-1")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .mirror_links_of_item(INCIDENTS, &key("OPS-1"))
            .await
            .unwrap(),
        vec![record.clone()]
    );

    // Again, and a link that never was: nothing to do.
    store
        .delete_mirror_link(INCIDENTS, MirrorKind::Comment, "journal-1")
        .await
        .unwrap();
    store
        .delete_mirror_link(INCIDENTS, MirrorKind::Attachment, "never")
        .await
        .unwrap();
    // Deleting names kind and tracker: the record link stays.
    store
        .delete_mirror_link(INCIDENTS, MirrorKind::Comment, "sys-1")
        .await
        .unwrap();
    store
        .delete_mirror_link("servicenow:problem", MirrorKind::Record, "sys-1")
        .await
        .unwrap();
    assert_eq!(
        store
            .mirror_link(INCIDENTS, MirrorKind::Record, "sys-1")
            .await
            .unwrap(),
        Some(record)
    );
}

// --- mirrored items ---------------------------------------------------------------------------

#[tokio::test]
async fn create_mirrored_item_creates_the_item_and_its_link_once() {
    let store = with_project().await;

    let (item, created) = store
        .create_mirrored_item(INCIDENTS, "sys-1", new_item("OPS", "Email down"), &mirror())
        .await
        .unwrap();
    assert!(created);
    assert_eq!(item.key, key("OPS-1"));
    assert_eq!(item.summary, "Email down");
    assert_eq!(store.item(&key("OPS-1")).await.unwrap(), Some(item.clone()));
    assert!(item_changed(&store).await);

    // Created as create_item creates: history and an event naming the actor.
    let history = store.history(&key("OPS-1")).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].actor, "servicenow");
    assert_eq!(history[0].change.field, "created");
    let events = events(&store).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].item, key("OPS-1"));
    assert_eq!(events[0].kind, EventKind::ItemCreated);
    assert_eq!(events[0].actor, "servicenow");
    assert_eq!(events[0].via_sync.as_deref(), Some("ServiceNow"));
    assert_eq!(events[0].version, 1);

    assert_eq!(
        store
            .mirror_link(INCIDENTS, MirrorKind::Record, "sys-1")
            .await
            .unwrap(),
        Some(link(MirrorKind::Record, "sys-1", "OPS-1", 0))
    );

    // Again: the same item, and nothing written.
    let (again, created) = store
        .create_mirrored_item(INCIDENTS, "sys-1", new_item("OPS", "Retry"), &mirror())
        .await
        .unwrap();
    assert!(!created);
    assert_eq!(again, item);
    assert_eq!(store.events_after(0, 1000).await.unwrap().len(), 1);
    assert_eq!(store.item(&key("OPS-2")).await.unwrap(), None);
    assert_eq!(store.projects().await.unwrap()[0].item_count, 1);

    // Another tracker's record of the same id is another record.
    let (other, created) = store
        .create_mirrored_item(
            "servicenow:problem",
            "sys-1",
            new_item("OPS", "A problem"),
            &mirror(),
        )
        .await
        .unwrap();
    assert!(created);
    assert_eq!(other.key, key("OPS-2"));
}

#[tokio::test]
async fn create_mirrored_item_writes_nothing_when_it_fails() {
    let store = with_project().await;
    let err = store
        .create_mirrored_item(INCIDENTS, "sys-1", new_item("NOPE", "x"), &mirror())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::NotFound { what: "project", key } if key == "NOPE"),
        "{err:?}"
    );
    let err = store
        .create_mirrored_item(INCIDENTS, "sys-1", new_item("OPS", ""), &mirror())
        .await
        .unwrap_err();
    assert_invalid(&err);
    let err = store
        .create_mirrored_item(INCIDENTS, "", new_item("OPS", "x"), &mirror())
        .await
        .unwrap_err();
    assert_invalid(&err);

    assert_eq!(
        store
            .mirror_link(INCIDENTS, MirrorKind::Record, "sys-1")
            .await
            .unwrap(),
        None
    );
    assert!(events(&store).await.is_empty());
    assert_eq!(store.projects().await.unwrap()[0].item_count, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_mirrored_creates_of_one_record_make_one_item() {
    let store = with_project().await;
    let tasks: Vec<_> = (0..20)
        .map(|n| {
            let store: Arc<dyn Store> = Arc::clone(&store.store);
            tokio::spawn(async move {
                store
                    .create_mirrored_item(
                        INCIDENTS,
                        "sys-1",
                        new_item("OPS", &format!("attempt {n}")),
                        &mirror(),
                    )
                    .await
            })
        })
        .collect();
    let mut created = 0;
    let mut items = Vec::new();
    for task in tasks {
        let (item, was_created) = task.await.unwrap().unwrap();
        created += usize::from(was_created);
        items.push(item);
    }
    assert_eq!(created, 1);
    assert!(items.iter().all(|item| *item == items[0]), "{items:?}");
    assert_eq!(store.projects().await.unwrap()[0].item_count, 1);
    assert_eq!(events(&store).await.len(), 1);
}

// --- mirrored comments ------------------------------------------------------------------------

#[tokio::test]
async fn add_mirrored_comment_adds_the_comment_and_its_link_once() {
    let store = with_item().await;
    let before = events(&store).await.len();
    assert!(item_changed(&store).await);

    let (added, created) = mirror_comment(&store, "OPS-1", "journal-1", "Rebooted")
        .await
        .unwrap();
    assert!(created);
    assert_eq!(added.body, "Rebooted");
    assert!(item_changed(&store).await);
    let item = store.item(&key("OPS-1")).await.unwrap().unwrap();
    assert_eq!(item.comments, vec![added.clone()]);
    assert_eq!(item.version, 2);

    // Added as add_comment adds: an event naming the actor, at the item's new version.
    let events_now = events(&store).await;
    assert_eq!(events_now.len(), before + 1);
    let event = events_now.last().unwrap();
    assert_eq!(event.item, key("OPS-1"));
    assert_eq!(event.kind, EventKind::CommentAdded);
    assert_eq!(event.via_sync.as_deref(), Some("ServiceNow"));
    assert_eq!(event.version, 2);
    let history = store.history(&key("OPS-1")).await.unwrap();
    assert_eq!(history.last().unwrap().change.field, "comment");

    assert_eq!(
        store
            .mirror_link(INCIDENTS, MirrorKind::Comment, "journal-1")
            .await
            .unwrap(),
        Some(link(MirrorKind::Comment, "journal-1", "OPS-1", added.id))
    );

    // Again: the same comment, and nothing written.
    let (again, created) = mirror_comment(&store, "OPS-1", "journal-1", "Rebooted (retry)")
        .await
        .unwrap();
    assert!(!created);
    assert_eq!(again, added);
    assert_eq!(events(&store).await.len(), before + 1);
    let item = store.item(&key("OPS-1")).await.unwrap().unwrap();
    assert_eq!(item.comments.len(), 1);
    assert_eq!(item.version, 2);
}

#[tokio::test]
async fn a_mirrored_comment_deleted_meanwhile_is_added_anew() {
    let store = with_item().await;
    let (first, _) = mirror_comment(&store, "OPS-1", "journal-1", "Rebooted")
        .await
        .unwrap();
    store
        .delete_comment(&key("OPS-1"), first.id, &alice())
        .await
        .unwrap();

    let (second, created) = mirror_comment(&store, "OPS-1", "journal-1", "Rebooted")
        .await
        .unwrap();
    assert!(created);
    assert_eq!(
        store.item(&key("OPS-1")).await.unwrap().unwrap().comments,
        vec![second.clone()]
    );
    assert_eq!(
        store
            .mirror_link(INCIDENTS, MirrorKind::Comment, "journal-1")
            .await
            .unwrap(),
        Some(link(MirrorKind::Comment, "journal-1", "OPS-1", second.id))
    );
}

#[tokio::test]
async fn deleting_a_mirrored_comment_forgets_its_link_even_when_its_id_comes_back() {
    let store = with_item().await;
    let (mirrored, _) = mirror_comment(&store, "OPS-1", "journal-1", "From ServiceNow")
        .await
        .unwrap();
    store
        .delete_comment(&key("OPS-1"), mirrored.id, &alice())
        .await
        .unwrap();
    assert_eq!(
        store
            .mirror_link(INCIDENTS, MirrorKind::Comment, "journal-1")
            .await
            .unwrap(),
        None
    );

    // SQLite may give the next comment the deleted one's id: it is not the mirror.
    let local = store
        .add_comment(&key("OPS-1"), comment("Written here"), &alice())
        .await
        .unwrap();
    let (again, created) = mirror_comment(&store, "OPS-1", "journal-1", "From ServiceNow")
        .await
        .unwrap();
    assert!(created);
    assert_ne!(again.id, local.id);
    assert_eq!(again.body, "From ServiceNow");
    assert_eq!(
        store.item(&key("OPS-1")).await.unwrap().unwrap().comments,
        vec![local, again]
    );
}

#[tokio::test]
async fn a_stale_link_set_by_hand_is_replaced() {
    let store = with_item().await;
    store
        .set_mirror_link(link(MirrorKind::Comment, "journal-1", "OPS-1", 42))
        .await
        .unwrap();
    store
        .set_mirror_link(link(MirrorKind::Attachment, "att-1", "OPS-1", 42))
        .await
        .unwrap();

    let (added, created) = mirror_comment(&store, "OPS-1", "journal-1", "Rebooted")
        .await
        .unwrap();
    assert!(created);
    let (attached, created) = store
        .add_mirrored_attachment(
            INCIDENTS,
            &key("OPS-1"),
            "att-1",
            file("log.txt", b"abc"),
            &mirror(),
        )
        .await
        .unwrap();
    assert!(created);
    assert_eq!(
        store
            .mirror_links_of_item(INCIDENTS, &key("OPS-1"))
            .await
            .unwrap(),
        vec![
            link(MirrorKind::Comment, "journal-1", "OPS-1", added.id),
            link(MirrorKind::Attachment, "att-1", "OPS-1", attached.id),
        ]
    );
}

#[tokio::test]
async fn add_mirrored_comment_refuses_bad_input_and_writes_nothing() {
    let store = with_item().await;
    store
        .create_item(new_item("OPS", "Another"), &alice())
        .await
        .unwrap();
    let before = events(&store).await.len();

    let err = mirror_comment(&store, "OPS-1", "journal-1", "")
        .await
        .unwrap_err();
    assert_invalid(&err);
    let err = store
        .add_mirrored_comment(INCIDENTS, &key("OPS-1"), "", comment("x"), &mirror())
        .await
        .unwrap_err();
    assert_invalid(&err);
    let err = mirror_comment(&store, "OPS-9", "journal-1", "x")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::NotFound { what: "item", key } if key == "OPS-9"),
        "{err:?}"
    );
    assert_eq!(
        store
            .mirror_link(INCIDENTS, MirrorKind::Comment, "journal-1")
            .await
            .unwrap(),
        None
    );
    assert_eq!(events(&store).await.len(), before);

    // A journal entry mirrored on one item is not mirrored again on another.
    mirror_comment(&store, "OPS-1", "journal-1", "x")
        .await
        .unwrap();
    let err = mirror_comment(&store, "OPS-2", "journal-1", "x")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists(_)), "{err:?}");
    assert!(
        store
            .item(&key("OPS-2"))
            .await
            .unwrap()
            .unwrap()
            .comments
            .is_empty()
    );
}

// --- mirrored attachments ---------------------------------------------------------------------

#[tokio::test]
async fn add_mirrored_attachment_adds_the_attachment_and_its_link_once() {
    let store = with_item().await;
    let before = events(&store).await.len();

    let (added, created) = store
        .add_mirrored_attachment(
            INCIDENTS,
            &key("OPS-1"),
            "att-1",
            file("log.txt", b"abc"),
            &mirror(),
        )
        .await
        .unwrap();
    assert!(created);
    assert_eq!(added.filename, "log.txt");
    assert_eq!(added.size, 3);
    assert_eq!(
        added.sha256,
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    let (stored, bytes) = store
        .attachment(&key("OPS-1"), added.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored, added);
    assert_eq!(bytes, b"abc");

    let events_now = events(&store).await;
    assert_eq!(events_now.len(), before + 1);
    let event = events_now.last().unwrap();
    assert_eq!(event.kind, EventKind::AttachmentAdded);
    assert_eq!(event.via_sync.as_deref(), Some("ServiceNow"));
    assert_eq!(
        store
            .mirror_link(INCIDENTS, MirrorKind::Attachment, "att-1")
            .await
            .unwrap(),
        Some(link(MirrorKind::Attachment, "att-1", "OPS-1", added.id))
    );

    // Again: the same attachment, and nothing written.
    let (again, created) = store
        .add_mirrored_attachment(
            INCIDENTS,
            &key("OPS-1"),
            "att-1",
            file("log.txt", b"abc"),
            &mirror(),
        )
        .await
        .unwrap();
    assert!(!created);
    assert_eq!(again, added);
    assert_eq!(events(&store).await.len(), before + 1);
    assert_eq!(
        store
            .item(&key("OPS-1"))
            .await
            .unwrap()
            .unwrap()
            .attachments
            .len(),
        1
    );

    // Removed meanwhile: added anew, and the link follows.
    store
        .remove_attachment(&key("OPS-1"), added.id, &alice())
        .await
        .unwrap();
    let (anew, created) = store
        .add_mirrored_attachment(
            INCIDENTS,
            &key("OPS-1"),
            "att-1",
            file("log.txt", b"abc"),
            &mirror(),
        )
        .await
        .unwrap();
    assert!(created);
    assert_eq!(
        store
            .item(&key("OPS-1"))
            .await
            .unwrap()
            .unwrap()
            .attachments,
        vec![anew.clone()]
    );
    assert_eq!(
        store
            .mirror_links_of_item(INCIDENTS, &key("OPS-1"))
            .await
            .unwrap(),
        vec![link(MirrorKind::Attachment, "att-1", "OPS-1", anew.id)]
    );

    // Validated as add_attachment validates.
    let err = store
        .add_mirrored_attachment(INCIDENTS, &key("OPS-1"), "att-2", file("", b"x"), &mirror())
        .await
        .unwrap_err();
    assert_invalid(&err);
    assert_eq!(
        store
            .mirror_link(INCIDENTS, MirrorKind::Attachment, "att-2")
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn a_large_mirrored_attachment_is_hashed_like_a_small_one() {
    let store = with_item().await;
    let bytes = vec![7u8; 200 * 1024];
    let (added, created) = store
        .add_mirrored_attachment(
            INCIDENTS,
            &key("OPS-1"),
            "att-big",
            file("big.bin", &bytes),
            &mirror(),
        )
        .await
        .unwrap();
    assert!(created);
    let plain = store
        .add_attachment(&key("OPS-1"), file("big.bin", &bytes), &alice())
        .await
        .unwrap();
    assert_eq!(added.sha256, plain.sha256);
    assert_eq!(added.size, plain.size);
}

#[tokio::test]
async fn a_record_links_snapshot_is_kept_with_it() {
    let store = with_item().await;
    assert!(matches!(
        store
            .set_mirror_snapshot(INCIDENTS, "sys-1", "{}")
            .await
            .unwrap_err(),
        StoreError::NotFound { .. }
    ));
    store
        .set_mirror_link(link(MirrorKind::Record, "sys-1", "OPS-1", 0))
        .await
        .unwrap();
    assert_eq!(
        store.mirror_snapshot(INCIDENTS, "sys-1").await.unwrap(),
        None
    );
    store
        .set_mirror_snapshot(INCIDENTS, "sys-1", r#"{"state":"2"}"#)
        .await
        .unwrap();
    assert_eq!(
        store
            .mirror_snapshot(INCIDENTS, "sys-1")
            .await
            .unwrap()
            .as_deref(),
        Some(r#"{"state":"2"}"#)
    );
    // Setting the link again keeps it; another tracker's record has none.
    store
        .set_mirror_link(link(MirrorKind::Record, "sys-1", "OPS-1", 0))
        .await
        .unwrap();
    assert_eq!(
        store
            .mirror_snapshot(INCIDENTS, "sys-1")
            .await
            .unwrap()
            .as_deref(),
        Some(r#"{"state":"2"}"#)
    );
    assert_eq!(
        store
            .mirror_snapshot("servicenow:problem", "sys-1")
            .await
            .unwrap(),
        None
    );
    // It goes with the link.
    store
        .delete_mirror_link(INCIDENTS, MirrorKind::Record, "sys-1")
        .await
        .unwrap();
    assert_eq!(
        store.mirror_snapshot(INCIDENTS, "sys-1").await.unwrap(),
        None
    );
}
