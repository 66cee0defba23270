//! Settings pages: General (node URL, name, tracker, users), License and API tokens.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum_extra::extract::Form;
use serde::Deserialize;
use tandem_store::{ApiToken, TokenScope, User};

use super::{Layout, PageResult};
use crate::auth::{self, ConsoleUser};
use crate::config::{check_name, check_node_url};
use crate::state::{AppState, NodeSettings, TrackerKind};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/settings",
            get(|| async { Redirect::to("/settings/general") }),
        )
        .route("/settings/general", get(general_page).post(save_general))
        .route("/settings/servicenow", post(save_servicenow))
        .route("/settings/tokens", get(tokens_page).post(create_token))
        .route("/settings/tokens/{id}/revoke", post(revoke_token))
        .route("/settings/license", get(license_page).post(install_license))
}

#[derive(Template, WebTemplate)]
#[template(path = "settings_general.html")]
struct GeneralPage {
    layout: Layout,
    node_id: String,
    public_key: String,
    version: &'static str,
    name: String,
    node_url: String,
    tracker: String,
    trackers: &'static [TrackerKind],
    /// Settings fixed by the configuration (flags, environment, file) cannot be changed here.
    name_locked: bool,
    url_locked: bool,
    /// The ServiceNow instance the node serves and how syncing with it goes.
    servicenow: Option<ServiceNowFacts>,
    /// The ServiceNow connection form, unless the configuration sets the connection.
    servicenow_form: Option<ServiceNowForm>,
    error: Option<String>,
    saved: bool,
    /// Who can sign in to the console.
    users: Vec<User>,
}

/// The ServiceNow connection form's values (secrets are never shown back).
#[derive(Default)]
struct ServiceNowForm {
    instance_url: String,
    user: String,
    client_id: String,
    tables: String,
    poll_secs: String,
    /// A password is saved: an empty field keeps it.
    has_password: bool,
    /// The "allow plain http://" box is ticked.
    allow_http: bool,
    error: Option<String>,
    notice: Option<String>,
}

fn servicenow_form(state: &AppState) -> Option<ServiceNowForm> {
    match &state.servicenow_config() {
        Some(c) if !c.from_console => None,
        Some(c) => Some(ServiceNowForm {
            instance_url: c.instance_url.clone(),
            user: c.user.clone(),
            client_id: c
                .oauth
                .as_ref()
                .map(|(id, _)| id.clone())
                .unwrap_or_default(),
            tables: c.tables.join(", "),
            poll_secs: c.poll_interval.as_secs().to_string(),
            has_password: true,
            allow_http: c.instance_url.starts_with("http://"),
            ..ServiceNowForm::default()
        }),
        None => Some(ServiceNowForm {
            tables: "incident".into(),
            poll_secs: crate::config::DEFAULT_POLL_SECS.to_string(),
            ..ServiceNowForm::default()
        }),
    }
}

/// What the General settings page shows of a ServiceNow node.
struct ServiceNowFacts {
    /// Saved on this page rather than set by the configuration.
    from_console: bool,
    instance_url: String,
    user: String,
    auth: &'static str,
    tables: Vec<(String, String)>,
    poll_secs: u64,
    last_poll: String,
    last_error: Option<String>,
    pulled: u64,
    pushed: u64,
    requests: u64,
}

fn servicenow_facts(state: &AppState) -> Option<ServiceNowFacts> {
    let config = state.servicenow_config()?;
    let status = state.bridge_status().unwrap_or_default();
    let tables = tandem_connectors::servicenow::tables(&config.tables)
        .iter()
        .map(|(t, k)| (t.to_owned(), k.to_string()))
        .collect();
    Some(ServiceNowFacts {
        from_console: config.from_console,
        instance_url: config.instance_url.clone(),
        user: config.user.clone(),
        auth: if config.oauth.is_some() {
            "OAuth 2 (password grant)"
        } else {
            "Basic"
        },
        tables,
        poll_secs: config.poll_interval.as_secs(),
        last_poll: status.last_poll.map_or_else(
            || "not yet".to_owned(),
            |t| t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string(),
        ),
        last_error: status.last_error,
        pulled: status.pulled,
        pushed: status.pushed,
        requests: status.requests,
    })
}

