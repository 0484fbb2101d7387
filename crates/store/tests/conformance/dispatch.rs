//! Emergency dispatches: alerting, answers, expiry, escalation and close, and concurrent
//! alerting (`DispatchStore`).

use crate::fixtures::{code, north, now, open_dispatch, user};
use chrono::Duration;
use pp_domain::dispatch::{DispatchState, RecipientState};
use pp_domain::{Role, UserId};
use pp_store::testing::{Backend, TestDb};
use pp_store::{DispatchFilter, DispatchView};
use std::sync::Arc;

fn states(v: &DispatchView) -> Vec<(UserId, RecipientState)> {
    v.recipients
        .iter()
        .map(|r| (r.recipient.user, r.recipient.state))
        .collect()
}

async fn dispatch_alerts_answers_expiry_escalation_and_close(b: Backend) {
    let (_db, store) = TestDb::store(b).await;
    let commander = user(&store, 100, Role::Commander).await.id;
    let mut envoys = Vec::new();
    for i in 1..=8 {
        envoys.push(user(&store, i, Role::Envoy).await.id);
    }
    let candidates: Vec<(UserId, f64)> = envoys
        .iter()
        .enumerate()
        .map(|(i, u)| (*u, 100.0 * (i as f64 + 1.0)))
        .collect();
    let d = open_dispatch(&store, commander, 2, now()).await;
    let stored = store.dispatch(d.id).await.unwrap();
    assert_eq!(stored.dispatch, d, "{b:?}");
    assert!(stored.recipients.is_empty());

    // needed 2 + overfill 1: the three nearest
    let alerted = store
        .alert_recipients(d.id, &candidates, now())
        .await
        .unwrap();
    assert_eq!(
        alerted.new.iter().map(|r| r.user).collect::<Vec<_>>(),
        envoys[..3],
        "{b:?}"
    );
    assert_eq!(alerted.view.recipients[0].name, "user 1");
    assert_eq!(alerted.view.recipients[1].recipient.distance_m, 200.0);
    assert_eq!(
        alerted.view.recipients[0].recipient.expires_at,
        now() + Duration::seconds(45)
    );
    // the quota is full: nobody more, and the same envoys are never alerted twice
    let again = store
        .alert_recipients(d.id, &candidates, now())
        .await
        .unwrap();
    assert!(again.new.is_empty());
    assert_eq!(again.view.recipients.len(), 3);

    // a decline frees a place for the next nearest not alerted yet
    let t1 = now() + Duration::seconds(5);
    let (v, changed) = store
        .respond_dispatch(d.id, envoys[1], false, t1)
        .await
        .unwrap();
    assert!(changed);
    assert_eq!(
        v.recipient(envoys[1]).unwrap().state,
        RecipientState::Declined
    );
    assert_eq!(v.recipient(envoys[1]).unwrap().answered_at, Some(t1));
    let (_, changed) = store
        .respond_dispatch(d.id, envoys[1], false, t1)
        .await
        .unwrap();
    assert!(!changed, "a retried answer changes nothing");
    let next = store.alert_recipients(d.id, &candidates, t1).await.unwrap();
    assert_eq!(
        next.new.iter().map(|r| r.user).collect::<Vec<_>>(),
        [envoys[3]]
    );
    assert_eq!(next.new[0].notified_at, t1);

    // accept, then arrive: only within 100 m, only once accepted
    store
        .respond_dispatch(d.id, envoys[0], true, t1)
        .await
        .unwrap();
    assert_eq!(
        code(
            store
                .arrive_dispatch(d.id, envoys[0], north(150.0), t1)
                .await
                .unwrap_err()
        ),
        "not_at_scene"
    );
    assert_eq!(
        code(
            store
                .arrive_dispatch(d.id, envoys[2], north(10.0), t1)
                .await
                .unwrap_err()
        ),
        "not_accepted"
    );
    let (v, changed) = store
        .arrive_dispatch(d.id, envoys[0], north(40.0), t1)
        .await
        .unwrap();
    assert!(changed);
    assert_eq!(v.recipient(envoys[0]).unwrap().arrived_at, Some(t1));
    assert_eq!(
        code(
            store
                .respond_dispatch(d.id, envoys[7], true, t1)
                .await
                .unwrap_err()
        ),
        "not_found:alert"
    );
    assert_eq!(
        code(
            store
                .respond_dispatch(pp_domain::DispatchId::new(), envoys[0], true, t1)
                .await
                .unwrap_err()
        ),
        "not_found:dispatch"
    );

    // unanswered alerts expire after 45 s: envoys 2 (alerted at 0) now, 3 (at 5 s) later
    assert!(store
        .expire_alerts(now() + Duration::seconds(44))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store
            .expire_alerts(now() + Duration::seconds(45))
            .await
            .unwrap(),
        [(d.id, envoys[2])],
        "{b:?}"
    );
    assert_eq!(
        code(
            store
                .respond_dispatch(d.id, envoys[2], true, t1)
                .await
                .unwrap_err()
        ),
        "alert_expired"
    );
    let mut engaged = store.engaged_envoys().await.unwrap();
    engaged.sort();
    let mut want = vec![envoys[0], envoys[3]];
    want.sort();
    assert_eq!(engaged, want, "{b:?}");

    // one accepted of two needed: after 60 s the search widens, once per 60 s
    assert_eq!(
        store
            .escalate_dispatch(d.id, now() + Duration::seconds(59))
            .await
            .unwrap(),
        None
    );
    let wide = store
        .escalate_dispatch(d.id, now() + Duration::seconds(60))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((wide.radius_m, wide.escalations), (1000.0, 1));
    assert_eq!(
        store
            .escalate_dispatch(d.id, now() + Duration::seconds(61))
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.dispatch(d.id).await.unwrap().dispatch, wide);

    // another dispatch cannot take an envoy this one holds
    let other = open_dispatch(&store, commander, 1, now()).await;
    let taken = store
        .alert_recipients(
            other.id,
            &[(envoys[0], 5.0), (envoys[3], 6.0), (envoys[6], 7.0)],
            t1,
        )
        .await
        .unwrap();
    assert_eq!(
        taken.new.iter().map(|r| r.user).collect::<Vec<_>>(),
        [envoys[6]]
    );

    // listing, newest first, by state and by recipient
    let all = store
        .dispatches(&DispatchFilter {
            limit: 10,
            ..DispatchFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(
        all.iter().map(|v| v.dispatch.id).collect::<Vec<_>>(),
        [other.id, d.id]
    );
    let mine = store
        .dispatches(&DispatchFilter {
            recipient: Some(envoys[6]),
            limit: 10,
            ..DispatchFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].dispatch.id, other.id);

    // closing: unanswered alerts expire, everyone is free again, nothing more happens
    let t2 = now() + Duration::seconds(70);
    let closed = store.close_dispatch(d.id, commander, t2).await.unwrap();
    assert_eq!(closed.dispatch.state, DispatchState::Closed);
    assert_eq!(
        (closed.dispatch.closed_at, closed.dispatch.closed_by),
        (Some(t2), Some(commander))
    );
    assert_eq!(closed, store.dispatch(d.id).await.unwrap(), "{b:?}");
    assert_eq!(
        states(&closed),
        [
            (envoys[0], RecipientState::Arrived),
            (envoys[1], RecipientState::Declined),
            (envoys[2], RecipientState::Expired),
            (envoys[3], RecipientState::Expired),
        ]
    );
    assert_eq!(store.engaged_envoys().await.unwrap(), [envoys[6]]);
    assert_eq!(
        code(store.close_dispatch(d.id, commander, t2).await.unwrap_err()),
        "dispatch_closed"
    );
    assert_eq!(
        code(
            store
                .respond_dispatch(d.id, envoys[0], false, t2)
                .await
                .unwrap_err()
        ),
        "dispatch_closed"
    );
    assert!(store
        .alert_recipients(d.id, &candidates, t2)
        .await
        .unwrap()
        .new
        .is_empty());
    assert_eq!(
        store
            .escalate_dispatch(d.id, t2 + Duration::hours(1))
            .await
            .unwrap(),
        None
    );
    let open_only = store
        .dispatches(&DispatchFilter {
            state: Some(DispatchState::Open),
            limit: 10,
            ..DispatchFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(open_only.len(), 1);
    // the freed envoys may be alerted by the other dispatch now
    let freed = store
        .alert_recipients(other.id, &[(envoys[0], 5.0)], t2)
        .await
        .unwrap();
    assert_eq!(freed.new.len(), 1, "{b:?}");
}
on_each_backend!(dispatch_alerts_answers_expiry_escalation_and_close);

async fn concurrent_alerting_never_overfills_nor_engages_an_envoy_twice(b: Backend) {
    let (_db, store) = TestDb::store(b).await;
    let commander = user(&store, 100, Role::Commander).await.id;
    let mut envoys = Vec::new();
    for i in 1..=12 {
        envoys.push(user(&store, i, Role::Envoy).await.id);
    }
    // two dispatches (quota 3 and 4) alerting from the same crowd, 10 rounds each at once
    let a = open_dispatch(&store, commander, 2, now()).await;
    let c = open_dispatch(&store, commander, 3, now()).await;
    let mut calls = Vec::new();
    for i in 0..20 {
        let store = Arc::clone(&store);
        let id = if i % 2 == 0 { a.id } else { c.id };
        let mut cands: Vec<(UserId, f64)> = envoys.iter().map(|u| (*u, 10.0)).collect();
        cands.rotate_left(i % envoys.len());
        calls.push(tokio::spawn(async move {
            store
                .alert_recipients(id, &cands, now())
                .await
                .unwrap()
                .new
                .len()
        }));
    }
    let mut total = 0;
    for c in calls {
        total += c.await.unwrap();
    }
    let (va, vc) = (
        store.dispatch(a.id).await.unwrap(),
        store.dispatch(c.id).await.unwrap(),
    );
    assert_eq!((va.recipients.len(), vc.recipients.len()), (3, 4), "{b:?}");
    assert_eq!(total, 7);
    let mut all: Vec<UserId> = va
        .recipients
        .iter()
        .chain(&vc.recipients)
        .map(|r| r.recipient.user)
        .collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 7, "no envoy is held by both");
}
on_each_backend!(concurrent_alerting_never_overfills_nor_engages_an_envoy_twice);
