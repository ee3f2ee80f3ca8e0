//! The local component harness (`keyhaven::harness`, `keyhaven run-hook`): an author's built
//! component runs as the service runs it — same runtime, limits, host imports and typed
//! outcomes — with configuration, secrets, the key-value store and allowed hosts set up
//! locally, real HTTP to a provider on 127.0.0.1, and no service running.

use std::collections::BTreeMap;

use keyhaven::extensions::Outcome;
use keyhaven::harness::{ComponentHarness, HarnessError, RunHook, run_hook};
use keyhaven_tests::{FakeHttpServer, guests};
use serde_json::{Value, json};

fn client(attributes: Value) -> Value {
    json!({
        "subject": {"kind": "client", "client_id": "cl_1", "name": "billing", "attributes": attributes},
        "grant_type": "client_credentials",
    })
}

fn access_claim(output: &Value, name: &str) -> Option<Value> {
    let claims = output["issue"]["access_token"].as_array()?;
    claims.iter().find(|pair| pair[0] == name).map(|pair| pair[1].clone())
}

#[tokio::test]
async fn custom_claims_runs_as_a_component_with_the_key_value_store_it_was_given() {
    let harness = ComponentHarness::load(&guests::bytes(guests::CUSTOM_CLAIMS)).await.unwrap();
    assert_eq!(harness.hooks(), ["token-issuance"]);
    harness.kv_set("org:acme", &json!({"plan": "gold"})).await.unwrap();

    let run = harness.run("token-issuance", client(json!({"org": "acme", "roles": ["reader"]}))).await.unwrap();
    assert_eq!(run.outcome, Outcome::Ok, "{run:?}");
    let output = run.output.unwrap();
    assert_eq!(access_claim(&output, "plan"), Some(json!("gold")));
    assert_eq!(access_claim(&output, "roles"), Some(json!(["reader"])));
    assert!(run.fuel_used > 0);
    assert!(run.log.lines.iter().any(|line| line.message == "added claims for cl_1"), "{:?}", run.log);

    let denied = harness.run("token-issuance", client(json!({"suspended": true}))).await.unwrap();
    assert_eq!(denied.outcome, Outcome::Denied);
    assert_eq!(denied.output.unwrap()["deny"], "this client is suspended");

    // Mistakes are named, and nothing runs.
    let bad_input = harness.run("token-issuance", json!({"subject": 1})).await.unwrap_err();
    assert!(bad_input.to_string().contains("not a valid token-issuance input"), "{bad_input}");
    let not_exported = harness.run("otp-delivery", json!({})).await.unwrap_err();
    assert!(matches!(not_exported, HarnessError::HookNotExported("otp-delivery", _)), "{not_exported}");
    let unknown = harness.run("login", json!({})).await.unwrap_err();
    assert!(matches!(unknown, HarnessError::UnknownHook(_)), "{unknown}");

    // The harness cleans up after itself.
    let directory = harness.directory().to_owned();
    assert!(directory.join("harness.db").exists());
    drop(harness);
    assert!(!directory.exists());
}

#[tokio::test]
async fn otp_sms_reaches_a_provider_on_loopback_with_its_secret_and_a_dry_run_sends_nothing() {
    let provider = FakeHttpServer::start(200, json!({"id": "msg-7"})).await.unwrap();
    let harness = ComponentHarness::load(&guests::bytes(guests::OTP_SMS)).await.unwrap();
    let config = BTreeMap::from([("provider_url".to_owned(), provider.url("/v1/messages"))]);
    harness.set_config(&config).await.unwrap();
    harness.set_secret("api_key", "key-9").await.unwrap();
    let message = json!({
        "delivery_id": "dl_1", "account_id": "acc_1", "channel": "sms", "recipient": "+15550100",
        "code": "K7Q2ZP", "purpose": "login", "expires_at": 2_000_000_000,
    });

    // No host allowed yet: the guest's request is refused by the host, as in the service.
    let refused = harness.run("otp-delivery", message.clone()).await.unwrap();
    assert_eq!(refused.outcome, Outcome::Failed, "{refused:?}");
    assert!(provider.received().is_empty());

    harness.allow_hosts(&[provider.address.to_string()]).await.unwrap();
    let dry = harness.dry_run("otp-delivery", message.clone()).await.unwrap();
    assert_ne!(dry.outcome, Outcome::Ok, "a dry run sends no HTTP: {dry:?}");
    assert!(provider.received().is_empty());

    let sent = harness.run("otp-delivery", message).await.unwrap();
    assert_eq!(sent.outcome, Outcome::Ok, "{sent:?}");
    assert_eq!(sent.output.unwrap(), json!({"delivered": "msg-7"}));
    let received = provider.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].header("authorization"), Some("Bearer key-9"));
    assert_eq!(received[0].json()["to"], "+15550100");
}

#[tokio::test]
async fn limits_apply_in_the_harness_and_what_the_service_refuses_is_refused() {
    let harness = ComponentHarness::load(&guests::bytes(guests::MISBEHAVING)).await.unwrap();
    let overrides = serde_json::from_value(json!({"fuel": 1_000_000, "token_deadline_ms": 2_000})).unwrap();
    harness.set_limits(&overrides).await.unwrap();
    let looping = harness.run("token-issuance", client(json!({"behaviour": "loop"}))).await.unwrap();
    assert_eq!(looping.outcome, Outcome::Fuel, "{looping:?}");
    assert!(looping.fuel_used >= 1_000_000, "{looping:?}");
    let panicking = harness.run("token-issuance", client(json!({"behaviour": "panic"}))).await.unwrap();
    assert_eq!(panicking.outcome, Outcome::Trap, "{panicking:?}");
    let too_loose = serde_json::from_value(json!({"fuel": 0})).unwrap();
    assert!(harness.set_limits(&too_loose).await.is_err());

    let no_hook = ComponentHarness::load(&guests::bytes(guests::CLI_PROGRAM)).await.unwrap_err();
    assert!(matches!(no_hook, HarnessError::Refused(_)), "{no_hook}");
    let garbage = ComponentHarness::load(b"not a component").await.unwrap_err();
    assert!(matches!(garbage, HarnessError::Refused(_)), "{garbage}");
}

#[tokio::test]
async fn run_hook_sets_the_harness_up_from_a_component_file_as_the_cli_does() {
    let call = RunHook {
        component: guests::CUSTOM_CLAIMS.into(),
        hook: "token-issuance".into(),
        input: client(json!({"org": "initech"})),
        kv: vec![("org:initech".into(), json!({"plan": "silver"}))],
        dry_run: true,
        ..RunHook::default()
    };
    let run = run_hook(call).await.unwrap();
    assert_eq!(run.outcome, Outcome::Ok, "{run:?}");
    assert_eq!(access_claim(run.output.as_ref().unwrap(), "plan"), Some(json!("silver")));

    let missing =
        RunHook { component: "no/such/component.wasm".into(), hook: "token-issuance".into(), ..RunHook::default() };
    assert!(matches!(run_hook(missing).await.unwrap_err(), HarnessError::Read { .. }));
}
