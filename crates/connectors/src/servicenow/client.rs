//! The HTTP side of the connector: authentication (Basic, or OAuth 2 with the password grant
//! and refresh), the `{"result": …}` envelope and ServiceNow's error envelope, retries on 429
//! (honouring `Retry-After`) and on 5xx (exponential backoff with jitter), and `Link`
//! pagination (tracker-apis.md §1.2–§1.9).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reqwest::header::{self, HeaderMap};
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{Map, Value};
use tracing::{debug, warn};

use super::record::Record;

/// How the connector signs in to the instance.
#[derive(Clone)]
pub enum Auth {
    /// The proxy user's name and password on every request.
    Basic { user: String, password: String },
    /// OAuth 2 with the password grant: a token from `/oauth_token.do`, refreshed with the
    /// refresh token when it expires, and asked for again with the password when that fails.
    OAuth {
        client_id: String,
        client_secret: String,
        user: String,
        password: String,
    },
}

impl Auth {
    /// The proxy user the connector acts as (`sys_updated_by` of its own writes).
    pub fn user(&self) -> &str {
        match self {
            Auth::Basic { user, .. } | Auth::OAuth { user, .. } => user,
        }
    }
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::Basic { user, .. } => f
                .debug_struct("Basic")
                .field("user", user)
                .field("password", &"<redacted>")
                .finish(),
            Auth::OAuth {
                client_id, user, ..
            } => f
                .debug_struct("OAuth")
                .field("client_id", client_id)
                .field("client_secret", &"<redacted>")
                .field("user", user)
                .field("password", &"<redacted>")
                .finish(),
        }
    }
}

/// When and how long to wait before trying a request again.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Tries in all, the first included.
    pub attempts: u32,
    /// The first backoff after a 5xx or a network failure; it doubles with each try.
    pub base_delay: Duration,
    /// The longest backoff.
    pub max_delay: Duration,
    /// The longest `Retry-After` the client waits out itself; a longer one is returned to the
    /// caller as [`ServiceNowError::RateLimited`] so it can pause instead of holding a task.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 6,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(120),
        }
    }
}

/// What the connector needs to reach an instance.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// `https://<instance>.service-now.com` (a trailing `/` is ignored).
    pub instance_url: String,
    pub auth: Auth,
    pub retry: RetryPolicy,
    /// Per request, connection included.
    pub timeout: Duration,
    /// How long a conclusion about `sys_journal_field`'s readability holds before the
    /// connector looks again (an admin may change the table's read ACL at any time).
    pub journal_recheck: Duration,
}

impl ClientConfig {
    pub fn new(instance_url: &str, auth: Auth) -> Self {
        Self {
            instance_url: instance_url.to_owned(),
            auth,
            retry: RetryPolicy::default(),
            timeout: Duration::from_secs(60),
            journal_recheck: Duration::from_secs(15 * 60),
        }
    }
}

/// Why a ServiceNow call failed.
#[derive(Debug, thiserror::Error)]
pub enum ServiceNowError {
    #[error("invalid ServiceNow settings: {0}")]
    Config(String),
    #[error("cannot reach ServiceNow at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("ServiceNow refused the credentials of `{user}` ({status}): {message}")]
    Auth {
        user: String,
        status: u16,
        message: String,
    },
    #[error("ServiceNow is rate limiting {path} (429); it asks to wait {}s", retry_after.as_secs())]
    RateLimited { path: String, retry_after: Duration },
    #[error("ServiceNow answered {status} to {method} {path}: {message}{}", detail.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Api {
        status: u16,
        method: String,
        path: String,
        message: String,
        detail: Option<String>,
    },
    #[error("unexpected answer from ServiceNow to {method} {path}: {what}")]
    BadResponse {
        method: String,
        path: String,
        what: String,
    },
    #[error(
        "attachment {sys_id} arrived damaged: its sha256 is {actual}, ServiceNow says {expected}"
    )]
    HashMismatch {
        sys_id: String,
        expected: String,
        actual: String,
    },
}

/// What `httpClient` got back when its script handles the answer itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    pub status: u16,
    pub body: String,
    pub headers: Vec<(String, String)>,
}

/// Headers a script may not set: the node's credentials and the request's framing are the
/// node's own.
const RESERVED_HEADERS: [&str; 7] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
];

