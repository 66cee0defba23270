//! `/api/v1/connections` and `/api/v1/invitations`: what the Connections page does, for
//! scripts and the `tandem connection` commands.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use tandem_model::{Connection, Mode, Scope};
use uuid::Uuid;

use crate::auth::ApiCaller;
use crate::connections::{self, AcceptRequest, InitiateRequest};
use crate::error::ApiErrorBody;
use crate::error::{ApiError, ApiJson};
use crate::state::AppState;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(list, initiate))
        .routes(routes!(check))
        .routes(routes!(show, update, delete))
        .routes(routes!(activate))
        .routes(routes!(deactivate))
        .routes(routes!(statistics))
        .routes(routes!(new_invitation))
        .routes(routes!(preview))
        .routes(routes!(accept))
}

/// The path parameter naming a connection.
#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // The connection routes' path parameter, for the document.
pub struct ConnectionName {
    /// The connection's name or id.
    pub name: String,
}

/// `{"connection": ...}`: one connection with its scope (and, to an admin token from `GET`,
/// its rules).
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // The shape of `one`'s and `show`'s answers, for the document.
pub struct OneConnection {
    connection: ConnectionShown,
}

#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // The shape of `connection_json`, for the document.
struct ConnectionShown {
    #[serde(flatten)]
    connection: ConnectionJson,
    /// The scope set, or null for the default.
    scope: Option<ScopeJson>,
    /// What the scope reaches, in words.
    scope_effective: String,
    /// `GET` to an admin token only.
    outgoing_script: Option<String>,
    /// `GET` to an admin token only.
    incoming_script: Option<String>,
}

