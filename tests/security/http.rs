//! The HTTP edge: bodies, slow or idle clients and concurrency cannot exhaust a node's memory.
//!
//! The attacker here has no credentials at all, only a TCP connection to the node. Slow clients
//! are raw `TcpStream`s, so the test controls every byte and every pause.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::TestNode;

/// How long a test waits for something that should happen within a few seconds, on a busy
/// machine.
const DEADLINE: Duration = Duration::from_secs(30);

fn host(node: &TestNode) -> String {
    node.url.trim_start_matches("http://").to_owned()
}

/// How a raw connection ended, and what the node wrote on it before.
#[derive(Debug)]
enum Ended {
    /// The node closed (or reset) the connection.
    Closed(String),
    /// Still open at the deadline.
    StillOpen(String),
}

/// Reads until the node closes the connection, or the deadline.
async fn read_until_closed(reader: &mut (impl AsyncReadExt + Unpin), deadline: Duration) -> Ended {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let until = Instant::now() + deadline;
    loop {
        let left = until.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, reader.read(&mut buf)).await {
            Err(_) => return Ended::StillOpen(String::from_utf8_lossy(&got).into_owned()),
            Ok(Ok(0) | Err(_)) => return Ended::Closed(String::from_utf8_lossy(&got).into_owned()),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

/// Reads until the end of an answer's head (or the connection ends); `None` at the deadline.
async fn read_head(reader: &mut (impl AsyncReadExt + Unpin), deadline: Duration) -> Option<String> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let until = Instant::now() + deadline;
    loop {
        let left = until.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, reader.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0) | Err(_)) => return Some(String::from_utf8_lossy(&got).into_owned()),
            Ok(Ok(n)) => {
                got.extend_from_slice(&buf[..n]);
                if got.windows(4).any(|w| w == b"\r\n\r\n") {
                    return Some(String::from_utf8_lossy(&got).into_owned());
                }
            }
        }
    }
}

#[tokio::test]
async fn an_unsigned_50_mb_post_to_messages_is_refused_before_its_body_is_read() {
    let mut node = TestNode::start().await;
    let host = host(&node);
    let total: usize = 50 * 1024 * 1024;
    let stream = TcpStream::connect(&host).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let head = format!(
        "POST /node/v1/messages HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
         Content-Length: {total}\r\n\r\n"
    );
    writer.write_all(head.as_bytes()).await.unwrap();
    let sent = Arc::new(AtomicUsize::new(0));
    let counter = sent.clone();
    let sending = tokio::spawn(async move {
        let chunk = vec![b' '; 64 * 1024];
        while counter.load(Ordering::SeqCst) < total {
            if writer.write_all(&chunk).await.is_err() {
                break;
            }
            counter.fetch_add(chunk.len(), Ordering::SeqCst);
        }
    });

    let answer = read_head(&mut reader, Duration::from_secs(120))
        .await
        .expect("the node answers or closes the connection");
    let sent_then = sent.load(Ordering::SeqCst);
    sending.abort();
    // The node reads the headers, refuses, and never takes the body: what it sent is what fits
    // in the sockets' buffers, far from the 50 MB.
    assert!(
        sent_then < total / 2,
        "the node took {sent_then} of {total} bytes before answering: {answer:?}"
    );
    if !answer.is_empty() {
        assert!(
            answer.starts_with("HTTP/1.1 401") || answer.starts_with("HTTP/1.1 413"),
            "{answer}"
        );
    }
    node.stop().await;
}

#[tokio::test]
async fn a_declared_body_over_the_batch_limit_is_refused_without_reading_it() {
    let mut node = TestNode::start().await;
    let host = host(&node);
    let mut stream = TcpStream::connect(&host).await.unwrap();
    // Signed-looking headers for a connection that does not exist, and 1 GB announced.
    let head = format!(
        "POST /node/v1/messages HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
         Tandem-Connection: 0190a5b0-0000-7000-8000-000000000000\r\n\
         Tandem-Timestamp: 1\r\nTandem-Nonce: AAAAAAAAAAAAAAAAAAAAAA\r\n\
         Tandem-Signature: AAAA\r\nContent-Length: 1073741824\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let answer = read_head(&mut stream, DEADLINE)
        .await
        .expect("the node answers without waiting for the body");
    assert!(
        answer.starts_with("HTTP/1.1 401") || answer.starts_with("HTTP/1.1 413"),
        "{answer}"
    );
    node.stop().await;
}

/// A web server whose answer to anything is `200` and up to 100 MB of JSON-looking text, sent
/// as fast as the reader takes it; counts what it managed to send.
async fn endless_server() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let sent = Arc::new(AtomicUsize::new(0));
    let counter = sent.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                let _ = read_head(&mut stream, DEADLINE).await;
                let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{\"product\":\"tandem\",\"name\":\"";
                if stream.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let chunk = vec![b'a'; 64 * 1024];
                while counter.load(Ordering::SeqCst) < 100 * 1024 * 1024 {
                    if stream.write_all(&chunk).await.is_err() {
                        return;
                    }
                    counter.fetch_add(chunk.len(), Ordering::SeqCst);
                }
            });
        }
    });
    (url, sent)
}

