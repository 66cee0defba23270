//! Settings, users, sessions and API tokens.

use jiff::{SignedDuration, Timestamp};
use tandem_store::{NewSession, StoreError, TokenScope};

use crate::common::open;

#[tokio::test]
async fn settings_are_set_read_and_deleted() {
    let store = open();
    assert_eq!(store.setting("node.name").await.unwrap(), None);
    store.set_setting("node.name", "alpha").await.unwrap();
    store.set_setting("node.name", "beta").await.unwrap();
    assert_eq!(
        store.setting("node.name").await.unwrap().as_deref(),
        Some("beta")
    );
    store.delete_setting("node.name").await.unwrap();
    assert_eq!(store.setting("node.name").await.unwrap(), None);
    // Deleting what is not there is fine.
    store.delete_setting("node.name").await.unwrap();
}

#[tokio::test]
async fn a_setting_is_taken_once_and_only_with_its_value() {
    let store = open();
    store.set_setting("setup.token_hash", "h1").await.unwrap();
    assert!(!store.take_setting("setup.token_hash", "h2").await.unwrap());
    let (a, b) = tokio::join!(
        store.take_setting("setup.token_hash", "h1"),
        store.take_setting("setup.token_hash", "h1")
    );
    assert_eq!([a.unwrap(), b.unwrap()].iter().filter(|t| **t).count(), 1);
    assert_eq!(store.setting("setup.token_hash").await.unwrap(), None);
}

#[tokio::test]
async fn create_user_refuses_a_taken_name_and_users_are_listed_by_name() {
    let store = open();
    store.create_user("zoe", "hash-z").await.unwrap();
    store.create_user("adam", "hash-a").await.unwrap();
    let err = store.create_user("zoe", "other").await.unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists(_)), "{err:?}");
    let names: Vec<String> = store
        .users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.username)
        .collect();
    assert_eq!(names, ["adam", "zoe"]);
    let zoe = store.user_by_name("zoe").await.unwrap().unwrap();
    assert_eq!(zoe.password_hash, "hash-z", "the password was not replaced");
}

#[tokio::test]
async fn set_setting_if_absent_keeps_the_first_value() {
    let store = open();
    let first = store.set_setting_if_absent("node.id", "one").await.unwrap();
    let second = store.set_setting_if_absent("node.id", "two").await.unwrap();
    assert_eq!((first.as_str(), second.as_str()), ("one", "one"));
    assert_eq!(
        store.setting("node.id").await.unwrap().as_deref(),
        Some("one")
    );
}

#[tokio::test]
async fn upsert_user_creates_then_changes_the_password() {
    let store = open();
    assert_eq!(store.user_count().await.unwrap(), 0);
    let created = store.upsert_user("admin", "hash-1").await.unwrap();
    let updated = store.upsert_user("admin", "hash-2").await.unwrap();
    assert_eq!(updated.id, created.id);
    assert_eq!(updated.created, created.created);
    assert_eq!(updated.password_hash, "hash-2");
    assert_eq!(store.user_count().await.unwrap(), 1);
    assert_eq!(store.user_by_name("admin").await.unwrap(), Some(updated));
    assert_eq!(store.user_by_name("nobody").await.unwrap(), None);
}

#[tokio::test]
async fn sessions_are_found_until_they_expire_or_are_deleted() {
    let store = open();
    let user = store.upsert_user("admin", "h").await.unwrap();
    let now = Timestamp::now();
    let expires = now + SignedDuration::from_hours(1);
    store
        .create_session(NewSession {
            id_hash: "s1".into(),
            user_id: user.id,
            csrf_token: "csrf".into(),
            expires,
        })
        .await
        .unwrap();
    let session = store.session("s1", now).await.unwrap().unwrap();
    assert_eq!(session.username, "admin");
    assert_eq!(session.csrf_token, "csrf");
    assert_eq!(session.expires.as_millisecond(), expires.as_millisecond());

    let later = expires + SignedDuration::from_secs(1);
    assert_eq!(store.session("s1", later).await.unwrap(), None);
    assert_eq!(store.session("other", now).await.unwrap(), None);

    store.delete_session("s1").await.unwrap();
    assert_eq!(store.session("s1", now).await.unwrap(), None);
}

#[tokio::test]
async fn a_session_for_an_unknown_user_is_not_found() {
    let store = open();
    let err = store
        .create_session(NewSession {
            id_hash: "s".into(),
            user_id: 42,
            csrf_token: "c".into(),
            expires: Timestamp::now() + SignedDuration::from_hours(1),
        })
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound { what: "user", .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn api_tokens_record_use_and_stop_working_when_revoked() {
    let store = open();
    let first = store
        .create_api_token("ci", "hash-a", "admin", TokenScope::Admin)
        .await
        .unwrap();
    let second = store
        .create_api_token("backup", "hash-b", "admin", TokenScope::ReadOnly)
        .await
        .unwrap();
    assert_eq!(first.last_used, None);
    assert_eq!(first.revoked, None);
    assert_eq!(
        (first.scope, second.scope),
        (TokenScope::Admin, TokenScope::ReadOnly)
    );

    let listed = store.api_tokens().await.unwrap();
    let ids: Vec<i64> = listed.iter().map(|t| t.id).collect();
    assert_eq!(ids, [second.id, first.id], "newest first");

    let t1 = Timestamp::now();
    let used = store.use_api_token("hash-a", t1).await.unwrap().unwrap();
    assert_eq!(used.id, first.id);
    assert_eq!(
        used.last_used.map(|t| t.as_millisecond()),
        Some(t1.as_millisecond())
    );
    // A use an hour later is recorded.
    let t2 = t1 + SignedDuration::from_hours(1);
    let used = store.use_api_token("hash-a", t2).await.unwrap().unwrap();
    assert_eq!(
        used.last_used.map(|t| t.as_millisecond()),
        Some(t2.as_millisecond())
    );
    assert_eq!(store.use_api_token("unknown", t2).await.unwrap(), None);

    store.revoke_api_token(first.id).await.unwrap();
    assert_eq!(store.use_api_token("hash-a", t2).await.unwrap(), None);
    let listed = store.api_tokens().await.unwrap();
    let revoked = listed.iter().find(|t| t.id == first.id).unwrap();
    assert!(revoked.revoked.is_some());
    assert!(store.use_api_token("hash-b", t2).await.unwrap().is_some());

    let err = store.revoke_api_token(9999).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    let err = store
        .create_api_token("dup", "hash-b", "admin", TokenScope::Admin)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists(_)), "{err:?}");
}
