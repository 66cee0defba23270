//! The Items pages: list and search, create, view, edit, comment, attach.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{FromRequest, Multipart, Path, Query, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum_extra::extract::Form;
use serde::Deserialize;
use tandem_model::{
    Actor, Change, Item, ItemKey, ItemPatch, NewAttachment, NewComment, NewItem, Person, Priority,
    Project, Status,
};
use tandem_store::{Page, StoreError};

use super::flash::{self, Flash};
use super::item_form::{ItemForm, json_text};
use super::{Layout, PageError, PageResult};
use crate::auth::ConsoleUser;
use crate::error::ApiError;
use crate::state::AppState;

const PAGE_SIZE: u32 = 50;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/items", get(list))
        .route("/items/new", get(new_page).post(create))
        .route("/items/{key}", get(view))
        .route("/items/{key}/edit", get(edit_page).post(edit))
        .route("/items/{key}/comments", post(comment))
        .route(
            "/items/{key}/attachments",
            post(attach).layer(axum::extract::DefaultBodyLimit::max(
                tandem_model::MAX_ATTACHMENT + 64 * 1024,
            )),
        )
        .route("/items/{key}/attachments/{id}", get(download))
        .route(
            "/items/{key}/attachments/{id}/delete",
            post(remove_attachment),
        )
}

/// The item `raw` names: its key, or on a node that serves ServiceNow its record's number.
async fn parse_key(state: &AppState, raw: &str) -> Result<ItemKey, PageError> {
    if let Ok(key) = raw.parse() {
        return Ok(key);
    }
    crate::servicenow::keys::resolve(state, raw)
        .await?
        .ok_or_else(|| PageError(ApiError::NotFound(format!("item {raw} does not exist"))))
}

fn actor(user: &ConsoleUser) -> Actor {
    Actor::user(&user.session.username)
}

// --- list and search -----------------------------------------------------------------------

#[derive(Template, WebTemplate)]
#[template(path = "items.html")]
struct ItemsPage {
    layout: Layout,
    query: String,
    error: Option<String>,
    items: Vec<Item>,
    total: u64,
    page: u32,
    pages: u32,
    projects: Vec<Project>,
    examples: &'static [&'static str],
    view: crate::sync::item_json::View,
}

impl ItemsPage {
    /// The item's key as its admin knows it (a ServiceNow record's number).
    fn shown(&self, item: &Item) -> String {
        crate::servicenow::keys::shown(&self.view, item)
    }

    fn page_link(&self, page: u32) -> String {
        format!(
            "/items?query={}&page={page}",
            crate::auth::urlencode(&self.query)
        )
    }
}

#[derive(Deserialize)]
struct ListParams {
    query: Option<String>,
    page: Option<u32>,
}

async fn list(
    State(state): State<AppState>,
    user: ConsoleUser,
    Query(params): Query<ListParams>,
) -> PageResult {
    let text = params.query.unwrap_or_default();
    let page = params.page.unwrap_or(1).max(1);
    let projects = state.store().projects().await?;
    // A record's number (INC0010005) finds its item, as a key would on the item's page.
    let by_number = crate::servicenow::keys::by_number(&state, &text).await?;
    let parsed = crate::servicenow::keys::parse_query(&state, text.trim()).await?;
    let (items, total, error) = match parsed {
        _ if by_number.is_some() => (by_number.into_iter().collect(), 1, None),
        Ok(query) => {
            let result = state
                .store()
                .search_items(
                    &query,
                    Page {
                        offset: (page - 1).saturating_mul(PAGE_SIZE),
                        limit: PAGE_SIZE,
                    },
                    jiff::Timestamp::now(),
                )
                .await?;
            (result.items, result.total, None)
        }
        Err(e) => (Vec::new(), 0, Some(e.to_string())),
    };
    let pages = u32::try_from(total.div_ceil(u64::from(PAGE_SIZE))).unwrap_or(u32::MAX);
    Ok(ItemsPage {
        layout: Layout::new(&state, &user, "/items"),
        query: text,
        error,
        items,
        total,
        page,
        pages,
        projects,
        examples: &[
            "status != Done ORDER BY priority DESC",
            "assignee IS EMPTY",
            "updated >= -7d",
            "text ~ \"printer\"",
        ],
        view: state.view(),
    }
    .into_response())
}

