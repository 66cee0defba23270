//! License keys and the plan a node is on.
//!
//! A license key is `tandemlic1.` + base64url(payload ‖ signature): the payload is JSON, the
//! signature 64 bytes of Ed25519 by the vendor's key over `tandem/v1/license\n` ‖ payload. The
//! node trusts the vendor public keys it is configured with. `tandem license keygen` calls
//! [`generate_vendor_keypair`]; `tandem license issue` calls [`issue_license`].
//!
//! The plan ([`Plan::determine`]): a valid license makes the node **Paid**; otherwise it is on
//! **Evaluation** for 30 days from its first start, then **Free**. Script mode needs Evaluation or
//! Paid; Free allows Basic only and 1,000 new twins a month.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::{Mode, show_date};

const PREFIX: &str = "tandemlic1.";
const SIGN_LABEL: &[u8] = b"tandem/v1/license\n";
const SIGNATURE_LEN: usize = 64;

/// How long Evaluation lasts from the node's first start.
pub const EVALUATION: SignedDuration = SignedDuration::from_hours(30 * 24);
/// New twins a month on the Free plan.
pub const FREE_TWINS_PER_MONTH: u32 = 1_000;

/// What a license grants. There is one paid plan today.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LicensedPlan {
    Paid,
}

/// A verified (or to-be-issued) license.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LicenseKey {
    pub licensee: String,
    pub plan: LicensedPlan,
    pub issued_at: Timestamp,
    /// `None`: never expires.
    pub expires_at: Option<Timestamp>,
    /// `None`: unlimited.
    pub max_new_twins_per_month: Option<u32>,
}

#[derive(Serialize, Deserialize)]
struct Wire {
    licensee: String,
    plan: LicensedPlan,
    issued_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_new_twins_per_month: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LicenseError {
    #[error(
        "this is not a Tandem license key (one starts with \"tandemlic1.\"): copy the whole key you were sent"
    )]
    NotALicenseKey,
    #[error("the license key was changed or cut off while copying: copy it again")]
    Damaged,
    #[error(
        "the license key is not signed by a vendor key this node trusts: check that it was copied whole and that the node's vendor public key is the right one"
    )]
    BadSignature,
    #[error(
        "this node trusts no vendor key, so it cannot check license keys: configure the vendor public key"
    )]
    NoTrustedKey,
    #[error("the license key is malformed ({0}): ask the vendor for a new one")]
    Malformed(&'static str),
    #[error(
        "the license key for {licensee} expired on {}: ask the vendor for a new one",
        show_date(*.expires_at)
    )]
    Expired {
        licensee: String,
        expires_at: Timestamp,
    },
    #[error(
        "the {0} is not a base64url Ed25519 key of 32 bytes: copy it again from `tandem license keygen`"
    )]
    InvalidKey(&'static str),
    #[error("the license cannot be issued: {0}")]
    CannotIssue(&'static str),
    #[error("the system random source failed: {0}")]
    Random(String),
}

/// A new vendor key pair for `tandem license keygen`, both halves base64url. `Debug` never
/// prints the secret half.
#[derive(Clone)]
pub struct VendorKeypair {
    /// Keep this private: it issues licenses.
    pub secret: String,
    /// Configure nodes to trust this.
    pub public: String,
}

impl std::fmt::Debug for VendorKeypair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VendorKeypair")
            .field("secret", &"[redacted]")
            .field("public", &self.public)
            .finish()
    }
}

pub fn generate_vendor_keypair() -> Result<VendorKeypair, LicenseError> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| LicenseError::Random(e.to_string()))?;
    let key = SigningKey::from_bytes(&seed);
    Ok(VendorKeypair {
        secret: URL_SAFE_NO_PAD.encode(seed),
        public: URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes()),
    })
}

/// Reads the secret half of [`generate_vendor_keypair`].
pub fn parse_vendor_signing_key(text: &str) -> Result<SigningKey, LicenseError> {
    let seed = decode_32(text).ok_or(LicenseError::InvalidKey("vendor secret key"))?;
    Ok(SigningKey::from_bytes(&seed))
}

/// Reads the public half of [`generate_vendor_keypair`], as a node's configuration holds it.
pub fn parse_vendor_public_key(text: &str) -> Result<VerifyingKey, LicenseError> {
    let bytes = decode_32(text).ok_or(LicenseError::InvalidKey("vendor public key"))?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| LicenseError::InvalidKey("vendor public key"))
}

fn decode_32(text: &str) -> Option<[u8; 32]> {
    URL_SAFE_NO_PAD.decode(text.trim()).ok()?.try_into().ok()
}

