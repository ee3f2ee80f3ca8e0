//! Authorization codes below HTTP: PKCE (RFC 7636, S256 only), and the checks of a code
//! presented for redemption — it exists in the tenant, was issued to this client, is
//! unused and unexpired, comes with the authorization request's redirect URI and the
//! verifier of its challenge — made before anything is spent, so a wrong verifier (or
//! another client) cannot use up someone else's code. A spent code or refresh token that
//! comes back revokes its whole family and is recorded as an event ([`replayed`],
//! [`record_replay`]). The token
//! endpoint redeems codes through these checks, and so will any other surface that signs
//! people in.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;

use crate::AppState;
use crate::events::outbox::NewEvent;
use crate::extensions::events::EventResult;
use crate::secrets;
use crate::storage::{CodeRow, Grant, StorageError};
use crate::tenancy::Tenant;

/// Whether `value` is a PKCE verifier or challenge: 43 to 128 unreserved characters.
pub fn is_pkce_value(value: &str) -> bool {
    (43..=128).contains(&value.len())
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// Whether `verifier` is the one whose S256 challenge is `challenge`.
pub fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    let computed = URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes()));
    is_pkce_value(verifier) && secrets::constant_time_eq(computed.as_bytes(), challenge.as_bytes())
}

/// A code as a client presents it.
#[derive(Debug)]
pub struct Presented<'a> {
    pub code: &'a str,
    /// The client that presents it (already authenticated, or public).
    pub client_id: &'a str,
    pub redirect_uri: Option<&'a str>,
    pub verifier: Option<&'a str>,
}

/// Why a presented code is refused. Each is `invalid_grant` at the token endpoint.
#[derive(Debug, thiserror::Error)]
pub enum CodeError {
    #[error("the code is invalid")]
    Invalid,
    /// A replay: the code's family is revoked already, by [`check`].
    #[error("the code has been used already")]
    Used,
    #[error("the code has expired")]
    Expired,
    #[error("redirect_uri differs from the authorization request's")]
    RedirectUriDiffers,
    #[error("the code_verifier does not match the challenge")]
    VerifierMismatch,
    #[error("code_verifier is required")]
    VerifierRequired,
    #[error("the authorization request had no code_challenge")]
    NoChallenge,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Checks a presented code without spending it: the stored code and its digest (to spend it
/// with whatever it is redeemed for).
pub async fn check(
    state: &AppState,
    tenant: &Tenant,
    presented: &Presented<'_>,
) -> Result<(CodeRow, String), CodeError> {
    let digest = secrets::digest(presented.code);
    let stored = state.db.code(&tenant.id, &digest).await?;
    let Some((code, used_at)) = stored.filter(|(code, _)| code.grant.client_id == presented.client_id) else {
        return Err(CodeError::Invalid);
    };
    if used_at.is_some() {
        replayed(state, tenant, &code.grant, "token.replayed", "an authorization code was presented twice").await?;
        return Err(CodeError::Used);
    }
    if code.expires_at <= state.clock.now() {
        return Err(CodeError::Expired);
    }
    match presented.redirect_uri {
        Some(uri) if uri == code.redirect_uri => {}
        None if !code.redirect_given => {}
        _ => return Err(CodeError::RedirectUriDiffers),
    }
    match (&code.code_challenge, presented.verifier) {
        (Some(challenge), Some(verifier)) if pkce_matches(verifier, challenge) => {}
        (Some(_), Some(_)) => return Err(CodeError::VerifierMismatch),
        (Some(_), None) => return Err(CodeError::VerifierRequired),
        (None, Some(_)) => return Err(CodeError::NoChallenge),
        (None, None) => {}
    }
    Ok((code, digest))
}

/// A spent code or refresh token came back: its family is revoked, and the replay is
/// recorded as an event (before the answer: a replay is rare, and whoever looks right
/// after it must find it).
pub async fn replayed(
    state: &AppState,
    tenant: &Tenant,
    grant: &Grant,
    action: &'static str,
    reason: &str,
) -> Result<(), StorageError> {
    state.db.revoke_refresh_family(&tenant.id, &grant.family_id, state.clock.now()).await?;
    record_replay(state, tenant, action, grant, reason).await;
    Ok(())
}

/// Records a replay of the grant's code or refresh token as an event (`action`, with the
/// reason); a failure to record it is logged, not returned.
pub async fn record_replay(state: &AppState, tenant: &Tenant, action: &'static str, grant: &Grant, reason: &str) {
    let event = NewEvent {
        category: "authorization",
        action,
        origin: "token-endpoint",
        result: EventResult::Failed,
        reason: Some(reason.to_owned()),
        account_id: Some(grant.account_id.clone()),
        detail: json!({"client_id": grant.client_id, "family_id": grant.family_id}),
    };
    if let Err(e) = state.extensions.emit(tenant, event, false).await {
        tracing::warn!(tenant = %tenant.id, "cannot record a token replay: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7636_appendix_b_verifier_matches_its_challenge() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert!(pkce_matches(verifier, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"));
        assert!(!pkce_matches(verifier, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cN"));
        assert!(!pkce_matches("short", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"));
    }

    #[test]
    fn pkce_values_are_43_to_128_unreserved_characters() {
        assert!(is_pkce_value(&"a".repeat(43)));
        assert!(!is_pkce_value(&"a".repeat(42)));
        assert!(!is_pkce_value(&"a".repeat(129)));
        assert!(!is_pkce_value(&format!("{}+", "a".repeat(43))));
    }
}
