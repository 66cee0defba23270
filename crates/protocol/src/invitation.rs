//! Invitation codes: what the initiator's admin copies and the acceptor's admin pastes.
//!
//! The code itself — its text form and binary payload — is in `invitation/code.rs`, with the
//! format. This file is what an invitation *is* and the rules around it.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::VerifyingKey;
use jiff::{SignedDuration, Timestamp};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::{Mode, show_time};

/// The version this crate writes and reads.
pub const VERSION: u8 = 1;
/// How long a code is valid unless the admin chose otherwise.
pub const DEFAULT_VALIDITY: SignedDuration = SignedDuration::from_hours(72);
/// The longest connection name or short name, in bytes.
pub const MAX_NAME_LEN: usize = 100;
/// The longest node URL, in bytes.
pub const MAX_URL_LEN: usize = 1000;
/// The shortest validity a code may have: 1 minute.
pub const MIN_VALIDITY: SignedDuration = SignedDuration::from_mins(1);
/// The longest validity a code may have: 30 days.
pub const MAX_VALIDITY: SignedDuration = SignedDuration::from_hours(30 * 24);

/// The one-time secret inside a code: 32 random bytes. `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct InvitationSecret([u8; 32]);

impl InvitationSecret {
    pub fn from_bytes(bytes: [u8; 32]) -> InvitationSecret {
        InvitationSecret(bytes)
    }

    /// A fresh secret from the system's random source.
    pub fn random() -> Result<InvitationSecret, InvitationError> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| InvitationError::Random(e.to_string()))?;
        Ok(InvitationSecret(bytes))
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// What the initiator keeps instead of the secret.
    pub fn hash(&self) -> SecretHash {
        SecretHash(Sha256::digest(self.0).into())
    }
}

impl std::fmt::Debug for InvitationSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InvitationSecret([redacted])")
    }
}

/// SHA-256 of an invitation secret: what the initiator stores, and the root both sides derive
/// the accept proof and the connection keys from. Whoever holds it can act as either side of
/// that connection, so the node stores it like a credential. `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretHash([u8; 32]);

impl SecretHash {
    pub fn from_bytes(bytes: [u8; 32]) -> SecretHash {
        SecretHash(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// base64url, for storage.
    pub fn to_base64(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }

    /// Reads what [`SecretHash::to_base64`] wrote; `None` when it is not 32 bytes of base64url.
    pub fn from_base64(text: &str) -> Option<SecretHash> {
        let bytes = URL_SAFE_NO_PAD.decode(text.trim()).ok()?;
        Some(SecretHash(bytes.try_into().ok()?))
    }

    /// Compares in constant time.
    pub fn ct_eq(&self, other: &SecretHash) -> bool {
        self.0
            .iter()
            .zip(other.0.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }
}

impl std::fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretHash([redacted])")
    }
}

/// Who can call whom, as the code tells the acceptor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route<'a> {
    /// Both nodes are public: each calls the other.
    Mutual { initiator_url: &'a str },
    /// "I don't have a URL": the acceptor is private, so it makes every request — it calls the
    /// initiator to accept, then polls it for messages and pushes its own.
    AcceptorCalls { initiator_url: &'a str },
    /// The initiator has no node URL (it is private): it makes every request to the acceptor,
    /// whose URL its admin entered, and learns of the acceptance by polling.
    InitiatorCalls,
}

/// What the initiator's admin chose, for [`Invitation::issue`].
#[derive(Clone, Debug)]
pub struct IssueParams {
    pub initiator_node_id: Uuid,
    /// `None` when the initiating node has no node URL (it is private).
    pub initiator_url: Option<String>,
    /// The admin chose "I don't have a URL": the acceptor is private or unknown.
    pub acceptor_private: bool,
    pub initiator_public_key: VerifyingKey,
    pub connection_id: Uuid,
    pub connection_name: String,
    pub initiator_short_name: String,
    /// The remote short name the initiator chose; the acceptor may edit it.
    pub acceptor_short_name: String,
    pub mode: Mode,
    /// How long the code stays valid: [`DEFAULT_VALIDITY`] unless the admin chose otherwise.
    pub valid_for: SignedDuration,
}

/// A decoded or freshly issued invitation. `Debug` never prints the secret; there is no
/// `Display`, because the code itself is a credential: call [`Invitation::to_code`] on purpose.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invitation {
    pub version: u8,
    pub initiator_node_id: Uuid,
    /// `None`: the initiator is private (see [`Route::InitiatorCalls`]).
    pub initiator_url: Option<String>,
    /// "I don't have a URL" (see [`Route::AcceptorCalls`]).
    pub acceptor_private: bool,
    pub initiator_public_key: VerifyingKey,
    /// The connection's id on both nodes; it is also the invitation's id.
    pub connection_id: Uuid,
    pub connection_name: String,
    pub initiator_short_name: String,
    pub acceptor_short_name: String,
    pub mode: Mode,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    secret: InvitationSecret,
}

/// Every way making or reading a code can fail; each message says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvitationError {
    #[error(
        "this is not a Tandem invitation code (one starts with \"tandem1.\"): copy the whole code the other admin sent"
    )]
    NotATandemCode,
    #[error(
        "this invitation code is version {found} and this node reads version {VERSION} only: update this node, or ask the other admin for a new code"
    )]
    UnsupportedVersion { found: String },
    #[error("the code was changed or cut off while copying: copy it again")]
    Damaged,
    #[error(
        "invitation code has expired (made {}, valid {}): ask the other admin for a new one",
        show_time(*.created_at), show_validity(*.valid_for)
    )]
    Expired {
        created_at: Timestamp,
        valid_for: SignedDuration,
    },
    #[error(
        "the invitation code is malformed: {field} {problem}; ask the other admin for a new one"
    )]
    Malformed {
        field: &'static str,
        problem: String,
    },
    #[error("{field} {problem}")]
    InvalidField {
        field: &'static str,
        problem: String,
    },
    #[error(
        "neither node could reach the other: this node has no node URL and the other side has none either; set this node's URL on the General settings page, or enter the other node's URL"
    )]
    Unreachable,
    #[error(
        "this invitation code was made on this node: paste it on the other node's Accept invitation page"
    )]
    OwnCode,
    /// For the initiator to return when a proven accept names a code it already accepted.
    #[error(
        "this invitation code was already used: a code connects once, so ask the other admin for a new one"
    )]
    AlreadyUsed,
    /// For the initiator to return when it has no pending invitation for the code any more.
    #[error(
        "the node that made this invitation code no longer knows it (the connection was deleted, or a newer code replaced it): ask the other admin for a new one"
    )]
    Withdrawn,
    #[error("the system random source failed: {0}")]
    Random(String),
}

