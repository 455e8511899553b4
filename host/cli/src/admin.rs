//! Operator commands that work on the database directly: bootstrap the
//! first operator, create tenants and accounts, issue and revoke tokens,
//! verify the audit log. Changes are audited as `console (operator)`.

use anyhow::{Result, bail};
use clap::Subcommand;
use mercato_registry::{NewAccount, NewTenant, Principal, Role, audit};

use crate::Store;

#[derive(Subcommand)]
pub enum AdminCommand {
    /// Create a tenant.
    CreateTenant {
        /// Id (lowercase letters, digits, dashes).
        name: String,
        /// Display name.
        #[arg(long)]
        title: Option<String>,
        #[command(flatten)]
        store: Store,
    },
    /// Create a publisher.
    CreatePublisher {
        /// Name (lowercase letters, digits, dashes).
        name: String,
        #[command(flatten)]
        store: Store,
    },
    /// Create an account and print its first token.
    CreateAccount {
        /// Unique account name.
        name: String,
        /// operator, developer, reviewer, director or rep.
        #[arg(long, value_parser = crate::parse_role)]
        role: Role,
        /// The tenant (directors and reps).
        #[arg(long)]
        tenant: Option<String>,
        /// The publisher (developers).
        #[arg(long)]
        publisher: Option<String>,
        #[command(flatten)]
        store: Store,
    },
    /// Issue another token for an account.
    IssueToken {
        /// The account.
        account: String,
        /// What it is for.
        #[arg(long, default_value = "console")]
        label: String,
        #[command(flatten)]
        store: Store,
    },
    /// Print a one-time console sign-in link for an account (valid 15
    /// minutes, used once).
    SignInLink {
        /// The account.
        account: String,
        /// The console's address as the person will open it.
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        base_url: String,
        #[command(flatten)]
        store: Store,
    },
    /// Revoke a token by id.
    RevokeToken {
        /// `tok_…`
        id: String,
        #[command(flatten)]
        store: Store,
    },
}

pub async fn run(command: AdminCommand) -> Result<()> {
    let console = Principal::console();
    match command {
        AdminCommand::CreateTenant { name, title, store } => {
            let t = store
                .registry()
                .await?
                .create_tenant(&console, NewTenant { name, title })
                .await?;
            println!("created tenant {}", t.name);
        }
        AdminCommand::CreatePublisher { name, store } => {
            store
                .registry()
                .await?
                .create_publisher(&console, &name)
                .await?;
            println!("created publisher {name}");
        }
        AdminCommand::CreateAccount {
            name,
            role,
            tenant,
            publisher,
            store,
        } => {
            let (account, token) = store
                .registry()
                .await?
                .create_account(
                    &console,
                    NewAccount {
                        name,
                        role,
                        tenant,
                        publisher,
                    },
                )
                .await?;
            eprintln!(
                "created {} account {} ({}); its token, shown only now:",
                account.role, account.name, account.id
            );
            println!("{}", token.token);
        }
        AdminCommand::IssueToken {
            account,
            label,
            store,
        } => {
            let token = store
                .registry()
                .await?
                .issue_token(&console, &account, &label)
                .await?;
            eprintln!("token {} for {}, shown only now:", token.id, token.account);
            println!("{}", token.token);
        }
        AdminCommand::SignInLink {
            account,
            base_url,
            store,
        } => {
            let code = store
                .registry()
                .await?
                .issue_sign_in_link(&console, &account)
                .await?;
            eprintln!("a one-time sign-in link for {account}, valid 15 minutes:");
            println!(
                "{}/sign-in/link?code={code}",
                base_url.trim_end_matches('/')
            );
        }
        AdminCommand::RevokeToken { id, store } => {
            store.registry().await?.revoke_token(&console, &id).await?;
            println!("revoked {id}");
        }
    }
    Ok(())
}

pub async fn audit_verify(store: &Store) -> Result<()> {
    let db = store.open().await?;
    let report = audit::verify(&db).await?;
    if report.ok() {
        println!(
            "audit log intact: {} entries, head at {}",
            report.entries, report.head
        );
        Ok(())
    } else {
        for problem in &report.problems {
            eprintln!("TAMPERED: {problem}");
        }
        bail!(
            "the audit log fails verification ({} problem(s) in {} entries)",
            report.problems.len(),
            report.entries
        )
    }
}
