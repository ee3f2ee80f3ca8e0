//! The authorization-code flow for people, end to end through the hosted HTML pages (a
//! cookie-keeping test browser submits the forms a person would): sign-in, step-up to a
//! second factor, legal acceptance and consent before the code; PKCE, single-use codes,
//! ID tokens verified against the JWKS, userinfo; refresh-token rotation with reuse
//! detection; the lifecycle of accounts and clients; and tenant A's codes, tokens and
//! clients refused everywhere at tenant B without a word about A.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keyhaven::clock::{Clock, ManualClock};
use keyhaven_tests::browser::{Browser, Page};
use keyhaven_tests::{TestServer, TestTenant, expect_status};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const PASSWORD: &str = "a long enough passphrase";
const REDIRECT: &str = "http://127.0.0.1:9/callback";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes()))
}

async fn admin(server: &TestServer, tenant: &TestTenant, method: Method, path: &str, body: Option<Value>) -> Value {
    let path = format!("/admin/v1/tenants/{}{path}", tenant.name);
    let response = server.call(method, &tenant.admin_token, &path, body).await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    assert!(status.is_success(), "{path}: {status} {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// A person's account with a password; returns its id.
async fn account(server: &TestServer, tenant: &TestTenant, username: &str) -> String {
    let body = json!({"username": username, "password": PASSWORD, "email": format!("{username}@example.com")});
    admin(server, tenant, Method::POST, "/accounts", Some(body)).await["id"].as_str().unwrap().to_owned()
}

/// A public client (no secret) registering [`REDIRECT`]; returns its id.
async fn public_client(server: &TestServer, tenant: &TestTenant) -> String {
    let body = json!({"name": "Web app", "public": true, "redirect_uris": [REDIRECT]});
    let created = admin(server, tenant, Method::POST, "/clients", Some(body)).await;
    assert!(created.get("client_secret").is_none(), "a public client has no secret: {created}");
    created["client_id"].as_str().unwrap().to_owned()
}

fn authorize_url(tenant: &TestTenant, client_id: &str, scope: &str, extra: &str) -> String {
    format!(
        "/t/{}/oauth2/authorize?response_type=code&client_id={client_id}&redirect_uri={}&scope={}&state=st-1&nonce=n-1&code_challenge={}&code_challenge_method=S256{extra}",
        tenant.name,
        urlencode(REDIRECT),
        urlencode(scope),
        challenge(VERIFIER),
    )
}

fn urlencode(value: &str) -> String {
    reqwest::Url::parse_with_params("http://x/", &[("v", value)]).unwrap().query().unwrap()[2..].to_owned()
}

/// Signs in through the hosted pages with a password; returns the page after it.
async fn sign_in(browser: &mut Browser, start: &str, username: &str) -> Page {
    let page = browser.open(start).await.unwrap();
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    let page = browser.submit(&page, "identify", &[("username", username)]).await.unwrap();
    browser.submit(&page, "password-form", &[("password", PASSWORD)]).await.unwrap()
}

/// The code of a redirect to the client, after checking `state` and `iss`.
fn code_of(page: &Page, tenant: &TestTenant) -> String {
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.html);
    assert!(page.location.as_deref().unwrap().starts_with(REDIRECT), "{:?}", page.location);
    let params = page.redirect_params().unwrap();
    assert_eq!(params.get("state").map(String::as_str), Some("st-1"));
    assert_eq!(params.get("iss"), Some(&tenant.issuer), "RFC 9207: the issuer comes with the code");
    params.get("code").cloned().unwrap_or_else(|| panic!("no code: {params:?}"))
}

async fn token_request(server: &TestServer, tenant: &TestTenant, form: &[(&str, &str)]) -> reqwest::Response {
    server.http.post(server.url(&format!("/t/{}/oauth2/token", tenant.name))).form(form).send().await.unwrap()
}

async fn exchange(server: &TestServer, tenant: &TestTenant, client_id: &str, code: &str) -> reqwest::Response {
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("client_id", client_id),
        ("code_verifier", VERIFIER),
    ];
    token_request(server, tenant, &form).await
}

async fn refresh(server: &TestServer, tenant: &TestTenant, client_id: &str, token: &str) -> reqwest::Response {
    token_request(
        server,
        tenant,
        &[("grant_type", "refresh_token"), ("refresh_token", token), ("client_id", client_id)],
    )
    .await
}

async fn oauth_error(response: reqwest::Response, status: StatusCode) -> Value {
    let body = expect_status(response, status).await.unwrap();
    assert!(body["error"].is_string(), "{body}");
    body
}

async fn userinfo(server: &TestServer, tenant: &TestTenant, token: &str) -> reqwest::Response {
    server.http.get(server.url(&format!("/t/{}/userinfo", tenant.name))).bearer_auth(token).send().await.unwrap()
}

