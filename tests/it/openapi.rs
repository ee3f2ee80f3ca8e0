//! The admin API's OpenAPI 3.1 document: served without a token, it names exactly the
//! routes the router declares (read from the router's source, as the role matrix reads
//! them), each with its path parameters, its problem+json errors and the bearer scheme;
//! and schemathesis, a real OpenAPI fuzzer from PyPI, drives every operation with the
//! document's own examples, its edge cases and random data, and finds no 5xx and no
//! answer the document does not describe.

use std::collections::BTreeSet;

use keyhaven_tests::{TestServer, expect_status, guests, python};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::roles::routes;

const DOCUMENT: &str = "/admin/v1/openapi.json";
const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

async fn document(server: &TestServer) -> Value {
    let response = server.http.get(server.url(DOCUMENT)).send().await.unwrap();
    assert_eq!(response.headers()["content-type"], "application/json");
    expect_status(response, StatusCode::OK).await.unwrap()
}

#[tokio::test]
async fn the_document_names_every_route_the_router_declares() {
    let server = TestServer::start().await.unwrap();
    let document = document(&server).await;
    assert!(document["openapi"].as_str().unwrap().starts_with("3.1."), "{}", document["openapi"]);
    assert_eq!(document["security"], json!([{"bearer": []}]));
    assert_eq!(document["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");

    let declared: BTreeSet<(String, String)> =
        routes().into_iter().map(|(method, path)| (method.as_str().to_lowercase(), path)).collect();
    assert!(declared.len() >= 60, "the route table was read: {} routes", declared.len());
    let mut documented = BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in METHODS {
            let Some(operation) = item.get(method) else { continue };
            documented.insert((method.to_owned(), path.clone()));
            let route = format!("{method} {path}");
            // Every parameter the path names is described, as a required path parameter.
            let parameters = operation["parameters"].as_array().cloned().unwrap_or_default();
            for name in path.split('/').filter_map(|s| s.strip_prefix('{')?.strip_suffix('}')) {
                assert!(
                    parameters.iter().any(|p| p["name"] == name && p["in"] == "path" && p["required"] == true),
                    "{route}: path parameter {name} is not described"
                );
            }
            assert!(
                operation["responses"]["default"]["content"]["application/problem+json"].is_object(),
                "{route}: errors are not described as problem+json"
            );
            let answers: Vec<&String> = operation["responses"].as_object().unwrap().keys().collect();
            assert!(answers.iter().any(|status| status.starts_with('2')), "{route}: no success answer: {answers:?}");
            match method {
                "post" | "patch" => assert!(
                    parameters.iter().any(|p| p["name"] == "Idempotency-Key" && p["in"] == "header"),
                    "{route}: Idempotency-Key is not described"
                ),
                "get" => assert!(operation["responses"]["200"]["headers"]["ETag"].is_object(), "{route}: no ETag"),
                _ => {}
            }
            if matches!(method, "put" | "patch" | "delete") {
                assert!(parameters.iter().any(|p| p["name"] == "If-Match"), "{route}: If-Match is not described");
            }
        }
    }
    let missing: Vec<_> = declared.difference(&documented).collect();
    assert!(missing.is_empty(), "routes missing from the OpenAPI document: {missing:?}");
    let stale: Vec<_> = documented.difference(&declared).collect();
    assert!(stale.is_empty(), "operations the router does not serve: {stale:?}");
}

db_test!(
    async fn schemathesis_finds_no_server_error_and_no_answer_off_the_document() {
        let server = TestServer::start().await.unwrap();
        let tenant = server.create_tenant("fuzzed").await.unwrap();
        // Something to list, so the lists' answers are checked against their schemas too.
        server.create_client(&tenant, json!({"name": "fuzzed client"})).await.unwrap();
        let accounts = format!("/admin/v1/tenants/{}/accounts", tenant.name);
        let account = json!({"username": "fuzzed-person", "password": "a long enough password"});
        let created = server.call(reqwest::Method::POST, &tenant.admin_token, &accounts, Some(account)).await.unwrap();
        let account = expect_status(created, StatusCode::CREATED).await.unwrap();
        let deployment = server.deploy_as(&tenant, guests::CUSTOM_CLAIMS, "claims", "").await.unwrap();
        let rules = format!("/admin/v1/tenants/{}/rules", tenant.name);
        let rule = json!({"label": "everyone", "client_id": "*", "scopes": ["openid"]});
        let rule = server.call(reqwest::Method::POST, &tenant.admin_token, &rules, Some(rule)).await.unwrap();
        let rule = expect_status(rule, StatusCode::CREATED).await.unwrap();

        let url = server.url(DOCUMENT);
        let config = python::script("schemathesis.toml");
        let hooks = python::script("schemathesis_hooks.py");
        let output = python::run_interpreter(
            &[
                "-m",
                "schemathesis.cli",
                "--no-color",
                "--config-file",
                config.to_str().unwrap(),
                "run",
                &url,
                "--checks",
                "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
                "--phases",
                "examples,coverage,fuzzing",
                "--max-examples",
                "25",
                "--seed",
                "7",
                // One thread: CPython 3.11's parser is not safe across the threads of
                // several workers (hypothesis parses lambdas' source while generating).
                "--workers",
                "1",
                "--suppress-health-check",
                "all",
            ],
            &[
                ("KEYHAVEN_TOKEN", &server.root_token),
                ("KEYHAVEN_TENANT", &tenant.name),
                ("SCHEMATHESIS_HOOKS", hooks.to_str().unwrap()),
                ("KEYHAVEN_ACCOUNT", account["id"].as_str().unwrap()),
                ("KEYHAVEN_EXTENSION", "claims"),
                ("KEYHAVEN_DEPLOYMENT", deployment["id"].as_str().unwrap()),
                ("KEYHAVEN_RULE", rule["id"].as_str().unwrap()),
            ],
        )
        .await
        .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        // Shown with --nocapture: which operations it could not drive past a 4xx.
        println!("{stdout}");
        assert!(output.status.success(), "schemathesis failed ({}):\n{stdout}\n{stderr}", output.status);
        // It tested the operations, rather than passing on none.
        let operations = tested_operations(&stdout);
        assert!(operations >= routes().len(), "schemathesis tested {operations} operations:\n{stdout}");
    }
);

/// How many API operations schemathesis's summary says it tested (`API Operations:`, then
/// `Tested: N`).
fn tested_operations(summary: &str) -> usize {
    summary
        .split_once("API Operations:")
        .and_then(|(_, rest)| rest.lines().find_map(|line| line.trim().strip_prefix("Tested:")))
        .and_then(|count| count.trim().parse().ok())
        .unwrap_or(0)
}
