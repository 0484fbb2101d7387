//! Peace Patrol's storage: one [`Store`] trait, held as `Arc<dyn Store>`, and two backends —
//! SQLite (embedded, the default) and PostgreSQL — picked from the database URL.
//!
//! `Store` is made of one trait per capability, each in a file of its own with the types it
//! takes and hands back and the rows they are read from (`teams.rs`: `TeamStore`, `TeamView`,
//! …, `TeamRow`), all re-exported here. Both backends run the same SQL text (`$1` placeholders
//! work in both), one file per capability in `sql/` (`sql/teams.rs`), compiled once for each
//! backend, so the two cannot drift apart; each keeps its own migrations. Where a dialect must
//! differ (row locks), the backend module says so. Races are settled in the database:
//! PostgreSQL takes row locks, SQLite serialises writers on one connection.
#![warn(missing_docs)]

mod admin;
mod append;
mod chunks;
mod decode;
mod dispatches;
mod error;
mod incidents;
mod ledger;
mod positions;
mod postgres;
mod sqlite;
mod stats;
mod tasks;
mod teams;
#[cfg(feature = "testkit")]
pub mod testing;
mod users;

pub use admin::{AdminStore, Department, RoutingRule};
pub use dispatches::{Alerted, DispatchFilter, DispatchStore, DispatchView, RecipientView};
pub use error::{StoreError, StoreResult};
pub use incidents::{IncidentChange, IncidentFilter, IncidentStore, IncidentView, TimelineView};
pub use ledger::{FinishOutcome, LeaderRow, LedgerEntry, LedgerStore, MemberOutcome, Wallet};
pub use positions::{HeatRow, LatestPosition, PositionBatch, PositionStore, PurgeStep};
pub use stats::StatsStore;
pub use tasks::{TaskFilter, TaskStore, TaskWithTeams};
pub use teams::{EnvoyCard, JoinOutcome, Member, TeamStore, TeamSummary, TeamView};
pub use users::{Activation, ImportOutcome, PendingEnvoy, User, UserStore};

use async_trait::async_trait;
use std::sync::Arc;

/// Which database a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbKind {
    /// `sqlite:` URLs: a file, created when missing.
    Sqlite,
    /// `postgres:` / `postgresql:` URLs.
    Postgres,
}

impl DbKind {
    /// Picks the backend from the URL scheme; anything else is refused rather than guessed, so a
    /// typo never creates an empty database somewhere unexpected.
    pub fn from_url(url: &str) -> StoreResult<DbKind> {
        if url.starts_with("sqlite:") {
            Ok(DbKind::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(DbKind::Postgres)
        } else {
            Err(StoreError::Config(format!(
                "unsupported database URL {:?}: use sqlite://PATH or postgres://…",
                redact(url)
            )))
        }
    }
}

/// The URL with any password replaced by `***`, for logs and errors.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// Opens the database the URL names, running its migrations first when `migrate` is set.
pub async fn connect(url: &str, migrate: bool) -> StoreResult<Arc<dyn Store>> {
    match DbKind::from_url(url)? {
        DbKind::Sqlite => Ok(Arc::new(sqlite::SqliteStore::connect(url, migrate).await?)),
        DbKind::Postgres => Ok(Arc::new(postgres::PgStore::connect(url, migrate).await?)),
    }
}

/// Everything the server needs from storage.
#[async_trait]
pub trait Store:
    UserStore
    + AdminStore
    + TaskStore
    + TeamStore
    + PositionStore
    + LedgerStore
    + DispatchStore
    + IncidentStore
    + StatsStore
    + std::fmt::Debug
{
    /// Which backend this is.
    fn kind(&self) -> DbKind;
    /// Whether the database answers (for `/healthz`).
    async fn ping(&self) -> StoreResult<()>;
}

/// Runs the migrations of the database the URL names, then returns.
pub async fn migrate(url: &str) -> StoreResult<()> {
    connect(url, true).await.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_redaction() {
        assert_eq!(
            DbKind::from_url("sqlite://data/pp.db").unwrap(),
            DbKind::Sqlite
        );
        assert_eq!(
            DbKind::from_url("postgres://u:p@h/db").unwrap(),
            DbKind::Postgres
        );
        assert_eq!(
            DbKind::from_url("postgresql://h/db").unwrap(),
            DbKind::Postgres
        );
        assert!(DbKind::from_url("mysql://h/db").is_err());
        assert!(DbKind::from_url("data/pp.db").is_err());
        assert_eq!(
            redact("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
    }
}
