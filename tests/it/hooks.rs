//! Every hook end to end with the example extensions and real HTTP on 127.0.0.1 (a fake SMS
//! provider and webhook receiver stand in for third parties), and hostile guests: no
//! environment, files or sockets; outbound HTTP only to allowed hosts and within the
//! deadline; sleeping, oversized output and noisy output each get their typed outcome.

use std::sync::Arc;
use std::time::Duration;

use keyhaven::clock::{Clock, ManualClock};
use keyhaven::extensions::Hook;
use keyhaven::extensions::account_creation::{AccountData, Source, Verdict};
use keyhaven::extensions::otp_delivery::{Channel, Delivery, OtpMessage};
use keyhaven::extensions::{InvokeError, Limits, Outcome};
use keyhaven_tests::{FakeHttpServer, TestServer, TestTenant, expect_status, guests};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn put(server: &TestServer, tenant: &TestTenant, path: &str, body: Value) {
    let path = format!("/admin/v1/tenants/{}{path}", tenant.name);
    let response = server.call(Method::PUT, &tenant.admin_token, &path, Some(body)).await.unwrap();
    assert!(response.status().is_success(), "{path}: {}", response.status());
}

async fn post(server: &TestServer, tenant: &TestTenant, path: &str, body: Value) -> Value {
    let path = format!("/admin/v1/tenants/{}{path}", tenant.name);
    let response = server.call(Method::POST, &tenant.admin_token, &path, Some(body)).await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    assert!(status.is_success(), "{path}: {status} {text}");
    serde_json::from_str(&text).unwrap()
}

async fn allow_hosts(server: &TestServer, tenant: &TestTenant, hosts: &[String]) {
    put(server, tenant, "/extension-settings", json!({ "allowed_hosts": hosts })).await;
}

async fn token_claims(server: &TestServer, tenant: &TestTenant, attributes: Value) -> Value {
    let client = server.create_client(tenant, json!({"name": "c", "attributes": attributes})).await.unwrap();
    let body = expect_status(server.token(tenant, &client).await.unwrap(), StatusCode::OK).await.unwrap();
    server.verify(tenant, body["access_token"].as_str().unwrap(), &tenant.issuer).await.unwrap()
}

/// An SMS one-time code to deliver, as the login flow hands it to the hook.
pub(crate) fn otp(code: &str, recipient: Option<&str>) -> OtpMessage {
    OtpMessage {
        delivery_id: format!("dl_{code}"),
        account_id: "acc_1".into(),
        channel: Channel::Sms,
        recipient: recipient.map(str::to_owned),
        code: code.into(),
        purpose: "login".into(),
        expires_at: 2_000_000_000,
        locale: None,
    }
}

db_test! {
async fn otp_sms_posts_each_code_once_to_the_provider_and_never_retries() {
    let server = TestServer::start().await.unwrap();
    let tenant = server.create_tenant("otp").await.unwrap();
    let provider = FakeHttpServer::start(200, json!({"id": "msg-42"})).await.unwrap();
    server.deploy_as(&tenant, guests::OTP_SMS, "sms", "").await.unwrap();
    put(&server, &tenant, "/extensions/sms/config", json!({"provider_url": provider.url("/v1/messages")})).await;
    put(&server, &tenant, "/extensions/sms/secrets/api_key", json!({"value": "key-123"})).await;
    let target = server.target(&tenant, "sms", Hook::OtpDelivery).await.unwrap();
    let runtime = &server.state.extensions;

    // Not an allowed host yet: refused, and nothing reached the provider.
    let refused = runtime.deliver_otp(&target, &otp("AB12CD", Some("+15550100"))).await;
    assert!(matches!(refused.result, Ok(Delivery::Unavailable(_))), "{refused:?}");
    assert!(
        refused.log.lines.iter().any(|l| l.message.contains("not among the tenant's allowed hosts")),
        "{:?}",
        refused.log
    );
    assert!(provider.received().is_empty());

    allow_hosts(&server, &tenant, &[provider.address.to_string()]).await;
    let target = server.target(&tenant, "sms", Hook::OtpDelivery).await.unwrap();
    let sent = runtime.deliver_otp(&target, &otp("AB12CD", Some("+15550100"))).await;
    assert_eq!(sent.result.unwrap(), Delivery::Delivered(Some("msg-42".into())));
    let received = provider.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].method, "POST");
    assert_eq!(received[0].path, "/v1/messages");
    assert_eq!(received[0].header("authorization"), Some("Bearer key-123"));
    let body = received[0].json();
    assert_eq!(body["to"], "+15550100");
    assert_eq!(body["reference"], "dl_AB12CD");
    assert!(body["message"].as_str().unwrap().contains("AB12CD"));

    // A provider failure is reported as such, and the code is not sent again.
    provider.answer_with(503, json!({"error": "down"}), Duration::ZERO);
    let failed = runtime.deliver_otp(&target, &otp("ZZ99ZZ", Some("+15550100"))).await;
    assert!(matches!(failed.result, Ok(Delivery::Unavailable(_))), "{failed:?}");
    assert_eq!(failed.outcome, Outcome::Failed);
    assert_eq!(provider.received().len(), 2, "exactly one attempt per code");
    let no_recipient = runtime.deliver_otp(&target, &otp("QQ11QQ", None)).await;
    assert!(matches!(no_recipient.result, Ok(Delivery::Rejected(_))), "{no_recipient:?}");
}}

