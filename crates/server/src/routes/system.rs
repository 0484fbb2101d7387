//! Operations: health and metrics.

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::metrics;
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use pp_store::DbKind;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The operations routes (outside `/api/v1`).
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(metrics::render))
}

/// `GET /healthz` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthBody {
    /// always `ok` (a failing check answers 503)
    #[schema(example = "ok")]
    pub status: &'static str,
    /// `sqlite` or `postgres`
    #[schema(example = "sqlite")]
    pub database: &'static str,
}

/// Liveness and database reachability, for load balancers and container probes.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "system",
    responses(
        (status = 200, description = "Serving, and the database answers", body = HealthBody),
        (status = 503, description = "`database_unavailable`", body = ErrorBody),
    )
)]
pub async fn healthz(State(state): State<AppState>) -> ApiResult<Json<HealthBody>> {
    let database = match state.store.kind() {
        DbKind::Sqlite => "sqlite",
        DbKind::Postgres => "postgres",
    };
    state.store.ping().await.map_err(|e| {
        tracing::warn!(error = %e, "health check: the database does not answer");
        ApiError::Unavailable {
            code: "database_unavailable",
            message: format!("the {database} database does not answer"),
        }
    })?;
    Ok(Json(HealthBody {
        status: "ok",
        database,
    }))
}
