//! Example Keyhaven extension: delivers one-time codes by SMS. It POSTs
//! `{"to", "message", "reference"}` to the provider URL in config `provider_url`, with the
//! secret `api_key` as a Bearer token, and returns the provider's message `id`. A provider
//! that refuses the number (4xx) is `Rejected`; one that fails (5xx, unreachable) is
//! `Unavailable`. Keyhaven never retries, so no one gets a second code unasked.

use keyhaven_sdk::{Channel, DeliveryError, OtpDelivery, OtpMessage, config, http, json, log, secrets};

struct Sms;

impl OtpDelivery for Sms {
    fn deliver(message: OtpMessage) -> Result<Option<String>, DeliveryError> {
        if message.channel != Channel::Sms {
            return Err(DeliveryError::Rejected("this extension delivers SMS only".into()));
        }
        let to = message.recipient.as_deref().ok_or_else(|| DeliveryError::Rejected("no phone number".into()))?;
        let url = config::get("provider_url")
            .ok_or_else(|| DeliveryError::Unavailable("config provider_url is not set".into()))?;
        let key =
            secrets::get("api_key").ok_or_else(|| DeliveryError::Unavailable("secret api_key is not set".into()))?;
        let body = json!({
            "to": to,
            "message": format!("Your {} code is {}", message.tenant.name, message.code),
            "reference": message.delivery_id,
        });
        let response = http::Request::post(url)
            .header("authorization", format!("Bearer {key}"))
            .json(&body)
            .send()
            .map_err(|e| DeliveryError::Unavailable(format!("provider unreachable: {e}")))?;
        match response.status {
            200..=299 => {
                let id = response.json().ok().and_then(|answer| answer["id"].as_str().map(str::to_owned));
                log::info(&format!("code {} sent as {id:?}", message.delivery_id));
                Ok(id)
            }
            400..=499 => Err(DeliveryError::Rejected(format!("the provider refused the number ({})", response.status))),
            status => Err(DeliveryError::Unavailable(format!("the provider failed ({status})"))),
        }
    }
}

keyhaven_sdk::export_otp_delivery!(Sms);

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use keyhaven_sdk::testing;

    fn provider(status: u16) {
        testing::reset();
        testing::set_config("provider_url", "https://sms.example.com/v1/messages");
        testing::set_secret("api_key", "key-1");
        testing::on_http(move |_| Ok(http::Response { status, headers: vec![], body: br#"{"id": "m-1"}"#.to_vec() }));
    }

    #[test]
    fn posts_the_code_with_the_key_and_returns_the_message_id() {
        provider(200);
        let message = OtpMessage::new("acc-1", Channel::Sms, "AB12CD").recipient("+15550100");
        assert_eq!(Sms::deliver(message), Ok(Some("m-1".into())));
        let sent = testing::http_requests();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].url, "https://sms.example.com/v1/messages");
        assert!(sent[0].headers.contains(&("authorization".into(), "Bearer key-1".into())));
        let body: serde_json::Value = serde_json::from_slice(&sent[0].body).unwrap();
        assert_eq!(body["to"], "+15550100");
        assert_eq!(body["reference"], "dl-AB12CD");
        assert!(body["message"].as_str().unwrap().contains("AB12CD"));
    }

    #[test]
    fn provider_errors_are_rejected_or_unavailable() {
        provider(422);
        let message = OtpMessage::new("acc-1", Channel::Sms, "AB12CD").recipient("+1");
        assert!(matches!(Sms::deliver(message.clone()), Err(DeliveryError::Rejected(_))));
        provider(503);
        assert!(matches!(Sms::deliver(message), Err(DeliveryError::Unavailable(_))));
    }

    #[test]
    fn no_number_another_channel_or_no_configuration_sends_nothing() {
        provider(200);
        assert!(matches!(Sms::deliver(OtpMessage::new("a", Channel::Sms, "1")), Err(DeliveryError::Rejected(_))));
        let email = OtpMessage::new("a", Channel::Email, "1").recipient("a@example.com");
        assert!(matches!(Sms::deliver(email), Err(DeliveryError::Rejected(_))));
        testing::reset();
        let message = OtpMessage::new("a", Channel::Sms, "1").recipient("+1");
        assert!(matches!(Sms::deliver(message), Err(DeliveryError::Unavailable(_))));
        assert!(testing::http_requests().is_empty());
    }
}
