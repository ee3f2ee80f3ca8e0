//! JavaScript extensions end to end: the examples under `example-extensions/js/` and the
//! hostile guest under `tests/guests/js/` built with the SDK's own build command
//! (`keyhaven-js build`, from `sdk/js`'s lockfile), uploaded through the admin API, and run
//! in the same sandbox as any component: claims in a verified token, a denial, an account
//! screened, the plan's JavaScript limits, and hostile JavaScript stopped with typed
//! errors while another tenant's JavaScript extension keeps answering.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::hooks::otp;
use keyhaven::clock::ManualClock;
use keyhaven::extensions::account_creation::{AccountData, Source, Verdict};
use keyhaven::extensions::otp_delivery::Delivery;
use keyhaven::extensions::token_issuance::{Decision, Subject, TokenRequest};
use keyhaven::extensions::{Hook, InvokeError, Language, Limits, NodeLimits, Outcome};
use keyhaven_tests::{FakeHttpServer, TestServer, TestTenant, expect_status, js};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const CUSTOM_CLAIMS: &str = "example-extensions/js/custom-claims/handler.ts";
const ACCOUNT_GUARD: &str = "example-extensions/js/account-guard/handler.js";
const OTP_SMS: &str = "example-extensions/js/otp-sms/handler.js";
const COGNITO_PORT: &str = "example-extensions/js/cognito-port/handler.js";
const HOSTILE: &str = "tests/guests/js/hostile/handler.js";
const RELAY: &str = "tests/guests/js/relay/handler.js";

/// The built component's path, for `TestServer::deploy`.
fn built(entry: &str) -> String {
    js::component(entry).unwrap().display().to_string()
}

fn request(attributes: Value) -> TokenRequest {
    TokenRequest {
        subject: Subject::Client { client_id: "cl".into(), name: "c".into(), attributes },
        grant_type: "client_credentials".into(),
        scopes: Vec::new(),
        audience: Vec::new(),
    }
}

db_test! {
async fn a_typescript_extension_adds_claims_to_a_verified_token_and_can_deny() {
    let server = TestServer::start().await.unwrap();
    let tenant = server.create_tenant("js-claims").await.unwrap();
    let deployment = server.deploy_as(&tenant, &built(CUSTOM_CLAIMS), "claims", "").await.unwrap();
    assert_eq!(deployment["language"], "javascript", "{deployment}");
    assert_eq!(deployment["hooks"], json!(["token-issuance"]));
    let path = format!("/admin/v1/tenants/{}/kv/org:acme", tenant.name);
    let stored = server.call(Method::PUT, &tenant.admin_token, &path, Some(json!({"plan": "gold"}))).await.unwrap();
    assert!(stored.status().is_success(), "{}", stored.status());

    let client = server
        .create_client(&tenant, json!({"name": "billing", "attributes": {"org": "acme", "roles": ["reader", "billing"]}}))
        .await
        .unwrap();
    let body = expect_status(server.token(&tenant, &client).await.unwrap(), StatusCode::OK).await.unwrap();
    let claims = server.verify(&tenant, body["access_token"].as_str().unwrap(), &tenant.issuer).await.unwrap();
    assert_eq!(claims["issued_by_extension"], "custom-claims-js");
    assert_eq!(claims["org"], "acme");
    assert_eq!(claims["plan"], "gold");
    assert_eq!(claims["roles"], json!(["reader", "billing"]));

    let suspended =
        server.create_client(&tenant, json!({"name": "s", "attributes": {"suspended": true}})).await.unwrap();
    let denied = expect_status(server.token(&tenant, &suspended).await.unwrap(), StatusCode::BAD_REQUEST).await.unwrap();
    assert_eq!(denied["error"], "access_denied");
    assert_eq!(denied["error_description"], "this client is suspended");

    // The handler's console lines are in the invocation log, at their level.
    let target = server.target(&tenant, "claims", Hook::TokenIssuance).await.unwrap();
    assert_eq!(target.compiled.language, Language::JavaScript);
    let run = server.state.extensions.issue_token(&target, &request(json!({"suspended": true}))).await;
    assert_eq!(run.outcome, Outcome::Denied);
    let line = &run.log.lines[0];
    assert_eq!((line.level, line.message.as_str()), ("warn", "refusing a token to suspended subject cl"));
}}

