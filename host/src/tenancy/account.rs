//! Human accounts and their authentication factors: the rules PRODUCT.md sets — usernames
//! (1–100 characters, case-insensitive), passwords (15–100 characters, argon2id), one-time
//! codes (6 characters of `A-Z0-9`, case-insensitive, 10 minutes, stored hashed), factor
//! scores, and the lock after 5 failed attempts (or 5 codes requested) that lifts itself
//! after 300 s. Pure rules: no HTTP, no SQL.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::ResourceState;

/// Failed attempts (or codes requested) before a factor locks.
pub const MAX_ATTEMPTS: i64 = 5;
/// How long a locked factor stays locked.
pub const LOCK_SECONDS: i64 = 300;
/// How long a one-time code is valid.
pub const OTP_SECONDS: i64 = 600;
/// How long a login in progress (identified, no factor passed yet) may take.
pub const LOGIN_SECONDS: i64 = 600;
/// How long an invite (an administrator's one-time credential) may be used; a PENDING
/// account with no usable invite is removed once this long has passed since its creation.
pub const INVITE_SECONDS: i64 = 7 * 86_400;
/// How long a factor enrolment may stay PENDING (unconfirmed) before it is removed.
pub const PENDING_FACTOR_SECONDS: i64 = 3_600;
pub const OTP_LENGTH: usize = 6;
const OTP_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// A human account of a tenant.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Account {
    pub id: String,
    /// Lower-cased.
    pub username: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub attributes: Map<String, Value>,
    pub state: ResourceState,
    pub created_at: i64,
    pub updated_at: i64,
    pub last_active_at: Option<i64>,
}

impl Account {
    /// The fields an update may change, as events show them.
    pub fn changeable(&self) -> Map<String, Value> {
        let mut fields = Map::new();
        fields.insert("email".into(), self.email.clone().into());
        fields.insert("phone".into(), self.phone.clone().into());
        fields.insert("attributes".into(), Value::Object(self.attributes.clone()));
        fields.insert("state".into(), self.state.as_str().into());
        fields
    }
}

/// What a factor is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum FactorKind {
    Password,
    /// A one-time code delivered over SMS, e-mail or voice by the tenant's extension.
    Otp,
    /// A time-based code from an authenticator app (RFC 6238).
    Totp,
}

impl FactorKind {
    /// Every kind, in the order screens list them.
    pub const ALL: [FactorKind; 3] = [FactorKind::Password, FactorKind::Otp, FactorKind::Totp];

    pub fn as_str(self) -> &'static str {
        match self {
            FactorKind::Password => "password",
            FactorKind::Otp => "otp",
            FactorKind::Totp => "totp",
        }
    }

    pub fn parse(kind: &str) -> Option<FactorKind> {
        match kind {
            "password" => Some(FactorKind::Password),
            "otp" => Some(FactorKind::Otp),
            "totp" => Some(FactorKind::Totp),
            _ => None,
        }
    }

    /// What passing the factor adds to a session's score.
    pub fn score(self) -> i64 {
        match self {
            FactorKind::Password => 2,
            FactorKind::Otp | FactorKind::Totp => 3,
        }
    }
}

/// One factor of an account (its secret is never part of it).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Factor {
    pub id: String,
    pub account_id: String,
    pub kind: FactorKind,
    /// For OTP: `sms`, `email` or `voice`.
    pub channel: Option<String>,
    /// For OTP: where codes go; `None` when the extension looks the account up itself.
    pub recipient: Option<String>,
    pub state: ResourceState,
    pub failed_attempts: i64,
    pub codes_requested: i64,
    pub locked_until: Option<i64>,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    #[serde(skip)]
    pub secret_hash: Option<String>,
    /// TOTP: the sealed shared secret (`nonce.ciphertext`, base64url).
    #[serde(skip)]
    pub sealed_secret: Option<String>,
    /// TOTP: the last time step accepted.
    #[serde(skip)]
    pub last_step: Option<i64>,
}

impl Factor {
    /// A new, enabled factor of the account with no secret yet and clean counters.
    pub fn new(id: String, account_id: &str, kind: FactorKind, now: i64) -> Factor {
        Factor {
            id,
            account_id: account_id.to_owned(),
            kind,
            channel: None,
            recipient: None,
            state: ResourceState::Enabled,
            failed_attempts: 0,
            codes_requested: 0,
            locked_until: None,
            created_at: now,
            last_used_at: None,
            secret_hash: None,
            sealed_secret: None,
            last_step: None,
        }
    }

    pub fn is_locked(&self, now: i64) -> bool {
        self.locked_until.is_some_and(|until| until > now)
    }
}

/// A rule an input broke.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

