//! Human accounts, their factors, sessions (logins in progress included) and one-time
//! codes. A change and the event that reports it are written in one transaction. Factor
//! counters move in single statements, so concurrent attempts cannot slip past a lock.

use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use super::events::insert_event_in;
use super::grants::{Holder, revoke_refresh_tokens_in};
use super::{Db, Result, StorageError, is_unique_violation, state};
use crate::extensions::events::Event;
use crate::tenancy::{Account, Factor, FactorKind, ResourceState};

/// An event to write with a change: the event and the `events` bindings it goes to.
pub type EventToWrite<'a> = Option<(&'a Event, &'a [String])>;

const ACCOUNT_COLUMNS: &str = "id, username, email, phone, attributes, state, created_at, updated_at, last_active_at";
const FACTOR_COLUMNS: &str = "id, account_id, kind, channel, recipient, secret_hash, state, failed_attempts,
     codes_requested, locked_until, created_at, last_used_at, sealed_secret, last_step";
const SESSION_COLUMNS: &str =
    "id, account_id, state, score, factors, stay_signed_in, created_at, last_seen_at, authenticated_at";

fn account(row: &AnyRow) -> Result<Account> {
    Ok(Account {
        id: row.try_get("id")?,
        username: row.try_get("username")?,
        email: row.try_get("email")?,
        phone: row.try_get("phone")?,
        attributes: serde_json::from_str(row.try_get("attributes")?)?,
        state: state(row.try_get("state")?)?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        last_active_at: row.try_get("last_active_at")?,
    })
}

fn factor(row: &AnyRow) -> Result<Factor> {
    let kind: &str = row.try_get("kind")?;
    Ok(Factor {
        id: row.try_get("id")?,
        account_id: row.try_get("account_id")?,
        kind: FactorKind::parse(kind).ok_or_else(|| StorageError::Corrupt(format!("factor kind {kind:?}")))?,
        channel: row.try_get("channel")?,
        recipient: row.try_get("recipient")?,
        secret_hash: row.try_get("secret_hash")?,
        state: state(row.try_get("state")?)?,
        failed_attempts: row.try_get("failed_attempts")?,
        codes_requested: row.try_get("codes_requested")?,
        locked_until: row.try_get("locked_until")?,
        created_at: row.try_get("created_at")?,
        last_used_at: row.try_get("last_used_at")?,
        sealed_secret: row.try_get("sealed_secret")?,
        last_step: row.try_get("last_step")?,
    })
}

/// How many of a tenant's factors are of one kind and in one state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FactorCount {
    pub kind: FactorKind,
    pub state: ResourceState,
    pub count: i64,
    /// Of those, how many are locked for now after failed attempts.
    pub locked: i64,
}

/// A session, or a login in progress (PENDING).
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct SessionRow {
    pub id: String,
    pub account_id: String,
    pub state: ResourceState,
    pub score: i64,
    /// The kinds of the factors passed, in order.
    pub factors: Vec<FactorKind>,
    pub stay_signed_in: bool,
    pub created_at: i64,
    pub last_seen_at: i64,
    /// When a factor was last passed in it (`None` while the login is in progress).
    pub authenticated_at: Option<i64>,
}

impl SessionRow {
    /// Whether the login or session is still usable under the tenant's settings.
    pub fn is_live(&self, settings: &crate::tenancy::TenantSettings, now: i64) -> bool {
        crate::tenancy::account::session_live(
            self.state,
            self.stay_signed_in,
            self.created_at,
            self.last_seen_at,
            settings,
            now,
        )
    }
}

fn session(row: &AnyRow) -> Result<SessionRow> {
    Ok(SessionRow {
        id: row.try_get("id")?,
        account_id: row.try_get("account_id")?,
        state: state(row.try_get("state")?)?,
        score: row.try_get("score")?,
        factors: serde_json::from_str(row.try_get("factors")?)?,
        stay_signed_in: row.try_get::<i64, _>("stay_signed_in")? != 0,
        created_at: row.try_get("created_at")?,
        last_seen_at: row.try_get("last_seen_at")?,
        authenticated_at: row.try_get("authenticated_at")?,
    })
}

pub(super) async fn event_in(
    tx: &mut Transaction<'_, Any>,
    tenant_id: &str,
    event: EventToWrite<'_>,
    now: i64,
) -> Result<()> {
    match event {
        Some((event, bindings)) => insert_event_in(tx, tenant_id, event, bindings, now).await,
        None => Ok(()),
    }
}

