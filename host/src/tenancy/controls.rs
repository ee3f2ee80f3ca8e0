//! Legal controls and consents: a tenant's legal documents, each a series of immutable
//! versions, and the consents that record an account's acceptance of one version. A human
//! account is usable only once it has accepted the current version of every enabled
//! document; a new version makes acceptance due again. Consents are revocable and may be
//! temporary. Pure rules: no HTTP, no SQL.

use serde::Serialize;

use super::ResourceState;

/// A legal document at its current version.
#[derive(Clone, Debug, Serialize)]
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
#[derive(Clone, Debug, Serialize)]
pub struct Consent {
    pub id: String,
    pub account_id: String,
    /// `legal` or `scope`.
    pub kind: String,
    /// The document's id (legal) or the client's id (scope).
    pub subject: String,
    pub version: Option<i64>,
    pub granted_at: i64,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

impl Consent {
    pub fn in_force(&self, now: i64) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|at| at > now)
    }
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
            granted_at: 0,
            expires_at,
            revoked_at,
        }
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
