//! Search (tracker-apis.md §2.4): Cloud's `GET|POST /search/jql`, paged by an opaque
//! `nextPageToken` with no `total`, refusing unbounded JQL; `POST /search/approximate-count`;
//! and the old `GET|POST /search` (`startAt`/`total`), which Data Center still serves and Cloud
//! has removed (410).

use std::cmp::Ordering;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{Map, Value, json};

use super::error::ApiError;
use super::jql::{self, Direction, FieldValue, Subject};
use super::render::Selection;
use super::site::{Flavour, Issue, Site};
use super::{Api, AppState, Caller, Params, base_url, json_body, lock};

/// The most issues a page carries when fields are asked for (Jira "may return fewer").
const MAX_WITH_FIELDS: usize = 100;
/// The most when only ids are asked for.
const MAX_IDS_ONLY: usize = 5000;

/// What one search asks.
struct Request {
    jql: String,
    token: Option<String>,
    max: Option<usize>,
    fields: Vec<String>,
    expand: Vec<String>,
}

impl Request {
    fn from_params(p: &Params) -> Result<Self, ApiError> {
        Ok(Self {
            jql: p.one("jql").unwrap_or_default().to_owned(),
            token: p.one("nextPageToken").map(str::to_owned),
            max: p
                .one("maxResults")
                .map(|m| {
                    m.parse()
                        .map_err(|_| ApiError::bad_request("maxResults must be a number."))
                })
                .transpose()?,
            fields: p.all("fields").into_iter().map(str::to_owned).collect(),
            expand: p.list("expand"),
        })
    }

    fn from_body(b: &Value) -> Result<Self, ApiError> {
        let strings = |v: Option<&Value>| -> Vec<String> {
            match v {
                Some(Value::Array(a)) => a
                    .iter()
                    .filter_map(|x| x.as_str().map(str::to_owned))
                    .collect(),
                Some(Value::String(s)) => s.split(',').map(str::to_owned).collect(),
                _ => Vec::new(),
            }
        };
        Ok(Self {
            jql: b
                .get("jql")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            token: b
                .get("nextPageToken")
                .and_then(Value::as_str)
                .map(str::to_owned),
            max: match b.get("maxResults") {
                None | Some(Value::Null) => None,
                Some(v) => Some(
                    v.as_u64()
                        .ok_or_else(|| ApiError::bad_request("maxResults must be a number."))?
                        as usize,
                ),
            },
            fields: strings(b.get("fields")),
            expand: strings(b.get("expand")),
        })
    }
}

/// Runs a query: the matching issue ids in order.
pub fn run(
    site: &Site,
    jql: &str,
    current_user: &str,
    require_bound: bool,
) -> Result<Vec<u64>, ApiError> {
    let query = jql::Query::parse(jql).map_err(|e| ApiError::bad_request(e.0))?;
    if require_bound && query.condition.is_none() {
        return Err(ApiError::bad_request(
            "Unbounded JQL queries are not allowed here. Please add a search restriction to your query.",
        ));
    }
    query
        .check_fields(|f| site.jql_field_known(f))
        .and_then(|()| query.check_dates(|f| site.jql_field_is_date(f), site.peek_now()))
        .map_err(|e| ApiError::bad_request(e.0))?;
    let ctx = jql::Context {
        now: site.peek_now(),
        current_user: current_user.to_owned(),
    };
    let mut hits: Vec<&Issue> = Vec::new();
    for issue in site.issues.values() {
        if query
            .matches(&site.subject(issue), &ctx)
            .map_err(|e| ApiError::bad_request(e.0))?
        {
            hits.push(issue);
        }
    }
    // (inference) Without ORDER BY, newest first by key.
    let order = if query.order.is_empty() {
        vec![("key".to_owned(), Direction::Desc)]
    } else {
        query.order.clone()
    };
    hits.sort_by(|a, b| {
        for (field, dir) in &order {
            let o = compare(site, a, b, field);
            let o = if *dir == Direction::Desc {
                o.reverse()
            } else {
                o
            };
            if o != Ordering::Equal {
                return o;
            }
        }
        a.id.cmp(&b.id)
    });
    Ok(hits.into_iter().map(|i| i.id).collect())
}

