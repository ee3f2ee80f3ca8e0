//! Persistence: sqlx on SQLite (one file, WAL; the embedded default) or PostgreSQL (several
//! nodes sharing one database), chosen by the URL's scheme, with embedded migrations from
//! the mirrored `host/migrations/{sqlite,postgres}`. The queries are written once, in the
//! SQL both understand (`$n` placeholders, `ON CONFLICT`, integers as 64-bit), and run
//! through sqlx's `Any` driver. One file per table group; every query on tenant data names
//! the tenant id in its SQL, so a caller cannot read across tenants by forgetting a check.

mod accounts;
mod administrators;
mod artifacts;
mod assertions;
mod audit;
mod auth_failures;
mod bindings;
mod clients;
mod controls;
mod events;
mod extensions;
mod grants;
mod idempotency;
mod invocations;
mod keys;
mod kv;
mod locks;
mod maintenance;
mod plans;
mod reseal;
mod revocations;
mod rules;
mod tenants;
mod tokens;

use std::path::Path;
use std::str::FromStr;

use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Executor};

pub use accounts::{EventToWrite, FactorCount, FactorCounter, NewOtpCode, SessionRow};
pub use administrators::{ADMIN_PERMISSION, FirstAdministrator, InviteRow, VIEWER_PERMISSION};
pub use audit::{AuditEntry, AuditSearch, MonthlyUsage, on_behalf as audit_on_behalf};
pub use bindings::{ActiveBinding, BindingRow, FailurePolicy, NewBinding};
pub use events::{DeliveryOutcome, DeliveryRow, DueDelivery, EventFilter};
pub use extensions::{BuildResult, DeploymentRow, DeploymentState, ExtensionRow, NewDeployment};
pub use grants::{CodeRow, Grant, Redeemed, RefreshRow, Spent};
pub use idempotency::{IDEMPOTENCY_KEY_SECONDS, KeyClaim};
pub use invocations::{InvocationRow, InvocationStats, NewInvocation};
pub use keys::{KeyInfo, SigningKeyRow};
pub use kv::{KvEntry, KvWrite};
pub use locks::ResourceLock;
pub use plans::{PlanRow, TenantLimitsRow};
pub use reseal::{Reseal, Resealed, SealedValue};
pub use tokens::{PatRow, ROOT_TOKEN_ID};

use crate::tenancy::{ResourceState, UnknownState};

static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("unsupported database URL {0:?}: use sqlite://PATH or postgres://USER@HOST/DATABASE")]
    UnsupportedUrl(String),
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

impl StorageError {
    /// The database could not be reached, or is shutting down or starting up: trouble of
    /// the moment (answered 503, retried by the client), not a fault of the request.
    pub fn is_unavailable(&self) -> bool {
        let StorageError::Database(error) = self else { return false };
        match error {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::Tls(_) => true,
            // SQLSTATE class 08 (connection exception) and 57P (operator intervention:
            // shutdown, crash recovery, not yet accepting connections).
            sqlx::Error::Database(database) => {
                database.code().is_some_and(|code| code.starts_with("08") || code.starts_with("57P"))
            }
            _ => false,
        }
    }
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

/// The PostgreSQL channel on which nodes announce changes to cached tenant state.
pub const CHANGES_CHANNEL: &str = "keyhaven_changes";

/// What a change on one node makes the other nodes forget, as announced on
/// [`CHANGES_CHANNEL`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// Everything cached about the tenant (extension state, signing key, key-value entries).
    Tenant(String),
    /// Only the tenant's cached key-value entries.
    KeyValues(String),
    /// Everything about every tenant.
    Everything,
}

impl Change {
    fn payload(&self) -> String {
        match self {
            Change::Tenant(tenant_id) => tenant_id.clone(),
            Change::KeyValues(tenant_id) => format!("kv:{tenant_id}"),
            Change::Everything => "*".into(),
        }
    }

    /// The change a notification's payload announces.
    pub fn parse(payload: &str) -> Change {
        match payload {
            "*" => Change::Everything,
            _ => match payload.strip_prefix("kv:") {
                Some(tenant_id) => Change::KeyValues(tenant_id.to_owned()),
                None => Change::Tenant(payload.to_owned()),
            },
        }
    }
}

