//! Signed node-to-node requests and responses.
//!
//! Every request carries four headers: `Tandem-Connection` (the connection id), `Tandem-Timestamp`
//! (Unix seconds), `Tandem-Nonce` (16 random bytes, base64url) and `Tandem-Signature`:
//! base64url of HMAC-SHA256, under the sender's outgoing [`RequestKey`], of
//!
//! ```text
//! v1\n{connection id}\n{method}\n{path and query}\n{timestamp}\n{nonce}\n{base64url(sha256(body))}
//! ```
//!
//! A response carries `Tandem-Timestamp` and `Tandem-Signature` over
//!
//! ```text
//! v1-response\n{connection id}\n{request nonce}\n{status}\n{timestamp}\n{base64url(sha256(body))}
//! ```
//!
//! under the responder's outgoing key, so it answers that one request and no other.
//!
//! **Why HMAC with the derived key rather than Ed25519 with the node keys.** The issue asks that
//! requests be authenticated with a key derived from the invitation secret, and the derived keys
//! are specific to one connection and one direction: a request cannot be moved to another
//! connection or reflected back at its sender even before the connection id in the signed text
//! is checked. Ed25519 on top would add no protection in this design — both node keys and the
//! connection keys live in the same database — and would cost a signature and a verification per
//! message. The signed text follows the stack notes' profile, with the connection id added.
//!
//! Verification order: parse the headers, check the connection, the clock skew (at most
//! [`MAX_CLOCK_SKEW`]), the MAC (constant time), and only then — by the caller, through
//! [`VerifiedRequest::check_replay`] or its own `UNIQUE (connection_id, nonce)` — the nonce, so
//! a forged request never fills the nonce store. Verify before parsing the body.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::Mac;
use jiff::{SignedDuration, Timestamp};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::handshake::RequestKey;
use crate::replay::NonceCache;

/// The most a message's timestamp may differ from the receiver's clock.
pub const MAX_CLOCK_SKEW: SignedDuration = SignedDuration::from_mins(5);

pub const HEADER_CONNECTION: &str = "Tandem-Connection";
pub const HEADER_TIMESTAMP: &str = "Tandem-Timestamp";
pub const HEADER_NONCE: &str = "Tandem-Nonce";
pub const HEADER_SIGNATURE: &str = "Tandem-Signature";

const NONCE_LEN: usize = 16;
const MAX_PATH_LEN: usize = 8192;

/// Why a signed message was refused. Messages name what was wrong and never echo a key or a
/// signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("the message has no {0} header: it was not signed by a Tandem node")]
    MissingHeader(&'static str),
    #[error("the {header} header is malformed: {problem}")]
    MalformedHeader {
        header: &'static str,
        problem: &'static str,
    },
    #[error("the message's {part} cannot be signed: {problem}")]
    Unsignable {
        part: &'static str,
        problem: &'static str,
    },
    #[error("the message is signed for connection {got}, not for connection {expected}")]
    WrongConnection { expected: Uuid, got: Uuid },
    #[error(
        "the message was signed {seconds} s away from this node's clock (at most 300 s allowed): check both nodes' clocks"
    )]
    ClockSkew { seconds: i64 },
    #[error(
        "the message's signature does not match: it was changed on the way, or signed with another connection's key"
    )]
    BadSignature,
    #[error(
        "the message was already received once (its nonce was seen before): a replay is refused"
    )]
    Replayed,
    #[error(
        "too many messages on this connection in the last few minutes to remember them all: retry later"
    )]
    ReplayGuardFull,
    #[error("the system random source failed: {0}")]
    Random(String),
}

/// A request nonce: 16 random bytes as base64url (or, when received, 16 to 64 base64url
/// characters).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Nonce(String);

impl Nonce {
    pub fn random() -> Result<Nonce, RequestError> {
        let mut bytes = [0u8; NONCE_LEN];
        getrandom::fill(&mut bytes).map_err(|e| RequestError::Random(e.to_string()))?;
        Ok(Nonce(URL_SAFE_NO_PAD.encode(bytes)))
    }

