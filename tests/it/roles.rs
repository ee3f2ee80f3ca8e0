//! The admin API's role matrix: every route the router declares (read from its source, so
//! a new route is in the matrix without anyone adding it) × the operator, tenant A's
//! administrator and viewer, tenant B's administrator, no token, and tenant A's revoked
//! and expired tokens. Nobody gets a 5xx; a missing, revoked or expired token gets 401;
//! B's administrator gets on A's routes what it gets for a tenant that does not exist (404,
//! or 403 where only the operator may act) and learns nothing of A; the viewer is refused
//! every write (403) and no read; the operator is refused nothing.

use std::sync::Arc;

use keyhaven::clock::ManualClock;
use keyhaven_tests::{TestServer, expect_status};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// The router's source: the route table the matrix walks.
const ROUTER_SOURCE: &str = include_str!("../../host/src/api/mod.rs");

/// Every (method, path template) the admin router's route table (`api::routes`) declares:
/// the routes that need a token, without the public OpenAPI document `api::router` adds.
pub(crate) fn routes() -> Vec<(Method, String)> {
    let table = ROUTER_SOURCE.split_once("fn routes()").map_or("", |(_, table)| table);
    let mut routes = Vec::new();
    // `.route("path", ...)`, on one line or with the path on the next.
    for call in table.split(".route(").skip(1) {
        let Some(call) = call.trim_start().strip_prefix('"') else { continue };
        let Some((path, rest)) = call.split_once('"') else { continue };
        // The method router: up to the parenthesis that closes `.route(`.
        let mut depth = 1;
        let end = rest
            .char_indices()
            .find(|&(_, c)| {
                depth += match c {
                    '(' => 1,
                    ')' => -1,
                    _ => 0,
                };
                depth == 0
            })
            .map_or(rest.len(), |(i, _)| i);
        let methods = &rest[..end];
        for (name, method) in [
            ("get", Method::GET),
            ("post", Method::POST),
            ("patch", Method::PATCH),
            ("put", Method::PUT),
            ("delete", Method::DELETE),
        ] {
            let declared = methods.match_indices(&format!("{name}(")).any(|(i, _)| {
                i == 0 || !methods.as_bytes()[i - 1].is_ascii_alphanumeric() && methods.as_bytes()[i - 1] != b'_'
            });
            if declared {
                routes.push((method, path.to_owned()));
            }
        }
    }
    routes
}

/// A concrete path for a template: tenant A's name for `{tenant}`, a missing id elsewhere.
fn concrete(template: &str, tenant: &str) -> String {
    template
        .split('/')
        .map(|segment| match segment {
            "{tenant}" => tenant.to_owned(),
            s if s.starts_with('{') => "missing".to_owned(),
            s => s.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

async fn send(server: &TestServer, method: &Method, token: Option<&str>, path: &str) -> (StatusCode, String, Value) {
    let mut request = server.http.request(method.clone(), server.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if *method != Method::GET && *method != Method::DELETE {
        request = request.json(&json!({}));
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let content_type =
        response.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    let body = response.text().await.unwrap();
    (status, content_type, serde_json::from_str(&body).unwrap_or(Value::String(body)))
}

db_test!(
    async fn every_route_answers_every_role_as_its_role_allows() {
        let clock = Arc::new(ManualClock::new(1_800_000_000));
        let server = TestServer::start_with_clock(clock.clone()).await.unwrap();
        let a = server.create_tenant("matrix-a").await.unwrap();
        let b = server.create_tenant("matrix-b").await.unwrap();
        let tokens = format!("/admin/v1/tenants/{}/tokens", a.name);
        let make = |body: Value| server.call(Method::POST, &a.admin_token, &tokens, Some(body));
        let viewer =
            expect_status(make(json!({"name": "viewer", "role": "tenant-viewer"})).await.unwrap(), StatusCode::CREATED)
                .await
                .unwrap();
        let revoked =
            expect_status(make(json!({"name": "revoked", "role": "tenant-admin"})).await.unwrap(), StatusCode::CREATED)
                .await
                .unwrap();
        let expiring = expect_status(
            make(json!({"name": "expiring", "role": "tenant-admin", "expires_in_days": 1})).await.unwrap(),
            StatusCode::CREATED,
        )
        .await
        .unwrap();
        let revoke = format!("{tokens}/{}", revoked["id"].as_str().unwrap());
        assert!(server.call(Method::DELETE, &a.admin_token, &revoke, None).await.unwrap().status().is_success());
        clock.advance(2 * 86_400);

        let routes = routes();
        assert!(routes.len() >= 60, "the route table was read: {} routes", routes.len());
        let viewer_token = viewer["token"].as_str().unwrap();
        let dead = [
            ("no token", None),
            ("revoked token", revoked["token"].as_str()),
            ("expired token", expiring["token"].as_str()),
        ];
        for (method, template) in &routes {
            let path = concrete(template, &a.name);
            let route = format!("{method} {template}");

            for (who, token) in dead {
                let (status, content_type, body) = send(&server, method, token, &path).await;
                assert_eq!(status, StatusCode::UNAUTHORIZED, "{who}: {route}: {body}");
                assert_eq!(content_type, "application/problem+json", "{who}: {route}");
            }

            let (status, content_type, body) = send(&server, method, Some(&b.admin_token), &path).await;
            assert!(!status.is_server_error(), "B's admin: {route}: {status} {body}");
            if template.contains("{tenant}") {
                // The same answer as for a tenant that does not exist: 404, or 403 on a
                // route only the operator may use whatever the tenant.
                let nowhere = concrete(template, "matrix-nowhere");
                let (status_nowhere, _, body_nowhere) = send(&server, method, Some(&b.admin_token), &nowhere).await;
                assert!(matches!(status.as_u16(), 403 | 404), "B's admin on A's route: {route}: {status} {body}");
                assert_eq!(content_type, "application/problem+json", "{route}");
                assert_eq!(
                    (status, body.to_string().replace(&a.name, "matrix-nowhere")),
                    (status_nowhere, body_nowhere.to_string()),
                    "A's existence shows: {route}"
                );
                assert!(!body.to_string().contains(&a.id), "B learns nothing of A: {route}: {body}");
            } else if *method != Method::GET {
                assert_eq!(status, StatusCode::FORBIDDEN, "B's admin on an operator's route: {route}: {body}");
            }

            let (status, _, body) = send(&server, method, Some(viewer_token), &path).await;
            assert!(!status.is_server_error(), "viewer: {route}: {status} {body}");
            match *method {
                Method::GET => assert!(
                    status != StatusCode::UNAUTHORIZED
                        && (status != StatusCode::FORBIDDEN || !template.contains("{tenant}")),
                    "a viewer reads its tenant: {route}: {status} {body}"
                ),
                _ => assert_eq!(status, StatusCode::FORBIDDEN, "a viewer changes nothing: {route}: {body}"),
            }

            let (status, _, body) = send(&server, method, Some(&a.admin_token), &path).await;
            assert!(
                !status.is_server_error() && status != StatusCode::UNAUTHORIZED,
                "A's admin: {route}: {status} {body}"
            );

            let (status, _, body) = send(&server, method, Some(&server.root_token), &path).await;
            assert!(
                !status.is_server_error() && status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
                "the operator: {route}: {status} {body}"
            );
        }
        // A is still there, and still A's, after every call above.
        let tenant = server.get(&a.admin_token, &format!("/admin/v1/tenants/{}", a.name)).await.unwrap();
        assert_eq!(tenant["id"], a.id);
    }
);
