//! Who may do what: console logins (argon2 passwords, session cookies, CSRF tokens), API bearer
//! tokens, and the one-time setup link of a first start.
//!
//! Only hashes are stored: SHA-256 of session ids, API tokens and the setup token (all
//! high-entropy, so a fast hash suffices), argon2id of passwords (low-entropy). Password checks
//! go through [`throttle`]: failed sign-ins slow the next ones down, and hashing runs in a few
//! slots. API tokens carry a [`TokenScope`] that [`ApiCaller`] enforces on every API request.

pub mod throttle;

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash};
use axum::extract::{FromRequestParts, MatchedPath};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use tandem_store::{NewSession, Session, TokenScope};

use crate::error::{ApiError, NodeError};
use crate::state::AppState;

/// The console's cookies. Browsers keep cookies per host, whatever the port, so each node
/// names its own after itself: two consoles on one host (the demo, "Go to remote") would
/// otherwise sign each other out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConsoleCookie {
    /// The signed-in session.
    Session,
    /// The login form's CSRF token, before there is a session.
    LoginCsrf,
}

impl ConsoleCookie {
    /// The cookie's name on this node: `tandem_session_` or `tandem_login_csrf_`, then the
    /// random end of the node's id.
    pub fn name(self, state: &AppState) -> String {
        let id = state.identity().id.simple().to_string();
        let stem = match self {
            ConsoleCookie::Session => "tandem_session",
            ConsoleCookie::LoginCsrf => "tandem_login_csrf",
        };
        format!("{stem}_{}", &id[id.len() - 8..])
    }
}
/// How long a console login lasts.
pub const SESSION_HOURS: i64 = 12;
const SETUP_TOKEN_SETTING: &str = "setup.token_hash";
/// The file in the data directory holding the setup link until it is used (mode 0600).
pub const SETUP_LINK_FILE: &str = "setup-link.txt";
/// The user `--admin-password` sets.
pub const ADMIN_USER: &str = "admin";

pub fn fill_random(buf: &mut [u8]) -> Result<(), NodeError> {
    getrandom::fill(buf)
        .map_err(|e| NodeError::Internal(format!("the system random source failed: {e}")))
}

/// A fresh random token: 32 bytes, base64url.
pub fn random_token() -> Result<String, NodeError> {
    let mut bytes = [0u8; 32];
    fill_random(&mut bytes)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// SHA-256 of a high-entropy token, base64url; what the database keeps.
pub fn hash_token(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()))
}

/// Argon2id hash in PHC format. Slow on purpose: call it off the async threads.
pub fn hash_password(password: &str) -> Result<String, NodeError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| NodeError::Internal(format!("cannot hash the password: {e}")))
}

pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|hash| {
            Argon2::default()
                .verify_password(password.as_bytes(), &hash)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Runs the slow hash on the blocking pool.
pub async fn hash_password_blocking(password: String) -> Result<String, NodeError> {
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| NodeError::Internal(format!("password hashing task failed: {e}")))?
}

pub async fn verify_password_blocking(password: String, phc: String) -> bool {
    tokio::task::spawn_blocking(move || verify_password(&password, &phc))
        .await
        .unwrap_or(false)
}

/// Checks a password for a sign-in as `username` from `client`: counted by the throttle
/// first, then hashed in one of the node's hashing slots. `Ok(None)`: the name or password is
/// wrong; `Err`: refused before checking. Every path that checks a password goes through here.
pub async fn check_sign_in(
    state: &AppState,
    username: &str,
    password: String,
    client: std::net::IpAddr,
) -> Result<Option<tandem_store::User>, SignInError> {
    let attempt = state
        .logins()
        .begin(username, client)
        .map_err(SignInError::Refused)?;
    let slot = match state.hash_gate().slot().await {
        Ok(slot) => slot,
        Err(refusal) => {
            state.logins().unchecked(attempt);
            return Err(SignInError::Refused(refusal));
        }
    };
    let user = state.store().user_by_name(username).await?;
    let verified = match &user {
        Some(u) => verify_password_blocking(password, u.password_hash.clone()).await,
        None => {
            // Spend the same time as a real check, so timing does not tell which names exist.
            let _ = hash_password_blocking(password).await;
            false
        }
    };
    drop(slot);
    match user {
        Some(u) if verified => {
            state.logins().succeeded(attempt);
            Ok(Some(u))
        }
        _ => Ok(None),
    }
}

