//! Introspection (RFC 7662) and revocation (RFC 7009): a live access token is active for
//! the tenant's authenticated clients; revoked, expired, tampered, foreign tokens and the
//! tokens of a disabled client or tenant are inactive, with nothing said about why. Clients
//! authenticate with secrets or with `private_key_jwt` assertions, each accepted once.

use std::sync::Arc;

use keyhaven::clock::ManualClock;
use keyhaven_tests::{TestClient, TestServer, TestTenant, expect_status};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn post_form(
    server: &TestServer,
    tenant: &TestTenant,
    endpoint: &str,
    client: Option<&TestClient>,
    form: &[(&str, &str)],
) -> reqwest::Response {
    let mut request = server.http.post(server.url(&format!("/t/{}/oauth2/{endpoint}", tenant.name))).form(form);
    if let Some(client) = client {
        request = request.basic_auth(&client.client_id, Some(&client.client_secret));
    }
    request.send().await.unwrap()
}

async fn introspect(server: &TestServer, tenant: &TestTenant, client: &TestClient, token: &str) -> Value {
    let response = post_form(server, tenant, "introspect", Some(client), &[("token", token)]).await;
    assert_eq!(response.headers()["cache-control"], "no-store");
    expect_status(response, StatusCode::OK).await.unwrap()
}

