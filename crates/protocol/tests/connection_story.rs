//! One connection from invitation to signed traffic, each side holding only what it would store.

use tandem_protocol::signing::Nonce;
use tandem_protocol::{
    AcceptProofError, Acceptance, AcceptorDescriptor, ConnectionKeys, Invitation, InvitationError,
    ReplayGuard, RequestError, Role, SecretHash, accept_proof, sign_request, sign_response,
    verify_accept_proof, verify_request, verify_response,
};

use crate::common::{ACCEPTOR, CONNECTION, INITIATOR, at, invitation, node_key};

/// The acceptance the acceptor (node key 2) sends at `second`.
fn acceptance(second: i64) -> Acceptance<'static> {
    Acceptance {
        protocol: 1,
        connection_id: CONNECTION,
        acceptor: AcceptorDescriptor {
            node_id: ACCEPTOR,
            public_key: node_key(2).verifying_key(),
            name: "Globex desk",
            url: Some("https://tandem.globex.example"),
            tracker: "builtin",
            acceptor_short_name: "globex",
            initiator_short_name: "acme",
        },
        timestamp: at(second),
        nonce: "c2l4dGVlbi1ieXRlcy1ub25jZQ",
    }
}

/// What the initiator keeps after issuing: the hash, never the code.
fn initiator_store() -> (String, SecretHash) {
    let invitation = invitation();
    (
        invitation.to_code().expect("valid"),
        invitation.secret_hash(),
    )
}

#[test]
fn a_pasted_code_is_accepted_and_both_sides_then_exchange_signed_messages() {
    let (code, stored_hash) = initiator_store();

    // The acceptor: paste (wrapped by a mail client), check, prove.
    let wrapped = format!("\n  {}\r\n{}  \n", &code[..40], &code[40..]);
    let invitation =
        Invitation::decode_for_acceptor(&wrapped, ACCEPTOR, at(3600)).expect("acceptable");
    assert_eq!(invitation.connection_name, "acme_to_globex");
    assert_eq!(invitation.initiator_node_id, INITIATOR);
    let proof = accept_proof(
        &invitation.secret_hash(),
        &invitation.terms(),
        &acceptance(3600),
        &node_key(2),
    )
    .expect("signed");

    // The initiator: checks the proof with the stored hash and the terms it recorded, and the
    // signature with the key the acceptance names.
    let recorded = Invitation::decode(&code).expect("its own code");
    verify_accept_proof(
        &stored_hash,
        &recorded.terms(),
        &acceptance(3600),
        &proof.mac,
        &proof.signature.to_bytes(),
        at(3602),
    )
    .expect("the acceptor holds the code");

    // Both derive their keys; the secret never travels again.
    let initiator = ConnectionKeys::derive(
        &stored_hash,
        CONNECTION,
        INITIATOR,
        ACCEPTOR,
        Role::Initiator,
    );
    let acceptor = ConnectionKeys::derive(
        &invitation.secret_hash(),
        CONNECTION,
        INITIATOR,
        ACCEPTOR,
        Role::Acceptor,
    );

    // The acceptor (say, private) polls the initiator.
    let nonce = Nonce::random().expect("random");
    let headers = sign_request(
        &acceptor.outgoing,
        CONNECTION,
        "GET",
        "/api/v1/node/connections/messages?after=0",
        at(3700),
        &nonce,
        b"",
    )
    .expect("signable");
    let mut guard = ReplayGuard::default();
    let verified = verify_request(
        &initiator.incoming,
        CONNECTION,
        "GET",
        "/api/v1/node/connections/messages?after=0",
        b"",
        &headers,
        at(3701),
    )
    .expect("authentic")
    .check_replay(&mut guard, at(3701))
    .expect("first time");

    // The initiator answers, bound to that request; the acceptor checks the answer.
    let body = br#"{"messages":[]}"#;
    let answer = sign_response(
        &initiator.outgoing,
        CONNECTION,
        &verified.nonce,
        200,
        at(3701),
        body,
    );
    verify_response(
        &acceptor.incoming,
        CONNECTION,
        &nonce,
        200,
        body,
        &answer,
        at(3702),
    )
    .expect("authentic answer");

    // The same request again is a replay.
    let again = verify_request(
        &initiator.incoming,
        CONNECTION,
        "GET",
        "/api/v1/node/connections/messages?after=0",
        b"",
        &headers,
        at(3710),
    )
    .expect("still authentic")
    .check_replay(&mut guard, at(3710));
    assert_eq!(again, Err(RequestError::Replayed));
}

