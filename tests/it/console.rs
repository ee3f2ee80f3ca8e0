//! The tenant administration console, through real HTTP and the tenant's real hosted
//! login: an administrator signs in (password, then the authenticator step-up the `admin`
//! scope asks for), lands on the dashboard, and signs out; the console's cookie, its
//! anti-forgery token and its security headers; who is refused (an account without the
//! `admin` permission, another tenant's administrator, an unknown tenant); and the same in
//! a real browser, with screenshots and an accessibility check of every page.

use std::sync::Arc;

use keyhaven::clock::{Clock, ManualClock};
use keyhaven::tenancy::totp;
use keyhaven_tests::browser::{Browser, Page, unescape};
use keyhaven_tests::{TestServer, TestTenant, guests, node};
use reqwest::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, COOKIE, SET_COOKIE};
use reqwest::{Method, StatusCode};
use serde_json::json;

pub(super) const PASSWORD: &str = "a long enough passphrase";

/// An account of `tenant` with a password and a confirmed authenticator app, holding the
/// `admin` permission if `administrator`; the TOTP secret.
pub(super) async fn account(
    server: &TestServer,
    tenant: &TestTenant,
    clock: &ManualClock,
    username: &str,
    administrator: bool,
) -> Vec<u8> {
    account_holding(server, tenant, clock, username, if administrator { Some("admin") } else { None }).await
}

/// The same, holding `permission` if any (`admin`, or `admin:read` for a viewer).
async fn account_holding(
    server: &TestServer,
    tenant: &TestTenant,
    clock: &ManualClock,
    username: &str,
    permission: Option<&str>,
) -> Vec<u8> {
    let body = json!({"username": username, "password": PASSWORD});
    let id = server.admin_ok(tenant, Method::POST, "/accounts", body).await["id"].as_str().unwrap().to_owned();
    if let Some(permission) = permission {
        server.admin_ok(tenant, Method::PUT, &format!("/accounts/{id}/permissions/{permission}"), json!({})).await;
    }
    let enrolled =
        server.admin_ok(tenant, Method::POST, &format!("/accounts/{id}/factors"), json!({"kind": "totp"})).await;
    let factor_id = enrolled["id"].as_str().unwrap().to_owned();
    let secret = totp::from_base32(enrolled["totp"]["secret"].as_str().unwrap()).unwrap();
    let code = totp::code(&secret, totp::step_of(clock.now()));
    server
        .admin_ok(tenant, Method::POST, &format!("/accounts/{id}/factors/{factor_id}/confirm"), json!({"code": code}))
        .await;
    clock.advance(30);
    secret
}

/// Opens the console and signs in on the tenant's hosted pages; the page the console answers.
pub(super) async fn sign_in(
    browser: &mut Browser,
    tenant: &TestTenant,
    clock: &ManualClock,
    username: &str,
    secret: &[u8],
) -> Page {
    let page = browser.open(&format!("/console/{}/", tenant.name)).await.unwrap();
    assert!(page.has_form("identify"), "the console sends the browser to the hosted login: {}", page.html);
    let page = browser.submit(&page, "identify", &[("username", username)]).await.unwrap();
    let page = browser.submit(&page, "password-form", &[("password", PASSWORD)]).await.unwrap();
    // A password alone is too weak for the admin scope: the hosted pages step up.
    let totp_form = page.form_starting("totp-").unwrap_or_else(|| panic!("no step-up: {}", page.html));
    let code = totp::code(secret, totp::step_of(clock.now()));
    browser.submit(&page, &totp_form, &[("code", &code)]).await.unwrap()
}

/// An HTTP client that shows redirects instead of following them.
pub(super) fn direct() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// `GET path` with only the console cookie this browser holds, redirects not followed.
async fn with_console_cookie(server: &TestServer, browser: &Browser, path: &str) -> reqwest::Response {
    let cookie = format!("keyhaven_console={}", browser.cookie("keyhaven_console").unwrap_or_default());
    direct().get(server.url(path)).header(COOKIE, cookie).send().await.unwrap()
}

db_test! {
async fn an_administrator_signs_in_through_the_hosted_login_and_out_again() {
    let clock = Arc::new(ManualClock::new(1_800_000_000));
    let server = TestServer::start_with_clock(clock.clone()).await.unwrap();
    let tenant = server.create_tenant("console").await.unwrap();
    server.admin_ok(&tenant, Method::PATCH, "", json!({"label": "Acme Corp", "colour": "#aa3300"})).await;
    let secret = account(&server, &tenant, &clock, "ann", true).await;
    // Something for the dashboard to show: an extension that has run twice.
    server.deploy(&tenant, guests::CUSTOM_CLAIMS).await.unwrap();
    let client = server.create_client(&tenant, json!({"name": "c", "attributes": {"org": "acme"}})).await.unwrap();
    for _ in 0..2 {
        assert_eq!(server.token(&tenant, &client).await.unwrap().status(), StatusCode::OK);
    }

    let mut browser = Browser::new(&server.base_url);
    let page = sign_in(&mut browser, &tenant, &clock, "ann", &secret).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.html.contains("<h1>Dashboard</h1>"), "{}", page.html);
    assert!(page.html.contains("Signed in as <strong>ann</strong>"), "{}", page.html);
    assert!(page.html.contains("Acme Corp"), "the console shows the tenant: {}", page.html);
    // This month's usage as the admin API reports it, thirteen months of it, the
    // extension's invocations and the latest events.
    let usage = server.get(&tenant.admin_token, &format!("/admin/v1/tenants/{}/usage", tenant.name)).await.unwrap();
    let month = usage["month"].as_str().unwrap();
    let row = format!("<tr><th scope=\"row\">{month}</th><td>{}</td>", usage["monthly_active_accounts"]);
    assert!(page.html.contains(&row), "{row} in {}", page.html);
    assert_eq!(page.html.matches("<tr><th scope=\"row\">").count(), 13 + 1, "13 months and one extension");
    assert!(page.html.contains("<tr><th scope=\"row\">extension</th><td>2</td><td>0.0 %</td>"), "{}", page.html);
    assert!(page.html.contains("<td>account.created</td>"), "{}", page.html);

    // The page is served with a strict policy, its stylesheet is cache-busted and immutable,
    // and the tenant's colour comes from its own stylesheet.
    let response = with_console_cookie(&server, &browser, &format!("/console/{}/", tenant.name)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let csp = response.headers()[CONTENT_SECURITY_POLICY].to_str().unwrap().to_owned();
    assert!(csp.contains("default-src 'none'") && csp.contains("style-src 'self'") && !csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(response.headers()[CACHE_CONTROL], "no-store");
    let html = response.text().await.unwrap();
    let stylesheet = html.split("href=\"/console/assets/").nth(1).and_then(|rest| rest.split('"').next()).unwrap();
    assert!(!html.contains("<script") && !html.contains("style="), "no inline script or style: {html}");
    let css = server.http.get(server.url(&format!("/console/assets/{stylesheet}"))).send().await.unwrap();
    assert_eq!(css.status(), StatusCode::OK);
    assert!(css.headers()[CACHE_CONTROL].to_str().unwrap().contains("immutable"));
    let stale = server.http.get(server.url("/console/assets/console.000000000000.css")).send().await.unwrap();
    assert_eq!(stale.status(), StatusCode::NOT_FOUND);
    let theme = server.http.get(server.url(&format!("/console/{}/theme.css", tenant.name))).send().await.unwrap();
    assert!(theme.text().await.unwrap().contains("--brand: #aa3300"));

    // The cookie is out of scripts' reach and sent only to this tenant's console.
    let raw = direct()
        .get(server.url(&format!("/console/{}/signin", tenant.name)))
        .send()
        .await
        .unwrap();
    let flow = raw.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    assert!(flow.contains("HttpOnly") && flow.contains("SameSite=Lax") && flow.contains(&format!("Path=/console/{}", tenant.name)), "{flow}");

    // A form posted without the console's anti-forgery token (as a cross-site page would
    // post it) is refused, and changes nothing.
    let cookie = format!("keyhaven_console={}", browser.cookie("keyhaven_console").unwrap());
    let forged = direct()
        .post(server.url(&format!("/console/{}/signout", tenant.name)))
        .header(COOKIE, &cookie)
        .form(&[("csrf", "guessed")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert!(forged.text().await.unwrap().contains("did not come from this console"));
    assert_eq!(with_console_cookie(&server, &browser, &format!("/console/{}/", tenant.name)).await.status(), StatusCode::OK);

    // APIs: a token made in the console is shown once and works on the admin API (a viewer's
    // reads, and only reads); a refused form says why; a revoked token no longer works.
    let apis = browser.get(&format!("/console/{}/tokens", tenant.name)).await.unwrap();
    assert!(apis.has_form("create-token") && apis.html.contains("/.well-known/openid-configuration"), "{}", apis.html);
    let made = browser.submit(&apis, "create-token", &[("name", "ci reader"), ("role", "tenant-viewer")]).await.unwrap();
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.html);
    let token = made.html.split("<code id=\"new-token\">").nth(1).and_then(|rest| rest.split('<').next()).unwrap().to_owned();
    let accounts = format!("/admin/v1/tenants/{}/accounts", tenant.name);
    assert_eq!(server.call(Method::GET, &token, &accounts, None).await.unwrap().status(), StatusCode::OK);
    let write = server.call(Method::POST, &token, &accounts, Some(json!({"username": "nope"}))).await.unwrap();
    assert_eq!(write.status(), StatusCode::FORBIDDEN);
    let shown = browser.get(&format!("/console/{}/tokens", tenant.name)).await.unwrap();
    assert!(!shown.html.contains(&token), "a token is shown once");
    let refused = browser.submit(&shown, "create-token", &[("name", " "), ("role", "tenant-admin")]).await.unwrap();
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused.html.contains("name must be 1 to 200 characters"), "{}", refused.html);
    let listed = server.get(&tenant.admin_token, &format!("/admin/v1/tenants/{}/tokens", tenant.name)).await.unwrap();
    let id = listed.as_array().unwrap().iter().find(|t| t["name"] == "ci reader").unwrap()["id"].as_str().unwrap().to_owned();
    let revoked = browser.submit(&shown, &format!("revoke-{id}"), &[]).await.unwrap();
    assert_eq!(revoked.status, StatusCode::OK, "back on the APIs page: {}", revoked.html);
    assert!(!revoked.html.contains("ci reader"), "{}", revoked.html);
    assert_eq!(server.call(Method::GET, &token, &accounts, None).await.unwrap().status(), StatusCode::UNAUTHORIZED);
    // Each form post is in the audit log, by the administrator's account.
    let audit = server.get(&tenant.admin_token, &format!("/admin/v1/tenants/{}/audit", tenant.name)).await.unwrap();
    let posts: Vec<_> = audit.as_array().unwrap().iter().filter(|e| e["action"] == "POST /console/{tenant}/tokens").collect();
    assert_eq!(posts.len(), 2, "{audit}");
    assert!(posts.iter().all(|e| e["role"] == "tenant-admin" && e["actor"].as_str().unwrap().starts_with("acc_")), "{posts:?}");
    let revoke = "POST /console/{tenant}/tokens/{id}/revoke";
    assert!(audit.as_array().unwrap().iter().any(|e| e["action"] == revoke && e["status"] == 303), "{audit}");

    // Signing out ends the login session: the cookie no longer opens the console.
    let out = browser.submit(&page, "signout", &[]).await.unwrap();
    assert_eq!(out.status, StatusCode::OK, "{}", out.html);
    assert!(out.html.contains("You are signed out"), "{}", out.html);
    let again = direct().get(server.url(&format!("/console/{}/", tenant.name))).header(COOKIE, &cookie).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::SEE_OTHER, "the ended session is signed out");
    assert_eq!(again.headers()["location"], format!("/console/{}/signin", tenant.name));
}}