/// Checks the headers a script asks `httpClient` to send: valid names and values, none of
/// [`RESERVED_HEADERS`].
pub fn check_script_headers(headers: &[(String, String)]) -> std::result::Result<(), String> {
    script_headers(headers).map(|_| ()).map_err(|e| match e {
        ServiceNowError::Config(m) => m,
        other => other.to_string(),
    })
}

fn script_headers(
    headers: &[(String, String)],
) -> Result<Vec<(header::HeaderName, header::HeaderValue)>> {
    headers
        .iter()
        .map(|(name, value)| {
            let refused = |why: &str| ServiceNowError::Config(format!("header '{name}' {why}"));
            let parsed = header::HeaderName::from_bytes(name.trim().as_bytes())
                .map_err(|_| refused("is not a header name"))?;
            if RESERVED_HEADERS.contains(&parsed.as_str()) {
                return Err(refused(
                    "is the node's own (its credentials and the request's framing are not the script's to set)",
                ));
            }
            let value = header::HeaderValue::from_str(value)
                .map_err(|_| refused("has a value that cannot be sent (a line break?)"))?;
            Ok((parsed, value))
        })
        .collect()
}

/// Reads and deletes may be repeated; other writes not, once ServiceNow may have acted.
fn repeat_for(method: &Method) -> Repeat {
    if method == Method::GET || method == Method::DELETE {
        Repeat::Safe
    } else {
        Repeat::Unsafe
    }
}

impl ServiceNowError {
    /// True when trying again later may succeed: the instance was unreachable, busy or failing.
    pub fn is_transient(&self) -> bool {
        match self {
            ServiceNowError::Unreachable { .. } | ServiceNowError::RateLimited { .. } => true,
            ServiceNowError::Api { status, .. } => *status >= 500,
            _ => false,
        }
    }

    /// The HTTP status ServiceNow answered with, if it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            ServiceNowError::Api { status, .. } | ServiceNowError::Auth { status, .. } => {
                Some(*status)
            }
            ServiceNowError::RateLimited { .. } => Some(429),
            _ => None,
        }
    }
}

type Result<T, E = ServiceNowError> = std::result::Result<T, E>;

/// The most sys_ids one request names in its query (`sys_idIN…`): 100 × 33 characters keeps a
/// URL near 4 KB, under what instances and proxies in front of them accept.
pub(crate) const IDS_PER_REQUEST: usize = 100;

/// A request body; kept whole so a retry can send it again.
#[derive(Debug, Clone)]
pub(crate) enum Body {
    Empty,
    Json(Value),
    Bytes {
        content_type: String,
        bytes: Vec<u8>,
    },
}

/// Whether sending a request twice can do something twice. POST inserts and journal writes
/// append, so they are retried only when ServiceNow certainly did not act (a 429, or no
/// connection at all).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Repeat {
    Safe,
    Unsafe,
}

struct Token {
    access: String,
    refresh: Option<String>,
    expires: Instant,
}

/// A client of one ServiceNow instance. Cheap to share behind an `Arc`; requests run
/// concurrently.
pub struct Client {
    http: reqwest::Client,
    base: String,
    origin: String,
    auth: Auth,
    retry: RetryPolicy,
    token: tokio::sync::Mutex<Option<Token>>,
    requests: AtomicU64,
    /// Whether `sys_journal_field` is readable (see `journal`).
    pub(crate) journal_access: super::journal::AccessCache,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base)
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

/// One page of a list: its rows and the URL of the next page, if any.
pub(crate) struct Page {
    pub rows: Vec<Record>,
    pub next: Option<String>,
}

