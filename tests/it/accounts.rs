//! Human accounts end to end: creation through the tenant's account-creation extension
//! (refused, or normalised), changes as events with what was added and removed, factors;
//! identifier-first login with a password and a one-time code delivered by the tenant's
//! otp-delivery extension to an SMS provider on 127.0.0.1, session scores, lockout and its
//! expiry under a test clock (no sleeping), single-use and expiring codes, and sessions
//! that end with their account.

use std::sync::Arc;
use std::time::Duration;

use keyhaven::clock::{Clock, ManualClock};
use keyhaven_tests::{FakeHttpServer, TestServer, TestTenant, expect_problem, expect_status, guests};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn admin(
    server: &TestServer,
    tenant: &TestTenant,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let path = format!("/admin/v1/tenants/{}{path}", tenant.name);
    server.call(method, &tenant.admin_token, &path, body).await.unwrap()
}

async fn login(server: &TestServer, tenant: &TestTenant, path: &str, token: &str, body: Value) -> reqwest::Response {
    let url = server.url(&format!("/t/{}/{path}", tenant.name));
    server.http.post(url).bearer_auth(token).json(&body).send().await.unwrap()
}

async fn start_login(server: &TestServer, tenant: &TestTenant, username: &str) -> Value {
    let url = server.url(&format!("/t/{}/login", tenant.name));
    let response = server.http.post(url).json(&json!({"username": username})).send().await.unwrap();
    expect_status(response, StatusCode::CREATED).await.unwrap()
}

async fn session(server: &TestServer, tenant: &TestTenant, token: &str) -> reqwest::Response {
    server.http.get(server.url(&format!("/t/{}/session", tenant.name))).bearer_auth(token).send().await.unwrap()
}

async fn actions(server: &TestServer, tenant: &TestTenant) -> Vec<String> {
    let events = server.get(&tenant.admin_token, &format!("/admin/v1/tenants/{}/events", tenant.name)).await.unwrap();
    events.as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap().to_owned()).collect()
}

