//! The admin API under `/admin/v1`: JSON over HTTP, authenticated with personal access
//! tokens ([`auth`]), errors as problem+json ([`error`]); one module per resource.

mod auth;
mod clients;
mod error;
mod extensions;
mod tenants;

use axum::Router;
use axum::routing::get;

pub use error::{ApiError, Problem};

use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/v1/tenants", get(tenants::list).post(tenants::create))
        .route("/admin/v1/tenants/{tenant}", get(tenants::get))
        .route("/admin/v1/tenants/{tenant}/clients", get(clients::list).post(clients::create))
        .route("/admin/v1/tenants/{tenant}/clients/{client_id}", get(clients::get))
        .route("/admin/v1/tenants/{tenant}/extensions", get(extensions::list).post(extensions::deploy))
        .route("/admin/v1/tenants/{tenant}/extensions/{id}", get(extensions::get))
}

pub use error::{method_not_allowed, not_found};
