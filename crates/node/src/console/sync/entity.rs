//! The Entity sync status page: one item's twins with the local and remote replica, its
//! conflicts and unresolved errors, and the operations on it — Exalate, Unexalate, Sync again,
//! Connect — each a form that comes back here with the outcome.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum_extra::extract::Form;
use std::collections::HashMap;

use serde::Deserialize;
use tandem_model::{Connection, ItemKey};

use super::errors::ErrorRow;
use super::{name_of, pretty_json, redirect_with, refusal};
use crate::auth::{ConsoleUser, urlencode};
use crate::connections;
use crate::console::flash::Flash;
use crate::console::{Layout, PageError, PageResult};
use crate::state::AppState;
use crate::sync::engine::{self, SyncFailure};
use crate::sync::operations;

const PATH: &str = "/sync/entity";

pub fn router() -> Router<AppState> {
    Router::new()
        .route(PATH, get(page))
        .route("/sync/entity/exalate", post(exalate))
        .route("/sync/entity/unexalate", post(unexalate))
        .route("/sync/entity/again", post(again))
        .route("/sync/entity/connect", post(connect))
}

fn parse_key(raw: &str) -> Result<ItemKey, String> {
    raw.trim()
        .to_ascii_uppercase()
        .parse()
        .map_err(|_| format!("'{}' is not an item key (like SUP-12).", raw.trim()))
}

/// The item `raw` names: its key in any case, or on a node that serves ServiceNow its
/// record's number (`INC0010005`); else why not.
async fn resolve_key(state: &AppState, raw: &str) -> Result<Result<ItemKey, String>, PageError> {
    match parse_key(raw) {
        Ok(key) => Ok(Ok(key)),
        Err(message) => Ok(crate::servicenow::keys::resolve(state, raw)
            .await?
            .ok_or(message)),
    }
}

/// This page for the item, as an address.
fn back(key: &str) -> String {
    format!("{PATH}?key={}", urlencode(key))
}

/// One twin of the item, ready to show.
pub(in crate::console) struct TwinView {
    pub connection: String,
    /// The remote item as its admin knows it: the display key the remote said (a ServiceNow
    /// record's number), else its key. The link goes by the key.
    pub remote_key: Option<String>,
    /// The remote item's page on the remote's console: `None` while the remote key is not
    /// known, or when the remote is private (this node cannot link to it).
    pub remote_link: Option<String>,
    pub state: &'static str,
    pub active: bool,
    pub last_sync: Option<String>,
    pub local_replica: Option<String>,
    pub remote_replica: Option<String>,
}

/// What an item's sync looks like on this node: its twins, its open errors and the
/// connections it can be exalated on. The Entity sync status page and the item's own page
/// both show it, and both post their operations to this module's handlers.
pub(in crate::console) struct SyncPanel {
    pub twins: Vec<TwinView>,
    pub error_rows: Vec<ErrorRow>,
    /// Every connection's name, sorted: the Exalate and Connect forms offer them.
    pub connections: Vec<String>,
}

/// The item's sync panel (see `SyncPanel`), with the connections' names by id.
pub(in crate::console) async fn sync_panel(
    state: &AppState,
    layout: &Layout,
    key: &ItemKey,
) -> Result<(SyncPanel, HashMap<uuid::Uuid, String>), PageError> {
    let store = state.store();
    let by_id = super::connections_by_id(state).await?;
    let names: HashMap<uuid::Uuid, String> =
        by_id.iter().map(|(id, c)| (*id, c.name.clone())).collect();
    let twins = store
        .twins_of_item(key)
        .await?
        .into_iter()
        .map(|t| TwinView {
            connection: name_of(&names, Some(t.connection_id)),
            remote_link: match (&t.remote_key, by_id.get(&t.connection_id)) {
                (Some(remote), Some(c)) => remote_item_page(c, remote),
                _ => None,
            },
            remote_key: t.remote_display_key.or(t.remote_key),
            state: t.state.as_str(),
            active: t.state == tandem_model::TwinState::Active,
            last_sync: t.last_sync.map(|at| layout.time(&at)),
            local_replica: t.last_sent.as_deref().map(pretty_json),
            remote_replica: t.last_received.as_deref().map(pretty_json),
        })
        .collect();
    let mut error_rows: Vec<ErrorRow> = store
        .sync_errors(false, 500)
        .await?
        .into_iter()
        .filter(|e| e.local_key.as_ref() == Some(key))
        .map(|e| ErrorRow::new(layout, &by_id, e))
        .collect();
    super::errors::show_keys(state, &mut error_rows).await?;
    let mut connections: Vec<String> = names.values().cloned().collect();
    connections.sort();
    Ok((
        SyncPanel {
            twins,
            error_rows,
            connections,
        },
        names,
    ))
}

