//! The sync engine (being built): items as the rules see them ([`item_json`]); the outgoing and
//! incoming processors, the rules runner and the helpers follow.

pub mod engine;
pub mod item_json;
pub mod operations;
pub mod rules;
