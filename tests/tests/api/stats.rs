//! `GET /stats` and its exports: figures counted from what happened over the API, the previous
//! year beside them, who may read them, and bad periods refused.

use chrono::{Duration, SecondsFormat};
use e2e::{
    expect, expect_error, north_of_tower, on_each_backend, steady, str_of, Route, TestApp,
    TOWER_LAT, TOWER_LNG,
};
use pp_domain::time::Timestamp;
use reqwest::Method;
use serde_json::{json, Value};

fn q(t: Timestamp) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A time as the API writes it.
fn wire(t: Timestamp) -> Value {
    json!(t.to_rfc3339_opts(SecondsFormat::AutoSi, true))
}

/// `(value, previous, change_pct)` of a figure.
fn fig(v: &Value) -> (Value, Value, Value) {
    (
        v["value"].clone(),
        v["previous"].clone(),
        v["change_pct"].clone(),
    )
}

async fn file(app: &TestApp, token: &str, category: &str) -> String {
    let fields = [
        ("category", category.to_owned()),
        ("description", "seen on patrol".to_owned()),
        ("lat", TOWER_LAT.to_string()),
        ("lng", TOWER_LNG.to_string()),
    ];
    let made = expect(app.report(token, &fields, &[]).await, 201);
    str_of(&made, "id").to_owned()
}

async fn step(app: &TestApp, token: &str, id: &str, status: &str) {
    let req = app
        .request(Method::PATCH, &format!("/incidents/{id}"), token)
        .json(&json!({"status": status}));
    expect(app.send(req).await, 200);
}

#[tokio::test]
async fn statistics_count_what_happened_and_export_it() {
    on_each_backend(async |app: &TestApp| {
        let before = app.now() - Duration::hours(1);
        // a patrol of three: the leader and A inside for 12 minutes, B outside throughout
        let task = json!({"patrol_minutes": 10, "reward_points": 25, "reward_fund_cents": 800});
        let patrol = app.active_team(&task, 1, 2).await;
        let start = patrol.started_at;
        let inside = steady(0, 720, 30, north_of_tower(100.0));
        let outside = steady(0, 720, 30, north_of_tower(1000.0));
        let walkers: [(&str, &Route); 3] = [
            (&patrol.leader.0, &inside),
            (&patrol.members[0].0, &inside),
            (&patrol.members[1].0, &outside),
        ];
        app.patrol_live(start, 0, 720, &walkers).await;
        app.clock.advance(Duration::minutes(1));
        expect(app.finish(&patrol.leader.0, &patrol.team_id).await, 200);

        // two reports: one resolved 10 minutes after it was filed, one still open
        let (sweeper, _) = app.staff("sanitation").await;
        let reporter = &patrol.members[1].0;
        let dirt = file(app, reporter, "sanitation").await;
        file(app, reporter, "lost_child").await;
        step(app, &sweeper, &dirt, "acknowledged").await;
        step(app, &sweeper, &dirt, "in_progress").await;
        app.clock.advance(Duration::minutes(10));
        step(app, &sweeper, &dirt, "resolved").await;
        app.clock.advance(Duration::seconds(1));

        let commander = &patrol.commander;
        let period = format!("from={}&to={}", q(before), q(app.now()));
        let path = format!("/stats?{period}&compare=previous_year");
        let s = expect(app.get(&path, commander).await, 200);
        assert_eq!(s["from"], wire(before), "{s}");
        assert_eq!(s["compare"], "previous_year");
        let year_ago = before.checked_sub_months(chrono::Months::new(12)).unwrap();
        assert_eq!(s["previous_from"], wire(year_ago));

        let zero = json!(0);
        let count = |n: i64| (json!(n), zero.clone(), Value::Null);
        assert_eq!(fig(&s["tasks_published"]), count(1), "{s}");
        assert_eq!(fig(&s["teams_formed"]), count(1));
        assert_eq!(fig(&s["teams_by_size"]["3"]), count(1));
        assert_eq!(s["teams_by_size"].as_object().unwrap().len(), 1);
        assert_eq!(fig(&s["participants"]), count(3));
        assert_eq!(
            fig(&s["patrol_hours"]),
            (json!(0.4), zero.clone(), Value::Null),
            "24 minutes"
        );
        assert_eq!(fig(&s["qualified_members"]), count(2));
        assert_eq!(fig(&s["points_awarded"]), count(50));
        assert_eq!(fig(&s["fund_awarded_cents"]), count(1600));
        assert_eq!(fig(&s["incidents_reported"]), count(2));
        assert_eq!(fig(&s["incidents_by_category"]["sanitation"]), count(1));
        assert_eq!(fig(&s["incidents_by_category"]["bike_parking"]), count(0));
        assert_eq!(fig(&s["incidents_by_outcome"]["resolved"]), count(1));
        assert_eq!(fig(&s["incidents_by_outcome"]["open"]), count(1));
        assert_eq!(
            fig(&s["incident_median_resolve_s"]),
            (json!(600), Value::Null, Value::Null)
        );
        assert_eq!(fig(&s["dispatches"]), count(0));
        assert_eq!(s["dispatch_median_first_accept_s"]["value"], Value::Null);
        assert_eq!(
            fig(&s["envoys_active"]),
            count(3),
            "all three sent positions"
        );
        assert_eq!(fig(&s["envoys_registered"]), count(3));

        // without a comparison: the same values, no previous
        let plain = expect(app.get(&format!("/stats?{period}"), commander).await, 200);
        assert_eq!(plain["compare"], Value::Null);
        assert_eq!(
            fig(&plain["tasks_published"]),
            (json!(1), Value::Null, Value::Null)
        );
        // an admin reads them too
        let admin = app.admin().await;
        expect(app.get(&format!("/stats?{period}"), &admin).await, 200);

        // the CSV export: a row per figure and key, the same numbers
        let res = app
            .request(
                Method::GET,
                &format!("/stats/export.csv?{period}&compare=previous_year"),
                commander,
            )
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
        let disposition = res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            disposition.starts_with("attachment; filename=\"peacepatrol-stats-"),
            "{disposition}"
        );
        assert!(disposition.ends_with(".csv\""), "{disposition}");
        let csv = res.text().await.unwrap();
        let mut lines = csv.lines();
        assert_eq!(lines.next(), Some("figure,key,value,previous,change_pct"));
        let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
        let cell = |figure: &str, key: &str| -> Vec<&str> {
            rows.iter()
                .find(|r| r[0] == figure && r[1] == key)
                .unwrap_or_else(|| panic!("no row {figure},{key} in\n{csv}"))
                .clone()
        };
        assert_eq!(cell("participants", ""), ["participants", "", "3", "0", ""]);
        assert_eq!(
            cell("patrol_hours", ""),
            ["patrol_hours", "", "0.4", "0", ""]
        );
        assert_eq!(
            cell("teams_by_size", "3"),
            ["teams_by_size", "3", "1", "0", ""]
        );
        assert_eq!(cell("incidents_by_outcome", "resolved")[2], "1");
        assert_eq!(cell("incident_median_resolve_s", "")[2..], ["600", "", ""]);
        // every figure of the JSON is a row: 14 single ones, plus sizes, categories, outcomes
        let keyed = [
            "teams_by_size",
            "incidents_by_category",
            "incidents_by_outcome",
        ]
        .iter()
        .map(|k| s[k].as_object().unwrap().len())
        .sum::<usize>();
        assert_eq!(rows.len(), 14 + keyed, "{csv}");

        // the JSON export: the same document, as a file
        let res = app
            .request(
                Method::GET,
                &format!("/stats/export.json?{period}&compare=previous_year"),
                commander,
            )
            .send()
            .await
            .unwrap();
        assert_eq!(res.headers()["content-type"], "application/json");
        assert!(res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .ends_with(".json\""));
        let doc: Value = res.json().await.unwrap();
        assert_eq!(doc, s);
    })
    .await;
}