db_test! {
async fn a_person_signs_in_on_the_hosted_pages_and_the_client_gets_tokens_it_can_verify() {
    let server = TestServer::start().await.unwrap();
    let tenant = server.create_tenant("code-flow").await.unwrap();
    let account_id = account(&server, &tenant, "ann").await;
    admin(&server, &tenant, Method::POST, "/scopes", Some(json!({"value": "profile", "label": "Profile", "required_score": 2}))).await;
    let client_id = public_client(&server, &tenant).await;
    let mut browser = Browser::new(&server.base_url);
    let start = authorize_url(&tenant, &client_id, "openid profile", "");

    // Identifier first; a wrong password shows the form again with the reason.
    let page = browser.open(&start).await.unwrap();
    assert!(page.has_form("identify"), "{}", page.html);
    let page = browser.submit(&page, "identify", &[("username", "ann")]).await.unwrap();
    assert!(page.has_form("password-form"));
    let wrong = browser.submit(&page, "password-form", &[("password", "not it")]).await.unwrap();
    assert_eq!(wrong.status, StatusCode::OK);
    assert!(wrong.html.contains("authentication failed") && wrong.has_form("password-form"), "{}", wrong.html);
    // A form without its anti-forgery cookie, or with another token than the cookie's, is refused.
    let mut forged = Browser::new(&server.base_url);
    let refused = forged.submit(&page, "password-form", &[("password", PASSWORD)]).await.unwrap();
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let wrong_token = "x".repeat(43);
    let refused = browser.submit(&page, "password-form", &[("password", PASSWORD), ("csrf", wrong_token.as_str())]).await.unwrap();
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.location.is_none(), "a forged form signs nobody in");
    let login_token = browser.cookie("keyhaven_session").unwrap().to_owned();
    let done = browser.submit(&wrong, "password-form", &[("password", PASSWORD)]).await.unwrap();
    let code = code_of(&done, &tenant);
    // Signing in gave the session a new token: one planted before it is worth nothing.
    assert_ne!(browser.cookie("keyhaven_session").unwrap(), login_token);
    let planted = server.http.get(server.url(&format!("/t/{}/session", tenant.name))).bearer_auth(&login_token).send().await.unwrap();
    assert_eq!(planted.status(), StatusCode::UNAUTHORIZED);

    // PKCE: the verifier must be the challenge's.
    let bad = [("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", REDIRECT), ("client_id", client_id.as_str()), ("code_verifier", &"x".repeat(43))];
    assert_eq!(oauth_error(token_request(&server, &tenant, &bad).await, StatusCode::BAD_REQUEST).await["error"], "invalid_grant");
    // ... and a wrong one does not use the code up (an interceptor cannot burn it).
    let tokens = expect_status(exchange(&server, &tenant, &client_id, &code).await, StatusCode::OK).await.unwrap();
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["scope"], "openid profile");
    let access_token = tokens["access_token"].as_str().unwrap();
    let access = server.verify(&tenant, access_token, &tenant.issuer).await.unwrap();
    assert_eq!(access["sub"], account_id.as_str());
    assert_eq!(access["client_id"], client_id.as_str());
    let id = server.verify_typed(&tenant, tokens["id_token"].as_str().unwrap(), &client_id, "JWT").await.unwrap();
    assert_eq!(id["sub"], account_id.as_str());
    assert_eq!(id["nonce"], "n-1");
    assert_eq!(id["azp"], client_id.as_str());
    assert_eq!(id["amr"], json!(["pwd"]));
    assert_eq!(id["acr"], "urn:keyhaven:aal1");
    assert!(id["sid"].as_str().unwrap().starts_with("ses"), "{id}");
    assert!(id["auth_time"].as_i64().unwrap() <= id["iat"].as_i64().unwrap());
    let hash = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, access_token.as_bytes());
    assert_eq!(id["at_hash"], URL_SAFE_NO_PAD.encode(&hash.as_ref()[..16]));

    // A code works once; its second use also revokes what the first one issued.
    let replay = oauth_error(exchange(&server, &tenant, &client_id, &code).await, StatusCode::BAD_REQUEST).await;
    assert_eq!(replay["error"], "invalid_grant");
    let first_refresh = tokens["refresh_token"].as_str().unwrap();
    assert_eq!(oauth_error(refresh(&server, &tenant, &client_id, first_refresh).await, StatusCode::BAD_REQUEST).await["error"], "invalid_grant");

    // Refresh tokens rotate; a spent one presented again revokes its whole family.
    let code = code_of(&browser.open(&start).await.unwrap(), &tenant);
    let tokens = expect_status(exchange(&server, &tenant, &client_id, &code).await, StatusCode::OK).await.unwrap();
    let spent = tokens["refresh_token"].as_str().unwrap().to_owned();
    let renewed = expect_status(refresh(&server, &tenant, &client_id, &spent).await, StatusCode::OK).await.unwrap();
    let next = renewed["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(next, spent);
    let renewed_id = server.verify_typed(&tenant, renewed["id_token"].as_str().unwrap(), &client_id, "JWT").await.unwrap();
    assert_eq!(renewed_id["auth_time"], id["auth_time"], "a refresh does not pretend the person signed in again");
    let reused = oauth_error(refresh(&server, &tenant, &client_id, &spent).await, StatusCode::BAD_REQUEST).await;
    assert!(reused["error_description"].as_str().unwrap().contains("family"), "{reused}");
    assert_eq!(oauth_error(refresh(&server, &tenant, &client_id, &next).await, StatusCode::BAD_REQUEST).await["error"], "invalid_grant");
    let events = server.get(&tenant.admin_token, &format!("/admin/v1/tenants/{}/events", tenant.name)).await.unwrap();
    let reuse = events.as_array().unwrap().iter().find(|e| e["action"] == "token.reuse_detected");
    assert_eq!(reuse.unwrap_or_else(|| panic!("no reuse event: {events}"))["account_id"], account_id.as_str());

    // Userinfo answers for a person's token with openid, never for a machine's.
    let me = expect_status(userinfo(&server, &tenant, renewed["access_token"].as_str().unwrap()).await, StatusCode::OK).await.unwrap();
    assert_eq!(me, json!({"sub": account_id, "preferred_username": "ann"}));
    let machine = server.create_client(&tenant, json!({"name": "machine", "scopes": ["openid"]})).await.unwrap();
    let machine_token = expect_status(server.token(&tenant, &machine).await.unwrap(), StatusCode::OK).await.unwrap();
    let refused = userinfo(&server, &tenant, machine_token["access_token"].as_str().unwrap()).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let refused = userinfo(&server, &tenant, "not a token").await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert!(refused.headers()["www-authenticate"].to_str().unwrap().contains("invalid_token"));

    // Revoking a refresh token (the client's own) ends it; introspection agrees.
    let code = code_of(&browser.open(&start).await.unwrap(), &tenant);
    let tokens = expect_status(exchange(&server, &tenant, &client_id, &code).await, StatusCode::OK).await.unwrap();
    let live = tokens["refresh_token"].as_str().unwrap();
    let introspect = |token: String| {
        let (server, tenant, machine) = (&server, &tenant, &machine);
        async move {
            let url = server.url(&format!("/t/{}/oauth2/introspect", tenant.name));
            let response = server.http.post(url).basic_auth(&machine.client_id, Some(&machine.client_secret)).form(&[("token", token)]).send().await.unwrap();
            expect_status(response, StatusCode::OK).await.unwrap()
        }
    };
    let seen = introspect(live.to_owned()).await;
    assert_eq!((seen["active"].clone(), seen["token_type"].clone(), seen["sub"].clone()), (json!(true), json!("refresh_token"), json!(account_id)));
    let revoke = server.http.post(server.url(&format!("/t/{}/oauth2/revoke", tenant.name))).form(&[("token", live), ("client_id", client_id.as_str())]).send().await.unwrap();
    assert_eq!(revoke.status(), StatusCode::OK);
    assert_eq!(introspect(live.to_owned()).await, json!({"active": false}));
    assert_eq!(oauth_error(refresh(&server, &tenant, &client_id, live).await, StatusCode::BAD_REQUEST).await["error"], "invalid_grant");

    // Signing out ends the session and what it granted.
    let code = code_of(&browser.open(&start).await.unwrap(), &tenant);
    let tokens = expect_status(exchange(&server, &tenant, &client_id, &code).await, StatusCode::OK).await.unwrap();
    let session_url = server.url(&format!("/t/{}/session", tenant.name));
    let signed_out = server.http.delete(&session_url).bearer_auth(browser.cookie("keyhaven_session").unwrap()).send().await.unwrap();
    assert_eq!(signed_out.status(), StatusCode::NO_CONTENT);
    let ended = refresh(&server, &tenant, &client_id, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(oauth_error(ended, StatusCode::BAD_REQUEST).await["error"], "invalid_grant");
    let start_again = browser.open(&start).await.unwrap();
    let start_again = browser.submit(&start_again, "identify", &[("username", "ann")]).await.unwrap();
    code_of(&browser.submit(&start_again, "password-form", &[("password", PASSWORD)]).await.unwrap(), &tenant);

    // Two refreshes with one token at once: one wins, the other is a reuse, and the
    // winner's new token goes with the family.
    let code = code_of(&browser.open(&start).await.unwrap(), &tenant);
    let tokens = expect_status(exchange(&server, &tenant, &client_id, &code).await, StatusCode::OK).await.unwrap();
    let contested = tokens["refresh_token"].as_str().unwrap();
    let (first, second) = tokio::join!(refresh(&server, &tenant, &client_id, contested), refresh(&server, &tenant, &client_id, contested));
    let mut statuses = [first.status(), second.status()];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::BAD_REQUEST]);
    let winner = if first.status() == StatusCode::OK { first } else { second };
    let next = expect_status(winner, StatusCode::OK).await.unwrap()["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(oauth_error(refresh(&server, &tenant, &client_id, &next).await, StatusCode::BAD_REQUEST).await["error"], "invalid_grant");
}
}

