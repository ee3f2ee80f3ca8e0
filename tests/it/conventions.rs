//! Admin API conventions that every resource shares: `Idempotency-Key` on creates and
//! updates (a retried request runs once, per caller, and its answer is given again),
//! `ETag` / `If-Match` (a change made against an outdated read is refused, atomically), and
//! cursor pagination (every list pages through `Link: rel="next"` to its whole).

use keyhaven_tests::{TestServer, expect_problem, expect_status, guests, unique_name};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// `method path` with a JSON body and an `Idempotency-Key`, as `token`.
async fn keyed(
    server: &TestServer,
    method: Method,
    token: &str,
    path: &str,
    key: &str,
    body: Value,
) -> reqwest::Response {
    server
        .http
        .request(method, server.url(path))
        .bearer_auth(token)
        .header("idempotency-key", key)
        .json(&body)
        .send()
        .await
        .unwrap()
}

fn replayed(response: &reqwest::Response) -> bool {
    response.headers().get("idempotent-replayed").is_some_and(|v| v == "true")
}

db_test!(
    async fn a_retried_create_runs_once_and_gets_the_first_answer() {
        let server = TestServer::start().await.unwrap();
        let root = server.root_token.clone();
        let name = unique_name("idem");
        let body = json!({"name": name, "label": "Idempotent"});

        let first = keyed(&server, Method::POST, &root, "/admin/v1/tenants", "create-1", body.clone()).await;
        assert!(!replayed(&first));
        let first = expect_status(first, StatusCode::CREATED).await.unwrap();
        // The retry gets the same answer, its one-time admin token included, and creates nothing.
        let retry = keyed(&server, Method::POST, &root, "/admin/v1/tenants", "create-1", body.clone()).await;
        assert!(replayed(&retry), "a repeated answer is marked");
        assert_eq!(retry.headers()["content-type"], "application/json");
        let retry = expect_status(retry, StatusCode::CREATED).await.unwrap();
        assert_eq!(retry, first);
        let tenants = server.get(&root, "/admin/v1/tenants").await.unwrap();
        let named = tenants.as_array().unwrap().iter().filter(|t| t["name"] == name).count();
        assert_eq!(named, 1, "one tenant, not two");
        // Without the key, the same request is a second attempt: the name is taken.
        let again = server.call(Method::POST, &root, "/admin/v1/tenants", Some(body)).await.unwrap();
        let problem = expect_problem(again, StatusCode::CONFLICT).await.unwrap();
        assert_eq!(problem["type"], "urn:keyhaven:problem:conflict");

        // The same key with another request is refused, and creates nothing.
        let other = json!({"name": unique_name("idem"), "label": "Other"});
        let reused = keyed(&server, Method::POST, &root, "/admin/v1/tenants", "create-1", other.clone()).await;
        let problem = expect_problem(reused, StatusCode::UNPROCESSABLE_ENTITY).await.unwrap();
        assert_eq!(problem["type"], "urn:keyhaven:problem:idempotency-key-reused");
        let tenants = server.get(&root, "/admin/v1/tenants").await.unwrap();
        assert!(!tenants.as_array().unwrap().iter().any(|t| t["name"] == other["name"]));

        // A key that is not 1 to 255 visible ASCII characters is refused.
        let bad = keyed(&server, Method::POST, &root, "/admin/v1/tenants", "two words", other).await;
        let problem = expect_problem(bad, StatusCode::BAD_REQUEST).await.unwrap();
        assert!(problem["detail"].as_str().unwrap().contains("Idempotency-Key"));
    }
);

