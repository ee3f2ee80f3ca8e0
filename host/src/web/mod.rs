//! What every HTTP surface shares — the admin API (`api`), the token service and its login
//! (`oauth`): errors as RFC 9457 problem+json ([`ApiError`], [`Problem`]) and the bearer
//! token of a request. No surface imports another; each uses this and calls down into the
//! operations (`ops`), the runtime and storage.

mod problem;

use axum::http::{HeaderMap, header};

pub use problem::{ApiError, Problem, ProblemDetails, method_not_allowed, not_found};

/// The token of an `Authorization: Bearer <token>` header (RFC 6750 §2.1), if there is one.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")).map(str::trim).filter(|t| !t.is_empty())
}
