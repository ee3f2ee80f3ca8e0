//! The local component harness: an extension author runs a built component exactly as the
//! service would — the same runtime, limits, host imports and typed outcomes — without
//! running the service. A harness is one private tenant on its own SQLite file in a
//! temporary directory (removed when the harness is dropped), with the component uploaded
//! and built as its only extension. Configuration, secrets, the key-value store and the
//! hosts outbound HTTP may reach are set up the way an administrator would; each
//! [`ComponentHarness::run`] is a real invocation (key-value writes stay, HTTP is sent),
//! each [`ComponentHarness::dry_run`] one without side effects. `keyhaven run-hook` is the
//! same harness from the command line.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::AppState;
use crate::clock::{Entropy, SystemClock, SystemEntropy, random_id};
use crate::config::Config;
use crate::extensions::deployments::Upload;
use crate::extensions::egress::EgressPolicy;
use crate::extensions::hook_run::HookRun;
use crate::extensions::{Hook, LimitOverrides, secret_context};
use crate::ops::tenants::{NewTenant, create_tenant};
use crate::storage::{DeploymentState, KvWrite};
use crate::tenancy::{Tenant, TenantName};

/// The extension name the component is uploaded under.
pub const EXTENSION: &str = "harness";

/// How long a build may take before the harness gives up (a JavaScript component takes
/// 10–16 s to compile on a small machine).
const BUILD_TIMEOUT: Duration = Duration::from_secs(300);

#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    #[error("cannot start the harness: {0}")]
    Start(String),
    #[error("the component was refused: {0}")]
    Refused(String),
    #[error("the component's build failed: {0}")]
    BuildFailed(String),
    #[error("the component was not built within {0:?}")]
    BuildTimeout(Duration),
    #[error("the component does not export the {0} hook (it exports: {1})")]
    HookNotExported(&'static str, String),
    #[error("unknown hook {0:?}; hooks are token-issuance, otp-delivery, account-creation, events, scheduled")]
    UnknownHook(String),
    #[error("{0}")]
    Invalid(String),
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
}

pub type Result<T, E = HarnessError> = std::result::Result<T, E>;

/// A tenant of its own with one built component.
#[derive(Debug)]
pub struct ComponentHarness {
    state: AppState,
    tenant: Tenant,
    deployment_id: String,
    version: i64,
    hooks: Vec<String>,
    directory: TempDirectory,
}

/// A directory removed when dropped.
#[derive(Debug)]
struct TempDirectory(PathBuf);

impl Drop for TempDirectory {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn failed(e: impl std::fmt::Display) -> HarnessError {
    HarnessError::Start(e.to_string())
}

fn invalid(e: impl std::fmt::Display) -> HarnessError {
    HarnessError::Invalid(e.to_string())
}

impl ComponentHarness {
    /// Starts a private runtime and tenant, uploads `component` and waits for its build.
    pub async fn load(component: &[u8]) -> Result<Self> {
        let entropy: Arc<dyn Entropy> = Arc::new(SystemEntropy);
        let name = random_id(entropy.as_ref(), "keyhaven-harness", 8).map_err(failed)?;
        let directory = TempDirectory(std::env::temp_dir().join(name));
        std::fs::create_dir_all(&directory.0).map_err(failed)?;
        let mut config = Config {
            database_url: format!("sqlite://{}", directory.0.join("harness.db").display()),
            secrets_key_file: directory.0.join("secrets.key"),
            ..Config::default()
        };
        // The harness runs hooks when asked; no event dispatcher or scheduler of its own.
        config.node_limits.background_jobs = false;
        // A developer's own machine: the hook may reach the fakes they run on loopback.
        let loopback = EgressPolicy::parse_allow_list("127.0.0.0/8, ::1").map_err(failed)?;
        config.node_limits.egress = Arc::new(EgressPolicy::allowing(loopback));
        let started = AppState::start_with(config, Arc::new(SystemClock), entropy).await.map_err(failed)?;
        let state = started.state;
        let tenant_name = TenantName::parse("harness").map_err(failed)?;
        let (tenant, _admin_token, _administrator) =
            create_tenant(&state, NewTenant::named(tenant_name, "Component harness".into()), "harness")
                .await
                .map_err(|e| failed(e.detail))?;
        let upload = Upload { tenant_id: &tenant.id, extension: EXTENSION, component, bind: false };
        let uploaded = state.extensions.upload(upload).await.map_err(|e| HarnessError::Refused(e.to_string()))?;
        let started_at = std::time::Instant::now();
        let built = loop {
            let row = state.db.deployment(&tenant.id, &uploaded.id).await.map_err(failed)?;
            match row {
                Some(row) if row.state == DeploymentState::Enabled => break row,
                Some(row) if row.state == DeploymentState::Failed => {
                    return Err(HarnessError::BuildFailed(row.build_error.unwrap_or_default()));
                }
                Some(_) if started_at.elapsed() < BUILD_TIMEOUT => tokio::time::sleep(Duration::from_millis(5)).await,
                Some(_) => return Err(HarnessError::BuildTimeout(BUILD_TIMEOUT)),
                None => return Err(failed("the uploaded deployment disappeared")),
            }
        };
        Ok(ComponentHarness {
            state,
            tenant,
            deployment_id: built.id,
            version: built.version,
            hooks: built.hooks,
            directory,
        })
    }

