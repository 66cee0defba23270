//! What an admin does to items under sync (the Entity sync status page, the API and `tandem
//! sync`): Exalate, Unexalate, Connect, Sync again, Resolve and retry, triggers and the checks
//! Bulk Exalate and Bulk Unexalate make (the bulk operations themselves are jobs: `jobs`).

use jiff::Timestamp;
use serde_json::json;
use tandem_model::query::{Expr, Query};
use tandem_model::{Connection, ItemKey, RequestState, SyncError, Trigger, Twin, TwinState};
use tandem_store::Page;

use super::engine::{self, SyncFailure};
use crate::state::AppState;

/// Message kinds of the operations, besides `sync` and `sync_ack`.
pub const SYNC_STOP: &str = "sync_stop";
pub const SYNC_CONNECT: &str = "sync_connect";
/// The answer to a [`SYNC_CONNECT`] the remote could not take (no such item there, or it is
/// in sync with another one): the sender removes its half of the link and shows why.
pub const SYNC_CONNECT_REFUSED: &str = "sync_connect_refused";

fn twin_missing(connection: &Connection, key: &ItemKey) -> SyncFailure {
    SyncFailure::Apply(format!(
        "{key} is not under sync on connection {}",
        connection.name
    ))
}

/// Stops syncing the item on the connection and tells the remote; both items keep their data.
pub async fn unexalate(
    state: &AppState,
    connection: &Connection,
    key: &ItemKey,
) -> Result<Twin, SyncFailure> {
    let store = state.store();
    // Held from the read to the write: an acknowledgement or apply running meanwhile would
    // otherwise write its older copy of the twin back, active again.
    let _lock = state.lock_twin(connection.id, key).await;
    let mut twin = store
        .twin(connection.id, key)
        .await?
        .ok_or_else(|| twin_missing(connection, key))?;
    twin.state = TwinState::Stopped;
    // The twin stopped and the remote told, in one transaction.
    let messages: Vec<(String, String)> = twin
        .remote_key
        .iter()
        .map(|remote| {
            let message = json!({"your_key": remote, "my_key": key.to_string()});
            (SYNC_STOP.to_owned(), message.to_string())
        })
        .collect();
    let twin = store.write_twin_and_queue(&twin, false, &messages).await?;
    if !messages.is_empty() {
        state.wake_delivery();
    }
    Ok(twin)
}

/// Links a local item to an existing remote one without copying either; later changes flow.
pub async fn connect(
    state: &AppState,
    connection: &Connection,
    key: &ItemKey,
    remote_key: &str,
) -> Result<Twin, SyncFailure> {
    engine::not_pending(connection)?;
    let store = state.store();
    let _lock = state.lock_twin(connection.id, key).await;
    let item = store
        .item(key)
        .await?
        .ok_or_else(|| SyncFailure::Apply(format!("there is no item {key}")))?;
    let remote_key = remote_key.trim();
    if remote_key.is_empty() {
        return Err(SyncFailure::Apply("the remote key is empty".into()));
    }
    // The admin's own Connect is consent enough under the default scope; a scope the admin
    // set holds it too.
    let reach = super::scope::reach(state, connection).await?;
    if !reach.is_default() && !reach.contains(state, key).await? {
        return Err(super::scope::outside(connection, key));
    }
    // What the item looks like now counts as sent: Connect copies nothing.
    let baseline = engine::outgoing_replica(state, connection, &item).await?;
    let display_key = crate::servicenow::keys::display_key(state, &item);
    let twin = Twin {
        connection_id: connection.id,
        local_key: key.clone(),
        remote_key: Some(remote_key.to_owned()),
        state: TwinState::Active,
        last_sent: Some(baseline.to_string()),
        last_received: None,
        created: Timestamp::now(),
        last_sync: None,
        clock: Default::default(),
        leads: true,
        remote_display_key: None,
        display_key_sent: display_key.clone(),
    };
    engine::admit_new_twin(state).await?;
    // The twin and the Connect that tells the remote, in one transaction.
    // With the replica, for the remote's incoming rules to judge the Connect by, and the key
    // this side's admin knows the item by (`engine::SYNC_KEY`).
    let message = json!({
        "your_key": remote_key,
        "my_key": key.to_string(),
        "replica": baseline,
        "display_key": display_key,
    });
    let twin = store
        .write_twin_and_queue(
            &twin,
            true,
            &[(SYNC_CONNECT.to_owned(), message.to_string())],
        )
        .await?;
    state.wake_delivery();
    Ok(twin)
}

