//! The routes other nodes call, under `/node/v1`: no console session, no API token.
//!
//! - `GET /info` and `POST /probe` are public: a node describes itself (not its software version
//!   nor the URL of the ServiceNow instance it serves: `?tracker=<url>` only answers whether it
//!   serves that one), and says whether it can
//!   reach a URL (so an initiator learns whether the destination can call it back). The probe
//!   only ever fetches `<url>/node/v1/info` and answers with the id found there.
//! - `POST /accept` carries the acceptor's proof that it holds the invitation code and its node
//!   key's signature, both over the whole body; the answer is signed with the connection's key.
//! - `POST /messages`, `POST /poll` and `POST /twins` (a page of this node's twins of the
//!   connection, for `tandem sync verify` on the other side) must be signed with the connection's key, fresh (5
//!   minutes) and never seen before (nonces are kept in the database); everything else is
//!   refused with 401 and logged, without the request's secrets.
//!
//! Against clients without credentials: the signed headers, the connection and the clock are
//! checked before a body is read, and a body is read only up to its route's limit; at most
//! [`crate::config::HttpLimits::node_requests`] public and as many signed requests are handled
//! at once (more get 503);
//! refusal lines are written at most once a minute per source ([`crate::log_limit`]).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::error_handling::HandleErrorLayer;
use axum::extract::rejection::QueryRejection;
use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequestParts, Query, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http_body_util::BodyExt;
use jiff::Timestamp;
use tandem_model::{ConnectionRole, ConnectionStatus};
use tandem_protocol::{
    ConnectionKeys, Nonce, SignedHeaders, check_request_headers, sign_response, verify_request,
};
use uuid::Uuid;

use crate::connections::wire::{self, PROTOCOL};
use crate::connections::{self, NodeInfo, client};
use crate::error::{ApiError, ApiJson};
use crate::state::AppState;

/// The routes. The public ones (`info`, `probe`, `accept`) and the signed ones (`messages`,
/// `poll`) each handle at most `max_requests` at once and answer 503 past it, so probes
/// (which wait on another server) cannot starve deliveries.
pub fn router(max_requests: usize) -> Router<AppState> {
    // At most `max_requests` at once through every route a layer is on (its clones share one
    // semaphore); one more is answered 503 at once.
    let limit = || {
        let slots = Arc::new(tokio::sync::Semaphore::new(max_requests.max(1)));
        tower::ServiceBuilder::new()
            .layer(HandleErrorLayer::<_, ()>::new(|_: tower::BoxError| async {
                ApiError::Unavailable {
                    message: "this node is handling too many node-to-node requests: retry shortly"
                        .into(),
                    retry_after: 1,
                }
            }))
            .load_shed()
            .layer(tower::limit::GlobalConcurrencyLimitLayer::with_semaphore(
                slots,
            ))
    };
    let public = limit();
    let signed = limit();
    Router::new()
        .route("/info", get(info).layer(public.clone()))
        .route(
            "/probe",
            post(probe)
                .layer::<_, std::convert::Infallible>(DefaultBodyLimit::max(wire::MAX_SMALL_BODY))
                .layer(public.clone()),
        )
        .route(
            "/accept",
            post(accept)
                .layer::<_, std::convert::Infallible>(DefaultBodyLimit::max(wire::MAX_SMALL_BODY))
                .layer(public.clone()),
        )
        .route(
            "/decline",
            post(decline)
                .layer::<_, std::convert::Infallible>(DefaultBodyLimit::max(wire::MAX_SMALL_BODY))
                .layer(public),
        )
        // `messages` and `poll` read their bodies themselves, after checking the headers.
        .route("/messages", post(messages).layer(signed.clone()))
        .route("/poll", post(poll).layer(signed.clone()))
        .route("/twins", post(twins).layer(signed))
        .fallback(|| async {
            ApiError::NotFound("there is no node-to-node route at this address".into())
        })
}