#[test]
fn a_proof_from_someone_without_the_code_is_refused() {
    let (code, stored_hash) = initiator_store();
    let terms = Invitation::decode(&code).expect("its own code");
    let guessed = tandem_protocol::InvitationSecret::from_bytes([8; 32]).hash();
    // It signs with the acceptor's own key, yet without the code the MAC is wrong.
    let proof =
        accept_proof(&guessed, &terms.terms(), &acceptance(0), &node_key(2)).expect("signed");
    assert_eq!(
        verify_accept_proof(
            &stored_hash,
            &terms.terms(),
            &acceptance(0),
            &proof.mac,
            &proof.signature.to_bytes(),
            at(0)
        ),
        Err(AcceptProofError::BadProof)
    );
}

#[test]
fn a_request_signed_for_another_connection_is_refused() {
    let (_, hash) = initiator_store();
    let other_connection = uuid::Uuid::from_u128(0xC1);
    let ours = ConnectionKeys::derive(&hash, CONNECTION, INITIATOR, ACCEPTOR, Role::Initiator);
    let theirs =
        ConnectionKeys::derive(&hash, other_connection, INITIATOR, ACCEPTOR, Role::Acceptor);
    let nonce = Nonce::random().expect("random");
    let sign = |connection| {
        sign_request(
            &theirs.outgoing,
            connection,
            "POST",
            "/x",
            at(0),
            &nonce,
            b"{}",
        )
        .expect("signable")
    };
    // Signed for the other connection and sent to ours: named as such.
    assert_eq!(
        verify_request(
            &ours.incoming,
            CONNECTION,
            "POST",
            "/x",
            b"{}",
            &sign(other_connection),
            at(0)
        ),
        Err(RequestError::WrongConnection {
            expected: CONNECTION,
            got: other_connection
        })
    );
    // Relabelled as ours, but made with the other connection's key: the signature fails.
    assert_eq!(
        verify_request(
            &ours.incoming,
            CONNECTION,
            "POST",
            "/x",
            b"{}",
            &sign(CONNECTION),
            at(0)
        ),
        Err(RequestError::BadSignature)
    );
}

#[test]
fn a_request_reflected_back_at_its_sender_is_refused() {
    let (_, hash) = initiator_store();
    let initiator = ConnectionKeys::derive(&hash, CONNECTION, INITIATOR, ACCEPTOR, Role::Initiator);
    let nonce = Nonce::random().expect("random");
    let headers = sign_request(
        &initiator.outgoing,
        CONNECTION,
        "POST",
        "/x",
        at(0),
        &nonce,
        b"{}",
    )
    .expect("signable");
    assert_eq!(
        verify_request(
            &initiator.incoming,
            CONNECTION,
            "POST",
            "/x",
            b"{}",
            &headers,
            at(0)
        ),
        Err(RequestError::BadSignature)
    );
}

#[test]
fn an_expired_or_own_code_is_refused_before_any_handshake() {
    let (code, _) = initiator_store();
    assert_eq!(
        Invitation::decode_for_acceptor(&code, INITIATOR, at(1)),
        Err(InvitationError::OwnCode)
    );
    let expired = Invitation::decode_for_acceptor(&code, ACCEPTOR, at(72 * 3600));
    assert!(matches!(expired, Err(InvitationError::Expired { .. })));
    assert_eq!(
        expired.expect_err("expired").to_string(),
        "invitation code has expired (made 2026-11-20 14:00 UTC, valid 72 h): ask the other admin for a new one"
    );
}
