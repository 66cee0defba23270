//! A Jira emulator: Jira Cloud's REST API v3 (and v2, which Cloud serves alongside), or Jira
//! Data Center's v2 (`--flavour dc`), served from memory over HTTP. Stateful projects, issue
//! types with a sub-task type, a workflow with transitions, system and custom fields with
//! create and edit metadata, users, issues, comments (ADF), attachments, JQL search paged by
//! `nextPageToken`, webhooks it really calls, and switchable faults.
//!
//! It is a test and demo tool, not Jira: it follows `shared/reference/tracker-apis.md` §2 and
//! Atlassian's OpenAPI document for Jira Cloud (its answers are checked against that document
//! by the `contract` tests), and marks its own guesses as inferences. Start one with [`start`],
//! or from the command line with `tandem emulate jira` ([`run`]).
//!
//! Layout, one file per concern: `site` (the data and the writes), `fields` (the field
//! catalogue), `workflow`, `jql`, `adf`, `render` (JSON shapes), `issues`, `comments`,
//! `attachments`, `search`, `meta` (server, users, projects, fields, create metadata),
//! `webhooks`, `auth`, `faults`, `error`. Emulator-only endpoints live under `/__emulator/`.

mod adf;
mod attachments;
mod auth;
mod comments;
mod error;
mod faults;
mod fields;
mod issues;
mod jql;
mod meta;
mod render;
mod search;
mod site;
mod webhooks;
mod workflow;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, FromRequestParts, Query, Request, State};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use serde::Deserialize;
use serde_json::Value;
use tracing::{debug, info};

pub use faults::Faults;
pub use site::Flavour;

use error::ApiError;
use render::View;
use site::{Site, UserSeed};

/// Why the emulator could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error("cannot listen on {addr}: {source}; pick a free address with --listen")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("the emulator's server failed: {0}")]
    Serve(#[source] std::io::Error),
    #[error("the emulator's server task ended abnormally: {0}")]
    Join(#[from] tokio::task::JoinError),
    #[error("invalid emulator configuration: {0}")]
    Config(String),
}

/// A user of the emulated site. With a token it can sign in (Cloud: e-mail + API token; DC:
/// the token is its personal access token and its password); without, it only exists, to be
/// assigned and found.
#[derive(Clone)]
pub struct JiraUser {
    pub email: String,
    pub display_name: String,
    pub token: Option<String>,
}

impl std::fmt::Debug for JiraUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JiraUser")
            .field("email", &self.email)
            .field("display_name", &self.display_name)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// How to run a Jira emulator.
#[derive(Debug, Clone)]
pub struct JiraConfig {
    /// Where to listen; port 0 lets the OS pick (read it back from [`RunningJira::addr`]).
    pub listen: SocketAddr,
    pub flavour: Flavour,
    pub users: Vec<JiraUser>,
    /// Projects as (key, name).
    pub projects: Vec<(String, String)>,
    /// Faults active from the start.
    pub faults: Faults,
    /// Largest attachment (413 above it).
    pub max_attachment_bytes: usize,
    /// Largest request body.
    pub max_body_bytes: usize,
}

impl JiraConfig {
    /// One project `SUP` ("Support"), two agents who cannot sign in, no faults.
    pub fn new(listen: SocketAddr) -> Self {
        Self {
            listen,
            flavour: Flavour::Cloud,
            users: Vec::new(),
            projects: vec![("SUP".into(), "Support".into())],
            faults: Faults::default(),
            max_attachment_bytes: 10 * 1024 * 1024,
            max_body_bytes: 32 * 1024 * 1024,
        }
    }

    /// Adds a user who signs in with `token`.
    pub fn with_user(mut self, email: &str, token: &str, display_name: &str) -> Self {
        self.users.push(JiraUser {
            email: email.to_owned(),
            display_name: display_name.to_owned(),
            token: Some(token.to_owned()),
        });
        self
    }

    /// Adds a user who exists but cannot sign in.
    pub fn with_member(mut self, email: &str, display_name: &str) -> Self {
        self.users.push(JiraUser {
            email: email.to_owned(),
            display_name: display_name.to_owned(),
            token: None,
        });
        self
    }
}

/// What every handler shares.
pub(crate) struct Shared {
    pub site: Mutex<Site>,
    pub faults: Mutex<Faults>,
    pub auth: auth::Auth,
    pub fallback_base: String,
    pub http: reqwest::Client,
    pub deliveries: Mutex<Vec<webhooks::Delivery>>,
    /// Webhook calls waiting for the delivery worker.
    pub hooks: tokio::sync::mpsc::UnboundedSender<Vec<webhooks::Call>>,
    pub requests: Mutex<std::collections::VecDeque<String>>,
}

const REQUEST_LOG: usize = 10_000;

pub(crate) type AppState = Arc<Shared>;

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// `http://host:port` as the client addressed us, for `self` links.
pub(crate) fn base_url(state: &Shared, headers: &HeaderMap) -> String {
    headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_graphic()))
        .map_or_else(|| state.fallback_base.clone(), |h| format!("http://{h}"))
}

