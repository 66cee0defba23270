//! What real clients (pysnc, pysnow; see `real_clients.rs`) showed the emulator got wrong,
//! each pinned by a test named for the bug, over plain HTTP so it fails fast and says why.

use base64::Engine;
use reqwest::Method;
use serde_json::{Value, json};
use tandem_emulators::servicenow::InvalidQuery;

use crate::common::{self, CLIENT_ID, CLIENT_SECRET, PASSWORD, USER, id};

/// Regression: pysnow sends `sysparm_fields=` on every GET and got `{"result":[{}]}`.
#[tokio::test]
async fn an_empty_sysparm_fields_returns_every_field() {
    let emu = common::start().await;
    let inc = emu
        .create("incident", json!({ "short_description": "printer" }))
        .await;
    let list = emu
        .get_json("/api/now/table/incident?sysparm_fields=&sysparm_view=")
        .await;
    assert_eq!(list["result"][0]["short_description"], "printer");
    assert_eq!(list["result"][0]["sys_id"], inc["sys_id"]);
    let one = emu
        .get_json(&format!(
            "/api/now/table/incident/{}?sysparm_fields=",
            id(&inc)
        ))
        .await;
    assert_eq!(one["result"]["number"], inc["number"]);
    emu.stop().await;
}

/// Regression: requests-oauthlib sends the client as `Authorization: Basic`, and the password
/// grant got 401.
#[tokio::test]
async fn the_token_endpoint_takes_the_client_in_a_basic_header() {
    let emu = common::start().await;
    let basic = |id: &str, secret: &str| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
        )
    };
    let grant = |auth: String| {
        emu.client
            .post(emu.url("/oauth_token.do"))
            .header("authorization", auth)
            .form(&[
                ("grant_type", "password"),
                ("username", USER),
                ("password", PASSWORD),
            ])
            .send()
    };
    let r = grant(basic(CLIENT_ID, CLIENT_SECRET)).await.expect("req");
    assert_eq!(r.status(), 200);
    let token: Value = r.json().await.expect("json");
    let refresh = token["refresh_token"].as_str().expect("refresh token");
    let r = emu
        .client
        .post(emu.url("/oauth_token.do"))
        .header("authorization", basic(CLIENT_ID, CLIENT_SECRET))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", refresh)])
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 200);
    let r = grant(basic(CLIENT_ID, "wrong")).await.expect("req");
    assert_eq!(r.status(), 401);
    emu.stop().await;
}

async fn seeded_for_queries(emu: &common::Emu) {
    for (desc, urgency) in [("printer on fire", "1"), ("scanner jammed", "2")] {
        emu.create(
            "incident",
            json!({ "short_description": desc, "urgency": urgency }),
        )
        .await;
    }
}

async fn descriptions(emu: &common::Emu, query: &str) -> Vec<String> {
    let r = emu
        .req(Method::GET, "/api/now/table/incident")
        .query(&[("sysparm_query", query)])
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 200, "{query}");
    let body: Value = r.json().await.expect("json");
    body["result"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|r| r["short_description"].as_str().unwrap_or("").to_owned())
        .collect()
}

/// Regression: `NOT LIKE` was dropped (every row came back) while a made-up `NOTLIKE` worked.
#[tokio::test]
async fn not_like_with_a_space_filters_and_notlike_is_an_unknown_operator() {
    let emu = common::start().await;
    seeded_for_queries(&emu).await;
    assert_eq!(
        descriptions(&emu, "short_descriptionNOT LIKEprinter").await,
        ["scanner jammed"]
    );
    assert_eq!(
        descriptions(&emu, "short_descriptionNOTLIKEprinter")
            .await
            .len(),
        2,
        "ServiceNow drops an unknown operator and applies the rest"
    );
    emu.stop().await;
    let mut config = common::config();
    config.invalid_query = InvalidQuery::Reject;
    let emu = common::start_with(config).await;
    let r = emu
        .req(Method::GET, "/api/now/table/incident")
        .query(&[("sysparm_query", "short_descriptionNOTLIKEprinter")])
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.expect("json");
    let detail = body["error"]["detail"].as_str().unwrap_or("");
    assert!(detail.contains("NOT LIKE, with a space"), "{detail}");
    emu.stop().await;
}

