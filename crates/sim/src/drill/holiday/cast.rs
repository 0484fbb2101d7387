//! Who does what in the holiday: the teams' members (each patrolling as the district's plan
//! says) and the crowd at its gathering spots, each with a phone; and when the reports and the
//! dispatches come.

use super::super::clock::Clock;
use super::super::district::{self, Patrol};
use super::super::setup::Cast;
use super::phone::{Duty, Phone};
use super::state::{DispatchRun, Holiday, Report, TeamRun};
use crate::api::forms::team_photo;
use crate::api::Api;
use crate::walk::{district_point, near, Anchor};
use rand::rngs::StdRng;
use rand::Rng as _;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

impl Holiday {
    /// The holiday of `cast` at `clock`'s speed: a phone for every envoy, teams formed of
    /// members in their order, then the crowd; nothing planned yet ([`Holiday::plan`]).
    pub fn new(
        api: Arc<Api>,
        clock: Clock,
        cast: Cast,
        rng: &mut StdRng,
    ) -> anyhow::Result<Holiday> {
        let Cast {
            commander,
            staff,
            tasks,
            envoys,
        } = cast;
        let mut phones = Vec::with_capacity(envoys.len());
        let mut teams = Vec::with_capacity(district::TEAMS);
        let mut envoys = envoys.into_iter();
        for (t, size) in district::team_sizes().into_iter().enumerate() {
            let task = district::team_task(t);
            let area = &tasks[task].area;
            let mut members = Vec::with_capacity(size);
            for m in 0..size {
                let account = envoys
                    .next()
                    .ok_or_else(|| anyhow::anyhow!("too few envoys for the teams"))?;
                let patrol = district::patrol_of(t, m);
                let center = area.center();
                let (at, anchor) = match patrol {
                    Patrol::Outside => {
                        let at = district::outside_of(area, 120.0);
                        (at, Anchor::Around { at, spread_m: 10.0 })
                    }
                    Patrol::Full | Patrol::StopsEarly => (
                        near(rng, center, 40.0),
                        Anchor::Inside {
                            area: area.clone(),
                            at: center,
                            spread_m: 60.0,
                        },
                    ),
                };
                members.push(phones.len());
                phones.push(Phone::new(
                    account,
                    Duty::Member { t, m, patrol },
                    at,
                    anchor,
                    rng,
                ));
            }
            teams.push(TeamRun {
                task,
                phones: members,
                id: None,
                started_at: None,
                members_at_start: Vec::new(),
                finishing: false,
                finish: None,
            });
        }
        let crowd_first = phones.len();
        for (i, account) in envoys.enumerate() {
            let (at, anchor) = if i % 5 == 4 {
                (
                    district_point(rng),
                    Anchor::Wander {
                        target: district_point(rng),
                    },
                )
            } else {
                let s = district::spot(i);
                (
                    near(rng, s, 250.0),
                    Anchor::Around {
                        at: s,
                        spread_m: 250.0,
                    },
                )
            };
            phones.push(Phone::new(account, Duty::Crowd, at, anchor, rng));
        }
        let (tx, rx) = mpsc::unbounded_channel();
        Ok(Holiday {
            api,
            clock,
            interval: clock.point_every(),
            required_ms: clock.required_ms(),
            phones,
            crowd_first,
            tasks,
            teams,
            reports: Vec::new(),
            dispatches: Vec::new(),
            dispatch_index: HashMap::new(),
            commander,
            staff,
            photo: Arc::new(team_photo()?),
            tx,
            rx,
            posts_in_flight: 0,
            failure: None,
        })
    }

    /// Plans the reports and dispatches of a holiday starting at `start`: they come while the
    /// teams patrol, the report categories interleaved; a third of the reports are the
    /// crowd's, the rest team members'.
    pub fn plan(&mut self, rng: &mut StdRng, start: Instant) {
        let span = Duration::from_millis(u64::try_from(self.required_ms).unwrap_or(60_000))
            .mul_f64(0.8)
            .max(Duration::from_secs(20));
        let lead_in = Duration::from_secs(8);
        let total: usize = district::INCIDENTS.iter().map(|c| c.1).sum();
        let mut plan: Vec<(&'static str, &'static str)> = district::INCIDENTS
            .iter()
            .flat_map(|&(c, n, d)| std::iter::repeat_n((c, d), n))
            .collect();
        // interleave the categories over the holiday
        for i in (1..plan.len()).rev() {
            plan.swap(i, rng.gen_range(0..=i));
        }
        let crowd = self.phones.len() - self.crowd_first;
        for (i, (category, description)) in plan.into_iter().enumerate() {
            let reporter = if i % 3 == 0 {
                self.crowd_first + (i / 3) % crowd
            } else {
                let t = (i * 7) % district::TEAMS;
                self.teams[t].phones[i % self.teams[t].phones.len()]
            };
            self.reports.push(Report {
                category,
                description,
                reporter,
                due: start + lead_in + span.mul_f64(i as f64 / total as f64),
                outcome: district::outcome(rng),
                filed: None,
                sending: false,
                steps_done: 0,
                next_step: None,
            });
        }
        for (k, &(message, needed)) in district::DISPATCHES.iter().enumerate() {
            self.dispatches.push(DispatchRun {
                message,
                needed,
                at: district::spot(k),
                due: start + lead_in + span.mul_f64(k as f64 / district::DISPATCHES.len() as f64),
                sending: false,
                id: None,
                opened: None,
                next_check: None,
                checking: false,
                closing: false,
                closed: None,
                accepted_by: Vec::new(),
                arrived_by: Vec::new(),
            });
        }
    }
}
