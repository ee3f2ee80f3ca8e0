//! Resource locks: one writer at a time per named resource (an admin API resource), so a
//! conditional update checks and writes with nothing in between. Writers queue on this
//! node in memory; on PostgreSQL the one at the head of a node's queue also takes a
//! transaction-scoped advisory lock, held on a small pool of its own (so lock holders never
//! starve the queries' pool) and released by the database if the holder goes away.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use super::{Db, Result, StorageError};

/// How long a writer waits for a resource another request is changing.
const LOCK_WAIT: Duration = Duration::from_secs(10);

/// This node's locks by name; an entry lives while someone holds or waits for it.
pub(super) type LocalLocks = Arc<Mutex<HashMap<String, Weak<tokio::sync::Mutex<()>>>>>;

/// A held resource lock: [`ResourceLock::release`] it (dropping it releases it too, e.g.
/// when the request is cancelled).
#[derive(Debug)]
pub struct ResourceLock {
    local: tokio::sync::OwnedMutexGuard<()>,
    shared: Option<sqlx::Transaction<'static, sqlx::Any>>,
}

impl ResourceLock {
    /// Releases the lock.
    pub async fn release(self) -> Result<()> {
        let ResourceLock { local, shared } = self;
        // The transaction wrote nothing: ending it releases its advisory lock.
        if let Some(tx) = shared {
            tx.rollback().await?;
        }
        drop(local);
        Ok(())
    }
}

impl Db {
    /// Waits for and takes the lock on `name`.
    pub async fn lock_resource(&self, name: &str) -> Result<ResourceLock> {
        let lock = {
            let mut locks = self.local_locks.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            locks.retain(|_, lock| lock.strong_count() > 0);
            match locks.get(name).and_then(Weak::upgrade) {
                Some(lock) => lock,
                None => {
                    let lock = Arc::new(tokio::sync::Mutex::new(()));
                    locks.insert(name.to_owned(), Arc::downgrade(&lock));
                    lock
                }
            }
        };
        let busy = || StorageError::Refused(format!("{name} is being changed by another request; retry shortly"));
        // One wait in all, on this node and then on the database.
        let started = std::time::Instant::now();
        let local = tokio::time::timeout(LOCK_WAIT, lock.lock_owned()).await.map_err(|_| busy())?;
        let Some(pool) = &self.lock_pool else { return Ok(ResourceLock { local, shared: None }) };
        loop {
            let left = LOCK_WAIT.saturating_sub(started.elapsed());
            let mut tx = tokio::time::timeout(left, pool.begin()).await.map_err(|_| busy())??;
            let taken: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
                .bind(lock_key(name))
                .fetch_one(&mut *tx)
                .await?;
            if taken {
                return Ok(ResourceLock { local, shared: Some(tx) });
            }
            tx.rollback().await?;
            if started.elapsed() > LOCK_WAIT {
                return Err(busy());
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// A stable 64-bit key for a name (the first 8 bytes of its SHA-256).
fn lock_key(name: &str) -> i64 {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, name.as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest.as_ref()[..8]);
    i64::from_be_bytes(bytes)
}
