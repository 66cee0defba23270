//! `/api/v1/tokens`: the API tokens, as Settings → API tokens shows them, for `tandem token`
//! while the node runs (the database is the node's then). Admin tokens only, reads included:
//! who may list tokens may also make one.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use tandem_store::{ApiToken, TokenScope};

use crate::auth::{self, ApiCaller};
use crate::config::check_name;
use crate::error::{ApiError, ApiJson};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/tokens", get(list).post(create))
        .route("/tokens/{id}/revoke", post(revoke))
}

/// A token as listed: never its secret, which only its creation shows.
#[derive(Debug, Serialize)]
pub struct TokenJson {
    pub id: i64,
    pub name: String,
    pub scope: &'static str,
    /// RFC 3339, UTC.
    pub created: String,
    pub created_by: String,
    pub last_used: Option<String>,
    pub revoked: Option<String>,
}

impl From<&ApiToken> for TokenJson {
    fn from(t: &ApiToken) -> Self {
        TokenJson {
            id: t.id,
            name: t.name.clone(),
            scope: t.scope.as_str(),
            created: t.created.to_string(),
            created_by: t.created_by.clone(),
            last_used: t.last_used.map(|at| at.to_string()),
            revoked: t.revoked.map(|at| at.to_string()),
        }
    }
}

fn admin_only(caller: &ApiCaller) -> Result<(), ApiError> {
    if caller.scope == TokenScope::Admin {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!(
            "the API token '{}' is not an admin token: only admin tokens see and make tokens",
            caller.name
        )))
    }
}

async fn list(caller: ApiCaller, State(state): State<AppState>) -> Result<Response, ApiError> {
    admin_only(&caller)?;
    let tokens = state.store().api_tokens().await?;
    let tokens: Vec<TokenJson> = tokens.iter().map(TokenJson::from).collect();
    Ok(axum::Json(serde_json::json!({ "tokens": tokens })).into_response())
}

#[derive(Debug, Deserialize)]
struct CreateBody {
    name: String,
    /// `read`, `sync` or `admin` (the default).
    #[serde(default)]
    scope: Option<String>,
}

async fn create(
    caller: ApiCaller,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CreateBody>,
) -> Result<Response, ApiError> {
    admin_only(&caller)?;
    let name = body.name.trim();
    check_name(name).map_err(|e| ApiError::BadRequest(format!("token name: {e}")))?;
    let scope = match body.scope.as_deref() {
        None => TokenScope::Admin,
        Some(text) => TokenScope::parse(text).ok_or_else(|| {
            ApiError::BadRequest(format!(
                "unknown scope '{text}': choose read, sync or admin"
            ))
        })?,
    };
    let token = auth::random_token()?;
    let created_by = format!("API token {}", caller.name);
    let made = state
        .store()
        .create_api_token(name, &auth::hash_token(&token), &created_by, scope)
        .await?;
    tracing::info!(by = %caller.name, token = %made.name, scope = scope.as_str(), "API token created.");
    let mut json = serde_json::to_value(TokenJson::from(&made))
        .map_err(|e| ApiError::Internal(format!("cannot serialize a token: {e}")))?;
    json["token"] = token.into();
    Ok((StatusCode::CREATED, axum::Json(json)).into_response())
}

async fn revoke(
    caller: ApiCaller,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    admin_only(&caller)?;
    state.store().revoke_api_token(id).await?;
    tracing::info!(by = %caller.name, token = id, "API token revoked.");
    let tokens = state.store().api_tokens().await?;
    match tokens.iter().find(|t| t.id == id) {
        Some(t) => Ok(axum::Json(TokenJson::from(t)).into_response()),
        None => Err(ApiError::NotFound(format!("there is no API token {id}"))),
    }
}
