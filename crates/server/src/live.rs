//! The live index: each envoy's latest unflagged position, in memory, and the envoys available
//! for dispatch in a spatial index for nearest-first search.
//!
//! Rebuilt from the store at start ([`LiveIndex::load`]); moved forward only by the ingest
//! pipeline ([`crate::ingest`]), after each group commit, so it never holds a point the
//! database does not. The dispatch service marks who is taken ([`LiveIndex::set_engaged`]),
//! the availability route who opted out ([`LiveIndex::set_available`]), and the jobs take out
//! the envoys not seen lately ([`LiveIndex::sweep`]).

use pp_domain::heat::LIVE_MINUTES;
use pp_domain::position::Position;
use pp_domain::time::{from_millis, to_millis, Timestamp};
use pp_domain::UserId;
use pp_geo::near::PointIndex;
use pp_geo::LatLng;
use pp_store::{Store, StoreError};
use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::sync::RwLock;

/// An envoy's latest known point, compactly (the index holds every envoy of a district).
#[derive(Debug, Clone, Copy, PartialEq)]
struct LivePoint {
    ts_ms: i64,
    lat: f64,
    lng: f64,
    accuracy_m: f32,
}

impl LivePoint {
    fn of(p: &Position) -> LivePoint {
        LivePoint {
            ts_ms: to_millis(p.ts),
            lat: p.at.lat,
            lng: p.at.lng,
            accuracy_m: p.accuracy_m as f32,
        }
    }

    fn position(self) -> Option<Position> {
        Some(Position {
            ts: from_millis(self.ts_ms),
            at: LatLng::new(self.lat, self.lng).ok()?,
            // kept as f32: back to the centimetres it was sent with, not 14.800000190734863
            accuracy_m: (f64::from(self.accuracy_m) * 100.0).round() / 100.0,
            flagged: false,
        })
    }
}

/// Each envoy's latest unflagged position and when it was taken, in memory. Rebuilt from the
/// store at start; moved forward by the writer after each commit. A flagged point (an
/// implausible jump) does not move an envoy.
///
/// The envoys available for dispatch (recently seen, not opted out) are also in a spatial
/// index ([`PointIndex`]) for nearest-first search; [`LiveIndex::sweep`] takes out those not
/// seen lately, so a search looks at few candidates that do not qualify.
#[derive(Debug, Default)]
pub struct LiveIndex {
    inner: RwLock<Live>,
}

#[derive(Debug, Default)]
struct Live {
    points: HashMap<UserId, LivePoint>,
    near: PointIndex<UserId>,
    opted_out: HashSet<UserId>,
    /// envoys taken by an open dispatch (alerted and not answered, or accepted)
    engaged: HashSet<UserId>,
}

/// An envoy found by [`LiveIndex::nearest`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Nearby {
    /// who
    pub user: UserId,
    /// great-circle metres from the search point
    pub distance_m: f64,
    /// the envoy's latest point
    pub position: Position,
}

