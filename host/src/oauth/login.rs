//! Identifier-first login for a tenant's human accounts, as JSON under `/t/{tenant}/`:
//! `POST login` names the account and opens a login (a PENDING session, its token shown
//! once); `POST login/password`, `POST login/otp` (send a code through the tenant's
//! `otp-delivery` extension, once — never retried), `POST login/otp/verify` and
//! `POST login/totp` (an authenticator app's code) pass
//! factors, each adding its score to the session, which is ENABLED from the first factor
//! passed; `GET session` reads it and `DELETE session` ends it. Every factor locks after 5
//! failed attempts (OTP also after 5 codes requested) and unlocks itself after 300 s.
//! Errors are problem+json, and a wrong password, a wrong code and an unknown account all
//! read the same.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::AppState;
use crate::clock::{random_id, sortable_id};
use crate::events::outbox::NewEvent;
use crate::extensions::account_creation::{AccountData, Source};
use crate::extensions::events::EventResult;
use crate::extensions::otp_delivery::{Channel, Delivery, OtpMessage};
use crate::secrets;
use crate::storage::{FactorCounter, NewOtpCode, SessionRow};
use crate::tenancy::account::{self, LOCK_SECONDS, LOGIN_SECONDS, MAX_ATTEMPTS, OTP_SECONDS};
use crate::tenancy::controls::{legal_due, scopes_for_score};
use crate::tenancy::totp;
use crate::tenancy::{Account, Consent, Factor, FactorKind, LegalDue, ResourceState, Tenant};
use crate::web::{ApiError, Problem};

fn failed() -> ApiError {
    ApiError::new(Problem::Unauthenticated, "authentication failed")
}

fn locked(until: i64) -> ApiError {
    ApiError::new(Problem::Locked, format!("too many attempts: the factor is locked until {until}"))
}

