//! A minimal browser for the hosted login pages: it keeps cookies (per name, as the
//! service sets them), never follows redirects by itself, reads a page's forms — their
//! action and hidden fields — and submits them with the fields a person would type. It
//! drives the same HTML a real browser gets; nothing is read from the service's internals.

use std::collections::HashMap;

use anyhow::{Context, Result, bail};
use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};

/// One response: its status, `Location` and body.
#[derive(Debug, Clone)]
pub struct Page {
    pub status: StatusCode,
    pub location: Option<String>,
    pub html: String,
}

impl Page {
    /// Whether the page has a form with this id.
    pub fn has_form(&self, id: &str) -> bool {
        self.html.contains(&format!("<form id=\"{id}\""))
    }

    /// The ids of the page's forms, in order.
    pub fn forms(&self) -> Vec<String> {
        self.html.split("<form id=\"").skip(1).filter_map(|rest| rest.split('"').next()).map(str::to_owned).collect()
    }

    /// The first form whose id starts with `prefix`.
    pub fn form_starting(&self, prefix: &str) -> Option<String> {
        self.forms().into_iter().find(|id| id.starts_with(prefix))
    }

    /// The query parameters of the redirect this response is.
    pub fn redirect_params(&self) -> Result<HashMap<String, String>> {
        let location = self.location.as_deref().context("the response is not a redirect")?;
        let url = reqwest::Url::parse(location)?;
        Ok(url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
    }
}

/// HTML entities the service's pages use.
pub fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"").replace("&#39;", "'").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
}

/// A browser with its own cookie jar.
#[derive(Debug)]
pub struct Browser {
    base_url: String,
    http: reqwest::Client,
    cookies: HashMap<String, String>,
    /// A Host header to send (a tenant's subdomain), if not the base URL's.
    host: Option<String>,
}

impl Browser {
    pub fn new(base_url: &str) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        Browser { base_url: base_url.trim_end_matches('/').to_owned(), http, cookies: HashMap::new(), host: None }
    }

    /// A browser that reaches the service at `base_url` but names `host` (a tenant's
    /// subdomain) in every request, and treats `http://{host}` as the service too.
    pub fn with_host(base_url: &str, host: &str) -> Self {
        Browser { host: Some(host.to_owned()), ..Self::new(base_url) }
    }

    fn request(&self, method: reqwest::Method, path_or_url: &str) -> reqwest::RequestBuilder {
        let mut url = self.url(path_or_url);
        if let Some(host) = &self.host {
            url = url.replacen(&format!("http://{host}"), &self.base_url, 1);
        }
        let request = self.http.request(method, url).header(COOKIE, self.cookie_header());
        match &self.host {
            Some(host) => request.header(reqwest::header::HOST, host),
            None => request,
        }
    }

    /// The value of a cookie the service set, if any.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies.get(name).map(String::as_str)
    }

    fn url(&self, path_or_url: &str) -> String {
        if path_or_url.starts_with("http://") || path_or_url.starts_with("https://") {
            path_or_url.to_owned()
        } else {
            format!("{}{path_or_url}", self.base_url)
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    async fn read(&mut self, response: reqwest::Response) -> Result<Page> {
        for value in response.headers().get_all(SET_COOKIE) {
            let value = value.to_str()?;
            let pair = value.split(';').next().unwrap_or_default();
            let (name, cookie) = pair.split_once('=').context("a Set-Cookie without '='")?;
            let expired = value.contains("Max-Age=0");
            if expired || cookie.is_empty() {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), cookie.to_owned());
            }
        }
        let status = response.status();
        let location = response.headers().get(LOCATION).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let html = response.text().await?;
        Ok(Page { status, location, html })
    }

    pub async fn get(&mut self, path_or_url: &str) -> Result<Page> {
        let response = self.request(reqwest::Method::GET, path_or_url).send().await?;
        self.read(response).await
    }

    /// Follows redirects that stay on the service; stops at a page, or at a redirect
    /// elsewhere (the client's redirect URI).
    pub async fn follow(&mut self, mut page: Page) -> Result<Page> {
        for _ in 0..10 {
            let Some(location) = page.location.clone() else { return Ok(page) };
            let on_host = self.host.as_ref().is_some_and(|host| location.starts_with(&format!("http://{host}/")));
            let on_service = location.starts_with('/') || location.starts_with(&self.base_url) || on_host;
            if !(page.status.is_redirection() && on_service) {
                return Ok(page);
            }
            page = self.get(&location).await?;
        }
        bail!("too many redirects")
    }

    /// The form `id` of `page`: its action and its hidden fields.
    pub fn form(page: &Page, id: &str) -> Result<(String, Vec<(String, String)>)> {
        let start = page
            .html
            .find(&format!("<form id=\"{id}\""))
            .with_context(|| format!("no form {id:?} on the page (forms: {:?}): {}", page.forms(), page.html))?;
        let rest = &page.html[start..];
        let form = &rest[..rest.find("</form>").context("unclosed form")?];
        let attribute = |tag: &str, name: &str| -> Option<String> {
            let marker = format!("{name}=\"");
            let from = tag.find(&marker)? + marker.len();
            Some(unescape(&tag[from..from + tag[from..].find('"')?]))
        };
        let action = attribute(form, "action").context("form without action")?;
        let mut fields = Vec::new();
        for tag in form.split("<input").skip(1) {
            let tag = &tag[..tag.find('>').unwrap_or(tag.len())];
            if tag.contains("type=\"hidden\"")
                && let (Some(name), Some(value)) = (attribute(tag, "name"), attribute(tag, "value"))
            {
                fields.push((name, value));
            }
        }
        Ok((action, fields))
    }

    /// Submits form `id` of `page` with its hidden fields and `typed` (which replaces a
    /// hidden field of the same name); follows redirects that stay on the service.
    pub async fn submit(&mut self, page: &Page, id: &str, typed: &[(&str, &str)]) -> Result<Page> {
        let (action, mut fields) = Self::form(page, id)?;
        fields.retain(|(name, _)| !typed.iter().any(|(typed, _)| typed == name));
        fields.extend(typed.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        let response = self.request(reqwest::Method::POST, &action).form(&fields).send().await?;
        let page = self.read(response).await?;
        self.follow(page).await
    }

    /// Submits form `id` of `page` as `multipart/form-data`, as a browser sends a form with
    /// a file input: its hidden fields, `typed`, and `file` (field name, file name, bytes);
    /// follows redirects that stay on the service.
    pub async fn submit_file(
        &mut self,
        page: &Page,
        id: &str,
        typed: &[(&str, &str)],
        file: (&str, &str, &[u8]),
    ) -> Result<Page> {
        let (action, mut fields) = Self::form(page, id)?;
        fields.retain(|(name, _)| !typed.iter().any(|(typed, _)| typed == name));
        fields.extend(typed.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        let boundary = "----keyhaven-test-boundary-7d41c0";
        let mut body = Vec::new();
        for (name, value) in &fields {
            body.extend_from_slice(
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                    .as_bytes(),
            );
        }
        let (field, file_name, bytes) = file;
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{file_name}\"\r\n\
                 Content-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let content_type = format!("multipart/form-data; boundary={boundary}");
        let response = self
            .request(reqwest::Method::POST, &action)
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body)
            .send()
            .await?;
        let page = self.read(response).await?;
        self.follow(page).await
    }

    /// Opens an authorization URL and follows it as far as the service goes.
    pub async fn open(&mut self, path_or_url: &str) -> Result<Page> {
        let page = self.get(path_or_url).await?;
        self.follow(page).await
    }
}