async fn general(
    state: &AppState,
    user: &ConsoleUser,
    settings: NodeSettings,
) -> Result<GeneralPage, tandem_store::StoreError> {
    Ok(GeneralPage {
        layout: Layout::new(state, user, "/settings/general"),
        node_id: state.identity().id.to_string(),
        public_key: state.identity().public_key_base64(),
        version: env!("CARGO_PKG_VERSION"),
        name: settings.name,
        node_url: settings.node_url,
        tracker: settings.tracker.as_str().to_owned(),
        // ServiceNow is chosen by configuration, with its instance and credentials.
        trackers: if state.servicenow_config().is_some() {
            &[TrackerKind::ServiceNow]
        } else {
            &[TrackerKind::Builtin]
        },
        name_locked: state.config().name.is_some(),
        url_locked: state.config().node_url.is_some(),
        servicenow: servicenow_facts(state),
        servicenow_form: servicenow_form(state),
        error: None,
        saved: false,
        users: state.store().users().await?,
    })
}

async fn general_page(State(state): State<AppState>, user: ConsoleUser) -> PageResult {
    Ok(general(&state, &user, state.settings())
        .await?
        .into_response())
}

#[derive(Deserialize)]
struct GeneralForm {
    csrf: String,
    name: Option<String>,
    node_url: Option<String>,
    tracker: String,
}

async fn save_general(
    State(state): State<AppState>,
    user: ConsoleUser,
    Form(form): Form<GeneralForm>,
) -> PageResult {
    user.check_csrf(&form.csrf)?;
    let current = state.settings();
    let name = match (&form.name, state.config().name.is_some()) {
        (Some(n), false) => n.trim().to_owned(),
        _ => current.name.clone(),
    };
    let node_url = match (&form.node_url, state.config().node_url.is_some()) {
        (Some(u), false) => u.trim().to_owned(),
        _ => current.node_url.clone(),
    };
    let checked = check_name(&name)
        .and_then(|()| check_node_url(&node_url))
        .and_then(|url| match TrackerKind::parse(&form.tracker) {
            _ if state.servicenow_config().is_some() => Ok((url, TrackerKind::ServiceNow)),
            Some(TrackerKind::ServiceNow) => Err(
                "ServiceNow is set in the node's configuration (--servicenow-url or [servicenow] in tandem.toml), with its instance and credentials".to_owned(),
            ),
            Some(tracker) => Ok((url, tracker)),
            None => Err(format!("unknown tracker '{}'", form.tracker)),
        });
    match checked {
        Ok((node_url, tracker)) => {
            let settings = NodeSettings {
                name,
                node_url,
                tracker,
            };
            state.update_settings(settings.clone()).await?;
            tracing::info!(user = %user.session.username, "General settings saved.");
            let mut page = general(&state, &user, settings).await?;
            page.saved = true;
            Ok(page.into_response())
        }
        Err(message) => {
            let mut page = general(
                &state,
                &user,
                NodeSettings {
                    name,
                    node_url,
                    tracker: current.tracker,
                },
            )
            .await?;
            page.error = Some(message);
            Ok((StatusCode::BAD_REQUEST, page).into_response())
        }
    }
}

#[derive(Deserialize)]
struct ServiceNowFormBody {
    csrf: String,
    instance_url: String,
    user: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    client_secret: String,
    #[serde(default)]
    tables: String,
    #[serde(default)]
    poll_secs: String,
    /// A ticked checkbox sends `on`; an unticked one sends nothing.
    #[serde(default)]
    allow_http: Option<String>,
}

