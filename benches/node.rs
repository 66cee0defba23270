//! The node's start-up, memory and API write figures for BENCHMARKS.md.
//!
//! `cargo bench --bench node` runs the release `tandem` binary as a user would:
//! - start-to-healthy: spawn `tandem serve` on an empty data directory (and again on a kept
//!   one), and time until `GET /healthz` first answers 200;
//! - idle resident memory of a started node, after a few requests;
//! - 1,000 item creations through `POST /api/v1/items`, from 1 client and from 16 at once,
//!   with durability `full` (fsync each commit, the default) and `normal`.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const TOKEN: &str = "bench-token-0123456789abcdef";
const RUNS: usize = 15;
const ITEMS: usize = 1000;

struct Node {
    child: Child,
    url: String,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `tandem serve` and returns it with the time from spawn to the first healthy answer.
fn start(data_dir: &std::path::Path, durability: &str) -> (Node, Duration) {
    let began = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tandem"))
        .args(["serve", "--listen", "127.0.0.1:0", "--admin-token", TOKEN])
        .args(["--durability", durability, "--data-dir"])
        .arg(data_dir)
        .env("TANDEM_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("release binary runs");
    let mut reader = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    reader.read_line(&mut line).expect("first line");
    let url = line
        .trim()
        .strip_prefix("Tandem node listening on ")
        .expect("address line")
        .to_owned();
    // Keep draining stdout so the node never blocks on a full pipe.
    std::thread::spawn(move || for _ in reader.lines() {});
    let health = format!("{url}/healthz");
    loop {
        if let Ok(resp) = raw_get(&health)
            && resp == 200
        {
            break;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    (Node { child, url }, began.elapsed())
}

/// A minimal blocking GET over a raw socket: the bench should not time an HTTP client's
/// set-up.
fn raw_get(url: &str) -> std::io::Result<u16> {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").unwrap_or(url);
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let mut stream = std::net::TcpStream::connect(host)?;
    write!(
        stream,
        "GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )?;
    let mut buf = [0u8; 12];
    stream.read_exact(&mut buf)?;
    let status = std::str::from_utf8(&buf[9..12])
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Ok(status)
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn stats(mut samples: Vec<Duration>) -> String {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    format!(
        "median {:.1} ms, min {:.1} ms, p90 {:.1} ms ({} runs)",
        ms(samples[samples.len() / 2]),
        ms(samples[0]),
        ms(samples[samples.len() * 9 / 10]),
        samples.len()
    )
}

async fn create_items(url: &str, clients: usize) -> f64 {
    let client = reqwest::Client::new();
    let base = format!("{url}/api/v1");
    client
        .post(format!("{base}/projects"))
        .bearer_auth(TOKEN)
        .json(&serde_json::json!({"key": "BENCH", "name": "Bench"}))
        .send()
        .await
        .expect("project");
    let began = Instant::now();
    let per_client = ITEMS / clients;
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            let client = client.clone();
            let base = base.clone();
            tokio::spawn(async move {
                for i in 0..per_client {
                    let resp = client
                        .post(format!("{base}/items"))
                        .bearer_auth(TOKEN)
                        .json(&serde_json::json!({
                            "project": "BENCH",
                            "summary": format!("Item {c}-{i}"),
                            "description": "Created by the benchmark.",
                            "priority": "High",
                            "labels": ["sync", "bench"],
                            "custom_fields": {"Customer Tier": "Gold"}
                        }))
                        .send()
                        .await
                        .expect("create");
                    assert_eq!(resp.status(), 201);
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("client task");
    }
    (per_client * clients) as f64 / began.elapsed().as_secs_f64()
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else to parse.
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!("tandem node bench: {cores} cores, release build\n");

    let mut first = Vec::new();
    let mut again = Vec::new();
    let mut rss = Vec::new();
    for _ in 0..RUNS {
        let dir = tempfile::tempdir().expect("temp dir");
        let (node, took) = start(dir.path(), "full");
        first.push(took);
        drop(node);
        let (node, took) = start(dir.path(), "full");
        again.push(took);
        for _ in 0..5 {
            let _ = raw_get(&format!("{}/healthz", node.url));
        }
        std::thread::sleep(Duration::from_millis(300));
        rss.push(rss_kib(node.child.id()));
    }
    println!("start-to-healthy, empty data directory: {}", stats(first));
    println!(
        "start-to-healthy, existing data directory: {}",
        stats(again)
    );
    rss.sort();
    println!(
        "idle resident memory: median {:.1} MB (min {:.1}, max {:.1})\n",
        rss[rss.len() / 2] as f64 / 1024.0,
        rss[0] as f64 / 1024.0,
        rss[rss.len() - 1] as f64 / 1024.0
    );

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    for durability in ["full", "normal"] {
        for clients in [1, 16] {
            let dir = tempfile::tempdir().expect("temp dir");
            let (node, _) = start(dir.path(), durability);
            let rate = runtime.block_on(create_items(&node.url, clients));
            let rss = rss_kib(node.child.id()) as f64 / 1024.0;
            println!(
                "{ITEMS} item creations via API, durability={durability:<6}, {clients:>2} client(s): {rate:>6.0} items/s (node RSS after: {rss:.1} MB)"
            );
        }
    }
}
