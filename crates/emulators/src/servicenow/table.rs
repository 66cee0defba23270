//! The Table API (`/api/now/table/{table}[/{sys_id}]`, tracker-apis.md §1.3–1.8): list with
//! `sysparm_*` parameters, `Link` and `X-Total-Count`; get, insert, update, delete one record.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Value, json};

use super::error::ApiError;
use super::faults::JournalAccess;
use super::query::{self, Condition, Op};
use super::records::{Instance, Record};
use super::render::{DisplayMode, RenderOptions, render};
use super::schema::TableDef;
use super::{AppState, Caller, InvalidQuery, Shared, base_url, lock};

/// The default and largest page (third-party specs give 10000 for both, §1.4).
pub const DEFAULT_LIMIT: usize = 10_000;

/// A request's `sysparm_*` parameters and plain `field=value` filters.
#[derive(Debug, Clone, Default)]
pub struct Params {
    pub query: String,
    pub filters: Vec<(String, String)>,
    pub limit: usize,
    pub offset: usize,
    pub render: RenderOptions,
    pub suppress_pagination_header: bool,
    pub no_count: bool,
    /// `sysparm_input_display_value=true`: choice fields may be written by label.
    pub input_display_value: bool,
    /// Every parameter as given, for building `Link` URLs.
    pub pairs: Vec<(String, String)>,
}

fn flag(v: &str) -> bool {
    v.eq_ignore_ascii_case("true")
}

impl Params {
    pub fn parse(
        pairs: Result<Query<Vec<(String, String)>>, QueryRejection>,
        base_url: String,
    ) -> Result<Self, ApiError> {
        let Query(pairs) =
            pairs.map_err(|e| ApiError::bad_request("Invalid query parameters", e.body_text()))?;
        let mut p = Params {
            limit: DEFAULT_LIMIT,
            render: RenderOptions {
                base_url,
                ..RenderOptions::default()
            },
            ..Params::default()
        };
        for (k, v) in &pairs {
            match k.as_str() {
                "sysparm_query" => p.query.clone_from(v),
                "sysparm_limit" => {
                    p.limit = v
                        .trim()
                        .parse::<usize>()
                        .map_err(|_| {
                            ApiError::bad_request(
                                "Invalid sysparm_limit",
                                format!("`{v}` is not a whole number"),
                            )
                        })?
                        .min(DEFAULT_LIMIT);
                }
                "sysparm_offset" => {
                    let n: i64 = v.trim().parse().map_err(|_| {
                        ApiError::bad_request(
                            "Invalid sysparm_offset",
                            format!("`{v}` is not a whole number"),
                        )
                    })?;
                    p.offset = usize::try_from(n).map_err(|_| {
                        ApiError::bad_request(
                            "Negative offset is not supported",
                            format!("sysparm_offset={v}"),
                        )
                    })?;
                }
                // Present but empty (pysnow sends `sysparm_fields=` on every request) means
                // every field, as no sysparm_fields does.
                "sysparm_fields" => {
                    let fields: Vec<String> = v
                        .split(',')
                        .map(|f| f.trim().to_owned())
                        .filter(|f| !f.is_empty())
                        .collect();
                    p.render.fields = (!fields.is_empty()).then_some(fields);
                }
                "sysparm_display_value" => {
                    p.render.mode = DisplayMode::parse(v).unwrap_or_default()
                }
                "sysparm_exclude_reference_link" => p.render.exclude_reference_link = flag(v),
                "sysparm_suppress_pagination_header" => p.suppress_pagination_header = flag(v),
                "sysparm_no_count" => p.no_count = flag(v),
                "sysparm_input_display_value" => p.input_display_value = flag(v),
                other if other.starts_with("sysparm_") => {}
                _ => p.filters.push((k.clone(), v.clone())),
            }
        }
        p.pairs = pairs;
        Ok(p)
    }
}

/// Runs a list request against `table` and builds the response with its headers.
pub fn list_records(
    state: &Shared,
    table: &str,
    params: &Params,
    path: &str,
) -> Result<Response, ApiError> {
    let data = lock(&state.data);
    let t = data.table(table)?;
    if table == "sys_attachment" && lock(&state.faults).attachments_forbidden {
        return Err(ApiError::forbidden());
    }
    if table == "sys_journal_field" {
        match lock(&state.faults).journal {
            JournalAccess::Readable => {}
            JournalAccess::Hidden => return Ok(page_response(Vec::new(), 0, params, path)),
            JournalAccess::Forbidden => return Err(ApiError::forbidden()),
        }
    }
    let Some(q) = checked_query(state, &data, &t.def, params)? else {
        return Ok(page_response(Vec::new(), 0, params, path));
    };
    let mut rows: Vec<&Record> = t
        .rows
        .values()
        .filter(|r| q.matches(&t.def, &*data, r))
        .collect();
    q.sort(&t.def, &*data, &mut rows);
    let total = rows.len();
    let page = rows
        .iter()
        .skip(params.offset)
        .take(params.limit)
        .map(|r| render(&data, &t.def, r, &params.render))
        .collect();
    Ok(page_response(page, total, params, path))
}

