//! `tandem connection …` as an admin runs it against real nodes: initiate on one node, accept the
//! code on the other through stdin, list, deactivate, activate and delete; refusals, a missing or
//! wrong token, and a node that is not there.

use std::io::Write;
use std::process::Stdio;

use crate::cli::{run, tandem};
use crate::common::{TOKEN, TestNode};

/// What one `tandem connection …` run gave back.
struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs `tandem connection --node NODE --token TOKEN <args>` to completion, with `stdin` as its
/// standard input, off the runtime's threads so the nodes in this process keep answering.
async fn connection(node: &str, args: &[&str], stdin: Option<&str>) -> Out {
    let mut cmd = tandem();
    cmd.args(["connection", "--node", node, "--token", TOKEN])
        .args(args);
    run_with_stdin(cmd, stdin).await
}

async fn run_with_stdin(mut cmd: std::process::Command, stdin: Option<&str>) -> Out {
    let stdin = stdin.map(str::to_owned);
    tokio::task::spawn_blocking(move || {
        let (code, stdout, stderr) = match stdin {
            None => run(&mut cmd),
            Some(input) => {
                let mut child = cmd
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("tandem runs");
                child
                    .stdin
                    .take()
                    .expect("piped stdin")
                    .write_all(input.as_bytes())
                    .expect("write stdin");
                let out = child.wait_with_output().expect("tandem runs");
                (
                    out.status.code().unwrap_or(-1),
                    String::from_utf8_lossy(&out.stdout).into_owned(),
                    String::from_utf8_lossy(&out.stderr).into_owned(),
                )
            }
        };
        Out {
            code,
            stdout,
            stderr,
        }
    })
    .await
    .expect("the run finishes")
}

/// The node's connections as `list --json` prints them.
async fn listed(node: &str) -> Vec<serde_json::Value> {
    let out = connection(node, &["list", "--json"], None).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", out.stdout))
}

/// Initiates `acme_to_globex` on `a` towards `b`, accepts the code on `b` through stdin, and
/// returns the code.
async fn connect(a: &TestNode, b: &TestNode) -> String {
    let out = connection(
        &a.url,
        &[
            "initiate",
            "--to",
            &b.url,
            "--mode",
            "basic",
            "--local-name",
            "acme",
            "--remote-name",
            "globex",
        ],
        None,
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "the code alone on stdout: {:?}", out.stdout);
    let code = lines[0].to_owned();
    assert!(code.starts_with("tandem1"), "{code}");
    assert!(
        out.stderr.starts_with(
            "Connection acme_to_globex is pending: send this code to the other node's admin; it expires "
        ),
        "{}",
        out.stderr
    );
    assert!(out.stderr.trim_end().ends_with(" UTC."), "{}", out.stderr);
    assert!(!out.stderr.contains(&code), "the code only on stdout");

    let out = connection(&b.url, &["accept", "-"], Some(&format!("{code}\n"))).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let said = out.stdout.trim_end();
    assert!(said.starts_with("Connection "), "{said}");
    assert!(said.contains(" is active: connected to "), "{said}");
    assert!(said.ends_with(&format!("({}).", a.url)), "{said}");
    code
}

#[tokio::test(flavor = "multi_thread")]
async fn a_code_from_initiate_accepted_through_stdin_makes_both_sides_active() {
    let a = TestNode::start().await;
    let b = TestNode::start().await;
    connect(&a, &b).await;

    for node in [&a, &b] {
        let connections = listed(&node.url).await;
        assert_eq!(connections.len(), 1, "{connections:?}");
        assert_eq!(connections[0]["status"], "active", "{connections:?}");
        assert_eq!(connections[0]["mode"], "basic", "{connections:?}");
    }
    assert_eq!(listed(&a.url).await[0]["name"], "acme_to_globex");

    // The table, with the node and token from the environment this time.
    let mut cmd = tandem();
    cmd.args(["connection", "list"])
        .env("TANDEM_NODE", &a.url)
        .env("TANDEM_TOKEN", TOKEN);
    let out = run_with_stdin(cmd, None).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", out.stdout);
    let header = lines[0];
    for column in ["NAME", "MODE", "STATUS", "REMOTE", "TWINS", "LAST SYNC"] {
        assert!(header.contains(column), "{header}");
    }
    let row = lines[1];
    assert!(row.starts_with("acme_to_globex  basic"), "{row}");
    assert!(row.contains("active"), "{row}");
    assert_eq!(
        row.find("active"),
        header.find("STATUS"),
        "columns line up: {}",
        out.stdout
    );
    assert!(!out.stdout.contains(TOKEN) && !out.stderr.contains(TOKEN));
}

