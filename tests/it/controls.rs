//! Controls: rules grant scopes of the tenant's catalogue to machine clients (one client or
//! every client), checked at the token endpoint; people consent to scopes for a client,
//! for good or for a while, and revoke it; consents are persisted and listed through the
//! admin API, under a test clock (no sleeping).

use std::sync::Arc;

use keyhaven::clock::ManualClock;
use keyhaven_tests::{TestClient, TestServer, TestTenant, expect_problem, expect_status};
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

/// The scope of a token the client obtains, asking for `scope` (or, without it, everything).
async fn token_scope(
    server: &TestServer,
    tenant: &TestTenant,
    client: &TestClient,
    scope: Option<&str>,
) -> Result<String, Value> {
    let mut form = vec![("grant_type", "client_credentials")];
    if let Some(scope) = scope {
        form.push(("scope", scope));
    }
    let response = server
        .http
        .post(server.url(&format!("/t/{}/oauth2/token", tenant.name)))
        .basic_auth(&client.client_id, Some(&client.client_secret))
        .form(&form)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    if status != StatusCode::OK {
        return Err(body);
    }
    let claims = server.verify(tenant, body["access_token"].as_str().unwrap(), &tenant.issuer).await.unwrap();
    assert_eq!(claims["scope"], body["scope"], "the token says what the answer says");
    Ok(body["scope"].as_str().unwrap().to_owned())
}

