//! Access-token claims: the ones the service sets, the protected names no extension may
//! set, and merging an extension's claims into a token (refusing, loudly, any attempt to
//! touch a protected claim).

use serde_json::{Map, Value};

/// Claims only the service sets. `tenant` and `client_id` are ours too: a token must never
/// claim another tenant or client than the one that obtained it.
pub const PROTECTED_CLAIMS: &[&str] = &[
    "iss",
    "sub",
    "aud",
    "exp",
    "nbf",
    "iat",
    "jti",
    "auth_time",
    "nonce",
    "acr",
    "amr",
    "azp",
    "sid",
    "scope",
    "tenant",
    "client_id",
];

pub fn is_protected(name: &str) -> bool {
    PROTECTED_CLAIMS.contains(&name)
}

/// An extension tried to set a protected claim.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("the token-issuance extension tried to set the protected claim {0:?}")]
pub struct ProtectedClaim(pub String);

/// Adds `extra` to `claims`; later values win over earlier ones for the same name.
pub fn merge(claims: &mut Map<String, Value>, extra: Vec<(String, Value)>) -> Result<(), ProtectedClaim> {
    if let Some((name, _)) = extra.iter().find(|(name, _)| is_protected(name)) {
        return Err(ProtectedClaim(name.clone()));
    }
    claims.extend(extra);
    Ok(())
}

/// A denial reason as the client may see it: printable, single-line, at most 200 chars.
pub fn sanitise_reason(reason: &str) -> String {
    let cleaned: String = reason.chars().filter(|c| !c.is_control()).take(200).collect();
    if cleaned.trim().is_empty() { "denied by the tenant's token-issuance extension".into() } else { cleaned }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn merging_adds_and_overrides_unprotected_claims() {
        let mut claims = Map::new();
        claims.insert("sub".into(), json!("client"));
        merge(&mut claims, vec![("org".into(), json!("a")), ("org".into(), json!("b"))]).unwrap();
        assert_eq!(claims["org"], json!("b"));
        assert_eq!(claims["sub"], json!("client"));
    }

    #[test]
    fn every_protected_claim_is_refused_and_nothing_is_merged() {
        for name in PROTECTED_CLAIMS {
            let mut claims = Map::new();
            let result = merge(&mut claims, vec![("ok".into(), json!(1)), ((*name).into(), json!("x"))]);
            assert_eq!(result, Err(ProtectedClaim((*name).into())));
            assert!(claims.is_empty());
        }
    }

    #[test]
    fn reasons_are_sanitised() {
        assert_eq!(sanitise_reason("no\r\nway"), "noway");
        assert_eq!(sanitise_reason(&"x".repeat(500)).len(), 200);
        assert_eq!(sanitise_reason(" \n"), "denied by the tenant's token-issuance extension");
    }
}
