//! The sync endpoints of a node's `/api/v1` (`NodeClient` is in `node_client.rs`): bring items
//! under sync, see their twins, list and retry sync errors, manage triggers, start bulk jobs and
//! follow, list and cancel them; and the JSON shapes they read and write, as seen from outside.

use reqwest::Method;
use serde::{Deserialize, Serialize};

use crate::cli::node_client::{ClientError, NodeClient};

impl NodeClient {
    pub async fn exalate(&self, request: &ItemOnConnection) -> Result<Twin, ClientError> {
        let answer: TwinAnswer = self
            .call(Method::POST, &["sync", "exalate"], Some(request))
            .await?;
        Ok(answer.twin)
    }

    pub async fn unexalate(&self, request: &ItemOnConnection) -> Result<Twin, ClientError> {
        let answer: TwinAnswer = self
            .call(Method::POST, &["sync", "unexalate"], Some(request))
            .await?;
        Ok(answer.twin)
    }

    /// Sends one item again; returns how many were sent.
    pub async fn sync_again(&self, request: &Again) -> Result<u64, ClientError> {
        let answer: SentAnswer = self
            .call(Method::POST, &["sync", "again"], Some(request))
            .await?;
        Ok(answer.sent)
    }

    /// Starts Sync again of every twin of the connection; returns the job to follow.
    pub async fn start_sync_again(&self, connection: &str) -> Result<u64, ClientError> {
        let request = serde_json::json!({"connection": connection, "wait": false});
        let answer: JobAnswer = self
            .call(Method::POST, &["sync", "again"], Some(&request))
            .await?;
        Ok(answer.job)
    }

    /// One bulk job: kind, state, counts, rate and ETA.
    pub async fn job(&self, job: u64) -> Result<Job, ClientError> {
        self.call(
            Method::GET,
            &["sync", "jobs", &job.to_string()],
            None::<&()>,
        )
        .await
    }

    /// Bulk jobs, newest first, of one connection or all.
    pub async fn jobs(&self, connection: Option<&str>) -> Result<Vec<Job>, ClientError> {
        let answer: JobList = match connection {
            Some(name) => {
                self.call_query(Method::GET, &["sync", "jobs"], &[("connection", name)])
                    .await?
            }
            None => {
                self.call(Method::GET, &["sync", "jobs"], None::<&()>)
                    .await?
            }
        };
        Ok(answer.jobs)
    }

    /// Asks a running job to stop after the items under way; returns it.
    pub async fn cancel_job(&self, job: u64) -> Result<Job, ClientError> {
        self.call(
            Method::POST,
            &["sync", "jobs", &job.to_string(), "cancel"],
            None::<&()>,
        )
        .await
    }

    pub async fn connect(&self, request: &Connect) -> Result<Twin, ClientError> {
        let answer: TwinAnswer = self
            .call(Method::POST, &["sync", "connect"], Some(request))
            .await?;
        Ok(answer.twin)
    }

    /// Starts a Bulk Exalate; returns the job to follow with [`NodeClient::bulk_progress`].
    pub async fn bulk(&self, request: &Bulk) -> Result<u64, ClientError> {
        let answer: JobAnswer = self
            .call(Method::POST, &["sync", "bulk"], Some(request))
            .await?;
        Ok(answer.job)
    }

    /// Starts stopping every twin the trigger matches; returns the job to follow.
    pub async fn bulk_unexalate(&self, request: &Bulk) -> Result<u64, ClientError> {
        let request = serde_json::json!({
            "connection": request.connection,
            "trigger": request.trigger,
            "wait": false,
        });
        let answer: JobAnswer = self
            .call(Method::POST, &["sync", "bulk-unexalate"], Some(&request))
            .await?;
        Ok(answer.job)
    }

    /// What a clean-up of the connection would touch; nothing is written.
    pub async fn clean_up_preview(&self, connection: &str) -> Result<CleanUp, ClientError> {
        self.call(Method::GET, &["sync", "cleanup", connection], None::<&()>)
            .await
    }

