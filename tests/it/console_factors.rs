//! The tenant's factor policy (`allowed_factors`), chosen on the console's Factors screen
//! and in the admin API's settings: a policy under which no administrator could sign in is
//! refused, and a kind taken out can neither be enrolled nor sign anyone in until it is
//! allowed again, on the login API and on the hosted pages alike.

use std::sync::Arc;

use keyhaven::clock::ManualClock;
use keyhaven_tests::browser::Browser;
use keyhaven_tests::{TestServer, TestTenant, expect_problem};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::console::{PASSWORD, account, between, sign_in};

/// The kinds of factor the login API offers `username` when a login starts.
async fn offered(server: &TestServer, tenant: &TestTenant, username: &str) -> (String, Vec<String>) {
    let url = server.url(&format!("/t/{}/login", tenant.name));
    let started: Value =
        server.http.post(url).json(&json!({"username": username})).send().await.unwrap().json().await.unwrap();
    let kinds = started["factors"].as_array().unwrap().iter().map(|f| f["kind"].as_str().unwrap().to_owned());
    (started["login_token"].as_str().unwrap().to_owned(), kinds.collect())
}

/// The row of the Factors table for `kind`.
fn row<'a>(html: &'a str, kind: &str) -> &'a str {
    between(html, &format!("<tr id=\"kind-{kind}\">"), "</tr>")
}