#[tokio::test(flavor = "multi_thread")]
async fn deactivate_activate_and_delete_work_by_name() {
    let a = TestNode::start().await;
    let b = TestNode::start().await;
    connect(&a, &b).await;

    let out = connection(&a.url, &["deactivate", "acme_to_globex"], None).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout
            .starts_with("Connection acme_to_globex is deactivated"),
        "{}",
        out.stdout
    );
    assert_eq!(listed(&a.url).await[0]["status"], "deactivated");

    let out = connection(&a.url, &["activate", "acme_to_globex"], None).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout
            .starts_with("Connection acme_to_globex is active"),
        "{}",
        out.stdout
    );
    assert_eq!(listed(&a.url).await[0]["status"], "active");

    let out = connection(&a.url, &["delete", "acme_to_globex"], None).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "Deleted connection acme_to_globex; the remote node was told.\n"
    );
    assert!(listed(&a.url).await.is_empty());

    let out = connection(&a.url, &["activate", "acme_to_globex"], None).await;
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.starts_with("error: "), "{}", out.stderr);
    assert!(
        !out.stderr.contains("not a Tandem API answer"),
        "the node's own message: {}",
        out.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn initiating_towards_this_node_makes_an_active_local_connection_without_a_code() {
    let a = TestNode::start().await;
    let out = connection(
        &a.url,
        &[
            "initiate",
            "--to",
            &a.url,
            "--mode",
            "basic",
            "--local-name",
            "ops",
            "--remote-name",
            "dev",
        ],
        None,
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "", "no code for a local connection");
    assert!(
        out.stderr
            .starts_with("Local connection ops_to_dev is active"),
        "{}",
        out.stderr
    );
    assert_eq!(listed(&a.url).await[0]["role"], "local");
}

#[tokio::test(flavor = "multi_thread")]
async fn accepting_garbage_is_refused_with_the_nodes_message_and_exit_1() {
    let b = TestNode::start().await;
    let out = connection(&b.url, &["accept", "not-an-invitation-code"], None).await;
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(out.stdout, "");
    let message = out.stderr.trim_end();
    assert!(message.starts_with("error: "), "{message}");
    assert_eq!(message.lines().count(), 1, "{message}");
    assert!(
        !message.contains("not a Tandem API answer"),
        "the node's own message: {message}"
    );
    assert!(listed(&b.url).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_or_refused_token_says_how_to_make_one() {
    let a = TestNode::start().await;
    let mut cmd = tandem();
    cmd.args(["connection", "--node", &a.url, "list"]);
    let out = run_with_stdin(cmd, None).await;
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.starts_with("error: no API token"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("TANDEM_TOKEN"), "{}", out.stderr);
    assert!(out.stderr.contains("tandem token create"), "{}", out.stderr);
    assert!(
        out.stderr.contains("Settings → API tokens"),
        "{}",
        out.stderr
    );

    let wrong = "not-the-right-token-42";
    let mut cmd = tandem();
    cmd.args(["connection", "--node", &a.url, "--token", wrong, "list"]);
    let out = run_with_stdin(cmd, None).await;
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.starts_with(&format!(
            "error: the node at {} refused the API token: make one in the node's console (Settings → API tokens), with `tandem token create",
            a.url
        )),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains(wrong), "the token is never printed");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_node_is_exit_1_with_the_reason_and_the_flag_to_fix() {
    // A port that was free a moment ago and has nobody listening now.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let node = format!("http://127.0.0.1:{port}");
    let out = connection(&node, &["list"], None).await;
    assert_eq!(out.code, 1, "{}", out.stderr);
    let message = out.stderr.trim_end();
    assert!(
        message.starts_with(&format!("error: cannot reach the node at {node}: ")),
        "{message}"
    );
    assert!(
        message.ends_with("; is it running? (--node / TANDEM_NODE)"),
        "{message}"
    );
    assert!(message.to_lowercase().contains("refused"), "{message}");
}

/// A refused node-to-node request is logged with its reason, and neither node's log ever holds
/// the invitation code (nor so its secret).
#[tokio::test(flavor = "multi_thread")]
async fn refusals_are_logged_and_no_log_holds_the_code() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_owned();
    let (mut a, a_url) = tokio::task::spawn_blocking(move || {
        crate::cli::serve(&path, &["--admin-token", TOKEN], "Console:")
    })
    .await
    .unwrap();
    let b = TestNode::start().await;
    let out = connection(
        &a_url,
        &[
            "initiate",
            "--to",
            &b.url,
            "--mode",
            "basic",
            "--local-name",
            "acme",
            "--remote-name",
            "globex",
        ],
        None,
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let code = out.stdout.trim().to_owned();
    let out = connection(&b.url, &["accept", &code], None).await;
    assert_eq!(out.code, 0, "{}", out.stderr);

    // A push signed with a key that is not the connection's.
    let invitation = tandem_protocol::Invitation::decode(&code).unwrap();
    let body = br#"{"messages":[]}"#;
    let nonce = tandem_protocol::Nonce::random().unwrap();
    let headers = tandem_protocol::sign_request(
        &tandem_protocol::RequestKey::from_bytes([7; 32]),
        invitation.connection_id,
        "POST",
        "/node/v1/messages",
        jiff::Timestamp::now(),
        &nonce,
        body,
    )
    .unwrap();
    let mut req = reqwest::Client::new()
        .post(format!("{a_url}/node/v1/messages"))
        .header("content-type", "application/json")
        .body(body.to_vec());
    for (k, v) in headers.pairs() {
        req = req.header(k, v.to_owned());
    }
    assert_eq!(req.send().await.unwrap().status().as_u16(), 401);

    let pid = a.0.id().to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    let logged = tokio::task::spawn_blocking(move || {
        use std::io::Read;
        let mut err = String::new();
        a.0.stderr.take().unwrap().read_to_string(&mut err).unwrap();
        let _ = a.0.wait();
        err
    })
    .await
    .unwrap();
    let refusal = logged
        .lines()
        .find(|l| l.contains("Refused a node-to-node request"))
        .unwrap_or_else(|| panic!("no refusal logged:\n{logged}"));
    assert!(refusal.contains("signature does not match"), "{refusal}");
    assert!(
        refusal.contains(&invitation.connection_id.to_string()),
        "{refusal}"
    );
    // The code's end (its secret and checksum, the last 36 bytes) appears nowhere in the log.
    let secret_part = &code[code.len() - 48..];
    assert!(
        !logged.contains(secret_part),
        "the log holds the code:\n{logged}"
    );
}

/// Issue 16 from the command line: a new code for a Pending connection (the old one stops
/// working), accepting with a target project, changing it, and deleting a connection nobody
/// accepted.
#[tokio::test(flavor = "multi_thread")]
async fn new_code_target_project_and_deleting_a_pending_connection() {
    let a = TestNode::start().await;
    let b = TestNode::start().await;
    b.api().project("ENG").await;
    b.api().project("OPS").await;
    let args = [
        "initiate",
        "--to",
        &b.url,
        "--mode",
        "basic",
        "--local-name",
        "acme",
        "--remote-name",
        "globex",
    ];
    let out = connection(&a.url, &args, None).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let old = out.stdout.trim().to_owned();

    let out = connection(&a.url, &["new-code", "acme_to_globex"], None).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let new = out.stdout.trim().to_owned();
    assert!(new.starts_with("tandem1") && new != old, "{}", out.stdout);
    assert!(
        out.stderr.contains("The code made before no longer works."),
        "{}",
        out.stderr
    );
    let out = connection(&b.url, &["accept", &old], None).await;
    assert_eq!(out.code, 1, "the old code is refused: {}", out.stdout);

    let out = connection(&b.url, &["accept", &new, "--target-project", "OPS"], None).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout
            .contains("New items from the other side go to project OPS on this node.")
            || out.stdout.contains("go to project OPS on this node."),
        "{}",
        out.stdout
    );
    let out = connection(&b.url, &["target", "acme_to_globex", "ENG"], None).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("go to project ENG"), "{}", out.stdout);
    assert_eq!(listed(&b.url).await[0]["target_project"], "ENG");
    let out = connection(&b.url, &["target", "acme_to_globex", "--none"], None).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.starts_with("No target project"),
        "{}",
        out.stdout
    );

    // Nobody accepted this one: its deletion says so.
    let mut pending = args.to_vec();
    pending.extend(["--name", "never"]);
    let out = connection(&a.url, &pending, None).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = connection(&a.url, &["delete", "never"], None).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "Deleted connection never; it was never accepted, so the other node has nothing to remove, and its invitation code no longer works.\n"
    );
}
