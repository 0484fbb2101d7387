//! Patrol outcomes and the append-only rewards ledger: the [`LedgerStore`] trait, what it hands
//! back, and the rows they are read from.

use crate::decode::corrupt;
use crate::{StoreError, StoreResult};
use async_trait::async_trait;
use pp_domain::ledger::{LedgerKind, LedgerSource};
use pp_domain::team::Team;
use pp_domain::time::{from_millis, Timestamp};
use pp_domain::{LedgerId, TeamId, UserId};
use uuid::Uuid;

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

/// What one member's patrol came to, as measured from their positions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MemberOutcome {
    /// the member
    pub user_id: UserId,
    /// time inside the area, milliseconds
    pub patrol_ms: i64,
    /// whether it reached the task's `patrol_minutes`
    pub qualified: bool,
}

/// A finished team and what each of its members earned.
#[derive(Debug, Clone, PartialEq)]
pub struct FinishOutcome {
    /// the team, now finished
    pub team: Team,
    /// every member at the finish with their stored outcome
    pub members: Vec<MemberOutcome>,
    /// ledger entries this call appended (empty when the team was finished already)
    pub credited: Vec<LedgerEntry>,
    /// the team was finished before this call, which therefore changed nothing
    pub already_finished: bool,
}

/// One entry of the append-only rewards ledger.
#[derive(Debug, Clone, PartialEq)]
pub struct LedgerEntry {
    /// id
    pub id: pp_domain::LedgerId,
    /// whose balance it changes
    pub user_id: UserId,
    /// points or fund
    pub kind: pp_domain::ledger::LedgerKind,
    /// signed amount (points, or cents)
    pub amount: i64,
    /// why
    pub reason: String,
    /// the patrol it rewards
    pub team_id: Option<TeamId>,
    /// award or correction
    pub source: pp_domain::ledger::LedgerSource,
    /// the admin who made a correction
    pub created_by: Option<UserId>,
    /// when
    pub created_at: Timestamp,
}

/// An envoy's balances and latest entries.
#[derive(Debug, Clone, PartialEq)]
pub struct Wallet {
    /// sum of every points entry
    pub points: i64,
    /// sum of every fund entry, cents
    pub fund_cents: i64,
    /// entries, newest first, at most the limit asked for
    pub entries: Vec<LedgerEntry>,
}

// How they are stored: the rows read back, and what they decode into.

/// A row of the leaderboard.
#[derive(Debug, Clone, PartialEq)]
pub struct LeaderRow {
    /// who
    pub user_id: UserId,
    /// their display name
    pub name: String,
    /// points entries dated in the period, summed
    pub points: i64,
    /// patrol time of their teams finished in the period, milliseconds
    pub patrol_ms: i64,
}

#[derive(sqlx::FromRow)]
pub(crate) struct OutcomeRow {
    user_id: Uuid,
    patrol_ms: i64,
    qualified: Option<bool>,
}

impl From<OutcomeRow> for MemberOutcome {
    fn from(r: OutcomeRow) -> MemberOutcome {
        MemberOutcome {
            user_id: UserId(r.user_id),
            patrol_ms: r.patrol_ms,
            qualified: r.qualified.unwrap_or(false),
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct LedgerRow {
    id: Uuid,
    user_id: Uuid,
    kind: String,
    amount: i64,
    reason: String,
    team_id: Option<Uuid>,
    source: String,
    created_by: Option<Uuid>,
    created_at: i64,
}

impl TryFrom<LedgerRow> for LedgerEntry {
    type Error = StoreError;
    fn try_from(r: LedgerRow) -> StoreResult<LedgerEntry> {
        Ok(LedgerEntry {
            id: LedgerId(r.id),
            user_id: UserId(r.user_id),
            kind: LedgerKind::parse(&r.kind).map_err(|e| corrupt("ledger kind", e))?,
            amount: r.amount,
            reason: r.reason,
            team_id: r.team_id.map(TeamId),
            source: LedgerSource::parse(&r.source).map_err(|e| corrupt("ledger source", e))?,
            created_by: r.created_by.map(UserId),
            created_at: from_millis(r.created_at),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct BalancesRow {
    pub points: i64,
    pub fund_cents: i64,
}

#[derive(sqlx::FromRow)]
pub(crate) struct LeaderRowRow {
    user_id: Uuid,
    name: String,
    points: i64,
    patrol_ms: i64,
}

impl From<LeaderRowRow> for LeaderRow {
    fn from(r: LeaderRowRow) -> LeaderRow {
        LeaderRow {
            user_id: UserId(r.user_id),
            name: r.name,
            points: r.points,
            patrol_ms: r.patrol_ms,
        }
    }
}