db_test! {
async fn accounts_pass_the_account_creation_extension_and_every_change_is_an_event() {
    let server = TestServer::start().await.unwrap();
    let tenant = server.create_tenant("accounts").await.unwrap();
    server.deploy_as(&tenant, guests::ACCOUNT_GUARD, "guard", "").await.unwrap();
    let password = "a long enough passphrase";

    // The extension refuses a disposable address: nothing is stored.
    let refused = admin(&server, &tenant, Method::POST, "/accounts", Some(json!({"username": "eve", "email": "eve@mailinator.com"}))).await;
    let problem = expect_problem(refused, StatusCode::UNPROCESSABLE_ENTITY).await.unwrap();
    assert!(problem["detail"].as_str().unwrap().contains("refused by the tenant's extension"), "{problem}");
    // Bad input is refused before any extension runs.
    for body in [
        json!({"username": ""}),
        json!({"username": "x", "email": "not-an-address"}),
        json!({"username": "x", "phone": "555"}),
        json!({"username": "x", "password": "short"}),
        json!({"username": "x", "unknown": 1}),
    ] {
        let response = admin(&server, &tenant, Method::POST, "/accounts", Some(body.clone())).await;
        expect_problem(response, StatusCode::BAD_REQUEST).await.unwrap();
    }
    let listed = server.get(&tenant.admin_token, &format!("/admin/v1/tenants/{}/accounts", tenant.name)).await.unwrap();
    let names: Vec<&str> = listed.as_array().unwrap().iter().map(|a| a["username"].as_str().unwrap()).collect();
    assert_eq!(names, ["admin"], "only the tenant's first administrator");

    // Through the extension, normalised: username and address lower-cased, name tidied.
    let created = admin(&server, &tenant, Method::POST, "/accounts", Some(json!({
        "username": "  Alice ", "email": "ALICE@Example.com", "attributes": {"name": " Alice   Smith "}, "password": password,
    }))).await;
    let created = expect_status(created, StatusCode::CREATED).await.unwrap();
    assert_eq!(created["username"], "alice");
    assert_eq!(created["email"], "alice@example.com");
    assert_eq!(created["attributes"]["name"], "Alice Smith");
    assert_eq!(created["factors"][0]["kind"], "password");
    assert!(!created.to_string().contains(password), "the password is never shown");
    let id = created["id"].as_str().unwrap().to_owned();
    let duplicate = admin(&server, &tenant, Method::POST, "/accounts", Some(json!({"username": "ALICE"}))).await;
    expect_problem(duplicate, StatusCode::CONFLICT).await.unwrap();

    let changed = admin(&server, &tenant, Method::PATCH, &format!("/accounts/{id}"), Some(json!({"phone": "+15550100", "email": null}))).await;
    let changed = expect_status(changed, StatusCode::OK).await.unwrap();
    assert_eq!(changed["phone"], "+15550100");
    assert_eq!(changed["email"], Value::Null);
    let lock = admin(&server, &tenant, Method::PATCH, &format!("/accounts/{id}"), Some(json!({"state": "LOCKED"}))).await;
    expect_problem(lock, StatusCode::FORBIDDEN).await.unwrap();
    let deleted = admin(&server, &tenant, Method::DELETE, &format!("/accounts/{id}"), None).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let gone = admin(&server, &tenant, Method::GET, &format!("/accounts/{id}"), None).await;
    expect_problem(gone, StatusCode::NOT_FOUND).await.unwrap();

    let events = server.get(&tenant.admin_token, &format!("/admin/v1/tenants/{}/events", tenant.name)).await.unwrap();
    let events = events.as_array().unwrap();
    let of = |action: &str| events.iter().find(|e| e["action"] == action).unwrap_or_else(|| panic!("no {action}"));
    assert_eq!(of("account.created")["detail"]["added"]["username"], "alice");
    assert_eq!(of("account.created")["detail"]["added"]["password"], "[redacted]");
    assert_eq!(of("account.created")["account_id"], id.as_str());
    assert_eq!(of("account.updated")["detail"], json!({
        "added": {"phone": "+15550100", "email": null}, "removed": {"phone": null, "email": "alice@example.com"},
    }));
    assert_eq!(of("account.deleted")["detail"]["removed"]["username"], "alice");
    assert!(!Value::Array(events.clone()).to_string().contains(password));

    // The extension's after hook ran too. Its records: `before` for eve (denied), alice and
    // the duplicate (refused only when stored), `after` for alice.
    let records = format!("/admin/v1/tenants/{}/extensions/guard/invocations", tenant.name);
    let mut hooks = Vec::new();
    for _ in 0..100 {
        hooks = server.get(&tenant.admin_token, &records).await.unwrap()["invocations"].as_array().unwrap().clone();
        if hooks.len() >= 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(hooks.len(), 4, "{hooks:?}");
}
}

db_test! {
async fn login_is_identifier_first_scores_add_up_and_factors_lock_after_five_failures() {
    let clock = Arc::new(ManualClock::new(1_800_000_000));
    let server = TestServer::start_with_clock(clock.clone()).await.unwrap();
    let tenant = server.create_tenant("login").await.unwrap();
    let provider = FakeHttpServer::start(200, json!({"id": "msg-1"})).await.unwrap();
    server.deploy_as(&tenant, guests::OTP_SMS, "sms", "").await.unwrap();
    for (path, body) in [
        ("/extensions/sms/config", json!({"provider_url": provider.url("/sms")})),
        ("/extensions/sms/secrets/api_key", json!({"value": "k"})),
        ("/extension-settings", json!({"allowed_hosts": [provider.address.to_string()]})),
    ] {
        assert!(admin(&server, &tenant, Method::PUT, path, Some(body)).await.status().is_success());
    }
    let password = "correct horse battery staple";
    let created = admin(&server, &tenant, Method::POST, "/accounts", Some(json!({"username": "bob", "password": password}))).await;
    let account = expect_status(created, StatusCode::CREATED).await.unwrap();
    let id = account["id"].as_str().unwrap().to_owned();
    let otp = admin(&server, &tenant, Method::POST, &format!("/accounts/{id}/factors"), Some(json!({"kind": "otp", "channel": "sms", "recipient": "+15550100"}))).await;
    let otp = expect_status(otp, StatusCode::CREATED).await.unwrap();
    let otp_id = otp["id"].as_str().unwrap().to_owned();

    let started = start_login(&server, &tenant, "BOB").await;
    let token = started["login_token"].as_str().unwrap().to_owned();
    let kinds: Vec<&str> = started["factors"].as_array().unwrap().iter().map(|f| f["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["password", "otp"]);
    assert_eq!(session(&server, &tenant, &token).await.status(), StatusCode::UNAUTHORIZED, "no factor passed yet");

    // Five wrong passwords lock the factor; the right one is refused while it is locked.
    for attempt in 1..=5 {
        let wrong = login(&server, &tenant, "login/password", &token, json!({"password": "wrong password, long enough"})).await;
        let expected = if attempt < 5 { StatusCode::UNAUTHORIZED } else { StatusCode::TOO_MANY_REQUESTS };
        assert_eq!(wrong.status(), expected, "attempt {attempt}");
    }
    let still_locked = login(&server, &tenant, "login/password", &token, json!({"password": password})).await;
    assert_eq!(still_locked.status(), StatusCode::TOO_MANY_REQUESTS);
    clock.advance(301);
    // Unlocked after 300 s, in a new login.
    let token = start_login(&server, &tenant, "bob").await["login_token"].as_str().unwrap().to_owned();
    let passed = login(&server, &tenant, "login/password", &token, json!({"password": password})).await;
    let passed = expect_status(passed, StatusCode::OK).await.unwrap();
    assert_eq!(passed["score"], 2);

    // A code, delivered once to the provider; a wrong code fails; the right one (any case) adds 3.
    let sent = login(&server, &tenant, "login/otp", &token, json!({"factor_id": otp_id})).await;
    let sent = expect_status(sent, StatusCode::OK).await.unwrap();
    assert_eq!(sent["message_id"], "msg-1");
    let received = provider.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].json()["to"], "+15550100");
    let message = received[0].json()["message"].as_str().unwrap().to_owned();
    let code = message.rsplit(' ').next().unwrap().to_owned();
    assert_eq!(code.len(), 6);
    assert!(code.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()), "{code}");
    let wrong = login(&server, &tenant, "login/otp/verify", &token, json!({"factor_id": otp_id, "code": "AAAAAA"})).await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let verified = login(&server, &tenant, "login/otp/verify", &token, json!({"factor_id": otp_id, "code": code.to_lowercase()})).await;
    let verified = expect_status(verified, StatusCode::OK).await.unwrap();
    assert_eq!(verified["score"], 5);
    assert_eq!(verified["factors"], json!(["password", "otp"]));
    let again = login(&server, &tenant, "login/otp/verify", &token, json!({"factor_id": otp_id, "code": code})).await;
    assert_eq!(again.status(), StatusCode::UNAUTHORIZED, "a code works once");
    let current = expect_status(session(&server, &tenant, &token).await, StatusCode::OK).await.unwrap();
    assert_eq!(current["score"], 5);

    // A code expires after 10 minutes.
    let sent = login(&server, &tenant, "login/otp", &token, json!({"factor_id": otp_id})).await;
    expect_status(sent, StatusCode::OK).await.unwrap();
    let code = provider.received().last().unwrap().json()["message"].as_str().unwrap().rsplit(' ').next().unwrap().to_owned();
    clock.advance(601);
    let late = login(&server, &tenant, "login/otp/verify", &token, json!({"factor_id": otp_id, "code": code})).await;
    assert_eq!(late.status(), StatusCode::UNAUTHORIZED);
    // The session itself was idle for longer than the tenant's 30 minutes? Not yet: 10 min.
    assert_eq!(session(&server, &tenant, &token).await.status(), StatusCode::OK);
    // Five codes may be asked for (the expired one counts); the sixth is refused and locks.
    for request in 2..=6 {
        let sent = login(&server, &tenant, "login/otp", &token, json!({"factor_id": otp_id})).await;
        let expected = if request <= 5 { StatusCode::OK } else { StatusCode::TOO_MANY_REQUESTS };
        assert_eq!(sent.status(), expected, "code request {request}");
    }
    assert_eq!(provider.received().len(), 6, "no code is sent twice, and none past the limit");

    // Idle past the tenant's session lifetime (30 minutes): the session has ended.
    clock.advance(1801);
    assert_eq!(session(&server, &tenant, &token).await.status(), StatusCode::UNAUTHORIZED);

    // An unknown account gets an answer of the same shape, and nothing authenticates.
    let decoy = start_login(&server, &tenant, "nobody").await;
    let decoy_token = decoy["login_token"].as_str().unwrap();
    let refused = login(&server, &tenant, "login/password", decoy_token, json!({"password": password})).await;
    let refused = expect_problem(refused, StatusCode::UNAUTHORIZED).await.unwrap();
    assert_eq!(refused["detail"], "authentication failed");

    // A disabled account's sessions end, and it cannot log in.
    let token = start_login(&server, &tenant, "bob").await["login_token"].as_str().unwrap().to_owned();
    expect_status(login(&server, &tenant, "login/password", &token, json!({"password": password})).await, StatusCode::OK).await.unwrap();
    let sessions = server.get(&tenant.admin_token, &format!("/admin/v1/tenants/{}/accounts/{id}/sessions", tenant.name)).await.unwrap();
    assert_eq!(sessions.as_array().unwrap().len(), 1, "only live sessions: the idle one has ended");
    let disabled = admin(&server, &tenant, Method::PATCH, &format!("/accounts/{id}"), Some(json!({"state": "DISABLED"}))).await;
    expect_status(disabled, StatusCode::OK).await.unwrap();
    assert_eq!(session(&server, &tenant, &token).await.status(), StatusCode::UNAUTHORIZED);
    let after = start_login(&server, &tenant, "bob").await["login_token"].as_str().unwrap().to_owned();
    let refused = login(&server, &tenant, "login/password", &after, json!({"password": password})).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);

    let seen = actions(&server, &tenant).await;
    assert!(seen.iter().filter(|a| *a == "login.failed").count() >= 6, "{seen:?}");
    assert!(seen.iter().any(|a| a == "login.succeeded"));
    assert!(seen.iter().any(|a| a == "factor.enrolled"));
    let usage = server.get(&tenant.admin_token, &format!("/admin/v1/tenants/{}/usage", tenant.name)).await.unwrap();
    assert_eq!(usage["monthly_active_accounts"], 1, "bob, however often he logged in: {usage}");
}
}