    /// Reads a component file and loads it (see [`ComponentHarness::load`]).
    pub async fn load_file(path: &Path) -> Result<Self> {
        let component =
            std::fs::read(path).map_err(|source| HarnessError::Read { path: path.display().to_string(), source })?;
        Self::load(&component).await
    }

    /// The hooks the component exports, by contract name (`token-issuance`, ...).
    pub fn hooks(&self) -> &[String] {
        &self.hooks
    }

    /// Replaces the extension's configuration (`keyhaven_sdk::config::get`).
    pub async fn set_config(&self, config: &BTreeMap<String, String>) -> Result<()> {
        let _change = self.state.extensions.change(&self.tenant.id);
        let now = self.state.clock.now();
        self.state.db.set_extension_config(&self.tenant.id, EXTENSION, config, now).await.map_err(invalid)?;
        Ok(())
    }

    /// Sets one secret (`keyhaven_sdk::secrets::get`), sealed as the service seals it.
    pub async fn set_secret(&self, name: &str, value: &str) -> Result<()> {
        let context = secret_context(&self.tenant.id, EXTENSION, name);
        let sealed =
            self.state.extensions.vault().seal(self.state.entropy.as_ref(), value, &context).map_err(invalid)?;
        let _change = self.state.extensions.change(&self.tenant.id);
        let now = self.state.clock.now();
        self.state.db.set_extension_secret(&self.tenant.id, EXTENSION, name, &sealed, now).await.map_err(invalid)?;
        Ok(())
    }

    /// Puts a value into the tenant's key-value store (`keyhaven_sdk::kv`).
    pub async fn kv_set(&self, key: &str, value: &Value) -> Result<()> {
        let limits = self.state.extensions.tenant_limits(&self.tenant.id).await.map_err(invalid)?;
        let value = value.to_string();
        let write = KvWrite { key, value: &value, max_keys: limits.kv_keys, now: self.state.clock.now() };
        match self.state.extensions.kv.set(&self.tenant.id, write).await.map_err(invalid)? {
            true => Ok(()),
            false => Err(invalid(format!("the store already holds {} keys", limits.kv_keys))),
        }
    }

    /// The key-value store's contents, in key order.
    pub async fn kv(&self) -> Result<Vec<(String, Value)>> {
        let entries = self.state.db.kv_list(&self.tenant.id, None, None, 1_000).await.map_err(invalid)?;
        Ok(entries.into_iter().map(|entry| (entry.key, entry.value)).collect())
    }

