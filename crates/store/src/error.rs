//! Storage errors.

use pp_domain::DomainError;

/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No such record; the string names the kind (`"task"`, `"team"`, `"user"`).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A uniqueness rule refused the write; the string is a snake_case reason.
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// A domain rule, checked inside the transaction, refused the change.
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// A bad database URL or option.
    #[error("{0}")]
    Config(String),
    /// Anything else: the database is down, a migration failed, a row did not decode.
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::RowNotFound => StoreError::NotFound("record"),
            other => StoreError::Other(other.into()),
        }
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Other(e.into())
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        StoreError::Other(e.into())
    }
}

/// Result of a store call.
pub type StoreResult<T> = Result<T, StoreError>;
