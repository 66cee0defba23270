//! `/api/v1/sync`: bring an item under sync, see its twins, list sync errors.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tandem_model::{ItemKey, Twin};

use crate::auth::ApiCaller;
use crate::connections;
use crate::error::{ApiError, ApiJson};
use crate::state::AppState;
use crate::sync::engine::{self, SyncFailure};
use crate::sync::{jobs, operations};
use tandem_model::JobKind;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::connections::ConnectionName;
use crate::error::ApiErrorBody;

/// The routes (under `/api/v1`) a sync-operator token may POST to: sync operations on items,
/// none that changes a connection, its rules or the node. Every other write needs an admin
/// token (`crate::auth::scope_needed`).
pub const SYNC_OPERATIONS: &[&str] = &[
    "/sync/exalate",
    "/sync/unexalate",
    "/sync/again",
    "/sync/connect",
    "/sync/errors/{id}/retry",
    "/sync/bulk",
    "/sync/bulk-unexalate",
    "/connections/{name}/verify",
    "/sync/jobs/{id}/cancel",
];

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(exalate))
        .routes(routes!(unexalate))
        .routes(routes!(again))
        .routes(routes!(connect))
        .routes(routes!(status))
        .routes(routes!(errors))
        .routes(routes!(retry))
        .routes(routes!(bulk))
        .routes(routes!(bulk_progress))
        .routes(routes!(bulk_unexalate))
        .routes(routes!(list_jobs))
        .routes(routes!(job))
        .routes(routes!(cancel_job))
        .routes(routes!(clean_up))
        .routes(routes!(clean_up_preview))
        .routes(routes!(test_outgoing))
        .routes(routes!(test_incoming))
        .routes(routes!(list_triggers, create_trigger))
        .routes(routes!(update_trigger, delete_trigger))
}

/// A twin as the API shows it ([`twin_json`]).
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // The shape of `twin_json`, for the document.
struct TwinJson {
    /// The connection's name.
    connection: String,
    local_key: String,
    /// On a node that serves ServiceNow: the record's number, when the item mirrors one.
    local_number: Option<String>,
    remote_key: Option<String>,
    /// The key the remote's admin knows the remote item by, when the remote said one that is
    /// not `remote_key` (a ServiceNow record's number).
    remote_number: Option<String>,
    last_sync: Option<String>,
    state: String,
}

/// `{"twin": ...}`, and for an Exalate on a Deactivated connection, `held`: why it waits.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // The shape of the twin operations' answers, for the document.
struct TwinAnswer {
    twin: TwinJson,
    /// Exalate only: the connection is not active, and the item waits until it is.
    held: Option<String>,
}

