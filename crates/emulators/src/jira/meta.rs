//! What describes the site: server information, the calling user (`/myself`), user search (by
//! name or e-mail, as integrations find users), projects, issue types, priorities, statuses,
//! resolutions, the field catalogue (`/field`) and create metadata
//! (`/issue/createmeta/{project}/issuetypes[/{id}]`), paged as Jira pages them.

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::error::ApiError;
use super::render::timestamp;
use super::site::Flavour;
use super::{Api, AppState, Caller, Params, base_url, lock};

/// `GET /rest/api/{2,3}/serverInfo` (no authentication needed, as on Jira).
pub async fn server_info(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let site = lock(&state.site);
    let base = base_url(&state, &headers);
    let (version, numbers, deployment) = match site.flavour {
        Flavour::Cloud => ("1001.0.0-SNAPSHOT", json!([1001, 0, 0]), "Cloud"),
        Flavour::Dc => ("9.12.0", json!([9, 12, 0]), "Server"),
    };
    axum::Json(json!({
        "baseUrl": base,
        "displayUrl": base,
        "version": version,
        "versionNumbers": numbers,
        "deploymentType": deployment,
        "buildNumber": 100_300,
        "buildDate": "2025-09-01T00:00:00.000+0000",
        "serverTime": timestamp(site.peek_now()),
        "scmInfo": "emulated",
        "serverTitle": "Jira (Tandem emulator)",
    }))
    .into_response()
}

/// `GET /rest/api/{2,3}/myself`.
pub async fn myself(
    State(state): State<AppState>,
    Extension(api): Extension<Api>,
    Extension(Caller(caller)): Extension<Caller>,
    headers: HeaderMap,
) -> Response {
    let site = lock(&state.site);
    let view = api.view(&site, base_url(&state, &headers));
    let mut me = view.user(&caller);
    me["locale"] = json!("en_US");
    axum::Json(me).into_response()
}

/// `GET /rest/api/{2,3}/user/search?query=&accountId=&username=&startAt&maxResults`: users whose
/// display name (or a word of it) or e-mail starts with `query` (case-insensitive), whose
/// accountId is `query`, or the one with `accountId`.
pub async fn user_search(
    State(state): State<AppState>,
    Extension(api): Extension<Api>,
    headers: HeaderMap,
    params: Params,
) -> Result<Response, ApiError> {
    let site = lock(&state.site);
    let query = params
        .one("query")
        .or_else(|| params.one("username"))
        .map(str::to_lowercase);
    let account = params.one("accountId");
    if query.is_none() && account.is_none() {
        return Err(ApiError::bad_request(
            "One of 'query' or 'accountId' query parameters must be provided.",
        ));
    }
    let start = params.number("startAt", 0)?;
    let max = params.number("maxResults", 50)?.min(1000);
    let view = api.view(&site, base_url(&state, &headers));
    let users: Vec<Value> = site
        .users
        .iter()
        .filter(|u| account.is_none_or(|a| a == u.account_id))
        .filter(|u| {
            query.as_deref().is_none_or(|q| {
                // (inference) An exact accountId matches too: clients such as pycontribs'
                // assign_issue look a user up by passing the accountId as the query.
                u.account_id == q
                    || u.email.to_lowercase().starts_with(q)
                    || u.name.to_lowercase().starts_with(q)
                    || u.display_name
                        .to_lowercase()
                        .split_whitespace()
                        .any(|w| w.starts_with(q))
                    || u.display_name.to_lowercase().starts_with(q)
            })
        })
        .skip(start)
        .take(max)
        .map(|u| view.user(&u.account_id))
        .collect();
    Ok(axum::Json(users).into_response())
}

/// `GET /rest/api/{2,3}/user?accountId=` (or `username=` on DC).
pub async fn user(
    State(state): State<AppState>,
    Extension(api): Extension<Api>,
    headers: HeaderMap,
    params: Params,
) -> Result<Response, ApiError> {
    let site = lock(&state.site);
    let found = match (
        params.one("accountId"),
        params.one("username").or_else(|| params.one("key")),
    ) {
        (Some(a), _) => site.user(a),
        (None, Some(n)) => site.users.iter().find(|u| u.name == n),
        _ => None,
    };
    let u = found.ok_or_else(|| ApiError::not_found("The user does not exist."))?;
    let view = api.view(&site, base_url(&state, &headers));
    Ok(axum::Json(view.user(&u.account_id)).into_response())
}

