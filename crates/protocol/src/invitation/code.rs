//! The text form of an invitation code.
//!
//! A code is `tandem1.` followed by base64url (no padding) of a compact binary payload and a
//! 4-byte checksum (the first bytes of a domain-separated SHA-256 of the payload). The checksum
//! catches paste accidents — a changed character, a cut-off end — and turns them into
//! [`InvitationError::Damaged`] instead of a confusing field error. It is not a signature:
//! whoever holds the code holds its secret anyway, and the accept handshake
//! ([`crate::handshake`]) is what proves possession. The proof also covers the code's terms
//! (mode, connection name, private or not, expiry), so a code edited with intent and its
//! checksum made good again is refused by the node that made it.
//!
//! Payload, version 1 (integers big-endian):
//!
//! | bytes | field |
//! |---|---|
//! | 1 | version (1) |
//! | 16 | initiator node id |
//! | 1 | flags: bit 0 = initiator URL present, bit 1 = acceptor private ("I don't have a URL") |
//! | 2 + n | initiator node URL (only when bit 0 is set) |
//! | 32 | initiator Ed25519 public key |
//! | 16 | connection id (also the invitation's id) |
//! | 1 + n | connection name, initiator short name, acceptor short name (three strings) |
//! | 1 | mode (0 Basic, 1 Script) |
//! | 8 | created at, Unix seconds |
//! | 4 | valid for, seconds |
//! | 32 | one-time secret |
//!
//! Decoding ignores whitespace anywhere (mail clients wrap long lines) and a few invisible
//! characters editors insert.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::VerifyingKey;
use jiff::{SignedDuration, Timestamp};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{Invitation, InvitationError, InvitationSecret, VERSION};
use crate::Mode;

const PREFIX: &str = "tandem";
const CHECKSUM_LEN: usize = 4;
const CHECKSUM_LABEL: &[u8] = b"tandem/v1/invitation-checksum\n";
const FLAG_URL: u8 = 1;
const FLAG_ACCEPTOR_PRIVATE: u8 = 2;

impl Invitation {
    /// The code to copy. It is a credential: never log it. Fails only when a field was changed
    /// after [`Invitation::issue`] into something a code cannot carry.
    pub fn to_code(&self) -> Result<String, InvitationError> {
        self.check_issuable()?;
        let mut payload = self.payload();
        let checksum = checksum(&payload);
        payload.extend_from_slice(&checksum);
        Ok(format!(
            "{PREFIX}{VERSION}.{}",
            URL_SAFE_NO_PAD.encode(&payload)
        ))
    }

    /// Reads a pasted code. Whitespace anywhere is ignored. Does not check expiry: see
    /// [`Invitation::check_not_expired`] and [`Invitation::check_acceptable`].
    pub fn decode(text: &str) -> Result<Invitation, InvitationError> {
        let cleaned: String = text
            .chars()
            .filter(|c| !c.is_whitespace() && !matches!(c, '\u{200B}' | '\u{FEFF}' | '\u{00AD}'))
            .collect();
        // Phones capitalise the first letter of a paste: the prefix is read in any case.
        let rest = match cleaned.get(..PREFIX.len()) {
            Some(head) if head.eq_ignore_ascii_case(PREFIX) => &cleaned[PREFIX.len()..],
            _ => return Err(InvitationError::NotATandemCode),
        };
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (version, rest) = rest.split_at(digits);
        if version.is_empty() {
            return Err(InvitationError::NotATandemCode);
        }
        let body = rest.strip_prefix('.').ok_or(InvitationError::Damaged)?;
        if version != VERSION.to_string() {
            let found = version.chars().take(10).collect();
            return Err(InvitationError::UnsupportedVersion { found });
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| InvitationError::Damaged)?;
        if bytes.len() <= CHECKSUM_LEN {
            return Err(InvitationError::Damaged);
        }
        let (payload, sum) = bytes.split_at(bytes.len() - CHECKSUM_LEN);
        if checksum(payload) != sum {
            return Err(InvitationError::Damaged);
        }
        let malformed = |(field, problem): (&'static str, String)| InvitationError::Malformed {
            field,
            problem,
        };
        let invitation = Invitation::parse_payload(payload).map_err(malformed)?;
        invitation.check_fields().map_err(malformed)?;
        if invitation.initiator_url.is_none() && invitation.acceptor_private {
            return Err(malformed((
                "the route",
                "lets neither node reach the other".to_string(),
            )));
        }
        Ok(invitation)
    }

    /// [`Invitation::decode`] then [`Invitation::check_acceptable`].
    pub fn decode_for_acceptor(
        text: &str,
        accepting_node_id: Uuid,
        now: Timestamp,
    ) -> Result<Invitation, InvitationError> {
        let invitation = Invitation::decode(text)?;
        invitation.check_acceptable(accepting_node_id, now)?;
        Ok(invitation)
    }

