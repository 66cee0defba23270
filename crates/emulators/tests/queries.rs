//! Listing: `sysparm_query` operators, ordering, fields, paging headers, display values.

use serde_json::{Value, json};
use tandem_emulators::servicenow::InvalidQuery;

use crate::common::{self, Emu, id};

/// Three incidents, one clock second apart: INC…1 (P5, "Printer on fire"), INC…2 (P1,
/// "Email down", category network), INC…3 (P3, state 2, "printer jam").
async fn seeded() -> Emu {
    let emu = common::start().await;
    emu.create(
        "incident",
        json!({ "short_description": "Printer on fire" }),
    )
    .await;
    emu.advance_clock(1).await;
    emu.create(
        "incident",
        json!({ "short_description": "Email down", "impact": "1", "urgency": "1", "category": "network" }),
    )
    .await;
    emu.advance_clock(1).await;
    emu.create(
        "incident",
        json!({ "short_description": "printer jam", "impact": "2", "urgency": "2", "state": "2" }),
    )
    .await;
    emu
}

async fn numbers(emu: &Emu, query: &str) -> Vec<String> {
    let path = format!(
        "/api/now/table/incident?sysparm_query={}&sysparm_fields=number",
        urlencode(query)
    );
    let body = emu.get_json(&path).await;
    body["result"]
        .as_array()
        .expect("array")
        .iter()
        .map(|r| {
            r["number"]
                .as_str()
                .expect("number")
                .trim_start_matches("INC001000")
                .to_owned()
        })
        .collect()
}

fn urlencode(s: &str) -> String {
    const VALUE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_');
    percent_encoding::utf8_percent_encode(s, VALUE).to_string()
}

#[tokio::test]
async fn each_operator_filters_as_documented() {
    let emu = seeded().await;
    let cases: &[(&str, &[&str])] = &[
        ("priority=1", &["2"]),
        ("priority!=1", &["1", "3"]),
        ("priority>3", &["1"]),
        ("priority>=3", &["1", "3"]),
        ("priority<3", &["2"]),
        ("priority<=3", &["2", "3"]),
        ("priorityIN1,3", &["2", "3"]),
        ("priorityNOT IN1,3", &["1"]),
        ("short_descriptionLIKEprinter", &["1", "3"]),
        ("short_descriptionNOT LIKEprinter", &["2"]),
        ("short_descriptionSTARTSWITHemail", &["2"]),
        ("short_descriptionENDSWITHfire", &["1"]),
        ("categoryISEMPTY", &["1", "3"]),
        ("categoryISNOTEMPTY", &["2"]),
        ("category!=network", &[]),
        ("priority=1^state=1", &["2"]),
        ("priority=1^ORpriority=3", &["2", "3"]),
        ("priority=5^NQstate=2", &["1", "3"]),
        ("numberBETWEENINC0010002@INC0010003", &["2", "3"]),
        ("ORDERBYpriority", &["2", "3", "1"]),
        ("ORDERBYDESCnumber", &["3", "2", "1"]),
        (
            "short_descriptionLIKEprinter^ORDERBYDESCsys_created_on",
            &["3", "1"],
        ),
    ];
    for (query, expected) in cases {
        assert_eq!(numbers(&emu, query).await, *expected, "query {query}");
    }
    emu.stop().await;
}

#[tokio::test]
async fn dates_compare_as_dates_including_the_change_detection_query() {
    let emu = seeded().await;
    let all = emu
        .get_json("/api/now/table/incident?sysparm_query=ORDERBYsys_updated_on")
        .await;
    let second = all["result"][1]["sys_updated_on"]
        .as_str()
        .expect("date")
        .to_owned();
    let q = format!("sys_updated_on>={second}^ORDERBYsys_updated_on");
    assert_eq!(numbers(&emu, &q).await, ["2", "3"]);
    let q = format!(
        "sys_updated_on>javascript:gs.dateGenerate('{}','{}')",
        &second[..10],
        &second[11..]
    );
    assert_eq!(numbers(&emu, &q).await, ["3"]);
    emu.stop().await;
}

#[tokio::test]
async fn invalid_terms_are_ignored_by_default_as_servicenow_does() {
    let emu = seeded().await;
    assert_eq!(numbers(&emu, "no_such_field=1^priority=1").await, ["2"]);
    assert_eq!(numbers(&emu, "priorityFOO1").await, ["1", "2", "3"]);
    emu.stop().await;
}

#[tokio::test]
async fn invalid_terms_give_no_rows_or_400_when_configured() {
    let mut config = common::config();
    config.invalid_query = InvalidQuery::NoRows;
    let emu = common::start_with(config).await;
    emu.create("incident", json!({})).await;
    assert!(numbers(&emu, "no_such_field=1").await.is_empty());
    emu.stop().await;

    let mut config = common::config();
    config.invalid_query = InvalidQuery::Reject;
    let emu = common::start_with(config).await;
    let r = emu
        .get("/api/now/table/incident?sysparm_query=priorityFOO1")
        .await;
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["error"]["message"], "Invalid query");
    assert!(
        body["error"]["detail"]
            .as_str()
            .expect("detail")
            .contains("priorityFOO1")
    );
    emu.stop().await;
}

