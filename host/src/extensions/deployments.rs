//! Deployments: every upload is an immutable version of a named extension. The upload is
//! checked at once (size, a component, exports a known hook, imports only what the host
//! can provide) and stored PENDING; a background worker compiles it — one build at a time,
//! on a blocking thread, so one tenant's long compile never delays others' requests — and
//! marks it ENABLED (and active) or FAILED with the reason. Compiled artifacts are cached
//! in the database by content hash and engine fingerprint, so a restart or another node
//! loads instead of recompiling; compiled components are loaded lazily into a bounded
//! in-memory cache that drops the least recently used.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use tokio::sync::mpsc;

use super::compile::check_envelope;
use super::events::EventResult;
use super::js_build::{self, SourceType};
use super::{Compiled, DeployError, ExtensionRuntime, Hook, Language};
use crate::clock::random_id;
use crate::drain::Drain;
use crate::events::outbox::NewEvent;
use crate::storage::{BuildResult, DeploymentRow, DeploymentState, NewBinding, NewDeployment, StorageError};

/// A deployment could not be loaded for an invocation.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("deployment {0} has no stored component")]
    Missing(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("stored component no longer compiles: {0}")]
    Compile(#[from] DeployError),
    #[error("the build was interrupted: {0}")]
    Interrupted(String),
    #[error("{0}")]
    SourceBuild(String),
}

/// An upload to deploy.
#[derive(Debug)]
pub struct Upload<'a> {
    pub tenant_id: &'a str,
    pub extension: &'a str,
    pub component: &'a [u8],
    /// Bind the hooks it exports (tenant-wide, default policy) once built, if the
    /// extension has no binding yet.
    pub bind: bool,
}

/// A handler uploaded as JavaScript or TypeScript source, for the node's toolchain to build.
#[derive(Debug)]
pub struct SourceUpload<'a> {
    pub tenant_id: &'a str,
    pub extension: &'a str,
    pub source_type: SourceType,
    pub source: &'a str,
    /// As for [`Upload::bind`].
    pub bind: bool,
}

/// Why an upload was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error(transparent)]
    Rejected(#[from] DeployError),
    #[error(
        "this server has no JavaScript toolchain to build source with: build the component with \
         `keyhaven-js build` (sdk/js) and upload the .wasm"
    )]
    NoJavaScriptToolchain,
    #[error("the source is {size} bytes; this tenant's limit is {limit} bytes")]
    SourceTooLarge { size: usize, limit: usize },
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Entropy(#[from] crate::clock::EntropyError),
}

/// A build to run: (tenant id, deployment id, bind when built).
#[derive(Debug)]
pub(super) struct BuildJob {
    tenant_id: String,
    deployment_id: String,
    bind: bool,
}

/// The queue of builds; one worker per node takes them in order.
#[derive(Debug)]
pub struct BuildQueue {
    jobs: mpsc::UnboundedSender<BuildJob>,
}

type BuildJobs = mpsc::UnboundedReceiver<BuildJob>;

impl BuildQueue {
    pub(super) fn new() -> (BuildQueue, BuildJobs) {
        let (jobs, receiver) = mpsc::unbounded_channel();
        (BuildQueue { jobs }, receiver)
    }
}

impl ExtensionRuntime {
    /// Checks and stores an upload as the extension's next version (PENDING) and queues its
    /// build; the answer does not wait for the compiler.
    pub async fn upload(&self, upload: Upload<'_>) -> Result<DeploymentRow, UploadError> {
        let language = Language::of_component(upload.component);
        let limits = self.tenant_limits(upload.tenant_id).await?;
        check_envelope(upload.component, limits.for_language(language).component_bytes)?;
        check_surface(upload.component)?;
        let id = random_id(self.entropy.as_ref(), "ext", 12)?;
        let row = self
            .db
            .insert_deployment(NewDeployment {
                tenant_id: upload.tenant_id,
                id: &id,
                extension: upload.extension,
                component: upload.component,
                content_sha256: &crate::secrets::sha256_hex(upload.component),
                language: language.as_str(),
                source: None,
                now: self.clock.now(),
                max_enabled_extensions: limits.enabled_extensions,
                bind_when_built: upload.bind,
            })
            .await?;
        self.queue_build(upload.tenant_id, &row.id, upload.bind);
        Ok(row)
    }

