//! The token endpoint, discovery and JWKS, with and without an extension.

use keyhaven_tests::{TestClient, TestServer, expect_problem, expect_status, guests};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

db_test! {
async fn extension_claims_reach_a_token_that_verifies_against_the_tenant_jwks() {
    let server = TestServer::start().await.unwrap();
    let tenant = server.create_tenant("claims").await.unwrap();
    let client = server
        .create_client(&tenant, json!({"name": "billing", "attributes": {"org": "acme", "roles": ["reader", "writer"]}, "scopes": ["invoices:read"]}))
        .await
        .unwrap();
    let deployment = server.deploy(&tenant, guests::CUSTOM_CLAIMS).await.unwrap();
    assert_eq!(deployment["hooks"], json!(["token-issuance"]));
    assert_eq!(deployment["state"], "ENABLED");

    let body = expect_status(server.token(&tenant, &client).await.unwrap(), StatusCode::OK).await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 86400);
    let claims = server.verify(&tenant, body["access_token"].as_str().unwrap(), &tenant.issuer).await.unwrap();

    assert_eq!(claims["org"], "acme");
    assert_eq!(claims["roles"], json!(["reader", "writer"]));
    assert_eq!(claims["issued_by_extension"], "custom-claims");
    assert_eq!(claims["sub"], client.client_id.as_str());
    assert_eq!(claims["client_id"], client.client_id.as_str());
    assert_eq!(claims["tenant"], tenant.id.as_str());
    assert_eq!(claims["scope"], "invoices:read");
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 86400);
    assert!(claims["jti"].as_str().is_some_and(|jti| jti.len() > 16));
}}

db_test! {
async fn without_an_extension_the_token_has_only_the_service_claims() {
    let server = TestServer::start().await.unwrap();
    let tenant = server.create_tenant("plain").await.unwrap();
    let client = server
        .create_client(
            &tenant,
            json!({"name": "c", "attributes": {"org": "acme"}, "audience": ["https://api.example.com"]}),
        )
        .await
        .unwrap();
    let body = expect_status(server.token(&tenant, &client).await.unwrap(), StatusCode::OK).await.unwrap();
    let claims =
        server.verify(&tenant, body["access_token"].as_str().unwrap(), "https://api.example.com").await.unwrap();
    let mut names: Vec<&String> = claims.as_object().unwrap().keys().collect();
    names.sort();
    assert_eq!(names, ["aud", "client_id", "exp", "iat", "iss", "jti", "scope", "sub", "tenant"]);
    assert_eq!(claims["aud"], "https://api.example.com");
}}

db_test! {
async fn client_secret_post_works_and_bad_credentials_are_invalid_client() {
    let server = TestServer::start().await.unwrap();
    let tenant = server.create_tenant("auth").await.unwrap();
    let client = server.create_client(&tenant, json!({"name": "c"})).await.unwrap();
    let endpoint = server.url(&format!("/t/{}/oauth2/token", tenant.name));

    let posted = server
        .http
        .post(&endpoint)
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &client.client_id),
            ("client_secret", &client.client_secret),
        ])
        .send()
        .await
        .unwrap();
    let body = expect_status(posted, StatusCode::OK).await.unwrap();
    server.verify(&tenant, body["access_token"].as_str().unwrap(), &tenant.issuer).await.unwrap();

    let wrong = server
        .http
        .post(&endpoint)
        .basic_auth(&client.client_id, Some("not-the-secret"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.headers()["www-authenticate"], "Basic realm=\"keyhaven\"");
    assert_eq!(wrong.headers()["cache-control"], "no-store");
    let body = expect_status(wrong, StatusCode::UNAUTHORIZED).await.unwrap();
    assert_eq!(body["error"], "invalid_client");

    let both = server
        .http
        .post(&endpoint)
        .basic_auth(&client.client_id, Some(&client.client_secret))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &client.client_id),
            ("client_secret", &client.client_secret),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(expect_status(both, StatusCode::BAD_REQUEST).await.unwrap()["error"], "invalid_request");
}}

