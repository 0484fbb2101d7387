//! The dispatches: the commander opens each when it is due, near a crowd spot; the crowd's
//! phones hear the alert on their event streams and answer as volunteers would
//! ([`crate::responders`]), hurry over and mark arrival once the server has their position at
//! the scene; the commander looks at each open dispatch and closes it once the envoys it needs
//! are there (or it waited long enough).

use super::super::district;
use super::phone::{Answering, Phase};
use super::state::{Ev, Holiday};
use crate::api::answers::{Dispatch, NewDispatch};
use crate::responders::{self, Choice, Heard};
use rand::rngs::StdRng;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often the commander looks at an open dispatch.
const DISPATCH_CHECK: Duration = Duration::from_secs(2);
/// The commander closes a dispatch that has not got its envoys on the scene after this long.
const DISPATCH_GIVE_UP: Duration = Duration::from_secs(120);
/// The first search radius, metres.
const RADIUS_M: u32 = 500;
/// Responders hurry to a scene at this speed (real m/s; the server flags over 30).
const HURRY_MPS: f64 = 25.0;
/// How far a responder on the scene strays from it, metres.
const ON_SCENE_SPREAD_M: f64 = 10.0;

impl Holiday {
    /// The commander opens the dispatches that are due and looks at the open ones.
    pub fn dispatch(&mut self, now: Instant) {
        for k in 0..self.dispatches.len() {
            let d = &self.dispatches[k];
            if d.closed.is_some() || d.sending || d.checking || d.closing {
                continue;
            }
            let api = Arc::clone(&self.api);
            let token = self.commander.token.clone();
            match d.id {
                None if now >= d.due => {
                    let (at, needed, message) = (d.at, d.needed, d.message);
                    self.dispatches[k].sending = true;
                    self.spawn(async move {
                        let dispatch = NewDispatch {
                            lat: at.lat,
                            lng: at.lng,
                            radius_m: RADIUS_M,
                            needed,
                            message,
                        };
                        match api.open_dispatch(&token, &dispatch).await {
                            Ok(body) => Ev::Dispatched { k, body },
                            Err(e) => Ev::Failed(format!("dispatch {k}: {e:#}")),
                        }
                    });
                }
                Some(id) if d.next_check.is_some_and(|at| now >= at) => {
                    self.dispatches[k].checking = true;
                    self.spawn(async move {
                        match api.dispatch(&token, id).await {
                            Ok(body) => Ev::DispatchView { k, body },
                            Err(e) => Ev::Failed(format!("dispatch {id}: {e:#}")),
                        }
                    });
                }
                _ => {}
            }
        }
    }

    /// Dispatch `k` opened.
    pub fn dispatched(&mut self, k: usize, body: Dispatch) {
        let d = &mut self.dispatches[k];
        d.sending = false;
        d.id = Some(body.id);
        d.opened = Some(Instant::now());
        d.next_check = Some(Instant::now() + DISPATCH_CHECK);
        self.dispatch_index.insert(body.id, k);
    }

    /// The commander looked at dispatch `k`: closes it once the envoys it needs are there.
    pub fn dispatch_view(&mut self, k: usize, body: Dispatch) {
        let d = &mut self.dispatches[k];
        d.checking = false;
        d.next_check = Some(Instant::now() + DISPATCH_CHECK);
        let arrived = body
            .recipients
            .iter()
            .filter(|r| r.state == "arrived")
            .count();
        let age = d.opened.map_or(Duration::ZERO, |o| o.elapsed());
        // the emergency is handled once its envoys are there; alerts still open then are
        // withdrawn by the close, as a commander would
        let close = arrived >= body.needed || age >= DISPATCH_GIVE_UP;
        if !close || body.state != "open" {
            return;
        }
        d.closing = true;
        let (api, token, id) = (Arc::clone(&self.api), self.commander.token.clone(), body.id);
        self.spawn(async move {
            match api.close_dispatch(&token, id).await {
                Ok(body) => Ev::Closed { k, body },
                Err(e) => Ev::Failed(format!("close dispatch {id}: {e:#}")),
            }
        });
    }

    /// Dispatch `k` closed: its responders go back to their walk (their streams tell them
    /// too).
    pub fn dispatch_closed(&mut self, k: usize, body: Dispatch) {
        let d = &mut self.dispatches[k];
        d.closing = false;
        d.closed = Some(body);
        for p in &mut self.phones {
            if p.answering.as_ref().is_some_and(|a| a.k == k) {
                p.go_home();
            }
        }
    }

