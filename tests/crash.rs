//! Crash safety: nodes killed with SIGKILL in the middle of sync work lose and duplicate nothing.
//!
//! Two `tandem serve` processes (the helpers of `sync_chaos`), connected A → B. A's items are
//! brought under sync in each way an admin or the engine does it — Bulk Exalate, Exalate one by
//! one, a trigger, Sync again — and a node is killed at a random point of it (the sender, and in
//! one test the receiver), then started again on the same data directory. What an admin does
//! afterwards is only what any client does after a call that got no answer: the same call again
//! (a Bulk Exalate needs not even that: the node takes it up again). Then, within a deadline:
//! every item of A is on B exactly once, each twin is linked both ways, no message waits in
//! either queue, no request is left open and no sync error is left on either side.
//!
//! The state is read from each node's database (read-only, beside the running node): one query
//! answers what would take thousands of API calls. Seeds are fixed and logged; `CRASH_SEEDS=5,6`
//! runs those seeds instead in every test of this module.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rusqlite::{OpenFlags, params};
use serde_json::{Value, json};

use crate::common::Api;
use crate::sync_chaos::{NodeProcess, Rng, try_json};

/// How long the two nodes may take to agree after the last restart (a busy CI machine).
const SETTLE: Duration = Duration::from_secs(90);

/// The seeds to run: `CRASH_SEEDS` (comma-separated) when set, else the test's own.
fn seeds(own: &[u64]) -> Vec<u64> {
    match std::env::var("CRASH_SEEDS") {
        Ok(list) => list
            .split(',')
            .filter_map(|s| s.trim().parse().ok())
            .collect(),
        Err(_) => own.to_vec(),
    }
}

/// Two connected nodes: A (project SUP) and B (project ENG, where A's items arrive), with a
/// connection `desk` between them.
struct Pair {
    a: NodeProcess,
    b: NodeProcess,
    _root: tempfile::TempDir,
}

async fn pair() -> Pair {
    let root = tempfile::tempdir().unwrap();
    let a = NodeProcess::start("a", root.path()).await;
    let b = NodeProcess::start("b", root.path()).await;
    connect_desk(&a, &b).await;
    Pair { a, b, _root: root }
}

