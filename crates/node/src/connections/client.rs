//! Calls to other nodes: node info, the reachability probe, the accept handshake, and signed
//! requests on a connection (push and poll).

use jiff::Timestamp;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tandem_protocol::{
    ConnectionKeys, Nonce, SignedResponseHeaders, sign_request, verify_response,
};

use super::NodeInfo;
use super::wire::{self, INFO_PATH};
use crate::outbound::PeerClient;

/// Why a call to another node failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CallError {
    /// No answer: connection refused, DNS, timeout, TLS.
    #[error("not reachable ({0})")]
    Unreachable(String),
    /// The node answered with an error; its message.
    #[error("{message}")]
    Refused { status: u16, message: String },
    /// Something answered, but not as a Tandem node does.
    #[error("{0}")]
    NotTandem(String),
    /// A Tandem node of a protocol version this node does not speak (its description may not
    /// even read as this version's): what it said of itself.
    #[error("{0}")]
    Incompatible(String),
    /// The answer's signature does not verify: not the node the connection was made with.
    #[error("the answer is not signed with this connection's key: {0}")]
    BadSignature(String),
    /// The address policy refused the URL ([`crate::outbound`]): no call was made.
    #[error("{0}")]
    NotAllowed(String),
    /// This node could not do its part (its database failed): nothing the remote did.
    #[error("this node's database: {0}")]
    ThisNode(String),
}

impl From<crate::outbound::Refusal> for CallError {
    fn from(e: crate::outbound::Refusal) -> Self {
        CallError::NotAllowed(e.to_string())
    }
}

impl CallError {
    /// The remote refused because of authentication (signature, unknown connection).
    pub fn is_auth(&self) -> bool {
        matches!(self, CallError::Refused { status, .. } if matches!(status, 401 | 403 | 404 | 410))
            || matches!(self, CallError::BadSignature(_))
    }
}

/// `base` + `path`, without doubling the slash.
pub fn join(base: &str, path: &str) -> String {
    format!("{}{path}", base.trim_end_matches('/'))
}

fn unreachable(e: reqwest::Error) -> CallError {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(inner) = source {
        // The resolver refused every address the name has.
        if let Some(refusal) = inner.downcast_ref::<crate::outbound::Refusal>() {
            return CallError::NotAllowed(refusal.to_string());
        }
        text = inner.to_string();
        source = inner.source();
    }
    if e.is_timeout() {
        text = "no answer in time".into();
    }
    CallError::Unreachable(text)
}

