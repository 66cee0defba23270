//! Items: numbering, what reads back after create and update, version checks, validation.

use serde_json::json;
use tandem_model::{
    CustomFields, ItemPatch, NewProject, Person, Priority, Status, ValidationError,
};
use tandem_store::StoreError;

use crate::common::{alice, key, new_item, pkey, with_item, with_project};

fn bob() -> Person {
    Person {
        name: "Bob".into(),
        email: Some("bob@example.com".into()),
    }
}

#[tokio::test]
async fn items_are_numbered_per_project() {
    let store = with_project().await;
    store
        .create_project(NewProject {
            key: pkey("DEV"),
            name: "Development".into(),
            description: String::new(),
        })
        .await
        .unwrap();
    let mut keys = Vec::new();
    for project in ["OPS", "OPS", "DEV", "OPS"] {
        let item = store
            .create_item(new_item(project, "something"), &alice())
            .await
            .unwrap();
        keys.push(item.key.to_string());
    }
    assert_eq!(keys, ["OPS-1", "OPS-2", "DEV-1", "OPS-3"]);
}

#[tokio::test]
async fn a_created_item_reads_back_as_returned() {
    let store = with_project().await;
    let mut new = new_item("OPS", "Printer on fire");
    new.description = "Third floor.".into();
    new.status = Status::InProgress;
    new.priority = Priority::Highest;
    new.assignee = Some(bob());
    new.reporter = Some(Person {
        name: "Carol".into(),
        email: None,
    });
    new.labels = vec!["sync".into(), "hardware".into(), "sync".into()];
    // Custom fields keep the order they were given in, not alphabetical order.
    new.custom_fields = CustomFields::from_iter([
        ("Zeta".to_owned(), json!("last first")),
        ("Alpha".to_owned(), json!(3)),
        ("Components".to_owned(), json!(["api", "ui"])),
    ]);

    let created = store.create_item(new, &alice()).await.unwrap();
    assert_eq!(created.key, key("OPS-1"));
    assert_eq!(created.version, 1);
    assert_eq!(
        created.labels,
        ["hardware", "sync"],
        "labels are a sorted set"
    );
    assert_eq!(created.created, created.updated);

    let read = store.item(&key("OPS-1")).await.unwrap().unwrap();
    assert_eq!(read, created);
    let names: Vec<&str> = read.custom_fields.keys().map(String::as_str).collect();
    assert_eq!(names, ["Zeta", "Alpha", "Components"]);
    assert_eq!(store.item(&key("OPS-2")).await.unwrap(), None);
}

#[tokio::test]
async fn an_update_changes_the_fields_and_bumps_the_version() {
    let store = with_item().await;
    let before = store.item(&key("OPS-1")).await.unwrap().unwrap();
    let patch = ItemPatch {
        summary: Some("Printer no longer on fire".into()),
        status: Some(Status::Done),
        priority: Some(Priority::Low),
        assignee: Some(Some(bob())),
        labels: Some(vec!["b".into(), "a".into()]),
        custom_fields: Some(CustomFields::from_iter([(
            "Tier".to_owned(),
            json!("Gold"),
        )])),
        ..ItemPatch::default()
    };
    let updated = store
        .update_item(&key("OPS-1"), patch, &alice())
        .await
        .unwrap();
    assert_eq!(updated.version, 2);
    assert!(updated.updated >= before.updated);
    assert_eq!(updated.created, before.created);
    assert_eq!(updated.summary, "Printer no longer on fire");
    assert_eq!(updated.labels, ["a", "b"]);
    assert_eq!(updated.custom_fields["Tier"], json!("Gold"));
    assert_eq!(store.item(&key("OPS-1")).await.unwrap().unwrap(), updated);

    // Clearing: Some(None) removes the assignee, a JSON null removes a custom field.
    let cleared = store
        .update_item(
            &key("OPS-1"),
            ItemPatch {
                assignee: Some(None),
                custom_fields: Some(CustomFields::from_iter([(
                    "Tier".to_owned(),
                    serde_json::Value::Null,
                )])),
                ..ItemPatch::default()
            },
            &alice(),
        )
        .await
        .unwrap();
    assert_eq!(cleared.assignee, None);
    assert!(cleared.custom_fields.is_empty());
    assert_eq!(cleared.version, 3);
    assert_eq!(store.item(&key("OPS-1")).await.unwrap().unwrap(), cleared);
}

#[tokio::test]
async fn a_patch_that_changes_nothing_writes_nothing() {
    let store = with_item().await;
    let before = store.item(&key("OPS-1")).await.unwrap().unwrap();
    let history_before = store.history(&key("OPS-1")).await.unwrap();
    let events_before = store.events_after(0, 100).await.unwrap();

    let same = ItemPatch {
        summary: Some(before.summary.clone()),
        status: Some(before.status),
        labels: Some(vec![]),
        expected_version: Some(1),
        ..ItemPatch::default()
    };
    let after = store
        .update_item(&key("OPS-1"), same, &alice())
        .await
        .unwrap();
    assert_eq!(after, before);
    assert_eq!(store.item(&key("OPS-1")).await.unwrap().unwrap(), before);
    assert_eq!(store.history(&key("OPS-1")).await.unwrap(), history_before);
    assert_eq!(store.events_after(0, 100).await.unwrap(), events_before);
}

#[tokio::test]
async fn an_update_naming_an_old_version_is_a_conflict() {
    let store = with_item().await;
    let ok = ItemPatch {
        summary: Some("first".into()),
        expected_version: Some(1),
        ..ItemPatch::default()
    };
    store
        .update_item(&key("OPS-1"), ok, &alice())
        .await
        .unwrap();

    let stale = ItemPatch {
        summary: Some("second".into()),
        expected_version: Some(1),
        ..ItemPatch::default()
    };
    let err = store
        .update_item(&key("OPS-1"), stale, &alice())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::VersionConflict {
                expected: 1,
                actual: 2,
                ..
            }
        ),
        "{err:?}"
    );
    let item = store.item(&key("OPS-1")).await.unwrap().unwrap();
    assert_eq!((item.summary.as_str(), item.version), ("first", 2));
}

#[tokio::test]
async fn updating_an_unknown_item_is_not_found() {
    let store = with_item().await;
    let patch = ItemPatch {
        summary: Some("x".into()),
        ..ItemPatch::default()
    };
    let err = store
        .update_item(&key("OPS-9"), patch, &alice())
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound { what: "item", ref key } if key == "OPS-9"),
        "{err:?}"
    );
}

#[tokio::test]
async fn invalid_items_and_patches_are_refused() {
    let store = with_project().await;
    let err = store
        .create_item(new_item("OPS", " "), &alice())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Invalid(ValidationError::Empty { field: "summary" })
        ),
        "{err:?}"
    );
    let mut spaced = new_item("OPS", "ok");
    spaced.labels = vec!["two words".into()];
    let err = store.create_item(spaced, &alice()).await.unwrap_err();
    assert!(
        matches!(err, StoreError::Invalid(ValidationError::Label(_))),
        "{err:?}"
    );
    // Nothing was created, so the next item is still OPS-1.
    let item = store
        .create_item(new_item("OPS", "ok"), &alice())
        .await
        .unwrap();
    assert_eq!(item.key, key("OPS-1"));

    let long = ItemPatch {
        summary: Some("x".repeat(300)),
        ..ItemPatch::default()
    };
    let err = store
        .update_item(&key("OPS-1"), long, &alice())
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Invalid(ValidationError::TooLong { .. })),
        "{err:?}"
    );
}
