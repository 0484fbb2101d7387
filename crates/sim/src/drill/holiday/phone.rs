//! A simulated envoy's phone in the drill: its account, its duty (a team member patrolling as
//! planned, or one of the background crowd), its walk, the points it took and what the server
//! accepted of them, and its part in a dispatch.

use super::super::district::Patrol;
use super::super::setup::Account;
use crate::api::PointOut;
use crate::walk::{Anchor, Walk};
use pp_domain::position::Position;
use pp_domain::time::Timestamp;
use pp_geo::LatLng;
use rand::rngs::StdRng;
use rand::Rng as _;
use std::time::Instant;

/// What an envoy's phone does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Duty {
    /// Member `m` of team `t`, patrolling as `patrol` says.
    Member {
        /// the team (index into the holiday's teams)
        t: usize,
        /// the member (0 leads)
        m: usize,
        /// how it patrols
        patrol: Patrol,
    },
    /// One of the background crowd.
    Crowd,
}

/// A simulated envoy's phone.
pub struct Phone {
    /// its account
    pub account: Account,
    /// what it does
    pub duty: Duty,
    /// where and how it walks
    pub walk: Walk,
    /// taking and sending points
    pub posting: bool,
    /// done patrolling (members)
    pub done: bool,
    /// when it takes its next point
    pub next_point: Instant,
    /// when it took its last point
    pub last_point: Option<Instant>,
    /// the time of its last point
    pub last_ts: Option<Timestamp>,
    /// points taken, not sent yet (sent as one batch when the last batch is answered)
    pub queue: Vec<PointOut>,
    /// a batch is on its way
    pub in_flight: bool,
    /// points the server accepted (members keep them to compute their patrol time)
    pub acked: Vec<Position>,
    /// where the server last saw it
    pub last_acked: Option<LatLng>,
    /// whether the server accepted any point of it
    pub seen: bool,
    /// its part in a dispatch
    pub answering: Option<Answering>,
}

/// A phone's part in a dispatch.
pub struct Answering {
    /// the dispatch (index into the holiday's dispatches)
    pub k: usize,
    /// the scene
    pub scene: LatLng,
    /// how far it got
    pub phase: Phase,
}

/// Where a phone is in answering a dispatch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Phase {
    /// Answers at `at`.
    Deciding {
        /// yes or no
        accept: bool,
        /// when
        at: Instant,
    },
    /// Its answer is on its way.
    Sending,
    /// Accepted; hurrying to the scene.
    Going,
    /// Its arrival is on its way.
    Marking,
    /// Arrived; waits for the dispatch to close.
    OnScene,
}

impl Phone {
    /// A phone at `at` walking toward `anchor`, not posting yet.
    pub fn new(
        account: Account,
        duty: Duty,
        at: LatLng,
        anchor: Anchor,
        rng: &mut StdRng,
    ) -> Phone {
        let speed_mps = rng.gen_range(1.1..1.5);
        let heading = rng.gen_range(0.0..std::f64::consts::TAU);
        Phone {
            account,
            duty,
            walk: Walk::new(at, anchor, speed_mps, heading),
            posting: false,
            done: false,
            next_point: Instant::now(),
            last_point: None,
            last_ts: None,
            queue: Vec::new(),
            in_flight: false,
            acked: Vec::new(),
            last_acked: None,
            seen: false,
            answering: None,
        }
    }

    /// Back to its walk after a dispatch.
    pub fn go_home(&mut self) {
        self.walk.go_home();
        self.answering = None;
    }
}
