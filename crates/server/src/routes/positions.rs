//! Position ingest: an envoy's phone posts batches of points while patrolling. What becomes of
//! them is the ingest pipeline's business ([`crate::ingest`]); this route signs the caller in
//! and answers.

use crate::error::{ApiResult, ErrorBody};
use crate::extract::{ApiJson, AuthUser};
use crate::ingest::IngestReport;
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use pp_domain::position::{Crs, PointIn};
use pp_domain::Role;
use serde::Deserialize;
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
    let report = state
        .ingest
        .submit(auth.user.id, body.points, body.crs)
        .await?;
    Ok(Json(report))
}