/// The tenant named, if usable, once the request is counted against its login rate limit.
pub(crate) async fn usable_tenant(state: &AppState, name: &str) -> Result<Tenant, ApiError> {
    let tenant = state.db.tenant_by_name(name).await?;
    let tenant = tenant.filter(|t| t.effective_state().is_usable()).ok_or_else(|| ApiError::not_found("tenant"))?;
    let limits = state.extensions.tenant_limits(&tenant.id).await?;
    let (rate, burst) = (limits.login_requests_per_second, limits.login_burst);
    let now = state.clock.now_millis();
    if let Err(seconds) = state.limiter.admit(&tenant.id, crate::ratelimit::Endpoint::Login, rate, burst, now) {
        return Err(ApiError::new(
            Problem::RateLimited(seconds),
            format!("too many login requests for this tenant; retry after {seconds} s"),
        ));
    }
    if let Some(seconds) = crate::ops::failures::blocked(state, &tenant).await? {
        return Err(ApiError::new(
            Problem::RateLimited(seconds),
            format!("too many failed sign-ins from this address; retry after {seconds} s"),
        ));
    }
    Ok(tenant)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Start {
    username: String,
    #[serde(default)]
    stay_signed_in: bool,
}

#[derive(Debug, Serialize)]
pub struct FactorChoice {
    pub(super) id: String,
    pub(super) kind: FactorKind,
    pub(super) channel: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Started {
    login_id: String,
    /// The session's bearer token; shown once.
    pub(super) login_token: String,
    expires_at: i64,
    pub(super) factors: Vec<FactorChoice>,
}

/// `POST /t/{tenant}/login`: opens a login for the account named. An unknown or unusable
/// account gets an answer of the same shape, whose token never authenticates.
pub async fn start(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    body: Result<Json<Start>, JsonRejection>,
) -> Result<(StatusCode, Json<Started>), ApiError> {
    let tenant = usable_tenant(&state, &tenant).await?;
    let Json(body) = body?;
    let started = open_login(&state, &tenant, &body.username, body.stay_signed_in).await?;
    Ok((StatusCode::CREATED, Json(started)))
}

/// Opens a login for the account named: a PENDING session and the factors it may pass.
/// An unknown or unusable account gets an answer of the same shape, whose token never
/// authenticates.
pub(super) async fn open_login(
    state: &AppState,
    tenant: &Tenant,
    username: &str,
    stay_signed_in: bool,
) -> Result<Started, ApiError> {
    let now = state.clock.now();
    let username = account::normalise_username(username).map_err(|e| ApiError::new(Problem::InvalidRequest, e.0))?;
    let token = secrets::new_client_secret(state.entropy.as_ref())?;
    let id = sortable_id(state.entropy.as_ref(), "ses", now, 8)?;
    let account = state.db.account_by_username(&tenant.id, &username).await?.filter(|a| a.state.is_usable());
    let factors = match &account {
        Some(account) => {
            let session = SessionRow {
                id: id.clone(),
                account_id: account.id.clone(),
                state: ResourceState::Pending,
                score: 0,
                factors: Vec::new(),
                stay_signed_in,
                created_at: now,
                last_seen_at: now,
                authenticated_at: None,
            };
            state.db.insert_session(&tenant.id, &session, &secrets::digest(&token)).await?;
            let factors = state.db.factors(&tenant.id, &account.id).await?;
            factors
                .into_iter()
                .filter(|f| f.state.is_usable() && tenant.settings.allows(f.kind))
                .map(|f| FactorChoice { id: f.id, kind: f.kind, channel: f.channel })
                .collect()
        }
        // Shaped like a real factor's id (sortable, of this time), so its form gives nothing away.
        None => vec![FactorChoice {
            id: sortable_id(state.entropy.as_ref(), "fac", now, 8)?,
            kind: FactorKind::Password,
            channel: None,
        }],
    };
    Ok(Started { login_id: id, login_token: token, expires_at: now + LOGIN_SECONDS, factors })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Register {
    username: String,
    email: Option<String>,
    phone: Option<String>,
    #[serde(default)]
    attributes: serde_json::Map<String, serde_json::Value>,
    password: String,
}

#[derive(Debug, Serialize)]
pub struct Registered {
    account_id: String,
    username: String,
}

/// `POST /t/{tenant}/register`: self-registration, where the tenant allows it: the account
/// (with its password) passes the tenant's `account-creation` extensions like any other.
pub async fn register(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    body: Result<Json<Register>, JsonRejection>,
) -> Result<(StatusCode, Json<Registered>), ApiError> {
    let tenant = usable_tenant(&state, &tenant).await?;
    if !tenant.settings.self_registration {
        return Err(ApiError::new(Problem::Forbidden, "this tenant does not allow self-registration"));
    }
    let Json(body) = body?;
    let submitted =
        AccountData { username: body.username, email: body.email, phone: body.phone, attributes: body.attributes };
    let (account, _) = crate::ops::accounts::create_account(
        &state,
        &tenant,
        Source::SelfRegistration,
        "self-registration",
        submitted,
        Some(body.password),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(Registered { account_id: account.id, username: account.username })))
}

/// The login or session the request's bearer token names, if it is still usable: a login
/// in progress for [`LOGIN_SECONDS`], a session until it has been idle for the tenant's
/// idle lifetime (or, with "stay signed in", until the longer lifetime from its start).
async fn current(state: &AppState, tenant: &Tenant, headers: &HeaderMap) -> Result<(SessionRow, Account), ApiError> {
    let token = crate::web::bearer_token(headers).ok_or_else(|| {
        ApiError::new(Problem::Unauthenticated, "an Authorization: Bearer <login token> header is required")
    })?;
    current_by_token(state, tenant, token).await
}

/// The login or session `token` names, if it is still usable, with its usable account.
pub(super) async fn current_by_token(
    state: &AppState,
    tenant: &Tenant,
    token: &str,
) -> Result<(SessionRow, Account), ApiError> {
    let Some(session) = state.db.session_by_token(&tenant.id, &secrets::digest(token)).await? else {
        // An unknown login token (a decoy login's, or a guess) counts as a failure too, so
        // an unknown account costs its address what a known one does.
        crate::ops::failures::failed(state, tenant).await;
        return Err(failed());
    };
    let now = state.clock.now();
    let live = session.is_live(&tenant.settings, now);
    let account = state.db.account(&tenant.id, &session.account_id).await?.filter(|a| a.state.is_usable());
    match (live, account) {
        (true, Some(account)) => Ok((session, account)),
        _ => Err(ApiError::new(Problem::Unauthenticated, "the login or session has ended")),
    }
}

/// The signed-in session (a factor passed) and its account.
pub(super) async fn signed_in(
    state: &AppState,
    tenant: &Tenant,
    headers: &HeaderMap,
) -> Result<(SessionRow, Account), ApiError> {
    let (session, account) = current(state, tenant, headers).await?;
    if session.state != ResourceState::Enabled {
        return Err(ApiError::new(Problem::Unauthenticated, "no factor has been passed in this login yet"));
    }
    Ok((session, account))
}

/// An attempt at one of the login's factors: the login, its account, the factor (usable,
/// the account's, of `kind`, not locked) and the time.
async fn attempt(
    state: &AppState,
    tenant: &Tenant,
    account: &Account,
    factor_id: &str,
    kind: FactorKind,
) -> Result<(Factor, i64), ApiError> {
    let factor = factor_of(state, tenant, account, factor_id, kind).await?;
    let now = state.clock.now();
    if factor.is_locked(now) {
        return Err(locked(factor.locked_until.unwrap_or(now)));
    }
    Ok((factor, now))
}

async fn factor_of(
    state: &AppState,
    tenant: &Tenant,
    account: &Account,
    id: &str,
    kind: FactorKind,
) -> Result<Factor, ApiError> {
    crate::ops::accounts::allowed(tenant, kind)?;
    let factor = state.db.factor(&tenant.id, id).await?;
    factor.filter(|f| f.account_id == account.id && f.kind == kind && f.state.is_usable()).ok_or_else(|| {
        ApiError::new(Problem::InvalidRequest, format!("no usable {} factor {id:?} for this login", kind.as_str()))
    })
}

fn login_event(
    action: &'static str,
    result: EventResult,
    reason: Option<&str>,
    account: &Account,
    detail: serde_json::Value,
) -> NewEvent {
    NewEvent {
        category: "authentication",
        action,
        origin: "login",
        result,
        reason: reason.map(str::to_owned),
        account_id: Some(account.id.clone()),
        detail,
    }
}

/// A factor failed: count it (locking at the limit), record it, and answer.
async fn failure(state: &AppState, tenant: &Tenant, account: &Account, factor: &Factor, reason: &str) -> ApiError {
    crate::ops::failures::failed(state, tenant).await;
    let now = state.clock.now();
    let counted = state
        .db
        .count_factor(&tenant.id, &factor.id, FactorCounter::FailedAttempt, MAX_ATTEMPTS, now, now + LOCK_SECONDS)
        .await;
    let event = login_event("login.failed", EventResult::Failed, Some(reason), account, json!({"factor": factor.kind}));
    if let Err(e) = state.extensions.emit(tenant, event, false).await {
        tracing::warn!(tenant = %tenant.id, "cannot record login.failed: {e}");
    }
    match counted {
        Ok(Some(factor)) if factor.is_locked(now) => locked(factor.locked_until.unwrap_or(now)),
        Ok(_) => failed(),
        Err(e) => e.into(),
    }
}

#[derive(Debug, Serialize)]
pub struct SessionView {
    session_id: String,
    account_id: String,
    state: ResourceState,
    score: i64,
    factors: Vec<FactorKind>,
    /// Legal documents whose current version the account must accept before it may
    /// receive tokens (`POST session/legal`).
    legal_due: Vec<LegalDue>,
    /// The tenant's scopes this session's score allows.
    scopes: Vec<String>,
    /// The scopes that need a step-up first, with the score each needs.
    step_up: Vec<StepUp>,
    /// The scopes that need a permission the account does not hold.
    needs_permission: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct StepUp {
    scope: String,
    required_score: i64,
}

/// What the account has yet to accept.
pub(super) async fn due(state: &AppState, tenant: &Tenant, account: &Account) -> Result<Vec<LegalDue>, ApiError> {
    let documents = state.db.legal_documents(&tenant.id).await?;
    if documents.is_empty() {
        return Ok(Vec::new());
    }
    let consents = state.db.consents_of(&tenant.id, &account.id).await?;
    Ok(legal_due(&documents, &consents, state.clock.now()))
}

pub(super) async fn view(
    state: &AppState,
    tenant: &Tenant,
    session: SessionRow,
    account: &Account,
) -> Result<SessionView, ApiError> {
    let catalogue = state.db.scopes(&tenant.id).await?;
    let permissions = state.db.permissions_of(&tenant.id, &account.id).await?;
    let access = scopes_for_score(&catalogue, session.score, &permissions);
    Ok(SessionView {
        legal_due: due(state, tenant, account).await?,
        scopes: access.allowed,
        step_up: access.step_up.into_iter().map(|(scope, required_score)| StepUp { scope, required_score }).collect(),
        needs_permission: access.needs_permission,
        session_id: session.id,
        account_id: account.id.clone(),
        state: ResourceState::Enabled,
        score: session.score,
        factors: session.factors,
    })
}

/// A factor passed: the session's score grows and it is ENABLED.
async fn passed(
    state: &AppState,
    tenant: &Tenant,
    mut session: SessionRow,
    account: &Account,
    factor: &Factor,
) -> Result<SessionRow, ApiError> {
    let now = state.clock.now();
    state.db.factor_passed(&tenant.id, &factor.id, now).await?;
    session.factors.push(factor.kind);
    session.score = account::score(&session.factors);
    session.last_seen_at = now;
    session.authenticated_at = Some(now);
    session.state = ResourceState::Enabled;
    if !state.db.session_passed(&tenant.id, &session).await? {
        return Err(ApiError::new(Problem::Unauthenticated, "the login or session has ended"));
    }
    state.db.touch_account(&tenant.id, &account.id, now).await?;
    state.usage.active(&tenant.id, &account.id, now);
    let detail = json!({"factor": factor.kind, "score": session.score, "session_id": session.id});
    let event = login_event("login.succeeded", EventResult::Success, None, account, detail);
    if let Err(e) = state.extensions.emit(tenant, event, false).await {
        tracing::warn!(tenant = %tenant.id, "cannot record login.succeeded: {e}");
    }
    Ok(session)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Password {
    password: String,
}

/// `POST /t/{tenant}/login/password`.
pub async fn password(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Result<Json<Password>, JsonRejection>,
) -> Result<Json<SessionView>, ApiError> {
    let tenant = usable_tenant(&state, &tenant).await?;
    let Json(body) = body?;
    let (session, account) = match current(&state, &tenant, &headers).await {
        Ok(found) => found,
        // Only for a login token presented (counted as a failed authentication, so the
        // hashing it costs is bounded per address like a wrong password's).
        Err(refused) => {
            if crate::web::bearer_token(&headers).is_some() {
                decoy_password_check(&state, body.password).await;
            }
            return Err(refused);
        }
    };
    let session = check_password(&state, &tenant, session, &account, body.password).await?;
    Ok(Json(view(&state, &tenant, session, &account).await?))
}

/// A password offered to a login that names no account (a decoy login, an ended one or a
/// guess) is verified too, against a hash no password matches, so an unknown account
/// costs the same argon2id work and answers as late as a known one with a wrong password.
pub(super) async fn decoy_password_check(state: &AppState, password: String) {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let entropy = state.entropy.clone();
    let checked = tokio::task::spawn_blocking(move || {
        let stored = match DECOY.get() {
            Some(stored) => stored.clone(),
            None => {
                let made = secrets::hash_password(entropy.as_ref(), "a decoy no password matches").unwrap_or_default();
                DECOY.get_or_init(|| made).clone()
            }
        };
        secrets::verify_password(&password, &stored)
    })
    .await;
    match checked {
        Ok(_) => state.extensions.metrics.password_verified(),
        Err(e) => tracing::warn!("the decoy password check did not run: {e}"),
    }
}

/// The login's password: verified (argon2id, off the executor), counted when wrong.
pub(super) async fn check_password(
    state: &AppState,
    tenant: &Tenant,
    session: SessionRow,
    account: &Account,
    password: String,
) -> Result<SessionRow, ApiError> {
    let factors = state.db.factors(&tenant.id, &account.id).await?;
    let factor =
        factors.into_iter().find(|f| f.kind == FactorKind::Password && f.state.is_usable()).ok_or_else(failed)?;
    let now = state.clock.now();
    if factor.is_locked(now) {
        return Err(locked(factor.locked_until.unwrap_or(now)));
    }
    let stored = factor.secret_hash.clone().unwrap_or_default();
    let verified = tokio::task::spawn_blocking(move || secrets::verify_password(&password, &stored))
        .await
        .map_err(ApiError::internal)?;
    state.extensions.metrics.password_verified();
    if !verified {
        return Err(failure(state, tenant, account, &factor, "bad-password").await);
    }
    passed(state, tenant, session, account, &factor).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendCode {
    factor_id: String,
    locale: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct CodeSent {
    expires_at: i64,
    /// The provider's message id, when the extension returned one.
    message_id: Option<String>,
}

/// `POST /t/{tenant}/login/otp`: a new code for the factor, handed to the tenant's
/// `otp-delivery` extension once. A code that could not be delivered is withdrawn.
pub async fn send_code(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Result<Json<SendCode>, JsonRejection>,
) -> Result<Json<CodeSent>, ApiError> {
    let tenant = usable_tenant(&state, &tenant).await?;
    let Json(body) = body?;
    let (session, account) = current(&state, &tenant, &headers).await?;
    Ok(Json(send_otp(&state, &tenant, &session, &account, &body.factor_id, body.locale).await?))
}

/// A new code for the login's OTP factor, handed to the tenant's `otp-delivery` extension
/// once; withdrawn if it could not be delivered.
pub(super) async fn send_otp(
    state: &AppState,
    tenant: &Tenant,
    session: &SessionRow,
    account: &Account,
    factor_id: &str,
    locale: Option<String>,
) -> Result<CodeSent, ApiError> {
    let (factor, now) = attempt(state, tenant, account, factor_id, FactorKind::Otp).await?;
    // The sixth code asked for within a lock period is refused, and locks the factor.
    let counted = state
        .db
        .count_factor(&tenant.id, &factor.id, FactorCounter::CodeRequested, MAX_ATTEMPTS + 1, now, now + LOCK_SECONDS)
        .await?;
    if let Some(counted) = counted.filter(|f| f.is_locked(now)) {
        return Err(locked(counted.locked_until.unwrap_or(now)));
    }
    let random = crate::clock::random_bytes(state.entropy.as_ref(), 64)?;
    let mut random = random.iter().copied().cycle();
    let code = account::otp_code(|| random.next().unwrap_or(0));
    let code_id = random_id(state.entropy.as_ref(), "otp", 12)?;
    let expires_at = now + OTP_SECONDS;
    let digest = secrets::digest(&code);
    let stored = NewOtpCode {
        id: &code_id,
        session_id: &session.id,
        factor_id: &factor.id,
        code_sha256: &digest,
        expires_at,
        created_at: now,
    };
    state.db.insert_otp_code(&tenant.id, &stored).await?;
    let channel = match factor.channel.as_deref() {
        Some("email") => Channel::Email,
        Some("voice") => Channel::Voice,
        _ => Channel::Sms,
    };
    let message = OtpMessage {
        delivery_id: code_id.clone(),
        account_id: account.id.clone(),
        channel,
        recipient: factor.recipient.clone(),
        code,
        purpose: "login".into(),
        expires_at: u64::try_from(expires_at).unwrap_or(0),
        locale,
    };
    let delivered = state.extensions.run_otp_delivery(tenant, &message).await;
    let refusal = match delivered {
        Ok(Some(Delivery::Delivered(message_id))) => return Ok(CodeSent { expires_at, message_id }),
        Ok(Some(Delivery::Rejected(reason))) => ApiError::new(
            Problem::Denied,
            format!("the code cannot be delivered to this recipient: {}", crate::jwt::sanitise_reason(&reason)),
        ),
        Ok(Some(Delivery::Unavailable(reason))) => ApiError::new(
            Problem::ExtensionFailed,
            format!("the code could not be delivered now: {}; ask for a new one", crate::jwt::sanitise_reason(&reason)),
        ),
        Ok(None) => ApiError::new(Problem::Conflict, "the tenant has no otp-delivery extension bound"),
        Err(e) => e.into(),
    };
    state.db.use_otp_code(&tenant.id, &code_id).await?;
    Err(refusal)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyCode {
    factor_id: String,
    code: String,
}

/// `POST /t/{tenant}/login/otp/verify`: the latest code sent for the factor in this login,
/// once, before it expires; compared as SHA-256 digests in constant time.
pub async fn verify_code(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Result<Json<VerifyCode>, JsonRejection>,
) -> Result<Json<SessionView>, ApiError> {
    let tenant = usable_tenant(&state, &tenant).await?;
    let Json(body) = body?;
    let (session, account) = current(&state, &tenant, &headers).await?;
    let session = check_otp(&state, &tenant, session, &account, &body.factor_id, &body.code).await?;
    Ok(Json(view(&state, &tenant, session, &account).await?))
}

/// The latest code sent for the factor in this login, once, before it expires.
pub(super) async fn check_otp(
    state: &AppState,
    tenant: &Tenant,
    session: SessionRow,
    account: &Account,
    factor_id: &str,
    code: &str,
) -> Result<SessionRow, ApiError> {
    let (factor, now) = attempt(state, tenant, account, factor_id, FactorKind::Otp).await?;
    let live = state.db.live_otp_code(&tenant.id, &session.id, &factor.id, now).await?;
    let presented = secrets::digest(&account::normalise_code(code));
    let matched = live.filter(|(_, stored)| secrets::constant_time_eq(presented.as_bytes(), stored.as_bytes()));
    match matched {
        Some((code_id, _)) if state.db.use_otp_code(&tenant.id, &code_id).await? => {
            passed(state, tenant, session, account, &factor).await
        }
        _ => Err(failure(state, tenant, account, &factor, "bad-code").await),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TotpCode {
    factor_id: String,
    code: String,
}

/// `POST /t/{tenant}/login/totp`: a code from the account's authenticator app, for the
/// current 30-second step (or one either side), never twice.
pub async fn totp(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Result<Json<TotpCode>, JsonRejection>,
) -> Result<Json<SessionView>, ApiError> {
    let tenant = usable_tenant(&state, &tenant).await?;
    let Json(body) = body?;
    let (session, account) = current(&state, &tenant, &headers).await?;
    let session = check_totp(&state, &tenant, session, &account, &body.factor_id, &body.code).await?;
    Ok(Json(view(&state, &tenant, session, &account).await?))
}

/// A code from the account's authenticator app, for the current step or one either side,
/// never twice.
pub(super) async fn check_totp(
    state: &AppState,
    tenant: &Tenant,
    session: SessionRow,
    account: &Account,
    factor_id: &str,
    code: &str,
) -> Result<SessionRow, ApiError> {
    let (factor, now) = attempt(state, tenant, account, factor_id, FactorKind::Totp).await?;
    let secret = crate::ops::accounts::open_totp_secret(state, &tenant.id, &factor)?;
    match totp::verify(&secret, code, now, factor.last_step) {
        Some(step) if state.db.accept_totp_step(&tenant.id, &factor.id, step).await? => {
            passed(state, tenant, session, account, &factor).await
        }
        _ => Err(failure(state, tenant, account, &factor, "bad-code").await),
    }
}

/// `GET /t/{tenant}/session`: the session (score, factors passed); counts as activity.
pub async fn get_session(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
) -> Result<Json<SessionView>, ApiError> {
    let tenant = usable_tenant(&state, &tenant).await?;
    let (session, account) = signed_in(&state, &tenant, &headers).await?;
    state.db.touch_session(&tenant.id, &session.id, state.clock.now()).await?;
    Ok(Json(view(&state, &tenant, session, &account).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Accept {
    document_id: String,
    version: i64,
}

/// `POST /t/{tenant}/session/legal`: the account accepts a document's current version; the
/// acceptance is recorded as a consent.
pub async fn accept_legal(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Result<Json<Accept>, JsonRejection>,
) -> Result<Json<SessionView>, ApiError> {
    let tenant = usable_tenant(&state, &tenant).await?;
    let Json(body) = body?;
    let (session, account) = signed_in(&state, &tenant, &headers).await?;
    accept_document(&state, &tenant, &session, &account, &body.document_id, body.version).await?;
    Ok(Json(view(&state, &tenant, session, &account).await?))
}

/// The account accepts a legal document's current version (`version` must be it),
/// recorded as a consent with its event.
pub(super) async fn accept_document(
    state: &AppState,
    tenant: &Tenant,
    session: &SessionRow,
    account: &Account,
    document_id: &str,
    version: i64,
) -> Result<(), ApiError> {
    let document = state.db.legal_document(&tenant.id, document_id).await?;
    let document = document.filter(|d| d.state.is_usable()).ok_or_else(|| ApiError::not_found("legal document"))?;
    if version != document.version {
        return Err(ApiError::new(
            Problem::Conflict,
            format!("version {version} is not the current version of this document ({})", document.version),
        ));
    }
    let now = state.clock.now();
    let consent = Consent {
        id: sortable_id(state.entropy.as_ref(), "con", now, 8)?,
        account_id: account.id.clone(),
        kind: "legal".into(),
        subject: document.id.clone(),
        version: Some(document.version),
        scopes: None,
        granted_at: now,
        expires_at: None,
        revoked_at: None,
    };
    let detail = json!({"consent_id": consent.id, "document_id": document.id, "version": document.version});
    let granted = NewEvent {
        category: "authorization",
        action: "consent.granted",
        origin: "login",
        result: EventResult::Success,
        reason: None,
        account_id: Some(account.id.clone()),
        detail,
    };
    let granted = state.extensions.prepare_event(tenant, granted, false).await?;
    let granted = granted.as_ref().map(|(event, bindings)| (event, bindings.as_slice()));
    state.db.insert_consent(&tenant.id, &consent, granted).await?;
    state.db.touch_session(&tenant.id, &session.id, now).await?;
    Ok(())
}

/// `DELETE /t/{tenant}/session`: logs out.
pub async fn end_session(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let tenant = usable_tenant(&state, &tenant).await?;
    let (session, _) = current(&state, &tenant, &headers).await?;
    state.db.end_session(&tenant.id, &session.id, state.clock.now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The signed-in account's session, for managing its own factors: it must have passed a
/// factor as strong as the strongest one the account has enabled (step-up), so that a
/// password alone cannot add or remove a second factor.
async fn stepped_up(
    state: &AppState,
    tenant: &Tenant,
    headers: &HeaderMap,
) -> Result<(SessionRow, Account, Vec<Factor>), ApiError> {
    let (session, account) = signed_in(state, tenant, headers).await?;
    let factors = state.db.factors(&tenant.id, &account.id).await?;
    let strongest = factors.iter().filter(|f| f.state.is_usable()).map(|f| f.kind.score()).max().unwrap_or(0);
    let passed = session.factors.iter().map(|kind| kind.score()).max().unwrap_or(0);
    if passed < strongest {
        return Err(ApiError::new(
            Problem::Forbidden,
            format!("pass a factor of score {strongest} in this session first (step-up)"),
        ));
    }
    Ok((session, account, factors))
}

/// `GET /t/{tenant}/session/factors`: the signed-in account's own factors ("your security").
pub async fn my_factors(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Vec<Factor>>, ApiError> {
    let tenant = usable_tenant(&state, &tenant).await?;
    let (_, account) = signed_in(&state, &tenant, &headers).await?;
    Ok(Json(state.db.factors(&tenant.id, &account.id).await?))
}

/// `POST /t/{tenant}/session/factors`: the account enrols a factor of its own (step-up).
pub async fn enrol_my_factor(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Result<Json<crate::ops::accounts::EnrolFactor>, JsonRejection>,
) -> Result<(StatusCode, Json<crate::ops::accounts::EnrolledFactor>), ApiError> {
    let tenant = usable_tenant(&state, &tenant).await?;
    let Json(body) = body?;
    let (_, account, _) = stepped_up(&state, &tenant, &headers).await?;
    let enrolled = crate::ops::accounts::enrol(&state, &tenant, &account, body, "self-service").await?;
    Ok((StatusCode::CREATED, Json(enrolled)))
}

/// `POST /t/{tenant}/session/factors/{factor}/confirm`: the first code of the account's
/// own TOTP enrolment.
pub async fn confirm_my_factor(
    State(state): State<AppState>,
    Path((tenant, factor_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Result<Json<crate::ops::accounts::Confirm>, JsonRejection>,
) -> Result<Json<Factor>, ApiError> {
    let tenant = usable_tenant(&state, &tenant).await?;
    let Json(body) = body?;
    let (_, account, _) = stepped_up(&state, &tenant, &headers).await?;
    Ok(Json(crate::ops::accounts::confirm(&state, &tenant, &account.id, &factor_id, &body.code).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FactorState {
    state: ResourceState,
}

/// `PATCH /t/{tenant}/session/factors/{factor}`: the account disables (or re-enables) one
/// of its factors (step-up); its last enabled factor stays.
pub async fn change_my_factor(
    State(state): State<AppState>,
    Path((tenant, factor_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Result<Json<FactorState>, JsonRejection>,
) -> Result<Json<Factor>, ApiError> {
    let tenant = usable_tenant(&state, &tenant).await?;
    let Json(body) = body?;
    let (_, account, _) = stepped_up(&state, &tenant, &headers).await?;
    let factor =
        crate::ops::security::change_factor(&state, &tenant, &account, &factor_id, body.state, "login").await?;
    Ok(Json(factor))
}
