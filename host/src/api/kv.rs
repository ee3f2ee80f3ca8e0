//! `/admin/v1/tenants/{tenant}/kv`: the tenant's extension key-value store, as its
//! administrator sees it — list (by prefix), put a JSON value, delete.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::Value;

use super::auth::Caller;
use super::pages::{Page, PageQuery, fetch_limit};
use crate::AppState;
use crate::extensions::kv::check_key;
use crate::storage::{KvEntry, KvWrite};
use crate::web::{ApiError, Problem};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only keys that start with this.
    prefix: Option<String>,
    /// The previous page's last key.
    after: Option<String>,
    /// Items per page: 1 to 1,000 (100 by default).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
}

#[utoipa::path(
    get,
    path = "/admin/v1/tenants/{tenant}/kv",
    operation_id = "kv_list",
    tag = "kv",
    params(ListQuery),
    responses((status = 200, description = "OK", body = [KvEntry]))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Page<KvEntry>, ApiError> {
    let tenant = caller.tenant(&state, &tenant).await?;
    let Query(query) = query?;
    let page = PageQuery { after: query.after, limit: query.limit };
    let (prefix, after) = (query.prefix.as_deref(), page.after.as_deref());
    let entries = state.db.kv_list(&tenant.id, prefix, after, fetch_limit(page.limit())).await?;
    Ok(Page::fetched(entries, page.limit(), |entry: &KvEntry| entry.key.clone()))
}

#[utoipa::path(
    put,
    path = "/admin/v1/tenants/{tenant}/kv/{key}",
    operation_id = "kv_put",
    tag = "kv",
    request_body = Value,
    responses((status = 204, description = "No Content"))
)]
pub async fn put(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, key)): Path<(String, String)>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    let tenant = caller.tenant(&state, &tenant).await?;
    let Json(value) = body?;
    check_key(&key).map_err(|e| ApiError::new(Problem::InvalidRequest, e))?;
    let limits = state.extensions.tenant_limits(&tenant.id).await?;
    let value = value.to_string();
    if value.len() > limits.kv_value_bytes {
        return Err(ApiError::new(
            Problem::PayloadTooLarge,
            format!("the value is {} bytes; this tenant's limit is {}", value.len(), limits.kv_value_bytes),
        ));
    }
    let write = KvWrite { key: &key, value: &value, max_keys: limits.kv_keys, now: state.clock.now() };
    if !state.extensions.kv.set(&tenant.id, write).await? {
        return Err(ApiError::new(Problem::Conflict, format!("the store already holds {} keys", limits.kv_keys)));
    }
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    delete,
    path = "/admin/v1/tenants/{tenant}/kv/{key}",
    operation_id = "kv_delete",
    tag = "kv",
    responses((status = 204, description = "No Content"))
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, key)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let tenant = caller.tenant(&state, &tenant).await?;
    match state.extensions.kv.delete(&tenant.id, &key).await? {
        true => Ok(StatusCode::NO_CONTENT),
        false => Err(ApiError::not_found("key")),
    }
}
