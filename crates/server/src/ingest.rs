//! The one ingest pipeline every position passes through, from `POST /positions` and from
//! history imports alike, entered by [`Ingest::submit`] (a phone's live batch) or
//! [`Ingest::submit_history`] (recorded history, as `bench load` imports it).
//!
//! ```text
//! submit: live index (previous point) ─► validate (domain) ─► queue ─► writer task: group commit
//!                                                                          │         │
//!         report (accepted, duplicates, flagged, rejected) ◄── after the commit ─► store
//!                                                      live index, heat index, events
//! ```
//!
//! A request's validated points go on a queue; a writer task takes everything queued at that
//! moment (up to [`MAX_GROUP_POINTS`]) and appends it in ONE store transaction, so many requests
//! share one commit. Only after the commit does it update the in-memory [`LiveIndex`] and answer
//! the waiting requests: an acknowledged batch is in the database. The heat map's aggregates
//! are written by the same commit (the store adds each new point to its hourly cell row), and
//! its in-memory [`HeatIndex`] moves forward at the same place as the live index. What counts
//! (on the maps, in the answer) is the domain's rule, [`Position::newly_counted`].

use crate::events::{Audience, EventBus};
use crate::heat::HeatIndex;
use crate::live::LiveIndex;
use pp_domain::heat::LIVE_MINUTES;
use pp_domain::position::{validate_batch, validate_history, Crs, PointIn, Position, Rejected};
use pp_domain::time::{Clock, Timestamp};
use pp_domain::{DomainError, UserId};
use pp_store::{PositionBatch, Store, StoreError};
use serde::Serialize;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, Mutex};
use utoipa::ToSchema;

/// Most points one group commit takes (a request's batch is never split).
pub const MAX_GROUP_POINTS: usize = 20_000;
/// Requests that may wait in the queue before senders wait for room.
const QUEUE: usize = 4096;

/// What happened to a batch. `accepted + duplicates + rejected.len()` is the number of points
/// sent; `flagged` counts the accepted points that implied an implausible speed (stored, never
/// counted toward a patrol).
#[derive(Debug, Serialize, ToSchema)]
pub struct IngestReport {
    /// points stored now
    pub accepted: usize,
    /// points already known (same envoy and `ts`): a retried batch is all duplicates
    pub duplicates: usize,
    /// of the accepted points, those flagged for an implausible speed (over 30 m/s)
    pub flagged: usize,
    /// refused points with the reason for each
    pub rejected: Vec<Rejected>,
}

impl IngestReport {
    /// Why the first refused point was refused (`point 3: …`), for an error message.
    fn first_reason(&self) -> String {
        self.rejected
            .first()
            .map_or_else(String::new, |r| format!("point {}: {}", r.index, r.message))
    }
}

/// Why [`Ingest::submit`] stored nothing.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// The batch as a whole is refused (`invalid_batch_size`).
    #[error(transparent)]
    Invalid(#[from] DomainError),
    /// Every point was refused; the report says why, point by point.
    #[error("no point of the batch is valid; {}", .0.first_reason())]
    NoValidPoints(IngestReport),
    /// The group commit failed (the writer has logged the cause): send the batch again.
    #[error("the positions could not be stored: {0}")]
    Store(IngestError),
}

/// Where a batch comes from, which decides how old its points may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Arrival {
    /// A phone's batch, as it patrols: [`validate_batch`].
    Live,
    /// Recorded history: [`validate_history`] (any age).
    History,
}

/// A failed group commit, shared by every request of the group.
pub type IngestError = Arc<StoreError>;

/// A request's batch after its commit: `new[i]` says whether `batch.points()[i]` was new (false:
/// the store had it already).
#[derive(Debug)]
struct Committed {
    batch: PositionBatch,
    new: Vec<bool>,
}

/// One request's points waiting for the writer.
struct Job {
    batch: PositionBatch,
    reply: oneshot::Sender<Result<Committed, IngestError>>,
}

/// The pipeline: a queue, its writer tasks, the live index and the heat map's index.
#[derive(Debug)]
pub struct Ingest {
    queue: mpsc::Sender<Job>,
    live: Arc<LiveIndex>,
    heat: Arc<HeatIndex>,
    clock: Arc<dyn Clock>,
}

