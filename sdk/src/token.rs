//! The token-issuance hook: the [`TokenIssuance`] trait, its input ([`TokenRequest`]) and
//! output ([`Claims`] or [`Deny`]), and the conversion to and from the WIT types.

use serde_json::{Map, Value};

use crate::__private::token::exports::keyhaven::extension::token_issuance as wit;
use crate::__private::token::exports::keyhaven::extension::token_scopes as scopes_wit;

/// Customises the tokens Keyhaven issues. Runs inside every token request, in a fresh
/// sandbox, under the tenant's limits.
pub trait TokenIssuance {
    /// Returns the claims to add to the tokens, or a denial whose reason the client sees.
    fn issue(request: TokenRequest) -> Result<Claims, Deny>;
}

/// The tenant the hook runs for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tenant {
    pub id: String,
    pub name: String,
}

impl Tenant {
    /// The tenant that test inputs use.
    pub fn test() -> Self {
        Tenant { id: "test-tenant-id".into(), name: "test".into() }
    }
}

/// A machine client.
#[derive(Clone, Debug, PartialEq)]
pub struct Client {
    pub client_id: String,
    pub name: String,
    pub attributes: Map<String, Value>,
}

/// A human account.
#[derive(Clone, Debug, PartialEq)]
pub struct Account {
    pub account_id: String,
    pub username: String,
    pub attributes: Map<String, Value>,
}

/// Who the token is for.
#[derive(Clone, Debug, PartialEq)]
pub enum Subject {
    Client(Client),
    Account(Account),
}

impl Subject {
    /// The client id or account id.
    pub fn id(&self) -> &str {
        match self {
            Subject::Client(client) => &client.client_id,
            Subject::Account(account) => &account.account_id,
        }
    }

    /// The subject's attributes (a JSON object).
    pub fn attributes(&self) -> &Map<String, Value> {
        match self {
            Subject::Client(client) => &client.attributes,
            Subject::Account(account) => &account.attributes,
        }
    }

    /// One attribute, if present.
    pub fn attribute(&self, name: &str) -> Option<&Value> {
        self.attributes().get(name)
    }
}

/// The token request the hook is asked about.
#[derive(Clone, Debug, PartialEq)]
pub struct TokenRequest {
    pub tenant: Tenant,
    pub subject: Subject,
    /// The OAuth grant type, e.g. `client_credentials`.
    pub grant_type: String,
    /// The scopes about to be granted.
    pub scopes: Vec<String>,
    /// The audiences of the access token.
    pub audience: Vec<String>,
}

impl TokenRequest {
    /// An `authorization_code` request for a human account with these attributes, for tests.
    pub fn for_account(account_id: &str, username: &str, attributes: Value) -> Self {
        TokenRequest {
            tenant: Tenant::test(),
            subject: Subject::Account(Account {
                account_id: account_id.into(),
                username: username.into(),
                attributes: as_object(attributes),
            }),
            grant_type: "authorization_code".into(),
            scopes: Vec::new(),
            audience: Vec::new(),
        }
    }

    /// A `client_credentials` request by a client with these attributes, for tests.
    pub fn for_client(client_id: &str, attributes: Value) -> Self {
        TokenRequest {
            tenant: Tenant::test(),
            subject: Subject::Client(Client {
                client_id: client_id.into(),
                name: client_id.into(),
                attributes: as_object(attributes),
            }),
            grant_type: "client_credentials".into(),
            scopes: Vec::new(),
            audience: Vec::new(),
        }
    }
}

/// Claims to add to the access token and/or the ID token, and scope changes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Claims {
    pub access_token: Vec<(String, Value)>,
    pub id_token: Vec<(String, Value)>,
    /// Scopes to add: only ones the client may obtain (asking for more fails the token).
    pub add_scopes: Vec<String>,
    /// Scopes to take out of the grant.
    pub suppress_scopes: Vec<String>,
}

impl Claims {
    /// No claims: issue the tokens unchanged.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a claim to the access token.
    pub fn access_token(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.access_token.push((name.into(), value.into()));
        self
    }

    /// Adds a claim to the ID token.
    pub fn id_token(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.id_token.push((name.into(), value.into()));
        self
    }

    /// Adds a scope to the grant (one the client may obtain).
    pub fn add_scope(mut self, scope: impl Into<String>) -> Self {
        self.add_scopes.push(scope.into());
        self
    }

    /// Takes a scope out of the grant.
    pub fn suppress_scope(mut self, scope: impl Into<String>) -> Self {
        self.suppress_scopes.push(scope.into());
        self
    }

    /// The value of an access-token claim, if set (last one wins, as in the service).
    pub fn access_token_claim(&self, name: &str) -> Option<&Value> {
        self.access_token.iter().rev().find(|(n, _)| n == name).map(|(_, v)| v)
    }
}

/// Refuses the token request; the client receives `access_denied` with this reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deny(pub String);

impl Deny {
    pub fn new(reason: impl Into<String>) -> Self {
        Deny(reason.into())
    }
}

pub(crate) fn as_object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

pub(crate) fn parse_object(json: &str) -> Map<String, Value> {
    serde_json::from_str(json).map(as_object).unwrap_or_default()
}

fn to_wit_claims(claims: Vec<(String, Value)>) -> Vec<wit::Claim> {
    claims.into_iter().map(|(name, value)| wit::Claim { name, value: value.to_string() }).collect()
}

impl From<wit::TokenRequest> for TokenRequest {
    fn from(request: wit::TokenRequest) -> Self {
        let subject = match request.subject {
            wit::Subject::Client(client) => Subject::Client(Client {
                client_id: client.client_id,
                name: client.name,
                attributes: parse_object(&client.attributes),
            }),
            wit::Subject::Account(account) => Subject::Account(Account {
                account_id: account.account_id,
                username: account.username,
                attributes: parse_object(&account.attributes),
            }),
        };
        TokenRequest {
            tenant: Tenant { id: request.tenant.id, name: request.tenant.name },
            subject,
            grant_type: request.grant_type,
            scopes: request.scopes,
            audience: request.audience,
        }
    }
}

std::thread_local! {
    /// The scope changes of the last `issue` in this instance, which the host asks for next.
    static SCOPE_CHANGES: std::cell::RefCell<(Vec<String>, Vec<String>)> = Default::default();
}

/// Runs hook `H` on a request in WIT form; used by [`crate::export_token_issuance!`].
pub fn issue_with<H: TokenIssuance>(request: wit::TokenRequest) -> wit::Decision {
    match H::issue(request.into()) {
        Ok(claims) => {
            SCOPE_CHANGES.with(|changes| *changes.borrow_mut() = (claims.add_scopes, claims.suppress_scopes));
            wit::Decision::Issue(wit::Claims {
                access_token: to_wit_claims(claims.access_token),
                id_token: to_wit_claims(claims.id_token),
            })
        }
        Err(Deny(reason)) => wit::Decision::Deny(reason),
    }
}

/// The scope changes of the preceding `issue`; used by [`crate::export_token_issuance!`].
pub fn scopes_with() -> scopes_wit::ScopeChanges {
    let (add, suppress) = SCOPE_CHANGES.with(|changes| std::mem::take(&mut *changes.borrow_mut()));
    scopes_wit::ScopeChanges { add, suppress }
}
