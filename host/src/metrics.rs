//! The node's Prometheus metrics, served at `GET /metrics` to the operator (text format
//! 0.0.4): HTTP requests by route template, method and status with a latency histogram per
//! route (the token endpoint's is the token issuance latency); hook invocations by tenant,
//! extension, hook and outcome with the fuel they burned, and a latency histogram per hook
//! and outcome; and, read at each scrape, the queues (event deliveries and builds
//! pending), the database pool, the instance slots, the compiled components in memory and
//! the process's resident memory.
//!
//! Counters live in memory per node, behind short locks taken once per request and once
//! per invocation; labels are bounded by the routes and by the tenants' extensions (a route
//! label is the template, never the path; histograms carry no tenant label).

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;

/// Histogram bucket bounds, in seconds: 100 µs to 10 s.
const BUCKETS: [f64; 16] =
    [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// A latency histogram: counts per bucket (not cumulative), their sum and count.
#[derive(Clone, Debug, Default)]
struct Histogram {
    buckets: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        if let Some(bucket) = BUCKETS.iter().position(|bound| seconds <= *bound) {
            self.buckets[bucket] += 1;
        }
        self.sum += seconds;
        self.count += 1;
    }

    /// The `_bucket`, `_sum` and `_count` lines of `name` with `labels` (`a="b",` or empty).
    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let mut cumulative = 0;
        for (bound, count) in BUCKETS.iter().zip(self.buckets) {
            cumulative += count;
            let _ = writeln!(out, "{name}_bucket{{{labels}le=\"{bound}\"}} {cumulative}");
        }
        let _ = writeln!(out, "{name}_bucket{{{labels}le=\"+Inf\"}} {}", self.count);
        let labels = labels.trim_end_matches(',');
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", self.sum);
        let _ = writeln!(out, "{name}_count{{{labels}}} {}", self.count);
    }
}

/// One route's requests.
#[derive(Debug, Default)]
struct RouteStats {
    /// (method, status) → requests.
    answers: Vec<(&'static str, u16, u64)>,
    latency: Histogram,
}

/// One extension's invocations: (hook, outcome) → (invocations, fuel).
type ExtensionStats = Vec<(&'static str, &'static str, u64, u64)>;

/// The node's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    routes: Mutex<HashMap<String, RouteStats>>,
    /// Tenant id → extension → its invocations.
    invocations: Mutex<HashMap<String, HashMap<String, ExtensionStats>>>,
    /// (hook, outcome) → latency.
    hook_latency: Mutex<HashMap<(&'static str, &'static str), Histogram>>,
    /// Password hashes verified (known accounts and decoys alike).
    password_verifications: std::sync::atomic::AtomicU64,
}

/// The label of a request whose path matched no route.
const UNMATCHED: &str = "unmatched";

impl Metrics {
    /// Counts one answered request.
    pub fn request(&self, route: &str, method: &str, status: u16, elapsed: Duration) {
        let method = match method {
            "GET" => "GET",
            "POST" => "POST",
            "PUT" => "PUT",
            "PATCH" => "PATCH",
            "DELETE" => "DELETE",
            "HEAD" => "HEAD",
            "OPTIONS" => "OPTIONS",
            _ => "OTHER",
        };
        let Ok(mut routes) = self.routes.lock() else { return };
        let stats = match routes.get_mut(route) {
            Some(stats) => stats,
            None => routes.entry(route.to_owned()).or_default(),
        };
        match stats.answers.iter_mut().find(|(m, s, _)| *m == method && *s == status) {
            Some((_, _, count)) => *count += 1,
            None => stats.answers.push((method, status, 1)),
        }
        stats.latency.observe(elapsed);
    }

