//! Table API: envelopes, string values, system fields, numbering, task rules, status codes.

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{self, USER, id};

fn is_sn_datetime(s: &str) -> bool {
    jiff::civil::DateTime::strptime("%Y-%m-%d %H:%M:%S", s).is_ok()
}

#[tokio::test]
async fn insert_returns_201_a_result_envelope_and_string_values_only() {
    let emu = common::start().await;
    let r = emu
        .send_json(
            Method::POST,
            "/api/now/table/incident",
            json!({ "short_description": "Printer on fire", "urgency": 1, "impact": "2" }),
        )
        .await;
    assert_eq!(r.status(), 201);
    let location = r.headers()["location"].to_str().expect("ascii").to_owned();
    let body: Value = r.json().await.expect("json");
    let rec = &body["result"];
    for (field, value) in rec.as_object().expect("object") {
        assert!(
            value.is_string() || field == "opened_by",
            "{field} is not a string: {value}"
        );
    }
    let sys_id = id(rec);
    assert_eq!(sys_id.len(), 32);
    assert!(sys_id.bytes().all(|b| b.is_ascii_hexdigit()));
    assert!(location.ends_with(&format!("/api/now/table/incident/{sys_id}")));
    assert_eq!(rec["number"], "INC0010001");
    assert_eq!(rec["urgency"], "1");
    assert_eq!(rec["priority"], "2", "impact 2 x urgency 1");
    assert_eq!(rec["state"], "1");
    assert_eq!(rec["incident_state"], "1");
    assert_eq!(rec["active"], "true");
    assert_eq!(rec["sys_mod_count"], "0");
    assert_eq!(rec["sys_created_by"], USER);
    assert_eq!(rec["sys_updated_by"], USER);
    assert_eq!(rec["sys_class_name"], "incident");
    assert_eq!(rec["comments"], "");
    assert!(is_sn_datetime(
        rec["sys_created_on"].as_str().expect("string")
    ));
    assert_eq!(rec["sys_created_on"], rec["sys_updated_on"]);
    let second = emu.create("incident", json!({})).await;
    assert_eq!(second["number"], "INC0010002");
    assert_eq!(second["priority"], "5", "defaults: impact 3, urgency 3");
    emu.stop().await;
}

#[tokio::test]
async fn each_task_table_numbers_and_defaults_its_own_way() {
    let emu = common::start().await;
    let prb = emu
        .create("problem", json!({ "short_description": "p" }))
        .await;
    assert_eq!(prb["number"], "PRB0040001");
    assert_eq!(prb["state"], "101");
    assert_eq!(prb["problem_state"], "101");
    let chg = emu.create("change_request", json!({})).await;
    assert_eq!(chg["number"], "CHG0030001");
    assert_eq!(chg["state"], "-5");
    let task = emu.create("sc_task", json!({})).await;
    assert_eq!(task["number"], "SCTASK0010001");
    let req = emu
        .create("sc_request", json!({ "short_description": "New laptop" }))
        .await;
    assert_eq!(req["number"], "REQ0010001");
    assert_eq!(req["state"], "1");
    assert_eq!(req["request_state"], "requested");
    let ritm = emu
        .create(
            "sc_req_item",
            json!({ "short_description": "Laptop", "request": common::id(&req) }),
        )
        .await;
    assert_eq!(ritm["number"], "RITM0010001");
    assert_eq!(ritm["approval"], "not requested");
    assert_eq!(ritm["request"]["value"], common::id(&req), "{ritm}");
    let closed = emu
        .patch("sc_req_item", &common::id(&ritm), json!({ "state": "7" }))
        .await;
    assert_eq!(closed["active"], "false", "Closed Skipped ends the item");
    let task = emu
        .create("sc_task", json!({ "request_item": common::id(&ritm) }))
        .await;
    assert_eq!(task["request_item"]["value"], common::id(&ritm), "{task}");
    emu.stop().await;
}

