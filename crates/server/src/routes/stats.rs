//! District statistics (commanders, admins): `GET /stats` and its exports, counted from the
//! stored records at each request, so they never drift from what happened.

use crate::error::{ApiResult, ErrorBody};
use crate::extract::{ApiQuery, AuthUser};
use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, SecondsFormat, Utc};
use pp_domain::stats::{Compare, Period, Stats};
use pp_domain::Role;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The statistics routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(stats))
        .routes(routes!(export_csv))
        .routes(routes!(export_json))
}

/// The period of `GET /stats` and its exports.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatsQuery {
    /// start of the period, RFC 3339, inclusive (default: 7 days before `to`)
    pub from: Option<DateTime<Utc>>,
    /// end of the period, RFC 3339, exclusive (default: now); at most 400 days after `from`
    pub to: Option<DateTime<Utc>>,
    /// `previous_year`: each figure also for the same dates a year earlier, with the change
    pub compare: Option<Compare>,
}

/// Counts the period (and the compared one) from the store.
async fn compute(state: &AppState, auth: &AuthUser, q: &StatsQuery) -> ApiResult<Stats> {
    auth.require(&[Role::Commander, Role::Admin])?;
    let period = Period::new(q.from, q.to, state.clock.now())?;
    let now = state.store.stats_tally(period.from, period.to).await?;
    let previous = match q.compare {
        None => None,
        Some(c @ Compare::PreviousYear) => {
            let p = period.previous_year();
            Some((c, p, state.store.stats_tally(p.from, p.to).await?))
        }
    };
    Ok(Stats::new(
        period,
        &now,
        previous.as_ref().map(|(c, p, t)| (*c, *p, t)),
    ))
}

/// What the district's envoys achieved in a period: tasks, teams (by size), participants,
/// patrol hours, qualified members, points and fund awarded, incidents by category and
/// outcome with the median time to resolve, dispatches with the median times to the first
/// acceptance and arrival, active and registered envoys. Each figure is `{value, previous,
/// change_pct}`: with `compare=previous_year`, `previous` is the same dates a year earlier.
#[utoipa::path(
    get,
    path = "/stats",
    tag = "stats",
    security(("bearer" = [])),
    params(StatsQuery),
    responses(
        (status = 200, description = "The period's figures", body = Stats),
        (status = 400, description = "`invalid_period` (from not before to, or over 400 days), `invalid_query`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`wrong_role`", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, err(level = "info"))]
pub async fn stats(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiQuery(q): ApiQuery<StatsQuery>,
) -> ApiResult<Json<Stats>> {
    Ok(Json(compute(&state, &auth, &q).await?))
}

/// A download: the body with its type and a file name naming the period.
fn download(stats: &Stats, ext: &str, content_type: &'static str, body: Vec<u8>) -> Response {
    let day = |t: DateTime<Utc>| {
        t.to_rfc3339_opts(SecondsFormat::Secs, true)
            .replace(':', "")
    };
    let name = format!(
        "attachment; filename=\"peacepatrol-stats-{}-{}.{ext}\"",
        day(stats.from),
        day(stats.to)
    );
    let mut res = body.into_response();
    let headers = res.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&name) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    res
}

/// The figures of `GET /stats` as CSV: a header `figure,key,value,previous,change_pct`, one row
/// per figure (one per key of the figures by size, category and outcome), empty cells for
/// null.
#[utoipa::path(
    get,
    path = "/stats/export.csv",
    tag = "stats",
    security(("bearer" = [])),
    params(StatsQuery),
    responses(
        (status = 200, description = "The figures, one per row", content_type = "text/csv", body = String),
        (status = 400, description = "`invalid_period`, `invalid_query`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`wrong_role`", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, err(level = "info"))]
pub async fn export_csv(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiQuery(q): ApiQuery<StatsQuery>,
) -> ApiResult<Response> {
    let stats = compute(&state, &auth, &q).await?;
    let body = stats.to_csv().into_bytes();
    Ok(download(&stats, "csv", "text/csv; charset=utf-8", body))
}

/// The figures of `GET /stats` as a JSON file to keep (the same document, as a download).
#[utoipa::path(
    get,
    path = "/stats/export.json",
    tag = "stats",
    security(("bearer" = [])),
    params(StatsQuery),
    responses(
        (status = 200, description = "The period's figures", body = Stats),
        (status = 400, description = "`invalid_period`, `invalid_query`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`wrong_role`", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, err(level = "info"))]
pub async fn export_json(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiQuery(q): ApiQuery<StatsQuery>,
) -> ApiResult<Response> {
    let stats = compute(&state, &auth, &q).await?;
    let body = serde_json::to_vec_pretty(&stats).map_err(crate::error::ApiError::internal)?;
    Ok(download(&stats, "json", "application/json", body))
}