/// Reads an answer's body as it arrives, and stops (dropping the connection) as soon as it
/// is over `limit` bytes: whatever the far end sends, this node holds at most `limit`.
async fn read_body(mut response: reqwest::Response, limit: usize) -> Result<Vec<u8>, CallError> {
    let too_large = || {
        CallError::NotTandem(format!(
            "the answer is too large (over {limit} bytes, the most this node reads for it)"
        ))
    };
    if response.content_length().is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(unreachable)? {
        if bytes.len() + chunk.len() > limit {
            return Err(too_large());
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// The message of an error answer in the API's shape, or a description of what came back.
fn error_message(status: u16, bytes: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct Body {
        error: Inner,
    }
    #[derive(serde::Deserialize)]
    struct Inner {
        message: String,
    }
    match serde_json::from_slice::<Body>(bytes) {
        Ok(b) => b.error.message,
        Err(_) => format!("it answered HTTP {status} without a Tandem error message"),
    }
}

fn parse<T: DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, CallError> {
    serde_json::from_slice(bytes)
        .map_err(|e| CallError::NotTandem(format!("its answer to {what} is not understood: {e}")))
}

/// `GET {base}/node/v1/info`.
pub async fn fetch_info(http: &PeerClient, base: &str) -> Result<NodeInfo, CallError> {
    fetch_info_asking(http, base, None).await
}

/// `GET {base}/node/v1/info?tracker={tracker}`: the node info, with whether the node serves
/// the tracker at that URL.
pub async fn fetch_info_serving(
    http: &PeerClient,
    base: &str,
    tracker: &str,
) -> Result<NodeInfo, CallError> {
    fetch_info_asking(http, base, Some(tracker)).await
}

async fn fetch_info_asking(
    http: &PeerClient,
    base: &str,
    tracker: Option<&str>,
) -> Result<NodeInfo, CallError> {
    let mut request = http.get(&join(base, INFO_PATH))?;
    if let Some(tracker) = tracker {
        request = request.query(&[("tracker", tracker)]);
    }
    let response = request
        .timeout(std::time::Duration::from_secs(10))
        .send()
        .await
        .map_err(unreachable)?;
    let status = response.status().as_u16();
    let bytes = read_body(response, wire::MAX_SMALL_BODY).await?;
    if status != 200 {
        return Err(CallError::NotTandem(format!(
            "it answered HTTP {status} where a Tandem node describes itself"
        )));
    }
    // The product and protocol first: a node of another version may describe itself in a
    // shape this version does not read, and should be told apart from what is not Tandem.
    let loose: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    if loose["product"] == "tandem"
        && let Some(protocol) = loose["protocol"].as_u64()
        && protocol != u64::from(wire::PROTOCOL)
    {
        let text = |key: &str| loose[key].as_str().unwrap_or("unknown").to_owned();
        // Nodes no longer say their software version publicly; older ones did.
        let runs = loose["version"]
            .as_str()
            .map(|v| format!(" (it runs Tandem {v})"))
            .unwrap_or_default();
        return Err(CallError::Incompatible(format!(
            "the Tandem node there ({}) speaks protocol version {protocol} and this node speaks version {}: update the older node{runs}",
            text("name"),
            wire::PROTOCOL,
        )));
    }
    let info: NodeInfo = serde_json::from_slice(&bytes).map_err(|_| {
        CallError::NotTandem("it answered, but not with a Tandem node's description".into())
    })?;
    if info.product != "tandem" {
        return Err(CallError::NotTandem(
            "it answered, but not as a Tandem node".into(),
        ));
    }
    Ok(info)
}

/// Posts JSON without a connection signature (probe, accept); returns status and body (at
/// most [`wire::MAX_SMALL_BODY`]).
pub async fn post_json(
    http: &PeerClient,
    base: &str,
    path: &str,
    value: &impl Serialize,
) -> Result<(u16, Vec<u8>, reqwest::header::HeaderMap), CallError> {
    let response = http
        .post(&join(base, path))?
        .json(value)
        .send()
        .await
        .map_err(unreachable)?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    Ok((
        status,
        read_body(response, wire::MAX_SMALL_BODY).await?,
        headers,
    ))
}

/// `POST {base}/node/v1/probe`: whether `base`'s node can reach `url`.
pub async fn probe(
    http: &PeerClient,
    base: &str,
    url: &str,
) -> Result<wire::ProbeAnswer, CallError> {
    let (status, bytes, _) = post_json(
        http,
        base,
        wire::PROBE_PATH,
        &wire::ProbeRequest { url: url.into() },
    )
    .await?;
    if status != 200 {
        return Err(CallError::Refused {
            status,
            message: error_message(status, &bytes),
        });
    }
    parse(&bytes, "the reachability check")
}

/// The accept handshake: posts the proof; returns the initiator's answer once its signature
/// verifies with the connection's keys.
pub async fn accept(
    http: &PeerClient,
    base: &str,
    request: &wire::AcceptRequest,
    keys: &ConnectionKeys,
    nonce: &Nonce,
) -> Result<wire::AcceptAnswer, CallError> {
    let (status, bytes, headers) = post_json(http, base, wire::ACCEPT_PATH, request).await?;
    if status != 200 {
        return Err(CallError::Refused {
            status,
            message: error_message(status, &bytes),
        });
    }
    check_signature(&headers, keys, nonce, status, &bytes)?;
    parse(&bytes, "the acceptance")
}

fn check_signature(
    headers: &reqwest::header::HeaderMap,
    keys: &ConnectionKeys,
    nonce: &Nonce,
    status: u16,
    bytes: &[u8],
) -> Result<(), CallError> {
    let signed =
        SignedResponseHeaders::from_lookup(|name| headers.get(name).and_then(|v| v.to_str().ok()))
            .map_err(|e| CallError::BadSignature(e.to_string()))?;
    verify_response(
        &keys.incoming,
        keys.connection_id,
        nonce,
        status,
        bytes,
        &signed,
        Timestamp::now(),
    )
    .map_err(|e| CallError::BadSignature(e.to_string()))
}

/// A request on a connection, signed with this node's outgoing key; the answer must be signed
/// with the remote's.
pub async fn signed_post<T: DeserializeOwned>(
    http: &PeerClient,
    base: &str,
    path: &'static str,
    keys: &ConnectionKeys,
    value: &impl Serialize,
) -> Result<T, CallError> {
    let body = serde_json::to_vec(value)
        .map_err(|e| CallError::NotTandem(format!("cannot encode the request: {e}")))?;
    let nonce = Nonce::random().map_err(|e| CallError::Unreachable(e.to_string()))?;
    let headers = sign_request(
        &keys.outgoing,
        keys.connection_id,
        "POST",
        path,
        Timestamp::now(),
        &nonce,
        &body,
    )
    .map_err(|e| CallError::NotTandem(e.to_string()))?;
    let mut request = http
        .post(&join(base, path))?
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body);
    for (name, value) in headers.pairs() {
        request = request.header(name, value);
    }
    let response = request.send().await.map_err(unreachable)?;
    let status = response.status().as_u16();
    let response_headers = response.headers().clone();
    // Only a poll's answer carries messages, and a page of twins is larger than the rest;
    // an acknowledgement or an error is small.
    let limit = match path {
        wire::POLL_PATH if status == 200 => wire::MAX_BATCH_BODY,
        wire::TWINS_PATH if status == 200 => wire::MAX_TWINS_BODY,
        _ => wire::MAX_SMALL_BODY,
    };
    let bytes = read_body(response, limit).await?;
    if status != 200 {
        return Err(CallError::Refused {
            status,
            message: error_message(status, &bytes),
        });
    }
    check_signature(&response_headers, keys, &nonce, status, &bytes)?;
    parse(&bytes, path)
}