db_test! {
async fn a_javascript_account_guard_denies_disposable_domains_and_normalises_names() {
    let server = TestServer::start().await.unwrap();
    let tenant = server.create_tenant("js-guard").await.unwrap();
    server.deploy_as(&tenant, &built(ACCOUNT_GUARD), "guard", "").await.unwrap();
    let target = server.target(&tenant, "guard", Hook::AccountCreation).await.unwrap();
    let runtime = &server.state.extensions;
    let account = |username: &str, email: &str, name: &str| AccountData {
        username: username.into(),
        email: Some(email.into()),
        phone: None,
        attributes: json!({"name": name, "team": "blue"}).as_object().unwrap().clone(),
    };

    let disposable = runtime
        .before_account_creation(&target, Source::SelfRegistration, &account("bob", "bob@mailinator.com", "Bob"))
        .await;
    assert!(matches!(&disposable.result, Ok(Verdict::Deny(reason)) if reason.contains("mailinator.com")), "{disposable:?}");
    assert_eq!(disposable.outcome, Outcome::Denied);

    let messy = runtime
        .before_account_creation(&target, Source::Admin, &account("  Alice ", "ALICE@Example.com", " Alice   Smith "))
        .await;
    let Ok(Verdict::AllowWith(changed)) = messy.result else { panic!("{messy:?}") };
    assert_eq!(changed.username, "alice");
    assert_eq!(changed.email.as_deref(), Some("alice@example.com"));
    assert_eq!(changed.attributes["name"], "Alice Smith");
    assert_eq!(changed.attributes["team"], "blue", "attributes it did not touch are kept");

    let clean =
        runtime.before_account_creation(&target, Source::Admin, &account("carol", "carol@example.com", "Carol")).await;
    assert!(matches!(clean.result, Ok(Verdict::Allow)), "{clean:?}");

    // Through the admin API: the account is refused with the extension's reason, and nothing
    // is created.
    let path = format!("/admin/v1/tenants/{}/accounts", tenant.name);
    let body = json!({"username": "eve", "email": "eve@yopmail.com"});
    let refused = server.call(Method::POST, &tenant.admin_token, &path, Some(body)).await.unwrap();
    let status = refused.status();
    let problem = refused.text().await.unwrap();
    assert!(status.is_client_error(), "{status} {problem}");
    assert!(problem.contains("yopmail.com"), "{problem}");
    let listed = server.get(&tenant.admin_token, &path).await.unwrap();
    assert!(!listed.to_string().contains("eve"), "{listed}");
}}

db_test! {
async fn a_javascript_component_is_held_to_the_plans_javascript_upload_size() {
    // The base limit would take it; the JavaScript one does not.
    let limits = Limits { component_bytes: 8 << 20, js_component_bytes: 1 << 20, ..Limits::default() };
    let server = TestServer::start_with(limits).await.unwrap();
    let tenant = server.create_tenant("js-size").await.unwrap();
    let component = js::component_bytes(CUSTOM_CLAIMS).unwrap();
    assert!(component.len() > 1 << 20, "a QuickJS component is over 1 MiB: {}", component.len());
    let response = server.upload(&tenant, component).await.unwrap();
    let problem = expect_status(response, StatusCode::PAYLOAD_TOO_LARGE).await.unwrap();
    assert!(problem["detail"].as_str().unwrap().contains("limit is 1048576 bytes"), "{problem}");
}}

