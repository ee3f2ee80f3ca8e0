//! Extensions: deployment validation, limits that stop misbehaving guests without harming
//! other tenants, protected claims, denials, and deployments that survive a restart.

use std::time::Duration;

use keyhaven::extensions::token_issuance::{Subject, TokenRequest};
use keyhaven::extensions::{Decision, Hook, InvokeError, Limits};
use keyhaven_tests::{TestServer, expect_problem, expect_status, guests};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn deployments(server: &TestServer, tenant: &keyhaven_tests::TestTenant) -> Vec<Value> {
    let response = server
        .http
        .get(server.url(&format!("/admin/v1/tenants/{}/deployments", tenant.name)))
        .bearer_auth(&tenant.admin_token)
        .send()
        .await
        .unwrap();
    expect_status(response, StatusCode::OK).await.unwrap().as_array().unwrap().clone()
}

db_test! {
async fn the_hook_receives_the_tenant_the_client_and_the_request() {
    let server = TestServer::start().await.unwrap();
    let tenant = server.create_tenant("echo").await.unwrap();
    server.deploy(&tenant, guests::ECHO_REQUEST).await.unwrap();
    let attributes = json!({"org": "acme", "nested": {"list": [1, 2.5, null, "ü"]}});
    let client = server
        .create_client(
            &tenant,
            json!({"name": "Echo client", "attributes": attributes, "scopes": ["a", "b", "c"], "audience": ["https://api.example.com", "urn:other"]}),
        )
        .await
        .unwrap();
    let response = server
        .http
        .post(server.url(&format!("/t/{}/oauth2/token", tenant.name)))
        .basic_auth(&client.client_id, Some(&client.client_secret))
        .form(&[("grant_type", "client_credentials"), ("scope", "c a")])
        .send()
        .await
        .unwrap();
    let body = expect_status(response, StatusCode::OK).await.unwrap();
    let claims = server.verify(&tenant, body["access_token"].as_str().unwrap(), "urn:other").await.unwrap();
    assert_eq!(
        claims["echo"],
        json!({
            "tenant": {"id": tenant.id, "name": tenant.name},
            "subject": {"kind": "client", "id": client.client_id, "name": "Echo client", "attributes": attributes},
            "grant_type": "client_credentials",
            "scopes": ["c", "a"],
            "audience": ["https://api.example.com", "urn:other"],
        })
    );
    assert_eq!(claims["aud"], json!(["https://api.example.com", "urn:other"]));
    assert!(claims.get("ignored_without_an_id_token").is_none(), "ID-token claims must not leak into the access token");
}}

db_test! {
async fn an_extension_setting_a_protected_claim_fails_the_issuance_loudly() {
    let server = TestServer::start().await.unwrap();
    let tenant = server.create_tenant("protected").await.unwrap();
    server.deploy(&tenant, guests::PROTECTED_CLAIM).await.unwrap();
    for claim in ["sub", "iss", "aud", "exp", "scope", "tenant", "client_id"] {
        let client = server.create_client(&tenant, json!({"name": "c", "attributes": {"claim": claim}})).await.unwrap();
        let response = server.token(&tenant, &client).await.unwrap();
        let body = expect_status(response, StatusCode::INTERNAL_SERVER_ERROR).await.unwrap();
        server.assert_extension_failed(&tenant, &body, "extension", &format!("protected claim {claim:?}")).await;
        assert!(body.get("access_token").is_none());
    }
}}

db_test! {
async fn an_extension_denial_becomes_access_denied_with_its_reason() {
    let server = TestServer::start().await.unwrap();
    let tenant = server.create_tenant("deny").await.unwrap();
    server.deploy(&tenant, guests::CUSTOM_CLAIMS).await.unwrap();
    let suspended =
        server.create_client(&tenant, json!({"name": "s", "attributes": {"suspended": true}})).await.unwrap();
    let body = expect_status(server.token(&tenant, &suspended).await.unwrap(), StatusCode::BAD_REQUEST).await.unwrap();
    assert_eq!(body["error"], "access_denied");
    assert_eq!(body["error_description"], "this client is suspended");
}}

/// Limits in which an endless loop meets its deadline long before its fuel (or its
/// tenant's fuel budget) runs out.
fn deadline_limits() -> Limits {
    Limits { fuel: u64::MAX / 2, fuel_per_second: u64::MAX / 2, ..Limits::default() }
}

