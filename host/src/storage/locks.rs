//! Resource locks: one writer at a time per named resource (an admin API path), so a
//! conditional update checks and writes with nothing in between. On SQLite, the one node
//! that owns the file holds them in memory; on PostgreSQL they are transaction-scoped
//! advisory locks, held by every node sharing the database and released by the database if
//! the holder goes away mid-request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use super::{Backend, Db, Result, StorageError};

/// How long a writer waits for a resource another request is changing.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// This node's locks by name; an entry lives while someone holds or waits for it.
pub(super) type LocalLocks = Arc<Mutex<HashMap<String, Weak<tokio::sync::Mutex<()>>>>>;

/// A held resource lock: [`ResourceLock::release`] it (dropping it releases it too, e.g.
/// when the request is cancelled).
#[derive(Debug)]
pub enum ResourceLock {
    Local(tokio::sync::OwnedMutexGuard<()>),
    Shared(sqlx::Transaction<'static, sqlx::Any>),
}

impl ResourceLock {
    /// Releases the lock.
    pub async fn release(self) -> Result<()> {
        match self {
            ResourceLock::Local(guard) => drop(guard),
            // The transaction wrote nothing: ending it releases its advisory lock.
            ResourceLock::Shared(tx) => tx.rollback().await?,
        }
        Ok(())
    }
}

impl Db {
    /// Waits for and takes the lock on `name`.
    pub async fn lock_resource(&self, name: &str) -> Result<ResourceLock> {
        match self.backend {
            Backend::Sqlite => {
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
                Ok(ResourceLock::Local(lock.lock_owned().await))
            }
            Backend::Postgres => {
                // Waiting without a connection: a writer queued on a busy resource must not
                // hold one of the pool's connections that the lock's holder may need.
                let started = std::time::Instant::now();
                loop {
                    let mut tx = self.pool.begin().await?;
                    let taken: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
                        .bind(lock_key(name))
                        .fetch_one(&mut *tx)
                        .await?;
                    if taken {
                        return Ok(ResourceLock::Shared(tx));
                    }
                    tx.rollback().await?;
                    if started.elapsed() > LOCK_WAIT {
                        return Err(StorageError::Refused(format!(
                            "{name} is being changed by another request; retry shortly"
                        )));
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                }
            }
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
