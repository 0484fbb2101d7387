//! Incident reports: anyone signed in reports what they see (with up to three photos); the
//! report is routed at once to the department its category goes to; that department's staff
//! (or a commander) work it to the end, a commander may send it elsewhere, and the reporter
//! follows every step on their event stream. The rules are the domain's
//! (`pp_domain::incident`), filing and working a report the incident service's
//! ([`crate::incident`]); Open311 clients reach the same reports through [`crate::open311`].

use crate::error::{ApiError, ApiResult, Created, ErrorBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery, AuthUser};
use crate::incident::{self, IncidentBody};
use crate::photo;
use crate::state::AppState;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use pp_domain::incident::{Category, IncidentStatus, NewIncident, MAX_PHOTOS};
use pp_domain::{IncidentId, TeamId};
use pp_geo::{BBox, LatLng};
use pp_store::{IncidentChange, IncidentFilter, IncidentView};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Body limit of `POST /incidents`: three 10 MB photos plus the form around them.
pub const REPORT_BODY_LIMIT: usize = MAX_PHOTOS * photo::MAX_PHOTO_BYTES + 1024 * 1024;
/// Default and largest `limit` of `GET /incidents`.
const LIMIT: (u32, u32) = (100, 1000);

/// The routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(show, change))
        .routes(routes!(photo_file))
        // only the report form may be large
        .merge(
            OpenApiRouter::new()
                .routes(routes!(report))
                .layer(DefaultBodyLimit::max(REPORT_BODY_LIMIT)),
        )
}

/// The multipart form of `POST /incidents` (for the API document).
#[derive(ToSchema)]
#[expect(dead_code, reason = "only documents the multipart form for OpenAPI")]
pub struct ReportForm {
    /// one of the categories (`GET /routing` lists them)
    category: String,
    /// what you see (1 to 2,000 characters)
    description: String,
    /// latitude (WGS-84)
    lat: f64,
    /// longitude (WGS-84)
    lng: f64,
    /// your team (one you are or were in), when reporting on patrol
    team_id: Option<TeamId>,
    /// up to three photos (JPEG, PNG or WebP, 10 MB and 8000 px a side each): repeat the field
    #[schema(format = Binary)]
    photo: Option<Vec<u8>>,
}

/// Saves and validates the photos of a report (off the async threads), returning their file
/// names (`<sha256>.<ext>`) in the order sent.
pub async fn store_photos(state: &AppState, photos: Vec<Vec<u8>>) -> ApiResult<Vec<String>> {
    let mut names = Vec::with_capacity(photos.len());
    for bytes in photos {
        let p = photo::validate_blocking(bytes).await?;
        let name = p.file_name();
        photo::save_blocking(state.config.photo_dir(), p).await?;
        names.push(name);
    }
    Ok(names)
}

/// Report an incident (anyone signed in): routed at once to the department of its category;
/// the reporter follows it on their event stream (`incident`).
#[utoipa::path(
    post,
    path = "/incidents",
    tag = "incidents",
    security(("bearer" = [])),
    request_body(content = ReportForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "The report, routed", body = IncidentBody),
        (status = 400, description = "`invalid_category`, `invalid_description`, `coordinate_out_of_range`, `too_many_photos`, `invalid_body`, `invalid_multipart`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`not_member` (a team the reporter was never in)", body = ErrorBody),
        (status = 404, description = "`team_not_found`", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 422, description = "`invalid_photo`", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, err(level = "info"), fields(user = %auth.user.id))]
