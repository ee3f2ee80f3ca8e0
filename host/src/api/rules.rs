//! `/admin/v1/tenants/{tenant}/rules`: rules that grant scopes of the tenant's catalogue to
//! one machine client or (`"client_id": "*"`) to every client. A client obtains the scopes
//! of its own `scopes` list and of every enabled rule naming it; disabling or deleting a
//! rule takes its scopes away from the next token on. Changes are written with their
//! events (`rule.created`, `rule.changed`, `rule.deleted`).

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::json;

use super::auth::Caller;
use super::pages::{Page, PageQuery};
use crate::AppState;
use crate::clock::sortable_id;
use crate::events::changes;
use crate::tenancy::controls::EVERY_CLIENT;
use crate::tenancy::{ResourceState, ScopeRule, Tenant};
use crate::web::{ApiError, Problem};

const MAX_SCOPES: usize = 100;

fn invalid(detail: impl Into<String>) -> ApiError {
    ApiError::new(Problem::InvalidRequest, detail)
}

/// A rule's label is 1 to 200 characters; its scopes, 1 to 100, each in the catalogue.
async fn check(state: &AppState, tenant: &Tenant, label: &str, scopes: &[String]) -> Result<(), ApiError> {
    crate::ops::tenants::check_label(label)?;
    if scopes.is_empty() || scopes.len() > MAX_SCOPES {
        return Err(invalid(format!("a rule grants 1 to {MAX_SCOPES} scopes")));
    }
    let catalogue = state.db.scopes(&tenant.id).await?;
    if let Some(unknown) = scopes.iter().find(|s| !catalogue.iter().any(|c| &c.value == *s)) {
        return Err(invalid(format!("{unknown:?} is not a scope of this tenant's catalogue")));
    }
    Ok(())
}

fn fields(rule: &ScopeRule) -> serde_json::Map<String, serde_json::Value> {
    let mut fields = serde_json::Map::new();
    fields.insert("label".into(), json!(rule.label));
    fields.insert("scopes".into(), json!(rule.scopes));
    fields.insert("state".into(), json!(rule.state));
    fields
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRule {
    label: String,
    /// A client id of the tenant, or `*` for every client.
    client_id: String,
    scopes: Vec<String>,
}

#[utoipa::path(
    post,
    path = "/admin/v1/tenants/{tenant}/rules",
    operation_id = "rules_create",
    tag = "rules",
    request_body = CreateRule,
    responses((status = 201, description = "Created", body = ScopeRule))
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
    body: Result<Json<CreateRule>, JsonRejection>,
) -> Result<(StatusCode, Json<ScopeRule>), ApiError> {
    let tenant = caller.tenant(&state, &tenant).await?;
    let Json(body) = body?;
    check(&state, &tenant, &body.label, &body.scopes).await?;
    if body.client_id != EVERY_CLIENT && state.db.client(&tenant.id, &body.client_id).await?.is_none() {
        return Err(invalid(format!(
            "there is no client {:?} in this tenant (or use \"*\" for every client)",
            body.client_id
        )));
    }
    let now = state.clock.now();
    let mut scopes: Vec<String> = Vec::new();
    for scope in body.scopes {
        if !scopes.contains(&scope) {
            scopes.push(scope);
        }
    }
    let rule = ScopeRule {
        id: sortable_id(state.entropy.as_ref(), "rule", now, 8)?,
        label: body.label,
        client_id: body.client_id,
        scopes,
        state: ResourceState::Enabled,
        created_at: now,
        updated_at: now,
    };
    let mut detail = changes(&serde_json::Map::new(), &fields(&rule));
    detail["rule_id"] = json!(rule.id);
    detail["client_id"] = json!(rule.client_id);
    let event = super::resource_event(&state, &tenant, "rule.created", detail).await?;
    let event = event.as_ref().map(|(event, bindings)| (event, bindings.as_slice()));
    state.db.insert_rule(&tenant.id, &rule, event).await?;
    Ok((StatusCode::CREATED, Json(rule)))
}