/// The REST API version a request came in on.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Api {
    pub v2: bool,
}

impl Api {
    pub fn number(self) -> u8 {
        if self.v2 { 2 } else { 3 }
    }
    pub fn view(self, site: &Site, base: String) -> View<'_> {
        View {
            site,
            base,
            v2: self.v2,
        }
    }
}

/// The authenticated user's accountId.
#[derive(Debug, Clone)]
pub(crate) struct Caller(pub String);

/// Query parameters as pairs (repeated keys kept), answered 400 when malformed.
pub(crate) struct Params(Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let q: Result<Query<Vec<(String, String)>>, QueryRejection> =
            Query::from_request_parts(parts, state).await;
        q.map(|Query(v)| Self(v))
            .map_err(|e| ApiError::bad_request(format!("Invalid query string: {e}")))
    }
}

impl Params {
    pub fn one(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
    pub fn all(&self, key: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }
    /// Every value of `key`, split on commas.
    pub fn list(&self, key: &str) -> Vec<String> {
        self.all(key)
            .into_iter()
            .flat_map(|v| v.split(','))
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect()
    }
    pub fn flag(&self, key: &str) -> bool {
        self.one(key)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }
    pub fn number(&self, key: &str, default: usize) -> Result<usize, ApiError> {
        match self.one(key) {
            None | Some("") => Ok(default),
            Some(v) => v.parse().map_err(|_| {
                ApiError::bad_request(format!(
                    "The '{key}' parameter must be a non-negative number."
                ))
            }),
        }
    }
}

/// 204 with `Content-Type: application/json`, as Jira answers the writes whose 204 the
/// OpenAPI document declares as JSON (edit, assign, transition).
pub(crate) fn no_content_json() -> Response {
    (
        axum::http::StatusCode::NO_CONTENT,
        [(
            axum::http::header::CONTENT_TYPE,
            "application/json;charset=UTF-8",
        )],
    )
        .into_response()
}

/// A JSON request body; Jira's 400 when it is not JSON.
pub(crate) fn json_body(bytes: &[u8]) -> Result<Value, ApiError> {
    if bytes.is_empty() {
        return Err(ApiError::bad_request(
            "The request body is empty: a JSON object is required.",
        ));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        ApiError::bad_request(format!("Unexpected character in the request body: {e}"))
    })
}

