//! Starting the patrol: the leader's team photo, taken inside the task's area.

use super::{body_of, TeamBody};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiPath, AuthUser};
use crate::photo;
use crate::state::AppState;
use crate::team;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, State};
use axum::Json;
use pp_domain::TeamId;
use pp_geo::LatLng;
use utoipa::ToSchema;

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
    let view = state.store.team(id).await?;
    team::announce_view(&state, &view, "started", auth.user.id);
    Ok(Json(body_of(&state, view, auth.user.id).await?))
}
