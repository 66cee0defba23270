//! Connections: what the Connections page, the Initiate connection wizard, the Accept
//! invitation page, the API and the CLI all do, in one place. Handlers in `console` and `api`
//! only translate forms and JSON into these calls.
//!
//! - [`check_destination`]: the wizard's first step — asks the destination for its node info.
//! - [`initiate`]: makes a pending connection and its invitation code (or, for the node's own
//!   URL, an active local connection).
//! - [`preview`] and [`accept`]: read a pasted code, then run the accept handshake with the
//!   initiator; both sides turn Active.
//! - [`activate`], [`deactivate`], [`delete`]: change this side and tell the remote.
//! - [`save_rules`]: the editor's Rules tab; the mode is fixed at creation.
//!
//! The node-to-node side of the protocol (the routes other nodes call) is in `crate::peer`.

pub mod client;
pub mod delivery;
pub mod rules;
pub mod wire;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jiff::{SignedDuration, Timestamp};
use tandem_model::{
    Connection, ConnectionRole, ConnectionStatus, InvitationState, Mode, RemoteNode,
};
use tandem_protocol::{
    AcceptProofError, Acceptance, AcceptorDescriptor, ConnectionKeys, Invitation, InvitationError,
    IssueParams, Nonce, PlanRefusal, Role, Route, SecretHash, Terms, accept_proof,
    verify_accept_proof,
};
use tandem_store::{AcceptanceRecord, StoreError};
use uuid::Uuid;

use crate::error::{ApiError, NodeError};
use crate::state::AppState;
use client::CallError;
use wire::PROTOCOL;

/// A node's public description, as `GET /node/v1/info` answers it to anyone: only what the
/// destination check needs. The software version is not in it (the protocol version says
/// whether two nodes can talk; the exact release would tell an attacker which flaws to try).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NodeInfo {
    /// Always `tandem`: how a node tells a Tandem node from any other web server.
    pub product: String,
    /// The node-to-node protocol version it speaks.
    pub protocol: u32,
    pub node_id: Uuid,
    pub name: String,
    /// The node's URL as its admin set it.
    pub node_url: String,
    /// `builtin`, `servicenow`, …
    pub tracker: String,
    /// "Tandem built-in tracker", …
    pub tracker_label: String,
    /// Only when asked `?tracker=<url>`: whether this node serves the tracker at that URL. The
    /// URL of the tracker it serves (a ServiceNow instance) is never told to anyone who asks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serves_tracker: Option<bool>,
    /// Ed25519, base64url.
    pub public_key: String,
    /// The modes its plan allows now (`basic`, `script`): the wizard offers only those both
    /// sides can run. `None` from an older node, which does not say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modes: Option<Vec<String>>,
}

/// What the destination check found.
#[derive(Debug, Clone)]
pub struct DestinationCheck {
    /// The destination node's URL as it reports it (what the code and later calls use).
    pub node_url: String,
    pub remote: NodeInfo,
    /// The destination is this very node: the connection will be local.
    pub local: bool,
    /// The modes the wizard offers, in order, each saying whether this node's plan allows it.
    pub modes: Vec<ModeOffer>,
}

/// One configuration type on the wizard's second step.
#[derive(Debug, Clone)]
pub struct ModeOffer {
    pub mode: Mode,
    /// The lines under the mode's name ("Automatic configuration of basic fields", …).
    pub description: &'static [&'static str],
    /// Why this node cannot use it now (the plan), or `None`.
    pub refusal: Option<String>,
}

/// What the wizard's third step (and the API) submit.
#[derive(Debug, Clone)]
pub struct InitiateRequest {
    /// The destination URL; `None` for "I don't have a URL" (a private connection).
    pub destination: Option<String>,
    pub mode: Mode,
    pub local_short_name: String,
    pub remote_short_name: String,
    /// Empty: `local_to_remote`.
    pub name: String,
    pub description: String,
    /// How long the code stays valid; `None`: the node's default (72 hours).
    pub valid_for: Option<SignedDuration>,
    /// Where new items from the remote go on this side ([`Connection::target_project`]);
    /// `None`: the node's only project, when it has exactly one, else not chosen yet.
    pub target_project: Option<String>,
}

/// A connection just initiated.
#[derive(Debug, Clone)]
pub struct Initiated {
    pub connection: Connection,
    /// The invitation code, shown once; `None` for a local connection (nothing to accept).
    pub code: Option<String>,
    /// The remote console's Accept invitation page, when the destination's URL is known.
    pub accept_url: Option<String>,
}

/// What a pasted code would connect to, for the Accept invitation page to show before the
/// admin confirms.
#[derive(Debug, Clone)]
pub struct InvitationPreview {
    pub connection_id: Uuid,
    pub connection_name: String,
    pub mode: Mode,
    /// The initiating node's name, from its node info (`None` when it could not be asked).
    pub remote_node_name: Option<String>,
    /// The initiator's node URL, or "unknown (private)".
    pub remote_url_display: String,
    /// Defaults for this side's short names, from the code; the admin may edit them.
    pub local_short_name: String,
    pub remote_short_name: String,
    pub expires: Timestamp,
}

/// What the Accept invitation page (and the API) submit.
#[derive(Debug, Clone)]
pub struct AcceptRequest {
    pub code: String,
    /// `None`: the default from the code.
    pub local_short_name: Option<String>,
    pub remote_short_name: Option<String>,
    /// Where new items from the remote go on this side ([`Connection::target_project`]);
    /// `None`: the node's only project, when it has exactly one, else not chosen yet.
    pub target_project: Option<String>,
}

/// One row of the Connections page.
#[derive(Debug, Clone)]
pub struct ConnectionSummary {
    pub connection: Connection,
    /// Work items under sync: the number of twins.
    pub twins: u64,
}

/// The editor's Statistics tab.
#[derive(Debug, Clone, Default)]
pub struct Statistics {
    pub twins: u64,
    /// Messages this node sent to the remote and the remote acknowledged.
    pub events_sent: u64,
    /// Messages this node received from the remote (stored and acknowledged).
    pub events_received: u64,
    /// Messages waiting for the remote.
    pub queued: u64,
    /// Messages received from the remote and not applied yet (failed ones are errors).
    pub incoming: u64,
    /// The node's item changes (on any connection) the sync engine has not looked at yet,
    /// counted up to one batch.
    pub changes_waiting: u64,
    pub errors: u64,
}

/// What a delete did.
#[derive(Debug, Clone)]
pub struct Deleted {
    pub name: String,
    /// Whether the remote node was told (it may be unreachable, or private: it then learns on
    /// its next call).
    pub remote_told: bool,
    /// The connection was Pending: the remote never accepted it, so there was no one to tell
    /// (and its invitation code no longer works).
    pub never_accepted: bool,
}

