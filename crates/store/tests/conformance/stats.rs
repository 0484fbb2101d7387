//! District statistics counted from the stored records of a period (`StatsStore`).

use crate::fixtures::{
    actor, batch, envoy_ids, new_user, north, now, open_dispatch, outcome, pending, pos, report,
    staff, started_team, started_team_at, task, task_at, tower, user,
};
use chrono::Duration;
use pp_domain::incident::{Category, IncidentStatus};
use pp_domain::ledger::{self, LedgerKind};
use pp_domain::stats::{Compare, Period, Stats};
use pp_domain::time::Timestamp;
use pp_domain::{IncidentId, Role, UserId};
use pp_store::testing::{Backend, TestDb};
use pp_store::{IncidentChange, Store, User};
use std::sync::Arc;

/// Moves a report along `open → acknowledged → in_progress → end`, the last step at `at`.
async fn work_through(
    store: &Arc<dyn Store>,
    id: IncidentId,
    by: &User,
    end: IncidentStatus,
    at: Timestamp,
) {
    for (status, when) in [
        (IncidentStatus::Acknowledged, at - Duration::seconds(2)),
        (IncidentStatus::InProgress, at - Duration::seconds(1)),
        (end, at),
    ] {
        store
            .update_incident(id, &actor(by), &IncidentChange::Status(status), "", when)
            .await
            .unwrap();
    }
}

