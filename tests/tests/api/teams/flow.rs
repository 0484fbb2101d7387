//! The whole envoy flow: register, claim, join by token, fill, start with a photo.

use super::members;
use chrono::{DateTime, Duration, Utc};
use e2e::{
    expect, expect_error, jpeg_photo, on_each_backend, png_photo, str_of, Photo, TestApp,
    TOWER_LAT, TOWER_LNG,
};
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};

fn time(v: &Value) -> DateTime<Utc> {
    v.as_str()
        .unwrap_or_else(|| panic!("not a time: {v}"))
        .parse()
        .unwrap_or_else(|e| panic!("not RFC 3339: {v} ({e})"))
}

#[tokio::test]
async fn register_claim_join_fill_and_start() {
    on_each_backend(whole_flow).await;
}

async fn whole_flow(app: &TestApp) {
    // an envoy registers, logs in and sees themself
    let user = app
        .register("13800138000", "  Li Lei ", "correct horse")
        .await;
    assert_eq!(user["phone"], "+8613800138000");
    assert_eq!(user["name"], "Li Lei");
    assert_eq!(user["role"], "envoy");
    assert!(user["department"].is_null(), "{user}");
    assert_eq!(time(&user["created_at"]), app.now());
    assert!(user.get("password_hash").is_none() && user.get("password").is_none());
    let a_id = str_of(&user, "id").to_owned();
    let login = expect(
        app.post(
            "/auth/login",
            "",
            &json!({"phone": "+8613800138000", "password": "correct horse"}),
        )
        .await,
        200,
    );
    assert_eq!(login["user"]["id"], user["id"]);
    assert_eq!(time(&login["expires_at"]), app.now() + Duration::days(30));
    let a = str_of(&login, "token").to_owned();
    let me = expect(app.get("/me", &a).await, 200);
    assert_eq!(me["id"], user["id"]);
    assert_eq!(me["phone"], "+8613800138000");
    assert!(me["current_team_id"].is_null(), "{me}");

    // a commander publishes a task at Canton Tower
    let commander = app.commander().await;
    let task = app.create_task(&commander, &json!({})).await;
    let task_id = str_of(&task, "id").to_owned();
    assert_eq!(task["status"], "open");
    assert_eq!(task["title"], "Canton Tower evening patrol");
    assert_eq!(task["area"]["type"], "Circle");
    assert_eq!(task["area"]["radius_m"].as_f64(), Some(300.0));
    assert!(
        (task["center"]["lat"].as_f64().unwrap() - TOWER_LAT).abs() < 1e-6,
        "{task}"
    );
    assert!(
        (task["center"]["lng"].as_f64().unwrap() - TOWER_LNG).abs() < 1e-6,
        "{task}"
    );
    assert_eq!(time(&task["starts_at"]), app.now() - Duration::hours(1));
    assert_eq!(time(&task["ends_at"]), app.now() + Duration::hours(3));
    for (k, v) in [
        ("team_min", 3),
        ("team_max", 5),
        ("max_teams", 2),
        ("teams", 0),
        ("free_slots", 2),
        ("patrol_minutes", 60),
        ("reward_points", 10),
        ("reward_fund_cents", 500),
    ] {
        assert_eq!(task[k].as_i64(), Some(v), "{k} in {task}");
    }

    // envoy A claims a slot and leads the team
    let team = expect(app.claim(&a, &task_id).await, 201);
    let team_id = str_of(&team, "id").to_owned();
    assert_eq!(team["task_id"], task["id"]);
    assert_eq!(team["leader_id"], user["id"]);
    assert_eq!(team["state"], "forming");
    assert_eq!(members(&team), [(a_id.clone(), "leader".to_owned())]);
    assert_eq!(team["members"][0]["name"], "Li Lei");
    assert_eq!(
        (team["team_min"].as_i64(), team["team_max"].as_i64()),
        (Some(3), Some(5))
    );
    let me = expect(app.get("/me", &a).await, 200);
    assert_eq!(me["current_team_id"].as_str(), Some(team_id.as_str()));

    // the leader sees the join token and URL
    let view = expect(app.team(&a, &team_id).await, 200);
    let join_token = str_of(&view, "join_token").to_owned();
    let join_url = str_of(&view, "join_url");
    let prefix = format!("{}/join?token=", app.public_url());
    assert!(
        join_url.starts_with(&prefix),
        "{join_url} should start with {prefix}"
    );
    assert_eq!(&join_url[prefix.len()..], join_token);
    assert_eq!(
        time(&view["join_expires_at"]),
        app.now() + Duration::minutes(15)
    );

    // a leader of a forming team with one member cannot start yet
    expect_error(
        &app.start(&a, &team_id, TOWER_LAT, TOWER_LNG, Some(png_photo()))
            .await,
        409,
        "team_too_small",
    );

    // B and C join with the token; D and E fill the team to team_max 5
    let others = app.quick_envoys(2, 5).await;
    for (n, (tok, id)) in others[..4].iter().enumerate() {
        app.clock.advance(Duration::seconds(1));
        let joined = expect(app.join(tok, &join_token, None).await, 200);
        assert_eq!(joined["id"].as_str(), Some(team_id.as_str()));
        let m = members(&joined);
        assert_eq!(m.len(), n + 2, "{joined}");
        assert!(m.contains(&(id.clone(), "member".to_owned())), "{joined}");
        assert!(
            joined.get("join_token").is_none(),
            "a member sees no join token: {joined}"
        );
    }
    // a sixth envoy F is refused
    let (f, f_id) = &others[4];
    expect_error(&app.join(f, &join_token, None).await, 409, "team_full");
    let me_f = expect(app.get("/me", f).await, 200);
    assert!(
        me_f["current_team_id"].is_null(),
        "F joined nothing: {me_f}"
    );
    assert!(!members(&expect(app.team(&a, &team_id).await, 200))
        .iter()
        .any(|(id, _)| id == f_id));

    // start: refused outside the area, without a photo, and with a file that is no image
    let outside = TOWER_LAT + 0.01; // about 1.1 km north
    expect_error(
        &app.start(&a, &team_id, outside, TOWER_LNG, Some(png_photo()))
            .await,
        409,
        "outside_area",
    );
    expect_error(
        &app.start(&a, &team_id, TOWER_LAT, TOWER_LNG, None).await,
        400,
        "photo_required",
    );
    // a team photo is one photo
    let form = reqwest::multipart::Form::new()
        .text("lat", TOWER_LAT.to_string())
        .text("lng", TOWER_LNG.to_string())
        .part(
            "photo",
            reqwest::multipart::Part::bytes(png_photo().bytes).file_name("a.png"),
        )
        .part(
            "photo",
            reqwest::multipart::Part::bytes(png_photo().bytes).file_name("b.png"),
        );
    expect_error(
        &app.send(
            app.request(
                reqwest::Method::POST,
                &format!("/teams/{team_id}/start"),
                &a,
            )
            .multipart(form),
        )
        .await,
        400,
        "too_many_photos",
    );
    let not_an_image = Photo {
        bytes: b"%PDF-1.4 this is not a picture".to_vec(),
        file_name: "team.png",
        mime: "image/png",
    };
    expect_error(
        &app.start(&a, &team_id, TOWER_LAT, TOWER_LNG, Some(not_an_image))
            .await,
        422,
        "invalid_photo",
    );
    // a member is not the leader
    expect_error(
        &app.start(
            &others[0].0,
            &team_id,
            TOWER_LAT,
            TOWER_LNG,
            Some(png_photo()),
        )
        .await,
        403,
        "not_leader",
    );
    let still = expect(app.team(&a, &team_id).await, 200);
    assert_eq!(
        still["state"], "forming",
        "refused starts change nothing: {still}"
    );
    assert!(still["photo_sha256"].is_null(), "{still}");

    assert!(
        find_file(&app.data_dir.path().join("photos"), "").is_none(),
        "refused starts leave no photo behind"
    );

    // accepted inside the area with a real photo (JPEG here; PNG is accepted in other tests)
    app.clock.advance(Duration::minutes(1));
    let photo = jpeg_photo();
    let started = expect(
        app.start(
            &a,
            &team_id,
            TOWER_LAT + 0.001,
            TOWER_LNG,
            Some(photo.clone()),
        )
        .await,
        200,
    );
    assert_eq!(started["state"], "active");
    assert_eq!(time(&started["started_at"]), app.now());
    let sha = str_of(&started, "photo_sha256").to_owned();
    assert_eq!(sha.len(), 64, "{started}");

    // everyone sees the team: 5 members, one leader
    let view = expect(app.team(&others[3].0, &team_id).await, 200);
    assert_eq!(view["state"], "active");
    let m = members(&view);
    assert_eq!(m.len(), 5, "{view}");
    assert_eq!(
        m[0],
        (a_id.clone(), "leader".to_owned()),
        "leader first: {view}"
    );
    assert_eq!(m.iter().filter(|(_, r)| r == "member").count(), 4);
    for mem in view["members"].as_array().unwrap() {
        assert!(
            mem["name"].is_string() && mem["joined_at"].is_string(),
            "{mem}"
        );
    }
    let leader_view = expect(app.team(&a, &team_id).await, 200);
    assert!(
        leader_view["join_token"].is_null(),
        "an active team has no join token: {leader_view}"
    );
    // the commander sees it too, and the task lists it
    expect(app.team(&commander, &team_id).await, 200);
    let task = expect(app.get(&format!("/tasks/{task_id}"), &a).await, 200);
    assert_eq!(
        (task["teams"].as_i64(), task["free_slots"].as_i64()),
        (Some(1), Some(1)),
        "{task}"
    );
    assert_eq!(task["teams_list"][0]["state"], "active");
    assert_eq!(task["teams_list"][0]["members"].as_i64(), Some(5));

    // the photo is stored under data_dir/photos, named by its content hash
    let stored = find_file(&app.data_dir.path().join("photos"), &sha)
        .unwrap_or_else(|| panic!("no file named {sha}* under data_dir/photos"));
    let bytes = std::fs::read(&stored).unwrap();
    assert_eq!(
        hex(&Sha256::digest(&bytes)),
        sha,
        "the stored photo has the hash it is named by"
    );
    assert!(
        image::load_from_memory(&bytes).is_ok(),
        "the stored photo is an image"
    );
    assert_eq!(
        hex(&Sha256::digest(&photo.bytes)),
        sha,
        "the photo is stored as uploaded"
    );

    // starting twice is refused, and so is anything that only a forming team does
    expect_error(
        &app.start(&a, &team_id, TOWER_LAT, TOWER_LNG, Some(png_photo()))
            .await,
        409,
        "team_not_forming",
    );
    let qr = app.get(&format!("/teams/{team_id}/qr.png"), &a).await;
    expect_error(&qr, 409, "team_not_forming");
    let removed = app
        .delete(&format!("/teams/{team_id}/members/{}", others[0].1), &a)
        .await;
    expect_error(&removed, 409, "team_not_forming");
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn find_file(dir: &std::path::Path, stem: &str) -> Option<std::path::PathBuf> {
    for entry in std::fs::read_dir(dir).ok()? {
        let path = entry.ok()?.path();
        if path.is_dir() {
            if let Some(found) = find_file(&path, stem) {
                return Some(found);
            }
        } else if path.file_name()?.to_str()?.starts_with(stem) {
            return Some(path);
        }
    }
    None
}

fn encode(img: &image::RgbImage, format: image::ImageFormat) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, format).unwrap();
    out.into_inner()
}

