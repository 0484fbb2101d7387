//! Peace Patrol's storage: one [`Store`] trait, held as `Arc<dyn Store>`, and two backends —
//! SQLite (embedded, the default) and PostgreSQL — picked from the database URL.
//!
//! Both backends run the same SQL text (`$1` placeholders work in both), compiled twice from
//! one module (`sql/`), so the two cannot drift apart; each keeps its own migrations. Where a
//! dialect must differ (row locks), the backend module says so. Races are settled in the
//! database: PostgreSQL takes row locks, SQLite serialises writers on one connection.
#![warn(missing_docs)]

mod append;
mod chunks;
mod error;
mod model;
mod postgres;
mod rows;
mod sqlite;
#[cfg(feature = "testkit")]
pub mod testing;

pub use error::{StoreError, StoreResult};
pub use model::*;

use async_trait::async_trait;
use pp_domain::account::{NewUser, Phone};
use pp_domain::dispatch::Dispatch;
use pp_domain::incident::{Actor, Category, NewIncident, TimelineEntry};
use pp_domain::stats::Tally;
use pp_domain::task::Task;
use pp_domain::team::{LeaveOutcome, Team};
use pp_domain::time::Timestamp;
use pp_domain::{DispatchId, IncidentId, TaskId, TeamId, UserId};
use pp_geo::LatLng;
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

/// Accounts and sessions.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Creates an account; `Conflict("phone_taken")` when the phone is registered,
    /// `Domain(unknown_department)` when a staff account names no known department.
    async fn create_user(&self, user: &NewUser, now: Timestamp) -> StoreResult<User>;
    /// An account by id.
    async fn user(&self, id: UserId) -> StoreResult<User>;
    /// An account and its password hash, by phone.
    async fn user_credentials(&self, phone: &Phone) -> StoreResult<Option<(User, String)>>;
    /// Records a session by the hash of its token.
    async fn create_session(
        &self,
        token_hash: &[u8],
        user: UserId,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> StoreResult<()>;
    /// The account behind an unexpired session.
    async fn session_user(&self, token_hash: &[u8], now: Timestamp) -> StoreResult<Option<User>>;
    /// Ends a session; ending an unknown one is not an error.
    async fn delete_session(&self, token_hash: &[u8]) -> StoreResult<()>;
    /// Deletes sessions that expired before `now`; returns how many.
    async fn purge_sessions(&self, now: Timestamp) -> StoreResult<u64>;
    /// Opts `user` in to (`true`) or out of emergency dispatch; `NotFound("user")` for an
    /// unknown user.
    async fn set_available(&self, user: UserId, available: bool) -> StoreResult<()>;
    /// The users who opted out of emergency dispatch.
    async fn unavailable_users(&self) -> StoreResult<Vec<UserId>>;
    /// Creates many accounts in one transaction (bulk onboarding, benchmark workloads); a
    /// phone that is registered already is skipped. Returns how many were created.
    async fn create_users_bulk(&self, users: &[NewUser], now: Timestamp) -> StoreResult<u64>;
    /// The ids of the accounts with these phones (unknown phones are left out).
    async fn user_ids_by_phone(&self, phones: &[Phone]) -> StoreResult<Vec<(Phone, UserId)>>;
    /// Imports pending envoys (bulk onboarding), in transactions of a few thousand rows of
    /// multi-row statements. A new phone makes a pending envoy whose code expires at
    /// `expires_at`; a phone pending already gets the new code (attempts reset); a phone of an
    /// active account is left alone. Returns one outcome per row, in order.
    async fn import_envoys(
        &self,
        rows: &[PendingEnvoy],
        expires_at: Timestamp,
        now: Timestamp,
    ) -> StoreResult<Vec<ImportOutcome>>;
    /// Activates the pending account of `phone` when `code_hash` is its code's and it has not
    /// expired nor had `max_attempts` wrong tries: sets `password_hash` and voids the code,
    /// once (concurrent activations are settled in the database: exactly one succeeds). A
    /// wrong code counts an attempt; an unknown phone is `WrongCode`.
    async fn activate(
        &self,
        phone: &Phone,
        code_hash: &[u8],
        password_hash: &str,
        max_attempts: i32,
        now: Timestamp,
    ) -> StoreResult<Activation>;
}

