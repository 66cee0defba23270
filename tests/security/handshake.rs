//! The invitation handshake: an acceptance seen on the wire cannot be replayed to join or redirect a connection.
//!
//! The attacker here sits on the path between the acceptor and the initiator, or reads a proxy's
//! body log: it holds one acceptance exactly as the acceptor sent it, but neither the invitation
//! code nor the acceptor's signing key. A [`Tap`] in front of the initiating node plays that
//! proxy: it keeps a copy of every request body, and can drop the node's answers to make the
//! acceptor lose one.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::net::TcpListener;

use tandem_protocol::Nonce;

use crate::common::tap::Tap;
use crate::common::{Api, TestNode};

/// The attacker's own server: counts the connections made to it and closes them.
struct Sink {
    url: String,
    calls: Arc<AtomicUsize>,
}

impl Sink {
    async fn start() -> Sink {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = calls.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
                drop(stream);
            }
        });
        Sink { url, calls }
    }
}

/// A (behind `tap`) and B, and a code A made for B. B has not accepted it yet.
async fn nodes(tap: &Tap, name: &str) -> (TestNode, TestNode, String) {
    let tap_url = tap.url.clone();
    let a = TestNode::start_with(|c| c.node_url = Some(tap_url)).await;
    tap.forward_to(&a);
    let b = TestNode::start().await;
    let (status, body) = a
        .api()
        .json(
            a.api().post("/connections"),
            json!({"to": b.url, "mode": "basic", "local_name": "acme", "remote_name": "globex", "name": name}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let code = body["invitation_code"].as_str().expect("a code").to_owned();
    (a, b, code)
}

async fn accept(api: &Api, code: &str) -> (u16, Value) {
    api.json(api.post("/invitations/accept"), json!({"code": code}))
        .await
}

async fn connection(api: &Api, name: &str) -> Value {
    let (status, body) = api.send(api.get(&format!("/connections/{name}"))).await;
    assert_eq!(status, 200, "{body}");
    body["connection"].clone()
}

/// Waits until `check` holds for the connection, or fails after 60 s.
async fn eventually(api: &Api, name: &str, what: &str, check: impl Fn(&Value) -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while tokio::time::Instant::now() < deadline {
        if check(&connection(api, name).await) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what}: {}", connection(api, name).await);
}

/// Sends an acceptance straight to a node, as an attacker would.
async fn send_acceptance(node: &TestNode, body: &Value) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .post(format!("{}/node/v1/accept", node.url))
        .json(body)
        .send()
        .await
        .expect("the node answers");
    crate::common::read(resp).await
}

fn fresh_nonce() -> Value {
    Nonce::random().unwrap().as_str().into()
}

/// What the refused sender learns must not describe the connection or its real acceptor.
fn assert_reveals_nothing(answer: &Value, b: &TestNode) {
    let text = answer.to_string();
    let port = b.url.rsplit(':').next().unwrap();
    assert!(
        !text.contains(port),
        "the refusal names the acceptor: {text}"
    );
    assert!(
        !text.contains(&b.url),
        "the refusal names the acceptor: {text}"
    );
}

/// A's deactivation reaches B, so A still delivers to B.
async fn deliveries_reach(a: &TestNode, b: &TestNode, name: &str) {
    let (api_a, api_b) = (a.api(), b.api());
    let (status, body) = api_a
        .send(api_a.post(&format!("/connections/{name}/deactivate")))
        .await;
    assert_eq!(status, 200, "{body}");
    eventually(&api_b, name, "B sees A paused", |c| {
        c["remote_paused"] == true
    })
    .await;
}

#[tokio::test]
async fn a_captured_acceptance_resent_with_a_fresh_nonce_and_another_url_does_not_redirect_the_connection()
 {
    let tap = Tap::start().await;
    let (a, b, code) = nodes(&tap, "hijack").await;
    let (status, body) = accept(&b.api(), &code).await;
    assert_eq!(status, 201, "{body}");
    let captured = tap
        .bodies("POST /node/v1/accept ")
        .pop()
        .expect("the tap saw the acceptance");

    let attacker = Sink::start().await;
    let mut forged = captured.clone();
    forged["nonce"] = fresh_nonce();
    forged["acceptor"]["url"] = attacker.url.clone().into();
    let (status, answer) = send_acceptance(&a, &forged).await;
    assert_eq!(status, 401, "{answer}");
    assert_reveals_nothing(&answer, &b);

    let on_a = connection(&a.api(), "hijack").await;
    assert_eq!(on_a["remote"]["url"], b.url.as_str());
    assert_eq!(on_a["status"], "active");
    deliveries_reach(&a, &b, "hijack").await;
    assert_eq!(
        attacker.calls.load(Ordering::SeqCst),
        0,
        "nothing went to the attacker"
    );
}

#[tokio::test]
async fn the_same_acceptance_sent_again_is_refused_as_a_replay() {
    let tap = Tap::start().await;
    let (a, b, code) = nodes(&tap, "replayed").await;
    // B's answer is lost, so the connection stays open to a repeat from B.
    tap.swallow.send_replace(true);
    let (status, body) = accept(&b.api(), &code).await;
    assert_ne!(status, 201, "{body}");
    let captured = tap
        .bodies("POST /node/v1/accept ")
        .pop()
        .expect("the tap saw the acceptance");

    let (status, answer) = send_acceptance(&a, &captured).await;
    assert_eq!(status, 401, "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("already received"),
        "{answer}"
    );
    assert_reveals_nothing(&answer, &b);
    assert_eq!(
        connection(&a.api(), "replayed").await["remote"]["url"],
        b.url.as_str()
    );
}

#[tokio::test]
async fn a_captured_acceptance_resent_with_another_name_or_tracker_is_refused() {
    let tap = Tap::start().await;
    let (a, b, code) = nodes(&tap, "renamed").await;
    let (status, body) = accept(&b.api(), &code).await;
    assert_eq!(status, 201, "{body}");
    let captured = tap
        .bodies("POST /node/v1/accept ")
        .pop()
        .expect("the tap saw the acceptance");
    let before = connection(&a.api(), "renamed").await["remote"].clone();

    // Every part of the body describing the acceptor, one at a time.
    let edits: [(&str, Value); 5] = [
        ("/acceptor/name", "Mallory's desk".into()),
        ("/acceptor/tracker", "servicenow".into()),
        ("/acceptor/url", Value::Null),
        ("/acceptor_short_name", "mallory".into()),
        ("/initiator_short_name", "victim".into()),
    ];
    for (field, value) in edits {
        let mut forged = captured.clone();
        forged["nonce"] = fresh_nonce();
        *forged.pointer_mut(field).expect("the field is in the body") = value;
        let (status, answer) = send_acceptance(&a, &forged).await;
        assert!(matches!(status, 400 | 401), "{field}: {status} {answer}");
        assert_reveals_nothing(&answer, &b);
    }
    assert_eq!(connection(&a.api(), "renamed").await["remote"], before);
    deliveries_reach(&a, &b, "renamed").await;
}

#[tokio::test]
async fn a_repeat_from_the_acceptor_after_it_renamed_itself_is_refused() {
    let tap = Tap::start().await;
    let (a, b, code) = nodes(&tap, "moved").await;
    tap.swallow.send_replace(true);
    let (status, body) = accept(&b.api(), &code).await;
    assert_ne!(status, 201, "{body}");
    let before = connection(&a.api(), "moved").await["remote"].clone();

    // B's admin renames the node, then pastes the code again: the acceptance is genuinely
    // signed by B, but it describes B differently from the one A answered.
    let client = crate::console::browser();
    let csrf = crate::console::login(&b, &client).await;
    let resp = client
        .post(format!("{}/settings/general", b.url))
        .form(&[
            ("csrf", csrf.as_str()),
            ("name", "Globex Renamed"),
            ("node_url", b.url.as_str()),
            ("tracker", "builtin"),
        ])
        .send()
        .await
        .unwrap();
    assert!(resp.text().await.unwrap().contains("Settings saved."));

    tap.swallow.send_replace(false);
    let (status, body) = accept(&b.api(), &code).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("already used"),
        "{body}"
    );
    assert_eq!(connection(&a.api(), "moved").await["remote"], before);
}

#[tokio::test]
async fn the_acceptor_whose_answer_was_lost_completes_with_a_fresh_signed_acceptance() {
    let tap = Tap::start().await;
    let (a, b, code) = nodes(&tap, "lossy").await;
    tap.swallow.send_replace(true);
    let (status, body) = accept(&b.api(), &code).await;
    assert_ne!(status, 201, "{body}");
    assert_eq!(connection(&a.api(), "lossy").await["status"], "active");

    tap.swallow.send_replace(false);
    let (status, body) = accept(&b.api(), &code).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["connection"]["status"], "active");
    let on_a = connection(&a.api(), "lossy").await;
    assert_eq!(on_a["remote"]["url"], b.url.as_str());

    // The second acceptance is a new one (its own nonce and proof), describing B identically.
    let seen = tap.bodies("POST /node/v1/accept ");
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_ne!(seen[0]["nonce"], seen[1]["nonce"]);
    assert_ne!(seen[0]["proof"], seen[1]["proof"]);
    assert_eq!(seen[0]["acceptor"], seen[1]["acceptor"]);
    deliveries_reach(&a, &b, "lossy").await;
}