impl Client {
    pub fn new(config: ClientConfig) -> Result<Self> {
        let base = config.instance_url.trim().trim_end_matches('/').to_owned();
        let origin = origin_of(&base).ok_or_else(|| {
            ServiceNowError::Config(format!(
                "instance URL `{}` is not an http(s) URL like https://acme.service-now.com",
                config.instance_url
            ))
        })?;
        if config.auth.user().is_empty() {
            return Err(ServiceNowError::Config(
                "the proxy user name is empty".into(),
            ));
        }
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("tandem/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ServiceNowError::Config(format!("HTTP client: {e}")))?;
        Ok(Self {
            http,
            base,
            origin,
            auth: config.auth,
            retry: config.retry,
            token: tokio::sync::Mutex::new(None),
            requests: AtomicU64::new(0),
            journal_access: super::journal::AccessCache::new(config.journal_recheck),
        })
    }

    /// The user the client signs in as (its writes are this user's).
    pub fn user(&self) -> &str {
        self.auth.user()
    }

    /// HTTP requests sent so far, retries and token requests included.
    pub fn requests_sent(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Rows of `table` matching the encoded `query`, all pages (following `Link: rel="next"`).
    /// `fields` limits the columns (`sysparm_fields`); `page_size` is `sysparm_limit`.
    pub async fn list(
        &self,
        table: &str,
        query: &str,
        fields: Option<&str>,
        page_size: u32,
    ) -> Result<Vec<Record>> {
        let first = self.list_page(table, query, fields, page_size).await?;
        self.rows_from(first).await
    }

    /// The rows of a page and of every page after it (`Link: rel="next"`).
    pub(crate) async fn rows_from(&self, mut page: Page) -> Result<Vec<Record>> {
        let mut rows = std::mem::take(&mut page.rows);
        while let Some(next) = page.next.take() {
            page = self.page_at(&next).await?;
            rows.append(&mut page.rows);
        }
        Ok(rows)
    }

    /// The first `rows` rows of `table` matching `query`: one request, no paging.
    pub async fn first_page(
        &self,
        table: &str,
        query: &str,
        fields: Option<&str>,
        rows: u32,
    ) -> Result<Vec<Record>> {
        Ok(self.list_page(table, query, fields, rows).await?.rows)
    }

    /// The first page of a list.
    pub(crate) async fn list_page(
        &self,
        table: &str,
        query: &str,
        fields: Option<&str>,
        page_size: u32,
    ) -> Result<Page> {
        let path = table_path(table)?;
        let limit = page_size.max(1).to_string();
        let mut params = vec![
            ("sysparm_query", query),
            ("sysparm_limit", limit.as_str()),
            ("sysparm_offset", "0"),
        ];
        if let Some(f) = fields {
            params.push(("sysparm_fields", f));
        }
        let url = self.url_with(&path, &params);
        self.page_at(&url).await
    }

    /// The page at an absolute URL on this instance (a `Link` target).
    pub(crate) async fn page_at(&self, url: &str) -> Result<Page> {
        if !url.starts_with(&self.origin) {
            return Err(ServiceNowError::BadResponse {
                method: "GET".into(),
                path: url.to_owned(),
                what: format!(
                    "a Link header points away from the instance ({}); not following it",
                    self.origin
                ),
            });
        }
        let response = self
            .send(Method::GET, url, &Body::Empty, Repeat::Safe)
            .await?;
        let next = next_link(response.headers());
        let path = path_of(url);
        let value = json_body(response, "GET", &path).await?;
        let rows = match value.get("result") {
            Some(Value::Array(rows)) => rows
                .iter()
                .map(|r| match r {
                    Value::Object(m) => Ok(Record::new(m.clone())),
                    other => Err(bad(
                        "GET",
                        &path,
                        format!("a row is not an object: {other}"),
                    )),
                })
                .collect::<Result<Vec<_>>>()?,
            _ => return Err(bad("GET", &path, "no `result` array".into())),
        };
        Ok(Page { rows, next })
    }

    /// One record by `sys_id`, or `None` when it does not exist (or its ACL hides it).
    pub async fn get(
        &self,
        table: &str,
        sys_id: &str,
        fields: Option<&str>,
    ) -> Result<Option<Record>> {
        let path = format!("{}/{}", table_path(table)?, segment(sys_id)?);
        let mut params = Vec::new();
        if let Some(f) = fields {
            params.push(("sysparm_fields", f));
        }
        let url = self.url_with(&path, &params);
        match self
            .send(Method::GET, &url, &Body::Empty, Repeat::Safe)
            .await
        {
            Ok(r) => record_of(json_body(r, "GET", &path).await?, "GET", &path).map(Some),
            Err(ServiceNowError::Api { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Inserts one record. Not retried after ServiceNow may have acted: the caller makes the
    /// insert idempotent (a `correlation_id` it looks up before trying again).
    pub async fn create(&self, table: &str, fields: &Map<String, Value>) -> Result<Record> {
        let path = table_path(table)?;
        let url = self.url_with(&path, &[]);
        let body = Body::Json(Value::Object(fields.clone()));
        let r = self.send(Method::POST, &url, &body, Repeat::Unsafe).await?;
        record_of(json_body(r, "POST", &path).await?, "POST", &path)
    }

    /// Changes the given columns of one record (PATCH). Writing a journal field appends an
    /// entry, so such an update is not retried after ServiceNow may have acted.
    pub async fn update(
        &self,
        table: &str,
        sys_id: &str,
        fields: &Map<String, Value>,
    ) -> Result<Record> {
        let path = format!("{}/{}", table_path(table)?, segment(sys_id)?);
        let url = self.url_with(&path, &[]);
        let appends = fields
            .keys()
            .any(|k| matches!(k.as_str(), "comments" | "work_notes"));
        let repeat = if appends {
            Repeat::Unsafe
        } else {
            Repeat::Safe
        };
        let body = Body::Json(Value::Object(fields.clone()));
        let r = self.send(Method::PATCH, &url, &body, repeat).await?;
        record_of(json_body(r, "PATCH", &path).await?, "PATCH", &path)
    }

    /// Deletes one record; a record already gone counts as deleted.
    pub async fn delete(&self, table: &str, sys_id: &str) -> Result<()> {
        let path = format!("{}/{}", table_path(table)?, segment(sys_id)?);
        let url = self.url_with(&path, &[]);
        match self
            .send(Method::DELETE, &url, &Body::Empty, Repeat::Safe)
            .await
        {
            Ok(_) | Err(ServiceNowError::Api { status: 404, .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// A GET of any path under the instance's REST base (`/api/…`), for `httpClient` in
    /// scripts: same credentials, same retries, nothing outside the instance.
    pub async fn get_json(&self, path: &str) -> Result<Value> {
        let (path, url) = rest_url(&self.base, path)?;
        let r = self
            .send(Method::GET, &url, &Body::Empty, Repeat::Safe)
            .await?;
        json_body(r, "GET", &path).await
    }

    /// Any request under the instance's REST base, for `httpClient` in scripts: its JSON
    /// answer (null for an empty one, as a DELETE's 204). A write is not repeated after
    /// ServiceNow may have acted on it. `headers` are sent besides the node's own (see
    /// [`check_script_headers`]).
    pub async fn send_json(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(String, String)],
    ) -> Result<Value> {
        let (path, r) = self
            .script_request(&method, path, body, headers, false)
            .await?;
        if r.status() == StatusCode::NO_CONTENT {
            return Ok(Value::Null);
        }
        let text = r.text().await.map_err(|e| {
            bad(
                method.as_str(),
                &path,
                format!("the body could not be read: {e}"),
            )
        })?;
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text)
            .map_err(|e| bad(method.as_str(), &path, format!("not JSON: {e}")))
    }

    /// Any request under the instance's REST base, for `httpClient` with a closure: the
    /// answer whatever its status (the script decides what a 4xx means). 429s are still
    /// waited out, 5xx answers to reads retried and a revoked token renewed first.
    pub async fn exchange(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(String, String)],
    ) -> Result<Exchange> {
        let (path, r) = self
            .script_request(&method, path, body, headers, true)
            .await?;
        let status = r.status().as_u16();
        let headers = r
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let body = r.text().await.map_err(|e| {
            bad(
                method.as_str(),
                &path,
                format!("the body could not be read: {e}"),
            )
        })?;
        Ok(Exchange {
            status,
            body,
            headers,
        })
    }

    /// A script's request under the REST base with its own headers; returns the checked path
    /// and the answer (any status with `any_status`).
    async fn script_request(
        &self,
        method: &Method,
        path: &str,
        body: Option<Value>,
        headers: &[(String, String)],
        any_status: bool,
    ) -> Result<(String, reqwest::Response)> {
        let (path, url) = rest_url(&self.base, path)?;
        let extra = script_headers(headers)?;
        let body = body.map_or(Body::Empty, Body::Json);
        let r = self
            .send_with(
                method.clone(),
                &url,
                &body,
                repeat_for(method),
                &extra,
                any_status,
            )
            .await?;
        Ok((path, r))
    }

    pub(crate) fn url_with(&self, path: &str, params: &[(&str, &str)]) -> String {
        let mut url = format!("{}{path}", self.base);
        for (i, (k, v)) in params.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            url.push_str(k);
            url.push('=');
            url.push_str(&percent_encode(v));
        }
        url
    }

    /// Sends a request with authentication, waiting out 429s and backing off on 5xx and
    /// network failures as the policy allows. Answers other than 2xx become errors.
    pub(crate) async fn send(
        &self,
        method: Method,
        url: &str,
        body: &Body,
        repeat: Repeat,
    ) -> Result<reqwest::Response> {
        self.send_with(method, url, body, repeat, &[], false).await
    }

    /// [`Client::send`] with extra headers; with `any_status`, an answer that is not 2xx
    /// (after the waits and retries) is returned rather than turned into an error.
    async fn send_with(
        &self,
        method: Method,
        url: &str,
        body: &Body,
        repeat: Repeat,
        extra: &[(header::HeaderName, header::HeaderValue)],
        any_status: bool,
    ) -> Result<reqwest::Response> {
        let path = path_of(url);
        let mut attempt = 0u32;
        let mut renewed = false;
        loop {
            attempt += 1;
            let last = attempt >= self.retry.attempts;
            let mut request = self.http.request(method.clone(), url);
            request = match &self.auth {
                Auth::Basic { user, password } => request.basic_auth(user, Some(password)),
                Auth::OAuth { .. } => request.bearer_auth(self.access_token().await?),
            };
            request = request.header(header::ACCEPT, "application/json");
            for (name, value) in extra {
                request = request.header(name.clone(), value.clone());
            }
            request = match body {
                Body::Empty => request,
                Body::Json(v) => request.json(v),
                Body::Bytes {
                    content_type,
                    bytes,
                } => request
                    .header(header::CONTENT_TYPE, content_type)
                    .body(bytes.clone()),
            };
            self.requests.fetch_add(1, Ordering::Relaxed);
            let response = match request.send().await {
                Ok(r) => r,
                Err(e) => {
                    // A connection that was never made cannot have done anything.
                    let may_retry = repeat == Repeat::Safe || e.is_connect();
                    if last || !may_retry {
                        return Err(ServiceNowError::Unreachable {
                            url: self.base.clone(),
                            reason: error_chain(&e),
                        });
                    }
                    let wait = self.backoff(attempt);
                    debug!(%method, %path, ?wait, error = %e, "ServiceNow unreachable; trying again.");
                    tokio::time::sleep(wait).await;
                    continue;
                }
            };
            let status = response.status();
            if status.is_success() {
                return Ok(response);
            }
            if status == StatusCode::TOO_MANY_REQUESTS {
                let wait = retry_after(response.headers()).unwrap_or_else(|| self.backoff(attempt));
                if last || wait > self.retry.max_retry_after {
                    return Err(ServiceNowError::RateLimited {
                        path,
                        retry_after: wait,
                    });
                }
                warn!(%method, %path, ?wait, "ServiceNow rate limit reached (429); waiting as it asks.");
                tokio::time::sleep(wait).await;
                continue;
            }
            if status == StatusCode::UNAUTHORIZED
                && matches!(self.auth, Auth::OAuth { .. })
                && !renewed
            {
                // The access token may have been revoked or expired early: get a new one once.
                renewed = true;
                *self.token.lock().await = None;
                attempt -= 1;
                continue;
            }
            if status.is_server_error() && repeat == Repeat::Safe && !last {
                let wait = self.backoff(attempt);
                warn!(%method, %path, %status, ?wait, "ServiceNow failed; trying again.");
                tokio::time::sleep(wait).await;
                continue;
            }
            if any_status {
                return Ok(response);
            }
            let (message, detail) = error_message(response).await;
            if status == StatusCode::UNAUTHORIZED {
                return Err(ServiceNowError::Auth {
                    user: self.auth.user().to_owned(),
                    status: status.as_u16(),
                    message,
                });
            }
            return Err(ServiceNowError::Api {
                status: status.as_u16(),
                method: method.to_string(),
                path,
                message,
                detail,
            });
        }
    }

    /// Exponential backoff with jitter: a random wait between half and all of
    /// `base · 2^(attempt-1)`, capped.
    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .retry
            .base_delay
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
            .min(self.retry.max_delay);
        let mut byte = [0u8; 1];
        let _ = getrandom::fill(&mut byte);
        exp / 2 + exp / 2 * u32::from(byte[0]) / 255
    }

    /// A valid OAuth access token: the current one, a refreshed one, or a new one from the
    /// password grant.
    async fn access_token(&self) -> Result<String> {
        let Auth::OAuth {
            client_id,
            client_secret,
            user,
            password,
        } = &self.auth
        else {
            return Err(ServiceNowError::Config("not OAuth".into()));
        };
        let mut slot = self.token.lock().await;
        if let Some(t) = slot.as_ref()
            && t.expires > Instant::now() + Duration::from_secs(10)
        {
            return Ok(t.access.clone());
        }
        if let Some(refresh) = slot.as_ref().and_then(|t| t.refresh.clone()) {
            let form = [
                ("grant_type", "refresh_token"),
                ("client_id", client_id.as_str()),
                ("client_secret", client_secret.as_str()),
                ("refresh_token", refresh.as_str()),
            ];
            match self.token_request(&form).await {
                Ok(mut t) => {
                    t.refresh = t.refresh.or(Some(refresh));
                    let access = t.access.clone();
                    *slot = Some(t);
                    return Ok(access);
                }
                Err(e) => debug!(error = %e, "OAuth refresh refused; signing in again."),
            }
        }
        let form = [
            ("grant_type", "password"),
            ("client_id", client_id.as_str()),
            ("client_secret", client_secret.as_str()),
            ("username", user.as_str()),
            ("password", password.as_str()),
        ];
        let t = self.token_request(&form).await?;
        let access = t.access.clone();
        *slot = Some(t);
        Ok(access)
    }

    async fn token_request(&self, form: &[(&str, &str)]) -> Result<Token> {
        #[derive(Deserialize)]
        struct Answer {
            access_token: String,
            refresh_token: Option<String>,
            expires_in: Option<u64>,
        }
        let url = format!("{}/oauth_token.do", self.base);
        self.requests.fetch_add(1, Ordering::Relaxed);
        let response = self
            .http
            .post(&url)
            .header(header::ACCEPT, "application/json")
            .form(form)
            .send()
            .await
            .map_err(|e| ServiceNowError::Unreachable {
                url: self.base.clone(),
                reason: error_chain(&e),
            })?;
        let status = response.status();
        if !status.is_success() {
            let body: Value = response.json().await.unwrap_or(Value::Null);
            let message = body
                .get("error_description")
                .and_then(Value::as_str)
                .unwrap_or("no reason given")
                .to_owned();
            return Err(ServiceNowError::Auth {
                user: self.auth.user().to_owned(),
                status: status.as_u16(),
                message: format!("OAuth token endpoint: {message}"),
            });
        }
        let a: Answer = response.json().await.map_err(|e| {
            bad(
                "POST",
                "/oauth_token.do",
                format!("not a token answer: {e}"),
            )
        })?;
        Ok(Token {
            access: a.access_token,
            refresh: a.refresh_token,
            expires: Instant::now() + Duration::from_secs(a.expires_in.unwrap_or(1800)),
        })
    }
}

pub(crate) fn bad(method: &str, path: &str, what: String) -> ServiceNowError {
    ServiceNowError::BadResponse {
        method: method.to_owned(),
        path: path.to_owned(),
        what,
    }
}

pub(crate) async fn json_body(
    response: reqwest::Response,
    method: &str,
    path: &str,
) -> Result<Value> {
    let text = response
        .text()
        .await
        .map_err(|e| bad(method, path, format!("the body could not be read: {e}")))?;
    serde_json::from_str(&text).map_err(|e| bad(method, path, format!("not JSON: {e}")))
}

fn record_of(value: Value, method: &str, path: &str) -> Result<Record> {
    match value {
        Value::Object(mut m) => match m.remove("result") {
            Some(Value::Object(r)) => Ok(Record::new(r)),
            _ => Err(bad(method, path, "no `result` object".into())),
        },
        _ => Err(bad(method, path, "not a JSON object".into())),
    }
}

/// ServiceNow's error envelope: `{"error": {"message", "detail"}, "status": "failure"}`.
async fn error_message(response: reqwest::Response) -> (String, Option<String>) {
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    let parsed: Option<Value> = serde_json::from_str(&text).ok();
    let error = parsed.as_ref().and_then(|v| v.get("error"));
    let message = error
        .and_then(|e| e.get("message"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("no message").to_owned());
    let detail = error
        .and_then(|e| e.get("detail"))
        .and_then(Value::as_str)
        .filter(|d| !d.is_empty())
        .map(str::to_owned);
    (message, detail)
}

/// `Retry-After` in seconds, else the time left until `X-RateLimit-Reset` (epoch seconds).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(secs) = text("retry-after").and_then(|v| v.trim().parse::<u64>().ok()) {
        return Some(Duration::from_secs(secs));
    }
    let reset = text("x-ratelimit-reset").and_then(|v| v.trim().parse::<i64>().ok())?;
    // The header is the server's word, not ours: a hostile value must not overflow.
    let left = reset.saturating_sub(jiff::Timestamp::now().as_second());
    Some(Duration::from_secs(left.clamp(1, 3600) as u64))
}

/// The `rel="next"` target of a `Link` header.
fn next_link(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::LINK)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|part| {
            let (target, params) = part.split_once(';')?;
            let is_next = params.split(';').any(|p| {
                let p = p.trim().replace(' ', "");
                p == "rel=\"next\"" || p == "rel=next"
            });
            let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
            is_next.then(|| target.to_owned())
        })
}

fn origin_of(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("https://")
        .map(|r| ("https://", r))
        .or_else(|| url.strip_prefix("http://").map(|r| ("http://", r)))?;
    let host = rest.1.split('/').next()?;
    if host.is_empty() || host.contains(['?', '#', '@', ' ']) {
        return None;
    }
    Some(format!("{}{host}", rest.0))
}

/// The path and query of a URL, for messages.
fn path_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.find('/')
        .map_or("/".to_owned(), |i| rest[i..].to_owned())
}

fn table_path(table: &str) -> Result<String> {
    Ok(format!("/api/now/table/{}", segment(table)?))
}

/// A table name or sys_id as one URL path segment: letters, digits and `_` only.
fn segment(s: &str) -> Result<&str> {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        Ok(s)
    } else {
        Err(ServiceNowError::Config(format!(
            "`{s}` is not a table name or sys_id (letters, digits and _ only)"
        )))
    }
}

