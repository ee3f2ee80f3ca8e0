//! `ETag`, `If-Match` and `If-None-Match` on the admin API (RFC 9110 §8.8.3, §13.1), so two
//! administrators never silently overwrite each other. Every successful read carries a
//! strong `ETag`: the SHA-256 of the representation it returned (`If-None-Match` with it
//! answers 304). A write (PATCH, PUT, DELETE) by a caller allowed on the path's tenant
//! takes the resource's lock (on every node sharing the database) for its whole run, so no
//! other write to it comes between a check and its change. With `If-Match` (or
//! `If-None-Match`) it first reads the resource as the caller would (`GET` on the same path,
//! with the caller's credentials) and goes on only if the condition holds — otherwise 412
//! `precondition-failed`, with nothing changed. A successful PATCH answers with the
//! resource's new `ETag`, so the next change can be conditional without another read.

use axum::body::{Body, Bytes};
use axum::extract::{FromRequestParts, MatchedPath, RawPathParams, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower::ServiceExt;

use super::auth::{Identified, identify};
use crate::AppState;
use crate::web::{ApiError, Problem};

/// The largest body of a write: the admin API's limit for JSON.
const MAX_BODY_BYTES: usize = 2 << 20;

/// Tags reads and runs writes under their resource's lock (see the module documentation).
pub async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let method = request.method().clone();
    if matches!(method, Method::GET | Method::HEAD) {
        let if_none_match = request.headers().get(header::IF_NONE_MATCH).cloned();
        let response = next.run(request).await;
        return tagged(response, if_none_match.as_ref()).await;
    }
    if !matches!(method, Method::PATCH | Method::PUT | Method::DELETE) {
        return next.run(request).await;
    }
    let (mut parts, body) = request.into_parts();
    // Only a caller allowed on the path's tenant queues for its lock or learns its tag;
    // anyone else gets the route's own refusal.
    let identified = match identify(&state, &mut parts).await {
        Ok(Some(identified)) => identified,
        Ok(None) => return next.run(Request::from_parts(parts, body)).await,
        Err(e) => return e.into_response(),
    };
    // The body is in before the lock is taken: a slow client holds up only itself.
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY_BYTES).await else {
        let detail = format!("this request may carry at most {MAX_BODY_BYTES} bytes");
        return ApiError::new(Problem::PayloadTooLarge, detail).into_response();
    };
    let body = Body::from(body);
    let name = resource_name(&state, &mut parts, &identified).await;
    let holder = match crate::clock::random_id(state.entropy.as_ref(), "wrt", 8) {
        Ok(holder) => holder,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let lock = match state.db.lock_resource(&name, &holder, state.clock.as_ref()).await {
        Ok(lock) => lock,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let (uri, credentials) = (parts.uri.clone(), read_headers(&parts.headers));
    let if_match = parts.headers.get(header::IF_MATCH).cloned();
    let if_none_match = parts.headers.get(header::IF_NONE_MATCH).cloned();
    let request = Request::from_parts(parts, body);
    let mut response = if if_match.is_none() && if_none_match.is_none() {
        next.run(request).await
    } else {
        match read(&state, uri.clone(), credentials.clone()).await {
            Ok(current) => {
                let current = current.map(|body| entity_tag(&body));
                let current = current.as_deref();
                let held = if_match.as_ref().is_none_or(|h| matches_any(h, current))
                    && if_none_match.as_ref().is_none_or(|h| !current.is_some_and(|t| matches_weakly(h, t)));
                match held {
                    true => next.run(request).await,
                    false => refused(current),
                }
            }
            Err(e) => e.into_response(),
        }
    };
    // A PATCH answers the resource's new tag, read while the lock still holds, so the next
    // change can be conditional without another read.
    if response.status().is_success() && method == Method::PATCH {
        response.headers_mut().remove(header::ETAG);
        if let Ok(Some(body)) = read(&state, uri, credentials).await
            && let Ok(tag) = HeaderValue::from_str(&entity_tag(&body))
        {
            response.headers_mut().insert(header::ETAG, tag);
        }
    }
    if let Err(e) = lock.release().await {
        tracing::warn!("cannot release a resource lock: {e}");
    }
    response
}

/// The name of the resource a write changes: its tenant, its route and the route's
/// parameters as decoded (so two spellings of one path take one lock).
async fn resource_name(state: &AppState, parts: &mut Parts, identified: &Identified) -> String {
    let route = parts.extensions.get::<MatchedPath>().map(|p| p.as_str().to_owned()).unwrap_or_default();
    let params = match RawPathParams::from_request_parts(parts, state).await {
        Ok(params) => params.iter().map(|(name, value)| format!("{name}={value}")).collect::<Vec<_>>().join("&"),
        Err(_) => parts.uri.path().to_owned(),
    };
    format!("admin-api {} {route} {params}", identified.tenant_id.as_deref().unwrap_or("-"))
}

/// The strong entity tag of a representation.
pub fn entity_tag(body: &[u8]) -> String {
    format!("\"{}\"", &crate::secrets::sha256_hex(body)[..32])
}

/// Adds the `ETag` to a successful read; 304 when `If-None-Match` already names it.
async fn tagged(response: Response, if_none_match: Option<&HeaderValue>) -> Response {
    if response.status() != StatusCode::OK {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(body) = axum::body::to_bytes(body, usize::MAX).await else {
        return ApiError::internal("cannot read a response to tag it").into_response();
    };
    let tag = entity_tag(&body);
    let Ok(value) = HeaderValue::from_str(&tag) else { return Response::from_parts(parts, Body::from(body)) };
    if if_none_match.is_some_and(|header| matches_weakly(header, &tag)) {
        let mut not_modified = StatusCode::NOT_MODIFIED.into_response();
        not_modified.headers_mut().insert(header::ETAG, value);
        return not_modified;
    }
    parts.headers.insert(header::ETAG, value);
    Response::from_parts(parts, Body::from(body))
}

/// What a read of the path needs from the write's request: its credentials.
fn read_headers(headers: &HeaderMap) -> HeaderMap {
    let mut read = HeaderMap::new();
    if let Some(authorization) = headers.get(header::AUTHORIZATION) {
        read.insert(header::AUTHORIZATION, authorization.clone());
    }
    read
}

/// `GET uri` through the admin API's routes (not audited: the caller did not ask for it).
async fn read(state: &AppState, uri: axum::http::Uri, headers: HeaderMap) -> Result<Option<Bytes>, ApiError> {
    let mut get = Request::new(Body::empty());
    *get.uri_mut() = uri;
    *get.headers_mut() = headers;
    let routes = super::routes().with_state(state.clone());
    let response = routes.oneshot(get).await.map_err(ApiError::internal)?;
    if response.status() != StatusCode::OK {
        return Ok(None);
    }
    let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.map_err(ApiError::internal)?;
    Ok(Some(body))
}

/// Whether `If-Match` holds for the current tag: `*` for any current representation, else
/// one of the listed tags compared strongly.
fn matches_any(if_match: &HeaderValue, current: Option<&str>) -> bool {
    let (Ok(list), Some(current)) = (if_match.to_str(), current) else { return false };
    list.split(',').map(str::trim).any(|tag| tag == "*" || tag == current)
}

/// `If-None-Match`: weak comparison (a `W/` prefix is ignored).
fn matches_weakly(if_none_match: &HeaderValue, tag: &str) -> bool {
    let Ok(list) = if_none_match.to_str() else { return false };
    list.split(',').map(str::trim).any(|t| t == "*" || t.trim_start_matches("W/") == tag)
}

fn refused(current: Option<&str>) -> Response {
    let detail = match current {
        Some(tag) => format!(
            "the resource changed since it was read (its ETag is now {tag}); read it again and reapply the change"
        ),
        None => "there is no current representation of this resource to match".to_owned(),
    };
    ApiError::new(Problem::PreconditionFailed, detail).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_match_compares_strongly_and_if_none_match_weakly() {
        let tag = entity_tag(b"{}");
        let header = |v: &str| HeaderValue::from_str(v).unwrap_or(HeaderValue::from_static(""));
        assert!(matches_any(&header(&tag), Some(&tag)));
        assert!(matches_any(&header(&format!("\"other\", {tag}")), Some(&tag)));
        assert!(matches_any(&header("*"), Some(&tag)));
        assert!(!matches_any(&header("*"), None), "nothing to match");
        assert!(!matches_any(&header(&format!("W/{tag}")), Some(&tag)), "a weak tag never matches strongly");
        assert!(!matches_any(&header("\"other\""), Some(&tag)));
        assert!(matches_weakly(&header(&format!("W/{tag}")), &tag));
        assert_ne!(entity_tag(b"{}"), entity_tag(b"{ }"));
    }
}
