//! Comments and attachments: round trips, edits, removal, and that items load them.

use tandem_model::{NewAttachment, NewComment, Person, ValidationError};
use tandem_store::StoreError;

use crate::common::{alice, key, new_item, with_item};

fn dana() -> Person {
    Person {
        name: "Dana".into(),
        email: Some("dana@example.com".into()),
    }
}

fn file(name: &str, bytes: Vec<u8>) -> NewAttachment {
    NewAttachment {
        filename: name.into(),
        mime_type: "application/octet-stream".into(),
        author: dana(),
        bytes,
    }
}

/// A comment sync copied keeps where it came from and who wrote it there, through reads and
/// edits; a comment written here has none.
#[tokio::test]
async fn a_synced_comment_keeps_its_origin() {
    let store = with_item().await;
    let ops1 = key("OPS-1");
    let origin = tandem_model::CommentOrigin {
        synced_from: "globex_dev".into(),
        author: Some(Person {
            name: "Kim Lee".into(),
            email: Some("kim@globex.example".into()),
        }),
    };
    let synced = store
        .add_comment(
            &ops1,
            NewComment {
                author: Person {
                    name: "Kim Lee".into(),
                    email: None,
                },
                body: "Kim Lee commented: on it".into(),
                internal: false,
                origin: Some(origin.clone()),
            },
            &alice(),
        )
        .await
        .unwrap();
    assert_eq!(synced.origin.as_ref(), Some(&origin));
    let without_author = store
        .add_comment(
            &ops1,
            NewComment {
                author: dana(),
                body: "anonymous remote".into(),
                internal: false,
                origin: Some(tandem_model::CommentOrigin {
                    synced_from: "globex_dev".into(),
                    author: None,
                }),
            },
            &alice(),
        )
        .await
        .unwrap();
    let own = store
        .add_comment(
            &ops1,
            NewComment {
                author: dana(),
                body: "mine".into(),
                internal: false,
                origin: None,
            },
            &alice(),
        )
        .await
        .unwrap();
    let item = store.item(&ops1).await.unwrap().unwrap();
    assert_eq!(item.comments, vec![synced.clone(), without_author, own]);
    let edited = store
        .edit_comment(&ops1, synced.id, "Kim Lee commented: done", &alice())
        .await
        .unwrap();
    assert_eq!(edited.origin, Some(origin));
}

#[tokio::test]
async fn comments_round_trip_and_edits_record_when() {
    let store = with_item().await;
    let ops1 = key("OPS-1");
    let added = store
        .add_comment(
            &ops1,
            NewComment {
                author: dana(),
                body: "Looking.".into(),
                internal: true,
                origin: None,
            },
            &alice(),
        )
        .await
        .unwrap();
    assert_eq!(added.edited, None);
    assert!(added.internal);
    let item = store.item(&ops1).await.unwrap().unwrap();
    assert_eq!(item.comments, std::slice::from_ref(&added));

    let edited = store
        .edit_comment(&ops1, added.id, "Fixed.", &alice())
        .await
        .unwrap();
    assert_eq!(edited.body, "Fixed.");
    assert!(edited.edited.is_some());
    assert_eq!((edited.id, edited.created), (added.id, added.created));
    let item = store.item(&ops1).await.unwrap().unwrap();
    assert_eq!(item.comments, std::slice::from_ref(&edited));

    // The same text again is not an edit.
    let again = store
        .edit_comment(&ops1, added.id, "Fixed.", &alice())
        .await
        .unwrap();
    assert_eq!(again, edited);
    assert_eq!(store.item(&ops1).await.unwrap().unwrap().version, 3);
}

