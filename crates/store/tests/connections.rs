//! Connections and what the node-to-node protocol keeps for each: queued messages, the last
//! message received, and request nonces.

use std::sync::Arc;

use jiff::Timestamp;
use tandem_model::{
    Connection, ConnectionRole, ConnectionStatus, InvitationState, Mode, RemoteNode, Scope,
};
use tandem_store::{Store, StoreError};
use uuid::Uuid;

use crate::common::open;

fn at(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap()
}

const T0: i64 = 1_700_000_000_000;

/// A pending local connection with nothing optional set.
fn bare(name: &str) -> Connection {
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
        status: ConnectionStatus::Pending,
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

/// A connection with every optional field set, and no field at its default.
fn full(name: &str) -> Connection {
    Connection {
        id: Uuid::now_v7(),
        name: name.into(),
        description: "Tickets from Acme's service desk".into(),
        mode: Mode::Script,
        role: ConnectionRole::Initiator,
        local_short_name: "tandem-ops".into(),
        remote_short_name: "acme-sd".into(),
        remote: Some(RemoteNode {
            node_id: Uuid::now_v7(),
            name: "Acme service desk".into(),
            url: Some("https://tandem.acme.example".into()),
            tracker: "servicenow".into(),
            public_key: "bm90LWEtcmVhbC1rZXk".into(),
        }),
        private: true,
        status: ConnectionStatus::Error,
        status_reason: Some("the remote refused our signature".into()),
        remote_paused: true,
        invitation: Some(InvitationState {
            expires: at(T0 + 86_400_000),
            used: Some(at(T0 + 3_600_000)),
        }),
        sealed_root: Some("c2VhbGVk".into()),
        outgoing_script: "replica.summary = issue.summary".into(),
        incoming_script: "issue.summary = replica.summary".into(),
        target_project: None,
        created: at(T0 + 1),
        updated: at(T0 + 2),
        last_sync: Some(at(T0 + 3)),
        version: 1,
    }
}

/// The connection as the store should give it back: as written, at version 1.
fn stored(c: &Connection) -> Connection {
    Connection {
        version: 1,
        ..c.clone()
    }
}

fn assert_not_found(err: &StoreError, id: Uuid) {
    assert!(
        matches!(err, StoreError::NotFound { what: "connection", key } if *key == id.to_string()),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_created_connection_reads_back_every_field() {
    let store = open();
    // An acceptor whose remote is private (no URL) and an invitation not yet used: the
    // optional fields inside the optional ones.
    let mut acceptor = full("Half");
    acceptor.role = ConnectionRole::Acceptor;
    acceptor.remote.as_mut().unwrap().url = None;
    acceptor.invitation.as_mut().unwrap().used = None;
    acceptor.status = ConnectionStatus::Deactivated;

    for mut c in [full("Everything"), bare("Nothing"), acceptor] {
        // The version passed in is ignored.
        c.version = 42;
        let created = store.create_connection(c.clone()).await.unwrap();
        assert_eq!(created, stored(&c));
        assert_eq!(store.connection(c.id).await.unwrap(), Some(stored(&c)));
        assert_eq!(
            store.connection_by_name(&c.name).await.unwrap(),
            Some(stored(&c))
        );
    }
    assert_eq!(store.connections().await.unwrap().len(), 3);
}

#[tokio::test]
async fn a_scope_is_kept_per_connection_replaced_removed_and_deleted_with_it() {
    let store = open();
    let c = store.create_connection(bare("Scoped")).await.unwrap();
    let other = store.create_connection(bare("Other")).await.unwrap();
    assert_eq!(store.connection_scope(c.id).await.unwrap(), None);
    let projects = Scope::Projects(vec!["ENG".into(), "incident".into()]);
    store
        .set_connection_scope(c.id, Some(&projects))
        .await
        .unwrap();
    assert_eq!(store.connection_scope(c.id).await.unwrap(), Some(projects));
    assert_eq!(store.connection_scope(other.id).await.unwrap(), None);
    let query = Scope::Query("project = ENG AND labels = shared".into());
    store
        .set_connection_scope(c.id, Some(&query))
        .await
        .unwrap();
    assert_eq!(store.connection_scope(c.id).await.unwrap(), Some(query));
    store.set_connection_scope(c.id, None).await.unwrap();
    assert_eq!(store.connection_scope(c.id).await.unwrap(), None);

    store
        .set_connection_scope(other.id, Some(&Scope::Query("project = OPS".into())))
        .await
        .unwrap();
    store.delete_connection(other.id).await.unwrap();
    assert!(matches!(
        store.connection_scope(other.id).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.set_connection_scope(Uuid::now_v7(), None).await,
        Err(StoreError::NotFound { .. })
    ));
}

#[tokio::test]
async fn unknown_connections_are_none() {
    let store = open();
    store.create_connection(bare("Acme")).await.unwrap();
    assert_eq!(store.connection(Uuid::now_v7()).await.unwrap(), None);
    assert_eq!(store.connection_by_name("Acme Corp").await.unwrap(), None);
}

#[tokio::test]
async fn names_are_unique_and_found_whatever_their_case() {
    let store = open();
    let acme = store.create_connection(bare("Acme")).await.unwrap();

    let err = store.create_connection(bare("ACME")).await.unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists(_)), "{err:?}");
    assert_eq!(err.to_string(), "a connection named Acme already exists");

    assert_eq!(
        store.connection_by_name("aCmE").await.unwrap(),
        Some(acme.clone())
    );
    assert_eq!(store.connections().await.unwrap(), [acme]);
}

#[tokio::test]
async fn a_taken_id_is_refused() {
    let store = open();
    let first = store.create_connection(bare("Acme")).await.unwrap();
    let again = Connection {
        id: first.id,
        ..bare("Globex")
    };
    let err = store.create_connection(again).await.unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!("a connection with id {} already exists", first.id)
    );
    assert_eq!(store.connections().await.unwrap(), [first]);
    assert_eq!(store.connection_by_name("Globex").await.unwrap(), None);
}

