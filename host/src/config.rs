//! Service configuration: one struct, built from defaults, an optional TOML file and
//! `KEYHAVEN_*` environment variables, so `keyhaven serve` runs with no set-up at all.
//!
//! The file (`keyhaven serve --config keyhaven.toml`, or `KEYHAVEN_CONFIG`) names the same
//! settings as the variables, lowercased and without the prefix (`listen = "0.0.0.0:8080"`,
//! `egress_allow = ["10.1.0.0/16"]`); a variable that is set wins over the file, and a key
//! the service does not know is an error rather than a silently ignored typo.
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
//! | `KEYHAVEN_SHUTDOWN_GRACE_SECONDS` | `25`: how long a stop (SIGTERM, Ctrl-C) waits for requests and background work in flight |
//! | `KEYHAVEN_JS_BUILDER` | `sdk/js/bin/keyhaven-js.mjs` of the current directory once `npm ci` has installed its packages; `none` for no JavaScript toolchain (uploads of JS/TS source are then refused) |

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::extensions::egress::EgressPolicy;
use crate::extensions::{Limits, NodeLimits};

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_DATABASE_URL: &str = "sqlite://keyhaven-data/keyhaven.db";
pub const DEFAULT_SECRETS_KEY_FILE: &str = "keyhaven-data/secrets.key";
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(25);

/// Every variable the service reads; a configuration file may set each (as its lowercase
/// name without `KEYHAVEN_`).
pub const VARIABLES: &[&str] = &[
    "KEYHAVEN_LISTEN",
    "KEYHAVEN_DATABASE_URL",
    "KEYHAVEN_ROOT_TOKEN",
    "KEYHAVEN_PUBLIC_URL",
    "KEYHAVEN_TENANT_DOMAIN",
    "KEYHAVEN_SECRETS_KEY",
    "KEYHAVEN_SECRETS_KEY_FILE",
    "KEYHAVEN_EGRESS_ALLOW",
    "KEYHAVEN_TRUSTED_PROXIES",
    "KEYHAVEN_SHUTDOWN_GRACE_SECONDS",
    "KEYHAVEN_JS_BUILDER",
];

/// The variable that names a configuration file when `--config` does not.
pub const CONFIG_FILE_VARIABLE: &str = "KEYHAVEN_CONFIG";

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
    /// How long a stop waits for the requests and background work in flight.
    pub shutdown_grace: Duration,
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
    #[error("KEYHAVEN_SHUTDOWN_GRACE_SECONDS={0:?} is not a number of seconds from 0 to 3600")]
    ShutdownGrace(String),
    #[error("cannot read the configuration file {path}: {reason}")]
    File { path: String, reason: String },
    #[error("the configuration file {path} sets {key:?}, which is not a setting (known: {known})")]
    UnknownKey { path: String, key: String, known: String },
    #[error(
        "the configuration file {path} sets {key:?} to {found}: give a string, a number, true/false or a list of strings"
    )]
    FileValue { path: String, key: String, found: String },
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
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
        }
    }
}

