//! The `tandem` binary as a user runs it: start-up errors, signals, tokens, the demo.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn tandem() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tandem"));
    for (key, _) in std::env::vars() {
        if key.starts_with("TANDEM_") {
            cmd.env_remove(key);
        }
    }
    cmd
}

/// Runs to completion and returns (exit code, stdout, stderr).
pub fn run(cmd: &mut Command) -> (i32, String, String) {
    let out = cmd.output().expect("tandem runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Kills the child when the test ends, however it ends.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Reads stdout lines until one contains `needle`; returns all lines read.
fn read_until(child: &mut Child, needle: &str) -> Vec<String> {
    let stdout = child.stdout.as_mut().expect("piped stdout");
    let mut reader = BufReader::new(stdout);
    let mut lines = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let mut line = String::new();
        if reader.read_line(&mut line).expect("read stdout") == 0 {
            break;
        }
        let done = line.contains(needle);
        lines.push(line.trim_end().to_owned());
        if done {
            return lines;
        }
    }
    // The child stopped or hung: what it logged says why.
    let _ = child.kill();
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut stderr);
    }
    panic!("'{needle}' never appeared; got {lines:?}; it logged:\n{stderr}");
}

#[test]
fn an_invalid_config_value_is_one_line_and_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, stderr) = run(tandem()
        .args(["serve", "--listen", "127.0.0.1:99999", "--data-dir"])
        .arg(dir.path()));
    assert_eq!(code, 2);
    assert_eq!(
        stderr.trim(),
        "error: invalid listen address '127.0.0.1:99999' (from --listen or TANDEM_LISTEN): expected IP:PORT, e.g. 127.0.0.1:7341 or 0.0.0.0:8080 (port 0 picks a free port)"
    );

    std::fs::write(
        dir.path().join("tandem.toml"),
        "durability = \"sometimes\"\n",
    )
    .unwrap();
    let (code, _, stderr) = run(tandem().args(["serve", "--data-dir"]).arg(dir.path()));
    assert_eq!(code, 2);
    assert_eq!(
        stderr.trim(),
        format!(
            "error: config file {} is not valid: line 1, column 14: unknown variant `sometimes`, expected `full` or `normal`",
            dir.path().join("tandem.toml").display()
        )
    );

    std::fs::remove_file(dir.path().join("tandem.toml")).unwrap();
    let (code, _, stderr) = run(tandem()
        .args(["serve", "--data-dir"])
        .arg(dir.path())
        .env("TANDEM_NODE_URL", "tandem.example"));
    assert_eq!(code, 2);
    assert!(
        stderr.contains("(from --node-url or TANDEM_NODE_URL)"),
        "{stderr}"
    );
}

#[test]
fn a_port_in_use_is_one_line_and_exit_code_2() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let (code, _, stderr) = run(tandem()
        .args(["serve", "--listen", &addr, "--data-dir"])
        .arg(dir.path())
        .args(["--admin-password", "long enough"]));
    assert_eq!(code, 2, "{stderr}");
    let last = stderr.lines().last().unwrap_or_default();
    assert_eq!(
        last,
        format!(
            "error: cannot listen on {addr}: the address is already in use (is another node running? choose another with --listen)"
        )
    );
}

#[test]
fn an_unwritable_data_directory_is_one_line_and_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    // A file where the directory should be: nobody can create a directory under it, root
    // included.
    let blocker = dir.path().join("not-a-dir");
    std::fs::write(&blocker, "x").unwrap();
    let data_dir = blocker.join("data");
    let (code, _, stderr) = run(tandem()
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data_dir));
    assert_eq!(code, 2, "{stderr}");
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with(&format!(
            "error: cannot use data directory {}:",
            data_dir.display()
        )),
        "{stderr}"
    );
}

/// Starts `tandem serve` on a free port with `extra` flags, reads its stdout until a line
/// contains `until`, and returns it with its local URL.
pub fn serve(dir: &std::path::Path, extra: &[&str], until: &str) -> (Running, String) {
    let child = tandem()
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        // Other test nodes are on loopback too.
        .arg("--allow-private-destinations")
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut node = Running(child);
    let lines = read_until(&mut node.0, until);
    let url = lines
        .iter()
        .find_map(|l| l.strip_prefix("Tandem node listening on "))
        .expect("address line")
        .to_owned();
    (node, url)
}

