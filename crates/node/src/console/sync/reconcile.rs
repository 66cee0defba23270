//! A connection's Conflicts page (item, field, both values, which was kept, when; **Restore**
//! writes the losing value back to the item, which syncs out) and its Verify page (**Verify**
//! compares every twin with the remote's; **Verify and repair** fixes what it can and flags the
//! rest). Both call `crate::sync::{conflicts, verify}`, as the API does; linked from the
//! Connections page.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum_extra::extract::Form;
use serde::Deserialize;
use tandem_model::{Actor, ConflictRecord};

use super::{redirect_with, refusal};
use crate::auth::{ConsoleUser, urlencode};
use crate::connections;
use crate::console::flash::Flash;
use crate::console::{Layout, PageResult};
use crate::state::AppState;
use crate::sync::conflicts;
use crate::sync::verify::{self, Reach, Repair, Report};

const ACTIVE: &str = "/connections";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/sync/connections/{name}/conflicts", get(list))
        .route(
            "/sync/connections/{name}/conflicts/{id}/restore",
            post(restore),
        )
        .route(
            "/sync/connections/{name}/verify",
            get(verify_page).post(run_verify),
        )
}

/// A conflict as the page shows it.
struct Row {
    id: i64,
    item: String,
    field: String,
    local_value: String,
    remote_value: String,
    kept: &'static str,
    at: jiff::Timestamp,
    restored: Option<jiff::Timestamp>,
}

fn shown(text: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(serde_json::Value::Null) => "(none)".into(),
        Ok(other) => other.to_string(),
        Err(_) => text.to_owned(),
    }
}

impl From<ConflictRecord> for Row {
    fn from(c: ConflictRecord) -> Self {
        Row {
            id: c.id,
            item: c.local_key.to_string(),
            field: c.field,
            local_value: shown(&c.local_value),
            remote_value: shown(&c.remote_value),
            kept: if c.kept_local {
                "this side's"
            } else {
                "the remote's"
            },
            at: c.at,
            restored: c.restored,
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "sync_conflicts.html")]
struct ConflictsPage {
    layout: Layout,
    connection: String,
    rows: Vec<Row>,
    /// Where the next (older) page starts.
    next: Option<i64>,
    error: Option<String>,
}

#[derive(Deserialize, Default)]
struct PageQuery {
    before: Option<i64>,
    flash: Option<String>,
    error: Option<String>,
    sig: Option<String>,
}

const PAGE: u32 = 50;

async fn list(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(name): Path<String>,
    Query(query): Query<PageQuery>,
) -> PageResult {
    let connection = connections::find(&state, &name).await?;
    let records = conflicts::list(&state, &connection, query.before, PAGE).await?;
    let next = (records.len() == PAGE as usize)
        .then(|| records.last().map(|c| c.id))
        .flatten();
    let (notice, error) = Flash {
        flash: query.flash,
        error: query.error,
        sig: query.sig,
    }
    .take(&user);
    Ok(ConflictsPage {
        layout: Layout::new(&state, &user, ACTIVE).with_flash(notice),
        connection: connection.name,
        rows: records.into_iter().map(Row::from).collect(),
        next,
        error,
    }
    .into_response())
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

async fn restore(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path((name, id)): Path<(String, i64)>,
    Form(form): Form<CsrfForm>,
) -> PageResult {
    user.check_csrf(&form.csrf)?;
    let connection = connections::find(&state, &name).await?;
    let back = format!(
        "/sync/connections/{}/conflicts",
        urlencode(&connection.name)
    );
    match conflicts::restore(
        &state,
        &connection,
        id,
        &Actor::user(&user.session.username),
    )
    .await
    {
        Ok((conflict, _)) => redirect_with(
            &user,
            &back,
            Ok(format!(
                "Restored {} of {} to the value that lost; the change syncs to the other side.",
                conflict.field, conflict.local_key
            )),
        ),
        Err(e) => redirect_with(&user, &back, Err(refusal(e)?)),
    }
}

/// A difference as the page shows it.
struct DifferenceRow {
    kind: &'static str,
    item: String,
    remote_key: String,
    detail: String,
    repair: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "sync_verify.html")]
struct VerifyPage {
    layout: Layout,
    connection: String,
    /// `None` before a run.
    report: Option<ReportView>,
    error: Option<String>,
}

struct ReportView {
    twins: u64,
    remote_twins: Option<u64>,
    /// Why the remote was not compared.
    local_only: Option<String>,
    settled: bool,
    repaired: bool,
    differences: Vec<DifferenceRow>,
}

impl ReportView {
    fn new(report: Report, repaired: bool) -> Self {
        ReportView {
            twins: report.checked,
            remote_twins: report.remote_checked,
            local_only: match report.reach {
                Reach::Compared => None,
                Reach::LocalOnly(reason) => Some(reason),
            },
            settled: report.settled,
            repaired,
            differences: report
                .differences
                .into_iter()
                .map(|d| DifferenceRow {
                    kind: d.kind.as_str(),
                    item: d.local_key.map(|k| k.to_string()).unwrap_or_default(),
                    remote_key: d.remote_key.unwrap_or_default(),
                    detail: d.detail,
                    repair: d.repair.map(|r| match r {
                        Repair::Resent => "sent again".to_owned(),
                        Repair::Relinked => "link restored".to_owned(),
                        Repair::Flagged { error } => format!("flagged as sync error {error}"),
                        Repair::Failed(why) => format!("not repaired: {why}"),
                    }),
                })
                .collect(),
        }
    }
}

async fn verify_page(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(name): Path<String>,
) -> PageResult {
    let connection = connections::find(&state, &name).await?;
    Ok(VerifyPage {
        layout: Layout::new(&state, &user, ACTIVE),
        connection: connection.name,
        report: None,
        error: None,
    }
    .into_response())
}

#[derive(Deserialize)]
struct VerifyForm {
    csrf: String,
    /// Present on the Verify and repair button.
    #[serde(default)]
    repair: Option<String>,
}

async fn run_verify(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(name): Path<String>,
    Form(form): Form<VerifyForm>,
) -> PageResult {
    user.check_csrf(&form.csrf)?;
    let connection = connections::find(&state, &name).await?;
    let repair = form.repair.is_some();
    let (report, error) = match verify::verify(&state, &connection, repair).await {
        Ok(report) => (Some(ReportView::new(report, repair)), None),
        Err(e) => (None, Some(refusal(e)?)),
    };
    if repair {
        tracing::info!(user = %user.session.username, connection = %connection.name, "Verify and repair from the console.");
    }
    Ok(VerifyPage {
        layout: Layout::new(&state, &user, ACTIVE),
        connection: connection.name,
        report,
        error,
    }
    .into_response())
}
