//! A node on (emulated) ServiceNow and a node on the built-in tracker, connected in Script mode
//! with the default rules: incidents and items sync both ways — fields, state with its close
//! fields, comments and work notes, attachments — through the ServiceNow connector's REST
//! calls, exactly as against a real instance.

use std::time::Duration;

use serde_json::{Value, json};
use tandem_emulators::servicenow::{self, EmulatorConfig, RunningEmulator};
use tandem_node::config::{Secret, ServiceNowConfig};

use crate::common::{Api, TestNode};
use crate::sync::eventually;

pub(crate) const PROXY: &str = "tandem.proxy";
pub(crate) const PROXY_PASSWORD: &str = "pr0xy-pass";
pub(crate) const AGENT: &str = "beth.anglin";
pub(crate) const AGENT_PASSWORD: &str = "agent-pass";

/// An emulated instance with the node's proxy user and an agent, Beth Anglin.
pub(crate) fn emulator_config() -> EmulatorConfig {
    let mut config = EmulatorConfig::new("127.0.0.1:0".parse().expect("address"))
        .with_user(PROXY, PROXY_PASSWORD);
    config
        .users
        .push(tandem_emulators::servicenow::EmulatorUser {
            user_name: AGENT.into(),
            password: AGENT_PASSWORD.into(),
            name: "Beth Anglin".into(),
        });
    config
}

/// A node's settings for the instance at `url`: the proxy user, Basic auth unless `oauth`,
/// polled every second.
pub(crate) fn node_config(
    url: String,
    tables: &[&str],
    oauth: Option<(String, Secret)>,
) -> ServiceNowConfig {
    ServiceNowConfig {
        instance_url: url,
        user: PROXY.into(),
        password: Secret::new(PROXY_PASSWORD),
        oauth,
        tables: tables.iter().map(|t| (*t).to_owned()).collect(),
        poll_interval: Duration::from_millis(1000),
        from_console: false,
    }
}

pub(crate) struct Instance {
    pub(crate) emu: RunningEmulator,
    http: reqwest::Client,
}

impl Instance {
    /// An instance that enforces the state model's mandatory fields, as data policies do.
    async fn start() -> Instance {
        let mut config = emulator_config();
        config.enforce_data_policies = true;
        Instance::with(config).await
    }

    pub(crate) async fn with(config: EmulatorConfig) -> Instance {
        Instance {
            emu: servicenow::start(config).await.expect("emulator starts"),
            http: reqwest::Client::new(),
        }
    }