async fn stats_count_the_stored_records_of_a_period(b: Backend) {
    let (_db, store) = TestDb::store(b).await;
    let t0 = now();
    let year_ago = t0 - Duration::days(365);
    let admin = user(&store, 1, Role::Admin).await;
    let cmd = user(&store, 2, Role::Commander).await.id;
    let sweeper = staff(&store, 3, "sanitation").await;
    let warden = staff(&store, 4, "urban_management").await;
    let police = staff(&store, 5, "public_security").await;
    let e = envoy_ids(&store, 10..22).await;
    // an envoy registered two years ago, one pending (imported) since last year
    store
        .create_user(&new_user(30, Role::Envoy), t0 - Duration::days(730))
        .await
        .unwrap();
    store
        .import_envoys(&[pending(31, "12345678")], t0, year_ago - Duration::days(1))
        .await
        .unwrap();

    // this period: two tasks; team A (3) finishes, team B (4, one leaves on patrol) is
    // still out, team C never starts (one of its members left while it was forming)
    let t1 = task(&store, cmd, 3, 5).await;
    let t2 = task(&store, cmd, 3, 5).await;
    let a = started_team(&store, &t1, &e[0..3]).await;
    let team_b = store
        .claim_team(t2.id, e[3], t0 - Duration::minutes(9))
        .await
        .unwrap()
        .id;
    for (i, &m) in e[4..8].iter().enumerate() {
        store
            .join_team(
                team_b,
                m,
                t0 - Duration::minutes(8) + Duration::seconds(i as i64),
            )
            .await
            .unwrap();
    }
    store
        .leave_team(team_b, e[7], t0 - Duration::minutes(6))
        .await
        .unwrap();
    store
        .start_team(team_b, e[3], tower(), "abc", t0)
        .await
        .unwrap();
    store
        .leave_team(team_b, e[6], t0 + Duration::minutes(10))
        .await
        .unwrap();
    let team_c = store.claim_team(t2.id, e[8], t0).await.unwrap().id;
    store.join_team(team_c, e[7], t0).await.unwrap();
    let done = t0 + Duration::minutes(40);
    store
        .finish_team(
            a,
            Some(e[0]),
            &[
                outcome(e[0], 35, true),
                outcome(e[1], 31, true),
                outcome(e[2], 12, false),
            ],
            done,
        )
        .await
        .unwrap();
    // a correction is not an award
    store
        .add_correction(
            &ledger::correction(e[2], LedgerKind::Points, 7, "kind words", admin.id).unwrap(),
            done,
        )
        .await
        .unwrap();

    // incidents: resolved after 30 min and 10 min (median 20 min), one rejected, one open
    let reporter = e[9];
    let r = |c, at| {
        let store = store.clone();
        async move {
            store
                .report_incident(reporter, &report(c, "seen"), at)
                .await
                .unwrap()
                .incident
                .id
        }
    };
    let dirt = r(Category::Sanitation, t0).await;
    work_through(
        &store,
        dirt,
        &sweeper,
        IncidentStatus::Resolved,
        t0 + Duration::minutes(30),
    )
    .await;
    let bikes = r(Category::BikeParking, t0 + Duration::minutes(1)).await;
    work_through(
        &store,
        bikes,
        &warden,
        IncidentStatus::Resolved,
        t0 + Duration::minutes(11),
    )
    .await;
    let prank = r(Category::BikeParking, t0 + Duration::minutes(2)).await;
    work_through(
        &store,
        prank,
        &warden,
        IncidentStatus::Rejected,
        t0 + Duration::minutes(3),
    )
    .await;
    r(Category::LostChild, t0 + Duration::minutes(3)).await;

    // dispatches: first acceptances after 20 s and 40 s (median 30 s), one arrival after
    // 90 s; the third is only declined
    let near = |users: &[UserId]| -> Vec<(UserId, f64)> {
        users
            .iter()
            .enumerate()
            .map(|(i, &u)| (u, 50.0 * (i as f64 + 1.0)))
            .collect()
    };
    let d1 = open_dispatch(&store, cmd, 2, t0).await.id;
    store
        .alert_recipients(d1, &near(&e[9..11]), t0)
        .await
        .unwrap();
    store
        .respond_dispatch(d1, e[10], true, t0 + Duration::seconds(25))
        .await
        .unwrap();
    store
        .respond_dispatch(d1, e[9], true, t0 + Duration::seconds(20))
        .await
        .unwrap();
    store
        .arrive_dispatch(d1, e[10], north(10.0), t0 + Duration::seconds(90))
        .await
        .unwrap();
    let d2 = open_dispatch(&store, cmd, 1, t0 + Duration::hours(1))
        .await
        .id;
    store
        .alert_recipients(d2, &near(&e[11..12]), t0 + Duration::hours(1))
        .await
        .unwrap();
    store
        .respond_dispatch(
            d2,
            e[11],
            true,
            t0 + Duration::hours(1) + Duration::seconds(40),
        )
        .await
        .unwrap();
    let d3 = open_dispatch(&store, cmd, 1, t0 + Duration::hours(2))
        .await
        .id;
    store
        .alert_recipients(d3, &near(&e[0..1]), t0 + Duration::hours(2))
        .await
        .unwrap();
    store
        .respond_dispatch(d3, e[0], false, t0 + Duration::hours(2))
        .await
        .unwrap();

    // positions: three envoys (one only flagged points, which do not count)
    store
        .append_positions(&[
            batch(e[0], &[pos(0, 0.0, false), pos(60, 10.0, false)]),
            batch(e[1], &[pos(30, 0.0, false)]),
            batch(e[4], &[pos(1800, 0.0, false)]),
            batch(e[5], &[pos(10, 0.0, true)]),
        ])
        .await
        .unwrap();

    // a year earlier: one task, one team of three who all qualified, one report
    let old = task_at(&store, cmd, 1, 5, year_ago).await;
    let old_team = started_team_at(&store, &old, &e[0..3], year_ago).await;
    store
        .finish_team(
            old_team,
            Some(e[0]),
            &[
                outcome(e[0], 30, true),
                outcome(e[1], 30, true),
                outcome(e[2], 60, true),
            ],
            year_ago + Duration::minutes(61),
        )
        .await
        .unwrap();
    let lost = store
        .report_incident(e[9], &report(Category::LostChild, "a boy"), year_ago)
        .await
        .unwrap()
        .incident
        .id;
    work_through(
        &store,
        lost,
        &police,
        IncidentStatus::Resolved,
        year_ago + Duration::minutes(5),
    )
    .await;

    let period = Period::new(
        Some(t0 - Duration::hours(1)),
        Some(t0 + Duration::days(1)),
        t0,
    )
    .unwrap();
    let previous = period.previous_year();
    let now_tally = store.stats_tally(period.from, period.to).await.unwrap();
    let then_tally = store.stats_tally(previous.from, previous.to).await.unwrap();
    let s = Stats::new(
        period,
        &now_tally,
        Some((Compare::PreviousYear, previous, &then_tally)),
    );
    let v = |f: pp_domain::stats::Figure| (f.value, f.previous, f.change_pct);

    assert_eq!(
        v(s.tasks_published),
        (Some(2.0), Some(1.0), Some(100.0)),
        "{b:?}"
    );
    assert_eq!(v(s.teams_formed), (Some(2.0), Some(1.0), Some(100.0)));
    assert_eq!(
        now_tally.team_sizes,
        vec![3, 4],
        "{b:?}: B counted as it started"
    );
    assert_eq!(v(s.teams_by_size[&4]), (Some(1.0), Some(0.0), None));
    assert_eq!(v(s.participants), (Some(7.0), Some(3.0), Some(133.3)));
    assert_eq!(
        v(s.patrol_hours),
        (Some(1.3), Some(2.0), Some(-35.0)),
        "78 min now, 120 then"
    );
    assert_eq!(v(s.qualified_members), (Some(2.0), Some(3.0), Some(-33.3)));
    assert_eq!(
        v(s.points_awarded),
        (Some(20.0), Some(30.0), Some(-33.3)),
        "{b:?}"
    );
    assert_eq!(
        v(s.fund_awarded_cents),
        (Some(1000.0), Some(1500.0), Some(-33.3))
    );
    assert_eq!(v(s.incidents_reported), (Some(4.0), Some(1.0), Some(300.0)));
    assert_eq!(s.incidents_by_category["bike_parking"].value, Some(2.0));
    assert_eq!(
        v(s.incidents_by_category["lost_child"]),
        (Some(1.0), Some(1.0), Some(0.0))
    );
    assert_eq!(s.incidents_by_outcome["resolved"].value, Some(2.0));
    assert_eq!(s.incidents_by_outcome["rejected"].value, Some(1.0));
    assert_eq!(s.incidents_by_outcome["open"].value, Some(1.0));
    assert_eq!(s.incidents_by_outcome["in_progress"].value, Some(0.0));
    assert_eq!(
        v(s.incident_median_resolve_s),
        (Some(1200.0), Some(300.0), Some(300.0)),
        "{b:?}"
    );
    assert_eq!(v(s.dispatches), (Some(3.0), Some(0.0), None));
    assert_eq!(s.dispatch_median_first_accept_s.value, Some(30.0), "{b:?}");
    assert_eq!(s.dispatch_median_first_accept_s.previous, None);
    assert_eq!(s.dispatch_median_arrival_s.value, Some(90.0));
    assert_eq!(
        s.envoys_active.value,
        Some(3.0),
        "{b:?}: flagged points do not count"
    );
    assert_eq!(s.envoys_active.previous, Some(0.0));
    // twelve envoys made at t0 plus the two older ones; a year ago only those two
    assert_eq!(
        v(s.envoys_registered),
        (Some(14.0), Some(2.0), Some(600.0)),
        "{b:?}"
    );

    // `to` is exclusive, `from` inclusive; an empty period counts nothing
    let before = store
        .stats_tally(t0 - Duration::hours(1), t0)
        .await
        .unwrap();
    assert_eq!(before.tasks_published, 0);
    assert!(before.team_sizes.is_empty());
    let exact = store
        .stats_tally(t0, t0 + Duration::milliseconds(1))
        .await
        .unwrap();
    assert_eq!(exact.tasks_published, 2);
    assert_eq!(exact.team_sizes.len(), 2);
    let later = store
        .stats_tally(t0 + Duration::days(2), t0 + Duration::days(3))
        .await
        .unwrap();
    assert_eq!(
        later,
        pp_domain::stats::Tally {
            envoys_registered: 14,
            ..pp_domain::stats::Tally::default()
        },
        "{b:?}"
    );
}
on_each_backend!(stats_count_the_stored_records_of_a_period);