/// Which database a [`Db`] talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The backend a database URL names, from its scheme.
    pub fn of_url(url: &str) -> Result<Backend> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(StorageError::UnsupportedUrl(url.to_owned()))
        }
    }
}

/// SQLite settings for every connection: write-ahead log, foreign keys, and a busy timeout
/// so concurrent writers queue instead of failing.
const SQLITE_PRAGMAS: &str =
    "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;";

/// The longest a PostgreSQL query waits for a connection of the pool.
const ACQUIRE_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// The service's database.
#[derive(Clone, Debug)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
    /// The PostgreSQL URL, for the change listener's own connection.
    postgres_url: Option<String>,
    /// Resource locks held on this node (SQLite: the only node).
    local_locks: locks::LocalLocks,
}

impl Db {
    /// Opens the database at `url`: `sqlite://keyhaven-data/keyhaven.db` (created if
    /// missing, in WAL mode) or `postgres://user@host:5432/database`.
    pub async fn connect(url: &str) -> Result<Db> {
        sqlx::any::install_default_drivers();
        let backend = Backend::of_url(url)?;
        let pool = match backend {
            Backend::Sqlite => {
                let path = url.trim_start_matches("sqlite:").trim_start_matches("//");
                let (path, query) = path.split_once('?').unwrap_or((path, ""));
                if let Some(parent) = Path::new(path).parent()
                    && !parent.as_os_str().is_empty()
                {
                    std::fs::create_dir_all(parent)
                        .map_err(|source| StorageError::Directory { path: parent.display().to_string(), source })?;
                }
                let url = match query {
                    "" => format!("sqlite://{path}?mode=rwc"),
                    query if query.contains("mode=") => format!("sqlite://{path}?{query}"),
                    query => format!("sqlite://{path}?{query}&mode=rwc"),
                };
                AnyPoolOptions::new()
                    .max_connections(8)
                    .after_connect(|connection, _| {
                        Box::pin(async move {
                            connection.execute(SQLITE_PRAGMAS).await?;
                            Ok(())
                        })
                    })
                    .connect(&url)
                    .await?
            }
            // A request waits at most ACQUIRE_WAIT for a connection: while the database is
            // unreachable, requests are answered 503 within it instead of hanging.
            Backend::Postgres => {
                AnyPoolOptions::new().max_connections(16).acquire_timeout(ACQUIRE_WAIT).connect(url).await?
            }
        };
        let postgres_url = (backend == Backend::Postgres).then(|| url.to_owned());
        Ok(Db { pool, backend, postgres_url, local_locks: Default::default() })
    }

    /// The PostgreSQL URL, when this is PostgreSQL.
    pub fn postgres_url(&self) -> Option<&str> {
        self.postgres_url.as_deref()
    }

    /// Tells every node sharing the database what to forget ([`Change`]). PostgreSQL
    /// `NOTIFY` on [`CHANGES_CHANNEL`]; nothing on SQLite, which one node uses.
    pub async fn publish_change(&self, change: &Change) -> Result<()> {
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(CHANGES_CHANNEL)
                .bind(change.payload())
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// One round trip to the database (readiness).
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Work waiting in the database, over all tenants (for the operator's metrics): event
    /// deliveries pending, and builds pending.
    pub async fn queue_depths(&self) -> Result<(i64, i64)> {
        let deliveries: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM event_deliveries WHERE state = 'pending'")
            .fetch_one(&self.pool)
            .await?;
        let builds: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM extension_versions WHERE state = 'PENDING'")
            .fetch_one(&self.pool)
            .await?;
        Ok((deliveries, builds))
    }

    /// The connection pool now: (open connections, of which idle, the most it opens).
    pub fn pool_connections(&self) -> (u32, usize, u32) {
        (self.pool.size(), self.pool.num_idle(), self.pool.options().get_max_connections())
    }

    /// A write transaction. On SQLite it takes the write lock at once (`BEGIN IMMEDIATE`),
    /// so concurrent writers wait for each other (busy timeout) instead of failing when a
    /// read inside the transaction would have to be upgraded; PostgreSQL's row locks and
    /// constraints need no such thing.
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    /// Applies the embedded migrations that have not run yet.
    pub async fn migrate(&self) -> Result<()> {
        match self.backend {
            Backend::Sqlite => SQLITE_MIGRATOR.run(&self.pool).await?,
            Backend::Postgres => POSTGRES_MIGRATOR.run(&self.pool).await?,
        }
        Ok(())
    }
}

fn state(column: &str) -> Result<ResourceState> {
    Ok(ResourceState::from_str(column)?)
}

fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(e) if e.is_unique_violation())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::tenancy::Role;

