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

use jiff::{SignedDuration, Timestamp};
use tandem_model::{Connection, ConnectionStatus, Mode};
use tandem_protocol::{InvitationError, PlanRefusal};
use uuid::Uuid;

use crate::error::{ApiError, NodeError};
use crate::state::AppState;

/// A node's public description, as `GET /node/v1/info` answers it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NodeInfo {
    /// Always `tandem`: how a node tells a Tandem node from any other web server.
    pub product: String,
    /// The node-to-node protocol version it speaks.
    pub protocol: u32,
    /// The software version.
    pub version: String,
    pub node_id: Uuid,
    pub name: String,
    /// The node's URL as its admin set it.
    pub node_url: String,
    /// `builtin`, `servicenow`, …
    pub tracker: String,
    /// "Tandem built-in tracker", …
    pub tracker_label: String,
    /// The URL of the tracker it serves (for the built-in tracker: the node URL).
    pub tracker_url: String,
    /// Ed25519, base64url.
    pub public_key: String,
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
    /// Messages this node received from the remote and applied.
    pub events_received: u64,
    /// Messages waiting for the remote.
    pub queued: u64,
    pub errors: u64,
}

/// What a delete did.
#[derive(Debug, Clone)]
pub struct Deleted {
    pub name: String,
    /// Whether the remote node was told (it may be unreachable, or private: it then learns on
    /// its next call).
    pub remote_told: bool,
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
    #[error("a connection named '{0}' already exists on this node: choose another name")]
    NameTaken(String),
    #[error("there is no connection '{0}' on this node")]
    NotFound(String),
    #[error("{0}")]
    Destination(String),
    /// The initiating node cannot be reached by the destination (no node URL, or the URL does
    /// not lead back here).
    #[error("{0}")]
    NotPublic(String),
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
    #[error(transparent)]
    Node(#[from] NodeError),
}

impl From<tandem_store::StoreError> for ConnectionError {
    fn from(e: tandem_store::StoreError) -> Self {
        ConnectionError::Node(NodeError::Store(e))
    }
}

impl From<ConnectionError> for ApiError {
    fn from(e: ConnectionError) -> Self {
        use ConnectionError as E;
        match e {
            E::NotFound(_) => ApiError::NotFound(e.to_string()),
            E::NameTaken(_) => ApiError::Conflict(e.to_string()),
            E::Plan(_) => ApiError::Forbidden(e.to_string()),
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

/// The configuration types the wizard offers, with their descriptions, each marked with why
/// this node's plan refuses it (if it does).
pub async fn mode_offers(state: &AppState) -> Result<Vec<ModeOffer>, ConnectionError> {
    let _ = state;
    todo!()
}

/// Asks the destination for its node info. `url` may be the node URL, a page of its console,
/// or the URL of the tracker it serves.
pub async fn check_destination(
    state: &AppState,
    url: &str,
) -> Result<DestinationCheck, ConnectionError> {
    let _ = (state, url);
    todo!()
}

/// Creates the connection: Pending with an invitation code, or Active when local.
pub async fn initiate(
    state: &AppState,
    request: InitiateRequest,
) -> Result<Initiated, ConnectionError> {
    let _ = (state, request);
    todo!()
}

/// Reads a pasted code without changing anything.
pub async fn preview(state: &AppState, code: &str) -> Result<InvitationPreview, ConnectionError> {
    let _ = (state, code);
    todo!()
}

/// Accepts a pasted code: the initiator verifies it and both sides turn Active.
pub async fn accept(
    state: &AppState,
    request: AcceptRequest,
) -> Result<Connection, ConnectionError> {
    let _ = (state, request);
    todo!()
}

/// All connections with their twin counts, oldest first.
pub async fn list(state: &AppState) -> Result<Vec<ConnectionSummary>, ConnectionError> {
    let _ = state;
    todo!()
}

/// A connection by name (case-insensitive) or id.
pub async fn find(state: &AppState, name_or_id: &str) -> Result<Connection, ConnectionError> {
    let _ = (state, name_or_id);
    todo!()
}

pub async fn statistics(state: &AppState, id: Uuid) -> Result<Statistics, ConnectionError> {
    let _ = (state, id);
    todo!()
}

pub async fn activate(state: &AppState, id: Uuid) -> Result<Connection, ConnectionError> {
    let _ = (state, id);
    todo!()
}

pub async fn deactivate(state: &AppState, id: Uuid) -> Result<Connection, ConnectionError> {
    let _ = (state, id);
    todo!()
}

/// Removes the connection on this side and tells the remote.
pub async fn delete(state: &AppState, id: Uuid) -> Result<Deleted, ConnectionError> {
    let _ = (state, id);
    todo!()
}

/// Saves both scripts; refused for Basic connections and for scripts that do not parse.
pub async fn save_rules(
    state: &AppState,
    id: Uuid,
    outgoing_script: &str,
    incoming_script: &str,
) -> Result<Connection, ConnectionError> {
    let _ = (state, id, outgoing_script, incoming_script);
    todo!()
}

/// Changes the description (the only connection information editable after creation besides
/// the rules); `mode`, when given and different, is refused with [`ConnectionError::ModeFixed`].
pub async fn update_info(
    state: &AppState,
    id: Uuid,
    description: Option<String>,
    mode: Option<Mode>,
) -> Result<Connection, ConnectionError> {
    let _ = (state, id, description, mode);
    todo!()
}

/// How a status reads on the Connections page, with the remote's pause shown.
pub fn status_label(connection: &Connection) -> String {
    match (connection.status, connection.remote_paused) {
        (ConnectionStatus::Active, true) => "Active (remote paused)".to_owned(),
        (status, _) => status.label().to_owned(),
    }
}
