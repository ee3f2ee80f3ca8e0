//! Cross-node cache invalidation: on PostgreSQL every node listens on
//! [`CHANGES_CHANNEL`](crate::storage::CHANGES_CHANNEL), where each change to what a node
//! caches of a tenant (extension limits, plans, settings, extensions, bindings; its signing
//! key) is announced when it is committed, and forgets what it cached about that tenant. While the listener is
//! disconnected a node cannot know what changed, so on every (re)connection it forgets
//! everything it cached.

use std::sync::Weak;
use std::time::Duration;

use sqlx::postgres::PgListener;

use crate::Services;
use crate::storage::{CHANGES_CHANNEL, Change};

/// Listens for other nodes' changes while the service lives (PostgreSQL only).
pub fn spawn_listener(runtime: Weak<Services>, url: String) {
    tokio::spawn(async move {
        loop {
            match PgListener::connect(&url).await {
                Ok(mut listener) => {
                    if let Err(e) = listener.listen(CHANGES_CHANNEL).await {
                        tracing::warn!("cannot listen for changes from other nodes: {e}");
                    } else {
                        let Some(node) = runtime.upgrade() else { return };
                        node.forget(&Change::Everything);
                        drop(node);
                        loop {
                            // A lost connection (`Ok(None)`, or an error) means changes may go
                            // unheard: start again from connecting, so that everything cached
                            // is forgotten only once this node listens again — forgetting
                            // before would let what is read meanwhile stay stale.
                            let notification = listener.try_recv().await;
                            let Some(node) = runtime.upgrade() else { return };
                            match notification {
                                Ok(Some(notification)) => node.forget(&Change::parse(notification.payload())),
                                Ok(None) => {
                                    tracing::warn!("the change channel was interrupted; reconnecting");
                                    break;
                                }
                                Err(e) => {
                                    tracing::warn!("lost the change channel; reconnecting: {e}");
                                    break;
                                }
                            }
                        }
                    }
                }
                Err(e) => tracing::warn!("cannot connect the change listener: {e}"),
            }
            if runtime.strong_count() == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
}