/// Every way a connection operation is refused; each message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    /// A form field or API field is wrong.
    #[error("{field}: {problem}")]
    Invalid {
        field: &'static str,
        problem: String,
    },
    /// Several fields are wrong at once: every problem, one a line, so a form shows them all
    /// together instead of one per try.
    #[error("{}", lines(.0))]
    Several(Vec<ConnectionError>),
    #[error("a connection named '{0}' already exists on this node: choose another name")]
    NameTaken(String),
    /// One side's plan does not allow the mode; the message says what its admin can do.
    #[error("{0}")]
    ModeNotAllowed(String),
    #[error("there is no connection '{0}' on this node")]
    NotFound(String),
    #[error("{0}")]
    Destination(String),
    /// The initiating node cannot be reached by the destination (no node URL, or the URL does
    /// not lead back here).
    #[error("{0}")]
    NotPublic(String),
    /// Too many invitations are waiting to be accepted.
    #[error(
        "this node already has {limit} invitations waiting to be accepted: delete the pending connections no longer needed (on the Connections page) or wait for their codes to expire, then try again"
    )]
    TooManyInvitations { limit: usize },
    #[error(transparent)]
    Plan(#[from] PlanRefusal),
    #[error(transparent)]
    Invitation(#[from] InvitationError),
    /// The initiating node refused the acceptance; its message.
    #[error("the node that made this invitation code refused it: {0}")]
    Refused(String),
    /// The remote node could not be reached or answered something unusable.
    #[error("{0}")]
    Remote(String),
    #[error(
        "the mode of a connection is fixed when it is created (this one is {0}): create a new connection to use another mode"
    )]
    ModeFixed(Mode),
    #[error(
        "a Basic connection's rules are generated and cannot be edited: create a Script connection to write your own"
    )]
    BasicRulesReadOnly,
    /// A script does not parse; the message names the line and column.
    #[error("the {which} script does not parse: {message}")]
    Script {
        which: &'static str,
        message: String,
    },
    #[error("the connection is {0}: {1}")]
    WrongStatus(&'static str, String),
    /// A node-to-node request or acceptance that does not prove what it claims.
    #[error("{0}")]
    Unauthorized(String),
    /// This node, the initiator, refused an acceptance of one of its codes.
    #[error(transparent)]
    Acceptance(#[from] AcceptanceRefused),
    #[error(transparent)]
    Node(#[from] NodeError),
}

/// Why this node, the initiator, refused an acceptance of one of its codes. The text is what the
/// sender reads: it never describes the connection, the node that accepted it, or what this node
/// recorded (the log gets the details).
#[derive(Debug, thiserror::Error)]
pub enum AcceptanceRefused {
    #[error("the acceptance's {what} {problem}")]
    Malformed {
        what: &'static str,
        problem: &'static str,
    },
    #[error(transparent)]
    Proof(#[from] AcceptProofError),
    /// The very same acceptance (its proof, or its nonce) came before.
    #[error("this acceptance was already received once (a replay)")]
    Replayed,
    /// A repeat from the node that accepted, describing it otherwise than the acceptance this
    /// node took: `changed` names what differs, for the log.
    #[error(
        "this invitation code was already used: a repeated acceptance must describe the accepting node exactly as the first one did; ask the other admin for a new code"
    )]
    DescriptorChanged { changed: Vec<&'static str> },
}

impl From<tandem_store::StoreError> for ConnectionError {
    fn from(e: tandem_store::StoreError) -> Self {
        ConnectionError::Node(NodeError::Store(e))
    }
}

fn lines(errors: &[ConnectionError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

impl ConnectionError {
    /// Every problem found, as one refusal: the problem itself when there is one.
    fn all(mut problems: Vec<ConnectionError>) -> Result<(), ConnectionError> {
        match problems.len() {
            0 => Ok(()),
            1 => Err(problems.remove(0)),
            _ => Err(ConnectionError::Several(problems)),
        }
    }

    /// The refusals this one is made of: itself, or each of several.
    pub fn each(&self) -> Vec<&ConnectionError> {
        match self {
            ConnectionError::Several(all) => all.iter().collect(),
            one => vec![one],
        }
    }
}

/// The value of a check that passed; a failed one's problem joins `problems` (and its value is
/// the default, never used: the caller refuses with every problem).
fn noted<T: Default>(
    problems: &mut Vec<ConnectionError>,
    checked: Result<T, ConnectionError>,
) -> T {
    checked.unwrap_or_else(|problem| {
        problems.push(problem);
        T::default()
    })
}

impl From<ConnectionError> for ApiError {
    fn from(e: ConnectionError) -> Self {
        use ConnectionError as E;
        match e {
            E::NotFound(_) => ApiError::NotFound(e.to_string()),
            E::NameTaken(_) => ApiError::Conflict(e.to_string()),
            E::TooManyInvitations { .. } => ApiError::TooManyRequests {
                message: e.to_string(),
                retry_after: None,
            },
            E::Plan(_) | E::ModeNotAllowed(_) => ApiError::Forbidden(e.to_string()),
            E::Invitation(InvitationError::AlreadyUsed) => ApiError::Conflict(e.to_string()),
            E::Invitation(InvitationError::Withdrawn) => ApiError::Gone(e.to_string()),
            E::Unauthorized(_) => ApiError::Unauthorized(e.to_string()),
            E::Acceptance(AcceptanceRefused::DescriptorChanged { .. }) => {
                ApiError::Conflict(e.to_string())
            }
            E::Acceptance(_) => ApiError::Unauthorized(e.to_string()),
            E::Node(inner) => inner.into(),
            other => ApiError::BadRequest(other.to_string()),
        }
    }
}

/// `local_to_remote`, the wizard's default connection name.
pub fn default_connection_name(local_short_name: &str, remote_short_name: &str) -> String {
    format!(
        "{}_to_{}",
        local_short_name.trim(),
        remote_short_name.trim()
    )
}

/// The lines under each mode's name on the wizard's second step.
pub fn mode_description(mode: Mode) -> &'static [&'static str] {
    match mode {
        Mode::Basic => &[
            "Automatic configuration of basic fields",
            "Sync rules cannot be edited",
            "Recommended for use cases of basic complexity",
        ],
        Mode::Script => &[
            "Groovy-based scripting",
            "Recommended for use cases of basic to advanced complexity",
        ],
    }
}

/// The configuration types the wizard offers, with their descriptions, each marked with why
/// this node's plan refuses it (if it does).
pub async fn mode_offers(state: &AppState) -> Result<Vec<ModeOffer>, ConnectionError> {
    offers_towards(state, None).await
}

/// [`mode_offers`] towards a destination that said which modes its plan allows: a mode it
/// cannot run is refused here, with what its admin can do, rather than in an invitation its
/// admin then cannot accept.
async fn offers_towards(
    state: &AppState,
    remote: Option<&NodeInfo>,
) -> Result<Vec<ModeOffer>, ConnectionError> {
    let plan = crate::license::status(state).await?.plan;
    Ok(Mode::ALL
        .into_iter()
        .map(|mode| ModeOffer {
            mode,
            description: mode_description(mode),
            refusal: plan
                .check_mode(mode)
                .err()
                .map(|e| e.to_string())
                .or_else(|| remote.and_then(|r| remote_refusal(r, mode))),
        })
        .collect())
}

/// Why the destination cannot run `mode`, when it said its plan does not allow it.
fn remote_refusal(remote: &NodeInfo, mode: Mode) -> Option<String> {
    let allowed = remote.modes.as_ref()?;
    if allowed.iter().any(|m| m == mode.as_str()) {
        return None;
    }
    Some(format!(
        "{} cannot run {mode} mode: its plan allows {} only. Choose {}, or ask its admin to add \
         a license key on its License page first",
        remote.name,
        allowed
            .iter()
            .filter_map(|m| Mode::parse(m))
            .map(Mode::name)
            .collect::<Vec<_>>()
            .join(" and "),
        if allowed.iter().any(|m| m == Mode::Basic.as_str()) {
            "Basic"
        } else {
            "another mode"
        },
    ))
}

/// The modes this node's plan allows now, as [`NodeInfo::modes`] tells them.
pub async fn allowed_modes(state: &AppState) -> Result<Vec<String>, ConnectionError> {
    let plan = crate::license::status(state).await?.plan;
    Ok(Mode::ALL
        .into_iter()
        .filter(|m| plan.allows_mode(*m))
        .map(|m| m.as_str().to_owned())
        .collect())
}

/// Checks that `text` is an http(s) URL; returns it without query, fragment or trailing
/// slash. The error completes "the URL …".
pub fn normalize_url(text: &str) -> Result<String, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("is empty".into());
    }
    if text.len() > 1000 {
        return Err("is longer than 1000 characters".into());
    }
    let with_scheme = if text.contains("://") {
        text.to_owned()
    } else {
        format!("https://{text}")
    };
    let mut url = reqwest::Url::parse(&with_scheme)
        .map_err(|e| format!("'{text}' is not a web address ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "'{text}' is not a web address: it must start with http:// or https://"
        ));
    }
    if url.host_str().is_none() {
        return Err(format!("'{text}' has no host name"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "'{text}' carries a user name or password: give the address alone"
        ));
    }
    url.set_query(None);
    url.set_fragment(None);
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// Checks a node URL another node declares (its node info, its handshake): an http(s) URL
/// with a host, no credentials, no query and no fragment, its path the base `/node/v1/…` is
/// joined to (dot segments resolved, no trailing slash). The error completes "the URL …".
pub fn normalize_node_url(text: &str) -> Result<String, String> {
    if text.len() > 1000 {
        return Err("is longer than 1000 characters".into());
    }
    if text.trim() != text || text.chars().any(char::is_control) {
        return Err(format!(
            "'{}' has spaces or control characters",
            text.escape_debug()
        ));
    }
    let url =
        reqwest::Url::parse(text).map_err(|e| format!("'{text}' is not a web address ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("'{text}' does not start with http:// or https://"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("'{text}' has no host name"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("'{text}' carries a user name or password"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "'{text}' has a query (?) or a fragment (#): a node URL is an address and a path only"
        ));
    }
    let path = url.path();
    if path.contains("%2f") || path.contains("%2F") || path.contains("%5c") || path.contains("%5C")
    {
        return Err(format!("'{text}' has an encoded slash in its path"));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// The URL itself, then each shorter path down to the origin: a console page's URL, or a node
/// served under a path, still finds the node.
fn candidate_bases(url: &str) -> Vec<String> {
    let mut bases = vec![url.to_owned()];
    let mut current = url.to_owned();
    let origin_end = url.find("://").map_or(0, |i| i + 3);
    while let Some(cut) = current.rfind('/').filter(|&i| i > origin_end) {
        current.truncate(cut);
        bases.push(current.clone());
    }
    bases
}

/// Asks the destination for its node info. `url` may be the node URL, a page of its console,
/// or the URL of the tracker it serves.
pub async fn check_destination(
    state: &AppState,
    url: &str,
) -> Result<DestinationCheck, ConnectionError> {
    let url = normalize_url(url).map_err(|problem| ConnectionError::Invalid {
        field: "Destination instance URL",
        problem: format!("the URL {problem}"),
    })?;
    let mut first_problem: Option<CallError> = None;
    let mut found = None;
    // This very node: answered without a call (its own URL may be one the address policy
    // refuses, as the default http://127.0.0.1:7341).
    let own = normalize_url(&state.settings().node_url).ok();
    if own
        .as_ref()
        .is_some_and(|own| candidate_bases(&url).contains(own))
    {
        found = Some(crate::peer::node_info(state));
    }
    for base in candidate_bases(&url) {
        if found.is_some() {
            break;
        }
        match client::fetch_info(state.http(), &base).await {
            Ok(info) => {
                found = Some(info);
                break;
            }
            // Nothing answers at this host, or it is not one to call: shorter paths will not
            // do better.
            Err(e @ (CallError::Unreachable(_) | CallError::NotAllowed(_))) => {
                first_problem.get_or_insert(e);
                break;
            }
            Err(e) => {
                first_problem.get_or_insert(e);
            }
        }
    }
    if found.is_none() {
        found = node_serving(state, &url).await?;
    }
    let Some(remote) = found else {
        let problem = match first_problem {
            Some(CallError::Incompatible(said)) => format!("{url}: {said}"),
            Some(CallError::Unreachable(reason)) => format!(
                "{url} is not reachable from this node ({reason}): check the address, and that the other node is running and reachable from here"
            ),
            Some(CallError::NotAllowed(reason)) => format!("{url} is not called: {reason}"),
            Some(_) if is_servicenow(state, &url).await => format!(
                "{url} is a ServiceNow instance, and no Tandem node this node knows serves it: enter the URL of the Tandem node that does (shown on that node's General settings page), or use I don't have a URL"
            ),
            Some(other) => format!(
                "{url} is not a Tandem node: {other}. Enter the other node's URL, shown on its General settings page"
            ),
            None => format!("{url} is not a Tandem node"),
        };
        return Err(ConnectionError::Destination(problem));
    };
    if remote.protocol != PROTOCOL {
        return Err(ConnectionError::Destination(format!(
            "the Tandem node at {url} ({}) speaks protocol version {} and this node speaks version {PROTOCOL}: update the older node",
            remote.name, remote.protocol
        )));
    }
    let local = remote.node_id == state.identity().id;
    let mut remote = remote;
    if !local {
        // The URL it declares is what this node calls from now on: an address and a path.
        remote.node_url = normalize_node_url(&remote.node_url).map_err(|problem| {
            ConnectionError::Destination(format!(
                "the node at {url} ({}) declares a node URL this node does not call: the URL {problem}. Its admin should set a plain node URL on its General settings page",
                remote.name
            ))
        })?;
        check_reachable_from(state, &remote, &url).await?;
    }
    Ok(DestinationCheck {
        node_url: remote.node_url.clone(),
        local,
        modes: if local {
            mode_offers(state).await?
        } else {
            offers_towards(state, Some(&remote)).await?
        },
        remote,
    })
}

/// The node that serves the tracker at `url`, among the nodes this one knows: itself and the
/// remotes of its connections, each asked now whether it serves `url` (a node's tracker URL is
/// its own to report, may have changed since it was connected, and is not told publicly).
async fn node_serving(state: &AppState, url: &str) -> Result<Option<NodeInfo>, ConnectionError> {
    let same = |tracker_url: &str| normalize_url(tracker_url).is_ok_and(|t| t == url);
    if same(&crate::peer::tracker_url(state)) {
        return Ok(Some(crate::peer::node_info(state)));
    }
    let mut known: Vec<String> = state
        .store()
        .connections()
        .await?
        .into_iter()
        .filter_map(|c| c.remote.and_then(|r| r.url))
        .collect();
    known.sort();
    known.dedup();
    let answers = futures_util::future::join_all(known.iter().map(|base| async move {
        tokio::time::timeout(
            std::time::Duration::from_secs(5),
            client::fetch_info_serving(state.http(), base, url),
        )
        .await
    }))
    .await;
    Ok(answers
        .into_iter()
        .filter_map(|a| a.ok()?.ok())
        .find(|info| info.serves_tracker == Some(true)))
}

/// Whether `url` answers as a ServiceNow instance does when asked without credentials.
async fn is_servicenow(state: &AppState, url: &str) -> bool {
    let Ok(request) = state
        .http()
        .get(&format!("{url}/api/now/table/sys_user?sysparm_limit=1"))
    else {
        return false;
    };
    let asked = request
        .timeout(std::time::Duration::from_secs(5))
        .send()
        .await;
    let Ok(response) = asked else { return false };
    if response.status() != reqwest::StatusCode::UNAUTHORIZED {
        return false;
    }
    let Ok(body) = response.json::<serde_json::Value>().await else {
        return false;
    };
    body["status"] == "failure" && body["error"]["message"].is_string()
}

/// Asks the destination whether it can call this node back at its node URL.
/// `typed` is the URL the admin entered, where the destination answered.
async fn check_reachable_from(
    state: &AppState,
    remote: &NodeInfo,
    typed: &str,
) -> Result<(), ConnectionError> {
    let own_url = state.settings().node_url;
    let answer = client::probe(state.http(), &remote.node_url, &own_url)
        .await
        .map_err(|e| {
            let own = normalize_url(&remote.node_url).unwrap_or_else(|_| remote.node_url.clone());
            ConnectionError::Destination(if !typed.starts_with(&own) {
                // It answered at the typed URL, but gives another as its own: the usual case
                // of a node started without --node-url.
                format!(
                    "the node at {typed} ({}) gives {} as its own node URL, and this node cannot reach it there ({e}): its admin should set its public URL on its General settings page (or start it with --node-url), then try again",
                    remote.name, remote.node_url
                )
            } else {
                format!(
                    "{} answered, but could not check whether it can reach this node: {e}",
                    remote.node_url
                )
            })
        })?;
    match (answer.node_id, answer.problem) {
        (Some(id), _) if id == state.identity().id => Ok(()),
        (Some(_), _) => Err(ConnectionError::NotPublic(format!(
            "{} reaches another Tandem node at this node's URL {own_url}: set this node's own public URL on the General settings page",
            remote.name
        ))),
        (None, problem) => Err(ConnectionError::NotPublic(format!(
            "this node must be public for the other node to call it, and {} cannot reach it at {own_url} ({}): set a URL the other node can reach on the General settings page (or with --node-url)",
            remote.name,
            problem.unwrap_or_else(|| "no answer".into())
        ))),
    }
}

/// The one rule for short names and connection names, which scripts and the command line
/// use: ASCII letters, digits, `_` and `-`, no spaces. As the messages and the README state it.
pub const NAME_RULE: &str = "letters, digits, _ and - only (no spaces or other characters)";

/// A short name or connection name as an admin types it: [`check_field`], then [`NAME_RULE`]
/// (with a valid suggestion).
fn check_name(field: &'static str, value: &str) -> Result<String, ConnectionError> {
    let value = check_field(field, value)?;
    if let Some(bad) = value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
    {
        let shown = if bad == ' ' {
            "a space".to_owned()
        } else {
            format!("'{bad}'")
        };
        return Err(ConnectionError::Invalid {
            field,
            problem: format!(
                "contains {shown}: use {NAME_RULE}, for example {}",
                valid_name(&value)
            ),
        });
    }
    Ok(value)
}

/// A name made valid under [`NAME_RULE`]: every other run of characters one underscore.
/// "Initech Corp!" becomes `initech_corp`.
pub fn valid_name(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || c == '-' {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('_') {
            out.push('_');
        }
    }
    let trimmed = out.trim_matches('_');
    if trimmed.is_empty() {
        "node".to_owned()
    } else {
        trimmed.to_owned()
    }
}

/// `local_to_remote`, or with `_2`, `_3`, … the first that no connection of this node has.
pub async fn free_connection_name(
    state: &AppState,
    local_short_name: &str,
    remote_short_name: &str,
) -> Result<String, ConnectionError> {
    let base = default_connection_name(local_short_name, remote_short_name);
    let taken: Vec<String> = state
        .store()
        .connections()
        .await?
        .into_iter()
        .map(|c| c.name.to_lowercase())
        .collect();
    let mut name = base.clone();
    let mut n = 2;
    while taken.contains(&name.to_lowercase()) {
        name = format!("{base}_{n}");
        n += 1;
    }
    Ok(name)
}

fn check_field(field: &'static str, value: &str) -> Result<String, ConnectionError> {
    let value = value.trim();
    let problem = if value.is_empty() {
        Some("is required".to_owned())
    } else if value.len() > tandem_protocol::invitation::MAX_NAME_LEN {
        Some(format!(
            "is longer than {} characters",
            tandem_protocol::invitation::MAX_NAME_LEN
        ))
    } else if value.chars().any(char::is_control) {
        Some("contains control characters".to_owned())
    } else {
        None
    };
    match problem {
        Some(problem) => Err(ConnectionError::Invalid { field, problem }),
        None => Ok(value.to_owned()),
    }
}

async fn check_name_free(state: &AppState, name: &str) -> Result<(), ConnectionError> {
    match state.store().connection_by_name(name).await? {
        Some(_) => Err(ConnectionError::NameTaken(name.to_owned())),
        None => Ok(()),
    }
}

fn root_aad(id: Uuid) -> String {
    format!("connections:root:{id}")
}

fn seal_root(state: &AppState, id: Uuid, root: &SecretHash) -> Result<String, ConnectionError> {
    Ok(state.master_key().seal(root.as_bytes(), &root_aad(id))?)
}

fn open_root(state: &AppState, connection: &Connection) -> Result<SecretHash, ConnectionError> {
    let sealed = connection.sealed_root.as_deref().ok_or_else(|| {
        ConnectionError::Unauthorized(format!(
            "connection {} has no key on this node",
            connection.name
        ))
    })?;
    let bytes = state
        .master_key()
        .open(sealed, &root_aad(connection.id))
        .map_err(|e| ConnectionError::Node(NodeError::Internal(e.to_string())))?;
    let bytes: [u8; 32] = bytes.try_into().map_err(|_| {
        ConnectionError::Node(NodeError::Internal(format!(
            "the key of connection {} is damaged",
            connection.name
        )))
    })?;
    Ok(SecretHash::from_bytes(bytes))
}

/// The connection's request keys on this node.
pub fn keys(state: &AppState, connection: &Connection) -> Result<ConnectionKeys, ConnectionError> {
    let root = open_root(state, connection)?;
    let me = state.identity().id;
    let remote = connection
        .remote
        .as_ref()
        .map(|r| r.node_id)
        .ok_or_else(|| {
            ConnectionError::Unauthorized(format!(
                "connection {} has no remote node yet",
                connection.name
            ))
        })?;
    let (initiator, acceptor, role) = match connection.role {
        ConnectionRole::Acceptor => (remote, me, Role::Acceptor),
        _ => (me, remote, Role::Initiator),
    };
    Ok(ConnectionKeys::derive(
        &root,
        connection.id,
        initiator,
        acceptor,
        role,
    ))
}

fn own_peer(state: &AppState, private: bool) -> wire::PeerNode {
    let settings = state.settings();
    wire::PeerNode {
        node_id: state.identity().id,
        name: settings.name,
        url: (!private).then_some(settings.node_url),
        tracker: settings.tracker.as_str().into(),
        public_key: state.identity().public_key_base64(),
    }
}

fn remote_from_peer(peer: wire::PeerNode) -> Result<RemoteNode, ConnectionError> {
    let invalid =
        |field: &'static str, problem: String| ConnectionError::Invalid { field, problem };
    let name = check_field("the remote node's name", &peer.name)?;
    let url = match peer.url {
        Some(url) => Some(
            normalize_node_url(&url)
                .map_err(|p| invalid("the remote node's URL", format!("the URL {p}")))?,
        ),
        None => None,
    };
    let key = public_key(&peer.public_key).ok_or_else(|| {
        invalid(
            "the remote node's public key",
            "is not an Ed25519 key".into(),
        )
    })?;
    Ok(RemoteNode {
        node_id: peer.node_id,
        name,
        url,
        tracker: check_field("the remote node's tracker", &peer.tracker)?,
        public_key: URL_SAFE_NO_PAD.encode(key.to_bytes()),
    })
}

/// The names a new connection is created with.
struct Naming {
    name: String,
    description: String,
    local_short_name: String,
    remote_short_name: String,
}

async fn new_connection(
    state: &AppState,
    id: Uuid,
    naming: Naming,
    mode: Mode,
    role: ConnectionRole,
    status: ConnectionStatus,
    target_project: Option<String>,
) -> Result<Connection, ConnectionError> {
    let now = Timestamp::now();
    let (outgoing_script, incoming_script) = rules::defaults(state, mode);
    let target_project = match target_project {
        Some(target) => check_target(state, &target).await?,
        None => default_target(state).await?,
    };
    Ok(Connection {
        id,
        name: naming.name,
        description: naming.description,
        mode,
        role,
        local_short_name: naming.local_short_name,
        remote_short_name: naming.remote_short_name,
        remote: None,
        private: false,
        status,
        status_reason: None,
        remote_paused: false,
        invitation: None,
        sealed_root: None,
        outgoing_script,
        incoming_script,
        target_project,
        created: now,
        updated: now,
        last_sync: None,
        version: 0,
    })
}

/// The project new items from the remote go to when the admin chose none: the node's only
/// project, when it has exactly one (a choice with one answer); otherwise none, and a first
/// sync says that one must be chosen. On a node that serves ServiceNow the incoming rules
/// name the table: none.
async fn default_target(state: &AppState) -> Result<Option<String>, ConnectionError> {
    if state.settings().tracker == crate::state::TrackerKind::ServiceNow {
        return Ok(None);
    }
    let projects = state.store().projects().await?;
    Ok(match projects.as_slice() {
        [only] => Some(only.key.to_string()),
        _ => None,
    })
}

/// The target project as the admin gave it, checked: a project of this node (the built-in
/// tracker's; on ServiceNow the incoming rules choose the table). Empty text: none.
async fn check_target(state: &AppState, text: &str) -> Result<Option<String>, ConnectionError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let invalid = |problem: String| ConnectionError::Invalid {
        field: "Target project",
        problem,
    };
    if state.settings().tracker == crate::state::TrackerKind::ServiceNow {
        return Err(invalid(
            "is for the built-in tracker: on a node that serves ServiceNow the incoming rules \
             choose the table (entity.tableName)"
                .into(),
        ));
    }
    let key: tandem_model::ProjectKey = text.parse().map_err(|_| {
        invalid(format!(
            "'{text}' is not a project key (2–10 capital letters or digits, like ENG)"
        ))
    })?;
    if state.store().project(&key).await?.is_none() {
        let known: Vec<String> = state
            .store()
            .projects()
            .await?
            .into_iter()
            .map(|p| p.key.to_string())
            .collect();
        return Err(invalid(if known.is_empty() {
            format!("this node has no project {key} (it has no projects yet: create one first)")
        } else {
            format!(
                "this node has no project {key}; its projects are {}",
                known.join(", ")
            )
        }));
    }
    Ok(Some(key.to_string()))
}

/// The projects a target project may be chosen from, for the Accept page and the editor;
/// `None` on a node that serves ServiceNow (the incoming rules choose the table there).
pub async fn target_choices(state: &AppState) -> Result<Option<Vec<String>>, ConnectionError> {
    if state.settings().tracker == crate::state::TrackerKind::ServiceNow {
        return Ok(None);
    }
    Ok(Some(
        state
            .store()
            .projects()
            .await?
            .into_iter()
            .map(|p| p.key.to_string())
            .collect(),
    ))
}

/// Sets (or with `None` clears) the project new items from the remote go to. Any mode: Basic
/// connections' rules read it too.
pub async fn set_target_project(
    state: &AppState,
    id: Uuid,
    target: Option<&str>,
) -> Result<Connection, ConnectionError> {
    let target = match target {
        Some(text) => check_target(state, text).await?,
        None => None,
    };
    let connection = modify(state, id, |c| {
        c.target_project = target.clone();
        Ok(())
    })
    .await?;
    tracing::info!(connection = %connection.name, target = ?connection.target_project, "Target project set.");
    Ok(connection)
}

fn created(e: StoreError, name: &str) -> ConnectionError {
    match e {
        StoreError::AlreadyExists(_) => ConnectionError::NameTaken(name.to_owned()),
        other => other.into(),
    }
}

/// Invitations that may wait to be accepted at once: each is a pending connection with a
/// sealed secret, and whoever holds an admin token could otherwise make them without end.
pub const MAX_PENDING_INVITATIONS: usize = 100;

/// Refuses a new invitation while [`MAX_PENDING_INVITATIONS`] unexpired ones wait.
async fn check_pending_invitations(
    state: &AppState,
    now: Timestamp,
) -> Result<(), ConnectionError> {
    let pending = state
        .store()
        .connections()
        .await?
        .iter()
        .filter(|c| {
            c.status == ConnectionStatus::Pending
                && c.invitation
                    .as_ref()
                    .is_some_and(|i| i.used.is_none() && i.expires > now)
        })
        .count();
    if pending >= MAX_PENDING_INVITATIONS {
        return Err(ConnectionError::TooManyInvitations {
            limit: MAX_PENDING_INVITATIONS,
        });
    }
    Ok(())
}

/// Creates the connection: Pending with an invitation code, or Active when local.
pub async fn initiate(
    state: &AppState,
    request: InitiateRequest,
) -> Result<Initiated, ConnectionError> {
    // Every field is checked before the admin is told: all problems at once.
    let mut problems = Vec::new();
    let local = check_name("Local instance short name", &request.local_short_name);
    let remote = check_name("Remote instance short name", &request.remote_short_name);
    let name = match (&local, &remote) {
        (Ok(local), Ok(remote)) if request.name.trim().is_empty() => {
            Ok(free_connection_name(state, local, remote).await?)
        }
        // Derived from short names that are wrong: their problems say it all.
        _ if request.name.trim().is_empty() => Ok(String::new()),
        _ => check_name("Connection name", &request.name),
    };
    let local_short_name = noted(&mut problems, local);
    let remote_short_name = noted(&mut problems, remote);
    let name = noted(&mut problems, name);
    let description = request.description.trim().to_owned();
    if description.len() > 2000 {
        problems.push(ConnectionError::Invalid {
            field: "Description",
            problem: "is longer than 2000 characters".into(),
        });
    }
    if !name.is_empty() {
        match check_name_free(state, &name).await {
            Err(fault @ ConnectionError::Node(_)) => return Err(fault),
            checked => noted(&mut problems, checked),
        }
    }
    ConnectionError::all(problems)?;
    crate::license::status(state)
        .await?
        .plan
        .check_mode(request.mode)?;

    let destination = match &request.destination {
        Some(url) => Some(check_destination(state, url).await?),
        None => None,
    };
    // A mode the destination cannot run would leave a Pending connection nobody can accept.
    if let Some(refusal) = destination.as_ref().and_then(|d| {
        d.modes
            .iter()
            .find(|o| o.mode == request.mode)
            .and_then(|o| o.refusal.clone())
    }) {
        return Err(ConnectionError::ModeNotAllowed(refusal));
    }
    let id = Uuid::now_v7();
    let naming = Naming {
        name: name.clone(),
        description,
        local_short_name,
        remote_short_name,
    };

    if destination.as_ref().is_some_and(|d| d.local) {
        let connection = new_connection(
            state,
            id,
            naming,
            request.mode,
            ConnectionRole::Local,
            ConnectionStatus::Active,
            request.target_project.clone(),
        )
        .await?;
        let connection = state
            .store()
            .create_connection(connection)
            .await
            .map_err(|e| created(e, &name))?;
        tracing::info!(connection = %id, name = %name, "Local connection created.");
        return Ok(Initiated {
            connection,
            code: None,
            accept_url: None,
        });
    }

    let now = Timestamp::now();
    // Until the new invitation is stored.
    let _issuing = state.issuing_invitation().await;
    check_pending_invitations(state, now).await?;
    let settings = state.settings();
    let invitation = Invitation::issue(
        IssueParams {
            initiator_node_id: state.identity().id,
            initiator_url: Some(settings.node_url.clone()),
            acceptor_private: destination.is_none(),
            initiator_public_key: state.identity().verifying_key(),
            connection_id: id,
            connection_name: name.clone(),
            initiator_short_name: naming.local_short_name.clone(),
            acceptor_short_name: naming.remote_short_name.clone(),
            mode: request.mode,
            valid_for: request
                .valid_for
                .unwrap_or(state.config().invitation_validity),
        },
        now,
    )?;
    let code = invitation.to_code()?;
    let mut connection = new_connection(
        state,
        id,
        naming,
        request.mode,
        ConnectionRole::Initiator,
        ConnectionStatus::Pending,
        request.target_project.clone(),
    )
    .await?;
    connection.private = destination.is_none();
    connection.invitation = Some(InvitationState {
        expires: invitation.expires_at,
        used: None,
    });
    connection.sealed_root = Some(seal_root(state, id, &invitation.secret_hash())?);
    let connection = state
        .store()
        .create_connection(connection)
        .await
        .map_err(|e| created(e, &name))?;
    tracing::info!(
        connection = %id,
        name = %name,
        private = connection.private,
        expires = %invitation.expires_at,
        "Connection initiated: waiting for the other side to accept the invitation."
    );
    Ok(Initiated {
        accept_url: destination.map(|d| format!("{}/connections/accept", d.node_url)),
        connection,
        code: Some(code),
    })
}

/// Decodes a pasted code and runs the acceptor's checks.
async fn read_code(state: &AppState, code: &str) -> Result<Invitation, ConnectionError> {
    let cleaned: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    let invitation =
        Invitation::decode_for_acceptor(&cleaned, state.identity().id, Timestamp::now())?;
    if matches!(invitation.route(), Route::InitiatorCalls) {
        return Err(ConnectionError::Destination(
            "the node that made this code has no node URL, so this node cannot reach it: ask the other admin to set their node URL and make a new code".into(),
        ));
    }
    if let Some(existing) = state.store().connection(invitation.connection_id).await? {
        return Err(ConnectionError::Invitation(
            if existing.status == ConnectionStatus::Pending {
                InvitationError::InvalidField {
                    field: "this invitation code",
                    problem: format!(
                        "is being accepted on this node right now (connection {})",
                        existing.name
                    ),
                }
            } else {
                InvitationError::InvalidField {
                    field: "this invitation code",
                    problem: format!(
                        "was already accepted on this node: it is connection {}",
                        existing.name
                    ),
                }
            },
        ));
    }
    Ok(invitation)
}

/// Reads a pasted code without changing anything.
pub async fn preview(state: &AppState, code: &str) -> Result<InvitationPreview, ConnectionError> {
    let invitation = read_code(state, code).await?;
    let remote_node_name = match &invitation.initiator_url {
        Some(url) => client::fetch_info(state.http(), url)
            .await
            .ok()
            .map(|info| info.name),
        None => None,
    };
    Ok(InvitationPreview {
        connection_id: invitation.connection_id,
        connection_name: invitation.connection_name.clone(),
        mode: invitation.mode,
        remote_node_name,
        remote_url_display: invitation.initiator_url_display().to_owned(),
        local_short_name: invitation.acceptor_short_name.clone(),
        remote_short_name: invitation.initiator_short_name.clone(),
        expires: invitation.expires_at,
    })
}

/// Accepts a pasted code: the initiator verifies it and both sides turn Active.
pub async fn accept(
    state: &AppState,
    request: AcceptRequest,
) -> Result<Connection, ConnectionError> {
    let invitation = read_code(state, &request.code).await?;
    // Names the admin typed follow the rule; those from the code are the initiator's (an
    // older node's may not) and are taken as they are.
    let mut problems = Vec::new();
    let local_short_name = noted(
        &mut problems,
        match request.local_short_name.as_deref() {
            Some(typed) => check_name("Local instance short name", typed),
            None => check_field("Local instance short name", &invitation.acceptor_short_name),
        },
    );
    let remote_short_name = noted(
        &mut problems,
        match request.remote_short_name.as_deref() {
            Some(typed) => check_name("Remote instance short name", typed),
            None => check_field(
                "Remote instance short name",
                &invitation.initiator_short_name,
            ),
        },
    );
    ConnectionError::all(problems)?;
    let name = invitation.connection_name.clone();
    check_name_free(state, &name).await?;
    let plan = crate::license::status(state).await?.plan;
    if plan.check_mode(invitation.mode).is_err() {
        // The initiator's Pending connection says why it waits.
        tell_declined(
            state,
            &invitation,
            &format!(
                "its plan ({}) allows Basic only, and this invitation is for {}: make a Basic \
                 invitation, or its admin adds a license key and pastes the code again",
                plan.name(),
                invitation.mode
            ),
        )
        .await;
        return Err(ConnectionError::ModeNotAllowed(format!(
            "this invitation is for a {mode} connection, and this node's plan ({plan}) allows \
             Basic only. This node's admin can add a license key (Settings → License) and paste \
             the code again, or ask {initiator}'s admin for a Basic invitation",
            mode = invitation.mode,
            plan = plan.name(),
            initiator = invitation.initiator_short_name,
        )));
    }
    let initiator_url = invitation
        .initiator_url
        .clone()
        .ok_or_else(|| ConnectionError::Destination("the code has no initiator URL".into()))?;

    // Hold the id and the name while the initiator answers, so a second paste of the same
    // code on this node is refused rather than raced.
    let id = invitation.connection_id;
    let root = invitation.secret_hash();
    let naming = Naming {
        name: name.clone(),
        description: String::new(),
        local_short_name: local_short_name.clone(),
        remote_short_name: remote_short_name.clone(),
    };
    let mut connection = new_connection(
        state,
        id,
        naming,
        invitation.mode,
        ConnectionRole::Acceptor,
        ConnectionStatus::Pending,
        request.target_project.clone(),
    )
    .await?;
    connection.private = invitation.acceptor_private;
    connection.sealed_root = Some(seal_root(state, id, &root)?);
    let held = state
        .store()
        .create_connection(connection)
        .await
        .map_err(|e| created(e, &name))?;

    match handshake(
        state,
        &invitation,
        &initiator_url,
        &root,
        &local_short_name,
        &remote_short_name,
    )
    .await
    {
        Ok(remote) => {
            let mut connection = held;
            connection.remote = Some(remote);
            connection.status = ConnectionStatus::Active;
            connection.updated = Timestamp::now();
            let connection = state.store().update_connection(&connection).await?;
            tracing::info!(
                connection = %id,
                name = %name,
                remote = %invitation.initiator_url_display(),
                "Invitation accepted: the connection is active."
            );
            state.wake_delivery();
            Ok(connection)
        }
        Err(e) => {
            state.store().delete_connection(id).await?;
            tracing::warn!(connection = %id, reason = %e, "Accepting an invitation failed.");
            Err(e)
        }
    }
}

/// Tells the initiator why this node cannot take its invitation, so that its Pending
/// connection says so. Best effort: an older initiator (404), an unreachable or private one
/// does not hear it, and this node's admin is told in any case.
async fn tell_declined(state: &AppState, invitation: &Invitation, reason: &str) {
    let Some(url) = invitation.initiator_url.as_deref() else {
        return;
    };
    let Ok(nonce) = Nonce::random() else { return };
    let reason: String = reason.chars().take(wire::MAX_DECLINE_REASON).collect();
    let now = Timestamp::now();
    let decline = tandem_protocol::Decline {
        connection_id: invitation.connection_id,
        timestamp: Timestamp::from_second(now.as_second()).unwrap_or(now),
        nonce: nonce.as_str(),
        reason: &reason,
    };
    let body = wire::DeclineRequest {
        protocol: PROTOCOL,
        connection_id: invitation.connection_id,
        timestamp: now.as_second(),
        nonce: nonce.as_str().to_owned(),
        proof: URL_SAFE_NO_PAD.encode(decline.proof(&invitation.secret_hash())),
        reason: reason.clone(),
    };
    match client::post_json(state.http(), url, wire::DECLINE_PATH, &body).await {
        Ok((200, _, _)) => {
            tracing::info!(connection = %invitation.connection_id, "The initiator was told why the invitation cannot be accepted.");
        }
        Ok((status, _, _)) => {
            tracing::info!(connection = %invitation.connection_id, status, "The initiator did not take the decline (an older node?).");
        }
        Err(e) => {
            tracing::info!(connection = %invitation.connection_id, error = %e, "The initiator could not be told why the invitation cannot be accepted.");
        }
    }
}

/// The initiator's half of a decline: the acceptor proves it holds the code, and the Pending
/// connection's status reason says why it cannot accept.
pub async fn declined(
    state: &AppState,
    request: &wire::DeclineRequest,
) -> Result<(), ConnectionError> {
    let refused =
        |why: &str| ConnectionError::Unauthorized(format!("the decline is refused: {why}"));
    let Some(connection) = state.store().connection(request.connection_id).await? else {
        return Err(refused("no invitation of this node has that id"));
    };
    let now = Timestamp::now();
    let waiting = connection.role == ConnectionRole::Initiator
        && connection.status == ConnectionStatus::Pending
        && connection
            .invitation
            .as_ref()
            .is_some_and(|i| i.used.is_none() && i.expires > now);
    if !waiting {
        return Err(refused("no invitation of this node waits with that id"));
    }
    if request.reason.chars().count() > wire::MAX_DECLINE_REASON
        || request.nonce.len() > 64
        || request.reason.chars().any(char::is_control)
    {
        return Err(refused("malformed"));
    }
    let timestamp = Timestamp::from_second(request.timestamp).map_err(|_| refused("malformed"))?;
    let proof = URL_SAFE_NO_PAD
        .decode(request.proof.as_bytes())
        .map_err(|_| refused("malformed"))?;
    let root = open_root(state, &connection)?;
    tandem_protocol::Decline {
        connection_id: connection.id,
        timestamp,
        nonce: &request.nonce,
        reason: &request.reason,
    }
    .verify(&root, &proof, now)
    .map_err(|e| refused(&e.to_string()))?;
    let keep = now
        .checked_add(tandem_protocol::handshake::MAX_PROOF_SKEW)
        .unwrap_or(now);
    if !state
        .store()
        .remember_nonce(connection.id, &request.nonce, keep, now)
        .await?
    {
        return Err(refused("it was received before (a replay)"));
    }
    let reason = format!(
        "{} cannot accept the invitation: {}",
        connection.remote_short_name, request.reason
    );
    modify(state, connection.id, |c| {
        c.status_reason = Some(reason.clone());
        Ok(())
    })
    .await?;
    tracing::warn!(connection = %connection.name, "The other side cannot accept the invitation.");
    Ok(())
}

/// The acceptor's half of the handshake: prove the code to the initiator, check its signed
/// answer, learn who it is.
async fn handshake(
    state: &AppState,
    invitation: &Invitation,
    initiator_url: &str,
    root: &SecretHash,
    local_short_name: &str,
    remote_short_name: &str,
) -> Result<RemoteNode, ConnectionError> {
    let me = own_peer(state, invitation.acceptor_private);
    let now = Timestamp::now();
    let nonce = Nonce::random().map_err(|e| NodeError::Internal(e.to_string()))?;
    let mut body = wire::AcceptRequest {
        protocol: PROTOCOL,
        connection_id: invitation.connection_id,
        acceptor: me,
        acceptor_short_name: local_short_name.to_owned(),
        initiator_short_name: remote_short_name.to_owned(),
        timestamp: now.as_second(),
        proof: String::new(),
        signature: String::new(),
        nonce: nonce.as_str().to_owned(),
    };
    // The proof and this node's signature cover every field of the body, so a copy of it
    // cannot be sent again with another URL, name or nonce.
    let acceptance = acceptance_of(&body, state.identity().verifying_key())?;
    let proof = accept_proof(root, &invitation.terms(), &acceptance, state.identity())
        .map_err(|e| NodeError::Internal(format!("signing the acceptance failed: {e}")))?;
    body.proof = URL_SAFE_NO_PAD.encode(proof.mac);
    body.signature = URL_SAFE_NO_PAD.encode(proof.signature.to_bytes());
    let keys = ConnectionKeys::derive(
        root,
        invitation.connection_id,
        invitation.initiator_node_id,
        state.identity().id,
        Role::Acceptor,
    );
    let answer = client::accept(state.http(), initiator_url, &body, &keys, &nonce)
        .await
        .map_err(|e| match e {
            CallError::Refused { message, .. } => ConnectionError::Refused(message),
            CallError::Unreachable(reason) => ConnectionError::Remote(format!(
                "the node that made this code is not reachable at {initiator_url} ({reason}): check that it is running and reachable from this node, then try again"
            )),
            other => ConnectionError::Remote(format!(
                "the node at {initiator_url} did not answer as the node that made this code: {other}"
            )),
        })?;
    let remote = remote_from_peer(answer.initiator)?;
    if remote.node_id != invitation.initiator_node_id
        || remote.public_key != URL_SAFE_NO_PAD.encode(invitation.initiator_public_key.to_bytes())
    {
        return Err(ConnectionError::Remote(
            "the node that answered is not the node that made this code".into(),
        ));
    }
    Ok(remote)
}

/// The initiator's half: checks an acceptance of one of its codes and activates the
/// connection. Returns it, its keys and the answer to sign.
pub async fn accepted(
    state: &AppState,
    request: &wire::AcceptRequest,
) -> Result<(Connection, ConnectionKeys, wire::AcceptAnswer), ConnectionError> {
    let now = Timestamp::now();
    let mut connection = match state.store().connection(request.connection_id).await? {
        Some(c) if c.role == ConnectionRole::Initiator => c,
        _ => return Err(InvitationError::Withdrawn.into()),
    };
    let invitation = connection
        .invitation
        .clone()
        .ok_or(InvitationError::Withdrawn)?;
    // The node that accepted may ask again: its answer was lost on the way (a timeout, a cut
    // connection), so it dropped its half while this side turned Active, and its admin pasted
    // the code once more. As long as nothing has passed between the two since, this side
    // answers it again; for any other node the code is used.
    let repeat = invitation.used.is_some() || connection.status != ConnectionStatus::Pending;
    if repeat
        && !(same_acceptor(&connection, &request.acceptor)
            && nothing_exchanged(state, &connection).await?)
    {
        return Err(InvitationError::AlreadyUsed.into());
    }
    if now >= invitation.expires {
        return Err(InvitationError::Expired {
            created_at: connection.created,
            valid_for: invitation.expires.duration_since(connection.created),
        }
        .into());
    }
    if request.acceptor.node_id == state.identity().id {
        return Err(InvitationError::OwnCode.into());
    }
    let remote = remote_from_peer(request.acceptor.clone())?;
    let acceptor_key =
        public_key(&request.acceptor.public_key).ok_or(AcceptanceRefused::Malformed {
            what: "public key",
            problem: "is not an Ed25519 key",
        })?;
    let acceptance = acceptance_of(request, acceptor_key)?;
    let not_base64 = |what| AcceptanceRefused::Malformed {
        what,
        problem: "is not base64url",
    };
    let mac = URL_SAFE_NO_PAD
        .decode(request.proof.as_bytes())
        .map_err(|_| not_base64("proof"))?;
    let signature = URL_SAFE_NO_PAD
        .decode(request.signature.as_bytes())
        .map_err(|_| not_base64("signature"))?;
    let root = open_root(state, &connection)?;
    // The terms as this node made them: a code edited on the way (its mode, say, with the
    // checksum made good again) fails the proof.
    let terms = Terms {
        mode: connection.mode,
        connection_name: &connection.name,
        acceptor_private: connection.private,
        expires_at: invitation.expires,
    };
    let proof = verify_accept_proof(&root, &terms, &acceptance, &mac, &signature, now)
        .map_err(AcceptanceRefused::Proof)?;
    if connection.private != remote.url.is_none() {
        return Err(ConnectionError::Invalid {
            field: "the acceptance",
            problem: if connection.private {
                "comes with a node URL, but the code was made for a private node".into()
            } else {
                "has no node URL, but this connection needs one to call the acceptor".into()
            },
        });
    }
    crate::license::status(state)
        .await?
        .plan
        .check_mode(connection.mode)?;

    // An acceptance may come again (above), but only as the node that accepted first
    // described itself: the node URL it gave is where this node delivers from now on.
    if repeat {
        let changed = connection
            .remote
            .as_ref()
            .map(|first| changed_fields(first, &remote))
            .unwrap_or_default();
        if !changed.is_empty() {
            tracing::warn!(
                connection = %connection.id,
                changed = ?changed,
                "A repeated acceptance describes the accepting node otherwise than the first; refused."
            );
            return Err(AcceptanceRefused::DescriptorChanged { changed }.into());
        }
    }
    // No proof is taken twice, and every acceptance taken describes the acceptor as the first
    // (the short names too, which this node does not keep otherwise).
    match state
        .store()
        .record_acceptance(connection.id, proof.id(), acceptance.acceptor.digest(), now)
        .await?
    {
        AcceptanceRecord::Recorded => {}
        AcceptanceRecord::ProofSeen => return Err(AcceptanceRefused::Replayed.into()),
        AcceptanceRecord::OtherDescriptor => {
            tracing::warn!(
                connection = %connection.id,
                "An acceptance describes the accepting node otherwise than the first one taken; refused."
            );
            return Err(AcceptanceRefused::DescriptorChanged {
                changed: vec!["description"],
            }
            .into());
        }
    }
    // Its nonce is kept for as long as its proof is fresh: the answer is signed for it.
    let keep_until = acceptance
        .timestamp
        .saturating_add(tandem_protocol::handshake::MAX_PROOF_SKEW)
        .map_err(|e| NodeError::Internal(e.to_string()))?;
    if !state
        .store()
        .remember_nonce(connection.id, &request.nonce, keep_until.max(now), now)
        .await?
    {
        return Err(AcceptanceRefused::Replayed.into());
    }
    if repeat {
        // Deliveries to the acceptor's missing half may have failed meanwhile; the answer
        // makes it whole again. An admin's Deactivate stays.
        if connection.status == ConnectionStatus::Error {
            connection.status = ConnectionStatus::Active;
            connection.status_reason = None;
        }
        tracing::info!(
            connection = %connection.id,
            "The acceptor asked again after losing the first answer; answered again."
        );
    } else {
        connection.status = ConnectionStatus::Active;
        connection.invitation = Some(InvitationState {
            expires: invitation.expires,
            used: Some(now),
        });
    }
    connection.remote = Some(remote);
    connection.updated = now;
    let connection = match state.store().update_connection(&connection).await {
        Ok(c) => c,
        // Another acceptance of the same code came first.
        Err(StoreError::Changed { .. }) => return Err(InvitationError::AlreadyUsed.into()),
        Err(StoreError::NotFound { .. }) => return Err(InvitationError::Withdrawn.into()),
        Err(e) => return Err(e.into()),
    };
    let keys = keys(state, &connection)?;
    let answer = wire::AcceptAnswer {
        initiator: own_peer(state, false),
    };
    state.wake_delivery();
    Ok((connection, keys, answer))
}

/// The acceptance an accept request's body states, with the acceptor's key parsed: what the
/// proof and the signature cover, field by field, exactly as they travel.
fn acceptance_of(
    request: &wire::AcceptRequest,
    public_key: ed25519_dalek::VerifyingKey,
) -> Result<Acceptance<'_>, AcceptanceRefused> {
    let timestamp =
        Timestamp::from_second(request.timestamp).map_err(|_| AcceptanceRefused::Malformed {
            what: "time",
            problem: "is not a time",
        })?;
    Ok(Acceptance {
        protocol: request.protocol,
        connection_id: request.connection_id,
        acceptor: AcceptorDescriptor {
            node_id: request.acceptor.node_id,
            public_key,
            name: &request.acceptor.name,
            url: request.acceptor.url.as_deref(),
            tracker: &request.acceptor.tracker,
            acceptor_short_name: &request.acceptor_short_name,
            initiator_short_name: &request.initiator_short_name,
        },
        timestamp,
        nonce: &request.nonce,
    })
}

