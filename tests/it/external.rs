//! Real external clients against a running tenant: a Python machine client written with
//! Authlib obtains a token (client_secret_basic), verifies it with PyJWT against the JWKS
//! it discovered, has a resource server introspect it, revokes it, and sees it inactive; and
//! one that authenticates with an RS256 `private_key_jwt` assertion Authlib signs. Then
//! relying parties that sign a person in through the hosted pages with the
//! authorization-code flow and PKCE — a confidential Authlib web app (PyJWT verifies the ID
//! token) and a public client built on the strict oauth4webapi (npm) — each checking
//! `state` and `iss`, the ID token's signature, nonce and `at_hash`, userinfo, one refresh
//! that rotates the refresh token, and the spent one refused. Last, a real browser
//! (headless Chromium, driven by playwright-core) signs a person in on the hosted pages —
//! typing, clicking, a wrong password refused on the page — and follows the redirect back
//! to the client, whose code the test exchanges for an ID token it verifies.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keyhaven_tests::{TestServer, TestTenant, expect_status, node, python};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const PASSWORD: &str = "a long enough passphrase";
/// Where the relying parties are sent back: nothing listens there, they read the redirect.
const REDIRECT_URI: &str = "http://127.0.0.1:8123/cb";

/// A tenant with a person `ann` who has a password, and a `profile` scope; ann's account id.
async fn tenant_with_a_person(server: &TestServer, tenant: &TestTenant) -> String {
    let profile = json!({"value": "profile", "label": "Profile", "required_score": 0});
    server.admin_ok(tenant, Method::POST, "/scopes", profile).await;
    let account =
        server.admin_ok(tenant, Method::POST, "/accounts", json!({"username": "ann", "password": PASSWORD})).await;
    account["id"].as_str().unwrap().to_owned()
}

/// What every relying party must have seen after signing ann in and refreshing once.
fn assert_code_flow(seen: &Value, tenant: &TestTenant, client_id: &str, account_id: &str) {
    assert_eq!(seen["submitted"], json!(["identify", "password-form"]), "{seen}");
    assert_eq!(seen["callback"]["iss"], tenant.issuer.as_str(), "RFC 9207: the issuer comes with the code");
    assert_eq!(seen["state_matched"], true);
    assert_eq!(seen["scope"], "openid profile");
    assert_eq!(seen["id_token_alg"], "ES256", "the tenant's default algorithm");
    let claims = &seen["claims"];
    assert_eq!(claims["iss"], tenant.issuer.as_str());
    assert_eq!(claims["sub"], account_id);
    assert_eq!(claims["aud"], client_id);
    assert_eq!(claims["azp"], client_id);
    assert!(claims["amr"].as_array().unwrap().contains(&json!("pwd")), "{claims}");
    assert!(claims["sid"].is_string() && claims["auth_time"].is_i64(), "{claims}");
    assert_eq!(seen["nonce_matched"], true);
    assert_eq!(seen["at_hash_matched"], true);
    assert_eq!(seen["userinfo"], json!({"sub": account_id, "preferred_username": "ann"}));
    assert_eq!(seen["refresh_rotated"], true);
    assert!(seen["refreshed_claims"].is_object(), "a refresh with openid answers an ID token: {seen}");
    assert_eq!(seen["refreshed_claims"]["sub"], account_id);
    assert_eq!(seen["refreshed_claims"]["auth_time"], claims["auth_time"], "a refresh is no new sign-in");
    assert_eq!(seen["reuse_error"], "invalid_grant");
}

/// The tenant's log recorded the reuse of a spent refresh token, as ann's (the service
/// records it before it answers the reuse).
async fn assert_reuse_recorded(server: &TestServer, tenant: &TestTenant, account_id: &str) {
    let events = server.get(&tenant.admin_token, &format!("/admin/v1/tenants/{}/events", tenant.name)).await.unwrap();
    let reuse = events.as_array().unwrap().iter().find(|e| e["action"] == "token.reuse_detected");
    assert_eq!(reuse.unwrap_or_else(|| panic!("no reuse event: {events}"))["account_id"], account_id);
}

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

db_test! {
async fn an_authlib_web_app_signs_a_person_in_with_pkce_and_refreshes_once() {
    let server = TestServer::start().await.unwrap();
    let tenant = server.create_tenant("authlib-code").await.unwrap();
    let account_id = tenant_with_a_person(&server, &tenant).await;
    let client = server
        .create_client(&tenant, json!({"name": "python web app", "redirect_uris": [REDIRECT_URI]}))
        .await
        .unwrap();
    let seen = python::run_script("authorization_code.py", &[
        ("KEYHAVEN_ISSUER", &tenant.issuer),
        ("CLIENT_ID", &client.client_id),
        ("CLIENT_SECRET", &client.client_secret),
        ("REDIRECT_URI", REDIRECT_URI),
        ("SCOPE", "openid profile"),
        ("USERNAME", "ann"),
        ("PASSWORD", PASSWORD),
    ])
    .await
    .unwrap();
    assert_code_flow(&seen, &tenant, &client.client_id, &account_id);
    assert_eq!(seen["token_type"], "Bearer");
    assert_eq!(seen["access_claims"]["sub"], account_id.as_str());
    assert_eq!(seen["access_claims"]["client_id"], client.client_id.as_str());
    assert_eq!(seen["access_claims"]["aud"], tenant.issuer.as_str(), "a client without an audience: the issuer");
    assert_reuse_recorded(&server, &tenant, &account_id).await;
}
}