/// Checks the ServiceNow connection by signing in and reading the first table, then saves it
/// and serves the instance with it at once.
async fn save_servicenow(
    State(state): State<AppState>,
    user: ConsoleUser,
    Form(body): Form<ServiceNowFormBody>,
) -> PageResult {
    user.check_csrf(&body.csrf)?;
    let mut page = general(&state, &user, state.settings()).await?;
    let Some(mut shown) = page.servicenow_form.take() else {
        page.error = Some(
            "The ServiceNow connection is set in the node's configuration (--servicenow-* or [servicenow] in tandem.toml); change it there.".into(),
        );
        return Ok((StatusCode::BAD_REQUEST, page).into_response());
    };
    let form = crate::servicenow::settings::Form {
        instance_url: body.instance_url,
        user: body.user,
        password: body.password,
        client_id: body.client_id,
        client_secret: body.client_secret,
        tables: body.tables,
        poll_secs: body.poll_secs,
        allow_http: body.allow_http.is_some(),
    };
    shown.instance_url = form.instance_url.clone();
    shown.user = form.user.clone();
    shown.client_id = form.client_id.clone();
    shown.tables = form.tables.clone();
    shown.poll_secs = form.poll_secs.clone();
    shown.allow_http = form.allow_http;
    let current = state.servicenow_config();
    let checked = match crate::servicenow::settings::check(&form, current.as_ref()) {
        Ok(config) => crate::servicenow::settings::try_connection(&config)
            .await
            .map(|()| config)
            .map_err(|e| format!("The node could not use these settings: {e}")),
        Err(e) => Err(e),
    };
    match checked {
        Ok(config) => {
            crate::servicenow::settings::save(state.store(), state.master_key(), &config).await?;
            tracing::info!(user = %user.session.username, instance = %config.instance_url, "ServiceNow connection saved.");
            let notice = format!(
                "Checked and saved: signed in to {} as {} and read the {} table. The node serves this instance now.",
                config.instance_url,
                config.user,
                config.tables.first().map_or("incident", String::as_str)
            );
            state.serve_servicenow(config).await?;
            // The page as it is now: the node serves ServiceNow with these settings.
            let mut page = general(&state, &user, state.settings()).await?;
            if let Some(form) = page.servicenow_form.as_mut() {
                form.notice = Some(notice);
            }
            Ok(page.into_response())
        }
        Err(message) => {
            shown.error = Some(message);
            page.servicenow_form = Some(shown);
            Ok((StatusCode::BAD_REQUEST, page).into_response())
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "settings_tokens.html")]
struct TokensPage {
    layout: Layout,
    tokens: Vec<ApiToken>,
    /// A token just created: shown this once.
    new_token: Option<(String, String)>,
    /// The scope of the token just created.
    new_scope: &'static str,
    scopes: [TokenScope; 3],
    error: Option<String>,
}

impl TokensPage {
    fn new(state: &AppState, user: &ConsoleUser, tokens: Vec<ApiToken>) -> Self {
        TokensPage {
            layout: Layout::new(state, user, "/settings/tokens"),
            tokens,
            new_token: None,
            new_scope: "",
            scopes: TokenScope::ALL,
            error: None,
        }
    }

    /// A scope as the form offers it.
    fn scope_text(&self, scope: &TokenScope) -> &'static str {
        match scope {
            TokenScope::ReadOnly => "read only (GET)",
            TokenScope::SyncOperator => "read and run sync operations (exalate, retry, bulk)",
            TokenScope::Admin => "everything (admin)",
        }
    }
}

async fn tokens_page(State(state): State<AppState>, user: ConsoleUser) -> PageResult {
    Ok(TokensPage::new(&state, &user, state.store().api_tokens().await?).into_response())
}

#[derive(Deserialize)]
struct CreateTokenForm {
    csrf: String,
    name: String,
    /// `read`, `sync` or `admin` (the default, as before scopes existed).
    scope: Option<String>,
}