/// A sync error as the API shows it ([`error_json`]).
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // The shape of `error_json`, for the document.
struct SyncErrorJson {
    id: i64,
    impact: String,
    connection_id: Option<uuid::Uuid>,
    connection: Option<String>,
    local_key: Option<String>,
    /// On a node that serves ServiceNow: the record's number, when the item mirrors one.
    local_number: Option<String>,
    remote_key: Option<String>,
    /// The key the remote's admin knows the remote item by, when the remote said one that is
    /// not `remote_key` (a ServiceNow record's number).
    remote_number: Option<String>,
    at: String,
    message: String,
    script_trace: Option<String>,
    /// An error the remote reported: its id there.
    remote_error: Option<i64>,
    /// An error the remote reported: the remote's Errors page, where it is retried.
    retry_at: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // The shape of `errors`'s answer, for the document.
struct SyncErrors {
    errors: Vec<SyncErrorJson>,
}

#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // The shape of `status`'s answer, for the document.
struct ItemSyncStatus {
    item: String,
    /// On a node that serves ServiceNow: the record's number (what its admin calls it).
    number: Option<String>,
    twins: Vec<TwinJson>,
    conflicts: Vec<ItemConflictJson>,
    /// The item's open errors: this side's, and those the remote reported about it.
    errors: Vec<SyncErrorJson>,
}

#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // The shape of `status`'s answer, for the document.
struct ItemConflictJson {
    field: String,
    local_value: serde_json::Value,
    remote_value: serde_json::Value,
    /// `local` or `remote`.
    kept: String,
    at: String,
}

/// A bulk job as the API shows it (`JobView::to_json`).
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // The shape of `JobView::to_json`, for the document.
struct JobJson {
    job: i64,
    /// What the job does: exalate, unexalate, sync again, clean-up.
    kind: String,
    connection: String,
    trigger: Option<i64>,
    state: String,
    done: u64,
    total: u64,
    failed: u64,
    /// Items the job changed.
    changed: u64,
    /// Clean-up: the queued changes it dropped.
    queued: Option<u64>,
    /// Items per second.
    rate: Option<f64>,
    eta_seconds: Option<u64>,
    started: String,
    updated: String,
    finished: bool,
    finished_at: Option<String>,
    cancel_requested: bool,
    /// Why the job stopped, when a fault stopped it.
    error: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // The shape of `list_jobs`'s answer, for the document.
struct JobList {
    jobs: Vec<JobJson>,
}

/// `202 {"job": id}`: a job started; follow it at `/sync/jobs/{id}`.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // The shape of `bulk_job`'s answer without waiting, for the document.
struct JobStarted {
    job: i64,
}

/// A job waited for to its end: what it changed (`sent`, `stopped`, or `twins` and `queued`),
/// the job's id, and how many items failed.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // The shape of `bulk_job`'s answer when waiting, for the document.
struct JobDone {
    /// Sync again: the items sent.
    sent: Option<u64>,
    /// Bulk Unexalate: the items no longer in sync.
    stopped: Option<u64>,
    /// Clean-up: the twins removed.
    twins: Option<u64>,
    /// Clean-up: the queued changes dropped.
    queued: Option<u64>,
    /// The job; absent for Sync again of one item.
    job: Option<i64>,
    failed: Option<u64>,
}

/// The path parameter of an item's key.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // The path parameter, for the document.
struct ItemKeyParam {
    /// An item key, like SUP-12.
    key: String,
}

/// The path parameter of a numeric id.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // The path parameter, for the document.
struct IdParam {
    id: i64,
}

#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // The shape of the trigger routes' answers, for the document.
struct TriggerJson {
    id: i64,
    /// The query, in the trigger language.
    query: String,
    active: bool,
    note: String,
    created: String,
}

#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // The shape of the trigger routes' answers, for the document.
struct OneTrigger {
    trigger: TriggerJson,
}

#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // The shape of `list_triggers`'s answer, for the document.
struct TriggerList {
    triggers: Vec<TriggerJson>,
}

/// A test run of the rules: `ok` true with what they produced, or false with the error, the
/// script's line, caret and stack (`trace`).
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // The shape of the test runs' answers, for the document.
struct TestRun {
    ok: bool,
    /// Outgoing, ok: the replica the rules produce.
    replica: Option<serde_json::Value>,
    /// Incoming, ok: the item the rules leave.
    item: Option<serde_json::Value>,
    /// Incoming, ok: field by field, only the fields that change.
    changes: Option<Vec<FieldChange>>,
    /// Incoming, ok: the comment changes, in words.
    comments: Option<Vec<String>>,
    /// Incoming, ok: the attachment changes, in words.
    attachments: Option<Vec<String>>,
    /// Incoming, ok: what the rules logged, and the writes not sent.
    log: Option<Vec<String>>,
    /// Not ok: the rules' error.
    error: Option<String>,
    /// Not ok: the script's line, caret and stack.
    trace: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // The shape of `test_incoming`'s answer, for the document.
struct FieldChange {
    field: String,
    before: serde_json::Value,
    after: serde_json::Value,
}

impl From<SyncFailure> for ApiError {
    fn from(e: SyncFailure) -> Self {
        match e {
            SyncFailure::Store(s) => s.into(),
            other => ApiError::BadRequest(other.to_string()),
        }
    }
}

/// The item `raw` names: its key, or on a node that serves ServiceNow its record's number.
async fn key(state: &AppState, raw: &str) -> Result<ItemKey, ApiError> {
    if let Ok(key) = raw.parse() {
        return Ok(key);
    }
    crate::servicenow::keys::resolve(state, raw)
        .await?
        .ok_or_else(|| ApiError::BadRequest(format!("'{raw}' is not an item key (like SUP-12)")))
}

/// A twin as the API shows it. On a node that serves ServiceNow, `local_number` is the local
/// item's record number (what its admin calls it); absent elsewhere.
async fn twin_json(
    state: &AppState,
    t: &Twin,
    connection: &str,
) -> Result<serde_json::Value, ApiError> {
    let mut twin = serde_json::json!({
        "connection": connection,
        "local_key": t.local_key.to_string(),
        "remote_key": t.remote_key,
        "last_sync": t.last_sync.map(|at| at.to_string()),
        "state": t.state.as_str(),
    });
    if let Some(number) = numbers(state, [&t.local_key]).await?.remove(&t.local_key) {
        twin["local_number"] = number.into();
    }
    if let Some(number) = &t.remote_display_key {
        twin["remote_number"] = number.as_str().into();
    }
    Ok(twin)
}

/// The record numbers of those of these items that mirror a ServiceNow record.
async fn numbers<'a>(
    state: &AppState,
    keys: impl IntoIterator<Item = &'a ItemKey>,
) -> Result<std::collections::HashMap<ItemKey, String>, ApiError> {
    if !state.view().journals() {
        return Ok(std::collections::HashMap::new());
    }
    let mut shown = crate::servicenow::keys::shown_keys(state, keys).await?;
    shown.retain(|key, text| *text != key.to_string());
    Ok(shown)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ItemOnConnection {
    connection: String,
    item: String,
}

/// Brings an item under sync on a connection.
#[utoipa::path(post, path = "/sync/exalate", tag = "sync", request_body = ItemOnConnection, responses(
    (status = 200, description = "The twin.", body = TwinAnswer),
    (status = 409, description = "The connection or item does not allow it now; the message says why.", body = ApiErrorBody),
))]
async fn exalate(
    _: ApiCaller,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<ItemOnConnection>,
) -> Result<Response, ApiError> {
    let connection = connections::find(&state, &body.connection).await?;
    let twin = engine::exalate(&state, &connection, &key(&state, &body.item).await?).await?;
    let mut answer = serde_json::json!({"twin": twin_json(&state, &twin, &connection.name).await?});
    if let Some(held) = engine::held_note(&connection) {
        answer["held"] = held.into();
    }
    Ok(axum::Json(answer).into_response())
}

