//! A ServiceNow instance emulator: the Table API, the Attachment API, the Batch and Aggregate
//! APIs, Basic and OAuth authentication, journals, and switchable faults, served from memory
//! over HTTP or HTTPS (a self-signed certificate made at start-up).
//!
//! It is a test and demo tool, not ServiceNow: it follows the documented behaviour collected in
//! `shared/reference/tracker-apis.md` §1 and marks its own guesses as inferences. Start one with
//! [`start`], or from the command line with `tandem emulate servicenow` ([`run`]).
//!
//! Layout, one file per role: `schema` (tables, fields, choices), `records` (the data
//! layer), `query` (`sysparm_query`), `table` (Table API), `render` (value / display
//! value / reference shapes), `journal`, `attachments`, `batch` (Batch API), `stats`
//! (Aggregate API), `auth`, `faults`, `error` (the error envelope), `tls` (HTTPS), `demo`
//! (optional seed data). Emulator-only endpoints live under `/__emulator/`.
//!
//! The APIs answer under their versioned paths too (`/api/now/v1/table/…`, `/api/now/v2/table/…`,
//! `/api/now/v1/attachment…`, `/api/now/v1/stats/…`), as clients such as pysnc use them.

mod attachments;
mod auth;
mod batch;
mod demo;
mod error;
mod faults;
mod journal;
pub mod push;
mod query;
mod records;
mod render;
mod schema;
mod stats;
mod table;
mod tls;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::HeaderMap;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use tracing::{debug, info};

pub use faults::{Faults, JournalAccess};
pub use schema::CustomColumn;

use auth::Auth;
use records::{Instance, UserSeed};

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
    #[error("cannot serve HTTPS: {0}")]
    Tls(#[from] tls::TlsError),
    #[error("cannot write the certificate to {path}: {source}")]
    WriteCertificate {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

/// What ServiceNow does with invalid `sysparm_query` terms.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum InvalidQuery {
    /// Drop them and apply the rest: ServiceNow's default.
    #[default]
    Ignore,
    /// Return no rows: ServiceNow with `glide.invalid_query.returns_no_rows=true`.
    NoRows,
    /// Answer 400 naming the term: emulator-only strictness that catches client bugs.
    Reject,
}

/// A user who can sign in with Basic auth or the OAuth password grant.
#[derive(Clone)]
pub struct EmulatorUser {
    pub user_name: String,
    pub password: String,
    /// Display name (`sys_user.name`), shown in journal headers and display values.
    pub name: String,
}

impl std::fmt::Debug for EmulatorUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmulatorUser")
            .field("user_name", &self.user_name)
            .field("password", &"<redacted>")
            .field("name", &self.name)
            .finish()
    }
}

/// A registered OAuth client (an "OAuth API endpoint for external clients").
#[derive(Clone)]
pub struct OAuthClient {
    pub client_id: String,
    pub client_secret: String,
}

impl std::fmt::Debug for OAuthClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthClient")
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .finish()
    }
}

/// How to run an emulator.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// Where to listen; port 0 lets the OS pick (read it back from [`RunningEmulator::addr`]).
    pub listen: SocketAddr,
    pub users: Vec<EmulatorUser>,
    pub oauth_clients: Vec<OAuthClient>,
    /// Lifetime of OAuth access tokens (ServiceNow's default is 30 minutes).
    pub access_token_lifetime: Duration,
    /// Lifetime of OAuth refresh tokens (ServiceNow's default is 100 days).
    pub refresh_token_lifetime: Duration,
    pub invalid_query: InvalidQuery,
    /// Faults active from the start.
    pub faults: Faults,
    /// Largest request body (attachments included).
    pub max_body_bytes: usize,
    /// Enforce the state model's mandatory fields as data policies (403), as instances that
    /// implement them as data policies do; off, they are not checked (UI policies only).
    pub enforce_data_policies: bool,
    /// Start with demo records (a group, two agents, three incidents with journals).
    pub seed_demo: bool,
    /// Columns an admin added (`u_…`), kept as text; writes to undeclared columns are
    /// dropped, as ServiceNow drops writes to columns a table does not have.
    pub custom_columns: Vec<CustomColumn>,
    /// Serve HTTPS with a self-signed certificate made at start-up (see
    /// [`RunningEmulator::certificate_pem`]) instead of plain HTTP.
    pub tls: bool,
}

