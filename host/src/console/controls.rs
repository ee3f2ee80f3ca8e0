//! The Controls screen: the tenant's scope catalogue (its own scopes added and removed,
//! built-ins shown), its legal documents (created, a new version published) and its scope
//! rules (added, their scopes edited, disabled, removed), through `ops::controls` and
//! `ops::rules` as the admin API's are, with the console as the events' origin. A refused form is shown again with why.

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use super::{
    Administrator, Failure, NewState, Nothing, Posted, STYLESHEET_PATH, answer, page, pages, posted, signed_in_page,
    under, words,
};
use crate::AppState;
use crate::ops::controls as ops;
use crate::ops::rules::{ChangeRule, CreateRule};
use crate::tenancy::{Scope, Tenant};
use crate::web::ApiError;

async fn controls_page(
    state: &AppState,
    tenant: &Tenant,
    admin: &Administrator,
    status: StatusCode,
    message: Option<&str>,
) -> Result<Response, Failure> {
    let scopes = state.db.scopes(&tenant.id).await.map_err(under(tenant))?;
    let documents = state.db.legal_documents(&tenant.id).await.map_err(under(tenant))?;
    let rules = state.db.rules(&tenant.id).await.map_err(under(tenant))?;
    let clients = state.db.list_clients(&tenant.id).await.map_err(under(tenant))?;
    let page_state =
        pages::ControlsPage { scopes: &scopes, documents: &documents, rules: &rules, clients: &clients, message };
    Ok(page(status, pages::controls(&STYLESHEET_PATH, tenant, &admin.signed(), &page_state)))
}

