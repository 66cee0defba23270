//! The connector's whole flow through Stoplight Prism (`prism proxy --errors`, Atlassian's
//! OpenAPI document for Jira Cloud, harness in `tandem_emulators::prism`): metadata, create
//! with every kind of field, edit, a transition path with a resolution, comments added, edited
//! and deleted, attachments downloaded and deleted, JQL polling over several pages, and a 429
//! with `Retry-After` from the emulator's fault injection. A recording proxy in front of Prism
//! counts the exchanges and collects every violation Prism reports; the test asserts none.
//!
//! One request cannot be judged: the document types the attachment upload's multipart body as
//! a JSON array, which no multipart form parses to (see the emulator's contract test). The
//! recorder sends that one request to the emulator directly; what it made is read back through
//! Prism.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use serde_json::json;
use tandem_connectors::jira::{Cursor, FieldValue, Flavour, NewAttachment, NewIssue, PollOptions};
use tandem_emulators::prism::{Prism, violation};

use super::common::{MEMBER, PROJECT, USER, client_at, start};

#[derive(Default)]
struct Recorder {
    exchanges: AtomicUsize,
    direct: AtomicUsize,
    violations: Mutex<Vec<String>>,
}

/// A pass-through proxy: to Prism, except the multipart upload, straight to the emulator.
async fn recording_proxy(prism: String, emulator: String) -> (String, Arc<Recorder>) {
    let recorder = Arc::new(Recorder::default());
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let rec = recorder.clone();
    let forward = move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
        let (prism, emulator, http, rec) =
            (prism.clone(), emulator.clone(), http.clone(), rec.clone());
        async move {
            let direct = method == Method::POST && uri.path().ends_with("/attachments");
            let target = if direct { &emulator } else { &prism };
            let mut request = http
                .request(method.clone(), format!("{target}{uri}"))
                .body(body);
            for (name, value) in &headers {
                if name != "host" {
                    request = request.header(name, value);
                }
            }
            let answer = match request.send().await {
                Ok(a) => a,
                Err(e) => {
                    return (
                        StatusCode::BAD_GATEWAY,
                        HeaderMap::new(),
                        Bytes::from(e.to_string()),
                    );
                }
            };
            let status = answer.status();
            let mut out = HeaderMap::new();
            for (name, value) in answer.headers() {
                let n = name.as_str();
                if n == "content-type"
                    || n == "location"
                    || n == "retry-after"
                    || n.starts_with("x-ratelimit")
                {
                    out.insert(name.clone(), value.clone());
                }
            }
            let problem = violation(answer.headers());
            let bytes = answer.bytes().await.unwrap_or_default();
            if direct {
                rec.direct.fetch_add(1, Ordering::SeqCst);
            } else {
                rec.exchanges.fetch_add(1, Ordering::SeqCst);
                if let Some(v) = problem {
                    rec.violations.lock().expect("lock").push(format!(
                        "{method} {uri} ({status}): {v}: {}",
                        String::from_utf8_lossy(&bytes)
                    ));
                }
            }
            (status, out, bytes)
        }
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let app = axum::Router::new().fallback(forward);
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, recorder)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connectors_whole_flow_passes_atlassians_openapi_document_through_prism() {
    let site = start(Flavour::Cloud).await;
    let upstream = site.base();
    let prism = tokio::task::spawn_blocking(move || {
        Prism::start(&upstream, std::path::Path::new(env!("CARGO_TARGET_TMPDIR")))
    })
    .await
    .expect("the Prism task")
    .unwrap_or_else(|e| panic!("{e}"));
    let (proxy, recorder) = recording_proxy(prism.base.clone(), site.base()).await;
    let c = client_at(&proxy, Flavour::Cloud);

    // The recorder sees what Prism refuses: a search whose `jql` is not a string.
    let r = reqwest::Client::new()
        .post(format!("{proxy}/rest/api/3/search/jql"))
        .basic_auth(USER, Some(super::common::TOKEN))
        .json(&json!({ "jql": 5 }))
        .send()
        .await
        .expect("request");
    assert!(r.status().is_client_error(), "{}", r.status());
    assert_eq!(
        recorder.violations.lock().expect("lock").len(),
        1,
        "a violation is recorded, so none below means none"
    );
    recorder.violations.lock().expect("lock").clear();
    recorder.exchanges.store(0, Ordering::SeqCst);

    // Metadata.
    c.myself().await.expect("myself");
    c.projects().await.expect("projects");
    let bug = c.issue_type(PROJECT, "Bug").await.expect("type");
    c.create_fields(PROJECT, &bug.id).await.expect("screen");
    c.statuses().await.expect("statuses");
    c.priorities().await.expect("priorities");
    c.resolutions().await.expect("resolutions");
    c.attachment_limit().await.expect("limit");

    // A create with every kind of field, and an edit.
    let issue = c
        .create_issue(
            &NewIssue {
                project: PROJECT.into(),
                issue_type: "Bug".into(),
                fields: vec![
                    ("summary".into(), FieldValue::Text("Through Prism".into())),
                    ("description".into(), FieldValue::Markdown("Checked by **Prism**:\n\n- requests\n- answers\n\n| a | b |\n| --- | --- |\n| 1 | 2 |".into())),
                    ("labels".into(), FieldValue::Labels(vec!["contract".into()])),
                    ("priority".into(), FieldValue::Names(vec!["High".into()])),
                    ("assignee".into(), FieldValue::User(MEMBER.into())),
                    ("components".into(), FieldValue::Names(vec!["Backend".into()])),
                    ("fixVersions".into(), FieldValue::Names(vec!["1.0".into()])),
                    ("duedate".into(), FieldValue::Date("2030-01-31".into())),
                    ("Severity".into(), FieldValue::Option("Sev 2".into())),
                    ("Location".into(), FieldValue::Cascading { parent: "EMEA".into(), child: Some("Berlin".into()) }),
                    ("Story Points".into(), FieldValue::Number(3.0)),
                    ("Target date".into(), FieldValue::Date("2030-02-01".into())),
                    ("Reviewer".into(), FieldValue::User(USER.into())),
                    ("Watch team".into(), FieldValue::Users(vec![MEMBER.into()])),
                    ("Customer reference".into(), FieldValue::Text("REF-9".into())),
                    ("Root cause".into(), FieldValue::Markdown("A `null` pointer".into())),
                ],
            },
            Some("contract-1"),
        )
        .await
        .expect("create");
    c.update_issue(
        &issue.key,
        &[
            (
                "summary".into(),
                FieldValue::Text("Through Prism, edited".into()),
            ),
            ("Story Points".into(), FieldValue::Number(5.0)),
            (
                "Location".into(),
                FieldValue::Cascading {
                    parent: "Americas".into(),
                    child: Some("Austin".into()),
                },
            ),
        ],
    )
    .await
    .expect("edit");
    assert!(
        c.find_by_correlation(PROJECT, "contract-1")
            .await
            .expect("find")
            .is_some()
    );

    // A status three transitions away, with the resolution its screen requires.
    let done = c
        .move_to_status(&issue.key, "Done", None)
        .await
        .expect("to Done");
    assert_eq!(done.status().expect("status").name, "Done");

    // Comments.
    let comment = c
        .add_comment(&issue.key, "Looks *fine*", false)
        .await
        .expect("add");
    c.add_comment(&issue.key, "internal note", true)
        .await
        .expect("internal");
    c.edit_comment(&issue.key, &comment.id, "Looks **fine**")
        .await
        .expect("edit");
    let comments = c.comments(&issue.key).await.expect("list");
    assert!(comments[1].internal);
    c.delete_comment(&issue.key, &comment.id)
        .await
        .expect("delete");

    // Attachments (the upload itself goes around Prism, see the module's doc).
    let a = c
        .upload(
            &issue.key,
            &NewAttachment {
                filename: "c.txt".into(),
                mime_type: "text/plain".into(),
                bytes: b"contract bytes".to_vec(),
            },
        )
        .await
        .expect("upload");
    assert_eq!(c.attachments(&issue.key).await.expect("list").len(), 1);
    c.attachment(&a.id).await.expect("meta");
    assert_eq!(
        c.download(&a.id).await.expect("download"),
        b"contract bytes"
    );
    c.delete_attachment(&a.id).await.expect("delete");

    // JQL polling over pages of two, with someone else's issues.
    let someone = client_at(&proxy, Flavour::Cloud);
    for n in 0..4 {
        someone
            .create_issue(
                &NewIssue {
                    project: PROJECT.into(),
                    issue_type: "Task".into(),
                    fields: vec![("summary".into(), FieldValue::Text(format!("polled {n}")))],
                },
                None,
            )
            .await
            .expect("create");
    }
    let options = PollOptions {
        page_size: 2,
        overlap: Duration::from_secs(120),
    };
    let mut cursor = Cursor::default();
    let mut seen = 0;
    let mut pages = 0;
    loop {
        let changes = c
            .changes("project = SUP", &cursor, &options)
            .await
            .expect("poll");
        pages += 1;
        seen += changes.issues.len();
        cursor = changes.cursor;
        if !changes.more || pages > 20 {
            break;
        }
    }
    assert_eq!(seen, 4, "the other client's four issues, not ours");
    assert!(pages >= 3, "{pages}");

    // A 429 with Retry-After, waited out (user search declares its 429).
    site.set_faults(json!({"rate_limited_requests": 1, "retry_after_secs": 1}))
        .await;
    c.forget_metadata();
    let before = c.requests_sent();
    assert!(
        c.user_by_email(MEMBER)
            .await
            .expect("after the wait")
            .is_some()
    );
    assert_eq!(c.requests_sent() - before, 2, "one 429, then the answer");

    c.delete_issue(&issue.key).await.expect("delete");

    let exchanges = recorder.exchanges.load(Ordering::SeqCst);
    let violations = recorder.violations.lock().expect("lock").clone();
    println!(
        "contract: {exchanges} exchanges through Prism, {} violations ({} upload sent around it)",
        violations.len(),
        recorder.direct.load(Ordering::SeqCst)
    );
    assert!(
        violations.is_empty(),
        "Prism reports violations:\n{}",
        violations.join("\n")
    );
    assert!(exchanges > 40, "{exchanges}");
    drop(prism);
    site.stop().await;
}
