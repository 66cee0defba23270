//! Connections between real nodes over the API: initiate, accept, the statuses both sides
//! show, private and local connections, and every refusal the invitation and the node-to-node
//! protocol owe (each with a clear message and no change of state).

use std::time::Duration;

use serde_json::{Value, json};
use tandem_protocol::{ConnectionKeys, Invitation, Nonce, Role, sign_request};

use crate::common::tap::Tap;
use crate::common::{Api, TestNode};

async fn initiate(api: &Api, body: Value) -> (u16, Value) {
    api.json(api.post("/connections"), body).await
}

/// Initiates A → B in `mode` and returns the code.
pub(crate) async fn code_for(a: &Api, b_url: &str, mode: &str, name: &str) -> String {
    let (status, body) = initiate(
        a,
        json!({"to": b_url, "mode": mode, "local_name": "acme", "remote_name": "globex", "name": name}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["connection"]["status"], "pending");
    body["invitation_code"].as_str().expect("a code").to_owned()
}

pub(crate) async fn accept(api: &Api, code: &str) -> (u16, Value) {
    api.json(api.post("/invitations/accept"), json!({"code": code}))
        .await
}

async fn connection(api: &Api, name: &str) -> Value {
    let (status, body) = api.send(api.get(&format!("/connections/{name}"))).await;
    assert_eq!(status, 200, "{body}");
    body["connection"].clone()
}

async fn count(api: &Api) -> usize {
    let (_, body) = api.send(api.get("/connections")).await;
    body["connections"].as_array().expect("list").len()
}

/// Waits until `check` holds for the connection, or fails after 15 s.
async fn eventually(api: &Api, name: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..150 {
        let c = connection(api, name).await;
        if check(&c) {
            return c;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what}: {}", connection(api, name).await);
}

pub(crate) fn message(body: &Value) -> String {
    body["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn a_code_made_on_one_node_and_accepted_on_the_other_makes_both_active() {
    let (a, b) = (TestNode::start().await, TestNode::start().await);
    let (api_a, api_b) = (a.api(), b.api());
    let code = code_for(&api_a, &b.url, "script", "acme_to_globex").await;
    assert!(code.starts_with("tandem1."));

    let (status, preview) = api_b
        .json(api_b.post("/invitations/preview"), json!({"code": code}))
        .await;
    assert_eq!(status, 200, "{preview}");
    assert_eq!(preview["connection_name"], "acme_to_globex");
    assert_eq!(preview["mode"], "script");
    assert_eq!(preview["remote_url"], a.url.as_str());
    assert_eq!(preview["local_short_name"], "globex");
    assert_eq!(preview["remote_short_name"], "acme");
    assert_eq!(count(&api_b).await, 0, "a preview changes nothing");

    let (status, accepted) = accept(&api_b, &code).await;
    assert_eq!(status, 201, "{accepted}");
    let on_b = &accepted["connection"];
    assert_eq!(on_b["status"], "active");
    assert_eq!(on_b["role"], "acceptor");
    assert_eq!(on_b["local_short_name"], "globex");
    assert_eq!(on_b["remote"]["url"], a.url.as_str());

    let on_a = connection(&api_a, "acme_to_globex").await;
    assert_eq!(on_a["status"], "active");
    assert_eq!(on_a["remote"]["url"], b.url.as_str());
    assert!(on_a["invitation"]["used"].is_string());
    assert_eq!(on_a["id"], on_b["id"], "one connection id on both nodes");
}

#[tokio::test]
async fn an_acceptance_whose_answer_was_lost_completes_when_the_code_is_pasted_again() {
    let eater = Tap::start().await;
    let eater_url = eater.url.clone();
    let a = TestNode::start_with(|c| c.node_url = Some(eater_url)).await;
    eater.forward_to(&a);
    let (b, c) = (TestNode::start().await, TestNode::start().await);
    let (api_a, api_b, api_c) = (a.api(), b.api(), c.api());
    let code = code_for(&api_a, &b.url, "basic", "lossy").await;

    // A takes the acceptance and turns Active, but its answer never reaches B, which keeps
    // nothing of it.
    eater.swallow.send_replace(true);
    let (status, body) = accept(&api_b, &code).await;
    assert_ne!(status, 201, "{body}");
    assert!(message(&body).contains("try again"), "{body}");
    assert_eq!(count(&api_b).await, 0);
    assert_eq!(connection(&api_a, "lossy").await["status"], "active");

    // B's admin pastes the code again: A answers the node that accepted it once more.
    eater.swallow.send_replace(false);
    let (status, body) = accept(&api_b, &code).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["connection"]["status"], "active");
    let on_a = connection(&api_a, "lossy").await;
    assert_eq!(on_a["status"], "active");
    assert_eq!(on_a["id"], body["connection"]["id"]);

    // For any other node the code stays used.
    let (status, body) = accept(&api_c, &code).await;
    assert_eq!(status, 400, "{body}");
    assert!(message(&body).contains("already used"), "{body}");

    // And the two halves talk: A's Deactivate reaches B.
    let (status, body) = api_a
        .send(api_a.post("/connections/lossy/deactivate"))
        .await;
    assert_eq!(status, 200, "{body}");
    eventually(&api_b, "lossy", "B sees A paused", |c| {
        c["remote_paused"] == true
    })
    .await;
}

#[tokio::test]
async fn deactivating_on_one_side_shows_the_remote_paused_on_the_other_and_delete_tells_it() {
    let (a, b) = (TestNode::start().await, TestNode::start().await);
    let (api_a, api_b) = (a.api(), b.api());
    let code = code_for(&api_a, &b.url, "basic", "pair").await;
    assert_eq!(accept(&api_b, &code).await.0, 201);

    let (status, body) = api_a.send(api_a.post("/connections/pair/deactivate")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["connection"]["status"], "deactivated");
    eventually(&api_b, "pair", "B sees A paused", |c| {
        c["remote_paused"] == true
    })
    .await;

    let (status, body) = api_a.send(api_a.post("/connections/pair/activate")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["connection"]["status"], "active");
    eventually(&api_b, "pair", "B sees A resumed", |c| {
        c["remote_paused"] == false
    })
    .await;

    let (status, body) = api_b.send(api_b.delete("/connections/pair")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["remote_told"], true);
    assert_eq!(count(&api_b).await, 0);
    let on_a = eventually(&api_a, "pair", "A learns of the delete", |c| {
        c["status"] == "error"
    })
    .await;
    assert!(
        on_a["status_reason"]
            .as_str()
            .unwrap()
            .contains("deleted this connection"),
        "{on_a}"
    );
}

#[tokio::test]
async fn a_private_acceptor_makes_every_request_and_messages_flow_both_ways() {
    let (a, b) = (TestNode::start().await, TestNode::start().await);
    let (api_a, api_b) = (a.api(), b.api());
    let (status, body) = initiate(
        &api_a,
        json!({"private": true, "mode": "script", "local_name": "acme", "remote_name": "hidden"}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["connection"]["name"], "acme_to_hidden");
    assert!(body["accept_url"].is_null(), "no URL to go to");
    let code = body["invitation_code"].as_str().unwrap().to_owned();

    let (status, preview) = api_b
        .json(api_b.post("/invitations/preview"), json!({"code": code}))
        .await;
    assert_eq!(status, 200, "{preview}");
    let (status, accepted) = accept(&api_b, &code).await;
    assert_eq!(status, 201, "{accepted}");
    assert_eq!(accepted["connection"]["private"], true);

    let on_a = connection(&api_a, "acme_to_hidden").await;
    assert_eq!(on_a["status"], "active");
    assert!(
        on_a["remote"]["url"].is_null(),
        "A never calls the private side"
    );

    // A cannot call B: its message waits until B polls.
    api_a
        .send(api_a.post("/connections/acme_to_hidden/deactivate"))
        .await;
    eventually(&api_b, "acme_to_hidden", "B polls A's pause", |c| {
        c["remote_paused"] == true
    })
    .await;
    // B calls A.
    api_b
        .send(api_b.post("/connections/acme_to_hidden/deactivate"))
        .await;
    eventually(&api_a, "acme_to_hidden", "A gets B's pause", |c| {
        c["remote_paused"] == true
    })
    .await;
}

#[tokio::test]
async fn the_nodes_own_url_makes_a_local_connection() {
    let a = TestNode::start().await;
    let api = a.api();
    let (status, body) = initiate(
        &api,
        json!({"to": format!("{}/items", a.url), "mode": "script", "local_name": "sup", "remote_name": "eng"}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert!(body["invitation_code"].is_null());
    assert_eq!(body["connection"]["role"], "local");
    assert_eq!(body["connection"]["status"], "active");
}

#[tokio::test]
async fn bad_codes_are_refused_with_a_reason_and_change_nothing() {
    let (a, b, c) = (
        TestNode::start().await,
        TestNode::start().await,
        TestNode::start().await,
    );
    let (api_a, api_b, api_c) = (a.api(), b.api(), c.api());
    let code = code_for(&api_a, &b.url, "script", "once").await;

    // One byte changed.
    let mut bytes = code.clone().into_bytes();
    let i = bytes.len() / 2;
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    let (status, body) = accept(&api_b, &String::from_utf8(bytes).unwrap()).await;
    assert_eq!(status, 400, "{body}");
    assert!(message(&body).contains("changed or cut off"), "{body}");

    // Edited with intent: the mode flipped and the checksum made good again. The code still
    // reads, but the node that made it refuses the acceptance and nothing changes.
    let mut edited = Invitation::decode(&code).unwrap();
    edited.mode = tandem_protocol::Mode::Basic;
    let (status, body) = accept(&api_b, &edited.to_code().unwrap()).await;
    assert_eq!(status, 400, "{body}");
    assert!(message(&body).contains("changed on the way"), "{body}");

    // Pasted on the node that made it.
    let (status, body) = accept(&api_a, &code).await;
    assert_eq!(status, 400, "{body}");
    assert!(message(&body).contains("made on this node"), "{body}");

    assert_eq!(count(&api_b).await, 0);
    assert_eq!(connection(&api_a, "once").await["status"], "pending");

    // Used once, then a second time: on the same node and on another.
    assert_eq!(accept(&api_b, &code).await.0, 201);
    let (status, body) = accept(&api_b, &code).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        message(&body).contains("already accepted on this node"),
        "{body}"
    );
    let (status, body) = accept(&api_c, &code).await;
    assert_eq!(status, 400, "{body}");
    assert!(message(&body).contains("already used"), "{body}");
    assert_eq!(count(&api_c).await, 0);
    assert_eq!(count(&api_b).await, 1);
}

#[tokio::test]
async fn an_expired_code_is_refused() {
    let (a, b) = (TestNode::start().await, TestNode::start().await);
    // A code made 73 hours ago (the default validity is 72).
    let info: Value = reqwest::get(format!("{}/node/v1/info", a.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key =
        tandem_protocol::license::parse_vendor_public_key(info["public_key"].as_str().unwrap())
            .unwrap();
    let made = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(73);
    let invitation = Invitation::issue(
        tandem_protocol::IssueParams {
            initiator_node_id: info["node_id"].as_str().unwrap().parse().unwrap(),
            initiator_url: Some(a.url.clone()),
            acceptor_private: false,
            initiator_public_key: key,
            connection_id: uuid::Uuid::now_v7(),
            connection_name: "late".into(),
            initiator_short_name: "acme".into(),
            acceptor_short_name: "globex".into(),
            mode: tandem_protocol::Mode::Basic,
            valid_for: tandem_protocol::DEFAULT_VALIDITY,
        },
        made,
    )
    .unwrap();
    let api_b = b.api();
    let (status, body) = accept(&api_b, &invitation.to_code().unwrap()).await;
    assert_eq!(status, 400, "{body}");
    assert!(message(&body).contains("expired"), "{body}");
    assert_eq!(count(&api_b).await, 0);
}

#[tokio::test]
async fn destinations_that_are_not_tandem_nodes_or_not_reachable_are_refused() {
    let a = TestNode::start().await;
    let api = a.api();

    // A web server that is not a Tandem node.
    let other = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let other_url = format!("http://{}", other.local_addr().unwrap());
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut socket, _)) = other.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await;
                let _ = socket
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello")
                    .await;
            });
        }
    });
    let body = json!({"to": other_url, "mode": "basic", "local_name": "a", "remote_name": "b"});
    let (status, answer) = initiate(&api, body).await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        message(&answer).contains("is not a Tandem node"),
        "{answer}"
    );

    // A Tandem node of a later protocol, whose description this version cannot read.
    let later = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let later_url = format!("http://{}", later.local_addr().unwrap());
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let body = r#"{"product":"tandem","protocol":2,"name":"Future desk","version":"9.0.0"}"#;
        while let Ok((mut socket, _)) = later.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await;
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = socket.write_all(format!("{head}{body}").as_bytes()).await;
            });
        }
    });
    let body = json!({"to": later_url, "mode": "basic", "local_name": "a", "remote_name": "b"});
    let (status, answer) = initiate(&api, body).await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        message(&answer).contains("(Future desk) speaks protocol version 2 and this node speaks version 1: update the older node (it runs Tandem 9.0.0)"),
        "{answer}"
    );

    // Nothing listens here any more.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let closed_url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let body = json!({"to": closed_url, "mode": "basic", "local_name": "a", "remote_name": "b"});
    let (status, answer) = initiate(&api, body).await;
    assert_eq!(status, 400, "{answer}");
    assert!(message(&answer).contains("is not reachable"), "{answer}");
    assert_eq!(count(&api).await, 0);
}

