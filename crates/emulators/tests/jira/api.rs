//! Issues, fields, metadata, comments, attachments and transitions, as an integration drives
//! Jira Cloud's REST API v3 (and v2, which Cloud serves beside it).

use reqwest::Method;
use serde_json::{Value, json};

use super::common::{MEMBER, PROJECT, TOKEN, USER, adf, start};

#[tokio::test]
async fn basic_auth_takes_email_and_api_token_and_refuses_anything_else() {
    let jira = start().await;
    let me = jira.get_json("/rest/api/3/myself").await;
    assert_eq!(me["emailAddress"], USER);
    assert_eq!(me["accountId"].as_str().map(str::len), Some(24));
    for (user, secret) in [(USER, "wrong"), ("integration", TOKEN)] {
        let r = jira
            .client
            .get(jira.url("/rest/api/3/myself"))
            .basic_auth(user, Some(secret))
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), 401, "{user}");
    }
    let r = jira
        .client
        .get(jira.url("/rest/api/3/myself"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 401, "no bearer tokens on Cloud");
    let r = jira
        .client
        .get(jira.url("/rest/api/3/myself"))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.expect("json");
    assert!(
        body["errorMessages"][0].as_str().is_some(),
        "Jira's ErrorCollection: {body}"
    );
    let info = jira
        .client
        .get(jira.url("/rest/api/3/serverInfo"))
        .send()
        .await
        .expect("request");
    assert_eq!(info.status(), 200, "serverInfo needs no sign-in");
    jira.stop().await;
}

#[tokio::test]
async fn users_are_found_by_email_and_name_with_account_ids() {
    let jira = start().await;
    let found = jira
        .get_json(&format!("/rest/api/3/user/search?query={MEMBER}"))
        .await;
    assert_eq!(found.as_array().map(Vec::len), Some(1));
    let id = found[0]["accountId"]
        .as_str()
        .expect("accountId")
        .to_owned();
    let by_name = jira.get_json("/rest/api/3/user/search?query=alex").await;
    assert_eq!(by_name[0]["accountId"], id.as_str());
    let by_account = jira
        .get_json(&format!("/rest/api/3/user/search?query={id}"))
        .await;
    assert_eq!(
        by_account[0]["emailAddress"], MEMBER,
        "an exact accountId matches, as clients rely on"
    );
    let by_id = jira
        .get_json(&format!("/rest/api/3/user?accountId={id}"))
        .await;
    assert_eq!(by_id["displayName"], "Alex Agent");
    assert_eq!(
        jira.get_json("/rest/api/3/user/search?query=nobody").await,
        json!([])
    );
    let r = jira.get("/rest/api/3/user/search").await;
    assert_eq!(r.status(), 400);
    jira.stop().await;
}

