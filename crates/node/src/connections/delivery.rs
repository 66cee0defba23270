//! Delivery of queued node-to-node messages: pushes each connection's queue to the remote
//! when this node may call it, and polls the initiator when this node is a private acceptor.
//! An unreachable remote is retried with exponential backoff and jitter, by itself; a remote
//! that refuses this node's signature puts the connection in Error with the reason. Either is
//! one connection-impact sync error while it lasts (its message kept up to date: since when,
//! next try), resolved by itself when a round succeeds; Resolve and retry on it tries now.

use std::collections::BTreeMap;
use std::time::Duration;

use tandem_model::{Connection, ConnectionRole, ConnectionStatus, Impact, NewSyncError};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::client::{self, CallError};
use super::wire;
use crate::state::AppState;

/// How often a private acceptor asks the initiator for messages.
pub const POLL_EVERY: Duration = Duration::from_secs(1);
/// How long delivery waits after being woken, for the messages queued right after.
const GATHER: Duration = Duration::from_millis(3);
const FIRST_RETRY: Duration = Duration::from_secs(1);
const LONGEST_RETRY: Duration = Duration::from_secs(60);
/// Status reasons this module sets start with this, so it knows which Error it may clear.
const AUTH_FAILED: &str = "authentication with the remote node failed: ";

/// Sync errors this module records start with this, so it finds and resolves its own.
pub const DELIVERY_ERROR: &str = "Delivery: ";
/// Failed rounds in a row before an unreachable remote becomes a sync error (one blip, such as
/// the remote restarting, is not worth an admin's attention).
const FAILURES_BEFORE_ERROR: u32 = 2;

/// How delivery to one connection's remote goes, kept in [`AppState`] so the Sync queue page
/// and Resolve and retry see it. In memory: a restart starts with a clean slate (and finds its
/// open delivery error again in the store).
#[derive(Clone, Debug, Default)]
pub struct Link {
    /// When the next round may run and the delay that led to it (backoff).
    next: Option<(Instant, Duration)>,
    /// The same moment on the wall clock, for people.
    pub next_try: Option<jiff::Timestamp>,
    /// Since when rounds fail, when they do.
    pub failing_since: Option<jiff::Timestamp>,
    /// Rounds failed in a row.
    pub failures: u32,
    pub last_error: Option<String>,
    /// A round is talking to the remote now.
    pub delivering: bool,
    /// The open sync error that says delivery fails.
    error_id: Option<i64>,
    /// How often each queued message (by seq) was sent without being acknowledged yet.
    pub attempts: BTreeMap<i64, u32>,
}

impl Link {
    fn ready(&self, now: Instant) -> bool {
        self.next.is_none_or(|(at, _)| at <= now)
    }

    /// Counts a failed round; returns how long until the next one.
    fn failed(&mut self, now: Instant, error: String) -> Duration {
        let delay = self
            .next
            .map_or(FIRST_RETRY, |(_, d)| (d * 2).min(LONGEST_RETRY));
        // Up to a quarter more, so many nodes retrying do not retry in step.
        let mut byte = [0u8; 1];
        let _ = getrandom::fill(&mut byte);
        let wait = delay + delay.mul_f64(f64::from(byte[0]) / 1024.0);
        self.next = Some((now + wait, delay));
        let wall = jiff::Timestamp::now();
        self.next_try = wall
            .checked_add(jiff::SignedDuration::try_from(wait).unwrap_or_default())
            .ok();
        self.failing_since.get_or_insert(wall);
        self.failures += 1;
        self.last_error = Some(error);
        wait
    }

    /// A round succeeded: returns the open delivery error to resolve, if any.
    fn succeeded(&mut self) -> Option<i64> {
        self.next = None;
        self.next_try = None;
        self.failing_since = None;
        self.failures = 0;
        self.last_error = None;
        self.error_id.take()
    }
}

/// Where an outgoing message of the connection stands, as the Sync queue page shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventStatus {
    /// In words: queued, delivering, waiting for the remote — next try at …, blocked — why.
    pub status: String,
    /// `queued`, `delivering`, `waiting` or `blocked`, for the page's styling.
    pub class: &'static str,
    /// How often it was sent without being acknowledged (since this node started).
    pub attempts: u32,
    /// Why the last round failed, while rounds fail.
    pub last_error: Option<String>,
}

