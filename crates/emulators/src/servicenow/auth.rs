//! Authentication: Basic, and OAuth 2.0 bearer tokens from `POST /oauth_token.do`
//! (tracker-apis.md §1.2): the password grant returns an access and a refresh token (the
//! current access token again when asked within its lifetime), the refresh-token grant a new
//! access token. The body must be form-encoded.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde::Deserialize;
use serde_json::json;
use tracing::info;

use super::error::ApiError;
use super::{AppState, EmulatorConfig, lock};

#[derive(Debug)]
struct Grant {
    user: String,
    client_id: String,
    expires: Instant,
}

#[derive(Debug, Default)]
struct Tokens {
    access: HashMap<String, Grant>,
    refresh: HashMap<String, Grant>,
}

/// Users, OAuth clients and issued tokens.
pub struct Auth {
    passwords: HashMap<String, String>,
    clients: HashMap<String, String>,
    access_lifetime: Duration,
    refresh_lifetime: Duration,
    tokens: Mutex<Tokens>,
}

fn new_token() -> String {
    // Two v7 UUIDs carry 148 random bits: unguessable enough for an emulator.
    format!(
        "{}{}",
        uuid::Uuid::now_v7().simple(),
        uuid::Uuid::now_v7().simple()
    )
}

impl Auth {
    pub fn new(config: &EmulatorConfig) -> Self {
        Self {
            passwords: config
                .users
                .iter()
                .map(|u| (u.user_name.clone(), u.password.clone()))
                .collect(),
            clients: config
                .oauth_clients
                .iter()
                .map(|c| (c.client_id.clone(), c.client_secret.clone()))
                .collect(),
            access_lifetime: config.access_token_lifetime,
            refresh_lifetime: config.refresh_token_lifetime,
            tokens: Mutex::new(Tokens::default()),
        }
    }

    fn password_ok(&self, user: &str, password: &str) -> bool {
        self.passwords.get(user).is_some_and(|p| p == password)
    }

    /// The user a request authenticates as, from `Authorization: Basic` or `Bearer`.
    pub fn authenticate(&self, headers: &HeaderMap) -> Result<String, ApiError> {
        let value = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(ApiError::unauthenticated)?;
        let (scheme, rest) = value
            .split_once(' ')
            .ok_or_else(ApiError::unauthenticated)?;
        if scheme.eq_ignore_ascii_case("basic") {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(rest.trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(ApiError::unauthenticated)?;
            let (user, password) = decoded
                .split_once(':')
                .ok_or_else(ApiError::unauthenticated)?;
            if self.password_ok(user, password) {
                return Ok(user.to_owned());
            }
        } else if scheme.eq_ignore_ascii_case("bearer") {
            let tokens = lock(&self.tokens);
            if let Some(g) = tokens.access.get(rest.trim())
                && g.expires > Instant::now()
            {
                return Ok(g.user.clone());
            }
        }
        Err(ApiError::unauthenticated())
    }

    fn client_ok(&self, id: &str, secret: &str) -> bool {
        self.clients.get(id).is_some_and(|s| s == secret)
    }

    /// The access token for a user and client: the current one while it lives, else a new one.
    fn access_token(
        &self,
        tokens: &mut Tokens,
        user: &str,
        client_id: &str,
        reuse: bool,
    ) -> (String, Duration) {
        let now = Instant::now();
        tokens.access.retain(|_, g| g.expires > now);
        if reuse
            && let Some((t, g)) = tokens
                .access
                .iter()
                .find(|(_, g)| g.user == user && g.client_id == client_id)
        {
            return (t.clone(), g.expires.saturating_duration_since(now));
        }
        let token = new_token();
        tokens.access.insert(
            token.clone(),
            Grant {
                user: user.to_owned(),
                client_id: client_id.to_owned(),
                expires: now + self.access_lifetime,
            },
        );
        (token, self.access_lifetime)
    }
}

#[derive(Debug, Deserialize)]
pub struct TokenRequest {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    username: Option<String>,
    password: Option<String>,
    refresh_token: Option<String>,
}

/// ServiceNow's answer to refused credentials on the token endpoint.
fn access_denied() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        axum::Json(json!({ "error_description": "access_denied", "error": "server_error" })),
    )
        .into_response()
}

