//! Benchmark of the extension platform, every series measured side by side in one run:
//!
//! 1. one fresh-instance token-issuance invocation of `custom-claims` (new store and
//!    instance from the cached `InstancePre`, the call, the teardown, the record), with and
//!    without fuel metering, alternating between two nodes that differ only in that; its
//!    JavaScript version (`example-extensions/js/custom-claims`, a QuickJS component built
//!    with the SDK's build command) and the metered Rust one again, in alternating blocks
//!    of calls (a JavaScript call goes through 1.6 MiB of memory, which would cool the Rust
//!    call's caches if they alternated call by call); then the metered one with cold caches (16 MiB of other memory written before each call, as a
//!    loaded token path's HTTP, SQL and crypto work does). For both languages it also
//!    reports the component's size, build and compile times, and the linear memory an
//!    instance starts with;
//! 2. whole token requests over loopback HTTP without and with the extension;
//! 3. noisy neighbour: tenant B's token requests (with its extension) while tenant A is
//!    quiet, while A's looping Rust guest keeps A at its in-flight limit, and while
//!    tenant J's looping JavaScript guest does the same to J;
//! 4. builds: tenant B's token requests while no build runs, and while tenant C's uploads
//!    keep the node's compiler busy (each a distinct component, so none comes from the
//!    artifact cache).
//!
//! Run with `cargo bench -p keyhaven-tests --bench invocation` (release build).
//! `KEYHAVEN_BENCH_ITERATIONS` sets the number of measured iterations (default 5000);
//! `KEYHAVEN_BENCH_ONLY=invocation` runs the first series only (the hook alone).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use keyhaven::extensions::token_issuance::{Subject, TokenRequest};
use keyhaven::extensions::{Hook, Limits, NodeLimits};
use keyhaven_tests::{TestServer, expect_status, guests, js};
use reqwest::{Method, StatusCode};
use serde_json::json;

struct Summary {
    name: &'static str,
    samples: Vec<Duration>,
}

impl Summary {
    fn percentile(&self, p: f64) -> Duration {
        let index = ((self.samples.len() as f64 - 1.0) * p).round() as usize;
        self.samples[index]
    }

    fn mean(&self) -> Duration {
        self.samples.iter().sum::<Duration>() / self.samples.len() as u32
    }

    fn print(&self) {
        println!(
            "{:<50} n={:<6} p50={:>9.1?} p90={:>9.1?} p99={:>9.1?} mean={:>9.1?}",
            self.name,
            self.samples.len(),
            self.percentile(0.50),
            self.percentile(0.90),
            self.percentile(0.99),
            self.mean()
        );
    }
}

fn summary(name: &'static str, mut samples: Vec<Duration>) -> Summary {
    samples.sort();
    Summary { name, samples }
}

/// Memory written between the cold-cache series' calls: more than this machine's L2 and
/// half its L3, so the invocation finds little of its own state in cache.
const COLD_BYTES: usize = 16 << 20;

/// Writes one byte in every cache line of `memory`.
fn evict_caches(memory: &mut [u8]) {
    for byte in memory.iter_mut().step_by(64) {
        *byte = byte.wrapping_add(1);
    }
    std::hint::black_box(memory);
}

/// The linear memory a fresh instance of `component` starts with: the initial size of every
/// memory its core modules define (for a QuickJS component, the heap snapshotted at build).
fn initial_memory_bytes(component: &[u8]) -> u64 {
    use wasmparser::{Parser, Payload};
    let mut bytes = 0;
    for payload in Parser::new(0).parse_all(component) {
        if let Ok(Payload::MemorySection(memories)) = payload {
            for memory in memories.into_iter().flatten() {
                bytes += memory.initial * (1 << memory.page_size_log2.unwrap_or(16));
            }
        }
    }
    bytes
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64()
}

