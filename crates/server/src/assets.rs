//! The web app's files, embedded in the binary from `web/` (rust-embed): `/` and `/join` serve
//! the envoy app (`index.html`), `/command` the command dashboard (`command.html`), every
//! other GET that names an embedded file serves it, with an `ETag` from its SHA-256.
//! `vendor/` files are pinned third-party releases and may be cached for long; the app's own
//! files are revalidated on every use. Text files (HTML, JS, CSS, SVG, JSON) go gzipped to
//! clients that accept it (compressed once per file, then kept), with their own `ETag`.
//!
//! For work on the web app, `PEACEPATROL_WEB_DIR=web` makes the server read the files from that
//! folder at each request instead (edit, reload; no rebuild). Unset, only embedded files exist.

use crate::error::{self, NotModified};
use crate::state::AppState;
use axum::body::Body;
use axum::body::Bytes;
use axum::http::{header, HeaderMap, HeaderValue, Method, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use flate2::write::GzEncoder;
use flate2::Compression;
use rust_embed::RustEmbed;
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

#[derive(RustEmbed)]
#[folder = "../../web"]
#[exclude = "vendor/refresh.sh"]
#[exclude = "vendor/packages.txt"]
struct Web;

/// Cache policy of pinned third-party files (their URLs carry `?v=<version>` where it matters).
const VENDOR_CACHE: &str = "public, max-age=31536000, immutable";
/// Cache policy of the app's own files: always revalidate (cheap, thanks to the ETag).
const APP_CACHE: &str = "no-cache";

/// `/` and `/join` (the page a join QR code opens): the envoy app; `/command`: the dashboard.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(envoy_app))
        .route("/join", get(envoy_app))
        .route("/command", get(command_app))
}

async fn envoy_app(headers: HeaderMap) -> Response {
    page("index.html", &headers).await
}

async fn command_app(headers: HeaderMap) -> Response {
    page("command.html", &headers).await
}

async fn page(file: &str, headers: &HeaderMap) -> Response {
    match serve(file, headers) {
        Some(res) => res,
        None => error::fallback().await.into_response(),
    }
}

