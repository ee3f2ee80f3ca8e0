//! Account operations below HTTP, called by the admin API, the login API and the
//! invite page alike: creating an account (through the tenant's `account-creation`
//! extensions), its password factor, enrolling and confirming factors, and opening a TOTP
//! factor's sealed secret. Each change is written with its event in one transaction.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::AppState;
use crate::clock::{random_id, sortable_id};
use crate::events::changes;
use crate::events::outbox::NewEvent;
use crate::extensions::account_creation::{AccountData, Source};
use crate::extensions::events::EventResult;
use crate::tenancy::account::{check_attributes, check_email, check_password, check_phone, normalise_username};
use crate::tenancy::{Account, Factor, FactorKind, ResourceState, Tenant, totp};
use crate::web::{ApiError, Problem};

fn invalid(e: impl std::fmt::Display) -> ApiError {
    ApiError::new(Problem::InvalidRequest, e.to_string())
}

/// Checks submitted (or extension-changed) account data; the username comes back normalised.
fn checked(data: &AccountData) -> Result<String, String> {
    let username = normalise_username(&data.username).map_err(|e| e.to_string())?;
    if let Some(email) = &data.email {
        check_email(email).map_err(|e| e.to_string())?;
    }
    if let Some(phone) = &data.phone {
        check_phone(phone).map_err(|e| e.to_string())?;
    }
    check_attributes(&data.attributes).map_err(|e| e.to_string())?;
    Ok(username)
}

/// A resource-change event about an account, from `origin` (`admin-api`,
/// `self-registration`, ...), ready to write with its change.
pub(crate) async fn event_from(
    state: &AppState,
    tenant: &Tenant,
    origin: &'static str,
    action: &'static str,
    account_id: &str,
    detail: Value,
) -> Result<super::PreparedEvent, ApiError> {
    super::prepare_event(state, tenant, "resource-change", action, origin, Some(account_id), detail).await
}

/// Hashes a password off the async executor.
pub(crate) async fn hash_password(state: &AppState, password: String) -> Result<String, ApiError> {
    let entropy = state.entropy.clone();
    tokio::task::spawn_blocking(move || crate::secrets::hash_password(entropy.as_ref(), &password))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)
}

/// A new, enabled password factor of the account (the password already checked).
pub(crate) async fn password_factor(
    state: &AppState,
    account_id: &str,
    password: String,
    now: i64,
) -> Result<Factor, ApiError> {
    let id = sortable_id(state.entropy.as_ref(), "fac", now, 8)?;
    let mut factor = Factor::new(id, account_id, FactorKind::Password, now);
    factor.secret_hash = Some(hash_password(state, password).await?);
    Ok(factor)
}

