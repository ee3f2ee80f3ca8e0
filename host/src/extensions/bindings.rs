//! Host bindings generated from `wit/` (the only definition of the contract). The host
//! sees the `platform` world: every hook it knows; a component exports any subset.

wasmtime::component::bindgen!({
    world: "platform",
    path: "../wit",
    exports: { default: async },
});

pub use self::exports::keyhaven::extension::token_issuance;
pub use self::keyhaven::extension::{log, types};
