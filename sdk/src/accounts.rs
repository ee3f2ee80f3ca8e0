//! The account-creation hooks: `before` allows, allows with changes, or denies an account
//! about to be created; `after` runs once it exists.
//!
//! ```no_run
//! use keyhaven_sdk::{AccountCreation, AccountData, Source, Tenant, Verdict};
//!
//! struct NoExample;
//!
//! impl AccountCreation for NoExample {
//!     fn before(_: &Tenant, _: Source, account: AccountData) -> Verdict {
//!         match account.email.as_deref() {
//!             Some(email) if email.ends_with("@example.com") => Verdict::Deny("use a real address".into()),
//!             _ => Verdict::Allow,
//!         }
//!     }
//! }
//!
//! keyhaven_sdk::export_account_creation!(NoExample);
//! ```

use serde_json::{Map, Value};

use crate::__private::accounts::exports::keyhaven::extension::account_creation as wit;
use crate::__private::accounts::keyhaven::extension::types as wit_types;
use crate::token::{Tenant, parse_object};

/// Screens and follows up account creation.
pub trait AccountCreation {
    /// Allows, changes or denies an account about to be created.
    fn before(tenant: &Tenant, source: Source, account: AccountData) -> Verdict;

    /// Runs once the account exists (side effects only). Does nothing unless implemented.
    fn after(tenant: &Tenant, source: Source, account_id: &str, account: &AccountData) {
        let _ = (tenant, source, account_id, account);
    }
}

/// How the account is being created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    SelfRegistration,
    Admin,
    BulkImport,
}

/// An account as submitted.
#[derive(Clone, Debug, PartialEq)]
pub struct AccountData {
    pub username: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub attributes: Map<String, Value>,
}

impl AccountData {
    pub fn new(username: &str) -> Self {
        AccountData { username: username.into(), email: None, phone: None, attributes: Map::new() }
    }

    pub fn email(mut self, email: &str) -> Self {
        self.email = Some(email.into());
        self
    }

    pub fn phone(mut self, phone: &str) -> Self {
        self.phone = Some(phone.into());
        self
    }

    pub fn attribute(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.attributes.insert(name.into(), value.into());
        self
    }
}

/// Replacement values; `None` keeps what was submitted.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AccountChanges {
    pub username: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub attributes: Option<Map<String, Value>>,
}

/// The `before` hook's answer.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    Allow,
    AllowWith(AccountChanges),
    /// Refuse; the reason is shown, sanitised.
    Deny(String),
}

fn tenant(tenant: wit_types::Tenant) -> Tenant {
    Tenant { id: tenant.id, name: tenant.name }
}

fn source(source: wit::Source) -> Source {
    match source {
        wit::Source::SelfRegistration => Source::SelfRegistration,
        wit::Source::Admin => Source::Admin,
        wit::Source::BulkImport => Source::BulkImport,
    }
}

fn account(account: wit::AccountData) -> AccountData {
    AccountData {
        username: account.username,
        email: account.email,
        phone: account.phone,
        attributes: parse_object(&account.attributes),
    }
}

/// Runs `H::before`; used by [`crate::export_account_creation!`].
pub fn before_with<H: AccountCreation>(t: wit_types::Tenant, s: wit::Source, a: wit::AccountData) -> wit::Verdict {
    match H::before(&tenant(t), source(s), account(a)) {
        Verdict::Allow => wit::Verdict::Allow,
        Verdict::Deny(reason) => wit::Verdict::Deny(reason),
        Verdict::AllowWith(changes) => wit::Verdict::AllowWith(wit::AccountChanges {
            username: changes.username,
            email: changes.email,
            phone: changes.phone,
            attributes: changes.attributes.map(|a| Value::Object(a).to_string()),
        }),
    }
}

/// Runs `H::after`; used by [`crate::export_account_creation!`].
pub fn after_with<H: AccountCreation>(t: wit_types::Tenant, s: wit::Source, id: String, a: wit::AccountData) {
    H::after(&tenant(t), source(s), &id, &account(a));
}
