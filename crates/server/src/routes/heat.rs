//! Where envoys are and have been: the heat map as GeoJSON H3 hexagons and as raster tiles, and
//! the live map of envoys seen in the last minutes. Everything is served from memory (the
//! ingest pipeline's heat and live indexes), never by scanning footprints.

use crate::error::{ApiError, ApiResult, ErrorBody, NotModified};
use crate::extract::{ApiPath, ApiQuery, AuthUser};
use crate::heat::HeatCell;
use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use pp_domain::heat::{self, HeatWindow, Span, HOUR_MS, LIVE_MINUTES};
use pp_domain::team::TeamState;
use pp_domain::time::from_millis;
use pp_domain::{Role, TaskId, TeamId, UserId};
use pp_geo::cells::{cell_boundary, cell_string};
use pp_geo::tile::Tile;
use pp_geo::BBox;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The map routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(heatmap))
        .routes(routes!(heat_tile))
        .routes(routes!(live))
}

/// `GET /heatmap` query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HeatQuery {
    /// `live` (points of the last 10 minutes), `5d`, `7d`, `15d` or `30d` (default `7d`); or
    /// give `from` (and `to`, default now) instead
    pub window: Option<String>,
    /// start of a custom window, RFC 3339 (counts from the start of its hour)
    pub from: Option<DateTime<Utc>>,
    /// end of a custom window, RFC 3339 (counts to the end of its hour)
    pub to: Option<DateTime<Utc>>,
    /// `minLng,minLat,maxLng,maxLat`: only cells that overlap it (default: everywhere)
    pub bbox: Option<String>,
    /// H3 resolution, 7 (≈5 km² cells) to 10 (≈0.015 km²); default 9 (≈0.1 km²)
    pub res: Option<u8>,
}

fn window(q: &HeatQuery, now: DateTime<Utc>) -> ApiResult<HeatWindow> {
    Ok(match (&q.window, q.from, q.to) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
            return Err(ApiError::bad_request(
                "invalid_window",
                "give either window or from/to, not both",
            ))
        }
        (Some(w), None, None) => HeatWindow::parse(w)?,
        (None, Some(from), to) => HeatWindow::range(from, to.unwrap_or(now))?,
        (None, None, Some(_)) => {
            return Err(ApiError::bad_request("invalid_window", "to needs a from"))
        }
        (None, None, None) => HeatWindow::Days(7),
    })
}

/// A GeoJSON Polygon.
#[derive(Debug, Serialize, ToSchema)]
pub struct PolygonGeometry {
    /// `Polygon`
    #[serde(rename = "type")]
    #[schema(example = "Polygon")]
    pub kind: &'static str,
    /// one closed ring of `[lng, lat]`, counter-clockwise
    pub coordinates: Vec<Vec<[f64; 2]>>,
}

/// What a heat map cell holds.
#[derive(Debug, Serialize, ToSchema)]
pub struct HeatProperties {
    /// the H3 index, 15 hexadecimal digits
    #[schema(example = "89411d4d243ffff")]
    pub cell: String,
    /// unflagged positions in the window
    pub visits: u64,
    /// distinct envoys of those positions (exact)
    pub envoys: u32,
}

/// One hexagon of the heat map.
#[derive(Debug, Serialize, ToSchema)]
pub struct HeatFeature {
    /// `Feature`
    #[serde(rename = "type")]
    #[schema(example = "Feature")]
    pub kind: &'static str,
    /// the cell's index (as `properties.cell`)
    pub id: String,
    /// the cell's hexagon
    pub geometry: PolygonGeometry,
    /// its counts
    pub properties: HeatProperties,
}

