//! A node on ServiceNow: its settings (the instance, the proxy user, the synced tables) and the
//! record numbers admins know items by. How records look as items and to the sync rules is
//! `tandem_connectors::servicenow::ServiceNowSchema`; the [`crate::mirror`] keeps them in step
//! with the instance through the connector.

use std::sync::Arc;

use tandem_connectors::servicenow::{Auth, Client, ClientConfig, ServiceNow, ServiceNowError};

use crate::config::ServiceNowConfig;

pub mod keys;
pub mod push;
pub mod settings;

/// A client of the configured instance.
pub fn client(config: &ServiceNowConfig) -> Result<Client, ServiceNowError> {
    let auth = match &config.oauth {
        Some((id, secret)) => Auth::OAuth {
            client_id: id.clone(),
            client_secret: secret.expose().to_owned(),
            user: config.user.clone(),
            password: config.password.expose().to_owned(),
        },
        None => Auth::Basic {
            user: config.user.clone(),
            password: config.password.expose().to_owned(),
        },
    };
    Client::new(ClientConfig::new(&config.instance_url, auth))
}

/// What the mirror keeps in step with: the instance through `client`.
pub fn mirrored(config: &ServiceNowConfig, client: Arc<Client>) -> crate::mirror::Mirrored {
    crate::mirror::Mirrored {
        tracker: Arc::new(ServiceNow::new(client, crate::mirror::PAGE)),
        origin: config.instance_url.clone(),
        poll_interval: config.poll_interval,
    }
}
