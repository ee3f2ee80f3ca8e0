//! `Idempotency-Key` on the admin API's creates and updates (POST and PATCH, as the IETF
//! draft `draft-ietf-httpapi-idempotency-key-header` describes). The first request with a
//! key claims it for its caller (the token or session that authenticated it, once it is
//! known to be allowed on the path's tenant) and its fingerprint (method, path, content
//! type and body, as a digest keyed by the node key, since bodies carry passwords). The
//! claimed request runs to its end even if the client goes away (the audit sees to it); its answer is kept,
//! sealed with the node key because it may show a secret once, and a retry of the same
//! request within 24 hours gets that answer again (marked `Idempotent-Replayed: true`)
//! instead of running twice. The same key with another request is refused (422), as is a
//! retry while the first request still runs (409, `Retry-After`). Only answers that follow
//! from the request itself are kept (2xx, 400, 415); after any other the key is released
//! and a retry runs afresh. A claim whose node died is taken over after 5 minutes.

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use super::auth::identify;
use crate::AppState;
use crate::storage::KeyClaim;
use crate::vault::SealedSecret;
use crate::web::{ApiError, Problem};

/// The request header that carries the key.
pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
/// The response header that marks a repeated answer.
pub const REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");
/// The largest component upload a keyed request may carry: the largest any plan allows.
const MAX_UPLOAD_BYTES: usize = 64 << 20;
/// The largest JSON body of a keyed request: the admin API's limit for JSON.
const MAX_BODY_BYTES: usize = 2 << 20;
/// The response headers kept with an answer (not its `ETag`, which a retry would find stale).
const KEPT_HEADERS: [HeaderName; 2] = [header::CONTENT_TYPE, header::LOCATION];

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
    // Keys belong to callers that may make the request; anyone else gets the route's own
    // refusal, and a kept answer is never given to a caller who may no longer act.
    let caller = match identify(&state, &mut parts).await {
        Ok(Some(identified)) => identified.caller,
        Ok(None) => return next.run(Request::from_parts(parts, body)).await,
        Err(e) => return e.into_response(),
    };
    let content_type = parts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let limit = match content_type.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case("application/wasm") {
        true => MAX_UPLOAD_BYTES,
        false => MAX_BODY_BYTES,
    };
    let Ok(body) = axum::body::to_bytes(body, limit).await else {
        let detail = format!("this request may carry at most {limit} bytes");
        return ApiError::new(Problem::PayloadTooLarge, detail).into_response();
    };
    let path = parts.uri.path_and_query().map_or("", |p| p.as_str());
    let fingerprint = state.extensions.vault().fingerprint(&request_text(&parts.method, path, &parts.headers, &body));
    let caller_id = caller.token_id;
    let claim_id = match crate::clock::random_id(state.entropy.as_ref(), "clm", 12) {
        Ok(id) => id,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let now = state.clock.now();
    let claim = match state.db.claim_idempotency_key(&caller_id, &key, &fingerprint, &claim_id, now).await {
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
        KeyClaim::AnswerLost => {
            let detail = "the request with this Idempotency-Key was done, but its answer could not be kept; read the resource to see its outcome";
            return ApiError::new(Problem::Conflict, detail).into_response();
        }
    }

    // The audit runs the request to its end even if its client goes away, so the claim is
    // always completed or released (or, if the node stops, taken over later).
    let response = next.run(Request::from_parts(parts, Body::from(body))).await;
    finish(&state, &caller_id, &key, &claim_id, response).await
}

/// Keeps the answer of a claimed request, or releases its key (see [`keeps`]).
async fn finish(state: &AppState, caller: &str, key: &str, claim: &str, response: Response) -> Response {
    let (parts, body) = response.into_parts();
    // Admin API answers are small JSON documents, already in memory.
    let body = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
    let outcome = match keeps(parts.status) {
        true => match keep(state, caller, key, claim, parts.status, &parts.headers, &body).await {
            Ok(()) => Ok(()),
            // A done request whose answer cannot be kept is marked so: a retry is told to
            // look at the resource, never runs the request a second time.
            Err(e) => {
                tracing::warn!("cannot keep an idempotent answer: {e}");
                state.db.complete_idempotency_key(caller, key, claim, parts.status.as_u16(), "").await
            }
        },
        false => state.db.release_idempotency_key(caller, key, claim).await,
    };
    if let Err(e) = outcome {
        tracing::warn!("cannot complete or release an idempotency key: {e}");
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

/// What identifies a request: its method, path and query, content type and body. It is
/// stored only as a keyed digest ([`crate::vault::Vault::fingerprint`]): bodies carry
/// passwords and secrets.
fn request_text(method: &Method, path: &str, headers: &HeaderMap, body: &Bytes) -> Vec<u8> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let mut text = format!("{method} {path}\n{content_type}\n").into_bytes();
    text.extend_from_slice(body);
    text
}

/// Whether an answer is kept for retries: what the request did (2xx), or its refusal for
/// the form of what it carried (400, 415). Other answers may change with the moment (a
/// plan's limits, an extension's verdict, a conflict, a rate limit).
fn keeps(status: StatusCode) -> bool {
    status.is_success() || matches!(status, StatusCode::BAD_REQUEST | StatusCode::UNSUPPORTED_MEDIA_TYPE)
}

fn context(caller: &str, key: &str) -> String {
    format!("idempotency\0{caller}\0{key}")
}

async fn keep(
    state: &AppState,
    caller: &str,
    key: &str,
    claim: &str,
    status: StatusCode,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<(), String> {
    let headers = KEPT_HEADERS
        .iter()
        .filter_map(|name| Some((name.as_str().to_owned(), headers.get(name)?.to_str().ok()?.to_owned())))
        .collect();
    let answer = KeptAnswer { headers, body: STANDARD.encode(body) };
    let text = serde_json::to_string(&answer).map_err(|e| e.to_string())?;
    let sealed = state.extensions.vault().seal(state.entropy.as_ref(), &text, &context(caller, key));
    let sealed = sealed.map_err(|e| e.to_string())?;
    let stored = state.db.complete_idempotency_key(caller, key, claim, status.as_u16(), &sealed.to_text()).await;
    stored.map_err(|e| e.to_string())
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
    fn request_texts_differ_by_method_path_type_and_body() {
        let json = {
            let mut h = HeaderMap::new();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            h
        };
        let base = request_text(&Method::POST, "/admin/v1/tenants", &json, &Bytes::from_static(b"{}"));
        assert_eq!(base, request_text(&Method::POST, "/admin/v1/tenants", &json, &Bytes::from_static(b"{}")));
        assert_ne!(base, request_text(&Method::PATCH, "/admin/v1/tenants", &json, &Bytes::from_static(b"{}")));
        assert_ne!(base, request_text(&Method::POST, "/admin/v1/plans", &json, &Bytes::from_static(b"{}")));
        assert_ne!(
            base,
            request_text(&Method::POST, "/admin/v1/tenants", &HeaderMap::new(), &Bytes::from_static(b"{}"))
        );
        assert_ne!(base, request_text(&Method::POST, "/admin/v1/tenants", &json, &Bytes::from_static(b"{ }")));
    }
}
