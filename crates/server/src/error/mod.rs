//! Errors → HTTP, in one place. Every 4xx/5xx the server sends has the body
//! `{"error": {"code": "snake_case", "message": "human text"}}`: handler errors through
//! [`ApiError`], the errors of the domain, the store, the services and the extractors through
//! the `From` impls (in `convert.rs`), and the bare statuses axum and tower produce themselves
//! (unknown route, wrong method, body too large) through [`fallback`] and [`normalize`]. This
//! is also the only module that names HTTP statuses, the successful ones included
//! ([`Created`], [`NoContent`], [`NotModified`]).

mod convert;
mod normalize;

pub use normalize::{fallback, normalize, panic_response};

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

/// The error body of every 4xx/5xx response.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"error": {"code": "team_full", "message": "this team is full (5 members)"}}))]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// The inside of [`ErrorBody`].
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable `snake_case` reason that clients can switch on.
    pub code: String,
    /// What is wrong, in words.
    pub message: String,
}

/// Why a request failed. Each variant is one HTTP status; `code` is the machine-readable reason.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: malformed or invalid input.
    #[error("{message}")]
    BadRequest {
        /// reason
        code: &'static str,
        /// words
        message: String,
    },
    /// 401: no valid session, or a failed login.
    #[error("{message}")]
    Unauthorized {
        /// reason
        code: &'static str,
        /// words
        message: String,
    },
    /// 403: signed in, but not allowed.
    #[error("{message}")]
    Forbidden {
        /// reason
        code: &'static str,
        /// words
        message: String,
    },
    /// 404: no such route or record.
    #[error("{message}")]
    NotFound {
        /// reason
        code: &'static str,
        /// words
        message: String,
    },
    /// 405: the route exists, the method does not.
    #[error("this method is not allowed on this path")]
    MethodNotAllowed,
    /// 409: well-formed, but the current state refuses it.
    #[error("{message}")]
    Conflict {
        /// reason
        code: &'static str,
        /// words
        message: String,
    },
    /// 413: the body is larger than this route accepts.
    #[error("{message}")]
    PayloadTooLarge {
        /// words
        message: String,
    },
    /// 415: the body is not of a type this route reads.
    #[error("{message}")]
    UnsupportedMediaType {
        /// words
        message: String,
    },
    /// 422: well-formed request whose content cannot be used (a photo that is not a photo).
    #[error("{message}")]
    Unprocessable {
        /// reason
        code: &'static str,
        /// words
        message: String,
    },
    /// 503: a dependency (the database) does not answer.
    #[error("{message}")]
    Unavailable {
        /// reason
        code: &'static str,
        /// words
        message: String,
    },
    /// 500: a bug or an outage. The client sees a generic message; the cause is logged.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;

/// Marks a response whose body already has the error shape, so [`normalize`] leaves it alone.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shaped;

impl ApiError {
    /// A 400 with its own code.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::BadRequest {
            code,
            message: message.into(),
        }
    }

    /// The 401 of every endpoint that needs a session.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::Unauthorized {
            code: "unauthorized",
            message: message.into(),
        }
    }

    /// The uniform 401 of a failed login (unknown phone or wrong password alike).
    pub fn invalid_credentials() -> Self {
        Self::Unauthorized {
            code: "invalid_credentials",
            message: "the phone number or the password is wrong".to_owned(),
        }
    }

    /// A 404 with its own code.
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::NotFound {
            code,
            message: message.into(),
        }
    }

    /// A 422 `invalid_photo`.
    pub fn invalid_photo(message: impl Into<String>) -> Self {
        Self::unprocessable("invalid_photo", message)
    }

    /// A 422 with its own code: well-formed input that cannot be used.
    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self::Unprocessable {
            code,
            message: message.into(),
        }
    }

    /// A 503 with its own code: try again later.
    pub fn unavailable(code: &'static str, message: impl Into<String>) -> Self {
        Self::Unavailable {
            code,
            message: message.into(),
        }
    }

    /// A 500 from any error.
    pub fn internal(e: impl Into<anyhow::Error>) -> Self {
        Self::Internal(e.into())
    }

    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            Self::Forbidden { .. } => StatusCode::FORBIDDEN,
            Self::NotFound { .. } => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The machine-readable code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest { code, .. }
            | Self::Unauthorized { code, .. }
            | Self::Forbidden { code, .. }
            | Self::NotFound { code, .. }
            | Self::Conflict { code, .. }
            | Self::Unprocessable { code, .. }
            | Self::Unavailable { code, .. } => code,
            Self::MethodNotAllowed => "method_not_allowed",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::UnsupportedMediaType { .. } => "unsupported_media_type",
            Self::Internal(_) => "internal",
        }
    }

    /// The message the client sees (generic for a 500).
    pub fn client_message(&self) -> String {
        match self {
            Self::Internal(_) => "internal server error; it has been logged".to_owned(),
            other => other.to_string(),
        }
    }

    fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.code().to_owned(),
                message: self.client_message(),
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Self::Internal(e) = &self {
            tracing::error!(error = ?e, "internal error");
        }
        let mut res = (self.status(), Json(self.body())).into_response();
        if matches!(self, Self::Unauthorized { .. }) {
            res.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        res.extensions_mut().insert(Shaped);
        res
    }
}

/// 201 Created with a JSON body.
#[derive(Debug)]
pub struct Created<T>(pub T);

impl<T: Serialize> IntoResponse for Created<T> {
    fn into_response(self) -> Response {
        (StatusCode::CREATED, Json(self.0)).into_response()
    }
}

/// 204 No Content.
#[derive(Debug, Clone, Copy)]
pub struct NoContent;

impl IntoResponse for NoContent {
    fn into_response(self) -> Response {
        StatusCode::NO_CONTENT.into_response()
    }
}

/// 304 Not Modified (a conditional GET whose `ETag` matched).
#[derive(Debug, Clone)]
pub struct NotModified(pub HeaderValue);

impl IntoResponse for NotModified {
    fn into_response(self) -> Response {
        (StatusCode::NOT_MODIFIED, [(header::ETAG, self.0)]).into_response()
    }
}
