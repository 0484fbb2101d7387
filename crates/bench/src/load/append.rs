//! Appending the workload: every envoy's footprints in chunks, then its live position, from
//! `--concurrency` tasks at once but each envoy's chunks strictly in order, with a progress
//! line every 10 s.

use super::pipeline::{Counts, Pipeline};
use crate::workload::Ping;
use pp_domain::UserId;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// One volunteer's work: its footprints in `ts` order, then its live position.
pub struct Envoy {
    /// its account
    pub user: UserId,
    /// its footprints, in `ts` order
    pub track: Vec<Ping>,
    /// its live position
    pub live: Ping,
}

/// Appends every envoy's footprints then live position from `concurrency` tasks; returns the
/// counts of both phases.
pub async fn append_all(
    pipeline: Arc<Pipeline>,
    envoys: Vec<Envoy>,
    concurrency: usize,
    chunk: usize,
    shift_ms: i64,
) -> anyhow::Result<(Counts, Counts)> {
    let envoys = Arc::new(envoys);
    let next = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let total: usize = envoys.iter().map(|e| e.track.len() + 1).sum();
    let progress = tokio::spawn({
        let done = Arc::clone(&done);
        async move {
            let start = Instant::now();
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(10));
            tick.tick().await;
            loop {
                tick.tick().await;
                let n = done.load(Ordering::Relaxed);
                eprintln!(
                    "  … {n} of {total} rows, {:.0} rows/s",
                    n as f64 / start.elapsed().as_secs_f64()
                );
            }
        }
    });
    let tasks: Vec<_> = (0..concurrency.max(1))
        .map(|_| {
            let (pipeline, envoys, next, done) = (
                Arc::clone(&pipeline),
                Arc::clone(&envoys),
                Arc::clone(&next),
                Arc::clone(&done),
            );
            tokio::spawn(async move {
                let (mut footprints, mut live) = (Counts::default(), Counts::default());
                while let Some(e) = envoys.get(next.fetch_add(1, Ordering::Relaxed)) {
                    for part in e.track.chunks(chunk) {
                        footprints.add(pipeline.append(e.user, part, shift_ms).await?);
                        done.fetch_add(part.len() as u64, Ordering::Relaxed);
                    }
                    live.add(pipeline.append(e.user, &[e.live], shift_ms).await?);
                    done.fetch_add(1, Ordering::Relaxed);
                }
                anyhow::Ok((footprints, live))
            })
        })
        .collect();
    let (mut footprints, mut live) = (Counts::default(), Counts::default());
    let mut failure = None;
    for task in tasks {
        match task.await? {
            Ok((f, l)) => {
                footprints.add(f);
                live.add(l);
            }
            Err(e) => failure = Some(e),
        }
    }
    progress.abort();
    match failure {
        Some(e) => Err(e),
        None => Ok((footprints, live)),
    }
}
