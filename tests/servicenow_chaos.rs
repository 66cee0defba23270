//! The convergence test with ServiceNow on one side: a `tandem serve` process on an emulated
//! instance and one on the built-in tracker take random edits — an agent's in ServiceNow, a
//! user's on the built-in side, new incidents among them — while either node is killed
//! (SIGKILL) and restarted, the link between them is cut and restored, and the instance answers
//! 429s and 500s. Once everything is back and quiet, every incident and its twin agree, none is
//! duplicated on either side, every comment is there exactly once on both sides (in the
//! incident's journal too), and no message goes back and forth.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tandem_emulators::servicenow::Faults;

use crate::common::Api;
use crate::servicenow::{Instance, PROXY, PROXY_PASSWORD, emulator_config};
use crate::sync_chaos::{NodeProcess, Rng, get, queued, sent, try_json};

async fn incidents(instance: &Instance) -> Vec<Value> {
    instance
        .try_agent(
            reqwest::Method::GET,
            "/api/now/table/incident?sysparm_fields=sys_id,number,short_description&sysparm_limit=1000",
            None,
        )
        .await
        .and_then(|v| v["result"].as_array().cloned())
        .expect("incidents")
}

/// How often each comment token stands in the incident's journal.
async fn journal_tokens(instance: &Instance, sys_id: &str) -> BTreeMap<String, usize> {
    let rows = instance
        .try_agent(
            reqwest::Method::GET,
            &format!("/api/now/table/sys_journal_field?sysparm_query=element_id={sys_id}"),
            None,
        )
        .await
        .expect("journal");
    let mut out = BTreeMap::new();
    for r in rows["result"].as_array().into_iter().flatten() {
        for t in tokens(r["value"].as_str().unwrap_or_default()) {
            *out.entry(t).or_default() += 1;
        }
    }
    out
}

/// The comment tokens (`c17`) in a text.
fn tokens(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| w.len() > 1 && w.starts_with('c') && w[1..].bytes().all(|b| b.is_ascii_digit()))
        .map(str::to_owned)
        .collect()
}

fn item_tokens(item: &Value) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for c in item["comments"].as_array().into_iter().flatten() {
        for t in tokens(c["body"].as_str().unwrap_or_default()) {
            *out.entry(t).or_default() += 1;
        }
    }
    out
}

/// Every incident's sys_id with its twin on B (from A's mirror and B's twins).
async fn pairs(api_a: &Api) -> Vec<(String, String)> {
    let mirror = get(api_a, "/items?query=project%20%3D%20INC&limit=500").await;
    let mut out = Vec::new();
    for item in mirror["items"].as_array().into_iter().flatten() {
        let key = item["key"].as_str().unwrap_or_default();
        let sys_id = item["custom_fields"]["sys_id"].as_str().unwrap_or_default();
        if sys_id.is_empty() {
            continue;
        }
        let status = get(api_a, &format!("/sync/status/{key}")).await;
        if let Some(remote) = status["twins"][0]["remote_key"].as_str() {
            out.push((sys_id.to_owned(), remote.to_owned()));
        }
    }
    out
}

/// What still differs; empty when both sides and the instance agree.
async fn disagreements(
    instance: &Instance,
    api_a: &Api,
    api_b: &Api,
    expected: usize,
) -> Vec<String> {
    let mut problems = Vec::new();
    let incidents = incidents(instance).await;
    if incidents.len() != expected {
        problems.push(format!(
            "{} incidents, {expected} expected",
            incidents.len()
        ));
    }
    let on_b = get(api_b, "/items?query=project%20%3D%20ENG&limit=500").await;
    if on_b["total"].as_u64() != Some(expected as u64) {
        problems.push(format!("{} items on B, {expected} expected", on_b["total"]));
    }
    let pairs = pairs(api_a).await;
    if pairs.len() != expected {
        problems.push(format!("{} pairs linked, {expected} expected", pairs.len()));
    }
    for (sys_id, key_b) in pairs {
        let Some(incident) = incidents.iter().find(|i| i["sys_id"] == sys_id.as_str()) else {
            problems.push(format!("{sys_id}: no such incident"));
            continue;
        };
        let item = get(api_b, &format!("/items/{key_b}")).await;
        if std::env::var_os("CHAOS_LOG").is_some() {
            eprintln!("{key_b} comments {}", item["comments"]);
            eprintln!(
                "{sys_id} journal {:?}",
                instance
                    .try_agent(
                        reqwest::Method::GET,
                        &format!("/api/now/table/sys_journal_field?sysparm_query=element_id={sys_id}^ORDERBYsys_created_on"),
                        None,
                    )
                    .await
                    .map(|v| v["result"].as_array().map(|r| r.iter().map(|r| (r["value"].clone(), r["sys_created_by"].clone(), r["sys_created_on"].clone())).collect::<Vec<_>>()))
            );
        }
        if incident["short_description"] != item["summary"] {
            problems.push(format!(
                "{} / {key_b}: short description {} but summary {}",
                incident["number"], incident["short_description"], item["summary"]
            ));
        }
        let (in_sn, in_b) = (journal_tokens(instance, &sys_id).await, item_tokens(&item));
        if in_sn != in_b || in_sn.values().any(|n| *n != 1) {
            problems.push(format!(
                "{} / {key_b}: comments {in_sn:?} in ServiceNow, {in_b:?} on B",
                incident["number"]
            ));
        }
    }
    problems
}