/// Inserts an account inside a caller's transaction; a taken username is a conflict.
pub(super) async fn insert_account_in(tx: &mut Transaction<'_, Any>, tenant_id: &str, account: &Account) -> Result<()> {
    let sql =
        format!("INSERT INTO accounts (tenant_id, {ACCOUNT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)");
    let inserted = sqlx::query(&sql)
        .bind(tenant_id)
        .bind(&account.id)
        .bind(&account.username)
        .bind(&account.email)
        .bind(&account.phone)
        .bind(serde_json::Value::Object(account.attributes.clone()).to_string())
        .bind(account.state.as_str())
        .bind(account.created_at)
        .bind(account.updated_at)
        .bind(account.last_active_at)
        .execute(&mut **tx)
        .await;
    match inserted {
        Err(e) if is_unique_violation(&e) => return Err(StorageError::Conflict("an account with this username")),
        other => other?,
    };
    Ok(())
}

/// Inserts a factor inside a caller's transaction.
pub(super) async fn insert_factor_in(tx: &mut Transaction<'_, Any>, tenant_id: &str, factor: &Factor) -> Result<()> {
    let sql = format!(
        "INSERT INTO factors (tenant_id, {FACTOR_COLUMNS})
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
    );
    let inserted = sqlx::query(&sql)
        .bind(tenant_id)
        .bind(&factor.id)
        .bind(&factor.account_id)
        .bind(factor.kind.as_str())
        .bind(&factor.channel)
        .bind(&factor.recipient)
        .bind(&factor.secret_hash)
        .bind(factor.state.as_str())
        .bind(factor.failed_attempts)
        .bind(factor.codes_requested)
        .bind(factor.locked_until)
        .bind(factor.created_at)
        .bind(factor.last_used_at)
        .bind(&factor.sealed_secret)
        .bind(factor.last_step)
        .execute(&mut **tx)
        .await;
    match inserted {
        Err(sqlx::Error::Database(e)) if e.is_foreign_key_violation() => {
            return Err(StorageError::NotFound("account"));
        }
        other => other?,
    };
    Ok(())
}

/// A one-time code about to be stored (its SHA-256, never the code).
#[derive(Clone, Copy, Debug)]
pub struct NewOtpCode<'a> {
    pub id: &'a str,
    pub session_id: &'a str,
    pub factor_id: &'a str,
    pub code_sha256: &'a str,
    pub expires_at: i64,
    pub created_at: i64,
}

/// Why a counter moved: a failed attempt, or a code requested.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FactorCounter {
    FailedAttempt,
    CodeRequested,
}

impl Db {
    /// Stores a new account, with its first factor if it has one, and its event.
    pub async fn insert_account(
        &self,
        tenant_id: &str,
        account: &Account,
        factor: Option<&Factor>,
        event: EventToWrite<'_>,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        insert_account_in(&mut tx, tenant_id, account).await?;
        if let Some(factor) = factor {
            insert_factor_in(&mut tx, tenant_id, factor).await?;
        }
        event_in(&mut tx, tenant_id, event, account.created_at).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn account(&self, tenant_id: &str, id: &str) -> Result<Option<Account>> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE tenant_id = $1 AND id = $2");
        let row = sqlx::query(&sql).bind(tenant_id).bind(id).fetch_optional(&self.pool).await?;
        row.as_ref().map(account).transpose()
    }