/// `GET /rest/api/{2,3}/field`.
pub async fn fields(State(state): State<AppState>) -> Response {
    let site = lock(&state.site);
    let list: Vec<Value> = site
        .fields
        .iter()
        .map(|d| {
            json!({
                "id": d.id,
                "key": d.id,
                "name": d.name,
                "custom": d.custom(),
                "orderable": d.orderable,
                "navigable": true,
                "searchable": d.searchable,
                "clauseNames": d.clause_names(),
                "schema": d.schema(),
            })
        })
        .collect();
    axum::Json(list).into_response()
}

fn page(values: Vec<Value>, params: &Params, key: &str) -> Result<Value, ApiError> {
    let start = params.number("startAt", 0)?;
    let max = params.number("maxResults", 50)?.clamp(1, 200);
    let total = values.len();
    let page: Vec<Value> = values.into_iter().skip(start).take(max).collect();
    Ok(json!({ "startAt": start, "maxResults": max, "total": total, key: page }))
}

/// `GET /rest/api/{2,3}/issue/createmeta/{project}/issuetypes`.
pub async fn create_meta_types(
    State(state): State<AppState>,
    Extension(api): Extension<Api>,
    headers: HeaderMap,
    Path(project): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    let site = lock(&state.site);
    if site.project(&project).is_none() {
        return Err(ApiError::bad_request(format!(
            "No project could be found with key '{project}'."
        )));
    }
    // Every project uses every issue type (one scheme for the site).
    let view = api.view(&site, base_url(&state, &headers));
    let types: Vec<Value> = site
        .issue_types
        .iter()
        .map(|t| view.issue_type(t))
        .collect();
    Ok(axum::Json(page(types, &params, "issueTypes")?).into_response())
}

/// `GET /rest/api/{2,3}/issue/createmeta/{project}/issuetypes/{id}`: the create screen's fields.
pub async fn create_meta_fields(
    State(state): State<AppState>,
    Extension(api): Extension<Api>,
    headers: HeaderMap,
    Path((project, type_id)): Path<(String, String)>,
    params: Params,
) -> Result<Response, ApiError> {
    let site = lock(&state.site);
    let p = site.project(&project).ok_or_else(|| {
        ApiError::bad_request(format!("No project could be found with key '{project}'."))
    })?;
    let t = site.issue_type(&type_id).ok_or_else(|| {
        ApiError::bad_request(format!(
            "The issue type with id '{type_id}' does not exist."
        ))
    })?;
    let view = api.view(&site, base_url(&state, &headers));
    let fields: Vec<Value> = site
        .fields
        .iter()
        .filter(|d| d.settable() || d.id == "project" || d.id == "issuetype")
        .filter(|d| d.id != "parent" || t.subtask || t.hierarchy == 0)
        .map(|d| view.field_meta(d, Some(p), Some(t), true))
        .collect();
    Ok(axum::Json(page(fields, &params, "fields")?).into_response())
}

/// `GET /rest/api/{2,3}/project`.
pub async fn projects(
    State(state): State<AppState>,
    Extension(api): Extension<Api>,
    headers: HeaderMap,
) -> Response {
    let site = lock(&state.site);
    let view = api.view(&site, base_url(&state, &headers));
    axum::Json(
        site.projects
            .iter()
            .map(|p| view.project_short(p))
            .collect::<Vec<_>>(),
    )
    .into_response()
}

/// `GET /rest/api/{2,3}/project/search` (`PageBeanProject`).
pub async fn project_search(
    State(state): State<AppState>,
    Extension(api): Extension<Api>,
    headers: HeaderMap,
    params: Params,
) -> Result<Response, ApiError> {
    let site = lock(&state.site);
    let view = api.view(&site, base_url(&state, &headers));
    let values: Vec<Value> = site
        .projects
        .iter()
        .map(|p| view.project_short(p))
        .collect();
    let mut out = page(values, &params, "values")?;
    let (start, max, total) = (
        out["startAt"].as_u64().unwrap_or(0),
        out["maxResults"].as_u64().unwrap_or(50),
        out["total"].as_u64().unwrap_or(0),
    );
    out["isLast"] = json!(start.saturating_add(max) >= total);
    out["self"] = json!(format!("{}/project/search", view.api()));
    Ok(axum::Json(out).into_response())
}

