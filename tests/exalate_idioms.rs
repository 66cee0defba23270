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
//! bodies, in order); an item may be expected on either node (`SUP-…` on A, `ENG-…` on B).

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
        !idiom.given.is_empty() || !idiom.given_on_b.is_empty(),
        "{name}: no 'Given on A' (or 'Given on B')"
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
        let created = api_a.item(given.clone()).await;
        let key = created["key"].as_str().expect("a key").to_owned();
        let (status, body) = api_a
            .json(
                api_a.post("/sync/exalate"),
                json!({"connection": "desk", "item": key}),
            )
            .await;
        assert_eq!(status, 200, "{name}: {body}");
        let linked = || async {
            let (_, body) = api_a.send(api_a.get(&format!("/sync/status/{key}"))).await;
            body["twins"][0]["remote_key"].is_string()
        };
        if tokio::time::timeout(std::time::Duration::from_secs(15), async {
            while !linked().await {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        })
        .await
        .is_err()
        {
            let (_, errors_a) = api_a.send(api_a.get("/sync/errors")).await;
            let (_, errors_b) = api_b.send(api_b.get("/sync/errors")).await;
            panic!(
                "{name}: {key} was not synced\nerrors on A: {errors_a}\nerrors on B: {errors_b}"
            );
        }
    }
    for (key, expected) in &idiom.expect {
        let api = if key.starts_with("ENG") {
            &api_b
        } else {
            &api_a
        };
        let check = || async {
            match read(api, key).await {
                Some(item) => shown(&item, expected) == *expected,
                None => false,
            }
        };
        if tokio::time::timeout(std::time::Duration::from_secs(15), async {
            while !check().await {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        })
        .await
        .is_err()
        {
            let now = read(api, key).await;
            let (_, errors_a) = api_a.send(api_a.get("/sync/errors")).await;
            let (_, errors_b) = api_b.send(api_b.get("/sync/errors")).await;
            panic!(
                "{name}: {key} is {} not {expected}\nerrors on A: {errors_a}\nerrors on B: {errors_b}",
                now.map_or("missing".to_owned(), |i| shown(&i, expected).to_string())
            );
        }
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
/// tracker; items are made on B and exalated, and `Expect incident:` compares the columns of
/// the incident whose short description it names.
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
    for given in &idiom.given_on_b {
        let created = api_b.item(given.clone()).await;
        let key = created["key"].as_str().expect("a key").to_owned();
        let (status, body) = api_b
            .json(
                api_b.post("/sync/exalate"),
                json!({"connection": "snow_to_eng", "item": key}),
            )
            .await;
        assert_eq!(status, 200, "{name}: {body}");
    }
    for (what, expected) in &idiom.expect {
        assert_eq!(
            what, "incident",
            "{name}: ServiceNow idioms expect an incident"
        );
        let summary = expected["short_description"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: expect the incident's short_description"));
        let query = format!("short_description={summary}");
        let found = || async {
            let rows = instance.rows("incident", &query).await;
            rows.into_iter().next().map(|row| {
                let mut got = serde_json::Map::new();
                for field in expected.as_object().into_iter().flatten().map(|(k, _)| k) {
                    let v = match &row[field.as_str()] {
                        Value::Object(r) => r.get("value").cloned().unwrap_or(Value::Null),
                        v => v.clone(),
                    };
                    got.insert(field.clone(), v);
                }
                Value::Object(got)
            })
        };
        if tokio::time::timeout(std::time::Duration::from_secs(20), async {
            while found().await.as_ref() != Some(expected) {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        })
        .await
        .is_err()
        {
            let (_, errors_a) = api_a.send(api_a.get("/sync/errors")).await;
            let (_, errors_b) = api_b.send(api_b.get("/sync/errors")).await;
            panic!(
                "{name}: the incident is {:?} not {expected}\nerrors on A: {errors_a}\nerrors on B: {errors_b}",
                found().await
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
    for path in files {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let text = std::fs::read_to_string(&path).expect("an idiom file");
        run(&parse(&name, &text)).await;
    }
}