db_test! {
async fn a_second_factor_the_terms_and_consent_come_before_the_code() {
    use keyhaven::tenancy::totp;
    let clock = Arc::new(ManualClock::new(1_800_000_000));
    let server = TestServer::start_with_clock(clock.clone()).await.unwrap();
    let tenant = server.create_tenant("step-up").await.unwrap();
    admin(&server, &tenant, Method::PATCH, "", Some(json!({"settings": {"second_factor_required": true}}))).await;
    let account_id = account(&server, &tenant, "bo").await;
    let enrolled = admin(&server, &tenant, Method::POST, &format!("/accounts/{account_id}/factors"), Some(json!({"kind": "totp"}))).await;
    let factor_id = enrolled["id"].as_str().unwrap().to_owned();
    let secret = totp::from_base32(enrolled["totp"]["secret"].as_str().unwrap()).unwrap();
    let confirm = format!("/accounts/{account_id}/factors/{factor_id}/confirm");
    admin(&server, &tenant, Method::POST, &confirm, Some(json!({"code": totp::code(&secret, totp::step_of(clock.now()))}))).await;
    clock.advance(30);
    let document = admin(&server, &tenant, Method::POST, "/legal", Some(json!({"label": "Terms", "url": "https://example.com/terms"}))).await;
    admin(&server, &tenant, Method::POST, "/scopes", Some(json!({"value": "photos", "label": "Your photos", "required_score": 2, "consent_required": true}))).await;
    let client_id = public_client(&server, &tenant).await;
    let start = authorize_url(&tenant, &client_id, "openid photos", "");

    // prompt=none with no session goes straight back: login_required.
    let mut browser = Browser::new(&server.base_url);
    let silent = browser.open(&authorize_url(&tenant, &client_id, "openid", "&prompt=none")).await.unwrap();
    assert_eq!(silent.status, StatusCode::SEE_OTHER);
    assert!(silent.location.as_deref().unwrap().starts_with(REDIRECT), "{:?}", silent.location);
    let params = silent.redirect_params().unwrap();
    assert_eq!((params["error"].as_str(), params["state"].as_str()), ("login_required", "st-1"));

    // The password is not enough: the authenticator app's code is asked for.
    let page = sign_in(&mut browser, &start, "bo").await;
    let totp_form = page.form_starting("totp-").unwrap_or_else(|| panic!("no step-up: {}", page.html));
    assert!(!page.has_form("password-form"), "a factor already passed is not offered again");
    let wrong = browser.submit(&page, &totp_form, &[("code", "000000")]).await.unwrap();
    assert!(wrong.html.contains("authentication failed"), "{}", wrong.html);
    let code = totp::code(&secret, totp::step_of(clock.now()));
    let page = browser.submit(&wrong, &totp_form, &[("code", &code)]).await.unwrap();

    // Then the terms, then consent: denying tells the client access_denied.
    assert!(page.has_form("legal") && page.html.contains("https://example.com/terms"), "{}", page.html);
    let page = browser.submit(&page, "legal", &[]).await.unwrap();
    assert!(page.has_form("consent") && page.html.contains("photos"), "{}", page.html);
    let denied = browser.submit(&page, "deny", &[]).await.unwrap();
    let params = denied.redirect_params().unwrap();
    assert_eq!((params["error"].as_str(), params["state"].as_str()), ("access_denied", "st-1"));
    let page = browser.open(&start).await.unwrap();
    let done = browser.submit(&page, "consent", &[]).await.unwrap();
    let code = code_of(&done, &tenant);
    let tokens = expect_status(exchange(&server, &tenant, &client_id, &code).await, StatusCode::OK).await.unwrap();
    let id = server.verify_typed(&tenant, tokens["id_token"].as_str().unwrap(), &client_id, "JWT").await.unwrap();
    assert_eq!(id["amr"], json!(["pwd", "otp", "mfa"]));
    assert_eq!(id["acr"], "urn:keyhaven:aal2");
    // Consent given once holds; prompt=none now gets a code.
    let silent = browser.open(&format!("{start}&prompt=none")).await.unwrap();
    code_of(&silent, &tenant);
    // prompt=consent asks again even so; max_age=0 asks to sign in again, once.
    let asked = browser.open(&format!("{start}&prompt=consent")).await.unwrap();
    assert!(asked.has_form("consent"), "{}", asked.html);
    let fresh = browser.open(&format!("{start}&max_age=0")).await.unwrap();
    assert!(fresh.has_form("identify"), "{}", fresh.html);
    let fresh = browser.submit(&fresh, "identify", &[("username", "bo")]).await.unwrap();
    let fresh = browser.submit(&fresh, "password-form", &[("password", PASSWORD)]).await.unwrap();
    clock.advance(30);
    let totp_form = fresh.form_starting("totp-").unwrap_or_else(|| panic!("{}", fresh.html));
    let fresh = browser.submit(&fresh, &totp_form, &[("code", &totp::code(&secret, totp::step_of(clock.now())))]).await.unwrap();
    code_of(&fresh, &tenant);

    // Withdrawing the consent ends the client's refresh tokens for those scopes.
    let session_token = browser.cookie("keyhaven_session").unwrap().to_owned();
    let consents_url = server.url(&format!("/t/{}/session/consents", tenant.name));
    let mine = expect_status(server.http.get(&consents_url).bearer_auth(&session_token).send().await.unwrap(), StatusCode::OK).await.unwrap();
    let photos = mine["consents"].as_array().unwrap().iter().find(|c| c["kind"] == "scope").unwrap()["id"].as_str().unwrap().to_owned();
    let spare = expect_status(refresh(&server, &tenant, &client_id, tokens["refresh_token"].as_str().unwrap()).await, StatusCode::OK).await.unwrap();
    let tokens = json!({"refresh_token": spare["refresh_token"].clone()});
    let withdrawn = server.http.delete(format!("{consents_url}/{photos}")).bearer_auth(&session_token).send().await.unwrap();
    assert_eq!(withdrawn.status(), StatusCode::NO_CONTENT);
    let refused = oauth_error(refresh(&server, &tenant, &client_id, tokens["refresh_token"].as_str().unwrap()).await, StatusCode::BAD_REQUEST).await;
    assert!(refused["error_description"].as_str().unwrap().contains("consent"), "{refused}");

    // An account with a password only cannot meet the tenant's second factor: told so.
    account(&server, &tenant, "dot").await;
    let mut alone = Browser::new(&server.base_url);
    let refused = sign_in(&mut alone, &authorize_url(&tenant, &client_id, "openid", ""), "dot").await;
    let params = refused.redirect_params().unwrap();
    assert_eq!(params["error"], "access_denied");
    assert!(params["error_description"].contains("second factor"), "{params:?}");

    // A new version of the terms: refresh is refused until they are accepted.
    let tokens = expect_status(exchange(&server, &tenant, &client_id, &code_of(&browser.open(&authorize_url(&tenant, &client_id, "openid", "")).await.unwrap(), &tenant)).await, StatusCode::OK).await.unwrap();
    let document_id = document["id"].as_str().unwrap();
    admin(&server, &tenant, Method::POST, &format!("/legal/{document_id}/versions"), Some(json!({"url": "https://example.com/terms-2"}))).await;
    let refused = oauth_error(refresh(&server, &tenant, &client_id, tokens["refresh_token"].as_str().unwrap()).await, StatusCode::BAD_REQUEST).await;
    assert!(refused["error_description"].as_str().unwrap().contains("terms"), "{refused}");
}
}

