//! The sync engine: items as the rules see them ([`item_json`]), the rules runner ([`rules`])
//! with the script helpers it binds ([`helpers`]), the outgoing and incoming loops
//! ([`engine`]) and the operations on twins ([`operations`]); [`report`] tells the remote when
//! its change failed here; [`html`] holds the rich-text conversions of `nodeHelper`.

pub mod conflicts;
pub mod engine;
pub mod entity;
pub mod exalate;
pub mod helpers;
#[cfg(test)]
mod host_api_tests;
pub mod html;
pub mod item_json;
pub mod jobs;
pub mod label;
pub mod operations;
pub mod platforms;
pub mod reference;
pub mod report;
pub mod rules;
pub mod scope;
pub mod verify;
