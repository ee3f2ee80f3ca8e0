//! High-entropy secrets: client secrets, personal access tokens and session tokens. They
//! are generated here, shown once, and stored as SHA-256 digests (a slow password hash buys
//! nothing for 256 random bits); verification compares digests in constant time. Passwords,
//! which people choose, are the exception: argon2id with a random salt.

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

/// A password's stored form: argon2id (the crate's default parameters: 19 MiB, 2 passes)
/// in PHC string form, with a 16-byte salt from `entropy`. Slow on purpose: call it off the
/// async executor.
pub fn hash_password(entropy: &dyn Entropy, password: &str) -> Result<String, PasswordError> {
    use argon2::PasswordHasher as _;
    let salt = random_bytes(entropy, 16)?;
    let salt = argon2::password_hash::SaltString::encode_b64(&salt).map_err(|e| PasswordError(e.to_string()))?;
    let hash = argon2::Argon2::default().hash_password(password.as_bytes(), &salt);
    Ok(hash.map_err(|e| PasswordError(e.to_string()))?.to_string())
}

/// Whether `password` matches a stored argon2 hash. Slow on purpose, as [`hash_password`].
pub fn verify_password(password: &str, stored: &str) -> bool {
    use argon2::PasswordVerifier as _;
    match argon2::PasswordHash::new(stored) {
        Ok(hash) => argon2::Argon2::default().verify_password(password.as_bytes(), &hash).is_ok(),
        Err(_) => false,
    }
}

/// A password could not be hashed.
#[derive(Debug, thiserror::Error)]
#[error("cannot hash the password: {0}")]
pub struct PasswordError(String);

impl From<EntropyError> for PasswordError {
    fn from(e: EntropyError) -> Self {
        PasswordError(e.to_string())
    }
}

/// Whether two byte strings are equal, in time that does not depend on where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
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

    #[test]
    fn passwords_are_salted_argon2id_and_verify() {
        let first = hash_password(&SystemEntropy, "correct horse battery").unwrap();
        let second = hash_password(&SystemEntropy, "correct horse battery").unwrap();
        assert!(first.starts_with("$argon2id$"));
        assert_ne!(first, second, "a fresh salt each time");
        assert!(verify_password("correct horse battery", &first));
        assert!(!verify_password("correct horse battery!", &first));
        assert!(!verify_password("anything", "not a hash"));
    }
}
