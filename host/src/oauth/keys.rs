//! Per-tenant signing keys: ES256 key generation, the public JWK and its RFC 7638
//! thumbprint (used as `kid`, so a kid names exactly one key of one tenant), JWS compact
//! signing, and a cache of parsed keys so no request parses a key to sign.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair, RSA_PKCS1_2048_8192_SHA256,
    RsaPublicKeyComponents, UnparsedPublicKey,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

use crate::storage::SigningKeyRow;
use crate::tenancy::ResourceState;

pub const ES256: &str = "ES256";

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot generate a signing key")]
    Generate,
    #[error("stored signing key {kid} cannot be parsed")]
    Parse { kid: String },
    #[error("stored signing key {kid} uses unsupported algorithm {algorithm}")]
    Algorithm { kid: String, algorithm: String },
    #[error("signing failed")]
    Sign,
    #[error("cannot serialise the token: {0}")]
    Serialise(#[from] serde_json::Error),
}

/// A parsed private key, ready to sign.
pub struct SigningKey {
    pub kid: String,
    key_pair: EcdsaKeyPair,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey").field("kid", &self.kid).finish_non_exhaustive()
    }
}

/// Generates a new ES256 key for a tenant, as it is stored.
pub fn generate(tenant_id: &str, now: i64) -> Result<SigningKeyRow, KeyError> {
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
        .map_err(|_| KeyError::Generate)?;
    let key_pair =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).map_err(|_| KeyError::Generate)?;
    let (x, y) = coordinates(&key_pair).ok_or(KeyError::Generate)?;
    let kid = thumbprint(&x, &y);
    let jwk = json!({"kty": "EC", "crv": "P-256", "x": x, "y": y, "kid": kid, "use": "sig", "alg": ES256});
    Ok(SigningKeyRow {
        kid,
        tenant_id: tenant_id.to_owned(),
        algorithm: ES256.to_owned(),
        private_der: pkcs8.as_ref().to_vec(),
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

/// RFC 7638 JWK thumbprint of a P-256 public key.
fn thumbprint(x: &str, y: &str) -> String {
    let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, canonical.as_bytes());
    URL_SAFE_NO_PAD.encode(digest.as_ref())
}

impl SigningKey {
    pub fn from_row(row: &SigningKeyRow) -> Result<Self, KeyError> {
        if row.algorithm != ES256 {
            return Err(KeyError::Algorithm { kid: row.kid.clone(), algorithm: row.algorithm.clone() });
        }
        let key_pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &row.private_der)
            .map_err(|_| KeyError::Parse { kid: row.kid.clone() })?;
        Ok(SigningKey { kid: row.kid.clone(), key_pair })
    }

    /// Signs `claims` as a compact JWS with `typ` in the protected header.
    pub fn sign_jwt(&self, typ: &str, claims: &Map<String, Value>) -> Result<String, KeyError> {
        let header = json!({"alg": ES256, "typ": typ, "kid": self.kid});
        let mut token = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header)?);
        token.push('.');
        token.push_str(&URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims)?));
        let signature = self.key_pair.sign(&SystemRandom::new(), token.as_bytes()).map_err(|_| KeyError::Sign)?;
        token.push('.');
        token.push_str(&URL_SAFE_NO_PAD.encode(signature.as_ref()));
        Ok(token)
    }
}

/// A compact JWS verified against one of a tenant's published keys: its protected header
/// and its claims. `None` when it is malformed, names no key of `published` (JWKs as
/// stored), is not ES256, or its signature does not verify. Claims are not checked here.
pub fn verify_jwt(token: &str, published: &[String]) -> Option<(Map<String, Value>, Map<String, Value>)> {
    let keys: Vec<Value> = published.iter().filter_map(|text| serde_json::from_str(text).ok()).collect();
    let parsed = ParsedJwt::parse(token)?;
    if parsed.header.get("alg")?.as_str()? != ES256 {
        return None;
    }
    let kid = parsed.header.get("kid")?.as_str()?;
    let jwk = keys.iter().find(|jwk| jwk["kid"].as_str() == Some(kid))?;
    parsed.verify_with(jwk)
}

