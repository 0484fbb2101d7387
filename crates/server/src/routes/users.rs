//! Bulk onboarding of envoys (admin): `POST /users/import` with a `phone,name` CSV file.

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiQuery, AuthUser};
use crate::onboarding::{self, ImportReport, MAX_IMPORT_BYTES};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap};
use axum::Json;
use pp_domain::onboarding::DEFAULT_CODE_TTL_DAYS;
use pp_domain::Role;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(import))
        .layer(DefaultBodyLimit::max(MAX_IMPORT_BYTES))
}

/// `?code_ttl_days=` of an import.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// days the activation codes stay valid (default 14, 1 to 365)
    pub code_ttl_days: Option<u32>,
}

/// Import envoys (admin) from a CSV file with a header row naming `phone` and `name` (other
/// columns are ignored; UTF-8, quoted fields allowed; at most 16 MiB). Each row is checked like
/// a registration; the valid ones become **pending** envoys who cannot log in until they
/// activate (`POST /auth/activate`) with the one-time code given back here (send it by SMS). A
/// phone that is pending already gets a fresh code (attempts and expiry reset); a phone of an
/// active account is refused as `phone_taken`.
#[utoipa::path(
    post,
    path = "/users/import",
    tag = "auth",
    security(("bearer" = [])),
    params(ImportQuery),
    request_body(content = String, content_type = "text/csv", description = "phone,name\n13800138000,张三\n"),
    responses(
        (status = 200, description = "What was imported, the rows refused (`invalid_phone`, `invalid_name`, `invalid_row`, `duplicate_in_file`, `phone_taken`) and the codes to send", body = ImportReport),
        (status = 400, description = "`invalid_csv` (no phone or name column), `invalid_query`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`wrong_role`", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: send `Content-Type: text/csv`", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, err(level = "info"), fields(user = %auth.user.id))]
pub async fn import(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiQuery(q): ApiQuery<ImportQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<ImportReport>> {
    auth.require(&[Role::Admin])?;
    let csv = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            let mime = v.split(';').next().unwrap_or("").trim();
            mime.eq_ignore_ascii_case("text/csv")
        });
    if !csv {
        return Err(ApiError::UnsupportedMediaType {
            message: "send the file as Content-Type: text/csv".to_owned(),
        });
    }
    let days = q.code_ttl_days.map_or(DEFAULT_CODE_TTL_DAYS, i64::from);
    if !(1..=365).contains(&days) {
        return Err(ApiError::bad_request(
            "invalid_query",
            "code_ttl_days is 1 to 365",
        ));
    }
    let salt = onboarding::code_salt(state.store.as_ref()).await?;
    let prepared = tokio::task::spawn_blocking(move || onboarding::prepare(&body, &salt))
        .await
        .map_err(ApiError::internal)??;
    let now = state.clock.now();
    let report = onboarding::import(
        state.store.as_ref(),
        prepared,
        now + chrono::Duration::days(days),
        now,
    )
    .await?;
    Ok(Json(report))
}
