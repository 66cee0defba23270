//! Login throttling, redirects after login, the one-time setup link, log lines and scoped API
//! tokens: what a network attacker without credentials, or a holder of a limited API token,
//! gets from a node.

use reqwest::StatusCode;
use reqwest::header::{LOCATION, RETRY_AFTER};
use serde_json::json;

use crate::common::{PASSWORD, TestNode};
use crate::console::{browser, get_page, hidden, login};

/// A client that shows redirects instead of following them.
fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Opens the login page (for its CSRF cookie and token) and signs in; returns the answer.
async fn try_login(
    client: &reqwest::Client,
    node: &TestNode,
    username: &str,
    password: &str,
    next: &str,
) -> reqwest::Response {
    try_login_at(client, &node.url, username, password, next).await
}

async fn try_login_at(
    client: &reqwest::Client,
    url: &str,
    username: &str,
    password: &str,
    next: &str,
) -> reqwest::Response {
    let html = get_page(client, format!("{url}/login")).await;
    let csrf = hidden(&html, "csrf");
    client
        .post(format!("{url}/login"))
        .form(&[
            ("username", username),
            ("password", password),
            ("csrf", &csrf),
            ("next", next),
        ])
        .send()
        .await
        .expect("login answers")
}

#[tokio::test]
async fn a_hundred_wrong_passwords_lock_the_user_so_the_right_one_then_gets_429() {
    let node = TestNode::start().await;
    let client = no_redirects();
    let retry_after = |resp: &reqwest::Response| -> u64 {
        resp.headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok()?.parse().ok())
            .unwrap_or(0)
    };
    // A hundred wrong passwords, and on until the node asks for a wait long enough that the
    // next request surely falls in it, however slow this machine is.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut throttled = false;
    for attempt in 1.. {
        let resp = try_login(&client, &node, "admin", "wrong password", "/items").await;
        assert_ne!(
            resp.status(),
            StatusCode::SEE_OTHER,
            "a wrong password got in"
        );
        let status = resp.status();
        throttled |= status == StatusCode::TOO_MANY_REQUESTS;
        assert!(
            attempt < 100 || throttled,
            "100 wrong passwords were all checked"
        );
        if attempt >= 100 && status == StatusCode::TOO_MANY_REQUESTS && retry_after(&resp) >= 4 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the node never asked for a long wait"
        );
    }
    let resp = try_login(&client, &node, "admin", PASSWORD, "/items").await;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = resp
        .headers()
        .get(RETRY_AFTER)
        .expect("Retry-After")
        .to_str()
        .unwrap()
        .parse()
        .expect("Retry-After in seconds");
    assert!(wait > 0, "{wait}");
    let html = resp.text().await.unwrap();
    assert!(html.contains("Too many failed sign-ins"), "{html}");
    // The page still lets the user try again later.
    assert!(html.contains("name=\"csrf\""), "{html}");
}

