//! The JSON bodies nodes exchange under `/node/v1`. Every field is checked after parsing: these
//! come from other machines.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The node-to-node protocol version this node speaks.
pub const PROTOCOL: u32 = 1;

/// The paths, relative to a node URL. Signatures cover these, not what a proxy in front of a
/// node may prefix.
pub const INFO_PATH: &str = "/node/v1/info";
pub const PROBE_PATH: &str = "/node/v1/probe";
pub const ACCEPT_PATH: &str = "/node/v1/accept";
pub const MESSAGES_PATH: &str = "/node/v1/messages";
pub const POLL_PATH: &str = "/node/v1/poll";
pub const TWINS_PATH: &str = "/node/v1/twins";
pub const DECLINE_PATH: &str = "/node/v1/decline";

/// The most messages one push or poll carries.
pub const BATCH: u32 = 100;

/// The most a batch of messages (a push's body, a poll's answer) may hold: a batch of
/// [`super::BATCH_BYTES`], or one message alone with attachments (up to 25 MB each).
pub const MAX_BATCH_BODY: usize = tandem_model::MAX_ATTACHMENT * 2 + super::BATCH_BYTES;

/// The most any other node-to-node body or answer may hold: a node's description, a probe,
/// an acceptance, a poll request, an acknowledgement, an error. Each is well under 2 KB.
pub const MAX_SMALL_BODY: usize = 16 * 1024;

/// A node as the other side of a connection learns it in the handshake.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerNode {
    pub node_id: Uuid,
    pub name: String,
    /// `None`: private, never called.
    pub url: Option<String>,
    pub tracker: String,
    pub public_key: String,
}

/// `POST /node/v1/probe`: "can you reach the node at this URL?"
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProbeRequest {
    pub url: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProbeAnswer {
    /// The id of the node that answered at that URL, when one did.
    pub node_id: Option<Uuid>,
    /// Why it could not be reached, when it could not.
    pub problem: Option<String>,
}

/// `POST /node/v1/accept`, from the acceptor to the initiator.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AcceptRequest {
    pub protocol: u32,
    pub connection_id: Uuid,
    pub acceptor: PeerNode,
    /// The acceptor's short names, as its admin chose them.
    pub acceptor_short_name: String,
    pub initiator_short_name: String,
    /// Unix seconds.
    pub timestamp: i64,
    /// base64url HMAC proving the acceptor holds the code. It and `signature` cover every
    /// other field of the body.
    pub proof: String,
    /// base64url Ed25519 signature with the acceptor's node key (`acceptor.public_key`).
    /// Missing (empty) from an older node, which the initiator then refuses by name.
    #[serde(default)]
    pub signature: String,
    /// The initiator signs its answer for this nonce, so the acceptor knows the answer came
    /// from the node that made the code.
    pub nonce: String,
}

/// `POST /node/v1/decline`, from a node that cannot take an invitation (its plan does not
/// allow the mode) to the initiator, whose Pending connection then says why. Older
/// initiators answer 404, and the acceptor's admin is told anyway.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeclineRequest {
    pub protocol: u32,
    pub connection_id: Uuid,
    /// Unix seconds.
    pub timestamp: i64,
    pub nonce: String,
    /// At most [`MAX_DECLINE_REASON`] characters.
    pub reason: String,
    /// base64url HMAC from the code's secret hash over the other fields.
    pub proof: String,
}

/// The most characters a decline's reason may have.
pub const MAX_DECLINE_REASON: usize = 600;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AcceptAnswer {
    pub initiator: PeerNode,
}

/// One queued message on the wire.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WireMessage {
    pub seq: i64,
    pub kind: String,
    pub payload: serde_json::Value,
}

/// `POST /node/v1/messages`: messages pushed to the other node.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MessageBatch {
    pub messages: Vec<WireMessage>,
}

/// The answer to a push: every message up to `acked` is handled (applied, or seen before).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BatchAck {
    pub acked: i64,
}

/// `POST /node/v1/poll`, from a private acceptor: "I have handled your messages up to `ack`;
/// what else is there?"
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PollRequest {
    pub ack: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PollAnswer {
    pub messages: Vec<WireMessage>,
}

/// The most twins one page of `/node/v1/twins` holds.
pub const TWINS_PAGE: u32 = 500;

/// The most a page of twins may hold: [`TWINS_PAGE`] twins of about 200 bytes, with room.
pub const MAX_TWINS_BODY: usize = 256 * 1024;

/// `POST /node/v1/twins`, for `tandem sync verify`: "your twins of this connection, after
/// `after`". The connection is the one the request is signed for: a node reads only its own
/// connection's twins, and the body cannot name another.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TwinsRequest {
    /// The last local key of the previous page (`None`: from the first).
    pub after: Option<String>,
    /// At most [`TWINS_PAGE`]; more is read as that.
    pub limit: u32,
}

/// One page of the answering node's twins of the connection, by its local key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TwinsPage {
    pub twins: Vec<WireTwin>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<String>,
    /// Nothing of the connection waits on the answering node: its queue is empty and no
    /// request it received is open. Replicas compare only between quiet sides.
    pub quiet: bool,
}

/// A twin as the other side of a connection may see it: the link and digests of the
/// replicas, never their content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireTwin {
    /// The answering node's item.
    pub key: String,
    /// The asking node's item it is linked to, once known.
    pub remote_key: Option<String>,
    /// `active` or `stopped`.
    pub state: String,
    /// Digest of the last replica the answering node sent.
    pub sent: Option<String>,
    /// Digest of the last replica the answering node received.
    pub received: Option<String>,
}

/// The kind of the messages that change a connection itself.
pub const CONTROL: &str = "control";

/// What a `control` message says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Control {
    /// The sender's admin deactivated the connection.
    Paused,
    /// The sender's admin activated it again.
    Resumed,
    /// The sender's admin deleted the connection.
    Deleted,
}
