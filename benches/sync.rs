//! The sync engine's figures for BENCHMARKS.md, measured end to end on two release nodes.
//!
//! `cargo bench --bench sync` starts two `tandem serve` processes (built-in trackers, SQLite,
//! durability `full`, the default) and connects them in Script mode with the default rules,
//! through the API calls the CLI makes. Then:
//!
//! 1. **Bulk Exalate**: `ITEMS` (10,000) items created on A are brought under sync by one Bulk
//!    Exalate; timed from the request until B holds them all, and until every twin is linked
//!    on both sides (B's acknowledgements applied on A).
//! 2. **Latency**: `RATE` (100) summary changes a second on A for `SECONDS` (60), each on
//!    another item; for each, the time from A's commit (the item's `updated` as A's API returns
//!    it) to B's (B's copy's `updated`): p50, p99 and the worst. Both nodes run on this machine,
//!    so the two clocks are one.
//! 3. **Memory**: items are added on A until `TWINS` (100,000) are under sync (a trigger brings
//!    each new one), then each node's resident memory once the queues are empty.
//! 4. **The physical limit**: in the same run, on the same disk, SQLite set up as the node
//!    sets it up (WAL, `synchronous=FULL`, `temp_store=MEMORY`) committing one small transaction per item, one after
//!    another — what a durable queue that commits each item alone could reach.
//!
//! The sizes can be lowered for a quick look: `ITEMS=1000 TWINS=2000 SECONDS=10 cargo bench
//! --bench sync`.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const TOKEN: &str = "bench-token-0123456789abcdef";
const CLIENTS: usize = 16;

