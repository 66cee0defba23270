//! The accept handshake and the keys a connection runs on afterwards.
//!
//! # The design, and why
//!
//! The initiator keeps only [`SecretHash`] — SHA-256 of the code's secret — never the secret
//! itself. An HMAC keyed by the raw secret (the first sketch in the stack notes) could then not
//! be checked by the initiator at all. So the **root key of a connection is the secret hash**:
//!
//! - the accept proof is `HMAC-SHA256(K_accept, transcript)`, where
//!   `K_accept = HKDF-SHA256(salt = "tandem/v1/accept-proof", ikm = sha256(secret),
//!   info = connection id)`
//!   and the transcript binds the connection id, the acceptor's node id and public key, the time
//!   of the proof and the code's [`Terms`] (mode, connection name, private or not, expiry) — so a
//!   code whose terms were edited, even with its checksum made good again, is refused;
//! - the connection's request keys are `HKDF-SHA256(salt = "tandem/v1/connection", ikm =
//!   sha256(secret), info = label ‖ direction ‖ connection id ‖ initiator node id ‖ acceptor node
//!   id)`, one key per direction, so a request cannot be reflected back at its sender.
//!
//! Why this is sound: the secret is 32 random bytes, so its SHA-256 is just as unguessable, and
//! only someone who saw the code (or the initiator's database) can compute it. The acceptor
//! computes the hash from the code; neither the secret nor the hash ever travels — only the proof
//! and, later, MACs under keys derived with distinct HKDF labels, so a value seen for one purpose
//! is useless for another. Each proof is bound to one connection and one acceptor identity, and
//! carries a time the initiator checks against its clock; the code is single-use, so a replayed
//! accept finds the invitation already used.
//!
//! What storing the hash does and does not buy: the raw secret — the thing an admin can paste —
//! never rests in the initiator's database or logs. But the hash is the connection's root key, so
//! whoever reads it can act as either node of that connection: the node stores it (and the keys
//! derived from it) like any other credential, encrypted at rest, and never logs it. A design
//! where a database reader could *not* forge the proof needs a public-key verifier (a key pair
//! derived from the secret); it was not chosen because the node's own signing key and every
//! connection's keys sit in the same database, so it would protect nothing more in practice.
//!
//! The Ed25519 node keys are exchanged in the handshake (the initiator's in the code, the
//! acceptor's in the proven accept request) and recorded by the node; request authentication
//! itself uses the derived keys, as the issue asks (see [`crate::signing`]).

use hkdf::Hkdf;
use hmac::{Hmac, KeyInit, Mac};
use jiff::{SignedDuration, Timestamp};
use sha2::Sha256;
use uuid::Uuid;

use ed25519_dalek::VerifyingKey;

use crate::Mode;
use crate::invitation::SecretHash;

type HmacSha256 = Hmac<Sha256>;

/// How far the time in an accept proof may be from the initiator's clock.
pub const MAX_PROOF_SKEW: SignedDuration = SignedDuration::from_mins(5);

const ACCEPT_SALT: &[u8] = b"tandem/v1/accept-proof";
const ACCEPT_LABEL: &[u8] = b"tandem/v1/accept\n";
const CONNECTION_SALT: &[u8] = b"tandem/v1/connection";
const REQUEST_KEY_LABEL: &[u8] = b"request-key\n";

/// What an invitation code promises about the connection, as both sides know it: the acceptor
/// reads it from the code, the initiator from what it recorded when it made the code. The accept
/// proof covers it, so an edited term fails the proof.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Terms<'a> {
    pub mode: Mode,
    pub connection_name: &'a str,
    pub acceptor_private: bool,
    /// Compared to the second, as the code carries it.
    pub expires_at: Timestamp,
}

impl Terms<'_> {
    fn feed(&self, mac: &mut HmacSha256) {
        mac.update(&[match self.mode {
            Mode::Basic => 0,
            Mode::Script => 1,
        }]);
        mac.update(&(self.connection_name.len() as u64).to_be_bytes());
        mac.update(self.connection_name.as_bytes());
        mac.update(&[u8::from(self.acceptor_private)]);
        mac.update(&self.expires_at.as_second().to_be_bytes());
    }
}

