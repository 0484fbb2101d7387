//! The one ingest pipeline every position passes through, from `POST /positions` and from
//! history imports alike.
//!
//! ```text
//! handler: validate (domain) ──► queue ──► writer task: group commit ──► store (one transaction)
//!                                               │                          │
//!                                               └── after the commit ──► live index, replies
//! ```
//!
//! A request's validated points go on a queue; a writer task takes everything queued at that
//! moment (up to [`MAX_GROUP_POINTS`]) and appends it in ONE store transaction, so many requests
//! share one commit. Only after the commit does it update the in-memory [`LiveIndex`] and answer
//! the waiting requests: an acknowledged batch is in the database. The heat map's aggregates
//! are written by the same commit (the store adds each new point to its hourly cell row), and
//! its in-memory [`HeatIndex`] moves forward at the same place as the live index.

use crate::events::{Audience, EventBus};
use crate::heat::HeatIndex;
use pp_domain::heat::LIVE_MINUTES;
use pp_domain::position::Position;
use pp_domain::time::Clock;
use pp_domain::time::{from_millis, to_millis, Timestamp};
use pp_domain::UserId;
use pp_geo::near::PointIndex;
use pp_geo::LatLng;
use pp_store::{PositionBatch, Store, StoreError};
use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};
use tokio::sync::{mpsc, oneshot, Mutex};

/// Most points one group commit takes (a request's batch is never split).
pub const MAX_GROUP_POINTS: usize = 20_000;
/// Requests that may wait in the queue before senders wait for room.
const QUEUE: usize = 4096;

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

    /// Moves each envoy to its point when that is later than what the index holds.
    fn advance(&self, latest: impl IntoIterator<Item = (UserId, Position)>) {
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

/// A failed group commit, shared by every request of the group.
pub type IngestError = Arc<StoreError>;

/// One request's points waiting for the writer.
struct Job {
    batch: PositionBatch,
    reply: oneshot::Sender<Result<Vec<bool>, IngestError>>,
}

/// The pipeline: a queue, its writer tasks, the live index and the heat map's index.
#[derive(Debug)]
pub struct Ingest {
    queue: mpsc::Sender<Job>,
    live: Arc<LiveIndex>,
    heat: Arc<HeatIndex>,
}

/// What the writer tasks update after each commit.
#[derive(Debug, Clone)]
struct Consumers {
    live: Arc<LiveIndex>,
    heat: Arc<HeatIndex>,
    clock: Arc<dyn Clock>,
    /// where the envoys' new latest positions go, for the commanders watching them
    events: Option<Arc<dyn EventBus>>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job")
            .field("user", &self.batch.user)
            .field("points", &self.batch.points().len())
            .finish()
    }
}

