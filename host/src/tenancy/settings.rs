//! A tenant's settings, its colour and its tags: the defaults tenants expect (PRODUCT.md)
//! and the bounds a change must stay within. Settings are stored as the JSON of the fields
//! the tenant changed; every other field has its default, so a new default reaches every
//! tenant that never chose otherwise. Changes are not retroactive.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::account::FactorKind;
use super::controls::ADMIN_REQUIRED_SCORE;

const MINUTE: i64 = 60;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

/// Lifetimes and policies of one tenant, in seconds unless named otherwise.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct TenantSettings {
    /// A login session ends after this long without activity.
    pub session_idle_seconds: i64,
    /// "Stay signed in": the longest a session may last.
    pub stay_signed_in_seconds: i64,
    /// An account unused this many days is removed (at most 400); `None`: never.
    pub account_inactivity_days: Option<i64>,
    /// The tenant expires after this many days without activity (at most 90); `None`: never.
    pub tenant_inactivity_days: Option<i64>,
    pub human_access_token_seconds: i64,
    /// Machine clients' access tokens (at most 30 days).
    pub client_access_token_seconds: i64,
    pub id_token_seconds: i64,
    /// A refresh token unused this long expires.
    pub refresh_token_idle_seconds: i64,
    /// `ES256` (default), `EdDSA` or `RS256`.
    pub signing_algorithm: String,
    /// Whether people may create their own accounts (`POST /t/{tenant}/register`).
    pub self_registration: bool,
    /// Whether every sign-in through the authorization endpoint needs a second factor (a
    /// one-time or authenticator code after the password), whatever the scopes asked for.
    pub second_factor_required: bool,
    /// The signing key is replaced after this many days (1 to 365); the previous one stays
    /// published until the tokens it signed have expired.
    pub signing_key_rotation_days: i64,
    /// The kinds of factor the tenant's accounts may enrol and sign in with. Password is
    /// always among them (invitations and self-registration set one); of the codes, OTP
    /// and TOTP, at least one, so that administrators can reach the `admin` scope's score.
    /// Existing enrolments of a kind taken out stay stored but no longer sign anyone in.
    pub allowed_factors: Vec<FactorKind>,
}

impl Default for TenantSettings {
    fn default() -> Self {
        TenantSettings {
            session_idle_seconds: 30 * MINUTE,
            stay_signed_in_seconds: 14 * DAY,
            account_inactivity_days: None,
            tenant_inactivity_days: None,
            human_access_token_seconds: HOUR,
            client_access_token_seconds: DAY,
            id_token_seconds: HOUR,
            refresh_token_idle_seconds: 30 * DAY,
            signing_algorithm: "ES256".into(),
            self_registration: false,
            second_factor_required: false,
            signing_key_rotation_days: 90,
            allowed_factors: FactorKind::ALL.to_vec(),
        }
    }
}

/// A setting, colour or tag outside its bounds.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidSetting(pub String);

fn within(name: &str, value: i64, min: i64, max: i64) -> Result<(), InvalidSetting> {
    match (min..=max).contains(&value) {
        true => Ok(()),
        false => Err(InvalidSetting(format!("{name} must be between {min} and {max}, not {value}"))),
    }
}

impl TenantSettings {
    /// The longest any token this tenant signs may live: how long a retired signing key
    /// stays published.
    pub fn longest_token_seconds(&self) -> i64 {
        self.human_access_token_seconds.max(self.client_access_token_seconds).max(self.id_token_seconds)
    }

    /// Whether accounts may enrol and sign in with factors of `kind`.
    pub fn allows(&self, kind: FactorKind) -> bool {
        self.allowed_factors.contains(&kind)
    }

    pub fn validate(&self) -> Result<(), InvalidSetting> {
        within("session_idle_seconds", self.session_idle_seconds, MINUTE, 30 * DAY)?;
        within("stay_signed_in_seconds", self.stay_signed_in_seconds, self.session_idle_seconds, 400 * DAY)?;
        if let Some(days) = self.account_inactivity_days {
            within("account_inactivity_days", days, 1, 400)?;
        }
        if let Some(days) = self.tenant_inactivity_days {
            within("tenant_inactivity_days", days, 1, 90)?;
        }
        within("human_access_token_seconds", self.human_access_token_seconds, MINUTE, DAY)?;
        within("client_access_token_seconds", self.client_access_token_seconds, MINUTE, 30 * DAY)?;
        within("id_token_seconds", self.id_token_seconds, MINUTE, DAY)?;
        within("refresh_token_idle_seconds", self.refresh_token_idle_seconds, HOUR, 365 * DAY)?;
        within("signing_key_rotation_days", self.signing_key_rotation_days, 1, 365)?;
        if !matches!(self.signing_algorithm.as_str(), "ES256" | "EdDSA" | "RS256") {
            return Err(InvalidSetting(format!(
                "signing_algorithm must be ES256, EdDSA or RS256, not {:?}",
                self.signing_algorithm
            )));
        }
        self.validate_factors()
    }

