//! Per-tenant signing keys: generation for ES256 (P-256, the default), EdDSA (Ed25519) and
//! RS256 (RSA 2048), the public JWK and its RFC 7638 thumbprint (used as `kid`, so a kid
//! names exactly one key of one tenant), JWS compact signing, and a cache of parsed keys so
//! no request parses a key to sign. Private keys are sealed under the node key before they
//! are stored ([`seal`]) and opened only to be parsed ([`SigningKey::open`]), so a copy of
//! the database alone signs nothing; keys stored before sealing existed are sealed at
//! start ([`seal_stored`]). Verification is in [`super::jws`].

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RSA_PKCS1_SHA256};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

use crate::clock::Entropy;
use crate::storage::{Db, SigningKeyRow, StorageError};
use crate::tenancy::ResourceState;
use crate::vault::{SealedSecret, Vault};

pub const ES256: &str = "ES256";
pub const EDDSA: &str = "EdDSA";
pub const RS256: &str = "RS256";

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot generate a signing key")]
    Generate,
    #[error("stored signing key {kid} cannot be parsed")]
    Parse { kid: String },
    #[error("signing key {kid} uses unsupported algorithm {algorithm}")]
    Algorithm { kid: String, algorithm: String },
    #[error("signing failed")]
    Sign,
    #[error("signing key {kid} does not open with this node's secrets key")]
    Sealed { kid: String },
    #[error("cannot serialise the token: {0}")]
    Serialise(#[from] serde_json::Error),
}

/// A parsed private key, ready to sign.
pub struct SigningKey {
    pub kid: String,
    pub algorithm: &'static str,
    pair: Pair,
}

enum Pair {
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
    Rsa(aws_lc_rs::rsa::KeyPair),
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey").field("kid", &self.kid).field("algorithm", &self.algorithm).finish_non_exhaustive()
    }
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// [`generate`] on a blocking thread: RSA generation takes tens of milliseconds, which the
/// async executor must not wait through.
pub async fn generate_off_executor(tenant_id: &str, algorithm: &str, now: i64) -> Result<SigningKeyRow, KeyError> {
    let (tenant_id, algorithm) = (tenant_id.to_owned(), algorithm.to_owned());
    tokio::task::spawn_blocking(move || generate(&tenant_id, &algorithm, now)).await.map_err(|_| KeyError::Generate)?
}

/// Generates a new key for a tenant with `algorithm` (`ES256`, `EdDSA` or `RS256`), as it
/// is stored.
pub fn generate(tenant_id: &str, algorithm: &str, now: i64) -> Result<SigningKeyRow, KeyError> {
    let (algorithm, private_der, public) = match algorithm {
        ES256 => {
            let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .map_err(|_| KeyError::Generate)?;
            let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref())
                .map_err(|_| KeyError::Generate)?;
            let (x, y) = coordinates(&pair).ok_or(KeyError::Generate)?;
            (ES256, pkcs8.as_ref().to_vec(), json!({"kty": "EC", "crv": "P-256", "x": x, "y": y}))
        }
        EDDSA => {
            let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).map_err(|_| KeyError::Generate)?;
            let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).map_err(|_| KeyError::Generate)?;
            let x = b64(pair.public_key().as_ref());
            (EDDSA, pkcs8.as_ref().to_vec(), json!({"kty": "OKP", "crv": "Ed25519", "x": x}))
        }
        RS256 => {
            let pair = aws_lc_rs::rsa::KeyPair::generate(KeySize::Rsa2048).map_err(|_| KeyError::Generate)?;
            let der = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&pair).map_err(|_| KeyError::Generate)?;
            let public = pair.public_key();
            let n = b64(public.modulus().big_endian_without_leading_zero());
            let e = b64(public.exponent().big_endian_without_leading_zero());
            (RS256, der.as_ref().to_vec(), json!({"kty": "RSA", "n": n, "e": e}))
        }
        other => return Err(KeyError::Algorithm { kid: String::new(), algorithm: other.to_owned() }),
    };
    let kid = jwk_thumbprint(&public);
    let mut jwk = public;
    jwk["kid"] = json!(kid);
    jwk["use"] = json!("sig");
    jwk["alg"] = json!(algorithm);
    Ok(SigningKeyRow {
        kid,
        tenant_id: tenant_id.to_owned(),
        algorithm: algorithm.to_owned(),
        private_der,
        sealed_private: None,
        public_jwk: jwk.to_string(),
        state: ResourceState::Enabled,
        created_at: now,
    })
}

/// The base64url x and y coordinates of the public key.
fn coordinates(key_pair: &EcdsaKeyPair) -> Option<(String, String)> {
    let point = key_pair.public_key().as_ref();
    // Uncompressed SEC1 point: 0x04 || x (32 bytes) || y (32 bytes).
    if point.len() != 65 || point[0] != 0x04 {
        return None;
    }
    Some((URL_SAFE_NO_PAD.encode(&point[1..33]), URL_SAFE_NO_PAD.encode(&point[33..65])))
}

