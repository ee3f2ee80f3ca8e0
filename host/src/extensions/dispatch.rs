//! Hook dispatch: which deployments run for a hook of a tenant, in what order, under what
//! limits and with what environment. A binding names an extension (whose active version
//! runs), an optional client (a client's own token-issuance bindings replace the
//! tenant-wide ones), a position and a failure policy. The tenant's limits (plan, then
//! operator overrides), each extension's environment and the active bindings are cached per
//! node and dropped whenever this node changes them ([`ExtensionRuntime::invalidate`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use serde_json::Value;

use super::account_creation::{AccountData, Source, Verdict};
use super::invoke::{InvokeError, Target};
use super::otp_delivery::{Delivery, OtpMessage};
use super::token_issuance::{Decision, TokenRequest};
use super::{ExtensionEnv, ExtensionRuntime, Hook, InvocationContext, LimitOverrides, Limits};
use crate::storage::{ActiveBinding, FailurePolicy, StorageError};
use crate::tenancy::Tenant;

/// The active bindings of (tenant id, hook, client id).
type BindingCache = HashMap<(String, Hook, Option<String>), Arc<Vec<ActiveBinding>>>;

/// Per-node caches of what dispatch reads on every request. While a change is being
/// written ([`ExtensionRuntime::change`]) readers bypass them, and a value read from the
/// database is kept only if no change began or ended meanwhile, so a request that follows
/// a change never runs with what was cached before it.
#[derive(Debug, Default)]
pub(super) struct Caches {
    limits: RwLock<HashMap<String, Limits>>,
    env: RwLock<HashMap<(String, String), Arc<ExtensionEnv>>>,
    bindings: RwLock<BindingCache>,
    /// Changes being written now.
    writing: AtomicUsize,
    /// Bumped by every invalidation.
    generation: AtomicU64,
}

impl Caches {
    /// The generation to read under, if the caches may be used now.
    fn readable(&self) -> Option<u64> {
        let generation = self.generation.load(Ordering::SeqCst);
        (self.writing.load(Ordering::SeqCst) == 0).then_some(generation)
    }

    /// Whether a value read under `generation` may be kept.
    fn keep(&self, generation: Option<u64>) -> bool {
        generation.is_some() && self.readable() == generation
    }
}

/// A change to a tenant's extensions, bindings, settings or limits being written; dropping
/// it (once the change is committed) makes the node forget what it cached.
#[derive(Debug)]
pub struct ChangeGuard<'a> {
    runtime: &'a ExtensionRuntime,
    tenant_id: String,
}

impl Drop for ChangeGuard<'_> {
    fn drop(&mut self) {
        self.runtime.invalidate(&self.tenant_id);
        self.runtime.caches.writing.fetch_sub(1, Ordering::SeqCst);
        // Other nodes sharing the database forget it too (PostgreSQL NOTIFY).
        let (db, tenant_id) = (self.runtime.db.clone(), self.tenant_id.clone());
        if db.postgres_url().is_some()
            && let Ok(handle) = tokio::runtime::Handle::try_current()
        {
            handle.spawn(async move {
                if let Err(e) = db.publish_change(&crate::storage::Change::Tenant(tenant_id.clone())).await {
                    tracing::warn!(tenant = %tenant_id, "cannot announce a change to other nodes: {e}");
                }
            });
        }
    }
}

/// A bound deployment ready to run (or why it cannot), with its binding.
#[derive(Debug)]
pub struct Bound {
    pub binding: ActiveBinding,
    pub target: Result<Target, InvokeError>,
}

/// The token-issuance hooks' combined answer.
#[derive(Debug, Default, PartialEq)]
pub struct TokenClaims {
    pub access_token: Vec<(String, Value)>,
    pub id_token: Vec<(String, Value)>,
    /// Scope changes, in binding order (a later change wins).
    pub scope_changes: Vec<ScopeChange>,
}

/// One extension's change to the granted scopes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScopeChange {
    Add { scope: String, extension: String },
    Suppress(String),
}

