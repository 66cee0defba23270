//! Issue 16, point 13 and the packaging: the small things a new admin notices, over HTTP as a
//! browser without JavaScript uses the console, and the `tandem` binary as an admin runs it
//! (the Initiate wizard's wording and the copy buttons are walked in Chromium:
//! `browser_wizard`).

use std::io::Read;
use std::process::Stdio;

use crate::cli::{Running, run, tandem};
use crate::common::TestNode;
use crate::console::{browser, get_page, hidden, login};

/// Posts a console form; the client follows the redirect. Returns the status and the page.
async fn post(client: &reqwest::Client, url: String, form: &[(&str, &str)]) -> (u16, String) {
    let resp = client
        .post(url)
        .form(form)
        .send()
        .await
        .expect("form posts");
    let status = resp.status().as_u16();
    (status, resp.text().await.expect("page body"))
}

/// The text of the first `<p class="{class}"…>…</p>` of a page, unescaped.
fn paragraph(page: &str, class: &str) -> Option<String> {
    let at = page.find(&format!("<p class=\"{class}\""))?;
    let start = at + page[at..].find('>')? + 1;
    let end = start + page[start..].find("</p>")?;
    Some(
        page[start..end]
            .replace("&#34;", "\"")
            .replace("&#39;", "'")
            .replace("&#60;", "<")
            .replace("&#62;", ">")
            .replace("&#38;", "&"),
    )
}