impl EmulatorConfig {
    /// A configuration with no users, no faults and ServiceNow's defaults.
    pub fn new(listen: SocketAddr) -> Self {
        Self {
            listen,
            users: Vec::new(),
            oauth_clients: Vec::new(),
            access_token_lifetime: Duration::from_secs(30 * 60),
            refresh_token_lifetime: Duration::from_secs(100 * 24 * 3600),
            invalid_query: InvalidQuery::Ignore,
            faults: Faults::default(),
            max_body_bytes: 32 * 1024 * 1024,
            enforce_data_policies: false,
            seed_demo: false,
            custom_columns: Vec::new(),
            tls: false,
        }
    }

    /// Declares a custom column, e.g. `("incident", "u_tier")`.
    pub fn with_custom_column(mut self, table: &str, column: &str) -> Self {
        self.custom_columns.push(CustomColumn {
            table: table.to_owned(),
            column: column.to_owned(),
        });
        self
    }

    /// Adds a user whose display name is the user name.
    pub fn with_user(mut self, user_name: &str, password: &str) -> Self {
        self.users.push(EmulatorUser {
            user_name: user_name.to_owned(),
            password: password.to_owned(),
            name: user_name.to_owned(),
        });
        self
    }

    pub fn with_oauth_client(mut self, client_id: &str, client_secret: &str) -> Self {
        self.oauth_clients.push(OAuthClient {
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
        });
        self
    }
}

/// What every handler shares.
pub(crate) struct Shared {
    pub data: Mutex<Instance>,
    pub faults: Mutex<Faults>,
    pub auth: Auth,
    pub invalid_query: InvalidQuery,
    /// `http` or `https`, for the links the emulator writes.
    pub scheme: &'static str,
    /// `<scheme>://<listen address>`, used when a request has no `Host` header.
    pub fallback_base: String,
    /// The whole application, for the Batch API to run each call through (set once at start).
    pub app: OnceLock<Router>,
    /// The last [`REQUEST_LOG`] authenticated API requests, `METHOD /path?query`, for tests
    /// that count what a client asks (`GET /__emulator/requests`).
    pub requests: Mutex<std::collections::VecDeque<String>>,
    /// The push business rule, when one is set (`push`).
    pub push: Mutex<Option<push::PushRule>>,
}

/// How many requests `GET /__emulator/requests` remembers.
const REQUEST_LOG: usize = 10_000;

pub(crate) type AppState = Arc<Shared>;

/// Locks a mutex; a panic elsewhere while holding it does not make the data unusable here.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// `http(s)://host:port` as the client addressed us, for `link`, `Link` and `download_link`.
pub(crate) fn base_url(state: &Shared, headers: &HeaderMap) -> String {
    headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| h.bytes().all(|b| b.is_ascii_graphic()))
        .map_or_else(
            || state.fallback_base.clone(),
            |h| format!("{}://{h}", state.scheme),
        )
}

/// The authenticated user's name, put in request extensions by the auth gate.
#[derive(Debug, Clone)]
pub(crate) struct Caller(pub String);

/// A serving emulator. Stop it with [`RunningEmulator::shutdown`].
#[derive(Debug)]
pub struct RunningEmulator {
    addr: SocketAddr,
    /// The self-signed certificate in PEM when serving HTTPS.
    certificate_pem: Option<String>,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RunningEmulator {
    /// The address it listens on (with the port the OS picked).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://<addr>` (`https://` with TLS): what a client puts before `/api/now/...`.
    pub fn base_url(&self) -> String {
        let scheme = if self.certificate_pem.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.addr)
    }

    /// With TLS, the self-signed certificate (PEM) a client must trust.
    pub fn certificate_pem(&self) -> Option<&str> {
        self.certificate_pem.as_deref()
    }

    /// Stops accepting, lets requests in flight finish, and waits for the server to end.
    pub async fn shutdown(self) -> Result<(), EmulatorError> {
        let _ = self.stop.send(());
        self.task.await?.map_err(EmulatorError::Serve)
    }
}

