//! Example Keyhaven extension: screens accounts before they are created. It denies e-mail
//! addresses at disposable-mail domains (a built-in list plus config `blocked_domains`,
//! comma-separated) and normalises what it lets through: the username trimmed and
//! lower-cased, the e-mail address lower-cased, the `name` attribute trimmed with inner
//! whitespace collapsed.

use keyhaven_sdk::{AccountChanges, AccountCreation, AccountData, Source, Tenant, Value, Verdict, config};

const DISPOSABLE: &[&str] =
    &["mailinator.com", "guerrillamail.com", "10minutemail.com", "tempmail.com", "yopmail.com", "trashmail.com"];

struct Guard;

fn blocked(domain: &str) -> bool {
    let configured = config::get("blocked_domains").unwrap_or_default();
    DISPOSABLE.contains(&domain)
        || configured.split(',').map(str::trim).any(|d| !d.is_empty() && d.eq_ignore_ascii_case(domain))
}

fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl AccountCreation for Guard {
    fn before(_: &Tenant, _: Source, account: AccountData) -> Verdict {
        if let Some(email) = &account.email {
            let domain = email.rsplit_once('@').map(|(_, d)| d.trim().to_ascii_lowercase()).unwrap_or_default();
            if domain.is_empty() {
                return Verdict::Deny("the e-mail address has no domain".into());
            }
            if blocked(&domain) {
                return Verdict::Deny(format!("e-mail addresses at {domain} are not accepted"));
            }
        }
        let mut changes = AccountChanges::default();
        let username = account.username.trim().to_lowercase();
        if username != account.username {
            changes.username = Some(username);
        }
        if let Some(email) = &account.email {
            let lower = email.trim().to_lowercase();
            if &lower != email {
                changes.email = Some(lower);
            }
        }
        if let Some(Value::String(name)) = account.attributes.get("name") {
            let tidy = collapse(name);
            if &tidy != name {
                let mut attributes = account.attributes.clone();
                attributes.insert("name".into(), Value::String(tidy));
                changes.attributes = Some(attributes);
            }
        }
        if changes == AccountChanges::default() { Verdict::Allow } else { Verdict::AllowWith(changes) }
    }
}

keyhaven_sdk::export_account_creation!(Guard);

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    use super::*;
    use keyhaven_sdk::testing;

    fn before(account: AccountData) -> Verdict {
        Guard::before(&Tenant::test(), Source::SelfRegistration, account)
    }

    #[test]
    fn disposable_and_configured_domains_are_denied() {
        testing::reset();
        assert!(matches!(before(AccountData::new("bob").email("bob@mailinator.com")), Verdict::Deny(_)));
        assert_eq!(before(AccountData::new("bob").email("bob@corp.example")), Verdict::Allow);
        testing::set_config("blocked_domains", "corp.example, other.test");
        assert!(matches!(before(AccountData::new("bob").email("bob@Corp.Example")), Verdict::Deny(_)));
    }

    #[test]
    fn names_are_normalised_and_clean_accounts_pass_unchanged() {
        testing::reset();
        let messy = AccountData::new("  Alice ").email("ALICE@Example.com").attribute("name", " Alice   Smith ");
        let Verdict::AllowWith(changes) = before(messy) else { panic!("expected changes") };
        assert_eq!(changes.username.as_deref(), Some("alice"));
        assert_eq!(changes.email.as_deref(), Some("alice@example.com"));
        assert_eq!(changes.attributes.unwrap()["name"], "Alice Smith");
        let clean = AccountData::new("carol").email("carol@example.com").attribute("name", "Carol");
        assert_eq!(before(clean), Verdict::Allow);
    }
}