    fn validate_factors(&self) -> Result<(), InvalidSetting> {
        let kinds = &self.allowed_factors;
        if kinds.iter().enumerate().any(|(i, kind)| kinds[..i].contains(kind)) {
            return Err(InvalidSetting("allowed_factors names a kind twice".into()));
        }
        if !self.allows(FactorKind::Password) {
            return Err(InvalidSetting(
                "allowed_factors must include password: invitations and self-registration set one".into(),
            ));
        }
        let reachable: i64 = kinds.iter().map(|kind| kind.score()).sum();
        if reachable < ADMIN_REQUIRED_SCORE {
            return Err(InvalidSetting(format!(
                "allowed_factors must include otp or totp: administrator access needs a score of {ADMIN_REQUIRED_SCORE}, \
                 which a password alone ({}) does not reach",
                FactorKind::Password.score()
            )));
        }
        Ok(())
    }
}

/// A colour as `#rrggbb` (lower-cased), or empty for none.
pub fn check_colour(colour: &str) -> Result<String, InvalidSetting> {
    let hex = colour.strip_prefix('#').unwrap_or("");
    match colour.is_empty() || (hex.len() == 6 && hex.chars().all(|c| c.is_ascii_hexdigit())) {
        true => Ok(colour.to_ascii_lowercase()),
        false => Err(InvalidSetting(format!("colour must look like #1a2b3c, not {colour:?}"))),
    }
}

/// Tags: at most 50, keys of 1–64 characters of `[a-z0-9._-]`, values of at most 256.
pub fn check_tags(tags: &BTreeMap<String, String>) -> Result<(), InvalidSetting> {
    if tags.len() > 50 {
        return Err(InvalidSetting("a tenant has at most 50 tags".into()));
    }
    for (key, value) in tags {
        let valid_key = (1..=64).contains(&key.len())
            && key.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'));
        if !valid_key {
            return Err(InvalidSetting(format!(
                "tag key {key:?} must be 1 to 64 characters of a-z, 0-9, '.', '_', '-'"
            )));
        }
        if value.chars().count() > 256 {
            return Err(InvalidSetting(format!("the value of tag {key:?} is longer than 256 characters")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn defaults_are_the_products_and_are_valid() {
        let settings = TenantSettings::default();
        assert_eq!(settings.session_idle_seconds, 1800);
        assert_eq!(settings.stay_signed_in_seconds, 14 * 86_400);
        assert_eq!(settings.client_access_token_seconds, 86_400);
        settings.validate().unwrap();
        // Stored as the fields a tenant changed: the rest come from the defaults.
        let changed: TenantSettings = serde_json::from_str(r#"{"session_idle_seconds": 600}"#).unwrap();
        assert_eq!(changed, TenantSettings { session_idle_seconds: 600, ..TenantSettings::default() });
    }

    #[test]
    fn out_of_bounds_settings_colours_and_tags_are_named() {
        let expiry = TenantSettings { account_inactivity_days: Some(401), ..TenantSettings::default() };
        assert!(expiry.validate().unwrap_err().0.contains("account_inactivity_days"));
        let tenant_expiry = TenantSettings { tenant_inactivity_days: Some(91), ..TenantSettings::default() };
        assert!(tenant_expiry.validate().is_err());
        let tokens = TenantSettings { client_access_token_seconds: 31 * DAY, ..TenantSettings::default() };
        assert!(tokens.validate().is_err());
        let algorithm = TenantSettings { signing_algorithm: "HS256".into(), ..TenantSettings::default() };
        assert!(algorithm.validate().is_err());
        let factors =
            |kinds: &[FactorKind]| TenantSettings { allowed_factors: kinds.to_vec(), ..TenantSettings::default() };
        assert!(factors(&[FactorKind::Password, FactorKind::Totp]).validate().is_ok());
        assert!(factors(&[FactorKind::Password]).validate().unwrap_err().0.contains("otp or totp"));
        assert!(factors(&[FactorKind::Otp, FactorKind::Totp]).validate().unwrap_err().0.contains("include password"));
        assert!(factors(&[FactorKind::Password, FactorKind::Otp, FactorKind::Otp]).validate().is_err());
        let stored: TenantSettings = serde_json::from_str(r#"{"allowed_factors": ["password", "totp"]}"#).unwrap();
        assert!(stored.allows(FactorKind::Totp) && !stored.allows(FactorKind::Otp));
        assert_eq!(check_colour("#A1B2C3").unwrap(), "#a1b2c3");
        assert!(check_colour("red").is_err());
        assert!(check_tags(&BTreeMap::from([("Env".to_owned(), "x".to_owned())])).is_err());
        assert!(check_tags(&BTreeMap::from([("env".to_owned(), "prod".to_owned())])).is_ok());
    }
}
