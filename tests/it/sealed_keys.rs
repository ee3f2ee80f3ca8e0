//! Signing keys at rest: every key a tenant gets is stored sealed under the node key (its
//! DER nowhere in the clear, and opening only with that key), and a key stored in the clear
//! by an earlier version is sealed when a node starts, keeping its kid, so tokens signed
//! before and after the upgrade verify against the same published JWKS.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keyhaven::jwt::keys::{SigningKey, generate};
use keyhaven::vault::Vault;
use keyhaven_tests::{TestClient, TestServer, TestTenant, expect_status};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A token for the client, verified against the tenant's JWKS; its header's `kid`.
async fn signed_kid(server: &TestServer, tenant: &TestTenant, client: &TestClient) -> String {
    let body = expect_status(server.token(tenant, client).await.unwrap(), StatusCode::OK).await.unwrap();
    let token = body["access_token"].as_str().unwrap();
    server.verify(tenant, token, &tenant.issuer).await.unwrap();
    let header: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(token.split('.').next().unwrap()).unwrap()).unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

db_test! {
async fn signing_keys_are_sealed_at_rest_and_keys_stored_in_the_clear_are_sealed_at_start() {
    let server = TestServer::start().await.unwrap();
    let tenant = server.create_tenant("sealed").await.unwrap();
    let client = server.create_client(&tenant, json!({"name": "c"})).await.unwrap();
    let db = &server.state.db;

    // A new tenant's key: sealed, no DER in the clear; it opens with this node's key only.
    let stored = db.active_signing_key(&tenant.id).await.unwrap().unwrap();
    assert!(stored.private_der.is_empty(), "no private key in the clear");
    assert!(stored.sealed_private.is_some());
    assert!(SigningKey::open(&stored, server.state.extensions.vault()).is_ok());
    let another_node_key = Vault::from_encoded(&URL_SAFE_NO_PAD.encode([9u8; 32])).unwrap();
    assert!(SigningKey::open(&stored, &another_node_key).is_err(), "a database copy alone opens nothing");
    assert_eq!(signed_kid(&server, &tenant, &client).await, stored.kid);
    // Rotation seals the new key too.
    let rotated = server.state.rotate_signing_key(&server.state.db.tenant_by_id(&tenant.id).await.unwrap().unwrap(), "admin-api", "on-demand").await.unwrap();
    let current = db.active_signing_key(&tenant.id).await.unwrap().unwrap();
    assert_eq!(current.kid, rotated.kid);
    assert!(current.private_der.is_empty() && current.sealed_private.is_some());

    // A key an earlier version stored in the clear still signs, and the next start seals it
    // in place, keeping its kid.
    let clear = generate(&tenant.id, "ES256", 1_900_000_000).unwrap();
    assert!(clear.sealed_private.is_none() && !clear.private_der.is_empty());
    db.rotate_signing_key(&clear, 1_900_000_000 + 86_400, None).await.unwrap();
    assert_eq!(db.unsealed_signing_keys().await.unwrap().iter().filter(|k| k.tenant_id == tenant.id).count(), 1);
    let server = server.restart().await.unwrap();
    let db = &server.state.db;
    assert!(db.unsealed_signing_keys().await.unwrap().iter().all(|k| k.tenant_id != tenant.id), "sealed at start");
    let upgraded = db.active_signing_key(&tenant.id).await.unwrap().unwrap();
    assert_eq!(upgraded.kid, clear.kid);
    assert!(upgraded.private_der.is_empty() && upgraded.sealed_private.is_some());
    assert_eq!(signed_kid(&server, &tenant, &client).await, clear.kid, "the upgraded key signs, and verifies");
    // Starting again seals nothing twice.
    let server = server.restart().await.unwrap();
    assert_eq!(server.state.db.active_signing_key(&tenant.id).await.unwrap().unwrap().sealed_private, upgraded.sealed_private);
}}
