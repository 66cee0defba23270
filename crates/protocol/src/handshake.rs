//! The accept handshake and the keys a connection runs on afterwards.
//!
//! # The design, and why
//!
//! The initiator keeps only [`SecretHash`] — SHA-256 of the code's secret — never the secret
//! itself. An HMAC keyed by the raw secret (the first sketch in the stack notes) could then not
//! be checked by the initiator at all. So the **root key of a connection is the secret hash**:
//!
//! - the acceptance is one transcript — the connection id, the acceptor's whole descriptor (node
//!   id, public key, name, URL or none, tracker, both short names), the protocol version, the
//!   time, the request nonce and the code's [`Terms`] (mode, connection name, private or not,
//!   expiry) — each field length-prefixed, so no two acceptances share one;
//! - the accept proof is two things over that transcript: `HMAC-SHA256(K_accept, transcript)`,
//!   where `K_accept = HKDF-SHA256(salt = "tandem/v1/accept-proof", ikm = sha256(secret),
//!   info = connection id)`, which proves the sender holds the code; and an Ed25519 signature
//!   with the acceptor's node key, which proves the node the acceptance names sent it. A copy of
//!   an acceptance (a proxy's log, plain HTTP) cannot be re-sent with another URL, name or
//!   tracker, nor with a fresh nonce, and a code whose terms were edited (its checksum made good
//!   again) is refused;
//! - the connection's request keys are `HKDF-SHA256(salt = "tandem/v1/connection", ikm =
//!   sha256(secret), info = label ‖ direction ‖ connection id ‖ initiator node id ‖ acceptor node
//!   id)`, one key per direction, so a request cannot be reflected back at its sender.
//!
//! Why this is sound: the secret is 32 random bytes, so its SHA-256 is just as unguessable, and
//! only someone who saw the code (or the initiator's database) can compute it. The acceptor
//! computes the hash from the code; neither the secret nor the hash ever travels — only the proof
//! and, later, MACs under keys derived with distinct HKDF labels, so a value seen for one purpose
//! is useless for another. Each proof is bound to one connection and one acceptor identity, and
//! carries a time the initiator checks against its clock. The initiator records each proof it
//! took ([`AcceptProof::id`]) and the descriptor of the first ([`AcceptorDescriptor::digest`]): the
//! same proof twice is a replay, and a repeat (the acceptor lost the answer and asks again) must
//! describe the acceptor exactly as the first did.
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
//! acceptor's in the signed accept request) and recorded by the node; request authentication
//! afterwards uses the derived keys, as the issue asks (see [`crate::signing`]).

use ed25519_dalek::{Signature, SignatureError, Signer, VerifyingKey};
use hkdf::Hkdf;
use hmac::{Hmac, KeyInit, Mac};
use jiff::{SignedDuration, Timestamp};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::Mode;
use crate::invitation::SecretHash;

type HmacSha256 = Hmac<Sha256>;

/// How far the time in an accept proof may be from the initiator's clock.
pub const MAX_PROOF_SKEW: SignedDuration = SignedDuration::from_mins(5);

const ACCEPT_SALT: &[u8] = b"tandem/v1/accept-proof";
const ACCEPT_MAC_LABEL: &[u8] = b"tandem/v2/accept-mac\n";
const ACCEPT_SIGNATURE_LABEL: &[u8] = b"tandem/v2/accept-signature\n";
const PROOF_ID_LABEL: &[u8] = b"tandem/v2/accept-proof-id\n";
const DESCRIPTOR_LABEL: &[u8] = b"tandem/v2/acceptor-descriptor\n";
const CONNECTION_SALT: &[u8] = b"tandem/v1/connection";
const REQUEST_KEY_LABEL: &[u8] = b"request-key\n";

/// The canonical bytes of an acceptance: every variable-length field is prefixed with its
/// length, so two different acceptances never encode alike.
#[derive(Default)]
struct Transcript(Vec<u8>);

impl Transcript {
    fn raw(&mut self, bytes: &[u8]) -> &mut Self {
        self.0.extend_from_slice(bytes);
        self
    }

    fn text(&mut self, text: &str) -> &mut Self {
        self.raw(&(text.len() as u64).to_be_bytes())
            .raw(text.as_bytes())
    }