/// A serving emulator. Stop it with [`RunningJira::shutdown`].
#[derive(Debug)]
pub struct RunningJira {
    addr: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RunningJira {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://<addr>`: what a client puts before `/rest/api/3/...`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, lets requests in flight finish, and waits for the server to end.
    pub async fn shutdown(self) -> Result<(), EmulatorError> {
        let _ = self.stop.send(());
        self.task.await?.map_err(EmulatorError::Serve)
    }
}

/// Binds `config.listen` and serves the emulator until [`RunningJira::shutdown`].
pub async fn start(config: JiraConfig) -> Result<RunningJira, EmulatorError> {
    if let Some(u) = config
        .users
        .iter()
        .find(|u| u.email.is_empty() || u.email.contains(':'))
    {
        return Err(EmulatorError::Config(format!(
            "user `{}` is empty or contains ':', which Basic auth cannot carry",
            u.email
        )));
    }
    if !config.users.iter().any(|u| u.token.is_some()) {
        return Err(EmulatorError::Config(
            "no user can sign in: give one a token".into(),
        ));
    }
    for (key, _) in &config.projects {
        let ok = key.len() >= 2
            && key.len() <= 10
            && key.starts_with(|c: char| c.is_ascii_uppercase())
            && key
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
        if !ok {
            return Err(EmulatorError::Config(format!(
                "project key `{key}` must be 2-10 upper-case letters or digits, starting with a letter"
            )));
        }
    }
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| EmulatorError::Bind {
            addr: config.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(EmulatorError::Serve)?;
    let seeds: Vec<UserSeed> = config
        .users
        .iter()
        .map(|u| UserSeed {
            email: u.email.clone(),
            display_name: u.display_name.clone(),
        })
        .collect();
    let mut site = Site::new(config.flavour, &seeds, &config.projects);
    site.max_attachment_bytes = config.max_attachment_bytes;
    let logins: Vec<(String, String)> = config
        .users
        .iter()
        .filter_map(|u| u.token.clone().map(|t| (u.email.clone(), t)))
        .collect();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| EmulatorError::Config(format!("cannot make the webhook client: {e}")))?;
    let (hooks, queue) = tokio::sync::mpsc::unbounded_channel();
    let state: AppState = Arc::new(Shared {
        site: Mutex::new(site),
        faults: Mutex::new(config.faults.clone()),
        auth: auth::Auth::new(config.flavour, &logins),
        fallback_base: format!("http://{addr}"),
        http,
        deliveries: Mutex::new(Vec::new()),
        hooks,
        requests: Mutex::new(std::collections::VecDeque::new()),
    });
    tokio::spawn(webhooks::worker(Arc::downgrade(&state), queue));
    let app = router(state, config.max_body_bytes);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await
    });
    info!(%addr, flavour = ?config.flavour, "Jira emulator listening (a test and demo tool, not Jira).");
    Ok(RunningJira { addr, stop, task })
}

/// `/rest/api/{2,3,latest}/x` → `/rest/api/x` with the version in an extension. Data Center has
/// no v3: its v3 paths stay unknown (404).
async fn strip_version(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_owned();
    if let Some(rest) = path.strip_prefix("/rest/api/") {
        let (version, tail) = rest.split_once('/').unwrap_or((rest, ""));
        let dc = lock(&state.site).flavour == Flavour::Dc;
        let v2 = match version {
            "2" | "latest" => Some(true),
            "3" if !dc => Some(false),
            _ => None,
        };
        if let Some(v2) = v2 {
            let target = match request.uri().query() {
                Some(q) => format!("/rest/api/{tail}?{q}"),
                None => format!("/rest/api/{tail}"),
            };
            if let Ok(uri) = target.parse() {
                *request.uri_mut() = uri;
                request.extensions_mut().insert(Api { v2 });
            }
        } else {
            return unknown_resource(request).await.into_response();
        }
    }
    next.run(request).await
}

