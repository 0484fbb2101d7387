//! The SQL both backends run. This file is compiled twice, once inside `crate::sqlite` and once
//! inside `crate::postgres` (each includes it with `#[path]`), against that parent's `Db` type,
//! `KIND`, `BEGIN_WRITE` and `locked!` macro (which appends `FOR UPDATE` on PostgreSQL; SQLite
//! runs one write transaction at a time instead, each taking the lock as it begins). One text,
//! two concrete compilations: the backends cannot drift apart, and each keeps its own
//! migrations. The one exception is the position append of the ingest's hot path (the
//! backend's `append_rows`, in `sqlite/positions.rs` and `postgres/positions.rs`).

mod dispatch;
mod incident;
mod stats;

use super::{Db, KIND};
use crate::rows::{
    BalancesRow, CredentialsRow, DepartmentRow, EnvoyCardRow, HeatRowRow, LeaderRowRow, LedgerRow,
    MemberRow, OutcomeRow, TaskRow, TaskTeamsRow, TeamRow, TeamSummaryRow, TrackRow, UserRow,
};
use crate::{
    Activation, AdminStore, Department, EnvoyCard, FinishOutcome, HeatRow, ImportOutcome,
    JoinOutcome, LatestPosition, LeaderRow, LedgerEntry, LedgerStore, MemberOutcome, PendingEnvoy,
    PositionBatch, PositionStore, PurgeStep, Store, StoreError, StoreResult, TaskFilter, TaskStore,
    TaskWithTeams, TeamStore, TeamSummary, TeamView, User, UserStore, Wallet,
};
use async_trait::async_trait;
use pp_domain::account::{NewUser, Phone};
use pp_domain::ledger::{self, LedgerSource, NewEntry};
use pp_domain::position::Position;
use pp_domain::task::{Task, TaskStatus};
use pp_domain::team::{LeaveOutcome, Team, TeamState};
use pp_domain::time::{to_millis, Timestamp};
use pp_domain::{DomainError, LedgerId, TaskId, TeamId, UserId};
use pp_geo::LatLng;
use sqlx::{Pool, QueryBuilder, Transaction};
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

/// A store on one database. Writes go through `write` (on SQLite a single connection), reads
/// through `read`, and position appends through the backend's `appender` (on SQLite a second
/// write connection of its own, see `sqlite/positions.rs`; on PostgreSQL the `write` pool).
#[derive(Debug, Clone)]
pub struct SqlStore {
    pub(super) write: Pool<Db>,
    pub(super) read: Pool<Db>,
    pub(super) appender: super::Appender,
}

impl SqlStore {
    /// Begins a write transaction: on SQLite `BEGIN IMMEDIATE`, which takes the database's
    /// write lock at once (waiting for the other write connection, the appender, to commit)
    /// rather than at the first write, where a transaction that read first would fail if the
    /// appender had committed since.
    async fn begin_write(&self) -> sqlx::Result<Transaction<'static, Db>> {
        match super::BEGIN_WRITE {
            Some(begin) => self.write.begin_with(begin).await,
            None => self.write.begin().await,
        }
    }
}

const USER_COLS: &str = "id, phone, name, role, department, created_at";
const TEAM_COLS: &str =
    "id, task_id, leader_id, state, created_at, started_at, finished_at, photo_sha256, start_lat, start_lng";

const LEDGER_COLS: &str =
    "id, user_id, kind, amount, reason, team_id, source, created_by, created_at";

/// Most rows one multi-row statement carries (at most 9 columns: 4,608 bind parameters, well
/// under SQLite's 32,766 and PostgreSQL's 65,535).
const MAX_CHUNK_ROWS: usize = 512;

/// Rows of one import transaction: large enough that 100,000 rows take a few dozen commits,
/// small enough that other writers wait a few milliseconds for each.
const IMPORT_BATCH_ROWS: usize = 4096;

/// Rows under which the last chunk keeps its exact length: a short statement is cheap to
/// prepare and small in the statement cache, and one statement is one round trip (a group
/// commit of a few single points is one statement per table).
const EXACT_BELOW: usize = 64;

/// Cuts `rows` into the chunks of a multi-row statement: full chunks of [`MAX_CHUNK_ROWS`],
/// then the rest by powers of two down to [`EXACT_BELOW`] (256, 128, 64), then what is left in
/// one chunk. Long statements thus have one of four shapes, each prepared once per connection
/// and kept in its statement cache, rather than a new text to parse and cache for every length
/// (a prepared statement of thousands of rows is large).
pub(super) fn shaped_chunks<T>(rows: &[T]) -> impl Iterator<Item = &[T]> {
    let mut rest = rows;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let n = match rest.len() {
            n if n >= MAX_CHUNK_ROWS => MAX_CHUNK_ROWS,
            n if n >= EXACT_BELOW => 1 << n.ilog2(),
            n => n,
        };
        let (chunk, tail) = rest.split_at(n);
        rest = tail;
        Some(chunk)
    })
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

fn not_found(kind: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |e| match e {
        sqlx::Error::RowNotFound => StoreError::NotFound(kind),
        other => other.into(),
    }
}

async fn lock_team(tx: &mut Transaction<'_, Db>, id: TeamId) -> StoreResult<Team> {
    sqlx::query_as::<_, TeamRow>(locked!(
        "SELECT id, task_id, leader_id, state, created_at, started_at, finished_at, photo_sha256, start_lat, start_lng
         FROM teams WHERE id = $1"
    ))
    .bind(id.0)
    .fetch_one(&mut **tx)
    .await
    .map_err(not_found("team"))?
    .try_into()
}

async fn task_in(tx: &mut Transaction<'_, Db>, id: TaskId, lock: bool) -> StoreResult<Task> {
    let sql = if lock {
        locked!("SELECT * FROM tasks WHERE id = $1")
    } else {
        "SELECT * FROM tasks WHERE id = $1"
    };
    sqlx::query_as::<_, TaskRow>(sql)
        .bind(id.0)
        .fetch_one(&mut **tx)
        .await
        .map_err(not_found("task"))?
        .try_into()
}

/// Members still in the team, earliest first.
async fn member_ids(tx: &mut Transaction<'_, Db>, team: TeamId) -> StoreResult<Vec<UserId>> {
    let ids: Vec<uuid::Uuid> =
        sqlx::query_scalar("SELECT user_id FROM team_members WHERE team_id = $1 AND left_at IS NULL ORDER BY joined_at, user_id")
            .bind(team.0)
            .fetch_all(&mut **tx)
            .await?;
    Ok(ids.into_iter().map(UserId).collect())
}

