//! Property tests for license keys: any license round-trips, a changed character is refused,
//! garbage never panics.

use ed25519_dalek::SigningKey;
use proptest::prelude::*;
use proptest::sample::Index;
use tandem_protocol::{LicenseKey, LicensedPlan, issue_license, verify_license};

use crate::common::at;

fn vendor() -> SigningKey {
    SigningKey::from_bytes(&[42; 32])
}

fn license() -> impl Strategy<Value = LicenseKey> {
    (
        "[^\\p{Cc}]{1,40}".prop_filter("not blank", |s| !s.trim().is_empty()),
        0i64..1_000_000,
        proptest::option::of(1i64..100_000_000),
        proptest::option::of(any::<u32>()),
    )
        .prop_map(|(licensee, issued, lasts, twins)| LicenseKey {
            licensee,
            plan: LicensedPlan::Paid,
            issued_at: at(issued),
            expires_at: lasts.map(|l| at(issued + l)),
            max_new_twins_per_month: twins,
        })
}

proptest! {
    #[test]
    fn any_license_round_trips_while_valid(license in license()) {
        let text = issue_license(&vendor(), &license).expect("issues");
        prop_assert_eq!(
            verify_license(&text, &[vendor().verifying_key()], license.issued_at),
            Ok(license)
        );
    }

    #[test]
    fn any_single_changed_character_is_refused(index in any::<Index>(), replacement in any::<char>()) {
        let license = LicenseKey {
            licensee: "ACME".into(),
            plan: LicensedPlan::Paid,
            issued_at: at(0),
            expires_at: None,
            max_new_twins_per_month: None,
        };
        let text = issue_license(&vendor(), &license).expect("issues");
        let mut chars: Vec<char> = text.chars().collect();
        let i = index.index(chars.len());
        prop_assume!(chars[i] != replacement && !replacement.is_whitespace());
        prop_assume!(!(i < 11 && chars[i].eq_ignore_ascii_case(&replacement)));
        chars[i] = replacement;
        let changed: String = chars.into_iter().collect();
        prop_assert!(verify_license(&changed, &[vendor().verifying_key()], at(0)).is_err());
    }

    #[test]
    fn verifying_any_text_never_panics(text in "\\PC*") {
        let _ = verify_license(&text, &[vendor().verifying_key()], at(0));
        let _ = verify_license(&format!("tandemlic1.{text}"), &[vendor().verifying_key()], at(0));
    }
}
