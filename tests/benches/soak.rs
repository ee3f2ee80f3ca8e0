//! Soak: a long, steady mix of work on one node, to show that memory and latency stay flat
//! and nothing fails that should not. `wrk` keeps `client_credentials` token requests
//! going (tenant `soak`, its `custom-claims` extension bound) while a driver in this process
//! creates accounts (admin writes whose `account.created` events the `event-webhook`
//! extension delivers to a receiver on loopback), changes the client's attributes, and
//! deploys a new version of the extension every window.
//!
//! Each window (`KEYHAVEN_SOAK_WINDOW_SECONDS`, default 30) reports tokens/s, p50 and p99
//! (from wrk), the process's resident memory, the driver's writes and deploys, the event
//! deliveries still pending, and every failure. The run ends with a verdict: flat when the
//! resident memory of the last third of the windows is within 1.25× of the first third's
//! (the first window is warm-up), the p99 within 2×, no failed token request, admin write or
//! deploy, and no delivery backlog growing. The exit status is 1 for failures, a backlog
//! or p99 growth, 2 when only memory grew.
//!
//! `cargo bench -p keyhaven-tests --bench soak` runs an hour (`KEYHAVEN_SOAK_SECONDS`,
//! default 3600); CI runs three minutes in the test profile
//! (`KEYHAVEN_SOAK_SECONDS=180 cargo test -p keyhaven-tests --bench soak`). Needs `wrk`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use keyhaven::extensions::Limits;
use keyhaven_tests::{TestServer, expect_status, guests};
use reqwest::{Method, StatusCode};
use serde_json::json;

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// One window's figures.
#[derive(Clone, Debug, Default)]
struct Window {
    tokens_per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    token_failures: u64,
    rss_mib: f64,
    writes: u64,
    deploys: u64,
    driver_failures: u64,
    pending_deliveries: i64,
}

/// A latency as wrk prints it (`812.00us`, `1.23ms`, `2.01s`), in milliseconds.
fn millis(text: &str) -> f64 {
    let (number, unit) = text.split_at(text.find(|c: char| c.is_alphabetic()).unwrap_or(text.len()));
    let value: f64 = number.parse().unwrap_or(f64::NAN);
    match unit {
        "us" => value / 1000.0,
        "ms" => value,
        "s" => value * 1000.0,
        _ => f64::NAN,
    }
}

/// wrk for `seconds`: (tokens/s, p50 ms, p99 ms, failures).
fn run_wrk(url: &str, script: &std::path::Path, seconds: u64, connections: u64) -> (f64, f64, f64, u64) {
    let output = Command::new("wrk")
        .args(["-t", "1", "-c", &connections.to_string(), "-d", &format!("{seconds}s"), "--latency", "-s"])
        .arg(script)
        .arg(url)
        .output()
        .expect("wrk must be installed (Debian: apt install wrk)");
    let text = String::from_utf8_lossy(&output.stdout);
    if std::env::var_os("KEYHAVEN_SOAK_VERBOSE").is_some() {
        eprintln!("{text}");
    }
    let (mut rate, mut p50, mut p99, mut failures) = (0.0, f64::NAN, f64::NAN, 0);
    for line in text.lines() {
        match line.split_whitespace().collect::<Vec<_>>().as_slice() {
            ["Requests/sec:", value] => rate = value.parse().unwrap_or(0.0),
            ["50%", value] => p50 = millis(value),
            ["99%", value] => p99 = millis(value),
            ["Non-2xx", "or", "3xx", "responses:", value] => failures += value.parse::<u64>().unwrap_or(0),
            // "Socket errors: connect 0, read 0, write 0, timeout 4"
            ["Socket", "errors:", counts @ ..] => {
                failures += counts.iter().filter_map(|c| c.trim_end_matches(',').parse::<u64>().ok()).sum::<u64>()
            }
            _ => {}
        }
    }
    (rate - failures as f64 / seconds as f64, p50, p99, failures)
}

/// This process's resident memory, in MiB (Linux `/proc/self/status`).
fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next()?.parse::<f64>().ok())
        .unwrap_or(f64::NAN);
    kib / 1024.0
}

