//! Secrets at rest: values the node must keep but never store in the clear (a connection's
//! root key) are sealed with XChaCha20-Poly1305 under the node's master key.
//!
//! The master key is 32 random bytes in `<data-dir>/master.key` (mode 0600), created on first
//! start, or given by `--master-key` / `TANDEM_MASTER_KEY` (64 hex digits) — every process of a
//! node that shares one database must use the same key. A sealed value reads
//! `v1:` + base64url(nonce ‖ ciphertext); its associated data names where it is stored
//! (`connections:root:<id>`), so a sealed value copied to another row does not open.

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

use crate::error::NodeError;

/// The file in the data directory that holds the master key.
pub const MASTER_KEY_FILE: &str = "master.key";

const PREFIX: &str = "v1:";
/// How every sealed value begins.
pub const SEALED_PREFIX: &str = PREFIX;
const NONCE_LEN: usize = 24;

/// The node's master key. `Debug` never prints it.
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey([redacted])")
    }
}

/// A sealed value that does not open: damaged, or sealed under another master key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "a secret stored for {aad} cannot be opened: the database was made with another master key (check {MASTER_KEY_FILE} or TANDEM_MASTER_KEY), or the value is damaged"
)]
pub struct OpenError {
    aad: String,
}

impl MasterKey {
    /// Reads 64 hex digits.
    pub fn from_hex(text: &str) -> Result<MasterKey, String> {
        let text = text.trim();
        if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err("the master key must be 64 hex digits (32 bytes)".into());
        }
        let mut key = [0u8; 32];
        for (i, byte) in key.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16)
                .map_err(|_| "the master key must be 64 hex digits (32 bytes)".to_string())?;
        }
        Ok(MasterKey(key))
    }

    fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The configured key, or the data directory's key file (created on first start, readable
    /// by the node's user only).
    pub fn load_or_create(
        configured: Option<&str>,
        data_dir: &Path,
    ) -> Result<MasterKey, NodeError> {
        if let Some(hex) = configured {
            return MasterKey::from_hex(hex).map_err(NodeError::Internal);
        }
        let path = data_dir.join(MASTER_KEY_FILE);
        let fail = |reason: String| NodeError::DataDir {
            path: path.display().to_string(),
            reason,
        };
        std::fs::create_dir_all(data_dir).map_err(|e| fail(e.to_string()))?;
        match std::fs::read_to_string(&path) {
            Ok(text) => MasterKey::from_hex(&text).map_err(fail),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut key = [0u8; 32];
                crate::auth::fill_random(&mut key)?;
                let key = MasterKey(key);
                write_private(&path, &key.to_hex()).map_err(|e| fail(e.to_string()))?;
                // Another process may have written its key first: the file decides.
                let text = std::fs::read_to_string(&path).map_err(|e| fail(e.to_string()))?;
                MasterKey::from_hex(&text).map_err(fail)
            }
            Err(e) => Err(fail(e.to_string())),
        }
    }

    /// Seals `plaintext`; `aad` names where the value is stored.
    pub fn seal(&self, plaintext: &[u8], aad: &str) -> Result<String, NodeError> {
        let mut nonce = [0u8; NONCE_LEN];
        crate::auth::fill_random(&mut nonce)?;
        let sealed = self
            .cipher()
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| NodeError::Internal("sealing a secret failed".into()))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(out)))
    }

    /// Opens a value [`MasterKey::seal`] made with the same `aad`.
    pub fn open(&self, sealed: &str, aad: &str) -> Result<Vec<u8>, OpenError> {
        let refuse = || OpenError {
            aad: aad.to_owned(),
        };
        let bytes = sealed
            .strip_prefix(PREFIX)
            .and_then(|b64| URL_SAFE_NO_PAD.decode(b64).ok())
            .filter(|b| b.len() > NONCE_LEN)
            .ok_or_else(refuse)?;
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let nonce = XNonce::try_from(nonce).map_err(|_| refuse())?;
        self.cipher()
            .decrypt(
                &nonce,
                Payload {
                    msg: ciphertext,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| refuse())
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new((&self.0).into())
    }
}

/// Creates `path` with `contents`, readable and writable by its owner only; fails when it
/// already exists (the caller then reads the one that won).
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(mut file) => {
            file.write_all(contents.as_bytes())?;
            file.sync_all()
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> MasterKey {
        MasterKey([byte; 32])
    }

    #[test]
    fn a_sealed_value_opens_with_the_same_key_and_place_only() {
        let sealed = key(1).seal(b"root", "connections:root:a").unwrap();
        assert!(sealed.starts_with("v1:"));
        assert!(!sealed.contains("root"));
        assert_eq!(key(1).open(&sealed, "connections:root:a").unwrap(), b"root");
        assert!(key(2).open(&sealed, "connections:root:a").is_err());
        assert!(key(1).open(&sealed, "connections:root:b").is_err());
        let mut damaged = sealed.clone();
        damaged.pop();
        assert!(key(1).open(&damaged, "connections:root:a").is_err());
        assert!(key(1).open("garbage", "x").is_err());
    }

    #[test]
    fn sealing_twice_gives_different_text() {
        assert_ne!(
            key(1).seal(b"x", "a").unwrap(),
            key(1).seal(b"x", "a").unwrap()
        );
    }

    #[test]
    fn the_key_file_is_created_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let first = MasterKey::load_or_create(None, dir.path()).unwrap();
        let again = MasterKey::load_or_create(None, dir.path()).unwrap();
        assert_eq!(first.0, again.0);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(dir.path().join(MASTER_KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_configured_key_must_be_64_hex_digits() {
        assert!(MasterKey::from_hex(&"ab".repeat(32)).is_ok());
        assert!(MasterKey::from_hex("abc").is_err());
        assert!(MasterKey::from_hex(&"zz".repeat(32)).is_err());
        assert_eq!(
            format!("{:?}", MasterKey::from_hex(&"ab".repeat(32)).unwrap()),
            "MasterKey([redacted])"
        );
    }
}
