//! The node's one typed configuration, layered: command-line flags > environment (`TANDEM_*`) >
//! a TOML file > defaults.
//!
//! Flags and environment come through clap ([`ServeArgs`]: each flag documents its variable in
//! `--help`), the file through serde with unknown keys refused, and [`Config::resolve`] merges
//! them and checks every value, naming the source of a bad one.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// Default address of the HTTP server.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7341";
/// Default data directory, relative to the working directory.
pub const DEFAULT_DATA_DIR: &str = "./tandem-data";
/// The node's name when neither the configuration nor the console sets one.
pub const DEFAULT_NODE_NAME: &str = "Tandem node";
/// File looked for in the data directory when `--config` is not given.
pub const CONFIG_FILE_NAME: &str = "tandem.toml";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("config file {path} is not valid: {reason}")]
    Parse { path: String, reason: String },
    #[error("invalid {key} '{value}' (from {origin}): {reason}")]
    Invalid {
        key: &'static str,
        value: String,
        origin: String,
        reason: String,
    },
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable text.
    #[default]
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// How hard the embedded database syncs each commit to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Durability {
    /// fsync every commit: nothing committed is lost, even on power loss.
    #[default]
    Full,
    /// fsync at checkpoints: far faster writes; a power cut (not a crash) may lose the last
    /// commits.
    Normal,
}

/// `tandem serve` flags. Every one can also come from its `TANDEM_*` variable or the file.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ServeArgs {
    /// Address and port the HTTP server listens on [default: 127.0.0.1:7341]
    #[arg(long, env = "TANDEM_LISTEN", value_name = "ADDR")]
    pub listen: Option<String>,
    /// A second address serving only `/metrics`, without a token, for a Prometheus that
    /// cannot send one (keep it private: a firewall or loopback) [default: none; `/metrics` on
    /// --listen needs a read token]
    #[arg(long, env = "TANDEM_METRICS_LISTEN", value_name = "ADDR")]
    pub metrics_listen: Option<String>,
    /// Directory holding the database and the node's identity [default: ./tandem-data]
    #[arg(long, env = "TANDEM_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// TOML configuration file [default: <data-dir>/tandem.toml, when it exists]
    #[arg(long, env = "TANDEM_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The URL other nodes and browsers reach this node at [default: the one saved on the
    /// console's General settings page, else http://<the address it listens on>]
    #[arg(long, env = "TANDEM_NODE_URL", value_name = "URL")]
    pub node_url: Option<String>,
    /// Display name of this node [default: the one saved on the console's General settings
    /// page, else "Tandem node"]
    #[arg(long, env = "TANDEM_NODE_NAME", value_name = "NAME")]
    pub name: Option<String>,
    /// Sets the console password of user `admin` on start (otherwise the first start prints a
    /// one-time setup link). A flag is visible to every local user in the process list:
    /// prefer TANDEM_ADMIN_PASSWORD or --admin-password-file
    #[arg(
        long,
        env = "TANDEM_ADMIN_PASSWORD",
        value_name = "PASSWORD",
        hide_env_values = true
    )]
    pub admin_password: Option<String>,
    /// Reads the password of user `admin` from this file (its first line), e.g. a secret
    /// mounted by the service manager
    #[arg(
        long,
        env = "TANDEM_ADMIN_PASSWORD_FILE",
        value_name = "FILE",
        conflicts_with = "admin_password"
    )]
    pub admin_password_file: Option<PathBuf>,
    /// Accepts this bearer token for the API, with admin rights (for automation; tokens can
    /// also be created in the console or with `tandem token create`). A flag is visible in the
    /// process list: prefer TANDEM_ADMIN_TOKEN or --admin-token-file
    #[arg(
        long,
        env = "TANDEM_ADMIN_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub admin_token: Option<String>,
    /// Reads the admin API token from this file (its first line)
    #[arg(
        long,
        env = "TANDEM_ADMIN_TOKEN_FILE",
        value_name = "FILE",
        conflicts_with = "admin_token"
    )]
    pub admin_token_file: Option<PathBuf>,
    /// Vendor public key whose signature on license keys this node trusts (from `tandem
    /// license keygen`)
    #[arg(long, env = "TANDEM_LICENSE_PUBLIC_KEY", value_name = "KEY")]
    pub license_public_key: Option<String>,
    /// Log format, on stderr; text is coloured only on a terminal [default: text]
    #[arg(long, env = "TANDEM_LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,
    /// Database durability: full (fsync each commit) or normal (faster, may lose the last
    /// commits on power loss) [default: full]
    #[arg(long, env = "TANDEM_DURABILITY", value_enum)]
    pub durability: Option<Durability>,
    /// How many hours a new invitation code stays valid [default: 72]
    #[arg(long, env = "TANDEM_INVITATION_HOURS", value_name = "HOURS")]
    pub invitation_hours: Option<u32>,
    /// Verify every active connection this often in the background (`tandem sync verify
    /// --repair` on each), e.g. 6h, 30m, 1d [default: off]
    #[arg(long, env = "TANDEM_VERIFY_EVERY", value_name = "DURATION")]
    pub verify_every: Option<String>,
    /// The key that seals secrets at rest, 64 hex digits [default: <data-dir>/master.key,
    /// created on first start]. Every process of one node must use the same key.
    #[arg(
        long,
        env = "TANDEM_MASTER_KEY",
        value_name = "HEX",
        hide_env_values = true
    )]
    pub master_key: Option<String>,
    /// A URL the node POSTs a JSON notice to whenever a new sync error is recorded
    #[arg(long, env = "TANDEM_ERROR_WEBHOOK", value_name = "URL")]
    pub error_webhook: Option<String>,
    /// The ServiceNow instance this node serves, e.g. https://acme.service-now.com (without
    /// it the node serves its built-in tracker)
    #[arg(long, env = "TANDEM_SERVICENOW_URL", value_name = "URL")]
    pub servicenow_url: Option<String>,
    /// The ServiceNow proxy user the node signs in as
    #[arg(long, env = "TANDEM_SERVICENOW_USER", value_name = "USER")]
    pub servicenow_user: Option<String>,
    /// That user's password
    #[arg(
        long,
        env = "TANDEM_SERVICENOW_PASSWORD",
        value_name = "PASSWORD",
        hide_env_values = true
    )]
    pub servicenow_password: Option<String>,
    /// OAuth client id: sign in with OAuth 2 (password grant) instead of Basic auth
    #[arg(long, env = "TANDEM_SERVICENOW_CLIENT_ID", value_name = "ID")]
    pub servicenow_client_id: Option<String>,
    /// OAuth client secret
    #[arg(
        long,
        env = "TANDEM_SERVICENOW_CLIENT_SECRET",
        value_name = "SECRET",
        hide_env_values = true
    )]
    pub servicenow_client_secret: Option<String>,
    /// Tables to sync, comma-separated [default: incident]
    #[arg(
        long,
        env = "TANDEM_SERVICENOW_TABLES",
        value_name = "TABLES",
        value_delimiter = ','
    )]
    pub servicenow_tables: Option<Vec<String>>,
    /// Seconds between polls of ServiceNow for changes [default: 10]
    #[arg(long, env = "TANDEM_SERVICENOW_POLL_SECS", value_name = "SECS")]
    pub servicenow_poll_secs: Option<u64>,
    /// Lets the node call loopback, link-local and private addresses (127.0.0.1, 10.x,
    /// 192.168.x, fd00::/8, …) when it checks a destination or probes for another node: for
    /// nodes that talk to each other on a private network [default: false]
    #[arg(
        long,
        env = "TANDEM_ALLOW_PRIVATE_DESTINATIONS",
        num_args = 0..=1,
        default_missing_value = "true",
        value_name = "BOOL"
    )]
    pub allow_private_destinations: Option<bool>,
    /// Seconds a client may take to send a request's head; also how long an idle kept-alive
    /// connection stays open [default: 10]
    #[arg(long, env = "TANDEM_HEADER_TIMEOUT_SECS", value_name = "SECS")]
    pub header_timeout_secs: Option<u64>,
    /// Seconds a request body may pause before the request is answered 408 [default: 30]
    #[arg(long, env = "TANDEM_BODY_TIMEOUT_SECS", value_name = "SECS")]
    pub body_timeout_secs: Option<u64>,
    /// Open connections at most; one more is answered 503 and closed [default: 1024]
    #[arg(long, env = "TANDEM_MAX_CONNECTIONS", value_name = "N")]
    pub max_connections: Option<usize>,
}

