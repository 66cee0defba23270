//! The [`Tracker`] contract, written once against `dyn Tracker` and run for every connector
//! against its emulator over HTTP on loopback: what the mirror relies on from any tracker.
//!
//! Run for ServiceNow and for Jira in both flavours (Cloud v3, Data Center v2).
//!
//! A connector joins by implementing [`Fixture`] (how its emulator is started, what a new
//! record's fields are, how someone else changes a record there) and adding its line to
//! `contract_tests!` at the bottom.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tandem_connectors::jira;
use tandem_connectors::servicenow::{Auth, Client, ClientConfig, RetryPolicy, ServiceNow};
use tandem_connectors::{ErrorKind, Feed, Fields, NewFile, Tracker, TrackerKind};
use tandem_emulators::servicenow::{EmulatorConfig, Faults, RunningEmulator};

/// A connector's emulator, and what the contract needs to know of its tracker.
#[async_trait::async_trait]
trait Fixture: Send + Sync {
    fn tracker(&self) -> Arc<dyn Tracker>;
    /// The collection the tests write to.
    fn collection(&self) -> &str;
    /// The fields of a new record titled `title`.
    fn new_fields(&self, title: &str) -> Fields;
    /// A change of the record's title.
    fn retitle(&self, title: &str) -> Fields;
    /// The title as the record's fields hold it.
    fn title_of(&self, fields: &Fields) -> String;
    /// Someone else retitles the record in the tracker (an agent in its UI).
    async fn retitle_elsewhere(&self, id: &str, title: &str);
    /// The tracker fails the next `n` requests with a 5xx.
    async fn fail_next(&self, n: u32);
}

/// Reads every change waiting in a feed, advancing it; returns the ids of the changed records
/// (or of the new attachments).
async fn drain(t: &dyn Tracker, collection: &str, feed: Feed) -> Vec<String> {
    let mut ids = Vec::new();
    loop {
        let changes = t.changes(collection, feed).await.expect("changes read");
        ids.extend(changes.records.iter().map(|r| r.id.clone()));
        ids.extend(changes.attachments.iter().map(|a| a.id.clone()));
        t.advance(collection, feed, changes.next);
        if !changes.more {
            return ids;
        }
    }
}

async fn own_writes_never_come_back_but_others_changes_do(f: &dyn Fixture) {
    let t = f.tracker();
    let c = f.collection();
    t.resume(c, Feed::Records, None);
    drain(&*t, c, Feed::Records).await;

    let created = t
        .create(c, &f.new_fields("Printer on fire"), "tandem:test:ONE-1")
        .await
        .expect("created");
    let updated = t
        .update(c, &created.id, &f.retitle("Printer still on fire"))
        .await
        .expect("updated");
    assert_eq!(updated.id, created.id);
    assert_eq!(f.title_of(&updated.fields), "Printer still on fire");
    t.add_comment(c, &created.id, "Fire brigade called", false)
        .await
        .expect("comment added");
    assert_eq!(
        drain(&*t, c, Feed::Records).await,
        Vec::<String>::new(),
        "the connector's own writes are not changes"
    );

    f.retitle_elsewhere(&created.id, "Printer replaced").await;
    assert_eq!(
        drain(&*t, c, Feed::Records).await,
        vec![created.id.clone()],
        "someone else's change comes through"
    );
    assert_eq!(
        drain(&*t, c, Feed::Records).await,
        Vec::<String>::new(),
        "once"
    );
    let read = t
        .record(c, &created.id)
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(f.title_of(&read.fields), "Printer replaced");
}