    /// Version 2 turns version 1's deployments and bindings into extensions, versions and
    /// bindings, keeping what served each hook.
    #[tokio::test]
    async fn upgrading_keeps_what_version_1_deployed() {
        let dir = std::env::temp_dir().join(format!("keyhaven-migrate-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let db = Db::connect(&format!("sqlite://{}", dir.join("old.db").display())).await.unwrap();
        let version_1 = sqlx::migrate::Migrator {
            migrations: std::borrow::Cow::Owned(SQLITE_MIGRATOR.migrations[..1].to_vec()),
            ignore_missing: false,
            locking: true,
            no_tx: false,
        };
        version_1.run(&db.pool).await.unwrap();
        for statement in [
            "INSERT INTO tenants VALUES ('tn_1', 'acme', 'Acme', 'ENABLED', 1)",
            "INSERT INTO extension_deployments VALUES
               ('tn_1', 'ext_a', 'extension', x'00', 'sha-a', 1, '[\"token-issuance\"]', 'ENABLED', 10),
               ('tn_1', 'ext_b', 'extension', x'00', 'sha-b', 1, '[\"token-issuance\"]', 'ENABLED', 20),
               ('tn_1', 'ext_c', 'other', x'00', 'sha-c', 1, '[\"token-issuance\"]', 'ENABLED', 15)",
            "INSERT INTO hook_bindings VALUES ('tn_1', 'token-issuance', 'ext_a', 30)",
            "INSERT INTO personal_access_tokens VALUES ('pat_a', 'tn_1', 'tenant-admin', 'digest-a', 'ENABLED', 1, NULL)",
        ] {
            sqlx::query(statement).execute(&db.pool).await.unwrap();
        }

        db.migrate().await.unwrap();

        let extension = db.extension("tn_1", "extension").await.unwrap().unwrap();
        assert_eq!(extension.active_deployment_id.as_deref(), Some("ext_a"), "the bound version stays active");
        let other = db.extension("tn_1", "other").await.unwrap().unwrap();
        assert_eq!(other.active_deployment_id.as_deref(), Some("ext_c"));
        let versions: Vec<(String, i64)> = db
            .list_deployments("tn_1", Some("extension"))
            .await
            .unwrap()
            .into_iter()
            .map(|d| (d.id, d.version))
            .collect();
        assert_eq!(versions, [("ext_b".to_owned(), 2), ("ext_a".to_owned(), 1)]);
        let bound = db.active_bindings("tn_1", "token-issuance", None).await.unwrap();
        assert_eq!(bound.len(), 1);
        assert_eq!(bound[0].deployment_id, "ext_a");
        assert_eq!(bound[0].binding.failure_policy, FailurePolicy::FailClosed);
        let limits = db.tenant_limits("tn_1").await.unwrap().unwrap();
        assert_eq!(limits.plan, "standard");
        // Version 9 rebuilt the tokens table (a new role); the tokens are still there.
        let pat = db.pat_by_digest("digest-a").await.unwrap().unwrap();
        assert_eq!(pat.role, Role::TenantAdmin { tenant_id: "tn_1".into() });
        assert_eq!(pat.name, "first administrator");
        let tenant = db.tenant_by_id("tn_1").await.unwrap().unwrap();
        assert_eq!(tenant.settings, crate::tenancy::TenantSettings::default());
        let _ = std::fs::remove_dir_all(dir);
    }
}