/// A path for `httpClient`: under `/api/`, on this instance, no way out of it. Refused: dot
/// segments however written (`..`, `%2e%2e`, `.%2E`), encoded slashes and backslashes (a
/// server may decode them into separators), backslashes, and anything that is not a path.
fn rest_path(path: &str) -> Result<String> {
    let refuse = || {
        ServiceNowError::Config(format!(
            "`{path}` is not a path under the instance's REST API (/api/…)"
        ))
    };
    let p = if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("/{path}")
    };
    let lower = p.to_ascii_lowercase();
    let (route, _query) = lower.split_once('?').unwrap_or((&lower, ""));
    let dot_segment = route
        .split('/')
        .any(|segment| matches!(segment.replace("%2e", "."), ref s if s == "." || s == ".."));
    if !p.starts_with("/api/")
        || dot_segment
        || route.contains("..")
        || p.contains("://")
        || route.contains('@')
        || p.contains('\\')
        || p.contains('#')
        || p.chars().any(char::is_control)
        || route.contains("%2f")
        || route.contains("%5c")
    {
        return Err(refuse());
    }
    Ok(p)
}

/// `base` + a [`rest_path`], checked once more as the URL it makes: still on the instance's
/// host and, once normalised, under its `/api/`.
fn rest_url(base: &str, path: &str) -> Result<(String, String)> {
    let checked = rest_path(path)?;
    let refuse = || {
        ServiceNowError::Config(format!(
            "`{path}` is not a path under the instance's REST API (/api/…)"
        ))
    };
    let url = format!("{base}{checked}");
    let parsed = reqwest::Url::parse(&url).map_err(|_| refuse())?;
    let base_url = reqwest::Url::parse(base).map_err(|_| refuse())?;
    let api_root = format!("{}/api/", base_url.path().trim_end_matches('/'));
    if parsed.origin() != base_url.origin() || !parsed.path().starts_with(&api_root) {
        return Err(refuse());
    }
    Ok((checked, url))
}