/// The status of the connection's queued message `seq` of this `kind`.
pub fn event_status(connection: &Connection, link: &Link, seq: i64, kind: &str) -> EventStatus {
    let attempts = link.attempts.get(&seq).copied().unwrap_or(0);
    let last_error = link.last_error.clone();
    let blocked = |why: &str| EventStatus {
        status: format!("blocked — {why}"),
        class: "blocked",
        attempts,
        last_error: last_error.clone(),
    };
    match connection.status {
        ConnectionStatus::Pending => return blocked("the invitation is not accepted yet"),
        ConnectionStatus::Deactivated if kind != wire::CONTROL => {
            return blocked("the connection is deactivated");
        }
        _ => {}
    }
    if connection.role == ConnectionRole::Local {
        return EventStatus {
            status: "queued".into(),
            class: "queued",
            attempts,
            last_error: None,
        };
    }
    if !connection.can_call_remote() {
        return EventStatus {
            status: "waiting for the remote to fetch it (a private connection)".into(),
            class: "waiting",
            attempts,
            last_error: None,
        };
    }
    if link.delivering && (attempts > 0 || link.failures == 0) {
        return EventStatus {
            status: "delivering".into(),
            class: "delivering",
            attempts,
            last_error,
        };
    }
    match link.next_try {
        Some(next) if link.failures > 0 => EventStatus {
            status: format!("waiting for the remote — next try at {}", seconds(next)),
            class: "waiting",
            attempts,
            last_error,
        },
        _ => EventStatus {
            status: "queued".into(),
            class: "queued",
            attempts,
            last_error: None,
        },
    }
}

/// Resolve and retry on a delivery error: the next round runs now, whatever the backoff says.
pub fn retry_now(state: &AppState, connection: Uuid) {
    state.update_delivery(connection, |link| {
        link.next = None;
        link.next_try = None;
        link.error_id = None;
    });
    state.wake_delivery();
}

/// A time to the second, as messages show it.
fn seconds(at: jiff::Timestamp) -> jiff::Timestamp {
    jiff::Timestamp::from_second(at.as_second()).unwrap_or(at)
}

/// After a restart: the delivery errors still open are this run's to resolve or update.
async fn adopt_open_errors(state: &AppState) {
    let Ok(errors) = state.store().sync_errors(false, 1000).await else {
        return;
    };
    for error in errors {
        if let Some(connection) = error.connection_id
            && error.message.starts_with(DELIVERY_ERROR)
        {
            state.update_delivery(connection, |link| {
                link.error_id.get_or_insert(error.id);
                link.failing_since.get_or_insert(error.at);
            });
        }
    }
}

/// Runs until `cancel` fires.
pub async fn run(state: AppState, cancel: CancellationToken) {
    adopt_open_errors(&state).await;
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            () = state.delivery_woken() => {
                // Messages are often queued in bursts (a Bulk Exalate, a step of the engine):
                // a moment's wait sends them as one batch rather than one request each.
                tokio::time::sleep(GATHER).await;
            }
            () = tokio::time::sleep(POLL_EVERY) => {}
        }
        let connections = match state.store().connections().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "Cannot read the connections to deliver messages.");
                continue;
            }
        };
        for connection in connections {
            let _round = state.delivery_round().await;
            if connection.role == ConnectionRole::Local {
                if let Err(e) = deliver_locally(&state, &connection).await {
                    tracing::warn!(connection = %connection.name, error = %e, "Local delivery failed.");
                }
                continue;
            }
            if connection.status == ConnectionStatus::Pending
                || connection.remote.is_none()
                || !state.delivery_link(connection.id).ready(Instant::now())
            {
                continue;
            }
            state.update_delivery(connection.id, |link| link.delivering = true);
            let result = exchange(&state, &connection).await;
            state.update_delivery(connection.id, |link| link.delivering = false);
            after_exchange(&state, &connection, result).await;
        }
    }
}

/// One round with the remote: push what waits, and poll when this node is a private
/// acceptor.
async fn exchange(state: &AppState, connection: &Connection) -> Result<(), CallError> {
    if connection.can_call_remote() {
        push(state, connection).await?;
    }
    if connection.role == ConnectionRole::Acceptor && connection.private {
        poll(state, connection).await?;
    }
    Ok(())
}