/// A connection's scope: projects (ServiceNow: synced tables) or a query in the trigger
/// language.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // The shape of `scope_json`, for the document.
enum ScopeJson {
    Projects { projects: Vec<String> },
    Query { query: String },
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RemoteJson {
    pub node_id: Uuid,
    pub name: String,
    pub url: Option<String>,
    pub tracker: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationJson {
    pub expires: String,
    pub used: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectionJson {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub mode: &'static str,
    pub role: &'static str,
    pub status: &'static str,
    pub status_reason: Option<String>,
    pub remote_paused: bool,
    pub local_short_name: String,
    pub remote_short_name: String,
    pub remote: Option<RemoteJson>,
    pub private: bool,
    pub twins: u64,
    pub last_sync: Option<String>,
    pub created: String,
    pub invitation: Option<InvitationJson>,
    /// Where new items from the remote go on this side; null when not chosen.
    pub target_project: Option<String>,
    /// This node's unresolved sync errors of the connection, those the remote reported
    /// included (filled in by the list and the show).
    pub open_errors: u64,
}

impl ConnectionJson {
    pub fn new(c: &Connection, twins: u64) -> Self {
        ConnectionJson {
            id: c.id,
            name: c.name.clone(),
            description: c.description.clone(),
            mode: c.mode.as_str(),
            role: c.role.as_str(),
            status: c.status.as_str(),
            status_reason: c.status_reason.clone(),
            remote_paused: c.remote_paused,
            local_short_name: c.local_short_name.clone(),
            remote_short_name: c.remote_short_name.clone(),
            remote: c.remote.as_ref().map(|r| RemoteJson {
                node_id: r.node_id,
                name: r.name.clone(),
                url: r.url.clone(),
                tracker: r.tracker.clone(),
            }),
            private: c.private,
            twins,
            last_sync: c.last_sync.map(time),
            created: time(c.created),
            invitation: c.invitation.as_ref().map(|i| InvitationJson {
                expires: time(i.expires),
                used: i.used.map(time),
            }),
            target_project: c.target_project.clone(),
            open_errors: 0,
        }
    }
}

/// RFC 3339, UTC.
fn time(at: Timestamp) -> String {
    at.to_string()
}

/// A scope as JSON: `{"projects": [...]}` or `{"query": "..."}`.
fn scope_json(scope: &Scope) -> serde_json::Value {
    match scope {
        Scope::Projects(p) => serde_json::json!({ "projects": p }),
        Scope::Query(q) => serde_json::json!({ "query": q }),
    }
}

/// A scope from JSON: `{"projects": [...]}` or `{"query": "..."}`, or `null` for the default.
fn parse_scope(value: serde_json::Value) -> Result<Option<Scope>, ApiError> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct ScopeBody {
        #[serde(default)]
        projects: Option<Vec<String>>,
        #[serde(default)]
        query: Option<String>,
    }
    if value.is_null() {
        return Ok(None);
    }
    let wrong = |why: String| {
        ApiError::BadRequest(format!(
            "scope: {why}; send {{\"projects\": [\"ENG\"]}}, {{\"query\": \"project = ENG AND labels = shared\"}}, or null for the default"
        ))
    };
    let body: ScopeBody = serde_json::from_value(value).map_err(|e| wrong(e.to_string()))?;
    match (body.projects, body.query) {
        (Some(p), None) => Ok(Some(Scope::Projects(p))),
        (None, Some(q)) => Ok(Some(Scope::Query(q))),
        _ => Err(wrong("give either projects or a query".into())),
    }
}

/// One connection, with its twin count and its scope (`scope`: the one set, or null for the
/// default; `scope_effective`: what it reaches, in words).
async fn one(state: &AppState, c: &Connection) -> Result<Response, ApiError> {
    let json = connection_json(state, c).await?;
    Ok(axum::Json(serde_json::json!({ "connection": json })).into_response())
}

/// What [`one`] answers of the connection.
async fn connection_json(state: &AppState, c: &Connection) -> Result<serde_json::Value, ApiError> {
    let twins = state.store().active_twin_count(c.id).await?;
    let scope = connections::scope(state, c.id).await?;
    let mut shown = ConnectionJson::new(c, twins);
    shown.open_errors = connections::open_errors(state).await?.of(c.id);
    let mut json = serde_json::to_value(shown).map_err(|e| ApiError::Internal(e.to_string()))?;
    json["scope"] = scope
        .set
        .as_ref()
        .map_or(serde_json::Value::Null, scope_json);
    json["scope_effective"] = serde_json::Value::String(scope.effective);
    Ok(json)
}

/// Reads a field that may be `null` as present (`Some(Value::Null)`), unlike `Option`.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<serde_json::Value>, D::Error> {
    serde_json::Value::deserialize(d).map(Some)
}

fn parse_mode(text: &str) -> Result<Mode, ApiError> {
    Mode::parse(text).ok_or_else(|| {
        ApiError::BadRequest(format!(
            "mode '{text}' is not a mode: use \"basic\" or \"script\""
        ))
    })
}

/// `{"connections": [...]}`.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // The shape of `list`'s answer, for the document.
struct ConnectionList {
    connections: Vec<ConnectionJson>,
}

#[utoipa::path(get, operation_id = "list_connections", path = "/connections", tag = "connections", responses(
    (status = 200, description = "Every connection.", body = ConnectionList),
))]
async fn list(_: ApiCaller, State(state): State<AppState>) -> Result<Response, ApiError> {
    let all = connections::list(&state).await?;
    let open = connections::open_errors(&state).await?;
    let json: Vec<_> = all
        .iter()
        .map(|s| {
            let mut shown = ConnectionJson::new(&s.connection, s.twins);
            shown.open_errors = open.of(s.connection.id);
            shown
        })
        .collect();
    Ok(axum::Json(serde_json::json!({ "connections": json })).into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CheckBody {
    url: String,
}

/// What `POST /connections/check` answers.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // The shape of `check`'s answer, for the document.
struct DestinationJson {
    node_url: String,
    name: String,
    tracker: String,
    /// The URL is this node's own: a local connection, with no code.
    local: bool,
    modes: Vec<ModeOfferJson>,
}

#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // The shape of `check`'s answer, for the document.
struct ModeOfferJson {
    /// `basic` or `script`.
    mode: String,
    description: Vec<String>,
    /// Why the destination refuses this mode, or null.
    refusal: Option<String>,
}

/// Reaches a destination node and says which modes it offers.
#[utoipa::path(post, operation_id = "check_destination", path = "/connections/check", tag = "connections", request_body = CheckBody,
    responses((status = 200, description = "The destination.", body = DestinationJson)))]
