//! Test support for Keyhaven's integration tests and benchmarks: the paths of the guest
//! components `build.rs` compiled; [`TestServer`], the real service (real router, real
//! database, real wasmtime) served in-process on `127.0.0.1:0`; and [`Database`], which
//! database a test's servers use — a fresh SQLite file each, or a fresh database each on
//! the PostgreSQL server named by `KEYHAVEN_TEST_POSTGRES_URL`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use anyhow::{Context, Result, bail};
use keyhaven::clock::{Clock, FixedClock, SystemClock, SystemEntropy};
use keyhaven::config::Config;
use keyhaven::extensions::egress::EgressPolicy;
use keyhaven::extensions::{Hook, Limits, NodeLimits, Target};
use reqwest::StatusCode;
use serde_json::{Value, json};

pub mod browser;
pub mod js;
pub mod node;
pub mod python;

/// Paths of the guest components built for wasm32-wasip2 by `tests/build.rs`.
pub mod guests {
    include!(concat!(env!("OUT_DIR"), "/guests.rs"));

    /// The bytes of a guest component.
    pub fn bytes(path: &str) -> Vec<u8> {
        std::fs::read(path).unwrap_or_else(|e| panic!("cannot read guest {path}: {e}"))
    }
}

/// The PostgreSQL server the integration tests also run against.
pub const POSTGRES_URL_VARIABLE: &str = "KEYHAVEN_TEST_POSTGRES_URL";

/// Which database a test's servers use.
#[derive(Clone, Debug)]
pub enum Database {
    Sqlite,
    /// The server's URL (its database part is replaced by a fresh database per server).
    Postgres(String),
}

tokio::task_local! {
    static DATABASE: Database;
}

impl Database {
    /// Runs a test body with its servers on this database.
    pub async fn run<F: std::future::Future<Output = ()>>(self, test: F) {
        DATABASE.scope(self, test).await
    }

    /// PostgreSQL from `KEYHAVEN_TEST_POSTGRES_URL`. Without it, `None` and a note on the
    /// terminal that the PostgreSQL tests were skipped — except in CI (`CI` set), where a
    /// missing PostgreSQL is a failure.
    pub fn postgres() -> Option<Database> {
        match std::env::var(POSTGRES_URL_VARIABLE) {
            Ok(url) if !url.is_empty() => Some(Database::Postgres(url)),
            _ if std::env::var_os("CI").is_some() => {
                panic!("{POSTGRES_URL_VARIABLE} is not set: CI runs every test on PostgreSQL too")
            }
            _ => {
                static SAID: std::sync::Once = std::sync::Once::new();
                SAID.call_once(|| {
                    use std::io::Write;
                    // Straight to the terminal: the test harness captures print!/eprint!.
                    let _ = writeln!(
                        std::io::stderr(),
                        "\nPostgreSQL tests SKIPPED: set {POSTGRES_URL_VARIABLE}=postgres://USER@HOST:PORT/DB to run \
                         them (each test variant named `postgres` passed without running)\n"
                    );
                });
                None
            }
        }
    }

    fn current() -> Database {
        DATABASE.try_with(Database::clone).unwrap_or(Database::Sqlite)
    }
}

/// A PostgreSQL database made for one test server, dropped with it.
struct PostgresDatabase {
    server_url: String,
    name: String,
}

impl PostgresDatabase {
    async fn create(server_url: &str) -> Result<(Self, String)> {
        use sqlx::{Connection, Executor};
        let name = format!("keyhaven_test_{}", unique_name("db").replace('-', "_"));
        let mut admin = sqlx::PgConnection::connect(server_url).await.context("cannot reach PostgreSQL")?;
        admin.execute(format!("CREATE DATABASE {name}").as_str()).await?;
        admin.close().await?;
        let base = server_url.rsplit_once('/').map_or(server_url, |(base, _)| base);
        let url = format!("{base}/{name}");
        Ok((PostgresDatabase { server_url: server_url.to_owned(), name }, url))
    }
}

impl Drop for PostgresDatabase {
    fn drop(&mut self) {
        let (url, name) = (self.server_url.clone(), self.name.clone());
        // Drop is synchronous: a thread of its own, with a runtime of its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(async {
                use sqlx::{Connection, Executor};
                let mut admin = sqlx::PgConnection::connect(&url).await?;
                admin.execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str()).await?;
                anyhow::Ok(())
            })
        });
        let _ = dropped.join();
    }
}

