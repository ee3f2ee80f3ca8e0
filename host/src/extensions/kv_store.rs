//! The tenants' key-value store as the runtime and the admin API use it: the database,
//! behind a per-node read cache so an extension that reads the same keys on every token
//! (custom claims from reference data, say) costs no database round trip per call. Every
//! write on this node goes through here: it makes the cache unreadable while it is
//! written, forgets the key once it is, and tells other nodes (PostgreSQL NOTIFY,
//! `kv:<tenant>`), which forget that tenant's cached keys. A value read while a write began
//! or ended is not kept, so no reader caches what a write replaced.

use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use crate::storage::{Db, KvWrite, Result};

/// Most keys, and most bytes of keys and values, cached per node; when either is reached,
/// the cache starts again empty (so no tenant can make a node hold its whole store).
const MAX_CACHED: usize = 100_000;
const MAX_CACHED_BYTES: usize = 64 << 20;

/// The prefix of change notifications that concern only a tenant's key-value store.
pub const KV_CHANGE_PREFIX: &str = "kv:";

/// The store and this node's cache of it.
#[derive(Debug)]
pub struct KvStore {
    db: Db,
    cached: RwLock<Cached>,
    /// Writes in progress on this node.
    writing: AtomicUsize,
    /// Bumped by every write and forgetting.
    generation: AtomicU64,
}

#[derive(Debug, Default)]
struct Cached {
    entries: HashMap<(String, String), Option<String>>,
    bytes: usize,
}

impl Cached {
    fn size(key: &(String, String), value: &Option<String>) -> usize {
        key.0.len() + key.1.len() + value.as_ref().map_or(0, String::len)
    }

    fn insert(&mut self, key: (String, String), value: Option<String>) {
        let size = Self::size(&key, &value);
        if self.entries.len() >= MAX_CACHED || self.bytes + size > MAX_CACHED_BYTES {
            self.entries.clear();
            self.bytes = 0;
        }
        self.bytes += size;
        if let Some(old) = self.entries.insert(key.clone(), value) {
            self.bytes -= Self::size(&key, &old);
        }
    }

    fn remove(&mut self, key: &(String, String)) {
        if let Some(old) = self.entries.remove(key) {
            self.bytes -= Self::size(key, &old);
        }
    }

    fn retain(&mut self, keep: impl Fn(&(String, String)) -> bool) {
        self.entries.retain(|key, _| keep(key));
        self.bytes = self.entries.iter().map(|(key, value)| Self::size(key, value)).sum();
    }
}

/// A write in progress: the cache is not read, and on drop the key is forgotten and the
/// change announced.
struct Writing<'a> {
    store: &'a KvStore,
    tenant_id: &'a str,
    key: &'a str,
}

impl Drop for Writing<'_> {
    fn drop(&mut self) {
        self.store.forget_key(self.tenant_id, self.key);
        self.store.writing.fetch_sub(1, Ordering::SeqCst);
        let (db, payload) = (self.store.db.clone(), format!("{KV_CHANGE_PREFIX}{}", self.tenant_id));
        if db.postgres_url().is_some()
            && let Ok(handle) = tokio::runtime::Handle::try_current()
        {
            handle.spawn(async move {
                if let Err(e) = db.publish_change(&payload).await {
                    tracing::warn!("cannot announce a key-value change to other nodes: {e}");
                }
            });
        }
    }
}

impl KvStore {
    pub fn new(db: Db) -> Self {
        KvStore { db, cached: RwLock::default(), writing: AtomicUsize::new(0), generation: AtomicU64::new(0) }
    }

    fn readable(&self) -> Option<u64> {
        let generation = self.generation.load(Ordering::SeqCst);
        (self.writing.load(Ordering::SeqCst) == 0).then_some(generation)
    }

    /// The value of `key` in the tenant's store (`None`: no such key).
    pub async fn get(&self, tenant_id: &str, key: &str) -> Result<Option<String>> {
        let generation = self.readable();
        if generation.is_some()
            && let Ok(cached) = self.cached.read()
            && let Some(value) = cached.entries.get(&(tenant_id.to_owned(), key.to_owned()))
        {
            return Ok(value.clone());
        }
        let value = self.db.kv_get(tenant_id, key).await?;
        if generation.is_some()
            && self.readable() == generation
            && let Ok(mut cached) = self.cached.write()
        {
            cached.insert((tenant_id.to_owned(), key.to_owned()), value.clone());
        }
        Ok(value)
    }

    fn writing<'a>(&'a self, tenant_id: &'a str, key: &'a str) -> Writing<'a> {
        self.writing.fetch_add(1, Ordering::SeqCst);
        self.forget_key(tenant_id, key);
        Writing { store: self, tenant_id, key }
    }

    /// Sets a key; false if the tenant's store is full (see [`Db::kv_set`]).
    pub async fn set(&self, tenant_id: &str, write: KvWrite<'_>) -> Result<bool> {
        let _writing = self.writing(tenant_id, write.key);
        self.db.kv_set(tenant_id, write).await
    }

    /// Deletes a key; false if there was none.
    pub async fn delete(&self, tenant_id: &str, key: &str) -> Result<bool> {
        let _writing = self.writing(tenant_id, key);
        self.db.kv_delete(tenant_id, key).await
    }

    fn forget_key(&self, tenant_id: &str, key: &str) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut cached) = self.cached.write() {
            cached.remove(&(tenant_id.to_owned(), key.to_owned()));
        }
    }

    /// Forgets a tenant's cached keys (another node wrote one of them).
    pub fn forget_tenant(&self, tenant_id: &str) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut cached) = self.cached.write() {
            cached.retain(|(tenant, _)| tenant != tenant_id);
        }
    }

    pub fn forget_all(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut cached) = self.cached.write() {
            *cached = Cached::default();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(tenant: &str, name: &str) -> (String, String) {
        (tenant.to_owned(), name.to_owned())
    }

    #[test]
    fn the_cache_counts_its_bytes_and_starts_again_when_full() {
        let mut cached = Cached::default();
        cached.insert(key("t1", "a"), Some("12345".into()));
        cached.insert(key("t1", "b"), None);
        cached.insert(key("t2", "a"), Some("1".into()));
        assert_eq!(cached.bytes, (2 + 1 + 5) + (2 + 1) + (2 + 1 + 1));
        cached.insert(key("t1", "a"), Some("1".into()));
        assert_eq!(cached.bytes, (2 + 1 + 1) + (2 + 1) + (2 + 1 + 1), "a replaced value is counted once");
        cached.remove(&key("t1", "b"));
        cached.retain(|(tenant, _)| tenant != "t2");
        assert_eq!((cached.entries.len(), cached.bytes), (1, 4));
        // A value that would pass the byte bound empties the cache first.
        let half = "x".repeat(MAX_CACHED_BYTES / 2);
        cached.insert(key("t3", "big"), Some(half.clone()));
        cached.insert(key("t3", "bigger"), Some(half));
        assert_eq!(cached.entries.len(), 1);
        assert!(cached.bytes <= MAX_CACHED_BYTES);
    }
}
