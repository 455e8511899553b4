//! Who may do what: one table of every action an account can take, the
//! roles allowed it, and what must match (the tenant of a director or rep,
//! the publisher of a developer, the account of anyone but an operator).
//!
//! Every registry operation asks [`Principal::may`] with its [`Action`]
//! before it reads or writes anything; the HTTP layer asks the same table
//! for each route before it parses a body (so a refused caller learns
//! nothing about the body it sent), and its access test and the README's
//! access table are generated from it and the server's route list. Must not know about HTTP: routes map
//! to actions in the server.
//!
//! Rules decided here, beyond the role names:
//! - signing keys are read by their publisher's developers, reviewers (who
//!   check what signed a version) and operators; only the publisher's own
//!   developers register or rotate them, and publish under its name: the
//!   platform never signs for a third party. Operators may revoke a key
//!   (answering a compromise) but never add one;
//! - reps call their tenant's enabled components and read what those
//!   components offer, nothing else: no installs or settings, no customers,
//!   no approvals, no audit;
//! - a director's listing of accounts or the audit log is their tenant's.

use std::fmt;

use crate::RegistryError;
use crate::principal::{Principal, Role};

/// What must match between the caller and the thing acted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Nothing: no token needed (health, metrics).
    Public,
    /// The role alone decides.
    Platform,
    /// A director or rep acts only in their own tenant.
    Tenant,
    /// A developer acts only for their own publisher.
    Publisher,
    /// Anyone but an operator acts only on their own account.
    Account,
}

impl Scope {
    /// How the README names it.
    pub fn describe(self) -> &'static str {
        match self {
            Scope::Public => "no token",
            Scope::Platform => "—",
            Scope::Tenant => "own tenant (director, rep)",
            Scope::Publisher => "own publisher (developer)",
            Scope::Account => "own account (all but operator)",
        }
    }
}

