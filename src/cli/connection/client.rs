//! The HTTP side of `tandem connection`: a client of one node's `/api/v1` connection endpoints,
//! the JSON shapes it reads and writes, and what each way a request can fail means to the user.

use std::time::Duration;

use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tandem_node::config::Secret;

/// How long one request may take, connecting included.
const TIMEOUT: Duration = Duration::from_secs(30);

/// Why a request to the node did not give the answer asked for. Every case exits with code 1.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach the node at {node}: {reason}; is it running? (--node / TANDEM_NODE)")]
    Unreachable { node: String, reason: String },
    #[error(
        "the node at {node} refused the API token: make one with `tandem token create --data-dir DIR --name NAME` while the node is stopped, or in the node's console (Settings → API tokens)"
    )]
    TokenRefused { node: String },
    /// The node understood the request and said no; `message` is its own words.
    #[error("{message}")]
    Refused { status: u16, message: String },
    #[error(
        "the node at {node} answered something that is not a Tandem API answer (HTTP {status}: {detail}); is --node the node's URL?"
    )]
    NotTandem {
        node: String,
        status: u16,
        detail: String,
    },
}

/// The connection endpoints of one node, with its API token.
pub struct NodeClient {
    node: Url,
    token: Secret,
    http: reqwest::Client,
}

impl NodeClient {
    pub fn new(node: Url, token: Secret) -> Result<NodeClient, ClientError> {
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .build()
            .map_err(|e| ClientError::Unreachable {
                node: shown(&node),
                reason: format!("cannot set up an HTTP client: {}", reason(&e)),
            })?;
        Ok(NodeClient { node, token, http })
    }

    pub async fn list(&self) -> Result<Listed, ClientError> {
        let raw: serde_json::Value = self
            .call(Method::GET, &["connections"], None::<&()>)
            .await?;
        let typed: ConnectionList =
            serde_json::from_value(raw.clone()).map_err(|e| self.not_tandem(200, &e))?;
        let raw = match raw {
            serde_json::Value::Object(mut fields) => fields.remove("connections"),
            _ => None,
        }
        .unwrap_or_default();
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

    pub async fn delete(&self, name: &str) -> Result<Deleted, ClientError> {
        self.call(Method::DELETE, &["connections", name], None::<&()>)
            .await
    }

    /// Sends one request to `/api/v1/<segments>` (each segment percent-encoded) and reads the
    /// answer as `T`.
    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        segments: &[&str],
        body: Option<&impl Serialize>,
    ) -> Result<T, ClientError> {
        let mut request = self
            .http
            .request(method, endpoint(&self.node, segments))
            .bearer_auth(self.token.expose());
        if let Some(body) = body {
            request = request.json(body);
        }
        let unreachable = |e: reqwest::Error| ClientError::Unreachable {
            node: shown(&self.node),
            reason: reason(&e),
        };
        let response = request.send().await.map_err(unreachable)?;
        let status = response.status();
        let body = response.bytes().await.map_err(unreachable)?;
        interpret(&self.node, status, &body)
    }

    fn not_tandem(&self, status: u16, e: &serde_json::Error) -> ClientError {
        ClientError::NotTandem {
            node: shown(&self.node),
            status,
            detail: e.to_string(),
        }
    }
}

/// `node` + `/api/v1/` + the segments, each percent-encoded, keeping any path the node URL has
/// (a node behind a reverse proxy under `/tandem/`).
pub fn endpoint(node: &Url, segments: &[&str]) -> Url {
    let mut url = node.clone();
    url.set_query(None);
    url.set_fragment(None);
    url.path_segments_mut()
        .expect("node URLs are checked to be http(s), which always have a path")
        .pop_if_empty()
        .extend(["api", "v1"])
        .extend(segments);
    url
}

/// The node URL as people write it: without the trailing `/` of an empty path.
pub fn shown(node: &Url) -> String {
    node.as_str().trim_end_matches('/').to_owned()
}

