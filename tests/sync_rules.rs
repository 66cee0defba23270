//! Sync rules across two nodes: the variables and helpers whose effect shows only on the other
//! side (`syncHelper.syncBackAfterProcessing()`, `unExalateAfterProcessing()`, `connection`,
//! `commentHelper.addComment`), custom fields as Exalate's scripts read and write them, and a
//! bare `return` in the outgoing rules sending nothing.

use serde_json::{Value, json};

use crate::common::Api;
use crate::sync::{eventually, pair, settled};

async fn item(api: &Api, key: &str) -> Value {
    let (status, body) = api.send(api.get(&format!("/items/{key}"))).await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn twins(api: &Api, key: &str) -> Value {
    let (status, body) = api.send(api.get(&format!("/sync/status/{key}"))).await;
    assert_eq!(status, 200, "{body}");
    body["twins"].clone()
}

async fn exists(api: &Api, key: &str) -> bool {
    api.send(api.get(&format!("/items/{key}"))).await.0 == 200
}

async fn set_rules(api: &Api, rules: Value) {
    let (status, body) = api.json(api.patch("/connections/desk"), rules).await;
    assert_eq!(status, 200, "{body}");
}

async fn exalate(api: &Api, key: &str) -> (u16, Value) {
    api.json(
        api.post("/sync/exalate"),
        json!({"connection": "desk", "item": key}),
    )
    .await
}

async fn patch(api: &Api, key: &str, change: Value) {
    let (status, body) = api.json(api.patch(&format!("/items/{key}")), change).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn incoming_rules_send_the_new_key_back_and_stop_sync_after_processing() {
    let (a, b) = pair().await;
    let (api_a, api_b) = (a.api(), b.api());
    // B: names the connection in the description, comments where the item came from, sends
    // its new key back at once, and stops syncing an item once it is Done.
    set_rules(
        &api_b,
        json!({"incoming_script": "\
if (firstSync) {
    workItem.projectKey = 'ENG'
    issue.comments = commentHelper.addComment('Created from ' + replica.key, issue.comments)
    syncHelper.syncBackAfterProcessing()
}
issue.summary = replica.summary
issue.description = 'from ' + connection.remoteShortName + ' on ' + connection.name
issue.status = replica.status
if (replica.status.name == 'Done') { syncHelper.unExalateAfterProcessing() }
"}),
    )
    .await;
    // A: keeps the link to its twin in the description.
    set_rules(
        &api_a,
        json!({"incoming_script": "\
issue.summary = replica.summary
issue.description = 'twin: ' + replica.key + ' at ' + syncHelper.getRemoteIssueUrl(issue.key)
issue.comments = commentHelper.mergeComments(issue, replica)
"}),
    )
    .await;
    api_a
        .item(json!({"project": "SUP", "summary": "Checkout fails"}))
        .await;
    let (status, body) = exalate(&api_a, "SUP-1").await;
    assert_eq!(status, 200, "{body}");

    eventually("B creates ENG-1", || async {
        exists(&api_b, "ENG-1").await
    })
    .await;
    let on_b = item(&api_b, "ENG-1").await;
    assert_eq!(on_b["description"], "from sup on desk");
    assert_eq!(on_b["comments"][0]["body"], "Created from SUP-1");
    // Nobody edits ENG-1, yet A learns of it: B sent its replica back after applying.
    let expected = format!("twin: ENG-1 at {}/items/ENG-1", b.url.trim_end_matches('/'));
    eventually("A gets B's replica back", || async {
        item(&api_a, "SUP-1").await["description"] == expected.as_str()
    })
    .await;
    // B's added comment travelled with it, once.
    let comments = item(&api_a, "SUP-1").await["comments"].clone();
    assert_eq!(comments.as_array().map(Vec::len), Some(1), "{comments}");
    assert!(
        comments[0]["body"]
            .as_str()
            .unwrap()
            .ends_with("Created from SUP-1"),
        "{comments}"
    );

    // Done on A: B applies it, then stops syncing, and tells A.
    patch(&api_a, "SUP-1", json!({"status": "Done"})).await;
    eventually("B stops after applying Done", || async {
        twins(&api_b, "ENG-1").await[0]["state"] == "stopped"
    })
    .await;
    assert_eq!(item(&api_b, "ENG-1").await["status"], "Done");
    eventually("A stops too", || async {
        twins(&api_a, "SUP-1").await[0]["state"] == "stopped"
    })
    .await;
    patch(&api_a, "SUP-1", json!({"summary": "After the stop"})).await;
    settled(&api_a, &api_b).await;
    assert_eq!(item(&api_b, "ENG-1").await["summary"], "Checkout fails");
}

/// Rules on both sides that sync the custom field "Tier" as Exalate's scripts do, besides the
/// summary.
fn tier_rules(project: &str) -> Value {
    json!({
        "outgoing_script": "\
replica.key = issue.key
replica.summary = issue.summary
replica.customFields.\"Tier\" = issue.customFields.\"Tier\"
",
        "incoming_script": format!("\
if (firstSync) {{ issue.projectKey = '{project}' }}
issue.summary = replica.summary
issue.customFields.\"Tier\".value = replica.customFields.\"Tier\"?.value
"),
    })
}

#[tokio::test]
async fn a_custom_field_syncs_both_ways_through_its_value() {
    let (a, b) = pair().await;
    let (api_a, api_b) = (a.api(), b.api());
    set_rules(&api_a, tier_rules("SUP")).await;
    set_rules(&api_b, tier_rules("ENG")).await;
    api_a
        .item(json!({"project": "SUP", "summary": "Big customer", "custom_fields": {"Tier": "Gold", "Note": "ours"}}))
        .await;
    let (status, body) = exalate(&api_a, "SUP-1").await;
    assert_eq!(status, 200, "{body}");
    eventually("B creates ENG-1", || async {
        exists(&api_b, "ENG-1").await
    })
    .await;
    assert_eq!(
        item(&api_b, "ENG-1").await["custom_fields"],
        json!({"Tier": "Gold"}),
        "only the mapped field travels"
    );

    // B → A.
    patch(
        &api_b,
        "ENG-1",
        json!({"custom_fields": {"Tier": "Platinum"}}),
    )
    .await;
    eventually("A gets B's Tier", || async {
        item(&api_a, "SUP-1").await["custom_fields"] == json!({"Tier": "Platinum", "Note": "ours"})
    })
    .await;

    // A → B, and a field cleared on A is cleared on B.
    patch(
        &api_a,
        "SUP-1",
        json!({"custom_fields": {"Tier": "Silver"}}),
    )
    .await;
    eventually("B gets A's Tier", || async {
        item(&api_b, "ENG-1").await["custom_fields"] == json!({"Tier": "Silver"})
    })
    .await;
    patch(&api_a, "SUP-1", json!({"custom_fields": {"Tier": null}})).await;
    eventually("B clears Tier", || async {
        item(&api_b, "ENG-1").await["custom_fields"] == json!({})
    })
    .await;
    // No echo: the items stay as they are.
    settled(&api_a, &api_b).await;
    assert_eq!(
        item(&api_a, "SUP-1").await["custom_fields"],
        json!({"Note": "ours"})
    );
}

#[tokio::test]
async fn a_bare_return_in_the_outgoing_rules_sends_nothing() {
    let (a, b) = pair().await;
    let (api_a, api_b) = (a.api(), b.api());
    set_rules(
        &api_a,
        json!({"outgoing_script": "\
if (issue.summary.startsWith('Secret')) { return }
replica.key = issue.key
replica.summary = issue.summary
"}),
    )
    .await;
    api_a
        .item(json!({"project": "SUP", "summary": "Secret plans"}))
        .await;
    api_a
        .item(json!({"project": "SUP", "summary": "Public plans"}))
        .await;

    // Exalate on an item the rules send nothing for: refused with the reason, not synced.
    let (status, body) = exalate(&api_a, "SUP-1").await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body.to_string().contains("send nothing for SUP-1"),
        "{body}"
    );
    assert_eq!(twins(&api_a, "SUP-1").await, json!([]));

    // A trigger skips it quietly, and brings the next public item.
    let (status, body) = api_a
        .json(
            api_a.post("/connections/desk/triggers"),
            json!({"query": "project = SUP"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    api_a
        .item(json!({"project": "SUP", "summary": "Secret again"}))
        .await;
    api_a
        .item(json!({"project": "SUP", "summary": "Public news"}))
        .await;
    eventually("the public item arrives", || async {
        exists(&api_b, "ENG-1").await
    })
    .await;
    assert_eq!(item(&api_b, "ENG-1").await["summary"], "Public news");
    assert_eq!(twins(&api_a, "SUP-3").await, json!([]));

    // An item under sync that turns secret sends nothing; when it stops being secret again,
    // the change goes out.
    patch(&api_a, "SUP-4", json!({"summary": "Secret now"})).await;
    settled(&api_a, &api_b).await;
    assert_eq!(item(&api_b, "ENG-1").await["summary"], "Public news");
    patch(&api_a, "SUP-4", json!({"summary": "Public once more"})).await;
    eventually("the public change arrives", || async {
        item(&api_b, "ENG-1").await["summary"] == "Public once more"
    })
    .await;

    // Nothing failed on either side, and nothing else arrived.
    for api in [&api_a, &api_b] {
        let (_, errors) = api.send(api.get("/sync/errors")).await;
        assert_eq!(errors["errors"], json!([]));
    }
    assert!(!exists(&api_b, "ENG-2").await);
}

async fn statistic(api: &Api, name: &str) -> u64 {
    let (status, body) = api.send(api.get("/connections/desk/statistics")).await;
    assert_eq!(status, 200, "{body}");
    body[name].as_u64().unwrap_or_default()
}

#[tokio::test]
async fn sync_back_on_both_sides_does_not_play_ping_pong() {
    let (a, b) = pair().await;
    let (api_a, api_b) = (a.api(), b.api());
    for (api, project) in [(&api_a, "SUP"), (&api_b, "ENG")] {
        set_rules(
            api,
            json!({"incoming_script": format!("\
if (firstSync) {{ issue.projectKey = '{project}' }}
issue.summary = replica.summary
syncHelper.syncBackAfterProcessing()
")}),
        )
        .await;
    }
    api_a
        .item(json!({"project": "SUP", "summary": "Echo?"}))
        .await;
    let (status, body) = exalate(&api_a, "SUP-1").await;
    assert_eq!(status, 200, "{body}");
    eventually("B creates ENG-1", || async {
        exists(&api_b, "ENG-1").await
    })
    .await;
    patch(&api_b, "ENG-1", json!({"summary": "Echo? No."})).await;
    eventually("A follows", || async {
        item(&api_a, "SUP-1").await["summary"] == "Echo? No."
    })
    .await;
    // Once what is in flight is delivered and applied, nothing more goes back and forth:
    // the connection comes to rest (a ping-pong never would), after a handful of messages.
    settled(&api_a, &api_b).await;
    let sent = statistic(&api_a, "events_sent").await + statistic(&api_b, "events_sent").await;
    assert!(sent <= 12, "{sent} messages");
}

/// Exalate's connect idiom: on a first sync the incoming rules find the item the remote one
/// names, trace the comment both already have, and return the key and the traces. No new item
/// is made, the traced comment is not copied again, and later changes flow between the two.
#[tokio::test]
async fn incoming_rules_connect_a_remote_item_to_an_existing_one_with_its_comment_traces() {
    let (a, b) = pair().await;
    let (api_a, api_b) = (a.api(), b.api());
    set_rules(
        &api_a,
        json!({"outgoing_script": "\
replica.key = issue.key
replica.summary = issue.summary
replica.comments = issue.comments
replica.customFields.\"Their key\" = issue.customFields.\"Their key\"
"}),
    )
    .await;
    set_rules(
        &api_b,
        json!({"incoming_script": "\
import com.exalate.api.domain.twintrace.TraceType
import com.exalate.api.domain.twintrace.TraceAction
import com.exalate.basic.domain.BasicNonPersistentTrace
def target = replica.customFields.\"Their key\"?.value
if (firstSync && target) {
    def local = nodeHelper.getIssue(target)
    if (local) {
        replica.comments.each { remote ->
            def same = local.comments.find { it.body == remote.body }
            if (same) {
                traces.add(new BasicNonPersistentTrace()
                    .setType(TraceType.COMMENT)
                    .setToSynchronize(true)
                    .setLocalId(same.id as String)
                    .setRemoteId(remote.id as String)
                    .setAction(TraceAction.NONE))
            }
        }
        def key = new com.exalate.basic.domain.BasicIssueKey(local.id, local.key)
        return new scala.Tuple2(key, scala.collection.JavaConverters.asScalaBuffer(traces).toSeq())
    }
}
if (firstSync) { issue.projectKey = 'ENG' }
issue.summary = replica.summary
issue.comments = commentHelper.mergeComments(issue, replica)
"}),
    )
    .await;
    api_b
        .item(json!({"project": "ENG", "summary": "Printer on fire (ours)"}))
        .await;
    let (status, body) = api_b
        .json(
            api_b.post("/items/ENG-1/comments"),
            json!({"body": "Toner replaced"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    api_a
        .item(json!({"project": "SUP", "summary": "Printer on fire", "custom_fields": {"Their key": "ENG-1"}}))
        .await;
    let (status, body) = api_a
        .json(
            api_a.post("/items/SUP-1/comments"),
            json!({"body": "Toner replaced"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = exalate(&api_a, "SUP-1").await;
    assert_eq!(status, 200, "{body}");
    eventually("A learns its twin is ENG-1", || async {
        twins(&api_a, "SUP-1").await[0]["remote_key"] == "ENG-1"
    })
    .await;
    assert_eq!(
        twins(&api_b, "ENG-1").await[0]["remote_key"],
        "SUP-1",
        "B links ENG-1 to SUP-1"
    );
    assert!(!exists(&api_b, "ENG-2").await, "no new item");
    assert_eq!(
        item(&api_b, "ENG-1").await["summary"],
        "Printer on fire (ours)",
        "connecting writes nothing"
    );
    // A later change flows; a new comment is added once, the traced one not again.
    patch(&api_a, "SUP-1", json!({"summary": "Printer fixed"})).await;
    let (status, body) = api_a
        .json(
            api_a.post("/items/SUP-1/comments"),
            json!({"body": "Drum too"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    eventually("B follows A", || async {
        let i = item(&api_b, "ENG-1").await;
        i["summary"] == "Printer fixed" && i["comments"].as_array().map_or(0, Vec::len) == 2
    })
    .await;
    let comments = item(&api_b, "ENG-1").await["comments"].clone();
    assert_eq!(comments[0]["body"], "Toner replaced", "{comments}");
    assert!(
        comments[1]["body"]
            .as_str()
            .unwrap_or_default()
            .ends_with("Drum too"),
        "{comments}"
    );
    for api in [&api_a, &api_b] {
        let (_, errors) = api.send(api.get("/sync/errors")).await;
        assert_eq!(errors["errors"], json!([]));
    }
}

/// `store(issue)` on a first sync persists the new item at once and links it; a Test run of the
/// same rules creates nothing and says so.
#[tokio::test]
async fn store_creates_the_item_during_the_rules_and_a_test_run_creates_nothing() {
    let (a, b) = pair().await;
    let (api_a, api_b) = (a.api(), b.api());
    set_rules(
        &api_b,
        json!({"incoming_script": "\
if (firstSync) {
    issue.projectKey = 'ENG'
    issue.summary = replica.summary
    store(issue)
    issue.description = 'stored as ' + issue.key
}
issue.summary = replica.summary
"}),
    )
    .await;
    let (status, tried) = api_b
        .json(
            api_b.post("/connections/desk/test/incoming"),
            json!({"replica": {"key": "SUP-9", "summary": "Tried"}}),
        )
        .await;
    assert_eq!(status, 200, "{tried}");
    assert!(
        tried["log"]
            .to_string()
            .contains("test run: store(issue) created nothing"),
        "{tried}"
    );
    assert!(!exists(&api_b, "ENG-1").await, "a test run creates nothing");
    api_a
        .item(json!({"project": "SUP", "summary": "Parent first"}))
        .await;
    let (status, body) = exalate(&api_a, "SUP-1").await;
    assert_eq!(status, 200, "{body}");
    eventually("B creates ENG-1 through store", || async {
        exists(&api_b, "ENG-1").await
            && item(&api_b, "ENG-1").await["description"] == "stored as ENG-1"
    })
    .await;
    eventually("A learns its twin", || async {
        twins(&api_a, "SUP-1").await[0]["remote_key"] == "ENG-1"
    })
    .await;
    patch(&api_a, "SUP-1", json!({"summary": "Parent renamed"})).await;
    eventually("changes follow", || async {
        item(&api_b, "ENG-1").await["summary"] == "Parent renamed"
    })
    .await;
    assert!(!exists(&api_b, "ENG-2").await, "one item, made once");
}
