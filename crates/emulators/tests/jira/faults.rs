//! Faults switched on like the ServiceNow emulator's: 429 with Jira Cloud's rate-limit
//! headers, 500, and latency.

use std::time::{Duration, Instant};

use serde_json::json;

use super::common::start;

#[tokio::test]
async fn rate_limits_then_server_errors_then_normal_service() {
    let jira = start().await;
    jira.set_faults(
        json!({"rate_limited_requests": 2, "retry_after_secs": 7, "server_error_requests": 1}),
    )
    .await;
    for _ in 0..2 {
        let r = jira.get("/rest/api/3/myself").await;
        assert_eq!(r.status(), 429);
        let h = r.headers();
        assert_eq!(h["retry-after"], "7");
        assert_eq!(h["x-ratelimit-remaining"], "0");
        assert!(h.contains_key("x-ratelimit-limit"));
        let reset = h["x-ratelimit-reset"].to_str().expect("ascii");
        assert!(
            reset.len() == 17 && reset.ends_with('Z'),
            "ISO-8601 to the minute: {reset}"
        );
        assert_eq!(h["ratelimit-reason"], "jira-cost-based");
    }
    let r = jira.get("/rest/api/3/myself").await;
    assert_eq!(r.status(), 500);
    let body: serde_json::Value = r.json().await.expect("json");
    assert!(body["errorMessages"][0].is_string());
    assert_eq!(jira.get("/rest/api/3/myself").await.status(), 200);
    jira.stop().await;
}

#[tokio::test]
async fn faults_need_authentication_first_and_latency_delays_requests() {
    let jira = start().await;
    jira.set_faults(json!({"rate_limited_requests": 1, "latency_ms": 300}))
        .await;
    let anonymous = jira
        .client
        .get(jira.url("/rest/api/3/myself"))
        .send()
        .await
        .expect("request");
    assert_eq!(anonymous.status(), 401, "auth comes before faults");
    let started = Instant::now();
    assert_eq!(jira.get("/rest/api/3/myself").await.status(), 429);
    assert!(started.elapsed() >= Duration::from_millis(300));
    jira.stop().await;
}
