//! A tenant's extensions below HTTP: upload a version (a component, or JavaScript or
//! TypeScript source the node builds), read an extension with its versions, bindings,
//! configuration and secret names, activate a built version, roll back, enable or disable,
//! delete; configuration and write-only secrets; dry runs of a built version's hook; the
//! invocation log and metrics. The admin API and the console both call these.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::AppState;
use crate::extensions::deployments::{SourceUpload, Upload, UploadError};
use crate::extensions::hook_run::HookRun;
use crate::extensions::js_build::SourceType;
use crate::extensions::{DeployError, Hook, secret_context};
use crate::storage::{BindingRow, DeploymentRow, DeploymentState, ExtensionRow, InvocationRow, InvocationStats};
use crate::tenancy::{ResourceState, Tenant};
use crate::web::{ApiError, Problem};

const MAX_NAME: usize = 100;
const MAX_CONFIG_ENTRIES: usize = 100;
const MAX_CONFIG_BYTES: usize = 16 << 10;
const MAX_SECRET_BYTES: usize = 8 << 10;
/// Invocations the metrics look at: the extension's most recent ones.
const METRICS_WINDOW: u32 = 1_000;

/// An extension name: 1 to 100 characters of `[a-z0-9._-]`, starting with a letter or digit.
pub fn check_name(name: &str) -> Result<(), ApiError> {
    let valid = !name.is_empty()
        && name.len() <= MAX_NAME
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'));
    match valid {
        true => Ok(()),
        false => Err(ApiError::new(
            Problem::InvalidRequest,
            format!("extension names are 1 to {MAX_NAME} characters of a-z, 0-9, '.', '_' and '-'"),
        )),
    }
}

/// The most bytes an upload to `tenant` may have, whatever its language: its own check then
/// holds it to its language's limit.
pub async fn upload_limit(state: &AppState, tenant: &Tenant) -> Result<usize, ApiError> {
    let limits = state.extensions.tenant_limits(&tenant.id).await?;
    Ok(limits.component_bytes.max(limits.js_component_bytes))
}

/// What a new version is made of.
#[derive(Clone, Copy, Debug)]
pub enum Uploaded<'a> {
    /// A WebAssembly component.
    Component(&'a [u8]),
    /// A JavaScript or TypeScript handler module, built in the background.
    Source(SourceType, &'a [u8]),
}

/// Stores `uploaded` as the next version of extension `name` (made if new): checked now,
/// built in the background (the version is `PENDING` until then). With `bind`, a version's
/// hooks are bound once built if the extension has no binding yet.
pub async fn upload(
    state: &AppState,
    tenant: &Tenant,
    name: &str,
    uploaded: Uploaded<'_>,
    bind: bool,
) -> Result<DeploymentRow, ApiError> {
    check_name(name)?;
    let stored = match uploaded {
        Uploaded::Source(source_type, bytes) => {
            let source = std::str::from_utf8(bytes)
                .map_err(|_| ApiError::new(Problem::InvalidRequest, "the source is not UTF-8 text"))?;
            let upload = SourceUpload { tenant_id: &tenant.id, extension: name, source_type, source, bind };
            state.extensions.upload_source(upload).await
        }
        Uploaded::Component(component) => {
            let upload = Upload { tenant_id: &tenant.id, extension: name, component, bind };
            state.extensions.upload(upload).await
        }
    };
    let deployment = stored.map_err(|e| match e {
        UploadError::Rejected(e @ DeployError::TooLarge { .. }) => {
            ApiError::new(Problem::PayloadTooLarge, e.to_string())
        }
        e @ UploadError::SourceTooLarge { .. } => ApiError::new(Problem::PayloadTooLarge, e.to_string()),
        e @ UploadError::NoJavaScriptToolchain => ApiError::new(Problem::UnsupportedMediaType, e.to_string()),
        UploadError::Rejected(e) => ApiError::new(Problem::InvalidComponent, e.to_string()),
        UploadError::Storage(e) => e.into(),
        UploadError::Entropy(e) => e.into(),
    })?;
    tracing::info!(tenant = %tenant.id, extension = %name, deployment = %deployment.id, "extension uploaded");
    Ok(deployment)
}

/// An extension with its versions, bindings, configuration and secret names.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ExtensionView {
    #[serde(flatten)]
    pub extension: ExtensionRow,
    pub config: BTreeMap<String, String>,
    /// Names only: secret values are write-only.
    pub secrets: Vec<String>,
    /// Newest first.
    pub deployments: Vec<DeploymentRow>,
    pub bindings: Vec<BindingRow>,
}

