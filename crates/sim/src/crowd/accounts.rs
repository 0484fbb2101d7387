//! The crowd's accounts and walkers. The accounts are made straight in the store (one shared
//! password hash, a session each), since 300 argon2 hashes and logins would hold the demo up
//! for seconds.

use super::walker::Walker;
use crate::seed::{landmarks, DEMO_PASSWORD};
use crate::walk::{district_point, near, Anchor};
use pp_domain::account::{
    generate_session_token, hash_password, session_token_hash, NewUser, Phone,
};
use pp_domain::Role;
use pp_geo::Area;
use pp_server::AppState;
use rand::rngs::StdRng;
use rand::Rng as _;
use tokio::time::Instant;

/// Envoys in the simulated crowd.
pub const CROWD: usize = 300;
/// The crowd's phones are `FIRST_PHONE`, `FIRST_PHONE + 1`, …
const FIRST_PHONE: u64 = 13_700_000_001;
/// How far a landmark walker strays from its landmark before it is pulled back, metres.
const LANDMARK_SPREAD_M: f64 = 500.0;
/// Share of the crowd that wanders the whole district instead of staying at a landmark.
const WANDERER_SHARE: f64 = 0.2;

/// The crowd's accounts (made if missing), a fresh session each, and their walkers: each
/// resumes from its latest known point, so a restart makes no jump.
pub async fn crowd_walkers(state: &AppState, rng: &mut StdRng) -> anyhow::Result<Vec<Walker>> {
    let store = state.store.as_ref();
    let now = state.clock.now();
    let phones = (0..CROWD as u64)
        .map(|i| Phone::parse(&(FIRST_PHONE + i).to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    let mut ids = store.user_ids_by_phone(&phones).await?;
    if ids.len() < CROWD {
        // one argon2 hash for all: hashing each would take seconds
        let hash = tokio::task::spawn_blocking(|| hash_password(DEMO_PASSWORD)).await?;
        let users: Vec<NewUser> = phones
            .iter()
            .enumerate()
            .map(|(i, phone)| NewUser {
                phone: phone.clone(),
                name: format!("巡逻志愿者 {:03}", i + 1),
                role: Role::Envoy,
                password_hash: hash.clone(),
                department: None,
            })
            .collect();
        store.create_users_bulk(&users, now).await?;
        ids = store.user_ids_by_phone(&phones).await?;
    }
    let centers = landmarks()
        .into_iter()
        .map(|(_, _, area, _)| Area::from_geojson(&area).map(|a| a.center()))
        .collect::<Result<Vec<_>, _>>()?;
    let start = Instant::now();
    let mut walkers = Vec::with_capacity(ids.len());
    for (_, id) in ids {
        let token = generate_session_token();
        store
            .create_session(
                &session_token_hash(&token),
                id,
                now,
                now + state.config.session_ttl,
            )
            .await?;
        // every random draw is made whether or not the walker resumes, so the crowd is the
        // same on every run
        let anchor = if rng.gen_bool(WANDERER_SHARE) {
            Anchor::Wander {
                target: district_point(rng),
            }
        } else {
            Anchor::Around {
                at: centers[rng.gen_range(0..centers.len())],
                spread_m: LANDMARK_SPREAD_M,
            }
        };
        let fresh = match &anchor {
            Anchor::Around { at, spread_m } | Anchor::Inside { at, spread_m, .. } => {
                near(rng, *at, *spread_m)
            }
            Anchor::Wander { .. } => district_point(rng),
        };
        walkers.push(Walker::resume(
            state, rng, id, token, anchor, fresh, start, now,
        ));
    }
    Ok(walkers)
}

#[cfg(test)]
mod tests {
    use super::super::walker::testing::{walk, walker_with};
    use super::*;
    use crate::walk::{DISTRICT_LAT, DISTRICT_LNG};
    use pp_geo::{haversine_m, LatLng};
    use rand::SeedableRng as _;

    #[test]
    fn walkers_stay_near_their_landmark_or_in_the_district() {
        let at = LatLng {
            lat: 23.1066,
            lng: 113.3245,
        };
        let mut w = walker_with(
            Anchor::Around {
                at,
                spread_m: LANDMARK_SPREAD_M,
            },
            at,
        );
        walk(&mut w, |p| haversine_m(at, p) < 3.0 * LANDMARK_SPREAD_M);
        let mut rng = StdRng::seed_from_u64(1);
        let mut w = walker_with(
            Anchor::Wander {
                target: district_point(&mut rng),
            },
            at,
        );
        let margin = 0.01; // about a kilometre
        walk(&mut w, |p| {
            (DISTRICT_LAT.0 - margin..DISTRICT_LAT.1 + margin).contains(&p.lat)
                && (DISTRICT_LNG.0 - margin..DISTRICT_LNG.1 + margin).contains(&p.lng)
        });
    }
}