async fn after_exchange(state: &AppState, connection: &Connection, result: Result<(), CallError>) {
    match result {
        Ok(()) => {
            if let Some(error) = state.update_delivery(connection.id, Link::succeeded) {
                match state.store().resolve_sync_error(error).await {
                    Ok(_) => tracing::info!(
                        connection = %connection.name,
                        "Delivery to the remote node works again; its sync error is resolved."
                    ),
                    Err(e) => tracing::warn!(error = %e, "A delivery error could not be resolved."),
                }
            }
            let failed_before = connection.status == ConnectionStatus::Error
                && connection
                    .status_reason
                    .as_deref()
                    .is_some_and(|r| r.starts_with(AUTH_FAILED));
            if failed_before {
                set_status(state, connection.id, ConnectionStatus::Active, None).await;
            }
        }
        Err(e) if e.is_auth() => {
            let wait = state.update_delivery(connection.id, |link| {
                link.failed(Instant::now(), e.to_string())
            });
            tracing::warn!(
                connection = %connection.id,
                name = %connection.name,
                reason = %e,
                retry_in = ?wait,
                "The remote node refused this node's request."
            );
            if connection.status == ConnectionStatus::Active {
                set_status(
                    state,
                    connection.id,
                    ConnectionStatus::Error,
                    Some(format!("{AUTH_FAILED}{e}")),
                )
                .await;
            }
            let link = state.delivery_link(connection.id);
            let message = format!(
                "{DELIVERY_ERROR}the remote node refuses this node's requests since {}: {e}. \
                 The connection is in Error until a request succeeds (after the remote's \
                 connection is fixed, or made again); next try at {}.",
                seconds(link.failing_since.unwrap_or_else(jiff::Timestamp::now)),
                link.next_try
                    .map_or_else(|| "once woken".to_owned(), |t| seconds(t).to_string()),
            );
            report(state, connection, &link, message).await;
        }
        Err(e) => {
            let reason = failure_reason(&e);
            let wait = state.update_delivery(connection.id, |link| {
                link.failed(Instant::now(), reason.clone())
            });
            tracing::info!(
                connection = %connection.id,
                name = %connection.name,
                reason = %reason,
                retry_in = ?wait,
                "Delivery to the remote node failed; it resumes by itself."
            );
            let link = state.delivery_link(connection.id);
            if link.failures < FAILURES_BEFORE_ERROR {
                return;
            }
            let at = connection
                .remote_url()
                .map_or_else(String::new, |url| format!(" at {url}"));
            let since = seconds(link.failing_since.unwrap_or_else(jiff::Timestamp::now));
            let what = match &e {
                CallError::Refused { status, message } => format!(
                    "the remote node{at} answers with an error since {since} (HTTP {status}): \
                     the remote node says: {message}"
                ),
                CallError::ThisNode(_) => {
                    format!("this node cannot deliver to the remote node{at} since {since}: {e}")
                }
                _ => format!("the remote node{at} cannot be reached since {since} ({e})"),
            };
            let message = format!(
                "{DELIVERY_ERROR}{what}; {} attempts so far, next try at {}. Delivery resumes \
                 by itself; Resolve and retry tries now.",
                link.failures,
                link.next_try
                    .map_or_else(|| "once woken".to_owned(), |t| seconds(t).to_string()),
            );
            report(state, connection, &link, message).await;
        }
    }
}

/// Why a round failed, as the Sync queue page and the log show it: an answer with an error is
/// the remote's own reason, told as such (its disk is full, say), not "cannot be reached".
fn failure_reason(e: &CallError) -> String {
    match e {
        CallError::Refused { status, message } => {
            format!("the remote node says (HTTP {status}): {message}")
        }
        other => other.to_string(),
    }
}

