//! Reconciliation (`tandem sync verify`): compares every twin of a connection with its remote
//! twin and reports each difference — and, asked to repair, fixes what can be fixed here.
//!
//! What is compared, twin by twin:
//! - *present on both sides*: a twin linked to a remote item has a twin there, and every twin
//!   of the remote linked to an item of this node has one here;
//! - *linked both ways*: my remote key is the remote twin's local key and its remote key is
//!   mine;
//! - *replicas agreeing*: what this side last sent is what the remote last received, and the
//!   other way round, compared by a digest of the replica ([`digest`]). Only when both sides
//!   are quiet (nothing queued, no request open): a message on its way makes them differ for a
//!   moment, which is no fault. A pass on a busy connection says so (`settled: false`) rather
//!   than report those.
//!
//! The remote answers `POST /node/v1/twins` ([`twins_page`]) for the connection the request is
//! signed with, a page at a time, with digests of the replicas, never their content. A private
//! remote (one that polls this node and is never called) cannot be asked: verify then checks
//! only this side (stranded twins) and says so in [`Reach::LocalOnly`]; run it on the private
//! node, which can ask this one. A local connection compares its two sides in this node.
//!
//! Repair: a twin stranded by a crash (active, nothing sent, nothing queued, no remote link —
//! what versions before `Store::write_twin_and_queue` could leave) and a replica the remote
//! never took are sent again; replicas that disagree are sent again whole (Sync again: this
//! side's values win the fields it sends); a link the remote has and this side lost is
//! restored. What cannot be fixed from here (a twin deleted on one side, a link the remote
//! holds wrongly, states that differ) is flagged: an item sync error, visible on the Errors
//! page, recorded once while it stays open.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use serde_json::Value;
use sha2::{Digest, Sha256};
use tandem_model::{
    Connection, ConnectionRole, ConnectionStatus, Impact, ItemKey, NewSyncError, RequestState,
    Twin, TwinState,
};
use tandem_store::StoreError;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::engine::{self, SyncFailure};
use crate::connections::client::{self, CallError};
use crate::connections::wire::{self, TwinsPage, TwinsRequest, WireTwin};
use crate::state::AppState;

/// The most pages of twins one pass reads from a remote (5 million twins): a remote that
/// never ends its pages cannot keep a pass going.
const MAX_PAGES: usize = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Sync(#[from] SyncFailure),
    /// The connection has no remote to compare with yet.
    #[error(
        "connection {name} is pending: its invitation was not accepted yet, so there is nothing to verify"
    )]
    Pending { name: String },
    /// A page request from the remote that this node cannot read.
    #[error("{0}")]
    BadRequest(String),
}

/// Whether the remote's twins were compared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    /// Both sides were compared.
    Compared,
    /// Only this side was checked; why.
    LocalOnly(String),
}

/// What kind of difference a pass found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Active, nothing sent, nothing queued, no remote link: nothing will ever send it.
    Stranded,
    /// Sent, but not acknowledged, and the remote has no twin of it (both sides quiet).
    Unacknowledged,
    /// Linked to a remote item the remote has no twin of.
    MissingOnRemote,
    /// The remote has a twin linked to an item of this node that has no twin here.
    MissingHere,
    /// The remote has a twin linked to this one, and this one has no link to it.
    UnlinkedHere,
    /// The remote twin this one is linked to is linked elsewhere, or nowhere.
    NotLinkedBack,
    /// One side syncs the twin and the other stopped it.
    StateDiffers,
    /// What one side last sent is not what the other last received.
    ReplicasDiffer,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Stranded => "stranded",
            Kind::Unacknowledged => "unacknowledged",
            Kind::MissingOnRemote => "missing_on_remote",
            Kind::MissingHere => "missing_here",
            Kind::UnlinkedHere => "unlinked_here",
            Kind::NotLinkedBack => "not_linked_back",
            Kind::StateDiffers => "state_differs",
            Kind::ReplicasDiffer => "replicas_differ",
        }
    }
}

