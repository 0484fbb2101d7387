//! The accounts `bench load` makes straight in the store: an envoy per volunteer (one shared
//! password hash), a commander for `bench heatmap`, and sessions for the benches that drive a
//! running server.

use crate::workload::{phone_of, Ping};
use pp_domain::account::{generate_session_token, session_token_hash, NewUser, Phone};
use pp_domain::time::Timestamp;
use pp_domain::{Role, UserId};
use pp_store::Store;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Accounts per `create_users_bulk` call (one transaction each).
const USERS_PER_CALL: usize = 10_000;
/// Sessions created at once.
const SESSION_TASKS: usize = 16;
/// The phone of the commander `bench load` makes: `170` and 0 on 8 digits, next to the
/// envoys' [`phone_of`] (whose ids start at 1).
pub const COMMANDER_PHONE: &str = "17000000000";

/// The bench's commander (made with the envoys' `hash` unless its phone is registered already).
pub async fn commander(store: &dyn Store, hash: &str, now: Timestamp) -> anyhow::Result<UserId> {
    let phone = Phone::parse(COMMANDER_PHONE)?;
    if let Some((_, id)) = store
        .user_ids_by_phone(std::slice::from_ref(&phone))
        .await?
        .into_iter()
        .next()
    {
        return Ok(id);
    }
    let user = store
        .create_user(
            &NewUser {
                phone,
                name: "bench commander".to_owned(),
                role: Role::Commander,
                password_hash: hash.to_owned(),
                department: None,
            },
            now,
        )
        .await?;
    Ok(user.id)
}

/// Creates the volunteers' accounts (skipping phones already registered) and returns how many
/// were created and every volunteer's account id.
pub async fn create_envoys(
    store: &dyn Store,
    volunteers: &[Ping],
    hash: &str,
    now: Timestamp,
) -> anyhow::Result<(usize, HashMap<u32, UserId>)> {
    let users: Vec<NewUser> = volunteers
        .iter()
        .map(|v| {
            Ok(NewUser {
                phone: Phone::parse(&phone_of(v.id))?,
                name: format!("envoy {}", v.id),
                role: Role::Envoy,
                password_hash: hash.to_owned(),
                department: None,
            })
        })
        .collect::<anyhow::Result<_>>()?;
    let mut created = 0;
    let mut ids = HashMap::with_capacity(users.len());
    for (chunk, vols) in users
        .chunks(USERS_PER_CALL)
        .zip(volunteers.chunks(USERS_PER_CALL))
    {
        created += store.create_users_bulk(chunk, now).await?;
        let phones: Vec<Phone> = chunk.iter().map(|u| u.phone.clone()).collect();
        let by_phone: HashMap<String, UserId> = store
            .user_ids_by_phone(&phones)
            .await?
            .into_iter()
            .map(|(p, id)| (p.as_str().to_owned(), id))
            .collect();
        for (u, v) in chunk.iter().zip(vols) {
            if let Some(id) = by_phone.get(u.phone.as_str()) {
                ids.insert(v.id, *id);
            }
        }
    }
    Ok((usize::try_from(created)?, ids))
}

/// A session for each envoy, `SESSION_TASKS` at a time; returns `(volunteer id, token)`.
pub async fn create_sessions(
    store: &Arc<dyn Store>,
    users: Vec<(u32, UserId)>,
    now: Timestamp,
    ttl_days: i64,
) -> anyhow::Result<Vec<(u32, String)>> {
    let expires = now + chrono::Duration::days(ttl_days);
    let users = Arc::new(users);
    let next = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..SESSION_TASKS)
        .map(|_| {
            let (store, users, next) = (Arc::clone(store), Arc::clone(&users), Arc::clone(&next));
            tokio::spawn(async move {
                let mut out = Vec::new();
                while let Some(&(id, user)) = users.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let token = generate_session_token();
                    store
                        .create_session(&session_token_hash(&token), user, now, expires)
                        .await?;
                    out.push((id, token));
                }
                anyhow::Ok(out)
            })
        })
        .collect();
    let mut sessions = Vec::with_capacity(users.len());
    for task in tasks {
        sessions.extend(task.await??);
    }
    sessions.sort_unstable_by_key(|(id, _)| *id);
    Ok(sessions)
}
