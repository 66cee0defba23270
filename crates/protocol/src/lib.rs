//! The security core of Tandem's node-to-node protocol: pure functions and types, no I/O (the
//! system random source aside, for fresh secrets and nonces), no HTTP, no database, no clock
//! (every check takes `now`).
//!
//! - [`Invitation`] ([`invitation`]): the invitation code an initiator's admin copies and the
//!   acceptor's admin pastes — `tandem1.` + base64url(payload ‖ checksum), with typed, plain-words
//!   [`InvitationError`]s for every way a paste goes wrong.
//! - [`handshake`]: the acceptor's proof that it holds the code ([`accept_proof`],
//!   [`verify_accept_proof`]) and the per-connection, per-direction request keys both sides
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
//! **Must never depend on:** the store, the node, tokio or any HTTP crate. The node turns
//! header maps into [`SignedHeaders`], keeps nonces and secret hashes in its database, and maps
//! these errors to HTTP statuses.

pub mod handshake;
pub mod invitation;
pub mod license;
pub mod replay;
pub mod signing;

pub use handshake::{
    AcceptProofError, ConnectionKeys, RequestKey, Role, accept_proof, verify_accept_proof,
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
    sign_request, sign_response, verify_request, verify_response,
};

/// How a connection's sync rules are written. Fixed when the connection is created.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Generated rules that cannot be edited. Every plan allows it.
    Basic,
    /// Groovy-compatible rules the admin edits. Needs an Evaluation or Paid plan.
    Script,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Basic => "Basic",
            Mode::Script => "Script",
        }
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A date and time as messages show it: `2026-11-20 14:03 UTC`.
pub(crate) fn show_time(at: jiff::Timestamp) -> String {
    at.strftime("%Y-%m-%d %H:%M UTC").to_string()
}

/// A date as messages show it: `2026-11-20`.
pub(crate) fn show_date(at: jiff::Timestamp) -> String {
    at.strftime("%Y-%m-%d").to_string()
}
