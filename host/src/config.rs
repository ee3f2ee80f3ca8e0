//! Service configuration: one struct, built from defaults and `KEYHAVEN_*` environment
//! variables, so `keyhaven serve` runs with no set-up at all.
//!
//! | variable | default |
//! |---|---|
//! | `KEYHAVEN_LISTEN` | `127.0.0.1:8080` |
//! | `KEYHAVEN_DATABASE_URL` | `sqlite://keyhaven-data/keyhaven.db` |
//! | `KEYHAVEN_ROOT_TOKEN` | unset: generated and printed once at first start |
//! | `KEYHAVEN_PUBLIC_URL` | `http://<KEYHAVEN_LISTEN>`; the base of every issuer URL |
//! | `KEYHAVEN_TENANT_DOMAIN` | unset; with a domain, each tenant is also served on its subdomain |
//! | `KEYHAVEN_SECRETS_KEY` | unset: the key in `KEYHAVEN_SECRETS_KEY_FILE` |
//! | `KEYHAVEN_SECRETS_KEY_FILE` | `keyhaven-data/secrets.key`, created at first start |
//! | `KEYHAVEN_EGRESS_ALLOW` | unset: extensions reach no loopback, private, link-local (metadata) or other reserved address; else the ranges (`10.1.0.0/16`) or addresses listed, comma-separated, that they may reach when a tenant allows the host |
//! | `KEYHAVEN_TRUSTED_PROXIES` | unset: a request's client is its connection's peer; else the proxies (addresses or ranges, comma-separated) whose `X-Forwarded-For` names the client |
//! | `KEYHAVEN_JS_BUILDER` | `sdk/js/bin/keyhaven-js.mjs` of the current directory once `npm ci` has installed its packages; `none` for no JavaScript toolchain (uploads of JS/TS source are then refused) |

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use crate::extensions::egress::EgressPolicy;
use crate::extensions::{Limits, NodeLimits};

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_DATABASE_URL: &str = "sqlite://keyhaven-data/keyhaven.db";
pub const DEFAULT_SECRETS_KEY_FILE: &str = "keyhaven-data/secrets.key";

#[derive(Clone, Debug)]
pub struct Config {
    pub listen: SocketAddr,
    pub database_url: String,
    /// The operator token; stored (hashed) at start, replacing the previous one.
    pub root_token: Option<String>,
    /// Base URL clients reach the service at; issuers are `<public_url>/t/<tenant>`.
    pub public_url: Option<String>,
    /// With a domain such as `id.example.com`, every tenant's token service is also served
    /// on its subdomain (`https://acme.id.example.com/oauth2/token`), whose issuer is that
    /// origin (the scheme and port of `public_url`).
    pub tenant_domain: Option<String>,
    /// The extension limits of a tenant whose plan and overrides say nothing else.
    pub limits: Limits,
    /// What this node provides to every tenant's extensions.
    pub node_limits: NodeLimits,
    /// The key that seals extension secrets (base64url, 32 bytes); overrides the key file.
    pub secrets_key: Option<String>,
    /// Where the secrets key is kept when `secrets_key` is unset (created if missing).
    pub secrets_key_file: PathBuf,
    /// Proxies whose `X-Forwarded-For` names the client (none: the peer is the client).
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("KEYHAVEN_LISTEN={0:?} is not a socket address such as 127.0.0.1:8080")]
    Listen(String),
    #[error("KEYHAVEN_ROOT_TOKEN must be at least 32 characters")]
    WeakRootToken,
    #[error("KEYHAVEN_PUBLIC_URL={0:?} must start with http:// or https://")]
    PublicUrl(String),
    #[error("KEYHAVEN_TENANT_DOMAIN={0:?} is not a domain name such as id.example.com")]
    TenantDomain(String),
    #[error("KEYHAVEN_EGRESS_ALLOW: {0:?} is not an address or a range such as 10.1.0.0/16")]
    EgressAllow(String),
    #[error("KEYHAVEN_TRUSTED_PROXIES: {0:?} is not an address or a range such as 10.0.0.0/8")]
    TrustedProxies(String),
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database_url: DEFAULT_DATABASE_URL.into(),
            root_token: None,
            public_url: None,
            tenant_domain: None,
            limits: Limits::default(),
            node_limits: NodeLimits::default(),
            secrets_key: None,
            secrets_key_file: PathBuf::from(DEFAULT_SECRETS_KEY_FILE),
            trusted_proxies: Vec::new(),
        }
    }
}

