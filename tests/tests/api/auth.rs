//! Accounts, sessions and roles.

use chrono::Duration;
use e2e::{expect, expect_error, on_each_backend, read, TestApp, PASSWORD};
use reqwest::Method;
use serde_json::json;

/// Every endpoint that needs a session.
fn protected() -> Vec<(Method, String)> {
    let id = uuid::Uuid::now_v7();
    vec![
        (Method::GET, "/me".to_owned()),
        (Method::POST, "/auth/logout".to_owned()),
        (Method::GET, "/tasks".to_owned()),
        (Method::POST, "/tasks".to_owned()),
        (Method::GET, format!("/tasks/{id}")),
        (Method::POST, format!("/tasks/{id}/close")),
        (Method::POST, format!("/tasks/{id}/teams")),
        (Method::GET, format!("/teams/{id}")),
        (Method::GET, format!("/teams/{id}/qr.png")),
        (Method::GET, format!("/teams/{id}/qr.svg")),
        (Method::POST, "/teams/join".to_owned()),
        (Method::POST, format!("/teams/{id}/leave")),
        (Method::DELETE, format!("/teams/{id}/members/{id}")),
        (Method::POST, format!("/teams/{id}/start")),
    ]
}

async fn expect_unauthorized(app: &TestApp, auth: Option<&str>, what: &str) {
    for (method, path) in protected() {
        let mut req = app.client.request(method.clone(), app.api(&path));
        if let Some(value) = auth {
            req = req.header("authorization", value);
        }
        if method == Method::POST {
            req = req.json(&json!({}));
        }
        let res = req.send().await.unwrap();
        let www = res
            .headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap().to_owned());
        let resp = read(res).await;
        assert_eq!(resp.0, 401, "{what}: {method} {path} → {resp:?}");
        expect_error(&resp, 401, "unauthorized");
        assert_eq!(www.as_deref(), Some("Bearer"), "{what}: {method} {path}");
    }
}

#[tokio::test]
async fn protected_endpoints_need_a_live_session() {
    on_each_backend(async |app: &TestApp| {
        let (token, _) = app.envoy(1).await;
        expect(app.get("/me", &token).await, 200);
        expect_unauthorized(app, None, "no token").await;
        expect_unauthorized(app, Some("Bearer not-a-real-token"), "unknown token").await;
        expect_unauthorized(app, Some("Bearer "), "empty token").await;
        expect_unauthorized(app, Some(&format!("Basic {token}")), "not a bearer token").await;
        expect_unauthorized(app, Some(&token), "no scheme").await;
        let mut flipped = token.clone().into_bytes();
        flipped[5] = if flipped[5] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(flipped).unwrap();
        expect_unauthorized(app, Some(&format!("Bearer {flipped}")), "altered token").await;

        // logging out ends the session, and only that one
        let other = app.login(&TestApp::envoy_phone(1), PASSWORD).await;
        assert_eq!(app.post_empty("/auth/logout", &token).await.0, 204);
        expect_unauthorized(app, Some(&format!("Bearer {token}")), "logged-out token").await;
        expect(app.get("/me", &other).await, 200);
    })
    .await;
}

#[tokio::test]
async fn sessions_expire_after_thirty_days() {
    on_each_backend(async |app: &TestApp| {
        let (token, _) = app.envoy(1).await;
        app.clock.advance(Duration::days(29));
        expect(app.get("/me", &token).await, 200);
        app.clock.advance(Duration::days(2));
        expect_error(&app.get("/me", &token).await, 401, "unauthorized");
        // a new login works
        let fresh = app.login(&TestApp::envoy_phone(1), PASSWORD).await;
        expect(app.get("/me", &fresh).await, 200);
    })
    .await;
}

#[tokio::test]
async fn roles_are_enforced() {
    on_each_backend(async |app: &TestApp| {
        let (envoy, _) = app.envoy(1).await;
        let commander = app.commander().await;
        let admin = app.admin().await;
        let body = app.task_body(&json!({}));
        expect_error(&app.post("/tasks", &envoy, &body).await, 403, "wrong_role");
        let task = app.create_task(&commander, &json!({})).await;
        let id = task["id"].as_str().unwrap();
        expect(app.post("/tasks", &admin, &body).await, 201);
        expect_error(&app.claim(&commander, id).await, 403, "wrong_role");
        expect_error(&app.claim(&admin, id).await, 403, "wrong_role");
        expect_error(
            &app.post_empty(&format!("/tasks/{id}/close"), &envoy).await,
            403,
            "wrong_role",
        );
        // every signed-in role reads tasks
        for token in [&envoy, &commander, &admin] {
            expect(app.get("/tasks", token).await, 200);
            expect(app.get(&format!("/tasks/{id}"), token).await, 200);
        }
        // nothing was claimed or closed
        let task = expect(app.get(&format!("/tasks/{id}"), &envoy).await, 200);
        assert_eq!(
            (task["status"].as_str(), task["teams"].as_i64()),
            (Some("open"), Some(0))
        );
        expect(
            app.post_empty(&format!("/tasks/{id}/close"), &admin).await,
            200,
        );
    })
    .await;
}

