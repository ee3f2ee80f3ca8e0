//! The `keyhaven` binary: `serve` runs the service, `migrate` applies database migrations,
//! `run-hook` runs a hook of a component file locally (the component harness), and the
//! admin commands (`login`, `tenant`, `account`, `client`, `ext`, `keys`, `events`,
//! `usage`) drive a running service through its admin API ([`keyhaven::cli`]).

use std::io::Read;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use keyhaven::config::Config;
use keyhaven::storage::Db;

#[derive(Parser)]
#[command(name = "keyhaven", version, about = "Multi-tenant identity and token service with WebAssembly extensions")]
struct Cli {
    #[command(flatten)]
    options: keyhaven::cli::Options,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service (admin API and token endpoints) with the embedded SQLite by default;
    /// SIGTERM or Ctrl-C stops it gracefully (KEYHAVEN_SHUTDOWN_GRACE_SECONDS).
    Serve(ServiceArgs),
    /// Apply database migrations and exit.
    Migrate(ServiceArgs),
    /// Seal every secret, TOTP secret and signing key again under a new secrets key (all
    /// nodes stopped; then start them with the new key). The current key comes from
    /// KEYHAVEN_SECRETS_KEY or KEYHAVEN_SECRETS_KEY_FILE as for `serve`.
    Rekey {
        /// The new key's file: read if it exists, else created (mode 0600) with a new key.
        #[arg(long, value_name = "PATH")]
        new_key_file: PathBuf,
        #[command(flatten)]
        service: ServiceArgs,
    },
    /// Run one hook of a component file as the service would, without a service: prints
    /// the outcome, the hook's answer, the captured log, fuel and duration as JSON and
    /// exits with 0 when the outcome is ok, 1 otherwise.
    RunHook(RunHookArgs),
    #[command(flatten)]
    Admin(keyhaven::cli::Command),
}

/// Where the service's settings come from besides the environment.
#[derive(clap::Args)]
struct ServiceArgs {
    /// A TOML file of settings (`listen = "0.0.0.0:8080"`, …; see README "Configuration");
    /// KEYHAVEN_* variables that are set win over it. Default: the file KEYHAVEN_CONFIG names.
    #[arg(long, value_name = "PATH")]
    config: Option<PathBuf>,
}

#[derive(clap::Args)]
struct RunHookArgs {
    /// The component (.wasm), e.g. target/wasm32-wasip2/extension/custom_claims.wasm.
    component: PathBuf,
    /// token-issuance, otp-delivery, account-creation, events or scheduled.
    #[arg(long)]
    hook: String,
    /// The hook's input as JSON (as a dry run takes it): a file, or - for standard input.
    #[arg(long, default_value = "-")]
    input: String,
    /// A configuration entry, NAME=VALUE (repeatable).
    #[arg(long = "config", value_name = "NAME=VALUE")]
    config: Vec<String>,
    /// A secret, NAME=VALUE (repeatable).
    #[arg(long = "secret", value_name = "NAME=VALUE")]
    secrets: Vec<String>,
    /// A key-value store entry, KEY=JSON (repeatable).
    #[arg(long = "kv", value_name = "KEY=JSON")]
    kv: Vec<String>,
    /// A host outbound HTTP may reach: host, host:port or *.suffix (repeatable; default none).
    #[arg(long = "allow-host", value_name = "HOST")]
    allowed_hosts: Vec<String>,
    /// Run without side effects: no outbound HTTP, key-value writes kept in the run.
    #[arg(long)]
    dry_run: bool,
}

#[tokio::main]
pub async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Admin(command) => admin(cli.options, command).await,
        service => run_service(service).await,
    }
}

/// `serve`, `migrate` and `run-hook`: the service's own commands, with its log and config.
async fn run_service(command: Command) -> anyhow::Result<()> {
    // The service logs at info; run-hook prints its answer on stdout and only warnings
    // besides (on stderr, like every log line).
    let default_level = if matches!(command, Command::RunHook(_)) { "warn" } else { "info" };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level)),
        )
        .init();
    let file = match &command {
        Command::Serve(args) | Command::Migrate(args) | Command::Rekey { service: args, .. } => args.config.clone(),
        _ => None,
    };
    let config = Config::from_file_and_lookup(file.as_deref(), |key| std::env::var(key).ok())?;
    match command {
        // Dispatched by `main` before the service's set-up.
        Command::Admin(_) => Ok(()),
        Command::Serve(_) => serve(config).await,
        Command::Migrate(_) => {
            let db = Db::connect(&config.database_url).await?;
            db.migrate().await?;
            println!("migrations applied to {}", config.database_url);
            Ok(())
        }
        Command::RunHook(args) => run_hook(args).await,
        Command::Rekey { new_key_file, .. } => rekey(config, &new_key_file).await,
    }
}

