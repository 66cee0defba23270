//! `tandem token create|list|revoke`. With an API token (`--token` / `TANDEM_TOKEN`, an admin
//! one) the command asks the running node at `--node` (`/api/v1/tokens`), as `tandem
//! connection` does; without one it opens the data directory's database, which works only while
//! the node is stopped (a running node holds the database).

use std::process::ExitCode;

use reqwest::Method;
use serde::{Deserialize, Serialize};
use tandem_node::config::{Config, ServeArgs};
use tandem_node::{NodeError, auth};
use tandem_store::TokenScope;

use super::node_client::{NodeArgs, NodeClient, failed};
use super::{Failure, NodeDirArgs};

#[derive(Debug, clap::Args)]
pub struct TokenArgs {
    #[command(subcommand)]
    command: TokenCommand,
    #[command(flatten)]
    target: NodeArgs,
}

#[derive(Debug, clap::Subcommand)]
enum TokenCommand {
    /// Create an API token and print it (shown once)
    Create {
        /// A name saying what the token is for, e.g. ci-pipeline
        #[arg(long)]
        name: String,
        /// What the token may do: read (GET only), sync (reads and sync operations: exalate,
        /// unexalate, retry, bulk) or admin (everything)
        #[arg(long, default_value = "admin", value_parser = parse_scope)]
        scope: TokenScope,
        #[command(flatten)]
        node: NodeDirArgs,
    },
    /// List the API tokens
    List {
        #[command(flatten)]
        node: NodeDirArgs,
    },
    /// Revoke an API token by its id (see `token list`)
    Revoke {
        id: i64,
        #[command(flatten)]
        node: NodeDirArgs,
    },
}

fn parse_scope(text: &str) -> Result<TokenScope, String> {
    TokenScope::parse(text)
        .ok_or_else(|| format!("unknown scope '{text}': choose read, sync or admin"))
}

/// A token as either way lists it.
#[derive(Debug, Deserialize)]
struct Listed {
    id: i64,
    name: String,
    scope: String,
    created: jiff::Timestamp,
    created_by: String,
    revoked: Option<jiff::Timestamp>,
}

#[derive(Debug, Deserialize)]
struct Tokens {
    tokens: Vec<Listed>,
}

#[derive(Debug, Deserialize)]
struct Created {
    token: String,
}

#[derive(Debug, Serialize)]
struct CreateBody<'a> {
    name: &'a str,
    scope: &'a str,
}

pub async fn run(args: TokenArgs) -> Result<ExitCode, Failure> {
    let api = args
        .target
        .token
        .as_ref()
        .is_some_and(|t| !t.expose().is_empty());
    if api {
        let client = args.target.client()?;
        through_api(&client, args.command).await
    } else {
        in_database(args.command).await
    }
}

fn created(scope: TokenScope, name: &str, token: &str) {
    eprintln!(
        "Created {} API token '{name}'. It is shown only now:",
        scope.label()
    );
    println!("{token}");
}

fn print(tokens: &[Listed]) {
    if tokens.is_empty() {
        eprintln!("No API tokens.");
    }
    for t in tokens {
        let status = match t.revoked {
            Some(at) => format!("revoked {at}"),
            None => "active".into(),
        };
        println!(
            "{:>4}  {:<30} {:<6} created {} by {:<14} {status}",
            t.id, t.name, t.scope, t.created, t.created_by
        );
    }
}

async fn through_api(client: &NodeClient, command: TokenCommand) -> Result<ExitCode, Failure> {
    match command {
        TokenCommand::Create { name, scope, .. } => {
            let body = CreateBody {
                name: &name,
                scope: scope.as_str(),
            };
            let made: Created = client
                .call(Method::POST, &["tokens"], Some(&body))
                .await
                .map_err(failed)?;
            created(scope, &name, &made.token);
        }
        TokenCommand::List { .. } => {
            let listed: Tokens = client
                .call(Method::GET, &["tokens"], None::<&()>)
                .await
                .map_err(failed)?;
            print(&listed.tokens);
        }
        TokenCommand::Revoke { id, .. } => {
            let _: serde_json::Value = client
                .call(
                    Method::POST,
                    &["tokens", &id.to_string(), "revoke"],
                    None::<&()>,
                )
                .await
                .map_err(failed)?;
            eprintln!("Revoked API token {id}.");
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn in_database(command: TokenCommand) -> Result<ExitCode, Failure> {
    let node_args = match &command {
        TokenCommand::Create { node, .. }
        | TokenCommand::List { node }
        | TokenCommand::Revoke { node, .. } => node,
    };
    let config = Config::resolve(&ServeArgs {
        data_dir: node_args.data_dir.clone(),
        config: node_args.config.clone(),
        ..ServeArgs::default()
    })
    .map_err(Failure::setup)?;
    let store = tandem_node::server::open_store(&config)
        .await
        .map_err(|e| match e {
            NodeError::Store(tandem_store::StoreError::Open { .. }) => Failure::setup(format!(
                "{e}\nWhile the node runs, this command asks it instead: pass an admin API token \
                 with --token (or TANDEM_TOKEN) and the node's URL with --node (or TANDEM_NODE); \
                 or use the console (Settings → API tokens)."
            )),
            other => other.into(),
        })?;
    let store_err = |e: tandem_store::StoreError| Failure::from(NodeError::from(e));
    match command {
        TokenCommand::Create { name, scope, .. } => {
            tandem_node::config::check_name(&name)
                .map_err(|e| Failure::setup(format!("invalid token name: {e}")))?;
            let token = auth::random_token()?;
            store
                .create_api_token(&name, &auth::hash_token(&token), "command line", scope)
                .await
                .map_err(store_err)?;
            created(scope, &name, &token);
        }
        TokenCommand::List { .. } => {
            let tokens = store.api_tokens().await.map_err(store_err)?;
            let listed: Vec<Listed> = tokens
                .into_iter()
                .map(|t| Listed {
                    id: t.id,
                    name: t.name,
                    scope: t.scope.as_str().to_owned(),
                    created: t.created,
                    created_by: t.created_by,
                    revoked: t.revoked,
                })
                .collect();
            print(&listed);
        }
        TokenCommand::Revoke { id, .. } => {
            store.revoke_api_token(id).await.map_err(store_err)?;
            eprintln!("Revoked API token {id}.");
        }
    }
    Ok(ExitCode::SUCCESS)
}