/// Which side of a connection this node is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    Initiator,
    Acceptor,
}

/// Why an accept proof was refused. Never says anything about the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AcceptProofError {
    #[error(
        "the acceptance does not prove it holds this invitation code: it was made from another code, or changed on the way"
    )]
    BadProof,
    #[error(
        "the acceptance was made {seconds} s away from this node's clock (at most 300 s allowed): check both nodes' clocks"
    )]
    ClockSkew { seconds: i64 },
}

/// The acceptor's proof that it holds the invitation code, computed from the code's secret hash.
pub fn accept_proof(
    root: &SecretHash,
    terms: &Terms<'_>,
    connection_id: Uuid,
    acceptor_node_id: Uuid,
    acceptor_public_key: &VerifyingKey,
    timestamp: Timestamp,
) -> [u8; 32] {
    accept_mac(
        root,
        terms,
        connection_id,
        acceptor_node_id,
        acceptor_public_key,
        timestamp,
    )
    .finalize()
    .into_bytes()
    .into()
}

/// The initiator's check of an accept proof, with the stored secret hash. Compares in constant
/// time. Refuses a proof whose time is more than [`MAX_PROOF_SKEW`] from `now`.
#[allow(clippy::too_many_arguments)]
pub fn verify_accept_proof(
    root: &SecretHash,
    terms: &Terms<'_>,
    connection_id: Uuid,
    acceptor_node_id: Uuid,
    acceptor_public_key: &VerifyingKey,
    timestamp: Timestamp,
    proof: &[u8],
    now: Timestamp,
) -> Result<(), AcceptProofError> {
    accept_mac(
        root,
        terms,
        connection_id,
        acceptor_node_id,
        acceptor_public_key,
        timestamp,
    )
    .verify_slice(proof)
    .map_err(|_| AcceptProofError::BadProof)?;
    let skew = now.duration_since(timestamp);
    if skew.abs() > MAX_PROOF_SKEW {
        return Err(AcceptProofError::ClockSkew {
            seconds: skew.as_secs(),
        });
    }
    Ok(())
}

fn accept_mac(
    root: &SecretHash,
    terms: &Terms<'_>,
    connection_id: Uuid,
    acceptor_node_id: Uuid,
    acceptor_public_key: &VerifyingKey,
    timestamp: Timestamp,
) -> HmacSha256 {
    let mut key = [0u8; 32];
    Hkdf::<Sha256>::new(Some(ACCEPT_SALT), root.as_bytes())
        .expand(connection_id.as_bytes(), &mut key)
        .expect("32 bytes is a valid HKDF-SHA256 output length");
    let mut mac = HmacSha256::new_from_slice(&key).expect("HMAC takes keys of any length");
    mac.update(ACCEPT_LABEL);
    mac.update(connection_id.as_bytes());
    mac.update(acceptor_node_id.as_bytes());
    mac.update(acceptor_public_key.as_bytes());
    mac.update(&timestamp.as_second().to_be_bytes());
    terms.feed(&mut mac);
    mac
}

/// A 32-byte key that signs the messages of one direction of one connection. `Debug` never
/// prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct RequestKey([u8; 32]);

impl RequestKey {
    pub fn from_bytes(bytes: [u8; 32]) -> RequestKey {
        RequestKey(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub(crate) fn mac(&self) -> HmacSha256 {
        HmacSha256::new_from_slice(&self.0).expect("HMAC takes keys of any length")
    }
}

impl std::fmt::Debug for RequestKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RequestKey([redacted])")
    }
}

/// The two keys one node uses on one connection: `outgoing` signs what it sends (requests and
/// responses), `incoming` verifies what the other node sends. The other node's `outgoing` is
/// this node's `incoming`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionKeys {
    pub connection_id: Uuid,
    pub outgoing: RequestKey,
    pub incoming: RequestKey,
}

