//! Tokens below every HTTP surface: what an access token's claims may hold and how an
//! extension's claims are merged in ([`claims`]), tenants' signing keys generated, cached and
//! used to sign ([`keys`]), and compact JWS verified against a tenant's or a client's keys
//! ([`jws`]). The token service issues and verifies with them, the admin API checks a
//! client's JWK set, a new tenant gets its first key, and the extension runtime refuses
//! protected claims; none of it knows HTTP.

pub mod claims;
pub mod jws;
pub mod keys;

pub use claims::{PROTECTED_CLAIMS, ProtectedClaim, is_protected, sanitise_reason};
pub use keys::{KeyCache, SigningKey};