    fn payload(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        out.push(VERSION);
        out.extend_from_slice(self.initiator_node_id.as_bytes());
        let mut flags = 0;
        if self.initiator_url.is_some() {
            flags |= FLAG_URL;
        }
        if self.acceptor_private {
            flags |= FLAG_ACCEPTOR_PRIVATE;
        }
        out.push(flags);
        if let Some(url) = &self.initiator_url {
            // `check_issuable` keeps every length within its prefix's range.
            out.extend_from_slice(&(url.len() as u16).to_be_bytes());
            out.extend_from_slice(url.as_bytes());
        }
        out.extend_from_slice(self.initiator_public_key.as_bytes());
        out.extend_from_slice(self.connection_id.as_bytes());
        for name in [
            &self.connection_name,
            &self.initiator_short_name,
            &self.acceptor_short_name,
        ] {
            out.push(name.len() as u8);
            out.extend_from_slice(name.as_bytes());
        }
        out.push(match self.mode {
            Mode::Basic => 0,
            Mode::Script => 1,
        });
        out.extend_from_slice(&self.created_at.as_second().to_be_bytes());
        out.extend_from_slice(&(self.valid_for().as_secs() as u32).to_be_bytes());
        out.extend_from_slice(self.secret.as_bytes());
        out
    }

    fn parse_payload(payload: &[u8]) -> Result<Invitation, (&'static str, String)> {
        let mut r = Reader(payload);
        let version = r.array::<1>("version")?[0];
        if version != VERSION {
            return Err(("version", format!("says {version} inside a version 1 code")));
        }
        let initiator_node_id = Uuid::from_bytes(r.array("the initiator node id")?);
        let flags = r.array::<1>("flags")?[0];
        if flags & !(FLAG_URL | FLAG_ACCEPTOR_PRIVATE) != 0 {
            return Err(("flags", "has unknown bits set".to_string()));
        }
        let initiator_url = if flags & FLAG_URL != 0 {
            let len = u16::from_be_bytes(r.array("the node URL")?);
            Some(r.string(usize::from(len), "the node URL")?)
        } else {
            None
        };
        let key: [u8; 32] = r.array("the initiator public key")?;
        let initiator_public_key = VerifyingKey::from_bytes(&key).map_err(|_| {
            (
                "the initiator public key",
                "is not an Ed25519 key".to_string(),
            )
        })?;
        let connection_id = Uuid::from_bytes(r.array("the connection id")?);
        let mut names = [const { String::new() }; 3];
        for (name, field) in names.iter_mut().zip([
            "the connection name",
            "the initiator short name",
            "the acceptor short name",
        ]) {
            let len = r.array::<1>(field)?[0];
            *name = r.string(usize::from(len), field)?;
        }
        let [connection_name, initiator_short_name, acceptor_short_name] = names;
        let mode = match r.array::<1>("the mode")?[0] {
            0 => Mode::Basic,
            1 => Mode::Script,
            other => {
                return Err((
                    "the mode",
                    format!("is {other}, which this version does not know"),
                ));
            }
        };
        let created = i64::from_be_bytes(r.array("the creation time")?);
        let created_at = Timestamp::from_second(created)
            .map_err(|_| ("the creation time", "is out of range".to_string()))?;
        let valid_secs = u32::from_be_bytes(r.array("the validity")?);
        let valid_for = SignedDuration::from_secs(i64::from(valid_secs));
        if valid_for.is_zero() {
            return Err(("the validity", "is zero".to_string()));
        }
        let expires_at = created_at
            .checked_add(valid_for)
            .map_err(|_| ("the validity", "ends out of range".to_string()))?;
        let secret = InvitationSecret(r.array("the secret")?);
        if !r.0.is_empty() {
            return Err(("the payload", "has extra bytes at the end".to_string()));
        }
        Ok(Invitation {
            version,
            initiator_node_id,
            initiator_url,
            acceptor_private: flags & FLAG_ACCEPTOR_PRIVATE != 0,
            initiator_public_key,
            connection_id,
            connection_name,
            initiator_short_name,
            acceptor_short_name,
            mode,
            created_at,
            expires_at,
            secret,
        })
    }
}

fn checksum(payload: &[u8]) -> [u8; CHECKSUM_LEN] {
    let digest = Sha256::new()
        .chain_update(CHECKSUM_LABEL)
        .chain_update(payload)
        .finalize();
    let mut out = [0u8; CHECKSUM_LEN];
    out.copy_from_slice(&digest[..CHECKSUM_LEN]);
    out
}

