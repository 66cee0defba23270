//! `JiraSchema` over real answers: issues the emulator returns become mirror items, the
//! mirror's changes written through `Jira`'s tracker come back as no change, and an item the
//! rules made is created as an issue that mirrors back to the same item.

use std::sync::Arc;

use serde_json::json;
use tandem_connectors::jira::{
    FieldValue, Flavour, Jira, JiraSchema, NewIssue, PollOptions, TrackerExtras, projects,
};
use tandem_connectors::{Mapping, RemoteRecord, Schema, Tracker};
use tandem_model::{Item, ItemPatch, ItemType, NewItem, Priority, Status};

use super::common::{MEMBER, PROJECT, start};

both_flavours!(an_issue_mirrors_and_writes_back_without_drift);
both_flavours!(an_item_the_rules_made_becomes_an_issue_that_mirrors_back);

const DESCRIPTION: &str =
    "Steps:\n\n1. open\n2. click **Save**\n\nSee [the docs](https://example.com/docs).";

fn stored(new: NewItem) -> Item {
    Item {
        key: tandem_model::ItemKey {
            project: new.project,
            number: 1,
        },
        summary: new.summary,
        description: new.description,
        status: new.status,
        priority: new.priority,
        assignee: new.assignee,
        reporter: new.reporter,
        labels: new.labels,
        custom_fields: new.custom_fields,
        item_type: new.item_type,
        parent: new.parent,
        comments: Vec::new(),
        attachments: Vec::new(),
        created: jiff::Timestamp::UNIX_EPOCH,
        updated: jiff::Timestamp::UNIX_EPOCH,
        version: 1,
    }
}

async fn connect(flavour: Flavour) -> (super::common::Site, Jira, JiraSchema) {
    let site = start(flavour).await;
    let jira = Jira::connect(Arc::new(site.client()), PollOptions::default())
        .await
        .expect("signed in");
    let described = jira.describe(PROJECT).await.expect("described");
    let schema =
        JiraSchema::new(flavour, projects(&[PROJECT.to_owned()])).with_fields(described.fields);
    (site, jira, schema)
}

