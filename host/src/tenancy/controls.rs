//! Scopes, legal controls and consents. Each scope needs a minimum session score (asking
//! for a stronger scope means stepping up), and may need consent or a permission; three
//! are built in (`openid` 2, `account` 2, `admin` 5) and every tenant adds its own.
//! Legal controls and consents: a tenant's legal documents, each a series of immutable
//! versions, and the consents that record an account's acceptance of one version. A human
//! account is usable only once it has accepted the current version of every enabled
//! document; a new version makes acceptance due again. Consents are revocable and may be
//! temporary. Pure rules: no HTTP, no SQL.

use serde::Serialize;

use super::ResourceState;

/// A scope of a tenant's catalogue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Scope {
    pub value: String,
    pub label: String,
    pub required_score: i64,
    pub consent_required: bool,
    pub permission_required: bool,
    pub builtin: bool,
}

/// The permission (and built-in scope) that makes an account one of its tenant's
/// administrators.
pub const ADMIN_PERMISSION: &str = "admin";

/// The permission (and built-in scope) of a read-only administrator, a viewer: it sees what
/// an administrator sees and changes nothing. `admin` includes it.
pub const VIEWER_PERMISSION: &str = "admin:read";

/// The session score the built-in `admin` scope needs: what an administrator's session
/// must reach to use the admin API.
pub const ADMIN_REQUIRED_SCORE: i64 = 5;

/// The scopes every tenant has (PRODUCT.md).
pub fn builtin_scopes() -> Vec<Scope> {
    let scope = |value: &str, label: &str, required_score: i64, permission_required: bool| Scope {
        value: value.into(),
        label: label.into(),
        required_score,
        consent_required: false,
        permission_required,
        builtin: true,
    };
    vec![
        scope("openid", "OpenID Connect sign-in", 2, false),
        scope("account", "Account access", 2, false),
        scope(ADMIN_PERMISSION, "Administrator access", ADMIN_REQUIRED_SCORE, true),
        scope(VIEWER_PERMISSION, "Read-only administrator access", ADMIN_REQUIRED_SCORE, true),
    ]
}

/// Whether `permissions` hold `permission`: by name, or `admin:read` through `admin`
/// (an administrator may do all a viewer may).
pub fn holds_permission(permissions: &[String], permission: &str) -> bool {
    permissions.iter().any(|p| p == permission)
        || (permission == VIEWER_PERMISSION && permissions.iter().any(|p| p == ADMIN_PERMISSION))
}

/// What a session's score allows of a catalogue.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScopeAccess {
    /// Scopes the session may obtain.
    pub allowed: Vec<String>,
    /// Scopes that need a stronger session first, with the score each needs.
    pub step_up: Vec<(String, i64)>,
    /// Scopes that need a permission the account does not hold (a permission is named
    /// after the scope it opens; administrators grant them).
    pub needs_permission: Vec<String>,
}

/// What a session of `score`, of an account holding `permissions`, may obtain of a
/// catalogue.
pub fn scopes_for_score(catalogue: &[Scope], score: i64, permissions: &[String]) -> ScopeAccess {
    let mut access = ScopeAccess::default();
    for scope in catalogue {
        if scope.permission_required && !holds_permission(permissions, &scope.value) {
            access.needs_permission.push(scope.value.clone());
        } else if scope.required_score <= score {
            access.allowed.push(scope.value.clone());
        } else {
            access.step_up.push((scope.value.clone(), scope.required_score));
        }
    }
    access
}

/// A rule granting scopes to one machine client, or (`client_id` `*`) to every client of
/// the tenant. A client may obtain the scopes of its own `scopes` list and of every enabled
/// rule that names it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ScopeRule {
    pub id: String,
    pub label: String,
    pub client_id: String,
    pub scopes: Vec<String>,
    pub state: ResourceState,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The client id with which a rule names every client of its tenant.
pub const EVERY_CLIENT: &str = "*";