/// Reads fields off the front of a payload; every read names its field when bytes run out.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn array<const N: usize>(
        &mut self,
        field: &'static str,
    ) -> Result<[u8; N], (&'static str, String)> {
        let Some((head, rest)) = self.0.split_first_chunk::<N>() else {
            return Err((field, "is cut short".to_string()));
        };
        self.0 = rest;
        Ok(*head)
    }

    fn string(
        &mut self,
        len: usize,
        field: &'static str,
    ) -> Result<String, (&'static str, String)> {
        if self.0.len() < len {
            return Err((field, "is cut short".to_string()));
        }
        let (head, rest) = self.0.split_at(len);
        self.0 = rest;
        String::from_utf8(head.to_vec()).map_err(|_| (field, "is not UTF-8 text".to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invitation::tests::issued;

    #[test]
    fn a_code_round_trips() {
        let invitation = issued();
        let code = invitation.to_code().expect("valid");
        assert!(code.starts_with("tandem1."), "{code}");
        assert_eq!(Invitation::decode(&code), Ok(invitation));
    }

    #[test]
    fn a_code_is_compact() {
        assert!(
            issued().to_code().expect("valid").len() < 300,
            "{}",
            issued().to_code().expect("valid").len()
        );
    }

    #[test]
    fn decoding_names_what_is_wrong() {
        let code = issued().to_code().expect("valid");
        assert_eq!(
            Invitation::decode("hello"),
            Err(InvitationError::NotATandemCode)
        );
        assert_eq!(Invitation::decode(""), Err(InvitationError::NotATandemCode));
        assert_eq!(
            Invitation::decode("tandemlic1.abc"),
            Err(InvitationError::NotATandemCode)
        );
        assert_eq!(
            Invitation::decode(&code.replacen("tandem1.", "tandem2.", 1)),
            Err(InvitationError::UnsupportedVersion {
                found: "2".to_string()
            })
        );
        assert_eq!(
            Invitation::decode(&code[..code.len() - 5]),
            Err(InvitationError::Damaged)
        );
        assert_eq!(Invitation::decode("tandem1"), Err(InvitationError::Damaged));
        assert_eq!(
            Invitation::decode("tandem1."),
            Err(InvitationError::Damaged)
        );
        assert_eq!(
            Invitation::decode(&format!("{code}!")),
            Err(InvitationError::Damaged)
        );
        assert_eq!(
            InvitationError::Damaged.to_string(),
            "the code was changed or cut off while copying: copy it again"
        );
    }

    #[test]
    fn a_well_checksummed_payload_with_bad_fields_is_malformed() {
        let mut payload = issued().payload();
        payload.push(0);
        let sum = checksum(&payload);
        payload.extend_from_slice(&sum);
        let code = format!("tandem1.{}", URL_SAFE_NO_PAD.encode(&payload));
        assert!(matches!(
            Invitation::decode(&code),
            Err(InvitationError::Malformed {
                field: "the payload",
                ..
            })
        ));
    }

    #[test]
    fn a_field_changed_after_issue_into_something_uncarriable_is_refused() {
        let mut long = issued();
        long.connection_name = "x".repeat(300);
        assert!(matches!(
            long.to_code(),
            Err(InvitationError::InvalidField {
                field: "the connection name",
                ..
            })
        ));
        let mut neither = issued();
        neither.initiator_url = None;
        neither.acceptor_private = true;
        assert_eq!(neither.to_code(), Err(InvitationError::Unreachable));
    }

    #[test]
    fn a_capitalised_prefix_is_read() {
        let code = issued().to_code().expect("valid");
        let capitalised = code.replacen("tandem1.", "Tandem1.", 1);
        assert_eq!(Invitation::decode(&capitalised), Ok(issued()));
    }

    mod random {
        use proptest::prelude::*;
        use proptest::test_runner::{Config, RngSeed};

        use super::*;

        fn config() -> Config {
            Config {
                cases: 256,
                failure_persistence: None,
                rng_seed: RngSeed::Fixed(13),
                ..Config::default()
            }
        }

        proptest! {
            #![proptest_config(config())]

            #[test]
            fn any_text_decodes_or_is_refused_without_panicking(text in "\\PC{0,400}") {
                let _ = Invitation::decode(&text);
            }

            #[test]
            fn any_checksummed_payload_decodes_or_is_refused(
                payload in proptest::collection::vec(any::<u8>(), 0..400),
            ) {
                // Past the checksum: every field read from hostile bytes.
                let mut bytes = payload.clone();
                bytes.extend_from_slice(&checksum(&payload));
                let code = format!("{PREFIX}1.{}", URL_SAFE_NO_PAD.encode(bytes));
                let _ = Invitation::decode(&code);
            }

            #[test]
            fn a_real_payload_cut_or_changed_anywhere_never_panics(
                cut in 0usize..400,
                at in 0usize..400,
                byte in any::<u8>(),
            ) {
                let mut payload = issued().payload();
                let at = at % payload.len();
                payload[at] = byte;
                payload.truncate(cut.min(payload.len()));
                let mut bytes = payload.clone();
                bytes.extend_from_slice(&checksum(&payload));
                let code = format!("{PREFIX}1.{}", URL_SAFE_NO_PAD.encode(bytes));
                let _ = Invitation::decode(&code);
            }
        }
    }
}
