//! Test guest: puts everything the hook was told into an `echo` claim, so tests can check
//! the input the host passes across the WIT boundary.

use keyhaven_sdk::{Claims, Deny, Subject, TokenIssuance, TokenRequest, Value, json};

struct EchoRequest;

impl TokenIssuance for EchoRequest {
    fn issue(request: TokenRequest) -> Result<Claims, Deny> {
        let subject = match &request.subject {
            Subject::Client(client) => json!({
                "kind": "client",
                "id": client.client_id,
                "name": client.name,
                "attributes": Value::Object(client.attributes.clone()),
            }),
            Subject::Account(account) => json!({
                "kind": "account",
                "id": account.account_id,
                "name": account.username,
                "attributes": Value::Object(account.attributes.clone()),
            }),
        };
        let echo = json!({
            "tenant": {"id": request.tenant.id, "name": request.tenant.name},
            "subject": subject,
            "grant_type": request.grant_type,
            "scopes": request.scopes,
            "audience": request.audience,
        });
        Ok(Claims::new().access_token("echo", echo).id_token("ignored_without_an_id_token", true))
    }
}

keyhaven_sdk::export_token_issuance!(EchoRequest);