#[tokio::test]
async fn only_the_command_centre_reads_statistics_and_bad_periods_are_refused() {
    on_each_backend(async |app: &TestApp| {
        let (envoy, _) = app.quick_envoy(1).await;
        let (staff, _) = app.staff("sanitation").await;
        let commander = app.commander().await;
        for path in ["/stats", "/stats/export.csv", "/stats/export.json"] {
            expect_error(&app.get(path, "").await, 401, "unauthorized");
            expect_error(&app.get(path, &envoy).await, 403, "wrong_role");
            expect_error(&app.get(path, &staff).await, 403, "wrong_role");
        }

        // the default period: the 7 days up to now (`to` is exclusive: a second on, the
        // envoy made above counts)
        app.clock.advance(Duration::seconds(1));
        let s = expect(app.get("/stats", &commander).await, 200);
        let now = app.now();
        assert_eq!(s["to"], wire(now));
        assert_eq!(s["from"], wire(now - Duration::days(7)));
        assert_eq!(
            fig(&s["envoys_registered"]),
            (json!(1), Value::Null, Value::Null)
        );

        let t = q(now);
        let long_ago = q(now - Duration::days(401));
        for path in ["/stats", "/stats/export.csv", "/stats/export.json"] {
            for (query, code) in [
                (format!("from={t}&to={t}"), "invalid_period"),
                (
                    format!("from={t}&to={}", q(now - Duration::days(1))),
                    "invalid_period",
                ),
                (format!("from={long_ago}&to={t}"), "invalid_period"),
                ("from=yesterday".to_owned(), "invalid_query"),
                ("compare=last_week".to_owned(), "invalid_query"),
            ] {
                let res = app.get(&format!("{path}?{query}"), &commander).await;
                expect_error(&res, 400, code);
            }
        }
    })
    .await;
}