async fn check(
    _: ApiCaller,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CheckBody>,
) -> Result<Response, ApiError> {
    let found = connections::check_destination(&state, &body.url).await?;
    let modes: Vec<_> = found
        .modes
        .iter()
        .map(|m| {
            serde_json::json!({
                "mode": m.mode.as_str(),
                "description": m.description,
                "refusal": m.refusal,
            })
        })
        .collect();
    Ok(axum::Json(serde_json::json!({
        "node_url": found.node_url,
        "name": found.remote.name,
        "tracker": found.remote.tracker,
        "local": found.local,
        "modes": modes,
    }))
    .into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct InitiateBody {
    to: Option<String>,
    #[serde(default)]
    private: bool,
    mode: String,
    local_name: String,
    remote_name: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    valid_hours: Option<u32>,
    /// The project new items from the remote go to on this node.
    #[serde(default)]
    target_project: Option<String>,
}

/// What `POST /connections` answers.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // The shape of `initiate`'s answer, for the document.
struct Initiated {
    connection: ConnectionJson,
    /// The code the other side accepts; null for a local connection.
    invitation_code: Option<String>,
    /// The other side's Accept page with the code, when it has a URL.
    accept_url: Option<String>,
}

/// Initiates a connection: a Pending one and its invitation code (a local one is Active at once).
#[utoipa::path(post, operation_id = "initiate_connection", path = "/connections", tag = "connections", request_body = InitiateBody,
    responses((status = 201, description = "The connection, initiated.", body = Initiated)))]
async fn initiate(
    _: ApiCaller,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<InitiateBody>,
) -> Result<Response, ApiError> {
    let destination = match (body.to, body.private) {
        (Some(_), true) => {
            return Err(ApiError::BadRequest(
                "give either \"to\" (the destination URL) or \"private\": true, not both".into(),
            ));
        }
        (None, false) => {
            return Err(ApiError::BadRequest(
                "give \"to\" (the destination URL), or \"private\": true when the other side has no URL".into(),
            ));
        }
        (to, _) => to,
    };
    let valid_for = match body.valid_hours {
        Some(h) if (1..=720).contains(&h) => Some(SignedDuration::from_hours(i64::from(h))),
        Some(h) => {
            return Err(ApiError::BadRequest(format!(
                "valid_hours {h} is out of range: choose between 1 and 720"
            )));
        }
        None => None,
    };
    let initiated = connections::initiate(
        &state,
        InitiateRequest {
            destination,
            mode: parse_mode(&body.mode)?,
            local_short_name: body.local_name,
            remote_short_name: body.remote_name,
            name: body.name.unwrap_or_default(),
            description: body.description.unwrap_or_default(),
            valid_for,
            target_project: body.target_project,
        },
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(serde_json::json!({
            "connection": ConnectionJson::new(&initiated.connection, 0),
            "invitation_code": initiated.code,
            "accept_url": initiated.accept_url,
        })),
    )
        .into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CodeBody {
    code: String,
    #[serde(default)]
    local_name: Option<String>,
    #[serde(default)]
    remote_name: Option<String>,
    /// The project new items from the remote go to on this node (accept only).
    #[serde(default)]
    target_project: Option<String>,
}

/// What `POST /invitations/preview` answers.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // The shape of `preview`'s answer, for the document.
struct InvitationPreview {
    connection_id: Uuid,
    connection_name: String,
    mode: String,
    remote_node_name: String,
    remote_url: String,
    local_short_name: String,
    remote_short_name: String,
    expires: String,
}

/// What accepting an invitation code would make, without accepting it.
#[utoipa::path(post, operation_id = "preview_invitation", path = "/invitations/preview", tag = "connections", request_body = CodeBody,
    responses((status = 200, description = "The invitation.", body = InvitationPreview)))]
