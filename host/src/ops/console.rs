//! The console's sign-in, below HTTP. The console is a built-in public client of every
//! tenant, [`CLIENT_ID`], that no row stores: the authorization endpoint resolves it
//! ([`client_for_authorization`]) with one redirect URI, the console's callback on the
//! service's public URL, and PKCE required as for any public client. It asks for the
//! built-in `admin:read` scope, so the tenant's hosted login steps the person up to the
//! administrator score and checks the `admin:read` permission, which `admin` includes: an
//! administrator and a viewer sign in the same way, and the session's permissions decide,
//! on every request, whether it may change anything. Its codes are redeemed only here
//! ([`sign_in`]), for no token: the console keeps the login session the code names and checks
//! it on every request as the admin API checks an administrator's session.

use crate::AppState;
use crate::ops::administrators::{Access, administrator_session_by_id};
use crate::ops::codes::{self, CodeError, Presented};
use crate::storage::StorageError;
use crate::tenancy::{Client, ResourceState, Tenant};
use crate::web::{ApiError, Problem};

/// The console's client id in every tenant (real client ids start with `cl_`).
pub const CLIENT_ID: &str = "keyhaven-console";

/// The scopes the console asks for.
pub const SCOPES: &str = "openid admin:read";

/// Where the tenant's hosted login returns to the console with a code.
pub fn callback_url(state: &AppState, tenant_name: &str) -> String {
    format!("{}/console/{tenant_name}/callback", state.public_url())
}

/// The console as a client of `tenant`.
pub fn client(state: &AppState, tenant: &Tenant) -> Client {
    Client {
        tenant_id: tenant.id.clone(),
        client_id: CLIENT_ID.into(),
        name: "Keyhaven console".into(),
        attributes: serde_json::Map::new(),
        scopes: Vec::new(),
        audience: Vec::new(),
        state: ResourceState::Enabled,
        created_at: tenant.created_at,
        secret_created_at: tenant.created_at,
        secret_sha256: String::new(),
        previous_secret_sha256: None,
        jwks: None,
        redirect_uris: vec![callback_url(state, &tenant.name)],
        public: true,
    }
}

/// The client an authorization request names: the console, or one of the tenant's.
pub async fn client_for_authorization(
    state: &AppState,
    tenant: &Tenant,
    client_id: &str,
) -> Result<Option<Client>, StorageError> {
    match client_id {
        CLIENT_ID => Ok(Some(client(state, tenant))),
        _ => state.db.client(&tenant.id, client_id).await,
    }
}

/// An administrator signed in to the console.
#[derive(Clone, Debug)]
pub struct SignedIn {
    pub session_id: String,
    pub account_id: String,
    /// An administrator's, or a viewer's (read only).
    pub access: Access,
}

/// Redeems a console code with its PKCE verifier: checked as the token endpoint checks
/// codes, spent once, and its login session one that may administer the tenant.
pub async fn sign_in(state: &AppState, tenant: &Tenant, code: &str, verifier: &str) -> Result<SignedIn, ApiError> {
    let redirect_uri = callback_url(state, &tenant.name);
    let presented =
        Presented { code, client_id: CLIENT_ID, redirect_uri: Some(&redirect_uri), verifier: Some(verifier) };
    let (code, digest) = codes::check(state, tenant, &presented).await.map_err(|e| match e {
        CodeError::Storage(e) => ApiError::from(e),
        refused => ApiError::new(Problem::Unauthenticated, format!("the sign-in failed: {refused}")),
    })?;
    let now = state.clock.now();
    if !state.db.spend_code(&tenant.id, &digest, &code.grant.family_id, now).await? {
        return Err(ApiError::new(Problem::Unauthenticated, "the sign-in failed: the code has been used already"));
    }
    let (account_id, access) = administrator_session_by_id(state, tenant, &code.grant.session_id, now).await?;
    Ok(SignedIn { session_id: code.grant.session_id, account_id, access })
}
