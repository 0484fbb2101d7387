//! [`ApiError`]: what a request that did not succeed came to, read from the API's error shape
//! `{"error":{"code","message"}}`.

use reqwest::StatusCode;
use serde_json::Value;

/// How many characters of an error answer its message keeps.
const SHOWN_CHARS: usize = 300;

/// A request that did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// It could not be sent, or got no answer (connection, timeout).
    #[error("{route}: no answer: {source}")]
    NoAnswer {
        /// the route template (`POST /positions`)
        route: &'static str,
        /// why
        source: reqwest::Error,
    },
    /// A non-2xx answer.
    #[error("{route}: HTTP {status}: {shown}")]
    Refused {
        /// the route template
        route: &'static str,
        /// its status
        status: StatusCode,
        /// `error.code` of the body ("" when the body has none)
        code: String,
        /// the body, cut to its first 300 characters
        shown: String,
    },
    /// A 2xx answer that is not what the call reads.
    #[error("{route}: unexpected answer: {reason}")]
    Unexpected {
        /// the route template
        route: &'static str,
        /// what did not fit
        reason: String,
    },
}

impl ApiError {
    /// The refusal `status` with `body` of a request to `route`.
    pub(super) fn refused(route: &'static str, status: StatusCode, body: &Value) -> ApiError {
        ApiError::Refused {
            route,
            status,
            code: code(body).to_owned(),
            shown: body.to_string().chars().take(SHOWN_CHARS).collect(),
        }
    }

    /// The API's error code (`already_in_team`), when the server refused with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            ApiError::Refused { code, .. } if !code.is_empty() => Some(code),
            _ => None,
        }
    }

    /// The status of a refusal.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            ApiError::Refused { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// The error code of an error body, "" when it has none.
pub fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_carry_the_code_and_a_short_body() {
        let body =
            serde_json::json!({"error": {"code": "already_in_team", "message": "x".repeat(400)}});
        let e = ApiError::refused("POST /tasks/{id}/teams", StatusCode::CONFLICT, &body);
        assert_eq!(e.code(), Some("already_in_team"));
        assert_eq!(e.status(), Some(StatusCode::CONFLICT));
        let shown = e.to_string();
        assert!(shown.starts_with("POST /tasks/{id}/teams: HTTP 409 Conflict: {\"error\""));
        assert_eq!(
            shown.len(),
            "POST /tasks/{id}/teams: HTTP 409 Conflict: ".len() + 300
        );
        let plain = ApiError::refused("GET /me", StatusCode::BAD_GATEWAY, &Value::Null);
        assert_eq!(plain.code(), None);
    }
}