#[test]
fn serve_keeps_the_setup_link_in_a_private_file_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    // Output to a pipe (a service's log) names the file, not the link.
    let (mut node, listening) = serve(dir.path(), &[], "No administrator yet");
    let file = dir.path().join("setup-link.txt");
    let link = std::fs::read_to_string(&file).unwrap();
    assert!(link.contains("/setup?token="), "{link}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }
    let health = reqwest::blocking_get(&format!("{listening}/healthz"));
    assert_eq!(health, 200);

    let pid = node.0.id().to_string();
    let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = node.0.try_wait().unwrap() {
            assert!(status.success(), "exit status {status:?}");
            break;
        }
        assert!(Instant::now() < deadline, "node did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn json_logs_are_one_json_object_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let (mut node, _) = serve(dir.path(), &["--log-format", "json"], "Console:");
    let pid = node.0.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let out = node.0.wait_with_output_ref();
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines.len() >= 2, "{out}");
    for line in &lines {
        let event: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| {
            panic!("not JSON ({e}): {line}");
        });
        assert!(event["fields"]["message"].is_string(), "{line}");
    }
    assert!(out.contains("Node started."), "{out}");
    assert!(out.contains("Node stopped."), "{out}");
}

trait WaitStderr {
    /// Waits for the process to exit and returns what it wrote to stderr.
    fn wait_with_output_ref(&mut self) -> String;
}

impl WaitStderr for Child {
    fn wait_with_output_ref(&mut self) -> String {
        use std::io::Read;
        let mut err = String::new();
        if let Some(mut stderr) = self.stderr.take() {
            stderr.read_to_string(&mut err).unwrap();
        }
        let _ = self.wait();
        err
    }
}

#[test]
fn token_create_prints_a_token_the_api_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = run(tandem()
        .args(["token", "create", "--name", "automation", "--data-dir"])
        .arg(dir.path()));
    assert_eq!(code, 0, "{stderr}");
    let token = stdout.trim().to_owned();
    assert_eq!(token.len(), 43);

    let (_node, listening) = serve(dir.path(), &[], "Console:");
    let code = reqwest::blocking_get_with_token(&format!("{listening}/api/v1/projects"), &token);
    assert_eq!(code, 200);
    let code = reqwest::blocking_get_with_token(&format!("{listening}/api/v1/projects"), "wrong");
    assert_eq!(code, 401);
}

#[test]
fn token_create_takes_a_scope_that_token_list_shows() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, stderr) = run(tandem()
        .args([
            "token",
            "create",
            "--name",
            "dashboard",
            "--scope",
            "read",
            "--data-dir",
        ])
        .arg(dir.path()));
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("read-only API token 'dashboard'"),
        "{stderr}"
    );
    let (code, stdout, stderr) = run(tandem()
        .args(["token", "list", "--data-dir"])
        .arg(dir.path()));
    assert_eq!(code, 0, "{stderr}");
    let line = stdout.lines().find(|l| l.contains("dashboard")).unwrap();
    assert!(line.split_whitespace().any(|w| w == "read"), "{stdout}");
    let (code, _, stderr) = run(tandem()
        .args([
            "token",
            "create",
            "--name",
            "x",
            "--scope",
            "root",
            "--data-dir",
        ])
        .arg(dir.path()));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("choose read, sync or admin"), "{stderr}");
}

