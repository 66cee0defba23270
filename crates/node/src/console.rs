//! The web console: server-rendered pages (askama templates under `templates/`), plain HTML
//! forms that work without JavaScript, every form protected by the session's CSRF token.
//!
//! The left menu lists only pages that work; each later feature adds its entry in
//! [`MENU`].

mod connections;
pub(crate) mod flash;
mod item_form;
mod items;
mod projects;
mod settings;
mod sync;

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum_extra::extract::CookieJar;
use axum_extra::extract::Form;
use serde::Deserialize;

use crate::auth::{self, ConsoleUser};
use crate::error::ApiError;
use crate::state::AppState;

/// The Errors page, whose menu entry shows the count of open errors.
const ERRORS_PATH: &str = "/sync/errors";

/// The left menu: (section, [(label, path)]).
pub const MENU: &[(&str, &[(&str, &str)])] = &[
    ("Work", &[("Items", "/items")]),
    (
        "Sync",
        &[
            ("Connections", "/connections"),
            ("Triggers", "/sync/triggers"),
            ("Jobs", "/sync/jobs"),
            ("Sync queue", "/sync/queue"),
            ("Entity sync status", "/sync/entity"),
            ("Errors", "/sync/errors"),
        ],
    ),
    (
        "Settings",
        &[
            ("General", "/settings/general"),
            ("License", "/settings/license"),
            ("API tokens", "/settings/tokens"),
        ],
    ),
];

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/items") }))
        .route("/login", get(login_page).post(login))
        .route("/logout", axum::routing::post(logout))
        .route("/setup", get(setup_page).post(setup))
        .route("/assets/tandem.css", get(stylesheet))
        .route(SCRIPT_PATH, get(script))
        .merge(connections::router())
        .merge(items::router())
        .merge(projects::router())
        .merge(settings::router())
        .merge(sync::router())
        .fallback(|| async {
            error_page(ApiError::NotFound(
                "there is no page at this address".into(),
            ))
        })
}

/// What every page's frame shows: the node's name, the menu, the user.
pub struct Layout {
    pub node_name: String,
    pub user: Option<String>,
    pub csrf: String,
    /// Path of the menu entry to highlight.
    pub active: &'static str,
    pub flash: Option<String>,
    /// Unresolved sync errors, shown next to Errors in the menu.
    pub open_errors: u64,
    /// The node serves a ServiceNow instance: its projects are the synced tables (no "New
    /// project": it could not reach the tracker) and its triggers are encoded queries.
    pub servicenow: bool,
}

fn serves_servicenow(state: &AppState) -> bool {
    state.settings().tracker == crate::state::TrackerKind::ServiceNow
}

impl Layout {
    pub fn new(state: &AppState, user: &ConsoleUser, active: &'static str) -> Self {
        Layout {
            node_name: state.settings().name,
            user: Some(user.session.username.clone()),
            csrf: user.csrf().to_owned(),
            active,
            flash: None,
            open_errors: user.open_errors,
            servicenow: serves_servicenow(state),
        }
    }

    fn anonymous(state: &AppState) -> Self {
        Layout {
            node_name: state.settings().name,
            user: None,
            csrf: String::new(),
            active: "",
            flash: None,
            open_errors: 0,
            servicenow: serves_servicenow(state),
        }
    }

    pub fn with_flash(mut self, flash: Option<String>) -> Self {
        self.flash = flash;
        self
    }

    pub fn status_class(&self, status: &tandem_model::Status) -> &'static str {
        match status {
            tandem_model::Status::ToDo => "todo",
            tandem_model::Status::InProgress => "progress",
            tandem_model::Status::Done => "done",
        }
    }

    /// A time for people: minutes, UTC.
    pub fn time(&self, t: &jiff::Timestamp) -> String {
        t.strftime("%Y-%m-%d %H:%M UTC").to_string()
    }

    /// A byte count for people.
    pub fn size(&self, bytes: &i64) -> String {
        let b = *bytes as f64;
        if b < 1024.0 {
            format!("{bytes} B")
        } else if b < 1024.0 * 1024.0 {
            format!("{:.1} KB", b / 1024.0)
        } else {
            format!("{:.1} MB", b / (1024.0 * 1024.0))
        }
    }

    pub fn menu(&self) -> &'static [(&'static str, &'static [(&'static str, &'static str)])] {
        MENU
    }

    /// The count the menu shows next to an entry: open errors next to Errors.
    pub fn menu_count(&self, path: &str) -> Option<u64> {
        (path == ERRORS_PATH && self.open_errors > 0).then_some(self.open_errors)
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "error.html")]
struct ErrorPage {
    layout: Layout,
    status: u16,
    title: &'static str,
    message: String,
}

