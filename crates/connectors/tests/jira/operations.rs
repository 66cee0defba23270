//! Every operation of the client against the emulator, in both flavours: metadata, issues with
//! every kind of field, edits that send only what changed, transitions with path finding,
//! comments (JSM internal ones kept internal), attachments and the size limit, and finding a
//! create again by its correlation label.

use serde_json::Value;
use tandem_connectors::jira::{
    Client, ErrorKind, FieldKind, FieldValue, Flavour, JiraError, NewAttachment, NewIssue,
};

use super::common::{MEMBER, PROJECT, USER, config, start, start_with};

both_flavours!(the_site_is_described_by_its_metadata);
both_flavours!(an_issue_is_created_with_every_kind_of_field_and_read_back);
both_flavours!(an_edit_sends_only_the_fields_that_change);
both_flavours!(a_status_three_transitions_away_is_reached_and_the_resolution_set);
both_flavours!(comments_are_added_edited_and_deleted_and_internal_ones_stay_internal);
both_flavours!(attachments_are_uploaded_downloaded_and_deleted);
both_flavours!(a_create_is_found_again_by_its_correlation_label);

fn text(s: &str) -> FieldValue {
    FieldValue::Text(s.into())
}

async fn create_task(c: &Client, summary: &str) -> tandem_connectors::jira::Issue {
    c.create_issue(
        &NewIssue {
            project: PROJECT.into(),
            issue_type: "Task".into(),
            fields: vec![("summary".into(), text(summary))],
        },
        None,
    )
    .await
    .expect("create")
}

async fn the_site_is_described_by_its_metadata(flavour: Flavour) {
    let site = start(flavour).await;
    let c = site.client();
    let me = c.myself().await.expect("myself");
    let projects = c.projects().await.expect("projects");
    assert!(projects.iter().any(|p| p.key == PROJECT), "{projects:?}");
    let types = c.issue_types(PROJECT).await.expect("types");
    assert!(types.iter().any(|t| t.name == "Sub-task" && t.subtask));
    let bug = c
        .issue_type(PROJECT, "bug")
        .await
        .expect("by name, any case");
    let screen = c.create_fields(PROJECT, &bug.id).await.expect("screen");
    assert!(screen.iter().any(|f| f.id == "summary" && f.required));
    let severity = screen
        .iter()
        .find(|f| f.id == "customfield_10010")
        .expect("Severity on the screen");
    assert_eq!(severity.allowed_values.len(), 3);

    for (name, kind) in [
        ("Severity", FieldKind::Option),
        ("location", FieldKind::Cascading),
        ("Story Points", FieldKind::Number),
        ("Target date", FieldKind::Date),
        ("Reviewer", FieldKind::User),
        ("Watch team", FieldKind::Users),
        ("Customer reference", FieldKind::Text),
        ("Root cause", FieldKind::RichText),
        ("description", FieldKind::RichText),
        ("Fix versions", FieldKind::Versions),
    ] {
        let f = c.field(name).await.expect(name);
        assert_eq!(f.kind(), kind, "{name}: {f:?}");
    }
    assert!(matches!(
        c.field("No such field").await,
        Err(JiraError::Field { .. })
    ));
    let statuses = c.statuses().await.expect("statuses");
    assert!(statuses.iter().any(|s| s.name == "In Review"));
    assert!(
        c.priorities()
            .await
            .expect("priorities")
            .iter()
            .any(|p| p.name == "High")
    );
    assert!(
        c.resolutions()
            .await
            .expect("resolutions")
            .iter()
            .any(|r| r.name == "Done")
    );

    let alex = c
        .user_by_email(MEMBER)
        .await
        .expect("search")
        .expect("found");
    match flavour {
        Flavour::Cloud => {
            assert_eq!(alex.id.len(), 24, "an accountId: {alex:?}");
            assert_eq!(me.email, USER);
        }
        Flavour::DataCenter => assert_eq!(alex.id, "alex.agent"),
    }
    assert_eq!(
        c.user_by_email("nobody@example.com").await.expect("search"),
        None
    );
    assert_eq!(
        c.attachment_limit().await.expect("limit"),
        Some(10 * 1024 * 1024)
    );
    site.stop().await;
}

