//! The corpus of Exalate idioms (`tests/exalate-idioms/*.groovy`): sync rules written in the
//! idioms Exalate's documentation shows, each installed on a connection between two real
//! nodes, an item synced, and the result compared with what the documentation says the idiom
//! does.
//!
//! A file is a header of `//` lines, then the rules:
//!
//! ```text
//! // Idiom: what the documented idiom does, in a sentence.
//! // Source: the page of Exalate's documentation that shows it.
//! // Existing on B: {"project": "ENG", "summary": "…"}    (items made on B first; any number)
//! // Given on A: {"project": "SUP", "summary": "…"}       (made on A and exalated; any number,
//! //                                                      each once the one before is synced)
//! // Expect ENG-1: {"status": "Done"}                     (fields of an item, once synced)
//! // Missing: ENG-2                                       (items that must not exist)
//! // ---- outgoing on A
//! …A's outgoing rules (optional: the connection's own otherwise)…
//! // ---- incoming on B
//! …B's incoming rules (optional likewise)…
//! ```
//!
//! With `// Tracker: servicenow`, node A serves an emulated ServiceNow instance (incidents)
//! and B the built-in tracker: `// Given on B:` items are made on B and exalated, the rules
//! are `// ---- incoming on A` (and `// ---- outgoing on B`), and `// Expect incident: {…}`
//! compares the columns of the incident with that `short_description` (a reference by its
//! sys_id); `// Existing incident: {…}` is made by an agent first, and `// Missing incident:
//! text` says no incident has that short description.
//!
//! `Expect` compares the listed fields of the item as the API shows it (`"comments"` by their
//! bodies, in order; `"internal_comments"` the bodies of the internal ones; `"comment_authors"`
//! their authors' names; `"attachments"` by file name); an item may be expected on either node
//! (`SUP-…` on A, `ENG-…` on B).
//!
//! A given item may carry `"comments": [{"body": …, "internal": …, "author": {…}}]` and
//! `"attachments": [{"filename": …, "content": "text"}]`: they are added to it before it is
//! exalated. `// Then on A: SUP-1 {"status": "Done", "comments": […]}` changes an item once
//! everything given is in sync (the fields patched, the comments added), so that an idiom of
//! a later sync (`previous`, `!firstSync`) is exercised.
//!
//! On ServiceNow, `// Given incident: {…}` is an incident an agent opens (its mirror is
//! exalated to B, so A's outgoing rules and B's incoming ones run), and `Expect ENG-1: {…}`
//! reads B; `Expect incident` may list `"comments"` and `"work_notes"`: the journal entries
//! of the incident, oldest first.
//!
//! Every idiom runs, and the test fails at the end naming each one that did not give the
//! documented result, with a count per tracker. `IDIOMS=part` runs only the files whose name
//! contains `part` (for working on one).

use std::path::Path;

use serde_json::{Value, json};

use crate::common::Api;
use crate::sync::pair;