/// An error as a page of its own, with the status code it stands for.
pub fn error_page(error: ApiError) -> Response {
    if let ApiError::Internal(detail) = &error {
        tracing::error!(error = %detail, "Console request failed.");
    }
    let status = error.status();
    let retry_after = error.retry_after();
    let page = ErrorPage {
        layout: Layout {
            node_name: String::from("Tandem"),
            user: None,
            csrf: String::new(),
            active: "",
            flash: None,
            open_errors: 0,
            servicenow: false,
        },
        status: status.as_u16(),
        title: status.canonical_reason().unwrap_or("Error"),
        message: flash::capitalized(&error.public_message()),
    };
    let mut response = (status, page).into_response();
    if let Some(secs) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, secs.into());
    }
    response
}

/// Console handlers return this: an `ApiError` becomes an error page.
pub struct PageError(pub ApiError);

impl<E: Into<ApiError>> From<E> for PageError {
    fn from(e: E) -> Self {
        PageError(e.into())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        error_page(self.0)
    }
}

pub type PageResult = Result<Response, PageError>;

async fn stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../assets/tandem.css"),
    )
}

/// Where the console's script is served: the only script its pages' policy lets run.
pub const SCRIPT_PATH: &str = "/assets/tandem.js";

/// The console's only script: small conveniences (copy a code, keep a default name in step)
/// on pages that work without it. A file, because the CSP forbids inline script.
async fn script() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../assets/tandem.js"),
    )
}

#[derive(Template, WebTemplate)]
#[template(path = "login.html")]
struct LoginPage {
    layout: Layout,
    next: String,
    username: String,
    error: Option<String>,
    login_csrf: String,
}

#[derive(Deserialize)]
struct NextParam {
    next: Option<String>,
}

async fn login_page(
    State(state): State<AppState>,
    Query(params): Query<NextParam>,
    jar: CookieJar,
) -> PageResult {
    render_login(
        &state,
        jar,
        auth::safe_next(params.next.as_deref()),
        String::new(),
        None,
    )
}

fn render_login(
    state: &AppState,
    jar: CookieJar,
    next: String,
    username: String,
    error: Option<String>,
) -> PageResult {
    let status = if error.is_some() {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::OK
    };
    render_login_as(state, jar, next, username, error, status)
}

fn render_login_as(
    state: &AppState,
    jar: CookieJar,
    next: String,
    username: String,
    error: Option<String>,
    status: StatusCode,
) -> PageResult {
    let token = auth::random_token()?;
    let jar = jar.add(auth::cookie(
        state,
        auth::ConsoleCookie::LoginCsrf,
        token.clone(),
    ));
    let page = LoginPage {
        layout: Layout::anonymous(state),
        next,
        username,
        error,
        login_csrf: token,
    };
    Ok((status, jar, page).into_response())
}

#[derive(Deserialize)]
struct LoginForm {
    username: String,
    password: String,
    next: Option<String>,
    csrf: String,
}