/// RFC 7638 JWK thumbprint: SHA-256 of the required members of the public key, in
/// lexicographic order, without white space (EC: crv kty x y; OKP: crv kty x; RSA: e kty n).
fn jwk_thumbprint(public: &Value) -> String {
    let member = |name: &str| public.get(name).and_then(Value::as_str).unwrap_or_default();
    let canonical = match member("kty") {
        "EC" => format!(r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#, member("crv"), member("x"), member("y")),
        "OKP" => format!(r#"{{"crv":"{}","kty":"OKP","x":"{}"}}"#, member("crv"), member("x")),
        _ => format!(r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#, member("e"), member("n")),
    };
    b64(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, canonical.as_bytes()).as_ref())
}

/// The associated data of a sealed signing key: it opens only as this tenant's key `kid`.
pub(crate) fn sealed_context(tenant_id: &str, kid: &str) -> String {
    format!("signing-key\0{tenant_id}\0{kid}")
}

/// The key as it is stored: its DER sealed under the node key, and no longer in the clear.
pub fn seal(mut row: SigningKeyRow, vault: &Vault, entropy: &dyn Entropy) -> Result<SigningKeyRow, KeyError> {
    if row.sealed_private.is_none() {
        let context = sealed_context(&row.tenant_id, &row.kid);
        let sealed = vault.seal(entropy, &b64(&row.private_der), &context).map_err(|_| KeyError::Generate)?;
        row.sealed_private = Some(sealed.to_text());
        row.private_der = Vec::new();
    }
    Ok(row)
}

/// Seals every key still stored in the clear (from before keys were sealed): the upgrade
/// the SQL migration cannot do, since the node key never enters the database. Several
/// nodes starting at once each seal a key at most once (the update checks it is still
/// clear). Returns how many this node sealed.
pub async fn seal_stored(db: &Db, vault: &Vault, entropy: &dyn Entropy) -> Result<usize, SealStoredError> {
    let mut sealed = 0;
    for row in db.unsealed_signing_keys().await? {
        let (tenant_id, kid) = (row.tenant_id.clone(), row.kid.clone());
        let row = seal(row, vault, entropy)?;
        let text = row.sealed_private.as_deref().unwrap_or_default();
        if db.seal_signing_key(&tenant_id, &kid, text).await? {
            sealed += 1;
        }
    }
    Ok(sealed)
}

/// Why the stored keys could not be sealed at start.
#[derive(Debug, thiserror::Error)]
pub enum SealStoredError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Key(#[from] KeyError),
}

impl SigningKey {
    /// The stored key, opened with the node's vault (a key not yet sealed is read as it is).
    pub fn open(row: &SigningKeyRow, vault: &Vault) -> Result<Self, KeyError> {
        let sealed = || KeyError::Sealed { kid: row.kid.clone() };
        match &row.sealed_private {
            Some(text) => {
                let sealed_secret = SealedSecret::from_text(text).ok_or_else(sealed)?;
                let encoded =
                    vault.open(&sealed_secret, &sealed_context(&row.tenant_id, &row.kid)).map_err(|_| sealed())?;
                let der = URL_SAFE_NO_PAD.decode(encoded).map_err(|_| sealed())?;
                Self::from_der(row, &der)
            }
            None => Self::from_der(row, &row.private_der),
        }
    }

    /// A key freshly generated (its DER still in the clear).
    pub fn from_row(row: &SigningKeyRow) -> Result<Self, KeyError> {
        Self::from_der(row, &row.private_der)
    }

    fn from_der(row: &SigningKeyRow, der: &[u8]) -> Result<Self, KeyError> {
        let parse = || KeyError::Parse { kid: row.kid.clone() };
        let (algorithm, pair) = match row.algorithm.as_str() {
            ES256 => {
                (ES256, Pair::Ec(EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der).map_err(|_| parse())?))
            }
            EDDSA => (EDDSA, Pair::Ed(Ed25519KeyPair::from_pkcs8(der).map_err(|_| parse())?)),
            RS256 => (RS256, Pair::Rsa(aws_lc_rs::rsa::KeyPair::from_pkcs8(der).map_err(|_| parse())?)),
            other => return Err(KeyError::Algorithm { kid: row.kid.clone(), algorithm: other.to_owned() }),
        };
        Ok(SigningKey { kid: row.kid.clone(), algorithm, pair })
    }

    /// OpenID Connect's `at_hash` of an access token signed alongside: the left half of the
    /// token's hash under the algorithm's hash function (SHA-256 for ES256 and RS256,
    /// SHA-512 for Ed25519), base64url.
    pub fn token_hash(&self, token: &str) -> String {
        let algorithm = match self.pair {
            Pair::Ed(_) => &aws_lc_rs::digest::SHA512,
            Pair::Ec(_) | Pair::Rsa(_) => &aws_lc_rs::digest::SHA256,
        };
        let digest = aws_lc_rs::digest::digest(algorithm, token.as_bytes());
        let bytes = digest.as_ref();
        b64(&bytes[..bytes.len() / 2])
    }

    /// Signs `claims` as a compact JWS with `typ` in the protected header.
    pub fn sign_jwt(&self, typ: &str, claims: &Map<String, Value>) -> Result<String, KeyError> {
        let header = json!({"alg": self.algorithm, "typ": typ, "kid": self.kid});
        let mut token = b64(&serde_json::to_vec(&header)?);
        token.push('.');
        token.push_str(&b64(&serde_json::to_vec(claims)?));
        let message = token.as_bytes();
        let signature = match &self.pair {
            Pair::Ec(pair) => pair.sign(&SystemRandom::new(), message).map_err(|_| KeyError::Sign)?.as_ref().to_vec(),
            Pair::Ed(pair) => pair.sign(message).as_ref().to_vec(),
            Pair::Rsa(pair) => {
                let mut signature = vec![0; pair.public_modulus_len()];
                pair.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), message, &mut signature)
                    .map_err(|_| KeyError::Sign)?;
                signature
            }
        };
        token.push('.');
        token.push_str(&b64(&signature));
        Ok(token)
    }
}

