//! Appending positions on SQLite: the ingest's hot path, on a write connection of its own.
//!
//! sqlx runs each SQLite connection on a thread of its own and hands every statement (and
//! every row) across to it, and its pool pings a connection on a spawned task each time it is
//! given back: a group commit of a few single points spent more in those hand-overs, each
//! parking and waking a thread, than in SQLite. The appender is a rusqlite connection instead,
//! used on the calling thread: the group's whole transaction runs there with a prepared
//! single-row statement per table (prepared once, kept in the connection's cache), and
//! `changes()` tells for each point whether it was new.
//!
//! It is the database's second write connection beside sqlx's. SQLite lets one write
//! transaction run at a time: both begin theirs with `BEGIN IMMEDIATE`, which takes the write
//! lock at once or waits for it (sqlx's connection in SQLite's busy handler, on its own thread;
//! the appender in async pauses, so that it never blocks the thread the lock holder's task may
//! need), so neither can fail half-way because the other wrote.

use crate::append::{heat_visits, latest_rows, PointRow};
use crate::{StoreError, StoreResult};
use rusqlite::types::ToSql;
use rusqlite::{params, Connection, ErrorCode, OpenFlags, Transaction, TransactionBehavior};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Rows from which a group's transaction leaves the async worker thread it runs on
/// ([`tokio::task::block_in_place`]): smaller groups take well under a millisecond.
const BLOCK_IN_PLACE_ROWS: usize = 2_000;

/// How long an append waits for sqlx's connection to release the write lock, in async pauses
/// (the appender's connection has no busy timeout: a thread sleeping in SQLite's busy handler
/// could be the async worker the lock holder's task needs to commit).
const LOCK_TIMEOUT: Duration = Duration::from_secs(10);
const FIRST_PAUSE: Duration = Duration::from_micros(100);
const LAST_PAUSE: Duration = Duration::from_millis(5);

/// Page cache of the appender's connection, KiB: the upper B-tree pages of the position history
/// (millions of rows) stay cached, so an append reads few pages from the file.
const WRITE_CACHE_KIB: u32 = 8 * 1024;

/// The connection position appends run on.
#[derive(Debug, Clone)]
pub(crate) struct Appender(Arc<Mutex<Connection>>);

impl Appender {
    /// Opens the appender's connection to the database file (which exists: sqlx's connection
    /// created it and put it in WAL mode), checkpointing after `wal_autocheckpoint` WAL pages as
    /// sqlx's write connection does.
    pub(super) fn open(path: &Path, wal_autocheckpoint: u32) -> StoreResult<Appender> {
        if path.as_os_str().is_empty() || path == Path::new(":memory:") {
            return Err(StoreError::Config(
                "an in-memory SQLite database cannot be shared by the store's connections: give a file".into(),
            ));
        }
        let db = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        // no busy handler: `append` returns at once when the lock is taken (see LOCK_TIMEOUT)
        db.busy_timeout(Duration::ZERO)?;
        // as sqlx's connections (see `connect`): a commit is in the WAL before it returns,
        // fsync at checkpoints; statement journals in memory
        db.execute_batch(&format!(
            "PRAGMA synchronous = NORMAL;
             PRAGMA temp_store = MEMORY;
             PRAGMA cache_size = -{WRITE_CACHE_KIB};
             PRAGMA wal_autocheckpoint = {wal_autocheckpoint};"
        ))?;
        Ok(Appender(Arc::new(Mutex::new(db))))
    }

