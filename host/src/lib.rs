//! # Keyhaven
//!
//! A multi-tenant identity and token service whose tenants extend it with WebAssembly
//! components, run in-process in a fresh sandbox per call under hard limits.
//!
//! [`AppState::start`] opens storage and the extension runtime; [`app`] builds the HTTP
//! router (admin API and per-tenant token service) without serving it, so tests run the
//! real router in-process; [`serve`] serves it on a listener. See ARCHITECTURE.md.

pub mod api;
pub mod cli;
pub mod clock;
pub mod config;
pub mod console;
pub mod drain;
pub mod events;
pub mod extensions;
pub mod harness;
pub mod jwt;
pub mod metrics;
pub mod oauth;
pub mod ops;
pub mod ratelimit;
pub mod rekey;
pub mod secrets;
pub mod storage;
pub mod tenancy;
pub mod usage;
pub mod vault;
pub mod web;

use std::ops::Deref;
use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;

use crate::clock::{Clock, Entropy, EntropyError, SystemClock, SystemEntropy};
use crate::config::Config;
use crate::extensions::{ExtensionRuntime, RuntimeParts};
use crate::jwt::KeyCache;
use crate::storage::{Db, StorageError};
use crate::vault::{Vault, VaultError};

/// Everything a request handler needs; cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState(Arc<Services>);

/// The services behind [`AppState`].
#[derive(Debug)]
pub struct Services {
    pub config: Config,
    pub db: Db,
    pub clock: Arc<dyn Clock>,
    pub entropy: Arc<dyn Entropy>,
    pub extensions: Arc<ExtensionRuntime>,
    pub keys: KeyCache,
    /// This node's per-tenant request rate limits.
    pub limiter: ratelimit::RateLimiter,
    /// This node's usage counts not yet written.
    pub usage: usage::UsageMeter,
    /// This node's name in database leases.
    pub node_id: String,
    public_url: String,
}

impl Services {
    /// Forgets what another node's change made stale here.
    pub fn forget(&self, change: &storage::Change) {
        match change {
            storage::Change::Tenant(tenant_id) => {
                self.extensions.invalidate(tenant_id);
                self.extensions.kv.forget_tenant(tenant_id);
                self.keys.invalidate(tenant_id);
            }
            storage::Change::KeyValues(tenant_id) => self.extensions.kv.forget_tenant(tenant_id),
            storage::Change::Everything => {
                self.extensions.invalidate_all();
                self.extensions.kv.forget_all();
                self.keys.invalidate_all();
            }
        }
    }
}

impl From<Arc<Services>> for AppState {
    fn from(services: Arc<Services>) -> Self {
        AppState(services)
    }
}

impl Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

