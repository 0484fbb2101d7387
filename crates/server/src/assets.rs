//! The web app's files, embedded in the binary from `web/` (rust-embed): `/` and `/join` serve
//! `index.html`, every other GET that names an embedded file serves it, with an `ETag` from
//! its SHA-256. `vendor/` files are pinned third-party releases and may be cached for long;
//! the app's own files are revalidated on every use.

use crate::error::{self, NotModified};
use crate::state::AppState;
use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, Method, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "../../web"]
#[exclude = "vendor/refresh.sh"]
#[exclude = "vendor/packages.txt"]
struct Web;

/// Cache policy of pinned third-party files (their URLs carry `?v=<version>` where it matters).
const VENDOR_CACHE: &str = "public, max-age=31536000, immutable";
/// Cache policy of the app's own files: always revalidate (cheap, thanks to the ETag).
const APP_CACHE: &str = "no-cache";

/// `/` and `/join` (the page a join QR code opens).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/join", get(index))
}

async fn index(headers: HeaderMap) -> Response {
    match serve("index.html", &headers) {
        Some(res) => res,
        None => error::fallback().await.into_response(),
    }
}

/// The router's fallback: an embedded file for GET/HEAD, else the JSON 404.
pub async fn fallback(method: Method, uri: Uri, headers: HeaderMap) -> Response {
    if method == Method::GET || method == Method::HEAD {
        if let Some(res) = serve(uri.path().trim_start_matches('/'), &headers) {
            return res;
        }
    }
    error::fallback().await.into_response()
}

/// Whether an `If-None-Match` header matches `etag` (quoted).
pub(crate) fn matches(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == etag || t == "*")
}

fn serve(path: &str, headers: &HeaderMap) -> Option<Response> {
    if path.is_empty() {
        return None;
    }
    let file = Web::get(path)?;
    let etag = format!("\"{}\"", hex::encode(file.metadata.sha256_hash()));
    let etag_value = HeaderValue::from_str(&etag).ok()?;
    if matches(headers, &etag) {
        return Some(NotModified(etag_value).into_response());
    }
    let mime = mime_guess::from_path(path).first_or_octet_stream();
    let text =
        mime.type_() == mime_guess::mime::TEXT || mime.subtype() == mime_guess::mime::JAVASCRIPT;
    let content_type = if text {
        format!("{mime}; charset=utf-8")
    } else {
        mime.to_string()
    };
    let cache = if path.starts_with("vendor/") {
        VENDOR_CACHE
    } else {
        APP_CACHE
    };
    Some(
        (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_str(&content_type).ok()?,
                ),
                (header::ETAG, etag_value),
                (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
                (
                    header::X_CONTENT_TYPE_OPTIONS,
                    HeaderValue::from_static("nosniff"),
                ),
            ],
            Body::from(file.data),
        )
            .into_response(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embeds_the_app_and_the_pinned_vendor_files() {
        for path in [
            "index.html",
            "vendor/swagger-ui/swagger-ui-bundle.js",
            "vendor/swagger-ui/swagger-ui.css",
            "vendor/swagger-ui/LICENSE",
        ] {
            assert!(Web::get(path).is_some(), "{path}");
        }
        assert!(Web::get("vendor/refresh.sh").is_none());
        let res = serve("vendor/swagger-ui/swagger-ui.css", &HeaderMap::new()).unwrap();
        assert_eq!(
            res.headers()[header::CONTENT_TYPE],
            "text/css; charset=utf-8"
        );
        assert_eq!(res.headers()[header::CACHE_CONTROL], VENDOR_CACHE);
        let etag = res.headers()[header::ETAG].clone();
        let mut conditional = HeaderMap::new();
        conditional.insert(header::IF_NONE_MATCH, etag);
        assert_eq!(
            serve("vendor/swagger-ui/swagger-ui.css", &conditional)
                .unwrap()
                .status()
                .as_u16(),
            304
        );
        let res = serve("index.html", &HeaderMap::new()).unwrap();
        assert_eq!(
            res.headers()[header::CONTENT_TYPE],
            "text/html; charset=utf-8"
        );
        assert_eq!(res.headers()[header::CACHE_CONTROL], APP_CACHE);
    }
}
