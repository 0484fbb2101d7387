//! Accounts: register, log in and out, and who am I.

use crate::error::{ApiError, ApiResult, Created, ErrorBody, NoContent};
use crate::extract::{ApiJson, AuthUser};
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use pp_domain::account::{self, NewUser, Phone};
use pp_domain::onboarding;
use pp_domain::{Role, TeamId, UserId};
use pp_store::{Activation, User};
use serde::{Deserialize, Serialize};
use std::sync::LazyLock;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The account routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(activate))
        .routes(routes!(me))
}

/// An account as clients see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserBody {
    /// id
    pub id: UserId,
    /// E.164 phone number
    #[schema(example = "+8613800138000")]
    pub phone: String,
    /// display name
    pub name: String,
    /// role
    pub role: Role,
    /// department code, for staff accounts
    pub department: Option<String>,
    /// when the account was made
    pub created_at: DateTime<Utc>,
}

impl From<&User> for UserBody {
    fn from(u: &User) -> Self {
        UserBody {
            id: u.id,
            phone: u.phone.as_str().to_owned(),
            name: u.name.clone(),
            role: u.role,
            department: u.department.clone(),
            created_at: u.created_at,
        }
    }
}

/// `POST /auth/register`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RegisterBody {
    /// 11-digit mainland mobile number or E.164
    #[schema(example = "13800138000")]
    pub phone: String,
    /// display name, 1 to 50 characters
    pub name: String,
    /// 8 to 128 characters
    pub password: String,
}

/// `POST /auth/login`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginBody {
    /// the phone the account was registered with (either form)
    pub phone: String,
    /// its password
    pub password: String,
}

/// A new session.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionBody {
    /// bearer token: send it as `Authorization: Bearer <token>`
    pub token: String,
    /// when the token stops working
    pub expires_at: DateTime<Utc>,
    /// the account
    pub user: UserBody,
}

/// `GET /me`.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeBody {
    /// the account
    #[serde(flatten)]
    pub user: UserBody,
    /// the forming or active team the caller is in
    pub current_team_id: Option<TeamId>,
    /// whether emergency dispatches may alert the caller (an envoy's choice, `PUT
    /// /me/availability`; true for other roles, whom dispatches never alert)
    pub available: bool,
}

/// Runs a CPU-heavy closure (argon2) on the blocking pool.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(ApiError::internal)
}

/// A hash that no password matches in practice, verified when the phone is unknown so that a
/// failed login takes as long whether or not the account exists.
static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| account::hash_password("no account has this password"));

/// Register an envoy account.
#[utoipa::path(
    post,
    path = "/auth/register",
    tag = "auth",
    request_body = RegisterBody,
    responses(
        (status = 201, description = "The new account (role envoy)", body = UserBody),
        (status = 400, description = "`invalid_phone`, `invalid_name`, `password_too_short`, `password_too_long`, `invalid_json`, `invalid_body`", body = ErrorBody),
        (status = 409, description = "`phone_taken`", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, err(level = "info"))]
pub async fn register(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<RegisterBody>,
) -> ApiResult<Created<UserBody>> {
    let new =
        blocking(move || NewUser::new(&body.phone, &body.name, &body.password, Role::Envoy, None))
            .await??;
    let user = state.store.create_user(&new, state.clock.now()).await?;
    Ok(Created(UserBody::from(&user)))
}

/// Log in: trade a phone and password for a bearer token.
#[utoipa::path(
    post,
    path = "/auth/login",
    tag = "auth",
    request_body = LoginBody,
    responses(
        (status = 200, description = "A new session", body = SessionBody),
        (status = 400, description = "`invalid_json`, `invalid_body`", body = ErrorBody),
        (status = 401, description = "`invalid_credentials`: unknown phone or wrong password", body = ErrorBody),
        (status = 403, description = "`not_activated`: a bulk-imported envoy who has not activated the account yet (`POST /auth/activate`)", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, err(level = "info"))]
pub async fn login(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<LoginBody>,
) -> ApiResult<Json<SessionBody>> {
    // a malformed phone names no account; it is refused like an unknown one
    let phone = Phone::parse(&body.phone).map_err(|_| ApiError::invalid_credentials())?;
    let found = state.store.user_credentials(&phone).await?;
    let (user, hash) = match found {
        // a bulk-imported envoy has no password until activation
        Some((_, hash)) if hash.is_empty() => return Err(not_activated()),
        Some((user, hash)) => (Some(user), Some(hash)),
        None => (None, None),
    };
    let password = body.password;
    let verified = blocking(move || match hash {
        Some(hash) => account::verify_password(&password, &hash),
        None => {
            let _ = account::verify_password(&password, &DUMMY_HASH);
            false
        }
    })
    .await?;
    let user = user
        .filter(|_| verified)
        .ok_or_else(ApiError::invalid_credentials)?;
    start_session(&state, user).await.map(Json)
}

