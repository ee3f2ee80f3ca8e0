//! Benchmark: the latency of one fresh-instance token-issuance invocation, and what the
//! extension adds to a whole token request, measured side by side in one run.
//!
//! Run with `cargo bench -p keyhaven-tests --bench invocation` (release build).
//! `KEYHAVEN_BENCH_ITERATIONS` sets the number of measured iterations (default 5000).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use keyhaven::extensions::token_issuance::{Subject, TokenRequest};
use keyhaven::extensions::{ExtensionRuntime, InvocationContext, Limits};
use keyhaven_tests::{TestServer, expect_status, guests};
use reqwest::StatusCode;
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
            "{:<46} n={:<6} p50={:>9.1?} p90={:>9.1?} p99={:>9.1?} mean={:>9.1?}",
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

#[tokio::main]
async fn main() {
    let iterations: usize =
        std::env::var("KEYHAVEN_BENCH_ITERATIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(5000);
    println!("keyhaven invocation benchmark: {iterations} iterations per series\n");

    // 1. The hook alone: fresh store + instance from the cached InstancePre, call, drop.
    let runtime = ExtensionRuntime::new(Limits::default()).unwrap();
    let compile_started = Instant::now();
    let compiled = runtime.compile(guests::bytes(guests::CUSTOM_CLAIMS).into()).await.unwrap();
    let compile_time = compile_started.elapsed();
    let request = TokenRequest {
        tenant_id: "tn_bench".into(),
        tenant_name: "bench".into(),
        subject: Subject::Client {
            client_id: "cl_bench".into(),
            name: "bench".into(),
            attributes: json!({"org": "acme", "roles": ["reader", "writer"]}),
        },
        grant_type: "client_credentials".into(),
        scopes: vec!["invoices:read".into()],
        audience: vec!["https://api.example.com".into()],
    };
    let context = InvocationContext { tenant_id: "tn_bench".into(), deployment_id: "ext_bench".into() };
    let mut invocations = Vec::with_capacity(iterations);
    let mut fuel = 0;
    for i in 0..iterations + iterations / 10 {
        let started = Instant::now();
        let invocation = runtime.issue_token(&compiled, context.clone(), &request).await.unwrap();
        let elapsed = started.elapsed();
        fuel = invocation.fuel_used;
        if i >= iterations / 10 {
            invocations.push(elapsed);
        }
    }
    println!(
        "custom-claims component: {} bytes, compiled in {compile_time:.1?}, {fuel} fuel per call\n",
        std::fs::metadata(guests::CUSTOM_CLAIMS).unwrap().len()
    );
    let hook = summary("token-issuance invocation (fresh instance)", invocations);
    hook.print();

    // 2. Whole token requests over loopback HTTP, alternating a tenant without and a tenant
    //    with the extension, so both series see the same machine conditions.
    let server = TestServer::start().await.unwrap();
    let plain = server.create_tenant("bench-plain").await.unwrap();
    let extended = server.create_tenant("bench-ext").await.unwrap();
    server.deploy(&extended, guests::CUSTOM_CLAIMS).await.unwrap();
    let attributes = json!({"name": "bench", "attributes": {"org": "acme", "roles": ["reader"]}});
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

    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64();
    println!();
    println!(
        "extension cost per token request: p50 +{:.1?} ({:.2}x), mean +{:.1?} ({:.2}x)",
        with.percentile(0.5).saturating_sub(without.percentile(0.5)),
        ratio(with.percentile(0.5), without.percentile(0.5)),
        with.mean().saturating_sub(without.mean()),
        ratio(with.mean(), without.mean()),
    );
    println!(
        "invocation share of an extended token request (p50): {:.0}%",
        100.0 * ratio(hook.percentile(0.5), with.percentile(0.5))
    );
}
