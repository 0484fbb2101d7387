//! Following a patrol and finishing it: the answers of the patrol service ([`crate::patrol`]),
//! rounded to two decimals.

use crate::error::{ApiResult, ErrorBody};
use crate::extract::{ApiPath, AuthUser};
use crate::patrol::{self, MemberProgress, MemberResult};
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use pp_domain::team::{MemberRole, TeamState};
use pp_domain::{TeamId, UserId};
use serde::Serialize;
use utoipa::ToSchema;

/// One member's patrol progress.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberProgressBody {
    /// who
    pub user_id: UserId,
    /// display name
    pub name: String,
    /// leader or member
    pub role: MemberRole,
    /// minutes inside the area since the start (two decimals)
    pub minutes_inside: f64,
    /// minutes still needed to qualify (0 once qualified)
    pub remaining_minutes: f64,
    /// whether `minutes_inside` reaches the task's `patrol_minutes`
    pub qualified: bool,
    /// when the member's latest position was taken
    pub last_seen: Option<DateTime<Utc>>,
    /// whether that position is inside the task's area (null without a position)
    pub inside_now: Option<bool>,
}

/// `GET /teams/{id}/progress`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProgressBody {
    /// the team
    pub team_id: TeamId,
    /// its state
    pub state: TeamState,
    /// when the patrol started (null while forming: nothing counts yet)
    pub started_at: Option<DateTime<Utc>>,
    /// the end of the counted period: the finish, or now (never after the task's window)
    pub until: DateTime<Utc>,
    /// minutes inside the area a member needs
    pub patrol_minutes: u32,
    /// every current member
    pub members: Vec<MemberProgressBody>,
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

impl MemberProgressBody {
    fn of(m: MemberProgress) -> MemberProgressBody {
        MemberProgressBody {
            user_id: m.member.user_id,
            name: m.member.name,
            role: m.member.role,
            minutes_inside: round2(m.minutes_inside),
            remaining_minutes: round2(m.remaining_minutes),
            qualified: m.qualified,
            last_seen: m.latest.map(|p| p.ts),
            inside_now: m.inside_now,
        }
    }
}

/// Patrol progress of each member (its members, commanders, admins): minutes inside the
/// task's area since the start, counted between consecutive unflagged in-area points at most
/// 2 minutes apart. A finished team shows the outcome recorded at its finish.
#[utoipa::path(
    get,
    path = "/teams/{id}/progress",
    tag = "teams",
    security(("bearer" = [])),
    params(("id" = TeamId, Path, description = "team id")),
    responses(
        (status = 200, description = "Each member's minutes inside the area and whether they qualify", body = ProgressBody),
        (status = 400, description = "`invalid_id`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`not_member`", body = ErrorBody),
        (status = 404, description = "`team_not_found`", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, err(level = "info"), fields(team = %id, user = %auth.user.id))]
pub async fn progress(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiPath(id): ApiPath<TeamId>,
) -> ApiResult<Json<ProgressBody>> {
    let p = patrol::team_progress(&state, id, auth.user.id, auth.user.role).await?;
    Ok(Json(ProgressBody {
        team_id: id,
        state: p.team.state,
        started_at: p.team.started_at,
        until: p.until,
        patrol_minutes: p.patrol_minutes,
        members: p.members.into_iter().map(MemberProgressBody::of).collect(),
    }))
}

/// One member's result in `POST /teams/{id}/finish`.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberResultBody {
    /// who
    pub user_id: UserId,
    /// minutes inside the area (two decimals)
    pub minutes_inside: f64,
    /// whether they qualified
    pub qualified: bool,
    /// points this patrol earned them (the task's reward when qualified)
    pub points: i64,
    /// fund award this patrol earned them, cents
    pub fund_cents: i64,
}

/// `POST /teams/{id}/finish`.
#[derive(Debug, Serialize, ToSchema)]
pub struct FinishBody {
    /// the team
    pub team_id: TeamId,
    /// `finished`
    pub state: TeamState,
    /// when it finished
    pub finished_at: Option<DateTime<Utc>>,
    /// the team was finished before (by an earlier call or at the end of its window): this
    /// call changed nothing
    pub already_finished: bool,
    /// ledger entries this call appended
    pub credited_entries: usize,
    /// every member's result
    pub members: Vec<MemberResultBody>,
}

impl MemberResultBody {
    fn of(m: &MemberResult) -> MemberResultBody {
        MemberResultBody {
            user_id: m.user_id,
            minutes_inside: round2(m.minutes_inside),
            qualified: m.qualified,
            points: m.points,
            fund_cents: m.fund_cents,
        }
    }
}

/// Finish the patrol (leader): each member whose positions show `patrol_minutes` inside the
/// area is credited the task's points and fund award, once. Finishing a finished team changes
/// nothing and answers its recorded result. Patrols still active when the task's window ends
/// are finished by the server.
#[utoipa::path(
    post,
    path = "/teams/{id}/finish",
    tag = "teams",
    security(("bearer" = [])),
    params(("id" = TeamId, Path, description = "team id")),
    responses(
        (status = 200, description = "The result of each member", body = FinishBody),
        (status = 400, description = "`invalid_id`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`not_leader`", body = ErrorBody),
        (status = 404, description = "`team_not_found`", body = ErrorBody),
        (status = 409, description = "`team_not_active` (forming or disbanded)", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, err(level = "info"), fields(team = %id, user = %auth.user.id))]
pub async fn finish(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiPath(id): ApiPath<TeamId>,
) -> ApiResult<Json<FinishBody>> {
    let report = patrol::finish_by(&state, id, auth.user.id, auth.user.role).await?;
    let outcome = &report.outcome;
    Ok(Json(FinishBody {
        team_id: id,
        state: outcome.team.state,
        finished_at: outcome.team.finished_at,
        already_finished: outcome.already_finished,
        credited_entries: outcome.credited.len(),
        members: report.members.iter().map(MemberResultBody::of).collect(),
    }))
}
