//! Persistence: sqlx on SQLite (one file, WAL) with embedded migrations from
//! `host/migrations/sqlite`. One file per table group; every query on tenant data names
//! the tenant id in its SQL, so a caller cannot read across tenants by forgetting a check.

mod artifacts;
mod bindings;
mod clients;
mod events;
mod extensions;
mod invocations;
mod keys;
mod kv;
mod plans;
mod tenants;
mod tokens;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

pub use bindings::{ActiveBinding, BindingRow, FailurePolicy, NewBinding};
pub use events::{DeliveryOutcome, DeliveryRow, DueDelivery};
pub use extensions::{BuildResult, DeploymentRow, DeploymentState, ExtensionRow, NewDeployment};
pub use invocations::{InvocationRow, InvocationStats, NewInvocation};
pub use keys::SigningKeyRow;
pub use kv::{KvEntry, KvWrite};
pub use plans::{PlanRow, TenantLimitsRow};
pub use tokens::{PatRow, ROOT_TOKEN_ID};

use crate::tenancy::{ResourceState, UnknownState};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("cannot create the database directory {path}: {source}")]
    Directory { path: String, source: std::io::Error },
    #[error("a stored row is invalid: {0}")]
    Corrupt(String),
    #[error("{0} already exists")]
    Conflict(&'static str),
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A limit of the tenant's plan refused the change.
    #[error("{0}")]
    Limit(String),
    /// The change is refused in the resource's current state.
    #[error("{0}")]
    Refused(String),
}

impl From<UnknownState> for StorageError {
    fn from(e: UnknownState) -> Self {
        StorageError::Corrupt(e.to_string())
    }
}

impl From<serde_json::Error> for StorageError {
    fn from(e: serde_json::Error) -> Self {
        StorageError::Corrupt(e.to_string())
    }
}

pub type Result<T, E = StorageError> = std::result::Result<T, E>;

/// The service's database.
#[derive(Clone, Debug)]
pub struct Db {
    pool: SqlitePool,
}

impl Db {
    /// Opens (creating if needed) the SQLite database at `url`, e.g.
    /// `sqlite://keyhaven-data/keyhaven.db`, in WAL mode.
    pub async fn connect(url: &str) -> Result<Db> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        if let Some(parent) = Path::new(options.get_filename()).parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent)
                .map_err(|source| StorageError::Directory { path: parent.display().to_string(), source })?;
        }
        let pool = SqlitePoolOptions::new().max_connections(8).connect_with(options).await?;
        Ok(Db { pool })
    }

    /// A write transaction that takes SQLite's write lock at once (`BEGIN IMMEDIATE`), so
    /// concurrent writers wait for each other (busy timeout) instead of failing when a
    /// read inside the transaction would have to be upgraded.
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }

    /// Applies the embedded migrations that have not run yet.
    pub async fn migrate(&self) -> Result<()> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }
}

fn state(column: &str) -> Result<ResourceState> {
    Ok(ResourceState::from_str(column)?)
}

fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(e) if e.is_unique_violation())
}