impl TokenClaims {
    /// Applies the scope changes to `granted`. An added scope must be in `allowed` (what
    /// the client may obtain); otherwise the error names the scope and the extension.
    pub fn apply_scopes(&self, granted: &mut Vec<String>, allowed: &[String]) -> Result<(), String> {
        for change in &self.scope_changes {
            match change {
                ScopeChange::Add { scope, extension } => {
                    if !allowed.contains(scope) {
                        return Err(format!(
                            "the token-issuance extension {extension:?} tried to add the scope {scope:?}, which this client may not obtain"
                        ));
                    }
                    if !granted.contains(scope) {
                        granted.push(scope.clone());
                    }
                }
                ScopeChange::Suppress(scope) => granted.retain(|s| s != scope),
            }
        }
        Ok(())
    }
}

/// Why the token-issuance hooks refused a token.
#[derive(Debug, thiserror::Error)]
pub enum TokenHookError {
    #[error("{0}")]
    Denied(String),
    #[error("the tenant's token-issuance extension {extension:?} failed: {error}")]
    Failed { extension: String, error: InvokeError },
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Why a synchronous hook other than token issuance stopped what it guards (an account, a
/// code's delivery).
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error("{0}")]
    Denied(String),
    #[error("the tenant's {hook} extension {extension:?} failed: {error}")]
    Failed { hook: &'static str, extension: String, error: InvokeError },
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl ExtensionRuntime {
    /// Runs the `account-creation` bindings' `before` hooks in order: each sees the account
    /// as the previous one left it; a denial stops at once; a failure stops the creation
    /// when its binding fails closed (the default) and is skipped when it fails open.
    /// Returns the account as it is to be created.
    pub async fn run_before_account_creation(
        self: &Arc<Self>,
        tenant: &Tenant,
        from: Source,
        account: AccountData,
    ) -> Result<AccountData, HookError> {
        let mut account = account;
        for bound in self.bound(tenant, Hook::AccountCreation, None).await? {
            let extension = bound.binding.binding.extension.clone();
            let result = match bound.target {
                Ok(target) => self.before_account_creation(&target, from, &account).await.result,
                Err(e) => Err(e),
            };
            match result {
                Ok(Verdict::Allow) => {}
                Ok(Verdict::AllowWith(changed)) => account = changed,
                Ok(Verdict::Deny(reason)) => return Err(HookError::Denied(reason)),
                Err(error) if bound.binding.binding.failure_policy == FailurePolicy::FailOpen => {
                    tracing::info!(tenant = %tenant.id, %extension, "account-creation extension failed open: {error}");
                }
                Err(error) => return Err(HookError::Failed { hook: "account-creation", extension, error }),
            }
        }
        Ok(account)
    }

    /// Runs the `account-creation` bindings' `after` hooks, off the request's path (their
    /// outcome is in the invocation records).
    pub fn spawn_after_account_creation(
        self: &Arc<Self>,
        tenant: Tenant,
        from: Source,
        account_id: String,
        account: AccountData,
    ) {
        let runtime = self.clone();
        tokio::spawn(async move {
            let bound = match runtime.bound(&tenant, Hook::AccountCreation, None).await {
                Ok(bound) => bound,
                Err(e) => return tracing::warn!(tenant = %tenant.id, "cannot run after-account-creation: {e}"),
            };
            for bound in bound {
                if let Ok(target) = bound.target {
                    runtime.after_account_creation(&target, from, &account_id, &account).await;
                }
            }
        });
    }

    /// Hands one code to the tenant's first `otp-delivery` binding, once: the answer is
    /// final, so nobody receives a second code they did not ask for. `Ok(None)` when no
    /// extension delivers codes.
    pub async fn run_otp_delivery(
        self: &Arc<Self>,
        tenant: &Tenant,
        message: &OtpMessage,
    ) -> Result<Option<Delivery>, HookError> {
        let Some(bound) = self.bound(tenant, Hook::OtpDelivery, None).await?.into_iter().next() else {
            return Ok(None);
        };
        let extension = bound.binding.binding.extension.clone();
        let result = match bound.target {
            Ok(target) => self.deliver_otp(&target, message).await.result,
            Err(e) => Err(e),
        };
        result.map(Some).map_err(|error| HookError::Failed { hook: "otp-delivery", extension, error })
    }

    /// The tenant's limits: the defaults, refined by its plan, refined by its overrides.
    pub async fn tenant_limits(&self, tenant_id: &str) -> Result<Limits, StorageError> {
        let generation = self.caches.readable();
        if generation.is_some()
            && let Some(limits) = self.caches.limits.read().ok().and_then(|c| c.get(tenant_id).cloned())
        {
            return Ok(limits);
        }
        let row = self.db.tenant_limits(tenant_id).await?.ok_or(StorageError::NotFound("tenant"))?;
        let parse = |value: Value| serde_json::from_value::<LimitOverrides>(value).unwrap_or_default();
        let limits = self
            .default_limits
            .clone()
            .with(&parse(row.plan_limits), &self.node)
            .with(&parse(row.overrides), &self.node);
        if self.caches.keep(generation)
            && let Ok(mut cache) = self.caches.limits.write()
        {
            cache.insert(tenant_id.to_owned(), limits.clone());
        }
        Ok(limits)
    }

    /// What an extension's invocations may read: its configuration, its sealed secrets and
    /// the tenant's allowed hosts.
    pub async fn extension_env(&self, tenant_id: &str, extension: &str) -> Result<Arc<ExtensionEnv>, StorageError> {
        let key = (tenant_id.to_owned(), extension.to_owned());
        let generation = self.caches.readable();
        if generation.is_some()
            && let Some(env) = self.caches.env.read().ok().and_then(|c| c.get(&key).cloned())
        {
            return Ok(env);
        }
        let config = self.db.extension(tenant_id, extension).await?.map(|e| e.config).unwrap_or_default();
        let secrets = self.db.extension_secrets(tenant_id, extension).await?;
        let allowed_hosts = self.db.tenant_limits(tenant_id).await?.map(|row| row.allowed_hosts).unwrap_or_default();
        let allowed_hosts = super::http::parse_allowed_hosts(&allowed_hosts);
        let env = Arc::new(ExtensionEnv { config: config.into_iter().collect(), secrets, allowed_hosts });
        if self.caches.keep(generation)
            && let Ok(mut cache) = self.caches.env.write()
        {
            cache.insert(key, env.clone());
        }
        Ok(env)
    }

    /// Starts a change to a tenant's extensions, bindings, settings or limits: take it
    /// before writing, drop it after the commit.
    pub fn change(&self, tenant_id: &str) -> ChangeGuard<'_> {
        self.caches.writing.fetch_add(1, Ordering::SeqCst);
        self.invalidate(tenant_id);
        ChangeGuard { runtime: self, tenant_id: tenant_id.to_owned() }
    }

    /// Forgets what this node cached about every tenant (another node's change to all of
    /// them, or a lost connection to the change channel).
    pub(crate) fn invalidate_all(&self) {
        self.caches.generation.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut cache) = self.caches.limits.write() {
            cache.clear();
        }
        if let Ok(mut cache) = self.caches.env.write() {
            cache.clear();
        }
        if let Ok(mut cache) = self.caches.bindings.write() {
            cache.clear();
        }
    }

