//! Position ingest: an envoy's phone posts batches of points while patrolling.

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiJson, AuthUser};
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use pp_domain::position::{validate_batch, Crs, PointIn, Rejected};
use pp_domain::Role;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The position routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(post_positions))
}

/// `POST /positions`: one envoy's batch.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PositionsBody {
    /// 1 to 1000 points, in any order
    pub points: Vec<PointIn>,
    /// the coordinate system of the points: `wgs84` (default) or `gcj02`
    #[serde(default)]
    pub crs: Crs,
}

/// What happened to a batch. `accepted + duplicates + rejected.len()` is the number of points
/// sent; `flagged` counts the accepted points that implied an implausible speed (stored, never
/// counted toward a patrol).
#[derive(Debug, Serialize, ToSchema)]
pub struct IngestReport {
    /// points stored now
    pub accepted: usize,
    /// points already known (same envoy and `ts`): a retried batch is all duplicates
    pub duplicates: usize,
    /// of the accepted points, those flagged for an implausible speed (over 30 m/s)
    pub flagged: usize,
    /// refused points with the reason for each
    pub rejected: Vec<Rejected>,
}

/// Post a batch of the caller's positions (envoy). Idempotent per point: a point with a
/// `ts` already stored for the caller is a duplicate and changes nothing. The answer comes
/// once the accepted points are committed to the database.
#[utoipa::path(
    post,
    path = "/positions",
    tag = "positions",
    security(("bearer" = [])),
    request_body = PositionsBody,
    responses(
        (status = 200, description = "What was stored, repeated, flagged and refused (and why)", body = IngestReport),
        (status = 400, description = "`invalid_batch_size`, `invalid_json`, `invalid_body`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`wrong_role`", body = ErrorBody),
        (status = 422, description = "`no_valid_points`: every point was refused (the message gives the first reason)", body = ErrorBody),
        (status = 503, description = "`store_unavailable`: nothing was stored; send the batch again", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, err(level = "info"), fields(user = %auth.user.id))]
pub async fn post_positions(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiJson(body): ApiJson<PositionsBody>,
) -> ApiResult<Json<IngestReport>> {
    auth.require(&[Role::Envoy])?;
    let sent = body.points.len();
    let ingest = &state.ingest;
    let previous = ingest.live().latest(auth.user.id);
    let check = validate_batch(body.points, body.crs, previous, state.clock.now())?;
    if check.rejected.len() == sent {
        let first = &check.rejected[0];
        return Err(ApiError::unprocessable(
            "no_valid_points",
            format!(
                "no point of the batch is valid; point {}: {}",
                first.index, first.message
            ),
        ));
    }
    let flags: Vec<bool> = check.accepted.iter().map(|p| p.flagged).collect();
    let new = ingest
        .append(auth.user.id, check.accepted)
        .await
        // the writer has logged the cause
        .map_err(|_| {
            ApiError::unavailable(
                "store_unavailable",
                "the positions could not be stored; send the batch again",
            )
        })?;
    let accepted = new.iter().filter(|&&n| n).count();
    let flagged = new.iter().zip(&flags).filter(|(&n, &f)| n && f).count();
    Ok(Json(IngestReport {
        accepted,
        duplicates: sent - check.rejected.len() - accepted,
        flagged,
        rejected: check.rejected,
    }))
}