    /// Counts one hook invocation.
    pub fn invocation(
        &self,
        tenant_id: &str,
        extension: &str,
        hook: &'static str,
        outcome: &'static str,
        fuel: u64,
        elapsed: Duration,
    ) {
        if let Ok(mut invocations) = self.invocations.lock() {
            let tenant = match invocations.get_mut(tenant_id) {
                Some(tenant) => tenant,
                None => invocations.entry(tenant_id.to_owned()).or_default(),
            };
            let stats = match tenant.get_mut(extension) {
                Some(stats) => stats,
                None => tenant.entry(extension.to_owned()).or_default(),
            };
            match stats.iter_mut().find(|(h, o, _, _)| *h == hook && *o == outcome) {
                Some((_, _, count, burned)) => {
                    *count += 1;
                    *burned += fuel;
                }
                None => stats.push((hook, outcome, 1, fuel)),
            }
        }
        if let Ok(mut latency) = self.hook_latency.lock() {
            latency.entry((hook, outcome)).or_default().observe(elapsed);
        }
    }

    /// Counts one argon2id password verification.
    pub fn password_verified(&self) {
        self.password_verifications.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// The counters in the Prometheus text format.
    pub fn render(&self, out: &mut String) {
        header(
            out,
            "keyhaven_password_verifications_total",
            "counter",
            "Password hashes verified (argon2id), for known and unknown accounts alike.",
        );
        let _ = writeln!(
            out,
            "keyhaven_password_verifications_total {}",
            self.password_verifications.load(std::sync::atomic::Ordering::Relaxed)
        );
        if let Ok(routes) = self.routes.lock() {
            let mut sorted: Vec<_> = routes.iter().collect();
            sorted.sort_by(|a, b| a.0.cmp(b.0));
            header(
                out,
                "keyhaven_http_requests_total",
                "counter",
                "HTTP requests answered, by route template, method and status.",
            );
            for (route, stats) in &sorted {
                for (method, status, count) in &stats.answers {
                    let route = escape(route);
                    let _ = writeln!(
                        out,
                        "keyhaven_http_requests_total{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}} {count}"
                    );
                }
            }
            header(
                out,
                "keyhaven_http_request_duration_seconds",
                "histogram",
                "Time to answer a request, by route template (the token endpoint's is the token issuance latency).",
            );
            for (route, stats) in &sorted {
                stats.latency.render(
                    out,
                    "keyhaven_http_request_duration_seconds",
                    &format!("route=\"{}\",", escape(route)),
                );
            }
        }
        if let Ok(invocations) = self.invocations.lock() {
            let mut rows = Vec::new();
            for (tenant, extensions) in invocations.iter() {
                for (extension, stats) in extensions {
                    for (hook, outcome, count, fuel) in stats {
                        rows.push((tenant.as_str(), extension.as_str(), *hook, *outcome, *count, *fuel));
                    }
                }
            }
            rows.sort();
            header(
                out,
                "keyhaven_hook_invocations_total",
                "counter",
                "Hook invocations, by tenant id, extension, hook and outcome.",
            );
            for (tenant, extension, hook, outcome, count, _) in &rows {
                let labels = hook_labels(tenant, extension, hook, outcome);
                let _ = writeln!(out, "keyhaven_hook_invocations_total{{{labels}}} {count}");
            }
            header(
                out,
                "keyhaven_hook_fuel_total",
                "counter",
                "Fuel (WebAssembly instructions) hook invocations burned.",
            );
            for (tenant, extension, hook, outcome, _, fuel) in &rows {
                let labels = hook_labels(tenant, extension, hook, outcome);
                let _ = writeln!(out, "keyhaven_hook_fuel_total{{{labels}}} {fuel}");
            }
        }
        if let Ok(latency) = self.hook_latency.lock() {
            let mut sorted: Vec<_> = latency.iter().collect();
            sorted.sort_by_key(|(key, _)| **key);
            header(
                out,
                "keyhaven_hook_duration_seconds",
                "histogram",
                "Hook invocation time, instantiation included, by hook and outcome.",
            );
            for ((hook, outcome), histogram) in sorted {
                histogram.render(
                    out,
                    "keyhaven_hook_duration_seconds",
                    &format!("hook=\"{hook}\",outcome=\"{outcome}\","),
                );
            }
        }
    }
}

fn hook_labels(tenant: &str, extension: &str, hook: &str, outcome: &str) -> String {
    format!("tenant=\"{}\",extension=\"{}\",hook=\"{hook}\",outcome=\"{outcome}\"", escape(tenant), escape(extension))
}

/// The `# HELP` and `# TYPE` lines of a metric.
pub fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// One gauge with its header.
pub fn gauge(out: &mut String, name: &str, help: &str, value: impl std::fmt::Display) {
    header(out, name, "gauge", help);
    let _ = writeln!(out, "{name} {value}");
}

/// A label value as the text format wants it.
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// Inner layer (after routing): hands the matched route template to [`count_requests`].
pub async fn name_route(request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().cloned();
    let mut response = next.run(request).await;
    if let Some(route) = route {
        response.extensions_mut().insert(route);
    }
    response
}

/// Outer layer: counts every request with its route template ([`UNMATCHED`] for none).
pub async fn count_requests(metrics: std::sync::Arc<Metrics>, request: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let method = request.method().clone();
    let response = next.run(request).await;
    let route = response.extensions().get::<MatchedPath>().map_or(UNMATCHED, MatchedPath::as_str);
    metrics.request(route, method.as_str(), response.status().as_u16(), started.elapsed());
    response
}

/// The process's resident memory in bytes (Linux; `None` elsewhere).
pub fn resident_memory_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn counters_and_histograms_render_in_the_text_format() {
        let metrics = Metrics::default();
        metrics.request("/t/{tenant}/oauth2/token", "POST", 200, Duration::from_micros(300));
        metrics.request("/t/{tenant}/oauth2/token", "POST", 200, Duration::from_millis(3));
        metrics.request("/t/{tenant}/oauth2/token", "POST", 401, Duration::from_micros(80));
        metrics.request(UNMATCHED, "BREW", 404, Duration::from_micros(10));
        metrics.invocation("ten_1", "claims", "token-issuance", "ok", 1200, Duration::from_micros(40));
        metrics.invocation("ten_1", "claims", "token-issuance", "ok", 800, Duration::from_micros(60));
        metrics.invocation("ten_1", "we\"ird", "events", "trap", 5, Duration::from_millis(2));
        let mut out = String::new();
        metrics.render(&mut out);
        let token = "route=\"/t/{tenant}/oauth2/token\"";
        assert!(
            out.contains(&format!("keyhaven_http_requests_total{{{token},method=\"POST\",status=\"200\"}} 2")),
            "{out}"
        );
        assert!(out.contains(&format!("keyhaven_http_requests_total{{{token},method=\"POST\",status=\"401\"}} 1")));
        assert!(out.contains("keyhaven_http_requests_total{route=\"unmatched\",method=\"OTHER\",status=\"404\"} 1"));
        // Buckets are cumulative: 80 µs ≤ 100 µs; 300 µs ≤ 500 µs; 3 ms ≤ 5 ms.
        assert!(out.contains(&format!("keyhaven_http_request_duration_seconds_bucket{{{token},le=\"0.0001\"}} 1")));
        assert!(out.contains(&format!("keyhaven_http_request_duration_seconds_bucket{{{token},le=\"0.0005\"}} 2")));
        assert!(out.contains(&format!("keyhaven_http_request_duration_seconds_bucket{{{token},le=\"0.005\"}} 3")));
        assert!(out.contains(&format!("keyhaven_http_request_duration_seconds_bucket{{{token},le=\"+Inf\"}} 3")));
        assert!(out.contains(&format!("keyhaven_http_request_duration_seconds_count{{{token}}} 3")));
        let claims = "tenant=\"ten_1\",extension=\"claims\",hook=\"token-issuance\",outcome=\"ok\"";
        assert!(out.contains(&format!("keyhaven_hook_invocations_total{{{claims}}} 2")));
        assert!(out.contains(&format!("keyhaven_hook_fuel_total{{{claims}}} 2000")));
        assert!(out.contains("extension=\"we\\\"ird\""), "label values are escaped");
        assert!(out.contains("keyhaven_hook_duration_seconds_count{hook=\"events\",outcome=\"trap\"} 1"));
        assert!(out.contains("# TYPE keyhaven_hook_duration_seconds histogram"));
    }
}