    fn optional_text(&mut self, text: Option<&str>) -> &mut Self {
        match text {
            None => self.raw(&[0]),
            Some(text) => self.raw(&[1]).text(text),
        }
    }
}

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
    fn feed(&self, transcript: &mut Transcript) {
        transcript
            .raw(&[match self.mode {
                Mode::Basic => 0,
                Mode::Script => 1,
            }])
            .text(self.connection_name)
            .raw(&[u8::from(self.acceptor_private)])
            .raw(&self.expires_at.as_second().to_be_bytes());
    }
}

/// The accepting node as its acceptance describes it: everything the initiator keeps of it and
/// acts on (it calls `url`, shows `name` and `tracker`), and the short names its admin chose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AcceptorDescriptor<'a> {
    pub node_id: Uuid,
    pub public_key: VerifyingKey,
    pub name: &'a str,
    /// `None`: a private node, which the initiator never calls.
    pub url: Option<&'a str>,
    pub tracker: &'a str,
    pub acceptor_short_name: &'a str,
    pub initiator_short_name: &'a str,
}

impl AcceptorDescriptor<'_> {
    fn feed(&self, transcript: &mut Transcript) {
        transcript
            .raw(self.node_id.as_bytes())
            .raw(self.public_key.as_bytes())
            .text(self.name)
            .optional_text(self.url)
            .text(self.tracker)
            .text(self.acceptor_short_name)
            .text(self.initiator_short_name);
    }

    /// SHA-256 of the descriptor: equal for two acceptances exactly when they describe the
    /// acceptor alike, so the initiator can keep it and compare a repeat with the first.
    pub fn digest(&self) -> [u8; 32] {
        let mut transcript = Transcript::default();
        transcript.raw(DESCRIPTOR_LABEL);
        self.feed(&mut transcript);
        Sha256::digest(&transcript.0).into()
    }
}

/// One acceptance, every field the acceptor sends: the proof and the signature cover all of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Acceptance<'a> {
    /// The node-to-node protocol version the acceptance speaks.
    pub protocol: u32,
    pub connection_id: Uuid,
    pub acceptor: AcceptorDescriptor<'a>,
    /// Compared to the second, as the acceptance carries it.
    pub timestamp: Timestamp,
    /// The nonce the initiator signs its answer for.
    pub nonce: &'a str,
}

impl Acceptance<'_> {
    fn transcript(&self, label: &[u8], terms: &Terms<'_>) -> Vec<u8> {
        let mut transcript = Transcript::default();
        transcript
            .raw(label)
            .raw(&self.protocol.to_be_bytes())
            .raw(self.connection_id.as_bytes());
        self.acceptor.feed(&mut transcript);
        transcript
            .raw(&self.timestamp.as_second().to_be_bytes())
            .text(self.nonce);
        terms.feed(&mut transcript);
        transcript.0
    }
}

/// The acceptor's proof: an HMAC that proves it holds the invitation code, and its node's
/// Ed25519 signature, over the same transcript.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AcceptProof {
    pub mac: [u8; 32],
    pub signature: Signature,
}

impl AcceptProof {
    /// What the initiator records to refuse the same proof a second time: SHA-256 of the MAC,
    /// which is a function of every field of the acceptance.
    pub fn id(&self) -> [u8; 32] {
        let mut hash = Sha256::new();
        hash.update(PROOF_ID_LABEL);
        hash.update(self.mac);
        hash.finalize().into()
    }
}

/// Which side of a connection this node is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    Initiator,
    Acceptor,
}

/// Why an accept proof was refused. Never says anything about the secret, and nothing the
/// sender did not send.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AcceptProofError {
    #[error(
        "the acceptance does not prove it holds this invitation code: it was made from another code, or changed on the way"
    )]
    BadProof,
    #[error(
        "the acceptance carries no signature of the accepting node: that node runs an older Tandem, update it"
    )]
    Unsigned,
    #[error(
        "the acceptance is not signed by the node it names: it was changed on the way, or sent by another node"
    )]
    BadSignature,
    #[error(
        "the acceptance was made {seconds} s away from this node's clock (at most 300 s allowed): check both nodes' clocks"
    )]
    ClockSkew { seconds: i64 },
}

/// The acceptor's proof for `acceptance`: the HMAC from the code's secret hash, and the
/// signature of `signer`, the node key whose public half the acceptance names. Fails only when
/// the signer does (an in-memory key never does).
pub fn accept_proof(
    root: &SecretHash,
    terms: &Terms<'_>,
    acceptance: &Acceptance<'_>,
    signer: &impl Signer<Signature>,
) -> Result<AcceptProof, SignatureError> {
    let mut mac = accept_mac(root, acceptance.connection_id);
    mac.update(&acceptance.transcript(ACCEPT_MAC_LABEL, terms));
    let signature = signer.try_sign(&acceptance.transcript(ACCEPT_SIGNATURE_LABEL, terms))?;
    Ok(AcceptProof {
        mac: mac.finalize().into_bytes().into(),
        signature,
    })
}