#[tokio::test]
async fn declared_custom_columns_are_kept_and_others_dropped() {
    let emu = common::start_with(common::config().with_custom_column("incident", "u_tier")).await;
    let inc = emu
        .create("incident", json!({ "u_tier": "gold", "u_other": "x" }))
        .await;
    assert_eq!(inc["u_tier"], "gold");
    assert!(inc.get("u_other").is_none(), "undeclared: {inc}");
    let inc = emu
        .patch("incident", &common::id(&inc), json!({ "u_tier": "silver" }))
        .await;
    assert_eq!(inc["u_tier"], "silver");
    let found = emu
        .get_json("/api/now/table/incident?sysparm_query=u_tier=silver&sysparm_fields=u_tier")
        .await;
    assert_eq!(found["result"], json!([{ "u_tier": "silver" }]));
    emu.stop().await;

    let bad =
        tandem_emulators::servicenow::start(common::config().with_custom_column("nope", "u_x"))
            .await;
    assert!(
        matches!(bad, Err(tandem_emulators::servicenow::EmulatorError::Config(ref e)) if e.contains("no table nope")),
        "{bad:?}"
    );
}

#[tokio::test]
async fn a_sys_id_given_in_upper_case_is_the_same_record() {
    let emu = common::start().await;
    let id = "0123456789abcdef0123456789abcdef";
    emu.create("incident", json!({ "sys_id": id })).await;
    let r = emu
        .send_json(
            Method::POST,
            "/api/now/table/incident",
            json!({ "sys_id": id.to_uppercase() }),
        )
        .await;
    assert_ne!(r.status(), 201, "a second record with the same sys_id");
    let all = emu.get_json("/api/now/table/incident").await;
    assert_eq!(all["result"].as_array().map(Vec::len), Some(1), "{all}");
    emu.stop().await;
}

#[tokio::test]
async fn update_changes_only_sent_fields_and_bumps_mod_count() {
    let emu = common::start().await;
    let rec = emu
        .create(
            "incident",
            json!({ "short_description": "a", "description": "keep" }),
        )
        .await;
    let sys_id = id(&rec);
    emu.advance_clock(5).await;
    let up = emu
        .patch("incident", &sys_id, json!({ "short_description": "b" }))
        .await;
    assert_eq!(up["short_description"], "b");
    assert_eq!(up["description"], "keep");
    assert_eq!(up["sys_mod_count"], "1");
    assert_ne!(up["sys_updated_on"], rec["sys_updated_on"]);
    assert_eq!(up["sys_created_on"], rec["sys_created_on"]);
    let r = emu
        .send_json(
            Method::PUT,
            &format!("/api/now/table/incident/{sys_id}"),
            json!({ "state": "2", "sys_mod_count": "99", "number": "X" }),
        )
        .await;
    assert_eq!(r.status(), 200);
    let put: Value = r.json().await.expect("json");
    assert_eq!(put["result"]["state"], "2");
    assert_eq!(put["result"]["incident_state"], "2");
    assert_eq!(
        put["result"]["sys_mod_count"], "2",
        "system fields are not writable"
    );
    assert_eq!(put["result"]["number"], "INC0010001");
    let same = emu
        .patch("incident", &sys_id, json!({ "state": "2" }))
        .await;
    assert_eq!(same["sys_mod_count"], "2", "no change, no update");
    let got = emu
        .get_json(&format!("/api/now/table/incident/{sys_id}"))
        .await;
    assert_eq!(got["result"]["short_description"], "b");
    emu.stop().await;
}