    /// Appends `rows` (distinct keys, in key order) with each envoy's latest point and the heat
    /// rows, in one transaction; says for each row whether it was new.
    pub(crate) async fn append_rows(&self, rows: &[PointRow<'_>]) -> StoreResult<Vec<bool>> {
        let multi_thread = tokio::runtime::Handle::current().runtime_flavor()
            == tokio::runtime::RuntimeFlavor::MultiThread;
        let started = Instant::now();
        let mut pause = FIRST_PAUSE;
        loop {
            // No await while the connection is held: a concurrent caller (the ingest pipeline's
            // one writer is the only caller, but the store does not rely on that) waits as long
            // as one transaction takes. A panic inside rolled its transaction back.
            let done = {
                let db = self.0.lock().unwrap_or_else(|e| e.into_inner());
                if multi_thread && rows.len() >= BLOCK_IN_PLACE_ROWS {
                    tokio::task::block_in_place(|| append(&db, rows))
                } else {
                    append(&db, rows)
                }
            };
            match done? {
                Some(new) => return Ok(new),
                None if started.elapsed() < LOCK_TIMEOUT => {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(LAST_PAUSE);
                }
                None => {
                    return Err(StoreError::Other(anyhow::anyhow!(
                        "the database stayed locked by another writer for {LOCK_TIMEOUT:?}"
                    )))
                }
            }
        }
    }
}

const INSERT_POINT: &str = "INSERT INTO positions (user_id, ts, lat, lng, accuracy_m, flagged)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (user_id, ts) DO NOTHING";

const UPSERT_LATEST: &str = "INSERT INTO latest_positions (user_id, ts, lat, lng, accuracy_m)
     VALUES (?1, ?2, ?3, ?4, ?5)
     ON CONFLICT (user_id) DO UPDATE SET ts = excluded.ts, lat = excluded.lat,
         lng = excluded.lng, accuracy_m = excluded.accuracy_m
     WHERE excluded.ts > latest_positions.ts";

const ADD_HEAT: &str = "INSERT INTO heat (hour, r10, r9, r8, r7, user_id, visits)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
     ON CONFLICT (hour, r10, r9, r8, r7, user_id) DO UPDATE SET visits = heat.visits + excluded.visits";

/// Runs the append in one transaction, or returns `None` at once when another connection holds
/// the write lock. Once `BEGIN IMMEDIATE` has it, nothing inside waits for a lock (in WAL mode
/// readers never block the writer, and the checkpoint at commit is a passive one).
fn append(db: &Connection, rows: &[PointRow<'_>]) -> rusqlite::Result<Option<Vec<bool>>> {
    let tx = match Transaction::new_unchecked(db, TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == ErrorCode::DatabaseBusy => {
            return Ok(None)
        }
        Err(e) => return Err(e),
    };
    let mut new = Vec::with_capacity(rows.len());
    {
        let mut insert = tx.prepare_cached(INSERT_POINT)?;
        for r in rows {
            let [user, ts, lat, lng, accuracy_m] = point_params(r);
            let changed =
                insert.execute(params![user, ts, lat, lng, accuracy_m, r.point.flagged])?;
            new.push(changed == 1);
        }
    }
    {
        let mut upsert = tx.prepare_cached(UPSERT_LATEST)?;
        for r in latest_rows(rows, &new) {
            upsert.execute(point_params(r))?;
        }
    }
    {
        let mut add = tx.prepare_cached(ADD_HEAT)?;
        for ((hour, cells, user), n) in heat_visits(rows, &new) {
            // H3 indexes use 63 bits: stored as signed 64-bit integers unchanged
            let [r7, r8, r9, r10] = cells.0.map(|c| c as i64);
            add.execute(params![hour, r10, r9, r8, r7, &user.as_bytes()[..], n])?;
        }
    }
    // a failed step above drops `tx`, which rolls back
    tx.commit()?;
    Ok(Some(new))
}

/// A point's `user_id, ts, lat, lng, accuracy_m`, the columns `positions` and
/// `latest_positions` share.
fn point_params<'r>(r: &'r PointRow<'_>) -> [&'r dyn ToSql; 5] {
    [
        r.user.as_bytes(),
        &r.ts,
        &r.point.at.lat,
        &r.point.at.lng,
        &r.point.accuracy_m,
    ]
}
