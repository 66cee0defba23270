//! Comments (tracker-apis.md §2.3): list with `startAt`/`maxResults` paging, add (201), read,
//! edit and delete. Bodies are ADF in v3 and wiki markup in v2; `visibility` and the Jira
//! Service Management `sd.public.comment` property are kept.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::error::ApiError;
use super::webhooks::{self, Event};
use super::{Api, AppState, Caller, Params, base_url, json_body, lock};

/// `GET /rest/api/{2,3}/issue/{key}/comment?startAt&maxResults&orderBy`.
pub async fn list(
    State(state): State<AppState>,
    Extension(api): Extension<Api>,
    headers: HeaderMap,
    Path(key): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    let site = lock(&state.site);
    let issue = site.issue(&key)?;
    let view = api.view(&site, base_url(&state, &headers));
    let start = params.number("startAt", 0)?;
    let max = params.number("maxResults", 5000)?.min(5000);
    let mut comments: Vec<_> = issue.comments.iter().collect();
    match params.one("orderBy") {
        None | Some("created" | "+created") => {}
        Some("-created") => comments.reverse(),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "Cannot order comments by '{other}'."
            )));
        }
    }
    let total = comments.len();
    let page: Vec<Value> = comments
        .into_iter()
        .skip(start)
        .take(max)
        .map(|c| view.comment(issue, c))
        .collect();
    Ok(
        axum::Json(
            json!({ "startAt": start, "maxResults": max, "total": total, "comments": page }),
        )
        .into_response(),
    )
}

/// `GET /rest/api/{2,3}/issue/{key}/comment/{id}`.
pub async fn get(
    State(state): State<AppState>,
    Extension(api): Extension<Api>,
    headers: HeaderMap,
    Path((key, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let site = lock(&state.site);
    let issue = site.issue(&key)?;
    let c = site.comment(issue.id, &id)?;
    let view = api.view(&site, base_url(&state, &headers));
    Ok(axum::Json(view.comment(issue, c)).into_response())
}

/// `POST /rest/api/{2,3}/issue/{key}/comment` → 201 `Comment`.
pub async fn add(
    State(state): State<AppState>,
    Extension(api): Extension<Api>,
    Extension(Caller(caller)): Extension<Caller>,
    headers: HeaderMap,
    Path(key): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body = json_body(&body)?;
    let base = base_url(&state, &headers);
    let (answer, hooks) = {
        let mut site = lock(&state.site);
        let id = site.issue(&key)?.id;
        let cid = site.add_comment(&caller, id, &body, api.v2)?;
        let view = api.view(&site, base.clone());
        let issue = &site.issues[&id];
        let answer = view.comment(issue, site.comment(id, &cid.to_string())?);
        let hooks: Vec<_> = [
            Event::CommentCreated(id, cid),
            Event::IssueUpdated(id, None, "issue_commented"),
        ]
        .iter()
        .flat_map(|e| webhooks::prepare(&site, &base, &caller, e))
        .collect();
        (answer, hooks)
    };
    webhooks::deliver(&state, hooks);
    Ok((StatusCode::CREATED, axum::Json(answer)).into_response())
}

/// `PUT /rest/api/{2,3}/issue/{key}/comment/{id}` → 200 `Comment`.
pub async fn edit(
    State(state): State<AppState>,
    Extension(api): Extension<Api>,
    Extension(Caller(caller)): Extension<Caller>,
    headers: HeaderMap,
    Path((key, comment)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body = json_body(&body)?;
    let base = base_url(&state, &headers);
    let (answer, hooks) = {
        let mut site = lock(&state.site);
        let id = site.issue(&key)?.id;
        let cid = site.edit_comment(&caller, id, &comment, &body, api.v2)?;
        let view = api.view(&site, base.clone());
        let answer = view.comment(&site.issues[&id], site.comment(id, &comment)?);
        let hooks: Vec<_> = [
            Event::CommentUpdated(id, cid),
            Event::IssueUpdated(id, None, "issue_comment_edited"),
        ]
        .iter()
        .flat_map(|e| webhooks::prepare(&site, &base, &caller, e))
        .collect();
        (answer, hooks)
    };
    webhooks::deliver(&state, hooks);
    Ok(axum::Json(answer).into_response())
}

/// `DELETE /rest/api/{2,3}/issue/{key}/comment/{id}` → 204.
pub async fn delete(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    headers: HeaderMap,
    Path((key, comment)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let base = base_url(&state, &headers);
    let hooks = {
        let mut site = lock(&state.site);
        let id = site.issue(&key)?.id;
        let removed = site.delete_comment(id, &comment)?;
        [
            Event::CommentDeleted(id, Box::new(removed)),
            Event::IssueUpdated(id, None, "issue_comment_deleted"),
        ]
        .iter()
        .flat_map(|e| webhooks::prepare(&site, &base, &caller, e))
        .collect()
    };
    webhooks::deliver(&state, hooks);
    Ok(StatusCode::NO_CONTENT.into_response())
}
