//! `GET /stream`: live events over a real Server-Sent Events connection — team changes to the
//! members, positions to the commanders who asked, and the replay of missed events after a
//! reconnection with `Last-Event-ID`.

use e2e::{expect, expect_error, on_each_backend, point, Stream, TestApp, TOWER_LAT, TOWER_LNG};
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn team_changes_and_positions_reach_exactly_their_audience_and_are_replayed() {
    on_each_backend(async |app: &TestApp| {
        let (commander, _task, leader, _leader_id, team) = app.task_with_team(&json!({}), 1).await;
        let team_id = team["id"].as_str().unwrap().to_owned();
        let (outsider, _) = app.quick_envoy(50).await;
        let mut lead = Stream::open(app, "", &leader, None).await;
        let mut other = Stream::open(app, "", &outsider, None).await;
        let mut watch = Stream::open(app, "&positions=1", &commander, None).await;

        // a member joins: the leader hears it, the outsider does not
        let join_token = app.join_token(&leader, &team_id).await;
        let (member, member_id) = app.quick_envoy(2).await;
        expect(app.join(&member, &join_token, None).await, 200);
        let joined = lead.next().await;
        assert_eq!(joined.event, "team");
        assert_eq!(joined.data["team_id"], team_id.as_str());
        assert_eq!(joined.data["change"], "joined");
        assert_eq!(joined.data["by"], member_id.as_str());
        assert_eq!(joined.data["state"], "forming");

        // positions go to the commander who asked for them
        app.ingest(&member, &[point(app.now(), (TOWER_LAT, TOWER_LNG))])
            .await;
        let pos = watch.next().await;
        assert_eq!(pos.event, "positions");
        assert_eq!(pos.data["points"][0]["user_id"], member_id.as_str());

        // the leader's connection drops; while away, a second member joins and one leaves
        let seen = joined.id.unwrap();
        drop(lead);
        let (third, _) = app.quick_envoy(3).await;
        expect(app.join(&third, &join_token, None).await, 200);
        expect(
            app.post_empty(&format!("/teams/{team_id}/leave"), &member)
                .await,
            200,
        );
        // reconnecting with the last id seen replays exactly what was missed, in order
        let mut lead = Stream::open(app, "", &leader, Some(seen)).await;
        let (a, b) = (lead.next().await, lead.next().await);
        assert_eq!(
            (a.data["change"].as_str(), b.data["change"].as_str()),
            (Some("joined"), Some("left"))
        );
        assert!(seen < a.id.unwrap() && a.id.unwrap() < b.id.unwrap());
        // …and then goes on live
        let (fourth, _) = app.quick_envoy(4).await;
        expect(app.join(&fourth, &join_token, None).await, 200);
        assert_eq!(lead.next().await.data["change"], "joined");

        // the outsider got nothing about this team: its first event is its own team's
        let task2 = app
            .create_task(&commander, &json!({"title": "second"}))
            .await;
        let claimed = expect(
            app.claim(&outsider, task2["id"].as_str().unwrap()).await,
            201,
        );
        let own_team = claimed["id"].as_str().unwrap().to_owned();
        let token2 = app.join_token(&outsider, &own_team).await;
        let (fifth, _) = app.quick_envoy(5).await;
        expect(app.join(&fifth, &token2, None).await, 200);
        let first = other.next().await;
        assert_eq!(first.data["team_id"], own_team.as_str());
    })
    .await;
}

#[tokio::test]
async fn positions_are_for_the_command_centre_and_bad_streams_are_refused() {
    on_each_backend(async |app: &TestApp| {
        let (envoy, _) = app.quick_envoy(1).await;
        expect_error(
            &app.get("/stream?positions=1", &envoy).await,
            403,
            "wrong_role",
        );
        expect_error(
            &app.get("/stream?positions=2", &envoy).await,
            400,
            "invalid_query",
        );
        expect_error(&app.get("/stream", "nope").await, 401, "unauthorized");
        // an id this server never gave (from before a restart): a reset, then live events
        let mut s = Stream::open(app, "", &envoy, Some(999_999)).await;
        let reset = s.next().await;
        assert_eq!((reset.event.as_str(), reset.id), ("reset", None));
        let s2 = Stream::open(app, "&last_event_id=18446744073709551615", &envoy, None).await;
        drop(s2);
    })
    .await;
}

#[tokio::test]
async fn open_streams_do_not_hold_up_a_shutdown() {
    let app = TestApp::spawn(pp_store::testing::Backend::Sqlite).await;
    let (envoy, _) = app.quick_envoy(1).await;
    let mut open = Stream::open(&app, "", &envoy, None).await;
    // stop() fails the test when serve does not return within 10 s
    app.stop().await;
    let end = tokio::time::timeout(Duration::from_secs(5), open.res.chunk()).await;
    assert!(
        matches!(end, Ok(Ok(None)) | Ok(Err(_))),
        "the stream ended: {end:?}"
    );
}
