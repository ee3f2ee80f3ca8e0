//! Invocation records: every invocation (dry runs included) leaves one — hook, version,
//! duration, fuel, outcome, detail and the captured output. Records are buffered in memory,
//! per extension, and written in batches by a background task (and before any read of
//! them), so the token path never waits for a database write. Each extension keeps its
//! newest [`KEPT_PER_EXTENSION`] records only, so the buffer holds at most that many of
//! each: a record superseded by as many newer ones of its extension before the next write
//! would be pruned the moment it was written, and is not written at all. Under load (a
//! busy token-issuance hook runs thousands of times a second) that is most of them.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use super::invoke::Outcome;
use super::{ExtensionRuntime, Hook};
use crate::storage::{Db, InvocationRow, NewInvocation, StorageError};

/// Most records waiting for a write, over all extensions; beyond it the extension's oldest
/// buffered record (for an extension with none, the new one) is dropped, and counted.
const MAX_BUFFERED: usize = 20_000;
/// How often buffered records are written.
const FLUSH_EVERY: Duration = Duration::from_secs(1);
/// Records kept per extension; older ones are pruned.
pub const KEPT_PER_EXTENSION: u32 = 1_000;
/// Prune once per this many flushes (about a minute).
const PRUNE_EVERY_FLUSHES: u64 = 60;

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

/// Records not yet written: each extension's newest, oldest first, by tenant and extension.
#[derive(Debug, Default)]
struct Buffer {
    by_extension: HashMap<String, HashMap<String, VecDeque<NewInvocation>>>,
    len: usize,
}

/// The buffer of records not yet written.
#[derive(Debug, Default)]
pub struct Recorder {
    buffer: Mutex<Buffer>,
    /// Serialises writers so records reach the database in order.
    writing: tokio::sync::Mutex<()>,
    next_id: AtomicU64,
    id_prefix: String,
    /// Records lost because the buffer was full.
    dropped: AtomicU64,
    /// Records never written because newer ones of their extension replaced them.
    superseded: AtomicU64,
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
        let Buffer { by_extension, len } = &mut *buffer;
        let tenant = match by_extension.get_mut(&record.tenant_id) {
            Some(tenant) => tenant,
            None => by_extension.entry(record.tenant_id.clone()).or_default(),
        };
        let queue = match tenant.get_mut(&row.extension) {
            Some(queue) => queue,
            None => tenant.entry(row.extension.clone()).or_default(),
        };
        if queue.len() >= KEPT_PER_EXTENSION as usize {
            queue.pop_front();
            self.superseded.fetch_add(1, Ordering::Relaxed);
        } else if *len < MAX_BUFFERED {
            *len += 1;
        } else if queue.pop_front().is_some() {
            // Full: the extension's oldest record makes room for its newest.
            self.dropped.fetch_add(1, Ordering::Relaxed);
        } else {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        queue.push_back(NewInvocation { tenant_id: record.tenant_id, row });
    }

    /// Writes every buffered record.
    pub async fn flush(&self, db: &Db) -> Result<(), StorageError> {
        let _writing = self.writing.lock().await;
        let batch = self.take();
        if batch.is_empty() {
            return Ok(());
        }
        db.insert_invocations(&batch).await
    }

    /// Empties the buffer.
    fn take(&self) -> Vec<NewInvocation> {
        let Ok(mut buffer) = self.buffer.lock() else { return Vec::new() };
        let Buffer { by_extension, .. } = std::mem::take(&mut *buffer);
        by_extension.into_values().flat_map(HashMap::into_values).flatten().collect()
    }

    /// Records lost because the buffer was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Records not written because [`KEPT_PER_EXTENSION`] newer ones of their extension
    /// arrived before the next write (the pruning would have deleted them).
    pub fn superseded(&self) -> u64 {
        self.superseded.load(Ordering::Relaxed)
    }
}