#[tokio::test]
async fn state_rules_mirror_state_and_stamp_resolution_and_closure() {
    let emu = common::start().await;
    let rec = emu
        .create("incident", json!({ "incident_state": "2" }))
        .await;
    assert_eq!(rec["state"], "2", "writing the legacy mirror sets state");
    let sys_id = id(&rec);
    let res = emu
        .patch(
            "incident",
            &sys_id,
            json!({ "state": "6", "close_code": "Solved (Permanently)" }),
        )
        .await;
    assert_ne!(res["resolved_at"], "");
    assert_eq!(res["active"], "true");
    let closed = emu.patch("incident", &sys_id, json!({ "state": 7 })).await;
    assert_eq!(closed["active"], "false");
    assert_ne!(closed["closed_at"], "");
    let up = emu
        .patch(
            "incident",
            &sys_id,
            json!({ "impact": "1", "urgency": "1", "priority": "5" }),
        )
        .await;
    assert_eq!(up["priority"], "1", "priority is computed, not written");
    let prb = emu.create("problem", json!({})).await;
    let prb = emu
        .patch("problem", &id(&prb), json!({ "problem_state": "103" }))
        .await;
    assert_eq!(prb["state"], "103");
    emu.stop().await;
}

#[tokio::test]
async fn references_render_as_link_and_value_and_resolve_display_names() {
    let emu = common::start().await;
    let users = emu
        .get_json("/api/now/table/sys_user?user_name=admin")
        .await;
    let admin_id = id(&users["result"][0]);
    let rec = emu
        .create("incident", json!({ "caller_id": "admin" }))
        .await;
    assert_eq!(rec["caller_id"]["value"], admin_id.as_str());
    let link = rec["caller_id"]["link"].as_str().expect("link");
    assert!(link.ends_with(&format!("/api/now/table/sys_user/{admin_id}")));
    assert_eq!(rec["opened_by"]["value"], admin_id.as_str());
    assert_eq!(rec["assigned_to"], "", "empty reference is an empty string");
    let r = emu
        .get_json(&format!(
            "/api/now/table/incident/{}?sysparm_exclude_reference_link=true",
            id(&rec)
        ))
        .await;
    assert_eq!(r["result"]["caller_id"], admin_id.as_str());
    emu.stop().await;
}

#[tokio::test]
async fn delete_answers_204_and_the_record_is_gone() {
    let emu = common::start().await;
    let rec = emu.create("incident", json!({})).await;
    let path = format!("/api/now/table/incident/{}", id(&rec));
    let r = emu
        .req(Method::DELETE, &path)
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 204);
    assert!(r.bytes().await.expect("body").is_empty());
    let r = emu.get(&path).await;
    assert_eq!(r.status(), 404);
    emu.stop().await;
}

async fn assert_error(r: reqwest::Response, status: u16, message: &str) {
    assert_eq!(r.status(), status);
    let body: Value = r.json().await.expect("json error body");
    assert_eq!(body["status"], "failure");
    assert_eq!(body["error"]["message"], message, "{body}");
    assert!(body["error"].get("detail").is_some());
}

#[tokio::test]
async fn errors_use_servicenow_envelope_and_status_codes() {
    let emu = common::start().await;
    let missing = "0123456789abcdef0123456789abcdef";
    assert_error(
        emu.get(&format!("/api/now/table/incident/{missing}")).await,
        404,
        "No Record found",
    )
    .await;
    let r = emu
        .send_json(
            Method::PATCH,
            &format!("/api/now/table/incident/{missing}"),
            json!({}),
        )
        .await;
    assert_error(r, 404, "No Record found").await;
    let r = emu
        .req(
            Method::DELETE,
            &format!("/api/now/table/incident/{missing}"),
        )
        .send()
        .await
        .expect("req");
    assert_error(r, 404, "No Record found").await;
    assert_error(
        emu.get("/api/now/table/no_such_table").await,
        400,
        "Invalid table no_such_table",
    )
    .await;
    let r = emu
        .req(Method::POST, "/api/now/table/incident")
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("req");
    assert_error(r, 400, "Exception while reading request").await;
    assert_error(
        emu.get("/api/now/table/incident?sysparm_offset=-1").await,
        400,
        "Negative offset is not supported",
    )
    .await;
    emu.stop().await;
}