impl Config {
    /// Defaults overridden by `KEYHAVEN_*` variables from `lookup` (e.g. `std::env::var`).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let mut config = Config::default();
        if let Some(listen) = lookup("KEYHAVEN_LISTEN") {
            config.listen = listen.parse().map_err(|_| ConfigError::Listen(listen))?;
        }
        if let Some(url) = lookup("KEYHAVEN_DATABASE_URL") {
            config.database_url = url;
        }
        config.root_token = lookup("KEYHAVEN_ROOT_TOKEN");
        config.public_url = lookup("KEYHAVEN_PUBLIC_URL");
        config.tenant_domain = lookup("KEYHAVEN_TENANT_DOMAIN").map(|d| d.trim_matches('.').to_ascii_lowercase());
        config.secrets_key = lookup("KEYHAVEN_SECRETS_KEY");
        if let Some(path) = lookup("KEYHAVEN_SECRETS_KEY_FILE") {
            config.secrets_key_file = PathBuf::from(path);
        }
        if let Some(proxies) = lookup("KEYHAVEN_TRUSTED_PROXIES") {
            config.trusted_proxies = EgressPolicy::parse_allow_list(&proxies).map_err(ConfigError::TrustedProxies)?;
        }
        if let Some(allowed) = lookup("KEYHAVEN_EGRESS_ALLOW") {
            let allowed = EgressPolicy::parse_allow_list(&allowed).map_err(ConfigError::EgressAllow)?;
            config.node_limits.egress = Arc::new(EgressPolicy::allowing(allowed));
        }
        // The JavaScript toolchain that builds handlers uploaded as source: the one named,
        // else this checkout's `sdk/js` once its packages are installed (`npm ci`).
        config.node_limits.js_builder = match lookup("KEYHAVEN_JS_BUILDER") {
            Some(path) if path.is_empty() || path == "none" => None,
            Some(path) => Some(PathBuf::from(path)),
            None => crate::extensions::js_build::detect_toolchain(),
        };
        config.validate()?;
        Ok(config)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.root_token.as_ref().is_some_and(|token| token.len() < 32) {
            return Err(ConfigError::WeakRootToken);
        }
        if let Some(url) = &self.public_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(ConfigError::PublicUrl(url.clone()));
        }
        if let Some(domain) = &self.tenant_domain {
            let label_ok = |l: &str| {
                !l.is_empty()
                    && l.len() <= 63
                    && l.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            };
            if domain.len() > 200 || !domain.split('.').all(label_ok) {
                return Err(ConfigError::TenantDomain(domain.clone()));
            }
        }
        Ok(())
    }

    /// The public base URL, without a trailing slash.
    pub fn public_url(&self) -> String {
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("http://{}", self.listen),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn defaults_need_no_environment() {
        let config = Config::from_lookup(|_| None).unwrap();
        assert_eq!(config.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(config.database_url, DEFAULT_DATABASE_URL);
        assert_eq!(config.public_url(), "http://127.0.0.1:8080");
    }

    #[test]
    fn environment_overrides_and_is_checked() {
        let env = |key: &str| match key {
            "KEYHAVEN_LISTEN" => Some("0.0.0.0:9000".to_owned()),
            "KEYHAVEN_PUBLIC_URL" => Some("https://id.example.com/".to_owned()),
            _ => None,
        };
        let config = Config::from_lookup(env).unwrap();
        assert_eq!(config.listen.port(), 9000);
        assert_eq!(config.public_url(), "https://id.example.com");
        assert!(matches!(
            Config::from_lookup(|k| (k == "KEYHAVEN_LISTEN").then(|| "nope".to_owned())),
            Err(ConfigError::Listen(_))
        ));
        assert!(matches!(
            Config::from_lookup(|k| (k == "KEYHAVEN_ROOT_TOKEN").then(|| "short".to_owned())),
            Err(ConfigError::WeakRootToken)
        ));
        let allowing = |list: &str| {
            let list = list.to_owned();
            Config::from_lookup(move |k| (k == "KEYHAVEN_EGRESS_ALLOW").then(|| list.clone()))
        };
        let config = allowing("10.1.0.0/16, 127.0.0.1").unwrap();
        assert_eq!(config.node_limits.egress.denial("10.1.2.3".parse().unwrap()), None);
        assert_eq!(config.node_limits.egress.denial("10.2.0.1".parse().unwrap()), Some("private"));
        assert!(matches!(allowing("10.0.0.0/40"), Err(ConfigError::EgressAllow(_))));
        let default = Config::from_lookup(|_| None).unwrap();
        assert_eq!(default.node_limits.egress.denial("127.0.0.1".parse().unwrap()), Some("loopback"));
    }
}
