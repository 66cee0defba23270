//! Two nodes on the built-in tracker, connected in Script mode with the default rules: items
//! brought under sync appear on the other side, and changes flow both ways without echo.

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::{Api, TestNode};

/// Two connected nodes: A serves project SUP, B project ENG.
pub async fn pair() -> (TestNode, TestNode) {
    let (a, b) = (TestNode::start().await, TestNode::start().await);
    connect(&a, &b, "script").await;
    (a, b)
}

/// Makes project SUP on A and ENG on B and connects them (`desk`, A initiates) in `mode`.
pub(crate) async fn connect(a: &TestNode, b: &TestNode, mode: &str) {
    a.api().project("SUP").await;
    b.api().project("ENG").await;
    let (status, body) = a
        .api()
        .json(
            a.api().post("/connections"),
            json!({"to": b.url, "mode": mode, "local_name": "sup", "remote_name": "eng", "name": "desk"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let code = body["invitation_code"].as_str().unwrap().to_owned();
    let (status, body) = b
        .api()
        .json(b.api().post("/invitations/accept"), json!({"code": code}))
        .await;
    assert_eq!(status, 201, "{body}");
}

/// A vendor key pair from `tandem license keygen`: (secret, public).
fn vendor_keys() -> (String, String) {
    let keys = crate::console::tandem(&["license", "keygen"]);
    let lines: Vec<&str> = keys.lines().map(str::trim).collect();
    (lines[1].to_owned(), lines[3].to_owned())
}

/// Writes a setting into the database in `data` before a node starts on it.
async fn preset(data: &std::path::Path, key: &str, value: &str) {
    use tandem_store::prelude::*;
    std::fs::create_dir_all(data).unwrap();
    let store =
        tandem_store::sqlite::SqliteStore::open(&data.join("tandem.db"), Default::default())
            .unwrap();
    store.set_setting(key, value).await.unwrap();
}

pub(crate) async fn item(api: &Api, key: &str) -> Value {
    let (status, body) = api.send(api.get(&format!("/items/{key}"))).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// Waits until `check` holds, or fails after 15 s with `what`.
pub async fn eventually<F, Fut>(what: &str, check: F)
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

/// Waits until the connection `desk` is at rest on both sides: no message waits for the
/// remote, none received waits to be applied, the sync engine has looked at every change of
/// the items, and the message counts read the same twice in a row. A check that something
/// did *not* happen (no echo came back, nothing was copied) reads after this, not after a
/// pause of a guessed length.
pub async fn settled(a: &Api, b: &Api) {
    let mut last = None;
    for _ in 0..300 {
        let now = (at_rest(a).await, at_rest(b).await);
        if let (Some(x), Some(y)) = now {
            if last == Some((x, y)) {
                return;
            }
            last = Some((x, y));
        } else {
            last = None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the connection did not come to rest in 30 s");
}

/// The connection's message counts (sent, received) when nothing is on its way, else `None`.
async fn at_rest(api: &Api) -> Option<(u64, u64)> {
    let (status, s) = api.send(api.get("/connections/desk/statistics")).await;
    assert_eq!(status, 200, "{s}");
    let count = |name: &str| s[name].as_u64().unwrap_or_else(|| panic!("{name} in {s}"));
    (count("queued") == 0 && count("incoming") == 0 && count("changes_waiting") == 0)
        .then(|| (count("events_sent"), count("events_received")))
}

pub(crate) async fn twins(api: &Api, key: &str) -> Value {
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
    // Any echo would have arrived by the time the connection is at rest.
    settled(&api_a, &api_b).await;
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

pub(crate) async fn exalate(api: &Api, connection: &str, key: &str) {
    let (status, body) = api
        .json(
            api.post("/sync/exalate"),
            json!({"connection": connection, "item": key}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

pub(crate) async fn exists(api: &Api, key: &str) -> bool {
    api.send(api.get(&format!("/items/{key}"))).await.0 == 200
}

#[tokio::test]
async fn comment_edits_and_deletions_follow_their_twin() {
    let (a, b) = pair().await;
    let (api_a, api_b) = (a.api(), b.api());
    api_a
        .item(json!({"project": "SUP", "summary": "Slow search"}))
        .await;
    let (_, comment) = api_a
        .json(
            api_a.post("/items/SUP-1/comments"),
            json!({"body": "First look"}),
        )
        .await;
    let comment_id = comment["id"].as_i64().expect("comment id");
    exalate(&api_a, "desk", "SUP-1").await;
    eventually("B gets the comment", || async {
        exists(&api_b, "ENG-1").await
            && item(&api_b, "ENG-1").await["comments"]
                .as_array()
                .is_some_and(|c| c.len() == 1)
    })
    .await;

    let (status, body) = api_a
        .json(
            api_a.patch(&format!("/items/SUP-1/comments/{comment_id}")),
            json!({"body": "First look: the index is cold"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    eventually("B gets the edit", || async {
        item(&api_b, "ENG-1").await["comments"][0]["body"]
            .as_str()
            .is_some_and(|b| b.ends_with("the index is cold"))
    })
    .await;

    let (status, body) = api_a
        .send(api_a.delete(&format!("/items/SUP-1/comments/{comment_id}")))
        .await;
    assert_eq!(status, 204, "{body}");
    eventually("B deletes its copy", || async {
        item(&api_b, "ENG-1").await["comments"]
            .as_array()
            .is_some_and(|c| c.is_empty())
    })
    .await;

    // The other way: a comment made on B, edited and deleted there.
    let (status, comment) = api_b
        .json(
            api_b.post("/items/ENG-1/comments"),
            json!({"body": "Reproduced on staging"}),
        )
        .await;
    assert_eq!(status, 201, "{comment}");
    let b_comment = comment["id"].as_i64().expect("comment id");
    let a_bodies = || async {
        item(&api_a, "SUP-1").await["comments"]
            .as_array()
            .map(|c| {
                c.iter()
                    .map(|c| c["body"].as_str().unwrap_or_default().to_owned())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    eventually("A gets B's comment", || async {
        let bodies = a_bodies().await;
        bodies.len() == 1 && bodies[0].ends_with("Reproduced on staging")
    })
    .await;
    let (status, body) = api_b
        .json(
            api_b.patch(&format!("/items/ENG-1/comments/{b_comment}")),
            json!({"body": "Reproduced on staging and production"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    eventually("A gets B's edit", || async {
        let bodies = a_bodies().await;
        bodies.len() == 1 && bodies[0].ends_with("staging and production")
    })
    .await;
    let (status, body) = api_b
        .send(api_b.delete(&format!("/items/ENG-1/comments/{b_comment}")))
        .await;
    assert_eq!(status, 204, "{body}");
    eventually("A deletes its copy", || async {
        a_bodies().await.is_empty()
    })
    .await;
}

#[tokio::test]
async fn a_trigger_brings_matching_items_under_sync_and_bulk_exalate_takes_the_rest() {
    let (a, b) = pair().await;
    let (api_a, api_b) = (a.api(), b.api());
    for summary in ["Old one", "Older one"] {
        api_a
            .item(json!({"project": "SUP", "summary": summary, "priority": "Highest"}))
            .await;
    }
    let (status, body) = api_a
        .json(
            api_a.post("/connections/desk/triggers"),
            json!({"query": "project = SUP AND priority = Highest", "note": "urgent ones"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let trigger = body["trigger"]["id"].as_i64().unwrap();
    let (status, body) = api_a
        .json(
            api_a.post("/connections/desk/triggers"),
            json!({"query": "priority = = High"}),
        )
        .await;
    assert_eq!(
        status, 400,
        "a query that does not parse is refused: {body}"
    );

    // A new matching item comes under sync by itself; a non-matching one does not.
    api_a
        .item(json!({"project": "SUP", "summary": "Fresh fire", "priority": "Highest"}))
        .await;
    api_a
        .item(json!({"project": "SUP", "summary": "Just a question", "priority": "Low"}))
        .await;
    eventually("the new urgent item is synced", || async {
        twins(&api_a, "SUP-3")
            .await
            .as_array()
            .is_some_and(|t| t.len() == 1)
    })
    .await;
    assert_eq!(twins(&api_a, "SUP-4").await, json!([]));

    // Bulk Exalate takes the two that matched before the trigger existed.
    let (status, body) = api_a
        .json(
            api_a.post("/sync/bulk"),
            json!({"connection": "desk", "trigger": trigger}),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let job = body["job"].as_u64().unwrap();
    eventually("the bulk job finishes", || async {
        let (_, p) = api_a.send(api_a.get(&format!("/sync/bulk/{job}"))).await;
        p["finished"] == true && p["done"] == 3 && p["error"].is_null()
    })
    .await;
    eventually("B has three items", || async {
        exists(&api_b, "ENG-3").await
    })
    .await;
    assert!(
        !exists(&api_b, "ENG-4").await,
        "no duplicate from the bulk run"
    );
}

#[tokio::test]
async fn unexalate_stops_both_sides_and_connect_links_existing_items() {
    let (a, b) = pair().await;
    let (api_a, api_b) = (a.api(), b.api());
    api_a
        .item(json!({"project": "SUP", "summary": "Linked later"}))
        .await;
    api_b
        .item(json!({"project": "ENG", "summary": "Already filed"}))
        .await;

    let (status, body) = api_a
        .json(
            api_a.post("/sync/connect"),
            json!({"connection": "desk", "item": "SUP-1", "remote_key": "ENG-1"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    eventually("B records the link", || async {
        twins(&api_b, "ENG-1").await[0]["remote_key"] == "SUP-1"
    })
    .await;
    assert_eq!(
        item(&api_b, "ENG-1").await["summary"],
        "Already filed",
        "Connect copies nothing"
    );

    // Changes flow after Connect.
    api_b
        .json(
            api_b.patch("/items/ENG-1"),
            json!({"summary": "Filed and linked"}),
        )
        .await;
    eventually("A follows B", || async {
        item(&api_a, "SUP-1").await["summary"] == "Filed and linked"
    })
    .await;

    let (status, body) = api_a
        .json(
            api_a.post("/sync/unexalate"),
            json!({"connection": "desk", "item": "SUP-1"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    eventually("B stops too", || async {
        twins(&api_b, "ENG-1").await[0]["state"] == "stopped"
    })
    .await;
    api_b
        .json(
            api_b.patch("/items/ENG-1"),
            json!({"summary": "Not synced any more"}),
        )
        .await;
    settled(&api_a, &api_b).await;
    assert_eq!(item(&api_a, "SUP-1").await["summary"], "Filed and linked");

    // Exalate again: both halves sync again, both ways, and what B changed meanwhile arrives.
    exalate(&api_a, "desk", "SUP-1").await;
    eventually("B's twin is active again", || async {
        twins(&api_b, "ENG-1").await[0]["state"] == "active"
    })
    .await;
    eventually("B's change made while stopped reaches A", || async {
        item(&api_a, "SUP-1").await["summary"] == "Not synced any more"
    })
    .await;
    api_b
        .json(
            api_b.patch("/items/ENG-1"),
            json!({"summary": "Synced again"}),
        )
        .await;
    eventually("A follows B again", || async {
        item(&api_a, "SUP-1").await["summary"] == "Synced again"
    })
    .await;
}

#[tokio::test]
async fn a_connect_the_remote_cannot_take_comes_back_as_an_error_and_copies_nothing() {
    let (a, b) = pair().await;
    let (api_a, api_b) = (a.api(), b.api());
    for summary in ["Linked to nothing", "Second try", "Taken"] {
        api_a
            .item(json!({"project": "SUP", "summary": summary}))
            .await;
    }
    api_b
        .item(json!({"project": "ENG", "summary": "Filed on B"}))
        .await;
    let connect = |item: &str, remote: &str| {
        let (api_a, body) = (
            api_a.clone(),
            json!({"connection": "desk", "item": item, "remote_key": remote}),
        );
        async move {
            let (status, body) = api_a.json(api_a.post("/sync/connect"), body).await;
            assert_eq!(status, 200, "{body}");
        }
    };
    let errors =
        |api: Api| async move { api.send(api.get("/sync/errors")).await.1["errors"].clone() };

    // A key B has no item for, and then a change of A's item sent before B's answer is back.
    connect("SUP-1", "ENG-99").await;
    api_a
        .json(
            api_a.patch("/items/SUP-1"),
            json!({"summary": "Changed right after"}),
        )
        .await;
    eventually("A shows the refusal on the item", || async {
        errors(api_a.clone())
            .await
            .as_array()
            .is_some_and(|e| !e.is_empty())
    })
    .await;
    let error = errors(api_a.clone()).await[0].clone();
    assert_eq!(error["impact"], "item");
    assert_eq!(error["local_key"], "SUP-1");
    let message = error["message"].as_str().unwrap();
    // The one reason a remote gives for every Connect it does not take: whether ENG-99
    // exists there is not for A to learn.
    assert!(
        message.contains("no item this connection reaches on the remote has that key"),
        "{message}"
    );
    assert!(message.contains("Connect again"), "{message}");
    eventually("A's link is removed", || async {
        twins(&api_a, "SUP-1").await == json!([])
    })
    .await;

    // Not a key B's tracker has at all.
    connect("SUP-2", "nonsense").await;
    eventually("A shows the second refusal", || async {
        errors(api_a.clone())
            .await
            .as_array()
            .is_some_and(|e| e.len() == 2)
    })
    .await;
    let errors_now = errors(api_a.clone()).await;
    let second = errors_now
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["local_key"] == "SUP-2")
        .expect("SUP-2's error");
    assert_eq!(
        second["message"]
            .as_str()
            .unwrap()
            .replace("SUP-2", "SUP-1")
            .replace("nonsense", "ENG-99"),
        message,
        "not a key reads like no such item"
    );

    // A Connect to an item already linked is refused where it is asked, and the link stays.
    connect("SUP-3", "ENG-1").await;
    eventually("B links ENG-1 to SUP-3", || async {
        twins(&api_b, "ENG-1").await[0]["remote_key"] == "SUP-3"
    })
    .await;
    let (status, body) = api_a
        .json(
            api_a.post("/sync/connect"),
            json!({"connection": "desk", "item": "SUP-2", "remote_key": "ENG-1"}),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(twins(&api_b, "ENG-1").await[0]["remote_key"], "SUP-3");

    // Nothing was copied to B, and B has no errors of its own.
    settled(&api_a, &api_b).await;
    assert!(!exists(&api_b, "ENG-2").await, "no copy of SUP-1 on B");
    assert_eq!(errors(api_b.clone()).await, json!([]));

    // Resolve and retry dismisses the error; a Connect to a real key then works.
    let id = error["id"].as_i64().unwrap();
    let (status, body) = api_a
        .send(api_a.post(&format!("/sync/errors/{id}/retry")))
        .await;
    assert_eq!(status, 200, "{body}");
    // One that does not exist is not found, not a bad request.
    let (status, body) = api_a
        .send(api_a.post(&format!("/sync/errors/{}/retry", id + 1000)))
        .await;
    assert_eq!(status, 404, "{body}");
    assert!(body.to_string().contains("sync error"), "{body}");
    let b_item = api_b
        .item(json!({"project": "ENG", "summary": "The right one"}))
        .await;
    let b_key = b_item["key"].as_str().unwrap();
    connect("SUP-1", b_key).await;
    eventually("B links its item to SUP-1", || async {
        twins(&api_b, b_key).await[0]["remote_key"] == "SUP-1"
    })
    .await;

    // The two refused links do not count against the month's twins.
    let client = crate::console::browser();
    crate::console::login(&a, &client).await;
    let page = crate::console::get_page(&client, format!("{}/settings/license", a.url)).await;
    assert!(page.contains("unlimited (2 made this month)"), "{page}");
}

#[tokio::test]
async fn a_private_connection_syncs_both_ways() {
    let (a, b) = (TestNode::start().await, TestNode::start().await);
    let (api_a, api_b) = (a.api(), b.api());
    api_a.project("SUP").await;
    api_b.project("ENG").await;
    let (_, body) = api_a
        .json(
            api_a.post("/connections"),
            json!({"private": true, "mode": "script", "local_name": "sup", "remote_name": "eng", "name": "hidden"}),
        )
        .await;
    let code = body["invitation_code"].as_str().unwrap().to_owned();
    let (status, body) = api_b
        .json(api_b.post("/invitations/accept"), json!({"code": code}))
        .await;
    assert_eq!(status, 201, "{body}");

    api_a
        .item(json!({"project": "SUP", "summary": "From the public side"}))
        .await;
    exalate(&api_a, "hidden", "SUP-1").await;
    eventually("the private side polls it in", || async {
        exists(&api_b, "ENG-1").await
    })
    .await;
    api_b
        .json(
            api_b.patch("/items/ENG-1"),
            json!({"summary": "Answered from the private side"}),
        )
        .await;
    eventually("the private side pushes its change", || async {
        item(&api_a, "SUP-1").await["summary"] == "Answered from the private side"
    })
    .await;
}

#[tokio::test]
async fn a_local_connection_syncs_two_projects_of_one_node() {
    let a = TestNode::start().await;
    let api = a.api();
    api.project("SUP").await;
    api.project("ENG").await;
    let (status, body) = api
        .json(
            api.post("/connections"),
            json!({"to": a.url, "mode": "script", "local_name": "sup", "remote_name": "eng", "name": "inside"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    // Items from SUP go to ENG and back: the rules choose the other project.
    let incoming = "if (firstSync) { issue.projectKey = replica.key.startsWith('SUP-') ? 'ENG' : 'SUP' }\nissue.summary = replica.summary\nissue.status = replica.status";
    let (status, body) = api
        .json(
            api.patch("/connections/inside"),
            json!({"incoming_script": incoming}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    api.item(json!({"project": "SUP", "summary": "Needs engineering"}))
        .await;
    exalate(&api, "inside", "SUP-1").await;
    eventually("ENG-1 is created", || async { exists(&api, "ENG-1").await }).await;
    api.json(api.patch("/items/ENG-1"), json!({"status": "Done"}))
        .await;
    eventually("SUP-1 follows", || async {
        item(&api, "SUP-1").await["status"] == "Done"
    })
    .await;
    assert!(!exists(&api, "SUP-2").await, "no echo item");
    assert!(!exists(&api, "ENG-2").await, "no duplicate");
}

#[tokio::test]
async fn concurrent_edits_of_one_field_converge_and_the_overwritten_value_is_recorded() {
    let (a, b) = pair().await;
    let (api_a, api_b) = (a.api(), b.api());
    api_a
        .item(json!({"project": "SUP", "summary": "Original"}))
        .await;
    exalate(&api_a, "desk", "SUP-1").await;
    eventually("B has the twin", || async {
        exists(&api_b, "ENG-1").await && twins(&api_a, "SUP-1").await[0]["remote_key"] == "ENG-1"
    })
    .await;

    // A pauses: its change waits, and B's change waits on A; both edit the summary.
    api_a.send(api_a.post("/connections/desk/deactivate")).await;
    api_a
        .json(
            api_a.patch("/items/SUP-1"),
            json!({"summary": "A's wording"}),
        )
        .await;
    api_b
        .json(
            api_b.patch("/items/ENG-1"),
            json!({"summary": "B's wording"}),
        )
        .await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    api_a.send(api_a.post("/connections/desk/activate")).await;
    eventually("both sides agree", || async {
        let (x, y) = (item(&api_a, "SUP-1").await, item(&api_b, "ENG-1").await);
        x["summary"] == y["summary"]
            && twins(&api_a, "SUP-1").await.is_array()
            && !status_conflicts(&api_a, "SUP-1").await.is_empty()
            && !status_conflicts(&api_b, "ENG-1").await.is_empty()
    })
    .await;
    // Both keep the initiator's (A's) wording and record B's as overwritten.
    assert_eq!(item(&api_a, "SUP-1").await["summary"], "A's wording");
    assert_eq!(item(&api_b, "ENG-1").await["summary"], "A's wording");
    let on_a = status_conflicts(&api_a, "SUP-1").await;
    assert_eq!(on_a[0]["field"], "summary");
    assert_eq!(on_a[0]["remote_value"], "B's wording");
    assert_eq!(on_a[0]["kept"], "local");
    let on_b = status_conflicts(&api_b, "ENG-1").await;
    assert_eq!(on_b[0]["local_value"], "B's wording");
    assert_eq!(on_b[0]["kept"], "remote");
}

async fn status_conflicts(api: &Api, key: &str) -> Vec<Value> {
    let (_, body) = api.send(api.get(&format!("/sync/status/{key}"))).await;
    body["conflicts"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn attachments_travel_with_their_content_and_removals_follow() {
    let (a, b) = pair().await;
    let (api_a, api_b) = (a.api(), b.api());
    api_a
        .item(json!({"project": "SUP", "summary": "Screenshot attached"}))
        .await;
    let bytes = b"\x89PNG fake screenshot bytes".repeat(100);
    let (status, attachment) = api_a
        .send(
            api_a
                .post("/items/SUP-1/attachments?filename=screen.png")
                .header("content-type", "image/png")
                .body(bytes.clone()),
        )
        .await;
    assert_eq!(status, 201, "{attachment}");
    let attachment = attachment[0].clone();
    let id = attachment["id"].as_i64().unwrap();
    exalate(&api_a, "desk", "SUP-1").await;
    eventually("B gets the file", || async {
        exists(&api_b, "ENG-1").await
            && item(&api_b, "ENG-1").await["attachments"]
                .as_array()
                .is_some_and(|a| a.len() == 1)
    })
    .await;
    let on_b = item(&api_b, "ENG-1").await["attachments"][0].clone();
    assert_eq!(on_b["filename"], "screen.png");
    assert_eq!(on_b["sha256"], attachment["sha256"], "{on_b}");
    let b_id = on_b["id"].as_i64().unwrap();
    let got = api_b
        .get(&format!("/items/ENG-1/attachments/{b_id}"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(&got[..], &bytes[..]);

    // A later change does not send the file again, and B's copy does not come back to A.
    api_a
        .json(
            api_a.patch("/items/SUP-1"),
            json!({"summary": "Screenshot attached (v2)"}),
        )
        .await;
    eventually("B follows the summary", || async {
        item(&api_b, "ENG-1").await["summary"] == "Screenshot attached (v2)"
    })
    .await;
    settled(&api_a, &api_b).await;
    assert_eq!(
        item(&api_a, "SUP-1").await["attachments"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let (status, _) = api_a
        .send(api_a.delete(&format!("/items/SUP-1/attachments/{id}")))
        .await;
    assert!(status == 204 || status == 200, "{status}");
    eventually("B removes its copy", || async {
        item(&api_b, "ENG-1").await["attachments"]
            .as_array()
            .is_some_and(|a| a.is_empty())
    })
    .await;

    // The other way: a file attached on B reaches A whole, and its removal follows.
    let log = b"2026-12-05 12:00:01 ERROR search timeout\n".repeat(50);
    let (status, attached) = api_b
        .send(
            api_b
                .post("/items/ENG-1/attachments?filename=server.log")
                .header("content-type", "text/plain")
                .body(log.clone()),
        )
        .await;
    assert_eq!(status, 201, "{attached}");
    let b_file = attached[0]["id"].as_i64().unwrap();
    eventually("A gets B's file", || async {
        item(&api_a, "SUP-1").await["attachments"]
            .as_array()
            .is_some_and(|a| a.len() == 1)
    })
    .await;
    let on_a = item(&api_a, "SUP-1").await["attachments"][0].clone();
    assert_eq!(on_a["filename"], "server.log");
    assert_eq!(on_a["sha256"], attached[0]["sha256"], "{on_a}");
    let got = api_a
        .get(&format!(
            "/items/SUP-1/attachments/{}",
            on_a["id"].as_i64().unwrap()
        ))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(&got[..], &log[..]);
    let (status, _) = api_b
        .send(api_b.delete(&format!("/items/ENG-1/attachments/{b_file}")))
        .await;
    assert!(status == 204 || status == 200, "{status}");
    eventually("A removes its copy", || async {
        item(&api_a, "SUP-1").await["attachments"]
            .as_array()
            .is_some_and(|a| a.is_empty())
    })
    .await;
}

#[tokio::test]
async fn a_test_run_shows_the_replica_and_the_changes_without_writing_anything() {
    let (a, b) = pair().await;
    let (api_a, api_b) = (a.api(), b.api());
    api_a
        .item(json!({"project": "SUP", "summary": "Try me", "priority": "Low"}))
        .await;
    let (status, body) = api_a
        .json(
            api_a.post("/connections/desk/test/outgoing"),
            json!({"item": "SUP-1"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["replica"]["summary"], "Try me");
    assert_eq!(body["replica"]["priority"]["name"], "Low");

    // On B: what would this replica do to a new item, and to an existing one?
    let replica = body["replica"].clone();
    let (status, body) = api_b
        .json(
            api_b.post("/connections/desk/test/incoming"),
            json!({"replica": replica}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["item"]["projectKey"], "ENG");
    api_b
        .item(json!({"project": "ENG", "summary": "Existing"}))
        .await;
    let (_, body) = api_b
        .json(
            api_b.post("/connections/desk/test/incoming"),
            json!({"replica": replica, "item": "ENG-1"}),
        )
        .await;
    let changes = body["changes"].as_array().unwrap();
    assert!(
        changes.iter().any(|c| c["field"] == "summary"
            && c["before"] == "Existing"
            && c["after"] == "Try me"),
        "{body}"
    );
    assert_eq!(
        item(&api_b, "ENG-1").await["summary"],
        "Existing",
        "nothing written"
    );
    assert!(!exists(&api_b, "ENG-2").await);

    // A rule that fails shows its line.
    api_b
        .json(
            api_b.patch("/connections/desk"),
            json!({"incoming_script": "issue.summary = replica.summary\nissue.description = replica.nothing.here"}),
        )
        .await;
    let (status, body) = api_b
        .json(
            api_b.post("/connections/desk/test/incoming"),
            json!({"replica": replica}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ok"], false);
    assert!(body["trace"].as_str().unwrap().contains(":2:"), "{body}");
}

#[tokio::test]
async fn bulk_unexalate_and_clean_up_stop_sync_and_keep_the_items() {
    let (a, b) = pair().await;
    let (api_a, api_b) = (a.api(), b.api());
    for summary in ["One", "Two"] {
        api_a
            .item(json!({"project": "SUP", "summary": summary, "labels": ["sync"]}))
            .await;
    }
    let (_, body) = api_a
        .json(
            api_a.post("/connections/desk/triggers"),
            json!({"query": "labels = sync"}),
        )
        .await;
    let trigger = body["trigger"]["id"].as_i64().unwrap();
    let (_, body) = api_a
        .json(
            api_a.post("/sync/bulk"),
            json!({"connection": "desk", "trigger": trigger}),
        )
        .await;
    let job = body["job"].as_u64().unwrap();
    eventually("both are on B", || async {
        let (_, p) = api_a.send(api_a.get(&format!("/sync/bulk/{job}"))).await;
        p["finished"] == true && exists(&api_b, "ENG-2").await
    })
    .await;

    let (status, body) = api_a
        .json(
            api_a.post("/sync/bulk-unexalate"),
            json!({"connection": "desk", "trigger": trigger}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["stopped"], 2);
    assert_eq!(twins(&api_a, "SUP-1").await[0]["state"], "stopped");

    let (status, body) = api_a
        .json(api_a.post("/sync/cleanup"), json!({"connection": "desk"}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["twins"], 2);
    assert_eq!(twins(&api_a, "SUP-1").await, json!([]));
    eventually("B cleans up too", || async {
        twins(&api_b, "ENG-1").await == json!([]) && twins(&api_b, "ENG-2").await == json!([])
    })
    .await;
    assert!(
        exists(&api_b, "ENG-1").await && exists(&api_b, "ENG-2").await,
        "the items stay"
    );
    assert!(exists(&api_a, "SUP-1").await && exists(&api_a, "SUP-2").await);
}

/// A tiny web server on loopback that records the bodies of the notices posted to it: its URL
/// and the notices as they come.
pub(crate) async fn webhook() -> (String, tokio::sync::mpsc::UnboundedReceiver<String>) {
    let hook = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook_url = format!("http://{}/hooks/tandem", hook.local_addr().unwrap());
    let (tx, notices) = tokio::sync::mpsc::unbounded_channel::<String>();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut socket, _)) = hook.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65536];
                let mut got = 0;
                loop {
                    let Ok(n) = socket.read(&mut buf[got..]).await else {
                        return;
                    };
                    if n == 0 {
                        break;
                    }
                    got += n;
                    let text = String::from_utf8_lossy(&buf[..got]).to_string();
                    if let Some((head, body)) = text.split_once("\r\n\r\n") {
                        let len = head
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if body.len() >= len {
                            let _ = tx.send(body.to_owned());
                            break;
                        }
                    }
                }
                let _ = socket
                    .write_all(b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n")
                    .await;
            });
        }
    });

    (hook_url, notices)
}

#[tokio::test]
async fn a_failing_rule_blocks_only_its_item_is_listed_with_its_line_and_calls_the_webhook() {
    let (hook_url, mut notices) = webhook().await;
    let a = TestNode::start().await;
    let b = TestNode::start_with(|c| c.error_webhook = Some(hook_url.clone())).await;
    let (api_a, api_b) = (a.api(), b.api());
    api_a.project("SUP").await;
    api_b.project("ENG").await;
    let (_, body) = api_a
        .json(
            api_a.post("/connections"),
            json!({"to": b.url, "mode": "script", "local_name": "sup", "remote_name": "eng", "name": "desk"}),
        )
        .await;
    let code = body["invitation_code"].as_str().unwrap().to_owned();
    assert_eq!(
        api_b
            .json(api_b.post("/invitations/accept"), json!({"code": code}))
            .await
            .0,
        201
    );
    // B's rules fail for items whose summary says so, on line 2.
    let rules = "if (firstSync) { issue.projectKey = 'ENG' }\nif (replica.summary == 'poison') { issue.summary = replica.nothing.here }\nissue.summary = replica.summary";
    let (status, body) = api_b
        .json(
            api_b.patch("/connections/desk"),
            json!({"incoming_script": rules}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    api_a
        .item(json!({"project": "SUP", "summary": "poison"}))
        .await;
    api_a
        .item(json!({"project": "SUP", "summary": "fine"}))
        .await;
    exalate(&api_a, "desk", "SUP-1").await;
    exalate(&api_a, "desk", "SUP-2").await;

    eventually("the healthy item syncs past the failing one", || async {
        exists(&api_b, "ENG-1").await
    })
    .await;
    assert_eq!(item(&api_b, "ENG-1").await["summary"], "fine");
    let (_, errors) = api_b.send(api_b.get("/sync/errors")).await;
    let error = &errors["errors"][0];
    assert_eq!(error["impact"], "item");
    assert_eq!(error["remote_key"], "SUP-1");
    assert!(
        error["script_trace"].as_str().unwrap().contains(":2:"),
        "{error}"
    );

    let notice = tokio::time::timeout(Duration::from_secs(10), notices.recv())
        .await
        .expect("the webhook is called")
        .unwrap();
    let notice: Value = serde_json::from_str(&notice).unwrap();
    assert_eq!(notice["event"], "sync_error");
    assert_eq!(notice["connection"], "desk");
    assert_eq!(notice["id"], error["id"]);

    // Fix the rules, Resolve and retry: the blocked item arrives.
    let fixed = "if (firstSync) { issue.projectKey = 'ENG' }\nissue.summary = replica.summary";
    api_b
        .json(
            api_b.patch("/connections/desk"),
            json!({"incoming_script": fixed}),
        )
        .await;
    let id = error["id"].as_i64().unwrap();
    let (status, body) = api_b
        .send(api_b.post(&format!("/sync/errors/{id}/retry")))
        .await;
    assert_eq!(status, 200, "{body}");
    eventually("the retried item arrives", || async {
        exists(&api_b, "ENG-2").await
    })
    .await;
    assert_eq!(item(&api_b, "ENG-2").await["summary"], "poison");
    let (_, errors) = api_b.send(api_b.get("/sync/errors")).await;
    assert_eq!(errors["errors"], json!([]));
}

#[tokio::test]
async fn incoming_rules_use_the_helpers_and_debug_error_blocks_only_its_item() {
    let (a, b) = pair().await;
    let (api_a, api_b) = (a.api(), b.api());
    // B refuses items whose summary says so, maps status through nodeHelper, and labels items
    // that were already under sync before this change.
    let rules = "\
if (firstSync) { issue.projectKey = 'ENG' }
if (replica.summary.startsWith('secret')) { debug.error('refusing ' + replica.key + ': secret items stay on A') }
debug.info('applying ' + replica.key)
issue.summary = replica.summary
issue.status = nodeHelper.getStatus(replica.status.name == 'To Do' ? 'in progress' : replica.status.name)
issue.labels = syncHelper.isIssueUnderSync(issue.key) ? ['resynced'] : []
";
    let (status, body) = api_b
        .json(
            api_b.patch("/connections/desk"),
            json!({"incoming_script": rules}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    api_a
        .item(json!({"project": "SUP", "summary": "secret plans"}))
        .await;
    api_a
        .item(json!({"project": "SUP", "summary": "Printer jam"}))
        .await;
    exalate(&api_a, "desk", "SUP-1").await;
    exalate(&api_a, "desk", "SUP-2").await;

    eventually("the healthy item syncs past the refused one", || async {
        exists(&api_b, "ENG-1").await
    })
    .await;
    let synced = item(&api_b, "ENG-1").await;
    assert_eq!(synced["summary"], "Printer jam");
    assert_eq!(synced["status"], "In Progress", "{synced}");
    assert_eq!(
        synced["labels"],
        json!([]),
        "not under sync before it existed"
    );
    let (_, errors) = api_b.send(api_b.get("/sync/errors")).await;
    let errors = errors["errors"].as_array().unwrap().clone();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["impact"], "item");
    assert_eq!(errors[0]["remote_key"], "SUP-1");
    assert!(
        errors[0]["message"]
            .as_str()
            .unwrap()
            .contains("refusing SUP-1: secret items stay on A"),
        "{errors:?}"
    );
    assert!(
        !exists(&api_b, "ENG-2").await,
        "the refused item is not created"
    );

    // A later change of the healthy item finds it under sync.
    let (status, body) = api_a
        .json(
            api_a.patch("/items/SUP-2"),
            json!({"summary": "Printer jam again"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    eventually("the change arrives, labelled as resynced", || async {
        item(&api_b, "ENG-1").await["labels"] == json!(["resynced"])
    })
    .await;
    assert_eq!(item(&api_b, "ENG-1").await["summary"], "Printer jam again");
}

#[tokio::test]
async fn rules_that_no_longer_compile_pause_the_connection_until_they_are_saved_again() {
    let (mut a, b) = pair().await;
    let api_b = b.api();
    a.api()
        .item(json!({"project": "SUP", "summary": "Before"}))
        .await;
    exalate(&a.api(), "desk", "SUP-1").await;
    eventually("B has the copy", || async { exists(&api_b, "ENG-1").await }).await;

    // Saving refuses rules that do not compile, but rules stored by another version, or by
    // hand, may not: put such rules in A's database while A is stopped, then start it again
    // where it was.
    let address: std::net::SocketAddr = a.url.strip_prefix("http://").unwrap().parse().unwrap();
    let data_dir = a.data_dir.clone();
    a.stop().await;
    let db = rusqlite::Connection::open(data_dir.join("tandem.db")).unwrap();
    let rules: String = db
        .query_row(
            "SELECT outgoing_script FROM connections WHERE name = 'desk'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    db.execute(
        "UPDATE connections SET outgoing_script = 'replica.summary = (' WHERE name = 'desk'",
        [],
    )
    .unwrap();
    drop(db);
    let restarted = TestNode::start_with(|c| {
        c.data_dir = data_dir.clone();
        c.listen = address;
    })
    .await;
    let api_a = restarted.api();
    let (status, body) = api_a
        .json(
            api_a.patch("/items/SUP-1"),
            json!({"summary": "While broken"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    eventually("A pauses the connection, saying why", || async {
        let (_, c) = api_a.send(api_a.get("/connections/desk")).await;
        c["connection"]["status"] == "error"
            && c["connection"]["status_reason"]
                .as_str()
                .is_some_and(|r| r.contains("do not compile") && r.contains("outgoing"))
    })
    .await;
    let (_, errors) = api_a.send(api_a.get("/sync/errors")).await;
    let error = errors["errors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["impact"] == "connection")
        .unwrap_or_else(|| panic!("a connection error is listed: {errors}"))
        .clone();
    assert!(
        error["script_trace"].as_str().unwrap().contains(":1:"),
        "the error names the line: {error}"
    );
    // Another change while paused is not sent either.
    let (status, _) = api_a
        .json(
            api_a.patch("/items/SUP-1"),
            json!({"description": "Also while broken"}),
        )
        .await;
    assert_eq!(status, 200);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(item(&api_b, "ENG-1").await["summary"], "Before");

    // Saving rules that compile ends the pause, and what changed meanwhile goes out.
    let (status, body) = api_a
        .json(
            api_a.patch("/connections/desk"),
            json!({"outgoing_script": rules}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["connection"]["status"], "active", "{body}");
    eventually("the changes made while paused reach B", || async {
        let copy = item(&api_b, "ENG-1").await;
        copy["summary"] == "While broken" && copy["description"] == "Also while broken"
    })
    .await;
    drop(a);
}

/// A license that allows two new twins a month: the third item brought under sync is refused
/// with an error that says why, and the License page counts what was made.
#[tokio::test]
async fn the_plans_monthly_twin_allowance_is_enforced_and_counted_on_the_license_page() {
    let (secret, public) = vendor_keys();
    let license = crate::console::tandem(&[
        "license",
        "issue",
        // One argument: a base64 key may start with '-', which would read as a flag.
        &format!("--vendor-key={secret}"),
        "--licensee",
        "Small Co",
        "--max-new-twins",
        "2",
    ]);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    preset(&data, "license.key", license.trim()).await;
    let a = TestNode::start_with(|c| {
        c.data_dir = data.clone();
        c.license_public_key = Some(public.clone());
    })
    .await;
    let b = TestNode::start().await;
    connect(&a, &b, "basic").await;
    let (api_a, api_b) = (a.api(), b.api());
    for n in 1..=3 {
        api_a
            .item(json!({"project": "SUP", "summary": format!("Item {n}")}))
            .await;
    }
    exalate(&api_a, "desk", "SUP-1").await;
    exalate(&api_a, "desk", "SUP-2").await;
    let (status, body) = api_a
        .json(
            api_a.post("/sync/exalate"),
            json!({"connection": "desk", "item": "SUP-3"}),
        )
        .await;
    assert_ne!(status, 200, "{body}");
    let said = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        said.contains("allows 2 new twins a month and 2 were made this month"),
        "{body}"
    );
    assert_eq!(twins(&api_a, "SUP-3").await.as_array().unwrap().len(), 0);
    eventually("the two twins reach B", || async {
        exists(&api_b, "ENG-2").await
    })
    .await;
    assert!(!exists(&api_b, "ENG-3").await);

    let client = crate::console::browser();
    crate::console::login(&a, &client).await;
    let page = crate::console::get_page(&client, format!("{}/settings/license", a.url)).await;
    assert!(page.contains("2 of 2 made this month"), "{page}");
}

/// A Script connection on a node whose Evaluation has ended pauses with the reason, cannot be
/// activated, and runs again by itself once a license key is installed.
#[tokio::test]
async fn a_script_connection_pauses_when_the_evaluation_ends_and_resumes_with_a_license() {
    let (secret, public) = vendor_keys();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let with_key = |data: std::path::PathBuf, public: String| {
        move |c: &mut tandem_node::config::Config| {
            c.data_dir = data;
            c.license_public_key = Some(public);
        }
    };
    let mut a = TestNode::start_with(with_key(data.clone(), public.clone())).await;
    let b = TestNode::start().await;
    connect(&a, &b, "script").await;
    let api_b = b.api();

    // Forty days later.
    a.stop().await;
    let then = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(40 * 24);
    preset(&data, "node.first_start", &then.to_string()).await;
    let a = TestNode::start_with(with_key(data.clone(), public.clone())).await;
    let api_a = a.api();
    let connection = |api: Api| async move {
        let (status, body) = api.send(api.get("/connections/desk")).await;
        assert_eq!(status, 200, "{body}");
        body["connection"].clone()
    };
    eventually("the Script connection is paused by the plan", || async {
        let c = connection(a.api()).await;
        c["status"] == "error"
            && c["status_reason"]
                .as_str()
                .is_some_and(|r| r.contains("Script mode needs an Evaluation or Paid license"))
    })
    .await;
    // Nothing goes out while paused.
    api_a
        .item(json!({"project": "SUP", "summary": "Made while paused"}))
        .await;
    let (status, body) = api_a
        .json(
            api_a.post("/sync/exalate"),
            json!({"connection": "desk", "item": "SUP-1"}),
        )
        .await;
    assert_ne!(status, 200, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("paused by the node's plan"),
        "{body}"
    );
    let (status, body) = api_a.send(api_a.post("/connections/desk/activate")).await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("Free plan"),
        "{body}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!exists(&api_b, "ENG-1").await);

    // A license key: the connection runs again by itself, and what waited goes out.
    let license = crate::console::tandem(&[
        "license",
        "issue",
        // One argument: a base64 key may start with '-', which would read as a flag.
        &format!("--vendor-key={secret}"),
        "--licensee",
        "Acme Corp",
    ]);
    let client = crate::console::browser();
    let csrf = crate::console::login(&a, &client).await;
    let page = client
        .post(format!("{}/settings/license", a.url))
        .form(&[("csrf", csrf.as_str()), ("key", license.trim())])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("License key installed."), "{page}");
    assert_eq!(connection(a.api()).await["status"], "active");
    exalate(&api_a, "desk", "SUP-1").await;
}

/// Changes the remote queued while the connection was paused there, and changes this side had
/// queued, never make second copies after a Clean-up: the remote's are dropped until it has
/// taken the Clean-up in, this side's are voided and reported.
#[tokio::test]
async fn a_clean_up_while_the_remote_is_paused_makes_no_second_copies() {
    let (a, b) = pair().await;
    let (api_a, api_b) = (a.api(), b.api());
    api_a
        .item(json!({"project": "SUP", "summary": "Shared"}))
        .await;
    exalate(&api_a, "desk", "SUP-1").await;
    eventually("SUP-1 is on B", || async { exists(&api_b, "ENG-1").await }).await;

    let (status, body) = api_b.send(api_b.post("/connections/desk/deactivate")).await;
    assert_eq!(status, 200, "{body}");
    api_b
        .json(
            api_b.patch("/items/ENG-1"),
            json!({"summary": "Edited on B while paused"}),
        )
        .await;
    let (status, body) = api_a
        .json(api_a.post("/sync/cleanup"), json!({"connection": "desk"}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["twins"], 1, "{body}");
    let (status, body) = api_b.send(api_b.post("/connections/desk/activate")).await;
    assert_eq!(status, 200, "{body}");
    eventually("B takes the Clean-up in", || async {
        twins(&api_b, "ENG-1").await.as_array().unwrap().is_empty()
    })
    .await;
    settled(&api_a, &api_b).await;
    assert!(!exists(&api_a, "SUP-2").await, "no second copy on A");
    assert_eq!(item(&api_a, "SUP-1").await["summary"], "Shared");

    // Once B has taken it in, what B brings under sync arrives again.
    api_b
        .item(json!({"project": "ENG", "summary": "After the clean-up"}))
        .await;
    exalate(&api_b, "desk", "ENG-2").await;
    eventually("ENG-2 arrives on A", || async {
        exists(&api_a, "SUP-2").await
            && item(&api_a, "SUP-2").await["summary"] == "After the clean-up"
    })
    .await;
}

/// The unresolved sync errors of a node.
async fn open_errors(api: &Api) -> Vec<Value> {
    let (status, body) = api.send(api.get("/sync/errors")).await;
    assert_eq!(status, 200, "{body}");
    body["errors"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn an_unreachable_remote_is_one_connection_error_that_resolves_when_delivery_resumes() {
    let (a, mut b) = pair().await;
    let api_a = a.api();
    api_a
        .item(json!({"project": "SUP", "summary": "Before"}))
        .await;
    exalate(&api_a, "desk", "SUP-1").await;
    eventually("B has the copy", || async {
        exists(&b.api(), "ENG-1").await
    })
    .await;

    let address: std::net::SocketAddr = b.url.strip_prefix("http://").unwrap().parse().unwrap();
    let data_dir = b.data_dir.clone();
    b.stop().await;
    let (status, body) = api_a
        .json(
            api_a.patch("/items/SUP-1"),
            json!({"summary": "While away"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    eventually("A records that the remote cannot be reached", || async {
        open_errors(&api_a).await.iter().any(|e| {
            e["impact"] == "connection"
                && e["message"].as_str().is_some_and(|m| {
                    m.starts_with("Delivery: the remote node at ")
                        && m.contains(" cannot be reached since ")
                        && m.contains("next try at ")
                })
        })
    })
    .await;
    // More failed rounds change its message, never add a second error.
    let first = open_errors(&api_a).await;
    eventually("another round fails", || async {
        let now = open_errors(&api_a).await;
        now.len() == 1 && now[0]["message"] != first[0]["message"]
    })
    .await;
    let errors = open_errors(&api_a).await;
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["id"], first[0]["id"]);
    assert_eq!(errors[0]["local_key"], Value::Null);

    // The Errors page lists it with its impact and connection.
    let client = crate::console::browser();
    crate::console::login(&a, &client).await;
    let page = crate::console::get_page(&client, format!("{}/sync/errors", a.url)).await;
    assert!(
        page.contains("<span class=\"status error\">connection</span>"),
        "{page}"
    );
    assert!(page.contains("cannot be reached since"), "{page}");

    // The Sync queue shows the change waiting for the remote, how often it was sent and why it
    // did not arrive.
    let queue = crate::console::get_page(&client, format!("{}/sync/queue", a.url)).await;
    let outgoing = &queue
        [queue.find("<h2 id=\"outgoing\">").unwrap()..queue.find("<h2 id=\"incoming\">").unwrap()];
    assert!(
        outgoing.contains("data-status=\"waiting\">waiting for the remote — next try at "),
        "{outgoing}"
    );
    let attempts: u32 = outgoing
        .split("<td class=\"attempts\">")
        .nth(1)
        .and_then(|cell| cell.split("</td>").next()?.parse().ok())
        .expect("an attempts cell");
    assert!(attempts >= 2, "sent at least twice: {outgoing}");
    assert!(
        outgoing.contains("not reachable"),
        "the last error: {outgoing}"
    );

    // B comes back where it was: the next round delivers and resolves the error by itself.
    let b = TestNode::start_with(|c| {
        c.data_dir = data_dir.clone();
        c.listen = address;
    })
    .await;
    let api_b = b.api();
    eventually("the change arrives and the error is resolved", || async {
        item(&api_b, "ENG-1").await["summary"] == "While away"
            && open_errors(&api_a).await.is_empty()
    })
    .await;
    let (_, all) = api_a.send(api_a.get("/sync/errors")).await;
    assert_eq!(all["errors"], json!([]), "{all}");

    // Resolve and retry on such an error tries at once, and a new outage is a new error.
    let mut b = b;
    b.stop().await;
    api_a
        .json(
            api_a.patch("/items/SUP-1"),
            json!({"summary": "Away again"}),
        )
        .await;
    eventually("the new outage is an error again", || async {
        open_errors(&api_a).await.len() == 1
    })
    .await;
    let id = open_errors(&api_a).await[0]["id"].as_i64().unwrap();
    assert_ne!(Value::from(id), first[0]["id"]);
    let b = TestNode::start_with(|c| {
        c.data_dir = data_dir.clone();
        c.listen = address;
    })
    .await;
    let (status, body) = api_a
        .send(api_a.post(&format!("/sync/errors/{id}/retry")))
        .await;
    assert_eq!(status, 200, "{body}");
    let api_b = b.api();
    eventually("the retry delivers", || async {
        item(&api_b, "ENG-1").await["summary"] == "Away again"
    })
    .await;
    assert!(open_errors(&api_a).await.is_empty());
}

#[tokio::test]
async fn a_remote_that_refuses_this_node_is_a_connection_error_with_the_reason() {
    let (a, mut b) = pair().await;
    let api_a = a.api();
    // B forgets the connection behind A's back (its database edited while it is stopped), so it
    // refuses A's signed requests from then on.
    let address: std::net::SocketAddr = b.url.strip_prefix("http://").unwrap().parse().unwrap();
    let data_dir = b.data_dir.clone();
    b.stop().await;
    let db = rusqlite::Connection::open(data_dir.join("tandem.db")).unwrap();
    db.execute_batch("PRAGMA foreign_keys = OFF; DELETE FROM connections WHERE name = 'desk';")
        .unwrap();
    drop(db);
    let _b = TestNode::start_with(|c| {
        c.data_dir = data_dir.clone();
        c.listen = address;
    })
    .await;

    api_a
        .item(json!({"project": "SUP", "summary": "Refused"}))
        .await;
    exalate(&api_a, "desk", "SUP-1").await;
    eventually("A records the refusal with its reason", || async {
        let errors = open_errors(&api_a).await;
        errors.len() == 1
            && errors[0]["impact"] == "connection"
            && errors[0]["message"].as_str().is_some_and(|m| {
                m.starts_with("Delivery: the remote node refuses this node's requests since ")
                    && m.contains("next try at ")
            })
    })
    .await;
    let (_, c) = api_a.send(api_a.get("/connections/desk")).await;
    assert_eq!(c["connection"]["status"], "error", "{c}");
    let message = open_errors(&api_a).await[0]["message"].to_string();
    assert!(
        message.contains("this node has no active connection with that id"),
        "B's reason: {message}"
    );
    // Later rounds keep to that one error.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(open_errors(&api_a).await.len(), 1);
}

#[tokio::test]
async fn a_change_the_remote_sent_before_it_heard_of_a_clean_up_makes_no_copy() {
    let (a, b) = pair().await;
    let (api_a, api_b) = (a.api(), b.api());
    api_a
        .item(json!({"project": "SUP", "summary": "Shared"}))
        .await;
    exalate(&api_a, "desk", "SUP-1").await;
    eventually("both sides know the link", || async {
        let (_, on_b) = api_b.send(api_b.get("/sync/status/ENG-1")).await;
        let (_, on_a) = api_a.send(api_a.get("/sync/status/SUP-1")).await;
        on_b["twins"][0]["remote_key"] == "SUP-1" && on_a["twins"][0]["remote_key"] == "ENG-1"
    })
    .await;

    // B's change waits in B's queue (B deactivated the connection) while A cleans up.
    let (status, body) = api_b.send(api_b.post("/connections/desk/deactivate")).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = api_b
        .json(
            api_b.patch("/items/ENG-1"),
            json!({"summary": "Edited on B"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    eventually("B queues its change", || async {
        let (_, preview) = api_b.send(api_b.get("/sync/cleanup/desk")).await;
        preview["queued"] == 1
    })
    .await;
    let (status, body) = api_a
        .json(api_a.post("/sync/cleanup"), json!({"connection": "desk"}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["twins"], 1, "{body}");

    // B goes on: its change reaches A after A's clean-up, then B cleans up too.
    let (status, body) = api_b.send(api_b.post("/connections/desk/activate")).await;
    assert_eq!(status, 200, "{body}");
    eventually("B cleans up", || async {
        let (_, on_b) = api_b.send(api_b.get("/sync/status/ENG-1")).await;
        on_b["twins"] == json!([])
    })
    .await;
    // B's clean-up and the delivery of its queued change race: wait for the delivery.
    eventually("B's change was delivered", || async {
        let (_, queue) = api_b.send(api_b.get("/sync/cleanup/desk")).await;
        queue["queued"] == 0
    })
    .await;
    eventually("A has applied everything B sent", || async {
        let (_, requests) = api_a.send(api_a.get("/sync/errors")).await;
        requests["errors"] == json!([])
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!exists(&api_a, "SUP-2").await, "no copy of ENG-1 on A");
    assert_eq!(item(&api_a, "SUP-1").await["summary"], "Shared");
    let (_, on_a) = api_a.send(api_a.get("/sync/status/SUP-1")).await;
    assert_eq!(on_a["twins"], json!([]));
}

/// An admin's Exalate on a connection whose invitation waits is refused with the reason; on a
/// deactivated one it is taken and held, and says so, until the connection is activated.
#[tokio::test]
async fn exalate_is_refused_while_pending_and_held_while_deactivated() {
    let (a, b) = (TestNode::start().await, TestNode::start().await);
    let api_a = a.api();
    api_a.project("SUP").await;
    let (status, body) = api_a
        .json(
            api_a.post("/connections"),
            json!({"to": b.url, "mode": "script", "local_name": "sup", "remote_name": "eng", "name": "waiting"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    api_a
        .item(json!({"project": "SUP", "summary": "Too early"}))
        .await;
    for (path, body) in [
        (
            "/sync/exalate",
            json!({"connection": "waiting", "item": "SUP-1"}),
        ),
        (
            "/sync/connect",
            json!({"connection": "waiting", "item": "SUP-1", "remote_key": "ENG-1"}),
        ),
    ] {
        let (status, answer) = api_a.json(api_a.post(path), body).await;
        assert_eq!(status, 400, "{path}: {answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains("is Pending"), "{path}: {message}");
        assert!(message.contains("not accepted"), "{path}: {message}");
    }
    assert_eq!(twins(&api_a, "SUP-1").await, json!([]));

    let (c, d) = pair().await;
    let (api_c, api_d) = (c.api(), d.api());
    let (status, body) = api_c.send(api_c.post("/connections/desk/deactivate")).await;
    assert_eq!(status, 200, "{body}");
    api_c
        .item(json!({"project": "SUP", "summary": "Held a while"}))
        .await;
    let (status, body) = api_c
        .json(
            api_c.post("/sync/exalate"),
            json!({"connection": "desk", "item": "SUP-1"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["held"],
        "held until connection desk is activated again: it is deactivated"
    );
    assert!(!exists(&api_d, "ENG-1").await, "nothing went out");
    let (status, body) = api_c.send(api_c.post("/connections/desk/activate")).await;
    assert_eq!(status, 200, "{body}");
    eventually("the held replica arrives once activated", || async {
        twins(&api_c, "SUP-1").await[0]["remote_key"] == "ENG-1"
    })
    .await;
}
