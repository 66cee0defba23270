//! Parsers of untrusted text refuse input nested too deep instead of overflowing the stack.
//!
//! The attacker holds an API token (or is a console user, or makes an admin click a console
//! link with the query in it) and sends one request whose text nests deeper than any real
//! query or script. Before, the recursive parsers and tree walks overflowed the stack and the
//! node aborted (or a 500 came back from SQLite); now the text is refused with a 400 naming the
//! limit, and the node keeps answering.

use serde_json::{Value, json};

use crate::common::{Api, TestNode};

fn message(body: &Value) -> String {
    body["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// The node still answers an ordinary request after the attack.
async fn still_answers(api: &Api) {
    let (status, body) = api.send(api.get("/node")).await;
    assert_eq!(status, 200, "the node stopped answering: {body}");
}

async fn search(api: &Api, query: &str) -> (u16, Value) {
    api.send(api.get("/items").query(&[("query", query)])).await
}

#[tokio::test]
async fn a_query_nested_thousands_deep_is_refused_naming_the_limit() {
    let node = TestNode::start().await;
    let api = node.api();
    api.project("OPS").await;
    let query = format!("{}status = Done{}", "(".repeat(3000), ")".repeat(3000));
    let (status, body) = search(&api, &query).await;
    assert_eq!(status, 400, "{body}");
    let text = message(&body);
    assert!(text.contains("nested too deeply"), "{body}");
    assert!(text.contains("100"), "the limit is named: {body}");
    still_answers(&api).await;
    // A real query still works.
    let (status, body) = search(
        &api,
        "(status = Done OR (priority = High)) AND NOT labels = x",
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn a_thousand_chained_nots_are_a_400_not_a_500() {
    let node = TestNode::start().await;
    let api = node.api();
    api.project("OPS").await;
    let query = format!("{}status = Done", "NOT ".repeat(1000));
    let (status, body) = search(&api, &query).await;
    assert_eq!(status, 400, "{body}");
    assert!(message(&body).contains("nested too deeply"), "{body}");
    // A thousand conditions joined by AND nest as deep for SQLite: refused the same way.
    let chain = vec!["status = Done"; 1000].join(" AND ");
    let (status, body) = search(&api, &chain).await;
    assert_eq!(status, 400, "{body}");
    assert!(message(&body).contains("nested too deeply"), "{body}");
    still_answers(&api).await;
}

#[tokio::test]
async fn rules_with_a_chain_of_eight_thousand_additions_are_refused_naming_the_limit() {
    let node = TestNode::start().await;
    let api = node.api();
    let (status, body) = api
        .json(
            api.post("/connections"),
            json!({"to": format!("{}/items", node.url), "mode": "script",
                   "local_name": "sup", "remote_name": "eng", "name": "deep"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let script = format!("replica.summary = {}", vec!["1"; 8000].join(" + "));
    let (status, body) = api
        .json(
            api.patch("/connections/deep"),
            json!({"outgoing_script": script}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let text = message(&body);
    assert!(text.contains("nested too deeply"), "{body}");
    assert!(text.contains("256"), "the limit is named: {body}");
    assert!(
        text.contains("outgoing:1:"),
        "shown with its line and column: {body}"
    );
    still_answers(&api).await;
    // A deep chain in parentheses and a long method chain are refused the same way.
    for script in [
        format!(
            "replica.summary = {}1{}",
            "(".repeat(3000),
            ")".repeat(3000)
        ),
        format!("replica.summary = \"x\"{}", ".trim()".repeat(8000)),
        format!("replica.summary = {}", vec!["!"; 8000].join("") + "true"),
    ] {
        let (status, body) = api
            .json(
                api.patch("/connections/deep"),
                json!({"incoming_script": script}),
            )
            .await;
        assert_eq!(status, 400, "{body}");
        assert!(message(&body).contains("nested too deeply"), "{body}");
    }
    // Rules of a real size are still saved.
    let script = format!(
        "replica.summary = {}",
        vec!["issue.summary"; 50].join(" + ")
    );
    let (status, body) = api
        .json(
            api.patch("/connections/deep"),
            json!({"outgoing_script": script}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    still_answers(&api).await;
}