// Two worker threads, as the service runs on this 2-vCPU machine: on a single-threaded
// executor, guests' 1 ms slices would also delay the executor's own I/O and timer polling.
db_test! {
multi_thread async fn an_endless_loop_is_stopped_at_its_deadline_while_other_tenants_keep_getting_tokens() {
    let server = TestServer::start_with(deadline_limits()).await.unwrap();
    let looping = server.create_tenant("looping").await.unwrap();
    let healthy = server.create_tenant("healthy").await.unwrap();
    server.deploy(&looping, guests::MISBEHAVING).await.unwrap();
    server.deploy(&healthy, guests::CUSTOM_CLAIMS).await.unwrap();
    let looping_client = server.create_client(&looping, json!({"name": "l"})).await.unwrap();
    let healthy_client =
        server.create_client(&healthy, json!({"name": "h", "attributes": {"org": "ok"}})).await.unwrap();
    // The healthy tenant's own deadline is generous, so that a busy test machine (the whole
    // suite runs in parallel) cannot fail its ~20 µs invocations: what is asserted is that it
    // is not starved, not how fast this machine is.
    let overrides = json!({"overrides": {"token_deadline_ms": 5000}});
    let path = format!("/admin/v1/tenants/{}/limits", healthy.name);
    let response = server.call(reqwest::Method::PUT, &server.root_token, &path, Some(overrides)).await.unwrap();
    expect_status(response, StatusCode::OK).await.unwrap();

    // Keep several looping invocations in flight (more than this machine has cores) ...
    let mut stuck = Vec::new();
    for _ in 0..6 {
        let (server_url, http, tenant, client) =
            (server.base_url.clone(), server.http.clone(), looping.name.clone(), looping_client.clone());
        stuck.push(tokio::spawn(async move {
            let mut outcomes = Vec::new();
            for _ in 0..3 {
                let response = http
                    .post(format!("{server_url}/t/{tenant}/oauth2/token"))
                    .basic_auth(&client.client_id, Some(&client.client_secret))
                    .form(&[("grant_type", "client_credentials")])
                    .send()
                    .await
                    .unwrap();
                outcomes.push((response.status(), response.json::<Value>().await.unwrap()));
            }
            outcomes
        }));
    }
    // ... while the other tenant's clients keep getting tokens with their claims.
    let healthy_requests = async {
        for _ in 0..20 {
            let response = server.token(&healthy, &healthy_client).await.unwrap();
            let body = expect_status(response, StatusCode::OK).await.unwrap();
            let claims =
                server.verify(&healthy, body["access_token"].as_str().unwrap(), &healthy.issuer).await.unwrap();
            assert_eq!(claims["org"], "ok");
        }
    };
    tokio::time::timeout(Duration::from_secs(120), healthy_requests).await.expect("the healthy tenant was starved");
    for task in stuck {
        // A guard, not a timing assertion: without a deadline these requests never return.
        let outcomes = tokio::time::timeout(Duration::from_secs(120), task).await.expect("the deadline never fired");
        for (status, body) in outcomes.unwrap() {
            assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
            assert_eq!(body["error"], "server_error");
            // The client is told the tenant's extension failed, and nothing of why.
            assert_eq!(body["error_description"], keyhaven::oauth::EXTENSION_FAILED, "{body}");
        }
    }
    // Why is the tenant's to read, in the invocation record.
    let record = server.last_invocation(&looping, "extension").await;
    assert!(record["detail"].as_str().is_some_and(|d| d.contains("deadline of 50 ms")), "{record}");
}}

db_test! {
async fn an_endless_loop_under_default_limits_runs_out_of_fuel() {
    let server =
        TestServer::start_with(Limits { token_deadline: Duration::from_secs(30), ..Limits::default() }).await.unwrap();
    let tenant = server.create_tenant("fuel").await.unwrap();
    server.deploy(&tenant, guests::MISBEHAVING).await.unwrap();
    let client = server.create_client(&tenant, json!({"name": "c"})).await.unwrap();
    let body =
        expect_status(server.token(&tenant, &client).await.unwrap(), StatusCode::INTERNAL_SERVER_ERROR).await.unwrap();
    server.assert_extension_failed(&tenant, &body, "extension", "used up its fuel (10000000 instructions)").await;
}}

