//! What only the SQLite backend has: its file, the process lock, WAL mode, clear open errors,
//! and migrations from older schemas.

use rusqlite::Connection;
use tandem_model::{ItemPatch, NewProject};
use tandem_store::StoreError;
use tandem_store::prelude::*;
use tandem_store::sqlite::migrations::{SCHEMA_VERSION, migrate_to_version};
use tandem_store::sqlite::{SqliteOptions, SqliteStore, Synchronous};

use crate::common::{alice, key, new_item, pkey};

fn open_at(path: &std::path::Path) -> Result<SqliteStore, StoreError> {
    SqliteStore::open(path, SqliteOptions::default())
}

fn user_version(path: &std::path::Path) -> i64 {
    Connection::open(path)
        .unwrap()
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap()
}

#[tokio::test]
async fn reopening_keeps_the_data_and_releases_the_lock_on_drop() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tandem.db");
    {
        let store = open_at(&path).unwrap();
        store
            .create_project(NewProject {
                key: pkey("OPS"),
                name: "Operations".into(),
                description: String::new(),
            })
            .await
            .unwrap();
        store
            .create_item(new_item("OPS", "Survives restarts"), &alice())
            .await
            .unwrap();
        store.set_setting("node.id", "n1").await.unwrap();
    }
    let store = open_at(&path).unwrap();
    let item = store.item(&key("OPS-1")).await.unwrap().unwrap();
    assert_eq!(item.summary, "Survives restarts");
    assert_eq!(
        store.setting("node.id").await.unwrap().as_deref(),
        Some("n1")
    );
    // Numbering continues where it stopped.
    let next = store
        .create_item(new_item("OPS", "second"), &alice())
        .await
        .unwrap();
    assert_eq!(next.key, key("OPS-2"));
    store.ping().await.unwrap();
}

#[tokio::test]
async fn a_second_open_of_the_same_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tandem.db");
    let _first = open_at(&path).unwrap();
    let err = open_at(&path).unwrap_err();
    assert!(matches!(err, StoreError::Open { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("another Tandem process"), "{text}");
    assert!(text.contains("tandem.db.lock"), "{text}");
}

#[tokio::test]
async fn the_database_is_in_wal_mode_at_the_current_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tandem.db");
    let options = SqliteOptions {
        synchronous: Synchronous::Normal,
    };
    let store = SqliteStore::open(&path, options).unwrap();
    store.ping().await.unwrap();
    let conn = Connection::open(&path).unwrap();
    let mode: String = conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    assert_eq!(user_version(&path), SCHEMA_VERSION as i64);
}

#[test]
fn open_works_outside_an_async_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_at(&dir.path().join("tandem.db")).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(store.ping()).unwrap();
}

#[test]
fn a_file_that_is_not_a_database_is_an_open_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tandem.db");
    std::fs::write(
        &path,
        "this is a text file, not a database at all. ".repeat(40),
    )
    .unwrap();
    let err = open_at(&path).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, StoreError::Open { .. }), "{err:?}");
    assert!(text.contains("not a SQLite database"), "{text}");
    assert!(text.contains(&path.display().to_string()), "{text}");
}

#[test]
fn a_missing_directory_is_an_open_error() {
    let dir = tempfile::tempdir().unwrap();
    let not_a_dir = dir.path().join("file");
    std::fs::write(&not_a_dir, "x").unwrap();
    let err = open_at(&not_a_dir.join("tandem.db")).unwrap_err();
    assert!(matches!(err, StoreError::Open { .. }), "{err:?}");
    assert!(err.to_string().contains("does not exist"), "{err}");
}

#[test]
fn a_lock_file_that_cannot_be_created_is_an_open_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("tandem.db.lock")).unwrap();
    let err = open_at(&dir.path().join("tandem.db")).unwrap_err();
    assert!(matches!(err, StoreError::Open { .. }), "{err:?}");
    assert!(
        err.to_string().contains("cannot create the lock file"),
        "{err}"
    );
}

#[test]
fn a_directory_in_place_of_the_database_is_an_open_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tandem.db");
    std::fs::create_dir(&path).unwrap();
    let err = open_at(&path).unwrap_err();
    assert!(matches!(err, StoreError::Open { .. }), "{err:?}");
    assert!(err.to_string().contains("is a directory"), "{err}");
}

