//! Regression tests for issue 13's findings: each attack that once worked against a node, tried
//! again as the attacker would (a network attacker, a connected peer, an API token holder, a
//! console user, a script author, a local user), and what it gets now. `docs/SECURITY.md` says
//! which code holds each boundary.

pub(crate) mod auth;
mod handshake;
mod http;
mod outbound;
mod parsers;
mod scope;
mod script_limits;
