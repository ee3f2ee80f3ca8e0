//! Resource locks: one writer at a time per named resource (an admin API resource), so a
//! conditional update checks and writes with nothing in between. Writers queue on this
//! node in memory; with PostgreSQL (several nodes) the writer at the head of a node's queue
//! also takes the resource's lease in the `leases` table, the compare-and-set that already
//! keeps periodic jobs on one node. A lease holds no connection while the write runs, and
//! one left by a node that stopped lapses after [`LEASE_SECONDS`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use super::{Backend, Db, Result, StorageError};
use crate::clock::Clock;

/// How long a writer waits for a resource another request is changing.
const LOCK_WAIT: Duration = Duration::from_secs(10);
/// How long a resource's lease lasts: longer than any admin API write.
pub const LEASE_SECONDS: i64 = 60;

/// This node's locks by name; an entry lives while someone holds or waits for it.
pub(super) type LocalLocks = Arc<Mutex<HashMap<String, Weak<tokio::sync::Mutex<()>>>>>;

/// A held resource lock: [`ResourceLock::release`] it. Dropped without a release, its node
/// lock is released at once and its lease lapses.
#[derive(Debug)]
pub struct ResourceLock {
    local: tokio::sync::OwnedMutexGuard<()>,
    /// The lease's database, name and holder, with PostgreSQL.
    lease: Option<(Db, String, String)>,
}

impl ResourceLock {
    /// Releases the lock.
    pub async fn release(self) -> Result<()> {
        let ResourceLock { local, lease } = self;
        if let Some((db, name, holder)) = lease {
            db.release_lease(&name, &holder).await?;
        }
        drop(local);
        Ok(())
    }
}

impl Db {
    /// Waits for and takes the lock on `name` for `holder` (unique to the request).
    pub async fn lock_resource(&self, name: &str, holder: &str, clock: &dyn Clock) -> Result<ResourceLock> {
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
        if self.backend == Backend::Sqlite {
            // One node owns the file: its own queue is the whole story.
            return Ok(ResourceLock { local, lease: None });
        }
        loop {
            let now = clock.now();
            if self.take_lease(name, holder, now, now + LEASE_SECONDS).await? {
                return Ok(ResourceLock { local, lease: Some((self.clone(), name.to_owned(), holder.to_owned())) });
            }
            if started.elapsed() > LOCK_WAIT {
                return Err(busy());
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}
