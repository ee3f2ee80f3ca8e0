//! The `keyhaven` command line end to end against an in-process server: the real commands
//! (`keyhaven::cli::run_args`, what the binary runs) over real HTTP, with a profiles file
//! of their own. An operator logs in and creates a tenant; its administrator logs in,
//! deploys an extension twice (with the progress indicator), reads its invocation log after
//! a token was issued, rolls back and test-runs a hook; every failure is one line on
//! standard error with the exit status scripts rely on.

use keyhaven::cli::{Exit, Io, run_args};
use keyhaven_tests::{TestClient, TestServer, TestTenant, expect_status, guests};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// What one command did.
struct Ran {
    exit: Exit,
    out: String,
    err: String,
}

impl Ran {
    fn json(&self) -> Value {
        serde_json::from_str(&self.out).unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", self.out, self.err))
    }
}

/// Runs `keyhaven ARGS` with only `env` as its environment.
async fn keyhaven(env: &[(&str, &str)], progress: bool, args: &[&str]) -> Ran {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let lookup = |name: &str| env.iter().find(|(key, _)| *key == name).map(|(_, value)| (*value).to_owned());
    let mut io = Io { out: &mut out, err: &mut err, env: &lookup, progress };
    let exit = run_args(std::iter::once("keyhaven").chain(args.iter().copied()), &mut io).await;
    Ran { exit, out: String::from_utf8(out).unwrap(), err: String::from_utf8(err).unwrap() }
}

/// Runs a command that must succeed.
async fn ok(env: &[(&str, &str)], args: &[&str]) -> Ran {
    let ran = keyhaven(env, false, args).await;
    assert_eq!(ran.exit, Exit::Ok, "keyhaven {args:?}:\n{}\n{}", ran.out, ran.err);
    ran
}

/// Runs a command that must fail with `exit`, and its one line of error.
async fn fails(env: &[(&str, &str)], args: &[&str], exit: Exit) -> String {
    let ran = keyhaven(env, false, args).await;
    assert_eq!(ran.exit, exit, "keyhaven {args:?}:\n{}\n{}", ran.out, ran.err);
    assert_eq!(ran.err.lines().count(), 1, "one line: {}", ran.err);
    assert!(ran.err.starts_with("error: "), "{}", ran.err);
    ran.err
}

