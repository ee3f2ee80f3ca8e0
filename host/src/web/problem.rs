//! Errors of the JSON surfaces (the admin API, the login API) as RFC 9457
//! `application/problem+json`: a stable `type`, a `title`,
//! the HTTP `status` and a `detail` for humans. Internal errors are logged, never shown.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::clock::EntropyError;
use crate::storage::StorageError;

/// The body of an error answer, as it is sent and as the OpenAPI document describes it.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[schema(as = Problem)]
pub struct ProblemDetails {
    /// `urn:keyhaven:problem:` and a slug, e.g. `not-found` or `precondition-failed`.
    #[serde(rename = "type")]
    kind: String,
    /// The status's reason phrase.
    title: &'static str,
    status: u16,
    /// What went wrong, for a person.
    detail: String,
}

/// An admin API error.
#[derive(Debug, thiserror::Error)]
#[error("{kind:?}: {detail}")]
pub struct ApiError {
    pub kind: Problem,
    pub detail: String,
}

/// The stable problem types of the admin API.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Problem {
    Unauthenticated,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    Conflict,
    InvalidRequest,
    UnsupportedMediaType,
    PayloadTooLarge,
    InvalidComponent,
    /// A tenant's extension refused the change (e.g. an account), with its reason.
    Denied,
    /// A tenant's extension failed where it had to answer (a fail-closed binding).
    ExtensionFailed,
    /// Too many attempts: the factor is locked for a while.
    Locked,
    /// Too many requests for the tenant; try again after the seconds the detail names.
    RateLimited(u64),
    /// An `Idempotency-Key` sent before with a different request.
    IdempotencyKeyReused,
    /// An `Idempotency-Key` whose first request is still running.
    IdempotencyKeyInUse,
    /// An `If-Match` precondition that does not hold: the resource changed since it was read.
    PreconditionFailed,
    /// The node cannot serve now (its database is unreachable, or it is stopping); try
    /// again in a moment, here or on another node.
    Unavailable,
    Internal,
}

impl Problem {
    fn slug(self) -> &'static str {
        match self {
            Problem::Unauthenticated => "unauthenticated",
            Problem::Forbidden => "forbidden",
            Problem::NotFound => "not-found",
            Problem::MethodNotAllowed => "method-not-allowed",
            Problem::Conflict => "conflict",
            Problem::InvalidRequest => "invalid-request",
            Problem::UnsupportedMediaType => "unsupported-media-type",
            Problem::PayloadTooLarge => "payload-too-large",
            Problem::InvalidComponent => "invalid-component",
            Problem::Denied => "denied",
            Problem::ExtensionFailed => "extension-failed",
            Problem::Locked => "locked",
            Problem::RateLimited(_) => "rate-limited",
            Problem::IdempotencyKeyReused => "idempotency-key-reused",
            Problem::IdempotencyKeyInUse => "idempotency-key-in-use",
            Problem::PreconditionFailed => "precondition-failed",
            Problem::Unavailable => "unavailable",
            Problem::Internal => "internal",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            Problem::Unauthenticated => StatusCode::UNAUTHORIZED,
            Problem::Forbidden => StatusCode::FORBIDDEN,
            Problem::NotFound => StatusCode::NOT_FOUND,
            Problem::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Problem::Conflict => StatusCode::CONFLICT,
            Problem::InvalidRequest => StatusCode::BAD_REQUEST,
            Problem::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Problem::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Problem::InvalidComponent => StatusCode::UNPROCESSABLE_ENTITY,
            Problem::Denied => StatusCode::UNPROCESSABLE_ENTITY,
            Problem::ExtensionFailed => StatusCode::BAD_GATEWAY,
            Problem::Locked | Problem::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            Problem::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            Problem::IdempotencyKeyInUse => StatusCode::CONFLICT,
            Problem::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            Problem::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Problem::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl ApiError {
    pub fn new(kind: Problem, detail: impl Into<String>) -> Self {
        ApiError { kind, detail: detail.into() }
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(Problem::NotFound, format!("{what} not found"))
    }

    pub fn internal(error: impl std::fmt::Display) -> Self {
        tracing::error!("admin API internal error: {error}");
        Self::new(Problem::Internal, "an internal error occurred; it has been logged")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.kind.status();
        let body = ProblemDetails {
            kind: format!("urn:keyhaven:problem:{}", self.kind.slug()),
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            detail: self.detail,
        };
        let mut response = (status, Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        match self.kind {
            Problem::Unauthenticated => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            Problem::RateLimited(seconds) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            }
            Problem::IdempotencyKeyInUse | Problem::Unavailable => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(1));
            }
            _ => {}
        }
        response
    }
}

impl From<StorageError> for ApiError {
    fn from(error: StorageError) -> Self {
        match error {
            StorageError::Conflict(what) => ApiError::new(Problem::Conflict, format!("{what} already exists")),
            StorageError::NotFound(what) => ApiError::not_found(what),
            StorageError::Limit(detail) | StorageError::Refused(detail) => ApiError::new(Problem::Conflict, detail),
            other if other.is_unavailable() => {
                tracing::warn!("admin API: the database is unavailable: {other}");
                ApiError::new(Problem::Unavailable, "the service cannot reach its database; retry in a moment")
            }
            other => ApiError::internal(other),
        }
    }
}

impl From<crate::extensions::dispatch::HookError> for ApiError {
    fn from(error: crate::extensions::dispatch::HookError) -> Self {
        use crate::extensions::dispatch::HookError;
        match error {
            HookError::Denied(reason) => ApiError::new(
                Problem::Denied,
                format!("refused by the tenant's extension: {}", crate::jwt::sanitise_reason(&reason)),
            ),
            e @ HookError::Failed { .. } => ApiError::new(Problem::ExtensionFailed, e.to_string()),
            HookError::Storage(e) => e.into(),
        }
    }
}

impl From<EntropyError> for ApiError {
    fn from(error: EntropyError) -> Self {
        ApiError::internal(error)
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::new(Problem::InvalidRequest, rejection.body_text())
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        let kind = match rejection {
            JsonRejection::MissingJsonContentType(_) => Problem::UnsupportedMediaType,
            JsonRejection::BytesRejection(_) => Problem::PayloadTooLarge,
            _ => Problem::InvalidRequest,
        };
        ApiError::new(kind, rejection.body_text())
    }
}

/// The fallback for unknown paths.
pub async fn not_found() -> ApiError {
    ApiError::new(Problem::NotFound, "no such route")
}

/// The fallback for known paths called with the wrong method.
pub async fn method_not_allowed() -> ApiError {
    ApiError::new(Problem::MethodNotAllowed, "this route does not accept that method")
}