/// An Ed25519 public key in base64url, when it is one.
fn public_key(text: &str) -> Option<ed25519_dalek::VerifyingKey> {
    URL_SAFE_NO_PAD
        .decode(text.as_bytes())
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .and_then(|b| ed25519_dalek::VerifyingKey::from_bytes(&b).ok())
}

/// What a repeated acceptance says of the acceptor otherwise than the first (`first`, stored).
fn changed_fields(first: &RemoteNode, now: &RemoteNode) -> Vec<&'static str> {
    [
        ("node id", first.node_id != now.node_id),
        ("public key", first.public_key != now.public_key),
        ("name", first.name != now.name),
        ("node URL", first.url != now.url),
        ("tracker", first.tracker != now.tracker),
    ]
    .into_iter()
    .filter_map(|(field, differs)| differs.then_some(field))
    .collect()
}

/// Whether `acceptor` is the node that accepted `connection`'s code (same id, same key).
fn same_acceptor(connection: &Connection, acceptor: &wire::PeerNode) -> bool {
    connection
        .remote
        .as_ref()
        .is_some_and(|r| r.node_id == acceptor.node_id && r.public_key == acceptor.public_key)
}

/// Whether nothing has passed on `connection` yet: no message received from the remote, and
/// none of this side's acknowledged by it.
async fn nothing_exchanged(
    state: &AppState,
    connection: &Connection,
) -> Result<bool, ConnectionError> {
    let store = state.store();
    Ok(store.inbound_seq(connection.id).await? == 0
        && store.queued_count(connection.id).await? as i64
            == store.outbound_seq(connection.id).await?)
}