#[tokio::test]
async fn script_mode_needs_an_evaluation_or_paid_license() {
    let b = TestNode::start().await;
    // A node first started 40 days ago: its evaluation is over, it runs on Free.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    {
        use tandem_store::prelude::*;
        let store =
            tandem_store::sqlite::SqliteStore::open(&data.join("tandem.db"), Default::default())
                .unwrap();
        let then = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(40 * 24);
        store
            .set_setting("node.first_start", &then.to_string())
            .await
            .unwrap();
    }
    let free = TestNode::start_with(|c| c.data_dir = data.clone()).await;
    let api = free.api();
    let body = json!({"to": b.url, "mode": "script", "local_name": "a", "remote_name": "b"});
    let (status, answer) = initiate(&api, body).await;
    assert_eq!(status, 403, "{answer}");
    assert!(message(&answer).contains("Free"), "{answer}");
    assert_eq!(count(&api).await, 0);
    // Basic is allowed.
    let body = json!({"to": b.url, "mode": "basic", "local_name": "a", "remote_name": "b"});
    assert_eq!(initiate(&api, body).await.0, 201);
}

/// Signs a push to `/node/v1/messages` on the initiator as the acceptor would.
fn signed(
    keys: &ConnectionKeys,
    header_connection: Option<uuid::Uuid>,
    body: &[u8],
) -> Vec<(&'static str, String)> {
    signed_for("/node/v1/messages", keys, header_connection, body)
}

