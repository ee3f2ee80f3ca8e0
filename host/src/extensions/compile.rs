//! Validation and compilation. An upload must be a WebAssembly *component*, within the
//! tenant's size limit, exporting at least one known hook of a compatible contract version
//! (`keyhaven:extension@0.1.x`) and importing nothing the host does not provide. Compiling
//! produces a [`Component`] whose serialized form is the cached artifact; linking it gives
//! a [`Compiled`], pre-linked once ([`InstancePre`]) so that every invocation only
//! instantiates.

use wasmtime::component::{Component, InstancePre};

use super::bindings::{account_creation, events, otp_delivery, scheduled, token_issuance, token_scopes};
use super::{CONTRACT_PACKAGE, CONTRACT_VERSION, ExtensionRuntime, Hook, HostState, Language};

/// A validated, compiled and linked component.
pub struct Compiled {
    pub(super) pre: InstancePre<HostState>,
    /// The hooks the component exports.
    pub hooks: Vec<Hook>,
    /// Its language, which selects the plan's limits for it (set from the stored version).
    pub language: Language,
    pub(super) token_issuance: Option<token_issuance::GuestIndices>,
    /// The token-issuance hook's optional companion (scope changes).
    pub(super) token_scopes: Option<token_scopes::GuestIndices>,
    pub(super) otp_delivery: Option<otp_delivery::GuestIndices>,
    pub(super) account_creation: Option<account_creation::GuestIndices>,
    pub(super) events: Option<events::GuestIndices>,
    pub(super) scheduled: Option<scheduled::GuestIndices>,
}

impl std::fmt::Debug for Compiled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compiled").field("hooks", &self.hooks).finish_non_exhaustive()
    }
}

/// Why an upload cannot be deployed. Every variant is the uploader's to fix.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error("the upload is empty")]
    Empty,
    #[error("the component is {size} bytes; this tenant's limit is {limit} bytes")]
    TooLarge { size: usize, limit: usize },
    #[error("not a WebAssembly binary: it does not start with the \\0asm magic number")]
    NotWasm,
    #[error(
        "this is a core WebAssembly module, not a component: build it for the wasm32-wasip2 target \
         (or wrap it with `wasm-tools component new`)"
    )]
    CoreModule,
    #[error("the component is not valid: {0}")]
    Invalid(String),
    #[error(
        "the component exports no known hook; it exports [{exports}], and a Keyhaven extension \
         exports at least one of [{known}]"
    )]
    NoKnownHook { exports: String, known: String },
    #[error("the component exports {export}, but this host implements {CONTRACT_PACKAGE}@{CONTRACT_VERSION}")]
    UnsupportedVersion { export: String },
    #[error("the component imports something the host does not provide: {0}")]
    UnsatisfiedImport(String),
    #[error("compilation did not complete: {0}")]
    Interrupted(String),
}

/// Interfaces of the contract a component may export beside its hooks.
const COMPANIONS: &[&str] = &["token-scopes"];

/// What a component export means to this host.
#[derive(Debug, PartialEq, Eq)]
enum Export {
    Hook(Hook),
    /// A companion of a hook (e.g. `token-scopes` of `token-issuance`).
    Companion,
    /// An interface of the contract at a version this host does not implement.
    UnsupportedVersion,
    Other,
}

/// Reads an export name such as `keyhaven:extension/token-issuance@0.1.0`: any 0.1.x
/// version of a known hook is this contract (0.1 releases only add).
fn classify_export(name: &str) -> Export {
    let Some(rest) = name.strip_prefix(CONTRACT_PACKAGE).and_then(|r| r.strip_prefix('/')) else {
        return Export::Other;
    };
    let (interface, version) = rest.split_once('@').unwrap_or((rest, ""));
    let compatible = version.split('.').take(2).eq(CONTRACT_VERSION.split('.').take(2));
    match Hook::ALL.iter().find(|hook| hook.name() == interface) {
        Some(hook) if compatible => Export::Hook(*hook),
        None if compatible && COMPANIONS.contains(&interface) => Export::Companion,
        _ => Export::UnsupportedVersion,
    }
}

const MAGIC: &[u8; 4] = b"\0asm";
const CORE_MODULE_VERSION: [u8; 4] = [0x01, 0x00, 0x00, 0x00];

impl ExtensionRuntime {
    /// Validates and compiles `bytes` (CPU-bound: call it off the async executor), and
    /// checks that the result links.
    pub fn compile_blocking(&self, bytes: &[u8], size_limit: usize) -> Result<(Component, Compiled), DeployError> {
        check_envelope(bytes, size_limit)?;
        self.compilations.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let component = Component::new(&self.engine, bytes).map_err(|e| DeployError::Invalid(format!("{e:#}")))?;
        let mut compiled = self.link(&component)?;
        compiled.language = Language::of_component(bytes);
        Ok((component, compiled))
    }

