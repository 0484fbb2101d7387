//! Accounts, sessions, bulk accounts and the opt-out of emergency dispatch (`UserStore`).

use crate::fixtures::{code, new_user, now, user};
use chrono::Duration;
use pp_domain::account::{NewUser, Phone};
use pp_domain::{Role, UserId};
use pp_store::testing::{Backend, TestDb};
use pp_store::StoreError;

async fn accounts_and_sessions(b: Backend) {
    let (_db, store) = TestDb::store(b).await;
    let u = user(&store, 1, Role::Envoy).await;
    assert_eq!(u.phone.as_str(), "+8613900000001");
    assert_eq!(store.user(u.id).await.unwrap(), u);
    assert_eq!(
        code(
            store
                .create_user(&new_user(1, Role::Admin), now())
                .await
                .unwrap_err()
        ),
        "phone_taken"
    );
    let (found, hash) = store.user_credentials(&u.phone).await.unwrap().unwrap();
    assert_eq!(found.id, u.id);
    assert!(pp_domain::account::verify_password("password1", &hash));
    assert!(store
        .user_credentials(&Phone::parse("13700000000").unwrap())
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        code(store.user(UserId::new()).await.unwrap_err()),
        "not_found:user"
    );

    let token = pp_domain::account::session_token_hash("tok");
    store
        .create_session(&token, u.id, now(), now() + Duration::days(30))
        .await
        .unwrap();
    assert_eq!(
        store.session_user(&token, now()).await.unwrap().unwrap().id,
        u.id
    );
    assert!(
        store
            .session_user(&token, now() + Duration::days(31))
            .await
            .unwrap()
            .is_none(),
        "expired"
    );
    assert!(store.session_user(b"other", now()).await.unwrap().is_none());
    store.delete_session(&token).await.unwrap();
    assert!(
        store.session_user(&token, now()).await.unwrap().is_none(),
        "revoked"
    );

    // staff belong to a known department, named by code or name
    let mut staff = new_user(2, Role::Staff);
    staff.department = Some("Sanitation".into());
    assert_eq!(
        store
            .create_user(&staff, now())
            .await
            .unwrap()
            .department
            .as_deref(),
        Some("sanitation")
    );
    let mut bad = new_user(3, Role::Staff);
    bad.department = Some("fire brigade".into());
    assert_eq!(
        code(store.create_user(&bad, now()).await.unwrap_err()),
        "unknown_department"
    );
    assert!(
        store.user_credentials(&bad.phone).await.unwrap().is_none(),
        "nothing written"
    );

    let codes: Vec<String> = store
        .departments()
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.code)
        .collect();
    assert_eq!(codes, ["public_security", "sanitation", "urban_management"]);
    let s1 = store.secret("k", b"first").await.unwrap();
    assert_eq!(s1, b"first");
    assert_eq!(
        store.secret("k", b"second").await.unwrap(),
        b"first",
        "a secret is kept once made"
    );
    store.ping().await.unwrap();
}
on_each_backend!(accounts_and_sessions);

async fn bulk_accounts_and_session_purge(b: Backend) {
    let (_db, store) = TestDb::store(b).await;
    let hash = new_user(0, Role::Envoy).password_hash;
    let envoy = |i: u32| NewUser {
        phone: Phone::parse(&format!("137{i:08}")).unwrap(),
        name: format!("envoy {i}"),
        role: Role::Envoy,
        password_hash: hash.clone(),
        department: None,
    };
    let all: Vec<NewUser> = (0..6000).map(envoy).collect();
    assert_eq!(store.create_users_bulk(&[], now()).await.unwrap(), 0);
    assert_eq!(
        store.create_users_bulk(&all[..2500], now()).await.unwrap(),
        2500
    );
    // overlapping phones are skipped; 5,000 rows take more than one statement
    assert_eq!(
        store.create_users_bulk(&all[1000..], now()).await.unwrap(),
        3500,
        "{b:?}"
    );
    let mut staff = envoy(9999);
    staff.role = Role::Staff;
    staff.department = Some("sanitation".into());
    assert_eq!(
        code(
            store
                .create_users_bulk(&[envoy(7000), staff], now())
                .await
                .unwrap_err()
        ),
        "department_not_allowed"
    );
    assert!(store
        .user_credentials(&envoy(7000).phone)
        .await
        .unwrap()
        .is_none());

    let mut phones: Vec<Phone> = all.iter().map(|u| u.phone.clone()).collect();
    phones.push(Phone::parse("13600000000").unwrap());
    phones.swap(0, 5999);
    let found = store.user_ids_by_phone(&phones).await.unwrap();
    assert_eq!(found.len(), 6000, "{b:?}");
    assert_eq!(found[0].0, all[5999].phone, "in the order asked");
    let (u, hash_back) = store
        .user_credentials(&all[4321].phone)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(u.name, "envoy 4321");
    assert_eq!(u.role, Role::Envoy);
    assert_eq!(u.created_at, now());
    assert_eq!(hash_back, hash);
    assert!(found.contains(&(all[4321].phone.clone(), u.id)));
    assert!(store.user_ids_by_phone(&[]).await.unwrap().is_empty());

    // sessions: only the expired go
    let token = pp_domain::account::session_token_hash;
    let day = Duration::days(1);
    store
        .create_session(&token("live"), u.id, now() - day, now() + day)
        .await
        .unwrap();
    store
        .create_session(&token("edge"), u.id, now() - day, now())
        .await
        .unwrap();
    store
        .create_session(&token("old"), u.id, now() - day * 2, now() - day)
        .await
        .unwrap();
    assert_eq!(store.purge_sessions(now()).await.unwrap(), 1, "{b:?}");
    assert_eq!(store.purge_sessions(now()).await.unwrap(), 0);
    assert!(store
        .session_user(&token("live"), now())
        .await
        .unwrap()
        .is_some());
    assert_eq!(
        store
            .purge_sessions(now() + Duration::milliseconds(1))
            .await
            .unwrap(),
        1,
        "the session expiring at `now` goes once `now` is past"
    );
}
on_each_backend!(bulk_accounts_and_session_purge);

async fn envoys_opt_out_of_dispatch_and_back_in(b: Backend) {
    let (_db, store) = TestDb::store(b).await;
    let (a, c) = (
        user(&store, 1, Role::Envoy).await.id,
        user(&store, 2, Role::Envoy).await.id,
    );
    assert!(store.unavailable_users().await.unwrap().is_empty(), "{b:?}");
    store.set_available(a, false).await.unwrap();
    store.set_available(c, true).await.unwrap();
    assert_eq!(store.unavailable_users().await.unwrap(), [a], "{b:?}");
    store.set_available(a, true).await.unwrap();
    assert!(store.unavailable_users().await.unwrap().is_empty());
    assert!(matches!(
        store.set_available(UserId::new(), false).await,
        Err(StoreError::NotFound("user"))
    ));
}
on_each_backend!(envoys_opt_out_of_dispatch_and_back_in);