#[utoipa::path(
    get,
    path = "/admin/v1/tenants/{tenant}/rules",
    operation_id = "rules_list",
    tag = "rules",
    params(PageQuery),
    responses((status = 200, description = "OK", body = [ScopeRule]))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Page<ScopeRule>, ApiError> {
    let tenant = caller.tenant(&state, &tenant).await?;
    let Query(query) = query?;
    Page::of(state.db.rules(&tenant.id).await?, &query, |rule: &ScopeRule| rule.id.clone())
}

#[utoipa::path(
    get,
    path = "/admin/v1/tenants/{tenant}/rules/{id}",
    operation_id = "rules_get",
    tag = "rules",
    responses((status = 200, description = "OK", body = ScopeRule))
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, id)): Path<(String, String)>,
) -> Result<Json<ScopeRule>, ApiError> {
    let tenant = caller.tenant(&state, &tenant).await?;
    Ok(Json(state.db.rule(&tenant.id, &id).await?.ok_or_else(|| ApiError::not_found("rule"))?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeRule {
    label: Option<String>,
    scopes: Option<Vec<String>>,
    state: Option<ResourceState>,
}

#[utoipa::path(
    patch,
    path = "/admin/v1/tenants/{tenant}/rules/{id}",
    operation_id = "rules_change",
    tag = "rules",
    request_body = ChangeRule,
    responses((status = 200, description = "OK", body = ScopeRule))
)]
pub async fn change(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, id)): Path<(String, String)>,
    body: Result<Json<ChangeRule>, JsonRejection>,
) -> Result<Json<ScopeRule>, ApiError> {
    let tenant = caller.tenant(&state, &tenant).await?;
    let Json(body) = body?;
    let mut rule = state.db.rule(&tenant.id, &id).await?.ok_or_else(|| ApiError::not_found("rule"))?;
    let before = fields(&rule);
    if let Some(label) = body.label {
        rule.label = label;
    }
    if let Some(scopes) = body.scopes {
        rule.scopes = Vec::new();
        for scope in scopes {
            if !rule.scopes.contains(&scope) {
                rule.scopes.push(scope);
            }
        }
    }
    match body.state {
        Some(new @ (ResourceState::Enabled | ResourceState::Disabled)) => rule.state = new,
        Some(_) => return Err(invalid("a rule's state is ENABLED or DISABLED")),
        None => {}
    }
    check(&state, &tenant, &rule.label, &rule.scopes).await?;
    let after = fields(&rule);
    if before == after {
        return Ok(Json(rule));
    }
    rule.updated_at = state.clock.now();
    let mut detail = changes(&before, &after);
    detail["rule_id"] = json!(rule.id);
    let event = super::resource_event(&state, &tenant, "rule.changed", detail).await?;
    let event = event.as_ref().map(|(event, bindings)| (event, bindings.as_slice()));
    match state.db.update_rule(&tenant.id, &rule, event).await? {
        true => Ok(Json(rule)),
        false => Err(ApiError::not_found("rule")),
    }
}

#[utoipa::path(
    delete,
    path = "/admin/v1/tenants/{tenant}/rules/{id}",
    operation_id = "rules_delete",
    tag = "rules",
    responses((status = 204, description = "No Content"))
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let tenant = caller.tenant(&state, &tenant).await?;
    let rule = state.db.rule(&tenant.id, &id).await?.ok_or_else(|| ApiError::not_found("rule"))?;
    let mut detail = changes(&fields(&rule), &serde_json::Map::new());
    detail["rule_id"] = json!(rule.id);
    detail["client_id"] = json!(rule.client_id);
    let event = super::resource_event(&state, &tenant, "rule.deleted", detail).await?;
    let event = event.as_ref().map(|(event, bindings)| (event, bindings.as_slice()));
    match state.db.delete_rule(&tenant.id, &id, state.clock.now(), event).await? {
        true => Ok(StatusCode::NO_CONTENT),
        false => Err(ApiError::not_found("rule")),
    }
}
