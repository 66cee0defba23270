//! The REST API under `/api/v1/`: node information, projects, items, comments, attachments,
//! history, the change events, and connections ([`connections`]). Every route but the API's
//! own OpenAPI document ([`openapi`]) needs a bearer token; the routes other nodes call are in
//! `crate::peer`, under `/node/v1`.
//!
//! Each handler carries its `#[utoipa::path]` and is registered with `utoipa_axum::routes!`,
//! which adds its route and its path item together; `openapi::tests` reads the node's route
//! table and fails on any route under `/api/v1` the document lacks, or lists without serving.

pub mod connections;
pub mod openapi;
pub mod reconcile;
pub mod servicenow;
pub mod sync;
pub mod tokens;
pub mod wire;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tandem_model::{Actor, ItemKey, NewAttachment, NewComment, NewProject, Person, ProjectKey};
use tandem_store::{MAX_PAGE, Page};

use crate::auth::ApiCaller;
use crate::error::{ApiError, ApiJson};
use crate::state::AppState;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;
use wire::*;

type ApiResult<T> = Result<T, ApiError>;

/// The routes of `/api/v1` (paths relative to it), each with its path item.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(openapi::served))
        .routes(routes!(node_info))
        .routes(routes!(list_projects, create_project))
        .routes(routes!(get_project))
        .routes(routes!(search_items, create_item))
        .routes(routes!(get_item, update_item))
        .routes(routes!(item_history))
        .routes(routes!(add_comment))
        .routes(routes!(edit_comment, delete_comment))
        .routes(routes!(add_attachment).layer(DefaultBodyLimit::max(
            tandem_model::MAX_ATTACHMENT + 64 * 1024,
        )))
        .routes(routes!(get_attachment, remove_attachment))
        .routes(routes!(list_events))
        .merge(connections::routes())
        .merge(sync::routes())
        .merge(reconcile::routes())
        .merge(tokens::routes())
        .merge(servicenow::routes())
}

/// The router nested at `/api/v1`: [`routes`], and the API's answers to a path or method it
/// does not have.
pub fn router() -> Router<AppState> {
    let (router, _) = routes().split_for_parts();
    router
        .fallback(|| async { ApiError::NotFound("no such API endpoint".into()) })
        .method_not_allowed_fallback(|method: axum::http::Method| async move {
            ApiError::MethodNotAllowed(format!("{method} is not supported on this endpoint"))
        })
}

/// What `GET /node` answers.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // The shape of `node_info`'s answer, for the document.
struct NodeInfo {
    id: uuid::Uuid,
    name: String,
    version: String,
    /// `builtin` or `servicenow`.
    tracker: String,
    node_url: String,
    /// The node's Ed25519 public key, base64.
    public_key: String,
    /// A node on ServiceNow only: how syncing with the instance goes.
    servicenow: Option<ServiceNowInfo>,
}

#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // The shape of `node_info`'s answer, for the document.
struct ServiceNowInfo {
    tables: Vec<String>,
    poll_interval_secs: u64,
    last_poll: Option<String>,
    last_error: Option<String>,
    records_pulled: u64,
    items_pushed: u64,
    requests: u64,
    /// To an admin token only.
    instance_url: Option<String>,
    /// To an admin token only: whom the node signs in to the instance as.
    user: Option<String>,
}

/// What this node is.
#[utoipa::path(get, path = "/node", tag = "node", responses(
    (status = 200, description = "The node.", body = NodeInfo),
))]
async fn node_info(caller: ApiCaller, State(state): State<AppState>) -> impl IntoResponse {
    let settings = state.settings();
    let mut info = serde_json::json!({
        "id": state.identity().id.to_string(),
        "name": settings.name,
        "version": env!("CARGO_PKG_VERSION"),
        "tracker": settings.tracker.as_str(),
        "node_url": settings.node_url,
        "public_key": state.identity().public_key_base64(),
    });
    // A node on ServiceNow: how syncing with the instance goes.
    if let (Some(c), Some(s)) = (state.servicenow_config(), state.bridge_status()) {
        info["servicenow"] = serde_json::json!({
            "tables": c.tables,
            "poll_interval_secs": c.poll_interval.as_secs(),
            "last_poll": s.last_poll.map(|t| t.to_string()),
            "last_error": s.last_error,
            "records_pulled": s.pulled,
            "items_pushed": s.pushed,
            "requests": s.requests,
        });
        // Where the instance is and whom the node signs in as: for admins only.
        if caller.scope.allows(tandem_store::TokenScope::Admin) {
            info["servicenow"]["instance_url"] = c.instance_url.clone().into();
            info["servicenow"]["user"] = c.user.clone().into();
        }
    }
    axum::Json(info)
}

