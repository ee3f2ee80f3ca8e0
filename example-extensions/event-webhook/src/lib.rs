//! Example Keyhaven extension: forwards each platform event it receives to the webhook URL
//! in config `webhook_url` (POST, JSON; the secret `webhook_token`, if set, as a Bearer
//! token). A non-2xx answer or an unreachable receiver is an error, so Keyhaven retries the
//! delivery with backoff; receivers deduplicate on the event `id`.

use keyhaven_sdk::{EventDelivery, EventHandler, config, http, json, secrets};

struct Webhook;

impl EventHandler for Webhook {
    fn handle(delivery: EventDelivery) -> Result<(), String> {
        let url = config::get("webhook_url").ok_or("config webhook_url is not set")?;
        let event = &delivery.event;
        let body = json!({
            "id": event.id,
            "time": event.time,
            "category": event.category,
            "action": event.action,
            "origin": event.origin,
            "result": event.result.as_str(),
            "reason": event.reason,
            "account_id": event.account_id,
            "detail": event.detail,
            "tenant": delivery.tenant.name,
        });
        let mut request = http::Request::post(url).json(&body);
        if let Some(token) = secrets::get("webhook_token") {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let response = request.send().map_err(|e| format!("webhook unreachable: {e}"))?;
        if !response.is_success() {
            return Err(format!("webhook answered {}", response.status));
        }
        Ok(())
    }
}

keyhaven_sdk::export_events!(Webhook);

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use keyhaven_sdk::{Event, testing};

    fn receiver(status: u16) {
        testing::reset();
        testing::set_config("webhook_url", "https://hooks.example.com/keyhaven");
        testing::on_http(move |_| Ok(http::Response { status, headers: vec![], body: Vec::new() }));
    }

    #[test]
    fn forwards_the_event_as_json() {
        receiver(204);
        testing::set_secret("webhook_token", "t-1");
        Webhook::handle(EventDelivery::new(Event::new("token.issued"))).unwrap();
        let sent = testing::http_requests();
        assert_eq!(sent.len(), 1);
        assert!(sent[0].headers.contains(&("authorization".into(), "Bearer t-1".into())));
        let body: serde_json::Value = serde_json::from_slice(&sent[0].body).unwrap();
        assert_eq!(body["action"], "token.issued");
        assert_eq!(body["id"], "ev-token.issued");
        assert_eq!(body["tenant"], "test");
    }

    #[test]
    fn a_failing_receiver_asks_for_a_retry() {
        receiver(500);
        assert!(Webhook::handle(EventDelivery::new(Event::new("x"))).is_err());
        testing::reset();
        assert!(Webhook::handle(EventDelivery::new(Event::new("x"))).is_err(), "no webhook_url");
    }
}