/// A compact JWS verified against a client's registered JWK set (ES256 or RS256): the key
/// its `kid` names, or, without a `kid`, any key of the set that verifies it.
pub fn verify_with_jwks(token: &str, jwks: &Value) -> Option<(Map<String, Value>, Map<String, Value>)> {
    let parsed = ParsedJwt::parse(token)?;
    let keys = jwks.get("keys")?.as_array()?;
    match parsed.header.get("kid").and_then(Value::as_str) {
        Some(kid) => parsed.verify_with(keys.iter().find(|jwk| jwk["kid"].as_str() == Some(kid))?),
        None => keys.iter().find_map(|jwk| parsed.verify_with(jwk)),
    }
}

/// The claims of a compact JWS, unverified: only to learn whose keys verify it.
pub fn unverified_claims(token: &str) -> Option<Map<String, Value>> {
    ParsedJwt::parse(token).map(|parsed| parsed.claims)
}

/// A compact JWS split and decoded, not yet verified.
struct ParsedJwt<'a> {
    header: Map<String, Value>,
    claims: Map<String, Value>,
    signed: &'a str,
    signature: Vec<u8>,
}

impl<'a> ParsedJwt<'a> {
    fn parse(token: &'a str) -> Option<Self> {
        let mut parts = token.split('.');
        let (header_b64, claims_b64, signature_b64) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        Some(ParsedJwt {
            header: serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header_b64).ok()?).ok()?,
            claims: serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims_b64).ok()?).ok()?,
            signed: &token[..header_b64.len() + 1 + claims_b64.len()],
            signature: URL_SAFE_NO_PAD.decode(signature_b64).ok()?,
        })
    }

    /// Header and claims if `jwk` verifies the signature with the header's algorithm
    /// (ES256 with a P-256 key, RS256 with an RSA key of at least 2048 bits).
    fn verify_with(&self, jwk: &Value) -> Option<(Map<String, Value>, Map<String, Value>)> {
        let b64 = |name: &str| URL_SAFE_NO_PAD.decode(jwk.get(name)?.as_str()?).ok();
        let message = self.signed.as_bytes();
        match (self.header.get("alg")?.as_str()?, jwk.get("kty")?.as_str()?) {
            ("ES256", "EC") if jwk["crv"] == "P-256" => {
                let mut point = vec![0x04];
                point.extend(b64("x")?);
                point.extend(b64("y")?);
                UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point).verify(message, &self.signature).ok()?;
            }
            ("RS256", "RSA") => {
                let (n, e) = (b64("n")?, b64("e")?);
                RsaPublicKeyComponents { n: &n, e: &e }
                    .verify(&RSA_PKCS1_2048_8192_SHA256, message, &self.signature)
                    .ok()?;
            }
            _ => return None,
        }
        Some((self.header.clone(), self.claims.clone()))
    }
}

/// Checks a JWK set a client registers for `private_key_jwt`: 1 to 10 public keys, each
/// P-256 (`EC`) or RSA of at least 2048 bits, none carrying private material.
pub fn check_client_jwks(jwks: &Value) -> Result<(), String> {
    let keys = jwks.get("keys").and_then(Value::as_array).ok_or("jwks must be an object with a \"keys\" array")?;
    if keys.is_empty() || keys.len() > 10 {
        return Err("jwks holds 1 to 10 keys".into());
    }
    for key in keys {
        let key = key.as_object().ok_or("each key is a JSON object")?;
        if ["d", "p", "q", "dp", "dq", "qi", "k"].iter().any(|private| key.contains_key(*private)) {
            return Err("a key carries private material; register only public keys".into());
        }
        let decoded = |name: &str| key.get(name).and_then(Value::as_str).and_then(|v| URL_SAFE_NO_PAD.decode(v).ok());
        match key.get("kty").and_then(Value::as_str) {
            Some("EC") if key.get("crv").and_then(Value::as_str) == Some("P-256") => {
                if decoded("x").map(|x| x.len()) != Some(32) || decoded("y").map(|y| y.len()) != Some(32) {
                    return Err("a P-256 key needs base64url x and y of 32 bytes".into());
                }
            }
            Some("RSA") => {
                let bits = decoded("n").map_or(0, |n| n.iter().skip_while(|b| **b == 0).count() * 8);
                if bits < 2048 || decoded("e").is_none_or(|e| e.is_empty()) {
                    return Err("an RSA key needs base64url n of at least 2048 bits and e".into());
                }
            }
            _ => return Err("keys are EC (crv P-256, for ES256) or RSA (for RS256)".into()),
        }
    }
    Ok(())
}

