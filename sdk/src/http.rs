//! Outbound HTTP through `wasi:http/outgoing-handler`, as a small blocking client. The host
//! lets requests reach only the hosts the tenant allowed, bounds each by the tenant's HTTP
//! timeout and the invocation's deadline, and cuts response bodies at the tenant's limit;
//! every refusal or failure comes back as an [`HttpError`].
//!
//! ```no_run
//! use keyhaven_sdk::{http, json};
//!
//! fn notify(url: &str) -> Result<u16, http::HttpError> {
//!     let response = http::Request::post(url).json(&json!({"hello": "world"})).send()?;
//!     Ok(response.status)
//! }
//! ```

use serde_json::Value;

/// An HTTP method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

/// A request to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// A response, its body read in full.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Why a request got no response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpError(pub String);

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HttpError {}

impl Request {
    pub fn new(method: Method, url: impl Into<String>) -> Self {
        Request { method, url: url.into(), headers: Vec::new(), body: Vec::new() }
    }

    pub fn get(url: impl Into<String>) -> Self {
        Self::new(Method::Get, url)
    }

    pub fn post(url: impl Into<String>) -> Self {
        Self::new(Method::Post, url)
    }

    /// Adds a header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Sets a JSON body and its content type.
    pub fn json(self, value: &Value) -> Self {
        self.header("content-type", "application/json").body(value.to_string())
    }

    /// Sends the request and reads the whole response.
    pub fn send(self) -> Result<Response, HttpError> {
        imp::send(self)
    }
}

impl Response {
    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as UTF-8 text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON.
    pub fn json(&self) -> Result<Value, HttpError> {
        serde_json::from_slice(&self.body).map_err(|e| HttpError(format!("the response is not JSON: {e}")))
    }
}

/// The parts of an absolute `http` or `https` URL.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Url<'a> {
    pub https: bool,
    pub authority: &'a str,
    pub path_and_query: &'a str,
}

pub(crate) fn parse_url(url: &str) -> Result<Url<'_>, HttpError> {
    let (https, rest) = match (url.strip_prefix("https://"), url.strip_prefix("http://")) {
        (Some(rest), _) => (true, rest),
        (None, Some(rest)) => (false, rest),
        _ => return Err(HttpError(format!("{url:?} is not an http:// or https:// URL"))),
    };
    let split = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(split);
    if authority.is_empty() {
        return Err(HttpError(format!("{url:?} has no host")));
    }
    Ok(Url { https, authority, path_and_query: if path.is_empty() { "/" } else { path } })
}

#[cfg(target_arch = "wasm32")]
mod imp {
    use wasip2::http::outgoing_handler;
    use wasip2::http::types::{Fields, Method as WasiMethod, OutgoingBody, OutgoingRequest, Scheme};
    use wasip2::io::streams::StreamError;

    use super::{HttpError, Method, Request, Response, parse_url};

    fn error(what: &str, detail: impl std::fmt::Debug) -> HttpError {
        HttpError(format!("{what}: {detail:?}"))
    }

    pub(super) fn send(request: Request) -> Result<Response, HttpError> {
        let url = parse_url(&request.url)?;
        let headers = Fields::new();
        for (name, value) in &request.headers {
            headers.append(name, value.as_bytes()).map_err(|e| error("invalid header", e))?;
        }
        let outgoing = OutgoingRequest::new(headers);
        let method = match request.method {
            Method::Get => WasiMethod::Get,
            Method::Post => WasiMethod::Post,
            Method::Put => WasiMethod::Put,
            Method::Patch => WasiMethod::Patch,
            Method::Delete => WasiMethod::Delete,
        };
        let scheme = if url.https { Scheme::Https } else { Scheme::Http };
        let invalid = |_| HttpError(format!("invalid URL {:?}", request.url));
        outgoing.set_method(&method).map_err(invalid)?;
        outgoing.set_scheme(Some(&scheme)).map_err(invalid)?;
        outgoing.set_authority(Some(url.authority)).map_err(invalid)?;
        outgoing.set_path_with_query(Some(url.path_and_query)).map_err(invalid)?;
        let body = outgoing.body().map_err(|()| HttpError("the request body is unavailable".into()))?;
        let future = outgoing_handler::handle(outgoing, None).map_err(|e| error("request refused", e))?;
        {
            let stream = body.write().map_err(|()| HttpError("the request body is unavailable".into()))?;
            for chunk in request.body.chunks(4096) {
                stream.blocking_write_and_flush(chunk).map_err(|e| error("cannot send the body", e))?;
            }
        }
        OutgoingBody::finish(body, None).map_err(|e| error("cannot finish the body", e))?;
        future.subscribe().block();
        let response = match future.get() {
            Some(Ok(Ok(response))) => response,
            Some(Ok(Err(e))) => return Err(error("request failed", e)),
            Some(Err(())) | None => return Err(HttpError("the response was already taken".into())),
        };
        let status = response.status();
        let headers = response
            .headers()
            .entries()
            .into_iter()
            .map(|(name, value)| (name, String::from_utf8_lossy(&value).into_owned()))
            .collect();
        let incoming = response.consume().map_err(|()| HttpError("the response body is unavailable".into()))?;
        let mut body = Vec::new();
        {
            let stream = incoming.stream().map_err(|()| HttpError("the response body is unavailable".into()))?;
            loop {
                match stream.blocking_read(64 * 1024) {
                    Ok(chunk) => body.extend_from_slice(&chunk),
                    Err(StreamError::Closed) => break,
                    Err(StreamError::LastOperationFailed(e)) => {
                        return Err(HttpError(format!("reading the response failed: {}", e.to_debug_string())));
                    }
                }
            }
        }
        Ok(Response { status, headers, body })
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use super::{HttpError, Request, Response};

    pub(super) fn send(request: Request) -> Result<Response, HttpError> {
        crate::testing::http(request)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn urls_are_split_into_scheme_authority_and_path() {
        let url = parse_url("https://api.example.com:8443/v1/messages?x=1").unwrap();
        assert_eq!(url, Url { https: true, authority: "api.example.com:8443", path_and_query: "/v1/messages?x=1" });
        let bare = parse_url("http://127.0.0.1:9000").unwrap();
        assert_eq!(bare.path_and_query, "/");
        assert!(parse_url("ftp://x").is_err());
        assert!(parse_url("https:///path").is_err());
    }
}