/// Why a sign-in could not be checked.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    #[error("{}", .0.message())]
    Refused(throttle::Refusal),
    #[error(transparent)]
    Node(#[from] NodeError),
}

impl From<tandem_store::StoreError> for SignInError {
    fn from(e: tandem_store::StoreError) -> Self {
        SignInError::Node(e.into())
    }
}

/// Hashes a new password in one of the node's hashing slots.
pub async fn hash_password_gated(
    state: &AppState,
    password: String,
) -> Result<String, SignInError> {
    let _slot = state
        .hash_gate()
        .slot()
        .await
        .map_err(SignInError::Refused)?;
    Ok(hash_password_blocking(password).await?)
}

/// Compares two secrets in time independent of where they differ.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Starts a console session for the user; returns the cookie to set.
pub async fn start_session(state: &AppState, user_id: i64) -> Result<Cookie<'static>, NodeError> {
    let id = random_token()?;
    let expires = jiff::Timestamp::now()
        .checked_add(jiff::SignedDuration::from_hours(SESSION_HOURS))
        .map_err(|e| NodeError::Internal(e.to_string()))?;
    state
        .store()
        .create_session(NewSession {
            id_hash: hash_token(&id),
            user_id,
            csrf_token: random_token()?,
            expires,
        })
        .await?;
    Ok(cookie(state, ConsoleCookie::Session, id))
}

/// An HTTP-only, SameSite=Lax browser-session cookie, `Secure` when the node is served over
/// HTTPS. The server side decides when a session expires.
pub fn cookie(state: &AppState, which: ConsoleCookie, value: String) -> Cookie<'static> {
    Cookie::build((which.name(state), value))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.https())
        .path("/")
        .build()
}

/// The expired cookie that removes one of the console's cookies from the browser.
pub fn removal_cookie(state: &AppState, which: ConsoleCookie) -> Cookie<'static> {
    let mut c = Cookie::from(which.name(state));
    c.set_path("/");
    c.make_removal();
    c
}

/// A logged-in console user. Extracting it from a request without a valid session redirects
/// the browser to the login page, which brings it back afterwards.
pub struct ConsoleUser {
    pub session: Session,
    /// The node's unresolved sync errors, read with the session: every page's menu shows
    /// the count next to Errors.
    pub open_errors: u64,
}

impl ConsoleUser {
    pub fn csrf(&self) -> &str {
        &self.session.csrf_token
    }

    /// Every form a logged-in user posts carries the session's CSRF token.
    pub fn check_csrf(&self, submitted: &str) -> Result<(), ApiError> {
        if constant_time_eq(submitted, &self.session.csrf_token) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(
                "the form has expired or did not come from this console: reload the page and try again".into(),
            ))
        }
    }
}

pub enum LoginRedirect {
    Login(String),
    Failed(ApiError),
}

impl IntoResponse for LoginRedirect {
    fn into_response(self) -> Response {
        match self {
            LoginRedirect::Login(next) => {
                let to = format!("/login?next={}", urlencode(&next));
                Redirect::to(&to).into_response()
            }
            LoginRedirect::Failed(e) => crate::console::error_page(e),
        }
    }
}

impl FromRequestParts<AppState> for ConsoleUser {
    type Rejection = LoginRedirect;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let next = parts
            .uri
            .path_and_query()
            .map_or("/".to_owned(), |p| p.to_string());
        let jar = CookieJar::from_headers(&parts.headers);
        let Some(id) = jar
            .get(&ConsoleCookie::Session.name(state))
            .map(|c| c.value().to_owned())
        else {
            return Err(LoginRedirect::Login(next));
        };
        match state
            .store()
            .session(&hash_token(&id), jiff::Timestamp::now())
            .await
        {
            Ok(Some(session)) => {
                let open_errors = match state.store().open_error_counts().await {
                    Ok(counts) => counts.iter().map(|(_, n)| n).sum(),
                    Err(e) => return Err(LoginRedirect::Failed(e.into())),
                };
                Ok(ConsoleUser {
                    session,
                    open_errors,
                })
            }
            Ok(None) => Err(LoginRedirect::Login(next)),
            Err(e) => Err(LoginRedirect::Failed(e.into())),
        }
    }
}

