//! `/admin/v1/tenants/{tenant}/extensions/{name}/invocations` and `/metrics`: every
//! invocation's record (newest first, cursor-paginated) and per-extension counts, error
//! rate and latency percentiles.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};

use super::auth::Caller;
use crate::AppState;
use crate::ops::extensions;
use crate::storage::{InvocationRow, InvocationStats};
use crate::web::{ApiError, Problem};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    limit: Option<u32>,
    /// The `next` cursor of the previous page.
    before: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InvocationPage {
    invocations: Vec<InvocationRow>,
    /// Pass as `before` for the next (older) page; absent on the last page.
    next: Option<String>,
}

#[utoipa::path(
    get,
    path = "/admin/v1/tenants/{tenant}/extensions/{name}/invocations",
    operation_id = "invocations_list",
    tag = "invocations",
    params(ListQuery),
    responses((status = 200, description = "OK", body = InvocationPage))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, name)): Path<(String, String)>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<InvocationPage>, ApiError> {
    let tenant = caller.tenant(&state, &tenant).await?;
    let Query(query) = query?;
    let before = match &query.before {
        Some(cursor) => Some(parse_cursor(cursor)?),
        None => None,
    };
    let before = before.as_ref().map(|(at, id)| (*at, id.as_str()));
    let (invocations, next) =
        extensions::invocations(&state, &tenant, &name, before, query.limit.unwrap_or(50)).await?;
    Ok(Json(InvocationPage { invocations, next }))
}

fn parse_cursor(cursor: &str) -> Result<(i64, String), ApiError> {
    cursor
        .split_once('.')
        .and_then(|(at, id)| Some((at.parse().ok()?, id.to_owned())))
        .ok_or_else(|| ApiError::new(Problem::InvalidRequest, "before is not a cursor this API returned"))
}

#[utoipa::path(
    get,
    path = "/admin/v1/tenants/{tenant}/extensions/{name}/metrics",
    operation_id = "invocations_metrics",
    tag = "invocations",
    responses((status = 200, description = "OK", body = InvocationStats))
)]
pub async fn metrics(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, name)): Path<(String, String)>,
) -> Result<Json<InvocationStats>, ApiError> {
    let tenant = caller.tenant(&state, &tenant).await?;
    Ok(Json(extensions::metrics(&state, &tenant, &name).await?))
}