async fn an_issue_is_created_with_every_kind_of_field_and_read_back(flavour: Flavour) {
    let site = start(flavour).await;
    let c = site.client();
    let description = "Steps:\n\n1. open\n2. click **Save**\n\n```sh\ncurl -v\n```\n\nSee [the docs](https://example.com/docs).";
    let parent = c
        .create_issue(
            &NewIssue {
                project: PROJECT.into(),
                issue_type: "Bug".into(),
                fields: vec![
                    ("summary".into(), text("Printer on fire")),
                    (
                        "description".into(),
                        FieldValue::Markdown(description.into()),
                    ),
                    ("labels".into(), FieldValue::Labels(vec!["fire".into()])),
                    ("priority".into(), FieldValue::Names(vec!["High".into()])),
                    ("assignee".into(), FieldValue::User(MEMBER.into())),
                    (
                        "components".into(),
                        FieldValue::Names(vec!["Backend".into()]),
                    ),
                    ("fixVersions".into(), FieldValue::Names(vec!["1.0".into()])),
                    ("duedate".into(), FieldValue::Date("2030-01-31".into())),
                    ("Severity".into(), FieldValue::Option("Sev 2".into())),
                    (
                        "Location".into(),
                        FieldValue::Cascading {
                            parent: "EMEA".into(),
                            child: Some("London".into()),
                        },
                    ),
                    ("Story Points".into(), FieldValue::Number(5.0)),
                    ("Target date".into(), FieldValue::Date("2030-02-01".into())),
                    ("Reviewer".into(), FieldValue::User(USER.into())),
                    (
                        "Watch team".into(),
                        FieldValue::Users(vec![MEMBER.into(), USER.into()]),
                    ),
                    ("Customer reference".into(), text("REF-1")),
                    (
                        "Root cause".into(),
                        FieldValue::Markdown("A *loose* wire".into()),
                    ),
                ],
            },
            Some("corr-1"),
        )
        .await
        .expect("create");
    let got = c.issue(&parent.key).await.expect("read").expect("exists");
    assert_eq!(got.summary(), "Printer on fire");
    assert_eq!(got.issue_type(), "Bug");
    assert_eq!(got.project_key(), PROJECT);
    let d = got.description();
    assert_eq!(d.value, description, "{:?}", d.lossy);
    assert!(d.is_lossless());
    assert_eq!(got.markdown("Root cause").value, "A *loose* wire");
    assert_eq!(got.display("priority"), "High");
    assert_eq!(got.display("assignee"), "Alex Agent");
    assert_eq!(got.display("components"), "Backend");
    assert_eq!(got.display("fixVersions"), "1.0");
    assert_eq!(got.display("duedate"), "2030-01-31");
    assert_eq!(got.display("Severity"), "Sev 2");
    assert_eq!(got.display("Location"), "EMEA / London");
    assert_eq!(got.display("Story Points"), "5");
    assert_eq!(got.display("Watch team"), "Alex Agent, Integration User");
    assert_eq!(got.display("Customer reference"), "REF-1");
    assert_eq!(got.correlation().as_deref(), Some("corr-1"));
    assert!(got.labels().contains(&"fire".to_owned()));
    assert_eq!(got.status().expect("status").name, "To Do");

    let sub = c
        .create_issue(
            &NewIssue {
                project: PROJECT.into(),
                issue_type: "Sub-task".into(),
                fields: vec![
                    ("summary".into(), text("Find the extinguisher")),
                    ("parent".into(), FieldValue::Parent(parent.key.clone())),
                ],
            },
            None,
        )
        .await
        .expect("sub-task");
    assert_eq!(
        sub.field("parent")
            .and_then(|p| p.get("key"))
            .and_then(Value::as_str),
        Some(parent.key.as_str())
    );

    // What Jira's metadata does not allow is refused before anything is sent.
    let refused = |fields: Vec<(String, FieldValue)>| NewIssue {
        project: PROJECT.into(),
        issue_type: "Task".into(),
        fields,
    };
    for (fields, says) in [
        (
            vec![
                ("summary".into(), text("x")),
                ("Severity".into(), FieldValue::Option("Sev 9".into())),
            ],
            "Sev 1",
        ),
        (
            vec![
                ("summary".into(), text("x")),
                (
                    "Location".into(),
                    FieldValue::Cascading {
                        parent: "EMEA".into(),
                        child: Some("Austin".into()),
                    },
                ),
            ],
            "Berlin",
        ),
        (
            vec![
                ("summary".into(), text("x")),
                (
                    "labels".into(),
                    FieldValue::Labels(vec!["two words".into()]),
                ),
            ],
            "spaces",
        ),
        (
            vec![
                ("summary".into(), text("x")),
                (
                    "Reviewer".into(),
                    FieldValue::User("ghost@example.com".into()),
                ),
            ],
            "ghost@example.com",
        ),
        (
            vec![
                ("summary".into(), text("x")),
                ("duedate".into(), FieldValue::Date("31/01/2030".into())),
            ],
            "yyyy-MM-dd",
        ),
        (
            vec![(
                "description".into(),
                FieldValue::Markdown("no summary".into()),
            )],
            "Summary",
        ),
    ] {
        let before = site.requests().await.len();
        let e = c
            .create_issue(&refused(fields), None)
            .await
            .expect_err("refused");
        assert_eq!(e.kind(), ErrorKind::Invalid, "{e}");
        assert!(e.to_string().contains(says), "{says}: {e}");
        let posts = site.requests().await[before..]
            .iter()
            .filter(|r| r.starts_with("POST"))
            .count();
        assert_eq!(posts, 0, "nothing was sent for: {e}");
    }
    site.stop().await;
}

