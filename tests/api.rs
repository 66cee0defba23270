//! The REST API of a real node, over HTTP.

use serde_json::json;
use sha2::{Digest, Sha256};

use crate::common::{Api, TestNode, read};

#[tokio::test]
async fn healthz_answers_without_a_token_and_node_info_with_one() {
    let node = TestNode::start_with(|c| c.name = Some("Support desk".into())).await;
    let resp = reqwest::get(format!("{}/healthz", node.url)).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "ok\n");

    let mut anonymous = node.api();
    anonymous.token = None;
    assert_eq!(anonymous.send(anonymous.get("/node")).await.0, 401);

    let api = node.api();
    let (status, info) = api.send(api.get("/node")).await;
    assert_eq!(status, 200);
    assert_eq!(info["name"], "Support desk");
    assert_eq!(info["tracker"], "builtin");
    assert_eq!(info["node_url"], node.url.as_str());
    assert_eq!(info["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(info["id"].as_str().unwrap().len(), 36);
}

#[tokio::test]
async fn the_node_keeps_its_identity_across_restarts() {
    let mut node = TestNode::start().await;
    let (_, first) = node.api().send(node.api().get("/node")).await;
    node.stop().await;
    let data_dir = node.data_dir.clone();
    let again = TestNode::start_with(|c| c.data_dir = data_dir).await;
    let (_, second) = again.api().send(again.api().get("/node")).await;
    assert_eq!(first["id"], second["id"]);
    assert_eq!(first["public_key"], second["public_key"]);
}

#[tokio::test]
async fn the_api_refuses_missing_and_wrong_tokens_with_a_json_error() {
    let node = TestNode::start().await;
    let mut api = node.api();
    api.token = None;
    let (status, body) = api.send(api.get("/items")).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "unauthorized");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Authorization: Bearer"),
        "{body}"
    );
    api.token = Some("not-a-real-token".into());
    let (status, body) = api.send(api.get("/items")).await;
    assert_eq!(status, 401);
    assert_eq!(
        body["error"]["message"],
        "the API token is not valid or has been revoked"
    );
}

#[tokio::test]
async fn items_are_created_read_updated_and_keyed_per_project() {
    let node = TestNode::start().await;
    let api = node.api();
    api.project("OPS").await;
    let first = api
        .item(json!({
            "project": "OPS",
            "summary": "Printer on floor 3 is jammed",
            "description": "Tray 2",
            "priority": "High",
            "assignee": {"name": "Ada Lovelace", "email": "ada@example.com"},
            "labels": ["sync", "hardware"],
            "custom_fields": {"Customer Tier": "Gold", "Story Points": 5}
        }))
        .await;
    assert_eq!(first["key"], "OPS-1");
    assert_eq!(first["status"], "To Do");
    assert_eq!(first["priority"], "High");
    assert_eq!(first["labels"], json!(["hardware", "sync"]));
    assert_eq!(first["reporter"]["name"], "admin token (configuration)");
    assert_eq!(first["version"], 1);
    let second = api
        .item(json!({"project": "OPS", "summary": "Second"}))
        .await;
    assert_eq!(second["key"], "OPS-2");

    let (status, updated) = api
        .json(
            api.patch("/items/OPS-1"),
            json!({"status": "In Progress", "assignee": null, "custom_fields": {"Story Points": 8}}),
        )
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["status"], "In Progress");
    assert_eq!(updated["assignee"], json!(null));
    assert_eq!(
        updated["custom_fields"],
        json!({"Customer Tier": "Gold", "Story Points": 8})
    );
    assert_eq!(updated["version"], 2);

    let (status, read_back) = api.send(api.get("/items/OPS-1")).await;
    assert_eq!(status, 200);
    assert_eq!(read_back, updated);

    let (_, history) = api.send(api.get("/items/OPS-1/history")).await;
    let fields: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["field"].as_str().unwrap())
        .collect();
    assert!(fields.contains(&"status"), "{history}");
    let status_change = history
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["field"] == "status")
        .unwrap();
    assert_eq!(status_change["from"], "To Do");
    assert_eq!(status_change["to"], "In Progress");

    let (_, events) = api.send(api.get("/events?after=0")).await;
    let kinds: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["item_created", "item_created", "item_updated"]);
}

