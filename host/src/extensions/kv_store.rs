//! The tenants' key-value store as the runtime and the admin API use it: the database,
//! behind a per-node read cache so an extension that reads the same keys on every token
//! (custom claims from reference data, say) costs no database round trip per call. Every
//! write on this node goes through here: it makes the tenant's cache unreadable while it is
//! written, forgets the key once it is, and tells other nodes ([`Change::KeyValues`]),
//! which forget that tenant's cached keys. A value read while a write of the tenant began
//! or ended is not kept, so no reader caches what a write replaced. Each tenant's cache is
//! its own — its writes, its bounds — so one tenant's busy store never empties or disables
//! another's.

use std::collections::HashMap;
use std::sync::RwLock;

use crate::storage::{Change, Db, KvWrite, Result};

/// Most keys, and most bytes of keys and values, cached per tenant and node; when either is
/// reached, the tenant's cache starts again empty.
const MAX_TENANT_ENTRIES: usize = 10_000;
const MAX_TENANT_BYTES: usize = 8 << 20;
/// Most bytes cached per node, all tenants together; beyond it the node's cache restarts.
const MAX_BYTES: usize = 64 << 20;

/// The store and this node's cache of it.
#[derive(Debug)]
pub struct KvStore {
    db: Db,
    cached: RwLock<Cached>,
}

#[derive(Debug, Default)]
struct Cached {
    tenants: HashMap<String, TenantCache>,
    /// Bytes held, all tenants together.
    bytes: usize,
    /// Bumped by forgetting everything: it covers tenants with no entry yet, whose values
    /// may be in flight from the database at that moment.
    epoch: u64,
}

/// One tenant's cached entries (`None`: the key does not exist), its writes in progress on
/// this node, and a generation bumped by every write and forgetting.
#[derive(Debug, Default)]
struct TenantCache {
    entries: HashMap<String, Option<String>>,
    bytes: usize,
    writing: usize,
    generation: u64,
}

fn size(key: &str, value: &Option<String>) -> usize {
    key.len() + value.as_ref().map_or(0, String::len)
}

impl Cached {
    /// The node's epoch and the tenant's generation, if its cache may be read now (no write
    /// in progress); a value read from the database under them is kept only if both are
    /// unchanged after.
    fn readable(&self, tenant_id: &str) -> Option<(u64, u64)> {
        match self.tenants.get(tenant_id) {
            Some(tenant) => (tenant.writing == 0).then_some((self.epoch, tenant.generation)),
            None => Some((self.epoch, 0)),
        }
    }

    fn insert(&mut self, tenant_id: &str, key: &str, value: Option<String>) {
        let added = size(key, &value);
        if self.bytes + added > MAX_BYTES {
            self.forget_all();
        }
        let tenant = self.tenants.entry(tenant_id.to_owned()).or_default();
        if tenant.entries.len() >= MAX_TENANT_ENTRIES || tenant.bytes + added > MAX_TENANT_BYTES {
            self.bytes -= tenant.bytes;
            tenant.entries.clear();
            tenant.bytes = 0;
        }
        if let Some(old) = tenant.entries.insert(key.to_owned(), value) {
            tenant.bytes -= size(key, &old);
            self.bytes -= size(key, &old);
        }
        tenant.bytes += added;
        self.bytes += added;
    }

    /// Forgets one key of the tenant and bumps its generation.
    fn forget_key(&mut self, tenant_id: &str, key: &str) {
        let tenant = self.tenants.entry(tenant_id.to_owned()).or_default();
        tenant.generation += 1;
        if let Some(old) = tenant.entries.remove(key) {
            tenant.bytes -= size(key, &old);
            self.bytes -= size(key, &old);
        }
    }

    /// Forgets the tenant's entries and bumps its generation — also when it has none yet,
    /// so a value being read for it now is not kept.
    fn forget_tenant(&mut self, tenant_id: &str) {
        let tenant = self.tenants.entry(tenant_id.to_owned()).or_default();
        tenant.generation += 1;
        self.bytes -= tenant.bytes;
        tenant.entries.clear();
        tenant.bytes = 0;
    }

    fn forget_all(&mut self) {
        self.epoch += 1;
        for tenant in self.tenants.values_mut() {
            tenant.generation += 1;
            tenant.entries.clear();
            tenant.bytes = 0;
        }
        self.bytes = 0;
    }
}

/// A write in progress: the tenant's cache is not read, and on drop the key is forgotten
/// and the change announced.
struct Writing<'a> {
    store: &'a KvStore,
    tenant_id: &'a str,
    key: &'a str,
}

