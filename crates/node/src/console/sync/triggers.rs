//! The Triggers page: per connection, the queries that bring matching items under sync, with
//! Edit, Delete, **Bulk Exalate** (the current matches) and **Bulk Unexalate**; and per
//! connection **Sync again** (every twin) and **Clean-up** (behind a confirmation page that
//! says how many twins and queued events it touches). Each runs in the background as a durable
//! job (`sync::jobs`): the button leads to the job's page, which shows its progress, rate and
//! time left, refreshing until it ends, then what it did; the Jobs page lists them, with Cancel.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum_extra::extract::Form;
use serde::Deserialize;
use tandem_model::{Connection, Trigger};

use super::{redirect_with, refusal};
use crate::auth::ConsoleUser;
use crate::connections;
use crate::console::flash::Flash;
use crate::console::{Layout, PageError, PageResult};
use crate::error::ApiError;
use crate::state::AppState;
use crate::sync::jobs::{self, JobView};
use crate::sync::operations;
use tandem_model::JobKind;

const PATH: &str = "/sync/triggers";

/// Examples under the query field on a node that serves ServiceNow: encoded queries, as a
/// ServiceNow list's filter writes them (`tandem_connectors::servicenow::translate_trigger`).
const SERVICENOW_EXAMPLES: &[&str] = &[
    "urgency=1^active=true",
    "priority<=2^state!=7",
    "short_descriptionLIKEprinter",
];

/// Examples under the query field, in the built-in tracker's query language.
const EXAMPLES: &[&str] = &[
    "project = SUP",
    "project = SUP AND labels = escalate",
    "priority in (High, Highest) AND status != Done",
];

pub fn router() -> Router<AppState> {
    Router::new()
        .route(PATH, get(list).post(add))
        .route("/sync/triggers/{id}", post(edit))
        .route("/sync/triggers/{id}/delete", post(delete))
        .route("/sync/triggers/{id}/bulk", post(bulk))
        .route("/sync/triggers/{id}/unexalate", post(bulk_unexalate))
        .route("/sync/connections/{name}/again", post(again))
        .route(
            "/sync/connections/{name}/cleanup",
            get(clean_up_confirm).post(clean_up),
        )
        .route("/sync/bulk/{job}", get(progress))
        .route("/sync/jobs", get(job_list))
        .route("/sync/jobs/{job}", get(progress))
        .route("/sync/jobs/{job}/cancel", post(cancel))
}

/// One connection and its triggers.
struct Section {
    connection: Connection,
    triggers: Vec<Trigger>,
}

/// What a refused form submitted, kept on the page with the message.
struct Refused {
    /// The trigger being edited; `None`: the Add trigger form.
    trigger: Option<i64>,
    form: TriggerForm,
    error: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "sync_triggers.html")]
struct TriggersPage {
    layout: Layout,
    sections: Vec<Section>,
    examples: &'static [&'static str],
    /// The Add trigger form's values.
    add: TriggerForm,
    refused: Option<Refused>,
    error: Option<String>,
}

impl TriggersPage {
    /// The values the edit form of `trigger` shows: what a refused edit submitted, or the
    /// trigger's own.
    fn edit_values(&self, trigger: &Trigger) -> (String, bool, String) {
        match &self.refused {
            Some(r) if r.trigger == Some(trigger.id) => {
                (r.form.query.clone(), r.form.active(), r.form.note.clone())
            }
            _ => (trigger.query.clone(), trigger.active, trigger.note.clone()),
        }
    }

    fn edit_refused(&self, trigger: &Trigger) -> Option<&str> {
        match &self.refused {
            Some(r) if r.trigger == Some(trigger.id) => Some(&r.error),
            _ => None,
        }
    }

    fn add_refused(&self) -> Option<&str> {
        match &self.refused {
            Some(r) if r.trigger.is_none() => Some(&r.error),
            _ => None,
        }
    }
}

#[derive(Deserialize, Default)]
struct TriggerForm {
    #[serde(default)]
    csrf: String,
    /// The connection's name; only the Add form has it.
    #[serde(default)]
    connection: String,
    #[serde(default)]
    query: String,
    /// A checkbox: present when ticked.
    #[serde(default)]
    active: Option<String>,
    #[serde(default)]
    note: String,
}

impl TriggerForm {
    fn active(&self) -> bool {
        self.active.is_some()
    }
}

