//! A connection's scope: a peer reaches only the items its connection is scoped to, and cannot tell which keys exist outside it.
//!
//! The attacker is a connected peer (node A, project SUP) that uses its own node as designed:
//! Connect, edits. The node under attack (B) serves ENG — where its connection's default rules
//! create items — and HR, which the connection was never meant to reach.

use serde_json::{Value, json};

use crate::common::{Api, TestNode};
use crate::sync::eventually;

/// A and B connected (`desk`, Script mode, default rules: B creates in ENG), and B also serves
/// HR, whose HR-1 is confidential.
async fn pair_with_hr() -> (TestNode, TestNode) {
    let (a, b) = crate::sync::pair().await;
    b.api().project("HR").await;
    b.api()
        .item(json!({"project": "HR", "summary": "Salary review", "description": "confidential"}))
        .await;
    (a, b)
}

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

async fn errors(api: &Api) -> Vec<Value> {
    let body = api.send(api.get("/sync/errors")).await.1;
    body["errors"].as_array().cloned().unwrap_or_default()
}

async fn connect(api: &Api, item: &str, remote: &str) {
    let (status, body) = api
        .json(
            api.post("/sync/connect"),
            json!({"connection": "desk", "item": item, "remote_key": remote}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

async fn patch(api: &Api, key: &str, body: Value) {
    let (status, answer) = api.json(api.patch(&format!("/items/{key}")), body).await;
    assert_eq!(status, 200, "{answer}");
}

async fn exalate(api: &Api, key: &str) {
    let (status, body) = api
        .json(
            api.post("/sync/exalate"),
            json!({"connection": "desk", "item": key}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

/// Waits until B has answered A's Connect of `local` to `remote`: A shows a refusal on
/// `local`, or B links `remote` to it.
async fn answered(api_a: &Api, api_b: &Api, local: &str, remote: &str) {
    eventually(
        &format!("B answers the Connect of {local} to {remote}"),
        || async {
            // (A key B has no item for has no status page: 404.)
            let (_, status) = api_b
                .send(api_b.get(&format!("/sync/status/{remote}")))
                .await;
            errors(api_a).await.iter().any(|e| e["local_key"] == local)
                || status["twins"]
                    .as_array()
                    .is_some_and(|t| t.iter().any(|t| t["remote_key"] == local))
        },
    )
    .await;
}

/// The reason B gave for refusing A's Connect of `local`, with the keys taken out.
async fn refusal(api_a: &Api, local: &str, remote: &str) -> String {
    let errors = errors(api_a).await;
    let error = errors
        .iter()
        .find(|e| e["local_key"] == local)
        .unwrap_or_else(|| panic!("no refusal for {local}: {errors:?}"));
    error["message"]
        .as_str()
        .unwrap()
        .replace(local, "<local>")
        .replace(remote, "<remote>")
}

#[tokio::test]
async fn a_peer_cannot_connect_to_an_item_outside_the_scope_overwrite_it_or_read_its_later_edits() {
    let (a, b) = pair_with_hr().await;
    let (api_a, api_b) = (a.api(), b.api());
    api_a
        .item(json!({"project": "SUP", "summary": "Mine now", "description": "overwritten"}))
        .await;
    api_a
        .item(json!({"project": "SUP", "summary": "A fair link"}))
        .await;
    api_b
        .item(json!({"project": "ENG", "summary": "Filed on B"}))
        .await;

    // The attack: link A's item to B's HR-1, which the connection does not reach.
    connect(&api_a, "SUP-1", "HR-1").await;
    answered(&api_a, &api_b, "SUP-1", "HR-1").await;
    assert_eq!(twins(&api_b, "HR-1").await, json!([]), "B links nothing");
    eventually("A's half of the link is withdrawn", || async {
        twins(&api_a, "SUP-1").await == json!([])
    })
    .await;

    // A Connect inside the scope still links.
    connect(&api_a, "SUP-2", "ENG-1").await;
    eventually("B links ENG-1 to SUP-2", || async {
        twins(&api_b, "ENG-1").await[0]["remote_key"] == "SUP-2"
    })
    .await;

    // A edits its item; B edits HR-1. Then a change of the fair link each way marks the
    // moment everything before it has been delivered (a connection's messages arrive in
    // order).
    patch(
        &api_a,
        "SUP-1",
        json!({"summary": "Owned", "description": "by the peer"}),
    )
    .await;
    patch(
        &api_b,
        "HR-1",
        json!({"summary": "Salary review: 5% for all"}),
    )
    .await;
    patch(&api_b, "ENG-1", json!({"summary": "Marker from B"})).await;
    eventually("A gets B's marker", || async {
        item(&api_a, "SUP-2").await["summary"] == "Marker from B"
    })
    .await;
    patch(&api_b, "ENG-1", json!({"summary": "Second marker from B"})).await;
    eventually("A gets B's second marker", || async {
        item(&api_a, "SUP-2").await["summary"] == "Second marker from B"
    })
    .await;
    patch(&api_a, "SUP-2", json!({"summary": "Marker from A"})).await;
    eventually("B gets A's marker", || async {
        item(&api_b, "ENG-1").await["summary"] == "Marker from A"
    })
    .await;

    let hr = item(&api_b, "HR-1").await;
    assert_eq!(hr["summary"], "Salary review: 5% for all", "{hr}");
    assert_eq!(hr["description"], "confidential", "{hr}");
    assert_eq!(
        item(&api_a, "SUP-1").await["summary"],
        "Owned",
        "A received nothing of HR-1"
    );
    let (_, found) = api_a
        .send(api_a.get("/items?query=text%20~%20%22Salary%22"))
        .await;
    assert_eq!(found["total"], 0, "no copy of HR-1 on A: {found}");
    assert_eq!(
        errors(&api_b).await,
        Vec::<Value>::new(),
        "the peer fills no error list on B"
    );
}

#[tokio::test]
async fn a_refusal_reads_the_same_for_a_key_that_does_not_exist_and_one_outside_the_scope() {
    let (a, b) = pair_with_hr().await;
    let (api_a, api_b) = (a.api(), b.api());
    for summary in ["Probe 1", "Probe 2", "Probe 3"] {
        api_a
            .item(json!({"project": "SUP", "summary": summary}))
            .await;
    }
    connect(&api_a, "SUP-1", "HR-99").await;
    connect(&api_a, "SUP-2", "HR-1").await;
    connect(&api_a, "SUP-3", "nonsense").await;
    for (local, remote) in [("SUP-1", "HR-99"), ("SUP-2", "HR-1"), ("SUP-3", "nonsense")] {
        answered(&api_a, &api_b, local, remote).await;
    }
    let missing = refusal(&api_a, "SUP-1", "HR-99").await;
    let outside = refusal(&api_a, "SUP-2", "HR-1").await;
    let not_a_key = refusal(&api_a, "SUP-3", "nonsense").await;
    assert_eq!(
        missing, outside,
        "a missing key and an existing one read alike"
    );
    assert_eq!(missing, not_a_key, "not a key reads alike too");
    assert!(!missing.contains("no item <remote>"), "{missing}");
    assert_eq!(twins(&api_b, "HR-1").await, json!([]));
}

#[tokio::test]
async fn incoming_rules_that_throw_on_a_connect_refuse_it_and_overwrite_nothing() {
    let (a, b) = crate::sync::pair().await;
    let (api_a, api_b) = (a.api(), b.api());
    let rules = "\
if (!firstSync && previous == null && issue.labels.contains('locked')) {
    throw new com.exalate.api.exception.IssueTrackerException(\"locked items are not linked\")
}
if (firstSync) { issue.projectKey = \"ENG\" }
issue.summary     = replica.summary
issue.description = replica.description
";
    let (status, body) = api_b
        .json(
            api_b.patch("/connections/desk"),
            json!({"incoming_script": rules}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    api_b
        .item(json!({"project": "ENG", "summary": "Locked", "description": "keep", "labels": ["locked"]}))
        .await;
    api_b
        .item(json!({"project": "ENG", "summary": "Open"}))
        .await;
    api_a
        .item(json!({"project": "SUP", "summary": "Take over", "description": "gone"}))
        .await;
    api_a
        .item(json!({"project": "SUP", "summary": "Fair"}))
        .await;

    connect(&api_a, "SUP-1", "ENG-1").await;
    answered(&api_a, &api_b, "SUP-1", "ENG-1").await;
    assert_eq!(
        twins(&api_b, "ENG-1").await,
        json!([]),
        "the rules refused it"
    );
    let locked = item(&api_b, "ENG-1").await;
    assert_eq!(locked["summary"], "Locked", "{locked}");
    assert_eq!(locked["description"], "keep", "{locked}");
    // The peer gets the one refusal, not the rules' message.
    let message = refusal(&api_a, "SUP-1", "ENG-1").await;
    assert!(!message.contains("locked items"), "{message}");

    // The same rules take a Connect they do not throw on.
    connect(&api_a, "SUP-2", "ENG-2").await;
    eventually("B links ENG-2", || async {
        twins(&api_b, "ENG-2").await[0]["remote_key"] == "SUP-2"
    })
    .await;
}

#[tokio::test]
async fn an_item_that_leaves_the_scope_is_no_longer_written_or_read_by_the_peer() {
    let (a, b) = crate::sync::pair().await;
    let (api_a, api_b) = (a.api(), b.api());
    let (status, body) = api_b
        .json(
            api_b.patch("/connections/desk"),
            json!({"scope": {"query": "project = ENG AND labels = partner"}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["connection"]["scope"],
        json!({"query": "project = ENG AND labels = partner"})
    );
    for summary in ["Shared for now", "Marker"] {
        let made = api_b
            .item(json!({"project": "ENG", "summary": summary, "labels": ["partner"]}))
            .await;
        exalate(&api_b, made["key"].as_str().unwrap()).await;
    }
    eventually("A has both copies", || async {
        twins(&api_b, "ENG-1").await[0]["remote_key"].is_string()
            && twins(&api_b, "ENG-2").await[0]["remote_key"].is_string()
    })
    .await;
    let copy = twins(&api_b, "ENG-1").await[0]["remote_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let marker = twins(&api_b, "ENG-2").await[0]["remote_key"]
        .as_str()
        .unwrap()
        .to_owned();

    // ENG-1 leaves the scope; what B writes on it afterwards stays on B.
    patch(
        &api_b,
        "ENG-1",
        json!({"labels": [], "summary": "Internal only"}),
    )
    .await;
    patch(&api_b, "ENG-2", json!({"summary": "Marker 1"})).await;
    eventually("A gets the marker", || async {
        item(&api_a, &marker).await["summary"] == "Marker 1"
    })
    .await;
    patch(&api_b, "ENG-2", json!({"summary": "Marker 2"})).await;
    eventually("A gets the second marker", || async {
        item(&api_a, &marker).await["summary"] == "Marker 2"
    })
    .await;
    assert_eq!(
        item(&api_a, &copy).await["summary"],
        "Shared for now",
        "A no longer reads ENG-1"
    );

    // And the peer no longer writes it: its change is refused on B, with B's own error.
    patch(&api_a, &copy, json!({"summary": "Written by the peer"})).await;
    eventually("B records that it did not apply the change", || async {
        errors(&api_b).await.iter().any(|e| {
            e["message"]
                .as_str()
                .is_some_and(|m| m.contains("outside the scope"))
        })
    })
    .await;
    assert_eq!(item(&api_b, "ENG-1").await["summary"], "Internal only");
}

/// Whether B links A's Connect of `local` to `remote` (true) or refuses it (false).
async fn linked(api_a: &Api, api_b: &Api, local: &str, remote: &str) -> bool {
    connect(api_a, local, remote).await;
    answered(api_a, api_b, local, remote).await;
    twins(api_b, remote)
        .await
        .as_array()
        .is_some_and(|t| t.iter().any(|t| t["remote_key"] == local))
}

/// The node works a connection's reach out once and keeps it: every change of what decides
/// it (the scope, a trigger, the incoming rules) must count from the next message on, or a
/// narrowed scope would go on letting the peer in.
#[tokio::test]
async fn the_reach_follows_each_change_of_the_scope_the_triggers_and_the_rules_at_once() {
    let (a, b) = pair_with_hr().await;
    let (api_a, api_b) = (a.api(), b.api());
    for n in 1..=6 {
        api_a
            .item(json!({"project": "SUP", "summary": format!("Link {n}")}))
            .await;
    }
    for n in 2..=4 {
        api_b
            .item(json!({"project": "HR", "summary": format!("HR {n}")}))
            .await;
    }
    let set_scope = |scope: Value| {
        let api_b = api_b.clone();
        async move {
            let (status, body) = api_b
                .json(api_b.patch("/connections/desk"), json!({"scope": scope}))
                .await;
            assert_eq!(status, 200, "{body}");
        }
    };

    // The default: the rules create in ENG, so HR is out (and the reach is now cached).
    assert!(!linked(&api_a, &api_b, "SUP-1", "HR-1").await);
    // A trigger on HR widens the default.
    let (status, body) = api_b
        .json(
            api_b.post("/connections/desk/triggers"),
            json!({"query": "project = HR"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let trigger = body["trigger"]["id"].as_i64().unwrap();
    assert!(linked(&api_a, &api_b, "SUP-2", "HR-1").await);
    // A scope of ENG alone narrows it again.
    set_scope(json!({"projects": ["ENG"]})).await;
    assert!(!linked(&api_a, &api_b, "SUP-3", "HR-2").await);
    // Widened by the scope.
    set_scope(json!({"projects": ["ENG", "HR"]})).await;
    assert!(linked(&api_a, &api_b, "SUP-4", "HR-2").await);
    // Back to the default, without the trigger: HR is out.
    set_scope(Value::Null).await;
    let (status, body) = api_b
        .send(api_b.delete(&format!("/connections/desk/triggers/{trigger}")))
        .await;
    assert!((200..300).contains(&status), "{status} {body}");
    assert!(!linked(&api_a, &api_b, "SUP-5", "HR-3").await);
    // Rules that create in HR put HR in the default.
    // Rules standing for the defaults, creating in HR.
    let to_hr = "if (firstSync) { issue.projectKey = \"HR\" }\nissue.summary = replica.summary";
    let (status, body) = api_b
        .json(
            api_b.patch("/connections/desk"),
            json!({"incoming_script": to_hr}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(linked(&api_a, &api_b, "SUP-6", "HR-3").await);
}
