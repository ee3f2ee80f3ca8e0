//! Brute-force protection (PRODUCT.md): a client address that keeps failing authentication
//! to a tenant — client credentials at the token endpoints, factors and login tokens at the
//! login and hosted pages — is slowed, then blocked for a while. Counts live in the
//! database, so the block holds on every node. An account's own factors lock after 5
//! failures besides (`tenancy::account`); this is the address's limit, across accounts.

use std::time::Duration;

use crate::AppState;
use crate::storage::StorageError;
use crate::tenancy::Tenant;
use crate::web::client_ip::client_ip;

/// More failures than this in a window block the address.
pub const MAX_FAILURES: i64 = 300;
/// The window failures are counted in, in seconds.
pub const WINDOW_SECONDS: i64 = 300;
/// How long a blocked address stays blocked, in seconds.
pub const BLOCK_SECONDS: i64 = 900;
/// From this many failures in a window on, each further failure is answered this late.
pub const SLOW_AFTER: i64 = MAX_FAILURES / 3;
pub const SLOW_DOWN: Duration = Duration::from_millis(250);

/// The seconds the request's address must wait before it may authenticate to the tenant
/// again, if it is blocked.
pub async fn blocked(state: &AppState, tenant: &Tenant) -> Result<Option<u64>, StorageError> {
    let Some(ip) = client_ip() else { return Ok(None) };
    let now = state.clock.now();
    let until = state.db.auth_blocked_until(&tenant.id, &ip.to_string(), now).await?;
    Ok(until.map(|until| u64::try_from(until - now).unwrap_or(1).max(1)))
}

/// Counts a failed authentication of the request's address; past [`SLOW_AFTER`] failures
/// the answer is held back [`SLOW_DOWN`], so guessing gets slower before it is blocked.
pub async fn failed(state: &AppState, tenant: &Tenant) {
    let Some(ip) = client_ip() else { return };
    let now = state.clock.now();
    let counted = state
        .db
        .count_auth_failure(&tenant.id, &ip.to_string(), now, WINDOW_SECONDS, MAX_FAILURES, BLOCK_SECONDS)
        .await;
    match counted {
        Ok(failures) if failures == MAX_FAILURES + 1 => {
            tracing::warn!(tenant = %tenant.id, %ip, "address blocked after {failures} failed authentications");
        }
        Ok(failures) if failures > SLOW_AFTER => tokio::time::sleep(SLOW_DOWN).await,
        Ok(_) => {}
        Err(e) => tracing::warn!(tenant = %tenant.id, "cannot count a failed authentication: {e}"),
    }
}
