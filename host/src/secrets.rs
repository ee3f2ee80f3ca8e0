//! High-entropy secrets: client secrets and personal access tokens. They are generated
//! here, shown once, and stored as SHA-256 digests (a slow password hash buys nothing for
//! 256 random bits); verification compares digests in constant time.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::clock::{Entropy, EntropyError, random_bytes};

/// Prefix of personal access tokens, so that leaked tokens are recognisable.
pub const PAT_PREFIX: &str = "khp_";

/// A new client secret: 32 random bytes, base64url, 43 characters.
pub fn new_client_secret(entropy: &dyn Entropy) -> Result<String, EntropyError> {
    Ok(URL_SAFE_NO_PAD.encode(random_bytes(entropy, 32)?))
}

/// A new personal access token: `khp_` and 32 random bytes, base64url.
pub fn new_personal_access_token(entropy: &dyn Entropy) -> Result<String, EntropyError> {
    Ok(format!("{PAT_PREFIX}{}", URL_SAFE_NO_PAD.encode(random_bytes(entropy, 32)?)))
}

/// The stored form of a secret: lowercase hex SHA-256.
pub fn digest(secret: &str) -> String {
    sha256_hex(secret.as_bytes())
}

/// Lowercase hex SHA-256 of `bytes` (secrets' digests, components' content hashes).
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes);
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `presented` hashes to `stored_digest`, compared in constant time.
pub fn verify(presented: &str, stored_digest: &str) -> bool {
    let presented = digest(presented);
    constant_time_eq(presented.as_bytes(), stored_digest.as_bytes())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::clock::SystemEntropy;

    #[test]
    fn client_secrets_are_43_characters_and_verify_against_their_digest() {
        let secret = new_client_secret(&SystemEntropy).unwrap();
        assert_eq!(secret.len(), 43);
        let stored = digest(&secret);
        assert_eq!(stored.len(), 64);
        assert!(verify(&secret, &stored));
        assert!(!verify(&format!("{secret}x"), &stored));
        assert!(!verify("", &stored));
    }

    #[test]
    fn personal_access_tokens_are_prefixed_and_unique() {
        let a = new_personal_access_token(&SystemEntropy).unwrap();
        let b = new_personal_access_token(&SystemEntropy).unwrap();
        assert!(a.starts_with(PAT_PREFIX));
        assert_ne!(a, b);
    }
}