async fn create_token(
    State(state): State<AppState>,
    user: ConsoleUser,
    Form(form): Form<CreateTokenForm>,
) -> PageResult {
    user.check_csrf(&form.csrf)?;
    let name = form.name.trim();
    let mut page = TokensPage::new(&state, &user, Vec::new());
    let scope = match form.scope.as_deref() {
        None => Some(TokenScope::Admin),
        Some(text) => TokenScope::parse(text),
    };
    if let Err(e) = check_name(name) {
        page.error = Some(format!("Token name: {e}"));
    } else if let Some(scope) = scope {
        let token = auth::random_token()?;
        state
            .store()
            .create_api_token(
                name,
                &auth::hash_token(&token),
                &user.session.username,
                scope,
            )
            .await?;
        tracing::info!(user = ?user.session.username, token = ?name, scope = scope.as_str(), "API token created.");
        page.new_token = Some((name.to_owned(), token));
        page.new_scope = scope.label();
    } else {
        page.error = Some("Scope: choose read only, sync operations or admin.".into());
    }
    page.tokens = state.store().api_tokens().await?;
    Ok(page.into_response())
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

async fn revoke_token(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(id): Path<i64>,
    Form(form): Form<CsrfForm>,
) -> PageResult {
    user.check_csrf(&form.csrf)?;
    state.store().revoke_api_token(id).await?;
    tracing::info!(user = ?user.session.username, token_id = id, "API token revoked.");
    Ok(Redirect::to("/settings/tokens").into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "settings_license.html")]
struct LicensePage {
    layout: Layout,
    plan: &'static str,
    /// One line per fact about the plan: ends, licensee, expiry.
    facts: Vec<(&'static str, String)>,
    modes: &'static str,
    twins: String,
    trusts_a_vendor_key: bool,
    problem: Option<String>,
    error: Option<String>,
    installed: bool,
}

fn day(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%d").to_string()
}

async fn render_license(
    state: &AppState,
    user: &ConsoleUser,
    error: Option<String>,
    installed: bool,
) -> Result<LicensePage, crate::error::NodeError> {
    use tandem_protocol::license::{Plan, TwinQuota};
    let status = crate::license::status(state).await?;
    let now = jiff::Timestamp::now();
    let mut facts = Vec::new();
    match &status.plan {
        Plan::Evaluation { ends } => {
            let days = (ends.as_second() - now.as_second())
                .max(0)
                .unsigned_abs()
                .div_ceil(86_400);
            facts.push((
                "Evaluation ends",
                format!("{} ({days} days left)", day(*ends)),
            ));
        }
        Plan::Paid {
            licensee,
            expires_at,
            ..
        } => {
            facts.push(("Licensed to", licensee.clone()));
            // A license ends at the first instant after its last day.
            let last_day = |t: jiff::Timestamp| {
                day(t
                    .checked_sub(jiff::SignedDuration::from_secs(1))
                    .unwrap_or(t))
            };
            let days_left = |t: jiff::Timestamp| {
                let days = (t.as_second() - now.as_second())
                    .max(0)
                    .unsigned_abs()
                    .div_ceil(86_400);
                format!("{} ({days} days left)", last_day(t))
            };
            facts.push((
                "Valid through",
                expires_at.map_or("no end date".to_owned(), days_left),
            ));
        }
        Plan::Free { since } => facts.push(("Free since", day(*since))),
    }
    let made = state.store().twins_made_in_month(now).await?;
    let twins = match status.plan.twin_quota() {
        TwinQuota::Unlimited => format!("unlimited ({made} made this month)"),
        TwinQuota::PerMonth(n) => format!("{made} of {n} made this month"),
    };
    let modes = if status.plan.allows_mode(tandem_protocol::Mode::Script) {
        "Basic and Script"
    } else {
        "Basic only"
    };
    Ok(LicensePage {
        layout: Layout::new(state, user, "/settings/license"),
        plan: status.plan.name(),
        facts,
        modes,
        twins,
        trusts_a_vendor_key: !state.license_keys().is_empty(),
        problem: status.license_problem,
        error,
        installed,
    })
}

async fn license_page(State(state): State<AppState>, user: ConsoleUser) -> PageResult {
    Ok(render_license(&state, &user, None, false)
        .await?
        .into_response())
}

#[derive(Deserialize)]
struct LicenseForm {
    csrf: String,
    key: String,
}

async fn install_license(
    State(state): State<AppState>,
    user: ConsoleUser,
    Form(form): Form<LicenseForm>,
) -> PageResult {
    user.check_csrf(&form.csrf)?;
    match crate::license::install(&state, &form.key).await? {
        Ok(_) => Ok(render_license(&state, &user, None, true)
            .await?
            .into_response()),
        Err(e) => {
            let page = render_license(&state, &user, Some(e.to_string()), false).await?;
            Ok((StatusCode::BAD_REQUEST, page).into_response())
        }
    }
}