pub async fn report(
    State(state): State<AppState>,
    auth: AuthUser,
    form: Result<Multipart, MultipartRejection>,
) -> ApiResult<Created<IncidentBody>> {
    let form = photo::read_form(
        form?,
        &["category", "description", "lat", "lng", "team_id"],
        MAX_PHOTOS,
    )
    .await?;
    let category = Category::parse(form.required("category")?.trim())?;
    let description = pp_domain::incident::description(form.required("description")?)?;
    let at = LatLng::new(form.number("lat")?, form.number("lng")?)?;
    let team_id = match form.field("team_id").map(str::trim) {
        None | Some("") => None,
        Some(t) => Some(t.parse::<TeamId>().map_err(|_| {
            ApiError::bad_request(
                "invalid_body",
                format!("team_id must be a team's id, got {t:?}"),
            )
        })?),
    };
    // checked before the photos are decoded, so a refused report costs no decoding
    let photos = store_photos(&state, form.photos).await?;
    let new = NewIncident {
        category,
        description: &description,
        at,
        team_id,
        photos,
        media_url: None,
    };
    let view = incident::file(&state, auth.user.id, &new).await?;
    Ok(Created(IncidentBody::of(&state, &view, true)))
}

/// `GET /incidents` filters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// `open`, `acknowledged`, `in_progress`, `resolved` or `rejected`
    pub status: Option<String>,
    /// a category code
    pub category: Option<String>,
    /// a department code
    pub department: Option<String>,
    /// `min_lng,min_lat,max_lng,max_lat`
    pub bbox: Option<String>,
    /// reported at or after (RFC 3339)
    pub from: Option<DateTime<Utc>>,
    /// reported before (RFC 3339)
    pub to: Option<DateTime<Utc>>,
    /// most reports, newest first (default 100, at most 1,000)
    pub limit: Option<u32>,
}

/// `GET /incidents`.
#[derive(Debug, Serialize, ToSchema)]
pub struct IncidentList {
    /// newest first
    pub incidents: Vec<IncidentBody>,
}

/// Reports, newest first: commanders and admins see all, staff their department's, envoys
/// their own.
#[utoipa::path(
    get,
    path = "/incidents",
    tag = "incidents",
    security(("bearer" = [])),
    params(ListQuery),
    responses(
        (status = 200, description = "Reports, newest first", body = IncidentList),
        (status = 400, description = "`invalid_status`, `invalid_category`, `invalid_bbox`, `invalid_query`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`not_your_department` (staff asking for another department)", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, err(level = "info"), fields(user = %auth.user.id))]
