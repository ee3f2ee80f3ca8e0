//! What the authorization-code flow leaves behind for the token endpoint: authorization
//! codes (single use, about a minute) and refresh tokens (single use; each use issues the
//! next token of the same family). Both are stored as SHA-256 digests only. Spending one
//! and storing the next refresh token is one transaction with a conditional update, so two
//! concurrent requests cannot both spend it, and no token joins a revoked family;
//! presenting a spent one is answered by revoking its whole family.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Db, Result};
use crate::tenancy::FactorKind;

/// A person's grant to a client, as a code or a refresh token carries it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    pub client_id: String,
    pub account_id: String,
    pub session_id: String,
    pub scopes: Vec<String>,
    /// When the person last passed a factor (the ID token's `auth_time`).
    pub auth_time: i64,
    /// The kinds of the factors passed (the ID token's `amr` and `acr`).
    pub factors: Vec<FactorKind>,
    /// The refresh-token family the grant belongs to (for a code: the family its
    /// exchange starts).
    pub family_id: String,
    /// The issuer the person signed in at: every token of the grant names it.
    pub issuer: String,
}

/// An authorization code as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodeRow {
    pub grant: Grant,
    pub redirect_uri: String,
    /// Whether the authorization request named the redirect URI (then the token request
    /// must name it too).
    pub redirect_given: bool,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
}

/// A refresh token as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefreshRow {
    pub grant: Grant,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// What became of an attempt to spend a code or a refresh token.
#[derive(Debug)]
pub enum Spent<T> {
    /// Spent now, by this request.
    Now(T),
    /// Spent before (or revoked): a replay. The family has been revoked.
    Replayed(T),
}

