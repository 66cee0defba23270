//! `/api/v1/connections/{name}/…`: what operators check a connection with — its conflicts
//! (`conflicts`, newest first, in pages, and `conflicts/{id}/restore`) and reconciliation
//! (`verify`, with `"repair": true` to fix what can be fixed). The work is in
//! `crate::sync::{conflicts, verify}`; this file is the JSON.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tandem_model::{Actor, ConflictRecord};

use crate::auth::ApiCaller;
use crate::connections;
use crate::error::ApiError;
use crate::state::AppState;
use crate::sync::conflicts;
use crate::sync::verify::{self, Reach, Repair, Report};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::connections::ConnectionName;
use crate::error::ApiErrorBody;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(list_conflicts))
        .routes(routes!(restore_conflict))
        .routes(routes!(verify_connection))
}

/// A conflict as the API shows it ([`conflict_json`]).
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // The shape of `conflict_json`, for the document.
struct ConflictJson {
    id: i64,
    item: String,
    field: String,
    local_value: Value,
    remote_value: Value,
    /// `local` or `remote`: whose value won.
    kept: String,
    /// The value that lost.
    losing_value: Value,
    at: String,
    /// When the losing value was written back, or null.
    restored: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // The shape of `list_conflicts`'s answer, for the document.
struct ConflictList {
    connection: String,
    /// Newest first.
    conflicts: Vec<ConflictJson>,
    /// The `before` of the next page, or null for the last.
    next: Option<i64>,
}

#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // The shape of `restore_conflict`'s answer, for the document.
struct Restored {
    conflict: ConflictJson,
    item: crate::api::wire::ItemJson,
}

/// The path parameter of a conflict's id.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // The path parameter, for the document.
struct ConflictId {
    id: i64,
}

/// What `verify` answers ([`report_json`]).
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // The shape of `report_json`, for the document.
struct VerifyReport {
    connection: String,
    /// Twins checked on this side.
    twins: u64,
    /// Twins checked on the remote; null when it was not compared.
    remote_twins: Option<u64>,
    /// `both`, or `local_only` when the remote could not be compared.
    reach: String,
    /// Why the remote was not compared.
    reach_reason: Option<String>,
    /// Neither side had a change on its way, so replicas were compared.
    settled: bool,
    differences: Vec<Difference>,
}

#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // The shape of `report_json`, for the document.
struct Difference {
    kind: String,
    item: Option<String>,
    remote_key: Option<String>,
    detail: String,
    /// With `repair`: what was done (`resent`, `relinked`, `flagged` with `error`, `failed`
    /// with `reason`).
    repair: Option<Value>,
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

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ConflictPage {
    /// Conflicts with ids below this one (the `next` of the previous page).
    before: Option<i64>,
    /// At most this many (default 50).
    #[serde(default = "default_limit")]
    limit: u32,
}

fn default_limit() -> u32 {
    50
}

/// The connection's conflicts (concurrent edits), newest first, in pages.
#[utoipa::path(get, path = "/connections/{name}/conflicts", tag = "reconcile",
    params(ConnectionName, ConflictPage), responses(
    (status = 200, description = "A page of conflicts.", body = ConflictList),
    (status = 400, description = "The page is not understood.", body = ApiErrorBody),
))]
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

/// Writes a conflict's losing value back to its item (which syncs out).
#[utoipa::path(post, path = "/connections/{name}/conflicts/{id}/restore", tag = "reconcile",
    params(ConnectionName, ConflictId), responses(
    (status = 200, description = "The conflict, restored, and the item.", body = Restored),
    (status = 400, description = "Not a conflict id, or the value no longer fits the field.", body = ApiErrorBody),
    (status = 410, description = "The item is gone.", body = ApiErrorBody),
))]
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

#[derive(Debug, Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
struct VerifyRequest {
    /// Fix what can be fixed: send again what the remote lacks or holds differently, restore
    /// a lost link, flag the rest as sync errors.
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

/// Compares every twin of the connection with the remote's; with `repair`, fixes what differs.
#[utoipa::path(post, path = "/connections/{name}/verify", tag = "reconcile", params(ConnectionName),
    request_body(content = Option<VerifyRequest>, description = "`{\"repair\": true}`, or no body for `{\"repair\": false}`."),
    responses(
    (status = 200, description = "The report.", body = VerifyReport),
    (status = 409, description = "The connection is not active.", body = ApiErrorBody),
))]
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
