//! Contract tests of the ServiceNow connector against the emulator, over HTTP on loopback, with
//! every fault the emulator can inject: 429 with `Retry-After`, 500s, latency, a hidden or
//! forbidden journal table, data policies, expired OAuth tokens, and a poller restarted from
//! its stored state.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};
use tandem_connectors::servicenow::{
    Auth, Client, ClientConfig, JournalKind, JournalSource, NewAttachment, PollState, Poller,
    RetryPolicy, ServiceNowError,
};
use tandem_emulators::servicenow::{self, EmulatorConfig, Faults, JournalAccess, RunningEmulator};

const USER: &str = "tandem.proxy";
const PASSWORD: &str = "pr0xy-pass";
const CLIENT_ID: &str = "tandem";
const CLIENT_SECRET: &str = "client-secret";

struct Emu {
    running: RunningEmulator,
    http: reqwest::Client,
}

fn emulator_config() -> EmulatorConfig {
    EmulatorConfig::new("127.0.0.1:0".parse().expect("address"))
        .with_user(USER, PASSWORD)
        .with_user("beth.anglin", "beth-pass")
        .with_oauth_client(CLIENT_ID, CLIENT_SECRET)
}

async fn emulator(config: EmulatorConfig) -> Emu {
    Emu {
        running: servicenow::start(config).await.expect("emulator starts"),
        http: reqwest::Client::new(),
    }
}

impl Emu {
    fn url(&self) -> String {
        self.running.base_url()
    }

    fn client(&self) -> Client {
        client_with(&self.url(), basic(), fast_retries())
    }

    async fn faults(&self, f: Faults) {
        let r = self
            .http
            .post(format!("{}/__emulator/faults", self.url()))
            .json(&f)
            .send()
            .await
            .expect("faults set");
        assert_eq!(r.status(), 200);
    }

    async fn advance_clock(&self, secs: i64) {
        let r = self
            .http
            .post(format!("{}/__emulator/clock", self.url()))
            .json(&json!({ "advance_secs": secs }))
            .send()
            .await
            .expect("clock moved");
        assert_eq!(r.status(), 200);
    }

    /// A write by another user, as an agent in the ServiceNow UI would make it.
    async fn agent_patch(&self, table: &str, sys_id: &str, body: Value) {
        let r = self
            .http
            .patch(format!("{}/api/now/table/{table}/{sys_id}", self.url()))
            .basic_auth("beth.anglin", Some("beth-pass"))
            .json(&body)
            .send()
            .await
            .expect("agent write");
        assert_eq!(r.status(), 200, "{:?}", r.text().await);
    }

    async fn agent_create(&self, table: &str, body: Value) -> String {
        let r = self
            .http
            .post(format!("{}/api/now/table/{table}", self.url()))
            .basic_auth("beth.anglin", Some("beth-pass"))
            .json(&body)
            .send()
            .await
            .expect("agent create");
        assert_eq!(r.status(), 201);
        let v: Value = r.json().await.expect("json");
        v["result"]["sys_id"].as_str().expect("sys_id").to_owned()
    }
}

fn basic() -> Auth {
    Auth::Basic {
        user: USER.into(),
        password: PASSWORD.into(),
    }
}

fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        attempts: 5,
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(200),
        max_retry_after: Duration::from_secs(5),
    }
}

fn client_with(url: &str, auth: Auth, retry: RetryPolicy) -> Client {
    let mut config = ClientConfig::new(url, auth);
    config.retry = retry;
    config.timeout = Duration::from_secs(10);
    Client::new(config).expect("client")
}

fn fields(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => panic!("not an object"),
    }
}

