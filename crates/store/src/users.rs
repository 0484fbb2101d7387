//! Accounts, sessions, availability for dispatch and the onboarding of pending envoys: the
//! [`UserStore`] trait, what it hands back, and the rows they are read from.

use crate::decode::corrupt;
use crate::{StoreError, StoreResult};
use async_trait::async_trait;
use pp_domain::account::{NewUser, Phone};
use pp_domain::time::{from_millis, Timestamp};
use pp_domain::{Role, UserId};
use uuid::Uuid;

/// Accounts and sessions.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Creates an account; `Conflict("phone_taken")` when the phone is registered,
    /// `Domain(unknown_department)` when a staff account names no known department.
    async fn create_user(&self, user: &NewUser, now: Timestamp) -> StoreResult<User>;
    /// An account by id.
    async fn user(&self, id: UserId) -> StoreResult<User>;
    /// An account and its password hash, by phone.
    async fn user_credentials(&self, phone: &Phone) -> StoreResult<Option<(User, String)>>;
    /// Records a session by the hash of its token.
    async fn create_session(
        &self,
        token_hash: &[u8],
        user: UserId,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> StoreResult<()>;
    /// The account behind an unexpired session.
    async fn session_user(&self, token_hash: &[u8], now: Timestamp) -> StoreResult<Option<User>>;
    /// Ends a session; ending an unknown one is not an error.
    async fn delete_session(&self, token_hash: &[u8]) -> StoreResult<()>;
    /// Deletes sessions that expired before `now`; returns how many.
    async fn purge_sessions(&self, now: Timestamp) -> StoreResult<u64>;
    /// Opts `user` in to (`true`) or out of emergency dispatch; `NotFound("user")` for an
    /// unknown user.
    async fn set_available(&self, user: UserId, available: bool) -> StoreResult<()>;
    /// The users who opted out of emergency dispatch.
    async fn unavailable_users(&self) -> StoreResult<Vec<UserId>>;
    /// Creates many accounts in one transaction (bulk onboarding, benchmark workloads); a
    /// phone that is registered already is skipped. Returns how many were created.
    async fn create_users_bulk(&self, users: &[NewUser], now: Timestamp) -> StoreResult<u64>;
    /// The ids of the accounts with these phones (unknown phones are left out).
    async fn user_ids_by_phone(&self, phones: &[Phone]) -> StoreResult<Vec<(Phone, UserId)>>;
    /// Imports pending envoys (bulk onboarding), in transactions of a few thousand rows of
    /// multi-row statements. A new phone makes a pending envoy whose code expires at
    /// `expires_at`; a phone pending already gets the new code (attempts reset); a phone of an
    /// active account is left alone. Returns one outcome per row, in order.
    async fn import_envoys(
        &self,
        rows: &[PendingEnvoy],
        expires_at: Timestamp,
        now: Timestamp,
    ) -> StoreResult<Vec<ImportOutcome>>;
    /// Activates the pending account of `phone` when `code_hash` is its code's and it has not
    /// expired nor had `max_attempts` wrong tries: sets `password_hash` and voids the code,
    /// once (concurrent activations are settled in the database: exactly one succeeds). A
    /// wrong code counts an attempt; an unknown phone is `WrongCode`.
    async fn activate(
        &self,
        phone: &Phone,
        code_hash: &[u8],
        password_hash: &str,
        max_attempts: i32,
        now: Timestamp,
    ) -> StoreResult<Activation>;
}

/// An account, without its password hash.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    /// id
    pub id: UserId,
    /// E.164 phone
    pub phone: Phone,
    /// display name
    pub name: String,
    /// role
    pub role: Role,
    /// department code, for staff
    pub department: Option<String>,
    /// when the account was made
    pub created_at: Timestamp,
}

/// An envoy to import, pending until they activate with the code whose hash this carries.
#[derive(Debug, Clone)]
pub struct PendingEnvoy {
    /// E.164 phone
    pub phone: pp_domain::account::Phone,
    /// display name
    pub name: String,
    /// `onboarding::code_hash` of the one-time code
    pub code_hash: Vec<u8>,
}

/// What an import did with one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportOutcome {
    /// a new pending envoy
    Created,
    /// the phone was pending already: its code was replaced (attempts and expiry reset)
    Reissued,
    /// the phone belongs to an active account: nothing changed
    Taken,
}

/// The answer to an activation.
#[derive(Debug, Clone)]
pub enum Activation {
    /// the account is active with its new password
    Activated(User),
    /// unknown phone, or a wrong code (counted)
    WrongCode,
    /// too many wrong codes: the code is void
    Locked,
    /// the code expired
    Expired,
    /// the account is active already
    AlreadyActive,
}

// How they are stored: the rows read back, and what they decode into.

#[derive(sqlx::FromRow)]
pub(crate) struct UserRow {
    id: Uuid,
    phone: String,
    name: String,
    role: String,
    department: Option<String>,
    created_at: i64,
}

impl TryFrom<UserRow> for User {
    type Error = StoreError;
    fn try_from(r: UserRow) -> StoreResult<User> {
        Ok(User {
            id: UserId(r.id),
            phone: Phone::from_trusted(r.phone),
            name: r.name,
            role: r.role.parse::<Role>().map_err(|e| corrupt("role", e))?,
            department: r.department,
            created_at: from_millis(r.created_at),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct CredentialsRow {
    #[sqlx(flatten)]
    pub user: UserRow,
    pub password_hash: String,
}
