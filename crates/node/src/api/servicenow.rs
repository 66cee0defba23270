//! `/api/v1/servicenow/push`: what an admin pastes into ServiceNow so changes reach this node
//! at once (see [`crate::servicenow::push`]). Admin tokens only: the answer holds the secret.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tandem_connectors::TrackerKind;
use tandem_store::TokenScope;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::ApiCaller;
use crate::error::{ApiError, ApiErrorBody};
use crate::servicenow::push;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(get_push))
        .routes(routes!(rotate_push))
}

/// How ServiceNow tells this node about a change at once.
#[derive(Debug, Serialize, ToSchema)]
pub struct PushJson {
    /// The URL the business rule calls.
    pub url: String,
    /// The header it sends the secret in.
    pub header: &'static str,
    /// The secret (keep it in the instance's `x_tandem.push_secret` system property).
    pub secret: String,
    /// The system property the rule reads the secret from.
    pub property: &'static str,
    /// The business rule to paste (the synced table; When: async; Insert and Update).
    pub business_rule: String,
}

fn push_json(state: &AppState, secret: String) -> Result<PushJson, ApiError> {
    let config = state
        .servicenow_config()
        .ok_or_else(|| ApiError::NotFound("this node serves no ServiceNow instance".into()))?;
    let url = push::url(state);
    Ok(PushJson {
        business_rule: push::business_rule(&url, &config.user),
        url,
        header: push::SECRET_HEADER,
        secret,
        property: push::PROPERTY,
    })
}

fn checked(caller: &ApiCaller, state: &AppState) -> Result<(), ApiError> {
    if caller.scope != TokenScope::Admin {
        return Err(ApiError::Forbidden(format!(
            "the API token '{}' is not an admin token: only admin tokens see the push secret",
            caller.name
        )));
    }
    if state.view().kind() != TrackerKind::ServiceNow {
        return Err(ApiError::NotFound(
            "this node serves no ServiceNow instance".into(),
        ));
    }
    Ok(())
}

#[utoipa::path(get, path = "/servicenow/push", tag = "servicenow", responses(
    (status = 200, description = "The push URL, secret and business rule.", body = PushJson),
    (status = 403, description = "Not an admin token.", body = ApiErrorBody),
    (status = 404, description = "The node serves no ServiceNow instance.", body = ApiErrorBody),
))]
async fn get_push(caller: ApiCaller, State(state): State<AppState>) -> Result<Response, ApiError> {
    checked(&caller, &state)?;
    let secret = push::secret(&state).await?;
    Ok(axum::Json(push_json(&state, secret)?).into_response())
}

#[utoipa::path(post, path = "/servicenow/push/rotate", tag = "servicenow", responses(
    (status = 200, description = "A new secret; the old one stops working at once.", body = PushJson),
    (status = 403, description = "Not an admin token.", body = ApiErrorBody),
    (status = 404, description = "The node serves no ServiceNow instance.", body = ApiErrorBody),
))]
async fn rotate_push(
    caller: ApiCaller,
    State(state): State<AppState>,
) -> Result<Response, ApiError> {
    checked(&caller, &state)?;
    let secret = push::rotate(&state).await?;
    tracing::info!(by = %caller.name, "ServiceNow push secret rotated.");
    Ok(axum::Json(push_json(&state, secret)?).into_response())
}
