//! Faults: 429 with rate-limit headers, 500, latency, the journal table hidden or forbidden.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tandem_emulators::servicenow::{Faults, JournalAccess};

use crate::common::{self, Emu, id};

async fn set_faults(emu: &Emu, faults: Value) {
    let r = emu
        .client
        .post(emu.url("/__emulator/faults"))
        .json(&faults)
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn rate_limited_requests_get_429_with_retry_after_then_recover() {
    let emu = common::start().await;
    set_faults(
        &emu,
        json!({ "rate_limited_requests": 2, "retry_after_secs": 7 }),
    )
    .await;
    for _ in 0..2 {
        let r = emu.get("/api/now/table/incident").await;
        assert_eq!(r.status(), 429);
        let h = r.headers();
        assert_eq!(h["retry-after"], "7");
        assert!(h.get("x-ratelimit-limit").is_some());
        assert!(
            h["x-ratelimit-reset"]
                .to_str()
                .expect("ascii")
                .parse::<i64>()
                .is_ok()
        );
        assert!(h.get("x-ratelimit-rule").is_some());
        let body: Value = r.json().await.expect("json");
        assert_eq!(body["status"], "failure");
    }
    assert_eq!(emu.get("/api/now/table/incident").await.status(), 200);
    emu.stop().await;
}

#[tokio::test]
async fn server_errors_come_from_the_config_too() {
    let mut config = common::config();
    config.faults = Faults {
        server_error_requests: 1,
        ..Faults::default()
    };
    let emu = common::start_with(config).await;
    let r = emu.get("/api/now/table/incident").await;
    assert_eq!(r.status(), 500);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["status"], "failure");
    assert_eq!(emu.get("/api/now/table/incident").await.status(), 200);
    emu.stop().await;
}

#[tokio::test]
async fn faults_do_not_hit_unauthenticated_requests_or_count_them() {
    let emu = common::start().await;
    set_faults(&emu, json!({ "server_error_requests": 1 })).await;
    let r = emu
        .client
        .get(emu.url("/api/now/table/incident"))
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 401);
    assert_eq!(emu.get("/api/now/table/incident").await.status(), 500);
    let now: Value = emu
        .client
        .get(emu.url("/__emulator/faults"))
        .send()
        .await
        .expect("req")
        .json()
        .await
        .expect("json");
    assert_eq!(now["server_error_requests"], 0);
    emu.stop().await;
}

#[tokio::test]
async fn latency_delays_answers() {
    let emu = common::start().await;
    set_faults(&emu, json!({ "latency_ms": 150 })).await;
    let started = Instant::now();
    assert_eq!(emu.get("/api/now/table/incident").await.status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(150));
    emu.stop().await;
}

#[tokio::test]
async fn the_journal_can_be_hidden_like_a_failing_acl_or_forbidden() {
    let emu = common::start().await;
    let rec = emu
        .create("incident", json!({ "comments": "secret" }))
        .await;
    let sys_id = id(&rec);
    set_faults(&emu, json!({ "journal": "hidden" })).await;
    let body = emu.get_json("/api/now/table/sys_journal_field").await;
    assert_eq!(
        body["result"],
        json!([]),
        "hidden: 200 with no rows, as a real ACL does"
    );
    let fallback = emu
        .get_json(&format!(
            "/api/now/table/incident/{sys_id}?sysparm_fields=comments&sysparm_display_value=true"
        ))
        .await;
    assert!(
        fallback["result"]["comments"]
            .as_str()
            .expect("string")
            .contains("secret")
    );
    set_faults(
        &emu,
        serde_json::to_value(Faults {
            journal: JournalAccess::Forbidden,
            ..Faults::default()
        })
        .expect("json"),
    )
    .await;
    let r = emu.get("/api/now/table/sys_journal_field").await;
    assert_eq!(r.status(), 403);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["status"], "failure");
    emu.stop().await;
}

#[tokio::test]
async fn unknown_fault_names_are_refused() {
    let emu = common::start().await;
    let r = emu
        .client
        .post(emu.url("/__emulator/faults"))
        .json(&json!({ "rate_limit": 1 }))
        .send()
        .await
        .expect("req");
    assert!(r.status().is_client_error());
    emu.stop().await;
}