/// What a node shares with the node it is started beside (or after): the operator token
/// and the public URL (so both issue tokens with one issuer).
#[derive(Default)]
struct Shared {
    root_token: Option<String>,
    public_url: Option<String>,
}

/// A running service with its own database, on a free loopback port.
pub struct TestServer {
    pub base_url: String,
    pub root_token: String,
    pub http: reqwest::Client,
    database_url: String,
    postgres: Option<PostgresDatabase>,
    clock: Arc<dyn Clock>,
    limits: Limits,
    node: NodeLimits,
    /// The service's state, for tests that drive the runtime directly.
    pub state: keyhaven::AppState,
    _dir: tempfile::TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// A tenant created through the admin API.
#[derive(Clone, Debug)]
pub struct TestTenant {
    pub name: String,
    pub id: String,
    pub admin_token: String,
    pub issuer: String,
}

/// A machine client's credentials.
#[derive(Clone, Debug)]
pub struct TestClient {
    pub client_id: String,
    pub client_secret: String,
}

/// Node limits for test servers: a small instance pool, since dozens of servers share one
/// test process's address space, and an egress policy that lets extensions reach the fake
/// providers the tests run on 127.0.0.1 (as an operator's `KEYHAVEN_EGRESS_ALLOW` would).
pub fn test_node_limits() -> NodeLimits {
    let loopback = EgressPolicy::parse_allow_list("127.0.0.1").unwrap_or_default();
    NodeLimits {
        concurrent_invocations: 16,
        egress: Arc::new(EgressPolicy::allowing(loopback)),
        ..NodeLimits::default()
    }
}

/// A name no other test uses, valid as a tenant name.
pub fn unique_name(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!("{prefix}-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

impl TestServer {
    /// A server with the default extension limits.
    pub async fn start() -> Result<Self> {
        Self::start_with(Limits::default()).await
    }

    /// A server with these tenant extension limits.
    pub async fn start_with(limits: Limits) -> Result<Self> {
        Self::start_configured(limits, test_node_limits(), Arc::new(SystemClock)).await
    }

    /// A server whose clock always reads `unix_time`.
    pub async fn start_at(unix_time: i64) -> Result<Self> {
        Self::start_configured(Limits::default(), test_node_limits(), Arc::new(FixedClock(unix_time))).await
    }

    /// A server with these tenant limits and node limits.
    pub async fn start_with_node(limits: Limits, node: NodeLimits) -> Result<Self> {
        Self::start_configured(limits, node, Arc::new(SystemClock)).await
    }

    /// A server whose clock is `clock`, and whose event deliveries and scheduled runs
    /// happen only when the test calls for them.
    pub async fn start_with_clock(clock: Arc<dyn Clock>) -> Result<Self> {
        let node = NodeLimits { background_jobs: false, ..test_node_limits() };
        Self::start_configured(Limits::default(), node, clock).await
    }

    /// A server with these node limits and this clock (no background jobs, as
    /// [`Self::start_with_clock`]).
    pub async fn start_with_node_and_clock(node: NodeLimits, clock: Arc<dyn Clock>) -> Result<Self> {
        let node = NodeLimits { background_jobs: false, ..node };
        Self::start_configured(Limits::default(), node, clock).await
    }

    async fn start_configured(limits: Limits, node: NodeLimits, clock: Arc<dyn Clock>) -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let (postgres, database_url) = match Database::current() {
            Database::Sqlite => (None, format!("sqlite://{}", dir.path().join("keyhaven.db").display())),
            Database::Postgres(server) => {
                let (database, url) = PostgresDatabase::create(&server).await?;
                (Some(database), url)
            }
        };
        let mut server =
            Self::start_on(dir, database_url, "127.0.0.1:0", limits, node, clock, Shared::default()).await?;
        server.postgres = postgres;
        Ok(server)
    }

    async fn start_on(
        dir: tempfile::TempDir,
        database_url: String,
        bind: &str,
        limits: Limits,
        node: NodeLimits,
        clock: Arc<dyn Clock>,
        shared: Shared,
    ) -> Result<Self> {
        // The service's log, when RUST_LOG asks for it (captured per test by the harness).
        if std::env::var_os("RUST_LOG").is_some() {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
                .with_test_writer()
                .try_init();
        }
        let listener = tokio::net::TcpListener::bind(bind).await?;
        let address = listener.local_addr()?;
        let root_token = match shared.root_token {
            Some(token) => token,
            None => format!("root-{}", keyhaven::secrets::new_client_secret(&SystemEntropy)?),
        };
        let config = Config {
            listen: address,
            database_url: database_url.clone(),
            root_token: Some(root_token.clone()),
            public_url: Some(shared.public_url.unwrap_or_else(|| format!("http://{address}"))),
            // Tenants answer on `{tenant}.localhost` too (tests name it in the Host header).
            tenant_domain: Some("localhost".into()),
            limits: limits.clone(),
            node_limits: node.clone(),
            secrets_key: None,
            secrets_key_file: dir.path().join("secrets.key"),
            trusted_proxies: Vec::new(),
            shutdown_grace: keyhaven::config::DEFAULT_SHUTDOWN_GRACE,
        };
        let started = keyhaven::AppState::start_with(config, clock.clone(), Arc::new(SystemEntropy)).await?;
        let state = started.state.clone();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = keyhaven::serve(listener, started.state, async {
                let _ = rx.await;
            })
            .await;
        });
        Ok(TestServer {
            base_url: format!("http://{address}"),
            root_token,
            http: reqwest::Client::new(),
            database_url,
            postgres: None,
            clock,
            limits,
            node,
            state,
            _dir: dir,
            shutdown: Some(tx),
            task: Some(task),
        })
    }

