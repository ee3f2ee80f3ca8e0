//! Outbound HTTP under the tenant's policy, through `wasi:http/outgoing-handler` (Rust
//! guests) or the contract's one-call `keyhaven:extension/http` (the JavaScript runtime's
//! `fetch`): a request reaches only a host the tenant allowed (default: none), is refused
//! in dry runs, must finish within the tenant's HTTP timeout and the invocation's deadline,
//! and its response body is cut off at the tenant's size limit. Both paths share the
//! policy and the sender. A refusal reaches the guest as an error of its interface and is
//! written to the invocation's log, so the tenant's developer sees why.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks, default_send_request};

use super::bindings::http as wit;
use super::limits::Limits;
use super::log::SharedLog;
use super::state::HostState;

/// One allowed destination: a host name (or `*.suffix`), optionally with a port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AllowedHost {
    host: String,
    port: Option<u16>,
}

/// The usable entries of a tenant's allowed-hosts setting.
pub fn parse_allowed_hosts(entries: &[String]) -> Arc<[AllowedHost]> {
    entries.iter().filter_map(|entry| AllowedHost::parse(entry)).collect()
}

impl AllowedHost {
    fn parse(entry: &str) -> Option<AllowedHost> {
        let entry = entry.trim().to_ascii_lowercase();
        let (host, port) = match entry.rsplit_once(':') {
            Some((host, port)) if !host.ends_with(']') || host.starts_with('[') => {
                (host.to_owned(), Some(port.parse().ok()?))
            }
            _ => (entry, None),
        };
        (!host.is_empty()).then_some(AllowedHost { host, port })
    }

    fn allows(&self, host: &str, port: u16) -> bool {
        let host_matches = match self.host.strip_prefix("*.") {
            Some(suffix) => host.len() > suffix.len() + 1 && host.ends_with(&format!(".{suffix}")),
            None => self.host == host,
        };
        host_matches && self.port.is_none_or(|p| p == port)
    }
}

/// Checks an allowed-hosts entry as the admin API receives it.
pub fn valid_allowed_host(entry: &str) -> bool {
    AllowedHost::parse(entry).is_some_and(|allowed| {
        let name = allowed.host.strip_prefix("*.").unwrap_or(&allowed.host);
        !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '[' | ']' | ':'))
    })
}

/// The `wasi:http` hooks of one invocation.
pub struct OutboundPolicy {
    allowed: Arc<[AllowedHost]>,
    timeout: Duration,
    response_bytes: usize,
    deadline: Instant,
    dry_run: bool,
    log: SharedLog,
}

impl OutboundPolicy {
    pub fn new(allowed: Arc<[AllowedHost]>, limits: &Limits, deadline: Instant, dry_run: bool, log: SharedLog) -> Self {
        OutboundPolicy {
            allowed,
            timeout: limits.http_timeout,
            response_bytes: limits.http_response_bytes,
            deadline,
            dry_run,
            log,
        }
    }

    /// Why a request to this URI is refused, if it is.
    fn refusal(&self, uri: &http::Uri) -> Option<String> {
        let Some(host) = uri.host() else { return Some("the request has no host".into()) };
        let host = host.to_ascii_lowercase();
        let port = uri.port_u16().unwrap_or(if uri.scheme_str() == Some("http") { 80 } else { 443 });
        if self.dry_run {
            return Some(format!("outbound HTTP to {host}:{port} is not sent during a dry run"));
        }
        if !self.allowed.iter().any(|allowed| allowed.allows(&host, port)) {
            return Some(format!("outbound HTTP to {host}:{port} refused: not among the tenant's allowed hosts"));
        }
        None
    }

    /// The timeouts of a request sent now: the tenant's, cut to what is left of the deadline.
    fn options(&self) -> (Duration, RequestOptions) {
        let timeout = self.timeout.min(self.deadline.saturating_duration_since(Instant::now()));
        let options = RequestOptions {
            connect_timeout: Some(timeout),
            first_byte_timeout: Some(timeout),
            between_bytes_timeout: Some(timeout),
        };
        (timeout, options)
    }

