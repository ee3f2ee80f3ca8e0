//! Host bindings generated from `wit/` (the only definition of the contract). The host
//! sees the `platform` world: every hook it knows; a component exports any subset, and
//! each hook's export is looked up on its own (`GuestIndices`), semver-compatibly, so a
//! component built against 0.1.0 runs unchanged.

wasmtime::component::bindgen!({
    world: "platform",
    path: "../wit",
    imports: { default: async },
    exports: { default: async },
});

pub use self::exports::keyhaven::extension::{
    account_creation, events, otp_delivery, scheduled, token_issuance, token_scopes,
};
pub use self::keyhaven::extension::{config, http, kv, log, secrets, types};
