//! Account roles and what each may do.

use crate::{DomainError, DomainResult};

/// What an account is allowed to do.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A volunteer: claims and joins teams, patrols, reports.
    Envoy,
    /// Command-centre staff: publishes tasks, watches maps, dispatches.
    Commander,
    /// Department staff: works the incidents routed to their department.
    Staff,
    /// Accounts, departments and routing rules.
    Admin,
}

impl Role {
    /// Every role, in order of privilege.
    pub const ALL: [Role; 4] = [Role::Envoy, Role::Commander, Role::Staff, Role::Admin];

    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Envoy => "envoy",
            Role::Commander => "commander",
            Role::Staff => "staff",
            Role::Admin => "admin",
        }
    }

    /// Checks that this role is one of `allowed`: the rule behind every endpoint's role check.
    pub fn require(self, allowed: &[Role]) -> DomainResult<()> {
        if allowed.contains(&self) {
            Ok(())
        } else {
            let names: Vec<&str> = allowed.iter().map(|r| r.as_str()).collect();
            Err(DomainError::forbidden(
                "wrong_role",
                format!(
                    "this needs the role {}; you are signed in as {}",
                    names.join(" or "),
                    self.as_str()
                ),
            ))
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // pad, so width and alignment flags apply
        f.pad(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                DomainError::invalid(
                    "invalid_role",
                    format!("unknown role {s:?}: use envoy, commander, staff or admin"),
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_and_require() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>().unwrap(), r);
        }
        assert!("boss".parse::<Role>().is_err());
        assert!(Role::Commander
            .require(&[Role::Commander, Role::Admin])
            .is_ok());
        let e = Role::Envoy.require(&[Role::Commander]).unwrap_err();
        assert_eq!(e.code(), "wrong_role");
    }
}
