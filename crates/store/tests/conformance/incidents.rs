//! Incident reports: routing, work on them, listing, and concurrent moves (`IncidentStore`).

use crate::fixtures::{actor, code, now, report, staff, task, tower, user};
use chrono::Duration;
use pp_domain::incident::{Category, IncidentStatus, NewIncident, TimelineKind};
use pp_domain::{IncidentId, Role, TeamId};
use pp_geo::LatLng;
use pp_store::testing::{Backend, TestDb};
use pp_store::{IncidentChange, IncidentFilter, Store, User};
use std::sync::Arc;

async fn incidents_are_routed_worked_and_listed(b: Backend) {
    let (_db, store) = TestDb::store(b).await;
    let envoy = user(&store, 1, Role::Envoy).await;
    let other_envoy = user(&store, 2, Role::Envoy).await;
    let commander = user(&store, 3, Role::Commander).await;
    let sweeper = staff(&store, 4, "sanitation").await;
    let warden = staff(&store, 5, "urban_management").await;
    let t0 = now();

    let dirt = store
        .report_incident(
            envoy.id,
            &report(Category::Sanitation, " bins overflowing "),
            t0,
        )
        .await
        .unwrap();
    let i = &dirt.incident;
    assert_eq!(
        (
            i.department.as_str(),
            i.status,
            i.description.as_str(),
            i.reporter
        ),
        (
            "sanitation",
            IncidentStatus::Open,
            "bins overflowing",
            envoy.id
        ),
        "{b:?}"
    );
    assert_eq!(i.photos.len(), 1);
    assert_eq!(dirt.reporter_name, "user 1");
    assert_eq!(dirt.timeline.len(), 1);
    assert_eq!(dirt.timeline[0].entry.kind, TimelineKind::Reported);
    assert_eq!(
        store.incident(i.id).await.unwrap(),
        dirt,
        "{b:?}: read back as filed"
    );
    let bikes = store
        .report_incident(
            other_envoy.id,
            &report(Category::BikeParking, "twenty bikes on the crossing"),
            t0 + Duration::minutes(1),
        )
        .await
        .unwrap();
    assert_eq!(bikes.incident.department, "urban_management");
    assert_eq!(
        code(
            store
                .report_incident(
                    envoy.id,
                    &NewIncident {
                        team_id: Some(TeamId::new()),
                        ..report(Category::Other, "x")
                    },
                    t0
                )
                .await
                .unwrap_err()
        ),
        "not_found:team"
    );

    // the wrong department cannot see it, so cannot move it
    let e = store
        .update_incident(
            i.id,
            &actor(&warden),
            &IncidentChange::Status(IncidentStatus::Acknowledged),
            "",
            t0,
        )
        .await
        .unwrap_err();
    assert_eq!(code(e), "not_found:incident", "{b:?}");
    // a skipped step is refused and changes nothing
    let e = store
        .update_incident(
            i.id,
            &actor(&sweeper),
            &IncidentChange::Status(IncidentStatus::Resolved),
            "",
            t0,
        )
        .await
        .unwrap_err();
    assert_eq!(code(e), "invalid_transition");
    let e = store
        .update_incident(
            i.id,
            &actor(&envoy),
            &IncidentChange::Status(IncidentStatus::Acknowledged),
            "",
            t0,
        )
        .await
        .unwrap_err();
    assert_eq!(
        code(e),
        "wrong_role",
        "{b:?}: the reporter sees it but does not work it"
    );
    assert_eq!(store.incident(i.id).await.unwrap(), dirt);

    let step = |to, minutes, note: &'static str| {
        let store = Arc::clone(&store);
        let who = sweeper.clone();
        async move {
            store
                .update_incident(
                    i.id,
                    &actor(&who),
                    &IncidentChange::Status(to),
                    note,
                    t0 + Duration::minutes(minutes),
                )
                .await
                .unwrap()
        }
    };
    let (v, e) = step(IncidentStatus::Acknowledged, 5, "seen").await;
    assert_eq!(v.incident.acknowledged_at, Some(t0 + Duration::minutes(5)));
    assert_eq!(e.unwrap().note, "seen");
    step(IncidentStatus::InProgress, 10, "").await;
    let (v, _) = step(IncidentStatus::Resolved, 30, "swept").await;
    assert_eq!(v.incident.status, IncidentStatus::Resolved);
    assert_eq!(v.incident.closed_at, Some(t0 + Duration::minutes(30)));
    assert_eq!(
        v.timeline
            .iter()
            .map(|t| (t.entry.kind, t.entry.status, t.actor_name.as_str()))
            .collect::<Vec<_>>(),
        vec![
            (TimelineKind::Reported, IncidentStatus::Open, "user 1"),
            (TimelineKind::Status, IncidentStatus::Acknowledged, "user 4"),
            (TimelineKind::Status, IncidentStatus::InProgress, "user 4"),
            (TimelineKind::Status, IncidentStatus::Resolved, "user 4"),
        ],
        "{b:?}"
    );
    assert_eq!(store.incident(i.id).await.unwrap(), v, "{b:?}");

    // a commander re-routes the bikes to sanitation: open again there
    let (v, e) = store
        .update_incident(
            bikes.incident.id,
            &actor(&commander),
            &IncidentChange::Reroute("sanitation".into()),
            "they clear the square",
            t0 + Duration::minutes(40),
        )
        .await
        .unwrap();
    assert_eq!(e.unwrap().kind, TimelineKind::Rerouted);
    assert_eq!(
        (v.incident.department.as_str(), v.incident.status),
        ("sanitation", IncidentStatus::Open)
    );
    let e = store
        .update_incident(
            bikes.incident.id,
            &actor(&commander),
            &IncidentChange::Reroute("nowhere".into()),
            "",
            t0,
        )
        .await
        .unwrap_err();
    assert_eq!(code(e), "unknown_department", "{b:?}");
    let (_, none) = store
        .update_incident(
            bikes.incident.id,
            &actor(&commander),
            &IncidentChange::Reroute("sanitation".into()),
            "",
            t0,
        )
        .await
        .unwrap();
    assert!(none.is_none(), "re-routing to where it is changes nothing");
    assert_eq!(
        store
            .incident(bikes.incident.id)
            .await
            .unwrap()
            .timeline
            .len(),
        2
    );

    // listing filters
    let list = |f: IncidentFilter| {
        let store = Arc::clone(&store);
        async move {
            store
                .incidents(&IncidentFilter {
                    limit: if f.limit == 0 { 100 } else { f.limit },
                    ..f
                })
                .await
                .unwrap()
                .into_iter()
                .map(|v| v.incident.id)
                .collect::<Vec<_>>()
        }
    };
    let (a, c) = (dirt.incident.id, bikes.incident.id);
    assert_eq!(
        list(IncidentFilter::default()).await,
        vec![c, a],
        "{b:?}: newest first"
    );
    assert_eq!(
        list(IncidentFilter {
            department: Some("sanitation".into()),
            ..Default::default()
        })
        .await,
        vec![c, a]
    );
    assert_eq!(
        list(IncidentFilter {
            department: Some("urban_management".into()),
            ..Default::default()
        })
        .await,
        Vec::<IncidentId>::new()
    );
    assert_eq!(
        list(IncidentFilter {
            reporter: Some(envoy.id),
            ..Default::default()
        })
        .await,
        vec![a]
    );
    assert_eq!(
        list(IncidentFilter {
            statuses: vec![IncidentStatus::Open],
            ..Default::default()
        })
        .await,
        vec![c]
    );
    assert_eq!(
        list(IncidentFilter {
            statuses: vec![IncidentStatus::Resolved, IncidentStatus::Rejected],
            ..Default::default()
        })
        .await,
        vec![a]
    );
    assert_eq!(
        list(IncidentFilter {
            categories: vec![Category::BikeParking, Category::LostChild],
            ..Default::default()
        })
        .await,
        vec![c]
    );
    assert_eq!(
        list(IncidentFilter {
            ids: vec![a, IncidentId::new()],
            ..Default::default()
        })
        .await,
        vec![a]
    );
    assert_eq!(
        list(IncidentFilter {
            from: Some(t0 + Duration::seconds(30)),
            ..Default::default()
        })
        .await,
        vec![c]
    );
    assert_eq!(
        list(IncidentFilter {
            to: Some(t0 + Duration::seconds(30)),
            ..Default::default()
        })
        .await,
        vec![a]
    );
    let around = pp_geo::BBox::around(tower(), 100.0);
    assert_eq!(
        list(IncidentFilter {
            bbox: Some(around),
            ..Default::default()
        })
        .await,
        vec![c, a]
    );
    let away = pp_geo::BBox::around(LatLng::new(23.2, 113.4).unwrap(), 100.0);
    assert_eq!(
        list(IncidentFilter {
            bbox: Some(away),
            ..Default::default()
        })
        .await,
        Vec::<IncidentId>::new()
    );
    assert_eq!(
        list(IncidentFilter {
            limit: 1,
            ..Default::default()
        })
        .await
        .len(),
        1
    );
    assert!(list(IncidentFilter::default()).await.len() == 2);
    assert!(
        store
            .incidents(&IncidentFilter {
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap()[0]
            .timeline
            .is_empty(),
        "lists carry no timelines"
    );
    assert_eq!(
        code(store.incident(IncidentId::new()).await.unwrap_err()),
        "not_found:incident"
    );
    // a team is named only by those who were in it
    let t = task(&store, commander.id, 2, 5).await;
    let team = store.claim_team(t.id, other_envoy.id, t0).await.unwrap();
    let with_team = NewIncident {
        team_id: Some(team.id),
        ..report(Category::Other, "seen on patrol")
    };
    assert_eq!(
        code(
            store
                .report_incident(envoy.id, &with_team, t0)
                .await
                .unwrap_err()
        ),
        "not_member",
        "{b:?}"
    );
    let on_patrol = store
        .report_incident(other_envoy.id, &with_team, t0)
        .await
        .unwrap();
    assert_eq!(on_patrol.incident.team_id, Some(team.id));
}
on_each_backend!(incidents_are_routed_worked_and_listed);

async fn futures_staff(store: &Arc<dyn Store>, n: u32) -> Vec<User> {
    let mut out = Vec::new();
    for i in 0..n {
        out.push(staff(store, 100 + i, "sanitation").await);
    }
    out
}

async fn concurrent_moves_of_one_report_take_one_step_each(b: Backend) {
    let (_db, store) = TestDb::store(b).await;
    let envoy = user(&store, 1, Role::Envoy).await;
    let workers: Vec<User> = futures_staff(&store, 10).await;
    let v = store
        .report_incident(envoy.id, &report(Category::Sanitation, "litter"), now())
        .await
        .unwrap();
    let id = v.incident.id;
    // ten staff acknowledge at once: one moves it, nine are refused
    let tasks: Vec<_> = workers
        .iter()
        .map(|w| {
            let store = Arc::clone(&store);
            let w = w.clone();
            tokio::spawn(async move {
                store
                    .update_incident(
                        id,
                        &actor(&w),
                        &IncidentChange::Status(IncidentStatus::Acknowledged),
                        "",
                        now(),
                    )
                    .await
                    .map(|_| ())
                    .map_err(code)
            })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(()) => ok += 1,
            Err(c) => assert_eq!(c, "invalid_transition", "{b:?}"),
        }
    }
    assert_eq!(ok, 1, "{b:?}");
    assert_eq!(store.incident(id).await.unwrap().timeline.len(), 2, "{b:?}");
}
on_each_backend!(concurrent_moves_of_one_report_take_one_step_each);