/// Parsed active signing keys by tenant id.
#[derive(Debug, Default)]
pub struct KeyCache {
    by_tenant: RwLock<HashMap<String, Arc<SigningKey>>>,
}

impl KeyCache {
    pub fn get(&self, tenant_id: &str) -> Option<Arc<SigningKey>> {
        self.by_tenant.read().ok()?.get(tenant_id).cloned()
    }

    pub fn insert(&self, tenant_id: &str, key: Arc<SigningKey>) {
        if let Ok(mut keys) = self.by_tenant.write() {
            keys.insert(tenant_id.to_owned(), key);
        }
    }

    /// Forgets the tenant's key (it rotated); the next token loads the current one.
    pub fn invalidate(&self, tenant_id: &str) {
        if let Ok(mut keys) = self.by_tenant.write() {
            keys.remove(tenant_id);
        }
    }

    pub fn invalidate_all(&self) {
        if let Ok(mut keys) = self.by_tenant.write() {
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
        let row = generate("tn_1", 0).unwrap();
        let jwk: Value = serde_json::from_str(&row.public_jwk).unwrap();
        assert_eq!(jwk["kid"], row.kid.as_str());
        assert_eq!(row.kid, thumbprint(jwk["x"].as_str().unwrap(), jwk["y"].as_str().unwrap()));
        let key = SigningKey::from_row(&row).unwrap();
        let token = key.sign_jwt("at+jwt", &Map::new()).unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        assert_eq!(URL_SAFE_NO_PAD.decode(parts[2]).unwrap().len(), 64);
    }

    #[test]
    fn a_token_verifies_only_against_the_key_that_signed_it_and_only_unaltered() {
        let row = generate("tn_1", 0).unwrap();
        let other = generate("tn_2", 0).unwrap();
        let mut claims = Map::new();
        claims.insert("sub".into(), json!("cl_1"));
        let token = SigningKey::from_row(&row).unwrap().sign_jwt("at+jwt", &claims).unwrap();
        let (header, verified) = verify_jwt(&token, std::slice::from_ref(&row.public_jwk)).unwrap();
        assert_eq!((header["kid"].as_str().unwrap(), &verified["sub"]), (row.kid.as_str(), &json!("cl_1")));
        assert!(verify_jwt(&token, std::slice::from_ref(&other.public_jwk)).is_none(), "another tenant's key");
        let parts: Vec<&str> = token.split('.').collect();
        let forged = URL_SAFE_NO_PAD.encode(br#"{"sub":"cl_2"}"#);
        assert!(
            verify_jwt(&format!("{}.{forged}.{}", parts[0], parts[2]), std::slice::from_ref(&row.public_jwk)).is_none()
        );
        assert!(verify_jwt("not.a.token", &[row.public_jwk]).is_none());
    }

    #[test]
    fn two_keys_never_share_a_kid() {
        assert_ne!(generate("tn_1", 0).unwrap().kid, generate("tn_1", 0).unwrap().kid);
    }

    #[test]
    fn rfc7638_example_thumbprint() {
        // RFC 7638 §3.1 uses an RSA key; this checks our EC canonical form against a value
        // computed independently (python: base64url(sha256(canonical json))).
        let x = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
        let y = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";
        assert_eq!(thumbprint(x, y), "oKIywvGUpTVTyxMQ3bwIIeQUudfr_CkLMjCE19ECD-U");
    }
}
