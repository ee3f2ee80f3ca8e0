//! Administrators are accounts: a new tenant's first administrator is a PENDING account
//! holding the `admin` permission, set up with a one-time invite; it signs in like anyone
//! and administers the tenant with its session once that session's score reaches the
//! `admin` scope's (step-up). Invites are single use and expire; PENDING items that were
//! never completed and tenants unused for longer than their setting expire under a test
//! clock (no sleeping).

use std::sync::Arc;

use keyhaven::clock::{Clock, ManualClock};
use keyhaven::tenancy::totp;
use keyhaven_tests::{TestServer, TestTenant, expect_problem, expect_status, unique_name};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const PASSWORD: &str = "a long enough passphrase";

async fn post(server: &TestServer, tenant: &str, path: &str, token: Option<&str>, body: Value) -> reqwest::Response {
    let mut request = server.http.post(server.url(&format!("/t/{tenant}/{path}"))).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

/// Creates a tenant as the operator; the whole answer.
async fn create_tenant(server: &TestServer, prefix: &str) -> Value {
    let body = json!({"name": unique_name(prefix)});
    let response = server.call(Method::POST, &server.root_token, "/admin/v1/tenants", Some(body)).await.unwrap();
    expect_status(response, StatusCode::CREATED).await.unwrap()
}

/// Signs `username` in with the password; the session token and view.
async fn sign_in(server: &TestServer, tenant: &str, username: &str) -> (String, Value) {
    let started = post(server, tenant, "login", None, json!({"username": username})).await;
    let token = expect_status(started, StatusCode::CREATED).await.unwrap()["login_token"].as_str().unwrap().to_owned();
    let passed = post(server, tenant, "login/password", Some(&token), json!({"password": PASSWORD})).await;
    (token, expect_status(passed, StatusCode::OK).await.unwrap())
}

fn actions(events: &Value) -> Vec<&str> {
    events.as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect()
}

db_test! {
async fn the_first_administrator_accepts_an_invite_and_administers_with_a_stepped_up_session() {
    let clock = Arc::new(ManualClock::new(1_800_000_000));
    let server = TestServer::start_with_clock(clock.clone()).await.unwrap();
    let created = create_tenant(&server, "firstadmin").await;
    let name = created["tenant"]["name"].as_str().unwrap().to_owned();
    let admin_token = created["admin_token"].as_str().unwrap().to_owned();
    let administrator = &created["administrator"];
    assert_eq!(administrator["username"], "admin");
    assert_eq!(administrator["invite_expires_at"], clock.now() + 7 * 86_400);
    let account_id = administrator["account_id"].as_str().unwrap().to_owned();
    let invite = administrator["invite_token"].as_str().unwrap().to_owned();
    let base = format!("/admin/v1/tenants/{name}");

    // A PENDING account with the admin permission; it cannot sign in before the invite is used.
    let account = server.get(&admin_token, &format!("{base}/accounts/{account_id}")).await.unwrap();
    assert_eq!(account["state"], "PENDING");
    assert_eq!(account["factors"], json!([]));
    assert_eq!(server.get(&admin_token, &format!("{base}/accounts/{account_id}/permissions")).await.unwrap(), json!(["admin"]));
    let started = post(&server, &name, "login", None, json!({"username": "admin"})).await;
    let early = expect_status(started, StatusCode::CREATED).await.unwrap()["login_token"].as_str().unwrap().to_owned();
    assert_eq!(post(&server, &name, "login/password", Some(&early), json!({"password": PASSWORD})).await.status(), StatusCode::UNAUTHORIZED);

    // The invite: a bad password or token is refused and uses nothing; then it works once.
    expect_problem(post(&server, &name, "invite", None, json!({"invite_token": invite, "password": "short"})).await, StatusCode::BAD_REQUEST).await.unwrap();
    expect_problem(post(&server, &name, "invite", None, json!({"invite_token": "kh_pat_wrong", "password": PASSWORD})).await, StatusCode::UNAUTHORIZED).await.unwrap();
    let accepted = post(&server, &name, "invite", None, json!({"invite_token": invite, "password": PASSWORD})).await;
    assert_eq!(expect_status(accepted, StatusCode::OK).await.unwrap(), json!({"account_id": account_id, "username": "admin"}));
    let again = post(&server, &name, "invite", None, json!({"invite_token": invite, "password": PASSWORD})).await;
    expect_problem(again, StatusCode::UNAUTHORIZED).await.unwrap();
    assert_eq!(server.get(&admin_token, &format!("{base}/accounts/{account_id}")).await.unwrap()["state"], "ENABLED");

    // Signed in with a password (score 2): the admin scope needs a step-up, and so does the API.
    let (weak, view) = sign_in(&server, &name, "admin").await;
    assert_eq!(view["needs_permission"], json!([]), "the account holds the permission");
    assert_eq!(view["step_up"], json!([{"scope": "admin", "required_score": 5}, {"scope": "admin:read", "required_score": 5}]));
    let refused = server.call(Method::GET, &weak, &format!("{base}/accounts"), None).await.unwrap();
    let problem = expect_problem(refused, StatusCode::FORBIDDEN).await.unwrap();
    assert!(problem["detail"].as_str().unwrap().contains("score 5"), "{problem}");

    // The administrator adds an authenticator to their own account, then signs in with both.
    let enrolled = post(&server, &name, "session/factors", Some(&weak), json!({"kind": "totp"})).await;
    let enrolled = expect_status(enrolled, StatusCode::CREATED).await.unwrap();
    let factor_id = enrolled["id"].as_str().unwrap().to_owned();
    let secret = totp::from_base32(enrolled["totp"]["secret"].as_str().unwrap()).unwrap();
    let code = totp::code(&secret, totp::step_of(clock.now()));
    let confirmed = post(&server, &name, &format!("session/factors/{factor_id}/confirm"), Some(&weak), json!({"code": code})).await;
    expect_status(confirmed, StatusCode::OK).await.unwrap();
    clock.advance(30);
    let (strong, _) = sign_in(&server, &name, "admin").await;
    let code = totp::code(&secret, totp::step_of(clock.now()));
    let view = post(&server, &name, "login/totp", Some(&strong), json!({"factor_id": factor_id, "code": code})).await;
    let view = expect_status(view, StatusCode::OK).await.unwrap();
    assert_eq!(view["score"], 5);
    assert!(view["scopes"].as_array().unwrap().contains(&json!("admin")), "{view}");

    // The stepped-up session administers its own tenant, and only it.
    let accounts = server.get(&strong, &format!("{base}/accounts")).await.unwrap();
    assert_eq!(accounts.as_array().unwrap().len(), 1);
    let client = server.call(Method::POST, &strong, &format!("{base}/clients"), Some(json!({"name": "ci"}))).await.unwrap();
    expect_status(client, StatusCode::CREATED).await.unwrap();
    let other = create_tenant(&server, "otheradmin").await;
    let foreign = server.call(Method::GET, &strong, &format!("/admin/v1/tenants/{}", other["tenant"]["name"].as_str().unwrap()), None).await.unwrap();
    expect_problem(foreign, StatusCode::NOT_FOUND).await.unwrap();
    let listed = server.get(&strong, "/admin/v1/tenants").await.unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1, "only its own tenant: {listed}");
    let own = server.call(Method::DELETE, &strong, &format!("{base}/accounts/{account_id}/permissions/admin"), None).await.unwrap();
    expect_problem(own, StatusCode::CONFLICT).await.unwrap();
    // The audit log names the account that acted.
    let audit = server.get(&admin_token, &format!("{base}/audit")).await.unwrap();
    let entry = audit.as_array().unwrap().iter().find(|e| e["action"] == "POST /admin/v1/tenants/{tenant}/clients").unwrap();
    assert_eq!(entry["actor"], account_id.as_str(), "{entry}");
    assert_eq!(entry["role"], "tenant-admin");

    // The stepped-up session makes a personal access token for its scripts.
    let made = server.call(Method::POST, &strong, &format!("{base}/tokens"), Some(json!({"name": "ci", "role": "tenant-admin"}))).await.unwrap();
    let scripted = expect_status(made, StatusCode::CREATED).await.unwrap()["token"].as_str().unwrap().to_owned();
    server.get(&scripted, &format!("{base}/accounts")).await.unwrap();

    // "Your security": the session and the token it made both act for the account, and see
    // its factors and the tokens it made (never a token's value).
    for token in [&strong, &scripted] {
        let me = server.get(token, "/admin/v1/me").await.unwrap();
        assert_eq!((me["role"].as_str(), me["tenant"]["name"].as_str()), (Some("tenant-admin"), Some(name.as_str())));
        assert_eq!(me["account"]["id"], account_id.as_str(), "{me}");
        let kinds: Vec<&str> = me["account"]["factors"].as_array().unwrap().iter().map(|f| f["kind"].as_str().unwrap()).collect();
        assert!(kinds.contains(&"password") && kinds.contains(&"totp"), "{me}");
        let tokens: Vec<&str> = me["tokens"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
        assert_eq!(tokens, ["ci"], "only the tokens it made: {me}");
        assert!(!me.to_string().contains(&scripted));
    }
    // A token no account made stands for itself; the operator has no tenant.
    let me = server.get(&admin_token, "/admin/v1/me").await.unwrap();
    assert!(me["account"].is_null(), "{me}");
    assert_eq!(me["tokens"].as_array().unwrap().len(), 1, "{me}");
    assert_eq!(me["tokens"][0]["id"], me["token_id"]);
    let me = server.get(&server.root_token, "/admin/v1/me").await.unwrap();
    assert_eq!((me["role"].as_str(), me["tenant"].is_null()), (Some("operator"), true), "{me}");

    // Without the permission (revoked by another administrator), the session administers
    // nothing, and neither does the token it made.
    let revoked = server.call(Method::DELETE, &admin_token, &format!("{base}/accounts/{account_id}/permissions/admin"), None).await.unwrap();
    assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
    let problem = expect_problem(server.call(Method::GET, &scripted, &format!("{base}/accounts"), None).await.unwrap(), StatusCode::UNAUTHORIZED).await.unwrap();
    assert!(problem["detail"].as_str().unwrap().contains("no longer"), "{problem}");
    let problem = expect_problem(server.call(Method::GET, &strong, &format!("{base}/accounts"), None).await.unwrap(), StatusCode::FORBIDDEN).await.unwrap();
    assert!(problem["detail"].as_str().unwrap().contains("admin permission"), "{problem}");
    let view = server.http.get(server.url(&format!("/t/{name}/session"))).bearer_auth(&strong).send().await.unwrap();
    assert_eq!(expect_status(view, StatusCode::OK).await.unwrap()["needs_permission"], json!(["admin", "admin:read"]));
    // Only permission-requiring scopes are permissions; granting it back works once.
    let path = format!("{base}/accounts/{account_id}/permissions");
    expect_problem(server.call(Method::PUT, &admin_token, &format!("{path}/openid"), None).await.unwrap(), StatusCode::BAD_REQUEST).await.unwrap();
    assert_eq!(server.call(Method::PUT, &admin_token, &format!("{path}/admin"), None).await.unwrap().status(), StatusCode::CREATED);
    assert_eq!(server.call(Method::PUT, &admin_token, &format!("{path}/admin"), None).await.unwrap().status(), StatusCode::NO_CONTENT);
    server.get(&strong, &format!("{base}/accounts")).await.unwrap();
    server.get(&scripted, &format!("{base}/accounts")).await.unwrap();

    // Every step is an event; the invite token and the password appear in none.
    let events = server.get(&admin_token, &format!("{base}/events")).await.unwrap();
    for action in ["tenant.created", "account.invite_accepted", "permission.revoked", "permission.granted"] {
        assert!(actions(&events).contains(&action), "no {action}: {events}");
    }
    assert!(!events.to_string().contains(&invite) && !events.to_string().contains(PASSWORD));
}
}

db_test! {
async fn invites_are_single_use_expire_and_pending_items_never_completed_are_removed() {
    let clock = Arc::new(ManualClock::new(1_800_000_000));
    let server = TestServer::start_with_clock(clock.clone()).await.unwrap();
    let created = create_tenant(&server, "invites").await;
    let name = created["tenant"]["name"].as_str().unwrap().to_owned();
    let admin_token = created["admin_token"].as_str().unwrap().to_owned();
    let first_invite = created["administrator"]["invite_token"].as_str().unwrap().to_owned();
    let base = format!("/admin/v1/tenants/{name}");

    // An administrator invites a new account; a second invite replaces the first.
    let bob = server.call(Method::POST, &admin_token, &format!("{base}/accounts"), Some(json!({"username": "bob"}))).await.unwrap();
    let bob = expect_status(bob, StatusCode::CREATED).await.unwrap()["id"].as_str().unwrap().to_owned();
    let invite = |id: String| {
        let (server, admin_token, base) = (&server, &admin_token, &base);
        async move {
            let response = server.call(Method::POST, admin_token, &format!("{base}/accounts/{id}/invite"), None).await.unwrap();
            expect_status(response, StatusCode::CREATED).await.unwrap()["invite_token"].as_str().unwrap().to_owned()
        }
    };
    let replaced = invite(bob.clone()).await;
    let current = invite(bob.clone()).await;
    let use_invite = |token: String| post(&server, &name, "invite", None, json!({"invite_token": token, "password": PASSWORD}));
    expect_problem(use_invite(replaced).await, StatusCode::UNAUTHORIZED).await.unwrap();
    expect_status(use_invite(current).await, StatusCode::OK).await.unwrap();
    let (session, view) = sign_in(&server, &name, "bob").await;
    assert_eq!(view["needs_permission"], json!(["admin", "admin:read"]), "an invite is not a permission");
    // A later invite resets the password: the sessions opened with the old one end.
    expect_status(use_invite(invite(bob.clone()).await).await, StatusCode::OK).await.unwrap();
    let ended = server.http.get(server.url(&format!("/t/{name}/session"))).bearer_auth(&session).send().await.unwrap();
    expect_problem(ended, StatusCode::UNAUTHORIZED).await.unwrap();
    let factors = server.get(&admin_token, &format!("{base}/accounts/{bob}")).await.unwrap()["factors"].clone();
    let states: Vec<&str> = factors.as_array().unwrap().iter().map(|f| f["state"].as_str().unwrap()).collect();
    assert_eq!(states, ["DISABLED", "ENABLED"], "the old password is disabled, the new one enabled");

    // A TOTP enrolment left unconfirmed, and the first administrator's invite never used.
    let enrolled = server.call(Method::POST, &admin_token, &format!("{base}/accounts/{bob}/factors"), Some(json!({"kind": "totp"}))).await.unwrap();
    assert_eq!(expect_status(enrolled, StatusCode::CREATED).await.unwrap()["state"], "PENDING");
    clock.advance(3_601);
    let report = server.state.run_maintenance().await.unwrap().unwrap();
    assert_eq!((report.enrolments, report.pending_accounts), (1, 0), "{report:?}");
    let factors = server.get(&admin_token, &format!("{base}/accounts/{bob}")).await.unwrap()["factors"].clone();
    let kinds: Vec<&str> = factors.as_array().unwrap().iter().map(|f| f["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["password", "password"], "the passwords stay: {factors}");

    clock.advance(7 * 86_400);
    expect_problem(use_invite(first_invite).await, StatusCode::UNAUTHORIZED).await.unwrap();
    let report = server.state.run_maintenance().await.unwrap().unwrap();
    assert_eq!(report.pending_accounts, 1, "{report:?}");
    let accounts = server.get(&admin_token, &format!("{base}/accounts")).await.unwrap();
    let names: Vec<&str> = accounts.as_array().unwrap().iter().map(|a| a["username"].as_str().unwrap()).collect();
    assert_eq!(names, ["bob"]);
    let events = server.get(&admin_token, &format!("{base}/events")).await.unwrap();
    let deleted = events.as_array().unwrap().iter().find(|e| e["action"] == "account.deleted").unwrap();
    assert_eq!(deleted["reason"], "pending-expired");
    assert_eq!(deleted["detail"]["removed"]["username"], "admin");
    assert!(actions(&events).contains(&"account.invited"));
    // A disabled account is not invited.
    let disabled = server.call(Method::PATCH, &admin_token, &format!("{base}/accounts/{bob}"), Some(json!({"state": "DISABLED"}))).await.unwrap();
    expect_status(disabled, StatusCode::OK).await.unwrap();
    let refused = server.call(Method::POST, &admin_token, &format!("{base}/accounts/{bob}/invite"), None).await.unwrap();
    expect_problem(refused, StatusCode::CONFLICT).await.unwrap();
}
}

async fn tenant_state(server: &TestServer, tenant: &TestTenant) -> Value {
    server.get(&server.root_token, &format!("/admin/v1/tenants/{}", tenant.name)).await.unwrap()["state"].clone()
}

db_test! {
async fn tenants_unused_for_longer_than_their_setting_are_disabled_until_the_operator_enables_them() {
    let clock = Arc::new(ManualClock::new(1_800_000_000));
    let server = TestServer::start_with_clock(clock.clone()).await.unwrap();
    let idle = server.create_tenant_with(json!({"name": unique_name("idle"), "settings": {"tenant_inactivity_days": 1}})).await.unwrap();
    let busy = server.create_tenant_with(json!({"name": unique_name("busy"), "settings": {"tenant_inactivity_days": 1}})).await.unwrap();
    let forever = server.create_tenant("forever").await.unwrap();
    let default = server.create_tenant_with(json!({"name": unique_name("dflt"), "default": true, "settings": {"tenant_inactivity_days": 1}})).await.unwrap();

    // A day later "busy" is used (an administrator's call), the others are not.
    clock.advance(86_401);
    server.get(&busy.admin_token, &format!("/admin/v1/tenants/{}/accounts", busy.name)).await.unwrap();
    server.state.usage.flush(&server.state.db).await.unwrap();
    let report = server.state.run_maintenance().await.unwrap().unwrap();
    assert_eq!(report.tenants, 1, "{report:?}");
    assert_eq!(tenant_state(&server, &idle).await, "DISABLED");
    for tenant in [&busy, &forever, &default] {
        assert_eq!(tenant_state(&server, tenant).await, "ENABLED", "{}", tenant.name);
    }
    // The expired tenant is closed to its own administrators and its token endpoint.
    let refused = server.call(Method::GET, &idle.admin_token, &format!("/admin/v1/tenants/{}/accounts", idle.name), None).await.unwrap();
    expect_problem(refused, StatusCode::FORBIDDEN).await.unwrap();
    let events = server.get(&server.root_token, &format!("/admin/v1/tenants/{}/events", idle.name)).await.unwrap();
    let expired = events.as_array().unwrap().iter().find(|e| e["action"] == "tenant.state_changed").unwrap();
    assert_eq!(expired["reason"], "inactive");
    assert_eq!(expired["detail"]["added"]["state"], "DISABLED");

    // The operator enables it again; it gets a fresh period from that use on.
    let enabled = server.call(Method::PATCH, &server.root_token, &format!("/admin/v1/tenants/{}", idle.name), Some(json!({"state": "ENABLED"}))).await.unwrap();
    expect_status(enabled, StatusCode::OK).await.unwrap();
    server.get(&idle.admin_token, &format!("/admin/v1/tenants/{}/accounts", idle.name)).await.unwrap();
    server.state.usage.flush(&server.state.db).await.unwrap();
    clock.advance(60);
    assert_eq!(server.state.run_maintenance().await.unwrap().unwrap().tenants, 0);
    assert_eq!(tenant_state(&server, &idle).await, "ENABLED");
}
}