/// What a repair did about one difference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Repair {
    /// The item's replica was queued again.
    Resent,
    /// The link the remote has was recorded here.
    Relinked,
    /// Cannot be fixed from here: this sync error says so.
    Flagged { error: i64 },
    /// The repair was tried and did not work; why.
    Failed(String),
}

/// One difference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    pub kind: Kind,
    /// This node's item, when the difference is about one.
    pub local_key: Option<ItemKey>,
    /// The remote's item, when known.
    pub remote_key: Option<String>,
    /// For people: what is wrong.
    pub detail: String,
    /// What a repair did (None: not asked to repair).
    pub repair: Option<Repair>,
}

/// The outcome of one pass over a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub connection: String,
    /// This node's twins of the connection.
    pub checked: u64,
    /// The remote's twins of the connection, when it was asked.
    pub remote_checked: Option<u64>,
    pub reach: Reach,
    /// Both sides were quiet, so replicas were compared.
    pub settled: bool,
    pub differences: Vec<Difference>,
}

/// A digest of a replica as JSON text: its SHA-256 over a canonical form (object keys sorted),
/// in hex, cut to 128 bits. Two sides that store one replica with keys in another order agree.
pub fn digest(replica: &str) -> String {
    fn canonical(value: &Value, out: &mut String) {
        match value {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                out.push('{');
                for (n, key) in keys.into_iter().enumerate() {
                    if n > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::String(key.clone()).to_string());
                    out.push(':');
                    canonical(&map[key], out);
                }
                out.push('}');
            }
            Value::Array(items) => {
                out.push('[');
                for (n, item) in items.iter().enumerate() {
                    if n > 0 {
                        out.push(',');
                    }
                    canonical(item, out);
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let text = match serde_json::from_str::<Value>(replica) {
        Ok(value) => {
            let mut out = String::with_capacity(replica.len());
            canonical(&value, &mut out);
            out
        }
        Err(_) => replica.to_owned(),
    };
    Sha256::digest(text.as_bytes())[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn wire_twin(twin: &Twin) -> WireTwin {
    WireTwin {
        key: twin.local_key.to_string(),
        remote_key: twin.remote_key.clone(),
        state: twin.state.as_str().to_owned(),
        sent: twin.last_sent.as_deref().map(digest),
        received: twin.last_received.as_deref().map(digest),
    }
}

/// Nothing of the connection waits on this node: no queued message, no open request.
async fn quiet(state: &AppState, connection_id: Uuid) -> Result<bool, StoreError> {
    let store = state.store();
    Ok(store.queued_count(connection_id).await? == 0
        && store
            .requests(
                Some(connection_id),
                &[RequestState::Pending, RequestState::Failed],
                1,
            )
            .await?
            .is_empty())
}

/// One page of this node's twins of `connection`, as `POST /node/v1/twins` answers the
/// connection's remote.
pub async fn twins_page(
    state: &AppState,
    connection: &Connection,
    request: &TwinsRequest,
) -> Result<TwinsPage, VerifyError> {
    let after = match request.after.as_deref() {
        Some(raw) => Some(raw.parse::<ItemKey>().map_err(|_| {
            VerifyError::BadRequest(format!(
                "'{raw}' is not an item key: a page of twins starts after one"
            ))
        })?),
        None => None,
    };
    let limit = request.limit.clamp(1, wire::TWINS_PAGE);
    let twins = state
        .store()
        .twins(connection.id, after.as_ref(), limit)
        .await?;
    let next = (twins.len() == limit as usize)
        .then(|| twins.last().map(|t| t.local_key.to_string()))
        .flatten();
    Ok(TwinsPage {
        twins: twins.iter().map(wire_twin).collect(),
        next,
        quiet: quiet(state, connection.id).await?,
    })
}

/// The remote's twins, by the remote's key, and whether every page said it was quiet.
struct RemoteTwins {
    twins: HashMap<String, WireTwin>,
    quiet: bool,
}

/// Reads every page of the remote's twins: over HTTP, or for a local connection from this
/// node. `Err` with the reason when the remote cannot be asked.
async fn remote_twins(
    state: &AppState,
    connection: &Connection,
) -> Result<Result<RemoteTwins, String>, VerifyError> {
    let mut all = RemoteTwins {
        twins: HashMap::new(),
        quiet: true,
    };
    let remote_name = connection
        .remote
        .as_ref()
        .map_or_else(|| "the remote node".to_owned(), |r| r.name.clone());
    let url = match (connection.role, connection.remote_url()) {
        (ConnectionRole::Local, _) => None,
        (_, Some(url)) => Some(url.to_owned()),
        (_, None) => {
            return Ok(Err(format!(
                "{remote_name} is a private node: it calls this node and is never called, so only this side's twins were checked; run `tandem sync verify` on {remote_name} to compare both sides"
            )));
        }
    };
    let keys = match &url {
        Some(_) => match crate::connections::keys(state, connection) {
            Ok(keys) => Some(keys),
            Err(e) => return Ok(Err(format!("the connection's keys: {e}"))),
        },
        None => None,
    };
    let mut after: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let request = TwinsRequest {
            after: after.clone(),
            limit: wire::TWINS_PAGE,
        };
        let page = match (&url, &keys) {
            (Some(url), Some(keys)) => {
                match client::signed_post::<TwinsPage>(
                    state.http(),
                    url,
                    wire::TWINS_PATH,
                    keys,
                    &request,
                )
                .await
                {
                    Ok(page) => page,
                    Err(e) => return Ok(Err(unreachable_reason(&remote_name, &e))),
                }
            }
            _ => twins_page(state, connection, &request).await?,
        };
        if page.twins.len() > wire::TWINS_PAGE as usize {
            return Ok(Err(format!(
                "{remote_name} answered a page of {} twins, more than the {} asked for",
                page.twins.len(),
                wire::TWINS_PAGE
            )));
        }
        all.quiet &= page.quiet;
        for twin in page.twins {
            all.twins.insert(twin.key.clone(), twin);
        }
        match page.next {
            Some(next) if Some(&next) != after.as_ref() => after = Some(next),
            _ => return Ok(Ok(all)),
        }
    }
    Ok(Err(format!(
        "{remote_name} answered more than {MAX_PAGES} pages of twins; the pass stopped"
    )))
}

fn unreachable_reason(remote: &str, e: &CallError) -> String {
    match e {
        CallError::Refused { status: 404, .. } => format!(
            "{remote} does not answer twin pages (an older Tandem): only this side's twins were checked; update it to compare both sides"
        ),
        other => format!(
            "{remote} could not be asked for its twins ({other}): only this side's twins were checked"
        ),
    }
}

/// Compares the connection's twins with the remote's and, with `repair`, fixes what it can.
pub async fn verify(
    state: &AppState,
    connection: &Connection,
    repair: bool,
) -> Result<Report, VerifyError> {
    if connection.status == ConnectionStatus::Pending {
        return Err(VerifyError::Pending {
            name: connection.name.clone(),
        });
    }
    let first = compare(state, connection).await?;
    // A difference seen between two quiet looks may still be a message that passed between
    // the looks (this side read its twins while a replica went out and came back): one found
    // again by a second pass is real.
    let mut report = if !first.differences.is_empty() {
        let second = compare(state, connection).await?;
        let differences = second
            .differences
            .iter()
            .filter(|d| first.differences.contains(d))
            .cloned()
            .collect();
        Report {
            settled: second.settled,
            differences,
            ..second
        }
    } else {
        first
    };
    if repair {
        let mut resent = false;
        for difference in &mut report.differences {
            let outcome = repair_one(state, connection, difference).await;
            resent |= outcome == Repair::Resent;
            difference.repair = Some(outcome);
        }
        if resent {
            state.wake_delivery();
        }
    }
    tracing::info!(
        connection = %connection.name,
        twins = report.checked,
        remote_twins = ?report.remote_checked,
        differences = report.differences.len(),
        settled = report.settled,
        repair,
        "Verified the connection's twins."
    );
    Ok(report)
}

/// One look at both sides: the differences, without repairs.
async fn compare(state: &AppState, connection: &Connection) -> Result<Report, VerifyError> {
    let store = state.store();
    let local_quiet = quiet(state, connection.id).await?;
    let (reach, remote) = match remote_twins(state, connection).await? {
        Ok(remote) => (Reach::Compared, Some(remote)),
        Err(reason) => (Reach::LocalOnly(reason), None),
    };
    let settled = local_quiet && remote.as_ref().is_some_and(|r| r.quiet);
    // The remote's twins by the key of this node's item they link to.
    let linking: HashMap<&str, &WireTwin> = remote
        .iter()
        .flat_map(|r| r.twins.values())
        .filter_map(|t| t.remote_key.as_deref().map(|k| (k, t)))
        .collect();

    let mut differences = Vec::new();
    let mut local_keys: HashSet<String> = HashSet::new();
    let mut checked = 0u64;
    let mut after: Option<ItemKey> = None;
    loop {
        let page = store
            .twins(connection.id, after.as_ref(), wire::TWINS_PAGE)
            .await?;
        let Some(last) = page.last() else { break };
        after = Some(last.local_key.clone());
        for twin in &page {
            checked += 1;
            local_keys.insert(twin.local_key.to_string());
            let here = twin.local_key.to_string();
            let differ = |kind: Kind, remote_key: Option<String>, detail: String| Difference {
                kind,
                local_key: Some(twin.local_key.clone()),
                remote_key,
                detail,
                repair: None,
            };
            let Some(remote_key) = &twin.remote_key else {
                if let Some(theirs) = linking.get(here.as_str()) {
                    differences.push(differ(
                        Kind::UnlinkedHere,
                        Some(theirs.key.clone()),
                        format!(
                            "{here} has no link, and the remote's {} is linked to it",
                            theirs.key
                        ),
                    ));
                } else if twin.state == TwinState::Active && twin.last_sent.is_none() {
                    differences.push(differ(
                        Kind::Stranded,
                        None,
                        format!(
                            "{here} is under sync with nothing sent, nothing queued and no remote item: nothing would ever send it"
                        ),
                    ));
                } else if settled && twin.last_sent.is_some() {
                    differences.push(differ(
                        Kind::Unacknowledged,
                        None,
                        format!(
                            "{here} was sent and never acknowledged, and the remote has no twin of it"
                        ),
                    ));
                }
                continue;
            };
            let Some(remote) = &remote else { continue };
            let Some(theirs) = remote.twins.get(remote_key) else {
                differences.push(differ(
                    Kind::MissingOnRemote,
                    Some(remote_key.clone()),
                    format!(
                        "{here} is linked to the remote's {remote_key}, which has no twin there (deleted there, or its item was)"
                    ),
                ));
                continue;
            };
            if theirs.remote_key.as_deref() != Some(here.as_str()) {
                differences.push(differ(
                    Kind::NotLinkedBack,
                    Some(remote_key.clone()),
                    format!(
                        "{here} is linked to the remote's {remote_key}, which is linked to {} here",
                        theirs.remote_key.as_deref().unwrap_or("no item")
                    ),
                ));
                continue;
            }
            if theirs.state != twin.state.as_str() {
                differences.push(differ(
                    Kind::StateDiffers,
                    Some(remote_key.clone()),
                    format!(
                        "{here} is {} here and {remote_key} is {} on the remote",
                        twin.state.as_str(),
                        theirs.state
                    ),
                ));
                continue;
            }
            if settled && twin.state == TwinState::Active {
                let sent = twin.last_sent.as_deref().map(digest);
                let received = twin.last_received.as_deref().map(digest);
                if sent != theirs.received || received != theirs.sent {
                    let which = match (sent != theirs.received, received != theirs.sent) {
                        (true, true) => "neither side received what the other last sent",
                        (true, false) => "the remote did not receive what this side last sent",
                        _ => "this side did not receive what the remote last sent",
                    };
                    differences.push(differ(
                        Kind::ReplicasDiffer,
                        Some(remote_key.clone()),
                        format!("{here} and {remote_key} disagree: {which}"),
                    ));
                }
            }
        }
    }
    if let Some(remote) = &remote {
        let mut missing: Vec<&WireTwin> = remote
            .twins
            .values()
            .filter(|t| {
                t.remote_key
                    .as_deref()
                    .is_some_and(|k| !local_keys.contains(k))
            })
            .collect();
        missing.sort_by(|a, b| a.key.cmp(&b.key));
        for theirs in missing {
            let mine = theirs.remote_key.clone().unwrap_or_default();
            differences.push(Difference {
                kind: Kind::MissingHere,
                local_key: mine.parse().ok(),
                remote_key: Some(theirs.key.clone()),
                detail: format!(
                    "the remote's {} is linked to {mine}, which has no twin here (deleted here, or its item was)",
                    theirs.key
                ),
                repair: None,
            });
        }
    }
    // Still quiet here after the read: nothing went out or came in while it ran.
    let settled = settled && quiet(state, connection.id).await?;
    Ok(Report {
        connection: connection.name.clone(),
        checked,
        remote_checked: remote.as_ref().map(|r| r.twins.len() as u64),
        reach,
        settled,
        differences,
    })
}

async fn repair_one(state: &AppState, connection: &Connection, difference: &Difference) -> Repair {
    let result = match difference.kind {
        Kind::Stranded | Kind::Unacknowledged | Kind::ReplicasDiffer => {
            resend(state, connection, difference).await
        }
        Kind::UnlinkedHere => relink(state, connection, difference).await,
        Kind::MissingOnRemote | Kind::MissingHere | Kind::NotLinkedBack | Kind::StateDiffers => {
            flag(state, connection, difference).await
        }
    };
    result.unwrap_or_else(|e| Repair::Failed(e.to_string()))
}

/// Sends the twin's item again, whole.
async fn resend(
    state: &AppState,
    connection: &Connection,
    difference: &Difference,
) -> Result<Repair, VerifyError> {
    let Some(key) = &difference.local_key else {
        return Ok(Repair::Failed("no item to send".into()));
    };
    if engine::paused(connection) || connection.status == ConnectionStatus::Deactivated {
        return Ok(Repair::Failed(
            "the connection is paused: its changes go out once it is active again".into(),
        ));
    }
    let _lock = state.lock_twin(connection.id, key).await;
    let Some(twin) = state.store().twin(connection.id, key).await? else {
        return Ok(Repair::Failed(format!("{key} has no twin any more")));
    };
    if engine::send_again(state, connection, twin).await? {
        tracing::info!(connection = %connection.name, item = %key, kind = difference.kind.as_str(), "Verify sent an item again.");
        Ok(Repair::Resent)
    } else {
        Ok(Repair::Failed(
            "the outgoing rules send nothing for this item (or it is outside the connection's scope)"
                .into(),
        ))
    }
}

/// Records the remote's link here, when the twin still has none.
async fn relink(
    state: &AppState,
    connection: &Connection,
    difference: &Difference,
) -> Result<Repair, VerifyError> {
    let (Some(key), Some(remote_key)) = (&difference.local_key, &difference.remote_key) else {
        return Ok(Repair::Failed("no link to record".into()));
    };
    let _lock = state.lock_twin(connection.id, key).await;
    let Some(mut twin) = state.store().twin(connection.id, key).await? else {
        return Ok(Repair::Failed(format!("{key} has no twin any more")));
    };
    if twin.remote_key.is_some() {
        return Ok(Repair::Failed(format!(
            "{key} was linked meanwhile; verify again"
        )));
    }
    twin.remote_key = Some(remote_key.clone());
    match state.store().update_twin(&twin).await {
        Ok(_) => Ok(Repair::Relinked),
        Err(StoreError::AlreadyExists(_)) => Ok(Repair::Failed(format!(
            "{remote_key} is linked to another item here"
        ))),
        Err(e) => Err(e.into()),
    }
}

/// Records the difference as an item sync error, unless an open one says so already.
async fn flag(
    state: &AppState,
    connection: &Connection,
    difference: &Difference,
) -> Result<Repair, VerifyError> {
    let message = format!(
        "Verify: {} (cannot be fixed automatically: unexalate the item and exalate or connect it again)",
        difference.detail
    );
    let store = state.store();
    if let Some(open) = store
        .sync_errors(false, 1000)
        .await?
        .into_iter()
        .find(|e| e.connection_id == Some(connection.id) && e.message == message)
    {
        return Ok(Repair::Flagged { error: open.id });
    }
    let error = store
        .record_sync_error(NewSyncError {
            impact: Impact::Item,
            connection_id: Some(connection.id),
            local_key: difference.local_key.clone(),
            remote_key: difference.remote_key.clone(),
            request_id: None,
            message,
            script_trace: None,
            remote_error: None,
        })
        .await?;
    tracing::warn!(connection = %connection.name, item = ?difference.local_key, kind = difference.kind.as_str(), "Verify flagged a difference it cannot fix.");
    Ok(Repair::Flagged { error: error.id })
}

/// The background pass (`--verify-every`): every `every`, verifies and repairs each active
/// connection, until `cancel` fires. A pass that finds differences logs them; what it cannot
/// fix it flags as sync errors.
pub async fn run_periodically(state: AppState, every: Duration, cancel: CancellationToken) {
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
        let connections = match state.store().connections().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "The periodic verify could not list the connections.");
                continue;
            }
        };
        for connection in connections
            .into_iter()
            .filter(|c| c.status == ConnectionStatus::Active)
        {
            if cancel.is_cancelled() {
                return;
            }
            match verify(&state, &connection, true).await {
                Ok(report) => {
                    for d in &report.differences {
                        tracing::warn!(
                            connection = %connection.name,
                            kind = d.kind.as_str(),
                            detail = %d.detail,
                            repair = ?d.repair,
                            "The periodic verify found a difference."
                        );
                    }
                    if let Reach::LocalOnly(reason) = &report.reach {
                        tracing::info!(connection = %connection.name, reason = %reason, "The periodic verify checked only this side.");
                    }
                }
                Err(e) => {
                    tracing::warn!(connection = %connection.name, error = %e, "The periodic verify failed.");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_digest_ignores_the_order_of_object_keys_and_sees_any_value_change() {
        let a = digest(r#"{"summary":"x","labels":["a","b"],"customFields":{"T":1,"U":2}}"#);
        let b = digest(r#"{"customFields":{"U":2,"T":1},"labels":["a","b"],"summary":"x"}"#);
        assert_eq!(a, b);
        assert_eq!(a.len(), 32);
        assert_ne!(
            a,
            digest(r#"{"summary":"x","labels":["b","a"],"customFields":{"T":1,"U":2}}"#)
        );
        assert_ne!(
            a,
            digest(r#"{"summary":"y","labels":["a","b"],"customFields":{"T":1,"U":2}}"#)
        );
        // Text that is not JSON still has a digest (of itself).
        assert_eq!(digest("not json"), digest("not json"));
    }
}
