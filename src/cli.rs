//! The subcommands: `serve`, `demo`, `token`, `connection`, `sync`, `script`, `license`,
//! `emulate`.

mod connection;
mod node_client;
mod output;
mod sync;
mod token;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tandem_node::config::{Config, LogFormat, ServeArgs};
use tandem_node::demo::{self, DemoSide};
use tandem_node::{NodeError, auth};

#[derive(Debug, Parser)]
#[command(
    name = "tandem",
    version,
    about = "Tandem keeps work items in sync between trackers of different teams and companies.",
    long_about = None,
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a node: HTTP API and web console on the embedded database
    // Boxed: the flags are many, the other commands small.
    Serve(Box<ServeArgs>),
    /// Run two demo nodes in this process, each with its own seeded tracker
    Demo(DemoArgs),
    /// Create, list and revoke API tokens: through a running node's API (with --token), or in
    /// the database of a stopped node
    Token(token::TokenArgs),
    /// Make, accept, list and manage the connections of a running node (over its HTTP API)
    Connection(connection::ConnectionArgs),
    /// Bring items under sync, see their twins and sync errors, run a Bulk Exalate (over a running
    /// node's HTTP API)
    Sync(sync::SyncArgs),
    /// Try sync scripts before they go live: check, run, time
    #[command(subcommand)]
    Script(ScriptCommand),
    /// For the operator who sells licenses: make a vendor key pair, issue license keys
    #[command(subcommand)]
    License(LicenseCommand),
    /// Run a local emulator of a tracker's REST API (a test and demo tool)
    #[command(subcommand)]
    Emulate(EmulateCommand),
}

#[derive(Debug, Subcommand)]
enum EmulateCommand {
    /// Run a local ServiceNow emulator (a test and demo tool, not ServiceNow)
    Servicenow(tandem_emulators::servicenow::EmulateServiceNowArgs),
    /// Run a local Jira emulator (a test and demo tool, not Jira)
    Jira(tandem_emulators::jira::EmulateJiraArgs),
}

#[derive(Debug, Subcommand)]
enum LicenseCommand {
    /// Make a vendor key pair: the secret half issues licenses, nodes trust the public half
    Keygen,
    /// Issue a license key (printed alone on stdout)
    Issue {
        /// The vendor secret key from `tandem license keygen`
        #[arg(long, env = "TANDEM_VENDOR_KEY", hide_env_values = true)]
        vendor_key: String,
        /// Who the license is for
        #[arg(long)]
        licensee: String,
        /// Last day of the license, e.g. 2027-12-31 (default: never expires)
        #[arg(long, value_name = "DATE")]
        expires: Option<jiff::civil::Date>,
        /// Limit of new twins a month (default: unlimited)
        #[arg(long, value_name = "N")]
        max_new_twins: Option<u32>,
    },
}

#[derive(Debug, Subcommand)]
enum ScriptCommand {
    /// Parse a script; exit 0 when it parses, else print the error and exit 1
    Check {
        /// The Groovy script
        file: PathBuf,
    },
    /// Run a script and print {"result", "stdout", "variables"} (or {"error", …}, exit 1)
    Run {
        /// The Groovy script
        file: PathBuf,
        /// JSON object whose keys become the script's variables
        #[arg(long, value_name = "VARS.json")]
        input: Option<PathBuf>,
    },
    /// Time an outgoing/incoming rule pair on an item, compiled once and parsed each time
    Bench {
        outgoing: PathBuf,
        incoming: PathBuf,
        /// JSON with the item as `issue`
        #[arg(long, value_name = "ITEM.json")]
        input: PathBuf,
        /// Timed runs (after as many warm-up runs)
        #[arg(short, default_value_t = 10_000)]
        n: usize,
    },
}