fn u32_count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The stored outcomes of a team's members (those who had not left), ordered like
/// [`member_ids`]; empty before the finish.
const OUTCOMES_SQL: &str = "SELECT user_id, patrol_ms, qualified FROM team_members
     WHERE team_id = $1 AND left_at IS NULL AND patrol_ms IS NOT NULL
     ORDER BY joined_at, user_id";

/// Appends award entries, skipping any the ledger holds already (its partial unique index:
/// one award per team, member and kind). Returns the entries appended, in `entries` order.
async fn insert_awards(
    tx: &mut Transaction<'_, Db>,
    entries: &[NewEntry],
    now: Timestamp,
) -> StoreResult<Vec<LedgerEntry>> {
    let rows: Vec<(LedgerId, &NewEntry)> = entries.iter().map(|e| (LedgerId::new(), e)).collect();
    let order: HashMap<Uuid, usize> = rows.iter().enumerate().map(|(i, r)| (r.0 .0, i)).collect();
    let created_at = to_millis(now);
    let mut credited = Vec::with_capacity(rows.len());
    for chunk in shaped_chunks(&rows) {
        let mut qb = QueryBuilder::<Db>::new(
            "INSERT INTO ledger (id, user_id, kind, amount, reason, team_id, source, created_by, created_at) ",
        );
        qb.push_values(chunk, |mut b, (id, e)| {
            b.push_bind(id.0)
                .push_bind(e.user_id.0)
                .push_bind(e.kind.as_str())
                .push_bind(e.amount)
                .push_bind(e.reason.as_str())
                .push_bind(e.team_id.map(|t| t.0))
                .push_bind(e.source.as_str())
                .push_bind(e.created_by.map(|u| u.0))
                .push_bind(created_at);
        });
        // the conflict target names the partial unique index, WHERE clause included (SQLite
        // ≥ 3.35 and PostgreSQL both accept this form)
        qb.push(
            " ON CONFLICT (team_id, user_id, kind) WHERE source = 'award' DO NOTHING RETURNING ",
        );
        qb.push(LEDGER_COLS);
        for row in qb
            .build_query_as::<LedgerRow>()
            .fetch_all(&mut **tx)
            .await?
        {
            credited.push(LedgerEntry::try_from(row)?);
        }
    }
    // RETURNING does not promise the order of the VALUES
    credited.sort_by_key(|e| order.get(&e.id.0).copied().unwrap_or(usize::MAX));
    Ok(credited)
}

