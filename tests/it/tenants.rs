//! Tenant lifecycle and administration: settings with their defaults and bounds, colour,
//! tags, sub-tenants, the default tenant; state changes by the operator and the cascade to
//! sub-tenants (no token, no administrator token, back when re-enabled); events of every
//! change; the audit log of admin calls; monthly usage.

use keyhaven_tests::{TestServer, TestTenant, expect_problem, expect_status, unique_name};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn patch(server: &TestServer, token: &str, tenant: &str, body: Value) -> reqwest::Response {
    server.call(Method::PATCH, token, &format!("/admin/v1/tenants/{tenant}"), Some(body)).await.unwrap()
}

async fn token_status(server: &TestServer, tenant: &TestTenant) -> StatusCode {
    let client = server.create_client(tenant, json!({"name": "c"})).await;
    // A client made while the tenant could still be administered, then asked for a token.
    match client {
        Ok(client) => server.token(tenant, &client).await.unwrap().status(),
        Err(_) => StatusCode::FORBIDDEN,
    }
}

db_test! {
async fn settings_colour_tags_and_sub_tenants_are_validated_and_stored() {
    let server = TestServer::start().await.unwrap();
    let parent_name = unique_name("parent");
    let parent = server
        .create_tenant_with(json!({
            "name": parent_name, "label": "Parent", "colour": "#1A2B3C", "tags": {"env": "prod"},
            "settings": {"session_idle_seconds": 600},
        }))
        .await
        .unwrap();
    let shown = server.get(&parent.admin_token, &format!("/admin/v1/tenants/{}", parent.name)).await.unwrap();
    assert_eq!(shown["colour"], "#1a2b3c");
    assert_eq!(shown["tags"], json!({"env": "prod"}));
    assert_eq!(shown["settings"]["session_idle_seconds"], 600);
    assert_eq!(shown["settings"]["stay_signed_in_seconds"], 14 * 86_400, "defaults fill the rest");
    assert_eq!(shown["settings"]["client_access_token_seconds"], 86_400);
    assert_eq!(shown["state"], "ENABLED");
    assert_eq!(shown["effective_state"], "ENABLED");
    assert_eq!(shown["parent_id"], Value::Null);

    let child = server
        .create_tenant_with(json!({"name": unique_name("child"), "parent": parent.name}))
        .await
        .unwrap();
    let shown = server.get(&server.root_token, &format!("/admin/v1/tenants/{}", child.name)).await.unwrap();
    assert_eq!(shown["parent_id"], parent.id.as_str());

    // Refused, each with a clear 4xx and nothing created.
    let create = |body: Value| server.http.post(server.url("/admin/v1/tenants")).bearer_auth(&server.root_token).json(&body).send();
    for (body, status, says) in [
        (json!({"name": unique_name("c"), "colour": "red"}), StatusCode::BAD_REQUEST, "colour"),
        (json!({"name": unique_name("s"), "settings": {"account_inactivity_days": 401}}), StatusCode::BAD_REQUEST, "account_inactivity_days"),
        (json!({"name": unique_name("s"), "settings": {"no_such_setting": 1}}), StatusCode::BAD_REQUEST, "no_such_setting"),
        (json!({"name": unique_name("t"), "tags": {"Bad Key": "x"}}), StatusCode::BAD_REQUEST, "tag key"),
        (json!({"name": unique_name("p"), "parent": "no-such-tenant"}), StatusCode::BAD_REQUEST, "no tenant named"),
        (json!({"name": unique_name("g"), "parent": child.name}), StatusCode::CONFLICT, "sub-tenant"),
        (json!({"name": parent.name}), StatusCode::CONFLICT, "already exists"),
    ] {
        let problem = expect_problem(create(body.clone()).await.unwrap(), status).await.unwrap();
        assert!(problem["detail"].as_str().unwrap().contains(says), "{body}: {problem}");
    }
    let names: Vec<Value> = server.get(&server.root_token, "/admin/v1/tenants").await.unwrap().as_array().unwrap().iter().map(|t| t["name"].clone()).collect();
    assert_eq!(names.len(), 2, "only the two tenants exist: {names:?}");

    // The tenant's administrator changes label, colour, tags and settings; null restores a default.
    let changed = patch(&server, &parent.admin_token, &parent.name, json!({
        "label": "Parent Co", "tags": {"env": "staging"}, "settings": {"session_idle_seconds": null, "id_token_seconds": 900},
    })).await;
    let changed = expect_status(changed, StatusCode::OK).await.unwrap();
    assert_eq!(changed["label"], "Parent Co");
    assert_eq!(changed["tags"], json!({"env": "staging"}));
    assert_eq!(changed["settings"]["session_idle_seconds"], 1800);
    assert_eq!(changed["settings"]["id_token_seconds"], 900);
    let bad = patch(&server, &parent.admin_token, &parent.name, json!({"settings": {"id_token_seconds": 1}})).await;
    expect_problem(bad, StatusCode::BAD_REQUEST).await.unwrap();
    let still = server.get(&parent.admin_token, &format!("/admin/v1/tenants/{}", parent.name)).await.unwrap();
    assert_eq!(still["settings"]["id_token_seconds"], 900, "a refused change writes nothing");
    // ... but not its state, nor the default flag: those are the operator's.
    for body in [json!({"state": "DISABLED"}), json!({"default": true})] {
        let refused = patch(&server, &parent.admin_token, &parent.name, body).await;
        expect_problem(refused, StatusCode::FORBIDDEN).await.unwrap();
    }
    // Another tenant's administrator cannot even see it.
    let refused = patch(&server, &child.admin_token, &parent.name, json!({"label": "x"})).await;
    expect_problem(refused, StatusCode::NOT_FOUND).await.unwrap();
}
}