async fn login(
    State(state): State<AppState>,
    client: auth::ClientAddr,
    jar: CookieJar,
    Form(form): Form<LoginForm>,
) -> PageResult {
    let next = auth::safe_next(form.next.as_deref());
    // Login forms carry a token that must match their cookie, so that no other site can log a
    // browser in to an account of its choosing.
    let expected = jar
        .get(&auth::ConsoleCookie::LoginCsrf.name(&state))
        .map(|c| c.value().to_owned())
        .unwrap_or_default();
    if expected.is_empty() || !auth::constant_time_eq(&expected, &form.csrf) {
        return render_login(
            &state,
            jar,
            next,
            form.username,
            Some("The login form expired. Please sign in again.".into()),
        );
    }
    let username = form.username.trim().to_owned();
    let checked = auth::check_sign_in(&state, &username, form.password, client.0).await;
    match checked {
        Ok(Some(user)) => {
            let session = auth::start_session(&state, user.id).await?;
            tracing::info!(user = ?user.username, client = %client.0, "Console login.");
            let jar = jar
                .remove(auth::removal_cookie(&state, auth::ConsoleCookie::LoginCsrf))
                .add(session);
            Ok((jar, Redirect::to(&next)).into_response())
        }
        Ok(None) => {
            // Debug formatting: a user name is untrusted text, and escaped it cannot forge
            // log lines.
            tracing::warn!(user = ?username, client = %client.0, "Console login failed.");
            render_login(
                &state,
                jar,
                next,
                form.username,
                Some("Wrong user name or password.".into()),
            )
        }
        Err(auth::SignInError::Refused(refusal)) => {
            // Debug only: refusals come as fast as an attacker sends them; the checked
            // failures (their pace bounded by the throttle) are logged as warnings.
            tracing::debug!(user = ?username, client = %client.0, reason = ?refusal, "Console login refused before checking the password.");
            let status = match refusal {
                auth::throttle::Refusal::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
                auth::throttle::Refusal::Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
            };
            let mut response = render_login_as(
                &state,
                jar,
                next,
                form.username,
                Some(refusal.message()),
                status,
            )?;
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, refusal.retry_after_secs().into());
            Ok(response)
        }
        Err(e) => Err(PageError(e.into())),
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

async fn logout(
    State(state): State<AppState>,
    user: ConsoleUser,
    jar: CookieJar,
    Form(form): Form<CsrfForm>,
) -> PageResult {
    user.check_csrf(&form.csrf)?;
    state.store().delete_session(&user.session.id_hash).await?;
    let jar = jar.remove(auth::removal_cookie(&state, auth::ConsoleCookie::Session));
    Ok((jar, Redirect::to("/login")).into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "setup.html")]
struct SetupPage {
    layout: Layout,
    token: String,
    username: String,
    error: Option<String>,
}

#[derive(Deserialize)]
struct SetupParams {
    token: Option<String>,
}

fn setup_link_invalid() -> PageError {
    PageError(ApiError::Forbidden(
        "this setup link is not valid or has been used already: sign in, or restart the node with --admin-password to set the admin password".into(),
    ))
}

async fn setup_page(
    State(state): State<AppState>,
    Query(params): Query<SetupParams>,
) -> PageResult {
    let token = params.token.unwrap_or_default();
    if !auth::setup_token_valid(&state, &token).await? {
        return Err(setup_link_invalid());
    }
    Ok(SetupPage {
        layout: Layout::anonymous(&state),
        token,
        username: auth::ADMIN_USER.into(),
        error: None,
    }
    .into_response())
}

#[derive(Deserialize)]
struct SetupForm {
    token: String,
    username: String,
    password: String,
    confirm: String,
}

async fn setup(
    State(state): State<AppState>,
    jar: CookieJar,
    Form(form): Form<SetupForm>,
) -> PageResult {
    // The setup token is itself the proof that this form came from the link the node printed.
    if !auth::setup_token_valid(&state, &form.token).await? {
        return Err(setup_link_invalid());
    }
    let username = form.username.trim().to_owned();
    let error = if username.is_empty()
        || username.chars().count() > 64
        || username
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
    {
        Some("Choose a user name of at most 64 characters, without spaces.")
    } else if form.password.chars().count() < 8 {
        Some("Choose a password of at least 8 characters.")
    } else if form.password != form.confirm {
        Some("The two passwords differ.")
    } else {
        None
    };
    if let Some(error) = error {
        let page = SetupPage {
            layout: Layout::anonymous(&state),
            token: form.token,
            username,
            error: Some(error.into()),
        };
        return Ok((StatusCode::BAD_REQUEST, page).into_response());
    }
    // The link is used up here, atomically and before the slow hash: of several posts at once
    // exactly one goes on.
    if !auth::take_setup_token(&state, &form.token).await? {
        return Err(setup_link_invalid());
    }
    let created: Result<_, ApiError> = async {
        let hash = auth::hash_password_gated(&state, form.password).await?;
        Ok(state.store().create_user(&username, &hash).await?)
    }
    .await;
    let user = match created {
        Ok(user) => user,
        Err(e) => {
            // Nobody was created: the link works again.
            auth::restore_setup_token(&state, &form.token).await?;
            return Err(PageError(e));
        }
    };
    let _ = std::fs::remove_file(state.config().data_dir.join(auth::SETUP_LINK_FILE));
    tracing::info!(user = ?username, "Admin user created through the setup link.");
    let session = auth::start_session(&state, user.id).await?;
    Ok((jar.add(session), Redirect::to("/items")).into_response())
}
