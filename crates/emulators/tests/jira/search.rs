//! JQL search as triggers and polling use it: `/search/jql` paged by `nextPageToken`, the
//! operators, `updated >=` windows at minute precision, `ORDER BY updated`.

use reqwest::Method;
use serde_json::{Value, json};

use super::common::{PROJECT, start};

fn keys(page: &Value) -> Vec<String> {
    page["issues"]
        .as_array()
        .expect("issues")
        .iter()
        .filter_map(|i| i["key"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn search_jql_pages_with_next_page_token_and_has_no_total() {
    let jira = start().await;
    let mut made = Vec::new();
    for n in 0..7 {
        made.push(
            jira.create("Task", &format!("item {n}"), json!({"labels": ["batch"]}))
                .await,
        );
    }
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut body = json!({"jql": "labels = batch ORDER BY key ASC", "maxResults": 3, "fields": ["summary"]});
        if let Some(t) = &token {
            body["nextPageToken"] = json!(t);
        }
        let page = jira
            .expect(Method::POST, "/rest/api/3/search/jql", body, 200)
            .await;
        assert!(
            page.get("total").is_none() && page.get("startAt").is_none(),
            "{page}"
        );
        seen.extend(keys(&page));
        pages += 1;
        match page["nextPageToken"].as_str() {
            Some(t) => {
                assert_eq!(page["isLast"], false);
                token = Some(t.to_owned());
            }
            None => {
                assert_eq!(page["isLast"], true);
                break;
            }
        }
    }
    assert_eq!((pages, seen), (3, made.clone()));
    let ids_only = jira
        .get_json("/rest/api/3/search/jql?jql=labels%20%3D%20batch&maxResults=2")
        .await;
    assert_eq!(
        ids_only["issues"][0]
            .as_object()
            .map(|o| o.keys().cloned().collect::<Vec<_>>()),
        Some(vec!["id".to_owned()])
    );
    let bad_token = jira
        .get("/rest/api/3/search/jql?jql=labels%20%3D%20batch&nextPageToken=nonsense")
        .await;
    assert_eq!(bad_token.status(), 400);
    jira.stop().await;
}

#[tokio::test]
async fn unbounded_or_malformed_jql_is_refused_with_400() {
    let jira = start().await;
    for jql in [
        "",
        "ORDER BY updated",
        "project = ",
        "nosuch = 1",
        "updated >= \"yesterday\"",
        "status in Done",
    ] {
        let r = jira
            .send(
                Method::POST,
                "/rest/api/3/search/jql",
                json!({ "jql": jql }),
            )
            .await;
        assert_eq!(r.status(), 400, "{jql:?}");
        let body: Value = r.json().await.expect("json");
        assert!(
            body["errorMessages"][0].as_str().is_some(),
            "{jql:?}: {body}"
        );
    }
    let r = jira.get("/rest/api/3/search?jql=project%3DSUP").await;
    assert_eq!(r.status(), 410, "the old search is gone on Cloud");
    jira.stop().await;
}

#[tokio::test]
async fn the_operators_triggers_and_polling_use_select_the_right_issues() {
    let jira = start().await;
    let a = jira
        .create(
            "Bug",
            "Printer on fire",
            json!({"labels": ["hw"], "customfield_10010": {"value": "Sev 1"}}),
        )
        .await;
    let b = jira
        .create(
            "Task",
            "Scanner jammed",
            json!({"labels": ["hw"], "priority": {"name": "Low"}}),
        )
        .await;
    let c = jira
        .create("Task", "Password reset", json!({"customfield_10012": 8}))
        .await;
    jira.transition(&b, "21", json!({})).await;
    let run = |jql: &'static str| {
        let jira = &jira;
        async move {
            let page = jira
                .expect(
                    Method::POST,
                    "/rest/api/3/search/jql",
                    json!({"jql": jql, "fields": ["key"], "maxResults": 100}),
                    200,
                )
                .await;
            let mut k = keys(&page);
            k.sort();
            k
        }
    };
    let cases: Vec<(&'static str, Vec<&String>)> = vec![
        ("project = SUP", vec![&a, &b, &c]),
        ("project = SUP AND status = \"In Progress\"", vec![&b]),
        ("status != \"In Progress\" AND project = SUP", vec![&a, &c]),
        ("status in (\"To Do\") OR labels = hw", vec![&a, &b, &c]),
        ("labels = hw AND NOT issuetype = Bug", vec![&b]),
        ("statusCategory = indeterminate", vec![&b]),
        ("summary ~ printer", vec![&a]),
        ("text ~ \"password\"", vec![&c]),
        ("Severity = \"Sev 1\"", vec![&a]),
        ("cf[10012] >= 5", vec![&c]),
        ("priority = Low", vec![&b]),
        ("labels is EMPTY", vec![&c]),
        ("key in (SUP-1, SUP-3)", vec![&a, &c]),
        ("issuekey not in (SUP-1) AND project = SUP", vec![&b, &c]),
        (
            "assignee is EMPTY AND reporter = currentUser()",
            vec![&a, &b, &c],
        ),
        ("updated >= \"-5m\" AND project = SUP", vec![&a, &b, &c]),
    ];
    for (jql, want) in cases {
        let mut want: Vec<String> = want.into_iter().cloned().collect();
        want.sort();
        assert_eq!(run(jql).await, want, "{jql}");
    }
    jira.stop().await;
}

#[tokio::test]
async fn polling_with_updated_at_minute_precision_and_order_by_updated_sees_each_change() {
    let jira = start().await;
    let first = jira.create("Task", "Old", json!({})).await;
    let second = jira.create("Task", "Older change", json!({})).await;
    // Two minutes on: a watermark taken now excludes both.
    jira.advance_clock(120).await;
    let now = jira.get_json("/rest/api/3/serverInfo").await["serverTime"]
        .as_str()
        .expect("time")
        .to_owned();
    let watermark = format!("{} {}", &now[..10], &now[11..16]);
    let poll = format!("project = {PROJECT} AND updated >= \"{watermark}\" ORDER BY updated ASC");
    let empty = jira
        .expect(
            Method::POST,
            "/rest/api/3/search/jql",
            json!({"jql": poll, "fields": ["updated"]}),
            200,
        )
        .await;
    assert_eq!(keys(&empty), Vec::<String>::new(), "{watermark}");
    jira.expect(
        Method::PUT,
        &format!("/rest/api/3/issue/{second}"),
        json!({"fields": {"summary": "changed"}}),
        204,
    )
    .await;
    jira.expect(
        Method::PUT,
        &format!("/rest/api/3/issue/{first}"),
        json!({"fields": {"summary": "changed too"}}),
        204,
    )
    .await;
    let changed = jira
        .expect(
            Method::POST,
            "/rest/api/3/search/jql",
            json!({"jql": poll, "fields": ["updated"]}),
            200,
        )
        .await;
    assert_eq!(
        keys(&changed),
        vec![second.clone(), first.clone()],
        "oldest change first"
    );
    let desc = jira
        .expect(
            Method::POST,
            "/rest/api/3/search/jql",
            json!({"jql": poll.replace("ASC", "DESC"), "fields": ["updated"]}),
            200,
        )
        .await;
    assert_eq!(keys(&desc), vec![first, second]);
    let count = jira
        .expect(
            Method::POST,
            "/rest/api/3/search/approximate-count",
            json!({"jql": poll}),
            200,
        )
        .await;
    assert_eq!(count["count"], 2);
    jira.stop().await;
}

#[tokio::test]
async fn huge_paging_numbers_answer_empty_pages_instead_of_failing() {
    let jira = start().await;
    let key = jira.create("Task", "One", json!({})).await;
    let max = u64::MAX;
    for path in [
        format!("/rest/api/3/issue/{key}/changelog?startAt={max}&maxResults=100"),
        format!("/rest/api/3/issue/{key}/comment?startAt={max}"),
        format!("/rest/api/3/webhook?startAt={max}"),
        format!("/rest/api/3/project/search?startAt={max}"),
    ] {
        let r = jira.get(&path).await;
        assert_eq!(r.status(), 200, "{path}");
    }
    jira.stop().await;
}