/// Departments and server settings.
#[async_trait]
pub trait AdminStore: Send + Sync {
    /// All departments, by code.
    async fn departments(&self) -> StoreResult<Vec<Department>>;
    /// Adds a department (`Conflict("department_exists")` when the code is taken).
    async fn create_department(
        &self,
        code: &str,
        name_zh: &str,
        name_en: &str,
        now: Timestamp,
    ) -> StoreResult<Department>;
    /// The routing rule of every category, in the order of `Category::ALL`.
    async fn routing(&self) -> StoreResult<Vec<RoutingRule>>;
    /// Sets the department of each category in `rules` (others keep theirs), all or nothing:
    /// `Domain(unknown_department)` when one names no department. Returns every rule after it.
    async fn set_routing(
        &self,
        rules: &[(Category, String)],
        by: UserId,
        now: Timestamp,
    ) -> StoreResult<Vec<RoutingRule>>;
    /// The stored value of a secret named `key`, storing `fresh` first when there is none, so
    /// every node of a cluster signs with the same key.
    async fn secret(&self, key: &str, fresh: &[u8]) -> StoreResult<Vec<u8>>;
}

/// Patrol tasks.
#[async_trait]
pub trait TaskStore: Send + Sync {
    /// Saves a published task.
    async fn insert_task(&self, task: &Task) -> StoreResult<()>;
    /// A task by id.
    async fn task(&self, id: TaskId) -> StoreResult<Task>;
    /// Tasks, newest first, as the filter says, each with its live team count.
    async fn tasks(&self, filter: &TaskFilter) -> StoreResult<Vec<TaskWithTeams>>;
    /// Closes an open task (`Domain(task_closed)` if it is closed already).
    async fn close_task(&self, id: TaskId, now: Timestamp) -> StoreResult<Task>;
}

/// Teams and their members. Each write runs the domain rule inside one transaction over
/// locked rows, so concurrent claims and joins cannot overfill a task or a team.
#[async_trait]
pub trait TeamStore: Send + Sync {
    /// `leader` claims a team slot of `task` (`Task::check_claim`); `Conflict("already_in_team")`
    /// when the caller is in a forming or active team.
    async fn claim_team(&self, task: TaskId, leader: UserId, now: Timestamp) -> StoreResult<Team>;
    /// A team with its current members, leader first then by joining time.
    async fn team(&self, id: TeamId) -> StoreResult<TeamView>;
    /// Live (not disbanded) teams of a task, oldest first.
    async fn teams_of_task(&self, task: TaskId) -> StoreResult<Vec<TeamSummary>>;
    /// `user` joins (`Team::check_join`); joining again is `AlreadyMember`.
    async fn join_team(
        &self,
        team: TeamId,
        user: UserId,
        now: Timestamp,
    ) -> StoreResult<JoinOutcome>;
    /// `user` leaves (`Team::leave`).
    async fn leave_team(
        &self,
        team: TeamId,
        user: UserId,
        now: Timestamp,
    ) -> StoreResult<LeaveOutcome>;
    /// The leader `by` removes `user` (`Team::check_remove`).
    async fn remove_member(
        &self,
        team: TeamId,
        by: UserId,
        user: UserId,
        now: Timestamp,
    ) -> StoreResult<()>;
    /// The leader `by` starts the patrol from `at` with the photo stored under `photo_sha256`
    /// (`Team::check_start`).
    async fn start_team(
        &self,
        team: TeamId,
        by: UserId,
        at: LatLng,
        photo_sha256: &str,
        now: Timestamp,
    ) -> StoreResult<Team>;
    /// The forming or active team `user` is in, if any.
    async fn current_team(&self, user: UserId) -> StoreResult<Option<TeamId>>;
    /// Name and current team of each of `users` that exists (for the live map), in one query
    /// per few hundred users.
    async fn envoy_cards(&self, users: &[UserId]) -> StoreResult<Vec<EnvoyCard>>;
}