#[test]
fn a_database_from_a_newer_tandem_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tandem.db");
    drop(open_at(&path).unwrap());
    Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", SCHEMA_VERSION as i64 + 1)
        .unwrap();
    let err = open_at(&path).unwrap_err();
    assert!(matches!(err, StoreError::Migration { .. }), "{err:?}");
    assert!(
        err.to_string().contains("written by a newer Tandem"),
        "{err}"
    );
}

/// A database as the first release left it (schema version 1, data written by hand) opens,
/// migrates and reads back.
#[tokio::test]
async fn a_database_at_schema_version_1_is_migrated_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tandem.db");
    {
        let mut conn = Connection::open(&path).unwrap();
        migrate_to_version(&mut conn, 1).unwrap();
        conn.execute_batch(
            "INSERT INTO projects (key, name, description, created, item_count)
                 VALUES ('OPS', 'Operations', '', 1700000000000, 1);
             INSERT INTO items (project, number, summary, description, status, priority,
                 labels, custom_fields, created, updated, version)
                 VALUES ('OPS', 1, 'From the old days', '', 'Done', 4, '[\"legacy\"]',
                 '{\"Tier\": \"Gold\"}', 1700000000000, 1700000000000, 1);
             INSERT INTO settings (key, value) VALUES ('node.id', 'old');",
        )
        .unwrap();
    }
    assert_eq!(user_version(&path), 1);

    let store = open_at(&path).unwrap();
    assert_eq!(user_version(&path), SCHEMA_VERSION as i64);
    let item = store.item(&key("OPS-1")).await.unwrap().unwrap();
    assert_eq!(item.summary, "From the old days");
    assert_eq!(item.labels, ["legacy"]);
    assert_eq!(item.priority, tandem_model::Priority::High);
    assert_eq!(item.created.as_millisecond(), 1_700_000_000_000);
    assert_eq!(
        store.setting("node.id").await.unwrap().as_deref(),
        Some("old")
    );
    let updated = store
        .update_item(
            &key("OPS-1"),
            ItemPatch {
                summary: Some("Still here".into()),
                ..ItemPatch::default()
            },
            &alice(),
        )
        .await
        .unwrap();
    assert_eq!(updated.version, 2);
    let next = store
        .create_item(new_item("OPS", "new"), &alice())
        .await
        .unwrap();
    assert_eq!(next.key, key("OPS-2"));
}

#[tokio::test]
async fn dropping_the_store_frees_the_file_for_the_next_open() {
    // Dropping the store waits for the writer to finish, so another open right after works.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tandem.db");
    for round in 0..3 {
        let store = open_at(&path).unwrap();
        store
            .set_setting("round", &round.to_string())
            .await
            .unwrap();
    }
    let store = open_at(&path).unwrap();
    assert_eq!(store.setting("round").await.unwrap().as_deref(), Some("2"));
}

/// A connection row damaged outside Tandem (a hand edit, a bad restore) is a clear database
/// error naming the connection and the value, on every read that meets it; never a panic.
#[tokio::test]
async fn a_damaged_connection_row_is_a_clear_database_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tandem.db");
    let now = jiff::Timestamp::from_millisecond(1_700_000_000_000).unwrap();
    let connection = tandem_model::Connection {
        id: uuid::Uuid::now_v7(),
        name: "Acme".into(),
        description: String::new(),
        mode: tandem_model::Mode::Basic,
        role: tandem_model::ConnectionRole::Local,
        local_short_name: "a".into(),
        remote_short_name: "b".into(),
        remote: None,
        private: false,
        status: tandem_model::ConnectionStatus::Active,
        status_reason: None,
        remote_paused: false,
        invitation: None,
        sealed_root: None,
        outgoing_script: String::new(),
        incoming_script: String::new(),
        target_project: None,
        created: now,
        updated: now,
        last_sync: None,
        version: 1,
    };
    let id = connection.id;
    {
        let store = open_at(&path).unwrap();
        store.create_connection(connection).await.unwrap();
    }

    let damage = |sql: &str| {
        Connection::open(&path).unwrap().execute(sql, []).unwrap();
    };
    let expect_damaged = |err: StoreError, what: &str| {
        assert!(matches!(err, StoreError::Database(_)), "{err:?}");
        let text = err.to_string();
        assert!(
            text.contains("connection") && text.contains("Acme"),
            "{text}"
        );
        assert!(text.contains(what), "{text}");
    };

    damage("UPDATE connections SET mode = 'turbo'");
    {
        let store = open_at(&path).unwrap();
        expect_damaged(
            store.connection(id).await.unwrap_err(),
            "unknown mode \"turbo\"",
        );
        expect_damaged(
            store.connections().await.unwrap_err(),
            "unknown mode \"turbo\"",
        );
        expect_damaged(
            store.connection_by_name("acme").await.unwrap_err(),
            "unknown mode \"turbo\"",
        );
    }

    damage("UPDATE connections SET mode = 'basic', id = 'not-a-uuid'");
    {
        let store = open_at(&path).unwrap();
        expect_damaged(
            store.connections().await.unwrap_err(),
            "id \"not-a-uuid\" is not a uuid",
        );
    }

    damage("UPDATE connections SET id = lower(hex(randomblob(16))), remote_name = 'half a remote'");
    {
        let store = open_at(&path).unwrap();
        expect_damaged(
            store.connection_by_name("Acme").await.unwrap_err(),
            "remote node",
        );
    }
}

