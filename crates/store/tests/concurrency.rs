//! Concurrent writers: the writer thread serialises read-modify-writes, so concurrent changes
//! without `expected_version` all land, and one failing write does not disturb the others it
//! is committed with.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::json;
use tandem_model::{CustomFields, ItemPatch, NewComment, Person};
use tandem_store::Store;

use crate::common::{alice, key, new_item, with_item, with_project};

const TASKS: usize = 50;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_updates_without_expected_version_lose_nothing() {
    let store = with_item().await;
    let tasks: Vec<_> = (0..TASKS)
        .map(|n| {
            let store: Arc<dyn Store> = Arc::clone(&store.store);
            tokio::spawn(async move {
                let patch = ItemPatch {
                    custom_fields: Some(CustomFields::from_iter([(
                        format!("field {n}"),
                        json!(n),
                    )])),
                    ..ItemPatch::default()
                };
                store.update_item(&key("OPS-1"), patch, &alice()).await
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let item = store.item(&key("OPS-1")).await.unwrap().unwrap();
    assert_eq!(item.custom_fields.len(), TASKS);
    for n in 0..TASKS {
        assert_eq!(item.custom_fields[&format!("field {n}")], json!(n));
    }
    assert_eq!(item.version, 1 + TASKS as i64);
    assert_eq!(store.events_after(0, 1000).await.unwrap().len(), 1 + TASKS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_comments_all_land() {
    let store = with_item().await;
    let tasks: Vec<_> = (0..TASKS)
        .map(|n| {
            let store: Arc<dyn Store> = Arc::clone(&store.store);
            tokio::spawn(async move {
                let comment = NewComment {
                    author: Person::default(),
                    body: format!("comment {n}"),
                    internal: false,
                    origin: None,
                };
                store.add_comment(&key("OPS-1"), comment, &alice()).await
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let item = store.item(&key("OPS-1")).await.unwrap().unwrap();
    let bodies: BTreeSet<String> = item.comments.iter().map(|c| c.body.clone()).collect();
    let expected: BTreeSet<String> = (0..TASKS).map(|n| format!("comment {n}")).collect();
    assert_eq!(bodies, expected);
    assert_eq!(item.version, 1 + TASKS as i64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_creates_get_distinct_numbers_and_failures_stay_apart() {
    let store = with_project().await;
    let tasks: Vec<_> = (0..TASKS)
        .map(|n| {
            let store: Arc<dyn Store> = Arc::clone(&store.store);
            tokio::spawn(async move {
                // Every third write fails (no such project); it shares batches with the others.
                let project = if n % 3 == 0 { "NOPE" } else { "OPS" };
                store
                    .create_item(new_item(project, &format!("item {n}")), &alice())
                    .await
                    .map(|item| item.key.number)
            })
        })
        .collect();
    let mut numbers = Vec::new();
    let mut failures = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(number) => numbers.push(number),
            Err(_) => failures += 1,
        }
    }
    numbers.sort_unstable();
    let created = TASKS - TASKS.div_ceil(3);
    assert_eq!(failures, TASKS.div_ceil(3));
    assert_eq!(numbers, (1..=created as i64).collect::<Vec<_>>());
    assert_eq!(store.events_after(0, 1000).await.unwrap().len(), created);
}