db_test! {
async fn malformed_token_requests_get_rfc6749_errors() {
    let server = TestServer::start().await.unwrap();
    let tenant = server.create_tenant("errors").await.unwrap();
    let client = server.create_client(&tenant, json!({"name": "c", "scopes": ["a", "b"]})).await.unwrap();
    let endpoint = server.url(&format!("/t/{}/oauth2/token", tenant.name));
    let send = |form: Vec<(&'static str, &'static str)>| {
        server.http.post(&endpoint).basic_auth(&client.client_id, Some(&client.client_secret)).form(&form).send()
    };

    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (vec![], "invalid_request"),
        (vec![("grant_type", "password")], "unsupported_grant_type"),
        (vec![("grant_type", "client_credentials"), ("scope", "a c")], "invalid_scope"),
        (vec![("grant_type", "client_credentials"), ("grant_type", "client_credentials")], "invalid_request"),
    ];
    for (form, error) in cases {
        let body = expect_status(send(form.clone()).await.unwrap(), StatusCode::BAD_REQUEST).await.unwrap();
        assert_eq!(body["error"], error, "for {form:?}");
        assert!(body["error_description"].as_str().is_some_and(|d| !d.is_empty()));
    }

    let json_body = server
        .http
        .post(&endpoint)
        .basic_auth(&client.client_id, Some(&client.client_secret))
        .json(&json!({"grant_type": "client_credentials"}))
        .send()
        .await
        .unwrap();
    assert_eq!(expect_status(json_body, StatusCode::BAD_REQUEST).await.unwrap()["error"], "invalid_request");

    let narrowed =
        expect_status(send(vec![("grant_type", "client_credentials"), ("scope", "b")]).await.unwrap(), StatusCode::OK)
            .await
            .unwrap();
    assert_eq!(narrowed["scope"], "b");

    let unknown = server
        .http
        .post(server.url("/t/no-such-tenant/oauth2/token"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(expect_status(unknown, StatusCode::NOT_FOUND).await.unwrap()["error"], "invalid_request");
}}

db_test! {
async fn discovery_names_the_tenant_issuer_and_its_endpoints() {
    let server = TestServer::start().await.unwrap();
    let tenant = server.create_tenant("disco").await.unwrap();
    let response = server
        .http
        .get(server.url(&format!("/t/{}/.well-known/openid-configuration", tenant.name)))
        .send()
        .await
        .unwrap();
    let metadata = expect_status(response, StatusCode::OK).await.unwrap();
    assert_eq!(metadata["issuer"], tenant.issuer.as_str());
    assert_eq!(metadata["token_endpoint"], format!("{}/oauth2/token", tenant.issuer));
    assert_eq!(metadata["jwks_uri"], format!("{}/jwks.json", tenant.issuer));
    assert_eq!(metadata["grant_types_supported"], json!(["authorization_code", "refresh_token", "client_credentials"]));
    assert_eq!(metadata["authorization_endpoint"], format!("{}/oauth2/authorize", tenant.issuer));
    assert_eq!(metadata["userinfo_endpoint"], format!("{}/userinfo", tenant.issuer));
    assert_eq!(metadata["response_types_supported"], json!(["code"]));
    assert_eq!(metadata["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(metadata["authorization_response_iss_parameter_supported"], true);
    assert!(metadata["token_endpoint_auth_methods_supported"].as_array().unwrap().contains(&json!("none")));
    assert!(!metadata["introspection_endpoint_auth_methods_supported"].as_array().unwrap().contains(&json!("none")));

    let jwks =
        expect_status(server.http.get(metadata["jwks_uri"].as_str().unwrap()).send().await.unwrap(), StatusCode::OK)
            .await
            .unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["kty"], "EC");
    assert_eq!(keys[0]["alg"], "ES256");
    assert!(keys[0].get("d").is_none(), "the private key must never be published");
}}

db_test! {
async fn one_tenant_clients_and_tokens_mean_nothing_to_another() {
    let server = TestServer::start().await.unwrap();
    let a = server.create_tenant("iso-a").await.unwrap();
    let b = server.create_tenant("iso-b").await.unwrap();
    let client_a = server.create_client(&a, json!({"name": "a"})).await.unwrap();

    // Tenant A's client credentials at tenant B's token endpoint.
    let response = server.token(&b, &client_a).await.unwrap();
    let body = expect_status(response, StatusCode::UNAUTHORIZED).await.unwrap();
    assert_eq!(body["error"], "invalid_client");
    assert!(!body.to_string().contains(&a.name) && !body.to_string().contains(&a.id));

    // Tenant A's token does not verify with tenant B's keys.
    let token = expect_status(server.token(&a, &client_a).await.unwrap(), StatusCode::OK).await.unwrap();
    let token = token["access_token"].as_str().unwrap();
    let verified_at_b = server.verify(&b, token, &a.issuer).await;
    assert!(verified_at_b.is_err(), "a token of tenant A verified against tenant B's JWKS");

    let jwks_a: Value =
        server.http.get(server.url(&format!("/t/{}/jwks.json", a.name))).send().await.unwrap().json().await.unwrap();
    let jwks_b: Value =
        server.http.get(server.url(&format!("/t/{}/jwks.json", b.name))).send().await.unwrap().json().await.unwrap();
    assert_ne!(jwks_a["keys"][0]["kid"], jwks_b["keys"][0]["kid"]);
}}

db_test! {
async fn token_times_come_from_the_service_clock() {
    // 2096-10-02: far enough ahead that the token is still valid when verified today.
    let now = 4_000_000_000;
    let server = TestServer::start_at(now).await.unwrap();
    let tenant = server.create_tenant("clock").await.unwrap();
    let client = server.create_client(&tenant, json!({"name": "c"})).await.unwrap();
    let body = expect_status(server.token(&tenant, &client).await.unwrap(), StatusCode::OK).await.unwrap();
    let claims = server.verify(&tenant, body["access_token"].as_str().unwrap(), &tenant.issuer).await.unwrap();
    assert_eq!(claims["iat"], now);
    assert_eq!(claims["exp"], now + 86_400);

    // The lifetime is the tenant's setting.
    let short = server.create_tenant_with(json!({"name": keyhaven_tests::unique_name("short"), "settings": {"client_access_token_seconds": 600}})).await.unwrap();
    let client = server.create_client(&short, json!({"name": "c"})).await.unwrap();
    let body = expect_status(server.token(&short, &client).await.unwrap(), StatusCode::OK).await.unwrap();
    assert_eq!(body["expires_in"], 600);
    let claims = server.verify(&short, body["access_token"].as_str().unwrap(), &short.issuer).await.unwrap();
    assert_eq!(claims["exp"], now + 600);
}}

db_test! {
async fn client_secrets_rotate_without_downtime_and_client_states_follow_the_rules() {
    let server = TestServer::start().await.unwrap();
    let tenant = server.create_tenant("rotate").await.unwrap();
    let first = server.create_client(&tenant, json!({"name": "svc", "scopes": ["read"]})).await.unwrap();
    let with = |secret: &str| TestClient { client_id: first.client_id.clone(), client_secret: secret.to_owned() };
    let status = |secret: String| {
        let server = &server;
        let tenant = &tenant;
        let client = with(&secret);
        async move { server.token(tenant, &client).await.unwrap().status() }
    };
    let path = format!("/admin/v1/tenants/{}/clients/{}", tenant.name, first.client_id);
    let secret_path = format!("{path}/secret");
    let rotate = || server.call(Method::POST, &tenant.admin_token, &secret_path, None);

    let second = expect_status(rotate().await.unwrap(), StatusCode::CREATED).await.unwrap()["client_secret"].as_str().unwrap().to_owned();
    assert_eq!(status(first.client_secret.clone()).await, StatusCode::OK, "the previous secret still works");
    assert_eq!(status(second.clone()).await, StatusCode::OK);
    assert_eq!(server.get(&tenant.admin_token, &path).await.unwrap()["previous_secret_active"], true);
    let third = expect_status(rotate().await.unwrap(), StatusCode::CREATED).await.unwrap()["client_secret"].as_str().unwrap().to_owned();
    assert_eq!(status(first.client_secret.clone()).await, StatusCode::UNAUTHORIZED, "at most two secrets are active");
    assert_eq!(status(second.clone()).await, StatusCode::OK);
    let retired = server.call(Method::DELETE, &tenant.admin_token, &format!("{path}/secret/previous"), None).await.unwrap();
    assert_eq!(retired.status(), StatusCode::NO_CONTENT);
    assert_eq!(status(second.clone()).await, StatusCode::UNAUTHORIZED);
    assert_eq!(status(third.clone()).await, StatusCode::OK);
    let again = server.call(Method::DELETE, &tenant.admin_token, &format!("{path}/secret/previous"), None).await.unwrap();
    expect_problem(again, StatusCode::NOT_FOUND).await.unwrap();

    // States: the tenant's administrator disables and re-enables; locking is the operator's.
    let patch = |token: String, body: Value| {
        let path = path.clone();
        let server = &server;
        async move { server.call(Method::PATCH, &token, &path, Some(body)).await }
    };
    let admin_token = tenant.admin_token.clone();
    let root_token = server.root_token.clone();
    expect_status(patch(admin_token.clone(), json!({"state": "DISABLED"})).await.unwrap(), StatusCode::OK).await.unwrap();
    assert_eq!(status(third.clone()).await, StatusCode::UNAUTHORIZED);
    expect_problem(patch(admin_token.clone(), json!({"state": "LOCKED"})).await.unwrap(), StatusCode::FORBIDDEN).await.unwrap();
    expect_status(patch(root_token.clone(), json!({"state": "LOCKED"})).await.unwrap(), StatusCode::OK).await.unwrap();
    expect_problem(patch(admin_token.clone(), json!({"state": "ENABLED"})).await.unwrap(), StatusCode::FORBIDDEN).await.unwrap();
    expect_status(patch(root_token.clone(), json!({"state": "ENABLED"})).await.unwrap(), StatusCode::OK).await.unwrap();
    assert_eq!(status(third.clone()).await, StatusCode::OK);
    expect_problem(patch(admin_token.clone(), json!({"scopes": ["bad scope"]})).await.unwrap(), StatusCode::BAD_REQUEST).await.unwrap();
    assert_eq!(server.get(&tenant.admin_token, &path).await.unwrap()["scopes"], json!(["read"]), "a refused change writes nothing");

    let events = server.get(&tenant.admin_token, &format!("/admin/v1/tenants/{}/events", tenant.name)).await.unwrap();
    let text = events.to_string();
    for secret in [&first.client_secret, &second, &third] {
        assert!(!text.contains(secret.as_str()), "no secret in any event");
    }
    let actions: Vec<&str> = events.as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions.iter().filter(|a| **a == "client.secret_rotated").count(), 2);
    assert_eq!(actions.iter().filter(|a| **a == "client.updated").count(), 3, "disabled, locked, enabled");
    let disabled = events.as_array().unwrap().iter().rev().find(|e| e["action"] == "client.updated").unwrap();
    assert_eq!(disabled["detail"]["added"], json!({"state": "DISABLED"}));
    assert_eq!(disabled["detail"]["removed"], json!({"state": "ENABLED"}));
}
}

db_test! {
async fn signing_keys_rotate_on_demand_and_on_schedule_and_a_retired_key_stays_published_until_its_tokens_expire() {
    use std::sync::Arc;

    use keyhaven::clock::ManualClock;
    let clock = Arc::new(ManualClock::new(1_800_000_000));
    let server = TestServer::start_with_clock(clock.clone()).await.unwrap();
    let tenant = server.create_tenant("rotation").await.unwrap();
    let client = server.create_client(&tenant, json!({"name": "c"})).await.unwrap();
    let access_token = || async {
        let body = expect_status(server.token(&tenant, &client).await.unwrap(), StatusCode::OK).await.unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    };
    let kid_of = |token: &str| jsonwebtoken::decode_header(token).unwrap().kid.unwrap();
    let published = || async {
        let jwks = server.http.get(server.url(&format!("/t/{}/jwks.json", tenant.name))).send().await.unwrap();
        let jwks: Value = jwks.json().await.unwrap();
        jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_owned()).collect::<Vec<_>>()
    };
    let keys_path = format!("/admin/v1/tenants/{}/keys", tenant.name);
    let first = access_token().await;
    let keys = server.get(&tenant.admin_token, &keys_path).await.unwrap();
    assert_eq!(keys, json!([{"kid": kid_of(&first), "algorithm": "ES256", "state": "ENABLED", "created_at": 1_800_000_000, "published_until": null}]));
    assert!(!keys.to_string().contains("private"), "no private material");

    // On demand: a new key signs at once; the old one stays published for the longest
    // token lifetime (a client's access token: one day), so its tokens still verify.
    let rotated = server.call(Method::POST, &tenant.admin_token, &format!("{keys_path}/rotate"), None).await.unwrap();
    let rotated = expect_status(rotated, StatusCode::CREATED).await.unwrap();
    let new_kid = rotated["kid"].as_str().unwrap().to_owned();
    assert_ne!(new_kid, kid_of(&first));
    let second = access_token().await;
    assert_eq!(kid_of(&second), new_kid, "this node forgot its cached key");
    assert_eq!(published().await, [new_kid.clone(), kid_of(&first)]);
    server.verify(&tenant, &first, &tenant.issuer).await.unwrap();
    server.verify(&tenant, &second, &tenant.issuer).await.unwrap();
    let keys = server.get(&tenant.admin_token, &keys_path).await.unwrap();
    assert_eq!(keys[1]["state"], "DISABLED");
    assert_eq!(keys[1]["published_until"], 1_800_000_000 + 86_400);

    // A day later the old key's tokens have expired: maintenance removes it.
    clock.advance(86_400);
    let report = server.state.run_maintenance().await.unwrap().unwrap();
    assert_eq!((report.keys_rotated, report.keys_removed), (0, 1), "{report:?}");
    assert_eq!(published().await, std::slice::from_ref(&new_kid));

    // On schedule: after the tenant's rotation period.
    let patched = server.call(Method::PATCH, &tenant.admin_token, &format!("/admin/v1/tenants/{}", tenant.name), Some(json!({"settings": {"signing_key_rotation_days": 1}}))).await.unwrap();
    expect_status(patched, StatusCode::OK).await.unwrap();
    clock.advance(1);
    let report = server.state.run_maintenance().await.unwrap().unwrap();
    assert_eq!(report.keys_rotated, 1, "{report:?}");
    let third = access_token().await;
    assert!(kid_of(&third) != new_kid && kid_of(&third) != kid_of(&first));
    assert_eq!(published().await, [kid_of(&third), new_kid]);
    let events = server.get(&tenant.admin_token, &format!("/admin/v1/tenants/{}/events", tenant.name)).await.unwrap();
    let reasons: Vec<&str> = events.as_array().unwrap().iter().filter(|e| e["action"] == "key.rotated").map(|e| e["reason"].as_str().unwrap()).collect();
    assert_eq!(reasons, ["scheduled", "on-demand"]);

    // A change of algorithm whose rotation did not happen (written here behind the API's
    // back) is finished by the next maintenance pass.
    let mut stored = server.state.db.tenant_by_name(&tenant.name).await.unwrap().unwrap();
    stored.settings.signing_algorithm = "EdDSA".into();
    stored.settings_changed.insert("signing_algorithm".into(), json!("EdDSA"));
    assert!(server.state.db.update_tenant(&stored, None).await.unwrap());
    let report = server.state.run_maintenance().await.unwrap().unwrap();
    assert_eq!(report.keys_rotated, 1, "{report:?}");
    assert_eq!(jsonwebtoken::decode_header(&access_token().await).unwrap().alg, jsonwebtoken::Algorithm::EdDSA);
    let report = server.state.run_maintenance().await.unwrap().unwrap();
    assert_eq!(report.keys_rotated, 0, "once the key is of the tenant's algorithm, nothing more is due");

    // Another tenant's administrator can neither see nor rotate these keys.
    let other = server.create_tenant("rotation-other").await.unwrap();
    let foreign = server.call(Method::POST, &other.admin_token, &format!("{keys_path}/rotate"), None).await.unwrap();
    expect_problem(foreign, StatusCode::NOT_FOUND).await.unwrap();
    let bad = server.call(Method::PATCH, &tenant.admin_token, &format!("/admin/v1/tenants/{}", tenant.name), Some(json!({"settings": {"signing_key_rotation_days": 0}}))).await.unwrap();
    expect_problem(bad, StatusCode::BAD_REQUEST).await.unwrap();
}
}

