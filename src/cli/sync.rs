//! `tandem sync …`: bring items under sync, see their twins, run the bulk jobs (Bulk Exalate,
//! Bulk Unexalate, Sync again of a connection, Clean-up) with a progress bar, list and cancel
//! them, list and retry sync errors, and make the triggers a Bulk Exalate runs, on a running node through its
//! HTTP API (`client.rs`). This file holds the arguments and what is printed.

mod client;
mod reconcile;

use std::process::ExitCode;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use self::client::{
    Again, Bulk, CleanUp, Connect, ItemOnConnection, Job, NewTrigger, SyncError, Trigger, Twin,
    TwinState,
};
use super::Failure;
use super::node_client::{NodeArgs, NodeClient, failed};
use super::output::{aligned, when};

/// How often a command that follows a job asks the node how far it is.
const POLL: Duration = Duration::from_millis(200);

#[derive(Debug, clap::Args)]
pub struct SyncArgs {
    #[command(flatten)]
    target: NodeArgs,
    #[command(subcommand)]
    command: SyncCommand,
}

#[derive(Debug, clap::Subcommand)]
enum SyncCommand {
    /// Bring an item under sync on a connection (the other side creates its twin)
    Exalate(ItemArgs),
    /// Stop syncing an item on a connection; both items stay, changes no longer flow
    Unexalate(ItemArgs),
    /// Send an item again, or without --item every item under sync on the connection
    Again {
        /// Connection name or id
        #[arg(long, value_name = "NAME", value_parser = non_empty())]
        connection: String,
        /// The item, e.g. SUP-12 [default: every twin of the connection]
        #[arg(long, value_name = "KEY", value_parser = non_empty())]
        item: Option<String>,
    },
    /// Sync an item with an item that already exists on the other side
    Connect {
        /// Connection name or id
        #[arg(long, value_name = "NAME", value_parser = non_empty())]
        connection: String,
        /// The local item, e.g. SUP-12
        #[arg(long, value_name = "KEY", value_parser = non_empty())]
        item: String,
        /// The other side's item, e.g. ENG-7 (on ServiceNow its number, e.g. INC0010005)
        #[arg(long, value_name = "RKEY", value_parser = non_empty())]
        remote_key: String,
    },
    /// Exalate every item a trigger matches, showing progress until the node is done
    Bulk {
        /// Connection name or id
        #[arg(long, value_name = "NAME", value_parser = non_empty())]
        connection: String,
        /// The trigger's id (see `tandem sync triggers`)
        #[arg(long, value_name = "ID")]
        trigger: i64,
    },
    /// Stop syncing every item under sync that a trigger matches; the items stay on both sides
    BulkUnexalate {
        /// Connection name or id
        #[arg(long, value_name = "NAME", value_parser = non_empty())]
        connection: String,
        /// The trigger's id (see `tandem sync triggers`)
        #[arg(long, value_name = "ID")]
        trigger: i64,
    },
    /// Remove a connection's sync data on both sides, keeping the items; without --yes only
    /// says what it would touch
    Cleanup {
        /// Connection name or id
        #[arg(long, value_name = "NAME", value_parser = non_empty())]
        connection: String,
        /// Clean up now (without it nothing is changed)
        #[arg(long)]
        yes: bool,
    },
    /// List the bulk jobs (Bulk Exalate, Bulk Unexalate, Sync again, Clean-up), newest first,
    /// with their progress, rate and time left
    Jobs {
        /// Only this connection's jobs (name or id)
        #[arg(long, value_name = "NAME", value_parser = non_empty())]
        connection: Option<String>,
    },
    /// Stop a running bulk job after the items under way; it keeps what it did
    Cancel {
        /// The job's id (see `tandem sync jobs`)
        job: u64,
    },
    /// Show an item's twins: one line per connection it is synced on
    Status {
        /// The item, e.g. SUP-12
        #[arg(value_parser = non_empty())]
        key: String,
        /// Print the API's `twins` array as JSON instead
        #[arg(long)]
        json: bool,
    },
    /// List the sync errors not resolved yet
    Errors {
        /// Print the API's `errors` array as JSON instead
        #[arg(long)]
        json: bool,
    },
    /// Resolve a sync error and run what failed again
    Retry {
        /// The error's id (see `tandem sync errors`)
        id: i64,
    },
    /// List a connection's conflicts, newest first: both values, which one was kept, when
    Conflicts {
        /// Connection name or id
        #[arg(long, value_name = "NAME", value_parser = non_empty())]
        connection: String,
        /// Only conflicts older than this one (the id the previous page ends with)
        #[arg(long, value_name = "ID")]
        before: Option<i64>,
        /// How many to list at most
        #[arg(long, value_name = "N", default_value_t = 50)]
        limit: u32,
        /// Print the API's `conflicts` array as JSON instead
        #[arg(long)]
        json: bool,
    },
    /// Write a conflict's losing value back to the item (a normal edit, which syncs out)
    Restore {
        /// Connection name or id
        #[arg(long, value_name = "NAME", value_parser = non_empty())]
        connection: String,
        /// The conflict's id (see `tandem sync conflicts`)
        id: i64,
    },
    /// Compare every twin of a connection with the remote's: present on both sides, linked
    /// both ways, replicas agreeing; exits 1 when it finds a difference
    Verify {
        /// Connection name or id
        #[arg(long, value_name = "NAME", value_parser = non_empty())]
        connection: String,
        /// Fix what can be fixed (send again, restore a link) and flag the rest as sync errors
        #[arg(long)]
        repair: bool,
        /// Print the API's report as JSON instead
        #[arg(long)]
        json: bool,
    },
    /// List a connection's triggers
    Triggers {
        /// Connection name or id
        #[arg(long, value_name = "NAME", value_parser = non_empty())]
        connection: String,
    },
    /// Add a trigger to a connection and print its id (alone on stdout)
    TriggerAdd {
        /// Connection name or id
        #[arg(long, value_name = "NAME", value_parser = non_empty())]
        connection: String,
        /// Which items, e.g. "project = SUP AND labels = customer"
        #[arg(long, value_name = "Q", value_parser = non_empty())]
        query: String,
        /// Only for `bulk`: items that start matching are not exalated on their own
        #[arg(long)]
        inactive: bool,
        /// What the trigger is for
        #[arg(long, value_name = "N", default_value = "")]
        note: String,
    },
}