/// One sync error per connection while delivery fails: recorded (and the webhook told) the
/// first time, its message brought up to date afterwards.
async fn report(state: &AppState, connection: &Connection, link: &Link, message: String) {
    let store = state.store();
    if let Some(id) = link.error_id {
        match store.set_sync_error_message(id, &message).await {
            Ok(error) if error.resolved.is_none() => return,
            // Resolved meanwhile (Resolve and retry): a new one says it fails again.
            Ok(_) | Err(tandem_store::StoreError::NotFound { .. }) => {}
            Err(e) if e.is_storage_fault() => {
                crate::storage::report(state, "delivery", &e, crate::storage::FIRST_PAUSE);
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, "A delivery error could not be updated.");
                return;
            }
        }
    }
    let recorded = store
        .record_sync_error(NewSyncError {
            impact: Impact::Connection,
            connection_id: Some(connection.id),
            local_key: None,
            remote_key: None,
            request_id: None,
            message,
            script_trace: None,
            remote_error: None,
        })
        .await;
    match recorded {
        Ok(error) => {
            state.update_delivery(connection.id, |l| l.error_id = Some(error.id));
            crate::sync::engine::notify_webhook(state, Some(connection), &error);
        }
        Err(e) if e.is_storage_fault() => {
            crate::storage::report(state, "delivery", &e, crate::storage::FIRST_PAUSE);
        }
        Err(e) => tracing::error!(error = %e, "A delivery error could not be recorded."),
    }
}

async fn set_status(state: &AppState, id: Uuid, status: ConnectionStatus, reason: Option<String>) {
    let Ok(Some(mut connection)) = state.store().connection(id).await else {
        return;
    };
    connection.status = status;
    connection.status_reason = reason;
    connection.updated = jiff::Timestamp::now();
    // A concurrent change wins: the next round looks again.
    let _ = state.store().update_connection(&connection).await;
}

/// Sends the connection's queue to the remote, batch by batch, dropping what it acknowledges.
async fn push(state: &AppState, connection: &Connection) -> Result<(), CallError> {
    let Some(url) = connection.remote_url() else {
        return Ok(());
    };
    let keys =
        super::keys(state, connection).map_err(|e| CallError::BadSignature(e.to_string()))?;
    loop {
        let queued = state
            .store()
            .outbound_messages(connection.id, 0, wire::BATCH)
            .await
            .map_err(|e| CallError::ThisNode(e.to_string()))?;
        // A deactivated connection still says so (control messages); its changes wait, as do
        // those of a connection the node's plan paused. The status is read after the queue: a
        // change queued after a deactivation always sees it (the round may have started
        // before).
        let current = state
            .store()
            .connection(connection.id)
            .await
            .map_err(|e| CallError::ThisNode(e.to_string()))?;
        let current = current.as_ref().unwrap_or(connection);
        let queued: Vec<_> = if current.status == ConnectionStatus::Deactivated
            || crate::sync::engine::paused_by_plan(current)
        {
            queued
                .into_iter()
                .take_while(|m| m.kind == wire::CONTROL)
                .collect()
        } else {
            queued
        };
        let queued = super::fit_batch(queued);
        let Some(last) = queued.last().map(|m| m.seq) else {
            return Ok(());
        };
        state.update_delivery(connection.id, |link| {
            for m in &queued {
                *link.attempts.entry(m.seq).or_default() += 1;
            }
        });
        let batch = wire::MessageBatch {
            messages: queued.into_iter().map(super::to_wire).collect(),
        };
        state.metrics().delivery_attempt(&connection.name);
        let ack: wire::BatchAck =
            client::signed_post(state.http(), url, wire::MESSAGES_PATH, &keys, &batch)
                .await
                .inspect_err(|_| state.metrics().delivery_failure(&connection.name))?;
        state
            .store()
            .ack_messages(connection.id, ack.acked)
            .await
            .map_err(|e| CallError::ThisNode(e.to_string()))?;
        state.update_delivery(connection.id, |link| {
            link.attempts = link.attempts.split_off(&(ack.acked + 1));
        });
        if ack.acked < last {
            // The remote stopped short (a gap on its side); the next round sends again.
            return Ok(());
        }
    }
}