db_test! {
async fn rules_grant_scopes_to_one_client_or_every_client_and_take_them_away_when_disabled() {
    let server = TestServer::start().await.unwrap();
    let tenant = server.create_tenant("rules").await.unwrap();
    for value in ["invoices:read", "reports"] {
        let scope = admin(&server, &tenant, Method::POST, "/scopes", Some(json!({"value": value, "label": value, "required_score": 0}))).await;
        expect_status(scope, StatusCode::CREATED).await.unwrap();
    }
    let billing = server.create_client(&tenant, json!({"name": "billing", "scopes": ["openid"]})).await.unwrap();
    let crm = server.create_client(&tenant, json!({"name": "crm"})).await.unwrap();
    assert_eq!(token_scope(&server, &tenant, &billing, None).await.unwrap(), "openid");
    let refused = token_scope(&server, &tenant, &billing, Some("reports")).await.unwrap_err();
    assert_eq!(refused["error"], "invalid_scope");

    // Bad rules are refused and stored nowhere.
    for body in [
        json!({"label": "x", "client_id": billing.client_id, "scopes": ["unknown"]}),
        json!({"label": "x", "client_id": "no-such-client", "scopes": ["reports"]}),
        json!({"label": "x", "client_id": billing.client_id, "scopes": []}),
        json!({"label": "", "client_id": billing.client_id, "scopes": ["reports"]}),
        json!({"label": "x", "client_id": billing.client_id, "scopes": ["reports"], "extra": 1}),
    ] {
        expect_problem(admin(&server, &tenant, Method::POST, "/rules", Some(body.clone())).await, StatusCode::BAD_REQUEST).await.unwrap();
    }
    assert_eq!(admin(&server, &tenant, Method::GET, "/rules", None).await.json::<Value>().await.unwrap(), json!([]));

    let invoices = admin(&server, &tenant, Method::POST, "/rules", Some(json!({"label": "Billing reads invoices", "client_id": billing.client_id, "scopes": ["invoices:read"]}))).await;
    let invoices = expect_status(invoices, StatusCode::CREATED).await.unwrap();
    assert_eq!(invoices["state"], "ENABLED");
    let everyone = admin(&server, &tenant, Method::POST, "/rules", Some(json!({"label": "Reports for all", "client_id": "*", "scopes": ["reports"]}))).await;
    let everyone = expect_status(everyone, StatusCode::CREATED).await.unwrap();
    assert_eq!(token_scope(&server, &tenant, &billing, None).await.unwrap(), "openid invoices:read reports");
    assert_eq!(token_scope(&server, &tenant, &crm, None).await.unwrap(), "reports");
    assert_eq!(token_scope(&server, &tenant, &billing, Some("invoices:read")).await.unwrap(), "invoices:read");
    assert_eq!(token_scope(&server, &tenant, &crm, Some("invoices:read")).await.unwrap_err()["error"], "invalid_scope");

    // Disabled, a rule grants nothing; deleted, it is gone.
    let id = invoices["id"].as_str().unwrap();
    let disabled = admin(&server, &tenant, Method::PATCH, &format!("/rules/{id}"), Some(json!({"state": "DISABLED"}))).await;
    assert_eq!(expect_status(disabled, StatusCode::OK).await.unwrap()["state"], "DISABLED");
    assert_eq!(token_scope(&server, &tenant, &billing, Some("invoices:read")).await.unwrap_err()["error"], "invalid_scope");
    let bad = admin(&server, &tenant, Method::PATCH, &format!("/rules/{id}"), Some(json!({"scopes": ["nope"]}))).await;
    expect_problem(bad, StatusCode::BAD_REQUEST).await.unwrap();
    let everyone_id = everyone["id"].as_str().unwrap();
    assert_eq!(admin(&server, &tenant, Method::DELETE, &format!("/rules/{everyone_id}"), None).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(token_scope(&server, &tenant, &crm, None).await.unwrap(), "");
    expect_problem(admin(&server, &tenant, Method::GET, &format!("/rules/{everyone_id}"), None).await, StatusCode::NOT_FOUND).await.unwrap();

    // Another tenant's administrator sees none of it.
    let other = server.create_tenant("rules-other").await.unwrap();
    let foreign = server.call(Method::GET, &other.admin_token, &format!("/admin/v1/tenants/{}/rules/{id}", tenant.name), None).await.unwrap();
    expect_problem(foreign, StatusCode::NOT_FOUND).await.unwrap();
    let events = server.get(&tenant.admin_token, &format!("/admin/v1/tenants/{}/events", tenant.name)).await.unwrap();
    let events = events.as_array().unwrap();
    let of = |action: &str| -> Vec<Value> { events.iter().filter(|e| e["action"] == action).map(|e| e["detail"].clone()).collect() };
    assert_eq!(of("rule.changed"), [json!({"added": {"state": "DISABLED"}, "removed": {"state": "ENABLED"}, "rule_id": id})]);
    assert_eq!(of("rule.deleted")[0]["removed"]["scopes"], json!(["reports"]));
    let created: Vec<Value> = of("rule.created").iter().map(|d| d["added"]["label"].clone()).collect();
    assert_eq!(created, [json!("Reports for all"), json!("Billing reads invoices")], "latest first");
}
}

db_test! {
async fn people_consent_to_scopes_for_a_client_for_good_or_for_a_while_and_revoke_it() {
    let clock = Arc::new(ManualClock::new(1_800_000_000));
    let server = TestServer::start_with_clock(clock.clone()).await.unwrap();
    let tenant = server.create_tenant("consents").await.unwrap();
    let scope = admin(&server, &tenant, Method::POST, "/scopes", Some(json!({"value": "contacts", "label": "Your contacts", "required_score": 2, "consent_required": true}))).await;
    expect_status(scope, StatusCode::CREATED).await.unwrap();
    let app = server.create_client(&tenant, json!({"name": "address book"})).await.unwrap();
    let password = "a long enough passphrase";
    let created = admin(&server, &tenant, Method::POST, "/accounts", Some(json!({"username": "cara", "password": password}))).await;
    let account_id = expect_status(created, StatusCode::CREATED).await.unwrap()["id"].as_str().unwrap().to_owned();
    let url = |path: &str| server.url(&format!("/t/{}/{path}", tenant.name));
    let started = server.http.post(url("login")).json(&json!({"username": "cara"})).send().await.unwrap();
    let token = expect_status(started, StatusCode::CREATED).await.unwrap()["login_token"].as_str().unwrap().to_owned();
    let passed = server.http.post(url("login/password")).bearer_auth(&token).json(&json!({"password": password})).send().await.unwrap();
    expect_status(passed, StatusCode::OK).await.unwrap();

    let needed = || async {
        let query = format!("session/consents?client_id={}&scope=openid%20contacts", app.client_id);
        let mine = server.http.get(url(&query)).bearer_auth(&token).send().await.unwrap();
        expect_status(mine, StatusCode::OK).await.unwrap()["consent_needed"].clone()
    };
    let grant = |body: Value| server.http.post(url("session/consents")).bearer_auth(&token).json(&body).send();
    assert_eq!(needed().await, json!(["contacts"]), "openid needs no consent; contacts does");
    for body in [
        json!({"client_id": "nobody", "scopes": ["contacts"]}),
        json!({"client_id": app.client_id, "scopes": ["unknown"]}),
        json!({"client_id": app.client_id, "scopes": []}),
        json!({"client_id": app.client_id, "scopes": ["contacts"], "expires_in": 5}),
    ] {
        expect_problem(grant(body.clone()).await.unwrap(), StatusCode::BAD_REQUEST).await.unwrap();
    }
    let unsigned = server.http.post(url("session/consents")).json(&json!({"client_id": app.client_id, "scopes": ["contacts"]})).send().await.unwrap();
    expect_problem(unsigned, StatusCode::UNAUTHORIZED).await.unwrap();

    // For ten minutes: in force, then lapsed.
    let temporary = grant(json!({"client_id": app.client_id, "scopes": ["contacts"], "expires_in": 600})).await.unwrap();
    let temporary = expect_status(temporary, StatusCode::CREATED).await.unwrap();
    assert_eq!(temporary["expires_at"], 1_800_000_000 + 600);
    assert_eq!(temporary["scopes"], json!(["contacts"]));
    assert_eq!(needed().await, json!([]));
    clock.advance(600);
    assert_eq!(needed().await, json!(["contacts"]), "the temporary consent lapsed");

    // For good, until revoked.
    let lasting = expect_status(grant(json!({"client_id": app.client_id, "scopes": ["contacts"]})).await.unwrap(), StatusCode::CREATED).await.unwrap();
    clock.advance(300 * 86_400);
    let session = server.http.get(url("session")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(session.status(), StatusCode::UNAUTHORIZED, "the session itself has long ended");
    let token = {
        let started = server.http.post(url("login")).json(&json!({"username": "cara"})).send().await.unwrap();
        let token = expect_status(started, StatusCode::CREATED).await.unwrap()["login_token"].as_str().unwrap().to_owned();
        let passed = server.http.post(url("login/password")).bearer_auth(&token).json(&json!({"password": password})).send().await.unwrap();
        expect_status(passed, StatusCode::OK).await.unwrap();
        token
    };
    let query = format!("session/consents?client_id={}&scope=contacts", app.client_id);
    let mine = expect_status(server.http.get(url(&query)).bearer_auth(&token).send().await.unwrap(), StatusCode::OK).await.unwrap();
    assert_eq!(mine["consent_needed"], json!([]), "a lasting consent outlives sessions");
    assert_eq!(mine["consents"].as_array().unwrap().len(), 1, "only consents in force are listed: {mine}");
    let id = lasting["id"].as_str().unwrap();
    let revoked = server.http.delete(url(&format!("session/consents/{id}"))).bearer_auth(&token).send().await.unwrap();
    assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
    let again = server.http.delete(url(&format!("session/consents/{id}"))).bearer_auth(&token).send().await.unwrap();
    expect_problem(again, StatusCode::NOT_FOUND).await.unwrap();
    let mine = expect_status(server.http.get(url(&query)).bearer_auth(&token).send().await.unwrap(), StatusCode::OK).await.unwrap();
    assert_eq!(mine["consent_needed"], json!(["contacts"]));

    // Administrators see the whole history; each grant and revocation is an event.
    let all = server.get(&tenant.admin_token, &format!("/admin/v1/tenants/{}/accounts/{account_id}/consents", tenant.name)).await.unwrap();
    let all = all.as_array().unwrap();
    assert_eq!(all.len(), 2);
    assert!(all.iter().all(|c| c["kind"] == "scope" && c["subject"] == app.client_id.as_str()));
    assert!(all[1]["revoked_at"].is_number());
    let events = server.get(&tenant.admin_token, &format!("/admin/v1/tenants/{}/events", tenant.name)).await.unwrap();
    let count = |action: &str| events.as_array().unwrap().iter().filter(|e| e["action"] == action).count();
    assert_eq!((count("consent.granted"), count("consent.revoked")), (2, 1));
}
}
