//! Atlassian's own contract: every request below goes through Stoplight Prism in proxy mode
//! (`prism proxy --errors <Jira Cloud OpenAPI> <emulator>`), which checks the request and the
//! emulator's answer against the official OpenAPI document and fails either when it breaks
//! the document. The test asserts each status and that Prism reported no violation. The one
//! exception is the attachment upload, whose request schema no multipart body can meet (see
//! there): it goes to the emulator directly, and what it made is read back through Prism.
//!
//! The harness (where the document and Prism come from, and how a violation looks) is
//! `tandem_emulators::prism`, shared with the Jira connector's contract test.

use reqwest::{Method, Response};
use serde_json::{Value, json};
use tandem_emulators::prism::{Prism, violation};

use super::common::{Jira, MEMBER, PROJECT, adf, start};

/// Starts Prism in front of `upstream`; fails the test, saying why, when it cannot.
fn start_prism(upstream: &str) -> Prism {
    Prism::start(upstream, std::path::Path::new(env!("CARGO_TARGET_TMPDIR")))
        .unwrap_or_else(|e| panic!("{e}"))
}

/// The status, after checking Prism let the exchange through without a violation.
async fn checked(what: &str, r: Response) -> (u16, Value) {
    let status = r.status().as_u16();
    let violations = violation(r.headers());
    let text = r.text().await.expect("body");
    assert!(
        violations.is_none(),
        "{what}: Prism reports a violation ({status}): {violations:?} {text}"
    );
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, body)
}