    pub(crate) async fn faults(&self, faults: tandem_emulators::servicenow::Faults) {
        let r = self
            .http
            .post(self.url("/__emulator/faults"))
            .json(&faults)
            .send()
            .await
            .expect("faults set");
        assert_eq!(r.status(), 200);
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.emu.base_url())
    }

    /// A request as the service desk agent, as someone working in ServiceNow; it must succeed.
    pub(crate) async fn agent(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Value {
        self.try_agent(method, path, body)
            .await
            .unwrap_or_else(|| panic!("the agent's request to {path} failed"))
    }

    /// The same, `None` when the instance refused it or failed (an injected fault).
    pub(crate) async fn try_agent(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Option<Value> {
        let mut req = self
            .http
            .request(method, self.url(path))
            .basic_auth(AGENT, Some(AGENT_PASSWORD));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.ok()?;
        if !r.status().is_success() {
            return None;
        }
        if r.status() == 204 {
            return Some(Value::Null);
        }
        r.json().await.ok()
    }

    /// The rows of `table` matching an encoded query (spaces allowed).
    pub(crate) async fn rows(&self, table: &str, query: &str) -> Vec<Value> {
        let path = format!(
            "/api/now/table/{table}?sysparm_query={}",
            query.replace(' ', "%20")
        );
        self.agent(reqwest::Method::GET, &path, None).await["result"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    async fn incident(&self, sys_id: &str) -> Value {
        self.agent(
            reqwest::Method::GET,
            &format!("/api/now/table/incident/{sys_id}"),
            None,
        )
        .await["result"]
            .clone()
    }

    pub(crate) async fn journal(&self, sys_id: &str) -> Vec<(String, String)> {
        let rows = self
            .agent(
                reqwest::Method::GET,
                &format!(
                    "/api/now/table/sys_journal_field?sysparm_query=element_id={sys_id}^ORDERBYsys_created_on"
                ),
                None,
            )
            .await;
        rows["result"]
            .as_array()
            .expect("rows")
            .iter()
            .map(|r| {
                (
                    r["element"].as_str().unwrap_or_default().to_owned(),
                    r["value"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    }
}

/// Node A on the emulated instance (incidents), node B on the built-in tracker (project ENG),
/// connected A → B in Script mode.
pub(crate) async fn setup() -> (Instance, TestNode, TestNode) {
    setup_in("script").await
}

pub(crate) async fn setup_in(mode: &str) -> (Instance, TestNode, TestNode) {
    let instance = Instance::start().await;
    let url = instance.emu.base_url();
    let a =
        TestNode::start_with(|c| c.servicenow = Some(node_config(url, &["incident"], None))).await;
    let b = TestNode::start().await;
    connect(&a, &b, mode).await;
    (instance, a, b)
}

/// Gives B its project ENG and connects A → B (`snow_to_eng`) in `mode`.
async fn connect(a: &TestNode, b: &TestNode, mode: &str) {
    b.api().project("ENG").await;
    let (status, body) = a
        .api()
        .json(
            a.api().post("/connections"),
            json!({"to": b.url, "mode": mode, "local_name": "snow", "remote_name": "eng", "name": "snow_to_eng"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let code = body["invitation_code"].as_str().expect("code").to_owned();
    let (status, body) = b
        .api()
        .json(b.api().post("/invitations/accept"), json!({"code": code}))
        .await;
    assert_eq!(status, 201, "{body}");
}

pub(crate) async fn item(api: &Api, key: &str) -> Option<Value> {
    let (status, body) = api.send(api.get(&format!("/items/{key}"))).await;
    (status == 200).then_some(body)
}

async fn twins(api: &Api, key: &str) -> Value {
    let (status, body) = api.send(api.get(&format!("/sync/status/{key}"))).await;
    assert_eq!(status, 200, "{body}");
    body["twins"].clone()
}

/// Changes the connection's default outgoing rules on this side to send internal comments
/// too: the defaults send public ones only, and an admin who wants internal ones says so.
pub(crate) async fn send_internal_comments(api: &Api, connection: &str) {
    let (status, body) = api
        .send(api.get(&format!("/connections/{connection}")))
        .await;
    assert_eq!(status, 200, "{body}");
    let outgoing = body["connection"]["outgoing_script"]
        .as_str()
        .expect("rules")
        .replace(
            "replica.comments    = issue.comments.findAll { !it.internal }",
            "replica.comments    = issue.comments",
        );
    assert!(!outgoing.contains("findAll"), "{outgoing}");
    let (status, body) = api
        .json(
            api.patch(&format!("/connections/{connection}")),
            json!({"outgoing_script": outgoing}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

/// The mirror item of an incident on A.
pub(crate) async fn mirror_of(api: &Api, number: &str) -> String {
    mirror_in(api, "INC", number).await
}

/// The mirror item of a record on A, in the project of its table.
async fn mirror_in(api: &Api, project: &str, number: &str) -> String {
    let mut found = None;
    for _ in 0..100 {
        let (status, body) = api
            .send(api.get(&format!("/items?query=project%20%3D%20{project}&limit=500")))
            .await;
        assert_eq!(status, 200, "{body}");
        found = body["items"].as_array().and_then(|items| {
            items
                .iter()
                .find(|i| i["custom_fields"]["number"] == number)
                .and_then(|i| i["key"].as_str().map(str::to_owned))
        });
        if found.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    found.unwrap_or_else(|| panic!("no mirror of {number}"))
}

#[tokio::test]
async fn an_incident_and_an_engineering_item_stay_in_sync_both_ways() {
    let (instance, a, b) = setup().await;
    let (api_a, api_b) = (a.api(), b.api());
    // Engineering's admin chooses to send internal comments too (they become work notes).
    send_internal_comments(&api_b, "snow_to_eng").await;

    // An agent opens an incident in ServiceNow; the node mirrors it and it is exalated.
    let created = instance
        .agent(
            reqwest::Method::POST,
            "/api/now/table/incident",
            Some(json!({"short_description": "VPN drops every hour", "description": "Since the upgrade", "urgency": "1", "impact": "1"})),
        )
        .await["result"]
        .clone();
    let sys_id = created["sys_id"].as_str().expect("sys_id").to_owned();
    let number = created["number"].as_str().expect("number").to_owned();
    let key = mirror_of(&api_a, &number).await;
    let (status, body) = api_a
        .json(
            api_a.post("/sync/exalate"),
            json!({"connection": "snow_to_eng", "item": key}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    eventually("B creates the twin of the incident", || async {
        item(&api_b, "ENG-1").await.is_some()
    })
    .await;
    let on_b = item(&api_b, "ENG-1").await.expect("ENG-1");
    assert_eq!(on_b["summary"], "VPN drops every hour");
    assert_eq!(on_b["description"], "Since the upgrade");
    assert_eq!(on_b["status"], "To Do");
    assert_eq!(
        on_b["priority"], "Highest",
        "priority 1 from impact × urgency"
    );

    // The agent works the incident and comments: B follows.
    instance
        .agent(
            reqwest::Method::PATCH,
            &format!("/api/now/table/incident/{sys_id}"),
            Some(json!({"state": "2", "comments": "We are looking into it"})),
        )
        .await;
    eventually("B gets the state and the comment", || async {
        let on_b = item(&api_b, "ENG-1").await.expect("ENG-1");
        on_b["status"] == "In Progress"
            && on_b["comments"].as_array().is_some_and(|c| {
                c.iter().any(|c| {
                    c["body"]
                        .as_str()
                        .unwrap_or_default()
                        .ends_with("We are looking into it")
                })
            })
    })
    .await;

    // The agent attaches a trace in ServiceNow: B gets the file.
    let trace = b"traceroute to vpn.example.com\n 1  10.0.0.1  0.4 ms\n".repeat(20);
    let r = instance
        .http
        .post(instance.url(&format!(
            "/api/now/attachment/file?table_name=incident&table_sys_id={sys_id}&file_name=trace.txt"
        )))
        .basic_auth(AGENT, Some(AGENT_PASSWORD))
        .header("content-type", "text/plain")
        .body(trace.clone())
        .send()
        .await
        .expect("upload");
    assert_eq!(r.status(), 201);
    eventually("B gets the agent's attachment", || async {
        item(&api_b, "ENG-1").await.is_some_and(|i| {
            i["attachments"].as_array().is_some_and(|a| {
                a.iter()
                    .any(|a| a["filename"] == "trace.txt" && a["size"] == trace.len())
            })
        })
    })
    .await;

    // Engineering renames, comments publicly and internally, attaches a log and resolves.
    let (status, body) = api_b
        .json(
            api_b.patch("/items/ENG-1"),
            json!({"summary": "VPN drops every hour on Windows"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    for (text, internal) in [("Fix deployed to canary", false), ("Root cause: MTU", true)] {
        let (status, body) = api_b
            .json(
                api_b.post("/items/ENG-1/comments"),
                json!({"body": text, "internal": internal}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    let log = b"2026-12-04 10:00 tunnel reset\n".repeat(50);
    let (status, body) = api_b
        .send(
            api_b
                .post("/items/ENG-1/attachments?filename=vpn.log")
                .header("content-type", "text/plain")
                .body(log.clone()),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    eventually("ServiceNow gets the new short description", || async {
        instance.incident(&sys_id).await["short_description"] == "VPN drops every hour on Windows"
    })
    .await;
    eventually("ServiceNow gets the comment and the work note", || async {
        let journal = instance.journal(&sys_id).await;
        journal
            .iter()
            .any(|(e, v)| e == "comments" && v.ends_with("Fix deployed to canary"))
            && journal
                .iter()
                .any(|(e, v)| e == "work_notes" && v.ends_with("Root cause: MTU"))
    })
    .await;
    eventually("ServiceNow gets the attachment", || async {
        let files = instance
            .agent(
                reqwest::Method::GET,
                &format!("/api/now/attachment?sysparm_query=table_sys_id={sys_id}"),
                None,
            )
            .await;
        files["result"].as_array().is_some_and(|f| {
            f.iter().any(|f| {
                f["file_name"] == "vpn.log"
                    && f["size_bytes"].as_str() == Some(log.len().to_string().as_str())
            })
        })
    })
    .await;
    let (status, body) = api_b
        .json(api_b.patch("/items/ENG-1"), json!({"status": "Done"}))
        .await;
    assert_eq!(status, 200, "{body}");
    eventually("the incident is resolved with its close fields", || async {
        let inc = instance.incident(&sys_id).await;
        inc["state"] == "6"
            && inc["close_code"] == "Solved (Permanently)"
            && !inc["close_notes"].as_str().unwrap_or_default().is_empty()
    })
    .await;

    // Nothing came back as an echo: each comment once on each side, the journal without doubles.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let journal = instance.journal(&sys_id).await;
    assert_eq!(journal.len(), 3, "{journal:?}");
    let on_b = item(&api_b, "ENG-1").await.expect("ENG-1");
    assert_eq!(
        on_b["comments"].as_array().expect("comments").len(),
        3,
        "{on_b}"
    );
    let (status, errors) = api_a.send(api_a.get("/sync/errors")).await;
    assert_eq!(status, 200);
    assert_eq!(
        errors["errors"].as_array().map(Vec::len),
        Some(0),
        "{errors}"
    );

    // The agent deletes the trace in ServiceNow — which changes no record — and B loses it too.
    let files = instance
        .agent(
            reqwest::Method::GET,
            &format!("/api/now/attachment?sysparm_query=table_sys_id={sys_id}^file_name=trace.txt"),
            None,
        )
        .await;
    let trace_id = files["result"][0]["sys_id"]
        .as_str()
        .expect("the trace's sys_id")
        .to_owned();
    let r = instance
        .http
        .delete(instance.url(&format!("/api/now/attachment/{trace_id}")))
        .basic_auth(AGENT, Some(AGENT_PASSWORD))
        .send()
        .await
        .expect("delete");
    assert_eq!(r.status(), 204);
    eventually(
        "B loses the deleted attachment and keeps the other",
        || async {
            item(&api_b, "ENG-1").await.is_some_and(|i| {
                let names: Vec<&str> = i["attachments"]
                    .as_array()
                    .map(|a| a.iter().filter_map(|a| a["filename"].as_str()).collect())
                    .unwrap_or_default();
                names == ["vpn.log"]
            })
        },
    )
    .await;
    instance.emu.shutdown().await.expect("emulator stops");
}

#[tokio::test]
async fn an_item_exalated_from_the_built_in_side_becomes_one_incident() {
    let (instance, a, b) = setup().await;
    let (api_a, api_b) = (a.api(), b.api());
    let created = api_b
        .item(json!({"project": "ENG", "summary": "Certificate expires Friday", "description": "api.example.com", "priority": "High"}))
        .await;
    assert_eq!(created["key"], "ENG-1");
    let (status, body) = api_b
        .json(
            api_b.post("/sync/exalate"),
            json!({"connection": "snow_to_eng", "item": "ENG-1"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let certificate = "short_description=Certificate expires Friday";
    eventually("an incident is created in ServiceNow", || async {
        !instance.rows("incident", certificate).await.is_empty()
    })
    .await;
    // Let any retry or echo happen before counting.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let incidents = instance.rows("incident", certificate).await;
    assert_eq!(incidents.len(), 1, "exactly one incident: {incidents:?}");
    let incident = &incidents[0];
    assert_eq!(incident["urgency"], "1");
    assert_eq!(incident["description"], "api.example.com");
    assert!(
        incident["correlation_id"]
            .as_str()
            .unwrap_or_default()
            .starts_with("tandem:"),
        "{incident}"
    );
    let number = incident["number"].as_str().expect("number").to_owned();
    let key = mirror_of(&api_a, &number).await;
    eventually("B's twin shows the incident's mirror", || async {
        twins(&api_b, "ENG-1").await[0]["remote_key"] == key.as_str()
    })
    .await;
    instance.emu.shutdown().await.expect("emulator stops");
}

#[tokio::test]
async fn a_trigger_in_encoded_query_syntax_brings_matching_incidents_under_sync() {
    let (instance, a, b) = setup().await;
    let (api_a, api_b) = (a.api(), b.api());
    let (status, body) = api_a
        .json(
            api_a.post("/connections/snow_to_eng/triggers"),
            json!({"query": "caller_id.vip=true", "note": "dot-walked"}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("dot-walked"), "{body}");
    let (status, body) = api_a
        .json(
            api_a.post("/connections/snow_to_eng/triggers"),
            json!({"query": "urgency=1^active=true^ORDERBYnumber", "note": "urgent and open"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");

    for (summary, urgency) in [("Core switch down", "1"), ("Mouse squeaks", "3")] {
        instance
            .agent(
                reqwest::Method::POST,
                "/api/now/table/incident",
                Some(json!({"short_description": summary, "urgency": urgency})),
            )
            .await;
    }
    eventually("the urgent incident comes over by itself", || async {
        item(&api_b, "ENG-1")
            .await
            .is_some_and(|i| i["summary"] == "Core switch down")
    })
    .await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(
        item(&api_b, "ENG-2").await.is_none(),
        "the low-urgency incident stays out"
    );
    instance.emu.shutdown().await.expect("emulator stops");
}

/// Incoming rules as a ServiceNow admin writes them: a table check, priority maps, a state
/// switch with fall-through and the On Hold reason, reference fields set by sys_id from
/// `nodeHelper.getReference` and `httpClient`, a related record written with `httpClient`,
/// journal and attachment appends.
const ADMIN_INCOMING: &str = r#"
if (firstSync) {
    entity.tableName = "incident"
}
if (firstSync && replica.labels?.contains("waiting")) {
    def problem = httpClient.post("/api/now/table/problem", groovy.json.JsonOutput.toJson([short_description: "Vendor issue behind " + replica.summary]))
    httpClient.put("/api/now/table/problem/" + problem.result.sys_id, [work_notes: "Opened by Tandem for " + replica.key])
    entity.problem_id = problem.result.sys_id
}
if (entity.tableName == "incident") {
    entity.short_description = replica.summary
    entity.description = replica.description
    def urgencyMap = [Highest: "1", High: "1", Medium: "2", Low: "3", Lowest: "3"]
    def impactMap = [Highest: "1", High: "2", Medium: "2", Low: "3", Lowest: "3"]
    entity.urgency = urgencyMap[replica.priority?.name] ?: "3"
    entity.impact = impactMap[replica.priority?.name] ?: "3"
    switch (replica.status?.name) {
        case "Done":
            entity.state = "6"
            entity.close_code = "Solved (Permanently)"
            entity.close_notes = "Fixed by engineering in " + replica.key
            break
        case "In Progress":
            if (replica.labels?.contains("waiting")) {
                entity.state = "3"
                entity.hold_reason = "4"
                break
            }
        case "Reopened":
            entity.state = "2"
            break
        default:
            entity.state = "1"
    }
    def group = nodeHelper.getReference("sys_user_group", "name", "Network")
    if (group) {
        entity.assignment_group = group.sys_id
    }
    def callers = httpClient.get("/api/now/table/sys_user?sysparm_query=user_name=beth.anglin&sysparm_limit=1")
    if (callers.result) {
        entity.caller_id = callers.result[0].sys_id
    }
    // The record a reference's link points to (only its path counts: the node's own instance).
    if (callers.result && nodeHelper.getTableByLink("https://acme.service-now.com/api/now/table/sys_user/" + callers.result[0].sys_id)?.name != "Beth Anglin") {
        throw new com.exalate.api.exception.IssueTrackerException("getTableByLink is wrong")
    }
    if (nodeHelper.getTableByLink("https://acme.service-now.com/api/now/table/sys_user/0123456789abcdef0123456789abcdef") != null) {
        throw new com.exalate.api.exception.IssueTrackerException("getTableByLink found a record that does not exist")
    }
    entity.comments += replica.addedComments.findAll { !it.internal }
    entity.work_notes += replica.addedComments.findAll { it.internal }
    entity.attachments += replica.addedAttachments
}
"#;

#[tokio::test]
async fn admin_written_servicenow_rules_run_unchanged() {
    let (instance, a, b) = setup().await;
    let (api_a, api_b) = (a.api(), b.api());
    send_internal_comments(&api_b, "snow_to_eng").await;
    let group = instance
        .agent(
            reqwest::Method::POST,
            "/api/now/table/sys_user_group",
            Some(json!({"name": "Network"})),
        )
        .await["result"]["sys_id"]
        .as_str()
        .expect("group")
        .to_owned();
    let beth = instance
        .agent(
            reqwest::Method::GET,
            "/api/now/table/sys_user?sysparm_query=user_name=beth.anglin",
            None,
        )
        .await["result"][0]["sys_id"]
        .as_str()
        .expect("beth's sys_user")
        .to_owned();
    let (status, body) = api_a
        .json(
            api_a.patch("/connections/snow_to_eng"),
            json!({"incoming_script": ADMIN_INCOMING}),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    let created = api_b
        .item(json!({"project": "ENG", "summary": "Firewall drops VoIP", "priority": "High", "status": "In Progress", "labels": ["waiting"]}))
        .await;
    assert_eq!(created["key"], "ENG-1");
    let (status, body) = api_b
        .json(
            api_b.post("/items/ENG-1/comments"),
            json!({"body": "Vendor ticket 4471 opened", "internal": true}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = api_b
        .json(
            api_b.post("/sync/exalate"),
            json!({"connection": "snow_to_eng", "item": "ENG-1"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    let find = async || -> Option<Value> {
        instance
            .rows("incident", "short_description=Firewall drops VoIP")
            .await
            .into_iter()
            .next()
    };
    eventually(
        "the incident is created on hold, awaiting the vendor",
        || async {
            find()
                .await
                .is_some_and(|i| i["state"] == "3" && i["hold_reason"] == "4")
        },
    )
    .await;
    let incident = find().await.expect("incident");
    let sys_id = incident["sys_id"].as_str().expect("sys_id").to_owned();
    assert_eq!(incident["urgency"], "1");
    assert_eq!(incident["impact"], "2");
    assert_eq!(incident["assignment_group"]["value"], group.as_str());
    assert_eq!(incident["caller_id"]["value"], beth.as_str());
    let problems = instance
        .rows("problem", "short_descriptionSTARTSWITHVendor issue")
        .await;
    assert_eq!(
        problems.len(),
        1,
        "one problem, made by httpClient: {problems:?}"
    );
    let problem = problems[0]["sys_id"].as_str().expect("sys_id").to_owned();
    assert_eq!(
        problems[0]["short_description"],
        "Vendor issue behind Firewall drops VoIP"
    );
    assert_eq!(incident["problem_id"]["value"], problem.as_str());
    assert!(
        instance
            .journal(&problem)
            .await
            .iter()
            .any(|(e, v)| e == "work_notes" && v == "Opened by Tandem for ENG-1"),
        "the PUT wrote the problem's work note"
    );
    eventually("the internal comment is a work note", || async {
        instance
            .journal(&sys_id)
            .await
            .iter()
            .any(|(e, v)| e == "work_notes" && v.contains("Vendor ticket 4471"))
    })
    .await;

    // Without the label, In Progress falls through to the Reopened case: state 2.
    let (status, body) = api_b
        .json(api_b.patch("/items/ENG-1"), json!({"labels": []}))
        .await;
    assert_eq!(status, 200, "{body}");
    eventually("the incident is in progress", || async {
        instance.incident(&sys_id).await["state"] == "2"
    })
    .await;
    let (status, body) = api_b
        .json(api_b.patch("/items/ENG-1"), json!({"status": "Done"}))
        .await;
    assert_eq!(status, 200, "{body}");
    eventually("the incident is resolved with its close fields", || async {
        let i = instance.incident(&sys_id).await;
        i["state"] == "6" && i["close_notes"] == "Fixed by engineering in ENG-1"
    })
    .await;

    // Display values on request, tried with a Test run of outgoing rules that read them.
    let (status, body) = api_a
        .json(
            api_a.patch("/connections/snow_to_eng"),
            json!({"outgoing_script": "replica.group = nodeHelper.getDisplayValue(entity, \"assignment_group\")\nreplica.stateLabel = nodeHelper.getDisplayValue(\"incident\", entity.sys_id, \"state\")\nreplica.number = entity.key"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let mirror = twins(&api_b, "ENG-1").await[0]["remote_key"]
        .as_str()
        .expect("the mirror's key")
        .to_owned();
    let (status, tried) = api_a
        .json(
            api_a.post("/connections/snow_to_eng/test/outgoing"),
            json!({"item": mirror}),
        )
        .await;
    assert_eq!(status, 200, "{tried}");
    let replica = &tried["replica"];
    assert_eq!(replica["group"], "Network", "{tried}");
    assert_eq!(replica["stateLabel"], "Resolved", "{tried}");
    assert_eq!(replica["number"], incident["number"], "{tried}");
    // A Test run of the incoming rules sends none of their writes, and says so.
    let (status, tried) = api_a
        .json(
            api_a.post("/connections/snow_to_eng/test/incoming"),
            json!({"replica": {"key": "ENG-9", "summary": "Tried", "labels": ["waiting"], "status": {"name": "Open"}}}),
        )
        .await;
    assert_eq!(status, 200, "{tried}");
    let log = tried["log"].to_string();
    assert!(
        log.contains("test run: httpClient POST /api/now/table/problem was not sent")
            && log.contains(
                "test run: httpClient PUT /api/now/table/problem/test-run-sys-id was not sent"
            ),
        "{tried}"
    );
    let problems = instance
        .agent(reqwest::Method::GET, "/api/now/table/problem", None)
        .await;
    assert_eq!(
        problems["result"].as_array().map(Vec::len),
        Some(1),
        "a test run writes nothing"
    );
    let (status, errors) = api_a.send(api_a.get("/sync/errors")).await;
    assert_eq!(status, 200);
    assert_eq!(
        errors["errors"].as_array().map(Vec::len),
        Some(0),
        "{errors}"
    );
    // Outgoing rules run again whenever replicas are compared: a write there is refused,
    // naming the line, rather than repeated.
    let (status, body) = api_a
        .json(
            api_a.patch("/connections/snow_to_eng"),
            json!({"outgoing_script": "replica.summary = entity.short_description\nhttpClient.post(\"/api/now/table/problem\", [short_description: \"x\"])"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, tried) = api_a
        .json(
            api_a.post("/connections/snow_to_eng/test/outgoing"),
            json!({"item": mirror}),
        )
        .await;
    assert_eq!(tried["ok"], false, "{tried}");
    let trace = tried["trace"].as_str().unwrap_or_default();
    assert!(
        trace.contains("outgoing rules only read from ServiceNow") && trace.contains("outgoing:2:"),
        "{tried}"
    );
    instance.emu.shutdown().await.expect("emulator stops");
}

/// Node A stopped in the middle of its rounds and started again where it was, while the
/// instance answers 429s and 500s and slowly: every incident reaches B once, with its last
/// short description and its one comment.
#[tokio::test]
async fn restarts_mid_poll_and_faults_lose_and_double_nothing() {
    let (instance, mut a, b) = setup().await;
    let api_b = b.api();
    let (status, body) = a
        .api()
        .json(
            a.api().post("/connections/snow_to_eng/triggers"),
            json!({"query": "active=true", "note": "every open incident"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let address: std::net::SocketAddr = a
        .url
        .strip_prefix("http://")
        .expect("http")
        .parse()
        .expect("address");
    let data_dir = a.data_dir.clone();
    let sn_url = instance.emu.base_url();
    let mut ids = Vec::new();
    let mut stopped = Vec::new();
    for round in 0..4u64 {
        for i in 0..3 {
            let created = instance
                .agent(
                    reqwest::Method::POST,
                    "/api/now/table/incident",
                    Some(json!({"short_description": format!("Round {round} incident {i}"), "comments": format!("Reported in round {round}, {i}")})),
                )
                .await;
            ids.push(
                created["result"]["sys_id"]
                    .as_str()
                    .expect("sys_id")
                    .to_owned(),
            );
        }
        if let Some(first) = ids.first() {
            instance
                .agent(
                    reqwest::Method::PATCH,
                    &format!("/api/now/table/incident/{first}"),
                    Some(json!({"short_description": format!("First incident, edited in round {round}")})),
                )
                .await;
        }
        // Then the instance answers slowly (a poll lasts long enough to be cut in the middle),
        // with a 429 and two 500s among the node's next requests.
        instance
            .faults(tandem_emulators::servicenow::Faults {
                latency_ms: 40,
                rate_limited_requests: 1,
                retry_after_secs: 1,
                server_error_requests: 2,
                ..Default::default()
            })
            .await;
        tokio::time::sleep(Duration::from_millis(300 + 250 * round)).await;
        a.stop().await;
        // The agent's next writes go through.
        instance
            .faults(tandem_emulators::servicenow::Faults::default())
            .await;
        let url = sn_url.clone();
        // The stopped node keeps its temporary directory alive (the data is in it).
        let restarted = TestNode::start_with(|c| {
            c.data_dir = data_dir.clone();
            c.listen = address;
            c.servicenow = Some(node_config(url, &["incident"], None));
        })
        .await;
        stopped.push(std::mem::replace(&mut a, restarted));
    }
    instance
        .faults(tandem_emulators::servicenow::Faults::default())
        .await;
    let expected = ids.len();
    eventually("every incident reaches B", || async {
        let (status, body) = api_b
            .send(api_b.get("/items?query=project%20%3D%20ENG&limit=100"))
            .await;
        status == 200 && body["total"].as_u64() == Some(expected as u64)
    })
    .await;
    eventually("B has the first incident's last edit", || async {
        let (status, body) = api_b
            .send(api_b.get("/items?query=summary%20~%20%22First%20incident%22&limit=10"))
            .await;
        status == 200
            && body["items"].as_array().is_some_and(|i| {
                i.len() == 1 && i[0]["summary"] == "First incident, edited in round 3"
            })
    })
    .await;
    // Quiet for a few polls: nothing more arrives, nothing doubles.
    tokio::time::sleep(Duration::from_millis(3000)).await;
    let (_, body) = api_b
        .send(api_b.get("/items?query=project%20%3D%20ENG&limit=100"))
        .await;
    let items = body["items"].as_array().expect("items").clone();
    assert_eq!(items.len(), expected, "no incident twice on B");
    let mut summaries: Vec<String> = items
        .iter()
        .map(|i| i["summary"].as_str().unwrap_or_default().to_owned())
        .collect();
    summaries.sort();
    summaries.dedup();
    assert_eq!(summaries.len(), expected, "{summaries:?}");
    for i in &items {
        let key = i["key"].as_str().expect("key");
        let full = item(&api_b, key).await.expect("item");
        let comments = full["comments"].as_array().expect("comments");
        assert_eq!(comments.len(), 1, "{key}: one comment each: {comments:?}");
    }
    let on_a = a
        .api()
        .send(a.api().get("/items?query=project%20%3D%20INC&limit=100"))
        .await
        .1;
    assert_eq!(
        on_a["total"].as_u64(),
        Some(expected as u64),
        "one mirror item each"
    );
    for id in &ids {
        assert_eq!(
            instance.journal(id).await.len(),
            1,
            "nothing written back to the journal of {id}"
        );
    }
    instance.emu.shutdown().await.expect("emulator stops");
}

#[tokio::test]
async fn a_data_policy_refusal_is_an_item_error_quoting_servicenow() {
    let (hook_url, mut notices) = crate::sync::webhook().await;
    let instance = Instance::start().await;
    let url = instance.emu.base_url();
    let a = TestNode::start_with(|c| {
        c.servicenow = Some(node_config(url.clone(), &["incident"], None));
        c.error_webhook = Some(hook_url.clone());
    })
    .await;
    let b = TestNode::start().await;
    connect(&a, &b, "script").await;
    let (api_a, api_b) = (a.api(), b.api());
    // Rules that resolve without the close fields the state model needs.
    let (status, body) = api_a
        .json(
            api_a.patch("/connections/snow_to_eng"),
            json!({"incoming_script": "if (firstSync) { entity.tableName = \"incident\" }\nentity.short_description = replica.summary\nif (replica.status?.name == \"Done\") { entity.state = \"6\" }\n"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    api_b
        .item(json!({"project": "ENG", "summary": "Disk full on db-3"}))
        .await;
    let (status, body) = api_b
        .json(
            api_b.post("/sync/exalate"),
            json!({"connection": "snow_to_eng", "item": "ENG-1"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let disk_full = "short_description=Disk full on db-3";
    eventually("the incident exists", || async {
        instance.rows("incident", disk_full).await.len() == 1
    })
    .await;
    let (status, body) = api_b
        .json(api_b.patch("/items/ENG-1"), json!({"status": "Done"}))
        .await;
    assert_eq!(status, 200, "{body}");
    eventually("the refusal is an item error", || async {
        let (_, errors) = api_a.send(api_a.get("/sync/errors")).await;
        errors["errors"].as_array().is_some_and(|e| {
            e.iter().any(|e| {
                let m = e["message"].as_str().unwrap_or_default();
                m.contains("403") && m.contains("close_code")
            })
        })
    })
    .await;
    let (_, errors) = api_a.send(api_a.get("/sync/errors")).await;
    let error = errors["errors"]
        .as_array()
        .and_then(|e| e.first())
        .cloned()
        .expect("an error");
    assert_eq!(error["impact"], "item", "{error}");
    assert!(
        error["local_key"]
            .as_str()
            .is_some_and(|k| k.starts_with("INC-")),
        "{error}"
    );
    let notice = tokio::time::timeout(Duration::from_secs(10), notices.recv())
        .await
        .expect("the webhook is called")
        .expect("a notice");
    let notice: Value = serde_json::from_str(&notice).expect("JSON");
    assert_eq!(notice["event"], "sync_error", "{notice}");
    assert_eq!(notice["id"], error["id"], "{notice}");
    assert_eq!(notice["connection"], Value::Null, "{notice}");
    assert_eq!(notice["item"], error["local_key"], "{notice}");
    // The service desk fills the close fields in ServiceNow; Resolve and retry writes the
    // refused state again and ServiceNow takes it now.
    let incident = instance.rows("incident", disk_full).await.remove(0);
    let sys_id = incident["sys_id"].as_str().expect("sys_id").to_owned();
    assert_eq!(incident["state"], "1", "{incident}");
    instance
        .agent(
            reqwest::Method::PATCH,
            &format!("/api/now/table/incident/{sys_id}"),
            Some(json!({"close_code": "Solved (Permanently)", "close_notes": "Freed space."})),
        )
        .await;
    let id = error["id"].as_i64().expect("error id");
    let (status, body) = api_a
        .send(api_a.post(&format!("/sync/errors/{id}/retry")))
        .await;
    assert_eq!(status, 200, "{body}");
    eventually("the retried write resolves the incident", || async {
        instance.incident(&sys_id).await["state"] == "6"
    })
    .await;
    assert_eq!(
        instance.incident(&sys_id).await["close_code"],
        "Solved (Permanently)"
    );
    let (_, errors) = api_a.send(api_a.get("/sync/errors")).await;
    assert_eq!(
        errors["errors"].as_array().map(Vec::len),
        Some(0),
        "no error is left open: {errors}"
    );
    instance.emu.shutdown().await.expect("emulator stops");
}

/// An admin connects a node to ServiceNow from the General settings page: wrong credentials
/// are refused with ServiceNow's answer, right ones are checked and saved (the password sealed),
/// the node serves the instance at once, a change of them applies at once, and they hold over
/// a restart.
#[tokio::test]
async fn the_general_settings_page_connects_a_node_to_servicenow() {
    let instance = Instance::start().await;
    let mut node = TestNode::start().await;
    let client = crate::console::browser();
    let csrf = crate::console::login(&node, &client).await;
    let page = crate::console::get_page(&client, format!("{}/settings/general", node.url)).await;
    assert!(
        page.contains("ServiceNow connection"),
        "the form is offered"
    );
    let post = |password: &'static str| {
        client
            .post(format!("{}/settings/servicenow", node.url))
            .form(&[
                ("csrf", csrf.as_str()),
                ("instance_url", instance.emu.base_url().as_str()),
                ("user", PROXY),
                ("password", password),
                ("tables", "incident"),
                ("poll_secs", "1"),
                // The emulator is plain http on loopback.
                ("allow_http", "on"),
            ])
            .send()
    };
    let refused = post("wrong").await.expect("answer");
    assert_eq!(refused.status(), 400);
    let text = refused.text().await.expect("page");
    assert!(text.contains("refused the credentials"), "{text}");
    let saved = post(PROXY_PASSWORD).await.expect("answer");
    assert_eq!(saved.status(), 200);
    let text = saved.text().await.expect("page");
    assert!(text.contains("Checked and saved"), "{text}");
    assert!(
        !text.contains(PROXY_PASSWORD),
        "the password is never shown back"
    );

    // Served at once: the node is a ServiceNow node and mirrors the instance's incidents.
    instance
        .agent(
            reqwest::Method::POST,
            "/api/now/table/incident",
            Some(json!({"short_description": "Seen without a restart"})),
        )
        .await;
    let api = node.api();
    let (_, info) = api.send(api.get("/node")).await;
    assert_eq!(info["tracker"], "servicenow", "{info}");
    assert!(info["servicenow"]["instance_url"].is_string(), "{info}");
    // Where the instance is and whom the node signs in as: not for a read-only token.
    let mut reader = node.api();
    reader.token = Some(crate::security::auth::token_with_scope(&node, "read").await);
    let (status, seen) = reader.send(reader.get("/node")).await;
    assert_eq!(status, 200, "{seen}");
    assert!(seen["servicenow"]["tables"].is_array(), "{seen}");
    assert!(seen["servicenow"].get("instance_url").is_none(), "{seen}");
    assert!(seen["servicenow"].get("user").is_none(), "{seen}");
    let mirrored = async |api: &Api, summary: &'static str| {
        eventually("the node mirrors the incident", || async {
            let (status, body) = api
                .send(api.get("/items?query=project%20%3D%20INC&limit=10"))
                .await;
            status == 200
                && body["items"]
                    .as_array()
                    .is_some_and(|i| i.iter().any(|i| i["summary"] == summary))
        })
        .await;
    };
    mirrored(&api, "Seen without a restart").await;
    let page = crate::console::get_page(&client, format!("{}/settings/general", node.url)).await;
    assert!(
        page.contains(&instance.emu.base_url()) && page.contains("Last poll"),
        "the page shows the instance it serves and how polling goes"
    );

    // Changed settings apply at once too (an empty password keeps the saved one).
    let changed = client
        .post(format!("{}/settings/servicenow", node.url))
        .form(&[
            ("csrf", csrf.as_str()),
            ("instance_url", instance.emu.base_url().as_str()),
            ("user", PROXY),
            ("password", ""),
            ("tables", "incident, problem"),
            ("poll_secs", "1"),
            ("allow_http", "on"),
        ])
        .send()
        .await
        .expect("answer");
    assert_eq!(changed.status(), 200);
    instance
        .agent(
            reqwest::Method::POST,
            "/api/now/table/problem",
            Some(json!({"short_description": "A problem seen at once"})),
        )
        .await;
    eventually("the node mirrors the problem", || async {
        let (status, body) = api
            .send(api.get("/items?query=project%20%3D%20PRB&limit=10"))
            .await;
        status == 200
            && body["items"]
                .as_array()
                .is_some_and(|i| i.iter().any(|i| i["summary"] == "A problem seen at once"))
    })
    .await;

    // The password is sealed at rest.
    let address: std::net::SocketAddr = node
        .url
        .strip_prefix("http://")
        .expect("http")
        .parse()
        .expect("address");
    let data_dir = node.data_dir.clone();
    node.stop().await;
    let db = rusqlite::Connection::open(data_dir.join("tandem.db")).expect("db");
    let stored: String = db
        .query_row(
            "SELECT value FROM settings WHERE key = 'servicenow.connection'",
            [],
            |r| r.get(0),
        )
        .expect("saved");
    assert!(!stored.contains(PROXY_PASSWORD), "{stored}");
    drop(db);

    instance
        .agent(
            reqwest::Method::POST,
            "/api/now/table/incident",
            Some(json!({"short_description": "Seen after the restart"})),
        )
        .await;
    let restarted = TestNode::start_with(|c| {
        c.data_dir = data_dir.clone();
        c.listen = address;
    })
    .await;
    let api = restarted.api();
    let (_, info) = api.send(api.get("/node")).await;
    assert_eq!(info["tracker"], "servicenow", "{info}");
    mirrored(&api, "Seen after the restart").await;
    instance.emu.shutdown().await.expect("emulator stops");
}

/// Basic mode on ServiceNow: incidents only, short description, description and public
/// comments; the rules are generated and cannot be edited.
#[tokio::test]
async fn basic_mode_syncs_summary_description_and_public_comments_only() {
    let (instance, a, b) = setup_in("basic").await;
    let (api_a, api_b) = (a.api(), b.api());
    let (status, body) = api_a
        .json(
            api_a.patch("/connections/snow_to_eng"),
            json!({"incoming_script": "entity.state = \"7\""}),
        )
        .await;
    assert_eq!(status, 400, "Basic rules cannot be edited: {body}");
    let created = instance
        .agent(
            reqwest::Method::POST,
            "/api/now/table/incident",
            Some(json!({"short_description": "Badge reader offline", "description": "Door 4", "urgency": "1"})),
        )
        .await["result"]
        .clone();
    let sys_id = created["sys_id"].as_str().expect("sys_id").to_owned();
    let key = mirror_of(&api_a, created["number"].as_str().expect("number")).await;
    let (status, body) = api_a
        .json(
            api_a.post("/sync/exalate"),
            json!({"connection": "snow_to_eng", "item": key}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    eventually("B gets the incident", || async {
        item(&api_b, "ENG-1")
            .await
            .is_some_and(|i| i["summary"] == "Badge reader offline" && i["description"] == "Door 4")
    })
    .await;
    for (text, internal) in [
        ("Technician on the way", false),
        ("Internal: vendor SLA 4h", true),
    ] {
        let (status, body) = api_b
            .json(
                api_b.post("/items/ENG-1/comments"),
                json!({"body": text, "internal": internal}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    let (status, body) = api_b
        .json(api_b.patch("/items/ENG-1"), json!({"status": "Done"}))
        .await;
    assert_eq!(status, 200, "{body}");
    eventually("the public comment reaches the incident", || async {
        instance
            .journal(&sys_id)
            .await
            .iter()
            .any(|(e, v)| e == "comments" && v.ends_with("Technician on the way"))
    })
    .await;
    tokio::time::sleep(Duration::from_millis(2000)).await;
    let journal = instance.journal(&sys_id).await;
    assert_eq!(
        journal.len(),
        1,
        "the internal comment stays on B: {journal:?}"
    );
    assert_eq!(
        instance.incident(&sys_id).await["state"],
        "1",
        "Basic does not sync status"
    );
    instance.emu.shutdown().await.expect("emulator stops");
}

/// A node signed in with OAuth 2 whose proxy user cannot read `sys_journal_field`: comments
/// still come across, parsed from the journal's display value.
#[tokio::test]
async fn oauth_and_a_hidden_journal_still_bring_comments_across() {
    let mut config = emulator_config().with_oauth_client("tandem", "client-secret");
    config.faults.journal = tandem_emulators::servicenow::JournalAccess::Hidden;
    // Tokens expire quickly: the node refreshes them as it goes.
    config.access_token_lifetime = Duration::from_secs(12);
    let instance = Instance::with(config).await;
    let url = instance.emu.base_url();
    let oauth = Some(("tandem".to_owned(), Secret::new("client-secret")));
    let a =
        TestNode::start_with(|c| c.servicenow = Some(node_config(url, &["incident"], oauth))).await;
    let b = TestNode::start().await;
    connect(&a, &b, "script").await;
    let (api_a, api_b) = (a.api(), b.api());
    let (status, body) = api_a
        .json(
            api_a.post("/connections/snow_to_eng/triggers"),
            json!({"query": "active=true"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let created = instance
        .agent(
            reqwest::Method::POST,
            "/api/now/table/incident",
            Some(json!({"short_description": "Scanner jams", "comments": "Jams on every third page"})),
        )
        .await["result"]
        .clone();
    let sys_id = created["sys_id"].as_str().expect("sys_id").to_owned();
    eventually("B gets the incident with its comment", || async {
        item(&api_b, "ENG-1").await.is_some_and(|i| {
            i["comments"].as_array().is_some_and(|c| {
                c.len() == 1
                    && c[0]["body"]
                        .as_str()
                        .unwrap_or_default()
                        .ends_with("Jams on every third page")
            })
        })
    })
    .await;
    // Another comment after the token has expired; one from B goes the other way.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    instance
        .agent(
            reqwest::Method::PATCH,
            &format!("/api/now/table/incident/{sys_id}"),
            Some(json!({"comments": "Replaced the roller"})),
        )
        .await;
    let (status, body) = api_b
        .json(
            api_b.post("/items/ENG-1/comments"),
            json!({"body": "Firmware 2.1 fixes the feed"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    eventually("both comments cross once", || async {
        let on_b = item(&api_b, "ENG-1").await.expect("ENG-1");
        let mirror = api_a
            .send(api_a.get("/items?query=project%20%3D%20INC&limit=10"))
            .await
            .1;
        on_b["comments"].as_array().map(Vec::len) == Some(3)
            && mirror["items"][0]["comments"].as_array().map(Vec::len) == Some(3)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let on_b = item(&api_b, "ENG-1").await.expect("ENG-1");
    assert_eq!(on_b["comments"].as_array().map(Vec::len), Some(3), "{on_b}");
    let (_, info) = api_a.send(api_a.get("/node")).await;
    assert_eq!(info["servicenow"]["last_error"], Value::Null, "{info}");
    instance.emu.shutdown().await.expect("emulator stops");
}

/// Any table by name: a node syncing incidents and problems mirrors each in its own project,
/// and a trigger scoped with `sys_class_name` brings only problems over.
#[tokio::test]
async fn problems_sync_beside_incidents_from_their_own_table() {
    let instance = Instance::start().await;
    let url = instance.emu.base_url();
    let a = TestNode::start_with(|c| {
        c.servicenow = Some(node_config(url, &["incident", "problem"], None));
    })
    .await;
    let b = TestNode::start().await;
    connect(&a, &b, "script").await;
    let (api_a, api_b) = (a.api(), b.api());
    // Rules for any table: the short description and the table it came from.
    let (status, body) = api_a
        .json(
            api_a.patch("/connections/snow_to_eng"),
            json!({"outgoing_script": "replica.key = entity.key\nreplica.summary = entity.short_description + \" (\" + entity.tableName + \")\"\nreplica.description = entity.description"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = api_a
        .json(
            api_a.post("/connections/snow_to_eng/triggers"),
            json!({"query": "sys_class_name=problem^active=true"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    instance
        .agent(
            reqwest::Method::POST,
            "/api/now/table/incident",
            Some(json!({"short_description": "Printer offline"})),
        )
        .await;
    let problem = instance
        .agent(
            reqwest::Method::POST,
            "/api/now/table/problem",
            Some(json!({"short_description": "Printers drop off the network"})),
        )
        .await["result"]
        .clone();
    assert!(
        problem["number"]
            .as_str()
            .is_some_and(|n| n.starts_with("PRB")),
        "{problem}"
    );
    eventually("the problem comes over, and only the problem", || async {
        item(&api_b, "ENG-1")
            .await
            .is_some_and(|i| i["summary"] == "Printers drop off the network (problem)")
    })
    .await;
    let (_, on_a) = api_a
        .send(api_a.get("/items?query=project%20%3D%20PRB"))
        .await;
    assert_eq!(on_a["total"], 1, "the problem is mirrored in PRB: {on_a}");
    let (_, on_a) = api_a
        .send(api_a.get("/items?query=project%20%3D%20INC"))
        .await;
    assert_eq!(on_a["total"], 1, "the incident in INC: {on_a}");
    tokio::time::sleep(Duration::from_millis(2000)).await;
    assert!(
        item(&api_b, "ENG-2").await.is_none(),
        "the incident stays out"
    );
    instance.emu.shutdown().await.expect("emulator stops");
}

/// The wizard's destination may be the ServiceNow instance's URL: the node that serves it is
/// found among the nodes this one knows (itself, its connections' remotes); an instance no known
/// node serves is named for what it is, with what to enter instead.
#[tokio::test]
async fn the_servicenow_instance_url_finds_the_node_that_serves_it() {
    let instance = Instance::start().await;
    let url = instance.emu.base_url();
    let a = TestNode::start_with(|c| {
        c.servicenow = Some(node_config(url.clone(), &["incident"], None))
    })
    .await;
    let b = TestNode::start().await;
    let (api_a, api_b) = (a.api(), b.api());
    let check = async |api: &Api, to: &str| {
        api.json(api.post("/connections/check"), json!({"url": to}))
            .await
    };

    let body: Value = reqwest::get(format!("{}/node/v1/info", a.url))
        .await
        .expect("node info")
        .json()
        .await
        .expect("node info JSON");
    assert_eq!(body["tracker"], "servicenow", "{body}");
    // The instance URL is not told to anyone who asks; only whether a given URL is served.
    assert!(!body.to_string().contains(url.as_str()), "{body}");
    let serves = async |tracker: &str| -> Value {
        reqwest::Client::new()
            .get(format!("{}/node/v1/info", a.url))
            .query(&[("tracker", tracker)])
            .send()
            .await
            .expect("node info")
            .json()
            .await
            .expect("node info JSON")
    };
    assert_eq!(serves(&url).await["serves_tracker"], true);
    assert_eq!(
        serves("https://other.service-now.com").await["serves_tracker"],
        false
    );

    // B has never heard of A.
    let (status, body) = check(&api_b, &url).await;
    assert_eq!(status, 400, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("is a ServiceNow instance") && message.contains("General settings"),
        "{body}"
    );

    // A's own instance is A: a local connection.
    let (status, body) = check(&api_a, &format!("{url}/")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["local"], true, "{body}");

    // Once connected, B finds A from the instance URL.
    connect(&a, &b, "script").await;
    let (status, body) = check(&api_b, &url).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["local"], false, "{body}");
    assert_eq!(body["tracker"], "servicenow", "{body}");
    assert_eq!(body["node_url"], a.url.as_str(), "{body}");
    instance.emu.shutdown().await.expect("emulator stops");
}

/// An incident under sync deleted in ServiceNow: the next change of its item is an item error
/// that says so (no retry loop, nothing else blocked), and Resolve and retry creates the
/// incident again with the item's fields and comments.
#[tokio::test]
async fn an_incident_deleted_in_servicenow_is_an_item_error_and_retry_recreates_it() {
    let (instance, a, b) = setup().await;
    let (api_a, api_b) = (a.api(), b.api());
    api_b
        .item(json!({"project": "ENG", "summary": "Printer queue stuck"}))
        .await;
    let (status, body) = api_b
        .json(
            api_b.post("/items/ENG-1/comments"),
            json!({"body": "Restarted the spooler"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = api_b
        .json(
            api_b.post("/sync/exalate"),
            json!({"connection": "snow_to_eng", "item": "ENG-1"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let find = async |summary: &str| -> Vec<Value> {
        instance
            .rows("incident", &format!("short_descriptionSTARTSWITH{summary}"))
            .await
    };
    eventually("the incident exists", || async {
        find("Printer queue").await.len() == 1
    })
    .await;
    let first = find("Printer queue").await[0]["sys_id"]
        .as_str()
        .expect("sys_id")
        .to_owned();
    eventually("the comment is in its journal", || async {
        instance
            .journal(&first)
            .await
            .iter()
            .any(|(_, v)| v.contains("Restarted the spooler"))
    })
    .await;
    instance
        .agent(
            reqwest::Method::DELETE,
            &format!("/api/now/table/incident/{first}"),
            None,
        )
        .await;

    let (status, body) = api_b
        .json(
            api_b.patch("/items/ENG-1"),
            json!({"summary": "Printer queue stuck again"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    eventually("the deletion is an item error", || async {
        let (_, errors) = api_a.send(api_a.get("/sync/errors")).await;
        errors["errors"].as_array().is_some_and(|e| {
            e.iter().any(|e| {
                e["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("was deleted in ServiceNow"))
            })
        })
    })
    .await;
    let (_, errors) = api_a.send(api_a.get("/sync/errors")).await;
    let errors = errors["errors"].as_array().cloned().unwrap_or_default();
    assert_eq!(errors.len(), 1, "one error, no retry loop: {errors:?}");
    assert_eq!(errors[0]["impact"], "item");
    assert!(
        find("Printer queue").await.is_empty(),
        "nothing recreated unasked"
    );

    let id = errors[0]["id"].as_i64().expect("id");
    let (status, body) = api_a
        .send(api_a.post(&format!("/sync/errors/{id}/retry")))
        .await;
    assert_eq!(status, 200, "{body}");
    eventually("a new incident is made for the item", || async {
        find("Printer queue stuck again").await.len() == 1
    })
    .await;
    let again = find("Printer queue").await;
    assert_eq!(again.len(), 1, "{again:?}");
    let second = again[0]["sys_id"].as_str().expect("sys_id").to_owned();
    assert_ne!(second, first);
    eventually("the new incident has the comment", || async {
        instance
            .journal(&second)
            .await
            .iter()
            .any(|(_, v)| v.contains("Restarted the spooler"))
    })
    .await;
    let (_, errors) = api_a.send(api_a.get("/sync/errors")).await;
    assert_eq!(
        errors["errors"].as_array().map(Vec::len),
        Some(0),
        "{errors}"
    );
    // Later changes reach the new incident.
    let (status, body) = api_b
        .json(
            api_b.patch("/items/ENG-1"),
            json!({"summary": "Printer queue fixed"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    eventually("the new incident follows", || async {
        instance.incident(&second).await["short_description"] == "Printer queue fixed"
    })
    .await;
    instance.emu.shutdown().await.expect("emulator stops");
}

/// Regression: the emulator had no `sc_req_item` and dropped writes to `u_` columns, so
/// requested items and custom columns were never shown to sync. Scripts read and write the
/// custom column by its own name, both ways.
#[tokio::test]
async fn requested_items_and_a_custom_column_sync_both_ways() {
    let config = emulator_config().with_custom_column("sc_req_item", "u_cost_center");
    let instance = Instance::with(config).await;
    let url = instance.emu.base_url();
    let a = TestNode::start_with(|c| c.servicenow = Some(node_config(url, &["sc_req_item"], None)))
        .await;
    let b = TestNode::start().await;
    connect(&a, &b, "script").await;
    let (api_a, api_b) = (a.api(), b.api());
    let (status, body) = api_a
        .json(
            api_a.patch("/connections/snow_to_eng"),
            json!({
                "outgoing_script": "if (entity.tableName == \"sc_req_item\") {\n    replica.key = entity.key\n    replica.summary = entity.short_description\n    replica.cost_center = entity.u_cost_center\n}",
                "incoming_script": "if (firstSync) { entity.tableName = \"sc_req_item\" }\nentity.short_description = replica.summary\nentity.u_cost_center = replica.cost_center",
            }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = b
        .api()
        .json(
            api_b.patch("/connections/snow_to_eng"),
            json!({
                "outgoing_script": "replica.key = issue.key\nreplica.summary = issue.summary\nreplica.cost_center = issue.customFields.CostCenter",
                "incoming_script": "if (firstSync) { issue.projectKey = \"ENG\" }\nissue.summary = replica.summary\nissue.customFields.CostCenter = replica.cost_center",
            }),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    let ritm = instance
        .agent(
            reqwest::Method::POST,
            "/api/now/table/sc_req_item",
            Some(json!({"short_description": "Laptop for Ana", "u_cost_center": "CC-100"})),
        )
        .await["result"]
        .clone();
    let number = ritm["number"].as_str().expect("number").to_owned();
    assert!(number.starts_with("RITM"), "{ritm}");
    let sys_id = ritm["sys_id"].as_str().expect("sys_id").to_owned();
    let key = mirror_in(&api_a, "RITM", &number).await;
    let (status, body) = api_a
        .json(
            api_a.post("/sync/exalate"),
            json!({"connection": "snow_to_eng", "item": key}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    eventually("B gets the requested item with its cost center", || async {
        item(&api_b, "ENG-1").await.is_some_and(|i| {
            i["summary"] == "Laptop for Ana" && i["custom_fields"]["CostCenter"] == "CC-100"
        })
    })
    .await;

    // Engineering moves it to another cost center: the custom column changes in ServiceNow.
    let (status, body) = api_b
        .json(
            api_b.patch("/items/ENG-1"),
            json!({"custom_fields": {"CostCenter": "CC-200"}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let path = format!("/api/now/table/sc_req_item/{sys_id}");
    eventually("the RITM's u_cost_center follows B", || async {
        instance.agent(reqwest::Method::GET, &path, None).await["result"]["u_cost_center"]
            == "CC-200"
    })
    .await;
    instance.emu.shutdown().await.expect("emulator stops");
}

/// Regression: a create looked its record up by `correlation_id` and took the first row, but
/// on a table without that column ServiceNow ignores the term and answers any row — so the
/// item was linked to an arbitrary existing record instead of getting its own.
#[tokio::test]
async fn a_create_on_a_table_without_correlation_id_makes_its_own_record() {
    let instance = Instance::with(emulator_config()).await;
    for name in ["Network", "Database"] {
        instance
            .agent(
                reqwest::Method::POST,
                "/api/now/table/sys_user_group",
                Some(json!({"name": name})),
            )
            .await;
    }
    let url = instance.emu.base_url();
    let a =
        TestNode::start_with(|c| c.servicenow = Some(node_config(url, &["sys_user_group"], None)))
            .await;
    let b = TestNode::start().await;
    connect(&a, &b, "script").await;
    let (api_a, api_b) = (a.api(), b.api());
    let (status, body) = api_a
        .json(
            api_a.patch("/connections/snow_to_eng"),
            json!({
                "outgoing_script": "replica.key = entity.key\nreplica.summary = entity.name",
                "incoming_script": "if (firstSync) { entity.tableName = \"sys_user_group\" }\nentity.name = replica.summary",
            }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    api_b
        .item(json!({"project": "ENG", "summary": "Security"}))
        .await;
    let (status, body) = api_b
        .json(
            api_b.post("/sync/exalate"),
            json!({"connection": "snow_to_eng", "item": "ENG-1"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    eventually("a Security group is created in ServiceNow", || async {
        !instance
            .rows("sys_user_group", "name=Security")
            .await
            .is_empty()
    })
    .await;
    let groups: Vec<String> = instance
        .rows("sys_user_group", "ORDERBYname")
        .await
        .iter()
        .map(|g| g["name"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        groups,
        ["Database", "Network", "Security"],
        "the existing groups are untouched"
    );
    instance.emu.shutdown().await.expect("emulator stops");
}

/// Regression: a proxy user whose ACLs hide `sys_attachment` failed every poll; records and
/// comments now sync without attachments, and the node reports no error.
#[tokio::test]
async fn unreadable_attachments_leave_records_and_comments_syncing() {
    let mut config = emulator_config();
    config.faults.attachments_forbidden = true;
    let instance = Instance::with(config).await;
    let url = instance.emu.base_url();
    let a =
        TestNode::start_with(|c| c.servicenow = Some(node_config(url, &["incident"], None))).await;
    let b = TestNode::start().await;
    connect(&a, &b, "script").await;
    let (api_a, api_b) = (a.api(), b.api());
    let (status, body) = api_a
        .json(
            api_a.post("/connections/snow_to_eng/triggers"),
            json!({"query": "active=true"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    instance
        .agent(
            reqwest::Method::POST,
            "/api/now/table/incident",
            Some(json!({"short_description": "Badge reader offline", "comments": "Lobby door"})),
        )
        .await;
    eventually("B gets the incident with its comment", || async {
        item(&api_b, "ENG-1").await.is_some_and(|i| {
            i["summary"] == "Badge reader offline"
                && i["comments"].as_array().is_some_and(|c| {
                    c.iter().any(|c| {
                        c["body"]
                            .as_str()
                            .unwrap_or_default()
                            .ends_with("Lobby door")
                    })
                })
        })
    })
    .await;
    let (_, info) = api_a.send(api_a.get("/node")).await;
    assert_eq!(info["servicenow"]["last_error"], Value::Null, "{info}");
    instance.emu.shutdown().await.expect("emulator stops");
}

/// Regression: `nodeHelper.getReference` asked for one row but followed every `Link: next`,
/// one request per matching record; it now reads one page of one row.
#[tokio::test]
async fn get_reference_reads_one_row_in_one_request() {
    let (instance, a, b) = setup().await;
    let (api_a, api_b) = (a.api(), b.api());
    let (status, body) = api_a
        .json(
            api_a.patch("/connections/snow_to_eng"),
            json!({
                "incoming_script": "if (firstSync) { entity.tableName = \"incident\" }\nentity.short_description = replica.summary\ndef someone = nodeHelper.getReference(\"sys_user\", \"active\", \"true\")\nentity.description = someone ? someone.user_name : \"nobody\"",
            }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    api_b
        .item(json!({"project": "ENG", "summary": "Who is active?"}))
        .await;
    let (status, body) = api_b
        .json(
            api_b.post("/sync/exalate"),
            json!({"connection": "snow_to_eng", "item": "ENG-1"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    eventually("the incident is created with a user's name", || async {
        instance
            .rows("incident", "short_description=Who is active?")
            .await
            .first()
            .is_some_and(|i| i["description"] == PROXY)
    })
    .await;
    let requests: Vec<String> = instance
        .http
        .get(instance.url("/__emulator/requests"))
        .send()
        .await
        .expect("request log")
        .json()
        .await
        .expect("json");
    let lookups: Vec<&String> = requests
        .iter()
        .filter(|r| r.contains("/table/sys_user?") && r.contains("active"))
        .collect();
    assert!(!lookups.is_empty(), "{requests:?}");
    assert!(
        lookups
            .iter()
            .all(|r| r.contains("sysparm_limit=1") && r.contains("sysparm_offset=0")),
        "only first pages of one row: {lookups:?}"
    );
    instance.emu.shutdown().await.expect("emulator stops");
}

/// `httpClient` in the full form Exalate's scripts use, `http(method, path, body, null,
/// headers) { req, res -> … }`: the closure gets the instance's answer, a 404 too, and the
/// headers go with the request; the node's own credentials cannot be overridden.
#[tokio::test]
async fn http_client_passes_headers_and_hands_any_answer_to_its_closure() {
    let (instance, a, _b) = setup().await;
    let api_a = a.api();
    let rules = r#"
if (firstSync) { entity.tableName = "incident" }
def missing = httpClient.http("GET", "/api/now/table/incident/0123456789abcdef0123456789abcdef", null, null, ["X-Tandem-Test": "yes"]) { req, res ->
    res.code + " " + req.headers."X-Tandem-Test"
}
def found = httpClient.http("GET", "/api/now/table/sys_user?sysparm_query=user_name=beth.anglin", null, null, ["Accept-Language": "en"]) { req, res ->
    res.code == 200 ? new groovy.json.JsonSlurper().parseText(res.body).result[0].user_name : "none"
}
entity.short_description = missing + " / " + found
"#;
    let (status, body) = api_a
        .json(
            api_a.patch("/connections/snow_to_eng"),
            json!({"incoming_script": rules}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, tried) = api_a
        .json(
            api_a.post("/connections/snow_to_eng/test/incoming"),
            json!({"replica": {"key": "ENG-1", "summary": "x"}}),
        )
        .await;
    assert_eq!(status, 200, "{tried}");
    assert_eq!(tried["ok"], true, "{tried}");
    assert_eq!(
        tried["item"]["short_description"], "404 yes / beth.anglin",
        "{tried}"
    );

    let (status, body) = api_a
        .json(
            api_a.patch("/connections/snow_to_eng"),
            json!({"incoming_script": "httpClient.http(\"GET\", \"/api/now/table/incident\", null, null, [Authorization: \"Basic eDp5\"])"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, tried) = api_a
        .json(
            api_a.post("/connections/snow_to_eng/test/incoming"),
            json!({"replica": {"key": "ENG-1", "summary": "x"}}),
        )
        .await;
    assert_eq!(tried["ok"], false, "{tried}");
    assert!(tried.to_string().contains("is the node's own"), "{tried}");
    instance.emu.shutdown().await.expect("emulator stops");
}

#[tokio::test]
async fn an_instance_that_cannot_be_polled_is_one_node_error_until_a_poll_succeeds() {
    let (instance, a, _b) = setup().await;
    let api_a = a.api();
    let node_errors = || async {
        let (status, body) = api_a.send(api_a.get("/sync/errors")).await;
        assert_eq!(status, 200, "{body}");
        body["errors"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|e| e["impact"] == "node")
            .collect::<Vec<Value>>()
    };
    eventually("the bridge polls", || async {
        let (_, info) = api_a.send(api_a.get("/node")).await;
        info["servicenow"]["last_poll"].is_string()
    })
    .await;
    assert!(node_errors().await.is_empty());

    // Every request fails (each after the client's retries): polling fails, one node error.
    instance
        .faults(tandem_emulators::servicenow::Faults {
            server_error_requests: 1_000,
            ..Default::default()
        })
        .await;
    eventually("a node error says polling fails", || async {
        node_errors().await.iter().any(|e| {
            e["connection_id"].is_null()
                && e["message"].as_str().is_some_and(|m| {
                    m.starts_with("ServiceNow: polling ") && m.contains(" fails since ")
                })
        })
    })
    .await;
    assert_eq!(node_errors().await.len(), 1);

    // The instance answers again: the next poll resolves the error by itself.
    instance
        .faults(tandem_emulators::servicenow::Faults::default())
        .await;
    eventually("a poll succeeds and resolves it", || async {
        node_errors().await.is_empty()
    })
    .await;
    let (_, all) = api_a.send(api_a.get("/sync/errors")).await;
    assert_eq!(all["errors"], json!([]), "{all}");
}

/// Exalate's ServiceNow host API in outgoing rules, tried with a Test run: the record under its
/// table's name and `entityType`, a reference column's `display_value` and `link`, the record
/// `getTableByLink` gives, `getUrgency`, `entity.id` (the sys_id), and another platform's API
/// refused naming it and this node.
#[tokio::test]
async fn servicenow_host_api_reads_references_tables_and_choices_as_exalate_does() {
    let (instance, a, _b) = setup().await;
    let api_a = a.api();
    let beth = instance
        .agent(
            reqwest::Method::GET,
            "/api/now/table/sys_user?sysparm_query=user_name=beth.anglin",
            None,
        )
        .await["result"][0]["sys_id"]
        .as_str()
        .expect("beth's sys_user")
        .to_owned();
    let created = instance
        .agent(
            reqwest::Method::POST,
            "/api/now/table/incident",
            Some(json!({"short_description": "Phone dead", "caller_id": beth, "urgency": "2"})),
        )
        .await["result"]
        .clone();
    let key = mirror_of(&api_a, created["number"].as_str().expect("number")).await;
    let rules = r#"
replica.summary = incident.short_description
replica.customKeys.table = entityType
replica.customKeys.caller = entity.caller_id.display_value
replica.customKeys.callerLink = entity.caller_id.link != null
replica.customKeys.callerEmail = nodeHelper.getTableByLink(entity.caller_id.link)?.email
replica.customKeys.byEmail = nodeHelper.getUserByEmail("beth.anglin@example.com")?.key == entity.caller_id.value
replica.customKeys.low = nodeHelper.getUrgency("Low")?.value
replica.customKeys.none = nodeHelper.getUrgency("Whenever")
replica.customKeys.id = entity.id == entity.sys_id
"#;
    let (status, body) = api_a
        .json(
            api_a.patch("/connections/snow_to_eng"),
            json!({"outgoing_script": rules}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, tried) = api_a
        .json(
            api_a.post("/connections/snow_to_eng/test/outgoing"),
            json!({"item": key}),
        )
        .await;
    assert_eq!(status, 200, "{tried}");
    assert_eq!(
        tried["replica"]["customKeys"],
        json!({
            "table": "incident",
            "caller": "Beth Anglin",
            "callerLink": true,
            "callerEmail": "beth.anglin@example.com",
            "byEmail": true,
            "low": "3",
            "none": null,
            "id": true,
        }),
        "{tried}"
    );
    // Jira's select-list helpers on a ServiceNow node: refused, naming both.
    let (status, body) = api_a
        .json(
            api_a.patch("/connections/snow_to_eng"),
            json!({"outgoing_script": "replica.summary = entity.short_description\nreplica.x = nodeHelper.getOptions(entity, 'Colour', ['Red'])"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, tried) = api_a
        .json(
            api_a.post("/connections/snow_to_eng/test/outgoing"),
            json!({"item": key}),
        )
        .await;
    let trace = tried["trace"].as_str().unwrap_or_default();
    assert!(
        trace.contains("nodeHelper.getOptions is a Jira API; this node serves ServiceNow — see docs/exalate-api.md")
            && trace.contains("outgoing:2:"),
        "{tried}"
    );
    instance.emu.shutdown().await.expect("emulator stops");
}

/// Push from ServiceNow: with the business rule the node gives its admin in place (the emulator
/// plays it), an agent's change reaches the node at once although the node polls only every
/// hour; a call without the secret, with a rotated one, or to a node without ServiceNow makes
/// it poll nothing.
#[tokio::test]
async fn a_change_pushed_by_the_business_rule_arrives_without_waiting_for_a_poll() {
    let instance = Instance::start().await;
    let mut config = node_config(instance.emu.base_url(), &["incident"], None);
    config.poll_interval = Duration::from_secs(3600);
    let a = TestNode::start_with(|c| c.servicenow = Some(config)).await;
    let api = a.api();

    let (status, push) = api.send(api.get("/servicenow/push")).await;
    assert_eq!(status, 200, "{push}");
    let url = push["url"].as_str().expect("the push URL").to_owned();
    let secret = push["secret"].as_str().expect("the secret").to_owned();
    assert_eq!(url, format!("{}/hooks/servicenow", a.url));
    assert_eq!(push["header"], "X-Tandem-Push-Secret");
    let rule = push["business_rule"].as_str().expect("the rule");
    assert!(rule.contains(&format!("r.setEndpoint('{url}');")), "{rule}");
    assert!(
        rule.contains(&format!("gs.getUserName() != '{PROXY}'")),
        "{rule}"
    );
    assert_eq!(
        api.send(api.get("/servicenow/push")).await.1["secret"],
        secret.as_str(),
        "the secret stays until rotated"
    );

    // The admin pastes the rule (the emulator plays it; the proxy user's writes call nothing).
    let set = reqwest::Client::new()
        .post(instance.url("/__emulator/push"))
        .json(&json!({"url": url, "secret": secret, "skip_user": PROXY}))
        .send()
        .await
        .expect("rule set");
    assert_eq!(set.status(), 200);
    let create = async |summary: &str| {
        let created = instance
            .agent(
                reqwest::Method::POST,
                "/api/now/table/incident",
                Some(json!({"short_description": summary, "urgency": "2"})),
            )
            .await;
        created["result"]["number"]
            .as_str()
            .expect("number")
            .to_owned()
    };
    // The first comes with the node's first poll or with a push; once it is in, the next poll
    // is an hour away, so only the push brings the second.
    let first = create("Before or after the first poll").await;
    mirror_of(&api, &first).await;
    let second = create("Pushed, not polled").await;
    let key = mirror_of(&api, &second).await;
    let (_, item) = api.send(api.get(&format!("/items/{key}"))).await;
    assert_eq!(item["summary"], "Pushed, not polled");

    let hook = |secret: Option<&str>| {
        let mut req = reqwest::Client::new()
            .post(&url)
            .json(&json!({"table": "incident", "sys_id": "x"}));
        if let Some(s) = secret {
            req = req.header("X-Tandem-Push-Secret", s);
        }
        req.send()
    };
    assert_eq!(hook(None).await.expect("answered").status(), 401);
    assert_eq!(hook(Some("guess")).await.expect("answered").status(), 401);
    assert_eq!(hook(Some(&secret)).await.expect("answered").status(), 202);

    let (status, rotated) = api.send(api.post("/servicenow/push/rotate")).await;
    assert_eq!(status, 200, "{rotated}");
    let fresh = rotated["secret"].as_str().expect("a new secret");
    assert_ne!(fresh, secret);
    assert_eq!(
        hook(Some(&secret)).await.expect("answered").status(),
        401,
        "the old secret stops working"
    );
    assert_eq!(hook(Some(fresh)).await.expect("answered").status(), 202);

    // A node on the built-in tracker has no push.
    let b = TestNode::start().await;
    let answer = reqwest::Client::new()
        .post(format!("{}/hooks/servicenow", b.url))
        .header("X-Tandem-Push-Secret", fresh)
        .send()
        .await
        .expect("answered");
    assert_eq!(answer.status(), 404);
    let (status, body) = b.api().send(b.api().get("/servicenow/push")).await;
    assert_eq!(status, 404, "{body}");
}
