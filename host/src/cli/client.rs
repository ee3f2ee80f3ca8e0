//! The admin API over HTTP, as the command line uses it: requests with the profile's
//! token, paths built segment by segment (so a name cannot change the route), lists
//! followed through their `Link: rel="next"` pages, a component upload that reports its
//! bytes as they go, and problem+json refusals turned into [`CliError::Api`].

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::Value;
use url::Url;

use super::profile::Profile;
use super::{CliError, Result};

/// Pieces of a component upload sent at a time (and counted for the progress indicator).
const UPLOAD_CHUNK: usize = 64 * 1024;
/// The most items a list follows its pages to.
const MAX_LISTED: usize = 100_000;

/// A client of one service's admin API, as one caller.
pub struct AdminClient {
    http: reqwest::Client,
    base: Url,
    token: String,
}

impl AdminClient {
    pub fn new(profile: &Profile) -> Result<Self> {
        let base = Url::parse(&profile.url)
            .ok()
            .filter(|url| matches!(url.scheme(), "http" | "https") && url.has_host())
            .ok_or_else(|| CliError::Usage(format!("{} is not an http(s) URL", profile.url)))?;
        if profile.token.is_empty() {
            return Err(CliError::Usage("the profile has no token".into()));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(300))
            .build()
            .map_err(|e| CliError::Local(format!("cannot make an HTTP client: {e}")))?;
        Ok(AdminClient { http, base, token: profile.token.clone() })
    }

    /// `/admin/v1/` and `segments`, each percent-encoded as one segment, with `query`.
    pub fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(["admin", "v1"]).extend(segments);
        }
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        url
    }

    fn request(&self, method: Method, url: Url) -> RequestBuilder {
        self.http.request(method, url).bearer_auth(&self.token)
    }

    async fn send(&self, request: RequestBuilder) -> Result<Response> {
        request.send().await.map_err(|e| CliError::Unreachable { url: self.base.to_string(), reason: reason(&e) })
    }

    pub async fn get(&self, segments: &[&str], query: &[(&str, &str)]) -> Result<Value> {
        let response = self.send(self.request(Method::GET, self.url(segments, query))).await?;
        answer(response).await
    }

    /// Every item of a list (at most `limit`), following its pages.
    pub async fn list(&self, segments: &[&str], query: &[(&str, &str)], limit: Option<usize>) -> Result<Vec<Value>> {
        let wanted = limit.unwrap_or(MAX_LISTED).min(MAX_LISTED);
        let page_size = wanted.clamp(1, 1000).to_string();
        let mut query = query.to_vec();
        query.push(("limit", &page_size));
        let mut next = Some(self.url(segments, &query));
        let mut items = Vec::new();
        while let Some(url) = next.take() {
            let response = self.send(self.request(Method::GET, url)).await?;
            next = next_page(&response).and_then(|link| self.base.join(&link).ok());
            match answer(response).await? {
                Value::Array(page) => items.extend(page),
                other => return Err(CliError::Local(format!("the service answered a list with {other}"))),
            }
            if items.len() >= wanted {
                items.truncate(wanted);
                break;
            }
        }
        Ok(items)
    }

    /// `method` with a JSON body (or none); the answer, `null` when it has no body.
    pub async fn call(&self, method: Method, segments: &[&str], body: Option<Value>) -> Result<Value> {
        self.call_with(method, segments, &[], body).await
    }

    pub async fn call_with(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, &str)],
        body: Option<Value>,
    ) -> Result<Value> {
        let mut request = self.request(method, self.url(segments, query));
        if let Some(body) = body {
            request = request.json(&body);
        }
        answer(self.send(request).await?).await
    }

    /// Uploads a component (`application/wasm`) or a handler's source (its media type),
    /// counting the bytes sent into `sent`.
    pub async fn upload(
        &self,
        segments: &[&str],
        query: &[(&str, &str)],
        (component, media_type): (Vec<u8>, &str),
        sent: Arc<AtomicU64>,
    ) -> Result<Value> {
        let size = component.len();
        let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
            component.chunks(UPLOAD_CHUNK).map(|chunk| Ok(chunk.to_vec())).collect();
        let counted = futures_util::stream::iter(chunks).inspect(move |chunk| {
            if let Ok(chunk) = chunk {
                sent.fetch_add(chunk.len() as u64, Ordering::Relaxed);
            }
        });
        let request = self
            .request(Method::POST, self.url(segments, query))
            .header(reqwest::header::CONTENT_TYPE, media_type)
            .header(reqwest::header::CONTENT_LENGTH, size)
            .body(reqwest::Body::wrap_stream(counted));
        answer(self.send(request).await?).await
    }
}