/// "72 h", "90 min", "45 s".
fn show_validity(d: SignedDuration) -> String {
    let secs = d.as_secs();
    if secs % 3600 == 0 {
        format!("{} h", secs / 3600)
    } else if secs % 60 == 0 {
        format!("{} min", secs / 60)
    } else {
        format!("{secs} s")
    }
}

impl Invitation {
    /// Makes a new invitation with a fresh random secret.
    pub fn issue(params: IssueParams, now: Timestamp) -> Result<Invitation, InvitationError> {
        Invitation::issue_with_secret(params, now, InvitationSecret::random()?)
    }

    /// [`Invitation::issue`] with a given secret: for tests and reproducible examples.
    pub fn issue_with_secret(
        params: IssueParams,
        now: Timestamp,
        secret: InvitationSecret,
    ) -> Result<Invitation, InvitationError> {
        let invalid = |(field, problem): (&'static str, String)| InvitationError::InvalidField {
            field,
            problem,
        };
        // Whole seconds: the code stores seconds, and a decoded code must equal this one.
        let created_at = Timestamp::from_second(now.as_second())
            .map_err(|_| invalid(("the current time", "is out of range".to_string())))?;
        let valid_for = params.valid_for;
        if valid_for < MIN_VALIDITY || valid_for > MAX_VALIDITY {
            return Err(invalid(validity_range()));
        }
        let expires_at = created_at
            .checked_add(valid_for)
            .map_err(|_| invalid(("the validity", "ends out of range".to_string())))?;
        let invitation = Invitation {
            version: VERSION,
            initiator_node_id: params.initiator_node_id,
            initiator_url: params.initiator_url,
            acceptor_private: params.acceptor_private,
            initiator_public_key: params.initiator_public_key,
            connection_id: params.connection_id,
            connection_name: params.connection_name,
            initiator_short_name: params.initiator_short_name,
            acceptor_short_name: params.acceptor_short_name,
            mode: params.mode,
            created_at,
            expires_at,
            secret,
        };
        invitation.check_issuable()?;
        Ok(invitation)
    }

    /// The rules a code must meet to be made: fields a code can carry, and a route.
    fn check_issuable(&self) -> Result<(), InvitationError> {
        let invalid = |(field, problem): (&'static str, String)| InvitationError::InvalidField {
            field,
            problem,
        };
        self.check_fields().map_err(invalid)?;
        let valid_for = self.valid_for();
        if valid_for < MIN_VALIDITY || valid_for > MAX_VALIDITY {
            return Err(invalid(validity_range()));
        }
        if self.initiator_url.is_none() && self.acceptor_private {
            return Err(InvitationError::Unreachable);
        }
        Ok(())
    }

