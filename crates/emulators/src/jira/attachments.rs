//! Attachments (tracker-apis.md §2.3): upload as multipart part `file` with
//! `X-Atlassian-Token: no-check` (refused without it, as Jira's XSRF check refuses it), the
//! size limit answered 413, metadata, download (`redirect=true` answers 303, as Jira Cloud
//! sends clients to its media store; `redirect=false` answers the bytes, with `Range`), delete,
//! and the site's settings (`/attachment/meta`: enabled, the upload limit).

use axum::Extension;
use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::error::ApiError;
use super::render::timestamp;
use super::webhooks::{self, Event};
use super::{Api, AppState, Caller, Params, base_url, lock};

/// `POST /rest/api/{2,3}/issue/{key}/attachments` → 200 with the new `Attachment`s.
pub async fn upload(
    State(state): State<AppState>,
    Extension(api): Extension<Api>,
    Extension(Caller(caller)): Extension<Caller>,
    headers: HeaderMap,
    Path(key): Path<String>,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<Response, ApiError> {
    let xsrf = headers
        .get("x-atlassian-token")
        .and_then(|v| v.to_str().ok());
    if !xsrf.is_some_and(|v| v.eq_ignore_ascii_case("no-check")) {
        return Err(ApiError::forbidden("XSRF check failed"));
    }
    let id = lock(&state.site).issue(&key)?.id;
    let mut multipart = multipart.map_err(|e| {
        ApiError::bad_request(format!("The request is not a multipart upload: {e}"))
    })?;
    let limit = lock(&state.site).max_attachment_bytes;
    let mut files = Vec::new();
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| ApiError::bad_request(format!("Cannot read the multipart body: {e}")))?
    {
        if field.name() != Some("file") {
            continue;
        }
        let filename = field.file_name().unwrap_or("attachment").to_owned();
        let mime = field
            .content_type()
            .map(str::to_owned)
            .unwrap_or_else(|| "application/octet-stream".into());
        let bytes = field.bytes().await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "The request body is larger than the server accepts.",
                )
            } else {
                ApiError::bad_request(format!("Cannot read the file: {e}"))
            }
        })?;
        if bytes.len() > limit {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "The file '{filename}' is larger than the attachment size limit of {limit} bytes."
                ),
            ));
        }
        files.push((filename, mime, bytes.to_vec()));
    }
    if files.is_empty() {
        return Err(ApiError::bad_request(
            "No file was sent: the multipart part must be named 'file'.",
        ));
    }
    let base = base_url(&state, &headers);
    let (answer, hooks) = {
        let mut site = lock(&state.site);
        let mut answer = Vec::new();
        for (name, mime, bytes) in files {
            let aid = site.add_attachment(&caller, id, &name, &mime, bytes)?;
            answer.push(aid);
        }
        let view = api.view(&site, base.clone());
        let answer: Vec<Value> = answer
            .iter()
            .filter_map(|a| site.attachments.get(a))
            .map(|a| view.attachment(a))
            .collect();
        let history = site
            .issues
            .get(&id)
            .and_then(|i| i.changelog.last().cloned());
        let hooks = webhooks::prepare(
            &site,
            &base,
            &caller,
            &Event::IssueUpdated(id, history, "issue_updated"),
        );
        (answer, hooks)
    };
    webhooks::deliver(&state, hooks);
    Ok(axum::Json(answer).into_response())
}

/// `GET /rest/api/{2,3}/attachment/meta` → `AttachmentSettings`: attachments are on, and the
/// limit is `--max-attachment-bytes`.
pub async fn settings(State(state): State<AppState>) -> Response {
    let limit = lock(&state.site).max_attachment_bytes;
    axum::Json(json!({ "enabled": true, "uploadLimit": limit })).into_response()
}

/// `GET /rest/api/{2,3}/attachment/{id}` → `AttachmentMetadata`.
pub async fn metadata(
    State(state): State<AppState>,
    Extension(api): Extension<Api>,
    headers: HeaderMap,
    Path(aid): Path<String>,
) -> Result<Response, ApiError> {
    let site = lock(&state.site);
    let a = find(&site, &aid)?;
    let view = api.view(&site, base_url(&state, &headers));
    Ok(axum::Json(json!({
        "id": a.id,
        "self": format!("{}/attachment/{}", view.api(), a.id),
        "filename": a.filename,
        "author": view.user(&a.author),
        "created": timestamp(a.created),
        "size": a.bytes.len(),
        "mimeType": a.mime_type,
        "content": format!("{}/attachment/content/{}", view.api(), a.id),
        "properties": {},
    }))
    .into_response())
}

