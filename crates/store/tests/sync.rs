//! What the sync engine keeps: twins and their comment and attachment twins, requests received
//! from remotes, sync errors, conflicts and triggers; and that deleting a connection forgets
//! all of it.

use std::sync::Arc;

use jiff::Timestamp;
use tandem_model::{
    Actor, AttachmentLink, CommentLink, ConflictRecord, Connection, ConnectionRole,
    ConnectionStatus, EventKind, FieldClocks, Impact, Mode, NewProject, NewSyncError, RequestState,
    Side, Trigger, Twin, TwinState,
};
use tandem_store::{Store, StoreError};
use uuid::Uuid;

use crate::common::{TestStore, alice, key, new_item, pkey, with_project};

const T0: i64 = 1_700_000_000_000;

fn at(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap()
}

pub(crate) fn connection(name: &str) -> Connection {
    Connection {
        id: Uuid::now_v7(),
        name: name.into(),
        description: String::new(),
        mode: Mode::Basic,
        role: ConnectionRole::Local,
        local_short_name: "ops".into(),
        remote_short_name: "dev".into(),
        remote: None,
        private: false,
        status: ConnectionStatus::Active,
        status_reason: None,
        remote_paused: false,
        invitation: None,
        sealed_root: None,
        outgoing_script: String::new(),
        incoming_script: String::new(),
        target_project: None,
        created: at(T0),
        updated: at(T0),
        last_sync: None,
        version: 1,
    }
}

/// An active twin with nothing optional but the remote key.
pub(crate) fn twin(connection_id: Uuid, local: &str, remote: Option<&str>) -> Twin {
    Twin {
        connection_id,
        local_key: key(local),
        remote_key: remote.map(str::to_owned),
        state: TwinState::Active,
        last_sent: None,
        last_received: None,
        created: at(T0),
        last_sync: None,
        clock: FieldClocks::default(),
        leads: false,
        remote_display_key: None,
        display_key_sent: None,
    }
}

fn synced(name: &str) -> Actor {
    Actor {
        name: "sync".into(),
        via_sync: Some(name.into()),
    }
}

/// A store with project OPS holding OPS-1 to OPS-`items`, and connections Acme and Globex.
pub(crate) async fn setup(items: usize) -> (TestStore, Uuid, Uuid) {
    let store = with_project().await;
    for n in 1..=items {
        store
            .create_item(new_item("OPS", &format!("item {n}")), &alice())
            .await
            .unwrap();
    }
    let acme = store
        .create_connection(connection("Acme"))
        .await
        .unwrap()
        .id;
    let globex = store
        .create_connection(connection("Globex"))
        .await
        .unwrap()
        .id;
    (store, acme, globex)
}

fn assert_not_found(err: &StoreError, what: &str, key: &str) {
    assert!(
        matches!(err, StoreError::NotFound { what: w, key: k } if *w == what && k == key),
        "{err:?}"
    );
}

fn keys(twins: &[Twin]) -> Vec<String> {
    twins.iter().map(|t| t.local_key.to_string()).collect()
}

// --- twins --------------------------------------------------------------------------------------

#[tokio::test]
async fn a_created_twin_reads_back_by_local_key_by_remote_key_and_by_item() {
    let (store, acme, globex) = setup(2).await;
    let full = Twin {
        connection_id: acme,
        local_key: key("OPS-1"),
        remote_key: Some("ACME-7".into()),
        state: TwinState::Stopped,
        last_sent: Some(r#"{"summary":"out"}"#.into()),
        last_received: Some(r#"{"summary":"in"}"#.into()),
        created: at(T0 + 5),
        last_sync: Some(at(T0 + 6)),
        clock: FieldClocks::from_json(&serde_json::json!({"summary": [3, 2]})).unwrap(),
        leads: true,
        remote_display_key: Some("INC0010005".into()),
        display_key_sent: Some("OPS 1".into()),
    };
    assert_eq!(store.create_twin(full.clone()).await.unwrap(), full);
    let mut bare = twin(globex, "OPS-1", None);
    bare.created = at(T0 + 1);
    assert_eq!(store.create_twin(bare.clone()).await.unwrap(), bare);

    assert_eq!(
        store.twin(acme, &key("OPS-1")).await.unwrap(),
        Some(full.clone())
    );
    assert_eq!(
        store.twin_by_remote(acme, "ACME-7").await.unwrap(),
        Some(full.clone())
    );
    // Remote keys are per connection; an item without a twin has none.
    assert_eq!(store.twin_by_remote(globex, "ACME-7").await.unwrap(), None);
    assert_eq!(store.twin(acme, &key("OPS-2")).await.unwrap(), None);
    // Oldest first, across connections.
    assert_eq!(
        store.twins_of_item(&key("OPS-1")).await.unwrap(),
        [bare, full]
    );
    assert!(store.twins_of_item(&key("OPS-2")).await.unwrap().is_empty());
}

#[tokio::test]
async fn twins_made_count_per_calendar_month_across_connections_and_only_a_withdrawal_undoes_it() {
    let (store, acme, globex) = setup(3).await;
    // T0 is 2023-11-14; the month before and after.
    let october = at(T0 - 20 * 86_400_000);
    let december = at(T0 + 20 * 86_400_000);
    let mut old = twin(acme, "OPS-3", None);
    old.created = october;
    store.create_twin(old).await.unwrap();
    store.create_twin(twin(acme, "OPS-1", None)).await.unwrap();
    store
        .create_twin(twin(globex, "OPS-1", None))
        .await
        .unwrap();
    // A twin refused (the item has one on this connection already) is not counted.
    store
        .create_twin(twin(acme, "OPS-1", None))
        .await
        .unwrap_err();
    assert_eq!(store.twins_made_in_month(at(T0)).await.unwrap(), 2);
    assert_eq!(store.twins_made_in_month(october).await.unwrap(), 1);
    assert_eq!(store.twins_made_in_month(december).await.unwrap(), 0);
    store.delete_twin(acme, &key("OPS-1")).await.unwrap();
    assert_eq!(store.twins_made_in_month(at(T0)).await.unwrap(), 2);
    // A twin withdrawn (it never came into being) no longer counts in its own month.
    store.withdraw_twin(acme, &key("OPS-3")).await.unwrap();
    assert_eq!(store.twins_made_in_month(october).await.unwrap(), 0);
    assert_eq!(store.twins_made_in_month(at(T0)).await.unwrap(), 2);
    assert!(matches!(
        store.withdraw_twin(acme, &key("OPS-3")).await,
        Err(tandem_store::StoreError::NotFound { .. })
    ));
    // An item made with its twin (an incoming first sync) counts too.
    store
        .create_twinned_item(
            globex,
            "G-9",
            new_item("OPS", "from globex"),
            &synced("Globex"),
        )
        .await
        .unwrap();
    assert_eq!(
        store.twins_made_in_month(Timestamp::now()).await.unwrap(),
        1
    );
}

#[tokio::test]
async fn a_twin_needs_its_connection_and_its_item() {
    let (store, acme, _) = setup(1).await;
    let nobody = Uuid::now_v7();
    let err = store
        .create_twin(twin(nobody, "OPS-1", None))
        .await
        .unwrap_err();
    assert_not_found(&err, "connection", &nobody.to_string());
    let err = store
        .create_twin(twin(acme, "OPS-2", None))
        .await
        .unwrap_err();
    assert_not_found(&err, "item", "OPS-2");
    let err = store
        .create_twin(twin(acme, "NOPE-1", None))
        .await
        .unwrap_err();
    assert_not_found(&err, "item", "NOPE-1");
    assert_eq!(store.twin_count(acme).await.unwrap(), 0);
}

#[tokio::test]
async fn an_item_has_one_twin_per_connection_and_a_remote_key_one_item() {
    let (store, acme, globex) = setup(3).await;
    store
        .create_twin(twin(acme, "OPS-1", Some("ACME-1")))
        .await
        .unwrap();

    let err = store
        .create_twin(twin(acme, "OPS-1", Some("ACME-9")))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        "OPS-1 already has a twin on connection Acme"
    );

    let err = store
        .create_twin(twin(acme, "OPS-2", Some("ACME-1")))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        "remote item ACME-1 is already linked to OPS-1 on connection Acme"
    );

    // Another connection may twin the same item, under the same remote key even.
    store
        .create_twin(twin(globex, "OPS-1", Some("ACME-1")))
        .await
        .unwrap();
    // Twins still waiting for their remote key do not clash with each other.
    store.create_twin(twin(acme, "OPS-2", None)).await.unwrap();
    store.create_twin(twin(acme, "OPS-3", None)).await.unwrap();
    assert_eq!(store.twin_count(acme).await.unwrap(), 3);
    assert_eq!(store.twin_count(globex).await.unwrap(), 1);
}

