//! Starting and stopping a node: data directory, database, identity, first-start set-up, the
//! HTTP server and graceful shutdown.
//!
//! The server ([`serve`]) is hyper's HTTP/1 connection on an accept loop of its own, so that
//! slow and idle clients cannot hold a node's memory ([`crate::config::HttpLimits`]): a request
//! head must arrive within the header timeout (also how long a kept-alive connection may sit
//! idle), a body may not pause longer than the body timeout, a request may not take longer
//! than the request timeout, and at most `max_connections` connections are open (one more is
//! answered 503 and closed).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderName, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use tandem_store::Store;
use tandem_store::sqlite::{SqliteOptions, SqliteStore, Synchronous};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::sensitive_headers::SetSensitiveHeadersLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use crate::auth;
use crate::config::{Config, Durability, HttpLimits};
use crate::error::NodeError;
use crate::identity::Identity;
use crate::state::{
    AppState, NAME_SETTING, NodeSettings, TRACKER_SETTING, TrackerKind, URL_SETTING,
};

/// The database file inside the data directory.
pub const DATABASE_FILE: &str = "tandem.db";

/// A node that is serving. Dropping it does not stop it: call [`RunningNode::shutdown`].
pub struct RunningNode {
    pub addr: SocketAddr,
    /// Where `/metrics` is served without a token (`--metrics-listen`), when it is.
    pub metrics_addr: Option<SocketAddr>,
    pub state: AppState,
    /// On a first start without `--admin-password`: the one-time link to choose the admin
    /// password.
    pub setup_link: Option<String>,
    cancel: CancellationToken,
    server: JoinHandle<std::io::Result<()>>,
    /// The background loops (delivery, sync engine, ServiceNow bridge): they end on the cancel
    /// token, and a stop waits for them, so nothing holds the database once it returns.
    workers: Vec<JoinHandle<()>>,
}

impl RunningNode {
    /// The URL this node's console and API answer at.
    pub fn url(&self) -> String {
        self.state.settings().node_url
    }

    /// The local URL, whatever the configured node URL says.
    pub fn local_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A token to stop the node from elsewhere (signal handlers).
    pub fn cancel_token(&self) -> CancellationToken {
        self.cancel.clone()
    }

    /// Stops accepting connections, lets requests in flight finish, and returns.
    pub async fn shutdown(self) -> Result<(), NodeError> {
        self.cancel.cancel();
        self.wait().await
    }

    /// Waits until the node stops (after its cancel token fires).
    pub async fn wait(self) -> Result<(), NodeError> {
        let served = match self.server.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(NodeError::Internal(format!("the HTTP server failed: {e}"))),
            Err(e) => Err(NodeError::Internal(format!(
                "the HTTP server task failed: {e}"
            ))),
        };
        // The server ended on the cancel token (or failed): stop the loops too, and wait.
        self.cancel.cancel();
        for worker in self.workers {
            let _ = worker.await;
        }
        served
    }
}

/// Opens (creating if needed) the data directory and its database.
pub async fn open_store(config: &Config) -> Result<Arc<dyn Store>, NodeError> {
    let dir = config.data_dir.clone();
    prepare_data_dir(&dir)?;
    let options = SqliteOptions {
        synchronous: match config.durability {
            Durability::Full => Synchronous::Full,
            Durability::Normal => Synchronous::Normal,
        },
    };
    let path = dir.join(DATABASE_FILE);
    private_database_files(&path)?;
    let opened = path.clone();
    let store = tokio::task::spawn_blocking(move || SqliteStore::open(&opened, options))
        .await
        .map_err(|e| NodeError::Internal(format!("opening the database failed: {e}")))??;
    // The journal files exist once the database is open: readable by the node's user only
    // (SQLite gives new ones the database file's mode; older ones are set here).
    private_database_files(&path)?;
    Ok(Arc::new(store))
}

/// The database and its `-wal` and `-shm` files are the node's user's alone (0600): they hold
/// every item, and the sealed secrets. A new database file is created so before SQLite opens it.
fn private_database_files(db: &Path) -> Result<(), NodeError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
        let fail = |path: &Path, e: std::io::Error| NodeError::DataDir {
            path: path.display().to_string(),
            reason: format!("cannot make it private to the node's user ({e})"),
        };
        if !db.exists() {
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o600)
                .open(db)
                .map_err(|e| fail(db, e))?;
        }
        let name = db
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        for file in [name.clone(), format!("{name}-wal"), format!("{name}-shm")] {
            let path = db.with_file_name(file);
            match std::fs::metadata(&path) {
                Ok(meta) if meta.permissions().mode() & 0o077 != 0 => {
                    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                        .map_err(|e| fail(&path, e))?;
                }
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(fail(&path, e)),
            }
        }
    }
    #[cfg(not(unix))]
    let _ = db;
    Ok(())
}

