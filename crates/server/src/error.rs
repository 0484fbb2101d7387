//! Errors → HTTP, in one place. Every 4xx/5xx the server sends has the body
//! `{"error": {"code": "snake_case", "message": "human text"}}`: handler errors through
//! [`ApiError`], extractor rejections through the `From` impls below, and the bare statuses
//! axum and tower produce themselves (unknown route, wrong method, body too large) through
//! [`fallback`] and [`normalize`]. This is also the only file that names HTTP statuses, the
//! successful ones included ([`Created`], [`NoContent`], [`NotModified`]).

use axum::extract::multipart::{MultipartError, MultipartRejection};
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use pp_domain::DomainError;
use pp_geo::GeoError;
use pp_store::StoreError;
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

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::Invalid { code, message } => Self::BadRequest { code, message },
            DomainError::Conflict { code, message } => Self::Conflict { code, message },
            DomainError::Forbidden { code, message } => Self::Forbidden { code, message },
        }
    }
}

impl From<GeoError> for ApiError {
    fn from(e: GeoError) -> Self {
        Self::BadRequest {
            code: e.code,
            message: e.message,
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(kind) => {
                let code = match kind {
                    "task" => "task_not_found",
                    "team" => "team_not_found",
                    "user" => "user_not_found",
                    "member" => "member_not_found",
                    "dispatch" => "dispatch_not_found",
                    "alert" => "alert_not_found",
                    "incident" => "incident_not_found",
                    _ => "not_found",
                };
                Self::NotFound {
                    code,
                    message: format!("{kind} not found"),
                }
            }
            StoreError::Conflict(code) => Self::Conflict {
                code,
                message: conflict_message(code).to_owned(),
            },
            StoreError::Domain(d) => d.into(),
            StoreError::Config(msg) => {
                Self::Internal(anyhow::anyhow!("store configuration: {msg}"))
            }
            StoreError::Other(e) => Self::Internal(e),
        }
    }
}

/// Words for the store's uniqueness conflicts, which carry only a code.
fn conflict_message(code: &str) -> &'static str {
    match code {
        "phone_taken" => "an account with this phone number exists already",
        "already_in_team" => "you are already in a forming or active team: leave it first",
        "department_exists" => "a department with this code exists already",
        _ => "the request conflicts with the current state",
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        match r {
            JsonRejection::JsonDataError(e) => Self::bad_request("invalid_body", e.body_text()),
            JsonRejection::JsonSyntaxError(e) => Self::bad_request("invalid_json", e.body_text()),
            JsonRejection::MissingJsonContentType(_) => Self::UnsupportedMediaType {
                message: "send the body as JSON with the header Content-Type: application/json"
                    .to_owned(),
            },
            JsonRejection::BytesRejection(e) => body_read_error(e.status(), e.body_text()),
            other => body_read_error(other.status(), other.body_text()),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        Self::bad_request("invalid_query", r.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        match r {
            PathRejection::FailedToDeserializePathParams(e) => {
                Self::bad_request("invalid_id", e.body_text())
            }
            other => Self::Internal(anyhow::anyhow!("path extraction: {}", other.body_text())),
        }
    }
}

impl From<MultipartRejection> for ApiError {
    fn from(r: MultipartRejection) -> Self {
        Self::bad_request(
            "invalid_multipart",
            format!("send the body as multipart/form-data: {}", r.body_text()),
        )
    }
}

impl From<MultipartError> for ApiError {
    fn from(e: MultipartError) -> Self {
        let status = e.status();
        if status == StatusCode::BAD_REQUEST {
            Self::bad_request("invalid_multipart", e.body_text())
        } else {
            body_read_error(status, e.body_text())
        }
    }
}

/// A failure while reading a body: too large, or the connection broke.
fn body_read_error(status: StatusCode, text: String) -> ApiError {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge {
            message: "the request body is too large".to_owned(),
        }
    } else if status.is_client_error() {
        ApiError::bad_request("invalid_body", text)
    } else {
        ApiError::Internal(anyhow::anyhow!("reading the body: {text}"))
    }
}

/// The fallback of the whole router: an unknown route.
pub async fn fallback() -> ApiError {
    ApiError::not_found("not_found", "no such route")
}

/// Middleware (with `axum::middleware::map_response`): gives the error shape to the bare
/// 4xx/5xx responses that axum and tower produce themselves (405 from a method router, 413
/// from a body limit, …). Responses made from an [`ApiError`] pass unchanged; headers (such as
/// `Allow` on a 405) are kept.
pub async fn normalize(res: Response) -> Response {
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error())
        || res.extensions().get::<Shaped>().is_some()
    {
        return res;
    }
    let err = match status {
        StatusCode::NOT_FOUND => ApiError::not_found("not_found", "no such route"),
        StatusCode::METHOD_NOT_ALLOWED => ApiError::MethodNotAllowed,
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge {
            message: "the request body is too large".to_owned(),
        },
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType {
            message: "this media type is not supported here".to_owned(),
        },
        StatusCode::INTERNAL_SERVER_ERROR => {
            ApiError::Internal(anyhow::anyhow!("a bare 500 response"))
        }
        other => {
            // any other bare status keeps its number, with a code made from its reason
            let (mut parts, _) = res.into_parts();
            let code = other
                .canonical_reason()
                .unwrap_or("error")
                .to_lowercase()
                .replace([' ', '-'], "_");
            let body = ErrorBody {
                error: ErrorDetail {
                    code,
                    message: other.to_string(),
                },
            };
            parts.headers.remove(header::CONTENT_LENGTH);
            let mut out = Response::from_parts(parts, axum::body::Body::empty());
            let json = Json(body).into_response();
            let (json_parts, json_body) = json.into_parts();
            out.headers_mut().extend(json_parts.headers);
            *out.body_mut() = json_body;
            out.extensions_mut().insert(Shaped);
            return out;
        }
    };
    let (parts, _) = res.into_parts();
    let mut out = err.into_response();
    // keep the original headers (Allow, …) except those describing the old body
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            out.headers_mut().insert(name.clone(), value.clone());
        }
    }
    out
}

