//! Cross-node cache invalidation: on PostgreSQL every node listens on
//! [`CHANGES_CHANNEL`](crate::storage::CHANGES_CHANNEL), where each change to a tenant's
//! cached extension state (limits, plans, settings, extensions, bindings) is announced when
//! it is committed, and forgets what it cached about that tenant. While the listener is
//! disconnected a node cannot know what changed, so on every (re)connection it forgets
//! everything it cached.

use std::sync::Weak;
use std::time::Duration;

use sqlx::postgres::PgListener;

use crate::extensions::ExtensionRuntime;
use crate::storage::CHANGES_CHANNEL;

/// Listens for other nodes' changes while the runtime lives (PostgreSQL only).
pub fn spawn_listener(runtime: Weak<ExtensionRuntime>, url: String) {
    tokio::spawn(async move {
        loop {
            match PgListener::connect(&url).await {
                Ok(mut listener) => {
                    if let Err(e) = listener.listen(CHANGES_CHANNEL).await {
                        tracing::warn!("cannot listen for changes from other nodes: {e}");
                    } else {
                        let Some(node) = runtime.upgrade() else { return };
                        node.invalidate_all();
                        drop(node);
                        loop {
                            let notification = listener.recv().await;
                            let Some(node) = runtime.upgrade() else { return };
                            match notification {
                                Ok(notification) if notification.payload() == "*" => node.invalidate_all(),
                                Ok(notification) => node.invalidate(notification.payload()),
                                Err(e) => {
                                    tracing::warn!("lost the change channel; reconnecting: {e}");
                                    node.invalidate_all();
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