db_test! {
async fn a_code_that_cannot_be_delivered_is_withdrawn_and_never_sent_again() {
    let server = TestServer::start().await.unwrap();
    let tenant = server.create_tenant("otp-down").await.unwrap();
    let created = admin(&server, &tenant, Method::POST, "/accounts", Some(json!({"username": "carol"}))).await;
    let id = expect_status(created, StatusCode::CREATED).await.unwrap()["id"].as_str().unwrap().to_owned();
    let otp = admin(&server, &tenant, Method::POST, &format!("/accounts/{id}/factors"), Some(json!({"kind": "otp", "channel": "sms", "recipient": "+15550199"}))).await;
    let otp_id = expect_status(otp, StatusCode::CREATED).await.unwrap()["id"].as_str().unwrap().to_owned();
    let bad = admin(&server, &tenant, Method::POST, &format!("/accounts/{id}/factors"), Some(json!({"kind": "otp", "channel": "pigeon"}))).await;
    expect_problem(bad, StatusCode::BAD_REQUEST).await.unwrap();
    let token = start_login(&server, &tenant, "carol").await["login_token"].as_str().unwrap().to_owned();

    // No extension delivers codes yet.
    let none = login(&server, &tenant, "login/otp", &token, json!({"factor_id": otp_id})).await;
    expect_problem(none, StatusCode::CONFLICT).await.unwrap();

    let provider = FakeHttpServer::start(503, json!({"error": "down"})).await.unwrap();
    server.deploy_as(&tenant, guests::OTP_SMS, "sms", "").await.unwrap();
    for (path, body) in [
        ("/extensions/sms/config", json!({"provider_url": provider.url("/sms")})),
        ("/extensions/sms/secrets/api_key", json!({"value": "k"})),
        ("/extension-settings", json!({"allowed_hosts": [provider.address.to_string()]})),
    ] {
        assert!(admin(&server, &tenant, Method::PUT, path, Some(body)).await.status().is_success());
    }
    let failed = login(&server, &tenant, "login/otp", &token, json!({"factor_id": otp_id})).await;
    let problem = expect_problem(failed, StatusCode::BAD_GATEWAY).await.unwrap();
    assert!(problem["detail"].as_str().unwrap().contains("ask for a new one"), "{problem}");
    assert_eq!(provider.received().len(), 1, "one attempt, no retry");
    let code = provider.received()[0].json()["message"].as_str().unwrap().rsplit(' ').next().unwrap().to_owned();
    let withdrawn = login(&server, &tenant, "login/otp/verify", &token, json!({"factor_id": otp_id, "code": code})).await;
    assert_eq!(withdrawn.status(), StatusCode::UNAUTHORIZED, "an undelivered code is withdrawn");
}
}