    /// Forgets what this node cached about a tenant's extensions, limits and bindings.
    pub(crate) fn invalidate(&self, tenant_id: &str) {
        self.caches.generation.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut cache) = self.caches.limits.write() {
            cache.remove(tenant_id);
        }
        if let Ok(mut cache) = self.caches.env.write() {
            cache.retain(|(tenant, _), _| tenant != tenant_id);
        }
        if let Ok(mut cache) = self.caches.bindings.write() {
            cache.retain(|(tenant, _, _), _| tenant != tenant_id);
        }
    }

    /// The active bindings of `hook` for the tenant (a client's own, else tenant-wide).
    async fn active_bindings(
        &self,
        tenant_id: &str,
        hook: Hook,
        client_id: Option<&str>,
    ) -> Result<Arc<Vec<ActiveBinding>>, StorageError> {
        let key = (tenant_id.to_owned(), hook, client_id.map(str::to_owned));
        let generation = self.caches.readable();
        if generation.is_some()
            && let Some(bound) = self.caches.bindings.read().ok().and_then(|c| c.get(&key).cloned())
        {
            return Ok(bound);
        }
        let bound = Arc::new(self.db.active_bindings(tenant_id, hook.name(), client_id).await?);
        if self.caches.keep(generation)
            && let Ok(mut cache) = self.caches.bindings.write()
        {
            cache.insert(key, bound.clone());
        }
        Ok(bound)
    }

    /// The tenant's active `events` bindings (tenant-wide).
    pub(crate) async fn active_events_bindings(
        &self,
        tenant_id: &str,
    ) -> Result<Arc<Vec<ActiveBinding>>, StorageError> {
        self.active_bindings(tenant_id, Hook::Events, None).await
    }

    /// A deployment of the tenant, ready to invoke.
    pub async fn target(
        self: &Arc<Self>,
        tenant: &Tenant,
        extension: &str,
        deployment_id: &str,
        version: i64,
        hook: Hook,
        dry_run: bool,
    ) -> Result<Target, InvokeError> {
        let load = |e: &dyn std::fmt::Display| InvokeError::Load(e.to_string());
        let compiled = self.load(&tenant.id, deployment_id).await.map_err(|e| load(&e))?;
        let limits = self.tenant_limits(&tenant.id).await.map_err(|e| load(&e))?;
        let env = self.extension_env(&tenant.id, extension).await.map_err(|e| load(&e))?;
        let context = InvocationContext {
            tenant_id: tenant.id.clone(),
            tenant_name: tenant.name.clone(),
            extension: extension.to_owned(),
            deployment_id: deployment_id.to_owned(),
            version,
            hook,
            dry_run,
        };
        Ok(Target { compiled, context, limits, env })
    }

    /// Everything bound to `hook` for the tenant (and client), in order, ready to run. An
    /// extension is skipped entirely while its tenant is not ENABLED.
    pub async fn bound(
        self: &Arc<Self>,
        tenant: &Tenant,
        hook: Hook,
        client_id: Option<&str>,
    ) -> Result<Vec<Bound>, StorageError> {
        if !tenant.effective_state().is_usable() {
            return Ok(Vec::new());
        }
        let bindings = self.active_bindings(&tenant.id, hook, client_id).await?;
        let mut bound = Vec::with_capacity(bindings.len());
        for binding in bindings.iter() {
            let extension = &binding.binding.extension;
            let target = self.target(tenant, extension, &binding.deployment_id, binding.version, hook, false).await;
            bound.push(Bound { binding: binding.clone(), target });
        }
        Ok(bound)
    }

    /// Runs the token-issuance bindings for a token request, in order: each one's claims
    /// are merged (later ones win), a denial stops at once, and a failure stops the
    /// issuance when its binding fails closed (the default) or is skipped when it fails open.
    pub async fn run_token_issuance(
        self: &Arc<Self>,
        tenant: &Tenant,
        client_id: Option<&str>,
        request: &TokenRequest,
    ) -> Result<TokenClaims, TokenHookError> {
        let mut claims = TokenClaims::default();
        for bound in self.bound(tenant, Hook::TokenIssuance, client_id).await? {
            let extension = bound.binding.binding.extension.clone();
            let policy = bound.binding.binding.failure_policy;
            let result = match bound.target {
                Ok(target) => self.issue_token(&target, request).await.result,
                Err(e) => Err(e),
            };
            match result {
                Ok(Decision::Issue { access_token, id_token, add_scopes, suppress_scopes }) => {
                    claims.access_token.extend(access_token);
                    claims.id_token.extend(id_token);
                    claims.scope_changes.extend(suppress_scopes.into_iter().map(ScopeChange::Suppress));
                    claims.scope_changes.extend(
                        add_scopes.into_iter().map(|scope| ScopeChange::Add { scope, extension: extension.clone() }),
                    );
                }
                Ok(Decision::Deny(reason)) => return Err(TokenHookError::Denied(reason)),
                Err(error) if policy == FailurePolicy::FailOpen => {
                    tracing::info!(tenant = %tenant.id, %extension, "token-issuance extension failed open: {error}");
                }
                Err(error) => return Err(TokenHookError::Failed { extension, error }),
            }
        }
        Ok(claims)
    }
}