impl Ingest {
    /// Rebuilds the live index from the envoys' latest stored points taken at or after `since`
    /// and the heat index from the store's aggregates, then starts `writers` writer tasks (each
    /// commits its own groups; SQLite runs one write transaction at a time anyway, so one is
    /// enough there). The tasks end when the pipeline is dropped.
    pub async fn start(
        store: Arc<dyn Store>,
        since: Timestamp,
        writers: usize,
        clock: Arc<dyn Clock>,
        events: Option<Arc<dyn EventBus>>,
    ) -> Result<Ingest, StoreError> {
        let live = Arc::new(LiveIndex::default());
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
        let now = clock.now();
        live.sweep(now - chrono::Duration::minutes(LIVE_MINUTES));
        let recent: Vec<UserId> = live
            .seen_since(now - chrono::Duration::minutes(LIVE_MINUTES))
            .into_iter()
            .map(|(u, _)| u)
            .collect();
        let started = std::time::Instant::now();
        let heat = Arc::new(HeatIndex::load(store.as_ref(), now).await?);
        let (cells, cell_hours, envoy_hours) = heat.size();
        tracing::info!(
            cells,
            cell_hours,
            envoy_hours,
            seconds = started.elapsed().as_secs_f64(),
            "heat map index loaded"
        );
        let (rebuild, from) = (Arc::clone(&heat), Arc::clone(&store));
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            match rebuild.rebuild_live(from.as_ref(), &recent).await {
                Ok(()) => tracing::info!(
                    envoys = recent.len(),
                    seconds = started.elapsed().as_secs_f64(),
                    "heat map live window rebuilt"
                ),
                Err(e) => tracing::error!(error = %e, "heat map live window not rebuilt"),
            }
        });
        let (queue, rx) = mpsc::channel(QUEUE);
        let rx = Arc::new(Mutex::new(rx));
        let consumers = Consumers {
            live: Arc::clone(&live),
            heat: Arc::clone(&heat),
            clock,
            events,
        };
        for _ in 0..writers.max(1) {
            tokio::spawn(write_loop(
                Arc::clone(&store),
                Arc::clone(&rx),
                consumers.clone(),
            ));
        }
        Ok(Ingest { queue, live, heat })
    }

    /// The live index.
    pub fn live(&self) -> &LiveIndex {
        &self.live
    }

    /// The heat map's index.
    pub fn heat(&self) -> &HeatIndex {
        &self.heat
    }

    /// Appends one envoy's validated points (ascending, distinct `ts`) and waits until they are
    /// committed. Returns, per point, whether it was new (false: the store had it already).
    pub async fn append(
        &self,
        user: UserId,
        points: Vec<Position>,
    ) -> Result<Vec<bool>, IngestError> {
        if points.is_empty() {
            return Ok(Vec::new());
        }
        let (reply, answer) = oneshot::channel();
        let job = Job {
            batch: PositionBatch::new(user, points),
            reply,
        };
        self.queue.send(job).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

fn stopped() -> IngestError {
    Arc::new(StoreError::Other(anyhow::anyhow!(
        "the ingest pipeline has stopped"
    )))
}

/// Takes the first waiting job and everything queued behind it (up to [`MAX_GROUP_POINTS`]).
async fn next_group(rx: &Mutex<mpsc::Receiver<Job>>) -> Option<Vec<Job>> {
    let mut rx = rx.lock().await;
    let first = rx.recv().await?;
    let mut points = first.batch.points().len();
    let mut group = vec![first];
    while points < MAX_GROUP_POINTS {
        match rx.try_recv() {
            Ok(job) => {
                points += job.batch.points().len();
                group.push(job);
            }
            Err(_) => break,
        }
    }
    Some(group)
}

/// Tells the commanders watching live positions where the envoys of a commit are now.
fn publish_positions(events: &dyn EventBus, latest: &[(UserId, Position)], now: Timestamp) {
    if latest.is_empty() {
        return;
    }
    let points: Vec<serde_json::Value> = latest
        .iter()
        .map(|(user, p)| {
            serde_json::json!({
                "user_id": user, "lat": p.at.lat, "lng": p.at.lng,
                "accuracy_m": p.accuracy_m, "ts": p.ts,
            })
        })
        .collect();
    events.publish(
        "positions",
        Audience::PositionWatchers,
        serde_json::json!({ "points": points }),
        now,
    );
}

async fn write_loop(store: Arc<dyn Store>, rx: Arc<Mutex<mpsc::Receiver<Job>>>, to: Consumers) {
    while let Some(group) = next_group(&rx).await {
        let (batches, replies): (Vec<PositionBatch>, Vec<_>) =
            group.into_iter().map(|j| (j.batch, j.reply)).unzip();
        match store.append_positions(&batches).await {
            Ok(new) => {
                let latest: Vec<(UserId, Position)> = batches
                    .iter()
                    .zip(&new)
                    .filter_map(|(b, new)| {
                        let latest = b
                            .points()
                            .iter()
                            .zip(new)
                            .filter(|(p, &new)| p.newly_counted(new))
                            .map(|(p, _)| *p)
                            .next_back()?;
                        Some((b.user, latest))
                    })
                    .collect();
                if let Some(events) = to.events.as_ref().filter(|e| e.positions_watched()) {
                    publish_positions(events.as_ref(), &latest, to.clock.now());
                }
                to.live.advance(latest);
                let now = to.clock.now();
                for (b, new) in batches.iter().zip(&new) {
                    to.heat.record(b.user, b.points(), b.cells(), new, now);
                }
                for (reply, new) in replies.into_iter().zip(new) {
                    // a request that gave up waiting has nobody to tell
                    let _ = reply.send(Ok(new));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, batches = batches.len(), "group commit failed");
                let e = Arc::new(e);
                for reply in replies {
                    let _ = reply.send(Err(Arc::clone(&e)));
                }
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
