//! Issues over REST: create (`POST /issue`), read (`GET /issue/{key}` with `fields` and
//! `expand`), edit (`PUT`), delete, transitions (`GET`/`POST /issue/{key}/transitions`), edit
//! metadata and the changelog (tracker-apis.md §2.3).

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::error::ApiError;
use super::render::Selection;
use super::webhooks::{self, Event};
use super::{Api, AppState, Caller, Params, base_url, json_body, lock, no_content_json};

/// `POST /rest/api/{2,3}/issue` → 201 `CreatedIssue`.
pub async fn create(
    State(state): State<AppState>,
    Extension(api): Extension<Api>,
    Extension(Caller(caller)): Extension<Caller>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body = json_body(&body)?;
    let base = base_url(&state, &headers);
    let (created, hooks) = {
        let mut site = lock(&state.site);
        let id = site.create(&caller, &body, api.v2)?;
        let issue = &site.issues[&id];
        let created = json!({
            "id": id.to_string(),
            "key": issue.key,
            "self": format!("{base}/rest/api/{}/issue/{id}", api.number()),
        });
        (
            created,
            webhooks::prepare(&site, &base, &caller, &Event::IssueCreated(id)),
        )
    };
    webhooks::deliver(&state, hooks);
    Ok((StatusCode::CREATED, axum::Json(created)).into_response())
}

/// `GET /rest/api/{2,3}/issue/{key}`.
pub async fn get(
    State(state): State<AppState>,
    Extension(api): Extension<Api>,
    headers: HeaderMap,
    Path(key): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    let site = lock(&state.site);
    let issue = site.issue(&key)?;
    let view = api.view(&site, base_url(&state, &headers));
    let sel = Selection::parse(params.all("fields"), "*all");
    let expand = params.list("expand");
    let expand: Vec<&str> = expand.iter().map(String::as_str).collect();
    Ok(axum::Json(view.issue(issue, &sel, &expand)).into_response())
}

/// `PUT /rest/api/{2,3}/issue/{key}` → 204, or 200 with the issue when `returnIssue=true`.
pub async fn edit(
    State(state): State<AppState>,
    Extension(api): Extension<Api>,
    Extension(Caller(caller)): Extension<Caller>,
    headers: HeaderMap,
    Path(key): Path<String>,
    params: Params,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body = json_body(&body)?;
    let base = base_url(&state, &headers);
    let (answer, hooks) = {
        let mut site = lock(&state.site);
        let id = site.issue(&key)?.id;
        let had_comments = site.issues[&id].comments.len();
        let history = site.edit(&caller, id, &body, api.v2)?;
        let mut events = Vec::new();
        for c in site.issues[&id].comments.iter().skip(had_comments) {
            events.push(Event::CommentCreated(id, c.id));
        }
        if history.is_some() || !events.is_empty() {
            events.push(Event::IssueUpdated(id, history, "issue_updated"));
        }
        let hooks: Vec<_> = events
            .iter()
            .flat_map(|e| webhooks::prepare(&site, &base, &caller, e))
            .collect();
        let answer = if params.flag("returnIssue") {
            let view = api.view(&site, base.clone());
            let expand = params.list("expand");
            let expand: Vec<&str> = expand.iter().map(String::as_str).collect();
            Some(view.issue(
                &site.issues[&id],
                &Selection::parse(Vec::<&str>::new(), "*all"),
                &expand,
            ))
        } else {
            None
        };
        (answer, hooks)
    };
    webhooks::deliver(&state, hooks);
    Ok(match answer {
        Some(issue) => axum::Json(issue).into_response(),
        None => no_content_json(),
    })
}