db_test! {
async fn exactly_one_tenant_is_the_default() {
    let server = TestServer::start().await.unwrap();
    let first = server.create_tenant_with(json!({"name": unique_name("a"), "default": true})).await.unwrap();
    let second = server.create_tenant("b").await.unwrap();
    let default_of = |tenants: &Value| -> Vec<String> {
        tenants.as_array().unwrap().iter().filter(|t| t["default"] == true).map(|t| t["name"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(default_of(&server.get(&server.root_token, "/admin/v1/tenants").await.unwrap()), [first.name.as_str()]);
    let moved = patch(&server, &server.root_token, &second.name, json!({"default": true})).await;
    expect_status(moved, StatusCode::OK).await.unwrap();
    assert_eq!(default_of(&server.get(&server.root_token, "/admin/v1/tenants").await.unwrap()), [second.name.as_str()]);
}
}

db_test! {
async fn a_tenant_that_is_not_enabled_locks_itself_and_its_sub_tenants_until_re_enabled() {
    let server = TestServer::start().await.unwrap();
    let parent = server.create_tenant("parent").await.unwrap();
    let child = server.create_tenant_with(json!({"name": unique_name("child"), "parent": parent.name})).await.unwrap();
    let other = server.create_tenant("other").await.unwrap();
    let clients: Vec<_> = futures_clients(&server, [&parent, &child, &other]).await;
    for (tenant, client) in [&parent, &child, &other].iter().zip(&clients) {
        assert_eq!(server.token(tenant, client).await.unwrap().status(), StatusCode::OK);
    }

    for stopped in ["DISABLED", "LOCKED"] {
        let changed = patch(&server, &server.root_token, &parent.name, json!({"state": stopped})).await;
        let changed = expect_status(changed, StatusCode::OK).await.unwrap();
        assert_eq!(changed["state"], stopped);
        // No token, no administrator token, no discovery — for the tenant and its sub-tenant.
        for (tenant, client) in [(&parent, &clients[0]), (&child, &clients[1])] {
            let refused = server.token(tenant, client).await.unwrap();
            assert_eq!(refused.status(), StatusCode::UNAUTHORIZED, "{stopped}: {}", tenant.name);
            let admin = server.call(Method::GET, &tenant.admin_token, &format!("/admin/v1/tenants/{}/clients", tenant.name), None).await.unwrap();
            expect_problem(admin, StatusCode::FORBIDDEN).await.unwrap();
            let discovery = server.http.get(server.url(&format!("/t/{}/.well-known/openid-configuration", tenant.name))).send().await.unwrap();
            assert_eq!(discovery.status(), StatusCode::NOT_FOUND);
        }
        let shown = server.get(&server.root_token, &format!("/admin/v1/tenants/{}", child.name)).await.unwrap();
        assert_eq!(shown["state"], "ENABLED", "the sub-tenant's own state is unchanged");
        assert_eq!(shown["effective_state"], "LOCKED");
        // Another tenant is untouched.
        assert_eq!(server.token(&other, &clients[2]).await.unwrap().status(), StatusCode::OK);
        // The tenant's own administrators cannot lift it.
        let lift = patch(&server, &parent.admin_token, &parent.name, json!({"state": "ENABLED"})).await;
        expect_problem(lift, StatusCode::FORBIDDEN).await.unwrap();

        let enabled = patch(&server, &server.root_token, &parent.name, json!({"state": "ENABLED"})).await;
        expect_status(enabled, StatusCode::OK).await.unwrap();
        for (tenant, client) in [(&parent, &clients[0]), (&child, &clients[1])] {
            assert_eq!(server.token(tenant, client).await.unwrap().status(), StatusCode::OK, "back after {stopped}");
        }
        assert_eq!(token_status(&server, &child).await, StatusCode::OK);
    }
    let pending = patch(&server, &server.root_token, &parent.name, json!({"state": "PENDING"})).await;
    expect_problem(pending, StatusCode::BAD_REQUEST).await.unwrap();
}
}

async fn futures_clients<const N: usize>(
    server: &TestServer,
    tenants: [&TestTenant; N],
) -> Vec<keyhaven_tests::TestClient> {
    let mut clients = Vec::new();
    for tenant in tenants {
        clients.push(server.create_client(tenant, json!({"name": "app"})).await.unwrap());
    }
    clients
}

db_test! {
async fn every_change_writes_an_event_with_what_was_added_and_removed() {
    let server = TestServer::start().await.unwrap();
    let tenant = server.create_tenant("events").await.unwrap();
    let changed = patch(&server, &tenant.admin_token, &tenant.name, json!({"label": "New label", "colour": "#abcdef"})).await;
    expect_status(changed, StatusCode::OK).await.unwrap();
    let unchanged = patch(&server, &tenant.admin_token, &tenant.name, json!({"label": "New label"})).await;
    expect_status(unchanged, StatusCode::OK).await.unwrap();
    let disabled = patch(&server, &server.root_token, &tenant.name, json!({"state": "DISABLED"})).await;
    expect_status(disabled, StatusCode::OK).await.unwrap();

    let events = server.get(&server.root_token, &format!("/admin/v1/tenants/{}/events", tenant.name)).await.unwrap();
    let actions: Vec<&str> = events.as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["tenant.state_changed", "tenant.updated", "tenant.created"], "newest first, none for a no-op");
    let updated = &events[1];
    assert_eq!(updated["category"], "resource-change");
    assert_eq!(updated["detail"]["added"], json!({"label": "New label", "colour": "#abcdef"}));
    assert_eq!(updated["detail"]["removed"]["label"], format!("Test tenant {}", tenant.name));
    assert_eq!(updated["detail"]["removed"]["colour"], "");
    assert_eq!(events[0]["detail"], json!({"added": {"state": "DISABLED"}, "removed": {"state": "ENABLED"}}));
}
}

db_test! {
async fn every_admin_call_is_audited_and_counted_in_the_tenants_usage() {
    let server = TestServer::start().await.unwrap();
    let tenant = server.create_tenant("audited").await.unwrap();
    let other = server.create_tenant("bystander").await.unwrap();
    let client = server.create_client(&tenant, json!({"name": "app"})).await.unwrap();
    let clients = format!("/admin/v1/tenants/{}/clients", tenant.name);
    server.get(&tenant.admin_token, &clients).await.unwrap();
    let anonymous = server.http.get(server.url(&clients)).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let missing = server.call(Method::GET, &tenant.admin_token, &format!("{clients}/cl_missing"), None).await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    for _ in 0..2 {
        assert_eq!(server.token(&tenant, &client).await.unwrap().status(), StatusCode::OK);
    }

    // Another tenant's administrator probing this tenant is not in this tenant's log.
    let probe = server.call(Method::GET, &other.admin_token, &clients, None).await.unwrap();
    assert_eq!(probe.status(), StatusCode::NOT_FOUND);

    let audit = server.get(&tenant.admin_token, &format!("/admin/v1/tenants/{}/audit", tenant.name)).await.unwrap();
    let entries = audit.as_array().unwrap();
    let line = |e: &Value| format!("{} {} {} {}", e["role"].as_str().unwrap(), e["action"].as_str().unwrap(), e["status"], e["result"].as_str().unwrap());
    let lines: Vec<String> = entries.iter().map(line).collect();
    assert_eq!(
        lines[..4],
        [
            "tenant-admin GET /admin/v1/tenants/{tenant}/clients/{client_id} 404 failed".to_owned(),
            "anonymous GET /admin/v1/tenants/{tenant}/clients 401 failed".to_owned(),
            "tenant-admin GET /admin/v1/tenants/{tenant}/clients 200 success".to_owned(),
            "tenant-admin POST /admin/v1/tenants/{tenant}/clients 201 success".to_owned(),
        ],
        "{lines:#?}"
    );
    assert!(entries.iter().all(|e| e["tenant_id"] == tenant.id.as_str()));
    assert!(entries[0]["actor"].as_str().unwrap().starts_with("pat_"));
    assert_eq!(entries[0]["target"], format!("{clients}/cl_missing"));
    let theirs = server.get(&other.admin_token, &format!("/admin/v1/tenants/{}/audit", other.name)).await.unwrap();
    assert!(theirs.as_array().unwrap().iter().all(|e| e["tenant_id"] == other.id.as_str()), "no other tenant's entries");
    assert!(entries.iter().all(|e| e["on_behalf"] == false), "the tenant's own calls");
    let all = server.get(&server.root_token, "/admin/v1/audit").await.unwrap();
    let created = all.as_array().unwrap().iter().find(|e| e["action"] == "POST /admin/v1/tenants" && e["role"] == "operator");
    assert_eq!(created.unwrap()["on_behalf"], false, "creating a tenant is the operator's own act");
    let refused = server.call(Method::GET, &tenant.admin_token, "/admin/v1/audit", None).await.unwrap();
    expect_problem(refused, StatusCode::FORBIDDEN).await.unwrap();

    // Usage: the successful calls so far (create client, list clients, the audit read), and
    // the one client that obtained tokens.
    let usage = server.get(&tenant.admin_token, &format!("/admin/v1/tenants/{}/usage", tenant.name)).await.unwrap();
    assert_eq!(usage["monthly_api_calls"], 3, "{usage}");
    assert_eq!(usage["monthly_active_accounts"], 1, "{usage}");
    assert_eq!(usage["month"].as_str().unwrap().len(), 7);
    let bad = server.call(Method::GET, &tenant.admin_token, &format!("/admin/v1/tenants/{}/usage?month=2026-13", tenant.name), None).await.unwrap();
    expect_problem(bad, StatusCode::BAD_REQUEST).await.unwrap();
    let earlier = server.get(&tenant.admin_token, &format!("/admin/v1/tenants/{}/usage?month=2001-01", tenant.name)).await.unwrap();
    assert_eq!(earlier, json!({"month": "2001-01", "monthly_active_accounts": 0, "monthly_api_calls": 0}));

    // The operator acting within the tenant is in the tenant's log, marked as such.
    server.get(&server.root_token, &clients).await.unwrap();
    let audit = server.get(&tenant.admin_token, &format!("/admin/v1/tenants/{}/audit", tenant.name)).await.unwrap();
    let operator = &audit.as_array().unwrap()[0];
    assert_eq!((operator["role"].as_str(), operator["on_behalf"].as_bool()), (Some("operator"), Some(true)), "{audit}");
    assert_eq!(operator["tenant_id"], tenant.id.as_str());
}
}

db_test! {
async fn administrators_issue_viewer_and_administrator_tokens_and_viewers_only_read() {
    let clock = std::sync::Arc::new(keyhaven::clock::ManualClock::new(1_800_000_000));
    let server = TestServer::start_with_clock(clock.clone()).await.unwrap();
    let tenant = server.create_tenant("tokens").await.unwrap();
    let other = server.create_tenant("elsewhere").await.unwrap();
    let tokens = format!("/admin/v1/tenants/{}/tokens", tenant.name);
    let create = |body: Value| server.call(Method::POST, &tenant.admin_token, &tokens, Some(body));
    let viewer = expect_status(create(json!({"name": "dashboards", "role": "tenant-viewer"})).await.unwrap(), StatusCode::CREATED).await.unwrap();
    let viewer_token = viewer["token"].as_str().unwrap().to_owned();
    let second = expect_status(create(json!({"name": "ci", "role": "tenant-admin", "expires_in_days": 1})).await.unwrap(), StatusCode::CREATED).await.unwrap();
    let second_token = second["token"].as_str().unwrap().to_owned();
    for body in [json!({"name": "x", "role": "operator"}), json!({"name": "", "role": "tenant-admin"}), json!({"name": "x", "role": "tenant-admin", "expires_in_days": 0})] {
        expect_problem(create(body).await.unwrap(), StatusCode::BAD_REQUEST).await.unwrap();
    }
    let listed = server.get(&tenant.admin_token, &tokens).await.unwrap();
    let names: Vec<&str> = listed.as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["first administrator", "dashboards", "ci"]);
    assert!(!listed.to_string().contains(&viewer_token) && !listed.to_string().contains("sha256"));

    // A viewer reads its own tenant, changes nothing, and sees no other tenant.
    let clients = format!("/admin/v1/tenants/{}/clients", tenant.name);
    expect_status(server.call(Method::GET, &viewer_token, &clients, None).await.unwrap(), StatusCode::OK).await.unwrap();
    let write = server.call(Method::POST, &viewer_token, &clients, Some(json!({"name": "c"}))).await.unwrap();
    expect_problem(write, StatusCode::FORBIDDEN).await.unwrap();
    let rename = server.call(Method::PATCH, &viewer_token, &format!("/admin/v1/tenants/{}", tenant.name), Some(json!({"label": "x"}))).await.unwrap();
    expect_problem(rename, StatusCode::FORBIDDEN).await.unwrap();
    let elsewhere = server.call(Method::GET, &viewer_token, &format!("/admin/v1/tenants/{}/clients", other.name), None).await.unwrap();
    expect_problem(elsewhere, StatusCode::NOT_FOUND).await.unwrap();
    let other_tokens = server.call(Method::PATCH, &other.admin_token, &format!("/admin/v1/tenants/{}/tokens/{}", tenant.name, viewer["id"].as_str().unwrap()), Some(json!({"state": "DISABLED"}))).await.unwrap();
    expect_problem(other_tokens, StatusCode::NOT_FOUND).await.unwrap();

    // The second administrator disables the first; no token disables itself.
    let first_id = listed[0]["id"].as_str().unwrap().to_owned();
    let second_id = second["id"].as_str().unwrap().to_owned();
    let disable = |id: &str| format!("{tokens}/{id}");
    let body = || Some(json!({"state": "DISABLED"}));
    let own = server.call(Method::PATCH, &second_token, &disable(&second_id), body()).await.unwrap();
    expect_problem(own, StatusCode::CONFLICT).await.unwrap();
    let first = server.call(Method::PATCH, &second_token, &disable(&first_id), body()).await.unwrap();
    expect_status(first, StatusCode::OK).await.unwrap();
    let refused = server.call(Method::GET, &tenant.admin_token, &clients, None).await.unwrap();
    expect_problem(refused, StatusCode::UNAUTHORIZED).await.unwrap();
    // The second token expires after its day.
    clock.advance(86_401);
    let expired = server.call(Method::GET, &second_token, &clients, None).await.unwrap();
    expect_problem(expired, StatusCode::UNAUTHORIZED).await.unwrap();
    // The operator deletes the viewer's token.
    let deleted = server.call(Method::DELETE, &server.root_token, &format!("{tokens}/{}", viewer["id"].as_str().unwrap()), None).await.unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let gone = server.call(Method::GET, &viewer_token, &clients, None).await.unwrap();
    expect_problem(gone, StatusCode::UNAUTHORIZED).await.unwrap();
}
}
