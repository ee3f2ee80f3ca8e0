//! Deploy-time validation and compilation. An upload must be a WebAssembly *component*,
//! within the size limit, exporting at least one known hook of this contract version and
//! importing nothing the host does not provide. The result is pre-linked once
//! ([`InstancePre`]) so that every invocation only instantiates.

use std::sync::Arc;

use wasmtime::component::{Component, InstancePre};

use super::bindings::token_issuance;
use super::{CONTRACT_PACKAGE, CONTRACT_VERSION, ExtensionRuntime, Hook, HostState};

/// A validated, compiled and linked component.
pub struct Compiled {
    pub(super) pre: InstancePre<HostState>,
    /// The hooks the component exports.
    pub hooks: Vec<Hook>,
    pub(super) token_issuance: Option<token_issuance::GuestIndices>,
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

const MAGIC: &[u8; 4] = b"\0asm";
const CORE_MODULE_VERSION: [u8; 4] = [0x01, 0x00, 0x00, 0x00];

impl ExtensionRuntime {
    /// Validates and compiles `bytes` on a blocking thread (compilation is CPU-bound).
    pub async fn compile(&self, bytes: Arc<[u8]>) -> Result<Compiled, DeployError> {
        check_envelope(&bytes, self.limits.component_bytes)?;
        let engine = self.engine.clone();
        let component = tokio::task::spawn_blocking(move || Component::new(&engine, &*bytes))
            .await
            .map_err(|e| DeployError::Interrupted(e.to_string()))?
            .map_err(|e| DeployError::Invalid(format!("{e:#}")))?;
        self.link(&component)
    }

    fn link(&self, component: &Component) -> Result<Compiled, DeployError> {
        let exports: Vec<String> =
            component.component_type().exports(&self.engine).map(|(name, _)| name.to_owned()).collect();
        let hooks: Vec<Hook> =
            Hook::ALL.iter().copied().filter(|hook| exports.iter().any(|e| e == hook.export_name())).collect();
        if hooks.is_empty() {
            let contract_prefix = format!("{CONTRACT_PACKAGE}/");
            if let Some(export) = exports.iter().find(|e| e.starts_with(&contract_prefix)) {
                return Err(DeployError::UnsupportedVersion { export: export.clone() });
            }
            let known: Vec<&str> = Hook::ALL.iter().map(|hook| hook.export_name()).collect();
            return Err(DeployError::NoKnownHook { exports: exports.join(", "), known: known.join(", ") });
        }
        let pre =
            self.linker.instantiate_pre(component).map_err(|e| DeployError::UnsatisfiedImport(format!("{e:#}")))?;
        let token_issuance = match hooks.contains(&Hook::TokenIssuance) {
            true => Some(token_issuance::GuestIndices::new(&pre).map_err(|e| DeployError::Invalid(format!("{e:#}")))?),
            false => None,
        };
        Ok(Compiled { pre, hooks, token_issuance })
    }
}

/// Cheap checks before compiling: size, magic number, component (not core module).
fn check_envelope(bytes: &[u8], limit: usize) -> Result<(), DeployError> {
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
}
