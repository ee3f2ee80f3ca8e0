//! # keyhaven-sdk
//!
//! Write Keyhaven extensions in Rust. An extension is a WebAssembly component built for
//! `wasm32-wasip2` that implements one or more hooks of the `keyhaven:extension` WIT
//! contract (the `wit/` folder of the Keyhaven repository). This crate hides the generated
//! bindings: implement a hook's trait, call its export macro, and work with `serde_json`
//! values. A component exports exactly the hooks whose macros it calls.
//!
//! | hook | trait | macro |
//! |---|---|---|
//! | token issuance | [`TokenIssuance`] | [`export_token_issuance!`] |
//! | OTP delivery | [`OtpDelivery`] | [`export_otp_delivery!`] |
//! | account creation | [`AccountCreation`] | [`export_account_creation!`] |
//! | events | [`EventHandler`] | [`export_events!`] |
//! | scheduled runs | [`ScheduledJob`] | [`export_scheduled!`] |
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
//! What the host provides: [`log`], the extension's [`config`] and [`secrets`], the
//! tenant's key-value store ([`kv`]) and outbound HTTP ([`http`], to the hosts the tenant
//! allowed). Nothing else: no files, no environment, no sockets.
//!
//! Build with a 128 KiB stack (`-C link-arg=-zstack-size=131072` for `wasm32-wasip2` in your
//! `.cargo/config.toml`): a small guest then fits in the memory the host keeps resident
//! between instances, and each invocation starts without page faults.
//!
//! Because hooks are plain Rust traits, an extension's own `#[test]`s call them natively
//! (`cargo test`). There the host imports are played by [`testing`]: set configuration,
//! secrets and key-value entries, answer HTTP requests, and inspect what was sent.

mod accounts;
pub mod config;
mod events;
pub mod http;
pub mod kv;
pub mod log;
mod otp;
mod scheduled;
pub mod secrets;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;
mod token;

pub use accounts::{AccountChanges, AccountCreation, AccountData, Source, Verdict};
pub use events::{Event, EventDelivery, EventHandler, Outcome};
pub use otp::{Channel, DeliveryError, OtpDelivery, OtpMessage};
pub use scheduled::{ScheduledJob, ScheduledRun};
pub use serde_json::{Map, Value, json};
pub use token::{Account, Claims, Client, Deny, Subject, Tenant, TokenIssuance, TokenRequest};

/// The version of the WIT contract this SDK implements.
pub const CONTRACT_VERSION: &str = "0.1.2";

/// Implementation details used by the export macros. Not a stable API.
#[doc(hidden)]
pub mod __private {
    pub use crate::accounts::{after_with, before_with};
    pub use crate::events::handle_with;
    pub use crate::otp::deliver_with;
    pub use crate::scheduled::run_with;
    pub use crate::token::{issue_with, scopes_with};

    /// The host imports (one set of bindings, used by the SDK's modules).
    pub mod imports {
        #![allow(missing_docs, clippy::all, unsafe_code)]
        wit_bindgen::generate!({ world: "imports", path: "../wit" });
    }

    // One world per hook, each with its own export macro: the macro carries the world's
    // exports, so a component describes (and exports) only the hooks it implements.
    pub mod token {
        #![allow(missing_docs, clippy::all, unsafe_code)]
        wit_bindgen::generate!({
            world: "token-issuer",
            path: "../wit",
            pub_export_macro: true,
            export_macro_name: "__export_token_issuer",
            default_bindings_module: "keyhaven_sdk::__private::token",
        });
    }

    pub mod otp {
        #![allow(missing_docs, clippy::all, unsafe_code)]
        wit_bindgen::generate!({
            world: "otp-deliverer",
            path: "../wit",
            pub_export_macro: true,
            export_macro_name: "__export_otp_deliverer",
            default_bindings_module: "keyhaven_sdk::__private::otp",
        });
    }

    pub mod accounts {
        #![allow(missing_docs, clippy::all, unsafe_code)]
        wit_bindgen::generate!({
            world: "account-creation-hook",
            path: "../wit",
            pub_export_macro: true,
            export_macro_name: "__export_account_creation_hook",
            default_bindings_module: "keyhaven_sdk::__private::accounts",
        });
    }

    pub mod events {
        #![allow(missing_docs, clippy::all, unsafe_code)]
        wit_bindgen::generate!({
            world: "event-handler",
            path: "../wit",
            pub_export_macro: true,
            export_macro_name: "__export_event_handler",
            default_bindings_module: "keyhaven_sdk::__private::events",
        });
    }

    pub mod scheduled {
        #![allow(missing_docs, clippy::all, unsafe_code)]
        wit_bindgen::generate!({
            world: "scheduled-job",
            path: "../wit",
            pub_export_macro: true,
            export_macro_name: "__export_scheduled_job",
            default_bindings_module: "keyhaven_sdk::__private::scheduled",
        });
    }

    pub use accounts::__export_account_creation_hook;
    pub use events::__export_event_handler;
    pub use otp::__export_otp_deliverer;
    pub use scheduled::__export_scheduled_job;
    pub use token::__export_token_issuer;
}

