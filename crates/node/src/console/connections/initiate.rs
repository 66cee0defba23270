//! The Initiate connection wizard: 1 Destination · 2 Configuration type · 3 Connection
//! information · 4 Invitation code.
//!
//! Stateless: each step's form carries the earlier answers in hidden fields, and the server
//! checks them again (the destination is asked again at step 3, the service checks everything
//! at step 4), so a tampered or stale form is refused the same way a wrong answer is.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::Form;
use serde::Deserialize;
use tandem_model::Mode;

use super::{MENU_PATH, refusal, refused_fields, short_name};
use crate::auth::ConsoleUser;
use crate::connections::{
    self, ConnectionError, DestinationCheck, InitiateRequest, Initiated, ModeOffer,
};
use crate::console::{Layout, PageResult};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/connections/{id}/invitation", post(new_code))
        .route(
            "/connections/initiate",
            get(destination_page).post(initiate),
        )
        .route(
            "/connections/initiate/check",
            get(private_modes_page).post(check),
        )
        .route("/connections/initiate/info", post(info_page))
}

/// Every answer of the wizard so far; each step posts all of them.
#[derive(Deserialize, Default)]
#[serde(default)]
struct WizardForm {
    csrf: String,
    /// What the admin typed at step 1; after the check, the destination's node URL.
    url: String,
    /// `1` after "I don't have a URL".
    private: String,
    /// `basic` or `script`.
    mode: String,
    local_short_name: String,
    remote_short_name: String,
    name: String,
    description: String,
}

impl WizardForm {
    fn is_private(&self) -> bool {
        matches!(self.private.as_str(), "1" | "on" | "true")
    }

    /// What step 3 and 4 say the connection goes to.
    fn destination_label(&self) -> String {
        if self.is_private() {
            "no URL: the other side is private and will call this node".to_owned()
        } else {
            self.url.trim().to_owned()
        }
    }
}

// --- step 1: destination -------------------------------------------------------------------

#[derive(Template, WebTemplate)]
#[template(path = "connection_destination.html")]
struct DestinationPage {
    layout: Layout,
    step: u8,
    url: String,
    error: Option<String>,
}

#[derive(Deserialize)]
struct DestinationParams {
    url: Option<String>,
}

async fn destination_page(
    State(state): State<AppState>,
    user: ConsoleUser,
    Query(params): Query<DestinationParams>,
) -> PageResult {
    Ok(destination(&state, &user, params.url.unwrap_or_default(), None).into_response())
}

fn destination(
    state: &AppState,
    user: &ConsoleUser,
    url: String,
    error: Option<String>,
) -> Response {
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let page = DestinationPage {
        layout: Layout::new(state, user, MENU_PATH),
        step: 1,
        url,
        error,
    };
    (status, page).into_response()
}

// --- step 2: configuration type ------------------------------------------------------------

/// The ✓ of a destination that answered.
struct Checked {
    remote_name: String,
    tracker_label: String,
    node_url: String,
    local: bool,
}

/// One radio choice.
struct Offer {
    value: &'static str,
    name: &'static str,
    description: &'static [&'static str],
    refusal: Option<String>,
    checked: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "connection_mode.html")]
struct ModePage {
    layout: Layout,
    step: u8,
    form: WizardForm,
    checked: Option<Checked>,
    offers: Vec<Offer>,
    error: Option<String>,
}

/// The destination (asked again) and the modes this node may offer for it.
async fn offers_for(
    state: &AppState,
    form: &WizardForm,
) -> Result<(Option<DestinationCheck>, Vec<ModeOffer>), ConnectionError> {
    if form.is_private() {
        Ok((None, connections::mode_offers(state).await?))
    } else {
        let check = connections::check_destination(state, form.url.trim()).await?;
        let modes = check.modes.clone();
        Ok((Some(check), modes))
    }
}