/// The service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Extensions(#[from] extensions::StartError),
    #[error(transparent)]
    Entropy(#[from] EntropyError),
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error(transparent)]
    Vault(#[from] VaultError),
    #[error("cannot seal the stored signing keys: {0}")]
    SealKeys(#[from] jwt::keys::SealStoredError),
}

/// A started service and, on a first start without `KEYHAVEN_ROOT_TOKEN`, the operator
/// token that was generated for it (to be shown once).
#[derive(Debug)]
pub struct Started {
    pub state: AppState,
    pub generated_root_token: Option<String>,
}

impl AppState {
    /// Opens the database, applies migrations, sets the root token and starts the
    /// extension runtime, with the system clock and random source.
    pub async fn start(config: Config) -> Result<Started, StartError> {
        Self::start_with(config, Arc::new(SystemClock), Arc::new(SystemEntropy)).await
    }

    pub async fn start_with(
        config: Config,
        clock: Arc<dyn Clock>,
        entropy: Arc<dyn Entropy>,
    ) -> Result<Started, StartError> {
        config.validate()?;
        let db = Db::connect(&config.database_url).await?;
        db.migrate().await?;
        let generated_root_token = ensure_root_token(&db, &config, clock.as_ref(), entropy.as_ref()).await?;
        let vault = match &config.secrets_key {
            Some(key) => Vault::from_encoded(key)?,
            None => Vault::load_or_create(&config.secrets_key_file, entropy.as_ref())?,
        };
        // Keys stored before keys were sealed are sealed now (migration 0019 cannot: the
        // node key never enters the database).
        let sealed = jwt::keys::seal_stored(&db, &vault, entropy.as_ref()).await?;
        if sealed > 0 {
            tracing::info!(sealed, "sealed signing keys stored in the clear");
        }
        let extensions = ExtensionRuntime::start(RuntimeParts {
            node: config.node_limits.clone(),
            default_limits: config.limits.clone(),
            db: db.clone(),
            clock: clock.clone(),
            entropy: entropy.clone(),
            vault: Arc::new(vault),
        })?;
        let resumed = extensions.resume_builds().await?;
        if resumed > 0 {
            tracing::info!(resumed, "resumed extension builds left pending");
        }
        let public_url = config.public_url();
        let usage = usage::UsageMeter::default();
        let node_id = clock::random_id(entropy.as_ref(), "node", 8)?;
        let background_jobs = config.node_limits.background_jobs;
        let keys = KeyCache::default();
        let limiter = ratelimit::RateLimiter::default();
        let services = Services { config, db, clock, entropy, extensions, keys, limiter, usage, node_id, public_url };
        let services = Arc::new(services);
        if let Some(url) = services.db.postgres_url() {
            events::changes::spawn_listener(Arc::downgrade(&services), url.to_owned());
        }
        let drain = services.extensions.drain.clone();
        usage::spawn_flusher(Arc::downgrade(&services), drain.clone());
        if background_jobs {
            events::maintenance::spawn(Arc::downgrade(&services), drain);
        }
        Ok(Started { state: AppState(services), generated_root_token })
    }

    /// The issuer URL of a tenant.
    pub fn issuer(&self, tenant_name: &str) -> String {
        format!("{}/t/{tenant_name}", self.public_url)
    }

    /// The base URL clients reach the service at (no trailing slash).
    pub fn public_url(&self) -> &str {
        &self.public_url
    }
}

/// Stores the configured root token, or generates one if none exists yet.
async fn ensure_root_token(
    db: &Db,
    config: &Config,
    clock: &dyn Clock,
    entropy: &dyn Entropy,
) -> Result<Option<String>, StartError> {
    if let Some(token) = &config.root_token {
        db.set_root_token(&secrets::digest(token), clock.now()).await?;
        return Ok(None);
    }
    if db.has_root_token().await? {
        return Ok(None);
    }
    let token = secrets::new_personal_access_token(entropy)?;
    db.set_root_token(&secrets::digest(&token), clock.now()).await?;
    Ok(Some(token))
}

/// The HTTP application: admin API and per-tenant token service.
pub fn app(state: AppState) -> Router {
    let routes = Router::new()
        .merge(api::router(state.clone()))
        .merge(oauth::router())
        .merge(console::router(state.clone()))
        .route_layer(axum::middleware::from_fn(metrics::name_route))
        .fallback(web::not_found)
        .method_not_allowed_fallback(web::method_not_allowed)
        .with_state(state.clone());
    // Tenants' subdomains are rewritten onto their routes before routing; every request
    // knows its client's address.
    let trusted: Arc<[ipnet::IpNet]> = state.config.trusted_proxies.clone().into();
    let counters = state.extensions.metrics.clone();
    Router::new()
        .fallback_service(routes)
        .layer(axum::middleware::map_request_with_state(state, oauth::route_subdomains))
        .layer(axum::middleware::from_fn(move |request, next| {
            web::client_ip::name_client(trusted.clone(), request, next)
        }))
        .layer(axum::middleware::from_fn(move |request, next| metrics::count_requests(counters.clone(), request, next)))
}

/// Serves [`app`] on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = app(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
}