#[async_trait]
impl UserStore for SqlStore {
    async fn create_user(&self, u: &NewUser, now: Timestamp) -> StoreResult<User> {
        let mut tx = self.begin_write().await?;
        let department = match &u.department {
            None => None,
            Some(d) => Some(
                sqlx::query_scalar::<_, String>(
                    "SELECT code FROM departments WHERE code = $1 OR name_en = $1 OR name_zh = $1",
                )
                .bind(d)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or_else(|| {
                    DomainError::invalid(
                        "unknown_department",
                        format!("no department is called {d:?}"),
                    )
                })?,
            ),
        };
        let id = UserId::new();
        let row = sqlx::query_as::<_, UserRow>(
            "INSERT INTO users (id, phone, name, role, department, password_hash, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             RETURNING id, phone, name, role, department, created_at",
        )
        .bind(id.0)
        .bind(u.phone.as_str())
        .bind(&u.name)
        .bind(u.role.as_str())
        .bind(department)
        .bind(&u.password_hash)
        .bind(to_millis(now))
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Conflict("phone_taken")
            } else {
                e.into()
            }
        })?;
        tx.commit().await?;
        row.try_into()
    }

    async fn user(&self, id: UserId) -> StoreResult<User> {
        sqlx::query_as::<_, UserRow>(&format!("SELECT {USER_COLS} FROM users WHERE id = $1"))
            .bind(id.0)
            .fetch_one(&self.read)
            .await
            .map_err(not_found("user"))?
            .try_into()
    }

    async fn user_credentials(&self, phone: &Phone) -> StoreResult<Option<(User, String)>> {
        let row = sqlx::query_as::<_, CredentialsRow>(&format!(
            "SELECT {USER_COLS}, password_hash FROM users WHERE phone = $1"
        ))
        .bind(phone.as_str())
        .fetch_optional(&self.read)
        .await?;
        row.map(|r| Ok((r.user.try_into()?, r.password_hash)))
            .transpose()
    }

    async fn create_session(
        &self,
        token_hash: &[u8],
        user: UserId,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> StoreResult<()> {
        sqlx::query("INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(token_hash)
            .bind(user.0)
            .bind(to_millis(now))
            .bind(to_millis(expires_at))
            .execute(&self.write)
            .await?;
        Ok(())
    }

    async fn session_user(&self, token_hash: &[u8], now: Timestamp) -> StoreResult<Option<User>> {
        let row = sqlx::query_as::<_, UserRow>(
            "SELECT u.id, u.phone, u.name, u.role, u.department, u.created_at
             FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.token_hash = $1 AND s.expires_at > $2",
        )
        .bind(token_hash)
        .bind(to_millis(now))
        .fetch_optional(&self.read)
        .await?;
        row.map(User::try_from).transpose()
    }

    async fn delete_session(&self, token_hash: &[u8]) -> StoreResult<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    async fn purge_sessions(&self, now: Timestamp) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM sessions WHERE expires_at < $1")
            .bind(to_millis(now))
            .execute(&self.write)
            .await?;
        Ok(done.rows_affected())
    }

    async fn set_available(&self, user: UserId, available: bool) -> StoreResult<()> {
        let done = sqlx::query("UPDATE users SET available = $1 WHERE id = $2")
            .bind(available)
            .bind(user.0)
            .execute(&self.write)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("user"));
        }
        Ok(())
    }

    async fn unavailable_users(&self) -> StoreResult<Vec<UserId>> {
        let ids: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM users WHERE NOT available")
            .fetch_all(&self.read)
            .await?;
        Ok(ids.into_iter().map(UserId).collect())
    }

    async fn create_users_bulk(&self, users: &[NewUser], now: Timestamp) -> StoreResult<u64> {
        if users.iter().any(|u| u.department.is_some()) {
            return Err(DomainError::invalid(
                "department_not_allowed",
                "accounts made in bulk belong to no department: create staff accounts one by one",
            )
            .into());
        }
        if users.is_empty() {
            return Ok(0);
        }
        let created_at = to_millis(now);
        let mut tx = self.begin_write().await?;
        let mut created = 0;
        for chunk in shaped_chunks(users) {
            let mut qb = QueryBuilder::<Db>::new(
                "INSERT INTO users (id, phone, name, role, password_hash, created_at) ",
            );
            qb.push_values(chunk, |mut b, u| {
                b.push_bind(UserId::new().0)
                    .push_bind(u.phone.as_str())
                    .push_bind(u.name.as_str())
                    .push_bind(u.role.as_str())
                    .push_bind(u.password_hash.as_str())
                    .push_bind(created_at);
            });
            qb.push(" ON CONFLICT (phone) DO NOTHING");
            created += qb.build().execute(&mut *tx).await?.rows_affected();
        }
        tx.commit().await?;
        Ok(created)
    }

    async fn user_ids_by_phone(&self, phones: &[Phone]) -> StoreResult<Vec<(Phone, UserId)>> {
        let mut found: HashMap<String, Uuid> = HashMap::with_capacity(phones.len());
        for chunk in shaped_chunks(phones) {
            let mut qb = QueryBuilder::<Db>::new("SELECT phone, id FROM users WHERE phone IN (");
            let mut list = qb.separated(", ");
            for p in chunk {
                list.push_bind(p.as_str());
            }
            qb.push(")");
            let rows: Vec<(String, Uuid)> = qb.build_query_as().fetch_all(&self.read).await?;
            found.extend(rows);
        }
        // in the order asked, each phone once
        Ok(phones
            .iter()
            .filter_map(|p| found.remove(p.as_str()).map(|id| (p.clone(), UserId(id))))
            .collect())
    }

    async fn import_envoys(
        &self,
        rows: &[PendingEnvoy],
        expires_at: Timestamp,
        now: Timestamp,
    ) -> StoreResult<Vec<ImportOutcome>> {
        let created_at = to_millis(now);
        let expires_at = to_millis(expires_at);
        let mut outcomes = Vec::with_capacity(rows.len());
        for batch in rows.chunks(IMPORT_BATCH_ROWS) {
            let mut tx = self.begin_write().await?;
            // the accounts some rows name already, with their password hash (empty: pending)
            let mut existing: HashMap<String, (Uuid, String)> = HashMap::new();
            for chunk in shaped_chunks(batch) {
                let mut qb = QueryBuilder::<Db>::new(
                    "SELECT phone, id, password_hash FROM users WHERE phone IN (",
                );
                let mut list = qb.separated(", ");
                for r in chunk {
                    list.push_bind(r.phone.as_str());
                }
                qb.push(")");
                let found: Vec<(String, Uuid, String)> =
                    qb.build_query_as().fetch_all(&mut *tx).await?;
                existing.extend(found.into_iter().map(|(p, id, h)| (p, (id, h))));
            }
            let fresh: Vec<(Uuid, &PendingEnvoy)> = batch
                .iter()
                .filter(|r| !existing.contains_key(r.phone.as_str()))
                .map(|r| (UserId::new().0, r))
                .collect();
            let mut inserted: HashSet<Uuid> = HashSet::with_capacity(fresh.len());
            for chunk in shaped_chunks(&fresh) {
                let mut qb = QueryBuilder::<Db>::new(
                    "INSERT INTO users (id, phone, name, role, password_hash, created_at) ",
                );
                qb.push_values(chunk, |mut b, (id, r)| {
                    b.push_bind(*id)
                        .push_bind(r.phone.as_str())
                        .push_bind(r.name.as_str())
                        .push_bind("envoy")
                        .push_bind("")
                        .push_bind(created_at);
                });
                // a phone registered meanwhile (another node) is skipped and reported taken
                qb.push(" ON CONFLICT (phone) DO NOTHING RETURNING id");
                let ids: Vec<Uuid> = qb.build_query_scalar().fetch_all(&mut *tx).await?;
                inserted.extend(ids);
            }
            let mut codes: Vec<(Uuid, &[u8])> = Vec::with_capacity(batch.len());
            let mut fresh_ids = fresh.iter();
            for r in batch {
                let outcome = match existing.get(r.phone.as_str()) {
                    Some((id, hash)) if hash.is_empty() => {
                        codes.push((*id, &r.code_hash));
                        ImportOutcome::Reissued
                    }
                    Some(_) => ImportOutcome::Taken,
                    None => {
                        let id = fresh_ids.next().map(|f| f.0).unwrap_or_default();
                        if inserted.contains(&id) {
                            codes.push((id, &r.code_hash));
                            ImportOutcome::Created
                        } else {
                            ImportOutcome::Taken
                        }
                    }
                };
                outcomes.push(outcome);
            }
            for chunk in shaped_chunks(&codes) {
                let mut qb = QueryBuilder::<Db>::new(
                    "INSERT INTO activations (user_id, code_hash, expires_at, attempts, created_at) ",
                );
                qb.push_values(chunk, |mut b, (id, hash)| {
                    b.push_bind(*id)
                        .push_bind(*hash)
                        .push_bind(expires_at)
                        .push_bind(0i32)
                        .push_bind(created_at);
                });
                qb.push(
                    " ON CONFLICT (user_id) DO UPDATE SET code_hash = excluded.code_hash,
                      expires_at = excluded.expires_at, attempts = 0,
                      created_at = excluded.created_at",
                );
                qb.build().execute(&mut *tx).await?;
            }
            tx.commit().await?;
        }
        Ok(outcomes)
    }

    async fn activate(
        &self,
        phone: &Phone,
        code_hash: &[u8],
        password_hash: &str,
        max_attempts: i32,
        now: Timestamp,
    ) -> StoreResult<Activation> {
        let mut tx = self.begin_write().await?;
        // the user row's lock serialises activations of one account (PostgreSQL; SQLite has
        // one writer)
        let Some((id, hash)) = sqlx::query_as::<_, (Uuid, String)>(locked!(
            "SELECT id, password_hash FROM users WHERE phone = $1"
        ))
        .bind(phone.as_str())
        .fetch_optional(&mut *tx)
        .await?
        else {
            return Ok(Activation::WrongCode);
        };
        let pending = sqlx::query_as::<_, (Vec<u8>, i64, i32)>(locked!(
            "SELECT code_hash, expires_at, attempts FROM activations WHERE user_id = $1"
        ))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((stored, expires_at, attempts)) = pending else {
            return Ok(if hash.is_empty() {
                Activation::Locked
            } else {
                Activation::AlreadyActive
            });
        };
        if attempts >= max_attempts {
            return Ok(Activation::Locked);
        }
        if expires_at <= to_millis(now) {
            return Ok(Activation::Expired);
        }
        if stored != code_hash {
            sqlx::query("UPDATE activations SET attempts = attempts + 1 WHERE user_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            return Ok(Activation::WrongCode);
        }
        sqlx::query("DELETE FROM activations WHERE user_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let row = sqlx::query_as::<_, UserRow>(&format!(
            "UPDATE users SET password_hash = $1 WHERE id = $2 AND password_hash = ''
             RETURNING {USER_COLS}"
        ))
        .bind(password_hash)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(Activation::AlreadyActive);
        };
        tx.commit().await?;
        Ok(Activation::Activated(row.try_into()?))
    }
}

