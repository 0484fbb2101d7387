//! Teams: claim a slot, show the join QR code, join by its token, leave, remove a member,
//! start the patrol with a team photo, follow its progress, finish it.

use crate::error::{ApiError, ApiResult, Created, ErrorBody, NoContent};
use crate::extract::{ApiJson, ApiPath, AuthUser};
use crate::photo;
use crate::qr;
use crate::state::AppState;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use pp_domain::join_token;
use pp_domain::task::Task;
use pp_domain::team::{LeaveOutcome, MemberRole, Team, TeamState};
use pp_domain::{Role, TaskId, TeamId, UserId};
use pp_geo::LatLng;
use pp_store::TeamView;
use serde::{Deserialize, Serialize};
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
        .routes(routes!(qr_svg))
        .routes(routes!(qr_png))
        .routes(routes!(join))
        .routes(routes!(leave))
        .routes(routes!(remove_member))
        .routes(routes!(progress))
        .routes(routes!(finish))
        .merge(
            OpenApiRouter::new()
                .routes(routes!(start))
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

/// `POST /teams/join`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct JoinBody {
    /// the token from the leader's QR code
    pub token: String,
    /// the team the client expects to join; refused (`token_team_mismatch`) if the token names another
    pub team_id: Option<TeamId>,
}

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

/// The multipart form of `POST /teams/{id}/start` (for the API document).
#[derive(Debug, ToSchema)]
#[expect(dead_code, reason = "only documents the multipart form for OpenAPI")]
pub struct StartForm {
    /// JPEG, PNG or WebP, at most 10 MB and 8000 px a side
    #[schema(value_type = String, format = Binary)]
    photo: Vec<u8>,
    /// where the leader stands, latitude
    lat: f64,
    /// where the leader stands, longitude
    lng: f64,
}

/// A fresh join token for `team`, its URL and expiry.
struct Invite {
    token: String,
    url: String,
    expires_at: DateTime<Utc>,
}

fn invite(state: &AppState, team: TeamId) -> Invite {
    let expires_at = state.clock.now() + state.config.join_token_ttl;
    let token = join_token::sign(state.join_secret(), team, expires_at);
    let url = format!("{}/join?token={token}", state.config.public_url);
    Invite {
        token,
        url,
        expires_at,
    }
}

