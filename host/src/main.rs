//! The `keyhaven` binary: `serve` runs the service, `migrate` applies database migrations.

use anyhow::Context;
use clap::{Parser, Subcommand};
use keyhaven::config::Config;
use keyhaven::storage::Db;

#[derive(Parser)]
#[command(name = "keyhaven", version, about = "Multi-tenant identity and token service with WebAssembly extensions")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service (admin API and token endpoints) with the embedded SQLite by default.
    Serve,
    /// Apply database migrations and exit.
    Migrate,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let cli = Cli::parse();
    let config = Config::from_lookup(|key| std::env::var(key).ok())?;
    match cli.command {
        Command::Serve => serve(config).await,
        Command::Migrate => {
            let db = Db::connect(&config.database_url).await?;
            db.migrate().await?;
            println!("migrations applied to {}", config.database_url);
            Ok(())
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let listen = config.listen;
    let database = config.database_url.clone();
    let started = keyhaven::AppState::start(config).await.context("cannot start Keyhaven")?;
    if let Some(token) = &started.generated_root_token {
        println!("Keyhaven generated the operator (root) token. It is shown only this once:\n\n    {token}\n");
        println!("Set KEYHAVEN_ROOT_TOKEN to choose your own instead.");
    }
    let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
    tracing::info!(%listen, %database, "keyhaven serving");
    keyhaven::serve(listener, started.state, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}
