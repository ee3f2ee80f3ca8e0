//! The admin API's OpenAPI 3.1 document, served at [`PATH`] without authentication. It is
//! generated from the code: each handler's `#[utoipa::path]` names its route, body and
//! answers, and the types it takes and returns derive their schemas. What every route
//! shares is added here once ([`Conventions`]): the bearer scheme, the parameters named in
//! the path, `Idempotency-Key` on creates and updates, `If-Match` on writes, `ETag` on
//! reads and a problem+json answer for every error. The integration tests check that every
//! route the router declares is in the document.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use utoipa::openapi::header::{Header, HeaderBuilder};
use utoipa::openapi::path::{Operation, Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::Schema;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{
    Content, HttpMethod, ObjectBuilder, OpenApi as Document, Ref, RefOr, Required, ResponseBuilder, Type,
};
use utoipa::{Modify, OpenApi};

use super::{
    accounts, administrators, audit, bindings, clients, controls, deployments, events, extensions, invocations, keys,
    kv, limits, me, rules, tenants, tokens,
};
use crate::web::ProblemDetails;

/// Where the document is served.
pub const PATH: &str = "/admin/v1/openapi.json";

const PROBLEM_JSON: &str = "application/problem+json";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Keyhaven admin API",
        description = "Tenants, accounts, clients, controls, extensions, keys, events, audit and usage of a \
                       Keyhaven service. Authenticate with `Authorization: Bearer <personal access token>`. Lists \
                       take `limit` (1 to 1,000; 100 by default) and `after` and link their next page in a `Link: <...>; \
                       rel=\"next\"` header."
    ),
    paths(
        me::get,
        audit::list_all,
        audit::list,
        audit::usage,
        tokens::list,
        tokens::create,
        tokens::change,
        tokens::delete,
        tenants::list,
        tenants::create,
        tenants::get,
        tenants::change,
        accounts::list,
        accounts::create,
        accounts::get,
        accounts::change,
        accounts::delete,
        accounts::enrol_factor,
        accounts::change_factor,
        accounts::confirm_factor,
        accounts::sessions,
        accounts::move_account,
        administrators::invite,
        administrators::list,
        administrators::grant,
        administrators::revoke,
        accounts::end_session,
        controls::consents,
        controls::revoke,
        controls::list,
        controls::create,
        controls::scopes,
        controls::create_scope,
        controls::delete_scope,
        controls::publish,
        rules::list,
        rules::create,
        rules::get,
        rules::change,
        rules::delete,
        clients::list,
        clients::create,
        clients::get,
        clients::change,
        clients::rotate_secret,
        clients::retire_previous_secret,
        keys::list,
        keys::rotate,
        limits::get,
        limits::set,
        limits::list_plans,
        limits::put_plan,
        limits::get_settings,
        limits::put_settings,
        extensions::list,
        extensions::upload,
        extensions::get,
        extensions::change,
        extensions::delete,
        extensions::rollback,
        extensions::set_config,
        extensions::set_secret,
        extensions::delete_secret,
        invocations::list,
        invocations::metrics,
        deployments::list,
        deployments::get,
        deployments::source,
        deployments::delete,
        deployments::dry_run,
        bindings::list,
        bindings::create,
        bindings::delete,
        events::list,
        kv::list,
        kv::put,
        kv::delete,
    ),
    components(schemas(ProblemDetails)),
    modifiers(&Conventions),
    security(("bearer" = []))
)]
struct AdminApi;

/// What every operation shares, added to each (see the module documentation).
struct Conventions;

impl Modify for Conventions {
    fn modify(&self, document: &mut Document) {
        let components = document.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
        open_composed_parts(&mut components.schemas);
        for (path, item) in document.paths.paths.iter_mut() {
            for (method, operation) in [
                (HttpMethod::Get, &mut item.get),
                (HttpMethod::Post, &mut item.post),
                (HttpMethod::Put, &mut item.put),
                (HttpMethod::Patch, &mut item.patch),
                (HttpMethod::Delete, &mut item.delete),
            ] {
                if let Some(operation) = operation {
                    conventions(path, method, operation);
                }
            }
        }
    }
}