/// Envoy positions: the raw track, and each envoy's latest point for the live index.
#[async_trait]
pub trait PositionStore: Send + Sync {
    /// Appends every batch in ONE transaction (the ingest pipeline's group commit), keeping one
    /// point per envoy and `ts` (a point already stored is left as it is), and moves each
    /// envoy's latest unflagged point forward, and adds each new unflagged point to its heat
    /// map aggregate ([`HeatRow`]). Returns, per batch and per point, whether the
    /// point was new. When it returns `Ok` the points are committed.
    async fn append_positions(&self, batches: &[PositionBatch]) -> StoreResult<Vec<Vec<bool>>>;
    /// The heat map's aggregates of the hours `first..=last` (hours since the Unix epoch), in
    /// hour order: each new unflagged point appended adds one visit to its row in the same
    /// transaction. Never purged with the raw positions.
    async fn heat_rows(&self, first: i64, last: i64) -> StoreResult<Vec<HeatRow>>;
    /// The first and last hour that have aggregates (`None` when there are none).
    async fn heat_hours(&self) -> StoreResult<Option<(i64, i64)>>;
    /// Every envoy's latest unflagged point at or after `since` (to rebuild the live index).
    async fn latest_positions(&self, since: Timestamp) -> StoreResult<Vec<LatestPosition>>;
    /// The points of several envoys (a team's members) with `from <= ts <= until`, in one
    /// query: per envoy, ascending, flagged ones included; an envoy without points is absent.
    async fn tracks(
        &self,
        users: &[UserId],
        from: Timestamp,
        until: Timestamp,
    ) -> StoreResult<std::collections::HashMap<UserId, Vec<pp_domain::position::Position>>>;
    /// One envoy's points with `from <= ts <= until`, ascending, flagged ones included.
    async fn positions(
        &self,
        user: UserId,
        from: Timestamp,
        until: Timestamp,
    ) -> StoreResult<Vec<pp_domain::position::Position>> {
        let mut tracks = self.tracks(&[user], from, until).await?;
        Ok(tracks.remove(&user).unwrap_or_default())
    }
    /// One step of the retention sweep: deletes the points older than `before` of the next
    /// `users` envoys (by id) after `after` (`None`: from the first), each step one short
    /// transaction so that ingest is never held up for long. The latest points of the live
    /// index stay. A sweep starts with `after: None` and goes on with the step's `next` until
    /// that is `None`.
    async fn purge_positions(
        &self,
        before: Timestamp,
        after: Option<UserId>,
        users: u32,
    ) -> StoreResult<PurgeStep>;
}