fn prepare_data_dir(dir: &Path) -> Result<(), NodeError> {
    let fail = |reason: String| NodeError::DataDir {
        path: dir.display().to_string(),
        reason,
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
        // The node's user alone may list and read it (0700), whoever made it.
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| fail(e.to_string()))?;
        let mode = std::fs::metadata(dir)
            .map_err(|e| fail(e.to_string()))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| fail(format!("cannot make it private to the node's user ({e})")))?;
        }
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(dir).map_err(|e| fail(e.to_string()))?;
    let probe = dir.join(".tandem-write-probe");
    std::fs::write(&probe, b"ok").map_err(|e| fail(format!("it is not writable ({e})")))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// Starts a node with its own database in `config.data_dir`.
pub async fn start(config: Config) -> Result<RunningNode, NodeError> {
    let store = open_store(&config).await?;
    start_with_store(config, store).await
}

/// Starts a node on a store that is already open.
pub async fn start_with_store(
    config: Config,
    store: Arc<dyn Store>,
) -> Result<RunningNode, NodeError> {
    let master_key = crate::secrets::MasterKey::load_or_create(
        config.master_key.as_ref().map(|k| k.expose()),
        &config.data_dir,
    )?;
    let identity = Identity::load_or_create(store.as_ref(), &master_key).await?;
    crate::license::first_start(store.as_ref()).await?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| NodeError::Bind {
            addr: config.listen.to_string(),
            reason: match e.kind() {
                std::io::ErrorKind::AddrInUse => {
                    "the address is already in use (is another node running? choose another with --listen)".into()
                }
                _ => e.to_string(),
            },
        })?;
    let addr = listener
        .local_addr()
        .map_err(|e| NodeError::Internal(e.to_string()))?;
    let metrics_listener = match config.metrics_listen {
        Some(at) => Some(TcpListener::bind(at).await.map_err(|e| NodeError::Bind {
            addr: at.to_string(),
            reason: match e.kind() {
                std::io::ErrorKind::AddrInUse => {
                    "the address is already in use (choose another with --metrics-listen)".into()
                }
                _ => e.to_string(),
            },
        })?),
        None => None,
    };
    let metrics_addr = match &metrics_listener {
        Some(l) => Some(
            l.local_addr()
                .map_err(|e| NodeError::Internal(e.to_string()))?,
        ),
        None => None,
    };

    // A ServiceNow connection saved in the console, unless the configuration sets one.
    let mut config = config;
    if config.servicenow.is_none() {
        config.servicenow =
            crate::servicenow::settings::stored(store.as_ref(), &master_key).await?;
    }
    let settings = effective_settings(&config, store.as_ref(), addr).await?;
    let state = AppState::new(store, identity, config, settings, master_key)?;
    let setup_link = bootstrap_auth(&state).await?;
    // Basic rules an older version generated name a project; today's read the target project.
    crate::connections::rules::upgrade_basic_rules(&state).await;

    let cancel = CancellationToken::new();
    let app = router(state.clone());
    let mut workers = vec![
        tokio::spawn(crate::connections::delivery::run(
            state.clone(),
            cancel.clone(),
        )),
        tokio::spawn(crate::sync::engine::run(state.clone(), cancel.clone())),
        tokio::spawn(crate::connections::watch_plan(
            state.clone(),
            cancel.clone(),
        )),
    ];
    if let Some(every) = state.config().verify_every {
        workers.push(tokio::spawn(crate::sync::verify::run_periodically(
            state.clone(),
            every,
            cancel.clone(),
        )));
    }
    workers.push(tokio::spawn(crate::storage::watch(
        state.clone(),
        cancel.clone(),
    )));
    workers.push(tokio::spawn(crate::mirror::supervise(
        state.clone(),
        cancel.clone(),
    )));
    if let Some(listener) = metrics_listener {
        tracing::info!(address = ?metrics_addr, "Serving /metrics without a token on the metrics address.");
        workers.push(tokio::spawn(crate::metrics::serve_plain(
            listener,
            state.clone(),
            cancel.clone(),
        )));
    }
    let server = tokio::spawn(serve(
        listener,
        app,
        state.clone(),
        state.config().http,
        cancel.clone(),
    ));
    tracing::info!(
        address = %addr,
        node = %state.identity().id,
        node_url = %state.settings().node_url,
        "Node started."
    );
    Ok(RunningNode {
        addr,
        metrics_addr,
        state,
        setup_link,
        cancel,
        server,
        workers,
    })
}

