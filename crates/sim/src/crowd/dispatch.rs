//! The crowd's phones in an emergency dispatch: what a phone heard on its event stream makes
//! its walker decide, hurry to the scene, mark arrival there and go home
//! ([`crate::responders`] says how a volunteer chooses).

use super::walker::{Answering, Phase, Walker};
use crate::api::Api;
use crate::responders::{self, Choice, Heard};
use pp_geo::haversine_m;
use rand::rngs::StdRng;
use rand::Rng as _;
use std::sync::Arc;
use tokio::time::Instant;

/// How far a walker on the scene strays from it, metres.
const ON_SCENE_SPREAD_M: f64 = 15.0;

/// What a walker's phone heard: an alert makes it decide (the walker busy with another
/// dispatch ignores it); a close sends it back to its walk.
pub fn hear(crowd: &mut [Walker], h: Heard, rng: &mut StdRng, now: Instant) {
    match h {
        Heard::Alert {
            walker,
            dispatch,
            at,
        } => {
            if let Some(w) = crowd.get_mut(walker).filter(|w| w.answering.is_none()) {
                let (choice, wait) = responders::choose(rng);
                w.answering = Some(Answering {
                    dispatch,
                    at,
                    phase: Phase::Deciding {
                        choice,
                        at: now + wait,
                    },
                });
            }
        }
        Heard::Closed { walker, dispatch } => {
            if let Some(w) = crowd.get_mut(walker) {
                if w.answering.as_ref().is_some_and(|a| a.dispatch == dispatch) {
                    w.go_home();
                }
            }
        }
    }
}

/// Moves a walker's part in a dispatch on: answers when it has made up its mind, hurries to
/// the scene once it accepted, marks arrival there, and goes home after a long wait.
pub fn answer(w: &mut Walker, api: &Arc<Api>, now: Instant, rng: &mut StdRng) {
    let Some(a) = &mut w.answering else { return };
    let (dispatch, scene) = (a.dispatch, a.at);
    let call = |accept: Option<bool>| {
        let (api, token) = (Arc::clone(api), w.token.clone());
        tokio::spawn(async move {
            match accept {
                Some(accept) => responders::respond(api, token, dispatch, accept).await,
                None => responders::arrived(api, token, dispatch).await,
            }
        });
    };
    match a.phase {
        Phase::Deciding { choice, at } if now >= at => match choice {
            Choice::Accept => {
                call(Some(true));
                a.phase = Phase::Going;
                let hurry = rng.gen_range(responders::HURRY_MPS);
                w.walk.hurry_to(scene, ON_SCENE_SPREAD_M, hurry);
            }
            Choice::Decline => {
                call(Some(false));
                w.answering = None;
            }
            Choice::Ignore => w.answering = None,
        },
        Phase::Going if haversine_m(w.walk.at, scene) <= responders::ARRIVE_WITHIN_M => {
            call(None);
            a.phase = Phase::OnScene { since: now };
        }
        Phase::OnScene { since } if now.duration_since(since) > responders::ON_SCENE_MAX => {
            w.go_home();
        }
        _ => {}
    }
}