/// The response of a panicking handler (used with `tower_http::catch_panic`).
pub fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let what = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("a panic without a message");
    ApiError::Internal(anyhow::anyhow!("handler panicked: {what}")).into_response()
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

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::to_bytes;

    async fn shape(res: Response) -> (u16, serde_json::Value) {
        let status = res.status().as_u16();
        let bytes = to_bytes(res.into_body(), 1 << 20).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    fn check(e: impl Into<ApiError>, status: u16, code: &str) {
        let e = e.into();
        assert_eq!(e.status().as_u16(), status, "{e:?}");
        assert_eq!(e.code(), code, "{e:?}");
    }

    #[test]
    fn domain_errors() {
        check(
            DomainError::invalid("invalid_phone", "x"),
            400,
            "invalid_phone",
        );
        check(
            DomainError::invalid("invalid_join_token", "x"),
            400,
            "invalid_join_token",
        );
        check(DomainError::conflict("team_full", "x"), 409, "team_full");
        check(
            DomainError::conflict("outside_area", "x"),
            409,
            "outside_area",
        );
        check(DomainError::forbidden("wrong_role", "x"), 403, "wrong_role");
        check(DomainError::forbidden("not_leader", "x"), 403, "not_leader");
        check(
            GeoError::new("coordinate_out_of_range", "x"),
            400,
            "coordinate_out_of_range",
        );
    }

    #[test]
    fn store_errors() {
        check(StoreError::NotFound("task"), 404, "task_not_found");
        check(StoreError::NotFound("team"), 404, "team_not_found");
        check(StoreError::NotFound("user"), 404, "user_not_found");
        check(StoreError::NotFound("member"), 404, "member_not_found");
        check(StoreError::NotFound("dispatch"), 404, "dispatch_not_found");
        check(StoreError::NotFound("alert"), 404, "alert_not_found");
        check(StoreError::NotFound("incident"), 404, "incident_not_found");
        check(
            StoreError::Conflict("department_exists"),
            409,
            "department_exists",
        );
        check(StoreError::NotFound("record"), 404, "not_found");
        check(StoreError::Conflict("phone_taken"), 409, "phone_taken");
        check(
            StoreError::Conflict("already_in_team"),
            409,
            "already_in_team",
        );
        check(
            StoreError::Domain(DomainError::conflict("task_closed", "x")),
            409,
            "task_closed",
        );
        check(
            StoreError::Domain(DomainError::forbidden("not_member", "x")),
            403,
            "not_member",
        );
        check(
            StoreError::Domain(DomainError::invalid("cannot_remove_self", "x")),
            400,
            "cannot_remove_self",
        );
        check(StoreError::Config("bad url".into()), 500, "internal");
        check(
            StoreError::Other(anyhow::anyhow!("db down")),
            500,
            "internal",
        );
    }

    #[tokio::test]
    async fn bodies_have_the_error_shape_and_hide_internals() {
        let (status, body) =
            shape(ApiError::internal(anyhow::anyhow!("secret detail")).into_response()).await;
        assert_eq!(status, 500);
        assert_eq!(body["error"]["code"], "internal");
        assert!(!body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("secret"));

        let res = ApiError::unauthorized("no token").into_response();
        assert_eq!(res.headers()[header::WWW_AUTHENTICATE], "Bearer");
        let (status, body) = shape(res).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (401, Some("unauthorized"))
        );
        assert_eq!(body["error"]["message"], "no token");
    }

    #[tokio::test]
    async fn bare_statuses_are_normalized() {
        let bare = Response::builder()
            .status(StatusCode::METHOD_NOT_ALLOWED)
            .header(header::ALLOW, "GET,HEAD")
            .body(axum::body::Body::empty())
            .unwrap();
        let res = normalize(bare).await;
        assert_eq!(res.headers()[header::ALLOW], "GET,HEAD");
        assert_eq!(res.headers()[header::CONTENT_TYPE], "application/json");
        let (status, body) = shape(res).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (405, Some("method_not_allowed"))
        );

        for (s, code) in [
            (413, "payload_too_large"),
            (404, "not_found"),
            (415, "unsupported_media_type"),
            (408, "request_timeout"),
        ] {
            let bare = Response::builder()
                .status(s)
                .body(axum::body::Body::from("plain text"))
                .unwrap();
            let (status, body) = shape(normalize(bare).await).await;
            assert_eq!((status, body["error"]["code"].as_str()), (s, Some(code)));
        }

        // an error made by the server itself passes unchanged
        let (status, body) =
            shape(normalize(ApiError::not_found("team_not_found", "x").into_response()).await)
                .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (404, Some("team_not_found"))
        );
    }

    #[test]
    fn panics_become_500() {
        let res = panic_response(Box::new("boom"));
        assert_eq!(res.status().as_u16(), 500);
    }
}