/// Percent-encodes a query parameter value (RFC 3986 unreserved characters pass).
pub(crate) fn percent_encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, crate::UNRESERVED).to_string()
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_link_is_found_among_the_others() {
        let mut h = HeaderMap::new();
        h.insert(
            header::LINK,
            "<https://i.example/api/now/table/incident?sysparm_offset=0>;rel=\"first\",<https://i.example/api/now/table/incident?sysparm_offset=2>;rel=\"next\",<https://i.example/api/now/table/incident?sysparm_offset=8>;rel=\"last\""
                .parse()
                .expect("header"),
        );
        assert_eq!(
            next_link(&h).as_deref(),
            Some("https://i.example/api/now/table/incident?sysparm_offset=2")
        );
        h.insert(
            header::LINK,
            "<https://i.example/x>;rel=\"first\",<https://i.example/y>;rel=\"prev\""
                .parse()
                .expect("header"),
        );
        assert_eq!(next_link(&h), None);
    }

    #[test]
    fn retry_after_prefers_the_header_then_the_reset_time() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", "7".parse().expect("header"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        let mut h = HeaderMap::new();
        let reset = jiff::Timestamp::now().as_second() + 30;
        h.insert(
            "x-ratelimit-reset",
            reset.to_string().parse().expect("header"),
        );
        let wait = retry_after(&h).expect("from reset");
        assert!((29..=30).contains(&wait.as_secs()), "{wait:?}");
        assert_eq!(retry_after(&HeaderMap::new()), None);
    }

    #[test]
    fn a_hostile_rate_limit_reset_does_not_overflow() {
        for (reset, secs) in [(i64::MIN, 1), (i64::MAX, 3600)] {
            let mut h = HeaderMap::new();
            h.insert(
                "x-ratelimit-reset",
                reset.to_string().parse().expect("header"),
            );
            assert_eq!(retry_after(&h), Some(Duration::from_secs(secs)), "{reset}");
        }
    }

    #[test]
    fn paths_and_names_cannot_leave_the_instance() {
        assert!(segment("incident").is_ok());
        assert!(segment("../sys_user").is_err());
        assert!(segment("incident?x=1").is_err());
        assert!(rest_path("/api/now/table/sys_user").is_ok());
        assert_eq!(
            rest_path("api/now/table/incident").expect("relative"),
            "/api/now/table/incident"
        );
        for bad in [
            "/oauth_token.do",
            "/api/../x",
            "//evil.example/api/",
            "/api/@evil",
            "/api/now/table/../../x",
            "/api/%2e%2e/x",
            "/api/%2E%2e/oauth_token.do",
            "/api/.%2e/x",
            "/api/now/%2e/x",
            "/api/now/..%2fx",
            "/api/now/%2F%2Fevil",
            "/api/now\\..\\x",
            "/api/now/%5c..%5cx",
            "/api/now#frag",
        ] {
            assert!(rest_path(bad).is_err(), "{bad}");
            assert!(rest_url("https://i.example", bad).is_err(), "{bad}");
        }
        let (path, url) = rest_url(
            "https://i.example/base",
            "/api/now/table/sys_user?sysparm_query=name=a..b",
        )
        .expect("a query may hold dots");
        assert_eq!(path, "/api/now/table/sys_user?sysparm_query=name=a..b");
        assert_eq!(
            url,
            "https://i.example/base/api/now/table/sys_user?sysparm_query=name=a..b"
        );
        assert_eq!(
            origin_of("https://acme.service-now.com/").as_deref(),
            Some("https://acme.service-now.com")
        );
        assert_eq!(origin_of("ftp://x"), None);
        assert_eq!(origin_of("https://"), None);
    }

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(
            percent_encode("sys_updated_on>=2025-01-01 10:00:00^ORDERBYx"),
            "sys_updated_on%3E%3D2025-01-01%2010%3A00%3A00%5EORDERBYx"
        );
    }

    #[test]
    fn debug_output_hides_secrets() {
        let a = Auth::OAuth {
            client_id: "c".into(),
            client_secret: "topsecret".into(),
            user: "u".into(),
            password: "hunter2".into(),
        };
        let shown = format!("{a:?}");
        assert!(
            !shown.contains("topsecret") && !shown.contains("hunter2"),
            "{shown}"
        );
    }

    #[test]
    fn backoff_grows_with_jitter_and_stays_capped() {
        let client = Client::new(ClientConfig::new(
            "http://127.0.0.1:1",
            Auth::Basic {
                user: "u".into(),
                password: "p".into(),
            },
        ))
        .expect("client");
        for attempt in 1..20 {
            let d = client.backoff(attempt);
            assert!(d <= client.retry.max_delay, "{attempt}: {d:?}");
            let full = client
                .retry
                .base_delay
                .saturating_mul(1 << (attempt - 1).min(16))
                .min(client.retry.max_delay);
            assert!(d >= full / 2, "{attempt}: {d:?}");
        }
    }
}