fn compare(site: &Site, a: &Issue, b: &Issue, field: &str) -> Ordering {
    if matches!(field, "key" | "issuekey" | "id") {
        return (a.project.cmp(&b.project)).then(a.id.cmp(&b.id));
    }
    let va = site.subject(a).value(field);
    let vb = site.subject(b).value(field);
    match (va, vb) {
        (Some(FieldValue::Time(x)), Some(FieldValue::Time(y))) => x.cmp(&y),
        (Some(FieldValue::Number(x)), Some(FieldValue::Number(y))) => {
            x.partial_cmp(&y).unwrap_or(Ordering::Equal)
        }
        (Some(FieldValue::Terms(x)), Some(FieldValue::Terms(y))) => x.first().cmp(&y.first()),
        (Some(FieldValue::Text(x)), Some(FieldValue::Text(y))) => {
            x.to_lowercase().cmp(&y.to_lowercase())
        }
        _ => Ordering::Equal,
    }
}

/// A page token: the offset, bound to the query it pages.
fn token(jql: &str, offset: usize) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(format!("{offset}:{:016x}", fingerprint(jql)))
}

fn untoken(jql: &str, token: &str) -> Result<usize, ApiError> {
    let bad = || ApiError::bad_request("The provided next page token is invalid or expired.");
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| bad())?;
    let raw = String::from_utf8(raw).map_err(|_| bad())?;
    let (offset, print) = raw.split_once(':').ok_or_else(bad)?;
    if print != format!("{:016x}", fingerprint(jql)) {
        return Err(bad());
    }
    offset.parse().map_err(|_| bad())
}

