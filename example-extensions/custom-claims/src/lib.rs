//! Example Keyhaven extension: adds claims derived from the subject's attributes, plus a
//! fixed one, to every access token (and the organisation to a person's ID token too);
//! looks the subject's organisation up in the tenant's
//! key-value store (`org:<org>`, e.g. `{"plan": "gold"}`) and adds its plan; refuses tokens
//! to subjects marked `"suspended": true`.

use keyhaven_sdk::{Claims, Deny, TokenIssuance, TokenRequest, Value, kv, log};

struct CustomClaims;

impl TokenIssuance for CustomClaims {
    fn issue(request: TokenRequest) -> Result<Claims, Deny> {
        let subject = &request.subject;
        if subject.attribute("suspended") == Some(&Value::Bool(true)) {
            log::warn(&format!("refusing a token to suspended subject {}", subject.id()));
            return Err(Deny::new("this client is suspended"));
        }

        let mut claims = Claims::new().access_token("issued_by_extension", "custom-claims");
        if let Some(org) = subject.attribute("org") {
            claims = claims.access_token("org", org.clone()).id_token("org", org.clone());
            if let Some(name) = org.as_str() {
                match kv::get(&format!("org:{name}")) {
                    Ok(Some(record)) => {
                        if let Some(plan) = record.get("plan") {
                            claims = claims.access_token("plan", plan.clone());
                        }
                    }
                    Ok(None) => {}
                    // The store is a nice-to-have here: issue the token without the plan.
                    Err(e) => log::warn(&format!("no plan for {name}: {e}")),
                }
            }
        }
        let roles = subject.attribute("roles").cloned().unwrap_or(Value::Array(Vec::new()));
        claims = claims.access_token("roles", roles);
        log::info(&format!("added claims for {}", subject.id()));
        Ok(claims)
    }
}

keyhaven_sdk::export_token_issuance!(CustomClaims);

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use keyhaven_sdk::json;

    #[test]
    fn copies_org_and_roles_and_adds_the_fixed_claim() {
        let request = TokenRequest::for_client("billing", json!({"org": "acme", "roles": ["reader"]}));
        let claims = CustomClaims::issue(request).unwrap();
        assert_eq!(claims.access_token_claim("org"), Some(&json!("acme")));
        assert_eq!(claims.access_token_claim("roles"), Some(&json!(["reader"])));
        assert_eq!(claims.access_token_claim("issued_by_extension"), Some(&json!("custom-claims")));
    }

    #[test]
    fn the_organisations_plan_comes_from_the_key_value_store() {
        keyhaven_sdk::testing::reset();
        keyhaven_sdk::testing::kv_set("org:acme", json!({"plan": "gold"}));
        let request = TokenRequest::for_client("billing", json!({"org": "acme"}));
        assert_eq!(CustomClaims::issue(request).unwrap().access_token_claim("plan"), Some(&json!("gold")));
        let unknown = TokenRequest::for_client("billing", json!({"org": "other"}));
        assert_eq!(CustomClaims::issue(unknown).unwrap().access_token_claim("plan"), None);
    }

    #[test]
    fn roles_default_to_an_empty_list() {
        let claims = CustomClaims::issue(TokenRequest::for_client("c", json!({}))).unwrap();
        assert_eq!(claims.access_token_claim("roles"), Some(&json!([])));
        assert_eq!(claims.access_token_claim("org"), None);
    }

    #[test]
    fn suspended_clients_are_denied() {
        let request = TokenRequest::for_client("c", json!({"suspended": true}));
        assert_eq!(CustomClaims::issue(request), Err(Deny::new("this client is suspended")));
    }
}