// Two worker threads, as the service runs on this 2-vCPU machine.
db_test! {
multi_thread async fn hostile_javascript_is_stopped_with_typed_errors_while_another_tenant_keeps_answering() {
    let server = TestServer::start().await.unwrap();
    let hostile = server.create_tenant("js-hostile").await.unwrap();
    let healthy = server.create_tenant("js-healthy").await.unwrap();
    server.deploy(&hostile, &built(HOSTILE)).await.unwrap();
    server.deploy(&healthy, &built(CUSTOM_CLAIMS)).await.unwrap();
    // The healthy tenant's deadline is generous so that a busy test machine cannot fail
    // it: what is asserted is that it keeps answering, not how fast this machine is.
    // The hostile tenant's too, so that each case meets the limit it is about (fuel,
    // memory, stack, output) however busy the machine is, rather than the deadline.
    for (tenant, deadline_ms) in [(&healthy, 5000), (&hostile, 2000)] {
        let path = format!("/admin/v1/tenants/{}/limits", tenant.name);
        let overrides = json!({"overrides": {"token_deadline_ms": deadline_ms}});
        let response = server.call(Method::PUT, &server.root_token, &path, Some(overrides)).await.unwrap();
        expect_status(response, StatusCode::OK).await.unwrap();
    }
    let hostile_target = server.target(&hostile, "extension", Hook::TokenIssuance).await.unwrap();
    let healthy_target = server.target(&healthy, "extension", Hook::TokenIssuance).await.unwrap();
    let runtime = server.state.extensions.clone();

    // The healthy tenant's extension answers throughout.
    let keep_going = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let healthy_calls = {
        let (runtime, target, keep_going) = (runtime.clone(), healthy_target.clone(), keep_going.clone());
        tokio::spawn(async move {
            let mut answered = 0;
            while keep_going.load(std::sync::atomic::Ordering::Relaxed) || answered == 0 {
                let run = runtime.issue_token(&target, &request(json!({"org": "ok"}))).await;
                assert!(run.result.is_ok(), "{run:?}");
                answered += 1;
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            answered
        })
    };

    let limits = Limits::default();
    let started = Instant::now();
    let run = |mode: &'static str| {
        let (runtime, target) = (runtime.clone(), hostile_target.clone());
        async move { runtime.issue_token(&target, &request(json!({"mode": mode}))).await }
    };
    let looping = run("loop").await;
    assert!(matches!(looping.result, Err(InvokeError::Fuel(f)) if f == limits.js_fuel), "{looping:?}");
    let recursion = run("recursion").await;
    assert!(matches!(recursion.result, Err(InvokeError::StackOverflow) | Err(InvokeError::Trap(_))), "{recursion:?}");
    let memory = run("memory").await;
    assert!(matches!(memory.result, Err(InvokeError::Memory(bytes)) if bytes == limits.js_memory_bytes), "{memory:?}");
    let output = run("output").await;
    assert!(matches!(output.result, Err(InvokeError::InvalidOutput(ref m)) if m.contains("bytes of claims")), "{output:?}");
    let thrown = run("throw").await;
    assert!(matches!(thrown.result, Err(InvokeError::Trap(_))), "{thrown:?}");
    assert!(thrown.log.lines.iter().any(|l| l.level == "error" && l.message.contains("hostile guest threw on purpose")), "{:?}", thrown.log);
    let pending = run("pending").await;
    assert!(matches!(pending.result, Err(InvokeError::Trap(_))), "{pending:?}");
    assert!(pending.log.lines.iter().any(|l| l.message.contains("did not settle")), "{:?}", pending.log);
    // Each stopped within its deadline.
    for stopped in [&looping, &recursion, &memory, &output, &thrown, &pending] {
        assert!(stopped.duration < Duration::from_millis(2000), "{:?}", stopped.duration);
    }
    keep_going.store(false, std::sync::atomic::Ordering::Relaxed);
    let answered = healthy_calls.await.unwrap();
    assert!(answered > 0, "the healthy tenant answered {answered} times in {:?}", started.elapsed());

    // And the hostile tenant's own extension still runs normally afterwards.
    let fine = run("none").await;
    let claims = fine.result.unwrap();
    assert!(format!("{claims:?}").contains("mode"), "{claims:?}");
}}