#[async_trait]
impl AdminStore for SqlStore {
    async fn departments(&self) -> StoreResult<Vec<Department>> {
        let rows = sqlx::query_as::<_, DepartmentRow>(
            "SELECT id, code, name_zh, name_en FROM departments ORDER BY code",
        )
        .fetch_all(&self.read)
        .await?;
        Ok(rows.into_iter().map(Department::from).collect())
    }

    async fn create_department(
        &self,
        code: &str,
        name_zh: &str,
        name_en: &str,
        now: Timestamp,
    ) -> StoreResult<Department> {
        self.insert_department(code, name_zh, name_en, now).await
    }

    async fn routing(&self) -> StoreResult<Vec<crate::RoutingRule>> {
        self.routing_rules().await
    }

    async fn set_routing(
        &self,
        rules: &[(pp_domain::incident::Category, String)],
        by: UserId,
        now: Timestamp,
    ) -> StoreResult<Vec<crate::RoutingRule>> {
        self.update_routing(rules, by, now).await
    }

    async fn secret(&self, key: &str, fresh: &[u8]) -> StoreResult<Vec<u8>> {
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
        )
        .bind(key)
        .bind(fresh)
        .execute(&self.write)
        .await?;
        Ok(
            sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
                .bind(key)
                .fetch_one(&self.write)
                .await?,
        )
    }
}

#[async_trait]
impl TaskStore for SqlStore {
    async fn insert_task(&self, t: &Task) -> StoreResult<()> {
        let bbox = t.area.bbox();
        sqlx::query(
            "INSERT INTO tasks (id, title, place, description, area, starts_at, ends_at, patrol_minutes, team_min,
                team_max, max_teams, reward_points, reward_fund_cents, status, created_by, created_at,
                min_lat, max_lat, min_lng, max_lng)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)",
        )
        .bind(t.id.0)
        .bind(&t.title)
        .bind(&t.place)
        .bind(&t.description)
        .bind(t.area.to_geojson().to_string())
        .bind(to_millis(t.starts_at))
        .bind(to_millis(t.ends_at))
        .bind(i64::from(t.patrol_minutes))
        .bind(i64::from(t.team_min))
        .bind(i64::from(t.team_max))
        .bind(i64::from(t.max_teams))
        .bind(t.reward_points)
        .bind(t.reward_fund_cents)
        .bind(t.status.as_str())
        .bind(t.created_by.0)
        .bind(to_millis(t.created_at))
        .bind(bbox.min_lat)
        .bind(bbox.max_lat)
        .bind(bbox.min_lng)
        .bind(bbox.max_lng)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn task(&self, id: TaskId) -> StoreResult<Task> {
        sqlx::query_as::<_, TaskRow>("SELECT * FROM tasks WHERE id = $1")
            .bind(id.0)
            .fetch_one(&self.read)
            .await
            .map_err(not_found("task"))?
            .try_into()
    }

    async fn tasks(&self, filter: &TaskFilter) -> StoreResult<Vec<TaskWithTeams>> {
        let bbox = filter.bbox;
        let rows = sqlx::query_as::<_, TaskTeamsRow>(
            "SELECT tasks.*,
                (SELECT COUNT(*) FROM teams WHERE teams.task_id = tasks.id AND teams.state <> 'disbanded') AS teams
             FROM tasks
             WHERE (CAST($1 AS TEXT) IS NULL OR status = $1)
               AND (CAST($2 AS DOUBLE PRECISION) IS NULL
                    OR (max_lat >= $2 AND min_lat <= $3 AND max_lng >= $4 AND min_lng <= $5))
             ORDER BY created_at DESC, id DESC
             LIMIT $6",
        )
        .bind(filter.status.map(TaskStatus::as_str))
        .bind(bbox.map(|b| b.min_lat))
        .bind(bbox.map(|b| b.max_lat))
        .bind(bbox.map(|b| b.min_lng))
        .bind(bbox.map(|b| b.max_lng))
        .bind(filter.limit.map_or(i64::MAX, i64::from))
        .fetch_all(&self.read)
        .await?;
        rows.into_iter().map(TaskWithTeams::try_from).collect()
    }

    async fn close_task(&self, id: TaskId, now: Timestamp) -> StoreResult<Task> {
        let mut tx = self.begin_write().await?;
        let mut task = task_in(&mut tx, id, true).await?;
        task.check_close()?;
        sqlx::query("UPDATE tasks SET status = 'closed', closed_at = $2 WHERE id = $1")
            .bind(id.0)
            .bind(to_millis(now))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        task.status = TaskStatus::Closed;
        Ok(task)
    }
}

