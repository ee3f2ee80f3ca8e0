//! The service as a real child process (`keyhaven serve`, built as this package's
//! `keyhaven-service` binary), configured by environment as an operator would, beside a
//! [`TestServer`] on the same database and secrets key: the in-process node sets tenants up
//! and looks at the database; the child is the node that is signalled or killed.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use keyhaven_tests::TestServer;

/// A `keyhaven serve` child process on a fixed loopback port.
pub struct ServiceProcess {
    child: Child,
    pub base_url: String,
    pub address: std::net::SocketAddr,
    args: Vec<String>,
    env: Vec<(String, String)>,
    log: Arc<Mutex<String>>,
}

impl ServiceProcess {
    /// A node beside `server`: its database, secrets key, operator token and issuer; it
    /// runs the background jobs (event delivery, schedules, builds) itself. `extra` adds
    /// or overrides variables.
    pub async fn beside(server: &TestServer, extra: &[(&str, &str)]) -> Result<Self> {
        let port = free_port()?;
        let mut env: Vec<(String, String)> = vec![
            ("KEYHAVEN_LISTEN".into(), format!("127.0.0.1:{port}")),
            ("KEYHAVEN_DATABASE_URL".into(), server.database_url().to_owned()),
            ("KEYHAVEN_ROOT_TOKEN".into(), server.root_token.clone()),
            ("KEYHAVEN_PUBLIC_URL".into(), server.base_url.clone()),
            ("KEYHAVEN_SECRETS_KEY_FILE".into(), server.secrets_key_file().display().to_string()),
            ("KEYHAVEN_EGRESS_ALLOW".into(), "127.0.0.1".into()),
            ("KEYHAVEN_JS_BUILDER".into(), "none".into()),
            ("RUST_LOG".into(), "info".into()),
        ];
        for (name, value) in extra {
            env.retain(|(n, _)| n != name);
            env.push(((*name).to_owned(), (*value).to_owned()));
        }
        Self::start(vec!["serve".into()], env, port).await
    }

    /// `keyhaven <args>` with exactly these variables besides the test's own environment
    /// (none of it `KEYHAVEN_*`), expected to serve on `127.0.0.1:<port>`.
    pub async fn start(args: Vec<String>, env: Vec<(String, String)>, port: u16) -> Result<Self> {
        let address: std::net::SocketAddr = format!("127.0.0.1:{port}").parse()?;
        let (child, log) = spawn(&args, &env)?;
        let mut process = ServiceProcess { child, base_url: format!("http://{address}"), address, args, env, log };
        process.wait_ready().await?;
        Ok(process)
    }

    /// Starts the same node again (same port, database and settings) after it ended.
    pub async fn restart(&mut self) -> Result<()> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let (child, log) = spawn(&self.args, &self.env)?;
        self.child = child;
        self.log = log;
        self.wait_ready().await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// SIGKILL: the process ends at once, with no chance to finish or write anything.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, as a service manager stops a service.
    pub fn terminate(&self) -> Result<()> {
        let status = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status()?;
        if !status.success() {
            bail!("kill -TERM failed: {status}");
        }
        Ok(())
    }

    /// Waits up to `timeout` for the process to end.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Result<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            if Instant::now() > deadline {
                bail!("the service did not end within {timeout:?}; its log:\n{}", self.log());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// What the process wrote to stderr (its log) so far.
    pub fn log(&self) -> String {
        self.log.lock().map(|log| log.clone()).unwrap_or_default()
    }

    async fn wait_ready(&mut self) -> Result<()> {
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("the service ended at start ({status}); its log:\n{}", self.log());
            }
            if let Ok(response) = http.get(self.url("/readyz")).send().await
                && response.status().is_success()
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("the service was not ready within 60 s; its log:\n{}", self.log());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback port nothing listens on now.
pub fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn spawn(args: &[String], env: &[(String, String)]) -> Result<(Child, Arc<Mutex<String>>)> {
    let mut command = Command::new(env!("CARGO_BIN_EXE_keyhaven-service"));
    command.args(args).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
    // Only the variables given: none the test run happens to have.
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("KEYHAVEN_") {
            command.env_remove(name);
        }
    }
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.spawn().context("cannot start keyhaven-service")?;
    let log: Arc<Mutex<String>> = Arc::default();
    if let Some(stderr) = child.stderr.take() {
        let log = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(std::result::Result::ok) {
                if let Ok(mut log) = log.lock() {
                    log.push_str(&line);
                    log.push('\n');
                }
            }
        });
    }
    Ok((child, log))
}