#[tokio::test]
async fn eight_parallel_posts_of_the_setup_link_create_exactly_one_admin() {
    let node = TestNode::start_with(|c| c.admin_password = None).await;
    let running = node.node.as_ref().unwrap();
    let link = running.setup_link.clone().expect("setup link");
    let html = get_page(&browser(), &link).await;
    let token = hidden(&html, "token");
    let posts: Vec<_> = (0..8)
        .map(|i| {
            let (url, token) = (format!("{}/setup", node.url), token.clone());
            tokio::spawn(async move {
                no_redirects()
                    .post(url)
                    .form(&[
                        ("token", token.as_str()),
                        ("username", &format!("admin{i}")),
                        ("password", "s3cret-enough"),
                        ("confirm", "s3cret-enough"),
                    ])
                    .send()
                    .await
                    .expect("setup answers")
                    .status()
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for post in posts {
        statuses.push(post.await.expect("setup task"));
    }
    let created = statuses
        .iter()
        .filter(|s| **s == StatusCode::SEE_OTHER)
        .count();
    assert_eq!(created, 1, "{statuses:?}");
    assert_eq!(running.state.store().user_count().await.unwrap(), 1);
}

#[tokio::test]
async fn a_next_of_slash_tab_slash_host_redirects_to_the_console_not_another_site() {
    let node = TestNode::start().await;
    let client = no_redirects();
    let html = get_page(
        &client,
        format!("{}/login?next=/%09/evil.example", node.url),
    )
    .await;
    let next = hidden(&html, "next");
    assert_eq!(next, "/", "the login page keeps a dangerous next");
    // Posted directly, as a forged form would.
    let resp = try_login(&client, &node, "admin", PASSWORD, "/\t/evil.example").await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(resp.headers()[LOCATION], "/");
}

/// The node runs as its own process and the test reads its log, as an operator would: a
/// subscriber set in the test process would race the other tests' (tracing's caches are
/// process-wide), and miss lines now and then.
#[tokio::test]
async fn a_newline_in_a_failed_login_user_name_does_not_forge_a_log_line() {
    let root = tempfile::tempdir().unwrap();
    let mut node = crate::sync_chaos::NodeProcess::start("login", root.path()).await;
    let resp = try_login_at(&no_redirects(), &node.url(), "x\nFAKE LINE", "wrong", "/").await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let log_file = root.path().join("login").join("node.log");
    let read = || std::fs::read_to_string(&log_file).unwrap_or_default();
    crate::sync::eventually("the failed login is logged", || async {
        read().contains("Console login failed.")
    })
    .await;
    let log = read();
    assert!(
        !log.lines().any(|line| line.starts_with("FAKE LINE")),
        "{log}"
    );
    node.kill();
}

/// Creates an API token with `scope` in the console and returns it.
pub(crate) async fn token_with_scope(node: &TestNode, scope: &str) -> String {
    let client = browser();
    let csrf = login(node, &client).await;
    let resp = client
        .post(format!("{}/settings/tokens", node.url))
        .form(&[("csrf", csrf.as_str()), ("name", scope), ("scope", scope)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let html = resp.text().await.unwrap();
    let marker = "class=\"token\" value=\"";
    let start = html.find(marker).expect("new token shown") + marker.len();
    html[start..][..html[start..].find('"').unwrap()].to_owned()
}

#[tokio::test]
async fn a_read_only_token_reads_but_cannot_post() {
    let node = TestNode::start().await;
    let mut api = node.api();
    api.token = Some(token_with_scope(&node, "read").await);
    let (status, body) = api.send(api.get("/projects")).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = api
        .json(api.post("/projects"), json!({"key": "OPS", "name": "Ops"}))
        .await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("read-only"),
        "{body}"
    );
}

#[tokio::test]
async fn a_sync_operator_token_runs_sync_operations_but_cannot_change_connection_rules() {
    let node = TestNode::start().await;
    let admin = node.api();
    let (status, body) = admin
        .json(
            admin.post("/connections"),
            json!({"private": true, "mode": "script", "local_name": "acme", "remote_name": "hidden"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let mut api = node.api();
    api.token = Some(token_with_scope(&node, "sync").await);
    let (status, body) = api
        .json(
            api.patch("/connections/acme_to_hidden"),
            json!({"outgoing_script": "replica.summary = 'stolen'"}),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    // A sync operation is let through (and fails on its own terms: there is no such error).
    let (status, body) = api.send(api.post("/sync/errors/999999/retry")).await;
    assert_eq!(status, 404, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("sync error 999999 does not exist"),
        "{body}"
    );
    let (status, body) = api.send(api.get("/connections")).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn pending_invitations_are_capped_with_a_clear_error() {
    let node = TestNode::start().await;
    let api = node.api();
    let invite = async |i: usize| {
        api.json(
            api.post("/connections"),
            json!({"private": true, "mode": "script", "local_name": "acme", "remote_name": format!("peer{i}")}),
        )
        .await
    };
    for i in 0..90 {
        let (status, body) = invite(i).await;
        assert_eq!(status, 201, "invitation {i}: {body}");
    }
    // Thirty at once for the last ten places: counted and made one at a time, so exactly ten.
    let mut racing = tokio::task::JoinSet::new();
    for i in 90..120 {
        let api = api.clone();
        racing.spawn(async move {
            api.json(
                api.post("/connections"),
                json!({"private": true, "mode": "script", "local_name": "acme", "remote_name": format!("peer{i}")}),
            )
            .await
            .0
        });
    }
    let statuses = racing.join_all().await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        10,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        20,
        "{statuses:?}"
    );
    let (status, body) = invite(120).await;
    assert_eq!(status, 429, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("100 invitations"),
        "{body}"
    );
}

#[tokio::test]
async fn public_node_info_does_not_show_the_software_version() {
    let node = TestNode::start().await;
    let info: serde_json::Value = reqwest::get(format!("{}/node/v1/info", node.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["product"], "tandem", "{info}");
    assert!(info.get("version").is_none(), "{info}");
}

/// An admin reads back the rules PATCH wrote; a read-only token does not see them (rules may
/// hold credentials for the calls they make).
#[tokio::test]
async fn a_connections_rules_are_read_back_by_admins_only() {
    let node = TestNode::start().await;
    let admin = node.api();
    let (status, body) = admin
        .json(
            admin.post("/connections"),
            json!({"private": true, "mode": "script", "local_name": "acme", "remote_name": "peer"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let outgoing = "replica.summary = issue.summary // token: s3cret";
    let (status, body) = admin
        .json(
            admin.patch("/connections/acme_to_peer"),
            json!({"outgoing_script": outgoing}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = admin.send(admin.get("/connections/acme_to_peer")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["connection"]["outgoing_script"], outgoing);
    assert!(body["connection"]["incoming_script"].is_string(), "{body}");

    let mut reader = node.api();
    reader.token = Some(token_with_scope(&node, "read").await);
    let (status, body) = reader.send(reader.get("/connections/acme_to_peer")).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["connection"].get("outgoing_script").is_none(),
        "{body}"
    );
    assert!(!body.to_string().contains("s3cret"), "{body}");
}