#[async_trait]
impl TeamStore for SqlStore {
    async fn claim_team(
        &self,
        task_id: TaskId,
        leader: UserId,
        now: Timestamp,
    ) -> StoreResult<Team> {
        let mut tx = self.begin_write().await?;
        let task = task_in(&mut tx, task_id, true).await?;
        let teams: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM teams WHERE task_id = $1 AND state <> 'disbanded'",
        )
        .bind(task_id.0)
        .fetch_one(&mut *tx)
        .await?;
        task.check_claim(now, u32::try_from(teams).unwrap_or(u32::MAX))?;
        let team = Team::claim(task_id, leader, now);
        sqlx::query("INSERT INTO teams (id, task_id, leader_id, state, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(team.id.0)
            .bind(task_id.0)
            .bind(leader.0)
            .bind(team.state.as_str())
            .bind(to_millis(now))
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO team_members (team_id, user_id, role, joined_at, is_current) VALUES ($1, $2, 'leader', $3, 1)",
        )
        .bind(team.id.0)
        .bind(leader.0)
        .bind(to_millis(now))
        .execute(&mut *tx)
        .await
        .map_err(|e| if is_unique_violation(&e) { StoreError::Conflict("already_in_team") } else { e.into() })?;
        tx.commit().await?;
        Ok(team)
    }

    async fn team(&self, id: TeamId) -> StoreResult<TeamView> {
        let team: Team =
            sqlx::query_as::<_, TeamRow>(&format!("SELECT {TEAM_COLS} FROM teams WHERE id = $1"))
                .bind(id.0)
                .fetch_one(&self.read)
                .await
                .map_err(not_found("team"))?
                .try_into()?;
        let members = sqlx::query_as::<_, MemberRow>(
            "SELECT m.user_id, u.name, m.role, m.joined_at
             FROM team_members m JOIN users u ON u.id = m.user_id
             WHERE m.team_id = $1 AND m.left_at IS NULL
             ORDER BY CASE m.role WHEN 'leader' THEN 0 ELSE 1 END, m.joined_at, m.user_id",
        )
        .bind(id.0)
        .fetch_all(&self.read)
        .await?;
        Ok(TeamView {
            team,
            members: members.into_iter().map(Into::into).collect(),
        })
    }

    async fn teams_of_task(&self, task: TaskId) -> StoreResult<Vec<TeamSummary>> {
        let rows = sqlx::query_as::<_, TeamSummaryRow>(
            "SELECT t.id, t.leader_id, u.name AS leader_name, t.state, t.created_at, t.started_at,
                (SELECT COUNT(*) FROM team_members m WHERE m.team_id = t.id AND m.left_at IS NULL) AS members
             FROM teams t JOIN users u ON u.id = t.leader_id
             WHERE t.task_id = $1 AND t.state <> 'disbanded'
             ORDER BY t.created_at, t.id",
        )
        .bind(task.0)
        .fetch_all(&self.read)
        .await?;
        rows.into_iter().map(TeamSummary::try_from).collect()
    }

    async fn join_team(
        &self,
        team_id: TeamId,
        user: UserId,
        now: Timestamp,
    ) -> StoreResult<JoinOutcome> {
        let mut tx = self.begin_write().await?;
        let team = lock_team(&mut tx, team_id).await?;
        let current: Option<uuid::Uuid> = sqlx::query_scalar(
            "SELECT team_id FROM team_members WHERE user_id = $1 AND is_current = 1",
        )
        .bind(user.0)
        .fetch_optional(&mut *tx)
        .await?;
        match current {
            Some(t) if t == team_id.0 => return Ok(JoinOutcome::AlreadyMember),
            Some(_) => return Err(StoreError::Conflict("already_in_team")),
            None => {}
        }
        let task = task_in(&mut tx, team.task_id, false).await?;
        let members = member_ids(&mut tx, team_id).await?;
        team.check_join(u32_count(members.len()), &task)?;
        // a member who left may come back: the (team, user) row is reused
        sqlx::query(
            "INSERT INTO team_members (team_id, user_id, role, joined_at, is_current) VALUES ($1, $2, 'member', $3, 1)
             ON CONFLICT (team_id, user_id) DO UPDATE SET role = 'member', joined_at = $3, is_current = 1, left_at = NULL",
        )
        .bind(team_id.0)
        .bind(user.0)
        .bind(to_millis(now))
        .execute(&mut *tx)
        .await
        .map_err(|e| if is_unique_violation(&e) { StoreError::Conflict("already_in_team") } else { e.into() })?;
        tx.commit().await?;
        Ok(JoinOutcome::Joined)
    }

    async fn leave_team(
        &self,
        team_id: TeamId,
        user: UserId,
        now: Timestamp,
    ) -> StoreResult<LeaveOutcome> {
        let mut tx = self.begin_write().await?;
        let team = lock_team(&mut tx, team_id).await?;
        let members = member_ids(&mut tx, team_id).await?;
        if !members.contains(&user) {
            return Err(
                DomainError::forbidden("not_member", "you are not a member of this team").into(),
            );
        }
        let others: Vec<UserId> = members.into_iter().filter(|&m| m != user).collect();
        let outcome = team.leave(user, &others)?;
        sqlx::query("UPDATE team_members SET is_current = 0, left_at = $3 WHERE team_id = $1 AND user_id = $2")
            .bind(team_id.0)
            .bind(user.0)
            .bind(to_millis(now))
            .execute(&mut *tx)
            .await?;
        match outcome {
            LeaveOutcome::Left => {}
            LeaveOutcome::NewLeader(next) => {
                sqlx::query(
                    "UPDATE team_members SET role = 'leader' WHERE team_id = $1 AND user_id = $2",
                )
                .bind(team_id.0)
                .bind(next.0)
                .execute(&mut *tx)
                .await?;
                sqlx::query("UPDATE teams SET leader_id = $2 WHERE id = $1")
                    .bind(team_id.0)
                    .bind(next.0)
                    .execute(&mut *tx)
                    .await?;
            }
            LeaveOutcome::Disbanded => {
                sqlx::query("UPDATE teams SET state = $2, finished_at = $3 WHERE id = $1")
                    .bind(team_id.0)
                    .bind(TeamState::Disbanded.as_str())
                    .bind(to_millis(now))
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(outcome)
    }

    async fn remove_member(
        &self,
        team_id: TeamId,
        by: UserId,
        user: UserId,
        now: Timestamp,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        let team = lock_team(&mut tx, team_id).await?;
        team.check_remove(by, user)?;
        let done = sqlx::query(
            "UPDATE team_members SET is_current = 0, left_at = $3 WHERE team_id = $1 AND user_id = $2 AND left_at IS NULL",
        )
        .bind(team_id.0)
        .bind(user.0)
        .bind(to_millis(now))
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("member"));
        }
        tx.commit().await?;
        Ok(())
    }

    async fn start_team(
        &self,
        team_id: TeamId,
        by: UserId,
        at: LatLng,
        photo_sha256: &str,
        now: Timestamp,
    ) -> StoreResult<Team> {
        let mut tx = self.begin_write().await?;
        let mut team = lock_team(&mut tx, team_id).await?;
        let task = task_in(&mut tx, team.task_id, false).await?;
        let members = member_ids(&mut tx, team_id).await?;
        team.check_start(by, u32_count(members.len()), &task, at, now)?;
        sqlx::query(
            "UPDATE teams SET state = $2, started_at = $3, photo_sha256 = $4, start_lat = $5, start_lng = $6 WHERE id = $1",
        )
        .bind(team_id.0)
        .bind(TeamState::Active.as_str())
        .bind(to_millis(now))
        .bind(photo_sha256)
        .bind(at.lat)
        .bind(at.lng)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        team.state = TeamState::Active;
        team.started_at = Some(now);
        team.photo_sha256 = Some(photo_sha256.to_owned());
        team.start_position = Some(at);
        Ok(team)
    }

    async fn current_team(&self, user: UserId) -> StoreResult<Option<TeamId>> {
        let id: Option<uuid::Uuid> = sqlx::query_scalar(
            "SELECT team_id FROM team_members WHERE user_id = $1 AND is_current = 1",
        )
        .bind(user.0)
        .fetch_optional(&self.read)
        .await?;
        Ok(id.map(TeamId))
    }

    async fn envoy_cards(&self, users: &[UserId]) -> StoreResult<Vec<EnvoyCard>> {
        let mut cards = Vec::with_capacity(users.len());
        for chunk in shaped_chunks(users) {
            let mut qb = QueryBuilder::<Db>::new(
                "SELECT u.id AS user_id, u.name, t.id AS team_id, t.task_id, t.state
                 FROM users u
                 LEFT JOIN team_members m ON m.user_id = u.id AND m.is_current = 1
                 LEFT JOIN teams t ON t.id = m.team_id
                 WHERE u.id IN (",
            );
            let mut list = qb.separated(", ");
            for u in chunk {
                list.push_bind(u.0);
            }
            qb.push(")");
            let rows: Vec<EnvoyCardRow> = qb.build_query_as().fetch_all(&self.read).await?;
            for r in rows {
                cards.push(EnvoyCard::try_from(r)?);
            }
        }
        Ok(cards)
    }
}

