//! The REST API under `/api/v1/`: node information, projects, items, comments, attachments,
//! history, the change events, and connections ([`connections`]). Every route needs a bearer
//! token; the routes other nodes call are in `crate::peer`, under `/node/v1`.

pub mod connections;
pub mod reconcile;
pub mod sync;
pub mod wire;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use serde::Deserialize;
use tandem_model::{Actor, ItemKey, NewAttachment, NewComment, NewProject, Person, ProjectKey};
use tandem_store::{MAX_PAGE, Page};

use crate::auth::ApiCaller;
use crate::error::{ApiError, ApiJson};
use crate::state::AppState;
use wire::*;

type ApiResult<T> = Result<T, ApiError>;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/node", get(node_info))
        .route("/projects", get(list_projects).post(create_project))
        .route("/projects/{key}", get(get_project))
        .route("/items", get(search_items).post(create_item))
        .route("/items/{key}", get(get_item).patch(update_item))
        .route("/items/{key}/history", get(item_history))
        .route("/items/{key}/comments", post(add_comment))
        .route(
            "/items/{key}/comments/{id}",
            patch(edit_comment).delete(delete_comment),
        )
        .route(
            "/items/{key}/attachments",
            post(add_attachment).layer(DefaultBodyLimit::max(
                tandem_model::MAX_ATTACHMENT + 64 * 1024,
            )),
        )
        .route(
            "/items/{key}/attachments/{id}",
            get(get_attachment).delete(remove_attachment),
        )
        .route("/events", get(list_events))
        .merge(connections::router())
        .merge(sync::router())
        .merge(reconcile::router())
        .fallback(|| async { ApiError::NotFound("no such API endpoint".into()) })
        .method_not_allowed_fallback(|method: axum::http::Method| async move {
            ApiError::MethodNotAllowed(format!("{method} is not supported on this endpoint"))
        })
}

/// What this node is.
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

async fn list_projects(_: ApiCaller, State(state): State<AppState>) -> ApiResult<Response> {
    let projects = state.store().projects().await?;
    let body: Vec<ProjectJson> = projects.iter().map(Into::into).collect();
    Ok(axum::Json(body).into_response())
}

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

#[derive(Debug, Deserialize)]
struct SearchParams {
    query: Option<String>,
    #[serde(default)]
    offset: u32,
    limit: Option<u32>,
}

async fn search_items(
    _: ApiCaller,
    State(state): State<AppState>,
    params: Result<Query<SearchParams>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Response> {
    let Query(params) = params.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let query = match params.query.as_deref().map(str::trim) {
        None | Some("") => tandem_model::query::Query::all(),
        Some(text) => tandem_model::query::Query::parse(text)
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

async fn get_item(
    _: ApiCaller,
    State(state): State<AppState>,
    Path(key): Path<String>,
) -> ApiResult<Response> {
    let item = load_item(&state, &key).await?;
    Ok(axum::Json(ItemJson::from(&item)).into_response())
}

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

#[derive(Debug, Deserialize)]
struct AttachParams {
    filename: Option<String>,
}

/// Takes `multipart/form-data` (one attachment per file part) or a raw body with its
/// `Content-Type` and `?filename=`.
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

#[derive(Debug, Deserialize)]
struct EventParams {
    #[serde(default)]
    after: i64,
    limit: Option<u32>,
}

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
