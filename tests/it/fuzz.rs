//! Property tests of what the service reads from strangers, through the real router over
//! HTTP: token requests of any form, credentials and content type; tokens of any shape at
//! introspection; and uploads of damaged components. Each case runs once per test run
//! (`PROPTEST_CASES`, default 256, sets how many; a longer fuzzing run is
//! `PROPTEST_CASES=20000 cargo test -p keyhaven-tests --test it fuzz`). A failing case is
//! shrunk and printed; it is then kept as a regression test in the module it concerns.
//!
//! Each case comes from its own loopback address (127.0.0.2 …), so the failed
//! authentications it makes on purpose stay below the brute-force thresholds of one address.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use keyhaven_tests::{TestClient, TestServer, TestTenant, guests};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// The error codes of RFC 6749 §5.2 (and RFC 7009's, at revocation) a token client may get.
const OAUTH_ERRORS: &[&str] = &[
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
    "temporarily_unavailable",
];

/// A tenant and a client on a server running on its own multi-threaded runtime, so the
/// synchronous property runner can block on each request.
fn fixture() -> (tokio::runtime::Runtime, TestServer, TestTenant, TestClient) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let (server, tenant, client) = runtime.block_on(async {
        let server = TestServer::start().await.unwrap();
        let tenant = server.create_tenant("fuzz").await.unwrap();
        let overrides = json!({"overrides": {"token_requests_per_second": 100_000, "token_burst": 100_000}});
        let path = format!("/admin/v1/tenants/{}/limits", tenant.name);
        let set = server.call(Method::PUT, &server.root_token, &path, Some(overrides)).await.unwrap();
        assert_eq!(set.status(), StatusCode::OK);
        let client = server.create_client(&tenant, json!({"name": "c", "scopes": ["read", "write"]})).await.unwrap();
        (server, tenant, client)
    });
    (runtime, server, tenant, client)
}

/// A client that connects from a loopback address no earlier case used (cycling).
fn from_next_address() -> reqwest::Client {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let address = Ipv4Addr::new(127, 0, 1 + (n / 250 % 200) as u8, 2 + (n % 250) as u8);
    reqwest::Client::builder().local_address(IpAddr::V4(address)).timeout(Duration::from_secs(20)).build().unwrap()
}

fn runner() -> TestRunner {
    TestRunner::new(Config { failure_persistence: None, ..Config::default() })
}

/// Parameter names the endpoints know, and some they do not.
fn key() -> impl Strategy<Value = String> {
    let known = prop::sample::select(vec![
        "grant_type",
        "client_id",
        "client_secret",
        "scope",
        "code",
        "redirect_uri",
        "code_verifier",
        "refresh_token",
        "client_assertion",
        "client_assertion_type",
        "audience",
        "token",
        "token_type_hint",
    ]);
    prop_oneof![4 => known.prop_map(str::to_owned), 1 => "\\PC{0,12}"]
}