async fn a_persisted_cursor_resumes_where_it_stopped(f: &dyn Fixture) {
    let t = f.tracker();
    let c = f.collection();
    t.resume(c, Feed::Records, None);
    drain(&*t, c, Feed::Records).await;
    let created = t
        .create(c, &f.new_fields("Resume me"), "tandem:test:RES-1")
        .await
        .expect("created");
    // Taken in and persisted, then the node stops.
    let changes = t.changes(c, Feed::Records).await.expect("changes");
    let saved = t.advance(c, Feed::Records, changes.next);

    f.retitle_elsewhere(&created.id, "Changed while the node was down")
        .await;
    // A new node process: the same tracker, resumed from what was persisted.
    let restarted = f.tracker();
    restarted.resume(c, Feed::Records, Some(&saved));
    assert_eq!(
        drain(&*restarted, c, Feed::Records).await,
        vec![created.id.clone()],
        "the change made meanwhile is read, and only it"
    );

    // A page read but not advanced past (a crash before it was taken in) is read again.
    f.retitle_elsewhere(&created.id, "Once more").await;
    let first = t_changes_ids(&*restarted, c).await;
    let again = t_changes_ids(&*restarted, c).await;
    assert_eq!(first, vec![created.id.clone()]);
    assert_eq!(again, first, "nothing is skipped before advance");
}

async fn t_changes_ids(t: &dyn Tracker, c: &str) -> Vec<String> {
    t.changes(c, Feed::Records)
        .await
        .expect("changes")
        .records
        .into_iter()
        .map(|r| r.id)
        .collect()
}

async fn a_create_is_found_again_by_its_correlation(f: &dyn Fixture) {
    let t = f.tracker();
    let c = f.collection();
    assert_eq!(
        t.find_correlated(c, "tandem:test:NONE-1")
            .await
            .expect("searched"),
        None
    );
    let created = t
        .create(c, &f.new_fields("Correlated"), "tandem:test:COR-1")
        .await
        .expect("created");
    let found = t
        .find_correlated(c, "tandem:test:COR-1")
        .await
        .expect("searched")
        .expect("found again");
    assert_eq!(found.id, created.id);
    assert_eq!(
        t.find_correlated(c, "tandem:test:COR-2")
            .await
            .expect("searched"),
        None,
        "another correlation finds nothing"
    );
}

async fn comments_keep_who_may_see_them(f: &dyn Fixture) {
    let t = f.tracker();
    let c = f.collection();
    let created = t
        .create(c, &f.new_fields("Commented"), "tandem:test:COM-1")
        .await
        .expect("created");
    let public = t
        .add_comment(c, &created.id, "For the customer", false)
        .await
        .expect("public comment");
    let internal = t
        .add_comment(c, &created.id, "For the team only", true)
        .await
        .expect("internal comment");
    let comments = t
        .comments(c, &[created.id.as_str()])
        .await
        .expect("comments read");
    let mine = comments.get(&created.id).expect("the record's comments");
    let seen: Vec<(&str, bool)> = mine.iter().map(|c| (c.body.trim(), c.internal)).collect();
    assert!(
        seen.contains(&("For the customer", false)),
        "public comment read as public: {seen:?}"
    );
    assert!(
        seen.contains(&("For the team only", true)),
        "internal comment read as internal: {seen:?}"
    );
    assert!(
        mine.iter()
            .all(|m| m.record == created.id && !m.id.is_empty())
    );
    // Where the tracker answers with the comment it made, it is the one read back.
    for (made, body, is_internal) in [
        (public, "For the customer", false),
        (internal, "For the team only", true),
    ] {
        if let Some(made) = made {
            assert_eq!((made.body.trim(), made.internal), (body, is_internal));
            assert!(
                mine.iter().any(|m| m.id == made.id),
                "the comment {} is read back: {mine:?}",
                made.id
            );
        }
    }

    let capabilities = t.capabilities();
    let first = mine[0].id.clone();
    let read_back = async || {
        t.comments(c, &[created.id.as_str()])
            .await
            .expect("comments read")
            .remove(&created.id)
            .unwrap_or_default()
    };
    if capabilities.edit_comments {
        t.edit_comment(c, &created.id, &first, "Changed text")
            .await
            .expect("edited");
        let after = read_back().await;
        let edited = after.iter().find(|m| m.id == first).expect("still there");
        assert_eq!(edited.body.trim(), "Changed text");
    }
    if capabilities.delete_comments {
        t.delete_comment(c, &created.id, &first)
            .await
            .expect("deleted");
        assert!(read_back().await.iter().all(|m| m.id != first), "gone");
    }
    if !capabilities.edit_comments {
        let e = t
            .edit_comment(c, &created.id, &mine[0].id, "changed")
            .await
            .expect_err("a tracker that cannot edit comments says so");
        assert_eq!(e.kind, ErrorKind::Unsupported);
    }
    if !capabilities.delete_comments {
        let e = t
            .delete_comment(c, &created.id, &mine[0].id)
            .await
            .expect_err("a tracker that cannot delete comments says so");
        assert_eq!(e.kind, ErrorKind::Unsupported);
    }
}