db_test!(
    async fn an_administrator_deploys_reads_the_logs_and_rolls_back_from_the_command_line() {
        let server = TestServer::start().await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("profiles").join("cli.json");
        let env = [("KEYHAVEN_CLI_CONFIG", config.to_str().unwrap())];
        let name = keyhaven_tests::unique_name("cli");

        // The operator saves a profile, checked against the service, readable by its owner only.
        ok(&env, &["login", "--url", &server.base_url, "--token", &server.root_token]).await;
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&config).unwrap().permissions().mode() & 0o777, 0o600);
        let created = ok(&env, &["tenant", "create", &name, "--label", "From the CLI", "--json"]).await.json();
        assert_eq!(created["tenant"]["name"], name.as_str());
        let admin_token = created["admin_token"].as_str().unwrap().to_owned();
        let again = fails(&env, &["tenant", "create", &name], Exit::Conflict).await;
        assert!(again.starts_with("error: 409 conflict: "), "{again}");
        let listed = ok(&env, &["tenant", "list"]).await.out;
        let header = listed.lines().next().unwrap();
        assert!(header.starts_with("NAME") && header.contains("STATE") && header.contains("LABEL"), "{listed}");
        assert!(listed.lines().any(|line| line.starts_with(&name) && line.contains("From the CLI")), "{listed}");

        // The tenant's administrator logs in to a profile of their own: the tenant is theirs.
        let login =
            ok(&env, &["--profile", "admin", "login", "--url", &server.base_url, "--token", &admin_token]).await;
        assert!(login.out.contains(&name), "{}", login.out);
        let whoami = ok(&env, &["whoami"]).await.out;
        assert!(whoami.lines().any(|line| line.starts_with("role:") && line.ends_with("tenant-admin")), "{whoami}");
        assert!(whoami.lines().any(|line| line.starts_with("tenant:") && line.ends_with(&name)), "{whoami}");

        // Two versions, uploaded with the progress indicator, each waited for until built.
        let deployed = keyhaven(&env, true, &["ext", "deploy", guests::CUSTOM_CLAIMS, "--name", "claims"]).await;
        assert_eq!(deployed.exit, Exit::Ok, "{}\n{}", deployed.out, deployed.err);
        assert!(deployed.err.contains("uploading claims [####################] 100%"), "{:?}", deployed.err);
        assert!(deployed.err.contains("built: ENABLED"), "{:?}", deployed.err);
        assert!(deployed.out.lines().any(|line| line.starts_with("state:") && line.ends_with("ENABLED")));
        let first = deployed.out.lines().find_map(|line| line.strip_prefix("id:")).unwrap().trim().to_owned();
        let second = ok(&env, &["ext", "deploy", guests::CUSTOM_CLAIMS, "--name", "claims", "--json"]).await.json();
        assert_eq!((second["version"].as_i64(), second["state"].as_str()), (Some(2), Some("ENABLED")));
        let versions = ok(&env, &["ext", "versions", "claims"]).await.out;
        assert_eq!(versions.lines().count(), 3, "a header and two versions: {versions}");

        // A token runs the extension; its invocation is in the log.
        let client = ok(&env, &["client", "create", "cli app", "--json"]).await.json();
        let client = TestClient {
            client_id: client["client_id"].as_str().unwrap().to_owned(),
            client_secret: client["client_secret"].as_str().unwrap().to_owned(),
        };
        let tenant = TestTenant {
            name: name.clone(),
            id: created["tenant"]["id"].as_str().unwrap().to_owned(),
            admin_token: admin_token.clone(),
            issuer: created["tenant"]["issuer"].as_str().unwrap().to_owned(),
        };
        expect_status(server.token(&tenant, &client).await.unwrap(), StatusCode::OK).await.unwrap();
        let logs = ok(&env, &["ext", "logs", "claims", "--json"]).await.json();
        let logs = logs.as_array().unwrap();
        assert!(!logs.is_empty(), "no invocation logged");
        assert_eq!((logs[0]["hook"].as_str(), logs[0]["outcome"].as_str()), (Some("token-issuance"), Some("ok")));
        assert_eq!(logs[0]["version"], 2);

        // Roll back to the first version.
        let rolled = ok(&env, &["ext", "rollback", "claims", "--json"]).await.json();
        assert_eq!(rolled["active_deployment_id"], first.as_str());
        let listed = ok(&env, &["ext", "list", "--json"]).await.json();
        assert_eq!(listed[0]["active_deployment_id"], first.as_str());

        // A test run of the active version: ok, or exit 8 when the hook refuses.
        let input = dir.path().join("input.json");
        let subject = |attributes: Value| {
            json!({"subject": {"kind": "client", "client_id": "cl_x", "name": "x", "attributes": attributes},
                   "grant_type": "client_credentials"})
        };
        std::fs::write(&input, subject(json!({"org": "acme"})).to_string()).unwrap();
        let input = input.to_str().unwrap();
        let tested = ok(&env, &["ext", "test", "claims", "--hook", "token-issuance", "--input", input, "--json"]).await;
        assert_eq!(tested.json()["outcome"], "ok");
        let refusing = dir.path().join("refusing.json");
        std::fs::write(&refusing, subject(json!({"suspended": true})).to_string()).unwrap();
        let refusing = refusing.to_str().unwrap();
        let refused = fails(
            &env,
            &["ext", "test", "claims", "--hook", "token-issuance", "--input", refusing],
            Exit::ExtensionFailed,
        )
        .await;
        assert!(refused.starts_with("error: the token-issuance hook ended "), "{refused}");

        // Failures scripts can tell apart.
        let missing = fails(&env, &["tenant", "get", "no-such-tenant"], Exit::NotFound).await;
        assert!(missing.starts_with("error: 404 not-found: "), "{missing}");
        let not_wasm = dir.path().join("not.wasm");
        std::fs::write(&not_wasm, b"not a component").unwrap();
        fails(&env, &["ext", "deploy", not_wasm.to_str().unwrap(), "--name", "broken"], Exit::Refused).await;
        fails(&env, &["ext", "deploy", "/no/such/file.wasm", "--name", "broken"], Exit::Failed).await;
        let wrong = [("KEYHAVEN_URL", server.base_url.as_str()), ("KEYHAVEN_TOKEN", "khp_not-a-token")];
        let refused = fails(&wrong, &["tenant", "list"], Exit::Unauthorized).await;
        assert!(refused.starts_with("error: 401 "), "{refused}");
        let nowhere = [("KEYHAVEN_URL", "http://127.0.0.1:9"), ("KEYHAVEN_TOKEN", admin_token.as_str())];
        let unreachable = fails(&nowhere, &["tenant", "list"], Exit::Unavailable).await;
        assert!(unreachable.starts_with("error: cannot reach http://127.0.0.1:9/"), "{unreachable}");
        let no_profile = [("KEYHAVEN_CLI_CONFIG", dir.path().join("none.json").to_str().unwrap().to_owned())];
        let no_profile: Vec<(&str, &str)> = no_profile.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let usage = fails(&no_profile, &["tenant", "list"], Exit::Usage).await;
        assert!(usage.contains("keyhaven login"), "{usage}");
        let unknown = keyhaven(&env, false, &["ext", "frobnicate"]).await;
        assert_eq!(unknown.exit, Exit::Usage, "{}", unknown.err);
        let help = keyhaven(&env, false, &["ext", "--help"]).await;
        assert_eq!(help.exit, Exit::Ok);
        assert!(help.out.contains("deploy") && help.out.contains("rollback") && help.err.is_empty(), "{}", help.out);
    }
);