    /// The hosts outbound HTTP may reach (`host`, `host:port` or `*.suffix`; default none).
    pub async fn allow_hosts(&self, hosts: &[String]) -> Result<()> {
        if let Some(bad) = hosts.iter().find(|h| !crate::extensions::valid_allowed_host(h)) {
            return Err(invalid(format!("{bad:?} is not a host, host:port or *.suffix")));
        }
        let _change = self.state.extensions.change(&self.tenant.id);
        self.state.db.set_allowed_hosts(&self.tenant.id, hosts).await.map_err(invalid)?;
        Ok(())
    }

    /// Tightens or loosens the tenant's limits, as an operator's overrides would (to test
    /// under a plan's limits).
    pub async fn set_limits(&self, overrides: &LimitOverrides) -> Result<()> {
        overrides.validate(self.state.extensions.node_limits()).map_err(invalid)?;
        let overrides = serde_json::to_value(overrides).map_err(invalid)?;
        let _change = self.state.extensions.change(&self.tenant.id);
        self.state.db.set_tenant_limit_overrides(&self.tenant.id, &overrides).await.map_err(invalid)?;
        Ok(())
    }

    /// Runs `hook` once with `input` (the JSON a dry run takes), as the service would.
    pub async fn run(&self, hook: &str, input: Value) -> Result<HookRun> {
        self.invoke(hook, input, false).await
    }

    /// Runs `hook` once without side effects: key-value writes stay in the run and
    /// outbound HTTP is refused, as in the admin API's dry runs.
    pub async fn dry_run(&self, hook: &str, input: Value) -> Result<HookRun> {
        self.invoke(hook, input, true).await
    }

    async fn invoke(&self, hook_name: &str, input: Value, dry_run: bool) -> Result<HookRun> {
        let hook = Hook::from_name(hook_name).ok_or_else(|| HarnessError::UnknownHook(hook_name.to_owned()))?;
        if !self.hooks.iter().any(|h| h == hook.name()) {
            return Err(HarnessError::HookNotExported(hook.name(), self.hooks.join(", ")));
        }
        let runtime = &self.state.extensions;
        let target = runtime
            .target(&self.tenant, EXTENSION, &self.deployment_id, self.version, hook, dry_run)
            .await
            .map_err(invalid)?;
        runtime.run_hook(&target, hook, input).await.map_err(invalid)
    }

    /// Where the harness keeps its database while it lives.
    pub fn directory(&self) -> &Path {
        &self.directory.0
    }
}

/// One `keyhaven run-hook` call: a component file, a hook and its input, and what the
/// harness is to be set up with first.
#[derive(Debug, Default)]
pub struct RunHook {
    pub component: PathBuf,
    pub hook: String,
    pub input: Value,
    pub config: BTreeMap<String, String>,
    pub secrets: Vec<(String, String)>,
    pub kv: Vec<(String, Value)>,
    pub allowed_hosts: Vec<String>,
    pub dry_run: bool,
}

/// Loads the component, sets the harness up and runs the hook once.
pub async fn run_hook(call: RunHook) -> Result<HookRun> {
    let harness = ComponentHarness::load_file(&call.component).await?;
    if !call.config.is_empty() {
        harness.set_config(&call.config).await?;
    }
    for (name, value) in &call.secrets {
        harness.set_secret(name, value).await?;
    }
    for (key, value) in &call.kv {
        harness.kv_set(key, value).await?;
    }
    if !call.allowed_hosts.is_empty() {
        harness.allow_hosts(&call.allowed_hosts).await?;
    }
    match call.dry_run {
        true => harness.dry_run(&call.hook, call.input).await,
        false => harness.run(&call.hook, call.input).await,
    }
}

/// Splits a `name=value` command-line argument.
pub fn name_value(argument: &str) -> Result<(String, String)> {
    match argument.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name.to_owned(), value.to_owned())),
        _ => Err(invalid(format!("{argument:?} is not NAME=VALUE"))),
    }
}
