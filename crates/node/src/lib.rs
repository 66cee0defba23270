//! A Tandem node: its configuration, identity, HTTP API, web console and authentication, on
//! top of a [`tandem_store::Store`].
//!
//! Main entry points: [`config::Config`] (resolved from flags, environment and file),
//! [`server::start`] (returns a [`server::RunningNode`]), and [`demo::seed`] (a realistic
//! project for the demo).
//!
//! **Architecture invariant:** the node never sees SQL; all persistence goes through the
//! `Store` trait. HTTP and JSON shapes stay here (`api::wire`), out of `tandem-model`.

pub mod api;
pub mod auth;
pub mod config;
pub mod connections;
pub mod console;
pub mod demo;
pub mod error;
pub mod identity;
pub mod license;
pub mod log_limit;
pub mod metrics;
pub mod mirror;
pub mod outbound;
pub mod peer;
pub mod secrets;
pub mod server;
pub mod servicenow;
pub mod state;
pub mod storage;
pub mod sync;

pub use config::{Config, ServeArgs};
pub use error::NodeError;
pub use server::{RunningNode, start};