/// The thing an action is on, to compare with the caller's scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum On<'a> {
    /// Nothing in particular (listings, platform actions).
    Platform,
    /// A tenant.
    Tenant(&'a str),
    /// A publisher.
    Publisher(&'a str),
    /// An account, by name.
    Account(&'a str),
}

/// One row of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// The action.
    pub action: Action,
    /// What it does, as refusals say it ("a rep may not {doing}").
    pub doing: &'static str,
    /// The roles allowed it.
    pub roles: &'static [Role],
    /// What must match.
    pub scope: Scope,
}

macro_rules! access {
    ($($(#[$doc:meta])* $action:ident = ($doing:literal, [$($role:ident),*], $scope:ident);)*) => {
        /// Everything an account can ask the registry to do.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Action {
            $($(#[$doc])* $action,)*
        }

        /// The whole table, in the README's order.
        pub const RULES: &[Rule] = &[$(Rule {
            action: Action::$action,
            doing: $doing,
            roles: &[$(Role::$role),*],
            scope: Scope::$scope,
        }),*];

        impl Action {
            /// Its rule.
            pub fn rule(self) -> &'static Rule {
                &RULES[self as usize]
            }
        }
    };
}

access! {
    /// Health and metrics.
    Observe = ("read health and metrics", [Operator, Developer, Reviewer, Director, Rep], Public);
    /// Read one's own account.
    ReadSelf = ("read their own account", [Operator, Developer, Reviewer, Director, Rep], Platform);
    /// Create a tenant.
    CreateTenant = ("create tenants", [Operator], Platform);
    /// List every tenant.
    ListTenants = ("list tenants", [Operator], Platform);
    /// Read a tenant.
    ReadTenant = ("read this tenant", [Operator, Director], Tenant);
    /// Read a tenant's lowered limits.
    ReadTenantLimits = ("read this tenant's limits", [Operator, Director], Tenant);
    /// Lower a tenant's limits.
    SetTenantLimits = ("set this tenant's limits", [Operator, Director], Tenant);
    /// Create an account.
    CreateAccount = ("create accounts", [Operator], Platform);
    /// List accounts (a director: their tenant's).
    ListAccounts = ("list accounts", [Operator, Director], Tenant);
    /// Issue a token.
    IssueToken = ("issue tokens", [Operator, Developer, Reviewer, Director, Rep], Account);
    /// List tokens.
    ListTokens = ("list tokens", [Operator, Developer, Reviewer, Director, Rep], Account);
    /// Revoke a token.
    RevokeToken = ("revoke tokens", [Operator, Developer, Reviewer, Director, Rep], Account);
    /// Issue a one-time console sign-in link.
    IssueSignInLink = ("issue sign-in links", [Operator], Platform);
    /// Create a publisher.
    CreatePublisher = ("create publishers", [Operator], Platform);
    /// List publishers.
    ListPublishers = ("list publishers", [Operator, Developer, Reviewer], Platform);
    /// Read a publisher's signing keys.
    ReadKeys = ("read signing keys", [Operator, Developer, Reviewer], Publisher);
    /// Register a signing key.
    RegisterKey = ("register keys", [Developer], Publisher);
    /// Rotate a signing key.
    RotateKey = ("rotate keys", [Developer], Publisher);
    /// Revoke a signing key.
    RevokeKey = ("revoke keys", [Operator, Developer], Publisher);
    /// Publish a version.
    Publish = ("publish packages", [Developer], Publisher);
    /// List versions (each role sees what it may: see the README).
    ListVersions = ("list package versions", [Operator, Developer, Reviewer, Director], Platform);
    /// Read one version.
    ReadVersion = ("read package versions", [Operator, Developer, Reviewer, Director], Platform);
    /// Approve or reject a version.
    Review = ("review package versions", [Reviewer], Platform);
    /// Yank an approved version.
    Yank = ("yank versions", [Operator, Developer, Reviewer], Publisher);
    /// Browse the catalog.
    ReadCatalog = ("browse the catalog", [Operator, Developer, Reviewer, Director], Platform);
    /// List a tenant's installs.
    ListInstalls = ("list installs", [Operator, Director], Tenant);
    /// Enable a component.
    Enable = ("enable components", [Operator, Director], Tenant);
    /// Read an install and its settings.
    ReadInstall = ("read installs", [Operator, Director], Tenant);
    /// Change an install's settings, range or state.
    ChangeInstall = ("change components", [Operator, Director], Tenant);
    /// Remove an install.
    RemoveInstall = ("remove components", [Operator, Director], Tenant);
    /// Upgrade an install.
    Upgrade = ("upgrade components", [Operator, Director], Tenant);
    /// Accept a version's new permissions.
    AcceptPermissions = ("accept new permissions", [Director], Tenant);
    /// Roll an install back.
    Rollback = ("roll back components", [Operator, Director], Tenant);
    /// Start a canary of a version on an install.
    StartRollout = ("start canary rollouts", [Director], Tenant);
    /// Change a canary's share, promote or abort it (operators abort too:
    /// the host's guardrails act as one).
    SteerRollout = ("steer canary rollouts", [Operator, Director], Tenant);
    /// Read canaries and their guardrail figures.
    ReadRollouts = ("read canary rollouts", [Operator, Director], Tenant);
    /// Force one call onto the current or the candidate version.
    ForceVersion = ("force a call's version", [Director], Tenant);
    /// Switch an install's call recording on or off.
    Record = ("record calls", [Director], Tenant);
    /// Read an install's recorded calls (never reviewers or operators:
    /// they are the tenant's traffic).
    ReadRecordings = ("read recorded calls", [Director], Tenant);
    /// Replay recorded calls against a candidate version.
    Replay = ("replay calls", [Director], Tenant);
    /// Read replays and their reports.
    ReadReplays = ("read replays", [Director], Tenant);
    /// List the tenant's callable components.
    ListComponents = ("list components", [Operator, Director, Rep], Tenant);
    /// Describe a callable component.
    DescribeComponent = ("read components", [Operator, Director, Rep], Tenant);
    /// Call a component.
    Call = ("call components", [Director, Rep], Tenant);
    /// Import customers.
    ImportCustomers = ("import customers", [Operator, Director], Tenant);
    /// Read customer profiles.
    ReadCustomers = ("read customer profiles", [Operator, Director], Tenant);
    /// Erase a customer.
    EraseCustomer = ("erase customers", [Operator, Director], Tenant);
    /// Read a tenant's events.
    ReadEvents = ("read events", [Operator, Director], Tenant);
    /// Read the approvals inbox.
    ReadApprovals = ("read the approvals inbox", [Operator, Director], Tenant);
    /// Decide an approval request.
    Decide = ("decide approval requests", [Director], Tenant);
    /// Read the audit log (a director: their tenant's entries).
    ReadAudit = ("read the audit log", [Operator, Reviewer, Director], Tenant);
    /// Verify the audit chain.
    VerifyAudit = ("verify the audit log", [Operator, Reviewer], Platform);
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.rule().doing)
    }
}

impl Rule {
    /// Whether `role` may take this action at all.
    pub fn allows(&self, role: Role) -> bool {
        self.scope == Scope::Public || self.roles.contains(&role)
    }
}

impl Principal {
    /// Refuse with `forbidden` unless the table lets this caller take
    /// `action` on `on`. Operators reach every tenant, publisher and account
    /// their role is allowed; the others only their own.
    pub fn may(&self, action: Action, on: On<'_>) -> Result<(), RegistryError> {
        let rule = action.rule();
        if !rule.allows(self.role) {
            return Err(RegistryError::forbidden(format!(
                "a {} may not {} (allowed: {})",
                self.role,
                rule.doing,
                rule.roles
                    .iter()
                    .map(|r| r.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let mismatch = |what: &str, own: Option<&str>, asked: &str| {
            RegistryError::forbidden(format!(
                "{} belongs to {what} `{}` and may not {} for {what} `{asked}`",
                self.name,
                own.unwrap_or("?"),
                rule.doing,
            ))
        };
        match (rule.scope, on) {
            (Scope::Tenant, On::Tenant(t))
                if matches!(self.role, Role::Director | Role::Rep)
                    && self.tenant.as_deref() != Some(t) =>
            {
                Err(mismatch("tenant", self.tenant.as_deref(), t))
            }
            (Scope::Publisher, On::Publisher(p))
                if self.role == Role::Developer && self.publisher.as_deref() != Some(p) =>
            {
                Err(mismatch("publisher", self.publisher.as_deref(), p))
            }
            (Scope::Account, On::Account(a)) if self.role != Role::Operator && self.name != a => {
                Err(RegistryError::forbidden(format!(
                    "a {} may {} only for their own account, not `{a}`",
                    self.role, rule.doing
                )))
            }
            _ => Ok(()),
        }
    }

    /// The tenant a listing is narrowed to: the one asked, or for a director
    /// or rep who asked for none, their own.
    pub fn narrowed<'a>(&'a self, asked: Option<&'a str>) -> Option<&'a str> {
        match self.role {
            Role::Director | Role::Rep => asked.or(self.tenant.as_deref()),
            _ => asked,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who(role: Role, tenant: Option<&str>, publisher: Option<&str>) -> Principal {
        Principal {
            account: "a1".into(),
            name: "pat".into(),
            role,
            tenant: tenant.map(Into::into),
            publisher: publisher.map(Into::into),
        }
    }

    #[test]
    fn every_action_finds_its_own_rule() {
        for (i, rule) in RULES.iter().enumerate() {
            assert_eq!(rule.action as usize, i);
            assert_eq!(rule.action.rule(), rule);
            assert!(!rule.roles.is_empty(), "{:?} allows nobody", rule.action);
        }
    }

    #[test]
    fn scopes_bind_directors_reps_developers_and_accounts() {
        let director = who(Role::Director, Some("acme"), None);
        assert!(
            director
                .may(Action::ReadInstall, On::Tenant("acme"))
                .is_ok()
        );
        let e = director
            .may(Action::ReadInstall, On::Tenant("globex"))
            .unwrap_err();
        assert!(e.to_string().contains("`globex`"), "{e}");
        assert!(director.may(Action::Call, On::Tenant("acme")).is_ok());

        let rep = who(Role::Rep, Some("acme"), None);
        assert!(rep.may(Action::Call, On::Tenant("acme")).is_ok());
        let e = rep
            .may(Action::ReadInstall, On::Tenant("acme"))
            .unwrap_err();
        assert!(e.to_string().contains("a rep may not read installs"), "{e}");

        let operator = who(Role::Operator, None, None);
        assert!(operator.may(Action::ReadInstall, On::Tenant("any")).is_ok());
        assert!(operator.may(Action::Call, On::Tenant("any")).is_err());
        assert!(
            operator
                .may(Action::RegisterKey, On::Publisher("p"))
                .is_err()
        );
        assert!(operator.may(Action::Publish, On::Publisher("p")).is_err());
        assert!(operator.may(Action::RevokeKey, On::Publisher("p")).is_ok());

        let developer = who(Role::Developer, None, Some("p"));
        assert!(developer.may(Action::ReadKeys, On::Publisher("p")).is_ok());
        assert!(developer.may(Action::ReadKeys, On::Publisher("q")).is_err());
        assert!(
            developer
                .may(Action::IssueToken, On::Account("pat"))
                .is_ok()
        );
        assert!(
            developer
                .may(Action::IssueToken, On::Account("sam"))
                .is_err()
        );
        assert!(operator.may(Action::IssueToken, On::Account("sam")).is_ok());
        assert!(rep.may(Action::Observe, On::Platform).is_ok());
    }

    #[test]
    fn directors_listings_narrow_to_their_tenant() {
        let director = who(Role::Director, Some("acme"), None);
        assert_eq!(director.narrowed(None), Some("acme"));
        assert_eq!(director.narrowed(Some("globex")), Some("globex"));
        assert_eq!(who(Role::Operator, None, None).narrowed(None), None);
    }
}