db_test! {
async fn the_console_refuses_non_administrators_other_tenants_and_unknown_tenants() {
    let clock = Arc::new(ManualClock::new(1_800_000_000));
    let server = TestServer::start_with_clock(clock.clone()).await.unwrap();
    let a = server.create_tenant("console-a").await.unwrap();
    let b = server.create_tenant("console-b").await.unwrap();

    // An account of A with a strong session but no admin permission is not let in.
    let secret = account(&server, &a, &clock, "bo", false).await;
    let mut browser = Browser::new(&server.base_url);
    let page = browser.open(&format!("/console/{}/", a.name)).await.unwrap();
    let page = browser.submit(&page, "identify", &[("username", "bo")]).await.unwrap();
    let page = browser.submit(&page, "password-form", &[("password", PASSWORD)]).await.unwrap();
    let page = match page.form_starting("totp-") {
        Some(form) => browser.submit(&page, &form, &[("code", &totp::code(&secret, totp::step_of(clock.now())))]).await.unwrap(),
        None => page,
    };
    assert_eq!(page.status, StatusCode::UNAUTHORIZED, "{}", page.html);
    assert!(page.html.contains("does not hold the permission"), "the reason is shown: {}", page.html);
    assert!(browser.cookie("keyhaven_console").is_none(), "no console session for a non-administrator");

    // B's administrator, signed in to B's console, is a stranger at A's: sent to sign in.
    let secret = account(&server, &b, &clock, "cy", true).await;
    let mut browser = Browser::new(&server.base_url);
    let dashboard = sign_in(&mut browser, &b, &clock, "cy", &secret).await;
    assert_eq!(dashboard.status, StatusCode::OK, "{}", dashboard.html);
    let foreign = with_console_cookie(&server, &browser, &format!("/console/{}/", a.name)).await;
    assert_eq!(foreign.status(), StatusCode::SEE_OTHER);
    assert_eq!(foreign.headers()["location"], format!("/console/{}/signin", a.name));

    // The dashboard's address without its slash goes to the dashboard; a name that is no
    // tenant's (or could not be one) is not found, and never echoed into a redirect.
    let bare = direct().get(server.url(&format!("/console/{}", a.name))).send().await.unwrap();
    assert_eq!(bare.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(bare.headers()["location"], format!("/console/{}/", a.name));
    let injected = direct().get(server.url("/console/a%0d%0aSet-Cookie:%20x=1")).send().await.unwrap();
    assert_eq!(injected.status(), StatusCode::NOT_FOUND);
    assert!(injected.headers().get(SET_COOKIE).is_none());

    // An unknown tenant is a readable not-found page, under the same policy.
    let unknown = server.http.get(server.url("/console/no-such-tenant/")).send().await.unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    assert!(unknown.headers().contains_key(CONTENT_SECURITY_POLICY));
    assert!(unknown.text().await.unwrap().contains("<h1>Not found</h1>"));

    // The console's codes are not for the token endpoint: it does not know the client.
    let refused = server
        .http
        .post(server.url(&format!("/t/{}/oauth2/token", a.name)))
        .form(&[("grant_type", "authorization_code"), ("code", "x"), ("client_id", "keyhaven-console"), ("code_verifier", &"v".repeat(43))])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
}}

db_test! {
async fn a_real_browser_signs_in_to_the_console_with_no_accessibility_violation() {
    // Debian's chromium, or CHROMIUM; skipped with a note where it is missing, except in CI.
    let Some(chromium) = node::chromium() else { return };
    let server = TestServer::start().await.unwrap();
    let tenant = server.create_tenant("console-browser").await.unwrap();
    server.admin_ok(&tenant, Method::PATCH, "", json!({"label": "Acme Corp", "colour": "#aa3300"})).await;
    // The authenticator is confirmed with the previous step's code, so the code the browser
    // computes from the secret when it types it is later than the last one used.
    let clock = keyhaven::clock::SystemClock;
    let id = server.admin_ok(&tenant, Method::POST, "/accounts", json!({"username": "ann", "password": PASSWORD})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    server.admin_ok(&tenant, Method::PUT, &format!("/accounts/{id}/permissions/admin"), json!({})).await;
    let enrolled = server.admin_ok(&tenant, Method::POST, &format!("/accounts/{id}/factors"), json!({"kind": "totp"})).await;
    let factor_id = enrolled["id"].as_str().unwrap().to_owned();
    let totp_secret = enrolled["totp"]["secret"].as_str().unwrap().to_owned();
    let secret = totp::from_base32(&totp_secret).unwrap();
    let previous = totp::code(&secret, totp::step_of(clock.now()) - 1);
    server.admin_ok(&tenant, Method::POST, &format!("/accounts/{id}/factors/{factor_id}/confirm"), json!({"code": previous})).await;
    let viewer = server.admin_ok(&tenant, Method::POST, "/accounts", json!({"username": "vic", "password": PASSWORD})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    server.admin_ok(&tenant, Method::PUT, &format!("/accounts/{viewer}/permissions/admin:read"), json!({})).await;
    let enrolled = server.admin_ok(&tenant, Method::POST, &format!("/accounts/{viewer}/factors"), json!({"kind": "totp"})).await;
    let factor_id = enrolled["id"].as_str().unwrap().to_owned();
    let viewer_totp_secret = enrolled["totp"]["secret"].as_str().unwrap().to_owned();
    let viewer_secret = totp::from_base32(&viewer_totp_secret).unwrap();
    let previous = totp::code(&viewer_secret, totp::step_of(clock.now()) - 1);
    server.admin_ok(&tenant, Method::POST, &format!("/accounts/{viewer}/factors/{factor_id}/confirm"), json!({"code": previous})).await;
    server.deploy(&tenant, guests::CUSTOM_CLAIMS).await.unwrap();
    let client = server.create_client(&tenant, json!({"name": "c", "attributes": {"org": "acme"}})).await.unwrap();
    assert_eq!(server.token(&tenant, &client).await.unwrap().status(), StatusCode::OK);

    let screenshots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("console-screenshots");
    std::fs::create_dir_all(&screenshots).unwrap();
    let seen = node::run_script("browser_console.mjs", &[
        ("CONSOLE_URL", &server.url(&format!("/console/{}/", tenant.name))),
        ("USERNAME", "ann"),
        ("PASSWORD", PASSWORD),
        ("TOTP_SECRET", &totp_secret),
        ("VIEWER_USERNAME", "vic"),
        ("VIEWER_TOTP_SECRET", &viewer_totp_secret),
        ("ROOT_TOKEN", &server.root_token),
        ("COMPONENT", guests::CUSTOM_CLAIMS),
        ("SCREENSHOTS", screenshots.to_str().unwrap()),
        ("CHROMIUM", chromium.to_str().unwrap()),
    ])
    .await
    .unwrap();
    let pages = seen["pages"].as_array().unwrap();
    let names: Vec<&str> = pages.iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["dashboard", "dashboard-phone", "account", "accounts", "clients", "extension", "extensions", "apis", "events", "audit", "settings", "controls", "factors", "security", "signed-out", "viewer", "operator-signin", "operator-tenants", "operator-tenant", "operator-confirm"], "{seen}");
    for page in pages {
        let serious: Vec<_> = page["violations"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
            .collect();
        assert!(serious.is_empty(), "axe-core on {}: {serious:?}", page["name"]);
        let png = std::fs::read(page["screenshot"].as_str().unwrap()).unwrap();
        assert!(png.starts_with(b"\x89PNG") && png.len() > 5_000, "a screenshot of {}", page["name"]);
    }
    assert!(pages[0]["title"].as_str().unwrap().starts_with("Dashboard"), "{seen}");
    let cookie = &seen["cookies"][0];
    assert_eq!((cookie["httpOnly"].as_bool(), cookie["sameSite"].as_str()), (Some(true), Some("Lax")), "{seen}");
    assert_eq!(cookie["path"], format!("/console/{}", tenant.name));
    // The token the browser made and revoked is refused.
    let revoked = seen["revoked"].as_str().unwrap();
    let refused = server.http.get(server.url(&format!("/admin/v1/tenants/{}", tenant.name))).bearer_auth(revoked).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED, "a revoked token");
    let path = format!("/admin/v1/tenants/{}/events?action=token.revoked&origin=console", tenant.name);
    let events = server.get(&tenant.admin_token, &path).await.unwrap();
    assert_eq!(events.as_array().unwrap().len(), 1, "the revocation is an event: {events}");
}}

/// The text between `start` and the next `end` in `html`.
pub(super) fn between<'a>(html: &'a str, start: &str, end: &str) -> &'a str {
    let rest = html.split_once(start).unwrap_or_else(|| panic!("no {start:?} in {html}")).1;
    rest.split_once(end).unwrap_or_else(|| panic!("no {end:?} after {start:?}")).0
}

