//! `tandem sync …` as an admin runs it against two connected nodes: exalate an item and watch
//! its twin appear, see no sync errors, add a trigger and run a Bulk Exalate with it, unexalate,
//! and a connection that is not there.

use serde_json::{Value, json};

use crate::cli::{run, tandem};
use crate::common::{TOKEN, TestNode};
use crate::sync::{eventually, pair};

/// What one `tandem sync …` run gave back.
pub(crate) struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `tandem sync --node NODE --token TOKEN <args>` to completion, off the runtime's threads
/// so the nodes in this process keep answering. Its stderr is a pipe, not a terminal, as in CI.
pub(crate) async fn sync(node: &str, args: &[&str]) -> Out {
    let mut cmd = tandem();
    cmd.args(["sync", "--node", node, "--token", TOKEN])
        .args(args);
    tokio::task::spawn_blocking(move || {
        let (code, stdout, stderr) = run(&mut cmd);
        Out {
            code,
            stdout,
            stderr,
        }
    })
    .await
    .expect("the run finishes")
}

/// Like [`sync`], and the run must succeed.
pub(crate) async fn ok(node: &str, args: &[&str]) -> String {
    let out = sync(node, args).await;
    assert_eq!(out.code, 0, "{args:?}: {}", out.stderr);
    out.stdout
}

