//! The Factors screen: which kinds of factor the tenant's accounts may enrol and sign in
//! with (its `allowed_factors` setting, changed through `ops::tenants::change_tenant` as the
//! admin API's `PATCH` does, with `console` as the event's origin), each kind's score and
//! lockout policy, and how many of each the tenant's accounts hold, by state.

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{Administrator, Failure, Posted, STYLESHEET_PATH, answer, page, pages, posted, signed_in_page, under};
use crate::AppState;
use crate::ops::tenants::{ChangeTenant, change_tenant};
use crate::tenancy::{FactorKind, Tenant};

async fn factors_page(
    state: &AppState,
    tenant: &Tenant,
    admin: &Administrator,
    status: StatusCode,
    message: Option<&str>,
) -> Result<Response, Failure> {
    let counts = state.db.factor_counts(&tenant.id, state.clock.now()).await.map_err(under(tenant))?;
    Ok(page(status, pages::factors(&STYLESHEET_PATH, tenant, &admin.signed(), &counts, message)))
}

pub(super) async fn factors(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Failure> {
    let (tenant, admin) = signed_in_page(&state, &name, &headers).await?;
    factors_page(&state, &tenant, &admin, StatusCode::OK, None).await
}

/// The policy form as posted: a ticked box is present. Password is always allowed, so it
/// has no box to post.
#[derive(Debug, Default, Deserialize)]
pub(super) struct AllowedForm {
    otp: Option<String>,
    totp: Option<String>,
}

/// The setting's change the form asks for: none if the kinds are those in force; `null`
/// (back to the default, which follows new kinds) if they are every kind.
fn change_of(tenant: &Tenant, form: &AllowedForm) -> ChangeTenant {
    let ticked =
        [(FactorKind::Password, true), (FactorKind::Otp, form.otp.is_some()), (FactorKind::Totp, form.totp.is_some())];
    let allowed: Vec<FactorKind> = ticked.into_iter().filter(|(_, on)| *on).map(|(kind, _)| kind).collect();
    let unchanged = FactorKind::ALL.iter().all(|kind| allowed.contains(kind) == tenant.settings.allows(*kind));
    if unchanged {
        return ChangeTenant::default();
    }
    let value = if allowed == FactorKind::ALL { Value::Null } else { json!(allowed) };
    let settings = Map::from_iter([("allowed_factors".to_owned(), value)]);
    ChangeTenant { settings: Some(settings), ..ChangeTenant::default() }
}

/// Saves which kinds are allowed; a refused policy (one an administrator could not sign in
/// under) shows the screen again with why, and writes nothing.
pub(super) async fn save_allowed(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    form: Result<Form<Posted<AllowedForm>>, FormRejection>,
) -> Result<Response, Failure> {
    let (tenant, admin, form) = posted(&state, &name, &headers, form).await?;
    let changed = change_tenant(&state, &tenant, change_of(&tenant, &form), "console", false).await;
    let (state, tenant, admin) = (&state, &tenant, &admin);
    let to = format!("/console/{}/factors", tenant.name);
    let again = |status, why: String| async move { factors_page(state, tenant, admin, status, Some(&why)).await };
    answer(tenant, admin, changed, &to, again).await
}