#[tokio::test]
async fn bad_input_gets_a_clear_4xx() {
    let node = TestNode::start().await;
    let api = node.api();
    api.project("OPS").await;

    let resp = api
        .post("/items")
        .header("content-type", "application/json")
        .body("{\"project\": \"OPS\", \"summary\": ")
        .send()
        .await
        .unwrap();
    let (status, body) = read(resp).await;
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("malformed JSON: summary: EOF while parsing a value at line 1 column 30"),
        "{body}"
    );

    let (status, body) = api
        .json(api.post("/items"), json!({"project": "OPS", "summry": "x"}))
        .await;
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("unknown field `summry`"),
        "{body}"
    );

    let (status, body) = api
        .json(
            api.post("/items"),
            json!({"project": "OPS", "summary": "x", "status": "Closed"}),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        body["error"]["message"],
        "unknown status 'Closed': use one of To Do, In Progress, Done"
    );

    let (status, body) = api
        .json(
            api.post("/items"),
            json!({"project": "NOPE", "summary": "x"}),
        )
        .await;
    assert_eq!(status, 404, "{body}");

    let (status, body) = api.send(api.get("/items/OPS-99")).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["message"], "item OPS-99 does not exist");
    let (status, _) = api.send(api.get("/items/garbage")).await;
    assert_eq!(status, 404);

    let (status, body) = api.send(api.get("/items?query=statsu%20%3D%20Done")).await;
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("did you mean 'status'?"),
        "{body}"
    );

    let (status, body) = api
        .json(
            api.post("/projects"),
            json!({"key": "OPS", "name": "Again"}),
        )
        .await;
    assert_eq!(status, 409, "{body}");

    let (status, body) = api.send(api.get("/no-such-endpoint")).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "not_found");

    let (status, body) = api.send(api.delete("/items")).await;
    assert_eq!(status, 405);
    assert_eq!(
        body["error"]["message"],
        "DELETE is not supported on this endpoint"
    );
}

#[tokio::test]
async fn racing_updates_of_one_version_let_exactly_one_win() {
    let node = TestNode::start().await;
    let api = node.api();
    api.project("OPS").await;
    api.item(json!({"project": "OPS", "summary": "Race me"}))
        .await;

    let attempts = (0..8).map(|i| {
        let api = api.clone();
        async move {
            api.json(
                api.patch("/items/OPS-1"),
                json!({"summary": format!("Writer {i}"), "version": 1}),
            )
            .await
        }
    });
    let results = futures_join_all(attempts).await;
    let wins = results.iter().filter(|(s, _)| *s == 200).count();
    let conflicts: Vec<_> = results.iter().filter(|(s, _)| *s == 409).collect();
    assert_eq!(wins, 1, "{results:?}");
    assert_eq!(conflicts.len(), 7);
    assert!(
        conflicts[0].1["error"]["message"]
            .as_str()
            .unwrap()
            .contains("was changed by someone else"),
        "{:?}",
        conflicts[0]
    );

    // Without a version, concurrent comments are all kept: none is lost.
    let comments = (0..20).map(|i| {
        let api = api.clone();
        async move {
            api.json(
                api.post("/items/OPS-1/comments"),
                json!({"body": format!("comment {i}")}),
            )
            .await
            .0
        }
    });
    assert!(futures_join_all(comments).await.iter().all(|s| *s == 201));
    let (_, item) = api.send(api.get("/items/OPS-1")).await;
    assert_eq!(item["comments"].as_array().unwrap().len(), 20);
    assert_eq!(item["version"], 22);
}

async fn futures_join_all<F: std::future::Future + Send + 'static>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.expect("task"));
    }
    out
}