db_test!(
    async fn keys_belong_to_their_caller_and_end_with_its_token() {
        let server = TestServer::start().await.unwrap();
        let tenant = server.create_tenant("idem-caller").await.unwrap();
        let clients = format!("/admin/v1/tenants/{}/clients", tenant.name);
        let tokens = format!("/admin/v1/tenants/{}/tokens", tenant.name);
        let made = keyed(
            &server,
            Method::POST,
            &tenant.admin_token,
            &tokens,
            "pat-1",
            json!({"name": "pipeline", "role": "tenant-admin"}),
        )
        .await;
        let pat = expect_status(made, StatusCode::CREATED).await.unwrap();
        let pipeline = pat["token"].as_str().unwrap().to_owned();

        // Two callers, one key: each runs its own request.
        let by_admin =
            keyed(&server, Method::POST, &tenant.admin_token, &clients, "same-key", json!({"name": "one"})).await;
        let by_admin = expect_status(by_admin, StatusCode::CREATED).await.unwrap();
        let by_pipeline = keyed(&server, Method::POST, &pipeline, &clients, "same-key", json!({"name": "two"})).await;
        let by_pipeline = expect_status(by_pipeline, StatusCode::CREATED).await.unwrap();
        assert_ne!(by_admin["client_id"], by_pipeline["client_id"]);
        let retried = keyed(&server, Method::POST, &pipeline, &clients, "same-key", json!({"name": "two"})).await;
        assert!(replayed(&retried));
        let retried = expect_status(retried, StatusCode::CREATED).await.unwrap();
        assert_eq!(
            retried["client_secret"], by_pipeline["client_secret"],
            "the secret shown once is shown to its retry"
        );
        let listed = server.get(&tenant.admin_token, &clients).await.unwrap();
        assert_eq!(listed.as_array().unwrap().len(), 2);

        // A revoked token's kept answers are not given out: it is refused like any call.
        let revoke = format!("{tokens}/{}", pat["id"].as_str().unwrap());
        let revoked = server.call(Method::DELETE, &tenant.admin_token, &revoke, None).await.unwrap();
        assert!(revoked.status().is_success(), "{}", revoked.status());
        let after = keyed(&server, Method::POST, &pipeline, &clients, "same-key", json!({"name": "two"})).await;
        let problem = expect_problem(after, StatusCode::UNAUTHORIZED).await.unwrap();
        assert!(!problem.to_string().contains(by_pipeline["client_secret"].as_str().unwrap()));

        // Nor are those of a caller who may no longer act on the tenant.
        let tenant_path = format!("/admin/v1/tenants/{}", tenant.name);
        let disabled = server.call(Method::PATCH, &server.root_token, &tenant_path, Some(json!({"state": "DISABLED"})));
        assert_eq!(disabled.await.unwrap().status(), StatusCode::OK);
        let after =
            keyed(&server, Method::POST, &tenant.admin_token, &clients, "same-key", json!({"name": "one"})).await;
        assert!(!replayed(&after));
        let problem = expect_problem(after, StatusCode::FORBIDDEN).await.unwrap();
        assert!(!problem.to_string().contains(by_admin["client_secret"].as_str().unwrap()));
    }
);

db_test!(
    async fn a_refusal_of_the_moment_is_not_kept_and_concurrent_retries_create_once() {
        let server = TestServer::start().await.unwrap();
        let tenant = server.create_tenant("idem-moment").await.unwrap();
        let scopes = format!("/admin/v1/tenants/{}/scopes", tenant.name);
        let scope = json!({"value": "reports:read", "label": "Reports", "required_score": 0});
        let created = server.call(Method::POST, &tenant.admin_token, &scopes, Some(scope.clone())).await.unwrap();
        expect_status(created, StatusCode::CREATED).await.unwrap();

        // A conflict depends on the moment: once the scope is gone, the retry runs again.
        let taken = keyed(&server, Method::POST, &tenant.admin_token, &scopes, "scope-1", scope.clone()).await;
        expect_problem(taken, StatusCode::CONFLICT).await.unwrap();
        let gone = server.call(Method::DELETE, &tenant.admin_token, &format!("{scopes}/reports:read"), None).await;
        assert!(gone.unwrap().status().is_success());
        let retry = keyed(&server, Method::POST, &tenant.admin_token, &scopes, "scope-1", scope.clone()).await;
        assert!(!replayed(&retry));
        expect_status(retry, StatusCode::CREATED).await.unwrap();

        // A refusal for what the request carries is its answer: kept, and given again.
        let invalid = json!({"value": "bad scope", "label": "Bad", "required_score": 0});
        let refused = keyed(&server, Method::POST, &tenant.admin_token, &scopes, "scope-2", invalid.clone()).await;
        expect_problem(refused, StatusCode::BAD_REQUEST).await.unwrap();
        let again = keyed(&server, Method::POST, &tenant.admin_token, &scopes, "scope-2", invalid).await;
        assert!(replayed(&again));
        assert_eq!(again.headers()["content-type"], "application/problem+json");
        expect_problem(again, StatusCode::BAD_REQUEST).await.unwrap();

        // Eight copies of one keyed creation at once: one tenant; each answer is the
        // creation, its repetition, or "still running".
        let name = unique_name("idem-race");
        let body = json!({"name": name, "label": "Race"});
        let mut sends = tokio::task::JoinSet::new();
        for _ in 0..8 {
            let (http, url, root, body) =
                (server.http.clone(), server.url("/admin/v1/tenants"), server.root_token.clone(), body.clone());
            sends.spawn(async move {
                let response = http
                    .post(url)
                    .bearer_auth(root)
                    .header("idempotency-key", "race")
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                let status = response.status();
                (status, response.json::<Value>().await.unwrap())
            });
        }
        let answers = sends.join_all().await;
        let created: Vec<&Value> =
            answers.iter().filter(|(status, _)| *status == StatusCode::CREATED).map(|(_, body)| body).collect();
        assert!(!created.is_empty());
        assert!(created.iter().all(|body| body["tenant"]["id"] == created[0]["tenant"]["id"]), "{answers:?}");
        for (status, body) in &answers {
            if *status != StatusCode::CREATED {
                assert_eq!(*status, StatusCode::CONFLICT, "{body}");
                assert_eq!(body["type"], "urn:keyhaven:problem:idempotency-key-in-use");
            }
        }
        let tenants = server.get(&server.root_token, "/admin/v1/tenants").await.unwrap();
        assert_eq!(tenants.as_array().unwrap().iter().filter(|t| t["name"] == name).count(), 1);
    }
);