db_test! {
async fn a_new_version_of_a_legal_document_must_be_accepted_again() {
    let server = TestServer::start().await.unwrap();
    let tenant = server.create_tenant("legal").await.unwrap();
    let password = "a long enough passphrase";
    let created = admin(&server, &tenant, Method::POST, "/accounts", Some(json!({"username": "erin", "password": password}))).await;
    let account_id = expect_status(created, StatusCode::CREATED).await.unwrap()["id"].as_str().unwrap().to_owned();
    for body in [json!({"label": "Terms"}), json!({"label": "Terms", "text": "t", "url": "https://example.com/t"}), json!({"label": "", "text": "t"})] {
        let refused = admin(&server, &tenant, Method::POST, "/legal", Some(body)).await;
        expect_problem(refused, StatusCode::BAD_REQUEST).await.unwrap();
    }
    let document = admin(&server, &tenant, Method::POST, "/legal", Some(json!({"label": "Terms", "text": "Be nice."}))).await;
    let document = expect_status(document, StatusCode::CREATED).await.unwrap();
    let document_id = document["id"].as_str().unwrap().to_owned();
    assert_eq!(document["version"], 1);

    let token = start_login(&server, &tenant, "erin").await["login_token"].as_str().unwrap().to_owned();
    let passed = expect_status(login(&server, &tenant, "login/password", &token, json!({"password": password})).await, StatusCode::OK).await.unwrap();
    assert_eq!(passed["legal_due"], json!([{"document_id": document_id, "label": "Terms", "version": 1, "url": null}]));
    let accepted = login(&server, &tenant, "session/legal", &token, json!({"document_id": document_id, "version": 1})).await;
    assert_eq!(expect_status(accepted, StatusCode::OK).await.unwrap()["legal_due"], json!([]));

    // A new version is due again; only the current version can be accepted.
    let published = admin(&server, &tenant, Method::POST, &format!("/legal/{document_id}/versions"), Some(json!({"url": "https://example.com/terms-2"}))).await;
    assert_eq!(expect_status(published, StatusCode::OK).await.unwrap()["version"], 2);
    let current = expect_status(session(&server, &tenant, &token).await, StatusCode::OK).await.unwrap();
    assert_eq!(current["legal_due"][0]["version"], 2);
    assert_eq!(current["legal_due"][0]["url"], "https://example.com/terms-2");
    let stale = login(&server, &tenant, "session/legal", &token, json!({"document_id": document_id, "version": 1})).await;
    expect_problem(stale, StatusCode::CONFLICT).await.unwrap();
    let accepted = login(&server, &tenant, "session/legal", &token, json!({"document_id": document_id, "version": 2})).await;
    assert_eq!(expect_status(accepted, StatusCode::OK).await.unwrap()["legal_due"], json!([]));

    // Consents are recorded, listed and revocable; a revoked one is due again.
    let consents = server.get(&tenant.admin_token, &format!("/admin/v1/tenants/{}/accounts/{account_id}/consents", tenant.name)).await.unwrap();
    let versions: Vec<i64> = consents.as_array().unwrap().iter().map(|c| c["version"].as_i64().unwrap()).collect();
    assert_eq!(versions, [1, 2]);
    let latest = consents[1]["id"].as_str().unwrap().to_owned();
    let revoked = admin(&server, &tenant, Method::DELETE, &format!("/accounts/{account_id}/consents/{latest}"), None).await;
    assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
    let again = admin(&server, &tenant, Method::DELETE, &format!("/accounts/{account_id}/consents/{latest}"), None).await;
    expect_problem(again, StatusCode::NOT_FOUND).await.unwrap();
    let current = expect_status(session(&server, &tenant, &token).await, StatusCode::OK).await.unwrap();
    assert_eq!(current["legal_due"][0]["version"], 2);

    let seen = actions(&server, &tenant).await;
    for (action, count) in [("legal.published", 2), ("consent.granted", 2), ("consent.revoked", 1)] {
        assert_eq!(seen.iter().filter(|a| *a == action).count(), count, "{action}: {seen:?}");
    }
}
}

