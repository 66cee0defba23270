//! Issue 16, points 12 and 13, in headless Chromium (see `browser`): the Initiate connection
//! wizard next to Exalate's documented flow, "Go to remote", and what a new admin sees of the
//! small things (copy buttons, parse errors on their lines).

use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};

use crate::browser::{browser, chromedriver, click, connection_status, fill, screenshot, sign_in};
use crate::common::{PASSWORD, TestNode};

/// The `value` property of the element `css`, once the page shows it.
async fn value(client: &Client, css: &str) -> String {
    client
        .wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .prop("value")
        .await
        .unwrap()
        .unwrap_or_default()
}

/// The text of the element `css`, once the page shows it.
async fn text(client: &Client, css: &str) -> String {
    client
        .wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .text()
        .await
        .unwrap()
}

/// Waits until `check` holds for the page, or fails after 30 s.
async fn until_page<F, Fut>(what: &str, check: F)
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

#[tokio::test]
async fn the_initiate_wizard_follows_the_documented_flow_and_go_to_remote_fills_in_the_code() {
    let a = TestNode::start_with(|c| c.name = Some("Acme Support".into())).await;
    let b = TestNode::start_with(|c| c.name = Some("Globex IT".into())).await;
    let driver = chromedriver();
    let client = browser(&driver).await;
    let run = async {
        let connections_a = format!("{}/connections", a.url);
        client.goto(&connections_a).await.unwrap();
        sign_in(&client, &connections_a).await;

        // A dialog titled "Initiate connection", closed with ×.
        click(&client, Locator::LinkText("Initiate connection")).await;
        let dialog = client
            .wait()
            .for_element(Locator::Css("section.dialog[role=dialog]"))
            .await
            .unwrap();
        assert_eq!(
            dialog.attr("aria-labelledby").await.unwrap().as_deref(),
            Some("dialog-title")
        );
        assert_eq!(text(&client, "#dialog-title").await, "Initiate connection");
        let close = client.find(Locator::Css("a.dialog-close")).await.unwrap();
        assert_eq!(close.text().await.unwrap(), "×");
        assert_eq!(
            close.attr("aria-label").await.unwrap().as_deref(),
            Some("Close")
        );
        screenshot(&client, "wizard-1-dialog").await;
        close.click().await.unwrap();
        client
            .wait()
            .for_url(&connections_a.parse().unwrap())
            .await
            .unwrap();

        click(&client, Locator::LinkText("Initiate connection")).await;
        fill(&client, "input[name=url]", &b.url).await;
        click(&client, Locator::XPath("//button[text()='Next']")).await;
        assert_eq!(
            text(&client, "legend#choose-configuration-type").await,
            "Choose the configuration type"
        );
        click(&client, Locator::Css("input[name=mode][value=script]")).await;
        screenshot(&client, "wizard-2-choose-the-configuration-type").await;
        click(&client, Locator::XPath("//button[text()='Next']")).await;
        fill(&client, "input[name=local_short_name]", "acme").await;
        fill(&client, "input[name=remote_short_name]", "globex").await;
        click(&client, Locator::Css("button#initiate")).await;

        assert_eq!(
            text(&client, "#accept-instruction").await,
            "On the \"globex\" side, you (or their application administrator) need to Accept the Invitation."
        );
        let code = value(&client, "textarea#invitation-code").await;
        assert!(!code.trim().is_empty());
        let go = client.find(Locator::Css("a#go-to-remote")).await.unwrap();
        let href = go.attr("href").await.unwrap().unwrap_or_default();
        assert!(
            href.starts_with(&format!("{}/connections/accept#code=", b.url)),
            "{href}"
        );
        screenshot(&client, "wizard-3-accept-the-invitation").await;

        // "Go to remote" opens B's console in a new tab. This browser has no session there:
        // B asks to sign in first, then shows its Accept page with the code filled in.
        let initiator = client.window().await.unwrap();
        go.click().await.unwrap();
        until_page("Go to remote opens a tab", || async {
            client.windows().await.unwrap().len() == 2
        })
        .await;
        let remote = client
            .windows()
            .await
            .unwrap()
            .into_iter()
            .find(|w| *w != initiator)
            .unwrap();
        client.switch_to_window(remote).await.unwrap();
        fill(&client, "input[name=username]", "admin").await;
        fill(&client, "input[name=password]", PASSWORD).await;
        click(&client, Locator::Css("button[type=submit]")).await;
        until_page("B's Accept page with the code", || async {
            client
                .current_url()
                .await
                .is_ok_and(|u| u.path() == "/connections/accept")
        })
        .await;
        assert_eq!(value(&client, "textarea#code").await.trim(), code.trim());
        screenshot(&client, "wizard-4-remote-accept-page").await;
        click(&client, Locator::XPath("//button[text()='Next']")).await;
        client
            .wait()
            .for_element(Locator::Css("dl#invitation-preview"))
            .await
            .unwrap();
        click(&client, Locator::Css("button#confirm")).await;
        assert_eq!(connection_status(&client, "acme_to_globex").await, "Active");
    };
    run.await;
    client.close().await.unwrap();
}

