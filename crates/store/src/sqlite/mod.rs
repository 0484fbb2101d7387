//! The embedded SQLite backend: one file under the data dir, WAL mode, one write connection
//! (so write transactions are serialised and never hit SQLITE_BUSY upgrades) and a small pool
//! of readers that WAL lets run beside it.

use crate::{DbKind, StoreError, StoreResult};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::str::FromStr;
use std::time::Duration;

type Db = sqlx::Sqlite;
const KIND: DbKind = DbKind::Sqlite;

/// SQLite has no row locks: writers are already serialised on the one write connection.
macro_rules! locked {
    ($sql:literal) => {
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

pub(crate) use sql::SqlStore as SqliteStore;

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
            .foreign_keys(true);
        if let Some(dir) = options.get_filename().parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir).map_err(|e| {
                    StoreError::Config(format!("cannot create {}: {e}", dir.display()))
                })?;
            }
        }
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await?;
        if migrate {
            MIGRATOR.run(&write).await?;
        }
        let read = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options.read_only(true))
            .await?;
        Ok(SqliteStore { write, read })
    }
}