    /// Links a component: which hooks it exports, whether its imports are all provided.
    pub(super) fn link(&self, component: &Component) -> Result<Compiled, DeployError> {
        let exports: Vec<String> =
            component.component_type().exports(&self.engine).map(|(name, _)| name.to_owned()).collect();
        let hooks = hooks_of(&exports)?;
        let pre =
            self.linker.instantiate_pre(component).map_err(|e| DeployError::UnsatisfiedImport(format!("{e:#}")))?;
        let invalid = |e: wasmtime::Error| DeployError::Invalid(format!("{e:#}"));
        let has = |hook| hooks.contains(&hook);
        let scopes = has(Hook::TokenIssuance) && exports.iter().any(|e| classify_export(e) == Export::Companion);
        Ok(Compiled {
            token_scopes: scopes.then(|| token_scopes::GuestIndices::new(&pre)).transpose().map_err(invalid)?,
            token_issuance: has(Hook::TokenIssuance)
                .then(|| token_issuance::GuestIndices::new(&pre))
                .transpose()
                .map_err(invalid)?,
            otp_delivery: has(Hook::OtpDelivery)
                .then(|| otp_delivery::GuestIndices::new(&pre))
                .transpose()
                .map_err(invalid)?,
            account_creation: has(Hook::AccountCreation)
                .then(|| account_creation::GuestIndices::new(&pre))
                .transpose()
                .map_err(invalid)?,
            events: has(Hook::Events).then(|| events::GuestIndices::new(&pre)).transpose().map_err(invalid)?,
            scheduled: has(Hook::Scheduled).then(|| scheduled::GuestIndices::new(&pre)).transpose().map_err(invalid)?,
            pre,
            hooks,
            language: Language::Compiled,
        })
    }

    /// The cacheable artifact of a compiled component.
    pub(super) fn serialize(component: &Component) -> Result<Vec<u8>, DeployError> {
        component.serialize().map_err(|e| DeployError::Interrupted(format!("cannot serialize: {e:#}")))
    }

    /// A component from an artifact this node's engine produced (its fingerprint is part of
    /// the cache key) and whose SHA-256 the caller checked against the stored digest.
    #[allow(unsafe_code)]
    pub(super) fn deserialize(&self, artifact: &[u8]) -> Result<Component, DeployError> {
        // SAFETY: wasmtime requires that the bytes come from `Component::serialize` of a
        // compatible engine. They do: artifacts are written only by `serialize` above, keyed
        // by the engine fingerprint, and verified against their stored SHA-256 before this
        // call; wasmtime additionally checks the engine compatibility header.
        unsafe { Component::deserialize(&self.engine, artifact) }
            .map_err(|e| DeployError::Invalid(format!("cached artifact does not load: {e:#}")))
    }
}

/// The hooks among a component's export names; none, or a contract interface at an
/// unsupported version, is an error that names what the component does export.
pub(super) fn hooks_of(exports: &[String]) -> Result<Vec<Hook>, DeployError> {
    let mut hooks = Vec::new();
    for export in exports {
        match classify_export(export) {
            Export::Hook(hook) if !hooks.contains(&hook) => hooks.push(hook),
            Export::UnsupportedVersion => return Err(DeployError::UnsupportedVersion { export: export.clone() }),
            _ => {}
        }
    }
    if hooks.is_empty() {
        let known: Vec<String> = Hook::ALL.iter().map(|hook| hook.export_name()).collect();
        return Err(DeployError::NoKnownHook { exports: exports.join(", "), known: known.join(", ") });
    }
    Ok(hooks)
}

/// Cheap checks before compiling: size, magic number, component (not core module).
pub(super) fn check_envelope(bytes: &[u8], limit: usize) -> Result<(), DeployError> {
    if bytes.is_empty() {
        return Err(DeployError::Empty);
    }
    if bytes.len() > limit {
        return Err(DeployError::TooLarge { size: bytes.len(), limit });
    }
    if bytes.len() < 8 || &bytes[..4] != MAGIC {
        return Err(DeployError::NotWasm);
    }
    if bytes[4..8] == CORE_MODULE_VERSION {
        return Err(DeployError::CoreModule);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_envelope_check_names_the_problem() {
        assert!(matches!(check_envelope(b"", 10), Err(DeployError::Empty)));
        assert!(matches!(check_envelope(&[0; 11], 10), Err(DeployError::TooLarge { size: 11, limit: 10 })));
        assert!(matches!(check_envelope(b"PK\x03\x04zipfile", 100), Err(DeployError::NotWasm)));
        assert!(matches!(check_envelope(b"\0asm\x01\0\0\0", 100), Err(DeployError::CoreModule)));
        assert!(check_envelope(b"\0asm\x0d\0\x01\0", 100).is_ok());
    }

    #[test]
    fn exports_of_any_0_1_release_are_hooks_and_other_versions_are_refused() {
        assert_eq!(classify_export("keyhaven:extension/token-issuance@0.1.0"), Export::Hook(Hook::TokenIssuance));
        assert_eq!(classify_export("keyhaven:extension/otp-delivery@0.1.1"), Export::Hook(Hook::OtpDelivery));
        assert_eq!(classify_export("keyhaven:extension/events@0.1.7"), Export::Hook(Hook::Events));
        assert_eq!(classify_export("keyhaven:extension/token-issuance@0.2.0"), Export::UnsupportedVersion);
        assert_eq!(classify_export("keyhaven:extension/teleport@0.1.1"), Export::UnsupportedVersion);
        assert_eq!(classify_export("wasi:cli/run@0.2.0"), Export::Other);
        assert_eq!(classify_export("keyhaven:extension/token-scopes@0.1.1"), Export::Companion);
    }
}

#[cfg(test)]
mod properties {
    //! Upload bytes of any shape: the envelope check and the surface check (imports and
    //! exports, read before compiling) refuse or pass them without a panic.
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn any_bytes_are_refused_or_passed_without_a_panic(
            component_header in any::<bool>(), body in proptest::collection::vec(any::<u8>(), 0..600),
        ) {
            let mut bytes = Vec::new();
            if component_header {
                bytes.extend_from_slice(b"\0asm\x0d\0\x01\0");
            }
            bytes.extend_from_slice(&body);
            if check_envelope(&bytes, 1 << 20).is_ok() {
                let _ = crate::extensions::deployments::check_surface_for_tests(&bytes);
            }
        }
    }
}
