//! The HTTP side of the connector: which Jira it talks to ([`Flavour`]: Cloud REST v3 or Data
//! Center REST v2), how it signs in ([`Auth`]: e-mail + API token as Basic on Cloud, a
//! personal access token as Bearer on Data Center), and [`Client::send`], which every other
//! module goes through: authentication, `Accept: application/json`, the rate-limit and retry
//! rules of `retry`, Jira's error collection turned into [`JiraError`], and a request counter.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use reqwest::header::{self, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tracing::{debug, warn};

use super::error::{ErrorText, JiraError, bad};
use super::meta::{Field, UserRef};
use super::retry::{RateLimitStatus, Repeat, RetryPolicy, retry_after};
use super::transitions::Graph;

pub(crate) type Result<T, E = JiraError> = std::result::Result<T, E>;

/// Which Jira: the REST version and the rich-text format follow from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Flavour {
    /// Jira Cloud: REST v3, rich text in ADF, users by `accountId`, search by `/search/jql`.
    Cloud,
    /// Jira Data Center / Server: REST v2, wiki markup, users by `name`, search by `/search`.
    #[serde(rename = "dc")]
    DataCenter,
}

impl Flavour {
    /// The REST API version this flavour is spoken in.
    pub fn api_version(self) -> u8 {
        match self {
            Flavour::Cloud => 3,
            Flavour::DataCenter => 2,
        }
    }
}

/// How the connector signs in.
#[derive(Clone)]
pub enum Auth {
    /// Jira Cloud: the Atlassian account's e-mail and an API token, as HTTP Basic.
    ApiToken { email: String, token: String },
    /// Jira Data Center: a personal access token, as `Authorization: Bearer`.
    PersonalAccessToken { token: String },
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::ApiToken { email, .. } => f
                .debug_struct("ApiToken")
                .field("email", email)
                .field("token", &"<redacted>")
                .finish(),
            Auth::PersonalAccessToken { .. } => f
                .debug_struct("PersonalAccessToken")
                .field("token", &"<redacted>")
                .finish(),
        }
    }
}

impl Auth {
    /// Who the connector acts as, for messages (the e-mail; "personal access token" on DC).
    pub fn who(&self) -> &str {
        match self {
            Auth::ApiToken { email, .. } => email,
            Auth::PersonalAccessToken { .. } => "the personal access token",
        }
    }
}

/// What the connector needs to reach a site.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// `https://<site>.atlassian.net`, or a Data Center base URL (context path included); a
    /// trailing `/` is ignored.
    pub base_url: String,
    pub flavour: Flavour,
    pub auth: Auth,
    pub retry: RetryPolicy,
    /// Per request, connection included.
    pub timeout: Duration,
}

impl ClientConfig {
    pub fn new(base_url: &str, flavour: Flavour, auth: Auth) -> Self {
        Self {
            base_url: base_url.to_owned(),
            flavour,
            auth,
            retry: RetryPolicy::default(),
            timeout: Duration::from_secs(60),
        }
    }
}

/// A request body; kept whole so a retry can send it again.
#[derive(Debug, Clone)]
pub(crate) enum Body {
    Empty,
    Json(Value),
    /// One multipart part named `file` (attachments).
    File {
        filename: String,
        content_type: String,
        bytes: Vec<u8>,
    },
}

/// What the client learns once and keeps: Jira's metadata changes rarely, and a stale entry
/// only costs a refused write, after which it is read again.
#[derive(Default)]
pub(crate) struct Caches {
    pub fields: Option<Arc<Vec<Field>>>,
    pub users: HashMap<String, UserRef>,
    /// Project key → the issue types one may create there.
    pub issue_types: HashMap<String, Vec<super::meta::IssueType>>,
    /// `(project key, issue type id)` → create-screen fields.
    pub create_meta: HashMap<(String, String), Arc<Vec<super::meta::FieldMeta>>>,
    /// Workflow graphs learned from the transitions seen, by `(project id, issue type id)`.
    pub workflows: HashMap<(String, String), Graph>,
    /// `(issue id, updated)` of this client's own writes not yet handed to a cursor.
    pub own_writes: Vec<(String, String)>,
    pub attachment_limit: Option<Option<u64>>,
    /// Attachment id → the issue it is on, for attachments listed or uploaded here (a
    /// delete changes its issue's `updated`, which is then noted as an own write).
    pub attachment_issue: HashMap<String, String>,
    /// The integration user's time zone, in which Jira reads JQL dates.
    pub zone: Option<jiff::tz::TimeZone>,
}

