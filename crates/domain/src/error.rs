//! The one error type of the domain rules.

/// Why a domain rule refused something. `code` is a stable `snake_case` identifier that clients
/// can switch on; `message` says what is wrong in words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// The input is malformed or out of range (HTTP 400/422).
    #[error("{message}")]
    Invalid {
        /// machine-readable reason
        code: &'static str,
        /// human-readable reason
        message: String,
    },
    /// The input is well formed but the current state forbids it (HTTP 409).
    #[error("{message}")]
    Conflict {
        /// machine-readable reason
        code: &'static str,
        /// human-readable reason
        message: String,
    },
    /// The caller may not do this to this record (HTTP 403).
    #[error("{message}")]
    Forbidden {
        /// machine-readable reason
        code: &'static str,
        /// human-readable reason
        message: String,
    },
}

impl DomainError {
    /// An [`DomainError::Invalid`].
    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid {
            code,
            message: message.into(),
        }
    }
    /// A [`DomainError::Conflict`].
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::Conflict {
            code,
            message: message.into(),
        }
    }
    /// A [`DomainError::Forbidden`].
    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::Forbidden {
            code,
            message: message.into(),
        }
    }
    /// The machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid { code, .. }
            | Self::Conflict { code, .. }
            | Self::Forbidden { code, .. } => code,
        }
    }
}

impl From<pp_geo::GeoError> for DomainError {
    fn from(e: pp_geo::GeoError) -> Self {
        Self::Invalid {
            code: e.code,
            message: e.message,
        }
    }
}

/// Result of a domain rule.
pub type DomainResult<T> = Result<T, DomainError>;
