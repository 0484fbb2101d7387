//! `bench load`'s one entry into the server's ingest pipeline, in the one place it calls the
//! server's API: `Ingest::submit_history`, the path of `POST /positions` without its 24-hour
//! freshness limit: validated against the envoy's latest point in the live index, queued,
//! group-committed, and only then in the live index.

use crate::workload::{Ping, ACCURACY_M};
use pp_domain::position::{Crs, PointIn};
use pp_domain::time::{from_millis, SystemClock, Timestamp};
use pp_domain::UserId;
use pp_server::ingest::{Ingest, SubmitError};
use pp_store::Store;
use std::sync::Arc;

/// What happened to the points of a phase.
#[derive(Debug, Default, Clone, Copy)]
pub struct Counts {
    /// points sent
    pub sent: u64,
    /// new points stored
    pub accepted: u64,
    /// points stored already
    pub duplicates: u64,
    /// of the accepted, flagged
    pub flagged: u64,
    /// points refused by validation
    pub rejected: u64,
    /// appends made
    pub appends: u64,
}

impl Counts {
    /// Adds another phase's or task's counts.
    pub fn add(&mut self, o: Counts) {
        self.sent += o.sent;
        self.accepted += o.accepted;
        self.duplicates += o.duplicates;
        self.flagged += o.flagged;
        self.rejected += o.rejected;
        self.appends += o.appends;
    }

    /// `… points in … appends: accepted …`.
    pub fn line(&self) -> String {
        format!(
            "{} points in {} appends: accepted {}, duplicates {}, flagged {} (of the accepted), rejected {}",
            self.sent, self.appends, self.accepted, self.duplicates, self.flagged, self.rejected
        )
    }
}

/// The server's ingest pipeline, started by `bench load` on its database.
pub struct Pipeline {
    ingest: Ingest,
}

impl Pipeline {
    /// The pipeline on `store`, with `writers` writer tasks, keeping points since `since`.
    pub async fn start(
        store: Arc<dyn Store>,
        since: Timestamp,
        writers: usize,
    ) -> anyhow::Result<Pipeline> {
        let ingest = Ingest::start(store, since, writers, Arc::new(SystemClock), None).await?;
        Ok(Pipeline { ingest })
    }

    /// Envoys in the live index.
    pub fn live_envoys(&self) -> usize {
        self.ingest.live().len()
    }

    /// Submits one envoy's points through the pipeline as `POST /positions` does (minus the
    /// 24-hour rule: [`Ingest::submit_history`]), waiting for the commit.
    pub async fn append(
        &self,
        user: UserId,
        pings: &[Ping],
        shift_ms: i64,
    ) -> anyhow::Result<Counts> {
        let ingest = &self.ingest;
        let points: Vec<PointIn> = pings
            .iter()
            .map(|p| PointIn {
                ts: from_millis(p.ts * 1000 + shift_ms),
                lat: p.lat,
                lng: p.lng,
                accuracy_m: ACCURACY_M,
            })
            .collect();
        let sent = points.len() as u64;
        let report = match ingest.submit_history(user, points, Crs::Wgs84).await {
            // a chunk with no valid point counts as rejected
            Ok(r) | Err(SubmitError::NoValidPoints(r)) => r,
            Err(e) => return Err(anyhow::anyhow!("appending positions: {e}")),
        };
        let rejected = report.rejected.len() as u64;
        let accepted = report.accepted as u64;
        let flagged = report.flagged as u64;
        Ok(Counts {
            sent,
            accepted,
            duplicates: sent - rejected - accepted,
            flagged,
            rejected,
            appends: 1,
        })
    }
}