/// `GET /heatmap`: a GeoJSON FeatureCollection (RFC 7946) with the window it counted.
#[derive(Debug, Serialize, ToSchema)]
pub struct HeatMapBody {
    /// `FeatureCollection`
    #[serde(rename = "type")]
    #[schema(example = "FeatureCollection")]
    pub kind: &'static str,
    /// one per cell, ordered by cell
    pub features: Vec<HeatFeature>,
    /// the window, as asked (`live`, `7d`, or `from..to` in Unix milliseconds)
    pub window: String,
    /// the H3 resolution
    pub res: u8,
    /// first instant counted (the start of an hour, except for `live`)
    pub from: DateTime<Utc>,
    /// end of what was counted, exclusive
    pub to: DateTime<Utc>,
    /// cells with fewer distinct envoys were left out (1 for commanders and admins)
    pub min_envoys: u32,
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

fn feature(c: &HeatCell) -> Option<HeatFeature> {
    let mut ring: Vec<[f64; 2]> = cell_boundary(c.cell)?
        .into_iter()
        .map(|p| [round6(p.lng), round6(p.lat)])
        .collect();
    ring.push(*ring.first()?);
    let id = cell_string(c.cell);
    Some(HeatFeature {
        kind: "Feature",
        id: id.clone(),
        geometry: PolygonGeometry {
            kind: "Polygon",
            coordinates: vec![ring],
        },
        properties: HeatProperties {
            cell: id,
            visits: c.visits,
            envoys: c.envoys,
        },
    })
}

/// The instants a span counts from and to (exclusive).
fn bounds(span: Span, now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    match span {
        Span::Since(since) => (since, now),
        Span::Hours { first, last } => (
            from_millis(first.saturating_mul(HOUR_MS)),
            from_millis((last + 1).saturating_mul(HOUR_MS)),
        ),
    }
}

/// The live window is rebuilt for a few seconds after a start: a 503 then, rather than a map
/// that looks empty.
fn check_ready(state: &AppState, window: HeatWindow) -> ApiResult<()> {
    if window == HeatWindow::Live && !state.heat.live_ready() {
        return Err(ApiError::unavailable(
            "heat_map_loading",
            "the live heat map is being rebuilt after a restart: try again in a few seconds",
        ));
    }
    Ok(())
}

fn parse_bbox(bbox: Option<&str>) -> ApiResult<Option<BBox>> {
    Ok(bbox.map(BBox::parse).transpose()?)
}

/// The heat map: H3 cells with the footprints and distinct envoys of a window.
///
/// Footprints are counted per cell and hour as they arrive, so a window of days counts whole
/// hours (from the hour holding its start); `live` counts the points of the last 10 minutes.
/// For anyone but a commander or admin, cells with fewer than `heat_min_envoys` (default 3)
/// distinct envoys are left out.
#[utoipa::path(
    get,
    path = "/heatmap",
    tag = "maps",
    security(("bearer" = [])),
    params(HeatQuery),
    responses(
        (status = 200, description = "GeoJSON FeatureCollection of H3 hexagons", body = HeatMapBody),
        (status = 400, description = "`invalid_window`, `invalid_bbox`, `invalid_resolution`, `invalid_query`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 503, description = "`heat_map_loading`: the live window is rebuilt after a restart", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, err(level = "info"), fields(user = %auth.user.id))]
pub async fn heatmap(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiQuery(q): ApiQuery<HeatQuery>,
) -> ApiResult<Json<HeatMapBody>> {
    let now = state.clock.now();
    let window = window(&q, now)?;
    check_ready(&state, window)?;
    let res = heat::resolution(q.res)?;
    let bbox = parse_bbox(q.bbox.as_deref())?;
    let min_envoys = heat::min_envoys(auth.user.role, state.config.heat_min_envoys);
    let span = window.span(now);
    let cells = state.heat.cells(span, res, bbox.as_ref(), min_envoys);
    let (from, to) = bounds(span, now);
    Ok(Json(HeatMapBody {
        kind: "FeatureCollection",
        features: cells.iter().filter_map(feature).collect(),
        window: window.name(),
        res,
        from,
        to,
        min_envoys,
    }))
}

/// `GET /tiles/heat/…` path.
#[derive(Debug, Deserialize)]
pub struct TilePath {
    window: String,
    z: u8,
    x: u32,
    y: String,
}

/// A heat map raster tile (256×256 PNG, Web Mercator XYZ as OpenStreetMap's), for any map
/// client's tile layer: `…/tiles/heat/7d/{z}/{x}/{y}.png?token=…`.
///
/// The hexagons of the window (resolution by zoom: 7 up to z10, 8 to z12, 9 to z14, 10 beyond)
/// coloured from blue to red by their visits on a log scale against the busiest cell of the
/// window, so neighbouring tiles agree. The same suppression of sparse cells as `/heatmap`.
/// `ETag` and `Cache-Control: private` are set; `If-None-Match` gets a 304.
#[utoipa::path(
    get,
    path = "/tiles/heat/{window}/{z}/{x}/{y}",
    tag = "maps",
    security(("bearer" = [])),
    params(
        ("window" = String, Path, description = "`live`, `5d`, `7d`, `15d` or `30d`"),
        ("z" = u8, Path, description = "zoom, 0 to 22"),
        ("x" = u32, Path, description = "column"),
        ("y" = String, Path, description = "row, followed by `.png` (e.g. `7131.png`)"),
    ),
    responses(
        (status = 200, description = "PNG tile", content_type = "image/png", body = Vec<u8>),
        (status = 304, description = "the tile the client holds (`If-None-Match`) is current"),
        (status = 400, description = "`invalid_window`, `invalid_tile`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 503, description = "`heat_map_loading`: the live window is rebuilt after a restart", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, err(level = "info"), fields(user = %auth.user.id))]
pub async fn heat_tile(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiPath(p): ApiPath<TilePath>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let window = HeatWindow::parse(&p.window)?;
    let y: u32 =
        p.y.strip_suffix(".png")
            .and_then(|y| y.parse().ok())
            .ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_tile",
                    format!(
                        "the tile row must be a number followed by .png, got {:?}",
                        p.y
                    ),
                )
            })?;
    let tile = Tile::new(p.z, p.x, y)?;
    check_ready(&state, window)?;
    let now = state.clock.now();
    let span = window.span(now);
    let min_envoys = heat::min_envoys(auth.user.role, state.config.heat_min_envoys);
    let cells = state
        .heat
        .tile_shades(&window.name(), span, &tile, min_envoys);
    let png = tokio::task::spawn_blocking(move || pp_geo::tile::render_heat(&tile, &cells))
        .await
        .map_err(ApiError::internal)?;
    let etag = format!("\"{}\"", hex::encode(&Sha256::digest(&png)[..16]));
    let etag = HeaderValue::from_str(&etag).map_err(ApiError::internal)?;
    if crate::assets::matches(&headers, etag.to_str().unwrap_or_default()) {
        return Ok(NotModified(etag).into_response());
    }
    let cache = if window == HeatWindow::Live {
        "private, max-age=10"
    } else {
        "private, max-age=60"
    };
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("image/png")),
            (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
            (header::ETAG, etag),
        ],
        png,
    )
        .into_response())
}