#[tokio::test]
async fn copy_buttons_and_parse_errors_in_a_real_browser() {
    let node = TestNode::start().await;
    let api = node.api();
    let (status, made) = api
        .json(
            api.post("/connections"),
            serde_json::json!({"to": node.url, "mode": "script", "local_name": "here",
                               "remote_name": "there"}),
        )
        .await;
    assert_eq!(status, 201, "{made}");
    let id = made["connection"]["id"].as_str().unwrap().to_owned();
    let driver = chromedriver();
    let client = browser(&driver).await;
    let run = async {
        let tokens = format!("{}/settings/tokens", node.url);
        client.goto(&tokens).await.unwrap();
        sign_in(&client, &tokens).await;
        fill(&client, "input[name=name]", "ci-pipeline").await;
        click(&client, Locator::XPath("//button[text()='Create token']")).await;
        let token = value(&client, "input#new-token").await;
        assert_eq!(token.len(), 43, "{token}");
        let copy = client
            .find(Locator::Css("button#copy-token"))
            .await
            .unwrap();
        assert!(
            copy.is_displayed().await.unwrap(),
            "the script shows the button"
        );
        assert_eq!(
            copy.attr("data-copy").await.unwrap().as_deref(),
            Some("new-token")
        );
        copy.click().await.unwrap();
        until_page("the button says it copied", || async {
            text(&client, "button#copy-token").await == "Copied"
        })
        .await;
        screenshot(&client, "small-1-copy-token").await;

        client
            .goto(&format!("{}/settings/general", node.url))
            .await
            .unwrap();
        assert_eq!(value(&client, "input#node-url").await, node.url);
        let copy = client
            .find(Locator::Css("button#copy-node-url"))
            .await
            .unwrap();
        assert!(copy.is_displayed().await.unwrap());
        copy.click().await.unwrap();
        until_page("the button says it copied", || async {
            text(&client, "button#copy-node-url").await == "Copied"
        })
        .await;

        // A parse error shows on its lines: the message, the source line, the caret.
        client
            .goto(&format!("{}/connections/{id}/edit", node.url))
            .await
            .unwrap();
        fill(
            &client,
            "textarea[name=outgoing_script]",
            "replica.summary = (issue.summary\n",
        )
        .await;
        click(&client, Locator::XPath("//button[text()='Publish']")).await;
        let error = text(&client, "p.error").await;
        assert!(
            error.starts_with("The outgoing script does not parse"),
            "{error}"
        );
        assert!(
            error.lines().any(|l| l.contains("--> outgoing:")),
            "{error:?}"
        );
        assert!(
            error
                .lines()
                .any(|l| l.contains(" | ") && l.trim_end().ends_with('^')),
            "{error:?}"
        );
        screenshot(&client, "small-2-parse-error").await;
    };
    run.await;
    client.close().await.unwrap();
}
