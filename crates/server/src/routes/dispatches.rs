//! Emergency dispatches: a commander alerts the nearest available envoys to a point; they
//! accept or decline and mark arrival; the commander watches and closes it. What each step does
//! (alerts passed on, escalation, events) and how a dispatch looks to its clients
//! ([`DispatchBody`]) is the dispatch service's, [`crate::dispatch`].

use crate::dispatch::{self, DispatchBody};
use crate::error::{ApiError, ApiResult, Created, ErrorBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery, AuthUser};
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use pp_domain::dispatch::{Dispatch, DispatchState};
use pp_domain::{DispatchId, Role};
use pp_geo::LatLng;
use pp_store::DispatchFilter;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The first radius when a dispatch names none (metres; GoodSAM's town radius).
pub const DEFAULT_RADIUS_M: f64 = 500.0;
/// Default and largest `limit` of `GET /dispatches`.
const LIMIT: (u32, u32) = (50, 500);

/// The routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(show))
        .routes(routes!(respond))
        .routes(routes!(arrived))
        .routes(routes!(close))
}

/// `POST /dispatches` body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewDispatch {
    /// latitude of the emergency (WGS-84)
    pub lat: f64,
    /// longitude of the emergency (WGS-84)
    pub lng: f64,
    /// first search radius in metres (default 500; at most the district's maximum, 5,000 by
    /// default); doubles at each escalation
    pub radius_m: Option<f64>,
    /// envoys needed on the scene (default 1, at most 20)
    pub needed: Option<u32>,
    /// what is happening, as the envoys will read it (1 to 500 characters)
    pub message: String,
}

/// Open a dispatch (commander, admin): alerts at once the nearest available envoys — `needed`
/// plus the district's overfill — within `radius_m`; a decline or an alert left unanswered
/// passes to the next nearest; while fewer than `needed` accept, the radius doubles every
/// escalation period (60 s by default) up to the district's maximum. The envoys hear of it on
/// their event stream (`dispatch_alert`), the command centre sees every change (`dispatch`).
#[utoipa::path(
    post,
    path = "/dispatches",
    tag = "dispatch",
    security(("bearer" = [])),
    request_body = NewDispatch,
    responses(
        (status = 201, description = "The dispatch, with the envoys alerted", body = DispatchBody),
        (status = 400, description = "`coordinate_out_of_range`, `invalid_radius`, `invalid_needed`, `invalid_message`, `invalid_json`, `invalid_body`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`wrong_role`", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, err(level = "info"), fields(user = %auth.user.id))]
pub async fn create(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiJson(body): ApiJson<NewDispatch>,
) -> ApiResult<Created<DispatchBody>> {
    auth.require(dispatch::COMMAND)?;
    let at = LatLng::new(body.lat, body.lng)?;
    let opened = Dispatch::open(
        auth.user.id,
        at,
        body.radius_m.unwrap_or(DEFAULT_RADIUS_M),
        body.needed.unwrap_or(1),
        &body.message,
        state.config.dispatch,
        state.clock.now(),
    )?;
    let view = dispatch::open(&state, opened).await?;
    Ok(Created(DispatchBody::full(&view)))
}

/// `GET /dispatches` filters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// `open` or `closed`
    pub state: Option<String>,
    /// most dispatches returned, newest first (default 50, at most 500)
    pub limit: Option<u32>,
}

/// `GET /dispatches`.
#[derive(Debug, Serialize, ToSchema)]
pub struct DispatchList {
    /// newest first
    pub dispatches: Vec<DispatchBody>,
}

/// Dispatches, newest first: all of them for the command centre; for an envoy, those that
/// alerted them (with their own alert), so a phone that was offline finds its open alerts.
#[utoipa::path(
    get,
    path = "/dispatches",
    tag = "dispatch",
    security(("bearer" = [])),
    params(ListQuery),
    responses(
        (status = 200, description = "Dispatches, newest first", body = DispatchList),
        (status = 400, description = "`invalid_dispatch_state`, `invalid_query`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`wrong_role`", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, err(level = "info"), fields(user = %auth.user.id))]
