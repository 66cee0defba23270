//! What every command that talks to a running node shares: the `--node` and `--token` arguments,
//! an HTTP client of the node's `/api/v1` that sends the token, and what each way a request can
//! fail means to the user. The endpoints themselves are added per command (`connection/client.rs`,
//! `sync/client.rs`) as further `impl NodeClient` blocks, next to the JSON shapes they use.

use std::time::Duration;

use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tandem_node::config::Secret;

use super::Failure;

/// How long one request may take, connecting included.
const TIMEOUT: Duration = Duration::from_secs(30);

/// Where an API token comes from, for the messages that ask for one.
pub const HOW_TO_GET_A_TOKEN: &str = "make one in the node's console (Settings → API tokens), with `tandem token create --token ADMIN_TOKEN --name NAME` while the node runs, or with `tandem token create --data-dir DIR --name NAME` while it is stopped";

/// `--node` and `--token`, global so they go before or after the subcommand.
#[derive(Debug, clap::Args)]
pub struct NodeArgs {
    /// URL of the running node to talk to
    #[arg(
        long,
        env = "TANDEM_NODE",
        value_name = "URL",
        default_value = "http://127.0.0.1:7341",
        value_parser = parse_node_url,
        global = true
    )]
    pub node: Url,
    /// An API token of that node (`tandem token create`, or the console's Settings → API tokens)
    #[arg(
        long,
        env = "TANDEM_TOKEN",
        hide_env_values = true,
        global = true,
        value_parser = |text: &str| Ok::<_, std::convert::Infallible>(Secret::new(text.trim()))
    )]
    pub token: Option<Secret>,
}

impl NodeArgs {
    /// The client of the node, or a usage error (exit 2) when no token was given.
    pub fn client(&self) -> Result<NodeClient, Failure> {
        let Some(token) = self.token.clone().filter(|t| !t.expose().is_empty()) else {
            return Err(Failure::setup(format!(
                "no API token: pass --token TOKEN or set TANDEM_TOKEN; {HOW_TO_GET_A_TOKEN}"
            )));
        };
        NodeClient::new(self.node.clone(), token).map_err(failed)
    }
}

fn parse_node_url(text: &str) -> Result<Url, String> {
    let text = text.trim();
    if !text.contains("://") {
        return Err(format!("the URL needs its scheme, e.g. http://{text}"));
    }
    let url = Url::parse(text).map_err(|e| format!("{e}; expected e.g. http://127.0.0.1:7341"))?;
    match url.scheme() {
        "http" | "https" => Ok(url),
        other => Err(format!(
            "the scheme must be http or https, not {other}; expected e.g. http://127.0.0.1:7341"
        )),
    }
}

/// A request that failed: its message, exit code 1.
pub fn failed(e: ClientError) -> Failure {
    Failure {
        message: e.to_string(),
        code: 1,
    }
}

/// Why a request to the node did not give the answer asked for. Every case exits with code 1.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach the node at {node}: {reason}; is it running? (--node / TANDEM_NODE)")]
    Unreachable { node: String, reason: String },
    #[error("the node at {node} refused the API token: {HOW_TO_GET_A_TOKEN}")]
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

/// One node's API, with its API token.
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

    /// Sends one request to `/api/v1/<segments>` (each segment percent-encoded) and reads the
    /// answer as `T`.
    pub async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        segments: &[&str],
        body: Option<&impl Serialize>,
    ) -> Result<T, ClientError> {
        self.send(method, endpoint(&self.node, segments), body)
            .await
    }

    /// [`NodeClient::call`] without a body, with a query string (`?name=value&…`, encoded).
    pub async fn call_query<T: DeserializeOwned>(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, &str)],
    ) -> Result<T, ClientError> {
        let mut url = endpoint(&self.node, segments);
        url.query_pairs_mut().extend_pairs(query);
        self.send(method, url, None::<&()>).await
    }

    async fn send<T: DeserializeOwned>(
        &self,
        method: Method,
        url: Url,
        body: Option<&impl Serialize>,
    ) -> Result<T, ClientError> {
        let mut request = self
            .http
            .request(method, url)
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

    /// `GET /api/v1/<segments>?<query>`, typed as `T`.
    pub async fn get_query<T: DeserializeOwned>(
        &self,
        segments: &[&str],
        query: &[(&str, String)],
    ) -> Result<T, ClientError> {
        let mut url = endpoint(&self.node, segments);
        url.query_pairs_mut()
            .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        let unreachable = |e: reqwest::Error| ClientError::Unreachable {
            node: shown(&self.node),
            reason: reason(&e),
        };
        let response = self
            .http
            .get(url)
            .bearer_auth(self.token.expose())
            .send()
            .await
            .map_err(unreachable)?;
        let status = response.status();
        let body = response.bytes().await.map_err(unreachable)?;
        interpret(&self.node, status, &body)
    }

    /// `GET /api/v1/<segments>`, typed as `T` and, for `--json`, the field `field` of the answer
    /// exactly as the node sent it.
    pub async fn get_with_raw<T: DeserializeOwned>(
        &self,
        segments: &[&str],
        field: &str,
    ) -> Result<(T, serde_json::Value), ClientError> {
        let raw: serde_json::Value = self.call(Method::GET, segments, None::<&()>).await?;
        let typed: T = serde_json::from_value(raw.clone()).map_err(|e| ClientError::NotTandem {
            node: shown(&self.node),
            status: 200,
            detail: e.to_string(),
        })?;
        let raw = match raw {
            serde_json::Value::Object(mut fields) => fields.remove(field),
            _ => None,
        }
        .unwrap_or_default();
        Ok((typed, raw))
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

/// Every error answer of the API: `{"error": {"code", "message"}}`.
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

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)] // read only to check that the answer has the shape
    struct Deleted {
        deleted: String,
        remote_told: bool,
    }

    fn message(status: u16, body: &str) -> String {
        let status = StatusCode::from_u16(status).unwrap();
        interpret::<Deleted>(&node(), status, body.as_bytes())
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn a_refusal_shows_the_nodes_own_message() {
        let got = message(
            404,
            r#"{"error": {"code": "not_found", "message": "no connection named 'x'"}}"#,
        );
        assert_eq!(got, "no connection named 'x'");
    }

    #[test]
    fn a_refused_token_says_how_to_make_one_and_never_echoes_the_answer() {
        let got = message(401, r#"{"error": {"code": "x", "message": "secret"}}"#);
        assert_eq!(
            got,
            "the node at http://127.0.0.1:7341 refused the API token: make one in the node's console (Settings → API tokens), with `tandem token create --token ADMIN_TOKEN --name NAME` while the node runs, or with `tandem token create --data-dir DIR --name NAME` while it is stopped"
        );
    }

    #[test]
    fn an_answer_that_is_not_the_apis_shape_says_so() {
        let got = message(200, "<html>hello</html>");
        assert!(
            got.starts_with(
                "the node at http://127.0.0.1:7341 answered something that is not a Tandem API answer (HTTP 200: expected value"
            ),
            "{got}"
        );
        let got = message(502, "Bad Gateway");
        assert_eq!(
            got,
            "the node at http://127.0.0.1:7341 answered something that is not a Tandem API answer (HTTP 502: an error without the API's error shape: Bad Gateway); is --node the node's URL?"
        );
        let got = message(200, r#"{"deleted": "x"}"#);
        assert!(got.contains("missing field `remote_told`"), "{got}");
    }
}
