//! Webhooks (tracker-apis.md §2.7): registration through `POST|GET|DELETE /rest/api/3/webhook`
//! and `PUT /webhook/refresh` (each with events and a JQL filter), and delivery: after each
//! issue or comment change the emulator POSTs Jira's payload (`timestamp`, `webhookEvent`,
//! `issue_event_type_name`, `user`, `issue`, `changelog`, `comment`, `matchedWebhookIds`) to
//! every webhook whose events and filter match, retrying failed calls a few times.
//!
//! (inference) Payloads carry the issue as REST v2 renders it, as Jira's webhook payloads do.
//! The emulator lets any user register, where Jira Cloud reserves dynamic webhooks to apps.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};
use tracing::{debug, info};

use super::error::ApiError;
use super::jql;
use super::render::{Selection, View};
use super::site::{Comment, History, Issue, NewWebhook, Site};
use super::{AppState, Params, base_url, json_body, lock};

/// Something that happened that webhooks may hear about.
pub enum Event {
    IssueCreated(u64),
    /// The issue, the change (if any), and `issue_event_type_name`.
    IssueUpdated(u64, Option<History>, &'static str),
    IssueDeleted(Box<Issue>),
    CommentCreated(u64, u64),
    CommentUpdated(u64, u64),
    CommentDeleted(u64, Box<Comment>),
}

/// One call to make.
pub struct Call {
    webhook: u64,
    secret: Option<String>,
    url: String,
    event: String,
    payload: Value,
}

/// A delivery as `GET /__emulator/webhook-deliveries` reports it.
#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    pub webhook: u64,
    pub event: String,
    pub url: String,
    pub issue_key: Option<String>,
    pub attempts: u32,
    /// The last status the receiver answered; `None` when it could not be reached.
    pub status: Option<u16>,
}

/// The calls an event makes (computed while the site is locked).
pub fn prepare(site: &Site, base: &str, user: &str, event: &Event) -> Vec<Call> {
    if site.webhooks.is_empty() {
        return Vec::new();
    }
    let view = View {
        site,
        base: base.to_owned(),
        v2: true,
    };
    let (name, issue): (&str, Option<&Issue>) = match event {
        Event::IssueCreated(id) => ("jira:issue_created", site.issues.get(id)),
        Event::IssueUpdated(id, ..) => ("jira:issue_updated", site.issues.get(id)),
        Event::IssueDeleted(issue) => ("jira:issue_deleted", Some(issue.as_ref())),
        Event::CommentCreated(id, _) => ("comment_created", site.issues.get(id)),
        Event::CommentUpdated(id, _) => ("comment_updated", site.issues.get(id)),
        Event::CommentDeleted(id, _) => ("comment_deleted", site.issues.get(id)),
    };
    let Some(issue) = issue else {
        return Vec::new();
    };
    let ctx = jql::Context {
        now: site.peek_now(),
        current_user: user.to_owned(),
    };
    let matched: Vec<_> = site
        .webhooks
        .iter()
        .filter(|w| w.events.iter().any(|e| e == name))
        .filter(|w| w.query.matches(&site.subject(issue), &ctx).unwrap_or(false))
        .filter(|w| match event {
            Event::IssueUpdated(_, Some(h), _) if !w.field_ids.is_empty() => {
                h.items.iter().any(|i| w.field_ids.contains(&i.field_id))
            }
            _ => true,
        })
        .collect();
    if matched.is_empty() {
        return Vec::new();
    }
    let mut payload = json!({
        "timestamp": site.peek_now().as_millisecond(),
        "webhookEvent": name,
        "user": view.user(user),
        "issue": view.issue(issue, &Selection::parse(["*all,-comment"], ""), &[]),
    });
    match event {
        Event::IssueCreated(_) => payload["issue_event_type_name"] = json!("issue_created"),
        Event::IssueDeleted(_) => payload["issue_event_type_name"] = json!("issue_deleted"),
        Event::IssueUpdated(_, history, type_name) => {
            payload["issue_event_type_name"] = json!(type_name);
            if let Some(h) = history {
                let rendered = view.history(h);
                payload["changelog"] = json!({ "id": rendered["id"], "items": rendered["items"] });
            }
        }
        Event::CommentCreated(_, c) | Event::CommentUpdated(_, c) => {
            if let Some(c) = issue.comments.iter().find(|x| x.id == *c) {
                payload["comment"] = view.comment(issue, c);
            }
        }
        Event::CommentDeleted(_, c) => payload["comment"] = view.comment(issue, c),
    }
    matched
        .into_iter()
        .map(|w| {
            let mut p = payload.clone();
            if w.name.is_none() {
                p["matchedWebhookIds"] = json!([w.id]);
            }
            Call {
                webhook: w.id,
                secret: w.secret.clone(),
                url: w.url.clone(),
                event: name.to_owned(),
                payload: p,
            }
        })
        .collect()
}

/// How many times a call is tried.
const ATTEMPTS: u32 = 4;