pub(super) async fn controls(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Failure> {
    let (tenant, admin) = signed_in_page(&state, &name, &headers).await?;
    controls_page(&state, &tenant, &admin, StatusCode::OK, None).await
}

/// After a change: back to the screen, or the screen again with why it was refused.
async fn changed(
    state: &AppState,
    tenant: &Tenant,
    admin: &Administrator,
    result: Result<(), ApiError>,
) -> Result<Response, Failure> {
    let to = format!("/console/{}/controls", tenant.name);
    let again = |status, why: String| async move { controls_page(state, tenant, admin, status, Some(&why)).await };
    answer(tenant, admin, result, &to, again).await
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct ScopeForm {
    #[serde(default)]
    value: String,
    #[serde(default)]
    label: String,
    #[serde(default)]
    required_score: String,
    /// A checkbox: present when ticked.
    consent_required: Option<String>,
    permission_required: Option<String>,
}

/// Adds one of the tenant's own scopes.
pub(super) async fn add_scope(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    form: Result<Form<Posted<ScopeForm>>, FormRejection>,
) -> Result<Response, Failure> {
    let (tenant, admin, form) = posted(&state, &name, &headers, form).await?;
    let result = async {
        let score = form.required_score.trim();
        let required_score = score.parse().map_err(|_| {
            ApiError::new(crate::web::Problem::InvalidRequest, format!("the score {score:?} is not a whole number"))
        })?;
        let scope = Scope {
            value: form.value.trim().to_owned(),
            label: form.label.trim().to_owned(),
            required_score,
            consent_required: form.consent_required.is_some(),
            permission_required: form.permission_required.is_some(),
            builtin: false,
        };
        ops::create_scope(&state, &tenant, scope).await.map(|_| ())
    }
    .await;
    changed(&state, &tenant, &admin, result).await
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct RemoveScopeForm {
    #[serde(default)]
    value: String,
}

/// Removes one of the tenant's own scopes.
pub(super) async fn remove_scope(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    form: Result<Form<Posted<RemoveScopeForm>>, FormRejection>,
) -> Result<Response, Failure> {
    let (tenant, admin, form) = posted(&state, &name, &headers, form).await?;
    let result = ops::delete_scope(&state, &tenant, &form.value).await;
    changed(&state, &tenant, &admin, result).await
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct DocumentForm {
    #[serde(default)]
    label: String,
    #[serde(default)]
    url: String,
    #[serde(default)]
    text: String,
}

/// A version's URL or text as typed (empty: not given).
fn given(text: &str) -> Option<String> {
    Some(text.trim().to_owned()).filter(|t| !t.is_empty())
}

/// Creates a legal document at version 1.
pub(super) async fn add_document(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    form: Result<Form<Posted<DocumentForm>>, FormRejection>,
) -> Result<Response, Failure> {
    let (tenant, admin, form) = posted(&state, &name, &headers, form).await?;
    let label = form.label.trim().to_owned();
    let result = ops::create_document(&state, &tenant, label, given(&form.url), given(&form.text), "console").await;
    changed(&state, &tenant, &admin, result.map(|_| ())).await
}

/// Publishes a document's next version.
pub(super) async fn publish(
    State(state): State<AppState>,
    Path((name, id)): Path<(String, String)>,
    headers: HeaderMap,
    form: Result<Form<Posted<DocumentForm>>, FormRejection>,
) -> Result<Response, Failure> {
    let (tenant, admin, form) = posted(&state, &name, &headers, form).await?;
    let result = ops::publish_version(&state, &tenant, &id, given(&form.url), given(&form.text), "console").await;
    changed(&state, &tenant, &admin, result.map(|_| ())).await
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct RuleForm {
    #[serde(default)]
    label: String,
    #[serde(default)]
    client_id: String,
    /// Separated by spaces.
    #[serde(default)]
    scopes: String,
}

/// Adds a rule granting scopes to one client or every client.
pub(super) async fn add_rule(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    form: Result<Form<Posted<RuleForm>>, FormRejection>,
) -> Result<Response, Failure> {
    let (tenant, admin, form) = posted(&state, &name, &headers, form).await?;
    let body = CreateRule {
        label: form.label.trim().to_owned(),
        client_id: form.client_id.trim().to_owned(),
        scopes: words(&form.scopes),
    };
    let result = crate::ops::rules::create(&state, &tenant, body, "console").await;
    changed(&state, &tenant, &admin, result.map(|_| ())).await
}

/// Changes a rule's label and scopes.
pub(super) async fn edit_rule(
    State(state): State<AppState>,
    Path((name, id)): Path<(String, String)>,
    headers: HeaderMap,
    form: Result<Form<Posted<RuleForm>>, FormRejection>,
) -> Result<Response, Failure> {
    let (tenant, admin, form) = posted(&state, &name, &headers, form).await?;
    let change =
        ChangeRule { label: Some(form.label.trim().to_owned()), scopes: Some(words(&form.scopes)), state: None };
    let result = crate::ops::rules::change(&state, &tenant, &id, change, "console").await;
    changed(&state, &tenant, &admin, result.map(|_| ())).await
}

/// Disables or enables a rule.
pub(super) async fn rule_state(
    State(state): State<AppState>,
    Path((name, id)): Path<(String, String)>,
    headers: HeaderMap,
    form: Result<Form<Posted<NewState>>, FormRejection>,
) -> Result<Response, Failure> {
    let (tenant, admin, form) = posted(&state, &name, &headers, form).await?;
    let result = match form.requested() {
        Ok(requested) => {
            let change = ChangeRule { state: Some(requested), ..ChangeRule::default() };
            crate::ops::rules::change(&state, &tenant, &id, change, "console").await.map(|_| ())
        }
        Err(e) => Err(e),
    };
    changed(&state, &tenant, &admin, result).await
}

/// Removes a rule.
pub(super) async fn remove_rule(
    State(state): State<AppState>,
    Path((name, id)): Path<(String, String)>,
    headers: HeaderMap,
    form: Result<Form<Posted<Nothing>>, FormRejection>,
) -> Result<Response, Failure> {
    let (tenant, admin, _) = posted(&state, &name, &headers, form).await?;
    let result = crate::ops::rules::delete(&state, &tenant, &id, "console").await;
    changed(&state, &tenant, &admin, result).await
}