/// A local Script connection (both sides on this node) made through the API; its id.
async fn local_connection(node: &TestNode, name: &str) -> String {
    let api = node.api();
    let (status, body) = api
        .json(
            api.post("/connections"),
            serde_json::json!({"to": node.url, "mode": "script", "local_name": "here",
                               "remote_name": "there", "name": name}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body["connection"]["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_flash_message_is_never_text_from_the_address() {
    let node = TestNode::start().await;
    let id = local_connection(&node, "here_to_there").await;
    let (client, no_redirects) = session_pair();
    login(&node, &client).await;
    let url = |p: &str| format!("{}{p}", node.url);

    // A link anyone could send: its text is not shown, as a notice or as an error.
    for page in [
        "/connections?flash=Your+license+expired%3A+call+Mallory+at+%2B1+555+0100",
        "/connections?error=Your+license+expired%3A+call+Mallory+at+%2B1+555+0100",
        "/connections?flash=Your+license+expired%3A+call+Mallory+at+%2B1+555+0100&sig=AAAA",
        "/sync/errors?flash=Your+license+expired%3A+call+Mallory+at+%2B1+555+0100",
        &format!(
            "/connections/{id}/edit?flash=Your+license+expired%3A+call+Mallory+at+%2B1+555+0100"
        ),
        "/items?flash=Your+license+expired%3A+call+Mallory+at+%2B1+555+0100",
        "/projects/new?flash=Your+license+expired%3A+call+Mallory+at+%2B1+555+0100",
    ] {
        let html = get_page(&client, url(page)).await;
        assert!(
            !html.contains("Mallory"),
            "{page} shows text from its address:\n{html}"
        );
    }

    // The console's own message, after its own action, is shown; the address it was sent to
    // shows nothing in another session.
    let list = get_page(&client, url("/connections")).await;
    let csrf = hidden(&list, "csrf");
    let resp = no_redirects
        .post(url(&format!("/connections/{id}/deactivate")))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 303);
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.contains("sig="), "{location}");
    let mine = get_page(&client, url(&location)).await;
    assert_eq!(
        paragraph(&mine, "notice").as_deref(),
        Some(
            "Connection here_to_there is deactivated: changes wait and flow again when you activate it."
        ),
        "{mine}"
    );
    let other = browser();
    login(&node, &other).await;
    let theirs = get_page(&other, url(&location)).await;
    assert!(paragraph(&theirs, "notice").is_none(), "{theirs}");
}

/// Two clients of one browser session (one cookie jar): one follows redirects as a browser
/// does, the other does not, to read where a redirect goes.
fn session_pair() -> (reqwest::Client, reqwest::Client) {
    let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
    let client = |policy| {
        reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(policy)
            .build()
            .unwrap()
    };
    (
        client(reqwest::redirect::Policy::limited(5)),
        client(reqwest::redirect::Policy::none()),
    )
}

#[tokio::test]
async fn every_problem_of_a_form_shows_at_once_each_a_sentence_and_parse_errors_keep_their_lines() {
    let node = TestNode::start().await;
    let id = local_connection(&node, "here_to_there").await;
    let client = browser();
    let csrf = login(&node, &client).await;
    let url = |p: &str| format!("{}{p}", node.url);

    // Step 3 of the wizard with three problems: all three are named, each field marked, and
    // the service's lower-case refusal reads as a sentence.
    let (status, page) = post(
        &client,
        url("/connections/initiate"),
        &[
            ("csrf", &csrf),
            ("url", &node.url),
            ("mode", "script"),
            ("local_short_name", "Acme Corp!"),
            ("remote_short_name", "Globex Inc"),
            ("name", "here_to_there"),
        ],
    )
    .await;
    assert_eq!(status, 400, "{page}");
    let error = paragraph(&page, "error").expect("an error");
    let lines: Vec<&str> = error.lines().collect();
    assert_eq!(lines.len(), 3, "{error}");
    assert!(
        lines[0].starts_with("Local instance short name: contains a space"),
        "{error}"
    );
    assert!(
        lines[1].starts_with("Remote instance short name: contains a space"),
        "{error}"
    );
    assert!(
        lines[2].starts_with("A connection named 'here_to_there' already exists"),
        "{error}"
    );
    for field in ["local_short_name", "remote_short_name", "name"] {
        let at = page.find(&format!("name=\"{field}\"")).unwrap();
        let tag = &page[at..at + page[at..].find('>').unwrap()];
        assert!(tag.contains("aria-invalid=\"true\""), "{field}: {tag}");
    }

    // The API says the same, all at once.
    let api = node.api();
    let (status, body) = api
        .json(
            api.post("/connections"),
            serde_json::json!({"to": node.url, "mode": "script", "local_name": "Acme Corp!",
                               "remote_name": "Globex Inc", "name": "here_to_there"}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert_eq!(message.lines().count(), 3, "{message}");

    // Both scripts of a Publish are checked, and a parse error keeps its lines (the source
    // line and the caret under the column).
    let (status, page) = post(
        &client,
        url(&format!("/connections/{id}/rules")),
        &[
            ("csrf", &csrf),
            ("outgoing_script", "replica.summary = (issue.summary\n"),
            ("incoming_script", "issue.summary = replica.summary +\n"),
        ],
    )
    .await;
    assert_eq!(status, 400, "{page}");
    let error = paragraph(&page, "error").expect("an error");
    assert!(
        error.starts_with("The outgoing script does not parse"),
        "{error}"
    );
    assert!(
        error.contains("\nThe incoming script does not parse"),
        "{error}"
    );
    assert!(
        error
            .lines()
            .any(|l| l.contains(" | ") && l.trim_end().ends_with('^')),
        "{error}"
    );
    let css = get_page(&client, url("/assets/tandem.css")).await;
    let rule = css.lines().find(|l| l.starts_with(".error {")).unwrap();
    assert!(rule.contains("white-space: pre-wrap"), "{rule}");
}

#[tokio::test]
async fn an_empty_connections_page_shows_the_table_and_private_connections_are_marked() {
    let a = TestNode::start().await;
    let b = TestNode::start().await;
    let client = browser();
    login(&a, &client).await;
    let page = get_page(&client, format!("{}/connections", a.url)).await;
    let table = &page[page
        .find("<table class=\"list connections\">")
        .expect("the table")..];
    let head = &table[..table.find("</thead>").unwrap()];
    for column in ["Connection", "Work items under sync", "Last sync", "Status"] {
        assert!(head.contains(&format!("<th>{column}</th>")), "{head}");
    }
    assert!(table.contains("There are no connections yet."), "{table}");

    // A invites a private node; B accepts without a URL of its own.
    let (status, made) = a
        .api()
        .json(
            a.api().post("/connections"),
            serde_json::json!({"private": true, "mode": "basic", "local_name": "acme",
                               "remote_name": "globex"}),
        )
        .await;
    assert_eq!(status, 201, "{made}");
    let code = made["invitation_code"].as_str().unwrap();
    let (status, accepted) = b
        .api()
        .json(
            b.api().post("/invitations/accept"),
            serde_json::json!({"code": code}),
        )
        .await;
    assert_eq!(status, 201, "{accepted}");
    let marked = |page: &str| -> Option<String> {
        let at = page.find("<span class=\"badge private\"")?;
        let tag = &page[at..at + page[at..].find("</span>")?];
        Some(tag.to_owned())
    };
    let on_a = marked(&get_page(&client, format!("{}/connections", a.url)).await)
        .expect("A marks the connection private");
    assert!(on_a.contains("globex is the private side"), "{on_a}");
    let client_b = browser();
    login(&b, &client_b).await;
    let on_b = marked(&get_page(&client_b, format!("{}/connections", b.url)).await)
        .expect("B marks the connection private");
    assert!(on_b.contains("This node is the private side"), "{on_b}");
}

#[tokio::test]
async fn a_servicenow_node_suggests_encoded_queries_and_offers_no_new_project() {
    let instance = crate::servicenow::Instance::with(crate::servicenow::emulator_config()).await;
    let node = TestNode::start_with(|c| {
        c.servicenow = Some(crate::servicenow::node_config(
            instance.emu.base_url(),
            &["incident"],
            None,
        ))
    })
    .await;
    let plain = TestNode::start().await;
    let client = browser();
    let csrf = login(&node, &client).await;
    let url = |p: &str| format!("{}{p}", node.url);
    local_connection(&node, "here_to_there").await;

    let triggers = get_page(&client, url("/sync/triggers")).await;
    assert!(triggers.contains("encoded-query syntax"), "{triggers}");
    assert!(
        triggers.contains("placeholder=\"urgency=1^active=true\""),
        "{triggers}"
    );
    assert!(
        triggers.contains("<code>priority&#60;=2^state!=7</code>"),
        "{triggers}"
    );
    assert!(!triggers.contains("project = SUP"), "{triggers}");

    let items = get_page(&client, url("/items")).await;
    assert!(!items.contains("New project"), "{items}");
    assert!(!items.contains("href=\"/projects/new\""), "{items}");
    let new_project = get_page(&client, url("/projects/new")).await;
    assert!(
        new_project.contains("id=\"servicenow-projects\""),
        "{new_project}"
    );
    assert!(
        !new_project.contains("action=\"/projects/new\""),
        "{new_project}"
    );
    let (status, _) = post(
        &client,
        url("/projects/new"),
        &[("csrf", &csrf), ("key", "OPS"), ("name", "Operations")],
    )
    .await;
    assert_eq!(status, 400);

    // The built-in tracker keeps its own query language and its New project.
    let client = browser();
    login(&plain, &client).await;
    local_connection(&plain, "here_to_there").await;
    let triggers = get_page(&client, format!("{}/sync/triggers", plain.url)).await;
    assert!(triggers.contains("project = SUP"), "{triggers}");
    assert!(!triggers.contains("urgency=1"), "{triggers}");
    let items = get_page(&client, format!("{}/items", plain.url)).await;
    assert!(items.contains("href=\"/projects/new\""), "{items}");
}

/// Waits for a child to exit after SIGTERM and returns what it wrote to stderr.
fn stop_and_read_stderr(node: &mut Running) -> String {
    let pid = node.0.id().to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    let mut err = String::new();
    if let Some(mut stderr) = node.0.stderr.take() {
        stderr.read_to_string(&mut err).unwrap();
    }
    let _ = node.0.wait();
    err
}

#[test]
fn logs_to_a_pipe_have_no_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    let (mut node, _) = crate::cli::serve(dir.path(), &[], "Console:");
    let log = stop_and_read_stderr(&mut node);
    assert!(log.contains("Node started."), "{log}");
    assert!(
        !log.contains('\u{1b}'),
        "colour codes in a log that is no terminal:\n{log:?}"
    );
}

#[tokio::test]
async fn token_commands_ask_the_running_node_with_an_admin_token() {
    const ADMIN: &str = "an-admin-token-for-the-cli-0123";
    let dir = tempfile::tempdir().unwrap();
    let (_node, url) = crate::cli::serve(dir.path(), &["--admin-token", ADMIN], "Console:");

    // Without a token, the database is the running node's: the message says what works.
    let (code, _, stderr) = run(tandem()
        .args(["token", "create", "--name", "ci", "--data-dir"])
        .arg(dir.path()));
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("pass an admin API token with --token"),
        "{stderr}"
    );

    let (code, stdout, stderr) = run(tandem().args([
        "token",
        "create",
        "--name",
        "dashboard",
        "--scope",
        "read",
        "--node",
        &url,
        "--token",
        ADMIN,
    ]));
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("read-only API token 'dashboard'"),
        "{stderr}"
    );
    let made = stdout.trim().to_owned();
    assert_eq!(made.len(), 43, "{stdout}");
    let http = reqwest::Client::new();
    let status = |method: reqwest::Method, path: &str, token: &str| {
        http.request(method, format!("{url}/api/v1{path}"))
            .bearer_auth(token)
            .json(&serde_json::json!({"key": "OPS", "name": "Operations"}))
            .send()
    };
    assert_eq!(
        status(reqwest::Method::GET, "/projects", &made)
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        status(reqwest::Method::POST, "/projects", &made)
            .await
            .unwrap()
            .status(),
        403
    );
    // A read token neither lists nor makes tokens.
    assert_eq!(
        status(reqwest::Method::GET, "/tokens", &made)
            .await
            .unwrap()
            .status(),
        403
    );

    let (code, stdout, stderr) = run(tandem()
        .env("TANDEM_TOKEN", ADMIN)
        .args(["token", "list", "--node", &url]));
    assert_eq!(code, 0, "{stderr}");
    let line = stdout
        .lines()
        .find(|l| l.contains("dashboard"))
        .expect(&stdout);
    assert!(line.split_whitespace().any(|w| w == "read"), "{stdout}");
    assert!(line.contains("active"), "{line}");
    let id = line.split_whitespace().next().unwrap().to_owned();

    let (code, _, stderr) =
        run(tandem().args(["token", "revoke", &id, "--node", &url, "--token", ADMIN]));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        status(reqwest::Method::GET, "/projects", &made)
            .await
            .unwrap()
            .status(),
        401
    );
}

