//! One envoy of the demo's crowd: its phone's session, its [`Walk`], when it posts next, and
//! its part in a dispatch; the points it walked since its last post.

use crate::api::PointOut;
use crate::responders::Choice;
use crate::walk::{in_district, Anchor, Walk};
use chrono::Duration;
use pp_domain::time::{from_millis, to_millis, Timestamp};
use pp_domain::{DispatchId, UserId};
use pp_geo::LatLng;
use pp_server::AppState;
use rand::rngs::StdRng;
use rand::Rng as _;
use std::f64::consts::TAU;
use tokio::time::Instant;

/// How often each walker posts.
pub const POST_EVERY: std::time::Duration = std::time::Duration::from_secs(10);
/// Seconds of walking between two points (so each batch carries about two).
pub const STEP_SECS: i64 = 5;
/// Longest gap a walker makes up with points after a stall; beyond it, it stood still.
const MAX_CATCH_UP_SECS: i64 = 120;

/// One simulated envoy.
pub struct Walker {
    /// bearer token of the envoy's session
    pub token: String,
    /// where and how it walks
    pub walk: Walk,
    /// time of the latest point made
    pub last_ts: Timestamp,
    /// when it posts next
    pub next_post: Instant,
    /// its part in an emergency dispatch, if alerted
    pub answering: Option<Answering>,
}

/// A walker's part in an emergency dispatch ([`crate::responders`]).
pub struct Answering {
    /// the dispatch
    pub dispatch: DispatchId,
    /// the scene
    pub at: LatLng,
    /// how far it got
    pub phase: Phase,
}

/// Where a walker is in answering a dispatch.
pub enum Phase {
    /// Answers (or not) at this moment.
    Deciding {
        /// what it will do
        choice: Choice,
        /// when
        at: Instant,
    },
    /// Accepted; hurrying to the scene.
    Going,
    /// Marked arrival at this moment; waits there for the dispatch to close.
    OnScene {
        /// since when
        since: Instant,
    },
}

impl Walker {
    /// A walker of envoy `id` starting where the server last saw it (if in the district, or
    /// inside its patrol area) or else at `fresh`, first posting at a random moment of the
    /// next [`POST_EVERY`] after `start` (`now` on the server's clock).
    #[allow(
        clippy::too_many_arguments,
        reason = "every random draw is made here, in one order, whether or not the walker resumes"
    )]
    pub fn resume(
        state: &AppState,
        rng: &mut StdRng,
        id: UserId,
        token: String,
        anchor: Anchor,
        fresh: LatLng,
        start: Instant,
        now: Timestamp,
    ) -> Walker {
        let heading = rng.gen_range(0.0..TAU);
        let speed_mps = rng.gen_range(1.1..1.5);
        let offset_ms = rng.gen_range(0..u64::try_from(POST_EVERY.as_millis()).unwrap_or(10_000));
        let resume = last_seen(state, id).filter(|p| match &anchor {
            Anchor::Inside { area, .. } => area.contains(*p),
            _ => in_district(*p),
        });
        let first_post = now + Duration::milliseconds(i64::try_from(offset_ms).unwrap_or(0));
        Walker {
            token,
            walk: Walk::new(resume.unwrap_or(fresh), anchor, speed_mps, heading),
            // the first batch carries the points of the period before it; whole milliseconds,
            // as the store keeps them
            last_ts: from_millis(to_millis(
                first_post - Duration::from_std(POST_EVERY).unwrap_or_default(),
            )),
            next_post: start + std::time::Duration::from_millis(offset_ms),
            answering: None,
        }
    }

    /// Back to its walk after a dispatch.
    pub fn go_home(&mut self) {
        self.walk.go_home();
        self.answering = None;
    }

    /// The points walked since the last post, one per [`STEP_SECS`], up to `now`.
    pub fn advance(&mut self, rng: &mut StdRng, now: Timestamp) -> Vec<PointOut> {
        let step = Duration::seconds(STEP_SECS);
        if now - self.last_ts > Duration::seconds(MAX_CATCH_UP_SECS) {
            self.last_ts = now - step;
        }
        let mut points = Vec::new();
        while self.last_ts + step <= now {
            self.last_ts += step;
            self.walk.step(rng, STEP_SECS as f64);
            points.push(PointOut {
                ts: self.last_ts,
                lat: self.walk.at.lat,
                lng: self.walk.at.lng,
                accuracy_m: f64::from(rng.gen_range(30_u8..150)) / 10.0,
            });
        }
        points
    }
}

/// Where the server last saw envoy `id`: the one place the crowd reads the server's state
/// beyond its store (its live index).
fn last_seen(state: &AppState, id: UserId) -> Option<LatLng> {
    state.live.latest(id).map(|p| p.at)
}

/// Walkers and walks for the crowd's tests.
#[cfg(test)]
pub mod testing {
    use super::*;
    use pp_geo::haversine_m;
    use rand::SeedableRng as _;

    /// A walker at `at` heading for `anchor`, its last point at a fixed time.
    pub fn walker_with(anchor: Anchor, at: LatLng) -> Walker {
        Walker {
            token: String::new(),
            walk: Walk::new(at, anchor, 1.3, 1.0),
            last_ts: from_millis(1_790_000_000_000),
            next_post: Instant::now(),
            answering: None,
        }
    }

    /// Two hours of points from `w`: each checked by `ok`, and no step faster than a walk.
    pub fn walk(w: &mut Walker, ok: impl Fn(LatLng) -> bool) {
        let mut rng = StdRng::seed_from_u64(7);
        let mut prev = w.walk.at;
        let mut now = w.last_ts;
        for _ in 0..720 {
            now += Duration::seconds(10);
            let points = w.advance(&mut rng, now);
            assert_eq!(points.len(), 2, "a point every {STEP_SECS} s");
            for p in points {
                let at = LatLng {
                    lat: p.lat,
                    lng: p.lng,
                };
                assert!(
                    haversine_m(prev, at) < 1.5 * STEP_SECS as f64,
                    "walking pace"
                );
                assert!(ok(at), "{at:?} strayed");
                prev = at;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::walker_with;
    use super::*;
    use rand::SeedableRng as _;

    #[test]
    fn a_stalled_walker_does_not_make_up_hours_of_points() {
        let at = LatLng {
            lat: 23.1066,
            lng: 113.3245,
        };
        let mut w = walker_with(
            Anchor::Around {
                at,
                spread_m: 500.0,
            },
            at,
        );
        let mut rng = StdRng::seed_from_u64(1);
        let now = w.last_ts + Duration::hours(3);
        let points = w.advance(&mut rng, now);
        assert_eq!(points.len(), 1);
        assert_eq!(points[0].ts, now);
    }
}
