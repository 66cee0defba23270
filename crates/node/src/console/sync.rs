//! The Sync pages besides Connections: Errors (`errors`), Sync queue (`queue`), Entity sync
//! status (`entity`) and Triggers with Bulk Exalate progress (`triggers`). Every handler calls
//! the same `sync::engine` and `sync::operations` functions as the API and turns the answer
//! into a page or a redirect with a flash; the rules live in the engine.

mod entity;
mod errors;
mod queue;
mod reconcile;
mod triggers;

pub(super) use entity::{TwinView, sync_panel};
pub(super) use errors::ErrorRow;

use std::collections::HashMap;

use axum::Router;
use axum::response::{IntoResponse, Redirect};
use uuid::Uuid;

use super::{PageError, PageResult, flash};
use crate::auth::ConsoleUser;
use crate::error::ApiError;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .merge(errors::router())
        .merge(queue::router())
        .merge(entity::router())
        .merge(triggers::router())
        .merge(reconcile::router())
}

/// A refusal the admin can act on (no such item, a rule that failed), as its message; a fault
/// of the node itself stays an error page (logged, never echoed).
fn refusal(error: impl Into<ApiError>) -> Result<String, PageError> {
    match error.into() {
        internal @ ApiError::Internal(_) => Err(PageError(internal)),
        other => Ok(super::flash::capitalized(&other.public_message())),
    }
}

/// Redirects to `path` (which may carry a query already) with the outcome as a signed
/// `flash` or `error` (see `console::flash`).
fn redirect_with(user: &ConsoleUser, path: &str, outcome: Result<String, String>) -> PageResult {
    let outcome = outcome.as_deref().map_err(String::as_str);
    Ok(Redirect::to(&flash::location(user, path, outcome)).into_response())
}

/// Every connection by id: the Errors rows show its name and, for an error the remote
/// reported, link to the remote's Errors page.
async fn connections_by_id(
    state: &AppState,
) -> Result<HashMap<Uuid, tandem_model::Connection>, PageError> {
    Ok(state
        .store()
        .connections()
        .await?
        .into_iter()
        .map(|c| (c.id, c))
        .collect())
}

/// A connection's name, or its id when it is gone.
fn name_of(names: &HashMap<Uuid, String>, id: Option<Uuid>) -> String {
    match id {
        Some(id) => names.get(&id).cloned().unwrap_or_else(|| id.to_string()),
        None => String::new(),
    }
}

/// JSON text pretty-printed for a `<pre>`; text that is not JSON as it is.
fn pretty_json(text: &str) -> String {
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replicas_are_pretty_printed_and_other_text_kept() {
        assert_eq!(pretty_json(r#"{"a":1}"#), "{\n  \"a\": 1\n}");
        assert_eq!(pretty_json("not json"), "not json");
    }

    #[test]
    fn node_faults_stay_error_pages_and_refusals_become_messages() {
        assert!(refusal(ApiError::Internal("disk".into())).is_err());
        assert_eq!(
            refusal(ApiError::BadRequest("there is no item SUP-9".into())).ok(),
            Some("There is no item SUP-9".to_owned())
        );
    }
}
