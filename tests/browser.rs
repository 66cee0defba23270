//! The console in a real browser: headless Chromium driven through chromedriver (Debian's
//! `chromium` and `chromium-driver`, which `scripts/test` installs). Screenshots of each step go
//! to `target/screenshots/`.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};

use crate::common::{PASSWORD, TestNode};

pub(crate) struct Driver {
    child: Child,
    port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn chromedriver() -> Driver {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver is installed (apt-get install chromium chromium-driver; ./scripts/test does it)");
    Driver { child, port }
}

pub(crate) async fn browser(driver: &Driver) -> Client {
    let caps: serde_json::Map<String, serde_json::Value> =
        serde_json::from_value(serde_json::json!({
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--disable-background-networking", "--disable-component-update",
                         "--no-first-run", "--disable-sync", "--window-size=1280,900"]
            }
        }))
        .unwrap();
    let url = format!("http://127.0.0.1:{}", driver.port);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        // chromedriver speaks plain HTTP on loopback: no TLS stack needed.
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector)
            .capabilities(caps.clone())
            .connect(&url)
            .await
        {
            Ok(client) => return client,
            Err(e) if Instant::now() > deadline => panic!("cannot start Chromium: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

pub(crate) async fn screenshot(client: &Client, name: &str) {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("../screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let png = client.screenshot().await.expect("screenshot");
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

/// Clicks the element once it is on the page: a click or submit before it may still be loading
/// the next page, and on a busy machine that takes a while.
pub(crate) async fn click(client: &Client, locator: Locator<'_>) {
    client
        .wait()
        .at_most(Duration::from_secs(30))
        .for_element(locator)
        .await
        .expect("element to click")
        .click()
        .await
        .expect("click");
}

/// Types `text` into the field `css` once the page shows it (see `click`).
pub(crate) async fn fill(client: &Client, css: &str, text: &str) {
    let field = client
        .wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css(css))
        .await
        .expect(css);
    field.clear().await.expect("clear");
    field.send_keys(text).await.expect("type");
}

#[tokio::test]
async fn an_admin_signs_in_and_files_an_item_in_a_real_browser() {
    let node = TestNode::start().await;
    let driver = chromedriver();
    let client = browser(&driver).await;
    let run = async {
        client.goto(&format!("{}/items", node.url)).await.unwrap();
        assert!(
            client
                .current_url()
                .await
                .unwrap()
                .path()
                .starts_with("/login")
        );
        screenshot(&client, "console-1-login").await;
        fill(&client, "input[name=username]", "admin").await;
        fill(&client, "input[name=password]", PASSWORD).await;
        click(&client, Locator::Css("button[type=submit]")).await;
        client
            .wait()
            .for_url(&format!("{}/items", node.url).parse().unwrap())
            .await
            .unwrap();
        screenshot(&client, "console-2-no-projects").await;

        click(&client, Locator::LinkText("Create the first project")).await;
        fill(&client, "input[name=key]", "OPS").await;
        fill(&client, "input[name=name]", "Operations").await;
        click(&client, Locator::Css("form.stack button[type=submit]")).await;

        fill(
            &client,
            "input[name=summary]",
            "Printer on floor 3 is jammed",
        )
        .await;
        fill(
            &client,
            "textarea[name=description]",
            "Paper jam in tray 2.",
        )
        .await;
        fill(&client, "input[name=labels]", "sync hardware").await;
        screenshot(&client, "console-3-create-item").await;
        click(&client, Locator::Css("form.stack button[type=submit]")).await;
        client
            .wait()
            .for_element(Locator::Css(".side-col"))
            .await
            .unwrap();
        assert_eq!(client.current_url().await.unwrap().path(), "/items/OPS-1");

        fill(&client, "textarea[name=body]", "Roller replaced.").await;
        click(&client, Locator::XPath("//button[text()='Comment']")).await;
        client
            .wait()
            .for_element(Locator::Css("article.comment"))
            .await
            .unwrap();
        screenshot(&client, "console-4-item").await;

        client
            .goto(&format!("{}/items?query=labels+%3D+sync", node.url))
            .await
            .unwrap();
        let rows = client
            .find_all(Locator::Css("table.list tbody tr"))
            .await
            .unwrap();
        assert_eq!(rows.len(), 1);
        assert!(
            rows[0]
                .text()
                .await
                .unwrap()
                .contains("Printer on floor 3 is jammed")
        );
        screenshot(&client, "console-5-search").await;
    };
    run.await;
    client.close().await.unwrap();
    let (_, item) = node.api().send(node.api().get("/items/OPS-1")).await;
    assert_eq!(item["comments"][0]["body"], "Roller replaced.");
    assert_eq!(item["labels"], serde_json::json!(["hardware", "sync"]));
}

/// Signs in on the page the browser is at (the login page a console page redirected to) and
/// waits for `landing`.
pub(crate) async fn sign_in(client: &Client, landing: &str) {
    fill(client, "input[name=username]", "admin").await;
    fill(client, "input[name=password]", PASSWORD).await;
    click(client, Locator::Css("button[type=submit]")).await;
    client
        .wait()
        .for_url(&landing.parse().unwrap())
        .await
        .unwrap();
}

/// The text of the status of the connections table's row for `name`.
pub(crate) async fn connection_status(client: &Client, name: &str) -> String {
    let css = format!("tr[data-connection=\"{name}\"] .status");
    client
        .wait()
        .for_element(Locator::Css(&css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .text()
        .await
        .unwrap()
}

#[tokio::test]
async fn two_admins_connect_their_nodes_in_a_real_browser() {
    let a = TestNode::start_with(|c| c.name = Some("Acme Support".into())).await;
    let b = TestNode::start_with(|c| c.name = Some("Globex IT".into())).await;
    // One browser for both admins: cookies belong to a host, whatever the port, so B's console
    // is opened as `localhost` and A's as `127.0.0.1`, each with its own session.
    let a_console = a.url.clone();
    let b_console = b.url.replace("127.0.0.1", "localhost");
    let driver = chromedriver();
    let client = browser(&driver).await;
    let run = async {
        let connections_a = format!("{a_console}/connections");
        client.goto(&connections_a).await.unwrap();
        sign_in(&client, &connections_a).await;
        click(&client, Locator::LinkText("Initiate connection")).await;
        fill(&client, "input[name=url]", &b.url).await;
        screenshot(&client, "connections-1-destination").await;
        click(&client, Locator::XPath("//button[text()='Next']")).await;

        let checked = client
            .wait()
            .for_element(Locator::Css("p.checked"))
            .await
            .unwrap();
        assert!(checked.text().await.unwrap().contains("Globex IT"));
        click(&client, Locator::Css("input[name=mode][value=script]")).await;
        screenshot(&client, "connections-2-configuration-type").await;
        click(&client, Locator::XPath("//button[text()='Next']")).await;

        client
            .wait()
            .for_element(Locator::Css("form#connection-info"))
            .await
            .unwrap();
        fill(&client, "input[name=local_short_name]", "acme").await;
        fill(&client, "input[name=remote_short_name]", "globex").await;
        // The prefilled name follows the short names while the admin has not edited it.
        let name = client
            .find(Locator::Css("input[name=name]"))
            .await
            .unwrap()
            .prop("value")
            .await
            .unwrap()
            .unwrap_or_default();
        assert_eq!(name, "acme_to_globex");
        screenshot(&client, "connections-3-connection-information").await;
        click(&client, Locator::Css("button#initiate")).await;

        let code = client
            .wait()
            .for_element(Locator::Css("textarea#invitation-code"))
            .await
            .unwrap()
            .prop("value")
            .await
            .unwrap()
            .unwrap_or_default();
        assert!(!code.trim().is_empty());
        click(&client, Locator::Css("button#copy-invitation-code")).await;
        screenshot(&client, "connections-4-invitation-code").await;

        let connections_b = format!("{b_console}/connections");
        client.goto(&connections_b).await.unwrap();
        sign_in(&client, &connections_b).await;
        click(&client, Locator::LinkText("Accept invitation")).await;
        fill(&client, "textarea#code", code.trim()).await;
        screenshot(&client, "connections-5-accept-invitation").await;
        click(&client, Locator::XPath("//button[text()='Next']")).await;

        let preview = client
            .wait()
            .for_element(Locator::Css("dl#invitation-preview"))
            .await
            .unwrap();
        assert!(preview.text().await.unwrap().contains("acme_to_globex"));
        screenshot(&client, "connections-6-preview").await;
        click(&client, Locator::Css("button#confirm")).await;

        assert_eq!(connection_status(&client, "acme_to_globex").await, "Active");
        screenshot(&client, "connections-7-accepted").await;

        client.goto(&connections_a).await.unwrap();
        assert_eq!(connection_status(&client, "acme_to_globex").await, "Active");
        screenshot(&client, "connections-8-initiator-active").await;
    };
    run.await;
    client.close().await.unwrap();
}

/// Waits until `check` holds (API reads while the browser works), or fails after 30 s.
async fn until<F, Fut>(what: &str, check: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    while !check().await {
        assert!(Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Issue 16, points 1–3, as a new admin meets them on two fresh nodes: the receiving node has
/// no project when it accepts, so the first Exalate fails; both consoles say so (the menu's
/// count, the Connections row, the Errors pages, the sender's link to retry on the receiver);
/// the receiving admin creates a project, chooses it as the target project in the editor and
/// retries; the item arrives, with the public comment and without the internal one.
#[tokio::test]
async fn a_new_admin_chooses_the_target_project_and_both_sides_see_the_failure_until_then() {
    let a = TestNode::start_with(|c| c.name = Some("Acme Support".into())).await;
    let b = TestNode::start_with(|c| c.name = Some("Globex IT".into())).await;
    let a_console = a.url.clone();
    let b_console = b.url.replace("127.0.0.1", "localhost");
    let (api_a, api_b) = (a.api(), b.api());
    let driver = chromedriver();
    let client = browser(&driver).await;
    let run = async {
        // A initiates a Script connection in the wizard.
        let connections_a = format!("{a_console}/connections");
        client.goto(&connections_a).await.unwrap();
        sign_in(&client, &connections_a).await;
        click(&client, Locator::LinkText("Initiate connection")).await;
        fill(&client, "input[name=url]", &b.url).await;
        click(&client, Locator::XPath("//button[text()='Next']")).await;
        click(&client, Locator::Css("input[name=mode][value=script]")).await;
        click(&client, Locator::XPath("//button[text()='Next']")).await;
        fill(&client, "input[name=local_short_name]", "acme").await;
        fill(&client, "input[name=remote_short_name]", "globex").await;
        click(&client, Locator::Css("button#initiate")).await;
        let code = client
            .wait()
            .for_element(Locator::Css("textarea#invitation-code"))
            .await
            .unwrap()
            .prop("value")
            .await
            .unwrap()
            .unwrap_or_default();

        // B accepts with no project yet: the page says what that means.
        let connections_b = format!("{b_console}/connections");
        client.goto(&connections_b).await.unwrap();
        sign_in(&client, &connections_b).await;
        click(&client, Locator::LinkText("Accept invitation")).await;
        fill(&client, "textarea#code", code.trim()).await;
        click(&client, Locator::XPath("//button[text()='Next']")).await;
        let hint = client
            .wait()
            .for_element(Locator::Css("p#no-projects"))
            .await
            .unwrap();
        assert!(hint.text().await.unwrap().contains("no projects yet"));
        screenshot(&client, "first-hour-1-accept-without-projects").await;
        click(&client, Locator::Css("button#confirm")).await;
        assert_eq!(connection_status(&client, "acme_to_globex").await, "Active");

        // A files an item with an internal and a public comment, and exalates it.
        api_a.project("SUP").await;
        api_a
            .item(serde_json::json!({"project": "SUP", "summary": "Invoices doubled"}))
            .await;
        for (body, internal) in [
            ("Internal: the customer is on probation", true),
            ("Public: we are on it", false),
        ] {
            let (status, answer) = api_a
                .json(
                    api_a.post("/items/SUP-1/comments"),
                    serde_json::json!({"body": body, "internal": internal}),
                )
                .await;
            assert_eq!(status, 201, "{answer}");
        }
        let (status, answer) = api_a
            .json(
                api_a.post("/sync/exalate"),
                serde_json::json!({"connection": "acme_to_globex", "item": "SUP-1"}),
            )
            .await;
        assert_eq!(status, 200, "{answer}");
        let open = |api: crate::common::Api| async move {
            let (_, body) = api.send(api.get("/sync/errors")).await;
            body["errors"].as_array().map_or(0, Vec::len)
        };
        until("both sides record the failure", || async {
            open(api_a.clone()).await == 1 && open(api_b.clone()).await == 1
        })
        .await;

        // B's console: the menu counts it, the Errors page says what is missing.
        client
            .goto(&format!("{b_console}/sync/errors"))
            .await
            .unwrap();
        let count = client
            .wait()
            .for_element(Locator::Css("#open-errors"))
            .await
            .unwrap();
        assert_eq!(count.text().await.unwrap(), "1");
        let message = client
            .find(Locator::Css("td.error-message"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(message.contains("no target project"), "{message}");
        screenshot(&client, "first-hour-2-receiver-errors").await;

        // A's console: the row is marked, the Errors page names B's reason and links there.
        client.goto(&connections_a).await.unwrap();
        let marked = client
            .wait()
            .for_element(Locator::Css(
                "tr[data-connection=\"acme_to_globex\"] a.open-errors",
            ))
            .await
            .unwrap();
        assert_eq!(marked.text().await.unwrap(), "1 open sync error");
        screenshot(&client, "first-hour-3-sender-connections").await;
        client
            .goto(&format!("{a_console}/sync/errors"))
            .await
            .unwrap();
        let link = client
            .wait()
            .for_element(Locator::Css("a.remote-retry"))
            .await
            .unwrap();
        let href = link.attr("href").await.unwrap().unwrap_or_default();
        assert!(
            href.starts_with(&format!("{}/sync/errors#error-", b.url)),
            "{href}"
        );
        let message = client
            .find(Locator::Css("td.error-message"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            message.starts_with("globex could not apply this item's change: no target project"),
            "{message}"
        );
        screenshot(&client, "first-hour-4-sender-errors").await;

        // B's admin creates a project, chooses it in the editor, and retries.
        api_b.project("ENG").await;
        client.goto(&connections_b).await.unwrap();
        click(
            &client,
            Locator::Css("tr[data-connection=\"acme_to_globex\"] td.row-actions a"),
        )
        .await;
        client
            .wait()
            .for_element(Locator::Css("select#target_project"))
            .await
            .unwrap()
            .select_by_value("ENG")
            .await
            .unwrap();
        screenshot(&client, "first-hour-5-target-project").await;
        click(&client, Locator::Css("button#save-target")).await;
        client
            .wait()
            .for_element(Locator::Css("p.notice"))
            .await
            .unwrap();
        client
            .goto(&format!("{b_console}/sync/errors"))
            .await
            .unwrap();
        click(
            &client,
            Locator::XPath("//button[text()='Resolve and retry']"),
        )
        .await;
        until("B creates ENG-1", || async {
            api_b.send(api_b.get("/items/ENG-1")).await.0 == 200
        })
        .await;
        until("A's reported error closes", || async {
            open(api_a.clone()).await == 0
        })
        .await;
        client.goto(&connections_a).await.unwrap();
        client
            .wait()
            .for_element(Locator::Css("tr[data-connection=\"acme_to_globex\"]"))
            .await
            .unwrap();
        assert!(
            client.find(Locator::Css("#open-errors")).await.is_err(),
            "no count once nothing is open"
        );
        screenshot(&client, "first-hour-6-clean").await;
    };
    run.await;
    client.close().await.unwrap();
    let (_, on_b) = api_b.send(api_b.get("/items/ENG-1")).await;
    let bodies: Vec<&str> = on_b["comments"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["body"].as_str())
        .collect();
    assert!(
        bodies.iter().any(|b| b.ends_with("Public: we are on it")),
        "{bodies:?}"
    );
    assert!(
        !bodies.iter().any(|b| b.contains("Internal")),
        "the internal comment stays on A: {bodies:?}"
    );
}

/// Issue 16, point 9: an admin syncs an item from its own page, as in Exalate: Exalate there,
/// the twin appears with the remote key linking to the remote item, and Unexalate stops it.
#[tokio::test]
async fn an_admin_exalates_and_unexalates_from_the_item_page() {
    let (a, b) = crate::sync::pair().await;
    let (api_a, api_b) = (a.api(), b.api());
    api_a
        .item(serde_json::json!({"project": "SUP", "summary": "Refund stuck"}))
        .await;
    let driver = chromedriver();
    let client = browser(&driver).await;
    let item_page = format!("{}/items/SUP-1", a.url);
    let run = async {
        client.goto(&item_page).await.unwrap();
        sign_in(&client, &item_page).await;
        let empty = client
            .wait()
            .for_element(Locator::XPath(
                "//h2[@id='sync']/following-sibling::p[@class='empty']",
            ))
            .await
            .unwrap();
        assert_eq!(
            empty.text().await.unwrap(),
            "SUP-1 is not under sync on any connection."
        );
        screenshot(&client, "item-sync-1-not-synced").await;
        click(&client, Locator::Css("form#exalate button[type=submit]")).await;
        let notice = client
            .wait()
            .for_element(Locator::Css("p.notice"))
            .await
            .unwrap();
        assert!(
            notice
                .text()
                .await
                .unwrap()
                .contains("SUP-1 is under sync on desk"),
            "back on the item's page with what happened"
        );
        assert_eq!(client.current_url().await.unwrap().path(), "/items/SUP-1");

        // The twin shows the remote key once B acknowledged it, linking to B's item.
        let link = Locator::Css("tr[data-connection=\"desk\"] a.remote-item");
        until("the twin shows B's key", || async {
            client.goto(&item_page).await.unwrap();
            client.find(link).await.is_ok()
        })
        .await;
        let remote = client.find(link).await.unwrap();
        assert_eq!(remote.text().await.unwrap(), "ENG-1");
        assert_eq!(
            remote.attr("href").await.unwrap().unwrap_or_default(),
            format!("{}/items/ENG-1", b.url)
        );
        screenshot(&client, "item-sync-2-twin").await;

        // Unexalate asks first, then stops the twin on both sides.
        click(
            &client,
            Locator::Css("tr[data-connection=\"desk\"] button.danger"),
        )
        .await;
        client.accept_alert().await.unwrap();
        let state = client
            .wait()
            .for_element(Locator::Css(
                "tr[data-connection=\"desk\"] .status.deactivated",
            ))
            .await
            .unwrap();
        assert_eq!(state.text().await.unwrap(), "stopped");
        screenshot(&client, "item-sync-3-unexalated").await;
    };
    run.await;
    client.close().await.unwrap();
    until("B stops its twin too", || async {
        let (_, status) = api_b.send(api_b.get("/sync/status/ENG-1")).await;
        status["twins"][0]["state"] == "stopped"
    })
    .await;
}
