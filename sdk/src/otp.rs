//! The OTP-delivery hook: deliver one code the host generated. Keyhaven never retries a
//! delivery (no one receives a second code unasked): report [`DeliveryError::Unavailable`]
//! and the person can ask for a new code.
//!
//! ```no_run
//! use keyhaven_sdk::{Channel, DeliveryError, OtpDelivery, OtpMessage, config, http, json};
//!
//! struct Sms;
//!
//! impl OtpDelivery for Sms {
//!     fn deliver(message: OtpMessage) -> Result<Option<String>, DeliveryError> {
//!         let to = message.recipient.ok_or(DeliveryError::Rejected("no phone number".into()))?;
//!         let url = config::get("provider_url").ok_or(DeliveryError::Unavailable("no provider_url".into()))?;
//!         let body = json!({"to": to, "text": format!("Your code is {}", message.code)});
//!         let sent = http::Request::post(url).json(&body).send().map_err(|e| DeliveryError::Unavailable(e.0))?;
//!         Ok(sent.json().ok().and_then(|v| v["id"].as_str().map(String::from)))
//!     }
//! }
//!
//! keyhaven_sdk::export_otp_delivery!(Sms);
//! ```

use crate::__private::otp::exports::keyhaven::extension::otp_delivery as wit;
use crate::token::Tenant;

/// Delivers one-time codes.
pub trait OtpDelivery {
    /// Delivers the code; on success, optionally the provider's message id.
    fn deliver(message: OtpMessage) -> Result<Option<String>, DeliveryError>;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Channel {
    Sms,
    Email,
    Voice,
}

/// One code to deliver.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OtpMessage {
    pub tenant: Tenant,
    /// Unique per code: an idempotency key for providers that deduplicate.
    pub delivery_id: String,
    pub account_id: String,
    pub channel: Channel,
    /// The phone number or e-mail address, if the tenant stores one.
    pub recipient: Option<String>,
    pub code: String,
    /// Why the code was issued, e.g. `login`.
    pub purpose: String,
    /// Seconds since the Unix epoch.
    pub expires_at: u64,
    /// BCP 47 language tag, if known.
    pub locale: Option<String>,
}

impl OtpMessage {
    /// A login code for `account_id` on `channel`, for tests.
    pub fn new(account_id: &str, channel: Channel, code: &str) -> Self {
        OtpMessage {
            tenant: Tenant::test(),
            delivery_id: format!("dl-{code}"),
            account_id: account_id.into(),
            channel,
            recipient: None,
            code: code.into(),
            purpose: "login".into(),
            expires_at: 0,
            locale: None,
        }
    }

    pub fn recipient(mut self, recipient: &str) -> Self {
        self.recipient = Some(recipient.into());
        self
    }
}

/// Why a code was not delivered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeliveryError {
    /// This recipient cannot be reached on this channel; asking again will not help.
    Rejected(String),
    /// The provider failed or could not be reached; the person may ask for a new code.
    Unavailable(String),
}

/// Runs hook `H` on a message in WIT form; used by [`crate::export_otp_delivery!`].
pub fn deliver_with<H: OtpDelivery>(message: wit::OtpMessage) -> Result<Option<String>, wit::DeliveryError> {
    let message = OtpMessage {
        tenant: Tenant { id: message.tenant.id, name: message.tenant.name },
        delivery_id: message.delivery_id,
        account_id: message.account_id,
        channel: match message.channel {
            wit::Channel::Sms => Channel::Sms,
            wit::Channel::Email => Channel::Email,
            wit::Channel::Voice => Channel::Voice,
        },
        recipient: message.recipient,
        code: message.code,
        purpose: message.purpose,
        expires_at: message.expires_at,
        locale: message.locale,
    };
    H::deliver(message).map_err(|e| match e {
        DeliveryError::Rejected(reason) => wit::DeliveryError::Rejected(reason),
        DeliveryError::Unavailable(reason) => wit::DeliveryError::Unavailable(reason),
    })
}