db_test! {
async fn maintenance_removes_ended_sessions_and_inactive_accounts_on_one_node_at_a_time() {
    let clock = Arc::new(ManualClock::new(1_800_000_000));
    let server = TestServer::start_with_clock(clock.clone()).await.unwrap();
    let tenant = server.create_tenant("upkeep").await.unwrap();
    let patched = server.call(Method::PATCH, &tenant.admin_token, &format!("/admin/v1/tenants/{}", tenant.name), Some(json!({"settings": {"account_inactivity_days": 1}}))).await.unwrap();
    expect_status(patched, StatusCode::OK).await.unwrap();
    let password = "a long enough passphrase";
    for username in ["idle", "busy"] {
        let created = admin(&server, &tenant, Method::POST, "/accounts", Some(json!({"username": username, "password": password}))).await;
        expect_status(created, StatusCode::CREATED).await.unwrap();
    }
    let abandoned = start_login(&server, &tenant, "idle").await; // never finished
    assert!(abandoned["login_token"].is_string());

    // A day and a bit later "busy" logs in; "idle" has not been seen for more than a day.
    clock.advance(86_401);
    let token = start_login(&server, &tenant, "busy").await["login_token"].as_str().unwrap().to_owned();
    expect_status(login(&server, &tenant, "login/password", &token, json!({"password": password})).await, StatusCode::OK).await.unwrap();

    let report = server.state.run_maintenance().await.unwrap().expect("this node takes the free lease");
    assert_eq!(report.accounts, 1);
    assert_eq!(report.sessions, 1, "the abandoned login");
    let accounts = server.get(&tenant.admin_token, &format!("/admin/v1/tenants/{}/accounts", tenant.name)).await.unwrap();
    let names: Vec<&str> = accounts.as_array().unwrap().iter().map(|a| a["username"].as_str().unwrap()).collect();
    assert_eq!(names, ["admin", "busy"], "the first administrator is PENDING, not inactive");
    let events = server.get(&tenant.admin_token, &format!("/admin/v1/tenants/{}/events", tenant.name)).await.unwrap();
    let deleted = events.as_array().unwrap().iter().find(|e| e["action"] == "account.deleted").unwrap().clone();
    assert_eq!(deleted["reason"], "inactive");
    assert_eq!(deleted["detail"]["removed"]["username"], "idle");
    assert_eq!(expect_status(session(&server, &tenant, &token).await, StatusCode::OK).await.unwrap()["score"], 2, "a live session stays");

    // The lease: another node cannot run maintenance while this one holds it, and can once it lapses.
    let now = clock.now();
    assert!(!server.state.db.take_lease("maintenance", "node_other", now, now + 55).await.unwrap());
    clock.advance(56);
    let now = clock.now();
    assert!(server.state.db.take_lease("maintenance", "node_other", now, now + 55).await.unwrap());
    assert_eq!(server.state.run_maintenance().await.unwrap(), None, "the other node holds it now");
}
}

db_test! {
async fn a_totp_factor_is_pending_until_its_first_code_and_no_code_works_twice() {
    use keyhaven::tenancy::totp;
    let clock = Arc::new(ManualClock::new(1_800_000_000));
    let server = TestServer::start_with_clock(clock.clone()).await.unwrap();
    let tenant = server.create_tenant("totp").await.unwrap();
    let password = "a long enough passphrase";
    let created = admin(&server, &tenant, Method::POST, "/accounts", Some(json!({"username": "tia", "password": password}))).await;
    let id = expect_status(created, StatusCode::CREATED).await.unwrap()["id"].as_str().unwrap().to_owned();
    let enrolled = admin(&server, &tenant, Method::POST, &format!("/accounts/{id}/factors"), Some(json!({"kind": "totp"}))).await;
    let enrolled = expect_status(enrolled, StatusCode::CREATED).await.unwrap();
    assert_eq!(enrolled["state"], "PENDING");
    let factor_id = enrolled["id"].as_str().unwrap().to_owned();
    let secret = totp::from_base32(enrolled["totp"]["secret"].as_str().unwrap()).unwrap();
    assert_eq!(secret.len(), 20);
    assert!(enrolled["totp"]["otpauth_uri"].as_str().unwrap().starts_with("otpauth://totp/"));
    let shown = server.get(&tenant.admin_token, &format!("/admin/v1/tenants/{}/accounts/{id}", tenant.name)).await.unwrap();
    assert!(!shown.to_string().contains(enrolled["totp"]["secret"].as_str().unwrap()), "the secret is shown only at enrolment");

    // A PENDING factor is not offered at login.
    let kinds = |started: &Value| -> Vec<String> { started["factors"].as_array().unwrap().iter().map(|f| f["kind"].as_str().unwrap().to_owned()).collect() };
    assert_eq!(kinds(&start_login(&server, &tenant, "tia").await), ["password"]);
    let confirm = format!("/accounts/{id}/factors/{factor_id}/confirm");
    // Not even an administrator skips the first code: PENDING cannot be set to ENABLED.
    let skipped = admin(&server, &tenant, Method::PATCH, &format!("/accounts/{id}/factors/{factor_id}"), Some(json!({"state": "ENABLED"}))).await;
    expect_problem(skipped, StatusCode::CONFLICT).await.unwrap();
    assert_eq!(kinds(&start_login(&server, &tenant, "tia").await), ["password"]);
    let wrong = admin(&server, &tenant, Method::POST, &confirm, Some(json!({"code": "000000"}))).await;
    expect_problem(wrong, StatusCode::BAD_REQUEST).await.unwrap();
    let now_code = totp::code(&secret, totp::step_of(clock.now()));
    let confirmed = admin(&server, &tenant, Method::POST, &confirm, Some(json!({"code": now_code}))).await;
    assert_eq!(expect_status(confirmed, StatusCode::OK).await.unwrap()["state"], "ENABLED");

    let started = start_login(&server, &tenant, "tia").await;
    assert_eq!(kinds(&started), ["password", "totp"]);
    let token = started["login_token"].as_str().unwrap().to_owned();
    expect_status(login(&server, &tenant, "login/password", &token, json!({"password": password})).await, StatusCode::OK).await.unwrap();
    let replayed = login(&server, &tenant, "login/totp", &token, json!({"factor_id": factor_id, "code": now_code})).await;
    assert_eq!(replayed.status(), StatusCode::UNAUTHORIZED, "the confirmation's code does not work again");
    clock.advance(30);
    let next = totp::code(&secret, totp::step_of(clock.now()));
    let passed = login(&server, &tenant, "login/totp", &token, json!({"factor_id": factor_id, "code": next})).await;
    let passed = expect_status(passed, StatusCode::OK).await.unwrap();
    assert_eq!(passed["score"], 5);
    assert_eq!(passed["factors"], json!(["password", "totp"]));

    // Five wrong codes lock it.
    for attempt in 1..=5 {
        let wrong = login(&server, &tenant, "login/totp", &token, json!({"factor_id": factor_id, "code": "123456"})).await;
        let expected = if attempt < 5 { StatusCode::UNAUTHORIZED } else { StatusCode::TOO_MANY_REQUESTS };
        assert_eq!(wrong.status(), expected, "attempt {attempt}");
    }
    clock.advance(30);
    let locked = login(&server, &tenant, "login/totp", &token, json!({"factor_id": factor_id, "code": totp::code(&secret, totp::step_of(clock.now()))})).await;
    assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
}
}