/// Configuration wins over what the console stored; what neither sets is derived.
async fn effective_settings(
    config: &Config,
    store: &dyn Store,
    addr: SocketAddr,
) -> Result<NodeSettings, NodeError> {
    let stored_url = store.setting(URL_SETTING).await?;
    let node_url = config
        .node_url
        .clone()
        .or(stored_url)
        .unwrap_or_else(|| format!("http://{addr}"));
    let name = match &config.name {
        Some(n) => n.clone(),
        None => store
            .setting(NAME_SETTING)
            .await?
            .unwrap_or_else(|| crate::config::DEFAULT_NODE_NAME.to_owned()),
    };
    // The tracker is ServiceNow exactly when an instance is configured.
    let tracker = if config.servicenow.is_some() {
        TrackerKind::ServiceNow
    } else {
        store
            .setting(TRACKER_SETTING)
            .await?
            .and_then(|t| TrackerKind::parse(&t))
            .filter(|t| *t != TrackerKind::ServiceNow)
            .unwrap_or(TrackerKind::Builtin)
    };
    Ok(NodeSettings {
        name,
        node_url,
        tracker,
    })
}

/// Applies `--admin-password` and `--admin-token`, and on a node without users creates the
/// one-time setup link.
async fn bootstrap_auth(state: &AppState) -> Result<Option<String>, NodeError> {
    let config = state.config();
    let store = state.store();
    if let Some(password) = &config.admin_password {
        let hash = auth::hash_password_blocking(password.expose().to_owned()).await?;
        let user = config.admin_user.as_deref().unwrap_or(auth::ADMIN_USER);
        store.upsert_user(user, &hash).await?;
    }
    if let Some(token) = &config.admin_token {
        let hash = auth::hash_token(token.expose());
        let known = store
            .api_tokens()
            .await?
            .into_iter()
            .any(|t| t.token_hash == hash && t.revoked.is_none());
        if !known {
            store
                .create_api_token(
                    "admin token (configuration)",
                    &hash,
                    "configuration",
                    tandem_store::TokenScope::Admin,
                )
                .await?;
        }
    }
    if store.user_count().await? > 0 {
        return Ok(None);
    }
    let token = auth::create_setup_token(state).await?;
    let link = format!("{}/setup?token={token}", state.settings().node_url);
    write_setup_link(&state.config().data_dir.join(auth::SETUP_LINK_FILE), &link)?;
    Ok(Some(link))
}

/// Keeps the setup link in a file only the node's user can read. Whoever has the link can
/// become admin, so it never goes to the log; the binary prints it on a terminal, and a node
/// run as a service (whose output is usually collected into a log) says where this file is.
fn write_setup_link(path: &Path, link: &str) -> Result<(), NodeError> {
    use std::io::Write as _;
    let fail = |e: std::io::Error| NodeError::DataDir {
        path: path.display().to_string(),
        reason: format!("cannot write the setup link: {e}"),
    };
    let _ = std::fs::remove_file(path);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(fail)?;
    writeln!(file, "{link}").map_err(fail)
}

/// Serves `app` on `listener` until `cancel` fires, then stops accepting, lets the requests
/// in flight finish, and returns.
async fn serve(
    listener: TcpListener,
    app: Router,
    state: AppState,
    limits: HttpLimits,
    cancel: CancellationToken,
) -> std::io::Result<()> {
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_failed(&e).await;
                    continue;
                }
            },
            () = cancel.cancelled() => break,
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            refuse_connection(&state, stream, peer, limits.max_connections);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let service = tower::ServiceBuilder::new()
            .layer(axum::Extension(ConnectInfo(peer)))
            .service(app.clone());
        let connection = http.serve_connection(
            hyper_util::rt::TokioIo::new(stream),
            hyper_util::service::TowerToHyperService::new(service),
        );
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            // An error here is the client's doing (it left, or sent no head in time).
            if let Err(e) = connection.await {
                tracing::debug!(peer = %peer, error = %e, "Connection closed on an error.");
            }
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// An accept that failed: a connection that went away before it was taken is nothing; out of
/// file descriptors (or another fault of this host), wait a moment rather than spin.
async fn accept_failed(e: &std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "Cannot accept connections; retrying in a second.");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// A connection over the cap: answered 503 (if the socket takes it at once) and closed.
fn refuse_connection(state: &AppState, stream: TcpStream, peer: SocketAddr, max: usize) {
    const ANSWER: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n\
        Content-Length: 38\r\nConnection: close\r\nRetry-After: 5\r\n\r\n\
        the node has too many open connections";
    let _ = stream.try_write(ANSWER);
    drop(stream);
    if let Some(suppressed) = state.refusal_log("connection over the cap", Some(peer.ip())) {
        tracing::warn!(
            source = %peer.ip(),
            max_connections = max,
            suppressed,
            "Refused a connection: the node has as many open connections as it keeps (--max-connections)."
        );
    }
}