fn router(state: AppState, max_body_bytes: usize) -> Router {
    let api = Router::new()
        .route("/rest/api/myself", get(meta::myself))
        .route("/rest/api/user/search", get(meta::user_search))
        .route("/rest/api/user", get(meta::user))
        .route("/rest/api/field", get(meta::fields))
        .route("/rest/api/project", get(meta::projects))
        .route("/rest/api/project/search", get(meta::project_search))
        .route("/rest/api/project/{key}", get(meta::project))
        .route(
            "/rest/api/project/{key}/components",
            get(meta::project_components),
        )
        .route(
            "/rest/api/project/{key}/versions",
            get(meta::project_versions),
        )
        .route("/rest/api/priority", get(meta::priorities))
        .route("/rest/api/resolution", get(meta::resolutions))
        .route("/rest/api/status", get(meta::statuses))
        .route("/rest/api/issuetype", get(meta::issue_types))
        .route(
            "/rest/api/issue/createmeta/{project}/issuetypes",
            get(meta::create_meta_types),
        )
        .route(
            "/rest/api/issue/createmeta/{project}/issuetypes/{id}",
            get(meta::create_meta_fields),
        )
        .route("/rest/api/issue", post(issues::create))
        .route(
            "/rest/api/issue/{key}",
            get(issues::get).put(issues::edit).delete(issues::delete),
        )
        .route(
            "/rest/api/issue/{key}/transitions",
            get(issues::transitions).post(issues::transition),
        )
        .route("/rest/api/issue/{key}/editmeta", get(issues::edit_meta))
        .route("/rest/api/issue/{key}/assignee", put(issues::assign))
        .route("/rest/api/issue/{key}/changelog", get(issues::changelog))
        .route(
            "/rest/api/issue/{key}/comment",
            get(comments::list).post(comments::add),
        )
        .route(
            "/rest/api/issue/{key}/comment/{id}",
            get(comments::get)
                .put(comments::edit)
                .delete(comments::delete),
        )
        .route(
            "/rest/api/issue/{key}/attachments",
            post(attachments::upload),
        )
        .route("/rest/api/attachment/meta", get(attachments::settings))
        .route(
            "/rest/api/attachment/{id}",
            get(attachments::metadata).delete(attachments::delete),
        )
        .route(
            "/rest/api/attachment/content/{id}",
            get(attachments::content),
        )
        .route(
            "/rest/api/search/jql",
            get(search::jql_get).post(search::jql_post),
        )
        .route(
            "/rest/api/search/approximate-count",
            post(search::approximate_count),
        )
        .route(
            "/rest/api/search",
            get(search::legacy_get).post(search::legacy_post),
        )
        .route(
            "/rest/api/webhook",
            get(webhooks::list)
                .post(webhooks::register)
                .delete(webhooks::remove),
        )
        .route("/rest/api/webhook/refresh", put(webhooks::refresh))
        .route(
            "/rest/webhooks/1.0/webhook",
            get(webhooks::list_admin).post(webhooks::register_admin),
        )
        .route(
            "/rest/webhooks/1.0/webhook/{id}",
            delete(webhooks::remove_admin),
        )
        .route_layer(middleware::from_fn_with_state(state.clone(), gate));
    let routes = Router::new()
        .merge(api)
        .route("/rest/api/serverInfo", get(meta::server_info))
        .route("/__emulator/faults", get(get_faults).post(set_faults))
        .route("/__emulator/clock", post(advance_clock))
        .route("/__emulator/requests", get(get_requests))
        .route("/__emulator/webhook-deliveries", get(webhooks::deliveries))
        .fallback(unknown_resource)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .with_state(state.clone());
    Router::new()
        .fallback_service(routes)
        .layer(middleware::from_fn_with_state(state, strip_version))
}

/// Every API request: latency, then authentication, then injected faults.
async fn gate(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let latency = lock(&state.faults).latency_ms;
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    let user = match state.auth.authenticate(request.headers()) {
        Ok(user) => user,
        Err(e) => return e.into_response(),
    };
    if let Some(fault) = lock(&state.faults).take() {
        debug!(status = %fault.status, "Emulated fault injected.");
        return fault.into_response();
    }
    {
        let mut log = lock(&state.requests);
        if log.len() >= REQUEST_LOG {
            log.pop_front();
        }
        log.push_back(format!("{} {}", request.method(), request.uri()));
    }
    if request.extensions().get::<Api>().is_none() {
        request.extensions_mut().insert(Api { v2: false });
    }
    request.extensions_mut().insert(Caller(user));
    next.run(request).await
}

async fn unknown_resource(request: Request) -> ApiError {
    ApiError::not_found(format!("null for uri: {}", request.uri().path()))
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "Method Not Allowed",
    )
}

async fn get_requests(State(state): State<AppState>) -> axum::Json<Vec<String>> {
    axum::Json(lock(&state.requests).iter().cloned().collect())
}

async fn get_faults(State(state): State<AppState>) -> axum::Json<Faults> {
    axum::Json(lock(&state.faults).clone())
}