    /// What a crowd phone heard on its event stream.
    pub fn hear(&mut self, h: Heard, rng: &mut StdRng) {
        match h {
            Heard::Alert {
                walker,
                dispatch,
                at,
            } => {
                let Some(&k) = self.dispatch_index.get(&dispatch) else {
                    // an alert heard before the commander's answer came back: this phone
                    // lets it pass (it expires and goes to the next envoy, as an unanswered
                    // alert does)
                    return;
                };
                let Some(p) = self.phones.get_mut(walker) else {
                    return;
                };
                if p.answering.is_some() || !p.posting {
                    return;
                }
                let (choice, wait) = responders::choose(rng);
                let accept = match choice {
                    Choice::Accept => true,
                    Choice::Decline => false,
                    Choice::Ignore => return,
                };
                p.answering = Some(Answering {
                    k,
                    scene: at,
                    phase: Phase::Deciding {
                        accept,
                        at: Instant::now() + wait,
                    },
                });
            }
            Heard::Closed { walker, dispatch } => {
                if let Some(&k) = self.dispatch_index.get(&dispatch) {
                    if let Some(p) = self.phones.get_mut(walker) {
                        if p.answering.as_ref().is_some_and(|a| {
                            a.k == k && !matches!(a.phase, Phase::Sending | Phase::Marking)
                        }) {
                            p.go_home();
                        }
                    }
                }
            }
        }
    }

    /// Phones answer when they have made up their minds, and mark arrival once the server
    /// has their position at the scene.
    pub fn answer(&mut self, now: Instant) {
        for i in self.crowd_first..self.phones.len() {
            let p = &self.phones[i];
            let Some(a) = &p.answering else { continue };
            let Some(id) = self.dispatches[a.k].id else {
                continue;
            };
            let (k, scene) = (a.k, a.scene);
            let (api, token) = (Arc::clone(&self.api), p.account.token.clone());
            match a.phase {
                Phase::Deciding { accept, at } if now >= at => {
                    if let Some(a) = &mut self.phones[i].answering {
                        a.phase = Phase::Sending;
                    }
                    self.spawn(async move {
                        match api.respond(&token, id, accept).await {
                            Ok(v) => Ev::Responded {
                                phone: i,
                                k,
                                accept,
                                ok: v.is_some(),
                            },
                            Err(e) => Ev::Failed(format!("respond to {id}: {e:#}")),
                        }
                    });
                }
                Phase::Going
                    if p.last_acked.is_some_and(|at| {
                        district::metres(at, scene) <= responders::ARRIVE_WITHIN_M
                    }) && !p.in_flight =>
                {
                    if let Some(a) = &mut self.phones[i].answering {
                        a.phase = Phase::Marking;
                    }
                    self.spawn(async move {
                        match api.arrived(&token, id).await {
                            Ok(v) => Ev::Arrived {
                                phone: i,
                                k,
                                ok: v.is_some(),
                            },
                            Err(e) => Ev::Failed(format!("arrive at {id}: {e:#}")),
                        }
                    });
                }
                _ => {}
            }
        }
    }

    /// A phone's answer to dispatch `k` came back: one that accepted (and was not refused)
    /// hurries to the scene; the others go back to their walk.
    pub fn responded(&mut self, phone: usize, k: usize, accept: bool, ok: bool) {
        let p = &mut self.phones[phone];
        if !ok || !accept {
            p.go_home();
            return;
        }
        let user = p.account.id;
        if let Some(a) = &mut p.answering {
            a.phase = Phase::Going;
            p.walk.hurry_to(a.scene, ON_SCENE_SPREAD_M, HURRY_MPS);
        }
        self.dispatches[k].accepted_by.push(user);
    }

    /// A phone's arrival at dispatch `k` came back.
    pub fn arrived(&mut self, phone: usize, k: usize, ok: bool) {
        let p = &mut self.phones[phone];
        if ok {
            if let Some(a) = &mut p.answering {
                a.phase = Phase::OnScene;
            }
            let user = p.account.id;
            self.dispatches[k].arrived_by.push(user);
        } else {
            p.go_home();
        }
    }
}