/// Regression: `caller_id.user_name=x` was dropped silently, so every row came back.
#[tokio::test]
async fn dot_walked_conditions_filter_and_strict_mode_names_what_it_cannot_answer() {
    let mut config = common::config();
    config.invalid_query = InvalidQuery::Reject;
    let emu = common::start_with(config).await;
    let beth = emu
        .create(
            "sys_user",
            json!({ "user_name": "beth.anglin", "first_name": "Beth", "last_name": "Anglin" }),
        )
        .await;
    emu.create(
        "incident",
        json!({ "short_description": "called", "caller_id": id(&beth) }),
    )
    .await;
    emu.create("incident", json!({ "short_description": "nobody" }))
        .await;
    assert_eq!(
        descriptions(&emu, "caller_id.user_name=beth.anglin").await,
        ["called"]
    );
    assert_eq!(
        descriptions(&emu, "caller_id.nameSTARTSWITHbeth").await,
        ["called"]
    );
    for (bad, says) in [
        ("caller_id.nosuch=1", "has no field `nosuch`"),
        ("short_description.x=1", "is not a reference"),
        (
            "RLQUERYsys_user.manager,=0^ENDRLQUERY",
            "RLQUERYsys_user.manager",
        ),
        (
            "opened_at>javascript:gs.nowNoTZ()",
            "javascript:gs.nowNoTZ()",
        ),
    ] {
        let r = emu
            .req(Method::GET, "/api/now/table/incident")
            .query(&[("sysparm_query", bad)])
            .send()
            .await
            .expect("req");
        assert_eq!(r.status(), 400, "{bad}");
        let body: Value = r.json().await.expect("json");
        let detail = body["error"]["detail"].as_str().unwrap_or("");
        assert!(detail.contains(says), "{bad}: {detail}");
    }
    emu.stop().await;
}

/// Regression: a user created with first and last name had an empty `name`, so references
/// to it displayed empty.
#[tokio::test]
async fn a_users_name_is_calculated_from_first_and_last_name() {
    let emu = common::start().await;
    let user = emu
        .create(
            "sys_user",
            json!({ "user_name": "abel.tuter", "first_name": "Abel", "last_name": "Tuter" }),
        )
        .await;
    assert_eq!(user["name"], "Abel Tuter");
    let inc = emu
        .create("incident", json!({ "caller_id": id(&user) }))
        .await;
    let shown = emu
        .get_json(&format!(
            "/api/now/table/incident/{}?sysparm_display_value=true&sysparm_exclude_reference_link=true",
            id(&inc)
        ))
        .await;
    assert_eq!(shown["result"]["caller_id"], "Abel Tuter");
    let renamed = emu
        .patch(
            "sys_user",
            &id(&user),
            json!({ "last_name": "Tuter-Smith" }),
        )
        .await;
    assert_eq!(renamed["name"], "Abel Tuter-Smith");
    emu.stop().await;
}

/// Regression: `active=false` on insert was overridden by the state rule.
#[tokio::test]
async fn active_follows_the_state_only_when_the_state_crosses_active_and_inactive() {
    let emu = common::start().await;
    let inc = emu
        .create("incident", json!({ "active": "false", "state": "1" }))
        .await;
    assert_eq!(inc["active"], "false", "written on insert, kept");
    let moved = emu
        .patch("incident", &id(&inc), json!({ "state": "2" }))
        .await;
    assert_eq!(moved["active"], "false", "active to active: untouched");
    let closed = emu
        .patch(
            "incident",
            &id(&inc),
            json!({ "state": "7", "close_code": "Solved (Permanently)", "close_notes": "done" }),
        )
        .await;
    assert_eq!(closed["active"], "false");
    let reopened = emu
        .patch("incident", &id(&inc), json!({ "state": "2" }))
        .await;
    assert_eq!(
        reopened["active"], "true",
        "inactive to active: reactivated"
    );
    let born_closed = emu.create("incident", json!({ "state": "7" })).await;
    assert_eq!(born_closed["active"], "false");
    emu.stop().await;
}

