//! Idempotency keys of the admin API: a caller's claim on a key for one request (its
//! fingerprint), then the sealed answer a retry is given. Keys belong to the caller that
//! sent them (a token or session, which itself belongs to one tenant or to the operator),
//! so one caller's key never answers another's request.

use sqlx::Row;

use super::{Db, Result};

/// How long a key's answer is kept, in seconds.
pub const IDEMPOTENCY_KEY_SECONDS: i64 = 86_400;
/// A claim still without an answer after this long was left by a node that stopped.
const ABANDONED_SECONDS: i64 = 300;

/// What a claim on a key found.
#[derive(Debug, PartialEq, Eq)]
pub enum KeyClaim {
    /// The key is the caller's for this request now: run it, then complete or release it.
    Claimed,
    /// The key was sent before with another request.
    OtherRequest,
    /// The key's first request is still running.
    InProgress,
    /// The key's request ran: its status and sealed answer.
    Answered { status: u16, response: String },
    /// The key's request ran, but its answer could not be kept.
    AnswerLost,
}

impl Db {
    /// Claims `key` for `caller`'s request with `fingerprint`, or reports what holds it.
    /// A key older than [`IDEMPOTENCY_KEY_SECONDS`], or a claim abandoned by a node that
    /// stopped, is forgotten first.
    pub async fn claim_idempotency_key(
        &self,
        caller: &str,
        key: &str,
        fingerprint: &str,
        claim: &str,
        now: i64,
    ) -> Result<KeyClaim> {
        sqlx::query(
            "DELETE FROM idempotency_keys WHERE caller = $1 AND key = $2
             AND (created_at <= $3 OR (status IS NULL AND created_at <= $4))",
        )
        .bind(caller)
        .bind(key)
        .bind(now - IDEMPOTENCY_KEY_SECONDS)
        .bind(now - ABANDONED_SECONDS)
        .execute(&self.pool)
        .await?;
        let claimed = sqlx::query(
            "INSERT INTO idempotency_keys (caller, key, fingerprint, claim, created_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (caller, key) DO NOTHING",
        )
        .bind(caller)
        .bind(key)
        .bind(fingerprint)
        .bind(claim)
        .bind(now)
        .execute(&self.pool)
        .await?;
        if claimed.rows_affected() == 1 {
            return Ok(KeyClaim::Claimed);
        }
        let row =
            sqlx::query("SELECT fingerprint, status, response FROM idempotency_keys WHERE caller = $1 AND key = $2")
                .bind(caller)
                .bind(key)
                .fetch_optional(&self.pool)
                .await?;
        // Released between the insert and the read: the caller may simply retry.
        let Some(row) = row else { return Ok(KeyClaim::InProgress) };
        if row.try_get::<String, _>("fingerprint")? != fingerprint {
            return Ok(KeyClaim::OtherRequest);
        }
        let status: Option<i64> = row.try_get("status")?;
        let response: Option<String> = row.try_get("response")?;
        Ok(match (status.and_then(|s| u16::try_from(s).ok()), response) {
            (Some(_), Some(response)) if response.is_empty() => KeyClaim::AnswerLost,
            (Some(status), Some(response)) => KeyClaim::Answered { status, response },
            _ => KeyClaim::InProgress,
        })
    }

    /// Keeps the answer (empty: lost) to the request that made `claim` on `key`.
    pub async fn complete_idempotency_key(
        &self,
        caller: &str,
        key: &str,
        claim: &str,
        status: u16,
        response: &str,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE idempotency_keys SET status = $1, response = $2 WHERE caller = $3 AND key = $4 AND claim = $5",
        )
        .bind(i64::from(status))
        .bind(response)
        .bind(caller)
        .bind(key)
        .bind(claim)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Gives up a claim whose request left nothing to repeat (it failed before it could
    /// change anything), so a retry runs afresh.
    pub async fn release_idempotency_key(&self, caller: &str, key: &str, claim: &str) -> Result<()> {
        sqlx::query("DELETE FROM idempotency_keys WHERE caller = $1 AND key = $2 AND claim = $3 AND status IS NULL")
            .bind(caller)
            .bind(key)
            .bind(claim)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Forgets keys older than [`IDEMPOTENCY_KEY_SECONDS`], across callers; returns how many.
    pub async fn remove_expired_idempotency_keys(&self, now: i64) -> Result<u64> {
        let removed = sqlx::query("DELETE FROM idempotency_keys WHERE created_at <= $1")
            .bind(now - IDEMPOTENCY_KEY_SECONDS)
            .execute(&self.pool)
            .await?;
        Ok(removed.rows_affected())
    }
}
