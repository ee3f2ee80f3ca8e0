//! Tenant names: unique, lowercase and DNS-label safe, so a name can serve as a subdomain
//! (`acme.id.example.com`) as well as a path segment (`/t/acme`).

use std::fmt;

/// A validated tenant name.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TenantName(String);

/// Why a proposed tenant name was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InvalidName {
    #[error("a tenant name must be 1 to 63 characters long")]
    Length,
    #[error("a tenant name may contain only lowercase letters a-z, digits and '-'")]
    Characters,
    #[error("a tenant name must start with a letter and must not end with '-'")]
    Edges,
}

impl TenantName {
    pub const MAX_LEN: usize = 63;

    pub fn parse(name: &str) -> Result<Self, InvalidName> {
        if name.is_empty() || name.len() > Self::MAX_LEN {
            return Err(InvalidName::Length);
        }
        if !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
            return Err(InvalidName::Characters);
        }
        if !name.starts_with(|c: char| c.is_ascii_lowercase()) || name.ends_with('-') {
            return Err(InvalidName::Edges);
        }
        Ok(TenantName(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_dns_labels() {
        for name in ["a", "acme", "acme-eu-1", &"a".repeat(63)] {
            assert_eq!(TenantName::parse(name).map(|n| n.to_string()), Ok(name.to_owned()));
        }
    }

    #[test]
    fn refuses_what_is_not_a_dns_label() {
        assert_eq!(TenantName::parse(""), Err(InvalidName::Length));
        assert_eq!(TenantName::parse(&"a".repeat(64)), Err(InvalidName::Length));
        assert_eq!(TenantName::parse("Acme"), Err(InvalidName::Characters));
        assert_eq!(TenantName::parse("ac_me"), Err(InvalidName::Characters));
        assert_eq!(TenantName::parse("acme.com"), Err(InvalidName::Characters));
        assert_eq!(TenantName::parse("-acme"), Err(InvalidName::Edges));
        assert_eq!(TenantName::parse("1acme"), Err(InvalidName::Edges));
        assert_eq!(TenantName::parse("acme-"), Err(InvalidName::Edges));
    }
}