// --- create and edit -----------------------------------------------------------------------

#[derive(Template, WebTemplate)]
#[template(path = "item_form.html")]
struct ItemFormPage {
    layout: Layout,
    /// `None` when creating.
    key: Option<String>,
    form: ItemForm,
    error: Option<String>,
    projects: Vec<Project>,
    statuses: &'static [Status],
    priorities: &'static [Priority],
}

impl ItemFormPage {
    fn new(layout: Layout, key: Option<String>, form: ItemForm, projects: Vec<Project>) -> Self {
        ItemFormPage {
            layout,
            key,
            form,
            error: None,
            projects,
            statuses: Status::ALL,
            priorities: Priority::ALL,
        }
    }
}

#[derive(Deserialize)]
struct NewParams {
    project: Option<String>,
}

async fn new_page(
    State(state): State<AppState>,
    user: ConsoleUser,
    Query(params): Query<NewParams>,
) -> PageResult {
    let projects = state.store().projects().await?;
    if projects.is_empty() {
        let to = flash::location(&user, "/projects/new", Ok("Create a project first."));
        return Ok(Redirect::to(&to).into_response());
    }
    let form = ItemForm {
        project: params
            .project
            .unwrap_or_else(|| projects[0].key.to_string()),
        status: Status::ToDo.to_string(),
        priority: Priority::Medium.to_string(),
        reporter_name: user.session.username.clone(),
        ..ItemForm::default()
    };
    let layout = Layout::new(&state, &user, "/items");
    Ok(ItemFormPage::new(layout, None, form, projects).into_response())
}

async fn create(
    State(state): State<AppState>,
    user: ConsoleUser,
    Form(form): Form<ItemForm>,
) -> PageResult {
    user.check_csrf(&form.csrf)?;
    let built = (|| -> Result<NewItem, String> {
        let project = form
            .project
            .parse()
            .map_err(|e: tandem_model::ValidationError| e.to_string())?;
        let mut item = NewItem::new(project, form.summary.trim());
        item.description = form.description.clone();
        item.status = form.status()?;
        item.priority = form.priority()?;
        item.assignee = ItemForm::person(&form.assignee_name, &form.assignee_email);
        item.reporter = ItemForm::person(&form.reporter_name, &form.reporter_email);
        item.labels = form.labels();
        item.custom_fields = form.custom_fields()?;
        Ok(item)
    })();
    let result = match built {
        Ok(item) => state
            .store()
            .create_item(item, &actor(&user))
            .await
            .map_err(refusal),
        Err(e) => Err(Ok(e)),
    };
    match result {
        Ok(item) => Ok(Redirect::to(&format!("/items/{}", item.key)).into_response()),
        Err(Ok(message)) => {
            let projects = state.store().projects().await?;
            let mut page =
                ItemFormPage::new(Layout::new(&state, &user, "/items"), None, form, projects);
            page.error = Some(message);
            Ok((StatusCode::BAD_REQUEST, page).into_response())
        }
        Err(Err(e)) => Err(e),
    }
}

/// Splits store errors into what the person can fix on the form (`Ok(message)`) and faults.
fn refusal(e: StoreError) -> Result<String, PageError> {
    match e {
        StoreError::Invalid(_)
        | StoreError::VersionConflict { .. }
        | StoreError::NotFound {
            what: "project", ..
        } => Ok(super::flash::capitalized(&e.to_string())),
        other => Err(other.into()),
    }
}

async fn load(state: &AppState, key: &ItemKey) -> Result<Item, PageError> {
    state
        .store()
        .item(key)
        .await?
        .ok_or_else(|| PageError(ApiError::NotFound(format!("item {key} does not exist"))))
}

