//! What a node's `/metrics` reads from its store: each connection's queue, twins and open
//! errors counted at the moment of the scrape, and the storage faults counted as they happen.

use jiff::Timestamp;
use tandem_model::{Impact, NewSyncError};
use tandem_store::prelude::*;
use tandem_store::sqlite::{SqliteOptions, SqliteStore};
use tandem_store::{ConnectionGauges, StoreError};

use crate::common::key;
use crate::sync::{error, setup, twin};

#[tokio::test]
async fn sync_gauges_count_each_connections_queue_twins_and_open_errors() {
    let (store, acme, globex) = setup(3).await;
    let empty = store.sync_gauges().await.unwrap();
    assert_eq!(
        empty.connections,
        vec![
            ConnectionGauges {
                connection_id: acme,
                name: "Acme".into(),
                queued: 0,
                oldest_queued: None,
                twins: 0,
                open_errors: 0,
            },
            ConnectionGauges {
                connection_id: globex,
                name: "Globex".into(),
                queued: 0,
                oldest_queued: None,
                twins: 0,
                open_errors: 0,
            },
        ]
    );
    assert_eq!(empty.node_open_errors, 0);

    for local in ["OPS-1", "OPS-2", "OPS-3"] {
        store.create_twin(twin(acme, local, None)).await.unwrap();
    }
    store
        .create_twin(twin(globex, "OPS-1", None))
        .await
        .unwrap();
    let before = Timestamp::now();
    let first = store.enqueue_message(acme, "sync", "{}").await.unwrap();
    store.enqueue_message(acme, "sync", "{}").await.unwrap();
    let after = Timestamp::now();
    let item_error = NewSyncError {
        impact: Impact::Item,
        connection_id: Some(acme),
        local_key: Some(key("OPS-1")),
        ..error("the rules failed")
    };
    store.record_sync_error(item_error.clone()).await.unwrap();
    let resolved = store.record_sync_error(item_error).await.unwrap();
    store.resolve_sync_error(resolved.id).await.unwrap();
    store.record_sync_error(error("node-wide")).await.unwrap();

    let gauges = store.sync_gauges().await.unwrap();
    let [on_acme, on_globex] = &gauges.connections[..] else {
        panic!("two connections: {gauges:?}");
    };
    assert_eq!(
        (on_acme.queued, on_acme.twins, on_acme.open_errors),
        (2, 3, 1)
    );
    let oldest = on_acme.oldest_queued.expect("a queued message has a time");
    // Stored in milliseconds.
    assert!(
        oldest.as_millisecond() >= before.as_millisecond()
            && oldest.as_millisecond() <= after.as_millisecond(),
        "{oldest} outside {before}..{after}"
    );
    assert_eq!(
        (on_globex.queued, on_globex.oldest_queued, on_globex.twins),
        (0, None, 1)
    );
    assert_eq!(gauges.node_open_errors, 1);

    // Acknowledged messages leave the queue, and the count with them.
    store.ack_messages(acme, first + 1).await.unwrap();
    let gauges = store.sync_gauges().await.unwrap();
    assert_eq!(
        (
            gauges.connections[0].queued,
            gauges.connections[0].oldest_queued
        ),
        (0, None)
    );
}

#[tokio::test]
async fn storage_faults_count_database_faults_and_not_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tandem.db");
    let store = SqliteStore::open(&path, SqliteOptions::default()).unwrap();
    // Refusals of what was asked are not faults.
    let missing = store.resolve_sync_error(42).await.unwrap_err();
    assert!(
        matches!(missing, StoreError::NotFound { .. }),
        "{missing:?}"
    );
    assert_eq!(store.storage_faults(), 0);

    // A table the database does not have any more is: every read of it fails in SQLite.
    let raw = rusqlite::Connection::open(&path).unwrap();
    raw.execute_batch("PRAGMA foreign_keys = OFF; DROP TABLE sync_errors;")
        .unwrap();
    drop(raw);
    let fault = store.sync_errors(false, 10).await.unwrap_err();
    assert!(matches!(fault, StoreError::Database(_)), "{fault:?}");
    assert_eq!(store.storage_faults(), 1);
    store.sync_gauges().await.unwrap_err();
    assert_eq!(store.storage_faults(), 2);
}