async fn attachments_go_up_come_back_whole_and_go_away(f: &dyn Fixture) {
    let t = f.tracker();
    let c = f.collection();
    let created = t
        .create(c, &f.new_fields("With a file"), "tandem:test:ATT-1")
        .await
        .expect("created");
    if t.capabilities().attachment_feed {
        t.resume(c, Feed::Attachments, None);
        drain(&*t, c, Feed::Attachments).await;
    }
    let bytes: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let uploaded = t
        .upload(
            c,
            &created.id,
            NewFile {
                file_name: "log.bin".into(),
                content_type: "application/octet-stream".into(),
                bytes: bytes.clone(),
            },
        )
        .await
        .expect("uploaded");
    assert_eq!(uploaded.record, created.id);
    assert_eq!(uploaded.file_name, "log.bin");
    if t.capabilities().attachment_feed {
        assert_eq!(
            drain(&*t, c, Feed::Attachments).await,
            Vec::<String>::new(),
            "the connector's own upload is not a new attachment"
        );
    }
    let listed = t
        .attachments(c, &[created.id.as_str()])
        .await
        .expect("listed");
    let file = listed
        .iter()
        .find(|a| a.id == uploaded.id)
        .expect("the upload is listed");
    assert_eq!(file.size, bytes.len() as u64);
    assert_eq!(t.download(file).await.expect("downloaded"), bytes);
    let present = t
        .attachments_present(&[uploaded.id.as_str(), "0000000000000000000000000000dead"])
        .await
        .expect("checked");
    assert_eq!(
        present.into_iter().collect::<Vec<_>>(),
        vec![uploaded.id.clone()]
    );

    t.resume(c, Feed::Records, None);
    drain(&*t, c, Feed::Records).await;
    t.delete_attachment(c, &created.id, &uploaded.id)
        .await
        .expect("deleted");
    assert_eq!(
        drain(&*t, c, Feed::Records).await,
        Vec::<String>::new(),
        "deleting a file is the connector's own write, not a change"
    );
    assert!(
        t.attachments_present(&[uploaded.id.as_str()])
            .await
            .expect("checked")
            .is_empty()
    );
    t.delete_attachment(c, &created.id, &uploaded.id)
        .await
        .expect("deleting what is gone is done");
}

async fn errors_say_whether_a_retry_can_help(f: &dyn Fixture) {
    let t = f.tracker();
    let c = f.collection();
    let missing = "0000000000000000000000000000beef";
    assert_eq!(t.record(c, missing).await.expect("read"), None);
    let e = t
        .update(c, missing, &f.retitle("Nobody"))
        .await
        .expect_err("no such record");
    assert_eq!(e.kind, ErrorKind::NotFound, "{e}");
    assert!(!e.is_transient());

    // More failures than the connector's own retries absorb.
    f.fail_next(50).await;
    let e = t
        .record(c, missing)
        .await
        .expect_err("the tracker is failing");
    assert_eq!(e.kind, ErrorKind::Transient, "{e}");
    assert!(e.is_transient());
    assert_eq!(e.tracker, t.kind());
    f.fail_next(0).await;
    assert!(t.requests_sent() > 0);
}

