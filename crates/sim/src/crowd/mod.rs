//! The demo's simulated crowd: [`CROWD`] envoys walking around the Haizhu landmarks and one
//! team of named demo envoys mid-patrol at Canton Tower, every one posting its positions every
//! [`POST_EVERY`] through the real HTTP API, as their phones would.
//!
//! The crowd's accounts are made straight in the store (`accounts.rs`); the team is formed
//! entirely over HTTP (`team.rs`). One task drives every walker: a tick every half second posts
//! the batches that are due, at most [`CONCURRENCY`] at a time. The walk is seeded, so the
//! crowd is the same on every run (until a dispatch sends some of it hurrying to a scene:
//! every crowd phone listens on its event stream and answers alerts, see `dispatch.rs` and
//! [`crate::responders`]).

mod accounts;
mod dispatch;
mod reports;
mod team;
mod walker;

pub use accounts::CROWD;
pub use team::TEAM_PHONES;
pub use walker::POST_EVERY;

use crate::api::{Api, PointOut};
use crate::responders;
use pp_server::AppState;
use rand::rngs::StdRng;
use rand::SeedableRng as _;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Seed of the walk.
const SEED: u64 = 20_261_001;
/// Batches in flight at once.
pub const CONCURRENCY: usize = 16;
/// How often the driver checks the team still patrols (and forms a new one if not).
const TEAM_CHECK_EVERY: std::time::Duration = std::time::Duration::from_secs(60);
/// How often the driver logs what the crowd posted.
const REPORT_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// Runs the crowd against the server at `base` (this process's, serving `state`) until `stop`.
/// Never fails: what goes wrong is logged, and the demo server serves on regardless.
pub async fn run(state: AppState, base: String, stop: CancellationToken) {
    tokio::select! {
        r = drive(&state, &base, &stop) => {
            if let Err(e) = r {
                tracing::warn!(error = format!("{e:#}"), "the simulated crowd stopped");
                println!("simulated crowd: stopped ({e:#})");
            }
        }
        () = stop.cancelled() => {}
    }
}

/// What the crowd posted since the last report.
#[derive(Default)]
struct Stats {
    batches: u64,
    accepted: u64,
    failed: u64,
    last_error: Option<String>,
}

impl Stats {
    fn record(&mut self, r: Result<Result<u64, String>, tokio::task::JoinError>) {
        self.batches += 1;
        match r {
            Ok(Ok(accepted)) => self.accepted += accepted,
            Ok(Err(e)) => {
                self.failed += 1;
                self.last_error = Some(e);
            }
            Err(e) => {
                self.failed += 1;
                self.last_error = Some(e.to_string());
            }
        }
    }

    fn report(&mut self) {
        let s = std::mem::take(self);
        if s.failed > 0 {
            tracing::warn!(
                batches = s.batches,
                accepted = s.accepted,
                failed = s.failed,
                last_error = s.last_error.unwrap_or_default(),
                "simulated crowd: some position batches failed"
            );
        } else {
            tracing::debug!(
                batches = s.batches,
                accepted = s.accepted,
                "simulated crowd posted"
            );
        }
    }
}