#[tokio::main]
async fn main() {
    let iterations: usize =
        std::env::var("KEYHAVEN_BENCH_ITERATIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(5000);
    println!("keyhaven extension benchmark: {iterations} iterations per series\n");

    // 1. The hook alone, metered and unmetered, alternating.
    // The tenants' request rate limits (1,000 token requests a second by default) would
    // shape these series; what they measure is latency, so the rates are raised.
    // So is the per-minute allowance. The per-second fuel budget stays the default: it is
    // what stops series 3's hostile tenants; only series 1's JavaScript tenant gets more
    // (a JavaScript call burns ~0.6 M instructions, so 500 M a second allows ~850 calls).
    let unthrottled = Limits {
        token_requests_per_second: 1_000_000,
        token_burst: 1_000_000,
        invocations_per_minute: u32::MAX,
        ..Limits::default()
    };
    let metered = TestServer::start_with(unthrottled.clone()).await.unwrap();
    let unmetered = TestServer::start_with_node(
        unthrottled,
        NodeLimits { fuel_metering: false, concurrent_invocations: 16, ..NodeLimits::default() },
    )
    .await
    .unwrap();
    let mut targets = Vec::new();
    for server in [&metered, &unmetered] {
        let tenant = server.create_tenant("bench-hook").await.unwrap();
        server.deploy(&tenant, guests::CUSTOM_CLAIMS).await.unwrap();
        targets.push(server.target(&tenant, "extension", Hook::TokenIssuance).await.unwrap());
    }
    let js_entry = "example-extensions/js/custom-claims/handler.ts";
    let js_dir = tempfile::tempdir().unwrap();
    let js_build = js::build_fresh(js_entry, &js_dir.path().join("custom-claims-js.wasm")).unwrap();
    let js_path = js::component(js_entry).unwrap().display().to_string();
    let js_tenant = metered.create_tenant("bench-hook-js").await.unwrap();
    let path = format!("/admin/v1/tenants/{}/limits", js_tenant.name);
    let raised = json!({"overrides": {"fuel_per_second": 1_000_000_000_000u64}});
    let response = metered.call(Method::PUT, &metered.root_token, &path, Some(raised)).await.unwrap();
    expect_status(response, StatusCode::OK).await.unwrap();
    metered.deploy(&js_tenant, &js_path).await.unwrap();
    let js_target = metered.target(&js_tenant, "extension", Hook::TokenIssuance).await.unwrap();
    let request = TokenRequest {
        subject: Subject::Client {
            client_id: "cl_bench".into(),
            name: "bench".into(),
            attributes: json!({"org": "acme", "roles": ["reader", "writer"]}),
        },
        grant_type: "client_credentials".into(),
        scopes: vec!["invoices:read".into()],
        audience: vec!["https://api.example.com".into()],
    };
    let (mut with_fuel, mut without_fuel) = (Vec::with_capacity(iterations), Vec::with_capacity(iterations));
    let (mut rust_blocks, mut javascript) = (Vec::with_capacity(iterations), Vec::with_capacity(iterations));
    let mut cold = Vec::with_capacity(iterations);
    let mut other_memory = vec![0u8; COLD_BYTES];
    let (mut fuel, mut js_fuel) = (0, 0);
    for i in 0..iterations + iterations / 10 {
        for (server, target, series) in
            [(&metered, &targets[0], &mut with_fuel), (&unmetered, &targets[1], &mut without_fuel)]
        {
            let started = Instant::now();
            let invocation = server.state.extensions.issue_token(target, &request).await;
            let elapsed = started.elapsed();
            invocation.result.unwrap();
            fuel = fuel.max(invocation.fuel_used);
            if i >= iterations / 10 {
                series.push(elapsed);
            }
        }
    }
    // JavaScript next to Rust, in alternating blocks of calls on the metered node.
    const BLOCK: usize = 50;
    for block in 0..(iterations + iterations / 10).div_ceil(BLOCK) {
        for (target, series) in [(&targets[0], &mut rust_blocks), (&js_target, &mut javascript)] {
            for _ in 0..BLOCK {
                let started = Instant::now();
                let invocation = metered.state.extensions.issue_token(target, &request).await;
                let elapsed = started.elapsed();
                invocation.result.unwrap();
                if std::ptr::eq(target, &js_target) {
                    js_fuel = js_fuel.max(invocation.fuel_used);
                }
                if block * BLOCK >= iterations / 10 {
                    series.push(elapsed);
                }
            }
        }
    }
    // Then the metered node with cold caches (after the alternating pair, whose other node
    // the eviction would also cool).
    for i in 0..iterations + iterations / 10 {
        evict_caches(&mut other_memory);
        let started = Instant::now();
        let invocation = metered.state.extensions.issue_token(&targets[0], &request).await;
        let elapsed = started.elapsed();
        invocation.result.unwrap();
        if i >= iterations / 10 {
            cold.push(elapsed);
        }
    }
    let rust_bytes = guests::bytes(guests::CUSTOM_CLAIMS);
    let js_bytes = std::fs::read(&js_path).unwrap();
    let compile = |bytes: &[u8]| {
        let started = Instant::now();
        metered.state.extensions.compile_blocking(bytes, usize::MAX).unwrap();
        started.elapsed()
    };
    let (rust_compile, js_compile) = (compile(&rust_bytes), compile(&js_bytes));
    println!(
        "custom-claims, Rust:       {:>9} bytes, {fuel:>8} fuel per call, compiled in {rust_compile:>8.1?}, \
         instance starts with {:>5.1} MiB of linear memory",
        rust_bytes.len(),
        initial_memory_bytes(&rust_bytes) as f64 / (1 << 20) as f64
    );
    println!(
        "custom-claims, JavaScript: {:>9} bytes, {js_fuel:>8} fuel per call, compiled in {js_compile:>8.1?}, \
         instance starts with {:>5.1} MiB of linear memory, built by keyhaven-js in {} ms\n",
        js_bytes.len(),
        initial_memory_bytes(&js_bytes) as f64 / (1 << 20) as f64,
        js_build["milliseconds"]
    );
    let with_fuel = summary("invocation, fresh instance, fuel metered", with_fuel);
    let without_fuel = summary("invocation, fresh instance, no fuel metering", without_fuel);
    let rust_blocks = summary("invocation, metered, Rust (blocks with JavaScript)", rust_blocks);
    let javascript = summary("invocation, metered, JavaScript (blocks with Rust)", javascript);
    let cold = summary("invocation, fresh instance, metered, cold caches", cold);
    with_fuel.print();
    without_fuel.print();
    rust_blocks.print();
    javascript.print();
    cold.print();
    println!(
        "fuel metering costs p50 {:.2}x, p99 {:.2}x; cold caches cost p50 {:.2}x",
        ratio(with_fuel.percentile(0.5), without_fuel.percentile(0.5)),
        ratio(with_fuel.percentile(0.99), without_fuel.percentile(0.99)),
        ratio(cold.percentile(0.5), with_fuel.percentile(0.5))
    );
    println!(
        "JavaScript against Rust: p50 {:.1}x, p99 {:.1}x (goal: JavaScript p50 <= 1 ms, p99 <= 3 ms)\n",
        ratio(javascript.percentile(0.5), rust_blocks.percentile(0.5)),
        ratio(javascript.percentile(0.99), rust_blocks.percentile(0.99)),
    );
    drop(unmetered);
    if std::env::var("KEYHAVEN_BENCH_ONLY").as_deref() == Ok("invocation") {
        return;
    }

    // 2. Whole token requests over loopback HTTP, alternating a tenant without and a tenant
    //    with the extension, so both series see the same machine conditions.
    let server = metered;
    let plain = server.create_tenant("bench-plain").await.unwrap();
    let extended = server.create_tenant("bench-ext").await.unwrap();
    server.deploy(&extended, guests::CUSTOM_CLAIMS).await.unwrap();
    let attributes = json!({"name": "bench", "attributes": {"roles": ["reader"]}});
    let plain_client = server.create_client(&plain, attributes.clone()).await.unwrap();
    let extended_client = server.create_client(&extended, attributes).await.unwrap();
    let requests = iterations / 2;
    let (mut without, mut with) = (Vec::with_capacity(requests), Vec::with_capacity(requests));
    for i in 0..requests + requests / 10 {
        for (tenant, client, series) in
            [(&plain, &plain_client, &mut without), (&extended, &extended_client, &mut with)]
        {
            let started = Instant::now();
            let response = server.token(tenant, client).await.unwrap();
            expect_status(response, StatusCode::OK).await.unwrap();
            if i >= requests / 10 {
                series.push(started.elapsed());
            }
        }
    }
    let without = summary("token request, no extension", without);
    let with = summary("token request, custom-claims extension", with);
    without.print();
    with.print();
    println!(
        "extension cost per token request: p50 +{:.1?} ({:.2}x)\n",
        with.percentile(0.5).saturating_sub(without.percentile(0.5)),
        ratio(with.percentile(0.5), without.percentile(0.5)),
    );

    // 3. Noisy neighbour: tenant B (extension bound) while tenant A is quiet, then while A's
    //    looping Rust guest is kept at A's in-flight limit, then while tenant J's looping
    //    JavaScript guest is kept at J's ([`Attack`]). The phases alternate in rounds so all
    //    see the same machine conditions.
    let hostile = server.create_tenant("bench-hostile").await.unwrap();
    server.deploy(&hostile, guests::MISBEHAVING).await.unwrap();
    let hostile_client =
        server.create_client(&hostile, json!({"name": "a", "attributes": {"behaviour": "loop"}})).await.unwrap();
    let hostile_js = server.create_tenant("bench-hostile-js").await.unwrap();
    let hostile_js_path = js::component("tests/guests/js/hostile/handler.js").unwrap().display().to_string();
    server.deploy(&hostile_js, &hostile_js_path).await.unwrap();
    let hostile_js_client =
        server.create_client(&hostile_js, json!({"name": "j", "attributes": {"mode": "loop"}})).await.unwrap();
    let rounds = 10;
    // Long phases: a p99 over a few hundred samples is a handful of hiccups of the machine.
    let per_round = (iterations / 5).max(100);
    let (mut quiet, mut attacked, mut attacked_js) = (Vec::new(), Vec::new(), Vec::new());
    let (mut rust_attack, mut js_attack) = (Tally::default(), Tally::default());
    for _ in 0..rounds {
        quiet.extend(b_requests(&server, &extended, &extended_client, per_round).await);
        for (tenant, client, series, tally) in [
            (&hostile, &hostile_client, &mut attacked, &mut rust_attack),
            (&hostile_js, &hostile_js_client, &mut attacked_js, &mut js_attack),
        ] {
            let attack = Attack::start(&server, tenant, client);
            tokio::time::sleep(Duration::from_millis(200)).await; // the attacker reaches its limit
            series.extend(b_requests(&server, &extended, &extended_client, per_round).await);
            tally.add(attack.stop().await);
        }
    }
    let quiet = summary("tenant B token request, tenant A quiet", quiet);
    let attacked = summary("tenant B token request, tenant A hostile", attacked);
    let attacked_js = summary("tenant B token request, tenant J hostile (JS)", attacked_js);
    quiet.print();
    attacked.print();
    attacked_js.print();
    for (who, tally) in [("tenant A (Rust)", &rust_attack), ("tenant J (JavaScript)", &js_attack)] {
        println!(
            "{who} meanwhile: {} requests stopped by a limit (deadline or fuel), {} refused at once \
             (in-flight limit or fuel budget)",
            tally.stopped, tally.refused
        );
    }
    println!(
        "B under attack vs quiet: A (Rust) p50 {:.2}x, p99 {:.2}x; J (JavaScript) p50 {:.2}x, p99 {:.2}x\n",
        ratio(attacked.percentile(0.5), quiet.percentile(0.5)),
        ratio(attacked.percentile(0.99), quiet.percentile(0.99)),
        ratio(attacked_js.percentile(0.5), quiet.percentile(0.5)),
        ratio(attacked_js.percentile(0.99), quiet.percentile(0.99))
    );

    // 4. Builds: B's token requests with the compiler idle, then while tenant C's uploads
    //    are compiled one after another in the background, in alternating rounds.
    //    B is a fresh tenant here: the one above has used most of its minute's invocations.
    const BUILDS_PER_ROUND: u64 = 4;
    let extended = server.create_tenant("bench-ext-builds").await.unwrap();
    server.deploy(&extended, guests::CUSTOM_CLAIMS).await.unwrap();
    let extended_client =
        server.create_client(&extended, json!({"name": "bench", "attributes": {"roles": ["reader"]}})).await.unwrap();
    let builder = server.create_tenant("bench-builder").await.unwrap();
    let component = guests::bytes(guests::MISBEHAVING);
    let (mut idle, mut building) = (Vec::new(), Vec::new());
    let mut compiling = Duration::ZERO;
    for round in 0..rounds as u64 {
        idle.extend(b_requests(&server, &extended, &extended_client, per_round).await);
        let before = server.state.extensions.compilations();
        let started = Instant::now();
        for build in 0..BUILDS_PER_ROUND {
            let variant = with_custom_section(&component, round * BUILDS_PER_ROUND + build);
            let query = "?name=big&bind=none";
            let response = server
                .upload_as(&builder.admin_token, &builder.name, query, "application/wasm", variant)
                .await
                .unwrap();
            expect_status(response, StatusCode::ACCEPTED).await.unwrap();
        }
        while server.state.extensions.compilations() < before + BUILDS_PER_ROUND {
            building.extend(b_requests(&server, &extended, &extended_client, 10).await);
        }
        compiling += started.elapsed();
    }
    let idle = summary("tenant B token request, no build running", idle);
    let building = summary("tenant B token request, tenant C's builds running", building);
    idle.print();
    building.print();
    println!(
        "tenant C meanwhile: {} builds of a {} KiB component in {compiling:.1?} ({:.0?} each)",
        rounds as u64 * BUILDS_PER_ROUND,
        component.len() / 1024,
        compiling / (rounds as u32 * BUILDS_PER_ROUND as u32)
    );
    println!(
        "B while C builds vs idle: p50 {:.2}x, p99 {:.2}x",
        ratio(building.percentile(0.5), idle.percentile(0.5)),
        ratio(building.percentile(0.99), idle.percentile(0.99))
    );
}

/// A hostile tenant's attack: as many clients as it may have invocations in flight, each
/// sending its next token request as soon as the last one ends (after a refusal, 100 ms
/// later: a client honouring Retry-After, impatiently; a client that ignores it is an HTTP
/// flood, for the endpoint's rate limits).
struct Attack {
    attacking: Arc<AtomicBool>,
    outcomes: Arc<[AtomicU64; 2]>,
    clients: Vec<tokio::task::JoinHandle<()>>,
}

/// What an attack's requests met.
#[derive(Default)]
struct Tally {
    /// Refused at once (503: in-flight limit or fuel budget).
    refused: u64,
    /// Run and stopped by a limit.
    stopped: u64,
}

impl Tally {
    fn add(&mut self, other: Tally) {
        self.refused += other.refused;
        self.stopped += other.stopped;
    }
}

impl Attack {
    fn start(server: &TestServer, tenant: &keyhaven_tests::TestTenant, client: &keyhaven_tests::TestClient) -> Self {
        let attacking = Arc::new(AtomicBool::new(true));
        let outcomes = Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
        let mut clients = Vec::new();
        for _ in 0..Limits::default().concurrent_invocations {
            let (url, http, client, attacking, outcomes) = (
                server.url(&format!("/t/{}/oauth2/token", tenant.name)),
                server.http.clone(),
                client.clone(),
                attacking.clone(),
                outcomes.clone(),
            );
            clients.push(tokio::spawn(async move {
                while attacking.load(Ordering::Relaxed) {
                    let response = http
                        .post(&url)
                        .basic_auth(&client.client_id, Some(&client.client_secret))
                        .form(&[("grant_type", "client_credentials")])
                        .send()
                        .await
                        .unwrap();
                    let refused = response.status() == StatusCode::SERVICE_UNAVAILABLE;
                    outcomes[usize::from(!refused)].fetch_add(1, Ordering::Relaxed);
                    if refused {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }));
        }
        Attack { attacking, outcomes, clients }
    }

    async fn stop(self) -> Tally {
        self.attacking.store(false, Ordering::Relaxed);
        for client in self.clients {
            client.await.unwrap();
        }
        Tally { refused: self.outcomes[0].load(Ordering::Relaxed), stopped: self.outcomes[1].load(Ordering::Relaxed) }
    }
}

/// `component` with a custom section appended that makes its content (and so its content
/// hash) unique to `n`: the same code, compiled afresh.
fn with_custom_section(component: &[u8], n: u64) -> Vec<u8> {
    fn leb128(mut value: usize, out: &mut Vec<u8>) {
        loop {
            let byte = (value & 0x7f) as u8;
            value >>= 7;
            if value == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }
    let name = b"keyhaven-bench";
    let payload = n.to_le_bytes();
    let mut section = Vec::new();
    leb128(name.len(), &mut section);
    section.extend_from_slice(name);
    section.extend_from_slice(&payload);
    let mut out = component.to_vec();
    out.push(0); // custom section
    leb128(section.len(), &mut out);
    out.extend_from_slice(&section);
    out
}

async fn b_requests(
    server: &TestServer,
    tenant: &keyhaven_tests::TestTenant,
    client: &keyhaven_tests::TestClient,
    count: usize,
) -> Vec<Duration> {
    let mut samples = Vec::with_capacity(count);
    for _ in 0..count {
        let started = Instant::now();
        let response = server.token(tenant, client).await.unwrap();
        expect_status(response, StatusCode::OK).await.unwrap();
        samples.push(started.elapsed());
    }
    samples
}