/// The address a request came from, when the server knows it.
pub struct Source(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for Source {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Source(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip()),
        ))
    }
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
        modes: None,
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
    // The modes its plan allows, so that an initiator offers only those (the plan is public
    // anyway: an acceptance is refused by it).
    info.modes = connections::allowed_modes(&state).await.ok();
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
            message: "too many reachability checks from this address: try again in a minute".into(),
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
    Source(source): Source,
    ApiJson(request): ApiJson<wire::AcceptRequest>,
) -> Result<Response, ApiError> {
    let id = request.connection_id;
    let refuse = |e: ApiError| {
        if let Some(suppressed) = state.refusal_log("acceptance", source) {
            tracing::warn!(
                connection = %id,
                source = %display_source(source),
                reason = %e,
                suppressed,
                "Refused an acceptance."
            );
        }
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

fn display_source(source: Option<IpAddr>) -> String {
    source.map_or_else(|| "unknown".into(), |ip| ip.to_string())
}

/// A signed request on a connection, as far as it can be checked before its body.
struct Signed<'a> {
    state: &'a AppState,
    path: &'static str,
    source: Option<IpAddr>,
    headers: SignedHeaders,
    connection: tandem_model::Connection,
    keys: ConnectionKeys,
}

/// Refuses a node-to-node request with 401, logging why (at most once a minute per source).
fn refuse(
    state: &AppState,
    path: &'static str,
    source: Option<IpAddr>,
    connection: &str,
    reason: String,
) -> ApiError {
    if let Some(suppressed) = state.refusal_log("node request", source) {
        tracing::warn!(
            connection,
            path,
            source = %display_source(source),
            reason = %reason,
            suppressed,
            "Refused a node-to-node request."
        );
    }
    ApiError::Unauthorized(reason)
}

/// The checks that need no body: the signed headers are there and well formed, the connection
/// exists and is past Pending, and the request was signed within the clock skew allowed.
async fn signed<'a>(
    state: &'a AppState,
    headers: &HeaderMap,
    path: &'static str,
    source: Option<IpAddr>,
) -> Result<Signed<'a>, ApiError> {
    let refuse = |connection: &str, reason: String| refuse(state, path, source, connection, reason);
    let signed = SignedHeaders::from_lookup(|name| headers.get(name).and_then(|v| v.to_str().ok()))
        .map_err(|e| refuse("-", e.to_string()))?;
    let id = Uuid::try_parse(&signed.connection).map_err(|_| {
        refuse(
            "-",
            "the Tandem-Connection header is not a connection id".into(),
        )
    })?;
    check_request_headers(id, &signed, Timestamp::now())
        .map_err(|e| refuse(&signed.connection, e.to_string()))?;
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
    Ok(Signed {
        state,
        path,
        source,
        headers: signed,
        connection,
        keys,
    })
}

impl Signed<'_> {
    /// The rest: the signature over `body` verifies with the connection's key, and the nonce is
    /// new.
    async fn verify(
        self,
        body: &[u8],
    ) -> Result<(tandem_model::Connection, ConnectionKeys, Nonce), ApiError> {
        let Signed {
            state,
            path,
            source,
            headers,
            connection,
            keys,
        } = self;
        let refuse = |reason: String| refuse(state, path, source, &headers.connection, reason);
        let now = Timestamp::now();
        let request = verify_request(
            &keys.incoming,
            connection.id,
            "POST",
            path,
            body,
            &headers,
            now,
        )
        .map_err(|e| refuse(e.to_string()))?;
        let fresh = state
            .store()
            .remember_nonce(
                connection.id,
                request.nonce.as_str(),
                request.keep_nonce_until,
                now,
            )
            .await?;
        if !fresh {
            return Err(refuse(
                "this request was already received once (a replay)".into(),
            ));
        }
        Ok((connection, keys, request.nonce))
    }
}

/// A signed request's body, once its headers checked out: at most `limit` bytes (a larger
/// `Content-Length` is refused before reading), streamed under the body timeout.
async fn read_body(headers: &HeaderMap, body: Body, limit: usize) -> Result<Bytes, ApiError> {
    let too_large = || {
        ApiError::PayloadTooLarge(format!(
            "the request body is over {limit} bytes, the most this route takes"
        ))
    };
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    match http_body_util::Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) => Err(match crate::error::body_error(&*e) {
            ApiError::PayloadTooLarge(_) => too_large(),
            other => other,
        }),
    }
}

/// An acceptor that cannot take this node's invitation says why; the Pending connection shows
/// it. Refused (401, nothing recorded) unless it proves it holds the code.
async fn decline(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<wire::DeclineRequest>,
) -> Result<Response, ApiError> {
    connections::declined(&state, &request).await?;
    Ok(axum::Json(serde_json::json!({})).into_response())
}

async fn messages(
    State(state): State<AppState>,
    Source(source): Source,
    request: Request,
) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    let signed = signed(&state, &parts.headers, wire::MESSAGES_PATH, source).await?;
    let body = read_body(&parts.headers, body, wire::MAX_BATCH_BODY).await?;
    let (connection, keys, nonce) = signed.verify(&body).await?;
    let batch: wire::MessageBatch = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("the message batch is not understood: {e}")))?;
    let acked = connections::receive(&state, &connection, batch.messages).await?;
    signed_answer(&keys, &nonce, &wire::BatchAck { acked })
}

async fn poll(
    State(state): State<AppState>,
    Source(source): Source,
    request: Request,
) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    let signed = signed(&state, &parts.headers, wire::POLL_PATH, source).await?;
    let body = read_body(&parts.headers, body, wire::MAX_SMALL_BODY).await?;
    let (connection, keys, nonce) = signed.verify(&body).await?;
    let request: wire::PollRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("the poll is not understood: {e}")))?;
    let messages = connections::polled(&state, &connection, request.ack).await?;
    signed_answer(&keys, &nonce, &wire::PollAnswer { messages })
}

/// A page of this node's twins of the connection the request is signed for (`tandem sync
/// verify` on the other side): only that connection's, whatever the body says.
async fn twins(
    State(state): State<AppState>,
    Source(source): Source,
    request: Request,
) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    let signed = signed(&state, &parts.headers, wire::TWINS_PATH, source).await?;
    let body = read_body(&parts.headers, body, wire::MAX_SMALL_BODY).await?;
    let (connection, keys, nonce) = signed.verify(&body).await?;
    let request: wire::TwinsRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("the twins request is not understood: {e}")))?;
    let page = crate::sync::verify::twins_page(&state, &connection, &request).await?;
    signed_answer(&keys, &nonce, &page)
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
