//! Departments and the routing of incident categories to them (`AdminStore`).

use crate::fixtures::{code, now, report, user};
use chrono::Duration;
use pp_domain::incident::Category;
use pp_domain::Role;
use pp_store::testing::{Backend, TestDb};

async fn routing_rules_and_departments(b: Backend) {
    let (_db, store) = TestDb::store(b).await;
    let admin = user(&store, 1, Role::Admin).await;
    let rules = store.routing().await.unwrap();
    assert_eq!(
        rules.iter().map(|r| r.category).collect::<Vec<_>>(),
        Category::ALL.to_vec(),
        "{b:?}: one rule per category, in order"
    );
    for r in &rules {
        assert_eq!(r.department, r.category.default_department(), "{b:?}");
        assert_eq!(r.updated_by, None);
    }
    let parks = store
        .create_department("parks", "园林", "Parks", now())
        .await
        .unwrap();
    assert_eq!(parks.code, "parks");
    assert_eq!(
        code(
            store
                .create_department("parks", "园林", "Parks", now())
                .await
                .unwrap_err()
        ),
        "department_exists"
    );
    assert_eq!(store.departments().await.unwrap().len(), 4);
    // all or nothing: one unknown department refuses the whole change
    let e = store
        .set_routing(
            &[
                (Category::Other, "parks".into()),
                (Category::Sanitation, "nowhere".into()),
            ],
            admin.id,
            now(),
        )
        .await
        .unwrap_err();
    assert_eq!(code(e), "unknown_department", "{b:?}");
    assert_eq!(
        store.routing().await.unwrap(),
        rules,
        "{b:?}: nothing changed"
    );
    let later = now() + Duration::minutes(5);
    let after = store
        .set_routing(&[(Category::Other, "parks".into())], admin.id, later)
        .await
        .unwrap();
    let other = after
        .iter()
        .find(|r| r.category == Category::Other)
        .unwrap();
    assert_eq!(
        (
            other.department.as_str(),
            other.updated_by,
            other.updated_at
        ),
        ("parks", Some(admin.id), later)
    );
    assert_eq!(after.len(), 8);
    // reports follow the rule in force when filed
    let envoy = user(&store, 2, Role::Envoy).await;
    let v = store
        .report_incident(envoy.id, &report(Category::Other, "a fallen branch"), later)
        .await
        .unwrap();
    assert_eq!(v.incident.department, "parks", "{b:?}");
}
on_each_backend!(routing_rules_and_departments);
