//! Jira Data Center (`--flavour dc`): REST v2 only, wiki markup, users by name, personal
//! access tokens as Bearer (or Basic name:password), and the old `/search` with `startAt`.

use reqwest::Method;
use serde_json::{Value, json};
use tandem_emulators::jira::Flavour;

use super::common::{PROJECT, TOKEN, config, start_with};

#[tokio::test]
async fn data_center_serves_v2_with_pats_names_and_the_old_search() {
    let mut c = config();
    c.flavour = Flavour::Dc;
    let jira = start_with(c).await;
    let pat = |m: Method, p: &str| jira.client.request(m, jira.url(p)).bearer_auth(TOKEN);
    let me: Value = pat(Method::GET, "/rest/api/2/myself")
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(me["name"], "integration");
    assert!(
        me.get("accountId").is_none(),
        "DC users have names, not accountIds: {me}"
    );
    let basic = jira
        .client
        .get(jira.url("/rest/api/2/myself"))
        .basic_auth("integration", Some(TOKEN))
        .send()
        .await
        .expect("request");
    assert_eq!(basic.status(), 200);
    assert_eq!(
        pat(Method::GET, "/rest/api/3/myself")
            .send()
            .await
            .expect("request")
            .status(),
        404,
        "no v3 on DC"
    );
    let info: Value = jira
        .client
        .get(jira.url("/rest/api/2/serverInfo"))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(info["deploymentType"], "Server");

    let created: Value = pat(Method::POST, "/rest/api/2/issue")
        .json(&json!({"fields": {"project": {"key": PROJECT}, "issuetype": {"name": "Task"}, "summary": "On DC",
                                  "description": "plain *wiki*", "assignee": {"name": "alex.agent"}}}))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    let key = created["key"].as_str().expect("key");
    let issue: Value = pat(Method::GET, &format!("/rest/api/2/issue/{key}"))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(issue["fields"]["description"], "plain *wiki*");
    assert_eq!(issue["fields"]["assignee"]["name"], "alex.agent");
    let found: Value = pat(
        Method::GET,
        "/rest/api/2/search?jql=project%20%3D%20SUP&startAt=0&maxResults=10",
    )
    .send()
    .await
    .expect("request")
    .json()
    .await
    .expect("json");
    assert_eq!(
        (found["total"].as_u64(), found["startAt"].as_u64()),
        (Some(1), Some(0))
    );
    assert_eq!(found["issues"][0]["key"], key);
    let enhanced = pat(Method::GET, "/rest/api/2/search/jql?jql=project%3DSUP")
        .send()
        .await
        .expect("request");
    assert_eq!(enhanced.status(), 404, "DC has no enhanced search");
    jira.stop().await;
}