    /// Starts the connection's Clean-up; returns the job to follow.
    pub async fn clean_up(&self, connection: &str) -> Result<u64, ClientError> {
        let answer: JobAnswer = self
            .call(
                Method::POST,
                &["sync", "cleanup"],
                Some(&OnConnection {
                    connection: connection.to_owned(),
                    wait: false,
                }),
            )
            .await?;
        Ok(answer.job)
    }

    /// The item's twins, typed and, for `--json`, the `twins` array as the node sent it.
    pub async fn status(&self, key: &str) -> Result<(Vec<Twin>, serde_json::Value), ClientError> {
        let (answer, raw): (ItemStatus, _) =
            self.get_with_raw(&["sync", "status", key], "twins").await?;
        Ok((answer.twins, raw))
    }

    /// The unresolved sync errors, typed and, for `--json`, the `errors` array as sent.
    pub async fn errors(&self) -> Result<(Vec<SyncError>, serde_json::Value), ClientError> {
        let (answer, raw): (ErrorList, _) =
            self.get_with_raw(&["sync", "errors"], "errors").await?;
        Ok((answer.errors, raw))
    }

    /// Resolves a sync error and runs what failed again.
    pub async fn retry(&self, id: i64) -> Result<i64, ClientError> {
        let answer: RetriedAnswer = self
            .call(
                Method::POST,
                &["sync", "errors", &id.to_string(), "retry"],
                None::<&()>,
            )
            .await?;
        Ok(answer.retried)
    }

    pub async fn triggers(&self, connection: &str) -> Result<Vec<Trigger>, ClientError> {
        let answer: TriggerList = self
            .call(
                Method::GET,
                &["connections", connection, "triggers"],
                None::<&()>,
            )
            .await?;
        Ok(answer.triggers)
    }

    pub async fn add_trigger(
        &self,
        connection: &str,
        request: &NewTrigger,
    ) -> Result<Trigger, ClientError> {
        let answer: TriggerAnswer = self
            .call(
                Method::POST,
                &["connections", connection, "triggers"],
                Some(request),
            )
            .await?;
        Ok(answer.trigger)
    }
}

// The wire: the JSON shapes of the node's sync API. Fields the command line does not show are
// left out; serde ignores them.

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TwinState {
    Active,
    Stopped,
}

/// An item and its counterpart on the other side of one connection.
#[derive(Debug, Deserialize)]
pub struct Twin {
    pub connection: String,
    pub local_key: String,
    /// On a node that serves ServiceNow, the local item's record number.
    #[serde(default)]
    pub local_number: Option<String>,
    /// `None` until the other side has acknowledged the item.
    pub remote_key: Option<String>,
    /// The key the remote's admin knows its item by, when the remote said one (a ServiceNow
    /// record's number); absent from older nodes.
    #[serde(default)]
    pub remote_number: Option<String>,
    pub last_sync: Option<jiff::Timestamp>,
    pub state: TwinState,
}

impl Twin {
    /// The local item as its admin knows it: a ServiceNow record's number, else its key.
    pub fn local(&self) -> &str {
        self.local_number.as_deref().unwrap_or(&self.local_key)
    }

    /// The remote item as its admin knows it (a ServiceNow record's number), else its key;
    /// `None` until the other side has acknowledged the item.
    pub fn remote(&self) -> Option<&str> {
        self.remote_number.as_deref().or(self.remote_key.as_deref())
    }
}

#[derive(Debug, Deserialize)]
struct TwinAnswer {
    twin: Twin,
}

#[derive(Debug, Deserialize)]
struct ItemStatus {
    twins: Vec<Twin>,
}