fn mode_page(
    state: &AppState,
    user: &ConsoleUser,
    mut form: WizardForm,
    check: Option<DestinationCheck>,
    offers: Vec<ModeOffer>,
    error: Option<String>,
) -> Response {
    let chosen = Mode::parse(&form.mode)
        .filter(|m| offers.iter().any(|o| o.mode == *m && o.refusal.is_none()))
        .or_else(|| offers.iter().find(|o| o.refusal.is_none()).map(|o| o.mode));
    let offers = offers
        .into_iter()
        .map(|o| Offer {
            value: o.mode.as_str(),
            name: o.mode.name(),
            description: o.description,
            checked: Some(o.mode) == chosen,
            refusal: o.refusal,
        })
        .collect();
    let checked = check.map(|c| {
        // Later steps go to the URL the destination gave for itself.
        form.url = c.node_url.clone();
        Checked {
            remote_name: c.remote.name,
            tracker_label: c.remote.tracker_label,
            node_url: c.node_url,
            local: c.local,
        }
    });
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let page = ModePage {
        layout: Layout::new(state, user, MENU_PATH),
        step: 2,
        form,
        checked,
        offers,
        error,
    };
    (status, page).into_response()
}

async fn check(
    State(state): State<AppState>,
    user: ConsoleUser,
    Form(form): Form<WizardForm>,
) -> PageResult {
    user.check_csrf(&form.csrf)?;
    if !form.is_private() && form.url.trim().is_empty() {
        let error = "Enter the destination's URL, or choose \"I don't have a URL\".".to_owned();
        return Ok(destination(&state, &user, form.url, Some(error)));
    }
    match offers_for(&state, &form).await {
        Ok((check, offers)) => Ok(mode_page(&state, &user, form, check, offers, None)),
        Err(e) => Ok(destination(&state, &user, form.url, Some(refusal(e)?))),
    }
}

/// "I don't have a URL" is a link: step 2 of a private connection by GET.
async fn private_modes_page(
    State(state): State<AppState>,
    user: ConsoleUser,
    Query(form): Query<WizardForm>,
) -> PageResult {
    if !form.is_private() {
        return Ok(Redirect::to("/connections/initiate").into_response());
    }
    let offers = connections::mode_offers(&state).await?;
    Ok(mode_page(&state, &user, form, None, offers, None))
}

// --- step 3: connection information --------------------------------------------------------

#[derive(Template, WebTemplate)]
#[template(path = "connection_info_form.html")]
struct InfoPage {
    layout: Layout,
    step: u8,
    form: WizardForm,
    destination: String,
    /// "Tandem built-in tracker at …" when step 3 was reached from step 2.
    remote: Option<String>,
    mode_name: &'static str,
    error: Option<String>,
    /// The form fields the error is about, each marked.
    error_fields: Vec<&'static str>,
}

impl InfoPage {
    fn invalid(&self, field: &str) -> bool {
        self.error_fields.contains(&field)
    }
}

async fn info_page(
    State(state): State<AppState>,
    user: ConsoleUser,
    Form(mut form): Form<WizardForm>,
) -> PageResult {
    user.check_csrf(&form.csrf)?;
    let (check, offers) = match offers_for(&state, &form).await {
        Ok(found) => found,
        Err(e) => return Ok(destination(&state, &user, form.url, Some(refusal(e)?))),
    };
    let Some(mode) = Mode::parse(&form.mode)
        .filter(|m| offers.iter().any(|o| o.mode == *m && o.refusal.is_none()))
    else {
        let error = "Choose one of the configuration types this node can use.".to_owned();
        return Ok(mode_page(&state, &user, form, check, offers, Some(error)));
    };
    if form.local_short_name.trim().is_empty() {
        form.local_short_name = short_name(&state.settings().name);
    }
    if form.remote_short_name.trim().is_empty()
        && let Some(c) = &check
    {
        form.remote_short_name = short_name(&c.remote.name);
    }
    if form.name.trim().is_empty() && !form.remote_short_name.trim().is_empty() {
        // `local_to_remote`, numbered past the names this node's connections have.
        form.name = connections::free_connection_name(
            &state,
            &form.local_short_name,
            &form.remote_short_name,
        )
        .await?;
    }
    let remote = check.as_ref().map(|c| {
        if c.local {
            "this node: the connection will be local, between two of its projects".to_owned()
        } else {
            format!("{} ({})", c.remote.name, c.remote.tracker_label)
        }
    });
    if let Some(c) = &check {
        form.url = c.node_url.clone();
    }
    Ok(InfoPage {
        layout: Layout::new(&state, &user, MENU_PATH),
        step: 3,
        destination: form.destination_label(),
        remote,
        mode_name: mode.name(),
        form,
        error: None,
        error_fields: Vec::new(),
    }
    .into_response())
}

