//! Changing the node key (`keyhaven rekey`): every value sealed under the current secrets
//! key — extension secrets, TOTP secrets, signing keys — is opened and sealed again under a
//! new key, in one transaction ([`crate::storage::Db::reseal_all`]), with each value's own
//! associated data kept. Run it with every node stopped, then start them with the new key:
//! a node still holding the old key would open none of the new seals. Console sessions
//! (sealed cookies) end, and the answers kept for `Idempotency-Key` retries are dropped.

use crate::clock::Entropy;
use crate::extensions::secret_context;
use crate::storage::{Db, Resealed, SealedValue, StorageError};
use crate::vault::{Vault, totp_context};

/// Seals everything under `old` again under `new`; nothing changes if a value does not open.
pub async fn rekey(db: &Db, old: &Vault, new: &Vault, entropy: &dyn Entropy) -> Result<Resealed, StorageError> {
    let reseal = |what: SealedValue<'_>, sealed: &crate::vault::SealedSecret| {
        let context = match what {
            SealedValue::ExtensionSecret { tenant_id, extension, name } => secret_context(tenant_id, extension, name),
            SealedValue::TotpSecret { tenant_id, factor_id } => totp_context(tenant_id, factor_id),
            SealedValue::SigningKey { tenant_id, kid } => crate::jwt::keys::sealed_context(tenant_id, kid),
        };
        let plaintext = old.open(sealed, &context).ok()?;
        new.seal(entropy, &plaintext, &context).ok()
    };
    db.reseal_all(&reseal).await
}