/// A point of an [`PositionStore::append_positions`] call, with where it came from.
pub(super) struct PointRow<'a> {
    pub(super) user: Uuid,
    /// Unix milliseconds, as stored: two points of an envoy less than a millisecond apart are
    /// one point.
    pub(super) ts: i64,
    pub(super) point: &'a Position,
    pub(super) cells: &'a pp_geo::cells::Cells,
    batch: usize,
    index: usize,
}

/// A heat row's key: hour, the point's cells, the envoy.
pub(super) type HeatKey = (i64, pp_geo::cells::Cells, Uuid);

/// The visits the new unflagged points add to their heat rows, summed per row, in key order
/// (concurrent writers lock rows in one order, as for the points).
pub(super) fn heat_visits(rows: &[PointRow<'_>], new: &[bool]) -> Vec<(HeatKey, i64)> {
    let mut visits: HashMap<HeatKey, i64> = HashMap::new();
    for (r, _) in rows
        .iter()
        .zip(new)
        .filter(|(r, &n)| r.point.newly_counted(n))
    {
        let hour = r.ts.div_euclid(pp_domain::heat::HOUR_MS);
        *visits.entry((hour, *r.cells, r.user)).or_default() += 1;
    }
    let mut visits: Vec<_> = visits.into_iter().collect();
    visits.sort_unstable_by_key(|(k, _)| *k);
    visits
}

/// Each envoy's latest new unflagged point: `rows` are in (user, ts) order, so it is the last
/// such row of the envoy's run.
pub(super) fn latest_rows<'r, 'a>(rows: &'r [PointRow<'a>], new: &[bool]) -> Vec<&'r PointRow<'a>> {
    let mut latest: Vec<&PointRow<'_>> = Vec::new();
    for (r, _) in rows
        .iter()
        .zip(new)
        .filter(|(r, &n)| r.point.newly_counted(n))
    {
        match latest.last_mut() {
            Some(last) if last.user == r.user => *last = r,
            _ => latest.push(r),
        }
    }
    latest
}

#[async_trait]
impl PositionStore for SqlStore {
    async fn append_positions(&self, batches: &[PositionBatch]) -> StoreResult<Vec<Vec<bool>>> {
        let mut fresh: Vec<Vec<bool>> = batches
            .iter()
            .map(|b| vec![false; b.points().len()])
            .collect();
        let mut rows: Vec<PointRow<'_>> =
            batches
                .iter()
                .enumerate()
                .flat_map(|(batch, b)| {
                    b.points().iter().zip(b.cells()).enumerate().map(
                        move |(index, (point, cells))| PointRow {
                            user: b.user.0,
                            ts: to_millis(point.ts),
                            point,
                            cells,
                            batch,
                            index,
                        },
                    )
                })
                .collect();
        if rows.is_empty() {
            return Ok(fresh);
        }
        // Key order: concurrent appends (several nodes on PostgreSQL) take their index locks
        // in the same order, SQLite appends to its B-trees in order, and each envoy's points
        // end up together. The sort is stable, so of several copies of one key in this call
        // the first is kept: it is the one stored, and the only one that can be new.
        rows.sort_by_key(|r| (r.user, r.ts));
        rows.dedup_by_key(|r| (r.user, r.ts));
        // In ONE transaction: the points (skipping those stored already), each envoy's latest
        // point and the heat rows; each backend in its fastest way (see `append_rows` in
        // `sqlite/positions.rs` and `postgres/positions.rs`).
        let new = self.append_rows(&rows).await?;
        for (r, is_new) in rows.iter().zip(new) {
            fresh[r.batch][r.index] = is_new;
        }
        Ok(fresh)
    }

