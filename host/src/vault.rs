//! Encryption at rest for signing keys, extension secrets and TOTP secrets: AES-256-GCM under a node key that never
//! enters the database. The key comes from `KEYHAVEN_SECRETS_KEY` (base64url, 32 bytes) or
//! a key file (created with mode 0600 at first start when absent). Each ciphertext is bound
//! to its tenant, extension and name as associated data, so a sealed value copied to
//! another row (or tenant) does not open.

use std::path::Path;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::clock::{Entropy, EntropyError};

const KEY_LEN: usize = 32;

/// A secret as stored: nonce and ciphertext (with its tag).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealedSecret {
    pub nonce: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

impl SealedSecret {
    /// One text column's worth: `nonce.ciphertext`, both base64url.
    pub fn to_text(&self) -> String {
        format!("{}.{}", URL_SAFE_NO_PAD.encode(&self.nonce), URL_SAFE_NO_PAD.encode(&self.ciphertext))
    }

    pub fn from_text(text: &str) -> Option<SealedSecret> {
        let (nonce, ciphertext) = text.split_once('.')?;
        Some(SealedSecret {
            nonce: URL_SAFE_NO_PAD.decode(nonce).ok()?,
            ciphertext: URL_SAFE_NO_PAD.decode(ciphertext).ok()?,
        })
    }
}

/// The associated data of a TOTP factor's sealed secret.
pub fn totp_context(tenant_id: &str, factor_id: &str) -> String {
    format!("totp\0{tenant_id}\0{factor_id}")
}

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("the secrets key must be 32 bytes, base64url-encoded")]
    BadKey,
    #[error("cannot read or create the secrets key file {path}: {source}")]
    KeyFile { path: String, source: std::io::Error },
    #[error(transparent)]
    Entropy(#[from] EntropyError),
    #[error("a sealed secret does not open with this node's key (wrong key, or the row was altered)")]
    Open,
    #[error("cannot seal the secret")]
    Seal,
}

/// Seals and opens secrets with the node key.
pub struct Vault {
    key: LessSafeKey,
    /// Keys digests of request bodies (idempotency fingerprints), which may carry passwords:
    /// without the node key, a copy of the database gives nothing to guess against.
    fingerprints: aws_lc_rs::hmac::Key,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Vault")
    }
}

impl Vault {
    /// A vault from a base64url-encoded 32-byte key.
    pub fn from_encoded(encoded: &str) -> Result<Vault, VaultError> {
        let bytes = URL_SAFE_NO_PAD.decode(encoded.trim().trim_end_matches('=')).map_err(|_| VaultError::BadKey)?;
        Self::from_bytes(&bytes)
    }

    fn from_bytes(bytes: &[u8]) -> Result<Vault, VaultError> {
        if bytes.len() != KEY_LEN {
            return Err(VaultError::BadKey);
        }
        let key = UnboundKey::new(&AES_256_GCM, bytes).map_err(|_| VaultError::BadKey)?;
        // A key of its own for fingerprints, derived so it never equals the sealing key.
        let derived = aws_lc_rs::hmac::sign(
            &aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, bytes),
            b"keyhaven fingerprints",
        );
        let fingerprints = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, derived.as_ref());
        Ok(Vault { key: LessSafeKey::new(key), fingerprints })
    }

    /// The key in `path`, creating the file with a new random key if it does not exist.
    pub fn load_or_create(path: &Path, entropy: &dyn Entropy) -> Result<Vault, VaultError> {
        let io = |source| VaultError::KeyFile { path: path.display().to_string(), source };
        match std::fs::read_to_string(path) {
            Ok(encoded) => Self::from_encoded(&encoded),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut key = [0u8; KEY_LEN];
                entropy.fill(&mut key)?;
                if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(parent).map_err(io)?;
                }
                write_private(path, &URL_SAFE_NO_PAD.encode(key)).map_err(io)?;
                Self::from_bytes(&key)
            }
            Err(e) => Err(io(e)),
        }
    }

    /// Encrypts `plaintext`, bound to `context` (e.g. tenant, extension and name).
    pub fn seal(&self, entropy: &dyn Entropy, plaintext: &str, context: &str) -> Result<SealedSecret, VaultError> {
        let mut nonce = [0u8; NONCE_LEN];
        entropy.fill(&mut nonce)?;
        let mut data = plaintext.as_bytes().to_vec();
        self.key
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(context.as_bytes()), &mut data)
            .map_err(|_| VaultError::Seal)?;
        Ok(SealedSecret { nonce: nonce.to_vec(), ciphertext: data })
    }

    /// A keyed digest (HMAC-SHA-256, hex) of `data`: the same on every node sharing this key.
    pub fn fingerprint(&self, data: &[u8]) -> String {
        let tag = aws_lc_rs::hmac::sign(&self.fingerprints, data);
        tag.as_ref().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Decrypts a sealed secret bound to `context`.
    pub fn open(&self, sealed: &SealedSecret, context: &str) -> Result<String, VaultError> {
        let nonce = Nonce::try_assume_unique_for_key(&sealed.nonce).map_err(|_| VaultError::Open)?;
        let mut data = sealed.ciphertext.clone();
        let plaintext =
            self.key.open_in_place(nonce, Aad::from(context.as_bytes()), &mut data).map_err(|_| VaultError::Open)?;
        String::from_utf8(plaintext.to_vec()).map_err(|_| VaultError::Open)
    }
}

#[cfg(unix)]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.write_all(contents.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    std::fs::write(path, contents)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::clock::SystemEntropy;

    #[test]
    fn a_sealed_secret_opens_only_with_its_key_and_context() {
        let dir = std::env::temp_dir().join(format!("keyhaven-vault-{}", std::process::id()));
        let path = dir.join("secrets.key");
        let _ = std::fs::remove_file(&path);
        let vault = Vault::load_or_create(&path, &SystemEntropy).unwrap();
        let sealed = vault.seal(&SystemEntropy, "api-key-123", "tn_a/otp/api_key").unwrap();
        assert!(!sealed.ciphertext.windows(11).any(|w| w == b"api-key-123"));
        assert_eq!(vault.open(&sealed, "tn_a/otp/api_key").unwrap(), "api-key-123");
        assert!(matches!(vault.open(&sealed, "tn_b/otp/api_key"), Err(VaultError::Open)));
        let reloaded = Vault::load_or_create(&path, &SystemEntropy).unwrap();
        assert_eq!(reloaded.open(&sealed, "tn_a/otp/api_key").unwrap(), "api-key-123");
        let other = Vault::from_encoded(&URL_SAFE_NO_PAD.encode([7u8; 32])).unwrap();
        assert!(matches!(other.open(&sealed, "tn_a/otp/api_key"), Err(VaultError::Open)));
        assert!(matches!(Vault::from_encoded("short"), Err(VaultError::BadKey)));
        let _ = std::fs::remove_dir_all(dir);
    }
}