/// A server whose node has the SDK's JavaScript toolchain, as `keyhaven serve` finds it in a
/// checkout whose `sdk/js` packages are installed.
async fn server_with_toolchain() -> TestServer {
    let node = NodeLimits { js_builder: Some(js::builder_script().unwrap()), ..NodeLimits::default() };
    TestServer::start_with_node(Limits::default(), node).await.unwrap()
}

async fn upload_source(
    server: &TestServer,
    tenant: &TestTenant,
    name: &str,
    media_type: &str,
    source: &str,
) -> reqwest::Response {
    let query = format!("?name={name}");
    server.upload_as(&tenant.admin_token, &tenant.name, &query, media_type, source.as_bytes().to_vec()).await.unwrap()
}

db_test! {
async fn typescript_uploaded_as_source_is_built_in_the_background_and_kept() {
    let server = server_with_toolchain().await;
    let tenant = server.create_tenant("js-source").await.unwrap();
    let source = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../", "example-extensions/js/custom-claims/handler.ts")).unwrap();
    let accepted = expect_status(upload_source(&server, &tenant, "claims", "application/typescript", &source).await, StatusCode::ACCEPTED).await.unwrap();
    assert_eq!(accepted["state"], "PENDING", "{accepted}");
    assert_eq!(accepted["source_type"], "typescript");
    assert_eq!(accepted["language"], "javascript");
    let version = server.wait_built(&tenant, accepted["id"].as_str().unwrap()).await.unwrap();
    assert_eq!(version["state"], "ENABLED", "{version}");
    assert_eq!(version["hooks"], json!(["token-issuance"]));
    assert!(version["size_bytes"].as_i64().unwrap() > 1 << 20, "the built component is stored: {version}");

    // It issues claims like the component built by hand, and its source is kept as sent.
    let client = server.create_client(&tenant, json!({"name": "c", "attributes": {"org": "acme"}})).await.unwrap();
    let body = expect_status(server.token(&tenant, &client).await.unwrap(), StatusCode::OK).await.unwrap();
    let claims = server.verify(&tenant, body["access_token"].as_str().unwrap(), &tenant.issuer).await.unwrap();
    assert_eq!(claims["issued_by_extension"], "custom-claims-js");
    let path = format!("/admin/v1/tenants/{}/deployments/{}/source", tenant.name, accepted["id"].as_str().unwrap());
    let kept = server.http.get(server.url(&path)).bearer_auth(&tenant.admin_token).send().await.unwrap();
    assert_eq!(kept.status(), StatusCode::OK);
    assert!(kept.headers()["content-type"].to_str().unwrap().starts_with("text/typescript"));
    assert_eq!(kept.text().await.unwrap(), source);

    // A component upload has no source to show.
    let component = server.deploy_as(&tenant, &built(ACCOUNT_GUARD), "guard", "").await.unwrap();
    let path = format!("/admin/v1/tenants/{}/deployments/{}/source", tenant.name, component["id"].as_str().unwrap());
    let none = server.http.get(server.url(&path)).bearer_auth(&tenant.admin_token).send().await.unwrap();
    assert_eq!(none.status(), StatusCode::NOT_FOUND);

    // After a restart the built JavaScript is loaded from the compiled-artifact cache: no
    // rebuild, no recompilation, the same claims, and the source is still kept.
    let server = server.restart().await.unwrap();
    let body = expect_status(server.token(&tenant, &client).await.unwrap(), StatusCode::OK).await.unwrap();
    let claims = server.verify(&tenant, body["access_token"].as_str().unwrap(), &tenant.issuer).await.unwrap();
    assert_eq!(claims["issued_by_extension"], "custom-claims-js");
    assert_eq!(server.state.extensions.compilations(), 0, "a restart must not recompile JavaScript");
    let path = format!("/admin/v1/tenants/{}/deployments/{}/source", tenant.name, accepted["id"].as_str().unwrap());
    let kept = server.http.get(server.url(&path)).bearer_auth(&tenant.admin_token).send().await.unwrap();
    assert_eq!(kept.text().await.unwrap(), source);
}}