db_test!(
    async fn a_retried_upload_makes_one_deployment() {
        let server = TestServer::start().await.unwrap();
        let tenant = server.create_tenant("idem-upload").await.unwrap();
        let path = format!("/admin/v1/tenants/{}/extensions?name=claims", tenant.name);
        let upload = |key: &'static str| {
            server
                .http
                .post(server.url(&path))
                .bearer_auth(&tenant.admin_token)
                .header("content-type", "application/wasm")
                .header("idempotency-key", key)
                .body(guests::bytes(guests::CUSTOM_CLAIMS))
                .send()
        };
        let first = expect_status(upload("upload-1").await.unwrap(), StatusCode::ACCEPTED).await.unwrap();
        let retry = upload("upload-1").await.unwrap();
        assert!(replayed(&retry));
        let retry = expect_status(retry, StatusCode::ACCEPTED).await.unwrap();
        assert_eq!(retry["id"], first["id"]);
        server.wait_built(&tenant, first["id"].as_str().unwrap()).await.unwrap();
        let deployments =
            server.get(&tenant.admin_token, &format!("/admin/v1/tenants/{}/deployments", tenant.name)).await.unwrap();
        assert_eq!(deployments.as_array().unwrap().len(), 1, "{deployments}");
    }
);

/// `method path` with a JSON body and `If-Match: tag`, as `token`.
async fn conditional(
    server: &TestServer,
    method: Method,
    token: &str,
    path: &str,
    tag: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut request = server.http.request(method, server.url(path)).bearer_auth(token).header("if-match", tag);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

/// `GET path` as `token`: the body and its `ETag`.
async fn read(server: &TestServer, token: &str, path: &str) -> (Value, String) {
    let response = server.http.get(server.url(path)).bearer_auth(token).send().await.unwrap();
    let tag = response.headers().get("etag").expect("a read carries an ETag").to_str().unwrap().to_owned();
    (expect_status(response, StatusCode::OK).await.unwrap(), tag)
}

db_test!(
    async fn a_change_against_an_outdated_read_is_refused() {
        let server = TestServer::start().await.unwrap();
        let tenant = server.create_tenant("etag").await.unwrap();
        let client = server.create_client(&tenant, json!({"name": "billing"})).await.unwrap();
        let path = format!("/admin/v1/tenants/{}/clients/{}", tenant.name, client.client_id);
        let token = &tenant.admin_token;

        // A read's tag is stable while nothing changes; If-None-Match with it answers 304.
        let (_, tag) = read(&server, token, &path).await;
        assert!(tag.starts_with('"') && tag.ends_with('"'), "a strong tag: {tag}");
        assert_eq!(read(&server, token, &path).await.1, tag);
        let unchanged =
            server.http.get(server.url(&path)).bearer_auth(token).header("if-none-match", &tag).send().await.unwrap();
        assert_eq!(unchanged.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(unchanged.headers()["etag"].to_str().unwrap(), tag);
        assert!(unchanged.bytes().await.unwrap().is_empty());

        // Conditions are evaluated for callers allowed to write, after their credentials:
        // no token is 401, another tenant's administrator is told the tenant does not exist.
        let anonymous = server.http.patch(server.url(&path)).header("if-match", "*").json(&json!({"name": "x"}));
        expect_problem(anonymous.send().await.unwrap(), StatusCode::UNAUTHORIZED).await.unwrap();
        let other = server.create_tenant("etag-other").await.unwrap();
        let foreign =
            conditional(&server, Method::PATCH, &other.admin_token, &path, "*", Some(json!({"name": "x"}))).await;
        let problem = expect_problem(foreign, StatusCode::NOT_FOUND).await.unwrap();
        assert!(!problem.to_string().contains(&tenant.id));

        // Administrators A and B both read; A changes first, with the tag it read.
        let changed = conditional(&server, Method::PATCH, token, &path, &tag, Some(json!({"name": "billing-a"}))).await;
        assert_eq!(changed.status(), StatusCode::OK);
        let new_tag =
            changed.headers().get("etag").expect("the change answers its new tag").to_str().unwrap().to_owned();
        assert_ne!(new_tag, tag);
        assert_eq!(read(&server, token, &path).await.1, new_tag, "the answered tag is the next read's");
        // B's change, made against the old read, is refused and changes nothing.
        let stale = conditional(&server, Method::PATCH, token, &path, &tag, Some(json!({"name": "billing-b"}))).await;
        let problem = expect_problem(stale, StatusCode::PRECONDITION_FAILED).await.unwrap();
        assert_eq!(problem["type"], "urn:keyhaven:problem:precondition-failed");
        assert!(problem["detail"].as_str().unwrap().contains(&new_tag), "the detail names the current tag");
        let (now, _) = read(&server, token, &path).await;
        assert_eq!(now["name"], "billing-a");
        // Another spelling of the same path is the same resource.
        let (first, rest) = tenant.name.split_at(1);
        let spelled = path.replacen(&tenant.name, &format!("%{:02X}{rest}", first.as_bytes()[0]), 1);
        let stale =
            conditional(&server, Method::PATCH, token, &spelled, &tag, Some(json!({"name": "billing-b"}))).await;
        expect_problem(stale, StatusCode::PRECONDITION_FAILED).await.unwrap();
        assert_eq!(read(&server, token, &path).await.0["name"], "billing-a");
        // B re-reads and reapplies: accepted.
        let reapplied =
            conditional(&server, Method::PATCH, token, &path, &new_tag, Some(json!({"name": "billing-b"}))).await;
        assert_eq!(reapplied.status(), StatusCode::OK);
        assert_eq!(read(&server, token, &path).await.0["name"], "billing-b");

        // `*` matches any current representation, and nothing that is not there.
        let missing = format!("/admin/v1/tenants/{}/clients/cl_missing", tenant.name);
        let gone = conditional(&server, Method::PATCH, token, &missing, "*", Some(json!({"name": "x"}))).await;
        expect_problem(gone, StatusCode::PRECONDITION_FAILED).await.unwrap();
        let any = conditional(&server, Method::PATCH, token, &path, "*", Some(json!({"name": "billing-c"}))).await;
        assert_eq!(any.status(), StatusCode::OK);

        // A conditional delete: refused with an old tag, done with the current one.
        let rules = format!("/admin/v1/tenants/{}/rules", tenant.name);
        let scope = json!({"value": "reports:read", "label": "Reports", "required_score": 0});
        let scopes = format!("/admin/v1/tenants/{}/scopes", tenant.name);
        let created = server.call(Method::POST, token, &scopes, Some(scope)).await.unwrap();
        expect_status(created, StatusCode::CREATED).await.unwrap();
        let rule = json!({"label": "reports", "client_id": client.client_id, "scopes": ["reports:read"]});
        let rule = server.call(Method::POST, token, &rules, Some(rule)).await.unwrap();
        let rule = expect_status(rule, StatusCode::CREATED).await.unwrap();
        let rule_path = format!("{rules}/{}", rule["id"].as_str().unwrap());
        let (_, rule_tag) = read(&server, token, &rule_path).await;
        let relabelled =
            conditional(&server, Method::PATCH, token, &rule_path, &rule_tag, Some(json!({"label": "renamed"}))).await;
        assert_eq!(relabelled.status(), StatusCode::OK);
        let stale = conditional(&server, Method::DELETE, token, &rule_path, &rule_tag, None).await;
        expect_problem(stale, StatusCode::PRECONDITION_FAILED).await.unwrap();
        let (_, rule_tag) = read(&server, token, &rule_path).await;
        let deleted = conditional(&server, Method::DELETE, token, &rule_path, &rule_tag, None).await;
        assert!(deleted.status().is_success(), "{}", deleted.status());
        let after = server.call(Method::GET, token, &rule_path, None).await.unwrap();
        expect_problem(after, StatusCode::NOT_FOUND).await.unwrap();
    }
);

db_test!(
    multi_thread async fn of_two_concurrent_changes_from_one_read_one_wins() {
        let server = TestServer::start().await.unwrap();
        let tenant = server.create_tenant("etag-race").await.unwrap();
        let client = server.create_client(&tenant, json!({"name": "shared"})).await.unwrap();
        let path = format!("/admin/v1/tenants/{}/clients/{}", tenant.name, client.client_id);
        // On PostgreSQL the writers are spread over two nodes, so the lock must hold across
        // nodes, not only within one.
        let other = match server.database_path() {
            None => Some(server.second_node().await.unwrap()),
            Some(_) => None,
        };
        let nodes = [&server, other.as_ref().unwrap_or(&server), &server];
        for round in 0..5 {
            let (_, tag) = read(&server, &tenant.admin_token, &path).await;
            let mut changes = tokio::task::JoinSet::new();
            for (writer, node) in ["a", "b", "c"].into_iter().zip(nodes) {
                let (http, url, token, tag) =
                    (node.http.clone(), node.url(&path), tenant.admin_token.clone(), tag.clone());
                changes.spawn(async move {
                    let name = format!("{writer}-{round}");
                    let response = http
                        .patch(url)
                        .bearer_auth(token)
                        .header("if-match", tag)
                        .json(&json!({"name": name}))
                        .send()
                        .await
                        .unwrap();
                    (response.status(), name)
                });
            }
            let outcomes = changes.join_all().await;
            let won: Vec<&String> =
                outcomes.iter().filter(|(status, _)| *status == StatusCode::OK).map(|(_, name)| name).collect();
            assert_eq!(won.len(), 1, "exactly one change from the same read wins: {outcomes:?}");
            assert!(outcomes.iter().all(|(s, _)| *s == StatusCode::OK || *s == StatusCode::PRECONDITION_FAILED));
            assert_eq!(read(&server, &tenant.admin_token, &path).await.0["name"], *won[0]);
        }
    }
);

/// The next page a list answer links to (`Link: <…>; rel="next"`).
fn next_link(response: &reqwest::Response) -> Option<String> {
    let link = response.headers().get("link")?.to_str().unwrap();
    let target = link.strip_prefix('<')?.split_once(">; rel=\"next\"")?.0;
    Some(target.to_owned())
}

/// Every page of `path` at one item a page, following the links; each page holds one item.
async fn walk(server: &TestServer, token: &str, path: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let separator = if path.contains('?') { '&' } else { '?' };
    let mut next = Some(format!("{path}{separator}limit=1"));
    while let Some(page) = next {
        let response = server.http.get(server.url(&page)).bearer_auth(token).send().await.unwrap();
        next = next_link(&response);
        let body = expect_status(response, StatusCode::OK).await.unwrap();
        let page_items = body.as_array().unwrap_or_else(|| panic!("{page}: not a list: {body}"));
        assert!(page_items.len() <= 1, "{page}: {} items on a page of one", page_items.len());
        assert!(next.is_none() || page_items.len() == 1, "{page}: an empty page links to another");
        items.extend(page_items.iter().cloned());
        assert!(items.len() <= 1000, "{path}: the links never end");
    }
    items
}

db_test!(
    async fn every_list_pages_through_its_links_to_the_whole_list() {
        let server = TestServer::start().await.unwrap();
        let root = server.root_token.clone();
        let tenant = server.create_tenant("pages").await.unwrap();
        server.create_tenant("pages-too").await.unwrap();
        let base = format!("/admin/v1/tenants/{}", tenant.name);
        // Two or more of everything a tenant's lists hold that the admin API can make.
        let mut account_id = String::new();
        for n in 0..3 {
            server.create_client(&tenant, json!({"name": format!("client {n}")})).await.unwrap();
            let body = json!({"username": format!("person-{n}"), "password": "a long enough password"});
            let made = server.call(Method::POST, &root, &format!("{base}/accounts"), Some(body)).await.unwrap();
            account_id = expect_status(made, StatusCode::CREATED).await.unwrap()["id"].as_str().unwrap().to_owned();
            let body = json!({"name": format!("pat {n}"), "role": "tenant-viewer"});
            server.call(Method::POST, &root, &format!("{base}/tokens"), Some(body)).await.unwrap();
            let body = json!({"label": format!("terms {n}"), "text": "terms"});
            server.call(Method::POST, &root, &format!("{base}/legal"), Some(body)).await.unwrap();
            let body = json!({"label": format!("rule {n}"), "client_id": "*", "scopes": ["openid"]});
            server.call(Method::POST, &root, &format!("{base}/rules"), Some(body)).await.unwrap();
            for key in [format!("a:{n}"), format!("b:{n}")] {
                let path = format!("{base}/kv/{key}");
                let put = server.call(Method::PUT, &root, &path, Some(json!({"n": n}))).await.unwrap();
                assert!(put.status().is_success(), "{}", put.status());
            }
            server.call(Method::POST, &root, &format!("{base}/keys/rotate"), None).await.unwrap();
            server.call(Method::PUT, &root, &format!("/admin/v1/plans/pages-{n}"), Some(json!({}))).await.unwrap();
        }
        let permission = format!("{base}/accounts/{account_id}/permissions/admin");
        assert!(server.call(Method::PUT, &root, &permission, None).await.unwrap().status().is_success());

        // The lists are the operations whose answer is an array, as the OpenAPI document says.
        let document = server.get(&root, "/admin/v1/openapi.json").await.unwrap();
        let mut lists = Vec::new();
        for (template, item) in document["paths"].as_object().unwrap() {
            let schema = &item["get"]["responses"]["200"]["content"]["application/json"]["schema"];
            if schema["type"] == "array" {
                lists.push(template.replace("{tenant}", &tenant.name).replace("{id}", &account_id));
            }
        }
        assert!(lists.len() >= 18, "lists found in the document: {lists:?}");

        let mut paged = 0;
        for path in &lists {
            assert!(!path.contains('{'), "a list under another resource: {path}");
            let walked = walk(&server, &root, path).await;
            let whole = server.get(&root, &format!("{path}?limit=1000")).await.unwrap();
            let whole = whole.as_array().unwrap();
            if path.ends_with("/audit") {
                // Each read is audited: the log grew above what the walk saw, never within it.
                assert!(whole.ends_with(&walked) && walked.len() >= 2, "{path}: {} of {}", walked.len(), whole.len());
            } else {
                assert_eq!(&walked, whole, "{path}: the pages are not the list");
            }
            paged += usize::from(walked.len() >= 2);
        }
        // Tenants, plans, tokens, accounts, legal documents, scopes, rules, clients, keys,
        // events, key-value entries and both audit logs.
        assert!(paged >= 13, "only {paged} lists held two items or more");

        // A filter is kept in the links.
        let keys: Vec<Value> = walk(&server, &root, &format!("{base}/kv?prefix=b:")).await;
        let keys: Vec<&str> = keys.iter().map(|entry| entry["key"].as_str().unwrap()).collect();
        assert_eq!(keys, ["b:0", "b:1", "b:2"]);
        // A cursor this API did not give is refused, in memory and in the database alike.
        for path in [format!("{base}/clients?after=nobody"), format!("{base}/audit?after=nonsense")] {
            let response = server.http.get(server.url(&path)).bearer_auth(&root).send().await.unwrap();
            let problem = expect_problem(response, StatusCode::BAD_REQUEST).await.unwrap();
            assert_eq!(problem["type"], "urn:keyhaven:problem:invalid-request", "{path}");
        }
    }
);
