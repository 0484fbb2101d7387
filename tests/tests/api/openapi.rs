//! The OpenAPI document, the docs page, health and metrics.
//!
//! The document the server generates from its handlers is committed as `docs/openapi.json`, so
//! a change of the API shows in review as a diff of that file. After an intended change, rewrite
//! it with `PEACEPATROL_BLESS_OPENAPI=1 cargo test -p e2e --test api openapi` and commit it.
//! The hand-written guide, `docs/api.md`, is checked against the committed document in both
//! directions: every operation in it is described there, and it names no other.

use e2e::{expect, on_each_backend, Backend, TestApp};
use serde_json::Value;
use std::path::Path;

/// The committed OpenAPI document: exactly what `GET /api/openapi.json` serves.
const OPENAPI_JSON: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/openapi.json");
/// The hand-written API guide.
const API_MD: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/api.md");
/// Set to `1` to rewrite `docs/openapi.json` from what the server serves instead of comparing.
const BLESS: &str = "PEACEPATROL_BLESS_OPENAPI";

fn blessing() -> bool {
    std::env::var(BLESS).is_ok_and(|v| v == "1")
}

/// Rewrites the committed document: a temporary file renamed over it, so a test reading it at
/// the same moment sees the old or the new document, never half of one.
fn bless(served: &str) {
    let path = Path::new(OPENAPI_JSON);
    let tmp = path.with_extension(format!("json.{}.tmp", std::process::id()));
    std::fs::write(&tmp, served).unwrap();
    std::fs::rename(&tmp, path).unwrap();
    eprintln!("{BLESS}=1: rewrote {}", path.display());
}

/// The first line where `committed` and `served` differ, numbered from 1, with both versions.
fn first_difference(committed: &str, served: &str) -> String {
    let mut committed_lines = committed.lines();
    let mut served_lines = served.lines();
    for n in 1.. {
        match (committed_lines.next(), served_lines.next()) {
            (None, None) => break,
            (c, s) if c == s => {}
            (c, s) => {
                return format!(
                    "first difference at line {n}:\n  committed: {}\n  served:    {}",
                    c.unwrap_or("(end of file)"),
                    s.unwrap_or("(end of document)")
                );
            }
        }
    }
    "the lines are equal; the line endings or the final newline differ".to_owned()
}

#[tokio::test]
async fn the_served_openapi_document_is_the_committed_one() {
    on_each_backend(async |app: &TestApp| {
        let res = app
            .client
            .get(app.url("/api/openapi.json"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 200);
        let ct = res.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(ct.starts_with("application/json"), "{ct}");
        let served = res.text().await.unwrap();

        let spec: Value = serde_json::from_str(&served).expect("valid JSON");
        assert!(
            spec["openapi"]
                .as_str()
                .is_some_and(|v| v.starts_with("3.1")),
            "OpenAPI 3.1: {}",
            spec["openapi"]
        );
        assert!(spec["info"]["title"].is_string());
        // the error body is described
        assert!(
            served.contains("ErrorBody"),
            "the error shape is in the spec"
        );
        assert!(
            spec["components"]["securitySchemes"]
                .as_object()
                .is_some_and(|s| s.values().any(|v| v["scheme"] == "bearer")),
            "a bearer security scheme: {}",
            spec["components"]
        );

        if blessing() {
            bless(&served);
            return;
        }
        let committed = std::fs::read_to_string(OPENAPI_JSON).unwrap_or_default();
        assert!(
            committed == served,
            "docs/openapi.json is not what the server serves at /api/openapi.json.\n{}\n\
             If the API change is intended, rewrite the file with\n    \
             {BLESS}=1 cargo test -p e2e --test api openapi\n\
             and commit docs/openapi.json with the change (and describe it in docs/api.md).",
            first_difference(&committed, &served)
        );
    })
    .await;
}

/// Server routes that `docs/api.md` names but that are not operations of the API document: the
/// document itself and its browsable page.
const OUTSIDE_THE_DOCUMENT: [&str; 2] = ["/api/openapi.json", "/api/docs"];
/// The methods an OpenAPI path item may hold operations for.
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// `(method, path shape)` of every operation of the committed OpenAPI document, paths without
/// the `/api/v1` prefix (see [`shape`]).
fn committed_operations() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(OPENAPI_JSON).unwrap();
    let spec: Value = serde_json::from_str(&text).expect("docs/openapi.json is JSON");
    let paths = spec["paths"].as_object().expect("paths");
    let mut out = Vec::new();
    for (path, item) in paths {
        let path = shape(path.strip_prefix("/api/v1").unwrap_or(path));
        for method in item.as_object().into_iter().flat_map(|ops| ops.keys()) {
            if METHODS.contains(&method.as_str()) {
                out.push((method.clone(), path.clone()));
            }
        }
    }
    out
}