async fn edit_page(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(key): Path<String>,
) -> PageResult {
    let key = parse_key(&state, &key).await?;
    let item = load(&state, &key).await?;
    let projects = state.store().projects().await?;
    let layout = Layout::new(&state, &user, "/items");
    Ok(ItemFormPage::new(
        layout,
        Some(key.to_string()),
        ItemForm::from_item(&item),
        projects,
    )
    .into_response())
}

async fn edit(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(key): Path<String>,
    Form(form): Form<ItemForm>,
) -> PageResult {
    user.check_csrf(&form.csrf)?;
    let key = parse_key(&state, &key).await?;
    let built = (|| -> Result<ItemPatch, String> {
        Ok(ItemPatch {
            summary: Some(form.summary.trim().to_owned()),
            description: Some(form.description.clone()),
            status: Some(form.status()?),
            priority: Some(form.priority()?),
            assignee: Some(ItemForm::person(&form.assignee_name, &form.assignee_email)),
            reporter: Some(ItemForm::person(&form.reporter_name, &form.reporter_email)),
            labels: Some(form.labels()),
            custom_fields: None,
            item_type: None,
            parent: None,
            expected_version: form.version,
        })
    })();
    let custom = form.custom_fields();
    let result = match (built, custom) {
        (Ok(mut patch), Ok(fields)) => {
            // The form holds the whole set: fields it no longer lists are removed.
            let current = load(&state, &key).await?;
            let mut merged = fields.clone();
            for name in current.custom_fields.keys() {
                if !fields.contains_key(name) {
                    merged.insert(name.clone(), serde_json::Value::Null);
                }
            }
            patch.custom_fields = Some(merged);
            state
                .store()
                .update_item(&key, patch, &actor(&user))
                .await
                .map_err(refusal)
        }
        (Err(e), _) | (_, Err(e)) => Err(Ok(e)),
    };
    match result {
        Ok(item) => Ok(Redirect::to(&format!("/items/{}", item.key)).into_response()),
        Err(Ok(message)) => {
            let projects = state.store().projects().await?;
            let mut page = ItemFormPage::new(
                Layout::new(&state, &user, "/items"),
                Some(key.to_string()),
                form,
                projects,
            );
            page.error = Some(message);
            Ok((StatusCode::CONFLICT, page).into_response())
        }
        Err(Err(e)) => Err(e),
    }
}

// --- one item ------------------------------------------------------------------------------

#[derive(Template, WebTemplate)]
#[template(path = "item.html")]
struct ItemPage {
    layout: Layout,
    /// The key as its admin knows it: on a node that serves ServiceNow, the record's number.
    shown_key: String,
    item: Item,
    history: Vec<Change>,
    error: Option<String>,
    /// The item's sync, as its Entity sync status page shows it: the forms post there and
    /// come back here.
    twins: Vec<super::sync::TwinView>,
    error_rows: Vec<super::sync::ErrorRow>,
    connections: Vec<String>,
    sync_key: String,
    retry_back: Option<String>,
    with_replicas: bool,
}

impl ItemPage {
    fn custom_value(&self, v: &serde_json::Value) -> String {
        json_text(v)
    }
}

async fn view(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(key): Path<String>,
    Query(params): Query<Flash>,
) -> PageResult {
    let key = parse_key(&state, &key).await?;
    let item = load(&state, &key).await?;
    let history = state.store().history(&key).await?;
    let (notice, error) = params.take(&user);
    let layout = Layout::new(&state, &user, "/items").with_flash(notice);
    let (panel, _) = super::sync::sync_panel(&state, &layout, &key).await?;
    Ok(ItemPage {
        layout,
        shown_key: crate::servicenow::keys::shown(&state.view(), &item),
        sync_key: item.key.to_string(),
        retry_back: Some(format!("/items/{}", item.key)),
        item,
        history,
        error,
        twins: panel.twins,
        error_rows: panel.error_rows,
        connections: panel.connections,
        with_replicas: false,
    }
    .into_response())
}

