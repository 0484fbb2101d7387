//! Building the heat index at start: the hourly aggregates from the store at once, the live
//! window's minutes afterwards, in the background, while the pipeline already adds new points.

use super::HeatIndex;
use pp_domain::heat::LIVE_MINUTES;
use pp_domain::time::{to_millis, Timestamp};
use pp_domain::UserId;
use pp_geo::cells::Cells;
use pp_store::{HeatRow, Store, StoreError};
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Hours of aggregates read from the store per query while loading.
const LOAD_HOURS: i64 = 24;
/// Envoys whose recent points are read per query while loading.
const LOAD_ENVOYS: usize = 512;

impl HeatIndex {
    /// Builds the index from the store's aggregates. Its live window stays empty until
    /// [`HeatIndex::rebuild_live`] has run: [`HeatIndex::record`] leaves it the points taken
    /// up to `now`.
    pub async fn load(store: &dyn Store, now: Timestamp) -> Result<HeatIndex, StoreError> {
        let index = HeatIndex::default();
        index.live_from.store(to_millis(now), Ordering::Release);
        if let Some((first, last)) = store.heat_hours().await? {
            let mut from = first;
            while from <= last {
                let rows = store.heat_rows(from, from + LOAD_HOURS - 1).await?;
                index.add_rows(&rows);
                from += LOAD_HOURS;
            }
        }
        {
            let mut inner = index.write();
            for grid in &mut inner.grids {
                for s in grid.values_mut() {
                    s.shrink();
                }
            }
        }
        Ok(index)
    }

    /// Rebuilds the live window from the stored points, taken up to the `now` given to
    /// [`HeatIndex::load`], of the envoys in `recent` (those the live index saw in the last
    /// minutes), while the pipeline already adds the newer ones: so a start does not wait for
    /// it (a crowd reporting every second leaves millions of points in ten minutes). A point
    /// taken before the start but stored while this runs is missed when its envoy was read
    /// already (the live window only; the hourly aggregates are exact).
    pub async fn rebuild_live(
        &self,
        store: &dyn Store,
        recent: &[UserId],
    ) -> Result<(), StoreError> {
        let now_ms = self.live_from.load(Ordering::Acquire);
        let now = pp_domain::time::from_millis(now_ms);
        let since = now - chrono::Duration::minutes(LIVE_MINUTES);
        let mut result = Ok(());
        // a few hundred envoys at a time: their points of the last minutes may be many
        for users in recent.chunks(LOAD_ENVOYS) {
            let tracks = match store.tracks(users, since, now).await {
                Ok(tracks) => tracks,
                Err(e) => {
                    result = Err(e);
                    break;
                }
            };
            let mut inner = self.write();
            for (user, points) in tracks {
                let envoy = inner.envoy(user);
                for p in points.iter().filter(|p| p.counts()) {
                    inner.add_recent(to_millis(p.ts), &Cells::of(p.at), envoy, now_ms);
                }
            }
        }
        self.live_from.store(0, Ordering::Release);
        self.rebuilt.notify_waiters();
        result
    }

    /// Runs [`HeatIndex::rebuild_live`] in a task of its own, logging how it went: the server
    /// answers meanwhile (the `live` window says it is not ready).
    pub fn rebuild_live_in_background(
        self: &Arc<Self>,
        store: Arc<dyn Store>,
        recent: Vec<UserId>,
    ) {
        let index = Arc::clone(self);
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            match index.rebuild_live(store.as_ref(), &recent).await {
                Ok(()) => tracing::info!(
                    envoys = recent.len(),
                    seconds = started.elapsed().as_secs_f64(),
                    "heat map live window rebuilt"
                ),
                Err(e) => tracing::error!(error = %e, "heat map live window not rebuilt"),
            }
        });
    }

    /// Adds stored aggregate rows.
    pub fn add_rows(&self, rows: &[HeatRow]) {
        let mut inner = self.write();
        for r in rows {
            let envoy = inner.envoy(r.user);
            inner.add(r.hour, &r.cells, envoy, r.visits);
        }
    }
}