struct Idiom {
    name: String,
    existing: Vec<Value>,
    given: Vec<Value>,
    expect: Vec<(String, Value)>,
    missing: Vec<String>,
    /// Rules per node: (`A` or `B`, `outgoing_script` or `incoming_script`, source).
    rules: Vec<(char, &'static str, String)>,
    /// The first node serves (emulated) ServiceNow, incidents; items are then made on B.
    servicenow: bool,
    /// Items made on B and exalated (ServiceNow idioms).
    given_on_b: Vec<Value>,
    /// Incidents made in ServiceNow first, by an agent.
    existing_incidents: Vec<Value>,
    /// Short descriptions no incident may have.
    missing_incidents: Vec<String>,
    /// Incidents an agent opens, exalated to B.
    given_incidents: Vec<Value>,
    /// Changes made once everything given is in sync: (key, fields and comments).
    then: Vec<(String, Value)>,
}

fn parse(name: &str, text: &str) -> Idiom {
    let mut idiom = Idiom {
        name: name.to_owned(),
        existing: Vec::new(),
        given: Vec::new(),
        expect: Vec::new(),
        missing: Vec::new(),
        rules: Vec::new(),
        servicenow: false,
        given_on_b: Vec::new(),
        existing_incidents: Vec::new(),
        missing_incidents: Vec::new(),
        given_incidents: Vec::new(),
        then: Vec::new(),
    };
    let mut section: Option<(char, &'static str)> = None;
    let mut body = String::new();
    let flush = |section: Option<(char, &'static str)>, body: &mut String, idiom: &mut Idiom| {
        if let Some((node, which)) = section {
            idiom.rules.push((node, which, std::mem::take(body)));
        }
        body.clear();
    };
    let json = |v: &str| -> Value {
        serde_json::from_str(v.trim()).unwrap_or_else(|e| panic!("{name}: bad JSON {v}: {e}"))
    };
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("// ---- ") {
            flush(section, &mut body, &mut idiom);
            let which = if rest.starts_with("outgoing") {
                "outgoing_script"
            } else {
                "incoming_script"
            };
            let node = if rest.trim_end().ends_with(" on A") {
                'A'
            } else {
                'B'
            };
            section = Some((node, which));
            continue;
        }
        if section.is_some() {
            body.push_str(line);
            body.push('\n');
            continue;
        }
        if let Some(v) = line.strip_prefix("// Existing on B:") {
            idiom.existing.push(json(v));
        } else if let Some(v) = line.strip_prefix("// Given on A:") {
            idiom.given.push(json(v));
        } else if let Some(v) = line.strip_prefix("// Given on B:") {
            idiom.given_on_b.push(json(v));
        } else if let Some(v) = line.strip_prefix("// Existing incident:") {
            idiom.existing_incidents.push(json(v));
        } else if let Some(v) = line.strip_prefix("// Missing incident:") {
            idiom.missing_incidents.push(v.trim().to_owned());
        } else if let Some(v) = line.strip_prefix("// Given incident:") {
            idiom.given_incidents.push(json(v));
        } else if let Some(rest) = line.strip_prefix("// Then on A:") {
            let (key, v) = rest
                .trim()
                .split_once(' ')
                .unwrap_or_else(|| panic!("{name}: Then on A: KEY {{…}}"));
            idiom.then.push((key.to_owned(), json(v)));
        } else if line.trim() == "// Tracker: servicenow" {
            idiom.servicenow = true;
        } else if let Some(v) = line.strip_prefix("// Missing:") {
            idiom
                .missing
                .extend(v.split(',').map(|k| k.trim().to_owned()));
        } else if let Some(rest) = line.strip_prefix("// Expect ") {
            let (key, v) = rest
                .split_once(':')
                .unwrap_or_else(|| panic!("{name}: Expect KEY: {{…}}"));
            idiom.expect.push((key.trim().to_owned(), json(v)));
        }
    }
    flush(section, &mut body, &mut idiom);
    assert!(
        !idiom.given.is_empty()
            || !idiom.given_on_b.is_empty()
            || !idiom.given_incidents.is_empty(),
        "{name}: no 'Given on A' (or 'Given on B', 'Given incident')"
    );
    assert!(!idiom.expect.is_empty(), "{name}: no 'Expect'");
    idiom
}

/// The fields of `item` named in `expected`, comments by body.
fn shown(item: &Value, expected: &Value) -> Value {
    let Value::Object(fields) = expected else {
        return item.clone();
    };
    let mut out = serde_json::Map::new();
    for name in fields.keys() {
        let v = match name.as_str() {
            "comments" => Value::Array(
                item["comments"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|c| c["body"].clone())
                    .collect(),
            ),
            "internal_comments" => Value::Array(
                item["comments"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|c| c["internal"] == true)
                    .map(|c| c["body"].clone())
                    .collect(),
            ),
            "comment_authors" => Value::Array(
                item["comments"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|c| c["author"]["name"].clone())
                    .collect(),
            ),
            "attachments" => Value::Array(
                item["attachments"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|a| a["filename"].clone())
                    .collect(),
            ),
            "comment_count" => json!(item["comments"].as_array().map_or(0, Vec::len)),
            other => item[other].clone(),
        };
        out.insert(name.clone(), v);
    }
    Value::Object(out)
}

async fn read(api: &Api, key: &str) -> Option<Value> {
    let (status, body) = api.send(api.get(&format!("/items/{key}"))).await;
    (status == 200).then_some(body)
}

/// Makes `given` on the node of `api` with its comments and attachments; returns its key.
async fn make(api: &Api, name: &str, given: &Value) -> String {
    let mut fields = given.clone();
    let comments = fields
        .as_object_mut()
        .and_then(|f| f.remove("comments"))
        .unwrap_or(Value::Null);
    let attachments = fields
        .as_object_mut()
        .and_then(|f| f.remove("attachments"))
        .unwrap_or(Value::Null);
    let created = api.item(fields).await;
    let key = created["key"].as_str().expect("a key").to_owned();
    add_comments(api, name, &key, &comments).await;
    for a in attachments.as_array().into_iter().flatten() {
        let filename = a["filename"].as_str().expect("a filename");
        let (status, body) = api
            .send(
                api.post(&format!("/items/{key}/attachments?filename={filename}"))
                    .header("content-type", "application/octet-stream")
                    .body(a["content"].as_str().unwrap_or_default().to_owned()),
            )
            .await;
        assert_eq!(status, 201, "{name}: {body}");
    }
    key
}

async fn add_comments(api: &Api, name: &str, key: &str, comments: &Value) {
    for c in comments.as_array().into_iter().flatten() {
        let (status, body) = api
            .json(api.post(&format!("/items/{key}/comments")), c.clone())
            .await;
        assert_eq!(status, 201, "{name}: {body}");
    }
}

/// Waits until `cond` holds (up to `secs`); false when it never did.
async fn within<F, Fut>(secs: u64, mut cond: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    tokio::time::timeout(std::time::Duration::from_secs(secs), async {
        while !cond().await {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    })
    .await
    .is_ok()
}

async fn errors(api_a: &Api, api_b: &Api) -> String {
    let (_, errors_a) = api_a.send(api_a.get("/sync/errors")).await;
    let (_, errors_b) = api_b.send(api_b.get("/sync/errors")).await;
    format!("errors on A: {errors_a}\nerrors on B: {errors_b}")
}

/// Exalates `key` from the node of `from` on `connection` and waits until it is linked.
async fn exalate(from: &Api, apis: (&Api, &Api), name: &str, connection: &str, key: &str) {
    let (status, body) = from
        .json(
            from.post("/sync/exalate"),
            json!({"connection": connection, "item": key}),
        )
        .await;
    assert_eq!(status, 200, "{name}: {body}");
    let linked = || async {
        let (_, body) = from.send(from.get(&format!("/sync/status/{key}"))).await;
        body["twins"][0]["remote_key"].is_string()
    };
    if !within(20, linked).await {
        panic!(
            "{name}: {key} was not synced\n{}",
            errors(apis.0, apis.1).await
        );
    }
}

/// Waits until the item `key` shows `expected`.
async fn expect_item(apis: (&Api, &Api), name: &str, key: &str, expected: &Value) {
    let (api_a, api_b) = apis;
    let api = if key.starts_with("ENG") { api_b } else { api_a };
    let check = || async {
        match read(api, key).await {
            Some(item) => shown(&item, expected) == *expected,
            None => false,
        }
    };
    if !within(20, check).await {
        let now = read(api, key).await;
        panic!(
            "{name}: {key} is {} not {expected}\n{}",
            now.map_or("missing".to_owned(), |i| shown(&i, expected).to_string()),
            errors(api_a, api_b).await
        );
    }
}

async fn run(idiom: &Idiom) {
    let name = &idiom.name;
    if idiom.servicenow {
        return run_on_servicenow(idiom).await;
    }
    let (a, b) = pair().await;
    let (api_a, api_b) = (a.api(), b.api());
    set_rules(idiom, &api_a, &api_b, "desk").await;
    for existing in &idiom.existing {
        api_b.item(existing.clone()).await;
    }
    // Each item is made and exalated once the one before is in sync (a sub-task after its
    // parent).
    for given in &idiom.given {
        let key = make(&api_a, name, given).await;
        exalate(&api_a, (&api_a, &api_b), name, "desk", &key).await;
    }
    if !idiom.then.is_empty() {
        // Every item expected on B exists before the change, so that the change is a later
        // sync of its own.
        for (key, _) in idiom.expect.iter().filter(|(k, _)| k.starts_with("ENG")) {
            let exists = || async { read(&api_b, key).await.is_some() };
            assert!(within(20, exists).await, "{name}: {key} was never made");
        }
        for (key, change) in &idiom.then {
            let twin_synced = || async {
                let (_, body) = api_a.send(api_a.get(&format!("/sync/status/{key}"))).await;
                body["twins"][0]["remote_key"].is_string()
            };
            assert!(within(20, twin_synced).await, "{name}: {key} not in sync");
            let mut fields = change.clone();
            let comments = fields
                .as_object_mut()
                .and_then(|f| f.remove("comments"))
                .unwrap_or(Value::Null);
            if fields.as_object().is_some_and(|f| !f.is_empty()) {
                let (status, body) = api_a
                    .json(api_a.patch(&format!("/items/{key}")), fields)
                    .await;
                assert_eq!(status, 200, "{name}: {body}");
            }
            add_comments(&api_a, name, key, &comments).await;
        }
    }
    for (key, expected) in &idiom.expect {
        expect_item((&api_a, &api_b), name, key, expected).await;
    }
    for key in &idiom.missing {
        let api = if key.starts_with("ENG") {
            &api_b
        } else {
            &api_a
        };
        assert!(read(api, key).await.is_none(), "{name}: {key} exists");
    }
    // Nothing failed on either side.
    for api in [&api_a, &api_b] {
        let (_, errors) = api.send(api.get("/sync/errors")).await;
        assert_eq!(errors["errors"], json!([]), "{name}");
    }
}

async fn set_rules(idiom: &Idiom, api_a: &Api, api_b: &Api, connection: &str) {
    for (node, which, source) in &idiom.rules {
        let api = if *node == 'A' { api_a } else { api_b };
        let (status, body) = api
            .json(
                api.patch(&format!("/connections/{connection}")),
                json!({ *which: source }),
            )
            .await;
        assert_eq!(status, 200, "{}: {body}", idiom.name);
    }
}

/// A ServiceNow idiom: node A serves the emulated instance (incidents), B the built-in
/// tracker; items are made on B and exalated (or incidents opened by an agent and exalated
/// from A), and `Expect incident:` compares the columns of the incident whose short
/// description it names.
async fn run_on_servicenow(idiom: &Idiom) {
    let name = &idiom.name;
    let (instance, a, b) = crate::servicenow::setup().await;
    let (api_a, api_b) = (a.api(), b.api());
    set_rules(idiom, &api_a, &api_b, "snow_to_eng").await;
    for existing in &idiom.existing_incidents {
        let made = instance
            .agent(
                reqwest::Method::POST,
                "/api/now/table/incident",
                Some(existing.clone()),
            )
            .await;
        // A has mirrored it before anything names it.
        crate::servicenow::mirror_of(&api_a, made["result"]["number"].as_str().expect("number"))
            .await;
    }
    for given in &idiom.given_incidents {
        let made = instance
            .agent(
                reqwest::Method::POST,
                "/api/now/table/incident",
                Some(given.clone()),
            )
            .await;
        let number = made["result"]["number"].as_str().expect("number");
        let key = crate::servicenow::mirror_of(&api_a, number).await;
        exalate(&api_a, (&api_a, &api_b), name, "snow_to_eng", &key).await;
    }
    for given in &idiom.given_on_b {
        let key = make(&api_b, name, given).await;
        let (status, body) = api_b
            .json(
                api_b.post("/sync/exalate"),
                json!({"connection": "snow_to_eng", "item": key}),
            )
            .await;
        assert_eq!(status, 200, "{name}: {body}");
    }
    for (what, expected) in &idiom.expect {
        if what.starts_with("ENG") {
            expect_item((&api_a, &api_b), name, what, expected).await;
            continue;
        }
        assert_eq!(
            what, "incident",
            "{name}: ServiceNow idioms expect an incident or an ENG item"
        );
        let summary = expected["short_description"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: expect the incident's short_description"));
        let query = format!("short_description={summary}");
        let found = || async {
            let rows = instance.rows("incident", &query).await;
            let row = rows.into_iter().next()?;
            let journal = instance
                .journal(row["sys_id"].as_str().unwrap_or_default())
                .await;
            let mut got = serde_json::Map::new();
            for field in expected.as_object().into_iter().flatten().map(|(k, _)| k) {
                let v = match field.as_str() {
                    "comments" | "work_notes" => Value::Array(
                        journal
                            .iter()
                            .filter(|(element, _)| element == field)
                            .map(|(_, v)| Value::String(v.clone()))
                            .collect(),
                    ),
                    _ => match &row[field.as_str()] {
                        Value::Object(r) => r.get("value").cloned().unwrap_or(Value::Null),
                        v => v.clone(),
                    },
                };
                got.insert(field.clone(), v);
            }
            Some(Value::Object(got))
        };
        if !within(20, || async { found().await.as_ref() == Some(expected) }).await {
            panic!(
                "{name}: the incident is {:?} not {expected}\n{}",
                found().await,
                errors(&api_a, &api_b).await
            );
        }
    }
    for summary in &idiom.missing_incidents {
        let rows = instance
            .rows("incident", &format!("short_description={summary}"))
            .await;
        assert!(rows.is_empty(), "{name}: an incident '{summary}' exists");
    }
    for api in [&api_a, &api_b] {
        let (_, errors) = api.send(api.get("/sync/errors")).await;
        assert_eq!(errors["errors"], json!([]), "{name}");
    }
    instance.emu.shutdown().await.expect("emulator stops");
}

#[tokio::test]
async fn every_idiom_of_the_corpus_gives_the_documented_result() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/exalate-idioms");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("the corpus directory")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "groovy"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no idioms in {}", dir.display());
    let only = std::env::var("IDIOMS").ok();
    // (tracker, passed, failed names)
    let mut tally: Vec<(&str, usize, Vec<String>)> =
        vec![("built-in", 0, Vec::new()), ("servicenow", 0, Vec::new())];
    let mut failures = Vec::new();
    for path in files {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if only.as_deref().is_some_and(|o| !name.contains(o)) {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("an idiom file");
        let idiom = parse(&name, &text);
        let row = usize::from(idiom.servicenow);
        // Each idiom runs in its own task, so that one that fails does not hide the rest.
        let local = tokio::task::LocalSet::new();
        let outcome = local
            .run_until(
                async move { tokio::task::spawn_local(async move { run(&idiom).await }).await },
            )
            .await;
        match outcome {
            Ok(()) => tally[row].1 += 1,
            Err(e) => {
                let why = match e.try_into_panic() {
                    Ok(p) => p
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                        .unwrap_or_default(),
                    Err(e) => e.to_string(),
                };
                tally[row].2.push(name.clone());
                failures.push(format!("{name}: {why}"));
            }
        }
    }
    for (tracker, passed, failed) in &tally {
        eprintln!(
            "exalate idioms on the {tracker} tracker: {passed} of {} give the documented result",
            passed + failed.len()
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Rules that stamp the replica with the time, as Exalate's date idioms do.
const STAMPING_OUTGOING: &str = "replica.key = issue.key\n\
replica.summary = issue.summary\n\
replica.description = 'sent ' + new Date().format('yyyy-MM-dd HH:mm') + ' ' + java.time.Instant.now().toString() + ' ' + TimeZone.default.ID\n";

const STAMPING_INCOMING: &str = "if (firstSync) { issue.projectKey = 'ENG' }\n\
issue.summary = replica.summary\n\
issue.description = 'received ' + java.time.LocalDate.now().toString() + ' ' + new Date().format('HH:mm')\n";

#[tokio::test]
async fn a_test_run_fixes_the_clock_the_rules_see() {
    let (a, b) = pair().await;
    let (api_a, api_b) = (a.api(), b.api());
    for (api, which, source) in [
        (&api_a, "outgoing_script", STAMPING_OUTGOING),
        (&api_b, "incoming_script", STAMPING_INCOMING),
    ] {
        let (status, body) = api
            .json(api.patch("/connections/desk"), json!({ which: source }))
            .await;
        assert_eq!(status, 200, "{body}");
    }
    api_a
        .item(json!({"project": "SUP", "summary": "Stamped"}))
        .await;
    // The outgoing rules at a time in a zone: the dates read it, in that zone.
    let (status, body) = api_a
        .json(
            api_a.post("/connections/desk/test/outgoing"),
            json!({"item": "SUP-1", "now": "2026-03-01T09:30", "zone": "Europe/Paris"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["replica"]["description"], "sent 2026-03-01 09:30 2026-03-01T08:30:00Z Europe/Paris",
        "{body}"
    );
    // The same run again gives the same replica.
    let (_, again) = api_a
        .json(
            api_a.post("/connections/desk/test/outgoing"),
            json!({"item": "SUP-1", "now": "2026-03-01T09:30", "zone": "Europe/Paris"}),
        )
        .await;
    assert_eq!(again, body);
    // The incoming rules at an instant (UTC where no zone is given).
    let (status, body) = api_b
        .json(
            api_b.post("/connections/desk/test/incoming"),
            json!({"replica": {"key": "SUP-1", "summary": "Stamped"}, "now": "1999-12-31T23:59:00Z"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["item"]["description"], "received 1999-12-31 23:59",
        "{body}"
    );
    // Without a time the rules read the node's clock: not the fixed one.
    let (_, body) = api_a
        .json(
            api_a.post("/connections/desk/test/outgoing"),
            json!({"item": "SUP-1"}),
        )
        .await;
    let text = body["replica"]["description"].as_str().unwrap_or_default();
    assert!(
        text.starts_with("sent ") && !text.contains("2026-03-01T08:30"),
        "{body}"
    );
    // A time that is not one is the admin's mistake, said so.
    let (status, body) = api_a
        .json(
            api_a.post("/connections/desk/test/outgoing"),
            json!({"item": "SUP-1", "now": "next tuesday"}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body.to_string().contains("'next tuesday' is not a time"),
        "{body}"
    );
}

#[tokio::test]
async fn the_rules_tab_test_run_takes_a_time_and_keeps_it_in_the_form() {
    let (a, b) = pair().await;
    let (api_a, _api_b) = (a.api(), b.api());
    let (status, body) = api_a
        .json(
            api_a.patch("/connections/desk"),
            json!({"outgoing_script": STAMPING_OUTGOING}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    api_a
        .item(json!({"project": "SUP", "summary": "Stamped"}))
        .await;
    let (_, body) = api_a.send(api_a.get("/connections/desk")).await;
    let id = body["connection"]["id"].as_str().expect("id").to_owned();
    let (client, csrf) = crate::console_sync::console(&a).await;
    let (status, page) = crate::console_sync::post(
        &client,
        format!("{}/connections/{id}/test/outgoing", a.url),
        &[
            ("csrf", &csrf),
            ("item", "SUP-1"),
            ("replica", ""),
            ("now", "2026-03-01T09:30:00Z"),
            ("zone", "America/New_York"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("sent 2026-03-01 04:30 2026-03-01T09:30:00Z America/New_York"),
        "{page}"
    );
    assert!(
        page.contains("name=\"now\" value=\"2026-03-01T09:30:00Z\"")
            && page.contains("name=\"zone\" value=\"America/New_York\""),
        "{page}"
    );
    let (_, page) = crate::console_sync::post(
        &client,
        format!("{}/connections/{id}/test/outgoing", a.url),
        &[
            ("csrf", &csrf),
            ("item", "SUP-1"),
            ("replica", ""),
            ("now", "2026-03-01T09:30:00Z"),
            ("zone", "Nowhere/Land"),
        ],
    )
    .await;
    assert!(page.contains("is not a time zone"), "{page}");
}
