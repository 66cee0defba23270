//! Measures item creations per second on a fresh SQLite store, for both `synchronous` modes,
//! one writer task at a time and many at once (where group commit shares the fsyncs).
//!
//! ```text
//! cargo run --release -p tandem-store --example create_rate [items] [full|normal]
//! ```

use std::sync::Arc;
use std::time::Instant;

use tandem_model::{Actor, NewItem, NewProject};
use tandem_store::prelude::*;
use tandem_store::sqlite::{SqliteOptions, SqliteStore, Synchronous};

const TASKS: usize = 16;

async fn rate(synchronous: Synchronous, items: usize, tasks: usize) -> f64 {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&dir.path().join("bench.db"), SqliteOptions { synchronous })
            .expect("open store"),
    );
    let project = "OPS".parse().expect("valid key");
    store
        .create_project(NewProject {
            key: project,
            name: "Operations".into(),
            description: String::new(),
        })
        .await
        .expect("create project");
    let started = Instant::now();
    let workers: Vec<_> = (0..tasks)
        .map(|t| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let actor = Actor::user("bench");
                for n in 0..items / tasks {
                    let mut item =
                        NewItem::new("OPS".parse().expect("valid key"), format!("item {t}/{n}"));
                    item.labels = vec!["bench".into()];
                    store.create_item(item, &actor).await.expect("create item");
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.expect("worker");
    }
    (items / tasks * tasks) as f64 / started.elapsed().as_secs_f64()
}

/// The same for a trivial write (one settings row), to tell the cost of the hand-off to the
/// writer thread and the commit from the cost of an item's statements.
async fn baseline(synchronous: Synchronous, writes: usize) -> f64 {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = SqliteStore::open(&dir.path().join("bench.db"), SqliteOptions { synchronous })
        .expect("open store");
    let started = Instant::now();
    for n in 0..writes {
        store
            .set_setting("bench", &n.to_string())
            .await
            .expect("set setting");
    }
    writes as f64 / started.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() {
    let items: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(3000);
    let modes = match std::env::args().nth(2).as_deref() {
        Some("full") => vec![Synchronous::Full],
        Some("normal") => vec![Synchronous::Normal],
        _ => vec![Synchronous::Full, Synchronous::Normal],
    };
    for synchronous in modes {
        for tasks in [1, TASKS] {
            let per_second = rate(synchronous, items, tasks).await;
            println!("{synchronous:?}, {tasks:>2} task(s): {per_second:>8.0} items/s");
        }
        let per_second = baseline(synchronous, items).await;
        println!("{synchronous:?}, trivial writes, 1 task: {per_second:>8.0} writes/s");
    }
}