/// The `[servicenow]` table of the config file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileServiceNow {
    instance_url: Option<String>,
    user: Option<String>,
    password: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    tables: Option<Vec<String>>,
    poll_interval_secs: Option<u64>,
}

/// The ServiceNow instance a node serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceNowConfig {
    /// Without a trailing `/`.
    pub instance_url: String,
    pub user: String,
    pub password: Secret,
    /// OAuth client id and secret, when the node signs in with OAuth.
    pub oauth: Option<(String, Secret)>,
    pub tables: Vec<String>,
    pub poll_interval: std::time::Duration,
    /// Saved on the General settings page (else set by the configuration, which wins).
    pub from_console: bool,
}

/// The poll interval when none is configured.
pub const DEFAULT_POLL_SECS: u64 = 10;

/// The config file's shape. Unknown keys are an error, so a typo never goes unnoticed.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<String>,
    metrics_listen: Option<String>,
    data_dir: Option<PathBuf>,
    node_url: Option<String>,
    name: Option<String>,
    admin_password: Option<String>,
    admin_token: Option<String>,
    license_public_key: Option<String>,
    log_format: Option<LogFormat>,
    durability: Option<Durability>,
    invitation_hours: Option<u32>,
    verify_every: Option<String>,
    master_key: Option<String>,
    error_webhook: Option<String>,
    header_timeout_secs: Option<u64>,
    body_timeout_secs: Option<u64>,
    max_connections: Option<usize>,
    servicenow: Option<FileServiceNow>,
    allow_private_destinations: Option<bool>,
}

/// A secret from the configuration; `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([REDACTED])")
    }
}

/// The node's effective configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    /// Where `/metrics` is also served, without a token ([`crate::metrics`]); `None`: only on
    /// `listen`, with a token.
    pub metrics_listen: Option<SocketAddr>,
    pub data_dir: PathBuf,
    /// The node URL when configured; otherwise derived from the bound address at start.
    pub node_url: Option<String>,
    pub name: Option<String>,
    pub admin_password: Option<Secret>,
    /// The user `admin_password` is set for; `None`: `admin`. The demo gives each of its nodes
    /// its own (see `demo::admin_user`), so what one side wrote never reads as the other's.
    pub admin_user: Option<String>,
    pub admin_token: Option<Secret>,
    /// The vendor key license keys must be signed with.
    pub license_public_key: Option<String>,
    pub log_format: LogFormat,
    pub durability: Durability,
    /// How long a new invitation code stays valid.
    pub invitation_validity: jiff::SignedDuration,
    /// How often the background pass verifies (and repairs) every active connection; `None`:
    /// never (the default).
    pub verify_every: Option<Duration>,
    /// The master key from the configuration; `None`: the data directory's `master.key`.
    pub master_key: Option<Secret>,
    /// Called with a JSON notice for every new sync error.
    pub error_webhook: Option<String>,
    /// The ServiceNow instance the node serves; `None`: the built-in tracker.
    pub servicenow: Option<ServiceNowConfig>,
    /// Whether the node may call loopback, link-local and private addresses on another's
    /// behalf (the probe, a destination check, another node's declared URL). Off by default.
    pub allow_private_destinations: bool,
    /// How long HTTP clients may take and how many connections they may hold.
    pub http: HttpLimits,
}