impl Config {
    /// Defaults, overridden by the configuration file (`file`, else the one `lookup` names
    /// in `KEYHAVEN_CONFIG`, if any), overridden by the variables `lookup` finds.
    pub fn from_file_and_lookup(
        file: Option<&Path>,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let named = lookup(CONFIG_FILE_VARIABLE).filter(|path| !path.is_empty()).map(PathBuf::from);
        let settings = match file.map(Path::to_path_buf).or(named) {
            Some(path) => read_file(&path)?,
            None => std::collections::HashMap::new(),
        };
        Config::from_lookup(|key| lookup(key).or_else(|| settings.get(key).cloned()))
    }

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
        if let Some(grace) = lookup("KEYHAVEN_SHUTDOWN_GRACE_SECONDS") {
            let seconds = grace.trim().parse::<f64>().ok().filter(|s| (0.0..=3600.0).contains(s));
            config.shutdown_grace =
                Duration::from_secs_f64(seconds.ok_or_else(|| ConfigError::ShutdownGrace(grace.clone()))?);
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

/// The settings of a TOML configuration file, by the variable each stands for.
fn read_file(path: &Path) -> Result<std::collections::HashMap<String, String>, ConfigError> {
    let shown = path.display().to_string();
    let text =
        std::fs::read_to_string(path).map_err(|e| ConfigError::File { path: shown.clone(), reason: e.to_string() })?;
    let table: toml::Table =
        text.parse().map_err(|e: toml::de::Error| ConfigError::File { path: shown.clone(), reason: e.to_string() })?;
    let mut settings = std::collections::HashMap::new();
    for (key, value) in table {
        let variable = format!("KEYHAVEN_{}", key.to_ascii_uppercase());
        if !VARIABLES.contains(&variable.as_str()) || key.chars().any(|c| c.is_ascii_uppercase()) {
            let known = VARIABLES.iter().map(|v| v.trim_start_matches("KEYHAVEN_").to_ascii_lowercase());
            return Err(ConfigError::UnknownKey { path: shown, key, known: known.collect::<Vec<_>>().join(", ") });
        }
        let bad = |found: &str| ConfigError::FileValue { path: shown.clone(), key: key.clone(), found: found.into() };
        let scalar = |value: &toml::Value| match value {
            toml::Value::String(text) => Ok(text.clone()),
            toml::Value::Integer(n) => Ok(n.to_string()),
            toml::Value::Float(x) => Ok(x.to_string()),
            toml::Value::Boolean(b) => Ok(b.to_string()),
            other => Err(bad(other.type_str())),
        };
        let value = match &value {
            toml::Value::Array(items) => {
                let items = items
                    .iter()
                    .map(|item| if item.is_array() { Err(bad("a list of lists")) } else { scalar(item) })
                    .collect::<Result<Vec<_>, _>>()?;
                items.join(",")
            }
            other => scalar(other)?,
        };
        settings.insert(variable, value);
    }
    Ok(settings)
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
        assert_eq!(default.shutdown_grace, DEFAULT_SHUTDOWN_GRACE);
        let grace = |g: &str| {
            let g = g.to_owned();
            Config::from_lookup(move |k| (k == "KEYHAVEN_SHUTDOWN_GRACE_SECONDS").then(|| g.clone()))
        };
        assert_eq!(grace("2.5").unwrap().shutdown_grace, Duration::from_millis(2500));
        assert!(matches!(grace("-1"), Err(ConfigError::ShutdownGrace(_))));
        assert!(matches!(grace("soon"), Err(ConfigError::ShutdownGrace(_))));
    }

    #[test]
    fn a_file_sets_what_the_variables_do_and_the_environment_wins() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keyhaven.toml");
        std::fs::write(
            &path,
            "listen = \"0.0.0.0:9100\"\npublic_url = \"https://id.example.com\"\n\
             egress_allow = [\"10.1.0.0/16\", \"127.0.0.1\"]\nshutdown_grace_seconds = 5\n",
        )
        .unwrap();
        let config = Config::from_file_and_lookup(Some(&path), |_| None).unwrap();
        assert_eq!(config.listen.port(), 9100);
        assert_eq!(config.public_url(), "https://id.example.com");
        assert_eq!(config.shutdown_grace, Duration::from_secs(5));
        assert_eq!(config.node_limits.egress.denial("10.1.2.3".parse().unwrap()), None);
        assert_eq!(config.node_limits.egress.denial("127.0.0.1".parse().unwrap()), None);

        // The environment wins; KEYHAVEN_CONFIG names the file when no flag does.
        let env = |k: &str| match k {
            "KEYHAVEN_CONFIG" => Some(path.display().to_string()),
            "KEYHAVEN_LISTEN" => Some("127.0.0.1:9200".to_owned()),
            _ => None,
        };
        let config = Config::from_file_and_lookup(None, env).unwrap();
        assert_eq!(config.listen.port(), 9200);
        assert_eq!(config.public_url(), "https://id.example.com");

        // A typo, a value of the wrong shape, a bad value and a missing file are errors.
        let refused = |text: &str| {
            std::fs::write(&path, text).unwrap();
            Config::from_file_and_lookup(Some(&path), |_| None).unwrap_err()
        };
        assert!(matches!(refused("listn = \"0.0.0.0:1\"\n"), ConfigError::UnknownKey { key, .. } if key == "listn"));
        assert!(matches!(refused("LISTEN = \"0.0.0.0:1\"\n"), ConfigError::UnknownKey { .. }));
        assert!(matches!(refused("[listen]\nport = 1\n"), ConfigError::FileValue { .. }));
        assert!(matches!(refused("listen = \"nope\"\n"), ConfigError::Listen(_)));
        assert!(matches!(refused("listen = \n"), ConfigError::File { .. }));
        let missing = dir.path().join("missing.toml");
        assert!(matches!(Config::from_file_and_lookup(Some(&missing), |_| None), Err(ConfigError::File { .. })));
    }
}