#[tokio::test]
async fn records_are_created_read_updated_and_deleted_with_every_value_a_string() {
    let emu = emulator(emulator_config()).await;
    let c = emu.client();
    let created = c
        .create(
            "incident",
            &fields(json!({"short_description": "Printer on fire", "urgency": 1, "impact": "1"})),
        )
        .await
        .expect("created");
    let id = created.sys_id().to_owned();
    assert_eq!(id.len(), 32);
    assert!(created.str("number").starts_with("INC"), "{created:?}");
    assert_eq!(created.str("urgency"), "1");
    assert_eq!(created.mod_count(), 0);
    for (k, v) in created.fields() {
        assert!(
            v.is_string() || v.get("value").is_some_and(Value::is_string),
            "{k} = {v} is not a string or reference"
        );
    }
    let updated = c
        .update("incident", &id, &fields(json!({"state": "2"})))
        .await
        .expect("updated");
    assert_eq!(updated.str("state"), "2");
    assert_eq!(updated.mod_count(), 1);
    assert_eq!(updated.str("sys_updated_by"), USER);
    let read = c
        .get("incident", &id, Some("sys_id,state,short_description"))
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(read.str("short_description"), "Printer on fire");
    assert_eq!(read.fields().len(), 3, "sysparm_fields is honoured");
    c.delete("incident", &id).await.expect("deleted");
    assert_eq!(c.get("incident", &id, None).await.expect("read"), None);
    c.delete("incident", &id)
        .await
        .expect("deleting twice is fine");
    emu.running.shutdown().await.expect("stops");
}

#[tokio::test]
async fn lists_follow_link_pagination_to_the_last_page() {
    let emu = emulator(emulator_config()).await;
    let c = emu.client();
    for i in 0..23 {
        c.create(
            "incident",
            &fields(json!({"short_description": format!("bulk {i}"), "category": "network"})),
        )
        .await
        .expect("created");
    }
    let before = c.requests_sent();
    let rows = c
        .list(
            "incident",
            "category=network^ORDERBYnumber",
            Some("sys_id,number"),
            10,
        )
        .await
        .expect("listed");
    assert_eq!(rows.len(), 23);
    assert_eq!(c.requests_sent() - before, 3, "three pages of 10");
    let numbers: BTreeSet<&str> = rows.iter().map(|r| r.str("number")).collect();
    assert_eq!(numbers.len(), 23, "no row twice");
    emu.running.shutdown().await.expect("stops");
}

#[tokio::test]
async fn wrong_credentials_are_an_auth_error_naming_the_user() {
    let emu = emulator(emulator_config()).await;
    let c = client_with(
        &emu.url(),
        Auth::Basic {
            user: USER.into(),
            password: "wrong".into(),
        },
        fast_retries(),
    );
    let e = c.get("incident", "0123", None).await.expect_err("refused");
    assert!(
        matches!(e, ServiceNowError::Auth { status: 401, .. }),
        "{e}"
    );
    assert!(e.to_string().contains(USER), "{e}");
    assert!(!e.is_transient());
    emu.running.shutdown().await.expect("stops");
}

#[tokio::test]
async fn oauth_signs_in_with_the_password_grant_and_refreshes_expired_tokens() {
    let mut config = emulator_config();
    config.access_token_lifetime = Duration::from_secs(11);
    let emu = emulator(config).await;
    let c = client_with(
        &emu.url(),
        Auth::OAuth {
            client_id: CLIENT_ID.into(),
            client_secret: CLIENT_SECRET.into(),
            user: USER.into(),
            password: PASSWORD.into(),
        },
        fast_retries(),
    );
    let r = c
        .create(
            "incident",
            &fields(json!({"short_description": "via OAuth"})),
        )
        .await
        .expect("created with a bearer token");
    assert_eq!(r.str("sys_created_by"), USER);
    // 11 s tokens count as expired 10 s before their end, so the next call refreshes.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let again = c.get("incident", r.sys_id(), None).await.expect("read");
    assert!(again.is_some());
    let bad = client_with(
        &emu.url(),
        Auth::OAuth {
            client_id: CLIENT_ID.into(),
            client_secret: "nope".into(),
            user: USER.into(),
            password: PASSWORD.into(),
        },
        fast_retries(),
    );
    let e = bad
        .get("incident", r.sys_id(), None)
        .await
        .expect_err("refused");
    assert!(matches!(e, ServiceNowError::Auth { .. }), "{e}");
    assert!(!e.to_string().contains("nope"), "no secret in errors: {e}");
    emu.running.shutdown().await.expect("stops");
}

