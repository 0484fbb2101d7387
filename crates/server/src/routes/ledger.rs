//! Rewards: the caller's wallet, the leaderboard, and admins' correcting entries. The ledger
//! is append-only: awards are credited when a patrol finishes; nothing is edited or deleted.

use crate::error::{ApiError, ApiResult, Created, ErrorBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery, AuthUser};
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use pp_domain::ledger::{correction, LedgerKind, LedgerSource};
use pp_domain::{LedgerId, Role, TeamId, UserId};
use pp_store::{LedgerEntry, Wallet};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Entries a wallet shows by default, and at most.
const WALLET_ENTRIES: (u32, u32) = (50, 500);
/// Rows of the leaderboard by default, and at most.
const LEADERBOARD_ROWS: (u32, u32) = (20, 100);
/// The leaderboard's default period: the last 30 days.
const DEFAULT_PERIOD_DAYS: i64 = 30;

/// The ledger routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(my_wallet))
        .routes(routes!(user_wallet))
        .routes(routes!(leaderboard))
        .routes(routes!(add_correction))
}

/// A ledger entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct EntryBody {
    /// id
    pub id: LedgerId,
    /// whose
    pub user_id: UserId,
    /// `points` or `fund` (cents)
    pub kind: LedgerKind,
    /// signed amount
    pub amount: i64,
    /// why
    pub reason: String,
    /// the patrol it rewards
    pub team_id: Option<TeamId>,
    /// `award` or `correction`
    pub source: LedgerSource,
    /// the admin who made a correction
    pub created_by: Option<UserId>,
    /// when
    pub created_at: DateTime<Utc>,
}

impl From<LedgerEntry> for EntryBody {
    fn from(e: LedgerEntry) -> Self {
        EntryBody {
            id: e.id,
            user_id: e.user_id,
            kind: e.kind,
            amount: e.amount,
            reason: e.reason,
            team_id: e.team_id,
            source: e.source,
            created_by: e.created_by,
            created_at: e.created_at,
        }
    }
}

/// Balances and history.
#[derive(Debug, Serialize, ToSchema)]
pub struct WalletBody {
    /// points balance
    pub points: i64,
    /// "Safe Public Welfare Fund" balance, cents
    pub fund_cents: i64,
    /// the latest entries, newest first
    pub entries: Vec<EntryBody>,
}

impl From<Wallet> for WalletBody {
    fn from(w: Wallet) -> Self {
        WalletBody {
            points: w.points,
            fund_cents: w.fund_cents,
            entries: w.entries.into_iter().map(EntryBody::from).collect(),
        }
    }
}

/// `?limit=` of a wallet.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WalletQuery {
    /// most entries shown (default 50, at most 500)
    pub limit: Option<u32>,
}

fn capped(limit: Option<u32>, (default, max): (u32, u32)) -> u32 {
    limit.unwrap_or(default).clamp(1, max)
}

