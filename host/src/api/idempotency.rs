//! `Idempotency-Key` on the admin API's creates and updates (POST and PATCH, as the IETF
//! draft `draft-ietf-httpapi-idempotency-key-header` describes). The first request with a
//! key claims it for its caller (the token or session that authenticated it) and its
//! fingerprint (method, path, content type and body); its answer is kept, sealed with the
//! node key because it may show a secret once, and a retry of the same request within 24
//! hours gets that answer again (marked `Idempotent-Replayed: true`) instead of running
//! twice. The same key with another request is refused (422), as is a retry while the
//! first request still runs (409, `Retry-After`). Answers that changed nothing a retry
//! could repeat (5xx, authentication, rate limits, conflicts) are not kept: the key is
//! released and a retry runs afresh.

use axum::body::{Body, Bytes};
use axum::extract::{FromRequestParts, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use super::auth::Caller;
use super::error::{ApiError, Problem};
use crate::AppState;
use crate::storage::KeyClaim;
use crate::vault::SealedSecret;

/// The request header that carries the key.
pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
/// The response header that marks a repeated answer.
pub const REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");
/// The largest body a keyed request may carry: the largest component any tenant may upload.
const MAX_BODY_BYTES: usize = 64 << 20;
/// The response headers kept with an answer.
const KEPT_HEADERS: [HeaderName; 3] = [header::CONTENT_TYPE, header::LOCATION, header::ETAG];

/// An answer as kept for a retry.
#[derive(Debug, Serialize, Deserialize)]
struct KeptAnswer {
    headers: Vec<(String, String)>,
    /// The body, base64.
    body: String,
}

/// Runs a keyed request once per key (see the module documentation).
pub async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if !matches!(*request.method(), Method::POST | Method::PATCH) {
        return next.run(request).await;
    }
    let Some(value) = request.headers().get(&IDEMPOTENCY_KEY) else { return next.run(request).await };
    let key = match parse_key(value) {
        Ok(key) => key.to_owned(),
        Err(e) => return e.into_response(),
    };
    let (mut parts, body) = request.into_parts();
    // Keys belong to authenticated callers; anyone else gets the route's own refusal.
    let caller = match Caller::from_request_parts(&mut parts, &state).await {
        Ok(caller) => caller,
        Err(_) => return next.run(Request::from_parts(parts, body)).await,
    };
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY_BYTES).await else {
        let detail = format!("a request with an Idempotency-Key may carry at most {MAX_BODY_BYTES} bytes");
        return ApiError::new(Problem::PayloadTooLarge, detail).into_response();
    };
    let fingerprint =
        fingerprint(&parts.method, parts.uri.path_and_query().map_or("", |p| p.as_str()), &parts.headers, &body);
    let caller_id = caller.token_id;
    let now = state.clock.now();
    let claim = match state.db.claim_idempotency_key(&caller_id, &key, &fingerprint, now).await {
        Ok(claim) => claim,
        Err(e) => return ApiError::from(e).into_response(),
    };
    match claim {
        KeyClaim::Claimed => {}
        KeyClaim::OtherRequest => {
            let detail = "this Idempotency-Key was sent before with a different request; use a new key";
            return ApiError::new(Problem::IdempotencyKeyReused, detail).into_response();
        }
        KeyClaim::InProgress => {
            let detail = "the first request with this Idempotency-Key is still running; retry shortly";
            return ApiError::new(Problem::IdempotencyKeyInUse, detail).into_response();
        }
        KeyClaim::Answered { status, response } => {
            return replay(&state, &caller_id, &key, status, &response).unwrap_or_else(IntoResponse::into_response);
        }
    }

    let response = next.run(Request::from_parts(parts, Body::from(body))).await;
    let (parts, body) = response.into_parts();
    // Admin API answers are small JSON documents, already in memory.
    let body = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
    let kept = match keeps(parts.status) {
        true => keep(&state, &caller_id, &key, parts.status, &parts.headers, &body).await,
        false => Err(()),
    };
    if kept.is_err()
        && let Err(e) = state.db.release_idempotency_key(&caller_id, &key).await
    {
        tracing::warn!("cannot release an idempotency key: {e}");
    }
    Response::from_parts(parts, Body::from(body))
}

/// A key is 1 to 255 visible ASCII characters.
fn parse_key(value: &HeaderValue) -> Result<&str, ApiError> {
    let invalid =
        || ApiError::new(Problem::InvalidRequest, "Idempotency-Key must be 1 to 255 visible ASCII characters");
    let key = value.to_str().map_err(|_| invalid())?.trim_matches('"');
    let valid = (1..=255).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic());
    valid.then_some(key).ok_or_else(invalid)
}

