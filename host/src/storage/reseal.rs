//! Re-sealing everything sealed under the node key with a new one, in one transaction:
//! extension secrets, TOTP secrets and signing keys are each opened and sealed again by the
//! caller's function (which knows each kind's associated data); the answers kept for
//! `Idempotency-Key` retries are dropped instead (their fingerprints are keyed digests under
//! the old key, and they are a day's retry cache). A value that does not open rolls the
//! whole change back, so the database is never half under one key and half under another.

use sqlx::Row;

use super::{Db, Result, StorageError};
use crate::vault::SealedSecret;

/// What a sealed value is, which decides its associated data.
#[derive(Clone, Copy, Debug)]
pub enum SealedValue<'a> {
    ExtensionSecret { tenant_id: &'a str, extension: &'a str, name: &'a str },
    TotpSecret { tenant_id: &'a str, factor_id: &'a str },
    SigningKey { tenant_id: &'a str, kid: &'a str },
}

/// How many values were sealed again, and how many retry answers were dropped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Resealed {
    pub extension_secrets: u64,
    pub totp_secrets: u64,
    pub signing_keys: u64,
    pub idempotency_answers_dropped: u64,
}

/// Opens a value under the old key and seals it under the new; `None` if it does not open.
pub type Reseal<'f> = dyn Fn(SealedValue<'_>, &SealedSecret) -> Option<SealedSecret> + Sync + 'f;

fn unopened(what: &str) -> StorageError {
    StorageError::Corrupt(format!("{what} does not open with the current secrets key; nothing was changed"))
}

impl Db {
    /// Seals every sealed value again with `reseal`, or changes nothing.
    pub async fn reseal_all(&self, reseal: &Reseal<'_>) -> Result<Resealed> {
        let mut tx = self.begin_write().await?;
        let mut done = Resealed::default();

        let secrets = sqlx::query("SELECT tenant_id, extension, name, nonce, ciphertext FROM extension_secrets")
            .fetch_all(&mut *tx)
            .await?;
        for row in &secrets {
            let (tenant_id, extension, name): (String, String, String) =
                (row.try_get("tenant_id")?, row.try_get("extension")?, row.try_get("name")?);
            let sealed = SealedSecret { nonce: row.try_get("nonce")?, ciphertext: row.try_get("ciphertext")? };
            let what = SealedValue::ExtensionSecret { tenant_id: &tenant_id, extension: &extension, name: &name };
            let new = reseal(what, &sealed)
                .ok_or_else(|| unopened(&format!("secret {name:?} of {tenant_id}/{extension}")))?;
            sqlx::query(
                "UPDATE extension_secrets SET nonce = $1, ciphertext = $2 WHERE tenant_id = $3 AND extension = $4 AND name = $5",
            )
            .bind(new.nonce)
            .bind(new.ciphertext)
            .bind(&tenant_id)
            .bind(&extension)
            .bind(&name)
            .execute(&mut *tx)
            .await?;
            done.extension_secrets += 1;
        }

        let factors = sqlx::query("SELECT tenant_id, id, sealed_secret FROM factors WHERE sealed_secret IS NOT NULL")
            .fetch_all(&mut *tx)
            .await?;
        for row in &factors {
            let (tenant_id, id, text): (String, String, String) =
                (row.try_get("tenant_id")?, row.try_get("id")?, row.try_get("sealed_secret")?);
            let what = SealedValue::TotpSecret { tenant_id: &tenant_id, factor_id: &id };
            let sealed = SealedSecret::from_text(&text).ok_or_else(|| unopened(&format!("factor {id}")))?;
            let new = reseal(what, &sealed).ok_or_else(|| unopened(&format!("factor {id} of {tenant_id}")))?;
            sqlx::query("UPDATE factors SET sealed_secret = $1 WHERE tenant_id = $2 AND id = $3")
                .bind(new.to_text())
                .bind(&tenant_id)
                .bind(&id)
                .execute(&mut *tx)
                .await?;
            done.totp_secrets += 1;
        }

        let keys =
            sqlx::query("SELECT tenant_id, kid, sealed_private FROM signing_keys WHERE sealed_private IS NOT NULL")
                .fetch_all(&mut *tx)
                .await?;
        for row in &keys {
            let (tenant_id, kid, text): (String, String, String) =
                (row.try_get("tenant_id")?, row.try_get("kid")?, row.try_get("sealed_private")?);
            let what = SealedValue::SigningKey { tenant_id: &tenant_id, kid: &kid };
            let sealed = SealedSecret::from_text(&text).ok_or_else(|| unopened(&format!("signing key {kid}")))?;
            let new = reseal(what, &sealed).ok_or_else(|| unopened(&format!("signing key {kid} of {tenant_id}")))?;
            sqlx::query("UPDATE signing_keys SET sealed_private = $1 WHERE tenant_id = $2 AND kid = $3")
                .bind(new.to_text())
                .bind(&tenant_id)
                .bind(&kid)
                .execute(&mut *tx)
                .await?;
            done.signing_keys += 1;
        }

        let dropped = sqlx::query("DELETE FROM idempotency_keys").execute(&mut *tx).await?;
        done.idempotency_answers_dropped = dropped.rows_affected();
        tx.commit().await?;
        Ok(done)
    }
}