/// Binds `config.listen` and serves the emulator until [`RunningEmulator::shutdown`].
pub async fn start(config: EmulatorConfig) -> Result<RunningEmulator, EmulatorError> {
    if let Some(u) = config
        .users
        .iter()
        .find(|u| u.user_name.is_empty() || u.user_name.contains(':'))
    {
        return Err(EmulatorError::Config(format!(
            "user name `{}` is empty or contains ':', which Basic auth cannot carry",
            u.user_name
        )));
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
            user_name: u.user_name.clone(),
            name: u.name.clone(),
        })
        .collect();
    for c in &config.custom_columns {
        // Columns built in code are checked as the command line checks them.
        format!("{}.{}", c.table, c.column)
            .parse::<CustomColumn>()
            .map_err(EmulatorError::Config)?;
    }
    let tables = schema::tables_with(&config.custom_columns).map_err(EmulatorError::Config)?;
    let mut instance = Instance::with_tables(tables, &seeds);
    instance.enforce_data_policies = config.enforce_data_policies;
    if config.seed_demo {
        let author = config
            .users
            .first()
            .map_or("admin", |u| u.user_name.as_str());
        demo::seed(&mut instance, author)
            .map_err(|e| EmulatorError::Config(format!("demo data could not be created: {e}")))?;
    }
    let certificate = if config.tls {
        Some(tls::self_signed(addr)?)
    } else {
        None
    };
    let scheme = if config.tls { "https" } else { "http" };
    let state: AppState = Arc::new(Shared {
        data: Mutex::new(instance),
        faults: Mutex::new(config.faults.clone()),
        auth: Auth::new(&config),
        invalid_query: config.invalid_query,
        scheme,
        fallback_base: format!("{scheme}://{addr}"),
        app: OnceLock::new(),
        requests: Mutex::new(std::collections::VecDeque::new()),
        push: Mutex::new(None),
    });
    let app = router(state.clone(), config.max_body_bytes);
    let _ = state.app.set(app.clone());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let stopped = async move {
        let _ = stopped.await;
    };
    let certificate_pem = certificate.as_ref().map(|c| c.pem.clone());
    let task = match certificate {
        Some(c) => {
            let listener =
                tls::TlsListener::new(listener, c.config).map_err(EmulatorError::Serve)?;
            tokio::spawn(async move {
                axum::serve(listener, app)
                    .with_graceful_shutdown(stopped)
                    .await
            })
        }
        None => tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(stopped)
                .await
        }),
    };
    info!(%addr, scheme, "ServiceNow emulator listening (a test and demo tool, not ServiceNow).");
    Ok(RunningEmulator {
        addr,
        certificate_pem,
        stop,
        task,
    })
}

/// The versions each API answers under (`/api/now/v{n}/…`): the Table API has v1 and v2, the
/// Attachment and Aggregate APIs v1 (tracker-apis.md §1.1). The Batch API exists only as v1
/// and is routed as such.
const API_VERSIONS: &[(&str, &[&str])] = &[
    ("table", &["1", "2"]),
    ("attachment", &["1"]),
    ("stats", &["1"]),
];

/// `/api/now/v1/table/incident` → `/api/now/table/incident`; `None` for any other path,
/// including versions an API does not have (they stay unknown, answered 400).
fn unversioned(path: &str) -> Option<String> {
    let rest = path.strip_prefix("/api/now/v")?;
    let (version, rest) = rest.split_once('/')?;
    let api = rest.split('/').next()?;
    API_VERSIONS
        .iter()
        .any(|(name, versions)| *name == api && versions.contains(&version))
        .then(|| format!("/api/now/{rest}"))
}

/// Routes a versioned path as the unversioned one.
async fn strip_version(mut request: Request) -> Request {
    if let Some(path) = unversioned(request.uri().path()) {
        let target = match request.uri().query() {
            Some(q) => format!("{path}?{q}"),
            None => path,
        };
        if let Ok(uri) = target.parse() {
            *request.uri_mut() = uri;
        }
    }
    request
}

fn router(state: AppState, max_body_bytes: usize) -> Router {
    let api = Router::new()
        .route(
            "/api/now/table/{table}",
            get(table::list).post(table::create),
        )
        .route(
            "/api/now/table/{table}/{sys_id}",
            get(table::get_one)
                .put(table::update)
                .patch(table::update)
                .delete(table::delete),
        )
        .route("/api/now/stats/{table}", get(stats::aggregate))
        .route("/api/now/v1/batch", post(batch::batch))
        .route("/api/now/attachment", get(attachments::list))
        .route("/api/now/attachment/file", post(attachments::upload_raw))
        .route(
            "/api/now/attachment/upload",
            post(attachments::upload_multipart),
        )
        .route(
            "/api/now/attachment/{sys_id}",
            get(attachments::metadata).delete(attachments::delete),
        )
        .route(
            "/api/now/attachment/{sys_id}/file",
            get(attachments::download),
        )
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            push::after_write,
        ))
        .route_layer(middleware::from_fn_with_state(state.clone(), gate));
    let routes = Router::new()
        .merge(api)
        .route("/oauth_token.do", post(auth::token))
        .route("/__emulator/faults", get(get_faults).post(set_faults))
        .route("/__emulator/clock", post(advance_clock))
        .route("/__emulator/requests", get(get_requests))
        .route("/__emulator/push", get(push::get_rule).post(push::set_rule))
        .fallback(unknown_resource)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .with_state(state);
    // The version is taken off before routing: a layer on the outer router runs first.
    Router::new()
        .fallback_service(routes)
        .layer(middleware::map_request(strip_version))
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
    request.extensions_mut().insert(Caller(user));
    next.run(request).await
}

