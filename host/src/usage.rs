//! Monthly usage per tenant — Monthly API Calls and Monthly Active Accounts — counted in
//! memory on the request path (no write per request) and added to the database in batches
//! every few seconds, and before usage is read. A node that stops without a last flush
//! loses at most those few seconds of counts. The same batches record when each tenant was
//! last used, which the expiry of inactive tenants reads.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use crate::AppState;
use crate::storage::{Db, StorageError};

/// How often counts are written.
const FLUSH_EVERY: Duration = Duration::from_secs(5);

/// The month (`YYYY-MM`, UTC) of a Unix time.
pub fn month_of(unix_time: i64) -> String {
    month_text(month_key(unix_time))
}

/// The month of `unix_time` and the `count - 1` before it, oldest first (`YYYY-MM`).
pub fn months_until(unix_time: i64, count: u32) -> Vec<String> {
    let (mut year, mut month) = month_key(unix_time);
    let mut months = Vec::with_capacity(count as usize);
    for _ in 0..count {
        months.push(month_text((year, month)));
        (year, month) = if month == 1 { (year - 1, 12) } else { (year, month - 1) };
    }
    months.reverse();
    months
}

fn month_text((year, month): (i32, u32)) -> String {
    format!("{year:04}-{month:02}")
}

/// A month as a number (year and month), cheap enough for the request path; formatted
/// only when written.
fn month_key(unix_time: i64) -> (i32, u32) {
    use chrono::Datelike as _;
    chrono::DateTime::from_timestamp(unix_time, 0).map(|t| (t.year(), t.month())).unwrap_or((1970, 1))
}

/// This node's counts not yet written.
#[derive(Debug, Default)]
pub struct UsageMeter {
    pending: Mutex<Pending>,
}

#[derive(Debug, Default)]
struct Pending {
    /// API calls by (tenant id, month).
    calls: HashMap<(String, (i32, u32)), i64>,
    /// Active accounts: (tenant id, month, account id).
    accounts: HashSet<(String, (i32, u32), String)>,
    /// The latest use of each tenant.
    last_active: HashMap<String, i64>,
}

impl Pending {
    fn used(&mut self, tenant_id: &str, now: i64) {
        match self.last_active.get_mut(tenant_id) {
            Some(at) => *at = (*at).max(now),
            None => {
                self.last_active.insert(tenant_id.to_owned(), now);
            }
        }
    }
}

impl UsageMeter {
    /// Counts one successful API call of the tenant.
    pub fn api_call(&self, tenant_id: &str, now: i64) {
        if let Ok(mut pending) = self.pending.lock() {
            *pending.calls.entry((tenant_id.to_owned(), month_key(now))).or_insert(0) += 1;
            pending.used(tenant_id, now);
        }
    }

    /// Counts the account (a human or a machine client) as active this month.
    pub fn active(&self, tenant_id: &str, account_id: &str, now: i64) {
        if let Ok(mut pending) = self.pending.lock() {
            pending.accounts.insert((tenant_id.to_owned(), month_key(now), account_id.to_owned()));
            pending.used(tenant_id, now);
        }
    }

    /// Writes the counts so far; on failure they are kept for the next flush.
    pub async fn flush(&self, db: &Db) -> Result<(), StorageError> {
        let taken = match self.pending.lock() {
            Ok(mut pending) => std::mem::take(&mut *pending),
            Err(_) => return Ok(()),
        };
        if taken.calls.is_empty() && taken.accounts.is_empty() && taken.last_active.is_empty() {
            return Ok(());
        }
        let calls: Vec<_> = taken.calls.iter().map(|((t, m), n)| (t.clone(), month_text(*m), *n)).collect();
        let accounts: Vec<_> = taken.accounts.iter().map(|(t, m, a)| (t.clone(), month_text(*m), a.clone())).collect();
        let last_active: Vec<_> = taken.last_active.iter().map(|(t, at)| (t.clone(), *at)).collect();
        if let Err(e) = db.add_usage(&calls, &accounts, &last_active).await {
            if let Ok(mut pending) = self.pending.lock() {
                for (key, count) in taken.calls {
                    *pending.calls.entry(key).or_insert(0) += count;
                }
                pending.accounts.extend(taken.accounts);
                for (tenant_id, at) in taken.last_active {
                    pending.used(&tenant_id, at);
                }
            }
            return Err(e);
        }
        Ok(())
    }
}

/// Flushes the node's usage counts every few seconds while the service runs.
pub fn spawn_flusher(state: Weak<crate::Services>, drain: Arc<crate::drain::Drain>) {
    tokio::spawn(async move {
        // The last counts are written by the stop itself ([`crate::AppState::stop`]).
        while drain.sleep(FLUSH_EVERY).await {
            let Some(services) = state.upgrade() else { return };
            let Some(_work) = drain.work() else { return };
            if let Err(e) = services.usage.flush(&services.db).await {
                tracing::warn!("cannot write usage counts: {e}");
            }
        }
    });
}

impl AppState {
    /// Counts one successful API call of the tenant (see [`UsageMeter`]).
    pub fn count_api_call(&self, tenant_id: &str) {
        self.usage.api_call(tenant_id, self.clock.now());
    }
}

#[cfg(test)]
mod tests {
    use super::{month_of, months_until};

    #[test]
    fn months_are_utc_calendar_months() {
        assert_eq!(month_of(1_764_547_199), "2025-11"); // 2025-11-30 23:59:59 UTC
        assert_eq!(month_of(1_764_547_200), "2025-12");
    }

    #[test]
    fn months_until_counts_back_over_a_year_boundary() {
        // 2026-02-15 00:00:00 UTC
        assert_eq!(months_until(1_771_113_600, 3), ["2025-12", "2026-01", "2026-02"]);
        let year = months_until(1_771_113_600, 13);
        assert_eq!((year.len(), year[0].as_str(), year[12].as_str()), (13, "2025-02", "2026-02"));
    }
}
