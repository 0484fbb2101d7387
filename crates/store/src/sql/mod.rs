//! The SQL both backends run, one file per store trait. This tree is compiled twice, once
//! inside `crate::sqlite` and once inside `crate::postgres` (each includes it with `#[path]`),
//! against that parent's `SqlStore` type, `Db`, `KIND`, `BEGIN_WRITE` and `locked!` macro
//! (which appends `FOR UPDATE` on PostgreSQL; SQLite runs one write transaction at a time
//! instead, each taking the lock as it begins). One text, two concrete compilations: the
//! backends cannot drift apart, and each keeps its own migrations. The one exception is the
//! position append of the ingest's hot path (`Appender::append_rows`, in `sqlite/positions.rs`
//! and `postgres/positions.rs`).
//!
//! Dependencies run one way: these files use their parent backend module, never the reverse;
//! among themselves `tasks` owns the task read the team and ledger writes decide on, `teams`
//! the team reads the ledger's finish shares, and `admin` the department check incidents use.
//! This file holds what several of them share.

mod admin;
mod dispatches;
mod incidents;
mod ledger;
mod positions;
mod stats;
mod tasks;
mod teams;
mod users;

use super::{Db, SqlStore, BEGIN_WRITE, KIND};
use crate::{DbKind, Store, StoreError, StoreResult};
use async_trait::async_trait;
use sqlx::{Encode, QueryBuilder, Transaction, Type};

impl SqlStore {
    /// Begins a write transaction: on SQLite `BEGIN IMMEDIATE`, which takes the database's
    /// write lock at once (waiting for the other write connection, the appender, to commit)
    /// rather than at the first write, where a transaction that read first would fail if the
    /// appender had committed since.
    async fn begin_write(&self) -> sqlx::Result<Transaction<'static, Db>> {
        match BEGIN_WRITE {
            Some(begin) => self.write.begin_with(begin).await,
            None => self.write.begin().await,
        }
    }
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

/// Maps a uniqueness violation to `Conflict(reason)`, and any other error as usual.
fn conflict_on_unique(reason: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |e| {
        if is_unique_violation(&e) {
            StoreError::Conflict(reason)
        } else {
            e.into()
        }
    }
}

fn not_found(kind: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |e| match e {
        sqlx::Error::RowNotFound => StoreError::NotFound(kind),
        other => other.into(),
    }
}

/// Appends ` IN (…)` with one bind per value (`values` must not be empty: callers pass a
/// chunk of [`crate::chunks::shaped_chunks`]).
fn push_in<'args, T>(qb: &mut QueryBuilder<'args, Db>, values: impl IntoIterator<Item = T>)
where
    T: 'args + Encode<'args, Db> + Type<Db>,
{
    qb.push(" IN (");
    let mut list = qb.separated(", ");
    for v in values {
        list.push_bind(v);
    }
    qb.push(")");
}

#[async_trait]
impl Store for SqlStore {
    fn kind(&self) -> DbKind {
        KIND
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.read).await?;
        Ok(())
    }
}