impl ExtensionView {
    /// The version that runs, if any.
    pub fn active(&self) -> Option<&DeploymentRow> {
        let active = self.extension.active_deployment_id.as_deref()?;
        self.deployments.iter().find(|d| d.id == active)
    }
}

/// Extension `name` of `tenant`; another tenant's is not found.
pub async fn find(state: &AppState, tenant: &Tenant, name: &str) -> Result<ExtensionRow, ApiError> {
    state.db.extension(&tenant.id, name).await?.ok_or_else(|| ApiError::not_found("extension"))
}

/// Extension `name` with everything that belongs to it.
///
/// The versions are read before the extension and its bindings: a build that finishes
/// between the reads (one transaction that marks the version ENABLED, makes it active and
/// binds it) is then either seen whole or still PENDING, never built but not yet active.
pub async fn view(state: &AppState, tenant: &Tenant, name: &str) -> Result<ExtensionView, ApiError> {
    let deployments = state.db.list_deployments(&tenant.id, Some(name)).await?;
    let extension = find(state, tenant, name).await?;
    let bindings = state.db.list_bindings(&tenant.id).await?.into_iter().filter(|b| b.extension == name).collect();
    let secrets = state.db.extension_secret_names(&tenant.id, name).await?;
    Ok(ExtensionView { config: extension.config.clone(), extension, secrets, deployments, bindings })
}

/// A change to an extension: its state, the version that runs, or both.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeExtension {
    /// `ENABLED` or `DISABLED`.
    pub state: Option<ResourceState>,
    /// Make this (built) version the active one.
    pub active_deployment_id: Option<String>,
}

/// Changes extension `name`; a locked one is refused, and only a built version can run.
pub async fn change(
    state: &AppState,
    tenant: &Tenant,
    name: &str,
    change: &ChangeExtension,
) -> Result<ExtensionRow, ApiError> {
    let _change = state.extensions.change(&tenant.id);
    let now = state.clock.now();
    let extension = find(state, tenant, name).await?;
    if extension.state == ResourceState::Locked {
        return Err(ApiError::new(Problem::Forbidden, "the extension is locked"));
    }
    if let Some(new_state) = change.state
        && !matches!(new_state, ResourceState::Enabled | ResourceState::Disabled)
    {
        return Err(ApiError::new(Problem::InvalidRequest, "state must be ENABLED or DISABLED"));
    }
    if let Some(deployment_id) = &change.active_deployment_id
        && !state.db.activate_deployment(&tenant.id, name, deployment_id, now).await?
    {
        return Err(ApiError::new(
            Problem::Conflict,
            "only a successfully built (ENABLED) version of this extension can be activated",
        ));
    }
    if let Some(new_state) = change.state {
        let limit = state.extensions.tenant_limits(&tenant.id).await?.enabled_extensions;
        state.db.set_extension_state(&tenant.id, name, new_state, limit, now).await?;
    }
    find(state, tenant, name).await
}

/// Activates the newest built version older than the active one.
pub async fn rollback(state: &AppState, tenant: &Tenant, name: &str) -> Result<ExtensionRow, ApiError> {
    let _change = state.extensions.change(&tenant.id);
    let extension = find(state, tenant, name).await?;
    let versions = state.db.list_deployments(&tenant.id, Some(name)).await?;
    let active = versions.iter().find(|d| Some(&d.id) == extension.active_deployment_id.as_ref()).map(|d| d.version);
    let previous = versions
        .iter()
        .filter(|d| d.state == DeploymentState::Enabled && active.is_some_and(|active| d.version < active))
        .max_by_key(|d| d.version)
        .ok_or_else(|| ApiError::new(Problem::Conflict, "there is no earlier built version to roll back to"))?;
    state.db.activate_deployment(&tenant.id, name, &previous.id, state.clock.now()).await?;
    find(state, tenant, name).await
}