    pub fn parse(text: &str) -> Result<Nonce, RequestError> {
        let ok_len = (16..=64).contains(&text.len());
        let ok_chars = text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !ok_len || !ok_chars {
            return Err(RequestError::MalformedHeader {
                header: HEADER_NONCE,
                problem: "a nonce is 16 to 64 base64url characters",
            });
        }
        Ok(Nonce(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The four request headers, as text. The node moves them in and out of its HTTP types.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedHeaders {
    pub connection: String,
    pub timestamp: String,
    pub nonce: String,
    pub signature: String,
}

impl SignedHeaders {
    /// `(name, value)` pairs to set on an outgoing request.
    pub fn pairs(&self) -> [(&'static str, &str); 4] {
        [
            (HEADER_CONNECTION, &self.connection),
            (HEADER_TIMESTAMP, &self.timestamp),
            (HEADER_NONCE, &self.nonce),
            (HEADER_SIGNATURE, &self.signature),
        ]
    }

    /// Reads the headers through `get` (a case-insensitive lookup in the node's header map).
    pub fn from_lookup<'a>(
        get: impl Fn(&'static str) -> Option<&'a str>,
    ) -> Result<SignedHeaders, RequestError> {
        let one = |name| {
            get(name)
                .map(|v| v.trim().to_string())
                .ok_or(RequestError::MissingHeader(name))
        };
        Ok(SignedHeaders {
            connection: one(HEADER_CONNECTION)?,
            timestamp: one(HEADER_TIMESTAMP)?,
            nonce: one(HEADER_NONCE)?,
            signature: one(HEADER_SIGNATURE)?,
        })
    }
}

/// The two response headers, as text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedResponseHeaders {
    pub timestamp: String,
    pub signature: String,
}

impl SignedResponseHeaders {
    pub fn pairs(&self) -> [(&'static str, &str); 2] {
        [
            (HEADER_TIMESTAMP, &self.timestamp),
            (HEADER_SIGNATURE, &self.signature),
        ]
    }

    pub fn from_lookup<'a>(
        get: impl Fn(&'static str) -> Option<&'a str>,
    ) -> Result<SignedResponseHeaders, RequestError> {
        let one = |name| {
            get(name)
                .map(|v| v.trim().to_string())
                .ok_or(RequestError::MissingHeader(name))
        };
        Ok(SignedResponseHeaders {
            timestamp: one(HEADER_TIMESTAMP)?,
            signature: one(HEADER_SIGNATURE)?,
        })
    }
}

/// A request whose signature, connection and time checked out. Its nonce has not been checked
/// yet: call [`VerifiedRequest::check_replay`], or insert `(connection_id, nonce)` into a unique
/// store and keep it until `keep_nonce_until`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use = "the nonce still has to be checked for replay"]
pub struct VerifiedRequest {
    pub connection_id: Uuid,
    pub nonce: Nonce,
    pub timestamp: Timestamp,
    /// After this, the timestamp alone refuses the request, so the nonce can be forgotten.
    pub keep_nonce_until: Timestamp,
}

impl VerifiedRequest {
    /// Refuses the request when its nonce was seen before on this connection.
    pub fn check_replay(
        self,
        cache: &mut impl NonceCache,
        now: Timestamp,
    ) -> Result<VerifiedRequest, RequestError> {
        cache.remember(self.connection_id, &self.nonce, self.keep_nonce_until, now)?;
        Ok(self)
    }
}

/// Signs a request with the sender's outgoing key.
pub fn sign_request(
    key: &RequestKey,
    connection_id: Uuid,
    method: &str,
    path: &str,
    timestamp: Timestamp,
    nonce: &Nonce,
    body: &[u8],
) -> Result<SignedHeaders, RequestError> {
    check_method_and_path(method, path)?;
    let timestamp = timestamp.as_second().to_string();
    let text = request_text(
        connection_id,
        method,
        path,
        &timestamp,
        nonce.as_str(),
        body,
    );
    let mut mac = key.mac();
    mac.update(text.as_bytes());
    Ok(SignedHeaders {
        connection: connection_id.to_string(),
        timestamp,
        nonce: nonce.as_str().to_string(),
        signature: URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()),
    })
}

/// The checks of [`verify_request`] that need no body: the headers are well formed, name
/// `expected_connection`, and were signed within [`MAX_CLOCK_SKEW`] of `now`. A receiver runs
/// them before it reads a body, so a request no node signed costs it no more than its headers.
pub fn check_request_headers(
    expected_connection: Uuid,
    headers: &SignedHeaders,
    now: Timestamp,
) -> Result<(), RequestError> {
    let connection_id =
        Uuid::try_parse(&headers.connection).map_err(|_| RequestError::MalformedHeader {
            header: HEADER_CONNECTION,
            problem: "it is not a connection id",
        })?;
    let timestamp = parse_timestamp(&headers.timestamp)?;
    Nonce::parse(&headers.nonce)?;
    parse_signature(&headers.signature)?;
    if connection_id != expected_connection {
        return Err(RequestError::WrongConnection {
            expected: expected_connection,
            got: connection_id,
        });
    }
    check_skew(timestamp, now)
}

/// Verifies a request with the receiver's incoming key for `expected_connection` — the
/// connection the receiver's route names. See the module docs for the order of the checks.
pub fn verify_request(
    key: &RequestKey,
    expected_connection: Uuid,
    method: &str,
    path: &str,
    body: &[u8],
    headers: &SignedHeaders,
    now: Timestamp,
) -> Result<VerifiedRequest, RequestError> {
    let connection_id =
        Uuid::try_parse(&headers.connection).map_err(|_| RequestError::MalformedHeader {
            header: HEADER_CONNECTION,
            problem: "it is not a connection id",
        })?;
    let timestamp = parse_timestamp(&headers.timestamp)?;
    let nonce = Nonce::parse(&headers.nonce)?;
    let signature = parse_signature(&headers.signature)?;
    check_method_and_path(method, path)?;
    if connection_id != expected_connection {
        return Err(RequestError::WrongConnection {
            expected: expected_connection,
            got: connection_id,
        });
    }
    check_skew(timestamp, now)?;
    let text = request_text(
        connection_id,
        method,
        path,
        &headers.timestamp,
        nonce.as_str(),
        body,
    );
    let mut mac = key.mac();
    mac.update(text.as_bytes());
    mac.verify_slice(&signature)
        .map_err(|_| RequestError::BadSignature)?;
    let keep_nonce_until =
        timestamp
            .checked_add(MAX_CLOCK_SKEW)
            .map_err(|_| RequestError::MalformedHeader {
                header: HEADER_TIMESTAMP,
                problem: "it is out of range",
            })?;
    Ok(VerifiedRequest {
        connection_id,
        nonce,
        timestamp,
        keep_nonce_until,
    })
}

/// Signs a response to the request that carried `request_nonce`, with the responder's outgoing
/// key.
pub fn sign_response(
    key: &RequestKey,
    connection_id: Uuid,
    request_nonce: &Nonce,
    status: u16,
    timestamp: Timestamp,
    body: &[u8],
) -> SignedResponseHeaders {
    let timestamp = timestamp.as_second().to_string();
    let text = response_text(connection_id, request_nonce, status, &timestamp, body);
    let mut mac = key.mac();
    mac.update(text.as_bytes());
    SignedResponseHeaders {
        timestamp,
        signature: URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()),
    }
}

/// Verifies a response with the requester's incoming key: it must answer the request that
/// carried `request_nonce`, on `connection_id`, with this status and body.
pub fn verify_response(
    key: &RequestKey,
    connection_id: Uuid,
    request_nonce: &Nonce,
    status: u16,
    body: &[u8],
    headers: &SignedResponseHeaders,
    now: Timestamp,
) -> Result<(), RequestError> {
    let timestamp = parse_timestamp(&headers.timestamp)?;
    let signature = parse_signature(&headers.signature)?;
    check_skew(timestamp, now)?;
    let text = response_text(
        connection_id,
        request_nonce,
        status,
        &headers.timestamp,
        body,
    );
    let mut mac = key.mac();
    mac.update(text.as_bytes());
    mac.verify_slice(&signature)
        .map_err(|_| RequestError::BadSignature)
}

fn request_text(
    connection_id: Uuid,
    method: &str,
    path: &str,
    timestamp: &str,
    nonce: &str,
    body: &[u8],
) -> String {
    format!(
        "v1\n{connection_id}\n{method}\n{path}\n{timestamp}\n{nonce}\n{}",
        body_hash(body)
    )
}

fn response_text(
    connection_id: Uuid,
    request_nonce: &Nonce,
    status: u16,
    timestamp: &str,
    body: &[u8],
) -> String {
    format!(
        "v1-response\n{connection_id}\n{}\n{status}\n{timestamp}\n{}",
        request_nonce.as_str(),
        body_hash(body)
    )
}

fn body_hash(body: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(body))
}

/// The method and path go into the signed text line by line, so neither may hold a line break.
fn check_method_and_path(method: &str, path: &str) -> Result<(), RequestError> {
    if method.is_empty() || method.len() > 16 || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(RequestError::Unsignable {
            part: "method",
            problem: "it must be 1 to 16 capital letters",
        });
    }
    if !path.starts_with('/') || path.len() > MAX_PATH_LEN {
        return Err(RequestError::Unsignable {
            part: "path",
            problem: "it must start with / and be at most 8192 bytes",
        });
    }
    if path.chars().any(|c| c.is_control() || c == ' ') {
        return Err(RequestError::Unsignable {
            part: "path",
            problem: "it contains spaces or control characters",
        });
    }
    Ok(())
}

/// Unix seconds: digits only (a leading `-` for times before 1970), as written by the signer.
fn parse_timestamp(text: &str) -> Result<Timestamp, RequestError> {
    let malformed = RequestError::MalformedHeader {
        header: HEADER_TIMESTAMP,
        problem: "it is not a time in Unix seconds",
    };
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.is_empty() || digits.len() > 12 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed);
    }
    let seconds: i64 = text.parse().map_err(|_| malformed.clone())?;
    // The signed text holds the header as written: refuse other spellings of the same number.
    if seconds.to_string() != text {
        return Err(malformed);
    }
    Timestamp::from_second(seconds).map_err(|_| malformed)
}

