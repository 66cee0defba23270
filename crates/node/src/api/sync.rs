//! `/api/v1/sync`: bring an item under sync, see its twins, list sync errors.

use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use tandem_model::{ItemKey, Twin};

use crate::auth::ApiCaller;
use crate::connections;
use crate::error::{ApiError, ApiJson};
use crate::state::AppState;
use crate::sync::engine::{self, SyncFailure};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/sync/exalate", post(exalate))
        .route("/sync/status/{key}", get(status))
        .route("/sync/errors", get(errors))
}

impl From<SyncFailure> for ApiError {
    fn from(e: SyncFailure) -> Self {
        match e {
            SyncFailure::Store(s) => s.into(),
            other => ApiError::BadRequest(other.to_string()),
        }
    }
}

fn key(raw: &str) -> Result<ItemKey, ApiError> {
    raw.parse()
        .map_err(|_| ApiError::BadRequest(format!("'{raw}' is not an item key (like SUP-12)")))
}

fn twin_json(t: &Twin, connection: &str) -> serde_json::Value {
    serde_json::json!({
        "connection": connection,
        "local_key": t.local_key.to_string(),
        "remote_key": t.remote_key,
        "last_sync": t.last_sync.map(|at| at.to_string()),
        "state": t.state.as_str(),
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ItemOnConnection {
    connection: String,
    item: String,
}

async fn exalate(
    _: ApiCaller,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<ItemOnConnection>,
) -> Result<Response, ApiError> {
    let connection = connections::find(&state, &body.connection).await?;
    let twin = engine::exalate(&state, &connection, &key(&body.item)?).await?;
    Ok(axum::Json(serde_json::json!({"twin": twin_json(&twin, &connection.name)})).into_response())
}

async fn status(
    _: ApiCaller,
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    let key = key(&raw)?;
    if state.store().item(&key).await?.is_none() {
        return Err(ApiError::NotFound(format!("there is no item {key}")));
    }
    let mut twins = Vec::new();
    for twin in state.store().twins_of_item(&key).await? {
        let name = state
            .store()
            .connection(twin.connection_id)
            .await?
            .map_or_else(|| twin.connection_id.to_string(), |c| c.name);
        twins.push(twin_json(&twin, &name));
    }
    Ok(axum::Json(serde_json::json!({"item": key.to_string(), "twins": twins})).into_response())
}

async fn errors(_: ApiCaller, State(state): State<AppState>) -> Result<Response, ApiError> {
    let errors: Vec<_> = state
        .store()
        .sync_errors(false, 500)
        .await?
        .into_iter()
        .map(|e| {
            serde_json::json!({
                "id": e.id,
                "impact": e.impact.as_str(),
                "connection_id": e.connection_id,
                "local_key": e.local_key.map(|k| k.to_string()),
                "remote_key": e.remote_key,
                "at": e.at.to_string(),
                "message": e.message,
                "script_trace": e.script_trace,
            })
        })
        .collect();
    Ok(axum::Json(serde_json::json!({"errors": errors})).into_response())
}
