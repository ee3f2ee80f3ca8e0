//! Graceful stop of a node's background work. Every background loop (event dispatch,
//! schedules, builds, maintenance, the record and usage writers) takes a [`Work`] guard
//! for each pass and watches [`Drain::stopped`] between passes; [`Drain::stop`] asks them
//! all to stop and waits, up to a grace period, until no pass is running. Work a stop
//! interrupts is in the database and is taken up by the next start or by another node
//! (a pending build, an undelivered event); nothing here is the only copy of anything.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{Notify, watch};

/// The node's stop signal and its count of background passes in progress.
#[derive(Debug)]
pub struct Drain {
    stopping: watch::Sender<bool>,
    busy: AtomicUsize,
    idle: Notify,
}

/// One background pass in progress; the drain waits for it until it is dropped.
#[derive(Debug)]
pub struct Work<'a> {
    drain: &'a Drain,
}

impl Default for Drain {
    fn default() -> Self {
        Drain { stopping: watch::Sender::new(false), busy: AtomicUsize::new(0), idle: Notify::new() }
    }
}

impl Drain {
    /// Whether the node was asked to stop.
    pub fn is_stopping(&self) -> bool {
        *self.stopping.borrow()
    }

    /// Completes once the node is asked to stop (at once if it already was).
    pub async fn stopped(&self) {
        let mut stopping = self.stopping.subscribe();
        // The sender lives as long as `self`: `wait_for` can only end by seeing `true`.
        let _ = stopping.wait_for(|stopping| *stopping).await;
    }

    /// Sleeps for `period`; `false` if the node was asked to stop first (or before).
    pub async fn sleep(&self, period: Duration) -> bool {
        tokio::select! {
            () = tokio::time::sleep(period) => !self.is_stopping(),
            () = self.stopped() => false,
        }
    }

    /// A guard for one background pass, or `None` once the node is stopping (the pass is
    /// then left to the next start or another node).
    pub fn work(&self) -> Option<Work<'_>> {
        self.busy.fetch_add(1, Ordering::SeqCst);
        if self.is_stopping() {
            self.finish();
            return None;
        }
        Some(Work { drain: self })
    }

    /// How many background passes are running now.
    pub fn in_progress(&self) -> usize {
        self.busy.load(Ordering::SeqCst)
    }

    /// Asks every background loop to stop and waits until no pass is running, for at
    /// most `grace`; `true` if they all finished in time.
    pub async fn stop(&self, grace: Duration) -> bool {
        self.stopping.send_replace(true);
        let idle = async {
            loop {
                let notified = self.idle.notified();
                if self.in_progress() == 0 {
                    return;
                }
                notified.await;
            }
        };
        tokio::time::timeout(grace, idle).await.is_ok()
    }

    fn finish(&self) {
        if self.busy.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.idle.notify_waiters();
        }
    }
}

impl Drop for Work<'_> {
    fn drop(&mut self) {
        self.drain.finish();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::sync::Arc;

    use super::*;

    #[tokio::test]
    async fn stop_waits_for_the_passes_in_progress_and_refuses_new_ones() {
        let drain = Arc::new(Drain::default());
        let (started, ready) = tokio::sync::oneshot::channel();
        let pass = tokio::spawn({
            let drain = drain.clone();
            async move {
                let _work = drain.work().unwrap();
                let _ = started.send(());
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
        ready.await.unwrap();
        assert_eq!(drain.in_progress(), 1);
        let begun = tokio::time::Instant::now();
        assert!(drain.stop(Duration::from_secs(5)).await);
        assert!(begun.elapsed() >= Duration::from_millis(150), "stop returned before the pass ended");
        pass.await.unwrap();
        assert!(drain.work().is_none());
        assert!(!drain.sleep(Duration::from_secs(60)).await);
        assert_eq!(drain.in_progress(), 0);
    }

    #[tokio::test]
    async fn stop_gives_up_after_the_grace_period() {
        let drain = Drain::default();
        let _stuck = drain.work().unwrap();
        assert!(!drain.stop(Duration::from_millis(50)).await);
        assert!(drain.is_stopping());
    }
}
