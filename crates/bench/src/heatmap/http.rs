//! `bench heatmap` over HTTP: each measurement after [`WARMUP`] warm-up requests (the last
//! one's answer read: a heat map's counts per cell, a tile's PNG), then timed with the
//! harness's drive loop, its answers' sizes tallied.

use crate::harness::{drive, Figures, Tally};
use crate::reference::Counts;
use anyhow::Context as _;
use pp_geo::tile::Tile;
use pp_geo::LatLng;
use pp_sim::api::{Api, Call, Reply};
use serde::Deserialize;

/// Requests sent before each measurement, not counted.
pub const WARMUP: usize = 5;
/// The tile measured: zoom 14, the one holding Canton Tower.
pub const TILE_ZOOM: u8 = 14;
/// See [`TILE_ZOOM`].
pub const CANTON_TOWER: (f64, f64) = (23.1066, 113.3245);

/// The body sizes of a run's answers.
#[derive(Debug, Default)]
pub struct Size {
    answers: u64,
    bytes: u64,
    /// the smallest
    pub min: u64,
    /// the largest
    pub max: u64,
}

impl Tally for Size {
    fn add(&mut self, body: &[u8]) {
        let n = body.len() as u64;
        self.min = if self.answers == 0 {
            n
        } else {
            self.min.min(n)
        };
        self.max = self.max.max(n);
        self.answers += 1;
        self.bytes += n;
    }

    fn merge(&mut self, o: Self) {
        if o.answers > 0 {
            self.min = if self.answers == 0 {
                o.min
            } else {
                self.min.min(o.min)
            };
        }
        self.max = self.max.max(o.max);
        self.answers += o.answers;
        self.bytes += o.bytes;
    }
}

/// `GET /heatmap`'s answer, as far as the bench reads it.
#[derive(Debug, Deserialize)]
pub struct MapAnswer {
    features: Vec<MapFeature>,
    /// the start of the hours counted
    pub from: String,
    /// their end
    pub to: String,
    min_envoys: u32,
}

#[derive(Debug, Deserialize)]
struct MapFeature {
    properties: MapCell,
}

#[derive(Debug, Deserialize)]
struct MapCell {
    cell: String,
    visits: u64,
    envoys: u64,
}

/// One HTTP measurement's result, for the summary.
pub struct Measured {
    /// the timed run
    pub figures: Figures<Size>,
    /// cells in the answer (a heat map)
    pub cells: Option<usize>,
}

impl Measured {
    /// Its median latency, ms.
    pub fn p50(&self) -> f64 {
        self.figures.percentile_ms(0.50)
    }

    /// `p50 … ms, p99 … ms, mean … ms, … req/s`.
    pub fn latencies(&self) -> String {
        format!(
            "p50 {:.2} ms, p99 {:.2} ms, mean {:.2} ms, {:.0} req/s",
            self.p50(),
            self.figures.percentile_ms(0.99),
            self.figures.mean_ms(),
            self.figures.requests() as f64 / self.figures.wall().as_secs_f64()
        )
    }
}

/// [`WARMUP`] requests, each of which must succeed; returns the last answer.
async fn warm_up(api: &Api, call: &Call) -> anyhow::Result<Reply> {
    let url = call.path();
    let mut last = None;
    for _ in 0..WARMUP {
        let r = api
            .fetch(call)
            .await
            .with_context(|| format!("GET {url}"))?;
        anyhow::ensure!(
            r.status.is_success(),
            "GET {url}: HTTP {}: {}",
            r.status,
            String::from_utf8_lossy(&r.body[..r.body.len().min(500)])
        );
        last = Some(r);
    }
    last.context("no warm-up request")
}

/// Measures a heat map URL; returns the figures and the answer (parsed once, from the last
/// warm-up request) as counts per cell.
pub async fn measure_map(
    api: &Api,
    what: &str,
    call: Call,
    concurrency: usize,
    n: usize,
) -> anyhow::Result<((Measured, MapAnswer), Counts)> {
    let url = call.path();
    let body = warm_up(api, &call).await?;
    let answer: MapAnswer =
        serde_json::from_slice(&body.body).with_context(|| format!("GET {url}: not a heat map"))?;
    anyhow::ensure!(
        answer.min_envoys <= 1,
        "GET {url}: cells with fewer than {} envoys are left out: is peacepatrol-bench.json's commander_token a commander's?",
        answer.min_envoys
    );
    let mut counts = Counts::with_capacity(answer.features.len());
    for f in &answer.features {
        let cell = u64::from_str_radix(&f.properties.cell, 16)
            .with_context(|| format!("GET {url}: bad cell {:?}", f.properties.cell))?;
        anyhow::ensure!(
            counts
                .insert(cell, (f.properties.visits, f.properties.envoys))
                .is_none(),
            "GET {url}: cell {} twice",
            f.properties.cell
        );
    }
    let figures = timed(api, what, call, concurrency, n).await?;
    println!(
        "  {} cells, {} bytes{}; window {} .. {}; mean {:.2} ms",
        counts.len(),
        body.body.len(),
        sizes(&figures.tally),
        answer.from,
        answer.to,
        figures.mean_ms()
    );
    let measured = Measured {
        figures,
        cells: Some(counts.len()),
    };
    Ok(((measured, answer), counts))
}

/// Measures a tile URL.
pub async fn measure_tile(
    api: &Api,
    what: &str,
    call: Call,
    concurrency: usize,
    n: usize,
) -> anyhow::Result<Measured> {
    let url = call.path();
    let body = warm_up(api, &call).await?;
    anyhow::ensure!(
        body.content_type == "image/png" && body.body.starts_with(b"\x89PNG"),
        "GET {url}: not a PNG ({})",
        body.content_type
    );
    let figures = timed(api, what, call, concurrency, n).await?;
    println!(
        "  PNG of {} bytes{}; mean {:.2} ms",
        body.body.len(),
        sizes(&figures.tally),
        figures.mean_ms()
    );
    Ok(Measured {
        figures,
        cells: None,
    })
}

/// `n` requests of `call` from `concurrency` client tasks, printed as `what`.
async fn timed(
    api: &Api,
    what: &str,
    call: Call,
    concurrency: usize,
    n: usize,
) -> anyhow::Result<Figures<Size>> {
    let figures: Figures<Size> = drive(api, concurrency, n, move |_| call.clone()).await?;
    figures.print(what, concurrency);
    Ok(figures)
}

/// ", every answer the same size" or the range of sizes.
fn sizes(s: &Size) -> String {
    if s.min == s.max {
        String::new()
    } else {
        format!(" (answers {} to {} bytes)", s.min, s.max)
    }
}

/// The XYZ tile (Web Mercator, as OpenStreetMap's) holding a point.
pub fn tile_of(lat: f64, lng: f64, z: u8) -> anyhow::Result<Tile> {
    Ok(Tile::containing(LatLng::new(lat, lng)?, z)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canton_tower_tile_is_the_osm_one() {
        // x = (lng + 180) / 360 * 2^14 = 13349.6; y = (1 - asinh(tan(lat)) / pi) / 2 * 2^14 = 7110.6
        let xy = |lat, lng, z| tile_of(lat, lng, z).map(|t| (t.x, t.y)).unwrap();
        assert_eq!(xy(CANTON_TOWER.0, CANTON_TOWER.1, 14), (13349, 7110));
        assert_eq!(xy(0.0, 0.0, 1), (1, 1));
        assert_eq!(xy(85.0, -179.9, 3), (0, 0));
    }
}
