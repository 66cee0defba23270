//! Webhooks the emulator really calls: registered through `/rest/api/3/webhook` with events
//! and a JQL filter, delivered with Jira's payload, retried when the receiver fails.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use reqwest::Method;
use serde_json::{Value, json};

use super::common::{PROJECT, adf, start};

/// A receiver on 127.0.0.1:0 that records payloads and fails the first `fail` calls.
async fn receiver(fail: usize) -> (String, Arc<Mutex<Vec<Value>>>, tokio::task::JoinHandle<()>) {
    let got: Arc<Mutex<Vec<Value>>> = Arc::default();
    let calls = Arc::new(Mutex::new(0usize));
    let seen = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |axum::Json(v): axum::Json<Value>| {
            let seen = seen.clone();
            let calls = calls.clone();
            async move {
                let mut n = calls.lock().expect("lock");
                *n += 1;
                if *n <= fail {
                    return StatusCode::SERVICE_UNAVAILABLE;
                }
                seen.lock().expect("lock").push(v);
                StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, got, task)
}

/// Waits until `pred` holds for the payloads received (the machine may be slow).
async fn wait_for(got: &Arc<Mutex<Vec<Value>>>, pred: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let now = got.lock().expect("lock").clone();
        if pred(&now) {
            return now;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "webhooks not received: {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn registered_webhooks_are_called_on_issue_and_comment_events_matching_their_filter() {
    let jira = start().await;
    let (url, got, task) = receiver(0).await;
    let reg = jira
        .expect(
            Method::POST,
            "/rest/api/3/webhook",
            json!({"url": url, "webhooks": [
                {"events": ["jira:issue_created", "jira:issue_updated", "comment_created", "jira:issue_deleted"],
                 "jqlFilter": format!("project = {PROJECT} AND labels = watched")},
                {"events": ["no_such_event"], "jqlFilter": "project = SUP"},
                {"events": ["jira:issue_created"], "jqlFilter": "project = "}
            ]}),
            200,
        )
        .await;
    let results = reg["webhookRegistrationResult"]
        .as_array()
        .expect("results");
    let id = results[0]["createdWebhookId"].as_u64().expect("an id");
    assert!(
        results[1]["errors"]
            .as_array()
            .is_some_and(|e| !e.is_empty())
    );
    assert!(
        results[2]["errors"]
            .as_array()
            .is_some_and(|e| !e.is_empty())
    );
    let listed = jira.get_json("/rest/api/3/webhook").await;
    assert_eq!(listed["values"][0]["id"], id);
    assert!(listed["values"][0]["expirationDate"].as_i64().is_some());

    let ignored = jira.create("Task", "Not watched", json!({})).await;
    let key = jira
        .create("Task", "Watched", json!({"labels": ["watched"]}))
        .await;
    jira.expect(
        Method::PUT,
        &format!("/rest/api/3/issue/{key}"),
        json!({"fields": {"summary": "Watched, edited"}}),
        204,
    )
    .await;
    jira.transition(&key, "21", json!({})).await;
    jira.expect(
        Method::POST,
        &format!("/rest/api/3/issue/{key}/comment"),
        json!({"body": adf("hello")}),
        201,
    )
    .await;
    jira.expect(
        Method::PUT,
        &format!("/rest/api/3/issue/{ignored}"),
        json!({"fields": {"summary": "x"}}),
        204,
    )
    .await;
    jira.expect(
        Method::DELETE,
        &format!("/rest/api/3/issue/{key}"),
        Value::Null,
        204,
    )
    .await;

    let all = wait_for(&got, |v| {
        v.iter().any(|p| p["webhookEvent"] == "jira:issue_deleted")
    })
    .await;
    let events: Vec<(String, String)> = all
        .iter()
        .map(|p| {
            (
                p["webhookEvent"].as_str().unwrap_or_default().to_owned(),
                p["issue_event_type_name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect();
    let expected: Vec<(String, String)> = [
        ("jira:issue_created", "issue_created"),
        ("jira:issue_updated", "issue_updated"),
        ("jira:issue_updated", "issue_generic"),
        ("comment_created", ""),
        ("jira:issue_updated", "issue_commented"),
        ("jira:issue_deleted", "issue_deleted"),
    ]
    .iter()
    .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
    .collect();
    assert_eq!(events, expected);
    for p in &all {
        assert_eq!(p["issue"]["key"], key.as_str(), "only the watched issue");
        assert_eq!(p["matchedWebhookIds"], json!([id]));
        assert!(p["timestamp"].as_i64().is_some() && p["user"]["accountId"].is_string());
    }
    assert_eq!(all[1]["changelog"]["items"][0]["field"], "summary");
    assert_eq!(all[2]["changelog"]["items"][0]["toString"], "In Progress");
    assert_eq!(
        all[3]["comment"]["body"], "hello",
        "payloads are v2: wiki text"
    );

    jira.expect(
        Method::DELETE,
        "/rest/api/3/webhook",
        json!({"webhookIds": [id]}),
        202,
    )
    .await;
    assert_eq!(jira.get_json("/rest/api/3/webhook").await["total"], 0);
    task.abort();
    jira.stop().await;
}

#[tokio::test]
async fn a_failing_receiver_is_retried() {
    let jira = start().await;
    let (url, got, task) = receiver(2).await;
    jira.expect(
        Method::POST,
        "/rest/api/3/webhook",
        json!({"url": url, "webhooks": [{"events": ["jira:issue_created"], "jqlFilter": "project = SUP"}]}),
        200,
    )
    .await;
    let key = jira.create("Task", "Retry me", json!({})).await;
    let all = wait_for(&got, |v| !v.is_empty()).await;
    assert_eq!(all[0]["issue"]["key"], key.as_str());
    let deliveries: Value = jira
        .client
        .get(format!(
            "{}/__emulator/webhook-deliveries",
            jira.running.base_url()
        ))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(deliveries[0]["attempts"], 3, "{deliveries}");
    assert_eq!(deliveries[0]["status"], 200);
    task.abort();
    jira.stop().await;
}

/// Each call's `X-Hub-Signature` and raw body.
type SignedCalls = Arc<Mutex<Vec<(Option<String>, Vec<u8>)>>>;

/// A receiver that keeps each call's `X-Hub-Signature` with its raw body.
async fn signed_receiver() -> (String, SignedCalls, tokio::task::JoinHandle<()>) {
    let got: SignedCalls = Arc::default();
    let seen = got.clone();
    let app = axum::Router::new().route(
        "/admin-hook",
        axum::routing::post(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let seen = seen.clone();
                async move {
                    let sig = headers
                        .get("x-hub-signature")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned);
                    seen.lock().expect("lock").push((sig, body.to_vec()));
                    StatusCode::OK
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/admin-hook", listener.local_addr().expect("addr"));
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, got, task)
}

#[tokio::test]
async fn admin_webhooks_with_a_secret_sign_each_delivery() {
    use hmac::{KeyInit, Mac};
    let jira = start().await;
    let (url, got, task) = signed_receiver().await;
    let made = jira
        .expect(
            Method::POST,
            "/rest/webhooks/1.0/webhook",
            json!({"name": "tandem", "url": url, "events": ["jira:issue_created"],
                   "filters": {"issue-related-events-section": ""}, "secret": "s3cret"}),
            201,
        )
        .await;
    assert_eq!(made["name"], "tandem");
    assert!(made.get("secret").is_none(), "the secret is not echoed");
    let listed = jira.get_json("/rest/webhooks/1.0/webhook").await;
    assert_eq!(listed.as_array().map(Vec::len), Some(1));
    assert_eq!(
        jira.get_json("/rest/api/3/webhook").await["total"],
        0,
        "admin webhooks are not dynamic ones"
    );
    let key = jira.create("Task", "Signed", json!({})).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let (sig, body) = loop {
        if let Some(first) = got.lock().expect("lock").first().cloned() {
            break first;
        }
        assert!(tokio::time::Instant::now() < deadline, "no delivery");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let payload: Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(payload["issue"]["key"], key.as_str());
    assert!(payload.get("matchedWebhookIds").is_none());
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"s3cret").expect("key");
    mac.update(&body);
    let want: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(sig, Some(format!("sha256={want}")));
    let id = made["self"]
        .as_str()
        .and_then(|s| s.rsplit('/').next())
        .expect("id")
        .to_owned();
    jira.expect(
        Method::DELETE,
        &format!("/rest/webhooks/1.0/webhook/{id}"),
        Value::Null,
        204,
    )
    .await;
    assert_eq!(jira.get_json("/rest/webhooks/1.0/webhook").await, json!([]));
    task.abort();
    jira.stop().await;
}