impl LiveIndex {
    /// Builds the index from the store: the envoys' latest points taken at or after `since`,
    /// who opted out of dispatch and who an open dispatch holds; those not seen in the last
    /// [`LIVE_MINUTES`] before `now` stay out of the nearest search until their next point.
    pub async fn load(
        store: &dyn Store,
        since: Timestamp,
        now: Timestamp,
    ) -> Result<LiveIndex, StoreError> {
        let live = LiveIndex::default();
        for user in store.unavailable_users().await? {
            live.set_available(user, false);
        }
        live.set_engaged(store.engaged_envoys().await?, true);
        live.advance(
            store
                .latest_positions(since)
                .await?
                .into_iter()
                .map(|l| (l.user, l.position)),
        );
        live.sweep(now - chrono::Duration::minutes(LIVE_MINUTES));
        Ok(live)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Live> {
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Live> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The envoy's latest unflagged point.
    pub fn latest(&self, user: UserId) -> Option<Position> {
        self.read().points.get(&user).and_then(|p| p.position())
    }

    /// How many envoys the index holds.
    pub fn len(&self) -> usize {
        self.read().points.len()
    }

    /// Up to `k` envoys available for dispatch within `radius_m` of `at`, nearest first:
    /// seen at or after `since`, not opted out, not engaged by an open dispatch, and not
    /// `skip`ped.
    pub fn nearest(
        &self,
        at: LatLng,
        k: usize,
        radius_m: f64,
        since: Timestamp,
        skip: impl Fn(UserId) -> bool,
    ) -> Vec<Nearby> {
        let since = to_millis(since);
        let live = self.read();
        let keep = |u: UserId| {
            live.points.get(&u).is_some_and(|p| p.ts_ms >= since)
                && (live.engaged.is_empty() || !live.engaged.contains(&u))
                && !skip(u)
        };
        live.near
            .nearest(at, k, radius_m, keep)
            .into_iter()
            .filter_map(|(user, distance_m)| {
                Some(Nearby {
                    user,
                    distance_m,
                    position: live.points.get(&user)?.position()?,
                })
            })
            .collect()
    }

    /// Takes the envoys not seen since `since` out of the search (they come back with their
    /// next point).
    pub fn sweep(&self, since: Timestamp) {
        let since = to_millis(since);
        let mut live = self.write();
        let stale: Vec<UserId> = live
            .points
            .iter()
            .filter(|(_, p)| p.ts_ms < since)
            .map(|(u, _)| *u)
            .collect();
        for u in stale {
            live.near.remove(u);
        }
    }

    /// Opts an envoy in to or out of dispatch (as the store says; see
    /// [`pp_store::UserStore::set_available`]).
    pub fn set_available(&self, user: UserId, available: bool) {
        let mut live = self.write();
        if available {
            live.opted_out.remove(&user);
            if let Some(at) = live.points.get(&user).map(|p| (p.lat, p.lng)) {
                if let Ok(at) = LatLng::new(at.0, at.1) {
                    live.near.set(user, at);
                }
            }
        } else {
            live.opted_out.insert(user);
            live.near.remove(user);
        }
    }

    /// Marks envoys as taken by an open dispatch (`true`: they leave the nearest search) or
    /// free again (`false`), as the store says (see [`pp_store::DispatchStore`]).
    pub fn set_engaged(&self, users: impl IntoIterator<Item = UserId>, engaged: bool) {
        let mut live = self.write();
        for u in users {
            if engaged {
                live.engaged.insert(u);
            } else {
                live.engaged.remove(&u);
            }
        }
    }

    /// Whether the envoy may be alerted (has not opted out).
    pub fn is_available(&self, user: UserId) -> bool {
        !self.read().opted_out.contains(&user)
    }

    /// Whether the index is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Envoys seen at or after `since`, with their latest point.
    pub fn seen_since(&self, since: Timestamp) -> Vec<(UserId, Position)> {
        let since = to_millis(since);
        let live = self.read();
        live.points
            .iter()
            .filter(|(_, p)| p.ts_ms >= since)
            .filter_map(|(u, p)| Some((*u, p.position()?)))
            .collect()
    }

    /// Moves each envoy to its point when that is later than what the index holds (the ingest
    /// pipeline, after a commit: `latest` holds each envoy's latest point that
    /// [counts](Position::counts)).
    pub(crate) fn advance(&self, latest: impl IntoIterator<Item = (UserId, Position)>) {
        let mut live = self.write();
        let live = &mut *live;
        for (user, p) in latest {
            let new = LivePoint::of(&p);
            let moved = match live.points.entry(user) {
                Entry::Occupied(mut old) if new.ts_ms > old.get().ts_ms => {
                    old.insert(new);
                    true
                }
                Entry::Occupied(_) => false,
                Entry::Vacant(v) => {
                    v.insert(new);
                    true
                }
            };
            if moved && !live.opted_out.contains(&user) {
                live.near.set(user, p.at);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone, Utc};

    fn at(secs: i64, lat: f64, flagged: bool) -> Position {
        Position {
            ts: Utc.with_ymd_and_hms(2026, 10, 1, 10, 0, 0).unwrap() + Duration::seconds(secs),
            at: LatLng::new(lat, 113.3).unwrap(),
            accuracy_m: 5.0,
            flagged,
        }
    }

    #[test]
    fn the_index_only_moves_forward() {
        let live = LiveIndex::default();
        let u = UserId::new();
        let mut precise = at(10, 23.1, false);
        precise.accuracy_m = 14.8;
        live.advance([(u, precise)]);
        assert_eq!(live.latest(u).unwrap().accuracy_m, 14.8);
        live.advance([(u, at(5, 23.2, false))]);
        assert_eq!(live.latest(u).unwrap().at.lat, 23.1);
        live.advance([(u, at(20, 23.3, false))]);
        assert_eq!(live.latest(u).unwrap().at.lat, 23.3);
        assert_eq!(live.len(), 1);
        assert_eq!(live.seen_since(at(21, 0.0, false).ts).len(), 0);
        assert_eq!(live.seen_since(at(20, 0.0, false).ts).len(), 1);
    }
}