fn value(client: &TestClient) -> impl Strategy<Value = String> {
    let id = client.client_id.clone();
    let secret = client.client_secret.clone();
    prop_oneof![
        Just("client_credentials".to_owned()),
        Just("authorization_code".to_owned()),
        Just("refresh_token".to_owned()),
        Just("urn:ietf:params:oauth:grant-type:jwt-bearer".to_owned()),
        Just("urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_owned()),
        Just(id),
        Just(secret),
        Just("read write".to_owned()),
        Just("read admin".to_owned()),
        jws_shaped(),
        "\\PC{0,40}",
        ".{0,8}",
        "[ -~]{300,2000}",
    ]
}

/// Three (or more) base64url segments of JSON, bytes or nothing.
fn jws_shaped() -> impl Strategy<Value = String> {
    let segment = prop_oneof![
        Just(URL_SAFE_NO_PAD.encode(br#"{"alg":"ES256","kid":"k"}"#)),
        Just(URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#)),
        Just(URL_SAFE_NO_PAD.encode(br#"{"iss":"x","sub":"y","aud":"z","exp":99999999999,"jti":"j"}"#)),
        proptest::collection::vec(any::<u8>(), 0..64).prop_map(|b| URL_SAFE_NO_PAD.encode(b)),
        "[A-Za-z0-9_-]{0,20}",
    ];
    proptest::collection::vec(segment, 1..5).prop_map(|segments| segments.join("."))
}

/// The `Authorization` header of a case.
#[derive(Clone, Debug)]
enum Credentials {
    None,
    Right,
    WrongSecret(String),
    Basic(Vec<u8>),
    Raw(String),
}

fn credentials() -> impl Strategy<Value = Credentials> {
    prop_oneof![
        Just(Credentials::None),
        Just(Credentials::Right),
        Just(Credentials::Right),
        "\\PC{0,20}".prop_map(Credentials::WrongSecret),
        proptest::collection::vec(any::<u8>(), 0..80).prop_map(Credentials::Basic),
        "[ -~]{0,80}".prop_map(Credentials::Raw),
    ]
}

fn content_type() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        4 => Just(Some("application/x-www-form-urlencoded".to_owned())),
        1 => Just(Some("application/json".to_owned())),
        1 => Just(None),
        1 => "[ -~]{0,30}".prop_map(Some),
    ]
}

/// The body of a case: a form of pairs, or raw bytes.
fn body(client: &TestClient) -> impl Strategy<Value = Vec<u8>> {
    let encode = |pairs: Vec<(String, String)>| serde_urlencoded::to_string(pairs).unwrap_or_default().into_bytes();
    let pairs = proptest::collection::vec((key(), value(client)), 0..8).prop_map(encode);
    // A valid client_credentials request with a parameter or two of any kind added.
    let grant = proptest::collection::vec((key(), value(client)), 0..2).prop_map(move |extra| {
        let mut pairs = vec![("grant_type".to_owned(), "client_credentials".to_owned())];
        pairs.extend(extra);
        encode(pairs)
    });
    prop_oneof![3 => pairs, 2 => grant, 1 => proptest::collection::vec(any::<u8>(), 0..300)]
}

fn with_credentials(
    request: reqwest::RequestBuilder,
    credentials: &Credentials,
    client: &TestClient,
) -> reqwest::RequestBuilder {
    match credentials {
        Credentials::None => request,
        Credentials::Right => request.basic_auth(&client.client_id, Some(&client.client_secret)),
        Credentials::WrongSecret(secret) => request.basic_auth(&client.client_id, Some(secret)),
        Credentials::Basic(bytes) => request.header("authorization", format!("Basic {}", STANDARD.encode(bytes))),
        Credentials::Raw(raw) => request.header("authorization", raw.as_str()),
    }
}

/// An OAuth answer: 200 with a token, or a 4xx JSON error with a registered code.
async fn check_oauth_answer(response: reqwest::Response, what: &str) -> Result<(), TestCaseError> {
    let status = response.status();
    let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let text = response.text().await.unwrap_or_default();
    prop_assert!(!status.is_server_error(), "{what}: {status} {text}");
    let body: Value = serde_json::from_str(&text)
        .map_err(|e| TestCaseError::fail(format!("{what}: {status} not JSON ({e}): {text}")))?;
    prop_assert!(content_type.starts_with("application/json"), "{what}: {content_type}");
    if status == StatusCode::OK {
        prop_assert!(body.get("access_token").is_some() || body.get("active").is_some(), "{what}: {body}");
    } else {
        prop_assert!(status.is_client_error(), "{what}: {status}");
        let code = body["error"].as_str().unwrap_or_default();
        prop_assert!(OAUTH_ERRORS.contains(&code), "{what}: {status} {body}");
    }
    Ok(())
}

#[test]
fn the_token_endpoint_answers_any_form_credentials_and_content_type_with_a_token_or_an_oauth_error() {
    let (runtime, server, tenant, client) = fixture();
    let url = server.url(&format!("/t/{}/oauth2/token", tenant.name));
    let case = (body(&client), credentials(), content_type());
    let issued = AtomicU32::new(0);
    runner()
        .run(&case, |(body, credentials, content_type)| {
            runtime.block_on(async {
                let mut request = from_next_address().post(&url).body(body.clone());
                if let Some(content_type) = &content_type {
                    request = request.header("content-type", content_type.as_str());
                }
                let response = with_credentials(request, &credentials, &client).send().await.unwrap();
                if response.status() == StatusCode::OK {
                    issued.fetch_add(1, Ordering::Relaxed);
                }
                let what = format!("{credentials:?} {content_type:?} {:?}", String::from_utf8_lossy(&body));
                check_oauth_answer(response, &what).await
            })
        })
        .unwrap();
    // The generator reaches the issuing path too, or the cases prove little.
    assert!(issued.load(Ordering::Relaxed) > 0, "no case was a valid token request");
}

#[test]
fn introspection_answers_any_token_without_an_error_and_calls_none_active() {
    let (runtime, server, tenant, client) = fixture();
    let url = server.url(&format!("/t/{}/oauth2/introspect", tenant.name));
    let token = prop_oneof![jws_shaped().prop_filter("a token", |t| !t.is_empty()), "\\PC{1,200}"];
    runner()
        .run(&(token, proptest::option::of("\\PC{0,20}")), |(token, hint)| {
            runtime.block_on(async {
                let mut form = vec![("token", token.clone())];
                if let Some(hint) = &hint {
                    form.push(("token_type_hint", hint.clone()));
                }
                let response = from_next_address()
                    .post(&url)
                    .basic_auth(&client.client_id, Some(&client.client_secret))
                    .form(&form)
                    .send()
                    .await
                    .unwrap();
                let status = response.status();
                let body: Value = response.json().await.unwrap_or_default();
                prop_assert_eq!(status, StatusCode::OK, "{:?}: {}", token, body);
                prop_assert_eq!(&body, &json!({"active": false}), "{:?}", token);
                Ok(())
            })
        })
        .unwrap();
}

#[test]
fn a_damaged_component_is_refused_or_fails_its_build_and_the_service_keeps_issuing() {
    let (runtime, server, tenant, client) = fixture();
    let original = guests::bytes(guests::CUSTOM_CLAIMS);
    let damage = proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6);
    let cut = proptest::option::of(any::<prop::sample::Index>());
    let mut runner = TestRunner::new(Config {
        cases: 24.min(Config::default().cases),
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&(damage, cut), |(damage, cut)| {
            let mut bytes = original.clone();
            for (at, byte) in &damage {
                let at = at.index(bytes.len());
                bytes[at] = *byte;
            }
            if let Some(cut) = cut {
                bytes.truncate(cut.index(bytes.len()).max(1));
            }
            runtime.block_on(async {
                let query = "?name=damaged&bind=none";
                let response = server
                    .upload_as(&tenant.admin_token, &tenant.name, query, "application/wasm", bytes)
                    .await
                    .unwrap();
                let status = response.status();
                let body: Value = response.json().await.unwrap_or_default();
                prop_assert!(!status.is_server_error(), "{status} {body}");
                if status == StatusCode::ACCEPTED {
                    let built = server.wait_built(&tenant, body["id"].as_str().unwrap()).await.unwrap();
                    let state = built["state"].as_str().unwrap_or_default();
                    prop_assert!(state == "FAILED" || state == "ENABLED", "{built}");
                } else {
                    prop_assert!(status.is_client_error(), "{status}");
                    prop_assert!(
                        body["type"].as_str().is_some_and(|t| t.starts_with("urn:keyhaven:problem:")),
                        "{body}"
                    );
                }
                Ok(())
            })
        })
        .unwrap();
    runtime.block_on(async {
        let answered = server.token(&tenant, &client).await.unwrap();
        assert_eq!(answered.status(), StatusCode::OK);
    });
}