async fn render(
    state: &AppState,
    user: &ConsoleUser,
    flash: Option<String>,
    error: Option<String>,
    refused: Option<Refused>,
) -> Result<TriggersPage, PageError> {
    let store = state.store();
    let mut sections = Vec::new();
    for connection in store.connections().await? {
        let triggers = store.triggers(Some(connection.id)).await?;
        sections.push(Section {
            connection,
            triggers,
        });
    }
    let add = match &refused {
        Some(Refused {
            trigger: None,
            form,
            ..
        }) => TriggerForm {
            csrf: String::new(),
            connection: form.connection.clone(),
            query: form.query.clone(),
            active: form.active.clone(),
            note: form.note.clone(),
        },
        _ => TriggerForm {
            active: Some("on".into()),
            ..TriggerForm::default()
        },
    };
    let layout = Layout::new(state, user, PATH).with_flash(flash);
    let layout_servicenow = layout.servicenow;
    Ok(TriggersPage {
        layout,
        sections,
        examples: if layout_servicenow {
            SERVICENOW_EXAMPLES
        } else {
            EXAMPLES
        },
        add,
        refused,
        error,
    })
}

async fn list(
    State(state): State<AppState>,
    user: ConsoleUser,
    Query(params): Query<Flash>,
) -> PageResult {
    let (notice, error) = params.take(&user);
    let page = render(&state, &user, notice, error, None).await?;
    Ok(page.into_response())
}

/// The page again with the refused form kept and its message.
async fn refuse(state: &AppState, user: &ConsoleUser, refused: Refused) -> PageResult {
    let page = render(state, user, None, None, Some(refused)).await?;
    Ok((StatusCode::BAD_REQUEST, page).into_response())
}

async fn add(
    State(state): State<AppState>,
    user: ConsoleUser,
    Form(form): Form<TriggerForm>,
) -> PageResult {
    user.check_csrf(&form.csrf)?;
    let connection = match connections::find(&state, &form.connection).await {
        Ok(c) => c,
        Err(e) => {
            let error = refusal(e)?;
            return refuse(
                &state,
                &user,
                Refused {
                    trigger: None,
                    form,
                    error,
                },
            )
            .await;
        }
    };
    match operations::add_trigger(&state, &connection, &form.query, form.active(), &form.note).await
    {
        Ok(trigger) => {
            tracing::info!(user = %user.session.username, connection = %connection.name, trigger = trigger.id, "Trigger added.");
            redirect_with(
                &user,
                PATH,
                Ok(format!(
                    "Trigger added to {}: items that change to match it come under sync. Bulk Exalate brings the current matches.",
                    connection.name
                )),
            )
        }
        Err(e) => {
            let error = refusal(e)?;
            refuse(
                &state,
                &user,
                Refused {
                    trigger: None,
                    form,
                    error,
                },
            )
            .await
        }
    }
}

/// The trigger with this id, or the page that does not exist.
async fn find(state: &AppState, id: i64) -> Result<Trigger, PageError> {
    state
        .store()
        .triggers(None)
        .await?
        .into_iter()
        .find(|t| t.id == id)
        .ok_or_else(|| PageError(ApiError::NotFound(format!("there is no trigger {id}"))))
}

async fn connection_of(state: &AppState, trigger: &Trigger) -> Result<Connection, PageError> {
    Ok(connections::find(state, &trigger.connection_id.to_string()).await?)
}