/// The scopes a client may obtain: its own list, then what enabled rules grant it, each
/// once, in that order.
pub fn client_grant(own: &[String], rules: &[ScopeRule], client_id: &str) -> Vec<String> {
    let mut grant: Vec<String> = Vec::new();
    let granted = rules
        .iter()
        .filter(|r| r.state.is_usable() && (r.client_id == client_id || r.client_id == EVERY_CLIENT))
        .flat_map(|r| r.scopes.iter());
    for scope in own.iter().chain(granted) {
        if !grant.contains(scope) {
            grant.push(scope.clone());
        }
    }
    grant
}

/// A legal document at its current version.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct LegalDocument {
    pub id: String,
    pub label: String,
    pub version: i64,
    pub url: Option<String>,
    pub text: Option<String>,
    pub state: ResourceState,
    pub created_at: i64,
    pub updated_at: i64,
}

/// An account's consent: to a legal document's version, or to scopes for a client.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Consent {
    pub id: String,
    pub account_id: String,
    /// `legal` or `scope`.
    pub kind: String,
    /// The document's id (legal) or the client's id (scope).
    pub subject: String,
    pub version: Option<i64>,
    /// The scopes a scope consent covers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    pub granted_at: i64,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

impl Consent {
    pub fn in_force(&self, now: i64) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|at| at > now)
    }
}

/// The requested scopes that need the account's consent for this client and have none
/// in force: scopes of the catalogue that require consent, not covered by a scope consent
/// to the client that is neither revoked nor expired.
pub fn consent_needed(
    catalogue: &[Scope],
    consents: &[Consent],
    client_id: &str,
    requested: &[String],
    now: i64,
) -> Vec<String> {
    requested
        .iter()
        .filter(|value| catalogue.iter().any(|s| &&s.value == value && s.consent_required))
        .filter(|value| {
            !consents.iter().any(|c| {
                c.kind == "scope"
                    && c.subject == client_id
                    && c.in_force(now)
                    && c.scopes.as_ref().is_some_and(|scopes| scopes.contains(value))
            })
        })
        .cloned()
        .collect()
}

/// A document whose current version the account has yet to accept.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LegalDue {
    pub document_id: String,
    pub label: String,
    pub version: i64,
    pub url: Option<String>,
}

