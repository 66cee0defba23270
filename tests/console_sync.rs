//! The Sync pages over HTTP, as a browser without JavaScript uses them, between two real
//! connected nodes: Errors with Resolve and retry, Sync queue, Entity sync status with its
//! operations, Triggers with Bulk Exalate and its progress page.

use serde_json::json;

use crate::common::{Api, TestNode};
use crate::console::{browser, get_page, login};
use crate::sync::{eventually, pair};

/// Posts a console form (redirects followed) and returns the status and the final page.
pub(crate) async fn post(
    client: &reqwest::Client,
    url: String,
    form: &[(&str, &str)],
) -> (u16, String) {
    let resp = client
        .post(url)
        .form(form)
        .send()
        .await
        .expect("form posts");
    let status = resp.status().as_u16();
    (status, resp.text().await.expect("page body"))
}

/// Posts a form that starts a bulk job, follows it to its page, and waits for the job to end:
/// the job's page as it ends, which says what it did.
async fn finished_job(client: &reqwest::Client, url: String, form: &[(&str, &str)]) -> String {
    let resp = client
        .post(url)
        .form(form)
        .send()
        .await
        .expect("form posts");
    assert_eq!(resp.status().as_u16(), 200);
    let page = resp.url().to_string();
    assert!(page.contains("/sync/bulk/"), "the job's page: {page}");
    let mut last = String::new();
    for _ in 0..150 {
        last = get_page(client, &page).await;
        if !last.contains("http-equiv=\"refresh\"") {
            return last;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the job did not end: {last}");
}

/// A logged-in browser on the node and the session's CSRF token.
pub(crate) async fn console(node: &TestNode) -> (reqwest::Client, String) {
    let client = browser();
    let csrf = login(node, &client).await;
    (client, csrf)
}

/// The value of the first `attribute="…"` in the page.
fn attribute(page: &str, attribute: &str) -> String {
    let marker = format!("{attribute}=\"");
    let start = page
        .find(&marker)
        .unwrap_or_else(|| panic!("no {attribute} in page:\n{page}"))
        + marker.len();
    page[start..][..page[start..].find('"').unwrap()].to_owned()
}

/// The text between the heading that starts with `heading` and the next `<h2`.
fn section<'a>(page: &'a str, heading: &str) -> &'a str {
    let start = page
        .find(heading)
        .unwrap_or_else(|| panic!("no section {heading} in page:\n{page}"));
    let rest = &page[start..];
    let end = rest[1..].find("<h2").map_or(rest.len(), |e| e + 1);
    &rest[..end]
}

