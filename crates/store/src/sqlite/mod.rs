//! The embedded SQLite backend: one file under the data dir, WAL mode, one write connection
//! (so write transactions are serialised and never hit SQLITE_BUSY upgrades) and a small pool
//! of readers that WAL lets run beside it.

use crate::{DbKind, StoreError, StoreResult};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::str::FromStr;
use std::time::Duration;

type Db = sqlx::Sqlite;
const KIND: DbKind = DbKind::Sqlite;

/// Page cache of the write connection, KiB: the upper B-tree pages of the position history
/// (millions of rows) stay cached, so an append reads few pages from the file.
const WRITE_CACHE_KIB: u32 = 8 * 1024;
/// WAL pages after which a commit checkpoints: larger than SQLite's 1000 so that a page changed
/// by many commits is copied to the database file once per checkpoint, not once per few commits.
const WAL_AUTOCHECKPOINT_PAGES: u32 = 8000;

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
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(
                options
                    .clone()
                    .pragma("cache_size", format!("-{}", WRITE_CACHE_KIB))
                    .pragma("wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES.to_string()),
            )
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