#[utoipa::path(get, operation_id = "sync_status", path = "/sync/status/{key}", tag = "sync", params(ItemKeyParam), responses(
    (status = 200, description = "The item's twins, conflicts and open errors.", body = ItemSyncStatus),
    (status = 400, description = "Not an item key.", body = ApiErrorBody),
))]
async fn status(
    _: ApiCaller,
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    let key = key(&state, &raw).await?;
    let Some(item) = state.store().item(&key).await? else {
        return Err(ApiError::NotFound(format!("there is no item {key}")));
    };
    let mut twins = Vec::new();
    for twin in state.store().twins_of_item(&key).await? {
        let name = state
            .store()
            .connection(twin.connection_id)
            .await?
            .map_or_else(|| twin.connection_id.to_string(), |c| c.name);
        twins.push(twin_json(&state, &twin, &name).await?);
    }
    let conflicts: Vec<_> = state
        .store()
        .conflicts(&key)
        .await?
        .into_iter()
        .map(|c| {
            serde_json::json!({
                "field": c.field,
                "local_value": serde_json::from_str::<serde_json::Value>(&c.local_value).unwrap_or_default(),
                "remote_value": serde_json::from_str::<serde_json::Value>(&c.remote_value).unwrap_or_default(),
                "kept": if c.kept_local { "local" } else { "remote" },
                "at": c.at.to_string(),
            })
        })
        .collect();
    // The item's open errors: this side's, and those the remote reported about it.
    let connections = connections_by_id(&state).await?;
    let item_numbers = numbers(&state, [&key]).await?;
    let errors: Vec<_> = state
        .store()
        .sync_errors(false, 500)
        .await?
        .into_iter()
        .filter(|e| e.local_key.as_ref() == Some(&key))
        .collect();
    let remote_numbers = remote_numbers(&state, &errors).await?;
    let errors: Vec<_> = errors
        .into_iter()
        .map(|e| error_json(e, &connections, &item_numbers, &remote_numbers))
        .collect();
    Ok(axum::Json(serde_json::json!({
        "item": key.to_string(),
        // On a node that serves ServiceNow, the record's number (what its admin calls it).
        "number": crate::servicenow::keys::number_of(&state.view(), &item),
        "twins": twins,
        "conflicts": conflicts,
        "errors": errors,
    }))
    .into_response())
}