db_test! {
async fn account_guard_denies_disposable_domains_and_normalises_names() {
    let server = TestServer::start().await.unwrap();
    let tenant = server.create_tenant("guard").await.unwrap();
    server.deploy_as(&tenant, guests::ACCOUNT_GUARD, "guard", "").await.unwrap();
    let target = server.target(&tenant, "guard", Hook::AccountCreation).await.unwrap();
    let runtime = &server.state.extensions;
    let account = |username: &str, email: &str, name: &str| AccountData {
        username: username.into(),
        email: Some(email.into()),
        phone: None,
        attributes: json!({"name": name}).as_object().unwrap().clone(),
    };

    let disposable = runtime
        .before_account_creation(&target, Source::SelfRegistration, &account("bob", "bob@mailinator.com", "Bob"))
        .await;
    assert!(matches!(disposable.result, Ok(Verdict::Deny(_))), "{disposable:?}");
    assert_eq!(disposable.outcome, Outcome::Denied);

    let messy = runtime
        .before_account_creation(&target, Source::Admin, &account("  Alice ", "ALICE@Example.com", " Alice   Smith "))
        .await;
    let Ok(Verdict::AllowWith(changed)) = messy.result else { panic!("{messy:?}") };
    assert_eq!(changed.username, "alice");
    assert_eq!(changed.email.as_deref(), Some("alice@example.com"));
    assert_eq!(changed.attributes["name"], "Alice Smith");

    let clean =
        runtime.before_account_creation(&target, Source::Admin, &account("carol", "carol@example.com", "Carol")).await;
    assert!(matches!(clean.result, Ok(Verdict::Allow)), "{clean:?}");
}}

db_test! {
async fn events_reach_matching_bindings_at_least_once_with_backoff() {
    let clock = Arc::new(ManualClock::new(1_800_000_000));
    let server = TestServer::start_with_clock(clock.clone()).await.unwrap();
    let tenant = server.create_tenant("events").await.unwrap();
    let receiver = FakeHttpServer::start(500, json!({"error": "not yet"})).await.unwrap();
    server.deploy_as(&tenant, guests::EVENT_WEBHOOK, "webhook", "&bind=none").await.unwrap();
    put(&server, &tenant, "/extensions/webhook/config", json!({"webhook_url": receiver.url("/hook")})).await;
    allow_hosts(&server, &tenant, &[receiver.address.to_string()]).await;
    let filter = json!({"action": ["extension.*"], "result": ["success"]});
    post(&server, &tenant, "/bindings", json!({"hook": "events", "extension": "webhook", "filter": filter})).await;

    // A deployment is an event the binding wants.
    server.deploy_as(&tenant, guests::CUSTOM_CLAIMS, "claims", "").await.unwrap();
    let runtime = &server.state.extensions;
    assert_eq!(runtime.deliver_due_events().await.unwrap(), 1);
    assert_eq!(receiver.received().len(), 1, "first attempt");
    let events = server.get(&tenant.admin_token, &format!("/admin/v1/tenants/{}/events", tenant.name)).await.unwrap();
    let deployed = events.as_array().unwrap().iter().find(|e| e["detail"]["extension"] == "claims").unwrap().clone();
    assert_eq!(deployed["action"], "extension.deployed");
    assert_eq!(deployed["deliveries"][0]["state"], "pending");
    assert_eq!(deployed["deliveries"][0]["attempts"], 1);

    // Not due again before its backoff ...
    assert_eq!(runtime.deliver_due_events().await.unwrap(), 0);
    // ... then retried, and delivered once the receiver answers.
    receiver.answer_with(200, json!({}), Duration::ZERO);
    clock.advance(2);
    assert_eq!(runtime.deliver_due_events().await.unwrap(), 1);
    let received = receiver.received();
    assert_eq!(received.len(), 2);
    let body = received[1].json();
    assert_eq!(body["action"], "extension.deployed");
    assert_eq!(body["id"], deployed["id"]);
    let events = server.get(&tenant.admin_token, &format!("/admin/v1/tenants/{}/events", tenant.name)).await.unwrap();
    let deployed = events.as_array().unwrap().iter().find(|e| e["id"] == deployed["id"]).unwrap().clone();
    assert_eq!(deployed["deliveries"][0]["state"], "delivered");
    clock.advance(3600);
    assert_eq!(runtime.deliver_due_events().await.unwrap(), 0, "delivered events are not sent again");
}}