impl ConnectionKeys {
    /// Derives both keys from the connection's root (the invitation's secret hash). Both nodes
    /// call this with the same ids and opposite roles.
    pub fn derive(
        root: &SecretHash,
        connection_id: Uuid,
        initiator_node_id: Uuid,
        acceptor_node_id: Uuid,
        role: Role,
    ) -> ConnectionKeys {
        let hkdf = Hkdf::<Sha256>::new(Some(CONNECTION_SALT), root.as_bytes());
        let key = |direction: &[u8]| {
            let mut okm = [0u8; 32];
            hkdf.expand_multi_info(
                &[
                    REQUEST_KEY_LABEL,
                    direction,
                    connection_id.as_bytes(),
                    initiator_node_id.as_bytes(),
                    acceptor_node_id.as_bytes(),
                ],
                &mut okm,
            )
            .expect("32 bytes is a valid HKDF-SHA256 output length");
            RequestKey(okm)
        };
        let from_initiator = key(b"initiator-to-acceptor\n");
        let from_acceptor = key(b"acceptor-to-initiator\n");
        let (outgoing, incoming) = match role {
            Role::Initiator => (from_initiator, from_acceptor),
            Role::Acceptor => (from_acceptor, from_initiator),
        };
        ConnectionKeys {
            connection_id,
            outgoing,
            incoming,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invitation::InvitationSecret;

    fn root(byte: u8) -> SecretHash {
        InvitationSecret::from_bytes([byte; 32]).hash()
    }

    fn key(byte: u8) -> VerifyingKey {
        ed25519_dalek::SigningKey::from_bytes(&[byte; 32]).verifying_key()
    }

    fn at(second: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + second).expect("in range")
    }

    const TERMS: Terms<'static> = Terms {
        mode: Mode::Script,
        connection_name: "desk_to_eng",
        acceptor_private: false,
        expires_at: Timestamp::constant(1_800_259_200, 0),
    };

    const CONN: Uuid = Uuid::from_u128(1);
    const ACCEPTOR: Uuid = Uuid::from_u128(2);
    const INITIATOR: Uuid = Uuid::from_u128(3);

    #[test]
    fn a_proof_from_the_code_verifies_with_the_stored_hash() {
        let proof = accept_proof(&root(7), &TERMS, CONN, ACCEPTOR, &key(1), at(0));
        assert_eq!(
            verify_accept_proof(
                &root(7),
                &TERMS,
                CONN,
                ACCEPTOR,
                &key(1),
                at(0),
                &proof,
                at(30)
            ),
            Ok(())
        );
    }

    #[test]
    fn a_proof_is_refused_for_another_secret_connection_acceptor_key_or_time() {
        let proof = accept_proof(&root(7), &TERMS, CONN, ACCEPTOR, &key(1), at(0));
        let now = at(1);
        let bad = Err(AcceptProofError::BadProof);
        assert_eq!(
            verify_accept_proof(
                &root(8),
                &TERMS,
                CONN,
                ACCEPTOR,
                &key(1),
                at(0),
                &proof,
                now
            ),
            bad
        );
        let other = Uuid::from_u128(9);
        assert_eq!(
            verify_accept_proof(
                &root(7),
                &TERMS,
                other,
                ACCEPTOR,
                &key(1),
                at(0),
                &proof,
                now
            ),
            bad
        );
        assert_eq!(
            verify_accept_proof(&root(7), &TERMS, CONN, other, &key(1), at(0), &proof, now),
            bad
        );
        assert_eq!(
            verify_accept_proof(
                &root(7),
                &TERMS,
                CONN,
                ACCEPTOR,
                &key(2),
                at(0),
                &proof,
                now
            ),
            bad
        );
        assert_eq!(
            verify_accept_proof(
                &root(7),
                &TERMS,
                CONN,
                ACCEPTOR,
                &key(1),
                at(1),
                &proof,
                now
            ),
            bad
        );
        assert_eq!(
            verify_accept_proof(
                &root(7),
                &TERMS,
                CONN,
                ACCEPTOR,
                &key(1),
                at(0),
                &proof[..31],
                now
            ),
            bad
        );
    }

