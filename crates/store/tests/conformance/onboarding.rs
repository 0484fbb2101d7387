//! Importing pending envoys and activating their accounts, once (`UserStore::import_envoys`,
//! `UserStore::activate`).

use crate::fixtures::{new_user, now, pending};
use chrono::Duration;
use pp_domain::time::Timestamp;
use pp_domain::Role;
use pp_store::testing::{Backend, TestDb};
use pp_store::{Activation, ImportOutcome};

async fn import_pending_envoys_and_activate_once(b: Backend) {
    let (_db, store) = TestDb::store(b).await;
    let expires = now() + Duration::days(14);
    // an active account with an imported phone
    let mut active = new_user(0, Role::Envoy);
    active.phone = pending(3, "").phone;
    store.create_user(&active, now()).await.unwrap();
    // 9,000 rows: more than one transaction
    let rows: Vec<_> = (0..9000).map(|i| pending(i, "first")).collect();
    let out = store.import_envoys(&rows, expires, now()).await.unwrap();
    assert_eq!(out.len(), 9000);
    assert_eq!(out[3], ImportOutcome::Taken, "{b:?}");
    assert_eq!(
        out.iter().filter(|o| **o == ImportOutcome::Created).count(),
        8999,
        "{b:?}"
    );
    assert!(store
        .import_envoys(&[], expires, now())
        .await
        .unwrap()
        .is_empty());
    // pending: no password
    let (u, hash) = store
        .user_credentials(&rows[7].phone)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(u.role, Role::Envoy);
    assert_eq!(u.name, "imported 7");
    assert!(hash.is_empty());

    // a re-import re-issues pending codes and leaves active accounts alone
    let again = [pending(7, "second"), pending(3, "x"), pending(9000, "new")];
    assert_eq!(
        store.import_envoys(&again, expires, now()).await.unwrap(),
        [
            ImportOutcome::Reissued,
            ImportOutcome::Taken,
            ImportOutcome::Created
        ]
    );
    let act = |i: u32, code: &'static str, at: Timestamp| {
        let store = store.clone();
        async move {
            store
                .activate(&pending(i, "").phone, code.as_bytes(), "HASH", 5, at)
                .await
                .unwrap()
        }
    };
    assert!(matches!(
        act(7, "first", now()).await,
        Activation::WrongCode
    ));
    assert!(matches!(
        act(3, "x", now()).await,
        Activation::AlreadyActive
    ));
    assert!(matches!(
        act(99_999, "x", now()).await,
        Activation::WrongCode
    ));
    assert!(matches!(
        act(8, "first", expires).await,
        Activation::Expired
    ));
    match act(7, "second", now()).await {
        Activation::Activated(u) => assert_eq!(u.name, "imported 7"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        store
            .user_credentials(&rows[7].phone)
            .await
            .unwrap()
            .unwrap()
            .1,
        "HASH"
    );
    assert!(matches!(
        act(7, "second", now()).await,
        Activation::AlreadyActive
    ));
    // five wrong codes void the code
    for _ in 0..5 {
        assert!(matches!(
            act(10, "wrong", now()).await,
            Activation::WrongCode
        ));
    }
    assert!(matches!(act(10, "first", now()).await, Activation::Locked));
    // a re-import gives a fresh start
    store
        .import_envoys(&[pending(10, "third")], expires, now())
        .await
        .unwrap();
    assert!(matches!(
        act(10, "third", now()).await,
        Activation::Activated(_)
    ));
}
on_each_backend!(import_pending_envoys_and_activate_once);

async fn concurrent_activations_succeed_once(b: Backend) {
    let (_db, store) = TestDb::store(b).await;
    store
        .import_envoys(&[pending(1, "right")], now() + Duration::days(1), now())
        .await
        .unwrap();
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .activate(
                        &pending(1, "").phone,
                        b"right",
                        &format!("HASH{i}"),
                        5,
                        now(),
                    )
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut activated = 0;
    for h in handles {
        match h.await.unwrap() {
            Activation::Activated(_) => activated += 1,
            Activation::AlreadyActive => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(activated, 1, "{b:?}");
}
on_each_backend!(
    concurrent_activations_succeed_once,
    flavor = "multi_thread",
    worker_threads = 4
);