/// Parsed active signing keys by tenant id. A key read from the database is kept only if
/// no rotation was announced while it was read, so a reader that raced a rotation never
/// puts the retired key back.
#[derive(Debug, Default)]
pub struct KeyCache {
    by_tenant: RwLock<HashMap<String, Arc<SigningKey>>>,
    /// Bumped by every invalidation.
    generation: std::sync::atomic::AtomicU64,
}

impl KeyCache {
    pub fn get(&self, tenant_id: &str) -> Option<Arc<SigningKey>> {
        self.by_tenant.read().ok()?.get(tenant_id).cloned()
    }

    /// The generation to pass to [`Self::insert`]: read it before reading the key.
    pub fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Keeps `key` unless an invalidation happened since `generation` was read.
    pub fn insert(&self, tenant_id: &str, key: Arc<SigningKey>, generation: u64) {
        if let Ok(mut keys) = self.by_tenant.write()
            && self.generation() == generation
        {
            keys.insert(tenant_id.to_owned(), key);
        }
    }

    /// Forgets the tenant's key (it rotated); the next token loads the current one.
    pub fn invalidate(&self, tenant_id: &str) {
        if let Ok(mut keys) = self.by_tenant.write() {
            self.generation.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            keys.remove(tenant_id);
        }
    }

    pub fn invalidate_all(&self) {
        if let Ok(mut keys) = self.by_tenant.write() {
            self.generation.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            keys.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn generated_keys_have_a_thumbprint_kid_and_sign_three_part_tokens() {
        for (algorithm, kty, signature_len) in [(ES256, "EC", 64), (EDDSA, "OKP", 64), (RS256, "RSA", 256)] {
            let row = generate("tn_1", algorithm, 0).unwrap();
            let jwk: Value = serde_json::from_str(&row.public_jwk).unwrap();
            assert_eq!((jwk["kid"].as_str().unwrap(), jwk["kty"].as_str().unwrap()), (row.kid.as_str(), kty));
            assert_eq!(jwk["alg"], algorithm);
            assert_eq!(row.kid, jwk_thumbprint(&jwk), "{algorithm}");
            assert!(jwk.get("d").is_none() && jwk.get("p").is_none(), "no private member is published");
            let key = SigningKey::from_row(&row).unwrap();
            let token = key.sign_jwt("at+jwt", &Map::new()).unwrap();
            let parts: Vec<&str> = token.split('.').collect();
            assert_eq!(parts.len(), 3);
            assert_eq!(URL_SAFE_NO_PAD.decode(parts[2]).unwrap().len(), signature_len, "{algorithm}");
        }
        assert!(generate("tn_1", "HS256", 0).is_err());
    }

    #[test]
    fn a_key_read_while_the_tenant_rotated_is_not_kept() {
        let cache = KeyCache::default();
        let key = || Arc::new(SigningKey::from_row(&generate("tn_1", ES256, 0).unwrap()).unwrap());
        let before = cache.generation();
        cache.invalidate("tn_1"); // a rotation announced while the old key was being read
        cache.insert("tn_1", key(), before);
        assert!(cache.get("tn_1").is_none(), "the stale key is dropped");
        cache.insert("tn_1", key(), cache.generation());
        assert!(cache.get("tn_1").is_some());
    }

    #[test]
    fn two_keys_never_share_a_kid() {
        assert_ne!(generate("tn_1", ES256, 0).unwrap().kid, generate("tn_1", ES256, 0).unwrap().kid);
    }

    #[test]
    fn rfc7638_example_thumbprint() {
        // RFC 7638 §3.1 uses an RSA key; this checks our EC canonical form against a value
        // computed independently (python: base64url(sha256(canonical json))).
        let x = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
        let y = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";
        assert_eq!(
            jwk_thumbprint(&json!({"kty": "EC", "crv": "P-256", "x": x, "y": y})),
            "oKIywvGUpTVTyxMQ3bwIIeQUudfr_CkLMjCE19ECD-U"
        );
        // RFC 7638 §3.1's own example, an RSA key.
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        assert_eq!(
            jwk_thumbprint(&json!({"kty": "RSA", "n": n, "e": "AQAB"})),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }
}
