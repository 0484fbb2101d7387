//! Bad input gets a clear 4xx in one JSON shape and changes nothing.

use e2e::{expect, expect_error, on_each_backend, read, str_of, Resp, TestApp, PASSWORD};
use reqwest::Method;
use serde_json::json;

async fn raw(
    app: &TestApp,
    method: Method,
    url: String,
    token: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> (Resp, reqwest::header::HeaderMap) {
    let mut req = app.client.request(method, url).body(body);
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    if !token.is_empty() {
        req = req.bearer_auth(token);
    }
    let res = req.send().await.unwrap();
    let headers = res.headers().clone();
    (read(res).await, headers)
}

/// `POST /auth/register` with a raw body and content type, without a token.
async fn register_raw(
    app: &TestApp,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> (Resp, reqwest::header::HeaderMap) {
    raw(
        app,
        Method::POST,
        app.api("/auth/register"),
        "",
        content_type,
        body,
    )
    .await
}

#[track_caller]
fn is_json(headers: &reqwest::header::HeaderMap) {
    let ct = headers
        .get("content-type")
        .map(|v| v.to_str().unwrap_or(""));
    assert!(
        ct.is_some_and(|c| c.starts_with("application/json")),
        "content-type {ct:?}"
    );
}

#[tokio::test]
async fn malformed_bodies() {
    on_each_backend(async |app: &TestApp| {
        let commander = app.commander().await;
        let json_ct = Some("application/json");
        let (res, headers) = raw(
            app,
            Method::POST,
            app.api("/auth/register"),
            "",
            json_ct,
            b"{\"phone\": \"138".to_vec(),
        )
        .await;
        expect_error(&res, 400, "invalid_json");
        is_json(&headers);
        let (res, _) = raw(
            app,
            Method::POST,
            app.api("/tasks"),
            &commander,
            json_ct,
            b"not json at all".to_vec(),
        )
        .await;
        expect_error(&res, 400, "invalid_json");

        // wrong types and missing fields
        for body in [
            json!({"phone": 13_800_138_000_u64, "name": "A", "password": PASSWORD}),
            json!({"phone": "13800138000", "name": ["A"], "password": PASSWORD}),
            json!({"phone": "13800138000", "password": PASSWORD}),
            json!(null),
            // serde would read a struct from an array of its fields; the API takes objects only
            json!(["13800138000", "A", PASSWORD]),
        ] {
            expect_error(
                &app.post("/auth/register", "", &body).await,
                400,
                "invalid_body",
            );
        }
        expect_error(
            &app.post("/teams/join", &commander, &json!({"token": 42}))
                .await,
            400,
            "invalid_body",
        );
        expect_error(
            &app.post("/auth/login", "", &json!({"phone": "13800138000"}))
                .await,
            400,
            "invalid_body",
        );

        // JSON without its content type
        let body =
            serde_json::to_vec(&json!({"phone": "13800138000", "name": "A", "password": PASSWORD}))
                .unwrap();
        let (res, _) = register_raw(app, None, body.clone()).await;
        expect_error(&res, 415, "unsupported_media_type");
        let (res, _) = register_raw(app, Some("text/plain"), body).await;
        expect_error(&res, 415, "unsupported_media_type");

        // none of it created an account
        let login = app
            .post(
                "/auth/login",
                "",
                &json!({"phone": "13800138000", "password": PASSWORD}),
            )
            .await;
        expect_error(&login, 401, "invalid_credentials");

        // a charset parameter is fine
        let body =
            serde_json::to_vec(&json!({"phone": "13800138000", "name": "A", "password": PASSWORD}))
                .unwrap();
        let (res, _) = register_raw(app, Some("application/json; charset=utf-8"), body).await;
        assert_eq!(res.0, 201, "{res:?}");
        // trailing garbage after the JSON value is malformed JSON
        let body =
            br#"{"phone": "13800138001", "name": "A", "password": "password1"} trailing"#.to_vec();
        let (res, _) = register_raw(app, Some("application/json"), body).await;
        expect_error(&res, 400, "invalid_json");
        let login_after = app
            .post(
                "/auth/login",
                "",
                &json!({"phone": "13800138001", "password": PASSWORD}),
            )
            .await;
        expect_error(&login_after, 401, "invalid_credentials");
    })
    .await;
}

#[tokio::test]
async fn bad_multipart_starts() {
    on_each_backend(async |app: &TestApp| {
        let (_, _, leader, _, team) = app.task_with_team(&json!({}), 1).await;
        let path = format!("/teams/{}/start", str_of(&team, "id"));
        // not multipart at all
        let res = app
            .post(&path, &leader, &json!({"lat": 23.1, "lng": 113.3}))
            .await;
        assert!(res.0 == 400 || res.0 == 415, "{res:?}");
        expect_error(&res, res.0, res.1["error"]["code"].as_str().unwrap_or("?"));
        // multipart without lat/lng
        let form = reqwest::multipart::Form::new().part(
            "photo",
            reqwest::multipart::Part::bytes(e2e::png_photo().bytes)
                .file_name("p.png")
                .mime_str("image/png")
                .unwrap(),
        );
        let res = app
            .send(app.request(Method::POST, &path, &leader).multipart(form))
            .await;
        assert_eq!(res.0, 400, "{res:?}");
        expect_error(&res, 400, res.1["error"]["code"].as_str().unwrap_or("?"));
        // lat out of range
        let res = app
            .start(
                &leader,
                str_of(&team, "id"),
                123.0,
                113.3,
                Some(e2e::png_photo()),
            )
            .await;
        assert_eq!(res.0, 400, "{res:?}");
        let view = expect(app.team(&leader, str_of(&team, "id")).await, 200);
        assert_eq!(view["state"], "forming");
    })
    .await;
}

#[tokio::test]
async fn unknown_routes_methods_and_ids() {
    on_each_backend(async |app: &TestApp| {
        let (envoy, _) = app.quick_envoy(1).await;
        let commander = app.commander().await;
        for path in [
            "/api/v1/nothing-here",
            "/api/v1/tasks/x/y/z",
            "/api/v2/tasks",
            "/api/nothing",
        ] {
            let (res, headers) =
                raw(app, Method::GET, app.url(path), &envoy, None, Vec::new()).await;
            expect_error(&res, 404, "not_found");
            is_json(&headers);
        }
        for (method, path) in [
            (Method::DELETE, "/tasks"),
            (Method::PUT, "/me"),
            (Method::GET, "/auth/login"),
            (Method::PATCH, "/teams/join"),
        ] {
            let (res, headers) =
                raw(app, method.clone(), app.api(path), &envoy, None, Vec::new()).await;
            expect_error(&res, 405, "method_not_allowed");
            is_json(&headers);
            assert!(
                headers.contains_key("allow"),
                "{method} {path}: 405 without Allow"
            );
        }

        let unknown = uuid::Uuid::now_v7();
        expect_error(
            &app.get(&format!("/tasks/{unknown}"), &envoy).await,
            404,
            "task_not_found",
        );
        expect_error(
            &app.claim(&envoy, &unknown.to_string()).await,
            404,
            "task_not_found",
        );
        expect_error(
            &app.post_empty(&format!("/tasks/{unknown}/close"), &commander)
                .await,
            404,
            "task_not_found",
        );
        expect_error(
            &app.team(&envoy, &unknown.to_string()).await,
            404,
            "team_not_found",
        );
        expect_error(
            &app.team(&commander, &unknown.to_string()).await,
            404,
            "team_not_found",
        );
        expect_error(
            &app.post_empty(&format!("/teams/{unknown}/leave"), &envoy)
                .await,
            404,
            "team_not_found",
        );
        expect_error(
            &app.get(&format!("/teams/{unknown}/qr.png"), &envoy).await,
            404,
            "team_not_found",
        );
        expect_error(
            &app.delete(&format!("/teams/{unknown}/members/{unknown}"), &envoy)
                .await,
            404,
            "team_not_found",
        );

        for path in [
            "/tasks/not-a-uuid",
            "/teams/123",
            "/teams/123/qr.png",
            "/teams/zz/qr.svg",
        ] {
            expect_error(&app.get(path, &envoy).await, 400, "invalid_id");
        }
        expect_error(&app.claim(&envoy, "nope").await, 400, "invalid_id");
        expect_error(
            &app.post_empty("/tasks/nope/close", &commander).await,
            400,
            "invalid_id",
        );
        expect_error(
            &app.post_empty("/teams/nope/leave", &envoy).await,
            400,
            "invalid_id",
        );
        expect_error(
            &app.delete(&format!("/teams/{unknown}/members/nope"), &envoy)
                .await,
            400,
            "invalid_id",
        );
        // nothing was claimed by any of this
        let me = expect(app.get("/me", &envoy).await, 200);
        assert!(me["current_team_id"].is_null(), "{me}");
    })
    .await;
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    on_each_backend(async |app: &TestApp| {
        let commander = app.commander().await;
        let mut body = app.task_body(&json!({}));
        body["description"] = json!("x".repeat(2 * 1024 * 1024));
        let bytes = serde_json::to_vec(&body).unwrap();
        let (res, headers) = raw(app, Method::POST, app.api("/tasks"), &commander, Some("application/json"), bytes).await;
        expect_error(&res, 413, "payload_too_large");
        is_json(&headers);
        let big = json!({"phone": "13800138000", "name": "n".repeat(2 * 1024 * 1024), "password": PASSWORD});
        expect_error(&app.post("/auth/register", "", &big).await, 413, "payload_too_large");

        // a description just over the domain limit is a 400, not a 413
        body["description"] = json!("x".repeat(2001));
        expect_error(&app.post("/tasks", &commander, &body).await, 400, "invalid_description");
        let list = expect(app.get("/tasks", &commander).await, 200);
        assert_eq!(list["tasks"], json!([]), "no refused task was saved");
        // the server still answers
        expect(app.post("/tasks", &commander, &app.task_body(&json!({}))).await, 201);
    })
    .await;
}
