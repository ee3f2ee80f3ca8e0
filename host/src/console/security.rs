//! The Your security screen: the signed-in administrator's own account — its password
//! changed (`ops::security`, the current one checked), an authenticator app added with a
//! QR code and confirmed with its first code (`ops::accounts`), its factors disabled or
//! enabled (one enabled factor stays), its sessions (this one marked; another ended) and
//! the personal access tokens its sessions made. Only ever the administrator's own
//! factors and sessions: any other id is "not found". A viewer sees it read-only, like
//! every screen (their own factors are theirs to manage on the hosted pages' API).

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{
    Administrator, Failure, NewState, Nothing, Posted, STYLESHEET_PATH, acted, answer, by, page, pages, posted,
    refused, signed_in_page, under,
};
use crate::AppState;
use crate::ops::accounts::{EnrolFactor, enrol, find, open_totp_secret};
use crate::tenancy::{FactorKind, ResourceState, Tenant, totp};

/// What the page shows besides the account's own state.
#[derive(Debug, Default)]
struct Shown<'a> {
    /// A TOTP enrolment to finish: its factor id, secret and `otpauth://` URI.
    enrolling: Option<(String, String, String)>,
    /// Why the last form was refused, and which form it was.
    message: Option<(&'a str, &'a str)>,
    /// What the last form did.
    done: Option<&'a str>,
}

async fn security_page(
    state: &AppState,
    tenant: &Tenant,
    admin: &Administrator,
    status: StatusCode,
    shown: Shown<'_>,
) -> Result<Response, Failure> {
    let me = &admin.signed_in;
    let account = find(state, tenant, &me.account_id).await.map_err(under(tenant))?;
    let factors = state.db.factors(&tenant.id, &account.id).await.map_err(under(tenant))?;
    let sessions = crate::ops::security::signed_in_sessions(state, tenant, &account.id).await.map_err(under(tenant))?;
    let tokens: Vec<_> = state
        .db
        .pats_of(&tenant.id)
        .await
        .map_err(under(tenant))?
        .into_iter()
        .filter(|t| t.created_by_account.as_deref() == Some(account.id.as_str()))
        .collect();
    let page_state = pages::SecurityPage {
        account: &account,
        factors: &factors,
        sessions: &sessions,
        current_session: &me.session_id,
        tokens: &tokens,
        enrolling: shown.enrolling.as_ref().map(|(id, secret, uri)| (id.as_str(), secret.as_str(), uri.as_str())),
        message: shown.message,
        done: shown.done,
    };
    Ok(page(status, pages::security(&STYLESHEET_PATH, tenant, &admin.signed(), &page_state)))
}

