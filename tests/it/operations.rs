//! What an operator runs the service with: health and readiness, the Prometheus metrics,
//! and `keyhaven serve --config` (a TOML file, with the environment winning over it).

use std::time::Duration;

use keyhaven_tests::{TestServer, expect_problem, expect_status, guests};
use reqwest::StatusCode;
use serde_json::json;

use crate::service_process::{ServiceProcess, free_port};

/// The value of the sample `name{labels}` in a Prometheus text answer.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

db_test! {
async fn metrics_and_health_tell_the_operator_what_the_node_is_doing() {
    let server = TestServer::start().await.unwrap();
    let tenant = server.create_tenant("metrics").await.unwrap();
    server.deploy(&tenant, guests::CUSTOM_CLAIMS).await.unwrap();
    let client = server.create_client(&tenant, json!({"name": "svc", "attributes": {"org": "acme"}})).await.unwrap();
    for _ in 0..3 {
        expect_status(server.token(&tenant, &client).await.unwrap(), StatusCode::OK).await.unwrap();
    }
    let wrong = keyhaven_tests::TestClient { client_secret: "wrong".into(), ..client.clone() };
    expect_status(server.token(&tenant, &wrong).await.unwrap(), StatusCode::UNAUTHORIZED).await.unwrap();
    expect_problem(server.http.get(server.url("/no/such/route")).send().await.unwrap(), StatusCode::NOT_FOUND)
        .await
        .unwrap();

    let health = server.http.get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(expect_status(health, StatusCode::OK).await.unwrap(), json!({"status": "ok"}));
    let ready = server.http.get(server.url("/readyz")).send().await.unwrap();
    assert_eq!(expect_status(ready, StatusCode::OK).await.unwrap(), json!({"status": "ready"}));

    // The operator's only: the counters span every tenant.
    let anonymous = server.http.get(server.url("/metrics")).send().await.unwrap();
    expect_problem(anonymous, StatusCode::UNAUTHORIZED).await.unwrap();
    let administrator = server.http.get(server.url("/metrics")).bearer_auth(&tenant.admin_token).send().await.unwrap();
    expect_problem(administrator, StatusCode::FORBIDDEN).await.unwrap();
    let scraped = server.http.get(server.url("/metrics")).bearer_auth(&server.root_token).send().await.unwrap();
    assert_eq!(scraped.status(), StatusCode::OK);
    let content_type = scraped.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
    let text = scraped.text().await.unwrap();

    let token = "route=\"/t/{tenant}/oauth2/token\"";
    assert_eq!(sample(&text, &format!("keyhaven_http_requests_total{{{token},method=\"POST\",status=\"200\"}}")), Some(3.0), "{text}");
    assert_eq!(sample(&text, &format!("keyhaven_http_requests_total{{{token},method=\"POST\",status=\"401\"}}")), Some(1.0));
    assert_eq!(sample(&text, "keyhaven_http_requests_total{route=\"unmatched\",method=\"GET\",status=\"404\"}"), Some(1.0));
    assert_eq!(sample(&text, &format!("keyhaven_http_request_duration_seconds_count{{{token}}}")), Some(4.0));
    assert_eq!(sample(&text, &format!("keyhaven_http_request_duration_seconds_bucket{{{token},le=\"+Inf\"}}")), Some(4.0));
    let hook = format!("tenant=\"{}\",extension=\"extension\",hook=\"token-issuance\",outcome=\"ok\"", tenant.id);
    assert_eq!(sample(&text, &format!("keyhaven_hook_invocations_total{{{hook}}}")), Some(3.0), "{text}");
    assert!(sample(&text, &format!("keyhaven_hook_fuel_total{{{hook}}}")).unwrap() > 1000.0);
    assert_eq!(sample(&text, "keyhaven_hook_duration_seconds_count{hook=\"token-issuance\",outcome=\"ok\"}"), Some(3.0));
    assert_eq!(sample(&text, "keyhaven_builds_pending"), Some(0.0));
    assert!(sample(&text, "keyhaven_event_deliveries_pending").is_some());
    assert!(sample(&text, "keyhaven_database_connections").unwrap() >= 1.0);
    assert_eq!(sample(&text, "keyhaven_invocation_slots"), Some(16.0));
    assert!(sample(&text, "keyhaven_process_resident_memory_bytes").unwrap() > 1e6);

    // A stopping node is not ready, so traffic goes elsewhere.
    assert!(server.state.extensions.drain.stop(Duration::from_secs(5)).await);
    let stopping = server.http.get(server.url("/readyz")).send().await.unwrap();
    let problem = expect_problem(stopping, StatusCode::SERVICE_UNAVAILABLE).await.unwrap();
    assert_eq!(problem["type"], "urn:keyhaven:problem:unavailable");
}}

db_test! {
multi_thread async fn serve_reads_a_configuration_file_and_the_environment_wins_over_it() {
    let server = TestServer::start().await.unwrap();
    let (file_port, env_port) = (free_port().unwrap(), free_port().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keyhaven.toml");
    let settings = format!(
        "listen = \"127.0.0.1:{file_port}\"\ndatabase_url = \"{}\"\nroot_token = \"{}\"\npublic_url = \"{}\"\n\
         secrets_key_file = \"{}\"\negress_allow = [\"127.0.0.1\"]\nshutdown_grace_seconds = 3\njs_builder = \"none\"\n",
        server.database_url(),
        server.root_token,
        server.base_url,
        server.secrets_key_file().display(),
    );
    std::fs::write(&path, settings).unwrap();
    let args = vec!["serve".to_owned(), "--config".to_owned(), path.display().to_string()];

    // Everything from the file: the node answers the operator with the file's token.
    let mut node = ServiceProcess::start(args.clone(), Vec::new(), file_port).await.unwrap();
    let tenants = reqwest::Client::new().get(node.url("/admin/v1/tenants")).bearer_auth(&server.root_token).send().await.unwrap();
    assert_eq!(tenants.status(), StatusCode::OK);
    node.terminate().unwrap();
    assert!(node.wait_exit(Duration::from_secs(20)).await.unwrap().success(), "{}", node.log());

    // A variable that is set wins over the file.
    let env = vec![("KEYHAVEN_LISTEN".to_owned(), format!("127.0.0.1:{env_port}"))];
    let node = ServiceProcess::start(args.clone(), env, env_port).await.unwrap();
    assert!(node.log().contains(&format!("127.0.0.1:{env_port}")), "{}", node.log());
    drop(node);

    // A typo in the file stops the start with the key named.
    std::fs::write(&path, "listn = \"127.0.0.1:1\"\n").unwrap();
    let refused = std::process::Command::new(env!("CARGO_BIN_EXE_keyhaven-service"))
        .args(&args)
        .env_remove("KEYHAVEN_CONFIG")
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("\"listn\", which is not a setting"), "{said}");
}}