#[tokio::test]
async fn comment_errors_name_what_is_missing_or_wrong() {
    let store = with_item().await;
    store
        .create_item(new_item("OPS", "other"), &alice())
        .await
        .unwrap();
    let c = store
        .add_comment(
            &key("OPS-1"),
            NewComment {
                author: dana(),
                body: "hi".into(),
                internal: false,
                origin: None,
            },
            &alice(),
        )
        .await
        .unwrap();
    // A comment is edited through its own item only.
    let err = store
        .edit_comment(&key("OPS-2"), c.id, "hijack", &alice())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::NotFound {
                what: "comment",
                ..
            }
        ),
        "{err:?}"
    );
    let err = store
        .edit_comment(&key("OPS-1"), c.id, "", &alice())
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Invalid(ValidationError::Empty { .. })),
        "{err:?}"
    );
    let err = store
        .add_comment(
            &key("OPS-9"),
            NewComment {
                author: dana(),
                body: "hi".into(),
                internal: false,
                origin: None,
            },
            &alice(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound { what: "item", .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn attachments_round_trip_with_their_sha256() {
    let store = with_item().await;
    let ops1 = key("OPS-1");
    let small = store
        .add_attachment(&ops1, file("abc.txt", b"abc".to_vec()), &alice())
        .await
        .unwrap();
    assert_eq!(
        small.sha256,
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert_eq!(small.size, 3);
    assert_eq!(small.author, dana());

    // Large enough to be hashed off the async runtime.
    let big_bytes: Vec<u8> = (0..300_000u32).map(|n| (n % 251) as u8).collect();
    let big = store
        .add_attachment(&ops1, file("big.bin", big_bytes.clone()), &alice())
        .await
        .unwrap();
    assert_eq!(big.size, 300_000);
    assert_eq!(big.sha256.len(), 64);
    assert!(
        big.sha256
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    );

    let (meta, bytes) = store.attachment(&ops1, big.id).await.unwrap().unwrap();
    assert_eq!(meta, big);
    assert_eq!(bytes, big_bytes);

    let item = store.item(&ops1).await.unwrap().unwrap();
    assert_eq!(item.attachments, [small.clone(), big.clone()]);
    assert_eq!(item.version, 3);
}

#[tokio::test]
async fn a_removed_attachment_is_gone() {
    let store = with_item().await;
    store
        .create_item(new_item("OPS", "other"), &alice())
        .await
        .unwrap();
    let ops1 = key("OPS-1");
    let a = store
        .add_attachment(&ops1, file("x.bin", vec![0; 10]), &alice())
        .await
        .unwrap();
    // Attachments are reached through their own item only.
    assert_eq!(store.attachment(&key("OPS-2"), a.id).await.unwrap(), None);
    let err = store
        .remove_attachment(&key("OPS-2"), a.id, &alice())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::NotFound {
                what: "attachment",
                ..
            }
        ),
        "{err:?}"
    );

    store
        .remove_attachment(&ops1, a.id, &alice())
        .await
        .unwrap();
    assert_eq!(store.attachment(&ops1, a.id).await.unwrap(), None);
    assert!(
        store
            .item(&ops1)
            .await
            .unwrap()
            .unwrap()
            .attachments
            .is_empty()
    );
    let err = store
        .remove_attachment(&ops1, a.id, &alice())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
}

#[tokio::test]
async fn an_attachment_without_a_name_is_invalid() {
    let store = with_item().await;
    let err = store
        .add_attachment(&key("OPS-1"), file("", vec![1]), &alice())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
}

/// Sync links name comment and attachment ids, so an id is never handed out twice, even after
/// the newest comment or attachment was deleted (SQLite would reuse it).
#[tokio::test]
async fn ids_of_deleted_comments_and_attachments_are_never_reused() {
    let store = with_item().await;
    let ops1 = key("OPS-1");
    let comment = |body: &str| NewComment {
        author: dana(),
        body: body.into(),
        internal: false,
        origin: None,
    };
    let first = store
        .add_comment(&ops1, comment("first"), &alice())
        .await
        .unwrap();
    store
        .delete_comment(&ops1, first.id, &alice())
        .await
        .unwrap();
    let second = store
        .add_comment(&ops1, comment("second"), &alice())
        .await
        .unwrap();
    assert!(second.id > first.id, "{} after {}", second.id, first.id);

    let a = store
        .add_attachment(&ops1, file("a.bin", vec![1; 4]), &alice())
        .await
        .unwrap();
    store
        .remove_attachment(&ops1, a.id, &alice())
        .await
        .unwrap();
    let b = store
        .add_attachment(&ops1, file("b.bin", vec![2; 4]), &alice())
        .await
        .unwrap();
    assert!(b.id > a.id, "{} after {}", b.id, a.id);
}
