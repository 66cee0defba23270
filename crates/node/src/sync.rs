//! The sync engine: items as the rules see them ([`item_json`]), the rules runner ([`rules`])
//! with the script helpers it binds ([`helpers`]), the outgoing and incoming loops
//! ([`engine`]) and the operations on twins ([`operations`]).

pub mod engine;
pub mod helpers;
pub mod item_json;
pub mod operations;
pub mod rules;
