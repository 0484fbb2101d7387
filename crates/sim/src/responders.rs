//! The demo crowd's phones answering emergency dispatches: each walker of the simulated crowd
//! listens on its own event stream (`GET /api/v1/stream`, as the envoy app does); an alert
//! makes it decide as a volunteer might — most accept after a few seconds, some decline, a few
//! never answer (the alert expires and passes on) — and one that accepts hurries to the scene,
//! marks arrival there (`POST /dispatches/{id}/arrived`, which the server accepts only within
//! 100 m) and goes back to its walk when the dispatch closes. Everything goes through the real
//! HTTP API ([`crate::api`]); [`crate::crowd`] moves the walkers and posts their positions.
//! The drill's phones choose and listen the same way.

use crate::api::{Api, ApiError};
use pp_domain::DispatchId;
use pp_geo::LatLng;
use rand::rngs::StdRng;
use rand::Rng as _;
use serde_json::Value;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Share of alerts accepted, and of those declined; the rest are never answered.
const ACCEPT_SHARE: f64 = 0.65;
const DECLINE_SHARE: f64 = 0.20;
/// Seconds a volunteer takes to answer.
const ANSWER_SECS: std::ops::Range<u64> = 3..12;
/// How fast a volunteer who accepted hurries to the scene (m/s).
pub const HURRY_MPS: std::ops::Range<f64> = 2.0..3.0;
/// Marks arrival this close to the point (the server's limit is 100 m).
pub const ARRIVE_WITHIN_M: f64 = 60.0;
/// Stays on the scene at most this long when nobody closes the dispatch.
pub const ON_SCENE_MAX: std::time::Duration = std::time::Duration::from_secs(15 * 60);
/// Waits this long before reconnecting a dropped stream.
const RECONNECT_AFTER: std::time::Duration = std::time::Duration::from_secs(5);

/// What a walker's phone heard.
#[derive(Debug, Clone, PartialEq)]
pub enum Heard {
    /// An alert: help is needed at `at`.
    Alert {
        /// the walker (index into the crowd)
        walker: usize,
        /// the dispatch
        dispatch: DispatchId,
        /// where
        at: LatLng,
    },
    /// A dispatch the walker was part of closed.
    Closed {
        /// the walker
        walker: usize,
        /// the dispatch
        dispatch: DispatchId,
    },
}

/// What a simulated volunteer does with an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    /// Goes.
    Accept,
    /// Says no.
    Decline,
    /// Never answers.
    Ignore,
}

/// A volunteer's choice and how long it takes them to make it.
pub fn choose(rng: &mut StdRng) -> (Choice, std::time::Duration) {
    let roll: f64 = rng.gen();
    let choice = if roll < ACCEPT_SHARE {
        Choice::Accept
    } else if roll < ACCEPT_SHARE + DECLINE_SHARE {
        Choice::Decline
    } else {
        Choice::Ignore
    };
    (
        choice,
        std::time::Duration::from_secs(rng.gen_range(ANSWER_SECS)),
    )
}

/// What an event means to the crowd, if anything.
pub fn heard(walker: usize, event: &str, data: &str) -> Option<Heard> {
    let v: Value = serde_json::from_str(data).ok()?;
    let dispatch: DispatchId = v["id"].as_str()?.parse().ok()?;
    match event {
        "dispatch_alert" => Some(Heard::Alert {
            walker,
            dispatch,
            at: LatLng::new(v["lat"].as_f64()?, v["lng"].as_f64()?).ok()?,
        }),
        "dispatch_update" if v["state"] == "closed" => Some(Heard::Closed { walker, dispatch }),
        _ => None,
    }
}

/// Listens on `walker`'s event stream until `stop`, reconnecting (with the last event id)
/// when it drops, and passes on what the crowd must act on.
pub async fn listen(
    api: Arc<Api>,
    token: String,
    walker: usize,
    tx: mpsc::Sender<Heard>,
    stop: CancellationToken,
) {
    let mut last_id: Option<String> = None;
    loop {
        let read = async {
            let mut stream = api.events(&token, last_id.as_deref()).await?;
            let outcome = loop {
                match stream.next().await {
                    Some(Ok((event, data))) => {
                        if let Some(h) = heard(walker, &event, &data) {
                            if tx.send(h).await.is_err() {
                                break Ok(());
                            }
                        }
                    }
                    Some(Err(e)) => break Err(e),
                    None => break Ok(()),
                }
            };
            last_id = stream.last_id().map(str::to_owned).or(last_id.take());
            outcome
        };
        tokio::select! {
            r = read => {
                if let Err(e) = r {
                    tracing::debug!(walker, error = %e, "a simulated phone's event stream dropped");
                }
            }
            () = stop.cancelled() => return,
        }
        if tx.is_closed() {
            return;
        }
        tokio::select! {
            () = tokio::time::sleep(RECONNECT_AFTER) => {}
            () = stop.cancelled() => return,
        }
    }
}

/// Answers an alert over the API (`POST /dispatches/{id}/respond`); what goes wrong is logged.
pub async fn respond(api: Arc<Api>, token: String, dispatch: DispatchId, accept: bool) {
    log_answer("respond", api.respond(&token, dispatch, accept).await);
}

/// Marks arrival over the API (`POST /dispatches/{id}/arrived`); what goes wrong is logged.
pub async fn arrived(api: Arc<Api>, token: String, dispatch: DispatchId) {
    log_answer("arrived", api.arrived(&token, dispatch).await);
}

fn log_answer(what: &str, answer: Result<Option<Value>, ApiError>) {
    match answer {
        Ok(Some(_)) => {}
        // an alert that expired or a dispatch closed meanwhile: what phones meet too
        Ok(None) => tracing::debug!(what, "a simulated answer was refused"),
        Err(e) => tracing::debug!(what, error = %e, "a simulated answer failed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng as _;

    #[test]
    fn alerts_and_closes_are_recognised() {
        let id = DispatchId::new();
        let alert = format!("{{\"id\":\"{id}\",\"lat\":23.1,\"lng\":113.3,\"state\":\"open\"}}");
        assert_eq!(
            heard(4, "dispatch_alert", &alert),
            Some(Heard::Alert {
                walker: 4,
                dispatch: id,
                at: LatLng::new(23.1, 113.3).unwrap()
            })
        );
        assert_eq!(heard(4, "dispatch_update", &alert), None, "still open");
        let closed = alert.replace("open", "closed");
        assert_eq!(
            heard(4, "dispatch_update", &closed),
            Some(Heard::Closed {
                walker: 4,
                dispatch: id
            })
        );
        assert_eq!(heard(4, "team", &closed), None);
        assert_eq!(heard(4, "dispatch_alert", "not json"), None);
    }

    #[test]
    fn most_accept_some_decline_a_few_never_answer() {
        let mut rng = StdRng::seed_from_u64(1);
        let mut counts = [0u32; 3];
        for _ in 0..1000 {
            let (c, wait) = choose(&mut rng);
            assert!(ANSWER_SECS.contains(&wait.as_secs()));
            counts[c as usize] += 1;
        }
        assert!((600..700).contains(&counts[0]), "{counts:?}");
        assert!((150..250).contains(&counts[1]), "{counts:?}");
        assert!((100..200).contains(&counts[2]), "{counts:?}");
    }
}