/// Deletes extension `name` with its versions, bindings, configuration and secrets.
pub async fn delete(state: &AppState, tenant: &Tenant, name: &str) -> Result<(), ApiError> {
    let _change = state.extensions.change(&tenant.id);
    match state.db.delete_extension(&tenant.id, name).await? {
        true => Ok(()),
        false => Err(ApiError::not_found("extension")),
    }
}

/// Replaces extension `name`'s configuration.
pub async fn set_config(
    state: &AppState,
    tenant: &Tenant,
    name: &str,
    config: &BTreeMap<String, String>,
) -> Result<(), ApiError> {
    let size: usize = config.iter().map(|(k, v)| k.len() + v.len()).sum();
    if config.len() > MAX_CONFIG_ENTRIES || size > MAX_CONFIG_BYTES || config.keys().any(|k| k.is_empty()) {
        return Err(ApiError::new(
            Problem::InvalidRequest,
            format!("configuration holds at most {MAX_CONFIG_ENTRIES} non-empty keys and {MAX_CONFIG_BYTES} bytes"),
        ));
    }
    let _change = state.extensions.change(&tenant.id);
    match state.db.set_extension_config(&tenant.id, name, config, state.clock.now()).await? {
        true => Ok(()),
        false => Err(ApiError::not_found("extension")),
    }
}

/// Sets (sealed with the node key) secret `secret` of extension `name`; its value can be
/// read by the extension only.
pub async fn set_secret(
    state: &AppState,
    tenant: &Tenant,
    name: &str,
    secret: &str,
    value: &str,
) -> Result<(), ApiError> {
    if secret.is_empty() || secret.len() > MAX_NAME || value.len() > MAX_SECRET_BYTES {
        return Err(ApiError::new(
            Problem::InvalidRequest,
            format!("secret names are 1 to {MAX_NAME} bytes and values at most {MAX_SECRET_BYTES} bytes"),
        ));
    }
    let context = secret_context(&tenant.id, name, secret);
    let sealed = state.extensions.vault().seal(state.entropy.as_ref(), value, &context).map_err(ApiError::internal)?;
    let _change = state.extensions.change(&tenant.id);
    match state.db.set_extension_secret(&tenant.id, name, secret, &sealed, state.clock.now()).await? {
        true => Ok(()),
        false => Err(ApiError::not_found("extension")),
    }
}

/// Deletes secret `secret` of extension `name`.
pub async fn delete_secret(state: &AppState, tenant: &Tenant, name: &str, secret: &str) -> Result<(), ApiError> {
    let _change = state.extensions.change(&tenant.id);
    match state.db.delete_extension_secret(&tenant.id, name, secret).await? {
        true => Ok(()),
        false => Err(ApiError::not_found("secret")),
    }
}

/// Version `id` of one of `tenant`'s extensions.
pub async fn deployment(state: &AppState, tenant: &Tenant, id: &str) -> Result<DeploymentRow, ApiError> {
    state.db.deployment(&tenant.id, id).await?.ok_or_else(|| ApiError::not_found("deployment"))
}

/// Deletes version `id` (not the active one).
pub async fn delete_deployment(state: &AppState, tenant: &Tenant, id: &str) -> Result<(), ApiError> {
    let _change = state.extensions.change(&tenant.id);
    match state.db.delete_deployment(&tenant.id, id).await? {
        true => Ok(()),
        false => Err(ApiError::not_found("deployment")),
    }
}

/// The source version `id` was uploaded as, with its language; a component has none.
pub async fn source(state: &AppState, tenant: &Tenant, id: &str) -> Result<(SourceType, String), ApiError> {
    deployment(state, tenant, id).await?;
    let (kind, text) = state.db.deployment_source(&tenant.id, id).await?.ok_or_else(|| {
        ApiError::new(Problem::NotFound, "this version was uploaded as a component: it has no source")
    })?;
    Ok((SourceType::parse(&kind).unwrap_or(SourceType::JavaScript), text))
}