    #[test]
    fn a_proof_is_refused_when_the_code_s_terms_were_edited() {
        let proof = accept_proof(&root(7), &TERMS, CONN, ACCEPTOR, &key(1), at(0));
        let edited = [
            Terms {
                mode: Mode::Basic,
                ..TERMS
            },
            Terms {
                connection_name: "desk_to_eng2",
                ..TERMS
            },
            Terms {
                acceptor_private: true,
                ..TERMS
            },
            Terms {
                expires_at: Timestamp::constant(1_800_259_201, 0),
                ..TERMS
            },
        ];
        for terms in edited {
            assert_eq!(
                verify_accept_proof(
                    &root(7),
                    &terms,
                    CONN,
                    ACCEPTOR,
                    &key(1),
                    at(0),
                    &proof,
                    at(1)
                ),
                Err(AcceptProofError::BadProof),
                "{terms:?}"
            );
        }
        // The expiry counts to the second, as the code carries it.
        let subsecond = Terms {
            expires_at: Timestamp::constant(1_800_259_200, 500_000_000),
            ..TERMS
        };
        assert_eq!(
            verify_accept_proof(
                &root(7),
                &subsecond,
                CONN,
                ACCEPTOR,
                &key(1),
                at(0),
                &proof,
                at(1)
            ),
            Ok(())
        );
    }

    #[test]
    fn a_stale_proof_is_refused_for_clock_skew() {
        let proof = accept_proof(&root(7), &TERMS, CONN, ACCEPTOR, &key(1), at(0));
        assert_eq!(
            verify_accept_proof(
                &root(7),
                &TERMS,
                CONN,
                ACCEPTOR,
                &key(1),
                at(0),
                &proof,
                at(301)
            ),
            Err(AcceptProofError::ClockSkew { seconds: 301 })
        );
        assert_eq!(
            verify_accept_proof(
                &root(7),
                &TERMS,
                CONN,
                ACCEPTOR,
                &key(1),
                at(0),
                &proof,
                at(-300)
            ),
            Ok(())
        );
    }

    #[test]
    fn both_sides_derive_mirrored_keys_and_the_directions_differ() {
        let initiator =
            ConnectionKeys::derive(&root(7), CONN, INITIATOR, ACCEPTOR, Role::Initiator);
        let acceptor = ConnectionKeys::derive(&root(7), CONN, INITIATOR, ACCEPTOR, Role::Acceptor);
        assert_eq!(initiator.outgoing, acceptor.incoming);
        assert_eq!(initiator.incoming, acceptor.outgoing);
        assert_ne!(initiator.outgoing, initiator.incoming);
    }

    #[test]
    fn keys_depend_on_the_root_the_connection_and_both_node_ids() {
        let base = ConnectionKeys::derive(&root(7), CONN, INITIATOR, ACCEPTOR, Role::Initiator);
        let other = Uuid::from_u128(9);
        for changed in [
            ConnectionKeys::derive(&root(8), CONN, INITIATOR, ACCEPTOR, Role::Initiator),
            ConnectionKeys::derive(&root(7), other, INITIATOR, ACCEPTOR, Role::Initiator),
            ConnectionKeys::derive(&root(7), CONN, other, ACCEPTOR, Role::Initiator),
            ConnectionKeys::derive(&root(7), CONN, INITIATOR, other, Role::Initiator),
        ] {
            assert_ne!(changed.outgoing, base.outgoing);
            assert_ne!(changed.incoming, base.incoming);
        }
    }

    #[test]
    fn the_proof_key_and_the_request_keys_are_not_the_secret_hash() {
        let keys = ConnectionKeys::derive(&root(7), CONN, INITIATOR, ACCEPTOR, Role::Initiator);
        assert_ne!(keys.outgoing.as_bytes(), root(7).as_bytes());
        assert_ne!(keys.incoming.as_bytes(), root(7).as_bytes());
        let proof = accept_proof(&root(7), &TERMS, CONN, ACCEPTOR, &key(1), at(0));
        assert_ne!(&proof, root(7).as_bytes());
    }

    #[test]
    fn debug_never_prints_key_material() {
        let keys = ConnectionKeys::derive(&root(7), CONN, INITIATOR, ACCEPTOR, Role::Initiator);
        let shown = format!("{keys:?} {:?}", root(7));
        assert!(shown.contains("[redacted]"), "{shown}");
        assert!(!shown.contains(&format!("{:?}", keys.outgoing.as_bytes())));
        assert!(!shown.contains(&format!("{:?}", root(7).as_bytes())));
    }
}