/// The next page a list answer names (`Link: <…>; rel="next"`).
fn next_page(response: &Response) -> Option<String> {
    let link = response.headers().get(reqwest::header::LINK)?.to_str().ok()?;
    link.split(',').find_map(|part| {
        let (target, params) = part.trim().split_once(';')?;
        params.contains("rel=\"next\"").then(|| target.trim().trim_start_matches('<').trim_end_matches('>').to_owned())
    })
}

/// A successful answer's JSON (`null` without a body), or the refusal it carries.
async fn answer(response: Response) -> Result<Value> {
    let status = response.status();
    let url = response.url().to_string();
    let text = response.text().await.map_err(|e| CliError::Unreachable { url, reason: reason(&e) })?;
    if status.is_success() {
        return match text.trim().is_empty() {
            true => Ok(Value::Null),
            false => serde_json::from_str(&text)
                .map_err(|_| CliError::Local(format!("the service answered {status} with something other than JSON"))),
        };
    }
    Err(refusal(status, &text))
}

/// A refusal as one line: the problem's type and detail, or the status and body.
fn refusal(status: StatusCode, body: &str) -> CliError {
    let problem: Option<Value> = serde_json::from_str(body).ok();
    let field = |name: &str| problem.as_ref().and_then(|p| p[name].as_str()).map(str::to_owned);
    let kind = field("type")
        .map(|kind| kind.trim_start_matches("urn:keyhaven:problem:").to_owned())
        .or_else(|| field("error"))
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_lowercase());
    let detail = field("detail")
        .or_else(|| field("error_description"))
        .unwrap_or_else(|| body.lines().next().unwrap_or_default().chars().take(200).collect());
    CliError::Api { status: status.as_u16(), kind, detail }
}

/// What went wrong with a request, with its causes, without the URL (which the caller names).
fn reason(error: &reqwest::Error) -> String {
    let mut reason = String::from(match (error.is_connect(), error.is_timeout()) {
        (true, _) => "connection failed",
        (_, true) => "timed out",
        _ => "request failed",
    });
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        reason = format!("{reason}: {cause}");
        source = cause.source();
    }
    reason
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn paths_are_built_segment_by_segment() {
        let profile = Profile { url: "http://127.0.0.1:8080/".into(), token: "t".into(), tenant: None };
        let client = AdminClient::new(&profile).unwrap();
        let url = client.url(&["tenants", "a/../b c", "clients"], &[("limit", "5")]);
        assert_eq!(url.as_str(), "http://127.0.0.1:8080/admin/v1/tenants/a%2F..%2Fb%20c/clients?limit=5");
        let bad = Profile { url: "ftp://example.com".into(), token: "t".into(), tenant: None };
        assert!(matches!(AdminClient::new(&bad), Err(CliError::Usage(_))));
    }

    #[test]
    fn refusals_are_one_line_with_the_problem_type() {
        let body =
            r#"{"type":"urn:keyhaven:problem:not-found","title":"Not Found","status":404,"detail":"no such tenant"}"#;
        let error = refusal(StatusCode::NOT_FOUND, body);
        assert_eq!(error.to_string(), "404 not-found: no such tenant");
        assert_eq!(error.exit(), super::super::Exit::NotFound);
        let error = refusal(StatusCode::BAD_GATEWAY, "upstream\nfailed");
        assert_eq!(error.to_string(), "502 bad gateway: upstream");
        assert_eq!(error.exit(), super::super::Exit::Unavailable);
    }
}