/// `GET /rest/api/{2,3}/project/{key}`.
pub async fn project(
    State(state): State<AppState>,
    Extension(api): Extension<Api>,
    headers: HeaderMap,
    Path(key): Path<String>,
) -> Result<Response, ApiError> {
    let site = lock(&state.site);
    let p = site.project(&key).ok_or_else(|| {
        ApiError::not_found(format!("No project could be found with key '{key}'."))
    })?;
    let view = api.view(&site, base_url(&state, &headers));
    Ok(axum::Json(view.project(p)).into_response())
}

/// `GET /rest/api/{2,3}/project/{key}/components` and `/versions`.
pub async fn project_components(
    State(state): State<AppState>,
    Extension(api): Extension<Api>,
    headers: HeaderMap,
    Path(key): Path<String>,
) -> Result<Response, ApiError> {
    let site = lock(&state.site);
    let p = site.project(&key).ok_or_else(|| {
        ApiError::not_found(format!("No project could be found with key '{key}'."))
    })?;
    let view = api.view(&site, base_url(&state, &headers));
    Ok(axum::Json(
        p.components
            .iter()
            .map(|c| view.component(c))
            .collect::<Vec<_>>(),
    )
    .into_response())
}

pub async fn project_versions(
    State(state): State<AppState>,
    Extension(api): Extension<Api>,
    headers: HeaderMap,
    Path(key): Path<String>,
) -> Result<Response, ApiError> {
    let site = lock(&state.site);
    let p = site.project(&key).ok_or_else(|| {
        ApiError::not_found(format!("No project could be found with key '{key}'."))
    })?;
    let view = api.view(&site, base_url(&state, &headers));
    Ok(axum::Json(
        p.versions
            .iter()
            .map(|v| view.version(p, v))
            .collect::<Vec<_>>(),
    )
    .into_response())
}

/// `GET /rest/api/{2,3}/priority`.
pub async fn priorities(
    State(state): State<AppState>,
    Extension(api): Extension<Api>,
    headers: HeaderMap,
) -> Response {
    let site = lock(&state.site);
    let view = api.view(&site, base_url(&state, &headers));
    axum::Json(
        site.priorities
            .iter()
            .map(|p| view.priority(p))
            .collect::<Vec<_>>(),
    )
    .into_response()
}

/// `GET /rest/api/{2,3}/resolution`.
pub async fn resolutions(
    State(state): State<AppState>,
    Extension(api): Extension<Api>,
    headers: HeaderMap,
) -> Response {
    let site = lock(&state.site);
    let view = api.view(&site, base_url(&state, &headers));
    axum::Json(
        site.resolutions
            .iter()
            .map(|r| view.resolution(r))
            .collect::<Vec<_>>(),
    )
    .into_response()
}

/// `GET /rest/api/{2,3}/status`.
pub async fn statuses(
    State(state): State<AppState>,
    Extension(api): Extension<Api>,
    headers: HeaderMap,
) -> Response {
    let site = lock(&state.site);
    let view = api.view(&site, base_url(&state, &headers));
    axum::Json(
        site.workflow
            .statuses
            .iter()
            .map(|s| view.status(&s.id))
            .collect::<Vec<_>>(),
    )
    .into_response()
}

/// `GET /rest/api/{2,3}/issuetype`.
pub async fn issue_types(
    State(state): State<AppState>,
    Extension(api): Extension<Api>,
    headers: HeaderMap,
) -> Response {
    let site = lock(&state.site);
    let view = api.view(&site, base_url(&state, &headers));
    axum::Json(
        site.issue_types
            .iter()
            .map(|t| view.issue_type(t))
            .collect::<Vec<_>>(),
    )
    .into_response()
}
