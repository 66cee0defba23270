//! Projects: creation, listing, lookup, and the errors around them.

use tandem_model::{NewProject, ValidationError};
use tandem_store::StoreError;

use crate::common::{alice, new_item, open, pkey};

fn ops(name: &str) -> NewProject {
    NewProject {
        key: pkey("OPS"),
        name: name.into(),
        description: "Keeping the lights on".into(),
    }
}

#[tokio::test]
async fn a_created_project_is_listed_and_found_by_key() {
    let store = open();
    let created = store.create_project(ops("Operations")).await.unwrap();
    assert_eq!(created.key, pkey("OPS"));
    assert_eq!(created.item_count, 0);
    store
        .create_project(NewProject {
            key: pkey("DEV"),
            name: "Development".into(),
            description: String::new(),
        })
        .await
        .unwrap();

    let keys: Vec<String> = store
        .projects()
        .await
        .unwrap()
        .iter()
        .map(|p| p.key.to_string())
        .collect();
    assert_eq!(keys, ["DEV", "OPS"]);
    assert_eq!(store.project(&pkey("OPS")).await.unwrap(), Some(created));
    assert_eq!(store.project(&pkey("NOPE")).await.unwrap(), None);
}

#[tokio::test]
async fn a_duplicate_project_key_is_already_exists() {
    let store = open();
    store.create_project(ops("Operations")).await.unwrap();
    let err = store.create_project(ops("Again")).await.unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists(_)), "{err:?}");
    assert_eq!(err.to_string(), "project OPS already exists");
}

#[tokio::test]
async fn a_project_without_a_name_is_invalid() {
    let store = open();
    let err = store.create_project(ops("  ")).await.unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Invalid(ValidationError::Empty {
                field: "project name"
            })
        ),
        "{err:?}"
    );
    assert!(store.projects().await.unwrap().is_empty());
}

#[tokio::test]
async fn an_item_in_an_unknown_project_is_not_found() {
    let store = open();
    let err = store
        .create_item(new_item("OPS", "Lost"), &alice())
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound { what: "project", ref key } if key == "OPS"),
        "{err:?}"
    );
}

#[tokio::test]
async fn item_count_follows_created_items() {
    let store = open();
    store.create_project(ops("Operations")).await.unwrap();
    for n in 0..3 {
        store
            .create_item(new_item("OPS", &format!("item {n}")), &alice())
            .await
            .unwrap();
    }
    let project = store.project(&pkey("OPS")).await.unwrap().unwrap();
    assert_eq!(project.item_count, 3);
}
