//! The admin API under `/admin/v1`: JSON over HTTP, authenticated with personal access
//! tokens or administrators' sessions ([`auth`]), errors as problem+json ([`error`]); one module per resource.

pub(crate) mod accounts;
mod administrators;
mod audit;
mod auth;
mod bindings;
mod clients;
mod controls;
mod deployments;
mod events;
mod extensions;
mod health;
mod idempotency;
pub use idempotency::{IDEMPOTENCY_KEY, REPLAYED};
mod invocations;
mod keys;
mod kv;
mod limits;
mod me;
mod node_metrics;
pub mod openapi;
mod pages;
mod preconditions;
mod rules;
pub(crate) mod tenants;
mod tokens;

use axum::Router;
use axum::middleware;
use axum::routing::{delete, get, patch, post, put};

pub use crate::web::{ApiError, Problem};

use crate::AppState;

/// The admin API: its [`routes`], every call audited ([`audit::record`]); a create or
/// update sent with an `Idempotency-Key` runs once ([`idempotency::guard`]); reads carry an
/// `ETag` and writes honour `If-Match` under their path's lock ([`preconditions::guard`]).
pub fn router(state: AppState) -> Router<AppState> {
    routes()
        .route_layer(middleware::from_fn(pages::link))
        .route_layer(middleware::from_fn_with_state(state.clone(), preconditions::guard))
        // Inside the audit: a repeated answer is audited like the first.
        .route_layer(middleware::from_fn_with_state(state.clone(), idempotency::guard))
        .route_layer(middleware::from_fn_with_state(state, audit::record))
        // Public and unaudited: the document describes the API, not a tenant; health is
        // the node's.
        .route(openapi::PATH, get(openapi::serve))
        .route("/healthz", get(health::live))
        .route("/readyz", get(health::ready))
        .route("/metrics", get(node_metrics::serve))
}

/// The admin API's routes and handlers, without the layers [`router`] adds.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/v1/me", get(me::get))
        .route("/admin/v1/audit", get(audit::list_all))
        .route("/admin/v1/tenants/{tenant}/audit", get(audit::list))
        .route("/admin/v1/tenants/{tenant}/usage", get(audit::usage))
        .route("/admin/v1/tenants/{tenant}/tokens", get(tokens::list).post(tokens::create))
        .route("/admin/v1/tenants/{tenant}/tokens/{id}", patch(tokens::change).delete(tokens::delete))
        .route("/admin/v1/tenants", get(tenants::list).post(tenants::create))
        .route("/admin/v1/tenants/{tenant}", get(tenants::get).patch(tenants::change))
        .route("/admin/v1/tenants/{tenant}/accounts", get(accounts::list).post(accounts::create))
        .route(
            "/admin/v1/tenants/{tenant}/accounts/{id}",
            get(accounts::get).patch(accounts::change).delete(accounts::delete),
        )
        .route("/admin/v1/tenants/{tenant}/accounts/{id}/factors", post(accounts::enrol_factor))
        .route("/admin/v1/tenants/{tenant}/accounts/{id}/factors/{factor_id}", patch(accounts::change_factor))
        .route("/admin/v1/tenants/{tenant}/accounts/{id}/factors/{factor_id}/confirm", post(accounts::confirm_factor))
        .route("/admin/v1/tenants/{tenant}/accounts/{id}/sessions", get(accounts::sessions))
        .route("/admin/v1/tenants/{tenant}/accounts/{id}/move", post(accounts::move_account))
        .route("/admin/v1/tenants/{tenant}/accounts/{id}/invite", post(administrators::invite))
        .route("/admin/v1/tenants/{tenant}/accounts/{id}/permissions", get(administrators::list))
        .route(
            "/admin/v1/tenants/{tenant}/accounts/{id}/permissions/{permission}",
            put(administrators::grant).delete(administrators::revoke),
        )
        .route("/admin/v1/tenants/{tenant}/sessions/{id}", delete(accounts::end_session))
        .route("/admin/v1/tenants/{tenant}/accounts/{id}/consents", get(controls::consents))
        .route("/admin/v1/tenants/{tenant}/accounts/{id}/consents/{consent_id}", delete(controls::revoke))
        .route("/admin/v1/tenants/{tenant}/legal", get(controls::list).post(controls::create))
        .route("/admin/v1/tenants/{tenant}/scopes", get(controls::scopes).post(controls::create_scope))
        .route("/admin/v1/tenants/{tenant}/scopes/{value}", delete(controls::delete_scope))
        .route("/admin/v1/tenants/{tenant}/legal/{id}/versions", post(controls::publish))
        .route("/admin/v1/tenants/{tenant}/rules", get(rules::list).post(rules::create))
        .route("/admin/v1/tenants/{tenant}/rules/{id}", get(rules::get).patch(rules::change).delete(rules::delete))
        .route("/admin/v1/tenants/{tenant}/clients", get(clients::list).post(clients::create))
        .route("/admin/v1/tenants/{tenant}/clients/{client_id}", get(clients::get).patch(clients::change))
        .route("/admin/v1/tenants/{tenant}/clients/{client_id}/secret", post(clients::rotate_secret))
        .route(
            "/admin/v1/tenants/{tenant}/clients/{client_id}/secret/previous",
            delete(clients::retire_previous_secret),
        )
        .route("/admin/v1/tenants/{tenant}/keys", get(keys::list))
        .route("/admin/v1/tenants/{tenant}/keys/rotate", post(keys::rotate))
        .route("/admin/v1/tenants/{tenant}/limits", get(limits::get).put(limits::set))
        .route("/admin/v1/plans", get(limits::list_plans))
        .route("/admin/v1/plans/{plan}", put(limits::put_plan))
        .route("/admin/v1/tenants/{tenant}/extension-settings", get(limits::get_settings).put(limits::put_settings))
        .route("/admin/v1/tenants/{tenant}/extensions", get(extensions::list).post(extensions::upload))
        .route(
            "/admin/v1/tenants/{tenant}/extensions/{name}",
            get(extensions::get).patch(extensions::change).delete(extensions::delete),
        )
        .route("/admin/v1/tenants/{tenant}/extensions/{name}/rollback", post(extensions::rollback))
        .route("/admin/v1/tenants/{tenant}/extensions/{name}/config", put(extensions::set_config))
        .route(
            "/admin/v1/tenants/{tenant}/extensions/{name}/secrets/{secret}",
            put(extensions::set_secret).delete(extensions::delete_secret),
        )
        .route("/admin/v1/tenants/{tenant}/extensions/{name}/invocations", get(invocations::list))
        .route("/admin/v1/tenants/{tenant}/extensions/{name}/metrics", get(invocations::metrics))
        .route("/admin/v1/tenants/{tenant}/deployments", get(deployments::list))
        .route("/admin/v1/tenants/{tenant}/deployments/{id}", get(deployments::get).delete(deployments::delete))
        .route("/admin/v1/tenants/{tenant}/deployments/{id}/dry-run", post(deployments::dry_run))
        .route("/admin/v1/tenants/{tenant}/deployments/{id}/source", get(deployments::source))
        .route("/admin/v1/tenants/{tenant}/bindings", get(bindings::list).post(bindings::create))
        .route("/admin/v1/tenants/{tenant}/bindings/{id}", delete(bindings::delete))
        .route("/admin/v1/tenants/{tenant}/events", get(events::list))
        .route("/admin/v1/tenants/{tenant}/kv", get(kv::list))
        .route("/admin/v1/tenants/{tenant}/kv/{key}", put(kv::put).delete(kv::delete))
}