/// `GET /live` query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LiveQuery {
    /// `minLng,minLat,maxLng,maxLat` (default: everywhere)
    pub bbox: Option<String>,
}

/// The team an envoy on the live map is in.
#[derive(Debug, Serialize, ToSchema)]
pub struct LiveTeam {
    /// the team
    pub team_id: TeamId,
    /// its task
    pub task_id: TaskId,
    /// `forming` or `active` (patrolling)
    pub state: TeamState,
}

/// An envoy seen in the last 10 minutes.
#[derive(Debug, Serialize, ToSchema)]
pub struct LiveEnvoy {
    /// the envoy
    pub id: UserId,
    /// display name
    pub name: String,
    /// latest latitude (WGS-84)
    pub lat: f64,
    /// latest longitude (WGS-84)
    pub lng: f64,
    /// its accuracy, metres
    pub accuracy_m: f64,
    /// when that position was taken
    pub seen_at: DateTime<Utc>,
    /// the team they are in, if any
    pub team: Option<LiveTeam>,
}

/// `GET /live`.
#[derive(Debug, Serialize, ToSchema)]
pub struct LiveBody {
    /// envoys seen at or after this instant are listed
    pub since: DateTime<Utc>,
    /// most recently seen first
    pub envoys: Vec<LiveEnvoy>,
}

/// Every envoy seen in the last 10 minutes (commander, admin): latest position, when it was
/// taken, and their team and task when they are in one.
#[utoipa::path(
    get,
    path = "/live",
    tag = "maps",
    security(("bearer" = [])),
    params(LiveQuery),
    responses(
        (status = 200, description = "Envoys seen in the last 10 minutes", body = LiveBody),
        (status = 400, description = "`invalid_bbox`, `invalid_query`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`wrong_role`", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, err(level = "info"), fields(user = %auth.user.id))]
pub async fn live(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiQuery(q): ApiQuery<LiveQuery>,
) -> ApiResult<Json<LiveBody>> {
    auth.require(&[Role::Commander, Role::Admin])?;
    let bbox = parse_bbox(q.bbox.as_deref())?;
    let since = state.clock.now() - chrono::Duration::minutes(LIVE_MINUTES);
    let mut seen: Vec<_> = state
        .live
        .seen_since(since)
        .into_iter()
        .filter(|(_, p)| bbox.as_ref().is_none_or(|b| b.contains(p.at)))
        .collect();
    seen.sort_by(|a, b| b.1.ts.cmp(&a.1.ts).then(a.0.cmp(&b.0)));
    let ids: Vec<UserId> = seen.iter().map(|(u, _)| *u).collect();
    let cards: std::collections::HashMap<UserId, pp_store::EnvoyCard> = state
        .store
        .envoy_cards(&ids)
        .await?
        .into_iter()
        .map(|c| (c.user, c))
        .collect();
    let envoys = seen
        .into_iter()
        .filter_map(|(user, p)| {
            let card = cards.get(&user)?;
            Some(LiveEnvoy {
                id: user,
                name: card.name.clone(),
                lat: p.at.lat,
                lng: p.at.lng,
                accuracy_m: p.accuracy_m,
                seen_at: p.ts,
                team: card.team.map(|(team_id, task_id, state)| LiveTeam {
                    team_id,
                    task_id,
                    state,
                }),
            })
        })
        .collect();
    Ok(Json(LiveBody { since, envoys }))
}