db_test! {
async fn an_administrator_manages_accounts_and_clients_in_the_console() {
    let clock = Arc::new(ManualClock::new(1_800_000_000));
    let server = TestServer::start_with_clock(clock.clone()).await.unwrap();
    let tenant = server.create_tenant("console-accounts").await.unwrap();
    let secret = account(&server, &tenant, &clock, "ann", true).await;
    let mut browser = Browser::new(&server.base_url);
    assert_eq!(sign_in(&mut browser, &tenant, &clock, "ann", &secret).await.status, StatusCode::OK);
    let base = format!("/console/{}", tenant.name);

    // Create: the account passes the same checks as the admin API's, and its event names
    // the console as its origin.
    let list = browser.get(&format!("{base}/accounts")).await.unwrap();
    assert!(list.html.contains(">ann</a>") && list.has_form("create-account"), "{}", list.html);
    let typed = [("username", "Bob"), ("email", "bob@example.com"), ("password", PASSWORD)];
    let bob = browser.submit(&list, "create-account", &typed).await.unwrap();
    assert_eq!(bob.status, StatusCode::OK, "{}", bob.html);
    assert!(bob.html.contains("<h1>Account bob</h1>") && bob.html.contains("bob@example.com"), "{}", bob.html);
    assert!(bob.html.contains("<th scope=\"row\">password</th>"), "its password factor: {}", bob.html);
    let bob_id = between(&bob.html, "<dt>Id</dt><dd><code>", "<").to_owned();
    let stored = server.get(&tenant.admin_token, &format!("/admin/v1/tenants/{}/accounts/{bob_id}", tenant.name)).await.unwrap();
    assert_eq!(stored["username"], "bob");
    let events = server.get(&tenant.admin_token, &format!("/admin/v1/tenants/{}/events", tenant.name)).await.unwrap();
    let created = events.as_array().unwrap().iter().find(|e| e["action"] == "account.created" && e["account_id"] == bob_id.as_str());
    assert_eq!(created.map(|e| e["origin"].clone()), Some(json!("console")), "{events}");
    for (typed, status, reason) in [
        ([("username", "bob"), ("email", ""), ("password", "")], StatusCode::CONFLICT, "already"),
        ([("username", "eve"), ("email", ""), ("password", "short")], StatusCode::BAD_REQUEST, "15"),
        ([("username", "eve"), ("email", "not an address"), ("password", "")], StatusCode::BAD_REQUEST, "mail"),
    ] {
        let refused = browser.submit(&list, "create-account", &typed).await.unwrap();
        assert_eq!(refused.status, status, "{typed:?}: {}", refused.html);
        assert!(refused.html.contains("role=\"alert\"") && refused.html.contains(reason), "{typed:?}: {}", refused.html);
    }
    let usernames = |page: &str| -> Vec<String> {
        page.split("<th scope=\"row\"><a href=\"").skip(1).map(|row| between(row, ">", "<").to_owned()).collect()
    };
    assert_eq!(usernames(&browser.get(&format!("{base}/accounts")).await.unwrap().html), ["admin", "ann", "bob"], "eve was never made (admin is the tenant's first administrator)");

    // Search (username or e-mail, any case; `%` and `_` are plain characters) and pages.
    for i in 0..55 {
        let email = if i == 7 { json!("Someone@Corp.Example") } else { json!(null) };
        server.admin_ok(&tenant, Method::POST, "/accounts", json!({"username": format!("user{i:02}"), "email": email})).await;
    }
    let found = browser.get(&format!("{base}/accounts?q=CORP")).await.unwrap();
    assert_eq!(usernames(&found.html), ["user07"], "{}", found.html);
    let none = browser.get(&format!("{base}/accounts?q=%25")).await.unwrap();
    assert!(usernames(&none.html).is_empty() && none.html.contains("No account matches"), "{}", none.html);
    let first = browser.get(&format!("{base}/accounts")).await.unwrap();
    let next = unescape(between(&first.html, "<p><a href=\"", "\" rel=\"next\""));
    let second = browser.get(&next).await.unwrap();
    let (first, second) = (usernames(&first.html), usernames(&second.html));
    assert_eq!((first.len(), second.len()), (50, 8), "58 accounts: {second:?}");
    assert!(first.last() < second.first(), "the second page goes on after the first: {first:?} {second:?}");

    // Disable (shown, explained, and the API agrees), enable, then delete after a question.
    let page = browser.get(&format!("{base}/accounts/{bob_id}")).await.unwrap();
    let disabled = browser.submit(&page, "account-state", &[]).await.unwrap();
    assert!(disabled.html.contains(">DISABLED</span>") && disabled.html.contains("Switched off by an administrator"), "{}", disabled.html);
    assert_eq!(server.get(&tenant.admin_token, &format!("/admin/v1/tenants/{}/accounts/{bob_id}", tenant.name)).await.unwrap()["state"], "DISABLED");
    let enabled = browser.submit(&disabled, "account-state", &[]).await.unwrap();
    assert!(enabled.html.contains(">ENABLED</span>"), "{}", enabled.html);
    // Edit contact data and attributes; a refused edit says why and writes nothing.
    let edited = browser
        .submit(&enabled, "edit-account", &[("email", "new@example.com"), ("phone", ""), ("attributes", r#"{"tier": "gold"}"#)])
        .await
        .unwrap();
    assert_eq!(edited.status, StatusCode::OK, "{}", edited.html);
    let stored = server.get(&tenant.admin_token, &format!("/admin/v1/tenants/{}/accounts/{bob_id}", tenant.name)).await.unwrap();
    assert_eq!((stored["email"].clone(), stored["attributes"]["tier"].clone()), (json!("new@example.com"), json!("gold")));
    for (attributes, reason) in [("[1]", "JSON object"), ("{", "JSON object")] {
        let refused = browser.submit(&edited, "edit-account", &[("attributes", attributes)]).await.unwrap();
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.html);
        assert!(refused.html.contains(reason), "{}", refused.html);
    }
    let refused = browser.submit(&edited, "edit-account", &[("email", "not an address")]).await.unwrap();
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.html);
    let kept = server.get(&tenant.admin_token, &format!("/admin/v1/tenants/{}/accounts/{bob_id}", tenant.name)).await.unwrap();
    assert_eq!(kept, stored, "a refused edit writes nothing");
    let question = browser.get(&format!("{base}/accounts/{bob_id}/delete")).await.unwrap();
    assert!(question.html.contains("Delete account bob?") && question.html.contains("cannot be undone"), "{}", question.html);
    let gone = browser.submit(&question, "delete-account", &[]).await.unwrap();
    assert_eq!(gone.status, StatusCode::OK);
    assert!(!usernames(&gone.html).contains(&"bob".to_owned()), "{}", gone.html);
    let path = format!("/admin/v1/tenants/{}/accounts/{bob_id}", tenant.name);
    assert_eq!(server.call(Method::GET, &tenant.admin_token, &path, None).await.unwrap().status(), StatusCode::NOT_FOUND);
    assert_eq!(browser.get(&format!("{base}/accounts/{bob_id}")).await.unwrap().status, StatusCode::NOT_FOUND);

    // Clients: the secret is shown once, on the answer that made it, and obtains a token
    // the tenant's JWKS verifies; a disabled client obtains none.
    let clients = browser.get(&format!("{base}/clients")).await.unwrap();
    assert!(clients.html.contains("No clients yet."), "{}", clients.html);
    let refused = browser.submit(&clients, "create-client", &[("name", "svc"), ("redirect_uris", "http://app.example/cb")]).await.unwrap();
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused.html.contains("plain http is allowed only on a loopback host"), "{}", refused.html);
    let made = browser.submit(&clients, "create-client", &[("name", "svc"), ("scopes", "read write")]).await.unwrap();
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.html);
    let client = keyhaven_tests::TestClient {
        client_id: between(&made.html, "<code id=\"new-client-id\">", "<").to_owned(),
        client_secret: between(&made.html, "<code id=\"new-client-secret\">", "<").to_owned(),
    };
    let response = server.token(&tenant, &client).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let access = response.json::<serde_json::Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned();
    let issuer = server.url(&format!("/t/{}", tenant.name));
    assert_eq!(server.verify(&tenant, &access, &issuer).await.unwrap()["client_id"], client.client_id.as_str());
    let listed = browser.get(&format!("{base}/clients")).await.unwrap();
    assert!(listed.html.contains(&client.client_id) && !listed.html.contains(&client.client_secret), "shown once");
    let page = browser.get(&format!("{base}/clients/{}", client.client_id)).await.unwrap();
    assert!(page.html.contains("read write") && page.html.contains("confidential"), "{}", page.html);
    // Rotation without downtime: the new secret is shown once and both work until the
    // previous one is retired.
    let rotated = browser.submit(&page, "rotate-secret", &[]).await.unwrap();
    assert_eq!(rotated.status, StatusCode::CREATED, "{}", rotated.html);
    let new = keyhaven_tests::TestClient {
        client_id: client.client_id.clone(),
        client_secret: between(&rotated.html, "<code id=\"new-client-secret\">", "<").to_owned(),
    };
    assert_ne!(new.client_secret, client.client_secret);
    assert_eq!(server.token(&tenant, &client).await.unwrap().status(), StatusCode::OK, "the previous secret still works");
    assert_eq!(server.token(&tenant, &new).await.unwrap().status(), StatusCode::OK);
    assert!(rotated.html.contains("still works") && rotated.has_form("retire-secret"), "{}", rotated.html);
    let retired = browser.submit(&rotated, "retire-secret", &[]).await.unwrap();
    assert!(!retired.has_form("retire-secret") && !retired.html.contains(&new.client_secret), "{}", retired.html);
    assert_eq!(server.token(&tenant, &client).await.unwrap().status(), StatusCode::UNAUTHORIZED);
    assert_eq!(server.token(&tenant, &new).await.unwrap().status(), StatusCode::OK);
    let page = retired;
    let disabled = browser.submit(&page, "client-state", &[]).await.unwrap();
    assert!(disabled.html.contains(">DISABLED</span>"), "{}", disabled.html);
    assert_eq!(server.token(&tenant, &new).await.unwrap().status(), StatusCode::UNAUTHORIZED);
    let public = browser.submit(&clients, "create-client", &[("name", "spa"), ("public", "on"), ("redirect_uris", "https://app.example/cb")]).await.unwrap();
    assert_eq!(public.status, StatusCode::CREATED, "{}", public.html);
    assert!(public.html.contains("new-client-id") && !public.html.contains("new-client-secret"), "a public client has no secret");
    let spa = between(&public.html, "<code id=\"new-client-id\">", "<").to_owned();
    let spa_page = browser.get(&format!("{base}/clients/{spa}")).await.unwrap();
    assert!(!spa_page.has_form("rotate-secret"), "nothing to rotate: {}", spa_page.html);
    // Its registration is edited with the registration's checks: a bad redirect URI is
    // refused and changes nothing; good ones replace the old.
    let typed = [("name", "spa"), ("scopes", "read"), ("redirect_uris", "http://app.example/cb")];
    let refused = browser.submit(&spa_page, "edit-client", &typed).await.unwrap();
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.html);
    let kept = server.get(&tenant.admin_token, &format!("/admin/v1/tenants/{}/clients/{spa}", tenant.name)).await.unwrap();
    assert_eq!(kept["redirect_uris"], json!(["https://app.example/cb"]), "{kept}");
    let typed = [("name", "web app"), ("scopes", "read write"), ("redirect_uris", "https://app.example/cb\nhttps://app.example/cb2")];
    let edited = browser.submit(&spa_page, "edit-client", &typed).await.unwrap();
    assert_eq!(edited.status, StatusCode::OK, "{}", edited.html);
    let now = server.get(&tenant.admin_token, &format!("/admin/v1/tenants/{}/clients/{spa}", tenant.name)).await.unwrap();
    assert_eq!((now["name"].as_str(), &now["scopes"]), (Some("web app"), &json!(["read", "write"])), "{now}");
    assert_eq!(now["redirect_uris"], json!(["https://app.example/cb", "https://app.example/cb2"]), "{now}");

    // A form without the anti-forgery token changes nothing; every post is audited.
    let cookie = format!("keyhaven_console={}", browser.cookie("keyhaven_console").unwrap());
    let forged = direct().post(server.url(&format!("{base}/accounts"))).header(COOKIE, &cookie).form(&[("username", "mallory")]).send().await.unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let search = browser.get(&format!("{base}/accounts?q=mallory")).await.unwrap();
    assert!(usernames(&search.html).is_empty());
    let audit = server.get(&tenant.admin_token, &format!("/admin/v1/tenants/{}/audit?limit=1000", tenant.name)).await.unwrap();
    let count = |action: &str| audit.as_array().unwrap().iter().filter(|e| e["action"] == action).count();
    assert_eq!(count("POST /console/{tenant}/accounts"), 5, "{audit}");
    assert_eq!(count("POST /console/{tenant}/accounts/{id}/state"), 2);
    assert_eq!(count("POST /console/{tenant}/accounts/{id}/delete"), 1);
    assert_eq!(count("POST /console/{tenant}/accounts/{id}"), 4);
    assert_eq!(count("POST /console/{tenant}/clients/{id}/secret"), 1);
    assert_eq!(count("POST /console/{tenant}/clients/{id}/secret/previous"), 1);
    assert_eq!(count("POST /console/{tenant}/clients"), 3);
    // Each registration is an event from the console, naming the client (never its secret).
    let path = format!("/admin/v1/tenants/{}/events?action=client.created", tenant.name);
    let created = server.get(&tenant.admin_token, &path).await.unwrap();
    let mut named: Vec<&str> = created.as_array().unwrap().iter().map(|e| e["detail"]["client_id"].as_str().unwrap()).collect();
    named.sort_unstable();
    let mut expected = vec![client.client_id.as_str(), spa.as_str()];
    expected.sort_unstable();
    assert_eq!(named, expected, "{created}");
    assert!(created.as_array().unwrap().iter().all(|e| e["origin"] == "console"), "{created}");
    assert!(!created.to_string().contains(&client.client_secret), "{created}");
}}

db_test! {
async fn another_tenants_accounts_clients_and_extensions_are_not_found_in_the_console() {
    let clock = Arc::new(ManualClock::new(1_800_000_000));
    let server = TestServer::start_with_clock(clock.clone()).await.unwrap();
    let a = server.create_tenant("console-own-a").await.unwrap();
    let b = server.create_tenant("console-own-b").await.unwrap();
    let victim = server.admin_ok(&a, Method::POST, "/accounts", json!({"username": "victim"})).await["id"].as_str().unwrap().to_owned();
    let client = server.create_client(&a, json!({"name": "a-client"})).await.unwrap();
    let deployment = server.deploy_as(&a, guests::CUSTOM_CLAIMS, "a-ext", "").await.unwrap();
    let deployment = deployment["id"].as_str().unwrap().to_owned();
    let secret = account(&server, &b, &clock, "cy", true).await;
    let mut browser = Browser::new(&server.base_url);
    assert_eq!(sign_in(&mut browser, &b, &clock, "cy", &secret).await.status, StatusCode::OK);

    // B's administrator, at B's console, names A's account and client: not found, and
    // not listed; a post at them changes nothing.
    let base = format!("/console/{}", b.name);
    for path in [
        format!("{base}/accounts/{victim}"),
        format!("{base}/accounts/{victim}/delete"),
        format!("{base}/clients/{}", client.client_id),
        format!("{base}/extensions/a-ext"),
        format!("{base}/extensions/a-ext/delete"),
        format!("{base}/extensions/a-ext/versions/{deployment}"),
    ] {
        let page = browser.get(&path).await.unwrap();
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}: {}", page.html);
        assert!(page.html.contains("<h1>Not found</h1>"), "{}", page.html);
    }
    let list = browser.get(&format!("{base}/accounts?q=victim")).await.unwrap();
    assert!(!list.html.contains("victim</a>"), "{}", list.html);
    assert!(!browser.get(&format!("{base}/clients")).await.unwrap().html.contains("a-client"));
    let csrf = between(&list.html, "name=\"csrf\" value=\"", "\"").to_owned();
    let cookie = format!("keyhaven_console={}", browser.cookie("keyhaven_console").unwrap());
    for (path, form) in [
        (format!("{base}/accounts/{victim}/state"), vec![("csrf", csrf.as_str()), ("state", "DISABLED")]),
        (format!("{base}/accounts/{victim}/delete"), vec![("csrf", csrf.as_str())]),
        (format!("{base}/clients/{}/state", client.client_id), vec![("csrf", csrf.as_str()), ("state", "DISABLED")]),
        (format!("{base}/extensions/a-ext/state"), vec![("csrf", csrf.as_str()), ("state", "DISABLED")]),
        (format!("{base}/extensions/a-ext/delete"), vec![("csrf", csrf.as_str())]),
        (format!("{base}/extensions/a-ext/activate"), vec![("csrf", csrf.as_str()), ("deployment_id", deployment.as_str())]),
        (format!("{base}/extensions/a-ext/test"), vec![("csrf", csrf.as_str()), ("deployment_id", deployment.as_str()), ("hook", "token-issuance"), ("input", "{}")]),
    ] {
        let response = direct().post(server.url(&path)).header(COOKIE, &cookie).form(&form).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
    }
    assert_eq!(server.get(&a.admin_token, &format!("/admin/v1/tenants/{}/accounts/{victim}", a.name)).await.unwrap()["state"], "ENABLED");
    assert_eq!(server.token(&a, &client).await.unwrap().status(), StatusCode::OK);
    assert!(!browser.get(&format!("{base}/extensions")).await.unwrap().html.contains("a-ext"));
    let a_ext = server.get(&a.admin_token, &format!("/admin/v1/tenants/{}/extensions/a-ext", a.name)).await.unwrap();
    assert_eq!((a_ext["state"].as_str(), a_ext["active_deployment_id"].as_str()), (Some("ENABLED"), Some(deployment.as_str())));
}}

