//! Joining a team: the leader's QR code (a fresh join URL each time) and joining by its token.

use super::{body_of, TeamBody};
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{ApiJson, ApiPath, AuthUser};
use crate::qr;
use crate::state::AppState;
use crate::team;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use pp_domain::{Role, TeamId};
use serde::Deserialize;
use utoipa::ToSchema;

/// `POST /teams/join`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct JoinBody {
    /// the token from the leader's QR code
    pub token: String,
    /// the team the client expects to join; refused (`token_team_mismatch`) if the token names another
    pub team_id: Option<TeamId>,
}

/// The join URL of a team the caller leads and that is still forming.
async fn leader_join_url(state: &AppState, id: TeamId, auth: &AuthUser) -> ApiResult<String> {
    let view = state.store.team(id).await?;
    view.team.check_invite(auth.user.id)?;
    Ok(team::invite(state, id).url)
}

/// An image response that no cache keeps (each carries a fresh token).
fn no_store(content_type: &'static str, body: impl IntoResponse) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

/// The join QR code as SVG (leader).
#[utoipa::path(
    get,
    path = "/teams/{id}/qr.svg",
    tag = "teams",
    security(("bearer" = [])),
    params(("id" = TeamId, Path, description = "team id")),
    responses(
        (status = 200, description = "QR code of a fresh join URL", content_type = "image/svg+xml", body = String),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`not_leader`", body = ErrorBody),
        (status = 404, description = "`team_not_found`", body = ErrorBody),
        (status = 409, description = "`team_not_forming`", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, err(level = "info"), fields(team = %id))]
pub async fn qr_svg(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiPath(id): ApiPath<TeamId>,
) -> ApiResult<Response> {
    let url = leader_join_url(&state, id, &auth).await?;
    Ok(no_store("image/svg+xml", qr::svg(&url)?))
}

/// The join QR code as PNG (leader).
#[utoipa::path(
    get,
    path = "/teams/{id}/qr.png",
    tag = "teams",
    security(("bearer" = [])),
    params(("id" = TeamId, Path, description = "team id")),
    responses(
        (status = 200, description = "QR code of a fresh join URL", content_type = "image/png", body = Vec<u8>),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`not_leader`", body = ErrorBody),
        (status = 404, description = "`team_not_found`", body = ErrorBody),
        (status = 409, description = "`team_not_forming`", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, err(level = "info"), fields(team = %id))]
pub async fn qr_png(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiPath(id): ApiPath<TeamId>,
) -> ApiResult<Response> {
    let url = leader_join_url(&state, id, &auth).await?;
    Ok(no_store("image/png", qr::png(&url)?))
}

/// Join a team with the token of its leader's QR code (envoy). Joining again is harmless.
#[utoipa::path(
    post,
    path = "/teams/join",
    tag = "teams",
    security(("bearer" = [])),
    request_body = JoinBody,
    responses(
        (status = 200, description = "The team joined", body = TeamBody),
        (status = 400, description = "`invalid_join_token`, `join_token_expired`, `token_team_mismatch`, `invalid_json`, `invalid_body`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`wrong_role`", body = ErrorBody),
        (status = 404, description = "`team_not_found`", body = ErrorBody),
        (status = 409, description = "`team_full`, `team_not_forming`, `already_in_team`", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, err(level = "info"), fields(user = %auth.user.id))]
pub async fn join(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiJson(body): ApiJson<JoinBody>,
) -> ApiResult<Json<TeamBody>> {
    auth.require(&[Role::Envoy])?;
    let view = team::join(&state, auth.user.id, &body.token, body.team_id).await?;
    let body = body_of(&state, view, auth.user.id).await?;
    Ok(Json(body))
}
