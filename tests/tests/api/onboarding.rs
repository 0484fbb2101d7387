//! Bulk onboarding: `POST /users/import` (admin) and `POST /auth/activate`.

use chrono::Duration;
use e2e::{expect, expect_error, on_each_backend, str_of, TestApp, PASSWORD};
use reqwest::Method;
use serde_json::{json, Value};

const FILE: &str = "phone,name,district\n\
                    13500000001,张三,天河\n\
                    \"135 0000 0002\",\"Li, Si\",越秀\n\
                    12345,bad phone,x\n\
                    13500000003,,x\n\
                    +8613500000001,duplicate,x\n\
                    13900000001,already registered,x\n\
                    13500000004,王五,x\n";

async fn import(app: &TestApp, token: &str, csv: &str) -> (u16, Value) {
    app.send(
        app.request(Method::POST, "/users/import", token)
            .header("content-type", "text/csv; charset=utf-8")
            .body(csv.to_owned()),
    )
    .await
}

fn code_of(report: &Value, phone: &str) -> String {
    report["codes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["phone"] == phone)
        .map(|c| str_of(c, "code").to_owned())
        .unwrap_or_else(|| panic!("no code for {phone} in {report}"))
}

async fn activate(app: &TestApp, phone: &str, code: &str) -> (u16, Value) {
    app.post(
        "/auth/activate",
        "",
        &json!({"phone": phone, "code": code, "password": "new password 1"}),
    )
    .await
}

#[tokio::test]
async fn admins_import_envoys_who_activate_with_their_code() {
    on_each_backend(async |app: &TestApp| {
        app.envoy(1).await; // 13900000001
        let admin = app.admin().await;
        let commander = app.commander().await;
        expect_error(&import(app, &commander, FILE).await, 403, "wrong_role");
        expect_error(&import(app, "", FILE).await, 401, "unauthorized");
        let wrong_type = app
            .send(
                app.request(Method::POST, "/users/import", &admin)
                    .header("content-type", "application/json")
                    .body("{}"),
            )
            .await;
        expect_error(&wrong_type, 415, "unsupported_media_type");
        expect_error(
            &import(app, &admin, "mobile,name\n1,2\n").await,
            400,
            "invalid_csv",
        );

        let report = expect(import(app, &admin, FILE).await, 200);
        assert_eq!(report["rows"], 7, "{report}");
        assert_eq!(report["imported"], 3, "{report}");
        assert_eq!(report["reissued"], 0, "{report}");
        let refused: Vec<(u64, &str, &str)> = report["refused"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["line"].as_u64().unwrap(),
                    str_of(r, "phone"),
                    str_of(r, "code"),
                )
            })
            .collect();
        assert_eq!(
            refused,
            [
                (4, "12345", "invalid_phone"),
                (5, "13500000003", "invalid_name"),
                (6, "+8613500000001", "duplicate_in_file"),
                (7, "13900000001", "phone_taken"),
            ]
        );
        assert!(report["refused"][0]["message"].as_str().unwrap().len() > 5);
        assert_eq!(report["codes"].as_array().unwrap().len(), 3);
        let code = code_of(&report, "+8613500000001");
        assert_eq!(code.len(), 8);

        // pending: no login, whatever the password
        let login = json!({"phone": "13500000001", "password": PASSWORD});
        expect_error(
            &app.post("/auth/login", "", &login).await,
            403,
            "not_activated",
        );
        // an unknown phone is answered like a wrong code
        expect_error(
            &activate(app, "13700009999", &code).await,
            401,
            "invalid_code",
        );
        expect_error(
            &app.post(
                "/auth/activate",
                "",
                &json!({"phone": "13500000001", "code": code, "password": "short"}),
            )
            .await,
            400,
            "password_too_short",
        );
        let wrong = wrong_for(&code);
        expect_error(
            &activate(app, "13500000001", wrong).await,
            401,
            "invalid_code",
        );
        let session = expect(activate(app, "13500000001", &code).await, 200);
        let token = str_of(&session, "token");
        assert_eq!(session["user"]["name"], "张三");
        assert_eq!(session["user"]["role"], "envoy");
        assert!(session["expires_at"].is_string());
        let me = expect(app.get("/me", token).await, 200);
        assert_eq!(me["phone"], "+8613500000001");
        expect_error(
            &activate(app, "13500000001", &code).await,
            409,
            "already_active",
        );
        app.login("13500000001", "new password 1").await;

        // five wrong codes void the code
        let code2 = code_of(&report, "+8613500000002");
        for _ in 0..5 {
            expect_error(
                &activate(app, "13500000002", wrong_for(&code2)).await,
                401,
                "invalid_code",
            );
        }
        expect_error(
            &activate(app, "13500000002", &code2).await,
            403,
            "activation_locked",
        );
        // a re-import re-issues pending codes, refuses active accounts
        let again = expect(
            import(
                app,
                &admin,
                "name,phone\nLi,13500000002\nZhang,13500000001\n",
            )
            .await,
            200,
        );
        assert_eq!(
            (again["imported"].clone(), again["reissued"].clone()),
            (json!(0), json!(1))
        );
        assert_eq!(again["refused"][0]["code"], "phone_taken");
        let code2 = code_of(&again, "+8613500000002");
        expect(activate(app, "13500000002", &code2).await, 200);

        // codes expire
        let code4 = code_of(&report, "+8613500000004");
        app.clock.advance(Duration::days(15));
        expect_error(
            &activate(app, "13500000004", &code4).await,
            403,
            "code_expired",
        );
    })
    .await;
}

fn wrong_for(code: &str) -> &'static str {
    if code == "00000000" {
        "11111111"
    } else {
        "00000000"
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_activations_succeed_once() {
    on_each_backend(async |app: &TestApp| {
        let admin = app.admin().await;
        let report = expect(
            import(app, &admin, "phone,name\n13500000009,A\n").await,
            200,
        );
        let code = code_of(&report, "+8613500000009");
        let tries = (0..6).map(|_| activate(app, "13500000009", &code));
        let answers = futures::future::join_all(tries).await;
        let ok = answers.iter().filter(|a| a.0 == 200).count();
        assert_eq!(ok, 1, "{answers:?}");
        for a in answers.iter().filter(|a| a.0 != 200) {
            expect_error(a, 409, "already_active");
        }
    })
    .await;
}
