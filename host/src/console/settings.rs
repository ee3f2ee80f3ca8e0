//! The settings screen: the tenant's label, colour, tags and settings changed through
//! `ops::tenants::change_tenant` (as the admin API's `PATCH` does, with `console` as the
//! event's origin; only the fields whose value changed are sent, so the rest keep following
//! the defaults), its signing key rotated on demand, its parent and sub-tenants shown.

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::operator::parse_tags;
use super::{
    Administrator, Failure, Nothing, Posted, STYLESHEET_PATH, acted, answer, by, page, pages, posted, signed_in_page,
    under,
};
use crate::AppState;
use crate::ops::tenants::{ChangeTenant, change_tenant};
use crate::tenancy::Tenant;
use crate::web::{ApiError, Problem};

const MINUTE: i64 = 60;
const DAY: i64 = 86_400;

async fn settings_page(
    state: &AppState,
    tenant: &Tenant,
    admin: &Administrator,
    status: StatusCode,
    message: Option<&str>,
) -> Result<Response, Failure> {
    let keys = state.db.signing_keys(&tenant.id).await.map_err(under(tenant))?;
    let parent = match &tenant.parent_id {
        Some(id) => state.db.tenant_by_id(id).await.map_err(under(tenant))?,
        None => None,
    };
    let children = state.db.sub_tenants(&tenant.id).await.map_err(under(tenant))?;
    let family = pages::Family { parent: parent.as_ref(), children: &children };
    Ok(page(status, pages::settings(&STYLESHEET_PATH, tenant, &admin.signed(), &keys, &family, message)))
}