db_test! {
async fn every_limit_hit_is_a_typed_error_and_the_tenant_recovers() {
    let server = TestServer::start().await.unwrap();
    let tenant = server.create_tenant("limits").await.unwrap();
    server.deploy(&tenant, guests::MISBEHAVING).await.unwrap();
    let cases = [
        ("allocate", "exceeded its memory limit of 16777216 bytes"),
        ("recurse", "overflowed its stack"),
        ("panic", "trapped"),
        ("too-many-claims", "invalid output: 51 claims returned; at most 50 are allowed"),
    ];
    for (behaviour, expected) in cases {
        let client = server
            .create_client(&tenant, json!({"name": behaviour, "attributes": {"behaviour": behaviour}}))
            .await
            .unwrap();
        let response = server.token(&tenant, &client).await.unwrap();
        let body = expect_status(response, StatusCode::INTERNAL_SERVER_ERROR).await.unwrap();
        server.assert_extension_failed(&tenant, &body, "extension", expected).await;
    }

    // The same tenant deploys a well-behaved version and is issuing tokens again at once.
    server.deploy(&tenant, guests::CUSTOM_CLAIMS).await.unwrap();
    let client = server.create_client(&tenant, json!({"name": "ok", "attributes": {"org": "back"}})).await.unwrap();
    let body = expect_status(server.token(&tenant, &client).await.unwrap(), StatusCode::OK).await.unwrap();
    let claims = server.verify(&tenant, body["access_token"].as_str().unwrap(), &tenant.issuer).await.unwrap();
    assert_eq!(claims["org"], "back");
}}

fn client_request(attributes: Value) -> TokenRequest {
    TokenRequest {
        subject: Subject::Client { client_id: "cl_1".into(), name: "c".into(), attributes },
        grant_type: "client_credentials".into(),
        scopes: Vec::new(),
        audience: Vec::new(),
    }
}

db_test! {
async fn a_tenant_at_its_in_flight_limit_is_refused_at_once_and_others_are_not() {
    let server = TestServer::start_with(Limits { concurrent_invocations: 2, ..deadline_limits() }).await.unwrap();
    let (a, b) = (server.create_tenant("inflight-a").await.unwrap(), server.create_tenant("inflight-b").await.unwrap());
    server.deploy(&a, guests::MISBEHAVING).await.unwrap();
    server.deploy(&b, guests::CUSTOM_CLAIMS).await.unwrap();
    let runtime = &server.state.extensions;
    let looping = server.target(&a, "extension", Hook::TokenIssuance).await.unwrap();
    let claims = server.target(&b, "extension", Hook::TokenIssuance).await.unwrap();
    let spin = client_request(json!({"behaviour": "loop"}));
    let fine = client_request(json!({"org": "b"}));

    // All six are polled before any ends: the first two of tenant A take its slots and spin
    // until their deadline, the next two are refused at once, and tenant B is unaffected.
    let (a1, a2, a3, a4, b1, b2) = tokio::join!(
        runtime.issue_token(&looping, &spin),
        runtime.issue_token(&looping, &spin),
        runtime.issue_token(&looping, &spin),
        runtime.issue_token(&looping, &spin),
        runtime.issue_token(&claims, &fine),
        runtime.issue_token(&claims, &fine),
    );
    for invocation in [a1, a2] {
        assert!(matches!(invocation.result, Err(InvokeError::Deadline(_))), "{invocation:?}");
    }
    for invocation in [a3, a4] {
        assert!(matches!(invocation.result, Err(InvokeError::TooManyInFlight(2))), "{invocation:?}");
    }
    for invocation in [b1, b2] {
        assert!(matches!(invocation.result, Ok(Decision::Issue { .. })), "{invocation:?}");
    }

    // The slots come back when the invocations end.
    let again = runtime.issue_token(&looping, &spin).await;
    assert!(matches!(again.result, Err(InvokeError::Deadline(_))), "{again:?}");
}}

db_test! {
async fn a_token_request_over_the_in_flight_limit_gets_503_temporarily_unavailable() {
    // One slot and a long deadline: the first request holds the slot while the second arrives.
    let limits = Limits { concurrent_invocations: 1, token_deadline: Duration::from_secs(2), ..deadline_limits() };
    let server = TestServer::start_with(limits).await.unwrap();
    let tenant = server.create_tenant("busy").await.unwrap();
    server.deploy(&tenant, guests::MISBEHAVING).await.unwrap();
    let client =
        server.create_client(&tenant, json!({"name": "c", "attributes": {"behaviour": "loop"}})).await.unwrap();

    let (first, second) = tokio::join!(server.token(&tenant, &client), async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        server.token(&tenant, &client).await
    });
    let (first, second) = (first.unwrap(), second.unwrap());
    assert_eq!(second.headers()["retry-after"], "1");
    let body = expect_status(second, StatusCode::SERVICE_UNAVAILABLE).await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");
    assert!(body["error_description"].as_str().unwrap().contains("1 extension invocations in flight"), "{body}");
    let body = expect_status(first, StatusCode::INTERNAL_SERVER_ERROR).await.unwrap();
    assert_eq!(body["error_description"], keyhaven::oauth::EXTENSION_FAILED, "{body}");
    let path = format!("/admin/v1/tenants/{}/extensions/extension/invocations", tenant.name);
    let records = server.get(&tenant.admin_token, &path).await.unwrap();
    assert!(records["invocations"].as_array().unwrap().iter().any(|r| r["detail"].as_str().is_some_and(|d| d.contains("deadline of 2000 ms"))), "{records}");
}}