/// The address a request came from (the TCP peer; forwarding headers are not trusted, since
/// anyone can send them). Unspecified when the server does not record peers.
pub struct ClientAddr(pub std::net::IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(
            parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map_or(
                    std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
                    |info| info.0.ip(),
                ),
        ))
    }
}

/// An API caller authenticated by a bearer token whose scope allows the request.
pub struct ApiCaller {
    /// The token's name, recorded as the actor of changes made through it.
    pub name: String,
    pub scope: TokenScope,
}

impl FromRequestParts<AppState> for ApiCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer_token(&parts.headers)?;
        let Some(t) = state
            .store()
            .use_api_token(&hash_token(token), jiff::Timestamp::now())
            .await?
        else {
            return Err(ApiError::Unauthorized(
                "the API token is not valid or has been revoked".into(),
            ));
        };
        let route = parts
            .extensions
            .get::<MatchedPath>()
            .map(MatchedPath::as_str);
        let needed = scope_needed(&parts.method, route);
        if !t.scope.allows(needed) {
            return Err(ApiError::Forbidden(scope_refusal(&t.name, t.scope)));
        }
        Ok(ApiCaller {
            name: t.name,
            scope: t.scope,
        })
    }
}

/// The scope a request needs: reads need `ReadOnly`, the sync operations in
/// [`crate::api::sync::SYNC_OPERATIONS`] `SyncOperator`, everything else `Admin`.
pub fn scope_needed(method: &Method, route: Option<&str>) -> TokenScope {
    if method == Method::GET || method == Method::HEAD {
        return TokenScope::ReadOnly;
    }
    let route = route.map(|r| r.strip_prefix("/api/v1").unwrap_or(r));
    match route {
        Some(r) if method == Method::POST && crate::api::sync::SYNC_OPERATIONS.contains(&r) => {
            TokenScope::SyncOperator
        }
        _ => TokenScope::Admin,
    }
}

fn scope_refusal(name: &str, scope: TokenScope) -> String {
    match scope {
        TokenScope::ReadOnly => format!(
            "the API token '{name}' is read-only: it may only read (GET); use a sync-operator or admin token to change things"
        ),
        TokenScope::SyncOperator => format!(
            "the API token '{name}' is a sync-operator token: it may read and run sync operations (exalate, unexalate, sync again, connect, retry, bulk), not change connections, rules, settings or items; use an admin token"
        ),
        TokenScope::Admin => format!("the API token '{name}' may not do this"),
    }
}

fn bearer_token(headers: &HeaderMap) -> Result<&str, ApiError> {
    let missing = || {
        ApiError::Unauthorized(
            "missing API token: send the header 'Authorization: Bearer <token>' (create a token in the console under Settings → API tokens, or with `tandem token create`)".into(),
        )
    };
    let value = headers.get(header::AUTHORIZATION).ok_or_else(missing)?;
    let value = value.to_str().map_err(|_| missing())?;
    let (scheme, token) = value.split_once(' ').ok_or_else(missing)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(missing());
    }
    Ok(token.trim())
}

/// Creates a one-time setup token for a node that has no users yet, and returns it. The link
/// `<node URL>/setup?token=…` lets the first person to open it choose the admin password.
pub async fn create_setup_token(state: &AppState) -> Result<String, NodeError> {
    let token = random_token()?;
    state
        .store()
        .set_setting(SETUP_TOKEN_SETTING, &hash_token(&token))
        .await?;
    Ok(token)
}

pub async fn setup_token_valid(state: &AppState, token: &str) -> Result<bool, NodeError> {
    let stored = state.store().setting(SETUP_TOKEN_SETTING).await?;
    Ok(stored.is_some_and(|h| constant_time_eq(&h, &hash_token(token))))
}

/// Uses up the setup link, if `token` is still it; whether this call did. Atomic: of several
/// requests with the link at once, exactly one gets `true`.
pub async fn take_setup_token(state: &AppState, token: &str) -> Result<bool, NodeError> {
    Ok(state
        .store()
        .take_setting(SETUP_TOKEN_SETTING, &hash_token(token))
        .await?)
}

/// Makes a taken setup link work again (its use failed before a user was created), unless
/// another link has been made since.
pub async fn restore_setup_token(state: &AppState, token: &str) -> Result<(), NodeError> {
    state
        .store()
        .set_setting_if_absent(SETUP_TOKEN_SETTING, &hash_token(token))
        .await?;
    Ok(())
}

