//! What operators check a connection with: `tandem sync verify` (every twin compared with its
//! remote twin, differences reported and repaired) and a connection's conflicts (listed, the
//! losing value restored and synced out). Two real nodes on loopback, A (SUP) → B (ENG); the
//! faults are written into a node's database directly, as a crash, an older version or a lost
//! message would have left it.

use std::time::{Duration, Instant};

use rusqlite::params;
use serde_json::{Value, json};
use tandem_protocol::{ConnectionKeys, Invitation, Role};

use crate::common::{Api, TestNode};
use crate::connections::{accept, code_for, message, signed_for};
use crate::console::get_page;
use crate::console_sync::{console, post};
use crate::sync::{connect, eventually, exalate, exists, item, pair, twins};
use crate::sync_cli::sync;

/// How long two nodes may take to settle on a busy machine.
const SETTLE: Duration = Duration::from_secs(60);

async fn verify(api: &Api, repair: bool) -> Value {
    let (status, body) = api
        .json(
            api.post("/connections/desk/verify"),
            json!({ "repair": repair }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

/// Verifies until both sides are quiet (a pass on a busy connection does not compare
/// replicas), within [`SETTLE`].
async fn settled_verify(api: &Api) -> Value {
    let deadline = Instant::now() + SETTLE;
    loop {
        let report = verify(api, false).await;
        if report["settled"] == true {
            return report;
        }
        assert!(Instant::now() < deadline, "never settled: {report}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Verifies until the report is as `done` wants it, within [`SETTLE`].
async fn verify_until(api: &Api, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + SETTLE;
    loop {
        let report = verify(api, false).await;
        if done(&report) {
            return report;
        }
        assert!(Instant::now() < deadline, "{what}: {report}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn kinds(report: &Value) -> Vec<(String, String)> {
    report["differences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["kind"].as_str().unwrap().to_owned(),
                d["item"].as_str().unwrap_or("-").to_owned(),
            )
        })
        .collect()
}

/// A read-write handle on a running node's database, as another process would have one.
fn database(node: &TestNode) -> rusqlite::Connection {
    let db = rusqlite::Connection::open(node.data_dir.join("tandem.db")).unwrap();
    db.busy_timeout(Duration::from_secs(10)).unwrap();
    db
}

/// Writes a twin of SUP-`number` on `desk` as an older version could leave it after a crash:
/// active, nothing sent, nothing queued, no remote link.
fn strand(node: &TestNode, number: i64) {
    let db = database(node);
    let connection: String = db
        .query_row("SELECT id FROM connections WHERE name = 'desk'", [], |r| {
            r.get(0)
        })
        .unwrap();
    db.execute(
        "INSERT INTO twins (connection_id, project, number, remote_key, state, last_sent, \
         last_received, created, last_sync) VALUES (?1, 'SUP', ?2, NULL, 'active', NULL, NULL, ?3, NULL)",
        params![connection, number, jiff::Timestamp::now().as_millisecond()],
    )
    .unwrap();
}

/// Creates SUP items with these summaries on A, exalates them and waits until each is linked.
async fn synced_items(a: &TestNode, b: &TestNode, summaries: &[&str]) {
    let (api_a, api_b) = (a.api(), b.api());
    for (n, summary) in summaries.iter().enumerate() {
        api_a
            .item(json!({"project": "SUP", "summary": summary}))
            .await;
        let key = format!("SUP-{}", n + 1);
        exalate(&api_a, "desk", &key).await;
        let remote = format!("ENG-{}", n + 1);
        eventually("the item is linked on both sides", || async {
            exists(&api_b, &remote).await && twins(&api_a, &key).await[0]["remote_key"] == *remote
        })
        .await;
    }
}

#[tokio::test]
async fn verify_on_a_healthy_connection_reports_no_differences() {
    let (a, b) = pair().await;
    synced_items(&a, &b, &["one", "two", "three"]).await;
    let api_b = b.api();
    api_b
        .json(
            api_b.patch("/items/ENG-2"),
            json!({"summary": "two, edited on B"}),
        )
        .await;
    let api_a = a.api();
    eventually("B's edit reached A", || async {
        item(&api_a, "SUP-2").await["summary"] == "two, edited on B"
    })
    .await;

    for api in [&api_a, &api_b] {
        let report = settled_verify(api).await;
        assert_eq!(report["reach"], "both", "{report}");
        assert_eq!(report["twins"], 3, "{report}");
        assert_eq!(report["remote_twins"], 3, "{report}");
        assert_eq!(report["differences"], json!([]), "{report}");
    }
    let out = sync(&a.url, &["verify", "--connection", "desk"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("3 twins here, 3 twins on the remote"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("No differences."), "{}", out.stdout);
}

/// Issue 14 point 1 as an older version left it: a twin active with nothing sent, nothing
/// queued and no remote link. Verify finds it; the repair sends it, and B has it once.
#[tokio::test]
async fn a_stranded_twin_is_reported_and_the_repair_sends_it_so_it_arrives_once() {
    let (a, b) = pair().await;
    synced_items(&a, &b, &["linked"]).await;
    let (api_a, api_b) = (a.api(), b.api());
    api_a
        .item(json!({"project": "SUP", "summary": "stranded"}))
        .await;
    // A change after SUP-2's creation, seen on B: A's engine has gone past SUP-2's creation
    // (it reads changes in order), so nothing but a repair will send SUP-2.
    api_a
        .json(
            api_a.patch("/items/SUP-1"),
            json!({"summary": "linked, edited"}),
        )
        .await;
    eventually("the later change reached B", || async {
        item(&api_b, "ENG-1").await["summary"] == "linked, edited"
    })
    .await;
    strand(&a, 2);
    let report = verify(&api_a, false).await;
    assert_eq!(
        kinds(&report),
        [("stranded".to_owned(), "SUP-2".to_owned())],
        "{report}"
    );
    let out = sync(&a.url, &["verify", "--connection", "desk"]).await;
    assert_eq!(out.code, 1, "differences are exit 1: {}", out.stdout);
    assert!(out.stdout.contains("SUP-2 [stranded]"), "{}", out.stdout);

    let out = sync(&a.url, &["verify", "--connection", "desk", "--repair"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("repair: sent again"), "{}", out.stdout);
    eventually("the stranded item arrives on B and is linked", || async {
        twins(&api_a, "SUP-2").await[0]["remote_key"] == "ENG-2"
    })
    .await;
    assert_eq!(item(&api_b, "ENG-2").await["summary"], "stranded");
    let (status, found) = api_b
        .send(api_b.get("/items?query=project%20%3D%20ENG"))
        .await;
    assert_eq!(status, 200, "{found}");
    // ENG-1 (the linked one) and ENG-2: the stranded item once.
    assert_eq!(found["total"], 2, "exactly once: {found}");
    let report = settled_verify(&api_a).await;
    assert_eq!(report["differences"], json!([]), "{report}");
}

#[tokio::test]
async fn a_twin_deleted_on_one_side_is_reported_on_both_and_flagged_by_a_repair() {
    let (a, b) = pair().await;
    synced_items(&a, &b, &["kept", "lost"]).await;
    database(&b)
        .execute("DELETE FROM twins WHERE project = 'ENG' AND number = 2", [])
        .unwrap();
    let (api_a, api_b) = (a.api(), b.api());

    let on_a = verify(&api_a, false).await;
    assert_eq!(
        kinds(&on_a),
        [("missing_on_remote".to_owned(), "SUP-2".to_owned())],
        "{on_a}"
    );
    assert_eq!(on_a["differences"][0]["remote_key"], "ENG-2");
    let on_b = verify(&api_b, false).await;
    assert_eq!(
        kinds(&on_b),
        [("missing_here".to_owned(), "ENG-2".to_owned())],
        "{on_b}"
    );
    assert_eq!(on_b["differences"][0]["remote_key"], "SUP-2");

    // Nothing sends it back into being: the repair flags it, once however often it runs.
    let repaired = verify(&api_a, true).await;
    let repair = &repaired["differences"][0]["repair"];
    assert_eq!(repair["done"], "flagged", "{repaired}");
    let again = verify(&api_a, true).await;
    assert_eq!(again["differences"][0]["repair"]["error"], repair["error"]);
    let (_, errors) = api_a.send(api_a.get("/sync/errors")).await;
    let flagged: Vec<&Value> = errors["errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["message"].as_str().unwrap_or("").starts_with("Verify:"))
        .collect();
    assert_eq!(flagged.len(), 1, "{errors}");
    assert!(
        flagged[0]["message"].as_str().unwrap().contains("SUP-2"),
        "{errors}"
    );
}

/// A change B lost (its apply and its record of it gone, as a restored backup leaves it): the
/// replicas disagree, and the repair sends A's item again, which heals B's copy.
#[tokio::test]
async fn replicas_that_disagree_are_reported_and_repaired_by_sending_again() {
    let (a, b) = pair().await;
    synced_items(&a, &b, &["current wording"]).await;
    let (api_a, api_b) = (a.api(), b.api());
    settled_verify(&api_a).await;
    {
        let db = database(&b);
        db.execute(
            "UPDATE items SET summary = 'older wording' WHERE project = 'ENG' AND number = 1",
            [],
        )
        .unwrap();
        db.execute(
            "UPDATE twins SET last_received = '{\"summary\":\"older wording\"}' \
             WHERE project = 'ENG' AND number = 1",
            [],
        )
        .unwrap();
    }
    let report = settled_verify(&api_a).await;
    assert_eq!(
        kinds(&report),
        [("replicas_differ".to_owned(), "SUP-1".to_owned())],
        "{report}"
    );
    assert!(
        report["differences"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("the remote did not receive what this side last sent"),
        "{report}"
    );
    let repaired = verify(&api_a, true).await;
    assert_eq!(
        repaired["differences"][0]["repair"]["done"], "resent",
        "{repaired}"
    );
    eventually("B's copy is healed", || async {
        item(&api_b, "ENG-1").await["summary"] == "current wording"
    })
    .await;
    verify_until(&api_a, "the replicas agree again", |r| {
        r["settled"] == true && r["differences"] == json!([])
    })
    .await;
}

/// The twins route answers for the connection the request is signed with and no other: a
/// peer of one connection sees none of another's twins, cannot ask as another connection, and
/// cannot name one in the body.
#[tokio::test]
async fn a_peer_reads_only_the_twins_of_the_connection_it_signs_for() {
    let (a, b) = pair().await;
    synced_items(&a, &b, &["on desk"]).await;
    let (api_a, api_b) = (a.api(), b.api());
    let code = code_for(&api_a, &b.url, "basic", "second").await;
    assert_eq!(accept(&api_b, &code).await.0, 201);
    let (_, second) = api_a.send(api_a.get("/connections/second")).await;
    let (_, desk) = api_a.send(api_a.get("/connections/desk")).await;
    let acceptor: uuid::Uuid = second["connection"]["remote"]["node_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let invitation = Invitation::decode(&code).unwrap();
    let keys = ConnectionKeys::derive(
        &invitation.secret_hash(),
        invitation.connection_id,
        invitation.initiator_node_id,
        acceptor,
        Role::Acceptor,
    );
    let desk_id: uuid::Uuid = desk["connection"]["id"].as_str().unwrap().parse().unwrap();
    let ask = |headers: Vec<(&'static str, String)>, body: &'static [u8]| {
        let url = format!("{}/node/v1/twins", a.url);
        async move {
            let mut req = reqwest::Client::new()
                .post(url)
                .header("content-type", "application/json")
                .body(body);
            for (k, v) in headers {
                req = req.header(k, v);
            }
            crate::common::read(req.send().await.unwrap()).await
        }
    };
    let body: &[u8] = br#"{"after":null,"limit":500}"#;

    // Signed for "second": A's twin on "desk" is not in the answer.
    let (status, page) = ask(signed_for("/node/v1/twins", &keys, None, body), body).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["twins"], json!([]), "{page}");
    // The same key, sent as "desk".
    let (status, answer) = ask(
        signed_for("/node/v1/twins", &keys, Some(desk_id), body),
        body,
    )
    .await;
    assert_eq!(status, 401, "{answer}");
    assert!(message(&answer).contains("signature"), "{answer}");
    // A body that names a connection is not a twins request.
    let naming: &[u8] = br#"{"after":null,"limit":500,"connection":"desk"}"#;
    let (status, answer) = ask(signed_for("/node/v1/twins", &keys, None, naming), naming).await;
    assert_eq!(status, 400, "{answer}");
    // Unsigned.
    let (status, _) = ask(Vec::new(), body).await;
    assert_eq!(status, 401);
    // B, the genuine peer of "desk", sees A's twin there.
    let report = verify(&api_b, false).await;
    assert_eq!(report["remote_twins"], 1, "{report}");
}

/// A private acceptor is never called: its initiator's verify says it compared only its own
/// side, and the private node's verify (which calls the initiator) compares both.
#[tokio::test]
async fn verify_says_what_it_cannot_compare_with_a_private_remote() {
    let (a, b) = (TestNode::start().await, TestNode::start().await);
    let (api_a, api_b) = (a.api(), b.api());
    api_a.project("SUP").await;
    api_b.project("ENG").await;
    let (status, body) = api_a
        .json(
            api_a.post("/connections"),
            json!({"private": true, "mode": "script", "local_name": "sup", "remote_name": "eng", "name": "desk"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let code = body["invitation_code"].as_str().unwrap().to_owned();
    let (status, body) = api_b
        .json(api_b.post("/invitations/accept"), json!({"code": code}))
        .await;
    assert_eq!(status, 201, "{body}");
    let on_a = verify(&api_a, false).await;
    assert_eq!(on_a["reach"], "local_only", "{on_a}");
    assert!(
        on_a["reach_reason"]
            .as_str()
            .unwrap()
            .contains("private node"),
        "{on_a}"
    );
    let on_b = verify(&api_b, false).await;
    assert_eq!(on_b["reach"], "both", "{on_b}");
}

/// B's conflicts of `desk`, the first page, as the API lists them.
async fn listed(api: &Api) -> Value {
    let (status, body) = api
        .send(api.get("/connections/desk/conflicts?limit=10"))
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

/// SUP-1 ↔ ENG-1 edited on both sides at once: A pauses, so B's change is received there and
/// waits, unapplied, while A edits too. Returns once B has recorded the conflict (A's
/// wording kept, B's overwritten).
async fn make_conflict(a: &TestNode, b: &TestNode) {
    synced_items(a, b, &["Original"]).await;
    let (api_a, api_b) = (a.api(), b.api());
    api_a.send(api_a.post("/connections/desk/deactivate")).await;
    let sent_by_b = || async {
        let (_, stats) = api_b.send(api_b.get("/connections/desk/statistics")).await;
        stats["events_sent"].as_u64().unwrap_or(0)
    };
    let before = sent_by_b().await;
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
    eventually("A received B's change", || async {
        sent_by_b().await > before
    })
    .await;
    api_a.send(api_a.post("/connections/desk/activate")).await;
    eventually("B records the conflict", || async {
        !listed(&api_b).await["conflicts"]
            .as_array()
            .unwrap()
            .is_empty()
    })
    .await;
    eventually("both sides agree", || async {
        item(&api_a, "SUP-1").await["summary"] == "A's wording"
            && item(&api_b, "ENG-1").await["summary"] == "A's wording"
    })
    .await;
}

/// Edits on both sides at once: the overwritten value is listed on the connection (API and
/// CLI) with both values and the winner, and Restore writes it back, which syncs out.
#[tokio::test]
async fn a_conflict_is_listed_per_connection_and_its_losing_value_restored_and_synced() {
    let (a, b) = pair().await;
    make_conflict(&a, &b).await;
    let (api_a, api_b) = (a.api(), b.api());
    let page = listed(&api_b).await;
    let conflict = &page["conflicts"][0];
    assert_eq!(conflict["item"], "ENG-1", "{page}");
    assert_eq!(conflict["field"], "summary");
    assert_eq!(conflict["local_value"], "B's wording");
    assert_eq!(conflict["remote_value"], "A's wording");
    assert_eq!(conflict["kept"], "remote");
    assert_eq!(conflict["losing_value"], "B's wording");
    assert_eq!(conflict["restored"], Value::Null);
    let id = conflict["id"].as_i64().unwrap();

    let out = sync(&b.url, &["conflicts", "--connection", "desk"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("ENG-1"), "{}", out.stdout);
    assert!(out.stdout.contains("B's wording"), "{}", out.stdout);
    assert!(out.stdout.contains("A's wording"), "{}", out.stdout);

    let out = sync(
        &b.url,
        &["restore", "--connection", "desk", &id.to_string()],
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("Restored summary of ENG-1"),
        "{}",
        out.stdout
    );
    assert_eq!(item(&api_b, "ENG-1").await["summary"], "B's wording");
    eventually("the restored value arrives on A", || async {
        item(&api_a, "SUP-1").await["summary"] == "B's wording"
    })
    .await;
    let page = listed(&api_b).await;
    let restored = page["conflicts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap();
    assert!(restored["restored"].is_string(), "{page}");

    // A conflict the connection does not have is not found.
    let (status, body) = api_a
        .send(api_a.post(&format!(
            "/connections/desk/conflicts/{}/restore",
            id + 1000
        )))
        .await;
    assert_eq!(status, 404, "{body}");
}

/// The console's Conflicts page lists the conflict with both values and restores it; its
/// Verify page compares and says there is no difference.
#[tokio::test]
async fn the_console_lists_conflicts_restores_one_and_verifies_the_connection() {
    let (a, b) = pair().await;
    make_conflict(&a, &b).await;
    let api_a = a.api();
    let (client, csrf) = console(&b).await;
    let connections = get_page(&client, format!("{}/connections", b.url)).await;
    assert!(
        connections.contains("/sync/connections/desk/conflicts"),
        "{connections}"
    );
    let url = format!("{}/sync/connections/desk/conflicts", b.url);
    let page = get_page(&client, &url).await;
    assert!(page.contains("ENG-1"), "{page}");
    assert!(
        page.contains("B&#x27;s wording") || page.contains("B&#39;s wording"),
        "{page}"
    );
    assert!(
        page.contains("the remote&#x27;s") || page.contains("the remote&#39;s"),
        "{page}"
    );
    let id = listed(&b.api()).await["conflicts"][0]["id"]
        .as_i64()
        .unwrap();
    let (status, page) = post(
        &client,
        format!("{url}/{id}/restore"),
        &[("csrf", csrf.as_str())],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Restored summary of ENG-1"), "{page}");
    assert!(page.contains("restored "), "{page}");
    eventually("the restored value arrives on A", || async {
        item(&api_a, "SUP-1").await["summary"] == "B's wording"
    })
    .await;

    let url = format!("{}/sync/connections/desk/verify", b.url);
    let deadline = Instant::now() + SETTLE;
    loop {
        let (status, page) = post(&client, url.clone(), &[("csrf", csrf.as_str())]).await;
        assert_eq!(status, 200, "{page}");
        if page.contains("No differences.") && !page.contains("were not compared") {
            assert!(page.contains("class=\"remote-twins\">1<"), "{page}");
            break;
        }
        assert!(Instant::now() < deadline, "never verified clean: {page}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// With `--verify-every`, the node finds and repairs a stranded twin by itself.
#[tokio::test]
async fn the_periodic_pass_repairs_a_stranded_twin_by_itself() {
    let a = TestNode::start_with(|c| c.verify_every = Some(Duration::from_millis(200))).await;
    let b = TestNode::start().await;
    connect(&a, &b, "script").await;
    let (api_a, api_b) = (a.api(), b.api());
    api_a
        .item(json!({"project": "SUP", "summary": "left behind"}))
        .await;
    strand(&a, 1);
    eventually("the periodic pass sends it", || async {
        twins(&api_a, "SUP-1").await[0]["remote_key"] == "ENG-1"
    })
    .await;
    assert_eq!(item(&api_b, "ENG-1").await["summary"], "left behind");
}

/// A local connection's two sides are this node: verify compares them with each other.
#[tokio::test]
async fn verify_compares_the_two_sides_of_a_local_connection_in_one_node() {
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
    let incoming = "if (firstSync) { issue.projectKey = replica.key.startsWith('SUP-') ? 'ENG' : 'SUP' }\nissue.summary = replica.summary";
    let (status, body) = api
        .json(
            api.patch("/connections/inside"),
            json!({"incoming_script": incoming}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    api.item(json!({"project": "SUP", "summary": "inside"}))
        .await;
    exalate(&api, "inside", "SUP-1").await;
    eventually("both twins are linked", || async {
        exists(&api, "ENG-1").await && twins(&api, "SUP-1").await[0]["remote_key"] == "ENG-1"
    })
    .await;
    let verify_inside = || async {
        let (status, body) = api
            .json(api.post("/connections/inside/verify"), json!({}))
            .await;
        assert_eq!(status, 200, "{body}");
        body
    };
    let deadline = Instant::now() + SETTLE;
    let report = loop {
        let report = verify_inside().await;
        if report["settled"] == true && report["differences"] == json!([]) {
            break report;
        }
        assert!(Instant::now() < deadline, "never clean: {report}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(report["reach"], "both", "{report}");
    assert_eq!(report["twins"], 2, "{report}");
    assert_eq!(report["remote_twins"], 2, "{report}");

    database(&a)
        .execute("DELETE FROM twins WHERE project = 'ENG' AND number = 1", [])
        .unwrap();
    let report = verify_inside().await;
    let mut found = kinds(&report);
    found.sort();
    assert_eq!(
        found,
        [
            ("missing_here".to_owned(), "ENG-1".to_owned()),
            ("missing_on_remote".to_owned(), "SUP-1".to_owned()),
        ],
        "{report}"
    );
}