/// Queues the calls; one worker per emulator makes them in order ([`worker`]).
pub fn deliver(state: &AppState, calls: Vec<Call>) {
    if !calls.is_empty() {
        let _ = state.hooks.send(calls);
    }
}

/// Makes queued calls one after another, retrying 5xx, 408, 409, 425, 429 and connection
/// failures with a doubling pause, and records each delivery. Ends when the emulator does.
pub async fn worker(
    state: std::sync::Weak<super::Shared>,
    mut queue: tokio::sync::mpsc::UnboundedReceiver<Vec<Call>>,
) {
    while let Some(calls) = queue.recv().await {
        let Some(state) = state.upgrade() else {
            return;
        };
        for call in calls {
            let delivery = send(&state.http, call).await;
            lock(&state.deliveries).push(delivery);
        }
    }
}

async fn send(http: &reqwest::Client, call: Call) -> Delivery {
    let mut delivery = Delivery {
        webhook: call.webhook,
        event: call.event.clone(),
        url: call.url.clone(),
        issue_key: call
            .payload
            .pointer("/issue/key")
            .and_then(Value::as_str)
            .map(str::to_owned),
        attempts: 0,
        status: None,
    };
    let body = serde_json::to_vec(&call.payload).unwrap_or_default();
    let signature = call.secret.as_deref().map(|s| sign(s, &body));
    let mut wait = Duration::from_millis(100);
    while delivery.attempts < ATTEMPTS {
        delivery.attempts += 1;
        let mut request = http.post(&call.url);
        if let Some(sig) = &signature {
            request = request.header("X-Hub-Signature", sig);
        }
        let sent = request
            .header(
                "X-Atlassian-Webhook-Identifier",
                format!("{}-{}", call.webhook, uuid::Uuid::now_v7()),
            )
            .header(
                "X-Atlassian-Webhook-Retry",
                (delivery.attempts - 1).to_string(),
            )
            .header(reqwest::header::USER_AGENT, "Atlassian Webhook HTTP Client")
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.clone())
            .send()
            .await;
        match sent {
            Ok(r) => {
                let s = r.status().as_u16();
                delivery.status = Some(s);
                if !(s == 429 || s == 408 || s == 409 || s == 425 || s >= 500) {
                    break;
                }
            }
            Err(e) => debug!(url = %call.url, error = %e, "Webhook call failed."),
        }
        if delivery.attempts < ATTEMPTS {
            tokio::time::sleep(wait).await;
            wait *= 2;
        }
    }
    delivery
}

/// `sha256=<hex HMAC-SHA256 of the body>`, as Jira signs deliveries of webhooks with a secret.
pub fn sign(secret: &str, body: &[u8]) -> String {
    use hmac::{KeyInit, Mac};
    let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={hex}")
}

/// `POST /rest/webhooks/1.0/webhook` `{name, url, events, filters: {"issue-related-events-section":
/// jql}, secret?}` → 201: an admin webhook, the kind an integration that is not an app
/// registers. An empty filter matches every issue.
pub async fn register_admin(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body = json_body(&body)?;
    let text = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_owned);
    let (Some(name), Some(url)) = (text("name"), text("url")) else {
        return Err(ApiError::bad_request("A webhook needs a name and a url."));
    };
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(ApiError::bad_request(
            "The webhook URL must be an http or https URL.",
        ));
    }
    let events: Vec<String> = body
        .get("events")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|e| e.as_str().map(str::to_owned))
        .collect();
    let jql = body
        .pointer("/filters/issue-related-events-section")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let id = lock(&state.site)
        .add_webhook(NewWebhook {
            name: Some(name),
            secret: text("secret").filter(|s| !s.is_empty()),
            url: &url,
            events,
            jql: &jql,
            field_ids: Vec::new(),
        })
        .map_err(|errors| ApiError::bad_request(errors.join(" ")))?;
    let site = lock(&state.site);
    let w = site
        .webhooks
        .iter()
        .find(|w| w.id == id)
        .ok_or_else(|| ApiError::not_found("The webhook is gone."))?;
    let answer = admin_json(w, &base_url(&state, &headers));
    Ok((StatusCode::CREATED, axum::Json(answer)).into_response())
}

fn admin_json(w: &super::site::Webhook, base: &str) -> Value {
    json!({
        "self": format!("{base}/rest/webhooks/1.0/webhook/{}", w.id),
        "name": w.name,
        "url": w.url,
        "events": w.events,
        "filters": { "issue-related-events-section": w.jql },
        "excludeBody": false,
        "enabled": true,
    })
}

/// `GET /rest/webhooks/1.0/webhook`: the admin webhooks (secrets are not shown).
pub async fn list_admin(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let site = lock(&state.site);
    let base = base_url(&state, &headers);
    let list: Vec<Value> = site
        .webhooks
        .iter()
        .filter(|w| w.name.is_some())
        .map(|w| admin_json(w, &base))
        .collect();
    axum::Json(list).into_response()
}

