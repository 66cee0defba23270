//! The web console over HTTP, as a browser without JavaScript uses it: forms, redirects,
//! cookies.

use crate::common::{PASSWORD, TestNode};

pub(crate) fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::limited(5))
        .build()
        .unwrap()
}

/// GETs a page and returns its HTML.
pub(crate) async fn get_page(client: &reqwest::Client, url: impl reqwest::IntoUrl) -> String {
    client
        .get(url)
        .send()
        .await
        .expect("page answers")
        .text()
        .await
        .expect("page body")
}

/// The value of the hidden input `name` in a page.
pub(crate) fn hidden(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page
        .find(&marker)
        .unwrap_or_else(|| panic!("no hidden {name} in page:\n{page}"))
        + marker.len();
    page[start..][..page[start..].find('"').unwrap()].to_owned()
}

pub(crate) async fn login(node: &TestNode, client: &reqwest::Client) -> String {
    let page = client
        .get(format!("{}/items", node.url))
        .send()
        .await
        .unwrap();
    assert!(page.url().path().starts_with("/login"), "{}", page.url());
    let html = page.text().await.unwrap();
    let csrf = hidden(&html, "csrf");
    let resp = client
        .post(format!("{}/login", node.url))
        .form(&[
            ("username", "admin"),
            ("password", PASSWORD),
            ("csrf", &csrf),
            ("next", "/items"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.url().path(), "/items");
    let html = resp.text().await.unwrap();
    assert!(html.contains("Signed in as"), "{html}");
    hidden(&html, "csrf")
}

#[tokio::test]
async fn pages_need_a_login_and_a_wrong_password_is_refused() {
    let node = TestNode::start().await;
    let client = browser();
    let resp = client
        .get(format!("{}/settings/general", node.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.url().path(), "/login");
    assert_eq!(resp.url().query(), Some("next=/settings/general"));
    let html = resp.text().await.unwrap();
    let csrf = hidden(&html, "csrf");
    let resp = client
        .post(format!("{}/login", node.url))
        .form(&[
            ("username", "admin"),
            ("password", "wrong"),
            ("csrf", &csrf),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("Wrong user name or password.")
    );
}

#[tokio::test]
async fn an_unknown_page_is_a_404_page() {
    let node = TestNode::start().await;
    let resp = browser()
        .get(format!("{}/no/such/page", node.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let csp = resp.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(resp.headers()["x-frame-options"], "DENY");
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("There is no page at this address")
    );
}

/// Browsers keep cookies per host whatever the port: two consoles on one host (the demo, "Go
/// to remote") must not sign each other out.
#[tokio::test]
async fn two_consoles_on_one_host_keep_both_sessions() {
    let (a, b) = (TestNode::start().await, TestNode::start().await);
    let client = browser();
    login(&a, &client).await;
    login(&b, &client).await;
    for node in [&a, &b, &a] {
        let page = client
            .get(format!("{}/items", node.url))
            .send()
            .await
            .unwrap();
        assert_eq!(
            page.url().path(),
            "/items",
            "still signed in on {}",
            node.url
        );
        assert!(page.text().await.unwrap().contains("Signed in as"));
    }
    // Signing out of one leaves the other signed in.
    let page = get_page(&client, format!("{}/items", a.url)).await;
    let csrf = hidden(&page, "csrf");
    let out = client
        .post(format!("{}/logout", a.url))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert!(out.status().is_success(), "{}", out.status());
    let page = client.get(format!("{}/items", a.url)).send().await.unwrap();
    assert!(page.url().path().starts_with("/login"), "{}", page.url());
    let page = client.get(format!("{}/items", b.url)).send().await.unwrap();
    assert_eq!(page.url().path(), "/items");
}

#[tokio::test]
async fn session_cookie_is_http_only_and_same_site() {
    let node = TestNode::start().await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .unwrap();
    let html = get_page(&client, format!("{}/login", node.url)).await;
    let csrf = hidden(&html, "csrf");
    let resp = client
        .post(format!("{}/login", node.url))
        .form(&[
            ("username", "admin"),
            ("password", PASSWORD),
            ("csrf", &csrf),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    let cookie = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("tandem_session_"))
        .expect("session cookie");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
}

#[tokio::test]
async fn an_admin_creates_edits_comments_and_attaches_through_forms() {
    let node = TestNode::start().await;
    let client = browser();
    let csrf = login(&node, &client).await;
    let url = |p: &str| format!("{}{p}", node.url);

    let resp = client
        .post(url("/projects/new"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("key", "ops"),
            ("name", "Operations"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.url().path(), "/items/new");

    let resp = client
        .post(url("/items/new"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("project", "OPS"),
            ("summary", "Printer <b>jammed</b>"),
            ("description", "Tray 2"),
            ("status", "To Do"),
            ("priority", "High"),
            ("assignee_name", "Ada Lovelace"),
            ("assignee_email", "ada@example.com"),
            ("labels", "sync hardware"),
            ("custom_fields", "Customer Tier: Gold\nStory Points: 3"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.url().path(), "/items/OPS-1");
    let html = resp.text().await.unwrap();
    assert!(
        html.contains("Printer &#60;b&#62;jammed&#60;/b&#62;"),
        "escaped: {html}"
    );
    assert!(html.contains("Customer Tier"));
    assert!(html.contains("Ada Lovelace"));

    let edit = client.get(url("/items/OPS-1/edit")).send().await.unwrap();
    let edit_html = edit.text().await.unwrap();
    let version = hidden(&edit_html, "version");
    let resp = client
        .post(url("/items/OPS-1/edit"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("version", version.as_str()),
            ("summary", "Printer jammed again"),
            ("description", "Tray 2"),
            ("status", "In Progress"),
            ("priority", "High"),
            ("labels", "sync"),
            ("custom_fields", "Customer Tier: Platinum"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.url().path(), "/items/OPS-1");
    let html = resp.text().await.unwrap();
    assert!(html.contains("Printer jammed again"));
    assert!(html.contains("Platinum"));
    assert!(
        !html.contains("<dt>Story Points</dt>"),
        "removed field is gone"
    );
    assert!(
        html.contains("<td>cf:Story Points</td>"),
        "and its removal is in the history"
    );

    // The same stale version again: refused, nothing lost.
    let resp = client
        .post(url("/items/OPS-1/edit"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("version", version.as_str()),
            ("summary", "Stale"),
            ("status", "Done"),
            ("priority", "Low"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 409);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("changed by someone else")
    );

    let resp = client
        .post(url("/items/OPS-1/comments"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("body", "Roller replaced"),
            ("internal", "on"),
        ])
        .send()
        .await
        .unwrap();
    let html = resp.text().await.unwrap();
    assert!(html.contains("Roller replaced"));
    assert!(
        html.contains("<span class=\"badge\">internal</span>"),
        "{html}"
    );

    let form = reqwest::multipart::Form::new()
        .text("csrf", csrf.clone())
        .part(
            "file",
            reqwest::multipart::Part::bytes(b"log line\n".to_vec()).file_name("printer.log"),
        );
    let resp = client
        .post(url("/items/OPS-1/attachments"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    let html = resp.text().await.unwrap();
    assert!(html.contains("printer.log"), "{html}");

    let list = get_page(&client, url("/items?query=labels+%3D+sync")).await;
    assert!(list.contains("OPS-1"));
    let bad = get_page(&client, url("/items?query=status+%3D+Closed")).await;
    assert!(bad.contains("unknown status &#39;Closed&#39;"), "{bad}");
}

#[tokio::test]
async fn forms_without_the_csrf_token_are_refused() {
    let node = TestNode::start().await;
    let client = browser();
    login(&node, &client).await;
    let resp = client
        .post(format!("{}/projects/new", node.url))
        .form(&[("csrf", "forged"), ("key", "OPS"), ("name", "Operations")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let resp = client
        .post(format!("{}/projects/new", node.url))
        .form(&[("key", "OPS"), ("name", "Operations")])
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_client_error());
    let (_, projects) = node.api().send(node.api().get("/projects")).await;
    assert_eq!(projects, serde_json::json!([]));
}

#[tokio::test]
async fn general_settings_change_the_node_url_and_name() {
    let node = TestNode::start().await;
    let client = browser();
    let csrf = login(&node, &client).await;
    let resp = client
        .post(format!("{}/settings/general", node.url))
        .form(&[
            ("csrf", csrf.as_str()),
            ("name", "Acme Support"),
            ("node_url", "https://tandem.acme.example/"),
            ("tracker", "builtin"),
        ])
        .send()
        .await
        .unwrap();
    assert!(resp.text().await.unwrap().contains("Settings saved."));
    let (_, info) = node.api().send(node.api().get("/node")).await;
    assert_eq!(info["name"], "Acme Support");
    assert_eq!(info["node_url"], "https://tandem.acme.example");

    let resp = client
        .post(format!("{}/settings/general", node.url))
        .form(&[
            ("csrf", csrf.as_str()),
            ("name", "Acme Support"),
            ("node_url", "ftp://nope"),
            ("tracker", "builtin"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("must start with http"));
}

#[tokio::test]
async fn api_tokens_are_created_shown_once_and_revoked_in_the_console() {
    let node = TestNode::start().await;
    let client = browser();
    let csrf = login(&node, &client).await;
    let html = client
        .post(format!("{}/settings/tokens", node.url))
        .form(&[("csrf", csrf.as_str()), ("name", "ci-pipeline")])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let marker = "class=\"token\" value=\"";
    let start = html.find(marker).expect("token shown") + marker.len();
    let token = &html[start..start + 43];
    let mut api = node.api();
    api.token = Some(token.to_owned());
    assert_eq!(api.send(api.get("/projects")).await.0, 200);

    let tokens = node
        .node
        .as_ref()
        .unwrap()
        .state
        .store()
        .api_tokens()
        .await
        .unwrap();
    let id = tokens.iter().find(|t| t.name == "ci-pipeline").unwrap().id;
    client
        .post(format!("{}/settings/tokens/{id}/revoke", node.url))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(api.send(api.get("/projects")).await.0, 401);
}

#[tokio::test]
async fn a_first_start_without_password_offers_a_one_time_setup_link() {
    let node = TestNode::start_with(|c| c.admin_password = None).await;
    let link = node
        .node
        .as_ref()
        .unwrap()
        .setup_link
        .clone()
        .expect("setup link");
    let client = browser();
    let html = get_page(&client, &link).await;
    let token = hidden(&html, "token");
    let resp = client
        .post(format!("{}/setup", node.url))
        .form(&[
            ("token", token.as_str()),
            ("username", "root"),
            ("password", "s3cret-enough"),
            ("confirm", "s3cret-enough"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.url().path(), "/items");
    assert!(resp.text().await.unwrap().contains("Signed in as"));
    // The link works once.
    let again = browser().get(&link).send().await.unwrap();
    assert_eq!(again.status(), 403);
}

#[tokio::test]
async fn the_general_settings_page_lists_who_can_sign_in() {
    let node = TestNode::start().await;
    let client = browser();
    login(&node, &client).await;
    let html = get_page(&client, format!("{}/settings/general", node.url)).await;
    let users = &html[html.find("<h2 id=\"users\">").expect("a Users section")..];
    assert!(users.contains("<td>admin</td>"), "{users}");
}

/// Runs `tandem ARGS` and returns its stdout.
pub(crate) fn tandem(args: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tandem"))
        .args(args)
        .env_remove("TANDEM_VENDOR_KEY")
        .output()
        .expect("tandem runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test]
async fn the_license_page_shows_evaluation_and_installs_a_vendor_signed_key() {
    let keys = tandem(&["license", "keygen"]);
    let lines: Vec<&str> = keys.lines().map(str::trim).collect();
    let (secret, public) = (lines[1].to_owned(), lines[3].to_owned());
    let license = tandem(&[
        "license",
        "issue",
        // One argument: a base64 key may start with '-', which would read as a flag.
        &format!("--vendor-key={secret}"),
        "--licensee",
        "Acme Corp",
        "--expires",
        "2099-12-31",
    ]);
    let license = license.trim();
    assert!(license.starts_with("tandemlic1."), "{license}");

    let node = TestNode::start_with(|c| c.license_public_key = Some(public.clone())).await;
    let client = browser();
    let csrf = login(&node, &client).await;
    let url = format!("{}/settings/license", node.url);
    let page = get_page(&client, &url).await;
    assert!(
        page.contains("<strong class=\"plan\">Evaluation</strong>"),
        "{page}"
    );
    assert!(page.contains("(30 days left)"), "{page}");
    assert!(page.contains("Basic and Script"));

    // One character changed: refused, nothing installed.
    let mut tampered = license.to_owned();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    let resp = client
        .post(&url)
        .form(&[("csrf", csrf.as_str()), ("key", tampered.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let page = resp.text().await.unwrap();
    assert!(page.contains("Evaluation</strong>"), "{page}");

    let page = client
        .post(&url)
        .form(&[("csrf", csrf.as_str()), ("key", license)])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("License key installed."), "{page}");
    assert!(
        page.contains("<strong class=\"plan\">Paid</strong>"),
        "{page}"
    );
    assert!(page.contains("Acme Corp"));
    assert!(
        page.contains("2099-12-31"),
        "valid through its last day: {page}"
    );

    // A node that trusts another vendor key refuses the same license.
    let other = TestNode::start().await;
    let client = browser();
    let csrf = login(&other, &client).await;
    let page = get_page(&client, format!("{}/settings/license", other.url)).await;
    assert!(page.contains("trusts no vendor key yet"), "{page}");
    let resp = client
        .post(format!("{}/settings/license", other.url))
        .form(&[("csrf", csrf.as_str()), ("key", license)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("trusts no vendor key"));
}