db_test! {
async fn an_event_delivery_claimed_by_a_node_that_stopped_is_delivered_after_a_restart() {
    let clock = Arc::new(ManualClock::new(1_800_000_000));
    let server = TestServer::start_with_clock(clock.clone()).await.unwrap();
    let tenant = server.create_tenant("outbox").await.unwrap();
    let receiver = FakeHttpServer::start(200, json!({})).await.unwrap();
    server.deploy_as(&tenant, guests::EVENT_WEBHOOK, "webhook", "&bind=none").await.unwrap();
    put(&server, &tenant, "/extensions/webhook/config", json!({"webhook_url": receiver.url("/hook")})).await;
    allow_hosts(&server, &tenant, &[receiver.address.to_string()]).await;
    let filter = json!({"action": ["account.*"]});
    post(&server, &tenant, "/bindings", json!({"hook": "events", "extension": "webhook", "filter": filter})).await;
    post(&server, &tenant, "/accounts", json!({"username": "dana"})).await;

    // A node claims the delivery, and stops before it delivers.
    let now = clock.now();
    let due = server.state.db.due_deliveries(now, 10).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].event.action, "account.created");
    assert!(server.state.db.claim_delivery(&due[0], now + 60, now).await.unwrap());
    let server = server.restart().await.unwrap();

    // The claim holds until its lease runs out; then the delivery is made, once.
    let runtime = &server.state.extensions;
    assert_eq!(runtime.deliver_due_events().await.unwrap(), 0, "still leased to the stopped node");
    assert!(receiver.received().is_empty());
    clock.advance(61);
    assert_eq!(runtime.deliver_due_events().await.unwrap(), 1);
    let received = receiver.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].json()["action"], "account.created");
    let events = server.get(&tenant.admin_token, &format!("/admin/v1/tenants/{}/events", tenant.name)).await.unwrap();
    let created = events.as_array().unwrap().iter().find(|e| e["action"] == "account.created").unwrap().clone();
    assert_eq!(created["deliveries"][0]["state"], "delivered");
    assert_eq!(created["deliveries"][0]["attempts"], 2, "the lost attempt counts");
    clock.advance(3600);
    assert_eq!(runtime.deliver_due_events().await.unwrap(), 0);
}}

db_test! {
async fn a_scheduled_extension_runs_once_per_due_time() {
    // 1_800_000_000 is a whole minute (a multiple of 60).
    let clock = Arc::new(ManualClock::new(1_800_000_000));
    let server = TestServer::start_with_clock(clock.clone()).await.unwrap();
    let tenant = server.create_tenant("cron").await.unwrap();
    server.deploy_as(&tenant, guests::NIGHTLY_REPORT, "report", "").await.unwrap();
    post(&server, &tenant, "/bindings", json!({"hook": "scheduled", "extension": "report", "schedule": "0 * * * * *"}))
        .await;
    let runtime = &server.state.extensions;

    assert!(runtime.run_due_schedules().await.unwrap().is_empty(), "nothing is due yet");
    clock.advance(60);
    let ran = runtime.run_due_schedules().await.unwrap();
    assert_eq!(ran.len(), 1);
    assert_eq!(ran[0].result, Ok(()));
    assert!(runtime.run_due_schedules().await.unwrap().is_empty(), "a due time runs once");
    // Three missed minutes are one run, for the latest of them.
    clock.advance(180);
    let ran = runtime.run_due_schedules().await.unwrap();
    assert_eq!(ran.len(), 1);
    assert_eq!(ran[0].due, clock_now(&clock));
    let kv =
        server.get(&tenant.admin_token, &format!("/admin/v1/tenants/{}/kv?prefix=report:", tenant.name)).await.unwrap();
    let runs = kv.as_array().unwrap().iter().find(|e| e["key"] == "report:runs").unwrap();
    assert_eq!(runs["value"], 2);
}}

fn clock_now(clock: &ManualClock) -> i64 {
    use keyhaven::clock::Clock;
    clock.now()
}