async fn edit(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(id): Path<i64>,
    Form(form): Form<TriggerForm>,
) -> PageResult {
    user.check_csrf(&form.csrf)?;
    let mut trigger = find(&state, id).await?;
    trigger.query = form.query.clone();
    trigger.active = form.active();
    trigger.note = form.note.trim().to_owned();
    match operations::save_trigger(&state, trigger).await {
        Ok(trigger) => {
            tracing::info!(user = %user.session.username, trigger = trigger.id, "Trigger saved.");
            redirect_with(&user, PATH, Ok(format!("Trigger {} saved.", trigger.id)))
        }
        Err(e) => {
            let error = refusal(e)?;
            let refused = Refused {
                trigger: Some(id),
                form,
                error,
            };
            refuse(&state, &user, refused).await
        }
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

async fn delete(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(id): Path<i64>,
    Form(form): Form<CsrfForm>,
) -> PageResult {
    user.check_csrf(&form.csrf)?;
    let trigger = find(&state, id).await?;
    state.store().delete_trigger(trigger.id).await?;
    tracing::info!(user = %user.session.username, trigger = id, "Trigger deleted.");
    redirect_with(
        &user,
        PATH,
        Ok(format!(
            "Trigger {id} deleted; items it brought under sync keep syncing."
        )),
    )
}

async fn bulk(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(id): Path<i64>,
    Form(form): Form<CsrfForm>,
) -> PageResult {
    user.check_csrf(&form.csrf)?;
    let trigger = find(&state, id).await?;
    let connection = connection_of(&state, &trigger).await?;
    start_job(&state, &user, JobKind::Exalate, &connection, Some(&trigger)).await
}

#[derive(Template, WebTemplate)]
#[template(path = "sync_bulk.html")]
struct BulkPage {
    layout: Layout,
    job: JobView,
}

/// A job's page: progress, rate, time left; it refreshes itself until the job ends.
async fn progress(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(job): Path<i64>,
) -> PageResult {
    let job = jobs::get(&state, job).await?;
    Ok(BulkPage {
        layout: Layout::new(&state, &user, "/sync/jobs"),
        job,
    }
    .into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "sync_jobs.html")]
struct JobsPage {
    layout: Layout,
    connection: Option<String>,
    jobs: Vec<JobView>,
    running: bool,
}

#[derive(Debug, Deserialize)]
struct JobsFilter {
    connection: Option<String>,
}

/// The Jobs page: the last 100 jobs, of one connection or all.
async fn job_list(
    State(state): State<AppState>,
    user: ConsoleUser,
    Query(filter): Query<JobsFilter>,
) -> PageResult {
    let connection = match filter.connection.as_deref().filter(|n| !n.is_empty()) {
        Some(name) => Some(connections::find(&state, name).await?),
        None => None,
    };
    let jobs = jobs::list(&state, connection.as_ref(), 100).await?;
    Ok(JobsPage {
        layout: Layout::new(&state, &user, "/sync/jobs"),
        running: jobs.iter().any(|j| !j.job.state.is_finished()),
        connection: connection.map(|c| c.name),
        jobs,
    }
    .into_response())
}

async fn cancel(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(job): Path<i64>,
    Form(form): Form<CsrfForm>,
) -> PageResult {
    user.check_csrf(&form.csrf)?;
    let page = format!("/sync/jobs/{job}");
    match jobs::cancel(&state, job).await {
        Ok(_) => {
            tracing::info!(user = %user.session.username, job, "Bulk job cancel requested.");
            Ok(Redirect::to(&page).into_response())
        }
        Err(e) => redirect_with(&user, &page, Err(refusal(e)?)),
    }
}

async fn bulk_unexalate(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(id): Path<i64>,
    Form(form): Form<CsrfForm>,
) -> PageResult {
    user.check_csrf(&form.csrf)?;
    let trigger = find(&state, id).await?;
    let connection = connection_of(&state, &trigger).await?;
    start_job(
        &state,
        &user,
        JobKind::Unexalate,
        &connection,
        Some(&trigger),
    )
    .await
}

/// Starts a bulk job in the background and shows its page, which follows it to the end: a
/// job over many items outlasts any request (and a node that stops takes it up again).
async fn start_job(
    state: &AppState,
    user: &ConsoleUser,
    kind: JobKind,
    connection: &Connection,
    trigger: Option<&Trigger>,
) -> PageResult {
    match jobs::start(state, kind, connection, trigger).await {
        Ok(job) => {
            tracing::info!(user = %user.session.username, connection = %connection.name, trigger = ?trigger.map(|t| t.id), job = job.id, "{} started.", kind.title());
            Ok(Redirect::to(&format!("/sync/bulk/{}", job.id)).into_response())
        }
        Err(e) => redirect_with(user, PATH, Err(refusal(e)?)),
    }
}

async fn again(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(name): Path<String>,
    Form(form): Form<CsrfForm>,
) -> PageResult {
    user.check_csrf(&form.csrf)?;
    let connection = connections::find(&state, &name).await?;
    start_job(&state, &user, JobKind::SyncAgain, &connection, None).await
}

#[derive(Template, WebTemplate)]
#[template(path = "sync_cleanup.html")]
struct CleanUpPage {
    layout: Layout,
    connection: String,
    twins: u64,
    queued: u64,
}

async fn clean_up_confirm(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(name): Path<String>,
) -> PageResult {
    let connection = connections::find(&state, &name).await?;
    let preview = operations::clean_up_preview(&state, &connection).await?;
    Ok(CleanUpPage {
        layout: Layout::new(&state, &user, PATH),
        connection: connection.name,
        twins: preview.twins,
        queued: preview.queued,
    }
    .into_response())
}

async fn clean_up(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(name): Path<String>,
    Form(form): Form<CsrfForm>,
) -> PageResult {
    user.check_csrf(&form.csrf)?;
    let connection = connections::find(&state, &name).await?;
    start_job(&state, &user, JobKind::CleanUp, &connection, None).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use tandem_connectors::servicenow::{tables, translate_trigger};

    #[test]
    fn the_servicenow_examples_are_encoded_queries_a_trigger_takes() {
        let tables = tables(&["incident".into()]);
        for example in SERVICENOW_EXAMPLES {
            assert!(
                translate_trigger(example, &tables).is_ok(),
                "{example}: {:?}",
                translate_trigger(example, &tables).err()
            );
        }
    }

    #[test]
    fn the_builtin_examples_are_queries_of_the_builtin_tracker() {
        for example in EXAMPLES {
            assert!(
                tandem_model::query::Query::parse(example).is_ok(),
                "{example}"
            );
        }
    }
}