#[derive(Debug, Deserialize)]
pub struct SyncError {
    pub id: i64,
    /// `item`, `connection` or `node`: what the error stops.
    pub impact: String,
    pub local_key: Option<String>,
    /// On a node that serves ServiceNow, the local item's record number.
    #[serde(default)]
    pub local_number: Option<String>,
    pub remote_key: Option<String>,
    /// The key the remote's admin knows the remote item by (a ServiceNow record's number).
    #[serde(default)]
    pub remote_number: Option<String>,
    pub at: jiff::Timestamp,
    pub message: String,
    pub script_trace: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ErrorList {
    errors: Vec<SyncError>,
}

#[derive(Debug, Deserialize)]
struct SentAnswer {
    sent: u64,
}

#[derive(Debug, Deserialize)]
struct JobAnswer {
    job: u64,
}

#[derive(Debug, Deserialize)]
struct RetriedAnswer {
    retried: i64,
}

/// A bulk job as `/sync/jobs` reports it.
#[derive(Debug, Deserialize)]
pub struct Job {
    pub job: u64,
    /// `exalate`, `unexalate`, `sync_again` or `clean_up`.
    pub kind: String,
    pub connection: String,
    /// `running`, `done`, `failed` or `cancelled`.
    pub state: String,
    pub done: u64,
    pub total: u64,
    pub failed: u64,
    /// Items it changed: brought under sync, stopped, sent again, removed.
    #[serde(default)]
    pub changed: u64,
    /// Clean-up: queued changes it dropped.
    pub queued: Option<u64>,
    /// Items per second.
    pub rate: Option<f64>,
    pub eta_seconds: Option<u64>,
    pub started: jiff::Timestamp,
    pub finished: bool,
    #[serde(default)]
    pub cancel_requested: bool,
    pub error: Option<String>,
}

#[derive(Debug, Deserialize)]
struct JobList {
    jobs: Vec<Job>,
}

#[derive(Debug, Deserialize)]
pub struct Trigger {
    pub id: i64,
    pub query: String,
    pub active: bool,
    pub note: String,
    pub created: jiff::Timestamp,
}

#[derive(Debug, Deserialize)]
struct TriggerList {
    triggers: Vec<Trigger>,
}

#[derive(Debug, Deserialize)]
struct TriggerAnswer {
    trigger: Trigger,
}

#[derive(Debug, Serialize)]
pub struct ItemOnConnection {
    pub connection: String,
    pub item: String,
}

#[derive(Debug, Serialize)]
pub struct Again {
    pub connection: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Connect {
    pub connection: String,
    pub item: String,
    pub remote_key: String,
}

#[derive(Debug, Serialize)]
pub struct Bulk {
    pub connection: String,
    pub trigger: i64,
}

/// What a clean-up touches: twins whose sync data goes, and sync events still queued for the
/// remote (dropped with the clean-up, not sent).
#[derive(Debug, Deserialize)]
pub struct CleanUp {
    pub twins: u64,
    pub queued: u64,
}

#[derive(Debug, Serialize)]
struct OnConnection {
    connection: String,
    wait: bool,
}

#[derive(Debug, Serialize)]
pub struct NewTrigger {
    pub query: String,
    pub active: bool,
    pub note: String,
}

#[cfg(test)]
mod tests {
    use reqwest::{StatusCode, Url};

    use super::*;
    use crate::cli::node_client::interpret;

    fn node() -> Url {
        Url::parse("http://127.0.0.1:7341").unwrap()
    }

    #[test]
    fn a_twin_reads_from_the_apis_json() {
        let json = r#"{"twin": {"connection": "desk", "local_key": "SUP-1", "remote_key": null,
            "last_sync": null, "state": "active"}}"#;
        let got: TwinAnswer = interpret(&node(), StatusCode::OK, json.as_bytes()).unwrap();
        assert_eq!(got.twin.local_key, "SUP-1");
        assert_eq!(got.twin.remote_key, None);
        assert_eq!(got.twin.state, TwinState::Active);
        let json = r#"{"twin": {"connection": "desk", "local_key": "SUP-1", "remote_key": "ENG-1",
            "last_sync": "2026-11-30T14:03:59.123Z", "state": "stopped"}}"#;
        let got: TwinAnswer = interpret(&node(), StatusCode::OK, json.as_bytes()).unwrap();
        assert_eq!(got.twin.state, TwinState::Stopped);
        assert_eq!(
            got.twin.last_sync.unwrap().to_string(),
            "2026-11-30T14:03:59.123Z"
        );
    }

    #[test]
    fn again_without_an_item_leaves_the_field_out() {
        let all = Again {
            connection: "desk".into(),
            item: None,
        };
        assert_eq!(
            serde_json::to_value(&all).unwrap(),
            serde_json::json!({"connection": "desk"})
        );
    }
}
