//! Stops and crashes of a real `keyhaven serve` process ([`ServiceProcess`]), on SQLite and
//! PostgreSQL: SIGTERM answers what is in flight and ends cleanly; SIGKILL during token
//! issuance under load, during event delivery and during a build loses nothing that was
//! acknowledged, leaves no half-written change, and doubles nothing beyond the documented
//! at-least-once delivery (docs/RELIABILITY.md).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use keyhaven::clock::{Clock, ManualClock, SystemClock};
use keyhaven_tests::{FakeHttpServer, TestClient, TestServer, TestTenant, expect_status, guests};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::service_process::ServiceProcess;

/// Waits up to `timeout` for `done`; fails the test with `what` otherwise.
async fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Operator overrides: deadlines long enough for the slow fake site, and no rate limit in
/// the way of the load.
async fn roomy_limits(server: &TestServer, tenant: &TestTenant) {
    let overrides = json!({"overrides": {
        "token_deadline_ms": 5000, "hook_deadline_ms": 5000,
        "token_requests_per_second": 100_000, "token_burst": 100_000, "invocations_per_minute": 1_000_000,
    }});
    let path = format!("/admin/v1/tenants/{}/limits", tenant.name);
    expect_status(server.call(Method::PUT, &server.root_token, &path, Some(overrides)).await.unwrap(), StatusCode::OK)
        .await
        .unwrap();
}

/// The webhook extension bound to the tenant's `account.*` events, posting to `site`.
async fn forward_account_events(server: &TestServer, tenant: &TestTenant, site: &FakeHttpServer) {
    server.deploy_as(tenant, guests::EVENT_WEBHOOK, "webhook", "&bind=none").await.unwrap();
    server.admin_ok(tenant, Method::PUT, "/extensions/webhook/config", json!({"webhook_url": site.url("/hook")})).await;
    server
        .admin_ok(tenant, Method::PUT, "/extension-settings", json!({"allowed_hosts": [site.address.to_string()]}))
        .await;
    let binding = json!({"hook": "events", "extension": "webhook", "filter": {"action": ["account.*"]}});
    server.admin_ok(tenant, Method::POST, "/bindings", binding).await;
}

/// The tenant's `account.created` events, newest first, with their deliveries.
async fn account_events(server: &TestServer, tenant: &TestTenant) -> Vec<Value> {
    let path = format!("/admin/v1/tenants/{}/events?action=account.created&limit=1000", tenant.name);
    server.get(&tenant.admin_token, &path).await.unwrap().as_array().unwrap().clone()
}