#[tokio::test]
async fn rate_limits_are_waited_out_as_retry_after_asks() {
    let emu = emulator(emulator_config()).await;
    let c = emu.client();
    emu.faults(Faults {
        rate_limited_requests: 2,
        retry_after_secs: 1,
        ..Faults::default()
    })
    .await;
    let started = Instant::now();
    let before = c.requests_sent();
    let r = c
        .create(
            "incident",
            &fields(json!({"short_description": "after the limit"})),
        )
        .await
        .expect("created once the limit passed");
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "waited 2 × 1 s"
    );
    assert_eq!(c.requests_sent() - before, 3);
    let all = c
        .list("incident", "short_description=after the limit", None, 10)
        .await
        .expect("listed");
    assert_eq!(all.len(), 1, "a 429 never inserts: {r:?}");

    // A wait longer than the client will hold a task for goes back to the caller.
    emu.faults(Faults {
        rate_limited_requests: 1,
        retry_after_secs: 3600,
        ..Faults::default()
    })
    .await;
    let e = c
        .get("incident", r.sys_id(), None)
        .await
        .expect_err("limited");
    match &e {
        ServiceNowError::RateLimited { retry_after, .. } => {
            assert_eq!(retry_after.as_secs(), 3600)
        }
        other => panic!("{other}"),
    }
    assert!(e.is_transient());
    emu.running.shutdown().await.expect("stops");
}

#[tokio::test]
async fn server_errors_are_retried_for_reads_and_returned_for_inserts() {
    let emu = emulator(emulator_config()).await;
    let c = emu.client();
    let r = c
        .create("incident", &fields(json!({"short_description": "steady"})))
        .await
        .expect("created");
    emu.faults(Faults {
        server_error_requests: 3,
        ..Faults::default()
    })
    .await;
    let read = c
        .get("incident", r.sys_id(), None)
        .await
        .expect("read after backoff");
    assert!(read.is_some());

    emu.faults(Faults {
        server_error_requests: 1,
        ..Faults::default()
    })
    .await;
    let e = c
        .create("incident", &fields(json!({"short_description": "maybe"})))
        .await
        .expect_err("an insert that failed is not repeated blindly");
    assert_eq!(e.status(), Some(500));
    assert!(e.is_transient());

    emu.faults(Faults {
        server_error_requests: 10,
        ..Faults::default()
    })
    .await;
    let e = c
        .get("incident", r.sys_id(), None)
        .await
        .expect_err("gave up");
    assert_eq!(e.status(), Some(500), "{e}");
    emu.faults(Faults::default()).await;
    emu.running.shutdown().await.expect("stops");
}

#[tokio::test]
async fn a_data_policy_refusal_quotes_servicenow() {
    let mut config = emulator_config();
    config.enforce_data_policies = true;
    let emu = emulator(config).await;
    let c = emu.client();
    let r = c
        .create(
            "incident",
            &fields(json!({"short_description": "to resolve"})),
        )
        .await
        .expect("created");
    let e = c
        .update("incident", r.sys_id(), &fields(json!({"state": "6"})))
        .await
        .expect_err("needs close fields");
    assert_eq!(e.status(), Some(403), "{e}");
    let text = e.to_string();
    assert!(
        text.contains("close_code") || text.contains("Data Policy"),
        "{text}"
    );
    let ok = c
        .update(
            "incident",
            r.sys_id(),
            &fields(
                json!({"state": "6", "close_code": "Solved (Permanently)", "close_notes": "fixed"}),
            ),
        )
        .await
        .expect("resolved with its close fields");
    assert_eq!(ok.str("state"), "6");
    emu.running.shutdown().await.expect("stops");
}

