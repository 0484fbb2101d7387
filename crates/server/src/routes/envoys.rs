//! Finding help: the nearest envoys available for an emergency (served from the in-memory live
//! index's spatial search, never a table scan), and an envoy's opt-out of dispatch; who is
//! available is the dispatch service's to say ([`crate::dispatch`]).

use crate::dispatch;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiJson, ApiQuery, AuthUser};
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use pp_domain::{Role, UserId};
use pp_geo::LatLng;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Default and largest `k` of `GET /envoys/nearest`.
const K: (usize, usize) = (10, 100);
/// Default and largest `radius_m`.
const RADIUS_M: (f64, f64) = (2000.0, 50_000.0);

/// The routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(nearest))
        .routes(routes!(set_availability))
}

/// `GET /envoys/nearest` query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NearestQuery {
    /// latitude of the emergency (WGS-84)
    pub lat: f64,
    /// longitude of the emergency (WGS-84)
    pub lng: f64,
    /// most envoys (default 10, at most 100)
    pub k: Option<usize>,
    /// search radius in metres (default 2,000, at most 50,000)
    pub radius_m: Option<f64>,
}

/// An available envoy near the point.
#[derive(Debug, Serialize, ToSchema)]
pub struct NearestEnvoy {
    /// the envoy
    pub id: UserId,
    /// great-circle metres from the point
    pub distance_m: f64,
    /// latest latitude
    pub lat: f64,
    /// latest longitude
    pub lng: f64,
    /// when that position was taken
    pub seen_at: DateTime<Utc>,
}

/// `GET /envoys/nearest`.
#[derive(Debug, Serialize, ToSchema)]
pub struct NearestBody {
    /// nearest first
    pub envoys: Vec<NearestEnvoy>,
}

/// The nearest envoys available for an emergency (commander, admin): up to `k` within
/// `radius_m`, nearest first; available means seen in the last 10 minutes, not opted out and
/// not on an open dispatch.
#[utoipa::path(
    get,
    path = "/envoys/nearest",
    tag = "dispatch",
    security(("bearer" = [])),
    params(NearestQuery),
    responses(
        (status = 200, description = "Available envoys, nearest first", body = NearestBody),
        (status = 400, description = "`coordinate_out_of_range`, `invalid_k`, `invalid_radius`, `invalid_query`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`wrong_role`", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, err(level = "info"), fields(user = %auth.user.id))]
pub async fn nearest(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiQuery(q): ApiQuery<NearestQuery>,
) -> ApiResult<Json<NearestBody>> {
    auth.require(&[Role::Commander, Role::Admin])?;
    let at = LatLng::new(q.lat, q.lng)?;
    let k = q.k.unwrap_or(K.0);
    if !(1..=K.1).contains(&k) {
        return Err(ApiError::bad_request(
            "invalid_k",
            format!("k must be 1 to {}, got {k}", K.1),
        ));
    }
    let radius_m = q.radius_m.unwrap_or(RADIUS_M.0);
    if !(radius_m > 0.0 && radius_m <= RADIUS_M.1) {
        return Err(ApiError::bad_request(
            "invalid_radius",
            format!(
                "radius_m must be above 0 and at most {}, got {radius_m}",
                RADIUS_M.1
            ),
        ));
    }
    let envoys = dispatch::nearest_available(&state, at, k, radius_m, |_| false)
        .into_iter()
        .map(|n| NearestEnvoy {
            id: n.user,
            distance_m: (n.distance_m * 10.0).round() / 10.0,
            lat: n.position.at.lat,
            lng: n.position.at.lng,
            seen_at: n.position.ts,
        })
        .collect();
    Ok(Json(NearestBody { envoys }))
}

/// `PUT /me/availability` body and answer.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Availability {
    /// whether the caller may be alerted for emergencies
    pub available: bool,
}

/// Opts the caller (an envoy) out of emergency dispatch, or back in. Everyone starts available.
#[utoipa::path(
    put,
    path = "/me/availability",
    tag = "dispatch",
    security(("bearer" = [])),
    request_body = Availability,
    responses(
        (status = 200, description = "The caller's availability", body = Availability),
        (status = 400, description = "`invalid_json`, `invalid_body`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`wrong_role`", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, err(level = "info"), fields(user = %auth.user.id))]
pub async fn set_availability(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiJson(body): ApiJson<Availability>,
) -> ApiResult<Json<Availability>> {
    auth.require(&[Role::Envoy])?;
    dispatch::set_available(&state, auth.user.id, body.available).await?;
    Ok(Json(body))
}