#[tokio::test]
async fn comments_and_attachments_round_trip() {
    let node = TestNode::start().await;
    let api = node.api();
    api.project("OPS").await;
    api.item(json!({"project": "OPS", "summary": "With files"}))
        .await;

    let (status, comment) = api
        .json(
            api.post("/items/OPS-1/comments"),
            json!({"body": "Vendor ticket 881", "internal": true, "author": {"name": "Alan Turing"}}),
        )
        .await;
    assert_eq!(status, 201, "{comment}");
    assert_eq!(comment["internal"], true);
    assert_eq!(comment["author"]["name"], "Alan Turing");
    let id = comment["id"].as_i64().unwrap();
    let (status, edited) = api
        .json(
            api.patch(&format!("/items/OPS-1/comments/{id}")),
            json!({"body": "Vendor ticket 882"}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(edited["body"], "Vendor ticket 882");
    assert!(edited["edited"].is_string());

    let bytes: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let part = reqwest::multipart::Part::bytes(bytes.clone())
        .file_name("dump.bin")
        .mime_str("application/octet-stream")
        .unwrap();
    let form = reqwest::multipart::Form::new().part("file", part);
    let (status, created) = api
        .send(api.post("/items/OPS-1/attachments").multipart(form))
        .await;
    assert_eq!(status, 201, "{created}");
    let attachment = &created[0];
    let expected_sha: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(attachment["sha256"], expected_sha.as_str());
    assert_eq!(attachment["size"], 200_000);

    let (status, raw) = api
        .send(
            api.post("/items/OPS-1/attachments?filename=notes.txt")
                .header("content-type", "text/plain")
                .body("hello"),
        )
        .await;
    assert_eq!(status, 201, "{raw}");
    assert_eq!(raw[0]["mime_type"], "text/plain");

    let url = format!(
        "{}{}",
        node.url,
        attachment["content_url"].as_str().unwrap()
    );
    let resp = reqwest::Client::new()
        .get(url)
        .bearer_auth(crate::common::TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("dump.bin")
    );
    assert_eq!(resp.bytes().await.unwrap().as_ref(), bytes.as_slice());

    let (_, item) = api.send(api.get("/items/OPS-1")).await;
    assert_eq!(item["attachments"].as_array().unwrap().len(), 2);
    assert_eq!(item["comments"].as_array().unwrap().len(), 1);

    let attachment_id = attachment["id"].as_i64().unwrap();
    let resp = api
        .delete(&format!("/items/OPS-1/attachments/{attachment_id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    let (_, item) = api.send(api.get("/items/OPS-1")).await;
    assert_eq!(item["attachments"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn search_filters_orders_and_pages() {
    let node = TestNode::start().await;
    let api = node.api();
    api.project("OPS").await;
    api.project("DEV").await;
    for (project, summary, labels, status, priority) in [
        ("OPS", "Printer jammed", vec!["sync"], "To Do", "Low"),
        (
            "OPS",
            "VPN down",
            vec!["sync", "network"],
            "In Progress",
            "Highest",
        ),
        ("OPS", "Old ticket", vec!["sync"], "Done", "Medium"),
        ("OPS", "Not synced", vec![], "To Do", "High"),
        ("DEV", "Build broken", vec!["sync"], "To Do", "High"),
    ] {
        api.item(json!({"project": project, "summary": summary, "labels": labels, "status": status, "priority": priority}))
            .await;
    }
    assert_eq!(
        search(&api, r#"project = OPS AND labels = sync AND status != Done AND updated >= "2020-01-01" ORDER BY priority DESC"#).await,
        ["VPN down", "Printer jammed"]
    );
    assert_eq!(
        search(&api, "summary ~ jam OR summary ~ build ORDER BY key").await,
        ["Build broken", "Printer jammed"]
    );
    assert_eq!(search(&api, "labels IS EMPTY").await, ["Not synced"]);

    let (_, page) = api
        .send(api.get("/items?query=project%20%3D%20OPS%20ORDER%20BY%20key&limit=2&offset=2"))
        .await;
    assert_eq!(page["total"], 4);
    let keys: Vec<_> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["OPS-3", "OPS-4"]);
}

async fn search(api: &Api, q: &str) -> Vec<String> {
    let (status, body) = api
        .send(api.get(&format!("/items?query={}", urlencode(q))))
        .await;
    assert_eq!(status, 200, "{body}");
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["summary"].as_str().unwrap().to_owned())
        .collect()
}

fn urlencode(s: &str) -> String {
    tandem_node::auth::urlencode(s)
}
