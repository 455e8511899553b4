//! Replays: a director's run of an install's recorded calls against a
//! candidate version, beside the current one, in the host's sandbox. This
//! module keeps the record (who asked, which versions, how it went, the
//! report); running it is the host's. A replay changes no state, but its
//! start is audited: it is a decision to run the tenant's recorded calls
//! through a version. Its report stays with the tenant like the recordings
//! it was made of.

use semver::Version;
use serde::Serialize;
use serde_json::{Value, json};
use sqlx::Row;

use crate::access::{Action, On};
use crate::audit::Change;
use crate::principal::Principal;
use crate::{RegistryError, now_ms};

/// A replay that has not finished after this long was lost with the host
/// running it.
pub const LOST_AFTER_MS: i64 = 15 * 60 * 1000;

/// Where a replay is.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReplayState {
    /// Running on the host that started it.
    Running,
    /// Done; the report is ready.
    Finished,
    /// It could not run (the error says why).
    Failed,
}

impl ReplayState {
    fn as_str(self) -> &'static str {
        match self {
            ReplayState::Running => "running",
            ReplayState::Finished => "finished",
            ReplayState::Failed => "failed",
        }
    }
}

/// One replay.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Replay {
    /// `rep-…`.
    pub id: String,
    /// The tenant.
    pub tenant: String,
    /// The install whose recordings it replays.
    pub install: String,
    /// `publisher/name`.
    pub package: String,
    /// The install's version (the baseline).
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub current: Version,
    /// The version on trial.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub candidate: Version,
    /// Where it is.
    pub state: ReplayState,
    /// Recorded calls it replays.
    pub calls: u32,
    /// Milliseconds since the Unix epoch.
    pub started_at: i64,
    /// Who started it.
    pub started_by: String,
    /// When it finished or failed.
    pub finished_at: Option<i64>,
    /// Why it failed.
    pub error: Option<String>,
    /// The report, once finished.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub report: Option<Value>,
}

const COLUMNS: &str = "id, tenant, install, package, current_version, candidate_version, state, \
                       calls, started_at, started_by, finished_at, error, report";

fn corrupt(what: &str, e: impl std::fmt::Display) -> RegistryError {
    RegistryError::Corrupt(format!("stored replay {what}: {e}"))
}

fn from_row(row: &sqlx::any::AnyRow, with_report: bool) -> Result<Replay, RegistryError> {
    let version = |column: &str| -> Result<Version, RegistryError> {
        let v: String = row.try_get(column)?;
        v.parse().map_err(|e| corrupt("version", e))
    };
    let state: String = row.try_get("state")?;
    let started_at: i64 = row.try_get("started_at")?;
    let mut state = match state.as_str() {
        "running" => ReplayState::Running,
        "finished" => ReplayState::Finished,
        "failed" => ReplayState::Failed,
        other => return Err(corrupt("state", other)),
    };
    let mut error: Option<String> = row.try_get("error")?;
    if state == ReplayState::Running && now_ms() - started_at > LOST_AFTER_MS {
        state = ReplayState::Failed;
        error = Some("the host running it stopped before it finished; start it again".into());
    }
    let report: Option<String> = row.try_get("report")?;
    Ok(Replay {
        id: row.try_get("id")?,
        tenant: row.try_get("tenant")?,
        install: row.try_get("install")?,
        package: row.try_get("package")?,
        current: version("current_version")?,
        candidate: version("candidate_version")?,
        state,
        calls: u32::try_from(row.try_get::<i64, _>("calls")?).map_err(|e| corrupt("calls", e))?,
        started_at,
        started_by: row.try_get("started_by")?,
        finished_at: row.try_get("finished_at")?,
        error,
        report: match report {
            Some(text) if with_report => {
                Some(serde_json::from_str(&text).map_err(|e| corrupt("report", e))?)
            }
            _ => None,
        },
    })
}

