//! The embedded SQLite backend: one file under the data dir, WAL mode, two write connections
//! (sqlx's for everything but position appends, and the appender's for those, see
//! `positions.rs`; SQLite serialises their transactions, each taking the write lock when it
//! begins) and a small pool of readers that WAL lets run beside them.

use crate::{DbKind, StoreError, StoreResult};
use positions::Appender;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::Pool;
use std::str::FromStr;
use std::time::Duration;

type Db = sqlx::Sqlite;
const KIND: DbKind = DbKind::Sqlite;
/// Write transactions take the write lock when they begin (see `SqlStore::begin_write`).
const BEGIN_WRITE: Option<&str> = Some("BEGIN IMMEDIATE");

/// WAL pages after which a commit checkpoints: larger than SQLite's 1000 so that a page changed
/// by many commits is copied to the database file once per checkpoint, not once per few commits.
const WAL_AUTOCHECKPOINT_PAGES: u32 = 8000;

/// SQLite has no row locks: its write transactions are serialised by its write lock.
macro_rules! locked {
    ($sql:expr) => {
        $sql
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

/// The store on a SQLite file. Writes go through `write` (one connection), reads through
/// `read`, and position appends through `appender`, a second write connection of its own (see
/// `positions.rs`). The SQL of `sql/` is implemented for it under the name `SqlStore`.
#[derive(Debug, Clone)]
pub(crate) struct SqliteStore {
    write: Pool<Db>,
    read: Pool<Db>,
    appender: Appender,
}

/// The type `sql/` implements the store traits for.
type SqlStore = SqliteStore;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

impl SqliteStore {
    /// Opens (creating when missing) the database file the URL names.
    pub(crate) async fn connect(url: &str, migrate: bool) -> StoreResult<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Config(format!("bad SQLite URL {url:?}: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // NORMAL in WAL mode: a commit survives a crash of the process (the WAL is written
            // before the commit returns); fsync happens at checkpoints
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
            // statement journals (multi-row inserts with ON CONFLICT need them) stay in memory
            // rather than in a temporary file
            .pragma("temp_store", "memory");
        if let Some(dir) = options.get_filename().parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir).map_err(|e| {
                    StoreError::Config(format!("cannot create {}: {e}", dir.display()))
                })?;
            }
        }
        // No ping before handing out a connection (sqlx's default): a SQLite connection is a
        // file handle in this process, not a socket that can go stale, and the ping is one
        // more round trip to the connection's thread before each use.
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .connect_with(
                options
                    .clone()
                    .pragma("wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES.to_string()),
            )
            .await?;
        if migrate {
            MIGRATOR.run(&write).await?;
        }
        // after the migrations: the appender's statements are prepared on first use
        let appender = Appender::open(options.get_filename(), WAL_AUTOCHECKPOINT_PAGES)?;
        let read = SqlitePoolOptions::new()
            .max_connections(4)
            .test_before_acquire(false)
            .connect_with(options.read_only(true))
            .await?;
        Ok(SqliteStore {
            write,
            read,
            appender,
        })
    }
}
