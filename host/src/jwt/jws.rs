//! Verifying compact JWS: tokens this service signed, against a tenant's published keys
//! (introspection, revocation), and `private_key_jwt` client assertions, against the JWK set
//! a client registered; and the checks of such a set. ES256 (P-256), EdDSA (Ed25519) and
//! RS256 (RSA ≥ 2048 bits); a key verifies only with the algorithm of its type, so no
//! token can choose a weaker reading of a key.

use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, ED25519, RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents, UnparsedPublicKey,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

/// A compact JWS verified against one of a tenant's published keys: its protected header
/// and its claims. `None` when it is malformed, names no key of `published` (JWKs as
/// stored), is not signed with that key's algorithm, or its signature does not verify.
/// Claims are not checked here.
pub fn verify_jwt(token: &str, published: &[String]) -> Option<(Map<String, Value>, Map<String, Value>)> {
    let keys: Vec<Value> = published.iter().filter_map(|text| serde_json::from_str(text).ok()).collect();
    let parsed = ParsedJwt::parse(token)?;
    let kid = parsed.header.get("kid")?.as_str()?;
    let jwk = keys.iter().find(|jwk| jwk["kid"].as_str() == Some(kid))?;
    // The tenant's key says which algorithm it signs with; the token must agree.
    if jwk.get("alg") != parsed.header.get("alg") {
        return None;
    }
    parsed.verify_with(jwk)
}