/// What a replay about to run replays.
#[derive(Debug, Clone, Copy)]
pub struct NewReplay<'a> {
    /// The tenant.
    pub tenant: &'a str,
    /// Its install.
    pub install: &'a str,
    /// The install's package.
    pub package: &'a str,
    /// The version the install runs.
    pub current: &'a Version,
    /// The version tried.
    pub candidate: &'a Version,
    /// How many recorded calls.
    pub calls: u32,
}

impl crate::Registry {
    /// Record a replay as running (the host then runs it).
    pub async fn create_replay(
        &self,
        actor: &Principal,
        new: NewReplay<'_>,
    ) -> Result<Replay, RegistryError> {
        let NewReplay {
            tenant,
            install,
            package,
            current,
            candidate,
            calls,
        } = new;
        actor.may(Action::Replay, On::Tenant(tenant))?;
        let replay = Replay {
            id: format!("rep-{}", crate::accounts::random_hex(12)?),
            tenant: tenant.to_owned(),
            install: install.to_owned(),
            package: package.to_owned(),
            current: current.clone(),
            candidate: candidate.clone(),
            state: ReplayState::Running,
            calls,
            started_at: now_ms(),
            started_by: actor.to_string(),
            finished_at: None,
            error: None,
            report: None,
        };
        let mut change = Change::begin(&self.db, actor).await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO replays ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL, NULL, NULL)"
        )))
        .bind(&replay.id)
        .bind(tenant)
        .bind(install)
        .bind(package)
        .bind(current.to_string())
        .bind(candidate.to_string())
        .bind(replay.state.as_str())
        .bind(i64::from(calls))
        .bind(replay.started_at)
        .bind(&replay.started_by)
        .execute(change.conn())
        .await?;
        // Who looked at the tenant's recorded calls through which versions.
        change
            .record(
                "replay.start",
                &format!("{tenant}/{install}"),
                Some(tenant),
                &Value::Null,
                &json!({
                    "replay": replay.id,
                    "current": replay.current.to_string(),
                    "candidate": replay.candidate.to_string(),
                    "calls": calls,
                }),
            )
            .await?;
        change.commit().await?;
        Ok(replay)
    }

    /// Store a replay's end: its report, or why it failed.
    pub async fn finish_replay(
        &self,
        id: &str,
        outcome: Result<&Value, &str>,
    ) -> Result<(), RegistryError> {
        let (state, report, error) = match outcome {
            Ok(report) => (ReplayState::Finished, Some(report.to_string()), None),
            Err(error) => (ReplayState::Failed, None, Some(error.to_owned())),
        };
        sqlx::query(
            "UPDATE replays SET state = $1, report = $2, error = $3, finished_at = $4 WHERE id = $5",
        )
        .bind(state.as_str())
        .bind(report)
        .bind(error)
        .bind(now_ms())
        .bind(id)
        .execute(self.db.pool())
        .await?;
        Ok(())
    }

    /// One replay of the tenant, with its report when `with_report`.
    pub async fn replay(
        &self,
        actor: &Principal,
        tenant: &str,
        id: &str,
        with_report: bool,
    ) -> Result<Replay, RegistryError> {
        actor.may(Action::ReadReplays, On::Tenant(tenant))?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM replays WHERE tenant = $1 AND id = $2"
        )))
        .bind(tenant)
        .bind(id)
        .fetch_optional(self.db.pool())
        .await?
        .ok_or_else(|| RegistryError::not_found("replay", format!("{tenant}/{id}")))?;
        from_row(&row, with_report)
    }

    /// An install's replays, newest first, without their reports.
    pub async fn replays(
        &self,
        actor: &Principal,
        tenant: &str,
        install: &str,
    ) -> Result<Vec<Replay>, RegistryError> {
        actor.may(Action::ReadReplays, On::Tenant(tenant))?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM replays WHERE tenant = $1 AND install = $2 \
             ORDER BY started_at DESC, id LIMIT 100"
        )))
        .bind(tenant)
        .bind(install)
        .fetch_all(self.db.pool())
        .await?;
        rows.iter().map(|r| from_row(r, false)).collect()
    }
}