/// A new session for `user`.
async fn start_session(state: &AppState, user: User) -> ApiResult<SessionBody> {
    let token = account::generate_session_token();
    let now = state.clock.now();
    let expires_at = now + state.config.session_ttl;
    state
        .store
        .create_session(
            &account::session_token_hash(&token),
            user.id,
            now,
            expires_at,
        )
        .await?;
    Ok(SessionBody {
        token,
        expires_at,
        user: UserBody::from(&user),
    })
}

fn not_activated() -> ApiError {
    ApiError::Forbidden {
        code: "not_activated",
        message: "this account was imported and is not activated yet: activate it with the code sent by SMS (POST /api/v1/auth/activate)".to_owned(),
    }
}

/// `POST /auth/activate`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ActivateBody {
    /// the phone the account was imported with (either form)
    #[schema(example = "13800138000")]
    pub phone: String,
    /// the one-time code sent by SMS (8 digits)
    #[schema(example = "40912273")]
    pub code: String,
    /// the password to set, 8 to 128 characters
    pub password: String,
}

/// Activate a bulk-imported envoy: the one-time code of the import and a new password; answers
/// like a login. A wrong code counts an attempt; after 5 the code is void (a re-import issues
/// a new one). An unknown phone is answered like a wrong code.
#[utoipa::path(
    post,
    path = "/auth/activate",
    tag = "auth",
    request_body = ActivateBody,
    responses(
        (status = 200, description = "Activated: a new session", body = SessionBody),
        (status = 400, description = "`password_too_short`, `password_too_long`, `invalid_json`, `invalid_body`", body = ErrorBody),
        (status = 401, description = "`invalid_code`: unknown phone or wrong code (a wrong code counts an attempt)", body = ErrorBody),
        (status = 403, description = "`activation_locked`: too many wrong codes, the code is void; `code_expired`: the code is past its validity. Either way a re-import issues a new code", body = ErrorBody),
        (status = 409, description = "`already_active`", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, err(level = "info"))]
pub async fn activate(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<ActivateBody>,
) -> ApiResult<Json<SessionBody>> {
    let invalid_code = || ApiError::Unauthorized {
        code: "invalid_code",
        message: "the phone number or the activation code is wrong".to_owned(),
    };
    account::check_password(&body.password)?;
    let phone = Phone::parse(&body.phone).map_err(|_| invalid_code())?;
    let salt = crate::onboarding::code_salt(state.store.as_ref()).await?;
    let code_hash = onboarding::code_hash(&salt, &phone, &body.code);
    let password = body.password;
    let password_hash = blocking(move || account::hash_password(&password)).await?;
    let outcome = state
        .store
        .activate(
            &phone,
            &code_hash,
            &password_hash,
            onboarding::MAX_ACTIVATION_ATTEMPTS,
            state.clock.now(),
        )
        .await?;
    let user =
        match outcome {
            Activation::Activated(user) => user,
            Activation::WrongCode => return Err(invalid_code()),
            Activation::Locked => {
                return Err(ApiError::Forbidden {
                    code: "activation_locked",
                    message: format!(
                    "{} wrong codes: this code is void; ask for a new one (a re-import issues it)",
                    onboarding::MAX_ACTIVATION_ATTEMPTS
                ),
                })
            }
            Activation::Expired => return Err(ApiError::Forbidden {
                code: "code_expired",
                message:
                    "this activation code has expired; ask for a new one (a re-import issues it)"
                        .to_owned(),
            }),
            Activation::AlreadyActive => {
                return Err(ApiError::Conflict {
                    code: "already_active",
                    message: "this account is active already: log in".to_owned(),
                })
            }
        };
    start_session(&state, user).await.map(Json)
}

/// Log out: the token stops working.
#[utoipa::path(
    post,
    path = "/auth/logout",
    tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "The session has ended"),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, err(level = "info"))]
pub async fn logout(State(state): State<AppState>, auth: AuthUser) -> ApiResult<NoContent> {
    state.store.delete_session(&auth.token_hash).await?;
    state.sessions.remove(&auth.token_hash);
    Ok(NoContent)
}

/// The signed-in account, with the team it is in.
#[utoipa::path(
    get,
    path = "/me",
    tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's account", body = MeBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, err(level = "info"), fields(user = %auth.user.id))]
pub async fn me(State(state): State<AppState>, auth: AuthUser) -> ApiResult<Json<MeBody>> {
    let current_team_id = state.store.current_team(auth.user.id).await?;
    Ok(Json(MeBody {
        user: UserBody::from(&auth.user),
        current_team_id,
        available: state.live.is_available(auth.user.id),
    }))
}