/// Signs a license with the vendor's key and returns the key text to send the licensee.
pub fn issue_license(vendor: &SigningKey, license: &LicenseKey) -> Result<String, LicenseError> {
    if license.licensee.trim().is_empty() {
        return Err(LicenseError::CannotIssue("the licensee is empty"));
    }
    if license
        .expires_at
        .is_some_and(|end| end <= license.issued_at)
    {
        return Err(LicenseError::CannotIssue(
            "it would expire before it was issued",
        ));
    }
    let wire = Wire {
        licensee: license.licensee.clone(),
        plan: license.plan,
        issued_at: license.issued_at.as_second(),
        expires_at: license.expires_at.map(Timestamp::as_second),
        max_new_twins_per_month: license.max_new_twins_per_month,
    };
    let mut bytes = serde_json::to_vec(&wire).expect("a struct of strings and numbers serializes");
    let signature = vendor.sign(&signed_text(&bytes));
    bytes.extend_from_slice(&signature.to_bytes());
    Ok(format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes)))
}

/// Reads a license key, checks its signature against the trusted vendor keys, and refuses it
/// when it has expired at `now`. Whitespace anywhere is ignored.
pub fn verify_license(
    text: &str,
    trusted: &[VerifyingKey],
    now: Timestamp,
) -> Result<LicenseKey, LicenseError> {
    let cleaned: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    // Read the prefix in any case, as for invitation codes.
    let body = match cleaned.get(..PREFIX.len()) {
        Some(head) if head.eq_ignore_ascii_case(PREFIX) => &cleaned[PREFIX.len()..],
        _ => return Err(LicenseError::NotALicenseKey),
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(body)
        .map_err(|_| LicenseError::Damaged)?;
    if bytes.len() <= SIGNATURE_LEN {
        return Err(LicenseError::Damaged);
    }
    let (payload, signature) = bytes.split_at(bytes.len() - SIGNATURE_LEN);
    let signature = Signature::from_slice(signature).map_err(|_| LicenseError::Damaged)?;
    if trusted.is_empty() {
        return Err(LicenseError::NoTrustedKey);
    }
    let message = signed_text(payload);
    if !trusted
        .iter()
        .any(|key| key.verify_strict(&message, &signature).is_ok())
    {
        return Err(LicenseError::BadSignature);
    }
    let wire: Wire = serde_json::from_slice(payload)
        .map_err(|_| LicenseError::Malformed("its contents are not a license"))?;
    let time = |s: i64| {
        Timestamp::from_second(s).map_err(|_| LicenseError::Malformed("a date is out of range"))
    };
    let license = LicenseKey {
        licensee: wire.licensee,
        plan: wire.plan,
        issued_at: time(wire.issued_at)?,
        expires_at: wire.expires_at.map(time).transpose()?,
        max_new_twins_per_month: wire.max_new_twins_per_month,
    };
    if let Some(expires_at) = license.expires_at
        && now >= expires_at
    {
        return Err(LicenseError::Expired {
            licensee: license.licensee,
            expires_at,
        });
    }
    Ok(license)
}

fn signed_text(payload: &[u8]) -> Vec<u8> {
    [SIGN_LABEL, payload].concat()
}

/// The plan a node is on now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Plan {
    /// The first 30 days after the node's first start.
    Evaluation { ends: Timestamp },
    /// A valid license key.
    Paid {
        licensee: String,
        expires_at: Option<Timestamp>,
        max_new_twins_per_month: Option<u32>,
    },
    /// Neither: Basic mode only, 1,000 new twins a month.
    Free { since: Timestamp },
}

/// How many twins a node may create a month.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TwinQuota {
    Unlimited,
    PerMonth(u32),
}

/// Why the plan refuses something, in plain words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanRefusal {
    #[error(
        "{mode} mode needs an Evaluation or Paid license; this node is on the Free plan since {}: add a license key on the License page, or use Basic mode",
        show_date(*.since)
    )]
    ModeNeedsLicense { mode: Mode, since: Timestamp },
    #[error(
        "this node's plan allows {limit} new twins a month and {made} were made this month: add a license key on the License page, or wait for next month"
    )]
    TwinQuotaReached { limit: u32, made: u32 },
}

