//! Failures both sides can see. When this side cannot apply a change the remote sent (its
//! incoming rules throw, the tracker refuses, no target project is chosen), the item's error
//! is recorded here, and the remote is told with a `sync_failed` message ([`FailureReport`]):
//! the sender records it as its item's error, naming the remote's reason and the error's id
//! on the remote's Errors page, where it is retried. The sender's error is resolved when an
//! acknowledgement of the item comes (the remote applied a change of it since).
//!
//! The report is untrusted input on the sender: it is read with limits, reaches only an item
//! under sync on the connection it came on, and never panics. It rides the connection's
//! ordered queue, so it comes after the acknowledgements of the item's earlier changes and
//! before those of later ones. Older nodes ignore a message kind they do not know (they log
//! it), so it goes to every remote; a payload of a later version (`v` other than 1) is
//! ignored here the same way.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tandem_model::{Connection, ConnectionRole, Impact, IncomingRequest, ItemKey, NewSyncError};

use super::engine::{SYNC_FAILED, SyncFailure, notify_webhook};
use crate::state::AppState;

/// The payload version this node writes and reads.
pub const VERSION: u32 = 1;
/// The most characters of the reason a report carries (the rest is cut, with an ellipsis).
pub const MAX_REASON: usize = 1000;
/// The longest item key a report may name.
const MAX_KEY: usize = 64;

/// What a `sync_failed` message carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureReport {
    /// The payload's version: [`VERSION`].
    pub v: u32,
    /// The receiver's item (the sender of the change that failed).
    pub your_key: String,
    /// The reporting side's item, when it has one (a failed first sync made none).
    pub my_key: Option<String>,
    /// The error's id on the reporting side's Errors page.
    pub error_id: i64,
    /// Why it failed, as the reporting side's Errors page says it.
    pub reason: String,
}

/// The reason cut to [`MAX_REASON`] characters.
fn bounded(reason: &str) -> String {
    match reason.char_indices().nth(MAX_REASON) {
        Some((cut, _)) => format!("{}…", &reason[..cut]),
        None => reason.to_owned(),
    }
}

/// Tells the remote that its change of an item failed here (`error`, recorded for `request`).
/// Best effort: a report that cannot be queued is logged, and the error stays on this side.
/// A local connection has both sides here: nothing to tell.
pub async fn report(
    state: &AppState,
    connection: &Connection,
    request: &IncomingRequest,
    error: &tandem_model::SyncError,
) {
    if connection.role == ConnectionRole::Local {
        return;
    }
    let Some(your_key) = request.remote_key.clone() else {
        return;
    };
    let report = FailureReport {
        v: VERSION,
        your_key,
        my_key: error.local_key.as_ref().map(ToString::to_string),
        error_id: error.id,
        reason: bounded(&error.message),
    };
    let payload = match serde_json::to_string(&report) {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(error = %e, "A failure report could not be written.");
            return;
        }
    };
    match state
        .store()
        .enqueue_message(connection.id, SYNC_FAILED, &payload)
        .await
    {
        Ok(_) => state.wake_delivery(),
        Err(e) => tracing::warn!(
            connection = %connection.name,
            error = %e,
            "The remote could not be told that its change failed here."
        ),
    }
}

/// A report from the remote: its error becomes this side's item's error. A report this node
/// cannot read, of another version, or about an item not under sync on this connection is
/// logged and dropped, never an error of its own (it would block the item's later messages).
pub async fn reported(
    state: &AppState,
    connection: &Connection,
    payload: &Value,
) -> Result<(), SyncFailure> {
    let drop = |why: &str| {
        tracing::warn!(connection = %connection.name, reason = why, "Dropped a failure report from the remote.");
        Ok(())
    };
    if payload.get("v").and_then(Value::as_u64) != Some(u64::from(VERSION)) {
        return drop("a version this node does not read");
    }
    let Ok(report) = serde_json::from_value::<FailureReport>(payload.clone()) else {
        return drop("malformed");
    };
    if report.your_key.len() > MAX_KEY || report.my_key.as_ref().is_some_and(|k| k.len() > MAX_KEY)
    {
        return drop("a key too long");
    }
    if report.error_id < 1 {
        return drop("no error id");
    }
    let Ok(key) = report.your_key.parse::<ItemKey>() else {
        return drop("not an item key");
    };
    // Only an item under sync on this connection: a report reaches nothing else.
    if state.store().twin(connection.id, &key).await?.is_none() {
        return drop("no twin of this connection has that key");
    }
    let store = state.store();
    // A report replaces the one before (the remote's Resolve and retry failed again).
    store.resolve_reported_errors(connection.id, &key).await?;
    let message = format!(
        "{remote} could not apply this item's change: {reason} Fix it on {remote}'s side and \
         pick Resolve and retry there (its error {id}); this error closes by itself once {remote} \
         applies a change of the item.",
        remote = connection.remote_short_name,
        reason = with_stop(&bounded(&report.reason)),
        id = report.error_id,
    );
    let error = store
        .record_sync_error(NewSyncError {
            impact: Impact::Item,
            connection_id: Some(connection.id),
            local_key: Some(key.clone()),
            remote_key: report.my_key,
            request_id: None,
            message,
            script_trace: None,
            remote_error: Some(report.error_id),
        })
        .await?;
    tracing::warn!(connection = %connection.name, item = %key, remote_error = report.error_id, "The remote could not apply a change of the item.");
    notify_webhook(state, Some(connection), &error);
    Ok(())
}

/// The text ending with a full stop, so that the sentence after it reads as one.
fn with_stop(text: &str) -> String {
    let text = text.trim_end();
    if text.ends_with(['.', '!', '?', '…']) {
        text.to_owned()
    } else {
        format!("{text}.")
    }
}

/// The remote's Errors page, where a reported error is retried: `None` for a private remote,
/// whose console this node cannot link to.
pub fn remote_errors_page(connection: &Connection, remote_error: i64) -> Option<String> {
    connection.remote_url().map(|url| {
        format!(
            "{}/sync/errors#error-{remote_error}",
            url.trim_end_matches('/')
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_reason_is_cut_on_a_character_boundary() {
        let long = "é".repeat(MAX_REASON + 10);
        let cut = bounded(&long);
        assert_eq!(cut.chars().count(), MAX_REASON + 1);
        assert!(cut.ends_with('…'));
        assert_eq!(bounded("short"), "short");
    }

    #[test]
    fn a_report_reads_back_as_written() {
        let report = FailureReport {
            v: VERSION,
            your_key: "SUP-1".into(),
            my_key: None,
            error_id: 7,
            reason: "no target project".into(),
        };
        let json = serde_json::to_value(&report).expect("json");
        assert_eq!(json["v"], 1);
        assert_eq!(
            serde_json::from_value::<FailureReport>(json).expect("reads"),
            report
        );
    }
}
