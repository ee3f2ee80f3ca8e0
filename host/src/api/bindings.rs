//! `/admin/v1/tenants/{tenant}/bindings`: which extension runs on which hook — tenant-wide
//! or for one client (token issuance; a client's own bindings replace the tenant-wide
//! ones), in what order, with what failure policy; a cron schedule for the scheduled hook
//! and a filter for the events hook.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::Value;

use super::auth::Caller;
use super::pages::{Page, PageQuery};
use crate::AppState;
use crate::clock::random_id;
use crate::events::EventFilter;
use crate::extensions::Hook;
use crate::storage::{BindingRow, FailurePolicy, NewBinding};
use crate::web::{ApiError, Problem};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBinding {
    hook: String,
    extension: String,
    client_id: Option<String>,
    failure_policy: Option<FailurePolicy>,
    #[serde(default)]
    position: i64,
    schedule: Option<String>,
    filter: Option<Value>,
}

#[utoipa::path(
    get,
    path = "/admin/v1/tenants/{tenant}/bindings",
    operation_id = "bindings_list",
    tag = "bindings",
    params(PageQuery),
    responses((status = 200, description = "OK", body = [BindingRow]))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Page<BindingRow>, ApiError> {
    let tenant = caller.tenant(&state, &tenant).await?;
    let Query(query) = query?;
    Page::of(state.db.list_bindings(&tenant.id).await?, &query, |binding: &BindingRow| binding.id.clone())
}

#[utoipa::path(
    post,
    path = "/admin/v1/tenants/{tenant}/bindings",
    operation_id = "bindings_create",
    tag = "bindings",
    request_body = CreateBinding,
    responses((status = 201, description = "Created", body = BindingRow))
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
    body: Result<Json<CreateBinding>, JsonRejection>,
) -> Result<(StatusCode, Json<BindingRow>), ApiError> {
    let tenant = caller.tenant(&state, &tenant).await?;
    let Json(body) = body?;
    let invalid = |detail: String| ApiError::new(Problem::InvalidRequest, detail);
    let hook = Hook::from_name(&body.hook).ok_or_else(|| invalid(format!("unknown hook {:?}", body.hook)))?;
    if body.client_id.is_some() && hook != Hook::TokenIssuance {
        return Err(invalid("only token-issuance bindings may name a client".into()));
    }
    if let Some(client_id) = &body.client_id
        && state.db.client(&tenant.id, client_id).await?.is_none()
    {
        return Err(ApiError::not_found("client"));
    }
    match (hook, &body.schedule) {
        (Hook::Scheduled, None) => return Err(invalid("a scheduled binding needs a cron schedule".into())),
        (Hook::Scheduled, Some(schedule)) => {
            crate::events::scheduler::parse_schedule(schedule).map_err(invalid)?;
        }
        (_, Some(_)) => return Err(invalid("only scheduled bindings take a schedule".into())),
        _ => {}
    }
    match (hook, &body.filter) {
        (Hook::Events, Some(filter)) => {
            serde_json::from_value::<EventFilter>(filter.clone())
                .map_err(|e| invalid(format!("invalid filter: {e}")))?;
        }
        (_, Some(_)) => return Err(invalid("only events bindings take a filter".into())),
        _ => {}
    }
    let extension =
        state.db.extension(&tenant.id, &body.extension).await?.ok_or_else(|| ApiError::not_found("extension"))?;
    let id = random_id(state.entropy.as_ref(), "bnd", 12)?;
    let binding = NewBinding {
        id: &id,
        hook: hook.name(),
        extension: &extension.name,
        client_id: body.client_id.as_deref(),
        failure_policy: body.failure_policy.unwrap_or_else(|| hook.default_failure_policy()),
        position: body.position,
        schedule: body.schedule.as_deref(),
        filter: body.filter.as_ref(),
        now: state.clock.now(),
    };
    let _change = state.extensions.change(&tenant.id);
    let row = state.db.insert_binding(&tenant.id, binding).await?;
    Ok((StatusCode::CREATED, Json(row)))
}

#[utoipa::path(
    delete,
    path = "/admin/v1/tenants/{tenant}/bindings/{id}",
    operation_id = "bindings_delete",
    tag = "bindings",
    responses((status = 204, description = "No Content"))
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let tenant = caller.tenant(&state, &tenant).await?;
    let _change = state.extensions.change(&tenant.id);
    if !state.db.delete_binding(&tenant.id, &id).await? {
        return Err(ApiError::not_found("binding"));
    }
    Ok(StatusCode::NO_CONTENT)
}
