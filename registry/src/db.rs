//! Connecting to the database and bringing its schema up to date.
//!
//! One code path serves both engines through sqlx's `Any` driver; only the
//! migrations differ, because column types do (BLOB/BYTEA, autoincrement).

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Connection, Executor};

/// Why the database could not be opened or migrated.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The URL names an engine other than SQLite or PostgreSQL.
    #[error("unsupported database URL `{0}`: use sqlite://PATH or postgres://...")]
    UnsupportedUrl(String),
    /// Connecting failed.
    #[error("cannot connect to the database: {0}")]
    Connect(#[source] sqlx::Error),
    /// Applying a migration failed.
    #[error("cannot migrate the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A query failed.
    #[error("database error: {0}")]
    Query(#[from] sqlx::Error),
}

/// A pooled connection idle longer than this is pinged before reuse.
const IDLE_PING: Duration = Duration::from_secs(1);

/// Which engine a [`Database`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// One local file; the default.
    Sqlite,
    /// A server shared by several hosts.
    Postgres,
}

/// A migrated connection pool.
#[derive(Clone)]
pub struct Database {
    pool: AnyPool,
    engine: Engine,
    /// The server's URL when other hosts share it (PostgreSQL).
    shared_url: Option<String>,
}

static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the URL: it may hold a password.
        f.debug_struct("Database")
            .field("engine", &self.engine)
            .finish_non_exhaustive()
    }
}

impl Database {
    /// Open (creating if needed) the SQLite file at `path`.
    pub async fn open_sqlite(path: &Path) -> Result<Self, DbError> {
        Self::connect(&format!("sqlite://{}?mode=rwc", path.display())).await
    }

    /// Connect to `url` (`sqlite://...` or `postgres://...`) and migrate.
    pub async fn connect(url: &str) -> Result<Self, DbError> {
        sqlx::any::install_default_drivers();
        let engine = if url.starts_with("sqlite:") {
            Engine::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Engine::Postgres
        } else {
            return Err(DbError::UnsupportedUrl(url.to_owned()));
        };
        let options = AnyConnectOptions::from_str(url).map_err(DbError::Connect)?;
        let pool = AnyPoolOptions::new()
            // SQLite in WAL mode serves readers beside its one writer, and a
            // burst after a cache refill is mostly reads: 8 connections keep
            // them moving without piling up writers. PostgreSQL's default of
            // 100 server connections leaves room for several hosts at 16.
            .max_connections(if engine == Engine::Sqlite { 8 } else { 16 })
            // Past this wait a request is answered `503 busy` (never a 500).
            .acquire_timeout(Duration::from_secs(5))
            // sqlx pings every connection it hands out by default: a second
            // round trip per query, which doubled the cost of a call on
            // PostgreSQL. Only a connection idle for a while can have been
            // dropped unnoticed, so only those are pinged; a busy one that
            // broke fails its query once and is replaced.
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for > IDLE_PING {
                        conn.ping().await?;
                    }
                    Ok(true)
                })
            })
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if engine == Engine::Sqlite {
                        // WAL lets readers run beside the writer; NORMAL is durable in WAL
                        // mode except for the last commits on power loss.
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA synchronous = NORMAL").await?;
                        conn.execute("PRAGMA busy_timeout = 10000").await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(DbError::Connect)?;
        match engine {
            Engine::Sqlite => SQLITE.run(&pool).await?,
            Engine::Postgres => POSTGRES.run(&pool).await?,
        }
        let shared_url = (engine == Engine::Postgres).then(|| url.to_owned());
        Ok(Database {
            pool,
            engine,
            shared_url,
        })
    }

    /// The pool, for the modules of this crate.
    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Begin a transaction that will write. SQLite's default (deferred)
    /// transaction reads first and asks for the write lock only at its first
    /// write; if another connection committed in between, SQLite refuses at
    /// once with "database is locked" (its busy timeout does not apply to a
    /// stale read snapshot). `BEGIN IMMEDIATE` takes the write lock up front,
    /// so writers queue on the busy timeout instead. PostgreSQL's row locks
    /// need nothing of the kind.
    pub(crate) async fn begin_write(
        &self,
    ) -> Result<sqlx::Transaction<'static, sqlx::Any>, sqlx::Error> {
        match self.engine {
            Engine::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Engine::Postgres => self.pool.begin().await,
        }
    }

    /// The server's URL when several hosts may share it (PostgreSQL).
    pub(crate) fn shared_url(&self) -> Option<&str> {
        self.shared_url.as_deref()
    }

    /// The engine behind the pool.
    pub fn engine(&self) -> Engine {
        self.engine
    }
}

/// The PostgreSQL server tests use, from `MERCATO_TEST_POSTGRES`.
#[doc(hidden)]
pub fn test_postgres_url() -> Option<String> {
    std::env::var("MERCATO_TEST_POSTGRES")
        .ok()
        .filter(|url| !url.is_empty())
}

/// A new, empty, migrated database on the server at `server_url`, so tests
/// never see each other's rows. Named `mercato_t_*`; the test script drops
/// leftovers before each run.
#[doc(hidden)]
pub async fn fresh_postgres(server_url: &str) -> Result<Database, DbError> {
    use std::sync::atomic::{AtomicU32, Ordering};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    sqlx::any::install_default_drivers();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let name = format!(
        "mercato_t_{}_{}_{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let admin = AnyPoolOptions::new()
        .max_connections(1)
        .connect(server_url)
        .await
        .map_err(DbError::Connect)?;
    let create = format!("CREATE DATABASE {name}");
    sqlx::query(sqlx::AssertSqlSafe(create))
        .execute(&admin)
        .await?;
    admin.close().await;
    let (base, query) = server_url
        .split_once('?')
        .map_or((server_url, ""), |(b, q)| (b, q));
    let root = base.rsplit_once('/').map_or(base, |(root, _)| root);
    let url = if query.is_empty() {
        format!("{root}/{name}")
    } else {
        format!("{root}/{name}?{query}")
    };
    Database::connect(&url).await
}

/// Run one SQL statement as is: for tests that tamper with stored rows.
#[doc(hidden)]
pub async fn execute_raw(db: &Database, sql: &'static str) -> Result<u64, DbError> {
    Ok(sqlx::query(sql).execute(db.pool()).await?.rows_affected())
}

/// Run one query whose rows are one text column, as is: for tests that
/// look at what was stored, below the API.
#[doc(hidden)]
pub async fn dump_raw(db: &Database, sql: &'static str) -> Result<Vec<String>, DbError> {
    Ok(sqlx::query_scalar::<_, String>(sql)
        .fetch_all(db.pool())
        .await?)
}

/// Wait for `f` on `runtime` from synchronous code that a component's call
/// runs: on a thread of the blocking pool, or inline on a worker of a
/// multi-thread runtime (where the worker hands its other tasks to another
/// thread for as long as this waits).
pub(crate) fn wait<T>(runtime: &tokio::runtime::Handle, f: impl Future<Output = T>) -> T {
    tokio::task::block_in_place(|| runtime.block_on(f))
}

/// Whether `e` means the database was too busy to answer in time (the pool's
/// wait ran out, or SQLite's writer stayed locked past its busy timeout):
/// load, answered `503 busy`, not a fault.
pub(crate) fn is_busy(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut => true,
        sqlx::Error::Database(d) => {
            let message = d.message();
            message.contains("database is locked") || message.contains("database is busy")
        }
        _ => false,
    }
}
