//! Brute-force protection, through real HTTP: an address that keeps failing authentication
//! to a tenant — wrong client secrets at the token endpoint, login tokens of unknown
//! accounts at the login API — is blocked once it passes 300 failures in 5 minutes, on
//! every node (the count is in the shared database), for that tenant only, whatever
//! `X-Forwarded-For` it sends, until the block runs out.

use std::sync::Arc;

use futures_util::future::join_all;
use keyhaven::clock::ManualClock;
use keyhaven::ops::failures::{BLOCK_SECONDS, MAX_FAILURES};
use keyhaven_tests::{TestClient, TestServer, TestTenant};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A token request with `secret` from this machine, claiming to forward for 1.2.3.4.
async fn token_with(
    server: &TestServer,
    tenant: &TestTenant,
    client: &TestClient,
    secret: &str,
) -> (StatusCode, Value) {
    let response = server
        .http
        .post(server.url(&format!("/t/{}/oauth2/token", tenant.name)))
        .basic_auth(&client.client_id, Some(secret))
        .header("x-forwarded-for", "1.2.3.4")
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A password tried on a login of an account that does not exist.
async fn decoy_attempt(server: &TestServer, tenant: &TestTenant) -> StatusCode {
    let url = |path: &str| server.url(&format!("/t/{}/login{path}", tenant.name));
    let started = server.http.post(url("")).json(&json!({"username": "nobody"})).send().await.unwrap();
    if started.status() != StatusCode::CREATED {
        return started.status();
    }
    let started: Value = started.json().await.unwrap();
    let token = started["login_token"].as_str().unwrap();
    let tried = server
        .http
        .post(url("/password"))
        .bearer_auth(token)
        .json(&json!({"password": "not the password at all"}))
        .send()
        .await
        .unwrap();
    tried.status()
}

db_test! {
async fn an_address_that_keeps_failing_authentication_is_blocked_on_every_node_for_a_while() {
    let clock = Arc::new(ManualClock::new(1_800_000_000));
    let server = TestServer::start_with_clock(clock.clone()).await.unwrap();
    // On PostgreSQL the failures are spread over two nodes, so the count must hold across
    // nodes; a SQLite file is one node's.
    let second = match server.database_path() {
        None => Some(server.second_node().await.unwrap()),
        Some(_) => None,
    };
    let other_node = second.as_ref().unwrap_or(&server);
    let tenant = server.create_tenant("brute").await.unwrap();
    let elsewhere = server.create_tenant("brute-elsewhere").await.unwrap();
    let client = server.create_client(&tenant, json!({"name": "c"})).await.unwrap();
    let neighbour = server.create_client(&elsewhere, json!({"name": "c"})).await.unwrap();
    // The clock stands still, so the tenant's request buckets would not refill: room for
    // this test's few hundred requests (the per-tenant rate limit is another test's).
    let roomy = json!({"overrides": {"token_burst": 100_000, "login_burst": 100_000}});
    let limits = format!("/admin/v1/tenants/{}/limits", tenant.name);
    let set = server.call(reqwest::Method::PUT, &server.root_token, &limits, Some(roomy)).await.unwrap();
    assert_eq!(set.status(), StatusCode::OK);

    // Half the failures are wrong secrets, on both nodes; half are unknown accounts' logins.
    let half = MAX_FAILURES / 2;
    for chunk in (0..half).collect::<Vec<_>>().chunks(25) {
        let tries = chunk.iter().map(|i| {
            let node = if i % 2 == 0 { &server } else { other_node };
            token_with(node, &tenant, &client, "a wrong secret")
        });
        for (status, body) in join_all(tries).await {
            assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_client")), "{body}");
        }
    }
    for chunk in (half..MAX_FAILURES).collect::<Vec<_>>().chunks(25) {
        let tries = chunk.iter().map(|_| decoy_attempt(other_node, &tenant));
        assert!(join_all(tries).await.iter().all(|s| *s == StatusCode::UNAUTHORIZED));
    }
    // 300 failures: not blocked yet; the right secret still works.
    assert_eq!(token_with(&server, &tenant, &client, &client.client_secret).await.0, StatusCode::OK);
    // The 301st blocks the address, on both nodes, for the token endpoint and the login API,
    // even with the right secret, and though the request says it forwards for another address.
    assert_eq!(token_with(other_node, &tenant, &client, "a wrong secret").await.0, StatusCode::UNAUTHORIZED);
    for node in [&server, other_node] {
        let (status, body) = token_with(node, &tenant, &client, &client.client_secret).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
        assert_eq!(body["error"], "temporarily_unavailable");
        assert!(body["error_description"].as_str().unwrap().contains("failed authentications from this address"), "{body}");
        let login = node.http.post(node.url(&format!("/t/{}/login", tenant.name))).json(&json!({"username": "nobody"})).send().await.unwrap();
        assert_eq!(login.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(login.headers().contains_key("retry-after"));
    }
    // Another tenant is not affected by this tenant's count.
    assert_eq!(token_with(&server, &elsewhere, &neighbour, &neighbour.client_secret).await.0, StatusCode::OK);

    // The block runs out.
    clock.advance(BLOCK_SECONDS + 1);
    assert_eq!(token_with(other_node, &tenant, &client, &client.client_secret).await.0, StatusCode::OK);
}}

/// The node's count of argon2id password verifications, from its metrics.
async fn password_verifications(server: &TestServer) -> u64 {
    let scraped = server.http.get(server.url("/metrics")).bearer_auth(&server.root_token).send().await.unwrap();
    let text = scraped.text().await.unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix("keyhaven_password_verifications_total "))
        .and_then(|count| count.parse().ok())
        .unwrap()
}

db_test! {
async fn a_password_for_an_unknown_account_costs_the_same_hashing_as_a_wrong_one_for_a_known_account() {
    let server = TestServer::start().await.unwrap();
    let tenant = server.create_tenant("decoy").await.unwrap();
    let account = json!({"username": "dana", "password": "correct horse battery staple"});
    server.admin_ok(&tenant, reqwest::Method::POST, "/accounts", account).await;
    let url = |path: &str| server.url(&format!("/t/{}/login{path}", tenant.name));
    let wrong_password = |username: &'static str| {
        let (http, start, password) = (server.http.clone(), url(""), url("/password"));
        async move {
            let started: Value = http.post(start).json(&json!({"username": username})).send().await.unwrap().json().await.unwrap();
            let token = started["login_token"].as_str().unwrap().to_owned();
            let tried = http.post(password).bearer_auth(token).json(&json!({"password": "wrong"})).send().await.unwrap();
            (tried.status(), tried.json::<Value>().await.unwrap())
        }
    };

    let before = password_verifications(&server).await;
    let known = wrong_password("dana").await;
    assert_eq!(password_verifications(&server).await, before + 1);
    let unknown = wrong_password("nobody").await;
    // The same answer, after the same argon2id work.
    assert_eq!(password_verifications(&server).await, before + 2, "the decoy skipped the hashing");
    assert_eq!(known, unknown);
    assert_eq!(known.0, StatusCode::UNAUTHORIZED);
}}
