//! Admin API authentication: `Authorization: Bearer <personal access token>`. The token is
//! hashed and looked up; the caller's [`Role`] decides what it may touch. A tenant
//! administrator asking about another tenant is told the tenant does not exist.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{Method, header};

use super::audit::AuditSlot;
use super::error::{ApiError, Problem};
use crate::AppState;
use crate::tenancy::{Role, Tenant};

/// The authenticated caller of an admin API route.
#[derive(Clone, Debug)]
pub struct Caller {
    pub role: Role,
    /// The id of the token that authenticated the call.
    pub token_id: String,
    /// Where the call's audit entry learns which tenant it acted on.
    audit: Option<AuditSlot>,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let unauthenticated = |detail: &str| ApiError::new(Problem::Unauthenticated, detail);
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(|| unauthenticated("an Authorization: Bearer <personal access token> header is required"))?;
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| unauthenticated("the Authorization header must carry a Bearer token"))?;
        let pat = state.db.pat_by_digest(&crate::secrets::digest(token)).await?;
        let now = state.clock.now();
        match pat {
            Some(pat) if pat.state.is_usable() && pat.expires_at.is_none_or(|at| at > now) => {
                let audit = parts.extensions.get::<AuditSlot>().cloned();
                if let Some(slot) = &audit {
                    slot.set_caller(&pat.id, &pat.role);
                }
                // A viewer reads; every other method changes something.
                if pat.role.is_read_only() && !matches!(parts.method, Method::GET | Method::HEAD) {
                    return Err(ApiError::new(Problem::Forbidden, "a viewer's token is read-only"));
                }
                Ok(Caller { role: pat.role, token_id: pat.id, audit })
            }
            _ => Err(unauthenticated("the token is unknown, expired or revoked")),
        }
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
                // A tenant administrator's token is honoured only while its tenant is usable.
                if let Some(slot) = &self.audit {
                    slot.set_tenant(&tenant.id);
                }
                if self.role != Role::Operator && !tenant.effective_state().is_usable() {
                    return Err(ApiError::new(Problem::Forbidden, "the tenant is not enabled"));
                }
                Ok(tenant)
            }
            _ => Err(ApiError::not_found("tenant")),
        }
    }
}