/// The request's query (`sysparm_query` and plain `field=value` filters) with the terms the
/// table cannot answer handled as the instance is configured: dropped, no rows (`None`), or a
/// 400 naming every dropped term.
pub fn checked_query(
    state: &Shared,
    data: &Instance,
    def: &TableDef,
    params: &Params,
) -> Result<Option<query::Query>, ApiError> {
    let mut q = query::parse(&params.query, data.clock());
    add_filters(&mut q, &params.filters);
    q.check_fields(def, data);
    if !q.errors.is_empty() {
        match state.invalid_query {
            InvalidQuery::Ignore => {
                for e in &q.errors {
                    tracing::debug!(error = %e, "Query term dropped, as ServiceNow drops it.");
                }
            }
            InvalidQuery::NoRows => return Ok(None),
            InvalidQuery::Reject => {
                let detail: Vec<String> = q.errors.iter().map(ToString::to_string).collect();
                return Err(ApiError::bad_request("Invalid query", detail.join("; ")));
            }
        }
    }
    Ok(Some(q))
}

/// Plain `field=value` parameters AND onto every group of the query.
fn add_filters(q: &mut query::Query, filters: &[(String, String)]) {
    for (field, value) in filters {
        let c = Condition {
            field: field.clone(),
            op: Op::Eq,
            value: value.clone(),
        };
        if q.groups.is_empty() {
            q.groups.push(Vec::new());
        }
        for group in &mut q.groups {
            group.push(vec![c.clone()]);
        }
    }
}

fn page_response(page: Vec<Value>, total: usize, params: &Params, path: &str) -> Response {
    let mut response = axum::Json(json!({ "result": page })).into_response();
    let headers = response.headers_mut();
    if !params.no_count
        && let Ok(v) = HeaderValue::from_str(&total.to_string())
    {
        headers.insert("x-total-count", v);
    }
    if !params.suppress_pagination_header
        && let Some(link) = link_header(params, path, total)
        && let Ok(v) = HeaderValue::from_str(&link)
    {
        headers.insert(header::LINK, v);
    }
    response
}

/// `Link: <…>;rel="first",<…>;rel="prev",<…>;rel="next",<…>;rel="last"` (§1.7): prev/next only
/// when they exist, no header when everything fits on the first page.
fn link_header(params: &Params, path: &str, total: usize) -> Option<String> {
    let limit = params.limit;
    if limit == 0 || (params.offset == 0 && total <= limit) {
        return None;
    }
    let url = |offset: usize| {
        let mut pairs: Vec<(String, String)> = params
            .pairs
            .iter()
            .filter(|(k, _)| k != "sysparm_offset" && k != "sysparm_limit")
            .cloned()
            .collect();
        pairs.push(("sysparm_limit".into(), limit.to_string()));
        pairs.push(("sysparm_offset".into(), offset.to_string()));
        let query: Vec<String> = pairs
            .iter()
            .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
            .collect();
        format!("{}{path}?{}", params.render.base_url, query.join("&"))
    };
    let last = total.saturating_sub(1) / limit * limit;
    let mut links = vec![format!("<{}>;rel=\"first\"", url(0))];
    if params.offset > 0 {
        links.push(format!(
            "<{}>;rel=\"prev\"",
            url(params.offset.saturating_sub(limit))
        ));
    }
    if params.offset.saturating_add(limit) < total {
        links.push(format!("<{}>;rel=\"next\"", url(params.offset + limit)));
    }
    links.push(format!("<{}>;rel=\"last\"", url(last)));
    Some(links.join(","))
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
pub fn percent_encode(s: &str) -> String {
    const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    utf8_percent_encode(s, UNRESERVED).to_string()
}

/// The JSON body of an insert or update as `(field, string value)` pairs. Numbers and booleans
/// become strings; a reference object gives its `value`; an array uses its first element only,
/// as ServiceNow does (§1.3).
pub fn body_fields(body: &[u8]) -> Result<Vec<(String, String)>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Vec::new());
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(
            "Exception while reading request",
            format!("The payload is not valid JSON: {e}"),
        )
    })?;
    let value = match value {
        Value::Array(mut items) if !items.is_empty() => items.swap_remove(0),
        other => other,
    };
    let Value::Object(map) = value else {
        return Err(ApiError::bad_request(
            "Exception while reading request",
            "The payload must be a JSON object of field names to values",
        ));
    };
    Ok(map.into_iter().map(|(k, v)| (k, string_value(v))).collect())
}