db_test! {
async fn people_register_themselves_only_where_the_tenant_allows_it_and_through_its_extension() {
    let server = TestServer::start().await.unwrap();
    let tenant = server.create_tenant("signup").await.unwrap();
    let register = |body: Value| server.http.post(server.url(&format!("/t/{}/register", tenant.name))).json(&body).send();
    let password = "a long enough passphrase";
    let closed = register(json!({"username": "finn", "password": password})).await.unwrap();
    expect_problem(closed, StatusCode::FORBIDDEN).await.unwrap();

    let opened = server.call(Method::PATCH, &tenant.admin_token, &format!("/admin/v1/tenants/{}", tenant.name), Some(json!({"settings": {"self_registration": true}}))).await.unwrap();
    expect_status(opened, StatusCode::OK).await.unwrap();
    server.deploy_as(&tenant, guests::ACCOUNT_GUARD, "guard", "").await.unwrap();
    let disposable = register(json!({"username": "finn", "email": "finn@yopmail.com", "password": password})).await.unwrap();
    expect_problem(disposable, StatusCode::UNPROCESSABLE_ENTITY).await.unwrap();
    let no_password = register(json!({"username": "finn"})).await.unwrap();
    expect_problem(no_password, StatusCode::BAD_REQUEST).await.unwrap();
    let weak = register(json!({"username": "finn", "password": "short"})).await.unwrap();
    expect_problem(weak, StatusCode::BAD_REQUEST).await.unwrap();
    let registered = register(json!({"username": " Finn ", "email": "FINN@example.com", "password": password})).await.unwrap();
    let registered = expect_status(registered, StatusCode::CREATED).await.unwrap();
    assert_eq!(registered["username"], "finn");
    let taken = register(json!({"username": "FINN", "password": password})).await.unwrap();
    expect_problem(taken, StatusCode::CONFLICT).await.unwrap();

    // The new account logs in with its password.
    let token = start_login(&server, &tenant, "finn").await["login_token"].as_str().unwrap().to_owned();
    let passed = login(&server, &tenant, "login/password", &token, json!({"password": password})).await;
    assert_eq!(expect_status(passed, StatusCode::OK).await.unwrap()["score"], 2);
    let events = server.get(&tenant.admin_token, &format!("/admin/v1/tenants/{}/events", tenant.name)).await.unwrap();
    let created = events.as_array().unwrap().iter().find(|e| e["action"] == "account.created").unwrap().clone();
    assert_eq!(created["origin"], "self-registration");
}
}