db_test! {
multi_thread async fn sigterm_answers_the_request_and_finishes_the_delivery_in_flight_then_ends_cleanly() {
    // The in-process node runs no background jobs: the child alone delivers events.
    let server = TestServer::start_with_clock(Arc::new(SystemClock)).await.unwrap();
    let tenant = server.create_tenant("drain").await.unwrap();
    let site = FakeHttpServer::start(200, json!({"ok": true})).await.unwrap();
    server.deploy(&tenant, guests::MISBEHAVING).await.unwrap();
    forward_account_events(&server, &tenant, &site).await;
    roomy_limits(&server, &tenant).await;
    let attributes = json!({"behaviour": "http", "url": site.url("/token")});
    let client = server.create_client(&tenant, json!({"name": "slow", "attributes": attributes})).await.unwrap();
    site.answer_with(200, json!({"ok": true}), Duration::from_millis(1500));
    let mut node = ServiceProcess::beside(&server, &[]).await.unwrap();

    // An event to deliver and a token request, both held up by the slow site.
    server.admin_ok(&tenant, Method::POST, "/accounts", json!({"username": "erin"})).await;
    let request = reqwest::Client::new()
        .post(node.url(&format!("/t/{}/oauth2/token", tenant.name)))
        .basic_auth(&client.client_id, Some(&client.client_secret))
        .form(&[("grant_type", "client_credentials")])
        .send();
    let token = tokio::spawn(request);
    let paths = || site.received().iter().map(|r| r.path.clone()).collect::<HashSet<_>>();
    wait_for("the hook's call and the event's delivery to reach the site", Duration::from_secs(20), || {
        paths().len() == 2
    })
    .await;

    node.terminate().unwrap();
    // No new connection is taken while the two finish.
    let address = node.address;
    let refused = tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + Duration::from_secs(1);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect_timeout(&address, Duration::from_millis(100)).is_err() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    });
    assert!(refused.await.unwrap(), "a stopping node still accepts connections");

    let answered = token.await.unwrap().unwrap();
    let body = expect_status(answered, StatusCode::OK).await.unwrap();
    let claims = server.verify(&tenant, body["access_token"].as_str().unwrap(), &tenant.issuer).await.unwrap();
    assert_eq!(claims["http_status"], 200, "{claims}");
    let status = node.wait_exit(Duration::from_secs(20)).await.unwrap();
    let log = node.log();
    assert!(status.success(), "{status}; log:\n{log}");
    assert!(log.contains("keyhaven stopped") && !log.contains("still in flight"), "{log}");

    // The delivery in hand was finished and recorded before the process ended: once.
    let events = account_events(&server, &tenant).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["deliveries"][0]["state"], "delivered", "{}", events[0]);
    assert_eq!(events[0]["deliveries"][0]["attempts"], 1);
    assert_eq!(site.received().iter().filter(|r| r.path == "/hook").count(), 1);
    // The invocation records it held in memory were written at the stop.
    assert_eq!(server.last_invocation(&tenant, "extension").await["outcome"], "ok");
}}