/// The item `raw` names: its key, or on a node that serves ServiceNow its record's number.
async fn item_key(state: &AppState, raw: &str) -> ApiResult<ItemKey> {
    match raw.parse() {
        Ok(key) => Ok(key),
        Err(_) => crate::servicenow::keys::resolve(state, raw)
            .await?
            .ok_or_else(|| {
                ApiError::NotFound(format!(
                    "item {raw} does not exist (item keys look like OPS-12)"
                ))
            }),
    }
}

fn project_key(raw: &str) -> ApiResult<ProjectKey> {
    raw.parse()
        .map_err(|_| ApiError::NotFound(format!("project {raw} does not exist")))
}

#[utoipa::path(get, path = "/projects", tag = "projects", responses(
    (status = 200, description = "Every project.", body = Vec<ProjectJson>),
))]
async fn list_projects(_: ApiCaller, State(state): State<AppState>) -> ApiResult<Response> {
    let projects = state.store().projects().await?;
    let body: Vec<ProjectJson> = projects.iter().map(Into::into).collect();
    Ok(axum::Json(body).into_response())
}

#[utoipa::path(post, path = "/projects", tag = "projects", request_body = CreateProject, responses(
    (status = 201, description = "The project, created.", body = ProjectJson),
    (status = 409, description = "A project with this key exists.", body = crate::error::ApiErrorBody),
))]
async fn create_project(
    _: ApiCaller,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CreateProject>,
) -> ApiResult<Response> {
    let key = body
        .key
        .parse()
        .map_err(|e: tandem_model::ValidationError| ApiError::BadRequest(e.to_string()))?;
    let project = state
        .store()
        .create_project(NewProject {
            key,
            name: body.name,
            description: body.description,
        })
        .await?;
    Ok((StatusCode::CREATED, axum::Json(ProjectJson::from(&project))).into_response())
}

#[utoipa::path(get, path = "/projects/{key}", tag = "projects",
    params(("key" = String, Path, description = "A project key, like OPS.")),
    responses((status = 200, description = "The project.", body = ProjectJson)),
)]
async fn get_project(
    _: ApiCaller,
    State(state): State<AppState>,
    Path(key): Path<String>,
) -> ApiResult<Response> {
    let key = project_key(&key)?;
    let project = state
        .store()
        .project(&key)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("project {key} does not exist")))?;
    Ok(axum::Json(ProjectJson::from(&project)).into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct SearchParams {
    /// A query (see the README's Queries); none or empty: every item.
    query: Option<String>,
    /// Items to skip.
    #[serde(default)]
    offset: u32,
    /// At most this many items (1–1000, default 50).
    limit: Option<u32>,
}

/// A page of search results.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // The shape of `search_items`'s answer, for the document.
struct ItemPage {
    /// How many items match in all.
    total: u64,
    offset: u32,
    limit: u32,
    items: Vec<ItemJson>,
}

#[utoipa::path(get, path = "/items", tag = "items", params(SearchParams), responses(
    (status = 200, description = "The matching items.", body = ItemPage),
    (status = 400, description = "The query or the page is not understood.", body = crate::error::ApiErrorBody),
))]
async fn search_items(
    _: ApiCaller,
    State(state): State<AppState>,
    params: Result<Query<SearchParams>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Response> {
    let Query(params) = params.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let query = match params.query.as_deref().map(str::trim) {
        None | Some("") => tandem_model::query::Query::all(),
        // On a node that serves ServiceNow, `key = INC0010005` names the record's item.
        Some(text) => crate::servicenow::keys::parse_query(&state, text)
            .await?
            .map_err(|e| ApiError::BadRequest(format!("invalid query: {e}")))?,
    };
    let limit = params.limit.unwrap_or(50);
    if limit == 0 || limit > MAX_PAGE {
        return Err(ApiError::BadRequest(format!(
            "limit must be between 1 and {MAX_PAGE}"
        )));
    }
    let page = Page {
        offset: params.offset,
        limit,
    };
    let result = state
        .store()
        .search_items(&query, page, jiff::Timestamp::now())
        .await?;
    let items: Vec<ItemJson> = result.items.iter().map(Into::into).collect();
    Ok(axum::Json(serde_json::json!({
        "total": result.total,
        "offset": page.offset,
        "limit": page.limit,
        "items": items,
    }))
    .into_response())
}

#[utoipa::path(post, path = "/items", tag = "items", request_body = CreateItem, responses(
    (status = 201, description = "The item, created.", body = ItemJson,
        headers(("Location" = String, description = "The item's URL."))),
))]
async fn create_item(
    caller: ApiCaller,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CreateItem>,
) -> ApiResult<Response> {
    let item = body.into_new_item(&caller.name)?;
    let created = state
        .store()
        .create_item(item, &Actor::user(&caller.name))
        .await?;
    let location = format!("/api/v1/items/{}", created.key);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        axum::Json(ItemJson::from(&created)),
    )
        .into_response())
}

