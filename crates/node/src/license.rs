//! The node's plan: Evaluation for 30 days from its first start, Paid with a license key signed
//! by a vendor key the node trusts (`--license-public-key`), Free otherwise. The rules live in
//! `tandem_protocol::license`; this module keeps the first-start time and the license key in the
//! node's settings and answers "which plan now?".

use jiff::Timestamp;
use tandem_protocol::license::{
    LicenseError, LicenseKey, Plan, PlanRefusal, TwinQuota, verify_license,
};
use tandem_store::Store;

use crate::error::NodeError;
use crate::state::AppState;

const FIRST_START_SETTING: &str = "node.first_start";
const LICENSE_SETTING: &str = "license.key";

/// Records the node's first start (once; later starts keep the first) and returns it.
pub async fn first_start(store: &dyn Store) -> Result<Timestamp, NodeError> {
    let stored = store
        .set_setting_if_absent(FIRST_START_SETTING, &Timestamp::now().to_string())
        .await?;
    stored.parse().map_err(|e| {
        NodeError::Internal(format!(
            "the first-start time stored in the database ('{FIRST_START_SETTING}') is damaged: {e}"
        ))
    })
}

/// The plan now, the license it rests on, and — when a stored license no longer verifies (its
/// vendor key was removed from the configuration, or it expired) — why.
pub struct PlanStatus {
    pub plan: Plan,
    pub license: Option<LicenseKey>,
    pub license_problem: Option<String>,
}

pub async fn status(state: &AppState) -> Result<PlanStatus, NodeError> {
    let first = first_start(state.store()).await?;
    let now = Timestamp::now();
    let stored = state.store().setting(LICENSE_SETTING).await?;
    let (license, license_problem) = match stored {
        None => (None, None),
        Some(text) => match verify_license(&text, state.license_keys(), now) {
            Ok(license) => (Some(license), None),
            Err(e) => (None, Some(e.to_string())),
        },
    };
    Ok(PlanStatus {
        plan: Plan::determine(first, license.as_ref(), now),
        license,
        license_problem,
    })
}

/// How long [`plan`] trusts the plan it last determined: the plan changes only when a key is
/// installed (which forgets it) or a period ends.
const PLAN_FRESH: std::time::Duration = std::time::Duration::from_secs(10);

/// The plan now, for the checks on hot paths (each new twin): determined at most every few
/// seconds.
pub async fn plan(state: &AppState) -> Result<Plan, NodeError> {
    if let Some(plan) = state.cached_plan(PLAN_FRESH) {
        return Ok(plan);
    }
    let plan = status(state).await?.plan;
    state.cache_plan(Some(plan.clone()));
    Ok(plan)
}

/// Whether the plan allows one more new twin this month (the Free plan and a Paid license with
/// a limit count them; see `Store::twins_made_in_month`). Twins made at the same instant may
/// pass the limit by the few that were checked together.
pub async fn admit_new_twin(state: &AppState) -> Result<Result<(), PlanRefusal>, NodeError> {
    let plan = plan(state).await?;
    if plan.twin_quota() == TwinQuota::Unlimited {
        return Ok(Ok(()));
    }
    let made = state.store().twins_made_in_month(Timestamp::now()).await?;
    Ok(plan.check_new_twin(u32::try_from(made).unwrap_or(u32::MAX)))
}

/// Verifies a pasted license key and, when it is good, makes it the node's license.
pub async fn install(
    state: &AppState,
    text: &str,
) -> Result<Result<LicenseKey, LicenseError>, NodeError> {
    let cleaned: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    match verify_license(&cleaned, state.license_keys(), Timestamp::now()) {
        Ok(license) => {
            state.store().set_setting(LICENSE_SETTING, &cleaned).await?;
            state.cache_plan(None);
            // Connections the plan paused run again at once.
            if let Err(e) = crate::connections::enforce_plan(state).await {
                tracing::warn!(error = %e, "The connections could not be checked against the new license.");
            }
            tracing::info!(licensee = %license.licensee, "License key installed.");
            Ok(Ok(license))
        }
        Err(e) => Ok(Err(e)),
    }
}