#[tokio::test]
async fn connections_are_listed_oldest_first() {
    let store = open();
    for (name, created) in [("Zeta", T0 + 20), ("Alpha", T0 + 30), ("Mid", T0 + 10)] {
        let mut c = bare(name);
        c.created = at(created);
        store.create_connection(c).await.unwrap();
    }
    let names: Vec<String> = store
        .connections()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["Mid", "Zeta", "Alpha"]);
}

#[tokio::test]
async fn an_update_replaces_the_fields_and_bumps_the_version() {
    let store = open();
    let original = store.create_connection(bare("Acme")).await.unwrap();

    let mut edit = full("Acme Corp");
    edit.id = original.id;
    edit.version = original.version;
    // `created` is kept as it was, whatever the update says.
    edit.created = at(T0 + 999);
    let updated = store.update_connection(&edit).await.unwrap();
    let expected = Connection {
        created: original.created,
        version: 2,
        ..edit.clone()
    };
    assert_eq!(updated, expected);
    assert_eq!(store.connection(original.id).await.unwrap(), Some(expected));
    assert_eq!(store.connection_by_name("Acme").await.unwrap(), None);

    // And back to nothing optional: every field is replaced, NULLs included.
    let mut back = bare("acme");
    back.id = original.id;
    back.version = 2;
    let updated = store.update_connection(&back).await.unwrap();
    assert_eq!(updated, Connection { version: 3, ..back });
    assert_eq!(store.connection(original.id).await.unwrap(), Some(updated));
}

#[tokio::test]
async fn an_update_from_a_stale_version_is_changed() {
    let store = open();
    let read = store.create_connection(bare("Acme")).await.unwrap();

    let mut first = read.clone();
    first.status = ConnectionStatus::Active;
    let first = store.update_connection(&first).await.unwrap();
    assert_eq!(first.version, 2);

    // A second edit of what was read at version 1 must not overwrite the first.
    let mut second = read.clone();
    second.description = "lost update".into();
    let err = store.update_connection(&second).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::Changed { what: "connection", key } if key == "Acme"),
        "{err:?}"
    );
    assert_eq!(store.connection(read.id).await.unwrap(), Some(first));
}

#[tokio::test]
async fn renaming_to_a_taken_name_is_already_exists() {
    let store = open();
    store.create_connection(bare("Acme")).await.unwrap();
    let globex = store.create_connection(bare("Globex")).await.unwrap();

    let mut rename = globex.clone();
    rename.name = "acme".into();
    let err = store.update_connection(&rename).await.unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists(_)), "{err:?}");
    assert_eq!(err.to_string(), "a connection named Acme already exists");
    assert_eq!(
        store.connection(globex.id).await.unwrap(),
        Some(globex.clone())
    );

    // Its own name in another case is no clash.
    let mut recase = globex;
    recase.name = "GLOBEX".into();
    let updated = store.update_connection(&recase).await.unwrap();
    assert_eq!(updated.name, "GLOBEX");
    assert_eq!(updated.version, 2);
}