impl Drop for Writing<'_> {
    fn drop(&mut self) {
        if let Ok(mut cached) = self.store.cached.write() {
            cached.forget_key(self.tenant_id, self.key);
            if let Some(tenant) = cached.tenants.get_mut(self.tenant_id) {
                tenant.writing = tenant.writing.saturating_sub(1);
            }
        }
        let (db, change) = (self.store.db.clone(), Change::KeyValues(self.tenant_id.to_owned()));
        if db.postgres_url().is_some()
            && let Ok(handle) = tokio::runtime::Handle::try_current()
        {
            handle.spawn(async move {
                if let Err(e) = db.publish_change(&change).await {
                    tracing::warn!("cannot announce a key-value change to other nodes: {e}");
                }
            });
        }
    }
}

impl KvStore {
    pub fn new(db: Db) -> Self {
        KvStore { db, cached: RwLock::default() }
    }

    /// The value of `key` in the tenant's store (`None`: no such key).
    pub async fn get(&self, tenant_id: &str, key: &str) -> Result<Option<String>> {
        let generation = match self.cached.read() {
            Ok(cached) => {
                let generation = cached.readable(tenant_id);
                if generation.is_some()
                    && let Some(value) = cached.tenants.get(tenant_id).and_then(|t| t.entries.get(key))
                {
                    return Ok(value.clone());
                }
                generation
            }
            Err(_) => None,
        };
        let value = self.db.kv_get(tenant_id, key).await?;
        if let Ok(mut cached) = self.cached.write()
            && generation.is_some()
            && cached.readable(tenant_id) == generation
        {
            cached.insert(tenant_id, key, value.clone());
        }
        Ok(value)
    }

    fn writing<'a>(&'a self, tenant_id: &'a str, key: &'a str) -> Writing<'a> {
        if let Ok(mut cached) = self.cached.write() {
            cached.forget_key(tenant_id, key);
            if let Some(tenant) = cached.tenants.get_mut(tenant_id) {
                tenant.writing += 1;
            }
        }
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

    /// Forgets a tenant's cached keys (another node wrote one of them).
    pub fn forget_tenant(&self, tenant_id: &str) {
        if let Ok(mut cached) = self.cached.write() {
            cached.forget_tenant(tenant_id);
        }
    }

    pub fn forget_all(&self) {
        if let Ok(mut cached) = self.cached.write() {
            cached.forget_all();
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn each_tenant_has_its_own_cache_writes_and_bounds() {
        let mut cached = Cached::default();
        cached.insert("t1", "a", Some("12345".into()));
        cached.insert("t1", "b", None);
        cached.insert("t2", "a", Some("1".into()));
        assert_eq!(cached.bytes, (1 + 5) + 1 + (1 + 1));
        cached.insert("t1", "a", Some("1".into()));
        assert_eq!(cached.tenants["t1"].bytes, (1 + 1) + 1, "a replaced value is counted once");

        // A write of t1 makes t1 unreadable, and only t1.
        cached.forget_key("t1", "b");
        cached.tenants.get_mut("t1").unwrap().writing += 1;
        assert_eq!(cached.readable("t1"), None);
        assert!(cached.readable("t2").is_some(), "another tenant's cache stays readable");
        cached.tenants.get_mut("t1").unwrap().writing -= 1;
        let before = cached.readable("t1");
        cached.forget_key("t1", "a");
        assert_ne!(cached.readable("t1"), before, "a value read across a write is not kept");

        // A tenant filling its share empties only its own cache.
        let big = "x".repeat(MAX_TENANT_BYTES / 2 + 1);
        cached.insert("t1", "big", Some(big.clone()));
        cached.insert("t1", "bigger", Some(big));
        assert_eq!(cached.tenants["t1"].entries.len(), 1);
        assert_eq!(cached.tenants["t2"].entries.len(), 1, "t2 keeps its entries");
        let total: usize = cached.tenants.values().map(|t| t.bytes).sum();
        assert_eq!(cached.bytes, total);
        cached.forget_tenant("t2");
        assert!(cached.tenants["t2"].entries.is_empty());

        // Another node's change to a tenant this node holds nothing of yet still counts.
        let before = cached.readable("t3");
        cached.forget_tenant("t3");
        assert_ne!(cached.readable("t3"), before);
        let before = cached.readable("t4");
        cached.forget_all();
        assert_ne!(cached.readable("t4"), before);
    }
}