#[tokio::test]
async fn fields_and_create_metadata_describe_the_custom_fields() {
    let jira = start().await;
    let fields = jira.get_json("/rest/api/3/field").await;
    let custom: Vec<(&str, &str)> = fields
        .as_array()
        .expect("array")
        .iter()
        .filter(|f| f["custom"] == true)
        .map(|f| {
            (
                f["name"].as_str().unwrap_or_default(),
                f["schema"]["custom"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    for kind in [
        "select",
        "cascadingselect",
        "float",
        "datepicker",
        "userpicker",
        "multiuserpicker",
    ] {
        assert!(
            custom.iter().any(|(_, t)| t.ends_with(&format!(":{kind}"))),
            "a {kind} field in {custom:?}"
        );
    }
    let types = jira
        .get_json(&format!(
            "/rest/api/3/issue/createmeta/{PROJECT}/issuetypes"
        ))
        .await;
    let list = types["issueTypes"].as_array().expect("issueTypes");
    let sub = list
        .iter()
        .find(|t| t["name"] == "Sub-task")
        .expect("a sub-task type");
    assert_eq!(sub["subtask"], true);
    let sub_fields = jira
        .get_json(&format!(
            "/rest/api/3/issue/createmeta/{PROJECT}/issuetypes/{}",
            sub["id"].as_str().expect("id")
        ))
        .await;
    let parent = sub_fields["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .find(|f| f["fieldId"] == "parent")
        .expect("parent");
    assert_eq!(parent["required"], true, "a sub-task needs its parent");
    let page = jira
        .get_json(&format!(
            "/rest/api/3/issue/createmeta/{PROJECT}/issuetypes?startAt=1&maxResults=2"
        ))
        .await;
    assert_eq!(
        (
            page["startAt"].as_u64(),
            page["maxResults"].as_u64(),
            page["total"].as_u64()
        ),
        (Some(1), Some(2), Some(5))
    );
    assert_eq!(page["issueTypes"].as_array().map(Vec::len), Some(2));
    let r = jira
        .get("/rest/api/3/issue/createmeta/NOPE/issuetypes")
        .await;
    assert_eq!(r.status(), 400);
    jira.stop().await;
}

#[tokio::test]
async fn issues_are_created_read_edited_and_deleted_with_adf_in_v3() {
    let jira = start().await;
    let member = jira
        .get_json(&format!("/rest/api/3/user/search?query={MEMBER}"))
        .await[0]["accountId"]
        .clone();
    let key = jira
        .create(
            "Bug",
            "Printer on fire",
            json!({
                "description": adf("Smoke on floor 3"),
                "labels": ["printer"],
                "priority": {"name": "High"},
                "assignee": {"accountId": member},
                "customfield_10010": {"value": "Sev 1"},
                "customfield_10011": {"value": "Americas", "child": {"value": "Austin"}},
                "customfield_10012": 3.5,
                "customfield_10013": "2030-01-31",
            }),
        )
        .await;
    assert_eq!(key, "SUP-1");
    let issue = jira
        .get_json(&format!(
            "/rest/api/3/issue/{key}?expand=names,schema,changelog,transitions"
        ))
        .await;
    let f = &issue["fields"];
    assert_eq!(f["description"], adf("Smoke on floor 3"));
    assert_eq!(f["status"]["name"], "To Do");
    assert_eq!(f["status"]["statusCategory"]["key"], "new");
    assert_eq!(f["priority"]["name"], "High");
    assert_eq!(f["assignee"]["accountId"], member);
    assert_eq!(f["customfield_10010"]["value"], "Sev 1");
    assert_eq!(f["customfield_10011"]["child"]["value"], "Austin");
    assert_eq!(f["customfield_10012"], 3.5);
    assert_eq!(f["customfield_10013"], "2030-01-31");
    assert_eq!(f["reporter"]["emailAddress"], USER);
    assert!(
        f["created"]
            .as_str()
            .is_some_and(|c| c.ends_with("+0000") && c.len() == 28),
        "{}",
        f["created"]
    );
    assert_eq!(issue["names"]["customfield_10010"], "Severity");
    assert_eq!(issue["schema"]["customfield_10012"]["type"], "number");
    assert_eq!(issue["transitions"][0]["name"], "Start progress");

    let only = jira
        .get_json(&format!(
            "/rest/api/3/issue/{key}?fields=summary,customfield_10010"
        ))
        .await;
    let names: Vec<&String> = only["fields"].as_object().expect("fields").keys().collect();
    assert_eq!(names, ["summary", "customfield_10010"]);

    jira.expect(
        Method::PUT,
        &format!("/rest/api/3/issue/{key}"),
        json!({"fields": {"summary": "Printer still on fire", "customfield_10010": null},
               "update": {"labels": [{"add": "fire"}]}}),
        204,
    )
    .await;
    let edited = jira
        .get_json(&format!("/rest/api/3/issue/{key}?expand=changelog"))
        .await;
    assert_eq!(edited["fields"]["summary"], "Printer still on fire");
    assert_eq!(edited["fields"]["customfield_10010"], Value::Null);
    assert_eq!(edited["fields"]["labels"], json!(["printer", "fire"]));
    let items: Vec<&str> = edited["changelog"]["histories"][0]["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["field"].as_str())
        .collect();
    assert_eq!(items, ["Severity", "labels", "summary"]);
    assert!(edited["fields"]["updated"].as_str() > issue["fields"]["updated"].as_str());

    let returned = jira
        .expect(
            Method::PUT,
            &format!("/rest/api/3/issue/{key}?returnIssue=true"),
            json!({"fields": {"duedate": "2030-02-02"}}),
            200,
        )
        .await;
    assert_eq!(returned["fields"]["duedate"], "2030-02-02");

    let bad = jira
        .expect(
            Method::PUT,
            &format!("/rest/api/3/issue/{key}"),
            json!({"fields": {"description": "a v2 string", "customfield_10011": {"value": "EMEA", "child": {"value": "Austin"}},
                              "status": {"name": "Done"}}}),
            400,
        )
        .await;
    assert!(bad["errors"]["status"].as_str().is_some(), "{bad}");
    let bad = jira
        .expect(
            Method::PUT,
            &format!("/rest/api/3/issue/{key}"),
            json!({"fields": {"description": "a v2 string", "nosuch": 1}}),
            400,
        )
        .await;
    for field in ["description", "nosuch"] {
        assert!(bad["errors"][field].as_str().is_some(), "{field}: {bad}");
    }
    let missing = jira
        .expect(
            Method::POST,
            "/rest/api/3/issue",
            json!({"fields": {"project": {"key": PROJECT}, "issuetype": {"name": "Task"}}}),
            400,
        )
        .await;
    assert_eq!(
        missing["errors"]["summary"],
        "You must specify a summary of the issue."
    );

    jira.expect(
        Method::DELETE,
        &format!("/rest/api/3/issue/{key}"),
        Value::Null,
        204,
    )
    .await;
    let gone = jira.get(&format!("/rest/api/3/issue/{key}")).await;
    assert_eq!(gone.status(), 404);
    jira.stop().await;
}

#[tokio::test]
async fn v2_reads_and_writes_wiki_markup_for_the_same_issue() {
    let jira = start().await;
    let created = jira
        .expect(
            Method::POST,
            "/rest/api/2/issue",
            json!({"fields": {"project": {"key": PROJECT}, "issuetype": {"id": "10001"}, "summary": "From v2",
                              "description": "h2. Steps\n\n* one\n* two"}}),
            201,
        )
        .await;
    assert!(
        created["self"]
            .as_str()
            .is_some_and(|s| s.contains("/rest/api/2/issue/"))
    );
    let key = created["key"].as_str().expect("key");
    let v3 = jira.get_json(&format!("/rest/api/3/issue/{key}")).await;
    assert_eq!(v3["fields"]["description"]["content"][0]["type"], "heading");
    assert_eq!(
        v3["fields"]["description"]["content"][1]["type"],
        "bulletList"
    );
    let v2 = jira.get_json(&format!("/rest/api/2/issue/{key}")).await;
    assert_eq!(v2["fields"]["description"], "h2. Steps\n\n* one\n* two");
    let latest = jira
        .get_json(&format!("/rest/api/latest/issue/{key}"))
        .await;
    assert_eq!(latest["fields"]["description"], v2["fields"]["description"]);
    let c = jira
        .expect(
            Method::POST,
            &format!("/rest/api/2/issue/{key}/comment"),
            json!({"body": "a *bold* comment"}),
            201,
        )
        .await;
    assert_eq!(c["body"], "a *bold* comment");
    let unknown = jira.get(&format!("/rest/api/4/issue/{key}")).await;
    assert_eq!(unknown.status(), 404);
    jira.stop().await;
}

#[tokio::test]
async fn sub_tasks_and_epics_keep_their_hierarchy() {
    let jira = start().await;
    let epic = jira.create("Epic", "Big thing", json!({})).await;
    let story = jira
        .create("Story", "Part of it", json!({"parent": {"key": epic}}))
        .await;
    let sub = jira
        .create("Sub-task", "Small step", json!({"parent": {"key": story}}))
        .await;
    let s = jira.get_json(&format!("/rest/api/3/issue/{story}")).await;
    assert_eq!(s["fields"]["parent"]["key"], epic.as_str());
    assert_eq!(s["fields"]["subtasks"][0]["key"], sub.as_str());
    for (kind, parent) in [("Sub-task", sub.as_str()), ("Task", story.as_str())] {
        let r = jira
            .send(
                Method::POST,
                "/rest/api/3/issue",
                json!({"fields": {"project": {"key": PROJECT}, "issuetype": {"name": kind}, "summary": "x", "parent": {"key": parent}}}),
            )
            .await;
        assert_eq!(r.status(), 400, "{kind} under {parent}");
    }
    let r = jira
        .send(
            Method::DELETE,
            &format!("/rest/api/3/issue/{story}"),
            Value::Null,
        )
        .await;
    assert_eq!(r.status(), 400, "sub-tasks must be deleted with it");
    let r = jira
        .send(
            Method::DELETE,
            &format!("/rest/api/3/issue/{story}?deleteSubtasks=true"),
            Value::Null,
        )
        .await;
    assert_eq!(r.status(), 204);
    assert_eq!(
        jira.get(&format!("/rest/api/3/issue/{sub}")).await.status(),
        404
    );
    jira.stop().await;
}

#[tokio::test]
async fn transitions_follow_the_workflow_and_done_needs_a_resolution() {
    let jira = start().await;
    let key = jira.create("Task", "Walk the workflow", json!({})).await;
    let t = jira
        .get_json(&format!("/rest/api/3/issue/{key}/transitions"))
        .await;
    let ids: Vec<&str> = t["transitions"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|t| t["id"].as_str())
        .collect();
    assert_eq!(ids, ["21"]);
    let r = jira
        .send(
            Method::POST,
            &format!("/rest/api/3/issue/{key}/transitions"),
            json!({"transition": {"id": "51"}}),
        )
        .await;
    assert_eq!(r.status(), 400, "Done is not one step from To Do");
    jira.transition(&key, "21", json!({})).await;
    jira.transition(&key, "31", json!({})).await;
    let with_fields = jira
        .get_json(&format!(
            "/rest/api/3/issue/{key}/transitions?expand=transitions.fields&transitionId=51"
        ))
        .await;
    assert_eq!(
        with_fields["transitions"][0]["fields"]["resolution"]["required"],
        true
    );
    let r = jira
        .send(
            Method::POST,
            &format!("/rest/api/3/issue/{key}/transitions"),
            json!({"transition": {"id": "51"}}),
        )
        .await;
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.expect("json");
    assert!(body["errors"]["resolution"].as_str().is_some(), "{body}");
    let r = jira
        .send(
            Method::POST,
            &format!("/rest/api/3/issue/{key}/transitions"),
            json!({"transition": {"id": "31"}, "fields": {"summary": "x"}}),
        )
        .await;
    assert_eq!(r.status(), 400, "fields not on the transition's screen");
    jira.expect(
        Method::POST,
        &format!("/rest/api/3/issue/{key}/transitions"),
        json!({"transition": {"id": "51"}, "fields": {"resolution": {"name": "Done"}},
               "update": {"comment": [{"add": {"body": adf("Closing")}}]}}),
        204,
    )
    .await;
    let done = jira.get_json(&format!("/rest/api/3/issue/{key}")).await;
    assert_eq!(done["fields"]["status"]["statusCategory"]["key"], "done");
    assert_eq!(done["fields"]["resolution"]["name"], "Done");
    assert!(done["fields"]["resolutiondate"].is_string());
    assert_eq!(
        done["fields"]["comment"]["comments"][0]["body"],
        adf("Closing")
    );
    let log = jira
        .get_json(&format!("/rest/api/3/issue/{key}/changelog"))
        .await;
    let statuses: Vec<(&str, &str)> = log["values"]
        .as_array()
        .expect("values")
        .iter()
        .flat_map(|h| h["items"].as_array().into_iter().flatten())
        .filter(|i| i["field"] == "status")
        .map(|i| {
            (
                i["fromString"].as_str().unwrap_or_default(),
                i["toString"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [
            ("To Do", "In Progress"),
            ("In Progress", "In Review"),
            ("In Review", "Done")
        ]
    );
    jira.transition(&key, "71", json!({})).await;
    let reopened = jira.get_json(&format!("/rest/api/3/issue/{key}")).await;
    assert_eq!(
        reopened["fields"]["resolution"],
        Value::Null,
        "reopening clears the resolution"
    );
    jira.stop().await;
}

#[tokio::test]
async fn comments_are_adf_paged_edited_deleted_and_internal_ones_marked() {
    let jira = start().await;
    let key = jira.create("Task", "Chatty", json!({})).await;
    let path = format!("/rest/api/3/issue/{key}/comment");
    let mut ids = Vec::new();
    for n in 0..5 {
        let c = jira
            .expect(
                Method::POST,
                &path,
                json!({"body": adf(&format!("c{n}"))}),
                201,
            )
            .await;
        assert_eq!(c["author"]["emailAddress"], USER);
        assert_eq!(c["jsdPublic"], true);
        ids.push(c["id"].as_str().expect("id").to_owned());
    }
    let page = jira
        .get_json(&format!("{path}?startAt=2&maxResults=2"))
        .await;
    assert_eq!(
        (
            page["startAt"].as_u64(),
            page["maxResults"].as_u64(),
            page["total"].as_u64()
        ),
        (Some(2), Some(2), Some(5))
    );
    assert_eq!(page["comments"][0]["id"], ids[2].as_str());
    let newest = jira
        .get_json(&format!("{path}?orderBy=-created&maxResults=1"))
        .await;
    assert_eq!(newest["comments"][0]["id"], ids[4].as_str());
    let edited = jira
        .expect(
            Method::PUT,
            &format!("{path}/{}", ids[0]),
            json!({"body": adf("c0 edited")}),
            200,
        )
        .await;
    assert_eq!(edited["body"], adf("c0 edited"));
    assert!(edited["updated"].as_str() >= edited["created"].as_str());
    jira.expect(
        Method::DELETE,
        &format!("{path}/{}", ids[1]),
        Value::Null,
        204,
    )
    .await;
    assert_eq!(jira.get(&format!("{path}/{}", ids[1])).await.status(), 404);
    let internal = jira
        .expect(
            Method::POST,
            &path,
            json!({"body": adf("agents only"), "visibility": {"type": "role", "value": "Administrators"},
                   "properties": [{"key": "sd.public.comment", "value": {"internal": true}}]}),
            201,
        )
        .await;
    assert_eq!(internal["jsdPublic"], false);
    assert_eq!(internal["visibility"]["value"], "Administrators");
    for bad in [
        json!({"body": "plain text"}),
        json!({}),
        json!({"body": {"type": "doc", "version": 1, "content": [{"type": "nope"}]}}),
    ] {
        let r = jira.send(Method::POST, &path, bad.clone()).await;
        assert_eq!(r.status(), 400, "{bad}");
    }
    jira.stop().await;
}

#[tokio::test]
async fn attachments_need_the_xsrf_header_and_download_as_jira_serves_them() {
    let jira = start().await;
    let key = jira.create("Task", "With files", json!({})).await;
    let path = format!("/rest/api/3/issue/{key}/attachments");
    let data: Vec<u8> = (0..=255u8).cycle().take(3000).collect();
    let form = || {
        reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(data.clone())
                .file_name("dump.bin")
                .mime_str("application/octet-stream")
                .expect("mime"),
        )
    };
    let refused = jira
        .req(Method::POST, &path)
        .multipart(form())
        .send()
        .await
        .expect("request");
    assert_eq!(refused.status(), 403, "no X-Atlassian-Token: no-check");
    let r = jira
        .req(Method::POST, &path)
        .header("X-Atlassian-Token", "no-check")
        .multipart(form())
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 200);
    let list: Value = r.json().await.expect("json");
    let a = &list[0];
    assert_eq!(
        (a["filename"].as_str(), a["size"].as_u64()),
        (Some("dump.bin"), Some(3000))
    );
    let id = a["id"].as_str().expect("id");
    let redirect = jira
        .get(&format!("/rest/api/3/attachment/content/{id}"))
        .await;
    assert_eq!(redirect.status(), 303);
    let location = redirect.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    let bytes = jira
        .client
        .get(&location)
        .basic_auth(USER, Some(TOKEN))
        .send()
        .await
        .expect("request");
    assert_eq!(bytes.status(), 200);
    assert_eq!(bytes.bytes().await.expect("bytes").to_vec(), data);
    let part = jira
        .req(
            Method::GET,
            &format!("/rest/api/3/attachment/content/{id}?redirect=false"),
        )
        .header("Range", "bytes=10-19")
        .send()
        .await
        .expect("request");
    assert_eq!(part.status(), 206);
    assert_eq!(
        part.bytes().await.expect("bytes").to_vec(),
        data[10..20].to_vec()
    );
    let meta = jira.get_json(&format!("/rest/api/3/attachment/{id}")).await;
    assert_eq!(meta["mimeType"], "application/octet-stream");
    let issue = jira
        .get_json(&format!("/rest/api/3/issue/{key}?fields=attachment"))
        .await;
    assert_eq!(issue["fields"]["attachment"][0]["id"], id);
    jira.expect(
        Method::DELETE,
        &format!("/rest/api/3/attachment/{id}"),
        Value::Null,
        204,
    )
    .await;
    assert_eq!(
        jira.get(&format!("/rest/api/3/attachment/{id}"))
            .await
            .status(),
        404
    );
    jira.stop().await;
}

#[tokio::test]
async fn attachments_over_the_size_limit_are_refused_with_413() {
    let mut config = super::common::config();
    config.max_attachment_bytes = 100;
    let jira = super::common::start_with(config).await;
    let key = jira.create("Task", "Big file", json!({})).await;
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(vec![7u8; 101]).file_name("big.bin"),
    );
    let r = jira
        .req(
            Method::POST,
            &format!("/rest/api/3/issue/{key}/attachments"),
        )
        .header("X-Atlassian-Token", "no-check")
        .multipart(form)
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 413);
    jira.stop().await;
}