async fn an_edit_sends_only_the_fields_that_change(flavour: Flavour) {
    let site = start(flavour).await;
    let c = site.client();
    let issue = create_task(&c, "Edit me").await;
    let before = site.requests().await.len();
    let same = c
        .update_issue(
            &issue.key,
            &[
                ("summary".into(), text("Edit me")),
                ("labels".into(), FieldValue::Clear),
            ],
        )
        .await
        .expect("no-op edit");
    assert_eq!(same.updated(), issue.updated(), "nothing was written");
    assert!(
        !site.requests().await[before..]
            .iter()
            .any(|r| r.starts_with("PUT")),
        "no PUT for an edit that changes nothing"
    );

    let edited = c
        .update_issue(
            &issue.key,
            &[
                ("summary".into(), text("Edit me")),
                ("Story Points".into(), FieldValue::Number(8.0)),
                (
                    "labels".into(),
                    FieldValue::Labels(vec!["b".into(), "a".into()]),
                ),
                ("Severity".into(), FieldValue::Option("Sev 1".into())),
                (
                    "description".into(),
                    FieldValue::Markdown("Now with a *description*".into()),
                ),
            ],
        )
        .await
        .expect("edit");
    assert_eq!(edited.display("Story Points"), "8");
    assert_eq!(edited.display("Severity"), "Sev 1");
    assert_eq!(edited.description().value, "Now with a *description*");
    assert_ne!(edited.updated(), issue.updated());
    // The edit's changelog names only what changed.
    let api = format!("{}/rest/api/{}", site.base(), flavour.api_version());
    let r = site
        .http
        .get(format!("{api}/issue/{}/changelog", issue.key));
    let r = match flavour {
        Flavour::Cloud => r.basic_auth(USER, Some(super::common::TOKEN)),
        Flavour::DataCenter => r.bearer_auth(super::common::TOKEN),
    };
    let log: Value = r
        .send()
        .await
        .expect("changelog")
        .json()
        .await
        .expect("json");
    let fields: Vec<&str> = log["values"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|h| h["items"].as_array().into_iter().flatten())
        .filter_map(|i| i["fieldId"].as_str().or(i["field"].as_str()))
        .collect();
    assert!(!fields.contains(&"summary"), "{fields:?}");
    assert!(fields.contains(&"customfield_10012"), "{fields:?}");

    let e = c
        .update_issue(
            &issue.key,
            &[("Severity".into(), FieldValue::Option("Sev 7".into()))],
        )
        .await
        .expect_err("unknown option");
    assert_eq!(e.kind(), ErrorKind::Invalid, "{e}");
    assert_eq!(c.issue("SUP-999").await.expect("read"), None);
    site.stop().await;
}

async fn a_status_three_transitions_away_is_reached_and_the_resolution_set(flavour: Flavour) {
    let site = start(flavour).await;
    let c = site.client();
    let issue = create_task(&c, "Walk the workflow").await;
    let available = c.transitions(&issue.key).await.expect("transitions");
    assert!(
        !available.iter().any(|t| t.to.name == "Done"),
        "Done is not one step away"
    );

    let done = c
        .move_to_status(&issue.key, "done", None)
        .await
        .expect("a path to Done");
    assert_eq!(done.status().expect("status").name, "Done");
    assert_eq!(done.display("resolution"), "Done");

    let back = c
        .move_to_status(&issue.key, "To Do", None)
        .await
        .expect("reopen");
    assert_eq!(back.status().expect("status").name, "To Do");
    assert_eq!(back.display("resolution"), "");

    // The second time the workflow is known: no exploring, only the three steps.
    let before = site.requests().await.len();
    c.move_to_status(&issue.key, "Done", Some("Done"))
        .await
        .expect("again");
    let posts = site.requests().await[before..]
        .iter()
        .filter(|r| r.starts_with("POST") && r.contains("/transitions"))
        .count();
    assert_eq!(posts, 3);

    let same = c
        .move_to_status(&issue.key, "Done", None)
        .await
        .expect("already there");
    assert_eq!(same.status().expect("status").name, "Done");
    let e = c
        .move_to_status(&issue.key, "Nowhere", None)
        .await
        .expect_err("no such status");
    assert!(matches!(e, JiraError::NoPath { .. }), "{e}");
    site.stop().await;
}

