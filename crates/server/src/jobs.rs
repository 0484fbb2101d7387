//! Background jobs, run every `job_interval` while the server serves: finish patrols whose
//! task window has ended (crediting the qualified members), purge raw positions past the
//! retention period, purge expired sessions, and take envoys not seen for 10 minutes out of the
//! nearest search. Every job is safe to run on several nodes at
//! once: the store settles races (finishing twice changes nothing; deleting twice deletes once).

use crate::state::AppState;
use tokio_util::sync::CancellationToken;

/// Envoys whose old points one step of the retention sweep deletes (one short transaction),
/// so that ingest is never held up for long.
const PURGE_USERS: u32 = 1_000;
/// Steps of the retention sweep per round: a district of 110,000 envoys is swept in 11 rounds
/// (5.5 minutes at the default 30 s interval), a point goes at most that long after it has
/// passed the retention age.
const PURGE_STEPS: usize = 10;

/// Where the retention sweep stands between rounds: the last envoy swept (by id), `None` to
/// start from the first.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sweep {
    after: Option<pp_domain::UserId>,
}

/// What one round of the jobs did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Round {
    /// patrols finished because their window ended
    pub finished: usize,
    /// raw positions purged
    pub positions_purged: u64,
    /// expired sessions purged
    pub sessions_purged: u64,
}

/// Runs every job once, moving the retention sweep on by up to [`PURGE_STEPS`] steps.
pub async fn run_once(state: &AppState, sweep: &mut Sweep) -> anyhow::Result<Round> {
    let mut round = Round::default();
    let now = state.clock.now();
    for team in state.store.overdue_teams(now).await? {
        match crate::patrol::finish(state, team, None).await {
            Ok(outcome) if !outcome.already_finished => {
                round.finished += 1;
                tracing::info!(%team, credited = outcome.credited.len(), "patrol finished at the end of its window");
            }
            Ok(_) => {}
            // one team's trouble must not stop the others; it is tried again next round
            Err(e) => tracing::warn!(%team, error = %e, "could not finish an overdue patrol"),
        }
    }
    let before = now - state.config.retention();
    for _ in 0..PURGE_STEPS {
        let step = state
            .store
            .purge_positions(before, sweep.after, PURGE_USERS)
            .await?;
        round.positions_purged += step.deleted;
        sweep.after = step.next;
        if step.next.is_none() {
            // the sweep is through; the next round starts over
            break;
        }
        tokio::task::yield_now().await;
    }
    round.sessions_purged = state.store.purge_sessions(now).await?;
    // envoys not seen lately leave the nearest search (they come back with their next point)
    state
        .live
        .sweep(now - chrono::Duration::minutes(pp_domain::heat::LIVE_MINUTES));
    Ok(round)
}

/// Runs the jobs every `job_interval` until `stop` is cancelled.
pub async fn run(state: AppState, stop: CancellationToken) {
    let mut tick = tokio::time::interval(state.config.job_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut sweep = Sweep::default();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = stop.cancelled() => return,
        }
        // a stop does not wait for the round: a transaction cut short is rolled back, and the
        // next start does its work
        let done = tokio::select! {
            done = run_once(&state, &mut sweep) => done,
            () = stop.cancelled() => return,
        };
        match done {
            Ok(round) if round != Round::default() => tracing::info!(?round, "background jobs"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "background jobs failed; retrying next round"),
        }
    }
}
