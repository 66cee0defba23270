//! Behaviour across the crate's modules, through its public API only: a whole connection's
//! life (code → accept → keys → signed messages), and property tests for what must hold for any
//! input — round-trips, tamper refusal, no panics on garbage.

mod common;
mod connection_story;
mod invitation_codes;
mod license_keys;
mod signed_requests;