async fn preview(
    _: ApiCaller,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CodeBody>,
) -> Result<Response, ApiError> {
    let p = connections::preview(&state, &body.code).await?;
    Ok(axum::Json(serde_json::json!({
        "connection_id": p.connection_id,
        "connection_name": p.connection_name,
        "mode": p.mode.as_str(),
        "remote_node_name": p.remote_node_name,
        "remote_url": p.remote_url_display,
        "local_short_name": p.local_short_name,
        "remote_short_name": p.remote_short_name,
        "expires": time(p.expires),
    }))
    .into_response())
}

/// Accepts an invitation code: the connection is Active on both sides.
#[utoipa::path(post, operation_id = "accept_invitation", path = "/invitations/accept", tag = "connections", request_body = CodeBody,
    responses((status = 201, description = "The connection, accepted.", body = OneConnection)))]
async fn accept(
    _: ApiCaller,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CodeBody>,
) -> Result<Response, ApiError> {
    let connection = connections::accept(
        &state,
        AcceptRequest {
            code: body.code,
            local_short_name: body.local_name,
            remote_short_name: body.remote_name,
            target_project: body.target_project,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, one(&state, &connection).await?).into_response())
}

/// One connection; to an admin token, with its rules (`outgoing_script`, `incoming_script`),
/// so that what `PATCH` writes can be read back. Rules may hold credentials for the calls
/// they make, so other tokens do not see them.
#[utoipa::path(get, operation_id = "get_connection", path = "/connections/{name}", tag = "connections", params(ConnectionName),
    responses((status = 200, description = "The connection.", body = OneConnection)))]
async fn show(
    caller: ApiCaller,
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let connection = connections::find(&state, &name).await?;
    let mut json = connection_json(&state, &connection).await?;
    if caller.scope.allows(tandem_store::TokenScope::Admin) {
        json["outgoing_script"] = connection.outgoing_script.clone().into();
        json["incoming_script"] = connection.incoming_script.clone().into();
    }
    Ok(axum::Json(serde_json::json!({ "connection": json })).into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct UpdateBody {
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    mode: Option<String>,
    #[serde(default)]
    outgoing_script: Option<String>,
    #[serde(default)]
    incoming_script: Option<String>,
    /// `{"projects": [...]}`, `{"query": "..."}`, or `null` for the default.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<ScopeJson>)]
    scope: Option<serde_json::Value>,
    /// A project key, or `null` for none.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    target_project: Option<serde_json::Value>,
}

/// Changes a connection: description, mode, rules, scope, target project.
#[utoipa::path(patch, operation_id = "update_connection", path = "/connections/{name}", tag = "connections", params(ConnectionName),
    request_body = UpdateBody,
    responses((status = 200, description = "The connection, changed.", body = OneConnection)))]
async fn update(
    _: ApiCaller,
    State(state): State<AppState>,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<UpdateBody>,
) -> Result<Response, ApiError> {
    let current = connections::find(&state, &name).await?;
    let mode = body.mode.as_deref().map(parse_mode).transpose()?;
    let scope = body.scope.map(parse_scope).transpose()?;
    let mut connection =
        connections::update_info(&state, current.id, body.description, mode).await?;
    if body.outgoing_script.is_some() || body.incoming_script.is_some() {
        let outgoing = body
            .outgoing_script
            .unwrap_or_else(|| connection.outgoing_script.clone());
        let incoming = body
            .incoming_script
            .unwrap_or_else(|| connection.incoming_script.clone());
        connection = connections::save_rules(&state, current.id, &outgoing, &incoming).await?;
    }
    if let Some(target) = body.target_project {
        let target = match &target {
            serde_json::Value::Null => None,
            serde_json::Value::String(key) => Some(key.as_str()),
            _ => {
                return Err(ApiError::BadRequest(
                    "target_project: send a project key (\"ENG\") or null for none".into(),
                ));
            }
        };
        connection = connections::set_target_project(&state, current.id, target).await?;
    }
    if let Some(scope) = scope {
        connections::set_scope(&state, current.id, scope).await?;
    }
    one(&state, &connection).await
}

