//! The extension's configuration: settings its tenant administrator sets (all versions of
//! the extension see the same values).

/// The value of one setting, if it is set.
pub fn get(key: &str) -> Option<String> {
    imp::get(key)
}

#[cfg(target_arch = "wasm32")]
mod imp {
    pub(super) fn get(key: &str) -> Option<String> {
        crate::__private::imports::keyhaven::extension::config::get(key)
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    pub(super) fn get(key: &str) -> Option<String> {
        crate::testing::config(key)
    }
}
