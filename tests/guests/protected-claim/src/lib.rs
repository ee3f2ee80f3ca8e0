//! Test guest: tries to override the protected `sub` claim (named by the client's
//! `claim` attribute, default `sub`), which the host must refuse loudly.

use keyhaven_sdk::{Claims, Deny, TokenIssuance, TokenRequest};

struct ProtectedClaim;

impl TokenIssuance for ProtectedClaim {
    fn issue(request: TokenRequest) -> Result<Claims, Deny> {
        let claim = request.subject.attribute("claim").and_then(|value| value.as_str()).unwrap_or("sub").to_owned();
        Ok(Claims::new().access_token("harmless", true).access_token(claim, "someone-else"))
    }
}

keyhaven_sdk::export_token_issuance!(ProtectedClaim);