/// `sync status KEY --json`, parsed.
async fn twins(node: &str, key: &str) -> Value {
    let stdout = ok(node, &["status", key, "--json"]).await;
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn exalate_status_bulk_and_unexalate_from_the_command_line() {
    let (a, b) = pair().await;
    let (api_a, api_b) = (a.api(), b.api());
    for summary in ["Checkout fails", "Refund stuck", "Login slow"] {
        api_a
            .item(json!({"project": "SUP", "summary": summary}))
            .await;
    }

    // Exalate SUP-1: B creates ENG-1 and A learns its key.
    let said = ok(
        &a.url,
        &["exalate", "--connection", "desk", "--item", "SUP-1"],
    )
    .await;
    assert_eq!(said, "SUP-1 is under sync on connection desk.\n");
    eventually("A's twin of SUP-1 gets remote key ENG-1", || async {
        twins(&a.url, "SUP-1").await[0]["remote_key"] == "ENG-1"
    })
    .await;
    let listed = twins(&a.url, "SUP-1").await;
    let twin = listed
        .as_array()
        .expect("an array")
        .first()
        .expect("a twin");
    let fields: Vec<&str> = twin
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        fields,
        [
            "connection",
            "local_key",
            "remote_key",
            "last_sync",
            "state"
        ]
    );
    assert_eq!(twin["connection"], "desk");
    assert_eq!(twin["local_key"], "SUP-1");
    assert_eq!(twin["state"], "active");
    let human = ok(&a.url, &["status", "SUP-1"]).await;
    let lines: Vec<&str> = human.lines().collect();
    assert_eq!(lines.len(), 2, "{human}");
    assert!(lines[0].starts_with("CONNECTION"), "{human}");
    let cells: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(&cells[..3], ["desk", "ENG-1", "active"], "{human}");

    // No sync errors on either side.
    for node in [&a, &b] {
        assert_eq!(ok(&node.url, &["errors", "--json"]).await.trim(), "[]");
        assert_eq!(ok(&node.url, &["errors"]).await, "No sync errors.\n");
    }

    // An inactive trigger for all of SUP, then a Bulk Exalate with it: the three items (SUP-1
    // again, which changes nothing) are exalated and B creates ENG-2 and ENG-3.
    let out = sync(
        &a.url,
        &[
            "trigger-add",
            "--connection",
            "desk",
            "--query",
            "project = SUP",
            "--inactive",
            "--note",
            "all of SUP",
        ],
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let trigger = out.stdout.trim().to_owned();
    assert!(
        trigger.parse::<i64>().is_ok(),
        "the id alone: {:?}",
        out.stdout
    );
    assert!(
        out.stderr.starts_with(&format!(
            "Added trigger {trigger} to connection desk (inactive"
        )),
        "{}",
        out.stderr
    );
    let listed = ok(&a.url, &["triggers", "--connection", "desk"]).await;
    assert!(
        listed
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>()[..5]
                == [trigger.as_str(), "no", "project", "=", "SUP"]),
        "{listed}"
    );

    let out = sync(
        &a.url,
        &["bulk", "--connection", "desk", "--trigger", &trigger],
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "Exalated 3 items on connection desk.\n");
    assert_eq!(
        out.stderr, "",
        "no progress bar when stderr is not a terminal"
    );
    for key in ["ENG-2", "ENG-3"] {
        eventually(&format!("B creates {key}"), || async {
            let (status, _) = api_b.send(api_b.get(&format!("/items/{key}"))).await;
            status == 200
        })
        .await;
    }

    // An item that was never exalated is not under sync.
    let fourth = api_a
        .item(json!({"project": "SUP", "summary": "Not synced"}))
        .await;
    let fourth = fourth["key"].as_str().expect("a key").to_owned();
    assert_eq!(
        ok(&a.url, &["status", &fourth]).await,
        format!("{fourth} is not under sync.\n")
    );

    // Unexalate SUP-1: its twin stays, stopped.
    let said = ok(
        &a.url,
        &["unexalate", "--connection", "desk", "--item", "SUP-1"],
    )
    .await;
    assert!(
        said.starts_with("SUP-1 is no longer under sync on connection desk"),
        "{said}"
    );
    assert_eq!(twins(&a.url, "SUP-1").await[0]["state"], "stopped");
    let human = ok(&a.url, &["status", "SUP-1"]).await;
    assert!(
        human.lines().nth(1).is_some_and(|l| l.contains("stopped")),
        "{human}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_connection_is_exit_1_with_the_nodes_message() {
    let a = TestNode::start().await;
    a.api().project("SUP").await;
    a.api()
        .item(json!({"project": "SUP", "summary": "Checkout fails"}))
        .await;
    for args in [
        &["exalate", "--connection", "nowhere", "--item", "SUP-1"][..],
        &["bulk", "--connection", "nowhere", "--trigger", "1"][..],
    ] {
        let out = sync(&a.url, args).await;
        assert_eq!(out.code, 1, "{args:?}: {}", out.stderr);
        assert_eq!(
            out.stderr,
            "error: there is no connection 'nowhere' on this node\n"
        );
        assert_eq!(out.stdout, "");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn bulk_unexalate_again_and_cleanup_from_the_command_line() {
    let (a, b) = pair().await;
    let (api_a, api_b) = (a.api(), b.api());
    for (summary, labels) in [("Alpha", json!(["vip"])), ("Beta", json!([]))] {
        api_a
            .item(json!({"project": "SUP", "summary": summary, "labels": labels}))
            .await;
    }
    for key in ["SUP-1", "SUP-2"] {
        ok(&a.url, &["exalate", "--connection", "desk", "--item", key]).await;
    }
    eventually("A learns both remote keys", || async {
        twins(&a.url, "SUP-1").await[0]["remote_key"].is_string()
            && twins(&a.url, "SUP-2").await[0]["remote_key"].is_string()
    })
    .await;
    let beta = twins(&a.url, "SUP-2").await[0]["remote_key"]
        .as_str()
        .expect("a remote key")
        .to_owned();

    // `again` without --item: every twin of the connection.
    let said = ok(&a.url, &["again", "--connection", "desk"]).await;
    assert_eq!(said, "Sent 2 items again on connection desk.\n");

    let trigger = ok(
        &a.url,
        &[
            "trigger-add",
            "--connection",
            "desk",
            "--query",
            "labels = vip",
            "--inactive",
        ],
    )
    .await
    .trim()
    .to_owned();
    let said = ok(
        &a.url,
        &[
            "bulk-unexalate",
            "--connection",
            "desk",
            "--trigger",
            &trigger,
        ],
    )
    .await;
    assert_eq!(
        said,
        format!(
            "Stopped syncing 1 item matching trigger {trigger} on connection desk; the items stay on both sides.\n"
        )
    );
    assert_eq!(twins(&a.url, "SUP-1").await[0]["state"], "stopped");
    assert_eq!(twins(&a.url, "SUP-2").await[0]["state"], "active");

    // Without --yes: what it would touch, exit 1, nothing changed.
    let out = sync(&a.url, &["cleanup", "--connection", "desk"]).await;
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stdout.starts_with(
            "Clean-up of connection desk would remove the sync data of 2 twins here and on the remote (the items stay); "
        ),
        "{}",
        out.stdout
    );
    assert_eq!(
        out.stderr,
        "error: nothing was changed: run `tandem sync cleanup --connection desk --yes` to clean up\n"
    );
    assert_eq!(twins(&a.url, "SUP-2").await[0]["state"], "active");

    let said = ok(&a.url, &["cleanup", "--connection", "desk", "--yes"]).await;
    assert!(
        said.starts_with(
            "Cleaned up connection desk: the sync data of 2 twins is removed here and on the remote; the items stay; "
        ),
        "{said}"
    );
    assert_eq!(twins(&a.url, "SUP-2").await, json!([]));
    eventually("B cleans up too", || async {
        let (_, body) = api_b.send(api_b.get(&format!("/sync/status/{beta}"))).await;
        body["twins"] == json!([])
    })
    .await;
    let out = sync(&a.url, &["cleanup", "--connection", "nowhere", "--yes"]).await;
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(
        out.stderr,
        "error: there is no connection 'nowhere' on this node\n"
    );
    assert_eq!(
        api_a.send(api_a.get("/items/SUP-1")).await.0,
        200,
        "the items stay"
    );
}
