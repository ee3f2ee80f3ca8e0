//! The node's egress policy, end to end: a tenant that allows `127.0.0.1`, `localhost` or a
//! mapped IPv6 form of loopback still reaches none of them from a node whose operator did
//! not allow loopback — through `wasi:http` (a Rust guest) and through the contract's
//! `fetch` (a JavaScript guest) — and a name is resolved once, so an answer that changes
//! between the check and the connection (DNS rebinding) never reaches the internal address.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use keyhaven::extensions::egress::{EgressPolicy, Resolution, Resolve};
use keyhaven::extensions::otp_delivery::Delivery;
use keyhaven::extensions::token_issuance::{Decision, Subject, TokenRequest};
use keyhaven::extensions::{Hook, Limits, NodeLimits};
use keyhaven_tests::{FakeHttpServer, TestServer, TestTenant, guests, js};
use reqwest::Method;
use serde_json::{Value, json};

use crate::hooks::otp;

/// A node as an operator runs it: the default egress policy (no allow-list).
fn default_node() -> NodeLimits {
    NodeLimits { concurrent_invocations: 16, ..NodeLimits::default() }
}

/// The misbehaving guest's token-issuance hook asked to `GET url`: the claims it added (the
/// status, or the error it was given) and the invocation's captured log.
async fn fetched(server: &TestServer, tenant: &TestTenant, url: &str) -> (Value, String) {
    let target = server.target(tenant, "extension", Hook::TokenIssuance).await.unwrap();
    let request = TokenRequest {
        subject: Subject::Client {
            client_id: "cl".into(),
            name: "c".into(),
            attributes: json!({"behaviour": "http", "url": url}),
        },
        grant_type: "client_credentials".into(),
        scopes: Vec::new(),
        audience: Vec::new(),
    };
    let invocation = server.state.extensions.issue_token(&target, &request).await;
    let log = invocation.log.lines.iter().map(|l| l.message.clone()).collect::<Vec<_>>().join("\n");
    let claims = match invocation.result {
        Ok(Decision::Issue { access_token, .. }) => Value::Object(access_token.into_iter().collect()),
        other => panic!("{url}: {other:?} ({log})"),
    };
    (claims, log)
}

db_test! {
async fn a_tenant_that_allows_loopback_still_reaches_no_internal_address_of_the_node() {
    let server = TestServer::start_with_node(Limits::default(), default_node()).await.unwrap();
    let tenant = server.create_tenant("egress").await.unwrap();
    server.deploy(&tenant, guests::MISBEHAVING).await.unwrap();
    let site = FakeHttpServer::start(200, json!({"ok": true})).await.unwrap();
    let port = site.address.port();
    let hosts = [format!("127.0.0.1:{port}"), format!("localhost:{port}"), format!("[::ffff:127.0.0.1]:{port}"), format!("[::1]:{port}")];
    server.admin_ok(&tenant, Method::PUT, "/extension-settings", json!({"allowed_hosts": hosts})).await;

    for (url, why) in [
        (format!("http://127.0.0.1:{port}/ping"), "127.0.0.1, a loopback address the node's egress policy denies"),
        // After resolution: the name is loopback too.
        (format!("http://localhost:{port}/ping"), "a loopback address the node's egress policy denies"),
        (format!("http://[::ffff:127.0.0.1]:{port}/ping"), "127.0.0.1, a loopback address"),
        (format!("http://[::1]:{port}/ping"), "::1, a loopback address"),
    ] {
        let (claims, log) = fetched(&server, &tenant, &url).await;
        assert!(claims.get("http_error").is_some() && claims.get("http_status").is_none(), "{url}: {claims}");
        assert!(log.contains(why), "{url}: the reason is in the invocation's log: {log}");
    }
    assert!(site.received().is_empty(), "nothing reached the node's loopback");

    // The contract's fetch (a JavaScript guest) is held to the same policy.
    let sms = js::component("example-extensions/js/otp-sms/handler.js").unwrap().display().to_string();
    server.deploy_as(&tenant, &sms, "sms", "").await.unwrap();
    server.admin_ok(&tenant, Method::PUT, "/extensions/sms/config", json!({"provider_url": site.url("/v1/messages")})).await;
    server.admin_ok(&tenant, Method::PUT, "/extensions/sms/secrets/api_key", json!({"value": "key-123"})).await;
    let target = server.target(&tenant, "sms", Hook::OtpDelivery).await.unwrap();
    let refused = server.state.extensions.deliver_otp(&target, &otp("AB12CD", Some("+15550100"))).await;
    assert!(matches!(&refused.result, Ok(Delivery::Unavailable(m)) if m.contains("egress policy denies")), "{refused:?}");
    assert!(refused.log.lines.iter().any(|l| l.message.contains("loopback address the node's egress policy denies")), "{:?}", refused.log);
    assert!(site.received().is_empty());
}}

