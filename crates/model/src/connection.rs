//! Connections between two nodes (or two projects of one node): their mode, the side this node
//! plays, their status and what this node knows of the remote.

use jiff::Timestamp;
use uuid::Uuid;

/// How a connection's sync rules are written. Fixed when the connection is created.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Generated rules that cannot be edited. Every plan allows it.
    Basic,
    /// Groovy-compatible rules the admin edits. Needs an Evaluation or Paid plan.
    Script,
}

impl Mode {
    pub const ALL: [Mode; 2] = [Mode::Basic, Mode::Script];

    /// As people read it: `Basic`, `Script`.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Basic => "Basic",
            Mode::Script => "Script",
        }
    }

    /// As the API and the database spell it: `basic`, `script`.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Basic => "basic",
            Mode::Script => "script",
        }
    }

    /// Reads `basic` or `script`, in any case.
    pub fn parse(text: &str) -> Option<Mode> {
        Mode::ALL
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(text.trim()))
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The side this node plays on a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConnectionRole {
    /// This node made the invitation code.
    Initiator,
    /// This node accepted the other node's code.
    Acceptor,
    /// Both sides are this node (two of its projects).
    Local,
}

impl ConnectionRole {
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionRole::Initiator => "initiator",
            ConnectionRole::Acceptor => "acceptor",
            ConnectionRole::Local => "local",
        }
    }

    pub fn parse(text: &str) -> Option<ConnectionRole> {
        [
            ConnectionRole::Initiator,
            ConnectionRole::Acceptor,
            ConnectionRole::Local,
        ]
        .into_iter()
        .find(|r| r.as_str() == text)
    }
}

/// Where a connection stands on this node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConnectionStatus {
    /// The invitation code was made; the other side has not accepted it yet.
    Pending,
    /// Messages flow.
    Active,
    /// An admin of this node paused it: changes wait and flow again on activation.
    Deactivated,
    /// Authentication with the remote failed, or the remote no longer knows the connection;
    /// the connection's `status_reason` says why.
    Error,
}

impl ConnectionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionStatus::Pending => "pending",
            ConnectionStatus::Active => "active",
            ConnectionStatus::Deactivated => "deactivated",
            ConnectionStatus::Error => "error",
        }
    }

    /// As the Connections page shows it.
    pub fn label(self) -> &'static str {
        match self {
            ConnectionStatus::Pending => "Pending",
            ConnectionStatus::Active => "Active",
            ConnectionStatus::Deactivated => "Deactivated",
            ConnectionStatus::Error => "Error",
        }
    }

    pub fn parse(text: &str) -> Option<ConnectionStatus> {
        [
            ConnectionStatus::Pending,
            ConnectionStatus::Active,
            ConnectionStatus::Deactivated,
            ConnectionStatus::Error,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

/// Which local items a connection reaches: a peer can link to, read and write these and no
/// others. Set by the node's admin per connection; without one a connection reaches the
/// projects its incoming rules create in and those its triggers select (the node works that
/// default out: it depends on the rules and the tracker).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// The items of these projects, as the admin named them (on a node that serves
    /// ServiceNow, synced tables or their mirror projects).
    Projects(Vec<String>),
    /// The items a query matches, in the node's query language (the built-in tracker's, or a
    /// ServiceNow encoded query).
    Query(String),
}

impl Scope {
    /// As people read it: `projects ENG, OPS` or `query project = ENG AND labels = shared`.
    pub fn describe(&self) -> String {
        match self {
            Scope::Projects(p) => format!("projects {}", p.join(", ")),
            Scope::Query(q) => format!("query {q}"),
        }
    }
}

/// What this node knows of the node at the other end, from the accept handshake.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteNode {
    pub node_id: Uuid,
    pub name: String,
    /// `None` when the remote is private (it calls this node; this node never calls it).
    pub url: Option<String>,
    /// The kind of tracker it serves (`builtin`, `servicenow`, …).
    pub tracker: String,
    /// Its Ed25519 public key, base64url.
    pub public_key: String,
}

/// The invitation an initiator made for a connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvitationState {
    pub expires: Timestamp,
    /// When the other side accepted it; a code connects once.
    pub used: Option<Timestamp>,
}

/// A connection as this node keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connection {
    /// The same on both nodes: the invitation's id.
    pub id: Uuid,
    /// Unique on this node.
    pub name: String,
    pub description: String,
    pub mode: Mode,
    pub role: ConnectionRole,
    pub local_short_name: String,
    pub remote_short_name: String,
    /// Known once the invitation was accepted; `None` while pending and on local connections.
    pub remote: Option<RemoteNode>,
    /// The acceptor is private ("I don't have a URL"): it makes every request.
    pub private: bool,
    pub status: ConnectionStatus,
    /// Why the status is `Error`, or who deactivated it.
    pub status_reason: Option<String>,
    /// The remote's admin deactivated the connection on their side.
    pub remote_paused: bool,
    /// Only on the initiator.
    pub invitation: Option<InvitationState>,
    /// The connection's root key (the invitation secret's hash), sealed with the node's master
    /// key: never stored or shown in the clear.
    pub sealed_root: Option<String>,
    /// The rules, as the admin edited them (generated for Basic mode).
    pub outgoing_script: String,
    pub incoming_script: String,
    /// Where a first sync from the remote creates its item, as this side's admin chose it: a
    /// project key (on a node that serves ServiceNow, a synced table). The default incoming
    /// rules read it when they run (`connection.targetProject`). `None`: not chosen yet.
    pub target_project: Option<String>,
    pub created: Timestamp,
    pub updated: Timestamp,
    /// When a sync event was last applied, in either direction.
    pub last_sync: Option<Timestamp>,
    /// Bumped by every update: an update names the version it read, so two admins (or an admin
    /// and the remote) cannot overwrite each other's change unseen.
    pub version: i64,
}

impl Connection {
    /// Who calls whom: `true` when this node may call the remote (it has a URL for it and the
    /// remote is not the private side).
    pub fn can_call_remote(&self) -> bool {
        match self.role {
            ConnectionRole::Local => false,
            ConnectionRole::Initiator => !self.private && self.remote_url().is_some(),
            ConnectionRole::Acceptor => self.remote_url().is_some(),
        }
    }

    pub fn remote_url(&self) -> Option<&str> {
        self.remote.as_ref().and_then(|r| r.url.as_deref())
    }
}