#[tokio::test]
async fn plain_field_parameters_filter_too() {
    let emu = seeded().await;
    let body = emu
        .get_json("/api/now/table/incident?number=INC0010002")
        .await;
    assert_eq!(body["result"].as_array().expect("array").len(), 1);
    assert_eq!(body["result"][0]["short_description"], "Email down");
    emu.stop().await;
}

#[tokio::test]
async fn fields_limit_the_returned_columns() {
    let emu = seeded().await;
    let body = emu
        .get_json(
            "/api/now/table/incident?sysparm_fields=number,sys_id,nonexistent&sysparm_limit=1",
        )
        .await;
    let rec = body["result"][0].as_object().expect("object");
    let keys: Vec<&str> = rec.keys().map(String::as_str).collect();
    assert_eq!(keys, ["number", "sys_id"]);
    emu.stop().await;
}

fn links(r: &reqwest::Response) -> Vec<(String, String)> {
    let Some(h) = r.headers().get("link") else {
        return Vec::new();
    };
    h.to_str()
        .expect("ascii")
        .split(",<")
        .map(|part| {
            let part = part.trim_start_matches('<');
            let (url, rel) = part.split_once(">;rel=").expect("url and rel");
            (rel.trim_matches('"').to_owned(), url.to_owned())
        })
        .collect()
}

#[tokio::test]
async fn paging_sends_total_count_and_first_prev_next_last_links() {
    let emu = seeded().await;
    let r = emu
        .get("/api/now/table/incident?sysparm_limit=1&sysparm_offset=1&sysparm_query=ORDERBYnumber")
        .await;
    assert_eq!(r.headers()["x-total-count"], "3");
    let l = links(&r);
    let rels: Vec<&str> = l.iter().map(|(rel, _)| rel.as_str()).collect();
    assert_eq!(rels, ["first", "prev", "next", "last"]);
    let next = &l[2].1;
    assert!(
        next.contains("sysparm_offset=2") && next.contains("sysparm_limit=1"),
        "{next}"
    );
    assert!(next.contains("sysparm_query=ORDERBYnumber"), "{next}");
    assert!(l[3].1.contains("sysparm_offset=2"));
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["result"][0]["number"], "INC0010002");

    // Following `next` until it is absent visits every record once.
    let mut url = emu.url("/api/now/table/incident?sysparm_limit=2&sysparm_query=ORDERBYnumber");
    let mut seen = Vec::new();
    loop {
        let r = emu
            .client
            .get(&url)
            .basic_auth(common::USER, Some(common::PASSWORD))
            .send()
            .await
            .expect("req");
        let next = links(&r)
            .into_iter()
            .find(|(rel, _)| rel == "next")
            .map(|(_, u)| u);
        let body: Value = r.json().await.expect("json");
        seen.extend(body["result"].as_array().expect("array").iter().map(id));
        match next {
            Some(n) => url = n,
            None => break,
        }
    }
    assert_eq!(seen.len(), 3);

    let r = emu.get("/api/now/table/incident").await;
    assert!(
        r.headers().get("link").is_none(),
        "a single page has no Link header"
    );
    assert_eq!(r.headers()["x-total-count"], "3");
    let r = emu.get("/api/now/table/incident?sysparm_limit=1&sysparm_suppress_pagination_header=true&sysparm_no_count=true").await;
    assert!(r.headers().get("link").is_none());
    assert!(r.headers().get("x-total-count").is_none());
    emu.stop().await;
}

#[tokio::test]
async fn display_values_show_labels_and_all_shows_both() {
    let emu = seeded().await;
    let body = emu
        .get_json("/api/now/table/incident?number=INC0010002&sysparm_display_value=true&sysparm_fields=state,priority,opened_by,sys_mod_count")
        .await;
    let rec = &body["result"][0];
    assert_eq!(rec["state"], "New");
    assert_eq!(rec["priority"], "1 - Critical");
    assert_eq!(rec["opened_by"]["display_value"], common::DISPLAY_NAME);
    assert!(rec["opened_by"]["link"].is_string());
    let body = emu
        .get_json("/api/now/table/incident?number=INC0010002&sysparm_display_value=all&sysparm_fields=state,opened_by")
        .await;
    let rec = &body["result"][0];
    assert_eq!(
        rec["state"],
        json!({ "display_value": "New", "value": "1" })
    );
    assert_eq!(rec["opened_by"]["display_value"], common::DISPLAY_NAME);
    assert_eq!(rec["opened_by"]["value"].as_str().map(str::len), Some(32));
    let body = emu
        .get_json("/api/now/table/incident?number=INC0010002&sysparm_display_value=true&sysparm_exclude_reference_link=true&sysparm_fields=opened_by")
        .await;
    assert_eq!(body["result"][0]["opened_by"], common::DISPLAY_NAME);
    emu.stop().await;
}