pub async fn list(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<IncidentList>> {
    let mut filter = IncidentFilter {
        statuses: q
            .status
            .as_deref()
            .map(IncidentStatus::parse)
            .transpose()?
            .into_iter()
            .collect(),
        categories: q
            .category
            .as_deref()
            .map(Category::parse)
            .transpose()?
            .into_iter()
            .collect(),
        department: q.department.filter(|d| !d.is_empty()),
        bbox: q.bbox.as_deref().map(BBox::parse).transpose()?,
        from: q.from,
        to: q.to,
        limit: q.limit.unwrap_or(LIMIT.0).clamp(1, LIMIT.1),
        ..IncidentFilter::default()
    };
    incident::scope(&mut filter, &incident::actor(&auth.user))?;
    let incidents = state
        .store
        .incidents(&filter)
        .await?
        .iter()
        .map(|v| IncidentBody::of(&state, v, false))
        .collect();
    Ok(Json(IncidentList { incidents }))
}

fn not_found() -> ApiError {
    ApiError::not_found("incident_not_found", "incident not found")
}

/// Loads a report the caller may see (404 otherwise, as for one that does not exist).
async fn visible(state: &AppState, id: IncidentId, auth: &AuthUser) -> ApiResult<IncidentView> {
    let view = state.store.incident(id).await?;
    if view.incident.may_see(&incident::actor(&auth.user)) {
        Ok(view)
    } else {
        Err(not_found())
    }
}

/// A report with its timeline (its reporter, its department's staff, commanders, admins).
#[utoipa::path(
    get,
    path = "/incidents/{id}",
    tag = "incidents",
    security(("bearer" = [])),
    params(("id" = IncidentId, Path, description = "incident id")),
    responses(
        (status = 200, description = "The report and its timeline", body = IncidentBody),
        (status = 400, description = "`invalid_id`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 404, description = "`incident_not_found` (also for one the caller may not see)", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, err(level = "info"), fields(user = %auth.user.id))]
pub async fn show(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiPath(id): ApiPath<IncidentId>,
) -> ApiResult<Json<IncidentBody>> {
    let view = visible(&state, id, &auth).await?;
    Ok(Json(IncidentBody::of(&state, &view, true)))
}

/// `PATCH /incidents/{id}` body: a status move or (commanders) a department, not both.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IncidentPatch {
    /// the next status: `open → acknowledged → in_progress → resolved | rejected`
    pub status: Option<IncidentStatus>,
    /// send the report to this department (commanders); it opens again there
    pub department: Option<String>,
    /// a note for the timeline (at most 1,000 characters)
    pub note: Option<String>,
}

/// Work a report: its department's staff or a commander move it one step along
/// `open → acknowledged → in_progress → resolved | rejected` (any other move is a 409); a
/// commander may send it to another department instead. Every change is on the timeline and
/// an `incident` event to the reporter, the command centre and the department.
#[utoipa::path(
    patch,
    path = "/incidents/{id}",
    tag = "incidents",
    security(("bearer" = [])),
    params(("id" = IncidentId, Path, description = "incident id")),
    request_body = IncidentPatch,
    responses(
        (status = 200, description = "The report after the change", body = IncidentBody),
        (status = 400, description = "`invalid_body`, `invalid_json`, `invalid_note`, `unknown_department`, `invalid_id`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`wrong_role`, `not_your_department`", body = ErrorBody),
        (status = 404, description = "`incident_not_found`", body = ErrorBody),
        (status = 409, description = "`invalid_transition`, `incident_closed`", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, err(level = "info"), fields(user = %auth.user.id, incident = %id))]
pub async fn change(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiPath(id): ApiPath<IncidentId>,
    ApiJson(patch): ApiJson<IncidentPatch>,
) -> ApiResult<Json<IncidentBody>> {
    let change = match (patch.status, patch.department) {
        (Some(status), None) => IncidentChange::Status(status),
        (None, Some(department)) => IncidentChange::Reroute(department.trim().to_owned()),
        _ => {
            return Err(ApiError::bad_request(
                "invalid_body",
                "send either a status or a department",
            ))
        }
    };
    let note = patch.note.as_deref().unwrap_or("");
    let view = incident::change(&state, id, &incident::actor(&auth.user), &change, note).await?;
    Ok(Json(IncidentBody::of(&state, &view, true)))
}

/// A report's photo (`n` from 1), for those who may see the report. Stored by content, so it
/// never changes: cached for a day.
#[utoipa::path(
    get,
    path = "/incidents/{id}/photos/{n}",
    tag = "incidents",
    security(("bearer" = [])),
    params(
        ("id" = IncidentId, Path, description = "incident id"),
        ("n" = u32, Path, description = "which photo, from 1"),
    ),
    responses(
        (status = 200, description = "The photo (JPEG, PNG or WebP)", content_type = "image/*", body = Vec<u8>),
        (status = 400, description = "`invalid_id`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 404, description = "`incident_not_found`, `photo_not_found`", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, err(level = "info"), fields(user = %auth.user.id, incident = %id))]
pub async fn photo_file(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiPath((id, n)): ApiPath<(IncidentId, u32)>,
) -> ApiResult<Response> {
    let view = visible(&state, id, &auth).await?;
    let name = usize::try_from(n)
        .ok()
        .and_then(|n| n.checked_sub(1))
        .and_then(|i| view.incident.photos.get(i))
        .ok_or_else(|| {
            ApiError::not_found("photo_not_found", format!("the report has no photo {n}"))
        })?;
    let (path, content_type) = photo::stored(&state.config.photo_dir(), name);
    let bytes = tokio::fs::read(&path).await.map_err(|e| {
        ApiError::internal(anyhow::Error::new(e).context(format!("reading {}", path.display())))
    })?;
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "private, max-age=86400, immutable"),
        ],
        bytes,
    )
        .into_response())
}
