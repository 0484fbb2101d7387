//! What a raster tile of the heat map shows: its cells, each shaded on a log scale against
//! the busiest cell of the whole window (so that neighbouring tiles agree), that maximum
//! cached for a while.

use super::HeatIndex;
use pp_domain::heat::Span;
use pp_geo::tile::Tile;
use std::time::{Duration, Instant};

/// How long a window's busiest cell is reused by the tiles.
pub(super) const MAX_CACHE: Duration = Duration::from_secs(30);

impl HeatIndex {
    /// The most visits of one cell in the window (named `window` for the cache) at `res`,
    /// among the cells shown with `min_envoys`: what a tile's colours are scaled to, the same
    /// for every tile of the window. Recomputed at most every 30 s.
    pub fn max_visits(&self, window: &str, span: Span, res: u8, min_envoys: u32) -> u64 {
        let key = (window.to_owned(), res, min_envoys);
        let mut cache = self.max.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(&(at, max)) = cache.get(&key) {
            if at.elapsed() < MAX_CACHE {
                return max;
            }
        }
        let max = self
            .cells(span, res, None, min_envoys)
            .iter()
            .map(|c| c.visits)
            .max()
            .unwrap_or(0);
        cache.insert(key, (Instant::now(), max));
        max
    }

    /// The cells of `tile` in the window (named `window`), at the tile's resolution, with at
    /// least `min_envoys` envoys, each with its shade from 0 to 1: `ln(1 + visits)` over
    /// `ln(1 + the window's busiest cell)`.
    pub fn tile_shades(
        &self,
        window: &str,
        span: Span,
        tile: &Tile,
        min_envoys: u32,
    ) -> Vec<(u64, f32)> {
        let res = tile.heat_res();
        let max = self.max_visits(window, span, res, min_envoys);
        let scale = (1.0 + max as f64).ln().max(f64::MIN_POSITIVE);
        self.cells(span, res, Some(&tile.bbox()), min_envoys)
            .iter()
            .map(|c| {
                (
                    c.cell,
                    ((1.0 + c.visits as f64).ln() / scale).min(1.0) as f32,
                )
            })
            .collect()
    }
}