/// Sends the item's replica again even when it did not change: after the rules changed. The
/// replica is queued and recorded as sent in one transaction.
pub async fn sync_again(
    state: &AppState,
    connection: &Connection,
    key: &ItemKey,
) -> Result<(), SyncFailure> {
    let store = state.store();
    let _lock = state.lock_twin(connection.id, key).await;
    let twin = store
        .twin(connection.id, key)
        .await?
        .ok_or_else(|| twin_missing(connection, key))?;
    if !super::scope::contains(state, connection, key).await? {
        return Err(super::scope::outside(connection, key));
    }
    engine::send_again(state, connection, twin).await?;
    state.wake_delivery();
    Ok(())
}

/// Resolve and retry: marks the error resolved and runs what failed again.
pub async fn retry(state: &AppState, error_id: i64) -> Result<SyncError, SyncFailure> {
    let store = state.store();
    let error = store
        .sync_error(error_id)
        .await?
        .ok_or_else(|| tandem_store::StoreError::not_found("sync error", error_id))?;
    if let Some(request) = error.request_id {
        store
            .set_request_state(request, RequestState::Pending)
            .await?;
    } else if error.message.starts_with(engine::CONNECT_REFUSED) {
        // Nothing to run again: the link is gone, and a new Connect makes another.
    } else if error.remote_error.is_some() {
        // The remote reported it: it is retried there. Resolving it here only clears it.
    } else if let (Some(connection), Some(key)) = (error.connection_id, &error.local_key)
        && let Some(connection) = store.connection(connection).await?
    {
        if store.twin(connection.id, key).await?.is_some() {
            sync_again(state, &connection, key).await?;
        } else {
            // A Bulk Exalate failed to bring it: bring it now.
            engine::exalate(state, &connection, key).await?;
        }
    } else if let (Some(connection), None) = (error.connection_id, &error.local_key)
        && error
            .message
            .starts_with(crate::connections::delivery::DELIVERY_ERROR)
    {
        // Delivery to the remote failed: try now rather than when the backoff says.
        crate::connections::delivery::retry_now(state, connection);
    } else if error.impact == tandem_model::Impact::Node
        && error
            .message
            .starts_with(&crate::mirror::poll_error_prefix(state.view().kind()))
    {
        // The node could not poll its ServiceNow instance: poll now.
        state.poll_bridge_now();
    } else if let (None, Some(key)) = (error.connection_id, &error.local_key) {
        // The node's tracker refused a write (ServiceNow): write the item again.
        crate::mirror::retry_push(state, key).await?;
    }
    let resolved = store.resolve_sync_error(error_id).await?;
    state.wake_sync();
    Ok(resolved)
}

/// The trigger's query restricted to one item.
pub(crate) fn for_item(trigger: &Query, key: &ItemKey) -> Result<Query, SyncFailure> {
    let only = Query::parse(&format!("key = {key}"))
        .map_err(|e| SyncFailure::Apply(e.to_string()))?
        .filter
        .ok_or_else(|| SyncFailure::Apply("a key condition parsed to nothing".into()))?;
    Ok(Query {
        filter: Some(match &trigger.filter {
            Some(f) => Expr::And(Box::new(only), Box::new(f.clone())),
            None => only,
        }),
        order: Vec::new(),
    })
}

/// Parses a trigger's query (an ORDER BY only orders Bulk Exalate): the built-in tracker's
/// query language, or on a node that serves ServiceNow an encoded query.
pub fn parse_trigger(view: &super::item_json::View, text: &str) -> Result<Query, SyncFailure> {
    view.parse_trigger(text)
        .map_err(|e| SyncFailure::Apply(e.to_string()))
}

/// Adds a trigger to the connection once its query parses; the engine applies it from the next
/// change on (Bulk Exalate brings the current matches).
pub async fn add_trigger(
    state: &AppState,
    connection: &Connection,
    query: &str,
    active: bool,
    note: &str,
) -> Result<Trigger, SyncFailure> {
    parse_trigger(&state.view(), query)?;
    let trigger = state
        .store()
        .create_trigger(connection.id, query.trim(), active, note.trim())
        .await?;
    state.wake_sync();
    Ok(trigger)
}

/// Saves a changed trigger once its query parses.
pub async fn save_trigger(state: &AppState, mut trigger: Trigger) -> Result<Trigger, SyncFailure> {
    parse_trigger(&state.view(), &trigger.query)?;
    trigger.query = trigger.query.trim().to_owned();
    let trigger = state.store().update_trigger(&trigger).await?;
    state.wake_sync();
    Ok(trigger)
}