db_test! {
async fn a_guest_sees_no_environment_files_or_sockets() {
    let server = TestServer::start().await.unwrap();
    let tenant = server.create_tenant("sandbox").await.unwrap();
    server.deploy(&tenant, guests::MISBEHAVING).await.unwrap();
    assert_eq!(token_claims(&server, &tenant, json!({"behaviour": "env"})).await["env_count"], 0);
    let files = token_claims(&server, &tenant, json!({"behaviour": "files"})).await;
    assert_ne!(files["files"][0], "listed /", "{files}");
    assert!(!files["files"][1].as_str().unwrap().contains("root:"), "{files}");
    let sockets = token_claims(&server, &tenant, json!({"behaviour": "sockets"})).await;
    assert_ne!(sockets["sockets"], "connected", "{sockets}");
}}

db_test! {
async fn outbound_http_reaches_only_allowed_hosts_and_never_outlives_the_deadline() {
    let server = TestServer::start().await.unwrap();
    let tenant = server.create_tenant("http").await.unwrap();
    server.deploy(&tenant, guests::MISBEHAVING).await.unwrap();
    let site = FakeHttpServer::start(200, json!({"ok": true})).await.unwrap();
    let attributes = json!({"behaviour": "http", "url": site.url("/ping")});

    let refused = token_claims(&server, &tenant, attributes.clone()).await;
    assert!(refused.get("http_error").is_some() && refused.get("http_status").is_none(), "{refused}");
    assert!(site.received().is_empty());

    allow_hosts(&server, &tenant, &[site.address.to_string()]).await;
    assert_eq!(token_claims(&server, &tenant, attributes.clone()).await["http_status"], 200);
    assert_eq!(site.received().len(), 1);

    // A response body beyond the tenant's limit does not reach the guest.
    site.answer_with(200, json!({"padding": "x".repeat(4096)}), Duration::ZERO);
    let limits = format!("/admin/v1/tenants/{}/limits", tenant.name);
    let small = json!({"overrides": {"http_response_bytes": 1024}});
    expect_status(server.call(Method::PUT, &server.root_token, &limits, Some(small)).await.unwrap(), StatusCode::OK)
        .await
        .unwrap();
    let cut = token_claims(&server, &tenant, attributes.clone()).await;
    assert!(cut.get("http_error").is_some() && cut.get("http_status").is_none(), "{cut}");

    // A slow answer cannot hold the invocation past its 50 ms deadline.
    site.answer_with(200, json!({}), Duration::from_secs(3));
    let client = server.create_client(&tenant, json!({"name": "slow", "attributes": attributes})).await.unwrap();
    let started = std::time::Instant::now();
    let body =
        expect_status(server.token(&tenant, &client).await.unwrap(), StatusCode::INTERNAL_SERVER_ERROR).await.unwrap();
    server.assert_extension_failed(&tenant, &body, "extension", "deadline of 50 ms").await;
    // A guard, not a benchmark: without the deadline this waits for the 3 s answer.
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
}}

db_test! {
async fn sleeping_oversized_and_noisy_guests_get_their_typed_outcomes() {
    let server = TestServer::start_with(Limits { hook_deadline: Duration::from_millis(100), ..Limits::default() })
        .await
        .unwrap();
    let tenant = server.create_tenant("hostile").await.unwrap();
    server.deploy(&tenant, guests::MISBEHAVING).await.unwrap();
    let target = server.target(&tenant, "extension", Hook::TokenIssuance).await.unwrap();
    let runtime = &server.state.extensions;
    let request = |behaviour: &str| keyhaven::extensions::token_issuance::TokenRequest {
        subject: keyhaven::extensions::token_issuance::Subject::Client {
            client_id: "cl".into(),
            name: "c".into(),
            attributes: json!({"behaviour": behaviour}),
        },
        grant_type: "client_credentials".into(),
        scopes: Vec::new(),
        audience: Vec::new(),
    };

    let sleep = runtime.issue_token(&target, &request("sleep")).await;
    assert!(matches!(sleep.result, Err(InvokeError::Deadline(_))), "{sleep:?}");
    assert!(sleep.duration < Duration::from_secs(2));

    let big = runtime.issue_token(&target, &request("big-claim")).await;
    assert!(matches!(big.result, Err(InvokeError::InvalidOutput(ref m)) if m.contains("bytes of claims")), "{big:?}");
    assert_eq!(big.outcome, Outcome::InvalidOutput);

    let noisy = runtime.issue_token(&target, &request("stdout")).await;
    assert!(noisy.result.is_ok(), "{noisy:?}");
    let kept: usize = noisy.log.lines.iter().map(|l| l.message.len()).sum();
    assert!(kept <= Limits::default().log_bytes, "{kept}");
    assert!(noisy.log.dropped > 0);

    // And the host is healthy: a normal invocation right after.
    let fine = runtime.issue_token(&target, &request("env")).await;
    assert!(fine.result.is_ok(), "{fine:?}");
}}
