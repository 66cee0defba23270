//! The Sync queue page: what is in flight. Outgoing sync events wait in each connection's queue
//! until the remote acknowledges them, each with where it stands (queued, delivering, waiting
//! for the remote with the next try, blocked and why), its sends and the last delivery error
//! (`delivery::event_status`); incoming sync requests wait until applied (pending: to apply,
//! behind an earlier request of the same item, or blocked) or until an error is resolved
//! (failed), with their attempts. Filters: one connection, one item key.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Query, State};
use axum::response::IntoResponse;
use axum::routing::get;
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashMap;

use tandem_model::{Connection, ConnectionStatus, RequestState};
use uuid::Uuid;

use crate::auth::ConsoleUser;
use crate::connections::delivery;
use crate::console::{Layout, PageResult};
use crate::state::AppState;
use crate::sync::engine;

const PATH: &str = "/sync/queue";

/// The most events and requests listed per section.
const LIMIT: u32 = 500;

pub fn router() -> Router<AppState> {
    Router::new().route(PATH, get(page))
}

struct Outgoing {
    connection: String,
    seq: i64,
    kind: String,
    /// This node's item the event is about.
    item: Option<String>,
    /// The remote item, when the event names it.
    remote: Option<String>,
    queued: String,
    /// Where it stands: queued, delivering, waiting for the remote, blocked.
    status: String,
    class: &'static str,
    /// Sends not acknowledged yet (since the node started).
    attempts: u32,
    last_error: Option<String>,
}

struct Incoming {
    id: i64,
    connection: String,
    seq: i64,
    kind: String,
    remote: Option<String>,
    /// This node's twin of the remote item, once there is one.
    item: Option<String>,
    state: &'static str,
    /// The state in words: why a pending request waits.
    status: String,
    attempts: u32,
    received: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "sync_queue.html")]
struct QueuePage {
    layout: Layout,
    connections: Vec<String>,
    connection: String,
    item: String,
    outgoing: Vec<Outgoing>,
    incoming: Vec<Incoming>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct Filter {
    connection: Option<String>,
    item: Option<String>,
}

/// Which items an event's payload names: (this node's, the remote's). Sync events carry
/// `local_key`/`remote_key`; acknowledgements, Unexalate and Connect `my_key`/`your_key`.
fn keys_of(payload: &str) -> (Option<String>, Option<String>) {
    let payload: Value = serde_json::from_str(payload).unwrap_or(Value::Null);
    let text = |name: &str| payload[name].as_str().map(str::to_owned);
    (
        text("local_key").or_else(|| text("my_key")),
        text("remote_key").or_else(|| text("your_key")),
    )
}

/// Whether the filter's item key (empty: any) is one of the keys.
fn matches(filter: &str, keys: &[&Option<String>]) -> bool {
    filter.is_empty()
        || keys
            .iter()
            .any(|k| k.as_deref().is_some_and(|k| k.eq_ignore_ascii_case(filter)))
}

async fn page(
    State(state): State<AppState>,
    user: ConsoleUser,
    Query(filter): Query<Filter>,
) -> PageResult {
    let layout = Layout::new(&state, &user, PATH);
    let store = state.store();
    let all = store.connections().await?;
    let wanted = filter.connection.unwrap_or_default().trim().to_owned();
    let item = filter.item.unwrap_or_default().trim().to_owned();
    let mut error = None;
    let chosen: Vec<&Connection> = if wanted.is_empty() {
        all.iter().collect()
    } else {
        let found: Vec<_> = all.iter().filter(|c| c.name == wanted).collect();
        if found.is_empty() {
            error = Some(format!("There is no connection {wanted} on this node."));
        }
        found
    };

    let mut outgoing = Vec::new();
    for connection in &chosen {
        let link = state.delivery_link(connection.id);
        for message in store.outbound_messages(connection.id, 0, LIMIT).await? {
            let (local, remote) = keys_of(&message.payload);
            if matches(&item, &[&local, &remote]) {
                let status = delivery::event_status(connection, &link, message.seq, &message.kind);
                outgoing.push(Outgoing {
                    status: status.status,
                    class: status.class,
                    attempts: status.attempts,
                    last_error: status.last_error,
                    connection: connection.name.clone(),
                    seq: message.seq,
                    kind: message.kind,
                    item: local,
                    remote,
                    queued: layout.time(&message.created),
                });
            }
        }
    }

    let mut incoming = Vec::new();
    let states = [RequestState::Pending, RequestState::Failed];
    let requests = match (wanted.is_empty(), chosen.first()) {
        (true, _) => store.requests(None, &states, LIMIT).await?,
        (false, Some(c)) => store.requests(Some(c.id), &states, LIMIT).await?,
        (false, None) => Vec::new(),
    };
    // Oldest first, to know which open request each pending one waits behind.
    let mut open_before: HashMap<(Uuid, Option<String>), i64> = HashMap::new();
    let mut statuses = HashMap::new();
    for request in requests.iter().rev() {
        let group = (request.connection_id, request.remote_key.clone());
        let connection = all.iter().find(|c| c.id == request.connection_id);
        let status = match (request.state, open_before.get(&group)) {
            (RequestState::Failed, _) => {
                "failed — waits for Resolve and retry on the Errors page".to_owned()
            }
            _ if connection.is_some_and(|c| c.status == ConnectionStatus::Deactivated) => {
                "blocked — the connection is deactivated".to_owned()
            }
            _ if connection.is_some_and(engine::paused_by_rules) => {
                "blocked — the connection's rules do not compile".to_owned()
            }
            (_, Some(earlier)) => format!("waiting for request {earlier} of the same item"),
            _ => "pending — to be applied".to_owned(),
        };
        open_before.entry(group).or_insert(request.id);
        statuses.insert(request.id, status);
    }
    for request in requests {
        let local = match &request.remote_key {
            Some(remote) => store
                .twin_by_remote(request.connection_id, remote)
                .await?
                .map(|t| t.local_key.to_string()),
            None => None,
        };
        if !matches(&item, &[&local, &request.remote_key]) {
            continue;
        }
        incoming.push(Incoming {
            id: request.id,
            connection: all
                .iter()
                .find(|c| c.id == request.connection_id)
                .map_or_else(|| request.connection_id.to_string(), |c| c.name.clone()),
            seq: request.seq,
            kind: request.kind,
            remote: request.remote_key,
            item: local,
            state: request.state.as_str(),
            status: statuses.remove(&request.id).unwrap_or_default(),
            attempts: request.attempts,
            received: layout.time(&request.received),
        });
    }

    Ok(QueuePage {
        layout,
        connections: all.into_iter().map(|c| c.name).collect(),
        connection: wanted,
        item,
        outgoing,
        incoming,
        error,
    }
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_names_the_items_of_both_sides_whatever_its_kind() {
        assert_eq!(
            keys_of(r#"{"local_key":"SUP-1","remote_key":null,"replica":{}}"#),
            (Some("SUP-1".into()), None)
        );
        assert_eq!(
            keys_of(r#"{"my_key":"SUP-1","your_key":"ENG-4"}"#),
            (Some("SUP-1".into()), Some("ENG-4".into()))
        );
        assert_eq!(keys_of("garbage"), (None, None));
    }

    #[test]
    fn the_item_filter_matches_either_key_in_any_case() {
        let (local, remote) = (Some("SUP-1".to_owned()), Some("ENG-4".to_owned()));
        assert!(matches("", &[&None]));
        assert!(matches("sup-1", &[&local, &remote]));
        assert!(matches("ENG-4", &[&local, &remote]));
        assert!(!matches("SUP-2", &[&local, &remote]));
    }
}
