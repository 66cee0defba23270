//! The business rule an admin pastes into ServiceNow so that a change reaches the Tandem node
//! at once (README, "Push from ServiceNow"), played by the emulator: after every write through
//! the Table or Attachment API that succeeded, by any user but the one the rule leaves out (the
//! node's own proxy user), it POSTs `{"table", "sys_id"}` to the node with the shared secret in
//! `X-Tandem-Push-Secret`, without waiting for the answer (`RESTMessageV2.executeAsync`).
//!
//! Emulator-only: `POST /__emulator/push` sets the rule (`{"url", "secret", "skip_user"}`, or
//! `null` to remove it), `GET` reads it.

use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use tracing::{debug, info};

use super::{AppState, Caller, lock};

/// The header the rule sends its secret in.
pub const SECRET_HEADER: &str = "X-Tandem-Push-Secret";

/// Where the rule calls, and with what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushRule {
    /// The node's push URL (`…/hooks/servicenow`).
    pub url: String,
    pub secret: String,
    /// Writes by this user call nothing (the rule's condition `gs.getUserName() != '…'`).
    #[serde(default)]
    pub skip_user: Option<String>,
}

/// `POST /__emulator/push`.
pub(crate) async fn set_rule(
    State(state): State<AppState>,
    axum::Json(rule): axum::Json<Option<PushRule>>,
) -> axum::Json<Option<PushRule>> {
    info!(
        url = rule.as_ref().map(|r| r.url.as_str()),
        "Emulated push rule set."
    );
    *lock(&state.push) = rule.clone();
    axum::Json(rule)
}

/// `GET /__emulator/push`.
pub(crate) async fn get_rule(State(state): State<AppState>) -> axum::Json<Option<PushRule>> {
    axum::Json(lock(&state.push).clone())
}

/// The table and sys_id a write request names (`/api/now/table/{table}[/{sys_id}]`); the
/// Attachment API names neither in its path.
fn target(path: &str) -> (Option<String>, Option<String>) {
    let mut parts = path
        .strip_prefix("/api/now/table/")
        .unwrap_or_default()
        .split('/')
        .filter(|p| !p.is_empty());
    (
        parts.next().map(str::to_owned),
        parts.next().map(str::to_owned),
    )
}

/// Runs the rule after a write that succeeded (a layer inside the API's gate, which names the
/// caller).
pub(crate) async fn after_write(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let write = matches!(
        *request.method(),
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    );
    let user = request.extensions().get::<Caller>().map(|c| c.0.clone());
    let (table, sys_id) = target(request.uri().path());
    let response = next.run(request).await;
    if !write || !response.status().is_success() {
        return response;
    }
    let Some(rule) = lock(&state.push).clone() else {
        return response;
    };
    if rule.skip_user.is_some() && rule.skip_user == user {
        return response;
    }
    let body = serde_json::json!({ "table": table, "sys_id": sys_id });
    tokio::spawn(async move {
        let sent = reqwest::Client::new()
            .post(&rule.url)
            .header(SECRET_HEADER, &rule.secret)
            .json(&body)
            .send()
            .await;
        match sent {
            Ok(r) => debug!(status = %r.status(), "Emulated push rule called the node."),
            Err(e) => debug!(error = %e, "Emulated push rule could not call the node."),
        }
    });
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_and_record_come_from_the_table_api_path() {
        assert_eq!(
            target("/api/now/table/incident/abc"),
            (Some("incident".into()), Some("abc".into()))
        );
        assert_eq!(
            target("/api/now/table/incident"),
            (Some("incident".into()), None)
        );
        assert_eq!(target("/api/now/attachment/file"), (None, None));
    }
}
