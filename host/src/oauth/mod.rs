//! The per-tenant token service under `/t/{tenant}/`: discovery, JWKS, the token
//! endpoint, introspection and revocation ([`introspection`]), signing and verifying with
//! [`crate::jwt`] (errors use the RFC 6749 codes); and the identifier-first login of human accounts
//! with its sessions ([`login`]; problem+json), an account's own consents ([`consents`])
//! and the acceptance of invites ([`invite`]).

mod authorize;
mod client_auth;
mod consents;
mod discovery;
mod error;
mod grants;
mod hosted;
mod introspection;
mod invite;
mod login;
mod origin;
mod pages;
mod token;
mod userinfo;

use axum::Router;
use axum::routing::{get, post};

pub use error::OAuthError;
pub use origin::{RequestOrigin, route_subdomains};
pub use token::EXTENSION_FAILED;

use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/t/{tenant}/.well-known/openid-configuration", get(discovery::openid_configuration))
        .route("/t/{tenant}/jwks.json", get(discovery::jwks))
        .route("/t/{tenant}/oauth2/authorize", get(authorize::authorize))
        .route("/t/{tenant}/authorize/identify", post(hosted::identify))
        .route("/t/{tenant}/authorize/password", post(hosted::password))
        .route("/t/{tenant}/authorize/otp/send", post(hosted::send_code))
        .route("/t/{tenant}/authorize/otp/verify", post(hosted::verify_code))
        .route("/t/{tenant}/authorize/totp", post(hosted::totp))
        .route("/t/{tenant}/authorize/legal", post(hosted::legal))
        .route("/t/{tenant}/authorize/consent", post(hosted::consent))
        .route("/t/{tenant}/authorize/switch", post(hosted::switch))
        .route("/t/{tenant}/oauth2/token", post(token::token))
        .route("/t/{tenant}/userinfo", get(userinfo::userinfo).post(userinfo::userinfo))
        .route("/t/{tenant}/oauth2/introspect", post(introspection::introspect))
        .route("/t/{tenant}/oauth2/revoke", post(introspection::revoke))
        .route("/t/{tenant}/register", post(login::register))
        .route("/t/{tenant}/invite", post(invite::accept))
        .route("/t/{tenant}/login", post(login::start))
        .route("/t/{tenant}/login/password", post(login::password))
        .route("/t/{tenant}/login/otp", post(login::send_code))
        .route("/t/{tenant}/login/otp/verify", post(login::verify_code))
        .route("/t/{tenant}/login/totp", post(login::totp))
        .route("/t/{tenant}/session", get(login::get_session).delete(login::end_session))
        .route("/t/{tenant}/session/legal", post(login::accept_legal))
        .route("/t/{tenant}/session/consents", get(consents::list).post(consents::grant))
        .route("/t/{tenant}/session/consents/{id}", axum::routing::delete(consents::revoke))
        .route("/t/{tenant}/session/factors", get(login::my_factors).post(login::enrol_my_factor))
        .route("/t/{tenant}/session/factors/{factor}", axum::routing::patch(login::change_my_factor))
        .route("/t/{tenant}/session/factors/{factor}/confirm", post(login::confirm_my_factor))
}
