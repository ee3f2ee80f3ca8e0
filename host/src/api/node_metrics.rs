//! `GET /metrics`: the node's Prometheus metrics ([`crate::metrics`]) for the platform
//! operator (the operator's token as a Bearer token; tenants' administrators are refused,
//! since the counters span every tenant). Unaudited, like health: a scraper calls it every
//! few seconds.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::auth::Caller;
use crate::AppState;
use crate::metrics::gauge;
use crate::web::ApiError;

pub async fn serve(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    caller.require_operator()?;
    let runtime = &state.extensions;
    let mut out = String::new();
    runtime.metrics.render(&mut out);
    let (deliveries, builds) = state.db.queue_depths().await?;
    gauge(&mut out, "keyhaven_event_deliveries_pending", "Event deliveries not yet made (all nodes).", deliveries);
    gauge(&mut out, "keyhaven_builds_pending", "Extension builds not yet finished (all nodes).", builds);
    let (open, idle, max) = state.db.pool_connections();
    gauge(&mut out, "keyhaven_database_connections", "Database connections this node holds open.", open);
    gauge(&mut out, "keyhaven_database_connections_idle", "Of those, idle.", idle);
    gauge(&mut out, "keyhaven_database_connections_max", "The most this node opens.", max);
    gauge(&mut out, "keyhaven_invocation_slots_free", "Instance slots free for invocations now.", runtime.free_slots());
    gauge(
        &mut out,
        "keyhaven_invocation_slots",
        "Instance slots of this node (concurrent invocations).",
        runtime.node_limits().concurrent_invocations,
    );
    gauge(&mut out, "keyhaven_compiled_components", "Compiled components in memory.", runtime.components_in_memory());
    gauge(
        &mut out,
        "keyhaven_invocation_records_dropped",
        "Invocation records lost to a full buffer.",
        runtime.records.dropped(),
    );
    gauge(&mut out, "keyhaven_background_passes", "Background passes running now.", runtime.drain.in_progress());
    if let Some(bytes) = crate::metrics::resident_memory_bytes() {
        gauge(&mut out, "keyhaven_process_resident_memory_bytes", "Resident memory of the process.", bytes);
    }
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], out).into_response())
}
