//! Accounts made by an admin: one of any role (`POST /users`), or envoys in bulk
//! (`POST /users/import` with a `phone,name` CSV file).

use crate::error::{ApiError, ApiResult, Created, ErrorBody};
use crate::extract::{ApiJson, ApiQuery, AuthUser};
use crate::onboarding::{self, ImportReport, MAX_IMPORT_BYTES};
use crate::routes::auth::{blocking, UserBody};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap};
use axum::Json;
use pp_domain::account::NewUser;
use pp_domain::onboarding::DEFAULT_CODE_TTL_DAYS;
use pp_domain::Role;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(import))
        .layer(DefaultBodyLimit::max(MAX_IMPORT_BYTES))
        .routes(routes!(create))
}

/// `POST /users`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUserBody {
    /// 11-digit mainland mobile number or E.164
    #[schema(example = "13800138001")]
    pub phone: String,
    /// display name, 1 to 50 characters
    pub name: String,
    /// envoy, commander, staff or admin
    pub role: Role,
    /// staff only (and required for them): a department's code or name, e.g. `sanitation`
    pub department: Option<String>,
    /// 8 to 128 characters; tell it to the account's owner
    pub password: String,
}

/// Make an account of any role (admin): the command centre's commanders, department staff,
/// other admins, or a single envoy with a password (bulk envoys: `POST /users/import`).
#[utoipa::path(
    post,
    path = "/users",
    tag = "auth",
    security(("bearer" = [])),
    request_body = NewUserBody,
    responses(
        (status = 201, description = "The account", body = UserBody),
        (status = 400, description = "`invalid_phone`, `invalid_name`, `password_too_short`, `password_too_long`, `department_required`, `department_not_allowed`, `unknown_department`, `invalid_json`, `invalid_body`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`wrong_role`", body = ErrorBody),
        (status = 409, description = "`phone_taken`", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, err(level = "info"), fields(user = %auth.user.id))]
pub async fn create(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiJson(body): ApiJson<NewUserBody>,
) -> ApiResult<Created<UserBody>> {
    auth.require(&[Role::Admin])?;
    let new = blocking(move || {
        NewUser::new(
            &body.phone,
            &body.name,
            &body.password,
            body.role,
            body.department,
        )
    })
    .await??;
    let user = state.store.create_user(&new, state.clock.now()).await?;
    tracing::info!(created = %user.id, role = %user.role, "account made by an admin");
    Ok(Created(UserBody::from(&user)))
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
