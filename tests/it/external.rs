//! Real external clients against a running tenant: a Python machine client written with
//! Authlib obtains a token (client_secret_basic), verifies it with PyJWT against the JWKS
//! it discovered, has a resource server introspect it, revokes it, and sees it inactive; and
//! one that authenticates with an RS256 `private_key_jwt` assertion Authlib signs.

use keyhaven_tests::{TestServer, python};
use serde_json::json;

db_test! {
async fn an_authlib_client_obtains_verifies_introspects_and_revokes_a_token() {
    let server = TestServer::start().await.unwrap();
    let tenant = server.create_tenant("authlib").await.unwrap();
    let client = server.create_client(&tenant, json!({"name": "python app", "scopes": ["invoices:read", "reports"]})).await.unwrap();
    let resource = server.create_client(&tenant, json!({"name": "python api"})).await.unwrap();
    let seen = python::run_script("client_credentials.py", &[
        ("KEYHAVEN_ISSUER", &tenant.issuer),
        ("CLIENT_ID", &client.client_id),
        ("CLIENT_SECRET", &client.client_secret),
        ("RESOURCE_ID", &resource.client_id),
        ("RESOURCE_SECRET", &resource.client_secret),
    ])
    .await
    .unwrap();
    assert_eq!(seen["token_type"], "Bearer");
    assert_eq!(seen["claims"]["sub"], client.client_id.as_str());
    assert_eq!(seen["claims"]["scope"], "invoices:read", "the scope the client asked for, not all it may have");
    assert_eq!(seen["introspected"]["active"], true);
    assert_eq!(seen["after_revocation"], json!({"active": false}));
}
}

db_test! {
async fn an_authlib_client_authenticates_with_an_rs256_private_key_jwt() {
    let server = TestServer::start().await.unwrap();
    let tenant = server.create_tenant("authlib-pkjwt").await.unwrap();
    let admin_url = server.url(&format!("/admin/v1/tenants/{}", tenant.name));
    let seen = python::run_script("private_key_jwt.py", &[
        ("KEYHAVEN_ISSUER", &tenant.issuer),
        ("ADMIN_URL", &admin_url),
        ("ADMIN_TOKEN", &tenant.admin_token),
    ])
    .await
    .unwrap();
    let client_id = seen["client_id"].as_str().unwrap();
    assert_eq!(seen["claims"]["sub"], client_id);
    // The server saw the assertion: the client registered keys and no secret was used.
    let client = server.get(&tenant.admin_token, &format!("/admin/v1/tenants/{}/clients/{client_id}", tenant.name)).await.unwrap();
    assert_eq!(client["jwks"]["keys"][0]["kty"], "RSA");
}
}