/// Applies messages the remote pushed (or this node polled); returns the highest seq handled.
/// Sync requests are stored before they are acknowledged — a run of them in one transaction,
/// so a delivered batch costs one commit — and the engine applies them in order per twin.
pub async fn receive(
    state: &AppState,
    connection: &Connection,
    messages: Vec<wire::WireMessage>,
) -> Result<i64, ConnectionError> {
    let mut acked = state.store().inbound_seq(connection.id).await?;
    let mut requests: Vec<tandem_store::ReceivedRequest> = Vec::new();
    for message in messages {
        let expected = acked + requests.len() as i64 + 1;
        if message.seq < expected {
            continue; // seen before: acknowledged again, applied once
        }
        if message.seq != expected {
            // A gap: stop here; the sender sends again from what it is told.
            break;
        }
        if is_request(&message.kind) {
            // The twin is named by the sender's key for its item.
            let remote_key = match message.kind.as_str() {
                crate::sync::engine::SYNC => message.payload["local_key"].as_str(),
                _ => message.payload["my_key"].as_str(),
            };
            requests.push(tandem_store::ReceivedRequest {
                seq: message.seq,
                kind: message.kind,
                remote_key: remote_key.map(str::to_owned),
                payload: message.payload.to_string(),
            });
            continue;
        }
        let (stored, complete) = store_requests(state, connection, &mut requests).await?;
        acked = stored.unwrap_or(acked);
        if !complete {
            break;
        }
        if message.kind == wire::CONTROL {
            match serde_json::from_value::<wire::Control>(message.payload.clone()) {
                Ok(control) => apply_control(state, connection.id, control).await?,
                Err(e) => tracing::warn!(
                    connection = %connection.id,
                    seq = message.seq,
                    error = %e,
                    "Ignored a control message this node does not understand."
                ),
            }
        } else {
            tracing::warn!(
                connection = %connection.id,
                seq = message.seq,
                kind = %message.kind,
                "Ignored a message of a kind this node does not handle."
            );
        }
        state
            .store()
            .advance_inbound_seq(connection.id, message.seq)
            .await?;
        acked = message.seq;
    }
    let (stored, _) = store_requests(state, connection, &mut requests).await?;
    Ok(stored.unwrap_or(acked))
}

