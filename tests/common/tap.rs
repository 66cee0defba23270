//! A TCP proxy in front of a node, for tests that play a party on the path: it keeps a copy of
//! every request, and can drop the node's answers (the caller sees its connection closed after
//! the node acted on the request).

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use super::TestNode;

/// A TCP proxy that logs every request it passes on (as a proxy's body log would) and, while
/// `swallow` is on, drops the node's answers: the caller sees its connection closed after the
/// node acted on the request. Turning it on drops the connections open before.
pub struct Tap {
    pub url: String,
    target: Arc<AtomicU16>,
    pub swallow: watch::Sender<bool>,
    log: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl Tap {
    pub async fn start() -> Tap {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let target = Arc::new(AtomicU16::new(0));
        let log = Arc::new(Mutex::new(Vec::new()));
        let (swallow, swallowing) = watch::channel(false);
        let (to, logs) = (target.clone(), log.clone());
        tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let port = to.load(Ordering::SeqCst);
                let mut swallowing = swallowing.clone();
                let log = logs.clone();
                tokio::spawn(async move {
                    let Ok(outbound) = TcpStream::connect(("127.0.0.1", port)).await else {
                        return;
                    };
                    let index = {
                        let mut log = log.lock().unwrap();
                        log.push(Vec::new());
                        log.len() - 1
                    };
                    let (mut in_read, mut in_write) = inbound.into_split();
                    let (mut out_read, mut out_write) = outbound.into_split();
                    let upstream = async {
                        let mut buf = [0u8; 8192];
                        loop {
                            let n = match in_read.read(&mut buf).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => n,
                            };
                            log.lock().unwrap()[index].extend_from_slice(&buf[..n]);
                            if out_write.write_all(&buf[..n]).await.is_err() {
                                return;
                            }
                        }
                    };
                    if *swallowing.borrow_and_update() {
                        let mut answer = [0u8; 1];
                        tokio::select! {
                            _ = upstream => {}
                            // The node has answered, so it has acted: drop the answer.
                            _ = out_read.read(&mut answer) => {}
                        }
                    } else {
                        tokio::select! {
                            _ = upstream => {}
                            _ = tokio::io::copy(&mut out_read, &mut in_write) => {}
                            // Turning swallowing on drops the connections open before, so
                            // no answer slips through on a kept-alive one.
                            _ = swallowing.wait_for(|on| *on) => {}
                        }
                    }
                });
            }
        });
        Tap {
            url,
            target,
            swallow,
            log,
        }
    }

    pub fn forward_to(&self, node: &TestNode) {
        let port: u16 = node.url.rsplit(':').next().unwrap().parse().unwrap();
        self.target.store(port, Ordering::SeqCst);
    }

    /// The JSON bodies of the requests that passed whose request line starts with `start`
    /// (such as `POST /node/v1/accept `), oldest first.
    pub fn bodies(&self, start: &str) -> Vec<Value> {
        let log = self.log.lock().unwrap();
        let mut found = Vec::new();
        for stream in log.iter() {
            let mut rest = &stream[..];
            while let Some(at) = find(rest, start.as_bytes()) {
                rest = &rest[at..];
                let Some(head_end) = find(rest, b"\r\n\r\n") else {
                    break;
                };
                let head = String::from_utf8_lossy(&rest[..head_end]).to_ascii_lowercase();
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse().ok())
                    .expect("the request has a content length");
                let body = &rest[head_end + 4..][..length];
                found.push(serde_json::from_slice(body).expect("the body is JSON"));
                rest = &rest[head_end + 4 + length..];
            }
        }
        found
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
