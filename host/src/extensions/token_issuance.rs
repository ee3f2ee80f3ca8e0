//! The token-issuance hook: its input, its decision (with the scope changes of the optional
//! `token-scopes` companion, asked of the same instance), and the host's checks of the
//! answer — claim count, claim-name length and total size within the tenant's limits, every
//! value valid JSON, scopes valid scope tokens, and no protected claim (a policy error,
//! recorded, never dropped silently).

use serde::Deserialize;
use serde_json::Value;
use wasmtime::Store;
use wasmtime::component::Instance;

use super::bindings::{token_issuance as wit, token_scopes, types};
use super::invoke::{HookCall, Invocation, InvokeError, Outcome, Target};
use super::{Compiled, ExtensionRuntime, Hook, HostState, Limits};
use crate::jwt::is_protected;

/// Who a token is about to be issued to.
#[derive(Clone, Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Subject {
    Client {
        client_id: String,
        name: String,
        #[serde(default = "empty_object")]
        attributes: Value,
    },
    Account {
        account_id: String,
        username: String,
        #[serde(default = "empty_object")]
        attributes: Value,
    },
}

fn empty_object() -> Value {
    Value::Object(Default::default())
}

/// The hook's input (the tenant is the invocation's).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    pub subject: Subject,
    pub grant_type: String,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub audience: Vec<String>,
}

/// What the guest decided.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Decision {
    Issue {
        access_token: Vec<(String, Value)>,
        id_token: Vec<(String, Value)>,
        /// Scopes to add (only ones the client may obtain) and to suppress.
        add_scopes: Vec<String>,
        suppress_scopes: Vec<String>,
    },
    Deny(String),
}

struct Call {
    input: wit::TokenRequest,
}

impl HookCall for Call {
    type Raw = (wit::Decision, Option<token_scopes::ScopeChanges>);
    type Output = Decision;
    const HOOK: Hook = Hook::TokenIssuance;

    fn input_bytes(&self) -> usize {
        let r = &self.input;
        let subject = match &r.subject {
            wit::Subject::Client(c) => c.client_id.len() + c.name.len() + c.attributes.len(),
            wit::Subject::Account(a) => a.account_id.len() + a.username.len() + a.attributes.len(),
        };
        subject + r.grant_type.len() + r.scopes.iter().chain(&r.audience).map(String::len).sum::<usize>()
    }

    async fn call(
        &self,
        store: &mut Store<HostState>,
        instance: &Instance,
        compiled: &Compiled,
    ) -> wasmtime::Result<Self::Raw> {
        let indices = compiled.token_issuance.as_ref().ok_or_else(|| wasmtime::format_err!("not exported"))?;
        let decision = indices.load(&mut *store, instance)?.call_issue(&mut *store, &self.input).await?;
        let scopes = match (&decision, &compiled.token_scopes) {
            (wit::Decision::Issue(_), Some(scopes)) => {
                Some(scopes.load(&mut *store, instance)?.call_scopes(store, &self.input).await?)
            }
            _ => None,
        };
        Ok((decision, scopes))
    }

    fn check(&self, (decision, scopes): Self::Raw, limits: &Limits) -> Result<Decision, InvokeError> {
        match check_output(decision, limits)? {
            Decision::Issue { access_token, id_token, .. } => {
                let (add_scopes, suppress_scopes) = check_scopes(scopes, limits)?;
                Ok(Decision::Issue { access_token, id_token, add_scopes, suppress_scopes })
            }
            deny => Ok(deny),
        }
    }

    fn outcome(output: &Decision) -> (Outcome, Option<String>) {
        match output {
            Decision::Issue { access_token, id_token, add_scopes, suppress_scopes } => (
                Outcome::Ok,
                Some(format!(
                    "{} access-token and {} ID-token claims, {} scopes added, {} suppressed",
                    access_token.len(),
                    id_token.len(),
                    add_scopes.len(),
                    suppress_scopes.len()
                )),
            ),
            Decision::Deny(reason) => (Outcome::Denied, Some(reason.chars().take(200).collect())),
        }
    }
}

impl ExtensionRuntime {
    /// Runs the token-issuance hook of `target` once, in a fresh instance.
    pub async fn issue_token(&self, target: &Target, request: &TokenRequest) -> Invocation<Decision> {
        let call = Call { input: to_wit(&target.context.tenant_id, &target.context.tenant_name, request) };
        self.invoke(target, &call).await
    }
}