/// A client of one Jira site. Cheap to share behind an `Arc`; requests run concurrently.
pub struct Client {
    http: reqwest::Client,
    base: String,
    api: String,
    flavour: Flavour,
    auth: Auth,
    retry: RetryPolicy,
    requests: AtomicU64,
    rate: Mutex<Option<RateLimitStatus>>,
    pub(crate) caches: Mutex<Caches>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base)
            .field("flavour", &self.flavour)
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

impl Client {
    pub fn new(config: ClientConfig) -> Result<Self> {
        let base = config.base_url.trim().trim_end_matches('/').to_owned();
        let parsed = reqwest::Url::parse(&base).ok().filter(|u| {
            matches!(u.scheme(), "http" | "https")
                && u.host_str().is_some_and(|h| !h.is_empty())
                && u.username().is_empty()
                && u.query().is_none()
        });
        if parsed.is_none() {
            return Err(JiraError::Config(format!(
                "site URL `{}` is not an http(s) URL like https://acme.atlassian.net",
                config.base_url
            )));
        }
        match &config.auth {
            Auth::ApiToken { email, token } if email.trim().is_empty() || token.is_empty() => {
                return Err(JiraError::Config(
                    "Jira Cloud needs the account's e-mail and an API token".into(),
                ));
            }
            Auth::PersonalAccessToken { token } if token.is_empty() => {
                return Err(JiraError::Config(
                    "Jira Data Center needs a personal access token".into(),
                ));
            }
            _ => {}
        }
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("tandem/", env!("CARGO_PKG_VERSION")))
            // Attachment downloads ask for the bytes directly (`redirect=false`); a redirect
            // elsewhere is not followed with the credentials.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| JiraError::Config(format!("HTTP client: {e}")))?;
        let api = format!("{base}/rest/api/{}", config.flavour.api_version());
        Ok(Self {
            http,
            base,
            api,
            flavour: config.flavour,
            auth: config.auth,
            retry: config.retry,
            requests: AtomicU64::new(0),
            rate: Mutex::new(None),
            caches: Mutex::new(Caches::default()),
        })
    }

    pub fn flavour(&self) -> Flavour {
        self.flavour
    }

    /// How the client signs in.
    pub fn auth(&self) -> &Auth {
        &self.auth
    }

    /// The site's base URL, as configured (no trailing `/`).
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// HTTP requests sent so far, retries included.
    pub fn requests_sent(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// What the last answer's `X-RateLimit-*` headers said, if it sent any.
    pub fn rate_limit(&self) -> Option<RateLimitStatus> {
        self.rate
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn caches(&self) -> std::sync::MutexGuard<'_, Caches> {
        self.caches.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Forgets the metadata learned so far (fields, users, create screens, workflows).
    pub fn forget_metadata(&self) {
        let mut c = self.caches();
        let own = std::mem::take(&mut c.own_writes);
        *c = Caches {
            own_writes: own,
            ..Caches::default()
        };
    }

    /// `…/rest/api/{2|3}` + `path` + the query.
    pub(crate) fn url(&self, path: &str, params: &[(&str, &str)]) -> String {
        let mut url = format!("{}{path}", self.api);
        for (i, (k, v)) in params.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            url.push_str(k);
            url.push('=');
            url.push_str(&encode(v));
        }
        url
    }

    /// A GET under the REST API, its JSON.
    pub(crate) async fn get_json(&self, path: &str, params: &[(&str, &str)]) -> Result<Value> {
        let url = self.url(path, params);
        let r = self
            .send(Method::GET, &url, &Body::Empty, Repeat::Safe)
            .await?;
        json_of(r, "GET", path).await
    }

    /// A request with a JSON body under the REST API; its JSON (null when empty, as a 204).
    pub(crate) async fn send_json(
        &self,
        method: Method,
        path: &str,
        params: &[(&str, &str)],
        body: Value,
        repeat: Repeat,
    ) -> Result<Value> {
        let url = self.url(path, params);
        let m = method.to_string();
        let r = self.send(method, &url, &Body::Json(body), repeat).await?;
        json_of(r, &m, path).await
    }

    /// Sends a request with authentication, waiting out 429s and backing off on 5xx and
    /// network failures as the policy and `repeat` allow. Answers other than 2xx become errors.
    pub(crate) async fn send(
        &self,
        method: Method,
        url: &str,
        body: &Body,
        repeat: Repeat,
    ) -> Result<reqwest::Response> {
        let path = path_of(url);
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let last = attempt >= self.retry.attempts.max(1);
            let request = self.request(method.clone(), url, body)?;
            self.requests.fetch_add(1, Ordering::Relaxed);
            let response = match request.send().await {
                Ok(r) => r,
                Err(e) => {
                    // A connection that was never made cannot have done anything.
                    let never_sent = e.is_connect();
                    if repeat == Repeat::Unsafe && !never_sent {
                        return Err(JiraError::Uncertain {
                            method: method.to_string(),
                            path,
                            status: None,
                            reason: error_chain(&e),
                        });
                    }
                    if last {
                        return Err(JiraError::Unreachable {
                            url: self.base.clone(),
                            reason: error_chain(&e),
                        });
                    }
                    let wait = self.retry.backoff(attempt);
                    debug!(%method, %path, ?wait, error = %e, "Jira unreachable; trying again.");
                    tokio::time::sleep(wait).await;
                    continue;
                }
            };
            let status = response.status();
            if let Some(rate) = RateLimitStatus::from_headers(response.headers()) {
                if rate.near_limit {
                    debug!(?rate, "Jira says the rate-limit budget is nearly spent.");
                }
                *self.rate.lock().unwrap_or_else(PoisonError::into_inner) = Some(rate);
            }
            if status.is_success() {
                return Ok(response);
            }
            if status == StatusCode::TOO_MANY_REQUESTS {
                let wait =
                    retry_after(response.headers()).unwrap_or_else(|| self.retry.backoff(attempt));
                if last || wait > self.retry.max_retry_after {
                    return Err(JiraError::RateLimited {
                        method: method.to_string(),
                        path,
                        retry_after: wait,
                    });
                }
                warn!(%method, %path, ?wait, "Jira rate limit reached (429); waiting as it asks.");
                tokio::time::sleep(wait).await;
                continue;
            }
            if status.is_server_error() {
                if repeat == Repeat::Unsafe {
                    let text = ErrorText::parse(
                        &response.text().await.unwrap_or_default(),
                        status.canonical_reason().unwrap_or("server error"),
                    );
                    return Err(JiraError::Uncertain {
                        method: method.to_string(),
                        path,
                        status: Some(status.as_u16()),
                        reason: format!("Jira answered {status}: {text}"),
                    });
                }
                if !last {
                    // A 503 may say when to come back; otherwise back off.
                    let wait = retry_after(response.headers())
                        .filter(|w| *w <= self.retry.max_retry_after)
                        .unwrap_or_else(|| self.retry.backoff(attempt));
                    warn!(%method, %path, %status, ?wait, "Jira failed; trying again.");
                    tokio::time::sleep(wait).await;
                    continue;
                }
            }
            let text = ErrorText::parse(
                &response.text().await.unwrap_or_default(),
                status.canonical_reason().unwrap_or("no reason given"),
            );
            if status == StatusCode::UNAUTHORIZED {
                return Err(JiraError::Unauthorized {
                    user: self.auth.who().to_owned(),
                    status: status.as_u16(),
                    text,
                });
            }
            return Err(JiraError::Api {
                status: status.as_u16(),
                method: method.to_string(),
                path,
                text,
            });
        }
    }

    fn request(&self, method: Method, url: &str, body: &Body) -> Result<reqwest::RequestBuilder> {
        let mut request = self.http.request(method, url);
        request = match &self.auth {
            Auth::ApiToken { email, token } => request.basic_auth(email, Some(token)),
            Auth::PersonalAccessToken { token } => request.bearer_auth(token),
        };
        request = request.header(header::ACCEPT, "application/json");
        Ok(match body {
            Body::Empty => request,
            Body::Json(v) => request.json(v),
            Body::File {
                filename,
                content_type,
                bytes,
            } => {
                let part = reqwest::multipart::Part::bytes(bytes.clone())
                    .file_name(filename.clone())
                    .mime_str(content_type)
                    .map_err(|_| {
                        JiraError::Config(format!("`{content_type}` is not a MIME type"))
                    })?;
                request
                    .header(
                        HeaderName::from_static("x-atlassian-token"),
                        HeaderValue::from_static("no-check"),
                    )
                    .multipart(reqwest::multipart::Form::new().part("file", part))
            }
        })
    }
}

