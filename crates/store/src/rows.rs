//! Row types and their conversion into domain types (shared by both backends).

use crate::{
    Department, LatestPosition, LedgerEntry, MemberOutcome, StoreError, StoreResult, User,
};
use pp_domain::account::Phone;
use pp_domain::dispatch::{Dispatch, DispatchPolicy, DispatchState, Recipient, RecipientState};
use pp_domain::incident::{Category, Incident, IncidentStatus, TimelineEntry, TimelineKind};
use pp_domain::ledger::{LedgerKind, LedgerSource};
use pp_domain::position::Position;
use pp_domain::task::{Task, TaskStatus};
use pp_domain::team::{MemberRole, Team, TeamState};
use pp_domain::time::from_millis;
use pp_domain::{DepartmentId, DispatchId, IncidentId, LedgerId, Role, TaskId, TeamId, UserId};
use pp_geo::{Area, LatLng};
use uuid::Uuid;

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Other(anyhow::anyhow!("stored {what} does not decode: {e}"))
}

fn count(v: i64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

#[derive(sqlx::FromRow)]
pub(crate) struct UserRow {
    id: Uuid,
    phone: String,
    name: String,
    role: String,
    department: Option<String>,
    created_at: i64,
}

impl TryFrom<UserRow> for User {
    type Error = StoreError;
    fn try_from(r: UserRow) -> StoreResult<User> {
        Ok(User {
            id: UserId(r.id),
            phone: Phone::from_trusted(r.phone),
            name: r.name,
            role: r.role.parse::<Role>().map_err(|e| corrupt("role", e))?,
            department: r.department,
            created_at: from_millis(r.created_at),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct CredentialsRow {
    #[sqlx(flatten)]
    pub user: UserRow,
    pub password_hash: String,
}

#[derive(sqlx::FromRow)]
pub(crate) struct DepartmentRow {
    id: Uuid,
    code: String,
    name_zh: String,
    name_en: String,
}

impl From<DepartmentRow> for Department {
    fn from(r: DepartmentRow) -> Department {
        Department {
            id: DepartmentId(r.id),
            code: r.code,
            name_zh: r.name_zh,
            name_en: r.name_en,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct TaskRow {
    id: Uuid,
    title: String,
    place: String,
    description: String,
    area: String,
    starts_at: i64,
    ends_at: i64,
    patrol_minutes: i64,
    team_min: i64,
    team_max: i64,
    max_teams: i64,
    reward_points: i64,
    reward_fund_cents: i64,
    status: String,
    created_by: Uuid,
    created_at: i64,
}

impl TryFrom<TaskRow> for Task {
    type Error = StoreError;
    fn try_from(r: TaskRow) -> StoreResult<Task> {
        let area: serde_json::Value =
            serde_json::from_str(&r.area).map_err(|e| corrupt("task area", e))?;
        Ok(Task {
            id: TaskId(r.id),
            title: r.title,
            place: r.place,
            description: r.description,
            area: Area::from_stored_geojson(&area).map_err(|e| corrupt("task area", e))?,
            starts_at: from_millis(r.starts_at),
            ends_at: from_millis(r.ends_at),
            patrol_minutes: count(r.patrol_minutes),
            team_min: count(r.team_min),
            team_max: count(r.team_max),
            max_teams: count(r.max_teams),
            reward_points: r.reward_points,
            reward_fund_cents: r.reward_fund_cents,
            status: TaskStatus::parse(&r.status).map_err(|e| corrupt("task status", e))?,
            created_by: UserId(r.created_by),
            created_at: from_millis(r.created_at),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct TaskTeamsRow {
    #[sqlx(flatten)]
    pub task: TaskRow,
    pub teams: i64,
}

impl TryFrom<TaskTeamsRow> for crate::TaskWithTeams {
    type Error = StoreError;
    fn try_from(r: TaskTeamsRow) -> StoreResult<Self> {
        Ok(crate::TaskWithTeams {
            task: r.task.try_into()?,
            teams: count(r.teams),
        })
    }
}

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

impl From<MemberRow> for crate::Member {
    fn from(r: MemberRow) -> crate::Member {
        crate::Member {
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

impl TryFrom<TeamSummaryRow> for crate::TeamSummary {
    type Error = StoreError;
    fn try_from(r: TeamSummaryRow) -> StoreResult<Self> {
        Ok(crate::TeamSummary {
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

fn lat_lng(lat: f64, lng: f64) -> StoreResult<LatLng> {
    LatLng::new(lat, lng).map_err(|e| corrupt("position", e))
}

/// A key `INSERT … RETURNING` hands back for a point that was new.
#[derive(sqlx::FromRow)]
pub(crate) struct PositionKeyRow {
    pub user_id: Uuid,
    pub ts: i64,
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

impl TryFrom<EnvoyCardRow> for crate::EnvoyCard {
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
        Ok(crate::EnvoyCard {
            user: pp_domain::UserId(r.user_id),
            name: r.name,
            team,
        })
    }
}

/// A heat map aggregate row.
#[derive(sqlx::FromRow)]
pub(crate) struct HeatRowRow {
    pub hour: i64,
    pub r7: i64,
    pub r8: i64,
    pub r9: i64,
    pub r10: i64,
    pub user_id: Uuid,
    pub visits: i64,
}

impl From<HeatRowRow> for crate::HeatRow {
    fn from(r: HeatRowRow) -> crate::HeatRow {
        // H3 indexes use 63 bits, so they are stored as signed 64-bit integers unchanged
        let cell = |c: i64| c as u64;
        crate::HeatRow {
            hour: r.hour,
            cells: pp_geo::cells::Cells([cell(r.r7), cell(r.r8), cell(r.r9), cell(r.r10)]),
            user: pp_domain::UserId(r.user_id),
            visits: u32::try_from(r.visits).unwrap_or(u32::MAX),
        }
    }
}

/// An envoy's point: of its track, or its latest (selected with `FALSE AS flagged`).
#[derive(sqlx::FromRow)]
pub(crate) struct TrackRow {
    pub user_id: Uuid,
    #[sqlx(flatten)]
    pub point: PositionRow,
}

#[derive(sqlx::FromRow)]
pub(crate) struct PositionRow {
    ts: i64,
    lat: f64,
    lng: f64,
    accuracy_m: f64,
    flagged: bool,
}

impl TryFrom<PositionRow> for Position {
    type Error = StoreError;
    fn try_from(r: PositionRow) -> StoreResult<Position> {
        Ok(Position {
            ts: from_millis(r.ts),
            at: lat_lng(r.lat, r.lng)?,
            accuracy_m: r.accuracy_m,
            flagged: r.flagged,
        })
    }
}

impl TryFrom<TrackRow> for LatestPosition {
    type Error = StoreError;
    fn try_from(r: TrackRow) -> StoreResult<LatestPosition> {
        Ok(LatestPosition {
            user: UserId(r.user_id),
            position: Position::try_from(r.point)?,
        })
    }
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

impl From<LeaderRowRow> for crate::LeaderRow {
    fn from(r: LeaderRowRow) -> crate::LeaderRow {
        crate::LeaderRow {
            user_id: UserId(r.user_id),
            name: r.name,
            points: r.points,
            patrol_ms: r.patrol_ms,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct DispatchRow {
    id: Uuid,
    created_by: Uuid,
    created_at: i64,
    lat: f64,
    lng: f64,
    radius_m: f64,
    needed: i64,
    message: String,
    overfill: i64,
    alert_timeout_ms: i64,
    escalate_after_ms: i64,
    max_radius_m: f64,
    state: String,
    escalations: i64,
    escalated_at: i64,
    closed_at: Option<i64>,
    closed_by: Option<Uuid>,
}

impl TryFrom<DispatchRow> for Dispatch {
    type Error = StoreError;
    fn try_from(r: DispatchRow) -> StoreResult<Dispatch> {
        Ok(Dispatch {
            id: DispatchId(r.id),
            created_by: UserId(r.created_by),
            created_at: from_millis(r.created_at),
            at: LatLng::new(r.lat, r.lng).map_err(|e| corrupt("dispatch point", e))?,
            radius_m: r.radius_m,
            needed: count(r.needed),
            message: r.message,
            policy: DispatchPolicy {
                overfill: count(r.overfill),
                alert_timeout: chrono::Duration::milliseconds(r.alert_timeout_ms),
                escalate_after: chrono::Duration::milliseconds(r.escalate_after_ms),
                max_radius_m: r.max_radius_m,
            },
            state: DispatchState::parse(&r.state).map_err(|e| corrupt("dispatch state", e))?,
            escalations: count(r.escalations),
            escalated_at: from_millis(r.escalated_at),
            closed_at: r.closed_at.map(from_millis),
            closed_by: r.closed_by.map(UserId),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct RecipientRow {
    pub dispatch_id: Uuid,
    user_id: Uuid,
    name: String,
    state: String,
    distance_m: f64,
    wave: i64,
    notified_at: i64,
    expires_at: i64,
    answered_at: Option<i64>,
    arrived_at: Option<i64>,
}

impl TryFrom<RecipientRow> for crate::RecipientView {
    type Error = StoreError;
    fn try_from(r: RecipientRow) -> StoreResult<Self> {
        Ok(crate::RecipientView {
            recipient: Recipient {
                user: UserId(r.user_id),
                state: RecipientState::parse(&r.state)
                    .map_err(|e| corrupt("recipient state", e))?,
                distance_m: r.distance_m,
                wave: count(r.wave),
                notified_at: from_millis(r.notified_at),
                expires_at: from_millis(r.expires_at),
                answered_at: r.answered_at.map(from_millis),
                arrived_at: r.arrived_at.map(from_millis),
            },
            name: r.name,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct IncidentRow {
    id: Uuid,
    reporter_id: Uuid,
    reporter_name: String,
    category: String,
    description: String,
    lat: f64,
    lng: f64,
    team_id: Option<Uuid>,
    department: String,
    status: String,
    photos: String,
    media_url: Option<String>,
    created_at: i64,
    updated_at: i64,
    acknowledged_at: Option<i64>,
    closed_at: Option<i64>,
}

impl TryFrom<IncidentRow> for crate::IncidentView {
    type Error = StoreError;
    fn try_from(r: IncidentRow) -> StoreResult<Self> {
        Ok(crate::IncidentView {
            incident: Incident {
                id: IncidentId(r.id),
                reporter: UserId(r.reporter_id),
                category: Category::parse(&r.category).map_err(|e| corrupt("category", e))?,
                description: r.description,
                at: LatLng::new(r.lat, r.lng).map_err(|e| corrupt("incident point", e))?,
                team_id: r.team_id.map(TeamId),
                department: r.department,
                status: IncidentStatus::parse(&r.status)
                    .map_err(|e| corrupt("incident status", e))?,
                photos: r.photos.split_whitespace().map(str::to_owned).collect(),
                media_url: r.media_url,
                created_at: from_millis(r.created_at),
                updated_at: from_millis(r.updated_at),
                acknowledged_at: r.acknowledged_at.map(from_millis),
                closed_at: r.closed_at.map(from_millis),
            },
            reporter_name: r.reporter_name,
            timeline: Vec::new(),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct TimelineRow {
    at: i64,
    actor_id: Uuid,
    actor_name: String,
    kind: String,
    status: String,
    department: String,
    note: String,
}

impl TryFrom<TimelineRow> for crate::TimelineView {
    type Error = StoreError;
    fn try_from(r: TimelineRow) -> StoreResult<Self> {
        Ok(crate::TimelineView {
            entry: TimelineEntry {
                at: from_millis(r.at),
                actor: UserId(r.actor_id),
                kind: TimelineKind::parse(&r.kind).map_err(|e| corrupt("timeline kind", e))?,
                status: IncidentStatus::parse(&r.status)
                    .map_err(|e| corrupt("timeline status", e))?,
                department: r.department,
                note: r.note,
            },
            actor_name: r.actor_name,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct RoutingRow {
    category: String,
    department: String,
    updated_at: i64,
    updated_by: Option<Uuid>,
}

impl TryFrom<RoutingRow> for crate::RoutingRule {
    type Error = StoreError;
    fn try_from(r: RoutingRow) -> StoreResult<Self> {
        Ok(crate::RoutingRule {
            category: Category::parse(&r.category).map_err(|e| corrupt("category", e))?,
            department: r.department,
            updated_at: from_millis(r.updated_at),
            updated_by: r.updated_by.map(UserId),
        })
    }
}
