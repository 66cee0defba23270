//! The node's identity: a stable id and an Ed25519 key pair, created on first start and kept in
//! the database. Other nodes know this node by its public key; it signs this node's acceptances
//! of invitation codes (the initiator checks the signature against the key the acceptance
//! names). The private key never leaves this type: it signs through [`Signer`].

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, SignatureError, Signer, SigningKey, VerifyingKey};
use tandem_store::Store;

use crate::error::NodeError;

const SETTING: &str = "node.identity";

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
    pub async fn load_or_create(store: &dyn Store) -> Result<Identity, NodeError> {
        let fresh = {
            let mut seed = [0u8; 32];
            crate::auth::fill_random(&mut seed)?;
            format!("{}.{}", uuid::Uuid::now_v7(), URL_SAFE_NO_PAD.encode(seed))
        };
        let stored = store.set_setting_if_absent(SETTING, &fresh).await?;
        Self::decode(&stored).ok_or_else(|| {
            NodeError::Internal(format!(
                "the node identity stored in the database ('{SETTING}') is damaged"
            ))
        })
    }

    fn decode(text: &str) -> Option<Identity> {
        let (id, key) = text.split_once('.')?;
        let id = uuid::Uuid::parse_str(id).ok()?;
        let seed: [u8; 32] = URL_SAFE_NO_PAD.decode(key).ok()?.try_into().ok()?;
        Some(Identity {
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