/// `DELETE /rest/webhooks/1.0/webhook/{id}` → 204.
pub async fn remove_admin(
    State(state): State<AppState>,
    axum::extract::Path(id): axum::extract::Path<u64>,
) -> Result<Response, ApiError> {
    let mut site = lock(&state.site);
    let before = site.webhooks.len();
    site.webhooks.retain(|w| !(w.id == id && w.name.is_some()));
    if site.webhooks.len() == before {
        return Err(ApiError::not_found(format!("No webhook with id {id}.")));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /rest/api/{2,3}/webhook` → `ContainerForRegisteredWebhooks`.
pub async fn register(State(state): State<AppState>, body: Bytes) -> Result<Response, ApiError> {
    let body = json_body(&body)?;
    let url = body
        .get("url")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::bad_request("The webhook URL is required."))?;
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(ApiError::bad_request(
            "The webhook URL must be an http or https URL.",
        ));
    }
    let list = body
        .get("webhooks")
        .and_then(Value::as_array)
        .ok_or_else(|| ApiError::bad_request("'webhooks' is required."))?;
    let mut site = lock(&state.site);
    let mut results = Vec::new();
    for w in list {
        let strings = |k: &str| -> Vec<String> {
            w.get(k)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|e| e.as_str().map(str::to_owned))
                .collect()
        };
        let Some(jql) = w.get("jqlFilter").and_then(Value::as_str) else {
            results.push(json!({ "errors": ["The JQL filter is required."] }));
            continue;
        };
        match site.add_webhook(NewWebhook {
            name: None,
            secret: None,
            url,
            events: strings("events"),
            jql,
            field_ids: strings("fieldIdsFilter"),
        }) {
            Ok(id) => {
                info!(id, url, "Webhook registered.");
                results.push(json!({ "createdWebhookId": id }));
            }
            Err(errors) => results.push(json!({ "errors": errors })),
        }
    }
    Ok(axum::Json(json!({ "webhookRegistrationResult": results })).into_response())
}

/// `GET /rest/api/{2,3}/webhook?startAt&maxResults` → `PageBeanWebhook`.
pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    params: Params,
) -> Result<Response, ApiError> {
    let site = lock(&state.site);
    let start = params.number("startAt", 0)?;
    let max = params.number("maxResults", 100)?.clamp(1, 100);
    let dynamic: Vec<_> = site.webhooks.iter().filter(|w| w.name.is_none()).collect();
    let total = dynamic.len();
    let values: Vec<Value> = dynamic
        .into_iter()
        .skip(start)
        .take(max)
        .map(|w| {
            let mut v = json!({
                "id": w.id, "url": w.url, "jqlFilter": w.jql, "events": w.events,
                "expirationDate": w.expires.as_millisecond(),
            });
            if !w.field_ids.is_empty() {
                v["fieldIdsFilter"] = json!(w.field_ids);
            }
            v
        })
        .collect();
    let is_last = start.saturating_add(values.len()) >= total;
    let mut page = json!({
        "self": format!("{}/rest/api/3/webhook?maxResults={max}&startAt={start}", base_url(&state, &headers)),
        "maxResults": max, "startAt": start, "total": total, "isLast": is_last, "values": values,
    });
    if !is_last {
        page["nextPage"] = json!(format!(
            "{}/rest/api/3/webhook?maxResults={max}&startAt={}",
            base_url(&state, &headers),
            start.saturating_add(max)
        ));
    }
    Ok(axum::Json(page).into_response())
}

fn ids(body: &Value) -> Result<Vec<u64>, ApiError> {
    body.get("webhookIds")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
        .ok_or_else(|| ApiError::bad_request("'webhookIds' is required."))
}

/// `DELETE /rest/api/{2,3}/webhook` with `{webhookIds}` → 202.
pub async fn remove(State(state): State<AppState>, body: Bytes) -> Result<Response, ApiError> {
    let ids = ids(&json_body(&body)?)?;
    lock(&state.site)
        .webhooks
        .retain(|w| !(ids.contains(&w.id) && w.name.is_none()));
    Ok(StatusCode::ACCEPTED.into_response())
}

/// `PUT /rest/api/{2,3}/webhook/refresh` with `{webhookIds}` → `{expirationDate}`.
pub async fn refresh(State(state): State<AppState>, body: Bytes) -> Result<Response, ApiError> {
    let ids = ids(&json_body(&body)?)?;
    let mut site = lock(&state.site);
    let expires = site
        .peek_now()
        .checked_add(jiff::SignedDuration::from_hours(30 * 24))
        .unwrap_or_else(|_| site.peek_now());
    for w in site.webhooks.iter_mut().filter(|w| ids.contains(&w.id)) {
        w.expires = expires;
    }
    Ok(axum::Json(json!({ "expirationDate": expires.as_millisecond() })).into_response())
}

/// `GET /__emulator/webhook-deliveries`: the calls made so far (emulator-only).
pub async fn deliveries(State(state): State<AppState>) -> axum::Json<Vec<Delivery>> {
    axum::Json(lock(&state.deliveries).clone())
}
