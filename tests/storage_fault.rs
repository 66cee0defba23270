//! Storage faults: a node whose data directory's disk fills up says so, pauses instead of
//! spinning, takes up by itself what failed once there is room, and stops on SIGTERM.
//!
//! Two `tandem serve` processes (the helpers of `sync_chaos` and `crash`), connected A → B with
//! a trigger on A's items. B's data directory is a small tmpfs this test mounts, and fills with
//! a file of its own; freeing the space is deleting that file. Mounting takes root (CI runs as
//! root): elsewhere the test says why and returns.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::Api;
use crate::crash::{connect_desk, trigger, wait_until};
use crate::sync_chaos::NodeProcess;

/// How long anything the nodes do by themselves may take on a busy machine.
const DEADLINE: Duration = Duration::from_secs(90);

/// A tmpfs mounted for the test, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    /// Mounts a tmpfs of `size` (as `mount -o size=` reads it) at `at`; `Err` says why it
    /// cannot be done here.
    fn mount(at: &Path, size: &str) -> Result<Tmpfs, String> {
        std::fs::create_dir_all(at).map_err(|e| format!("cannot create {}: {e}", at.display()))?;
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(at)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "mount -t tmpfs failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(Tmpfs(at.to_owned()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // Lazy: a process still holding a file there (a node being killed) does not keep it.
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Fills the file system holding `file` by writing to it until the disk refuses.
fn fill(file: &Path) {
    let mut out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)
        .unwrap();
    for chunk in [1 << 20, 4096, 512] {
        let block = vec![0xA5u8; chunk];
        while out.write_all(&block).and_then(|()| out.flush()).is_ok() {}
    }
    let _ = out.sync_all();
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

async fn health(node: &NodeProcess) -> (u16, String) {
    let url = node.api().base.replace("/api/v1", "/healthz");
    let resp = reqwest::get(url).await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

async fn open_errors(api: &Api) -> Vec<Value> {
    let (status, body) = api.send(api.get("/sync/errors")).await;
    assert_eq!(status, 200, "{body}");
    body["errors"].as_array().cloned().unwrap_or_default()
}

/// Whether B has an item with this summary (arrived from A).
async fn arrived(api_b: &Api, summary: &str) -> bool {
    let (status, body) = api_b
        .send(
            api_b
                .get("/items")
                .query(&[("query", "project = ENG"), ("limit", "200")]),
        )
        .await;
    status == 200
        && body["items"]
            .as_array()
            .is_some_and(|items| items.iter().any(|i| i["summary"] == summary))
}

/// Creates items on `api`'s node until one is refused (each holds 64 KB, so the database must
/// grow for it); returns the refusal.
async fn a_write_refused(api: &Api) -> (u16, Value) {
    let description = "x".repeat(64 * 1024);
    for n in 0..200 {
        let (status, body) = api
            .json(
                api.post("/items"),
                json!({"project": "ENG", "summary": format!("local {n}"), "description": description}),
            )
            .await;
        if status != 201 {
            return (status, body);
        }
    }
    panic!("200 items of 64 KB were written on a full disk");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_is_named_reported_retried_by_itself_and_does_not_stop_a_stop() {
    if !is_root() {
        eprintln!("skipped: mounting a small tmpfs for the data directory takes root");
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let a = NodeProcess::start("a", root.path()).await;
    let b_data = root.path().join("b").join("data");
    let tmpfs = match Tmpfs::mount(&b_data, "24m") {
        Ok(m) => m,
        Err(why) => {
            eprintln!("skipped: {why}");
            return;
        }
    };
    let mut b = NodeProcess::start("b", root.path()).await;
    connect_desk(&a, &b).await;
    let (api_a, api_b) = (a.api(), b.api());
    trigger(&api_a, true).await;

    // Sync works to begin with.
    api_a
        .item(json!({"project": "SUP", "summary": "before the disk filled"}))
        .await;
    assert!(
        wait_until(DEADLINE, async || arrived(&api_b, "before the disk filled")
            .await)
        .await,
        "the first item did not reach B"
    );
    assert_eq!(health(&b).await.0, 200);

    // B's disk fills up: its API names the disk and the data directory, 507.
    let filler = b_data.join("filler");
    fill(&filler);
    let (status, body) = a_write_refused(&api_b).await;
    let data_dir = b_data.display().to_string();
    let full = format!("the disk holding {data_dir} is full");
    assert_eq!(status, 507, "{body}");
    assert_eq!(body["error"]["code"], "insufficient_storage", "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.starts_with(&full), "{message}");
    assert!(!message.contains("internal error"), "{message}");

    // /healthz says so while it lasts.
    let (status, text) = health(&b).await;
    assert_eq!(status, 503, "{text}");
    assert!(text.contains(&full), "{text}");

    // A change made on A meanwhile cannot be stored on B: A's delivery error gives B's own
    // reason, not "cannot be reached".
    api_a
        .item(json!({"project": "SUP", "summary": "while the disk was full"}))
        .await;
    let remote_says = format!("the remote node says: {full}");
    assert!(
        wait_until(DEADLINE, async || {
            open_errors(&api_a).await.iter().any(|e| {
                e["message"]
                    .as_str()
                    .is_some_and(|m| m.contains(&remote_says) && !m.contains("cannot be reached"))
            })
        })
        .await,
        "A's delivery error does not give B's reason: {:?}",
        open_errors(&api_a).await
    );

    // While the disk stays full, B does not spin: its log grows by a few lines, not megabytes.
    let log = root.path().join("b").join("node.log");
    let log_size = || std::fs::metadata(&log).map_or(0, |m| m.len());
    let before = log_size();
    let watched = Instant::now();
    while watched.elapsed() < Duration::from_secs(8) {
        // Keep B busy the way users and the remote do.
        let _ = api_b
            .send(
                api_b
                    .post("/items")
                    .json(&json!({"project": "ENG", "summary": "refused"})),
            )
            .await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let grew = log_size() - before;
    eprintln!("B's log grew by {grew} bytes in 8 s of a full disk");
    assert!(
        grew < 16 * 1024,
        "B's log grew by {grew} bytes in 8 s of a full disk:\n{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    assert_eq!(health(&b).await.0, 503);

    // Space is freed: B is healthy again, and the change that failed arrives by itself.
    std::fs::remove_file(&filler).unwrap();
    assert!(
        wait_until(DEADLINE, async || health(&b).await.0 == 200).await,
        "B's /healthz stays unhealthy after space was freed: {:?}",
        health(&b).await
    );
    assert!(
        wait_until(DEADLINE, async || arrived(
            &api_b,
            "while the disk was full"
        )
        .await)
        .await,
        "the change that failed on B's full disk was not applied after space was freed"
    );
    assert!(
        wait_until(DEADLINE, async || open_errors(&api_a).await.is_empty()).await,
        "A's delivery error is not resolved: {:?}",
        open_errors(&api_a).await
    );
    assert!(
        open_errors(&api_b).await.is_empty(),
        "B parked the storage fault as a sync error: {:?}",
        open_errors(&api_b).await
    );

    // SIGTERM stops B within seconds while its disk is full and A keeps sending.
    fill(&filler);
    assert_eq!(a_write_refused(&api_b).await.0, 507);
    api_a
        .item(json!({"project": "SUP", "summary": "at the stop"}))
        .await;
    let took = b.terminate(Duration::from_secs(15));
    let took = took.expect("B did not stop within 15 s of SIGTERM on a full disk");
    eprintln!("B stopped {took:?} after SIGTERM on a full disk");
    assert!(took < Duration::from_secs(8), "B took {took:?} to stop");
    drop(b);
    drop(tmpfs);
}

/// A change B stored and then could not apply, its disk full by then: it stays pending (no
/// sync error, nothing failed), `/healthz` says why, and once there is room it is applied by
/// itself. The disk is "full" at an exact point: B's database may grow by a few pages only
/// from there, which needs no root.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_stored_then_not_applied_on_a_full_disk_is_applied_once_there_is_room() {
    use tandem_model::RequestState;

    let a = crate::common::TestNode::start().await;
    let (b, b_store) = crate::common::TestNode::start_on_own_store().await;
    crate::sync::connect(&a, &b, "script").await;
    let (api_a, api_b) = (a.api(), b.api());
    let b_state = b.node.as_ref().unwrap().state.clone();
    let pending = || async {
        b_state
            .store()
            .requests(None, &[RequestState::Pending], 10)
            .await
            .unwrap()
            .len()
    };
    let healthz = || async {
        let resp = reqwest::get(format!("{}/healthz", b.url)).await.unwrap();
        (resp.status().as_u16(), resp.text().await.unwrap())
    };

    // B holds what arrives while its side of the connection is deactivated.
    let (status, body) = api_b.send(api_b.post("/connections/desk/deactivate")).await;
    assert_eq!(status, 200, "{body}");
    let item = api_a
        .item(
            json!({"project": "SUP", "summary": "Arrives late", "description": "y".repeat(90_000)}),
        )
        .await;
    let key = item["key"].as_str().unwrap();
    let (status, body) = api_a
        .json(
            api_a.post("/sync/exalate"),
            json!({"connection": "desk", "item": key}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    crate::sync::eventually("B has stored the change", || async { pending().await == 1 }).await;

    // Room for a few small writes, not for the change; it is let through to be applied.
    b_store.limit_growth(Some(4)).await.unwrap();
    let (status, body) = api_b.send(api_b.post("/connections/desk/activate")).await;
    assert_eq!(status, 200, "{body}");
    // (Its probe, a small write, may find room in those pages between two tries of the
    // change: the 503 need not last.)
    crate::sync::eventually("B reports the full disk", || async {
        let (status, reason) = healthz().await;
        status == 503 && reason.contains("is full")
    })
    .await;
    assert_eq!(pending().await, 1, "the change stays pending");
    assert_eq!(
        open_errors(&api_b).await,
        Vec::<Value>::new(),
        "not parked as an error"
    );
    assert!(!arrived(&api_b, "Arrives late").await);

    // Room again: applied by itself, nothing left over.
    b_store.limit_growth(None).await.unwrap();
    crate::sync::eventually("the change is applied", || async {
        arrived(&api_b, "Arrives late").await
    })
    .await;
    crate::sync::eventually("B is healthy again", || async { healthz().await.0 == 200 }).await;
    // The item is written before the request is marked done (another transaction): wait.
    crate::sync::eventually("B's request is done", || async { pending().await == 0 }).await;
    assert_eq!(open_errors(&api_b).await, Vec::<Value>::new());
    assert_eq!(open_errors(&api_a).await, Vec::<Value>::new());
}

/// The incoming rules ask for this side's replica to go back once the change is applied
/// (`syncHelper.syncBackAfterProcessing()`), and the disk fills between the two: the change
/// is applied and the request done, the replica waits (no error parked), and once there is
/// room it goes back by itself. The disk is "full" at an exact point, as above: room for the
/// apply (its twin keeps the 90 KB replica B's outgoing rules make, as sent), not for that
/// replica queued as well.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_sent_back_after_an_apply_on_a_full_disk_goes_once_there_is_room() {
    use tandem_model::RequestState;

    let a = crate::common::TestNode::start().await;
    let (b, b_store) = crate::common::TestNode::start_on_own_store().await;
    crate::sync::connect(&a, &b, "script").await;
    let (api_a, api_b) = (a.api(), b.api());
    let b_state = b.node.as_ref().unwrap().state.clone();
    let (status, body) = api_b
        .json(
            api_b.patch("/connections/desk"),
            json!({
                "incoming_script": "\
if (firstSync) {
    issue.projectKey = 'ENG'
    syncHelper.syncBackAfterProcessing()
}
issue.summary = replica.summary
",
                "outgoing_script": "\
replica.key = issue.key
replica.summary = issue.summary
replica.description = 'answered by ENG ' + 'y' * 90000
",
            }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = api_a
        .json(
            api_a.patch("/connections/desk"),
            json!({"incoming_script": "issue.description = replica.description\n"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let description_on_a = || async {
        crate::sync::item(&api_a, "SUP-1").await["description"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };

    // B holds what arrives while its side is deactivated; then it gets room for the apply.
    let (status, body) = api_b.send(api_b.post("/connections/desk/deactivate")).await;
    assert_eq!(status, 200, "{body}");
    api_a
        .item(json!({"project": "SUP", "summary": "Answer me"}))
        .await;
    let (status, body) = api_a
        .json(
            api_a.post("/sync/exalate"),
            json!({"connection": "desk", "item": "SUP-1"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let pending = || async {
        b_state
            .store()
            .requests(None, &[RequestState::Pending], 10)
            .await
            .unwrap()
            .len()
    };
    crate::sync::eventually("B has stored the change", || async { pending().await == 1 }).await;
    b_store.limit_growth(Some(28)).await.unwrap();
    let (status, body) = api_b.send(api_b.post("/connections/desk/activate")).await;
    assert_eq!(status, 200, "{body}");

    crate::sync::eventually("B applies the change", || async {
        arrived(&api_b, "Answer me").await
    })
    .await;
    crate::sync::eventually("the replica waits for room", || async {
        !b_state.owed().is_empty()
    })
    .await;
    assert_eq!(pending().await, 0, "the change is done");
    assert_eq!(
        open_errors(&api_b).await,
        Vec::<Value>::new(),
        "nothing parked"
    );
    assert!(!description_on_a().await.starts_with("answered by ENG"));

    // Room again: the replica goes back by itself, once.
    b_store.limit_growth(None).await.unwrap();
    crate::sync::eventually("A gets B's replica back", || async {
        description_on_a().await.starts_with("answered by ENG")
    })
    .await;
    assert!(b_state.owed().is_empty());
    assert_eq!(open_errors(&api_b).await, Vec::<Value>::new());
    assert_eq!(open_errors(&api_a).await, Vec::<Value>::new());
}
