//! The platform operator's console under `/console/_operator/`, through real HTTP: the
//! operator signs in with an operator token (a tenant's token, a made-up one and a
//! cross-site post refused), lists and searches tenants, creates a tenant and a sub-tenant
//! (the first administrator's token and invitation shown once, and working), edits tags,
//! changes a tenant's state only after typing its name (its sub-tenant locked with it, its
//! clients refused a token), and moves an account after typing its username.

use std::sync::Arc;

use keyhaven::clock::ManualClock;
use keyhaven_tests::browser::{Browser, Page};
use keyhaven_tests::{TestServer, TestTenant, unique_name};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_SECURITY_POLICY, COOKIE, LOCATION, SET_COOKIE};
use serde_json::json;

use super::console::{account, between, direct, sign_in};

const BASE: &str = "/console/_operator";

/// Signs `browser` in to the operator's console with the server's root token: the tenant list.
async fn operator_sign_in(browser: &mut Browser, server: &TestServer) -> Page {
    let page = browser.open(&format!("{BASE}/")).await.unwrap();
    assert!(page.has_form("operator-signin"), "not signed in, the operator is asked for a token: {}", page.html);
    let tenants = browser.submit(&page, "operator-signin", &[("token", &server.root_token)]).await.unwrap();
    assert_eq!(tenants.status, StatusCode::OK, "{}", tenants.html);
    tenants
}

/// The tenant as the admin API shows it to the operator.
async fn tenant_json(server: &TestServer, name: &str) -> serde_json::Value {
    server.get(&server.root_token, &format!("/admin/v1/tenants/{name}")).await.unwrap()
}