async fn call(jira: &Jira, method: Method, path: &str, body: Option<Value>, want: u16) -> Value {
    let mut req = jira.req(method.clone(), path);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let (status, body) = checked(
        &format!("{method} {path}"),
        req.send().await.expect("request"),
    )
    .await;
    assert_eq!(status, want, "{method} {path}: {body}");
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_exchange_passes_atlassians_openapi_document_through_prism() {
    let mut jira = start().await;
    let prism = tokio::task::spawn_blocking({
        let upstream = jira.running.base_url();
        move || start_prism(&upstream)
    })
    .await
    .expect("the Prism task");
    jira.base = prism.base.clone();
    let j = &jira;
    let mut exchanges = 0;
    macro_rules! ok {
        ($m:expr, $p:expr, $b:expr, $s:expr) => {{
            exchanges += 1;
            call(j, $m, AsRef::<str>::as_ref(&$p), $b, $s).await
        }};
    }
    use Method as M;

    // What describes the site.
    ok!(M::GET, "/rest/api/3/serverInfo", None, 200);
    let me = ok!(M::GET, "/rest/api/3/myself", None, 200);
    let member = ok!(
        M::GET,
        format!("/rest/api/3/user/search?query={MEMBER}"),
        None,
        200
    )[0]["accountId"]
        .clone();
    ok!(
        M::GET,
        format!(
            "/rest/api/3/user?accountId={}",
            member.as_str().unwrap_or_default()
        ),
        None,
        200
    );
    ok!(M::GET, "/rest/api/3/field", None, 200);
    ok!(M::GET, "/rest/api/3/project", None, 200);
    ok!(M::GET, "/rest/api/3/project/search", None, 200);
    ok!(M::GET, format!("/rest/api/3/project/{PROJECT}"), None, 200);
    ok!(
        M::GET,
        format!("/rest/api/3/project/{PROJECT}/components"),
        None,
        200
    );
    ok!(
        M::GET,
        format!("/rest/api/3/project/{PROJECT}/versions"),
        None,
        200
    );
    ok!(M::GET, "/rest/api/3/priority", None, 200);
    ok!(M::GET, "/rest/api/3/status", None, 200);
    ok!(M::GET, "/rest/api/3/issuetype", None, 200);
    ok!(M::GET, "/rest/api/3/resolution", None, 200);
    ok!(M::GET, "/rest/api/3/attachment/meta", None, 200);
    let types = ok!(
        M::GET,
        format!("/rest/api/3/issue/createmeta/{PROJECT}/issuetypes"),
        None,
        200
    );
    for t in types["issueTypes"].as_array().expect("issueTypes") {
        let id = t["id"].as_str().expect("id");
        ok!(
            M::GET,
            format!(
                "/rest/api/3/issue/createmeta/{PROJECT}/issuetypes/{id}?startAt=0&maxResults=50"
            ),
            None,
            200
        );
    }

    // Issues.
    let created = ok!(
        M::POST,
        "/rest/api/3/issue",
        Some(json!({"fields": {
            "project": {"key": PROJECT}, "issuetype": {"name": "Bug"}, "summary": "Contract check",
            "description": adf("Checked by Prism"), "labels": ["contract"], "priority": {"name": "High"},
            "assignee": {"accountId": member}, "duedate": "2030-01-31",
            "components": [{"name": "Backend"}], "fixVersions": [{"name": "1.0"}],
            "customfield_10010": {"value": "Sev 2"},
            "customfield_10011": {"value": "EMEA", "child": {"value": "London"}},
            "customfield_10012": 2, "customfield_10013": "2030-02-01",
            "customfield_10014": {"accountId": me["accountId"]},
            "customfield_10015": [{"accountId": member}],
            "customfield_10016": "REF-1", "customfield_10017": adf("root cause")
        }})),
        201
    );
    let key = created["key"].as_str().expect("key").to_owned();
    let sub = ok!(
        M::POST,
        "/rest/api/3/issue",
        Some(
            json!({"fields": {"project": {"key": PROJECT}, "issuetype": {"name": "Sub-task"}, "summary": "Child", "parent": {"key": key}}})
        ),
        201
    );
    let sub_key = sub["key"].as_str().expect("key").to_owned();
    ok!(M::GET, format!("/rest/api/3/issue/{key}"), None, 200);
    ok!(
        M::GET,
        format!(
            "/rest/api/3/issue/{key}?expand=names,schema,transitions,editmeta,changelog,renderedFields"
        ),
        None,
        200
    );
    ok!(
        M::GET,
        format!("/rest/api/3/issue/{sub_key}?fields=summary,parent,status"),
        None,
        200
    );
    ok!(
        M::PUT,
        format!("/rest/api/3/issue/{key}"),
        Some(
            json!({"fields": {"summary": "Contract check, edited"}, "update": {"labels": [{"add": "edited"}]}})
        ),
        204
    );
    ok!(
        M::PUT,
        format!("/rest/api/3/issue/{key}?returnIssue=true"),
        Some(json!({"fields": {"customfield_10012": 3}})),
        200
    );
    ok!(
        M::PUT,
        format!("/rest/api/3/issue/{key}/assignee"),
        Some(json!({"accountId": me["accountId"]})),
        204
    );
    ok!(
        M::GET,
        format!("/rest/api/3/issue/{key}/editmeta"),
        None,
        200
    );
    ok!(
        M::POST,
        "/rest/api/3/issue",
        Some(json!({"fields": {"project": {"key": PROJECT}, "issuetype": {"name": "Task"}}})),
        400
    );
    ok!(M::GET, "/rest/api/3/issue/SUP-9999", None, 404);

    // Workflow.
    ok!(
        M::GET,
        format!("/rest/api/3/issue/{key}/transitions"),
        None,
        200
    );
    for id in ["21", "31"] {
        ok!(
            M::POST,
            format!("/rest/api/3/issue/{key}/transitions"),
            Some(json!({"transition": {"id": id}})),
            204
        );
    }
    ok!(
        M::GET,
        format!("/rest/api/3/issue/{key}/transitions?expand=transitions.fields"),
        None,
        200
    );
    ok!(
        M::POST,
        format!("/rest/api/3/issue/{key}/transitions"),
        Some(json!({"transition": {"id": "51"}})),
        400
    );
    ok!(
        M::POST,
        format!("/rest/api/3/issue/{key}/transitions"),
        Some(
            json!({"transition": {"id": "51"}, "fields": {"resolution": {"name": "Done"}}, "update": {"comment": [{"add": {"body": adf("done")}}]}})
        ),
        204
    );
    ok!(
        M::GET,
        format!("/rest/api/3/issue/{key}/changelog?startAt=0&maxResults=2"),
        None,
        200
    );

    // Comments.
    let c = ok!(
        M::POST,
        format!("/rest/api/3/issue/{key}/comment"),
        Some(json!({"body": adf("first")})),
        201
    );
    let cid = c["id"].as_str().expect("id").to_owned();
    ok!(
        M::POST,
        format!("/rest/api/3/issue/{key}/comment"),
        Some(
            json!({"body": adf("internal"), "visibility": {"type": "role", "value": "Administrators"},
                    "properties": [{"key": "sd.public.comment", "value": {"internal": true}}]})
        ),
        201
    );
    ok!(
        M::GET,
        format!("/rest/api/3/issue/{key}/comment?startAt=1&maxResults=1&orderBy=-created"),
        None,
        200
    );
    ok!(
        M::GET,
        format!("/rest/api/3/issue/{key}/comment/{cid}"),
        None,
        200
    );
    ok!(
        M::PUT,
        format!("/rest/api/3/issue/{key}/comment/{cid}"),
        Some(json!({"body": adf("first, edited")})),
        200
    );
    ok!(
        M::DELETE,
        format!("/rest/api/3/issue/{key}/comment/{cid}"),
        None,
        204
    );

    // Attachments.
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(b"contract bytes".to_vec())
            .file_name("c.txt")
            .mime_str("text/plain")
            .expect("mime"),
    );
    // The one exchange Prism cannot judge: the document types the multipart upload's body as
    // a JSON array, which no multipart form parses to. The upload goes to the emulator
    // directly; the Attachment it made is then read through Prism (issue fields, metadata).
    let r = j
        .client
        .post(format!(
            "{}/rest/api/3/issue/{key}/attachments",
            j.running.base_url()
        ))
        .basic_auth(super::common::USER, Some(super::common::TOKEN))
        .header("X-Atlassian-Token", "no-check")
        .multipart(form)
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 200);
    let attached: Value = r.json().await.expect("json");
    let on_issue = ok!(
        M::GET,
        format!("/rest/api/3/issue/{key}?fields=attachment"),
        None,
        200
    );
    let listed = &on_issue["fields"]["attachment"][0];
    for k in ["id", "filename", "size", "mimeType", "created"] {
        assert_eq!(
            listed[k], attached[0][k],
            "{k}: the upload's answer is what the issue lists"
        );
    }
    let aid = attached[0]["id"].as_str().expect("id").to_owned();
    ok!(M::GET, format!("/rest/api/3/attachment/{aid}"), None, 200);
    // Prism follows the 303 to the emulator's Location itself (api.rs checks the 303).
    exchanges += 1;
    let (status, bytes) = checked(
        "GET content",
        j.get(&format!("/rest/api/3/attachment/content/{aid}"))
            .await,
    )
    .await;
    assert_eq!(
        (status, bytes),
        (200, Value::String("contract bytes".into()))
    );
    exchanges += 1;
    let (status, bytes) = checked(
        "GET content",
        j.get(&format!(
            "/rest/api/3/attachment/content/{aid}?redirect=false"
        ))
        .await,
    )
    .await;
    assert_eq!(
        (status, bytes),
        (200, Value::String("contract bytes".into()))
    );
    ok!(
        M::DELETE,
        format!("/rest/api/3/attachment/{aid}"),
        None,
        204
    );

    // Search.
    for n in 0..3 {
        ok!(
            M::POST,
            "/rest/api/3/issue",
            Some(
                json!({"fields": {"project": {"key": PROJECT}, "issuetype": {"name": "Task"}, "summary": format!("page {n}"), "labels": ["paged"]}})
            ),
            201
        );
    }
    let first = ok!(
        M::POST,
        "/rest/api/3/search/jql",
        Some(
            json!({"jql": "project = SUP AND labels = paged ORDER BY updated ASC", "maxResults": 2, "fields": ["summary", "status", "updated"], "expand": "names"})
        ),
        200
    );
    let token = first["nextPageToken"]
        .as_str()
        .expect("a next page")
        .to_owned();
    ok!(
        M::POST,
        "/rest/api/3/search/jql",
        Some(
            json!({"jql": "project = SUP AND labels = paged ORDER BY updated ASC", "maxResults": 2, "fields": ["summary"], "nextPageToken": token})
        ),
        200
    );
    ok!(
        M::GET,
        "/rest/api/3/search/jql?jql=project%20%3D%20SUP%20AND%20updated%20%3E%3D%20%22-5m%22&fields=*all&maxResults=10",
        None,
        200
    );
    ok!(
        M::GET,
        format!("/rest/api/3/search/jql?jql=key%20in%20({key}%2C{sub_key})"),
        None,
        200
    );
    ok!(
        M::POST,
        "/rest/api/3/search/jql",
        Some(json!({"jql": "ORDER BY updated"})),
        400
    );
    ok!(
        M::POST,
        "/rest/api/3/search/approximate-count",
        Some(json!({"jql": "project = SUP"})),
        200
    );

    // Webhooks.
    let reg = ok!(
        M::POST,
        "/rest/api/3/webhook",
        Some(
            json!({"url": "http://127.0.0.1:9/hook", "webhooks": [{"events": ["jira:issue_updated"], "jqlFilter": "project = SUP"}]})
        ),
        200
    );
    let hook = reg["webhookRegistrationResult"][0]["createdWebhookId"].clone();
    ok!(
        M::GET,
        "/rest/api/3/webhook?startAt=0&maxResults=10",
        None,
        200
    );
    ok!(
        M::PUT,
        "/rest/api/3/webhook/refresh",
        Some(json!({"webhookIds": [hook]})),
        200
    );
    ok!(
        M::DELETE,
        "/rest/api/3/webhook",
        Some(json!({"webhookIds": [hook]})),
        202
    );

    // Deletion.
    ok!(
        M::DELETE,
        format!("/rest/api/3/issue/{key}?deleteSubtasks=true"),
        None,
        204
    );
    println!("contract: {exchanges} exchanges through Prism, 0 violations");
    drop(prism);
    jira.stop().await;
}