/// The API requests served so far, oldest first (emulator-only; not a ServiceNow API).
async fn get_requests(State(state): State<AppState>) -> axum::Json<Vec<String>> {
    axum::Json(lock(&state.requests).iter().cloned().collect())
}

/// A path no API serves: 400, as ServiceNow answers a URI that matches no API (§1.8).
async fn unknown_resource() -> error::ApiError {
    error::ApiError::bad_request(
        "Requested URI does not represent any resource",
        "the emulator serves /api/now/table, /api/now/attachment, /api/now/stats (each also \
         under its versions, e.g. /api/now/v1/table), /api/now/v1/batch and /oauth_token.do",
    )
}

async fn method_not_allowed() -> error::ApiError {
    error::ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "Method not Supported",
        Some("the HTTP method is not supported for this resource".into()),
    )
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

/// Moves the emulator's clock forward (or back) so tests can cross second boundaries
/// without sleeping.
async fn advance_clock(
    State(state): State<AppState>,
    axum::Json(m): axum::Json<ClockMove>,
) -> axum::Json<serde_json::Value> {
    let mut data = lock(&state.data);
    data.clock_offset_secs = data.clock_offset_secs.saturating_add(m.advance_secs);
    axum::Json(serde_json::json!({ "now": data.now() }))
}

/// `tandem emulate servicenow`: a ServiceNow emulator for tests and demos.
#[derive(Debug, Clone, clap::Args)]
#[command(
    about = "Run a local ServiceNow emulator (a test and demo tool, not ServiceNow)",
    long_about = "Serves an in-memory imitation of a ServiceNow instance's REST API (Table API, \
                  Attachment API, Basic and OAuth auth, journals) for tests and demos. It is not \
                  ServiceNow and keeps nothing when it stops. Faults can be switched on with \
                  POST /__emulator/faults."
)]
pub struct EmulateServiceNowArgs {
    /// Address to listen on
    #[arg(long, default_value = "127.0.0.1:8090", env = "TANDEM_EMULATOR_LISTEN")]
    pub listen: SocketAddr,
    /// User name accepted by Basic auth and the OAuth password grant
    #[arg(long, default_value = "admin", env = "TANDEM_EMULATOR_USER")]
    pub user: String,
    /// That user's password
    #[arg(long, env = "TANDEM_EMULATOR_PASSWORD", hide_env_values = true)]
    pub password: String,
    /// OAuth client id for /oauth_token.do (needs --oauth-client-secret)
    #[arg(long, requires = "oauth_client_secret")]
    pub oauth_client_id: Option<String>,
    /// OAuth client secret
    #[arg(long, env = "TANDEM_EMULATOR_OAUTH_SECRET", hide_env_values = true)]
    pub oauth_client_secret: Option<String>,
    /// What to do with invalid sysparm_query terms
    #[arg(long, value_enum, default_value_t = InvalidQuery::Ignore)]
    pub invalid_query: InvalidQuery,
    /// Refuse (403) state changes without the state model's mandatory fields
    #[arg(long)]
    pub enforce_data_policies: bool,
    /// Start with demo records: a group, two agents, three incidents with comments
    #[arg(long)]
    pub seed_demo: bool,
    /// A custom column to keep, as TABLE.u_NAME (e.g. incident.u_tier); repeatable. Writes to
    /// columns a table does not have are dropped, as ServiceNow drops them
    #[arg(long = "custom-column", value_name = "TABLE.COLUMN")]
    pub custom_columns: Vec<CustomColumn>,
    /// Serve HTTPS with a self-signed certificate made at start-up (clients such as pysnc
    /// refuse plain http); trust it with --tls-cert-out
    #[arg(long)]
    pub tls: bool,
    /// Write the self-signed certificate (PEM) to this file, for clients to trust (e.g.
    /// REQUESTS_CA_BUNDLE=FILE for Python's requests)
    #[arg(long, value_name = "FILE", requires = "tls")]
    pub tls_cert_out: Option<std::path::PathBuf>,
}