/// FNV-1a: stable across runs, enough to tell queries apart.
fn fingerprint(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn names_and_schema(site: &Site, sel: &Selection, expand: &[String], out: &mut Map<String, Value>) {
    let defs: Vec<_> = site.fields.iter().filter(|d| sel.wants(d)).collect();
    if expand.iter().any(|e| e == "names") {
        out.insert(
            "names".into(),
            defs.iter()
                .map(|d| (d.id.clone(), json!(d.name)))
                .collect::<Map<_, _>>()
                .into(),
        );
    }
    if expand.iter().any(|e| e == "schema") {
        out.insert(
            "schema".into(),
            defs.iter()
                .map(|d| (d.id.clone(), d.schema()))
                .collect::<Map<_, _>>()
                .into(),
        );
    }
}

fn enhanced(
    state: &AppState,
    api: Api,
    caller: &str,
    headers: &HeaderMap,
    req: Request,
) -> Result<Response, ApiError> {
    let site = lock(&state.site);
    let ids = run(&site, &req.jql, caller, true)?;
    let sel = Selection::parse(req.fields.iter().map(String::as_str), "id");
    let cap = if sel.is_empty() {
        MAX_IDS_ONLY
    } else {
        MAX_WITH_FIELDS
    };
    let max = req.max.unwrap_or(50).clamp(1, cap);
    let start = match &req.token {
        Some(t) => untoken(&req.jql, t)?,
        None => 0,
    };
    let view = api.view(&site, base_url(state, headers));
    let expand: Vec<&str> = req.expand.iter().map(String::as_str).collect();
    let issues: Vec<Value> = ids
        .iter()
        .skip(start)
        .take(max)
        .filter_map(|id| site.issues.get(id))
        .map(|i| {
            if sel.is_empty() {
                json!({ "id": i.id.to_string() })
            } else {
                view.issue(i, &sel, &expand)
            }
        })
        .collect();
    let end = start.saturating_add(issues.len());
    let mut out = Map::new();
    out.insert("issues".into(), Value::Array(issues));
    out.insert("isLast".into(), json!(end >= ids.len()));
    if end < ids.len() {
        out.insert("nextPageToken".into(), json!(token(&req.jql, end)));
    }
    names_and_schema(&site, &sel, &req.expand, &mut out);
    Ok(axum::Json(Value::Object(out)).into_response())
}

/// `GET /rest/api/{2,3}/search/jql`.
pub async fn jql_get(
    State(state): State<AppState>,
    Extension(api): Extension<Api>,
    Extension(Caller(caller)): Extension<Caller>,
    headers: HeaderMap,
    params: Params,
) -> Result<Response, ApiError> {
    cloud_only(&state)?;
    enhanced(
        &state,
        api,
        &caller,
        &headers,
        Request::from_params(&params)?,
    )
}

/// `POST /rest/api/{2,3}/search/jql`.
pub async fn jql_post(
    State(state): State<AppState>,
    Extension(api): Extension<Api>,
    Extension(Caller(caller)): Extension<Caller>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    cloud_only(&state)?;
    let body = json_body(&body)?;
    enhanced(&state, api, &caller, &headers, Request::from_body(&body)?)
}

fn cloud_only(state: &AppState) -> Result<(), ApiError> {
    if lock(&state.site).flavour == Flavour::Cloud {
        Ok(())
    } else {
        Err(ApiError::not_found(
            "null for uri: /search/jql (Jira Data Center has no enhanced search)",
        ))
    }
}

/// `POST /rest/api/{2,3}/search/approximate-count` → `{count}`.
pub async fn approximate_count(
    State(state): State<AppState>,
    Extension(Caller(caller)): Extension<Caller>,
    body: Bytes,
) -> Result<Response, ApiError> {
    cloud_only(&state)?;
    let body = json_body(&body)?;
    let jql = body.get("jql").and_then(Value::as_str).unwrap_or_default();
    let site = lock(&state.site);
    let count = run(&site, jql, &caller, true)?.len();
    Ok(axum::Json(json!({ "count": count })).into_response())
}

fn legacy(
    state: &AppState,
    api: Api,
    caller: &str,
    headers: &HeaderMap,
    req: Request,
    start: usize,
) -> Result<Response, ApiError> {
    let site = lock(&state.site);
    if site.flavour == Flavour::Cloud {
        return Err(ApiError::new(
            StatusCode::GONE,
            "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. \
             A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046",
        ));
    }
    let ids = run(&site, &req.jql, caller, false)?;
    let sel = Selection::parse(req.fields.iter().map(String::as_str), "*navigable");
    let max = req.max.unwrap_or(50).min(1000);
    let view = api.view(&site, base_url(state, headers));
    let expand: Vec<&str> = req.expand.iter().map(String::as_str).collect();
    let issues: Vec<Value> = ids
        .iter()
        .skip(start)
        .take(max)
        .filter_map(|id| site.issues.get(id))
        .map(|i| view.issue(i, &sel, &expand))
        .collect();
    let mut out = Map::new();
    out.insert("expand".into(), json!("schema,names"));
    out.insert("startAt".into(), json!(start));
    out.insert("maxResults".into(), json!(max));
    out.insert("total".into(), json!(ids.len()));
    out.insert("issues".into(), Value::Array(issues));
    names_and_schema(&site, &sel, &req.expand, &mut out);
    Ok(axum::Json(Value::Object(out)).into_response())
}

/// `GET /rest/api/{2,3}/search` (Data Center; removed on Cloud).
pub async fn legacy_get(
    State(state): State<AppState>,
    Extension(api): Extension<Api>,
    Extension(Caller(caller)): Extension<Caller>,
    headers: HeaderMap,
    params: Params,
) -> Result<Response, ApiError> {
    let start = params.number("startAt", 0)?;
    legacy(
        &state,
        api,
        &caller,
        &headers,
        Request::from_params(&params)?,
        start,
    )
}

/// `POST /rest/api/{2,3}/search` (Data Center; removed on Cloud).
pub async fn legacy_post(
    State(state): State<AppState>,
    Extension(api): Extension<Api>,
    Extension(Caller(caller)): Extension<Caller>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body = json_body(&body)?;
    let start = body.get("startAt").and_then(Value::as_u64).unwrap_or(0) as usize;
    legacy(
        &state,
        api,
        &caller,
        &headers,
        Request::from_body(&body)?,
        start,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_bound_to_their_query() {
        let t = token("project = SUP", 50);
        assert_eq!(untoken("project = SUP", &t).ok(), Some(50));
        assert!(untoken("project = OTHER", &t).is_err());
        assert!(untoken("project = SUP", "garbage!").is_err());
    }
}