impl Plan {
    /// The plan from the node's first start, its license (already verified with
    /// [`verify_license`]) if any, and the time now. A license that has expired since it was
    /// verified no longer counts.
    pub fn determine(first_start: Timestamp, license: Option<&LicenseKey>, now: Timestamp) -> Plan {
        let evaluation_ends = first_start
            .checked_add(EVALUATION)
            .unwrap_or(Timestamp::MAX);
        if let Some(license) = license {
            match license.expires_at {
                Some(end) if now >= end => {
                    if now < evaluation_ends {
                        return Plan::Evaluation {
                            ends: evaluation_ends,
                        };
                    }
                    return Plan::Free {
                        since: end.max(evaluation_ends),
                    };
                }
                _ => {
                    return Plan::Paid {
                        licensee: license.licensee.clone(),
                        expires_at: license.expires_at,
                        max_new_twins_per_month: license.max_new_twins_per_month,
                    };
                }
            }
        }
        if now < evaluation_ends {
            Plan::Evaluation {
                ends: evaluation_ends,
            }
        } else {
            Plan::Free {
                since: evaluation_ends,
            }
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Plan::Evaluation { .. } => "Evaluation",
            Plan::Paid { .. } => "Paid",
            Plan::Free { .. } => "Free",
        }
    }

    pub fn allows_mode(&self, mode: Mode) -> bool {
        self.check_mode(mode).is_ok()
    }

    /// Basic is always allowed; Script needs Evaluation or Paid.
    pub fn check_mode(&self, mode: Mode) -> Result<(), PlanRefusal> {
        match (self, mode) {
            (_, Mode::Basic) | (Plan::Evaluation { .. } | Plan::Paid { .. }, _) => Ok(()),
            (Plan::Free { since }, mode) => Err(PlanRefusal::ModeNeedsLicense {
                mode,
                since: *since,
            }),
        }
    }

    pub fn twin_quota(&self) -> TwinQuota {
        match self {
            Plan::Free { .. } => TwinQuota::PerMonth(FREE_TWINS_PER_MONTH),
            Plan::Paid {
                max_new_twins_per_month: Some(limit),
                ..
            } => TwinQuota::PerMonth(*limit),
            Plan::Paid { .. } | Plan::Evaluation { .. } => TwinQuota::Unlimited,
        }
    }