#[derive(Debug, clap::Args)]
struct DemoArgs {
    /// Keep the two nodes' data under DIR/service-desk and DIR/engineering (default: temporary
    /// directories, removed on exit)
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Console password of user `admin` on both nodes (default: a random one, printed)
    #[arg(long, env = "TANDEM_ADMIN_PASSWORD", hide_env_values = true)]
    admin_password: Option<String>,
    /// Log format
    #[arg(long, value_enum, default_value = "text")]
    log_format: LogFormat,
}

#[derive(Debug, clap::Args)]
pub(crate) struct NodeDirArgs {
    /// The node's data directory [default: ./tandem-data]
    #[arg(long, env = "TANDEM_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// The node's TOML configuration file
    #[arg(long, env = "TANDEM_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// An error to print as one line, with the exit code it stands for.
#[derive(Debug)]
pub struct Failure {
    pub message: String,
    pub code: u8,
}

impl Failure {
    fn setup(e: impl std::fmt::Display) -> Self {
        Failure {
            message: e.to_string(),
            code: 2,
        }
    }
}

impl From<NodeError> for Failure {
    fn from(e: NodeError) -> Self {
        let code = match e {
            NodeError::Internal(_) => 1,
            _ => 2,
        };
        Failure {
            message: e.to_string(),
            code,
        }
    }
}

pub fn run(cli: Cli) -> Result<ExitCode, Failure> {
    match cli.command {
        Command::Serve(args) => {
            let config = Config::resolve(&args).map_err(Failure::setup)?;
            init_logging(config.log_format);
            runtime()?.block_on(serve(config))
        }
        Command::Demo(args) => {
            init_logging(args.log_format);
            runtime()?.block_on(run_demo(args))
        }
        Command::Token(args) => runtime()?.block_on(token::run(args)),
        Command::Connection(args) => connection::run(args),
        Command::Sync(args) => sync::run(args),
        Command::Script(command) => script(command),
        Command::License(command) => license(command),
        Command::Emulate(EmulateCommand::Servicenow(args)) => {
            init_logging(LogFormat::Text);
            runtime()?.block_on(emulate_servicenow(args))
        }
        Command::Emulate(EmulateCommand::Jira(args)) => {
            init_logging(LogFormat::Text);
            runtime()?.block_on(emulate_jira(args))
        }
    }
}

async fn emulate_servicenow(
    args: tandem_emulators::servicenow::EmulateServiceNowArgs,
) -> Result<ExitCode, Failure> {
    use tandem_emulators::servicenow::EmulatorError;
    match tandem_emulators::servicenow::run(args).await {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e @ (EmulatorError::Bind { .. } | EmulatorError::Config(_))) => Err(Failure::setup(e)),
        Err(e) => Err(Failure {
            message: e.to_string(),
            code: 1,
        }),
    }
}

async fn emulate_jira(args: tandem_emulators::jira::EmulateJiraArgs) -> Result<ExitCode, Failure> {
    use tandem_emulators::jira::EmulatorError;
    match tandem_emulators::jira::run(args).await {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e @ (EmulatorError::Bind { .. } | EmulatorError::Config(_))) => Err(Failure::setup(e)),
        Err(e) => Err(Failure {
            message: e.to_string(),
            code: 1,
        }),
    }
}