/// A DNS server whose answer changes: a public address first, the node's loopback after.
struct Rebinding {
    internal: SocketAddr,
    asked: AtomicUsize,
}

impl Resolve for Rebinding {
    fn resolve<'a>(&'a self, _host: &'a str, port: u16) -> Resolution<'a> {
        let first = self.asked.fetch_add(1, Ordering::SeqCst) == 0;
        let answer = if first { SocketAddr::from(([93, 184, 215, 14], port)) } else { self.internal };
        Box::pin(async move { Ok(vec![answer]) })
    }
}

db_test! {
async fn a_name_that_rebinds_to_loopback_after_the_check_never_reaches_it() {
    let site = FakeHttpServer::start(200, json!({"ok": true})).await.unwrap();
    let resolver = Arc::new(Rebinding { internal: site.address, asked: AtomicUsize::new(0) });
    let egress = EgressPolicy::default().with_resolver(resolver.clone());
    let server = TestServer::start_with_node(Limits::default(), NodeLimits { egress: Arc::new(egress), ..default_node() }).await.unwrap();
    let tenant = server.create_tenant("rebind").await.unwrap();
    server.deploy(&tenant, guests::MISBEHAVING).await.unwrap();
    let port = site.address.port();
    server.admin_ok(&tenant, Method::PUT, "/extension-settings", json!({"allowed_hosts": [format!("rebind.example:{port}")]})).await;

    // The check saw the public address; the connection goes there (and, with no route out,
    // fails), not to the loopback address a second lookup would have given.
    let client = server.create_client(&tenant, json!({"name": "c", "attributes": {"behaviour": "http", "url": format!("http://rebind.example:{port}/ping")}})).await.unwrap();
    server.token(&tenant, &client).await.unwrap();
    assert_eq!(resolver.asked.load(Ordering::SeqCst), 1, "the name is resolved once per request");
    assert!(site.received().is_empty(), "the rebound address was never reached");

    // The next request resolves afresh, sees loopback, and is refused before connecting.
    let (claims, log) = fetched(&server, &tenant, &format!("http://rebind.example:{port}/ping")).await;
    assert!(claims.get("http_error").is_some(), "{claims}");
    assert!(log.contains("rebind.example resolves to 127.0.0.1, a loopback address"), "{log}");
    assert_eq!(resolver.asked.load(Ordering::SeqCst), 2);
    assert!(site.received().is_empty());
}}

/// A DNS server that knows one name: the fake site on loopback.
struct Named(SocketAddr);

impl Resolve for Named {
    fn resolve<'a>(&'a self, _host: &'a str, _port: u16) -> Resolution<'a> {
        Box::pin(async move { Ok(vec![self.0]) })
    }
}

db_test! {
async fn the_connection_goes_to_the_address_the_check_saw() {
    // Loopback allowed by the operator, and a name only this resolver knows: the request
    // arrives only if the sender connects to the checked address rather than looking the
    // name up again itself.
    let site = FakeHttpServer::start(200, json!({"ok": true})).await.unwrap();
    let loopback = EgressPolicy::parse_allow_list("127.0.0.1").unwrap();
    let egress = EgressPolicy::allowing(loopback).with_resolver(Arc::new(Named(site.address)));
    let server = TestServer::start_with_node(Limits::default(), NodeLimits { egress: Arc::new(egress), ..default_node() }).await.unwrap();
    let tenant = server.create_tenant("named").await.unwrap();
    server.deploy(&tenant, guests::MISBEHAVING).await.unwrap();
    let port = site.address.port();
    server.admin_ok(&tenant, Method::PUT, "/extension-settings", json!({"allowed_hosts": [format!("provider.example:{port}")]})).await;
    let (claims, log) = fetched(&server, &tenant, &format!("http://provider.example:{port}/ping")).await;
    assert_eq!(claims["http_status"], 200, "{claims} {log}");
    let received = site.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].header("host"), Some(format!("provider.example:{port}").as_str()), "the name, not the address, is the Host");
}}
