//! The account-creation hooks: `before` may allow, allow with changed data (checked
//! against the output limits, attributes a JSON object), or deny with a reason; `after`
//! runs once the account exists, for side effects.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use wasmtime::Store;
use wasmtime::component::Instance;

use super::bindings::{account_creation as wit, types};
use super::invoke::{HookCall, Invocation, InvokeError, Outcome, Target};
use super::{Compiled, ExtensionRuntime, Hook, HostState, Limits};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    SelfRegistration,
    Admin,
    Import,
}

/// An account as submitted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountData {
    pub username: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub attributes: Map<String, Value>,
}

/// The `before` hook's verdict.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Allow,
    /// Allow, with the account as the extension changed it.
    AllowWith(AccountData),
    Deny(String),
}

fn to_wit(account: &AccountData) -> wit::AccountData {
    wit::AccountData {
        username: account.username.clone(),
        email: account.email.clone(),
        phone: account.phone.clone(),
        attributes: Value::Object(account.attributes.clone()).to_string(),
    }
}

fn source(source: Source) -> wit::Source {
    match source {
        Source::SelfRegistration => wit::Source::SelfRegistration,
        Source::Admin => wit::Source::Admin,
        Source::Import => wit::Source::BulkImport,
    }
}

fn data_bytes(a: &wit::AccountData) -> usize {
    a.username.len()
        + a.email.as_ref().map_or(0, String::len)
        + a.phone.as_ref().map_or(0, String::len)
        + a.attributes.len()
}

struct Before {
    tenant: types::Tenant,
    source: wit::Source,
    account: wit::AccountData,
    submitted: AccountData,
}

impl HookCall for Before {
    type Raw = wit::Verdict;
    type Output = Verdict;
    const HOOK: Hook = Hook::AccountCreation;

    fn input_bytes(&self) -> usize {
        data_bytes(&self.account)
    }

    async fn call(
        &self,
        store: &mut Store<HostState>,
        instance: &Instance,
        compiled: &Compiled,
    ) -> wasmtime::Result<wit::Verdict> {
        let indices = compiled.account_creation.as_ref().ok_or_else(|| wasmtime::format_err!("not exported"))?;
        indices.load(&mut *store, instance)?.call_before(store, &self.tenant, self.source, &self.account).await
    }

    fn check(&self, raw: wit::Verdict, limits: &Limits) -> Result<Verdict, InvokeError> {
        let changes = match raw {
            wit::Verdict::Allow => return Ok(Verdict::Allow),
            wit::Verdict::Deny(reason) => return Ok(Verdict::Deny(reason)),
            wit::Verdict::AllowWith(changes) => changes,
        };
        let size = changes.username.as_ref().map_or(0, String::len)
            + changes.email.as_ref().map_or(0, String::len)
            + changes.phone.as_ref().map_or(0, String::len)
            + changes.attributes.as_ref().map_or(0, String::len);
        if size > limits.output_bytes {
            return Err(InvokeError::InvalidOutput(format!(
                "{size} bytes of changes; at most {}",
                limits.output_bytes
            )));
        }
        let mut account = self.submitted.clone();
        if let Some(username) = changes.username {
            account.username = username;
        }
        if changes.email.is_some() {
            account.email = changes.email;
        }
        if changes.phone.is_some() {
            account.phone = changes.phone;
        }
        if let Some(attributes) = changes.attributes {
            match serde_json::from_str(&attributes) {
                Ok(Value::Object(map)) => account.attributes = map,
                _ => return Err(InvokeError::InvalidOutput("changed attributes must be a JSON object".into())),
            }
        }
        Ok(Verdict::AllowWith(account))
    }

    fn outcome(output: &Verdict) -> (Outcome, Option<String>) {
        match output {
            Verdict::Allow => (Outcome::Ok, Some("allow".into())),
            Verdict::AllowWith(_) => (Outcome::Ok, Some("allow with changes".into())),
            Verdict::Deny(reason) => (Outcome::Denied, Some(reason.chars().take(200).collect())),
        }
    }
}

struct After {
    tenant: types::Tenant,
    source: wit::Source,
    account_id: String,
    account: wit::AccountData,
}

impl HookCall for After {
    type Raw = ();
    type Output = ();
    const HOOK: Hook = Hook::AccountCreation;

    fn input_bytes(&self) -> usize {
        self.account_id.len() + data_bytes(&self.account)
    }

    async fn call(
        &self,
        store: &mut Store<HostState>,
        instance: &Instance,
        compiled: &Compiled,
    ) -> wasmtime::Result<()> {
        let indices = compiled.account_creation.as_ref().ok_or_else(|| wasmtime::format_err!("not exported"))?;
        indices
            .load(&mut *store, instance)?
            .call_after(store, &self.tenant, self.source, &self.account_id, &self.account)
            .await
    }

    fn check(&self, _: (), _: &Limits) -> Result<(), InvokeError> {
        Ok(())
    }

    fn outcome(_: &()) -> (Outcome, Option<String>) {
        (Outcome::Ok, Some("after".into()))
    }
}

impl ExtensionRuntime {
    /// Asks `target` whether (and how) an account may be created.
    pub async fn before_account_creation(
        &self,
        target: &Target,
        from: Source,
        account: &AccountData,
    ) -> Invocation<Verdict> {
        let call = Before {
            tenant: tenant(target),
            source: source(from),
            account: to_wit(account),
            submitted: account.clone(),
        };
        self.invoke(target, &call).await
    }

    /// Tells `target` an account was created.
    pub async fn after_account_creation(
        &self,
        target: &Target,
        from: Source,
        account_id: &str,
        account: &AccountData,
    ) -> Invocation<()> {
        let call = After {
            tenant: tenant(target),
            source: source(from),
            account_id: account_id.to_owned(),
            account: to_wit(account),
        };
        self.invoke(target, &call).await
    }
}

fn tenant(target: &Target) -> types::Tenant {
    types::Tenant { id: target.context.tenant_id.clone(), name: target.context.tenant_name.clone() }
}