db_test! {
multi_thread async fn sigkill_under_token_load_loses_no_acknowledged_write_and_every_issued_token_stays_valid() {
    let server = TestServer::start_with_clock(Arc::new(SystemClock)).await.unwrap();
    let tenant = server.create_tenant("crash").await.unwrap();
    server.deploy(&tenant, guests::CUSTOM_CLAIMS).await.unwrap();
    roomy_limits(&server, &tenant).await;
    let client = server.create_client(&tenant, json!({"name": "svc", "attributes": {"org": "acme"}})).await.unwrap();
    let mut node = ServiceProcess::beside(&server, &[]).await.unwrap();

    // Token requests and account creations on the child until it dies.
    let http = reqwest::Client::new();
    let mut issuers = Vec::new();
    for _ in 0..6 {
        let (http, url, client) =
            (http.clone(), node.url(&format!("/t/{}/oauth2/token", tenant.name)), client.clone());
        issuers.push(tokio::spawn(async move {
            let mut tokens = Vec::new();
            while let Ok(response) = http
                .post(&url)
                .basic_auth(&client.client_id, Some(&client.client_secret))
                .form(&[("grant_type", "client_credentials")])
                .send()
                .await
            {
                assert_eq!(response.status(), StatusCode::OK, "a token request failed before the crash");
                let Ok(body) = response.json::<Value>().await else { break };
                tokens.push(body["access_token"].as_str().unwrap().to_owned());
            }
            tokens
        }));
    }
    let mut writers = Vec::new();
    for writer in 0..3 {
        let (http, url, token) =
            (http.clone(), node.url(&format!("/admin/v1/tenants/{}/accounts", tenant.name)), tenant.admin_token.clone());
        writers.push(tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            for n in 0.. {
                let username = format!("w{writer}-{n}");
                let sent = http.post(&url).bearer_auth(&token).json(&json!({"username": username})).send().await;
                match sent {
                    Ok(response) if response.status() == StatusCode::CREATED => acknowledged.push(username),
                    Ok(response) => panic!("an account creation failed before the crash: {}", response.status()),
                    Err(_) => break,
                }
            }
            acknowledged
        }));
    }
    // Kill it mid-flight, once both kinds of work are well under way.
    let started = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let accounts = server.state.db.list_accounts(&tenant.id, None, 1000).await.unwrap();
        if accounts.len() >= 30 || started.elapsed() > Duration::from_secs(30) {
            break;
        }
    }
    node.kill();
    let mut tokens = Vec::new();
    for issuer in issuers {
        tokens.extend(issuer.await.unwrap());
    }
    let mut acknowledged = Vec::new();
    for writer in writers {
        acknowledged.extend(writer.await.unwrap());
    }
    assert!(tokens.len() >= 20 && acknowledged.len() >= 20, "{} tokens, {} accounts", tokens.len(), acknowledged.len());

    if let Some(path) = server.database_path() {
        assert_eq!(sqlite_integrity(path).await, "ok");
    }
    // Every acknowledged account is there, and every account that is there is whole: its
    // event was written with it (one transaction), exactly once.
    let stored = server.state.db.list_accounts(&tenant.id, None, 1000).await.unwrap();
    let stored: HashMap<String, String> = stored.into_iter().map(|a| (a.username, a.id)).collect();
    for username in &acknowledged {
        assert!(stored.contains_key(username), "acknowledged account {username} was lost");
    }
    let events = account_events(&server, &tenant).await;
    let mut per_account: HashMap<String, usize> = HashMap::new();
    for event in &events {
        *per_account.entry(event["account_id"].as_str().unwrap_or_default().to_owned()).or_default() += 1;
    }
    // The writers' accounts (the tenant's first administrator was made at its creation).
    let stored: HashMap<String, String> = stored.into_iter().filter(|(username, _)| username.starts_with('w')).collect();
    for (username, id) in &stored {
        assert_eq!(per_account.get(id), Some(&1), "account {username} has no single account.created event");
    }
    assert_eq!(events.len(), stored.len(), "an event without its account");

    // The restarted node signs with the same key: every token issued before the crash
    // verifies, with the extension's claims, and so does a new one.
    node.restart().await.unwrap();
    for token in tokens.iter().step_by(tokens.len() / 20) {
        let claims = server.verify(&tenant, token, &tenant.issuer).await.unwrap();
        assert_eq!(claims["issued_by_extension"], "custom-claims");
    }
    let claims = token_claims_from(&node, &server, &tenant, &client).await;
    assert_eq!(claims["org"], "acme");
}}