/// Every route the node serves, before the layers every answer passes through.
pub(crate) fn routes(node_requests: usize) -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route(crate::metrics::PATH, get(crate::metrics::scrape))
        .route(
            crate::servicenow::push::PATH,
            axum::routing::post(crate::servicenow::push::notify),
        )
        .nest(crate::api::openapi::PREFIX, crate::api::router())
        .nest("/node/v1", crate::peer::router(node_requests))
        .merge(crate::console::router())
}

fn router(state: AppState) -> Router {
    let limits = state.config().http;
    routes(limits.node_requests)
        .layer(CatchPanicLayer::new())
        // A body that stops arriving fails its read (408); a request that takes too long in
        // all is answered 408 too.
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
            limits.body_timeout,
        ))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            limits.request_timeout,
        ))
        // An answer of 5xx is not a line of its own: an internal fault is logged with its
        // detail where it is answered (`ApiError`), and a storage fault once by the store —
        // a line per refused request filled the full disk further, one request at a time.
        .layer(
            TraceLayer::new_for_http().on_failure(
                tower_http::trace::DefaultOnFailure::new().level(tracing::Level::DEBUG),
            ),
        )
        .layer(SetSensitiveHeadersLayer::new([
            header::AUTHORIZATION,
            header::COOKIE,
            header::SET_COOKIE,
        ]))
        .layer(SetResponseHeaderLayer::if_not_present(
            HeaderName::from_static("x-content-type-options"),
            header::HeaderValue::from_static("nosniff"),
        ))
        // The console loads nothing from elsewhere, runs no inline script and no script but its
        // own, and is never framed (so no other site can trick an admin into clicking its
        // buttons).
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            content_security_policy,
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            header::HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            header::HeaderValue::from_static("same-origin"),
        ))
        // Outermost, so a request the timeouts cut short is counted with its 408. Router
        // layers wrap each route, so the matched route template is known here.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::metrics::track_http,
        ))
        .with_state(state)
}

/// Sets the console's Content-Security-Policy on answers that have none: script only from
/// the console's own script file, by its exact URL (on the host the browser asked, and on the
/// node URL's host), so no other file of this origin (an attachment, an API answer) runs as
/// script.
async fn content_security_policy(
    State(state): State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let host_of = |text: &str| {
        let ok = !text.is_empty()
            && text.len() <= 255
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b));
        ok.then(|| text.to_ascii_lowercase())
    };
    let mut hosts: Vec<String> = Vec::new();
    if let Some(host) = request
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .and_then(host_of)
    {
        hosts.push(host);
    }
    if let Some(host) = reqwest::Url::parse(&state.settings().node_url)
        .ok()
        .and_then(|u| {
            let host = u.host_str()?.to_owned();
            Some(match u.port() {
                Some(port) => format!("{host}:{port}"),
                None => host,
            })
        })
        .as_deref()
        .and_then(host_of)
        && !hosts.contains(&host)
    {
        hosts.push(host);
    }
    let script_src = if hosts.is_empty() {
        "'none'".to_owned()
    } else {
        hosts
            .iter()
            .map(|h| format!("{h}{}", crate::console::SCRIPT_PATH))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut response = next.run(request).await;
    if !response
        .headers()
        .contains_key(header::CONTENT_SECURITY_POLICY)
        && let Ok(value) = header::HeaderValue::from_str(&format!(
            "default-src 'self'; script-src {script_src}; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
        ))
    {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, value);
    }
    response
}

/// 200 when the database answers and takes writes; 503 with the reason when it does not
/// (a storage fault lasts from a write that failed on it until one succeeds again).
async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    if let Some(problem) = state.store().storage_problem() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "storage fault since {}: {}\n",
                problem.since, problem.message
            ),
        );
    }
    match state.store().ping().await {
        Ok(()) => (StatusCode::OK, "ok\n".to_owned()),
        Err(e) => {
            tracing::warn!(error = %e, "Health check failed.");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "database unavailable\n".to_owned(),
            )
        }
    }
}