fn invalid_request(why: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({ "error_description": why, "error": "invalid_request" })),
    )
        .into_response()
}

/// The client id and secret sent as `Authorization: Basic` (what OAuth libraries such as
/// requests-oauthlib send): as written, and form-decoded as RFC 6749 §2.3.1 asks clients to
/// encode them (not all do).
fn basic_client(headers: &HeaderMap) -> Vec<(String, String)> {
    let Some(decoded) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .and_then(|(_, rest)| {
            base64::engine::general_purpose::STANDARD
                .decode(rest.trim())
                .ok()
        })
        .and_then(|b| String::from_utf8(b).ok())
    else {
        return Vec::new();
    };
    let Some((id, secret)) = decoded.split_once(':') else {
        return Vec::new();
    };
    let form = |s: &str| {
        percent_encoding::percent_decode_str(&s.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned()
    };
    vec![(id.to_owned(), secret.to_owned()), (form(id), form(secret))]
}

/// `POST /oauth_token.do`. The client authenticates with `client_id` and `client_secret` in
/// the form body or with `Authorization: Basic`, both as ServiceNow accepts them.
pub async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<TokenRequest>, FormRejection>,
) -> Response {
    let Ok(Form(req)) = form else {
        return invalid_request("the body must be application/x-www-form-urlencoded");
    };
    let auth = &state.auth;
    let in_body = match (req.client_id.clone(), req.client_secret.clone()) {
        (Some(id), Some(secret)) => Some((id, secret)),
        _ => None,
    };
    let Some((client_id, _)) = in_body
        .into_iter()
        .chain(basic_client(&headers))
        .find(|(id, secret)| auth.client_ok(id, secret))
    else {
        return access_denied();
    };
    let client_id = client_id.as_str();
    let now = Instant::now();
    let mut tokens = lock(&auth.tokens);
    match req.grant_type.as_deref() {
        Some("password") => {
            let (Some(user), Some(password)) = (req.username.as_deref(), req.password.as_deref())
            else {
                return access_denied();
            };
            if !auth.password_ok(user, password) {
                return access_denied();
            }
            let (access, left) = auth.access_token(&mut tokens, user, client_id, true);
            let refresh = new_token();
            tokens.refresh.insert(
                refresh.clone(),
                Grant {
                    user: user.to_owned(),
                    client_id: client_id.to_owned(),
                    expires: now + auth.refresh_lifetime,
                },
            );
            info!(
                user,
                client_id, "Emulator issued an OAuth token (password grant)."
            );
            token_response(&access, Some(&refresh), left)
        }
        Some("refresh_token") => {
            let Some(refresh) = req.refresh_token.as_deref() else {
                return access_denied();
            };
            let user = match tokens.refresh.get(refresh) {
                Some(g) if g.expires > now && g.client_id == client_id => g.user.clone(),
                _ => return access_denied(),
            };
            let (access, left) = auth.access_token(&mut tokens, &user, client_id, false);
            info!(
                user,
                client_id, "Emulator issued an OAuth token (refresh grant)."
            );
            token_response(&access, None, left)
        }
        _ => invalid_request("grant_type must be password or refresh_token"),
    }
}

fn token_response(access: &str, refresh: Option<&str>, left: Duration) -> Response {
    let mut body = json!({
        "access_token": access,
        "scope": "useraccount",
        "token_type": "Bearer",
        "expires_in": left.as_secs().saturating_sub(1),
    });
    if let Some(r) = refresh {
        body["refresh_token"] = json!(r);
    }
    axum::Json(body).into_response()
}
