//! The Connections pages over HTTP, as a browser without JavaScript uses them: the list, the
//! Initiate connection wizard between two real nodes, the Accept invitation page, the editor.

use crate::common::TestNode;
use crate::console::{browser, get_page, hidden, login};

/// The text of the `<textarea id="{id}">`, unescaped.
fn textarea(page: &str, id: &str) -> String {
    let marker = format!("id=\"{id}\"");
    let at = page
        .find(&marker)
        .unwrap_or_else(|| panic!("no textarea #{id} in page:\n{page}"));
    let start = at + page[at..].find('>').expect("textarea opens") + 1;
    let end = start + page[start..].find("</textarea>").expect("textarea closes");
    unescape(&page[start..end])
}

fn unescape(html: &str) -> String {
    html.replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&#60;", "<")
        .replace("&#62;", ">")
        .replace("&#38;", "&")
}

/// Posts a console form and returns the status and the page.
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

#[tokio::test]
async fn the_wizard_starts_with_the_destination_and_the_accept_page_with_a_code_field() {
    let node = TestNode::start().await;
    let client = browser();
    login(&node, &client).await;
    let url = |p: &str| format!("{}{p}", node.url);

    let items = get_page(&client, url("/items")).await;
    assert!(
        items.contains("<a href=\"/connections\">Connections</a>"),
        "{items}"
    );

    let step1 = get_page(&client, url("/connections/initiate")).await;
    assert!(step1.contains("Destination instance URL"), "{step1}");
    assert!(step1.contains("General settings page"), "{step1}");
    assert!(step1.contains("I don't have a URL"), "{step1}");
    assert!(
        step1.contains("href=\"/connections/initiate/check?private=1\""),
        "{step1}"
    );
    for step in [
        "Destination",
        "Configuration type",
        "Connection information",
        "Invitation code",
    ] {
        assert!(step1.contains(step), "step {step} in {step1}");
    }

    let kept = get_page(
        &client,
        url("/connections/initiate?url=https%3A%2F%2Fb.example"),
    )
    .await;
    assert!(kept.contains("value=\"https://b.example\""), "{kept}");

    let accept = get_page(&client, url("/connections/accept")).await;
    assert!(
        accept.contains("<textarea id=\"code\" name=\"code\""),
        "{accept}"
    );
    assert!(accept.contains("data-fill-from-fragment=\"code\""));

    let script = client.get(url("/assets/tandem.js")).send().await.unwrap();
    assert!(
        script.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    assert!(script.text().await.unwrap().contains("navigator.clipboard"));
}

#[tokio::test]
async fn a_malformed_connection_id_is_the_not_found_page_and_forged_forms_are_refused() {
    let node = TestNode::start().await;
    let client = browser();
    login(&node, &client).await;
    let resp = client
        .get(format!("{}/connections/not-a-uuid/edit", node.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    assert!(resp.text().await.unwrap().contains("no connection"));

    let id = "00000000-0000-0000-0000-000000000000";
    for action in ["activate", "deactivate", "delete"] {
        let (status, _) = post(
            &client,
            format!("{}/connections/{id}/{action}", node.url),
            &[("csrf", "forged")],
        )
        .await;
        assert_eq!(status, 403, "{action}");
    }
    let (status, _) = post(
        &client,
        format!("{}/connections/initiate/check", node.url),
        &[("csrf", "forged"), ("url", "http://127.0.0.1:1")],
    )
    .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn the_connections_page_shows_its_header_buttons_columns_and_an_empty_state() {
    let node = TestNode::start().await;
    let client = browser();
    login(&node, &client).await;
    let page = get_page(&client, format!("{}/connections", node.url)).await;
    assert!(
        page.contains(
            "Connection defines synchronization behavior, including communication details, sync rules, and scope."
        ),
        "{page}"
    );
    assert!(page.contains("href=\"/connections/initiate\">Initiate connection</a>"));
    assert!(page.contains("href=\"/connections/accept\">Accept invitation</a>"));
    assert!(page.contains("There are no connections yet."), "{page}");
}

#[tokio::test]
async fn a_destination_that_is_not_a_tandem_node_re_shows_the_first_step_with_the_message() {
    let node = TestNode::start().await;
    let client = browser();
    let csrf = login(&node, &client).await;
    // A port nothing listens on.
    let nowhere = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let (status, page) = post(
        &client,
        format!("{}/connections/initiate/check", node.url),
        &[("csrf", &csrf), ("url", &nowhere)],
    )
    .await;
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("class=\"error\""), "{page}");
    assert!(page.contains("Destination instance URL"), "{page}");
    assert!(page.contains(&format!("value=\"{nowhere}\"")), "{page}");
}

#[tokio::test]
async fn two_admins_connect_their_nodes_through_the_wizard_and_the_accept_page() {
    let a = TestNode::start_with(|c| c.name = Some("Acme Support".into())).await;
    let b = TestNode::start_with(|c| c.name = Some("Globex IT".into())).await;
    let on_a = browser();
    let on_b = browser();
    let csrf_a = login(&a, &on_a).await;
    let csrf_b = login(&b, &on_b).await;
    let at_a = |p: &str| format!("{}{p}", a.url);
    let at_b = |p: &str| format!("{}{p}", b.url);

    // Step 2: B answers as a Tandem node; Basic and Script are offered.
    let (status, step2) = post(
        &on_a,
        at_a("/connections/initiate/check"),
        &[("csrf", &csrf_a), ("url", &b.url)],
    )
    .await;
    assert_eq!(status, 200, "{step2}");
    assert!(step2.contains("✓"), "{step2}");
    assert!(step2.contains("Globex IT"), "{step2}");
    assert!(step2.contains("Automatic configuration of basic fields"));
    assert!(step2.contains("Sync rules cannot be edited"));
    assert!(step2.contains("Groovy-based scripting"));
    assert!(step2.contains("value=\"script\""), "{step2}");
    let destination = hidden(&step2, "url");

    // Step 3: the names are prefilled from the two node names.
    let (status, step3) = post(
        &on_a,
        at_a("/connections/initiate/info"),
        &[
            ("csrf", &csrf_a),
            ("url", &destination),
            ("private", ""),
            ("mode", "script"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{step3}");
    assert!(step3.contains("Connection information"), "{step3}");
    assert_eq!(hidden(&step3, "local_short_name"), "acme_support");
    assert_eq!(hidden(&step3, "remote_short_name"), "globex_it");
    assert_eq!(hidden(&step3, "name"), "acme_support_to_globex_it");

    // Previous keeps the answers.
    let (_, back) = post(
        &on_a,
        at_a("/connections/initiate/check"),
        &[
            ("csrf", &csrf_a),
            ("url", &destination),
            ("mode", "script"),
            ("local_short_name", "acme"),
            ("remote_short_name", "globex_it"),
            ("name", "acme_to_globex"),
        ],
    )
    .await;
    assert_eq!(hidden(&back, "name"), "acme_to_globex");
    assert!(back.contains("value=\"script\" checked"), "{back}");

    // Step 4: the invitation code.
    let (status, step4) = post(
        &on_a,
        at_a("/connections/initiate"),
        &[
            ("csrf", &csrf_a),
            ("url", &destination),
            ("private", ""),
            ("mode", "script"),
            ("local_short_name", "acme"),
            ("remote_short_name", "globex"),
            ("name", "acme_to_globex"),
            ("description", "Support escalations"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{step4}");
    let code = textarea(&step4, "invitation-code");
    assert!(!code.trim().is_empty());
    assert!(step4.contains("Copy invitation code"));
    assert!(step4.contains("Go to remote"), "{step4}");
    let list_a = get_page(&on_a, at_a("/connections")).await;
    assert!(list_a.contains("acme_to_globex"), "{list_a}");
    assert!(list_a.contains(">Pending<"), "{list_a}");

    // The same name again is refused on step 3, answers kept.
    let (status, again) = post(
        &on_a,
        at_a("/connections/initiate"),
        &[
            ("csrf", &csrf_a),
            ("url", &destination),
            ("mode", "script"),
            ("local_short_name", "acme"),
            ("remote_short_name", "globex"),
            ("name", "acme_to_globex"),
            ("description", "Second try"),
        ],
    )
    .await;
    assert_eq!(status, 400, "{again}");
    assert!(again.contains("already exists"), "{again}");
    assert!(again.contains("Second try"), "{again}");
    assert!(again.contains("aria-invalid=\"true\""), "{again}");

    // On B: paste, preview, confirm.
    let (status, preview) = post(
        &on_b,
        at_b("/connections/accept/preview"),
        &[("csrf", &csrf_b), ("code", &code)],
    )
    .await;
    assert_eq!(status, 200, "{preview}");
    assert!(preview.contains("Acme Support"), "{preview}");
    assert!(preview.contains("acme_to_globex"), "{preview}");
    assert!(preview.contains("Script"), "{preview}");
    let local_short = hidden(&preview, "local_short_name");
    let remote_short = hidden(&preview, "remote_short_name");
    let resp = on_b
        .post(at_b("/connections/accept"))
        .form(&[
            ("csrf", csrf_b.as_str()),
            ("code", code.as_str()),
            ("local_short_name", local_short.as_str()),
            ("remote_short_name", remote_short.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.url().path(), "/connections");
    let list_b = resp.text().await.unwrap();
    assert!(list_b.contains("is active."), "{list_b}");
    assert!(list_b.contains(">Active<"), "{list_b}");

    // The code connects once: a second paste is refused with the code kept.
    let (status, reused) = post(
        &on_b,
        at_b("/connections/accept"),
        &[("csrf", &csrf_b), ("code", &code)],
    )
    .await;
    assert_eq!(status, 400, "{reused}");
    assert!(reused.contains("class=\"error\""), "{reused}");
    assert_eq!(textarea(&reused, "code").trim(), code.trim());

    let list_a = get_page(&on_a, at_a("/connections")).await;
    assert!(list_a.contains(">Active<"), "{list_a}");

    // The editor: a Script connection's rules are published; a script that does not parse is
    // refused with its text kept.
    let id = {
        let row = list_a.find("<tr data-connection=").expect("a row");
        let marker = "href=\"/connections/";
        let start = row + list_a[row..].find(marker).expect("edit link") + marker.len();
        list_a[start..][..36].to_owned()
    };
    let rules = get_page(&on_a, at_a(&format!("/connections/{id}/edit"))).await;
    assert!(
        rules.contains("Outgoing sync (what this side sends)"),
        "{rules}"
    );
    assert!(rules.contains(">Publish<"), "{rules}");
    let broken = "replica.summary = issue.summary +";
    let (status, refused) = post(
        &on_a,
        at_a(&format!("/connections/{id}/rules")),
        &[
            ("csrf", &csrf_a),
            ("outgoing_script", broken),
            ("incoming_script", "issue.summary = replica.summary"),
        ],
    )
    .await;
    assert_eq!(status, 400, "{refused}");
    assert!(refused.contains("does not parse"), "{refused}");
    assert!(refused.contains(broken), "{refused}");

    let info = get_page(&on_a, at_a(&format!("/connections/{id}/edit?tab=info"))).await;
    assert!(info.contains("fixed at creation"), "{info}");
    assert!(info.contains("Support escalations"), "{info}");
    let stats = get_page(
        &on_a,
        at_a(&format!("/connections/{id}/edit?tab=statistics")),
    )
    .await;
    assert!(stats.contains("Work items under sync"), "{stats}");

    // Deactivate, then delete: the page says what happened.
    let resp = on_a
        .post(at_a(&format!("/connections/{id}/deactivate")))
        .form(&[("csrf", csrf_a.as_str())])
        .send()
        .await
        .unwrap();
    let page = resp.text().await.unwrap();
    assert!(page.contains(">Deactivated<"), "{page}");
    assert!(page.contains(">Activate<"), "{page}");
    let resp = on_a
        .post(at_a(&format!("/connections/{id}/delete")))
        .form(&[("csrf", csrf_a.as_str())])
        .send()
        .await
        .unwrap();
    let page = resp.text().await.unwrap();
    assert!(page.contains("Connection acme_to_globex deleted"), "{page}");
    assert!(page.contains("the remote node was told"), "{page}");
}
