//! # keyhaven-sdk
//!
//! Write Keyhaven extensions in Rust. An extension is a WebAssembly component built for
//! `wasm32-wasip2` that implements one or more hooks of the `keyhaven:extension` WIT
//! contract (the `wit/` folder of the Keyhaven repository). This crate hides the generated
//! bindings: implement a trait, call one export macro, and work with `serde_json` values.
//!
//! ```no_run
//! use keyhaven_sdk::{Claims, Deny, TokenIssuance, TokenRequest};
//!
//! struct Tier;
//!
//! impl TokenIssuance for Tier {
//!     fn issue(request: TokenRequest) -> Result<Claims, Deny> {
//!         let tier = request.subject.attribute("tier").cloned().unwrap_or("free".into());
//!         Ok(Claims::new().access_token("tier", tier))
//!     }
//! }
//!
//! keyhaven_sdk::export_token_issuance!(Tier);
//! ```
//!
//! Build with a 128 KiB stack (`-C link-arg=-zstack-size=131072` for `wasm32-wasip2` in your
//! `.cargo/config.toml`): a small guest then fits in the memory the host keeps resident
//! between instances, and each invocation starts without page faults.
//!
//! Because hooks are plain Rust traits, an extension's own `#[test]`s call them natively
//! (`cargo test`), with [`TokenRequest::for_client`] to build inputs; log lines then go to
//! standard error.

pub mod log;
mod token;

pub use serde_json::{Map, Value, json};
pub use token::{Account, Claims, Client, Deny, Subject, Tenant, TokenIssuance, TokenRequest};

/// The version of the WIT contract this SDK implements.
pub const CONTRACT_VERSION: &str = "0.1.0";

/// Implementation details used by the export macros. Not a stable API.
#[doc(hidden)]
pub mod __private {
    pub use crate::token::issue_with;

    pub mod bindings {
        #![allow(missing_docs, clippy::all, unsafe_code)]
        wit_bindgen::generate!({
            world: "token-issuer",
            path: "../wit",
            pub_export_macro: true,
            export_macro_name: "__export_token_issuer",
            default_bindings_module: "keyhaven_sdk::__private::bindings",
        });
    }

    pub use bindings::__export_token_issuer;
    pub use bindings::exports::keyhaven::extension::token_issuance;
}

/// Exports a type implementing [`TokenIssuance`] as the component's
/// `keyhaven:extension/token-issuance` hook.
#[macro_export]
macro_rules! export_token_issuance {
    ($hook:ty) => {
        #[doc(hidden)]
        struct __KeyhavenTokenIssuance;

        impl $crate::__private::token_issuance::Guest for __KeyhavenTokenIssuance {
            fn issue(
                request: $crate::__private::token_issuance::TokenRequest,
            ) -> $crate::__private::token_issuance::Decision {
                $crate::__private::issue_with::<$hook>(request)
            }
        }

        $crate::__private::__export_token_issuer!(
            __KeyhavenTokenIssuance with_types_in $crate::__private::bindings
        );
    };
}