/// Whether an active trigger of the connection matches the item.
pub async fn matches_trigger(
    state: &AppState,
    triggers: &[Trigger],
    key: &ItemKey,
) -> Result<bool, SyncFailure> {
    for trigger in triggers.iter().filter(|t| t.active) {
        let Ok(query) = parse_trigger(&state.view(), &trigger.query) else {
            continue;
        };
        let found = state
            .store()
            .search_items(
                &for_item(&query, key)?,
                Page {
                    offset: 0,
                    limit: 1,
                },
                Timestamp::now(),
            )
            .await?;
        if found.total > 0 {
            return Ok(true);
        }
    }
    Ok(false)
}

/// What a clean-up of a connection touches (before it runs) or touched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CleanUp {
    /// Twins whose sync data is removed (the items stay on both sides).
    pub twins: u64,
    /// Changes still queued for the remote. Clean-up drops them (voids them in the queue, so
    /// the remote skips them: applied there just before the Clean-up they would only make
    /// unlinked copies) and reports how many, so none is lost silently.
    pub queued: u64,
}

/// What [`clean_up`] would touch now; nothing is written (the console's confirmation page and
/// `tandem sync cleanup` without `--yes` show it).
pub async fn clean_up_preview(
    state: &AppState,
    connection: &Connection,
) -> Result<CleanUp, SyncFailure> {
    let store = state.store();
    Ok(CleanUp {
        twins: store.twin_count(connection.id).await?,
        queued: queued_sync_events(state, connection).await?,
    })
}

/// Sync events (not control messages or acknowledgements) in the connection's queue.
async fn queued_sync_events(state: &AppState, connection: &Connection) -> Result<u64, SyncFailure> {
    Ok(state
        .store()
        .outbound_messages(connection.id, 0, 100_000)
        .await?
        .iter()
        .filter(|m| m.kind == engine::SYNC || m.kind == SYNC_CONNECT)
        .count() as u64)
}

/// The end of a Clean-up (`jobs`, which voided the queued changes and removed every twin):
/// until the remote says it took the Clean-up in, what it sent before is dropped here rather
/// than making second copies (see [`cleaning_up`]); the remote is told to clean up too.
pub async fn finish_clean_up(
    state: &AppState,
    connection: &Connection,
    twins: u64,
    queued: u64,
) -> Result<(), SyncFailure> {
    let store = state.store();
    store
        .set_setting(
            &cleanup_key(connection),
            &jiff::Timestamp::now().to_string(),
        )
        .await?;
    store
        .enqueue_message(connection.id, SYNC_CLEANUP, "{}")
        .await?;
    state.wake_delivery();
    tracing::info!(
        connection = %connection.name,
        twins,
        queued,
        "Clean-up: the connection's sync data is removed; the items stay."
    );
    Ok(())
}

/// The message kind that tells the remote to clean up too.
pub const SYNC_CLEANUP: &str = "sync_cleanup";

/// A queued message a Clean-up voided: the receiver skips it.
pub const SYNC_VOID: &str = "sync_void";

/// The message kind that answers [`SYNC_CLEANUP`]: everything the remote sends after it was
/// sent after its Clean-up.
pub const SYNC_CLEANED_UP: &str = "sync_cleaned_up";

fn cleanup_key(connection: &Connection) -> String {
    format!("sync.cleanup.{}", connection.id)
}

/// This side cleaned the connection up and the remote has not said yet that it took that in:
/// a change or Connect the remote sent for an item with no twin here was sent before, and is
/// dropped rather than applied (it would make a second copy of the item).
pub async fn cleaning_up(state: &AppState, connection: &Connection) -> Result<bool, SyncFailure> {
    Ok(state
        .store()
        .setting(&cleanup_key(connection))
        .await?
        .is_some())
}

/// The remote took this side's Clean-up in: its changes are applied again.
pub async fn cleaned_up_remotely(
    state: &AppState,
    connection: &Connection,
) -> Result<(), SyncFailure> {
    state
        .store()
        .delete_setting(&cleanup_key(connection))
        .await?;
    tracing::info!(connection = %connection.name, "The remote finished the Clean-up.");
    Ok(())
}

/// The remote cleaned up: remove this side's sync data of the connection too, and say so
/// (what this side sends from now on is after the Clean-up).
pub async fn apply_clean_up(state: &AppState, connection: &Connection) -> Result<(), SyncFailure> {
    let store = state.store();
    loop {
        let page = store.twins(connection.id, None, 500).await?;
        if page.is_empty() {
            break;
        }
        for twin in page {
            store.delete_twin(connection.id, &twin.local_key).await?;
        }
    }
    store
        .enqueue_message(connection.id, SYNC_CLEANED_UP, "{}")
        .await?;
    state.wake_delivery();
    Ok(())
}