db_test! {
async fn an_administrator_chooses_the_factors_the_tenant_allows_and_a_kind_taken_out_signs_no_one_in() {
    let clock = Arc::new(ManualClock::new(1_800_000_000));
    let server = TestServer::start_with_clock(clock.clone()).await.unwrap();
    let tenant = server.create_tenant("console-factors").await.unwrap();
    let secret = account(&server, &tenant, &clock, "ann", true).await;
    let olga = server.admin_ok(&tenant, Method::POST, "/accounts", json!({"username": "olga", "password": "olga's long passphrase"})).await;
    let olga = olga["id"].as_str().unwrap().to_owned();
    let code = server.admin_ok(&tenant, Method::POST, &format!("/accounts/{olga}/factors"), json!({"kind": "otp", "channel": "email", "recipient": "olga@example.com"})).await;
    let otp_factor = code["id"].as_str().unwrap().to_owned();
    let admin_path = |path: &str| format!("/admin/v1/tenants/{}{path}", tenant.name);
    assert_eq!(offered(&server, &tenant, "olga").await.1, ["password", "otp"]);

    let mut browser = Browser::new(&server.base_url);
    assert_eq!(sign_in(&mut browser, &tenant, &clock, "ann", &secret).await.status, StatusCode::OK);
    let base = format!("/console/{}", tenant.name);
    let page = browser.get(&format!("{base}/factors")).await.unwrap();
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.html.contains("href=\"/console/console-factors"), "the navigation links the screen: {}", page.html);
    // Every kind is allowed by default; the enrolments are counted by kind and state.
    for (kind, score, enabled) in [("password", 2, 2), ("otp", 3, 1), ("totp", 3, 1)] {
        let row = row(&page.html, kind);
        assert!(row.contains(&format!("<td>{score}</td>")) && row.contains("<td>yes</td>"), "{kind}: {row}");
        assert!(row.contains(&format!("<td>{enabled}</td>")), "{kind} has {enabled} enabled: {row}");
    }
    assert!(page.html.contains("checked") && page.html.contains("name=\"otp\""), "{}", page.html);

    // A policy under which an administrator could not reach the admin score is refused,
    // with why, and changes nothing.
    let refused = browser.submit(&page, "allowed-factors", &[]).await.unwrap();
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.html);
    assert!(refused.html.contains("otp or totp"), "{}", refused.html);
    for (kinds, why) in [(json!(["password"]), "otp or totp"), (json!(["otp", "totp"]), "include password"), (json!(["password", "sms"]), "unknown variant")] {
        let response = server.call(Method::PATCH, &tenant.admin_token, &admin_path(""), Some(json!({"settings": {"allowed_factors": kinds}}))).await.unwrap();
        let problem = expect_problem(response, StatusCode::BAD_REQUEST).await.unwrap();
        assert!(problem["detail"].as_str().unwrap().contains(why), "{kinds}: {problem}");
    }
    assert_eq!(server.get(&tenant.admin_token, &admin_path("")).await.unwrap()["settings"]["allowed_factors"], json!(["password", "otp", "totp"]));

    // One-time codes taken out: through the console, as an event from it.
    let saved = browser.submit(&page, "allowed-factors", &[("totp", "on")]).await.unwrap();
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.html);
    assert!(row(&saved.html, "otp").contains("<strong>no</strong>"), "{}", saved.html);
    let now = server.get(&tenant.admin_token, &admin_path("")).await.unwrap();
    assert_eq!(now["settings"]["allowed_factors"], json!(["password", "totp"]), "{now}");
    let events = server.get(&tenant.admin_token, &admin_path("/events")).await.unwrap();
    let updated = events.as_array().unwrap().iter().find(|e| e["action"] == "tenant.updated").unwrap_or_else(|| panic!("{events}"));
    assert_eq!(updated["origin"], "console", "{updated}");
    assert!(updated["detail"].to_string().contains("allowed_factors"), "{updated}");

    // Now no OTP factor is enrolled, by an administrator or by the account itself...
    let response = server.call(Method::POST, &tenant.admin_token, &admin_path(&format!("/accounts/{olga}/factors")), Some(json!({"kind": "otp", "channel": "sms"}))).await.unwrap();
    let problem = expect_problem(response, StatusCode::FORBIDDEN).await.unwrap();
    assert!(problem["detail"].as_str().unwrap().contains("does not allow otp factors"), "{problem}");
    let (token, kinds) = offered(&server, &tenant, "olga").await;
    assert_eq!(kinds, ["password"], "the login no longer offers the code");
    let password = server.http.post(server.url(&format!("/t/{}/login/password", tenant.name))).bearer_auth(&token).json(&json!({"password": "olga's long passphrase"})).send().await.unwrap();
    assert_eq!(password.status(), StatusCode::OK);
    let mine = server.http.post(server.url(&format!("/t/{}/session/factors", tenant.name))).bearer_auth(&token).json(&json!({"kind": "otp", "channel": "sms"})).send().await.unwrap();
    expect_problem(mine, StatusCode::FORBIDDEN).await.unwrap();
    // ...and the one she holds sends no code and signs her in no further.
    let send = server.http.post(server.url(&format!("/t/{}/login/otp", tenant.name))).bearer_auth(&token).json(&json!({"factor_id": otp_factor})).send().await.unwrap();
    let problem = expect_problem(send, StatusCode::FORBIDDEN).await.unwrap();
    assert!(problem["detail"].as_str().unwrap().contains("does not allow otp"), "{problem}");
    let held = server.get(&tenant.admin_token, &admin_path(&format!("/accounts/{olga}"))).await.unwrap();
    assert_eq!(held["factors"].as_array().unwrap().len(), 2, "the enrolment is kept: {held}");
    let account_page = browser.get(&format!("{base}/accounts/{olga}")).await.unwrap();
    assert!(account_page.html.contains("not allowed by the tenant"), "{}", account_page.html);
    // The console's own session keeps its score: the change is not retroactive.
    assert_eq!(browser.get(&format!("{base}/factors")).await.unwrap().status, StatusCode::OK);

    // Authenticator apps out instead: the Your security screen offers none to add.
    let page = browser.get(&format!("{base}/factors")).await.unwrap();
    browser.submit(&page, "allowed-factors", &[("otp", "on")]).await.unwrap();
    let security = browser.get(&format!("{base}/security")).await.unwrap();
    assert!(!security.has_form("add-totp") && security.html.contains("does not allow authenticator apps"), "{}", security.html);
    assert_eq!(offered(&server, &tenant, "ann").await.1, ["password"], "ann's app is offered no more");
    // On the hosted pages too: a new sign-in gets no further than the password.
    let mut fresh = Browser::new(&server.base_url);
    let login = fresh.open(&format!("{base}/")).await.unwrap();
    let login = fresh.submit(&login, "identify", &[("username", "ann")]).await.unwrap();
    let after = fresh.submit(&login, "password-form", &[("password", PASSWORD)]).await.unwrap();
    assert!(after.form_starting("totp-").is_none(), "no authenticator step-up: {}", after.html);
    assert!(!after.html.contains("Dashboard"), "not signed in: {}", after.html);

    // Every kind again: back to the default, and the code signs in again.
    let page = browser.get(&format!("{base}/factors")).await.unwrap();
    let all = browser.submit(&page, "allowed-factors", &[("otp", "on"), ("totp", "on")]).await.unwrap();
    assert_eq!(all.status, StatusCode::OK, "{}", all.html);
    let now = server.get(&tenant.admin_token, &admin_path("")).await.unwrap();
    assert_eq!(now["settings"]["allowed_factors"], json!(["password", "otp", "totp"]), "{now}");
    assert_eq!(offered(&server, &tenant, "olga").await.1, ["password", "otp"]);
    let events = server.get(&tenant.admin_token, &admin_path("/events")).await.unwrap();
    assert_eq!(events.as_array().unwrap().iter().filter(|e| e["action"] == "tenant.updated").count(), 3, "{events}");
}}