/// Limits of the HTTP server against slow, idle or numerous clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// The longest a client may take to send a request's head, from when the node starts
    /// waiting for it: on a new connection, and on a kept-alive one after its last answer (so
    /// it is also how long an idle connection stays open).
    pub header_timeout: Duration,
    /// The longest a request body may go without sending a byte.
    pub body_timeout: Duration,
    /// The longest a request may take in all, body and answer included.
    pub request_timeout: Duration,
    /// Open connections at most; a connection over it is answered 503 and closed.
    pub max_connections: usize,
    /// Node-to-node requests (`/node/v1`) handled at once, for the public routes and for the
    /// signed ones each; more are answered 503.
    pub node_requests: usize,
}

/// Default [`HttpLimits::header_timeout`], in seconds.
pub const DEFAULT_HEADER_TIMEOUT_SECS: u64 = 10;
/// Default [`HttpLimits::body_timeout`], in seconds.
pub const DEFAULT_BODY_TIMEOUT_SECS: u64 = 30;
/// Default [`HttpLimits::max_connections`].
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            header_timeout: Duration::from_secs(DEFAULT_HEADER_TIMEOUT_SECS),
            body_timeout: Duration::from_secs(DEFAULT_BODY_TIMEOUT_SECS),
            request_timeout: Duration::from_secs(60),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            node_requests: 16,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: DEFAULT_LISTEN
                .parse()
                .expect("the default address is valid"),
            metrics_listen: None,
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            node_url: None,
            name: None,
            admin_password: None,
            admin_user: None,
            admin_token: None,
            license_public_key: None,
            log_format: LogFormat::Text,
            durability: Durability::Full,
            invitation_validity: tandem_protocol::DEFAULT_VALIDITY,
            verify_every: None,
            master_key: None,
            error_webhook: None,
            servicenow: None,
            allow_private_destinations: false,
            http: HttpLimits::default(),
        }
    }
}

/// Where a value came from, for error messages.
/// An interval as people write it: a whole number and a unit, `s`, `m`, `h` or `d` (`6h`,
/// `30m`), from one minute to 30 days.
fn parse_interval(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let unit_at = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(unit_at);
    let seconds = match unit.trim() {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err("write a number and a unit, s, m, h or d (like 6h or 30m)".into()),
    };
    let interval = number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(seconds))
        .map(Duration::from_secs)
        .ok_or_else(|| "write a number and a unit, s, m, h or d (like 6h or 30m)".to_owned())?;
    if !(60..=30 * 86_400).contains(&interval.as_secs()) {
        return Err("choose between 1 minute and 30 days".into());
    }
    Ok(interval)
}

fn source_of(flag_given: bool, flag: &str, env: &str, file: &Path) -> String {
    if flag_given {
        format!("{flag} or {env}")
    } else {
        format!("config file {}", file.display())
    }
}