    /// The one-time secret. Only the acceptor needs it, to compute [`Invitation::secret_hash`].
    pub fn secret(&self) -> &InvitationSecret {
        &self.secret
    }

    /// SHA-256 of the secret: what the initiator stores, and the root of the connection's keys.
    pub fn secret_hash(&self) -> SecretHash {
        self.secret.hash()
    }

    /// What the code promises about the connection; the accept proof covers it.
    pub fn terms(&self) -> crate::handshake::Terms<'_> {
        crate::handshake::Terms {
            mode: self.mode,
            connection_name: &self.connection_name,
            acceptor_private: self.acceptor_private,
            expires_at: self.expires_at,
        }
    }

    pub fn valid_for(&self) -> SignedDuration {
        self.expires_at.duration_since(self.created_at)
    }

    /// Who calls whom on this connection.
    pub fn route(&self) -> Route<'_> {
        match (&self.initiator_url, self.acceptor_private) {
            (Some(url), false) => Route::Mutual { initiator_url: url },
            (Some(url), true) => Route::AcceptorCalls { initiator_url: url },
            (None, _) => Route::InitiatorCalls,
        }
    }

    /// The initiator's URL as the Accept invitation page shows it.
    pub fn initiator_url_display(&self) -> &str {
        self.initiator_url.as_deref().unwrap_or("unknown (private)")
    }

    /// Refuses a code that has expired at `now`.
    pub fn check_not_expired(&self, now: Timestamp) -> Result<(), InvitationError> {
        if now >= self.expires_at {
            return Err(InvitationError::Expired {
                created_at: self.created_at,
                valid_for: self.valid_for(),
            });
        }
        Ok(())
    }

    /// The checks the accepting node runs after decoding: not expired, not its own code.
    /// (Whether the code was already used is the initiator's to say: it knows.)
    pub fn check_acceptable(
        &self,
        accepting_node_id: Uuid,
        now: Timestamp,
    ) -> Result<(), InvitationError> {
        if self.initiator_node_id == accepting_node_id {
            return Err(InvitationError::OwnCode);
        }
        self.check_not_expired(now)
    }

    /// Field rules shared by issue and decode.
    fn check_fields(&self) -> Result<(), (&'static str, String)> {
        for (field, name) in [
            ("the connection name", &self.connection_name),
            ("the initiator short name", &self.initiator_short_name),
            ("the acceptor short name", &self.acceptor_short_name),
        ] {
            check_name(field, name)?;
        }
        if let Some(url) = &self.initiator_url {
            check_url(url)?;
        }
        Ok(())
    }
}

fn validity_range() -> (&'static str, String) {
    (
        "the validity",
        "must be between 1 minute and 30 days".to_string(),
    )
}

fn check_name(field: &'static str, name: &str) -> Result<(), (&'static str, String)> {
    if name.trim().is_empty() {
        return Err((field, "is empty".to_string()));
    }
    if name.trim() != name {
        return Err((field, "starts or ends with spaces".to_string()));
    }
    if name.len() > MAX_NAME_LEN {
        return Err((field, format!("is longer than {MAX_NAME_LEN} bytes")));
    }
    if name.chars().any(char::is_control) {
        return Err((field, "contains control characters".to_string()));
    }
    Ok(())
}

fn check_url(url: &str) -> Result<(), (&'static str, String)> {
    const FIELD: &str = "the node URL";
    if url.len() > MAX_URL_LEN {
        return Err((FIELD, format!("is longer than {MAX_URL_LEN} bytes")));
    }
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    match rest {
        Some(host) if !host.is_empty() => {}
        _ => return Err((FIELD, "must start with https:// or http://".to_string())),
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err((FIELD, "contains spaces or control characters".to_string()));
    }
    Ok(())
}

mod code;

#[cfg(test)]
mod tests {
    use super::*;

    /// Shared fixtures: `code.rs`'s tests use them too.
    pub(super) fn at(second: i64) -> Timestamp {
        // 2026-11-20 14:00 UTC.
        Timestamp::from_second(1_795_183_200 + second).expect("in range")
    }

    pub(super) fn params() -> IssueParams {
        IssueParams {
            initiator_node_id: Uuid::from_u128(1),
            initiator_url: Some("https://tandem.acme.example".to_string()),
            acceptor_private: false,
            initiator_public_key: ed25519_dalek::SigningKey::from_bytes(&[3; 32]).verifying_key(),
            connection_id: Uuid::from_u128(2),
            connection_name: "acme_to_globex".to_string(),
            initiator_short_name: "acme".to_string(),
            acceptor_short_name: "globex".to_string(),
            mode: Mode::Script,
            valid_for: DEFAULT_VALIDITY,
        }
    }