async fn access_token(server: &TestServer, tenant: &TestTenant, client: &TestClient) -> String {
    let body = expect_status(server.token(tenant, client).await.unwrap(), StatusCode::OK).await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

db_test! {
async fn introspection_answers_for_live_tokens_only_and_clients_revoke_their_own() {
    let clock = Arc::new(ManualClock::new(1_800_000_000));
    let server = TestServer::start_with_clock(clock.clone()).await.unwrap();
    let a = server.create_tenant("intro-a").await.unwrap();
    let b = server.create_tenant("intro-b").await.unwrap();
    let app = server.create_client(&a, json!({"name": "app", "scopes": ["invoices:read"]})).await.unwrap();
    let api = server.create_client(&a, json!({"name": "resource server"})).await.unwrap();
    let b_client = server.create_client(&b, json!({"name": "b"})).await.unwrap();
    let token = access_token(&server, &a, &app).await;

    let active = introspect(&server, &a, &api, &token).await;
    assert_eq!(active["active"], true);
    assert_eq!(active["client_id"], app.client_id.as_str());
    assert_eq!(active["sub"], app.client_id.as_str());
    assert_eq!(active["scope"], "invoices:read");
    assert_eq!(active["iss"], a.issuer.as_str());
    assert_eq!(active["exp"], 1_800_000_000 + 86_400);
    assert_eq!(active["token_type"], "Bearer");

    // Client authentication and the token parameter are required.
    let anonymous = post_form(&server, &a, "introspect", None, &[("token", &token)]).await;
    assert_eq!(expect_problem_oauth(anonymous, StatusCode::UNAUTHORIZED).await, "invalid_client");
    let missing = post_form(&server, &a, "introspect", Some(&api), &[]).await;
    assert_eq!(expect_problem_oauth(missing, StatusCode::BAD_REQUEST).await, "invalid_request");

    // Garbage, a tampered token and another tenant's tokens are simply inactive.
    let parts: Vec<&str> = token.split('.').collect();
    let tampered = format!("{}.{}.{}", parts[0], parts[1].replace('A', "B"), parts[2]);
    let b_token = access_token(&server, &b, &b_client).await;
    for other in ["garbage", tampered.as_str(), b_token.as_str()] {
        assert_eq!(introspect(&server, &a, &api, other).await, json!({"active": false}), "{other}");
    }
    assert_eq!(introspect(&server, &b, &b_client, &token).await, json!({"active": false}), "A's token at B");

    // Revocation: only the token's own client revokes it; anything else is 200 and no change.
    assert_eq!(revoke(&server, &a, &api, &[("token", &token)]).await.status(), StatusCode::OK);
    assert_eq!(introspect(&server, &a, &api, &token).await["active"], true, "not the resource server's to revoke");
    let unsupported = revoke(&server, &a, &app, &[("token", &token), ("token_type_hint", "id_card")]).await;
    assert_eq!(expect_problem_oauth(unsupported, StatusCode::BAD_REQUEST).await, "unsupported_token_type");
    assert_eq!(revoke(&server, &a, &app, &[("token", &token)]).await.status(), StatusCode::OK);
    assert_eq!(introspect(&server, &a, &api, &token).await, json!({"active": false}));
    assert_eq!(revoke(&server, &a, &app, &[("token", &token)]).await.status(), StatusCode::OK, "again: still 200");
    assert_eq!(revoke(&server, &a, &app, &[("token", "garbage")]).await.status(), StatusCode::OK);

    // A disabled client's tokens are inactive until it is enabled again; expiry ends them.
    let second = access_token(&server, &a, &app).await;
    let path = format!("/admin/v1/tenants/{}/clients/{}", a.name, app.client_id);
    for (state, active) in [("DISABLED", false), ("ENABLED", true)] {
        let changed = server.call(Method::PATCH, &a.admin_token, &path, Some(json!({"state": state}))).await.unwrap();
        expect_status(changed, StatusCode::OK).await.unwrap();
        assert_eq!(introspect(&server, &a, &api, &second).await["active"], active, "client {state}");
    }
    clock.advance(86_400);
    assert_eq!(introspect(&server, &a, &api, &second).await, json!({"active": false}), "expired");

    // A disabled tenant has no active token.
    let third = access_token(&server, &a, &app).await;
    let disabled = server.call(Method::PATCH, &server.root_token, &format!("/admin/v1/tenants/{}", a.name), Some(json!({"state": "DISABLED"}))).await.unwrap();
    expect_status(disabled, StatusCode::OK).await.unwrap();
    let response = post_form(&server, &a, "introspect", Some(&api), &[("token", &third)]).await;
    assert_eq!(expect_status(response, StatusCode::OK).await.unwrap(), json!({"active": false}));

    let events = server.get(&server.root_token, &format!("/admin/v1/tenants/{}/events", a.name)).await.unwrap();
    let revoked: Vec<&Value> = events.as_array().unwrap().iter().filter(|e| e["action"] == "token.revoked").collect();
    assert_eq!(revoked.len(), 1, "one revocation, however often asked");
    assert_eq!(revoked[0]["detail"]["client_id"], app.client_id.as_str());
}
}

async fn revoke(
    server: &TestServer,
    tenant: &TestTenant,
    client: &TestClient,
    form: &[(&str, &str)],
) -> reqwest::Response {
    post_form(server, tenant, "revoke", Some(client), form).await
}

/// The RFC 6749 error code of an OAuth error response with `status`.
async fn expect_problem_oauth(response: reqwest::Response, status: StatusCode) -> String {
    assert_eq!(response.status(), status);
    let body: Value = response.json().await.unwrap();
    body["error"].as_str().unwrap().to_owned()
}

db_test! {
async fn discovery_names_the_introspection_and_revocation_endpoints() {
    let server = TestServer::start().await.unwrap();
    let tenant = server.create_tenant("intro-disco").await.unwrap();
    let metadata = server.http.get(server.url(&format!("/t/{}/.well-known/openid-configuration", tenant.name))).send().await.unwrap();
    let metadata = expect_status(metadata, StatusCode::OK).await.unwrap();
    assert_eq!(metadata["introspection_endpoint"], format!("{}/oauth2/introspect", tenant.issuer));
    assert_eq!(metadata["revocation_endpoint"], format!("{}/oauth2/revoke", tenant.issuer));
}
}

/// A `private_key_jwt` assertion signed with `key` (PKCS#8 DER, P-256).
fn assertion(key: &[u8], kid: &str, claims: Value) -> String {
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, &claims, &jsonwebtoken::EncodingKey::from_ec_der(key)).unwrap()
}

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