/// The caller's balances and latest ledger entries.
#[utoipa::path(
    get,
    path = "/me/wallet",
    tag = "rewards",
    security(("bearer" = [])),
    params(WalletQuery),
    responses(
        (status = 200, description = "Balances and history", body = WalletBody),
        (status = 400, description = "`invalid_query`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, err(level = "info"), fields(user = %auth.user.id))]
pub async fn my_wallet(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiQuery(q): ApiQuery<WalletQuery>,
) -> ApiResult<Json<WalletBody>> {
    let wallet = state
        .store
        .wallet(auth.user.id, capped(q.limit, WALLET_ENTRIES))
        .await?;
    Ok(Json(wallet.into()))
}

/// Anyone's balances and latest entries (admin), to check before correcting.
#[utoipa::path(
    get,
    path = "/users/{id}/wallet",
    tag = "rewards",
    security(("bearer" = [])),
    params(("id" = UserId, Path, description = "user id"), WalletQuery),
    responses(
        (status = 200, description = "Balances and history", body = WalletBody),
        (status = 400, description = "`invalid_id`, `invalid_query`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`wrong_role`", body = ErrorBody),
        (status = 404, description = "`user_not_found`", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, err(level = "info"), fields(user = %id))]
pub async fn user_wallet(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiPath(id): ApiPath<UserId>,
    ApiQuery(q): ApiQuery<WalletQuery>,
) -> ApiResult<Json<WalletBody>> {
    auth.require(&[Role::Admin])?;
    state.store.user(id).await?;
    let wallet = state
        .store
        .wallet(id, capped(q.limit, WALLET_ENTRIES))
        .await?;
    Ok(Json(wallet.into()))
}

/// `GET /leaderboard` period and size.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LeaderboardQuery {
    /// start of the period, RFC 3339, inclusive (default: 30 days before `to`)
    pub from: Option<DateTime<Utc>>,
    /// end of the period, RFC 3339, exclusive (default: now)
    pub to: Option<DateTime<Utc>>,
    /// most rows (default 20, at most 100)
    pub limit: Option<u32>,
}

/// A row of the leaderboard.
#[derive(Debug, Serialize, ToSchema)]
pub struct LeaderBody {
    /// 1 for the first
    pub rank: u32,
    /// who
    pub user_id: UserId,
    /// display name
    pub name: String,
    /// points earned in the period
    pub points: i64,
    /// minutes patrolled inside task areas in teams finished in the period (the tie-break)
    pub patrol_minutes: f64,
}

/// `GET /leaderboard`.
#[derive(Debug, Serialize, ToSchema)]
pub struct LeaderboardBody {
    /// the period's start
    pub from: DateTime<Utc>,
    /// the period's end
    pub to: DateTime<Utc>,
    /// best first
    pub rows: Vec<LeaderBody>,
}

/// Envoys by points earned in the period, ties broken by patrol minutes.
#[utoipa::path(
    get,
    path = "/leaderboard",
    tag = "rewards",
    security(("bearer" = [])),
    params(LeaderboardQuery),
    responses(
        (status = 200, description = "The best envoys of the period", body = LeaderboardBody),
        (status = 400, description = "`invalid_period`, `invalid_query`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, err(level = "info"))]
pub async fn leaderboard(
    State(state): State<AppState>,
    _auth: AuthUser,
    ApiQuery(q): ApiQuery<LeaderboardQuery>,
) -> ApiResult<Json<LeaderboardBody>> {
    let to = q.to.unwrap_or_else(|| state.clock.now());
    let from = q
        .from
        .unwrap_or(to - chrono::Duration::days(DEFAULT_PERIOD_DAYS));
    if from >= to {
        return Err(ApiError::bad_request(
            "invalid_period",
            "from must be before to",
        ));
    }
    let rows = state
        .store
        .leaderboard(from, to, capped(q.limit, LEADERBOARD_ROWS))
        .await?;
    Ok(Json(LeaderboardBody {
        from,
        to,
        rows: rows
            .into_iter()
            .zip(1..)
            .map(|(r, rank)| LeaderBody {
                rank,
                user_id: r.user_id,
                name: r.name,
                points: r.points,
                patrol_minutes: (r.patrol_ms as f64 / 600.0).round() / 100.0,
            })
            .collect(),
    }))
}

/// `POST /ledger/corrections`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CorrectionBody {
    /// whose balance to correct
    pub user_id: UserId,
    /// `points` or `fund` (cents)
    pub kind: LedgerKind,
    /// non-zero signed amount
    pub amount: i64,
    /// why (1 to 500 characters)
    pub reason: String,
}

/// Append a correcting entry (admin). Nothing in the ledger is ever edited or deleted: a
/// wrong credit is undone by a correction of the opposite amount.
#[utoipa::path(
    post,
    path = "/ledger/corrections",
    tag = "rewards",
    security(("bearer" = [])),
    request_body = CorrectionBody,
    responses(
        (status = 201, description = "The appended entry", body = EntryBody),
        (status = 400, description = "`invalid_amount`, `invalid_reason`, `invalid_json`, `invalid_body`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`wrong_role`", body = ErrorBody),
        (status = 404, description = "`user_not_found`", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, err(level = "info"), fields(admin = %auth.user.id))]
pub async fn add_correction(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiJson(body): ApiJson<CorrectionBody>,
) -> ApiResult<Created<EntryBody>> {
    auth.require(&[Role::Admin])?;
    let entry = correction(
        body.user_id,
        body.kind,
        body.amount,
        &body.reason,
        auth.user.id,
    )?;
    let stored = state
        .store
        .add_correction(&entry, state.clock.now())
        .await?;
    Ok(Created(stored.into()))
}