db_test! {
async fn source_that_does_not_build_fails_with_the_builds_error() {
    let server = server_with_toolchain().await;
    let tenant = server.create_tenant("js-broken").await.unwrap();
    let broken = "export async function onTokenIssuance(event, api) {\n  const = 1;\n}\n";
    let accepted = expect_status(upload_source(&server, &tenant, "broken", "text/javascript", broken).await, StatusCode::ACCEPTED).await.unwrap();
    let failed = server.wait_built(&tenant, accepted["id"].as_str().unwrap()).await.unwrap();
    assert_eq!(failed["state"], "FAILED", "{failed}");
    let error = failed["build_error"].as_str().unwrap();
    assert!(error.contains("handler.js:2:"), "the build's message, with the line: {error}");
    assert!(!error.contains("keyhaven-js-build-"), "no machine path: {error}");

    let no_handler = "export function helper() { return 1; }\n";
    let accepted = expect_status(upload_source(&server, &tenant, "nohandler", "text/javascript", no_handler).await, StatusCode::ACCEPTED).await.unwrap();
    let failed = server.wait_built(&tenant, accepted["id"].as_str().unwrap()).await.unwrap();
    assert_eq!(failed["state"], "FAILED", "{failed}");
    assert!(failed["build_error"].as_str().unwrap().contains("exports no handler"), "{failed}");
    // Neither became the active version of anything.
    let extensions = server.get(&tenant.admin_token, &format!("/admin/v1/tenants/{}/extensions", tenant.name)).await.unwrap();
    assert!(extensions.to_string().contains("broken"));
    assert!(!extensions.to_string().contains("\"active_deployment_id\":\"ext"), "{extensions}");
}}

db_test! {
async fn without_a_javascript_toolchain_source_is_refused_and_components_still_deploy() {
    let server = TestServer::start().await.unwrap();
    let tenant = server.create_tenant("js-none").await.unwrap();
    let response = upload_source(&server, &tenant, "claims", "application/javascript", "export function onTokenIssuance() {}").await;
    let problem = keyhaven_tests::expect_problem(response, StatusCode::UNSUPPORTED_MEDIA_TYPE).await.unwrap();
    assert!(problem["detail"].as_str().unwrap().contains("no JavaScript toolchain"), "{problem}");
    let versions = server.get(&tenant.admin_token, &format!("/admin/v1/tenants/{}/deployments", tenant.name)).await.unwrap();
    assert!(versions.to_string().matches("\"id\"").count() == 0, "nothing was stored: {versions}");
    server.deploy(&tenant, &built(CUSTOM_CLAIMS)).await.unwrap();
    let other = server.upload_as(&tenant.admin_token, &tenant.name, "", "text/plain", b"hello".to_vec()).await.unwrap();
    keyhaven_tests::expect_problem(other, StatusCode::UNSUPPORTED_MEDIA_TYPE).await.unwrap();
}}