/// What a test run of the incoming rules would do to an item; nothing is written.
#[derive(Debug, Clone, PartialEq)]
pub struct IncomingPreview {
    /// The item the rules leave (as the rules see items).
    pub item: serde_json::Value,
    /// Field by field: (field, before, after), only the fields that change.
    pub changes: Vec<(String, serde_json::Value, serde_json::Value)>,
    /// The comment and attachment changes the helpers decided, in words.
    pub comments: Vec<String>,
    pub attachments: Vec<String>,
    /// What the rules logged (`debug.info`, `debug.warn`), and the writes not sent.
    pub log: Vec<String>,
}

/// A Test run's clock as the admin gives it: `now` an instant (`2026-03-01T09:30:00Z`, or with
/// an offset) or a date and time read in `zone`, `zone` an IANA name (`Europe/Paris`; UTC when
/// empty) that is also the zone the rules use where they name none. The rules then see that
/// time (`new Date()`, `Instant.now()`) instead of the node's, so a Test run repeats. No `now`:
/// the node's clock (`None`); a zone without a time is refused, as it would fix nothing.
pub fn test_clock(
    now: Option<&str>,
    zone: Option<&str>,
) -> Result<Option<std::sync::Arc<dyn tandem_script::Clock>>, String> {
    let now = now.map(str::trim).filter(|n| !n.is_empty());
    let zone = zone.map(str::trim).filter(|z| !z.is_empty());
    let Some(now) = now else {
        return match zone {
            Some(_) => Err("a time zone fixes nothing without a time: give the time too".into()),
            None => Ok(None),
        };
    };
    let tz = match zone {
        Some(name) => jiff::tz::TimeZone::get(name).map_err(|_| {
            format!("'{name}' is not a time zone (write an IANA name such as Europe/Paris)")
        })?,
        None => jiff::tz::TimeZone::UTC,
    };
    let instant = match now.parse::<jiff::Timestamp>() {
        Ok(t) => t,
        Err(_) => now
            .parse::<jiff::civil::DateTime>()
            .ok()
            .and_then(|dt| dt.to_zoned_datetime(tz.clone()).ok())
            .map(|z| z.timestamp())
            .ok_or_else(|| {
                format!(
                    "'{now}' is not a time: write 2026-03-01T09:30:00Z, with an offset, or a date and time in the zone given"
                )
            })?,
    };
    Ok(Some(std::sync::Arc::new(tandem_script::FixedClock {
        now: instant,
        zone: tz,
    })))
}

/// Test run of the outgoing rules: the replica they produce for a local item, at the time of
/// `clock` when given.
pub async fn test_outgoing(
    connection: &Connection,
    state: &AppState,
    key: &ItemKey,
    clock: Option<std::sync::Arc<dyn tandem_script::Clock>>,
) -> Result<serde_json::Value, SyncFailure> {
    let item = state
        .store()
        .item(key)
        .await?
        .ok_or_else(|| SyncFailure::Apply(format!("there is no item {key}")))?;
    Ok(engine::test_outgoing_replica(state, connection, &item, clock).await?)
}

