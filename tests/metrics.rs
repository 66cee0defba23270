//! `/metrics`: two connected nodes sync items, and each node's scrape shows its own work —
//! twins per connection, an emptied queue, delivery attempts, applies, HTTP requests by route
//! template — behind a token on the node's address, and without one on `--metrics-listen`.

use std::collections::HashMap;

use serde_json::json;

use crate::common::TestNode;
use crate::sync::{connect, eventually};

/// The samples of an exposition, by series exactly as written (`name{label="value",…}`).
fn samples(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| {
            let (series, value) = line
                .rsplit_once(' ')
                .unwrap_or_else(|| panic!("a sample line has a value: {line:?}"));
            let value = value
                .parse()
                .unwrap_or_else(|e| panic!("{line:?}: the value is not a number: {e}"));
            (series.to_owned(), value)
        })
        .collect()
}

/// Scrapes `url` with `token` (none: no Authorization header): the status and the body.
async fn get(url: &str, token: Option<&str>) -> (u16, String, String) {
    let mut request = reqwest::Client::new().get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("the node answers");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, content_type, response.text().await.expect("a body"))
}

/// The samples of a node's `/metrics`, read with the admin token.
async fn scrape(node: &TestNode) -> HashMap<String, f64> {
    let (status, _, text) = get(&format!("{}/metrics", node.url), Some(crate::common::TOKEN)).await;
    assert_eq!(status, 200, "{text}");
    assert!(text.ends_with("# EOF\n"), "{text}");
    samples(&text)
}

fn value(samples: &HashMap<String, f64>, series: &str) -> f64 {
    *samples
        .get(series)
        .unwrap_or_else(|| panic!("no sample {series} in {samples:#?}"))
}

#[tokio::test]
async fn metrics_count_each_nodes_own_sync_work_and_need_a_token_except_on_the_metrics_address() {
    let a = TestNode::start_with(|c| c.metrics_listen = Some("127.0.0.1:0".parse().unwrap())).await;
    let b = TestNode::start().await;
    connect(&a, &b, "script").await;
    let (api_a, api_b) = (a.api(), b.api());
    for n in 1..=3 {
        let item = api_a
            .item(json!({"project": "SUP", "summary": format!("Item {n}")}))
            .await;
        let (status, body) = api_a
            .json(
                api_a.post("/sync/exalate"),
                json!({"connection": "desk", "item": item["key"]}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    eventually("B has the three twins", || async {
        api_b.send(api_b.get("/items/ENG-3")).await.0 == 200
    })
    .await;
    // Every replica and every acknowledgement is delivered: both queues run empty.
    eventually("both queues are empty", || async {
        let (on_a, on_b) = (scrape(&a).await, scrape(&b).await);
        value(&on_a, "tandem_queue_messages{connection=\"desk\"}") == 0.0
            && value(&on_b, "tandem_queue_messages{connection=\"desk\"}") == 0.0
    })
    .await;

    let on_a = scrape(&a).await;
    assert_eq!(value(&on_a, "tandem_twins{connection=\"desk\"}"), 3.0);
    assert_eq!(
        value(
            &on_a,
            "tandem_queue_oldest_message_age_seconds{connection=\"desk\"}"
        ),
        0.0
    );
    assert!(value(&on_a, "tandem_delivery_attempts_total{connection=\"desk\"}") >= 1.0);
    assert_eq!(
        value(
            &on_a,
            "tandem_http_requests_total{method=\"POST\",route=\"/api/v1/sync/exalate\",status=\"2xx\"}"
        ),
        3.0
    );
    assert_eq!(
        value(
            &on_a,
            "tandem_http_request_duration_seconds_count{method=\"POST\",route=\"/api/v1/sync/exalate\",status=\"2xx\"}"
        ),
        3.0
    );
    assert_eq!(
        value(&on_a, "tandem_sync_errors_open{connection=\"desk\"}"),
        0.0
    );
    assert_eq!(
        value(&on_a, "tandem_sync_errors_open{connection=\"\"}"),
        0.0
    );
    assert_eq!(value(&on_a, "tandem_storage_errors_total"), 0.0);
    // A applies B's acknowledgements; B applies the three replicas (each is counted once its
    // apply is recorded, so wait for the last).
    eventually("A applied B's acknowledgements", || async {
        value(
            &scrape(&a).await,
            "tandem_apply_duration_seconds_count{connection=\"desk\"}",
        ) >= 3.0
    })
    .await;
    eventually("B applied the three replicas", || async {
        value(
            &scrape(&b).await,
            "tandem_apply_duration_seconds_count{connection=\"desk\"}",
        ) == 3.0
    })
    .await;

    // B counts its own work, not A's: the twins it made, and
    // the raw paths the test asked for under their route template.
    let on_b = scrape(&b).await;
    assert_eq!(value(&on_b, "tandem_twins{connection=\"desk\"}"), 3.0);
    assert!(
        !on_b.keys().any(|k| k.contains("/sync/exalate")),
        "{on_b:#?}"
    );
    assert!(
        value(
            &on_b,
            "tandem_http_requests_total{method=\"GET\",route=\"/api/v1/items/{key}\",status=\"2xx\"}"
        ) >= 1.0
    );
    assert!(!on_b.keys().any(|k| k.contains("ENG-3")), "{on_b:#?}");
    // A path no route has is one series, whatever the path.
    let _ = get(&format!("{}/no/such/page/42", b.url), None).await;
    let on_b = scrape(&b).await;
    assert!(
        on_b.keys()
            .any(|k| k.starts_with("tandem_http_requests_total{method=\"GET\",route=\"unmatched\"")),
        "{on_b:#?}"
    );
    assert!(!on_b.keys().any(|k| k.contains("/no/such")), "{on_b:#?}");

    // On the node's address: no token, no metrics; a read-only token is enough.
    let url = format!("{}/metrics", a.url);
    let (status, _, body) = get(&url, None).await;
    assert_eq!(status, 401, "{body}");
    let (status, _, body) = get(&url, Some("not-a-token")).await;
    assert_eq!(status, 401, "{body}");
    let read_token = "metrics-read-token-0123456789";
    a.node
        .as_ref()
        .unwrap()
        .state
        .store()
        .create_api_token(
            "prometheus",
            &tandem_node::auth::hash_token(read_token),
            "test",
            tandem_store::TokenScope::ReadOnly,
        )
        .await
        .unwrap();
    let (status, content_type, body) = get(&url, Some(read_token)).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    assert_eq!(
        value(&samples(&body), "tandem_twins{connection=\"desk\"}"),
        3.0
    );

    // The metrics address answers without a token, and serves nothing else.
    let metrics_addr = a
        .node
        .as_ref()
        .unwrap()
        .metrics_addr
        .expect("a metrics address");
    let (status, _, body) = get(&format!("http://{metrics_addr}/metrics"), None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        value(&samples(&body), "tandem_twins{connection=\"desk\"}"),
        3.0
    );
    let (status, _, _) = get(&format!("http://{metrics_addr}/api/v1/items/SUP-1"), None).await;
    assert_eq!(status, 404);
    // B was started without one.
    assert_eq!(b.node.as_ref().unwrap().metrics_addr, None);
}
