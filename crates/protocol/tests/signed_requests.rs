//! Property tests for signed requests: any change to what was signed is refused, and a nonce is
//! accepted once.

use jiff::Timestamp;
use proptest::prelude::*;
use tandem_protocol::{
    Nonce, ReplayGuard, RequestError, RequestKey, SignedHeaders, VerifiedRequest, sign_request,
    verify_request,
};
use uuid::Uuid;

use crate::common::{CONNECTION, at};

fn key() -> RequestKey {
    RequestKey::from_bytes([5; 32])
}

#[derive(Clone, Debug)]
struct Request {
    method: String,
    path: String,
    body: Vec<u8>,
    nonce: Nonce,
}

fn request() -> impl Strategy<Value = Request> {
    (
        prop_oneof![Just("GET"), Just("POST"), Just("PUT"), Just("DELETE")],
        "/[a-z0-9/_-]{0,30}(\\?[a-z0-9=&]{0,20})?",
        proptest::collection::vec(any::<u8>(), 0..200),
        "[A-Za-z0-9_-]{22}",
    )
        .prop_map(|(method, path, body, nonce)| Request {
            method: method.to_string(),
            path,
            body,
            nonce: Nonce::parse(&nonce).expect("valid nonce"),
        })
}

fn sign(r: &Request) -> SignedHeaders {
    sign_request(
        &key(),
        CONNECTION,
        &r.method,
        &r.path,
        at(0),
        &r.nonce,
        &r.body,
    )
    .expect("signable")
}

fn verify(
    r: &Request,
    headers: &SignedHeaders,
    now: Timestamp,
) -> Result<VerifiedRequest, RequestError> {
    verify_request(
        &key(),
        CONNECTION,
        &r.method,
        &r.path,
        &r.body,
        headers,
        now,
    )
}

#[derive(Clone, Debug)]
enum Change {
    Method,
    Path(String),
    Body(Vec<u8>),
    Timestamp(i64),
    Nonce(String),
    Signature(u8, usize),
    Connection(u128),
    Key(u8),
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        Just(Change::Method),
        "/[a-z0-9/_-]{0,30}".prop_map(Change::Path),
        proptest::collection::vec(any::<u8>(), 0..50).prop_map(Change::Body),
        (-300i64..=300).prop_map(Change::Timestamp),
        "[A-Za-z0-9_-]{22}".prop_map(Change::Nonce),
        (1u8.., 0usize..32).prop_map(|(x, i)| Change::Signature(x, i)),
        any::<u128>().prop_map(Change::Connection),
        (0u8..255).prop_map(Change::Key),
    ]
}

proptest! {
    #[test]
    fn any_signed_request_verifies(r in request()) {
        prop_assert!(verify(&r, &sign(&r), at(1)).is_ok());
    }

    #[test]
    fn any_change_to_a_signed_request_is_refused(r in request(), change in change()) {
        let mut headers = sign(&r);
        let mut changed = r.clone();
        let mut verify_key = key();
        match change.clone() {
            Change::Method => {
                changed.method = if r.method == "GET" { "POST".into() } else { "GET".into() };
            }
            Change::Path(path) => changed.path = path,
            Change::Body(body) => changed.body = body,
            Change::Timestamp(delta) => {
                headers.timestamp = (at(0).as_second() + delta).to_string();
            }
            Change::Nonce(nonce) => headers.nonce = nonce,
            Change::Signature(x, i) => {
                use base64::Engine as _;
                use base64::engine::general_purpose::URL_SAFE_NO_PAD;
                let mut sig = URL_SAFE_NO_PAD.decode(&headers.signature).expect("base64");
                sig[i] ^= x;
                headers.signature = URL_SAFE_NO_PAD.encode(sig);
            }
            Change::Connection(id) => headers.connection = Uuid::from_u128(id).to_string(),
            Change::Key(byte) => verify_key = RequestKey::from_bytes([byte; 32]),
        }
        let original = sign(&r);
        let unchanged = changed.method == r.method && changed.path == r.path
            && changed.body == r.body && headers == original && verify_key == key();
        prop_assume!(!unchanged);
        let Request { method, path, body, .. } = &changed;
        let result = verify_request(&verify_key, CONNECTION, method, path, body, &headers, at(1));
        prop_assert!(result.is_err(), "accepted after {change:?}");
    }

    #[test]
    fn arbitrary_headers_never_panic_and_are_refused(
        connection in "\\PC{0,40}",
        timestamp in "\\PC{0,20}",
        nonce in "\\PC{0,70}",
        signature in "\\PC{0,60}",
        method in "\\PC{0,10}",
        path in "\\PC{0,40}",
        body in proptest::collection::vec(any::<u8>(), 0..50),
    ) {
        let headers = SignedHeaders { connection, timestamp, nonce, signature };
        let result = verify_request(&key(), CONNECTION, &method, &path, &body, &headers, at(0));
        prop_assert!(result.is_err());
    }

    #[test]
    fn a_nonce_is_accepted_once_within_the_window(r in request(), later in 0i64..=300) {
        let mut guard = ReplayGuard::default();
        let headers = sign(&r);
        let first = verify(&r, &headers, at(0))
            .expect("authentic")
            .check_replay(&mut guard, at(0));
        prop_assert!(first.is_ok());
        let again = verify(&r, &headers, at(later))
            .expect("authentic")
            .check_replay(&mut guard, at(later));
        prop_assert_eq!(again, Err(RequestError::Replayed));
    }
}

#[test]
fn a_request_outside_the_clock_window_is_refused_with_the_skew() {
    let r = Request {
        method: "POST".into(),
        path: "/x".into(),
        body: b"{}".to_vec(),
        nonce: Nonce::parse("AAAAAAAAAAAAAAAAAAAAAA").expect("valid"),
    };
    let headers = sign(&r);
    let late = verify_request(&key(), CONNECTION, "POST", "/x", b"{}", &headers, at(301));
    assert_eq!(late, Err(RequestError::ClockSkew { seconds: 301 }));
    assert!(
        late.expect_err("late")
            .to_string()
            .contains("301 s away from this node's clock")
    );
    let early = verify_request(&key(), CONNECTION, "POST", "/x", b"{}", &headers, at(-301));
    assert_eq!(early, Err(RequestError::ClockSkew { seconds: -301 }));
}
