//! The connection endpoints of a node's `/api/v1` (`NodeClient` is in `node_client.rs`) and the
//! JSON shapes they read and write, as seen from outside.

use reqwest::Method;
use serde::{Deserialize, Serialize};

use crate::cli::node_client::{ClientError, NodeClient};

impl NodeClient {
    pub async fn list(&self) -> Result<Listed, ClientError> {
        let (typed, raw): (ConnectionList, _) =
            self.get_with_raw(&["connections"], "connections").await?;
        Ok(Listed {
            connections: typed.connections,
            raw,
        })
    }

    pub async fn initiate(&self, request: &Initiate) -> Result<Initiated, ClientError> {
        self.call(Method::POST, &["connections"], Some(request))
            .await
    }

    pub async fn accept(&self, request: &Accept) -> Result<Connection, ClientError> {
        let answer: ConnectionAnswer = self
            .call(Method::POST, &["invitations", "accept"], Some(request))
            .await?;
        Ok(answer.connection)
    }

    /// Activates (`true`) or deactivates (`false`) a connection by name or id.
    pub async fn set_active(&self, name: &str, active: bool) -> Result<Connection, ClientError> {
        let action = if active { "activate" } else { "deactivate" };
        let answer: ConnectionAnswer = self
            .call(Method::POST, &["connections", name, action], None::<&()>)
            .await?;
        Ok(answer.connection)
    }

    /// Sets the project new items from the remote go to (`None`: none).
    pub async fn set_target(
        &self,
        name: &str,
        project: Option<&str>,
    ) -> Result<Connection, ClientError> {
        let body = serde_json::json!({ "target_project": project });
        let answer: ConnectionAnswer = self
            .call(Method::PATCH, &["connections", name], Some(&body))
            .await?;
        Ok(answer.connection)
    }

    /// A new invitation code for a Pending connection (the old one stops working).
    pub async fn new_code(&self, name: &str) -> Result<Initiated, ClientError> {
        self.call(
            Method::POST,
            &["connections", name, "invitation"],
            None::<&()>,
        )
        .await
    }

    pub async fn delete(&self, name: &str) -> Result<Deleted, ClientError> {
        self.call(Method::DELETE, &["connections", name], None::<&()>)
            .await
    }
}

// The wire: the JSON shapes of the node's connection API. Fields the command line does not show
// are left out; serde ignores them.

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Generated rules that cannot be edited
    Basic,
    /// Groovy-compatible rules the admins edit
    Script,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Initiator,
    Acceptor,
    Local,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pending,
    Active,
    Deactivated,
    Error,
}

#[derive(Debug, Deserialize)]
pub struct Connection {
    pub name: String,
    pub mode: Mode,
    pub role: Role,
    pub status: Status,
    pub status_reason: Option<String>,
    pub remote_paused: bool,
    pub remote: Option<Remote>,
    pub twins: u64,
    pub last_sync: Option<jiff::Timestamp>,
    pub invitation: Option<Invitation>,
    /// Where new items from the remote go (older nodes do not say).
    #[serde(default)]
    pub target_project: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Remote {
    pub name: String,
    pub url: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Invitation {
    pub expires: jiff::Timestamp,
}

#[derive(Debug, Deserialize)]
struct ConnectionList {
    connections: Vec<Connection>,
}

/// `GET /connections`: the typed connections and, for `--json`, the array exactly as the node
/// sent it.
pub struct Listed {
    pub connections: Vec<Connection>,
    pub raw: serde_json::Value,
}

#[derive(Debug, Deserialize)]
struct ConnectionAnswer {
    connection: Connection,
}

#[derive(Debug, Serialize)]
pub struct Initiate {
    pub to: Option<String>,
    pub private: bool,
    pub mode: Mode,
    pub local_name: String,
    pub remote_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_hours: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_project: Option<String>,
}

#[derive(Deserialize)]
pub struct Initiated {
    pub connection: Connection,
    /// A secret: `None` for a local connection, which needs none.
    pub invitation_code: Option<String>,
}

#[derive(Serialize)]
pub struct Accept {
    /// A secret.
    pub code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_project: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Deleted {
    pub deleted: String,
    pub remote_told: bool,
    /// Older nodes do not say.
    #[serde(default)]
    pub never_accepted: bool,
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
    fn a_connection_reads_from_the_contracts_json() {
        let json = r#"{"connection": {
            "id": "0190c0de-0000-7000-8000-000000000000", "name": "acme_to_globex",
            "description": "", "mode": "script", "role": "initiator", "status": "pending",
            "status_reason": null, "remote_paused": false, "local_short_name": "acme",
            "remote_short_name": "globex", "remote": null, "private": false, "twins": 0,
            "last_sync": null, "created": "2026-11-27T14:03:00Z",
            "invitation": {"expires": "2026-11-30T14:03:00Z", "used": null}},
            "invitation_code": "tandem1.abc"}"#;
        let got: Initiated = interpret(&node(), StatusCode::CREATED, json.as_bytes()).unwrap();
        assert_eq!(got.connection.name, "acme_to_globex");
        assert_eq!(got.connection.mode, Mode::Script);
        assert_eq!(got.connection.status, Status::Pending);
        assert_eq!(
            got.connection.invitation.unwrap().expires.to_string(),
            "2026-11-30T14:03:00Z"
        );
        assert_eq!(got.invitation_code.as_deref(), Some("tandem1.abc"));
    }
}