#[test]
fn demo_starts_two_seeded_nodes_and_prints_their_urls_and_login() {
    let child = tandem()
        .arg("demo")
        // Warnings and errors only: a pipe nobody drains until the end must not fill up.
        .env("TANDEM_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut demo = Running(child);
    let lines = read_until(&mut demo.0, "Sign in to the service desk");
    let urls: Vec<String> = lines
        .iter()
        .filter_map(|l| l.split_whitespace().last())
        .filter(|w| w.starts_with("http://127.0.0.1:"))
        .map(str::to_owned)
        .collect();
    assert_eq!(urls.len(), 2, "{lines:?}");
    // Each side has its own person signed in (issue 16, point 11): what one wrote never reads
    // as the other's admin.
    let login = lines.last().unwrap();
    let quoted: Vec<&str> = login.split('\'').skip(1).step_by(2).collect();
    let [desk_user, engineering_user, password] = quoted[..] else {
        panic!("two users and a password in the login line: {login}")
    };
    assert_eq!((desk_user, engineering_user), ("sam.rivera", "kim.lee"));
    assert!(
        login.contains("(Sam Rivera)") && login.contains("(Kim Lee)"),
        "{login}"
    );
    assert!(password.len() >= 8, "{login}");
    assert!(
        lines.iter().any(|l| l.contains(
            "connection 'servicedesk_to_engineering' (Script mode) and the engineering node accepted"
        )),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("Items labelled 'sync' are under sync")),
        "{lines:?}"
    );
    let instance = lines
        .iter()
        .find(|l| l.contains("ServiceNow (incidents)"))
        .and_then(|l| {
            l.split_whitespace()
                .find(|w| w.starts_with("http://127.0.0.1:"))
        })
        .expect("the emulated ServiceNow's URL")
        .to_owned();
    // The service desk mirrors the three seeded incidents, engineering has its dozen items;
    // each shows more once the other side's have come over.
    for ((url, own), user) in urls.iter().zip([3, 12]).zip([desk_user, engineering_user]) {
        assert_eq!(reqwest::blocking_get(&format!("{url}/healthz")), 200);
        let mut count = 0;
        for _ in 0..150 {
            count = reqwest::blocking_login_and_count_items(url, user, password);
            if count > own {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        assert!(
            count > own,
            "{url} shows {count} items: the other side's did not arrive"
        );
        let connections = reqwest::blocking_login_and_get(url, user, password, "/connections");
        assert!(
            connections.contains("servicedesk_to_engineering") && connections.contains("Active"),
            "the demo connection is active on {url}"
        );
    }
    // Engineering's items labelled sync became incidents in ServiceNow itself.
    let mut incidents = 0;
    for _ in 0..150 {
        let (status, body) = reqwest::blocking_get_basic(
            &format!("{instance}/api/now/table/incident?sysparm_fields=number"),
            desk_user,
            password,
        );
        assert_eq!(status, 200, "{body}");
        incidents = body["result"].as_array().map_or(0, Vec::len);
        if incidents > 3 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(incidents > 3, "ServiceNow holds {incidents} incidents");
}

/// Small blocking helpers over an async client, for tests that drive a child process.
mod reqwest {
    pub fn blocking_get(url: &str) -> u16 {
        rt().block_on(async { ::reqwest::get(url).await.unwrap().status().as_u16() })
    }

    pub fn blocking_get_with_token(url: &str, token: &str) -> u16 {
        rt().block_on(async {
            ::reqwest::Client::new()
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        })
    }

    /// A GET with Basic auth; the status and the JSON answer.
    pub fn blocking_get_basic(url: &str, user: &str, password: &str) -> (u16, serde_json::Value) {
        rt().block_on(async {
            let resp = ::reqwest::Client::new()
                .get(url)
                .basic_auth(user, Some(password))
                .send()
                .await
                .unwrap();
            let status = resp.status().as_u16();
            (status, resp.json().await.unwrap_or_default())
        })
    }

    /// Signs in to the console and counts the items on the Items page.
    pub fn blocking_login_and_count_items(url: &str, user: &str, password: &str) -> usize {
        blocking_login_and_get(url, user, password, "/items")
            .matches("<tr>")
            .count()
            .saturating_sub(1)
    }

    /// Signs in to the console and returns the page at `path`.
    pub fn blocking_login_and_get(url: &str, user: &str, password: &str, path: &str) -> String {
        rt().block_on(async {
            let client = ::reqwest::Client::builder()
                .cookie_store(true)
                .build()
                .unwrap();
            let html = client
                .get(format!("{url}/login"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            let marker = "name=\"csrf\" value=\"";
            let start = html.find(marker).unwrap() + marker.len();
            let csrf = &html[start..start + 43];
            client
                .post(format!("{url}/login"))
                .form(&[
                    ("username", user),
                    ("password", password),
                    ("csrf", csrf),
                    ("next", path),
                ])
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        })
    }

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }
}

fn shared_dir() -> std::path::PathBuf {
    std::env::var_os("TANDEM_SHARED_DIR")
        .map(Into::into)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared"))
}

#[test]
fn script_run_prints_the_conformance_format() {
    let case = shared_dir().join("conformance/groovy/basics/assign-properties");
    let (code, stdout, stderr) = run(tandem()
        .args(["script", "run"])
        .arg(case.join("script.groovy"))
        .arg("--input")
        .arg(case.join("input.json")));
    assert_eq!(code, 0, "{stderr}");
    let got: serde_json::Value = serde_json::from_str(&stdout).expect("JSON on stdout");
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(case.join("expected.json")).unwrap())
            .unwrap();
    assert_eq!(got, expected);
}

#[test]
fn script_errors_name_the_line_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rules.groovy");
    std::fs::write(&file, "replica.summary = issue.summary\nthrow new com.exalate.api.exception.IssueTrackerException(\"no summary\")\n").unwrap();
    let input = dir.path().join("vars.json");
    std::fs::write(
        &input,
        r#"{"issue": {"summary": "Printer"}, "replica": {}}"#,
    )
    .unwrap();
    let (code, stdout, _) = run(tandem()
        .args(["script", "run"])
        .arg(&file)
        .arg("--input")
        .arg(&input));
    assert_eq!(code, 1);
    let got: serde_json::Value = serde_json::from_str(&stdout).expect("JSON on stdout");
    assert_eq!(got["error"]["line"], 2, "{got}");
    assert!(
        got["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no summary"),
        "{got}"
    );
    assert_eq!(got["variables"]["replica"]["summary"], "Printer");

    std::fs::write(&file, "def x = [1, 2\n").unwrap();
    let (code, _, stderr) = run(tandem().args(["script", "check"]).arg(&file));
    assert_eq!(code, 1);
    assert!(stderr.contains("rules.groovy:"), "{stderr}");
    assert!(stderr.contains('^'), "{stderr}");

    std::fs::write(&file, "def x = [1, 2]\n").unwrap();
    let (code, _, _) = run(tandem().args(["script", "check"]).arg(&file));
    assert_eq!(code, 0);
}

/// Starts `tandem emulate <args>` on a port the OS picks and reads its URL from the banner,
/// the line that contains `banner`.
fn emulator(args: &[&str], banner: &str) -> (Running, String) {
    let child = tandem()
        .arg("emulate")
        .args(args)
        .args(["--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut emulator = Running(child);
    let lines = read_until(&mut emulator.0, banner);
    let url = lines
        .last()
        .and_then(|l| {
            l.split_whitespace()
                .find(|w| w.starts_with("http://127.0.0.1:"))
        })
        .expect("URL in the banner")
        .to_owned();
    (emulator, url)
}

#[test]
fn emulate_jira_serves_rest_v3_to_its_user_and_api_token() {
    let (_emulator, url) = emulator(
        &[
            "jira",
            "--user",
            "ann@example.com",
            "--token",
            "t0ken",
            "--project",
            "OPS=Operations",
        ],
        "not Jira",
    );
    let (status, me) = reqwest::blocking_get_basic(
        &format!("{url}/rest/api/3/myself"),
        "ann@example.com",
        "t0ken",
    );
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["emailAddress"], "ann@example.com", "{me}");
    let (status, project) = reqwest::blocking_get_basic(
        &format!("{url}/rest/api/3/project/OPS"),
        "ann@example.com",
        "t0ken",
    );
    assert_eq!(status, 200, "{project}");
    assert_eq!(project["name"], "Operations", "{project}");
    let (status, _) = reqwest::blocking_get_basic(
        &format!("{url}/rest/api/3/myself"),
        "ann@example.com",
        "wrong",
    );
    assert_eq!(status, 401);
}

#[test]
fn emulate_servicenow_serves_the_table_api_with_basic_auth() {
    let (_emulator, url) = emulator(
        &["servicenow", "--user", "sync.user", "--password", "s3cret"],
        "not ServiceNow",
    );
    let (status, body) = reqwest::blocking_get_basic(
        &format!("{url}/api/now/table/incident?sysparm_limit=1"),
        "sync.user",
        "s3cret",
    );
    assert_eq!(status, 200, "{body}");
    assert!(body["result"].is_array(), "{body}");
    let (status, body) = reqwest::blocking_get_basic(
        &format!("{url}/api/now/table/incident"),
        "sync.user",
        "wrong",
    );
    assert_eq!(status, 401);
    assert_eq!(body["status"], "failure", "{body}");
}