db_test! {
async fn an_operator_moves_an_account_with_its_factors_and_its_sessions_end() {
    use keyhaven::tenancy::totp;
    let clock = Arc::new(ManualClock::new(1_800_000_000));
    let server = TestServer::start_with_clock(clock.clone()).await.unwrap();
    let (old, new) = (server.create_tenant("from").await.unwrap(), server.create_tenant("to").await.unwrap());
    let password = "a long enough passphrase";
    let create = |tenant: TestTenant, username: &'static str| {
        let server = &server;
        async move {
            let created = admin(server, &tenant, Method::POST, "/accounts", Some(json!({"username": username, "password": password}))).await;
            expect_status(created, StatusCode::CREATED).await.unwrap()["id"].as_str().unwrap().to_owned()
        }
    };
    let gus = create(old.clone(), "gus").await;
    let hal = create(old.clone(), "hal").await;
    create(new.clone(), "hal").await;
    let enrolled = admin(&server, &old, Method::POST, &format!("/accounts/{gus}/factors"), Some(json!({"kind": "totp"}))).await;
    let enrolled = expect_status(enrolled, StatusCode::CREATED).await.unwrap();
    let (factor_id, secret) = (enrolled["id"].as_str().unwrap().to_owned(), totp::from_base32(enrolled["totp"]["secret"].as_str().unwrap()).unwrap());
    let confirm = admin(&server, &old, Method::POST, &format!("/accounts/{gus}/factors/{factor_id}/confirm"), Some(json!({"code": totp::code(&secret, totp::step_of(clock.now()))}))).await;
    expect_status(confirm, StatusCode::OK).await.unwrap();
    let token = start_login(&server, &old, "gus").await["login_token"].as_str().unwrap().to_owned();
    expect_status(login(&server, &old, "login/password", &token, json!({"password": password})).await, StatusCode::OK).await.unwrap();

    let move_path = |tenant: &TestTenant, id: &str| format!("/admin/v1/tenants/{}/accounts/{id}/move", tenant.name);
    let by_admin = server.call(Method::POST, &old.admin_token, &move_path(&old, &gus), Some(json!({"to": new.name}))).await.unwrap();
    expect_problem(by_admin, StatusCode::FORBIDDEN).await.unwrap();
    let taken = server.call(Method::POST, &server.root_token, &move_path(&old, &hal), Some(json!({"to": new.name}))).await.unwrap();
    expect_problem(taken, StatusCode::CONFLICT).await.unwrap();
    assert_eq!(server.get(&old.admin_token, &format!("/admin/v1/tenants/{}/accounts/{hal}", old.name)).await.unwrap()["username"], "hal", "a refused move changes nothing");

    let moved = server.call(Method::POST, &server.root_token, &move_path(&old, &gus), Some(json!({"to": new.name}))).await.unwrap();
    assert_eq!(expect_status(moved, StatusCode::OK).await.unwrap()["id"], gus.as_str());
    assert_eq!(session(&server, &old, &token).await.status(), StatusCode::UNAUTHORIZED, "its sessions ended");
    let gone = admin(&server, &old, Method::GET, &format!("/accounts/{gus}"), None).await;
    expect_problem(gone, StatusCode::NOT_FOUND).await.unwrap();

    // In the new tenant it logs in with the same password and authenticator app.
    let token = start_login(&server, &new, "gus").await["login_token"].as_str().unwrap().to_owned();
    expect_status(login(&server, &new, "login/password", &token, json!({"password": password})).await, StatusCode::OK).await.unwrap();
    clock.advance(30);
    let code = totp::code(&secret, totp::step_of(clock.now()));
    let passed = login(&server, &new, "login/totp", &token, json!({"factor_id": factor_id, "code": code})).await;
    assert_eq!(expect_status(passed, StatusCode::OK).await.unwrap()["score"], 5);

    for (tenant, direction, other) in [(&old, "to", &new), (&new, "from", &old)] {
        let events = server.get(&tenant.admin_token, &format!("/admin/v1/tenants/{}/events", tenant.name)).await.unwrap();
        let moved = events.as_array().unwrap().iter().find(|e| e["action"] == "account.moved").unwrap().clone();
        assert_eq!(moved["detail"][direction], other.name.as_str());
        assert_eq!(moved["account_id"], gus.as_str());
    }
    let audit = server.get(&old.admin_token, &format!("/admin/v1/tenants/{}/audit", old.name)).await.unwrap();
    assert!(audit.as_array().unwrap().iter().any(|e| e["action"] == "POST /admin/v1/tenants/{tenant}/accounts/{id}/move" && e["role"] == "operator" && e["status"] == 200));
}
}