db_test! {
async fn uploads_that_are_not_components_are_refused_and_leave_nothing_behind() {
    let server = TestServer::start().await.unwrap();
    let tenant = server.create_tenant("garbage").await.unwrap();

    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"#!/bin/sh\necho not wasm\n".to_vec(), "not a WebAssembly binary"),
        // The smallest core module: a component is expected.
        (b"\0asm\x01\0\0\0".to_vec(), "core WebAssembly module, not a component"),
        // A component header followed by garbage.
        (b"\0asm\x0d\0\x01\0\xff\xff\xff\xff".to_vec(), "not valid"),
    ];
    for (bytes, expected) in cases {
        let body = expect_problem(server.upload(&tenant, bytes).await.unwrap(), StatusCode::UNPROCESSABLE_ENTITY)
            .await
            .unwrap();
        assert_eq!(body["type"], "urn:keyhaven:problem:invalid-component");
        assert!(body["detail"].as_str().unwrap().contains(expected), "{body}");
    }

    let empty = expect_problem(server.upload(&tenant, Vec::new()).await.unwrap(), StatusCode::UNPROCESSABLE_ENTITY)
        .await
        .unwrap();
    assert!(empty["detail"].as_str().unwrap().contains("empty"));

    let component = guests::bytes(guests::CUSTOM_CLAIMS);
    let wrong_type =
        server.upload_as(&tenant.admin_token, &tenant.name, "", "application/octet-stream", component).await.unwrap();
    expect_problem(wrong_type, StatusCode::UNSUPPORTED_MEDIA_TYPE).await.unwrap();

    let too_large = server.upload(&tenant, vec![0; Limits::default().component_bytes + 1]).await.unwrap();
    expect_problem(too_large, StatusCode::PAYLOAD_TOO_LARGE).await.unwrap();

    assert!(deployments(&server, &tenant).await.is_empty());
}}

db_test! {
async fn a_component_exporting_no_known_hook_is_refused() {
    let server = TestServer::start().await.unwrap();
    let tenant = server.create_tenant("nohook").await.unwrap();
    let response = server.upload(&tenant, guests::bytes(guests::CLI_PROGRAM)).await.unwrap();
    let body = expect_problem(response, StatusCode::UNPROCESSABLE_ENTITY).await.unwrap();
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains("exports no known hook"), "{detail}");
    assert!(detail.contains("wasi:cli/run"), "the detail should say what it does export: {detail}");
    assert!(detail.contains("keyhaven:extension/token-issuance@0.1.2"), "{detail}");
    assert!(deployments(&server, &tenant).await.is_empty());
}}

db_test! {
async fn deployments_are_listed_and_survive_a_restart() {
    let server = TestServer::start().await.unwrap();
    let tenant = server.create_tenant("restart").await.unwrap();
    let client = server.create_client(&tenant, json!({"name": "c", "attributes": {"org": "kept"}})).await.unwrap();
    let deployed = server.deploy(&tenant, guests::CUSTOM_CLAIMS).await.unwrap();
    let id = deployed["id"].as_str().unwrap().to_owned();
    assert_eq!(deployed["content_sha256"].as_str().unwrap().len(), 64);

    let listed = deployments(&server, &tenant).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], id.as_str());

    // After a restart the deployment is loaded from the compiled-artifact cache on first
    // use: it works, and nothing is compiled again.
    let server = server.restart().await.unwrap();
    let response = server
        .http
        .get(server.url(&format!("/admin/v1/tenants/{}/deployments/{id}", tenant.name)))
        .bearer_auth(&tenant.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(expect_status(response, StatusCode::OK).await.unwrap()["hooks"], json!(["token-issuance"]));
    let body = expect_status(server.token(&tenant, &client).await.unwrap(), StatusCode::OK).await.unwrap();
    let claims = server.verify(&tenant, body["access_token"].as_str().unwrap(), &tenant.issuer).await.unwrap();
    assert_eq!(claims["org"], "kept");
    assert_eq!(server.state.extensions.compilations(), 0, "a restart must not recompile");
}}
