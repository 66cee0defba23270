//! `/api/v1/connections/{name}/…`: what operators check a connection with — its conflicts
//! (`conflicts`, newest first, in pages, and `conflicts/{id}/restore`) and reconciliation
//! (`verify`, with `"repair": true` to fix what can be fixed). The work is in
//! `crate::sync::{conflicts, verify}`; this file is the JSON.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use tandem_model::{Actor, ConflictRecord};

use crate::auth::ApiCaller;
use crate::connections;
use crate::error::ApiError;
use crate::state::AppState;
use crate::sync::conflicts;
use crate::sync::verify::{self, Reach, Repair, Report};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/connections/{name}/conflicts", get(list_conflicts))
        .route(
            "/connections/{name}/conflicts/{id}/restore",
            post(restore_conflict),
        )
        .route("/connections/{name}/verify", post(verify_connection))
}

/// A conflict as the API shows it: both values (JSON), which side's won, the value that lost.
pub fn conflict_json(c: &ConflictRecord) -> Value {
    let value = |text: &str| serde_json::from_str::<Value>(text).unwrap_or(Value::Null);
    json!({
        "id": c.id,
        "item": c.local_key.to_string(),
        "field": c.field,
        "local_value": value(&c.local_value),
        "remote_value": value(&c.remote_value),
        "kept": if c.kept_local { "local" } else { "remote" },
        "losing_value": value(c.losing_value()),
        "at": c.at.to_string(),
        "restored": c.restored.map(|at| at.to_string()),
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConflictPage {
    /// Conflicts with ids below this one (the `next` of the previous page).
    before: Option<i64>,
    #[serde(default = "default_limit")]
    limit: u32,
}

fn default_limit() -> u32 {
    50
}

async fn list_conflicts(
    _: ApiCaller,
    State(state): State<AppState>,
    Path(name): Path<String>,
    page: Result<Query<ConflictPage>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(page) = page.map_err(|e| {
        ApiError::BadRequest(format!(
            "the page is not understood ({e}): use ?before=<id>&limit=<1-{}>",
            conflicts::MAX_PAGE
        ))
    })?;
    let connection = connections::find(&state, &name).await?;
    let limit = page.limit.clamp(1, conflicts::MAX_PAGE);
    let list = conflicts::list(&state, &connection, page.before, limit).await?;
    let next = (list.len() == limit as usize)
        .then(|| list.last().map(|c| c.id))
        .flatten();
    Ok(axum::Json(json!({
        "connection": connection.name,
        "conflicts": list.iter().map(conflict_json).collect::<Vec<_>>(),
        "next": next,
    }))
    .into_response())
}

async fn restore_conflict(
    caller: ApiCaller,
    State(state): State<AppState>,
    Path((name, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let id: i64 = id
        .parse()
        .map_err(|_| ApiError::BadRequest(format!("'{id}' is not a conflict id (a number)")))?;
    let connection = connections::find(&state, &name).await?;
    let (conflict, item) =
        conflicts::restore(&state, &connection, id, &Actor::user(&caller.name)).await?;
    Ok(axum::Json(json!({
        "conflict": conflict_json(&conflict),
        "item": crate::api::wire::ItemJson::from(&item),
    }))
    .into_response())
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct VerifyRequest {
    #[serde(default)]
    repair: bool,
}

/// The report as JSON: `reach` says whether the remote was compared, and why not.
pub fn report_json(report: &Report) -> Value {
    let (reach, reason) = match &report.reach {
        Reach::Compared => ("both", None),
        Reach::LocalOnly(reason) => ("local_only", Some(reason.clone())),
    };
    let differences: Vec<Value> = report
        .differences
        .iter()
        .map(|d| {
            let repair = d.repair.as_ref().map(|r| match r {
                Repair::Resent => json!({"done": "resent"}),
                Repair::Relinked => json!({"done": "relinked"}),
                Repair::Flagged { error } => json!({"done": "flagged", "error": error}),
                Repair::Failed(why) => json!({"done": "failed", "reason": why}),
            });
            json!({
                "kind": d.kind.as_str(),
                "item": d.local_key.as_ref().map(ToString::to_string),
                "remote_key": d.remote_key,
                "detail": d.detail,
                "repair": repair,
            })
        })
        .collect();
    json!({
        "connection": report.connection,
        "twins": report.checked,
        "remote_twins": report.remote_checked,
        "reach": reach,
        "reach_reason": reason,
        "settled": report.settled,
        "differences": differences,
    })
}

async fn verify_connection(
    _: ApiCaller,
    State(state): State<AppState>,
    Path(name): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    // No body is `{"repair": false}`.
    let request: VerifyRequest = if body.iter().all(u8::is_ascii_whitespace) {
        VerifyRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            ApiError::BadRequest(format!(
                "the body is not understood ({e}): send {{\"repair\": true}} or nothing"
            ))
        })?
    };
    let connection = connections::find(&state, &name).await?;
    let report = verify::verify(&state, &connection, request.repair).await?;
    Ok(axum::Json(report_json(&report)).into_response())
}