/// A view that flattens a type (`#[serde(flatten)]`) is an `allOf` of that type's schema and
/// its own fields; a part that forbids other properties (`deny_unknown_fields`, which keeps
/// the type strict when read) would forbid the view's own fields, so no part of a
/// composition closes it.
fn open_composed_parts(schemas: &mut BTreeMap<String, RefOr<Schema>>) {
    let mut parts = Vec::new();
    for schema in schemas.values_mut() {
        if let RefOr::T(Schema::AllOf(all_of)) = schema {
            for item in &mut all_of.items {
                match item {
                    RefOr::Ref(part) => parts.push(part.ref_location.rsplit('/').next().unwrap_or_default().to_owned()),
                    RefOr::T(Schema::Object(part)) => part.additional_properties = None,
                    RefOr::T(_) => {}
                }
            }
        }
    }
    for name in parts {
        if let Some(RefOr::T(Schema::Object(part))) = schemas.get_mut(&name) {
            part.additional_properties = None;
        }
    }
}

fn conventions(path: &str, method: HttpMethod, operation: &mut Operation) {
    let parameters = operation.parameters.get_or_insert_with(Vec::new);
    // The parameters the path names, in order, before any in the query.
    let named: Vec<Parameter> = path
        .split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
        .filter(|name| !parameters.iter().any(|p| p.name == *name && p.parameter_in == ParameterIn::Path))
        .map(|name| {
            let description = match name {
                "tenant" => "The tenant's name",
                _ => "The resource's identifier",
            };
            parameter(name, ParameterIn::Path, Required::True, description)
        })
        .collect();
    parameters.splice(0..0, named);
    if matches!(method, HttpMethod::Post | HttpMethod::Patch) {
        parameters.push(parameter(
            "Idempotency-Key",
            ParameterIn::Header,
            Required::False,
            "Makes a retry of this request return the first answer instead of running it again (24 h).",
        ));
    }
    if matches!(method, HttpMethod::Patch | HttpMethod::Put | HttpMethod::Delete) {
        parameters.push(parameter(
            "If-Match",
            ParameterIn::Header,
            Required::False,
            "The ETag of the resource as read: the write is refused with 412 if it changed since.",
        ));
    }
    if method == HttpMethod::Get {
        parameters.push(parameter(
            "If-None-Match",
            ParameterIn::Header,
            Required::False,
            "An ETag read before: 304 if the resource has not changed.",
        ));
    }
    if let Some(RefOr::T(ok)) = operation.responses.responses.get_mut("200") {
        if matches!(method, HttpMethod::Get | HttpMethod::Patch) {
            let etag = string_header("The resource as returned, for If-Match and If-None-Match");
            ok.headers.insert("ETag".to_owned(), etag);
        }
        let is_list = ok.content.values().any(|content| matches!(content.schema, Some(RefOr::T(Schema::Array(_)))));
        if method == HttpMethod::Get && is_list {
            let link =
                string_header("`<…?after=…>; rel=\"next\"` while another page follows (see `after` and `limit`)");
            ok.headers.insert("Link".to_owned(), link);
        }
    }
    if method == HttpMethod::Get {
        let unchanged = ResponseBuilder::new().description("Not modified: the If-None-Match tag is current").build();
        operation.responses.responses.insert("304".to_owned(), RefOr::T(unchanged));
    }
    let problem = ResponseBuilder::new()
        .description("An error, as RFC 9457 problem details")
        .content(PROBLEM_JSON, Content::new(Some(RefOr::Ref(Ref::from_schema_name("Problem")))))
        .build();
    operation.responses.responses.insert("default".to_owned(), RefOr::T(problem));
}

fn string_header(description: &str) -> Header {
    HeaderBuilder::new().schema(ObjectBuilder::new().schema_type(Type::String)).description(Some(description)).build()
}

fn parameter(name: &str, location: ParameterIn, required: Required, description: &str) -> Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(location)
        .required(required)
        .description(Some(description))
        .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
        .build()
}

/// The document, built once.
pub fn document() -> &'static str {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    DOCUMENT.get_or_init(|| AdminApi::openapi().to_json().unwrap_or_else(|error| format!("{{\"error\":\"{error}\"}}")))
}

/// `GET /admin/v1/openapi.json`.
pub async fn serve() -> Response {
    ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], document()).into_response()
}