/// The wire form of a team as `viewer` sees it.
fn team_body(state: &AppState, view: TeamView, task: &Task, viewer: UserId) -> TeamBody {
    let team = view.team;
    let invite = (team.state == TeamState::Forming && team.leader_id == viewer)
        .then(|| invite(state, team.id));
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

/// Tells `to` (a team's members, and whoever just left it) on their streams that the team
/// changed: event `team`, `{team_id, change, by, state}`; the app then reads the team again.
pub(crate) fn announce(
    state: &AppState,
    team: TeamId,
    change: &'static str,
    by: Option<UserId>,
    team_state: TeamState,
    to: Vec<UserId>,
) {
    state.events.publish(
        "team",
        crate::events::Audience::Users(to),
        serde_json::json!({ "team_id": team, "change": change, "by": by, "state": team_state }),
        state.clock.now(),
    );
}

/// [`announce`] for a change whose handler holds no view of the team: reads it, and tells its
/// members and `gone` (who left or was removed). The change is made already, so trouble here
/// is logged, not answered.
async fn announce_departure(
    state: &AppState,
    team: TeamId,
    change: &'static str,
    by: UserId,
    gone: UserId,
) {
    match state.store.team(team).await {
        Ok(view) => {
            let mut to: Vec<UserId> = view.members.iter().map(|m| m.user_id).collect();
            to.push(gone);
            announce(state, team, change, Some(by), view.team.state, to);
        }
        Err(e) => tracing::warn!(%team, error = %e, "team change not announced"),
    }
}

/// Tells the members of a team just rendered in `body` that it changed.
fn announce_body(state: &AppState, body: &TeamBody, change: &'static str, by: UserId) {
    let to = body.members.iter().map(|m| m.user_id).collect();
    announce(state, body.id, change, Some(by), body.state, to);
}

/// Loads a team and its task and renders it for `viewer`.
async fn load_team_body(state: &AppState, id: TeamId, viewer: UserId) -> ApiResult<TeamBody> {
    let view = state.store.team(id).await?;
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

/// The join URL of a team the caller leads and that is still forming.
async fn leader_join_url(state: &AppState, id: TeamId, auth: &AuthUser) -> ApiResult<String> {
    let view = state.store.team(id).await?;
    view.team.check_invite(auth.user.id)?;
    Ok(invite(state, id).url)
}

/// An image response that no cache keeps (each carries a fresh token).
fn no_store(content_type: &'static str, body: impl IntoResponse) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

/// The join QR code as SVG (leader).
#[utoipa::path(
    get,
    path = "/teams/{id}/qr.svg",
    tag = "teams",
    security(("bearer" = [])),
    params(("id" = TeamId, Path, description = "team id")),
    responses(
        (status = 200, description = "QR code of a fresh join URL", content_type = "image/svg+xml", body = String),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`not_leader`", body = ErrorBody),
        (status = 404, description = "`team_not_found`", body = ErrorBody),
        (status = 409, description = "`team_not_forming`", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, err(level = "info"), fields(team = %id))]
pub async fn qr_svg(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiPath(id): ApiPath<TeamId>,
) -> ApiResult<Response> {
    let url = leader_join_url(&state, id, &auth).await?;
    Ok(no_store("image/svg+xml", qr::svg(&url)?))
}

/// The join QR code as PNG (leader).
#[utoipa::path(
    get,
    path = "/teams/{id}/qr.png",
    tag = "teams",
    security(("bearer" = [])),
    params(("id" = TeamId, Path, description = "team id")),
    responses(
        (status = 200, description = "QR code of a fresh join URL", content_type = "image/png", body = Vec<u8>),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`not_leader`", body = ErrorBody),
        (status = 404, description = "`team_not_found`", body = ErrorBody),
        (status = 409, description = "`team_not_forming`", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, err(level = "info"), fields(team = %id))]
pub async fn qr_png(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiPath(id): ApiPath<TeamId>,
) -> ApiResult<Response> {
    let url = leader_join_url(&state, id, &auth).await?;
    Ok(no_store("image/png", qr::png(&url)?))
}

/// Join a team with the token of its leader's QR code (envoy). Joining again is harmless.
#[utoipa::path(
    post,
    path = "/teams/join",
    tag = "teams",
    security(("bearer" = [])),
    request_body = JoinBody,
    responses(
        (status = 200, description = "The team joined", body = TeamBody),
        (status = 400, description = "`invalid_join_token`, `join_token_expired`, `token_team_mismatch`, `invalid_json`, `invalid_body`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`wrong_role`", body = ErrorBody),
        (status = 404, description = "`team_not_found`", body = ErrorBody),
        (status = 409, description = "`team_full`, `team_not_forming`, `already_in_team`", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, err(level = "info"), fields(user = %auth.user.id))]
pub async fn join(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiJson(body): ApiJson<JoinBody>,
) -> ApiResult<Json<TeamBody>> {
    auth.require(&[Role::Envoy])?;
    let now = state.clock.now();
    let team = join_token::verify(state.join_secret(), &body.token, now)?;
    if body.team_id.is_some_and(|expected| expected != team) {
        return Err(ApiError::bad_request(
            "token_team_mismatch",
            "this join code is for another team",
        ));
    }
    state.store.join_team(team, auth.user.id, now).await?;
    let body = load_team_body(&state, team, auth.user.id).await?;
    announce_body(&state, &body, "joined", auth.user.id);
    Ok(Json(body))
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
    announce_departure(&state, id, "left", auth.user.id, auth.user.id).await;
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
    announce_departure(&state, id, "removed", auth.user.id, user_id).await;
    Ok(NoContent)
}

/// Start the patrol (leader): a team photo taken inside the task's area, and where it was taken.
#[utoipa::path(
    post,
    path = "/teams/{id}/start",
    tag = "teams",
    security(("bearer" = [])),
    params(("id" = TeamId, Path, description = "team id")),
    request_body(content = StartForm, content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "The team, now active", body = TeamBody),
        (status = 400, description = "`photo_required`, `too_many_photos`, `coordinate_out_of_range`, `invalid_body`, `invalid_multipart`, `invalid_id`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`not_leader`", body = ErrorBody),
        (status = 404, description = "`team_not_found`", body = ErrorBody),
        (status = 409, description = "`team_not_forming`, `team_too_small`, `outside_window`, `outside_area`", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 422, description = "`invalid_photo`", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, err(level = "info"), fields(team = %id, user = %auth.user.id))]
pub async fn start(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiPath(id): ApiPath<TeamId>,
    form: Result<Multipart, MultipartRejection>,
) -> ApiResult<Json<TeamBody>> {
    let mut fields = photo::read_form(form?, &["lat", "lng"], 1).await?;
    let bytes = fields.photos.pop().ok_or_else(|| {
        ApiError::bad_request(
            "photo_required",
            "the form needs a team photo in the field photo",
        )
    })?;
    let at = LatLng::new(fields.number("lat")?, fields.number("lng")?)?;
    let now = state.clock.now();

    // Check the rule first, so a request that will be refused costs no decoding and leaves no
    // file behind; the store checks it again, atomically, when it starts the team.
    let view = state.store.team(id).await?;
    let task = state.store.task(view.team.task_id).await?;
    let members = u32::try_from(view.members.len()).unwrap_or(u32::MAX);
    view.team
        .check_start(auth.user.id, members, &task, at, now)?;

    // The photo is stored before the team refers to it, so an active team never names a
    // missing file. Files are named by content, so a start refused after this point leaves
    // at most one harmless file that a later upload of the same photo would reuse.
    let photo = photo::validate_blocking(bytes).await?;
    let sha256 = photo.sha256.clone();
    photo::save_blocking(state.config.photo_dir(), photo).await?;
    let team = state
        .store
        .start_team(id, auth.user.id, at, &sha256, now)
        .await?;
    tracing::info!(team = %team.id, photo = %sha256, "patrol started");
    let body = load_team_body(&state, id, auth.user.id).await?;
    announce_body(&state, &body, "started", auth.user.id);
    Ok(Json(body))
}

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

fn member_progress_body(
    state: &AppState,
    m: &pp_store::Member,
    task: &Task,
    minutes_inside: f64,
    qualified: bool,
) -> MemberProgressBody {
    let latest = state.live.latest(m.user_id);
    MemberProgressBody {
        user_id: m.user_id,
        name: m.name.clone(),
        role: m.role,
        minutes_inside: round2(minutes_inside),
        remaining_minutes: if qualified {
            0.0
        } else {
            round2((f64::from(task.patrol_minutes) - minutes_inside).max(0.0))
        },
        qualified,
        last_seen: latest.map(|p| p.ts),
        inside_now: latest.map(|p| task.area.contains(p.at)),
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
    let view = state.store.team(id).await?;
    let is_member = view.members.iter().any(|m| m.user_id == auth.user.id);
    Team::check_visible(auth.user.role, is_member)?;
    let task = state.store.task(view.team.task_id).await?;
    let team = &view.team;
    let mut members = Vec::with_capacity(view.members.len());
    let until = match team.finished_at {
        Some(finished) => {
            let outcomes = state.store.team_outcomes(id).await?;
            for m in &view.members {
                let o = outcomes.iter().find(|o| o.user_id == m.user_id);
                let minutes = o.map_or(0.0, |o| o.patrol_ms as f64 / 60_000.0);
                let qualified = o.is_some_and(|o| o.qualified);
                members.push(member_progress_body(&state, m, &task, minutes, qualified));
            }
            crate::patrol::counted_until(&task, finished)
        }
        None => {
            let until = crate::patrol::counted_until(&task, state.clock.now());
            let ids: Vec<UserId> = view.members.iter().map(|m| m.user_id).collect();
            let progress =
                crate::patrol::members_progress(&state, team, &task, &ids, until).await?;
            for (m, p) in view.members.iter().zip(progress) {
                members.push(member_progress_body(
                    &state,
                    m,
                    &task,
                    p.minutes_inside,
                    p.qualified,
                ));
            }
            until
        }
    };
    Ok(Json(ProgressBody {
        team_id: id,
        state: team.state,
        started_at: team.started_at,
        until,
        patrol_minutes: task.patrol_minutes,
        members,
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
    let view = state.store.team(id).await?;
    if view.team.state == TeamState::Finished {
        // a retry: anyone who may see the team gets its result; only the leader may finish
        let is_member = view.members.iter().any(|m| m.user_id == auth.user.id);
        Team::check_visible(auth.user.role, is_member)?;
    } else {
        // checked again by the store, atomically; this spares a refused caller the measuring
        view.team.check_leader(auth.user.id)?;
    }
    let outcome = crate::patrol::finish(&state, id, Some(auth.user.id)).await?;
    let task = state.store.task(outcome.team.task_id).await?;
    Ok(Json(FinishBody {
        team_id: id,
        state: outcome.team.state,
        finished_at: outcome.team.finished_at,
        already_finished: outcome.already_finished,
        credited_entries: outcome.credited.len(),
        members: outcome
            .members
            .iter()
            .map(|o| MemberResultBody {
                user_id: o.user_id,
                minutes_inside: round2(o.patrol_ms as f64 / 60_000.0),
                qualified: o.qualified,
                points: if o.qualified { task.reward_points } else { 0 },
                fund_cents: if o.qualified {
                    task.reward_fund_cents
                } else {
                    0
                },
            })
            .collect(),
    }))
}