    pub(super) fn issued() -> Invitation {
        Invitation::issue_with_secret(params(), at(0), InvitationSecret::from_bytes([9; 32]))
            .expect("valid")
    }

    #[test]
    fn a_fresh_code_gets_a_random_secret_and_expires_after_72_hours() {
        let a = Invitation::issue(params(), at(0)).expect("valid");
        let b = Invitation::issue(params(), at(0)).expect("valid");
        assert_ne!(a.secret(), b.secret());
        assert_eq!(a.expires_at, at(72 * 3600));
    }

    #[test]
    fn the_initiator_keeps_the_sha256_of_the_secret() {
        let expected: [u8; 32] = Sha256::digest([9u8; 32]).into();
        assert_eq!(issued().secret_hash().as_bytes(), &expected);
        let hash = issued().secret_hash();
        assert_eq!(
            SecretHash::from_base64(&hash.to_base64()),
            Some(hash.clone())
        );
        assert!(hash.ct_eq(&issued().secret_hash()));
    }

    #[test]
    fn debug_never_prints_the_secret() {
        let shown = format!("{:?}", issued());
        assert!(shown.contains("[redacted]"), "{shown}");
        assert!(!shown.contains("9, 9, 9"), "{shown}");
        assert!(
            !format!("{:?}", issued().secret_hash()).contains(&issued().secret_hash().to_base64())
        );
    }

    #[test]
    fn an_expired_code_says_when_it_was_made_and_how_long_it_was_valid() {
        let err = issued()
            .check_not_expired(at(72 * 3600))
            .expect_err("expired");
        assert_eq!(
            err.to_string(),
            "invitation code has expired (made 2026-11-20 14:00 UTC, valid 72 h): ask the other admin for a new one"
        );
        assert_eq!(issued().check_not_expired(at(72 * 3600 - 1)), Ok(()));
    }

    #[test]
    fn a_code_pasted_on_the_node_that_made_it_is_refused() {
        assert_eq!(
            issued().check_acceptable(Uuid::from_u128(1), at(0)),
            Err(InvitationError::OwnCode)
        );
        assert_eq!(issued().check_acceptable(Uuid::from_u128(5), at(0)), Ok(()));
    }

    #[test]
    fn the_route_says_who_calls_whom() {
        let url = "https://tandem.acme.example";
        assert_eq!(issued().route(), Route::Mutual { initiator_url: url });
        let private_acceptor = Invitation::issue(
            IssueParams {
                acceptor_private: true,
                ..params()
            },
            at(0),
        )
        .expect("valid");
        assert_eq!(
            private_acceptor.route(),
            Route::AcceptorCalls { initiator_url: url }
        );
        let private_initiator = Invitation::issue(
            IssueParams {
                initiator_url: None,
                ..params()
            },
            at(0),
        )
        .expect("valid");
        assert_eq!(private_initiator.route(), Route::InitiatorCalls);
        assert_eq!(
            private_initiator.initiator_url_display(),
            "unknown (private)"
        );
        let decoded =
            Invitation::decode(&private_initiator.to_code().expect("valid")).expect("decodes");
        assert_eq!(decoded.initiator_url, None);
    }

    #[test]
    fn a_code_no_node_could_use_is_not_made() {
        let neither = IssueParams {
            initiator_url: None,
            acceptor_private: true,
            ..params()
        };
        assert_eq!(
            Invitation::issue(neither, at(0)),
            Err(InvitationError::Unreachable)
        );
    }

    #[test]
    fn bad_fields_are_refused_when_issuing_with_the_field_named() {
        let cases = [
            (
                IssueParams {
                    connection_name: String::new(),
                    ..params()
                },
                "the connection name is empty",
            ),
            (
                IssueParams {
                    initiator_short_name: "x".repeat(101),
                    ..params()
                },
                "the initiator short name is longer than 100 bytes",
            ),
            (
                IssueParams {
                    acceptor_short_name: "a\nb".to_string(),
                    ..params()
                },
                "the acceptor short name contains control characters",
            ),
            (
                IssueParams {
                    initiator_url: Some("ftp://x".to_string()),
                    ..params()
                },
                "the node URL must start with https:// or http://",
            ),
            (
                IssueParams {
                    valid_for: SignedDuration::from_hours(24 * 31),
                    ..params()
                },
                "the validity must be between 1 minute and 30 days",
            ),
        ];
        for (params, message) in cases {
            let err = Invitation::issue(params, at(0)).expect_err(message);
            assert_eq!(err.to_string(), message);
        }
    }
}