#[tokio::test]
async fn twins_page_in_key_order_with_numbers_compared_as_numbers() {
    let store = with_project().await;
    store
        .create_project(NewProject {
            key: pkey("ENG"),
            name: "Engineering".into(),
            description: String::new(),
        })
        .await
        .unwrap();
    for n in 1..=12 {
        store
            .create_item(new_item("OPS", &format!("ops {n}")), &alice())
            .await
            .unwrap();
        store
            .create_item(new_item("ENG", &format!("eng {n}")), &alice())
            .await
            .unwrap();
    }
    let acme = store
        .create_connection(connection("Acme"))
        .await
        .unwrap()
        .id;
    let globex = store
        .create_connection(connection("Globex"))
        .await
        .unwrap()
        .id;
    // Created out of order; one stopped; one on another connection.
    for local in ["OPS-10", "ENG-10", "OPS-2", "ENG-2", "ENG-1", "OPS-1"] {
        store.create_twin(twin(acme, local, None)).await.unwrap();
    }
    let mut stopped = twin(acme, "ENG-12", None);
    stopped.state = TwinState::Stopped;
    store.create_twin(stopped).await.unwrap();
    store
        .create_twin(twin(globex, "ENG-3", None))
        .await
        .unwrap();

    let all = store.twins(acme, None, 100).await.unwrap();
    assert_eq!(
        keys(&all),
        [
            "ENG-1", "ENG-2", "ENG-10", "ENG-12", "OPS-1", "OPS-2", "OPS-10"
        ]
    );
    assert_eq!(store.twin_count(acme).await.unwrap(), 7, "stopped included");
    assert_eq!(
        store.active_twin_count(acme).await.unwrap(),
        6,
        "under sync"
    );

    let first = store.twins(acme, None, 3).await.unwrap();
    assert_eq!(keys(&first), ["ENG-1", "ENG-2", "ENG-10"]);
    let next = store
        .twins(acme, Some(&first[2].local_key), 3)
        .await
        .unwrap();
    assert_eq!(keys(&next), ["ENG-12", "OPS-1", "OPS-2"]);
    let last = store.twins(acme, Some(&key("OPS-2")), 3).await.unwrap();
    assert_eq!(keys(&last), ["OPS-10"]);
    assert!(
        store
            .twins(acme, Some(&key("OPS-10")), 3)
            .await
            .unwrap()
            .is_empty()
    );
    // `after` need not be a twinned key.
    let from_eng_3 = store.twins(acme, Some(&key("ENG-3")), 2).await.unwrap();
    assert_eq!(keys(&from_eng_3), ["ENG-10", "ENG-12"]);
    assert!(store.twins(acme, None, 0).await.unwrap().is_empty());
    assert_eq!(
        keys(&store.twins(globex, None, 100).await.unwrap()),
        ["ENG-3"]
    );
}

#[tokio::test]
async fn an_update_replaces_the_remote_key_state_replicas_last_sync_and_display_keys() {
    let (store, acme, _) = setup(2).await;
    let created = store.create_twin(twin(acme, "OPS-1", None)).await.unwrap();
    store
        .create_twin(twin(acme, "OPS-2", Some("ACME-2")))
        .await
        .unwrap();

    let edit = Twin {
        remote_key: Some("ACME-1".into()),
        state: TwinState::Stopped,
        last_sent: Some("{\"a\":1}".into()),
        last_received: Some("{\"b\":2}".into()),
        last_sync: Some(at(T0 + 60_000)),
        remote_display_key: Some("INC0010001".into()),
        display_key_sent: Some("OPS one".into()),
        // `created` is kept whatever the update says.
        created: at(T0 + 999),
        ..created.clone()
    };
    let updated = store.update_twin(&edit).await.unwrap();
    let expected = Twin {
        created: created.created,
        ..edit
    };
    assert_eq!(updated, expected);
    assert_eq!(
        store.twin_by_remote(acme, "ACME-1").await.unwrap(),
        Some(expected.clone())
    );

    // The remote key of another item is refused, and nothing changes.
    let taken = Twin {
        remote_key: Some("ACME-2".into()),
        ..expected.clone()
    };
    let err = store.update_twin(&taken).await.unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        "remote item ACME-2 is already linked to OPS-2 on connection Acme"
    );
    assert_eq!(
        store.twin(acme, &key("OPS-1")).await.unwrap(),
        Some(expected.clone())
    );

    // And back to nothing optional.
    let back = twin(acme, "OPS-1", None);
    assert_eq!(store.update_twin(&back).await.unwrap(), back);
    assert_eq!(store.twin_by_remote(acme, "ACME-1").await.unwrap(), None);

    let err = store
        .update_twin(&twin(acme, "OPS-3", None))
        .await
        .unwrap_err();
    assert_not_found(&err, "twin", &format!("OPS-3 on connection {acme}"));
}