#[tokio::test]
async fn comments_and_work_notes_read_from_the_journal_or_from_display_values() {
    let emu = emulator(emulator_config()).await;
    let c = emu.client();
    let a = c
        .create(
            "incident",
            &fields(json!({"short_description": "journal a"})),
        )
        .await
        .expect("created");
    let b = c
        .create(
            "incident",
            &fields(json!({"short_description": "journal b"})),
        )
        .await
        .expect("created");
    c.add_journal_entry(
        "incident",
        a.sys_id(),
        JournalKind::Comments,
        "first public",
    )
    .await
    .expect("comment");
    emu.advance_clock(1).await;
    let after = c
        .add_journal_entry(
            "incident",
            a.sys_id(),
            JournalKind::WorkNotes,
            "internal\nnote",
        )
        .await
        .expect("work note");
    assert_eq!(after.mod_count(), 2, "a journal write is an update");
    emu.advance_clock(1).await;
    c.add_journal_entry("incident", b.sys_id(), JournalKind::Comments, "on b")
        .await
        .expect("comment");

    let ids = [a.sys_id(), b.sys_id()];
    let before = c.requests_sent();
    let (table, source) = c.journals("incident", &ids).await.expect("journal read");
    assert_eq!(source, JournalSource::Table);
    assert_eq!(
        c.requests_sent() - before,
        1,
        "one request for both records"
    );
    let texts = |m: &std::collections::HashMap<
        String,
        Vec<tandem_connectors::servicenow::JournalEntry>,
    >,
                 id: &str| {
        m.get(id)
            .map(|v| {
                v.iter()
                    .map(|e| (e.kind, e.text.clone()))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    assert_eq!(
        texts(&table, a.sys_id()),
        [
            (JournalKind::Comments, "first public".to_owned()),
            (JournalKind::WorkNotes, "internal\nnote".to_owned())
        ]
    );
    assert_eq!(table[a.sys_id()][0].author, USER);
    assert!(table[a.sys_id()][1].internal());

    for access in [JournalAccess::Hidden, JournalAccess::Forbidden] {
        emu.faults(Faults {
            journal: access,
            ..Faults::default()
        })
        .await;
        let fresh = emu.client();
        let (shown, source) = fresh
            .journals("incident", &ids)
            .await
            .expect("fallback read");
        assert_eq!(source, JournalSource::DisplayValue, "{access:?}");
        assert_eq!(
            texts(&shown, a.sys_id()),
            texts(&table, a.sys_id()),
            "{access:?}"
        );
        assert_eq!(
            texts(&shown, b.sys_id()),
            texts(&table, b.sys_id()),
            "{access:?}"
        );
        let (again, _) = fresh.journals("incident", &ids).await.expect("read again");
        assert_eq!(
            shown[a.sys_id()].iter().map(|e| &e.id).collect::<Vec<_>>(),
            again[a.sys_id()].iter().map(|e| &e.id).collect::<Vec<_>>(),
            "entry ids are stable across reads"
        );
    }
    emu.running.shutdown().await.expect("stops");
}

/// A pass-through proxy to the emulator that, once, right after forwarding the first read of
/// `sys_journal_field` and before answering it, has an agent comment on `sys_id`: the write lands
/// between the connector's journal read and its next request.
async fn proxy_commenting_after_the_first_journal_read(emu: &Emu, sys_id: &str) -> String {
    use axum::body::Bytes;
    use axum::http::{HeaderMap, Method, Uri};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    let upstream = emu.url();
    let http = emu.http.clone();
    let sys_id = sys_id.to_owned();
    let fired = Arc::new(AtomicBool::new(false));
    let forward = move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
        let (upstream, http, sys_id, fired) = (
            upstream.clone(),
            http.clone(),
            sys_id.clone(),
            fired.clone(),
        );
        async move {
            let url = format!("{upstream}{uri}");
            let mut request = http.request(method, &url).body(body);
            for (name, value) in &headers {
                if name != "host" {
                    request = request.header(name, value);
                }
            }
            let answer = request.send().await.expect("upstream answers");
            let status = answer.status();
            let mut out = HeaderMap::new();
            for name in ["content-type", "link", "x-total-count"] {
                if let Some(v) = answer.headers().get(name) {
                    out.insert(name, v.clone());
                }
            }
            let body = answer.bytes().await.expect("upstream body");
            if uri.path().ends_with("/sys_journal_field") && !fired.swap(true, Ordering::SeqCst) {
                let r = http
                    .patch(format!("{upstream}/api/now/table/incident/{sys_id}"))
                    .basic_auth("beth.anglin", Some("beth-pass"))
                    .json(&json!({ "comments": "written meanwhile" }))
                    .send()
                    .await
                    .expect("agent comment");
                assert_eq!(r.status(), 200);
            }
            (status, out, body)
        }
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("proxy binds");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let app = axum::Router::new().fallback(forward);
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

#[tokio::test]
async fn a_comment_written_between_two_journal_reads_does_not_make_the_journal_look_hidden() {
    let emu = emulator(emulator_config()).await;
    let id = emu
        .agent_create("incident", json!({"short_description": "no comments yet"}))
        .await;
    let proxy = proxy_commenting_after_the_first_journal_read(&emu, &id).await;
    let c = client_with(&proxy, basic(), fast_retries());

    let (entries, source) = c.journals("incident", &[&id]).await.expect("journal read");
    assert_eq!(
        source,
        JournalSource::Table,
        "a readable table is read as one"
    );
    let texts: Vec<_> = entries[&id].iter().map(|e| e.text.as_str()).collect();
    assert_eq!(texts, ["written meanwhile"]);

    emu.agent_patch("incident", &id, json!({"comments": "later"}))
        .await;
    let (entries, source) = c.journals("incident", &[&id]).await.expect("read again");
    assert_eq!(source, JournalSource::Table, "and it stays read as a table");
    assert_eq!(entries[&id].len(), 2);
    emu.running.shutdown().await.expect("stops");
}

#[tokio::test]
async fn a_journal_found_hidden_is_checked_again_after_the_recheck_time() {
    let emu = emulator(emulator_config()).await;
    let id = emu
        .agent_create("incident", json!({"short_description": "acl changes"}))
        .await;
    emu.agent_patch("incident", &id, json!({"comments": "hello"}))
        .await;
    emu.faults(Faults {
        journal: JournalAccess::Forbidden,
        ..Faults::default()
    })
    .await;
    let mut config = ClientConfig::new(&emu.url(), basic());
    config.retry = fast_retries();
    config.journal_recheck = Duration::ZERO;
    let c = Client::new(config).expect("client");
    let (_, source) = c.journals("incident", &[&id]).await.expect("fallback read");
    assert_eq!(source, JournalSource::DisplayValue);

    // The admin grants the proxy user read access to sys_journal_field.
    emu.faults(Faults::default()).await;
    let (entries, source) = c.journals("incident", &[&id]).await.expect("read again");
    assert_eq!(source, JournalSource::Table, "the ACL is looked at again");
    assert_eq!(entries[&id][0].text, "hello");
    emu.running.shutdown().await.expect("stops");
}

#[tokio::test]
async fn attachments_upload_list_download_with_their_hash_and_delete() {
    let emu = emulator(emulator_config()).await;
    let c = emu.client();
    let r = c
        .create(
            "incident",
            &fields(json!({"short_description": "with files"})),
        )
        .await
        .expect("created");
    let bytes: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let meta = c
        .upload(
            "incident",
            r.sys_id(),
            &NewAttachment {
                file_name: "trace log.bin".into(),
                content_type: "application/octet-stream".into(),
                bytes: bytes.clone(),
            },
        )
        .await
        .expect("uploaded");
    assert_eq!(meta.size_bytes, 70_000);
    assert_eq!(meta.hash.len(), 64);
    assert_eq!(meta.file_name, "trace log.bin");
    let listed = c
        .attachments("incident", &[r.sys_id()])
        .await
        .expect("listed");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].sys_id, meta.sys_id);
    assert_eq!(listed[0].table_sys_id, r.sys_id());
    assert_eq!(c.download(&listed[0]).await.expect("downloaded"), bytes);
    let mut lying = listed[0].clone();
    lying.hash = "0".repeat(64);
    let e = c.download(&lying).await.expect_err("hash checked");
    assert!(matches!(e, ServiceNowError::HashMismatch { .. }), "{e}");
    let missing = c
        .upload(
            "incident",
            "0123456789abcdef0123456789abcdef",
            &NewAttachment {
                file_name: "x.txt".into(),
                content_type: "text/plain".into(),
                bytes: b"x".to_vec(),
            },
        )
        .await
        .expect_err("no such record");
    assert_eq!(missing.status(), Some(404), "{missing}");
    c.delete_attachment(&meta.sys_id).await.expect("deleted");
    assert!(
        c.attachments("incident", &[r.sys_id()])
            .await
            .expect("listed")
            .is_empty()
    );
    emu.running.shutdown().await.expect("stops");
}

#[tokio::test]
async fn http_client_paths_stay_on_the_instance_rest_api() {
    let emu = emulator(emulator_config()).await;
    let c = emu.client();
    let v = c
        .get_json("/api/now/table/incident?sysparm_limit=1")
        .await
        .expect("a REST path");
    assert!(v["result"].is_array());
    for bad in [
        "/oauth_token.do",
        "/__emulator/faults",
        "/api/../__emulator/faults",
    ] {
        assert!(c.get_json(bad).await.is_err(), "{bad}");
    }
    emu.running.shutdown().await.expect("stops");
}

/// Polls until a pass is over, advancing after each batch; returns the sys_ids handed over.
async fn poll_pass(p: &mut Poller, c: &Client) -> Vec<String> {
    let mut out = Vec::new();
    loop {
        let batch = p.next_batch(c).await.expect("polled");
        out.extend(batch.changes.iter().map(|r| r.sys_id().to_owned()));
        let more = batch.more;
        p.advance(batch.state);
        if !more {
            return out;
        }
    }
}

#[tokio::test]
async fn polling_hands_each_change_over_once_and_skips_the_connectors_own_writes() {
    let emu = emulator(emulator_config()).await;
    let c = emu.client();
    // Seven rows in the same second: keyset paging must walk through them all.
    let mut ids = Vec::new();
    for i in 0..7 {
        ids.push(
            emu.agent_create("incident", json!({"short_description": format!("p{i}")}))
                .await,
        );
    }
    let mut p = Poller::table("incident", PollState::default())
        .page_size(3)
        .fields("short_description,state");
    let first = poll_pass(&mut p, &c).await;
    assert_eq!(
        first.iter().collect::<BTreeSet<_>>(),
        ids.iter().collect::<BTreeSet<_>>()
    );
    assert_eq!(first.len(), 7, "none twice");
    assert!(p.state().watermark.is_some());
    assert!(poll_pass(&mut p, &c).await.is_empty(), "nothing new");

    // Someone else's change is handed over; the connector's own is not.
    emu.advance_clock(1).await;
    emu.agent_patch("incident", &ids[2], json!({"state": "2"}))
        .await;
    let own = c
        .update("incident", &ids[4], &fields(json!({"urgency": "1"})))
        .await
        .expect("own write");
    p.note_own_write(&own);
    let created = c
        .create(
            "incident",
            &fields(json!({"short_description": "created by sync"})),
        )
        .await
        .expect("own create");
    p.note_own_write(&created);
    assert_eq!(poll_pass(&mut p, &c).await, std::slice::from_ref(&ids[2]));

    // A change that lands in the same second as the watermark is still found.
    emu.agent_patch(
        "incident",
        &ids[5],
        json!({"state": "3", "hold_reason": "1"}),
    )
    .await;
    assert_eq!(poll_pass(&mut p, &c).await, std::slice::from_ref(&ids[5]));
    emu.running.shutdown().await.expect("stops");
}

#[tokio::test]
async fn a_poller_restarted_from_stored_state_loses_and_doubles_nothing_across_faults() {
    let emu = emulator(emulator_config()).await;
    let c = emu.client();
    let mut ids = Vec::new();
    for i in 0..10 {
        ids.push(
            emu.agent_create("incident", json!({"short_description": format!("r{i}")}))
                .await,
        );
    }
    let mut p = Poller::table("incident", PollState::default()).page_size(4);
    let mut handed: Vec<String> = Vec::new();
    // One page handed over and stored, then the node "crashes" mid-pass.
    let batch = p.next_batch(&c).await.expect("polled");
    handed.extend(batch.changes.iter().map(|r| r.sys_id().to_owned()));
    p.advance(batch.state);
    let stored = serde_json::to_string(p.state()).expect("stored");
    // A page read but not handed over before the crash: its rows must come again.
    let lost = p.next_batch(&c).await.expect("polled");
    assert!(!lost.changes.is_empty());
    drop(p);

    let mut p =
        Poller::table("incident", serde_json::from_str(&stored).expect("state")).page_size(4);
    emu.advance_clock(1).await;
    emu.agent_patch("incident", &ids[0], json!({"state": "2"}))
        .await;
    // The instance misbehaves while the restarted poller works.
    emu.faults(Faults {
        rate_limited_requests: 1,
        retry_after_secs: 1,
        server_error_requests: 2,
        latency_ms: 20,
        ..Faults::default()
    })
    .await;
    handed.extend(poll_pass(&mut p, &c).await);
    emu.faults(Faults::default()).await;
    let mut expected: Vec<String> = ids.clone();
    expected.push(ids[0].clone());
    handed.sort();
    expected.sort();
    assert_eq!(
        handed, expected,
        "every row once, ids[0] again for its later change"
    );
    emu.running.shutdown().await.expect("stops");
}

#[tokio::test]
async fn new_attachments_are_found_by_polling_their_table() {
    let emu = emulator(emulator_config()).await;
    let c = emu.client();
    let r = c
        .create("incident", &fields(json!({"short_description": "files"})))
        .await
        .expect("created");
    let other = c
        .create("problem", &fields(json!({"short_description": "not ours"})))
        .await
        .expect("created");
    let mut p = Poller::attachments("incident", PollState::default());
    assert!(poll_pass(&mut p, &c).await.is_empty());
    let file = |name: &str| NewAttachment {
        file_name: name.into(),
        content_type: "text/plain".into(),
        bytes: name.as_bytes().to_vec(),
    };
    let meta = c
        .upload("incident", r.sys_id(), &file("a.txt"))
        .await
        .expect("uploaded");
    c.upload("problem", other.sys_id(), &file("b.txt"))
        .await
        .expect("uploaded");
    assert_eq!(
        poll_pass(&mut p, &c).await,
        std::slice::from_ref(&meta.sys_id)
    );
    assert!(poll_pass(&mut p, &c).await.is_empty());
    emu.running.shutdown().await.expect("stops");
}

/// `httpClient`'s requests: the script's headers go with the node's own (which it cannot
/// replace), and with a closure the answer comes back whatever its status. A one-shot server
/// on loopback shows what was sent.
#[tokio::test]
async fn script_requests_carry_their_headers_and_any_answer_comes_back() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let server = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.expect("accept");
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = socket.read(&mut buf).await.expect("read");
            if n == 0 {
                break;
            }
            seen.extend_from_slice(&buf[..n]);
        }
        let body = r#"{"error":{"message":"No Record found"}}"#;
        let answer = format!(
            "HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\nx-is-logged-in: true\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        socket.write_all(answer.as_bytes()).await.expect("write");
        String::from_utf8_lossy(&seen).to_lowercase()
    });
    let client = client_with(&url, basic(), fast_retries());
    let answer = client
        .exchange(
            reqwest::Method::GET,
            "/api/now/table/incident/nope",
            None,
            &[("X-Tandem-Trace".into(), "t-1".into())],
        )
        .await
        .expect("an answer, 404 or not");
    assert_eq!(answer.status, 404);
    assert!(answer.body.contains("No Record found"), "{}", answer.body);
    assert!(
        answer
            .headers
            .iter()
            .any(|(k, v)| k == "x-is-logged-in" && v == "true"),
        "{:?}",
        answer.headers
    );
    let request = server.await.expect("server");
    assert!(request.contains("x-tandem-trace: t-1"), "{request}");
    assert!(request.contains("authorization: basic "), "{request}");

    for name in ["Authorization", "Host", "Cookie", "Proxy-Authorization"] {
        let e = client
            .exchange(
                reqwest::Method::GET,
                "/api/now/table/incident",
                None,
                &[(name.into(), "x".into())],
            )
            .await
            .expect_err("refused before sending");
        assert!(e.to_string().contains("is the node's own"), "{name}: {e}");
    }
}