async fn drive(state: &AppState, base: &str, stop: &CancellationToken) -> anyhow::Result<()> {
    let api = Arc::new(
        Api::builder(base)
            .timeout(std::time::Duration::from_secs(10))
            .connections(CONCURRENCY)
            .trust_any_certificate()
            .build()?,
    );
    let mut rng = StdRng::seed_from_u64(SEED);
    let mut crowd = accounts::crowd_walkers(state, &mut rng).await?;
    // every walker's phone listens for dispatch alerts on its own event stream
    let (heard_tx, mut heard_rx) = mpsc::channel(1024);
    for (i, w) in crowd.iter().enumerate() {
        tokio::spawn(responders::listen(
            Arc::clone(&api),
            w.token.clone(),
            i,
            heard_tx.clone(),
            stop.child_token(),
        ));
    }
    drop(heard_tx);
    let mut answer_rng = StdRng::seed_from_u64(SEED + 1);
    let mut team = match team::form_team(state, &api, &mut rng).await {
        Ok(t) => {
            println!(
                "simulated crowd: {CROWD} envoys walking; team {} patrolling at Canton Tower (leader {})",
                t.id, TEAM_PHONES[0]
            );
            Some(t)
        }
        Err(e) => {
            tracing::warn!(
                error = format!("{e:#}"),
                "the demo team could not start its patrol; trying again in a minute"
            );
            println!("simulated crowd: {CROWD} envoys walking; no team patrolling yet ({e:#})");
            None
        }
    };

    match reports::file_reports(state, &api, &crowd).await {
        Ok(0) => {}
        Ok(n) => println!("simulated crowd: {n} incident reports filed (GET /api/v1/incidents)"),
        Err(e) => tracing::warn!(
            error = format!("{e:#}"),
            "the demo reports could not be filed"
        ),
    }

    let mut tick = tokio::time::interval(std::time::Duration::from_millis(500));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut posts: JoinSet<Result<u64, String>> = JoinSet::new();
    let mut stats = Stats::default();
    let mut next_report = Instant::now() + REPORT_EVERY;
    let mut next_team_check = Instant::now() + TEAM_CHECK_EVERY;
    loop {
        tick.tick().await;
        while let Some(r) = posts.try_join_next() {
            stats.record(r);
        }
        let (now, clock) = (Instant::now(), state.clock.now());
        // dispatches first, so that an arrival is marked from a position posted a tick ago
        while let Ok(h) = heard_rx.try_recv() {
            dispatch::hear(&mut crowd, h, &mut answer_rng, now);
        }
        for w in &mut crowd {
            dispatch::answer(w, &api, now, &mut answer_rng);
        }
        let team_walkers = team.iter_mut().flat_map(|t| t.walkers.iter_mut());
        for w in team_walkers.chain(crowd.iter_mut()) {
            if w.next_post > now {
                continue;
            }
            w.next_post += POST_EVERY;
            if w.next_post < now {
                // fell behind (a slow server): post again a period from now
                w.next_post = now + POST_EVERY;
            }
            let points = w.advance(&mut rng, clock);
            if points.is_empty() {
                continue;
            }
            while posts.len() >= CONCURRENCY {
                if let Some(r) = posts.join_next().await {
                    stats.record(r);
                }
            }
            posts.spawn(post(Arc::clone(&api), w.token.clone(), points));
        }
        let now = Instant::now();
        if now >= next_report {
            next_report = now + REPORT_EVERY;
            stats.report();
        }
        if now >= next_team_check {
            next_team_check = now + TEAM_CHECK_EVERY;
            let patrolling = match &team {
                Some(t) => match state.store.team(t.id).await {
                    Ok(v) => v.team.state == pp_domain::team::TeamState::Active,
                    Err(e) => {
                        tracing::debug!(error = %e, "could not look at the demo team");
                        true
                    }
                },
                None => false,
            };
            if !patrolling {
                match team::form_team(state, &api, &mut rng).await {
                    Ok(t) => {
                        tracing::info!(team = %t.id, "the demo team patrols again at Canton Tower");
                        team = Some(t);
                    }
                    Err(e) => {
                        tracing::warn!(
                            error = format!("{e:#}"),
                            "the demo team could not start its patrol; trying again in a minute"
                        );
                        team = None;
                    }
                }
            }
        }
    }
}

/// Posts one batch; returns how many points were accepted.
async fn post(api: Arc<Api>, token: String, points: Vec<PointOut>) -> Result<u64, String> {
    let outcome = api
        .post_positions(&token, &points)
        .await
        .map(|p| p.accepted)
        .map_err(|e| e.to_string());
    if let Err(e) = &outcome {
        tracing::debug!(error = %e, "a simulated position batch failed");
    }
    outcome
}