/// The extension page of `name`, once no version of it is building; the page seen while
/// one was (if any was seen).
async fn built_extension_page(browser: &mut Browser, base: &str, name: &str) -> (Page, Option<Page>) {
    let started = std::time::Instant::now();
    let mut building = None;
    loop {
        let page = browser.get(&format!("{base}/extensions/{name}")).await.unwrap();
        assert_eq!(page.status, StatusCode::OK, "{}", page.html);
        if !page.html.contains(">PENDING<") {
            return (page, building);
        }
        building = Some(page);
        assert!(started.elapsed() < std::time::Duration::from_secs(120), "the build did not finish");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

db_test! {
async fn an_administrator_uploads_tests_and_rolls_back_an_extension_in_the_console() {
    let clock = Arc::new(ManualClock::new(1_800_000_000));
    let server = TestServer::start_with_clock(clock.clone()).await.unwrap();
    let tenant = server.create_tenant("console-extensions").await.unwrap();
    let secret = account(&server, &tenant, &clock, "ann", true).await;
    let mut browser = Browser::new(&server.base_url);
    assert_eq!(sign_in(&mut browser, &tenant, &clock, "ann", &secret).await.status, StatusCode::OK);
    let base = format!("/console/{}", tenant.name);

    // Upload: the version is accepted at once and built in the background; while it
    // builds, its page says so and reloads itself.
    let list = browser.get(&format!("{base}/extensions")).await.unwrap();
    assert!(list.has_form("upload-extension") && list.html.contains("No extensions yet."), "{}", list.html);
    let component = guests::bytes(guests::CUSTOM_CLAIMS);
    let typed = [("name", "claims"), ("bind", "auto")];
    let uploaded = browser.submit_file(&list, "upload-extension", &typed, ("file", "claims.wasm", &component)).await.unwrap();
    assert_eq!(uploaded.status, StatusCode::OK, "{}", uploaded.html);
    assert!(uploaded.html.contains("<h1>Extension claims</h1>") && uploaded.html.contains(">v1<"), "{}", uploaded.html);
    if uploaded.html.contains(">PENDING<") {
        assert!(uploaded.html.contains("http-equiv=\"refresh\"") && uploaded.html.contains("being built"), "{}", uploaded.html);
    }
    let (v1, _) = built_extension_page(&mut browser, &base, "claims").await;
    assert!(v1.html.contains(">ENABLED<") && v1.html.contains("<strong>Active</strong>"), "{}", v1.html);
    assert!(!v1.html.contains("http-equiv=\"refresh\""), "a built page stays put: {}", v1.html);
    assert!(v1.html.contains("token-issuance") && v1.html.contains("the whole tenant"), "bound once built: {}", v1.html);
    let extension = server.get(&tenant.admin_token, &format!("/admin/v1/tenants/{}/extensions/claims", tenant.name)).await.unwrap();
    let v1_id = extension["active_deployment_id"].as_str().unwrap().to_owned();

    // Test: the sample input runs as a dry run; the result shows the claims, the outcome,
    // fuel, µs and the captured log, and the invocation log lists the run.
    assert!(v1.has_form("test-extension") && v1.html.contains("&quot;grant_type&quot;"), "{}", v1.html);
    let input = r#"{"subject": {"kind": "client", "client_id": "cl_x", "name": "x", "attributes": {"org": "acme"}}, "grant_type": "client_credentials"}"#;
    // (A browser sends the selected version and hook; this one types them.)
    let chosen = [("deployment_id", v1_id.as_str()), ("hook", "token-issuance")];
    let ran = browser.submit(&v1, "test-extension", &[chosen[0], chosen[1], ("input", input)]).await.unwrap();
    assert_eq!(ran.status, StatusCode::OK, "{}", ran.html);
    assert!(ran.html.contains("<strong id=\"test-outcome\">ok</strong>"), "{}", ran.html);
    assert!(ran.html.contains("issued_by_extension") && ran.html.contains("acme"), "the claims: {}", ran.html);
    assert!(ran.html.contains("info: added claims for"), "the captured log: {}", ran.html);
    let log = between(&ran.html, "<table id=\"invocations\">", "</table>");
    assert!(log.contains("token-issuance") && log.contains("(test)") && log.contains(">ok<"), "{log}");
    let bad = browser.submit(&v1, "test-extension", &[chosen[0], chosen[1], ("input", "{not json")]).await.unwrap();
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.html);
    assert!(bad.html.contains("the input is not JSON") && bad.html.contains("{not json</textarea>"), "kept: {}", bad.html);

    // A second version becomes the active one once built; rolling back brings v1 back.
    let page = browser.get(&format!("{base}/extensions")).await.unwrap();
    assert!(page.html.contains(">claims</a>") && page.html.contains("v1"), "{}", page.html);
    let misbehaving = guests::bytes(guests::MISBEHAVING);
    browser.submit_file(&page, "upload-extension", &[("name", "claims")], ("file", "v2.wasm", &misbehaving)).await.unwrap();
    let (v2, _) = built_extension_page(&mut browser, &base, "claims").await;
    let active = server.get(&tenant.admin_token, &format!("/admin/v1/tenants/{}/extensions/claims", tenant.name)).await.unwrap();
    assert_ne!(active["active_deployment_id"], v1_id, "{active}");
    assert!(v2.has_form("rollback") && v2.has_form("activate-1"), "{}", v2.html);
    let rolled = browser.submit(&v2, "rollback", &[]).await.unwrap();
    assert_eq!(rolled.status, StatusCode::OK, "{}", rolled.html);
    let active = server.get(&tenant.admin_token, &format!("/admin/v1/tenants/{}/extensions/claims", tenant.name)).await.unwrap();
    assert_eq!(active["active_deployment_id"], v1_id, "{active}");
    assert!(!rolled.has_form("rollback") && rolled.has_form("activate-2"), "v1 has nothing earlier: {}", rolled.html);

    // Configuration and a write-only secret: the name is listed, never the value.
    let configured = browser.submit(&rolled, "extension-config", &[("config", r#"{"region": "eu"}"#)]).await.unwrap();
    assert!(configured.html.contains("&quot;region&quot;: &quot;eu&quot;"), "{}", configured.html);
    let refused = browser.submit(&configured, "extension-config", &[("config", r#"{"n": 1}"#)]).await.unwrap();
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.html);
    let with_secret = browser.submit(&configured, "set-secret", &[("secret", "api-key"), ("value", "s3cr3t-value")]).await.unwrap();
    assert!(with_secret.html.contains("<code>api-key</code>") && !with_secret.html.contains("s3cr3t-value"), "{}", with_secret.html);
    // A name that is no path segment is set and deleted all the same.
    let odd = browser.submit(&with_secret, "set-secret", &[("secret", "a/b?c#d"), ("value", "v")]).await.unwrap();
    assert!(odd.html.contains("<code>a/b?c#d</code>"), "{}", odd.html);
    // Secrets are listed by name: "a/b?c#d" before "api-key".
    let without = browser.submit(&odd, "delete-secret-0", &[]).await.unwrap();
    assert!(!without.html.contains("a/b?c#d") && without.html.contains("<code>api-key</code>"), "{}", without.html);

    // A file of no known kind, or a bad name, is refused with the reason; nothing is stored.
    let list = browser.get(&format!("{base}/extensions")).await.unwrap();
    let text = browser.submit_file(&list, "upload-extension", &[("name", "claims")], ("file", "notes.txt", b"hello")).await.unwrap();
    assert_eq!(text.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{}", text.html);
    assert!(text.html.contains("choose a component (.wasm)"), "{}", text.html);
    let bad_name = browser.submit_file(&list, "upload-extension", &[("name", "Bad Name")], ("file", "c.wasm", &component)).await.unwrap();
    assert_eq!(bad_name.status, StatusCode::BAD_REQUEST, "{}", bad_name.html);
    let versions = server.get(&tenant.admin_token, &format!("/admin/v1/tenants/{}/deployments", tenant.name)).await.unwrap();
    assert_eq!(versions.as_array().unwrap().len(), 2, "nothing stored: {versions}");
    let v1_page = browser.get(&format!("{base}/extensions/claims/versions/{v1_id}")).await.unwrap();
    assert!(v1_page.html.contains("claims v1") && !v1_page.html.contains("id=\"source\""), "{}", v1_page.html);

    // A form from elsewhere (no anti-forgery token) is refused, the upload too.
    let cookie = format!("keyhaven_console={}", browser.cookie("keyhaven_console").unwrap());
    let forged = direct()
        .post(server.url(&format!("{base}/extensions/claims/state")))
        .header(COOKIE, &cookie)
        .form(&[("state", "DISABLED")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let forged_upload = direct()
        .post(server.url(&format!("{base}/extensions")))
        .header(COOKIE, &cookie)
        .header(reqwest::header::CONTENT_TYPE, "multipart/form-data; boundary=x")
        .body("--x\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nforged\r\n--x--\r\n")
        .send()
        .await
        .unwrap();
    assert_eq!(forged_upload.status(), StatusCode::FORBIDDEN);
    assert_eq!(server.get(&tenant.admin_token, &format!("/admin/v1/tenants/{}/extensions", tenant.name)).await.unwrap().as_array().unwrap().len(), 1);

    // Disable, then delete after the question.
    let disabled = browser.submit(&with_secret, "extension-state", &[]).await.unwrap();
    assert!(disabled.html.contains(">DISABLED<") && disabled.html.contains(">Enable<"), "{}", disabled.html);
    let question = browser.get(&format!("{base}/extensions/claims/delete")).await.unwrap();
    assert!(question.has_form("delete-extension"), "{}", question.html);
    let gone = browser.submit(&question, "delete-extension", &[]).await.unwrap();
    assert!(gone.html.contains("No extensions yet."), "{}", gone.html);
    let missing = browser.get(&format!("{base}/extensions/claims")).await.unwrap();
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}}

db_test! {
async fn pasted_javascript_that_does_not_build_shows_why_and_its_source_in_the_console() {
    let clock = Arc::new(ManualClock::new(1_800_000_000));
    let node = keyhaven::extensions::NodeLimits {
        js_builder: Some(keyhaven_tests::js::builder_script().unwrap()),
        ..keyhaven_tests::test_node_limits()
    };
    let server = TestServer::start_with_node_and_clock(node, clock.clone()).await.unwrap();
    let tenant = server.create_tenant("console-js").await.unwrap();
    let secret = account(&server, &tenant, &clock, "ann", true).await;
    let mut browser = Browser::new(&server.base_url);
    assert_eq!(sign_in(&mut browser, &tenant, &clock, "ann", &secret).await.status, StatusCode::OK);
    let base = format!("/console/{}", tenant.name);

    // Pasted (no file chosen): built in the background, FAILED with the build's reason.
    let broken = "export async function onTokenIssuance(event, api) {\n  const = 1;\n}\n";
    let list = browser.get(&format!("{base}/extensions")).await.unwrap();
    let typed = [("name", "broken"), ("source", broken), ("language", "javascript")];
    let uploaded = browser.submit_file(&list, "upload-extension", &typed, ("file", "", b"")).await.unwrap();
    assert_eq!(uploaded.status, StatusCode::OK, "{}", uploaded.html);
    let (failed, _) = built_extension_page(&mut browser, &base, "broken").await;
    assert!(failed.html.contains(">FAILED<") && failed.html.contains("handler.js:2:"), "the reason: {}", failed.html);
    assert!(failed.html.contains("none: nothing runs"), "a failed build is not active: {}", failed.html);
    assert!(!failed.has_form("test-extension"), "nothing built to test: {}", failed.html);

    // The version's page is the code view: the source as pasted.
    let versions = server.get(&tenant.admin_token, &format!("/admin/v1/tenants/{}/deployments", tenant.name)).await.unwrap();
    let id = versions[0]["id"].as_str().unwrap();
    let version = browser.get(&format!("{base}/extensions/broken/versions/{id}")).await.unwrap();
    assert_eq!(version.status, StatusCode::OK, "{}", version.html);
    assert!(version.html.contains("id=\"source\"") && version.html.contains("const = 1;"), "{}", version.html);
    assert!(version.html.contains("uploaded as javascript"), "{}", version.html);
    // Under another extension's name the version is not found.
    let elsewhere = browser.get(&format!("{base}/extensions/other/versions/{id}")).await.unwrap();
    assert_eq!(elsewhere.status, StatusCode::NOT_FOUND);
}}

db_test! {
async fn a_viewer_sees_every_screen_without_a_write_control_and_the_server_refuses_their_changes() {
    let clock = Arc::new(ManualClock::new(1_800_000_000));
    let server = TestServer::start_with_clock(clock.clone()).await.unwrap();
    let tenant = server.create_tenant("console-viewer").await.unwrap();
    let bob = server.admin_ok(&tenant, Method::POST, "/accounts", json!({"username": "bob"})).await["id"].as_str().unwrap().to_owned();
    let client = server.create_client(&tenant, json!({"name": "billing"})).await.unwrap();
    server.deploy_as(&tenant, guests::CUSTOM_CLAIMS, "claims", "").await.unwrap();
    let secret = account_holding(&server, &tenant, &clock, "vi", Some("admin:read")).await;
    let mut browser = Browser::new(&server.base_url);
    let dashboard = sign_in(&mut browser, &tenant, &clock, "vi", &secret).await;
    assert_eq!(dashboard.status, StatusCode::OK, "a viewer signs in: {}", dashboard.html);
    assert!(dashboard.html.contains("signed in as a viewer"), "{}", dashboard.html);
    let base = format!("/console/{}", tenant.name);

    // Every screen is there, with the data, and no form but signing out.
    for (path, shows) in [
        (format!("{base}/"), "Dashboard"),
        (format!("{base}/accounts"), ">bob</a>"),
        (format!("{base}/accounts/{bob}"), "Account bob"),
        (format!("{base}/clients"), "billing"),
        (format!("{base}/clients/{}", client.client_id), "billing"),
        (format!("{base}/extensions"), ">claims</a>"),
        (format!("{base}/extensions/claims"), "<strong>Active</strong>"),
        (format!("{base}/tokens"), "Personal access tokens"),
        (format!("{base}/settings"), "Signing keys"),
        (format!("{base}/events"), "account.created"),
        (format!("{base}/audit"), "POST /admin/v1/tenants/{tenant}/accounts"),
        (format!("{base}/security"), "This session"),
        (format!("{base}/controls"), "<code>openid</code>"),
        (format!("{base}/factors"), "Allowed: <code>password</code> <code>otp</code> <code>totp</code>"),
    ] {
        let page = browser.get(&path).await.unwrap();
        assert_eq!(page.status, StatusCode::OK, "{path}: {}", page.html);
        assert!(page.html.contains(shows), "{path} shows {shows}: {}", page.html);
        // (Filtering the events and searching the audit log are GET forms: reading.)
        let forms: Vec<String> = page.forms().into_iter().filter(|f| f != "event-filter" && f != "audit-search").collect();
        assert_eq!(forms, ["signout"], "{path}: no write control for a viewer");
        assert_eq!(page.html.matches("method=\"post\"").count(), 1, "{path}: only signing out posts");
        assert!(!page.html.contains("Delete…"), "{path}");
    }

    // Their posts, with the right anti-forgery token, are refused and change nothing.
    let page = browser.get(&format!("{base}/accounts")).await.unwrap();
    let csrf = between(&page.html, "name=\"csrf\" value=\"", "\"").to_owned();
    let cookie = format!("keyhaven_console={}", browser.cookie("keyhaven_console").unwrap());
    let deployment = server.get(&tenant.admin_token, &format!("/admin/v1/tenants/{}/extensions/claims", tenant.name)).await.unwrap();
    let deployment = deployment["active_deployment_id"].as_str().unwrap().to_owned();
    for (path, form) in [
        (format!("{base}/accounts"), vec![("username", "eve")]),
        (format!("{base}/accounts/{bob}/state"), vec![("state", "DISABLED")]),
        (format!("{base}/accounts/{bob}/delete"), vec![]),
        (format!("{base}/clients/{}/secret", client.client_id), vec![]),
        (format!("{base}/extensions/claims/state"), vec![("state", "DISABLED")]),
        (format!("{base}/extensions/claims/test"), vec![("deployment_id", deployment.as_str()), ("hook", "token-issuance"), ("input", "{}")]),
        (format!("{base}/tokens"), vec![("name", "mine"), ("role", "tenant-admin")]),
        (format!("{base}/settings"), vec![("label", "Taken over")]),
        (format!("{base}/settings/rotate-key"), vec![]),
        (format!("{base}/factors"), vec![("totp", "on")]),
    ] {
        let mut form = form;
        form.push(("csrf", csrf.as_str()));
        let response = direct().post(server.url(&path)).header(COOKIE, &cookie).form(&form).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path}");
        assert!(response.text().await.unwrap().contains("read-only for you"), "{path}: the reason is shown");
    }
    let upload = format!("--x\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n--x\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nmine\r\n--x\r\nContent-Disposition: form-data; name=\"source\"\r\n\r\nexport function onTokenIssuance() {{}}\r\n--x--\r\n");
    let response = direct()
        .post(server.url(&format!("{base}/extensions")))
        .header(COOKIE, &cookie)
        .header(reqwest::header::CONTENT_TYPE, "multipart/form-data; boundary=x")
        .body(upload)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let admin_path = |path: &str| format!("/admin/v1/tenants/{}{path}", tenant.name);
    assert_eq!(server.get(&tenant.admin_token, &admin_path(&format!("/accounts/{bob}"))).await.unwrap()["state"], "ENABLED");
    assert!(!server.get(&tenant.admin_token, &admin_path("/accounts")).await.unwrap().to_string().contains("\"eve\""), "no eve");
    assert_eq!(server.get(&tenant.admin_token, &admin_path("/extensions")).await.unwrap().as_array().unwrap().len(), 1);
    assert_eq!(server.get(&tenant.admin_token, &admin_path("/extensions/claims")).await.unwrap()["state"], "ENABLED");
    assert_eq!(server.token(&tenant, &client).await.unwrap().status(), StatusCode::OK, "the secret was not rotated");
    let audit = server.get(&tenant.admin_token, &admin_path("/audit?limit=1000")).await.unwrap();
    let refused: Vec<_> = audit.as_array().unwrap().iter().filter(|e| e["role"] == "tenant-viewer" && e["status"] == 403 && e["action"].as_str().unwrap().starts_with("POST ")).collect();
    assert_eq!(refused.len(), 11, "each refused post is audited as the viewer's: {audit}");
    let after = server.get(&tenant.admin_token, &admin_path("")).await.unwrap();
    assert_ne!(after["label"], "Taken over");
    assert_eq!(server.get(&tenant.admin_token, &admin_path("/keys")).await.unwrap().as_array().unwrap().len(), 1, "no rotation");

    // A viewer signs out like anyone.
    let signed_out = browser.submit(&page, "signout", &[]).await.unwrap();
    assert!(signed_out.html.contains("You are signed out"), "{}", signed_out.html);
}}

db_test! {
async fn an_administrator_changes_the_tenants_settings_and_rotates_its_key_in_the_console() {
    let clock = Arc::new(ManualClock::new(1_800_000_000));
    let server = TestServer::start_with_clock(clock.clone()).await.unwrap();
    let tenant = server.create_tenant("console-settings").await.unwrap();
    let secret = account(&server, &tenant, &clock, "ann", true).await;
    let mut browser = Browser::new(&server.base_url);
    assert_eq!(sign_in(&mut browser, &tenant, &clock, "ann", &secret).await.status, StatusCode::OK);
    let base = format!("/console/{}", tenant.name);
    let admin_path = |path: &str| format!("/admin/v1/tenants/{}{path}", tenant.name);
    let page = browser.get(&format!("{base}/settings")).await.unwrap();
    assert!(page.has_form("tenant-settings") && page.has_form("rotate-key"), "{}", page.html);
    assert!(page.html.contains("value=\"30\"") && page.html.contains(">ES256<"), "the defaults in force: {}", page.html);

    // (A browser sends every field; this one types them.)
    let form = |idle: &'static str, account_days: &'static str| {
        vec![
            ("label", "Acme Corp"), ("colour", "#AA3300"), ("session_idle_minutes", idle), ("stay_signed_in_days", "14"),
            ("second_factor_required", "on"), ("account_inactivity_days", account_days), ("tenant_inactivity_days", ""),
            ("human_access_token_minutes", "60"), ("client_access_token_minutes", "1440"), ("id_token_minutes", "60"),
            ("refresh_token_idle_days", "30"), ("signing_algorithm", "EdDSA"), ("signing_key_rotation_days", "90"),
        ]
    };
    // A refused value writes nothing, and says why.
    for (idle, days, why) in [("soon", "", "whole number"), ("45", "500", "400")] {
        let refused = browser.submit(&page, "tenant-settings", &form(idle, days)).await.unwrap();
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.html);
        assert!(refused.html.contains(why), "{why}: {}", refused.html);
    }
    assert_ne!(server.get(&tenant.admin_token, &admin_path("")).await.unwrap()["label"], "Acme Corp");

    let saved = browser.submit(&page, "tenant-settings", &form("45", "")).await.unwrap();
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.html);
    let now = server.get(&tenant.admin_token, &admin_path("")).await.unwrap();
    assert_eq!((now["label"].as_str(), now["colour"].as_str()), (Some("Acme Corp"), Some("#aa3300")), "{now}");
    assert_eq!(now["settings"]["session_idle_seconds"], 45 * 60, "{now}");
    assert_eq!(now["settings"]["second_factor_required"], true, "{now}");
    assert_eq!(now["settings"]["signing_algorithm"], "EdDSA", "{now}");
    // Only what changed is kept as the tenant's own: the rest follows the defaults.
    let events = server.get(&tenant.admin_token, &admin_path("/events")).await.unwrap();
    let updated = events.as_array().unwrap().iter().find(|e| e["action"] == "tenant.updated").unwrap_or_else(|| panic!("{events}"));
    assert_eq!(updated["origin"], "console", "{updated}");
    let changed = updated["detail"].to_string();
    assert!(changed.contains("session_idle_seconds") && !changed.contains("stay_signed_in_seconds"), "{changed}");
    // The new algorithm rotated the key at once.
    let keys = server.get(&tenant.admin_token, &admin_path("/keys")).await.unwrap();
    let signing: Vec<_> = keys.as_array().unwrap().iter().filter(|k| k["state"] == "ENABLED").collect();
    assert_eq!(signing.len(), 1, "{keys}");
    assert_eq!(signing[0]["algorithm"], "EdDSA", "{keys}");
    let theme = server.http.get(server.url(&format!("{base}/theme.css"))).send().await.unwrap().text().await.unwrap();
    assert!(theme.contains("#aa3300"), "the console takes the colour: {theme}");

    // Saving again unchanged changes nothing; rotating now adds a key.
    let before = keys.as_array().unwrap().len();
    let again = browser.submit(&saved, "tenant-settings", &form("45", "")).await.unwrap();
    assert_eq!(again.status, StatusCode::OK);
    let rotated = browser.submit(&again, "rotate-key", &[]).await.unwrap();
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.html);
    let keys = server.get(&tenant.admin_token, &admin_path("/keys")).await.unwrap();
    assert_eq!(keys.as_array().unwrap().len(), before + 1, "{keys}");
    let events = server.get(&tenant.admin_token, &admin_path("/events")).await.unwrap();
    assert_eq!(events.as_array().unwrap().iter().filter(|e| e["action"] == "tenant.updated").count(), 1, "{events}");
    assert!(events.as_array().unwrap().iter().any(|e| e["action"] == "key.rotated" && e["origin"] == "console"), "{events}");

    // Tags, one key=value a line: a bad key is refused and changes nothing; good ones
    // replace the old. A form without the field keeps them.
    let mut with_tags = form("45", "");
    with_tags.push(("tags", "Bad Key=1"));
    let refused = browser.submit(&rotated, "tenant-settings", &with_tags).await.unwrap();
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.html);
    assert_eq!(server.get(&tenant.admin_token, &admin_path("")).await.unwrap()["tags"], json!({}));
    with_tags.pop();
    with_tags.push(("tags", "team = core\nregion=eu"));
    let tagged = browser.submit(&rotated, "tenant-settings", &with_tags).await.unwrap();
    assert_eq!(tagged.status, StatusCode::OK, "{}", tagged.html);
    assert_eq!(server.get(&tenant.admin_token, &admin_path("")).await.unwrap()["tags"], json!({"region": "eu", "team": "core"}));
    assert!(tagged.html.contains("region=eu\nteam=core</textarea>"), "{}", tagged.html);
    browser.submit(&tagged, "tenant-settings", &form("45", "")).await.unwrap();
    assert_eq!(server.get(&tenant.admin_token, &admin_path("")).await.unwrap()["tags"], json!({"region": "eu", "team": "core"}));
    // Its sub-tenants are listed; a sub-tenant's settings name its parent.
    let child = server.create_tenant_with(json!({"name": keyhaven_tests::unique_name("console-settings-child"), "parent": tenant.name})).await.unwrap();
    let page = browser.get(&format!("{base}/settings")).await.unwrap();
    assert!(between(&page.html, "<ul id=\"subtenants\">", "</ul>").contains(&child.name), "{}", page.html);
}}

db_test! {
async fn an_administrator_filters_the_events_and_searches_the_audit_log_in_the_console() {
    let clock = Arc::new(ManualClock::new(1_800_000_000));
    let server = TestServer::start_with_clock(clock.clone()).await.unwrap();
    let tenant = server.create_tenant("console-activity").await.unwrap();
    let other = server.create_tenant("console-activity-other").await.unwrap();
    let secret = account(&server, &tenant, &clock, "ann", true).await;
    let mut browser = Browser::new(&server.base_url);
    assert_eq!(sign_in(&mut browser, &tenant, &clock, "ann", &secret).await.status, StatusCode::OK);
    let base = format!("/console/{}", tenant.name);
    let admin_path = |path: &str| format!("/admin/v1/tenants/{}{path}", tenant.name);

    // Events from two origins, and one of another tenant's.
    let accounts = browser.get(&format!("{base}/accounts")).await.unwrap();
    let made = browser.submit(&accounts, "create-account", &[("username", "made-in-console"), ("email", ""), ("password", "")]).await.unwrap();
    assert_eq!(made.status, StatusCode::OK, "{}", made.html);
    let console_made = between(&made.html, "<dt>Id</dt><dd><code>", "</code>").to_owned();
    assert!(console_made.starts_with("acc_"), "{console_made}");
    let api_made = server.admin_ok(&tenant, Method::POST, "/accounts", json!({"username": "made-by-api"})).await["id"].as_str().unwrap().to_owned();
    let elsewhere = server.admin_ok(&other, Method::POST, "/accounts", json!({"username": "elsewhere"})).await["id"].as_str().unwrap().to_owned();

    let all = browser.get(&format!("{base}/events")).await.unwrap();
    assert_eq!(all.status, StatusCode::OK, "{}", all.html);
    assert!(all.has_form("event-filter"), "{}", all.html);
    assert!(all.html.contains(&console_made) && all.html.contains(&api_made), "{}", all.html);
    assert!(!all.html.contains(&elsewhere), "another tenant's event: {}", all.html);
    // Filtered by origin: only the console's account.
    let by_console = browser.get(&format!("{base}/events?category=&action=account.created&result=&origin=console&account_id=")).await.unwrap();
    assert_eq!(by_console.status, StatusCode::OK, "{}", by_console.html);
    assert!(by_console.html.contains(&console_made) && !by_console.html.contains(&api_made), "{}", by_console.html);
    assert!(by_console.html.contains("value=\"console\""), "the filter is kept: {}", by_console.html);
    // By account, and one that matches nothing; another tenant's account finds nothing.
    let by_account = browser.get(&format!("{base}/events?account_id={api_made}")).await.unwrap();
    assert!(by_account.html.contains(&api_made) && !by_account.html.contains(&console_made), "{}", by_account.html);
    let none = browser.get(&format!("{base}/events?result=failed&origin=console")).await.unwrap();
    assert!(none.html.contains("No event matches."), "{}", none.html);
    let theirs = browser.get(&format!("{base}/events?account_id={elsewhere}")).await.unwrap();
    assert!(theirs.html.contains("No event matches.") && !theirs.html.contains("elsewhere"), "{}", theirs.html);
    // A result no event has is refused with why, the form kept.
    let refused = browser.get(&format!("{base}/events?result=maybe")).await.unwrap();
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.html);
    assert!(refused.html.contains("not success, failed or pending") && refused.has_form("event-filter"), "{}", refused.html);
    // The admin API filters the same way.
    let listed = server.get(&tenant.admin_token, &admin_path("/events?origin=console&action=account.created")).await.unwrap();
    let ids: Vec<&str> = listed.as_array().unwrap().iter().filter_map(|e| e["account_id"].as_str()).collect();
    assert_eq!(ids, [console_made.as_str()], "{listed}");
    let bad = server.http.get(server.url(&admin_path("/events?result=maybe"))).bearer_auth(&tenant.admin_token).send().await.unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);

    // Page views are audited too, naming who viewed them: six views of the Events screen,
    // the refused one "failed".
    let views = server.get(&tenant.admin_token, &admin_path("/audit?q=GET+%2Fconsole%2F%7Btenant%7D%2Fevents&limit=100")).await.unwrap();
    let views = views.as_array().unwrap();
    assert_eq!(views.len(), 6, "{views:?}");
    assert!(views.iter().all(|v| v["role"] == "tenant-admin" && v["actor"] != "anonymous"), "{views:?}");
    assert_eq!(views.iter().filter(|v| v["result"] == "failed").count(), 1, "{views:?}");
    // The audit log: the console's post and the admin API's calls; a refused post is
    // "failed"; searching finds by text, result and role, whatever the case.
    let refused_post = browser.submit(&accounts, "create-account", &[("username", ""), ("email", ""), ("password", "")]).await.unwrap();
    assert_eq!(refused_post.status, StatusCode::BAD_REQUEST, "{}", refused_post.html);
    let audit = browser.get(&format!("{base}/audit")).await.unwrap();
    assert_eq!(audit.status, StatusCode::OK, "{}", audit.html);
    assert!(audit.has_form("audit-search"), "{}", audit.html);
    assert!(audit.html.contains("POST /console/{tenant}/accounts") && audit.html.contains("POST /admin/v1/tenants/{tenant}/accounts"), "{}", audit.html);
    assert!(!audit.html.contains(&other.name), "another tenant's entries: {}", audit.html);
    let failed = browser.get(&format!("{base}/audit?q=Post+%2FCONSOLE&result=failed&role=")).await.unwrap();
    assert_eq!(failed.status, StatusCode::OK, "{}", failed.html);
    let rows = between(&failed.html, "<tbody>", "</tbody>");
    assert_eq!(rows.matches("<tr>").count(), 1, "one refused console post: {rows}");
    assert!(rows.contains("POST /console/{tenant}/accounts") && rows.contains(">400<"), "{rows}");
    let viewers = browser.get(&format!("{base}/audit?role=tenant-viewer")).await.unwrap();
    assert!(viewers.html.contains("No entry matches."), "{}", viewers.html);
    // `%` and `_` are searched as themselves, not as patterns.
    let literal = browser.get(&format!("{base}/audit?q=%25")).await.unwrap();
    assert!(literal.html.contains("No entry matches."), "{}", literal.html);
    let refused = browser.get(&format!("{base}/audit?role=root")).await.unwrap();
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.html);
    assert!(unescape(&refused.html).contains("role \"root\" is not one of"), "{}", refused.html);

    // Pages of 50, newest first, following each other with no entry twice.
    for _ in 0..55 {
        server.get(&tenant.admin_token, &admin_path("/clients")).await.unwrap();
    }
    let first = browser.get(&format!("{base}/audit?q=%2Fclients")).await.unwrap();
    let rows = between(&first.html, "<tbody>", "</tbody>").to_owned();
    assert_eq!(rows.matches("<tr>").count(), 50, "{rows}");
    let next = unescape(between(&first.html, "<a rel=\"next\" href=\"", "\""));
    let second = browser.get(&next).await.unwrap();
    assert_eq!(second.status, StatusCode::OK, "{next}: {}", second.html);
    let rest = between(&second.html, "<tbody>", "</tbody>");
    assert_eq!(rest.matches("<tr>").count(), 5, "{rest}");
    assert!(!second.html.contains("rel=\"next\""), "the last page: {}", second.html);
    let api = server.get(&tenant.admin_token, &admin_path("/audit?q=%2Fclients&limit=1000")).await.unwrap();
    assert_eq!(api.as_array().unwrap().len(), 55, "the admin API searches the same way");
}}

db_test! {
async fn an_administrator_changes_their_password_adds_an_authenticator_app_and_ends_a_session_in_the_console() {
    let clock = Arc::new(ManualClock::new(1_800_000_000));
    let server = TestServer::start_with_clock(clock.clone()).await.unwrap();
    let tenant = server.create_tenant("console-security").await.unwrap();
    let secret = account(&server, &tenant, &clock, "ann", true).await;
    let other_secret = account(&server, &tenant, &clock, "bea", true).await;
    let mut browser = Browser::new(&server.base_url);
    assert_eq!(sign_in(&mut browser, &tenant, &clock, "ann", &secret).await.status, StatusCode::OK);
    clock.advance(30);
    let mut laptop = Browser::new(&server.base_url);
    assert_eq!(sign_in(&mut laptop, &tenant, &clock, "ann", &secret).await.status, StatusCode::OK);
    clock.advance(30);
    let mut bea = Browser::new(&server.base_url);
    assert_eq!(sign_in(&mut bea, &tenant, &clock, "bea", &other_secret).await.status, StatusCode::OK);
    let base = format!("/console/{}", tenant.name);
    let admin_path = |path: &str| format!("/admin/v1/tenants/{}{path}", tenant.name);

    let page = browser.get(&format!("{base}/security")).await.unwrap();
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.has_form("change-password") && page.has_form("add-totp"), "{}", page.html);
    let sessions = between(&page.html, "<table id=\"my-sessions\">", "</table>").to_owned();
    assert_eq!(sessions.matches("<tr>").count(), 3, "a header and ann's two sessions, not bea's: {sessions}");
    assert_eq!(sessions.matches("This session").count(), 1, "{sessions}");
    let laptop_form = page.form_starting("end-").unwrap_or_else(|| panic!("{}", page.html));

    // The password: refused while the current one is wrong, the new ones differ or are
    // too short, each with why and nothing changed; then changed.
    let new_password = "an even longer passphrase";
    for (current, new, repeated, why) in [
        ("not the password at all", new_password, new_password, "current password is not right"),
        (PASSWORD, new_password, "another longer passphrase", "the two new passwords differ"),
        (PASSWORD, "short", "short", "15 to 100 characters"),
    ] {
        let refused = browser.submit(&page, "change-password", &[("current", current), ("new", new), ("repeated", repeated)]).await.unwrap();
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{why}: {}", refused.html);
        assert!(refused.html.contains(why), "{why}: {}", refused.html);
    }
    let changed = browser.submit(&page, "change-password", &[("current", PASSWORD), ("new", new_password), ("repeated", new_password)]).await.unwrap();
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.html);
    assert!(changed.html.contains("Your password is changed."), "{}", changed.html);
    // The hosted login takes the new password, no longer the old one.
    for (password, works) in [(PASSWORD, false), (new_password, true)] {
        let mut fresh = Browser::new(&server.base_url);
        let login = fresh.open(&format!("{base}/")).await.unwrap();
        let login = fresh.submit(&login, "identify", &[("username", "ann")]).await.unwrap();
        let next = fresh.submit(&login, "password-form", &[("password", password)]).await.unwrap();
        assert_eq!(!next.html.contains("authentication failed"), works, "{password}: {}", next.html);
    }
    let events = server.get(&tenant.admin_token, &admin_path("/events?action=password.changed&origin=console")).await.unwrap();
    assert_eq!(events.as_array().unwrap().len(), 1, "{events}");
    // Enrolments never change: the new password is a new factor, the old one disabled.
    let replaced = &events[0]["detail"];
    let all = server.get(&tenant.admin_token, &admin_path("/accounts?limit=10")).await.unwrap();
    let ann_id = all.as_array().unwrap().iter().find(|a| a["username"] == "ann").unwrap()["id"].as_str().unwrap().to_owned();
    let passwords: Vec<(String, String)> = server.get(&tenant.admin_token, &admin_path(&format!("/accounts/{ann_id}"))).await.unwrap()["factors"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "password")
        .map(|f| (f["id"].as_str().unwrap().to_owned(), f["state"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(passwords, [
        (replaced["replaces"].as_str().unwrap().to_owned(), "DISABLED".to_owned()),
        (replaced["factor_id"].as_str().unwrap().to_owned(), "ENABLED".to_owned()),
    ]);

    // An authenticator app: a QR code and the secret; a wrong code shows them again; the
    // app's code confirms it.
    let added = browser.submit(&changed, "add-totp", &[]).await.unwrap();
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.html);
    assert!(added.html.contains("<svg class=\"qr\"") && added.html.contains("<path d=\"M"), "{}", added.html);
    let new_secret = between(&added.html, "<code id=\"totp-secret\">", "</code>").to_owned();
    let wrong = browser.submit(&added, "confirm-totp", &[("code", "000000")]).await.unwrap();
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST, "{}", wrong.html);
    assert!(wrong.html.contains("not valid now") && wrong.html.contains(&new_secret), "the same secret again: {}", wrong.html);
    let code = totp::code(&totp::from_base32(&new_secret).unwrap(), totp::step_of(clock.now()));
    let confirmed = browser.submit(&wrong, "confirm-totp", &[("code", &code)]).await.unwrap();
    assert_eq!(confirmed.status, StatusCode::OK, "{}", confirmed.html);
    assert!(confirmed.html.contains("Your authenticator app is set up."), "{}", confirmed.html);
    let me = server.get(&tenant.admin_token, &admin_path("/accounts?limit=10")).await.unwrap();
    let ann = me.as_array().unwrap().iter().find(|a| a["username"] == "ann").unwrap()["id"].as_str().unwrap().to_owned();
    let factors = server.get(&tenant.admin_token, &admin_path(&format!("/accounts/{ann}"))).await.unwrap()["factors"].clone();
    let totps: Vec<_> = factors.as_array().unwrap().iter().filter(|f| f["kind"] == "totp" && f["state"] == "ENABLED").collect();
    assert_eq!(totps.len(), 2, "{factors}");

    // A factor disabled and enabled again; another account's factor is not found.
    let new_factor = totps.iter().map(|f| f["id"].as_str().unwrap()).max().unwrap().to_owned();
    let disabled = browser.submit(&confirmed, &format!("factor-{new_factor}"), &[]).await.unwrap();
    assert_eq!(disabled.status, StatusCode::OK, "{}", disabled.html);
    let factor = server.get(&tenant.admin_token, &admin_path(&format!("/accounts/{ann}"))).await.unwrap()["factors"].clone();
    assert!(factor.as_array().unwrap().iter().any(|f| f["id"] == new_factor.as_str() && f["state"] == "DISABLED"), "{factor}");
    let enabled = browser.submit(&disabled, &format!("factor-{new_factor}"), &[]).await.unwrap();
    assert_eq!(enabled.status, StatusCode::OK, "{}", enabled.html);
    let bea_id = me.as_array().unwrap().iter().find(|a| a["username"] == "bea").unwrap()["id"].as_str().unwrap().to_owned();
    let bea_factors = server.get(&tenant.admin_token, &admin_path(&format!("/accounts/{bea_id}"))).await.unwrap()["factors"].clone();
    let bea_factor = bea_factors[0]["id"].as_str().unwrap();
    let csrf = between(&enabled.html, "name=\"csrf\" value=\"", "\"").to_owned();
    let cookie = format!("keyhaven_console={}", browser.cookie("keyhaven_console").unwrap());
    let theirs = direct()
        .post(server.url(&format!("{base}/security/factors/{bea_factor}/state")))
        .header(COOKIE, &cookie)
        .form(&[("csrf", csrf.as_str()), ("state", "DISABLED")])
        .send()
        .await
        .unwrap();
    assert_eq!(theirs.status(), StatusCode::NOT_FOUND);
    let bea_factors_after = server.get(&tenant.admin_token, &admin_path(&format!("/accounts/{bea_id}"))).await.unwrap()["factors"].clone();
    assert_eq!(bea_factors_after, bea_factors, "bea's factors are unchanged");

    // The laptop's session ended: the laptop is signed out; bea's session cannot be ended here.
    let bea_sessions = server.get(&tenant.admin_token, &admin_path(&format!("/accounts/{bea_id}/sessions"))).await.unwrap();
    let bea_session = bea_sessions[0]["id"].as_str().unwrap();
    let theirs = direct()
        .post(server.url(&format!("{base}/security/sessions/{bea_session}/end")))
        .header(COOKIE, &cookie)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(theirs.status(), StatusCode::NOT_FOUND);
    assert_eq!(bea.get(&format!("{base}/security")).await.unwrap().status, StatusCode::OK, "bea is still signed in");
    let ended = browser.submit(&page, &laptop_form, &[]).await.unwrap();
    assert_eq!(ended.status, StatusCode::OK, "{}", ended.html);
    assert!(!ended.has_form(&laptop_form), "the laptop's session is no longer listed: {}", ended.html);
    let signed_out = with_console_cookie(&server, &laptop, &format!("{base}/security")).await;
    assert!(signed_out.status().is_redirection(), "the laptop is signed out: {}", signed_out.status());

    // A token made on the APIs page is listed as one this administrator made.
    let apis = browser.get(&format!("{base}/tokens")).await.unwrap();
    let made = browser.submit(&apis, "create-token", &[("name", "ann token"), ("role", "tenant-viewer"), ("expires_in_days", "")]).await.unwrap();
    assert!(made.status.is_success(), "{}", made.html);
    let listed = browser.get(&format!("{base}/security")).await.unwrap();
    assert!(between(&listed.html, "<table id=\"my-tokens\">", "</table>").contains("ann token"), "{}", listed.html);
}}

