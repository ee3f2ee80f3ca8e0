//! Host side of `keyhaven:extension/config` and `keyhaven:extension/secrets`: the
//! extension's settings and its secrets. Secrets stay sealed in memory and are opened only
//! when the guest asks for one; their values never reach a log.

use super::bindings::{config, secrets};
use super::state::HostState;

impl config::Host for HostState {
    async fn get(&mut self, key: String) -> Option<String> {
        self.env.config.get(&key).cloned()
    }
}

impl secrets::Host for HostState {
    async fn get(&mut self, name: String) -> Option<String> {
        let sealed = self.env.secrets.get(&name)?;
        let context = secret_context(&self.context.tenant_id, &self.context.extension, &name);
        match self.vault.open(sealed, &context) {
            Ok(value) => Some(value),
            Err(e) => {
                tracing::error!(tenant = %self.context.tenant_id, extension = %self.context.extension, "secret {name:?}: {e}");
                self.log.push_host("error", &format!("secret {name:?} could not be decrypted on this node"));
                None
            }
        }
    }
}

/// The associated data that binds a sealed secret to its tenant, extension and name.
pub fn secret_context(tenant_id: &str, extension: &str, name: &str) -> String {
    format!("{tenant_id}\n{extension}\n{name}")
}