fn knob(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Node {
    child: Child,
    url: String,
    api: String,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Node {
    /// Starts `tandem serve` on a free loopback port that is also its public node URL.
    fn start(name: &str, data_dir: &std::path::Path) -> Node {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let url = format!("http://127.0.0.1:{port}");
        let mut child = Command::new(env!("CARGO_BIN_EXE_tandem"))
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--node-url", &url, "--name", name, "--admin-token", TOKEN])
            // Both nodes are on loopback, which a node calls only when told it may.
            .arg("--allow-private-destinations")
            .arg("--data-dir")
            .arg(data_dir)
            .env("TANDEM_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the release binary runs");
        let mut reader = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        reader.read_line(&mut line).expect("the address line");
        assert!(line.starts_with("Tandem node listening on "), "{line}");
        std::thread::spawn(move || for _ in reader.lines() {});
        Node {
            child,
            api: format!("{url}/api/v1"),
            url,
        }
    }

    /// CPU time the process has used so far (user + system), in seconds.
    fn cpu_seconds(&self) -> f64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        // Fields after the command name (which may hold spaces) start after the last ')'.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map_or("", |(_, rest)| rest)
            .split_whitespace()
            .collect();
        let ticks = |i: usize| {
            fields
                .get(i)
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        // utime and stime are fields 14 and 15 of the line (11 and 12 after the name), in
        // clock ticks of 1/100 s on Linux.
        (ticks(11) + ticks(12)) / 100.0
    }

    fn rss_mb(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
            .unwrap_or(0.0)
            / 1024.0
    }
}

#[derive(Clone)]
struct Client(reqwest::Client);

impl Client {
    async fn call(&self, method: reqwest::Method, url: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self.0.request(method, url).bearer_auth(TOKEN);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.expect("the node answers");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    async fn get(&self, url: &str) -> Value {
        let (status, body) = self.call(reqwest::Method::GET, url, None).await;
        assert_eq!(status, 200, "{url}: {body}");
        body
    }

    async fn post(&self, url: &str, body: Value) -> Value {
        let (status, answer) = self.call(reqwest::Method::POST, url, Some(body)).await;
        assert!((200..300).contains(&status), "{url}: {status} {answer}");
        answer
    }
}

/// Creates items `from..to` (`SUP-{from+1}`…) on A from [`CLIENTS`] clients at once.
async fn create_items(client: &Client, api: &str, from: usize, to: usize) {
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(from));
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (client, api, next) = (client.clone(), api.to_owned(), next.clone());
            tokio::spawn(async move {
                loop {
                    let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if n >= to {
                        return;
                    }
                    client
                        .post(
                            &format!("{api}/items"),
                            json!({
                                "project": "SUP",
                                "summary": format!("Bench item {n}"),
                                "description": "Brought under sync by the benchmark.",
                                "priority": "High",
                                "labels": ["sync", "bench"],
                            }),
                        )
                        .await;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("a creating client");
    }
}

/// One figure of the bench connection's statistics on a node.
async fn statistic(client: &Client, api: &str, name: &str) -> u64 {
    client
        .get(&format!("{api}/connections/desk/statistics"))
        .await[name]
        .as_u64()
        .unwrap_or_else(|| panic!("statistics without {name}"))
}

/// Waits until B holds `items` items; returns when that was, and when both queues were
/// empty after it (every acknowledgement applied).
async fn wait_synced(client: &Client, a: &Node, b: &Node, items: u64) -> (Instant, Instant) {
    let deadline = Instant::now() + Duration::from_secs(3600);
    let mut last = (0, Instant::now());
    loop {
        let on_b = statistic(client, &b.api, "twins").await;
        if on_b >= items {
            break;
        }
        if on_b != last.0 {
            last = (on_b, Instant::now());
        }
        assert!(
            Instant::now() < deadline && last.1.elapsed() < Duration::from_secs(120),
            "sync stalled at {on_b} of {items} items on B"
        );
        // Often enough to time the end within a few per cent, seldom enough not to load B.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let on_b = Instant::now();
    loop {
        if statistic(client, &a.api, "queued").await == 0
            && statistic(client, &b.api, "queued").await == 0
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (on_b, Instant::now())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// One small durable transaction per item, as a queue that commits each item alone would.
fn raw_sqlite_commits(dir: &std::path::Path, n: usize) -> f64 {
    let conn = rusqlite::Connection::open(dir.join("raw.db")).expect("open");
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
        .expect("WAL");
    assert_eq!(mode, "wal");
    conn.pragma_update(None, "synchronous", "FULL")
        .expect("FULL");
    conn.pragma_update(None, "temp_store", "MEMORY")
        .expect("temp_store");
    conn.execute_batch(
        "CREATE TABLE outbox (seq INTEGER PRIMARY KEY, twin TEXT NOT NULL, payload TEXT NOT NULL)",
    )
    .expect("table");
    let payload = "x".repeat(200);
    let began = Instant::now();
    for i in 0..n {
        conn.execute_batch("BEGIN IMMEDIATE").expect("begin");
        conn.execute(
            "INSERT INTO outbox (twin, payload) VALUES (?1, ?2)",
            (format!("SUP-{i}"), &payload),
        )
        .expect("insert");
        conn.execute_batch("COMMIT").expect("commit");
    }
    n as f64 / began.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() {
    let items = knob("ITEMS", 10_000);
    let twins = knob("TWINS", 100_000).max(items);
    let seconds = knob("SECONDS", 60);
    let rate = knob("RATE", 100);
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!("tandem sync bench: {cores} cores, release build, durability full");
    println!("items {items}, twins {twins}, {rate} changes/s for {seconds} s\n");

    let root = tempfile::tempdir().expect("temp dir");
    let raw = raw_sqlite_commits(root.path(), 2_000);
    println!("raw SQLite, one transaction per item (as the node sets it up): {raw:.0} commits/s");

    let a = Node::start("a", &root.path().join("a"));
    let b = Node::start("b", &root.path().join("b"));
    let client = Client(
        reqwest::Client::builder()
            .pool_max_idle_per_host(64)
            .build()
            .expect("client"),
    );
    // Wait for both to answer.
    for node in [&a, &b] {
        let deadline = Instant::now() + Duration::from_secs(30);
        while client
            .0
            .get(format!("{}/healthz", node.url))
            .send()
            .await
            .is_err()
        {
            assert!(Instant::now() < deadline, "{} did not start", node.url);
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    client
        .post(
            &format!("{}/projects", a.api),
            json!({"key": "SUP", "name": "Support"}),
        )
        .await;
    client
        .post(
            &format!("{}/projects", b.api),
            json!({"key": "ENG", "name": "Engineering"}),
        )
        .await;
    let invitation = client
        .post(
            &format!("{}/connections", a.api),
            json!({"to": b.url, "mode": "script", "local_name": "sup", "remote_name": "eng", "name": "desk"}),
        )
        .await;
    client
        .post(
            &format!("{}/invitations/accept", b.api),
            json!({"code": invitation["invitation_code"]}),
        )
        .await;

    // 1. Bulk Exalate.
    let began = Instant::now();
    create_items(&client, &a.api, 0, items).await;
    let created = began.elapsed();
    println!(
        "created {items} items on A in {:.1} s ({:.0} items/s, {CLIENTS} clients)",
        created.as_secs_f64(),
        items as f64 / created.as_secs_f64()
    );
    let trigger = client
        .post(
            &format!("{}/connections/desk/triggers", a.api),
            json!({"query": "project = SUP", "note": "benchmark"}),
        )
        .await["trigger"]["id"]
        .as_i64()
        .expect("trigger id");
    let cpu_before = (a.cpu_seconds(), b.cpu_seconds());
    let began = Instant::now();
    client
        .post(
            &format!("{}/sync/bulk", a.api),
            json!({"connection": "desk", "trigger": trigger}),
        )
        .await;
    let (on_b, linked) = wait_synced(&client, &a, &b, items as u64).await;
    let to_b = on_b - began;
    let both = linked - began;
    let bulk_rate = items as f64 / to_b.as_secs_f64();
    println!(
        "Bulk Exalate of {items} items: all on B after {:.2} s = {bulk_rate:.0} items/s; \
         all linked on both sides after {:.2} s = {:.0} items/s",
        to_b.as_secs_f64(),
        both.as_secs_f64(),
        items as f64 / both.as_secs_f64()
    );
    println!(
        "  CPU time used meanwhile: A {:.2} s, B {:.2} s (of {:.2} s × {cores} cores)",
        a.cpu_seconds() - cpu_before.0,
        b.cpu_seconds() - cpu_before.1,
        both.as_secs_f64()
    );
    println!(
        "  ratio to raw one-transaction-per-item commits: {:.2}×",
        bulk_rate / raw
    );
    println!(
        "  resident memory: A {:.1} MB, B {:.1} MB",
        a.rss_mb(),
        b.rss_mb()
    );

    // 2. Change-to-applied latency.
    let changes = rate * seconds;
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut tasks = Vec::with_capacity(changes);
    let began = Instant::now();
    for i in 0..changes {
        tick.tick().await;
        let (client, api) = (client.clone(), a.api.clone());
        let key = format!("SUP-{}", 1 + i % items);
        tasks.push(tokio::spawn(async move {
            let (status, item) = client
                .call(
                    reqwest::Method::PATCH,
                    &format!("{api}/items/{key}"),
                    Some(json!({"summary": format!("Bench change {i}")})),
                )
                .await;
            assert_eq!(status, 200, "{item}");
            (i, item["updated"].as_str().expect("updated").to_owned())
        }));
    }
    let mut committed = vec![String::new(); changes];
    for t in tasks {
        let (i, at) = t.await.expect("a change");
        committed[i] = at;
    }
    let offered = changes as f64 / began.elapsed().as_secs_f64();
    // B's copies, by summary, until the last change of every item has arrived.
    let wanted: Vec<usize> = (changes.saturating_sub(items)..changes).collect();
    let mut applied = std::collections::HashMap::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while wanted.iter().any(|i| !applied.contains_key(i)) && Instant::now() < deadline {
        let mut offset = 0;
        loop {
            let page = client
                .get(&format!(
                    "{}/items?query=project%20%3D%20ENG%20ORDER%20BY%20key%20ASC&limit=1000&offset={offset}",
                    b.api
                ))
                .await;
            let list = page["items"].as_array().expect("items").clone();
            if list.is_empty() {
                break;
            }
            offset += list.len();
            for item in list {
                if let Some(n) = item["summary"]
                    .as_str()
                    .and_then(|s| s.strip_prefix("Bench change "))
                    .and_then(|n| n.parse::<usize>().ok())
                {
                    applied.insert(n, item["updated"].as_str().expect("updated").to_owned());
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut latencies: Vec<f64> = Vec::new();
    let mut missing = 0;
    for &i in &wanted {
        let at_a = &committed[i];
        let Some(at_b) = applied.get(&i) else {
            missing += 1;
            continue;
        };
        let (a_time, b_time): (jiff::Timestamp, jiff::Timestamp) = (
            at_a.parse().expect("A's time"),
            at_b.parse().expect("B's time"),
        );
        latencies.push(b_time.duration_since(a_time).as_secs_f64() * 1000.0);
    }
    assert_eq!(missing, 0, "{missing} changes never reached B");
    latencies.sort_by(f64::total_cmp);
    println!(
        "{changes} changes at {offered:.0}/s: change on A → applied on B p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
        latencies[latencies.len() - 1]
    );

    // 3. Memory with many twins.
    if twins > items {
        let began = Instant::now();
        create_items(&client, &a.api, items, twins).await;
        wait_synced(&client, &a, &b, twins as u64).await;
        let took = began.elapsed();
        tokio::time::sleep(Duration::from_secs(1)).await;
        println!(
            "{} more items created on A and synced by the trigger in {:.1} s ({:.0} items/s)",
            twins - items,
            took.as_secs_f64(),
            (twins - items) as f64 / took.as_secs_f64()
        );
    }
    let twins_a = client
        .get(&format!("{}/connections/desk/statistics", a.api))
        .await["twins"]
        .clone();
    println!(
        "resident memory with {twins_a} twins: A {:.1} MB, B {:.1} MB",
        a.rss_mb(),
        b.rss_mb()
    );
}