db_test! {
async fn an_administrator_grants_permissions_invites_and_manages_an_accounts_factors_and_sessions_in_the_console() {
    let clock = Arc::new(ManualClock::new(1_800_000_000));
    let server = TestServer::start_with_clock(clock.clone()).await.unwrap();
    let tenant = server.create_tenant("console-access").await.unwrap();
    let other = server.create_tenant("console-access-other").await.unwrap();
    let secret = account(&server, &tenant, &clock, "ann", true).await;
    let bob_secret = account(&server, &tenant, &clock, "bob", false).await;
    // Bob signs in on the hosted pages with his password (the console then turns him
    // away: he is no administrator), so he has a session.
    let _ = bob_secret;
    let mut bobs = Browser::new(&server.base_url);
    let login = bobs.open(&format!("/console/{}/", tenant.name)).await.unwrap();
    let login = bobs.submit(&login, "identify", &[("username", "bob")]).await.unwrap();
    let login = bobs.submit(&login, "password-form", &[("password", PASSWORD)]).await.unwrap();
    assert!(!login.html.contains("authentication failed"), "{}", login.html);
    let mut browser = Browser::new(&server.base_url);
    assert_eq!(sign_in(&mut browser, &tenant, &clock, "ann", &secret).await.status, StatusCode::OK);
    let base = format!("/console/{}", tenant.name);
    let admin_path = |path: &str| format!("/admin/v1/tenants/{}{path}", tenant.name);
    let accounts = server.get(&tenant.admin_token, &admin_path("/accounts")).await.unwrap();
    let id_of = |name: &str| accounts.as_array().unwrap().iter().find(|a| a["username"] == name).unwrap()["id"].as_str().unwrap().to_owned();
    let (bob, ann) = (id_of("bob"), id_of("ann"));

    let page = browser.get(&format!("{base}/accounts/{bob}")).await.unwrap();
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.has_form("grant-permission") && page.has_form("invite"), "{}", page.html);
    assert!(page.html.contains("None: this account cannot administer the tenant."), "{}", page.html);
    assert!(page.form_starting("end-").is_some(), "bob's session is listed: {}", page.html);

    // Permissions: granted (a viewer), a made-up one refused, revoked again.
    let granted = browser.submit(&page, "grant-permission", &[("permission", "admin:read")]).await.unwrap();
    assert_eq!(granted.status, StatusCode::OK, "{}", granted.html);
    assert!(granted.has_form("revoke-admin:read"), "{}", granted.html);
    let held = server.get(&tenant.admin_token, &admin_path(&format!("/accounts/{bob}/permissions"))).await.unwrap();
    assert_eq!(held, json!(["admin:read"]));
    let refused = browser.submit(&page, "grant-permission", &[("permission", "root")]).await.unwrap();
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.html);
    assert!(refused.html.contains("is not a permission"), "{}", refused.html);
    assert_eq!(server.get(&tenant.admin_token, &admin_path(&format!("/accounts/{bob}/permissions"))).await.unwrap(), json!(["admin:read"]));
    let revoked = browser.submit(&granted, "revoke-admin:read", &[]).await.unwrap();
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.html);
    assert_eq!(server.get(&tenant.admin_token, &admin_path(&format!("/accounts/{bob}/permissions"))).await.unwrap(), json!([]));
    let events = server.get(&tenant.admin_token, &admin_path(&format!("/events?origin=console&account_id={bob}"))).await.unwrap();
    let actions: Vec<&str> = events.as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["permission.revoked", "permission.granted"], "{events}");
    // Ann's own permissions have no revoke button.
    let own = browser.get(&format!("{base}/accounts/{ann}")).await.unwrap();
    assert!(own.html.contains("<code>admin</code>") && !own.has_form("revoke-admin"), "{}", own.html);

    // An invitation, shown once, with which bob sets a new password.
    let invited = browser.submit(&revoked, "invite", &[]).await.unwrap();
    assert_eq!(invited.status, StatusCode::CREATED, "{}", invited.html);
    let token = between(&invited.html, "<code id=\"invite-token\">", "</code>").to_owned();
    let accepted = server
        .http
        .post(server.url(&format!("/t/{}/invite", tenant.name)))
        .json(&json!({"invite_token": token, "password": "bob's new long passphrase"}))
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status(), StatusCode::OK, "{}", accepted.text().await.unwrap());

    // Accepting the invite ended the session his old password opened; he signs in with
    // the new one, and that session is ended here.
    clock.advance(30);
    let mut bobs = Browser::new(&server.base_url);
    let login = bobs.open(&format!("{base}/")).await.unwrap();
    let login = bobs.submit(&login, "identify", &[("username", "bob")]).await.unwrap();
    let login = bobs.submit(&login, "password-form", &[("password", "bob's new long passphrase")]).await.unwrap();
    assert!(!login.html.contains("authentication failed"), "{}", login.html);
    let page = browser.get(&format!("{base}/accounts/{bob}")).await.unwrap();
    let session_form = page.form_starting("end-").unwrap_or_else(|| panic!("bob's new session is listed: {}", page.html));
    let ended = browser.submit(&page, &session_form, &[]).await.unwrap();
    assert_eq!(ended.status, StatusCode::OK, "{}", ended.html);
    assert!(ended.html.contains("Not signed in anywhere."), "{}", ended.html);
    let sessions = server.get(&tenant.admin_token, &admin_path(&format!("/accounts/{bob}/sessions"))).await.unwrap();
    assert!(sessions.as_array().unwrap().iter().all(|s| s["authenticated_at"].is_null()), "{sessions}");

    // A factor disabled; another tenant's account, factor or session is not found.
    let factors = server.get(&tenant.admin_token, &admin_path(&format!("/accounts/{bob}"))).await.unwrap()["factors"].clone();
    let totp_id = factors.as_array().unwrap().iter().find(|f| f["kind"] == "totp").unwrap()["id"].as_str().unwrap().to_owned();
    let disabled = browser.submit(&ended, &format!("factor-{totp_id}"), &[]).await.unwrap();
    assert_eq!(disabled.status, StatusCode::OK, "{}", disabled.html);
    let factors = server.get(&tenant.admin_token, &admin_path(&format!("/accounts/{bob}"))).await.unwrap()["factors"].clone();
    assert!(factors.as_array().unwrap().iter().any(|f| f["id"] == totp_id.as_str() && f["state"] == "DISABLED"), "{factors}");
    let stranger = server.admin_ok(&other, Method::POST, "/accounts", json!({"username": "zed"})).await["id"].as_str().unwrap().to_owned();
    let csrf = between(&disabled.html, "name=\"csrf\" value=\"", "\"").to_owned();
    let cookie = format!("keyhaven_console={}", browser.cookie("keyhaven_console").unwrap());
    for (path, form) in [
        (format!("{base}/accounts/{stranger}/permissions"), vec![("permission", "admin")]),
        (format!("{base}/accounts/{stranger}/invite"), vec![]),
        (format!("{base}/accounts/{bob}/factors/fac_not_bobs/state"), vec![("state", "DISABLED")]),
        (format!("{base}/accounts/{ann}/factors/{totp_id}/state"), vec![("state", "ENABLED")]),
    ] {
        let mut fields = vec![("csrf", csrf.as_str())];
        fields.extend(form);
        let response = direct().post(server.url(&path)).header(COOKIE, &cookie).form(&fields).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let theirs = server.get(&other.admin_token, &format!("/admin/v1/tenants/{}/accounts/{stranger}/permissions", other.name)).await.unwrap();
    assert_eq!(theirs, json!([]), "nothing granted across tenants");
}}

