//! The Connections pages: the list with its per-row actions (here), the Initiate connection
//! wizard (`initiate`), the Accept invitation page (`accept`) and the connection editor
//! (`editor`). Every handler translates a form into one `crate::connections` call and its
//! answer into a page; the rules live in the service.

mod accept;
mod editor;
mod initiate;

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum_extra::extract::Form;
use serde::Deserialize;
use tandem_model::{Connection, ConnectionRole, ConnectionStatus};
use uuid::Uuid;

use super::flash::{self, Flash};
use super::{Layout, PageError, PageResult};
use crate::auth::ConsoleUser;
use crate::connections::{self, ConnectionError};
use crate::error::ApiError;
use crate::state::AppState;

/// The menu entry every connection page highlights.
const MENU_PATH: &str = "/connections";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/connections", get(list))
        .route("/connections/{id}/activate", post(activate))
        .route("/connections/{id}/deactivate", post(deactivate))
        .route("/connections/{id}/delete", post(delete))
        .merge(initiate::router())
        .merge(accept::router())
        .merge(editor::router())
}

/// A connection id from the address; anything but a UUID is a page that does not exist.
fn parse_id(raw: &str) -> Result<Uuid, PageError> {
    Uuid::parse_str(raw).map_err(|_| {
        PageError(ApiError::NotFound(format!(
            "there is no connection '{raw}' on this node"
        )))
    })
}

/// A refusal the admin can act on, as its message (starting with a capital, each of several
/// problems on a line of its own); a fault of the node itself stays an error page (logged,
/// never echoed).
fn refusal(error: ConnectionError) -> Result<String, PageError> {
    match error {
        ConnectionError::Node(inner) => Err(inner.into()),
        other => Ok(other
            .each()
            .iter()
            .map(|problem| super::flash::capitalized(&problem.to_string()))
            .collect::<Vec<_>>()
            .join("\n")),
    }
}

/// The form fields a refusal is about (each of several problems names its own).
fn refused_fields(error: &ConnectionError) -> Vec<&'static str> {
    error.each().into_iter().filter_map(refused_field).collect()
}

/// The field one refusal is about, when it names one of the form's fields.
fn refused_field(error: &ConnectionError) -> Option<&'static str> {
    match error {
        // The service names fields as the form labels them.
        ConnectionError::Invalid { field, .. } => match *field {
            "Local instance short name" => Some("local_short_name"),
            "Remote instance short name" => Some("remote_short_name"),
            "Connection name" => Some("name"),
            "Description" => Some("description"),
            _ => None,
        },
        ConnectionError::NameTaken(_) => Some("name"),
        _ => None,
    }
}

/// A short name derived from a node's name: lowercase ASCII letters and digits, every other run
/// of characters one underscore, at most [`SHORT_NAME_MAX`] characters. "Acme Support (EU)"
/// becomes `acme_support_eu`.
pub fn short_name(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('_') {
            out.push('_');
        }
        if out.len() >= SHORT_NAME_MAX {
            break;
        }
    }
    out.truncate(SHORT_NAME_MAX);
    let trimmed = out.trim_end_matches('_');
    if trimmed.is_empty() {
        "node".to_owned()
    } else {
        trimmed.to_owned()
    }
}

/// Long enough to tell nodes apart, short enough that `local_to_remote` stays readable.
pub const SHORT_NAME_MAX: usize = 20;

/// How a status is coloured: `pending`, `active`, `deactivated`, `error`.
fn status_class(status: ConnectionStatus) -> &'static str {
    status.as_str()
}

/// Back to the list with the outcome as a signed `flash` or `error` (see `console::flash`).
fn redirect_with(user: &ConsoleUser, outcome: Result<String, String>) -> PageResult {
    let outcome = outcome.as_deref().map_err(String::as_str);
    Ok(Redirect::to(&flash::location(user, MENU_PATH, outcome)).into_response())
}

// --- the list ------------------------------------------------------------------------------

/// One row of the table, ready to show.
struct Row {
    id: Uuid,
    name: String,
    local_short_name: String,
    remote_short_name: String,
    mode: &'static str,
    twins: u64,
    last_sync: Option<String>,
    status: String,
    status_class: &'static str,
    reason: Option<String>,
    /// The connection has a private side, which makes every request: who calls whom.
    private: Option<String>,
    /// `activate`, `deactivate`, or none while the invitation is pending.
    toggle: Option<(&'static str, &'static str)>,
    /// Unresolved sync errors of the connection on this node, those the remote reported
    /// about this side's items included: a failure on either side shows here.
    open_errors: u64,
}

impl Row {
    fn new(layout: &Layout, connection: &Connection, twins: u64, open_errors: u64) -> Row {
        let toggle = match connection.status {
            ConnectionStatus::Active => Some(("deactivate", "Deactivate")),
            ConnectionStatus::Deactivated | ConnectionStatus::Error => {
                Some(("activate", "Activate"))
            }
            ConnectionStatus::Pending => None,
        };
        Row {
            id: connection.id,
            name: connection.name.clone(),
            local_short_name: connection.local_short_name.clone(),
            remote_short_name: connection.remote_short_name.clone(),
            mode: connection.mode.name(),
            twins,
            last_sync: connection.last_sync.map(|t| layout.time(&t)),
            status: connections::status_label(connection),
            status_class: status_class(connection.status),
            reason: connection.status_reason.clone(),
            private: private_note(connection),
            toggle,
            open_errors,
        }
    }
}

