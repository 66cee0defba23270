//! What Jira needs from the tracker seam that [`Tracker`] does not offer yet, as a trait of
//! its own ([`TrackerExtras`], every method required) implemented by [`Jira`]: describe a
//! collection, move a record's status through the workflow, search in JQL for triggers,
//! verify a push notification, find a user by e-mail. A proposal for the seam, tried here.

use crate::jira::issues::jql_quote;
use crate::jira::tracker::{Jira, error, remote};
use crate::tracker::{RemoteRecord, Tracker, TrackerError};

/// A collection's shape, as rules and mapping read it.
#[derive(Debug, Clone, PartialEq)]
pub struct Description {
    /// Field id → name, every field of the site.
    pub fields: Vec<(String, String)>,
    /// Status names of the site's workflows.
    pub statuses: Vec<String>,
    /// Record types one may create in the collection (Jira's issue types).
    pub record_types: Vec<String>,
}

/// What Jira needs from the seam that [`Tracker`] does not have yet (issue 17: describe
/// itself, move status through a workflow, search in its own query language for triggers,
/// accept push notifications, find users). Every method is required: it is a proposal for the
/// seam, implemented here so it can be tried, not a place for defaults.
#[async_trait::async_trait]
pub trait TrackerExtras: Tracker {
    /// The fields, statuses and record types of a collection.
    async fn describe(&self, collection: &str) -> Result<Description, TrackerError>;
    /// Moves a record to the status named `status`, through as many workflow steps as it
    /// takes; `resolution` where a step requires one.
    async fn move_to_status(
        &self,
        collection: &str,
        id: &str,
        status: &str,
        resolution: Option<&str>,
    ) -> Result<RemoteRecord, TrackerError>;
    /// Records of a collection matching a query in the tracker's language (JQL), at most
    /// `max`: what sync triggers select.
    async fn search(
        &self,
        collection: &str,
        query: &str,
        max: u32,
    ) -> Result<Vec<RemoteRecord>, TrackerError>;
    /// The id of the record a push notification names, when its signature is the one
    /// `secret` makes (`None` for a forged or unreadable one).
    fn verify_push(&self, secret: &[u8], body: &[u8], signature: &str) -> Option<String>;
    /// A user found by e-mail, as the tracker names users.
    async fn user_by_email(&self, email: &str) -> Result<Option<String>, TrackerError>;
}

#[async_trait::async_trait]
impl TrackerExtras for Jira {
    async fn describe(&self, project: &str) -> Result<Description, TrackerError> {
        let fields = self.client().fields().await.map_err(error)?;
        let statuses = self.client().statuses().await.map_err(error)?;
        let types = self.client().issue_types(project).await.map_err(error)?;
        Ok(Description {
            fields: fields
                .iter()
                .map(|f| (f.id.clone(), f.name.clone()))
                .collect(),
            statuses: statuses.into_iter().map(|s| s.name).collect(),
            record_types: types.into_iter().map(|t| t.name).collect(),
        })
    }

    async fn move_to_status(
        &self,
        _project: &str,
        id: &str,
        status: &str,
        resolution: Option<&str>,
    ) -> Result<RemoteRecord, TrackerError> {
        self.client()
            .move_to_status(id, status, resolution)
            .await
            .map(remote)
            .map_err(error)
    }

    async fn search(
        &self,
        project: &str,
        query: &str,
        max: u32,
    ) -> Result<Vec<RemoteRecord>, TrackerError> {
        // A trigger's own ORDER BY gives way to a stable one.
        let lower = query.to_ascii_lowercase();
        let condition = lower
            .find("order by")
            .map_or(query, |at| &query[..at])
            .trim();
        let jql = if condition.is_empty() {
            format!("project = {} ORDER BY key ASC", jql_quote(project))
        } else {
            format!(
                "project = {} AND ({condition}) ORDER BY key ASC",
                jql_quote(project)
            )
        };
        let page = self
            .client()
            .search(&jql, &["*all"], None, max)
            .await
            .map_err(error)?;
        Ok(page.issues.into_iter().map(remote).collect())
    }

    fn verify_push(&self, secret: &[u8], body: &[u8], signature: &str) -> Option<String> {
        if !crate::jira::webhook::verify_signature(secret, body, signature) {
            return None;
        }
        crate::jira::webhook::WebhookEvent::parse(body).map(|e| e.issue_id)
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<String>, TrackerError> {
        Ok(self
            .client()
            .user_by_email(email)
            .await
            .map_err(error)?
            .map(|u| u.id))
    }
}