#[tokio::test]
async fn deleting_a_twin_deletes_its_comment_and_attachment_twins() {
    let (store, acme, globex) = setup(1).await;
    for id in [acme, globex] {
        store.create_twin(twin(id, "OPS-1", None)).await.unwrap();
        store
            .add_comment_twin(CommentLink {
                connection_id: id,
                local_key: key("OPS-1"),
                local_id: 1,
                remote_id: "c1".into(),
                origin: Side::Remote,
            })
            .await
            .unwrap();
        store
            .add_attachment_twin(AttachmentLink {
                connection_id: id,
                local_key: key("OPS-1"),
                local_id: 1,
                remote_id: "a1".into(),
                origin: Side::Remote,
            })
            .await
            .unwrap();
    }

    store.delete_twin(acme, &key("OPS-1")).await.unwrap();
    assert_eq!(store.twin(acme, &key("OPS-1")).await.unwrap(), None);
    // A new twin of the item starts without the old links.
    store.create_twin(twin(acme, "OPS-1", None)).await.unwrap();
    assert!(
        store
            .comment_twins(acme, &key("OPS-1"))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .attachment_twins(acme, &key("OPS-1"))
            .await
            .unwrap()
            .is_empty()
    );
    // The other connection's twin keeps its own.
    assert_eq!(
        store
            .comment_twins(globex, &key("OPS-1"))
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        store
            .attachment_twins(globex, &key("OPS-1"))
            .await
            .unwrap()
            .len(),
        1
    );

    store.delete_twin(acme, &key("OPS-1")).await.unwrap();
    let err = store.delete_twin(acme, &key("OPS-1")).await.unwrap_err();
    assert_not_found(&err, "twin", &format!("OPS-1 on connection {acme}"));
}

#[tokio::test]
async fn a_twin_and_its_messages_are_written_together_or_not_at_all() {
    let (store, acme, _) = setup(2).await;
    let mut sent = twin(acme, "OPS-1", None);
    sent.last_sent = Some("{\"r\":1}".into());
    let messages = [
        ("sync".to_owned(), "{\"p\":1}".to_owned()),
        ("sync_connect".to_owned(), "{\"p\":2}".to_owned()),
    ];
    let written = store
        .write_twin_and_queue(&sent, true, &messages)
        .await
        .unwrap();
    assert_eq!(written, sent);
    assert_eq!(store.twins_made_in_month(at(T0)).await.unwrap(), 1);
    let queued = store.outbound_messages(acme, 0, 10).await.unwrap();
    let queued: Vec<_> = queued
        .iter()
        .map(|m| (m.seq, m.kind.as_str(), m.payload.as_str()))
        .collect();
    assert_eq!(
        queued,
        [(1, "sync", "{\"p\":1}"), (2, "sync_connect", "{\"p\":2}")]
    );

    // Replacing it (Unexalate) writes the twin and queues its message too.
    let mut stopped = written.clone();
    stopped.state = TwinState::Stopped;
    let stop = [("sync_stop".to_owned(), "{}".to_owned())];
    assert_eq!(
        store
            .write_twin_and_queue(&stopped, false, &stop)
            .await
            .unwrap(),
        stopped
    );
    assert_eq!(store.outbound_seq(acme).await.unwrap(), 3);

    // A twin refused (the item has one already; no such item) queues nothing.
    let err = store
        .write_twin_and_queue(&sent, true, &messages)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists(_)), "{err:?}");
    let err = store
        .write_twin_and_queue(&twin(acme, "OPS-9", None), true, &messages)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    let err = store
        .write_twin_and_queue(&twin(acme, "OPS-2", None), false, &stop)
        .await
        .unwrap_err();
    assert_not_found(&err, "twin", &format!("OPS-2 on connection {acme}"));
    assert_eq!(store.outbound_seq(acme).await.unwrap(), 3);
    assert_eq!(store.twins_made_in_month(at(T0)).await.unwrap(), 1);
}

#[tokio::test]
async fn unsent_twins_are_the_active_ones_with_nothing_sent_and_no_remote_item() {
    let (store, acme, globex) = setup(4).await;
    // Stranded: active, nothing sent, no remote key (on either connection).
    let mut older = twin(globex, "OPS-1", None);
    older.created = at(T0 - 1);
    store.create_twin(older.clone()).await.unwrap();
    let stranded = store.create_twin(twin(acme, "OPS-1", None)).await.unwrap();
    // Sent and waiting for the acknowledgement; linked; stopped: none of them.
    let mut sent = twin(acme, "OPS-2", None);
    sent.last_sent = Some("{}".into());
    store.create_twin(sent).await.unwrap();
    store
        .create_twin(twin(acme, "OPS-3", Some("DEV-3")))
        .await
        .unwrap();
    let mut stopped = twin(acme, "OPS-4", None);
    stopped.state = TwinState::Stopped;
    store.create_twin(stopped).await.unwrap();
    assert_eq!(store.unsent_twins().await.unwrap(), [older, stranded]);
}

#[tokio::test]
async fn queue_sync_records_the_replica_and_queues_the_next_message() {
    let (store, acme, _) = setup(2).await;
    store.create_twin(twin(acme, "OPS-1", None)).await.unwrap();
    // Numbering is the connection's, shared with every other message.
    assert_eq!(
        store.enqueue_message(acme, "control", "{}").await.unwrap(),
        1
    );

    let mut stamped = FieldClocks::default();
    stamped.bump("r", tandem_model::Precedence::First);
    let mut sent = twin(acme, "OPS-1", None);
    sent.last_sent = Some("{\"r\":1}".into());
    sent.clock = stamped.clone();
    sent.display_key_sent = Some("INC0010005".into());
    // Only what is sent is recorded: the rest of the twin stays as stored.
    sent.remote_display_key = Some("ENG-9".into());
    let seq = store.queue_sync(&sent, "sync", "{\"p\":1}").await.unwrap();
    assert_eq!(seq, 2);
    let twin_now = store.twin(acme, &key("OPS-1")).await.unwrap().unwrap();
    assert_eq!(twin_now.last_sent.as_deref(), Some("{\"r\":1}"));
    assert_eq!(twin_now.clock, stamped);
    assert_eq!(twin_now.display_key_sent.as_deref(), Some("INC0010005"));
    assert_eq!(twin_now.remote_display_key, None);
    let queued = store.outbound_messages(acme, 1, 10).await.unwrap();
    assert_eq!(queued.len(), 1);
    assert_eq!(
        (
            queued[0].seq,
            queued[0].kind.as_str(),
            queued[0].payload.as_str()
        ),
        (2, "sync", "{\"p\":1}")
    );

    // No twin: nothing recorded and nothing queued.
    let err = store
        .queue_sync(&twin(acme, "OPS-2", None), "sync", "{}")
        .await
        .unwrap_err();
    assert_not_found(&err, "twin", &format!("OPS-2 on connection {acme}"));
    let nobody = Uuid::now_v7();
    let err = store
        .queue_sync(&twin(nobody, "OPS-1", None), "sync", "{}")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    assert_eq!(store.outbound_seq(acme).await.unwrap(), 2);
    assert_eq!(
        store.enqueue_message(acme, "control", "{}").await.unwrap(),
        3
    );
}