async fn load_item(state: &AppState, raw: &str) -> ApiResult<tandem_model::Item> {
    let key = item_key(state, raw).await?;
    state
        .store()
        .item(&key)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("item {key} does not exist")))
}

#[utoipa::path(get, path = "/items/{key}", tag = "items", params(("key" = String, Path, description = "An item key, like OPS-12.")), responses(
    (status = 200, description = "The item, with its comments and attachments.", body = ItemJson),
))]
async fn get_item(
    _: ApiCaller,
    State(state): State<AppState>,
    Path(key): Path<String>,
) -> ApiResult<Response> {
    let item = load_item(&state, &key).await?;
    Ok(axum::Json(ItemJson::from(&item)).into_response())
}

#[utoipa::path(patch, path = "/items/{key}", tag = "items", params(("key" = String, Path, description = "An item key, like OPS-12.")),
    request_body = PatchItem, responses(
    (status = 200, description = "The item, changed.", body = ItemJson),
    (status = 409, description = "The item changed since `version`.", body = crate::error::ApiErrorBody),
))]
async fn update_item(
    caller: ApiCaller,
    State(state): State<AppState>,
    Path(key): Path<String>,
    ApiJson(body): ApiJson<PatchItem>,
) -> ApiResult<Response> {
    let key = item_key(&state, &key).await?;
    let patch = body.into_patch()?;
    let item = state
        .store()
        .update_item(&key, patch, &Actor::user(&caller.name))
        .await?;
    Ok(axum::Json(ItemJson::from(&item)).into_response())
}

#[utoipa::path(get, path = "/items/{key}/history", tag = "items", params(("key" = String, Path, description = "An item key, like OPS-12.")), responses(
    (status = 200, description = "Every change of the item: who, when, field, from, to.", body = Vec<ChangeJson>),
))]
async fn item_history(
    _: ApiCaller,
    State(state): State<AppState>,
    Path(key): Path<String>,
) -> ApiResult<Response> {
    let key = item_key(&state, &key).await?;
    let history = state.store().history(&key).await?;
    let body: Vec<ChangeJson> = history.iter().map(Into::into).collect();
    Ok(axum::Json(body).into_response())
}

#[utoipa::path(post, path = "/items/{key}/comments", tag = "items", params(("key" = String, Path, description = "An item key, like OPS-12.")),
    request_body = CreateComment, responses(
    (status = 201, description = "The comment, added.", body = CommentJson),
))]
async fn add_comment(
    caller: ApiCaller,
    State(state): State<AppState>,
    Path(key): Path<String>,
    ApiJson(body): ApiJson<CreateComment>,
) -> ApiResult<Response> {
    let key = item_key(&state, &key).await?;
    let author = body.author.map_or_else(
        || Person {
            name: caller.name.clone(),
            email: None,
        },
        Into::into,
    );
    let comment = state
        .store()
        .add_comment(
            &key,
            NewComment {
                author,
                body: body.body,
                internal: body.internal,
                origin: None,
            },
            &Actor::user(&caller.name),
        )
        .await?;
    Ok((StatusCode::CREATED, axum::Json(CommentJson::from(&comment))).into_response())
}