fn parse_signature(text: &str) -> Result<Vec<u8>, RequestError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| RequestError::MalformedHeader {
            header: HEADER_SIGNATURE,
            problem: "it is not base64url",
        })?;
    if bytes.len() != 32 {
        return Err(RequestError::MalformedHeader {
            header: HEADER_SIGNATURE,
            problem: "it is not 32 bytes long",
        });
    }
    Ok(bytes)
}

fn check_skew(timestamp: Timestamp, now: Timestamp) -> Result<(), RequestError> {
    let skew = now.duration_since(timestamp);
    if skew.abs() > MAX_CLOCK_SKEW {
        return Err(RequestError::ClockSkew {
            seconds: skew.as_secs(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONN: Uuid = Uuid::from_u128(0xC0);

    fn key(byte: u8) -> RequestKey {
        RequestKey::from_bytes([byte; 32])
    }

    fn at(second: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + second).expect("in range")
    }

    fn nonce() -> Nonce {
        Nonce::parse("AAAAAAAAAAAAAAAAAAAAAA").expect("valid")
    }

    fn signed() -> SignedHeaders {
        sign_request(&key(1), CONN, "POST", "/p?x=1", at(0), &nonce(), b"{}").expect("signable")
    }

    #[test]
    fn a_signed_request_verifies_and_names_its_nonce() {
        let ok = verify_request(&key(1), CONN, "POST", "/p?x=1", b"{}", &signed(), at(10))
            .expect("verifies");
        assert_eq!(ok.nonce, nonce());
        assert_eq!(ok.connection_id, CONN);
        assert_eq!(ok.keep_nonce_until, at(300));
    }

    #[test]
    fn headers_are_checked_before_the_body_without_the_key() {
        assert_eq!(check_request_headers(CONN, &signed(), at(10)), Ok(()));
        assert!(matches!(
            check_request_headers(Uuid::from_u128(0xC1), &signed(), at(0)),
            Err(RequestError::WrongConnection { .. })
        ));
        assert_eq!(
            check_request_headers(CONN, &signed(), at(301)),
            Err(RequestError::ClockSkew { seconds: 301 })
        );
        let mut bad = signed();
        bad.signature = "not base64!".into();
        assert!(matches!(
            check_request_headers(CONN, &bad, at(0)),
            Err(RequestError::MalformedHeader {
                header: HEADER_SIGNATURE,
                ..
            })
        ));
    }

    #[test]
    fn random_nonces_are_valid_and_differ() {
        let a = Nonce::random().expect("random");
        let b = Nonce::random().expect("random");
        assert_ne!(a, b);
        assert_eq!(Nonce::parse(a.as_str()), Ok(a));
    }

    #[test]
    fn a_missing_header_is_named() {
        let err = SignedHeaders::from_lookup(|name| (name != HEADER_NONCE).then_some("x"));
        assert_eq!(err, Err(RequestError::MissingHeader(HEADER_NONCE)));
        assert!(
            err.unwrap_err()
                .to_string()
                .contains("has no Tandem-Nonce header")
        );
    }

    #[test]
    fn headers_round_trip_through_a_lookup() {
        let headers = signed();
        let pairs = headers.pairs();
        let read = SignedHeaders::from_lookup(|name| {
            pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
        });
        assert_eq!(read, Ok(headers));
    }

    #[test]
    fn other_spellings_of_the_timestamp_are_refused() {
        for text in ["+1800000000", "01800000000", "1.8e9", "", "１"] {
            assert!(parse_timestamp(text).is_err(), "{text}");
        }
        assert_eq!(parse_timestamp("1800000000"), Ok(at(0)));
    }

    #[test]
    fn a_method_or_path_with_a_line_break_cannot_be_signed() {
        let sign = |m, p| sign_request(&key(1), CONN, m, p, at(0), &nonce(), b"");
        assert!(matches!(
            sign("GET", "/a\nb"),
            Err(RequestError::Unsignable { part: "path", .. })
        ));
        assert!(matches!(
            sign("GE\nT", "/a"),
            Err(RequestError::Unsignable { part: "method", .. })
        ));
        assert!(matches!(
            sign("get", "/a"),
            Err(RequestError::Unsignable { .. })
        ));
        assert!(matches!(
            sign("GET", "a"),
            Err(RequestError::Unsignable { .. })
        ));
    }

    #[test]
    fn a_response_is_bound_to_its_request_status_and_body() {
        let headers = sign_response(&key(2), CONN, &nonce(), 200, at(0), b"ok");
        let verify = |nonce: &Nonce, status, body: &[u8]| {
            verify_response(&key(2), CONN, nonce, status, body, &headers, at(1))
        };
        assert_eq!(verify(&nonce(), 200, b"ok"), Ok(()));
        let other = Nonce::parse("BBBBBBBBBBBBBBBBBBBBBB").expect("valid");
        assert_eq!(verify(&other, 200, b"ok"), Err(RequestError::BadSignature));
        assert_eq!(
            verify(&nonce(), 500, b"ok"),
            Err(RequestError::BadSignature)
        );
        assert_eq!(
            verify(&nonce(), 200, b"ok!"),
            Err(RequestError::BadSignature)
        );
        assert_eq!(
            verify_response(&key(3), CONN, &nonce(), 200, b"ok", &headers, at(1)),
            Err(RequestError::BadSignature)
        );
        assert_eq!(
            verify_response(&key(2), CONN, &nonce(), 200, b"ok", &headers, at(400)),
            Err(RequestError::ClockSkew { seconds: 400 })
        );
    }

    #[test]
    fn error_messages_never_contain_the_signature() {
        let headers = signed();
        let err = verify_request(&key(9), CONN, "POST", "/p?x=1", b"{}", &headers, at(0))
            .expect_err("wrong key");
        assert!(!err.to_string().contains(&headers.signature));
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

        /// A header value: random, or a real one with a few characters changed.
        fn header(real: String) -> impl Strategy<Value = String> {
            prop_oneof![
                "\\PC{0,100}",
                "[A-Za-z0-9_=+/-]{0,100}",
                (
                    Just(real),
                    proptest::collection::vec((any::<usize>(), any::<char>()), 0..3)
                )
                    .prop_map(|(real, changes)| {
                        let mut chars: Vec<char> = real.chars().collect();
                        for (at, c) in changes {
                            if !chars.is_empty() {
                                let i = at % chars.len();
                                chars[i] = c;
                            }
                        }
                        chars.into_iter().collect()
                    }),
            ]
        }

        fn headers() -> impl Strategy<Value = SignedHeaders> {
            let real = signed();
            (
                header(real.connection),
                header(real.timestamp),
                header(real.nonce),
                header(real.signature),
            )
                .prop_map(|(connection, timestamp, nonce, signature)| SignedHeaders {
                    connection,
                    timestamp,
                    nonce,
                    signature,
                })
        }

        proptest! {
            #![proptest_config(config())]

            #[test]
            fn any_request_headers_verify_or_are_refused_without_panicking(
                headers in headers(),
                method in "\\PC{0,10}",
                path in "\\PC{0,40}",
            ) {
                let _ = verify_request(&key(1), CONN, &method, &path, b"{}", &headers, at(10));
                let _ = Nonce::parse(&headers.nonce);
                let lookup = SignedHeaders::from_lookup(|name| match name {
                    HEADER_CONNECTION => Some(headers.connection.as_str()),
                    HEADER_TIMESTAMP => Some(headers.timestamp.as_str()),
                    HEADER_NONCE => Some(headers.nonce.as_str()),
                    _ => Some(headers.signature.as_str()),
                });
                prop_assert!(lookup.is_ok());
            }

            #[test]
            fn any_response_headers_verify_or_are_refused_without_panicking(
                timestamp in header(at(0).as_second().to_string()),
                signature in header(signed().signature),
                status in any::<u16>(),
            ) {
                let headers = SignedResponseHeaders { timestamp, signature };
                let _ = verify_response(&key(1), CONN, &nonce(), status, b"{}", &headers, at(10));
            }
        }
    }
}