async fn chaos(seed: u64) {
    let instance = Instance::with(emulator_config()).await;
    let root = tempfile::tempdir().expect("temp dir");
    let mut a = NodeProcess::start_with(
        "a",
        root.path(),
        [
            "--servicenow-url",
            &instance.emu.base_url(),
            "--servicenow-user",
            PROXY,
            "--servicenow-password",
            PROXY_PASSWORD,
            "--servicenow-poll-secs",
            "1",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect(),
    )
    .await;
    let mut b = NodeProcess::start("b", root.path()).await;
    let (api_a, api_b) = (a.api(), b.api());
    api_b.project("ENG").await;
    let (status, body) = api_a
        .json(
            api_a.post("/connections"),
            json!({"to": b.proxy.url, "mode": "script", "local_name": "snow", "remote_name": "eng", "name": "desk"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let code = body["invitation_code"].as_str().expect("code").to_owned();
    let (status, body) = api_b
        .json(api_b.post("/invitations/accept"), json!({"code": code}))
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = api_a
        .json(
            api_a.post("/connections/desk/triggers"),
            json!({"query": "active=true", "note": "every open incident"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");

    // Incidents and items on both sides, all brought under sync.
    let mut expected = 0;
    for n in 0..3 {
        instance
            .try_agent(
                reqwest::Method::POST,
                "/api/now/table/incident",
                Some(json!({"short_description": format!("incident {n}")})),
            )
            .await
            .expect("created");
        expected += 1;
        let item = api_b
            .item(json!({"project": "ENG", "summary": format!("from B {n}")}))
            .await;
        let (status, body) = api_b
            .json(
                api_b.post("/sync/exalate"),
                json!({"connection": "desk", "item": item["key"]}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        expected += 1;
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut linked = pairs(&api_a).await;
    while linked.len() < expected {
        assert!(
            Instant::now() < deadline,
            "only {} of {expected} linked",
            linked.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        linked = pairs(&api_a).await;
    }

    let mut rng = Rng(seed);
    let (mut kills, mut cuts, mut faults, mut edits) = (0, 0, 0, 0);
    // Every edit's own number: comment tokens are unique, so a doubled one is a doubled comment.
    let mut counter = 0usize;
    for n in 0..80usize {
        let roll = rng.below(100);
        if roll < 8 {
            let victim = if rng.below(2) == 0 { &mut a } else { &mut b };
            victim.kill();
            kills += 1;
            for _ in 0..1 + rng.below(3) {
                edits += u32::from(
                    random_edit(&mut rng, &mut counter, &instance, &a, &b, &linked).await,
                );
            }
            tokio::time::sleep(Duration::from_millis(rng.below(1500) as u64)).await;
            if !a.alive() {
                a.spawn();
            }
            if !b.alive() {
                b.spawn();
            }
        } else if roll < 14 {
            a.proxy.set_cut(true);
            b.proxy.set_cut(true);
            cuts += 1;
            for _ in 0..1 + rng.below(4) {
                edits += u32::from(
                    random_edit(&mut rng, &mut counter, &instance, &a, &b, &linked).await,
                );
            }
            tokio::time::sleep(Duration::from_millis(rng.below(1500) as u64)).await;
            a.proxy.set_cut(false);
            b.proxy.set_cut(false);
        } else if roll < 20 {
            // The instance rate-limits and fails the next requests, whoever makes them.
            instance
                .faults(Faults {
                    rate_limited_requests: 1 + rng.below(2) as u32,
                    retry_after_secs: 1,
                    server_error_requests: rng.below(4) as u32,
                    ..Faults::default()
                })
                .await;
            faults += 1;
        } else if roll < 25 {
            if instance
                .try_agent(
                    reqwest::Method::POST,
                    "/api/now/table/incident",
                    Some(json!({"short_description": format!("new incident {n}")})),
                )
                .await
                .is_some()
            {
                expected += 1;
            }
        } else if roll < 35 {
            tokio::time::sleep(Duration::from_millis(rng.below(400) as u64)).await;
        } else {
            edits +=
                u32::from(random_edit(&mut rng, &mut counter, &instance, &a, &b, &linked).await);
        }
        if rng.below(8) == 0 && a.alive() {
            linked = pairs(&api_a).await;
        }
    }
    eprintln!(
        "servicenow seed {seed}: {edits} edits, {kills} kills, {cuts} cuts, {faults} fault bursts, {expected} incidents"
    );

    instance.faults(Faults::default()).await;
    a.proxy.set_cut(false);
    b.proxy.set_cut(false);
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut problems = disagreements(&instance, &api_a, &api_b, expected).await;
    while !problems.is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(500)).await;
        problems = disagreements(&instance, &api_a, &api_b, expected).await;
    }
    assert!(
        problems.is_empty(),
        "servicenow seed {seed}: no agreement:\n{}\nerrors on A: {}\nerrors on B: {}\nA logged:\n{}",
        problems.join("\n"),
        get(&api_a, "/sync/errors").await,
        get(&api_b, "/sync/errors").await,
        std::fs::read_to_string(a.dir.join("node.log")).unwrap_or_default(),
    );
    // Quiet means quiet.
    let deadline = Instant::now() + Duration::from_secs(60);
    while queued(&api_a).await + queued(&api_b).await > 0 {
        assert!(Instant::now() < deadline, "messages stay queued");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let before = (sent(&api_a).await, sent(&api_b).await);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        before,
        (sent(&api_a).await, sent(&api_b).await),
        "servicenow seed {seed}: messages keep flowing after agreement"
    );
    assert!(
        disagreements(&instance, &api_a, &api_b, expected)
            .await
            .is_empty(),
        "still agreeing"
    );
    drop(a);
    drop(b);
    instance.emu.shutdown().await.expect("emulator stops");
}

/// One random edit: in ServiceNow by the agent, or on B; a short description / summary or a
/// comment. Returns whether it was made.
async fn random_edit(
    rng: &mut Rng,
    counter: &mut usize,
    instance: &Instance,
    a: &NodeProcess,
    b: &NodeProcess,
    pairs: &[(String, String)],
) -> bool {
    if pairs.is_empty() {
        return false;
    }
    *counter += 1;
    let n = *counter;
    let (sys_id, key_b) = rng.pick(pairs).clone();
    let in_servicenow = rng.below(2) == 0;
    let comment = rng.below(3) == 0;
    if std::env::var_os("CHAOS_LOG").is_some() {
        eprintln!(
            "op {n}: {} {} on {sys_id} / {key_b} (a alive {}, b alive {})",
            if in_servicenow { "servicenow" } else { "b" },
            if comment { "comment" } else { "summary" },
            a.alive(),
            b.alive()
        );
    }
    if in_servicenow {
        let body = if comment {
            json!({"comments": format!("c{n}")})
        } else {
            json!({"short_description": format!("sn edit {n}")})
        };
        instance
            .try_agent(
                reqwest::Method::PATCH,
                &format!("/api/now/table/incident/{sys_id}"),
                Some(body),
            )
            .await
            .is_some()
    } else {
        if !b.alive() {
            return false;
        }
        let api = b.api();
        let answer = if comment {
            try_json(
                api.post(&format!("/items/{key_b}/comments")),
                json!({"body": format!("c{n}")}),
            )
            .await
        } else {
            try_json(
                api.patch(&format!("/items/{key_b}")),
                json!({"summary": format!("b edit {n}")}),
            )
            .await
        };
        matches!(answer, Some((200 | 201, _)))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servicenow_random_edits_kills_cuts_and_faults_converge_seed_11() {
    let seed = std::env::var("SN_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(11);
    chaos(seed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servicenow_random_edits_kills_cuts_and_faults_converge_seed_42() {
    chaos(42).await;
}