/// What the Private mark says: which side is private, and so who calls whom.
fn private_note(connection: &Connection) -> Option<String> {
    if !connection.private {
        return None;
    }
    Some(match connection.role {
        ConnectionRole::Acceptor => format!(
            "This node is the private side: it has no URL {} can call, so it makes every request.",
            connection.remote_short_name
        ),
        _ => format!(
            "{} is the private side: this node cannot call it, so it makes every request.",
            connection.remote_short_name
        ),
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "connections.html")]
struct ConnectionsPage {
    layout: Layout,
    rows: Vec<Row>,
    error: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    user: ConsoleUser,
    Query(params): Query<Flash>,
) -> PageResult {
    let (notice, error) = params.take(&user);
    let layout = Layout::new(&state, &user, MENU_PATH).with_flash(notice);
    let open = connections::open_errors(&state).await?;
    let rows = connections::list(&state)
        .await?
        .iter()
        .map(|s| Row::new(&layout, &s.connection, s.twins, open.of(s.connection.id)))
        .collect();
    Ok(ConnectionsPage {
        layout,
        rows,
        error,
    }
    .into_response())
}

// --- per-row actions -----------------------------------------------------------------------

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

async fn activate(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> PageResult {
    user.check_csrf(&form.csrf)?;
    let id = parse_id(&id)?;
    match connections::activate(&state, id).await {
        Ok(c) => {
            tracing::info!(user = %user.session.username, connection = %c.name, "Connection activated.");
            redirect_with(
                &user,
                Ok(format!(
                    "Connection {} is {}.",
                    c.name,
                    connections::status_label(&c).to_lowercase()
                )),
            )
        }
        Err(e) => redirect_with(&user, Err(refusal(e)?)),
    }
}

async fn deactivate(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> PageResult {
    user.check_csrf(&form.csrf)?;
    let id = parse_id(&id)?;
    match connections::deactivate(&state, id).await {
        Ok(c) => {
            tracing::info!(user = %user.session.username, connection = %c.name, "Connection deactivated.");
            redirect_with(
                &user,
                Ok(format!(
                    "Connection {} is deactivated: changes wait and flow again when you activate it.",
                    c.name
                )),
            )
        }
        Err(e) => redirect_with(&user, Err(refusal(e)?)),
    }
}

async fn delete(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> PageResult {
    user.check_csrf(&form.csrf)?;
    let id = parse_id(&id)?;
    match connections::delete(&state, id).await {
        Ok(deleted) => {
            tracing::info!(user = %user.session.username, connection = %deleted.name, remote_told = deleted.remote_told, "Connection deleted.");
            redirect_with(&user, Ok(deleted_message(&deleted)))
        }
        Err(e) => redirect_with(&user, Err(refusal(e)?)),
    }
}

fn deleted_message(deleted: &connections::Deleted) -> String {
    if deleted.never_accepted {
        return format!(
            "Connection {} deleted. It was never accepted, so the other side has nothing to remove, and its invitation code no longer works.",
            deleted.name
        );
    }
    if deleted.remote_told {
        format!(
            "Connection {} deleted; the remote node was told.",
            deleted.name
        )
    } else {
        format!(
            "Connection {} deleted on this node; the remote node could not be told now and learns of it on its next call.",
            deleted.name
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_field_marks_its_form_input() {
        let invalid = |field| ConnectionError::Invalid {
            field,
            problem: "is required".into(),
        };
        assert_eq!(
            refused_field(&invalid("Local instance short name")),
            Some("local_short_name")
        );
        assert_eq!(refused_field(&invalid("Connection name")), Some("name"));
        assert_eq!(
            refused_field(&ConnectionError::NameTaken("x".into())),
            Some("name")
        );
        assert_eq!(refused_field(&invalid("the acceptance")), None);
        let several = ConnectionError::Several(vec![
            invalid("Local instance short name"),
            invalid("the acceptance"),
            ConnectionError::NameTaken("x".into()),
        ]);
        assert_eq!(refused_fields(&several), ["local_short_name", "name"]);
    }

    #[test]
    fn short_names_are_lowercase_words_joined_by_underscores() {
        assert_eq!(short_name("Acme Support"), "acme_support");
        assert_eq!(short_name("  Acme Support (EU)  "), "acme_support_eu");
        assert_eq!(short_name("ServiceNow--Prod"), "servicenow_prod");
        assert_eq!(short_name("Tandem node"), "tandem_node");
    }

    #[test]
    fn short_names_are_never_empty_nor_long() {
        assert_eq!(short_name(""), "node");
        assert_eq!(short_name("¿¡ !?"), "node");
        assert_eq!(short_name("Zürich Büro"), "z_rich_b_ro");
        let long = short_name("The Very Long Name Of A Support Organisation");
        assert!(long.len() <= SHORT_NAME_MAX, "{long}");
        assert!(!long.ends_with('_'), "{long}");
        assert_eq!(long, "the_very_long_name_o");
    }

    #[test]
    fn the_default_connection_name_joins_the_derived_short_names() {
        let name = connections::default_connection_name(
            &short_name("Acme Support"),
            &short_name("Globex IT"),
        );
        assert_eq!(name, "acme_support_to_globex_it");
    }

    #[test]
    fn malformed_ids_are_pages_that_do_not_exist() {
        assert!(parse_id("not-a-uuid").is_err());
        let id = Uuid::nil();
        assert_eq!(parse_id(&id.to_string()).ok(), Some(id));
    }
}
