//! Who is acting: a role, and the tenant or publisher it belongs to. What
//! each may do is the table in [`crate::access`].

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::RegistryError;

/// What an account may do.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Runs the platform: tenants, accounts, tokens.
    Operator,
    /// Publishes versions for its own publisher.
    Developer,
    /// Approves or rejects submitted versions.
    Reviewer,
    /// Manages one tenant's components, settings and approvals.
    Director,
    /// Calls one tenant's enabled components.
    Rep,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 5] = [
        Role::Operator,
        Role::Developer,
        Role::Reviewer,
        Role::Director,
        Role::Rep,
    ];

    /// The role's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::Developer => "developer",
            Role::Reviewer => "reviewer",
            Role::Director => "director",
            Role::Rep => "rep",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = RegistryError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                RegistryError::invalid(
                    "role",
                    format!("`{s}` is not one of operator, developer, reviewer, director, rep"),
                )
            })
    }
}

/// Who is asking: an authenticated account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Principal {
    /// Account id.
    pub account: String,
    /// Account name.
    pub name: String,
    /// Its role.
    pub role: Role,
    /// The tenant a director or rep belongs to.
    pub tenant: Option<String>,
    /// The publisher a developer belongs to.
    pub publisher: Option<String>,
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name, self.role)
    }
}

impl Principal {
    /// The operator acting through the `mercato` command on the database
    /// directly (bootstrap, `--demo`).
    pub fn console() -> Principal {
        Principal {
            account: "console".to_owned(),
            name: "console".to_owned(),
            role: Role::Operator,
            tenant: None,
            publisher: None,
        }
    }
}