/// Sync rows damaged outside Tandem are clear database errors naming the row, like connections.
#[tokio::test]
async fn damaged_sync_rows_are_clear_database_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tandem.db");
    let now = jiff::Timestamp::from_millisecond(1_700_000_000_000).unwrap();
    let id = uuid::Uuid::now_v7();
    {
        let store = open_at(&path).unwrap();
        store
            .create_project(NewProject {
                key: pkey("OPS"),
                name: "Ops".into(),
                description: String::new(),
            })
            .await
            .unwrap();
        store
            .create_item(new_item("OPS", "one"), &alice())
            .await
            .unwrap();
        store
            .create_connection(tandem_model::Connection {
                id,
                name: "Acme".into(),
                description: String::new(),
                mode: tandem_model::Mode::Basic,
                role: tandem_model::ConnectionRole::Local,
                local_short_name: "a".into(),
                remote_short_name: "b".into(),
                remote: None,
                private: false,
                status: tandem_model::ConnectionStatus::Active,
                status_reason: None,
                remote_paused: false,
                invitation: None,
                sealed_root: None,
                outgoing_script: String::new(),
                incoming_script: String::new(),
                target_project: None,
                created: now,
                updated: now,
                last_sync: None,
                version: 1,
            })
            .await
            .unwrap();
        store
            .create_twin(tandem_model::Twin {
                connection_id: id,
                local_key: key("OPS-1"),
                remote_key: Some("R-1".into()),
                state: tandem_model::TwinState::Active,
                last_sent: None,
                last_received: None,
                created: now,
                last_sync: None,
                clock: Default::default(),
                leads: false,
                remote_display_key: None,
                display_key_sent: None,
            })
            .await
            .unwrap();
        assert!(
            store
                .receive_request(id, 1, "sync", None, "{}")
                .await
                .unwrap()
        );
        store.create_trigger(id, "x", true, "").await.unwrap();
    }
    let damage = |sql: &str| {
        Connection::open(&path).unwrap().execute(sql, []).unwrap();
    };
    damage("UPDATE twins SET state = 'paused'");
    damage("UPDATE sync_requests SET attempts = -1");
    damage("UPDATE triggers SET created = 9223372036854775807");
    let store = open_at(&path).unwrap();
    let expect = |err: StoreError, row: &str, what: &str| {
        assert!(matches!(err, StoreError::Database(_)), "{err:?}");
        let text = err.to_string();
        assert!(text.contains(row) && text.contains(what), "{text}");
    };
    expect(
        store.twin(id, &key("OPS-1")).await.unwrap_err(),
        "twin OPS-1 of connection",
        "unknown state \"paused\"",
    );
    expect(
        store.twins(id, None, 10).await.unwrap_err(),
        "twin OPS-1",
        "unknown state",
    );
    expect(
        store.runnable_requests(10).await.unwrap_err(),
        "sync request 1 (seq 1",
        "attempts -1 is not a count",
    );
    expect(
        store.triggers(None).await.unwrap_err(),
        "trigger 1 of connection",
        "is not a time",
    );
}