/// Writes records every [`FLUSH_EVERY`] and prunes old ones, until the runtime is dropped.
pub(super) fn spawn_flusher(runtime: Weak<ExtensionRuntime>, drain: Arc<crate::drain::Drain>) {
    tokio::spawn(async move {
        let mut ticks: u64 = 0;
        // The last records are written by the stop itself ([`crate::AppState::stop`]).
        while drain.sleep(FLUSH_EVERY).await {
            let Some(runtime) = runtime.upgrade() else { return };
            let Some(_work) = drain.work() else { return };
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

#[cfg(test)]
mod tests {
    use super::*;

    fn record(tenant: &str, extension: &str, started_at: i64) -> InvocationRecord {
        InvocationRecord {
            tenant_id: tenant.into(),
            extension: extension.into(),
            deployment_id: "dep".into(),
            version: 1,
            hook: Hook::TokenIssuance,
            started_at,
            duration_us: 10,
            fuel_used: 100,
            outcome: Outcome::Ok,
            detail: None,
            output: String::new(),
            dry_run: false,
        }
    }

    #[test]
    fn only_each_extensions_newest_records_are_written() {
        let recorder = Recorder::new("node".into());
        let busy = KEPT_PER_EXTENSION as i64 + 500;
        for at in 0..busy {
            recorder.push(record("t1", "busy", at));
        }
        for at in 0..3 {
            recorder.push(record("t1", "quiet", at));
            recorder.push(record("t2", "busy", at));
        }
        let batch = recorder.take();
        let of = |tenant: &str, extension: &str| -> Vec<i64> {
            let mut times: Vec<i64> = batch
                .iter()
                .filter(|r| r.tenant_id == tenant && r.row.extension == extension)
                .map(|r| r.row.started_at)
                .collect();
            times.sort_unstable();
            times
        };
        assert_eq!(of("t1", "busy"), (500..busy).collect::<Vec<_>>(), "the newest 1,000, none older");
        assert_eq!(of("t1", "quiet"), vec![0, 1, 2]);
        assert_eq!(of("t2", "busy"), vec![0, 1, 2], "another tenant's extension of the same name is its own");
        assert_eq!(batch.len(), KEPT_PER_EXTENSION as usize + 6);
        assert_eq!(recorder.superseded(), 500);
        assert_eq!(recorder.dropped(), 0);
        assert!(recorder.take().is_empty(), "written once");
    }

    #[test]
    fn a_full_buffer_keeps_each_extensions_newest() {
        let recorder = Recorder::new("node".into());
        let kept = i64::from(KEPT_PER_EXTENSION);
        let extensions = MAX_BUFFERED / KEPT_PER_EXTENSION as usize;
        for extension in 0..extensions {
            // The last extension is one record short of its share; "other" takes that place.
            let records = if extension + 1 == extensions { kept - 1 } else { kept };
            for at in 0..records {
                recorder.push(record("t", &format!("e{extension}"), at));
            }
        }
        recorder.push(record("t", "other", 0));
        assert_eq!((recorder.dropped(), recorder.superseded()), (0, 0));
        // Full: an extension's newest record replaces its oldest (superseded when it has
        // its share, dropped when the buffer is what is full); a new extension's is lost.
        let last = format!("e{}", extensions - 1);
        recorder.push(record("t", "e0", 5_000));
        recorder.push(record("t", &last, 5_000));
        recorder.push(record("t", "new", 0));
        assert_eq!((recorder.dropped(), recorder.superseded()), (2, 1));
        let batch = recorder.take();
        assert_eq!(batch.len(), MAX_BUFFERED);
        let has =
            |extension: &str, at: i64| batch.iter().any(|r| r.row.extension == extension && r.row.started_at == at);
        assert!(has("e0", 5_000) && !has("e0", 0));
        assert!(has(&last, 5_000) && !has(&last, 0) && has(&last, 1));
        assert!(has("other", 0) && !batch.iter().any(|r| r.row.extension == "new"));
    }
}
