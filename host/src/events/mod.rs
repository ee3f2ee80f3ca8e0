//! Platform events and schedules as extensions see them: [`EventFilter`], the rule that
//! decides which events a deployment's `events` binding receives; the [`outbox`] that
//! stores events and delivers them, at least once, to matching bindings; and the
//! [`scheduler`] that runs `scheduled` bindings on their cron schedules; and
//! [`maintenance`], the periodic clean-up that one node at a time performs; [`changes`],
//! which keeps several nodes' caches true to each other's changes.

pub mod changes;
pub mod maintenance;
pub mod outbox;
pub mod scheduler;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::extensions::events::Event;

/// Field names whose values never appear in an event.
const SECRET_FIELDS: &[&str] = &["secret", "password", "token", "code", "private_key", "client_secret"];

fn redact(name: &str, value: &Value) -> Value {
    let lower = name.to_ascii_lowercase();
    match SECRET_FIELDS.iter().any(|secret| lower == *secret || lower.ends_with(&format!("_{secret}"))) {
        true => Value::String("[redacted]".into()),
        false => value.clone(),
    }
}

/// What an update changed, as resource-change events carry it: for each top-level field
/// whose value differs, the new value under `added` and the old one under `removed` (a
/// field only in `after` is only added, one only in `before` only removed). Secret fields
/// are redacted on both sides.
pub fn changes(before: &Map<String, Value>, after: &Map<String, Value>) -> Value {
    let (mut added, mut removed) = (Map::new(), Map::new());
    for (name, old) in before {
        if after.get(name) != Some(old) {
            removed.insert(name.clone(), redact(name, old));
        }
    }
    for (name, new) in after {
        if before.get(name) != Some(new) {
            added.insert(name.clone(), redact(name, new));
        }
    }
    serde_json::json!({"added": added, "removed": removed})
}

/// Which events an `events` binding receives: AND across fields, OR within one field; an
/// absent or empty field matches every event.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventFilter {
    /// Event categories (`api-call`, `data-capture`, `resource-change`, `authentication`,
    /// `authorization`, `communication`).
    #[serde(default, rename = "type", skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<String>,
    /// `success`, `failed`, `pending`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub result: Vec<String>,
    /// Actions, e.g. `token.issued`; a trailing `*` matches a prefix (`account.*`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub action: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reason: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub account: Vec<String>,
}

impl EventFilter {
    pub fn matches(&self, event: &Event) -> bool {
        fn any(values: &[String], actual: Option<&str>, pattern: fn(&str, &str) -> bool) -> bool {
            values.is_empty() || actual.is_some_and(|actual| values.iter().any(|v| pattern(v, actual)))
        }
        let exact = |wanted: &str, actual: &str| wanted == actual;
        let glob = |wanted: &str, actual: &str| match wanted.strip_suffix('*') {
            Some(prefix) => actual.starts_with(prefix),
            None => wanted == actual,
        };
        any(&self.categories, Some(&event.category), exact)
            && any(&self.result, Some(event.result.as_str()), exact)
            && any(&self.action, Some(&event.action), glob)
            && any(&self.reason, event.reason.as_deref(), exact)
            && any(&self.account, event.account_id.as_deref(), exact)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::extensions::events::EventResult;

    fn event(action: &str, result: EventResult, account: Option<&str>) -> Event {
        Event {
            id: "ev_1".into(),
            time: 0,
            category: "authentication".into(),
            action: action.into(),
            origin: "token-endpoint".into(),
            result,
            reason: None,
            account_id: account.map(str::to_owned),
            detail: serde_json::Value::Null,
        }
    }

    #[test]
    fn and_across_fields_or_within_a_field_and_empty_matches_all() {
        let all = EventFilter::default();
        assert!(all.matches(&event("login", EventResult::Failed, None)));
        let filter: EventFilter = serde_json::from_str(
            r#"{"type": ["authentication"], "result": ["failed", "pending"], "action": ["log*"]}"#,
        )
        .unwrap();
        assert!(filter.matches(&event("login", EventResult::Failed, None)));
        assert!(filter.matches(&event("logout", EventResult::Pending, None)));
        assert!(!filter.matches(&event("login", EventResult::Success, None)));
        assert!(!filter.matches(&event("token.issued", EventResult::Failed, None)));
        let by_account: EventFilter = serde_json::from_str(r#"{"account": ["acc_1"]}"#).unwrap();
        assert!(by_account.matches(&event("x", EventResult::Success, Some("acc_1"))));
        assert!(!by_account.matches(&event("x", EventResult::Success, None)));
        assert!(serde_json::from_str::<EventFilter>(r#"{"colour": ["red"]}"#).is_err());
    }
}

#[cfg(test)]
mod change_tests {
    #![allow(clippy::unwrap_used)]
    use serde_json::json;

    use super::changes;

    #[test]
    fn updates_show_what_was_added_and_removed_and_secrets_are_redacted() {
        let before = json!({"label": "Old", "colour": "", "client_secret": "s1", "same": 1});
        let after = json!({"label": "New", "client_secret": "s2", "same": 1, "tags": {"env": "prod"}});
        let diff = changes(before.as_object().unwrap(), after.as_object().unwrap());
        assert_eq!(
            diff,
            json!({
                "added": {"label": "New", "client_secret": "[redacted]", "tags": {"env": "prod"}},
                "removed": {"label": "Old", "colour": "", "client_secret": "[redacted]"},
            })
        );
    }
}