/// One sync error as the API shows it. An error the remote reported carries
/// `remote_error` (its id there) and `retry_at` (the remote's Errors page, where it is
/// retried; null for a private remote).
fn error_json(
    e: tandem_model::SyncError,
    connections: &std::collections::HashMap<uuid::Uuid, tandem_model::Connection>,
    numbers: &std::collections::HashMap<ItemKey, String>,
    remote_numbers: &RemoteNumbers,
) -> serde_json::Value {
    let local_number = e.local_key.as_ref().and_then(|k| numbers.get(k)).cloned();
    let remote_number = match (e.connection_id, &e.remote_key) {
        (Some(id), Some(remote)) => remote_numbers.get(&(id, remote.clone())).cloned(),
        _ => None,
    };
    let connection = e.connection_id.and_then(|id| connections.get(&id));
    let retry_at = match (e.remote_error, connection) {
        (Some(id), Some(c)) => crate::sync::report::remote_errors_page(c, id),
        _ => None,
    };
    serde_json::json!({
        "id": e.id,
        "impact": e.impact.as_str(),
        "connection_id": e.connection_id,
        "connection": connection.map(|c| c.name.clone()),
        "local_key": e.local_key.map(|k| k.to_string()),
        // On a node that serves ServiceNow, the local item's record number.
        "local_number": local_number,
        "remote_key": e.remote_key,
        // What the remote said its item is known by (a ServiceNow record's number).
        "remote_number": remote_number,
        "at": e.at.to_string(),
        "message": e.message,
        "script_trace": e.script_trace,
        "remote_error": e.remote_error,
        "retry_at": retry_at,
    })
}

/// The remote items' display keys by (connection, remote key) ([`error_json`]).
type RemoteNumbers = std::collections::HashMap<(uuid::Uuid, String), String>;

/// The display keys the remotes said of the remote items these errors name.
async fn remote_numbers(
    state: &AppState,
    errors: &[tandem_model::SyncError],
) -> Result<RemoteNumbers, ApiError> {
    let named: Vec<(uuid::Uuid, String)> = errors
        .iter()
        .filter_map(|e| Some((e.connection_id?, e.remote_key.clone()?)))
        .collect();
    Ok(crate::servicenow::keys::remote_shown_keys(state, &named).await?)
}

async fn connections_by_id(
    state: &AppState,
) -> Result<std::collections::HashMap<uuid::Uuid, tandem_model::Connection>, ApiError> {
    Ok(state
        .store()
        .connections()
        .await?
        .into_iter()
        .map(|c| (c.id, c))
        .collect())
}

#[utoipa::path(get, operation_id = "list_sync_errors", path = "/sync/errors", tag = "sync", responses(
    (status = 200, description = "The unresolved sync errors (at most 500).", body = SyncErrors),
))]
async fn errors(_: ApiCaller, State(state): State<AppState>) -> Result<Response, ApiError> {
    let connections = connections_by_id(&state).await?;
    let errors = state.store().sync_errors(false, 500).await?;
    let keys: Vec<ItemKey> = errors.iter().filter_map(|e| e.local_key.clone()).collect();
    let numbers = numbers(&state, &keys).await?;
    let remote_numbers = remote_numbers(&state, &errors).await?;
    let errors: Vec<_> = errors
        .into_iter()
        .map(|e| error_json(e, &connections, &numbers, &remote_numbers))
        .collect();
    Ok(axum::Json(serde_json::json!({"errors": errors})).into_response())
}