/// A compact JWS verified against a client's registered JWK set: the key
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
    /// (ES256 with a P-256 key, EdDSA with an Ed25519 key, RS256 with an RSA key).
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
            ("EdDSA", "OKP") if jwk["crv"] == "Ed25519" => {
                UnparsedPublicKey::new(&ED25519, b64("x")?).verify(message, &self.signature).ok()?;
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
/// P-256 (`EC`), Ed25519 (`OKP`) or RSA of at least 2048 bits, none carrying private
/// material.
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
            Some("OKP") if key.get("crv").and_then(Value::as_str) == Some("Ed25519") => {
                if decoded("x").map(|x| x.len()) != Some(32) {
                    return Err("an Ed25519 key needs a base64url x of 32 bytes".into());
                }
            }
            Some("RSA") => {
                let bits = decoded("n").map_or(0, |n| n.iter().skip_while(|b| **b == 0).count() * 8);
                if bits < 2048 || decoded("e").is_none_or(|e| e.is_empty()) {
                    return Err("an RSA key needs base64url n of at least 2048 bits and e".into());
                }
            }
            _ => {
                return Err(
                    "keys are EC (crv P-256, for ES256), OKP (crv Ed25519, for EdDSA) or RSA (for RS256)".into()
                );
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use serde_json::json;

    use super::*;
    use crate::jwt::keys::{EDDSA, ES256, RS256, SigningKey, generate};

    #[test]
    fn a_token_verifies_only_against_the_key_that_signed_it_and_only_unaltered() {
        for algorithm in [ES256, EDDSA, RS256] {
            let row = generate("tn_1", algorithm, 0).unwrap();
            let other = generate("tn_2", algorithm, 0).unwrap();
            let mut claims = Map::new();
            claims.insert("sub".into(), json!("cl_1"));
            let token = SigningKey::from_row(&row).unwrap().sign_jwt("at+jwt", &claims).unwrap();
            let (header, verified) = verify_jwt(&token, std::slice::from_ref(&row.public_jwk)).unwrap();
            assert_eq!((header["kid"].as_str().unwrap(), &verified["sub"]), (row.kid.as_str(), &json!("cl_1")));
            assert!(verify_jwt(&token, std::slice::from_ref(&other.public_jwk)).is_none(), "another tenant's key");
            let parts: Vec<&str> = token.split('.').collect();
            let forged = URL_SAFE_NO_PAD.encode(br#"{"sub":"cl_2"}"#);
            assert!(
                verify_jwt(&format!("{}.{forged}.{}", parts[0], parts[2]), std::slice::from_ref(&row.public_jwk))
                    .is_none()
            );
            assert!(verify_jwt("not.a.token", std::slice::from_ref(&row.public_jwk)).is_none());
            // The same key under another algorithm's name does not verify.
            let mut relabelled: Value = serde_json::from_str(&row.public_jwk).unwrap();
            relabelled["alg"] = json!(if algorithm == ES256 { RS256 } else { ES256 });
            assert!(verify_jwt(&token, &[relabelled.to_string()]).is_none(), "{algorithm}");
        }
    }
}

#[cfg(test)]
mod properties {
    //! Any string as a compact JWS, and JWS-shaped strings of any header, claims and
    //! signature: parsed without a panic, and never verified without the key.
    #![allow(clippy::unwrap_used)]
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;
    use crate::jwt::keys::{ES256, SigningKey, generate};

    fn segment() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<Vec<u8>>().prop_map(|bytes| URL_SAFE_NO_PAD.encode(bytes)),
            "[A-Za-z0-9_=+/-]{0,40}",
            Just(URL_SAFE_NO_PAD.encode(br#"{"alg":"ES256","kid":"k"}"#)),
            Just(URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#)),
            Just(URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","kid":"k"}"#)),
            Just(URL_SAFE_NO_PAD.encode(br#"{"sub":"cl_1","exp":99999999999}"#)),
            Just(URL_SAFE_NO_PAD.encode(br#"[1,2,3]"#)),
        ]
    }

    proptest! {
        #[test]
        fn any_string_is_refused_or_parsed_without_a_panic(token in ".{0,300}") {
            let row = generate("tn_1", ES256, 0).unwrap();
            prop_assert!(verify_jwt(&token, std::slice::from_ref(&row.public_jwk)).is_none());
            let _ = unverified_claims(&token);
            let jwks = json!({"keys": [serde_json::from_str::<Value>(&row.public_jwk).unwrap()]});
            prop_assert!(verify_with_jwks(&token, &jwks).is_none());
        }

        #[test]
        fn jws_shaped_strings_never_verify_without_the_signature(
            header in segment(), claims in segment(), signature in segment(), extra in proptest::option::of(segment()),
        ) {
            let row = generate("tn_1", ES256, 0).unwrap();
            let mut token = format!("{header}.{claims}.{signature}");
            if let Some(extra) = extra {
                token = format!("{token}.{extra}");
            }
            prop_assert!(verify_jwt(&token, std::slice::from_ref(&row.public_jwk)).is_none());
            let _ = unverified_claims(&token);
        }

        #[test]
        fn a_signed_token_with_any_byte_changed_does_not_verify(position in any::<prop::sample::Index>(), byte in any::<u8>()) {
            let row = generate("tn_1", ES256, 0).unwrap();
            let mut claims = Map::new();
            claims.insert("sub".into(), json!("cl_1"));
            let token = SigningKey::from_row(&row).unwrap().sign_jwt("at+jwt", &claims).unwrap();
            let mut bytes = token.clone().into_bytes();
            let at = position.index(bytes.len());
            prop_assume!(bytes[at] != byte);
            bytes[at] = byte;
            let changed = String::from_utf8_lossy(&bytes).into_owned();
            // Base64url's last character may carry unused bits: a change there can decode
            // to the same bytes, and then the token is the same token.
            let same = |a: &str, b: &str| {
                a.split('.').map(|p| URL_SAFE_NO_PAD.decode(p).ok()).collect::<Vec<_>>()
                    == b.split('.').map(|p| URL_SAFE_NO_PAD.decode(p).ok()).collect::<Vec<_>>()
            };
            prop_assume!(!same(&changed, &token));
            prop_assert!(verify_jwt(&changed, std::slice::from_ref(&row.public_jwk)).is_none());
        }
    }
}
