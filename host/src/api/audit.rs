//! The audit log of the admin API: a middleware around every admin route records who
//! called (the token's id and role, or `anonymous`), on which tenant, what (method and
//! route), the path, the status and whether it succeeded (an operator's call within a
//! tenant is marked `on_behalf`) — and counts the tenant's
//! successful calls for its monthly usage. A call that changes something runs on its own
//! task, so it finishes and is recorded even if its client goes away. `GET /admin/v1/tenants/{tenant}/audit` lists a
//! tenant's entries; `GET /admin/v1/audit` (operators) lists all; both search them
//! (`?q=&result=&role=`).

use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{MatchedPath, Path, Query, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::auth::Caller;
use super::pages::{DEFAULT_LIMIT, MAX_LIMIT, Page};
use crate::AppState;
use crate::ops::audit::Call;
use crate::storage::AuditEntry;
use crate::tenancy::Role;
use crate::web::ApiError;

/// What the [`Caller`] extractor learns during a call, for its audit entry: who called
/// (token id and role) and which tenant the call was allowed to act on.
#[derive(Clone, Debug, Default)]
pub struct AuditSlot(Arc<Mutex<Recorded>>);

#[derive(Clone, Debug, Default)]
struct Recorded {
    caller: Option<(String, Role)>,
    tenant_id: Option<String>,
}

impl AuditSlot {
    pub fn set_caller(&self, token_id: &str, role: &Role) {
        if let Ok(mut recorded) = self.0.lock() {
            recorded.caller = Some((token_id.to_owned(), role.clone()));
        }
    }

    pub fn set_tenant(&self, tenant_id: &str) {
        if let Ok(mut recorded) = self.0.lock() {
            recorded.tenant_id = Some(tenant_id.to_owned());
        }
    }

    fn get(&self) -> Recorded {
        self.0.lock().map(|recorded| recorded.clone()).unwrap_or_default()
    }
}

/// The tenant name a path names, `/admin/v1/tenants/{tenant}/...`.
fn tenant_in(path: &str) -> Option<&str> {
    path.strip_prefix("/admin/v1/tenants/").map(|rest| rest.split('/').next().unwrap_or(rest)).filter(|n| !n.is_empty())
}

/// Records every admin API call (see the module documentation).
pub async fn record(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let slot = AuditSlot::default();
    request.extensions_mut().insert(slot.clone());
    let route = request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned()).unwrap_or_default();
    let action = format!("{} {route}", request.method());
    let target = request.uri().path().to_owned();
    // A change runs to its end, and is recorded, even if its client goes away meanwhile.
    let response = match request.method() {
        &Method::GET | &Method::HEAD => next.run(request).await,
        _ => match tokio::spawn(next.run(request)).await {
            Ok(response) => response,
            Err(e) => ApiError::internal(format!("an admin API call failed: {e}")).into_response(),
        },
    };

    let status = response.status();
    let recorded = slot.get();
    // The tenant the call acted on, as the handler resolved it; else (a call refused before
    // that) the tenant its path names — but never a tenant the caller may not see, so no
    // tenant's log shows another tenant's tokens probing it.
    let tenant_id = match (recorded.tenant_id, tenant_in(&target)) {
        (Some(tenant_id), _) => Some(tenant_id),
        (None, Some(name)) => {
            let named = state.db.tenant_by_name(name).await.ok().flatten().map(|tenant| tenant.id);
            named.filter(|id| recorded.caller.as_ref().is_none_or(|(_, role)| role.can_administer(id)))
        }
        (None, None) => None,
    };
    let (actor, role) = match recorded.caller {
        Some((token_id, role)) => (token_id, role.as_str()),
        None => ("anonymous".into(), "anonymous"),
    };
    let call = Call { tenant_id, actor, role, action, target, status: status.as_u16() };
    crate::ops::audit::record(&state, call).await;
    response
}

/// `?after=&limit=` (as every list) and the search: `q` (found, whatever its case, in the
/// actor, the action or the path), `result` and `role`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// The cursor of the previous page's last item, as its `Link: rel="next"` named it.
    after: Option<String>,
    /// Items per page: 1 to 1,000 (100 by default).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
    /// Text found in the actor, the action or the path (up to 100 characters).
    #[param(max_length = 100)]
    q: Option<String>,
    /// `success` or `failed`.
    result: Option<String>,
    /// `operator`, `tenant-admin`, `tenant-viewer` or `anonymous`.
    role: Option<String>,
}

/// A page of the entries `query` asks for, of one tenant or (none) all.
async fn page(state: &AppState, tenant_id: Option<&str>, query: &AuditQuery) -> Result<Page<AuditEntry>, ApiError> {
    let search = crate::ops::audit::search(query.q.as_deref(), query.result.as_deref(), query.role.as_deref())?;
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
    let entries = crate::ops::audit::entries(state, tenant_id, &search, query.after.as_deref(), limit).await?;
    Ok(Page::fetched(entries, limit, crate::ops::audit::cursor))
}

#[utoipa::path(
    get,
    path = "/admin/v1/tenants/{tenant}/audit",
    operation_id = "audit_list",
    tag = "audit",
    params(AuditQuery),
    responses((status = 200, description = "OK", body = [AuditEntry]))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Page<AuditEntry>, ApiError> {
    let tenant = caller.tenant(&state, &tenant).await?;
    let Query(query) = query?;
    page(&state, Some(&tenant.id), &query).await
}

#[utoipa::path(
    get,
    path = "/admin/v1/audit",
    operation_id = "audit_list_all",
    tag = "audit",
    params(AuditQuery),
    responses((status = 200, description = "OK", body = [AuditEntry]))
)]
pub async fn list_all(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Page<AuditEntry>, ApiError> {
    caller.require_operator()?;
    let Query(query) = query?;
    page(&state, None, &query).await
}

/// `GET /admin/v1/tenants/{tenant}/usage[?month=YYYY-MM]`: the month's active accounts and
/// API calls (this month by default).
#[utoipa::path(
    get,
    path = "/admin/v1/tenants/{tenant}/usage",
    operation_id = "audit_usage",
    tag = "audit",
    params(UsageQuery),
    responses((status = 200, description = "OK", body = crate::storage::MonthlyUsage))
)]
pub async fn usage(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
    query: Result<Query<UsageQuery>, QueryRejection>,
) -> Result<Json<crate::storage::MonthlyUsage>, ApiError> {
    let tenant = caller.tenant(&state, &tenant).await?;
    let Query(query) = query?;
    let month = match query.month {
        Some(month) if valid_month(&month) => month,
        Some(month) => {
            return Err(ApiError::new(super::Problem::InvalidRequest, format!("month must be YYYY-MM, not {month:?}")));
        }
        None => crate::usage::month_of(state.clock.now()),
    };
    state.usage.flush(&state.db).await?;
    Ok(Json(state.db.usage(&tenant.id, &month).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct UsageQuery {
    month: Option<String>,
}

fn valid_month(month: &str) -> bool {
    let bytes = month.as_bytes();
    bytes.len() == 7
        && bytes[4] == b'-'
        && bytes.iter().enumerate().all(|(i, b)| i == 4 || b.is_ascii_digit())
        && matches!(&month[5..], "01" | "02" | "03" | "04" | "05" | "06" | "07" | "08" | "09" | "10" | "11" | "12")
}