    /// Stops this server and starts a new one on the same database, address, limits and
    /// clock (a restart).
    pub async fn restart(mut self) -> Result<Self> {
        self.stop().await;
        let dir = std::mem::replace(&mut self._dir, tempfile::tempdir()?);
        let address = self.base_url.trim_start_matches("http://").to_owned();
        let mut restarted = Self::start_on(
            dir,
            self.database_url.clone(),
            &address,
            self.limits.clone(),
            self.node.clone(),
            self.clock.clone(),
            Shared { root_token: Some(self.root_token.clone()), public_url: None },
        )
        .await?;
        restarted.postgres = self.postgres.take();
        Ok(restarted)
    }

    /// The file of the key that seals this server's secrets.
    pub fn secrets_key_file(&self) -> std::path::PathBuf {
        self._dir.path().join("secrets.key")
    }

    /// A restart with the secrets key in `key_file` instead of the current one (after
    /// `keyhaven rekey`).
    pub async fn restart_with_key(self, key_file: &std::path::Path) -> Result<Self> {
        std::fs::copy(key_file, self.secrets_key_file())?;
        self.restart().await
    }

    /// Another node of the same service: its own runtime and caches, on this server's
    /// database (the database stays this server's to drop).
    pub async fn second_node(&self) -> Result<Self> {
        // Nodes share the key that seals secrets, as they would in production.
        let dir = tempfile::tempdir()?;
        std::fs::copy(self._dir.path().join("secrets.key"), dir.path().join("secrets.key"))?;
        Self::start_on(
            dir,
            self.database_url.clone(),
            "127.0.0.1:0",
            self.limits.clone(),
            self.node.clone(),
            self.clock.clone(),
            Shared { root_token: Some(self.root_token.clone()), public_url: Some(self.base_url.clone()) },
        )
        .await
    }

    async fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    /// The URL of the server's database (for another node on it).
    pub fn database_url(&self) -> &str {
        &self.database_url
    }

