//! Patrol tasks: publish, list (optionally near a point), read, close.

use crate::error::{ApiError, ApiResult, Created, ErrorBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery, AuthUser};
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use pp_domain::task::{NewTask, Task, TaskStatus};
use pp_domain::team::TeamState;
use pp_domain::{Role, TaskId, TeamId, UserId};
use pp_geo::{BBox, LatLng};
use pp_store::{TaskFilter, TaskWithTeams, TeamSummary};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Default and largest `radius_m` of `GET /tasks?near=`.
pub const DEFAULT_RADIUS_M: f64 = 5_000.0;
/// Largest `radius_m`.
pub const MAX_RADIUS_M: f64 = 50_000.0;
/// Default and largest `limit` of `GET /tasks`.
pub const DEFAULT_LIMIT: u32 = 100;
/// Largest `limit`.
pub const MAX_LIMIT: u32 = 1_000;

/// Who may publish and close tasks.
const COMMAND: [Role; 2] = [Role::Commander, Role::Admin];

/// The task routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(get))
        .routes(routes!(close))
}

/// A WGS-84 point.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct LatLngBody {
    /// latitude, degrees
    pub lat: f64,
    /// longitude, degrees
    pub lng: f64,
}

impl From<LatLng> for LatLngBody {
    fn from(p: LatLng) -> Self {
        LatLngBody {
            lat: p.lat,
            lng: p.lng,
        }
    }
}

/// A published task.
#[derive(Debug, Serialize, ToSchema)]
pub struct TaskBody {
    /// id
    pub id: TaskId,
    /// title
    pub title: String,
    /// place name
    pub place: String,
    /// what to do
    pub description: String,
    /// the geofence: a GeoJSON Polygon, or `{"type": "Circle", "center": [lng, lat], "radius_m": R}`
    #[schema(value_type = Object)]
    pub area: serde_json::Value,
    /// the area's centre
    pub center: LatLngBody,
    /// window start
    pub starts_at: DateTime<Utc>,
    /// window end
    pub ends_at: DateTime<Utc>,
    /// minutes inside the area to qualify
    pub patrol_minutes: u32,
    /// fewest members to start
    pub team_min: u32,
    /// most members
    pub team_max: u32,
    /// teams wanted
    pub max_teams: u32,
    /// points per qualified member
    pub reward_points: i64,
    /// fund award per qualified member, in cents
    pub reward_fund_cents: i64,
    /// open or closed
    pub status: TaskStatus,
    /// who published it
    pub created_by: UserId,
    /// when
    pub created_at: DateTime<Utc>,
    /// live (not disbanded) teams
    pub teams: u32,
    /// team slots still free
    pub free_slots: u32,
    /// metres from `near` to the area (0 inside); only when `near` was given
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distance_m: Option<f64>,
}

impl TaskBody {
    /// The wire form of `task`, which has `teams` live teams.
    pub fn new(task: &Task, teams: u32, distance_m: Option<f64>) -> Self {
        TaskBody {
            id: task.id,
            title: task.title.clone(),
            place: task.place.clone(),
            description: task.description.clone(),
            area: task.area.to_geojson(),
            center: task.area.center().into(),
            starts_at: task.starts_at,
            ends_at: task.ends_at,
            patrol_minutes: task.patrol_minutes,
            team_min: task.team_min,
            team_max: task.team_max,
            max_teams: task.max_teams,
            reward_points: task.reward_points,
            reward_fund_cents: task.reward_fund_cents,
            status: task.status,
            created_by: task.created_by,
            created_at: task.created_at,
            teams,
            free_slots: task.free_slots(teams),
            distance_m,
        }
    }
}

/// A team in a task's list.
#[derive(Debug, Serialize, ToSchema)]
pub struct TeamSummaryBody {
    /// id
    pub id: TeamId,
    /// leader
    pub leader_id: UserId,
    /// leader's name
    pub leader_name: String,
    /// state
    pub state: TeamState,
    /// member count
    pub members: u32,
    /// when the slot was claimed
    pub created_at: DateTime<Utc>,
    /// when the patrol started
    pub started_at: Option<DateTime<Utc>>,
}

impl From<&TeamSummary> for TeamSummaryBody {
    fn from(t: &TeamSummary) -> Self {
        TeamSummaryBody {
            id: t.id,
            leader_id: t.leader_id,
            leader_name: t.leader_name.clone(),
            state: t.state,
            members: t.members,
            created_at: t.created_at,
            started_at: t.started_at,
        }
    }
}

/// A task with its teams.
#[derive(Debug, Serialize, ToSchema)]
pub struct TaskDetailBody {
    /// the task
    #[serde(flatten)]
    pub task: TaskBody,
    /// its live teams, oldest first
    pub teams_list: Vec<TeamSummaryBody>,
}

/// `GET /tasks` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct TaskListBody {
    /// the tasks: by distance with `near`, newest first without
    pub tasks: Vec<TaskBody>,
}

/// `GET /tasks` filters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// `lat,lng`: only tasks within `radius_m` of this point, nearest first
    #[param(example = "23.1066,113.3245")]
    pub near: Option<String>,
    /// metres, with `near` (default 5000, at most 50000)
    pub radius_m: Option<f64>,
    /// `open` or `closed`
    pub status: Option<String>,
    /// most tasks returned (default 100; larger values are capped at 1000)
    pub limit: Option<u32>,
}

/// Parses `near=lat,lng`.
fn parse_near(s: &str) -> ApiResult<LatLng> {
    let bad = || {
        ApiError::bad_request(
            "invalid_near",
            format!("near must be \"lat,lng\" in degrees, got {s:?}"),
        )
    };
    let (lat, lng) = s.split_once(',').ok_or_else(bad)?;
    let lat: f64 = lat.trim().parse().map_err(|_| bad())?;
    let lng: f64 = lng.trim().parse().map_err(|_| bad())?;
    Ok(LatLng::new(lat, lng)?)
}