/// Runs hook `hook` of built version `id` with `input`, without side effects: key-value
/// writes stay in the run and outbound HTTP is not sent.
pub async fn dry_run(
    state: &AppState,
    tenant: &Tenant,
    id: &str,
    hook: &str,
    input: Value,
) -> Result<HookRun, ApiError> {
    let hook = Hook::from_name(hook).ok_or_else(|| {
        let known: Vec<&str> = Hook::ALL.iter().map(|h| h.name()).collect();
        ApiError::new(Problem::InvalidRequest, format!("hook must be one of {}", known.join(", ")))
    })?;
    let deployment = deployment(state, tenant, id).await?;
    if deployment.state != DeploymentState::Enabled {
        return Err(ApiError::new(
            Problem::Conflict,
            format!("the deployment is {}; only a built (ENABLED) version can run", deployment.state.as_str()),
        ));
    }
    if !deployment.hooks.iter().any(|h| h == hook.name()) {
        return Err(ApiError::new(Problem::InvalidRequest, format!("the deployment does not export {}", hook.name())));
    }
    let runtime = &state.extensions;
    let target = runtime
        .target(tenant, &deployment.extension, &deployment.id, deployment.version, hook, true)
        .await
        .map_err(ApiError::internal)?;
    runtime.run_hook(&target, hook, input).await.map_err(|e| ApiError::new(Problem::InvalidRequest, e.to_string()))
}

/// An editable example of hook `hook`'s dry-run input.
pub fn sample_input(hook: Hook, now: i64) -> Value {
    match hook {
        Hook::TokenIssuance => json!({
            "subject": {"kind": "account", "account_id": "acc_sample", "username": "sample", "attributes": {}},
            "grant_type": "authorization_code",
            "scopes": ["openid"],
            "audience": []
        }),
        Hook::OtpDelivery => json!({
            "delivery_id": "otp_sample", "account_id": "acc_sample", "channel": "sms",
            "recipient": "+15550100", "code": "123456", "purpose": "sign-in", "expires_at": now + 300
        }),
        Hook::AccountCreation => json!({
            "stage": "before",
            "account": {"username": "sample", "email": "sample@example.com", "attributes": {}}
        }),
        Hook::Events => json!({
            "event": {
                "id": "evt_sample", "time": now, "category": "account", "action": "created",
                "origin": "console", "result": "success", "account_id": "acc_sample", "detail": {}
            }
        }),
        Hook::Scheduled => json!({"schedule": "0 * * * *", "scheduled_at": now}),
    }
}

/// Extension `name`'s invocations, newest first: `limit` of them (1 to 500) started
/// before the `(started_at, id)` cursor; the cursor of the next page, if there may be one.
pub async fn invocations(
    state: &AppState,
    tenant: &Tenant,
    name: &str,
    before: Option<(i64, &str)>,
    limit: u32,
) -> Result<(Vec<InvocationRow>, Option<String>), ApiError> {
    let limit = limit.clamp(1, 500);
    state.extensions.records.flush(&state.db).await?;
    let invocations = state.db.list_invocations(&tenant.id, Some(name), before, limit).await?;
    let next = match invocations.len() == limit as usize {
        true => invocations.last().map(|last| format!("{}.{}", last.started_at, last.id)),
        false => None,
    };
    Ok((invocations, next))
}

/// Extension `name`'s recent invocations in numbers: count, error rate, p50 and p99.
pub async fn metrics(state: &AppState, tenant: &Tenant, name: &str) -> Result<InvocationStats, ApiError> {
    find(state, tenant, name).await?;
    state.extensions.records.flush(&state.db).await?;
    Ok(state.db.invocation_stats(&tenant.id, name, METRICS_WINDOW).await?)
}

/// A binding asked for: which extension runs on which hook, for the whole tenant or (token
/// issuance) one client, in what order and with what failure policy (the hook's default
/// when none); a cron schedule for `scheduled`, a filter for `events`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBinding {
    pub hook: String,
    pub extension: String,
    pub client_id: Option<String>,
    pub failure_policy: Option<crate::storage::FailurePolicy>,
    #[serde(default)]
    pub position: i64,
    pub schedule: Option<String>,
    pub filter: Option<serde_json::Value>,
}