/// The enabled documents whose current version no consent in force accepts.
pub fn legal_due(documents: &[LegalDocument], consents: &[Consent], now: i64) -> Vec<LegalDue> {
    documents
        .iter()
        .filter(|d| d.state.is_usable())
        .filter(|d| {
            !consents
                .iter()
                .any(|c| c.kind == "legal" && c.subject == d.id && c.version == Some(d.version) && c.in_force(now))
        })
        .map(|d| LegalDue { document_id: d.id.clone(), label: d.label.clone(), version: d.version, url: d.url.clone() })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document(version: i64, state: ResourceState) -> LegalDocument {
        LegalDocument {
            id: "doc_1".into(),
            label: "Terms".into(),
            version,
            url: None,
            text: Some("...".into()),
            state,
            created_at: 0,
            updated_at: 0,
        }
    }

    fn consent(version: i64, expires_at: Option<i64>, revoked_at: Option<i64>) -> Consent {
        Consent {
            id: "con_1".into(),
            account_id: "acc_1".into(),
            kind: "legal".into(),
            subject: "doc_1".into(),
            version: Some(version),
            scopes: None,
            granted_at: 0,
            expires_at,
            revoked_at,
        }
    }

    #[test]
    fn stronger_scopes_need_a_higher_score() {
        let mut catalogue = builtin_scopes();
        catalogue.push(Scope { value: "pay".into(), required_score: 5, builtin: false, ..catalogue[0].clone() });
        let access = scopes_for_score(&catalogue, 2, &[]);
        assert_eq!(access.allowed, ["openid", "account"]);
        assert_eq!(access.step_up, [("pay".to_owned(), 5)]);
        assert_eq!(access.needs_permission, ["admin", "admin:read"], "however strong the session");
        assert_eq!(scopes_for_score(&catalogue, 5, &[]).allowed, ["openid", "account", "pay"]);
        assert!(scopes_for_score(&catalogue, 0, &[]).allowed.is_empty());
        // With the permission, the scope is a matter of score like any other.
        let admin = ["admin".to_owned()];
        let step_up = |scope: &str| (scope.to_owned(), 5);
        assert_eq!(
            scopes_for_score(&catalogue, 2, &admin).step_up,
            [step_up("admin"), step_up("admin:read"), step_up("pay")]
        );
        assert_eq!(
            scopes_for_score(&catalogue, 5, &admin).allowed,
            ["openid", "account", "admin", "admin:read", "pay"]
        );
        // A viewer may read, not administer.
        let viewer = scopes_for_score(&catalogue, 5, &["admin:read".to_owned()]);
        assert_eq!(
            (viewer.allowed, viewer.needs_permission),
            (vec!["openid".to_owned(), "account".into(), "admin:read".into(), "pay".into()], vec!["admin".to_owned()])
        );
    }

    #[test]
    fn a_client_obtains_its_own_scopes_and_those_its_enabled_rules_grant() {
        let rule = |client_id: &str, scopes: &[&str], state| ScopeRule {
            id: "rule".into(),
            label: "rule".into(),
            client_id: client_id.into(),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            state,
            created_at: 0,
            updated_at: 0,
        };
        let rules = [
            rule("billing", &["invoices:read", "reports"], ResourceState::Enabled),
            rule("*", &["reports", "health"], ResourceState::Enabled),
            rule("billing", &["payments:write"], ResourceState::Disabled),
            rule("crm", &["contacts"], ResourceState::Enabled),
        ];
        let own = ["reports".to_owned()];
        assert_eq!(client_grant(&own, &rules, "billing"), ["reports", "invoices:read", "health"]);
        assert_eq!(client_grant(&[], &rules, "other"), ["reports", "health"], "only the rules for every client");
        assert!(client_grant(&[], &[], "billing").is_empty());
    }

    #[test]
    fn scopes_that_require_consent_need_a_consent_in_force_for_that_client() {
        let mut catalogue = builtin_scopes();
        catalogue.push(Scope {
            value: "contacts".into(),
            consent_required: true,
            builtin: false,
            ..catalogue[0].clone()
        });
        catalogue.push(Scope {
            value: "photos".into(),
            consent_required: true,
            builtin: false,
            ..catalogue[0].clone()
        });
        let requested = ["openid".to_owned(), "contacts".to_owned(), "photos".to_owned()];
        let given = |client: &str, scopes: &[&str], expires_at, revoked_at| Consent {
            id: "con".into(),
            account_id: "acc".into(),
            kind: "scope".into(),
            subject: client.into(),
            version: None,
            scopes: Some(scopes.iter().map(|s| (*s).to_owned()).collect()),
            granted_at: 0,
            expires_at,
            revoked_at,
        };
        assert_eq!(consent_needed(&catalogue, &[], "app", &requested, 10), ["contacts", "photos"]);
        let contacts = given("app", &["contacts"], None, None);
        assert_eq!(consent_needed(&catalogue, std::slice::from_ref(&contacts), "app", &requested, 10), ["photos"]);
        assert_eq!(consent_needed(&catalogue, &[contacts], "other-app", &requested, 10).len(), 2, "per client");
        let temporary = given("app", &["contacts", "photos"], Some(20), None);
        assert!(consent_needed(&catalogue, std::slice::from_ref(&temporary), "app", &requested, 10).is_empty());
        assert_eq!(consent_needed(&catalogue, &[temporary], "app", &requested, 20).len(), 2, "expired");
        let revoked = given("app", &["contacts", "photos"], None, Some(5));
        assert_eq!(consent_needed(&catalogue, &[revoked], "app", &requested, 10).len(), 2, "revoked");
    }

    #[test]
    fn the_current_version_must_be_accepted_by_a_consent_in_force() {
        let v2 = [document(2, ResourceState::Enabled)];
        assert_eq!(legal_due(&v2, &[], 10).len(), 1);
        assert_eq!(legal_due(&v2, &[consent(1, None, None)], 10).len(), 1, "an older version is not enough");
        assert!(legal_due(&v2, &[consent(2, None, None)], 10).is_empty());
        assert_eq!(legal_due(&v2, &[consent(2, Some(10), None)], 10).len(), 1, "expired");
        assert_eq!(legal_due(&v2, &[consent(2, None, Some(5))], 10).len(), 1, "revoked");
        assert!(legal_due(&[document(2, ResourceState::Disabled)], &[], 10).is_empty());
    }
}
