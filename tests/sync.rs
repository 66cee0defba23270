//! Two nodes on the built-in tracker, connected in Script mode with the default rules: items
//! brought under sync appear on the other side, and changes flow both ways without echo.

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::{Api, TestNode};

/// Two connected nodes: A serves project SUP, B project ENG.
pub(crate) async fn pair() -> (TestNode, TestNode) {
    let (a, b) = (TestNode::start().await, TestNode::start().await);
    a.api().project("SUP").await;
    b.api().project("ENG").await;
    let (status, body) = a
        .api()
        .json(
            a.api().post("/connections"),
            json!({"to": b.url, "mode": "script", "local_name": "sup", "remote_name": "eng", "name": "desk"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let code = body["invitation_code"].as_str().unwrap().to_owned();
    let (status, body) = b
        .api()
        .json(b.api().post("/invitations/accept"), json!({"code": code}))
        .await;
    assert_eq!(status, 201, "{body}");
    (a, b)
}

async fn item(api: &Api, key: &str) -> Value {
    let (status, body) = api.send(api.get(&format!("/items/{key}"))).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// Waits until `check` holds, or fails after 15 s with `what`.
pub(crate) async fn eventually<F, Fut>(what: &str, check: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..150 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what}");
}

async fn twins(api: &Api, key: &str) -> Value {
    let (status, body) = api.send(api.get(&format!("/sync/status/{key}"))).await;
    assert_eq!(status, 200, "{body}");
    body["twins"].clone()
}

#[tokio::test]
async fn an_exalated_item_appears_on_the_other_side_and_changes_flow_both_ways() {
    let (a, b) = pair().await;
    let (api_a, api_b) = (a.api(), b.api());
    let created = api_a
        .item(json!({"project": "SUP", "summary": "Checkout fails", "description": "500 on pay", "priority": "High", "labels": ["payments"]}))
        .await;
    let key = created["key"].as_str().unwrap().to_owned();
    let (status, body) = api_a
        .json(
            api_a.post("/sync/exalate"),
            json!({"connection": "desk", "item": key}),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    // B creates ENG-1 from the replica, and A learns B's key from the acknowledgement.
    eventually("B creates the twin", || async {
        let (status, _) = api_b.send(api_b.get("/items/ENG-1")).await;
        status == 200
    })
    .await;
    let on_b = item(&api_b, "ENG-1").await;
    assert_eq!(on_b["summary"], "Checkout fails");
    assert_eq!(on_b["description"], "500 on pay");
    assert_eq!(on_b["priority"], "High");
    assert_eq!(on_b["labels"], json!(["payments"]));
    eventually("A shows the remote key", || async {
        twins(&api_a, &key).await[0]["remote_key"] == "ENG-1"
    })
    .await;
    let on_b_twins = twins(&api_b, "ENG-1").await;
    assert_eq!(on_b_twins[0]["remote_key"], key.as_str());
    assert_eq!(on_b_twins[0]["connection"], "desk");

    // B changes the summary and status: A follows.
    let (status, body) = api_b
        .json(
            api_b.patch("/items/ENG-1"),
            json!({"summary": "Checkout fails for EU cards", "status": "In Progress"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    eventually("A gets B's change", || async {
        let on_a = item(&api_a, &key).await;
        on_a["summary"] == "Checkout fails for EU cards" && on_a["status"] == "In Progress"
    })
    .await;

    // A comments: B gets it once, with the author, and A does not get it back.
    let (status, body) = api_a
        .json(
            api_a.post(&format!("/items/{key}/comments")),
            json!({"body": "Customer confirmed"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    eventually("B gets the comment", || async {
        item(&api_b, "ENG-1").await["comments"]
            .as_array()
            .is_some_and(|c| c.len() == 1)
    })
    .await;
    let comment = item(&api_b, "ENG-1").await["comments"][0].clone();
    assert!(
        comment["body"]
            .as_str()
            .unwrap()
            .ends_with("commented: Customer confirmed"),
        "{comment}"
    );
    // Let any echo arrive before counting.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        item(&api_a, &key).await["comments"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        item(&api_b, "ENG-1").await["comments"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let (_, errors_a) = api_a.send(api_a.get("/sync/errors")).await;
    let (_, errors_b) = api_b.send(api_b.get("/sync/errors")).await;
    assert_eq!(errors_a["errors"], json!([]), "{errors_a}");
    assert_eq!(errors_b["errors"], json!([]), "{errors_b}");
}
