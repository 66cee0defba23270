//! `/api/v1/tokens`: the API tokens, as Settings → API tokens shows them, for `tandem token`
//! while the node runs (the database is the node's then). Admin tokens only, reads included:
//! who may list tokens may also make one.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tandem_store::{ApiToken, TokenScope};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{self, ApiCaller};
use crate::config::check_name;
use crate::error::{ApiError, ApiErrorBody, ApiJson};
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(list, create))
        .routes(routes!(revoke))
}

/// A token as listed: never its secret, which only its creation shows.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenJson {
    pub id: i64,
    pub name: String,
    /// `read`, `sync` or `admin`.
    #[schema(value_type = String)]
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

#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // The shape of `list`'s answer, for the document.
struct TokenList {
    tokens: Vec<TokenJson>,
}

#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // The shape of `create`'s answer, for the document.
struct CreatedToken {
    #[serde(flatten)]
    listed: TokenJson,
    /// The token's secret: shown this once, never again.
    token: String,
}

/// The path parameter of a token's id.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // The path parameter, for the document.
struct TokenId {
    id: i64,
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

#[utoipa::path(get, path = "/tokens", tag = "tokens", responses(
    (status = 200, description = "The API tokens, without their secrets.", body = TokenList),
    (status = 403, description = "Not an admin token.", body = ApiErrorBody),
))]
async fn list(caller: ApiCaller, State(state): State<AppState>) -> Result<Response, ApiError> {
    admin_only(&caller)?;
    let tokens = state.store().api_tokens().await?;
    let tokens: Vec<TokenJson> = tokens.iter().map(TokenJson::from).collect();
    Ok(axum::Json(serde_json::json!({ "tokens": tokens })).into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
struct CreateBody {
    name: String,
    /// `read`, `sync` or `admin` (the default).
    #[serde(default)]
    scope: Option<String>,
}

#[utoipa::path(post, path = "/tokens", tag = "tokens", request_body = CreateBody, responses(
    (status = 201, description = "The token made, with its secret (shown only now).", body = CreatedToken),
    (status = 400, description = "A bad name or an unknown scope.", body = ApiErrorBody),
    (status = 403, description = "Not an admin token.", body = ApiErrorBody),
))]
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

#[utoipa::path(post, path = "/tokens/{id}/revoke", tag = "tokens", params(TokenId), responses(
    (status = 200, description = "The token, revoked.", body = TokenJson),
    (status = 403, description = "Not an admin token.", body = ApiErrorBody),
    (status = 404, description = "No such token.", body = ApiErrorBody),
))]
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
