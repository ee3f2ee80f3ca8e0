//! The tenant's key-value store: JSON values under keys of 1 to 256 bytes, shared by the
//! tenant's extensions and its administrators. Bounded in keys and value size by the
//! tenant's plan; during a dry run, writes are visible to that run only.

use serde_json::Value;

/// Why a key-value operation did not happen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KvError {
    InvalidKey(String),
    InvalidValue(String),
    TooLarge(String),
    QuotaExceeded(String),
    Unavailable(String),
}

impl std::fmt::Display for KvError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KvError::InvalidKey(m) | KvError::InvalidValue(m) | KvError::TooLarge(m) => f.write_str(m),
            KvError::QuotaExceeded(m) | KvError::Unavailable(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for KvError {}

/// The value stored under `key`, if any.
pub fn get(key: &str) -> Result<Option<Value>, KvError> {
    match imp::get(key)? {
        Some(json) => serde_json::from_str(&json).map(Some).map_err(|e| KvError::InvalidValue(e.to_string())),
        None => Ok(None),
    }
}

/// Stores `value` under `key`.
pub fn set(key: &str, value: &Value) -> Result<(), KvError> {
    imp::set(key, &value.to_string())
}

/// Removes `key`; true if it existed.
pub fn delete(key: &str) -> Result<bool, KvError> {
    imp::delete(key)
}

#[cfg(target_arch = "wasm32")]
mod imp {
    use super::KvError;
    use crate::__private::imports::keyhaven::extension::kv as host;

    fn error(e: host::KvError) -> KvError {
        match e {
            host::KvError::InvalidKey(m) => KvError::InvalidKey(m),
            host::KvError::InvalidValue(m) => KvError::InvalidValue(m),
            host::KvError::TooLarge(m) => KvError::TooLarge(m),
            host::KvError::QuotaExceeded(m) => KvError::QuotaExceeded(m),
            host::KvError::Unavailable(m) => KvError::Unavailable(m),
        }
    }

    pub(super) fn get(key: &str) -> Result<Option<String>, KvError> {
        host::get(key).map_err(error)
    }

    pub(super) fn set(key: &str, value: &str) -> Result<(), KvError> {
        host::set(key, value).map_err(error)
    }

    pub(super) fn delete(key: &str) -> Result<bool, KvError> {
        host::delete(key).map_err(error)
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use super::KvError;

    pub(super) fn get(key: &str) -> Result<Option<String>, KvError> {
        Ok(crate::testing::kv_get(key))
    }

    pub(super) fn set(key: &str, value: &str) -> Result<(), KvError> {
        crate::testing::kv_put(key, value);
        Ok(())
    }

    pub(super) fn delete(key: &str) -> Result<bool, KvError> {
        Ok(crate::testing::kv_remove(key))
    }
}