/// Replaces the fault plan; fields left out are off.
async fn set_faults(
    State(state): State<AppState>,
    axum::Json(f): axum::Json<Faults>,
) -> axum::Json<Faults> {
    info!(?f, "Emulator faults set.");
    *lock(&state.faults) = f.clone();
    axum::Json(f)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClockMove {
    advance_secs: i64,
}

/// Moves the emulator's clock so tests can cross minute boundaries (JQL dates have minute
/// precision) without sleeping.
async fn advance_clock(
    State(state): State<AppState>,
    axum::Json(m): axum::Json<ClockMove>,
) -> axum::Json<Value> {
    let mut site = lock(&state.site);
    site.clock_offset_ms = site
        .clock_offset_ms
        .saturating_add(m.advance_secs.saturating_mul(1000));
    axum::Json(serde_json::json!({ "now": render::timestamp(site.peek_now()) }))
}

/// `tandem emulate jira`: a Jira emulator for tests and demos.
#[derive(Debug, Clone, clap::Args)]
#[command(
    about = "Run a local Jira emulator (a test and demo tool, not Jira)",
    long_about = "Serves an in-memory imitation of Jira's REST API (Cloud: v3 with ADF and v2, \
                  Basic e-mail + API token; Data Center with --flavour dc: v2 with wiki markup, \
                  personal access tokens) for tests and demos: projects, issue types, a workflow \
                  with transitions, custom fields, comments, attachments, JQL search and webhooks \
                  it really calls. It is not Jira and keeps nothing when it stops. Faults can be \
                  switched on with POST /__emulator/faults."
)]
pub struct EmulateJiraArgs {
    /// Address to listen on
    #[arg(
        long,
        default_value = "127.0.0.1:8091",
        env = "TANDEM_JIRA_EMULATOR_LISTEN"
    )]
    pub listen: SocketAddr,
    /// The signing-in user's e-mail (Cloud's Basic user; on DC its name is the part before @)
    #[arg(
        long,
        default_value = "admin@example.com",
        env = "TANDEM_JIRA_EMULATOR_USER"
    )]
    pub user: String,
    /// That user's API token (Cloud) or personal access token and password (DC)
    #[arg(long, env = "TANDEM_JIRA_EMULATOR_TOKEN", hide_env_values = true)]
    pub token: String,
    /// That user's display name
    #[arg(long, default_value = "Site Admin")]
    pub display_name: String,
    /// Which Jira to play
    #[arg(long, value_enum, default_value_t = Flavour::Cloud)]
    pub flavour: Flavour,
    /// A project as KEY or KEY=Name; repeatable (default: SUP=Support)
    #[arg(long = "project", value_name = "KEY[=NAME]")]
    pub projects: Vec<String>,
    /// Largest attachment in bytes (larger uploads get 413)
    #[arg(long, default_value_t = 10 * 1024 * 1024)]
    pub max_attachment_bytes: usize,
}

/// Runs the emulator until Ctrl-C.
pub async fn run(args: EmulateJiraArgs) -> Result<(), EmulatorError> {
    let mut config = JiraConfig::new(args.listen)
        .with_user(&args.user, &args.token, &args.display_name)
        .with_member("alex.agent@example.com", "Alex Agent")
        .with_member("sam.agent@example.com", "Sam Agent");
    config.flavour = args.flavour;
    config.max_attachment_bytes = args.max_attachment_bytes;
    if !args.projects.is_empty() {
        config.projects = args
            .projects
            .iter()
            .map(|p| match p.split_once('=') {
                Some((k, n)) => (k.to_owned(), n.to_owned()),
                None => (p.clone(), p.clone()),
            })
            .collect();
    }
    let running = start(config).await?;
    println!(
        "Jira emulator ({:?}; a test and demo tool, not Jira) on {} as {}; Ctrl-C stops it",
        args.flavour,
        running.base_url(),
        args.user
    );
    let _ = tokio::signal::ctrl_c().await;
    info!("Stopping the Jira emulator.");
    running.shutdown().await
}

#[cfg(test)]
mod tests {
    use clap::{Args, Parser};

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: EmulateJiraArgs,
    }

    #[test]
    fn args_parse_with_defaults_and_help_says_it_is_not_jira() {
        let cli = Cli::try_parse_from(["jira", "--token", "t", "--listen", "127.0.0.1:0"])
            .expect("parses");
        assert_eq!(cli.args.user, "admin@example.com");
        assert_eq!(cli.args.flavour, Flavour::Cloud);
        assert!(cli.args.projects.is_empty());
        let dc = Cli::try_parse_from([
            "jira",
            "--token",
            "t",
            "--flavour",
            "dc",
            "--project",
            "OPS=Operations",
        ])
        .expect("parses");
        assert_eq!(dc.args.flavour, Flavour::Dc);
        assert!(
            Cli::try_parse_from(["jira"]).is_err(),
            "a token is required"
        );
        let cmd = EmulateJiraArgs::augment_args(clap::Command::new("jira"));
        let about = cmd.get_about().map(ToString::to_string).unwrap_or_default();
        assert!(about.contains("not Jira"), "{about}");
    }

    #[test]
    fn debug_output_redacts_tokens() {
        let config = JiraConfig::new("127.0.0.1:0".parse().expect("address"))
            .with_user("a@b.c", "hunter2", "A");
        let shown = format!("{config:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
    }
}
