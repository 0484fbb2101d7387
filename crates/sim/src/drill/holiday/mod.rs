//! The holiday itself: one loop owns every phone, team, report and dispatch ([`state`]) and
//! spawns the requests that are due; their answers come back as events. The crowd walks and
//! listens for alerts from the start; the teams form ([`teams`]), patrol and post their
//! positions ([`positions`]); envoys file reports that the departments work ([`reports`]); the
//! commander dispatches to emergencies the crowd answers ([`dispatches`]); when all of it is
//! over, [`expected`] says what the statistics must show.

mod cast;
mod dispatches;
mod expected;
mod phone;
mod positions;
mod reports;
mod state;
mod teams;

pub use state::Holiday;

use super::clock::Stopwatch;
use crate::responders;
use rand::rngs::StdRng;
use rand::Rng as _;
use state::Ev;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// How often the drill's loop looks at what is due.
const TICK: Duration = Duration::from_millis(20);
/// How often the loop prints how far the holiday got.
const PROGRESS_EVERY: Duration = Duration::from_secs(10);
/// The drill fails when the holiday has not ended after this long.
const HOLIDAY_LIMIT: Duration = Duration::from_secs(20 * 60);

impl Holiday {
    /// Plans the reports and dispatches, starts the crowd and the teams, and runs until every
    /// team has finished, every report has reached its outcome and every dispatch is closed.
    pub async fn run(&mut self, rng: &mut StdRng, watch: &Stopwatch) -> anyhow::Result<()> {
        let start = Instant::now();
        let stop = CancellationToken::new();
        let _stop_guard = stop.clone().drop_guard();
        self.plan(rng, start);

        // the crowd walks and listens for alerts
        let (heard_tx, mut heard_rx) = mpsc::channel(1024);
        for i in self.crowd_first..self.phones.len() {
            let p = &mut self.phones[i];
            p.posting = true;
            p.next_point = start + self.interval.mul_f64(rng.gen_range(0.0..1.0));
            tokio::spawn(responders::listen(
                Arc::clone(&self.api),
                p.account.token.clone(),
                i,
                heard_tx.clone(),
                stop.child_token(),
            ));
        }
        drop(heard_tx);
        self.form_teams();

        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut last_progress = Instant::now();
        loop {
            tokio::select! {
                ev = self.rx.recv() => if let Some(ev) = ev { self.handle(ev, rng) },
                h = heard_rx.recv() => if let Some(h) = h { self.hear(h, rng) },
                _ = tick.tick() => {}
            }
            while let Ok(ev) = self.rx.try_recv() {
                self.handle(ev, rng);
            }
            while let Ok(h) = heard_rx.try_recv() {
                self.hear(h, rng);
            }
            if let Some(f) = self.failure.take() {
                anyhow::bail!(f);
            }
            let now = Instant::now();
            self.take_points(now, rng);
            self.finish_teams();
            self.file_reports(now);
            self.work_reports(now);
            self.dispatch(now);
            self.answer(now);
            if now.duration_since(last_progress) >= PROGRESS_EVERY {
                last_progress = now;
                watch.phase(&self.progress());
            }
            if self.over() {
                break;
            }
            anyhow::ensure!(
                start.elapsed() < HOLIDAY_LIMIT,
                "the holiday did not end within {} minutes: {}",
                HOLIDAY_LIMIT.as_secs() / 60,
                self.progress()
            );
        }
        // the crowd goes home: no new points; the batches on their way are answered
        for p in &mut self.phones {
            p.posting = false;
        }
        while self.posts_in_flight > 0 {
            match self.rx.recv().await {
                Some(ev) => self.handle(ev, rng),
                None => break,
            }
            if let Some(f) = self.failure.take() {
                anyhow::bail!(f);
            }
        }
        stop.cancel();
        watch.phase(&self.progress());
        Ok(())
    }

    /// An answer that came back.
    fn handle(&mut self, ev: Ev, rng: &mut StdRng) {
        match ev {
            Ev::Posted {
                phone,
                points,
                answer,
            } => self.posted(phone, points, answer),
            Ev::TeamStarted { t, team } => self.team_started(t, team),
            Ev::Finished { t, body } => self.team_finished(t, body),
            Ev::Reported { i, body } => self.reported(i, body, rng),
            Ev::Stepped { i, body } => self.stepped(i, body, rng),
            Ev::Dispatched { k, body } => self.dispatched(k, body),
            Ev::DispatchView { k, body } => self.dispatch_view(k, body),
            Ev::Closed { k, body } => self.dispatch_closed(k, body),
            Ev::Responded {
                phone,
                k,
                accept,
                ok,
            } => self.responded(phone, k, accept, ok),
            Ev::Arrived { phone, k, ok } => self.arrived(phone, k, ok),
            Ev::Failed(e) => self.fail(e),
        }
    }
}
