//! Teams: the lifecycle, concurrent claims and joins settled in the database, and the live
//! map's envoy cards (`TeamStore`).

use crate::fixtures::{code, futures_join, now, task, user};
use chrono::Duration;
use pp_domain::team::{LeaveOutcome, MemberRole, TeamState};
use pp_domain::{Role, UserId};
use pp_geo::LatLng;
use pp_store::testing::{Backend, TestDb};
use pp_store::{JoinOutcome, User};

async fn team_lifecycle(b: Backend) {
    let (_db, store) = TestDb::store(b).await;
    let cmd = user(&store, 1, Role::Commander).await;
    let t = task(&store, cmd.id, 2, 4).await;
    let e: Vec<User> = futures_join(&store, 2..9).await;
    let team = store.claim_team(t.id, e[0].id, now()).await.unwrap();
    assert_eq!(team.state, TeamState::Forming);
    assert_eq!(
        code(store.claim_team(t.id, e[0].id, now()).await.unwrap_err()),
        "already_in_team"
    );
    assert_eq!(store.current_team(e[0].id).await.unwrap(), Some(team.id));

    assert_eq!(
        store.join_team(team.id, e[1].id, now()).await.unwrap(),
        JoinOutcome::Joined
    );
    assert_eq!(
        store.join_team(team.id, e[1].id, now()).await.unwrap(),
        JoinOutcome::AlreadyMember
    );
    // start refused with 2 of 3 members
    let inside = LatLng::new(23.1066, 113.3245).unwrap();
    let outside = LatLng::new(23.12, 113.3245).unwrap();
    assert_eq!(
        code(
            store
                .start_team(team.id, e[0].id, inside, "abc", now())
                .await
                .unwrap_err()
        ),
        "team_too_small"
    );
    store
        .join_team(team.id, e[2].id, now() + Duration::seconds(1))
        .await
        .unwrap();
    store
        .join_team(team.id, e[3].id, now() + Duration::seconds(2))
        .await
        .unwrap();
    assert_eq!(
        code(store.join_team(team.id, e[4].id, now()).await.unwrap_err()),
        "team_full"
    );

    // a second team; its leader cannot join the first
    let team2 = store.claim_team(t.id, e[4].id, now()).await.unwrap();
    assert_eq!(
        code(store.join_team(team.id, e[4].id, now()).await.unwrap_err()),
        "already_in_team"
    );
    assert_eq!(
        code(store.claim_team(t.id, e[5].id, now()).await.unwrap_err()),
        "no_team_slots"
    );
    let summaries = store.teams_of_task(t.id).await.unwrap();
    assert_eq!(
        summaries
            .iter()
            .map(|s| (s.id, s.members))
            .collect::<Vec<_>>(),
        [(team.id, 4), (team2.id, 1)]
    );

    // the leader removes a member; a non-leader cannot
    assert_eq!(
        code(
            store
                .remove_member(team.id, e[1].id, e[2].id, now())
                .await
                .unwrap_err()
        ),
        "not_leader"
    );
    store
        .remove_member(team.id, e[0].id, e[3].id, now())
        .await
        .unwrap();
    assert_eq!(
        code(
            store
                .remove_member(team.id, e[0].id, e[3].id, now())
                .await
                .unwrap_err()
        ),
        "not_found:member"
    );
    assert_eq!(store.current_team(e[3].id).await.unwrap(), None);
    store
        .join_team(team.id, e[3].id, now() + Duration::seconds(3))
        .await
        .unwrap();

    assert_eq!(
        code(
            store
                .start_team(team.id, e[1].id, inside, "abc", now())
                .await
                .unwrap_err()
        ),
        "not_leader"
    );
    assert_eq!(
        code(
            store
                .start_team(team.id, e[0].id, outside, "abc", now())
                .await
                .unwrap_err()
        ),
        "outside_area"
    );
    let started = store
        .start_team(team.id, e[0].id, inside, "abc", now())
        .await
        .unwrap();
    assert_eq!(started.state, TeamState::Active);
    let view = store.team(team.id).await.unwrap();
    assert_eq!(view.team, started, "what start returns is what was stored");
    assert_eq!(view.members.len(), 4);
    assert_eq!(view.members[0].role, MemberRole::Leader);
    assert_eq!(view.members[0].user_id, e[0].id);
    assert_eq!(
        code(store.join_team(team.id, e[6].id, now()).await.unwrap_err()),
        "team_not_forming"
    );

    // the leader of an active team leaves: the earliest member leads
    assert_eq!(
        store.leave_team(team.id, e[0].id, now()).await.unwrap(),
        LeaveOutcome::NewLeader(e[1].id)
    );
    let view = store.team(team.id).await.unwrap();
    assert_eq!(view.team.leader_id, e[1].id);
    assert_eq!(view.members[0].user_id, e[1].id);
    assert_eq!(
        code(store.leave_team(team.id, e[0].id, now()).await.unwrap_err()),
        "not_member"
    );

    // a team of one disbands when its leader leaves, freeing the slot
    assert_eq!(
        store.leave_team(team2.id, e[4].id, now()).await.unwrap(),
        LeaveOutcome::Disbanded
    );
    assert_eq!(
        store.team(team2.id).await.unwrap().team.state,
        TeamState::Disbanded
    );
    assert!(store.claim_team(t.id, e[5].id, now()).await.is_ok());
    assert_eq!(
        code(store.team(pp_domain::TeamId::new()).await.unwrap_err()),
        "not_found:team"
    );
}
on_each_backend!(team_lifecycle);