impl Config {
    /// Merges flags/environment (`args`) over the config file over defaults, and validates.
    pub fn resolve(args: &ServeArgs) -> Result<Config, ConfigError> {
        let defaults = Config::default();
        let explicit_file = args.config.clone();
        let data_dir_hint = args
            .data_dir
            .clone()
            .unwrap_or_else(|| defaults.data_dir.clone());
        let file_path = explicit_file
            .clone()
            .unwrap_or_else(|| data_dir_hint.join(CONFIG_FILE_NAME));
        let file = match std::fs::read_to_string(&file_path) {
            Ok(text) => toml::from_str::<FileConfig>(&text).map_err(|e| ConfigError::Parse {
                path: file_path.display().to_string(),
                reason: toml_reason(&text, &e),
            })?,
            // No file where the default one would be: nothing to read.
            Err(_) if explicit_file.is_none() && !file_path.exists() => FileConfig::default(),
            Err(e) => {
                return Err(ConfigError::Read {
                    path: file_path.display().to_string(),
                    reason: e.to_string(),
                });
            }
        };

        let listen_src = source_of(
            args.listen.is_some(),
            "--listen",
            "TANDEM_LISTEN",
            &file_path,
        );
        let listen = match args.listen.clone().or(file.listen) {
            Some(text) => parse_listen(&text).map_err(|reason| ConfigError::Invalid {
                key: "listen address",
                value: text,
                origin: listen_src,
                reason,
            })?,
            None => defaults.listen,
        };

        let metrics_listen_src = source_of(
            args.metrics_listen.is_some(),
            "--metrics-listen",
            "TANDEM_METRICS_LISTEN",
            &file_path,
        );
        let metrics_listen = match args.metrics_listen.clone().or(file.metrics_listen) {
            Some(text) => Some(parse_listen(&text).map_err(|reason| ConfigError::Invalid {
                key: "metrics listen address",
                value: text,
                origin: metrics_listen_src,
                reason,
            })?),
            None => None,
        };

        let node_url_src = source_of(
            args.node_url.is_some(),
            "--node-url",
            "TANDEM_NODE_URL",
            &file_path,
        );
        let node_url = match args.node_url.clone().or(file.node_url) {
            Some(url) => Some(check_node_url(&url).map_err(|reason| ConfigError::Invalid {
                key: "node URL",
                value: url,
                origin: node_url_src,
                reason,
            })?),
            None => None,
        };

        let name_src = source_of(
            args.name.is_some(),
            "--name",
            "TANDEM_NODE_NAME",
            &file_path,
        );
        let name = args.name.clone().or(file.name);
        if let Some(n) = &name {
            check_name(n).map_err(|reason| ConfigError::Invalid {
                key: "node name",
                value: n.clone(),
                origin: name_src,
                reason,
            })?;
        }

        let token_src = match &args.admin_token_file {
            Some(path) => format!("--admin-token-file {}", path.display()),
            None => source_of(
                args.admin_token.is_some(),
                "--admin-token",
                "TANDEM_ADMIN_TOKEN",
                &file_path,
            ),
        };
        let admin_token = match &args.admin_token_file {
            Some(path) => Some(read_secret_file(path)?),
            None => args.admin_token.clone().or(file.admin_token),
        };
        if let Some(t) = &admin_token
            && t.trim().len() < 16
        {
            return Err(ConfigError::Invalid {
                key: "admin token",
                value: "(hidden)".into(),
                origin: token_src,
                reason: "use at least 16 characters".into(),
            });
        }
        let password_src = match &args.admin_password_file {
            Some(path) => format!("--admin-password-file {}", path.display()),
            None => source_of(
                args.admin_password.is_some(),
                "--admin-password",
                "TANDEM_ADMIN_PASSWORD",
                &file_path,
            ),
        };
        let admin_password = match &args.admin_password_file {
            Some(path) => Some(read_secret_file(path)?),
            None => args.admin_password.clone().or(file.admin_password),
        };
        if let Some(p) = &admin_password
            && p.chars().count() < 8
        {
            return Err(ConfigError::Invalid {
                key: "admin password",
                value: "(hidden)".into(),
                origin: password_src,
                reason: "use at least 8 characters".into(),
            });
        }

        let key_src = source_of(
            args.license_public_key.is_some(),
            "--license-public-key",
            "TANDEM_LICENSE_PUBLIC_KEY",
            &file_path,
        );
        let license_public_key = args.license_public_key.clone().or(file.license_public_key);
        if let Some(key) = &license_public_key {
            tandem_protocol::license::parse_vendor_public_key(key).map_err(|e| {
                ConfigError::Invalid {
                    key: "license public key",
                    value: key.clone(),
                    origin: key_src,
                    reason: e.to_string(),
                }
            })?;
        }

        let hours_src = source_of(
            args.invitation_hours.is_some(),
            "--invitation-hours",
            "TANDEM_INVITATION_HOURS",
            &file_path,
        );
        let invitation_validity = match args.invitation_hours.or(file.invitation_hours) {
            Some(hours) if (1..=720).contains(&hours) => {
                jiff::SignedDuration::from_hours(i64::from(hours))
            }
            Some(hours) => {
                return Err(ConfigError::Invalid {
                    key: "invitation validity",
                    value: hours.to_string(),
                    origin: hours_src,
                    reason: "choose between 1 and 720 hours (30 days)".into(),
                });
            }
            None => defaults.invitation_validity,
        };
        let verify_src = source_of(
            args.verify_every.is_some(),
            "--verify-every",
            "TANDEM_VERIFY_EVERY",
            &file_path,
        );
        let verify_every = match args.verify_every.clone().or(file.verify_every) {
            Some(text) => Some(
                parse_interval(&text).map_err(|reason| ConfigError::Invalid {
                    key: "verify interval",
                    value: text.clone(),
                    origin: verify_src,
                    reason,
                })?,
            ),
            None => None,
        };
        let master_src = source_of(
            args.master_key.is_some(),
            "--master-key",
            "TANDEM_MASTER_KEY",
            &file_path,
        );
        let master_key = args.master_key.clone().or(file.master_key);
        if let Some(key) = &master_key {
            crate::secrets::MasterKey::from_hex(key).map_err(|reason| ConfigError::Invalid {
                key: "master key",
                value: "(hidden)".into(),
                origin: master_src,
                reason,
            })?;
        }

        let webhook_src = source_of(
            args.error_webhook.is_some(),
            "--error-webhook",
            "TANDEM_ERROR_WEBHOOK",
            &file_path,
        );
        let error_webhook = match args.error_webhook.clone().or(file.error_webhook) {
            Some(url) => Some(crate::connections::normalize_url(&url).map_err(|reason| {
                ConfigError::Invalid {
                    key: "error webhook",
                    value: url.clone(),
                    origin: webhook_src,
                    reason: format!("the URL {reason}"),
                }
            })?),
            None => None,
        };

        let http = http_limits(
            args,
            (
                file.header_timeout_secs,
                file.body_timeout_secs,
                file.max_connections,
            ),
            &file_path,
        )?;
        let servicenow = servicenow_config(args, file.servicenow.unwrap_or_default(), &file_path)?;

        Ok(Config {
            listen,
            metrics_listen,
            data_dir: args
                .data_dir
                .clone()
                .or(file.data_dir)
                .unwrap_or(defaults.data_dir),
            node_url,
            name,
            admin_password: admin_password.map(Secret),
            admin_user: None,
            admin_token: admin_token.map(|t| Secret(t.trim().to_owned())),
            license_public_key,
            log_format: args.log_format.or(file.log_format).unwrap_or_default(),
            durability: args.durability.or(file.durability).unwrap_or_default(),
            invitation_validity,
            verify_every,
            master_key: master_key.map(|k| Secret(k.trim().to_owned())),
            error_webhook,
            servicenow,
            allow_private_destinations: args
                .allow_private_destinations
                .or(file.allow_private_destinations)
                .unwrap_or(false),
            http,
        })
    }
}

