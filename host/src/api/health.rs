//! Liveness and readiness for load balancers and service managers, public and unaudited:
//! `GET /healthz` answers while the process serves; `GET /readyz` answers 200 only when the
//! node can serve requests now — its database answers within two seconds and it is not
//! stopping — and otherwise 503 problem+json with why, so traffic goes to another node.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::AppState;
use crate::web::{ApiError, Problem};

/// How long readiness waits for the database.
const DATABASE_WAIT: Duration = Duration::from_secs(2);

pub async fn live() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

pub async fn ready(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    if state.extensions.drain.is_stopping() {
        return Err(ApiError::new(Problem::Unavailable, "the node is stopping"));
    }
    match tokio::time::timeout(DATABASE_WAIT, state.db.ping()).await {
        Ok(Ok(())) => Ok(Json(json!({"status": "ready"}))),
        Ok(Err(e)) => {
            tracing::warn!("readiness: the database does not answer: {e}");
            Err(ApiError::new(Problem::Unavailable, "the database does not answer"))
        }
        Err(_) => Err(ApiError::new(Problem::Unavailable, "the database did not answer within 2 s")),
    }
}