fn license(command: LicenseCommand) -> Result<ExitCode, Failure> {
    use tandem_protocol::license::{
        LicenseKey, LicensedPlan, generate_vendor_keypair, issue_license, parse_vendor_signing_key,
    };
    match command {
        LicenseCommand::Keygen => {
            let pair = generate_vendor_keypair().map_err(Failure::setup)?;
            println!("vendor secret key (keep it private; it issues licenses):");
            println!("  {}", pair.secret);
            println!("vendor public key (start nodes with --license-public-key KEY):");
            println!("  {}", pair.public);
        }
        LicenseCommand::Issue {
            vendor_key,
            licensee,
            expires,
            max_new_twins,
        } => {
            let vendor = parse_vendor_signing_key(&vendor_key).map_err(Failure::setup)?;
            let expires_at = expires
                .map(|day| {
                    // The license holds through the whole of its last day, UTC.
                    let next = day
                        .tomorrow()
                        .map_err(|e| Failure::setup(format!("invalid --expires: {e}")))?;
                    jiff::tz::TimeZone::UTC
                        .to_timestamp(next.to_datetime(jiff::civil::Time::midnight()))
                        .map_err(|e| Failure::setup(format!("invalid --expires: {e}")))
                })
                .transpose()?;
            let key = issue_license(
                &vendor,
                &LicenseKey {
                    licensee,
                    plan: LicensedPlan::Paid,
                    issued_at: jiff::Timestamp::now(),
                    expires_at,
                    max_new_twins_per_month: max_new_twins,
                },
            )
            .map_err(Failure::setup)?;
            println!("{key}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn read_file(path: &std::path::Path) -> Result<String, Failure> {
    std::fs::read_to_string(path)
        .map_err(|e| Failure::setup(format!("cannot read {}: {e}", path.display())))
}

fn read_json(path: &std::path::Path) -> Result<serde_json::Value, Failure> {
    serde_json::from_str(&read_file(path)?)
        .map_err(|e| Failure::setup(format!("{} is not valid JSON: {e}", path.display())))
}

fn script(command: ScriptCommand) -> Result<ExitCode, Failure> {
    match command {
        ScriptCommand::Check { file } => {
            let source = read_file(&file)?;
            match tandem_script::playground::check(&source, &file.display().to_string()) {
                Ok(()) => Ok(ExitCode::SUCCESS),
                Err(rendered) => {
                    eprintln!("{rendered}");
                    Ok(ExitCode::from(1))
                }
            }
        }
        ScriptCommand::Run { file, input } => {
            let source = read_file(&file)?;
            let input = input.as_deref().map(read_json).transpose()?;
            let (output, failed) = tandem_script::playground::run(&source, input);
            let text = serde_json::to_string_pretty(&output)
                .map_err(|e| Failure::setup(format!("cannot print the result: {e}")))?;
            println!("{text}");
            Ok(if failed {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        ScriptCommand::Bench {
            outgoing,
            incoming,
            input,
            n,
        } => {
            let report = tandem_script::playground::bench(
                &read_file(&outgoing)?,
                &read_file(&incoming)?,
                read_json(&input)?,
                n,
            )
            .map_err(|e| Failure {
                message: e,
                code: 1,
            })?;
            println!("{report}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::setup(format!("cannot start the async runtime: {e}")))
}

/// Logs go to stderr; colours only when it is a terminal (a journal, a file or a pipe gets
/// plain text) and `NO_COLOR` is not set.
fn init_logging(format: LogFormat) {
    use std::io::IsTerminal as _;
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("TANDEM_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,tower_http=warn"));
    let colour = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

async fn serve(config: Config) -> Result<ExitCode, Failure> {
    let data_dir = config.data_dir.clone();
    let node = tandem_node::start(config).await?;
    let cancel = node.cancel_token();
    stop_on_signal(move || cancel.cancel())?;
    println!("Tandem node listening on {}", node.local_url());
    println!("Console: {}", node.url());
    if let Some(link) = &node.setup_link {
        // The link makes its holder admin: on a terminal it is shown, but a service's output
        // usually ends up in a log others can read, so there it stays in its 0600 file.
        use std::io::IsTerminal as _;
        println!();
        if std::io::stdout().is_terminal() {
            println!("No administrator yet. Open this one-time link to choose the admin password:");
            println!("  {link}");
        } else {
            println!(
                "No administrator yet. The one-time link to choose the admin password is in {} (readable by this user only).",
                data_dir.join(tandem_node::auth::SETUP_LINK_FILE).display()
            );
        }
        println!();
    }
    node.wait().await?;
    tracing::info!("Node stopped.");
    Ok(ExitCode::SUCCESS)
}

/// How long a graceful stop may take (requests in flight, the loops' last rounds, the
/// database's last writes) before the process ends anyway.
const STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// Ends the process after `grace`, whatever holds the graceful stop up — a request that never
/// ends, a disk that hangs or is full. A thread of its own, so that nothing the async runtime
/// waits for can hold it.
fn exit_after(grace: std::time::Duration) {
    let spawned = std::thread::Builder::new()
        .name("tandem-stop-deadline".into())
        .spawn(move || {
            std::thread::sleep(grace);
            tracing::error!(
                seconds = grace.as_secs(),
                "The graceful stop did not finish in time; stopping now."
            );
            std::process::exit(1);
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "Cannot bound the graceful stop; it may take longer.");
    }
}

/// Registers SIGINT (Ctrl-C) and SIGTERM before the node says it is ready — so a signal that
/// comes right after start still stops it gracefully — and runs `stop` on the first of them.
fn stop_on_signal(stop: impl FnOnce() + Send + 'static) -> Result<(), Failure> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let register = |kind| {
            signal(kind).map_err(|e| Failure::setup(format!("cannot listen for signals: {e}")))
        };
        let mut interrupt = register(SignalKind::interrupt())?;
        let mut terminate = register(SignalKind::terminate())?;
        tokio::spawn(async move {
            tokio::select! {
                _ = interrupt.recv() => {},
                _ = terminate.recv() => {},
            }
            tracing::info!("Shutting down: finishing requests in flight.");
            exit_after(STOP_GRACE);
            stop();
            // A second signal: the operator does not want to wait.
            tokio::select! {
                _ = interrupt.recv() => {},
                _ = terminate.recv() => {},
            }
            tracing::warn!("Stopping now: a second signal came before the graceful stop finished.");
            std::process::exit(1);
        });
    }
    #[cfg(not(unix))]
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        stop();
    });
    Ok(())
}

async fn run_demo(args: DemoArgs) -> Result<ExitCode, Failure> {
    let password = match args.admin_password {
        Some(p) => p,
        None => auth::random_token()?.chars().take(12).collect(),
    };
    // The service desk works in ServiceNow: an emulated instance in this process (a demo
    // tool, not ServiceNow) with three incidents, which node A serves through the connector.
    let proxy_password = auth::random_token()?;
    let mut emulator = tandem_emulators::servicenow::EmulatorConfig::new(
        "127.0.0.1:0".parse().expect("a valid address"),
    );
    emulator
        .users
        .push(tandem_emulators::servicenow::EmulatorUser {
            user_name: DemoSide::ServiceDesk.admin_user().into(),
            password: password.clone(),
            name: DemoSide::ServiceDesk.admin_name().into(),
        });
    emulator = emulator.with_user(demo::DEMO_PROXY_USER, &proxy_password);
    emulator.seed_demo = true;
    let instance = tandem_emulators::servicenow::start(emulator)
        .await
        .map_err(|e| Failure::setup(format!("the emulated ServiceNow could not start: {e}")))?;
    let instance_url = instance.base_url();
    // Temporary directories live as long as this function: removed when the demo stops.
    let mut temp_dirs = Vec::new();
    let mut nodes = Vec::new();
    for (side, dir_name, name) in [
        (DemoSide::ServiceDesk, "service-desk", "Service Desk (demo)"),
        (DemoSide::Engineering, "engineering", "Engineering (demo)"),
    ] {
        let data_dir = match &args.data_dir {
            Some(root) => root.join(dir_name),
            None => {
                let dir = tempfile::Builder::new()
                    .prefix(&format!("tandem-demo-{dir_name}-"))
                    .tempdir()
                    .map_err(|e| {
                        Failure::setup(format!("cannot create a temporary directory: {e}"))
                    })?;
                let path = dir.path().to_owned();
                temp_dirs.push(dir);
                path
            }
        };
        let servicenow = matches!(side, DemoSide::ServiceDesk).then(|| {
            tandem_node::config::ServiceNowConfig {
                instance_url: instance_url.clone(),
                user: demo::DEMO_PROXY_USER.into(),
                password: tandem_node::config::Secret::new(proxy_password.clone()),
                oauth: None,
                tables: vec!["incident".into()],
                // Quicker than the default 10 s, so changes show while you watch.
                poll_interval: std::time::Duration::from_secs(2),
                from_console: false,
            }
        });
        let config = Config {
            listen: "127.0.0.1:0".parse().expect("a valid address"),
            data_dir,
            name: Some(name.into()),
            admin_password: Some(tandem_node::config::Secret::new(password.clone())),
            admin_user: Some(side.admin_user().into()),
            servicenow,
            // Both demo nodes and the emulated instance live on loopback.
            allow_private_destinations: true,
            ..Config::default()
        };
        let node = tandem_node::start(config).await?;
        if matches!(side, DemoSide::Engineering) {
            let created = demo::seed(node.state.store(), side)
                .await
                .map_err(|e| Failure::from(NodeError::from(e)))?;
            tracing::info!(node = name, items = created, "Demo tracker seeded.");
        }
        nodes.push((name, node));
    }
    let tokens: Vec<_> = nodes.iter().map(|(_, n)| n.cancel_token()).collect();
    stop_on_signal(move || tokens.iter().for_each(|t| t.cancel()))?;
    let connected = demo::connect(&nodes[0].1.state, &nodes[1].1.state)
        .await
        .map_err(|e| Failure::setup(format!("the demo nodes could not connect: {e}")))?;
    let (from_desk, from_engineering) = demo::start_sync(&nodes[0].1.state, &nodes[1].1.state)
        .await
        .map_err(|e| Failure::setup(format!("the demo could not start syncing: {e}")))?;
    println!();
    println!("Tandem demo: two nodes are running.");
    for (name, node) in &nodes {
        println!("  {name:<22} {}", node.url());
    }
    println!(
        "  {:<22} {instance_url}  (emulated: a demo tool, not ServiceNow; it keeps nothing)",
        "ServiceNow (incidents)"
    );
    println!();
    println!(
        "The service desk node serves the ServiceNow incidents; the engineering node its built-in tracker."
    );
    match connected {
        Some(c) => println!(
            "They are connected: the service desk initiated connection '{}' ({} mode) and the engineering node accepted its invitation code. See Connections in either console.",
            c.name, c.mode
        ),
        None => println!(
            "They are connected by '{}' (made on an earlier run). See Connections in either console.",
            demo::DEMO_CONNECTION
        ),
    }
    if from_desk + from_engineering > 0 {
        println!(
            "Items labelled 'sync' are under sync: {from_engineering} from engineering, and every incident: {from_desk} from the service desk (Sync → Triggers)."
        );
    }
    println!(
        "Sign in to the service desk as '{}' ({}) and to engineering as '{}' ({}), both with password '{password}'.",
        DemoSide::ServiceDesk.admin_user(),
        DemoSide::ServiceDesk.admin_name(),
        DemoSide::Engineering.admin_user(),
        DemoSide::Engineering.admin_name(),
    );
    println!();
    let desk = DemoSide::ServiceDesk.admin_user();
    println!("Open an incident in ServiceNow; it appears in Engineering within seconds:");
    println!(
        "  curl -u '{desk}:{password}' -H 'Content-Type: application/json' -X POST {instance_url}/api/now/table/incident -d '{{\"short_description\":\"Printer on fire\",\"urgency\":\"1\",\"impact\":\"1\"}}'"
    );
    println!("Comment on its item in Engineering, then read the incident's comments:");
    println!(
        "  curl -u '{desk}:{password}' '{instance_url}/api/now/table/sys_journal_field?sysparm_query=name=incident^ORDERBYDESCsys_created_on&sysparm_limit=5'"
    );
    match &args.data_dir {
        Some(dir) => println!("Data is kept in {}.", dir.display()),
        None => println!("Data is temporary: it is removed when the demo stops."),
    }
    println!("Press Ctrl-C to stop.");
    for (_, node) in nodes {
        node.wait().await?;
    }
    let _ = instance.shutdown().await;
    drop(temp_dirs);
    Ok(ExitCode::SUCCESS)
}
