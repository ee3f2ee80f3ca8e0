//! Per-tenant request rate limits (PRODUCT.md: the token endpoint 1,000 requests a second
//! with a burst of 100; the login endpoints 1,000 a second), as token buckets per node and
//! tenant, refilled continuously from the clock's milliseconds. A refused request is told
//! when to come back. The rates come from the tenant's limits (defaults < plan < operator
//! overrides), so an operator raises them per tenant or per plan. Buckets are per node: a
//! tenant served by N nodes may reach N times its rate.

use std::collections::HashMap;
use std::sync::Mutex;

/// Which endpoints a bucket counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// The token, introspection and revocation endpoints.
    Token,
    /// Login, registration, invites and the session's endpoints.
    Login,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    updated_ms: i64,
}

/// This node's buckets.
#[derive(Debug, Default)]
pub struct RateLimiter {
    /// By tenant id: the token endpoints' bucket and the login endpoints'.
    buckets: Mutex<HashMap<String, [Bucket; 2]>>,
}

impl RateLimiter {
    /// Takes one request from the tenant's bucket for `endpoint` (refilled at `per_second`,
    /// holding at most `burst`); `Err(seconds)` to wait when it is empty.
    pub fn admit(
        &self,
        tenant_id: &str,
        endpoint: Endpoint,
        per_second: u32,
        burst: u32,
        now_ms: i64,
    ) -> Result<(), u64> {
        let Ok(mut buckets) = self.buckets.lock() else { return Ok(()) };
        let (rate, burst) = (f64::from(per_second.max(1)), f64::from(burst.max(1)));
        // Looked up by `&str` first, so the hot path allocates nothing; a new bucket starts
        // full (the refill below caps it at the burst).
        if !buckets.contains_key(tenant_id) {
            let full = || Bucket { tokens: f64::INFINITY, updated_ms: now_ms };
            buckets.insert(tenant_id.to_owned(), [full(), full()]);
        }
        let Some(pair) = buckets.get_mut(tenant_id) else { return Ok(()) };
        let bucket = &mut pair[endpoint as usize];
        let elapsed = (now_ms - bucket.updated_ms).max(0) as f64 / 1000.0;
        bucket.tokens = (bucket.tokens + elapsed * rate).min(burst);
        bucket.updated_ms = bucket.updated_ms.max(now_ms);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return Ok(());
        }
        let wait = (1.0 - bucket.tokens) / rate;
        Err(wait.ceil().max(1.0) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_rate_per_tenant_and_endpoint() {
        let limiter = RateLimiter::default();
        let admitted = |tenant: &str, endpoint, now| limiter.admit(tenant, endpoint, 10, 5, now).is_ok();
        for _ in 0..5 {
            assert!(admitted("t1", Endpoint::Token, 0));
        }
        assert_eq!(limiter.admit("t1", Endpoint::Token, 10, 5, 0), Err(1), "the burst is spent");
        assert!(admitted("t1", Endpoint::Login, 0), "another endpoint has its own bucket");
        assert!(admitted("t2", Endpoint::Token, 0), "another tenant has its own bucket");
        assert!(admitted("t1", Endpoint::Token, 100), "100 ms at 10/s refills one");
        assert!(!admitted("t1", Endpoint::Token, 100));
        assert!((0..5).all(|_| admitted("t1", Endpoint::Token, 10_000)), "refilled up to the burst");
        assert!(!admitted("t1", Endpoint::Token, 10_000), "never beyond it");
    }
}