    /// Stores a handler's source as the extension's next version (PENDING, language
    /// `javascript`, no component yet) and queues its build: the node's JavaScript
    /// toolchain makes the component, which is then compiled as any upload. Refused at once
    /// where the node has no toolchain.
    pub async fn upload_source(&self, upload: SourceUpload<'_>) -> Result<DeploymentRow, UploadError> {
        if self.node.js_builder.is_none() {
            return Err(UploadError::NoJavaScriptToolchain);
        }
        let limits = self.tenant_limits(upload.tenant_id).await?;
        let limit = limits.for_language(Language::JavaScript).component_bytes;
        if upload.source.len() > limit {
            return Err(UploadError::SourceTooLarge { size: upload.source.len(), limit });
        }
        if upload.source.trim().is_empty() {
            return Err(UploadError::Rejected(DeployError::Empty));
        }
        let id = random_id(self.entropy.as_ref(), "ext", 12)?;
        let row = self
            .db
            .insert_deployment(NewDeployment {
                tenant_id: upload.tenant_id,
                id: &id,
                extension: upload.extension,
                component: &[],
                content_sha256: &crate::secrets::sha256_hex(upload.source.as_bytes()),
                language: Language::JavaScript.as_str(),
                source: Some((upload.source_type.as_str(), upload.source)),
                now: self.clock.now(),
                max_enabled_extensions: limits.enabled_extensions,
                bind_when_built: upload.bind,
            })
            .await?;
        self.queue_build(upload.tenant_id, &row.id, upload.bind);
        Ok(row)
    }

    /// For a version uploaded as source whose component is not made yet: runs the
    /// JavaScript build and stores the component; the version as it then is.
    async fn build_source(&self, tenant_id: &str, row: DeploymentRow) -> Result<DeploymentRow, LoadError> {
        if row.source_type.is_none() || row.size_bytes > 0 {
            return Ok(row);
        }
        let script = self.node.js_builder.clone().ok_or_else(|| {
            LoadError::SourceBuild("this node has no JavaScript toolchain (KEYHAVEN_JS_BUILDER)".into())
        })?;
        let (kind, source) =
            self.db.deployment_source(tenant_id, &row.id).await?.ok_or_else(|| LoadError::Missing(row.id.clone()))?;
        let kind =
            SourceType::parse(&kind).ok_or_else(|| LoadError::SourceBuild(format!("unknown source type {kind:?}")))?;
        let work = format!("keyhaven-js-build-{}", random_id(self.entropy.as_ref(), "", 12).unwrap_or_default());
        let built = tokio::task::spawn_blocking(move || {
            js_build::build_blocking(&script, &source, kind, &work, js_build::BUILD_TIMEOUT)
        })
        .await
        .map_err(|e| LoadError::Interrupted(e.to_string()))?
        .map_err(|e| LoadError::SourceBuild(e.to_string()))?;
        let digest = crate::secrets::sha256_hex(&built);
        self.db.store_built_component(tenant_id, &row.id, &built, &digest).await?;
        self.db.deployment(tenant_id, &row.id).await?.ok_or_else(|| LoadError::Missing(row.id.clone()))
    }

    fn queue_build(&self, tenant_id: &str, deployment_id: &str, bind: bool) {
        let job = BuildJob { tenant_id: tenant_id.to_owned(), deployment_id: deployment_id.to_owned(), bind };
        if self.builds.jobs.send(job).is_err() {
            tracing::error!(tenant = %tenant_id, deployment = %deployment_id, "the build worker has stopped");
        }
    }

