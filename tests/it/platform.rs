//! The extension platform: the deployment lifecycle (background builds, versions,
//! activate, roll back, disable, delete), bindings (order, failure policy, per client),
//! per-tenant limits from plans and overrides, configuration, sealed secrets and the
//! key-value store, invocation records and metrics, dry runs, and the contract's
//! compatibility with components built against 0.1.0.

use keyhaven_tests::{TestClient, TestServer, TestTenant, expect_problem, expect_status, guests};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// `method /admin/v1/tenants/{tenant}{path}` as the tenant's administrator.
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

async fn admin_ok(server: &TestServer, tenant: &TestTenant, method: Method, path: &str, body: Option<Value>) -> Value {
    let response = admin(server, tenant, method, path, body).await;
    let status = response.status();
    let text = response.text().await.unwrap();
    assert!(status.is_success(), "{path}: {status} {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// A token's claims, expecting success.
async fn claims(server: &TestServer, tenant: &TestTenant, client: &TestClient) -> Value {
    let body = expect_status(server.token(tenant, client).await.unwrap(), StatusCode::OK).await.unwrap();
    server.verify(tenant, body["access_token"].as_str().unwrap(), &tenant.issuer).await.unwrap()
}

db_test! {
async fn an_upload_is_answered_at_once_built_in_the_background_and_versions_can_be_rolled_back() {
    let server = TestServer::start().await.unwrap();
    let tenant = server.create_tenant("lifecycle").await.unwrap();
    let client = server.create_client(&tenant, json!({"name": "c", "attributes": {"org": "acme"}})).await.unwrap();

    let response = server
        .upload_as(
            &tenant.admin_token,
            &tenant.name,
            "?name=claims",
            "application/wasm",
            guests::bytes(guests::CUSTOM_CLAIMS),
        )
        .await
        .unwrap();
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let accepted = expect_status(response, StatusCode::ACCEPTED).await.unwrap();
    assert_eq!(accepted["state"], "PENDING");
    assert_eq!(accepted["version"], 1);
    assert!(location.ends_with(accepted["id"].as_str().unwrap()), "{location}");
    let v1 = server.wait_built(&tenant, accepted["id"].as_str().unwrap()).await.unwrap();
    assert_eq!(v1["state"], "ENABLED");
    assert_eq!(v1["hooks"], json!(["token-issuance"]));
    assert!(v1["built_at"].as_i64().is_some());

    // The first build bound the hook it exports, tenant-wide, failing closed.
    let extension = admin_ok(&server, &tenant, Method::GET, "/extensions/claims", None).await;
    assert_eq!(extension["active_deployment_id"], v1["id"]);
    let bindings = extension["bindings"].as_array().unwrap();
    assert_eq!(bindings.len(), 1);
    assert_eq!(bindings[0]["hook"], "token-issuance");
    assert_eq!(bindings[0]["failure_policy"], "fail-closed");
    assert_eq!(claims(&server, &tenant, &client).await["issued_by_extension"], "custom-claims");

    // A second version (here: the echo guest) becomes active once built ...
    let v2 = server.deploy_as(&tenant, guests::ECHO_REQUEST, "claims", "").await.unwrap();
    assert_eq!(v2["version"], 2);
    let token = claims(&server, &tenant, &client).await;
    assert!(token.get("echo").is_some() && token.get("issued_by_extension").is_none(), "{token}");

    // ... and rolling back activates version 1 again.
    let rolled = admin_ok(&server, &tenant, Method::POST, "/extensions/claims/rollback", None).await;
    assert_eq!(rolled["active_deployment_id"], v1["id"]);
    assert_eq!(claims(&server, &tenant, &client).await["issued_by_extension"], "custom-claims");
    let nothing_older = admin(&server, &tenant, Method::POST, "/extensions/claims/rollback", None).await;
    expect_problem(nothing_older, StatusCode::CONFLICT).await.unwrap();

    // Activating a version by id, disabling and enabling.
    let body = json!({"active_deployment_id": v2["id"]});
    admin_ok(&server, &tenant, Method::PATCH, "/extensions/claims", Some(body)).await;
    assert!(claims(&server, &tenant, &client).await.get("echo").is_some());
    admin_ok(&server, &tenant, Method::PATCH, "/extensions/claims", Some(json!({"state": "DISABLED"}))).await;
    let token = claims(&server, &tenant, &client).await;
    assert!(token.get("echo").is_none(), "a disabled extension does not run: {token}");
    admin_ok(&server, &tenant, Method::PATCH, "/extensions/claims", Some(json!({"state": "ENABLED"}))).await;
    assert!(claims(&server, &tenant, &client).await.get("echo").is_some());

    // An active version cannot be deleted; an inactive one can; then the whole extension.
    let active =
        admin(&server, &tenant, Method::DELETE, &format!("/deployments/{}", v2["id"].as_str().unwrap()), None).await;
    expect_problem(active, StatusCode::CONFLICT).await.unwrap();
    let old =
        admin(&server, &tenant, Method::DELETE, &format!("/deployments/{}", v1["id"].as_str().unwrap()), None).await;
    assert_eq!(old.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        admin(&server, &tenant, Method::DELETE, "/extensions/claims", None).await.status(),
        StatusCode::NO_CONTENT
    );
    expect_problem(admin(&server, &tenant, Method::GET, "/extensions/claims", None).await, StatusCode::NOT_FOUND)
        .await
        .unwrap();
    assert!(claims(&server, &tenant, &client).await.get("echo").is_none());
}}

/// The custom-claims component with one import renamed, so it validates but cannot link.
fn unlinkable_component() -> Vec<u8> {
    let mut bytes = guests::bytes(guests::CUSTOM_CLAIMS);
    let (from, to) = (b"keyhaven:extension/log@", b"keyhaven:extension/lug@");
    let mut replaced = 0;
    for i in 0..bytes.len().saturating_sub(from.len()) {
        if &bytes[i..i + from.len()] == from {
            bytes[i..i + to.len()].copy_from_slice(to);
            replaced += 1;
        }
    }
    assert!(replaced > 0, "the component imports keyhaven:extension/log");
    bytes
}

db_test! {
async fn a_component_that_cannot_link_fails_its_build_with_the_reason_and_binds_nothing() {
    let server = TestServer::start().await.unwrap();
    let tenant = server.create_tenant("failed").await.unwrap();
    let client = server.create_client(&tenant, json!({"name": "c"})).await.unwrap();
    let response = server.upload(&tenant, unlinkable_component()).await.unwrap();
    let accepted = expect_status(response, StatusCode::ACCEPTED).await.unwrap();
    let built = server.wait_built(&tenant, accepted["id"].as_str().unwrap()).await.unwrap();
    assert_eq!(built["state"], "FAILED");
    let error = built["build_error"].as_str().unwrap();
    assert!(error.contains("keyhaven:extension/lug"), "{error}");
    let extension = admin_ok(&server, &tenant, Method::GET, "/extensions/extension", None).await;
    assert_eq!(extension["active_deployment_id"], Value::Null);
    assert_eq!(extension["bindings"], json!([]));
    // Nothing runs, so tokens are issued as without an extension.
    assert!(claims(&server, &tenant, &client).await.get("issued_by_extension").is_none());
    // A failed version cannot be activated, nor dry-run.
    let body = json!({"active_deployment_id": built["id"]});
    expect_problem(
        admin(&server, &tenant, Method::PATCH, "/extensions/extension", Some(body)).await,
        StatusCode::CONFLICT,
    )
    .await
    .unwrap();
}}

db_test! {
async fn bindings_run_in_order_with_their_failure_policy_and_a_clients_own_binding_wins() {
    let server = TestServer::start().await.unwrap();
    let tenant = server.create_tenant("bindings").await.unwrap();
    server.deploy_as(&tenant, guests::CUSTOM_CLAIMS, "claims", "").await.unwrap();
    server.deploy_as(&tenant, guests::ECHO_REQUEST, "echo", "").await.unwrap();
    server.deploy_as(&tenant, guests::MISBEHAVING, "broken", "&bind=none").await.unwrap();
    let client = server
        .create_client(&tenant, json!({"name": "c", "attributes": {"org": "acme", "behaviour": "panic"}}))
        .await
        .unwrap();
    let special = server.create_client(&tenant, json!({"name": "special"})).await.unwrap();

    // Both tenant-wide bindings ran; the broken extension is not bound.
    let token = claims(&server, &tenant, &client).await;
    assert_eq!(token["issued_by_extension"], "custom-claims");
    assert!(token.get("echo").is_some());

    // Bound failing open, its panic is recorded and the token is issued without it.
    let open = json!({"hook": "token-issuance", "extension": "broken", "failure_policy": "fail-open", "position": 9});
    let binding = admin_ok(&server, &tenant, Method::POST, "/bindings", Some(open)).await;
    assert_eq!(claims(&server, &tenant, &client).await["issued_by_extension"], "custom-claims");
    let path = format!("/bindings/{}", binding["id"].as_str().unwrap());
    assert_eq!(admin(&server, &tenant, Method::DELETE, &path, None).await.status(), StatusCode::NO_CONTENT);

    // Bound failing closed (the default), it stops the issuance.
    let closed = json!({"hook": "token-issuance", "extension": "broken"});
    admin_ok(&server, &tenant, Method::POST, "/bindings", Some(closed)).await;
    let body =
        expect_status(server.token(&tenant, &client).await.unwrap(), StatusCode::INTERNAL_SERVER_ERROR).await.unwrap();
    // The client is not told which extension failed, nor how: the record says it panicked.
    server.assert_extension_failed(&tenant, &body, "broken", "trapped").await;

    // A client with its own binding runs only that one.
    let own = json!({"hook": "token-issuance", "extension": "echo", "client_id": special.client_id});
    admin_ok(&server, &tenant, Method::POST, "/bindings", Some(own)).await;
    let token = claims(&server, &tenant, &special).await;
    assert!(token.get("echo").is_some() && token.get("issued_by_extension").is_none(), "{token}");

    // Bad bindings are refused clearly.
    for (body, status) in [
        (json!({"hook": "teleport", "extension": "echo"}), StatusCode::BAD_REQUEST),
        (json!({"hook": "token-issuance", "extension": "nope"}), StatusCode::NOT_FOUND),
        (json!({"hook": "events", "extension": "echo", "client_id": special.client_id}), StatusCode::BAD_REQUEST),
        (json!({"hook": "scheduled", "extension": "echo"}), StatusCode::BAD_REQUEST),
        (json!({"hook": "scheduled", "extension": "echo", "schedule": "every night"}), StatusCode::BAD_REQUEST),
        (json!({"hook": "events", "extension": "echo", "filter": {"colour": ["red"]}}), StatusCode::BAD_REQUEST),
        (json!({"hook": "token-issuance", "extension": "echo"}), StatusCode::CONFLICT),
    ] {
        expect_problem(admin(&server, &tenant, Method::POST, "/bindings", Some(body.clone())).await, status)
            .await
            .unwrap_or_else(|e| panic!("{body}: {e}"));
    }
}}

db_test! {
async fn limits_come_from_the_plan_and_the_operators_overrides_per_tenant() {
    let server = TestServer::start().await.unwrap();
    let (a, b) = (server.create_tenant("plan-a").await.unwrap(), server.create_tenant("plan-b").await.unwrap());
    let mut clients = Vec::new();
    for tenant in [&a, &b] {
        server.deploy(tenant, guests::CUSTOM_CLAIMS).await.unwrap();
        clients.push(server.create_client(tenant, json!({"name": "c"})).await.unwrap());
    }
    let operator = |method, path: String, body| {
        let server = &server;
        async move { server.call(method, &server.root_token, &path, Some(body)).await }
    };

    // A plan with too little fuel for custom-claims, given to tenant A only.
    let plan = operator(Method::PUT, "/admin/v1/plans/tiny".to_owned(), json!({"fuel": 5000})).await.unwrap();
    expect_status(plan, StatusCode::OK).await.unwrap();
    let limits_path = format!("/admin/v1/tenants/{}/limits", a.name);
    let set = operator(Method::PUT, limits_path.clone(), json!({"plan": "tiny"})).await.unwrap();
    let limits = expect_status(set, StatusCode::OK).await.unwrap();
    assert_eq!(limits["plan"], "tiny");
    assert_eq!(limits["effective"]["fuel"], 5000);
    let body =
        expect_status(server.token(&a, &clients[0]).await.unwrap(), StatusCode::INTERNAL_SERVER_ERROR).await.unwrap();
    server.assert_extension_failed(&a, &body, "extension", "used up its fuel (5000 instructions)").await;
    assert_eq!(claims(&server, &b, &clients[1]).await["issued_by_extension"], "custom-claims");

    // An override for the tenant beats its plan.
    let set = operator(Method::PUT, limits_path.clone(), json!({"overrides": {"fuel": 2000000}})).await.unwrap();
    assert_eq!(expect_status(set, StatusCode::OK).await.unwrap()["effective"]["fuel"], 2000000);
    assert_eq!(claims(&server, &a, &clients[0]).await["issued_by_extension"], "custom-claims");

    // Tenant administrators read their limits but cannot change them; nonsense is refused.
    let read = admin_ok(&server, &a, Method::GET, "/limits", None).await;
    assert_eq!(read["effective"]["token_deadline"], 50);
    let own = admin(&server, &a, Method::PUT, "/limits", Some(json!({"overrides": {"fuel": 1}}))).await;
    expect_problem(own, StatusCode::FORBIDDEN).await.unwrap();
    for body in [json!({"overrides": {"fuel": 0}}), json!({"overrides": {"fuell": 5}}), json!({"plan": "no-such-plan"})]
    {
        let response = operator(Method::PUT, limits_path.clone(), body.clone()).await.unwrap();
        assert!(response.status().is_client_error(), "{body}: {}", response.status());
    }
}}

db_test! {
async fn input_size_and_invocations_per_minute_are_limited_per_tenant() {
    // A clock that stands still, so every call falls in the same minute.
    let clock = std::sync::Arc::new(keyhaven::clock::ManualClock::new(1_800_000_000));
    let server = TestServer::start_with_clock(clock).await.unwrap();
    let tenant = server.create_tenant("rate").await.unwrap();
    server.deploy(&tenant, guests::CUSTOM_CLAIMS).await.unwrap();
    let path = format!("/admin/v1/tenants/{}/limits", tenant.name);
    let overrides = json!({"overrides": {"input_bytes": 1024, "invocations_per_minute": 2}});
    expect_status(server.call(Method::PUT, &server.root_token, &path, Some(overrides)).await.unwrap(), StatusCode::OK)
        .await
        .unwrap();

    // An input over the tenant's limit is refused before the guest runs.
    let big =
        server.create_client(&tenant, json!({"name": "big", "attributes": {"blob": "x".repeat(2000)}})).await.unwrap();
    let body =
        expect_status(server.token(&tenant, &big).await.unwrap(), StatusCode::INTERNAL_SERVER_ERROR).await.unwrap();
    server.assert_extension_failed(&tenant, &body, "extension", "limit is 1024").await;

    // Two invocations fit in this minute (the refused input did not count); the next is
    // refused at once, to retry.
    let client = server.create_client(&tenant, json!({"name": "c"})).await.unwrap();
    claims(&server, &tenant, &client).await;
    claims(&server, &tenant, &client).await;
    let response = server.token(&tenant, &client).await.unwrap();
    assert_eq!(response.headers()["retry-after"], "1");
    let body = expect_status(response, StatusCode::SERVICE_UNAVAILABLE).await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");
    assert!(body["error_description"].as_str().unwrap().contains("2 extension invocations per minute"), "{body}");

    let page = admin_ok(&server, &tenant, Method::GET, "/extensions/extension/invocations", None).await;
    let outcomes: Vec<&str> =
        page["invocations"].as_array().unwrap().iter().map(|r| r["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes, ["throttled", "ok", "ok", "throttled"]);
}}

db_test! {
async fn compiled_components_are_evicted_and_reloaded_from_the_artifact_cache_without_recompiling() {
    let node = keyhaven::extensions::NodeLimits { compiled_cache_entries: 1, ..keyhaven_tests::test_node_limits() };
    let server = TestServer::start_with_node(keyhaven::extensions::Limits::default(), node).await.unwrap();
    let mut tenants = Vec::new();
    for name in ["evict-a", "evict-b", "evict-c"] {
        let tenant = server.create_tenant(name).await.unwrap();
        server.deploy(&tenant, guests::CUSTOM_CLAIMS).await.unwrap();
        let client = server.create_client(&tenant, json!({"name": "c", "attributes": {"org": name}})).await.unwrap();
        tenants.push((tenant, client, name));
    }
    let compiled = server.state.extensions.compilations();
    assert_eq!(compiled, 3, "one build per tenant");
    for _ in 0..2 {
        for (tenant, client, name) in &tenants {
            assert_eq!(claims(&server, tenant, client).await["org"], *name);
            assert_eq!(server.state.extensions.components_in_memory(), 1);
        }
    }
    assert_eq!(server.state.extensions.compilations(), compiled, "reloads come from the artifact cache");
}}

db_test! {
async fn a_new_version_leaves_the_older_ones_out_of_memory() {
    let server = TestServer::start().await.unwrap();
    let tenant = server.create_tenant("versions").await.unwrap();
    let client = server.create_client(&tenant, json!({"name": "c", "attributes": {"org": "acme"}})).await.unwrap();
    for version in 1..=4 {
        server.deploy(&tenant, guests::CUSTOM_CLAIMS).await.unwrap();
        assert_eq!(claims(&server, &tenant, &client).await["org"], "acme");
        assert_eq!(server.state.extensions.components_in_memory(), 1, "after version {version}");
    }
}}

db_test! {
async fn a_tenant_cannot_enable_more_extensions_than_its_plan_allows() {
    let server = TestServer::start().await.unwrap();
    let tenant = server.create_tenant("cap").await.unwrap();
    let path = format!("/admin/v1/tenants/{}/limits", tenant.name);
    let set =
        server.call(Method::PUT, &server.root_token, &path, Some(json!({"overrides": {"enabled_extensions": 1}})));
    expect_status(set.await.unwrap(), StatusCode::OK).await.unwrap();
    server.deploy_as(&tenant, guests::CUSTOM_CLAIMS, "one", "").await.unwrap();
    // Another version of the same extension is fine; a second extension is not.
    server.deploy_as(&tenant, guests::CUSTOM_CLAIMS, "one", "").await.unwrap();
    let query = "?name=two";
    let second = server
        .upload_as(&tenant.admin_token, &tenant.name, query, "application/wasm", guests::bytes(guests::CUSTOM_CLAIMS))
        .await
        .unwrap();
    let problem = expect_problem(second, StatusCode::CONFLICT).await.unwrap();
    assert!(problem["detail"].as_str().unwrap().contains("1"), "{problem}");
}}

db_test! {
async fn an_extension_may_add_and_suppress_scopes_only_within_what_the_client_may_obtain() {
    let server = TestServer::start().await.unwrap();
    let tenant = server.create_tenant("scopes").await.unwrap();
    server.deploy(&tenant, guests::MISBEHAVING).await.unwrap();
    let client = |add: &str| json!({"name": "c", "scopes": ["a", "b", "extra"], "attributes": {"behaviour": "scopes", "add": add}});
    let allowed = server.create_client(&tenant, client("extra")).await.unwrap();
    let response = server
        .http
        .post(server.url(&format!("/t/{}/oauth2/token", tenant.name)))
        .basic_auth(&allowed.client_id, Some(&allowed.client_secret))
        .form(&[("grant_type", "client_credentials"), ("scope", "a b")])
        .send()
        .await
        .unwrap();
    let body = expect_status(response, StatusCode::OK).await.unwrap();
    assert_eq!(body["scope"], "b extra");
    let token = server.verify(&tenant, body["access_token"].as_str().unwrap(), &tenant.issuer).await.unwrap();
    assert_eq!(token["scope"], "b extra");

    // A scope the client may not obtain fails the issuance, naming it.
    let greedy = server.create_client(&tenant, client("admin")).await.unwrap();
    let body =
        expect_status(server.token(&tenant, &greedy).await.unwrap(), StatusCode::INTERNAL_SERVER_ERROR).await.unwrap();
    assert!(body["error_description"].as_str().unwrap().contains("\"admin\""), "{body}");
    // So does something that is not a scope at all.
    let invalid = server.create_client(&tenant, client("two words")).await.unwrap();
    let body =
        expect_status(server.token(&tenant, &invalid).await.unwrap(), StatusCode::INTERNAL_SERVER_ERROR).await.unwrap();
    server.assert_extension_failed(&tenant, &body, "extension", "not a scope").await;
}}

db_test! {
async fn components_built_against_the_released_0_1_0_contract_still_run() {
    let server = TestServer::start().await.unwrap();
    let tenant = server.create_tenant("compat").await.unwrap();
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/custom-claims-0.1.0.wasm");
    let deployment = server.deploy(&tenant, fixture).await.unwrap();
    assert_eq!(deployment["hooks"], json!(["token-issuance"]));
    let client = server.create_client(&tenant, json!({"name": "c", "attributes": {"org": "old"}})).await.unwrap();
    let token = claims(&server, &tenant, &client).await;
    assert_eq!(token["issued_by_extension"], "custom-claims");
    assert_eq!(token["org"], "old");
}}

db_test! {
async fn components_built_against_the_released_0_1_1_contract_still_run() {
    let server = TestServer::start().await.unwrap();
    let tenant = server.create_tenant("compat-011").await.unwrap();
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/custom-claims-0.1.1.wasm");
    let deployment = server.deploy(&tenant, fixture).await.unwrap();
    assert_eq!(deployment["hooks"], json!(["token-issuance"]));
    // Its 0.1.1 imports (the key-value store) are served by the 0.1.2 host.
    admin_ok(&server, &tenant, Method::PUT, "/kv/org:old", Some(json!({"plan": "silver"}))).await;
    let client = server.create_client(&tenant, json!({"name": "c", "attributes": {"org": "old"}})).await.unwrap();
    let token = claims(&server, &tenant, &client).await;
    assert_eq!(token["issued_by_extension"], "custom-claims");
    assert_eq!(token["plan"], "silver");
}}

db_test! {
async fn invocations_leave_records_and_metrics() {
    let server = TestServer::start().await.unwrap();
    let tenant = server.create_tenant("records").await.unwrap();
    server.deploy(&tenant, guests::MISBEHAVING).await.unwrap();
    let ok = server.create_client(&tenant, json!({"name": "ok", "attributes": {"behaviour": "env"}})).await.unwrap();
    let bad =
        server.create_client(&tenant, json!({"name": "bad", "attributes": {"behaviour": "panic"}})).await.unwrap();
    for _ in 0..3 {
        claims(&server, &tenant, &ok).await;
    }
    expect_status(server.token(&tenant, &bad).await.unwrap(), StatusCode::INTERNAL_SERVER_ERROR).await.unwrap();

    let page = admin_ok(&server, &tenant, Method::GET, "/extensions/extension/invocations?limit=3", None).await;
    let records = page["invocations"].as_array().unwrap();
    assert_eq!(records.len(), 3);
    assert_eq!(records[0]["outcome"], "trap", "newest first: {page}");
    assert!(records[0]["detail"].as_str().unwrap().contains("trapped"));
    assert!(records[0]["output"].as_str().unwrap().contains("the guest gave up"), "{}", records[0]);
    for record in records {
        assert_eq!(record["hook"], "token-issuance");
        assert_eq!(record["version"], 1);
        assert!(record["fuel_used"].as_i64().unwrap() > 0);
        assert!(record["duration_us"].as_i64().unwrap() > 0);
    }
    let next = page["next"].as_str().unwrap();
    let rest =
        admin_ok(&server, &tenant, Method::GET, &format!("/extensions/extension/invocations?before={next}"), None)
            .await;
    assert_eq!(rest["invocations"].as_array().unwrap().len(), 1);
    assert_eq!(rest["next"], Value::Null);

    let metrics = admin_ok(&server, &tenant, Method::GET, "/extensions/extension/metrics", None).await;
    assert_eq!(metrics["count"], 4);
    assert_eq!(metrics["errors"], 1);
    assert_eq!(metrics["by_outcome"]["ok"], 3);
    assert!(metrics["p99_us"].as_i64().unwrap() >= metrics["p50_us"].as_i64().unwrap());
}}

db_test! {
async fn configuration_secrets_and_the_key_value_store_reach_the_guest_and_secrets_stay_sealed() {
    let server = TestServer::start().await.unwrap();
    let tenant = server.create_tenant("env").await.unwrap();
    server.deploy(&tenant, guests::MISBEHAVING).await.unwrap();
    let secret = "s3cr3t-value-that-must-not-leak";
    admin_ok(&server, &tenant, Method::PUT, "/extensions/extension/config", Some(json!({"greeting": "hello"}))).await;
    let response =
        admin(&server, &tenant, Method::PUT, "/extensions/extension/secrets/token", Some(json!({"value": secret})))
            .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    let client =
        server.create_client(&tenant, json!({"name": "c", "attributes": {"behaviour": "config"}})).await.unwrap();
    let token = claims(&server, &tenant, &client).await;
    assert_eq!(token["config"], "hello");
    assert_eq!(token["secret_len"], secret.len());

    // The API shows secret names, never values; the database holds only ciphertext.
    let extension = admin_ok(&server, &tenant, Method::GET, "/extensions/extension", None).await;
    assert_eq!(extension["secrets"], json!(["token"]));
    assert!(!extension.to_string().contains(secret));
    server.state.extensions.records.flush(&server.state.db).await.unwrap();
    // On SQLite, no file of the database holds the plaintext (PostgreSQL's files are the
    // server's; the sealing is the same code on both).
    if let Some(path) = server.database_path() {
        let dir = std::path::Path::new(path).parent().unwrap().to_owned();
        for entry in std::fs::read_dir(dir).unwrap() {
            let bytes = std::fs::read(entry.unwrap().path()).unwrap();
            assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()), "plaintext secret on disk");
        }
    }

    // The key-value store: written by the guest, read back by the admin API.
    let writer = server
        .create_client(&tenant, json!({"name": "kv", "attributes": {"behaviour": "kv", "value": "x1"}}))
        .await
        .unwrap();
    assert_eq!(claims(&server, &tenant, &writer).await["kv"], "x1");
    let entries = admin_ok(&server, &tenant, Method::GET, "/kv?prefix=pro", None).await;
    assert_eq!(entries[0]["key"], "probe");
    assert_eq!(entries[0]["value"], "x1");
}}

db_test! {
async fn a_dry_run_reports_output_log_and_fuel_and_changes_nothing() {
    let server = TestServer::start().await.unwrap();
    let tenant = server.create_tenant("dryrun").await.unwrap();
    let deployment = server.deploy_as(&tenant, guests::MISBEHAVING, "probe", "&bind=none").await.unwrap();
    let path = format!("/deployments/{}/dry-run", deployment["id"].as_str().unwrap());
    let input = |behaviour: &str| {
        json!({"hook": "token-issuance", "input": {
            "subject": {"kind": "client", "client_id": "cl_x", "name": "x", "attributes": {"behaviour": behaviour, "value": "dry"}},
            "grant_type": "client_credentials"}})
    };

    let run = admin_ok(&server, &tenant, Method::POST, &path, Some(input("kv"))).await;
    assert_eq!(run["outcome"], "ok", "{run}");
    assert!(run["fuel_used"].as_u64().unwrap() > 0);
    assert!(run["duration_us"].as_u64().unwrap() > 0);
    assert_eq!(run["output"]["issue"]["access_token"], json!([["kv", "dry"]]), "{run}");
    // Its key-value write stayed in the run.
    assert_eq!(admin_ok(&server, &tenant, Method::GET, "/kv", None).await, json!([]));

    let stdout = admin_ok(&server, &tenant, Method::POST, &path, Some(input("stdout"))).await;
    let lines = stdout["log"]["lines"].as_array().unwrap();
    assert!(lines.iter().any(|l| l["level"] == "stdout"), "{stdout}");
    assert!(stdout["log"]["dropped"].as_u64().unwrap() > 0, "output beyond 1 KiB is dropped: {stdout}");

    let trap = admin_ok(&server, &tenant, Method::POST, &path, Some(input("panic"))).await;
    assert_eq!(trap["outcome"], "trap");
    assert!(trap["error"].as_str().unwrap().contains("trapped"));

    for (body, status) in [
        (json!({"hook": "otp-delivery", "input": {}}), StatusCode::BAD_REQUEST),
        (json!({"hook": "token-issuance", "input": {"nonsense": true}}), StatusCode::BAD_REQUEST),
        (json!({"hook": "nope", "input": {}}), StatusCode::BAD_REQUEST),
    ] {
        expect_problem(admin(&server, &tenant, Method::POST, &path, Some(body.clone())).await, status)
            .await
            .unwrap_or_else(|e| panic!("{body}: {e}"));
    }
    // Nothing was bound, so no token ever ran it; the dry runs are recorded as such.
    let page = admin_ok(&server, &tenant, Method::GET, "/extensions/probe/invocations", None).await;
    assert!(page["invocations"].as_array().unwrap().iter().all(|r| r["dry_run"] == true));
}}

/// Two nodes on one PostgreSQL: what one node changes, the other stops using at once (its
/// caches are told through LISTEN/NOTIFY), without restarting. PostgreSQL only: SQLite is
/// one node's database.
#[tokio::test]
async fn a_change_on_one_node_reaches_the_caches_of_another_node_sharing_postgresql() {
    let Some(database) = keyhaven_tests::Database::postgres() else { return };
    database
        .run(async {
            let first = TestServer::start().await.unwrap();
            let second = first.second_node().await.unwrap();
            let tenant = first.create_tenant("nodes").await.unwrap();
            first.deploy(&tenant, guests::CUSTOM_CLAIMS).await.unwrap();
            let client =
                first.create_client(&tenant, json!({"name": "c", "attributes": {"org": "acme"}})).await.unwrap();
            // The second node serves a token with the extension's claims, and caches the binding.
            let token = claims(&second, &tenant, &client).await;
            assert_eq!(token["org"], "acme");

            // The first node removes the binding; the second follows without a restart.
            let bindings = admin_ok(&first, &tenant, Method::GET, "/bindings", None).await;
            let id = bindings[0]["id"].as_str().unwrap().to_owned();
            let deleted = admin(&first, &tenant, Method::DELETE, &format!("/bindings/{id}"), None).await;
            assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
            let mut followed = false;
            for _ in 0..500 {
                if claims(&second, &tenant, &client).await.get("org").is_none() {
                    followed = true;
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            assert!(followed, "the second node still runs the extension its cache remembered");

            // The first node rotates the tenant's signing key; the second signs with the new one.
            async fn kid(server: &TestServer, tenant: &TestTenant, client: &TestClient) -> String {
                let body = expect_status(server.token(tenant, client).await.unwrap(), StatusCode::OK).await.unwrap();
                jsonwebtoken::decode_header(body["access_token"].as_str().unwrap()).unwrap().kid.unwrap()
            }
            let before = kid(&second, &tenant, &client).await;
            let rotate = format!("/admin/v1/tenants/{}/keys/rotate", tenant.name);
            let rotated = first.call(Method::POST, &tenant.admin_token, &rotate, None).await.unwrap();
            let rotated =
                expect_status(rotated, StatusCode::CREATED).await.unwrap()["kid"].as_str().unwrap().to_owned();
            assert_ne!(before, rotated);
            let mut followed = false;
            for _ in 0..500 {
                if kid(&second, &tenant, &client).await == rotated {
                    followed = true;
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            assert!(followed, "the second node still signs with the key its cache remembered");

            // Key-value entries an extension reads are cached per node; a write on the first
            // node reaches the second node's next token. (The binding was removed above.)
            let path = format!("/admin/v1/tenants/{}/bindings", tenant.name);
            let ext = admin_ok(&first, &tenant, Method::GET, "/extensions", None).await;
            let name = ext[0]["name"].as_str().unwrap().to_owned();
            let bound = first
                .call(
                    Method::POST,
                    &tenant.admin_token,
                    &path,
                    Some(json!({"extension": name, "hook": "token-issuance"})),
                )
                .await
                .unwrap();
            expect_status(bound, StatusCode::CREATED).await.unwrap();
            for plan in ["gold", "platinum"] {
                let kv = format!("/admin/v1/tenants/{}/kv/org:acme", tenant.name);
                let put = first.call(Method::PUT, &tenant.admin_token, &kv, Some(json!({"plan": plan}))).await.unwrap();
                assert_eq!(put.status(), StatusCode::NO_CONTENT);
                let mut seen = Value::Null;
                for _ in 0..500 {
                    seen = claims(&second, &tenant, &client).await["plan"].clone();
                    if seen == plan {
                        break;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
                assert_eq!(seen, plan, "the second node's cached key-value entry followed the write");
            }
        })
        .await
}

db_test! {
async fn an_extensions_cached_key_value_reads_follow_every_write_at_once() {
    let server = TestServer::start().await.unwrap();
    let tenant = server.create_tenant("kvcache").await.unwrap();
    server.deploy(&tenant, guests::CUSTOM_CLAIMS).await.unwrap();
    let client = server.create_client(&tenant, json!({"name": "c", "attributes": {"org": "acme"}})).await.unwrap();
    let kv = "/kv/org:acme";
    assert!(claims(&server, &tenant, &client).await.get("plan").is_none(), "no entry yet (and that is cached)");
    for plan in ["gold", "platinum"] {
        let put = admin(&server, &tenant, Method::PUT, kv, Some(json!({"plan": plan}))).await;
        assert_eq!(put.status(), StatusCode::NO_CONTENT);
        // Read twice: the second read comes from the cache, and is just as current.
        assert_eq!(claims(&server, &tenant, &client).await["plan"], plan);
        assert_eq!(claims(&server, &tenant, &client).await["plan"], plan);
    }
    assert_eq!(admin(&server, &tenant, Method::DELETE, kv, None).await.status(), StatusCode::NO_CONTENT);
    assert!(claims(&server, &tenant, &client).await.get("plan").is_none());

    // Every one of those calls left a record, however many are written in one batch.
    for _ in 0..150 {
        expect_status(server.token(&tenant, &client).await.unwrap(), StatusCode::OK).await.unwrap();
    }
    let metrics = admin_ok(&server, &tenant, Method::GET, "/extensions/extension/metrics", None).await;
    assert_eq!(metrics["count"], 156, "{metrics}");
}
}
