//! The admin API: authentication, roles, tenant isolation and input validation.

use keyhaven_tests::{TestServer, expect_problem, expect_status, guests};
use reqwest::StatusCode;
use serde_json::{Value, json};

db_test! {
async fn calls_without_a_valid_token_are_unauthenticated() {
    let server = TestServer::start().await.unwrap();
    let url = server.url("/admin/v1/tenants");
    let none = server.http.get(&url).send().await.unwrap();
    assert_eq!(none.headers()["www-authenticate"], "Bearer");
    expect_problem(none, StatusCode::UNAUTHORIZED).await.unwrap();
    let wrong = server.http.get(&url).bearer_auth("khp_not-a-real-token").send().await.unwrap();
    expect_problem(wrong, StatusCode::UNAUTHORIZED).await.unwrap();
    let basic = server.http.get(&url).basic_auth("root", Some(&server.root_token)).send().await.unwrap();
    expect_problem(basic, StatusCode::UNAUTHORIZED).await.unwrap();
}}

db_test! {
async fn tenant_administrators_see_only_their_own_tenant() {
    let server = TestServer::start().await.unwrap();
    let a = server.create_tenant("adm-a").await.unwrap();
    let b = server.create_tenant("adm-b").await.unwrap();
    server.create_client(&b, json!({"name": "b-client"})).await.unwrap();

    // A's administrator cannot create tenants ...
    let create = server
        .http
        .post(server.url("/admin/v1/tenants"))
        .bearer_auth(&a.admin_token)
        .json(&json!({"name": "sneaky"}))
        .send()
        .await
        .unwrap();
    expect_problem(create, StatusCode::FORBIDDEN).await.unwrap();

    // ... lists only its own tenant ...
    let list = server.http.get(server.url("/admin/v1/tenants")).bearer_auth(&a.admin_token).send().await.unwrap();
    let list = expect_status(list, StatusCode::OK).await.unwrap();
    let names: Vec<&str> = list.as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, [a.name.as_str()]);

    // ... and is told B does not exist, wherever it looks.
    for path in ["", "/clients", "/extensions", "/clients/anything", "/extensions/anything"] {
        let response = server
            .http
            .get(server.url(&format!("/admin/v1/tenants/{}{path}", b.name)))
            .bearer_auth(&a.admin_token)
            .send()
            .await
            .unwrap();
        let body = expect_problem(response, StatusCode::NOT_FOUND).await.unwrap();
        assert_eq!(body["detail"], "tenant not found", "{path}");
    }
    let post = server
        .http
        .post(server.url(&format!("/admin/v1/tenants/{}/clients", b.name)))
        .bearer_auth(&a.admin_token)
        .json(&json!({"name": "intruder"}))
        .send()
        .await
        .unwrap();
    expect_problem(post, StatusCode::NOT_FOUND).await.unwrap();
    let component = guests::bytes(guests::CUSTOM_CLAIMS);
    let deploy = server.upload_as(&a.admin_token, &b.name, "", "application/wasm", component).await.unwrap();
    expect_problem(deploy, StatusCode::NOT_FOUND).await.unwrap();

    // The operator sees both.
    let list = server.http.get(server.url("/admin/v1/tenants")).bearer_auth(&server.root_token).send().await.unwrap();
    assert!(expect_status(list, StatusCode::OK).await.unwrap().as_array().unwrap().len() >= 2);
}}

db_test! {
async fn tenant_names_are_validated_and_unique() {
    let server = TestServer::start().await.unwrap();
    let create = |body: Value| {
        server.http.post(server.url("/admin/v1/tenants")).bearer_auth(&server.root_token).json(&body).send()
    };
    for name in ["", "Acme", "acme_corp", "acme.com", "-acme", "acme-", &"a".repeat(64)] {
        let body = expect_problem(create(json!({"name": name})).await.unwrap(), StatusCode::BAD_REQUEST).await.unwrap();
        assert!(body["detail"].as_str().unwrap().contains("tenant name"), "{name}: {body}");
    }
    let unknown = expect_problem(create(json!({"name": "ok", "unknown": 1})).await.unwrap(), StatusCode::BAD_REQUEST)
        .await
        .unwrap();
    assert!(unknown["detail"].as_str().unwrap().contains("unknown field"), "{unknown}");
    let not_json = server
        .http
        .post(server.url("/admin/v1/tenants"))
        .bearer_auth(&server.root_token)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    expect_problem(not_json, StatusCode::BAD_REQUEST).await.unwrap();

    let tenant = server.create_tenant("dup").await.unwrap();
    let again = create(json!({"name": tenant.name})).await.unwrap();
    expect_problem(again, StatusCode::CONFLICT).await.unwrap();
}}

db_test! {
async fn client_secrets_are_shown_once_and_never_listed() {
    let server = TestServer::start().await.unwrap();
    let tenant = server.create_tenant("secrets").await.unwrap();
    let client = server
        .create_client(&tenant, json!({"name": "c", "scopes": ["read"], "attributes": {"tier": "gold"}}))
        .await
        .unwrap();
    assert_eq!(client.client_secret.len(), 43);
    let base = format!("/admin/v1/tenants/{}/clients", tenant.name);
    for path in [base.clone(), format!("{base}/{}", client.client_id)] {
        let response = server.http.get(server.url(&path)).bearer_auth(&tenant.admin_token).send().await.unwrap();
        let text = response.text().await.unwrap();
        assert!(text.contains(&client.client_id) && text.contains("gold"), "{text}");
        let digest = keyhaven::secrets::digest(&client.client_secret);
        assert!(!text.contains(&client.client_secret) && !text.contains(&digest), "{text}");
        assert!(!text.contains("secret_sha256"), "{text}");
    }
    let bad_scope = server
        .http
        .post(server.url(&base))
        .bearer_auth(&tenant.admin_token)
        .json(&json!({"name": "c", "scopes": ["has space"]}))
        .send()
        .await
        .unwrap();
    expect_problem(bad_scope, StatusCode::BAD_REQUEST).await.unwrap();
    // The registration is an event; the refused one wrote none.
    let created = server.get(&tenant.admin_token, &format!("/admin/v1/tenants/{}/events?action=client.created", tenant.name)).await.unwrap();
    let created = created.as_array().unwrap();
    assert_eq!(created.len(), 1, "{created:?}");
    assert_eq!((created[0]["detail"]["client_id"].as_str(), created[0]["origin"].as_str()), (Some(client.client_id.as_str()), Some("admin-api")));
    assert_eq!(created[0]["detail"]["scopes"], json!(["read"]));
    assert!(!created[0].to_string().contains(&client.client_secret));
}}

db_test! {
async fn unknown_routes_methods_and_parameters_answer_with_problem_json() {
    let server = TestServer::start().await.unwrap();
    let response = server.http.get(server.url("/admin/v1/nothing-here")).send().await.unwrap();
    expect_problem(response, StatusCode::NOT_FOUND).await.unwrap();
    let response = server.http.delete(server.url("/admin/v1/tenants")).send().await.unwrap();
    expect_problem(response, StatusCode::METHOD_NOT_ALLOWED).await.unwrap();

    let tenant = server.create_tenant("query").await.unwrap();
    let component = guests::bytes(guests::CUSTOM_CLAIMS);
    let response = server
        .upload_as(&tenant.admin_token, &tenant.name, "?colour=red", "application/wasm", component)
        .await
        .unwrap();
    let body = expect_problem(response, StatusCode::BAD_REQUEST).await.unwrap();
    assert!(body["detail"].as_str().unwrap().contains("colour"), "{body}");
}}