/// The initiator's check of an acceptance, with the stored secret hash and the terms it
/// recorded: a signature is there, the MAC holds (compared in constant time), then the signature with the public key the
/// acceptance names (strict Ed25519, so no second encoding of one signature passes), then the
/// time, which may be at most [`MAX_PROOF_SKEW`] from `now`. Returns the proof, for its
/// [`AcceptProof::id`].
pub fn verify_accept_proof(
    root: &SecretHash,
    terms: &Terms<'_>,
    acceptance: &Acceptance<'_>,
    mac: &[u8],
    signature: &[u8],
    now: Timestamp,
) -> Result<AcceptProof, AcceptProofError> {
    if signature.is_empty() {
        return Err(AcceptProofError::Unsigned);
    }
    let mut check = accept_mac(root, acceptance.connection_id);
    check.update(&acceptance.transcript(ACCEPT_MAC_LABEL, terms));
    check
        .verify_slice(mac)
        .map_err(|_| AcceptProofError::BadProof)?;
    let signature = Signature::from_slice(signature).map_err(|_| AcceptProofError::BadSignature)?;
    acceptance
        .acceptor
        .public_key
        .verify_strict(
            &acceptance.transcript(ACCEPT_SIGNATURE_LABEL, terms),
            &signature,
        )
        .map_err(|_| AcceptProofError::BadSignature)?;
    let skew = now.duration_since(acceptance.timestamp);
    if skew.abs() > MAX_PROOF_SKEW {
        return Err(AcceptProofError::ClockSkew {
            seconds: skew.as_secs(),
        });
    }
    let mac: [u8; 32] = mac.try_into().map_err(|_| AcceptProofError::BadProof)?;
    Ok(AcceptProof { mac, signature })
}

const DECLINE_SALT: &[u8] = b"tandem/v1/decline-proof";
const DECLINE_LABEL: &[u8] = b"tandem/v1/decline-mac\n";

/// What the acceptor says when it cannot take an invitation (its plan does not allow the
/// mode): the initiator shows it on its Pending connection. The proof (an HMAC from the code's
/// secret hash) shows the sender holds the code, so nobody else can write on the connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decline<'a> {
    pub connection_id: Uuid,
    pub timestamp: Timestamp,
    pub nonce: &'a str,
    pub reason: &'a str,
}

impl Decline<'_> {
    fn mac(&self, root: &SecretHash) -> HmacSha256 {
        let mut key = [0u8; 32];
        Hkdf::<Sha256>::new(Some(DECLINE_SALT), root.as_bytes())
            .expand(self.connection_id.as_bytes(), &mut key)
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        let mut mac = HmacSha256::new_from_slice(&key).expect("HMAC takes keys of any length");
        mac.update(DECLINE_LABEL);
        mac.update(self.connection_id.as_bytes());
        mac.update(&self.timestamp.as_second().to_be_bytes());
        for field in [self.nonce, self.reason] {
            mac.update(&(field.len() as u64).to_be_bytes());
            mac.update(field.as_bytes());
        }
        mac
    }

    /// The acceptor's proof, from the code's secret hash.
    pub fn proof(&self, root: &SecretHash) -> [u8; 32] {
        self.mac(root).finalize().into_bytes().into()
    }

    /// The initiator's check: the proof holds (constant time) and the time is at most
    /// [`MAX_PROOF_SKEW`] from `now`.
    pub fn verify(
        &self,
        root: &SecretHash,
        proof: &[u8],
        now: Timestamp,
    ) -> Result<(), AcceptProofError> {
        self.mac(root)
            .verify_slice(proof)
            .map_err(|_| AcceptProofError::BadProof)?;
        let skew = now.duration_since(self.timestamp);
        if skew.abs() > MAX_PROOF_SKEW {
            return Err(AcceptProofError::ClockSkew {
                seconds: skew.as_secs(),
            });
        }
        Ok(())
    }
}