    /// Queues every build a previous run of the service left PENDING, each binding as its
    /// upload asked.
    pub async fn resume_builds(&self) -> Result<usize, StorageError> {
        let pending = self.db.pending_builds().await?;
        for (tenant_id, deployment_id, bind) in &pending {
            self.queue_build(tenant_id, deployment_id, *bind);
        }
        Ok(pending.len())
    }

    /// Builds one deployment and records the result.
    async fn build(self: &Arc<Self>, job: BuildJob) -> Result<(), StorageError> {
        let BuildJob { tenant_id, deployment_id, bind } = job;
        let Some(row) = self.db.deployment(&tenant_id, &deployment_id).await? else { return Ok(()) };
        if row.state != DeploymentState::Pending {
            return Ok(());
        }
        let result = match self.build_source(&tenant_id, row.clone()).await {
            Ok(built) => self.compile_deployment(&tenant_id, &built).await,
            Err(e) => Err(e),
        };
        let tenant = self.db.tenant_by_id(&tenant_id).await?.ok_or(StorageError::NotFound("tenant"))?;
        let (event_result, reason, hooks) = match &result {
            Ok(compiled) => (EventResult::Success, None, compiled.hooks.iter().map(|h| h.name()).collect()),
            Err(e) => (EventResult::Failed, Some(e.to_string()), Vec::new()),
        };
        let deployed = NewEvent {
            category: "resource-change",
            action: "extension.deployed",
            origin: "admin-api",
            result: event_result,
            reason,
            account_id: None,
            detail: serde_json::json!({
                "extension": row.extension, "deployment_id": deployment_id, "version": row.version, "hooks": hooks,
            }),
        };
        let event = self.prepare_event(&tenant, deployed, false).await?;
        let event = event.as_ref().map(|(event, subscribers)| (event, subscribers.as_slice()));
        let change = self.change(&tenant_id);
        let now = self.clock.now();
        let finished = match &result {
            Ok(compiled) => {
                let hooks: Vec<String> = compiled.hooks.iter().map(|hook| hook.name().to_owned()).collect();
                let ids = compiled
                    .hooks
                    .iter()
                    .map(|_| random_id(self.entropy.as_ref(), "bnd", 12))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| StorageError::Corrupt(e.to_string()))?;
                let defaults: Vec<NewBinding<'_>> = match bind {
                    true => compiled
                        .hooks
                        .iter()
                        .zip(&ids)
                        .filter(|(hook, _)| **hook != Hook::Scheduled)
                        .map(|(hook, id)| NewBinding {
                            id,
                            hook: hook.name(),
                            extension: &row.extension,
                            client_id: None,
                            failure_policy: hook.default_failure_policy(),
                            position: 0,
                            schedule: None,
                            filter: None,
                            now,
                        })
                        .collect(),
                    false => Vec::new(),
                };
                let build = BuildResult::Succeeded { hooks: &hooks, activate: true, default_bindings: &defaults };
                self.db.finish_build(&tenant_id, &deployment_id, build, event, now).await?
            }
            Err(error) => {
                let error = error.to_string();
                let build = BuildResult::Failed { error: &error };
                self.db.finish_build(&tenant_id, &deployment_id, build, event, now).await?
            }
        };
        if let (true, Ok(compiled)) = (finished, result) {
            self.compiled.insert(&tenant_id, &deployment_id, compiled);
            // The new version is the active one: the extension's older versions leave
            // memory (a rollback or dry run reloads one from the artifact cache), so a
            // tenant that deploys all day holds one compiled version, not its history.
            for older in self.db.list_deployments(&tenant_id, Some(&row.extension)).await? {
                if older.id != deployment_id {
                    self.compiled.remove(&tenant_id, &older.id);
                }
            }
        }
        drop(change);
        tracing::info!(tenant = %tenant_id, deployment = %deployment_id, "extension build finished");
        Ok(())
    }

    /// Compiles (or loads from the artifact cache) a stored deployment.
    async fn compile_deployment(
        self: &Arc<Self>,
        tenant_id: &str,
        row: &DeploymentRow,
    ) -> Result<Arc<Compiled>, LoadError> {
        let engine = &self.engine_fingerprint;
        let row_language = row.language.clone();
        if let Some((artifact, digest)) = self.db.artifact(tenant_id, &row.content_sha256, engine).await?
            && crate::secrets::sha256_hex(&artifact) == digest
        {
            let runtime = self.clone();
            let loaded = tokio::task::spawn_blocking(move || {
                let component = runtime.deserialize(&artifact)?;
                let mut compiled = runtime.link(&component)?;
                compiled.language = Language::parse(&row_language);
                Ok::<_, DeployError>(compiled)
            })
            .await
            .map_err(|e| LoadError::Interrupted(e.to_string()))?;
            match loaded {
                Ok(compiled) => return Ok(Arc::new(compiled)),
                Err(e) => {
                    tracing::warn!(tenant = %tenant_id, deployment = %row.id, "cached artifact unusable, recompiling: {e}")
                }
            }
        }
        let bytes = self
            .db
            .deployment_component(tenant_id, &row.id)
            .await?
            .ok_or_else(|| LoadError::Missing(row.id.clone()))?;
        let runtime = self.clone();
        let compiled = tokio::task::spawn_blocking(move || {
            let (component, compiled) = runtime.compile_blocking(&bytes, usize::MAX)?;
            let artifact = ExtensionRuntime::serialize(&component)?;
            Ok::<_, DeployError>((compiled, artifact))
        })
        .await
        .map_err(|e| LoadError::Interrupted(e.to_string()))?;
        let (compiled, artifact) = compiled?;
        let digest = crate::secrets::sha256_hex(&artifact);
        self.db.insert_artifact(tenant_id, &row.content_sha256, engine, &artifact, &digest, self.clock.now()).await?;
        Ok(Arc::new(compiled))
    }

    /// The compiled deployment, from memory or loaded (from the artifact cache, else
    /// compiled) on first use on this node. Only ENABLED deployments load.
    pub async fn load(self: &Arc<Self>, tenant_id: &str, deployment_id: &str) -> Result<Arc<Compiled>, LoadError> {
        if let Some(compiled) = self.compiled.get(tenant_id, deployment_id) {
            return Ok(compiled);
        }
        let lock = self.compiled.load_lock(tenant_id, deployment_id);
        let _loading = lock.lock().await;
        if let Some(compiled) = self.compiled.get(tenant_id, deployment_id) {
            return Ok(compiled);
        }
        let row = self
            .db
            .deployment(tenant_id, deployment_id)
            .await?
            .filter(|row| row.state == DeploymentState::Enabled)
            .ok_or_else(|| LoadError::Missing(deployment_id.to_owned()))?;
        let compiled = self.compile_deployment(tenant_id, &row).await?;
        self.compiled.insert(tenant_id, deployment_id, compiled.clone());
        Ok(compiled)
    }
}

