//! The SQL connection pool.
//!
//! One implementation serves both SQLite and PostgreSQL through sqlx's `Any` driver: the
//! schema uses only text and integer columns (UUIDs as text, times as Unix seconds), which
//! both databases store the same way, and each has its own migration folder.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, Executor};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

/// Why a database call failed.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// Connection, I/O or pool timeout: the database is unavailable.
    #[error("database unavailable")]
    Unavailable(#[source] sqlx::Error),
    /// Any other error (constraint, decoding): a bug or corrupt data.
    #[error("database error")]
    Query(#[source] sqlx::Error),
    /// Migrations failed at start.
    #[error("database migration failed")]
    Migration(#[source] sqlx::migrate::MigrateError),
}

impl From<sqlx::Error> for DbError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed => DbError::Unavailable(e),
            other => DbError::Query(other),
        }
    }
}

/// Which SQL engine is behind the pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// Embedded SQLite file.
    Sqlite,
    /// PostgreSQL server.
    Postgres,
}

impl Engine {
    /// Name for health output.
    pub fn as_str(self) -> &'static str {
        match self {
            Engine::Sqlite => "sqlite",
            Engine::Postgres => "postgres",
        }
    }
}

/// The pool plus which engine it talks to.
#[derive(Clone, Debug)]
pub struct Database {
    pool: AnyPool,
    engine: Engine,
}

impl Database {
    /// Connects and runs the migrations for the engine.
    pub async fn connect(url: &SecretString) -> Result<Self, DbError> {
        install_default_drivers();
        let url = url.expose_secret();
        let engine = if url.starts_with("sqlite:") {
            Engine::Sqlite
        } else {
            Engine::Postgres
        };
        let mut opts = AnyPoolOptions::new().acquire_timeout(Duration::from_secs(5));
        if engine == Engine::Sqlite {
            // SQLite: WAL for concurrent readers, a busy timeout instead of SQLITE_BUSY errors.
            // No ping before each acquire: a local file connection cannot drop like a socket,
            // and the ping is one more hop to SQLite's worker thread on every query (it was a
            // large share of `GET /v1/me` in bench/RESULTS.md).
            opts = opts.max_connections(8).test_before_acquire(false).after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute("PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;")
                        .await?;
                    Ok(())
                })
            });
        } else {
            opts = opts.max_connections(16);
        }
        let pool = opts.connect(url).await?;
        let migrator = match engine {
            Engine::Sqlite => &SQLITE_MIGRATIONS,
            Engine::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator.run(&pool).await.map_err(DbError::Migration)?;
        Ok(Self { pool, engine })
    }

    /// The pool.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The engine.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// `SELECT 1`, for `/readyz`.
    pub async fn ping(&self) -> Result<(), DbError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}