    /// `keyhaven:extension/http.fetch`: one whole request and response.
    async fn fetch(&self, request: wit::Request) -> Result<wit::Response, wit::HttpError> {
        let invalid = |reason: String| wit::HttpError::InvalidRequest(reason);
        let uri: http::Uri =
            request.url.parse().map_err(|e| invalid(format!("{:?} is not a URL: {e}", request.url)))?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
            return Err(invalid(format!("{:?} is not an absolute http or https URL", request.url)));
        }
        if let Some(reason) = self.refusal(&uri) {
            self.log.push_host("http", &reason);
            return Err(wit::HttpError::Refused(reason));
        }
        let method = http::Method::from_bytes(request.method.as_bytes())
            .map_err(|_| invalid(format!("{:?} is not an HTTP method", request.method)))?;
        let mut builder = http::Request::builder().method(method).uri(uri);
        for (name, value) in &request.headers {
            if HOST_SET_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
                return Err(invalid(format!("the header {name:?} is set by the host")));
            }
            builder = builder.header(name.as_str(), value.as_str());
        }
        let body: WasiBody =
            Full::new(Bytes::from(request.body.unwrap_or_default())).map_err(|never| match never {}).boxed_unsync();
        let outgoing = builder.body(body).map_err(|e| invalid(format!("{e}")))?;

        let (timeout, options) = self.options();
        let failed = |e: Error| wit::HttpError::Failed(e.to_string());
        let exchange = async {
            let (response, connection) = default_send_request(outgoing, Some(options)).await.map_err(failed)?;
            // The connection is driven beside the body being read.
            let driver = tokio::spawn(connection);
            let (parts, body) = response.into_parts();
            let limit = self.response_bytes;
            let collected = Limited::new(body, limit).collect().await;
            driver.abort();
            let body = collected
                .map_err(|_| wit::HttpError::Failed(format!("the response body is larger than {limit} bytes")))?
                .to_bytes();
            let headers = parts
                .headers
                .iter()
                .map(|(name, value)| (name.as_str().to_owned(), String::from_utf8_lossy(value.as_bytes()).into_owned()))
                .collect();
            Ok(wit::Response { status: parts.status.as_u16(), headers, body: body.to_vec() })
        };
        match tokio::time::timeout(timeout, exchange).await {
            Ok(answer) => answer,
            Err(_) => Err(wit::HttpError::Failed(format!("no complete answer within {} ms", timeout.as_millis()))),
        }
    }
}

/// Headers the sender sets itself; a guest may not.
const HOST_SET_HEADERS: &[&str] =
    &["host", "connection", "keep-alive", "proxy-connection", "te", "transfer-encoding", "upgrade", "content-length"];

impl wit::Host for HostState {
    async fn fetch(&mut self, request: wit::Request) -> Result<wit::Response, wit::HttpError> {
        self.outbound.fetch(request).await
    }
}

type SendFuture = Box<dyn Future<Output = Result<(), Error>> + Send>;

impl WasiHttpHooks for OutboundPolicy {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        _options: Option<RequestOptions>,
        _fut: SendFuture,
    ) -> Box<dyn Future<Output = Result<(http::Response<WasiBody>, SendFuture), Error>> + Send> {
        if let Some(reason) = self.refusal(request.uri()) {
            self.log.push_host("http", &reason);
            return Box::new(async { Err(Error::HttpRequestDenied) });
        }
        let (timeout, options) = self.options();
        let limit = self.response_bytes;
        Box::new(async move {
            let sent = tokio::time::timeout(timeout, default_send_request(request, Some(options))).await;
            let (response, io) = sent.map_err(|_| Error::ConnectionTimeout)??;
            let response = response.map(|body| {
                Limited::new(body, limit)
                    .map_err(move |_| Error::HttpResponseBodySize(Some(limit as u64)))
                    .boxed_unsync()
            });
            Ok((response, Box::new(io) as SendFuture))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(entries: &[&str], host: &str, port: u16) -> bool {
        entries.iter().filter_map(|e| AllowedHost::parse(e)).any(|a| a.allows(host, port))
    }

    #[test]
    fn only_allowed_hosts_and_ports_pass() {
        assert!(allowed(&["sms.example.com"], "sms.example.com", 443));
        assert!(allowed(&["SMS.example.com"], "sms.example.com", 8080));
        assert!(!allowed(&["sms.example.com:443"], "sms.example.com", 8080));
        assert!(allowed(&["127.0.0.1:8099"], "127.0.0.1", 8099));
        assert!(!allowed(&["example.com"], "evil-example.com", 443));
        assert!(!allowed(&["example.com"], "example.com.evil.net", 443));
        assert!(allowed(&["*.example.com"], "api.example.com", 443));
        assert!(!allowed(&["*.example.com"], "example.com", 443));
        assert!(!allowed(&[], "localhost", 80));
    }

    #[test]
    fn entries_are_validated() {
        assert!(valid_allowed_host("api.example.com"));
        assert!(valid_allowed_host("127.0.0.1:8080"));
        assert!(valid_allowed_host("*.example.com"));
        assert!(!valid_allowed_host(""));
        assert!(!valid_allowed_host("http://example.com"));
        assert!(!valid_allowed_host("example.com:notaport"));
        assert!(!valid_allowed_host("exa mple.com"));
    }
}
