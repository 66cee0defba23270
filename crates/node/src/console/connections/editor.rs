//! The connection editor: tabs Rules, Triggers, Statistics and Info of one connection.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum_extra::extract::Form;
use serde::Deserialize;
use tandem_model::{Connection, ConnectionRole, Mode, Trigger};
use uuid::Uuid;

use super::{MENU_PATH, parse_id, refusal, status_class};
use crate::auth::ConsoleUser;
use crate::connections::{self, Statistics};
use crate::console::flash::{self, Flash};
use crate::console::{Layout, PageResult};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/connections/{id}/edit", get(edit_page))
        .route("/connections/{id}/rules", post(save_rules))
        .route("/connections/{id}/info", post(save_info))
        .route("/connections/{id}/scope", post(save_scope))
        .route("/connections/{id}/target", post(save_target))
        .route("/connections/{id}/test/outgoing", post(test_outgoing))
        .route("/connections/{id}/test/incoming", post(test_incoming))
}

/// The editor's tabs: (query value, label).
const TABS: &[(&str, &str)] = &[
    ("rules", "Rules"),
    ("triggers", "Triggers"),
    ("statistics", "Statistics"),
    ("info", "Info"),
];

#[derive(Template, WebTemplate)]
#[template(path = "connection_edit.html")]
struct EditPage {
    layout: Layout,
    connection: Connection,
    status: String,
    status_class: &'static str,
    tab: &'static str,
    tabs: &'static [(&'static str, &'static str)],
    /// The Rules tab's text: the connection's, or what a refused Publish submitted.
    outgoing_script: String,
    incoming_script: String,
    /// Only on the Statistics tab.
    statistics: Option<Statistics>,
    /// Only on the Triggers tab.
    triggers: Vec<Trigger>,
    /// The Info tab's facts: (label, value).
    facts: Vec<(&'static str, String)>,
    description: String,
    /// The Info tab's scope: what it reaches, in words, and the form's fields (the scope
    /// set, or what a refused Save submitted).
    scope_effective: String,
    scope_projects: String,
    scope_query: String,
    error: Option<String>,
    /// The Rules tab's target project: the projects to choose from (`None` on ServiceNow,
    /// where the rules choose the table) and the one chosen ("" for none).
    target_choices: Option<Vec<String>>,
    target_project: String,
    /// The Rules tab's test run: the item key and replica last tried, and what came out.
    test_item: String,
    test_replica: String,
    /// The time (and zone) the test run's rules saw, as the admin gave it ("" for now).
    test_now: String,
    test_zone: String,
    test_result: Option<TestResult>,
}

/// What a test run showed: a title, and text for a `<pre>` (a replica, the changes, or the
/// failing line with its caret).
struct TestResult {
    title: String,
    text: String,
    failed: bool,
}

impl EditPage {
    fn basic(&self) -> bool {
        self.connection.mode == Mode::Basic
    }