/// What a token request spends: a code or a refresh token, by digest.
#[derive(Clone, Copy, Debug)]
pub enum Redeemed<'a> {
    Code(&'a str),
    RefreshToken(&'a str),
}

const GRANT_COLUMNS: &str = "client_id, account_id, session_id, scopes, auth_time, factors, family_id, issuer";

fn grant(row: &AnyRow) -> Result<Grant> {
    Ok(Grant {
        client_id: row.try_get("client_id")?,
        account_id: row.try_get("account_id")?,
        session_id: row.try_get("session_id")?,
        scopes: serde_json::from_str(row.try_get("scopes")?)?,
        auth_time: row.try_get("auth_time")?,
        factors: serde_json::from_str(row.try_get("factors")?)?,
        family_id: row.try_get("family_id")?,
        issuer: row.try_get("issuer")?,
    })
}

fn code(row: &AnyRow) -> Result<CodeRow> {
    Ok(CodeRow {
        grant: grant(row)?,
        redirect_uri: row.try_get("redirect_uri")?,
        redirect_given: row.try_get::<i64, _>("redirect_given")? != 0,
        nonce: row.try_get("nonce")?,
        code_challenge: row.try_get("code_challenge")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
    })
}

fn refresh(row: &AnyRow) -> Result<RefreshRow> {
    Ok(RefreshRow {
        grant: grant(row)?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        used_at: row.try_get("used_at")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

impl Db {
    pub async fn insert_code(&self, tenant_id: &str, code_sha256: &str, code: &CodeRow) -> Result<()> {
        let g = &code.grant;
        sqlx::query(&format!(
            "INSERT INTO authorization_codes (tenant_id, code_sha256, {GRANT_COLUMNS}, redirect_uri, redirect_given,
                 nonce, code_challenge, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
        ))
        .bind(tenant_id)
        .bind(code_sha256)
        .bind(&g.client_id)
        .bind(&g.account_id)
        .bind(&g.session_id)
        .bind(serde_json::to_string(&g.scopes)?)
        .bind(g.auth_time)
        .bind(serde_json::to_string(&g.factors)?)
        .bind(&g.family_id)
        .bind(&g.issuer)
        .bind(&code.redirect_uri)
        .bind(i64::from(code.redirect_given))
        .bind(&code.nonce)
        .bind(&code.code_challenge)
        .bind(code.created_at)
        .bind(code.expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The code with this digest, spent or not, with when it was spent.
    pub async fn code(&self, tenant_id: &str, code_sha256: &str) -> Result<Option<(CodeRow, Option<i64>)>> {
        let row = sqlx::query(&format!(
            "SELECT {GRANT_COLUMNS}, redirect_uri, redirect_given, nonce, code_challenge, created_at, expires_at, used_at
             FROM authorization_codes WHERE tenant_id = $1 AND code_sha256 = $2"
        ))
        .bind(tenant_id)
        .bind(code_sha256)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| Ok((code(&row)?, row.try_get("used_at")?))).transpose()
    }

    pub async fn refresh_token(&self, tenant_id: &str, token_sha256: &str) -> Result<Option<RefreshRow>> {
        let row = sqlx::query(&format!(
            "SELECT {GRANT_COLUMNS}, created_at, expires_at, used_at, revoked_at
             FROM refresh_tokens WHERE tenant_id = $1 AND token_sha256 = $2"
        ))
        .bind(tenant_id)
        .bind(token_sha256)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(refresh).transpose()
    }

    /// Spends a code that is redeemed for no token (a console sign-in): whether this call
    /// spent it. A code spent meanwhile is a replay, and its family is revoked.
    pub async fn spend_code(&self, tenant_id: &str, code_sha256: &str, family_id: &str, now: i64) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let updated = sqlx::query(
            "UPDATE authorization_codes SET used_at = $1 WHERE tenant_id = $2 AND code_sha256 = $3 AND used_at IS NULL",
        )
        .bind(now)
        .bind(tenant_id)
        .bind(code_sha256)
        .execute(&mut *tx)
        .await?;
        let spent = updated.rows_affected() == 1;
        if !spent {
            revoke_family_in(&mut tx, tenant_id, family_id, now).await?;
        }
        tx.commit().await?;
        Ok(spent)
    }

    /// Spends a code or a refresh token and stores the next refresh token of its family
    /// (`next_sha256`, of `grant`), in one transaction: both or neither. If it was spent
    /// meanwhile (a concurrent request), or its family has been revoked, nothing new is
    /// stored and the family is revoked: [`Spent::Replayed`].
    pub async fn redeem(
        &self,
        tenant_id: &str,
        spent: Redeemed<'_>,
        next_sha256: &str,
        grant: &Grant,
        now: i64,
        expires_at: i64,
    ) -> Result<Spent<()>> {
        let mut tx = self.begin_write().await?;
        let (sql, digest) = match spent {
            Redeemed::Code(digest) => (
                "UPDATE authorization_codes SET used_at = $1 WHERE tenant_id = $2 AND code_sha256 = $3 AND used_at IS NULL",
                digest,
            ),
            Redeemed::RefreshToken(digest) => (
                "UPDATE refresh_tokens SET used_at = $1
                 WHERE tenant_id = $2 AND token_sha256 = $3 AND used_at IS NULL AND revoked_at IS NULL",
                digest,
            ),
        };
        let updated = sqlx::query(sql).bind(now).bind(tenant_id).bind(digest).execute(&mut *tx).await?;
        if updated.rows_affected() != 1 {
            revoke_family_in(&mut tx, tenant_id, &grant.family_id, now).await?;
            tx.commit().await?;
            return Ok(Spent::Replayed(()));
        }
        let inserted = sqlx::query(&format!(
            "INSERT INTO refresh_tokens (tenant_id, token_sha256, {GRANT_COLUMNS}, created_at, expires_at)
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12
             WHERE NOT EXISTS (SELECT 1 FROM refresh_tokens
                               WHERE tenant_id = $1 AND family_id = $9 AND revoked_at IS NOT NULL)"
        ))
        .bind(tenant_id)
        .bind(next_sha256)
        .bind(&grant.client_id)
        .bind(&grant.account_id)
        .bind(&grant.session_id)
        .bind(serde_json::to_string(&grant.scopes)?)
        .bind(grant.auth_time)
        .bind(serde_json::to_string(&grant.factors)?)
        .bind(&grant.family_id)
        .bind(&grant.issuer)
        .bind(now)
        .bind(expires_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(if inserted.rows_affected() == 1 { Spent::Now(()) } else { Spent::Replayed(()) })
    }

    /// Revokes every refresh token of a family; returns how many were still unrevoked.
    pub async fn revoke_refresh_family(&self, tenant_id: &str, family_id: &str, now: i64) -> Result<u64> {
        let mut tx = self.begin_write().await?;
        let revoked = revoke_family_in(&mut tx, tenant_id, family_id, now).await?;
        tx.commit().await?;
        Ok(revoked)
    }

    /// Forgets the tenant's codes and refresh tokens that can no longer be used (expired
    /// codes, and refresh tokens expired for longer than `keep_seconds`, so a replay of a
    /// recently spent token is still recognised); returns how many.
    pub async fn remove_expired_grants(&self, tenant_id: &str, now: i64, keep_seconds: i64) -> Result<u64> {
        let codes = sqlx::query("DELETE FROM authorization_codes WHERE tenant_id = $1 AND expires_at <= $2")
            .bind(tenant_id)
            .bind(now - keep_seconds)
            .execute(&self.pool)
            .await?;
        let tokens = sqlx::query("DELETE FROM refresh_tokens WHERE tenant_id = $1 AND expires_at <= $2")
            .bind(tenant_id)
            .bind(now - keep_seconds)
            .execute(&self.pool)
            .await?;
        Ok(codes.rows_affected() + tokens.rows_affected())
    }
}

/// Whose refresh tokens an ended session or account takes with it.
#[derive(Clone, Copy, Debug)]
pub(super) enum Holder<'a> {
    Account(&'a str),
    Session(&'a str),
}

/// Revokes the refresh tokens of an account (its password changed, or it stopped being
/// usable) or of one session (it was ended): ending a session ends what it granted, and
/// re-enabling an account does not bring its old grants back.
pub(super) async fn revoke_refresh_tokens_in(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    tenant_id: &str,
    holder: Holder<'_>,
    now: i64,
) -> Result<()> {
    let (sql, id) = match holder {
        Holder::Account(id) => (
            "UPDATE refresh_tokens SET revoked_at = $1 WHERE tenant_id = $2 AND account_id = $3 AND revoked_at IS NULL",
            id,
        ),
        Holder::Session(id) => (
            "UPDATE refresh_tokens SET revoked_at = $1 WHERE tenant_id = $2 AND session_id = $3 AND revoked_at IS NULL",
            id,
        ),
    };
    sqlx::query(sql).bind(now).bind(tenant_id).bind(id).execute(&mut **tx).await?;
    Ok(())
}

async fn revoke_family_in(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    tenant_id: &str,
    family_id: &str,
    now: i64,
) -> Result<u64> {
    let revoked = sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = $1 WHERE tenant_id = $2 AND family_id = $3 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(tenant_id)
    .bind(family_id)
    .execute(&mut **tx)
    .await?;
    Ok(revoked.rows_affected())
}