/// Stops syncing an item on a connection.
#[utoipa::path(post, path = "/sync/unexalate", tag = "sync", request_body = ItemOnConnection, responses(
    (status = 200, description = "The twin, no longer in sync.", body = TwinAnswer),
    (status = 409, description = "The connection or item does not allow it now; the message says why.", body = ApiErrorBody),
))]
async fn unexalate(
    _: ApiCaller,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<ItemOnConnection>,
) -> Result<Response, ApiError> {
    let connection = connections::find(&state, &body.connection).await?;
    let twin = operations::unexalate(&state, &connection, &key(&state, &body.item).await?).await?;
    Ok(
        axum::Json(serde_json::json!({"twin": twin_json(&state, &twin, &connection.name).await?}))
            .into_response(),
    )
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Again {
    connection: String,
    /// One item; none: every twin of the connection (a job).
    #[serde(default)]
    item: Option<String>,
    /// For a whole connection: answer when the job ends (the default), or at once with the
    /// job to follow (`202 {"job": id}`).
    #[serde(default = "wait_by_default")]
    wait: bool,
}

fn wait_by_default() -> bool {
    true
}

/// Runs a bulk job: waits for its end and answers `fields` of it, or answers `202 {"job":
/// id}` at once. A job stopped by a fault answers its reason.
async fn bulk_job(
    state: &AppState,
    kind: JobKind,
    connection: &tandem_model::Connection,
    trigger: Option<&tandem_model::Trigger>,
    wait: bool,
    fields: impl FnOnce(&jobs::JobView) -> serde_json::Value,
) -> Result<Response, ApiError> {
    if !wait {
        let job = jobs::start(state, kind, connection, trigger).await?;
        return Ok((
            axum::http::StatusCode::ACCEPTED,
            axum::Json(serde_json::json!({"job": job.id})),
        )
            .into_response());
    }
    let view = jobs::run_to_end(state, kind, connection, trigger).await?;
    if let Some(error) = &view.job.error {
        return Err(ApiError::Conflict(format!(
            "the {} on connection {} (job {}) stopped after {} of {}: {error}",
            kind.title(),
            view.connection,
            view.job.id,
            view.job.progress.done,
            view.job.progress.total
        )));
    }
    let mut answer = fields(&view);
    answer["job"] = view.job.id.into();
    answer["failed"] = view.job.progress.failed.into();
    Ok(axum::Json(answer).into_response())
}

/// Sends an item again, or every twin of the connection (a job).
#[utoipa::path(post, operation_id = "sync_again", path = "/sync/again", tag = "sync", request_body = Again, responses(
    (status = 200, description = "Sent (`sent`; for a whole connection, the job and `failed`).", body = JobDone),
    (status = 202, description = "`wait: false`: the job started.", body = JobStarted),
    (status = 409, description = "The connection or item does not allow it now; the message says why.", body = ApiErrorBody),
))]
async fn again(
    _: ApiCaller,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<Again>,
) -> Result<Response, ApiError> {
    let connection = connections::find(&state, &body.connection).await?;
    match body.item {
        Some(item) => {
            operations::sync_again(&state, &connection, &key(&state, &item).await?).await?;
            Ok(axum::Json(serde_json::json!({"sent": 1})).into_response())
        }
        None => {
            bulk_job(
                &state,
                JobKind::SyncAgain,
                &connection,
                None,
                body.wait,
                |v| serde_json::json!({"sent": v.changed}),
            )
            .await
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Connect {
    connection: String,
    item: String,
    remote_key: String,
}

/// Links a local item with an existing remote item.
#[utoipa::path(post, operation_id = "connect_item", path = "/sync/connect", tag = "sync", request_body = Connect, responses(
    (status = 200, description = "The twin.", body = TwinAnswer),
    (status = 409, description = "The connection or item does not allow it now; the message says why.", body = ApiErrorBody),
))]
async fn connect(
    _: ApiCaller,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<Connect>,
) -> Result<Response, ApiError> {
    let connection = connections::find(&state, &body.connection).await?;
    let twin = operations::connect(
        &state,
        &connection,
        &key(&state, &body.item).await?,
        &body.remote_key,
    )
    .await?;
    Ok(
        axum::Json(serde_json::json!({"twin": twin_json(&state, &twin, &connection.name).await?}))
            .into_response(),
    )
}

/// Resolves a sync error and runs what failed again.
#[utoipa::path(post, operation_id = "retry_sync_error", path = "/sync/errors/{id}/retry", tag = "sync", params(IdParam), responses(
    (status = 200, description = "`{\"retried\": id}`.", body = Object),
))]
async fn retry(
    _: ApiCaller,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    let error = operations::retry(&state, id).await?;
    Ok(axum::Json(serde_json::json!({"retried": error.id})).into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Bulk {
    connection: String,
    trigger: i64,
    /// Bulk Unexalate only: answer when the job ends (the default), or at once with the job.
    #[serde(default = "wait_by_default")]
    wait: bool,
}

/// Bulk Exalate: brings every item the trigger matches under sync, as a job.
#[utoipa::path(post, operation_id = "bulk_exalate", path = "/sync/bulk", tag = "sync", request_body = Bulk, responses(
    (status = 202, description = "The job started.", body = JobStarted),
))]
async fn bulk(
    _: ApiCaller,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<Bulk>,
) -> Result<Response, ApiError> {
    let connection = connections::find(&state, &body.connection).await?;
    let trigger = trigger_of(&state, &connection, body.trigger).await?;
    let job = jobs::start(&state, JobKind::Exalate, &connection, Some(&trigger)).await?;
    Ok((
        axum::http::StatusCode::ACCEPTED,
        axum::Json(serde_json::json!({"job": job.id})),
    )
        .into_response())
}