/// The first line of a secret file (`--admin-password-file`, `--admin-token-file`), without
/// its line ending.
fn read_secret_file(path: &Path) -> Result<String, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    let line = text.lines().next().unwrap_or_default();
    if line.is_empty() {
        return Err(ConfigError::Read {
            path: path.display().to_string(),
            reason: "its first line is empty: write the secret on the first line".into(),
        });
    }
    Ok(line.to_owned())
}

/// The HTTP server's limits from flags over the file's (header timeout, body timeout, most
/// connections) over defaults.
fn http_limits(
    args: &ServeArgs,
    (file_header, file_body, file_connections): (Option<u64>, Option<u64>, Option<usize>),
    file_path: &Path,
) -> Result<HttpLimits, ConfigError> {
    let defaults = HttpLimits::default();
    let request_secs = defaults.request_timeout.as_secs();
    let secs = |flag_value: Option<u64>,
                file_value: Option<u64>,
                key: &'static str,
                flag: &str,
                env: &str,
                max: u64,
                default: Duration|
     -> Result<Duration, ConfigError> {
        match flag_value.or(file_value) {
            None => Ok(default),
            Some(n) if (1..=max).contains(&n) => Ok(Duration::from_secs(n)),
            Some(n) => Err(ConfigError::Invalid {
                key,
                value: n.to_string(),
                origin: source_of(flag_value.is_some(), flag, env, file_path),
                reason: format!("choose between 1 and {max} seconds"),
            }),
        }
    };
    let header_timeout = secs(
        args.header_timeout_secs,
        file_header,
        "header timeout",
        "--header-timeout-secs",
        "TANDEM_HEADER_TIMEOUT_SECS",
        3600,
        defaults.header_timeout,
    )?;
    // A request may take the request timeout in all: a longer pause of its body means nothing.
    let body_timeout = secs(
        args.body_timeout_secs,
        file_body,
        "body timeout",
        "--body-timeout-secs",
        "TANDEM_BODY_TIMEOUT_SECS",
        request_secs,
        defaults.body_timeout,
    )?;
    let max_connections = match args.max_connections.or(file_connections) {
        None => defaults.max_connections,
        Some(n) if (1..=1_000_000).contains(&n) => n,
        Some(n) => {
            return Err(ConfigError::Invalid {
                key: "connection limit",
                value: n.to_string(),
                origin: source_of(
                    args.max_connections.is_some(),
                    "--max-connections",
                    "TANDEM_MAX_CONNECTIONS",
                    file_path,
                ),
                reason:
                    "choose between 1 and 1000000 (each open connection holds a file descriptor)"
                        .into(),
            });
        }
    };
    Ok(HttpLimits {
        header_timeout,
        body_timeout,
        max_connections,
        ..defaults
    })
}

/// The ServiceNow settings from flags over the `[servicenow]` table; `None` when no instance
/// URL is given.
fn servicenow_config(
    args: &ServeArgs,
    file: FileServiceNow,
    file_path: &Path,
) -> Result<Option<ServiceNowConfig>, ConfigError> {
    let src = |given: bool, flag: &str, env: &str| source_of(given, flag, env, file_path);
    let Some(url) = args.servicenow_url.clone().or(file.instance_url) else {
        return Ok(None);
    };
    let url_src = src(
        args.servicenow_url.is_some(),
        "--servicenow-url",
        "TANDEM_SERVICENOW_URL",
    );
    let instance_url = check_node_url(&url).map_err(|reason| ConfigError::Invalid {
        key: "ServiceNow instance URL",
        value: url.clone(),
        origin: url_src.clone(),
        reason: reason.replace("node URL", "instance URL"),
    })?;
    let missing = |key: &'static str, flag: &str, env: &str| ConfigError::Invalid {
        key,
        value: String::new(),
        origin: format!("{flag}, {env} or [servicenow] in {}", file_path.display()),
        reason: "required when a ServiceNow instance URL is set".into(),
    };
    let user = args
        .servicenow_user
        .clone()
        .or(file.user)
        .filter(|u| !u.trim().is_empty())
        .ok_or_else(|| {
            missing(
                "ServiceNow user",
                "--servicenow-user",
                "TANDEM_SERVICENOW_USER",
            )
        })?;
    let password = args
        .servicenow_password
        .clone()
        .or(file.password)
        .ok_or_else(|| {
            missing(
                "ServiceNow password",
                "--servicenow-password",
                "TANDEM_SERVICENOW_PASSWORD",
            )
        })?;
    let oauth = match (
        args.servicenow_client_id.clone().or(file.client_id),
        args.servicenow_client_secret.clone().or(file.client_secret),
    ) {
        (Some(id), Some(secret)) => Some((id, Secret(secret))),
        (None, None) => None,
        _ => {
            return Err(ConfigError::Invalid {
                key: "ServiceNow OAuth client",
                value: "(hidden)".into(),
                origin: src(
                    args.servicenow_client_id.is_some(),
                    "--servicenow-client-id",
                    "TANDEM_SERVICENOW_CLIENT_ID",
                ),
                reason: "give both the client id and the client secret, or neither for Basic auth"
                    .into(),
            });
        }
    };
    let tables_src = src(
        args.servicenow_tables.is_some(),
        "--servicenow-tables",
        "TANDEM_SERVICENOW_TABLES",
    );
    let mut tables: Vec<String> = args
        .servicenow_tables
        .clone()
        .or(file.tables)
        .unwrap_or_else(|| vec!["incident".to_owned()])
        .into_iter()
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .collect();
    let mut seen = std::collections::HashSet::new();
    tables.retain(|t| seen.insert(t.clone()));
    if tables.is_empty() {
        tables.push("incident".to_owned());
    }
    if let Some(bad) = tables.iter().find(|t| {
        !t.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    }) {
        return Err(ConfigError::Invalid {
            key: "ServiceNow table",
            value: bad.clone(),
            origin: tables_src,
            reason:
                "a table name is lower-case letters, digits and _, e.g. incident or sc_req_item"
                    .into(),
        });
    }
    let poll_src = src(
        args.servicenow_poll_secs.is_some(),
        "--servicenow-poll-secs",
        "TANDEM_SERVICENOW_POLL_SECS",
    );
    let poll = args
        .servicenow_poll_secs
        .or(file.poll_interval_secs)
        .unwrap_or(DEFAULT_POLL_SECS);
    if !(1..=3600).contains(&poll) {
        return Err(ConfigError::Invalid {
            key: "ServiceNow poll interval",
            value: poll.to_string(),
            origin: poll_src,
            reason: "choose between 1 and 3600 seconds".into(),
        });
    }
    Ok(Some(ServiceNowConfig {
        instance_url,
        user,
        password: Secret(password),
        oauth,
        tables,
        poll_interval: std::time::Duration::from_secs(poll),
        from_console: false,
    }))
}