pub(super) async fn settings(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Failure> {
    let (tenant, admin) = signed_in_page(&state, &name, &headers).await?;
    settings_page(&state, &tenant, &admin, StatusCode::OK, None).await
}

/// The settings form as posted (an unticked box is absent).
#[derive(Debug, Default, Deserialize)]
pub(super) struct SettingsForm {
    #[serde(default)]
    label: String,
    #[serde(default)]
    colour: String,
    /// One `key=value` a line; absent, the tags stay as they are.
    tags: Option<String>,
    #[serde(default)]
    session_idle_minutes: String,
    #[serde(default)]
    stay_signed_in_days: String,
    second_factor_required: Option<String>,
    self_registration: Option<String>,
    #[serde(default)]
    account_inactivity_days: String,
    #[serde(default)]
    tenant_inactivity_days: String,
    #[serde(default)]
    human_access_token_minutes: String,
    #[serde(default)]
    client_access_token_minutes: String,
    #[serde(default)]
    id_token_minutes: String,
    #[serde(default)]
    refresh_token_idle_days: String,
    #[serde(default)]
    signing_algorithm: String,
    #[serde(default)]
    signing_key_rotation_days: String,
}

/// A whole number typed into field `what`; empty is `None`.
fn number(text: &str, what: &str) -> Result<Option<i64>, ApiError> {
    match text.trim() {
        "" => Ok(None),
        text => text
            .parse::<i64>()
            .map(Some)
            .map_err(|_| ApiError::new(Problem::InvalidRequest, format!("{what} must be a whole number"))),
    }
}

/// A number that must be there.
fn required(text: &str, what: &str) -> Result<i64, ApiError> {
    number(text, what)?.ok_or_else(|| ApiError::new(Problem::InvalidRequest, format!("{what} is required")))
}

/// The change the form asks for: the label and colour if they differ, and each setting
/// whose value (in the form's units) differs from the one in force.
fn change_of(tenant: &Tenant, form: &SettingsForm) -> Result<ChangeTenant, ApiError> {
    let now = &tenant.settings;
    let mut settings = Map::new();
    let mut scaled = |field: &str, typed: &str, what: &str, unit: i64, current: i64| -> Result<(), ApiError> {
        let value = required(typed, what)?;
        if value != current / unit {
            settings.insert(field.to_owned(), json!(value.saturating_mul(unit)));
        }
        Ok(())
    };
    scaled("session_idle_seconds", &form.session_idle_minutes, "idle minutes", MINUTE, now.session_idle_seconds)?;
    scaled(
        "stay_signed_in_seconds",
        &form.stay_signed_in_days,
        "stay signed in days",
        DAY,
        now.stay_signed_in_seconds,
    )?;
    scaled(
        "human_access_token_seconds",
        &form.human_access_token_minutes,
        "people's token minutes",
        MINUTE,
        now.human_access_token_seconds,
    )?;
    scaled(
        "client_access_token_seconds",
        &form.client_access_token_minutes,
        "clients' token minutes",
        MINUTE,
        now.client_access_token_seconds,
    )?;
    scaled("id_token_seconds", &form.id_token_minutes, "ID token minutes", MINUTE, now.id_token_seconds)?;
    scaled(
        "refresh_token_idle_seconds",
        &form.refresh_token_idle_days,
        "refresh token days",
        DAY,
        now.refresh_token_idle_seconds,
    )?;
    scaled(
        "signing_key_rotation_days",
        &form.signing_key_rotation_days,
        "key rotation days",
        1,
        now.signing_key_rotation_days,
    )?;
    for (field, typed, what, current) in [
        ("account_inactivity_days", &form.account_inactivity_days, "account expiry days", now.account_inactivity_days),
        ("tenant_inactivity_days", &form.tenant_inactivity_days, "tenant expiry days", now.tenant_inactivity_days),
    ] {
        let value = number(typed, what)?;
        if value != current {
            // Empty is "never": the default, which `null` returns to.
            settings.insert(field.to_owned(), value.map_or(Value::Null, |days| json!(days)));
        }
    }
    for (field, ticked, current) in [
        ("second_factor_required", form.second_factor_required.is_some(), now.second_factor_required),
        ("self_registration", form.self_registration.is_some(), now.self_registration),
    ] {
        if ticked != current {
            settings.insert(field.to_owned(), json!(ticked));
        }
    }
    let algorithm = form.signing_algorithm.trim();
    if !algorithm.is_empty() && algorithm != now.signing_algorithm {
        settings.insert("signing_algorithm".into(), json!(algorithm));
    }
    let colour = form.colour.trim().to_ascii_lowercase();
    let shown_colour = if tenant.colour.is_empty() { pages::DEFAULT_COLOUR } else { tenant.colour.as_str() };
    let tags = form.tags.as_deref().map(parse_tags).transpose()?;
    Ok(ChangeTenant {
        label: (form.label != tenant.label).then(|| form.label.clone()),
        tags: tags.filter(|tags| *tags != tenant.tags),
        colour: (colour != shown_colour).then_some(colour),
        settings: (!settings.is_empty()).then_some(settings),
        ..ChangeTenant::default()
    })
}

/// Saves the settings; a refused value shows the form again with why, and writes nothing.
pub(super) async fn save_settings(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    form: Result<Form<Posted<SettingsForm>>, FormRejection>,
) -> Result<Response, Failure> {
    let (tenant, admin, form) = posted(&state, &name, &headers, form).await?;
    let changed = match change_of(&tenant, &form) {
        Ok(change) => change_tenant(&state, &tenant, change, "console", false).await,
        Err(e) => Err(e),
    };
    let (state, tenant, admin) = (&state, &tenant, &admin);
    let to = format!("/console/{}/settings", tenant.name);
    let again = |status, why: String| async move { settings_page(state, tenant, admin, status, Some(&why)).await };
    answer(tenant, admin, changed, &to, again).await
}

/// Rotates the signing key now (the previous one stays published until its tokens expire).
pub(super) async fn rotate_key(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    form: Result<Form<Posted<Nothing>>, FormRejection>,
) -> Result<Response, Failure> {
    let (tenant, admin, _) = posted(&state, &name, &headers, form).await?;
    state.rotate_signing_key(&tenant, "console", "on-demand").await.map_err(by(&tenant, &admin))?;
    let response = Redirect::to(&format!("/console/{}/settings", tenant.name)).into_response();
    Ok(acted(response, &tenant, &admin))
}