/// Patrol outcomes and the append-only rewards ledger.
#[async_trait]
pub trait LedgerStore: Send + Sync {
    /// Finishes an active team (`Team::check_finish`; `by` is the leader, or `None` when the
    /// server finishes it after the task's window): stores each current member's outcome (from
    /// `outcomes`; a member missing there gets none and does not qualify) and appends the award
    /// entries of the qualified ones (`ledger::awards`), all in one transaction. A team that is
    /// finished already is returned as stored with `already_finished` and nothing changes; the
    /// ledger's uniqueness rule (one award per team, member and kind) holds even so.
    async fn finish_team(
        &self,
        team: TeamId,
        by: Option<UserId>,
        outcomes: &[MemberOutcome],
        now: Timestamp,
    ) -> StoreResult<FinishOutcome>;
    /// The stored outcome of each member of a finished team (empty before the finish).
    async fn team_outcomes(&self, team: TeamId) -> StoreResult<Vec<MemberOutcome>>;
    /// Appends an admin's correction (`ledger::correction`); `NotFound("user")` for an
    /// unknown user.
    async fn add_correction(
        &self,
        entry: &pp_domain::ledger::NewEntry,
        now: Timestamp,
    ) -> StoreResult<LedgerEntry>;
    /// A user's balances and their `limit` latest entries.
    async fn wallet(&self, user: UserId, limit: u32) -> StoreResult<Wallet>;
    /// Users by points entries dated in `[from, to)` (only positive totals), ties broken by
    /// the patrol time of their teams finished in the period, then by user id.
    async fn leaderboard(
        &self,
        from: Timestamp,
        to: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<LeaderRow>>;
    /// Active teams whose task's window has ended by `now` (the server finishes them).
    async fn overdue_teams(&self, now: Timestamp) -> StoreResult<Vec<TeamId>>;
}

/// Emergency dispatches and the envoys they alert. Each write runs the domain rule
/// (`pp_domain::dispatch`) inside one transaction over the locked dispatch row; a unique index
/// keeps an envoy engaged by at most one open dispatch, whatever the concurrency.
#[async_trait]
pub trait DispatchStore: Send + Sync {
    /// Saves a newly opened dispatch (nobody alerted yet).
    async fn create_dispatch(&self, dispatch: &Dispatch) -> StoreResult<()>;
    /// A dispatch with its recipients.
    async fn dispatch(&self, id: DispatchId) -> StoreResult<DispatchView>;
    /// Dispatches as the filter says, newest first.
    async fn dispatches(&self, filter: &DispatchFilter) -> StoreResult<Vec<DispatchView>>;
    /// Alerts the first of `candidates` (envoy and great-circle metres, nearest first) up to
    /// what the dispatch wants now (`Dispatch::wanted`), skipping envoys it alerted before and
    /// envoys engaged by another open dispatch.
    async fn alert_recipients(
        &self,
        id: DispatchId,
        candidates: &[(UserId, f64)],
        now: Timestamp,
    ) -> StoreResult<Alerted>;
    /// `user` answers their alert (`Recipient::respond`); `NotFound("alert")` when the dispatch
    /// did not alert them. Returns the dispatch after it and whether anything changed.
    async fn respond_dispatch(
        &self,
        id: DispatchId,
        user: UserId,
        accept: bool,
        now: Timestamp,
    ) -> StoreResult<(DispatchView, bool)>;
    /// `user` marks arrival from `at`, their latest known position (`None` when the server
    /// has none) (`Recipient::arrive`).
    async fn arrive_dispatch(
        &self,
        id: DispatchId,
        user: UserId,
        at: Option<LatLng>,
        now: Timestamp,
    ) -> StoreResult<(DispatchView, bool)>;
    /// Closes a dispatch (`Dispatch::close`): the alerts not answered expire and every
    /// recipient is free again. Returns the dispatch after it.
    async fn close_dispatch(
        &self,
        id: DispatchId,
        by: UserId,
        now: Timestamp,
    ) -> StoreResult<DispatchView>;
    /// Expires the alerts of open dispatches left unanswered past their time; returns which.
    async fn expire_alerts(&self, now: Timestamp) -> StoreResult<Vec<(DispatchId, UserId)>>;
    /// Widens the dispatch when an escalation is due (`Dispatch::escalation_due`); returns it
    /// when it widened.
    async fn escalate_dispatch(
        &self,
        id: DispatchId,
        now: Timestamp,
    ) -> StoreResult<Option<Dispatch>>;
    /// The envoys engaged by open dispatches (to rebuild the live index's exclusions).
    async fn engaged_envoys(&self) -> StoreResult<Vec<UserId>>;
}

/// Incident reports and their timelines.
#[async_trait]
pub trait IncidentStore: Send + Sync {
    /// Files a report by `reporter`, routed by the category's current rule, with its first
    /// timeline entry, in one transaction (`NotFound("team")` for an unknown `team_id`,
    /// `Domain(not_member)` for a team the reporter was never in).
    async fn report_incident(
        &self,
        reporter: UserId,
        new: &NewIncident<'_>,
        now: Timestamp,
    ) -> StoreResult<IncidentView>;
    /// A report with its timeline (`NotFound("incident")`).
    async fn incident(&self, id: IncidentId) -> StoreResult<IncidentView>;
    /// Reports as the filter says, newest first, without timelines.
    async fn incidents(&self, filter: &IncidentFilter) -> StoreResult<Vec<IncidentView>>;
    /// `actor` changes a report (`Incident::change_status` or `Incident::reroute`) over its
    /// locked row, appending the timeline entry. A report the actor may not see is
    /// `NotFound("incident")`; re-routing to an unknown department is
    /// `Domain(unknown_department)`. Returns the report after it and the new entry (`None`
    /// when nothing changed).
    async fn update_incident(
        &self,
        id: IncidentId,
        actor: &Actor<'_>,
        change: &IncidentChange,
        note: &str,
        now: Timestamp,
    ) -> StoreResult<(IncidentView, Option<TimelineEntry>)>;
}

/// District statistics, counted from the stored records.
#[async_trait]
pub trait StatsStore: Send + Sync {
    /// What happened in `[from, to)` (see [`Tally`]'s fields), read in one snapshot.
    async fn stats_tally(&self, from: Timestamp, to: Timestamp) -> StoreResult<Tally>;
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