    /// The path of the server's SQLite database file (`None` on PostgreSQL).
    pub fn database_path(&self) -> Option<&str> {
        self.database_url.strip_prefix("sqlite://")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Creates a tenant with a unique name derived from `prefix`.
    pub async fn create_tenant(&self, prefix: &str) -> Result<TestTenant> {
        let name = unique_name(prefix);
        self.create_tenant_with(json!({"name": name, "label": format!("Test tenant {name}")})).await
    }

    /// Creates a tenant from a whole creation body, as the operator; expects 201.
    pub async fn create_tenant_with(&self, body: Value) -> Result<TestTenant> {
        let response =
            self.http.post(self.url("/admin/v1/tenants")).bearer_auth(&self.root_token).json(&body).send().await?;
        let body = expect_status(response, StatusCode::CREATED).await?;
        Ok(TestTenant {
            name: body["tenant"]["name"].as_str().context("tenant.name")?.to_owned(),
            id: body["tenant"]["id"].as_str().context("tenant.id")?.to_owned(),
            admin_token: body["admin_token"].as_str().context("admin_token")?.to_owned(),
            issuer: body["tenant"]["issuer"].as_str().context("tenant.issuer")?.to_owned(),
        })
    }

    /// Creates a machine client in `tenant` with the given creation body.
    pub async fn create_client(&self, tenant: &TestTenant, body: Value) -> Result<TestClient> {
        let response = self
            .http
            .post(self.url(&format!("/admin/v1/tenants/{}/clients", tenant.name)))
            .bearer_auth(&tenant.admin_token)
            .json(&body)
            .send()
            .await?;
        let body = expect_status(response, StatusCode::CREATED).await?;
        Ok(TestClient {
            client_id: body["client_id"].as_str().context("client_id")?.to_owned(),
            client_secret: body["client_secret"].as_str().context("client_secret")?.to_owned(),
        })
    }

    /// Uploads a component to `tenant` as its administrator; returns the raw response.
    pub async fn upload(&self, tenant: &TestTenant, component: Vec<u8>) -> Result<reqwest::Response> {
        self.upload_as(&tenant.admin_token, &tenant.name, "", "application/wasm", component).await
    }

    /// `POST /admin/v1/tenants/{tenant_name}/extensions{query}` with any token and content type.
    pub async fn upload_as(
        &self,
        token: &str,
        tenant_name: &str,
        query: &str,
        content_type: &str,
        component: Vec<u8>,
    ) -> Result<reqwest::Response> {
        Ok(self
            .http
            .post(self.url(&format!("/admin/v1/tenants/{tenant_name}/extensions{query}")))
            .bearer_auth(token)
            .header("content-type", content_type)
            .body(component)
            .send()
            .await?)
    }

    /// Deploys the guest at `path` to `tenant` as (a new version of) extension `extension`,
    /// waits for its build and expects it ENABLED; returns the deployment.
    pub async fn deploy(&self, tenant: &TestTenant, path: &str) -> Result<Value> {
        self.deploy_as(tenant, path, "extension", "").await
    }

    /// Like [`Self::deploy`], with an extension name and extra query (`&bind=none`).
    pub async fn deploy_as(&self, tenant: &TestTenant, path: &str, extension: &str, query: &str) -> Result<Value> {
        let query = format!("?name={extension}{query}");
        let response =
            self.upload_as(&tenant.admin_token, &tenant.name, &query, "application/wasm", guests::bytes(path)).await?;
        let accepted = expect_status(response, StatusCode::ACCEPTED).await?;
        if accepted["state"] != "PENDING" {
            bail!("an upload is answered PENDING, got {accepted}");
        }
        let built = self.wait_built(tenant, accepted["id"].as_str().context("id")?).await?;
        if built["state"] != "ENABLED" {
            bail!("the build did not succeed: {built}");
        }
        Ok(built)
    }

    /// Polls a deployment until its build has finished; returns it.
    pub async fn wait_built(&self, tenant: &TestTenant, deployment_id: &str) -> Result<Value> {
        let started = std::time::Instant::now();
        loop {
            let path = format!("/admin/v1/tenants/{}/deployments/{deployment_id}", tenant.name);
            let deployment = self.get(&tenant.admin_token, &path).await?;
            if deployment["state"] != "PENDING" {
                return Ok(deployment);
            }
            if started.elapsed() > std::time::Duration::from_secs(300) {
                bail!("deployment {deployment_id} still PENDING after 300 s");
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// `GET path` as `token`, expecting 200; the JSON body.
    pub async fn get(&self, token: &str, path: &str) -> Result<Value> {
        let response = self.http.get(self.url(path)).bearer_auth(token).send().await?;
        expect_status(response, StatusCode::OK).await
    }

    /// `method path` with a JSON body as `token`; the raw response.
    pub async fn call(
        &self,
        method: reqwest::Method,
        token: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<reqwest::Response> {
        let mut request = self.http.request(method, self.url(path)).bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        Ok(request.send().await?)
    }

    /// `method /admin/v1/tenants/{tenant}{path}` as the tenant's administrator; fails the
    /// test unless it succeeds. The answer's JSON (`null` for an empty body).
    pub async fn admin_ok(&self, tenant: &TestTenant, method: reqwest::Method, path: &str, body: Value) -> Value {
        let path = format!("/admin/v1/tenants/{}{path}", tenant.name);
        let response = self.call(method, &tenant.admin_token, &path, Some(body)).await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(status.is_success(), "{path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// The newest invocation record of `extension` in `tenant`, as its administrators read it.
    pub async fn last_invocation(&self, tenant: &TestTenant, extension: &str) -> Value {
        let path = format!("/admin/v1/tenants/{}/extensions/{extension}/invocations?limit=1", tenant.name);
        let page = self.get(&tenant.admin_token, &path).await.unwrap_or_default();
        page["invocations"][0].clone()
    }

    /// Asserts that a token answer is the stable `server_error` of a failed extension, which
    /// names neither the extension nor its internals, and that the extension's newest
    /// invocation record says `why`.
    pub async fn assert_extension_failed(&self, tenant: &TestTenant, body: &Value, extension: &str, why: &str) {
        assert_eq!(body["error"], "server_error", "{body}");
        assert_eq!(body["error_description"], keyhaven::oauth::EXTENSION_FAILED, "{body}");
        let record = self.last_invocation(tenant, extension).await;
        assert!(
            record["detail"].as_str().is_some_and(|d| d.contains(why)),
            "{extension}'s record says {why:?}: {record}"
        );
    }

    /// The runtime's target for the active version of `extension` in `tenant`.
    pub async fn target(&self, tenant: &TestTenant, extension: &str, hook: Hook) -> Result<Target> {
        let stored = self.state.db.tenant_by_name(&tenant.name).await?.context("tenant")?;
        let row = self.state.db.extension(&stored.id, extension).await?.context("extension")?;
        let deployment_id = row.active_deployment_id.context("no active version")?;
        let deployment = self.state.db.deployment(&stored.id, &deployment_id).await?.context("deployment")?;
        self.state
            .extensions
            .target(&stored, extension, &deployment_id, deployment.version, hook, false)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))
    }

    /// A `client_credentials` token request with `client_secret_basic`.
    pub async fn token(&self, tenant: &TestTenant, client: &TestClient) -> Result<reqwest::Response> {
        Ok(self
            .http
            .post(self.url(&format!("/t/{}/oauth2/token", tenant.name)))
            .basic_auth(&client.client_id, Some(&client.client_secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await?)
    }

    /// Verifies the access token `token` against `tenant`'s published JWKS and returns its
    /// claims.
    pub async fn verify(&self, tenant: &TestTenant, token: &str, audience: &str) -> Result<Value> {
        self.verify_typed(tenant, token, audience, "at+jwt").await
    }

    /// Verifies a JWT of type `typ` (`at+jwt`, or `JWT` for an ID token) against `tenant`'s
    /// published JWKS and returns its claims.
    pub async fn verify_typed(&self, tenant: &TestTenant, token: &str, audience: &str, typ: &str) -> Result<Value> {
        let jwks: jsonwebtoken::jwk::JwkSet =
            self.http.get(self.url(&format!("/t/{}/jwks.json", tenant.name))).send().await?.json().await?;
        let header = jsonwebtoken::decode_header(token)?;
        if header.typ.as_deref() != Some(typ) {
            bail!("token typ is {:?}, expected {typ}", header.typ);
        }
        let kid = header.kid.context("token has no kid")?;
        let jwk = jwks.find(&kid).with_context(|| format!("kid {kid} is not in the tenant's JWKS"))?;
        let key = jsonwebtoken::DecodingKey::from_jwk(jwk)?;
        // The algorithm the tenant's key is published for, not the one the token claims.
        let algorithm = match jwk.common.key_algorithm {
            Some(jsonwebtoken::jwk::KeyAlgorithm::EdDSA) => jsonwebtoken::Algorithm::EdDSA,
            Some(jsonwebtoken::jwk::KeyAlgorithm::RS256) => jsonwebtoken::Algorithm::RS256,
            Some(jsonwebtoken::jwk::KeyAlgorithm::ES256) => jsonwebtoken::Algorithm::ES256,
            other => bail!("unexpected key algorithm {other:?}"),
        };
        let mut validation = jsonwebtoken::Validation::new(algorithm);
        validation.set_issuer(&[&tenant.issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        // Expiry is judged by the server's clock, which a test may have set anywhere, not
        // by this machine's.
        validation.validate_exp = false;
        let claims = jsonwebtoken::decode::<Value>(token, &key, &validation)?.claims;
        let now = self.clock.now();
        match claims["exp"].as_i64() {
            Some(exp) if exp > now => Ok(claims),
            other => bail!("the token expired (exp {other:?}) by the server's clock ({now})"),
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Asserts the response status and returns its JSON body.
pub async fn expect_status(response: reqwest::Response, status: StatusCode) -> Result<Value> {
    let actual = response.status();
    let text = response.text().await?;
    if actual != status {
        bail!("expected {status}, got {actual}: {text}");
    }
    serde_json::from_str(&text).with_context(|| format!("body is not JSON: {text}"))
}

/// Asserts an admin API error: the status, `application/problem+json`, and a stable
/// `type`; returns the problem document.
pub async fn expect_problem(response: reqwest::Response, status: StatusCode) -> Result<Value> {
    let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let body = expect_status(response, status).await?;
    if content_type != "application/problem+json" {
        bail!("expected application/problem+json, got {content_type:?}: {body}");
    }
    if body["status"] != status.as_u16()
        || !body["type"].as_str().is_some_and(|t| t.starts_with("urn:keyhaven:problem:"))
    {
        bail!("not a Keyhaven problem document: {body}");
    }
    Ok(body)
}

/// One request a [`FakeHttpServer`] received.
#[derive(Clone, Debug)]
pub struct ReceivedRequest {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl ReceivedRequest {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// How a [`FakeHttpServer`] answers.
#[derive(Clone, Debug)]
pub struct FakeAnswer {
    pub status: u16,
    pub body: Value,
    pub delay: std::time::Duration,
}

/// A third party we cannot reach (an SMS provider, a webhook receiver), played by a small
/// HTTP server on 127.0.0.1 that records what it receives and answers as told.
pub struct FakeHttpServer {
    pub address: std::net::SocketAddr,
    received: Arc<std::sync::Mutex<Vec<ReceivedRequest>>>,
    answer: Arc<std::sync::Mutex<FakeAnswer>>,
    _task: tokio::task::JoinHandle<()>,
}

impl FakeHttpServer {
    pub async fn start(status: u16, body: Value) -> Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let received: Arc<std::sync::Mutex<Vec<ReceivedRequest>>> = Arc::default();
        let answer = Arc::new(std::sync::Mutex::new(FakeAnswer { status, body, delay: std::time::Duration::ZERO }));
        let (log, reply) = (received.clone(), answer.clone());
        let app = axum::Router::new().fallback(move |request: axum::extract::Request| {
            let (log, reply) = (log.clone(), reply.clone());
            async move {
                let (parts, body) = request.into_parts();
                let body = axum::body::to_bytes(body, 1 << 20).await.map(|b| b.to_vec()).unwrap_or_default();
                log.lock().unwrap().push(ReceivedRequest {
                    method: parts.method.to_string(),
                    path: parts.uri.path().to_owned(),
                    headers: parts
                        .headers
                        .iter()
                        .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").to_owned()))
                        .collect(),
                    body,
                });
                let answer = reply.lock().unwrap().clone();
                tokio::time::sleep(answer.delay).await;
                let status = axum::http::StatusCode::from_u16(answer.status).unwrap();
                (status, axum::Json(answer.body))
            }
        });
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(FakeHttpServer { address, received, answer, _task: task })
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// What the server has received so far.
    pub fn received(&self) -> Vec<ReceivedRequest> {
        self.received.lock().unwrap().clone()
    }

    /// Changes how the server answers from now on.
    pub fn answer_with(&self, status: u16, body: Value, delay: std::time::Duration) {
        *self.answer.lock().unwrap() = FakeAnswer { status, body, delay };
    }
}

impl Drop for FakeHttpServer {
    fn drop(&mut self) {
        self._task.abort();
    }
}
