//! Host side of `keyhaven:extension/kv`: the tenant's small key-value store. Keys are 1 to
//! 256 bytes, values are JSON within the tenant's size limit, and the number of keys is
//! bounded by its plan. Storage failures reach the guest as `unavailable`, never as a trap.
//! During a dry run, writes go to an overlay that lives and dies with the invocation.

use std::collections::HashMap;
use std::sync::Arc;

use super::bindings::kv::{Host, KvError};
use super::kv_store::KvStore;
use super::state::HostState;
use crate::clock::Clock;
use crate::storage::KvWrite;

/// Longest key, in bytes.
pub const MAX_KEY_BYTES: usize = 256;

/// One invocation's access to its tenant's store.
pub struct KvSession {
    store: Arc<KvStore>,
    tenant_id: String,
    max_keys: u32,
    max_value_bytes: usize,
    clock: Arc<dyn Clock>,
    /// Dry runs: what this invocation wrote (`None`: deleted), never stored.
    overlay: Option<HashMap<String, Option<String>>>,
}

impl KvSession {
    pub fn new(
        store: Arc<KvStore>,
        tenant_id: String,
        limits: &super::Limits,
        clock: Arc<dyn Clock>,
        dry_run: bool,
    ) -> Self {
        KvSession {
            store,
            tenant_id,
            max_keys: limits.kv_keys,
            max_value_bytes: limits.kv_value_bytes,
            clock,
            overlay: dry_run.then(HashMap::new),
        }
    }
}

/// Checks a key as the guest and the admin API give it.
pub fn check_key(key: &str) -> Result<(), String> {
    if key.is_empty() || key.len() > MAX_KEY_BYTES || key.chars().any(char::is_control) {
        return Err(format!("keys are 1 to {MAX_KEY_BYTES} bytes without control characters"));
    }
    Ok(())
}

/// Checks a value: JSON, within `limit` bytes.
pub fn check_value(value: &str, limit: usize) -> Result<(), KvError> {
    if value.len() > limit {
        return Err(KvError::TooLarge(format!("the value is {} bytes; the limit is {limit}", value.len())));
    }
    if serde_json::from_str::<serde::de::IgnoredAny>(value).is_err() {
        return Err(KvError::InvalidValue("the value is not valid JSON".into()));
    }
    Ok(())
}

fn unavailable(error: impl std::fmt::Display) -> KvError {
    tracing::warn!("key-value store: {error}");
    KvError::Unavailable("the key-value store is unavailable; nothing was changed".into())
}

impl Host for HostState {
    async fn get(&mut self, key: String) -> Result<Option<String>, KvError> {
        check_key(&key).map_err(KvError::InvalidKey)?;
        let kv = &self.kv;
        if let Some(written) = kv.overlay.as_ref().and_then(|overlay| overlay.get(&key)) {
            return Ok(written.clone());
        }
        kv.store.get(&kv.tenant_id, &key).await.map_err(unavailable)
    }

    async fn set(&mut self, key: String, value: String) -> Result<(), KvError> {
        check_key(&key).map_err(KvError::InvalidKey)?;
        let kv = &mut self.kv;
        check_value(&value, kv.max_value_bytes)?;
        if let Some(overlay) = kv.overlay.as_mut() {
            overlay.insert(key, Some(value));
            return Ok(());
        }
        let write = KvWrite { key: &key, value: &value, max_keys: kv.max_keys, now: kv.clock.now() };
        match kv.store.set(&kv.tenant_id, write).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(KvError::QuotaExceeded(format!("the store already holds {} keys", kv.max_keys))),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn delete(&mut self, key: String) -> Result<bool, KvError> {
        check_key(&key).map_err(KvError::InvalidKey)?;
        let kv = &mut self.kv;
        if let Some(overlay) = kv.overlay.as_mut() {
            let existed = match overlay.get(&key) {
                Some(written) => written.is_some(),
                None => kv.store.get(&kv.tenant_id, &key).await.map_err(unavailable)?.is_some(),
            };
            overlay.insert(key, None);
            return Ok(existed);
        }
        kv.store.delete(&kv.tenant_id, &key).await.map_err(unavailable)
    }
}
