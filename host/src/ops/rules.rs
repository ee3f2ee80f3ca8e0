//! Scope rules below HTTP: rules grant scopes of the tenant's catalogue to one machine
//! client or (`*`) to every client. Creating, changing (label, scopes, ENABLED/DISABLED) and
//! deleting one are each written with their event (`rule.created`, `rule.changed`,
//! `rule.deleted`) from the surface's origin, in one transaction. The admin API and the
//! console call these.

use serde::Deserialize;
use serde_json::json;

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
    super::tenants::check_label(label)?;
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

/// `scopes` without repeats, in their order.
fn distinct(scopes: Vec<String>) -> Vec<String> {
    let mut kept: Vec<String> = Vec::new();
    for scope in scopes {
        if !kept.contains(&scope) {
            kept.push(scope);
        }
    }
    kept
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRule {
    pub label: String,
    /// A client id of the tenant, or `*` for every client.
    pub client_id: String,
    pub scopes: Vec<String>,
}

/// A new, enabled rule of the tenant.
pub async fn create(
    state: &AppState,
    tenant: &Tenant,
    body: CreateRule,
    origin: &'static str,
) -> Result<ScopeRule, ApiError> {
    check(state, tenant, &body.label, &body.scopes).await?;
    if body.client_id != EVERY_CLIENT && state.db.client(&tenant.id, &body.client_id).await?.is_none() {
        return Err(invalid(format!(
            "there is no client {:?} in this tenant (or use \"*\" for every client)",
            body.client_id
        )));
    }
    let now = state.clock.now();
    let rule = ScopeRule {
        id: sortable_id(state.entropy.as_ref(), "rule", now, 8)?,
        label: body.label,
        client_id: body.client_id,
        scopes: distinct(body.scopes),
        state: ResourceState::Enabled,
        created_at: now,
        updated_at: now,
    };
    let mut detail = changes(&serde_json::Map::new(), &fields(&rule));
    detail["rule_id"] = json!(rule.id);
    detail["client_id"] = json!(rule.client_id);
    let event = super::prepare_event(state, tenant, "resource-change", "rule.created", origin, None, detail).await?;
    let event = event.as_ref().map(|(event, bindings)| (event, bindings.as_slice()));
    state.db.insert_rule(&tenant.id, &rule, event).await?;
    Ok(rule)
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeRule {
    pub label: Option<String>,
    pub scopes: Option<Vec<String>>,
    pub state: Option<ResourceState>,
}

/// Changes the tenant's rule `id`; an unchanged rule is written nowhere.
pub async fn change(
    state: &AppState,
    tenant: &Tenant,
    id: &str,
    body: ChangeRule,
    origin: &'static str,
) -> Result<ScopeRule, ApiError> {
    let mut rule = state.db.rule(&tenant.id, id).await?.ok_or_else(|| ApiError::not_found("rule"))?;
    let before = fields(&rule);
    if let Some(label) = body.label {
        rule.label = label;
    }
    if let Some(scopes) = body.scopes {
        rule.scopes = distinct(scopes);
    }
    match body.state {
        Some(new @ (ResourceState::Enabled | ResourceState::Disabled)) => rule.state = new,
        Some(_) => return Err(invalid("a rule's state is ENABLED or DISABLED")),
        None => {}
    }
    check(state, tenant, &rule.label, &rule.scopes).await?;
    let after = fields(&rule);
    if before == after {
        return Ok(rule);
    }
    rule.updated_at = state.clock.now();
    let mut detail = changes(&before, &after);
    detail["rule_id"] = json!(rule.id);
    let event = super::prepare_event(state, tenant, "resource-change", "rule.changed", origin, None, detail).await?;
    let event = event.as_ref().map(|(event, bindings)| (event, bindings.as_slice()));
    match state.db.update_rule(&tenant.id, &rule, event).await? {
        true => Ok(rule),
        false => Err(ApiError::not_found("rule")),
    }
}

/// Deletes the tenant's rule `id`: its scopes go from the next token on.
pub async fn delete(state: &AppState, tenant: &Tenant, id: &str, origin: &'static str) -> Result<(), ApiError> {
    let rule = state.db.rule(&tenant.id, id).await?.ok_or_else(|| ApiError::not_found("rule"))?;
    let mut detail = changes(&fields(&rule), &serde_json::Map::new());
    detail["rule_id"] = json!(rule.id);
    detail["client_id"] = json!(rule.client_id);
    let event = super::prepare_event(state, tenant, "resource-change", "rule.deleted", origin, None, detail).await?;
    let event = event.as_ref().map(|(event, bindings)| (event, bindings.as_slice()));
    match state.db.delete_rule(&tenant.id, id, state.clock.now(), event).await? {
        true => Ok(()),
        false => Err(ApiError::not_found("rule")),
    }
}
