//! The OpenAPI document, the docs page, health and metrics.

use e2e::{expect, on_each_backend, Backend, TestApp};
use serde_json::Value;

/// `(method, path)` of every API endpoint named in `docs/api.md` (those under `/api/v1`).
fn documented_endpoints() -> Vec<(String, String)> {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/api.md")).unwrap();
    let mut out = Vec::new();
    for (i, span) in doc.split('`').enumerate() {
        if i % 2 == 0 {
            continue; // outside backticks
        }
        let Some((method, rest)) = span.split_once(' ') else {
            continue;
        };
        if !["GET", "POST", "PUT", "PATCH", "DELETE"].contains(&method) || !rest.starts_with('/') {
            continue;
        }
        let path = rest.split([' ', '?']).next().unwrap();
        if ["/healthz", "/metrics", "/api/"]
            .iter()
            .any(|p| path.starts_with(p))
        {
            continue;
        }
        out.push((method.to_lowercase(), path.to_owned()));
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

#[tokio::test]
async fn openapi_lists_every_documented_endpoint() {
    on_each_backend(async |app: &TestApp| {
        let res = app
            .client
            .get(app.url("/api/openapi.json"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 200);
        let spec: Value = serde_json::from_slice(&res.bytes().await.unwrap()).expect("valid JSON");
        assert!(
            spec["openapi"]
                .as_str()
                .is_some_and(|v| v.starts_with("3.1")),
            "OpenAPI 3.1: {}",
            spec["openapi"]
        );
        assert!(spec["info"]["title"].is_string());
        let paths = spec["paths"].as_object().expect("paths");
        // paths may be written with or without the /api/v1 prefix (then in `servers`)
        let listed: Vec<(String, String)> = paths
            .iter()
            .flat_map(|(p, item)| {
                let p = shape(p.strip_prefix("/api/v1").unwrap_or(p));
                item.as_object().into_iter().flat_map(move |ops| {
                    ops.keys().map({
                        let p = p.clone();
                        move |m| (m.clone(), p.clone())
                    })
                })
            })
            .collect();
        let documented = documented_endpoints();
        assert!(
            documented.len() >= 16,
            "docs/api.md parsed to {documented:?}"
        );
        let missing: Vec<_> = documented
            .iter()
            .filter(|(m, p)| !listed.contains(&(m.clone(), shape(p))))
            .collect();
        assert!(
            missing.is_empty(),
            "missing from /api/openapi.json: {missing:?}\nlisted: {listed:?}"
        );
        // and the error body is described
        let text = spec.to_string();
        assert!(text.contains("ErrorBody"), "the error shape is in the spec");
        assert!(
            spec["components"]["securitySchemes"]
                .as_object()
                .is_some_and(|s| s.values().any(|v| v["scheme"] == "bearer")),
            "a bearer security scheme: {}",
            spec["components"]
        );
    })
    .await;
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