/// What an answer means: `T` on success, else the node's own error message, a refused token, or
/// a sign that whatever answered is not a Tandem node.
pub fn interpret<T: DeserializeOwned>(
    node: &Url,
    status: StatusCode,
    body: &[u8],
) -> Result<T, ClientError> {
    let not_tandem = |detail: String| ClientError::NotTandem {
        node: shown(node),
        status: status.as_u16(),
        detail,
    };
    if status.is_success() {
        return serde_json::from_slice(body).map_err(|e| not_tandem(e.to_string()));
    }
    if status == StatusCode::UNAUTHORIZED {
        return Err(ClientError::TokenRefused { node: shown(node) });
    }
    match serde_json::from_slice::<ErrorAnswer>(body) {
        Ok(answer) => Err(ClientError::Refused {
            status: status.as_u16(),
            message: answer.error.message,
        }),
        Err(_) => Err(not_tandem(format!(
            "an error without the API's error shape: {}",
            status.canonical_reason().unwrap_or("unknown status")
        ))),
    }
}

/// The most specific words for a transport failure: reqwest's own top line ("error sending
/// request for url …") says nothing the user can act on; the innermost cause ("Connection
/// refused", "dns error: …") does.
fn reason(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return format!("no answer within {} s", TIMEOUT.as_secs());
    }
    let mut innermost: &dyn std::error::Error = e;
    while let Some(source) = innermost.source() {
        innermost = source;
    }
    innermost.to_string()
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
}

#[derive(Debug, Deserialize)]
pub struct Deleted {
    pub deleted: String,
    pub remote_told: bool,
}

#[derive(Deserialize)]
struct ErrorAnswer {
    error: ErrorBody,
}

#[derive(Deserialize)]
struct ErrorBody {
    message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node() -> Url {
        Url::parse("http://127.0.0.1:7341").unwrap()
    }

    fn check_endpoint(node: &str, segments: &[&str], expected: &str) {
        let node = Url::parse(node).unwrap();
        assert_eq!(endpoint(&node, segments).as_str(), expected);
    }

    #[test]
    fn endpoints_percent_encode_names_and_keep_a_path_prefix() {
        check_endpoint(
            "http://127.0.0.1:7341",
            &["connections"],
            "http://127.0.0.1:7341/api/v1/connections",
        );
        check_endpoint(
            "https://tandem.example/proxy/",
            &["connections", "a/b c?", "activate"],
            "https://tandem.example/proxy/api/v1/connections/a%2Fb%20c%3F/activate",
        );
        check_endpoint(
            "http://127.0.0.1:7341/?x=1#top",
            &["invitations", "accept"],
            "http://127.0.0.1:7341/api/v1/invitations/accept",
        );
    }

    fn message<T: std::fmt::Debug + DeserializeOwned>(status: u16, body: &str) -> String {
        let status = StatusCode::from_u16(status).unwrap();
        interpret::<T>(&node(), status, body.as_bytes())
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn a_refusal_shows_the_nodes_own_message() {
        let got = message::<Deleted>(
            404,
            r#"{"error": {"code": "not_found", "message": "no connection named 'x'"}}"#,
        );
        assert_eq!(got, "no connection named 'x'");
    }

    #[test]
    fn a_refused_token_says_how_to_make_one_and_never_echoes_the_answer() {
        let got = message::<Deleted>(401, r#"{"error": {"code": "x", "message": "secret"}}"#);
        assert_eq!(
            got,
            "the node at http://127.0.0.1:7341 refused the API token: make one with `tandem token create --data-dir DIR --name NAME` while the node is stopped, or in the node's console (Settings → API tokens)"
        );
    }

    #[test]
    fn an_answer_that_is_not_the_apis_shape_says_so() {
        let got = message::<Deleted>(200, "<html>hello</html>");
        assert!(
            got.starts_with(
                "the node at http://127.0.0.1:7341 answered something that is not a Tandem API answer (HTTP 200: expected value"
            ),
            "{got}"
        );
        let got = message::<Deleted>(502, "Bad Gateway");
        assert_eq!(
            got,
            "the node at http://127.0.0.1:7341 answered something that is not a Tandem API answer (HTTP 502: an error without the API's error shape: Bad Gateway); is --node the node's URL?"
        );
        let got = message::<Deleted>(200, r#"{"deleted": "x"}"#);
        assert!(got.contains("missing field `remote_told`"), "{got}");
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
