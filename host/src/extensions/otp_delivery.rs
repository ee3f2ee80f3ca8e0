//! The OTP-delivery hook: the host hands the guest one code to deliver and takes its
//! answer as final. It is never retried: a failed delivery is reported to the person, who
//! may ask for a new code, so no one receives a second code they did not ask for.

use serde::{Deserialize, Serialize};
use wasmtime::Store;
use wasmtime::component::Instance;

use super::bindings::{otp_delivery as wit, types};
use super::invoke::{HookCall, Invocation, InvokeError, Outcome, Target};
use super::{Compiled, ExtensionRuntime, Hook, HostState, Limits};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Channel {
    Sms,
    Email,
    Voice,
}

/// One code to deliver (the tenant is the invocation's).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OtpMessage {
    pub delivery_id: String,
    pub account_id: String,
    pub channel: Channel,
    #[serde(default)]
    pub recipient: Option<String>,
    pub code: String,
    pub purpose: String,
    pub expires_at: u64,
    #[serde(default)]
    pub locale: Option<String>,
}

/// The guest's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Delivery {
    /// Delivered; the provider's message id, if it gave one.
    Delivered(Option<String>),
    /// This recipient cannot be reached on this channel.
    Rejected(String),
    /// The provider failed or could not be reached.
    Unavailable(String),
}

struct Call {
    input: wit::OtpMessage,
}

impl HookCall for Call {
    type Raw = Result<Option<String>, wit::DeliveryError>;
    type Output = Delivery;
    const HOOK: Hook = Hook::OtpDelivery;

    fn input_bytes(&self) -> usize {
        let m = &self.input;
        m.delivery_id.len()
            + m.account_id.len()
            + m.recipient.as_ref().map_or(0, String::len)
            + m.code.len()
            + m.purpose.len()
            + m.locale.as_ref().map_or(0, String::len)
    }

    async fn call(
        &self,
        store: &mut Store<HostState>,
        instance: &Instance,
        compiled: &Compiled,
    ) -> wasmtime::Result<Self::Raw> {
        let indices = compiled.otp_delivery.as_ref().ok_or_else(|| wasmtime::format_err!("not exported"))?;
        indices.load(&mut *store, instance)?.call_deliver(store, &self.input).await
    }

    fn check(&self, raw: Self::Raw, limits: &Limits) -> Result<Delivery, InvokeError> {
        let text = |s: String| -> Result<String, InvokeError> {
            if s.len() > limits.output_bytes {
                return Err(InvokeError::InvalidOutput(format!(
                    "{} bytes returned; at most {}",
                    s.len(),
                    limits.output_bytes
                )));
            }
            Ok(s)
        };
        Ok(match raw {
            Ok(id) => Delivery::Delivered(id.map(text).transpose()?),
            Err(wit::DeliveryError::Rejected(reason)) => Delivery::Rejected(text(reason)?),
            Err(wit::DeliveryError::Unavailable(reason)) => Delivery::Unavailable(text(reason)?),
        })
    }

    fn outcome(output: &Delivery) -> (Outcome, Option<String>) {
        match output {
            Delivery::Delivered(id) => (Outcome::Ok, id.as_ref().map(|id| format!("message id {id}"))),
            Delivery::Rejected(reason) => (Outcome::Failed, Some(format!("rejected: {reason}"))),
            Delivery::Unavailable(reason) => (Outcome::Failed, Some(format!("unavailable: {reason}"))),
        }
    }
}

impl ExtensionRuntime {
    /// Asks `target` to deliver one code, once.
    pub async fn deliver_otp(&self, target: &Target, message: &OtpMessage) -> Invocation<Delivery> {
        let context = &target.context;
        let input = wit::OtpMessage {
            tenant: types::Tenant { id: context.tenant_id.clone(), name: context.tenant_name.clone() },
            delivery_id: message.delivery_id.clone(),
            account_id: message.account_id.clone(),
            channel: match message.channel {
                Channel::Sms => wit::Channel::Sms,
                Channel::Email => wit::Channel::Email,
                Channel::Voice => wit::Channel::Voice,
            },
            recipient: message.recipient.clone(),
            code: message.code.clone(),
            purpose: message.purpose.clone(),
            expires_at: message.expires_at,
            locale: message.locale.clone(),
        };
        self.invoke(target, &Call { input }).await
    }
}