#[tokio::test]
async fn create_twinned_item_creates_the_item_and_its_twin_once() {
    let (store, acme, _) = setup(1).await;
    let before = store.events_after(0, 100).await.unwrap().len();

    let (item, created) = store
        .create_twinned_item(
            acme,
            "ACME-7",
            new_item("OPS", "From Acme"),
            &synced("Acme"),
        )
        .await
        .unwrap();
    assert!(created);
    assert_eq!(item.key, key("OPS-2"));
    assert_eq!(item.summary, "From Acme");
    assert_eq!(store.item(&key("OPS-2")).await.unwrap(), Some(item.clone()));

    // Created as create_item creates: history and an event naming the sync actor.
    let history = store.history(&key("OPS-2")).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].actor, "sync");
    assert_eq!(history[0].change.field, "created");
    let events = store.events_after(0, 100).await.unwrap();
    assert_eq!(events.len(), before + 1);
    let event = events.last().unwrap();
    assert_eq!(event.item, key("OPS-2"));
    assert_eq!(event.kind, EventKind::ItemCreated);
    assert_eq!(event.via_sync.as_deref(), Some("Acme"));

    // An active twin linking it to the remote key.
    let linked = store.twin_by_remote(acme, "ACME-7").await.unwrap().unwrap();
    assert_eq!(linked.local_key, key("OPS-2"));
    assert_eq!(linked.state, TwinState::Active);
    assert_eq!(linked.created, item.created);
    assert_eq!(linked.last_sync, Some(item.created));
    assert_eq!((linked.last_sent, linked.last_received), (None, None));

    // A retry returns the same item and writes nothing.
    let (again, created) = store
        .create_twinned_item(acme, "ACME-7", new_item("OPS", "Retry"), &synced("Acme"))
        .await
        .unwrap();
    assert!(!created);
    assert_eq!(again, item);
    assert_eq!(store.events_after(0, 100).await.unwrap().len(), before + 1);
    assert_eq!(store.item(&key("OPS-3")).await.unwrap(), None);
    assert_eq!(store.twin_count(acme).await.unwrap(), 1);
}

