//! The Errors page: unresolved sync errors with what they stop, where, and the script trace;
//! **Resolve and retry** runs what failed again.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum_extra::extract::Form;
use serde::Deserialize;
use tandem_model::SyncError;

use super::{connections_by_id, redirect_with, refusal};
use crate::auth::ConsoleUser;
use crate::console::flash::Flash;
use crate::console::{Layout, PageResult};
use crate::state::AppState;
use crate::sync::operations;

const PATH: &str = "/sync/errors";

/// The most errors the page lists: the oldest unresolved ones beyond it wait their turn.
const LIMIT: u32 = 500;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(PATH, get(list))
        .route("/sync/errors/{id}/retry", post(retry))
}

/// One error, ready to show.
pub(in crate::console) struct ErrorRow {
    pub id: i64,
    pub impact: &'static str,
    pub connection: String,
    pub local_key: Option<String>,
    /// `local_key` as its admin knows it (a ServiceNow record's number); see `show_keys`.
    pub local_shown: Option<String>,
    /// The remote item as its admin knows it: its display key when the remote said one (see
    /// `show_keys`), else its key.
    pub remote_key: Option<String>,
    connection_id: Option<uuid::Uuid>,
    pub at: String,
    pub message: String,
    pub trace: Option<String>,
    /// For an error the remote reported: where it is retried (the remote's Errors page; `None`
    /// when the remote is private) and the remote's name.
    pub remote: Option<(String, Option<String>)>,
}

impl ErrorRow {
    pub fn new(
        layout: &Layout,
        connections: &std::collections::HashMap<uuid::Uuid, tandem_model::Connection>,
        e: SyncError,
    ) -> Self {
        let connection = e.connection_id.and_then(|id| connections.get(&id));
        let remote = match (e.remote_error, connection) {
            (Some(id), Some(c)) => Some((
                c.remote_short_name.clone(),
                crate::sync::report::remote_errors_page(c, id),
            )),
            (Some(_), None) => Some((String::from("the remote"), None)),
            (None, _) => None,
        };
        let names = |id: Option<uuid::Uuid>| match (id, connection) {
            (_, Some(c)) => c.name.clone(),
            (Some(id), None) => id.to_string(),
            (None, None) => String::new(),
        };
        ErrorRow {
            remote,
            id: e.id,
            impact: e.impact.as_str(),
            connection: names(e.connection_id),
            local_shown: e.local_key.as_ref().map(ToString::to_string),
            local_key: e.local_key.map(|k| k.to_string()),
            remote_key: e.remote_key,
            connection_id: e.connection_id,
            at: layout.time(&e.at),
            message: e.message,
            trace: e.script_trace,
        }
    }
}

/// Shows each row's item by the key its admin knows (on a node that serves ServiceNow, the
/// record's number), and its remote item by the key the remote said its admin knows.
pub(in crate::console) async fn show_keys(
    state: &AppState,
    rows: &mut [ErrorRow],
) -> Result<(), tandem_store::StoreError> {
    let keys: Vec<tandem_model::ItemKey> = rows
        .iter()
        .filter_map(|r| r.local_key.as_deref()?.parse().ok())
        .collect();
    let shown = crate::servicenow::keys::shown_keys(state, &keys).await?;
    for row in rows.iter_mut() {
        if let Some(text) = row
            .local_key
            .as_deref()
            .and_then(|k| k.parse::<tandem_model::ItemKey>().ok())
            .and_then(|k| shown.get(&k))
        {
            row.local_shown = Some(text.clone());
        }
    }
    let remote_items: Vec<(uuid::Uuid, String)> = rows
        .iter()
        .filter_map(|r| Some((r.connection_id?, r.remote_key.clone()?)))
        .collect();
    let remote_shown = crate::servicenow::keys::remote_shown_keys(state, &remote_items).await?;
    for row in rows {
        if let (Some(id), Some(remote)) = (row.connection_id, &row.remote_key)
            && let Some(text) = remote_shown.get(&(id, remote.clone()))
        {
            row.remote_key = Some(text.clone());
        }
    }
    Ok(())
}

#[derive(Template, WebTemplate)]
#[template(path = "sync_errors.html")]
struct ErrorsPage {
    layout: Layout,
    error_rows: Vec<ErrorRow>,
    /// Resolve and retry comes back to this page.
    retry_back: Option<String>,
    error: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    user: ConsoleUser,
    Query(params): Query<Flash>,
) -> PageResult {
    let (notice, error) = params.take(&user);
    let layout = Layout::new(&state, &user, PATH).with_flash(notice);
    let names = connections_by_id(&state).await?;
    let mut error_rows: Vec<ErrorRow> = state
        .store()
        .sync_errors(false, LIMIT)
        .await?
        .into_iter()
        .map(|e| ErrorRow::new(&layout, &names, e))
        .collect();
    show_keys(&state, &mut error_rows).await?;
    Ok(ErrorsPage {
        layout,
        error_rows,
        retry_back: None,
        error,
    }
    .into_response())
}

#[derive(Deserialize)]
struct RetryForm {
    csrf: String,
    /// Where to come back to: the Errors page, or a page of the item (its Entity sync status,
    /// its item page).
    #[serde(default)]
    back: Option<String>,
}

async fn retry(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(id): Path<i64>,
    Form(form): Form<RetryForm>,
) -> PageResult {
    user.check_csrf(&form.csrf)?;
    let back = super::entity::safe_back(form.back.as_deref()).unwrap_or(PATH);
    match operations::retry(&state, id).await {
        Ok(error) => {
            tracing::info!(user = %user.session.username, error = error.id, "Sync error resolved and retried.");
            redirect_with(
                &user,
                back,
                Ok(format!(
                    "Error {} resolved; what failed runs again (a new error shows here if it fails again).",
                    error.id
                )),
            )
        }
        Err(e) => redirect_with(&user, back, Err(refusal(e)?)),
    }
}
