//! Behaviour across the crate's modules: a whole handshake, and property tests.