#[tokio::test]
async fn create_twinned_item_writes_nothing_when_it_fails() {
    let (store, acme, _) = setup(0).await;
    let nobody = Uuid::now_v7();
    let err = store
        .create_twinned_item(nobody, "X-1", new_item("OPS", "x"), &synced("Acme"))
        .await
        .unwrap_err();
    assert_not_found(&err, "connection", &nobody.to_string());
    let err = store
        .create_twinned_item(acme, "X-1", new_item("NOPE", "x"), &synced("Acme"))
        .await
        .unwrap_err();
    assert_not_found(&err, "project", "NOPE");
    let err = store
        .create_twinned_item(acme, "X-1", new_item("OPS", ""), &synced("Acme"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");

    assert_eq!(store.twin_count(acme).await.unwrap(), 0);
    assert!(store.events_after(0, 100).await.unwrap().is_empty());
    assert_eq!(store.projects().await.unwrap()[0].item_count, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_creates_of_one_remote_item_make_one_item() {
    let (store, acme, _) = setup(0).await;
    let tasks: Vec<_> = (0..20)
        .map(|n| {
            let store: Arc<dyn Store> = Arc::clone(&store.store);
            tokio::spawn(async move {
                store
                    .create_twinned_item(
                        acme,
                        "ACME-1",
                        new_item("OPS", &format!("attempt {n}")),
                        &synced("Acme"),
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
    assert_eq!(items[0].key, key("OPS-1"));
    assert_eq!(store.projects().await.unwrap()[0].item_count, 1);
    assert_eq!(store.events_after(0, 100).await.unwrap().len(), 1);
    assert_eq!(store.twin_count(acme).await.unwrap(), 1);
}

// --- comment and attachment twins -------------------------------------------------------------

#[tokio::test]
async fn comment_twins_link_each_id_once() {
    let (store, acme, _) = setup(2).await;
    store.create_twin(twin(acme, "OPS-1", None)).await.unwrap();
    let link = |local_id: i64, remote_id: &str| CommentLink {
        connection_id: acme,
        local_key: key("OPS-1"),
        local_id,
        remote_id: remote_id.into(),
        origin: Side::Remote,
    };
    store.add_comment_twin(link(5, "r5")).await.unwrap();
    // A comment this side wrote, linked to the remote's copy: the origin is kept.
    let own = CommentLink {
        origin: Side::Local,
        ..link(2, "r2")
    };
    store.add_comment_twin(own.clone()).await.unwrap();
    // The same link again changes nothing.
    store.add_comment_twin(link(5, "r5")).await.unwrap();
    assert_eq!(
        store.comment_twins(acme, &key("OPS-1")).await.unwrap(),
        [own.clone(), link(5, "r5")]
    );

    let err = store.add_comment_twin(link(5, "r9")).await.unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        "comment 5 of OPS-1 is already linked to remote comment r5 on connection Acme"
    );
    let err = store.add_comment_twin(link(9, "r5")).await.unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        "remote comment r5 of OPS-1 is already linked to comment 5 on connection Acme"
    );

    // Without a twin of the item there is nothing to link under.
    let err = store
        .add_comment_twin(CommentLink {
            local_key: key("OPS-2"),
            ..link(1, "r1")
        })
        .await
        .unwrap_err();
    assert_not_found(&err, "twin", &format!("OPS-2 on connection {acme}"));

    store
        .delete_comment_twin(acme, &key("OPS-1"), 5)
        .await
        .unwrap();
    assert_eq!(
        store.comment_twins(acme, &key("OPS-1")).await.unwrap(),
        [own]
    );
    // Its remote id is free again.
    store.add_comment_twin(link(9, "r5")).await.unwrap();
    let err = store
        .delete_comment_twin(acme, &key("OPS-1"), 5)
        .await
        .unwrap_err();
    assert_not_found(
        &err,
        "comment twin",
        &format!("5 of OPS-1 on connection {acme}"),
    );
}

#[tokio::test]
async fn attachment_twins_are_kept_apart_from_comment_twins() {
    let (store, acme, _) = setup(1).await;
    store.create_twin(twin(acme, "OPS-1", None)).await.unwrap();
    let attachment = AttachmentLink {
        connection_id: acme,
        local_key: key("OPS-1"),
        local_id: 1,
        remote_id: "x".into(),
        origin: Side::Remote,
    };
    store.add_attachment_twin(attachment.clone()).await.unwrap();
    store.add_attachment_twin(attachment.clone()).await.unwrap();
    // The same ids as a comment link are no clash.
    store
        .add_comment_twin(CommentLink {
            connection_id: acme,
            local_key: key("OPS-1"),
            local_id: 1,
            remote_id: "x".into(),
            origin: Side::Remote,
        })
        .await
        .unwrap();
    let err = store
        .add_attachment_twin(AttachmentLink {
            local_id: 2,
            ..attachment.clone()
        })
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "remote attachment x of OPS-1 is already linked to attachment 1 on connection Acme"
    );
    assert_eq!(
        store.attachment_twins(acme, &key("OPS-1")).await.unwrap(),
        [attachment]
    );

    store
        .delete_attachment_twin(acme, &key("OPS-1"), 1)
        .await
        .unwrap();
    assert!(
        store
            .attachment_twins(acme, &key("OPS-1"))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .comment_twins(acme, &key("OPS-1"))
            .await
            .unwrap()
            .len(),
        1
    );
    let err = store
        .delete_attachment_twin(acme, &key("OPS-1"), 1)
        .await
        .unwrap_err();
    assert_not_found(
        &err,
        "attachment twin",
        &format!("1 of OPS-1 on connection {acme}"),
    );
}

// --- incoming requests --------------------------------------------------------------------------

#[tokio::test]
async fn requests_are_received_only_in_seq_order() {
    let (store, acme, globex) = setup(0).await;
    let before = Timestamp::now();
    // Nothing before the first message, and no message 0.
    assert!(
        !store
            .receive_request(acme, 2, "sync", Some("ACME-1"), "{}")
            .await
            .unwrap()
    );
    assert!(
        !store
            .receive_request(acme, 0, "sync", None, "{}")
            .await
            .unwrap()
    );
    assert!(
        store
            .receive_request(acme, 1, "sync", Some("ACME-1"), "{\"n\":1}")
            .await
            .unwrap()
    );
    assert_eq!(store.inbound_seq(acme).await.unwrap(), 1);
    // A repeat and a gap are refused and stored nowhere.
    assert!(
        !store
            .receive_request(acme, 1, "sync", Some("ACME-1"), "{}")
            .await
            .unwrap()
    );
    assert!(
        !store
            .receive_request(acme, 3, "sync", Some("ACME-1"), "{}")
            .await
            .unwrap()
    );
    assert!(
        store
            .receive_request(acme, 2, "control", None, "{\"n\":2}")
            .await
            .unwrap()
    );
    assert_eq!(store.inbound_seq(acme).await.unwrap(), 2);
    // Each connection counts its own.
    assert!(
        store
            .receive_request(globex, 1, "sync", None, "{}")
            .await
            .unwrap()
    );
    assert_eq!(store.inbound_seq(acme).await.unwrap(), 2);

    let stored = store.requests(Some(acme), &[], 10).await.unwrap();
    assert_eq!(stored.len(), 2);
    let first = &stored[1];
    assert_eq!(
        (first.connection_id, first.seq, first.kind.as_str()),
        (acme, 1, "sync")
    );
    assert_eq!(first.remote_key.as_deref(), Some("ACME-1"));
    assert_eq!(first.payload, "{\"n\":1}");
    assert_eq!((first.state, first.attempts), (RequestState::Pending, 0));
    assert!(first.received.as_millisecond() >= before.as_millisecond());
    assert_eq!(first.updated, first.received);
    assert_eq!(store.request(first.id).await.unwrap().as_ref(), Some(first));
    assert_eq!(stored[0].remote_key, None);
    assert_eq!(store.request(first.id + 100).await.unwrap(), None);

    let nobody = Uuid::now_v7();
    let err = store
        .receive_request(nobody, 1, "sync", None, "{}")
        .await
        .unwrap_err();
    assert_not_found(&err, "connection", &nobody.to_string());
}

#[tokio::test]
async fn receiving_continues_from_a_seq_advanced_elsewhere() {
    let (store, acme, _) = setup(0).await;
    assert!(store.advance_inbound_seq(acme, 5).await.unwrap());
    assert!(
        !store
            .receive_request(acme, 5, "sync", None, "{}")
            .await
            .unwrap()
    );
    assert!(
        store
            .receive_request(acme, 6, "sync", None, "{}")
            .await
            .unwrap()
    );
    assert_eq!(store.inbound_seq(acme).await.unwrap(), 6);
}

/// Receives `(connection, remote key)` requests in order; returns their ids.
async fn receive_all(store: &TestStore, requests: &[(Uuid, Option<&str>)]) -> Vec<i64> {
    for (connection_id, remote_key) in requests {
        let seq = store.inbound_seq(*connection_id).await.unwrap() + 1;
        assert!(
            store
                .receive_request(*connection_id, seq, "sync", *remote_key, "{}")
                .await
                .unwrap()
        );
    }
    let mut ids: Vec<i64> = store
        .requests(None, &[], 100)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    ids.reverse();
    ids
}

async fn runnable(store: &TestStore, limit: u32) -> Vec<i64> {
    store
        .runnable_requests(limit)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect()
}

#[tokio::test]
async fn a_request_waits_for_earlier_open_requests_of_its_remote_item() {
    let (store, acme, globex) = setup(0).await;
    let ids = receive_all(
        &store,
        &[
            (acme, Some("X")),
            (acme, Some("X")),
            (acme, Some("Y")),
            (acme, None),
            (acme, None),
            (globex, Some("X")),
            (acme, Some("X")),
        ],
    )
    .await;
    let [x1, x2, y1, n1, n2, gx1, x3] = ids[..] else {
        panic!("seven requests: {ids:?}")
    };
    // The first of each group: the same key on another connection is another group, and the
    // requests without a key are a group of their own.
    assert_eq!(runnable(&store, 100).await, [x1, y1, n1, gx1]);
    assert_eq!(runnable(&store, 2).await, [x1, y1]);
    assert_eq!(store.pending_request_count(acme).await.unwrap(), 6);
    assert_eq!(store.pending_request_count(globex).await.unwrap(), 1);

    // A failure blocks its group only, and is no longer pending.
    store
        .set_request_state(x1, RequestState::Failed)
        .await
        .unwrap();
    assert_eq!(runnable(&store, 100).await, [y1, n1, gx1]);
    assert_eq!(store.pending_request_count(acme).await.unwrap(), 5);

    store
        .set_request_state(x1, RequestState::Applied)
        .await
        .unwrap();
    store
        .set_request_state(n1, RequestState::Applied)
        .await
        .unwrap();
    assert_eq!(runnable(&store, 100).await, [x2, y1, n2, gx1]);

    // Retrying: a failed request made pending again runs first of its group again.
    store
        .set_request_state(x2, RequestState::Failed)
        .await
        .unwrap();
    store
        .set_request_state(x2, RequestState::Pending)
        .await
        .unwrap();
    assert_eq!(runnable(&store, 100).await, [x2, y1, n2, gx1]);
    for id in [x2, y1, n2, gx1] {
        store
            .set_request_state(id, RequestState::Applied)
            .await
            .unwrap();
    }
    assert_eq!(runnable(&store, 100).await, [x3]);
    store
        .set_request_state(x3, RequestState::Applied)
        .await
        .unwrap();
    assert!(runnable(&store, 100).await.is_empty());
}

#[tokio::test]
async fn only_a_failure_counts_an_attempt() {
    let (store, acme, _) = setup(0).await;
    let [id] = receive_all(&store, &[(acme, Some("X"))]).await[..] else {
        panic!("one request")
    };
    let received = store.request(id).await.unwrap().unwrap().received;
    let store = &store;
    let attempts = |state| async move {
        store.set_request_state(id, state).await.unwrap();
        let r = store.request(id).await.unwrap().unwrap();
        assert_eq!(r.state, state);
        assert!(r.updated >= received);
        r.attempts
    };
    assert_eq!(attempts(RequestState::Failed).await, 1);
    assert_eq!(attempts(RequestState::Failed).await, 2);
    assert_eq!(attempts(RequestState::Pending).await, 2);
    assert_eq!(attempts(RequestState::Applied).await, 2);

    let err = store
        .set_request_state(id + 1, RequestState::Applied)
        .await
        .unwrap_err();
    assert_not_found(&err, "sync request", &(id + 1).to_string());
}

#[tokio::test]
async fn requests_list_newest_first_by_connection_and_state() {
    let (store, acme, globex) = setup(0).await;
    let ids = receive_all(
        &store,
        &[(acme, None), (globex, None), (acme, None), (acme, None)],
    )
    .await;
    let [a1, g1, a2, a3] = ids[..] else {
        panic!("four requests")
    };
    store
        .set_request_state(a1, RequestState::Applied)
        .await
        .unwrap();
    store
        .set_request_state(a2, RequestState::Failed)
        .await
        .unwrap();
    let listed = |connection, states: &'static [RequestState], limit| {
        let store = Arc::clone(&store.store);
        async move {
            store
                .requests(connection, states, limit)
                .await
                .unwrap()
                .into_iter()
                .map(|r| r.id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(listed(None, &[], 100).await, [a3, a2, g1, a1]);
    assert_eq!(listed(None, &[], 2).await, [a3, a2]);
    assert_eq!(listed(Some(acme), &[], 100).await, [a3, a2, a1]);
    assert_eq!(
        listed(Some(acme), &[RequestState::Pending], 100).await,
        [a3]
    );
    assert_eq!(listed(None, &[RequestState::Pending], 100).await, [a3, g1]);
    assert_eq!(
        listed(None, &[RequestState::Applied, RequestState::Failed], 100).await,
        [a2, a1]
    );
    assert!(
        listed(Some(globex), &[RequestState::Failed], 100)
            .await
            .is_empty()
    );
}

// --- sync errors, conflicts, triggers --------------------------------------------------------

pub(crate) fn error(message: &str) -> NewSyncError {
    NewSyncError {
        impact: Impact::Node,
        connection_id: None,
        local_key: None,
        remote_key: None,
        request_id: None,
        message: message.into(),
        script_trace: None,
        remote_error: None,
    }
}

#[tokio::test]
async fn sync_errors_list_newest_first_and_resolve() {
    let (store, acme, _) = setup(1).await;
    let [request] = receive_all(&store, &[(acme, Some("ACME-1"))]).await[..] else {
        panic!("one request")
    };
    let before = Timestamp::now();
    let full = NewSyncError {
        impact: Impact::Item,
        connection_id: Some(acme),
        local_key: Some(key("OPS-1")),
        remote_key: Some("ACME-1".into()),
        request_id: Some(request),
        message: "status Frobbed is not a status".into(),
        script_trace: Some("line 3: issue.status = x\n        ^".into()),
        remote_error: None,
    };
    let first = store.record_sync_error(full.clone()).await.unwrap();
    assert_eq!(
        (first.impact, first.connection_id, first.local_key.clone()),
        (Impact::Item, Some(acme), Some(key("OPS-1")))
    );
    assert_eq!(first.remote_key.as_deref(), Some("ACME-1"));
    assert_eq!(first.request_id, Some(request));
    assert_eq!(first.message, full.message);
    assert_eq!(first.script_trace, full.script_trace);
    assert_eq!(first.resolved, None);
    assert!(first.at.as_millisecond() >= before.as_millisecond());
    assert_eq!(
        store.sync_error(first.id).await.unwrap(),
        Some(first.clone())
    );

    let second = store.record_sync_error(error("second")).await.unwrap();
    let third = store
        .record_sync_error(NewSyncError {
            impact: Impact::Connection,
            connection_id: Some(acme),
            ..error("third")
        })
        .await
        .unwrap();
    let ids = |errors: Vec<tandem_model::SyncError>| -> Vec<i64> {
        errors.into_iter().map(|e| e.id).collect()
    };
    assert_eq!(
        ids(store.sync_errors(false, 100).await.unwrap()),
        [third.id, second.id, first.id]
    );
    assert_eq!(
        ids(store.sync_errors(false, 2).await.unwrap()),
        [third.id, second.id]
    );

    let resolved = store.resolve_sync_error(second.id).await.unwrap();
    let when = resolved.resolved.expect("resolved now");
    assert!(when >= second.at);
    assert_eq!(
        resolved,
        tandem_model::SyncError {
            resolved: Some(when),
            ..second.clone()
        }
    );
    assert_eq!(store.sync_error(second.id).await.unwrap(), Some(resolved));
    assert_eq!(
        ids(store.sync_errors(false, 100).await.unwrap()),
        [third.id, first.id]
    );
    assert_eq!(
        ids(store.sync_errors(true, 100).await.unwrap()),
        [third.id, second.id, first.id]
    );

    let changed = store
        .set_sync_error_message(third.id, "third, again")
        .await
        .unwrap();
    assert_eq!(
        changed,
        tandem_model::SyncError {
            message: "third, again".into(),
            ..third.clone()
        }
    );
    assert_eq!(store.sync_error(third.id).await.unwrap(), Some(changed));

    let missing = third.id + 1;
    let err = store.resolve_sync_error(missing).await.unwrap_err();
    assert_not_found(
        &store
            .set_sync_error_message(missing, "x")
            .await
            .unwrap_err(),
        "sync error",
        &missing.to_string(),
    );
    assert_not_found(&err, "sync error", &missing.to_string());
    assert_eq!(store.sync_error(missing).await.unwrap(), None);
}

#[tokio::test]
async fn a_sync_error_names_a_connection_and_request_that_exist() {
    let (store, _, _) = setup(0).await;
    let nobody = Uuid::now_v7();
    let err = store
        .record_sync_error(NewSyncError {
            connection_id: Some(nobody),
            ..error("x")
        })
        .await
        .unwrap_err();
    assert_not_found(&err, "connection", &nobody.to_string());
    let err = store
        .record_sync_error(NewSyncError {
            request_id: Some(42),
            ..error("x")
        })
        .await
        .unwrap_err();
    assert_not_found(&err, "sync request", "42");
    assert!(store.sync_errors(true, 100).await.unwrap().is_empty());
}

#[tokio::test]
async fn conflicts_are_numbered_timed_and_listed_newest_first_per_item() {
    let (store, acme, globex) = setup(2).await;
    let conflict = |connection_id, local: &str, field: &str| ConflictRecord {
        id: 99,
        connection_id,
        local_key: key(local),
        field: field.into(),
        local_value: "\"ours\"".into(),
        remote_value: "\"theirs\"".into(),
        kept_local: field == "summary",
        at: at(T0),
        restored: None,
    };
    let before = Timestamp::now();
    let a = store
        .record_conflict(conflict(acme, "OPS-1", "summary"))
        .await
        .unwrap();
    assert_ne!(a.id, 99);
    assert!(a.at.as_millisecond() >= before.as_millisecond());
    assert_eq!(
        a,
        ConflictRecord {
            id: a.id,
            at: a.at,
            ..conflict(acme, "OPS-1", "summary")
        }
    );
    let b = store
        .record_conflict(conflict(globex, "OPS-1", "status"))
        .await
        .unwrap();
    let c = store
        .record_conflict(conflict(acme, "OPS-2", "status"))
        .await
        .unwrap();
    assert_ne!(a.id, b.id);

    assert_eq!(store.conflicts(&key("OPS-1")).await.unwrap(), [b, a]);
    assert_eq!(store.conflicts(&key("OPS-2")).await.unwrap(), [c]);
    assert!(store.conflicts(&key("OPS-3")).await.unwrap().is_empty());

    let nobody = Uuid::now_v7();
    let err = store
        .record_conflict(conflict(nobody, "OPS-1", "summary"))
        .await
        .unwrap_err();
    assert_not_found(&err, "connection", &nobody.to_string());
}

#[tokio::test]
async fn a_connections_conflicts_list_newest_first_in_pages_and_a_restore_is_recorded_once() {
    let (store, acme, globex) = setup(3).await;
    let record = |connection_id, local: &str, field: &str| {
        let store = store.store.clone();
        let conflict = ConflictRecord {
            id: 0,
            connection_id,
            local_key: key(local),
            field: field.into(),
            local_value: "\"ours\"".into(),
            remote_value: "\"theirs\"".into(),
            kept_local: false,
            at: at(T0),
            restored: None,
        };
        async move { store.record_conflict(conflict).await.unwrap() }
    };
    let a = record(acme, "OPS-1", "summary").await;
    let other = record(globex, "OPS-1", "summary").await;
    let b = record(acme, "OPS-2", "status").await;
    let c = record(acme, "OPS-3", "priority").await;
    assert_eq!(a.losing_value(), "\"ours\"");

    let first = store.connection_conflicts(acme, None, 2).await.unwrap();
    assert_eq!(first, [c.clone(), b.clone()]);
    let next = store
        .connection_conflicts(acme, Some(first[1].id), 2)
        .await
        .unwrap();
    assert_eq!(next, std::slice::from_ref(&a));
    assert!(
        store
            .connection_conflicts(acme, Some(a.id), 2)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.connection_conflicts(globex, None, 10).await.unwrap(),
        [other]
    );

    let restored = store.mark_conflict_restored(b.id).await.unwrap();
    let when = restored.restored.expect("marked restored");
    assert_eq!(
        restored,
        ConflictRecord {
            restored: Some(when),
            ..b.clone()
        }
    );
    // A second restore keeps the first one's time.
    let again = store.mark_conflict_restored(b.id).await.unwrap();
    assert_eq!(again.restored, Some(when));
    assert_eq!(store.conflict(b.id).await.unwrap(), Some(again));
    assert_eq!(store.conflict(9999).await.unwrap(), None);
    let err = store.mark_conflict_restored(9999).await.unwrap_err();
    assert_not_found(&err, "conflict", "9999");
}

#[tokio::test]
async fn triggers_are_created_listed_updated_and_deleted() {
    let (store, acme, globex) = setup(0).await;
    let before = Timestamp::now();
    let t1 = store
        .create_trigger(acme, "project = OPS", true, "all of OPS")
        .await
        .unwrap();
    assert_eq!(
        (
            t1.connection_id,
            t1.query.as_str(),
            t1.active,
            t1.note.as_str()
        ),
        (acme, "project = OPS", true, "all of OPS")
    );
    assert!(t1.created.as_millisecond() >= before.as_millisecond());
    let t2 = store
        .create_trigger(globex, "labels = acme", false, "")
        .await
        .unwrap();
    let t3 = store
        .create_trigger(acme, "priority = High", true, "")
        .await
        .unwrap();

    assert_eq!(
        store.triggers(None).await.unwrap(),
        [t1.clone(), t2.clone(), t3.clone()]
    );
    assert_eq!(
        store.triggers(Some(acme)).await.unwrap(),
        [t1.clone(), t3.clone()]
    );

    // Query, flag and note change; the connection and the creation time stay.
    let edit = Trigger {
        query: "project = OPS AND status = Done".into(),
        active: false,
        note: "only done".into(),
        connection_id: globex,
        created: at(T0),
        ..t1.clone()
    };
    let updated = store.update_trigger(&edit).await.unwrap();
    let expected = Trigger {
        connection_id: acme,
        created: t1.created,
        ..edit
    };
    assert_eq!(updated, expected);
    assert_eq!(
        store.triggers(Some(acme)).await.unwrap(),
        [expected, t3.clone()]
    );

    store.delete_trigger(t1.id).await.unwrap();
    assert_eq!(
        store.triggers(Some(acme)).await.unwrap(),
        std::slice::from_ref(&t3)
    );
    let err = store.delete_trigger(t1.id).await.unwrap_err();
    assert_not_found(&err, "trigger", &t1.id.to_string());
    let err = store
        .update_trigger(&Trigger {
            id: t1.id,
            ..t3.clone()
        })
        .await
        .unwrap_err();
    assert_not_found(&err, "trigger", &t1.id.to_string());

    let nobody = Uuid::now_v7();
    let err = store
        .create_trigger(nobody, "x", true, "")
        .await
        .unwrap_err();
    assert_not_found(&err, "connection", &nobody.to_string());
    assert_eq!(store.triggers(None).await.unwrap(), [t2, t3]);
}

// --- deleting a connection ----------------------------------------------------------------------

/// Twins with comment and attachment twins, a request, an error, a conflict and a trigger.
async fn fill(store: &TestStore, id: Uuid) {
    store
        .create_twin(twin(id, "OPS-1", Some("R-1")))
        .await
        .unwrap();
    store
        .add_comment_twin(CommentLink {
            connection_id: id,
            local_key: key("OPS-1"),
            local_id: 1,
            remote_id: "c".into(),
            origin: Side::Remote,
        })
        .await
        .unwrap();
    store
        .add_attachment_twin(AttachmentLink {
            connection_id: id,
            local_key: key("OPS-1"),
            local_id: 1,
            remote_id: "a".into(),
            origin: Side::Remote,
        })
        .await
        .unwrap();
    assert!(
        store
            .receive_request(id, 1, "sync", Some("R-1"), "{}")
            .await
            .unwrap()
    );
    let request = store.requests(Some(id), &[], 1).await.unwrap()[0].id;
    store
        .record_sync_error(NewSyncError {
            impact: Impact::Item,
            connection_id: Some(id),
            local_key: Some(key("OPS-1")),
            remote_key: Some("R-1".into()),
            request_id: Some(request),
            message: "failed".into(),
            script_trace: None,
            remote_error: None,
        })
        .await
        .unwrap();
    store
        .record_conflict(ConflictRecord {
            id: 0,
            connection_id: id,
            local_key: key("OPS-1"),
            field: "summary".into(),
            local_value: "1".into(),
            remote_value: "2".into(),
            kept_local: true,
            at: at(T0),
            restored: None,
        })
        .await
        .unwrap();
    store.create_trigger(id, "x", true, "").await.unwrap();
}

#[tokio::test]
async fn deleting_a_connection_deletes_everything_synced_through_it() {
    let (store, acme, globex) = setup(1).await;
    fill(&store, acme).await;
    fill(&store, globex).await;
    let node_error = store.record_sync_error(error("node")).await.unwrap();

    let gone = store.connection(acme).await.unwrap().unwrap();
    store.delete_connection(acme).await.unwrap();
    // The same id starts afresh: nothing of the old connection is left.
    store.create_connection(gone).await.unwrap();
    assert_eq!(store.twin_count(acme).await.unwrap(), 0);
    assert_eq!(store.twin_by_remote(acme, "R-1").await.unwrap(), None);
    assert!(
        store
            .comment_twins(acme, &key("OPS-1"))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .attachment_twins(acme, &key("OPS-1"))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .requests(Some(acme), &[], 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .receive_request(acme, 1, "sync", None, "{}")
            .await
            .unwrap(),
        "the inbound seq starts again"
    );
    assert!(store.triggers(Some(acme)).await.unwrap().is_empty());
    let conflicts = store.conflicts(&key("OPS-1")).await.unwrap();
    assert!(conflicts.iter().all(|c| c.connection_id == globex));
    assert_eq!(conflicts.len(), 1);
    let errors = store.sync_errors(true, 10).await.unwrap();
    let connections: Vec<Option<Uuid>> = errors.iter().map(|e| e.connection_id).collect();
    assert_eq!(connections, [None, Some(globex)]);
    assert_eq!(errors[0], node_error);

    // The other connection keeps its own.
    assert_eq!(store.twin_count(globex).await.unwrap(), 1);
    assert_eq!(
        store
            .comment_twins(globex, &key("OPS-1"))
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        store
            .attachment_twins(globex, &key("OPS-1"))
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        store.requests(Some(globex), &[], 10).await.unwrap().len(),
        1
    );
    assert_eq!(store.triggers(Some(globex)).await.unwrap().len(), 1);
    assert_eq!(store.twins_of_item(&key("OPS-1")).await.unwrap().len(), 1);
    // And the item itself stays: it belongs to the tracker, not to the connection.
    assert!(store.item(&key("OPS-1")).await.unwrap().is_some());
}

// --- bulk jobs ----------------------------------------------------------------------------------

#[tokio::test]
async fn a_bulk_job_stores_its_progress_finishes_once_and_lists_newest_first() {
    use tandem_model::{JobKind, JobProgress, JobState};
    let (store, acme, globex) = setup(0).await;
    let job = store
        .create_bulk_job(JobKind::Exalate, acme, Some(7), 3000)
        .await
        .unwrap();
    assert_eq!(
        (job.kind, job.state, job.trigger_id, job.progress.total),
        (JobKind::Exalate, JobState::Running, Some(7), 3000)
    );
    assert!(!job.cancel_requested && job.finished.is_none());
    let other = store
        .create_bulk_job(JobKind::CleanUp, globex, None, 0)
        .await
        .unwrap();

    let progress = JobProgress {
        done: 500,
        total: 3000,
        failed: 2,
        resume: Some("502".into()),
    };
    let saved = store
        .save_bulk_job_progress(job.id, &progress)
        .await
        .unwrap();
    assert_eq!(saved.progress, progress);
    assert_eq!(store.bulk_job(job.id).await.unwrap().unwrap(), saved);

    let asked = store.request_bulk_job_cancel(job.id).await.unwrap();
    assert!(asked.cancel_requested);
    assert_eq!(asked.state, JobState::Running);

    let end = JobProgress {
        done: 700,
        ..progress.clone()
    };
    let finished = store
        .finish_bulk_job(job.id, JobState::Cancelled, &end, None)
        .await
        .unwrap();
    assert_eq!(finished.state, JobState::Cancelled);
    assert_eq!(finished.progress.done, 700);
    assert!(finished.finished.is_some());
    // A finished job no longer changes: neither progress nor another finish.
    let late = store
        .save_bulk_job_progress(job.id, &progress)
        .await
        .unwrap();
    assert_eq!(late, finished);
    let again = store
        .finish_bulk_job(job.id, JobState::Failed, &end, Some("too late"))
        .await
        .unwrap();
    assert_eq!(again, finished);
    assert!(
        store
            .finish_bulk_job(other.id, JobState::Running, &end, None)
            .await
            .is_err()
    );

    let all: Vec<i64> = store
        .bulk_jobs(None, false, 10)
        .await
        .unwrap()
        .iter()
        .map(|j| j.id)
        .collect();
    assert_eq!(all, [other.id, job.id]);
    let running: Vec<i64> = store
        .bulk_jobs(None, true, 10)
        .await
        .unwrap()
        .iter()
        .map(|j| j.id)
        .collect();
    assert_eq!(running, [other.id]);
    let of_acme = store.bulk_jobs(Some(acme), false, 10).await.unwrap();
    assert_eq!(of_acme, [finished]);

    assert_not_found(
        &store.request_bulk_job_cancel(999).await.unwrap_err(),
        "bulk job",
        "999",
    );
    assert!(store.bulk_job(999).await.unwrap().is_none());
    let nobody = Uuid::now_v7();
    assert_not_found(
        &store
            .create_bulk_job(JobKind::SyncAgain, nobody, None, 0)
            .await
            .unwrap_err(),
        "connection",
        &nobody.to_string(),
    );
    // Deleting the connection forgets its jobs.
    store.delete_connection(globex).await.unwrap();
    assert!(store.bulk_job(other.id).await.unwrap().is_none());
}

#[tokio::test]
async fn errors_the_remote_reported_resolve_per_item_and_open_errors_count_per_connection() {
    let (store, acme, globex) = setup(2).await;
    let reported = |connection: Uuid, item: &str, remote_error: i64| NewSyncError {
        impact: Impact::Item,
        connection_id: Some(connection),
        local_key: Some(key(item)),
        remote_key: None,
        request_id: None,
        message: "the remote could not apply it".into(),
        script_trace: None,
        remote_error: Some(remote_error),
    };
    let first = store
        .record_sync_error(reported(acme, "OPS-1", 7))
        .await
        .unwrap();
    assert_eq!(first.remote_error, Some(7));
    store
        .record_sync_error(reported(globex, "OPS-1", 8))
        .await
        .unwrap();
    store
        .record_sync_error(reported(acme, "OPS-2", 9))
        .await
        .unwrap();
    // This node's own error of the item stays: only reported ones resolve.
    let own = store
        .record_sync_error(NewSyncError {
            remote_error: None,
            ..reported(acme, "OPS-1", 0)
        })
        .await
        .unwrap();
    store.record_sync_error(error("node-wide")).await.unwrap();
    let counts = |all: Vec<(Option<Uuid>, u64)>, id: Option<Uuid>| {
        all.iter().find(|(c, _)| *c == id).map_or(0, |(_, n)| *n)
    };
    let all = store.open_error_counts().await.unwrap();
    assert_eq!(counts(all.clone(), Some(acme)), 3);
    assert_eq!(counts(all.clone(), Some(globex)), 1);
    assert_eq!(counts(all, None), 1);

    assert_eq!(
        store
            .resolve_reported_errors(acme, &key("OPS-1"))
            .await
            .unwrap(),
        1
    );
    let open: Vec<i64> = store
        .sync_errors(false, 100)
        .await
        .unwrap()
        .iter()
        .map(|e| e.id)
        .collect();
    assert!(!open.contains(&first.id), "{open:?}");
    assert!(open.contains(&own.id), "{open:?}");
    let all = store.open_error_counts().await.unwrap();
    assert_eq!(counts(all.clone(), Some(acme)), 2);
    assert_eq!(counts(all, Some(globex)), 1, "another connection's stays");
}
