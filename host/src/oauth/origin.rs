//! Where a tenant's token service was reached: under `/t/{tenant}/` on the service's
//! public URL, or — with `KEYHAVEN_TENANT_DOMAIN` set — on the tenant's own subdomain
//! (`acme.id.example.com`), whose requests [`route_subdomains`] rewrites to the same
//! routes before routing; nothing else is served there. A subdomain's issuer is its origin, with the public URL's scheme
//! and port (never the Host header's port). Tokens carry the issuer they were obtained
//! at; the tenant accepts both of its issuers, and nothing else.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{Uri, header};

use crate::AppState;
use crate::web::ApiError;

/// Set on a request that came in on a tenant's subdomain: that issuer.
#[derive(Clone, Debug)]
struct SubdomainIssuer(String);

/// The issuer a request reached, and the path prefix of the tenant's routes there (`""`
/// on a subdomain, `/t/{tenant}` otherwise).
#[derive(Clone, Debug)]
pub struct RequestOrigin {
    pub issuer: String,
    pub prefix: String,
}

impl AppState {
    /// The tenant's issuer on its subdomain, if subdomains are served.
    pub fn subdomain_issuer(&self, tenant_name: &str) -> Option<String> {
        let domain = self.config.tenant_domain.as_deref()?;
        let public = url::Url::parse(&self.issuer(tenant_name)).ok()?;
        let port = public.port().map(|port| format!(":{port}")).unwrap_or_default();
        Some(format!("{}://{tenant_name}.{domain}{port}", public.scheme()))
    }

    /// Whether `issuer` is one of the tenant's issuers (path or subdomain).
    pub fn is_issuer_of(&self, tenant_name: &str, issuer: &str) -> bool {
        issuer == self.issuer(tenant_name) || self.subdomain_issuer(tenant_name).is_some_and(|s| s == issuer)
    }
}

/// The tenant a Host header names under the tenant domain, if any.
fn tenant_of_host<'a>(host: &'a str, domain: &str) -> Option<&'a str> {
    let host =
        host.rsplit_once(':').filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit())).map_or(host, |(h, _)| h);
    let label = host.strip_suffix(domain)?.strip_suffix('.')?;
    let valid = !label.is_empty()
        && label.len() <= 63
        && label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    valid.then_some(label)
}

/// Rewrites a request to a tenant's subdomain onto the tenant's `/t/{tenant}` routes. A
/// subdomain serves its own tenant only: the admin API and other tenants' `/t/` routes are
/// not found there (so no other tenant's pages or cookies ever share its origin).
pub async fn route_subdomains(State(state): State<AppState>, mut request: Request) -> Result<Request, ApiError> {
    let Some(domain) = state.config.tenant_domain.as_deref() else { return Ok(request) };
    let host = request.headers().get(header::HOST).and_then(|h| h.to_str().ok()).map(str::to_ascii_lowercase);
    let Some(tenant) = host.as_deref().and_then(|host| tenant_of_host(host, domain)).map(str::to_owned) else {
        return Ok(request);
    };
    let Some(issuer) = state.subdomain_issuer(&tenant) else { return Ok(request) };
    let path_and_query = request.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let path = request.uri().path();
    if path.starts_with("/admin/") || path.starts_with("/t/") || path == "/admin" || path == "/t" {
        return Err(ApiError::not_found("route"));
    }
    let uri = format!("/t/{tenant}{path_and_query}").parse::<Uri>().map_err(|_| ApiError::not_found("route"))?;
    *request.uri_mut() = uri;
    request.extensions_mut().insert(SubdomainIssuer(issuer));
    Ok(request)
}

impl FromRequestParts<AppState> for RequestOrigin {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if let Some(SubdomainIssuer(issuer)) = parts.extensions.get::<SubdomainIssuer>() {
            return Ok(RequestOrigin { issuer: issuer.clone(), prefix: String::new() });
        }
        let tenant = parts.uri.path().strip_prefix("/t/").and_then(|rest| rest.split('/').next()).unwrap_or_default();
        Ok(RequestOrigin { issuer: state.issuer(tenant), prefix: format!("/t/{tenant}") })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_one_label_under_the_tenant_domain_names_a_tenant() {
        assert_eq!(tenant_of_host("acme.id.example.com", "id.example.com"), Some("acme"));
        assert_eq!(tenant_of_host("acme.id.example.com:8443", "id.example.com"), Some("acme"));
        assert_eq!(tenant_of_host("id.example.com", "id.example.com"), None);
        assert_eq!(tenant_of_host("a.b.id.example.com", "id.example.com"), None);
        assert_eq!(tenant_of_host("acmeid.example.com", "id.example.com"), None);
        assert_eq!(tenant_of_host("acme.id.example.com.evil.org", "id.example.com"), None);
    }
}