/// Runs builds one at a time until the runtime is dropped or the node stops (a build not
/// begun stays pending in the database, and the next start resumes it).
pub(super) fn spawn_build_worker(runtime: Weak<ExtensionRuntime>, mut jobs: BuildJobs, drain: Arc<Drain>) {
    tokio::spawn(async move {
        loop {
            let job = tokio::select! {
                job = jobs.recv() => job,
                () = drain.stopped() => None,
            };
            let Some(job) = job else { return };
            let Some(runtime) = runtime.upgrade() else { return };
            let Some(_work) = drain.work() else { return };
            let (tenant, deployment) = (job.tenant_id.clone(), job.deployment_id.clone());
            if let Err(e) = runtime.build(job).await {
                tracing::error!(%tenant, %deployment, "extension build could not be recorded: {e}");
            }
        }
    });
}

/// Reads a component's top-level imports and exports without compiling it: it must export
/// at least one hook of this contract, and import only `wasi:*` and this contract's
/// interfaces (whether the host provides each exactly is checked when it is linked).
/// [`check_surface`], for the property tests of the upload checks.
#[cfg(test)]
pub(super) fn check_surface_for_tests(bytes: &[u8]) -> Result<(), DeployError> {
    check_surface(bytes)
}

fn check_surface(bytes: &[u8]) -> Result<(), DeployError> {
    use wasmparser::{Parser, Payload};
    let mut depth = 0usize;
    let mut exports = Vec::new();
    for payload in Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(|e| DeployError::Invalid(e.to_string()))?;
        match payload {
            Payload::ModuleSection { .. } | Payload::ComponentSection { .. } => depth += 1,
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::ComponentExportSection(section) if depth == 0 => {
                for export in section {
                    exports.push(export.map_err(|e| DeployError::Invalid(e.to_string()))?.name.name.to_owned());
                }
            }
            Payload::ComponentImportSection(section) if depth == 0 => {
                for import in section {
                    let name = import.map_err(|e| DeployError::Invalid(e.to_string()))?.name.name;
                    let provided =
                        name.starts_with("wasi:") || name.starts_with(&format!("{}/", super::CONTRACT_PACKAGE));
                    if !provided {
                        return Err(DeployError::UnsatisfiedImport(format!(
                            "{name} (the host provides wasi:* and {}/* only)",
                            super::CONTRACT_PACKAGE
                        )));
                    }
                }
            }
            _ => {}
        }
    }
    super::compile::hooks_of(&exports).map(|_| ())
}