db_test! {
async fn people_manage_their_own_factors_after_stepping_up() {
    use keyhaven::tenancy::totp;
    let clock = Arc::new(ManualClock::new(1_800_000_000));
    let server = TestServer::start_with_clock(clock.clone()).await.unwrap();
    let tenant = server.create_tenant("mine").await.unwrap();
    let password = "a long enough passphrase";
    let created = admin(&server, &tenant, Method::POST, "/accounts", Some(json!({"username": "ivy", "password": password}))).await;
    expect_status(created, StatusCode::CREATED).await.unwrap();
    let token = start_login(&server, &tenant, "ivy").await["login_token"].as_str().unwrap().to_owned();
    let mine = |token: &str| server.http.get(server.url(&format!("/t/{}/session/factors", tenant.name))).bearer_auth(token.to_owned()).send();
    assert_eq!(mine(&token).await.unwrap().status(), StatusCode::UNAUTHORIZED, "not before a factor passed");
    expect_status(login(&server, &tenant, "login/password", &token, json!({"password": password})).await, StatusCode::OK).await.unwrap();
    let factors = expect_status(mine(&token).await.unwrap(), StatusCode::OK).await.unwrap();
    assert_eq!(factors.as_array().unwrap().len(), 1);
    let password_id = factors[0]["id"].as_str().unwrap().to_owned();

    // With only a password, the account adds an authenticator app.
    let enrolled = login(&server, &tenant, "session/factors", &token, json!({"kind": "totp"})).await;
    let enrolled = expect_status(enrolled, StatusCode::CREATED).await.unwrap();
    let totp_id = enrolled["id"].as_str().unwrap().to_owned();
    let secret = totp::from_base32(enrolled["totp"]["secret"].as_str().unwrap()).unwrap();
    let code = totp::code(&secret, totp::step_of(clock.now()));
    let confirmed = login(&server, &tenant, &format!("session/factors/{totp_id}/confirm"), &token, json!({"code": code})).await;
    assert_eq!(expect_status(confirmed, StatusCode::OK).await.unwrap()["state"], "ENABLED");

    // Now a session with only the password may no longer change factors.
    let refused = login(&server, &tenant, "session/factors", &token, json!({"kind": "password", "password": "another long passphrase"})).await;
    expect_problem(refused, StatusCode::FORBIDDEN).await.unwrap();
    let patch = |token: &str, id: &str, state: &str| {
        server.http.patch(server.url(&format!("/t/{}/session/factors/{id}", tenant.name))).bearer_auth(token.to_owned()).json(&json!({"state": state})).send()
    };
    expect_problem(patch(&token, &password_id, "DISABLED").await.unwrap(), StatusCode::FORBIDDEN).await.unwrap();

    // Stepped up with the app: the password can go, but not the last factor.
    clock.advance(30);
    let code = totp::code(&secret, totp::step_of(clock.now()));
    expect_status(login(&server, &tenant, "login/totp", &token, json!({"factor_id": totp_id, "code": code})).await, StatusCode::OK).await.unwrap();
    let disabled = expect_status(patch(&token, &password_id, "DISABLED").await.unwrap(), StatusCode::OK).await.unwrap();
    assert_eq!(disabled["state"], "DISABLED");
    expect_problem(patch(&token, &totp_id, "DISABLED").await.unwrap(), StatusCode::CONFLICT).await.unwrap();
    let started = start_login(&server, &tenant, "ivy").await;
    let kinds: Vec<&str> = started["factors"].as_array().unwrap().iter().map(|f| f["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["totp"]);

    let events = server.get(&tenant.admin_token, &format!("/admin/v1/tenants/{}/events", tenant.name)).await.unwrap();
    let enrolled = events.as_array().unwrap().iter().find(|e| e["action"] == "factor.enrolled").unwrap().clone();
    assert_eq!(enrolled["origin"], "self-service");
    assert!(!events.to_string().contains(password));
}
}

db_test! {
async fn each_scope_needs_its_score_and_a_stronger_scope_asks_for_a_step_up() {
    use keyhaven::tenancy::totp;
    let clock = Arc::new(ManualClock::new(1_800_000_000));
    let server = TestServer::start_with_clock(clock.clone()).await.unwrap();
    let tenant = server.create_tenant("scopes").await.unwrap();
    let builtin = server.get(&tenant.admin_token, &format!("/admin/v1/tenants/{}/scopes", tenant.name)).await.unwrap();
    let values: Vec<&str> = builtin.as_array().unwrap().iter().map(|s| s["value"].as_str().unwrap()).collect();
    assert_eq!(values, ["openid", "account", "admin", "admin:read"]);
    let create = |body: Value| admin(&server, &tenant, Method::POST, "/scopes", Some(body));
    let payments = create(json!({"value": "payments:write", "label": "Make payments", "required_score": 5, "consent_required": true})).await;
    assert_eq!(expect_status(payments, StatusCode::CREATED).await.unwrap()["builtin"], false);
    for (body, status) in [
        (json!({"value": "payments:write", "label": "again", "required_score": 1}), StatusCode::CONFLICT),
        (json!({"value": "openid", "label": "mine", "required_score": 0}), StatusCode::CONFLICT),
        (json!({"value": "has space", "label": "x", "required_score": 1}), StatusCode::BAD_REQUEST),
        (json!({"value": "x", "label": "x", "required_score": 21}), StatusCode::BAD_REQUEST),
    ] {
        expect_problem(create(body).await, status).await.unwrap();
    }

    let password = "a long enough passphrase";
    let created = admin(&server, &tenant, Method::POST, "/accounts", Some(json!({"username": "joy", "password": password}))).await;
    let id = expect_status(created, StatusCode::CREATED).await.unwrap()["id"].as_str().unwrap().to_owned();
    let enrolled = admin(&server, &tenant, Method::POST, &format!("/accounts/{id}/factors"), Some(json!({"kind": "totp"}))).await;
    let enrolled = expect_status(enrolled, StatusCode::CREATED).await.unwrap();
    let (factor_id, secret) = (enrolled["id"].as_str().unwrap().to_owned(), totp::from_base32(enrolled["totp"]["secret"].as_str().unwrap()).unwrap());
    let code = totp::code(&secret, totp::step_of(clock.now()));
    expect_status(admin(&server, &tenant, Method::POST, &format!("/accounts/{id}/factors/{factor_id}/confirm"), Some(json!({"code": code}))).await, StatusCode::OK).await.unwrap();

    let token = start_login(&server, &tenant, "joy").await["login_token"].as_str().unwrap().to_owned();
    let with_password = expect_status(login(&server, &tenant, "login/password", &token, json!({"password": password})).await, StatusCode::OK).await.unwrap();
    assert_eq!(with_password["scopes"], json!(["openid", "account"]));
    assert_eq!(with_password["step_up"], json!([{"scope": "payments:write", "required_score": 5}]));
    assert_eq!(with_password["needs_permission"], json!(["admin", "admin:read"]));
    clock.advance(30);
    let code = totp::code(&secret, totp::step_of(clock.now()));
    let stepped_up = expect_status(login(&server, &tenant, "login/totp", &token, json!({"factor_id": factor_id, "code": code})).await, StatusCode::OK).await.unwrap();
    assert_eq!(stepped_up["scopes"], json!(["openid", "account", "payments:write"]));
    assert_eq!(stepped_up["needs_permission"], json!(["admin", "admin:read"]), "a score does not grant a permission");
    assert_eq!(stepped_up["step_up"], json!([]));

    let deleted = admin(&server, &tenant, Method::DELETE, "/scopes/payments:write", None).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    expect_problem(admin(&server, &tenant, Method::DELETE, "/scopes/admin", None).await, StatusCode::CONFLICT).await.unwrap();
    expect_problem(admin(&server, &tenant, Method::DELETE, "/scopes/payments:write", None).await, StatusCode::NOT_FOUND).await.unwrap();
}
}
