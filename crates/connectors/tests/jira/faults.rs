//! Rate limits and failures: a 429 is waited out as `Retry-After` asks (and its
//! `X-RateLimit-*` headers kept), a longer wait is handed to the caller, reads are retried
//! after a 5xx, a create is repeated only after a 429 (when Jira certainly did nothing), and bad
//! credentials say so.

use std::time::{Duration, Instant};

use serde_json::json;
use tandem_connectors::jira::{
    Auth, Client, ClientConfig, ErrorKind, FieldValue, Flavour, JiraError, NewIssue,
};

use super::common::{PROJECT, fast_retries, start};

#[tokio::test]
async fn a_rate_limit_is_waited_out_as_retry_after_asks() {
    let site = start(Flavour::Cloud).await;
    let c = site.client();
    site.set_faults(json!({"rate_limited_requests": 2, "retry_after_secs": 1}))
        .await;
    let started = Instant::now();
    let projects = c.projects().await.expect("after the waits");
    assert!(!projects.is_empty());
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(c.requests_sent(), 3);
    let rate = c.rate_limit().expect("X-RateLimit-* headers kept");
    assert_eq!(rate.remaining, Some(0));
    assert!(rate.limit.is_some());
    site.stop().await;
}

#[tokio::test]
async fn a_wait_longer_than_the_policy_allows_goes_back_to_the_caller() {
    let site = start(Flavour::DataCenter).await;
    let c = site.client();
    site.set_faults(json!({"rate_limited_requests": 1, "retry_after_secs": 60}))
        .await;
    let started = Instant::now();
    let e = c.projects().await.expect_err("rate limited");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(
        matches!(&e, JiraError::RateLimited { retry_after, .. } if retry_after.as_secs() == 60),
        "{e}"
    );
    assert!(e.is_transient());
    assert_eq!(e.status(), Some(429));
    site.stop().await;
}

#[tokio::test]
async fn reads_are_retried_after_server_errors() {
    let site = start(Flavour::Cloud).await;
    let c = site.client();
    site.set_faults(json!({"server_error_requests": 2})).await;
    c.statuses().await.expect("third time lucky");
    assert_eq!(c.requests_sent(), 3);

    site.set_faults(json!({"server_error_requests": 10})).await;
    let e = c.priorities().await.expect_err("still failing");
    assert_eq!(e.status(), Some(500));
    assert_eq!(e.kind(), ErrorKind::Transient, "{e}");
    site.stop().await;
}

#[tokio::test]
async fn a_write_is_repeated_after_a_429_because_jira_did_nothing() {
    let site = start(Flavour::Cloud).await;
    let c = site.client();
    let issue = c
        .create_issue(
            &NewIssue {
                project: PROJECT.into(),
                issue_type: "Task".into(),
                fields: vec![("summary".into(), FieldValue::Text("rate limited".into()))],
            },
            None,
        )
        .await
        .expect("create");
    site.set_faults(json!({"rate_limited_requests": 1, "retry_after_secs": 1}))
        .await;
    c.add_comment(&issue.key, "once", false)
        .await
        .expect("after the 429");
    assert_eq!(c.comments(&issue.key).await.expect("list").len(), 1);
    site.stop().await;
}

#[tokio::test]
async fn wrong_credentials_are_reported_as_such() {
    for flavour in [Flavour::Cloud, Flavour::DataCenter] {
        let site = start(flavour).await;
        let auth = match flavour {
            Flavour::Cloud => Auth::ApiToken {
                email: super::common::USER.into(),
                token: "wrong".into(),
            },
            Flavour::DataCenter => Auth::PersonalAccessToken {
                token: "wrong".into(),
            },
        };
        let mut config = ClientConfig::new(&site.base(), flavour, auth);
        config.retry = fast_retries();
        let c = Client::new(config).expect("client");
        let e = c.myself().await.expect_err("refused");
        assert_eq!(e.kind(), ErrorKind::Unauthorized, "{e}");
        assert!(
            !format!("{e:?}").contains("wrong\""),
            "the token is not shown: {e:?}"
        );
        site.stop().await;
    }
}
