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
use serde::Deserialize;
use tandem_model::{Connection, ItemKey};

use super::errors::ErrorRow;
use super::{name_of, pretty_json, redirect_with, refusal};
use crate::auth::{ConsoleUser, urlencode};
use crate::connections;
use crate::console::flash::Flash;
use crate::console::{Layout, PageResult};
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

/// This page for the item, as an address.
fn back(key: &str) -> String {
    format!("{PATH}?key={}", urlencode(key))
}

struct TwinView {
    connection: String,
    remote_key: Option<String>,
    state: &'static str,
    active: bool,
    last_sync: Option<String>,
    local_replica: Option<String>,
    remote_replica: Option<String>,
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
    let key = match parse_key(&raw) {
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
    let by_id = super::connections_by_id(&state).await?;
    let names: std::collections::HashMap<uuid::Uuid, String> =
        by_id.iter().map(|(id, c)| (*id, c.name.clone())).collect();
    let twins = store
        .twins_of_item(&key)
        .await?
        .into_iter()
        .map(|t| TwinView {
            connection: name_of(&names, Some(t.connection_id)),
            remote_key: t.remote_key,
            state: t.state.as_str(),
            active: t.state == tandem_model::TwinState::Active,
            last_sync: t.last_sync.map(|at| page.layout.time(&at)),
            local_replica: t.last_sent.as_deref().map(pretty_json),
            remote_replica: t.last_received.as_deref().map(pretty_json),
        })
        .collect();
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
    page.error_rows = store
        .sync_errors(false, 500)
        .await?
        .into_iter()
        .filter(|e| e.local_key.as_ref() == Some(&key))
        .map(|e| ErrorRow::new(&page.layout, &by_id, e))
        .collect();
    page.retry_back = Some(back(&page.key));
    let mut connections: Vec<String> = names.into_values().collect();
    connections.sort();
    page.connections = connections;
    page.entity = Some(Entity {
        key: key.to_string(),
        summary: item.summary,
        twins,
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
    ) -> Result<String, SyncFailure> {
        Ok(match self {
            Operation::Exalate => {
                engine::exalate(state, c, key).await?;
                match engine::held_note(c) {
                    Some(held) => {
                        format!("{key} is under sync on {}: its replica is {held}.", c.name)
                    }
                    None => format!(
                        "{key} is under sync on {}: its replica is on the way.",
                        c.name
                    ),
                }
            }
            Operation::Unexalate => {
                operations::unexalate(state, c, key).await?;
                format!(
                    "{key} no longer syncs on {}; both items keep their data.",
                    c.name
                )
            }
            Operation::SyncAgain => {
                operations::sync_again(state, c, key).await?;
                format!("{key} is sent again on {}.", c.name)
            }
            Operation::Connect(remote) => {
                operations::connect(state, c, key, remote).await?;
                format!(
                    "{key} is connected to {} on {}; later changes flow.",
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
    let key = match parse_key(&form.key) {
        Ok(key) => key,
        Err(message) => return redirect_with(user, &back(&form.key), Err(message)),
    };
    let to = back(&key.to_string());
    let connection = match connections::find(state, &form.connection).await {
        Ok(c) => c,
        Err(e) => return redirect_with(user, &to, Err(refusal(e)?)),
    };
    match operation.run(state, &connection, &key).await {
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
}
