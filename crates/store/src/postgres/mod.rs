//! The PostgreSQL backend, for districts that outgrow one machine: several server nodes can
//! share it, so concurrent claims and joins are settled with row locks (`FOR UPDATE`) and
//! unique indexes.

use crate::{DbKind, StoreError, StoreResult};
use positions::Appender;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::Pool;
use std::str::FromStr;
use std::time::Duration;

type Db = sqlx::Postgres;
const KIND: DbKind = DbKind::Postgres;
/// Write transactions begin with a plain `BEGIN` (row locks settle conflicts).
const BEGIN_WRITE: Option<&str> = None;

/// Locks the rows a read-check-write transaction decides on (`$sql` is a literal, or a macro
/// that expands to one).
macro_rules! locked {
    ($sql:expr) => {
        concat!($sql, " FOR UPDATE")
    };
}

// Deliberately compiled once per backend: see `sql/mod.rs`.
#[expect(
    clippy::duplicate_mod,
    reason = "one SQL text, compiled for each backend"
)]
#[path = "../sql/mod.rs"]
mod sql;

mod positions;

/// The store on a PostgreSQL database. Writes go through `write`, reads through `read` and
/// position appends through `appender`: three handles on one pool. The SQL of `sql/` is
/// implemented for it under the name `SqlStore`.
#[derive(Debug, Clone)]
pub(crate) struct PgStore {
    write: Pool<Db>,
    read: Pool<Db>,
    appender: Appender,
}

/// The type `sql/` implements the store traits for.
type SqlStore = PgStore;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Oldest PostgreSQL the SQL is written for (`ON CONFLICT`, partial unique indexes).
const MIN_SERVER_VERSION: i32 = 120_000;

impl PgStore {
    /// Connects to the database the URL names.
    pub(crate) async fn connect(url: &str, migrate: bool) -> StoreResult<Self> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| {
                StoreError::Config(format!("bad PostgreSQL URL {:?}: {e}", crate::redact(url)))
            })?
            // no JIT: the store's statements are short, and a plan over millions of position
            // rows costs enough to be compiled at every execution (a retention step of 512
            // envoys took 1.8 s, nearly all of it compiling)
            .options([("jit", "off")]);
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        let version: String = sqlx::query_scalar("SHOW server_version_num")
            .fetch_one(&pool)
            .await?;
        if version.trim().parse::<i32>().unwrap_or(0) < MIN_SERVER_VERSION {
            return Err(StoreError::Config(format!(
                "PostgreSQL {version} is too old: version 12 or later is needed"
            )));
        }
        if migrate {
            MIGRATOR.run(&pool).await?;
        }
        Ok(PgStore {
            write: pool.clone(),
            appender: Appender(pool.clone()),
            read: pool,
        })
    }
}