#[utoipa::path(post, operation_id = "activate_connection", path = "/connections/{name}/activate", tag = "connections",
    params(ConnectionName),
    responses((status = 200, description = "The connection, active.", body = OneConnection)))]
async fn activate(
    _: ApiCaller,
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let id = connections::find(&state, &name).await?.id;
    one(&state, &connections::activate(&state, id).await?).await
}

#[utoipa::path(post, operation_id = "deactivate_connection", path = "/connections/{name}/deactivate", tag = "connections",
    params(ConnectionName),
    responses((status = 200, description = "The connection, deactivated.", body = OneConnection)))]
async fn deactivate(
    _: ApiCaller,
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let id = connections::find(&state, &name).await?.id;
    one(&state, &connections::deactivate(&state, id).await?).await
}

/// What `DELETE /connections/{name}` answers.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // The shape of `delete`'s answer, for the document.
struct Deleted {
    /// The connection's name.
    deleted: String,
    /// Whether the remote was told.
    remote_told: bool,
    /// The remote never accepted the connection.
    never_accepted: bool,
}

#[utoipa::path(delete, operation_id = "delete_connection", path = "/connections/{name}", tag = "connections", params(ConnectionName),
    responses((status = 200, description = "The connection is deleted.", body = Deleted)))]
async fn delete(
    _: ApiCaller,
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let id = connections::find(&state, &name).await?.id;
    let deleted = connections::delete(&state, id).await?;
    Ok(axum::Json(serde_json::json!({
        "deleted": deleted.name,
        "remote_told": deleted.remote_told,
        "never_accepted": deleted.never_accepted,
    }))
    .into_response())
}

/// A new invitation code for a Pending connection this node initiated; the old one stops
/// working.
#[utoipa::path(post, path = "/connections/{name}/invitation", tag = "connections",
    params(ConnectionName), responses(
    (status = 201, description = "The new code.", body = NewInvitation),
    (status = 409, description = "The connection is not Pending, or not initiated here.", body = ApiErrorBody),
))]
async fn new_invitation(
    _: ApiCaller,
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let id = connections::find(&state, &name).await?.id;
    let issued = connections::new_invitation_code(&state, id).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(serde_json::json!({
            "connection": ConnectionJson::new(&issued.connection, 0),
            "invitation_code": issued.code,
        })),
    )
        .into_response())
}

/// What `POST /connections/{name}/invitation` answers.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // The shape of `new_invitation`'s answer, for the document.
struct NewInvitation {
    connection: ConnectionJson,
    invitation_code: String,
}

/// What `GET /connections/{name}/statistics` answers.
#[derive(Serialize, ToSchema)]
struct StatisticsJson {
    twins: u64,
    /// Messages this node sent and the remote acknowledged (stored on its side).
    events_sent: u64,
    /// Messages this node received from the remote (stored and acknowledged).
    events_received: u64,
    /// Messages waiting for the remote.
    queued: u64,
    /// Messages received from the remote and not applied yet.
    incoming: u64,
    /// The node's item changes the sync engine has not looked at yet (on any connection),
    /// counted up to one batch of 200.
    changes_waiting: u64,
    errors: u64,
}

#[utoipa::path(get, operation_id = "connection_statistics", path = "/connections/{name}/statistics", tag = "connections",
    params(ConnectionName),
    responses((status = 200, description = "The connection's counts.", body = StatisticsJson)))]
async fn statistics(
    _: ApiCaller,
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let id = connections::find(&state, &name).await?.id;
    let s = connections::statistics(&state, id).await?;
    Ok(axum::Json(StatisticsJson {
        twins: s.twins,
        events_sent: s.events_sent,
        events_received: s.events_received,
        queued: s.queued,
        incoming: s.incoming,
        changes_waiting: s.changes_waiting,
        errors: s.errors,
    })
    .into_response())
}
