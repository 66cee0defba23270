//! The security core of Tandem's node-to-node protocol: pure functions and types, no I/O (the
//! system random source aside, for fresh secrets and nonces), no HTTP, no database, no clock
//! (every check takes `now`).
//!
//! - [`Invitation`] ([`invitation`]): the invitation code an initiator's admin copies and the
//!   acceptor's admin pastes — `tandem1.` + base64url(payload ‖ checksum), with typed, plain-words
//!   [`InvitationError`]s for every way a paste goes wrong.
//! - [`handshake`]: the acceptor's proof that it holds the code and is the node it names — an
//!   HMAC and an Ed25519 signature over every field of the [`Acceptance`] ([`accept_proof`],
//!   [`verify_accept_proof`]) — and the per-connection, per-direction request keys both sides
//!   derive afterwards ([`ConnectionKeys`]).
//! - [`signing`]: HMAC-signed requests and responses over those keys ([`sign_request`],
//!   [`verify_request`], [`sign_response`], [`verify_response`]).
//! - [`replay`]: the [`NonceCache`] seam and the in-memory, bounded [`ReplayGuard`] that refuses
//!   a nonce seen twice inside the clock-skew window.
//! - [`license`]: Ed25519-signed license keys (`tandemlic1.`) and the [`Plan`] rules
//!   (Evaluation, Paid, Free) that decide which [`Mode`]s a node may use.
//!
//! # Secrets and where they live
//!
//! The invitation's 32-byte secret exists in full only inside the code. The initiator keeps
//! [`SecretHash`] (SHA-256 of the secret), and that hash — not the raw secret — is the root that
//! the accept proof and the connection keys are derived from with HKDF, each under its own label.
//! So the initiator can verify the acceptor's proof and derive the same keys while never storing
//! the raw secret, and the acceptor, which holds the code, computes the same hash. See
//! [`handshake`] for why this is sound and what the node must still protect. Every type that
//! holds secret material ([`InvitationSecret`], [`SecretHash`], [`RequestKey`],
//! [`VendorKeypair`]) has a `Debug` that prints `[redacted]`; no error message echoes one.
//!
//! # The whole flow
//!
//! ```
//! use tandem_protocol::*;
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let (initiator_id, acceptor_id) = (uuid::Uuid::from_u128(1), uuid::Uuid::from_u128(2));
//! # let connection_id = uuid::Uuid::from_u128(3);
//! # let initiator_key = ed25519_dalek::SigningKey::from_bytes(&[1; 32]).verifying_key();
//! # let acceptor_node_key = ed25519_dalek::SigningKey::from_bytes(&[2; 32]);
//! let now = jiff::Timestamp::from_second(1_800_000_000)?;
//! // Initiator: make the code, store only the secret hash, show the code once.
//! let invitation = Invitation::issue(
//!     IssueParams {
//!         initiator_node_id: initiator_id,
//!         initiator_url: Some("https://tandem.acme.example".into()),
//!         acceptor_private: false,
//!         initiator_public_key: initiator_key,
//!         connection_id,
//!         connection_name: "acme_to_globex".into(),
//!         initiator_short_name: "acme".into(),
//!         acceptor_short_name: "globex".into(),
//!         mode: Mode::Basic,
//!         valid_for: DEFAULT_VALIDITY,
//!     },
//!     now,
//! )?;
//! let stored = invitation.secret_hash();
//! let code = invitation.to_code()?;
//!
//! // Acceptor: read the pasted code, prove it holds it and sign the acceptance with its node key.
//! let pasted = Invitation::decode_for_acceptor(&code, acceptor_id, now)?;
//! let terms = pasted.terms(); // mode, name, private or not, expiry: the proof covers them
//! let nonce = Nonce::random()?;
//! let acceptance = Acceptance {
//!     protocol: 1,
//!     connection_id,
//!     acceptor: AcceptorDescriptor {
//!         node_id: acceptor_id,
//!         public_key: acceptor_node_key.verifying_key(),
//!         name: "Globex desk",
//!         url: Some("https://tandem.globex.example"),
//!         tracker: "builtin",
//!         acceptor_short_name: "globex",
//!         initiator_short_name: "acme",
//!     },
//!     timestamp: now,
//!     nonce: nonce.as_str(),
//! };
//! let proof = accept_proof(&pasted.secret_hash(), &terms, &acceptance, &acceptor_node_key)?;
//!
//! // Initiator: check the proof with the stored hash and the terms it recorded, and the
//! // signature with the key the acceptance names; keep the proof's id; mark the code used.
//! let recorded = Terms { mode: Mode::Basic, connection_name: "acme_to_globex",
//!     acceptor_private: false, expires_at: now + DEFAULT_VALIDITY };
//! let signature = proof.signature.to_bytes();
//! let taken = verify_accept_proof(&stored, &recorded, &acceptance, &proof.mac, &signature, now)?;
//! assert_eq!(taken.id(), proof.id());
//!
//! // Both: derive the connection's keys; sign and verify requests with them.
//! let (root, ids) = (&stored, (connection_id, initiator_id, acceptor_id));
//! let mine = ConnectionKeys::derive(root, ids.0, ids.1, ids.2, Role::Initiator);
//! let theirs = ConnectionKeys::derive(&pasted.secret_hash(), ids.0, ids.1, ids.2, Role::Acceptor);
//! let (path, body) = ("/node/v1/messages", b"{}");
//! let nonce = Nonce::random()?;
//! let headers = sign_request(&theirs.outgoing, connection_id, "POST", path, now, &nonce, body)?;
//! let mut guard = ReplayGuard::default();
//! verify_request(&mine.incoming, connection_id, "POST", path, body, &headers, now)?
//!     .check_replay(&mut guard, now)?;
//! # Ok(())
//! # }
//! ```
//!
//! **Must never depend on:** the store, the node, tokio or any HTTP crate. The node turns
//! header maps into [`SignedHeaders`], keeps nonces and secret hashes in its database, and maps
//! these errors to HTTP statuses.

pub mod handshake;
pub mod invitation;
pub mod license;
pub mod replay;
pub mod signing;

pub use handshake::{
    AcceptProof, AcceptProofError, Acceptance, AcceptorDescriptor, ConnectionKeys, Decline,
    RequestKey, Role, Terms, accept_proof, verify_accept_proof,
};
pub use invitation::{
    DEFAULT_VALIDITY, Invitation, InvitationError, InvitationSecret, IssueParams, Route, SecretHash,
};
pub use license::{
    LicenseError, LicenseKey, LicensedPlan, Plan, PlanRefusal, TwinQuota, VendorKeypair,
    generate_vendor_keypair, issue_license, parse_vendor_public_key, parse_vendor_signing_key,
    verify_license,
};
pub use replay::{NonceCache, ReplayGuard};
pub use signing::{
    MAX_CLOCK_SKEW, Nonce, RequestError, SignedHeaders, SignedResponseHeaders, VerifiedRequest,
    check_request_headers, sign_request, sign_response, verify_request, verify_response,
};

/// How a connection's sync rules are written; defined with the other connection types in
/// `tandem-model`.
pub use tandem_model::Mode;

/// A date and time as messages show it: `2026-11-20 14:03 UTC`.
pub(crate) fn show_time(at: jiff::Timestamp) -> String {
    at.strftime("%Y-%m-%d %H:%M UTC").to_string()
}

/// A date as messages show it: `2026-11-20`.
pub(crate) fn show_date(at: jiff::Timestamp) -> String {
    at.strftime("%Y-%m-%d").to_string()
}
