//! Console sessions: a signed-in browser holds a random cookie value whose
//! sha256 is stored here with the account, the per-session CSRF token and an
//! expiry. Signing in takes a bearer token (the session ends when that
//! token is revoked) or a one-time sign-in link an operator issued.
//! Sessions live in the database so every host sharing it knows them.

use sqlx::Row;

use crate::access::{Action, On};
use crate::accounts::{account_from_row, random_hex};
use crate::principal::Principal;
use crate::{RegistryError, now_ms, sha256_hex};

/// How long a console session lasts.
pub const SESSION_TTL_MS: i64 = 12 * 60 * 60 * 1000;

/// How long a one-time sign-in link stays valid.
pub const LINK_TTL_MS: i64 = 15 * 60 * 1000;

/// A live console session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Who is signed in.
    pub principal: Principal,
    /// The token every form of this session must carry.
    pub csrf: String,
    /// Milliseconds since the epoch when it ends.
    pub expires_at: i64,
}

const ACCOUNT_COLUMNS: &str = "a.id, a.name, a.role, a.tenant, a.publisher, a.created_at";

fn principal_from_row(row: &sqlx::any::AnyRow) -> Result<Principal, RegistryError> {
    let account = account_from_row(row)?;
    Ok(Principal {
        account: account.id,
        name: account.name,
        role: account.role,
        tenant: account.tenant,
        publisher: account.publisher,
    })
}

fn signed_out() -> RegistryError {
    RegistryError::Unauthenticated("the console session is unknown, expired or signed out".into())
}

impl crate::Registry {
    /// Sign in with a bearer token: a new session for its account, tied to
    /// the token. Returns the cookie value (shown once) and the session.
    pub async fn open_session(&self, token: &str) -> Result<(String, Session), RegistryError> {
        let principal = self.authenticate(token).await?;
        let token_id: String = sqlx::query("SELECT id FROM tokens WHERE hash = $1")
            .bind(sha256_hex(token.as_bytes()))
            .fetch_one(self.db.pool())
            .await?
            .try_get(0)?;
        self.insert_session(principal, Some(token_id)).await
    }

    async fn insert_session(
        &self,
        principal: Principal,
        token: Option<String>,
    ) -> Result<(String, Session), RegistryError> {
        let cookie = random_hex(32)?;
        let session = Session {
            principal,
            csrf: random_hex(16)?,
            expires_at: now_ms() + SESSION_TTL_MS,
        };
        sqlx::query(
            "INSERT INTO console_sessions (id, account, token, csrf, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(sha256_hex(cookie.as_bytes()))
        .bind(&session.principal.account)
        .bind(token)
        .bind(&session.csrf)
        .bind(now_ms())
        .bind(session.expires_at)
        .execute(self.db.pool())
        .await?;
        Ok((cookie, session))
    }

    /// The live session behind a cookie value.
    pub async fn session(&self, cookie: &str) -> Result<Session, RegistryError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ACCOUNT_COLUMNS}, s.csrf, s.expires_at FROM console_sessions s \
             JOIN accounts a ON a.id = s.account \
             LEFT JOIN tokens t ON t.id = s.token \
             WHERE s.id = $1 AND s.expires_at > $2 AND t.revoked_at IS NULL"
        )))
        .bind(sha256_hex(cookie.as_bytes()))
        .bind(now_ms())
        .fetch_optional(self.db.pool())
        .await?
        .ok_or_else(signed_out)?;
        Ok(Session {
            principal: principal_from_row(&row)?,
            csrf: row.try_get("csrf")?,
            expires_at: row.try_get("expires_at")?,
        })
    }

    /// End a session (signing out); unknown cookies are already ended.
    pub async fn close_session(&self, cookie: &str) -> Result<(), RegistryError> {
        sqlx::query("DELETE FROM console_sessions WHERE id = $1 OR expires_at <= $2")
            .bind(sha256_hex(cookie.as_bytes()))
            .bind(now_ms())
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// A one-time code that signs account `name` in (operators, or the
    /// console on the database directly); valid for [`LINK_TTL_MS`].
    pub async fn issue_sign_in_link(
        &self,
        actor: &Principal,
        name: &str,
    ) -> Result<String, RegistryError> {
        actor.may(Action::IssueSignInLink, On::Platform)?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ACCOUNT_COLUMNS} FROM accounts a WHERE a.name = $1"
        )))
        .bind(name)
        .fetch_optional(self.db.pool())
        .await?
        .ok_or_else(|| RegistryError::not_found("account", name))?;
        let account = account_from_row(&row)?;
        let code = random_hex(24)?;
        sqlx::query(
            "INSERT INTO sign_in_links (code, account, created_at, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(sha256_hex(code.as_bytes()))
        .bind(account.id)
        .bind(now_ms())
        .bind(now_ms() + LINK_TTL_MS)
        .execute(self.db.pool())
        .await?;
        Ok(code)
    }

    /// Sign in with a one-time code: it is used up whether or not the
    /// session that follows is ever used.
    pub async fn redeem_sign_in_link(
        &self,
        code: &str,
    ) -> Result<(String, Session), RegistryError> {
        let hash = sha256_hex(code.as_bytes());
        let used = sqlx::query(
            "UPDATE sign_in_links SET used_at = $1 \
             WHERE code = $2 AND used_at IS NULL AND expires_at > $1",
        )
        .bind(now_ms())
        .bind(&hash)
        .execute(self.db.pool())
        .await?
        .rows_affected();
        if used != 1 {
            return Err(RegistryError::Unauthenticated(
                "the sign-in link is unknown, used already or expired; ask an operator for a new one"
                    .into(),
            ));
        }
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ACCOUNT_COLUMNS} FROM sign_in_links l JOIN accounts a ON a.id = l.account \
             WHERE l.code = $1"
        )))
        .bind(&hash)
        .fetch_one(self.db.pool())
        .await?;
        self.insert_session(principal_from_row(&row)?, None).await
    }
}
