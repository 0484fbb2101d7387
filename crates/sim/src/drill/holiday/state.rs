//! The holiday's state: every phone, team, report and dispatch, owned by one loop
//! ([`super`]) that spawns the requests that are due; their answers come back as [`Ev`]s.

use super::super::clock::Clock;
use super::super::district::Outcome;
use super::super::setup::{Account, TaskInfo};
use super::phone::Phone;
use crate::api::answers::{Dispatch, Finish, Incident, Posted, Team};
use crate::api::{Api, ApiError, PointOut};
use pp_domain::time::Timestamp;
use pp_domain::{DispatchId, TeamId, UserId};
use pp_geo::LatLng;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// The holiday.
pub struct Holiday {
    /// the client, timed
    pub api: Arc<Api>,
    /// the holiday's clock
    pub clock: Clock,
    /// real time between two points of a phone
    pub interval: Duration,
    /// the patrol a member needs, ms
    pub required_ms: i64,
    /// team members' phones (team by team), then the crowd's
    pub phones: Vec<Phone>,
    /// the first crowd phone
    pub crowd_first: usize,
    /// the 21 tasks
    pub tasks: Vec<TaskInfo>,
    /// the 86 teams
    pub teams: Vec<TeamRun>,
    /// the reports, in the order they come
    pub reports: Vec<Report>,
    /// the dispatches, in the order they come
    pub dispatches: Vec<DispatchRun>,
    /// dispatch id → index, once opened
    pub dispatch_index: HashMap<DispatchId, usize>,
    /// the command centre
    pub commander: Account,
    /// each department's staff
    pub staff: HashMap<String, Vec<Account>>,
    /// the photo of team starts and some reports (PNG)
    pub photo: Arc<Vec<u8>>,
    /// answers of spawned requests
    pub tx: mpsc::UnboundedSender<Ev>,
    /// see `tx`
    pub rx: mpsc::UnboundedReceiver<Ev>,
    /// position batches on their way
    pub posts_in_flight: usize,
    /// the first thing that went wrong
    pub failure: Option<String>,
}

/// A team of the holiday.
pub struct TeamRun {
    /// its task (index)
    pub task: usize,
    /// phones of its members, leader first
    pub phones: Vec<usize>,
    /// the team, once claimed
    pub id: Option<TeamId>,
    /// when it started, on the server's clock
    pub started_at: Option<Timestamp>,
    /// its members when it started
    pub members_at_start: Vec<UserId>,
    /// its finish is on its way
    pub finishing: bool,
    /// the answer of its finish
    pub finish: Option<Finish>,
}

/// A report of the holiday.
pub struct Report {
    /// its category
    pub category: &'static str,
    /// its words
    pub description: &'static str,
    /// the phone that files it
    pub reporter: usize,
    /// when it is filed
    pub due: Instant,
    /// where its department leaves it
    pub outcome: Outcome,
    /// the report as last answered
    pub filed: Option<Incident>,
    /// a request about it is on its way
    pub sending: bool,
    /// status steps done
    pub steps_done: usize,
    /// when its next step is due
    pub next_step: Option<Instant>,
}

impl Report {
    /// Filed and moved to its outcome.
    pub fn worked(&self) -> bool {
        self.filed.is_some() && !self.sending && self.steps_done == self.outcome.steps().len()
    }
}

/// A dispatch of the holiday.
pub struct DispatchRun {
    /// what the alert says
    pub message: &'static str,
    /// envoys needed
    pub needed: u32,
    /// the scene
    pub at: LatLng,
    /// when the commander opens it
    pub due: Instant,
    /// its opening is on its way
    pub sending: bool,
    /// the dispatch, once open
    pub id: Option<DispatchId>,
    /// when it opened
    pub opened: Option<Instant>,
    /// when the commander looks at it next
    pub next_check: Option<Instant>,
    /// a look is on its way
    pub checking: bool,
    /// its close is on its way
    pub closing: bool,
    /// the answer of its close
    pub closed: Option<Dispatch>,
    /// envoys whose acceptance the server confirmed
    pub accepted_by: Vec<UserId>,
    /// envoys whose arrival the server confirmed
    pub arrived_by: Vec<UserId>,
}

/// What a spawned request came back with.
pub enum Ev {
    /// A phone's batch of points.
    Posted {
        phone: usize,
        points: Vec<PointOut>,
        answer: Result<Posted, ApiError>,
    },
    /// A team claimed, joined and started.
    TeamStarted { t: usize, team: Team },
    /// A team finished by its leader.
    Finished { t: usize, body: Finish },
    /// A report filed.
    Reported { i: usize, body: Incident },
    /// A report moved one step.
    Stepped { i: usize, body: Incident },
    /// A dispatch opened.
    Dispatched { k: usize, body: Dispatch },
    /// A dispatch looked at.
    DispatchView { k: usize, body: Dispatch },
    /// A dispatch closed.
    Closed { k: usize, body: Dispatch },
    /// A phone's answer to an alert (`ok`: not refused).
    Responded {
        phone: usize,
        k: usize,
        accept: bool,
        ok: bool,
    },
    /// A phone's arrival (`ok`: not refused).
    Arrived { phone: usize, k: usize, ok: bool },
    /// A request that failed.
    Failed(String),
}

impl Holiday {
    /// Keeps the first failure; the loop stops on it.
    pub fn fail(&mut self, what: String) {
        if self.failure.is_none() {
            self.failure = Some(what);
        }
    }

    /// Spawns a request whose answer comes back as an event.
    pub fn spawn<F>(&self, job: F)
    where
        F: std::future::Future<Output = Ev> + Send + 'static,
    {
        let tx = self.tx.clone();
        tokio::spawn(async move {
            let _ = tx.send(job.await);
        });
    }

    /// One line of how far the holiday got.
    pub fn progress(&self) -> String {
        let started = self.teams.iter().filter(|t| t.started_at.is_some()).count();
        let finished = self.teams.iter().filter(|t| t.finish.is_some()).count();
        let filed = self.reports.iter().filter(|r| r.filed.is_some()).count();
        let worked = self.reports.iter().filter(|r| r.worked()).count();
        let closed = self
            .dispatches
            .iter()
            .filter(|d| d.closed.is_some())
            .count();
        format!(
            "teams started {started}/{} finished {finished}; reports filed {filed}/{} worked {worked}; dispatches closed {closed}/{}; {} requests",
            self.teams.len(),
            self.reports.len(),
            self.dispatches.len(),
            self.api.requests()
        )
    }

    /// Every team finished, every report at its outcome, every dispatch closed.
    pub fn over(&self) -> bool {
        self.teams.iter().all(|t| t.finish.is_some())
            && self.reports.iter().all(Report::worked)
            && self.dispatches.iter().all(|d| d.closed.is_some())
    }
}