/// Publish a task (commander, admin).
#[utoipa::path(
    post,
    path = "/tasks",
    tag = "tasks",
    security(("bearer" = [])),
    request_body = NewTask,
    responses(
        (status = 201, description = "The published task", body = TaskBody),
        (status = 400, description = "`invalid_title`, `invalid_window`, `invalid_team_size`, `invalid_geojson`, `radius_out_of_range`, … or `invalid_json`/`invalid_body`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`wrong_role`", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, err(level = "info"), fields(user = %auth.user.id))]
pub async fn create(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiJson(input): ApiJson<NewTask>,
) -> ApiResult<Created<TaskBody>> {
    auth.require(&COMMAND)?;
    let task = Task::publish(input, auth.user.id, state.clock.now())?;
    state.store.insert_task(&task).await?;
    Ok(Created(TaskBody::new(&task, 0, None)))
}

/// List tasks, optionally near a point.
#[utoipa::path(
    get,
    path = "/tasks",
    tag = "tasks",
    security(("bearer" = [])),
    params(ListQuery),
    responses(
        (status = 200, description = "Matching tasks", body = TaskListBody),
        (status = 400, description = "`invalid_near`, `coordinate_out_of_range`, `invalid_radius`, `invalid_status`, `invalid_query`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, err(level = "info"), fields(user = %_auth.user.id))]
pub async fn list(
    State(state): State<AppState>,
    _auth: AuthUser,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<TaskListBody>> {
    let status = q.status.as_deref().map(TaskStatus::parse).transpose()?;
    let near = q.near.as_deref().map(parse_near).transpose()?;
    let radius_m = q.radius_m.unwrap_or(DEFAULT_RADIUS_M);
    if !(radius_m.is_finite() && (0.0..=MAX_RADIUS_M).contains(&radius_m)) {
        return Err(ApiError::bad_request(
            "invalid_radius",
            format!("radius_m must be 0 to {MAX_RADIUS_M} metres"),
        ));
    }
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT);
    let filter = TaskFilter {
        status,
        // the store prefilters by bounding box; exact distances are computed here
        bbox: near.map(|p| BBox::around(p, radius_m)),
        limit: near.is_none().then_some(limit),
    };
    let found = state.store.tasks(&filter).await?;
    let tasks = match near {
        Some(p) => {
            let mut near: Vec<(f64, &TaskWithTeams)> = found
                .iter()
                .map(|t| (t.task.area.distance_m(p), t))
                .filter(|(d, _)| *d <= radius_m)
                .collect();
            near.sort_by(|a, b| a.0.total_cmp(&b.0));
            near.into_iter()
                .take(usize::try_from(limit).unwrap_or(usize::MAX))
                .map(|(d, t)| TaskBody::new(&t.task, t.teams, Some(d)))
                .collect()
        }
        None => found
            .iter()
            .map(|t| TaskBody::new(&t.task, t.teams, None))
            .collect(),
    };
    Ok(Json(TaskListBody { tasks }))
}

/// A task with its teams.
#[utoipa::path(
    get,
    path = "/tasks/{id}",
    tag = "tasks",
    security(("bearer" = [])),
    params(("id" = TaskId, Path, description = "task id")),
    responses(
        (status = 200, description = "The task and its live teams", body = TaskDetailBody),
        (status = 400, description = "`invalid_id`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 404, description = "`task_not_found`", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, err(level = "info"), fields(task = %id))]
pub async fn get(
    State(state): State<AppState>,
    _auth: AuthUser,
    ApiPath(id): ApiPath<TaskId>,
) -> ApiResult<Json<TaskDetailBody>> {
    let task = state.store.task(id).await?;
    let teams = state.store.teams_of_task(id).await?;
    let count = u32::try_from(teams.len()).unwrap_or(u32::MAX);
    Ok(Json(TaskDetailBody {
        task: TaskBody::new(&task, count, None),
        teams_list: teams.iter().map(TeamSummaryBody::from).collect(),
    }))
}

/// Close a task (commander, admin): no new teams.
#[utoipa::path(
    post,
    path = "/tasks/{id}/close",
    tag = "tasks",
    security(("bearer" = [])),
    params(("id" = TaskId, Path, description = "task id")),
    responses(
        (status = 200, description = "The closed task", body = TaskBody),
        (status = 400, description = "`invalid_id`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`wrong_role`", body = ErrorBody),
        (status = 404, description = "`task_not_found`", body = ErrorBody),
        (status = 409, description = "`task_closed`", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, err(level = "info"), fields(task = %id))]
pub async fn close(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiPath(id): ApiPath<TaskId>,
) -> ApiResult<Json<TaskBody>> {
    auth.require(&COMMAND)?;
    let task = state.store.close_task(id, state.clock.now()).await?;
    let teams = state.store.teams_of_task(id).await?;
    Ok(Json(TaskBody::new(
        &task,
        u32::try_from(teams.len()).unwrap_or(u32::MAX),
        None,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_parses_lat_then_lng() {
        let p = parse_near("23.1066, 113.3245").unwrap();
        assert_eq!((p.lat, p.lng), (23.1066, 113.3245));
        assert_eq!(parse_near("23.1").unwrap_err().code(), "invalid_near");
        assert_eq!(parse_near("a,b").unwrap_err().code(), "invalid_near");
        assert_eq!(
            parse_near("91,0").unwrap_err().code(),
            "coordinate_out_of_range"
        );
    }
}