db_test! {
async fn the_operator_signs_in_to_the_console_with_an_operator_token_and_out_again() {
    let server = TestServer::start().await.unwrap();
    let tenant = server.create_tenant("op-signin").await.unwrap();
    let mut browser = Browser::new(&server.base_url);
    let mut page = browser.open(&format!("{BASE}/")).await.unwrap();
    assert!(page.has_form("operator-signin"), "{}", page.html);
    // A tenant administrator's token is no operator's; nor is a made-up one. Each refusal
    // is a fresh form.
    for token in [tenant.admin_token.as_str(), "not-a-token"] {
        let refused = browser.submit(&page, "operator-signin", &[("token", token)]).await.unwrap();
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{}", refused.html);
        assert!(refused.html.contains("not an operator token"), "{}", refused.html);
        assert!(browser.cookie("keyhaven_operator").is_none());
        page = refused;
    }
    // A sign-in posted from another site carries no form cookie: refused, the right token
    // notwithstanding, and no session is set.
    let forged = direct()
        .post(server.url(&format!("{BASE}/signin")))
        .form(&[("token", server.root_token.as_str()), ("csrf", "guessed")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert!(forged.headers().get_all(SET_COOKIE).iter().all(|c| !c.to_str().unwrap().starts_with("keyhaven_operator=")));

    let tenants = operator_sign_in(&mut browser, &server).await;
    assert!(tenants.html.contains("<h1>Tenants</h1>") && tenants.html.contains(&tenant.name), "{}", tenants.html);
    assert!(tenants.html.contains("Signed in with the operator token <strong>root</strong>"), "{}", tenants.html);
    let cookie = browser.cookie("keyhaven_operator").unwrap().to_owned();
    assert!(!cookie.contains(&server.root_token), "the cookie holds a seal, not the token");
    let response = direct().get(server.url(&format!("{BASE}/"))).header(COOKIE, format!("keyhaven_operator={cookie}")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let csp = response.headers()[CONTENT_SECURITY_POLICY].to_str().unwrap().to_owned();
    assert!(csp.contains("default-src 'none'") && !csp.contains("unsafe-inline"), "{csp}");
    // A form without the anti-forgery token changes nothing.
    let forged = direct()
        .post(server.url(&format!("{BASE}/tenants/{}", tenant.name)))
        .header(COOKIE, format!("keyhaven_operator={cookie}"))
        .form(&[("label", "Forged"), ("tags", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert_ne!(tenant_json(&server, &tenant.name).await["label"], "Forged");

    // Sign out: the cookie goes; the console asks for a token again.
    let out = browser.submit(&tenants, "signout", &[]).await.unwrap();
    assert!(out.html.contains("You are signed out"), "{}", out.html);
    assert!(browser.cookie("keyhaven_operator").is_none());
    assert!(browser.open(&format!("{BASE}/")).await.unwrap().has_form("operator-signin"));
    // The audit log has each attempt: the refused ones anonymous, the sign-in the operator's.
    let audit = server.get(&server.root_token, "/admin/v1/audit").await.unwrap();
    let entries: Vec<_> = audit.as_array().unwrap().iter().filter(|e| e["action"] == "POST /console/_operator/signin").collect();
    let by = |role: &str, status: u64| entries.iter().filter(|e| e["role"] == role && e["status"] == status).count();
    assert_eq!((by("anonymous", 401), by("anonymous", 403), by("operator", 303)), (2, 1, 1), "{audit}");
}}

db_test! {
async fn the_operator_creates_tenants_and_sub_tenants_tags_them_and_changes_their_state_after_a_confirmation() {
    let server = TestServer::start().await.unwrap();
    let mut browser = Browser::new(&server.base_url);
    let tenants = operator_sign_in(&mut browser, &server).await;
    let count = || async { server.get(&server.root_token, "/admin/v1/tenants").await.unwrap().as_array().unwrap().len() };
    let before = count().await;
    // Refusals create nothing and say why.
    for (typed, why) in [
        (vec![("name", "Not A Name")], "name"),
        (vec![("name", "fine-name"), ("tags", "no equals sign")], "is not key=value"),
        (vec![("name", "fine-name"), ("tags", "Bad Key=x")], "tag key"),
        (vec![("name", "fine-name"), ("parent", "nobody")], "no tenant named"),
    ] {
        let refused = browser.submit(&tenants, "create-tenant", &typed).await.unwrap();
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{typed:?}: {}", refused.html);
        assert!(refused.html.contains(why), "{why}: {}", refused.html);
    }
    assert_eq!(count().await, before);

    let parent = unique_name("op-parent");
    let typed = [("name", parent.as_str()), ("label", "Parent Co"), ("tags", "region=eu\nplan = gold")];
    let created = browser.submit(&tenants, "create-tenant", &typed).await.unwrap();
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.html);
    // The first administrator's token and invitation are shown once, and work.
    let admin_token = between(&created.html, "<code id=\"new-admin-token\">", "<").to_owned();
    let invite = between(&created.html, "<code id=\"new-invite-token\">", "<").to_owned();
    let shown = server.get(&admin_token, &format!("/admin/v1/tenants/{parent}")).await.unwrap();
    assert_eq!((shown["label"].as_str(), &shown["tags"]), (Some("Parent Co"), &json!({"plan": "gold", "region": "eu"})), "{shown}");
    let body = json!({"invite_token": invite, "password": "a long enough passphrase"});
    let accepted = server.http.post(server.url(&format!("/t/{parent}/invite"))).json(&body).send().await.unwrap();
    assert_eq!(accepted.status(), StatusCode::OK, "the invitation works");
    let listed = browser.get(&format!("{BASE}/")).await.unwrap();
    assert!(!listed.html.contains(&admin_token) && !listed.html.contains(&invite), "shown once");
    let events = server.get(&admin_token, &format!("/admin/v1/tenants/{parent}/events?action=tenant.created")).await.unwrap();
    assert_eq!(events[0]["origin"], "console", "{events}");

    // A sub-tenant, from the parent's page; a sub-tenant has none of its own.
    let page = browser.get(&format!("{BASE}/tenants/{parent}")).await.unwrap();
    let child = unique_name("op-child");
    let made = browser.submit(&page, "create-subtenant", &[("name", child.as_str())]).await.unwrap();
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.html);
    let child_tenant = TestTenant {
        name: child.clone(),
        id: tenant_json(&server, &child).await["id"].as_str().unwrap().to_owned(),
        admin_token: between(&made.html, "<code id=\"new-admin-token\">", "<").to_owned(),
        issuer: server.url(&format!("/t/{child}")),
    };
    assert_eq!(tenant_json(&server, &child).await["parent_id"], shown["id"]);
    let child_page = browser.get(&format!("{BASE}/tenants/{child}")).await.unwrap();
    assert!(!child_page.has_form("create-subtenant") && child_page.html.contains(&parent), "{}", child_page.html);
    let page = browser.get(&format!("{BASE}/tenants/{parent}")).await.unwrap();
    assert!(between(&page.html, "<ul id=\"subtenants\">", "</ul>").contains(&child), "{}", page.html);
    // A client of the sub-tenant, whose tokens follow the parent's state below.
    let client = server.create_client(&child_tenant, json!({"name": "svc"})).await.unwrap();
    assert_eq!(server.token(&child_tenant, &client).await.unwrap().status(), StatusCode::OK);

    // The list searches names, labels and tags.
    let found = browser.get(&format!("{BASE}/?q=region%3Deu")).await.unwrap();
    assert!(found.html.contains(&format!(">{parent}</a>")) && !found.html.contains(&format!(">{child}</a>")), "{}", found.html);
    let found = browser.get(&format!("{BASE}/?q=parent+co&state=ENABLED")).await.unwrap();
    assert!(found.html.contains(&format!(">{parent}</a>")), "{}", found.html);
    let bad = browser.get(&format!("{BASE}/?state=SLEEPING")).await.unwrap();
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.html);

    // Tags and label: a bad key is refused and changes nothing.
    let refused = browser.submit(&page, "tenant-details", &[("label", "Parent Co"), ("tags", "UPPER=1")]).await.unwrap();
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.html);
    assert_eq!(tenant_json(&server, &parent).await["tags"], json!({"plan": "gold", "region": "eu"}));
    let saved = browser.submit(&page, "tenant-details", &[("label", "Parent Company"), ("tags", "region=us")]).await.unwrap();
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.html);
    let now = tenant_json(&server, &parent).await;
    assert_eq!((now["label"].as_str(), &now["tags"]), (Some("Parent Company"), &json!({"region": "us"})), "{now}");

    // Disabling asks first, naming the sub-tenant that is locked with it; a wrong name
    // changes nothing.
    let confirm = browser.get(&format!("{BASE}/tenants/{parent}/state?to=DISABLED")).await.unwrap();
    assert_eq!(confirm.status, StatusCode::OK, "{}", confirm.html);
    assert!(confirm.html.contains(&child) && confirm.has_form("confirm-state"), "{}", confirm.html);
    let wrong = browser.submit(&confirm, "confirm-state", &[("confirm", "not-it")]).await.unwrap();
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST, "{}", wrong.html);
    assert!(wrong.html.contains("nothing was changed"), "{}", wrong.html);
    assert_eq!(tenant_json(&server, &parent).await["state"], "ENABLED");
    let disabled = browser.submit(&confirm, "confirm-state", &[("confirm", parent.as_str())]).await.unwrap();
    assert_eq!(disabled.status, StatusCode::OK, "{}", disabled.html);
    assert!(disabled.html.contains(">DISABLED</span>"), "{}", disabled.html);
    let child_now = tenant_json(&server, &child).await;
    assert_eq!((child_now["state"].as_str(), child_now["effective_state"].as_str()), (Some("ENABLED"), Some("LOCKED")));
    assert_ne!(server.token(&child_tenant, &client).await.unwrap().status(), StatusCode::OK, "the sub-tenant issues no token");
    let refused = server.http.get(server.url(&format!("/admin/v1/tenants/{parent}"))).bearer_auth(&admin_token).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN, "its administrators are refused");
    let child_row = browser.get(&format!("{BASE}/tenants/{child}")).await.unwrap();
    assert!(child_row.html.contains("effectively LOCKED"), "{}", child_row.html);
    // Only ENABLED, DISABLED and LOCKED are states to ask for.
    let pending = browser.get(&format!("{BASE}/tenants/{parent}/state?to=PENDING")).await.unwrap();
    assert_eq!(pending.status, StatusCode::BAD_REQUEST);
    // Enabled again, after the same confirmation: the sub-tenant issues tokens again.
    let confirm = browser.get(&format!("{BASE}/tenants/{parent}/state?to=ENABLED")).await.unwrap();
    browser.submit(&confirm, "confirm-state", &[("confirm", parent.as_str())]).await.unwrap();
    assert_eq!(tenant_json(&server, &parent).await["state"], "ENABLED");
    assert_eq!(server.token(&child_tenant, &client).await.unwrap().status(), StatusCode::OK);
    let events = server.get(&admin_token, &format!("/admin/v1/tenants/{parent}/events?action=tenant.state_changed")).await.unwrap();
    let events = events.as_array().unwrap();
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(events.iter().all(|e| e["origin"] == "console"), "{events:?}");
    // The tenant's audit log names the operator for each change.
    let audit = server.get(&admin_token, &format!("/admin/v1/tenants/{parent}/audit?role=operator")).await.unwrap();
    let actions: Vec<&str> = audit.as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions.iter().filter(|a| **a == "POST /console/_operator/tenants/{name}/state").count(), 3, "{audit}");
    assert_eq!(actions.iter().filter(|a| **a == "POST /console/_operator/tenants/{name}").count(), 2, "{audit}");
}}