db_test! {
async fn requests_that_cannot_be_trusted_never_redirect_and_bad_ones_go_back_to_the_client() {
    let server = TestServer::start().await.unwrap();
    let tenant = server.create_tenant("authorize-errors").await.unwrap();
    let client_id = public_client(&server, &tenant).await;
    let mut browser = Browser::new(&server.base_url);
    let base = format!("/t/{}/oauth2/authorize", tenant.name);

    // Unknown client or unregistered redirect URI: a page, never a redirect.
    for query in [
        format!("?response_type=code&client_id=nobody&redirect_uri={}", urlencode(REDIRECT)),
        format!("?response_type=code&client_id={client_id}&redirect_uri={}", urlencode("https://evil.example/cb")),
        "?response_type=code".to_owned(),
    ] {
        let page = browser.get(&format!("{base}{query}")).await.unwrap();
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{query}");
        assert!(page.location.is_none() && page.html.contains("Cannot continue"), "{query}: {}", page.html);
    }
    // Once the client is known, errors go back to it.
    for (extra, error) in [
        ("&response_type=token", "unsupported_response_type"),
        ("&response_type=code&scope=openid", "invalid_request"), // a public client without PKCE
        ("&response_type=code&scope=openid&code_challenge=abc&code_challenge_method=plain", "invalid_request"),
        ("&response_type=code&scope=nonsense&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256", "invalid_scope"),
    ] {
        let page = browser.get(&format!("{base}?client_id={client_id}&redirect_uri={}&state=s{extra}", urlencode(REDIRECT))).await.unwrap();
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{extra}: {}", page.html);
        let params = page.redirect_params().unwrap();
        assert_eq!((params["error"].as_str(), params["state"].as_str()), (error, "s"), "{extra}");
    }
    // An unknown person gets the same password form as a real one.
    let page = browser.open(&authorize_url(&tenant, &client_id, "openid", "")).await.unwrap();
    let decoy = browser.submit(&page, "identify", &[("username", "nobody-here")]).await.unwrap();
    assert_eq!(decoy.forms(), ["password-form", "switch"]);
    // Reloading shows the same: the flow does not tell an unknown name from a login in progress.
    let reloaded = browser.open(&authorize_url(&tenant, &client_id, "openid", "")).await.unwrap();
    assert_eq!(reloaded.forms(), ["password-form", "switch"], "{}", reloaded.html);
    let failed = browser.submit(&decoy, "password-form", &[("password", PASSWORD)]).await.unwrap();
    assert!(failed.html.contains("authentication failed"));
    // Nothing about a real account is told before a factor is passed: not even whether it
    // holds the permission a scope needs.
    account(&server, &tenant, "pat").await;
    let mut browser = Browser::new(&server.base_url);
    let page = browser.open(&authorize_url(&tenant, &client_id, "openid", "")).await.unwrap();
    browser.submit(&page, "identify", &[("username", "pat")]).await.unwrap();
    let probe = browser.open(&authorize_url(&tenant, &client_id, "openid admin", "")).await.unwrap();
    assert_eq!((probe.status, probe.forms()), (StatusCode::OK, vec!["password-form".to_owned(), "switch".to_owned()]));
    let denied = browser.submit(&probe, "password-form", &[("password", PASSWORD)]).await.unwrap();
    assert_eq!(denied.redirect_params().unwrap()["error"], "access_denied", "once signed in, the missing permission is told");
    // Redirect URIs a client may register.
    for uri in ["http://example.com/cb", "https://example.com/cb#frag", "not a uri", "javascript:alert(1)"] {
        let response = server.call(Method::POST, &tenant.admin_token, &format!("/admin/v1/tenants/{}/clients", tenant.name), Some(json!({"name": "x", "redirect_uris": [uri]}))).await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{uri}");
    }
}
}

