//! A node on ServiceNow: the mirror of the synced tables ([`view`]: records as store items, and
//! as the sync rules see them) and the [`bridge`] that keeps the mirror and the instance in
//! step through the `tandem-connectors` ServiceNow client.

pub mod bridge;
pub mod keys;
pub mod settings;
pub mod trigger;
pub mod view;