db_test! {
async fn each_tenant_signs_with_its_algorithm_and_a_new_algorithm_rotates_the_key() {
    let server = TestServer::start().await.unwrap();
    for algorithm in ["EdDSA", "RS256", "ES256"] {
        let name = keyhaven_tests::unique_name(&algorithm.to_lowercase());
        let tenant = server.create_tenant_with(json!({"name": name, "settings": {"signing_algorithm": algorithm}})).await.unwrap();
        let client = server.create_client(&tenant, json!({"name": "c"})).await.unwrap();
        let body = expect_status(server.token(&tenant, &client).await.unwrap(), StatusCode::OK).await.unwrap();
        let token = body["access_token"].as_str().unwrap();
        assert_eq!(format!("{:?}", jsonwebtoken::decode_header(token).unwrap().alg), algorithm);
        // jsonwebtoken verifies it against the published key, of the matching type.
        let claims = server.verify(&tenant, token, &tenant.issuer).await.unwrap();
        assert_eq!(claims["sub"], client.client_id.as_str());
        let metadata = server.get(&tenant.admin_token, &format!("/t/{}/.well-known/openid-configuration", tenant.name)).await.unwrap();
        assert_eq!(metadata["id_token_signing_alg_values_supported"], json!([algorithm]));
    }

    // Changing the algorithm rotates at once; the old key's tokens still verify.
    let tenant = server.create_tenant("switch").await.unwrap();
    let client = server.create_client(&tenant, json!({"name": "c"})).await.unwrap();
    let before = expect_status(server.token(&tenant, &client).await.unwrap(), StatusCode::OK).await.unwrap();
    let before = before["access_token"].as_str().unwrap().to_owned();
    let changed = server.call(Method::PATCH, &tenant.admin_token, &format!("/admin/v1/tenants/{}", tenant.name), Some(json!({"settings": {"signing_algorithm": "EdDSA"}}))).await.unwrap();
    expect_status(changed, StatusCode::OK).await.unwrap();
    let after = expect_status(server.token(&tenant, &client).await.unwrap(), StatusCode::OK).await.unwrap();
    let after = after["access_token"].as_str().unwrap().to_owned();
    assert_eq!(jsonwebtoken::decode_header(&after).unwrap().alg, jsonwebtoken::Algorithm::EdDSA);
    server.verify(&tenant, &before, &tenant.issuer).await.unwrap();
    server.verify(&tenant, &after, &tenant.issuer).await.unwrap();
    let keys = server.get(&tenant.admin_token, &format!("/admin/v1/tenants/{}/keys", tenant.name)).await.unwrap();
    let algorithms: Vec<&str> = keys.as_array().unwrap().iter().map(|k| k["algorithm"].as_str().unwrap()).collect();
    assert_eq!(algorithms, ["EdDSA", "ES256"]);
    // A resource server of the tenant introspects both kinds.
    let api = server.create_client(&tenant, json!({"name": "api"})).await.unwrap();
    for token in [&before, &after] {
        let response = server.http.post(server.url(&format!("/t/{}/oauth2/introspect", tenant.name)))
            .basic_auth(&api.client_id, Some(&api.client_secret)).form(&[("token", token.as_str())]).send().await.unwrap();
        assert_eq!(expect_status(response, StatusCode::OK).await.unwrap()["active"], true);
    }
}
}

