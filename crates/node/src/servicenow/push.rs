//! Push from ServiceNow: a business rule in the instance (the README gives it to paste) calls
//! `POST /hooks/servicenow` after every change, with this node's push secret in
//! `X-Tandem-Push-Secret`, and the mirror polls at once instead of at its next interval.
//! Polling stays the safety net: a call that is lost, refused or never made only means the
//! change waits for the next poll.
//!
//! The call carries no data the node trusts: whatever its body says, the node reads the changes
//! from the instance itself, as its proxy user. So the secret only guards against someone
//! making the node poll more often than its interval; at most one poll waits at a time however
//! many calls arrive, and a refused call is logged at most once a minute per source.
//!
//! The secret is made at random the first time it is asked for, kept sealed in the settings,
//! and shown to admins (Settings, `GET /api/v1/servicenow/push`); rotating it makes the old
//! one stop working.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tandem_connectors::TrackerKind;

use crate::error::NodeError;
use crate::state::AppState;

/// The path the business rule calls.
pub const PATH: &str = "/hooks/servicenow";
/// The header the rule sends the secret in.
pub const SECRET_HEADER: &str = "X-Tandem-Push-Secret";
/// The system property the rule reads the secret from.
pub const PROPERTY: &str = "x_tandem.push_secret";
/// Where the sealed secret is kept.
const SETTING: &str = "servicenow.push_secret";
/// The largest body a call may have (the rule sends a table name and a sys_id).
pub const MAX_BODY: usize = 4 * 1024;

/// This node's push secret, made the first time it is asked for.
pub async fn secret(state: &AppState) -> Result<String, NodeError> {
    let store = state.store();
    let sealed = match store.setting(SETTING).await? {
        Some(sealed) => sealed,
        None => {
            let fresh = state
                .master_key()
                .seal(crate::auth::random_token()?.as_bytes(), SETTING)?;
            // Of two first askers at once, both get the one that was stored first.
            store.set_setting_if_absent(SETTING, &fresh).await?
        }
    };
    open(state, &sealed)
}

fn open(state: &AppState, sealed: &str) -> Result<String, NodeError> {
    let plain = state
        .master_key()
        .open(sealed, SETTING)
        .map_err(|e| NodeError::Internal(e.to_string()))?;
    String::from_utf8(plain).map_err(|_| NodeError::Internal("the push secret is not text".into()))
}

/// Makes a new push secret; the old one stops working at once.
pub async fn rotate(state: &AppState) -> Result<String, NodeError> {
    let token = crate::auth::random_token()?;
    let sealed = state.master_key().seal(token.as_bytes(), SETTING)?;
    state.store().set_setting(SETTING, &sealed).await?;
    tracing::info!("The ServiceNow push secret was rotated; the business rule needs the new one.");
    Ok(token)
}

/// The URL the business rule calls.
pub fn url(state: &AppState) -> String {
    format!("{}{PATH}", state.settings().node_url.trim_end_matches('/'))
}

/// The business rule to paste into ServiceNow (System Definition → Business Rules: the synced
/// table, When: async, Insert and Update), for a proxy user named `proxy_user`.
pub fn business_rule(url: &str, proxy_user: &str) -> String {
    let quote = |s: &str| s.replace('\\', "\\\\").replace('\'', "\\'");
    format!(
        r#"// Tandem: tell the node at once that this record changed (the node reads the change itself).
// Condition: gs.getUserName() != '{user}'
(function executeRule(current, previous) {{
    var r = new sn_ws.RESTMessageV2();
    r.setEndpoint('{url}');
    r.setHttpMethod('POST');
    r.setRequestHeader('Content-Type', 'application/json');
    r.setRequestHeader('{SECRET_HEADER}', gs.getProperty('{PROPERTY}'));
    r.setRequestBody(JSON.stringify({{ table: current.getTableName(), sys_id: current.getUniqueValue() }}));
    r.executeAsync();
}})(current, previous);
"#,
        user = quote(proxy_user),
        url = quote(url),
    )
}

/// `POST /hooks/servicenow`: 202 and a poll at once for the right secret; 401 otherwise; 404
/// on a node that serves no ServiceNow instance.
pub async fn notify(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if state.view().kind() != TrackerKind::ServiceNow {
        return answer(
            StatusCode::NOT_FOUND,
            "this node serves no ServiceNow instance",
        );
    }
    let expected = match secret(&state).await {
        Ok(secret) => secret,
        Err(e) => {
            tracing::warn!(error = %e, "The ServiceNow push secret cannot be read.");
            return answer(
                StatusCode::SERVICE_UNAVAILABLE,
                "the node cannot check the push secret now; the change comes with the next poll",
            );
        }
    };
    let given = headers
        .get(SECRET_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !crate::auth::constant_time_eq(given, &expected) {
        if let Some(suppressed) = state.refusal_log("ServiceNow push", None) {
            tracing::warn!(
                suppressed,
                "Refused a ServiceNow push: its {SECRET_HEADER} is not this node's push secret (rotated, or not from the business rule)."
            );
        }
        return answer(
            StatusCode::UNAUTHORIZED,
            "the push secret is missing or wrong: copy it from the node's settings into the x_tandem.push_secret system property",
        );
    }
    state.poll_bridge_now();
    (StatusCode::ACCEPTED, axum::Json(json!({ "polling": true }))).into_response()
}

fn answer(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({ "error": message }))).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_business_rule_names_the_node_the_header_and_the_property() {
        let rule = business_rule(
            "https://tandem.example.com/hooks/servicenow",
            "tandem.proxy",
        );
        assert!(rule.contains("r.setEndpoint('https://tandem.example.com/hooks/servicenow');"));
        assert!(rule.contains("gs.getUserName() != 'tandem.proxy'"));
        assert!(rule.contains("'X-Tandem-Push-Secret', gs.getProperty('x_tandem.push_secret')"));
        assert!(rule.contains("r.executeAsync();"));
        // A quote in a name cannot end the script's string.
        let odd = business_rule("https://x/'); gs.log('", "o'brien");
        assert!(odd.contains(r"https://x/\'); gs.log(\'"), "{odd}");
        assert!(odd.contains(r"o\'brien"), "{odd}");
    }
}