/// `DELETE /rest/api/{2,3}/issue/{key}?deleteSubtasks=true` → 204.
pub async fn delete(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    headers: HeaderMap,
    Path(key): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    let base = base_url(&state, &headers);
    let hooks = {
        let mut site = lock(&state.site);
        let id = site.issue(&key)?.id;
        let removed = site.delete(id, params.flag("deleteSubtasks"))?;
        removed
            .into_iter()
            .flat_map(|issue| {
                webhooks::prepare(&site, &base, &caller, &Event::IssueDeleted(Box::new(issue)))
            })
            .collect()
    };
    webhooks::deliver(&state, hooks);
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /rest/api/{2,3}/issue/{key}/transitions?expand=transitions.fields&transitionId=`.
pub async fn transitions(
    State(state): State<AppState>,
    Extension(api): Extension<Api>,
    headers: HeaderMap,
    Path(key): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    let site = lock(&state.site);
    let issue = site.issue(&key)?;
    let view = api.view(&site, base_url(&state, &headers));
    let with_fields = params
        .list("expand")
        .iter()
        .any(|e| e == "transitions.fields");
    let only = params.one("transitionId");
    let list = view.transitions(issue, with_fields, only);
    Ok(axum::Json(json!({ "expand": "transitions", "transitions": list })).into_response())
}

/// `POST /rest/api/{2,3}/issue/{key}/transitions` → 204.
pub async fn transition(
    State(state): State<AppState>,
    Extension(api): Extension<Api>,
    Extension(Caller(caller)): Extension<Caller>,
    headers: HeaderMap,
    Path(key): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body = json_body(&body)?;
    let base = base_url(&state, &headers);
    let hooks = {
        let mut site = lock(&state.site);
        let id = site.issue(&key)?.id;
        let (history, comment) = site.transition(&caller, id, &body, api.v2)?;
        let mut events = vec![Event::IssueUpdated(id, Some(history), "issue_generic")];
        if let Some(c) = comment {
            events.push(Event::CommentCreated(id, c));
        }
        events
            .iter()
            .flat_map(|e| webhooks::prepare(&site, &base, &caller, e))
            .collect()
    };
    webhooks::deliver(&state, hooks);
    Ok(no_content_json())
}

/// `GET /rest/api/{2,3}/issue/{key}/editmeta`.
pub async fn edit_meta(
    State(state): State<AppState>,
    Extension(api): Extension<Api>,
    headers: HeaderMap,
    Path(key): Path<String>,
) -> Result<Response, ApiError> {
    let site = lock(&state.site);
    let issue = site.issue(&key)?;
    let view = api.view(&site, base_url(&state, &headers));
    Ok(axum::Json(view.edit_meta(issue)).into_response())
}

/// `GET /rest/api/{2,3}/issue/{key}/changelog?startAt&maxResults`: oldest first.
pub async fn changelog(
    State(state): State<AppState>,
    Extension(api): Extension<Api>,
    headers: HeaderMap,
    Path(key): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    let site = lock(&state.site);
    let issue = site.issue(&key)?;
    let base = base_url(&state, &headers);
    let view = api.view(&site, base.clone());
    let start = params.number("startAt", 0)?;
    let max = params.number("maxResults", 100)?.clamp(1, 100);
    let total = issue.changelog.len();
    let values: Vec<Value> = issue
        .changelog
        .iter()
        .skip(start)
        .take(max)
        .map(|h| view.history(h))
        .collect();
    let is_last = start.saturating_add(values.len()) >= total;
    let mut page = json!({
        "self": format!("{}/issue/{}/changelog?maxResults={max}&startAt={start}", view.api(), issue.key),
        "maxResults": max, "startAt": start, "total": total, "isLast": is_last, "values": values,
    });
    if !is_last {
        page["nextPage"] = json!(format!(
            "{}/issue/{}/changelog?maxResults={max}&startAt={}",
            view.api(),
            issue.key,
            start.saturating_add(max)
        ));
    }
    Ok(axum::Json(page).into_response())
}

/// `PUT /rest/api/{2,3}/issue/{key}/assignee` with a user reference (`{"accountId"}` on Cloud,
/// `{"name"}` on DC; a null id unassigns) → 204.
pub async fn assign(
    State(state): State<AppState>,
    Extension(api): Extension<Api>,
    Extension(Caller(caller)): Extension<Caller>,
    headers: HeaderMap,
    Path(key): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body = json_body(&body)?;
    let unassign = ["accountId", "name"]
        .iter()
        .any(|k| body.get(k).is_some_and(Value::is_null))
        || body.is_null();
    let value = if unassign { Value::Null } else { body };
    let base = base_url(&state, &headers);
    let hooks = {
        let mut site = lock(&state.site);
        let id = site.issue(&key)?.id;
        let history = site.edit(
            &caller,
            id,
            &json!({ "fields": { "assignee": value } }),
            api.v2,
        )?;
        match history {
            Some(h) => webhooks::prepare(
                &site,
                &base,
                &caller,
                &Event::IssueUpdated(id, Some(h), "issue_assigned"),
            ),
            None => Vec::new(),
        }
    };
    webhooks::deliver(&state, hooks);
    Ok(no_content_json())
}