db_test! {
async fn an_administrator_binds_an_extension_and_sets_the_allowed_hosts_in_the_console() {
    let clock = Arc::new(ManualClock::new(1_800_000_000));
    let server = TestServer::start_with_clock(clock.clone()).await.unwrap();
    let tenant = server.create_tenant("console-bindings").await.unwrap();
    let other = server.create_tenant("console-bindings-other").await.unwrap();
    server.deploy_as(&tenant, guests::CUSTOM_CLAIMS, "claims", "").await.unwrap();
    server.deploy_as(&other, guests::CUSTOM_CLAIMS, "claims", "").await.unwrap();
    let client = server.create_client(&tenant, json!({"name": "billing"})).await.unwrap();
    let theirs = server.create_client(&other, json!({"name": "theirs"})).await.unwrap();
    let secret = account(&server, &tenant, &clock, "ann", true).await;
    let mut browser = Browser::new(&server.base_url);
    assert_eq!(sign_in(&mut browser, &tenant, &clock, "ann", &secret).await.status, StatusCode::OK);
    let base = format!("/console/{}", tenant.name);
    let bindings = |t: &TestTenant| {
        let (token, name) = (t.admin_token.clone(), t.name.clone());
        let server = &server;
        async move { server.get(&token, &format!("/admin/v1/tenants/{name}/bindings")).await.unwrap() }
    };
    let before = bindings(&tenant).await;

    let page = browser.get(&format!("{base}/extensions/claims")).await.unwrap();
    assert!(page.has_form("add-binding"), "{}", page.html);
    assert!(page.html.contains("<option value=\"token-issuance\">") && page.html.contains("billing ("), "{}", page.html);
    // Refused with why, nothing bound.
    for (typed, why) in [
        (vec![("hook", "token-issuance"), ("schedule", "0 * * * * *")], "only scheduled bindings take a schedule"),
        (vec![("hook", "token-issuance"), ("failure_policy", "sometimes")], "is not fail-closed or fail-open"),
        (vec![("hook", "token-issuance"), ("position", "first")], "is not a whole number"),
        (vec![("hook", "token-issuance"), ("filter", "{not json")], "the filter is not JSON"),
    ] {
        let refused = browser.submit(&page, "add-binding", &typed).await.unwrap();
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{why}: {}", refused.html);
        assert!(unescape(&refused.html).contains(why), "{why}: {}", refused.html);
    }
    let foreign = browser.submit(&page, "add-binding", &[("hook", "token-issuance"), ("client_id", &theirs.client_id)]).await.unwrap();
    assert_eq!(foreign.status, StatusCode::NOT_FOUND, "another tenant's client: {}", foreign.html);
    assert_eq!(bindings(&tenant).await, before, "nothing bound");

    // Bound for one client, fail-open, order 5; then removed.
    let typed = [("hook", "token-issuance"), ("client_id", client.client_id.as_str()), ("failure_policy", "fail-open"), ("position", "5")];
    let bound = browser.submit(&page, "add-binding", &typed).await.unwrap();
    assert_eq!(bound.status, StatusCode::OK, "{}", bound.html);
    let now = bindings(&tenant).await;
    let added = now.as_array().unwrap().iter().find(|b| b["client_id"] == client.client_id.as_str()).unwrap_or_else(|| panic!("{now}"));
    assert_eq!((added["failure_policy"].as_str(), added["position"].as_i64(), added["extension"].as_str()), (Some("fail-open"), Some(5), Some("claims")), "{added}");
    let id = added["id"].as_str().unwrap().to_owned();
    assert!(bound.has_form(&format!("unbind-{id}")), "{}", bound.html);
    // Another tenant's binding cannot be removed from here.
    let their_binding = bindings(&other).await[0]["id"].as_str().unwrap().to_owned();
    let csrf = between(&bound.html, "name=\"csrf\" value=\"", "\"").to_owned();
    let cookie = format!("keyhaven_console={}", browser.cookie("keyhaven_console").unwrap());
    let response = direct()
        .post(server.url(&format!("{base}/extensions/claims/bindings/delete")))
        .header(COOKIE, &cookie)
        .form(&[("csrf", csrf.as_str()), ("binding_id", their_binding.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(bindings(&other).await.as_array().unwrap().len(), 1, "theirs stays");
    let removed = browser.submit(&bound, &format!("unbind-{id}"), &[]).await.unwrap();
    assert_eq!(removed.status, StatusCode::OK, "{}", removed.html);
    assert_eq!(bindings(&tenant).await, before);

    // Allowed hosts: saved, and a bad one refused with nothing changed.
    let settings = format!("/admin/v1/tenants/{}/extension-settings", tenant.name);
    let list = browser.get(&format!("{base}/extensions")).await.unwrap();
    assert!(list.has_form("allowed-hosts-form") && list.html.contains("None: extensions reach no host."), "{}", list.html);
    let saved = browser.submit(&list, "allowed-hosts-form", &[("hosts", "api.example.com\r\n*.example.org:8443")]).await.unwrap();
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.html);
    assert!(saved.html.contains("<code>*.example.org:8443</code>"), "{}", saved.html);
    assert_eq!(server.get(&tenant.admin_token, &settings).await.unwrap()["allowed_hosts"], json!(["api.example.com", "*.example.org:8443"]));
    let refused = browser.submit(&saved, "allowed-hosts-form", &[("hosts", "https://evil.example/path")]).await.unwrap();
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.html);
    assert!(unescape(&refused.html).contains("is not a host"), "{}", refused.html);
    assert_eq!(server.get(&tenant.admin_token, &settings).await.unwrap()["allowed_hosts"], json!(["api.example.com", "*.example.org:8443"]));
    let theirs = server.get(&other.admin_token, &format!("/admin/v1/tenants/{}/extension-settings", other.name)).await.unwrap();
    assert_eq!(theirs["allowed_hosts"], json!([]), "another tenant's hosts are untouched");
}}

db_test! {
async fn an_administrator_adds_scopes_and_publishes_legal_documents_in_the_console() {
    let clock = Arc::new(ManualClock::new(1_800_000_000));
    let server = TestServer::start_with_clock(clock.clone()).await.unwrap();
    let tenant = server.create_tenant("console-controls").await.unwrap();
    let other = server.create_tenant("console-controls-other").await.unwrap();
    let secret = account(&server, &tenant, &clock, "ann", true).await;
    let mut browser = Browser::new(&server.base_url);
    assert_eq!(sign_in(&mut browser, &tenant, &clock, "ann", &secret).await.status, StatusCode::OK);
    let base = format!("/console/{}", tenant.name);
    let admin_path = |path: &str| format!("/admin/v1/tenants/{}{path}", tenant.name);

    let page = browser.get(&format!("{base}/controls")).await.unwrap();
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.has_form("add-scope") && page.has_form("add-document"), "{}", page.html);
    assert!(page.html.contains("<code>openid</code>") && page.html.contains("<code>admin:read</code>"), "the built-ins: {}", page.html);
    let scopes_before = server.get(&tenant.admin_token, &admin_path("/scopes")).await.unwrap();

    // Scopes: refused with why (nothing added), added, removed.
    for (value, score, why, status) in [
        ("bad scope", "2", "is not a scope", StatusCode::BAD_REQUEST),
        ("invoices:read", "high", "is not a whole number", StatusCode::BAD_REQUEST),
        ("invoices:read", "21", "0 to 20", StatusCode::BAD_REQUEST),
        ("openid", "2", "is a built-in scope", StatusCode::CONFLICT),
    ] {
        let refused = browser.submit(&page, "add-scope", &[("value", value), ("label", "Invoices"), ("required_score", score)]).await.unwrap();
        assert_eq!(refused.status, status, "{why}: {}", refused.html);
        assert!(unescape(&refused.html).contains(why), "{why}: {}", refused.html);
    }
    assert_eq!(server.get(&tenant.admin_token, &admin_path("/scopes")).await.unwrap(), scopes_before);
    let typed = [("value", "invoices:read"), ("label", "Read invoices"), ("required_score", "3"), ("consent_required", "on")];
    let added = browser.submit(&page, "add-scope", &typed).await.unwrap();
    assert_eq!(added.status, StatusCode::OK, "{}", added.html);
    let scopes = server.get(&tenant.admin_token, &admin_path("/scopes")).await.unwrap();
    let scope = scopes.as_array().unwrap().iter().find(|s| s["value"] == "invoices:read").unwrap_or_else(|| panic!("{scopes}"));
    assert_eq!((scope["required_score"].as_i64(), scope["consent_required"].as_bool(), scope["permission_required"].as_bool()), (Some(3), Some(true), Some(false)), "{scope}");
    let theirs = server.get(&other.admin_token, &format!("/admin/v1/tenants/{}/scopes", other.name)).await.unwrap();
    assert!(!theirs.to_string().contains("invoices:read"), "another tenant's catalogue: {theirs}");
    assert!(added.has_form("remove-scope-invoices:read") && !added.has_form("remove-scope-openid"), "{}", added.html);
    let removed = browser.submit(&added, "remove-scope-invoices:read", &[]).await.unwrap();
    assert_eq!(removed.status, StatusCode::OK, "{}", removed.html);
    assert_eq!(server.get(&tenant.admin_token, &admin_path("/scopes")).await.unwrap(), scopes_before);

    // Legal documents: both a URL and a text is refused; created at version 1; version 2 published.
    let refused = browser.submit(&removed, "add-document", &[("label", "Terms"), ("url", "https://example.com/terms"), ("text", "also text")]).await.unwrap();
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.html);
    assert_eq!(server.get(&tenant.admin_token, &admin_path("/legal")).await.unwrap(), json!([]));
    let created = browser.submit(&removed, "add-document", &[("label", "Terms"), ("url", "https://example.com/terms"), ("text", "")]).await.unwrap();
    assert_eq!(created.status, StatusCode::OK, "{}", created.html);
    let docs = server.get(&tenant.admin_token, &admin_path("/legal")).await.unwrap();
    let id = docs[0]["id"].as_str().unwrap().to_owned();
    assert_eq!((docs[0]["label"].as_str(), docs[0]["version"].as_i64()), (Some("Terms"), Some(1)), "{docs}");
    let published = browser.submit(&created, &format!("publish-{id}"), &[("url", ""), ("text", "The terms, second edition.")]).await.unwrap();
    assert_eq!(published.status, StatusCode::OK, "{}", published.html);
    assert!(published.html.contains("version 2") && published.html.contains("Publish version 3"), "{}", published.html);
    let docs = server.get(&tenant.admin_token, &admin_path("/legal")).await.unwrap();
    assert_eq!((docs[0]["version"].as_i64(), docs[0]["text"].as_str()), (Some(2), Some("The terms, second edition.")), "{docs}");
    let events = server.get(&tenant.admin_token, &admin_path("/events?action=legal.published&origin=console")).await.unwrap();
    assert_eq!(events.as_array().unwrap().len(), 2, "{events}");

    // Another tenant's document is not found from here, and stays as it was.
    let their_doc = server.admin_ok(&other, Method::POST, "/legal", json!({"label": "Theirs", "text": "their terms"})).await["id"].as_str().unwrap().to_owned();
    let csrf = between(&published.html, "name=\"csrf\" value=\"", "\"").to_owned();
    let cookie = format!("keyhaven_console={}", browser.cookie("keyhaven_console").unwrap());
    let response = direct()
        .post(server.url(&format!("{base}/controls/legal/{their_doc}/versions")))
        .header(COOKIE, &cookie)
        .form(&[("csrf", csrf.as_str()), ("text", "hijacked")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let theirs = server.get(&other.admin_token, &format!("/admin/v1/tenants/{}/legal", other.name)).await.unwrap();
    assert_eq!((theirs[0]["version"].as_i64(), theirs[0]["text"].as_str()), (Some(1), Some("their terms")), "{theirs}");
}}

db_test! {
async fn an_administrator_manages_scope_rules_and_revokes_an_accounts_consent_in_the_console() {
    let clock = Arc::new(ManualClock::new(1_800_000_000));
    let server = TestServer::start_with_clock(clock.clone()).await.unwrap();
    let tenant = server.create_tenant("console-rules").await.unwrap();
    let other = server.create_tenant("console-rules-other").await.unwrap();
    let secret = account(&server, &tenant, &clock, "ann", true).await;
    server.admin_ok(&tenant, Method::POST, "/scopes", json!({"value": "reports", "label": "Reports", "required_score": 0})).await;
    server.admin_ok(&tenant, Method::POST, "/scopes", json!({"value": "contacts", "label": "Contacts", "required_score": 2, "consent_required": true})).await;
    let billing = server.create_client(&tenant, json!({"name": "billing"})).await.unwrap();
    let mut browser = Browser::new(&server.base_url);
    assert_eq!(sign_in(&mut browser, &tenant, &clock, "ann", &secret).await.status, StatusCode::OK);
    let base = format!("/console/{}", tenant.name);
    let admin_path = |path: &str| format!("/admin/v1/tenants/{}{path}", tenant.name);
    let scopes_of = |response: serde_json::Value| response["scope"].as_str().unwrap_or_default().to_owned();
    let token_scopes = || async { scopes_of(server.token(&tenant, &billing).await.unwrap().json().await.unwrap()) };
    assert_eq!(token_scopes().await, "", "no rule, no scope");

    // A rule is refused for a scope not in the catalogue or a client of another tenant.
    let page = browser.get(&format!("{base}/controls")).await.unwrap();
    assert!(page.html.contains(&format!("<option value=\"{}\">", billing.client_id)), "{}", page.html);
    let theirs = server.create_client(&other, json!({"name": "theirs"})).await.unwrap();
    for (client, scopes, why) in [(billing.client_id.as_str(), "nonsense", "is not a scope of this tenant"), (theirs.client_id.as_str(), "reports", "there is no client")] {
        let refused = browser.submit(&page, "add-rule", &[("label", "Billing"), ("client_id", client), ("scopes", scopes)]).await.unwrap();
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.html);
        assert!(unescape(&refused.html).contains(why), "{why}: {}", refused.html);
    }
    assert_eq!(server.get(&tenant.admin_token, &admin_path("/rules")).await.unwrap(), json!([]));
    // Added: the client's next token carries the scope; edited, disabled, enabled, removed.
    let added = browser.submit(&page, "add-rule", &[("label", "Billing"), ("client_id", &billing.client_id), ("scopes", "reports")]).await.unwrap();
    assert_eq!(added.status, StatusCode::OK, "{}", added.html);
    let rules = server.get(&tenant.admin_token, &admin_path("/rules")).await.unwrap();
    let rule_id = rules[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(token_scopes().await, "reports");
    let edited = browser.submit(&added, &format!("edit-rule-{rule_id}"), &[("scopes", "reports contacts")]).await.unwrap();
    assert_eq!(edited.status, StatusCode::OK, "{}", edited.html);
    assert_eq!(server.get(&tenant.admin_token, &admin_path(&format!("/rules/{rule_id}"))).await.unwrap()["scopes"], json!(["reports", "contacts"]));
    let refused = browser.submit(&edited, &format!("edit-rule-{rule_id}"), &[("scopes", "")]).await.unwrap();
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "a rule grants at least one scope: {}", refused.html);
    let disabled = browser.submit(&edited, &format!("rule-state-{rule_id}"), &[]).await.unwrap();
    assert!(between(&disabled.html, "<table id=\"rules\">", "</table>").contains(">DISABLED</span>"), "{}", disabled.html);
    assert_eq!(token_scopes().await, "", "a disabled rule grants nothing");
    let enabled = browser.submit(&disabled, &format!("rule-state-{rule_id}"), &[]).await.unwrap();
    assert!(!between(&enabled.html, "<table id=\"rules\">", "</table>").contains(">DISABLED</span>"), "{}", enabled.html);
    let removed = browser.submit(&enabled, &format!("remove-rule-{rule_id}"), &[]).await.unwrap();
    assert_eq!(removed.status, StatusCode::OK, "{}", removed.html);
    assert_eq!(server.get(&tenant.admin_token, &admin_path("/rules")).await.unwrap(), json!([]));
    assert_eq!(token_scopes().await, "");
    let events = server.get(&tenant.admin_token, &admin_path("/events?origin=console&category=resource-change")).await.unwrap();
    let actions: Vec<&str> = events.as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).filter(|a| a.starts_with("rule.")).collect();
    assert_eq!(actions, ["rule.deleted", "rule.changed", "rule.changed", "rule.changed", "rule.created"], "{events}");
    // Another tenant's rule is not found from here, and stays.
    let their_rule = server.admin_ok(&other, Method::POST, "/rules", json!({"label": "Theirs", "client_id": "*", "scopes": ["openid"]})).await["id"].as_str().unwrap().to_owned();
    let csrf = between(&removed.html, "name=\"csrf\" value=\"", "\"").to_owned();
    let cookie = format!("keyhaven_console={}", browser.cookie("keyhaven_console").unwrap());
    let response = direct().post(server.url(&format!("{base}/controls/rules/{their_rule}/delete"))).header(COOKIE, &cookie).form(&[("csrf", csrf.as_str())]).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(server.get(&other.admin_token, &format!("/admin/v1/tenants/{}/rules", other.name)).await.unwrap().as_array().unwrap().len(), 1);

    // An account's consents are on its page, and revoked there.
    let created = server.admin_ok(&tenant, Method::POST, "/accounts", json!({"username": "cara", "password": PASSWORD})).await;
    let cara = created["id"].as_str().unwrap().to_owned();
    let url = |path: &str| server.url(&format!("/t/{}/{path}", tenant.name));
    let started = server.http.post(url("login")).json(&json!({"username": "cara"})).send().await.unwrap().json::<serde_json::Value>().await.unwrap();
    let login = started["login_token"].as_str().unwrap().to_owned();
    let passed = server.http.post(url("login/password")).bearer_auth(&login).json(&json!({"password": PASSWORD})).send().await.unwrap();
    assert_eq!(passed.status(), StatusCode::OK);
    let given = server.http.post(url("session/consents")).bearer_auth(&login).json(&json!({"client_id": billing.client_id, "scopes": ["contacts"]})).send().await.unwrap();
    assert!(given.status().is_success(), "{:?}", given.text().await);
    let consents = server.get(&tenant.admin_token, &admin_path(&format!("/accounts/{cara}/consents"))).await.unwrap();
    let consent_id = consents[0]["id"].as_str().unwrap().to_owned();
    let page = browser.get(&format!("{base}/accounts/{cara}")).await.unwrap();
    let table = between(&page.html, "<table id=\"consents\">", "</table>");
    assert!(table.contains(&billing.client_id) && table.contains("contacts") && table.contains(">yes<"), "{table}");
    let revoked = browser.submit(&page, &format!("revoke-consent-{consent_id}"), &[]).await.unwrap();
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.html);
    assert!(between(&revoked.html, "<table id=\"consents\">", "</table>").contains("revoked "), "{}", revoked.html);
    assert!(!revoked.has_form(&format!("revoke-consent-{consent_id}")), "revoked once");
    let consents = server.get(&tenant.admin_token, &admin_path(&format!("/accounts/{cara}/consents"))).await.unwrap();
    assert!(consents[0]["revoked_at"].is_i64(), "{consents}");
    let events = server.get(&tenant.admin_token, &admin_path("/events?action=consent.revoked")).await.unwrap();
    assert_eq!((events[0]["origin"].as_str(), events[0]["account_id"].as_str()), (Some("console"), Some(cara.as_str())), "{events}");
    // Revoking it again, or through another account's page, is "not found".
    let again = direct().post(server.url(&format!("{base}/accounts/{cara}/consents/{consent_id}/revoke"))).header(COOKIE, &cookie).form(&[("csrf", csrf.as_str())]).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::NOT_FOUND);
}}
