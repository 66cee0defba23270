//! Authentication: Basic and OAuth bearer tokens; 401 in ServiceNow's envelope otherwise.

use reqwest::Method;
use serde_json::Value;

use crate::common::{self, CLIENT_ID, CLIENT_SECRET, PASSWORD, USER};

#[tokio::test]
async fn requests_without_or_with_wrong_credentials_get_401() {
    let emu = common::start().await;
    let url = emu.url("/api/now/table/incident");
    let r = emu.client.get(&url).send().await.expect("req");
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["status"], "failure");
    assert_eq!(body["error"]["message"], "User Not Authenticated");
    for (user, password) in [(USER, "wrong"), ("nobody", PASSWORD)] {
        let r = emu
            .client
            .get(&url)
            .basic_auth(user, Some(password))
            .send()
            .await
            .expect("req");
        assert_eq!(r.status(), 401);
    }
    let r = emu
        .client
        .get(&url)
        .bearer_auth("not-a-token")
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 401);
    let r = emu
        .client
        .get(&url)
        .header("authorization", "Basic %%%")
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 401);
    emu.stop().await;
}

async fn token(emu: &common::Emu, form: &[(&str, &str)]) -> reqwest::Response {
    emu.client
        .post(emu.url("/oauth_token.do"))
        .form(form)
        .send()
        .await
        .expect("req")
}

#[tokio::test]
async fn password_grant_gives_bearer_tokens_that_authenticate() {
    let emu = common::start().await;
    let grant = [
        ("grant_type", "password"),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
        ("username", USER),
        ("password", PASSWORD),
    ];
    let r = token(&emu, &grant).await;
    assert_eq!(r.status(), 200);
    let t: Value = r.json().await.expect("json");
    assert_eq!(t["token_type"], "Bearer");
    assert!(t["expires_in"].as_u64().expect("number") > 1700);
    let access = t["access_token"].as_str().expect("access").to_owned();
    let refresh = t["refresh_token"].as_str().expect("refresh").to_owned();

    let r = emu
        .client
        .get(emu.url("/api/now/table/incident"))
        .bearer_auth(&access)
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 200);
    let rec = emu
        .client
        .request(Method::POST, emu.url("/api/now/table/incident"))
        .bearer_auth(&access)
        .json(&serde_json::json!({}))
        .send()
        .await
        .expect("req");
    let rec: Value = rec.json().await.expect("json");
    assert_eq!(
        rec["result"]["sys_created_by"], USER,
        "a bearer acts as its user"
    );

    let again: Value = token(&emu, &grant).await.json().await.expect("json");
    assert_eq!(
        again["access_token"],
        access.as_str(),
        "repeat within lifetime: the current token"
    );

    let r = token(
        &emu,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
            ("refresh_token", &refresh),
        ],
    )
    .await;
    assert_eq!(r.status(), 200);
    let fresh: Value = r.json().await.expect("json");
    let new_access = fresh["access_token"].as_str().expect("access");
    assert_ne!(new_access, access);
    assert!(
        fresh.get("refresh_token").is_none(),
        "the refresh grant returns an access token only"
    );
    let r = emu
        .client
        .get(emu.url("/api/now/table/incident"))
        .bearer_auth(new_access)
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 200);
    emu.stop().await;
}

#[tokio::test]
async fn the_token_endpoint_refuses_bad_clients_users_and_json_bodies() {
    let emu = common::start().await;
    let bad_secret = [
        ("grant_type", "password"),
        ("client_id", CLIENT_ID),
        ("client_secret", "nope"),
        ("username", USER),
        ("password", PASSWORD),
    ];
    assert_eq!(token(&emu, &bad_secret).await.status(), 401);
    let bad_password = [
        ("grant_type", "password"),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
        ("username", USER),
        ("password", "nope"),
    ];
    assert_eq!(token(&emu, &bad_password).await.status(), 401);
    let bad_refresh = [
        ("grant_type", "refresh_token"),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
        ("refresh_token", "nope"),
    ];
    assert_eq!(token(&emu, &bad_refresh).await.status(), 401);
    let r = emu
        .client
        .post(emu.url("/oauth_token.do"))
        .json(&serde_json::json!({ "grant_type": "password" }))
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 400, "the body must be form-encoded");
    emu.stop().await;
}

#[tokio::test]
async fn expired_access_tokens_are_refused() {
    let mut config = common::config();
    config.access_token_lifetime = std::time::Duration::ZERO;
    let emu = common::start_with(config).await;
    let r = token(
        &emu,
        &[
            ("grant_type", "password"),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
            ("username", USER),
            ("password", PASSWORD),
        ],
    )
    .await;
    let t: Value = r.json().await.expect("json");
    let access = t["access_token"].as_str().expect("access");
    let r = emu
        .client
        .get(emu.url("/api/now/table/incident"))
        .bearer_auth(access)
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 401);
    emu.stop().await;
}