/// The remote item's page on the remote's console, when the remote has an address.
fn remote_item_page(connection: &Connection, remote_key: &str) -> Option<String> {
    connection.remote_url().map(|url| {
        format!(
            "{}/items/{}",
            url.trim_end_matches('/'),
            urlencode(remote_key)
        )
    })
}

/// Where an operation's form asks to come back to, when it is one of this node's own pages
/// that show the item's sync: its Entity sync status or its item page. Anything else (another
/// site, a path of someone's choosing) is not followed.
pub(super) fn safe_back(back: Option<&str>) -> Option<&str> {
    let back = back?;
    // A path of this node (no other host, no control characters or whitespace, also once
    // percent-decoded: what a `Location` may carry), as for the sign-in's `next` ...
    let local = crate::auth::safe_next(Some(back)) == back;
    // ... and one of the item's own pages.
    let ours = back.starts_with("/sync/entity?key=")
        || back
            .strip_prefix("/items/")
            .is_some_and(|rest| !rest.is_empty() && !rest.contains(['/', '?', '#']));
    (local && ours).then_some(back)
}

struct ConflictView {
    connection: String,
    field: String,
    local_value: String,
    remote_value: String,
    kept: &'static str,
    at: String,
}

/// What the page shows of a found item.
struct Entity {
    key: String,
    /// The key as its admin knows it: on a node that serves ServiceNow, the record's number.
    shown_key: String,
    summary: String,
    twins: Vec<TwinView>,
    conflicts: Vec<ConflictView>,
}

#[derive(Template, WebTemplate)]
#[template(path = "sync_entity.html")]
struct EntityPage {
    layout: Layout,
    key: String,
    entity: Option<Entity>,
    error_rows: Vec<ErrorRow>,
    /// Resolve and retry comes back to this page.
    retry_back: Option<String>,
    connections: Vec<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct Params {
    key: Option<String>,
    flash: Option<String>,
    error: Option<String>,
    sig: Option<String>,
}

async fn page(
    State(state): State<AppState>,
    user: ConsoleUser,
    Query(params): Query<Params>,
) -> PageResult {
    let (notice, error) = Flash {
        flash: params.flash,
        error: params.error,
        sig: params.sig,
    }
    .take(&user);
    let layout = Layout::new(&state, &user, PATH).with_flash(notice);
    let raw = params.key.unwrap_or_default().trim().to_owned();
    let mut page = EntityPage {
        key: raw.clone(),
        entity: None,
        error_rows: Vec::new(),
        retry_back: None,
        connections: Vec::new(),
        error: None,
        layout,
    };
    if raw.is_empty() {
        return Ok(page.into_response());
    }
    let key = match resolve_key(&state, &raw).await? {
        Ok(key) => key,
        Err(message) => {
            page.error = Some(error.unwrap_or(message));
            return Ok((StatusCode::BAD_REQUEST, page).into_response());
        }
    };
    page.key = key.to_string();
    let store = state.store();
    let Some(item) = store.item(&key).await? else {
        // An operation on a key that names no item comes back here: its refusal comes first.
        page.error = Some(error.unwrap_or_else(|| format!("There is no item {key} on this node.")));
        return Ok((StatusCode::NOT_FOUND, page).into_response());
    };
    let (panel, names) = sync_panel(&state, &page.layout, &key).await?;
    let conflicts = store
        .conflicts(&key)
        .await?
        .into_iter()
        .map(|c| ConflictView {
            connection: name_of(&names, Some(c.connection_id)),
            field: c.field,
            local_value: c.local_value,
            remote_value: c.remote_value,
            kept: if c.kept_local { "local" } else { "remote" },
            at: page.layout.time(&c.at),
        })
        .collect();
    page.error_rows = panel.error_rows;
    page.retry_back = Some(back(&page.key));
    page.connections = panel.connections;
    page.entity = Some(Entity {
        shown_key: crate::servicenow::keys::shown(&state.view(), &item),
        key: key.to_string(),
        summary: item.summary,
        twins: panel.twins,
        conflicts,
    });
    page.error = error;
    Ok(page.into_response())
}

#[derive(Deserialize)]
struct ItemForm {
    csrf: String,
    key: String,
    connection: String,
    /// The page to come back to (see `safe_back`); the Entity sync status page by default.
    back: Option<String>,
}

/// What the page's forms do to the item.
enum Operation {
    Exalate,
    Unexalate,
    SyncAgain,
    /// Connect to the remote item with this key.
    Connect(String),
}

impl Operation {
    fn name(&self) -> &'static str {
        match self {
            Operation::Exalate => "exalate",
            Operation::Unexalate => "unexalate",
            Operation::SyncAgain => "sync again",
            Operation::Connect(_) => "connect",
        }
    }