db_test! {
async fn the_tenant_list_pages_by_fifty_and_unknown_tenants_are_not_found() {
    let server = TestServer::start().await.unwrap();
    let batch = unique_name("batch");
    for i in 0..52 {
        server.create_tenant_with(json!({"name": format!("{batch}-t{i:02}"), "tags": {"batch": batch}})).await.unwrap();
    }
    let mut browser = Browser::new(&server.base_url);
    operator_sign_in(&mut browser, &server).await;
    let rows = |page: &Page| page.html.matches("<th scope=\"row\"><a href=").count();
    let first = browser.get(&format!("{BASE}/?q=batch%3D{batch}")).await.unwrap();
    assert_eq!(rows(&first), 50, "{}", first.html);
    assert!(first.html.contains("52 matching"), "{}", first.html);
    let next = between(&first.html, "<a id=\"next-page\" href=\"", "\"").replace("&amp;", "&");
    let second = browser.get(&next).await.unwrap();
    assert_eq!(rows(&second), 2, "{}", second.html);
    assert!(second.html.contains(&format!("{batch}-t50")) && second.html.contains(&format!("{batch}-t51")));
    assert!(!second.html.contains("next-page"));
    let missing = browser.get(&format!("{BASE}/tenants/no-such-tenant")).await.unwrap();
    assert_eq!(missing.status, StatusCode::NOT_FOUND, "{}", missing.html);
    assert!(missing.html.contains("Not found"), "{}", missing.html);
}}