/// Creates an account: checks it, runs the `before` hooks (which may change or refuse it),
/// checks it again, stores it — with its password factor, if one is given — and its
/// `account.created` event in one transaction, then runs the `after` hooks.
pub async fn create_account(
    state: &AppState,
    tenant: &Tenant,
    from: Source,
    origin: &'static str,
    submitted: AccountData,
    password: Option<String>,
) -> Result<(Account, Option<Factor>), ApiError> {
    checked(&submitted).map_err(invalid)?;
    if let Some(password) = &password {
        check_password(password).map_err(invalid)?;
    }
    let data = state.extensions.run_before_account_creation(tenant, from, submitted).await?;
    let username = checked(&data).map_err(|e| {
        ApiError::new(
            Problem::ExtensionFailed,
            format!("the tenant's account-creation extension returned an invalid account: {e}"),
        )
    })?;
    let now = state.clock.now();
    let entropy = state.entropy.as_ref();
    let account = Account {
        id: random_id(entropy, "acc", 12)?,
        username,
        email: data.email.clone(),
        phone: data.phone.clone(),
        attributes: data.attributes.clone(),
        state: ResourceState::Enabled,
        created_at: now,
        updated_at: now,
        last_active_at: None,
    };
    let factor = match password {
        Some(password) => Some(password_factor(state, &account.id, password, now).await?),
        None => None,
    };
    let mut added = account.changeable();
    added.insert("username".into(), json!(account.username));
    if factor.is_some() {
        added.insert("password".into(), json!("set"));
    }
    let created =
        event_from(state, tenant, origin, "account.created", &account.id, changes(&Map::new(), &added)).await?;
    let created = created.as_ref().map(|(event, bindings)| (event, bindings.as_slice()));
    state.db.insert_account(&tenant.id, &account, factor.as_ref(), created).await?;
    state.extensions.spawn_after_account_creation(tenant.clone(), from, account.id.clone(), data);
    Ok((account, factor))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeAccount {
    /// A new address, or `null` to remove it.
    #[serde(default, deserialize_with = "super::present")]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "super::present")]
    pub phone: Option<Option<String>>,
    /// Replaces the attributes.
    pub attributes: Option<Map<String, Value>>,
    /// `ENABLED` or `DISABLED`; `LOCKED` (or lifting it) is the operator's.
    pub state: Option<ResourceState>,
}

/// The tenant's account `id`, or "not found".
pub async fn find(state: &AppState, tenant: &Tenant, id: &str) -> Result<Account, ApiError> {
    state.db.account(&tenant.id, id).await?.ok_or_else(|| ApiError::not_found("account"))
}

/// Changes the tenant's account as `by` may, with its `account.updated` event (what was
/// added and removed); leaving ENABLED ends its sessions. An unchanged account is written
/// nowhere and reports no event.
pub async fn change_account(
    state: &AppState,
    tenant: &Tenant,
    by: super::Changer,
    id: &str,
    body: ChangeAccount,
) -> Result<Account, ApiError> {
    let before = find(state, tenant, id).await?;
    let mut account = before.clone();
    if let Some(email) = body.email {
        if let Some(email) = &email {
            check_email(email).map_err(invalid)?;
        }
        account.email = email;
    }
    if let Some(phone) = body.phone {
        if let Some(phone) = &phone {
            check_phone(phone).map_err(invalid)?;
        }
        account.phone = phone;
    }
    if let Some(attributes) = body.attributes {
        check_attributes(&attributes).map_err(invalid)?;
        account.attributes = attributes;
    }
    if let Some(requested) = body.state {
        account.state = super::next_state("account", before.state, requested, by)?;
    }
    let (old, new) = (before.changeable(), account.changeable());
    if old == new {
        return Ok(before);
    }
    account.updated_at = state.clock.now();
    let updated = event_from(state, tenant, by.origin, "account.updated", &account.id, changes(&old, &new)).await?;
    let updated = updated.as_ref().map(|(event, bindings)| (event, bindings.as_slice()));
    if !state.db.update_account(&tenant.id, &account, updated).await? {
        return Err(ApiError::not_found("account"));
    }
    Ok(account)
}

/// Deletes the tenant's account with its factors and sessions, and its `account.deleted`
/// event (what it held, no secret).
pub async fn delete_account(state: &AppState, tenant: &Tenant, by: super::Changer, id: &str) -> Result<(), ApiError> {
    let account = find(state, tenant, id).await?;
    let mut removed = account.changeable();
    removed.insert("username".into(), json!(account.username));
    let deleted =
        event_from(state, tenant, by.origin, "account.deleted", &account.id, changes(&removed, &Map::new())).await?;
    let deleted = deleted.as_ref().map(|(event, bindings)| (event, bindings.as_slice()));
    if !state.db.delete_account(&tenant.id, &account.id, deleted, state.clock.now()).await? {
        return Err(ApiError::not_found("account"));
    }
    Ok(())
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct EnrolFactor {
    /// `password`, `otp` or `totp`.
    kind: String,
    password: Option<String>,
    /// For `otp`: `sms`, `email` or `voice`.
    channel: Option<String>,
    /// For `otp`: where codes go; without it the extension finds the recipient itself.
    recipient: Option<String>,
}

impl EnrolFactor {
    /// An authenticator app (TOTP): PENDING until its first code.
    pub(crate) fn totp() -> Self {
        EnrolFactor { kind: FactorKind::Totp.as_str().to_owned(), password: None, channel: None, recipient: None }
    }
}

/// Refuses a factor of a kind the tenant does not allow (its `allowed_factors` setting).
pub(crate) fn allowed(tenant: &Tenant, kind: FactorKind) -> Result<(), ApiError> {
    match tenant.settings.allows(kind) {
        true => Ok(()),
        false => Err(ApiError::new(
            Problem::Forbidden,
            format!("this tenant does not allow {} factors (its allowed_factors setting)", kind.as_str()),
        )),
    }
}

/// Enrols a factor for an account (by its administrator, or by the account itself), of a
/// kind the tenant allows.
pub(crate) async fn enrol(
    state: &AppState,
    tenant: &Tenant,
    account: &Account,
    body: EnrolFactor,
    origin: &'static str,
) -> Result<EnrolledFactor, ApiError> {
    let kind = FactorKind::parse(&body.kind).ok_or_else(|| invalid("kind must be password, otp or totp"))?;
    allowed(tenant, kind)?;
    let now = state.clock.now();
    let mut factor = Factor::new(sortable_id(state.entropy.as_ref(), "fac", now, 8)?, &account.id, kind, now);
    let mut enrolment = None;
    match kind {
        FactorKind::Password => {
            let password = body.password.ok_or_else(|| invalid("a password factor needs a password"))?;
            check_password(&password).map_err(invalid)?;
            if body.channel.is_some() || body.recipient.is_some() {
                return Err(invalid("a password factor has no channel or recipient"));
            }
            factor.secret_hash = Some(hash_password(state, password).await?);
        }
        FactorKind::Otp => {
            let channel = body.channel.ok_or_else(|| invalid("an otp factor needs a channel: sms, email or voice"))?;
            match (channel.as_str(), &body.recipient) {
                ("sms" | "voice", Some(phone)) => check_phone(phone).map_err(invalid)?,
                ("email", Some(email)) => check_email(email).map_err(invalid)?,
                ("sms" | "voice" | "email", None) => {}
                _ => return Err(invalid("channel must be sms, email or voice")),
            }
            if body.password.is_some() {
                return Err(invalid("an otp factor has no password"));
            }
            factor.channel = Some(channel);
            factor.recipient = body.recipient;
        }
        FactorKind::Totp => {
            if body.password.is_some() || body.channel.is_some() || body.recipient.is_some() {
                return Err(invalid("a totp factor has no password, channel or recipient"));
            }
        }
    }
    if kind == FactorKind::Totp {
        let secret = totp::base32(&crate::clock::random_bytes(state.entropy.as_ref(), 20)?);
        let context = crate::vault::totp_context(&tenant.id, &factor.id);
        let sealed =
            state.extensions.vault().seal(state.entropy.as_ref(), &secret, &context).map_err(ApiError::internal)?;
        factor.sealed_secret = Some(sealed.to_text());
        // PENDING until the first valid code (`.../confirm`).
        factor.state = ResourceState::Pending;
        let uri = totp::otpauth_uri(&tenant.label, &account.username, &secret);
        enrolment = Some(TotpEnrolment { secret, otpauth_uri: uri });
    }
    let detail = json!({"factor_id": factor.id, "kind": kind, "channel": factor.channel});
    let enrolled = NewEvent {
        category: "resource-change",
        action: "factor.enrolled",
        origin,
        result: EventResult::Success,
        reason: None,
        account_id: Some(account.id.clone()),
        detail,
    };
    let enrolled = state.extensions.prepare_event(tenant, enrolled, false).await?;
    let enrolled = enrolled.as_ref().map(|(event, bindings)| (event, bindings.as_slice()));
    state.db.insert_factor(&tenant.id, &factor, enrolled).await?;
    Ok(EnrolledFactor { factor, totp: enrolment })
}

/// A factor just enrolled; for TOTP, with what the authenticator app needs (shown once).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EnrolledFactor {
    #[serde(flatten)]
    factor: Factor,
    #[serde(skip_serializing_if = "Option::is_none")]
    totp: Option<TotpEnrolment>,
}

impl EnrolledFactor {
    pub fn factor(&self) -> &Factor {
        &self.factor
    }

    /// For TOTP: the secret and the `otpauth://` URI the authenticator app takes.
    pub fn totp(&self) -> Option<&TotpEnrolment> {
        self.totp.as_ref()
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TotpEnrolment {
    /// The shared secret, base32.
    pub secret: String,
    pub otpauth_uri: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Confirm {
    pub(crate) code: String,
}

/// Confirms a PENDING TOTP enrolment of the account with its first valid code.
pub(crate) async fn confirm(
    state: &AppState,
    tenant: &Tenant,
    account_id: &str,
    factor_id: &str,
    code: &str,
) -> Result<Factor, ApiError> {
    let factor = state.db.factor(&tenant.id, factor_id).await?.filter(|f| f.account_id == account_id);
    let factor = factor.ok_or_else(|| ApiError::not_found("factor"))?;
    if factor.kind != FactorKind::Totp || factor.state != ResourceState::Pending {
        return Err(ApiError::new(Problem::Conflict, "only a PENDING totp factor is confirmed"));
    }
    let secret = open_totp_secret(state, &tenant.id, &factor)?;
    let now = state.clock.now();
    match totp::verify(&secret, code, now, factor.last_step) {
        Some(step) if state.db.accept_totp_step(&tenant.id, &factor.id, step).await? => {}
        _ => return Err(ApiError::new(Problem::InvalidRequest, "the code is not valid now")),
    }
    state.db.factor(&tenant.id, &factor.id).await?.ok_or_else(|| ApiError::not_found("factor"))
}

/// A TOTP factor's shared secret, opened from its seal.
pub(crate) fn open_totp_secret(state: &AppState, tenant_id: &str, factor: &Factor) -> Result<Vec<u8>, ApiError> {
    let sealed = factor.sealed_secret.as_deref().and_then(crate::vault::SealedSecret::from_text);
    let sealed = sealed.ok_or_else(|| ApiError::internal("a totp factor without its secret"))?;
    let secret = state.extensions.vault().open(&sealed, &crate::vault::totp_context(tenant_id, &factor.id));
    let secret = secret.map_err(ApiError::internal)?;
    totp::from_base32(&secret).ok_or_else(|| ApiError::internal("a totp secret that is not base32"))
}

/// Moves the account of `from` to `to` (an operator's act): its factors follow (TOTP
/// secrets re-sealed, since their seal names the tenant), its sessions, codes and consents
/// end, and both tenants get an `account.moved` event from `origin`, all in one
/// transaction. Returns the account as it is in `to`.
pub async fn move_account(
    state: &AppState,
    from: &Tenant,
    to: &Tenant,
    account_id: &str,
    origin: &'static str,
) -> Result<Account, ApiError> {
    if to.id == from.id {
        return Err(ApiError::new(Problem::InvalidRequest, "the account is already in that tenant"));
    }
    let account = find(state, from, account_id).await?;
    // Sealed secrets are bound to their tenant: open them under the old, seal under the new.
    let mut resealed = Vec::new();
    for factor in state.db.factors(&from.id, &account.id).await? {
        if factor.kind == FactorKind::Totp {
            let secret = totp::base32(&open_totp_secret(state, &from.id, &factor)?);
            let context = crate::vault::totp_context(&to.id, &factor.id);
            let sealed =
                state.extensions.vault().seal(state.entropy.as_ref(), &secret, &context).map_err(ApiError::internal)?;
            resealed.push((factor.id.clone(), sealed.to_text()));
        }
    }
    let detail = |direction: &str, other: &Tenant| json!({direction: other.name, "username": account.username});
    let left = event_from(state, from, origin, "account.moved", &account.id, detail("to", to)).await?;
    let arrived = event_from(state, to, origin, "account.moved", &account.id, detail("from", from)).await?;
    let events = [
        left.as_ref().map(|(event, bindings)| (event, bindings.as_slice())),
        arrived.as_ref().map(|(event, bindings)| (event, bindings.as_slice())),
    ];
    let now = state.clock.now();
    if !state.db.move_account(&from.id, &to.id, &account.id, &resealed, events, now).await? {
        return Err(ApiError::not_found("account"));
    }
    tracing::info!(account = %account.id, from = %from.id, to = %to.id, "account moved");
    state.db.account(&to.id, &account.id).await?.ok_or_else(|| ApiError::not_found("account"))
}