db_test! {
async fn a_javascript_otp_sender_posts_each_code_once_with_fetch_to_allowed_hosts_only() {
    let server = TestServer::start().await.unwrap();
    let tenant = server.create_tenant("js-otp").await.unwrap();
    let provider = FakeHttpServer::start(200, json!({"id": "msg-42"})).await.unwrap();
    server.deploy_as(&tenant, &built(OTP_SMS), "sms", "").await.unwrap();
    server.admin_ok(&tenant, Method::PUT, "/extensions/sms/config", json!({"provider_url": provider.url("/v1/messages")})).await;
    server.admin_ok(&tenant, Method::PUT, "/extensions/sms/secrets/api_key", json!({"value": "key-123"})).await;
    let runtime = &server.state.extensions;

    // Not an allowed host yet: `fetch` rejects, the policy's reason is in the log, and
    // nothing reached the provider.
    let target = server.target(&tenant, "sms", Hook::OtpDelivery).await.unwrap();
    let refused = runtime.deliver_otp(&target, &otp("AB12CD", Some("+15550100"))).await;
    assert!(matches!(&refused.result, Ok(Delivery::Unavailable(m)) if m.contains("not among the tenant's allowed hosts")), "{refused:?}");
    assert!(refused.log.lines.iter().any(|l| l.message.contains("not among the tenant's allowed hosts")), "{:?}", refused.log);
    assert!(provider.received().is_empty());

    server.admin_ok(&tenant, Method::PUT, "/extension-settings", json!({"allowed_hosts": [provider.address.to_string()]})).await;
    let target = server.target(&tenant, "sms", Hook::OtpDelivery).await.unwrap();
    let sent = runtime.deliver_otp(&target, &otp("AB12CD", Some("+15550100"))).await;
    assert_eq!(sent.result.unwrap(), Delivery::Delivered(Some("msg-42".into())));
    let received = provider.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].method, "POST");
    assert_eq!(received[0].path, "/v1/messages");
    assert_eq!(received[0].header("authorization"), Some("Bearer key-123"));
    assert_eq!(received[0].header("content-type"), Some("application/json"));
    let body = received[0].json();
    assert_eq!(body["to"], "+15550100");
    assert_eq!(body["reference"], "dl_AB12CD");
    assert_eq!(body["message"], format!("Your {} code is AB12CD", tenant.name));

    // A provider failure is reported as such, and the code is not sent again; a refusal of
    // the number is a rejection.
    provider.answer_with(503, json!({"error": "down"}), Duration::ZERO);
    let failed = runtime.deliver_otp(&target, &otp("ZZ99ZZ", Some("+15550100"))).await;
    assert!(matches!(&failed.result, Ok(Delivery::Unavailable(m)) if m.contains("503")), "{failed:?}");
    assert_eq!(failed.outcome, Outcome::Failed);
    assert_eq!(provider.received().len(), 2, "exactly one attempt per code");
    provider.answer_with(422, json!({"error": "bad number"}), Duration::ZERO);
    let bad = runtime.deliver_otp(&target, &otp("QQ11QQ", Some("+1"))).await;
    assert!(matches!(&bad.result, Ok(Delivery::Rejected(m)) if m.contains("422")), "{bad:?}");
    let no_recipient = runtime.deliver_otp(&target, &otp("WW22WW", None)).await;
    assert!(matches!(no_recipient.result, Ok(Delivery::Rejected(_))), "{no_recipient:?}");
    assert_eq!(provider.received().len(), 3);

    // A dry run sends nothing, whatever the allowed hosts.
    let dry = server.state.extensions.target(
        &server.state.db.tenant_by_name(&tenant.name).await.unwrap().unwrap(), "sms", &target.context.deployment_id,
        target.context.version, Hook::OtpDelivery, true,
    ).await.unwrap();
    let dry_run = runtime.deliver_otp(&dry, &otp("DR33DR", Some("+15550100"))).await;
    assert!(matches!(dry_run.result, Ok(Delivery::Unavailable(_))), "{dry_run:?}");
    assert_eq!(provider.received().len(), 3);
}}

