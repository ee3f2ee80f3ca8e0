//! The per-tenant token service under `/t/{tenant}/`: discovery, JWKS and the token
//! endpoint, with their keys and claim rules. Errors use the RFC 6749 codes.

mod claims;
mod discovery;
mod error;
pub mod keys;
mod token;

use axum::Router;
use axum::routing::{get, post};

pub use claims::{PROTECTED_CLAIMS, ProtectedClaim, is_protected};
pub use error::OAuthError;
pub use keys::{KeyCache, SigningKey};

use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/t/{tenant}/.well-known/openid-configuration", get(discovery::openid_configuration))
        .route("/t/{tenant}/jwks.json", get(discovery::jwks))
        .route("/t/{tenant}/oauth2/token", post(token::token))
}