/// Binds an extension to a hook after checking the binding makes sense for it: the client
/// (of this tenant) only on token issuance, a schedule only and always on `scheduled`, a
/// filter only on `events`; an unknown extension or client is "not found".
pub async fn create_binding(
    state: &AppState,
    tenant: &Tenant,
    body: &CreateBinding,
) -> Result<crate::storage::BindingRow, ApiError> {
    let invalid = |detail: String| ApiError::new(Problem::InvalidRequest, detail);
    let hook = Hook::from_name(&body.hook).ok_or_else(|| invalid(format!("unknown hook {:?}", body.hook)))?;
    if body.client_id.is_some() && hook != Hook::TokenIssuance {
        return Err(invalid("only token-issuance bindings may name a client".into()));
    }
    if let Some(client_id) = &body.client_id
        && state.db.client(&tenant.id, client_id).await?.is_none()
    {
        return Err(ApiError::not_found("client"));
    }
    match (hook, &body.schedule) {
        (Hook::Scheduled, None) => return Err(invalid("a scheduled binding needs a cron schedule".into())),
        (Hook::Scheduled, Some(schedule)) => {
            crate::events::scheduler::parse_schedule(schedule).map_err(invalid)?;
        }
        (_, Some(_)) => return Err(invalid("only scheduled bindings take a schedule".into())),
        _ => {}
    }
    match (hook, &body.filter) {
        (Hook::Events, Some(filter)) => {
            serde_json::from_value::<crate::events::EventFilter>(filter.clone())
                .map_err(|e| invalid(format!("invalid filter: {e}")))?;
        }
        (_, Some(_)) => return Err(invalid("only events bindings take a filter".into())),
        _ => {}
    }
    let extension = find(state, tenant, &body.extension).await?;
    let id = crate::clock::random_id(state.entropy.as_ref(), "bnd", 12)?;
    let binding = crate::storage::NewBinding {
        id: &id,
        hook: hook.name(),
        extension: &extension.name,
        client_id: body.client_id.as_deref(),
        failure_policy: body.failure_policy.unwrap_or_else(|| hook.default_failure_policy()),
        position: body.position,
        schedule: body.schedule.as_deref(),
        filter: body.filter.as_ref(),
        now: state.clock.now(),
    };
    let _change = state.extensions.change(&tenant.id);
    Ok(state.db.insert_binding(&tenant.id, binding).await?)
}

/// Removes binding `id` of the tenant (of extension `extension`, when one is named).
pub async fn delete_binding(
    state: &AppState,
    tenant: &Tenant,
    id: &str,
    extension: Option<&str>,
) -> Result<(), ApiError> {
    if let Some(extension) = extension {
        let bindings = state.db.list_bindings(&tenant.id).await?;
        if !bindings.iter().any(|b| b.id == id && b.extension == extension) {
            return Err(ApiError::not_found("binding"));
        }
    }
    let _change = state.extensions.change(&tenant.id);
    match state.db.delete_binding(&tenant.id, id).await? {
        true => Ok(()),
        false => Err(ApiError::not_found("binding")),
    }
}

/// The most hosts a tenant's extensions may be allowed to reach.
pub const MAX_ALLOWED_HOSTS: usize = 50;

/// The hosts (`name`, `name:port` or `*.suffix`) the tenant's extensions may reach.
pub async fn allowed_hosts(state: &AppState, tenant: &Tenant) -> Result<Vec<String>, ApiError> {
    let row = state.db.tenant_limits(&tenant.id).await?.ok_or_else(|| ApiError::not_found("tenant"))?;
    Ok(row.allowed_hosts)
}

/// Replaces the hosts the tenant's extensions may reach; a list too long or an entry that
/// is no host changes nothing.
pub async fn set_allowed_hosts(state: &AppState, tenant: &Tenant, hosts: &[String]) -> Result<(), ApiError> {
    if hosts.len() > MAX_ALLOWED_HOSTS {
        return Err(ApiError::new(Problem::InvalidRequest, format!("at most {MAX_ALLOWED_HOSTS} allowed hosts")));
    }
    if let Some(bad) = hosts.iter().find(|h| !crate::extensions::valid_allowed_host(h)) {
        return Err(ApiError::new(
            Problem::InvalidRequest,
            format!("{bad:?} is not a host, host:port or *.suffix (no scheme, no path)"),
        ));
    }
    let _change = state.extensions.change(&tenant.id);
    state.db.set_allowed_hosts(&tenant.id, hosts).await?;
    Ok(())
}
