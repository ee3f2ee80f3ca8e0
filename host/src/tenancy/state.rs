//! Lifecycle states shared by tenants, clients, keys, extensions and tokens, and the
//! cascade rule: anything under a parent that is not ENABLED is effectively LOCKED.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum ResourceState {
    /// Not ready yet (e.g. an extension still compiling); expires quickly.
    Pending,
    /// Usable.
    Enabled,
    /// Unusable; its owner can re-enable it.
    Disabled,
    /// Unusable; its owner cannot re-enable it.
    Locked,
}

impl ResourceState {
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceState::Pending => "PENDING",
            ResourceState::Enabled => "ENABLED",
            ResourceState::Disabled => "DISABLED",
            ResourceState::Locked => "LOCKED",
        }
    }

    /// The state that applies to a resource whose parent is in `parent`.
    pub fn under(self, parent: ResourceState) -> ResourceState {
        if parent == ResourceState::Enabled { self } else { ResourceState::Locked }
    }

    pub fn is_usable(self) -> bool {
        self == ResourceState::Enabled
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown resource state {0:?}")]
pub struct UnknownState(pub String);

impl FromStr for ResourceState {
    type Err = UnknownState;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "PENDING" => Ok(ResourceState::Pending),
            "ENABLED" => Ok(ResourceState::Enabled),
            "DISABLED" => Ok(ResourceState::Disabled),
            "LOCKED" => Ok(ResourceState::Locked),
            other => Err(UnknownState(other.to_owned())),
        }
    }
}

impl fmt::Display for ResourceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::ResourceState::*;

    #[test]
    fn a_resource_under_a_parent_that_is_not_enabled_is_locked() {
        assert_eq!(Enabled.under(Enabled), Enabled);
        assert_eq!(Disabled.under(Enabled), Disabled);
        for parent in [Pending, Disabled, Locked] {
            assert_eq!(Enabled.under(parent), Locked);
        }
    }
}