#[tokio::test]
async fn updating_or_deleting_a_deleted_connection_is_not_found() {
    let store = open();
    let acme = store.create_connection(bare("Acme")).await.unwrap();
    store.delete_connection(acme.id).await.unwrap();
    assert_eq!(store.connection(acme.id).await.unwrap(), None);
    assert!(store.connections().await.unwrap().is_empty());

    let err = store.update_connection(&acme).await.unwrap_err();
    assert_not_found(&err, acme.id);
    let err = store.delete_connection(acme.id).await.unwrap_err();
    assert_not_found(&err, acme.id);
}

#[tokio::test]
async fn deleting_a_connection_forgets_its_messages_sequence_and_nonces() {
    let store = open();
    let acme = store.create_connection(bare("Acme")).await.unwrap();
    let globex = store.create_connection(bare("Globex")).await.unwrap();
    for id in [acme.id, globex.id] {
        store.enqueue_message(id, "control", "{}").await.unwrap();
        store.enqueue_message(id, "control", "{}").await.unwrap();
        assert!(store.advance_inbound_seq(id, 5).await.unwrap());
        assert!(
            store
                .remember_nonce(id, "n1", at(T0 + 60_000), at(T0))
                .await
                .unwrap()
        );
    }

    store.delete_connection(acme.id).await.unwrap();
    // Gone with it: the same id starts afresh.
    store.create_connection(acme.clone()).await.unwrap();
    assert_eq!(store.inbound_seq(acme.id).await.unwrap(), 0);
    assert!(
        store
            .outbound_messages(acme.id, 0, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .enqueue_message(acme.id, "control", "{}")
            .await
            .unwrap(),
        1
    );
    assert!(
        store
            .remember_nonce(acme.id, "n1", at(T0 + 60_000), at(T0))
            .await
            .unwrap()
    );

    // The other connection keeps its own.
    assert_eq!(store.inbound_seq(globex.id).await.unwrap(), 5);
    assert_eq!(
        store
            .outbound_messages(globex.id, 0, 10)
            .await
            .unwrap()
            .len(),
        2
    );
    assert!(
        !store
            .remember_nonce(globex.id, "n1", at(T0 + 60_000), at(T0))
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn messages_are_numbered_from_1_per_connection() {
    let store = open();
    let acme = store.create_connection(bare("Acme")).await.unwrap().id;
    let globex = store.create_connection(bare("Globex")).await.unwrap().id;
    for expected in 1..=3 {
        assert_eq!(
            store.enqueue_message(acme, "control", "{}").await.unwrap(),
            expected
        );
    }
    assert_eq!(
        store
            .enqueue_message(globex, "control", "{}")
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store.enqueue_message(acme, "control", "{}").await.unwrap(),
        4
    );
}

#[tokio::test]
async fn numbering_continues_after_everything_was_acknowledged() {
    // The remote has handled 1 and 2: a new message numbered 1 again would look old to it.
    let store = open();
    let acme = store.create_connection(bare("Acme")).await.unwrap().id;
    assert_eq!(store.outbound_seq(acme).await.unwrap(), 0);
    store.enqueue_message(acme, "control", "{}").await.unwrap();
    store.enqueue_message(acme, "control", "{}").await.unwrap();
    store.ack_messages(acme, 2).await.unwrap();
    assert_eq!(
        store.outbound_seq(acme).await.unwrap(),
        2,
        "acknowledged still counts"
    );
    assert!(
        store
            .outbound_messages(acme, 0, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.enqueue_message(acme, "control", "{}").await.unwrap(),
        3
    );
}

#[tokio::test]
async fn outbound_messages_page_by_seq() {
    let store = open();
    let acme = store.create_connection(bare("Acme")).await.unwrap().id;
    let globex = store.create_connection(bare("Globex")).await.unwrap().id;
    let before = Timestamp::now();
    for n in 1..=5 {
        store
            .enqueue_message(acme, "sync", &format!("{{\"n\":{n}}}"))
            .await
            .unwrap();
    }
    store
        .enqueue_message(globex, "control", "{}")
        .await
        .unwrap();
    let after = Timestamp::now();

    let page = store.outbound_messages(acme, 0, 2).await.unwrap();
    let seqs: Vec<i64> = page.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, [1, 2]);
    let first = &page[0];
    assert_eq!(first.connection_id, acme);
    assert_eq!(first.kind, "sync");
    assert_eq!(first.payload, "{\"n\":1}");
    // Stamped when queued, to the millisecond.
    assert!(
        first.created.as_millisecond() >= before.as_millisecond() && first.created <= after,
        "{first:?}"
    );
    assert_eq!(first.created.subsec_nanosecond() % 1_000_000, 0);

    let rest = store.outbound_messages(acme, 2, 100).await.unwrap();
    let seqs: Vec<i64> = rest.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, [3, 4, 5]);
    assert_eq!(rest[2].payload, "{\"n\":5}");
    assert!(
        store
            .outbound_messages(acme, 5, 100)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .outbound_messages(acme, 0, 0)
            .await
            .unwrap()
            .is_empty()
    );

    let other = store.outbound_messages(globex, 0, 100).await.unwrap();
    assert_eq!(other.len(), 1);
    assert_eq!((other[0].seq, other[0].kind.as_str()), (1, "control"));
}

#[tokio::test]
async fn acknowledged_messages_are_dropped() {
    let store = open();
    let acme = store.create_connection(bare("Acme")).await.unwrap().id;
    let globex = store.create_connection(bare("Globex")).await.unwrap().id;
    for _ in 0..5 {
        store.enqueue_message(acme, "sync", "{}").await.unwrap();
        store.enqueue_message(globex, "sync", "{}").await.unwrap();
    }
    let seqs = |messages: Vec<tandem_store::OutboundMessage>| -> Vec<i64> {
        messages.into_iter().map(|m| m.seq).collect()
    };

    store.ack_messages(acme, 2).await.unwrap();
    assert_eq!(
        seqs(store.outbound_messages(acme, 0, 100).await.unwrap()),
        [3, 4, 5]
    );
    // Again: nothing more goes.
    store.ack_messages(acme, 2).await.unwrap();
    assert_eq!(
        seqs(store.outbound_messages(acme, 0, 100).await.unwrap()),
        [3, 4, 5]
    );
    // The other connection's queue is its own.
    assert_eq!(
        seqs(store.outbound_messages(globex, 0, 100).await.unwrap()),
        [1, 2, 3, 4, 5]
    );
    store.ack_messages(acme, 5).await.unwrap();
    assert!(
        store
            .outbound_messages(acme, 0, 100)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn messages_for_an_unknown_connection_are_not_found() {
    let store = open();
    let nobody = Uuid::now_v7();
    let err = store
        .enqueue_message(nobody, "control", "{}")
        .await
        .unwrap_err();
    assert_not_found(&err, nobody);
    let err = store.advance_inbound_seq(nobody, 1).await.unwrap_err();
    assert_not_found(&err, nobody);
    let err = store
        .remember_nonce(nobody, "n", at(T0 + 1), at(T0))
        .await
        .unwrap_err();
    assert_not_found(&err, nobody);
    // Reads of an unknown connection find nothing.
    assert!(
        store
            .outbound_messages(nobody, 0, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.inbound_seq(nobody).await.unwrap(), 0);
}

#[tokio::test]
async fn the_inbound_seq_only_moves_forward() {
    let store = open();
    let acme = store.create_connection(bare("Acme")).await.unwrap().id;
    let globex = store.create_connection(bare("Globex")).await.unwrap().id;
    assert_eq!(store.inbound_seq(acme).await.unwrap(), 0);
    // Nothing was received before the first message.
    assert!(!store.advance_inbound_seq(acme, 0).await.unwrap());
    assert_eq!(store.inbound_seq(acme).await.unwrap(), 0);

    assert!(store.advance_inbound_seq(acme, 1).await.unwrap());
    assert_eq!(store.inbound_seq(acme).await.unwrap(), 1);
    // The same message again, and an older one, are refused.
    assert!(!store.advance_inbound_seq(acme, 1).await.unwrap());
    assert!(store.advance_inbound_seq(acme, 4).await.unwrap());
    assert!(!store.advance_inbound_seq(acme, 3).await.unwrap());
    assert_eq!(store.inbound_seq(acme).await.unwrap(), 4);

    assert_eq!(store.inbound_seq(globex).await.unwrap(), 0);
    assert!(store.advance_inbound_seq(globex, 2).await.unwrap());
    assert_eq!(store.inbound_seq(globex).await.unwrap(), 2);
    assert_eq!(store.inbound_seq(acme).await.unwrap(), 4);
}

#[tokio::test]
async fn a_nonce_is_refused_until_it_expires() {
    let store = open();
    let acme = store.create_connection(bare("Acme")).await.unwrap().id;
    let globex = store.create_connection(bare("Globex")).await.unwrap().id;
    let expires = at(T0 + 300_000);

    assert!(
        store
            .remember_nonce(acme, "n1", expires, at(T0))
            .await
            .unwrap()
    );
    // A replay, however late, as long as the nonce is live.
    assert!(
        !store
            .remember_nonce(acme, "n1", expires, at(T0 + 1))
            .await
            .unwrap()
    );
    assert!(
        !store
            .remember_nonce(acme, "n1", expires, at(T0 + 299_999))
            .await
            .unwrap()
    );
    // Another connection's nonces are its own; other nonces are new.
    assert!(
        store
            .remember_nonce(globex, "n1", expires, at(T0))
            .await
            .unwrap()
    );
    assert!(
        store
            .remember_nonce(acme, "n2", expires, at(T0))
            .await
            .unwrap()
    );

    // Once expired (at its expiry time) the nonce is new again, until its new expiry.
    let later = at(T0 + 600_000);
    assert!(
        store
            .remember_nonce(acme, "n1", later, expires)
            .await
            .unwrap()
    );
    assert!(
        !store
            .remember_nonce(acme, "n1", later, at(T0 + 599_999))
            .await
            .unwrap()
    );
    // globex's n1 expired too, and was swept; it is new again as well.
    assert!(
        store
            .remember_nonce(globex, "n1", later, at(T0 + 300_001))
            .await
            .unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_messages_get_distinct_seqs_and_one_nonce_use_wins() {
    let store = open();
    let acme = store.create_connection(bare("Acme")).await.unwrap().id;
    let store: Arc<dyn Store> = Arc::clone(&store.store);

    let mut tasks = Vec::new();
    for n in 0..20 {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let seq = store
                .enqueue_message(acme, "sync", &n.to_string())
                .await
                .unwrap();
            let fresh = store
                .remember_nonce(acme, "same", at(T0 + 60_000), at(T0))
                .await
                .unwrap();
            (seq, fresh)
        }));
    }
    let mut seqs = Vec::new();
    let mut fresh = 0;
    for task in tasks {
        let (seq, was_fresh) = task.await.unwrap();
        seqs.push(seq);
        fresh += usize::from(was_fresh);
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=20).collect::<Vec<i64>>());
    assert_eq!(fresh, 1);
    assert_eq!(
        store.outbound_messages(acme, 0, 100).await.unwrap().len(),
        20
    );
}

#[tokio::test]
async fn an_accept_proof_is_taken_once_and_repeats_must_describe_the_acceptor_alike() {
    use tandem_store::AcceptanceRecord::{OtherDescriptor, ProofSeen, Recorded};
    let store = open();
    let acme = store.create_connection(bare("Acme")).await.unwrap();
    let globex = store.create_connection(bare("Globex")).await.unwrap();
    let record = |id, proof: u8, descriptor: u8| {
        let store = &store;
        async move {
            store
                .record_acceptance(id, [proof; 32], [descriptor; 32], at(T0))
                .await
                .unwrap()
        }
    };
    assert_eq!(record(acme.id, 1, 10).await, Recorded);
    assert_eq!(
        record(acme.id, 1, 10).await,
        ProofSeen,
        "the same proof again"
    );
    assert_eq!(
        record(acme.id, 2, 10).await,
        Recorded,
        "a repeat, described alike"
    );
    assert_eq!(
        record(acme.id, 3, 11).await,
        OtherDescriptor,
        "described otherwise"
    );
    assert_eq!(
        record(acme.id, 3, 10).await,
        Recorded,
        "the refused one left no trace"
    );
    // Each connection has its own.
    assert_eq!(record(globex.id, 1, 11).await, Recorded);

    // Deleting the connection forgets them.
    store.delete_connection(acme.id).await.unwrap();
    assert!(matches!(
        store
            .record_acceptance(acme.id, [1; 32], [10; 32], at(T0))
            .await,
        Err(tandem_store::StoreError::NotFound { .. })
    ));
    store.create_connection(acme.clone()).await.unwrap();
    assert_eq!(record(acme.id, 1, 11).await, Recorded);
}
