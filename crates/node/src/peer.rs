//! The routes other nodes call, under `/node/v1`: no console session, no API token.
//!
//! - `GET /info` and `POST /probe` are public: a node describes itself (not its software version
//!   nor the URL of the ServiceNow instance it serves: `?tracker=<url>` only answers whether it
//!   serves that one), and says whether it can
//!   reach a URL (so an initiator learns whether the destination can call it back). The probe
//!   only ever fetches `<url>/node/v1/info` and answers with the id found there.
//! - `POST /accept` carries the acceptor's proof that it holds the invitation code and its node
//!   key's signature, both over the whole body; the answer is signed with the connection's key.
//! - `POST /messages` and `POST /poll` must be signed with the connection's key, fresh (5
//!   minutes) and never seen before (nonces are kept in the database); everything else is
//!   refused with 401 and logged, without the request's secrets.

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use jiff::Timestamp;
use tandem_model::{ConnectionRole, ConnectionStatus};
use tandem_protocol::{ConnectionKeys, Nonce, SignedHeaders, sign_response, verify_request};
use uuid::Uuid;

use crate::connections::wire::{self, PROTOCOL};
use crate::connections::{self, NodeInfo, client};
use crate::error::{ApiError, ApiJson};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/info", get(info))
        .route("/probe", post(probe))
        .route("/accept", post(accept))
        // A batch may carry attachments (up to 25 MB each, one alone when larger than a batch).
        .route(
            "/messages",
            post(messages).layer(axum::extract::DefaultBodyLimit::max(
                tandem_model::MAX_ATTACHMENT * 2 + crate::connections::BATCH_BYTES,
            )),
        )
        .route("/poll", post(poll))
        .fallback(|| async {
            ApiError::NotFound("there is no node-to-node route at this address".into())
        })
}

/// This node's public description.
pub fn node_info(state: &AppState) -> NodeInfo {
    let settings = state.settings();
    NodeInfo {
        product: "tandem".into(),
        protocol: PROTOCOL,
        node_id: state.identity().id,
        name: settings.name,
        serves_tracker: None,
        node_url: settings.node_url,
        tracker: settings.tracker.as_str().into(),
        tracker_label: settings.tracker.label().into(),
        public_key: state.identity().public_key_base64(),
    }
}

/// The URL of the tracker this node serves: its ServiceNow instance, or for the built-in
/// tracker the node itself.
pub fn tracker_url(state: &AppState) -> String {
    match state.servicenow_config() {
        Some(sn) => sn.instance_url,
        None => state.settings().node_url,
    }
}

#[derive(serde::Deserialize)]
struct InfoQuery {
    /// A tracker URL: the answer says whether this node serves it.
    tracker: Option<String>,
}

/// The node's public description; with `?tracker=<url>`, also whether it serves that tracker
/// (so a node that knows the URL finds the node serving it, and nobody learns it from here).
async fn info(
    State(state): State<AppState>,
    query: Result<Query<InfoQuery>, QueryRejection>,
) -> Response {
    let mut info = node_info(&state);
    if let Ok(Query(InfoQuery {
        tracker: Some(asked),
    })) = query
    {
        let own = connections::normalize_url(&tracker_url(&state));
        let asked = connections::normalize_url(&asked);
        info.serves_tracker = Some(matches!((own, asked), (Ok(own), Ok(asked)) if own == asked));
    }
    axum::Json(info).into_response()
}

/// What the probe answers whenever no Tandem node answered, whatever the reason: it tells
/// nothing of what else may listen there (a closed port, a database, a web server and an
/// address this node does not call all read the same).
pub const PROBE_NO_NODE: &str = "no Tandem node answered there (this node does not say why: check that the URL is public and the node runs)";

async fn probe(
    State(state): State<AppState>,
    client_address: Option<axum::Extension<axum::extract::ConnectInfo<std::net::SocketAddr>>>,
    ApiJson(request): ApiJson<wire::ProbeRequest>,
) -> Result<Response, ApiError> {
    // Without the peer's address (a server not started by `start`), one budget for all.
    let ip = client_address.map_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), |a| {
        a.0.0.ip()
    });
    if !state.may_probe(ip) {
        tracing::warn!(client = %ip, "Refused a probe: too many from this address.");
        return Err(ApiError::TooManyRequests {
            message: "too many reachability checks from this address: try again in a minute"
                .into(),
            retry_after: Some(60),
        });
    }
    let url = connections::normalize_node_url(request.url.trim())
        .map_err(|problem| ApiError::BadRequest(format!("the URL to probe {problem}")))?;
    let answer = match client::fetch_info(state.http(), &url).await {
        Ok(info) => wire::ProbeAnswer {
            node_id: Some(info.node_id),
            problem: None,
        },
        Err(e) => {
            tracing::debug!(url = %url, reason = %e, "A probe found no node.");
            wire::ProbeAnswer {
                node_id: None,
                problem: Some(PROBE_NO_NODE.into()),
            }
        }
    };
    Ok(axum::Json(answer).into_response())
}