fn to_wit(tenant_id: &str, tenant_name: &str, request: &TokenRequest) -> wit::TokenRequest {
    let subject = match &request.subject {
        Subject::Client { client_id, name, attributes } => wit::Subject::Client(wit::Client {
            client_id: client_id.clone(),
            name: name.clone(),
            attributes: attributes.to_string(),
        }),
        Subject::Account { account_id, username, attributes } => wit::Subject::Account(wit::Account {
            account_id: account_id.clone(),
            username: username.clone(),
            attributes: attributes.to_string(),
        }),
    };
    wit::TokenRequest {
        tenant: types::Tenant { id: tenant_id.to_owned(), name: tenant_name.to_owned() },
        subject,
        grant_type: request.grant_type.clone(),
        scopes: request.scopes.clone(),
        audience: request.audience.clone(),
    }
}

/// Parses claim values and enforces the output limits and the protected claims.
fn check_output(decision: wit::Decision, limits: &Limits) -> Result<Decision, InvokeError> {
    let claims = match decision {
        wit::Decision::Deny(reason) => return Ok(Decision::Deny(reason)),
        wit::Decision::Issue(claims) => claims,
    };
    let count = claims.access_token.len() + claims.id_token.len();
    if count > limits.output_claims {
        return Err(InvokeError::InvalidOutput(format!(
            "{count} claims returned; at most {} are allowed",
            limits.output_claims
        )));
    }
    let all = || claims.access_token.iter().chain(&claims.id_token);
    if let Some(claim) = all().find(|c| c.name.is_empty() || c.name.len() > limits.claim_name_bytes) {
        return Err(InvokeError::InvalidOutput(format!(
            "a claim name must be 1 to {} bytes; {:?} is not",
            limits.claim_name_bytes,
            claim.name.chars().take(40).collect::<String>()
        )));
    }
    // A name another reader might trim or split differently (" sub", "sub\u{0}") could pass
    // for a protected claim there: such names are refused, not cleaned.
    let blurred = |name: &str| {
        name.chars().any(char::is_control)
            || name.starts_with(char::is_whitespace)
            || name.ends_with(char::is_whitespace)
    };
    if let Some(claim) = all().find(|c| blurred(&c.name)) {
        return Err(InvokeError::InvalidOutput(format!(
            "claim name {:?} has a control character or leading or trailing whitespace",
            claim.name.chars().take(40).collect::<String>()
        )));
    }
    let bytes: usize = all().map(|c| c.name.len() + c.value.len()).sum();
    if bytes > limits.output_bytes {
        return Err(InvokeError::InvalidOutput(format!(
            "{bytes} bytes of claims returned; at most {} are allowed",
            limits.output_bytes
        )));
    }
    if let Some(claim) = all().find(|c| is_protected(&c.name)) {
        return Err(InvokeError::Policy(format!(
            "the token-issuance extension tried to set the protected claim {:?}",
            claim.name
        )));
    }
    let parse = |claims: Vec<wit::Claim>| -> Result<Vec<(String, Value)>, InvokeError> {
        claims
            .into_iter()
            .map(|claim| match serde_json::from_str(&claim.value) {
                Ok(value) => Ok((claim.name, value)),
                Err(e) => Err(InvokeError::InvalidOutput(format!("claim {:?} is not valid JSON: {e}", claim.name))),
            })
            .collect()
    };
    Ok(Decision::Issue {
        access_token: parse(claims.access_token)?,
        id_token: parse(claims.id_token)?,
        add_scopes: Vec::new(),
        suppress_scopes: Vec::new(),
    })
}

/// RFC 6749 §3.3 scope-token: printable ASCII except space, `"` and `\`.
pub fn is_scope_token(scope: &str) -> bool {
    !scope.is_empty() && scope.bytes().all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
}

