//! Property tests for invitation codes: any valid invitation round-trips, any one changed
//! character or cut is refused, and no input makes decoding panic.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jiff::SignedDuration;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;
use sha2::{Digest, Sha256};
use tandem_protocol::{Invitation, InvitationError, InvitationSecret, IssueParams, Mode};
use uuid::Uuid;

use crate::common::{at, invitation, params};

fn name() -> impl Strategy<Value = String> {
    // Any printable text without surrounding spaces, 1 to 100 bytes.
    "[^\\p{Cc}\\s][^\\p{Cc}]{0,20}[^\\p{Cc}\\s]|[^\\p{Cc}\\s]"
        .prop_filter("at most 100 bytes", |s| s.len() <= 100)
}

fn any_params() -> impl Strategy<Value = IssueParams> {
    (
        any::<u128>(),
        any::<u128>(),
        proptest::option::of("https?://[a-z0-9.-]{1,40}(:[0-9]{1,5})?(/[a-z0-9/]{0,20})?"),
        any::<bool>(),
        any::<[u8; 32]>(),
        (name(), name(), name()),
        prop_oneof![Just(Mode::Basic), Just(Mode::Script)],
        60i64..=30 * 24 * 3600,
    )
        .prop_filter("some node can reach the other", |p| p.2.is_some() || !p.3)
        .prop_map(
            |(node, connection, url, private, key, (conn_name, local, remote), mode, valid)| {
                IssueParams {
                    initiator_node_id: Uuid::from_u128(node),
                    initiator_url: url,
                    acceptor_private: private,
                    initiator_public_key: ed25519_dalek::SigningKey::from_bytes(&key)
                        .verifying_key(),
                    connection_id: Uuid::from_u128(connection),
                    connection_name: conn_name,
                    initiator_short_name: local,
                    acceptor_short_name: remote,
                    mode,
                    valid_for: SignedDuration::from_secs(valid),
                }
            },
        )
}

/// What mail clients and editors put into long lines.
fn blank() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        Just("\n"),
        Just("\r\n"),
        Just(" "),
        Just("\t"),
        Just("\u{a0}")
    ]
}

/// A code around any payload, with a correct checksum: what a buggy or hostile maker could send.
fn code_around(payload: &[u8]) -> String {
    let digest = Sha256::new()
        .chain_update(b"tandem/v1/invitation-checksum\n")
        .chain_update(payload)
        .finalize();
    let mut bytes = payload.to_vec();
    bytes.extend_from_slice(&digest[..4]);
    format!("tandem1.{}", URL_SAFE_NO_PAD.encode(bytes))
}

proptest! {
    #[test]
    fn any_valid_invitation_round_trips(
        params in any_params(),
        secret in any::<[u8; 32]>(),
        now in 0i64..10_000_000,
    ) {
        let secret = InvitationSecret::from_bytes(secret);
        let made = Invitation::issue_with_secret(params, at(now), secret)
            .expect("valid params");
        prop_assert_eq!(Invitation::decode(&made.to_code().expect("valid")), Ok(made));
    }

    #[test]
    fn any_single_changed_character_is_refused(index in any::<Index>(), replacement in any::<char>()) {
        let code = invitation().to_code().expect("valid");
        let mut chars: Vec<char> = code.chars().collect();
        let i = index.index(chars.len());
        prop_assume!(chars[i] != replacement);
        // The one tolerated change: the case of the "tandem" prefix (phones capitalise it).
        prop_assume!(!(i < 6 && chars[i].eq_ignore_ascii_case(&replacement)));
        chars[i] = replacement;
        let changed: String = chars.into_iter().collect();
        prop_assert!(Invitation::decode(&changed).is_err(), "accepted {changed}");
    }

    #[test]
    fn any_cut_off_code_is_refused(keep in 0usize..300) {
        let code = invitation().to_code().expect("valid");
        prop_assume!(keep < code.len());
        prop_assert!(Invitation::decode(&code[..keep]).is_err());
    }

    #[test]
    fn line_breaks_and_spaces_anywhere_are_ignored(breaks in vec((any::<Index>(), blank()), 0..8)) {
        let code = invitation().to_code().expect("valid");
        let mut wrapped = code.clone();
        for (index, text) in breaks {
            let mut at_char = index.index(wrapped.len() + 1);
            while !wrapped.is_char_boundary(at_char) {
                at_char -= 1;
            }
            wrapped.insert_str(at_char, text);
        }
        prop_assert_eq!(Invitation::decode(&wrapped), Ok(invitation()));
    }

    #[test]
    fn decoding_any_text_never_panics(text in "\\PC*") {
        let _ = Invitation::decode(&text);
        let _ = Invitation::decode(&format!("tandem1.{text}"));
    }

    #[test]
    fn decoding_any_checksummed_payload_never_panics(payload in vec(any::<u8>(), 0..400)) {
        let _ = Invitation::decode(&code_around(&payload));
    }

    #[test]
    fn a_changed_payload_under_a_fresh_checksum_is_malformed_or_reads_differently(
        index in any::<Index>(),
        xor in 1u8..,
    ) {
        // Not tamper-proofing (the checksum is not a secret), but the parser must stay total and
        // never hand back the original invitation for different bytes.
        let code = invitation().to_code().expect("valid");
        let bytes = URL_SAFE_NO_PAD.decode(&code["tandem1.".len()..]).expect("base64");
        let mut payload = bytes[..bytes.len() - 4].to_vec();
        let i = index.index(payload.len());
        payload[i] ^= xor;
        match Invitation::decode(&code_around(&payload)) {
            Ok(read) => prop_assert_ne!(read, invitation()),
            Err(InvitationError::Malformed { .. }) => {}
            Err(other) => prop_assert!(false, "unexpected {other:?}"),
        }
    }
}

#[test]
fn every_change_of_one_character_to_another_code_character_is_refused() {
    // Exhaustive over the alphabet a code is written in: 64 base64url characters and the dot.
    let code = invitation().to_code().expect("valid");
    let alphabet: Vec<char> = ('A'..='Z')
        .chain('a'..='z')
        .chain('0'..='9')
        .chain(['-', '_', '.'])
        .collect();
    for (i, original) in code.char_indices() {
        for &replacement in &alphabet {
            if replacement == original || (i < 6 && replacement.eq_ignore_ascii_case(&original)) {
                continue;
            }
            let mut changed = code.clone();
            changed.replace_range(i..i + 1, &replacement.to_string());
            assert!(
                Invitation::decode(&changed).is_err(),
                "position {i}: {original} -> {replacement} was accepted"
            );
        }
    }
}

#[test]
fn the_code_format_is_pinned() {
    // The first bytes of version 1: a change here breaks codes made by older nodes.
    let code = invitation().to_code().expect("valid");
    let bytes = URL_SAFE_NO_PAD
        .decode(&code["tandem1.".len()..])
        .expect("base64");
    assert_eq!(bytes[0], 1, "version");
    assert_eq!(&bytes[1..17], crate::common::INITIATOR.as_bytes());
    assert_eq!(bytes[17], 1, "flags: URL present, acceptor public");
    assert_eq!(code_around(&bytes[..bytes.len() - 4]), code);
    let _ = params();
}