db_test! {
async fn disabled_accounts_and_clients_get_no_refresh_and_their_tokens_go_inactive() {
    let server = TestServer::start().await.unwrap();
    let tenant = server.create_tenant("code-lifecycle").await.unwrap();
    let account_id = account(&server, &tenant, "cy").await;
    let client_id = public_client(&server, &tenant).await;
    let resource = server.create_client(&tenant, json!({"name": "api"})).await.unwrap();
    let mut browser = Browser::new(&server.base_url);
    let start = authorize_url(&tenant, &client_id, "openid", "");
    let code = code_of(&sign_in(&mut browser, &start, "cy").await, &tenant);
    let tokens = expect_status(exchange(&server, &tenant, &client_id, &code).await, StatusCode::OK).await.unwrap();
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let active = |token: String| {
        let (server, tenant, resource) = (&server, &tenant, &resource);
        async move {
            let url = server.url(&format!("/t/{}/oauth2/introspect", tenant.name));
            let response = server.http.post(url).basic_auth(&resource.client_id, Some(&resource.client_secret)).form(&[("token", token)]).send().await.unwrap();
            expect_status(response, StatusCode::OK).await.unwrap()["active"] == json!(true)
        }
    };
    assert!(active(access.clone()).await);

    admin(&server, &tenant, Method::PATCH, &format!("/accounts/{account_id}"), Some(json!({"state": "DISABLED"}))).await;
    assert!(!active(access.clone()).await, "a disabled account's tokens are inactive");
    assert_eq!(userinfo(&server, &tenant, &access).await.status(), StatusCode::UNAUTHORIZED);
    let refused = oauth_error(refresh(&server, &tenant, &client_id, tokens["refresh_token"].as_str().unwrap()).await, StatusCode::BAD_REQUEST).await;
    assert_eq!(refused["error"], "invalid_grant");
    // The browser's session ended with it: the pages ask to sign in again.
    assert!(browser.open(&start).await.unwrap().has_form("identify"));

    admin(&server, &tenant, Method::PATCH, &format!("/accounts/{account_id}"), Some(json!({"state": "ENABLED"}))).await;
    let revived = refresh(&server, &tenant, &client_id, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(oauth_error(revived, StatusCode::BAD_REQUEST).await["error"], "invalid_grant", "re-enabling brings no old grant back");
    let code = code_of(&sign_in(&mut browser, &start, "cy").await, &tenant);
    let tokens = expect_status(exchange(&server, &tenant, &client_id, &code).await, StatusCode::OK).await.unwrap();
    admin(&server, &tenant, Method::PATCH, &format!("/clients/{client_id}"), Some(json!({"state": "DISABLED"}))).await;
    assert!(!active(tokens["access_token"].as_str().unwrap().to_owned()).await, "a disabled client's tokens are inactive");
    let refused = oauth_error(refresh(&server, &tenant, &client_id, tokens["refresh_token"].as_str().unwrap()).await, StatusCode::UNAUTHORIZED).await;
    assert_eq!(refused["error"], "invalid_client");
    let page = browser.get(&start).await.unwrap();
    assert_eq!(page.status, StatusCode::BAD_REQUEST, "a disabled client cannot start a flow");

    // A disabled tenant: no refresh, its people's tokens inactive, no sign-in page.
    admin(&server, &tenant, Method::PATCH, &format!("/clients/{client_id}"), Some(json!({"state": "ENABLED"}))).await;
    let code = code_of(&browser.open(&start).await.unwrap(), &tenant);
    let tokens = expect_status(exchange(&server, &tenant, &client_id, &code).await, StatusCode::OK).await.unwrap();
    let disabled = server.call(Method::PATCH, &server.root_token, &format!("/admin/v1/tenants/{}", tenant.name), Some(json!({"state": "DISABLED"}))).await.unwrap();
    assert_eq!(disabled.status(), StatusCode::OK);
    assert!(!active(tokens["access_token"].as_str().unwrap().to_owned()).await, "a disabled tenant's tokens are inactive");
    let refused = refresh(&server, &tenant, &client_id, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(oauth_error(refused, StatusCode::UNAUTHORIZED).await["error"], "invalid_client", "no client of a disabled tenant authenticates");
    assert_eq!(browser.get(&start).await.unwrap().status, StatusCode::NOT_FOUND);
}
}

db_test! {
async fn tenant_a_codes_tokens_and_clients_are_refused_at_tenant_b_without_a_word_about_a() {
    let server = TestServer::start().await.unwrap();
    let a = server.create_tenant("matrix-a").await.unwrap();
    let b = server.create_tenant("matrix-b").await.unwrap();
    account(&server, &a, "dee").await;
    account(&server, &b, "dee").await;
    let a_public = public_client(&server, &a).await;
    let b_public = public_client(&server, &b).await;
    let a_machine = server.create_client(&a, json!({"name": "a machine"})).await.unwrap();
    let b_machine = server.create_client(&b, json!({"name": "b machine"})).await.unwrap();
    let mut browser = Browser::new(&server.base_url);
    let code = code_of(&sign_in(&mut browser, &authorize_url(&a, &a_public, "openid", ""), "dee").await, &a);
    let unused_code = code_of(&browser.open(&authorize_url(&a, &a_public, "openid", "")).await.unwrap(), &a);
    let tokens = expect_status(exchange(&server, &a, &a_public, &code).await, StatusCode::OK).await.unwrap();
    let access = tokens["access_token"].as_str().unwrap();
    let refresh_token = tokens["refresh_token"].as_str().unwrap();
    let machine_access = expect_status(server.token(&a, &a_machine).await.unwrap(), StatusCode::OK).await.unwrap()["access_token"].as_str().unwrap().to_owned();

    let mut answers: Vec<String> = Vec::new();
    let b_token = |form: Vec<(&'static str, String)>| {
        let server = &server;
        let url = server.url(&format!("/t/{}/oauth2/token", b.name));
        async move { server.http.post(url).form(&form).send().await.unwrap() }
    };
    // A's code at B: with B's public client it is no code of B's; A's client id is no client of B's.
    for (client, status, error) in [(&b_public, StatusCode::BAD_REQUEST, "invalid_grant"), (&a_public, StatusCode::UNAUTHORIZED, "invalid_client")] {
        let response = b_token(vec![("grant_type", "authorization_code".into()), ("code", unused_code.clone()), ("redirect_uri", REDIRECT.into()), ("client_id", client.clone()), ("code_verifier", VERIFIER.into())]).await;
        let body = oauth_error(response, status).await;
        assert_eq!(body["error"], error);
        answers.push(body.to_string());
    }
    // A's refresh token at B, the same.
    for (client, status, error) in [(&b_public, StatusCode::BAD_REQUEST, "invalid_grant"), (&a_public, StatusCode::UNAUTHORIZED, "invalid_client")] {
        let response = b_token(vec![("grant_type", "refresh_token".into()), ("refresh_token", refresh_token.into()), ("client_id", client.clone())]).await;
        let body = oauth_error(response, status).await;
        assert_eq!(body["error"], error);
        answers.push(body.to_string());
    }
    // A's machine credentials at B's token, introspection and revocation endpoints.
    for endpoint in ["token", "introspect", "revoke"] {
        let form = [("grant_type", "client_credentials"), ("token", access)];
        let url = server.url(&format!("/t/{}/oauth2/{endpoint}", b.name));
        let response = server.http.post(url).basic_auth(&a_machine.client_id, Some(&a_machine.client_secret)).form(&form).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{endpoint}");
        answers.push(response.text().await.unwrap());
    }
    // A's tokens introspected by B's own resource server, and at B's userinfo.
    for token in [access, refresh_token, machine_access.as_str()] {
        let url = server.url(&format!("/t/{}/oauth2/introspect", b.name));
        let response = server.http.post(url).basic_auth(&b_machine.client_id, Some(&b_machine.client_secret)).form(&[("token", token)]).send().await.unwrap();
        let body = expect_status(response, StatusCode::OK).await.unwrap();
        assert_eq!(body, json!({"active": false}));
        let response = userinfo(&server, &b, token).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        answers.push(response.text().await.unwrap());
    }
    // A's client at B's authorization endpoint: a page, no redirect.
    let page = browser.get(&authorize_url(&b, &a_public, "openid", "")).await.unwrap();
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.location.is_none());
    answers.push(page.html);
    // B's revocation of A's refresh token changed nothing: it still works at A.
    let revoke = server.http.post(server.url(&format!("/t/{}/oauth2/revoke", b.name))).form(&[("token", refresh_token), ("client_id", b_public.as_str())]).send().await.unwrap();
    assert_eq!(revoke.status(), StatusCode::OK);
    expect_status(refresh(&server, &a, &a_public, refresh_token).await, StatusCode::OK).await.unwrap();

    for answer in &answers {
        for secret in [a.name.as_str(), a.id.as_str(), a_public.as_str(), a_machine.client_id.as_str(), a.issuer.as_str()] {
            assert!(!answer.contains(secret), "an answer at B names {secret}: {answer}");
        }
    }
}
}

/// The claims of a JWT, unverified (the test has the service vouch for it separately).
fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

db_test! {
async fn a_tenant_answers_on_its_subdomain_with_that_origin_as_its_issuer() {
    let server = TestServer::start().await.unwrap();
    let tenant = server.create_tenant("subdomain").await.unwrap();
    let other = server.create_tenant("subdomain-other").await.unwrap();
    account(&server, &tenant, "eli").await;
    let client_id = public_client(&server, &tenant).await;
    let port = server.base_url.rsplit(':').next().unwrap();
    let host = format!("{}.localhost:{port}", tenant.name);
    let issuer = format!("http://{host}");
    let on_subdomain = |path: &str| server.http.get(server.url(path)).header("host", &host);

    // Discovery on the subdomain: its origin is the issuer, and every endpoint is under it.
    let metadata = expect_status(on_subdomain("/.well-known/openid-configuration").send().await.unwrap(), StatusCode::OK).await.unwrap();
    assert_eq!(metadata["issuer"], issuer.as_str());
    assert_eq!(metadata["token_endpoint"], format!("{issuer}/oauth2/token"));
    let jwks = expect_status(on_subdomain("/jwks.json").send().await.unwrap(), StatusCode::OK).await.unwrap();
    assert!(!jwks["keys"].as_array().unwrap().is_empty());
    // A subdomain serves its tenant only: not the admin API, not another tenant's routes;
    // an unknown label is no tenant.
    let admin = on_subdomain("/admin/v1/tenants").bearer_auth(&tenant.admin_token).send().await.unwrap();
    assert_eq!(admin.status(), StatusCode::NOT_FOUND, "the admin API is the main host's only");
    let elsewhere = on_subdomain(&format!("/t/{}/.well-known/openid-configuration", other.name)).send().await.unwrap();
    assert_eq!(elsewhere.status(), StatusCode::NOT_FOUND, "no other tenant on this origin");
    let unknown = server.http.get(server.url("/.well-known/openid-configuration")).header("host", format!("nobody.localhost:{port}")).send().await.unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);

    // The whole code flow on the subdomain.
    let mut browser = Browser::with_host(&server.base_url, &host);
    let start = authorize_url(&tenant, &client_id, "openid", "").replacen(&format!("/t/{}", tenant.name), "", 1);
    let done = sign_in(&mut browser, &start, "eli").await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
    let params = done.redirect_params().unwrap();
    assert_eq!(params["iss"], issuer);
    let exchange = server.http.post(server.url("/oauth2/token")).header("host", &host).form(&[
        ("grant_type", "authorization_code"), ("code", params["code"].as_str()), ("redirect_uri", REDIRECT),
        ("client_id", client_id.as_str()), ("code_verifier", VERIFIER),
    ]).send().await.unwrap();
    let tokens = expect_status(exchange, StatusCode::OK).await.unwrap();
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(claims_of(access)["iss"], issuer.as_str());
    assert_eq!(claims_of(access)["aud"], issuer.as_str());
    assert_eq!(claims_of(tokens["id_token"].as_str().unwrap())["iss"], issuer.as_str());
    // A refresh on the service's path keeps the issuer the person signed in at.
    let renewed = expect_status(refresh(&server, &tenant, &client_id, tokens["refresh_token"].as_str().unwrap()).await, StatusCode::OK).await.unwrap();
    assert_eq!(claims_of(renewed["id_token"].as_str().unwrap())["iss"], issuer.as_str());
    assert_eq!(claims_of(renewed["access_token"].as_str().unwrap())["iss"], issuer.as_str());

    // The tenant accepts its subdomain's tokens on its path too; another tenant does not.
    let resource = server.create_client(&tenant, json!({"name": "api"})).await.unwrap();
    let stranger = server.create_client(&other, json!({"name": "api"})).await.unwrap();
    for (at, client, active) in [(&tenant, &resource, true), (&other, &stranger, false)] {
        let url = server.url(&format!("/t/{}/oauth2/introspect", at.name));
        let response = server.http.post(url).basic_auth(&client.client_id, Some(&client.client_secret)).form(&[("token", access)]).send().await.unwrap();
        assert_eq!(expect_status(response, StatusCode::OK).await.unwrap()["active"], active, "{}", at.name);
    }
    let other_host = format!("{}.localhost:{port}", other.name);
    let userinfo = server.http.get(server.url("/userinfo")).header("host", &other_host).bearer_auth(access).send().await.unwrap();
    assert_eq!(userinfo.status(), StatusCode::UNAUTHORIZED);
}
}