pub async fn list(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<DispatchList>> {
    auth.require(&[Role::Commander, Role::Admin, Role::Envoy])?;
    let filter = DispatchFilter {
        state: q.state.as_deref().map(DispatchState::parse).transpose()?,
        recipient: (auth.user.role == Role::Envoy).then_some(auth.user.id),
        limit: q.limit.unwrap_or(LIMIT.0).clamp(1, LIMIT.1),
    };
    let dispatches = state
        .store
        .dispatches(&filter)
        .await?
        .iter()
        .filter_map(|v| DispatchBody::for_viewer(v, auth.user.id, auth.user.role))
        .collect();
    Ok(Json(DispatchList { dispatches }))
}

/// Loads a dispatch as the caller may see it (404 for an envoy it did not alert, as for one
/// that does not exist: envoys learn nothing of emergencies not meant for them).
async fn load(state: &AppState, id: DispatchId, auth: &AuthUser) -> ApiResult<DispatchBody> {
    let view = state.store.dispatch(id).await?;
    DispatchBody::for_viewer(&view, auth.user.id, auth.user.role).ok_or_else(not_found)
}

fn not_found() -> ApiError {
    ApiError::not_found("dispatch_not_found", "dispatch not found")
}

/// A dispatch: every recipient for the command centre, their own alert for an envoy.
#[utoipa::path(
    get,
    path = "/dispatches/{id}",
    tag = "dispatch",
    security(("bearer" = [])),
    params(("id" = DispatchId, Path, description = "dispatch id")),
    responses(
        (status = 200, description = "The dispatch", body = DispatchBody),
        (status = 400, description = "`invalid_id`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 404, description = "`dispatch_not_found` (also for an envoy it did not alert)", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, err(level = "info"), fields(user = %auth.user.id))]
pub async fn show(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiPath(id): ApiPath<DispatchId>,
) -> ApiResult<Json<DispatchBody>> {
    Ok(Json(load(&state, id, &auth).await?))
}

/// `POST /dispatches/{id}/respond` body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct Answer {
    /// `true` to go, `false` to decline (or withdraw after accepting)
    pub accept: bool,
}

/// Answer an alert (the envoy alerted): accept, or decline — the place passes at once to the
/// next nearest available envoy. An accepted envoy may still withdraw (decline) before arrival.
/// Answering again the same way changes nothing.
#[utoipa::path(
    post,
    path = "/dispatches/{id}/respond",
    tag = "dispatch",
    security(("bearer" = [])),
    params(("id" = DispatchId, Path, description = "dispatch id")),
    request_body = Answer,
    responses(
        (status = 200, description = "The dispatch as the envoy sees it", body = DispatchBody),
        (status = 400, description = "`invalid_id`, `invalid_json`, `invalid_body`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`wrong_role`", body = ErrorBody),
        (status = 404, description = "`dispatch_not_found`, `alert_not_found` (the dispatch did not alert the caller)", body = ErrorBody),
        (status = 409, description = "`alert_expired`, `already_declined`, `already_arrived`, `dispatch_closed`", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, err(level = "info"), fields(user = %auth.user.id))]
pub async fn respond(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiPath(id): ApiPath<DispatchId>,
    ApiJson(body): ApiJson<Answer>,
) -> ApiResult<Json<DispatchBody>> {
    auth.require(&[Role::Envoy])?;
    let view = dispatch::respond(&state, id, auth.user.id, body.accept).await?;
    Ok(Json(DispatchBody::for_envoy(&view, auth.user.id)))
}

/// Mark arrival on the scene (an envoy who accepted): the server's latest position of the
/// caller must be within 100 m of the point.
#[utoipa::path(
    post,
    path = "/dispatches/{id}/arrived",
    tag = "dispatch",
    security(("bearer" = [])),
    params(("id" = DispatchId, Path, description = "dispatch id")),
    responses(
        (status = 200, description = "The dispatch as the envoy sees it", body = DispatchBody),
        (status = 400, description = "`invalid_id`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`wrong_role`", body = ErrorBody),
        (status = 404, description = "`dispatch_not_found`, `alert_not_found`", body = ErrorBody),
        (status = 409, description = "`not_accepted`, `no_position`, `not_at_scene`, `dispatch_closed`", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, err(level = "info"), fields(user = %auth.user.id))]
pub async fn arrived(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiPath(id): ApiPath<DispatchId>,
) -> ApiResult<Json<DispatchBody>> {
    auth.require(&[Role::Envoy])?;
    let view = dispatch::arrive(&state, id, auth.user.id).await?;
    Ok(Json(DispatchBody::for_envoy(&view, auth.user.id)))
}

/// Close a dispatch (commander, admin): alerts not answered are withdrawn (they expire), every
/// envoy it held is available again and hears of it.
#[utoipa::path(
    post,
    path = "/dispatches/{id}/close",
    tag = "dispatch",
    security(("bearer" = [])),
    params(("id" = DispatchId, Path, description = "dispatch id")),
    responses(
        (status = 200, description = "The closed dispatch", body = DispatchBody),
        (status = 400, description = "`invalid_id`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`wrong_role`", body = ErrorBody),
        (status = 404, description = "`dispatch_not_found`", body = ErrorBody),
        (status = 409, description = "`dispatch_closed`", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, err(level = "info"), fields(user = %auth.user.id))]
pub async fn close(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiPath(id): ApiPath<DispatchId>,
) -> ApiResult<Json<DispatchBody>> {
    auth.require(dispatch::COMMAND)?;
    let view = dispatch::close(&state, id, auth.user.id).await?;
    Ok(Json(DispatchBody::full(&view)))
}
