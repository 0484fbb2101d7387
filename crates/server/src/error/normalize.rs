//! The error shape for what no handler made: the router's fallback, the bare 4xx/5xx statuses
//! axum and tower answer by themselves, and panics.

use super::{ApiError, ErrorBody, ErrorDetail, Shaped};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

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

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::to_bytes;

    async fn shape(res: Response) -> (u16, serde_json::Value) {
        let status = res.status().as_u16();
        let bytes = to_bytes(res.into_body(), 1 << 20).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
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
