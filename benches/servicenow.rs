//! The ServiceNow connector's figures for BENCHMARKS.md, measured end to end with release
//! processes: `tandem emulate servicenow` (the instance), node A on it and node B on the
//! built-in tracker, connected in Script mode with the default rules.
//!
//! 1. **Initial sync**: `INCIDENTS` (5,000) incidents exist in the instance before A starts.
//!    Timed: A's first pull of them into its mirror (from A's start), then a Bulk Exalate of
//!    a trigger `active=true` until B holds them all with both queues empty. Counted: the HTTP
//!    requests A made to the instance, per incident.
//! 2. **Latency, ServiceNow → B**: right after the initial sync, with the default poll
//!    interval (10 s), `CHANGES` (60) incidents' short descriptions are changed in the
//!    instance, one every 500 ms; for each, the time from the change (the instance's answer)
//!    to B's commit of its copy: p50, p99, worst. `SHOW=1` prints each.
//!    Then the same again with push: the business rule node A gives its admin
//!    (`GET /api/v1/servicenow/push`), played by the emulator, tells A of each change.
//! 3. **Latency, B → ServiceNow**: the same number of summary changes on B; for each, the time
//!    until the instance's record shows it.
//! 4. **Built-in → new incidents**: `BACK` (1,000) items created on B and brought under sync
//!    by a Bulk Exalate there; timed until the instance holds them all, with A's requests per
//!    incident.
//!
//! A quicker look: `INCIDENTS=500 CHANGES=10 BACK=200 cargo bench --bench servicenow`.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const TOKEN: &str = "bench-token-0123456789abcdef";
const PROXY: &str = "tandem.proxy";
const PROXY_PASSWORD: &str = "bench-proxy-password";
const CLIENTS: usize = 16;

