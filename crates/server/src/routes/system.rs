//! Operations: health and metrics; the web apps' settings.

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

/// The web apps' settings (under `/api/v1`).
pub fn config_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(client_config))
}

/// `GET /api/v1/config` answer: what the web apps need to know before anyone signs in.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClientConfig {
    /// The URL this server is reached at (join links start with it).
    #[schema(example = "https://192.168.1.20:8443")]
    pub public_url: String,
    /// XYZ URL template of the base map's tiles; absent: no base tiles (a LAN without
    /// internet), the maps show their own layers only.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "https://tile.openstreetmap.org/{z}/{x}/{y}.png")]
    pub map_tiles: Option<String>,
    /// The attribution the tiles need.
    #[schema(example = "© OpenStreetMap contributors")]
    pub map_attribution: String,
    /// The server's version.
    #[schema(example = "0.1.0")]
    pub version: &'static str,
}

/// The web apps' settings: base map tiles and the public URL. No sign-in needed.
#[utoipa::path(
    get,
    path = "/config",
    tag = "system",
    responses((status = 200, description = "The settings", body = ClientConfig))
)]
pub async fn client_config(State(state): State<AppState>) -> Json<ClientConfig> {
    let config = &state.config;
    Json(ClientConfig {
        public_url: config.public_url.clone(),
        map_tiles: config.map.tiles.clone(),
        map_attribution: config.map.attribution.clone(),
        version: env!("CARGO_PKG_VERSION"),
    })
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