/// The message kinds the sync engine applies from its stored requests.
fn is_request(kind: &str) -> bool {
    matches!(
        kind,
        crate::sync::engine::SYNC
            | crate::sync::engine::SYNC_ACK
            | crate::sync::operations::SYNC_STOP
            | crate::sync::operations::SYNC_CONNECT
            | crate::sync::operations::SYNC_CONNECT_REFUSED
            | crate::sync::operations::SYNC_CLEANUP
            | crate::sync::operations::SYNC_CLEANED_UP
            | crate::sync::operations::SYNC_VOID
            | crate::sync::engine::SYNC_FAILED
            | crate::sync::engine::SYNC_KEY
    )
}

/// Stores the requests gathered so far in one transaction and empties the list. Returns the
/// seq of the last one stored (None when there were none) and whether all were stored (a
/// request that arrived meanwhile by another path makes the rest wait for the next round).
async fn store_requests(
    state: &AppState,
    connection: &Connection,
    requests: &mut Vec<tandem_store::ReceivedRequest>,
) -> Result<(Option<i64>, bool), ConnectionError> {
    if requests.is_empty() {
        return Ok((None, true));
    }
    let batch = std::mem::take(requests);
    let wanted = batch.len();
    let seqs: Vec<i64> = batch.iter().map(|r| r.seq).collect();
    let stored = state.store().receive_requests(connection.id, batch).await?;
    if stored > 0 {
        state.wake_sync();
    }
    Ok((stored.checked_sub(1).map(|i| seqs[i]), stored == wanted))
}