// --- step 4: invitation code ---------------------------------------------------------------

#[derive(Template, WebTemplate)]
#[template(path = "connection_code.html")]
struct CodePage {
    layout: Layout,
    step: u8,
    name: String,
    remote_short_name: String,
    code: Option<String>,
    /// The remote's Accept invitation page with the code in the fragment (`#code=…`), which
    /// its page fills in: browsers never send a fragment to a server.
    go_to_remote: Option<String>,
    expires: Option<String>,
}

async fn initiate(
    State(state): State<AppState>,
    user: ConsoleUser,
    Form(form): Form<WizardForm>,
) -> PageResult {
    user.check_csrf(&form.csrf)?;
    let result = match Mode::parse(&form.mode) {
        Some(mode) => {
            let request = InitiateRequest {
                destination: (!form.is_private()).then(|| form.url.trim().to_owned()),
                mode,
                local_short_name: form.local_short_name.trim().to_owned(),
                remote_short_name: form.remote_short_name.trim().to_owned(),
                name: form.name.trim().to_owned(),
                description: form.description.trim().to_owned(),
                valid_for: None,
                // The node's only project, if it has one; else chosen in the editor.
                target_project: None,
            };
            connections::initiate(&state, request).await
        }
        None => Err(ConnectionError::Invalid {
            field: "mode",
            problem: "choose a configuration type: go back with Previous".to_owned(),
        }),
    };
    match result {
        Ok(initiated) => {
            tracing::info!(
                user = %user.session.username,
                connection = %initiated.connection.name,
                mode = %initiated.connection.mode,
                "Connection initiated."
            );
            Ok(code_page(&state, &user, initiated))
        }
        Err(e) => {
            let error_fields = refused_fields(&e);
            let error = refusal(e)?;
            let page = InfoPage {
                layout: Layout::new(&state, &user, MENU_PATH),
                step: 3,
                destination: form.destination_label(),
                remote: None,
                mode_name: Mode::parse(&form.mode).map_or("", Mode::name),
                form,
                error: Some(error),
                error_fields,
            };
            Ok((StatusCode::BAD_REQUEST, page).into_response())
        }
    }
}

#[derive(Deserialize)]
struct CsrfOnly {
    csrf: String,
}

/// A Pending connection's page: a new invitation code (the one before stops working).
async fn new_code(
    State(state): State<AppState>,
    user: ConsoleUser,
    axum::extract::Path(id): axum::extract::Path<String>,
    Form(form): Form<CsrfOnly>,
) -> PageResult {
    user.check_csrf(&form.csrf)?;
    let id = super::parse_id(&id)?;
    match connections::new_invitation_code(&state, id).await {
        Ok(issued) => {
            tracing::info!(user = %user.session.username, connection = %issued.connection.name, "New invitation code made.");
            Ok(code_page(&state, &user, issued))
        }
        Err(e) => {
            let to = crate::console::flash::location(
                &user,
                &format!("/connections/{id}/edit?tab=info"),
                Err(&super::refusal(e)?),
            );
            Ok(Redirect::to(&to).into_response())
        }
    }
}

fn code_page(state: &AppState, user: &ConsoleUser, initiated: Initiated) -> Response {
    let layout = Layout::new(state, user, MENU_PATH);
    let expires = initiated
        .connection
        .invitation
        .as_ref()
        .map(|i| layout.time(&i.expires));
    let go_to_remote = match (&initiated.accept_url, &initiated.code) {
        (Some(url), Some(code)) => Some(format!("{url}#code={}", crate::auth::urlencode(code))),
        _ => None,
    };
    CodePage {
        layout,
        step: 4,
        name: initiated.connection.name,
        remote_short_name: initiated.connection.remote_short_name,
        code: initiated.code,
        go_to_remote,
        expires,
    }
    .into_response()
}