/// Checks the companion's scope changes: valid scope tokens, within the output limits.
fn check_scopes(
    changes: Option<token_scopes::ScopeChanges>,
    limits: &Limits,
) -> Result<(Vec<String>, Vec<String>), InvokeError> {
    let Some(changes) = changes else { return Ok((Vec::new(), Vec::new())) };
    let all = || changes.add.iter().chain(&changes.suppress);
    if all().count() > limits.output_claims {
        return Err(InvokeError::InvalidOutput(format!("at most {} scope changes", limits.output_claims)));
    }
    if let Some(bad) = all().find(|scope| !is_scope_token(scope) || scope.len() > limits.claim_name_bytes) {
        return Err(InvokeError::InvalidOutput(format!(
            "{:?} is not a scope (RFC 6749 scope-token)",
            bad.chars().take(40).collect::<String>()
        )));
    }
    Ok((changes.add, changes.suppress))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(names: &[&str]) -> wit::Decision {
        let claims = names.iter().map(|name| wit::Claim { name: (*name).to_owned(), value: "1".into() }).collect();
        wit::Decision::Issue(wit::Claims { access_token: claims, id_token: Vec::new() })
    }

    #[test]
    fn claim_names_protected_claims_and_json_are_checked() {
        let limits = Limits::default();
        assert!(check_output(claims(&["org", "plan"]), &limits).is_ok());
        let long = "n".repeat(limits.claim_name_bytes + 1);
        assert!(matches!(check_output(claims(&[&long]), &limits), Err(InvokeError::InvalidOutput(_))));
        assert!(matches!(check_output(claims(&[""]), &limits), Err(InvokeError::InvalidOutput(_))));
        for blurred in [" sub", "sub ", "sub\u{0}", "org\nplan", "\u{a0}sub", "sub\t", "x\u{7f}"] {
            let refused = check_output(claims(&["org", blurred]), &limits);
            assert!(
                matches!(&refused, Err(InvokeError::InvalidOutput(m)) if m.contains("control character or leading or trailing whitespace")),
                "{blurred:?}: {refused:?}"
            );
        }
        assert!(check_output(claims(&["given name", "ünïcode"]), &limits).is_ok(), "inner spaces and letters pass");
        assert!(
            matches!(check_output(claims(&["org", "sub"]), &limits), Err(InvokeError::Policy(m)) if m.contains("\"sub\""))
        );
        let not_json = wit::Decision::Issue(wit::Claims {
            access_token: vec![wit::Claim { name: "x".into(), value: "{".into() }],
            id_token: Vec::new(),
        });
        assert!(matches!(check_output(not_json, &limits), Err(InvokeError::InvalidOutput(_))));
    }
}

#[cfg(test)]
mod properties {
    //! Any claims a guest may return: checked without a panic, and what passes keeps the
    //! limits and the protected claims.
    use proptest::prelude::*;

    use super::*;

    fn name() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-z_]{1,12}",
            ".{0,70}",
            Just("sub".to_owned()),
            Just("iss".to_owned()),
            Just(" sub".to_owned()),
            Just("sub\u{0}".to_owned()),
            "\\PC{0,5}",
        ]
    }

    fn value() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("1".to_owned()),
            Just("{\"a\":[1,2,{\"b\":null}]}".to_owned()),
            ".{0,40}",
            "[\\[\\]{}\",:0-9a-z ]{0,60}",
            (1usize..200).prop_map(|depth| format!("{}{}", "[".repeat(depth), "]".repeat(depth))),
        ]
    }

    fn claims() -> impl Strategy<Value = Vec<wit::Claim>> {
        proptest::collection::vec((name(), value()).prop_map(|(name, value)| wit::Claim { name, value }), 0..12)
    }

    proptest! {
        #[test]
        fn any_guest_claims_are_checked_and_what_passes_is_within_the_limits(
            access_token in claims(), id_token in claims(), output_claims in 0usize..16, output_bytes in 0usize..400,
        ) {
            let limits = Limits { output_claims, output_bytes, ..Limits::default() };
            let decision = wit::Decision::Issue(wit::Claims { access_token, id_token });
            if let Ok(Decision::Issue { access_token, id_token, .. }) = check_output(decision, &limits) {
                let all: Vec<_> = access_token.iter().chain(&id_token).collect();
                prop_assert!(all.len() <= output_claims);
                for (name, _) in all {
                    prop_assert!(!name.is_empty() && name.len() <= limits.claim_name_bytes);
                    prop_assert!(!is_protected(name), "{name:?}");
                    prop_assert!(!name.chars().any(char::is_control) && name.trim() == name, "{name:?}");
                }
            }
        }
    }
}