async fn apply_control(
    state: &AppState,
    id: Uuid,
    control: wire::Control,
) -> Result<(), ConnectionError> {
    for _ in 0..5 {
        let Some(mut connection) = state.store().connection(id).await? else {
            return Ok(());
        };
        let remote = connection
            .remote
            .as_ref()
            .map_or_else(|| "the remote node".to_owned(), |r| r.name.clone());
        match control {
            wire::Control::Paused => connection.remote_paused = true,
            wire::Control::Resumed => connection.remote_paused = false,
            wire::Control::Deleted => {
                connection.status = ConnectionStatus::Error;
                connection.status_reason = Some(format!(
                    "{remote} deleted this connection on its side ({}): delete it here too, and initiate a new connection to sync again",
                    Timestamp::now().strftime("%Y-%m-%d %H:%M UTC")
                ));
            }
        }
        connection.updated = Timestamp::now();
        match state.store().update_connection(&connection).await {
            Ok(_) => {
                tracing::info!(connection = %id, event = ?control, "The remote changed the connection.");
                return Ok(());
            }
            Err(StoreError::Changed { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ConnectionError::Node(NodeError::Internal(format!(
        "connection {id} kept changing while a remote message was applied"
    ))))
}

/// A private acceptor's poll: drop what it has, hand out what waits.
pub async fn polled(
    state: &AppState,
    connection: &Connection,
    ack: i64,
) -> Result<Vec<wire::WireMessage>, ConnectionError> {
    state.store().ack_messages(connection.id, ack).await?;
    let queued = state
        .store()
        .outbound_messages(connection.id, ack, wire::BATCH)
        .await?;
    Ok(fit_batch(queued).into_iter().map(to_wire).collect())
}

/// The most payload bytes one push or poll carries (a message larger than this goes alone).
pub const BATCH_BYTES: usize = 8 * 1024 * 1024;

/// The leading messages that fit in [`BATCH_BYTES`], at least one.
pub(crate) fn fit_batch(
    messages: Vec<tandem_store::OutboundMessage>,
) -> Vec<tandem_store::OutboundMessage> {
    let mut total = 0;
    let mut out = Vec::new();
    for message in messages {
        total += message.payload.len();
        if !out.is_empty() && total > BATCH_BYTES {
            break;
        }
        out.push(message);
    }
    out
}

pub(crate) fn to_wire(message: tandem_store::OutboundMessage) -> wire::WireMessage {
    wire::WireMessage {
        seq: message.seq,
        kind: message.kind,
        payload: serde_json::from_str(&message.payload).unwrap_or(serde_json::Value::Null),
    }
}

/// The unresolved sync errors per connection, as the Connections page and the console's
/// menu show them.
#[derive(Debug, Clone, Default)]
pub struct OpenErrors {
    counts: Vec<(Option<Uuid>, u64)>,
}

impl OpenErrors {
    /// The connection's open errors (those the remote reported about this side's items too).
    pub fn of(&self, id: Uuid) -> u64 {
        self.counts
            .iter()
            .find(|(c, _)| *c == Some(id))
            .map_or(0, |(_, n)| *n)
    }

    /// Every open error of the node.
    pub fn total(&self) -> u64 {
        self.counts.iter().map(|(_, n)| n).sum()
    }
}

pub async fn open_errors(state: &AppState) -> Result<OpenErrors, ConnectionError> {
    Ok(OpenErrors {
        counts: state.store().open_error_counts().await?,
    })
}

/// All connections with their twin counts, oldest first.
pub async fn list(state: &AppState) -> Result<Vec<ConnectionSummary>, ConnectionError> {
    let mut all = Vec::new();
    for connection in state.store().connections().await? {
        let twins = state.store().active_twin_count(connection.id).await?;
        all.push(ConnectionSummary { connection, twins });
    }
    Ok(all)
}

/// A connection by name (case-insensitive) or id.
pub async fn find(state: &AppState, name_or_id: &str) -> Result<Connection, ConnectionError> {
    let store = state.store();
    if let Some(c) = store.connection_by_name(name_or_id.trim()).await? {
        return Ok(c);
    }
    if let Ok(id) = Uuid::try_parse(name_or_id.trim())
        && let Some(c) = store.connection(id).await?
    {
        return Ok(c);
    }
    Err(ConnectionError::NotFound(name_or_id.trim().to_owned()))
}

async fn load(state: &AppState, id: Uuid) -> Result<Connection, ConnectionError> {
    state
        .store()
        .connection(id)
        .await?
        .ok_or_else(|| ConnectionError::NotFound(id.to_string()))
}

pub async fn statistics(state: &AppState, id: Uuid) -> Result<Statistics, ConnectionError> {
    let connection = load(state, id).await?;
    let store = state.store();
    let queued = store.queued_count(connection.id).await?;
    let queued_total = store.outbound_seq(connection.id).await?.max(0) as u64;
    let incoming = store.pending_request_count(connection.id).await?;
    let errors = store
        .sync_errors(false, 10_000)
        .await?
        .iter()
        .filter(|e| e.connection_id == Some(connection.id))
        .count() as u64;
    Ok(Statistics {
        twins: store.twin_count(connection.id).await?,
        events_sent: queued_total.saturating_sub(queued),
        events_received: store.inbound_seq(connection.id).await?.max(0) as u64,
        queued,
        incoming,
        changes_waiting: crate::sync::engine::changes_waiting(state).await?,
        errors: errors + u64::from(connection.status == ConnectionStatus::Error),
    })
}

/// Changes a connection with `change`, retrying when another update came first.
async fn modify(
    state: &AppState,
    id: Uuid,
    change: impl Fn(&mut Connection) -> Result<(), ConnectionError>,
) -> Result<Connection, ConnectionError> {
    for _ in 0..5 {
        let mut connection = load(state, id).await?;
        change(&mut connection)?;
        connection.updated = Timestamp::now();
        match state.store().update_connection(&connection).await {
            Ok(c) => return Ok(c),
            Err(StoreError::Changed { .. }) => continue,
            Err(StoreError::NotFound { .. }) => {
                return Err(ConnectionError::NotFound(id.to_string()));
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(ConnectionError::Node(NodeError::Internal(format!(
        "connection {id} kept changing during the update"
    ))))
}

async fn tell_remote(
    state: &AppState,
    connection: &Connection,
    control: wire::Control,
) -> Result<(), ConnectionError> {
    if connection.role == ConnectionRole::Local || connection.remote.is_none() {
        return Ok(());
    }
    let payload =
        serde_json::to_string(&control).map_err(|e| NodeError::Internal(e.to_string()))?;
    state
        .store()
        .enqueue_message(connection.id, wire::CONTROL, &payload)
        .await?;
    state.wake_delivery();
    Ok(())
}

pub async fn activate(state: &AppState, id: Uuid) -> Result<Connection, ConnectionError> {
    // A connection the plan paused runs again only with a license that allows its mode.
    crate::license::plan(state)
        .await?
        .check_mode(load(state, id).await?.mode)?;
    let connection = modify(state, id, |c| match c.status {
        ConnectionStatus::Pending => Err(ConnectionError::WrongStatus(
            "pending",
            "it turns active when the other side accepts the invitation".into(),
        )),
        _ => {
            c.status = ConnectionStatus::Active;
            c.status_reason = None;
            Ok(())
        }
    })
    .await?;
    tell_remote(state, &connection, wire::Control::Resumed).await?;
    tracing::info!(connection = %id, name = %connection.name, "Connection activated.");
    Ok(connection)
}

pub async fn deactivate(state: &AppState, id: Uuid) -> Result<Connection, ConnectionError> {
    let connection = modify(state, id, |c| match c.status {
        ConnectionStatus::Pending => Err(ConnectionError::WrongStatus(
            "pending",
            "delete it instead to withdraw the invitation".into(),
        )),
        _ => {
            c.status = ConnectionStatus::Deactivated;
            c.status_reason = Some("deactivated by an admin of this node".into());
            Ok(())
        }
    })
    .await?;
    tell_remote(state, &connection, wire::Control::Paused).await?;
    tracing::info!(connection = %id, name = %connection.name, "Connection deactivated.");
    Ok(connection)
}

/// Pauses the connections whose mode the node's plan no longer allows (Script after the
/// Evaluation ends, or when a Paid license expires), and resumes those it paused once the plan
/// allows them again (a license key was installed). Runs every half minute and after a key is
/// installed.
pub async fn enforce_plan(state: &AppState) -> Result<(), ConnectionError> {
    use crate::sync::engine::{PLAN_PAUSE, paused_by_plan};
    let plan = crate::license::plan(state).await?;
    for connection in state.store().connections().await? {
        let id = connection.id;
        match plan.check_mode(connection.mode) {
            Err(refusal) if connection.status == ConnectionStatus::Active => {
                let reason = format!("{PLAN_PAUSE}{refusal}");
                modify(state, id, |c| {
                    if c.status == ConnectionStatus::Active {
                        c.status = ConnectionStatus::Error;
                        c.status_reason = Some(reason.clone());
                    }
                    Ok(())
                })
                .await?;
                tracing::warn!(connection = %connection.name, reason = %refusal, "The connection is paused: the node's plan no longer allows its mode.");
            }
            Ok(()) if paused_by_plan(&connection) => {
                let resumed = modify(state, id, |c| {
                    if paused_by_plan(c) {
                        c.status = ConnectionStatus::Active;
                        c.status_reason = None;
                    }
                    Ok(())
                })
                .await?;
                tracing::info!(connection = %resumed.name, "The connection runs again: the node's plan allows its mode.");
                // What changed while paused was not sent.
                if let Err(e) = crate::sync::jobs::start(
                    state,
                    tandem_model::JobKind::SyncAgain,
                    &resumed,
                    None,
                )
                .await
                {
                    tracing::warn!(connection = %resumed.name, error = %e, "Syncing the twins again after the pause could not start.");
                }
                state.wake_sync();
            }
            _ => {}
        }
    }
    Ok(())
}

/// [`enforce_plan`] every half minute until `cancel` fires.
pub async fn watch_plan(state: AppState, cancel: tokio_util::sync::CancellationToken) {
    loop {
        if let Err(e) = enforce_plan(&state).await {
            tracing::warn!(error = %e, "The connections could not be checked against the node's plan.");
        }
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(std::time::Duration::from_secs(30)) => {}
        }
    }
}

/// Removes the connection on this side and tells the remote.
pub async fn delete(state: &AppState, id: Uuid) -> Result<Deleted, ConnectionError> {
    let connection = load(state, id).await?;
    // Pending: the remote never accepted, so it has no connection to be told about.
    let never_accepted = connection.status == ConnectionStatus::Pending;
    let remote_told = if connection.can_call_remote() && !never_accepted {
        tell_remote(state, &connection, wire::Control::Deleted).await?;
        delivery::push_now(state, &connection).await.is_ok()
    } else {
        false
    };
    state.store().delete_connection(id).await?;
    tracing::info!(connection = %id, name = %connection.name, remote_told, never_accepted, "Connection deleted.");
    Ok(Deleted {
        name: connection.name,
        remote_told,
        never_accepted,
    })
}

/// A new invitation code for a Pending connection this node initiated (the first was lost,
/// or expired): a new secret and a new expiry, so the old code stops working — an acceptance
/// made with it fails the proof.
pub async fn new_invitation_code(state: &AppState, id: Uuid) -> Result<Initiated, ConnectionError> {
    let connection = load(state, id).await?;
    let pending = connection.role == ConnectionRole::Initiator
        && connection.status == ConnectionStatus::Pending
        && connection
            .invitation
            .as_ref()
            .is_some_and(|i| i.used.is_none());
    if !pending {
        return Err(ConnectionError::WrongStatus(
            connection.status.label(),
            "a new invitation code is made only for a Pending connection this node initiated"
                .into(),
        ));
    }
    crate::license::status(state)
        .await?
        .plan
        .check_mode(connection.mode)?;
    let now = Timestamp::now();
    let _issuing = state.issuing_invitation().await;
    let settings = state.settings();
    let invitation = Invitation::issue(
        IssueParams {
            initiator_node_id: state.identity().id,
            initiator_url: Some(settings.node_url.clone()),
            acceptor_private: connection.private,
            initiator_public_key: state.identity().verifying_key(),
            connection_id: id,
            connection_name: connection.name.clone(),
            initiator_short_name: connection.local_short_name.clone(),
            acceptor_short_name: connection.remote_short_name.clone(),
            mode: connection.mode,
            valid_for: state.config().invitation_validity,
        },
        now,
    )?;
    let code = invitation.to_code()?;
    let sealed = seal_root(state, id, &invitation.secret_hash())?;
    let expires = invitation.expires_at;
    let connection = modify(state, id, |c| {
        // Accepted meanwhile: the old code did its job, no new one.
        if c.status != ConnectionStatus::Pending {
            return Err(ConnectionError::WrongStatus(
                c.status.label(),
                "it was accepted meanwhile: no new invitation code is needed".into(),
            ));
        }
        c.sealed_root = Some(sealed.clone());
        c.invitation = Some(InvitationState {
            expires,
            used: None,
        });
        c.status_reason = None;
        Ok(())
    })
    .await?;
    tracing::info!(connection = %id, name = %connection.name, expires = %expires, "New invitation code made: the one before no longer works.");
    Ok(Initiated {
        accept_url: connection
            .remote_url()
            .map(|url| format!("{}/connections/accept", url.trim_end_matches('/'))),
        connection,
        code: Some(code),
    })
}

/// Writes generated incoming rules and a target project (the upgrade of a Basic connection's
/// rules from an older version; admins cannot edit Basic rules).
pub(crate) async fn set_generated_rules(
    state: &AppState,
    id: Uuid,
    incoming: String,
    target: Option<String>,
) -> Result<Connection, ConnectionError> {
    modify(state, id, |c| {
        c.incoming_script = incoming.clone();
        c.target_project = target.clone();
        Ok(())
    })
    .await
}

/// Saves both scripts; refused for Basic connections and for scripts that do not parse.
pub async fn save_rules(
    state: &AppState,
    id: Uuid,
    outgoing_script: &str,
    incoming_script: &str,
) -> Result<Connection, ConnectionError> {
    let connection = load(state, id).await?;
    if connection.mode == Mode::Basic {
        return Err(ConnectionError::BasicRulesReadOnly);
    }
    // Both scripts are checked: the admin sees every problem of a Publish at once.
    let mut problems = Vec::new();
    for (which, source) in [("outgoing", outgoing_script), ("incoming", incoming_script)] {
        if source.len() > rules::MAX_SCRIPT {
            problems.push(ConnectionError::Script {
                which,
                message: format!("it is longer than {} KB", rules::MAX_SCRIPT / 1024),
            });
        } else if let Err(message) = tandem_script::playground::check(source, which) {
            problems.push(ConnectionError::Script { which, message });
        }
    }
    ConnectionError::all(problems)?;
    let (outgoing, incoming) = (outgoing_script.to_owned(), incoming_script.to_owned());
    let was_paused = crate::sync::engine::paused_by_rules(&connection);
    let connection = modify(state, id, |c| {
        c.outgoing_script = outgoing.clone();
        c.incoming_script = incoming.clone();
        // Rules that compile again end the pause their failure caused.
        if crate::sync::engine::paused_by_rules(c) {
            c.status = ConnectionStatus::Active;
            c.status_reason = None;
        }
        Ok(())
    })
    .await?;
    tracing::info!(connection = %id, name = %connection.name, "Sync rules published.");
    if was_paused {
        // What changed while paused was not sent: every twin goes through the new rules, and
        // only replicas that differ from the last one sent go out.
        if let Err(e) =
            crate::sync::jobs::start(state, tandem_model::JobKind::SyncAgain, &connection, None)
                .await
        {
            tracing::warn!(connection = %connection.name, error = %e, "Syncing the twins again after the pause could not start.");
        }
        state.wake_sync();
    }
    Ok(connection)
}

/// Changes the description (the only connection information editable after creation besides
/// the rules); `mode`, when given and different, is refused with [`ConnectionError::ModeFixed`].
pub async fn update_info(
    state: &AppState,
    id: Uuid,
    description: Option<String>,
    mode: Option<Mode>,
) -> Result<Connection, ConnectionError> {
    let current = load(state, id).await?;
    if let Some(mode) = mode
        && mode != current.mode
    {
        return Err(ConnectionError::ModeFixed(current.mode));
    }
    let Some(description) = description else {
        return Ok(current);
    };
    let description = description.trim().to_owned();
    if description.len() > 2000 {
        return Err(ConnectionError::Invalid {
            field: "Description",
            problem: "is longer than 2000 characters".into(),
        });
    }
    modify(state, id, |c| {
        c.description = description.clone();
        Ok(())
    })
    .await
}

/// A connection's scope as the console, the API and the CLI show it.
#[derive(Debug, Clone)]
pub struct ScopeView {
    /// What the admin set; `None`: the default applies.
    pub set: Option<tandem_model::Scope>,
    /// What the connection reaches now, in words.
    pub effective: String,
}

fn scope_failure(e: crate::sync::engine::SyncFailure) -> ConnectionError {
    match e {
        crate::sync::engine::SyncFailure::Store(e) => e.into(),
        other => ConnectionError::Invalid {
            field: "Scope",
            problem: other.to_string(),
        },
    }
}

/// The connection's scope: the one its admin set, or the default and what it comes to.
pub async fn scope(state: &AppState, id: Uuid) -> Result<ScopeView, ConnectionError> {
    let connection = load(state, id).await?;
    if connection.role == tandem_model::ConnectionRole::Local {
        return Ok(ScopeView {
            set: None,
            effective: "every item (a local connection has no peer)".into(),
        });
    }
    let set = state.store().connection_scope(id).await?;
    let effective = match &set {
        Some(scope) => scope.describe(),
        None => format!(
            "default: {}",
            crate::sync::scope::describe_default(state, &connection)
                .await
                .map_err(scope_failure)?
        ),
    };
    Ok(ScopeView { set, effective })
}

/// Sets the connection's scope once it checks out (projects that exist, a query that
/// parses), or with `None` goes back to the default. From the next message on, the remote
/// reaches only what it holds: items that leave it are no longer sent or written.
pub async fn set_scope(
    state: &AppState,
    id: Uuid,
    scope: Option<tandem_model::Scope>,
) -> Result<ScopeView, ConnectionError> {
    let connection = load(state, id).await?;
    if connection.role == tandem_model::ConnectionRole::Local {
        return Err(ConnectionError::Invalid {
            field: "Scope",
            problem: "a local connection has no peer and no scope: both sides are this node's"
                .into(),
        });
    }
    let scope = match scope {
        Some(s) => Some(
            crate::sync::scope::check(state, &s)
                .await
                .map_err(scope_failure)?,
        ),
        None => None,
    };
    state
        .store()
        .set_connection_scope(id, scope.as_ref())
        .await?;
    tracing::info!(connection = %connection.name, scope = ?scope, "Connection scope set.");
    // Items that came into the scope send what they have (those that left it send nothing).
    state.wake_sync();
    self::scope(state, id).await
}

/// How a status reads on the Connections page, with the remote's pause shown.
pub fn status_label(connection: &Connection) -> String {
    match (connection.status, connection.remote_paused) {
        (ConnectionStatus::Active, true) => "Active (remote paused)".to_owned(),
        (status, _) => status.label().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_normalized() {
        assert_eq!(
            normalize_url(" http://127.0.0.1:7341/ ").unwrap(),
            "http://127.0.0.1:7341"
        );
        assert_eq!(
            normalize_url("http://node.example/items?q=1#x").unwrap(),
            "http://node.example/items"
        );
        assert_eq!(
            normalize_url("node.example").unwrap(),
            "https://node.example"
        );
        assert!(normalize_url("").is_err());
        assert!(normalize_url("ftp://x").unwrap_err().contains("http://"));
        assert!(normalize_url("http://").is_err());
    }

    #[test]
    fn candidates_walk_up_to_the_origin() {
        assert_eq!(
            candidate_bases("http://h:1/a/b"),
            vec!["http://h:1/a/b", "http://h:1/a", "http://h:1"]
        );
        assert_eq!(candidate_bases("http://h:1"), vec!["http://h:1"]);
    }

    #[test]
    fn the_default_name_joins_the_short_names() {
        assert_eq!(
            default_connection_name(" acme ", "globex"),
            "acme_to_globex"
        );
    }

    #[test]
    fn the_modes_carry_the_wizard_descriptions() {
        assert_eq!(mode_description(Mode::Basic).len(), 3);
        assert_eq!(mode_description(Mode::Script)[0], "Groovy-based scripting");
    }
}
