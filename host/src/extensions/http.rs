//! Outbound HTTP under the tenant's policy, through `wasi:http/outgoing-handler` (Rust
//! guests) or the contract's one-call `keyhaven:extension/http` (the JavaScript runtime's
//! `fetch`): a request reaches only a host the tenant allowed (default: none), is refused
//! in dry runs, must finish within the tenant's HTTP timeout and the invocation's deadline,
//! and its response body is cut off at the tenant's size limit. Then the node's
//! [`EgressPolicy`] checks the addresses the host resolves to, and the sender connects to
//! one of those very addresses (never resolving the name again). Both paths share the
//! policy and the sender. A refusal reaches the guest as an error of its interface and is
//! written to the invocation's log, so the tenant's developer sees why.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use tokio::net::TcpStream;
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

use super::bindings::http as wit;
use super::egress::{EgressPolicy, EgressRefusal};
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
    egress: Arc<EgressPolicy>,
    timeout: Duration,
    response_bytes: usize,
    deadline: Instant,
    dry_run: bool,
    log: SharedLog,
}

impl OutboundPolicy {
    pub fn new(
        allowed: Arc<[AllowedHost]>,
        egress: Arc<EgressPolicy>,
        limits: &Limits,
        deadline: Instant,
        dry_run: bool,
        log: SharedLog,
    ) -> Self {
        OutboundPolicy {
            allowed,
            egress,
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
        let exchange = async {
            let (response, connection) = match send_checked(&self.egress, outgoing, options).await {
                Ok(sent) => sent,
                Err(Unsent::Refused(refusal)) => {
                    let reason = format!("outbound HTTP refused: {refusal}");
                    self.log.push_host("http", &reason);
                    return Err(wit::HttpError::Refused(reason));
                }
                Err(Unsent::Failed(e)) => return Err(wit::HttpError::Failed(e.to_string())),
            };
            // The connection is driven beside the body being read.
            let driver = tokio::spawn(Box::into_pin(connection));
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

/// Why a request was not sent: the egress policy refused it, or sending failed.
enum Unsent {
    Refused(EgressRefusal),
    Failed(Error),
}

impl From<Error> for Unsent {
    fn from(error: Error) -> Self {
        Unsent::Failed(error)
    }
}

/// The TLS client configuration (webpki roots, ring), built once.
fn tls_config() -> Result<Arc<rustls::ClientConfig>, Error> {
    static CONFIG: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    let config = CONFIG.get_or_init(|| {
        let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.into() };
        rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map(|builder| Arc::new(builder.with_root_certificates(roots).with_no_client_auth()))
            .map_err(|e| e.to_string())
    });
    config.clone().map_err(|e| Error::InternalError(Some(e)))
}

/// The future that drives a response's connection while its body is read.
type Connection = Box<dyn Future<Output = Result<(), Error>> + Send>;

/// Sends `request` the way `wasmtime_wasi_http::default_send_request` does (HTTP/1.1, TLS
/// for https with the webpki roots, the three timeouts), except that it connects only to an
/// address the egress policy checked: the name is resolved once, here.
async fn send_checked<B>(
    egress: &EgressPolicy,
    mut request: http::Request<B>,
    options: RequestOptions,
) -> Result<(http::Response<WasiBody>, Connection), Unsent>
where
    B: http_body::Body<Data = Bytes, Error = Error> + Send + 'static,
{
    let uri = request.uri();
    let host = uri.host().ok_or(Error::HttpRequestUriInvalid)?.to_ascii_lowercase();
    let tls = uri.scheme() == Some(&http::uri::Scheme::HTTPS);
    let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
    let connect_timeout = options.connect_timeout.unwrap_or(Duration::from_secs(600));
    let first_byte_timeout = options.first_byte_timeout.unwrap_or(Duration::from_secs(600));
    // Tokio refuses an interval of zero.
    let between_bytes = options.between_bytes_timeout.unwrap_or(Duration::from_secs(600)).max(Duration::from_nanos(1));

    let resolved = tokio::time::timeout(connect_timeout, egress.destinations(&host, port)).await;
    let destinations = resolved.map_err(|_| Error::DnsTimeout)?.map_err(Unsent::Refused)?;
    let mut last = Error::DestinationUnavailable;
    let mut connected = None;
    for destination in destinations {
        match tokio::time::timeout(connect_timeout, TcpStream::connect(destination)).await {
            Ok(Ok(stream)) => {
                connected = Some(stream);
                break;
            }
            Ok(Err(e)) => last = Error::Connect(e),
            Err(_) => last = Error::ConnectionTimeout,
        }
    }
    let stream = connected.ok_or(last)?;
    let (mut sender, connection) = if tls {
        let name = host.trim_start_matches('[').trim_end_matches(']').to_owned();
        let name =
            rustls::pki_types::ServerName::try_from(name).map_err(|e| Error::InternalError(Some(e.to_string())))?;
        let stream = tokio_rustls::TlsConnector::from(tls_config()?).connect(name, stream).await.map_err(Error::Tls)?;
        handshake(stream, connect_timeout).await?
    } else {
        handshake(stream, connect_timeout).await?
    };
    // The request line carries only the path, as to an origin server.
    let path = request.uri().path_and_query().map_or("/", |p| p.as_str()).to_owned();
    *request.uri_mut() = http::Uri::try_from(path).map_err(|_| Error::HttpRequestUriInvalid)?;
    if !request.headers().contains_key(http::header::HOST) {
        let authority = uri_authority(&host, port, tls);
        let value = http::HeaderValue::try_from(authority).map_err(|_| Error::HttpRequestUriInvalid)?;
        request.headers_mut().insert(http::header::HOST, value);
    }
    // The response, while the connection is driven beside it.
    let mut connection = Box::into_pin(connection);
    let mut driven: Option<Result<(), Error>> = None;
    let response = {
        let mut send = std::pin::pin!(tokio::time::timeout(first_byte_timeout, sender.send_request(request)));
        std::future::poll_fn(|cx| {
            if let Poll::Ready(answer) = send.as_mut().poll(cx) {
                return Poll::Ready(answer);
            }
            if driven.is_none()
                && let Poll::Ready(done) = connection.as_mut().poll(cx)
            {
                driven = Some(done);
                return send.as_mut().poll(cx);
            }
            Poll::Pending
        })
        .await
    };
    let response = response.map_err(|_| Error::ConnectionReadTimeout)?.map_err(Error::from)?;
    if let Some(Err(e)) = driven {
        return Err(e.into());
    }
    let finished: Connection = match driven {
        Some(_) => Box::new(async { Ok(()) }),
        None => Box::new(connection),
    };
    let mut timer = tokio::time::interval(between_bytes);
    timer.reset();
    let response = response.map(|incoming| IncomingBody { incoming, timer }.boxed_unsync());
    Ok((response, finished))
}

/// An HTTP/1.1 client connection over `stream`: its sender, and the future that drives it.
async fn handshake<S, B>(
    stream: S,
    timeout: Duration,
) -> Result<(hyper::client::conn::http1::SendRequest<B>, Connection), Error>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
    B: http_body::Body<Data = Bytes, Error = Error> + Send + 'static,
{
    let shaken = tokio::time::timeout(timeout, hyper::client::conn::http1::handshake(TokioIo::new(stream))).await;
    let (sender, connection) = shaken.map_err(|_| Error::ConnectionTimeout)??;
    Ok((sender, Box::new(async move { connection.await.map_err(Error::from) })))
}

/// The `Host` header of a request to `host:port` (the port only when not the scheme's own).
fn uri_authority(host: &str, port: u16, tls: bool) -> String {
    match (tls, port) {
        (true, 443) | (false, 80) => host.to_owned(),
        _ => format!("{host}:{port}"),
    }
}

/// A response body that fails when no data arrives for the between-bytes timeout.
struct IncomingBody {
    incoming: hyper::body::Incoming,
    timer: tokio::time::Interval,
}

impl http_body::Body for IncomingBody {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Error>>> {
        match Pin::new(&mut self.incoming).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                self.timer.reset();
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => {
                Poll::Ready(Some(Err(if e.is_timeout() { Error::HttpResponseTimeout } else { Error::from(e) })))
            }
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => match self.timer.poll_tick(cx) {
                Poll::Ready(_) => Poll::Ready(Some(Err(Error::ConnectionReadTimeout))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.incoming.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.incoming.size_hint()
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
        let (egress, log) = (self.egress.clone(), self.log.clone());
        Box::new(async move {
            let sent = tokio::time::timeout(timeout, send_checked(&egress, request, options)).await;
            let (response, io) = match sent.map_err(|_| Error::ConnectionTimeout)? {
                Ok(sent) => sent,
                Err(Unsent::Refused(refusal)) => {
                    log.push_host("http", &format!("outbound HTTP refused: {refusal}"));
                    return Err(match refusal {
                        EgressRefusal::Denied { .. } => Error::DestinationIpProhibited,
                        EgressRefusal::Unresolved { reason, .. } => {
                            Error::DnsError { rcode: Some(reason), info_code: None }
                        }
                    });
                }
                Err(Unsent::Failed(e)) => return Err(e),
            };
            let response = response.map(|body| {
                Limited::new(body, limit)
                    .map_err(move |_| Error::HttpResponseBodySize(Some(limit as u64)))
                    .boxed_unsync()
            });
            Ok((response, io))
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