    async fn heat_rows(&self, first: i64, last: i64) -> StoreResult<Vec<HeatRow>> {
        let rows: Vec<HeatRowRow> = sqlx::query_as(
            "SELECT hour, r7, r8, r9, r10, user_id, visits FROM heat
             WHERE hour >= $1 AND hour <= $2 ORDER BY hour, r10, r9, r8, r7, user_id",
        )
        .bind(first)
        .bind(last)
        .fetch_all(&self.read)
        .await?;
        Ok(rows.into_iter().map(HeatRow::from).collect())
    }

    async fn heat_hours(&self) -> StoreResult<Option<(i64, i64)>> {
        let (first, last): (Option<i64>, Option<i64>) =
            sqlx::query_as("SELECT MIN(hour), MAX(hour) FROM heat")
                .fetch_one(&self.read)
                .await?;
        Ok(first.zip(last))
    }

    async fn latest_positions(&self, since: Timestamp) -> StoreResult<Vec<LatestPosition>> {
        let rows = sqlx::query_as::<_, TrackRow>(
            "SELECT user_id, ts, lat, lng, accuracy_m, FALSE AS flagged FROM latest_positions
             WHERE ts >= $1 ORDER BY user_id",
        )
        .bind(to_millis(since))
        .fetch_all(&self.read)
        .await?;
        rows.into_iter().map(LatestPosition::try_from).collect()
    }

    async fn tracks(
        &self,
        users: &[UserId],
        from: Timestamp,
        until: Timestamp,
    ) -> StoreResult<HashMap<UserId, Vec<Position>>> {
        let mut tracks: HashMap<UserId, Vec<Position>> = HashMap::with_capacity(users.len());
        for chunk in shaped_chunks(users) {
            let mut qb = QueryBuilder::<Db>::new(
                "SELECT user_id, ts, lat, lng, accuracy_m, flagged FROM positions WHERE ts >= ",
            );
            qb.push_bind(to_millis(from));
            qb.push(" AND ts <= ");
            qb.push_bind(to_millis(until));
            qb.push(" AND user_id IN (");
            let mut list = qb.separated(", ");
            for u in chunk {
                list.push_bind(u.0);
            }
            qb.push(") ORDER BY user_id, ts");
            let rows: Vec<TrackRow> = qb.build_query_as().fetch_all(&self.read).await?;
            for r in rows {
                tracks
                    .entry(UserId(r.user_id))
                    .or_default()
                    .push(Position::try_from(r.point)?);
            }
        }
        Ok(tracks)
    }

    async fn purge_positions(
        &self,
        before: Timestamp,
        after: Option<UserId>,
        users: u32,
    ) -> StoreResult<PurgeStep> {
        // The next `users` envoys that have points, in id order, each found by one seek of the
        // primary key (a skip scan; no index on ts is kept: it would cost every append a second
        // B-tree insert at a random place), then each one's old points by a range of the key.
        let ids: Vec<Uuid> = sqlx::query_scalar(
            "WITH RECURSIVE envoy (id, n) AS (
                SELECT (SELECT user_id FROM positions WHERE user_id > $1 ORDER BY user_id LIMIT 1), 1
                UNION ALL
                SELECT (SELECT user_id FROM positions WHERE user_id > envoy.id ORDER BY user_id LIMIT 1),
                       n + 1
                FROM envoy WHERE envoy.id IS NOT NULL AND n < $2
             )
             SELECT id FROM envoy WHERE id IS NOT NULL",
        )
        .bind(after.map_or(Uuid::nil(), |u| u.0))
        .bind(i64::from(users))
        .fetch_all(&self.read)
        .await?;
        let mut deleted = 0;
        if !ids.is_empty() {
            let mut tx = self.begin_write().await?;
            for chunk in shaped_chunks(&ids) {
                let mut qb = QueryBuilder::<Db>::new("DELETE FROM positions WHERE ts < ");
                qb.push_bind(to_millis(before));
                qb.push(" AND user_id IN (");
                let mut list = qb.separated(", ");
                for id in chunk {
                    list.push_bind(*id);
                }
                qb.push(")");
                deleted += qb.build().execute(&mut *tx).await?.rows_affected();
            }
            tx.commit().await?;
        }
        Ok(PurgeStep {
            deleted,
            next: if ids.len() < users as usize {
                None
            } else {
                ids.last().copied().map(UserId)
            },
        })
    }
}

#[async_trait]
impl LedgerStore for SqlStore {
    async fn finish_team(
        &self,
        team_id: TeamId,
        by: Option<UserId>,
        outcomes: &[MemberOutcome],
        now: Timestamp,
    ) -> StoreResult<FinishOutcome> {
        let mut tx = self.begin_write().await?;
        let mut team = lock_team(&mut tx, team_id).await?;
        if team.state == TeamState::Finished {
            let members = sqlx::query_as::<_, OutcomeRow>(OUTCOMES_SQL)
                .bind(team_id.0)
                .fetch_all(&mut *tx)
                .await?;
            tx.rollback().await?;
            return Ok(FinishOutcome {
                team,
                members: members.into_iter().map(MemberOutcome::from).collect(),
                credited: Vec::new(),
                already_finished: true,
            });
        }
        let task = task_in(&mut tx, team.task_id, false).await?;
        team.check_finish(by, &task, now)?;

        let members: Vec<MemberOutcome> = member_ids(&mut tx, team_id)
            .await?
            .into_iter()
            .map(|m| {
                outcomes
                    .iter()
                    .find(|o| o.user_id == m)
                    .copied()
                    .unwrap_or(MemberOutcome {
                        user_id: m,
                        patrol_ms: 0,
                        qualified: false,
                    })
            })
            .collect();
        sqlx::query("UPDATE teams SET state = $2, finished_at = $3 WHERE id = $1")
            .bind(team_id.0)
            .bind(TeamState::Finished.as_str())
            .bind(to_millis(now))
            .execute(&mut *tx)
            .await?;
        // at most team_max (≤ 10) members: one statement each
        for m in &members {
            sqlx::query(
                "UPDATE team_members SET patrol_ms = $3, qualified = $4, is_current = 0
                 WHERE team_id = $1 AND user_id = $2",
            )
            .bind(team_id.0)
            .bind(m.user_id.0)
            .bind(m.patrol_ms)
            .bind(m.qualified)
            .execute(&mut *tx)
            .await?;
        }
        let awards: Vec<NewEntry> = members
            .iter()
            .filter(|m| m.qualified)
            .flat_map(|m| ledger::awards(&task, team_id, m.user_id))
            .collect();
        let credited = insert_awards(&mut tx, &awards, now).await?;
        tx.commit().await?;

        team.state = TeamState::Finished;
        team.finished_at = Some(now);
        Ok(FinishOutcome {
            team,
            members,
            credited,
            already_finished: false,
        })
    }