/// A web file's bytes and SHA-256: from `PEACEPATROL_WEB_DIR` when that is set, else embedded.
fn file(path: &str) -> Option<(Cow<'static, [u8]>, [u8; 32])> {
    static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    let dir = DIR.get_or_init(|| std::env::var_os("PEACEPATROL_WEB_DIR").map(PathBuf::from));
    match dir {
        Some(dir) => {
            let rel = Path::new(path);
            // only plain names below the folder: no `..`, no absolute paths
            if !rel.components().all(|c| matches!(c, Component::Normal(_))) {
                return None;
            }
            let data = std::fs::read(dir.join(rel)).ok()?;
            let hash = Sha256::digest(&data).into();
            Some((Cow::Owned(data), hash))
        }
        None => {
            let f = Web::get(path)?;
            Some((f.data, f.metadata.sha256_hash()))
        }
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

/// Whether the client accepts gzip (`Accept-Encoding: gzip`, or `*`, without `q=0`).
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or_default();
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
}

/// The gzip encoding of the file whose SHA-256 is `hash`, compressed on first use and kept
/// (the embedded files are fixed; under `PEACEPATROL_WEB_DIR` each edit is a new hash).
fn gzipped(hash: [u8; 32], data: &[u8]) -> Option<Arc<[u8]>> {
    type Cache = Mutex<HashMap<[u8; 32], Arc<[u8]>>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(hit) = cache.lock().ok()?.get(&hash) {
        return Some(Arc::clone(hit));
    }
    let mut encoder = GzEncoder::new(Vec::with_capacity(data.len() / 3), Compression::best());
    encoder.write_all(data).ok()?;
    let gz: Arc<[u8]> = encoder.finish().ok()?.into();
    cache.lock().ok()?.insert(hash, Arc::clone(&gz));
    Some(gz)
}

/// Files smaller than this go as they are (gzip's frame would eat the gain).
const GZIP_MIN_BYTES: usize = 1024;

fn serve(path: &str, headers: &HeaderMap) -> Option<Response> {
    if path.is_empty() {
        return None;
    }
    let (data, hash) = file(path)?;
    let mime = mime_guess::from_path(path).first_or_octet_stream();
    let text =
        mime.type_() == mime_guess::mime::TEXT || mime.subtype() == mime_guess::mime::JAVASCRIPT;
    let compressible = text
        || mime.subtype() == mime_guess::mime::JSON
        || mime.suffix() == Some(mime_guess::mime::JSON)
        || mime.subtype() == mime_guess::mime::SVG
        || path.ends_with(".webmanifest");
    let gzip = compressible && data.len() >= GZIP_MIN_BYTES && accepts_gzip(headers);
    // each encoding has its own ETag (RFC 9110 8.8.3)
    let etag = format!("\"{}{}\"", hex::encode(hash), if gzip { "-gz" } else { "" });
    let etag_value = HeaderValue::from_str(&etag).ok()?;
    if matches(headers, &etag) {
        return Some(NotModified(etag_value).into_response());
    }
    let content_type = if text {
        format!("{mime}; charset=utf-8")
    } else if path.ends_with(".webmanifest") {
        "application/manifest+json".to_owned()
    } else {
        mime.to_string()
    };
    let (body, encoding) = match gzip.then(|| gzipped(hash, &data)).flatten() {
        Some(gz) => (Body::from(Bytes::from_owner(gz)), Some("gzip")),
        None => (Body::from(data), None),
    };
    let cache = if path.starts_with("vendor/") {
        VENDOR_CACHE
    } else {
        APP_CACHE
    };
    let mut res = (
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
        body,
    )
        .into_response();
    if compressible {
        res.headers_mut()
            .insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    if let Some(encoding) = encoding {
        res.headers_mut()
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding));
    }
    Some(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embeds_the_app_and_the_pinned_vendor_files() {
        for path in [
            "index.html",
            "command.html",
            "sw.js",
            "manifest.webmanifest",
            "vendor/leaflet/dist/leaflet.js",
            "vendor/jsqr/dist/jsQR.js",
            "vendor/chart.js/dist/chart.umd.min.js",
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
        assert!(res.headers().get(header::CONTENT_ENCODING).is_none());
    }

    /// Pinned files are cached for a year, so the pages name them with `?v=<version>`: every
    /// such reference must carry the version that `vendor/<package>/VERSION` pins (else an
    /// upgrade would leave browsers on the old file), and name a file that is embedded.
    #[test]
    fn the_apps_name_pinned_files_with_their_pinned_version() {
        let mut checked = 0;
        for path in Web::iter().filter(|p| !p.starts_with("vendor/")) {
            if !(path.ends_with(".html") || path.ends_with(".js")) {
                continue;
            }
            let text = String::from_utf8(Web::get(&path).unwrap().data.into_owned()).unwrap();
            for (at, _) in text.match_indices("/vendor/") {
                let rest = &text[at + "/vendor/".len()..];
                let end = rest
                    .find(|c: char| c == '\'' || c == '"' || c == '`' || c.is_whitespace())
                    .unwrap_or(rest.len());
                let reference = &rest[..end];
                let Some((file, version)) = reference.split_once("?v=") else {
                    continue;
                };
                let package = file.split('/').next().unwrap();
                let pinned = Web::get(&format!("vendor/{package}/VERSION"))
                    .unwrap_or_else(|| panic!("{path}: no VERSION for {package}"));
                let pinned = String::from_utf8(pinned.data.into_owned()).unwrap();
                assert_eq!(version, pinned.trim(), "{path}: /vendor/{reference}");
                assert!(
                    Web::get(&format!("vendor/{file}")).is_some(),
                    "{path}: /vendor/{file} is not embedded"
                );
                checked += 1;
            }
        }
        assert!(checked >= 5, "only {checked} versioned references found");
    }

    #[tokio::test]
    async fn text_goes_gzipped_to_clients_that_accept_it() {
        let path = "vendor/leaflet/dist/leaflet.js";
        let plain = serve(path, &HeaderMap::new()).unwrap();
        let plain_etag = plain.headers()[header::ETAG].clone();
        let plain = axum::body::to_bytes(plain.into_body(), usize::MAX)
            .await
            .unwrap();
        let mut gz = HeaderMap::new();
        gz.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("gzip, deflate, br"),
        );
        let res = serve(path, &gz).unwrap();
        assert_eq!(res.headers()[header::CONTENT_ENCODING], "gzip");
        assert_eq!(res.headers()[header::VARY], "accept-encoding");
        let gz_etag = res.headers()[header::ETAG].clone();
        assert_ne!(gz_etag, plain_etag, "each encoding has its own ETag");
        let body = axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .unwrap();
        assert!(
            body.len() * 2 < plain.len(),
            "{} of {}",
            body.len(),
            plain.len()
        );
        let mut unzipped = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&body[..]), &mut unzipped)
            .unwrap();
        assert_eq!(unzipped, plain);
        // revalidation of the gzipped copy
        gz.insert(header::IF_NONE_MATCH, gz_etag);
        assert_eq!(serve(path, &gz).unwrap().status().as_u16(), 304);
        // refused gzip, and images, go as they are
        let mut refused = HeaderMap::new();
        refused.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("gzip;q=0, identity"),
        );
        assert!(serve(path, &refused)
            .unwrap()
            .headers()
            .get(header::CONTENT_ENCODING)
            .is_none());
        let png = serve("vendor/leaflet/dist/images/layers.png", &gz).unwrap();
        assert!(png.headers().get(header::CONTENT_ENCODING).is_none());
    }
}