/// A Bulk Exalate's progress (any job's: the same answer as `/sync/jobs/{id}`).
#[utoipa::path(get, operation_id = "bulk_exalate_progress", path = "/sync/bulk/{id}", tag = "sync", params(IdParam), responses(
    (status = 200, description = "The job.", body = JobJson),
))]
async fn bulk_progress(
    caller: ApiCaller,
    state: State<AppState>,
    id: Path<i64>,
) -> Result<Response, ApiError> {
    job(caller, state, id).await
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct JobFilter {
    /// Only this connection's jobs.
    connection: Option<String>,
    /// At most this many, newest first (default 50).
    limit: Option<u32>,
}

/// Bulk jobs, newest first: kind, state, done / total / failed, rate and ETA.
#[utoipa::path(get, path = "/sync/jobs", tag = "sync", params(JobFilter), responses(
    (status = 200, description = "The jobs, newest first.", body = JobList),
))]
async fn list_jobs(
    _: ApiCaller,
    State(state): State<AppState>,
    Query(filter): Query<JobFilter>,
) -> Result<Response, ApiError> {
    let connection = match &filter.connection {
        Some(name) => Some(connections::find(&state, name).await?),
        None => None,
    };
    let limit = filter.limit.unwrap_or(50).clamp(1, 1000);
    let views = jobs::list(&state, connection.as_ref(), limit).await?;
    let list: Vec<serde_json::Value> = views.iter().map(jobs::JobView::to_json).collect();
    Ok(axum::Json(serde_json::json!({"jobs": list})).into_response())
}

#[utoipa::path(get, operation_id = "get_job", path = "/sync/jobs/{id}", tag = "sync", params(IdParam), responses(
    (status = 200, description = "The job.", body = JobJson),
))]
async fn job(
    _: ApiCaller,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    let view = jobs::get(&state, id).await?;
    Ok(axum::Json(view.to_json()).into_response())
}

/// Stops a running job after the items under way; answers the job (a finished one as it is).
#[utoipa::path(post, path = "/sync/jobs/{id}/cancel", tag = "sync", params(IdParam), responses(
    (status = 200, description = "The job (a finished one as it is).", body = JobJson),
))]
async fn cancel_job(
    _: ApiCaller,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    let view = jobs::cancel(&state, id).await?;
    Ok(axum::Json(view.to_json()).into_response())
}

/// The connection's trigger with this id, or 404.
async fn trigger_of(
    state: &AppState,
    connection: &tandem_model::Connection,
    id: i64,
) -> Result<tandem_model::Trigger, ApiError> {
    state
        .store()
        .triggers(Some(connection.id))
        .await?
        .into_iter()
        .find(|t| t.id == id)
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "connection {} has no trigger {id}",
                connection.name
            ))
        })
}

fn trigger_json(t: &tandem_model::Trigger) -> serde_json::Value {
    serde_json::json!({
        "id": t.id,
        "query": t.query,
        "active": t.active,
        "note": t.note,
        "created": t.created.to_string(),
    })
}

