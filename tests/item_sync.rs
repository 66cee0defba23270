//! Issue 16, points 9–11: sync on the item's own page, a ServiceNow record known by its
//! number, and who wrote a synced comment. (The browser walk of point 9 is in `browser`.)

use serde_json::{Value, json};
use tandem_node::demo::DemoSide;

use crate::common::{Api, PASSWORD, TestNode};
use crate::console::{browser, get_page, hidden};
use crate::console_sync::{console, post};
use crate::sync::{eventually, exalate, exists, item, pair};

/// The remote key of `key`'s twin on connection `desk`, once known.
async fn remote_key(api: &Api, key: &str) -> String {
    let read = || async {
        let (_, body) = api.send(api.get(&format!("/sync/status/{key}"))).await;
        body["twins"][0]["remote_key"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    eventually(&format!("{key} learns its remote key"), || async {
        !read().await.is_empty()
    })
    .await;
    read().await
}

/// Point 9 over HTTP: the item's page lists its twin with the remote key linking to the remote
/// item, and its Sync again, Unexalate, Exalate and Connect forms run the Entity sync status
/// operations and come back to the item's page; its open errors are listed there too.
#[tokio::test]
async fn the_item_page_shows_its_twins_and_runs_the_sync_operations() {
    let (a, b) = pair().await;
    let (api_a, api_b) = (a.api(), b.api());
    let (client, csrf) = console(&a).await;
    api_a
        .item(json!({"project": "SUP", "summary": "Refund stuck"}))
        .await;
    let page_url = format!("{}/items/SUP-1", a.url);
    let page = get_page(&client, &page_url).await;
    assert!(
        page.contains("SUP-1 is not under sync on any connection."),
        "{page}"
    );
    assert!(page.contains("<option>desk</option>"), "{page}");

    // Exalate from the item's page comes back to it, saying what happened.
    let back = "/items/SUP-1";
    let form = |extra: &[(&'static str, &'static str)]| {
        let mut form = vec![
            ("csrf", csrf.as_str()),
            ("key", "SUP-1"),
            ("connection", "desk"),
            ("back", back),
        ];
        form.extend_from_slice(extra);
        form
    };
    let resp = client
        .post(format!("{}/sync/entity/exalate", a.url))
        .form(&form(&[]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.url().path(), "/items/SUP-1");
    let page = resp.text().await.unwrap();
    assert!(page.contains("SUP-1 is under sync on desk"), "{page}");

    let remote = remote_key(&api_a, "SUP-1").await;
    assert_eq!(remote, "ENG-1");
    let page = get_page(&client, &page_url).await;
    let link = format!(
        "<a class=\"remote-item\" href=\"{}/items/ENG-1\">ENG-1</a>",
        b.url
    );
    assert!(page.contains(&link), "{page}");
    assert!(page.contains(">active</span>"), "{page}");

    let (status, page) = post(&client, format!("{}/sync/entity/again", a.url), &form(&[])).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("SUP-1 is sent again on desk."), "{page}");
    assert!(
        page.contains("<h2 id=\"sync\">Sync</h2>"),
        "back on the item: {page}"
    );

    let (status, page) = post(
        &client,
        format!("{}/sync/entity/unexalate", a.url),
        &form(&[]),
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("SUP-1 no longer syncs on desk"), "{page}");
    assert!(page.contains(">stopped</span>"), "{page}");

    // Connect, from the page of another item, to an item B has already.
    api_a
        .item(json!({"project": "SUP", "summary": "Second item"}))
        .await;
    api_b
        .item(json!({"project": "ENG", "summary": "Second item, filed on B too"}))
        .await;
    let (status, page) = post(
        &client,
        format!("{}/sync/entity/connect", a.url),
        &[
            ("csrf", &csrf),
            ("key", "SUP-2"),
            ("connection", "desk"),
            ("remote_key", "ENG-2"),
            ("back", "/items/SUP-2"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("SUP-2 is connected to ENG-2 on desk"),
        "{page}"
    );
    assert!(
        page.contains(&format!(
            "<a class=\"remote-item\" href=\"{}/items/ENG-2\">ENG-2</a>",
            b.url
        )),
        "{page}"
    );

    // A refusal comes back to the item's page as its error.
    let (_, page) = post(
        &client,
        format!("{}/sync/entity/again", a.url),
        &[
            ("csrf", &csrf),
            ("key", "SUP-1"),
            ("connection", "nosuch"),
            ("back", "/items/SUP-1"),
        ],
    )
    .await;
    assert!(page.contains("role=\"alert\""), "{page}");
    assert!(page.contains("nosuch"), "{page}");

    // A `back` that is not one of the item's pages on this node is not followed.
    let no_redirects = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let csrf_b = login_as(&b, &no_redirects, "admin").await;
    for elsewhere in [
        "https://evil.example/",
        "//evil.example/items/ENG-1",
        "/settings",
    ] {
        let resp = no_redirects
            .post(format!("{}/sync/entity/again", b.url))
            .form(&[
                ("csrf", csrf_b.as_str()),
                ("key", "ENG-1"),
                ("connection", "desk"),
                ("back", elsewhere),
            ])
            .send()
            .await
            .unwrap();
        let location = resp.headers()["location"].to_str().unwrap().to_owned();
        assert!(
            location.starts_with("/sync/entity?key=ENG-1"),
            "{elsewhere} → {location}"
        );
    }

    // An item's open errors are on its page, with Resolve and retry coming back to it.
    let (status, body) = api_b
        .json(
            api_b.patch("/connections/desk"),
            json!({"incoming_script": "throw new RuntimeException('item page boom')\n"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    api_a
        .item(json!({"project": "SUP", "summary": "Third"}))
        .await;
    exalate(&api_a, "desk", "SUP-3").await;
    eventually("A's item page lists the error B reported", || async {
        get_page(&client, format!("{}/items/SUP-3", a.url))
            .await
            .contains("item page boom")
    })
    .await;
    let page = get_page(&client, format!("{}/items/SUP-3", a.url)).await;
    assert!(page.contains("Open sync errors"), "{page}");
    assert!(
        page.contains("name=\"back\" value=\"/items/SUP-3\""),
        "{page}"
    );
    assert!(!exists(&api_b, "ENG-3").await);
}

async fn login_as(node: &TestNode, client: &reqwest::Client, user: &str) -> String {
    let html = client
        .get(format!("{}/login", node.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = hidden(&html, "csrf");
    let resp = client
        .post(format!("{}/login", node.url))
        .form(&[
            ("username", user),
            ("password", PASSWORD),
            ("csrf", &csrf),
            ("next", "/items"),
        ])
        .send()
        .await
        .unwrap();
    assert!(
        resp.status().is_redirection() || resp.status().is_success(),
        "{user} signs in: {}",
        resp.status()
    );
    let page = get_page(client, format!("{}/items", node.url)).await;
    assert!(page.contains("Signed in as"), "{page}");
    hidden(&page, "csrf")
}

/// The comments of an item, as the API gives them.
async fn comments(api: &Api, key: &str) -> Vec<Value> {
    item(api, key).await["comments"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Point 11: each demo node has its own person signed in; a comment one writes reaches the
/// other as `mergeComments` writes it ("<author> commented: …"), and keeps who wrote it and
/// where it came from: in the API, on the item's page, and for the rules.
#[tokio::test]
async fn a_synced_comment_keeps_who_wrote_it_and_where_it_came_from() {
    let (desk_user, engineering_user) = (
        DemoSide::ServiceDesk.admin_user(),
        DemoSide::Engineering.admin_user(),
    );
    assert_ne!(desk_user, engineering_user);
    assert_ne!(engineering_user, "admin");
    let a = TestNode::start_with(|c| c.admin_user = Some(engineering_user.into())).await;
    let b = TestNode::start_with(|c| c.admin_user = Some(desk_user.into())).await;
    crate::sync::connect(&a, &b, "script").await;
    let (api_a, api_b) = (a.api(), b.api());
    api_a
        .item(json!({"project": "SUP", "summary": "Refund stuck"}))
        .await;
    exalate(&api_a, "desk", "SUP-1").await;
    eventually("B creates ENG-1", || async {
        exists(&api_b, "ENG-1").await
    })
    .await;

    // A's admin signs in as the demo's engineer and comments in the console.
    let client = browser();
    let csrf = login_as(&a, &client, engineering_user).await;
    let (status, page) = post(
        &client,
        format!("{}/items/SUP-1/comments", a.url),
        &[("csrf", &csrf), ("body", "Refund re-sent to the PSP.")],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(
        comments(&api_a, "SUP-1").await[0]["author"]["name"],
        engineering_user
    );
    // And one through the API by someone with a full name and an email.
    let (status, body) = api_a
        .json(
            api_a.post("/items/SUP-1/comments"),
            json!({"body": "Customer informed.", "author": {"name": "Kim Lee", "email": "kim@acme.example"}}),
        )
        .await;
    assert_eq!(status, 201, "{body}");

    eventually("both comments reach B", || async {
        comments(&api_b, "ENG-1").await.len() == 2
    })
    .await;
    let on_b = comments(&api_b, "ENG-1").await;
    // mergeComments as documented: the prefix, written as the author's name.
    assert_eq!(
        on_b[0]["body"],
        format!("{engineering_user} commented: Refund re-sent to the PSP.")
    );
    assert_eq!(on_b[0]["author"]["name"], engineering_user);
    assert_eq!(on_b[0]["origin"]["synced_from"], "sup");
    assert_eq!(on_b[0]["origin"]["author"]["name"], engineering_user);
    assert_eq!(on_b[1]["body"], "Kim Lee commented: Customer informed.");
    assert_eq!(
        on_b[1]["origin"],
        json!({"synced_from": "sup", "author": {"name": "Kim Lee", "email": "kim@acme.example"}})
    );
    // B's own comments have no origin.
    let (status, body) = api_b
        .json(
            api_b.post("/items/ENG-1/comments"),
            json!({"body": "Looking into it."}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert!(body.get("origin").is_none(), "{body}");

    // B's console: who wrote it, and where it came from.
    let client_b = browser();
    login_as(&b, &client_b, desk_user).await;
    let page = get_page(&client_b, format!("{}/items/ENG-1", b.url)).await;
    assert!(
        page.contains(&format!("synced from sup, written by {engineering_user}")),
        "{page}"
    );
    assert!(
        page.contains("synced from sup, written by Kim Lee &lt;kim@acme.example&gt;"),
        "{page}"
    );

    // B's rules see it on the comment: `syncedFrom` and `originalAuthor`, like `author`.
    let (status, body) = api_b
        .json(
            api_b.patch("/connections/desk"),
            json!({"outgoing_script": "replica.key = issue.key\nreplica.summary = issue.comments[1].originalAuthor.displayName + ' via ' + issue.comments[1].syncedFrom + ', ' + issue.comments[1].originalAuthor.email\n"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = api_b
        .json(
            api_b.post("/connections/desk/test/outgoing"),
            json!({"item": "ENG-1"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["replica"]["summary"], "Kim Lee via sup, kim@acme.example",
        "{body}"
    );
}

/// Point 10: a record's number is its key for the admin. The API and console take it wherever
/// they take a key (any case), the console shows it for the item (page, list, Entity sync
/// status, Errors), and searching for it finds the item; the item's key inside stays, so twins
/// and links keep working.
#[tokio::test]
async fn a_servicenow_record_is_shown_and_found_by_its_number() {
    let (instance, a, b) = crate::servicenow::setup().await;
    let (api_a, api_b) = (a.api(), b.api());
    let created = instance
        .agent(
            reqwest::Method::POST,
            "/api/now/table/incident",
            Some(
                json!({"short_description": "VPN drops every hour", "urgency": "2", "impact": "2"}),
            ),
        )
        .await;
    let number = created["result"]["number"]
        .as_str()
        .expect("number")
        .to_owned();
    let key = crate::servicenow::mirror_of(&api_a, &number).await;
    assert_ne!(key, number);

    // The API: the item by its number, in any case; sync by number.
    for raw in [number.clone(), number.to_lowercase()] {
        let (status, body) = api_a.send(api_a.get(&format!("/items/{raw}"))).await;
        assert_eq!(status, 200, "{raw}: {body}");
        assert_eq!(body["key"], key.as_str());
    }
    let (status, body) = api_a
        .json(
            api_a.post("/sync/exalate"),
            json!({"connection": "snow_to_eng", "item": number}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = api_a
        .send(api_a.get(&format!("/sync/status/{number}")))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["item"], key.as_str());
    assert_eq!(body["number"], number.as_str());
    let (status, _) = api_a.send(api_a.get("/items/INC9999999")).await;
    assert_eq!(status, 404);
    eventually("B creates the incident's item", || async {
        exists(&api_b, "ENG-1").await
    })
    .await;

    // The console: the item's page, the list, search, Entity sync status.
    let (client, _) = console(&a).await;
    let page = get_page(&client, format!("{}/items/{number}", a.url)).await;
    assert!(
        page.contains(&format!("<span class=\"item-key\">{number}</span>")),
        "{page}"
    );
    assert!(page.contains("<title>"), "{page}");
    assert!(
        page.contains(&format!("{number} VPN drops every hour")),
        "{page}"
    );
    let list = get_page(&client, format!("{}/items", a.url)).await;
    assert!(
        list.contains(&format!("<a href=\"/items/{key}\">{number}</a>")),
        "{list}"
    );
    let found = get_page(
        &client,
        format!("{}/items?query={}", a.url, number.to_lowercase()),
    )
    .await;
    assert!(found.contains(&format!(">{number}</a>")), "{found}");
    assert!(found.contains("VPN drops every hour"), "{found}");
    let entity = get_page(&client, format!("{}/sync/entity?key={number}", a.url)).await;
    assert!(
        entity.contains(&format!("<a href=\"/items/{key}\">{number}</a>")),
        "{entity}"
    );
    assert!(
        entity.contains("<tr data-connection=\"snow_to_eng\">"),
        "{entity}"
    );

    // An error about the record names it by its number too.
    let (status, body) = api_a
        .json(
            api_a.patch("/connections/snow_to_eng"),
            json!({"incoming_script": "throw new RuntimeException('numbered boom')\n"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = api_b
        .json(
            api_b.patch("/items/ENG-1"),
            json!({"summary": "VPN drops every hour (all sites)"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let errors_url = format!("{}/sync/errors", a.url);
    eventually("A lists the error", || async {
        get_page(&client, &errors_url)
            .await
            .contains("numbered boom")
    })
    .await;
    let errors = get_page(&client, &errors_url).await;
    assert!(
        errors.contains(&format!("<a href=\"/items/{key}\">{number}</a>")),
        "{errors}"
    );
    instance.emu.shutdown().await.expect("emulator stops");
}

/// An incident opened by an agent on the emulated instance: its number.
async fn open_incident(instance: &crate::servicenow::Instance, summary: &str) -> String {
    let created = instance
        .agent(
            reqwest::Method::POST,
            "/api/now/table/incident",
            Some(json!({"short_description": summary, "urgency": "2", "impact": "2"})),
        )
        .await;
    created["result"]["number"]
        .as_str()
        .expect("number")
        .to_owned()
}

/// The first twin of `key` as the API shows it (null while the item does not exist).
async fn first_twin(api: &Api, key: &str) -> Value {
    let (_, body) = api.send(api.get(&format!("/sync/status/{key}"))).await;
    body["twins"][0].clone()
}

/// Waits until `key`'s twin links the remote item `remote` and knows it by `number`.
async fn twin_knows(api: &Api, key: &str, remote: &str, number: &str) {
    eventually(&format!("{key} knows {remote} as {number}"), || async {
        let twin = first_twin(api, key).await;
        twin["remote_key"] == remote && twin["remote_number"] == number
    })
    .await;
}

/// Point 10 on the other side of the connection: the node twinned with a ServiceNow node
/// shows the record's number as the remote key (API, Entity sync status, the item's page,
/// Errors) and takes it where a remote key is typed (Connect); the twin still links by the
/// mirror's key. The number travels with every replica and acknowledgement, and follows when
/// ServiceNow numbers a record only after its first sync.
#[tokio::test]
async fn the_other_node_shows_and_takes_a_servicenow_records_number() {
    let (instance, a, b) = crate::servicenow::setup().await;
    let (api_a, api_b) = (a.api(), b.api());

    // Numbered before its first sync: the number comes with the replica.
    let number = open_incident(&instance, "VPN drops every hour").await;
    let key = crate::servicenow::mirror_of(&api_a, &number).await;
    let (status, body) = api_a
        .json(
            api_a.post("/sync/exalate"),
            json!({"connection": "snow_to_eng", "item": number}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    twin_knows(&api_b, "ENG-1", &key, &number).await;

    let (client, _) = console(&b).await;
    for page in [
        format!("{}/sync/entity?key=ENG-1", b.url),
        format!("{}/items/ENG-1", b.url),
    ] {
        let html = get_page(&client, &page).await;
        assert!(html.contains(&format!(">{number}</a>")), "{page}: {html}");
        assert!(!html.contains(&format!(">{key}</a>")), "{page}: {html}");
    }

    // Numbered after its first sync: B's item becomes an incident once the bridge wrote it,
    // and the number follows the acknowledgement.
    api_b
        .item(json!({"project": "ENG", "summary": "Certificate expires Friday"}))
        .await;
    let (status, body) = api_b
        .json(
            api_b.post("/sync/exalate"),
            json!({"connection": "snow_to_eng", "item": "ENG-2"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let certificate = "short_description=Certificate expires Friday";
    eventually("the incident is created", || async {
        !instance.rows("incident", certificate).await.is_empty()
    })
    .await;
    let later = instance.rows("incident", certificate).await[0]["number"]
        .as_str()
        .expect("number")
        .to_owned();
    let later_key = crate::servicenow::mirror_of(&api_a, &later).await;
    twin_knows(&api_b, "ENG-2", &later_key, &later).await;

    // Connect, typing the number: the twin links the mirror's key.
    let third = open_incident(&instance, "Printer on fire").await;
    let third_key = crate::servicenow::mirror_of(&api_a, &third).await;
    api_b
        .item(json!({"project": "ENG", "summary": "Printer on fire"}))
        .await;
    let (status, body) = api_b
        .json(
            api_b.post("/sync/connect"),
            json!({"connection": "snow_to_eng", "item": "ENG-3", "remote_key": third.to_lowercase()}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    twin_knows(&api_b, "ENG-3", &third_key, &third).await;
    eventually("A links its incident to ENG-3", || async {
        first_twin(&api_a, &third_key).await["remote_key"] == "ENG-3"
    })
    .await;
    // And the other way: a Connect from the ServiceNow node carries the number.
    let fourth = open_incident(&instance, "Scanner jams").await;
    let fourth_key = crate::servicenow::mirror_of(&api_a, &fourth).await;
    api_b
        .item(json!({"project": "ENG", "summary": "Scanner jams"}))
        .await;
    let (status, body) = api_a
        .json(
            api_a.post("/sync/connect"),
            json!({"connection": "snow_to_eng", "item": fourth, "remote_key": "ENG-4"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    twin_knows(&api_b, "ENG-4", &fourth_key, &fourth).await;

    // An error about the incident names it by its number on B too (page and API).
    let (status, body) = api_b
        .json(
            api_b.patch("/connections/snow_to_eng"),
            json!({"incoming_script": "throw new RuntimeException('numbered boom')\n"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let sys_id = instance.rows("incident", &format!("number={number}")).await[0]["sys_id"]
        .as_str()
        .expect("sys_id")
        .to_owned();
    instance
        .agent(
            reqwest::Method::PATCH,
            &format!("/api/now/table/incident/{sys_id}"),
            Some(json!({"short_description": "VPN drops every hour (all sites)"})),
        )
        .await;
    let errors_url = format!("{}/sync/errors", b.url);
    eventually("B lists the error", || async {
        get_page(&client, &errors_url)
            .await
            .contains("numbered boom")
    })
    .await;
    let errors = get_page(&client, &errors_url).await;
    assert!(errors.contains(&format!("remote {number}")), "{errors}");
    let (status, body) = api_b.send(api_b.get("/sync/errors")).await;
    assert_eq!(status, 200, "{body}");
    let error = &body["errors"][0];
    assert_eq!(error["remote_key"], key.as_str(), "{body}");
    assert_eq!(error["remote_number"], number.as_str(), "{body}");
    instance.emu.shutdown().await.expect("emulator stops");
}

/// What a search for `query` on `api` answers.
async fn found_keys(api: &Api, query: &str) -> (u16, Value) {
    api.send(api.get("/items").query(&[("query", query)])).await
}

/// Point 10's search: on a ServiceNow node the query language takes a record's number where
/// it takes a key (`key = INC0010005`, `key in (…)`, any case), in the API and the console's
/// search box; a number no item mirrors is refused as a key that is not one, and a node that
/// does not serve ServiceNow takes keys only.
#[tokio::test]
async fn the_query_language_takes_a_servicenow_records_number_as_a_key() {
    let (instance, a, b) = crate::servicenow::setup().await;
    let api_a = a.api();
    let first = open_incident(&instance, "Mail queue stuck").await;
    let second = open_incident(&instance, "Badge reader offline").await;
    let first_key = crate::servicenow::mirror_of(&api_a, &first).await;
    let second_key = crate::servicenow::mirror_of(&api_a, &second).await;

    let keys = |body: &Value| -> Vec<String> {
        let mut keys: Vec<String> = body["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|i| i["key"].as_str().expect("key").to_owned())
            .collect();
        keys.sort();
        keys
    };
    let (status, body) = found_keys(&api_a, &format!("key = {}", first.to_lowercase())).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(keys(&body), [first_key.as_str()]);
    let (status, body) =
        found_keys(&api_a, &format!("key in ({first}, {second}) ORDER BY key")).await;
    assert_eq!(status, 200, "{body}");
    let mut both = vec![first_key.clone(), second_key.clone()];
    both.sort();
    assert_eq!(keys(&body), both);
    // Keys and numbers mix, and `!=` and `not in` take numbers too.
    let (status, body) = found_keys(
        &api_a,
        &format!("key in ({first_key}, {second}) AND key != {first}"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(keys(&body), [second_key.as_str()]);
    let (status, body) = found_keys(&api_a, "key = INC9999999").await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("invalid query"),
        "{body}"
    );

    // The console's search box.
    let (client, _) = console(&a).await;
    let page = get_page(&client, format!("{}/items?query=key+%3D+{first}", a.url)).await;
    assert!(
        page.contains(&format!("<a href=\"/items/{first_key}\">{first}</a>")),
        "{page}"
    );
    assert!(!page.contains(&second), "{page}");

    // The built-in tracker has no numbers.
    let api_b = b.api();
    let (status, body) = found_keys(&api_b, &format!("key = {first}")).await;
    assert_eq!(status, 400, "{body}");
    instance.emu.shutdown().await.expect("emulator stops");
}

/// A number that comes after the first sync reaches the other node even when the replica does
/// not change with it (these outgoing rules do not send the key): it goes alone, once, as the
/// record's display key.
#[tokio::test]
async fn a_number_the_replica_does_not_carry_still_reaches_the_other_node() {
    let (instance, a, b) = crate::servicenow::setup().await;
    let (api_a, api_b) = (a.api(), b.api());
    let (status, body) = api_a
        .json(
            api_a.patch("/connections/snow_to_eng"),
            json!({"outgoing_script": "replica.summary = entity.short_description\n"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    api_b
        .item(json!({"project": "ENG", "summary": "Backup job silent"}))
        .await;
    let (status, body) = api_b
        .json(
            api_b.post("/sync/exalate"),
            json!({"connection": "snow_to_eng", "item": "ENG-1"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let query = "short_description=Backup job silent";
    eventually("the incident is created", || async {
        !instance.rows("incident", query).await.is_empty()
    })
    .await;
    let number = instance.rows("incident", query).await[0]["number"]
        .as_str()
        .expect("number")
        .to_owned();
    let key = crate::servicenow::mirror_of(&api_a, &number).await;
    twin_knows(&api_b, "ENG-1", &key, &number).await;
    instance.emu.shutdown().await.expect("emulator stops");
}