#[tokio::test]
async fn an_array_body_inserts_only_its_first_record() {
    let emu = common::start().await;
    let r = emu
        .send_json(
            Method::POST,
            "/api/now/table/incident",
            json!([{ "short_description": "one" }, { "short_description": "two" }]),
        )
        .await;
    assert_eq!(r.status(), 201);
    let list = emu.get_json("/api/now/table/incident").await;
    assert_eq!(list["result"].as_array().expect("array").len(), 1);
    assert_eq!(list["result"][0]["short_description"], "one");
    emu.stop().await;
}

#[tokio::test]
async fn versioned_paths_serve_the_same_table_api() {
    let emu = common::start().await;
    emu.create("incident", json!({})).await;
    for v in ["v1", "v2"] {
        let list = emu.get_json(&format!("/api/now/{v}/table/incident")).await;
        assert_eq!(list["result"].as_array().expect("array").len(), 1);
    }
    emu.stop().await;
}

#[tokio::test]
async fn shutdown_stops_accepting_connections() {
    let emu = common::start().await;
    let url = emu.url("/api/now/table/incident");
    let client = emu.client.clone();
    emu.stop().await;
    assert!(client.get(url).send().await.is_err());
}

#[tokio::test]
async fn data_policies_when_enforced_refuse_resolving_without_close_fields_with_403() {
    let mut config = common::config();
    config.enforce_data_policies = true;
    let emu = common::start_with(config).await;
    let rec = emu.create("incident", json!({})).await;
    let path = format!("/api/now/table/incident/{}", id(&rec));
    let r = emu
        .send_json(Method::PATCH, &path, json!({ "state": "6" }))
        .await;
    assert_eq!(r.status(), 403);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["status"], "failure");
    let detail = body["error"]["detail"].as_str().expect("detail");
    assert!(
        detail.contains("close_code") && detail.contains("close_notes"),
        "{detail}"
    );
    let unchanged = emu.get_json(&path).await;
    assert_eq!(
        unchanged["result"]["state"], "1",
        "a refused update changes nothing"
    );
    let ok = emu
        .patch(
            "incident",
            &id(&rec),
            json!({ "state": "6", "close_code": "Solved (Permanently)", "close_notes": "done" }),
        )
        .await;
    assert_eq!(ok["state"], "6");
    emu.stop().await;
}

#[tokio::test]
async fn unknown_paths_and_methods_answer_in_the_error_envelope() {
    let emu = common::start().await;
    let r = emu.get("/api/now/nothing/here").await;
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["status"], "failure");
    let r = emu
        .req(Method::DELETE, "/api/now/table/incident")
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 405);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["status"], "failure");
    emu.stop().await;
}

#[tokio::test]
async fn input_display_value_lets_choice_fields_be_written_by_label() {
    let emu = common::start().await;
    let r = emu
        .send_json(
            Method::POST,
            "/api/now/table/incident?sysparm_input_display_value=true",
            json!({ "state": "In Progress", "impact": "1 - High" }),
        )
        .await;
    assert_eq!(r.status(), 201);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["result"]["state"], "2");
    assert_eq!(body["result"]["impact"], "1");
    let raw = emu
        .create("incident", json!({ "state": "In Progress" }))
        .await;
    assert_eq!(
        raw["state"], "In Progress",
        "without the flag the text is stored as given"
    );
    emu.stop().await;
}

#[tokio::test]
async fn demo_seed_starts_with_incidents_to_sync() {
    let mut config = common::config();
    config.seed_demo = true;
    let emu = common::start_with(config).await;
    let r = emu
        .get("/api/now/table/incident?sysparm_query=active=true")
        .await;
    assert_eq!(r.headers()["x-total-count"], "3");
    let journal = emu.get_json("/api/now/table/sys_journal_field").await;
    assert!(journal["result"].as_array().expect("array").len() >= 2);
    emu.stop().await;
}
