//! The Batch API (`POST /api/now/v1/batch`): several REST calls in one request, each run
//! through the emulator's own routes as if sent alone (same authentication, same faults), and
//! answered with its status, headers and base64 body. Only `v1` exists, as on ServiceNow.
//! pysnc sends `update_multiple`, `delete_multiple` and over-long queries this way.

use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Request, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde::Deserialize;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::AppState;
use super::error::ApiError;

/// Most calls one batch may carry.
pub const MAX_REQUESTS: usize = 1_000;
/// Largest body one call may answer with (ServiceNow's default output limit is 10 MB).
const MAX_OUTPUT: usize = 10 * 1024 * 1024;

#[derive(Debug, Deserialize)]
struct BatchRequest {
    batch_request_id: Option<Value>,
    rest_requests: Vec<RestRequest>,
}

#[derive(Debug, Deserialize)]
struct RestRequest {
    id: Value,
    method: String,
    url: String,
    #[serde(default)]
    headers: Vec<NameValue>,
    /// Base64.
    body: Option<String>,
    #[serde(default)]
    exclude_response_headers: bool,
}

#[derive(Debug, Deserialize)]
struct NameValue {
    name: String,
    value: String,
}

/// An id as ServiceNow echoes it: always a string.
fn id_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn bad(detail: impl Into<String>) -> ApiError {
    ApiError::bad_request("Invalid batch request", detail)
}

/// `POST /api/now/v1/batch`.
pub async fn batch(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let req: BatchRequest = serde_json::from_slice(&body).map_err(|e| {
        bad(format!(
            "the body must be {{\"batch_request_id\", \"rest_requests\": [{{\"id\", \"method\", \"url\", \"headers\", \"body\"}}]}}: {e}"
        ))
    })?;
    if req.rest_requests.len() > MAX_REQUESTS {
        return Err(bad(format!(
            "{} requests in one batch; the emulator takes at most {MAX_REQUESTS}",
            req.rest_requests.len()
        )));
    }
    let Some(app) = state.app.get().cloned() else {
        return Err(ApiError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "The emulator is starting",
            None,
        ));
    };
    let mut serviced = Vec::with_capacity(req.rest_requests.len());
    for item in req.rest_requests {
        let started = Instant::now();
        let response = match inner_request(&item, &headers) {
            Ok(request) => app
                .clone()
                .oneshot(request)
                .await
                .unwrap_or_else(|never| match never {}),
            Err(e) => e.into_response(),
        };
        let status = response.status();
        let response_headers: Vec<Value> = if item.exclude_response_headers {
            Vec::new()
        } else {
            response
                .headers()
                .iter()
                .filter_map(|(k, v)| Some(json!({ "name": k.as_str(), "value": v.to_str().ok()? })))
                .collect()
        };
        let bytes = axum::body::to_bytes(response.into_body(), MAX_OUTPUT)
            .await
            .unwrap_or_default();
        serviced.push(json!({
            "id": id_text(&item.id),
            "status_code": status.as_u16(),
            "status_text": status.canonical_reason().unwrap_or(""),
            "headers": response_headers,
            "body": base64::engine::general_purpose::STANDARD.encode(&bytes),
            "execution_time": started.elapsed().as_millis().to_string(),
        }));
    }
    Ok(axum::Json(json!({
        "batch_request_id": req.batch_request_id.as_ref().map(id_text).unwrap_or_default(),
        "serviced_requests": serviced,
        "unserviced_requests": [],
    }))
    .into_response())
}

/// One call of the batch as a request to the emulator: the batch's credentials and host
/// unless the call brings its own headers.
fn inner_request(item: &RestRequest, outer: &HeaderMap) -> Result<Request<Body>, ApiError> {
    let method = Method::from_bytes(item.method.to_ascii_uppercase().as_bytes()).map_err(|_| {
        bad(format!(
            "request {}: `{}` is not an HTTP method",
            id_text(&item.id),
            item.method
        ))
    })?;
    if !item.url.starts_with("/api/") || item.url.contains("/batch") {
        return Err(bad(format!(
            "request {}: the url must be a path under /api/ other than the Batch API, e.g. /api/now/table/incident",
            id_text(&item.id)
        )));
    }
    let body = match &item.body {
        Some(b) if !b.is_empty() => base64::engine::general_purpose::STANDARD
            .decode(b)
            .map_err(|e| {
                bad(format!(
                    "request {}: the body is not base64: {e}",
                    id_text(&item.id)
                ))
            })?,
        _ => Vec::new(),
    };
    let mut request = Request::builder()
        .method(method)
        .uri(&item.url)
        .body(Body::from(body))
        .map_err(|e| bad(format!("request {}: {e}", id_text(&item.id))))?;
    let h = request.headers_mut();
    for name in [header::AUTHORIZATION, header::HOST] {
        if let Some(v) = outer.get(&name) {
            h.insert(name, v.clone());
        }
    }
    for NameValue { name, value } in &item.headers {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            h.insert(n, v);
        }
    }
    Ok(request)
}