/// A webhook receiver on loopback that counts what it receives and keeps none of it (so
/// the soak's own memory stays flat).
async fn counting_receiver() -> (std::net::SocketAddr, Arc<AtomicU64>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let count = Arc::new(AtomicU64::new(0));
    let counted = count.clone();
    let app = axum::Router::new().fallback(move || {
        let counted = counted.clone();
        async move {
            counted.fetch_add(1, Ordering::Relaxed);
            axum::Json(json!({}))
        }
    });
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (address, count)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let total = setting("KEYHAVEN_SOAK_SECONDS", 3600);
    let window = setting("KEYHAVEN_SOAK_WINDOW_SECONDS", 30).min(total.max(1));
    let connections = setting("KEYHAVEN_SOAK_CONNECTIONS", 16);
    let windows = (total / window).max(3);
    println!(
        "keyhaven soak: {windows} windows of {window} s, wrk -t1 -c{connections}, driver: accounts, client changes, deploys\n"
    );

    let server =
        TestServer::start_with(Limits { hook_deadline: Duration::from_secs(1), ..Limits::default() }).await.unwrap();
    let tenant = server.create_tenant("soak").await.unwrap();
    // The plan's quotas are for tenants, not for this: without room the tenant's invocations
    // per minute run out under wrk, and its token requests are refused until the minute ends.
    let overrides = json!({"overrides": {
        "token_requests_per_second": 1_000_000, "token_burst": 1_000_000,
        "invocations_per_minute": 10_000_000, "fuel_per_second": 1_000_000_000_000u64,
        // As many in flight as wrk has connections (the default, 8, refuses a few at warm-up).
        "concurrent_invocations": 16,
    }});
    let path = format!("/admin/v1/tenants/{}/limits", tenant.name);
    expect_status(server.call(Method::PUT, &server.root_token, &path, Some(overrides)).await.unwrap(), StatusCode::OK)
        .await
        .unwrap();
    server.deploy(&tenant, guests::CUSTOM_CLAIMS).await.unwrap();
    let (receiver, received) = counting_receiver().await;
    server.deploy_as(&tenant, guests::EVENT_WEBHOOK, "webhook", "&bind=none").await.unwrap();
    server
        .admin_ok(
            &tenant,
            Method::PUT,
            "/extensions/webhook/config",
            json!({"webhook_url": format!("http://{receiver}/hook")}),
        )
        .await;
    let hosts = json!({"allowed_hosts": [receiver.to_string()]});
    server.admin_ok(&tenant, Method::PUT, "/extension-settings", hosts).await;
    let binding = json!({"hook": "events", "extension": "webhook", "filter": {"action": ["account.created"]}});
    server.admin_ok(&tenant, Method::POST, "/bindings", binding).await;
    let client = server.create_client(&tenant, json!({"name": "load", "attributes": {"org": "acme"}})).await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("soak.lua");
    let credentials =
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", client.client_id, client.client_secret));
    std::fs::write(
        &script,
        format!(
            "wrk.method = \"POST\"\nwrk.body = \"grant_type=client_credentials\"\n\
             wrk.headers[\"Content-Type\"] = \"application/x-www-form-urlencoded\"\n\
             wrk.headers[\"Authorization\"] = \"Basic {credentials}\"\n"
        ),
    )
    .unwrap();
    let url = server.url(&format!("/t/{}/oauth2/token", tenant.name));

    // The driver: an account every 100 ms, the client's attributes every second.
    let server = Arc::new(server);
    let (writes, deploys, failures) =
        (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let running = Arc::new(AtomicBool::new(true));
    let driver = tokio::spawn({
        let (server, tenant, client) = (server.clone(), tenant.clone(), client.clone());
        let (writes, failures, running) = (writes.clone(), failures.clone(), running.clone());
        async move {
            let mut n: u64 = 0;
            while running.load(Ordering::Relaxed) {
                n += 1;
                let path = format!("/admin/v1/tenants/{}/accounts", tenant.name);
                let body = json!({"username": format!("soak-{n}")});
                let created = server.call(Method::POST, &tenant.admin_token, &path, Some(body)).await;
                match created {
                    Ok(response) if response.status() == StatusCode::CREATED => writes.fetch_add(1, Ordering::Relaxed),
                    _ => failures.fetch_add(1, Ordering::Relaxed),
                };
                if n.is_multiple_of(10) {
                    let path = format!("/admin/v1/tenants/{}/clients/{}", tenant.name, client.client_id);
                    let body = json!({"attributes": {"org": "acme", "round": n}});
                    match server.call(Method::PATCH, &tenant.admin_token, &path, Some(body)).await {
                        Ok(response) if response.status().is_success() => writes.fetch_add(1, Ordering::Relaxed),
                        _ => failures.fetch_add(1, Ordering::Relaxed),
                    };
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    });

    let started = Instant::now();
    let mut results: Vec<Window> = Vec::new();
    println!(
        "window  tokens/s   p50 ms   p99 ms  failed   RSS MiB  writes  deploys  driver-failed  pending-deliveries"
    );
    for index in 0..windows {
        let (before_writes, before_deploys) = (writes.load(Ordering::Relaxed), deploys.load(Ordering::Relaxed));
        let before_failures = failures.load(Ordering::Relaxed);
        // A new version of the extension, deployed while the load runs.
        let deploying = tokio::spawn({
            let (server, tenant, deploys, failures) =
                (server.clone(), tenant.clone(), deploys.clone(), failures.clone());
            async move {
                match server.deploy(&tenant, guests::CUSTOM_CLAIMS).await {
                    Ok(_) => deploys.fetch_add(1, Ordering::Relaxed),
                    Err(_) => failures.fetch_add(1, Ordering::Relaxed),
                };
            }
        });
        let (url, script) = (url.clone(), script.clone());
        let (rate, p50, p99, token_failures) =
            tokio::task::spawn_blocking(move || run_wrk(&url, &script, window, connections)).await.unwrap();
        deploying.await.unwrap();
        let (pending_deliveries, _) = server.state.db.queue_depths().await.unwrap_or((-1, -1));
        let result = Window {
            tokens_per_second: rate,
            p50_ms: p50,
            p99_ms: p99,
            token_failures,
            rss_mib: rss_mib(),
            writes: writes.load(Ordering::Relaxed) - before_writes,
            deploys: deploys.load(Ordering::Relaxed) - before_deploys,
            driver_failures: failures.load(Ordering::Relaxed) - before_failures,
            pending_deliveries,
        };
        println!(
            "{:>6} {:>9.0} {:>8.2} {:>8.2} {:>7} {:>9.1} {:>7} {:>8} {:>14} {:>19}",
            index + 1,
            result.tokens_per_second,
            result.p50_ms,
            result.p99_ms,
            result.token_failures,
            result.rss_mib,
            result.writes,
            result.deploys,
            result.driver_failures,
            result.pending_deliveries
        );
        results.push(result);
    }
    running.store(false, Ordering::Relaxed);
    driver.await.unwrap();

    // The verdict: the first window warms up; the first third after it against the last.
    let measured = &results[1..];
    let third = (measured.len() / 3).max(1);
    let (first, last) = (&measured[..third], &measured[measured.len() - third..]);
    let rss = |w: &[Window]| median(w.iter().map(|w| w.rss_mib).collect());
    let p99 = |w: &[Window]| median(w.iter().map(|w| w.p99_ms).collect());
    let rss_growth = rss(last) / rss(first);
    let p99_growth = p99(last) / p99(first);
    let token_failures: u64 = results.iter().map(|w| w.token_failures).sum();
    let driver_failures: u64 = results.iter().map(|w| w.driver_failures).sum();
    let backlog = last.iter().map(|w| w.pending_deliveries).max().unwrap_or(0);
    let accounts: u64 = results.iter().map(|w| w.writes).sum();
    let tokens: f64 = results.iter().map(|w| w.tokens_per_second * window as f64).sum();
    println!(
        "\n{:.0} s: {tokens:.0} tokens, {accounts} admin writes, {} deploys, {} events received",
        started.elapsed().as_secs_f64(),
        results.iter().map(|w| w.deploys).sum::<u64>(),
        received.load(Ordering::Relaxed)
    );
    println!(
        "resident memory {:.1} → {:.1} MiB ({rss_growth:.2}×, at most 1.25×); p99 {:.2} → {:.2} ms ({p99_growth:.2}×, at most 2×)",
        rss(first),
        rss(last),
        p99(first),
        p99(last)
    );
    println!(
        "failed: {token_failures} token requests, {driver_failures} admin writes or deploys; pending deliveries at the end: {backlog}"
    );
    let steady = p99_growth <= 2.0 && token_failures == 0 && driver_failures == 0 && backlog < 100;
    let memory_flat = rss_growth <= 1.25;
    println!(
        "verdict: {}",
        match (steady, memory_flat) {
            (true, true) => "flat",
            (true, false) => "NOT flat: resident memory grew",
            (false, _) => "NOT flat: failures, a backlog or p99 growth",
        }
    );
    // Exit 1 for failures, a backlog or p99 growth; 2 when only memory grew.
    if !steady {
        std::process::exit(1);
    }
    if !memory_flat {
        std::process::exit(2);
    }
}