fn knob(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Starts the `tandem` binary and waits for its first line on stdout.
fn spawn(args: &[String], first_line: &str) -> Process {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tandem"))
        .args(args)
        .env("TANDEM_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the release binary runs");
    let mut reader = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    reader.read_line(&mut line).expect("the first line");
    assert!(line.starts_with(first_line), "{line}");
    std::thread::spawn(move || for _ in reader.lines() {});
    Process(child)
}

/// `tandem serve` on a free port; `extra` adds flags. Returns the process and its URL.
fn node(name: &str, dir: &std::path::Path, extra: &[String]) -> (Process, String) {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let mut args: Vec<String> = [
        "serve",
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--node-url",
        &url,
        "--name",
        name,
        "--admin-token",
        TOKEN,
        // Both nodes and the instance are on loopback, which a node calls only when told it may.
        "--allow-private-destinations",
        "--data-dir",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    args.push(dir.display().to_string());
    args.extend(extra.iter().cloned());
    (spawn(&args, "Tandem node listening on "), url)
}

#[derive(Clone)]
struct Http(reqwest::Client);

impl Http {
    async fn call(
        &self,
        method: reqwest::Method,
        url: &str,
        body: Option<Value>,
        basic: bool,
    ) -> (u16, Value) {
        let mut req = self.0.request(method, url);
        req = if basic {
            req.basic_auth(PROXY, Some(PROXY_PASSWORD))
        } else {
            req.bearer_auth(TOKEN)
        };
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.expect("an answer");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    async fn node(&self, method: reqwest::Method, url: &str, body: Option<Value>) -> Value {
        let (status, answer) = self.call(method, url, body, false).await;
        assert!((200..300).contains(&status), "{url}: {status} {answer}");
        answer
    }

    async fn instance(&self, method: reqwest::Method, url: &str, body: Option<Value>) -> Value {
        let (status, answer) = self.call(method, url, body, true).await;
        assert!((200..300).contains(&status), "{url}: {status} {answer}");
        answer
    }
}

/// Items in a project on a node.
async fn count(http: &Http, api: &str, project: &str) -> u64 {
    http.node(
        reqwest::Method::GET,
        &format!("{api}/items?query=project%20%3D%20{project}&limit=1"),
        None,
    )
    .await["total"]
        .as_u64()
        .unwrap_or(0)
}

async fn statistic(http: &Http, api: &str, name: &str) -> u64 {
    http.node(
        reqwest::Method::GET,
        &format!("{api}/connections/bench/statistics"),
        None,
    )
    .await[name]
        .as_u64()
        .unwrap_or(0)
}

async fn wait_until<F, Fut>(what: &str, limit: Duration, check: F) -> Instant
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    loop {
        if check().await {
            return Instant::now();
        }
        assert!(Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn report(what: &str, mut latencies: Vec<f64>) {
    if std::env::var_os("SHOW").is_some() {
        let each: Vec<u64> = latencies.iter().map(|l| *l as u64).collect();
        println!("{what}, in order: {each:?}");
    }
    latencies.sort_by(f64::total_cmp);
    println!(
        "{what}: p50 {:.0} ms, p99 {:.0} ms, worst {:.0} ms over {} changes",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or(0.0),
        latencies.len()
    );
}

/// Changes each row's short description in the instance, one every 500 ms, and times each
/// from the instance's answer to B's commit of its copy (B's `updated`; all processes run on
/// this machine, so the clocks are one), in milliseconds.
async fn servicenow_to_b(
    http: &Http,
    instance: &str,
    b: &str,
    rows: &[(String, String)],
    label: &str,
) -> Vec<f64> {
    let mut pending = Vec::new();
    for (i, (sys_id, _)) in rows.iter().enumerate() {
        // Zero-padded and closed, so no text contains another (the search is by substring).
        let text = format!("{label} [{i:04}]");
        http.instance(
            reqwest::Method::PATCH,
            &format!("{instance}/api/now/table/incident/{sys_id}"),
            Some(json!({"short_description": text})),
        )
        .await;
        pending.push((jiff::Timestamp::now(), text));
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let mut latencies = Vec::new();
    for (at, text) in &pending {
        let q = format!(
            "summary%20~%20%22{}%22",
            text.replace(' ', "%20")
                .replace('[', "%5B")
                .replace(']', "%5D")
        );
        let url = format!("{b}/items?query={q}&limit=1");
        wait_until("B shows the change", Duration::from_secs(120), || async {
            http.node(reqwest::Method::GET, &url, None).await["total"]
                .as_u64()
                .unwrap_or(0)
                > 0
        })
        .await;
        let item = http.node(reqwest::Method::GET, &url, None).await["items"][0].clone();
        let updated: jiff::Timestamp = item["updated"]
            .as_str()
            .and_then(|t| t.parse().ok())
            .expect("B's item has an update time");
        latencies.push(updated.duration_since(*at).as_secs_f64() * 1000.0);
    }
    latencies
}

#[tokio::main]
async fn main() {
    let incidents = knob("INCIDENTS", 5000);
    let changes = knob("CHANGES", 60);
    let dir = tempfile::tempdir().expect("temp dir");
    let http = Http(reqwest::Client::new());

    let sn_port = free_port();
    let instance = format!("http://127.0.0.1:{sn_port}");
    let _emulator = spawn(
        &[
            "emulate".into(),
            "servicenow".into(),
            "--listen".into(),
            format!("127.0.0.1:{sn_port}"),
            "--user".into(),
            PROXY.into(),
            "--password".into(),
            PROXY_PASSWORD.into(),
        ],
        "ServiceNow emulator",
    );
    // The incidents exist before the node first looks.
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (http, instance, next) = (http.clone(), instance.clone(), next.clone());
            tokio::spawn(async move {
                loop {
                    let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if n >= incidents {
                        return;
                    }
                    http.instance(
                        reqwest::Method::POST,
                        &format!("{instance}/api/now/table/incident"),
                        Some(json!({
                            "short_description": format!("Bench incident {n}"),
                            "description": "Synced by the benchmark.",
                            "urgency": "2", "impact": "2", "category": "network",
                            "comments": format!("Opened by the bench ({n})"),
                        })),
                    )
                    .await;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("a creating client");
    }
    println!("{incidents} incidents in the emulated instance.");

    let started = Instant::now();
    let (_a, a_url) = node(
        "ServiceNow side",
        &dir.path().join("a"),
        &[
            "--servicenow-url".into(),
            instance.clone(),
            "--servicenow-user".into(),
            PROXY.into(),
            "--servicenow-password".into(),
            PROXY_PASSWORD.into(),
        ],
    );
    let (_b, b_url) = node("Built-in side", &dir.path().join("b"), &[]);
    let (a, b) = (format!("{a_url}/api/v1"), format!("{b_url}/api/v1"));
    http.node(
        reqwest::Method::POST,
        &format!("{b}/projects"),
        Some(json!({"key": "ENG", "name": "Engineering"})),
    )
    .await;
    let mirrored = wait_until(
        "A mirrors the incidents",
        Duration::from_secs(600),
        || async { count(&http, &a, "INC").await >= incidents as u64 },
    )
    .await;
    let mirror_secs = (mirrored - started).as_secs_f64();
    // The first poll ends after the mirror is complete (it also looks for attachments).
    let node_info = format!("{a}/node");
    wait_until("A's first poll ends", Duration::from_secs(600), || async {
        !http.node(reqwest::Method::GET, &node_info, None).await["servicenow"]["last_poll"]
            .is_null()
    })
    .await;
    let pull_requests =
        http.node(reqwest::Method::GET, &node_info, None).await["servicenow"]["requests"]
            .as_u64()
            .unwrap_or(0);

    let code = http
        .node(
            reqwest::Method::POST,
            &format!("{a}/connections"),
            Some(json!({"to": b_url, "mode": "script", "local_name": "snow", "remote_name": "eng", "name": "bench"})),
        )
        .await["invitation_code"]
        .as_str()
        .expect("code")
        .to_owned();
    http.node(
        reqwest::Method::POST,
        &format!("{b}/invitations/accept"),
        Some(json!({"code": code})),
    )
    .await;
    let trigger = http
        .node(
            reqwest::Method::POST,
            &format!("{a}/connections/bench/triggers"),
            Some(json!({"query": "active=true", "active": false, "note": "bench"})),
        )
        .await["trigger"]["id"]
        .as_i64()
        .expect("trigger");
    let bulk_started = Instant::now();
    http.node(
        reqwest::Method::POST,
        &format!("{a}/sync/bulk"),
        Some(json!({"connection": "bench", "trigger": trigger})),
    )
    .await;
    let on_b = wait_until(
        "B holds every incident",
        Duration::from_secs(1800),
        || async { statistic(&http, &b, "twins").await >= incidents as u64 },
    )
    .await;
    wait_until(
        "both queues are empty",
        Duration::from_secs(600),
        || async {
            statistic(&http, &a, "queued").await == 0 && statistic(&http, &b, "queued").await == 0
        },
    )
    .await;
    let bulk_secs = (on_b - bulk_started).as_secs_f64();
    let after_bulk = http
        .node(reqwest::Method::GET, &format!("{a}/node"), None)
        .await["servicenow"]["requests"]
        .as_u64()
        .unwrap_or(0);
    println!(
        "Initial sync of {incidents} incidents: mirrored by A in {mirror_secs:.1} s ({:.0} incidents/s, {} requests to the instance, {:.3} per incident); Bulk Exalate to B in {bulk_secs:.1} s ({:.0} incidents/s); end to end {:.1} s ({:.0} incidents/s); requests during the Bulk Exalate: {}",
        incidents as f64 / mirror_secs,
        pull_requests,
        pull_requests as f64 / incidents as f64,
        incidents as f64 / bulk_secs,
        mirror_secs + bulk_secs,
        incidents as f64 / (mirror_secs + bulk_secs),
        after_bulk - pull_requests,
    );

    // ServiceNow → B, with the default poll interval.
    let list = http
        .instance(
            reqwest::Method::GET,
            &format!("{instance}/api/now/table/incident?sysparm_fields=sys_id,number&sysparm_limit={changes}&sysparm_query=ORDERBYnumber"),
            None,
        )
        .await;
    let rows: Vec<(String, String)> = list["result"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            (
                r["sys_id"].as_str().unwrap_or_default().to_owned(),
                r["number"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let latencies = servicenow_to_b(&http, &instance, &b, &rows, "Changed in ServiceNow").await;
    report("ServiceNow → B (poll interval 10 s, default)", latencies);

    // The same with push: the business rule A gives its admin, played by the emulator.
    let push = http
        .node(reqwest::Method::GET, &format!("{a}/servicenow/push"), None)
        .await;
    http.instance(
        reqwest::Method::POST,
        &format!("{instance}/__emulator/push"),
        // The bench changes the instance as the proxy user (the emulator has that one user),
        // so the rule leaves nobody out; the node's own writes then call too, adding polls.
        Some(json!({"url": push["url"], "secret": push["secret"], "skip_user": null})),
    )
    .await;
    let latencies = servicenow_to_b(&http, &instance, &b, &rows, "Pushed from ServiceNow").await;
    report("ServiceNow → B with push (poll interval 10 s)", latencies);

    // B → ServiceNow: B's items are ENG-1… in the order they were created.
    let mut latencies = Vec::new();
    for i in 1..=changes.min(incidents) {
        let text = format!("Changed on B {i}");
        http.node(
            reqwest::Method::PATCH,
            &format!("{b}/items/ENG-{i}"),
            Some(json!({"summary": text})),
        )
        .await;
        let at = Instant::now();
        let q = format!("short_description={}", text.replace(' ', "%20"));
        let seen = wait_until(
            "the instance shows B's change",
            Duration::from_secs(60),
            || async {
                http.instance(
                    reqwest::Method::GET,
                    &format!(
                        "{instance}/api/now/table/incident?sysparm_query={q}&sysparm_fields=sys_id"
                    ),
                    None,
                )
                .await["result"]
                    .as_array()
                    .is_some_and(|r| !r.is_empty())
            },
        )
        .await;
        latencies.push((seen - at).as_secs_f64() * 1000.0);
    }
    report("B → ServiceNow", latencies);

    // Built-in → ServiceNow in bulk: items created on B become incidents.
    let back = knob("BACK", 1000);
    let created_on_b = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (http, b, next) = (http.clone(), b.clone(), created_on_b.clone());
            tokio::spawn(async move {
                loop {
                    let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if n >= back {
                        return;
                    }
                    http.node(
                        reqwest::Method::POST,
                        &format!("{b}/items"),
                        Some(json!({"project": "ENG", "summary": format!("Back item {n:05}"), "labels": ["back"], "priority": "High"})),
                    )
                    .await;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("a creating client");
    }
    let before_back =
        http.node(reqwest::Method::GET, &node_info, None).await["servicenow"]["requests"]
            .as_u64()
            .unwrap_or(0);
    let trigger = http
        .node(
            reqwest::Method::POST,
            &format!("{b}/connections/bench/triggers"),
            Some(json!({"query": "project = ENG AND labels = back", "active": false, "note": "bench"})),
        )
        .await["trigger"]["id"]
        .as_i64()
        .expect("trigger");
    let back_started = Instant::now();
    http.node(
        reqwest::Method::POST,
        &format!("{b}/sync/bulk"),
        Some(json!({"connection": "bench", "trigger": trigger})),
    )
    .await;
    let count_url = format!(
        "{instance}/api/now/table/incident?sysparm_query=short_descriptionSTARTSWITHBack%20item&sysparm_fields=sys_id&sysparm_limit=1"
    );
    let in_instance = wait_until(
        "the instance holds B's items",
        Duration::from_secs(1800),
        || async {
            let resp = http
                .0
                .get(&count_url)
                .basic_auth(PROXY, Some(PROXY_PASSWORD))
                .send()
                .await
                .expect("an answer");
            resp.headers()
                .get("x-total-count")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<usize>().ok())
                .is_some_and(|n| n >= back)
        },
    )
    .await;
    let back_secs = (in_instance - back_started).as_secs_f64();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after_back =
        http.node(reqwest::Method::GET, &node_info, None).await["servicenow"]["requests"]
            .as_u64()
            .unwrap_or(0);
    println!(
        "{back} items from B to new incidents (Bulk Exalate on B): {back_secs:.1} s ({:.0} items/s), {} requests to the instance ({:.1} per incident)",
        back as f64 / back_secs,
        after_back - before_back,
        (after_back - before_back) as f64 / back as f64
    );
}