    pub async fn account_by_username(&self, tenant_id: &str, username: &str) -> Result<Option<Account>> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE tenant_id = $1 AND username = $2");
        let row = sqlx::query(&sql).bind(tenant_id).bind(username).fetch_optional(&self.pool).await?;
        row.as_ref().map(account).transpose()
    }

    /// The tenant's accounts in username order, after `after` (a username cursor).
    pub async fn list_accounts(&self, tenant_id: &str, after: Option<&str>, limit: u32) -> Result<Vec<Account>> {
        let sql = format!(
            "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE tenant_id = $1 AND username > $2 ORDER BY username LIMIT $3"
        );
        let rows = sqlx::query(&sql)
            .bind(tenant_id)
            .bind(after.unwrap_or(""))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(account).collect()
    }

    /// The tenant's accounts whose username or e-mail address contains `text` (any case),
    /// in username order, after `after`.
    pub async fn search_accounts(
        &self,
        tenant_id: &str,
        text: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Account>> {
        let escaped = text.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
        let sql = format!(
            "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE tenant_id = $1 AND username > $2
             AND (username LIKE $3 ESCAPE '\\' OR LOWER(COALESCE(email, '')) LIKE $3 ESCAPE '\\')
             ORDER BY username LIMIT $4"
        );
        let rows = sqlx::query(&sql)
            .bind(tenant_id)
            .bind(after.unwrap_or(""))
            .bind(format!("%{escaped}%"))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(account).collect()
    }

    /// Writes an account's changeable fields; on leaving ENABLED its sessions end.
    pub async fn update_account(&self, tenant_id: &str, account: &Account, event: EventToWrite<'_>) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let updated = sqlx::query(
            "UPDATE accounts SET email = $1, phone = $2, attributes = $3, state = $4, updated_at = $5
             WHERE tenant_id = $6 AND id = $7",
        )
        .bind(&account.email)
        .bind(&account.phone)
        .bind(serde_json::Value::Object(account.attributes.clone()).to_string())
        .bind(account.state.as_str())
        .bind(account.updated_at)
        .bind(tenant_id)
        .bind(&account.id)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() != 1 {
            return Ok(false);
        }
        if !account.state.is_usable() {
            sqlx::query("UPDATE sessions SET state = 'DISABLED' WHERE tenant_id = $1 AND account_id = $2")
                .bind(tenant_id)
                .bind(&account.id)
                .execute(&mut *tx)
                .await?;
            revoke_refresh_tokens_in(&mut tx, tenant_id, Holder::Account(&account.id), account.updated_at).await?;
        }
        event_in(&mut tx, tenant_id, event, account.updated_at).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Deletes an account with its factors, sessions and codes.
    pub async fn delete_account(&self, tenant_id: &str, id: &str, event: EventToWrite<'_>, now: i64) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        for table in ["otp_codes", "sessions", "factors", "consents"] {
            let column = if table == "otp_codes" {
                "factor_id IN (SELECT id FROM factors WHERE tenant_id = $1 AND account_id = $2)"
            } else {
                "account_id = $2"
            };
            let sql = format!("DELETE FROM {table} WHERE tenant_id = $1 AND {column}");
            sqlx::query(&sql).bind(tenant_id).bind(id).execute(&mut *tx).await?;
        }
        let deleted = sqlx::query("DELETE FROM accounts WHERE tenant_id = $1 AND id = $2")
            .bind(tenant_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if deleted.rows_affected() != 1 {
            return Ok(false);
        }
        event_in(&mut tx, tenant_id, event, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Moves an account, with its factors, to another tenant, in one transaction: its
    /// sessions, codes and consents (which were given in the old tenant) end; `resealed`
    /// replaces the sealed secrets that are bound to the tenant. Events are written in both
    /// tenants. Fails with a conflict when the username is taken there.
    pub async fn move_account(
        &self,
        from: &str,
        to: &str,
        id: &str,
        resealed: &[(String, String)],
        events: [EventToWrite<'_>; 2],
        now: i64,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let copied = sqlx::query(
            "INSERT INTO accounts (tenant_id, id, username, email, phone, attributes, state, created_at, updated_at,
                                   last_active_at)
             SELECT $1, id, username, email, phone, attributes, state, created_at, $2, last_active_at
             FROM accounts WHERE tenant_id = $3 AND id = $4",
        )
        .bind(to)
        .bind(now)
        .bind(from)
        .bind(id)
        .execute(&mut *tx)
        .await;
        let copied = match copied {
            Err(e) if is_unique_violation(&e) => {
                return Err(StorageError::Conflict("an account with this username (or id) in the other tenant"));
            }
            other => other?,
        };
        if copied.rows_affected() != 1 {
            return Ok(false);
        }
        for sql in [
            "DELETE FROM otp_codes WHERE tenant_id = $1 AND factor_id IN (SELECT id FROM factors WHERE tenant_id = $1 AND account_id = $2)",
            "DELETE FROM sessions WHERE tenant_id = $1 AND account_id = $2",
            "DELETE FROM consents WHERE tenant_id = $1 AND account_id = $2",
        ] {
            sqlx::query(sql).bind(from).bind(id).execute(&mut *tx).await?;
        }
        sqlx::query("UPDATE factors SET tenant_id = $1 WHERE tenant_id = $2 AND account_id = $3")
            .bind(to)
            .bind(from)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        for (factor_id, sealed) in resealed {
            sqlx::query("UPDATE factors SET sealed_secret = $1 WHERE tenant_id = $2 AND id = $3")
                .bind(sealed)
                .bind(to)
                .bind(factor_id)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("DELETE FROM accounts WHERE tenant_id = $1 AND id = $2")
            .bind(from)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        for (tenant_id, event) in [from, to].into_iter().zip(events) {
            event_in(&mut tx, tenant_id, event, now).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Marks the account active (a login).
    pub async fn touch_account(&self, tenant_id: &str, id: &str, now: i64) -> Result<()> {
        sqlx::query("UPDATE accounts SET last_active_at = $1 WHERE tenant_id = $2 AND id = $3")
            .bind(now)
            .bind(tenant_id)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn insert_factor(&self, tenant_id: &str, factor: &Factor, event: EventToWrite<'_>) -> Result<()> {
        let mut tx = self.begin_write().await?;
        insert_factor_in(&mut tx, tenant_id, factor).await?;
        event_in(&mut tx, tenant_id, event, factor.created_at).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn factors(&self, tenant_id: &str, account_id: &str) -> Result<Vec<Factor>> {
        let sql = format!(
            "SELECT {FACTOR_COLUMNS} FROM factors WHERE tenant_id = $1 AND account_id = $2 ORDER BY created_at, id"
        );
        let rows = sqlx::query(&sql).bind(tenant_id).bind(account_id).fetch_all(&self.pool).await?;
        rows.iter().map(factor).collect()
    }

    /// How many factors of each kind the tenant's accounts have, by state, and how many of
    /// those are locked at `now` (too many failed attempts).
    pub async fn factor_counts(&self, tenant_id: &str, now: i64) -> Result<Vec<FactorCount>> {
        let rows = sqlx::query(
            "SELECT kind, state, COUNT(*) AS n, SUM(CASE WHEN locked_until > $2 THEN 1 ELSE 0 END) AS locked
             FROM factors WHERE tenant_id = $1 GROUP BY kind, state ORDER BY kind, state",
        )
        .bind(tenant_id)
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let kind: &str = row.try_get("kind")?;
                Ok(FactorCount {
                    kind: FactorKind::parse(kind)
                        .ok_or_else(|| StorageError::Corrupt(format!("factor kind {kind:?}")))?,
                    state: state(row.try_get("state")?)?,
                    count: row.try_get("n")?,
                    locked: row.try_get("locked")?,
                })
            })
            .collect()
    }

    pub async fn factor(&self, tenant_id: &str, id: &str) -> Result<Option<Factor>> {
        let sql = format!("SELECT {FACTOR_COLUMNS} FROM factors WHERE tenant_id = $1 AND id = $2");
        let row = sqlx::query(&sql).bind(tenant_id).bind(id).fetch_optional(&self.pool).await?;
        row.as_ref().map(factor).transpose()
    }

    pub async fn set_factor_state(&self, tenant_id: &str, id: &str, new_state: ResourceState) -> Result<bool> {
        let updated = sqlx::query("UPDATE factors SET state = $1 WHERE tenant_id = $2 AND id = $3")
            .bind(new_state.as_str())
            .bind(tenant_id)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(updated.rows_affected() == 1)
    }

    /// Counts a failed attempt or a requested code, in one statement: a lock that has run
    /// out starts the count afresh; reaching `max` locks the factor until `lock_until`.
    /// Returns the factor as it is now.
    pub async fn count_factor(
        &self,
        tenant_id: &str,
        id: &str,
        counter: FactorCounter,
        max: i64,
        now: i64,
        lock_until: i64,
    ) -> Result<Option<Factor>> {
        let column = match counter {
            FactorCounter::FailedAttempt => "failed_attempts",
            FactorCounter::CodeRequested => "codes_requested",
        };
        let other = match counter {
            FactorCounter::FailedAttempt => "codes_requested",
            FactorCounter::CodeRequested => "failed_attempts",
        };
        let sql = format!(
            "UPDATE factors SET
               {column} = CASE WHEN locked_until IS NOT NULL AND locked_until <= $1 THEN 1 ELSE {column} + 1 END,
               {other} = CASE WHEN locked_until IS NOT NULL AND locked_until <= $1 THEN 0 ELSE {other} END,
               locked_until = CASE
                 WHEN locked_until IS NOT NULL AND locked_until <= $1 THEN NULL
                 WHEN {column} + 1 >= $2 THEN $3
                 ELSE locked_until END
             WHERE tenant_id = $4 AND id = $5"
        );
        sqlx::query(&sql).bind(now).bind(max).bind(lock_until).bind(tenant_id).bind(id).execute(&self.pool).await?;
        self.factor(tenant_id, id).await
    }

    /// Accepts a TOTP code for `step` unless a code for it (or a later step) was accepted
    /// before; true if this caller did. A PENDING factor (enrolment) becomes ENABLED.
    pub async fn accept_totp_step(&self, tenant_id: &str, id: &str, step: i64) -> Result<bool> {
        let accepted = sqlx::query(
            "UPDATE factors SET last_step = $1, state = CASE WHEN state = 'PENDING' THEN 'ENABLED' ELSE state END
             WHERE tenant_id = $2 AND id = $3 AND (last_step IS NULL OR last_step < $1)",
        )
        .bind(step)
        .bind(tenant_id)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(accepted.rows_affected() == 1)
    }

    /// A factor passed: its counters and lock reset.
    pub async fn factor_passed(&self, tenant_id: &str, id: &str, now: i64) -> Result<()> {
        sqlx::query(
            "UPDATE factors SET failed_attempts = 0, codes_requested = 0, locked_until = NULL, last_used_at = $1
             WHERE tenant_id = $2 AND id = $3",
        )
        .bind(now)
        .bind(tenant_id)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn insert_session(&self, tenant_id: &str, row: &SessionRow, token_sha256: &str) -> Result<()> {
        let sql = format!(
            "INSERT INTO sessions (tenant_id, token_sha256, {SESSION_COLUMNS})
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        );
        sqlx::query(&sql)
            .bind(tenant_id)
            .bind(token_sha256)
            .bind(&row.id)
            .bind(&row.account_id)
            .bind(row.state.as_str())
            .bind(row.score)
            .bind(serde_json::to_string(&row.factors)?)
            .bind(i64::from(row.stay_signed_in))
            .bind(row.created_at)
            .bind(row.last_seen_at)
            .bind(row.authenticated_at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn session(&self, tenant_id: &str, id: &str) -> Result<Option<SessionRow>> {
        let sql = format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE tenant_id = $1 AND id = $2");
        let row = sqlx::query(&sql).bind(tenant_id).bind(id).fetch_optional(&self.pool).await?;
        row.as_ref().map(session).transpose()
    }

    /// The session whose token digest is `token_sha256`, in whichever tenant, with that
    /// tenant's id (digests are unique): how a session authenticates an administrator's
    /// admin API call, like a PAT. Every follow-up query is scoped by the returned tenant.
    pub async fn session_by_token_digest(&self, token_sha256: &str) -> Result<Option<(String, SessionRow)>> {
        let sql = format!("SELECT tenant_id, {SESSION_COLUMNS} FROM sessions WHERE token_sha256 = $1");
        let row = sqlx::query(&sql).bind(token_sha256).fetch_optional(&self.pool).await?;
        row.as_ref().map(|row| Ok((row.try_get("tenant_id")?, session(row)?))).transpose()
    }

    pub async fn session_by_token(&self, tenant_id: &str, token_sha256: &str) -> Result<Option<SessionRow>> {
        let sql = format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE tenant_id = $1 AND token_sha256 = $2");
        let row = sqlx::query(&sql).bind(tenant_id).bind(token_sha256).fetch_optional(&self.pool).await?;
        row.as_ref().map(session).transpose()
    }

    pub async fn sessions_of(&self, tenant_id: &str, account_id: &str) -> Result<Vec<SessionRow>> {
        let sql = format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE tenant_id = $1 AND account_id = $2 AND state = 'ENABLED'
             ORDER BY created_at DESC, id DESC"
        );
        let rows = sqlx::query(&sql).bind(tenant_id).bind(account_id).fetch_all(&self.pool).await?;
        rows.iter().map(session).collect()
    }

    /// Records a passed factor in a session (which becomes ENABLED), unless the session is
    /// no longer usable; false then.
    pub async fn session_passed(&self, tenant_id: &str, row: &SessionRow) -> Result<bool> {
        let updated = sqlx::query(
            "UPDATE sessions SET state = 'ENABLED', score = $1, factors = $2, last_seen_at = $3, authenticated_at = $3
             WHERE tenant_id = $4 AND id = $5 AND state IN ('PENDING', 'ENABLED')",
        )
        .bind(row.score)
        .bind(serde_json::to_string(&row.factors)?)
        .bind(row.last_seen_at)
        .bind(tenant_id)
        .bind(&row.id)
        .execute(&self.pool)
        .await?;
        Ok(updated.rows_affected() == 1)
    }

    /// Gives a session a new token (the old one stops working); false if it is gone.
    pub async fn replace_session_token(&self, tenant_id: &str, id: &str, token_sha256: &str) -> Result<bool> {
        let updated = sqlx::query("UPDATE sessions SET token_sha256 = $1 WHERE tenant_id = $2 AND id = $3")
            .bind(token_sha256)
            .bind(tenant_id)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(updated.rows_affected() == 1)
    }

    pub async fn touch_session(&self, tenant_id: &str, id: &str, now: i64) -> Result<()> {
        sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE tenant_id = $2 AND id = $3")
            .bind(now)
            .bind(tenant_id)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Ends a session, and the refresh tokens issued under it; false if there was no such
    /// usable session.
    pub async fn end_session(&self, tenant_id: &str, id: &str, now: i64) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let updated = sqlx::query(
            "UPDATE sessions SET state = 'DISABLED' WHERE tenant_id = $1 AND id = $2 AND state IN ('PENDING', 'ENABLED')",
        )
        .bind(tenant_id)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() != 1 {
            return Ok(false);
        }
        revoke_refresh_tokens_in(&mut tx, tenant_id, Holder::Session(id), now).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Changes the account's password the way every enrolment changes: `new` (a password
    /// factor) is added and the enabled password factor `old_factor_id` disabled, the
    /// account's refresh tokens are revoked and `event` written, in one transaction; false
    /// (nothing written) if `old_factor_id` is no longer an enabled password of the account.
    pub async fn change_password(
        &self,
        tenant_id: &str,
        old_factor_id: &str,
        new: &Factor,
        event: Option<(&Event, &[String])>,
        now: i64,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let disabled = sqlx::query(
            "UPDATE factors SET state = 'DISABLED'
             WHERE tenant_id = $1 AND account_id = $2 AND id = $3 AND kind = 'password' AND state = 'ENABLED'",
        )
        .bind(tenant_id)
        .bind(&new.account_id)
        .bind(old_factor_id)
        .execute(&mut *tx)
        .await?;
        if disabled.rows_affected() != 1 {
            return Ok(false);
        }
        insert_factor_in(&mut tx, tenant_id, new).await?;
        revoke_refresh_tokens_in(&mut tx, tenant_id, Holder::Account(&new.account_id), now).await?;
        if let Some((event, bindings)) = event {
            insert_event_in(&mut tx, tenant_id, event, bindings, now).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Stores a code sent for a factor in a login; earlier unused codes of it stop working.
    pub async fn insert_otp_code(&self, tenant_id: &str, code: &NewOtpCode<'_>) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE otp_codes SET used = 1 WHERE tenant_id = $1 AND session_id = $2 AND factor_id = $3")
            .bind(tenant_id)
            .bind(code.session_id)
            .bind(code.factor_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO otp_codes (tenant_id, id, session_id, factor_id, code_sha256, expires_at, used, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, 0, $7)",
        )
        .bind(tenant_id)
        .bind(code.id)
        .bind(code.session_id)
        .bind(code.factor_id)
        .bind(code.code_sha256)
        .bind(code.expires_at)
        .bind(code.created_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The login's live code for the factor: (id, SHA-256), if one is unused and unexpired.
    pub async fn live_otp_code(
        &self,
        tenant_id: &str,
        session_id: &str,
        factor_id: &str,
        now: i64,
    ) -> Result<Option<(String, String)>> {
        let row = sqlx::query(
            "SELECT id, code_sha256 FROM otp_codes
             WHERE tenant_id = $1 AND session_id = $2 AND factor_id = $3 AND used = 0 AND expires_at > $4
             ORDER BY created_at DESC, id DESC LIMIT 1",
        )
        .bind(tenant_id)
        .bind(session_id)
        .bind(factor_id)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| Ok((row.try_get("id")?, row.try_get("code_sha256")?))).transpose()
    }

    /// Uses a code up; true if this caller did (a code works once).
    pub async fn use_otp_code(&self, tenant_id: &str, id: &str) -> Result<bool> {
        let used = sqlx::query("UPDATE otp_codes SET used = 1 WHERE tenant_id = $1 AND id = $2 AND used = 0")
            .bind(tenant_id)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(used.rows_affected() == 1)
    }
}