/// Runs the emulator until Ctrl-C.
pub async fn run(args: EmulateServiceNowArgs) -> Result<(), EmulatorError> {
    let mut config = EmulatorConfig::new(args.listen).with_user(&args.user, &args.password);
    config.invalid_query = args.invalid_query;
    config.enforce_data_policies = args.enforce_data_policies;
    config.seed_demo = args.seed_demo;
    config.custom_columns = args.custom_columns;
    config.tls = args.tls;
    if let (Some(id), Some(secret)) = (&args.oauth_client_id, &args.oauth_client_secret) {
        config = config.with_oauth_client(id, secret);
    }
    let running = start(config).await?;
    if let (Some(path), Some(pem)) = (&args.tls_cert_out, running.certificate_pem()) {
        std::fs::write(path, pem).map_err(|source| EmulatorError::WriteCertificate {
            path: path.clone(),
            source,
        })?;
        println!("Its self-signed certificate is in {}", path.display());
    }
    println!(
        "ServiceNow emulator (test and demo tool, not ServiceNow) on {} as user {}; Ctrl-C stops it",
        running.base_url(),
        args.user
    );
    let _ = tokio::signal::ctrl_c().await;
    info!("Stopping the ServiceNow emulator.");
    running.shutdown().await
}

#[cfg(test)]
mod tests {
    use clap::{Args, Parser};

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: EmulateServiceNowArgs,
    }

    #[test]
    fn args_parse_with_defaults_and_help_says_it_is_not_servicenow() {
        let cli = Cli::try_parse_from(["emulate", "--password", "p", "--listen", "127.0.0.1:0"])
            .expect("parses");
        assert_eq!(cli.args.user, "admin");
        assert_eq!(cli.args.password, "p");
        assert_eq!(cli.args.invalid_query, InvalidQuery::Ignore);
        assert!(!cli.args.tls, "plain http unless asked");
        let tls = Cli::try_parse_from([
            "emulate",
            "--password",
            "p",
            "--tls",
            "--tls-cert-out",
            "/tmp/emulator.pem",
        ])
        .expect("parses");
        assert!(tls.args.tls);
        assert!(
            Cli::try_parse_from(["emulate", "--password", "p", "--tls-cert-out", "x.pem"]).is_err(),
            "a certificate file needs --tls"
        );
        assert!(
            Cli::try_parse_from(["emulate", "--password", "p", "--oauth-client-id", "c"]).is_err()
        );
        let cmd = EmulateServiceNowArgs::augment_args(clap::Command::new("servicenow"));
        let about = cmd.get_about().map(ToString::to_string).unwrap_or_default();
        assert!(about.contains("not ServiceNow"), "{about}");
        let long = cmd
            .get_long_about()
            .map(ToString::to_string)
            .unwrap_or_default();
        assert!(long.contains("test"), "{long}");
        let cli = Cli::try_parse_from([
            "emulate",
            "--password",
            "p",
            "--custom-column",
            "incident.u_tier",
            "--custom-column",
            "sc_req_item.u_cost_center",
        ])
        .expect("parses");
        assert_eq!(
            cli.args.custom_columns,
            [
                CustomColumn {
                    table: "incident".into(),
                    column: "u_tier".into()
                },
                CustomColumn {
                    table: "sc_req_item".into(),
                    column: "u_cost_center".into()
                },
            ]
        );
        assert!(
            Cli::try_parse_from([
                "emulate",
                "--password",
                "p",
                "--custom-column",
                "incident.tier"
            ])
            .is_err(),
            "a custom column starts with u_"
        );
    }

    #[test]
    fn versioned_paths_map_to_the_apis_that_have_those_versions() {
        assert_eq!(
            unversioned("/api/now/v1/table/incident").as_deref(),
            Some("/api/now/table/incident")
        );
        assert_eq!(
            unversioned("/api/now/v2/table/incident/abc").as_deref(),
            Some("/api/now/table/incident/abc")
        );
        assert_eq!(
            unversioned("/api/now/v1/attachment/abc/file").as_deref(),
            Some("/api/now/attachment/abc/file")
        );
        assert_eq!(
            unversioned("/api/now/v1/stats/incident").as_deref(),
            Some("/api/now/stats/incident")
        );
        for unknown in [
            "/api/now/v3/table/incident",
            "/api/now/v2/attachment",
            "/api/now/v1/batch",
            "/api/now/table/incident",
            "/api/now/v/table/incident",
            "/api/now/vx/table",
        ] {
            assert_eq!(unversioned(unknown), None, "{unknown}");
        }
    }

    #[test]
    fn debug_output_redacts_passwords_and_secrets() {
        let config = EmulatorConfig::new("127.0.0.1:0".parse().expect("address"))
            .with_user("u", "hunter2")
            .with_oauth_client("c", "topsecret");
        let shown = format!("{config:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("topsecret"),
            "{shown}"
        );
    }
}
