//! Incident reports: anyone signed in reports what they see (with up to three photos); the
//! report is routed at once to the department its category goes to; that department's staff
//! (or a commander) work it to the end, a commander may send it elsewhere, and the reporter
//! follows every step on their event stream. The rules are the domain's
//! (`pp_domain::incident`); Open311 clients reach the same reports through [`crate::open311`].

use crate::error::{ApiError, ApiResult, Created, ErrorBody};
use crate::events::Audience;
use crate::extract::{ApiJson, ApiPath, ApiQuery, AuthUser};
use crate::photo;
use crate::state::AppState;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use pp_domain::incident::{
    Actor, Category, IncidentStatus, NewIncident, Sees, TimelineKind, MAX_PHOTOS,
};
use pp_domain::{IncidentId, Role, TeamId, UserId};
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

/// One step of a report's history.
#[derive(Debug, Serialize, ToSchema)]
pub struct TimelineBody {
    /// when
    pub at: DateTime<Utc>,
    /// who
    pub actor_id: UserId,
    /// their name
    pub actor_name: String,
    /// `reported`, `status` or `rerouted`
    pub kind: TimelineKind,
    /// the status after it
    pub status: IncidentStatus,
    /// the department after it
    pub department: String,
    /// what they wrote
    pub note: String,
}

/// A report.
#[derive(Debug, Serialize, ToSchema)]
pub struct IncidentBody {
    /// id (Open311's `service_request_id`)
    pub id: IncidentId,
    /// what it is about
    pub category: Category,
    /// the category's name in Chinese
    pub category_name_zh: String,
    /// the category's name in English
    pub category_name_en: String,
    /// what the reporter saw
    pub description: String,
    /// where (WGS-84)
    pub lat: f64,
    /// where (WGS-84)
    pub lng: f64,
    /// the reporter's team, when reported on patrol
    pub team_id: Option<TeamId>,
    /// the department (code) it is routed to
    pub department: String,
    /// `open`, `acknowledged`, `in_progress`, `resolved` or `rejected`
    pub status: IncidentStatus,
    /// who reported it
    pub reporter_id: UserId,
    /// their name
    pub reporter_name: String,
    /// links to its photos (signed-in GETs: send the token as a header or `?token=`)
    pub photos: Vec<String>,
    /// a link to a photo kept elsewhere (sent by an Open311 client)
    pub media_url: Option<String>,
    /// when reported
    pub created_at: DateTime<Utc>,
    /// when it last changed
    pub updated_at: DateTime<Utc>,
    /// when its department acknowledged it
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// when it was resolved or rejected
    pub closed_at: Option<DateTime<Utc>>,
    /// its history, oldest first (only on `GET /incidents/{id}`, `PATCH` and events)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeline: Option<Vec<TimelineBody>>,
}

/// The link of a report's `n`-th photo (from 1).
pub fn photo_url(state: &AppState, id: IncidentId, n: usize) -> String {
    format!(
        "{}{}/incidents/{id}/photos/{n}",
        state.config.public_url,
        super::API_PREFIX
    )
}

impl IncidentBody {
    /// The body of `view`; with its timeline when `timeline` is set.
    pub fn of(state: &AppState, view: &IncidentView, timeline: bool) -> IncidentBody {
        let i = &view.incident;
        let (zh, en) = i.category.names();
        IncidentBody {
            id: i.id,
            category: i.category,
            category_name_zh: zh.to_owned(),
            category_name_en: en.to_owned(),
            description: i.description.clone(),
            lat: i.at.lat,
            lng: i.at.lng,
            team_id: i.team_id,
            department: i.department.clone(),
            status: i.status,
            reporter_id: i.reporter,
            reporter_name: view.reporter_name.clone(),
            photos: (1..=i.photos.len())
                .map(|n| photo_url(state, i.id, n))
                .collect(),
            media_url: i.media_url.clone(),
            created_at: i.created_at,
            updated_at: i.updated_at,
            acknowledged_at: i.acknowledged_at,
            closed_at: i.closed_at,
            timeline: timeline.then(|| {
                view.timeline
                    .iter()
                    .map(|t| TimelineBody {
                        at: t.entry.at,
                        actor_id: t.entry.actor,
                        actor_name: t.actor_name.clone(),
                        kind: t.entry.kind,
                        status: t.entry.status,
                        department: t.entry.department.clone(),
                        note: t.entry.note.clone(),
                    })
                    .collect()
            }),
        }
    }
}