db_test! {
async fn the_operator_moves_an_account_to_another_tenant_after_a_confirmation() {
    let clock = Arc::new(ManualClock::new(1_800_000_000));
    let server = TestServer::start_with_clock(clock.clone()).await.unwrap();
    let from = server.create_tenant("op-from").await.unwrap();
    let to = server.create_tenant("op-to").await.unwrap();
    let secret = account(&server, &from, &clock, "ann", true).await;
    let accounts = server.get(&from.admin_token, &format!("/admin/v1/tenants/{}/accounts", from.name)).await.unwrap();
    let ann_id = accounts.as_array().unwrap().iter().find(|a| a["username"] == "ann").unwrap()["id"].as_str().unwrap().to_owned();
    // Ann is signed in to her tenant's console; a tenant's console cookie opens no
    // operator's console.
    let mut ann = Browser::new(&server.base_url);
    assert_eq!(sign_in(&mut ann, &from, &clock, "ann", &secret).await.status, StatusCode::OK);
    let tenant_cookie = ann.cookie("keyhaven_console").unwrap().to_owned();
    let borrowed = direct().get(server.url(&format!("{BASE}/"))).header(COOKIE, format!("keyhaven_operator={tenant_cookie}")).send().await.unwrap();
    assert_eq!((borrowed.status(), borrowed.headers()[LOCATION].to_str().unwrap()), (StatusCode::SEE_OTHER, "/console/_operator/signin"));

    let mut operator = Browser::new(&server.base_url);
    operator_sign_in(&mut operator, &server).await;
    let page = operator.get(&format!("{BASE}/tenants/{}", from.name)).await.unwrap();
    assert!(page.html.contains("<form id=\"move-account\" method=\"get\""), "{}", page.html);
    // An account that is not there, and the tenant it is already in, are refused on the page.
    for (account, destination, why) in [("nobody", to.name.as_str(), "has no account"), ("ann", from.name.as_str(), "already in that tenant"), ("ann", "no-such", "no tenant named")] {
        let refused = operator.get(&format!("{BASE}/tenants/{}/move?account={account}&to={destination}", from.name)).await.unwrap();
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.html);
        assert!(refused.html.contains(why), "{why}: {}", refused.html);
    }
    // Found by username (any case) or id; the move waits for the username typed.
    let confirm = operator.get(&format!("{BASE}/tenants/{}/move?account=ANN&to={}", from.name, to.name)).await.unwrap();
    assert_eq!(confirm.status, StatusCode::OK, "{}", confirm.html);
    assert!(confirm.html.contains(&ann_id) && confirm.has_form("confirm-move"), "{}", confirm.html);
    let wrong = operator.submit(&confirm, "confirm-move", &[("confirm", "bob")]).await.unwrap();
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST, "{}", wrong.html);
    assert!(wrong.html.contains("nothing was moved"), "{}", wrong.html);
    let still = server.http.get(server.url(&format!("/admin/v1/tenants/{}/accounts/{ann_id}", from.name))).bearer_auth(&from.admin_token).send().await.unwrap();
    assert_eq!(still.status(), StatusCode::OK);
    let moved = operator.submit(&confirm, "confirm-move", &[("confirm", "ann")]).await.unwrap();
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.html);
    assert!(moved.html.contains(&to.name), "the destination's page follows: {}", moved.html);
    let gone = server.http.get(server.url(&format!("/admin/v1/tenants/{}/accounts/{ann_id}", from.name))).bearer_auth(&from.admin_token).send().await.unwrap();
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    let arrived = server.get(&to.admin_token, &format!("/admin/v1/tenants/{}/accounts/{ann_id}", to.name)).await.unwrap();
    assert_eq!(arrived["username"], "ann");
    // Her sessions ended: her console in the old tenant signs her out.
    let after = ann.get(&format!("/console/{}/", from.name)).await.unwrap();
    assert_eq!(after.location.as_deref(), Some(format!("/console/{}/signin", from.name).as_str()), "{after:?}");
    // Both tenants have the event, from the console; the old tenant's audit log names the operator.
    for (tenant, direction, other) in [(&from, "to", &to), (&to, "from", &from)] {
        let events = server.get(&tenant.admin_token, &format!("/admin/v1/tenants/{}/events?action=account.moved", tenant.name)).await.unwrap();
        assert_eq!(events.as_array().unwrap().len(), 1, "{events}");
        assert_eq!((events[0]["origin"].as_str(), events[0]["detail"][direction].as_str()), (Some("console"), Some(other.name.as_str())), "{events}");
    }
    let audit = server.get(&to.admin_token, &format!("/admin/v1/tenants/{}/audit?role=operator", from.name)).await;
    assert!(audit.is_err(), "another tenant's audit log is not the destination's to read");
    let audit = server.get(&server.root_token, &format!("/admin/v1/tenants/{}/audit?role=operator", from.name)).await.unwrap();
    let moves = audit.as_array().unwrap().iter().filter(|e| e["action"] == "POST /console/_operator/tenants/{name}/move").count();
    assert_eq!(moves, 2, "the refused confirmation and the move: {audit}");
}}