/// A username as stored: trimmed, lower-cased, 1–100 characters without control characters.
pub fn normalise_username(username: &str) -> Result<String, Invalid> {
    let username = username.trim().to_lowercase();
    let length = username.chars().count();
    match (1..=100).contains(&length) && !username.chars().any(char::is_control) {
        true => Ok(username),
        false => Err(Invalid("usernames are 1 to 100 characters, without control characters".into())),
    }
}

/// An e-mail address, loosely: something@something, at most 254 characters.
pub fn check_email(email: &str) -> Result<(), Invalid> {
    let valid = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    match valid {
        true => Ok(()),
        false => Err(Invalid(format!("{email:?} is not an e-mail address"))),
    }
}

/// A phone number in E.164 form, `+` and 8–15 digits.
pub fn check_phone(phone: &str) -> Result<(), Invalid> {
    let digits = phone.strip_prefix('+').unwrap_or("");
    match (8..=15).contains(&digits.len()) && digits.chars().all(|c| c.is_ascii_digit()) {
        true => Ok(()),
        false => Err(Invalid(format!("{phone:?} is not a phone number in E.164 form (+15550100)"))),
    }
}

/// Attributes: a JSON object of at most 16 KiB.
pub fn check_attributes(attributes: &Map<String, Value>) -> Result<(), Invalid> {
    match Value::Object(attributes.clone()).to_string().len() <= 16 << 10 {
        true => Ok(()),
        false => Err(Invalid("attributes hold at most 16 KiB of JSON".into())),
    }
}

/// Passwords are 15 to 100 characters (case-sensitive; any characters).
pub fn check_password(password: &str) -> Result<(), Invalid> {
    match (15..=100).contains(&password.chars().count()) {
        true => Ok(()),
        false => Err(Invalid("passwords are 15 to 100 characters".into())),
    }
}

/// A one-time code from random bytes: 6 characters of `A-Z0-9` (rejection sampling keeps
/// every character equally likely).
pub fn otp_code(mut random: impl FnMut() -> u8) -> String {
    let limit = 252; // 7 × 36: bytes at or above are redrawn
    (0..OTP_LENGTH)
        .map(|_| {
            // Redrawn at most 16 times (each time with odds of 4 in 256), so it always ends.
            let mut byte = random();
            for _ in 0..16 {
                if byte < limit {
                    break;
                }
                byte = random();
            }
            char::from(OTP_ALPHABET[usize::from(byte) % OTP_ALPHABET.len()])
        })
        .collect()
}

/// A code as typed, in the form it was hashed: trimmed and upper-cased.
pub fn normalise_code(code: &str) -> String {
    code.trim().to_ascii_uppercase()
}

/// Whether a session (or a login in progress) is still usable at `now`: a login in
/// progress for [`LOGIN_SECONDS`] from its start; a session until it has been idle for the
/// tenant's idle lifetime — or, when "stay signed in" was chosen, until the longer
/// lifetime from its start, however idle.
pub fn session_live(
    state: ResourceState,
    stay_signed_in: bool,
    created_at: i64,
    last_seen_at: i64,
    settings: &super::TenantSettings,
    now: i64,
) -> bool {
    match state {
        ResourceState::Pending => now < created_at + LOGIN_SECONDS,
        ResourceState::Enabled if stay_signed_in => now < created_at + settings.stay_signed_in_seconds,
        ResourceState::Enabled => now < last_seen_at + settings.session_idle_seconds,
        ResourceState::Disabled | ResourceState::Locked => false,
    }
}

/// The factors passed in a session, by kind, with the session's score.
pub fn score(passed: &[FactorKind]) -> i64 {
    let distinct: BTreeMap<&str, i64> = passed.iter().map(|kind| (kind.as_str(), kind.score())).collect();
    distinct.values().sum()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn usernames_are_case_insensitive_and_bounded() {
        assert_eq!(normalise_username("  Alice ").unwrap(), "alice");
        assert!(normalise_username("").is_err());
        assert!(normalise_username(&"a".repeat(101)).is_err());
        assert!(normalise_username("a\u{7}b").is_err());
    }

    #[test]
    fn passwords_contacts_and_codes_follow_the_product_rules() {
        assert!(check_password("fourteen-chars").is_err());
        assert!(check_password("fifteen-chars!!").is_ok());
        assert!(check_password(&"x".repeat(101)).is_err());
        assert!(check_email("a@example.com").is_ok());
        assert!(check_email("not-an-address").is_err());
        assert!(check_phone("+15550100").is_ok());
        assert!(check_phone("555-0100").is_err());
        let mut bytes = [255u8, 0, 35, 36, 71, 1, 2].into_iter();
        let code = otp_code(|| bytes.next().unwrap());
        assert_eq!(code, "A9A9BC", "255 is redrawn; 36 wraps to A, 71 to 9");
        assert_eq!(normalise_code(" k7q2zp "), "K7Q2ZP");
        assert_eq!(score(&[FactorKind::Password, FactorKind::Otp, FactorKind::Password]), 5);
    }
}
