//! OAuth 2.0 error responses (RFC 6749 §5.2): the registered error codes, a description
//! meant for the client's developer, `Cache-Control: no-store`, and `WWW-Authenticate` on
//! client-authentication failures.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An error the token service reports to an OAuth client.
#[derive(Debug, thiserror::Error)]
#[error("{code}: {description}")]
pub struct OAuthError {
    pub status: StatusCode,
    pub code: &'static str,
    pub description: String,
    /// Seconds to wait before trying again (`Retry-After`).
    pub retry_after: Option<u64>,
}

impl OAuthError {
    fn new(status: StatusCode, code: &'static str, description: impl Into<String>) -> Self {
        OAuthError { status, code, description: description.into(), retry_after: None }
    }

    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    pub fn invalid_client(description: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid_client", description)
    }

    /// The code, refresh token or PKCE verifier is invalid, expired, spent or not the
    /// client's (RFC 6749 §5.2).
    pub fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_grant", description)
    }

    pub fn unauthorized_client(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "unauthorized_client", description)
    }

    pub fn unsupported_grant_type(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "unsupported_grant_type", description)
    }

    pub fn invalid_scope(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_scope", description)
    }

    /// RFC 7009 §2.2.1: the server does not revoke tokens of this type.
    pub fn unsupported_token_type(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "unsupported_token_type", description)
    }

    pub fn access_denied(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "access_denied", description)
    }

    pub fn unknown_tenant() -> Self {
        Self::new(StatusCode::NOT_FOUND, "invalid_request", "no such tenant")
    }

    /// The service is busy for this tenant; the client should retry (sent with `Retry-After`).
    pub fn temporarily_unavailable(description: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable", description)
    }

    /// Too many requests for the tenant (HTTP 429; RFC 6749 has no code of its own for
    /// it, so `temporarily_unavailable` with `Retry-After`).
    pub fn rate_limited(retry_after: u64) -> Self {
        let description = format!("too many requests for this tenant; retry after {retry_after} s");
        OAuthError {
            retry_after: Some(retry_after),
            ..Self::new(StatusCode::TOO_MANY_REQUESTS, "temporarily_unavailable", description)
        }
    }

    /// The client's address failed authentication too often and is blocked for a while.
    pub fn blocked(retry_after: u64) -> Self {
        let description = format!("too many failed authentications from this address; retry after {retry_after} s");
        OAuthError {
            retry_after: Some(retry_after),
            ..Self::new(StatusCode::TOO_MANY_REQUESTS, "temporarily_unavailable", description)
        }
    }

    /// The service cannot reach its database for a moment (HTTP 503, `Retry-After: 1`).
    pub fn unavailable() -> Self {
        OAuthError {
            retry_after: Some(1),
            ..Self::temporarily_unavailable("the service cannot reach its database; retry in a moment")
        }
    }

    pub fn server_error(description: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", description)
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = Json(json!({"error": self.code, "error_description": self.description}));
        let mut response = (self.status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        match self.retry_after {
            Some(seconds) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            }
            None if self.status == StatusCode::SERVICE_UNAVAILABLE => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            None => {}
        }
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"keyhaven\""));
        }
        response
    }
}
