//! The workload of the benches that start their own server, seeded through the store:
//! accounts and tasks spread over Haizhu district.

use chrono::Duration;
use pp_domain::account::{
    generate_session_token, hash_password, session_token_hash, NewUser, Phone,
};
use pp_domain::task::NewTask;
use pp_domain::time::Timestamp;
use pp_domain::{Role, UserId};
use pp_store::Store;
use rand::Rng as _;

/// Haizhu district's bounding box (from ../shared/bench): latitudes 23.045..23.125,
/// longitudes 113.235..113.420.
pub const LAT: (f64, f64) = (23.045, 23.125);
/// See [`LAT`].
pub const LNG: (f64, f64) = (113.235, 113.420);

/// Accounts made straight in the store with one shared hash and a session each: the bench
/// measures the endpoint, not 10,000 argon2 hashes.
pub async fn accounts(
    store: &dyn Store,
    role: Role,
    from: usize,
    n: usize,
    now: Timestamp,
) -> anyhow::Result<Vec<(UserId, String)>> {
    let hash = hash_password("bench-password");
    let mut out = Vec::with_capacity(n);
    for i in from..from + n {
        let user = store
            .create_user(
                &NewUser {
                    phone: Phone::parse(&format!("+86139{i:08}"))?,
                    name: format!("bench {i}"),
                    role,
                    password_hash: hash.clone(),
                    department: None,
                },
                now,
            )
            .await?;
        let token = generate_session_token();
        store
            .create_session(
                &session_token_hash(&token),
                user.id,
                now,
                now + Duration::days(1),
            )
            .await?;
        out.push((user.id, token));
    }
    Ok(out)
}

/// An open task at a random place of Haizhu, for `max_teams` teams of at most `team_max`.
pub fn task_input(
    rng: &mut rand::rngs::StdRng,
    now: Timestamp,
    max_teams: u32,
    team_max: u32,
) -> NewTask {
    let (lat, lng) = (rng.gen_range(LAT.0..LAT.1), rng.gen_range(LNG.0..LNG.1));
    NewTask {
        title: format!("patrol at {lat:.4},{lng:.4}"),
        place: "Haizhu".to_owned(),
        description: String::new(),
        area: serde_json::json!({"type": "Circle", "center": [lng, lat], "radius_m": rng.gen_range(100.0..800.0)}),
        starts_at: now - Duration::hours(1),
        ends_at: now + Duration::hours(6),
        patrol_minutes: 30,
        team_min: 2,
        team_max,
        max_teams,
        reward_points: 10,
        reward_fund_cents: 500,
    }
}