async fn forty_concurrent_joins_fill_a_team_of_five_exactly(b: Backend) {
    let (_db, store) = TestDb::store(b).await;
    let cmd = user(&store, 1, Role::Commander).await;
    let t = task(&store, cmd.id, 1, 5).await;
    let envoys = futures_join(&store, 10..51).await;
    let team = store.claim_team(t.id, envoys[0].id, now()).await.unwrap();
    let handles: Vec<_> = envoys[1..]
        .iter()
        .map(|e| {
            let (store, id) = (store.clone(), e.id);
            tokio::spawn(async move { store.join_team(team.id, id, now()).await })
        })
        .collect();
    let mut joined = 0;
    for h in handles {
        match h.await.unwrap() {
            Ok(JoinOutcome::Joined) => joined += 1,
            Ok(JoinOutcome::AlreadyMember) => panic!("nobody joined twice"),
            Err(e) => assert_eq!(code(e), "team_full"),
        }
    }
    assert_eq!(joined, 4, "{b:?}");
    assert_eq!(store.team(team.id).await.unwrap().members.len(), 5, "{b:?}");
}
on_each_backend!(
    forty_concurrent_joins_fill_a_team_of_five_exactly,
    flavor = "multi_thread",
    worker_threads = 4
);

async fn twenty_concurrent_claims_make_exactly_max_teams(b: Backend) {
    let (_db, store) = TestDb::store(b).await;
    let cmd = user(&store, 1, Role::Commander).await;
    let t = task(&store, cmd.id, 3, 5).await;
    let envoys = futures_join(&store, 10..30).await;
    let handles: Vec<_> = envoys
        .iter()
        .map(|e| {
            let (store, id) = (store.clone(), e.id);
            tokio::spawn(async move { store.claim_team(t.id, id, now()).await })
        })
        .collect();
    let mut teams = 0;
    for h in handles {
        match h.await.unwrap() {
            Ok(_) => teams += 1,
            Err(e) => assert_eq!(code(e), "no_team_slots"),
        }
    }
    assert_eq!(teams, 3, "{b:?}");
    assert_eq!(store.teams_of_task(t.id).await.unwrap().len(), 3, "{b:?}");
}
on_each_backend!(
    twenty_concurrent_claims_make_exactly_max_teams,
    flavor = "multi_thread",
    worker_threads = 4
);

async fn one_envoy_racing_into_two_teams_ends_in_one(b: Backend) {
    let (_db, store) = TestDb::store(b).await;
    let cmd = user(&store, 1, Role::Commander).await;
    let t = task(&store, cmd.id, 10, 5).await;
    let envoys = futures_join(&store, 10..20).await;
    let mut teams = Vec::new();
    for e in &envoys[..9] {
        teams.push(store.claim_team(t.id, e.id, now()).await.unwrap().id);
    }
    let racer = envoys[9].id;
    let handles: Vec<_> = teams
        .iter()
        .map(|&team| {
            let store = store.clone();
            tokio::spawn(async move { store.join_team(team, racer, now()).await })
        })
        .collect();
    let mut ok = 0;
    for h in handles {
        match h.await.unwrap() {
            Ok(_) => ok += 1,
            Err(e) => assert_eq!(code(e), "already_in_team"),
        }
    }
    assert_eq!(ok, 1, "{b:?}");
    assert!(store.current_team(racer).await.unwrap().is_some());
}
on_each_backend!(
    one_envoy_racing_into_two_teams_ends_in_one,
    flavor = "multi_thread",
    worker_threads = 4
);

async fn envoy_cards_name_the_current_team(b: Backend) {
    let (_db, store) = TestDb::store(b).await;
    let cmd = user(&store, 1, Role::Commander).await;
    let t = task(&store, cmd.id, 2, 4).await;
    let (leader, loner) = (
        user(&store, 2, Role::Envoy).await,
        user(&store, 3, Role::Envoy).await,
    );
    let team = store.claim_team(t.id, leader.id, now()).await.unwrap();
    let mut cards = store
        .envoy_cards(&[leader.id, loner.id, UserId::new()])
        .await
        .unwrap();
    cards.sort_by_key(|c| c.name.clone());
    assert_eq!(cards.len(), 2, "{b:?}: an unknown id is left out");
    assert_eq!(cards[0].name, leader.name);
    assert_eq!(
        cards[0].team,
        Some((team.id, t.id, TeamState::Forming)),
        "{b:?}"
    );
    assert_eq!((cards[1].user, cards[1].team), (loner.id, None));
    assert!(store.envoy_cards(&[]).await.unwrap().is_empty());
}
on_each_backend!(envoy_cards_name_the_current_team);
