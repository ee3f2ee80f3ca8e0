//! PostgreSQL unreachable for ten seconds under load, between two `keyhaven serve` nodes
//! and a real PostgreSQL: a TCP relay on loopback that the test cuts (every connection
//! reset, new ones refused) and restores, as a database failover or a network partition
//! would. PostgreSQL only: an embedded SQLite file cannot become unreachable.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use keyhaven::clock::SystemClock;
use keyhaven_tests::{TestClient, TestServer, TestTenant, guests};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::service_process::ServiceProcess;

/// A loopback TCP relay to `upstream` that can be cut and restored.
struct CuttableRelay {
    address: SocketAddr,
    state: Arc<RelayState>,
}

#[derive(Default)]
struct RelayState {
    cut: AtomicBool,
    stopped: AtomicBool,
    open: Mutex<Vec<TcpStream>>,
}

impl CuttableRelay {
    fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        listener.set_nonblocking(true).unwrap();
        let state = Arc::new(RelayState::default());
        let relay = state.clone();
        std::thread::spawn(move || {
            while !relay.stopped.load(Ordering::SeqCst) {
                let Ok((client, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                if relay.cut.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let _ = client.set_nonblocking(false);
                let Ok(server) = TcpStream::connect(upstream) else { continue };
                if let Ok(mut open) = relay.open.lock() {
                    open.extend([client.try_clone(), server.try_clone()].into_iter().flatten());
                }
                pipe(client.try_clone(), server.try_clone());
                pipe(server.try_clone(), client.try_clone());
            }
        });
        CuttableRelay { address, state }
    }

    /// Resets every relayed connection and refuses new ones.
    fn cut(&self) {
        self.state.cut.store(true, Ordering::SeqCst);
        if let Ok(mut open) = self.state.open.lock() {
            for stream in open.drain(..) {
                let _ = stream.shutdown(Shutdown::Both);
            }
        }
    }

    fn restore(&self) {
        self.state.cut.store(false, Ordering::SeqCst);
    }
}

impl Drop for CuttableRelay {
    fn drop(&mut self) {
        self.state.stopped.store(true, Ordering::SeqCst);
        self.cut();
    }
}

/// Copies `from` to `to` on a thread of its own until either side ends.
fn pipe(from: std::io::Result<TcpStream>, to: std::io::Result<TcpStream>) {
    let (Ok(mut from), Ok(mut to)) = (from, to) else { return };
    std::thread::spawn(move || {
        let mut buffer = [0u8; 16 << 10];
        while let Ok(n) = from.read(&mut buffer) {
            if n == 0 || to.write_all(&buffer[..n]).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Both);
        let _ = from.shutdown(Shutdown::Both);
    });
}

/// One token request's answer during the load.
#[derive(Debug)]
struct Answer {
    at: Duration,
    took: Duration,
    status: StatusCode,
    error: Option<String>,
    retry_after: Option<String>,
    org: Option<Value>,
}

async fn ask(http: &reqwest::Client, url: &str, client: &TestClient, started: Instant) -> Option<Answer> {
    let at = started.elapsed();
    let sent = http
        .post(url)
        .basic_auth(&client.client_id, Some(&client.client_secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .ok()?;
    let status = sent.status();
    let retry_after = sent.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let body: Value = sent.json().await.unwrap_or_default();
    let org = body["access_token"].as_str().and_then(|token| {
        let claims = token.split('.').nth(1)?;
        use base64::Engine as _;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(claims).ok()?;
        serde_json::from_slice::<Value>(&bytes).ok()?.get("org").cloned()
    });
    let error = body["error"].as_str().map(str::to_owned);
    Some(Answer { at, took: started.elapsed() - at, status, error, retry_after, org })
}

async fn ready(node: &ServiceProcess) -> StatusCode {
    match reqwest::Client::new().get(node.url("/readyz")).timeout(Duration::from_secs(5)).send().await {
        Ok(response) => response.status(),
        Err(_) => StatusCode::REQUEST_TIMEOUT,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgresql_unreachable_for_ten_seconds_gets_clear_503s_and_both_nodes_recover_with_fresh_caches() {
    let Some(database) = keyhaven_tests::Database::postgres() else { return };
    database
        .run(async {
            // The in-process node sets up and changes things over its own, direct connection.
            let server = TestServer::start_with_clock(Arc::new(SystemClock)).await.unwrap();
            let tenant = server.create_tenant("outage").await.unwrap();
            server.deploy(&tenant, guests::CUSTOM_CLAIMS).await.unwrap();
            let overrides = json!({"overrides": {"token_requests_per_second": 100_000, "token_burst": 100_000}});
            let path = format!("/admin/v1/tenants/{}/limits", tenant.name);
            let set = server.call(Method::PUT, &server.root_token, &path, Some(overrides)).await.unwrap();
            assert_eq!(set.status(), StatusCode::OK);
            let client = server.create_client(&tenant, json!({"name": "c", "attributes": {"org": "acme"}})).await.unwrap();

            // Two nodes reach PostgreSQL through the relay.
            let mut url = reqwest::Url::parse(server.database_url()).unwrap();
            let upstream: SocketAddr = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap_or(5432))
                .parse()
                .unwrap();
            let relay = CuttableRelay::start(upstream);
            url.set_host(Some("127.0.0.1")).unwrap();
            url.set_port(Some(relay.address.port())).unwrap();
            let via_relay = url.to_string();
            let nodes = [
                ServiceProcess::beside(&server, &[("KEYHAVEN_DATABASE_URL", &via_relay)]).await.unwrap(),
                ServiceProcess::beside(&server, &[("KEYHAVEN_DATABASE_URL", &via_relay)]).await.unwrap(),
            ];
            let started = Instant::now();
            let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
            for node in &nodes {
                let url = node.url(&format!("/t/{}/oauth2/token", tenant.name));
                let answer = ask(&http, &url, &client, started).await.unwrap();
                assert_eq!((answer.status, answer.org), (StatusCode::OK, Some(json!("acme"))), "warm caches");
            }

            // Token load on both nodes for the whole test.
            let loading = Arc::new(AtomicBool::new(true));
            let mut load = Vec::new();
            for node in &nodes {
                for _ in 0..3 {
                    let (http, url, client, loading) = (
                        http.clone(),
                        node.url(&format!("/t/{}/oauth2/token", tenant.name)),
                        client.clone(),
                        loading.clone(),
                    );
                    load.push(tokio::spawn(async move {
                        let mut answers = Vec::new();
                        while loading.load(Ordering::SeqCst) {
                            if let Some(answer) = ask(&http, &url, &client, started).await {
                                answers.push(answer);
                            }
                            tokio::time::sleep(Duration::from_millis(5)).await;
                        }
                        answers
                    }));
                }
            }
            tokio::time::sleep(Duration::from_secs(1)).await;

            // Ten seconds without PostgreSQL. Meanwhile the binding is removed over the
            // direct connection: a change the two nodes cannot hear of.
            relay.cut();
            let cut_at = started.elapsed();
            remove_binding(&server, &tenant).await;
            tokio::time::sleep(Duration::from_secs(4)).await;
            for node in &nodes {
                assert_eq!(ready(node).await, StatusCode::SERVICE_UNAVAILABLE, "a node without its database is not ready");
            }
            tokio::time::sleep(Duration::from_secs(6)).await;
            relay.restore();
            let restored_at = started.elapsed();

            // Both recover by themselves, and forget what they cached while deaf: their
            // tokens no longer run the removed extension.
            let deadline = Instant::now() + Duration::from_secs(20);
            for node in &nodes {
                let url = node.url(&format!("/t/{}/oauth2/token", tenant.name));
                loop {
                    let answer = ask(&http, &url, &client, started).await;
                    if answer.as_ref().is_some_and(|a| a.status == StatusCode::OK && a.org.is_none()) {
                        break;
                    }
                    assert!(Instant::now() < deadline, "a node did not recover within 20 s: {answer:?}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                assert_eq!(ready(node).await, StatusCode::OK);
            }
            let recovered_in = started.elapsed() - restored_at;
            tokio::time::sleep(Duration::from_millis(500)).await;
            loading.store(false, Ordering::SeqCst);
            let mut answers = Vec::new();
            for task in load {
                answers.extend(task.await.unwrap());
            }

            // Every answer was a token or a clear 503 the client may retry; none hung.
            let during: Vec<&Answer> = answers.iter().filter(|a| a.at > cut_at && a.at < restored_at).collect();
            let refused: Vec<&Answer> = answers.iter().filter(|a| a.status != StatusCode::OK).collect();
            for answer in &refused {
                assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE, "{answer:?}");
                assert_eq!(answer.error.as_deref(), Some("temporarily_unavailable"), "{answer:?}");
                assert_eq!(answer.retry_after.as_deref(), Some("1"), "{answer:?}");
            }
            let slowest = answers.iter().map(|a| a.took).max().unwrap_or_default();
            assert!(slowest < Duration::from_secs(6), "an answer took {slowest:?}");
            assert!(during.iter().any(|a| a.status == StatusCode::SERVICE_UNAVAILABLE), "the outage was not felt");
            assert!(answers.iter().any(|a| a.at > restored_at && a.status == StatusCode::OK));
            for node in &nodes {
                let log = node.log();
                assert!(!log.contains("panicked"), "{log}");
            }
            eprintln!(
                "outage: {} answers, {} during the 10 s cut ({} refused with 503), slowest {slowest:?}, both nodes recovered {recovered_in:?} after",
                answers.len(),
                during.len(),
                refused.len(),
            );
        })
        .await
}

async fn remove_binding(server: &TestServer, tenant: &TestTenant) {
    let bindings = server.admin_ok(tenant, Method::GET, "/bindings", Value::Null).await;
    let id = bindings[0]["id"].as_str().unwrap().to_owned();
    let path = format!("/admin/v1/tenants/{}/bindings/{id}", tenant.name);
    let deleted = server.call(Method::DELETE, &tenant.admin_token, &path, None).await.unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
}