db_test! {
async fn javascript_event_and_schedule_handlers_are_delivered_to_at_least_once() {
    let clock = Arc::new(ManualClock::new(1_800_000_000));
    let server = TestServer::start_with_clock(clock.clone()).await.unwrap();
    let tenant = server.create_tenant("js-events").await.unwrap();
    let receiver = FakeHttpServer::start(500, json!({"error": "not yet"})).await.unwrap();
    let deployment = server.deploy_as(&tenant, &built(RELAY), "relay", "&bind=none").await.unwrap();
    assert_eq!(deployment["hooks"], json!(["events", "scheduled"]));
    server.admin_ok(&tenant, Method::PUT, "/extensions/relay/config", json!({"webhook_url": receiver.url("/hook")})).await;
    server.admin_ok(&tenant, Method::PUT, "/extension-settings", json!({"allowed_hosts": [receiver.address.to_string()]})).await;
    let filter = json!({"action": ["extension.*"], "result": ["success"]});
    server.admin_ok(&tenant, Method::POST, "/bindings", json!({"hook": "events", "extension": "relay", "filter": filter})).await;

    // A deployment is an event the binding wants: the first attempt fails (500) ...
    server.deploy_as(&tenant, &built(CUSTOM_CLAIMS), "claims", "").await.unwrap();
    let runtime = &server.state.extensions;
    assert_eq!(runtime.deliver_due_events().await.unwrap(), 1);
    assert_eq!(receiver.received().len(), 1, "first attempt");
    // ... and the retry after the backoff is delivered.
    receiver.answer_with(200, json!({}), Duration::ZERO);
    clock.advance(2);
    assert_eq!(runtime.deliver_due_events().await.unwrap(), 1);
    let received = receiver.received();
    assert_eq!(received.len(), 2);
    let body = received[1].json();
    assert_eq!(body["action"], "extension.deployed");
    assert_eq!(body["attempt"], 2);
    assert_eq!(body["detail"]["extension"], "claims");
    assert_eq!(received[1].header("x-event-id"), body["id"].as_str());
    assert_eq!(body["id"], received[0].json()["id"], "the same event, redelivered");
    clock.advance(3600);
    assert_eq!(runtime.deliver_due_events().await.unwrap(), 0, "delivered events are not sent again");

    // The same component's schedule handler runs on its binding's schedule.
    server.admin_ok(&tenant, Method::POST, "/bindings", json!({"hook": "scheduled", "extension": "relay", "schedule": "0 * * * * *"})).await;
    clock.advance(60);
    let ran = runtime.run_due_schedules().await.unwrap();
    assert_eq!(ran.len(), 1);
    assert_eq!(ran[0].result, Ok(()));
    let last = receiver.received().pop().unwrap().json();
    assert_eq!(last["schedule"], "0 * * * * *");
    assert_eq!(last["at"].as_i64(), Some(ran[0].due));
}}

db_test! {
async fn a_ported_cognito_pre_token_handler_sets_claims_and_scopes() {
    let server = TestServer::start().await.unwrap();
    let tenant = server.create_tenant("js-cognito").await.unwrap();
    server.deploy_as(&tenant, &built(COGNITO_PORT), "cognito", "&bind=none").await.unwrap();
    let target = server.target(&tenant, "cognito", Hook::TokenIssuance).await.unwrap();
    let runtime = &server.state.extensions;
    let person = |attributes: Value| TokenRequest {
        subject: Subject::Account { account_id: "acc_1".into(), username: "jane".into(), attributes },
        grant_type: "authorization_code".into(),
        scopes: vec!["openid".into(), "profile:write".into()],
        audience: Vec::new(),
    };
    let premium = runtime
        .issue_token(&target, &person(json!({"roles": "admin, billing", "department": "finance", "plan": "premium"})))
        .await;
    let Ok(Decision::Issue { access_token, id_token, add_scopes, suppress_scopes }) = premium.result else {
        panic!("{premium:?}")
    };
    assert!(access_token.contains(&("roles".into(), json!(["admin", "billing"]))), "{access_token:?}");
    assert!(id_token.contains(&("department".into(), json!("finance"))), "{id_token:?}");
    assert_eq!((add_scopes, suppress_scopes), (vec!["reports:read".to_owned()], Vec::<String>::new()));

    let review = runtime.issue_token(&target, &person(json!({"status": "review"}))).await;
    let Ok(Decision::Issue { suppress_scopes, .. }) = review.result else { panic!("{review:?}") };
    assert_eq!(suppress_scopes, vec!["profile:write".to_owned()]);
    let banned = runtime.issue_token(&target, &person(json!({"status": "banned"}))).await;
    assert!(matches!(&banned.result, Ok(Decision::Deny(reason)) if reason == "this account is banned"), "{banned:?}");
}}