/// The JSON of an answer; `null` for an empty body (204).
pub(crate) async fn json_of(
    response: reqwest::Response,
    method: &str,
    path: &str,
) -> Result<Value> {
    if response.status() == StatusCode::NO_CONTENT {
        return Ok(Value::Null);
    }
    let text = response
        .text()
        .await
        .map_err(|e| bad(method, path, format!("the body could not be read: {e}")))?;
    if text.trim().is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_str(&text).map_err(|e| bad(method, path, format!("not JSON: {e}")))
}

/// Percent-encodes a query value or a path segment (RFC 3986 unreserved characters pass).
pub(crate) fn encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, crate::UNRESERVED).to_string()
}

/// An id, key or name as one path segment: percent-encoded, and never empty, `.` or `..`
/// (which URL normalisation would turn into a move up the path).
pub(crate) fn segment(s: &str) -> Result<String> {
    if s.is_empty() || s == "." || s == ".." {
        return Err(JiraError::Config(format!(
            "`{s}` is not an issue key, id or name"
        )));
    }
    Ok(encode(s))
}

/// The path and query of a URL, for messages.
fn path_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.find('/')
        .map_or("/".to_owned(), |i| rest[i..].to_owned())
}

pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// A string field of a JSON object (`""` when absent or not a string).
pub(crate) fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// An id that Jira may send as a string or a number.
pub(crate) fn id_of(v: &Value, key: &str) -> String {
    match v.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_secrets() {
        let a = Auth::ApiToken {
            email: "me@example.com".into(),
            token: "ATATT-secret".into(),
        };
        let shown = format!("{a:?}");
        assert!(!shown.contains("ATATT-secret") && shown.contains("me@example.com"));
        let p = Auth::PersonalAccessToken {
            token: "pat-secret".into(),
        };
        assert!(!format!("{p:?}").contains("pat-secret"));
    }

    #[test]
    fn site_urls_must_be_plain_http_urls() {
        let auth = || Auth::PersonalAccessToken { token: "t".into() };
        for bad in [
            "ftp://x",
            "https://",
            "not a url",
            "https://u:p@x.example",
            "https://x.example?q=1",
        ] {
            assert!(
                Client::new(ClientConfig::new(bad, Flavour::DataCenter, auth())).is_err(),
                "{bad}"
            );
        }
        let c = Client::new(ClientConfig::new(
            "https://jira.example/ctx/",
            Flavour::DataCenter,
            auth(),
        ))
        .expect("client");
        assert_eq!(
            c.url("/issue/A-1", &[("fields", "summary,status")]),
            "https://jira.example/ctx/rest/api/2/issue/A-1?fields=summary%2Cstatus"
        );
    }

    #[test]
    fn path_segments_cannot_leave_their_place() {
        assert_eq!(encode("../x"), "..%2Fx");
        assert_eq!(encode("SUP-1"), "SUP-1");
        assert_eq!(encode("a b?c"), "a%20b%3Fc");
        for bad in ["", ".", ".."] {
            assert!(segment(bad).is_err(), "{bad}");
        }
    }
}