/// `text` as a query-string value of a console link: RFC 3986's unreserved characters and `/`
/// (a `next` path stays readable) kept, every other byte percent-encoded.
pub fn urlencode(text: &str) -> String {
    const QUERY_VALUE: &percent_encoding::AsciiSet = &tandem_connectors::UNRESERVED.remove(b'/');
    percent_encoding::utf8_percent_encode(text, QUERY_VALUE).to_string()
}

/// Only same-site paths may be redirect targets after login, never another host: `next` must
/// be an absolute path (one leading `/`, no `//` and no backslash in the path) without control
/// characters or whitespace, and stay so once percent-decoded (browsers drop tabs and newlines
/// from a `Location`, and some read `\` as `/`). Anything else goes to the console's home.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if is_local_path(n) => n.to_owned(),
        _ => "/".to_owned(),
    }
}

fn is_local_path(next: &str) -> bool {
    let unsafe_path = |text: &str| {
        let path = text.split(['?', '#']).next().unwrap_or_default();
        !path.starts_with('/') || path.contains("//")
    };
    let unsafe_char = |c: char| c.is_control() || c.is_whitespace() || c == '\\';
    if unsafe_path(next) || next.chars().any(unsafe_char) {
        return false;
    }
    // Decode until nothing changes (a bounded number of times: %2525… decodes once per round).
    let mut decoded = next.to_owned();
    for _ in 0..4 {
        let once = percent_encoding::percent_decode_str(&decoded)
            .decode_utf8_lossy()
            .into_owned();
        if once == decoded {
            return true;
        }
        // A space typed into a search is harmless in the query once decoded; in the path, or
        // any control character or backslash anywhere, is not.
        let path = once.split(['?', '#']).next().unwrap_or_default();
        if unsafe_path(&once)
            || path.chars().any(char::is_whitespace)
            || once.chars().any(|c| c.is_control() || c == '\\')
        {
            return false;
        }
        decoded = once;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_themselves() {
        let hash = hash_password("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("correct horsf", &hash));
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn tokens_are_random_and_hash_stably() {
        let a = random_token().unwrap();
        assert_ne!(a, random_token().unwrap());
        assert_eq!(hash_token(&a), hash_token(&a));
        assert_eq!(a.len(), 43);
    }

    #[test]
    fn reads_need_read_only_sync_operations_sync_operator_and_the_rest_admin() {
        let needed = |method: Method, route: &str| scope_needed(&method, Some(route));
        assert_eq!(
            needed(Method::GET, "/api/v1/connections"),
            TokenScope::ReadOnly
        );
        assert_eq!(needed(Method::HEAD, "/api/v1/items"), TokenScope::ReadOnly);
        assert_eq!(
            needed(Method::POST, "/api/v1/sync/exalate"),
            TokenScope::SyncOperator
        );
        assert_eq!(
            needed(Method::POST, "/api/v1/sync/errors/{id}/retry"),
            TokenScope::SyncOperator
        );
        assert_eq!(
            needed(Method::PATCH, "/api/v1/connections/{name}"),
            TokenScope::Admin
        );
        assert_eq!(
            needed(Method::POST, "/api/v1/sync/cleanup"),
            TokenScope::Admin
        );
        assert_eq!(needed(Method::POST, "/api/v1/items"), TokenScope::Admin);
        assert_eq!(scope_needed(&Method::POST, None), TokenScope::Admin);
        assert!(TokenScope::Admin.allows(TokenScope::SyncOperator));
        assert!(!TokenScope::ReadOnly.allows(TokenScope::SyncOperator));
    }

    #[test]
    fn redirects_stay_on_this_node() {
        assert_eq!(safe_next(Some("/items?query=x")), "/items?query=x");
        assert_eq!(safe_next(Some("//evil.example")), "/");
        assert_eq!(safe_next(Some("https://evil.example")), "/");
        assert_eq!(safe_next(None), "/");
        assert_eq!(
            safe_next(Some("/items?query=status%20%3D%20done")),
            "/items?query=status%20%3D%20done"
        );
        for bad in [
            "/\t/evil.example",
            "/%09/evil.example",
            "/%0a/evil.example",
            "/%2F/evil.example",
            "/%252F%252Fevil.example",
            "/\\evil.example",
            "/%5Cevil.example",
            "/ /evil.example",
            "/items?x=%0d%0aSet-Cookie:a",
            "evil.example",
            "",
        ] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad:?}");
        }
    }
}