/// Gives A project SUP and B project ENG and connects them with `desk` (A initiates).
pub(crate) async fn connect_desk(a: &NodeProcess, b: &NodeProcess) {
    let (api_a, api_b) = (a.api(), b.api());
    api_a.project("SUP").await;
    api_b.project("ENG").await;
    let (status, body) = api_a
        .json(
            api_a.post("/connections"),
            json!({"to": b.proxy.url, "mode": "script", "local_name": "sup", "remote_name": "eng", "name": "desk"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let code = body["invitation_code"].as_str().unwrap().to_owned();
    let (status, body) = api_b
        .json(api_b.post("/invitations/accept"), json!({"code": code}))
        .await;
    assert_eq!(status, 201, "{body}");
}

fn summary(seed: u64, n: usize) -> String {
    format!("crash {seed} item {n}")
}

/// Creates A's items `0..count` (a few at a time); returns their keys in order.
async fn create_items(api: &Api, seed: u64, count: usize) -> Vec<String> {
    let mut keys = vec![String::new(); count];
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..count {
        while tasks.len() >= 8 {
            let (n, key) = tasks.join_next().await.unwrap().unwrap();
            keys[n] = key;
        }
        let api = api.clone();
        tasks.spawn(async move {
            let item = api
                .item(json!({"project": "SUP", "summary": summary(seed, n)}))
                .await;
            (n, item["key"].as_str().unwrap().to_owned())
        });
    }
    while let Some(done) = tasks.join_next().await {
        let (n, key) = done.unwrap();
        keys[n] = key;
    }
    keys
}

/// A trigger on all of A's items; an inactive one only serves Bulk Exalate.
pub(crate) async fn trigger(api: &Api, active: bool) -> i64 {
    let (status, body) = api
        .json(
            api.post("/connections/desk/triggers"),
            json!({"query": "project = SUP", "active": active}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body["trigger"]["id"].as_i64().unwrap()
}

async fn start_bulk(api: &Api, trigger: i64) -> u64 {
    let (status, body) = api
        .json(
            api.post("/sync/bulk"),
            json!({"connection": "desk", "trigger": trigger}),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    body["job"].as_u64().unwrap()
}

/// The bulk job's progress: (items gone through, finished). `None` when A does not answer.
async fn bulk_progress(api: &Api, job: u64) -> Option<(u64, bool)> {
    let resp = api.get(&format!("/sync/bulk/{job}")).send().await.ok()?;
    let body: Value = resp.json().await.ok()?;
    assert!(body["error"].is_null(), "the bulk job failed: {body}");
    Some((body["done"].as_u64()?, body["finished"].as_bool()?))
}

async fn wait_bulk_finished(api: &Api, job: u64) {
    let deadline = Instant::now() + SETTLE;
    while bulk_progress(api, job).await.map(|(_, finished)| finished) != Some(true) {
        assert!(Instant::now() < deadline, "bulk job {job} did not finish");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Polls `done` every few milliseconds until it holds or `deadline` passes; returns whether
/// it held.
pub(crate) async fn wait_until(deadline: Duration, mut done: impl AsyncFnMut() -> bool) -> bool {
    let until = Instant::now() + deadline;
    loop {
        if done().await {
            return true;
        }
        if Instant::now() >= until {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

// --- the nodes' databases -----------------------------------------------------------------------

fn database(node: &NodeProcess) -> PathBuf {
    node.dir.join("data").join("tandem.db")
}

/// A read-only look at a node's database (beside the running node, or after it was killed).
fn read(node: &NodeProcess) -> rusqlite::Connection {
    let db = rusqlite::Connection::open_with_flags(
        database(node),
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .unwrap();
    db.busy_timeout(Duration::from_secs(10)).unwrap();
    db
}

fn pairs(db: &rusqlite::Connection, sql: &str) -> Vec<(String, Option<String>)> {
    let mut stmt = db.prepare(sql).unwrap();
    stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

fn count(db: &rusqlite::Connection, sql: &str) -> i64 {
    db.query_row(sql, [], |row| row.get(0)).unwrap()
}

/// Twins active with nothing sent, no remote item and so nothing that would ever send them:
/// what a crash between recording a twin and queuing its replica left (before the fix).
fn stranded(node: &NodeProcess) -> i64 {
    count(
        &read(node),
        "SELECT count(*) FROM twins \
         WHERE state = 'active' AND remote_key IS NULL AND last_sent IS NULL",
    )
}

/// The item summaries of A's project SUP.
fn summaries_on_a(a: &NodeProcess) -> Vec<String> {
    pairs(
        &read(a),
        "SELECT summary, NULL FROM items WHERE project = 'SUP'",
    )
    .into_iter()
    .map(|(s, _)| s)
    .collect()
}

/// What keeps the two nodes from the end state: every one of A's `expected` items on B exactly
/// once, linked both ways, queues empty, no request open, no sync error open. Empty once it
/// holds.
fn problems(a: &NodeProcess, b: &NodeProcess, expected: usize) -> Vec<String> {
    let (da, db) = (read(a), read(b));
    let items_sql = "SELECT project || '-' || number, summary FROM items";
    let twins_sql = "SELECT project || '-' || number, \
         coalesce(remote_key, '') || ' ' || state FROM twins";
    let items_a: BTreeMap<String, String> = pairs(&da, items_sql)
        .into_iter()
        .map(|(k, s)| (k, s.unwrap()))
        .collect();
    let items_b: BTreeMap<String, String> = pairs(&db, items_sql)
        .into_iter()
        .map(|(k, s)| (k, s.unwrap()))
        .collect();
    let twin = |(k, v): (String, Option<String>)| {
        let v = v.unwrap();
        let (remote, state) = v.rsplit_once(' ').unwrap();
        (k, (remote.to_owned(), state.to_owned()))
    };
    let twins_a: BTreeMap<String, (String, String)> =
        pairs(&da, twins_sql).into_iter().map(twin).collect();
    let twins_b: BTreeMap<String, (String, String)> =
        pairs(&db, twins_sql).into_iter().map(twin).collect();

    let mut problems = Vec::new();
    if items_a.len() != expected || items_b.len() != expected {
        problems.push(format!(
            "A has {} items and B {}, expected {expected} each",
            items_a.len(),
            items_b.len()
        ));
    }
    let mut on_b: BTreeMap<&str, usize> = BTreeMap::new();
    for summary in items_b.values() {
        *on_b.entry(summary).or_default() += 1;
    }
    for (key, summary) in &items_a {
        match on_b.get(summary.as_str()) {
            Some(1) => {}
            Some(n) => problems.push(format!("{key} ({summary}) is on B {n} times")),
            None => problems.push(format!("{key} ({summary}) is not on B")),
        }
        let Some((remote, state)) = twins_a.get(key) else {
            problems.push(format!("{key} has no twin on A"));
            continue;
        };
        if state != "active" || remote.is_empty() {
            problems.push(format!("A's twin of {key} is {state}, remote '{remote}'"));
            continue;
        }
        match twins_b.get(remote) {
            Some((back, state)) if back == key && state == "active" => {}
            other => problems.push(format!(
                "B's twin of {remote} does not link back to {key}: {other:?}"
            )),
        }
        if items_b.get(remote) != Some(summary) {
            problems.push(format!(
                "{key} ({summary}) is linked to {remote}, which is {:?}",
                items_b.get(remote)
            ));
        }
    }
    for (name, db) in [("A", &da), ("B", &db)] {
        let queued = count(db, "SELECT count(*) FROM connection_outbox");
        if queued > 0 {
            problems.push(format!("{queued} messages wait in {name}'s queue"));
        }
        let open = count(
            db,
            "SELECT count(*) FROM sync_requests WHERE state <> 'applied'",
        );
        if open > 0 {
            problems.push(format!("{open} requests are open on {name}"));
        }
        for (message, _) in pairs(
            db,
            "SELECT message, NULL FROM sync_errors WHERE resolved IS NULL",
        ) {
            problems.push(format!("{name} has a sync error: {message}"));
        }
    }
    problems
}

/// Waits until [`problems`] finds none; fails with what is left, the seed and the nodes' logs.
async fn settle(pair: &Pair, expected: usize, seed: u64) {
    let deadline = Instant::now() + SETTLE;
    let mut left = problems(&pair.a, &pair.b, expected);
    while !left.is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(250)).await;
        left = problems(&pair.a, &pair.b, expected);
    }
    let log = |node: &NodeProcess| {
        std::fs::read_to_string(node.dir.join("node.log"))
            .unwrap_or_default()
            .lines()
            .rev()
            .take(30)
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(
        left.is_empty(),
        "seed {seed}: {} problems left after {}s ({} of A's twins active with nothing sent and \
         no remote item), the first ones:\n{}\nA logged (last lines first):\n{}\nB logged:\n{}",
        left.len(),
        SETTLE.as_secs(),
        stranded(&pair.a),
        left.iter().take(20).cloned().collect::<Vec<_>>().join("\n"),
        log(&pair.a),
        log(&pair.b),
    );
}

// --- the scenarios ------------------------------------------------------------------------------

/// Bulk Exalate on A, A killed once a random number of items has gone through; started again,
/// A takes the job up again by itself.
async fn bulk_exalate_with_the_sender_killed(seed: u64) {
    const ITEMS: usize = 300;
    let mut rng = Rng(seed);
    let mut pair = pair().await;
    let api_a = pair.a.api();
    create_items(&api_a, seed, ITEMS).await;
    let trigger = trigger(&api_a, false).await;
    let job = start_bulk(&api_a, trigger).await;
    let kill_at = 1 + rng.below(ITEMS - 1) as u64;
    let mut seen = (0, false);
    assert!(
        wait_until(SETTLE, async || {
            seen = bulk_progress(&api_a, job).await.unwrap_or(seen);
            seen.0 >= kill_at || seen.1
        })
        .await,
        "seed {seed}: the bulk job did not get to {kill_at} items"
    );
    pair.a.kill();
    eprintln!(
        "seed {seed}: A killed with {} of {ITEMS} items gone through (aimed at {kill_at}){}; \
         {} of A's twins active with nothing sent and no remote item",
        seen.0,
        if seen.1 { ", the job finished" } else { "" },
        stranded(&pair.a)
    );
    pair.a.spawn();
    settle(&pair, ITEMS, seed).await;
}

/// Bulk Exalate on A, B killed once a random number of items has arrived, and started again.
async fn bulk_exalate_with_the_receiver_killed(seed: u64) {
    const ITEMS: usize = 300;
    let mut rng = Rng(seed);
    let mut pair = pair().await;
    let api_a = pair.a.api();
    create_items(&api_a, seed, ITEMS).await;
    let trigger = trigger(&api_a, false).await;
    let job = start_bulk(&api_a, trigger).await;
    // In the first three quarters, so that much is still on its way.
    let kill_at = 1 + rng.below(ITEMS * 3 / 4) as i64;
    let b = &pair.b;
    let arrived = |b: &NodeProcess| count(&read(b), "SELECT count(*) FROM items");
    assert!(
        wait_until(SETTLE, async || arrived(b) >= kill_at).await,
        "seed {seed}: B did not get {kill_at} items"
    );
    pair.b.kill();
    eprintln!(
        "seed {seed}: B killed with {} of {ITEMS} items arrived (aimed at {kill_at})",
        arrived(&pair.b)
    );
    pair.b.spawn();
    wait_bulk_finished(&api_a, job).await;
    settle(&pair, ITEMS, seed).await;
}

/// Exalate item by item (as a script over the API does), A killed a random moment into one of
/// the calls; started again, the calls that got no answer are made again.
async fn exalate_loop_with_the_sender_killed(seed: u64) {
    const ITEMS: usize = 40;
    let mut rng = Rng(seed);
    let mut pair = pair().await;
    let api_a = pair.a.api();
    let keys = create_items(&api_a, seed, ITEMS).await;
    let answered = Arc::new(AtomicUsize::new(0));
    let calls = {
        let (api, keys, answered) = (api_a.clone(), keys.clone(), answered.clone());
        tokio::spawn(async move {
            for key in &keys {
                let body = json!({"connection": "desk", "item": key});
                match try_json(api.post("/sync/exalate"), body).await {
                    Some((200, _)) => answered.fetch_add(1, Ordering::SeqCst),
                    Some((status, body)) => panic!("exalate {key}: {status} {body}"),
                    None => return,
                };
            }
        })
    };
    let kill_at = rng.below(ITEMS);
    assert!(
        wait_until(SETTLE, async || answered.load(Ordering::SeqCst) >= kill_at).await,
        "seed {seed}: the exalates did not get to {kill_at}"
    );
    tokio::time::sleep(Duration::from_micros(rng.below(5_000) as u64)).await;
    pair.a.kill();
    calls.await.unwrap();
    let done = answered.load(Ordering::SeqCst);
    eprintln!(
        "seed {seed}: A killed after {done} of {ITEMS} exalates answered; {} of A's twins active \
         with nothing sent and no remote item",
        stranded(&pair.a)
    );
    pair.a.spawn();
    for key in &keys[done..] {
        let (status, body) = api_a
            .json(
                api_a.post("/sync/exalate"),
                json!({"connection": "desk", "item": key}),
            )
            .await;
        assert_eq!(status, 200, "seed {seed}: exalate {key} again: {body}");
    }
    settle(&pair, ITEMS, seed).await;
}

/// An active trigger on A brings each new item under sync; items are created one by one and
/// A is killed a random moment into it. Started again, the items whose creation got no answer
/// and that A does not have are created again.
async fn trigger_with_the_sender_killed(seed: u64) {
    const ITEMS: usize = 80;
    let mut rng = Rng(seed);
    let mut pair = pair().await;
    let api_a = pair.a.api();
    trigger(&api_a, true).await;
    let answered = Arc::new(AtomicUsize::new(0));
    let creates = {
        let (api, answered) = (api_a.clone(), answered.clone());
        tokio::spawn(async move {
            for n in 0..ITEMS {
                let body = json!({"project": "SUP", "summary": summary(seed, n)});
                match try_json(api.post("/items"), body).await {
                    Some((201, _)) => answered.fetch_add(1, Ordering::SeqCst),
                    Some((status, body)) => panic!("create item {n}: {status} {body}"),
                    None => return,
                };
            }
        })
    };
    let kill_at = rng.below(ITEMS);
    assert!(
        wait_until(SETTLE, async || answered.load(Ordering::SeqCst) >= kill_at).await,
        "seed {seed}: the creates did not get to {kill_at}"
    );
    tokio::time::sleep(Duration::from_micros(rng.below(5_000) as u64)).await;
    pair.a.kill();
    creates.await.unwrap();
    eprintln!(
        "seed {seed}: A killed after {} of {ITEMS} items created; {} of A's twins active with \
         nothing sent and no remote item",
        answered.load(Ordering::SeqCst),
        stranded(&pair.a)
    );
    pair.a.spawn();
    let there = summaries_on_a(&pair.a);
    for n in 0..ITEMS {
        if !there.contains(&summary(seed, n)) {
            api_a
                .item(json!({"project": "SUP", "summary": summary(seed, n)}))
                .await;
        }
    }
    settle(&pair, ITEMS, seed).await;
}

/// Every item in sync, then Sync again of the whole connection, A killed once a random number
/// of replicas is queued; started again, the Sync again that got no answer is made again.
async fn sync_again_with_the_sender_killed(seed: u64) {
    const ITEMS: usize = 150;
    let mut rng = Rng(seed);
    let mut pair = pair().await;
    let api_a = pair.a.api();
    create_items(&api_a, seed, ITEMS).await;
    let trigger = trigger(&api_a, false).await;
    let job = start_bulk(&api_a, trigger).await;
    wait_bulk_finished(&api_a, job).await;
    settle(&pair, ITEMS, seed).await;

    let queued_so_far =
        |a: &NodeProcess| count(&read(a), "SELECT last_outbound_seq FROM connections");
    let before = queued_so_far(&pair.a);
    let again = {
        let api = api_a.clone();
        tokio::spawn(async move {
            try_json(api.post("/sync/again"), json!({"connection": "desk"})).await
        })
    };
    let kill_at = before + 1 + rng.below(ITEMS - 1) as i64;
    let a = &pair.a;
    assert!(
        wait_until(SETTLE, async || queued_so_far(a) >= kill_at
            || again.is_finished())
        .await,
        "seed {seed}: Sync again did not get to {kill_at}"
    );
    pair.a.kill();
    let answer = again.await.unwrap();
    eprintln!(
        "seed {seed}: A killed with {} of {ITEMS} replicas queued by Sync again{}",
        queued_so_far(&pair.a) - before,
        if answer.is_some() {
            " (it had answered)"
        } else {
            ""
        }
    );
    pair.a.spawn();
    if answer.is_none() {
        let (status, body) = api_a
            .json(api_a.post("/sync/again"), json!({"connection": "desk"}))
            .await;
        assert_eq!(status, 200, "seed {seed}: Sync again: {body}");
    }
    settle(&pair, ITEMS, seed).await;
}

// --- the tests ----------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_exalate_killed_midway_loses_no_item() {
    for seed in seeds(&[11, 12, 13, 14]) {
        bulk_exalate_with_the_sender_killed(seed).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receiver_killed_mid_stream_loses_no_item() {
    for seed in seeds(&[21, 23, 24]) {
        bulk_exalate_with_the_receiver_killed(seed).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exalate_one_by_one_killed_midway_loses_no_item() {
    for seed in seeds(&[31, 32, 33]) {
        exalate_loop_with_the_sender_killed(seed).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trigger_sync_killed_midway_loses_no_item() {
    for seed in seeds(&[41, 42, 43]) {
        trigger_with_the_sender_killed(seed).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_again_killed_midway_loses_no_item() {
    for seed in seeds(&[51, 52, 53]) {
        sync_again_with_the_sender_killed(seed).await;
    }
}

/// A database an older version left with a twin active, nothing sent, nothing queued and no
/// remote item (a crash between its two writes): the node sends it when it starts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stranded_twin_left_by_an_older_version_is_sent_when_the_node_starts() {
    const ITEMS: usize = 3;
    let mut pair = pair().await;
    let api_a = pair.a.api();
    let keys = create_items(&api_a, 0, ITEMS).await;
    let (status, body) = api_a
        .json(
            api_a.post("/sync/exalate"),
            json!({"connection": "desk", "item": keys[0]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    pair.a.kill();
    {
        let db = rusqlite::Connection::open(database(&pair.a)).unwrap();
        let connection: String = db
            .query_row("SELECT id FROM connections WHERE name = 'desk'", [], |r| {
                r.get(0)
            })
            .unwrap();
        let now = jiff::Timestamp::now().as_millisecond();
        for key in &keys[1..] {
            let number: i64 = key.trim_start_matches("SUP-").parse().unwrap();
            db.execute(
                "INSERT INTO twins (connection_id, project, number, remote_key, state, \
                 last_sent, last_received, created, last_sync) \
                 VALUES (?1, 'SUP', ?2, NULL, 'active', NULL, NULL, ?3, NULL)",
                params![connection, number, now],
            )
            .unwrap();
        }
    }
    assert_eq!(stranded(&pair.a), (ITEMS - 1) as i64);
    pair.a.spawn();
    settle(&pair, ITEMS, 0).await;
}
