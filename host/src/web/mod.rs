//! What every HTTP surface shares — the admin API (`api`), the token service and its login
//! (`oauth`), the console (`console`): errors as RFC 9457 problem+json ([`ApiError`], [`Problem`]), a request's cookies
//! and its bearer token. No surface imports another; each uses this and calls down into the
//! operations (`ops`), the runtime and storage.

pub mod client_ip;
mod problem;

use axum::http::{HeaderMap, header};

pub use problem::{ApiError, Problem, ProblemDetails, method_not_allowed, not_found};

/// The value of the request's cookie `name`, if it has a non-empty one.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
        .filter(|value| !value.is_empty())
}

/// The token of an `Authorization: Bearer <token>` header (RFC 6750 §2.1), if there is one.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")).map(str::trim).filter(|t| !t.is_empty())
}