#[tokio::test]
async fn start_accepts_png_and_webp_and_refuses_unusable_photos() {
    on_each_backend(async |app: &TestApp| {
        let commander = app.commander().await;
        let small = image::RgbImage::from_pixel(32, 32, image::Rgb([200, 40, 40]));
        let good = [
            png_photo(),
            Photo {
                bytes: encode(&small, image::ImageFormat::WebP),
                file_name: "team.webp",
                mime: "image/webp",
            },
        ];
        for (i, photo) in (0u32..).zip(good) {
            let task = app.create_task(&commander, &json!({"team_min": 2})).await;
            let (leader, _) = app.quick_envoy(10 * i + 1).await;
            let team = expect(app.claim(&leader, str_of(&task, "id")).await, 201);
            let team_id = str_of(&team, "id");
            super::fill(app, &leader, team_id, 10 * i + 2, 1).await;
            if i == 0 {
                let wide = image::RgbImage::from_pixel(8001, 1, image::Rgb([0, 0, 0]));
                let wide = Photo {
                    bytes: encode(&wide, image::ImageFormat::Png),
                    file_name: "wide.png",
                    mime: "image/png",
                };
                let res = app
                    .start(&leader, team_id, TOWER_LAT, TOWER_LNG, Some(wide))
                    .await;
                expect_error(&res, 422, "invalid_photo");
                let mut huge = png_photo();
                huge.bytes.resize(10 * 1024 * 1024 + 512 * 1024, 0);
                let res = app
                    .start(&leader, team_id, TOWER_LAT, TOWER_LNG, Some(huge))
                    .await;
                expect_error(&res, 422, "invalid_photo");
                let truncated = Photo {
                    bytes: png_photo().bytes[..60].to_vec(),
                    file_name: "cut.png",
                    mime: "image/png",
                };
                let res = app
                    .start(&leader, team_id, TOWER_LAT, TOWER_LNG, Some(truncated))
                    .await;
                expect_error(&res, 422, "invalid_photo");
            }
            let started = expect(
                app.start(&leader, team_id, TOWER_LAT, TOWER_LNG, Some(photo))
                    .await,
                200,
            );
            assert_eq!(started["state"], "active");
            let me = expect(app.get("/me", &leader).await, 200);
            assert_eq!(
                me["current_team_id"].as_str(),
                Some(team_id),
                "an active team is current"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn start_needs_the_task_window() {
    on_each_backend(async |app: &TestApp| {
        let (_, _, leader, _, team) = app.task_with_team(&json!({}), 1).await;
        let team_id = str_of(&team, "id");
        super::fill(app, &leader, team_id, 2, 2).await;
        app.clock.advance(Duration::hours(3) + Duration::minutes(1));
        let res = app
            .start(&leader, team_id, TOWER_LAT, TOWER_LNG, Some(png_photo()))
            .await;
        expect_error(&res, 409, "outside_window");
        assert_eq!(
            expect(app.team(&leader, team_id).await, 200)["state"],
            "forming"
        );
    })
    .await;
}