db_test! {
async fn private_key_jwt_assertions_authenticate_a_client_each_once() {
    let now = 1_800_000_000;
    let server = TestServer::start_with_clock(Arc::new(ManualClock::new(now))).await.unwrap();
    let tenant = server.create_tenant("pkjwt").await.unwrap();
    let key = keyhaven::jwt::keys::generate("test", "ES256", now).unwrap();
    let stranger = keyhaven::jwt::keys::generate("test", "ES256", now).unwrap();
    let public: Value = serde_json::from_str(&key.public_jwk).unwrap();
    let clients = format!("/admin/v1/tenants/{}/clients", tenant.name);

    // Keys are checked when registered: public P-256 or RSA ≥ 2048 bits only.
    let mut private = public.clone();
    private["d"] = json!("AAAA");
    for jwks in [json!({"keys": [private]}), json!({"keys": []}), json!({"keys": [{"kty": "RSA", "n": "AQAB", "e": "AQAB"}]}), json!([public])] {
        let refused = server.call(Method::POST, &tenant.admin_token, &clients, Some(json!({"name": "x", "jwks": jwks}))).await.unwrap();
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST, "{jwks}");
    }
    let created = server.call(Method::POST, &tenant.admin_token, &clients, Some(json!({"name": "signer", "scopes": ["reports"], "jwks": {"keys": [public]}}))).await.unwrap();
    let created = expect_status(created, StatusCode::CREATED).await.unwrap();
    let client_id = created["client_id"].as_str().unwrap().to_owned();
    assert_eq!(created["jwks"]["keys"][0]["kid"], key.kid.as_str());

    let token_endpoint = format!("{}/oauth2/token", tenant.issuer);
    let claims = |aud: &str, exp: i64, jti: &str| json!({"iss": client_id, "sub": client_id, "aud": aud, "exp": exp, "iat": now, "jti": jti});
    let request = |assertion: String| {
        let url = server.url(&format!("/t/{}/oauth2/token", tenant.name));
        let form = vec![("grant_type", "client_credentials".to_owned()), ("client_assertion_type", JWT_BEARER.to_owned()), ("client_assertion", assertion)];
        server.http.post(url).form(&form).send()
    };
    let good = assertion(&key.private_der, &key.kid, claims(&token_endpoint, now + 300, "one"));
    let issued = expect_status(request(good.clone()).await.unwrap(), StatusCode::OK).await.unwrap();
    let token = issued["access_token"].as_str().unwrap().to_owned();
    assert_eq!(server.verify(&tenant, &token, &tenant.issuer).await.unwrap()["client_id"], client_id.as_str());

    // Replayed, for someone else, expired, too long-lived, or signed by another key: refused alike.
    let refused = [
        good,
        assertion(&key.private_der, &key.kid, claims("https://elsewhere.example/token", now + 300, "two")),
        assertion(&key.private_der, &key.kid, claims(&token_endpoint, now - 1, "three")),
        assertion(&key.private_der, &key.kid, claims(&token_endpoint, now + 7_200, "four")),
        assertion(&stranger.private_der, &key.kid, claims(&token_endpoint, now + 300, "five")),
        assertion(&key.private_der, &key.kid, json!({"iss": client_id, "sub": "someone-else", "aud": token_endpoint, "exp": now + 300, "jti": "six"})),
        "not-a-jwt".to_owned(),
    ];
    for (i, assertion) in refused.into_iter().enumerate() {
        let response = request(assertion).await.unwrap();
        assert_eq!(expect_problem_oauth(response, StatusCode::UNAUTHORIZED).await, "invalid_client", "case {i}");
    }
    // One method at a time; a client without keys cannot use assertions.
    let both = server.http.post(server.url(&format!("/t/{}/oauth2/token", tenant.name)))
        .basic_auth(&client_id, Some("secret"))
        .form(&[("grant_type", "client_credentials"), ("client_assertion_type", JWT_BEARER), ("client_assertion", "x")])
        .send().await.unwrap();
    assert_eq!(expect_problem_oauth(both, StatusCode::BAD_REQUEST).await, "invalid_request");
    let plain = server.create_client(&tenant, json!({"name": "plain"})).await.unwrap();
    let unregistered = assertion(&key.private_der, &key.kid, json!({"iss": plain.client_id, "sub": plain.client_id, "aud": token_endpoint, "exp": now + 300, "jti": "seven"}));
    assert_eq!(expect_problem_oauth(request(unregistered).await.unwrap(), StatusCode::UNAUTHORIZED).await, "invalid_client");

    // The same client introspects with an assertion for the introspection endpoint; keys removed, no more.
    let introspection = format!("{}/oauth2/introspect", tenant.issuer);
    let signed = assertion(&key.private_der, &key.kid, claims(&introspection, now + 300, "eight"));
    let form = [("token", token.as_str()), ("client_assertion_type", JWT_BEARER), ("client_assertion", signed.as_str())];
    let active = server.http.post(server.url(&format!("/t/{}/oauth2/introspect", tenant.name))).form(&form).send().await.unwrap();
    assert_eq!(expect_status(active, StatusCode::OK).await.unwrap()["active"], true);
    let removed = server.call(Method::PATCH, &tenant.admin_token, &format!("{clients}/{client_id}"), Some(json!({"jwks": null}))).await.unwrap();
    assert!(expect_status(removed, StatusCode::OK).await.unwrap().get("jwks").is_none());
    let later = assertion(&key.private_der, &key.kid, claims(&token_endpoint, now + 300, "nine"));
    assert_eq!(expect_problem_oauth(request(later).await.unwrap(), StatusCode::UNAUTHORIZED).await, "invalid_client");
}
}