#[derive(Debug, clap::Args)]
struct ItemArgs {
    /// Connection name or id
    #[arg(long, value_name = "NAME", value_parser = non_empty())]
    connection: String,
    /// The item, e.g. SUP-12
    #[arg(long, value_name = "KEY", value_parser = non_empty())]
    item: String,
}

fn non_empty() -> clap::builder::NonEmptyStringValueParser {
    clap::builder::NonEmptyStringValueParser::new()
}

impl From<ItemArgs> for ItemOnConnection {
    fn from(args: ItemArgs) -> Self {
        ItemOnConnection {
            connection: args.connection,
            item: args.item,
        }
    }
}

pub fn run(args: SyncArgs) -> Result<ExitCode, Failure> {
    let client = args.target.client()?;
    super::runtime()?.block_on(send(&client, args.command))
}

async fn send(client: &NodeClient, command: SyncCommand) -> Result<ExitCode, Failure> {
    match command {
        SyncCommand::Exalate(item) => {
            let twin = client.exalate(&item.into()).await.map_err(failed)?;
            println!("{}", exalated(&twin));
        }
        SyncCommand::Unexalate(item) => {
            let twin = client.unexalate(&item.into()).await.map_err(failed)?;
            println!("{}", unexalated(&twin));
        }
        SyncCommand::Again { connection, item } => {
            if item.is_none() {
                let job = client.start_sync_again(&connection).await.map_err(failed)?;
                let job = follow(client, job).await?;
                println!("{}", sent_again(job.changed, &connection));
                print_failed(&job);
            } else {
                let request = Again { connection, item };
                let sent = client.sync_again(&request).await.map_err(failed)?;
                println!("{}", sent_again(sent, &request.connection));
            }
        }
        SyncCommand::Connect {
            connection,
            item,
            remote_key,
        } => {
            let request = Connect {
                connection,
                item,
                remote_key,
            };
            let twin = client.connect(&request).await.map_err(failed)?;
            println!("{}", connected(&twin));
        }
        SyncCommand::Bulk {
            connection,
            trigger,
        } => {
            let job = client
                .bulk(&Bulk {
                    connection: connection.clone(),
                    trigger,
                })
                .await
                .map_err(failed)?;
            let job = follow(client, job).await?;
            println!(
                "Exalated {} on connection {connection}.",
                count(job.done, "item")
            );
            print_failed(&job);
        }
        SyncCommand::BulkUnexalate {
            connection,
            trigger,
        } => {
            let request = Bulk {
                connection,
                trigger,
            };
            let job = client.bulk_unexalate(&request).await.map_err(failed)?;
            let job = follow(client, job).await?;
            println!(
                "Stopped syncing {} matching trigger {trigger} on connection {}; the items stay on both sides.",
                count(job.changed, "item"),
                request.connection
            );
            print_failed(&job);
        }
        SyncCommand::Cleanup { connection, yes } => {
            if !yes {
                let preview = client.clean_up_preview(&connection).await.map_err(failed)?;
                println!("{}", clean_up_preview(&preview, &connection));
                return Err(Failure {
                    message: format!(
                        "nothing was changed: run `tandem sync cleanup --connection {connection} --yes` to clean up"
                    ),
                    code: 1,
                });
            }
            let job = client.clean_up(&connection).await.map_err(failed)?;
            let job = follow(client, job).await?;
            let done = CleanUp {
                twins: job.changed,
                queued: job.queued.unwrap_or(0),
            };
            println!("{}", cleaned_up(&done, &connection));
        }
        SyncCommand::Jobs { connection } => {
            let jobs = client.jobs(connection.as_deref()).await.map_err(failed)?;
            if jobs.is_empty() {
                println!("No bulk jobs.");
            } else {
                print!("{}", job_table(&jobs));
            }
        }
        SyncCommand::Cancel { job } => {
            let job = client.cancel_job(job).await.map_err(failed)?;
            println!("{}", cancelled(&job));
        }
        SyncCommand::Status { key, json } => {
            let (twins, raw) = client.status(&key).await.map_err(failed)?;
            if json {
                print_json(&raw)?;
            } else if twins.is_empty() {
                println!("{key} is not under sync.");
            } else {
                print!("{}", status_table(&twins));
            }
        }
        SyncCommand::Errors { json } => {
            let (errors, raw) = client.errors().await.map_err(failed)?;
            if json {
                print_json(&raw)?;
            } else if errors.is_empty() {
                println!("No sync errors.");
            } else {
                print!("{}", error_blocks(&errors));
            }
        }
        SyncCommand::Retry { id } => {
            let retried = client.retry(id).await.map_err(failed)?;
            println!("Sync error {retried} is resolved and what failed runs again.");
        }
        SyncCommand::Conflicts {
            connection,
            before,
            limit,
            json,
        } => {
            let (page, raw) = client
                .conflicts(&connection, before, limit)
                .await
                .map_err(failed)?;
            if json {
                print_json(&raw)?;
            } else if page.conflicts.is_empty() {
                println!("Connection {connection} has no conflicts.");
            } else {
                print!("{}", reconcile::conflict_table(&page.conflicts));
                if let Some(next) = page.next {
                    println!(
                        "Older ones: tandem sync conflicts --connection {connection} --before {next}"
                    );
                }
            }
        }
        SyncCommand::Restore { connection, id } => {
            let conflict = client
                .restore_conflict(&connection, id)
                .await
                .map_err(failed)?;
            println!("{}", reconcile::restored(&conflict, &connection));
        }
        SyncCommand::Verify {
            connection,
            repair,
            json,
        } => {
            let (report, raw) = client.verify(&connection, repair).await.map_err(failed)?;
            if json {
                print_json(&raw)?;
            } else {
                print!("{}", reconcile::verify_report(&report, &connection, repair));
            }
            if !report.differences.is_empty() && !repair {
                return Ok(ExitCode::from(1));
            }
        }
        SyncCommand::Triggers { connection } => {
            let triggers = client.triggers(&connection).await.map_err(failed)?;
            if triggers.is_empty() {
                println!("Connection {connection} has no triggers.");
            } else {
                print!("{}", trigger_table(&triggers));
            }
        }
        SyncCommand::TriggerAdd {
            connection,
            query,
            inactive,
            note,
        } => {
            let request = NewTrigger {
                query,
                active: !inactive,
                note,
            };
            let trigger = client
                .add_trigger(&connection, &request)
                .await
                .map_err(failed)?;
            println!("{}", trigger.id);
            eprintln!("{}", trigger_added(&trigger, &connection));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Follows a bulk job until the node says it ended; returns it as it ended, or what stopped
/// it. The bar (done / total, failed, rate and time left) draws on stderr only when it is a
/// terminal (indicatif hides it otherwise), so piped and tested runs print just the final
/// sentence. Interrupting the command leaves the job running on the node.
async fn follow(client: &NodeClient, job: u64) -> Result<Job, Failure> {
    let bar = ProgressBar::new(0).with_style(
        ProgressStyle::with_template(
            "{spinner} {prefix} [{bar:40}] {pos}/{len} items, {msg} ({elapsed})",
        )
        .expect("the template is valid")
        .progress_chars("=> "),
    );
    let progress = loop {
        let progress = match client.job(job).await {
            Ok(progress) => progress,
            Err(e) => {
                bar.abandon();
                return Err(failed(e));
            }
        };
        bar.set_prefix(kind_title(&progress.kind));
        bar.set_length(progress.total);
        bar.set_position(progress.done + progress.failed);
        bar.set_message(pace(&progress));
        if progress.finished {
            break progress;
        }
        tokio::time::sleep(POLL).await;
    };
    bar.finish_and_clear();
    match (&progress.error, progress.state.as_str()) {
        (Some(error), _) => Err(Failure {
            message: format!(
                "the {} on connection {} (job {job}) stopped after {} of {}: {error}",
                kind_title(&progress.kind).to_lowercase(),
                progress.connection,
                count(progress.done, "item"),
                progress.total
            ),
            code: 1,
        }),
        (None, "cancelled") => Err(Failure {
            message: cancelled(&progress),
            code: 1,
        }),
        _ => Ok(progress),
    }
}

/// After a job's sentence: how many items failed, and where to see them.
fn print_failed(job: &Job) {
    if job.failed > 0 {
        println!(
            "{} failed: see `tandem sync errors` (retry each with `tandem sync retry`).",
            count(job.failed, "item")
        );
    }
}

/// `Bulk Exalate`, `Clean-up`, … for a job kind as the API names it.
fn kind_title(kind: &str) -> String {
    match kind {
        "exalate" => "Bulk Exalate".into(),
        "unexalate" => "Bulk Unexalate".into(),
        "sync_again" => "Sync again".into(),
        "clean_up" => "Clean-up".into(),
        other => other.into(),
    }
}

/// `3 failed, 120.5 items/s, about 2 min left`.
fn pace(job: &Job) -> String {
    let rate = job
        .rate
        .map_or_else(|| "-".to_owned(), |r| format!("{r:.1} items/s"));
    let eta = job.eta_seconds.map_or_else(|| "-".to_owned(), eta_text);
    format!("{} failed, {rate}, {eta} left", job.failed)
}

fn eta_text(seconds: u64) -> String {
    match seconds {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min", s.div_ceil(60)),
        s => format!("{:.1} h", s as f64 / 3600.0),
    }
}

/// What `cancel` (and a job that ends cancelled) says.
fn cancelled(job: &Job) -> String {
    let what = format!(
        "Job {} ({} on connection {})",
        job.job,
        kind_title(&job.kind),
        job.connection
    );
    match job.state.as_str() {
        "running" => format!(
            "{what}: cancel requested; it stops after the items under way ({} of {} done so far).",
            job.done, job.total
        ),
        "cancelled" => format!(
            "{what} was cancelled after {} of {} ({} failed).",
            job.done, job.total, job.failed
        ),
        state => format!(
            "{what} had ended already ({state}): {} of {} done, {} failed.",
            job.done, job.total, job.failed
        ),
    }
}

/// The `jobs` table, newest first.
fn job_table(jobs: &[Job]) -> String {
    let header = [
        "ID",
        "KIND",
        "CONNECTION",
        "STATE",
        "DONE",
        "FAILED",
        "TOTAL",
        "RATE",
        "ETA",
        "STARTED",
    ]
    .map(String::from);
    let rows = jobs.iter().map(|j| {
        [
            j.job.to_string(),
            kind_title(&j.kind),
            j.connection.clone(),
            if j.cancel_requested && j.state == "running" {
                "cancelling".into()
            } else {
                j.state.clone()
            },
            j.done.to_string(),
            j.failed.to_string(),
            j.total.to_string(),
            j.rate.map_or_else(|| "-".into(), |r| format!("{r:.1}/s")),
            j.eta_seconds.map_or_else(|| "-".into(), eta_text),
            when(j.started),
        ]
    });
    aligned(std::iter::once(header).chain(rows).collect())
}

fn print_json(value: &serde_json::Value) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| Failure::setup(format!("cannot print the answer: {e}")))?;
    println!("{text}");
    Ok(())
}

/// `1 item`, `3 items`.
fn count(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

fn exalated(twin: &Twin) -> String {
    format!(
        "{} is under sync on connection {}.",
        twin.local(),
        twin.connection
    )
}

fn unexalated(twin: &Twin) -> String {
    match twin.remote() {
        Some(remote) => format!(
            "{} is no longer under sync on connection {}; {remote} stays on the other side, no longer updated.",
            twin.local(),
            twin.connection
        ),
        None => format!(
            "{} is no longer under sync on connection {}.",
            twin.local(),
            twin.connection
        ),
    }
}

fn connected(twin: &Twin) -> String {
    format!(
        "{} is under sync with {} on connection {}.",
        twin.local(),
        twin.remote().unwrap_or("the other side's item"),
        twin.connection
    )
}

/// What a clean-up would touch.
fn clean_up_preview(preview: &CleanUp, connection: &str) -> String {
    format!(
        "Clean-up of connection {connection} would remove the sync data of {} here and on the remote (the items stay); {}.",
        count(preview.twins, "twin"),
        queued(preview.queued)
    )
}

fn cleaned_up(done: &CleanUp, connection: &str) -> String {
    format!(
        "Cleaned up connection {connection}: the sync data of {} is removed here and on the remote; the items stay; {}.",
        count(done.twins, "twin"),
        queued(done.queued)
    )
}

/// The queued sync events a clean-up reports.
fn queued(n: u64) -> String {
    match n {
        0 => "no changes are queued for the remote".to_owned(),
        1 => "1 change queued for the remote is dropped with the clean-up, not sent".to_owned(),
        n => format!("{n} changes queued for the remote are dropped with the clean-up, not sent"),
    }
}

fn sent_again(sent: u64, connection: &str) -> String {
    format!(
        "Sent {} again on connection {connection}.",
        count(sent, "item")
    )
}

fn trigger_added(trigger: &Trigger, connection: &str) -> String {
    let standing = if trigger.active {
        "active: matching items are exalated as they change"
    } else {
        "inactive: run it with `tandem sync bulk`"
    };
    format!(
        "Added trigger {} to connection {connection} ({standing}).",
        trigger.id
    )
}

fn state_word(state: TwinState) -> &'static str {
    match state {
        TwinState::Active => "active",
        TwinState::Stopped => "stopped",
    }
}

/// The `status` table: one line per twin under a header.
fn status_table(twins: &[Twin]) -> String {
    let header = ["CONNECTION", "REMOTE KEY", "STATE", "LAST SYNC"].map(String::from);
    let rows = twins.iter().map(|t| {
        [
            t.connection.clone(),
            t.remote().unwrap_or("-").to_owned(),
            state_word(t.state).into(),
            t.last_sync.map(when).unwrap_or_else(|| "never".into()),
        ]
    });
    aligned(std::iter::once(header).chain(rows).collect())
}

/// The `triggers` table.
fn trigger_table(triggers: &[Trigger]) -> String {
    let header = ["ID", "ACTIVE", "QUERY", "CREATED", "NOTE"].map(String::from);
    let rows = triggers.iter().map(|t| {
        [
            t.id.to_string(),
            if t.active { "yes" } else { "no" }.into(),
            t.query.clone(),
            when(t.created),
            t.note.clone(),
        ]
    });
    aligned(std::iter::once(header).chain(rows).collect())
}

/// The `errors` list: a block per error — its id, what it stops, the item and when on the first
/// line, the message under it, the script trace indented below — with a blank line between.
fn error_blocks(errors: &[SyncError]) -> String {
    let blocks: Vec<String> = errors
        .iter()
        .map(|e| {
            let local = e.local_number.as_ref().or(e.local_key.as_ref());
            let remote = e.remote_number.as_ref().or(e.remote_key.as_ref());
            let item = match (local, remote) {
                (Some(local), Some(remote)) => format!("item {local} (remote {remote})"),
                (Some(local), None) => format!("item {local}"),
                (None, Some(remote)) => format!("remote item {remote}"),
                (None, None) => "no item".into(),
            };
            let mut block = format!(
                "Error {} ({} impact), {item}, {}\n",
                e.id,
                e.impact,
                when(e.at)
            );
            for line in e.message.lines() {
                block.push_str(&format!("  {line}\n"));
            }
            if let Some(trace) = e.script_trace.as_deref().filter(|t| !t.trim().is_empty()) {
                block.push_str("  Script trace:\n");
                for line in trace.trim_end().lines() {
                    block.push_str(format!("    {line}").trim_end());
                    block.push('\n');
                }
            }
            block
        })
        .collect();
    blocks.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    /// Parses `tandem sync <args>`.
    fn parse(args: &[&str]) -> Result<SyncArgs, clap::Error> {
        #[derive(Debug, Parser)]
        struct Top {
            #[command(subcommand)]
            command: Top2,
        }
        #[derive(Debug, clap::Subcommand)]
        enum Top2 {
            Sync(SyncArgs),
        }
        let argv = ["tandem", "sync"].iter().chain(args);
        Top::try_parse_from(argv).map(|top| match top.command {
            Top2::Sync(args) => args,
        })
    }

    #[test]
    fn exalate_needs_a_connection_and_an_item() {
        let err = parse(&["exalate", "--connection", "desk"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::MissingRequiredArgument);
        assert_eq!(err.exit_code(), 2);
        let err = parse(&["exalate", "--connection", "", "--item", "SUP-1"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        let args = parse(&["exalate", "--item", "SUP-1", "--connection", "desk"]).unwrap();
        match args.command {
            SyncCommand::Exalate(item) => {
                assert_eq!(
                    (item.connection.as_str(), item.item.as_str()),
                    ("desk", "SUP-1")
                )
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn again_without_an_item_means_every_twin() {
        match parse(&["again", "--connection", "desk"]).unwrap().command {
            SyncCommand::Again { connection, item } => {
                assert_eq!(connection, "desk");
                assert_eq!(item, None);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bulk_needs_a_numeric_trigger_id() {
        let err = parse(&["bulk", "--connection", "desk", "--trigger", "all"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::ValueValidation);
        assert_eq!(err.exit_code(), 2);
        match parse(&["bulk", "--connection", "desk", "--trigger", "3"])
            .unwrap()
            .command
        {
            SyncCommand::Bulk { trigger, .. } => assert_eq!(trigger, 3),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn status_takes_the_key_as_an_argument_and_node_and_token_anywhere() {
        let args = parse(&[
            "status",
            "SUP-1",
            "--json",
            "--node",
            "http://127.0.0.1:9/",
            "--token",
            "t",
        ])
        .unwrap();
        assert_eq!(args.target.node.as_str(), "http://127.0.0.1:9/");
        match args.command {
            SyncCommand::Status { key, json } => assert!(key == "SUP-1" && json),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_trigger_is_active_unless_told_otherwise() {
        let added = |extra: &[&str]| {
            let argv = [
                &[
                    "trigger-add",
                    "--connection",
                    "desk",
                    "--query",
                    "project = SUP",
                ],
                extra,
            ]
            .concat();
            match parse(&argv).unwrap().command {
                SyncCommand::TriggerAdd { inactive, note, .. } => (inactive, note),
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(added(&[]), (false, String::new()));
        assert_eq!(
            added(&["--inactive", "--note", "backlog"]),
            (true, "backlog".into())
        );
        let err = parse(&["trigger-add", "--connection", "desk"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::MissingRequiredArgument);
    }

    fn twin(json: serde_json::Value) -> Twin {
        let mut base = serde_json::json!({
            "connection": "desk", "local_key": "SUP-1", "remote_key": null,
            "last_sync": null, "state": "active",
        });
        for (key, value) in json.as_object().unwrap() {
            base[key] = value.clone();
        }
        serde_json::from_value(base).unwrap()
    }

    #[test]
    fn the_status_table_shows_a_line_per_twin_and_what_is_missing() {
        let twins = [
            twin(serde_json::json!({})),
            twin(serde_json::json!({
                "connection": "acme_to_globex", "remote_key": "ENG-12",
                "last_sync": "2026-11-30T14:03:59Z", "state": "stopped",
            })),
        ];
        let expected = "\
CONNECTION      REMOTE KEY  STATE    LAST SYNC
desk            -           active   never
acme_to_globex  ENG-12      stopped  2026-11-30 14:03 UTC
";
        assert_eq!(status_table(&twins), expected);
    }

    fn error(json: serde_json::Value) -> SyncError {
        let mut base = serde_json::json!({
            "id": 7, "impact": "item", "connection_id": "0190c0de-0000-7000-8000-000000000000",
            "local_key": "SUP-1", "remote_key": "ENG-1", "at": "2026-11-30T14:03:00Z",
            "message": "the incoming script failed", "script_trace": null,
        });
        for (key, value) in json.as_object().unwrap() {
            base[key] = value.clone();
        }
        serde_json::from_value(base).unwrap()
    }

    #[test]
    fn error_blocks_show_the_item_the_message_and_the_trace_indented() {
        let errors = [
            error(serde_json::json!({
                "script_trace": "line 3: issue.sumary = replica.summary\n        ^\nat incoming (line 3)\n",
            })),
            error(serde_json::json!({
                "id": 8, "impact": "connection", "local_key": null, "remote_key": null,
                "message": "the remote node refused our signature",
            })),
        ];
        let expected = "\
Error 7 (item impact), item SUP-1 (remote ENG-1), 2026-11-30 14:03 UTC
  the incoming script failed
  Script trace:
    line 3: issue.sumary = replica.summary
            ^
    at incoming (line 3)

Error 8 (connection impact), no item, 2026-11-30 14:03 UTC
  the remote node refused our signature
";
        assert_eq!(error_blocks(&errors), expected);
    }

    #[test]
    fn a_servicenow_record_is_named_by_its_number() {
        let twin = twin(serde_json::json!({
            "local_key": "INC-9", "local_number": "INC0010005", "remote_key": "ENG-4",
        }));
        assert_eq!(
            exalated(&twin),
            "INC0010005 is under sync on connection desk."
        );
        let errors = [error(serde_json::json!({
            "local_key": "INC-9", "local_number": "INC0010005",
        }))];
        assert!(
            error_blocks(&errors).starts_with(
                "Error 7 (item impact), item INC0010005 (remote ENG-1), 2026-11-30 14:03 UTC\n"
            ),
            "{}",
            error_blocks(&errors)
        );
    }

    #[test]
    fn a_remote_servicenow_record_is_named_by_its_number() {
        let twin = twin(serde_json::json!({
            "local_key": "ENG-4", "remote_key": "INC-9", "remote_number": "INC0010005",
        }));
        assert_eq!(
            connected(&twin),
            "ENG-4 is under sync with INC0010005 on connection desk."
        );
        assert!(
            unexalated(&twin).contains("; INC0010005 stays on the other side"),
            "{}",
            unexalated(&twin)
        );
        assert!(
            status_table(std::slice::from_ref(&twin)).contains("desk        INC0010005  active"),
            "{}",
            status_table(std::slice::from_ref(&twin))
        );
        let errors = [error(serde_json::json!({
            "local_key": "ENG-4", "remote_key": "INC-9", "remote_number": "INC0010005",
        }))];
        assert!(
            error_blocks(&errors)
                .starts_with("Error 7 (item impact), item ENG-4 (remote INC0010005), "),
            "{}",
            error_blocks(&errors)
        );
    }

    #[test]
    fn sentences_say_what_happened() {
        let linked = twin(serde_json::json!({"remote_key": "ENG-1"}));
        assert_eq!(exalated(&linked), "SUP-1 is under sync on connection desk.");
        assert_eq!(
            unexalated(&linked),
            "SUP-1 is no longer under sync on connection desk; ENG-1 stays on the other side, no longer updated."
        );
        assert_eq!(
            connected(&linked),
            "SUP-1 is under sync with ENG-1 on connection desk."
        );
        assert_eq!(
            sent_again(1, "desk"),
            "Sent 1 item again on connection desk."
        );
        assert_eq!(
            sent_again(0, "desk"),
            "Sent 0 items again on connection desk."
        );
    }
}
