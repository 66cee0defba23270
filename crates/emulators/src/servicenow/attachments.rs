//! The Attachment API (`/api/now/attachment`, tracker-apis.md §1.12): list and query metadata,
//! read one, download the bytes, upload a raw body or a multipart form, delete. Metadata rows
//! live in `sys_attachment`, so the Table API reads them too.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::error::ApiError;
use super::records::{Record, val};
use super::render::{RenderOptions, render};
use super::table::{Params, list_records};
use super::{AppState, Caller, Shared, base_url, lock};

/// `GET /api/now/attachment?sysparm_query=table_name=incident^table_sys_id=…`.
pub async fn list(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    pairs: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let params = Params::parse(pairs, base_url(&state, &headers))?;
    list_records(&state, "sys_attachment", &params, uri.path())
}

fn metadata_json(state: &Shared, record: &Record, base_url: &str) -> serde_json::Value {
    let data = lock(&state.data);
    let opts = RenderOptions {
        base_url: base_url.to_owned(),
        ..RenderOptions::default()
    };
    match data.table("sys_attachment") {
        Ok(t) => render(&data, &t.def, record, &opts),
        Err(_) => json!({}),
    }
}

fn find(state: &Shared, sys_id: &str) -> Result<Record, ApiError> {
    lock(&state.data)
        .get("sys_attachment", sys_id)
        .cloned()
        .map_err(|_| ApiError::no_record())
}

/// `GET /api/now/attachment/{sys_id}`.
pub async fn metadata(
    State(state): State<AppState>,
    Path(sys_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let record = find(&state, &sys_id)?;
    let base = base_url(&state, &headers);
    Ok(axum::Json(json!({ "result": metadata_json(&state, &record, &base) })).into_response())
}

/// `GET /api/now/attachment/{sys_id}/file`: the bytes, with the stored content type and the
/// metadata in `X-Attachment-Metadata`.
pub async fn download(
    State(state): State<AppState>,
    Path(sys_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let record = find(&state, &sys_id)?;
    let bytes = lock(&state.data)
        .attachment_bytes(&sys_id)
        .map(<[u8]>::to_vec)
        .ok_or_else(ApiError::no_record)?;
    let base = base_url(&state, &headers);
    let meta = metadata_json(&state, &record, &base).to_string();
    let mut response = bytes.into_response();
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(val(&record, "content_type")) {
        h.insert(header::CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&meta) {
        h.insert("x-attachment-metadata", v);
    }
    Ok(response)
}

fn created(state: &Shared, record: &Record, base: &str) -> Response {
    let location = format!("{base}/api/now/attachment/{}", val(record, "sys_id"));
    let body = json!({ "result": metadata_json(state, record, base) });
    let mut response = (StatusCode::CREATED, axum::Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    response
}

/// Stores an upload after checking its target, answering 404 when the record is missing.
fn store(
    state: &Shared,
    target: (&str, &str),
    file_name: &str,
    content_type: &str,
    bytes: Vec<u8>,
    base: &str,
    user: &str,
) -> Result<Record, ApiError> {
    let (table, sys_id) = target;
    let mut data = lock(&state.data);
    data.table(table)?;
    data.get(table, sys_id)?;
    Ok(data.add_attachment(table, sys_id, file_name, content_type, bytes, base, user)?)
}

/// `POST /api/now/attachment/file?table_name=…&table_sys_id=…&file_name=…`: the raw body is the
/// file, its `Content-Type` is mandatory.
pub async fn upload_raw(
    State(state): State<AppState>,
    Extension(Caller(user)): Extension<Caller>,
    headers: HeaderMap,
    pairs: Result<Query<Vec<(String, String)>>, QueryRejection>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let Query(pairs) =
        pairs.map_err(|e| ApiError::bad_request("Invalid query parameters", e.body_text()))?;
    let param = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .filter(|v| !v.is_empty())
            .ok_or_else(|| {
                ApiError::bad_request(
                    "Missing parameter",
                    format!("{name} is required: POST /api/now/attachment/file?table_name=…&table_sys_id=…&file_name=…"),
                )
            })
    };
    let (table, sys_id, file_name) = (
        param("table_name")?,
        param("table_sys_id")?,
        param("file_name")?,
    );
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| {
            ApiError::bad_request(
                "Content-Type is required",
                "send the file's MIME type as Content-Type",
            )
        })?
        .to_owned();
    let base = base_url(&state, &headers);
    let record = store(
        &state,
        (&table, &sys_id),
        &file_name,
        &content_type,
        body.to_vec(),
        &base,
        &user,
    )?;
    Ok(created(&state, &record, &base))
}

/// `POST /api/now/attachment/upload`: `multipart/form-data` with `table_name`,
/// `table_sys_id`, then the file part (ServiceNow's examples name it `uploadFile`).
pub async fn upload_multipart(
    State(state): State<AppState>,
    Extension(Caller(user)): Extension<Caller>,
    headers: HeaderMap,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<Response, ApiError> {
    let bad = |detail: String| ApiError::bad_request("Failed to create the attachment", detail);
    let mut multipart = multipart.map_err(|e| bad(e.body_text()))?;
    let (mut table, mut sys_id) = (None, None);
    let base = base_url(&state, &headers);
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| bad(e.body_text()))?
    {
        match (
            field.name().map(str::to_owned),
            field.file_name().map(str::to_owned),
        ) {
            (Some(name), None) if name == "table_name" || name == "table_sys_id" => {
                let text = field.text().await.map_err(|e| bad(e.body_text()))?;
                if name == "table_name" {
                    table = Some(text);
                } else {
                    sys_id = Some(text);
                }
            }
            (_, Some(file_name)) => {
                let (Some(table), Some(sys_id)) = (table.as_deref(), sys_id.as_deref()) else {
                    return Err(bad(
                        "table_name and table_sys_id must come before the file part".into(),
                    ));
                };
                let content_type = field
                    .content_type()
                    .unwrap_or("application/octet-stream")
                    .to_owned();
                let bytes = field.bytes().await.map_err(|e| bad(e.body_text()))?;
                let record = store(
                    &state,
                    (table, sys_id),
                    &file_name,
                    &content_type,
                    bytes.to_vec(),
                    &base,
                    &user,
                )?;
                return Ok(created(&state, &record, &base));
            }
            _ => {}
        }
    }
    Err(bad("the form has no file part".into()))
}

/// `DELETE /api/now/attachment/{sys_id}`: 204.
pub async fn delete(
    State(state): State<AppState>,
    Path(sys_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    lock(&state.data)
        .delete_attachment(&sys_id)
        .map_err(|_| ApiError::no_record())?;
    Ok(StatusCode::NO_CONTENT)
}