/// How a graceful stop ended (see [`serve_until_stopped`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stopped {
    /// Every request in flight at the signal was answered within the grace period.
    pub requests_drained: bool,
    /// Every background pass (event delivery, schedule, build, maintenance) in progress at
    /// the signal ended within the grace period.
    pub background_drained: bool,
}

/// Serves [`app`] on `listener` until `signal` completes, then stops gracefully: no new
/// connection is accepted, the requests in flight are answered (their invocations
/// included) while the background loops finish the pass in hand and start no other, for
/// at most `grace` in all; then the invocation records and usage counts the node holds
/// in memory are written. What a stop cuts short is in the database for the next start or
/// another node (DESIGN: durability).
pub async fn serve_until_stopped(
    listener: TcpListener,
    state: AppState,
    signal: impl std::future::Future<Output = ()> + Send + 'static,
    grace: std::time::Duration,
) -> std::io::Result<Stopped> {
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let mut server = std::pin::pin!(serve(listener, state.clone(), async move {
        let mut stopping = stopping;
        let _ = stopping.wait_for(|stopping| *stopping).await;
    }));
    tokio::select! {
        served = &mut server => return served.map(|()| Stopped { requests_drained: true, background_drained: true }),
        () = signal => {}
    }
    tracing::info!(grace_seconds = grace.as_secs_f64(), "stopping: draining requests and background work");
    let _ = stop.send(true);
    let deadline = tokio::time::Instant::now() + grace;
    let (served, background_drained) =
        tokio::join!(tokio::time::timeout_at(deadline, &mut server), state.extensions.drain.stop(grace));
    let requests_drained = match served {
        Ok(served) => {
            served?;
            true
        }
        Err(_) => false,
    };
    state.write_held().await;
    Ok(Stopped { requests_drained, background_drained })
}

impl AppState {
    /// Writes the invocation records and usage counts this node holds in memory (at a stop;
    /// on a crash, the last second's records and five seconds' counts are lost).
    pub async fn write_held(&self) {
        if let Err(e) = self.extensions.records.flush(&self.db).await {
            tracing::warn!("cannot write invocation records at stop: {e}");
        }
        if let Err(e) = self.usage.flush(&self.db).await {
            tracing::warn!("cannot write usage counts at stop: {e}");
        }
    }
}

#[cfg(test)]
mod layering {
    //! The HTTP surfaces call down, never into each other: `api/`, `oauth/` and `console/`
    //! share only `web/`, and nothing below them (`ops/`, `jwt/`, the runtime, storage, the
    //! domain) names a surface. Checked on the source text, as a reviewer would.
    #![allow(clippy::panic)]

    use std::path::Path;

    /// The `crate::<module>` paths each folder's code uses.
    fn uses(folder: &str, module: &str) -> Vec<String> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(folder);
        let mut found = Vec::new();
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap_or_else(|e| panic!("{e}")).path();
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            for (n, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or_default();
                if code.contains(&format!("crate::{module}::")) || code.contains(&format!("crate::{module}}}")) {
                    found.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
                }
            }
        }
        found
    }

    #[test]
    fn surfaces_call_down_and_never_into_each_other() {
        // The scan finds what is there: the admin API does use the shared layer.
        assert!(!uses("api", "web").is_empty() && !uses("oauth", "ops").is_empty());
        let below = ["ops", "jwt", "web", "extensions", "storage", "tenancy", "events"];
        let mut crossings = Vec::new();
        let surfaces = ["api", "oauth", "console"];
        for folder in surfaces {
            for surface in surfaces.iter().filter(|s| **s != folder) {
                crossings.extend(uses(folder, surface));
            }
        }
        for folder in below {
            for surface in surfaces {
                crossings.extend(uses(folder, surface));
            }
        }
        assert!(crossings.is_empty(), "a layer reaches up or across:\n{}", crossings.join("\n"));
    }
}
