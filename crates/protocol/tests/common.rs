//! Fixtures shared by the topics.

use ed25519_dalek::SigningKey;
use jiff::Timestamp;
use tandem_protocol::{DEFAULT_VALIDITY, Invitation, InvitationSecret, IssueParams, Mode};
use uuid::Uuid;

pub const INITIATOR: Uuid = Uuid::from_u128(0x1111);
pub const ACCEPTOR: Uuid = Uuid::from_u128(0x2222);
pub const CONNECTION: Uuid = Uuid::from_u128(0xC0);

/// 2026-11-20 14:00 UTC plus `second`.
pub fn at(second: i64) -> Timestamp {
    Timestamp::from_second(1_795_183_200 + second).expect("in range")
}

pub fn node_key(byte: u8) -> SigningKey {
    SigningKey::from_bytes(&[byte; 32])
}

pub fn params() -> IssueParams {
    IssueParams {
        initiator_node_id: INITIATOR,
        initiator_url: Some("https://tandem.acme.example".to_string()),
        acceptor_private: false,
        initiator_public_key: node_key(1).verifying_key(),
        connection_id: CONNECTION,
        connection_name: "acme_to_globex".to_string(),
        initiator_short_name: "acme".to_string(),
        acceptor_short_name: "globex".to_string(),
        mode: Mode::Basic,
        valid_for: DEFAULT_VALIDITY,
    }
}

pub fn invitation() -> Invitation {
    Invitation::issue_with_secret(params(), at(0), InvitationSecret::from_bytes([7; 32]))
        .expect("valid")
}