    /// Runs the operation through the engine; returns what to tell the admin.
    async fn run(
        &self,
        state: &AppState,
        c: &Connection,
        key: &ItemKey,
        shown: &str,
    ) -> Result<String, SyncFailure> {
        Ok(match self {
            Operation::Exalate => {
                engine::exalate(state, c, key).await?;
                match engine::held_note(c) {
                    Some(held) => {
                        format!(
                            "{shown} is under sync on {}: its replica is {held}.",
                            c.name
                        )
                    }
                    None => format!(
                        "{shown} is under sync on {}: its replica is on the way.",
                        c.name
                    ),
                }
            }
            Operation::Unexalate => {
                operations::unexalate(state, c, key).await?;
                format!(
                    "{shown} no longer syncs on {}; both items keep their data.",
                    c.name
                )
            }
            Operation::SyncAgain => {
                operations::sync_again(state, c, key).await?;
                format!("{shown} is sent again on {}.", c.name)
            }
            Operation::Connect(remote) => {
                operations::connect(state, c, key, remote).await?;
                format!(
                    "{shown} is connected to {} on {}; later changes flow.",
                    remote.trim(),
                    c.name
                )
            }
        })
    }
}

/// Runs one operation on the item and comes back to its page with the outcome.
async fn act(
    state: &AppState,
    user: &ConsoleUser,
    form: ItemForm,
    operation: Operation,
) -> PageResult {
    user.check_csrf(&form.csrf)?;
    let key = match resolve_key(state, &form.key).await? {
        Ok(key) => key,
        Err(message) => return redirect_with(user, &back(&form.key), Err(message)),
    };
    let to = safe_back(form.back.as_deref()).map_or_else(|| back(&key.to_string()), str::to_owned);
    let connection = match connections::find(state, &form.connection).await {
        Ok(c) => c,
        Err(e) => return redirect_with(user, &to, Err(refusal(e)?)),
    };
    let shown = crate::servicenow::keys::shown_keys(state, [&key])
        .await?
        .remove(&key)
        .unwrap_or_else(|| key.to_string());
    match operation.run(state, &connection, &key, &shown).await {
        Ok(message) => {
            tracing::info!(user = %user.session.username, connection = %connection.name, item = %key, operation = operation.name(), "Sync operation from the console.");
            redirect_with(user, &to, Ok(message))
        }
        Err(e) => redirect_with(user, &to, Err(refusal(e)?)),
    }
}

async fn exalate(
    State(state): State<AppState>,
    user: ConsoleUser,
    Form(form): Form<ItemForm>,
) -> PageResult {
    act(&state, &user, form, Operation::Exalate).await
}

async fn unexalate(
    State(state): State<AppState>,
    user: ConsoleUser,
    Form(form): Form<ItemForm>,
) -> PageResult {
    act(&state, &user, form, Operation::Unexalate).await
}

async fn again(
    State(state): State<AppState>,
    user: ConsoleUser,
    Form(form): Form<ItemForm>,
) -> PageResult {
    act(&state, &user, form, Operation::SyncAgain).await
}

#[derive(Deserialize)]
struct ConnectForm {
    csrf: String,
    key: String,
    connection: String,
    remote_key: String,
    back: Option<String>,
}

async fn connect(
    State(state): State<AppState>,
    user: ConsoleUser,
    Form(form): Form<ConnectForm>,
) -> PageResult {
    let item = ItemForm {
        csrf: form.csrf,
        key: form.key,
        connection: form.connection,
        back: form.back,
    };
    act(&state, &user, item, Operation::Connect(form.remote_key)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_read_in_any_case_and_anything_else_is_refused_with_an_example() {
        assert_eq!(
            parse_key(" sup-12 ").map(|k| k.to_string()),
            Ok("SUP-12".into())
        );
        assert!(parse_key("twelve").unwrap_err().contains("like SUP-12"));
    }

    #[test]
    fn operations_come_back_only_to_this_nodes_pages_of_the_item() {
        assert_eq!(safe_back(Some("/items/SUP-1")), Some("/items/SUP-1"));
        assert_eq!(
            safe_back(Some("/sync/entity?key=SUP-1")),
            Some("/sync/entity?key=SUP-1")
        );
        for elsewhere in [
            "https://evil.example/items/SUP-1",
            "//evil.example/items/SUP-1",
            "/items/SUP-1/../../settings",
            "/items/",
            "/settings",
            "/items/SUP-1?x=https://evil.example",
            "/items/SUP-1\r\nSet-Cookie: x=1",
            "/items/SUP 1",
            "/sync/entity?key=SUP-1%0d%0aX: y",
        ] {
            assert_eq!(safe_back(Some(elsewhere)), None, "{elsewhere}");
        }
        assert_eq!(safe_back(None), None);
    }
}