/// Exports a type implementing [`TokenIssuance`] as the component's
/// `keyhaven:extension/token-issuance` hook.
#[macro_export]
macro_rules! export_token_issuance {
    ($hook:ty) => {
        #[doc(hidden)]
        struct __KeyhavenTokenIssuance;

        impl $crate::__private::token::exports::keyhaven::extension::token_issuance::Guest for __KeyhavenTokenIssuance {
            fn issue(
                request: $crate::__private::token::exports::keyhaven::extension::token_issuance::TokenRequest,
            ) -> $crate::__private::token::exports::keyhaven::extension::token_issuance::Decision {
                $crate::__private::issue_with::<$hook>(request)
            }
        }

        impl $crate::__private::token::exports::keyhaven::extension::token_scopes::Guest for __KeyhavenTokenIssuance {
            fn scopes(
                _request: $crate::__private::token::exports::keyhaven::extension::token_issuance::TokenRequest,
            ) -> $crate::__private::token::exports::keyhaven::extension::token_scopes::ScopeChanges {
                $crate::__private::scopes_with()
            }
        }

        $crate::__private::__export_token_issuer!(__KeyhavenTokenIssuance with_types_in $crate::__private::token);
    };
}

/// Exports a type implementing [`OtpDelivery`] as the component's
/// `keyhaven:extension/otp-delivery` hook.
#[macro_export]
macro_rules! export_otp_delivery {
    ($hook:ty) => {
        #[doc(hidden)]
        struct __KeyhavenOtpDelivery;

        impl $crate::__private::otp::exports::keyhaven::extension::otp_delivery::Guest for __KeyhavenOtpDelivery {
            fn deliver(
                message: $crate::__private::otp::exports::keyhaven::extension::otp_delivery::OtpMessage,
            ) -> ::core::result::Result<
                ::core::option::Option<::std::string::String>,
                $crate::__private::otp::exports::keyhaven::extension::otp_delivery::DeliveryError,
            > {
                $crate::__private::deliver_with::<$hook>(message)
            }
        }

        $crate::__private::__export_otp_deliverer!(__KeyhavenOtpDelivery with_types_in $crate::__private::otp);
    };
}

/// Exports a type implementing [`AccountCreation`] as the component's
/// `keyhaven:extension/account-creation` hook.
#[macro_export]
macro_rules! export_account_creation {
    ($hook:ty) => {
        #[doc(hidden)]
        struct __KeyhavenAccountCreation;

        impl $crate::__private::accounts::exports::keyhaven::extension::account_creation::Guest
            for __KeyhavenAccountCreation
        {
            fn before(
                tenant: $crate::__private::accounts::keyhaven::extension::types::Tenant,
                source: $crate::__private::accounts::exports::keyhaven::extension::account_creation::Source,
                account: $crate::__private::accounts::exports::keyhaven::extension::account_creation::AccountData,
            ) -> $crate::__private::accounts::exports::keyhaven::extension::account_creation::Verdict {
                $crate::__private::before_with::<$hook>(tenant, source, account)
            }

            fn after(
                tenant: $crate::__private::accounts::keyhaven::extension::types::Tenant,
                source: $crate::__private::accounts::exports::keyhaven::extension::account_creation::Source,
                account_id: ::std::string::String,
                account: $crate::__private::accounts::exports::keyhaven::extension::account_creation::AccountData,
            ) {
                $crate::__private::after_with::<$hook>(tenant, source, account_id, account)
            }
        }

        $crate::__private::__export_account_creation_hook!(
            __KeyhavenAccountCreation with_types_in $crate::__private::accounts
        );
    };
}

/// Exports a type implementing [`EventHandler`] as the component's
/// `keyhaven:extension/events` hook.
#[macro_export]
macro_rules! export_events {
    ($hook:ty) => {
        #[doc(hidden)]
        struct __KeyhavenEvents;

        impl $crate::__private::events::exports::keyhaven::extension::events::Guest for __KeyhavenEvents {
            fn handle(
                delivery: $crate::__private::events::exports::keyhaven::extension::events::Delivery,
            ) -> ::core::result::Result<(), ::std::string::String> {
                $crate::__private::handle_with::<$hook>(delivery)
            }
        }

        $crate::__private::__export_event_handler!(__KeyhavenEvents with_types_in $crate::__private::events);
    };
}

/// Exports a type implementing [`ScheduledJob`] as the component's
/// `keyhaven:extension/scheduled` hook.
#[macro_export]
macro_rules! export_scheduled {
    ($hook:ty) => {
        #[doc(hidden)]
        struct __KeyhavenScheduled;

        impl $crate::__private::scheduled::exports::keyhaven::extension::scheduled::Guest for __KeyhavenScheduled {
            fn run(
                run: $crate::__private::scheduled::exports::keyhaven::extension::scheduled::ScheduledRun,
            ) -> ::core::result::Result<(), ::std::string::String> {
                $crate::__private::run_with::<$hook>(run)
            }
        }

        $crate::__private::__export_scheduled_job!(__KeyhavenScheduled with_types_in $crate::__private::scheduled);
    };
}
