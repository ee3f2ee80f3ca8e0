//! The extension's secrets (API keys, tokens): set write-only by the tenant administrator,
//! sealed at rest, opened only for the invocation that asks. Never log them.

/// The value of one secret, if it is set.
pub fn get(name: &str) -> Option<String> {
    imp::get(name)
}

#[cfg(target_arch = "wasm32")]
mod imp {
    pub(super) fn get(name: &str) -> Option<String> {
        crate::__private::imports::keyhaven::extension::secrets::get(name)
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    pub(super) fn get(name: &str) -> Option<String> {
        crate::testing::secret(name)
    }
}
