//! What the heat map bench reads of the workload's `meta.json`: its now, the heat map's box,
//! windows and grid, the row counts and the files' sha256.

use anyhow::Context as _;
use pp_geo::LatLng;
use std::path::Path;

/// What the bench needs of `meta.json`.
#[derive(Debug, Clone)]
pub struct Meta {
    /// the workload's now, Unix seconds
    pub now_unix: i64,
    /// `heat_bbox`
    pub bbox: Bbox,
    /// `heat_windows_days`
    pub windows: Vec<i64>,
    /// `heat_grid_deg`, the peer's snap-to-grid size
    pub grid_deg: f64,
    /// rows of footprints.csv
    pub footprints: u64,
    /// rows of volunteers.csv
    pub volunteers: u64,
    /// patrol sessions of the footprints
    pub sessions: u64,
    /// the longest window, days
    pub days: i64,
    /// sha256 of footprints.csv
    pub footprints_sha256: String,
    /// sha256 of volunteers.csv
    pub volunteers_sha256: String,
}

/// meta.json's `heat_bbox`, degrees.
#[derive(Debug, Clone, Copy)]
pub struct Bbox {
    /// west
    pub min_lng: f64,
    /// south
    pub min_lat: f64,
    /// east
    pub max_lng: f64,
    /// north
    pub max_lat: f64,
}

impl Bbox {
    /// Whether `p` lies in the box (edges included).
    pub fn contains(&self, p: LatLng) -> bool {
        (self.min_lat..=self.max_lat).contains(&p.lat)
            && (self.min_lng..=self.max_lng).contains(&p.lng)
    }

    /// `minLng,minLat,maxLng,maxLat`, the API's and ST_MakeEnvelope's order.
    pub fn csv(&self) -> String {
        format!(
            "{},{},{},{}",
            self.min_lng, self.min_lat, self.max_lng, self.max_lat
        )
    }
}

impl Meta {
    /// Reads `DIR/meta.json`.
    pub fn read(dir: &Path) -> anyhow::Result<Meta> {
        let path = dir.join("meta.json");
        let m: serde_json::Value = serde_json::from_slice(
            &std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?,
        )
        .with_context(|| format!("parsing {}", path.display()))?;
        let f = |v: &serde_json::Value, what: &str| {
            v.as_f64()
                .with_context(|| format!("{}: no number {what}", path.display()))
        };
        let i = |v: &serde_json::Value, what: &str| {
            v.as_i64()
                .with_context(|| format!("{}: no integer {what}", path.display()))
        };
        let s = |v: &serde_json::Value, what: &str| {
            v.as_str()
                .map(str::to_owned)
                .with_context(|| format!("{}: no string {what}", path.display()))
        };
        let b = &m["heat_bbox"];
        let windows = m["heat_windows_days"]
            .as_array()
            .context("meta.json: no heat_windows_days")?
            .iter()
            .map(|d| i(d, "heat_windows_days"))
            .collect::<anyhow::Result<Vec<i64>>>()?;
        Ok(Meta {
            now_unix: i(&m["now_unix"], "now_unix")?,
            bbox: Bbox {
                min_lng: f(&b["lng_min"], "heat_bbox.lng_min")?,
                min_lat: f(&b["lat_min"], "heat_bbox.lat_min")?,
                max_lng: f(&b["lng_max"], "heat_bbox.lng_max")?,
                max_lat: f(&b["lat_max"], "heat_bbox.lat_max")?,
            },
            days: windows.iter().copied().max().unwrap_or(15),
            windows,
            grid_deg: f(&m["heat_grid_deg"], "heat_grid_deg")?,
            footprints: u64::try_from(i(&m["rows"]["footprints.csv"], "rows.footprints.csv")?)?,
            volunteers: u64::try_from(i(&m["rows"]["volunteers.csv"], "rows.volunteers.csv")?)?,
            sessions: m["footprint_sessions"].as_u64().unwrap_or(0),
            footprints_sha256: s(&m["sha256"]["footprints.csv"], "sha256.footprints.csv")?,
            volunteers_sha256: s(&m["sha256"]["volunteers.csv"], "sha256.volunteers.csv")?,
        })
    }
}
