//! Helpers shared by the store tests: a fresh store in a temporary directory, and short ways
//! to name keys, actors and new items.

use std::sync::Arc;

use tandem_model::{Actor, ItemKey, NewItem, NewProject, ProjectKey};
use tandem_store::Store;
use tandem_store::sqlite::{SqliteOptions, SqliteStore, Synchronous};
use tempfile::TempDir;

/// A store and the directory that holds it (deleted when dropped).
pub struct TestStore {
    pub store: Arc<dyn Store>,
    /// Kept alive so that the database outlives the test.
    _dir: TempDir,
}

impl std::ops::Deref for TestStore {
    type Target = dyn Store;
    fn deref(&self) -> &Self::Target {
        &*self.store
    }
}

/// A fresh, empty store. `synchronous=NORMAL` keeps the suite quick; durability is not what
/// these tests check.
pub fn open() -> TestStore {
    let dir = tempfile::tempdir().expect("temporary directory");
    let options = SqliteOptions {
        synchronous: Synchronous::Normal,
    };
    let store = SqliteStore::open(&dir.path().join("tandem.db"), options).expect("open store");
    TestStore {
        store: Arc::new(store),
        _dir: dir,
    }
}

pub fn key(text: &str) -> ItemKey {
    text.parse().expect("valid item key")
}

pub fn pkey(text: &str) -> ProjectKey {
    text.parse().expect("valid project key")
}

pub fn alice() -> Actor {
    Actor::user("alice")
}

pub fn new_item(project: &str, summary: &str) -> NewItem {
    NewItem::new(pkey(project), summary)
}

/// A store with project OPS.
pub async fn with_project() -> TestStore {
    let store = open();
    store
        .create_project(NewProject {
            key: pkey("OPS"),
            name: "Operations".into(),
            description: String::new(),
        })
        .await
        .expect("create project OPS");
    store
}

/// A store with project OPS and item OPS-1.
pub async fn with_item() -> TestStore {
    let store = with_project().await;
    store
        .create_item(new_item("OPS", "Printer on fire"), &alice())
        .await
        .expect("create OPS-1");
    store
}
