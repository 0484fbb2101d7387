//! Leaving and removing: members leave, the leader hands over, the last one disbands the team
//! and frees its slot, and only the leader removes members.

use super::{fill, members};
use e2e::{expect, expect_error, on_each_backend, str_of, TestApp};
use serde_json::json;

#[tokio::test]
async fn members_leave_leaders_hand_over_and_the_last_disbands() {
    on_each_backend(async |app: &TestApp| {
        let (commander, task, leader, leader_id, team) =
            app.task_with_team(&json!({"max_teams": 1}), 1).await;
        let task_id = str_of(&task, "id");
        let team_id = str_of(&team, "id");
        let joined = fill(app, &leader, team_id, 2, 3).await;
        let [(m1, m1_id), (m2, m2_id), (m3, m3_id)] = <[_; 3]>::try_from(joined).unwrap();
        let leave = |token: String| async move {
            app.post_empty(&format!("/teams/{team_id}/leave"), &token)
                .await
        };

        // a member leaves; the others stay
        let left = expect(leave(m2.clone()).await, 200);
        assert_eq!(left["outcome"], "left", "{left}");
        let view = expect(app.team(&leader, team_id).await, 200);
        assert!(!members(&view).iter().any(|(id, _)| *id == m2_id), "{view}");
        assert_eq!(members(&view).len(), 3);
        let me = expect(app.get("/me", &m2).await, 200);
        assert!(me["current_team_id"].is_null(), "{me}");
        expect_error(&app.team(&m2, team_id).await, 403, "not_member");
        expect_error(&leave(m2.clone()).await, 403, "not_member");

        // a non-leader cannot remove anyone
        let refused = app
            .delete(&format!("/teams/{team_id}/members/{m3_id}"), &m1)
            .await;
        expect_error(&refused, 403, "not_leader");
        // the leader cannot remove themself (they leave instead)
        let own = app
            .delete(&format!("/teams/{team_id}/members/{leader_id}"), &leader)
            .await;
        expect_error(&own, 400, "cannot_remove_self");

        // the leader leaves: leadership goes to the earliest member, m1
        let handed = expect(leave(leader.clone()).await, 200);
        assert_eq!(handed["outcome"], "new_leader", "{handed}");
        assert_eq!(
            handed["leader_id"].as_str(),
            Some(m1_id.as_str()),
            "{handed}"
        );
        let view = expect(app.team(&m1, team_id).await, 200);
        assert_eq!(view["leader_id"].as_str(), Some(m1_id.as_str()));
        assert_eq!(
            members(&view),
            [
                (m1_id.clone(), "leader".to_owned()),
                (m3_id.clone(), "member".to_owned())
            ]
        );
        assert!(
            view["join_token"].is_string(),
            "the new leader sees the join token: {view}"
        );
        expect_error(&app.team(&leader, team_id).await, 403, "not_member");

        // the new leader removes m3
        let removed = app
            .delete(&format!("/teams/{team_id}/members/{m3_id}"), &m1)
            .await;
        assert_eq!(removed, (204, serde_json::Value::Null));
        let view = expect(app.team(&m1, team_id).await, 200);
        assert_eq!(members(&view), [(m1_id.clone(), "leader".to_owned())]);
        let me = expect(app.get("/me", &m3).await, 200);
        assert!(me["current_team_id"].is_null(), "{me}");
        // removing someone who is not in the team is a 404
        let gone = app
            .delete(&format!("/teams/{team_id}/members/{m3_id}"), &m1)
            .await;
        expect_error(&gone, 404, "member_not_found");

        // the task's only slot is taken
        let (other, _) = app.quick_envoy(50).await;
        expect_error(&app.claim(&other, task_id).await, 409, "no_team_slots");

        // the last member leaves: the team is disbanded and the slot is free again
        let last = expect(leave(m1.clone()).await, 200);
        assert_eq!(last["outcome"], "disbanded", "{last}");
        assert!(last["leader_id"].is_null(), "{last}");
        let view = expect(app.team(&commander, team_id).await, 200);
        assert_eq!(view["state"], "disbanded", "{view}");
        let t = expect(app.get(&format!("/tasks/{task_id}"), &commander).await, 200);
        assert_eq!(
            (t["teams"].as_i64(), t["free_slots"].as_i64()),
            (Some(0), Some(1)),
            "{t}"
        );
        assert_eq!(
            t["teams_list"],
            json!([]),
            "a disbanded team is not listed: {t}"
        );
        let again = expect(app.claim(&other, task_id).await, 201);
        assert_eq!(
            again["leader_id"],
            json!(app.get("/me", &other).await.1["id"])
        );
    })
    .await;
}

#[tokio::test]
async fn after_leaving_an_envoy_may_join_another_team() {
    on_each_backend(async |app: &TestApp| {
        let (_, task, leader_x, _, team_x) = app.task_with_team(&json!({}), 1).await;
        let x = str_of(&team_x, "id");
        let (leader_y, _) = app.quick_envoy(2).await;
        let team_y = expect(app.claim(&leader_y, str_of(&task, "id")).await, 201);
        let y = str_of(&team_y, "id");
        let (envoy, envoy_id) = fill(app, &leader_x, x, 3, 1).await.remove(0);
        let token_y = app.join_token(&leader_y, y).await;
        expect_error(
            &app.join(&envoy, &token_y, None).await,
            409,
            "already_in_team",
        );
        expect(
            app.post_empty(&format!("/teams/{x}/leave"), &envoy).await,
            200,
        );
        let joined = expect(app.join(&envoy, &token_y, None).await, 200);
        assert!(members(&joined).contains(&(envoy_id, "member".to_owned())));
        let me = expect(app.get("/me", &envoy).await, 200);
        assert_eq!(me["current_team_id"].as_str(), Some(y));
    })
    .await;
}