    /// A connection this node initiated that the other side has not accepted yet: its page
    /// offers a new invitation code.
    fn awaiting_acceptance(&self) -> bool {
        self.connection.role == ConnectionRole::Initiator
            && self.connection.status == tandem_model::ConnectionStatus::Pending
    }
}

/// Everything the Info tab says about the two sides, in reading order.
fn facts(state: &AppState, layout: &Layout, c: &Connection) -> Vec<(&'static str, String)> {
    let settings = state.settings();
    let mut facts = vec![
        ("Local instance short name", c.local_short_name.clone()),
        (
            "This node",
            format!("{} ({})", settings.name, settings.node_url),
        ),
        ("Remote instance short name", c.remote_short_name.clone()),
    ];
    match (&c.remote, c.role) {
        (_, ConnectionRole::Local) => {
            facts.push(("Remote node", "this node (a local connection)".to_owned()));
        }
        (Some(remote), _) => {
            facts.push(("Remote node", remote.name.clone()));
            facts.push((
                "Remote URL",
                remote
                    .url
                    .clone()
                    .unwrap_or_else(|| "unknown (private)".to_owned()),
            ));
            facts.push(("Remote tracker", remote.tracker.clone()));
        }
        (None, _) => {
            facts.push((
                "Remote node",
                "not known yet: the invitation has not been accepted".to_owned(),
            ));
        }
    }
    facts.push((
        "Mode",
        format!(
            "{} (fixed at creation: create a new connection to use another mode)",
            c.mode.name()
        ),
    ));
    let role = match c.role {
        ConnectionRole::Initiator => "initiator: this node made the invitation code",
        ConnectionRole::Acceptor => "acceptor: this node accepted the other node's code",
        ConnectionRole::Local => "local: both sides are this node",
    };
    facts.push(("Role", role.to_owned()));
    facts.push(("Created", layout.time(&c.created)));
    if let Some(invitation) = &c.invitation {
        let state = match invitation.used {
            Some(used) => format!("used {}", layout.time(&used)),
            None => format!("not used yet; expires {}", layout.time(&invitation.expires)),
        };
        facts.push(("Invitation", state));
    }
    let mut status = connections::status_label(c);
    if let Some(reason) = &c.status_reason {
        status = format!("{status}: {reason}");
    }
    facts.push(("Status", status));
    facts
}

#[derive(Deserialize)]
struct EditParams {
    tab: Option<String>,
    flash: Option<String>,
    error: Option<String>,
    sig: Option<String>,
}

async fn edit_page(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(id): Path<String>,
    Query(params): Query<EditParams>,
) -> PageResult {
    let id = parse_id(&id)?;
    let tab = TABS
        .iter()
        .map(|(value, _)| *value)
        .find(|value| params.tab.as_deref() == Some(*value))
        .unwrap_or("rules");
    let (notice, error) = Flash {
        flash: params.flash,
        error: params.error,
        sig: params.sig,
    }
    .take(&user);
    // The only refusal sent here is a new invitation code that could not be made.
    let page = render(&state, &user, id, tab, notice.or(error), None).await?;
    Ok(page.into_response())
}

/// The editor on `tab`; `refused` keeps what a refused form submitted, with the message.
async fn render(
    state: &AppState,
    user: &ConsoleUser,
    id: Uuid,
    tab: &'static str,
    flash: Option<String>,
    refused: Option<Refused>,
) -> Result<EditPage, crate::console::PageError> {
    let connection = connections::find(state, &id.to_string()).await?;
    let statistics = if tab == "statistics" {
        Some(connections::statistics(state, id).await?)
    } else {
        None
    };
    let triggers = if tab == "triggers" {
        state.store().triggers(Some(id)).await?
    } else {
        Vec::new()
    };
    let (scope_effective, scope_projects, scope_query) = if tab == "info" {
        let scope = connections::scope(state, id).await?;
        let (projects, query) = match scope.set {
            Some(tandem_model::Scope::Projects(p)) => (p.join(", "), String::new()),
            Some(tandem_model::Scope::Query(q)) => (String::new(), q),
            None => (String::new(), String::new()),
        };
        (scope.effective, projects, query)
    } else {
        Default::default()
    };
    let target_choices = if tab == "rules" {
        connections::target_choices(state).await?
    } else {
        None
    };
    let layout = Layout::new(state, user, MENU_PATH).with_flash(flash);
    let facts = facts(state, &layout, &connection);
    let mut page = EditPage {
        status: connections::status_label(&connection),
        status_class: status_class(connection.status),
        tab,
        tabs: TABS,
        outgoing_script: connection.outgoing_script.clone(),
        incoming_script: connection.incoming_script.clone(),
        statistics,
        triggers,
        facts,
        description: connection.description.clone(),
        scope_effective,
        scope_projects,
        scope_query,
        error: None,
        test_item: String::new(),
        test_replica: String::new(),
        test_now: String::new(),
        test_zone: String::new(),
        test_result: None,
        target_choices,
        target_project: connection.target_project.clone().unwrap_or_default(),
        connection,
        layout,
    };
    match refused {
        Some(Refused::Rules {
            outgoing,
            incoming,
            error,
        }) => {
            page.outgoing_script = outgoing;
            page.incoming_script = incoming;
            page.error = Some(error);
        }
        Some(Refused::Info { description, error }) => {
            page.description = description;
            page.error = Some(error);
        }
        Some(Refused::Scope {
            projects,
            query,
            error,
        }) => {
            page.scope_projects = projects;
            page.scope_query = query;
            page.error = Some(error);
        }
        None => {}
    }
    Ok(page)
}

enum Refused {
    Rules {
        outgoing: String,
        incoming: String,
        error: String,
    },
    Info {
        description: String,
        error: String,
    },
    Scope {
        projects: String,
        query: String,
        error: String,
    },
}

#[derive(Deserialize)]
struct RulesForm {
    csrf: String,
    #[serde(default)]
    outgoing_script: String,
    #[serde(default)]
    incoming_script: String,
}

async fn save_rules(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(id): Path<String>,
    Form(form): Form<RulesForm>,
) -> PageResult {
    user.check_csrf(&form.csrf)?;
    let id = parse_id(&id)?;
    match connections::save_rules(&state, id, &form.outgoing_script, &form.incoming_script).await {
        Ok(c) => {
            tracing::info!(user = %user.session.username, connection = %c.name, "Sync rules published.");
            Ok(redirect_to_tab(&user, id, "rules", "Rules published.").into_response())
        }
        Err(e) => {
            let refused = Refused::Rules {
                error: refusal(e)?,
                outgoing: form.outgoing_script,
                incoming: form.incoming_script,
            };
            let page = render(&state, &user, id, "rules", None, Some(refused)).await?;
            Ok((StatusCode::BAD_REQUEST, page).into_response())
        }
    }
}

#[derive(Deserialize)]
struct TargetForm {
    csrf: String,
    /// A project key; empty for none.
    #[serde(default)]
    target_project: String,
}

/// Saves the project new items from the remote go to (any mode: Basic rules read it too).
async fn save_target(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(id): Path<String>,
    Form(form): Form<TargetForm>,
) -> PageResult {
    user.check_csrf(&form.csrf)?;
    let id = parse_id(&id)?;
    let target = Some(form.target_project.trim()).filter(|t| !t.is_empty());
    match connections::set_target_project(&state, id, target).await {
        Ok(c) => {
            tracing::info!(user = %user.session.username, connection = %c.name, target = ?c.target_project, "Target project saved.");
            let note = match &c.target_project {
                Some(t) => format!(
                    "New items from {} go to project {t}. Items that failed for want of one: Resolve and retry on the Errors page.",
                    c.remote_short_name
                ),
                None => "No target project: new items from the other side wait with an error until one is chosen.".to_owned(),
            };
            Ok(redirect_to_tab(&user, id, "rules", &note).into_response())
        }
        Err(e) => {
            let mut page = render(&state, &user, id, "rules", None, None).await?;
            page.error = Some(refusal(e)?);
            Ok((StatusCode::BAD_REQUEST, page).into_response())
        }
    }
}

#[derive(Deserialize)]
struct ScopeForm {
    csrf: String,
    /// Project keys (ServiceNow: synced tables), separated by commas or spaces.
    #[serde(default)]
    scope_projects: String,
    #[serde(default)]
    scope_query: String,
}

/// Saves the connection's scope: projects, or a query, or neither for the default.
async fn save_scope(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(id): Path<String>,
    Form(form): Form<ScopeForm>,
) -> PageResult {
    user.check_csrf(&form.csrf)?;
    let id = parse_id(&id)?;
    let projects: Vec<String> = form
        .scope_projects
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect();
    let query = form.scope_query.trim();
    let scope = match (projects.is_empty(), query.is_empty()) {
        (true, true) => Ok(None),
        (false, true) => Ok(Some(tandem_model::Scope::Projects(projects))),
        (true, false) => Ok(Some(tandem_model::Scope::Query(query.to_owned()))),
        (false, false) => Err(connections::ConnectionError::Invalid {
            field: "Scope",
            problem: "give projects or a query, not both".into(),
        }),
    };
    let saved = match scope {
        Ok(scope) => connections::set_scope(&state, id, scope).await,
        Err(e) => Err(e),
    };
    match saved {
        Ok(view) => {
            tracing::info!(user = %user.session.username, connection = %id, scope = %view.effective, "Connection scope saved.");
            Ok(redirect_to_tab(&user, id, "info", "Scope saved.").into_response())
        }
        Err(e) => {
            let refused = Refused::Scope {
                error: refusal(e)?,
                projects: form.scope_projects,
                query: form.scope_query,
            };
            let page = render(&state, &user, id, "info", None, Some(refused)).await?;
            Ok((StatusCode::BAD_REQUEST, page).into_response())
        }
    }
}

#[derive(Deserialize)]
struct InfoForm {
    csrf: String,
    #[serde(default)]
    description: String,
}

async fn save_info(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(id): Path<String>,
    Form(form): Form<InfoForm>,
) -> PageResult {
    user.check_csrf(&form.csrf)?;
    let id = parse_id(&id)?;
    let description = form.description.trim().to_owned();
    match connections::update_info(&state, id, Some(description.clone()), None).await {
        Ok(c) => {
            tracing::info!(user = %user.session.username, connection = %c.name, "Connection description saved.");
            Ok(redirect_to_tab(&user, id, "info", "Description saved.").into_response())
        }
        Err(e) => {
            let refused = Refused::Info {
                error: refusal(e)?,
                description,
            };
            let page = render(&state, &user, id, "info", None, Some(refused)).await?;
            Ok((StatusCode::BAD_REQUEST, page).into_response())
        }
    }
}

#[derive(Deserialize)]
struct TestForm {
    csrf: String,
    #[serde(default)]
    item: String,
    #[serde(default)]
    replica: String,
    /// The time the rules see ("" for now) and its zone.
    #[serde(default)]
    now: String,
    #[serde(default)]
    zone: String,
}

/// The result of a test run that failed: a rule's line and caret, or the reason.
fn failed_test(e: crate::sync::engine::SyncFailure) -> TestResult {
    match e {
        crate::sync::engine::SyncFailure::Rule(rule) => TestResult {
            title: rule.to_string(),
            text: rule.trace.unwrap_or_default(),
            failed: true,
        },
        other => TestResult {
            title: other.to_string(),
            text: String::new(),
            failed: true,
        },
    }
}

/// Test run of the outgoing rules on a local item: the replica they produce. Writes nothing.
async fn test_outgoing(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(id): Path<String>,
    Form(form): Form<TestForm>,
) -> PageResult {
    user.check_csrf(&form.csrf)?;
    let id = parse_id(&id)?;
    let connection = connections::find(&state, &id.to_string()).await?;
    let clock = crate::sync::operations::test_clock(Some(&form.now), Some(&form.zone));
    let result = match (form.item.trim().parse::<tandem_model::ItemKey>(), clock) {
        (_, Err(why)) => TestResult {
            title: why,
            text: String::new(),
            failed: true,
        },
        (Err(_), _) => TestResult {
            title: format!("'{}' is not an item key (like SUP-12)", form.item.trim()),
            text: String::new(),
            failed: true,
        },
        (Ok(key), Ok(clock)) => {
            match crate::sync::operations::test_outgoing(&connection, &state, &key, clock).await {
                Ok(replica) => TestResult {
                    title: format!("The replica the outgoing rules make for {key}"),
                    text: serde_json::to_string_pretty(&replica).unwrap_or_default(),
                    failed: false,
                },
                Err(e) => failed_test(e),
            }
        }
    };
    let mut page = render(&state, &user, id, "rules", None, None).await?;
    page.test_item = form.item;
    page.test_replica = form.replica;
    page.test_now = form.now;
    page.test_zone = form.zone;
    page.test_result = Some(result);
    Ok(page.into_response())
}

/// Test run of the incoming rules on a pasted replica: what they would change on a local item
/// (or create). Writes nothing.
async fn test_incoming(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(id): Path<String>,
    Form(form): Form<TestForm>,
) -> PageResult {
    user.check_csrf(&form.csrf)?;
    let id = parse_id(&id)?;
    let connection = connections::find(&state, &id.to_string()).await?;
    let item = form.item.trim();
    let clock = crate::sync::operations::test_clock(Some(&form.now), Some(&form.zone));
    let result = match (
        serde_json::from_str::<serde_json::Value>(&form.replica),
        item.parse::<tandem_model::ItemKey>(),
        clock,
    ) {
        (_, _, Err(why)) => TestResult {
            title: why,
            text: String::new(),
            failed: true,
        },
        (Err(e), _, _) => TestResult {
            title: format!("The replica is not JSON: {e}"),
            text: String::new(),
            failed: true,
        },
        (Ok(_), Err(_), _) if !item.is_empty() => TestResult {
            title: format!("'{item}' is not an item key (like SUP-12)"),
            text: String::new(),
            failed: true,
        },
        (Ok(replica), key, Ok(clock)) => {
            let key = key.ok();
            match crate::sync::operations::test_incoming(
                &state,
                &connection,
                replica,
                key.as_ref(),
                clock,
            )
            .await
            {
                Ok(preview) => {
                    let mut text = String::new();
                    for (field, before, after) in &preview.changes {
                        text.push_str(&format!("{field}: {before} → {after}\n"));
                    }
                    for line in preview
                        .comments
                        .iter()
                        .chain(&preview.attachments)
                        .chain(&preview.log)
                    {
                        text.push_str(line);
                        text.push('\n');
                    }
                    if text.is_empty() {
                        text.push_str("no change");
                    }
                    TestResult {
                        title: match &key {
                            Some(key) => format!("What the incoming rules would change on {key}"),
                            None => "What the incoming rules would create".to_owned(),
                        },
                        text,
                        failed: false,
                    }
                }
                Err(e) => failed_test(e),
            }
        }
    };
    let mut page = render(&state, &user, id, "rules", None, None).await?;
    page.test_item = form.item;
    page.test_replica = form.replica;
    page.test_now = form.now;
    page.test_zone = form.zone;
    page.test_result = Some(result);
    Ok(page.into_response())
}

fn redirect_to_tab(user: &ConsoleUser, id: Uuid, tab: &str, notice: &str) -> Redirect {
    Redirect::to(&flash::location(
        user,
        &format!("/connections/{id}/edit?tab={tab}"),
        Ok(notice),
    ))
}