#[tokio::test]
async fn the_probe_stops_reading_a_huge_answer_after_a_few_kilobytes() {
    let mut node = TestNode::start().await;
    let (target, sent) = endless_server().await;
    let started = Instant::now();
    let response = reqwest::Client::new()
        .post(format!("{}/node/v1/probe", node.url))
        .json(&serde_json::json!({ "url": target }))
        .timeout(DEADLINE)
        .send()
        .await
        .expect("the probe answers");
    let sent_then = sent.load(Ordering::SeqCst);
    let status = response.status().as_u16();
    let answer: serde_json::Value = response.json().await.unwrap();
    assert_eq!(status, 200, "{answer}");
    assert!(answer["node_id"].is_null(), "{answer}");
    // The probe says only that no node answered (never why: security::outbound).
    assert!(answer["problem"].is_string(), "{answer}");
    // What the far end could push before the node hung up is what the sockets buffer: a few
    // MB at most, not the 100 MB it had to send.
    assert!(
        sent_then < 16 * 1024 * 1024,
        "the probe let the far end send {sent_then} bytes ({answer}, {:?})",
        started.elapsed()
    );
    node.stop().await;
}

#[tokio::test]
async fn a_connection_that_never_finishes_its_headers_is_closed_after_the_header_timeout() {
    let mut node = TestNode::start_with(|config| {
        config.http.header_timeout = Duration::from_secs(1);
    })
    .await;
    let host = host(&node);
    let mut half = TcpStream::connect(&host).await.unwrap();
    half.write_all(format!("GET /healthz HTTP/1.1\r\nHost: {host}\r\nX-Slow: ").as_bytes())
        .await
        .unwrap();
    let mut silent = TcpStream::connect(&host).await.unwrap();
    for (name, stream) in [("half a head", &mut half), ("nothing", &mut silent)] {
        match read_until_closed(stream, DEADLINE).await {
            Ended::Closed(text) => assert!(
                text.is_empty() || text.starts_with("HTTP/1.1 408"),
                "a connection that sent {name}: {text}"
            ),
            Ended::StillOpen(text) => {
                panic!("a connection that sent {name} is still open after {DEADLINE:?}: {text}")
            }
        }
    }
    node.stop().await;
}

#[tokio::test]
async fn a_body_shorter_than_its_content_length_is_answered_408_after_the_body_timeout() {
    let mut node = TestNode::start_with(|config| {
        config.http.body_timeout = Duration::from_secs(1);
    })
    .await;
    let host = host(&node);
    let mut stream = TcpStream::connect(&host).await.unwrap();
    let head = format!(
        "POST /node/v1/probe HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
         Content-Length: 100\r\n\r\n{{\"url\":"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    match read_until_closed(&mut stream, DEADLINE).await {
        Ended::Closed(text) => assert!(text.starts_with("HTTP/1.1 408"), "{text}"),
        Ended::StillOpen(text) => panic!("still waiting for the body after {DEADLINE:?}: {text}"),
    }
    node.stop().await;
}

#[tokio::test]
async fn connections_over_the_cap_are_refused_and_the_node_answers_once_the_idlers_leave() {
    let cap = 4;
    let mut node = TestNode::start_with(|config| {
        config.http.max_connections = cap;
        // Idlers stay for the whole test unless the cap sends them away.
        config.http.header_timeout = Duration::from_secs(120);
    })
    .await;
    let host = host(&node);
    let mut idlers = Vec::new();
    for _ in 0..cap {
        idlers.push(TcpStream::connect(&host).await.unwrap());
    }
    // Accepted in the order they connected: this one is over the cap.
    let mut extra = TcpStream::connect(&host).await.unwrap();
    match read_until_closed(&mut extra, DEADLINE).await {
        Ended::Closed(text) => assert!(
            text.is_empty() || text.starts_with("HTTP/1.1 503"),
            "{text}"
        ),
        Ended::StillOpen(text) => {
            panic!("a connection over the cap of {cap} is still open after {DEADLINE:?}: {text}")
        }
    }
    drop(idlers);
    // The slots come back as the node notices the idlers left.
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let until = Instant::now() + DEADLINE;
    loop {
        let answer = client
            .get(format!("{}/healthz", node.url))
            .timeout(Duration::from_secs(5))
            .send()
            .await;
        match answer {
            Ok(response) if response.status() == 200 => break,
            other if Instant::now() > until => {
                panic!("the node does not answer /healthz once the idlers left: {other:?}")
            }
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    node.stop().await;
}

#[tokio::test]
async fn node_to_node_requests_over_the_concurrency_limit_are_answered_503() {
    let mut node = TestNode::start_with(|config| {
        config.http.node_requests = 1;
        config.http.body_timeout = Duration::from_secs(120);
    })
    .await;
    let host = host(&node);
    // One request in flight on /node/v1, waiting for the rest of its body.
    let mut slow = TcpStream::connect(&host).await.unwrap();
    slow.write_all(
        format!(
            "POST /node/v1/probe HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
             Content-Length: 100\r\n\r\n{{\"url\":"
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    // Once the node holds it, another /node/v1 request is shed; the rest of the node answers.
    let client = reqwest::Client::new();
    let until = Instant::now() + DEADLINE;
    loop {
        let status = client
            .get(format!("{}/node/v1/info", node.url))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
        if status == 503 {
            break;
        }
        assert!(
            Instant::now() < until,
            "/node/v1/info still answers {status} with a request in flight and a limit of 1"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let health = client
        .get(format!("{}/healthz", node.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    drop(slow);
    let until = Instant::now() + DEADLINE;
    while client
        .get(format!("{}/node/v1/info", node.url))
        .send()
        .await
        .unwrap()
        .status()
        != 200
    {
        assert!(Instant::now() < until, "/node/v1 never recovers");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    node.stop().await;
}