#[derive(Deserialize)]
struct CommentForm {
    csrf: String,
    body: String,
    /// A checkbox: present when ticked.
    internal: Option<String>,
}

async fn comment(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(key): Path<String>,
    Form(form): Form<CommentForm>,
) -> PageResult {
    user.check_csrf(&form.csrf)?;
    let key = parse_key(&state, &key).await?;
    let result = state
        .store()
        .add_comment(
            &key,
            NewComment {
                author: Person {
                    name: user.session.username.clone(),
                    email: None,
                },
                body: form.body,
                internal: form.internal.is_some(),
                origin: None,
            },
            &actor(&user),
        )
        .await;
    match result.map_err(refusal) {
        Ok(_) => Ok(Redirect::to(&format!("/items/{key}#comments")).into_response()),
        Err(Ok(message)) => Ok(back_with_error(&user, &key, &message)),
        Err(Err(e)) => Err(e),
    }
}

fn back_with_error(user: &ConsoleUser, key: &ItemKey, message: &str) -> axum::response::Response {
    Redirect::to(&flash::location(
        user,
        &format!("/items/{key}"),
        Err(message),
    ))
    .into_response()
}

async fn attach(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(key): Path<String>,
    request: Request,
) -> PageResult {
    let key = parse_key(&state, &key).await?;
    let mut multipart = Multipart::from_request(request, &state)
        .await
        .map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let mut csrf = String::new();
    let mut uploads = Vec::new();
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| ApiError::BadRequest(format!("the upload failed: {e}")))?
    {
        match (field.name(), field.file_name().map(str::to_owned)) {
            (Some("csrf"), _) => {
                csrf = field
                    .text()
                    .await
                    .map_err(|e| ApiError::BadRequest(e.to_string()))?;
            }
            (Some("file"), Some(filename)) if !filename.is_empty() => {
                let mime_type = field
                    .content_type()
                    .map(str::to_owned)
                    .filter(|m| m != "application/octet-stream")
                    .unwrap_or_else(|| crate::api::guess_mime(&filename));
                let bytes = field
                    .bytes()
                    .await
                    .map_err(|e| ApiError::BadRequest(format!("the upload failed: {e}")))?;
                uploads.push(NewAttachment {
                    filename,
                    mime_type,
                    author: Person {
                        name: user.session.username.clone(),
                        email: None,
                    },
                    bytes: bytes.to_vec(),
                });
            }
            _ => {}
        }
    }
    user.check_csrf(&csrf)?;
    if uploads.is_empty() {
        return Ok(back_with_error(&user, &key, "Choose a file to attach."));
    }
    for upload in uploads {
        if let Err(e) = state
            .store()
            .add_attachment(&key, upload, &actor(&user))
            .await
        {
            return match refusal(e) {
                Ok(message) => Ok(back_with_error(&user, &key, &message)),
                Err(e) => Err(e),
            };
        }
    }
    Ok(Redirect::to(&format!("/items/{key}#attachments")).into_response())
}

async fn download(
    State(state): State<AppState>,
    _user: ConsoleUser,
    Path((key, id)): Path<(String, String)>,
) -> PageResult {
    let key = parse_key(&state, &key).await?;
    let id: i64 = id
        .parse()
        .map_err(|_| ApiError::NotFound(format!("attachment {id} does not exist")))?;
    Ok(crate::api::attachment_response(&state, &key, id).await?)
}

#[derive(Deserialize)]
struct CsrfOnly {
    csrf: String,
}

async fn remove_attachment(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path((key, id)): Path<(String, String)>,
    Form(form): Form<CsrfOnly>,
) -> PageResult {
    user.check_csrf(&form.csrf)?;
    let key = parse_key(&state, &key).await?;
    let id: i64 = id
        .parse()
        .map_err(|_| ApiError::NotFound(format!("attachment {id} does not exist")))?;
    state
        .store()
        .remove_attachment(&key, id, &actor(&user))
        .await?;
    Ok(Redirect::to(&format!("/items/{key}#attachments")).into_response())
}