#[utoipa::path(get, path = "/connections/{name}/triggers", tag = "rules", params(ConnectionName), responses(
    (status = 200, description = "The connection's triggers.", body = TriggerList),
))]
async fn list_triggers(
    _: ApiCaller,
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let connection = connections::find(&state, &name).await?;
    let triggers: Vec<_> = state
        .store()
        .triggers(Some(connection.id))
        .await?
        .iter()
        .map(trigger_json)
        .collect();
    Ok(axum::Json(serde_json::json!({"triggers": triggers})).into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct TriggerBody {
    query: String,
    #[serde(default = "yes")]
    active: bool,
    #[serde(default)]
    note: String,
}

fn yes() -> bool {
    true
}

#[utoipa::path(post, path = "/connections/{name}/triggers", tag = "rules", params(ConnectionName),
    request_body = TriggerBody, responses(
    (status = 201, description = "The trigger, created.", body = OneTrigger),
))]
async fn create_trigger(
    _: ApiCaller,
    State(state): State<AppState>,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<TriggerBody>,
) -> Result<Response, ApiError> {
    let connection = connections::find(&state, &name).await?;
    let trigger =
        operations::add_trigger(&state, &connection, &body.query, body.active, &body.note).await?;
    Ok((
        axum::http::StatusCode::CREATED,
        axum::Json(serde_json::json!({"trigger": trigger_json(&trigger)})),
    )
        .into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct TriggerPatch {
    #[serde(default)]
    query: Option<String>,
    #[serde(default)]
    active: Option<bool>,
    #[serde(default)]
    note: Option<String>,
}

#[utoipa::path(patch, path = "/connections/{name}/triggers/{id}", tag = "rules",
    params(ConnectionName, IdParam), request_body = TriggerPatch, responses(
    (status = 200, description = "The trigger, changed.", body = OneTrigger),
))]
async fn update_trigger(
    _: ApiCaller,
    State(state): State<AppState>,
    Path((name, id)): Path<(String, i64)>,
    ApiJson(body): ApiJson<TriggerPatch>,
) -> Result<Response, ApiError> {
    let connection = connections::find(&state, &name).await?;
    let mut trigger = state
        .store()
        .triggers(Some(connection.id))
        .await?
        .into_iter()
        .find(|t| t.id == id)
        .ok_or_else(|| ApiError::NotFound(format!("connection {name} has no trigger {id}")))?;
    if let Some(query) = body.query {
        trigger.query = query;
    }
    if let Some(active) = body.active {
        trigger.active = active;
    }
    if let Some(note) = body.note {
        trigger.note = note;
    }
    let trigger = operations::save_trigger(&state, trigger).await?;
    Ok(axum::Json(serde_json::json!({"trigger": trigger_json(&trigger)})).into_response())
}

#[utoipa::path(delete, path = "/connections/{name}/triggers/{id}", tag = "rules",
    params(ConnectionName, IdParam), responses(
    (status = 200, description = "`{\"deleted\": id}`.", body = Object),
))]
async fn delete_trigger(
    _: ApiCaller,
    State(state): State<AppState>,
    Path((name, id)): Path<(String, i64)>,
) -> Result<Response, ApiError> {
    let connection = connections::find(&state, &name).await?;
    if !state
        .store()
        .triggers(Some(connection.id))
        .await?
        .iter()
        .any(|t| t.id == id)
    {
        return Err(ApiError::NotFound(format!(
            "connection {name} has no trigger {id}"
        )));
    }
    state.store().delete_trigger(id).await?;
    Ok(axum::Json(serde_json::json!({"deleted": id})).into_response())
}

/// Bulk Unexalate: stops syncing every item the trigger matches, as a job.
#[utoipa::path(post, path = "/sync/bulk-unexalate", tag = "sync", request_body = Bulk, responses(
    (status = 200, description = "The job ended: `stopped`, `job`, `failed`.", body = JobDone),
    (status = 202, description = "`wait: false`: the job started.", body = JobStarted),
    (status = 409, description = "The connection or item does not allow it now; the message says why.", body = ApiErrorBody),
))]
async fn bulk_unexalate(
    _: ApiCaller,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<Bulk>,
) -> Result<Response, ApiError> {
    let connection = connections::find(&state, &body.connection).await?;
    let trigger = trigger_of(&state, &connection, body.trigger).await?;
    bulk_job(
        &state,
        JobKind::Unexalate,
        &connection,
        Some(&trigger),
        body.wait,
        |v| serde_json::json!({"stopped": v.changed}),
    )
    .await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct OnConnection {
    connection: String,
    /// Answer when the Clean-up ends (the default), or at once with the job.
    #[serde(default = "wait_by_default")]
    wait: bool,
}

/// Clean-up: removes the connection's sync data on both sides, as a job.
#[utoipa::path(post, path = "/sync/cleanup", tag = "sync", request_body = OnConnection, responses(
    (status = 200, description = "The job ended: `twins`, `queued`, `job`, `failed`.", body = JobDone),
    (status = 202, description = "`wait: false`: the job started.", body = JobStarted),
    (status = 409, description = "The connection or item does not allow it now; the message says why.", body = ApiErrorBody),
))]
async fn clean_up(
    _: ApiCaller,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<OnConnection>,
) -> Result<Response, ApiError> {
    let connection = connections::find(&state, &body.connection).await?;
    bulk_job(
        &state,
        JobKind::CleanUp,
        &connection,
        None,
        body.wait,
        |v| serde_json::json!({"twins": v.changed, "queued": v.queued.unwrap_or(0)}),
    )
    .await
}