/// The initiator's half of the handshake.
async fn accept(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<wire::AcceptRequest>,
) -> Result<Response, ApiError> {
    let id = request.connection_id;
    let refuse = |e: ApiError| {
        tracing::warn!(connection = %id, reason = %e, "Refused an acceptance.");
        e
    };
    if request.protocol != PROTOCOL {
        return Err(refuse(ApiError::BadRequest(format!(
            "this node speaks protocol {PROTOCOL} and the acceptance is protocol {}: update the older node",
            request.protocol
        ))));
    }
    // Checked before anything changes: the answer is signed for it.
    let nonce = Nonce::parse(&request.nonce)
        .map_err(|e| refuse(ApiError::BadRequest(format!("the acceptance's nonce: {e}"))))?;
    let (connection, keys, answer) = connections::accepted(&state, &request)
        .await
        .map_err(|e| refuse(e.into()))?;
    tracing::info!(
        connection = %connection.id,
        name = %connection.name,
        remote = %request.acceptor.name,
        "Invitation accepted: the connection is active."
    );
    signed_answer(&keys, &nonce, &answer)
}

/// Checks a signed request on a connection: the connection exists and is past Pending, the
/// signature verifies with its key, the request is fresh and its nonce new.
async fn verified(
    state: &AppState,
    headers: &HeaderMap,
    path: &'static str,
    body: &[u8],
) -> Result<(tandem_model::Connection, ConnectionKeys, Nonce), ApiError> {
    let refuse = |connection: &str, reason: String| {
        tracing::warn!(connection, path, reason = %reason, "Refused a node-to-node request.");
        ApiError::Unauthorized(reason)
    };
    let signed = SignedHeaders::from_lookup(|name| headers.get(name).and_then(|v| v.to_str().ok()))
        .map_err(|e| refuse("-", e.to_string()))?;
    let id = Uuid::try_parse(&signed.connection).map_err(|_| {
        refuse(
            "-",
            "the Tandem-Connection header is not a connection id".into(),
        )
    })?;
    let connection = match state.store().connection(id).await? {
        Some(c) if c.role != ConnectionRole::Local && c.status != ConnectionStatus::Pending => c,
        _ => {
            return Err(refuse(
                &signed.connection,
                "this node has no active connection with that id (it was deleted here, or never accepted)".into(),
            ));
        }
    };
    let keys = connections::keys(state, &connection)
        .map_err(|e| refuse(&signed.connection, e.to_string()))?;
    let now = Timestamp::now();
    let request = verify_request(&keys.incoming, id, "POST", path, body, &signed, now)
        .map_err(|e| refuse(&signed.connection, e.to_string()))?;
    let fresh = state
        .store()
        .remember_nonce(id, request.nonce.as_str(), request.keep_nonce_until, now)
        .await?;
    if !fresh {
        return Err(refuse(
            &signed.connection,
            "this request was already received once (a replay)".into(),
        ));
    }
    Ok((connection, keys, request.nonce))
}

async fn messages(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (connection, keys, nonce) = verified(&state, &headers, wire::MESSAGES_PATH, &body).await?;
    let batch: wire::MessageBatch = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("the message batch is not understood: {e}")))?;
    let acked = connections::receive(&state, &connection, batch.messages).await?;
    signed_answer(&keys, &nonce, &wire::BatchAck { acked })
}

async fn poll(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (connection, keys, nonce) = verified(&state, &headers, wire::POLL_PATH, &body).await?;
    let request: wire::PollRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("the poll is not understood: {e}")))?;
    let messages = connections::polled(&state, &connection, request.ack).await?;
    signed_answer(&keys, &nonce, &wire::PollAnswer { messages })
}

/// A 200 JSON answer signed with this node's outgoing key for the request's nonce.
fn signed_answer(
    keys: &ConnectionKeys,
    nonce: &Nonce,
    value: &impl serde::Serialize,
) -> Result<Response, ApiError> {
    let body = serde_json::to_vec(value).map_err(|e| ApiError::Internal(e.to_string()))?;
    let signed = sign_response(
        &keys.outgoing,
        keys.connection_id,
        nonce,
        200,
        Timestamp::now(),
        &body,
    );
    let mut response = (
        StatusCode::OK,
        [(
            axum::http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response();
    for (name, value) in signed.pairs() {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            response.headers_mut().insert(name, value);
        }
    }
    Ok(response)
}