// --- ServiceNow -----------------------------------------------------------------------------

const SN_USER: &str = "tandem.proxy";
const SN_PASSWORD: &str = "pr0xy-pass";
const SN_AGENT: (&str, &str) = ("beth.anglin", "beth-pass");

struct ServiceNowFixture {
    emulator: RunningEmulator,
    http: reqwest::Client,
}

impl ServiceNowFixture {
    async fn start() -> Self {
        let config = EmulatorConfig::new("127.0.0.1:0".parse().expect("address"))
            .with_user(SN_USER, SN_PASSWORD)
            .with_user(SN_AGENT.0, SN_AGENT.1);
        Self {
            emulator: tandem_emulators::servicenow::start(config)
                .await
                .expect("emulator starts"),
            http: reqwest::Client::new(),
        }
    }
}

#[async_trait::async_trait]
impl Fixture for ServiceNowFixture {
    fn tracker(&self) -> Arc<dyn Tracker> {
        let mut config = ClientConfig::new(
            &self.emulator.base_url(),
            Auth::Basic {
                user: SN_USER.into(),
                password: SN_PASSWORD.into(),
            },
        );
        config.retry = RetryPolicy {
            attempts: 3,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(50),
            max_retry_after: Duration::from_secs(2),
        };
        let client = Client::new(config).expect("client");
        let tracker = ServiceNow::new(Arc::new(client), 50);
        assert_eq!(tracker.kind(), TrackerKind::ServiceNow);
        Arc::new(tracker)
    }

    fn collection(&self) -> &str {
        "incident"
    }

    fn new_fields(&self, title: &str) -> Fields {
        fields(json!({"short_description": title, "urgency": "2"}))
    }

    fn retitle(&self, title: &str) -> Fields {
        fields(json!({"short_description": title}))
    }

    fn title_of(&self, fields: &Fields) -> String {
        fields
            .get("short_description")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    }

    async fn retitle_elsewhere(&self, id: &str, title: &str) {
        let r = self
            .http
            .patch(format!(
                "{}/api/now/table/incident/{id}",
                self.emulator.base_url()
            ))
            .basic_auth(SN_AGENT.0, Some(SN_AGENT.1))
            .json(&json!({ "short_description": title }))
            .send()
            .await
            .expect("agent write");
        assert_eq!(r.status(), 200, "{:?}", r.text().await);
    }

    async fn fail_next(&self, n: u32) {
        let r = self
            .http
            .post(format!("{}/__emulator/faults", self.emulator.base_url()))
            .json(&Faults {
                server_error_requests: n,
                ..Faults::default()
            })
            .send()
            .await
            .expect("faults set");
        assert_eq!(r.status(), 200);
    }
}

// --- Jira (Cloud v3 and Data Center v2) -------------------------------------------------------

const JIRA_USER: &str = "integration@example.com";
const JIRA_TOKEN: &str = "ATATT3xFfGF0-contract";

struct JiraFixture {
    emulator: tandem_emulators::jira::RunningJira,
    flavour: jira::Flavour,
    http: reqwest::Client,
}

impl JiraFixture {
    async fn start(flavour: jira::Flavour) -> Self {
        let mut config =
            tandem_emulators::jira::JiraConfig::new("127.0.0.1:0".parse().expect("address"))
                .with_user(JIRA_USER, JIRA_TOKEN, "Integration User");
        config.flavour = match flavour {
            jira::Flavour::Cloud => tandem_emulators::jira::Flavour::Cloud,
            jira::Flavour::DataCenter => tandem_emulators::jira::Flavour::Dc,
        };
        Self {
            emulator: tandem_emulators::jira::start(config)
                .await
                .expect("emulator starts"),
            flavour,
            http: reqwest::Client::new(),
        }
    }