/// What the writer tasks update after each commit.
#[derive(Debug, Clone)]
struct Consumers {
    live: Arc<LiveIndex>,
    heat: Arc<HeatIndex>,
    clock: Arc<dyn Clock>,
    /// where the envoys' new latest positions go, for the commanders watching them
    events: Option<Arc<dyn EventBus>>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job")
            .field("user", &self.batch.user)
            .field("points", &self.batch.points().len())
            .finish()
    }
}

impl Ingest {
    /// Rebuilds the live index from the envoys' latest stored points taken at or after `since`
    /// and the heat index from the store's aggregates, then starts `writers` writer tasks (each
    /// commits its own groups; SQLite runs one write transaction at a time anyway, so one is
    /// enough there). The tasks end when the pipeline is dropped.
    pub async fn start(
        store: Arc<dyn Store>,
        since: Timestamp,
        writers: usize,
        clock: Arc<dyn Clock>,
        events: Option<Arc<dyn EventBus>>,
    ) -> Result<Ingest, StoreError> {
        let now = clock.now();
        let live = Arc::new(LiveIndex::load(store.as_ref(), since, now).await?);
        let recent: Vec<UserId> = live
            .seen_since(now - chrono::Duration::minutes(LIVE_MINUTES))
            .into_iter()
            .map(|(u, _)| u)
            .collect();
        let started = std::time::Instant::now();
        let heat = Arc::new(HeatIndex::load(store.as_ref(), now).await?);
        let (cells, cell_hours, envoy_hours) = heat.size();
        tracing::info!(
            cells,
            cell_hours,
            envoy_hours,
            seconds = started.elapsed().as_secs_f64(),
            "heat map index loaded"
        );
        heat.rebuild_live_in_background(Arc::clone(&store), recent);
        let (queue, rx) = mpsc::channel(QUEUE);
        let rx = Arc::new(Mutex::new(rx));
        let consumers = Consumers {
            live: Arc::clone(&live),
            heat: Arc::clone(&heat),
            clock: Arc::clone(&clock),
            events,
        };
        for _ in 0..writers.max(1) {
            tokio::spawn(write_loop(
                Arc::clone(&store),
                Arc::clone(&rx),
                consumers.clone(),
            ));
        }
        Ok(Ingest {
            queue,
            live,
            heat,
            clock,
        })
    }

    /// The live index this pipeline moves forward (the server's handlers and services reach
    /// it as [`AppState::live`](crate::state::AppState::live)).
    pub fn live(&self) -> &Arc<LiveIndex> {
        &self.live
    }

    /// The heat map's index this pipeline moves forward (the server's as
    /// [`AppState::heat`](crate::state::AppState::heat)).
    pub fn heat(&self) -> &Arc<HeatIndex> {
        &self.heat
    }

    /// Takes one envoy's live batch (1 to [`MAX_BATCH`](pp_domain::position::MAX_BATCH) points,
    /// in any order, in `crs`), as `POST /positions` does: validates it against the envoy's
    /// latest point in the live index ([`validate_batch`]), appends the valid points, waits
    /// until they are committed, and reports what became of each point.
    pub async fn submit(
        &self,
        user: UserId,
        points: Vec<PointIn>,
        crs: Crs,
    ) -> Result<IngestReport, SubmitError> {
        self.take(user, points, crs, Arrival::Live).await
    }

    /// [`Ingest::submit`] for recorded history (an archive, the benchmark's workload): the same
    /// path, but a point may be of any age ([`validate_history`]).
    pub async fn submit_history(
        &self,
        user: UserId,
        points: Vec<PointIn>,
        crs: Crs,
    ) -> Result<IngestReport, SubmitError> {
        self.take(user, points, crs, Arrival::History).await
    }