db_test! {
async fn the_token_issuance_extension_runs_for_people_on_every_grant_refresh_included() {
    let server = TestServer::start().await.unwrap();
    let tenant = server.create_tenant("code-claims").await.unwrap();
    server.deploy(&tenant, keyhaven_tests::guests::CUSTOM_CLAIMS).await.unwrap();
    let body = json!({"username": "flo", "password": PASSWORD, "attributes": {"org": "acme", "roles": ["editor"]}});
    let account_id = admin(&server, &tenant, Method::POST, "/accounts", Some(body)).await["id"].as_str().unwrap().to_owned();
    let client_id = public_client(&server, &tenant).await;
    let mut browser = Browser::new(&server.base_url);
    let code = code_of(&sign_in(&mut browser, &authorize_url(&tenant, &client_id, "openid", ""), "flo").await, &tenant);
    let tokens = expect_status(exchange(&server, &tenant, &client_id, &code).await, StatusCode::OK).await.unwrap();
    let access = server.verify(&tenant, tokens["access_token"].as_str().unwrap(), &tenant.issuer).await.unwrap();
    assert_eq!((access["org"].clone(), access["roles"].clone()), (json!("acme"), json!(["editor"])));
    let id = server.verify_typed(&tenant, tokens["id_token"].as_str().unwrap(), &client_id, "JWT").await.unwrap();
    assert_eq!(id["org"], "acme", "the extension's ID-token claim");
    assert!(id.get("roles").is_none(), "access-token claims stay in the access token");

    // On refresh too: a subject the extension refuses gets access_denied with its reason.
    admin(&server, &tenant, Method::PATCH, &format!("/accounts/{account_id}"), Some(json!({"attributes": {"org": "acme", "suspended": true}}))).await;
    let denied = oauth_error(refresh(&server, &tenant, &client_id, tokens["refresh_token"].as_str().unwrap()).await, StatusCode::BAD_REQUEST).await;
    assert_eq!((denied["error"].as_str(), denied["error_description"].as_str()), (Some("access_denied"), Some("this client is suspended")));
}
}
