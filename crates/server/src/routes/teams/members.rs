//! Leaving a team, and a leader removing a member.

use crate::error::{ApiResult, ErrorBody, NoContent};
use crate::extract::{ApiPath, AuthUser};
use crate::state::AppState;
use crate::team;
use axum::extract::State;
use axum::Json;
use pp_domain::team::LeaveOutcome;
use pp_domain::{TeamId, UserId};
use serde::Serialize;
use utoipa::ToSchema;

/// What leaving did.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LeaveKind {
    /// a member left
    Left,
    /// the leader left; `leader_id` leads now
    NewLeader,
    /// the last member left; the slot is free again
    Disbanded,
}

/// `POST /teams/{id}/leave` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct LeaveBody {
    /// what happened
    pub outcome: LeaveKind,
    /// the team's leader now (null when disbanded)
    pub leader_id: Option<UserId>,
}

/// Leave a team. The leader's place passes to the earliest member; the last one out
/// disbands the team.
#[utoipa::path(
    post,
    path = "/teams/{id}/leave",
    tag = "teams",
    security(("bearer" = [])),
    params(("id" = TeamId, Path, description = "team id")),
    responses(
        (status = 200, description = "What leaving did", body = LeaveBody),
        (status = 400, description = "`invalid_id`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`not_member`", body = ErrorBody),
        (status = 404, description = "`team_not_found`", body = ErrorBody),
        (status = 409, description = "`team_not_current`", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, err(level = "info"), fields(team = %id, user = %auth.user.id))]
pub async fn leave(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiPath(id): ApiPath<TeamId>,
) -> ApiResult<Json<LeaveBody>> {
    let outcome = state
        .store
        .leave_team(id, auth.user.id, state.clock.now())
        .await?;
    let body = match outcome {
        LeaveOutcome::Left => LeaveBody {
            outcome: LeaveKind::Left,
            leader_id: Some(state.store.team(id).await?.team.leader_id),
        },
        LeaveOutcome::NewLeader(leader) => LeaveBody {
            outcome: LeaveKind::NewLeader,
            leader_id: Some(leader),
        },
        LeaveOutcome::Disbanded => LeaveBody {
            outcome: LeaveKind::Disbanded,
            leader_id: None,
        },
    };
    team::announce_departure(&state, id, "left", auth.user.id, auth.user.id).await;
    Ok(Json(body))
}

/// Remove a member from a forming team (leader).
#[utoipa::path(
    delete,
    path = "/teams/{id}/members/{user_id}",
    tag = "teams",
    security(("bearer" = [])),
    params(
        ("id" = TeamId, Path, description = "team id"),
        ("user_id" = UserId, Path, description = "the member to remove"),
    ),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, description = "`invalid_id`, `cannot_remove_self`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`not_leader`", body = ErrorBody),
        (status = 404, description = "`team_not_found`, `member_not_found`", body = ErrorBody),
        (status = 409, description = "`team_not_forming`", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, err(level = "info"), fields(team = %id, member = %user_id))]
pub async fn remove_member(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiPath((id, user_id)): ApiPath<(TeamId, UserId)>,
) -> ApiResult<NoContent> {
    state
        .store
        .remove_member(id, auth.user.id, user_id, state.clock.now())
        .await?;
    team::announce_departure(&state, id, "removed", auth.user.id, user_id).await;
    Ok(NoContent)
}