/// Signs a request to `path` on the initiator as the acceptor would; with `header_connection`,
/// names that connection in the headers instead of the one signed for.
pub(crate) fn signed_for(
    path: &str,
    keys: &ConnectionKeys,
    header_connection: Option<uuid::Uuid>,
    body: &[u8],
) -> Vec<(&'static str, String)> {
    let nonce = Nonce::random().unwrap();
    let headers = sign_request(
        &keys.outgoing,
        keys.connection_id,
        "POST",
        path,
        jiff::Timestamp::now(),
        &nonce,
        body,
    )
    .unwrap();
    let mut pairs: Vec<_> = headers
        .pairs()
        .iter()
        .map(|(k, v)| (*k, v.to_string()))
        .collect();
    if let Some(other) = header_connection {
        pairs[0].1 = other.to_string();
    }
    pairs
}

async fn push(url: &str, headers: &[(&'static str, String)], body: &[u8]) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .post(format!("{url}/node/v1/messages"))
        .header("content-type", "application/json")
        .body(body.to_vec());
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    crate::common::read(req.send().await.unwrap()).await
}

#[tokio::test]
async fn forged_replayed_and_misaddressed_node_requests_are_refused() {
    let (a, b) = (TestNode::start().await, TestNode::start().await);
    let (api_a, api_b) = (a.api(), b.api());
    let code = code_for(&api_a, &b.url, "basic", "first").await;
    assert_eq!(accept(&api_b, &code).await.0, 201);
    let code2 = code_for(&api_a, &b.url, "basic", "second").await;
    assert_eq!(accept(&api_b, &code2).await.0, 201);

    // The test holds the codes, so it can sign as B does.
    let acceptor_id = connection(&api_a, "first").await["remote"]["node_id"]
        .as_str()
        .unwrap()
        .parse::<uuid::Uuid>()
        .unwrap();
    let derive = |code: &str| {
        let invitation = Invitation::decode(code).unwrap();
        ConnectionKeys::derive(
            &invitation.secret_hash(),
            invitation.connection_id,
            invitation.initiator_node_id,
            acceptor_id,
            Role::Acceptor,
        )
    };
    let (first, second) = (derive(&code), derive(&code2));
    let body = br#"{"messages":[]}"#;

    // Genuine, once.
    let headers = signed(&first, None, body);
    let (status, answer) = push(&a.url, &headers, body).await;
    assert_eq!(status, 200, "{answer}");
    // The same request again.
    let (status, answer) = push(&a.url, &headers, body).await;
    assert_eq!(status, 401, "{answer}");
    assert!(message(&answer).contains("replay"), "{answer}");
    // Altered body under a genuine signature.
    let headers = signed(&first, None, body);
    let altered = br#"{"messages":[{"seq":1,"kind":"control","payload":{"event":"deleted"}}]}"#;
    let (status, answer) = push(&a.url, &headers, altered).await;
    assert_eq!(status, 401, "{answer}");
    assert!(message(&answer).contains("signature"), "{answer}");
    // Forged: a key that is not the connection's.
    let forged = ConnectionKeys {
        connection_id: first.connection_id,
        outgoing: tandem_protocol::RequestKey::from_bytes([7; 32]),
        incoming: tandem_protocol::RequestKey::from_bytes([8; 32]),
    };
    let (status, answer) = push(&a.url, &signed(&forged, None, body), body).await;
    assert_eq!(status, 401, "{answer}");
    assert!(message(&answer).contains("signature"), "{answer}");
    // Signed for the second connection, sent as the first.
    let headers = signed(&second, Some(first.connection_id), body);
    let (status, answer) = push(&a.url, &headers, body).await;
    assert_eq!(status, 401, "{answer}");
    assert!(message(&answer).contains("signature"), "{answer}");
    // A connection the node does not know.
    let headers = signed(&first, Some(uuid::Uuid::now_v7()), body);
    let (status, answer) = push(&a.url, &headers, body).await;
    assert_eq!(status, 401, "{answer}");
    assert!(message(&answer).contains("connection"), "{answer}");

    for name in ["first", "second"] {
        let c = connection(&api_a, name).await;
        assert_eq!(c["status"], "active", "no state change: {c}");
    }
}

#[tokio::test]
async fn the_mode_is_fixed_once_the_connection_exists() {
    let (a, b) = (TestNode::start().await, TestNode::start().await);
    let api = a.api();
    code_for(&api, &b.url, "basic", "fixed").await;
    let (status, body) = api
        .json(api.patch("/connections/fixed"), json!({"mode": "script"}))
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(message(&body).contains("create a new connection"), "{body}");
    let (status, body) = api
        .json(
            api.patch("/connections/fixed"),
            json!({"outgoing_script": "replica.summary = issue.summary"}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(message(&body).contains("cannot be edited"), "{body}");
    assert_eq!(connection(&api, "fixed").await["mode"], "basic");
}

#[tokio::test]
async fn a_destination_that_gives_a_wrong_url_for_itself_is_named_as_the_one_to_fix() {
    let a = TestNode::start().await;
    // Nothing listens at the URL B gives for itself.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let wrong = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let b = TestNode::start_with(|c| c.node_url = Some(wrong.clone())).await;
    let api = a.api();
    let body = json!({"to": b.url, "mode": "basic", "local_name": "a", "remote_name": "b"});
    let (status, answer) = initiate(&api, body).await;
    assert_eq!(status, 400, "{answer}");
    let said = message(&answer);
    assert!(
        said.contains(&format!("the node at {} (", b.url))
            && said.contains(&format!("gives {wrong} as its own node URL"))
            && said.contains("its admin should set its public URL"),
        "{answer}"
    );
    assert_eq!(count(&api).await, 0);
}

#[tokio::test]
async fn an_initiator_the_destination_cannot_reach_is_told_to_set_its_public_url() {
    let b = TestNode::start().await;
    // Nothing listens at the URL this node claims.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let claimed = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let a = TestNode::start_with(|c| c.node_url = Some(claimed.clone())).await;
    let api = a.api();
    let body = json!({"to": b.url, "mode": "basic", "local_name": "a", "remote_name": "b"});
    let (status, answer) = initiate(&api, body).await;
    assert_eq!(status, 400, "{answer}");
    let text = message(&answer);
    assert!(
        text.contains("must be public") && text.contains(&claimed),
        "{answer}"
    );
    assert_eq!(count(&api).await, 0);
}

#[tokio::test]
async fn a_remote_that_refuses_this_nodes_requests_puts_the_connection_in_error_with_the_reason() {
    let (a, b) = (TestNode::start().await, TestNode::start().await);
    let (api_a, api_b) = (a.api(), b.api());
    let code = code_for(&api_a, &b.url, "basic", "forgotten").await;
    assert_eq!(accept(&api_b, &code).await.0, 201);
    // B loses the connection without telling A (a restore from an old backup, say).
    let id: uuid::Uuid = connection(&api_b, "forgotten").await["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let store_b = b.node.as_ref().unwrap().state.store();
    store_b.delete_connection(id).await.unwrap();

    // A's next message is refused by B.
    let (status, _) = api_a
        .send(api_a.post("/connections/forgotten/activate"))
        .await;
    assert_eq!(status, 200);
    let on_a = eventually(&api_a, "forgotten", "A shows the refusal", |c| {
        c["status"] == "error"
    })
    .await;
    let reason = on_a["status_reason"].as_str().unwrap();
    assert!(
        reason.contains("authentication with the remote node failed")
            && reason.contains("no active connection with that id"),
        "{on_a}"
    );
}
