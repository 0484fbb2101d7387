//! Teams and their members: the [`TeamStore`] trait, what it hands back, and the rows they are
//! read from.

use crate::decode::{corrupt, count};
use crate::{StoreError, StoreResult};
use async_trait::async_trait;
use pp_domain::team::{LeaveOutcome, MemberRole, Team, TeamState};
use pp_domain::time::{from_millis, Timestamp};
use pp_domain::{TaskId, TeamId, UserId};
use pp_geo::LatLng;
use uuid::Uuid;

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

/// A team with its current members (leader first).
#[derive(Debug, Clone, PartialEq)]
pub struct TeamView {
    /// the team
    pub team: Team,
    /// current members
    pub members: Vec<Member>,
}

/// A member of a team.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    /// who
    pub user_id: UserId,
    /// their display name
    pub name: String,
    /// leader or member
    pub role: MemberRole,
    /// when they joined
    pub joined_at: Timestamp,
}

/// A team in a task's list.
#[derive(Debug, Clone, PartialEq)]
pub struct TeamSummary {
    /// id
    pub id: TeamId,
    /// leader
    pub leader_id: UserId,
    /// leader's name
    pub leader_name: String,
    /// state
    pub state: TeamState,
    /// current member count
    pub members: u32,
    /// when the slot was claimed
    pub created_at: Timestamp,
    /// when the patrol started
    pub started_at: Option<Timestamp>,
}

/// Who an envoy on the live map is, and the team they are in.
#[derive(Debug, Clone, PartialEq)]
pub struct EnvoyCard {
    /// the account
    pub user: UserId,
    /// display name
    pub name: String,
    /// the forming or active team they are in, with its task and state
    pub team: Option<(TeamId, pp_domain::TaskId, TeamState)>,
}

/// What a join did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinOutcome {
    /// The caller is now a member.
    Joined,
    /// The caller was a member already; nothing changed.
    AlreadyMember,
}

// How they are stored: the rows read back, and what they decode into.

#[derive(sqlx::FromRow)]
pub(crate) struct TeamRow {
    id: Uuid,
    task_id: Uuid,
    leader_id: Uuid,
    state: String,
    created_at: i64,
    started_at: Option<i64>,
    finished_at: Option<i64>,
    photo_sha256: Option<String>,
    start_lat: Option<f64>,
    start_lng: Option<f64>,
}

impl TryFrom<TeamRow> for Team {
    type Error = StoreError;
    fn try_from(r: TeamRow) -> StoreResult<Team> {
        Ok(Team {
            id: TeamId(r.id),
            task_id: TaskId(r.task_id),
            leader_id: UserId(r.leader_id),
            state: TeamState::parse(&r.state).map_err(|e| corrupt("team state", e))?,
            created_at: from_millis(r.created_at),
            started_at: r.started_at.map(from_millis),
            finished_at: r.finished_at.map(from_millis),
            photo_sha256: r.photo_sha256,
            start_position: match (r.start_lat, r.start_lng) {
                (Some(lat), Some(lng)) => {
                    Some(LatLng::new(lat, lng).map_err(|e| corrupt("start position", e))?)
                }
                _ => None,
            },
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct MemberRow {
    user_id: Uuid,
    name: String,
    role: String,
    joined_at: i64,
}

impl From<MemberRow> for Member {
    fn from(r: MemberRow) -> Member {
        Member {
            user_id: UserId(r.user_id),
            name: r.name,
            role: if r.role == "leader" {
                MemberRole::Leader
            } else {
                MemberRole::Member
            },
            joined_at: from_millis(r.joined_at),
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct TeamSummaryRow {
    id: Uuid,
    leader_id: Uuid,
    leader_name: String,
    state: String,
    members: i64,
    created_at: i64,
    started_at: Option<i64>,
}

impl TryFrom<TeamSummaryRow> for TeamSummary {
    type Error = StoreError;
    fn try_from(r: TeamSummaryRow) -> StoreResult<Self> {
        Ok(TeamSummary {
            id: TeamId(r.id),
            leader_id: UserId(r.leader_id),
            leader_name: r.leader_name,
            state: TeamState::parse(&r.state).map_err(|e| corrupt("team state", e))?,
            members: count(r.members),
            created_at: from_millis(r.created_at),
            started_at: r.started_at.map(from_millis),
        })
    }
}

/// An envoy on the live map.
#[derive(sqlx::FromRow)]
pub(crate) struct EnvoyCardRow {
    pub user_id: Uuid,
    pub name: String,
    pub team_id: Option<Uuid>,
    pub task_id: Option<Uuid>,
    pub state: Option<String>,
}

impl TryFrom<EnvoyCardRow> for EnvoyCard {
    type Error = StoreError;
    fn try_from(r: EnvoyCardRow) -> Result<Self, StoreError> {
        let team = match (r.team_id, r.task_id, r.state) {
            (Some(team), Some(task), Some(state)) => Some((
                pp_domain::TeamId(team),
                pp_domain::TaskId(task),
                TeamState::parse(&state).map_err(|e| corrupt("team state", e))?,
            )),
            _ => None,
        };
        Ok(EnvoyCard {
            user: pp_domain::UserId(r.user_id),
            name: r.name,
            team,
        })
    }
}