#[tokio::test]
async fn registration_is_validated() {
    on_each_backend(async |app: &TestApp| {
        app.register("13800138000", "Han Meimei", PASSWORD).await;
        let again = |phone: &'static str| async move {
            app.post("/auth/register", "", &json!({"phone": phone, "name": "Someone", "password": PASSWORD})).await
        };
        expect_error(&again("13800138000").await, 409, "phone_taken");
        // the E.164 form names the same account
        expect_error(&again("+8613800138000").await, 409, "phone_taken");
        expect_error(&again("138 0013 8000").await, 409, "phone_taken");

        let cases = [
            (json!({"phone": "12345", "name": "A", "password": PASSWORD}), "invalid_phone"),
            (json!({"phone": "12800138000", "name": "A", "password": PASSWORD}), "invalid_phone"),
            (json!({"phone": "not a phone", "name": "A", "password": PASSWORD}), "invalid_phone"),
            (json!({"phone": "13700000001", "name": "A", "password": "short"}), "password_too_short"),
            (json!({"phone": "13700000001", "name": "A", "password": "x".repeat(129)}), "password_too_long"),
            (json!({"phone": "13700000001", "name": "   ", "password": PASSWORD}), "invalid_name"),
            (json!({"phone": "13700000001", "name": "n".repeat(51), "password": PASSWORD}), "invalid_name"),
        ];
        for (body, code) in cases {
            expect_error(&app.post("/auth/register", "", &body).await, 400, code);
        }
        // nothing was created by the refused registrations
        let login = app.post("/auth/login", "", &json!({"phone": "13700000001", "password": PASSWORD})).await;
        expect_error(&login, 401, "invalid_credentials");
        // names are Unicode
        let zh = app.register("13700000003", "张三", PASSWORD).await;
        assert_eq!(zh["name"], "张三");
        // a registration cannot choose its role
        let sneaky = app
            .post("/auth/register", "", &json!({"phone": "13700000002", "name": "B", "password": PASSWORD, "role": "admin"}))
            .await;
        assert!(
            sneaky.0 == 400 || (sneaky.0 == 201 && sneaky.1["role"] == "envoy"),
            "a role in the body is refused or ignored: {sneaky:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn failed_logins_look_alike() {
    on_each_backend(async |app: &TestApp| {
        app.register("13800138000", "Han Meimei", PASSWORD).await;
        let wrong = app
            .post(
                "/auth/login",
                "",
                &json!({"phone": "13800138000", "password": "wrong password"}),
            )
            .await;
        let unknown = app
            .post(
                "/auth/login",
                "",
                &json!({"phone": "13900000099", "password": PASSWORD}),
            )
            .await;
        expect_error(&wrong, 401, "invalid_credentials");
        expect_error(&unknown, 401, "invalid_credentials");
        assert_eq!(wrong.1, unknown.1, "the two failures cannot be told apart");
        let bad_phone = app
            .post(
                "/auth/login",
                "",
                &json!({"phone": "nonsense", "password": PASSWORD}),
            )
            .await;
        assert!(
            bad_phone.0 == 401 || bad_phone.0 == 400,
            "a malformed phone on login is 400 or 401: {bad_phone:?}"
        );
        // the right password in either phone form works
        app.login("13800138000", PASSWORD).await;
        app.login("+8613800138000", PASSWORD).await;
    })
    .await;
}

#[tokio::test]
async fn admins_make_accounts_of_any_role() {
    on_each_backend(async |app: &TestApp| {
        let admin = app.admin().await;
        let commander = app.commander().await;
        let body = |phone: &str, role: &str, department: Option<&str>| {
            json!({"phone": phone, "name": "王指挥", "role": role, "department": department, "password": "a fine password"})
        };

        // only an admin
        expect_error(&app.post("/users", "", &body("13600000001", "commander", None)).await, 401, "unauthorized");
        expect_error(&app.post("/users", &commander, &body("13600000001", "commander", None)).await, 403, "wrong_role");

        // bad input: a clear 400, nothing made
        let bad = [
            (body("12345", "commander", None), "invalid_phone"),
            (json!({"phone": "13600000001", "name": "", "role": "commander", "password": "a fine password"}), "invalid_name"),
            (json!({"phone": "13600000001", "name": "x", "role": "commander", "password": "short"}), "password_too_short"),
            (body("13600000001", "staff", None), "department_required"),
            (body("13600000001", "commander", Some("sanitation")), "department_not_allowed"),
            (body("13600000001", "staff", Some("parks")), "unknown_department"),
            (body("13600000001", "mayor", None), "invalid_body"),
            (json!({"phone": "13600000001", "name": "x", "role": "envoy", "password": "a fine password", "departement": "x"}), "invalid_body"),
        ];
        for (b, code) in bad {
            expect_error(&app.post("/users", &admin, &b).await, 400, code);
        }
        expect_error(&app.post("/auth/login", "", &json!({"phone": "13600000001", "password": "a fine password"})).await, 401, "invalid_credentials");

        // a commander, who can sign in and publish at once
        let made = expect(app.post("/users", &admin, &body("13600000001", "commander", None)).await, 201);
        assert_eq!(made["role"], "commander");
        assert_eq!(made["phone"], "+8613600000001");
        assert_eq!(made["department"], serde_json::Value::Null);
        let token = app.login("13600000001", "a fine password").await;
        app.create_task(&token, &json!({})).await;

        // staff of a department named by code or by name, who see its queue
        let staff = expect(app.post("/users", &admin, &body("13600000002", "staff", Some("Sanitation"))).await, 201);
        assert_eq!(staff["department"], "sanitation");
        let staff_token = app.login("13600000002", "a fine password").await;
        expect(app.get("/incidents", &staff_token).await, 200);

        // the phone is taken now, in any spelling
        expect_error(&app.post("/users", &admin, &body("+86 136 0000 0001", "envoy", None)).await, 409, "phone_taken");
    })
    .await;
}