/// What identifies a request: its method, path and query, content type and body.
fn fingerprint(method: &Method, path: &str, headers: &HeaderMap, body: &Bytes) -> String {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let mut text = format!("{method} {path}\n{content_type}\n").into_bytes();
    text.extend_from_slice(body);
    crate::secrets::sha256_hex(&text)
}

/// Whether an answer is kept for retries: what the request did (2xx), or its refusal for
/// what it carried (400, 413, 415, 422). Other answers depend on the moment, not the request.
fn keeps(status: StatusCode) -> bool {
    status.is_success()
        || matches!(
            status,
            StatusCode::BAD_REQUEST
                | StatusCode::PAYLOAD_TOO_LARGE
                | StatusCode::UNSUPPORTED_MEDIA_TYPE
                | StatusCode::UNPROCESSABLE_ENTITY
        )
}

fn context(caller: &str, key: &str) -> String {
    format!("idempotency\0{caller}\0{key}")
}

async fn keep(
    state: &AppState,
    caller: &str,
    key: &str,
    status: StatusCode,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<(), ()> {
    let headers = KEPT_HEADERS
        .iter()
        .filter_map(|name| Some((name.as_str().to_owned(), headers.get(name)?.to_str().ok()?.to_owned())))
        .collect();
    let answer = KeptAnswer { headers, body: STANDARD.encode(body) };
    let text = serde_json::to_string(&answer).map_err(|_| ())?;
    let sealed = state.extensions.vault().seal(state.entropy.as_ref(), &text, &context(caller, key));
    let sealed = sealed.map_err(|e| tracing::warn!("cannot seal an idempotent answer: {e}"))?;
    let stored = state.db.complete_idempotency_key(caller, key, status.as_u16(), &sealed.to_text()).await;
    stored.map_err(|e| tracing::warn!("cannot keep an idempotent answer: {e}"))
}

fn replay(state: &AppState, caller: &str, key: &str, status: u16, sealed: &str) -> Result<Response, ApiError> {
    let sealed =
        SealedSecret::from_text(sealed).ok_or_else(|| ApiError::internal("a kept answer is not sealed text"))?;
    let text = state.extensions.vault().open(&sealed, &context(caller, key)).map_err(ApiError::internal)?;
    let answer: KeptAnswer = serde_json::from_str(&text).map_err(ApiError::internal)?;
    let body = STANDARD.decode(answer.body).map_err(ApiError::internal)?;
    let status = StatusCode::from_u16(status).map_err(ApiError::internal)?;
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    for (name, value) in answer.headers {
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            headers.insert(name, value);
        }
    }
    headers.insert(REPLAYED, HeaderValue::from_static("true"));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_visible_ascii_of_bounded_length() {
        assert_eq!(parse_key(&HeaderValue::from_static("upload-7f3a")).ok(), Some("upload-7f3a"));
        assert_eq!(parse_key(&HeaderValue::from_static("\"quoted\"")).ok(), Some("quoted"));
        assert!(parse_key(&HeaderValue::from_static("")).is_err());
        assert!(parse_key(&HeaderValue::from_static("has space")).is_err());
        let long = "k".repeat(256);
        assert!(parse_key(&HeaderValue::from_str(&long).unwrap_or(HeaderValue::from_static(""))).is_err());
    }

    #[test]
    fn fingerprints_differ_by_method_path_type_and_body() {
        let json = {
            let mut h = HeaderMap::new();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            h
        };
        let base = fingerprint(&Method::POST, "/admin/v1/tenants", &json, &Bytes::from_static(b"{}"));
        assert_eq!(base, fingerprint(&Method::POST, "/admin/v1/tenants", &json, &Bytes::from_static(b"{}")));
        assert_ne!(base, fingerprint(&Method::PATCH, "/admin/v1/tenants", &json, &Bytes::from_static(b"{}")));
        assert_ne!(base, fingerprint(&Method::POST, "/admin/v1/plans", &json, &Bytes::from_static(b"{}")));
        assert_ne!(
            base,
            fingerprint(&Method::POST, "/admin/v1/tenants", &HeaderMap::new(), &Bytes::from_static(b"{}"))
        );
        assert_ne!(base, fingerprint(&Method::POST, "/admin/v1/tenants", &json, &Bytes::from_static(b"{ }")));
    }
}