/// `rekey`: everything sealed under the current key, sealed again under the new one.
async fn rekey(config: Config, new_key_file: &std::path::Path) -> anyhow::Result<()> {
    use keyhaven::clock::SystemEntropy;
    use keyhaven::vault::Vault;
    let db = Db::connect(&config.database_url).await?;
    db.migrate().await?;
    let old = match &config.secrets_key {
        Some(key) => Vault::from_encoded(key)?,
        None => Vault::load_or_create(&config.secrets_key_file, &SystemEntropy)?,
    };
    if config.secrets_key.is_none() && new_key_file == config.secrets_key_file {
        anyhow::bail!("the new key file is the current one: name another file");
    }
    // Keys an earlier version stored in the clear are sealed first, under the current key.
    keyhaven::jwt::keys::seal_stored(&db, &old, &SystemEntropy).await?;
    let new = Vault::load_or_create(new_key_file, &SystemEntropy)?;
    let done = keyhaven::rekey::rekey(&db, &old, &new, &SystemEntropy).await?;
    println!(
        "sealed again under {}: {} extension secrets, {} TOTP secrets, {} signing keys; {} idempotency answers dropped",
        new_key_file.display(),
        done.extension_secrets,
        done.totp_secrets,
        done.signing_keys,
        done.idempotency_answers_dropped
    );
    println!("start every node with KEYHAVEN_SECRETS_KEY_FILE={} (console sessions end)", new_key_file.display());
    Ok(())
}

/// An admin command, with the process's streams and environment; its exit status.
async fn admin(options: keyhaven::cli::Options, command: keyhaven::cli::Command) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
    let progress = err.is_terminal();
    let env = |name: &str| std::env::var(name).ok();
    let mut io = keyhaven::cli::Io { out: &mut out, err: &mut err, env: &env, progress };
    let exit = keyhaven::cli::run(options, command, &mut io).await;
    std::process::exit(exit.code())
}

async fn run_hook(args: RunHookArgs) -> anyhow::Result<()> {
    use keyhaven::harness::{self, name_value};
    let input = match args.input.as_str() {
        "-" => {
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text).context("cannot read the input from standard input")?;
            text
        }
        path => std::fs::read_to_string(path).with_context(|| format!("cannot read the input {path}"))?,
    };
    let input = serde_json::from_str(&input).context("the input is not JSON")?;
    let mut kv = Vec::new();
    for entry in &args.kv {
        let (key, value) = name_value(entry)?;
        let value = serde_json::from_str(&value).with_context(|| format!("the value of {key} is not JSON"))?;
        kv.push((key, value));
    }
    let call = harness::RunHook {
        component: args.component,
        hook: args.hook,
        input,
        config: args.config.iter().map(|c| name_value(c)).collect::<Result<_, _>>()?,
        secrets: args.secrets.iter().map(|s| name_value(s)).collect::<Result<_, _>>()?,
        kv,
        allowed_hosts: args.allowed_hosts,
        dry_run: args.dry_run,
    };
    let run = harness::run_hook(call).await?;
    println!("{}", serde_json::to_string_pretty(&run)?);
    if run.outcome != keyhaven::extensions::Outcome::Ok {
        std::process::exit(1);
    }
    Ok(())
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let (listen, grace) = (config.listen, config.shutdown_grace);
    let database = config.database_url.clone();
    let started = keyhaven::AppState::start(config).await.context("cannot start Keyhaven")?;
    if let Some(token) = &started.generated_root_token {
        println!("Keyhaven generated the operator (root) token. It is shown only this once:\n\n    {token}\n");
        println!("Set KEYHAVEN_ROOT_TOKEN to choose your own instead.");
    }
    let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
    let listen = listener.local_addr()?;
    tracing::info!(%listen, %database, "keyhaven serving");
    let stopped = keyhaven::serve_until_stopped(listener, started.state, stop_signal(), grace).await?;
    if stopped.requests_drained && stopped.background_drained {
        tracing::info!("keyhaven stopped");
    } else {
        tracing::warn!(?stopped, "keyhaven stopped with work still in flight after the grace period");
    }
    Ok(())
}

/// Completes at SIGTERM (what service managers send) or Ctrl-C (SIGINT).
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = terminate.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
                return;
            }
            Err(e) => tracing::warn!("cannot watch for SIGTERM ({e}): only Ctrl-C stops the service gracefully"),
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
