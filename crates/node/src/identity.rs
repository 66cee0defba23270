//! The node's identity: a stable id and an Ed25519 key pair, created on first start and kept in
//! the database as `<id>.<private key sealed with the master key>`. An identity an older version
//! stored in the clear (`<id>.<base64url seed>`) is sealed in place on start. Other nodes know
//! this node by its public key; it signs this node's acceptances of invitation codes (the
//! initiator checks the signature against the key the acceptance names). The private key never
//! leaves this type: it signs through [`Signer`].

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, SignatureError, Signer, SigningKey, VerifyingKey};
use tandem_store::Store;

use crate::error::NodeError;
use crate::secrets::MasterKey;

const SETTING: &str = "node.identity";
/// What the sealed key is bound to: it does not open anywhere else.
const KEY_AAD: &str = "setting:node.identity";

pub struct Identity {
    pub id: uuid::Uuid,
    signing_key: SigningKey,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("id", &self.id)
            .field("public_key", &self.public_key_base64())
            .finish_non_exhaustive()
    }
}

impl Identity {
    /// Loads the identity, creating and storing it on first start. When several processes
    /// start at once, the first to store its identity wins and the others adopt it.
    pub async fn load_or_create(
        store: &dyn Store,
        master_key: &MasterKey,
    ) -> Result<Identity, NodeError> {
        let fresh = {
            let mut seed = [0u8; 32];
            crate::auth::fill_random(&mut seed)?;
            let sealed = master_key.seal(&seed, KEY_AAD)?;
            seed.fill(0);
            format!("{}.{sealed}", uuid::Uuid::now_v7())
        };
        let stored = store.set_setting_if_absent(SETTING, &fresh).await?;
        let damaged = || {
            NodeError::Internal(format!(
                "the node identity stored in the database ('{SETTING}') is damaged"
            ))
        };
        let (id, key) = stored.split_once('.').ok_or_else(damaged)?;
        let id = uuid::Uuid::parse_str(id).map_err(|_| damaged())?;
        let seed: [u8; 32] = if key.starts_with(crate::secrets::SEALED_PREFIX) {
            master_key
                .open(key, KEY_AAD)
                .map_err(|e| NodeError::Internal(e.to_string()))?
                .try_into()
                .map_err(|_| damaged())?
        } else {
            // Stored in the clear by an older version: seal it now, in place.
            let seed: [u8; 32] = URL_SAFE_NO_PAD
                .decode(key)
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(damaged)?;
            let sealed = format!("{id}.{}", master_key.seal(&seed, KEY_AAD)?);
            store.set_setting(SETTING, &sealed).await?;
            tracing::info!("The node's identity key was stored in the clear: it is sealed now.");
            seed
        };
        Ok(Identity {
            id,
            signing_key: SigningKey::from_bytes(&seed),
        })
    }

    pub fn verifying_key(&self) -> VerifyingKey {
        self.signing_key.verifying_key()
    }

    pub fn public_key_base64(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.verifying_key().to_bytes())
    }
}

impl Signer<Signature> for Identity {
    fn try_sign(&self, message: &[u8]) -> Result<Signature, SignatureError> {
        self.signing_key.try_sign(message)
    }
}
