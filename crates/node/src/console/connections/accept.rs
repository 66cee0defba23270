//! The Accept invitation page: paste the code, see what it connects to, confirm.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum_extra::extract::Form;
use serde::Deserialize;

use super::{MENU_PATH, redirect_with, refusal};
use crate::auth::ConsoleUser;
use crate::connections::{self, AcceptRequest};
use crate::console::{Layout, PageResult};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/connections/accept", get(paste_page).post(accept))
        .route("/connections/accept/preview", post(preview))
}

/// What a pasted code connects to, ready to show.
struct Preview {
    remote: String,
    remote_url: String,
    mode: &'static str,
    connection_name: String,
    expires: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "connection_accept.html")]
struct AcceptPage {
    layout: Layout,
    code: String,
    /// Shown once the code was read; the page then asks for confirmation.
    preview: Option<Preview>,
    local_short_name: String,
    remote_short_name: String,
    /// The projects new items from the remote may go to (`None` on ServiceNow, where the
    /// rules choose the table), and the one selected.
    target_choices: Option<Vec<String>>,
    target_project: String,
    error: Option<String>,
}

fn paste(state: &AppState, user: &ConsoleUser, code: String, error: Option<String>) -> Response {
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let page = AcceptPage {
        layout: Layout::new(state, user, MENU_PATH),
        code,
        preview: None,
        local_short_name: String::new(),
        remote_short_name: String::new(),
        target_choices: None,
        target_project: String::new(),
        error,
    };
    (status, page).into_response()
}

async fn paste_page(State(state): State<AppState>, user: ConsoleUser) -> PageResult {
    Ok(paste(&state, &user, String::new(), None))
}

#[derive(Deserialize)]
struct AcceptForm {
    csrf: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    local_short_name: String,
    #[serde(default)]
    remote_short_name: String,
    #[serde(default)]
    target_project: String,
}

async fn preview(
    State(state): State<AppState>,
    user: ConsoleUser,
    Form(form): Form<AcceptForm>,
) -> PageResult {
    user.check_csrf(&form.csrf)?;
    let code = form.code.trim().to_owned();
    if code.is_empty() {
        let error = "Paste the invitation code the other node's admin gave you.".to_owned();
        return Ok(paste(&state, &user, code, Some(error)));
    }
    match connections::preview(&state, &code).await {
        Ok(p) => {
            let target_choices = connections::target_choices(&state).await?;
            // One project: the choice has one answer. Several or none: the admin chooses.
            let target_project = match target_choices.as_deref() {
                Some([only]) => only.clone(),
                _ => String::new(),
            };
            let layout = Layout::new(&state, &user, MENU_PATH);
            let preview = Preview {
                remote: p
                    .remote_node_name
                    .clone()
                    .unwrap_or_else(|| p.remote_short_name.clone()),
                remote_url: p.remote_url_display.clone(),
                mode: p.mode.name(),
                connection_name: p.connection_name.clone(),
                expires: layout.time(&p.expires),
            };
            Ok(AcceptPage {
                layout,
                code,
                preview: Some(preview),
                local_short_name: p.local_short_name,
                remote_short_name: p.remote_short_name,
                target_choices,
                target_project,
                error: None,
            }
            .into_response())
        }
        Err(e) => Ok(paste(&state, &user, code, Some(refusal(e)?))),
    }
}

/// Turns "" into `None`: the service then takes the default from the code.
fn given(text: &str) -> Option<String> {
    Some(text.trim().to_owned()).filter(|t| !t.is_empty())
}

async fn accept(
    State(state): State<AppState>,
    user: ConsoleUser,
    Form(form): Form<AcceptForm>,
) -> PageResult {
    user.check_csrf(&form.csrf)?;
    let request = AcceptRequest {
        code: form.code.trim().to_owned(),
        local_short_name: given(&form.local_short_name),
        remote_short_name: given(&form.remote_short_name),
        target_project: given(&form.target_project),
    };
    match connections::accept(&state, request).await {
        Ok(connection) => {
            tracing::info!(user = %user.session.username, connection = %connection.name, "Invitation accepted.");
            let note = match &connection.target_project {
                Some(target) => format!(
                    "Connection {} is active: new items from {} go to project {target}.",
                    connection.name, connection.remote_short_name
                ),
                None if connections::target_choices(&state).await?.is_some() => format!(
                    "Connection {} is active. Choose the project new items from {} go to \
                     (Edit → Rules → Target project): until then they wait with an error that says so.",
                    connection.name, connection.remote_short_name
                ),
                None => format!("Connection {} is active.", connection.name),
            };
            redirect_with(&user, Ok(note))
        }
        Err(e) => Ok(paste(&state, &user, form.code, Some(refusal(e)?))),
    }
}