/// Compiled components in memory, bounded; the least recently used are dropped first.
#[derive(Debug)]
pub(super) struct CompiledCache {
    capacity: usize,
    entries: Mutex<CacheEntries>,
}

type CacheKey = (String, String);

#[derive(Debug, Default)]
struct CacheEntries {
    clock: u64,
    map: HashMap<CacheKey, (Arc<Compiled>, u64)>,
    loading: HashMap<CacheKey, Arc<tokio::sync::Mutex<()>>>,
}

impl CompiledCache {
    pub fn new(capacity: usize) -> Self {
        CompiledCache { capacity: capacity.max(1), entries: Mutex::default() }
    }

    pub fn get(&self, tenant_id: &str, deployment_id: &str) -> Option<Arc<Compiled>> {
        let mut entries = self.entries.lock().ok()?;
        entries.clock += 1;
        let now = entries.clock;
        let entry = entries.map.get_mut(&(tenant_id.to_owned(), deployment_id.to_owned()))?;
        entry.1 = now;
        Some(entry.0.clone())
    }

    pub fn insert(&self, tenant_id: &str, deployment_id: &str, compiled: Arc<Compiled>) {
        let Ok(mut entries) = self.entries.lock() else { return };
        entries.clock += 1;
        let now = entries.clock;
        let key = (tenant_id.to_owned(), deployment_id.to_owned());
        entries.loading.remove(&key);
        entries.map.insert(key, (compiled, now));
        while entries.map.len() > self.capacity {
            let oldest = entries.map.iter().min_by_key(|(_, (_, used))| *used).map(|(key, _)| key.clone());
            match oldest {
                Some(key) => entries.map.remove(&key),
                None => break,
            };
        }
    }

    pub fn len(&self) -> usize {
        self.entries.lock().map(|entries| entries.map.len()).unwrap_or(0)
    }

    /// Drops one deployment's compiled component, if it is held.
    pub fn remove(&self, tenant_id: &str, deployment_id: &str) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.map.remove(&(tenant_id.to_owned(), deployment_id.to_owned()));
        }
    }

    /// The lock that makes concurrent first uses of one deployment load it once.
    fn load_lock(&self, tenant_id: &str, deployment_id: &str) -> Arc<tokio::sync::Mutex<()>> {
        match self.entries.lock() {
            Ok(mut entries) => {
                entries.loading.entry((tenant_id.to_owned(), deployment_id.to_owned())).or_default().clone()
            }
            Err(_) => Arc::default(),
        }
    }
}