#[utoipa::path(patch, path = "/items/{key}/comments/{id}", tag = "items",
    params(("key" = String, Path, description = "An item key, like OPS-12."), ("id" = i64, Path, description = "The comment's id.")), request_body = EditComment, responses(
    (status = 200, description = "The comment, edited.", body = CommentJson),
))]
async fn edit_comment(
    caller: ApiCaller,
    State(state): State<AppState>,
    Path((key, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<EditComment>,
) -> ApiResult<Response> {
    let key = item_key(&state, &key).await?;
    let id: i64 = id
        .parse()
        .map_err(|_| ApiError::NotFound(format!("comment {id} does not exist")))?;
    let comment = state
        .store()
        .edit_comment(&key, id, &body.body, &Actor::user(&caller.name))
        .await?;
    Ok(axum::Json(CommentJson::from(&comment)).into_response())
}

#[utoipa::path(delete, path = "/items/{key}/comments/{id}", tag = "items",
    params(("key" = String, Path, description = "An item key, like OPS-12."), ("id" = i64, Path, description = "The comment's id.")), responses(
    (status = 204, description = "The comment is deleted."),
))]
async fn delete_comment(
    caller: ApiCaller,
    State(state): State<AppState>,
    Path((key, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let key = item_key(&state, &key).await?;
    let id: i64 = id
        .parse()
        .map_err(|_| ApiError::NotFound(format!("comment {id} does not exist")))?;
    state
        .store()
        .delete_comment(&key, id, &Actor::user(&caller.name))
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct AttachParams {
    /// The file's name, for a raw body (not multipart).
    filename: Option<String>,
}

/// A `multipart/form-data` upload: each part with a file name is an attachment.
#[derive(ToSchema)]
#[allow(dead_code)] // The shape of `add_attachment`'s multipart body, for the document.
struct AttachmentUpload {
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// A file's bytes.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)] // Bodies in and out of the attachment routes, for the document.
struct FileBytes(Vec<u8>);

/// Takes `multipart/form-data` (one attachment per file part) or a raw body with its
/// `Content-Type` and `?filename=`.
#[utoipa::path(post, path = "/items/{key}/attachments", tag = "items",
    params(("key" = String, Path, description = "An item key, like OPS-12."), AttachParams),
    request_body(
        description = "`multipart/form-data` file parts, or the file itself as the body with its \
            `Content-Type` and `?filename=` (up to 25 MB).",
        content(
            (AttachmentUpload = "multipart/form-data"),
            (FileBytes = "application/octet-stream"),
        ),
    ),
    responses(
        (status = 201, description = "The attachments, added.", body = Vec<AttachmentJson>),
    ))]
async fn add_attachment(
    caller: ApiCaller,
    State(state): State<AppState>,
    Path(key): Path<String>,
    Query(params): Query<AttachParams>,
    headers: HeaderMap,
    request: Request,
) -> ApiResult<Response> {
    let key = item_key(&state, &key).await?;
    let author = Person {
        name: caller.name.clone(),
        email: None,
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream")
        .to_owned();
    let mut uploads = Vec::new();
    if content_type.starts_with("multipart/form-data") {
        let mut multipart = Multipart::from_request(request, &state)
            .await
            .map_err(|e| ApiError::BadRequest(e.body_text()))?;
        while let Some(field) = multipart
            .next_field()
            .await
            .map_err(|e| ApiError::BadRequest(format!("malformed multipart body: {e}")))?
        {
            let Some(filename) = field.file_name().map(str::to_owned) else {
                continue;
            };
            let mime_type = field
                .content_type()
                .map(str::to_owned)
                .unwrap_or_else(|| guess_mime(&filename));
            let bytes = field
                .bytes()
                .await
                .map_err(|e| ApiError::BadRequest(format!("cannot read file {filename}: {e}")))?;
            uploads.push(NewAttachment {
                filename,
                mime_type,
                author: author.clone(),
                bytes: bytes.to_vec(),
            });
        }
        if uploads.is_empty() {
            return Err(ApiError::BadRequest(
                "the multipart body has no file part (send the file with a filename)".into(),
            ));
        }
    } else {
        let filename = params.filename.ok_or_else(|| {
            ApiError::BadRequest(
                "name the file: ?filename=report.pdf (or send multipart/form-data)".into(),
            )
        })?;
        let bytes = Bytes::from_request(request, &state)
            .await
            .map_err(|e| ApiError::PayloadTooLarge(e.body_text()))?;
        uploads.push(NewAttachment {
            filename,
            mime_type: content_type,
            author,
            bytes: bytes.to_vec(),
        });
    }
    let actor = Actor::user(&caller.name);
    let mut created = Vec::new();
    for upload in uploads {
        let a = state.store().add_attachment(&key, upload, &actor).await?;
        created.push(AttachmentJson::new(&key.to_string(), &a));
    }
    Ok((StatusCode::CREATED, axum::Json(created)).into_response())
}

fn parse_attachment_id(raw: &str) -> ApiResult<i64> {
    raw.parse()
        .map_err(|_| ApiError::NotFound(format!("attachment {raw} does not exist")))
}

#[utoipa::path(get, path = "/items/{key}/attachments/{id}", tag = "items",
    params(("key" = String, Path, description = "An item key, like OPS-12."), ("id" = i64, Path, description = "The attachment's id.")), responses(
    (status = 200, description = "The attachment's bytes, as a download: its own type for raster \
        images, PDF and plain text, `application/octet-stream` for anything else.",
        content_type = "application/octet-stream", body = FileBytes),
))]
async fn get_attachment(
    _: ApiCaller,
    State(state): State<AppState>,
    Path((key, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let key = item_key(&state, &key).await?;
    let id = parse_attachment_id(&id)?;
    attachment_response(&state, &key, id).await
}

/// The attachment's bytes, served as a download so a browser never renders them in the
/// node's origin.
pub async fn attachment_response(state: &AppState, key: &ItemKey, id: i64) -> ApiResult<Response> {
    let (meta, bytes) =
        state.store().attachment(key, id).await?.ok_or_else(|| {
            ApiError::NotFound(format!("attachment {id} of {key} does not exist"))
        })?;
    let disposition = format!(
        "attachment; filename=\"{}\"",
        meta.filename.replace(['"', '\\', '\r', '\n'], "_")
    );
    Ok((
        [
            (
                header::CONTENT_TYPE,
                served_type(&meta.mime_type).to_owned(),
            ),
            (header::CONTENT_DISPOSITION, disposition),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
            // Opened anyway (a direct link), it runs in a sandbox with no script and no
            // access to the node's origin.
            (
                header::CONTENT_SECURITY_POLICY,
                "sandbox; default-src 'none'".to_owned(),
            ),
        ],
        bytes,
    )
        .into_response())
}

/// The type an attachment is served with: its own for raster images, PDF and plain text, and
/// `application/octet-stream` for anything else (HTML, SVG, script… whatever the uploader or a
/// peer called it), so a browser never gives it a meaning of its own.
fn served_type(declared: &str) -> &'static str {
    let essence = declared
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "image/png" => "image/png",
        "image/jpeg" => "image/jpeg",
        "image/gif" => "image/gif",
        "image/webp" => "image/webp",
        "application/pdf" => "application/pdf",
        "text/plain" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[utoipa::path(delete, path = "/items/{key}/attachments/{id}", tag = "items",
    params(("key" = String, Path, description = "An item key, like OPS-12."), ("id" = i64, Path, description = "The attachment's id.")), responses(
    (status = 204, description = "The attachment is removed."),
))]
async fn remove_attachment(
    caller: ApiCaller,
    State(state): State<AppState>,
    Path((key, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let key = item_key(&state, &key).await?;
    let id = parse_attachment_id(&id)?;
    state
        .store()
        .remove_attachment(&key, id, &Actor::user(&caller.name))
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct EventParams {
    /// Events after this sequence number (default 0: from the first).
    #[serde(default)]
    after: i64,
    /// At most this many (1–1000, default 100).
    limit: Option<u32>,
}

#[utoipa::path(get, path = "/events", tag = "events", params(EventParams), responses(
    (status = 200, description = "The change events after `after`, in order.", body = Vec<EventJson>),
    (status = 400, description = "The parameters are not understood.", body = crate::error::ApiErrorBody),
))]
async fn list_events(
    _: ApiCaller,
    State(state): State<AppState>,
    params: Result<Query<EventParams>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Response> {
    let Query(params) = params.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let limit = params.limit.unwrap_or(100).clamp(1, MAX_PAGE);
    let events = state.store().events_after(params.after, limit).await?;
    let body: Vec<EventJson> = events.iter().map(Into::into).collect();
    Ok(axum::Json(body).into_response())
}

/// A MIME type from the file name, for uploads that do not say.
pub fn guess_mime(filename: &str) -> String {
    mime_guess::from_path(filename)
        .first_or_octet_stream()
        .to_string()
}