async fn set_incoming_rules(api: &Api, script: &str) {
    let (status, body) = api
        .json(
            api.patch("/connections/desk"),
            json!({"incoming_script": script}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
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

async fn exists(api: &Api, key: &str) -> bool {
    api.send(api.get(&format!("/items/{key}"))).await.0 == 200
}

#[tokio::test]
async fn a_failing_incoming_rule_is_listed_with_its_trace_and_resolve_and_retry_applies_the_item() {
    let (a, b) = pair().await;
    let (api_a, api_b) = (a.api(), b.api());
    let (client, csrf) = console(&b).await;
    let errors_url = format!("{}/sync/errors", b.url);

    let page = get_page(&client, &errors_url).await;
    assert!(
        page.contains("<p class=\"empty\">No sync errors.</p>"),
        "{page}"
    );
    for entry in ["Triggers", "Sync queue", "Entity sync status", "Errors"] {
        assert!(
            page.contains(&format!(">{entry}</a>")),
            "menu {entry}: {page}"
        );
    }

    set_incoming_rules(
        &api_b,
        "issue.summary = replica.summary\nthrow new RuntimeException('boom')\n",
    )
    .await;
    let created = api_a
        .item(json!({"project": "SUP", "summary": "Checkout fails"}))
        .await;
    let key = created["key"].as_str().unwrap().to_owned();
    exalate(&api_a, &key).await;

    eventually("B lists the error", || async {
        get_page(&client, &errors_url).await.contains("boom")
    })
    .await;
    let page = get_page(&client, &errors_url).await;
    let row = &page[page.find("data-error=").expect("an error row")..];
    assert!(
        row.contains("<span class=\"status error\">item</span>"),
        "{row}"
    );
    assert!(row.contains("<td>desk</td>"), "{row}");
    assert!(row.contains(&format!("remote {key}")), "{row}");
    let trace = &row[row.find("<pre class=\"trace\">").expect("a trace")..];
    assert!(trace.contains("throw new RuntimeException"), "{trace}");
    assert!(
        trace.contains('^'),
        "the caret under the failing line: {trace}"
    );
    assert!(!exists(&api_b, "ENG-1").await);

    // The failed request waits in B's Sync queue, found by either filter.
    let queue = get_page(&client, format!("{}/sync/queue", b.url)).await;
    let incoming = section(&queue, "<h2 id=\"incoming\">");
    assert!(
        incoming.contains("Incoming sync requests (1)"),
        "{incoming}"
    );
    assert!(
        incoming.contains(
            "data-state=\"failed\">failed — waits for Resolve and retry on the Errors page</span>"
        ),
        "{incoming}"
    );
    assert!(
        incoming.contains("<td class=\"attempts\">1</td>"),
        "{incoming}"
    );
    assert!(incoming.contains(&format!("<td>{key}")), "{incoming}");
    let filtered = get_page(
        &client,
        format!(
            "{}/sync/queue?connection=desk&item={}",
            b.url,
            key.to_lowercase()
        ),
    )
    .await;
    assert!(
        filtered.contains("Incoming sync requests (1)"),
        "{filtered}"
    );
    assert!(
        filtered.contains("<option value=\"desk\" selected>"),
        "{filtered}"
    );
    let other = get_page(&client, format!("{}/sync/queue?item=SUP-999", b.url)).await;
    assert!(other.contains("Incoming sync requests (0)"), "{other}");
    assert!(other.contains("No incoming sync requests wait."), "{other}");

    // A later change of the same item waits behind the failed request, and says so.
    let (status, body) = api_a
        .json(
            api_a.patch(&format!("/items/{key}")),
            json!({"summary": "Checkout fails again"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let failed_request = {
        let incoming = section(&queue, "<h2 id=\"incoming\">");
        let row = &incoming[incoming.find("<tbody>").unwrap()..];
        let id = &row[row.find("<td>").unwrap() + 4..];
        id[..id.find("</td>").unwrap()].to_owned()
    };
    eventually("B's second request waits behind the first", || async {
        get_page(&client, format!("{}/sync/queue", b.url))
            .await
            .contains(&format!(
                "data-state=\"pending\">waiting for request {failed_request} of the same item</span>"
            ))
    })
    .await;

    // Fix the rules, then Resolve and retry: the item arrives and the error is gone.
    set_incoming_rules(
        &api_b,
        "if (firstSync) { issue.projectKey = \"ENG\" }\nissue.summary = replica.summary\n",
    )
    .await;
    let id = attribute(&page, "data-error");
    let (status, after) = post(
        &client,
        format!("{}/sync/errors/{id}/retry", b.url),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(status, 200, "{after}");
    assert!(after.contains(&format!("Error {id} resolved")), "{after}");
    eventually("B creates the item", || async {
        exists(&api_b, "ENG-1").await
    })
    .await;
    let page = get_page(&client, &errors_url).await;
    assert!(page.contains("No sync errors."), "{page}");

    let (status, _) = post(
        &client,
        format!("{}/sync/errors/{id}/retry", b.url),
        &[("csrf", "forged")],
    )
    .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn entity_sync_status_shows_the_twin_and_both_replicas_and_unexalate_stops_it() {
    let (a, b) = pair().await;
    let (api_a, api_b) = (a.api(), b.api());
    let (client, csrf) = console(&a).await;
    let created = api_a
        .item(json!({"project": "SUP", "summary": "Checkout fails"}))
        .await;
    let key = created["key"].as_str().unwrap().to_owned();
    let entity = format!("{}/sync/entity?key={key}", a.url);

    let page = get_page(&client, &entity).await;
    assert!(
        page.contains("is not under sync on any connection"),
        "{page}"
    );
    assert!(page.contains("<option>desk</option>"), "{page}");

    let (status, page) = post(
        &client,
        format!("{}/sync/entity/exalate", a.url),
        &[("csrf", &csrf), ("key", &key), ("connection", "desk")],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains(&format!("{key} is under sync on desk")),
        "{page}"
    );
    assert!(page.contains("<tr data-connection=\"desk\">"), "{page}");
    let local = &page[page
        .find("<pre class=\"replica local\">")
        .expect("the local replica")..];
    assert!(local.contains("Checkout fails"), "{local}");

    eventually("A learns the remote key", || async {
        get_page(&client, &entity)
            .await
            .contains(&format!("href=\"{}/items/ENG-1\">ENG-1</a></td>", b.url))
    })
    .await;
    // B received A's replica: its remote replica shows it.
    let (client_b, _) = console(&b).await;
    let on_b = get_page(&client_b, format!("{}/sync/entity?key=eng-1", b.url)).await;
    let remote = &on_b[on_b
        .find("<pre class=\"replica remote\">")
        .expect("the remote replica")..];
    assert!(remote.contains("Checkout fails"), "{remote}");
    assert!(
        on_b.contains(&format!("href=\"{}/items/{key}\">{key}</a></td>", a.url)),
        "{on_b}"
    );
    assert!(on_b.contains("No conflicts"), "{on_b}");
    assert!(on_b.contains("No sync errors for ENG-1."), "{on_b}");

    let (status, page) = post(
        &client,
        format!("{}/sync/entity/unexalate", a.url),
        &[("csrf", &csrf), ("key", &key), ("connection", "desk")],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("no longer syncs on desk"), "{page}");
    assert!(page.contains(">stopped</span>"), "{page}");
    eventually("B stops its twin too", || async {
        let (_, status) = api_b.send(api_b.get("/sync/status/ENG-1")).await;
        status["twins"][0]["state"] == "stopped"
    })
    .await;

    // Refusals come back as messages on the page.
    let (_, page) = post(
        &client,
        format!("{}/sync/entity/again", a.url),
        &[("csrf", &csrf), ("key", "SUP-999"), ("connection", "desk")],
    )
    .await;
    assert!(
        page.contains("SUP-999 is not under sync on connection desk"),
        "{page}"
    );
    let resp = client
        .get(format!("{}/sync/entity?key=twelve", a.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("is not an item key"));
    let resp = client
        .get(format!("{}/sync/entity?key=SUP-999", a.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("There is no item SUP-999")
    );
}

#[tokio::test]
async fn triggers_are_added_refused_with_the_parser_message_and_bulk_exalate_reaches_finished() {
    let (a, b) = pair().await;
    let (api_a, api_b) = (a.api(), b.api());
    let (client, csrf) = console(&a).await;
    for summary in ["First", "Second"] {
        api_a
            .item(json!({"project": "SUP", "summary": summary}))
            .await;
    }
    let triggers = format!("{}/sync/triggers", a.url);
    let page = get_page(&client, &triggers).await;
    assert!(page.contains("No triggers on desk"), "{page}");

    let (status, page) = post(
        &client,
        triggers.clone(),
        &[
            ("csrf", &csrf),
            ("connection", "desk"),
            ("query", "project = = SUP"),
            ("note", "kept"),
        ],
    )
    .await;
    assert_eq!(status, 400, "{page}");
    let error = &page[page
        .find("<p class=\"error\" role=\"alert\">The trigger: ")
        .expect("the parser's message")..];
    let error = &error[..error.find("</p>").unwrap()];
    assert!(
        error.contains("expected a value for project") && error.contains("(at column 11)"),
        "{error}"
    );
    assert!(page.contains("value=\"project = = SUP\""), "{page}");
    assert!(page.contains("value=\"kept\""), "{page}");

    let (status, page) = post(
        &client,
        triggers.clone(),
        &[
            ("csrf", &csrf),
            ("connection", "desk"),
            ("query", "project = SUP"),
            ("active", "on"),
            ("note", "all support"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Trigger added to desk"), "{page}");
    assert!(page.contains("<code>project = SUP</code>"), "{page}");
    assert!(page.contains("<td>all support</td>"), "{page}");
    let id = attribute(&page, "data-trigger");

    // Edit: a bad query is refused and kept in the trigger's open form; a good one is saved.
    let (status, page) = post(
        &client,
        format!("{triggers}/{id}"),
        &[("csrf", &csrf), ("query", "project ="), ("note", "edited")],
    )
    .await;
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("<details open>"), "{page}");
    assert!(page.contains("value=\"project =\""), "{page}");
    let (status, page) = post(
        &client,
        format!("{triggers}/{id}"),
        &[
            ("csrf", &csrf),
            ("query", "project = SUP"),
            ("note", "edited"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains(&format!("Trigger {id} saved.")), "{page}");
    assert!(page.contains("<td>edited</td>"), "{page}");

    // The connection editor's Triggers tab lists it and links here.
    let connections = get_page(&client, format!("{}/connections", a.url)).await;
    let edit = attribute(
        &connections[connections.find("<tr data-connection=\"desk\">").unwrap()..],
        "href",
    );
    let tab = get_page(&client, format!("{}{edit}?tab=triggers", a.url)).await;
    assert!(tab.contains("<code>project = SUP</code>"), "{tab}");
    assert!(
        tab.contains("href=\"/sync/triggers#connection-desk\""),
        "{tab}"
    );
    assert!(
        tab.contains("action=\"/sync/connections/desk/again\""),
        "{tab}"
    );
    assert!(
        tab.contains("href=\"/sync/connections/desk/cleanup\""),
        "{tab}"
    );

    let resp = client
        .post(format!("{triggers}/{id}/bulk"))
        .form(&[("csrf", &csrf)])
        .send()
        .await
        .unwrap();
    let progress = resp.url().to_string();
    assert!(progress.contains("/sync/bulk/"), "{progress}");
    let page = resp.text().await.unwrap();
    assert!(page.contains("Bulk Exalate on desk"), "{page}");
    assert!(page.contains(" of "), "{page}");
    eventually("the job finishes", || async {
        get_page(&client, &progress)
            .await
            .contains(">finished</dd>")
    })
    .await;
    let page = get_page(&client, &progress).await;
    assert!(
        page.contains("<dd class=\"progress\">2 of 2</dd>"),
        "{page}"
    );
    assert!(!page.contains("http-equiv=\"refresh\""), "{page}");
    assert!(page.contains("<dd class=\"failed\">0</dd>"), "{page}");
    assert!(page.contains("items/s</dd>"), "the rate: {page}");
    assert!(
        page.contains(&format!(
            "Bulk Exalate on desk: 2 items matching trigger {id} brought under sync."
        )),
        "{page}"
    );
    // The Jobs page lists it, and no longer refreshes once every job ended.
    let jobs = get_page(&client, format!("{}/sync/jobs", a.url)).await;
    let job = progress.rsplit('/').next().unwrap();
    assert!(
        jobs.contains(&format!("href=\"/sync/jobs/{job}\"")) && jobs.contains("Bulk Exalate"),
        "{jobs}"
    );
    assert!(!jobs.contains("http-equiv=\"refresh\""), "{jobs}");
    eventually("B gets both items", || async {
        exists(&api_b, "ENG-1").await && exists(&api_b, "ENG-2").await
    })
    .await;

    let (status, page) = post(
        &client,
        format!("{triggers}/{id}/delete"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains(&format!("Trigger {id} deleted")), "{page}");
    assert!(page.contains("No triggers on desk"), "{page}");
}

#[tokio::test]
async fn the_sync_queue_shows_outgoing_events_waiting_on_a_deactivated_connection() {
    let (a, _b) = pair().await;
    let api_a = a.api();
    let (status, body) = api_a.send(api_a.post("/connections/desk/deactivate")).await;
    assert_eq!(status, 200, "{body}");
    let created = api_a
        .item(json!({"project": "SUP", "summary": "Waits"}))
        .await;
    let key = created["key"].as_str().unwrap().to_owned();
    exalate(&api_a, &key).await;

    let (client, _) = console(&a).await;
    let page = get_page(&client, format!("{}/sync/queue", a.url)).await;
    let outgoing = section(&page, "<h2 id=\"outgoing\">");
    assert!(outgoing.contains("Outgoing sync events (1)"), "{outgoing}");
    assert!(outgoing.contains("<td>sync</td>"), "{outgoing}");
    assert!(
        outgoing.contains("data-status=\"blocked\">blocked — the connection is deactivated</span>"),
        "{outgoing}"
    );
    assert!(outgoing.contains("<th>Attempts</th>"), "{outgoing}");
    assert!(
        outgoing.contains("<td class=\"attempts\">0</td>"),
        "never sent: {outgoing}"
    );
    assert!(
        outgoing.contains(&format!("<a href=\"/sync/entity?key={key}\">{key}</a>")),
        "{outgoing}"
    );
    assert!(page.contains("Incoming sync requests (0)"), "{page}");
    assert!(
        page.contains("<select id=\"connection\" name=\"connection\">"),
        "{page}"
    );
    let other = get_page(&client, format!("{}/sync/queue?item=SUP-999", a.url)).await;
    assert!(other.contains("Outgoing sync events (0)"), "{other}");
    let unknown = get_page(&client, format!("{}/sync/queue?connection=nope", a.url)).await;
    assert!(
        unknown.contains("There is no connection nope on this node."),
        "{unknown}"
    );
}

#[tokio::test]
async fn the_rules_tab_test_run_shows_the_replica_and_the_changes_and_writes_nothing() {
    let (a, b) = pair().await;
    let (api_a, api_b) = (a.api(), b.api());
    api_a
        .item(json!({"project": "SUP", "summary": "Printer jam", "priority": "High"}))
        .await;
    api_b
        .item(json!({"project": "ENG", "summary": "Old text"}))
        .await;
    let (_, body) = api_a.send(api_a.get("/connections/desk")).await;
    let id = body["connection"]["id"].as_str().unwrap().to_owned();

    let (client, csrf) = console(&a).await;
    let (status, page) = post(
        &client,
        format!("{}/connections/{id}/test/outgoing", a.url),
        &[("csrf", &csrf), ("item", "SUP-1"), ("replica", "")],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("The replica the outgoing rules make for SUP-1"),
        "{page}"
    );
    assert!(
        page.contains("&#34;summary&#34;: &#34;Printer jam&#34;")
            || page.contains("\"summary\": \"Printer jam\""),
        "{page}"
    );

    let (client_b, csrf_b) = console(&b).await;
    let replica =
        json!({"key": "SUP-1", "summary": "Printer jam", "priority": {"name": "High"}}).to_string();
    let (status, page) = post(
        &client_b,
        format!("{}/connections/{id}/test/incoming", b.url),
        &[("csrf", &csrf_b), ("item", "ENG-1"), ("replica", &replica)],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("What the incoming rules would change on ENG-1"),
        "{page}"
    );
    assert!(
        page.contains("summary: &#34;Old text&#34; → &#34;Printer jam&#34;")
            || page.contains("summary: \"Old text\" → \"Printer jam\""),
        "{page}"
    );
    let (_, on_b) = api_b.send(api_b.get("/items/ENG-1")).await;
    assert_eq!(on_b["summary"], "Old text", "a test run writes nothing");

    let (_, page) = post(
        &client_b,
        format!("{}/connections/{id}/test/incoming", b.url),
        &[("csrf", &csrf_b), ("item", ""), ("replica", "{not json")],
    )
    .await;
    assert!(page.contains("The replica is not JSON"), "{page}");
}

/// A's outgoing rules: the default ones, with the summary sent as `summary + suffix`.
async fn outgoing_summary_suffix(api: &Api, suffix: &str) {
    let script = format!(
        "replica.key = issue.key\n\
         replica.summary = issue.summary + \"{suffix}\"\n\
         replica.description = issue.description\n\
         replica.status = issue.status\n\
         replica.priority = issue.priority\n\
         replica.labels = issue.labels\n\
         replica.comments = issue.comments\n\
         replica.attachments = issue.attachments\n"
    );
    let (status, body) = api
        .json(
            api.patch("/connections/desk"),
            json!({"outgoing_script": script}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

/// The remote key of A's item on connection desk, once known.
async fn remote_of(api: &Api, key: &str) -> String {
    let read = || async {
        let (_, body) = api.send(api.get(&format!("/sync/status/{key}"))).await;
        body["twins"][0]["remote_key"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    eventually(&format!("{key} learns its remote key"), || async {
        !read().await.is_empty()
    })
    .await;
    read().await
}

async fn summary(api: &Api, key: &str) -> String {
    let (_, body) = api.send(api.get(&format!("/items/{key}"))).await;
    body["summary"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn bulk_unexalate_sync_again_and_clean_up_from_the_triggers_page() {
    let (a, b) = pair().await;
    let (api_a, api_b) = (a.api(), b.api());
    let (client, csrf) = console(&a).await;
    for summary in ["Alpha", "Beta", "Gamma"] {
        let labels = if summary == "Gamma" {
            json!([])
        } else {
            json!(["vip"])
        };
        api_a
            .item(json!({"project": "SUP", "summary": summary, "labels": labels}))
            .await;
    }
    for key in ["SUP-1", "SUP-2", "SUP-3"] {
        exalate(&api_a, key).await;
    }
    let (alpha, gamma) = (
        remote_of(&api_a, "SUP-1").await,
        remote_of(&api_a, "SUP-3").await,
    );
    remote_of(&api_a, "SUP-2").await;
    let (status, body) = api_a
        .json(
            api_a.post("/connections/desk/triggers"),
            json!({"query": "labels = vip", "active": false}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let trigger = body["trigger"]["id"].as_i64().unwrap();

    let triggers = format!("{}/sync/triggers", a.url);
    let page = get_page(&client, &triggers).await;
    assert!(
        page.contains(&format!("action=\"/sync/triggers/{trigger}/unexalate\"")),
        "{page}"
    );
    assert!(
        page.contains("action=\"/sync/connections/desk/again\""),
        "{page}"
    );
    assert!(
        page.contains("href=\"/sync/connections/desk/cleanup\""),
        "{page}"
    );

    // Sync again sends every twin with the rules as they are now.
    outgoing_summary_suffix(&api_a, " (again)").await;
    assert_eq!(
        summary(&api_b, &alpha).await,
        "Alpha",
        "rules alone send nothing"
    );
    let page = finished_job(
        &client,
        format!("{}/sync/connections/desk/again", a.url),
        &[("csrf", &csrf)],
    )
    .await;
    assert!(
        page.contains("Sync again on desk: 3 items sent again with the current rules."),
        "{page}"
    );
    eventually("B's items carry the new rules' summary", || async {
        summary(&api_b, &alpha).await == "Alpha (again)"
            && summary(&api_b, &gamma).await == "Gamma (again)"
    })
    .await;

    // Bulk Unexalate stops the trigger's matches only.
    let page = finished_job(
        &client,
        format!("{triggers}/{trigger}/unexalate"),
        &[("csrf", &csrf)],
    )
    .await;
    assert!(
        page.contains(&format!(
            "Bulk Unexalate on desk: 2 items matching trigger {trigger} no longer under sync"
        )),
        "{page}"
    );
    let state = |key: &'static str| {
        let api = a.api();
        async move {
            let (_, body) = api.send(api.get(&format!("/sync/status/{key}"))).await;
            body["twins"][0]["state"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        }
    };
    assert_eq!(state("SUP-1").await, "stopped");
    assert_eq!(state("SUP-2").await, "stopped");
    assert_eq!(state("SUP-3").await, "active");

    // Clean-up: a confirmation page with the counts first; nothing changes until it is posted.
    let (status, body) = api_a.send(api_a.post("/connections/desk/deactivate")).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = api_a
        .json(
            api_a.patch("/items/SUP-3"),
            json!({"summary": "Gamma waits"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    eventually("the change of SUP-3 is queued", || async {
        let (_, body) = api_a.send(api_a.get("/sync/cleanup/desk")).await;
        body["queued"] == 1
    })
    .await;
    let confirm = get_page(&client, format!("{}/sync/connections/desk/cleanup", a.url)).await;
    assert!(confirm.contains("<h1>Clean-up of desk</h1>"), "{confirm}");
    assert!(confirm.contains("<dd class=\"twins\">3</dd>"), "{confirm}");
    assert!(confirm.contains("<dd class=\"queued\">1</dd>"), "{confirm}");
    assert!(confirm.contains("1 change is still queued"), "{confirm}");
    assert_eq!(state("SUP-3").await, "active", "the page changes nothing");

    // Still deactivated, so the queued change cannot slip out before the Clean-up (activated
    // first, the change could reach B in between).
    let page = finished_job(
        &client,
        format!("{}/sync/connections/desk/cleanup", a.url),
        &[("csrf", &csrf)],
    )
    .await;
    assert!(
        page.contains("Clean-up of desk: the sync data of 3 twins is removed here and on the remote; the items stay;"),
        "{page}"
    );
    let (_, body) = api_a.send(api_a.get("/sync/status/SUP-3")).await;
    assert_eq!(body["twins"], json!([]), "{body}");
    assert!(
        page.contains("1 change still queued for the remote was dropped with it, not sent"),
        "{page}"
    );
    let (status, body) = api_a.send(api_a.post("/connections/desk/activate")).await;
    assert_eq!(status, 200, "{body}");
    eventually("B cleans up too", || async {
        let (_, body) = api_b
            .send(api_b.get(&format!("/sync/status/{gamma}")))
            .await;
        body["twins"] == json!([])
    })
    .await;
    // The dropped change never reached B.
    assert!(!summary(&api_b, &gamma).await.contains("Gamma waits"));
    assert!(
        exists(&api_a, "SUP-1").await && exists(&api_b, &alpha).await,
        "the items stay"
    );

    // The console refuses a cross-site post.
    let (status, _) = post(
        &client,
        format!("{}/sync/connections/desk/cleanup", a.url),
        &[("csrf", "forged")],
    )
    .await;
    assert!(status >= 400, "{status}");
}