/// The caller as the incident rules see them.
pub fn actor(auth: &AuthUser) -> Actor<'_> {
    Actor {
        id: auth.user.id,
        role: auth.user.role,
        department: auth.user.department.as_deref(),
    }
}

/// Tells everyone concerned that a report changed (`incident` events: `{change, incident}`):
/// its reporter, the command centre, the staff of the department it is routed to, and, when
/// it was re-routed, the staff of the department it left.
pub fn announce(state: &AppState, view: &IncidentView, change: TimelineKind, left: Option<&str>) {
    let i = &view.incident;
    let mut audiences = vec![
        Audience::Users(vec![i.reporter]),
        Audience::Roles(vec![Role::Commander, Role::Admin]),
        Audience::Department(i.department.clone()),
    ];
    if let Some(old) = left.filter(|old| *old != i.department) {
        audiences.push(Audience::Department(old.to_owned()));
    }
    let data = serde_json::json!({
        "change": change,
        "incident": IncidentBody::of(state, view, true),
    });
    state.events.publish(
        "incident",
        Audience::Any(audiences),
        data,
        state.clock.now(),
    );
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

/// Files a report through the store, then tells everyone concerned.
pub async fn file(
    state: &AppState,
    reporter: UserId,
    new: &NewIncident<'_>,
) -> ApiResult<IncidentView> {
    let view = state
        .store
        .report_incident(reporter, new, state.clock.now())
        .await?;
    tracing::info!(incident = %view.incident.id, category = view.incident.category.code(),
        department = %view.incident.department, "incident reported");
    announce(state, &view, TimelineKind::Reported, None);
    Ok(view)
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
    let view = file(&state, auth.user.id, &new).await?;
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
    scope(&mut filter, &actor(&auth))?;
    let incidents = state
        .store
        .incidents(&filter)
        .await?
        .iter()
        .map(|v| IncidentBody::of(&state, v, false))
        .collect();
    Ok(Json(IncidentList { incidents }))
}

/// Narrows a listing to what `actor` sees (`Actor::sees`): staff asking for another
/// department than theirs get a 403 `not_your_department`.
pub fn scope(filter: &mut IncidentFilter, actor: &Actor<'_>) -> ApiResult<()> {
    match actor.sees() {
        Sees::All => {}
        Sees::Department(own) => {
            if filter.department.as_ref().is_some_and(|d| d != own) {
                return Err(ApiError::from(pp_domain::DomainError::forbidden(
                    "not_your_department",
                    "staff see the reports routed to their own department",
                )));
            }
            filter.department = Some(own.to_owned());
        }
        Sees::Reported(user) => filter.reporter = Some(user),
    }
    Ok(())
}

fn not_found() -> ApiError {
    ApiError::not_found("incident_not_found", "incident not found")
}

/// Loads a report the caller may see (404 otherwise, as for one that does not exist).
async fn visible(state: &AppState, id: IncidentId, auth: &AuthUser) -> ApiResult<IncidentView> {
    let view = state.store.incident(id).await?;
    if view.incident.may_see(&actor(auth)) {
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
    let (view, entry) = state
        .store
        .update_incident(
            id,
            &actor(&auth),
            &change,
            patch.note.as_deref().unwrap_or(""),
            state.clock.now(),
        )
        .await?;
    if let Some(entry) = entry {
        tracing::info!(status = entry.status.as_str(), department = %entry.department, "incident changed");
        // the department it left: the one of the entry before this one
        let before = view.timeline.iter().rev().nth(1);
        announce(
            &state,
            &view,
            entry.kind,
            before.map(|t| t.entry.department.as_str()),
        );
    }
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