fn string_value(v: Value) -> String {
    match v {
        Value::String(s) => s,
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Object(mut m) => match m.remove("value") {
            Some(inner) => string_value(inner),
            None => Value::Object(m).to_string(),
        },
        Value::Array(a) => Value::Array(a).to_string(),
    }
}

/// With `sysparm_input_display_value=true`, a choice label becomes its value ("In Progress" →
/// "2"). Date-times need no conversion: the emulator's users are in UTC. References are resolved
/// by display value in every mode (see `Instance::insert`).
fn input_display_values(
    data: &Instance,
    table: &str,
    params: &Params,
    fields: &mut [(String, String)],
) {
    let Ok(t) = data.table(table) else {
        return;
    };
    if !params.input_display_value {
        return;
    }
    for (name, value) in fields.iter_mut() {
        if let Some(def) = t.def.field(name)
            && let Some((v, _)) = def
                .choices
                .iter()
                .find(|(_, label)| *label == value.as_str())
        {
            *value = (*v).to_owned();
        }
    }
}

fn single(
    data: &Instance,
    table: &str,
    record: &Record,
    params: &Params,
) -> Result<Value, ApiError> {
    let t = data.table(table)?;
    Ok(json!({ "result": render(data, &t.def, record, &params.render) }))
}

/// `GET /api/now/table/{table}`.
pub async fn list(
    State(state): State<AppState>,
    Path(table): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    pairs: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let params = Params::parse(pairs, base_url(&state, &headers))?;
    list_records(&state, &table, &params, uri.path())
}

/// `GET /api/now/table/{table}/{sys_id}`.
pub async fn get_one(
    State(state): State<AppState>,
    Path((table, sys_id)): Path<(String, String)>,
    headers: HeaderMap,
    pairs: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let params = Params::parse(pairs, base_url(&state, &headers))?;
    let data = lock(&state.data);
    data.table(&table)?;
    if table == "sys_journal_field" {
        match lock(&state.faults).journal {
            JournalAccess::Readable => {}
            JournalAccess::Hidden => return Err(ApiError::no_record()),
            JournalAccess::Forbidden => return Err(ApiError::forbidden()),
        }
    }
    let record = data.get(&table, &sys_id)?;
    Ok(axum::Json(single(&data, &table, record, &params)?).into_response())
}

/// `POST /api/now/table/{table}`: 201, `Location`, the created record.
pub async fn create(
    State(state): State<AppState>,
    Path(table): Path<String>,
    Extension(Caller(user)): Extension<Caller>,
    headers: HeaderMap,
    pairs: Result<Query<Vec<(String, String)>>, QueryRejection>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let params = Params::parse(pairs, base_url(&state, &headers))?;
    let mut data = lock(&state.data);
    data.table(&table)?;
    let mut fields = body_fields(&body)?;
    input_display_values(&data, &table, &params, &mut fields);
    let record = data.insert(&table, fields, &user)?;
    let location = format!(
        "{}/api/now/table/{table}/{}",
        params.render.base_url,
        super::records::val(&record, "sys_id")
    );
    let body = single(&data, &table, &record, &params)?;
    let mut response = (StatusCode::CREATED, axum::Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    Ok(response)
}

/// `PUT` and `PATCH /api/now/table/{table}/{sys_id}`: only the fields sent change.
pub async fn update(
    State(state): State<AppState>,
    Path((table, sys_id)): Path<(String, String)>,
    Extension(Caller(user)): Extension<Caller>,
    headers: HeaderMap,
    pairs: Result<Query<Vec<(String, String)>>, QueryRejection>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let params = Params::parse(pairs, base_url(&state, &headers))?;
    let mut data = lock(&state.data);
    data.get(&table, &sys_id)?;
    let mut fields = body_fields(&body)?;
    input_display_values(&data, &table, &params, &mut fields);
    let record = data.update(&table, &sys_id, fields, &user)?;
    Ok(axum::Json(single(&data, &table, &record, &params)?).into_response())
}

/// `DELETE /api/now/table/{table}/{sys_id}`: 204.
pub async fn delete(
    State(state): State<AppState>,
    Path((table, sys_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    lock(&state.data).delete(&table, &sys_id)?;
    Ok(StatusCode::NO_CONTENT)
}