db_test! {
multi_thread async fn sigkill_during_event_delivery_delivers_every_event_after_the_restart() {
    // The in-process node's clock can run ahead, to take over the lease of the delivery
    // the killed node held.
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let server = TestServer::start_with_clock(clock.clone()).await.unwrap();
    let tenant = server.create_tenant("outbox").await.unwrap();
    let site = FakeHttpServer::start(200, json!({"ok": true})).await.unwrap();
    forward_account_events(&server, &tenant, &site).await;
    roomy_limits(&server, &tenant).await;
    site.answer_with(200, json!({"ok": true}), Duration::from_millis(100));
    for n in 0..20 {
        server.admin_ok(&tenant, Method::POST, "/accounts", json!({"username": format!("a{n}")})).await;
    }
    let mut node = ServiceProcess::beside(&server, &[]).await.unwrap();
    wait_for("the first deliveries", Duration::from_secs(20), || site.received().len() >= 3).await;
    node.kill();
    let before_restart = site.received().len();
    assert!(before_restart < 20, "the kill came after every delivery");

    // The restarted node delivers what is due; the delivery the dead node had claimed
    // waits for its lease (60 s), which another node takes over once it has run out.
    node.restart().await.unwrap();
    let distinct = || {
        site.received().iter().map(|r| r.json()["id"].as_str().unwrap_or_default().to_owned()).collect::<HashSet<_>>()
    };
    // Once it has recorded every delivery but the leased one, it is idle: stop it.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let events = account_events(&server, &tenant).await;
        let delivered = events.iter().filter(|e| e["deliveries"][0]["state"] == "delivered").count();
        if delivered >= 19 {
            break;
        }
        assert!(Instant::now() < deadline, "the restarted node delivered {delivered} of 20 within 30 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    node.kill();
    // Past the end of any lease the killed nodes took (on the real clock, after set-up).
    clock.advance(SystemClock.now() + 61 - clock.now());
    while server.state.extensions.deliver_due_events().await.unwrap() > 0 {}

    let events = account_events(&server, &tenant).await;
    assert_eq!(events.len(), 20);
    for event in &events {
        assert_eq!(event["deliveries"][0]["state"], "delivered", "{event}");
    }
    let received = site.received();
    assert_eq!(distinct().len(), 20, "every event was delivered");
    // At least once: only the delivery in hand at the kill may have been sent twice.
    assert!(received.len() <= 21, "{} deliveries of 20 events", received.len());
}}

db_test! {
multi_thread async fn sigkill_during_a_build_leaves_it_pending_and_the_restart_finishes_it() {
    let server = TestServer::start_with_clock(Arc::new(SystemClock)).await.unwrap();
    let tenant = server.create_tenant("build").await.unwrap();
    let client = server.create_client(&tenant, json!({"name": "svc", "attributes": {"org": "acme"}})).await.unwrap();
    let mut node = ServiceProcess::beside(&server, &[]).await.unwrap();

    // The upload is accepted (stored, PENDING) by the child, which dies building it.
    let response = reqwest::Client::new()
        .post(node.url(&format!("/admin/v1/tenants/{}/extensions?name=claims", tenant.name)))
        .bearer_auth(&tenant.admin_token)
        .header("content-type", "application/wasm")
        .body(guests::bytes(guests::CUSTOM_CLAIMS))
        .send()
        .await
        .unwrap();
    let accepted = expect_status(response, StatusCode::ACCEPTED).await.unwrap();
    node.kill();
    let id = accepted["id"].as_str().unwrap();
    let path = format!("/admin/v1/tenants/{}/deployments/{id}", tenant.name);
    let at_kill = server.get(&tenant.admin_token, &path).await.unwrap();
    assert_eq!(at_kill["state"], "PENDING", "the build finished before the kill: {at_kill}");

    // The restart resumes it: built, enabled, bound, and issuing.
    node.restart().await.unwrap();
    let built = server.wait_built(&tenant, id).await.unwrap();
    assert_eq!(built["state"], "ENABLED", "{built}");
    let deployments = server.get(&tenant.admin_token, &format!("/admin/v1/tenants/{}/deployments?extension=claims", tenant.name)).await.unwrap();
    assert_eq!(deployments.as_array().map(Vec::len), Some(1), "one upload, one deployment: {deployments}");
    let claims = token_claims_from(&node, &server, &tenant, &client).await;
    assert_eq!(claims["issued_by_extension"], "custom-claims");
}}

/// SQLite's own check of the database file.
async fn sqlite_integrity(path: &str) -> String {
    use sqlx::{Connection, Row};
    let mut connection = sqlx::SqliteConnection::connect(&format!("sqlite://{path}")).await.unwrap();
    let row = sqlx::query("PRAGMA integrity_check").fetch_one(&mut connection).await.unwrap();
    row.get::<String, _>(0)
}

/// A `client_credentials` token from `node`, verified against the tenant's keys: its claims.
async fn token_claims_from(
    node: &ServiceProcess,
    server: &TestServer,
    tenant: &TestTenant,
    client: &TestClient,
) -> Value {
    let answered = reqwest::Client::new()
        .post(node.url(&format!("/t/{}/oauth2/token", tenant.name)))
        .basic_auth(&client.client_id, Some(&client.client_secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    let body = expect_status(answered, StatusCode::OK).await.unwrap();
    server.verify(tenant, body["access_token"].as_str().unwrap(), &tenant.issuer).await.unwrap()
}