    /// Whether one more twin may be made, given how many were made this calendar month.
    pub fn check_new_twin(&self, made_this_month: u32) -> Result<(), PlanRefusal> {
        match self.twin_quota() {
            TwinQuota::PerMonth(limit) if made_this_month >= limit => {
                Err(PlanRefusal::TwinQuotaReached {
                    limit,
                    made: made_this_month,
                })
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(day: i64) -> Timestamp {
        // 2026-11-27 00:00 UTC plus whole days.
        Timestamp::from_second(1_795_737_600 + day * 86_400).expect("in range")
    }

    fn vendor() -> SigningKey {
        SigningKey::from_bytes(&[42; 32])
    }

    fn license(expires: Option<i64>) -> LicenseKey {
        LicenseKey {
            licensee: "ACME Corp".to_string(),
            plan: LicensedPlan::Paid,
            issued_at: at(0),
            expires_at: expires.map(at),
            max_new_twins_per_month: None,
        }
    }

    fn issued(expires: Option<i64>) -> String {
        issue_license(&vendor(), &license(expires)).expect("issues")
    }

    #[test]
    fn an_issued_license_verifies_with_the_vendor_key() {
        let text = issued(Some(365));
        assert!(text.starts_with("tandemlic1."));
        let trusted = [vendor().verifying_key()];
        assert_eq!(
            verify_license(&text, &trusted, at(1)),
            Ok(license(Some(365)))
        );
    }

    #[test]
    fn a_wrapped_license_key_still_verifies() {
        let text = issued(None);
        let wrapped = format!("  {}\r\n  {}\n", &text[..30], &text[30..]);
        let trusted = [vendor().verifying_key()];
        assert_eq!(verify_license(&wrapped, &trusted, at(1)), Ok(license(None)));
    }

    #[test]
    fn a_license_from_another_vendor_key_is_refused() {
        let other = SigningKey::from_bytes(&[7; 32]).verifying_key();
        assert_eq!(
            verify_license(&issued(None), &[other], at(1)),
            Err(LicenseError::BadSignature)
        );
        let both = [other, vendor().verifying_key()];
        assert!(verify_license(&issued(None), &both, at(1)).is_ok());
        assert_eq!(
            verify_license(&issued(None), &[], at(1)),
            Err(LicenseError::NoTrustedKey)
        );
    }

    #[test]
    fn an_expired_license_is_refused_with_its_date() {
        let err = verify_license(&issued(Some(30)), &[vendor().verifying_key()], at(30))
            .expect_err("expired");
        assert_eq!(
            err.to_string(),
            "the license key for ACME Corp expired on 2026-12-27: ask the vendor for a new one"
        );
    }

    #[test]
    fn a_changed_or_cut_license_is_refused() {
        let text = issued(None);
        let trusted = [vendor().verifying_key()];
        let mut changed = text.clone().into_bytes();
        let i = 20;
        changed[i] = if changed[i] == b'A' { b'B' } else { b'A' };
        let changed = String::from_utf8(changed).expect("ascii");
        assert!(verify_license(&changed, &trusted, at(1)).is_err());
        assert!(verify_license(&text[..text.len() - 3], &trusted, at(1)).is_err());
        assert_eq!(
            verify_license("tandemlic1.abc", &trusted, at(1)),
            Err(LicenseError::Damaged)
        );
        assert_eq!(
            verify_license("hello", &trusted, at(1)),
            Err(LicenseError::NotALicenseKey)
        );
    }

    #[test]
    fn a_signature_over_garbage_is_refused_as_malformed() {
        let payload = b"not json".to_vec();
        let signature = vendor().sign(&signed_text(&payload));
        let text = format!(
            "tandemlic1.{}",
            URL_SAFE_NO_PAD.encode([payload, signature.to_bytes().to_vec()].concat())
        );
        assert!(matches!(
            verify_license(&text, &[vendor().verifying_key()], at(1)),
            Err(LicenseError::Malformed(_))
        ));
    }

    #[test]
    fn a_generated_keypair_issues_and_verifies() {
        let pair = generate_vendor_keypair().expect("random");
        assert!(!format!("{pair:?}").contains(&pair.secret));
        let signing = parse_vendor_signing_key(&pair.secret).expect("valid");
        let public = parse_vendor_public_key(&pair.public).expect("valid");
        let text = issue_license(&signing, &license(None)).expect("issues");
        assert!(verify_license(&text, &[public], at(1)).is_ok());
        assert!(parse_vendor_public_key("short").is_err());
    }

    #[test]
    fn a_license_that_ends_before_it_starts_is_not_issued() {
        assert!(issue_license(&vendor(), &license(Some(0))).is_err());
    }

    #[test]
    fn evaluation_lasts_thirty_days_from_first_start_then_free() {
        assert_eq!(
            Plan::determine(at(0), None, at(29)),
            Plan::Evaluation { ends: at(30) }
        );
        assert_eq!(
            Plan::determine(at(0), None, at(30)),
            Plan::Free { since: at(30) }
        );
    }

    #[test]
    fn a_valid_license_makes_the_node_paid_and_an_expired_one_falls_back() {
        let paid = Plan::determine(at(0), Some(&license(Some(100))), at(50));
        assert_eq!(paid.name(), "Paid");
        assert_eq!(
            Plan::determine(at(0), Some(&license(Some(100))), at(100)),
            Plan::Free { since: at(100) }
        );
        assert_eq!(
            Plan::determine(at(0), Some(&license(Some(10))), at(20)),
            Plan::Evaluation { ends: at(30) }
        );
    }

    #[test]
    fn script_mode_needs_evaluation_or_paid_and_basic_is_always_allowed() {
        let free = Plan::determine(at(0), None, at(40));
        assert!(free.allows_mode(Mode::Basic));
        assert!(!free.allows_mode(Mode::Script));
        assert_eq!(
            free.check_mode(Mode::Script).expect_err("free").to_string(),
            "Script mode needs an Evaluation or Paid license; this node is on the Free plan \
             since 2026-12-27: add a license key on the License page, or use Basic mode"
        );
        assert!(Plan::determine(at(0), None, at(1)).allows_mode(Mode::Script));
        assert!(Plan::determine(at(0), Some(&license(None)), at(90)).allows_mode(Mode::Script));
    }

    #[test]
    fn free_allows_a_thousand_new_twins_a_month_and_others_are_unlimited() {
        let free = Plan::determine(at(0), None, at(40));
        assert_eq!(free.twin_quota(), TwinQuota::PerMonth(1_000));
        assert_eq!(free.check_new_twin(999), Ok(()));
        assert_eq!(
            free.check_new_twin(1_000),
            Err(PlanRefusal::TwinQuotaReached {
                limit: 1_000,
                made: 1_000
            })
        );
        assert_eq!(
            Plan::determine(at(0), None, at(1)).twin_quota(),
            TwinQuota::Unlimited
        );
        let paid = Plan::determine(at(0), Some(&license(None)), at(90));
        assert_eq!(paid.twin_quota(), TwinQuota::Unlimited);
        assert_eq!(paid.check_new_twin(u32::MAX), Ok(()));
        let capped = LicenseKey {
            max_new_twins_per_month: Some(5_000),
            ..license(None)
        };
        assert_eq!(
            Plan::determine(at(0), Some(&capped), at(90)).twin_quota(),
            TwinQuota::PerMonth(5_000)
        );
    }
}
