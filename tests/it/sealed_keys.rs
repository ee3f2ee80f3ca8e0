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

db_test! {
async fn rekey_seals_secrets_totp_secrets_and_signing_keys_again_under_a_new_node_key() {
    let clock = std::sync::Arc::new(keyhaven::clock::ManualClock::new(1_800_000_000));
    let server = TestServer::start_with_clock(clock.clone()).await.unwrap();
    let tenant = server.create_tenant("rekey").await.unwrap();
    server.deploy(&tenant, keyhaven_tests::guests::MISBEHAVING).await.unwrap();
    server.admin_ok(&tenant, reqwest::Method::PUT, "/extensions/extension/secrets/token", json!({"value": "s3cr3t-value"})).await;
    let totp_secret = crate::console::account(&server, &tenant, &clock, "ann", true).await;
    let client = server.create_client(&tenant, json!({"name": "c", "attributes": {"behaviour": "config"}})).await.unwrap();
    let kid = signed_kid(&server, &tenant, &client).await;
    let before = server.state.db.active_signing_key(&tenant.id).await.unwrap().unwrap();
    let db = server.state.db.clone();
    let old = Vault::load_or_create(&server.secrets_key_file(), &keyhaven::clock::SystemEntropy).unwrap();

    // With a key that is not the current one, nothing opens and nothing changes.
    let stranger = Vault::from_encoded(&URL_SAFE_NO_PAD.encode([3u8; 32])).unwrap();
    let new_dir = tempfile::tempdir().unwrap();
    let new_file = new_dir.path().join("new.key");
    let new = Vault::load_or_create(&new_file, &keyhaven::clock::SystemEntropy).unwrap();
    let refused = keyhaven::rekey::rekey(&db, &stranger, &new, &keyhaven::clock::SystemEntropy).await;
    assert!(refused.unwrap_err().to_string().contains("nothing was changed"));
    assert_eq!(server.state.db.active_signing_key(&tenant.id).await.unwrap().unwrap().sealed_private, before.sealed_private);

    let done = keyhaven::rekey::rekey(&db, &old, &new, &keyhaven::clock::SystemEntropy).await.unwrap();
    assert!(done.extension_secrets >= 1 && done.totp_secrets >= 1 && done.signing_keys >= 1, "{done:?}");
    let after = db.active_signing_key(&tenant.id).await.unwrap().unwrap();
    assert!(SigningKey::open(&after, &old).is_err(), "the old key opens nothing any more");
    assert!(SigningKey::open(&after, &new).is_ok());

    // Started with the new key, the node signs with the same key, reads the extension's
    // secret and checks the authenticator app's codes.
    let server = server.restart_with_key(&new_file).await.unwrap();
    assert_eq!(signed_kid(&server, &tenant, &client).await, kid);
    let body = expect_status(server.token(&tenant, &client).await.unwrap(), StatusCode::OK).await.unwrap();
    let claims = server.verify(&tenant, body["access_token"].as_str().unwrap(), &tenant.issuer).await.unwrap();
    assert_eq!(claims["secret_len"], "s3cr3t-value".len(), "{claims}");
    let login = |path: &str| server.url(&format!("/t/{}/login{path}", tenant.name));
    let started: Value = server.http.post(login("")).json(&json!({"username": "ann"})).send().await.unwrap().json().await.unwrap();
    let token = started["login_token"].as_str().unwrap();
    let factor = started["factors"].as_array().unwrap().iter().find(|f| f["kind"] == "totp").unwrap()["id"].as_str().unwrap().to_owned();
    clock.advance(30);
    let code = keyhaven::tenancy::totp::code(&totp_secret, keyhaven::tenancy::totp::step_of(keyhaven::clock::Clock::now(clock.as_ref())));
    let passed = server.http.post(login("/totp")).bearer_auth(token).json(&json!({"factor_id": factor, "code": code})).send().await.unwrap();
    assert_eq!(passed.status(), StatusCode::OK, "{}", passed.text().await.unwrap());
}}
