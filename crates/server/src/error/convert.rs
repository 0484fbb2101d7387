//! What the other layers' errors are over HTTP: the domain's refusals, the store's, the
//! ingest pipeline's, and axum's extractor rejections (so malformed input gets the same shape).

use super::ApiError;
use crate::ingest::SubmitError;
use axum::extract::multipart::{MultipartError, MultipartRejection};
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use pp_domain::DomainError;
use pp_geo::GeoError;
use pp_store::StoreError;

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

impl From<SubmitError> for ApiError {
    fn from(e: SubmitError) -> Self {
        match e {
            SubmitError::Invalid(d) => d.into(),
            // the message gives the first reason; the report is not sent
            e @ SubmitError::NoValidPoints(_) => {
                Self::unprocessable("no_valid_points", e.to_string())
            }
            // the writer has logged the cause
            SubmitError::Store(_) => Self::unavailable(
                "store_unavailable",
                "the positions could not be stored; send the batch again",
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