/// The SDK's own tests (the queued promises, the generated types up to date, the examples
/// type-checked) and each example's native tests, under Node with the host faked.
#[test]
fn the_sdk_and_the_examples_pass_their_own_node_tests() {
    let examples = ["custom-claims", "account-guard", "otp-sms", "cognito-port"];
    let folders =
        std::iter::once("sdk/js".to_owned()).chain(examples.iter().map(|e| format!("example-extensions/js/{e}")));
    for folder in folders {
        let folder = folder.as_str();
        let output = js::node_tests(folder).unwrap();
        assert!(output.contains("# fail 0") && !output.contains("# pass 0"), "{folder}:\n{output}");
    }
}

/// `keyhaven run-hook` (the local harness) runs a JavaScript component as it runs any other.
#[tokio::test]
async fn run_hook_runs_a_javascript_component_locally() {
    use keyhaven::harness::{RunHook, run_hook};
    let call = RunHook {
        component: js::component(CUSTOM_CLAIMS).unwrap(),
        hook: "token-issuance".into(),
        input: json!({"subject": {"kind": "client", "client_id": "cl_1", "name": "c", "attributes": {"org": "initech"}},
                      "grant_type": "client_credentials"}),
        kv: vec![("org:initech".into(), json!({"plan": "silver"}))],
        dry_run: true,
        ..RunHook::default()
    };
    let run = run_hook(call).await.unwrap();
    assert_eq!(run.outcome, Outcome::Ok, "{run:?}");
    let claims = run.output.as_ref().unwrap()["issue"]["access_token"].as_array().unwrap().clone();
    assert!(claims.contains(&json!(["plan", "silver"])), "{claims:?}");
    assert!(run.log.lines.iter().any(|l| l.message == "added claims for cl_1"), "{:?}", run.log);
}

db_test! {
async fn the_command_line_deploys_javascript_source_and_tests_it() {
    use keyhaven::cli::{Exit, Io, run_args};
    let server = server_with_toolchain().await;
    let tenant = server.create_tenant("js-cli").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("cli.json");
    let env = [("KEYHAVEN_CLI_CONFIG", config.to_str().unwrap().to_owned())];
    let cli = |args: Vec<String>| {
        let env = env.clone();
        async move {
            let (mut out, mut err) = (Vec::new(), Vec::new());
            let lookup = |name: &str| env.iter().find(|(key, _)| *key == name).map(|(_, value)| value.clone());
            let mut io = Io { out: &mut out, err: &mut err, env: &lookup, progress: false };
            let exit = run_args(std::iter::once("keyhaven".to_owned()).chain(args), &mut io).await;
            (exit, String::from_utf8(out).unwrap(), String::from_utf8(err).unwrap())
        }
    };
    let args = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    let (exit, _, err) = cli(args(&["login", "--url", &server.base_url, "--token", &tenant.admin_token])).await;
    assert_eq!(exit, Exit::Ok, "{err}");

    let handler = concat!(env!("CARGO_MANIFEST_DIR"), "/../example-extensions/js/account-guard/handler.js");
    let (exit, out, err) = cli(args(&["ext", "deploy", handler, "--name", "guard", "--json"])).await;
    assert_eq!(exit, Exit::Ok, "{out}{err}");
    let deployed: Value = serde_json::from_str(&out).unwrap();
    assert_eq!((deployed["state"].as_str(), deployed["source_type"].as_str()), (Some("ENABLED"), Some("javascript")));

    let input = dir.path().join("account.json");
    let account = json!({"source": "admin", "account": {"username": "Bob", "email": "bob@mailinator.com", "attributes": {}}});
    std::fs::write(&input, account.to_string()).unwrap();
    let (exit, out, err) =
        cli(args(&["ext", "test", "guard", "--hook", "account-creation", "--input", input.to_str().unwrap(), "--json"])).await;
    assert_eq!(exit, Exit::ExtensionFailed, "a denial is not `ok`: {out}{err}");
    let run: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(run["outcome"], "denied", "{run}");
}}