/// The HMAC keyed for one connection's accept proof.
fn accept_mac(root: &SecretHash, connection_id: Uuid) -> HmacSha256 {
    let mut key = [0u8; 32];
    Hkdf::<Sha256>::new(Some(ACCEPT_SALT), root.as_bytes())
        .expand(connection_id.as_bytes(), &mut key)
        .expect("32 bytes is a valid HKDF-SHA256 output length");
    HmacSha256::new_from_slice(&key).expect("HMAC takes keys of any length")
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
    use ed25519_dalek::SigningKey;

    fn root(byte: u8) -> SecretHash {
        InvitationSecret::from_bytes([byte; 32]).hash()
    }

    fn signer(byte: u8) -> SigningKey {
        SigningKey::from_bytes(&[byte; 32])
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
    fn a_decline_verifies_with_the_code_only_and_as_written() {
        let decline = Decline {
            connection_id: CONN,
            timestamp: at(0),
            nonce: "n1",
            reason: "Free plan: Basic only",
        };
        let proof = decline.proof(&root(7));
        assert!(decline.verify(&root(7), &proof, at(10)).is_ok());
        assert!(matches!(
            decline.verify(&root(8), &proof, at(10)),
            Err(AcceptProofError::BadProof)
        ));
        let edited = Decline {
            reason: "something else",
            ..decline.clone()
        };
        assert!(edited.verify(&root(7), &proof, at(10)).is_err());
        assert!(matches!(
            decline.verify(&root(7), &proof, at(3600)),
            Err(AcceptProofError::ClockSkew { .. })
        ));
    }

    fn acceptance() -> Acceptance<'static> {
        Acceptance {
            protocol: 1,
            connection_id: CONN,
            acceptor: AcceptorDescriptor {
                node_id: ACCEPTOR,
                public_key: signer(1).verifying_key(),
                name: "Globex desk",
                url: Some("https://tandem.globex.example"),
                tracker: "builtin",
                acceptor_short_name: "globex",
                initiator_short_name: "acme",
            },
            timestamp: at(0),
            nonce: "c2l4dGVlbi1ieXRlcy1ub25jZQ",
        }
    }

    /// The acceptor's proof: made from the code (`root(7)`) and signed with its key.
    fn proof_for(acceptance: &Acceptance<'_>) -> AcceptProof {
        accept_proof(&root(7), &TERMS, acceptance, &signer(1)).expect("an in-memory key signs")
    }

    fn verify(
        acceptance: &Acceptance<'_>,
        proof: &AcceptProof,
    ) -> Result<AcceptProof, AcceptProofError> {
        verify_accept_proof(
            &root(7),
            &TERMS,
            acceptance,
            &proof.mac,
            &proof.signature.to_bytes(),
            at(30),
        )
    }

    /// The acceptance with one field changed, for each field the acceptor sends.
    fn each_field_changed() -> Vec<(&'static str, Acceptance<'static>)> {
        let base = acceptance();
        let with = |change: fn(&mut Acceptance<'static>)| {
            let mut changed = base;
            change(&mut changed);
            changed
        };
        vec![
            ("protocol", with(|a| a.protocol = 2)),
            (
                "connection id",
                with(|a| a.connection_id = Uuid::from_u128(9)),
            ),
            ("node id", with(|a| a.acceptor.node_id = Uuid::from_u128(9))),
            (
                "public key",
                with(|a| a.acceptor.public_key = signer(2).verifying_key()),
            ),
            ("name", with(|a| a.acceptor.name = "Globex desk ")),
            (
                "url",
                with(|a| a.acceptor.url = Some("https://mallory.example")),
            ),
            ("no url", with(|a| a.acceptor.url = None)),
            ("tracker", with(|a| a.acceptor.tracker = "servicenow")),
            (
                "acceptor short name",
                with(|a| a.acceptor.acceptor_short_name = "mallory"),
            ),
            (
                "initiator short name",
                with(|a| a.acceptor.initiator_short_name = "acme2"),
            ),
            ("time", with(|a| a.timestamp = at(1))),
            ("nonce", with(|a| a.nonce = "c2l4dGVlbi1ieXRlcy1ub25jZR")),
        ]
    }

    #[test]
    fn a_proof_from_the_code_signed_by_the_acceptor_verifies_with_the_stored_hash() {
        let proof = proof_for(&acceptance());
        assert_eq!(verify(&acceptance(), &proof), Ok(proof));
    }

    #[test]
    fn a_proof_is_refused_when_any_field_of_the_acceptance_changed() {
        let proof = proof_for(&acceptance());
        for (field, changed) in each_field_changed() {
            assert_eq!(
                verify(&changed, &proof),
                Err(AcceptProofError::BadProof),
                "{field}"
            );
        }
    }

    #[test]
    fn a_holder_of_the_code_cannot_speak_for_another_node_without_its_key() {
        // The MAC is right (it holds the code), each field changed as it likes, but it can only
        // sign with its own key, not the one the acceptance names.
        for (field, changed) in each_field_changed() {
            let forged = accept_proof(&root(7), &TERMS, &changed, &signer(3)).expect("signs");
            assert_eq!(
                verify(&changed, &forged),
                Err(AcceptProofError::BadSignature),
                "{field}"
            );
        }
        // The acceptor's signature over the original does not cover a changed field either.
        let genuine = proof_for(&acceptance());
        for (field, changed) in each_field_changed() {
            let mac_only = accept_proof(&root(7), &TERMS, &changed, &signer(3)).expect("signs");
            let mixed = AcceptProof {
                mac: mac_only.mac,
                signature: genuine.signature,
            };
            assert_eq!(
                verify(&changed, &mixed),
                Err(AcceptProofError::BadSignature),
                "{field}"
            );
        }
    }

    #[test]
    fn a_damaged_missing_or_short_proof_is_refused() {
        let proof = proof_for(&acceptance());
        let check = |mac: &[u8], signature: &[u8]| {
            verify_accept_proof(&root(7), &TERMS, &acceptance(), mac, signature, at(30))
        };
        let signature = proof.signature.to_bytes();
        let mut flipped = signature;
        flipped[10] ^= 1;
        assert_eq!(
            check(&proof.mac, &flipped),
            Err(AcceptProofError::BadSignature)
        );
        assert_eq!(
            check(&proof.mac, &signature[..63]),
            Err(AcceptProofError::BadSignature)
        );
        assert_eq!(check(&proof.mac, &[]), Err(AcceptProofError::Unsigned));
        assert_eq!(
            check(&proof.mac[..31], &signature),
            Err(AcceptProofError::BadProof)
        );
        let mut mac = proof.mac;
        mac[0] ^= 1;
        assert_eq!(check(&mac, &signature), Err(AcceptProofError::BadProof));
        // Another code's hash does not make the same MAC.
        assert_eq!(
            verify_accept_proof(
                &root(8),
                &TERMS,
                &acceptance(),
                &proof.mac,
                &signature,
                at(30)
            ),
            Err(AcceptProofError::BadProof)
        );
    }

    #[test]
    fn a_proof_is_refused_when_the_code_s_terms_were_edited() {
        let proof = proof_for(&acceptance());
        let signature = proof.signature.to_bytes();
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
                    &acceptance(),
                    &proof.mac,
                    &signature,
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
                &acceptance(),
                &proof.mac,
                &signature,
                at(1)
            ),
            Ok(proof)
        );
    }

    #[test]
    fn a_stale_proof_is_refused_for_clock_skew() {
        let proof = proof_for(&acceptance());
        let signature = proof.signature.to_bytes();
        let check =
            |now| verify_accept_proof(&root(7), &TERMS, &acceptance(), &proof.mac, &signature, now);
        assert_eq!(
            check(at(301)),
            Err(AcceptProofError::ClockSkew { seconds: 301 })
        );
        assert_eq!(check(at(-300)), Ok(proof));
    }

    #[test]
    fn each_acceptance_has_its_own_proof_id_and_the_same_one_keeps_it() {
        let first = proof_for(&acceptance());
        assert_eq!(proof_for(&acceptance()).id(), first.id());
        for (field, changed) in each_field_changed() {
            assert_ne!(proof_for(&changed).id(), first.id(), "{field}");
        }
        assert_ne!(first.id(), first.mac, "the id is not the MAC itself");
    }

    #[test]
    fn the_descriptor_digest_covers_the_acceptor_and_nothing_else() {
        let base = acceptance().acceptor.digest();
        for (field, changed) in each_field_changed() {
            let differs = changed.acceptor.digest() != base;
            let about_the_acceptor =
                !matches!(field, "protocol" | "connection id" | "time" | "nonce");
            assert_eq!(differs, about_the_acceptor, "{field}");
        }
        // Length prefixes: moving a character from one field to the next is another descriptor.
        let mut shifted = acceptance().acceptor;
        shifted.acceptor_short_name = "globexa";
        shifted.initiator_short_name = "cme";
        assert_ne!(shifted.digest(), base);
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
        assert_ne!(&proof_for(&acceptance()).mac, root(7).as_bytes());
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
