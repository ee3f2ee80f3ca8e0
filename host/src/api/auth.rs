//! Admin API authentication: `Authorization: Bearer <token>`, a personal access token or
//! the session of an administrator — an account holding the `admin` permission (or
//! `admin:read`: a viewer, who only reads), signed in with a score that reaches the `admin`
//! scope's (step-up). The token is hashed and looked
//! up; the caller's [`Role`] decides what it may touch. A tenant administrator asking about
//! another tenant is told the tenant does not exist.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{Method, header};

use super::audit::AuditSlot;
use crate::AppState;
use crate::ops::administrators::{Access, administrator_session, is_administrator};
use crate::tenancy::{Role, Tenant};
use crate::web::{ApiError, Problem, bearer_token};

/// The authenticated caller of an admin API route.
#[derive(Clone, Debug)]
pub struct Caller {
    pub role: Role,
    /// The id of the token (or session) that authenticated the call.
    pub token_id: String,
    /// The administrator account the call acts for: the session's, or the one whose
    /// session made the token. Tokens made now last only while it is an administrator.
    pub acting_for: Option<String>,
    /// Where the call's audit entry learns which tenant it acted on.
    audit: Option<AuditSlot>,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        // A middleware that identified the caller already (idempotency, preconditions) left
        // it here: one lookup a request, whoever asks.
        if let Some(caller) = parts.extensions.get::<Caller>() {
            return Ok(caller.clone());
        }
        let unauthenticated = |detail: &str| ApiError::new(Problem::Unauthenticated, detail);
        if !parts.headers.contains_key(header::AUTHORIZATION) {
            return Err(unauthenticated("an Authorization: Bearer <personal access token> header is required"));
        }
        let token = bearer_token(&parts.headers)
            .ok_or_else(|| unauthenticated("the Authorization header must carry a Bearer token"))?;
        let digest = crate::secrets::digest(token);
        let now = state.clock.now();
        let (token_id, account_id, acting_for, role) = match state.db.pat_by_digest(&digest).await? {
            Some(pat) if pat.state.is_usable() && pat.expires_at.is_none_or(|at| at > now) => {
                // A token an administrator made with a session lasts only as long as they
                // are one: a revoked permission or a disabled account ends it too.
                if let (Some(account_id), Some(tenant_id)) = (&pat.created_by_account, pat.role.tenant_id())
                    && !is_administrator(state, tenant_id, account_id).await?
                {
                    return Err(unauthenticated("the administrator who made this token no longer is one"));
                }
                (pat.id, None, pat.created_by_account, pat.role)
            }
            Some(_) => return Err(unauthenticated("the token is unknown, expired or revoked")),
            None => {
                let (session_id, account_id, tenant_id, access) = administrator_session(state, &digest, now)
                    .await?
                    .ok_or_else(|| unauthenticated("the token is unknown, expired or revoked"))?;
                let role = match access {
                    Access::Administer => Role::TenantAdmin { tenant_id },
                    Access::View => Role::TenantViewer { tenant_id },
                };
                (session_id, Some(account_id.clone()), Some(account_id), role)
            }
        };
        let audit = parts.extensions.get::<AuditSlot>().cloned();
        if let Some(slot) = &audit {
            slot.set_caller(account_id.as_deref().unwrap_or(&token_id), &role);
        }
        // A viewer reads; every other method changes something.
        if role.is_read_only() && !matches!(parts.method, Method::GET | Method::HEAD) {
            return Err(ApiError::new(Problem::Forbidden, "a viewer's token is read-only"));
        }
        let caller = Caller { role, token_id, acting_for, audit };
        parts.extensions.insert(caller.clone());
        Ok(caller)
    }
}

impl Caller {
    pub fn require_operator(&self) -> Result<(), ApiError> {
        match self.role {
            Role::Operator => Ok(()),
            Role::TenantAdmin { .. } | Role::TenantViewer { .. } => {
                Err(ApiError::new(Problem::Forbidden, "only a platform operator may do this"))
            }
        }
    }

    /// The tenant named `name`, if it exists and the caller may administer it. Tenants the
    /// caller may not see are reported as missing, so their existence does not leak.
    pub async fn tenant(&self, state: &AppState, name: &str) -> Result<Tenant, ApiError> {
        let tenant = state.db.tenant_by_name(name).await?;
        match tenant {
            Some(tenant) if self.role.can_administer(&tenant.id) => {
                if let Some(slot) = &self.audit {
                    slot.set_tenant(&tenant.id);
                }
                // A tenant administrator's token is honoured only while its tenant is usable.
                if self.role != Role::Operator && !tenant.effective_state().is_usable() {
                    return Err(ApiError::new(Problem::Forbidden, "the tenant is not enabled"));
                }
                Ok(tenant)
            }
            _ => Err(ApiError::not_found("tenant")),
        }
    }
}

/// Who is calling and, for a tenant's route, which tenant: what the admin API's middlewares
/// establish before they keep or lock anything for a request.
#[derive(Clone, Debug)]
pub struct Identified {
    pub caller: Caller,
    /// The id of the tenant the path names, which the caller may administer.
    pub tenant_id: Option<String>,
}

/// Identifies the caller of a request and checks it may act on the tenant its path names.
/// `None` when it may not (no valid token, a viewer writing, a tenant it does not see): the
/// route itself then answers, as it would without the middleware.
pub async fn identify(state: &AppState, parts: &mut Parts) -> Result<Option<Identified>, ApiError> {
    if let Some(identified) = parts.extensions.get::<Identified>() {
        return Ok(Some(identified.clone()));
    }
    let refusal = |e: &ApiError| matches!(e.kind, Problem::Unauthenticated | Problem::Forbidden | Problem::NotFound);
    let caller = match Caller::from_request_parts(parts, state).await {
        Ok(caller) => caller,
        Err(e) if refusal(&e) => return Ok(None),
        Err(e) => return Err(e),
    };
    // The route's own `{tenant}`, decoded as the route decodes it.
    let params = axum::extract::RawPathParams::from_request_parts(parts, state).await.ok();
    let name = params.as_ref().and_then(|p| p.iter().find(|(name, _)| *name == "tenant").map(|(_, value)| value));
    let tenant_id = match name {
        Some(name) => match caller.tenant(state, name).await {
            Ok(tenant) => Some(tenant.id),
            Err(e) if refusal(&e) => return Ok(None),
            Err(e) => return Err(e),
        },
        None => None,
    };
    let identified = Identified { caller, tenant_id };
    parts.extensions.insert(identified.clone());
    Ok(Some(identified))
}