db_test! {
async fn an_oauth4webapi_public_client_signs_a_person_in_with_pkce_and_refreshes_once() {
    let server = TestServer::start().await.unwrap();
    let tenant = server.create_tenant("oauth4webapi").await.unwrap();
    let account_id = tenant_with_a_person(&server, &tenant).await;
    let created = server.admin_ok(&tenant, Method::POST, "/clients", json!({"name": "single-page app", "public": true, "redirect_uris": [REDIRECT_URI]})).await;
    assert!(created.get("client_secret").is_none(), "a public client has no secret: {created}");
    let client_id = created["client_id"].as_str().unwrap();
    let seen = node::run_script("relying_party.mjs", &[
        ("KEYHAVEN_ISSUER", &tenant.issuer),
        ("CLIENT_ID", client_id),
        ("REDIRECT_URI", REDIRECT_URI),
        ("SCOPE", "openid profile"),
        ("USERNAME", "ann"),
        ("PASSWORD", PASSWORD),
    ])
    .await
    .unwrap();
    assert_code_flow(&seen, &tenant, client_id, &account_id);
    assert_eq!(seen["token_type"], "bearer", "as oauth4webapi normalises it");
    assert_reuse_recorded(&server, &tenant, &account_id).await;
}
}

/// A random PKCE verifier (43 characters) and its S256 challenge.
fn pkce_pair() -> (String, String) {
    let mut random = [0_u8; 32];
    aws_lc_rs::rand::fill(&mut random).unwrap();
    let verifier = URL_SAFE_NO_PAD.encode(random);
    let challenge = URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes()));
    (verifier, challenge)
}

db_test! {
async fn a_real_browser_signs_a_person_in_on_the_hosted_pages() {
    // Debian's chromium, or CHROMIUM; skipped with a note where it is missing, except in CI.
    let Some(chromium) = node::chromium() else { return };
    let server = TestServer::start().await.unwrap();
    let tenant = server.create_tenant("browser").await.unwrap();
    let account_id = tenant_with_a_person(&server, &tenant).await;
    let body = json!({"name": "browser app", "public": true, "redirect_uris": [REDIRECT_URI]});
    let client_id = server.admin_ok(&tenant, Method::POST, "/clients", body).await["client_id"].as_str().unwrap().to_owned();
    let (verifier, challenge) = pkce_pair();
    let (state, nonce) = (keyhaven_tests::unique_name("state"), keyhaven_tests::unique_name("nonce"));
    let mut authorize = reqwest::Url::parse(&format!("{}/oauth2/authorize", tenant.issuer)).unwrap();
    authorize.query_pairs_mut().extend_pairs([
        ("response_type", "code"),
        ("client_id", &client_id),
        ("redirect_uri", REDIRECT_URI),
        ("scope", "openid"),
        ("state", &state),
        ("nonce", &nonce),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
    ]);

    let seen = node::run_script("browser_login.mjs", &[
        ("AUTHORIZE_URL", authorize.as_str()),
        ("REDIRECT_URI", REDIRECT_URI),
        ("USERNAME", "ann"),
        ("PASSWORD", PASSWORD),
        ("CHROMIUM", chromium.to_str().unwrap()),
    ])
    .await
    .unwrap();
    assert_eq!(seen["wrong_password_message"], true, "{seen}");
    assert!(seen["title"].as_str().unwrap().starts_with("Sign in"), "{seen}");
    let callback = &seen["callback"];
    assert_eq!(callback["state"], state.as_str(), "{seen}");
    assert_eq!(callback["iss"], tenant.issuer.as_str(), "RFC 9207: the issuer comes with the code");
    let code = callback["code"].as_str().unwrap_or_else(|| panic!("no code: {seen}"));

    // The browser kept the session as the service set it: out of reach of scripts, not sent
    // on cross-site subrequests, and only to this tenant's paths.
    let cookies = seen["cookies"].as_array().unwrap();
    let session = cookies.iter().find(|c| c["name"] == "keyhaven_session").unwrap_or_else(|| panic!("no session cookie: {seen}"));
    assert_eq!(session["httpOnly"], true, "{session}");
    assert_eq!(session["sameSite"], "Lax", "{session}");
    assert_eq!(session["path"], format!("/t/{}", tenant.name), "{session}");
    assert_eq!(session["session"], true, "without 'stay signed in' the cookie ends with the browser: {session}");
    for cookie in cookies {
        assert_eq!(cookie["httpOnly"], true, "{cookie}");
        assert_eq!(cookie["sameSite"], "Lax", "{cookie}");
    }

    // The client redeems the code with its verifier and gets an ID token for ann.
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT_URI),
        ("client_id", &client_id),
        ("code_verifier", &verifier),
    ];
    let response = server.http.post(format!("{}/oauth2/token", tenant.issuer)).form(&form).send().await.unwrap();
    let tokens = expect_status(response, StatusCode::OK).await.unwrap();
    let id_token = tokens["id_token"].as_str().unwrap_or_else(|| panic!("no ID token: {tokens}"));
    let claims = server.verify_typed(&tenant, id_token, &client_id, "JWT").await.unwrap();
    assert_eq!(claims["sub"], account_id.as_str());
    assert_eq!(claims["nonce"], nonce.as_str());
    assert!(claims["amr"].as_array().unwrap().contains(&json!("pwd")), "{claims}");
}
}