/// `(method, path shape)` of every operation `docs/api.md` names in backticks (`` `GET /me` ``,
/// `` `PATCH /incidents/{id} {status}` ``), paths without the `/api/v1` prefix; the routes of
/// [`OUTSIDE_THE_DOCUMENT`] are left out.
fn documented_operations() -> Vec<(String, String)> {
    let doc = std::fs::read_to_string(API_MD).unwrap();
    let mut out = Vec::new();
    for (i, span) in doc.split('`').enumerate() {
        if i % 2 == 0 {
            continue; // outside backticks
        }
        let Some((method, rest)) = span.split_once(' ') else {
            continue;
        };
        let method = method.to_lowercase();
        if !METHODS.contains(&method.as_str()) || !rest.starts_with('/') {
            continue;
        }
        let path = rest.split([' ', '?']).next().unwrap();
        if OUTSIDE_THE_DOCUMENT.contains(&path) {
            continue;
        }
        let path = shape(path.strip_prefix("/api/v1").unwrap_or(path));
        if !out.contains(&(method.clone(), path.clone())) {
            out.push((method, path));
        }
    }
    out
}

/// `/teams/{id}/members/{user_id}` → `/teams/{}/members/{}`: parameter names may differ.
fn shape(path: &str) -> String {
    let mut out = String::new();
    let mut in_param = false;
    for c in path.chars() {
        match c {
            '{' => {
                in_param = true;
                out.push_str("{}");
            }
            '}' => in_param = false,
            _ if !in_param => out.push(c),
            _ => {}
        }
    }
    out
}

#[test]
fn docs_api_md_describes_every_operation_of_the_committed_document_and_no_other() {
    let committed = committed_operations();
    let documented = documented_operations();
    assert!(
        committed.len() >= 16,
        "docs/openapi.json read to {committed:?}"
    );
    assert!(
        documented.len() >= 16,
        "docs/api.md parsed to {documented:?}"
    );
    let undescribed: Vec<_> = committed
        .iter()
        .filter(|op| !documented.contains(op))
        .collect();
    let unknown: Vec<_> = documented
        .iter()
        .filter(|op| !committed.contains(op))
        .collect();
    assert!(
        undescribed.is_empty() && unknown.is_empty(),
        "docs/api.md and docs/openapi.json disagree.\n\
         Operations of docs/openapi.json that docs/api.md does not describe (name each as \
         `METHOD /path` in backticks): {undescribed:?}\n\
         Operations docs/api.md names that docs/openapi.json does not have: {unknown:?}"
    );
}

#[tokio::test]
async fn docs_health_and_metrics() {
    on_each_backend(async |app: &TestApp| {
        let res = app.client.get(app.url("/api/docs")).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 200);
        let ct = res.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(ct.starts_with("text/html"), "{ct}");
        let html = res.text().await.unwrap().to_lowercase();
        assert!(
            html.contains("<html") && html.contains("openapi.json"),
            "{html}"
        );

        let health = e2e::read(app.client.get(app.url("/healthz")).send().await.unwrap()).await;
        let health = expect(health, 200);
        assert_eq!(health["status"], "ok");
        let db = match app.backend {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        };
        assert_eq!(health["database"], db);

        // a few requests, then the counters
        let (envoy, _) = app.quick_envoy(1).await;
        expect(app.get("/me", &envoy).await, 200);
        expect(app.get("/tasks", &envoy).await, 200);
        assert_eq!(app.get("/tasks/nope", &envoy).await.0, 400);
        let res = app.client.get(app.url("/metrics")).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 200);
        let ct = res.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(ct.starts_with("text/plain"), "{ct}");
        let text = res.text().await.unwrap();
        assert!(text.contains("http_requests_total"), "{text}");
        assert!(text.contains("http_request_duration_seconds"), "{text}");
        let me_line = text.lines().find(|l| {
            l.starts_with("http_requests_total")
                && l.contains("/api/v1/me")
                && l.contains("\"200\"")
        });
        assert!(
            me_line.is_some(),
            "a counter for GET /api/v1/me 200:\n{text}"
        );
        // routes are labelled by template, not by the raw path (bounded label sets)
        assert!(
            !text.contains("/tasks/nope"),
            "raw paths must not become labels:\n{text}"
        );
        // nor do unknown routes: a scanner must not grow the label set without bound
        let junk = uuid::Uuid::now_v7().simple().to_string();
        for path in [
            format!("/api/v1/{junk}"),
            format!("/{junk}"),
            format!("/api/{junk}/x"),
        ] {
            let res = app.client.get(app.url(&path)).send().await.unwrap();
            assert!(res.status().is_client_error(), "{path}: {}", res.status());
        }
        let text = app
            .client
            .get(app.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            !text.contains(&junk),
            "unknown paths must not become labels:\n{text}"
        );
    })
    .await;
}

#[tokio::test]
async fn the_web_apps_settings_need_no_sign_in() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let res = app
        .client
        .get(app.url("/api/v1/config"))
        .send()
        .await
        .unwrap();
    let config = expect(e2e::read(res).await, 200);
    assert_eq!(config["public_url"], app.public_url().as_str());
    assert!(config.get("map_tiles").is_none(), "no base tiles: {config}");
    assert!(config["version"].is_string());

    let tiles = "https://tiles.example.org/{z}/{x}/{y}.png";
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.map.tiles = Some(tiles.to_owned());
        c.map.attribution = "© Example".to_owned();
    })
    .await;
    let res = app
        .client
        .get(app.url("/api/v1/config"))
        .send()
        .await
        .unwrap();
    let config = expect(e2e::read(res).await, 200);
    assert_eq!(config["map_tiles"], tiles);
    assert_eq!(config["map_attribution"], "© Example");
}