async fn comments_are_added_edited_and_deleted_and_internal_ones_stay_internal(flavour: Flavour) {
    let site = start(flavour).await;
    let c = site.client();
    let issue = create_task(&c, "Talk about it").await;
    let public = c
        .add_comment(&issue.key, "Hello **team**, see `log.txt`", false)
        .await
        .expect("add");
    assert!(!public.internal);
    assert_eq!(public.body.value, "Hello **team**, see `log.txt`");
    let note = c
        .add_comment(&issue.key, "Agents only", true)
        .await
        .expect("internal");
    assert!(note.internal);

    let edited = c
        .edit_comment(&issue.key, &public.id, "Hello *everyone*")
        .await
        .expect("edit");
    assert_eq!(edited.body.value, "Hello *everyone*");

    let all = c.comments(&issue.key).await.expect("list");
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].body.value, "Hello *everyone*");
    assert!(!all[0].internal);
    assert_eq!(all[1].body.value, "Agents only");
    assert!(
        all[1].internal,
        "a JSM internal comment is never read as public"
    );
    assert!(
        all[0]
            .author
            .as_ref()
            .is_some_and(|a| a.display_name == "Integration User")
    );

    c.delete_comment(&issue.key, &public.id)
        .await
        .expect("delete");
    c.delete_comment(&issue.key, &public.id)
        .await
        .expect("deleting twice is fine");
    let left = c.comments(&issue.key).await.expect("list");
    assert_eq!(left.len(), 1);
    site.stop().await;
}

async fn attachments_are_uploaded_downloaded_and_deleted(flavour: Flavour) {
    let mut cfg = config(flavour);
    cfg.max_attachment_bytes = 1024;
    let site = start_with(flavour, cfg).await;
    let c = site.client();
    let issue = create_task(&c, "With files").await;
    let file = NewAttachment {
        filename: "notes.txt".into(),
        mime_type: "text/plain".into(),
        bytes: b"line one\nline two\n".to_vec(),
    };
    let a = c.upload(&issue.key, &file).await.expect("upload");
    assert_eq!((a.filename.as_str(), a.size), ("notes.txt", 18));
    let listed = c.attachments(&issue.key).await.expect("list");
    assert_eq!(listed, vec![a.clone()]);
    assert_eq!(c.download(&a.id).await.expect("download"), file.bytes);
    assert_eq!(
        c.attachment(&a.id)
            .await
            .expect("meta")
            .expect("there")
            .mime_type,
        "text/plain"
    );

    let before = site.requests().await.len();
    let big = NewAttachment {
        filename: "big.bin".into(),
        mime_type: String::new(),
        bytes: vec![7; 4096],
    };
    let e = c
        .upload(&issue.key, &big)
        .await
        .expect_err("over the limit");
    assert!(matches!(e, JiraError::TooLarge { limit: 1024, .. }), "{e}");
    assert!(
        !site.requests().await[before..]
            .iter()
            .any(|r| r.starts_with("POST")),
        "the bytes were never sent"
    );

    c.delete_attachment(&a.id).await.expect("delete");
    c.delete_attachment(&a.id)
        .await
        .expect("deleting twice is fine");
    assert_eq!(c.attachment(&a.id).await.expect("meta"), None);
    assert!(c.attachments(&issue.key).await.expect("list").is_empty());
    site.stop().await;
}