    async fn team_outcomes(&self, team: TeamId) -> StoreResult<Vec<MemberOutcome>> {
        let rows = sqlx::query_as::<_, OutcomeRow>(OUTCOMES_SQL)
            .bind(team.0)
            .fetch_all(&self.read)
            .await?;
        Ok(rows.into_iter().map(MemberOutcome::from).collect())
    }

    async fn add_correction(&self, e: &NewEntry, now: Timestamp) -> StoreResult<LedgerEntry> {
        if e.source != LedgerSource::Correction {
            return Err(DomainError::invalid(
                "invalid_source",
                "only corrections are added by hand; awards come from finishing a patrol",
            )
            .into());
        }
        let mut tx = self.begin_write().await?;
        sqlx::query_scalar::<_, Uuid>("SELECT id FROM users WHERE id = $1")
            .bind(e.user_id.0)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound("user"))?;
        let row = sqlx::query_as::<_, LedgerRow>(&format!(
            "INSERT INTO ledger (id, user_id, kind, amount, reason, team_id, source, created_by, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             RETURNING {LEDGER_COLS}"
        ))
        .bind(LedgerId::new().0)
        .bind(e.user_id.0)
        .bind(e.kind.as_str())
        .bind(e.amount)
        .bind(&e.reason)
        .bind(e.team_id.map(|t| t.0))
        .bind(e.source.as_str())
        .bind(e.created_by.map(|u| u.0))
        .bind(to_millis(now))
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        row.try_into()
    }

    async fn wallet(&self, user: UserId, limit: u32) -> StoreResult<Wallet> {
        // one read transaction, so the balances and the entries agree
        let mut tx = self.read.begin().await?;
        let balances = sqlx::query_as::<_, BalancesRow>(
            "SELECT CAST(COALESCE(SUM(CASE WHEN kind = 'points' THEN amount ELSE 0 END), 0) AS BIGINT) AS points,
                    CAST(COALESCE(SUM(CASE WHEN kind = 'fund' THEN amount ELSE 0 END), 0) AS BIGINT) AS fund_cents
             FROM ledger WHERE user_id = $1",
        )
        .bind(user.0)
        .fetch_one(&mut *tx)
        .await?;
        let rows = sqlx::query_as::<_, LedgerRow>(&format!(
            "SELECT {LEDGER_COLS} FROM ledger WHERE user_id = $1
             ORDER BY created_at DESC, id DESC LIMIT $2"
        ))
        .bind(user.0)
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Wallet {
            points: balances.points,
            fund_cents: balances.fund_cents,
            entries: rows
                .into_iter()
                .map(LedgerEntry::try_from)
                .collect::<StoreResult<_>>()?,
        })
    }

    async fn leaderboard(
        &self,
        from: Timestamp,
        to: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<LeaderRow>> {
        let rows = sqlx::query_as::<_, LeaderRowRow>(
            "SELECT p.user_id, u.name, p.points, CAST(COALESCE(t.patrol_ms, 0) AS BIGINT) AS patrol_ms
             FROM (SELECT user_id, CAST(SUM(amount) AS BIGINT) AS points FROM ledger
                   WHERE kind = 'points' AND created_at >= $1 AND created_at < $2
                   GROUP BY user_id HAVING SUM(amount) > 0) p
             JOIN users u ON u.id = p.user_id
             LEFT JOIN (SELECT m.user_id, CAST(SUM(m.patrol_ms) AS BIGINT) AS patrol_ms
                        FROM team_members m JOIN teams f ON f.id = m.team_id
                        WHERE f.state = 'finished' AND f.finished_at >= $1 AND f.finished_at < $2
                          AND m.patrol_ms IS NOT NULL
                        GROUP BY m.user_id) t ON t.user_id = p.user_id
             ORDER BY p.points DESC, COALESCE(t.patrol_ms, 0) DESC, p.user_id
             LIMIT $3",
        )
        .bind(to_millis(from))
        .bind(to_millis(to))
        .bind(i64::from(limit))
        .fetch_all(&self.read)
        .await?;
        Ok(rows.into_iter().map(LeaderRow::from).collect())
    }

    async fn overdue_teams(&self, now: Timestamp) -> StoreResult<Vec<TeamId>> {
        let ids: Vec<Uuid> = sqlx::query_scalar(
            "SELECT t.id FROM teams t JOIN tasks k ON k.id = t.task_id
             WHERE t.state = 'active' AND k.ends_at <= $1
             ORDER BY k.ends_at, t.id",
        )
        .bind(to_millis(now))
        .fetch_all(&self.read)
        .await?;
        Ok(ids.into_iter().map(TeamId).collect())
    }
}

#[async_trait]
impl Store for SqlStore {
    fn kind(&self) -> crate::DbKind {
        KIND
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.read).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{shaped_chunks, EXACT_BELOW, MAX_CHUNK_ROWS};

    #[test]
    fn chunks_have_few_long_shapes_and_keep_every_row_in_order() {
        for n in [0, 1, 2, 7, 63, 64, 65, 511, 512, 513, 1000, 1537, 5000] {
            let rows: Vec<usize> = (0..n).collect();
            let chunks: Vec<&[usize]> = shaped_chunks(&rows).collect();
            assert_eq!(chunks.concat(), rows, "{n}");
            let (last, long) = chunks
                .split_last()
                .map_or((None, &[][..]), |(l, r)| (Some(l), r));
            for c in long {
                assert!(c.len().is_power_of_two(), "{n}: {}", c.len());
                assert!(
                    (EXACT_BELOW..=MAX_CHUNK_ROWS).contains(&c.len()),
                    "{n}: {}",
                    c.len()
                );
            }
            if let Some(last) = last {
                assert!(
                    last.len() < EXACT_BELOW || last.len().is_power_of_two(),
                    "{n}"
                );
            }
            let short = chunks.iter().filter(|c| c.len() < EXACT_BELOW).count();
            assert!(short <= 1, "{n}: at most one short chunk");
        }
        assert_eq!(
            shaped_chunks(&[0; 7]).count(),
            1,
            "a few rows: one statement"
        );
    }
}
