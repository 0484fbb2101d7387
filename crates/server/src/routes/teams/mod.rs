//! Teams: claim a slot, show the join QR code, join by its token, leave, remove a member,
//! start the patrol with a team photo, follow its progress, finish it. What is more than one
//! store call lives in the team and patrol services ([`crate::team`], [`crate::patrol`]).

mod invite;
mod members;
mod patrol;
mod start;

use crate::error::{ApiResult, Created, ErrorBody};
use crate::extract::{ApiPath, AuthUser};
use crate::photo;
use crate::state::AppState;
use crate::team;
use axum::extract::{DefaultBodyLimit, State};
use axum::Json;
use chrono::{DateTime, Utc};
use pp_domain::task::Task;
use pp_domain::team::{MemberRole, Team, TeamState};
use pp_domain::{Role, TaskId, TeamId, UserId};
use pp_store::TeamView;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Body limit of `POST /teams/{id}/start`: a 10 MB photo plus the form around it.
pub const START_BODY_LIMIT: usize = photo::MAX_PHOTO_BYTES + 1024 * 1024;

/// The team routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(claim))
        .routes(routes!(get))
        .routes(routes!(invite::qr_svg))
        .routes(routes!(invite::qr_png))
        .routes(routes!(invite::join))
        .routes(routes!(members::leave))
        .routes(routes!(members::remove_member))
        .routes(routes!(patrol::progress))
        .routes(routes!(patrol::finish))
        .merge(
            OpenApiRouter::new()
                .routes(routes!(start::start))
                .layer(DefaultBodyLimit::max(START_BODY_LIMIT)),
        )
}

/// A team member.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberBody {
    /// who
    pub user_id: UserId,
    /// display name
    pub name: String,
    /// leader or member
    pub role: MemberRole,
    /// when they joined
    pub joined_at: DateTime<Utc>,
}

/// A team. `join_token`, `join_url` and `join_expires_at` are there only for the leader of a
/// forming team: a fresh token on every request.
#[derive(Debug, Serialize, ToSchema)]
pub struct TeamBody {
    /// id
    pub id: TeamId,
    /// the task it patrols
    pub task_id: TaskId,
    /// lifecycle state
    pub state: TeamState,
    /// current leader
    pub leader_id: UserId,
    /// when the slot was claimed
    pub created_at: DateTime<Utc>,
    /// when the patrol started
    pub started_at: Option<DateTime<Utc>>,
    /// when it finished
    pub finished_at: Option<DateTime<Utc>>,
    /// SHA-256 of the start photo
    pub photo_sha256: Option<String>,
    /// current members, leader first
    pub members: Vec<MemberBody>,
    /// fewest members to start (the task's)
    pub team_min: u32,
    /// most members (the task's)
    pub team_max: u32,
    /// signed join token (leader, forming team only)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub join_token: Option<String>,
    /// the URL the QR code carries (leader, forming team only)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub join_url: Option<String>,
    /// when the token expires (leader, forming team only)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub join_expires_at: Option<DateTime<Utc>>,
}

/// The wire form of a team as `viewer` sees it.
pub(super) fn team_body(state: &AppState, view: TeamView, task: &Task, viewer: UserId) -> TeamBody {
    let team = view.team;
    let invite = (team.state == TeamState::Forming && team.leader_id == viewer)
        .then(|| team::invite(state, team.id));
    let (join_token, join_url, join_expires_at) = match invite {
        Some(i) => (Some(i.token), Some(i.url), Some(i.expires_at)),
        None => (None, None, None),
    };
    TeamBody {
        id: team.id,
        task_id: team.task_id,
        state: team.state,
        leader_id: team.leader_id,
        created_at: team.created_at,
        started_at: team.started_at,
        finished_at: team.finished_at,
        photo_sha256: team.photo_sha256,
        members: view
            .members
            .into_iter()
            .map(|m| MemberBody {
                user_id: m.user_id,
                name: m.name,
                role: m.role,
                joined_at: m.joined_at,
            })
            .collect(),
        team_min: task.team_min,
        team_max: task.team_max,
        join_token,
        join_url,
        join_expires_at,
    }
}

/// Loads a team and its task and renders it for `viewer`.
async fn load_team_body(state: &AppState, id: TeamId, viewer: UserId) -> ApiResult<TeamBody> {
    let view = state.store.team(id).await?;
    body_of(state, view, viewer).await
}

/// Loads the task of a team just read and renders the team for `viewer`.
pub(super) async fn body_of(
    state: &AppState,
    view: TeamView,
    viewer: UserId,
) -> ApiResult<TeamBody> {
    let task = state.store.task(view.team.task_id).await?;
    Ok(team_body(state, view, &task, viewer))
}

/// Claim a team slot of a task: the caller becomes its leader (envoy).
#[utoipa::path(
    post,
    path = "/tasks/{id}/teams",
    tag = "teams",
    security(("bearer" = [])),
    params(("id" = TaskId, Path, description = "task id")),
    responses(
        (status = 201, description = "The new team, with the leader's join token", body = TeamBody),
        (status = 400, description = "`invalid_id`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`wrong_role`", body = ErrorBody),
        (status = 404, description = "`task_not_found`", body = ErrorBody),
        (status = 409, description = "`task_closed`, `outside_window`, `no_team_slots`, `already_in_team`", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, err(level = "info"), fields(task = %task_id, user = %auth.user.id))]
pub async fn claim(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiPath(task_id): ApiPath<TaskId>,
) -> ApiResult<Created<TeamBody>> {
    auth.require(&[Role::Envoy])?;
    let team = state
        .store
        .claim_team(task_id, auth.user.id, state.clock.now())
        .await?;
    Ok(Created(
        load_team_body(&state, team.id, auth.user.id).await?,
    ))
}

/// A team (its members, commanders, admins).
#[utoipa::path(
    get,
    path = "/teams/{id}",
    tag = "teams",
    security(("bearer" = [])),
    params(("id" = TeamId, Path, description = "team id")),
    responses(
        (status = 200, description = "The team; the leader of a forming team also gets a fresh join token", body = TeamBody),
        (status = 400, description = "`invalid_id`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`not_member`", body = ErrorBody),
        (status = 404, description = "`team_not_found`", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, err(level = "info"), fields(team = %id, user = %auth.user.id))]
pub async fn get(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiPath(id): ApiPath<TeamId>,
) -> ApiResult<Json<TeamBody>> {
    let view = state.store.team(id).await?;
    let is_member = view.members.iter().any(|m| m.user_id == auth.user.id);
    Team::check_visible(auth.user.role, is_member)?;
    let task = state.store.task(view.team.task_id).await?;
    Ok(Json(team_body(&state, view, &task, auth.user.id)))
}
