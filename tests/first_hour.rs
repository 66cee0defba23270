//! Issue 16, "the first hour of a new admin": what a new admin meets on two fresh nodes with
//! the default connection — the project new items go to, failures both sides can see, and
//! internal comments that stay home.

use serde_json::{Value, json};

use crate::common::{Api, TestNode};
use crate::sync::{eventually, exalate, item};

/// The bodies of an item's comments.
async fn comment_bodies(api: &Api, key: &str) -> Vec<String> {
    item(api, key).await["comments"]
        .as_array()
        .map(|c| {
            c.iter()
                .filter_map(|c| c["body"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

async fn comment(api: &Api, key: &str, body: &str, internal: bool) {
    let (status, answer) = api
        .json(
            api.post(&format!("/items/{key}/comments")),
            json!({"body": body, "internal": internal}),
        )
        .await;
    assert_eq!(status, 201, "{answer}");
}

/// Point 3: with the rules a new connection starts with, in either mode, an internal comment
/// stays on its side, both ways. Each side comments internally first and publicly after: the
/// replica that carries the public comment is the item's whole state, so once the public one
/// arrived, an internal one sent would have arrived with it or before.
#[tokio::test]
async fn a_default_connection_never_sends_an_internal_comment() {
    for mode in ["basic", "script"] {
        let (a, b) = (TestNode::start().await, TestNode::start().await);
        crate::sync::connect(&a, &b, mode).await;
        let (api_a, api_b) = (a.api(), b.api());
        api_a
            .item(json!({"project": "SUP", "summary": "Refund stuck"}))
            .await;
        exalate(&api_a, "desk", "SUP-1").await;
        eventually(&format!("{mode}: B creates ENG-1"), || async {
            crate::sync::exists(&api_b, "ENG-1").await
        })
        .await;

        comment(
            &api_a,
            "SUP-1",
            "A internal: customer is on probation",
            true,
        )
        .await;
        comment(&api_a, "SUP-1", "A public: refund under way", false).await;
        comment(&api_b, "ENG-1", "B internal: blame the PSP", true).await;
        comment(&api_b, "ENG-1", "B public: fix deployed", false).await;
        eventually(&format!("{mode}: the public comments cross"), || async {
            comment_bodies(&api_b, "ENG-1")
                .await
                .iter()
                .any(|c| c.ends_with("A public: refund under way"))
                && comment_bodies(&api_a, "SUP-1")
                    .await
                    .iter()
                    .any(|c| c.ends_with("B public: fix deployed"))
        })
        .await;
        let on_b = comment_bodies(&api_b, "ENG-1").await;
        let on_a = comment_bodies(&api_a, "SUP-1").await;
        assert!(
            !on_b.iter().any(|c| c.contains("A internal")),
            "{mode}: A's internal comment reached B: {on_b:?}"
        );
        assert!(
            !on_a.iter().any(|c| c.contains("B internal")),
            "{mode}: B's internal comment reached A: {on_a:?}"
        );
    }
}

/// Point 3 on ServiceNow: a work note is internal, and the default rules of either mode keep
/// it in ServiceNow; an internal comment from the other side never becomes a journal entry.
#[tokio::test]
async fn a_default_servicenow_connection_never_sends_a_work_note() {
    use reqwest::Method;
    for mode in ["basic", "script"] {
        let (instance, a, b) = crate::servicenow::setup_in(mode).await;
        let (api_a, api_b) = (a.api(), b.api());
        let created = instance
            .agent(
                Method::POST,
                "/api/now/table/incident",
                Some(json!({"short_description": "Badge reader offline"})),
            )
            .await["result"]
            .clone();
        let sys_id = created["sys_id"].as_str().expect("sys_id").to_owned();
        let key =
            crate::servicenow::mirror_of(&api_a, created["number"].as_str().expect("number")).await;
        exalate(&api_a, "snow_to_eng", &key).await;
        eventually(&format!("{mode}: B gets the incident"), || async {
            crate::servicenow::item(&api_b, "ENG-1").await.is_some()
        })
        .await;

        // The agent writes a work note, then a comment, in ServiceNow.
        for (column, text) in [
            ("work_notes", "Work note: badge vendor owes us"),
            ("comments", "Comment: technician booked"),
        ] {
            instance
                .agent(
                    Method::PATCH,
                    &format!("/api/now/table/incident/{sys_id}"),
                    Some(json!({ column: text })),
                )
                .await;
        }
        // B writes an internal comment, then a public one.
        comment(&api_b, "ENG-1", "B internal: door 4 is fine", true).await;
        comment(&api_b, "ENG-1", "B public: reader replaced", false).await;

        eventually(&format!("{mode}: the public comments cross"), || async {
            let journal = instance.journal(&sys_id).await;
            comment_bodies(&api_b, "ENG-1")
                .await
                .iter()
                .any(|c| c.ends_with("Comment: technician booked"))
                && journal
                    .iter()
                    .any(|(e, v)| e == "comments" && v.ends_with("B public: reader replaced"))
        })
        .await;
        let on_b = comment_bodies(&api_b, "ENG-1").await;
        assert!(
            !on_b.iter().any(|c| c.contains("Work note")),
            "{mode}: the work note reached B: {on_b:?}"
        );
        let journal: Vec<(String, String)> = instance.journal(&sys_id).await;
        assert!(
            !journal.iter().any(|(_, v)| v.contains("B internal")),
            "{mode}: B's internal comment reached ServiceNow: {journal:?}"
        );
        instance.emu.shutdown().await.expect("emulator stops");
    }
}

/// Connects A → B (`desk`) in `mode` with no projects on either side yet, as two fresh nodes
/// are; B accepts with `accept` (extra fields of the accept body).
async fn connect_fresh(a: &TestNode, b: &TestNode, mode: &str, accept: serde_json::Value) {
    let (status, body) = a
        .api()
        .json(
            a.api().post("/connections"),
            json!({"to": b.url, "mode": mode, "local_name": "sup", "remote_name": "eng", "name": "desk"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let mut request = json!({"code": body["invitation_code"]});
    for (k, v) in accept.as_object().expect("an object") {
        request[k] = v.clone();
    }
    let (status, body) = b
        .api()
        .json(b.api().post("/invitations/accept"), request)
        .await;
    assert_eq!(status, 201, "{body}");
}

async fn open_errors(api: &Api) -> Vec<serde_json::Value> {
    let (status, body) = api.send(api.get("/sync/errors")).await;
    assert_eq!(status, 200, "{body}");
    body["errors"].as_array().cloned().unwrap_or_default()
}

/// The connection's `open_errors` as the Connections list shows it.
async fn listed_open_errors(api: &Api, name: &str) -> u64 {
    let (status, body) = api.send(api.get("/connections")).await;
    assert_eq!(status, 200, "{body}");
    body["connections"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["name"] == name))
        .and_then(|c| c["open_errors"].as_u64())
        .unwrap_or_else(|| panic!("no open_errors for {name}: {body}"))
}

/// Points 1 and 2 on a Basic connection between fresh nodes: the receiver has no project when
/// it accepts, so the first Exalate fails — on the receiver with an error naming what is
/// missing and where to set it, and on the sender with the receiver's reason on the item, a
/// link to retry there, and a mark on both Connections rows and menus. The receiver's admin
/// creates a project afterwards and chooses it (Basic rules cannot be edited; the target
/// project is not in them), retries, and both sides are clean.
#[tokio::test]
async fn a_first_sync_with_no_target_project_fails_clearly_on_both_sides_until_one_is_chosen() {
    let (a, b) = (TestNode::start().await, TestNode::start().await);
    connect_fresh(&a, &b, "basic", json!({})).await;
    let (api_a, api_b) = (a.api(), b.api());
    let (_, shown) = api_b.send(api_b.get("/connections/desk")).await;
    assert_eq!(
        shown["connection"]["target_project"],
        Value::Null,
        "{shown}"
    );
    assert!(
        !shown["connection"]["incoming_script"]
            .as_str()
            .expect("rules")
            .contains("PROJ"),
        "the rules name no project: {shown}"
    );

    api_a.project("SUP").await;
    api_a
        .item(json!({"project": "SUP", "summary": "Invoice totals wrong"}))
        .await;
    exalate(&api_a, "desk", "SUP-1").await;

    // The receiver says what is missing and where to set it.
    eventually("B records the missing target project", || async {
        !open_errors(&api_b).await.is_empty()
    })
    .await;
    let on_b = open_errors(&api_b).await;
    assert_eq!(on_b.len(), 1, "{on_b:?}");
    let message = on_b[0]["message"].as_str().expect("message");
    assert!(
        message.contains("no target project") && message.contains("Target project"),
        "{message}"
    );
    let b_error = on_b[0]["id"].as_i64().expect("id");

    // The sender sees the receiver's reason on its item, with where to retry it.
    eventually("A hears of B's failure", || async {
        !open_errors(&api_a).await.is_empty()
    })
    .await;
    let (status, sync_status) = api_a.send(api_a.get("/sync/status/SUP-1")).await;
    assert_eq!(status, 200, "{sync_status}");
    let reported = &sync_status["errors"][0];
    assert_eq!(reported["remote_error"], b_error, "{sync_status}");
    assert_eq!(
        reported["retry_at"],
        format!("{}/sync/errors#error-{b_error}", b.url),
        "{sync_status}"
    );
    let message = reported["message"].as_str().expect("message");
    assert!(
        message.starts_with("eng could not apply this item's change: no target project"),
        "{message}"
    );
    assert_eq!(listed_open_errors(&api_a, "desk").await, 1);
    assert_eq!(listed_open_errors(&api_b, "desk").await, 1);

    // Both consoles mark the connection and count the errors in the menu.
    for (node, sender) in [(&a, true), (&b, false)] {
        let client = crate::console::browser();
        crate::console::login(node, &client).await;
        let page = crate::console::get_page(&client, format!("{}/connections", node.url)).await;
        assert!(page.contains("1 open sync error<"), "{page}");
        assert!(
            page.contains("<span class=\"count\" id=\"open-errors\""),
            "{page}"
        );
        let errors = crate::console::get_page(&client, format!("{}/sync/errors", node.url)).await;
        if sender {
            assert!(
                errors.contains(&format!("href=\"{}/sync/errors#error-{b_error}\"", b.url)),
                "{errors}"
            );
        }
    }

    // B's admin makes a project now and chooses it; a project key that is not there is refused.
    let (status, body) = api_b
        .json(
            api_b.patch("/connections/desk"),
            json!({"target_project": "ENG"}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("no project ENG")),
        "{body}"
    );
    api_b.project("ENG").await;
    let (status, body) = api_b
        .json(
            api_b.patch("/connections/desk"),
            json!({"target_project": "ENG"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["connection"]["target_project"], "ENG");
    let (status, body) = api_b
        .send(api_b.post(&format!("/sync/errors/{b_error}/retry")))
        .await;
    assert_eq!(status, 200, "{body}");
    eventually("B creates ENG-1 in the project chosen", || async {
        crate::sync::exists(&api_b, "ENG-1").await
    })
    .await;
    assert_eq!(
        item(&api_b, "ENG-1").await["summary"],
        "Invoice totals wrong"
    );
    eventually(
        "A's reported error closes with B's acknowledgement",
        || async { open_errors(&api_a).await.is_empty() },
    )
    .await;
    assert_eq!(listed_open_errors(&api_a, "desk").await, 0);
    assert_eq!(listed_open_errors(&api_b, "desk").await, 0);
}

/// Point 1: the acceptor chooses the target project when accepting (its node has several),
/// and the rules read it when they run: a change of the choice applies to the next new item
/// without touching the rules.
#[tokio::test]
async fn the_acceptor_chooses_the_target_project_and_the_rules_read_it_when_they_run() {
    let (a, b) = (TestNode::start().await, TestNode::start().await);
    let (api_a, api_b) = (a.api(), b.api());
    api_b.project("ENG").await;
    api_b.project("OPS").await;
    // A project key the node does not have is refused before anything is made.
    let (status, body) = a
        .api()
        .json(
            a.api().post("/connections"),
            json!({"to": b.url, "mode": "script", "local_name": "sup", "remote_name": "eng", "name": "desk"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let code = body["invitation_code"].clone();
    let (status, body) = api_b
        .json(
            api_b.post("/invitations/accept"),
            json!({"code": code, "target_project": "HR"}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("no project HR; its projects are ENG, OPS")),
        "{body}"
    );
    let (status, body) = api_b
        .json(
            api_b.post("/invitations/accept"),
            json!({"code": code, "target_project": "OPS"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["connection"]["target_project"], "OPS");

    api_a.project("SUP").await;
    for summary in ["First", "Second"] {
        api_a
            .item(json!({"project": "SUP", "summary": summary}))
            .await;
    }
    exalate(&api_a, "desk", "SUP-1").await;
    eventually("B creates OPS-1", || async {
        crate::sync::exists(&api_b, "OPS-1").await
    })
    .await;
    let (status, body) = api_b
        .json(
            api_b.patch("/connections/desk"),
            json!({"target_project": "ENG"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    exalate(&api_a, "desk", "SUP-2").await;
    eventually("B creates ENG-1 for the second", || async {
        crate::sync::exists(&api_b, "ENG-1").await
    })
    .await;
    assert_eq!(item(&api_b, "ENG-1").await["summary"], "Second");
    assert!(open_errors(&api_a).await.is_empty());
    assert!(open_errors(&api_b).await.is_empty());
}

/// A node whose evaluation ended 40 days after its first start: it runs on the Free plan
/// (Basic only).
async fn free_node() -> (TestNode, tempfile::TempDir) {
    use tandem_store::prelude::*;
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).expect("data dir");
    {
        let store =
            tandem_store::sqlite::SqliteStore::open(&data.join("tandem.db"), Default::default())
                .expect("store");
        let then = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(40 * 24);
        store
            .set_setting("node.first_start", &then.to_string())
            .await
            .expect("setting");
    }
    let node = TestNode::start_with(|c| c.data_dir = data.clone()).await;
    (node, dir)
}

fn message(body: &Value) -> String {
    body["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Point 4: the destination check asks the destination which modes its plan allows; a
/// Script invitation to a node on the Free plan is refused when it is made, naming what the
/// other admin can do, and an acceptor that gets one anyway (a private invitation, whose
/// destination nobody could ask) is told what its admin can do.
#[tokio::test]
async fn a_script_invitation_to_a_node_that_cannot_run_script_is_refused_with_what_to_do() {
    let a = TestNode::start().await;
    let (b, _dir) = free_node().await;
    let api_a = a.api();
    let (status, check) = api_a
        .json(api_a.post("/connections/check"), json!({"url": b.url}))
        .await;
    assert_eq!(status, 200, "{check}");
    let offer = |mode: &str| {
        check["modes"]
            .as_array()
            .and_then(|m| m.iter().find(|o| o["mode"] == mode))
            .cloned()
            .unwrap_or_else(|| panic!("no {mode} offer: {check}"))
    };
    assert_eq!(offer("basic")["refusal"], Value::Null, "{check}");
    let refusal = offer("script")["refusal"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        refusal.contains("cannot run Script mode")
            && refusal.contains("allows Basic only")
            && refusal.contains("license key"),
        "{check}"
    );
    let (status, answer) = api_a
        .json(
            api_a.post("/connections"),
            json!({"to": b.url, "mode": "script", "local_name": "sup", "remote_name": "eng"}),
        )
        .await;
    assert_eq!(status, 403, "{answer}");
    assert_eq!(message(&answer), refusal);
    let (_, listed) = api_a.send(api_a.get("/connections")).await;
    assert_eq!(
        listed["connections"],
        json!([]),
        "no dead Pending connection"
    );

    // A private invitation reaches B anyway: B's admin learns what to do.
    let (status, made) = api_a
        .json(
            api_a.post("/connections"),
            json!({"private": true, "mode": "script", "local_name": "sup", "remote_name": "eng"}),
        )
        .await;
    assert_eq!(status, 201, "{made}");
    let (status, refused) = b
        .api()
        .json(
            b.api().post("/invitations/accept"),
            json!({"code": made["invitation_code"]}),
        )
        .await;
    assert_eq!(status, 403, "{refused}");
    let said = message(&refused);
    assert!(
        said.contains("this invitation is for a Script connection")
            && said.contains("plan (Free) allows Basic only")
            && said.contains("add a license key")
            && said.contains("ask sup's admin for a Basic invitation"),
        "{said}"
    );
    // A's Pending connection shows why it is stuck.
    let name = made["connection"]["name"]
        .as_str()
        .expect("name")
        .to_owned();
    let (_, shown) = api_a.send(api_a.get(&format!("/connections/{name}"))).await;
    assert_eq!(shown["connection"]["status"], "pending", "{shown}");
    let reason = shown["connection"]["status_reason"]
        .as_str()
        .unwrap_or_default();
    assert!(
        reason.starts_with("eng cannot accept the invitation: its plan (Free) allows Basic only")
            && reason.contains("make a Basic invitation"),
        "{shown}"
    );
}

/// Point 5: a Pending connection gets a new invitation code and the old one stops working;
/// deleting a connection the other side never accepted says so.
#[tokio::test]
async fn a_pending_connection_gets_a_new_code_and_the_old_one_stops_working() {
    let (a, b) = (TestNode::start().await, TestNode::start().await);
    let (api_a, api_b) = (a.api(), b.api());
    let (status, made) = api_a
        .json(
            api_a.post("/connections"),
            json!({"to": b.url, "mode": "basic", "local_name": "sup", "remote_name": "eng", "name": "desk"}),
        )
        .await;
    assert_eq!(status, 201, "{made}");
    let old = made["invitation_code"].as_str().expect("code").to_owned();
    let (status, again) = api_a.send(api_a.post("/connections/desk/invitation")).await;
    assert_eq!(status, 201, "{again}");
    let new = again["invitation_code"].as_str().expect("code").to_owned();
    assert_ne!(new, old);
    assert_eq!(again["connection"]["status"], "pending");

    let (status, refused) = api_b
        .json(api_b.post("/invitations/accept"), json!({"code": old}))
        .await;
    assert!(status == 401 || status == 400, "{status} {refused}");
    let (_, listed) = api_b.send(api_b.get("/connections")).await;
    assert_eq!(listed["connections"], json!([]), "{listed}");
    let (status, accepted) = api_b
        .json(api_b.post("/invitations/accept"), json!({"code": new}))
        .await;
    assert_eq!(status, 201, "{accepted}");
    assert_eq!(accepted["connection"]["status"], "active");
    // Accepted: no more codes for it.
    let (status, body) = api_a.send(api_a.post("/connections/desk/invitation")).await;
    assert_eq!(status, 400, "{body}");

    // A connection nobody accepted: its deletion says so, and tells no one.
    let (status, made) = api_a
        .json(
            api_a.post("/connections"),
            json!({"to": b.url, "mode": "basic", "local_name": "sup", "remote_name": "eng", "name": "lost"}),
        )
        .await;
    assert_eq!(status, 201, "{made}");
    let (status, deleted) = api_a.send(api_a.delete("/connections/lost")).await;
    assert_eq!(status, 200, "{deleted}");
    assert_eq!(deleted["never_accepted"], true, "{deleted}");
    assert_eq!(deleted["remote_told"], false, "{deleted}");
    let (status, refused) = api_b
        .json(
            api_b.post("/invitations/accept"),
            json!({"code": made["invitation_code"]}),
        )
        .await;
    assert_ne!(status, 201, "{refused}");
}

/// Point 8: short names and connection names follow one rule (letters, digits, `_`, `-`),
/// a refusal suggests a valid name, and the default connection name never collides.
#[tokio::test]
async fn names_follow_one_rule_and_the_default_connection_name_never_collides() {
    let (a, b) = (TestNode::start().await, TestNode::start().await);
    let api = a.api();
    for (field, value) in [
        ("local_name", "Initech Corp!"),
        ("remote_name", "eng team"),
        ("name", "sup to eng"),
    ] {
        let mut body =
            json!({"to": b.url, "mode": "basic", "local_name": "sup", "remote_name": "eng"});
        body[field] = value.into();
        let (status, answer) = api.json(api.post("/connections"), body).await;
        assert_eq!(status, 400, "{answer}");
        let said = message(&answer);
        assert!(
            said.contains("letters, digits, _ and - only"),
            "{field}: {said}"
        );
        if field == "local_name" {
            assert!(said.contains("for example initech_corp"), "{said}");
        }
    }
    let mut names = Vec::new();
    for _ in 0..3 {
        let (status, made) = api
            .json(
                api.post("/connections"),
                json!({"to": b.url, "mode": "basic", "local_name": "sup", "remote_name": "eng"}),
            )
            .await;
        assert_eq!(status, 201, "{made}");
        names.push(
            made["connection"]["name"]
                .as_str()
                .expect("name")
                .to_owned(),
        );
    }
    assert_eq!(names, ["sup_to_eng", "sup_to_eng_2", "sup_to_eng_3"]);
}

/// Point 1 for connections made before: a Basic connection's rules cannot be edited, and an
/// older version wrote a project into them (`PROJ` when the node had none). At start the
/// node gives them today's rules, with the project written in them as the target project when
/// the node has it, and none (the admin chooses) when it does not.
#[tokio::test]
async fn basic_rules_an_older_version_generated_are_upgraded_to_read_the_target_project() {
    use tandem_model::{Connection, ConnectionRole, ConnectionStatus, Mode, NewProject};
    use tandem_store::prelude::*;
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).expect("data dir");
    let legacy = |project: &str| {
        format!(
            "// Basic mode: generated rules (summary, description, public comments, attachments).\n\
             if (firstSync) {{\n    issue.projectKey = \"{project}\"\n}}\n\
             issue.summary     = replica.summary\n\
             issue.description = replica.description\n\
             issue.comments    = commentHelper.mergeComments(issue, replica)\n\
             issue.attachments = attachmentHelper.mergeAttachments(issue, replica)\n"
        )
    };
    {
        let store =
            tandem_store::sqlite::SqliteStore::open(&data.join("tandem.db"), Default::default())
                .expect("store");
        store
            .create_project(NewProject {
                key: "ENG".parse().expect("key"),
                name: "Engineering".into(),
                description: String::new(),
            })
            .await
            .expect("project");
        let now = jiff::Timestamp::now();
        for (name, project) in [("old_eng", "ENG"), ("old_proj", "PROJ")] {
            store
                .create_connection(Connection {
                    id: uuid::Uuid::now_v7(),
                    name: name.into(),
                    description: String::new(),
                    mode: Mode::Basic,
                    role: ConnectionRole::Local,
                    local_short_name: "eng".into(),
                    remote_short_name: "sup".into(),
                    remote: None,
                    private: false,
                    status: ConnectionStatus::Active,
                    status_reason: None,
                    remote_paused: false,
                    invitation: None,
                    sealed_root: None,
                    outgoing_script: String::new(),
                    incoming_script: legacy(project),
                    target_project: None,
                    created: now,
                    updated: now,
                    last_sync: None,
                    version: 1,
                })
                .await
                .expect("connection");
        }
    }
    let node = TestNode::start_with(|c| c.data_dir = data.clone()).await;
    let api = node.api();
    for (name, target) in [("old_eng", json!("ENG")), ("old_proj", Value::Null)] {
        let (status, body) = api.send(api.get(&format!("/connections/{name}"))).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["connection"]["target_project"], target, "{body}");
        let rules = body["connection"]["incoming_script"]
            .as_str()
            .expect("rules");
        assert!(
            rules.contains("issue.projectKey = connection.targetProject")
                && !rules.contains("PROJ"),
            "{rules}"
        );
    }
}