pub(super) async fn security(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Failure> {
    let (tenant, admin) = signed_in_page(&state, &name, &headers).await?;
    security_page(&state, &tenant, &admin, StatusCode::OK, Shown::default()).await
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct PasswordForm {
    #[serde(default)]
    current: String,
    #[serde(default)]
    new: String,
    #[serde(default)]
    repeated: String,
}

/// Changes the administrator's password; a refusal is shown with why, nothing changed.
pub(super) async fn change_password(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    form: Result<Form<Posted<PasswordForm>>, FormRejection>,
) -> Result<Response, Failure> {
    let (tenant, admin, form) = posted(&state, &name, &headers, form).await?;
    let changed = async {
        if form.new != form.repeated {
            return Err(crate::web::ApiError::new(crate::web::Problem::InvalidRequest, "the two new passwords differ"));
        }
        let account = find(&state, &tenant, &admin.signed_in.account_id).await?;
        crate::ops::security::change_password(&state, &tenant, &account, form.current, form.new, "console").await
    }
    .await;
    let response = match changed {
        Ok(()) => {
            let shown = Shown { done: Some("Your password is changed."), ..Default::default() };
            security_page(&state, &tenant, &admin, StatusCode::OK, shown).await?
        }
        Err(e) if refused(&e) => {
            let shown = Shown { message: Some(("password", &e.detail)), ..Default::default() };
            security_page(&state, &tenant, &admin, e.kind.status(), shown).await?
        }
        Err(e) => return Err(by(&tenant, &admin)(e)),
    };
    Ok(acted(response, &tenant, &admin))
}

/// Starts an authenticator app's enrolment: a PENDING factor, with the QR code and the
/// secret shown on this answer for the app to take.
pub(super) async fn add_totp(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    form: Result<Form<Posted<Nothing>>, FormRejection>,
) -> Result<Response, Failure> {
    let (tenant, admin, _) = posted(&state, &name, &headers, form).await?;
    let account = find(&state, &tenant, &admin.signed_in.account_id).await.map_err(by(&tenant, &admin))?;
    let enrolled =
        enrol(&state, &tenant, &account, EnrolFactor::totp(), "console").await.map_err(by(&tenant, &admin))?;
    let enrolling = enrolled.totp().map(|t| (enrolled.factor().id.clone(), t.secret.clone(), t.otpauth_uri.clone()));
    let response =
        security_page(&state, &tenant, &admin, StatusCode::CREATED, Shown { enrolling, ..Default::default() }).await?;
    Ok(acted(response, &tenant, &admin))
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct ConfirmForm {
    #[serde(default)]
    factor_id: String,
    #[serde(default)]
    code: String,
}

/// Confirms the enrolment with the app's first code; a wrong code shows the QR code again.
pub(super) async fn confirm_totp(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    form: Result<Form<Posted<ConfirmForm>>, FormRejection>,
) -> Result<Response, Failure> {
    let (tenant, admin, form) = posted(&state, &name, &headers, form).await?;
    let me = admin.signed_in.account_id.clone();
    let confirmed = crate::ops::accounts::confirm(&state, &tenant, &me, &form.factor_id, form.code.trim()).await;
    let response = match confirmed {
        Ok(_) => {
            let shown = Shown { done: Some("Your authenticator app is set up."), ..Default::default() };
            security_page(&state, &tenant, &admin, StatusCode::OK, shown).await?
        }
        Err(e) if refused(&e) => {
            // Still PENDING: the same secret, shown again, so the app's entry keeps working.
            let factor = state.db.factor(&tenant.id, &form.factor_id).await.map_err(under(&tenant))?;
            let pending = factor
                .filter(|f| f.account_id == me && f.kind == FactorKind::Totp && f.state == ResourceState::Pending);
            let enrolling = match pending {
                Some(factor) => {
                    let secret = totp::base32(&open_totp_secret(&state, &tenant.id, &factor).map_err(under(&tenant))?);
                    let account = find(&state, &tenant, &me).await.map_err(under(&tenant))?;
                    let uri = totp::otpauth_uri(&tenant.label, &account.username, &secret);
                    Some((factor.id, secret, uri))
                }
                None => None,
            };
            let shown = Shown { enrolling, message: Some(("totp", &e.detail)), ..Default::default() };
            security_page(&state, &tenant, &admin, e.kind.status(), shown).await?
        }
        Err(e) => return Err(by(&tenant, &admin)(e)),
    };
    Ok(acted(response, &tenant, &admin))
}

/// Disables or enables one of the administrator's factors.
pub(super) async fn factor_state(
    State(state): State<AppState>,
    Path((name, factor_id)): Path<(String, String)>,
    headers: HeaderMap,
    form: Result<Form<Posted<NewState>>, FormRejection>,
) -> Result<Response, Failure> {
    let (tenant, admin, form) = posted(&state, &name, &headers, form).await?;
    let changed = async {
        let requested = form.requested()?;
        let account = find(&state, &tenant, &admin.signed_in.account_id).await?;
        crate::ops::security::change_factor(&state, &tenant, &account, &factor_id, requested, "console").await
    }
    .await;
    let (state, tenant, admin) = (&state, &tenant, &admin);
    let to = format!("/console/{}/security", tenant.name);
    let again = |status, why: String| async move {
        let shown = Shown { message: Some(("factors", &why)), ..Default::default() };
        security_page(state, tenant, admin, status, shown).await
    };
    answer(tenant, admin, changed, &to, again).await
}

/// Ends one of the administrator's sessions (ending this one signs the console out).
pub(super) async fn end_session(
    State(state): State<AppState>,
    Path((name, session_id)): Path<(String, String)>,
    headers: HeaderMap,
    form: Result<Form<Posted<Nothing>>, FormRejection>,
) -> Result<Response, Failure> {
    let (tenant, admin, _) = posted(&state, &name, &headers, form).await?;
    let account = find(&state, &tenant, &admin.signed_in.account_id).await.map_err(by(&tenant, &admin))?;
    crate::ops::security::end_session(&state, &tenant, &account, &session_id).await.map_err(by(&tenant, &admin))?;
    Ok(acted(Redirect::to(&format!("/console/{}/security", tenant.name)).into_response(), &tenant, &admin))
}