/// Regression: pysnc's `/api/now/v1/attachment…` paths answered 400.
#[tokio::test]
async fn versioned_paths_reach_their_apis_and_unknown_versions_do_not() {
    let emu = common::start().await;
    let inc = emu.create("incident", json!({})).await;
    let r = emu
        .req(
            Method::POST,
            &format!(
                "/api/now/v1/attachment/file?table_name=incident&table_sys_id={}&file_name=a.txt",
                id(&inc)
            ),
        )
        .header("content-type", "text/plain")
        .body("hello")
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 201);
    let att: Value = r.json().await.expect("json");
    let att_id = att["result"]["sys_id"].as_str().expect("sys_id").to_owned();
    let bytes = emu
        .get(&format!("/api/now/v1/attachment/{att_id}/file"))
        .await
        .bytes()
        .await
        .expect("bytes");
    assert_eq!(&bytes[..], b"hello");
    for path in [
        "/api/now/v1/table/incident",
        "/api/now/v2/table/incident",
        "/api/now/v1/attachment",
        "/api/now/v1/stats/incident?sysparm_count=true",
    ] {
        assert_eq!(emu.get(path).await.status(), 200, "{path}");
    }
    for path in ["/api/now/v3/table/incident", "/api/now/v2/attachment"] {
        assert_eq!(emu.get(path).await.status(), 400, "{path}");
    }
    emu.stop().await;
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[tokio::test]
async fn the_batch_api_runs_each_call_and_answers_each_with_status_headers_and_body() {
    let emu = common::start().await;
    let inc = emu
        .create("incident", json!({ "short_description": "one" }))
        .await;
    let body = json!({
        "batch_request_id": 7,
        "rest_requests": [
            { "id": "get", "method": "GET", "url": format!("/api/now/table/incident/{}", id(&inc)),
              "headers": [{ "name": "Accept", "value": "application/json" }] },
            { "id": "patch", "method": "PATCH", "url": format!("/api/now/table/incident/{}", id(&inc)),
              "headers": [{ "name": "Content-Type", "value": "application/json" }],
              "body": b64(r#"{"short_description":"two"}"#) },
            { "id": "missing", "method": "GET", "url": format!("/api/now/table/incident/{}", "0".repeat(32)) },
            { "id": "nested", "method": "POST", "url": "/api/now/v1/batch" },
        ]
    });
    let r = emu.send_json(Method::POST, "/api/now/v1/batch", body).await;
    assert_eq!(r.status(), 200);
    let out: Value = r.json().await.expect("json");
    assert_eq!(out["batch_request_id"], "7");
    assert_eq!(out["unserviced_requests"], json!([]));
    let served = out["serviced_requests"].as_array().expect("a list");
    let by_id = |i: &str| served.iter().find(|s| s["id"] == i).expect(i).clone();
    let decode = |s: &Value| -> Value {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(s["body"].as_str().unwrap_or(""))
            .expect("base64");
        serde_json::from_slice(&bytes).expect("json body")
    };
    assert_eq!(by_id("get")["status_code"], 200);
    assert_eq!(decode(&by_id("get"))["result"]["short_description"], "one");
    assert_eq!(
        decode(&by_id("patch"))["result"]["short_description"],
        "two"
    );
    assert!(
        by_id("get")["headers"]
            .as_array()
            .expect("headers")
            .iter()
            .any(|h| h["name"] == "content-type")
    );
    assert_eq!(by_id("missing")["status_code"], 404);
    assert_eq!(by_id("nested")["status_code"], 400);
    for bad in [json!({ "rest_requests": "no" }), json!([1, 2])] {
        let r = emu.send_json(Method::POST, "/api/now/v1/batch", bad).await;
        assert_eq!(r.status(), 400);
    }
    let unauthenticated = emu
        .client
        .post(emu.url("/api/now/v1/batch"))
        .json(&json!({ "batch_request_id": "1", "rest_requests": [] }))
        .send()
        .await
        .expect("req");
    assert_eq!(unauthenticated.status(), 401);
    assert_eq!(
        emu.req(Method::POST, "/api/now/batch")
            .send()
            .await
            .expect("req")
            .status(),
        400,
        "only v1 of the Batch API exists"
    );
    emu.stop().await;
}

#[tokio::test]
async fn the_aggregate_api_counts_groups_and_summarises() {
    let emu = common::start().await;
    for (urgency, impact) in [("1", "1"), ("1", "3"), ("3", "2")] {
        emu.create(
            "incident",
            json!({ "urgency": urgency, "impact": impact, "category": "network" }),
        )
        .await;
    }
    let all = emu
        .get_json("/api/now/stats/incident?sysparm_count=true&sysparm_query=category=network")
        .await;
    assert_eq!(all["result"]["stats"]["count"], "3");
    let grouped = emu
        .get_json(
            "/api/now/stats/incident?sysparm_count=true&sysparm_group_by=urgency\
             &sysparm_avg_fields=impact&sysparm_max_fields=impact&sysparm_sum_fields=impact\
             &sysparm_display_value=true",
        )
        .await;
    let groups = grouped["result"].as_array().expect("groups");
    assert_eq!(groups.len(), 2);
    let high = groups
        .iter()
        .find(|g| g["groupby_fields"][0]["value"] == "1")
        .expect("urgency 1");
    assert_eq!(high["groupby_fields"][0]["field"], "urgency");
    assert_eq!(high["groupby_fields"][0]["display_value"], "1 - High");
    assert_eq!(high["stats"]["count"], "2");
    assert_eq!(high["stats"]["avg"]["impact"], "2.0000");
    assert_eq!(high["stats"]["max"]["impact"], "3");
    assert_eq!(high["stats"]["sum"]["impact"], "4");
    let r = emu
        .get("/api/now/stats/incident?sysparm_count=true&sysparm_group_by=nosuch")
        .await;
    assert_eq!(r.status(), 400);
    let none = emu
        .get_json("/api/now/stats/incident?sysparm_count=true&sysparm_query=urgency=2")
        .await;
    assert_eq!(none["result"]["stats"]["count"], "0");
    emu.stop().await;
}

#[tokio::test]
async fn with_tls_the_emulator_serves_https_with_the_certificate_it_hands_out() {
    let mut config = common::config();
    config.tls = true;
    let running = tandem_emulators::servicenow::start(config)
        .await
        .expect("starts");
    let base = running.base_url();
    assert!(base.starts_with("https://127.0.0.1:"), "{base}");
    let pem = running.certificate_pem().expect("a certificate");
    let cert = reqwest::Certificate::from_pem(pem.as_bytes()).expect("a PEM certificate");
    let client = reqwest::Client::builder()
        .tls_certs_only([cert])
        .build()
        .expect("client");
    let r = client
        .get(format!("{base}/api/now/table/incident"))
        .basic_auth(USER, Some(PASSWORD))
        .send()
        .await
        .expect("an HTTPS request");
    assert_eq!(r.status(), 200);
    let inc: Value = client
        .post(format!("{base}/api/now/table/incident"))
        .basic_auth(USER, Some(PASSWORD))
        .json(&json!({ "short_description": "secure" }))
        .send()
        .await
        .expect("req")
        .json()
        .await
        .expect("json");
    let link = inc["result"]["opened_by"]["link"].as_str().unwrap_or("");
    assert!(link.starts_with("https://"), "links use https: {link}");
    let untrusting = reqwest::Client::new();
    assert!(
        untrusting
            .get(format!("{base}/api/now/table/incident"))
            .send()
            .await
            .is_err(),
        "a client that does not trust the certificate is refused"
    );
    let plain = format!("http://{}/api/now/table/incident", running.addr());
    assert!(
        reqwest::Client::new()
            .get(&plain)
            .basic_auth(USER, Some(PASSWORD))
            .send()
            .await
            .map(|r| r.status() != 200)
            .unwrap_or(true),
        "plain http is not served"
    );
    running.shutdown().await.expect("clean shutdown");
}
