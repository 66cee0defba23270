//! `tandem connection …`: make, accept, list and manage the connections of a running node through
//! its HTTP API (`client.rs`). This file holds the arguments and what is printed; secrets
//! (the API token, invitation codes) are sent, never printed or logged.

mod client;

use std::io::Read;
use std::process::ExitCode;

use reqwest::Url;

use self::client::{Accept, Connection, Initiate, Mode, Role, Status};
use super::Failure;
use super::node_client::{NodeArgs, NodeClient, failed, shown};
use super::output::{aligned, when};

#[derive(Debug, clap::Args)]
pub struct ConnectionArgs {
    #[command(flatten)]
    target: NodeArgs,
    #[command(subcommand)]
    command: ConnectionCommand,
}

#[derive(Debug, clap::Subcommand)]
enum ConnectionCommand {
    /// Make a connection and print its invitation code (alone on stdout) for the other node
    Initiate(InitiateArgs),
    /// Accept another node's invitation code
    Accept {
        /// The invitation code; `-` reads it from stdin
        code: String,
        /// Short name of this side (default: the one the code proposes)
        #[arg(long, value_name = "A")]
        local_name: Option<String>,
        /// Short name of the other side (default: the one the code proposes)
        #[arg(long, value_name = "B")]
        remote_name: Option<String>,
        /// The project new items from the other side are created in on this node
        /// [default: the node's only project, if it has exactly one]
        #[arg(long, value_name = "KEY")]
        target_project: Option<String>,
    },
    /// Choose the project new items from the other side are created in (any mode)
    Target {
        /// Connection name or id
        #[arg(value_parser = clap::builder::NonEmptyStringValueParser::new())]
        name: String,
        /// A project key of this node, e.g. ENG
        #[arg(value_name = "KEY", required_unless_present = "none")]
        project: Option<String>,
        /// Choose none: new items from the other side wait with an error that says so
        #[arg(long, conflicts_with = "project")]
        none: bool,
    },
    /// List the node's connections
    List {
        /// Print the API's `connections` array as JSON instead of a table
        #[arg(long)]
        json: bool,
    },
    /// Resume syncing a connection
    Activate {
        /// Connection name or id
        #[arg(value_parser = clap::builder::NonEmptyStringValueParser::new())]
        name: String,
    },
    /// Pause syncing a connection; changes wait until it is activated again
    Deactivate {
        /// Connection name or id
        #[arg(value_parser = clap::builder::NonEmptyStringValueParser::new())]
        name: String,
    },
    /// Make a new invitation code for a Pending connection (alone on stdout); the old one stops working
    NewCode {
        /// Connection name or id
        #[arg(value_parser = clap::builder::NonEmptyStringValueParser::new())]
        name: String,
    },
    /// Delete a connection and tell the remote node when it can be reached
    Delete {
        /// Connection name or id
        #[arg(value_parser = clap::builder::NonEmptyStringValueParser::new())]
        name: String,
    },
}

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("destination").required(true).args(["to", "private"])))]
struct InitiateArgs {
    /// URL of the other node (this node's own URL makes a local connection between two projects)
    #[arg(long, value_name = "URL")]
    to: Option<String>,
    /// The other node's URL stays unknown (it cannot be reached from here): it calls this node
    #[arg(long)]
    private: bool,
    /// How the sync rules are written
    #[arg(long, value_enum)]
    mode: Mode,
    /// Short name of this side, e.g. acme
    #[arg(long, value_name = "A")]
    local_name: String,
    /// Short name of the other side, e.g. globex
    #[arg(long, value_name = "B")]
    remote_name: String,
    /// Connection name [default: A_to_B]
    #[arg(long, value_name = "N")]
    name: Option<String>,
    /// What the connection is for
    #[arg(long, value_name = "D")]
    description: Option<String>,
    /// How long the invitation code stays valid, in hours [default: the node's]
    #[arg(long, value_name = "H")]
    valid_hours: Option<u32>,
    /// The project new items from the other side are created in on this node
    /// [default: the node's only project, if it has exactly one]
    #[arg(long, value_name = "KEY")]
    target_project: Option<String>,
}