db_test! {
async fn each_tenant_has_its_own_request_rate_for_tokens_and_logins() {
    use std::sync::Arc;

    use keyhaven::clock::ManualClock;
    let clock = Arc::new(ManualClock::new(1_800_000_000));
    let server = TestServer::start_with_clock(clock.clone()).await.unwrap();
    let tenant = server.create_tenant("rate").await.unwrap();
    let other = server.create_tenant("rate-other").await.unwrap();
    let client = server.create_client(&tenant, json!({"name": "c"})).await.unwrap();
    let other_client = server.create_client(&other, json!({"name": "c"})).await.unwrap();
    let limits = format!("/admin/v1/tenants/{}/limits", tenant.name);
    let bad = server.call(Method::PUT, &server.root_token, &limits, Some(json!({"overrides": {"token_burst": 0}}))).await.unwrap();
    expect_problem(bad, StatusCode::BAD_REQUEST).await.unwrap();
    let overrides = json!({"overrides": {"token_requests_per_second": 2, "token_burst": 3, "login_requests_per_second": 1, "login_burst": 2}});
    let set = server.call(Method::PUT, &server.root_token, &limits, Some(overrides)).await.unwrap();
    assert!(set.status().is_success(), "{}", set.status());

    // The burst, then 429 with Retry-After; another tenant is not affected; time refills.
    for _ in 0..3 {
        assert_eq!(server.token(&tenant, &client).await.unwrap().status(), StatusCode::OK);
    }
    let refused = server.token(&tenant, &client).await.unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.headers()["retry-after"], "1");
    assert_eq!(refused.json::<Value>().await.unwrap()["error"], "temporarily_unavailable");
    assert_eq!(server.token(&other, &other_client).await.unwrap().status(), StatusCode::OK);
    clock.advance(1);
    for expected in [StatusCode::OK, StatusCode::OK, StatusCode::TOO_MANY_REQUESTS] {
        assert_eq!(server.token(&tenant, &client).await.unwrap().status(), expected, "two a second");
    }

    // Introspection and revocation draw on the same bucket as the token endpoint.
    for endpoint in ["introspect", "revoke"] {
        let refused = server.http.post(server.url(&format!("/t/{}/oauth2/{endpoint}", tenant.name)))
            .basic_auth(&client.client_id, Some(&client.client_secret)).form(&[("token", "x")]).send().await.unwrap();
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS, "{endpoint}");
        assert_eq!(refused.json::<Value>().await.unwrap()["error"], "temporarily_unavailable");
    }

    // The login endpoints have their own bucket, shared by every human endpoint.
    let login = || server.http.post(server.url(&format!("/t/{}/login", tenant.name))).json(&json!({"username": "nobody"})).send();
    for _ in 0..2 {
        assert_eq!(login().await.unwrap().status(), StatusCode::CREATED);
    }
    let refused = login().await.unwrap();
    assert_eq!(refused.headers()["retry-after"], "1");
    let problem = expect_problem(refused, StatusCode::TOO_MANY_REQUESTS).await.unwrap();
    assert_eq!(problem["type"], "urn:keyhaven:problem:rate-limited");
    let register = server.http.post(server.url(&format!("/t/{}/register", tenant.name)))
        .json(&json!({"username": "new", "password": "a long enough passphrase"})).send().await.unwrap();
    expect_problem(register, StatusCode::TOO_MANY_REQUESTS).await.unwrap();
    clock.advance(1);
    assert_eq!(login().await.unwrap().status(), StatusCode::CREATED, "a second later, one more");
}
}
