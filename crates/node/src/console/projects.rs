//! Creating a project, which items need first.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use axum_extra::extract::Form;
use serde::Deserialize;
use tandem_model::NewProject;
use tandem_store::StoreError;

use super::flash::Flash;
use super::{Layout, PageError, PageResult};
use crate::auth::ConsoleUser;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/projects/new", get(new_project_page).post(create_project))
}

#[derive(Template, WebTemplate)]
#[template(path = "project_form.html")]
struct ProjectFormPage {
    layout: Layout,
    key: String,
    name: String,
    description: String,
    error: Option<String>,
}

async fn new_project_page(
    State(state): State<AppState>,
    user: ConsoleUser,
    Query(params): Query<Flash>,
) -> PageResult {
    let (notice, error) = params.take(&user);
    Ok(ProjectFormPage {
        layout: Layout::new(&state, &user, "/items").with_flash(notice.or(error)),
        key: String::new(),
        name: String::new(),
        description: String::new(),
        error: None,
    }
    .into_response())
}

#[derive(Deserialize)]
struct ProjectForm {
    csrf: String,
    key: String,
    name: String,
    #[serde(default)]
    description: String,
}

async fn create_project(
    State(state): State<AppState>,
    user: ConsoleUser,
    Form(form): Form<ProjectForm>,
) -> PageResult {
    user.check_csrf(&form.csrf)?;
    if state.settings().tracker == crate::state::TrackerKind::ServiceNow {
        // The page says why; a form posted anyway is refused the same way.
        return Err(PageError(crate::error::ApiError::BadRequest(
            "this node serves ServiceNow: its projects are the synced tables (Settings → General), not made here".into(),
        )));
    }
    let key_text = form.key.trim().to_ascii_uppercase();
    let result = match key_text.parse() {
        Ok(key) => state
            .store()
            .create_project(NewProject {
                key,
                name: form.name.trim().to_owned(),
                description: form.description.clone(),
            })
            .await
            .map_err(|e| match e {
                StoreError::AlreadyExists(_) | StoreError::Invalid(_) => Ok(e.to_string()),
                other => Err(PageError::from(other)),
            }),
        Err(e) => Err(Ok(tandem_model::ValidationError::to_string(&e))),
    };
    match result {
        Ok(project) => {
            Ok(Redirect::to(&format!("/items/new?project={}", project.key)).into_response())
        }
        Err(Ok(message)) => Ok((
            StatusCode::BAD_REQUEST,
            ProjectFormPage {
                layout: Layout::new(&state, &user, "/items"),
                key: key_text,
                name: form.name,
                description: form.description,
                error: Some(message),
            },
        )
            .into_response()),
        Err(Err(e)) => Err(e),
    }
}