    /// The one path of both entries: validate, append, count.
    async fn take(
        &self,
        user: UserId,
        points: Vec<PointIn>,
        crs: Crs,
        arrival: Arrival,
    ) -> Result<IngestReport, SubmitError> {
        let sent = points.len();
        let previous = self.live.latest(user);
        let now = self.clock.now();
        let check = match arrival {
            Arrival::Live => validate_batch(points, crs, previous, now)?,
            Arrival::History => validate_history(points, crs, previous, now)?,
        };
        if check.rejected.len() == sent {
            return Err(SubmitError::NoValidPoints(IngestReport {
                accepted: 0,
                duplicates: 0,
                flagged: 0,
                rejected: check.rejected,
            }));
        }
        let Committed { batch, new } = self
            .append(user, check.accepted)
            .await
            .map_err(SubmitError::Store)?;
        let accepted = new.iter().filter(|&&n| n).count();
        let counted = batch
            .points()
            .iter()
            .zip(&new)
            .filter(|(p, &n)| p.newly_counted(n))
            .count();
        Ok(IngestReport {
            accepted,
            duplicates: sent - check.rejected.len() - accepted,
            // accepted, yet not counted: flagged
            flagged: accepted - counted,
            rejected: check.rejected,
        })
    }

    /// Appends one envoy's validated points (ascending, distinct `ts`) and waits until they are
    /// committed.
    async fn append(&self, user: UserId, points: Vec<Position>) -> Result<Committed, IngestError> {
        let batch = PositionBatch::new(user, points);
        if batch.points().is_empty() {
            return Ok(Committed {
                batch,
                new: Vec::new(),
            });
        }
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Job { batch, reply })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

fn stopped() -> IngestError {
    Arc::new(StoreError::Other(anyhow::anyhow!(
        "the ingest pipeline has stopped"
    )))
}

/// Takes the first waiting job and everything queued behind it (up to [`MAX_GROUP_POINTS`]).
async fn next_group(rx: &Mutex<mpsc::Receiver<Job>>) -> Option<Vec<Job>> {
    let mut rx = rx.lock().await;
    let first = rx.recv().await?;
    let mut points = first.batch.points().len();
    let mut group = vec![first];
    while points < MAX_GROUP_POINTS {
        match rx.try_recv() {
            Ok(job) => {
                points += job.batch.points().len();
                group.push(job);
            }
            Err(_) => break,
        }
    }
    Some(group)
}

/// Tells the commanders watching live positions where the envoys of a commit are now.
fn publish_positions(events: &dyn EventBus, latest: &[(UserId, Position)], now: Timestamp) {
    if latest.is_empty() {
        return;
    }
    let points: Vec<serde_json::Value> = latest
        .iter()
        .map(|(user, p)| {
            serde_json::json!({
                "user_id": user, "lat": p.at.lat, "lng": p.at.lng,
                "accuracy_m": p.accuracy_m, "ts": p.ts,
            })
        })
        .collect();
    events.publish(
        "positions",
        Audience::PositionWatchers,
        serde_json::json!({ "points": points }),
        now,
    );
}

async fn write_loop(store: Arc<dyn Store>, rx: Arc<Mutex<mpsc::Receiver<Job>>>, to: Consumers) {
    while let Some(group) = next_group(&rx).await {
        let (batches, replies): (Vec<PositionBatch>, Vec<_>) =
            group.into_iter().map(|j| (j.batch, j.reply)).unzip();
        match store.append_positions(&batches).await {
            Ok(new) => {
                let latest: Vec<(UserId, Position)> = batches
                    .iter()
                    .zip(&new)
                    .filter_map(|(b, new)| {
                        let latest = b
                            .points()
                            .iter()
                            .zip(new)
                            .filter(|(p, &new)| p.newly_counted(new))
                            .map(|(p, _)| *p)
                            .next_back()?;
                        Some((b.user, latest))
                    })
                    .collect();
                if let Some(events) = to.events.as_ref().filter(|e| e.positions_watched()) {
                    publish_positions(events.as_ref(), &latest, to.clock.now());
                }
                to.live.advance(latest);
                let now = to.clock.now();
                for (b, new) in batches.iter().zip(&new) {
                    to.heat.record(b.user, b.points(), b.cells(), new, now);
                }
                for ((reply, batch), new) in replies.into_iter().zip(batches).zip(new) {
                    // a request that gave up waiting has nobody to tell
                    let _ = reply.send(Ok(Committed { batch, new }));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, batches = batches.len(), "group commit failed");
                let e = Arc::new(e);
                for reply in replies {
                    let _ = reply.send(Err(Arc::clone(&e)));
                }
            }
        }
    }
}
