//! Join tokens: forged, expired, meant for another team, reused; and who may join when.

use super::members;
use chrono::Duration;
use e2e::{
    expect, expect_error, on_each_backend, png_photo, str_of, TestApp, TOWER_LAT, TOWER_LNG,
};
use pp_domain::TeamId;
use serde_json::json;

/// Copies of `token` with one character changed: in the payload, in the MAC, and both halves
/// swapped.
fn tampered(token: &str) -> Vec<String> {
    let (payload, tag) = token.split_once('.').expect("a token has two parts");
    let flip = |s: &str, i: usize| {
        let mut b = s.as_bytes().to_vec();
        b[i] = if b[i] == b'A' { b'B' } else { b'A' };
        String::from_utf8(b).unwrap()
    };
    vec![
        format!("{}.{tag}", flip(payload, 3)),
        format!("{}.{tag}", flip(payload, payload.len() - 2)),
        format!("{payload}.{}", flip(tag, 0)),
        format!("{payload}.{}", flip(tag, tag.len() / 2)),
        format!("{tag}.{payload}"),
        token.replace('.', ""),
        "abc".to_owned(),
        "abc.def".to_owned(),
    ]
}

#[tokio::test]
async fn forged_expired_and_mismatched_tokens_are_refused() {
    on_each_backend(async |app: &TestApp| {
        let (commander, task, leader_x, _, team_x) = app.task_with_team(&json!({}), 1).await;
        let x = str_of(&team_x, "id");
        let token_x = app.join_token(&leader_x, x).await;
        let (envoy, _) = app.quick_envoy(10).await;

        for forged in tampered(&token_x) {
            expect_error(
                &app.join(&envoy, &forged, None).await,
                400,
                "invalid_join_token",
            );
        }
        // signed with another key
        let team_x_id: TeamId = x.parse().unwrap();
        let wrong_key = pp_domain::join_token::sign(
            b"not the server's secret",
            team_x_id,
            app.now() + Duration::minutes(10),
        );
        expect_error(
            &app.join(&envoy, &wrong_key, None).await,
            400,
            "invalid_join_token",
        );
        // signed with the server's key, for a team that does not exist
        let ghost = pp_domain::join_token::sign(
            app.state.join_secret(),
            TeamId::new(),
            app.now() + Duration::minutes(10),
        );
        expect_error(&app.join(&envoy, &ghost, None).await, 404, "team_not_found");
        // an empty token is malformed input, not a server error
        let empty = app.join(&envoy, "", None).await;
        assert_eq!(empty.0, 400, "{empty:?}");

        // expired: the QR code lives 15 minutes
        app.clock
            .advance(Duration::minutes(15) + Duration::seconds(2));
        expect_error(
            &app.join(&envoy, &token_x, None).await,
            400,
            "join_token_expired",
        );
        let fresh = app.join_token(&leader_x, x).await;
        assert_ne!(fresh, token_x, "the leader gets a fresh token");

        // a token for team X sent with the id of team Y
        let (leader_y, _) = app.quick_envoy(2).await;
        let team_y = expect(app.claim(&leader_y, str_of(&task, "id")).await, 201);
        let y = str_of(&team_y, "id");
        expect_error(
            &app.join(&envoy, &fresh, Some(y)).await,
            400,
            "token_team_mismatch",
        );
        let me = expect(app.get("/me", &envoy).await, 200);
        assert!(
            me["current_team_id"].is_null(),
            "no refused join joined anything: {me}"
        );

        // the matching team_id is fine; joining twice is idempotent
        let first = expect(app.join(&envoy, &fresh, Some(x)).await, 200);
        let again = expect(app.join(&envoy, &fresh, None).await, 200);
        assert_eq!(members(&first), members(&again));
        assert_eq!(members(&again).len(), 2, "one membership: {again}");
        // the leader "joining" their own team changes nothing either
        let own = expect(app.join(&leader_x, &fresh, None).await, 200);
        assert_eq!(members(&own), members(&again));

        // a member of X, or the leader of Y, cannot join the other team
        let token_y = app.join_token(&leader_y, y).await;
        expect_error(
            &app.join(&envoy, &token_y, None).await,
            409,
            "already_in_team",
        );
        expect_error(
            &app.join(&leader_y, &fresh, None).await,
            409,
            "already_in_team",
        );
        assert_eq!(members(&expect(app.team(&leader_y, y).await, 200)).len(), 1);

        // only envoys join
        let commander_join = app.join(&commander, &fresh, None).await;
        expect_error(&commander_join, 403, "wrong_role");
    })
    .await;
}

#[tokio::test]
async fn a_started_team_takes_nobody() {
    on_each_backend(async |app: &TestApp| {
        let (_, _, leader, _, team) = app.task_with_team(&json!({}), 1).await;
        let team_id = str_of(&team, "id");
        let token = app.join_token(&leader, team_id).await;
        super::fill(app, &leader, team_id, 2, 2).await;
        expect(
            app.start(&leader, team_id, TOWER_LAT, TOWER_LNG, Some(png_photo()))
                .await,
            200,
        );
        let (late, _) = app.quick_envoy(9).await;
        expect_error(
            &app.join(&late, &token, None).await,
            409,
            "team_not_forming",
        );
        let view = expect(app.team(&leader, team_id).await, 200);
        assert_eq!(members(&view).len(), 3, "{view}");
    })
    .await;
}