/// The flags of the unit's `ExecStart`, after `tandem serve`.
fn unit_flags(unit: &str) -> Vec<String> {
    let exec = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("an ExecStart line");
    let mut words = exec.split_whitespace();
    assert_eq!(words.next(), Some("/usr/local/bin/tandem"));
    assert_eq!(words.next(), Some("serve"));
    words
        .filter(|w| w.starts_with("--"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn serve_help_states_the_defaults_and_the_units_flags() {
    let (code, help, stderr) = run(tandem().args(["serve", "--help"]));
    assert_eq!(code, 0, "{stderr}");
    for stated in [
        "[default: 127.0.0.1:7341]",
        "[default: ./tandem-data]",
        "\"Tandem node\"]",
        "[default: text]",
        "[default: full]",
        "[default: 72]",
    ] {
        assert!(
            help.contains(stated),
            "serve --help lacks {stated}:\n{help}"
        );
    }
    assert!(!help.contains("host part of the node URL"), "{help}");

    let unit = include_str!("../packaging/tandem.service");
    let flags = unit_flags(unit);
    assert!(
        flags.contains(&"--admin-password-file".to_owned()),
        "{flags:?}"
    );
    for flag in &flags {
        assert!(
            help.contains(&format!("{flag} ")),
            "serve has no {flag}:\n{help}"
        );
    }
    // The password comes from a credential, never a flag or the environment.
    assert!(!flags.contains(&"--admin-password".to_owned()), "{flags:?}");
    assert!(!unit.contains("TANDEM_ADMIN_PASSWORD="), "{unit}");
    for line in [
        "DynamicUser=yes",
        "StateDirectory=tandem",
        "LoadCredential=admin-password:/etc/tandem/admin-password",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
    ] {
        assert!(unit.lines().any(|l| l == line), "the unit lacks {line}");
    }
}

#[test]
fn the_systemd_unit_passes_systemd_analyze_verify() {
    let dir = tempfile::tempdir().unwrap();
    // Verify checks that the program exists: this build's binary stands in for the installed one.
    let unit = include_str!("../packaging/tandem.service")
        .replace("/usr/local/bin/tandem", env!("CARGO_BIN_EXE_tandem"));
    let path = dir.path().join("tandem.service");
    std::fs::write(&path, unit).unwrap();
    let out = std::process::Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("systemd-analyze is installed (apt-get install systemd; ./scripts/test does it)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        !stderr.lines().any(|l| l.contains("tandem.service")),
        "{stderr}"
    );
}

#[tokio::test]
async fn the_api_lists_makes_and_revokes_tokens_for_admin_tokens_only() {
    let node = TestNode::start().await;
    let api = node.api();
    let (status, made) = api
        .json(
            api.post("/tokens"),
            serde_json::json!({"name": "ci-pipeline", "scope": "sync"}),
        )
        .await;
    assert_eq!(status, 201, "{made}");
    assert_eq!(made["scope"], "sync");
    let secret = made["token"].as_str().unwrap().to_owned();
    let (_, listed) = api.send(api.get("/tokens")).await;
    let tokens = listed["tokens"].as_array().unwrap();
    let mine = tokens.iter().find(|t| t["name"] == "ci-pipeline").unwrap();
    assert!(
        mine.get("token").is_none(),
        "a listed token hides its secret: {mine}"
    );
    assert!(!listed.to_string().contains(&secret));

    let as_sync = crate::common::Api {
        token: Some(secret.clone()),
        ..api.clone()
    };
    let (status, _) = as_sync.send(as_sync.get("/tokens")).await;
    assert_eq!(status, 403);
    let (status, body) = api
        .json(api.post("/tokens"), serde_json::json!({"name": "   "}))
        .await;
    assert_eq!(status, 400, "{body}");

    let id = mine["id"].as_i64().unwrap();
    let (status, revoked) = api.send(api.post(&format!("/tokens/{id}/revoke"))).await;
    assert_eq!(status, 200, "{revoked}");
    assert!(revoked["revoked"].is_string(), "{revoked}");
    let (status, _) = as_sync.send(as_sync.get("/projects")).await;
    assert_eq!(status, 401);
}