/// Asks the initiator for its queued messages and applies them; the next poll acknowledges.
async fn poll(state: &AppState, connection: &Connection) -> Result<(), CallError> {
    let Some(url) = connection.remote_url() else {
        return Ok(());
    };
    let keys =
        super::keys(state, connection).map_err(|e| CallError::BadSignature(e.to_string()))?;
    let database = |e: super::ConnectionError| CallError::ThisNode(e.to_string());
    for _ in 0..10 {
        let ack = state
            .store()
            .inbound_seq(connection.id)
            .await
            .map_err(|e| CallError::ThisNode(e.to_string()))?;
        state.metrics().delivery_attempt(&connection.name);
        let answer: wire::PollAnswer = client::signed_post(
            state.http(),
            url,
            wire::POLL_PATH,
            &keys,
            &wire::PollRequest { ack },
        )
        .await
        .inspect_err(|_| state.metrics().delivery_failure(&connection.name))?;
        if answer.messages.is_empty() {
            return Ok(());
        }
        super::receive(state, connection, answer.messages)
            .await
            .map_err(database)?;
    }
    Ok(())
}

/// A local connection's two sides are this node: its queue is received here, in order.
async fn deliver_locally(
    state: &AppState,
    connection: &Connection,
) -> Result<(), super::ConnectionError> {
    if connection.status == ConnectionStatus::Deactivated {
        return Ok(());
    }
    loop {
        let queued = state
            .store()
            .outbound_messages(connection.id, 0, wire::BATCH)
            .await?;
        if queued.is_empty() {
            return Ok(());
        }
        let first = queued[0].seq;
        let messages = queued.into_iter().map(super::to_wire).collect();
        let acked = super::receive(state, connection, messages).await?;
        state.store().ack_messages(connection.id, acked).await?;
        if acked < first {
            // Nothing was taken (a gap): the next round looks again.
            return Ok(());
        }
    }
}

/// Pushes the connection's queue right away, waiting at most a few seconds: for a delete,
/// whose connection is gone afterwards.
pub async fn push_now(state: &AppState, connection: &Connection) -> Result<(), CallError> {
    tokio::time::timeout(Duration::from_secs(5), push(state, connection))
        .await
        .map_err(|_| CallError::Unreachable("no answer in time".into()))?
}

#[cfg(test)]
mod tests {
    use tandem_model::{Mode, RemoteNode};

    use super::*;

    fn initiator(status: ConnectionStatus) -> Connection {
        let now = jiff::Timestamp::now();
        Connection {
            id: Uuid::now_v7(),
            name: "desk".into(),
            description: String::new(),
            mode: Mode::Script,
            role: ConnectionRole::Initiator,
            local_short_name: "sup".into(),
            remote_short_name: "eng".into(),
            remote: Some(RemoteNode {
                node_id: Uuid::now_v7(),
                name: "B".into(),
                url: Some("http://127.0.0.1:1".into()),
                tracker: "builtin".into(),
                public_key: String::new(),
            }),
            private: false,
            status,
            status_reason: None,
            remote_paused: false,
            invitation: None,
            sealed_root: None,
            outgoing_script: String::new(),
            incoming_script: String::new(),
            target_project: None,
            created: now,
            updated: now,
            last_sync: None,
            version: 1,
        }
    }

    #[test]
    fn an_event_says_whether_it_waits_is_sent_or_is_blocked() {
        let active = initiator(ConnectionStatus::Active);
        let mut link = Link::default();
        assert_eq!(event_status(&active, &link, 1, "sync").status, "queued");

        link.attempts.insert(1, 1);
        link.delivering = true;
        let sending = event_status(&active, &link, 1, "sync");
        assert_eq!((sending.class, sending.attempts), ("delivering", 1));

        link.delivering = false;
        link.failed(Instant::now(), "not reachable (refused)".into());
        let waiting = event_status(&active, &link, 1, "sync");
        assert_eq!(waiting.class, "waiting");
        assert!(
            waiting
                .status
                .starts_with("waiting for the remote — next try at "),
            "{}",
            waiting.status
        );
        assert_eq!(
            waiting.last_error.as_deref(),
            Some("not reachable (refused)")
        );
        // A later event, never sent, waits behind it for the same remote.
        assert_eq!(event_status(&active, &link, 2, "sync").attempts, 0);

        let off = initiator(ConnectionStatus::Deactivated);
        assert_eq!(
            event_status(&off, &link, 1, "sync").status,
            "blocked — the connection is deactivated"
        );
        assert_ne!(event_status(&off, &link, 1, wire::CONTROL).class, "blocked");

        assert_eq!(link.succeeded(), None);
        assert_eq!(event_status(&active, &link, 1, "sync").class, "queued");
    }
}