    fn signed(&self, r: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self.flavour {
            jira::Flavour::Cloud => r.basic_auth(JIRA_USER, Some(JIRA_TOKEN)),
            jira::Flavour::DataCenter => r.bearer_auth(JIRA_TOKEN),
        }
    }
}

#[async_trait::async_trait]
impl Fixture for JiraFixture {
    fn tracker(&self) -> Arc<dyn Tracker> {
        let auth = match self.flavour {
            jira::Flavour::Cloud => jira::Auth::ApiToken {
                email: JIRA_USER.into(),
                token: JIRA_TOKEN.into(),
            },
            jira::Flavour::DataCenter => jira::Auth::PersonalAccessToken {
                token: JIRA_TOKEN.into(),
            },
        };
        let mut config = jira::ClientConfig::new(&self.emulator.base_url(), self.flavour, auth);
        config.retry = jira::RetryPolicy {
            attempts: 3,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(50),
            max_retry_after: Duration::from_secs(2),
        };
        let client = jira::Client::new(config).expect("client");
        let tracker = jira::Jira::new(Arc::new(client), jira::PollOptions::default());
        assert_eq!(tracker.kind(), TrackerKind::Jira);
        Arc::new(tracker)
    }

    fn collection(&self) -> &str {
        "SUP"
    }

    fn new_fields(&self, title: &str) -> Fields {
        fields(json!({"summary": title, "issuetype": "Task", "description": "Made by **Tandem**"}))
    }

    fn retitle(&self, title: &str) -> Fields {
        fields(json!({ "summary": title }))
    }

    fn title_of(&self, fields: &Fields) -> String {
        fields
            .get("summary")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    }

    async fn retitle_elsewhere(&self, id: &str, title: &str) {
        let url = format!(
            "{}/rest/api/{}/issue/{id}",
            self.emulator.base_url(),
            self.flavour.api_version()
        );
        let r = self
            .signed(self.http.put(url))
            .json(&json!({ "fields": { "summary": title } }))
            .send()
            .await
            .expect("someone's write");
        assert_eq!(r.status(), 204, "{:?}", r.text().await);
    }

    async fn fail_next(&self, n: u32) {
        let r = self
            .http
            .post(format!("{}/__emulator/faults", self.emulator.base_url()))
            .json(&json!({ "server_error_requests": n }))
            .send()
            .await
            .expect("faults set");
        assert_eq!(r.status(), 200);
    }
}

fn fields(v: Value) -> Fields {
    match v {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

/// One test per contract case and connector, each with its own emulator.
macro_rules! contract_tests {
    ($connector:ident, $start:expr) => {
        mod $connector {
            use super::*;

            #[tokio::test]
            async fn own_writes_never_come_back_but_others_changes_do() {
                super::own_writes_never_come_back_but_others_changes_do(&$start.await).await;
            }

            #[tokio::test]
            async fn a_persisted_cursor_resumes_where_it_stopped() {
                super::a_persisted_cursor_resumes_where_it_stopped(&$start.await).await;
            }

            #[tokio::test]
            async fn a_create_is_found_again_by_its_correlation() {
                super::a_create_is_found_again_by_its_correlation(&$start.await).await;
            }

            #[tokio::test]
            async fn comments_keep_who_may_see_them() {
                super::comments_keep_who_may_see_them(&$start.await).await;
            }

            #[tokio::test]
            async fn attachments_go_up_come_back_whole_and_go_away() {
                super::attachments_go_up_come_back_whole_and_go_away(&$start.await).await;
            }

            #[tokio::test]
            async fn errors_say_whether_a_retry_can_help() {
                super::errors_say_whether_a_retry_can_help(&$start.await).await;
            }
        }
    };
}

contract_tests!(servicenow, ServiceNowFixture::start());
contract_tests!(jira_cloud, JiraFixture::start(jira::Flavour::Cloud));
contract_tests!(
    jira_data_center,
    JiraFixture::start(jira::Flavour::DataCenter)
);