/// What `GET /sync/cleanup/{name}` answers.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // The shape of `clean_up_preview`'s answer, for the document.
struct CleanUpPreview {
    connection: String,
    twins: u64,
    queued: u64,
}

/// What a clean-up of the connection would touch; nothing is written.
#[utoipa::path(get, path = "/sync/cleanup/{name}", tag = "sync", params(ConnectionName), responses(
    (status = 200, description = "What a clean-up would remove.", body = CleanUpPreview),
))]
async fn clean_up_preview(
    _: ApiCaller,
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let connection = connections::find(&state, &name).await?;
    let preview = operations::clean_up_preview(&state, &connection).await?;
    Ok(axum::Json(serde_json::json!({
        "connection": connection.name,
        "twins": preview.twins,
        "queued": preview.queued,
    }))
    .into_response())
}

/// A test run's failure as the Rules tab shows it: the message and the script's line, caret
/// and stack. (A test run that fails is an answer, not an API error.)
fn test_failure(e: SyncFailure) -> Result<Response, ApiError> {
    match e {
        SyncFailure::Rule(rule) => Ok(axum::Json(serde_json::json!({
            "ok": false,
            "error": rule.to_string(),
            "trace": rule.trace,
        }))
        .into_response()),
        other => Err(other.into()),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct TestOutgoing {
    item: String,
    /// Fixes the time the rules see for this run (`new Date()`, `Instant.now()`): an instant
    /// (`2026-03-01T09:30:00Z`) or a date and time in `zone`. Absent: the node's clock.
    #[serde(default)]
    now: Option<String>,
    /// An IANA zone (`Europe/Paris`): where `now` is read, and the rules' default zone.
    #[serde(default)]
    zone: Option<String>,
}

/// A Test run's clock from the request's `now` and `zone`.
fn test_clock(
    now: Option<&str>,
    zone: Option<&str>,
) -> Result<Option<std::sync::Arc<dyn tandem_script::Clock>>, ApiError> {
    operations::test_clock(now, zone).map_err(ApiError::BadRequest)
}

/// Runs the outgoing rules on an item; sends nothing.
#[utoipa::path(post, path = "/connections/{name}/test/outgoing", tag = "rules", params(ConnectionName),
    request_body = TestOutgoing, responses(
    (status = 200, description = "The replica, or the rules' error (`ok`: false).", body = TestRun),
))]
async fn test_outgoing(
    _: ApiCaller,
    State(state): State<AppState>,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<TestOutgoing>,
) -> Result<Response, ApiError> {
    let connection = connections::find(&state, &name).await?;
    let clock = test_clock(body.now.as_deref(), body.zone.as_deref())?;
    match operations::test_outgoing(&connection, &state, &key(&state, &body.item).await?, clock)
        .await
    {
        Ok(replica) => {
            Ok(axum::Json(serde_json::json!({"ok": true, "replica": replica})).into_response())
        }
        Err(e) => test_failure(e),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct TestIncoming {
    replica: serde_json::Value,
    #[serde(default)]
    item: Option<String>,
    /// As for the outgoing Test run.
    #[serde(default)]
    now: Option<String>,
    #[serde(default)]
    zone: Option<String>,
}

/// Runs the incoming rules on a replica; writes nothing.
#[utoipa::path(post, path = "/connections/{name}/test/incoming", tag = "rules", params(ConnectionName),
    request_body = TestIncoming, responses(
    (status = 200, description = "What the rules would change, or their error (`ok`: false).", body = TestRun),
))]
async fn test_incoming(
    _: ApiCaller,
    State(state): State<AppState>,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<TestIncoming>,
) -> Result<Response, ApiError> {
    let connection = connections::find(&state, &name).await?;
    let item = match body.item.as_deref() {
        Some(raw) => Some(key(&state, raw).await?),
        None => None,
    };
    let clock = test_clock(body.now.as_deref(), body.zone.as_deref())?;
    match operations::test_incoming(&state, &connection, body.replica, item.as_ref(), clock).await {
        Ok(preview) => Ok(axum::Json(serde_json::json!({
            "ok": true,
            "item": preview.item,
            "changes": preview
                .changes
                .iter()
                .map(|(field, before, after)| serde_json::json!({"field": field, "before": before, "after": after}))
                .collect::<Vec<_>>(),
            "comments": preview.comments,
            "attachments": preview.attachments,
            "log": preview.log,
        }))
        .into_response()),
        Err(e) => test_failure(e),
    }
}
