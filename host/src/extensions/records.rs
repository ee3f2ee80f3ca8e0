//! Invocation records: every invocation (dry runs included) leaves one — hook, version,
//! duration, fuel, outcome, detail and the captured output. Records are buffered in memory
//! and written in batches by a background task (and before any read of them), so the token
//! path never waits for a database write; the buffer is bounded, and each extension keeps
//! its newest records only.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, Weak};
use std::time::Duration;

use super::invoke::Outcome;
use super::{ExtensionRuntime, Hook};
use crate::storage::{Db, InvocationRow, NewInvocation, StorageError};

/// Most records waiting for a write; beyond it the oldest are dropped (and counted).
const MAX_BUFFERED: usize = 10_000;
/// How often buffered records are written.
const FLUSH_EVERY: Duration = Duration::from_millis(250);
/// Records kept per extension; older ones are pruned.
pub const KEPT_PER_EXTENSION: u32 = 1_000;
/// Prune once per this many flushes (about a minute).
const PRUNE_EVERY_FLUSHES: u64 = 240;

/// One invocation, as the runtime reports it.
#[derive(Clone, Debug)]
pub struct InvocationRecord {
    pub tenant_id: String,
    pub extension: String,
    pub deployment_id: String,
    pub version: i64,
    pub hook: Hook,
    pub started_at: i64,
    pub duration_us: u64,
    pub fuel_used: u64,
    pub outcome: Outcome,
    pub detail: Option<String>,
    pub output: String,
    pub dry_run: bool,
}

/// The buffer of records not yet written.
#[derive(Debug, Default)]
pub struct Recorder {
    buffer: Mutex<Vec<NewInvocation>>,
    /// Serialises writers so records reach the database in order.
    writing: tokio::sync::Mutex<()>,
    next_id: AtomicU64,
    id_prefix: String,
    dropped: AtomicU64,
}

impl Recorder {
    pub fn new(id_prefix: String) -> Self {
        Recorder { id_prefix, ..Default::default() }
    }

    pub fn push(&self, record: InvocationRecord) {
        // Ids sort by creation on this node: a random node prefix and a counter.
        let sequence = self.next_id.fetch_add(1, Ordering::Relaxed);
        let row = InvocationRow {
            id: format!("inv_{}{sequence:012x}", self.id_prefix),
            extension: record.extension,
            deployment_id: record.deployment_id,
            version: record.version,
            hook: record.hook.name().to_owned(),
            started_at: record.started_at,
            duration_us: i64::try_from(record.duration_us).unwrap_or(i64::MAX),
            fuel_used: i64::try_from(record.fuel_used).unwrap_or(i64::MAX),
            outcome: record.outcome.as_str().to_owned(),
            detail: record.detail,
            output: record.output,
            dry_run: record.dry_run,
        };
        let Ok(mut buffer) = self.buffer.lock() else { return };
        if buffer.len() >= MAX_BUFFERED {
            buffer.remove(0);
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        buffer.push(NewInvocation { tenant_id: record.tenant_id, row });
    }

    /// Writes every buffered record.
    pub async fn flush(&self, db: &Db) -> Result<(), StorageError> {
        let _writing = self.writing.lock().await;
        let batch = match self.buffer.lock() {
            Ok(mut buffer) => std::mem::take(&mut *buffer),
            Err(_) => return Ok(()),
        };
        if batch.is_empty() {
            return Ok(());
        }
        db.insert_invocations(&batch).await
    }

    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// Writes records every [`FLUSH_EVERY`] and prunes old ones, until the runtime is dropped.
pub(super) fn spawn_flusher(runtime: Weak<ExtensionRuntime>) {
    tokio::spawn(async move {
        let mut ticks: u64 = 0;
        loop {
            tokio::time::sleep(FLUSH_EVERY).await;
            let Some(runtime) = runtime.upgrade() else { return };
            if let Err(e) = runtime.records.flush(&runtime.db).await {
                tracing::warn!("cannot write invocation records: {e}");
            }
            ticks += 1;
            if ticks.is_multiple_of(PRUNE_EVERY_FLUSHES)
                && let Err(e) = runtime.db.prune_invocations(KEPT_PER_EXTENSION).await
            {
                tracing::warn!("cannot prune invocation records: {e}");
            }
        }
    });
}