pub fn run(args: ConnectionArgs) -> Result<ExitCode, Failure> {
    let client = args.target.client()?;
    let mut command = args.command;
    // Read stdin before anything else so that a missing code is a usage error, not a request.
    if let ConnectionCommand::Accept { code, .. } = &mut command {
        *code = read_code(code, std::io::stdin().lock())?;
    }
    super::runtime()?.block_on(send(&client, &args.target.node, command))
}

async fn send(
    client: &NodeClient,
    node: &Url,
    command: ConnectionCommand,
) -> Result<ExitCode, Failure> {
    match command {
        ConnectionCommand::Initiate(args) => {
            let initiated = client
                .initiate(&Initiate {
                    to: args.to,
                    private: args.private,
                    mode: args.mode,
                    local_name: args.local_name,
                    remote_name: args.remote_name,
                    name: args.name,
                    description: args.description,
                    valid_hours: args.valid_hours,
                    target_project: args.target_project,
                })
                .await
                .map_err(failed)?;
            match &initiated.invitation_code {
                Some(code) => {
                    println!("{code}");
                    eprintln!("{}", pending(&initiated.connection));
                }
                None => eprintln!("{}", local(&initiated.connection)),
            }
        }
        ConnectionCommand::Accept {
            code,
            local_name,
            remote_name,
            target_project,
        } => {
            let accept = Accept {
                code,
                local_name,
                remote_name,
                target_project,
            };
            let connection = client.accept(&accept).await.map_err(failed)?;
            println!("{}", accepted(&connection));
            if connection.target_project.is_some() {
                println!("{}", target_sentence(&connection));
            }
        }
        ConnectionCommand::Target {
            name,
            project,
            none: _,
        } => {
            let connection = client
                .set_target(&name, project.as_deref())
                .await
                .map_err(failed)?;
            println!("{}", target_sentence(&connection));
        }
        ConnectionCommand::List { json } => {
            let listed = client.list().await.map_err(failed)?;
            if json {
                let text = serde_json::to_string_pretty(&listed.raw)
                    .map_err(|e| Failure::setup(format!("cannot print the answer: {e}")))?;
                println!("{text}");
            } else if listed.connections.is_empty() {
                eprintln!("No connections on the node at {}.", shown(node));
            } else {
                print!("{}", table(&listed.connections));
            }
        }
        ConnectionCommand::Activate { name } => {
            let connection = client.set_active(&name, true).await.map_err(failed)?;
            println!("{}", standing(&connection));
        }
        ConnectionCommand::Deactivate { name } => {
            let connection = client.set_active(&name, false).await.map_err(failed)?;
            println!("{}", standing(&connection));
        }
        ConnectionCommand::NewCode { name } => {
            let issued = client.new_code(&name).await.map_err(failed)?;
            if let Some(code) = &issued.invitation_code {
                println!("{code}");
            }
            eprintln!(
                "{} The code made before no longer works.",
                pending(&issued.connection)
            );
        }
        ConnectionCommand::Delete { name } => {
            let deleted = client.delete(&name).await.map_err(failed)?;
            let sentence = if deleted.never_accepted {
                format!(
                    "Deleted connection {}; it was never accepted, so the other node has nothing to remove, and its invitation code no longer works.",
                    deleted.deleted
                )
            } else {
                deleted_sentence(&deleted.deleted, deleted.remote_told)
            };
            println!("{sentence}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The invitation code from the argument, or from `stdin` when the argument is `-`; trimmed, as
/// a paste often brings a newline or spaces along.
fn read_code(arg: &str, mut stdin: impl Read) -> Result<String, Failure> {
    let code = if arg == "-" {
        let mut text = String::new();
        stdin.read_to_string(&mut text).map_err(|e| {
            Failure::setup(format!("cannot read the invitation code from stdin: {e}"))
        })?;
        text
    } else {
        arg.to_owned()
    };
    let code = code.trim();
    if code.is_empty() {
        let source = if arg == "-" { "stdin" } else { "the argument" };
        return Err(Failure::setup(format!(
            "no invitation code in {source}: paste the code the other node's admin sent you"
        )));
    }
    Ok(code.to_owned())
}

fn status_word(status: Status) -> &'static str {
    match status {
        Status::Pending => "pending",
        Status::Active => "active",
        Status::Deactivated => "deactivated",
        Status::Error => "in error",
    }
}

fn mode_word(mode: Mode) -> &'static str {
    match mode {
        Mode::Basic => "basic",
        Mode::Script => "script",
    }
}

/// What the node knows of the other side: `Globex (https://globex.example)`,
/// `Globex (private)`, `this node` for a local connection, `None` before anyone accepted.
fn remote_label(connection: &Connection) -> Option<String> {
    if connection.role == Role::Local {
        return Some("this node".into());
    }
    let remote = connection.remote.as_ref()?;
    Some(match &remote.url {
        Some(url) => format!("{} ({url})", remote.name),
        None => format!("{} (private)", remote.name),
    })
}

/// The status as a clause, with the reason when the node gives one.
fn status_clause(connection: &Connection) -> String {
    let mut clause = status_word(connection.status).to_owned();
    if connection.remote_paused && connection.status == Status::Active {
        clause.push_str(" (paused by the remote node)");
    }
    if let Some(reason) = connection
        .status_reason
        .as_deref()
        .filter(|r| !r.is_empty())
    {
        clause.push_str(": ");
        clause.push_str(reason);
    }
    clause
}

fn pending(connection: &Connection) -> String {
    let mut sentence = format!(
        "Connection {} is {}: send this code to the other node's admin",
        connection.name,
        status_word(connection.status)
    );
    if let Some(invitation) = &connection.invitation {
        sentence.push_str(&format!("; it expires {}", when(invitation.expires)));
    }
    sentence.push('.');
    sentence
}

fn local(connection: &Connection) -> String {
    format!(
        "Local connection {} is {}: both sides are on this node, so there is no invitation code.",
        connection.name,
        status_clause(connection)
    )
}

fn accepted(connection: &Connection) -> String {
    let remote = match &connection.remote {
        Some(remote) => format!(
            "{} ({})",
            remote.name,
            remote.url.as_deref().unwrap_or("URL unknown: private")
        ),
        None => "the other node".into(),
    };
    format!(
        "Connection {} is {}: connected to {remote}.",
        connection.name,
        status_clause(connection)
    )
}

/// Where new items from the other side go, or what is missing.
fn target_sentence(connection: &Connection) -> String {
    match &connection.target_project {
        Some(project) => format!(
            "New items from {} go to project {project} on this node.",
            connection_remote(connection)
        ),
        None => format!(
            "No target project: new items from {} wait with an error until one is chosen \
             (tandem connection target {} KEY).",
            connection_remote(connection),
            connection.name
        ),
    }
}

fn connection_remote(connection: &Connection) -> String {
    connection
        .remote
        .as_ref()
        .map_or_else(|| "the other side".to_owned(), |r| r.name.clone())
}

fn standing(connection: &Connection) -> String {
    format!(
        "Connection {} is {}.",
        connection.name,
        status_clause(connection)
    )
}

fn deleted_sentence(name: &str, remote_told: bool) -> String {
    if remote_told {
        format!("Deleted connection {name}; the remote node was told.")
    } else {
        format!(
            "Deleted connection {name}; the remote node was not told: if it has this connection, ask its admin to delete it there too."
        )
    }
}

/// The `list` table: a header and one row per connection, columns aligned, `-` where there is
/// nothing to show.
fn table(connections: &[Connection]) -> String {
    let header = ["NAME", "MODE", "STATUS", "REMOTE", "TWINS", "LAST SYNC"].map(String::from);
    let rows = connections.iter().map(|c| {
        let mut status = status_word(c.status).to_owned();
        if c.remote_paused && c.status == Status::Active {
            status.push_str(" (remote paused)");
        }
        [
            c.name.clone(),
            mode_word(c.mode).into(),
            status,
            remote_label(c).unwrap_or_else(|| "-".into()),
            c.twins.to_string(),
            c.last_sync.map(when).unwrap_or_else(|| "-".into()),
        ]
    });
    let mut out = aligned(std::iter::once(header).chain(rows).collect());
    // Why a connection is in Error, under the table (a reason is a sentence, not a cell).
    for c in connections.iter().filter(|c| c.status == Status::Error) {
        let reason = c.status_reason.as_deref().unwrap_or("no reason given");
        out.push_str(&format!("\n{}: {reason}\n", c.name));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    /// Parses `tandem connection <args>`.
    fn parse(args: &[&str]) -> Result<ConnectionArgs, clap::Error> {
        #[derive(Debug, Parser)]
        struct Top {
            #[command(subcommand)]
            command: Top2,
        }
        #[derive(Debug, clap::Subcommand)]
        enum Top2 {
            Connection(ConnectionArgs),
        }
        let argv = ["tandem", "connection"].iter().chain(args);
        Top::try_parse_from(argv).map(|top| match top.command {
            Top2::Connection(args) => args,
        })
    }

    const INITIATE: [&str; 7] = [
        "initiate",
        "--mode",
        "basic",
        "--local-name",
        "acme",
        "--remote-name",
        "globex",
    ];

    #[test]
    fn initiate_needs_exactly_one_of_to_and_private() {
        let err = parse(&INITIATE).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::MissingRequiredArgument);
        assert_eq!(err.exit_code(), 2);

        let both = [&INITIATE[..], &["--private", "--to", "http://127.0.0.1:1"]].concat();
        let err = parse(&both).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::ArgumentConflict);
        assert_eq!(err.exit_code(), 2);

        let private = [&INITIATE[..], &["--private"]].concat();
        let args = parse(&private).unwrap();
        match args.command {
            ConnectionCommand::Initiate(i) => assert!(i.private && i.to.is_none()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn node_and_token_go_before_or_after_the_subcommand() {
        let before = parse(&["--node", "http://127.0.0.1:9/", "--token", "t", "list"]).unwrap();
        let after = parse(&[
            "list",
            "--json",
            "--node",
            "http://127.0.0.1:9/",
            "--token",
            "t",
        ])
        .unwrap();
        for args in [before, after] {
            assert_eq!(args.target.node.as_str(), "http://127.0.0.1:9/");
            assert_eq!(
                args.target.token.map(|t| t.expose().to_owned()).as_deref(),
                Some("t")
            );
        }
    }

    #[test]
    fn a_node_url_must_be_http_or_https() {
        let err = parse(&["--node", "127.0.0.1:7341", "list"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        let needs_scheme = "the URL needs its scheme, e.g. http://127.0.0.1:7341";
        assert!(err.to_string().contains(needs_scheme), "{err}");
        let err = parse(&["--node", "ftp://127.0.0.1", "list"]).unwrap_err();
        assert!(err.to_string().contains("http or https, not ftp"), "{err}");
        let err = parse(&["--node", "http://", "list"]).unwrap_err();
        assert!(
            err.to_string()
                .contains("expected e.g. http://127.0.0.1:7341"),
            "{err}"
        );
    }

    #[test]
    fn an_unknown_mode_is_a_usage_error() {
        let mut args = INITIATE;
        args[2] = "fancy";
        let err = parse(&args).unwrap_err();
        assert_eq!(err.exit_code(), 2);
    }

    #[test]
    fn a_dash_reads_the_code_from_stdin_trimmed() {
        let code = read_code("-", "  tandem1.abc\n".as_bytes()).unwrap();
        assert_eq!(code, "tandem1.abc");
        let code = read_code(" tandem1.xyz ", "ignored".as_bytes()).unwrap();
        assert_eq!(code, "tandem1.xyz");
        let err = read_code("-", "\n".as_bytes()).unwrap_err();
        assert_eq!(err.code, 2);
        assert_eq!(
            err.message,
            "no invitation code in stdin: paste the code the other node's admin sent you"
        );
    }

    fn connection(json: serde_json::Value) -> Connection {
        let mut base = serde_json::json!({
            "id": "0190c0de-0000-7000-8000-000000000000", "name": "acme_to_globex",
            "description": "", "mode": "basic", "role": "initiator", "status": "active",
            "status_reason": null, "remote_paused": false, "local_short_name": "acme",
            "remote_short_name": "globex", "remote": null, "private": false, "twins": 0,
            "last_sync": null, "created": "2026-11-27T14:03:00Z", "invitation": null,
        });
        for (key, value) in json.as_object().unwrap() {
            base[key] = value.clone();
        }
        serde_json::from_value(base).unwrap()
    }

    #[test]
    fn the_table_aligns_columns_and_marks_what_is_missing() {
        let connections = [
            connection(serde_json::json!({
                "status": "pending", "mode": "script",
            })),
            connection(serde_json::json!({
                "name": "ops", "twins": 1234, "last_sync": "2026-11-30T14:03:59Z",
                "remote": {"node_id": "n", "name": "Globex", "url": "https://globex.example", "tracker": "servicenow"},
            })),
            connection(serde_json::json!({
                "name": "hidden", "status": "deactivated", "twins": 7,
                "remote": {"node_id": "n", "name": "Initech", "url": null, "tracker": "builtin"},
            })),
            connection(serde_json::json!({"name": "inside", "role": "local"})),
            connection(serde_json::json!({
                "name": "broken", "status": "error",
                "status_reason": "the remote node refused this node's requests (401)",
            })),
        ];
        let expected = "\
NAME            MODE    STATUS       REMOTE                           TWINS  LAST SYNC
acme_to_globex  script  pending      -                                0      -
ops             basic   active       Globex (https://globex.example)  1234   2026-11-30 14:03 UTC
hidden          basic   deactivated  Initech (private)                7      -
inside          basic   active       this node                        0      -
broken          basic   in error     -                                0      -

broken: the remote node refused this node's requests (401)
";
        assert_eq!(table(&connections), expected);
    }

    #[test]
    fn sentences_say_what_happened() {
        let pending_one = connection(serde_json::json!({
            "status": "pending",
            "invitation": {"expires": "2026-11-30T14:03:00Z", "used": null},
        }));
        assert_eq!(
            pending(&pending_one),
            "Connection acme_to_globex is pending: send this code to the other node's admin; it expires 2026-11-30 14:03 UTC."
        );
        let active = connection(serde_json::json!({
            "role": "acceptor",
            "remote": {"node_id": "n", "name": "Acme", "url": null, "tracker": "builtin"},
        }));
        assert_eq!(
            accepted(&active),
            "Connection acme_to_globex is active: connected to Acme (URL unknown: private)."
        );
        let broken = connection(serde_json::json!({
            "status": "error", "status_reason": "the remote node refused our signature",
        }));
        assert_eq!(
            standing(&broken),
            "Connection acme_to_globex is in error: the remote node refused our signature."
        );
        let here = connection(serde_json::json!({"role": "local"}));
        assert_eq!(
            local(&here),
            "Local connection acme_to_globex is active: both sides are on this node, so there is no invitation code."
        );
        assert_eq!(
            deleted_sentence("x", true),
            "Deleted connection x; the remote node was told."
        );
    }
}