async fn an_issue_mirrors_and_writes_back_without_drift(flavour: Flavour) {
    let (_site, jira, schema) = connect(flavour).await;
    let made = jira
        .client()
        .create_issue(
            &NewIssue {
                project: PROJECT.into(),
                issue_type: "Bug".into(),
                fields: vec![
                    ("summary".into(), FieldValue::Text("Printer on fire".into())),
                    (
                        "description".into(),
                        FieldValue::Markdown(DESCRIPTION.into()),
                    ),
                    ("labels".into(), FieldValue::Labels(vec!["fire".into()])),
                    ("priority".into(), FieldValue::Names(vec!["High".into()])),
                    ("assignee".into(), FieldValue::User(MEMBER.into())),
                    ("Severity".into(), FieldValue::Option("Sev 2".into())),
                    ("Story Points".into(), FieldValue::Number(5.0)),
                ],
            },
            Some("schema-1"),
        )
        .await
        .expect("create");
    let record: RemoteRecord = jira
        .record(PROJECT, &made.id)
        .await
        .expect("read")
        .expect("exists");
    let project = "SUP".parse().expect("key");
    let mut item = stored(schema.new_item(&record, &project));
    assert_eq!(item.summary, "Printer on fire");
    assert_eq!(item.description, DESCRIPTION);
    assert_eq!(item.status, Status::ToDo);
    assert_eq!(item.priority, Priority::High);
    assert_eq!(item.item_type, ItemType::Bug);
    assert_eq!(item.labels, ["fire"], "the correlation label stays in Jira");
    assert_eq!(
        item.assignee.as_ref().and_then(|p| p.email.as_deref()),
        Some(MEMBER)
    );
    assert_eq!(item.custom_fields["Severity"]["value"], json!("Sev 2"));
    assert_eq!(item.custom_fields["issuekey"], json!(made.key));
    assert_eq!(schema.display_key(&item), Some(made.key.as_str()));
    // What the rules read of it, by Exalate's names.
    let view = schema.item_json(&item);
    assert_eq!(view["key"], json!(made.key));
    assert_eq!(view["status"]["name"], json!("To Do"));
    assert_eq!(view["issueType"]["name"], json!("Bug"));
    assert_eq!(view["project"]["key"], json!(PROJECT));
    assert_eq!(view["customFields"]["Severity"]["value"], json!("Sev 2"));
    assert_eq!(view["assignee"]["displayName"], json!("Alex Agent"));
    assert_eq!(
        schema.patch_from_json(&item, &view).expect("patch"),
        ItemPatch::default()
    );

    let base = schema.snapshot(&record);
    assert!(schema.local_changes(&item, &base).is_empty());
    assert_eq!(
        schema.pull_patch(&item, &record, Some(&base)),
        ItemPatch::default()
    );

    // Changed here: written to Jira in the shapes its update takes, then read back as no change.
    item.summary = "Printer fixed".into();
    item.description = "Replaced the *fuser*.".into();
    item.labels = vec!["fire".into(), "hot".into()];
    item.priority = Priority::Low;
    item.status = Status::Done;
    item.custom_fields.insert("Severity".into(), json!("Sev 1"));
    let changes = schema.local_changes(&item, &base);
    let written = jira
        .update(PROJECT, &made.id, &changes)
        .await
        .unwrap_or_else(|e| panic!("update {changes:?}: {e}"));
    assert_eq!(written.fields["status"]["name"], json!("Done"));
    assert!(
        written.fields["labels"]
            .as_array()
            .expect("labels")
            .contains(&json!("tandem-schema-1")),
        "the correlation label survives a write of the labels"
    );
    let pull = schema.pull_patch(&item, &written, Some(&base));
    pull.apply(&mut item);
    assert_eq!(item.summary, "Printer fixed");
    assert_eq!(item.description, "Replaced the *fuser*.");
    assert_eq!(item.status, Status::Done);
    assert_eq!(item.priority, Priority::Low);
    assert_eq!(item.custom_fields["Severity"]["value"], json!("Sev 1"));
    let base = schema.snapshot(&written);
    assert!(
        schema.local_changes(&item, &base).is_empty(),
        "{:?}",
        schema.local_changes(&item, &base)
    );

    // Someone changes the priority in Jira while the summary changes here: both survive.
    let mut theirs = written.clone();
    theirs
        .fields
        .insert("priority".into(), json!({"name": "Highest", "id": "1"}));
    item.summary = "Printer fixed again".into();
    let pull = schema.pull_patch(&item, &theirs, Some(&base));
    assert_eq!(pull.summary, None);
    assert_eq!(pull.priority, Some(Priority::Highest));
}

async fn an_item_the_rules_made_becomes_an_issue_that_mirrors_back(flavour: Flavour) {
    let (_site, jira, schema) = connect(flavour).await;
    let mut view = schema.blank_item_json();
    view["summary"] = json!("From ServiceNow");
    view["description"] = json!("**Urgent**: the VPN is down");
    view["status"] = json!({"name": "In Review"});
    view["priority"] = json!({"name": "Highest"});
    view["labels"] = json!(["vpn"]);
    view["assignee"] = json!({"email": MEMBER});
    view["issueType"] = json!({"name": "Bug"});
    view["customFields"] = json!({"Severity": "Sev 1"});
    let new = schema.new_item_from_json(&view).expect("new item");
    let item = stored(new);
    let fields = schema.record_fields(&item);
    let made = jira
        .create(PROJECT, &fields, "schema-2")
        .await
        .unwrap_or_else(|e| panic!("create {fields:?}: {e}"));
    assert_eq!(made.fields["status"]["name"], json!("In Review"));
    assert_eq!(made.fields["issuetype"]["name"], json!("Bug"));
    let mut mirrored = item.clone();
    schema.pull_patch(&item, &made, None).apply(&mut mirrored);
    assert_eq!(mirrored.summary, "From ServiceNow");
    assert_eq!(mirrored.description, "**Urgent**: the VPN is down");
    assert_eq!(mirrored.status, Status::InProgress);
    assert_eq!(mirrored.priority, Priority::Highest);
    assert_eq!(mirrored.labels, ["vpn"]);
    assert_eq!(mirrored.custom_fields["Severity"]["value"], json!("Sev 1"));
    assert_eq!(
        mirrored.assignee.as_ref().and_then(|p| p.email.as_deref()),
        Some(MEMBER)
    );
    assert!(
        schema
            .local_changes(&mirrored, &schema.snapshot(&made))
            .is_empty()
    );
}
