//! Delivery of queued node-to-node messages: pushes each connection's queue to the remote
//! when this node may call it, and polls the initiator when this node is a private acceptor.
//! An unreachable remote is retried with exponential backoff and jitter, by itself; a remote
//! that refuses this node's signature puts the connection in Error with the reason.

use std::collections::HashMap;
use std::time::Duration;

use tandem_model::{Connection, ConnectionRole, ConnectionStatus};
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

#[derive(Default)]
struct Backoff {
    next: HashMap<Uuid, (Instant, Duration)>,
}

impl Backoff {
    fn ready(&self, id: Uuid, now: Instant) -> bool {
        self.next.get(&id).is_none_or(|(at, _)| *at <= now)
    }

    fn failed(&mut self, id: Uuid, now: Instant) -> Duration {
        let delay = self
            .next
            .get(&id)
            .map_or(FIRST_RETRY, |(_, d)| (*d * 2).min(LONGEST_RETRY));
        // Up to a quarter more, so many nodes retrying do not retry in step.
        let mut byte = [0u8; 1];
        let _ = getrandom::fill(&mut byte);
        let wait = delay + delay.mul_f64(f64::from(byte[0]) / 1024.0);
        self.next.insert(id, (now + wait, delay));
        wait
    }

    fn succeeded(&mut self, id: Uuid) {
        self.next.remove(&id);
    }
}

/// Runs until `cancel` fires.
pub async fn run(state: AppState, cancel: CancellationToken) {
    let mut backoff = Backoff::default();
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
            if connection.role == ConnectionRole::Local {
                if let Err(e) = deliver_locally(&state, &connection).await {
                    tracing::warn!(connection = %connection.name, error = %e, "Local delivery failed.");
                }
                continue;
            }
            if connection.status == ConnectionStatus::Pending
                || connection.remote.is_none()
                || !backoff.ready(connection.id, Instant::now())
            {
                continue;
            }
            let result = exchange(&state, &connection).await;
            after_exchange(&state, &connection, result, &mut backoff).await;
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

async fn after_exchange(
    state: &AppState,
    connection: &Connection,
    result: Result<(), CallError>,
    backoff: &mut Backoff,
) {
    match result {
        Ok(()) => {
            backoff.succeeded(connection.id);
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
            let wait = backoff.failed(connection.id, Instant::now());
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
        }
        Err(e) => {
            let wait = backoff.failed(connection.id, Instant::now());
            tracing::info!(
                connection = %connection.id,
                name = %connection.name,
                reason = %e,
                retry_in = ?wait,
                "The remote node cannot be reached; delivery will resume by itself."
            );
        }
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
            .map_err(|e| CallError::Unreachable(format!("this node's database: {e}")))?;
        // A deactivated connection still says so (control messages); its changes wait. The
        // status is read after the queue: a change queued after a deactivation always sees it
        // (the round may have started before).
        let status = state
            .store()
            .connection(connection.id)
            .await
            .map_err(|e| CallError::Unreachable(format!("this node's database: {e}")))?
            .map_or(connection.status, |c| c.status);
        let queued: Vec<_> = if status == ConnectionStatus::Deactivated {
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
        let batch = wire::MessageBatch {
            messages: queued.into_iter().map(super::to_wire).collect(),
        };
        let ack: wire::BatchAck =
            client::signed_post(state.http(), url, wire::MESSAGES_PATH, &keys, &batch).await?;
        state
            .store()
            .ack_messages(connection.id, ack.acked)
            .await
            .map_err(|e| CallError::Unreachable(format!("this node's database: {e}")))?;
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
    let database = |e: super::ConnectionError| CallError::Unreachable(format!("this node: {e}"));
    for _ in 0..10 {
        let ack = state
            .store()
            .inbound_seq(connection.id)
            .await
            .map_err(|e| CallError::Unreachable(format!("this node's database: {e}")))?;
        let answer: wire::PollAnswer = client::signed_post(
            state.http(),
            url,
            wire::POLL_PATH,
            &keys,
            &wire::PollRequest { ack },
        )
        .await?;
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