fn find<'a>(
    site: &'a super::site::Site,
    aid: &str,
) -> Result<&'a super::site::Attachment, ApiError> {
    aid.parse::<u64>()
        .ok()
        .and_then(|id| site.attachments.get(&id))
        .ok_or_else(|| {
            ApiError::not_found(format!("The attachment with id '{aid}' does not exist"))
        })
}

/// `GET /rest/api/{2,3}/attachment/content/{id}?redirect=`.
pub async fn content(
    State(state): State<AppState>,
    Extension(api): Extension<Api>,
    headers: HeaderMap,
    Path(aid): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    let site = lock(&state.site);
    let a = find(&site, &aid)?;
    if params.one("redirect") != Some("false") {
        let location = format!(
            "{}/rest/api/{}/attachment/content/{}?redirect=false",
            base_url(&state, &headers),
            api.number(),
            a.id
        );
        let mut r = StatusCode::SEE_OTHER.into_response();
        if let Ok(v) = HeaderValue::from_str(&location) {
            r.headers_mut().insert(header::LOCATION, v);
        }
        return Ok(r);
    }
    let len = a.bytes.len();
    let disposition = format!(
        "attachment; filename=\"{}\"",
        a.filename.replace(['"', '\r', '\n'], "_")
    );
    let mut status = StatusCode::OK;
    let mut body = a.bytes.clone();
    let mut range_header = None;
    if let Some(range) = headers.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        match parse_range(range, len) {
            Some((start, end)) => {
                status = StatusCode::PARTIAL_CONTENT;
                body = a.bytes[start..=end].to_vec();
                range_header = Some(format!("bytes {start}-{end}/{len}"));
            }
            None => {
                let mut r = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
                if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
                    r.headers_mut().insert(header::CONTENT_RANGE, v);
                }
                return Ok(r);
            }
        }
    }
    let mut r = (status, body).into_response();
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&a.mime_type) {
        h.insert(header::CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Some(cr) = range_header.and_then(|c| HeaderValue::from_str(&c).ok()) {
        h.insert(header::CONTENT_RANGE, cr);
    }
    Ok(r)
}

/// `bytes=a-b`, `bytes=a-`, `bytes=-n` within `len`: the inclusive range.
fn parse_range(s: &str, len: usize) -> Option<(usize, usize)> {
    let spec = s.strip_prefix("bytes=")?;
    if spec.contains(',') || len == 0 {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let (start, end) = match (a.trim(), b.trim()) {
        ("", n) => {
            let n: usize = n.parse().ok()?;
            (len.checked_sub(n.min(len))?, len - 1)
        }
        (a, "") => (a.parse().ok()?, len - 1),
        (a, b) => (a.parse().ok()?, b.parse::<usize>().ok()?.min(len - 1)),
    };
    (start <= end && start < len).then_some((start, end))
}

/// `DELETE /rest/api/{2,3}/attachment/{id}` → 204.
pub async fn delete(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    headers: HeaderMap,
    Path(aid): Path<String>,
) -> Result<Response, ApiError> {
    let base = base_url(&state, &headers);
    let hooks = {
        let mut site = lock(&state.site);
        let id = find(&site, &aid)?.id;
        let (issue, history) = site.delete_attachment(&caller, id)?;
        webhooks::prepare(
            &site,
            &base,
            &caller,
            &Event::IssueUpdated(issue, history, "issue_updated"),
        )
    };
    webhooks::deliver(&state, hooks);
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[cfg(test)]
mod tests {
    use super::parse_range;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-3", 10), Some((0, 3)));
        assert_eq!(parse_range("bytes=5-", 10), Some((5, 9)));
        assert_eq!(parse_range("bytes=-4", 10), Some((6, 9)));
        assert_eq!(parse_range("bytes=8-100", 10), Some((8, 9)));
        assert_eq!(parse_range("bytes=10-", 10), None);
        assert_eq!(parse_range("bytes=3-1", 10), None);
        assert_eq!(parse_range("items=0-1", 10), None);
    }
}
