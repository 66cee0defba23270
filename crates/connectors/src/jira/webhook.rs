//! Jira webhooks as hints (tracker-apis.md §2.7): check a delivery's signature and read which
//! issue it is about. A webhook registered with a secret carries `X-Hub-Signature:
//! sha256=<hex HMAC-SHA256 of the body>`; [`verify_signature`] checks it in constant time.
//! The payload is not trusted beyond naming an issue: the connector reads the issue again.

use hmac::{KeyInit, Mac};
use serde_json::Value;

use super::client::{id_of, str_of};

/// The header a signed delivery carries.
pub const SIGNATURE_HEADER: &str = "X-Hub-Signature";

/// Whether `signature` (the header's value, `sha256=<hex>`) is the HMAC-SHA256 of `body` under
/// `secret`. Any other algorithm, a malformed value or an empty secret is a mismatch.
pub fn verify_signature(secret: &[u8], body: &[u8], signature: &str) -> bool {
    if secret.is_empty() {
        return false;
    }
    let Some(hex) = signature.trim().strip_prefix("sha256=") else {
        return false;
    };
    let Some(expected) = decode_hex(hex) else {
        return false;
    };
    let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if s.len() != 64 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// What a delivery says happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEvent {
    /// `jira:issue_created`, `jira:issue_updated`, `comment_created`, …
    pub event: String,
    pub issue_id: String,
    pub issue_key: String,
    pub comment_id: Option<String>,
}

impl WebhookEvent {
    /// Reads a delivery's body; `None` when it names no issue.
    pub fn parse(body: &[u8]) -> Option<Self> {
        let v: Value = serde_json::from_slice(body).ok()?;
        let issue = v.get("issue")?;
        let issue_id = id_of(issue, "id");
        if issue_id.is_empty() {
            return None;
        }
        Some(Self {
            event: str_of(&v, "webhookEvent").to_owned(),
            issue_id,
            issue_key: str_of(issue, "key").to_owned(),
            comment_id: v
                .get("comment")
                .map(|c| id_of(c, "id"))
                .filter(|id| !id.is_empty()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(secret: &[u8], body: &[u8]) -> String {
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret).expect("key");
        mac.update(body);
        let bytes = mac.finalize().into_bytes();
        format!(
            "sha256={}",
            bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
        )
    }

    #[test]
    fn a_signature_is_checked_against_the_body_and_the_secret() {
        let body = br#"{"webhookEvent":"jira:issue_updated","issue":{"id":"10001","key":"SUP-1"}}"#;
        let good = sign(b"s3cret", body);
        assert!(verify_signature(b"s3cret", body, &good));
        assert!(verify_signature(
            b"s3cret",
            body,
            &good.to_uppercase().replace("SHA256=", "sha256=")
        ));
        assert!(!verify_signature(b"other", body, &good));
        assert!(!verify_signature(b"s3cret", b"{}", &good));
        for bad in ["", "sha256=", "sha1=abcd", "sha256=zz", &good[..20]] {
            assert!(!verify_signature(b"s3cret", body, bad), "{bad}");
        }
        assert!(!verify_signature(b"", body, &sign(b"", body)));
    }

    #[test]
    fn a_delivery_names_its_issue() {
        let e = WebhookEvent::parse(
            br#"{"webhookEvent":"comment_created","issue":{"id":"10001","key":"SUP-1"},"comment":{"id":"7"}}"#,
        )
        .expect("event");
        assert_eq!(e.issue_key, "SUP-1");
        assert_eq!(e.comment_id.as_deref(), Some("7"));
        assert_eq!(WebhookEvent::parse(b"not json"), None);
        assert_eq!(WebhookEvent::parse(br#"{"issue":{}}"#), None);
    }
}