/// Test run of the incoming rules: what they would change on a local item (or create, without
/// one) given a replica, at the time of `clock` when given. Nothing is written.
pub async fn test_incoming(
    state: &AppState,
    connection: &Connection,
    replica: serde_json::Value,
    key: Option<&ItemKey>,
    clock: Option<std::sync::Arc<dyn tandem_script::Clock>>,
) -> Result<IncomingPreview, SyncFailure> {
    let store = state.store();
    let (before, comment_twins, attachment_twins, previous) = match key {
        Some(key) => {
            let item = store
                .item(key)
                .await?
                .ok_or_else(|| SyncFailure::Apply(format!("there is no item {key}")))?;
            let twin = store.twin(connection.id, key).await?;
            let comments = store.comment_twins(connection.id, key).await?;
            let attachments = store.attachment_twins(connection.id, key).await?;
            (
                state.view().item_json(&item),
                comments
                    .iter()
                    .map(tandem_model::CommentLink::twin)
                    .collect(),
                attachments
                    .iter()
                    .map(tandem_model::AttachmentLink::twin)
                    .collect(),
                twin.and_then(|t| t.last_received)
                    .and_then(|p| serde_json::from_str(&p).ok()),
            )
        }
        None => (state.view().blank_item_json(), Vec::new(), Vec::new(), None),
    };
    let input = super::rules::IncomingInput {
        replica,
        previous,
        first_sync: key.is_none(),
        item: before.clone(),
        comment_twins,
        attachment_twins,
        journals: state.view().journals(),
    };
    let source = connection.incoming_script.clone();
    // Nothing is written: httpClient writes are logged, not sent.
    let env = engine::helper_env(state, connection).with_writes(super::helpers::Writes::Simulate);
    let env = match clock {
        Some(clock) => env.with_clock(clock),
        None => env,
    };
    let outcome = tokio::task::spawn_blocking(move || super::rules::incoming(&source, input, &env))
        .await
        .map_err(|e| SyncFailure::Apply(format!("the rules stopped unexpectedly: {e}")))??;
    let mut changes = Vec::new();
    if let (Some(after), Some(old)) = (outcome.item.as_object(), before.as_object()) {
        for (field, value) in after {
            let was = old.get(field).cloned().unwrap_or(serde_json::Value::Null);
            if field != "comments" && field != "attachments" && was != *value {
                changes.push((field.clone(), was, value.clone()));
            }
        }
    }
    let comments = outcome
        .comment_ops
        .iter()
        .map(|op| match op {
            tandem_model::CommentOp::Add { body, internal, .. } => {
                format!(
                    "add {}comment: {body}",
                    if *internal { "internal " } else { "" }
                )
            }
            tandem_model::CommentOp::Edit { local_id, body, .. } => {
                format!("edit comment {local_id}: {body}")
            }
            tandem_model::CommentOp::Delete { local_id } => format!("delete comment {local_id}"),
        })
        .collect();
    let attachments = outcome
        .attachment_ops
        .iter()
        .map(|op| match op {
            tandem_model::AttachmentOp::Add { filename, .. } => {
                format!("add attachment {filename}")
            }
            tandem_model::AttachmentOp::Link { local_id, .. } => {
                format!("link attachment {local_id}")
            }
            tandem_model::AttachmentOp::Remove { local_id } => {
                format!("remove attachment {local_id}")
            }
        })
        .collect();
    let mut log = outcome.log;
    for added in &outcome.new_comments {
        log.push(format!(
            "test run: commentHelper.addComment would add a {}comment: {}",
            if added.internal { "internal " } else { "" },
            added.body
        ));
    }
    if outcome.sync_back {
        log.push("test run: syncHelper.syncBackAfterProcessing() would send this side's replica back once applied".into());
    }
    if outcome.unexalate {
        log.push("test run: syncHelper.unExalateAfterProcessing() would stop syncing the item once applied".into());
    }
    Ok(IncomingPreview {
        item: outcome.item,
        changes,
        comments,
        attachments,
        log,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_test_runs_clock_is_an_instant_or_a_time_in_a_zone() {
        assert!(test_clock(None, None).unwrap().is_none());
        assert!(test_clock(Some(" "), Some("")).unwrap().is_none());
        let utc = test_clock(Some("2026-03-01T09:30:00Z"), None)
            .unwrap()
            .unwrap();
        assert_eq!(utc.now().to_string(), "2026-03-01T09:30:00Z");
        assert_eq!(utc.time_zone().iana_name(), Some("UTC"));
        let paris = test_clock(Some("2026-03-01T09:30"), Some("Europe/Paris"))
            .unwrap()
            .unwrap();
        assert_eq!(paris.now().to_string(), "2026-03-01T08:30:00Z");
        let e = test_clock(None, Some("Europe/Paris")).err().unwrap();
        assert!(e.contains("give the time too"), "{e}");
        let e = test_clock(Some("tomorrow"), None).err().unwrap();
        assert!(e.contains("'tomorrow' is not a time"), "{e}");
        let e = test_clock(Some("2026-03-01T09:30:00Z"), Some("Mars/Olympus"))
            .err()
            .unwrap();
        assert!(e.contains("'Mars/Olympus' is not a time zone"), "{e}");
    }

    #[test]
    fn a_trigger_parses_with_or_without_order_by() {
        assert!(
            parse_trigger(
                &super::super::item_json::View::builtin(),
                "project = SUP AND labels = escalate"
            )
            .is_ok()
        );
        assert!(
            parse_trigger(
                &super::super::item_json::View::builtin(),
                "project = SUP ORDER BY created"
            )
            .is_ok()
        );
    }

    #[test]
    fn an_empty_trigger_is_refused_with_an_example() {
        let e = parse_trigger(&super::super::item_json::View::builtin(), "  ")
            .unwrap_err()
            .to_string();
        assert!(e.contains("project = SUP"), "{e}");
    }

    #[test]
    fn a_malformed_trigger_names_the_parser_problem() {
        let e = parse_trigger(&super::super::item_json::View::builtin(), "project = = SUP")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("the trigger: "), "{e}");
    }
}
