//! The phones' positions: each posting phone takes a point every interval and sends what it
//! holds unless a batch is on its way; a member stops when it has patrolled as planned.

use super::super::district::Patrol;
use super::phone::Duty;
use super::state::{Ev, Holiday};
use crate::api::answers::Posted;
use crate::api::{ApiError, PointOut};
use pp_domain::patrol::seconds_inside;
use pp_domain::position::Position;
use pp_domain::time::{from_millis, to_millis, Clock as _, SystemClock};
use pp_geo::LatLng;
use rand::rngs::StdRng;
use rand::Rng as _;
use std::sync::Arc;
use std::time::Instant;

/// Qualifying members post until they have this share of the requirement inside the area…
const FULL_SHARE: f64 = 1.2;
/// …plus this much more.
const FULL_EXTRA_MS: i64 = 5_000;
/// Members whose phone stops early stop at this share.
const EARLY_SHARE: f64 = 0.5;

impl Holiday {
    /// Each posting phone takes a point when its interval is up, and sends what it holds
    /// unless a batch is on its way.
    pub fn take_points(&mut self, now: Instant, rng: &mut StdRng) {
        let interval = self.interval;
        for i in 0..self.phones.len() {
            let p = &mut self.phones[i];
            if !p.posting || now < p.next_point {
                continue;
            }
            // walk the time that really passed, so a late tick never makes a jump
            let secs = p
                .last_point
                .map_or(interval, |t| now.duration_since(t))
                .as_secs_f64();
            p.walk.step(rng, secs);
            p.last_point = Some(now);
            p.next_point = now + interval;
            let mut ts = from_millis(to_millis(SystemClock.now()));
            if let Some(last) = p.last_ts {
                if ts <= last {
                    ts = last + chrono::Duration::milliseconds(1);
                }
            }
            p.last_ts = Some(ts);
            p.queue.push(PointOut {
                ts,
                lat: p.walk.at.lat,
                lng: p.walk.at.lng,
                accuracy_m: f64::from(rng.gen_range(30_u16..150)) / 10.0,
            });
            if !p.in_flight {
                self.send_points(i);
            }
        }
    }

    /// Sends the points phone `i` holds as one batch.
    fn send_points(&mut self, i: usize) {
        let p = &mut self.phones[i];
        if p.queue.is_empty() {
            return;
        }
        let points = std::mem::take(&mut p.queue);
        p.in_flight = true;
        self.posts_in_flight += 1;
        let (api, token) = (Arc::clone(&self.api), p.account.token.clone());
        self.spawn(async move {
            let answer = api.post_positions(&token, &points).await;
            Ev::Posted {
                phone: i,
                points,
                answer,
            }
        });
    }

    /// The answer to phone `i`'s batch: every point must be accepted, none flagged; a member
    /// keeps them to know how long it patrolled inside the area, and stops when that is
    /// enough for its plan.
    pub fn posted(&mut self, i: usize, points: Vec<PointOut>, answer: Result<Posted, ApiError>) {
        self.posts_in_flight -= 1;
        let p = &mut self.phones[i];
        p.in_flight = false;
        let answer = match answer {
            Ok(a) => a,
            Err(e) => return self.fail(format!("positions: {e:#}")),
        };
        if answer.accepted != points.len() as u64
            || answer.flagged > 0
            || answer.duplicates > 0
            || !answer.rejected.is_empty()
        {
            let msg = format!(
                "positions of envoy {}: {} sent, accepted {}, flagged {}, duplicates {}, rejected {:?}",
                p.account.id,
                points.len(),
                answer.accepted,
                answer.flagged,
                answer.duplicates,
                answer.rejected.first()
            );
            return self.fail(msg);
        }
        p.seen = true;
        if let Some(last) = points.last() {
            p.last_acked = Some(LatLng {
                lat: last.lat,
                lng: last.lng,
            });
        }
        if let Duty::Member { t, patrol, .. } = p.duty {
            p.acked.extend(points.iter().map(|x| Position {
                ts: x.ts,
                at: LatLng {
                    lat: x.lat,
                    lng: x.lng,
                },
                accuracy_m: x.accuracy_m,
                flagged: false,
            }));
            let team = &self.teams[t];
            if let Some(started_at) = team.started_at {
                let area = &self.tasks[team.task].area;
                let far = started_at + chrono::Duration::days(1);
                let inside_ms =
                    (seconds_inside(&p.acked, area, started_at, far) * 1000.0).round() as i64;
                let patrolled_ms = (SystemClock.now() - started_at).num_milliseconds();
                let full = self.required_ms as f64 * FULL_SHARE + FULL_EXTRA_MS as f64;
                let enough = match patrol {
                    Patrol::Full => inside_ms as f64 >= full,
                    Patrol::StopsEarly => inside_ms as f64 >= self.required_ms as f64 * EARLY_SHARE,
                    Patrol::Outside => patrolled_ms as f64 >= full,
                };
                if enough {
                    p.posting = false;
                    p.done = true;
                    p.queue.clear();
                }
            }
        }
        if p.posting && !p.queue.is_empty() {
            self.send_points(i);
        }
    }
}