async fn a_create_is_found_again_by_its_correlation_label(flavour: Flavour) {
    let site = start(flavour).await;
    let c = site.client();
    let new = NewIssue {
        project: PROJECT.into(),
        issue_type: "Task".into(),
        fields: vec![("summary".into(), text("Made once"))],
    };
    assert_eq!(
        c.find_by_correlation(PROJECT, "abc-123")
            .await
            .expect("search"),
        None
    );

    // A 500 to the create is not retried blindly: the caller is told to look first. (The
    // metadata is read first, so the fault lands on the create itself.)
    let task = c.issue_type(PROJECT, "Task").await.expect("type");
    c.create_fields(PROJECT, &task.id).await.expect("screen");
    c.field("summary").await.expect("fields");
    site.set_faults(serde_json::json!({"server_error_requests": 1}))
        .await;
    let before = c.requests_sent();
    let e = c
        .create_issue(&new, Some("abc-123"))
        .await
        .expect_err("500");
    assert!(
        matches!(
            e,
            JiraError::Uncertain {
                status: Some(500),
                ..
            }
        ),
        "{e}"
    );
    assert!(e.is_transient());
    assert_eq!(
        c.requests_sent() - before,
        1,
        "the create was sent once, not repeated"
    );

    // The caller looks, finds nothing (the emulator failed before acting), creates again.
    assert_eq!(
        c.find_by_correlation(PROJECT, "abc-123")
            .await
            .expect("search"),
        None
    );
    let made = c.create_issue(&new, Some("abc-123")).await.expect("create");
    let found = c
        .find_by_correlation(PROJECT, "abc-123")
        .await
        .expect("search")
        .expect("found");
    assert_eq!(found.key, made.key);
    assert_eq!(
        c.find_by_correlation(PROJECT, "abc-12")
            .await
            .expect("search"),
        None
    );
    site.stop().await;
}

both_flavours!(the_seam_extension_describes_searches_moves_and_verifies_pushes);

/// `TrackerExtras` (what the `Tracker` seam lacks for Jira) through `jira::Jira`, with a
/// webhook delivery the emulator really makes and signs.
async fn the_seam_extension_describes_searches_moves_and_verifies_pushes(flavour: Flavour) {
    use std::sync::{Arc, Mutex};
    use tandem_connectors::Tracker;
    use tandem_connectors::jira::{Jira, PollOptions, TrackerExtras};

    let site = start(flavour).await;
    let jira = Jira::connect(Arc::new(site.client()), PollOptions::default())
        .await
        .expect("signed in");
    match flavour {
        Flavour::Cloud => assert_eq!(jira.user().len(), 24, "an accountId"),
        Flavour::DataCenter => assert_eq!(jira.user(), "integration"),
    }
    let d = jira.describe(PROJECT).await.expect("described");
    assert!(
        d.fields
            .iter()
            .any(|(id, name)| id == "customfield_10010" && name == "Severity")
    );
    assert!(d.statuses.contains(&"In Review".to_owned()));
    assert!(d.record_types.contains(&"Bug".to_owned()));

    let made = create_task(jira.client(), "Printer jammed").await;
    create_task(jira.client(), "Scanner idle").await;
    let found = jira
        .search(PROJECT, "summary ~ \"printer\" ORDER BY created DESC", 10)
        .await
        .expect("searched");
    assert_eq!(
        found.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        vec![made.id.as_str()]
    );
    let moved = jira
        .move_to_status(PROJECT, &made.id, "In Review", None)
        .await
        .expect("moved");
    assert_eq!(moved.fields["status"]["name"], "In Review");
    assert!(jira.user_by_email(MEMBER).await.expect("found").is_some());

    // A signed admin webhook: the delivery verifies with the secret and names the issue.
    /// A delivery: its `X-Hub-Signature` and its body.
    type Delivery = (String, Vec<u8>);
    let got: Arc<Mutex<Vec<Delivery>>> = Arc::default();
    let sink = got.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let hook_url = format!("http://{}/hook", listener.local_addr().expect("address"));
    let app = axum::Router::new().fallback(
        move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
            let sink = sink.clone();
            async move {
                let signature = headers
                    .get("x-hub-signature")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                sink.lock().expect("lock").push((signature, body.to_vec()));
                axum::http::StatusCode::OK
            }
        },
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    let r = reqwest::Client::new().post(format!("{}/rest/webhooks/1.0/webhook", site.base()));
    let r = match flavour {
        Flavour::Cloud => r.basic_auth(USER, Some(super::common::TOKEN)),
        Flavour::DataCenter => r.bearer_auth(super::common::TOKEN),
    };
    let r = r
        .json(&serde_json::json!({"name": "tandem", "url": hook_url, "events": ["jira:issue_updated"], "secret": "s3cret"}))
        .send()
        .await
        .expect("registered");
    assert_eq!(r.status(), 201);
    site.edit_as_someone(&made.key, serde_json::json!({"summary": "Pushed"}))
        .await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let (signature, body) = loop {
        if let Some(d) = got.lock().expect("lock").first().cloned() {
            break d;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no delivery within 10 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_eq!(
        jira.verify_push(b"s3cret", &body, &signature),
        Some(made.id.clone())
    );
    assert_eq!(jira.verify_push(b"guess", &body, &signature), None);
    site.stop().await;
}