/// A TOML error as one line: where, then what.
fn toml_reason(text: &str, e: &toml::de::Error) -> String {
    let message = e.message().trim().replace('\n', " ");
    match e.span() {
        Some(span) => {
            let before = text.get(..span.start).unwrap_or(text);
            let line = before.matches('\n').count() + 1;
            let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            format!("line {line}, column {column}: {message}")
        }
        None => message,
    }
}

fn parse_listen(text: &str) -> Result<SocketAddr, String> {
    text.trim().parse::<SocketAddr>().map_err(|_| {
        "expected IP:PORT, e.g. 127.0.0.1:7341 or 0.0.0.0:8080 (port 0 picks a free port)".into()
    })
}

/// Checks a node URL and returns it without a trailing slash.
pub fn check_node_url(url: &str) -> Result<String, String> {
    let url = url.trim().trim_end_matches('/');
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or("the node URL must start with http:// or https://")?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty() || host.contains(char::is_whitespace) || host.contains('@') {
        return Err("the node URL needs a host, e.g. https://tandem.example.com".into());
    }
    if rest.contains(['?', '#']) {
        return Err("the node URL must not have a query or fragment".into());
    }
    Ok(url.to_owned())
}

pub fn check_name(name: &str) -> Result<(), String> {
    let len = name.trim().chars().count();
    if len == 0 {
        return Err("the name must not be empty".into());
    }
    if len > 100 {
        return Err(format!(
            "the name is too long ({len} characters; at most 100)"
        ));
    }
    if name.chars().any(char::is_control) {
        return Err("the name must not contain control characters".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `tandem serve --help` writes each default in its text (the flags are optional so that
    /// the file and the console can set them): the text must say what the node really does.
    #[test]
    fn serve_help_states_the_real_defaults() {
        use clap::{Args as _, ValueEnum as _};
        let command = ServeArgs::augment_args(clap::Command::new("serve"));
        let stated = |id: &str| -> String {
            let arg = command
                .get_arguments()
                .find(|a| a.get_id() == id)
                .unwrap_or_else(|| panic!("no flag {id}"));
            let help = arg
                .get_long_help()
                .or(arg.get_help())
                .map(ToString::to_string)
                .unwrap_or_default()
                .replace('\n', " ");
            let start = help
                .find("[default: ")
                .unwrap_or_else(|| panic!("--{id} states no default: {help}"))
                + "[default: ".len();
            let end = help[start..].rfind(']').expect("a closing bracket") + start;
            help[start..end].to_owned()
        };
        let defaults = Config::default();
        let name_of = |v: clap::builder::PossibleValue| v.get_name().to_owned();
        assert_eq!(stated("listen"), DEFAULT_LISTEN);
        assert_eq!(defaults.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(stated("data_dir"), DEFAULT_DATA_DIR);
        assert_eq!(defaults.data_dir, PathBuf::from(DEFAULT_DATA_DIR));
        assert!(stated("name").ends_with(&format!("\"{DEFAULT_NODE_NAME}\"")));
        assert!(stated("node_url").ends_with("http://<the address it listens on>"));
        assert_eq!(
            stated("log_format"),
            name_of(LogFormat::default().to_possible_value().unwrap())
        );
        assert_eq!(
            stated("durability"),
            name_of(Durability::default().to_possible_value().unwrap())
        );
        assert_eq!(
            stated("invitation_hours"),
            tandem_protocol::DEFAULT_VALIDITY.as_hours().to_string()
        );
        assert_eq!(stated("verify_every"), "off");
        assert!(defaults.verify_every.is_none());
        assert_eq!(
            stated("servicenow_poll_secs"),
            DEFAULT_POLL_SECS.to_string()
        );
        let resolved = |args: &ServeArgs| {
            let dir = tempfile::tempdir().unwrap();
            let mut args = args.clone();
            args.data_dir = Some(dir.path().to_owned());
            Config::resolve(&args).unwrap()
        };
        let sn = resolved(&ServeArgs {
            servicenow_url: Some("https://acme.service-now.com".into()),
            servicenow_user: Some("proxy".into()),
            servicenow_password: Some("secret".into()),
            ..ServeArgs::default()
        })
        .servicenow
        .unwrap();
        assert_eq!(stated("servicenow_tables"), sn.tables.join(","));
        assert_eq!(
            stated("servicenow_poll_secs"),
            sn.poll_interval.as_secs().to_string()
        );
        assert_eq!(
            stated("allow_private_destinations"),
            defaults.allow_private_destinations.to_string()
        );
        let http = HttpLimits::default();
        assert_eq!(
            stated("header_timeout_secs"),
            http.header_timeout.as_secs().to_string()
        );
        assert_eq!(
            stated("body_timeout_secs"),
            http.body_timeout.as_secs().to_string()
        );
        assert_eq!(stated("max_connections"), http.max_connections.to_string());
        let plain = resolved(&ServeArgs::default());
        assert_eq!(plain.log_format, LogFormat::default());
        assert_eq!(plain.durability, Durability::default());
        assert_eq!(plain.invitation_validity, tandem_protocol::DEFAULT_VALIDITY);
        assert_eq!(plain.http, http);
    }

    fn write_config(dir: &Path, text: &str) -> PathBuf {
        let path = dir.join("custom.toml");
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn servicenow_comes_from_its_table_with_flags_over_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_config(
            dir.path(),
            "[servicenow]\ninstance_url = \"https://acme.service-now.com/\"\nuser = \"proxy\"\n\
             password = \"p\"\ntables = [\"incident\", \"problem\"]\npoll_interval_secs = 30\n",
        );
        let args = ServeArgs {
            config: Some(path.clone()),
            servicenow_user: Some("flag.user".into()),
            ..ServeArgs::default()
        };
        let sn = Config::resolve(&args)
            .unwrap()
            .servicenow
            .expect("configured");
        assert_eq!(sn.instance_url, "https://acme.service-now.com");
        assert_eq!(sn.user, "flag.user");
        assert_eq!(sn.tables, ["incident", "problem"]);
        assert_eq!(sn.poll_interval, std::time::Duration::from_secs(30));
        let repeated = Config::resolve(&ServeArgs {
            config: Some(path.clone()),
            servicenow_tables: Some(vec!["incident".into(), "problem".into(), "incident".into()]),
            ..ServeArgs::default()
        })
        .unwrap()
        .servicenow
        .expect("configured");
        assert_eq!(
            repeated.tables,
            ["incident", "problem"],
            "a table named twice, even apart, is synced once"
        );
        assert_eq!(sn.oauth, None);
        assert!(
            !format!("{sn:?}").contains("\"p\""),
            "the password never shows"
        );

        let none = Config::resolve(&ServeArgs {
            data_dir: Some(dir.path().into()),
            ..ServeArgs::default()
        })
        .unwrap();
        assert_eq!(none.servicenow, None);

        for (args, named) in [
            (
                ServeArgs {
                    servicenow_url: Some("https://x.service-now.com".into()),
                    data_dir: Some(dir.path().into()),
                    ..ServeArgs::default()
                },
                "ServiceNow user",
            ),
            (
                ServeArgs {
                    config: Some(path.clone()),
                    servicenow_tables: Some(vec!["Incident; drop".into()]),
                    ..ServeArgs::default()
                },
                "ServiceNow table",
            ),
            (
                ServeArgs {
                    config: Some(path.clone()),
                    servicenow_poll_secs: Some(0),
                    ..ServeArgs::default()
                },
                "poll interval",
            ),
            (
                ServeArgs {
                    config: Some(path.clone()),
                    servicenow_client_id: Some("only-the-id".into()),
                    ..ServeArgs::default()
                },
                "OAuth client",
            ),
        ] {
            let err = Config::resolve(&args).unwrap_err().to_string();
            assert!(err.contains(named), "{err}");
        }
    }

    #[test]
    fn flags_beat_the_file_which_beats_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_config(
            dir.path(),
            "listen = \"127.0.0.1:9000\"\nname = \"From file\"\nlog_format = \"json\"\n",
        );
        let args = ServeArgs {
            config: Some(path),
            name: Some("From flag".into()),
            ..ServeArgs::default()
        };
        let config = Config::resolve(&args).unwrap();
        assert_eq!(config.listen.port(), 9000);
        assert_eq!(config.name.as_deref(), Some("From flag"));
        assert_eq!(config.log_format, LogFormat::Json);
        assert_eq!(config.durability, Durability::Full);
    }

    #[test]
    fn unknown_keys_and_bad_values_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_config(dir.path(), "lisen = \"x\"\n");
        let err = Config::resolve(&ServeArgs {
            config: Some(path.clone()),
            ..ServeArgs::default()
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains("unknown field `lisen`"), "{err}");
        assert!(err.contains("custom.toml"), "{err}");

        let err = Config::resolve(&ServeArgs {
            listen: Some("localhost".into()),
            data_dir: Some(dir.path().into()),
            ..ServeArgs::default()
        })
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            "invalid listen address 'localhost' (from --listen or TANDEM_LISTEN): expected IP:PORT, e.g. 127.0.0.1:7341 or 0.0.0.0:8080 (port 0 picks a free port)"
        );
    }

    #[test]
    fn the_metrics_address_is_off_unless_set_and_a_bad_one_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let base = ServeArgs {
            data_dir: Some(dir.path().into()),
            ..ServeArgs::default()
        };
        assert_eq!(Config::resolve(&base).unwrap().metrics_listen, None);
        let path = write_config(dir.path(), "metrics_listen = \"127.0.0.1:9100\"\n");
        let from_file = Config::resolve(&ServeArgs {
            config: Some(path),
            ..base.clone()
        })
        .unwrap();
        assert_eq!(
            from_file.metrics_listen,
            Some("127.0.0.1:9100".parse().unwrap())
        );
        let err = Config::resolve(&ServeArgs {
            metrics_listen: Some("9100".into()),
            ..base
        })
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with(
                "invalid metrics listen address '9100' (from --metrics-listen or TANDEM_METRICS_LISTEN)"
            ),
            "{err}"
        );
    }

    #[test]
    fn admin_secrets_come_from_files_without_their_line_ending() {
        let dir = tempfile::tempdir().unwrap();
        let (password, token) = (dir.path().join("password"), dir.path().join("token"));
        std::fs::write(&password, "hunter22hunter22\n").unwrap();
        std::fs::write(&token, "a-token-of-enough-length\r\n").unwrap();
        let config = Config::resolve(&ServeArgs {
            data_dir: Some(dir.path().into()),
            admin_password_file: Some(password.clone()),
            admin_token_file: Some(token),
            ..ServeArgs::default()
        })
        .unwrap();
        assert_eq!(
            config.admin_password.as_ref().map(Secret::expose),
            Some("hunter22hunter22")
        );
        assert_eq!(
            config.admin_token.as_ref().map(Secret::expose),
            Some("a-token-of-enough-length")
        );
        std::fs::write(&password, "short\n").unwrap();
        let err = Config::resolve(&ServeArgs {
            data_dir: Some(dir.path().into()),
            admin_password_file: Some(password.clone()),
            ..ServeArgs::default()
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains("--admin-password-file"), "{err}");
        let err = Config::resolve(&ServeArgs {
            data_dir: Some(dir.path().into()),
            admin_password_file: Some(dir.path().join("missing")),
            ..ServeArgs::default()
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains("missing"), "{err}");
    }

    #[test]
    fn http_limits_come_from_flags_over_the_file_and_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_config(
            dir.path(),
            "header_timeout_secs = 5\nbody_timeout_secs = 20\nmax_connections = 64\n",
        );
        let limits = Config::resolve(&ServeArgs {
            config: Some(path.clone()),
            max_connections: Some(128),
            ..ServeArgs::default()
        })
        .unwrap()
        .http;
        assert_eq!(limits.header_timeout, Duration::from_secs(5));
        assert_eq!(limits.body_timeout, Duration::from_secs(20));
        assert_eq!(limits.max_connections, 128);
        let defaults = Config::resolve(&ServeArgs {
            data_dir: Some(dir.path().into()),
            ..ServeArgs::default()
        })
        .unwrap()
        .http;
        assert_eq!(defaults, HttpLimits::default());
        assert_eq!(defaults.header_timeout, Duration::from_secs(10));

        for (args, named) in [
            (
                ServeArgs {
                    config: Some(path.clone()),
                    header_timeout_secs: Some(0),
                    ..ServeArgs::default()
                },
                "invalid header timeout '0' (from --header-timeout-secs",
            ),
            (
                ServeArgs {
                    config: Some(path.clone()),
                    body_timeout_secs: Some(61),
                    ..ServeArgs::default()
                },
                "invalid body timeout '61'",
            ),
            (
                ServeArgs {
                    config: Some(path.clone()),
                    max_connections: Some(0),
                    ..ServeArgs::default()
                },
                "invalid connection limit '0'",
            ),
        ] {
            let err = Config::resolve(&args).unwrap_err().to_string();
            assert!(err.starts_with(named), "{err}");
        }
    }

    #[test]
    fn a_missing_explicit_config_file_is_an_error() {
        let err = Config::resolve(&ServeArgs {
            config: Some("/nonexistent/tandem.toml".into()),
            ..ServeArgs::default()
        })
        .unwrap_err();
        assert!(matches!(err, ConfigError::Read { .. }));
    }

    #[test]
    fn a_license_public_key_must_be_a_key() {
        let err = Config::resolve(&ServeArgs {
            license_public_key: Some("not-a-key".into()),
            data_dir: Some(tempfile::tempdir().unwrap().path().into()),
            ..ServeArgs::default()
        })
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("invalid license public key 'not-a-key' (from --license-public-key or TANDEM_LICENSE_PUBLIC_KEY)"),
            "{err}"
        );
    }

    #[test]
    fn node_urls_are_checked_and_trimmed() {
        assert_eq!(
            check_node_url("https://a.example/").unwrap(),
            "https://a.example"
        );
        assert!(check_node_url("ftp://a").is_err());
        assert!(check_node_url("http://").is_err());
        assert!(check_node_url("http://a?b").is_err());
    }

    #[test]
    fn secrets_are_not_printed() {
        let config = Config {
            admin_password: Some(Secret::new("hunter22hunter22")),
            ..Config::default()
        };
        assert!(!format!("{config:?}").contains("hunter22"));
    }

    #[test]
    fn a_verify_interval_is_a_number_and_a_unit_within_bounds() {
        assert_eq!(parse_interval("6h"), Ok(Duration::from_secs(6 * 3600)));
        assert_eq!(parse_interval(" 30m "), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_interval("1d"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_interval("120s"), Ok(Duration::from_secs(120)));
        for bad in [
            "",
            "6",
            "h",
            "6x",
            "-1h",
            "10s",
            "31d",
            "99999999999999999999d",
        ] {
            assert!(parse_interval(bad).is_err(), "{bad} must be refused");
        }
    }
}
