//! `tandem sync conflicts`, `tandem sync restore` and `tandem sync verify`: a connection's
//! conflicts and reconciliation, through the node's `/api/v1/connections/{name}/…` routes; the
//! JSON shapes as seen from outside, and what is printed.

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::cli::node_client::{ClientError, NodeClient};
use crate::cli::output::{aligned, when};

#[derive(Debug, Deserialize)]
pub struct Conflict {
    pub id: i64,
    pub item: String,
    pub field: String,
    pub local_value: Value,
    pub remote_value: Value,
    pub kept: String,
    pub at: jiff::Timestamp,
    pub restored: Option<jiff::Timestamp>,
}

#[derive(Debug, Deserialize)]
pub struct ConflictPage {
    pub conflicts: Vec<Conflict>,
    pub next: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct Restored {
    conflict: Conflict,
}

#[derive(Debug, Serialize)]
struct VerifyRequest {
    repair: bool,
}

#[derive(Debug, Deserialize)]
pub struct VerifyReport {
    pub twins: u64,
    pub remote_twins: Option<u64>,
    pub reach: String,
    pub reach_reason: Option<String>,
    pub settled: bool,
    pub differences: Vec<VerifyDifference>,
}

#[derive(Debug, Deserialize)]
pub struct VerifyDifference {
    pub kind: String,
    pub item: Option<String>,
    pub remote_key: Option<String>,
    pub detail: String,
    pub repair: Option<VerifyRepair>,
}

#[derive(Debug, Deserialize)]
pub struct VerifyRepair {
    pub done: String,
    pub error: Option<i64>,
    pub reason: Option<String>,
}

impl NodeClient {
    /// A page of the connection's conflicts, newest first: those before `before`.
    pub async fn conflicts(
        &self,
        connection: &str,
        before: Option<i64>,
        limit: u32,
    ) -> Result<(ConflictPage, Value), ClientError> {
        let mut query = vec![("limit", limit.to_string())];
        if let Some(before) = before {
            query.push(("before", before.to_string()));
        }
        let raw: Value = self
            .get_query(&["connections", connection, "conflicts"], &query)
            .await?;
        let page = serde_json::from_value(raw.clone()).map_err(|e| ClientError::NotTandem {
            node: String::new(),
            status: 200,
            detail: e.to_string(),
        })?;
        Ok((page, raw["conflicts"].clone()))
    }

    pub async fn restore_conflict(
        &self,
        connection: &str,
        id: i64,
    ) -> Result<Conflict, ClientError> {
        let answer: Restored = self
            .call(
                Method::POST,
                &[
                    "connections",
                    connection,
                    "conflicts",
                    &id.to_string(),
                    "restore",
                ],
                None::<&()>,
            )
            .await?;
        Ok(answer.conflict)
    }

    pub async fn verify(
        &self,
        connection: &str,
        repair: bool,
    ) -> Result<(VerifyReport, Value), ClientError> {
        let raw: Value = self
            .call(
                Method::POST,
                &["connections", connection, "verify"],
                Some(&VerifyRequest { repair }),
            )
            .await?;
        let report = serde_json::from_value(raw.clone()).map_err(|e| ClientError::NotTandem {
            node: String::new(),
            status: 200,
            detail: e.to_string(),
        })?;
        Ok((report, raw))
    }
}

/// A value as one line: strings bare, anything else as JSON.
fn shown_value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "(none)".into(),
        other => other.to_string(),
    }
}

/// One line per conflict: id, when, item, field, both values, the winner, whether restored.
pub fn conflict_table(conflicts: &[Conflict]) -> String {
    let mut rows = vec![[
        "ID".to_owned(),
        "WHEN".to_owned(),
        "ITEM".to_owned(),
        "FIELD".to_owned(),
        "LOCAL VALUE".to_owned(),
        "REMOTE VALUE".to_owned(),
        "KEPT".to_owned(),
        "RESTORED".to_owned(),
    ]];
    for c in conflicts {
        rows.push([
            c.id.to_string(),
            when(c.at),
            c.item.clone(),
            c.field.clone(),
            shown_value(&c.local_value),
            shown_value(&c.remote_value),
            c.kept.clone(),
            c.restored.map_or_else(|| "-".to_owned(), when),
        ]);
    }
    aligned(rows)
}

pub fn restored(conflict: &Conflict, connection: &str) -> String {
    let value = if conflict.kept == "local" {
        &conflict.remote_value
    } else {
        &conflict.local_value
    };
    format!(
        "Restored {} of {} to {} (conflict {} on connection {connection}); the change syncs to the other side.",
        conflict.field,
        conflict.item,
        shown_value(value),
        conflict.id
    )
}

/// The report: what was compared, then one block per difference.
pub fn verify_report(report: &VerifyReport, connection: &str, repair: bool) -> String {
    let mut out = match (&report.reach[..], report.remote_twins) {
        ("both", Some(remote)) => format!(
            "Verified connection {connection}: {} here, {} on the remote.\n",
            plural(report.twins, "twin"),
            plural(remote, "twin")
        ),
        _ => format!(
            "Verified connection {connection}: {} here; the remote was not compared: {}.\n",
            plural(report.twins, "twin"),
            report
                .reach_reason
                .as_deref()
                .unwrap_or("it could not be asked")
        ),
    };
    if !report.settled && report.reach == "both" {
        out.push_str(
            "Changes were on their way on one side, so replicas were not compared: verify again once the queues are empty.\n",
        );
    }
    if report.differences.is_empty() {
        out.push_str("No differences.\n");
        return out;
    }
    out.push_str(&format!(
        "{} found:\n",
        plural(report.differences.len() as u64, "difference")
    ));
    for d in &report.differences {
        let subject = match (&d.item, &d.remote_key) {
            (Some(item), Some(remote)) => format!("{item} ↔ {remote}"),
            (Some(item), None) => item.clone(),
            (None, Some(remote)) => format!("(remote) {remote}"),
            (None, None) => "-".into(),
        };
        out.push_str(&format!("  {} [{}]: {}\n", subject, d.kind, d.detail));
        if let Some(repair) = &d.repair {
            let done = match (repair.done.as_str(), repair.error, &repair.reason) {
                ("resent", _, _) => "sent again".to_owned(),
                ("relinked", _, _) => "link restored".to_owned(),
                ("flagged", Some(error), _) => {
                    format!("flagged as sync error {error} (see `tandem sync errors`)")
                }
                (_, _, Some(reason)) => format!("not repaired: {reason}"),
                (other, _, _) => other.to_owned(),
            };
            out.push_str(&format!("    repair: {done}\n"));
        }
    }
    if !repair {
        out.push_str(&format!(
            "Run `tandem sync verify --connection {connection} --repair` to repair them.\n"
        ));
    }
    out
}

fn plural(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}
