//! What `bench nearest` takes from the workload: the volunteers active in the server's
//! window, the queries and their expected answers.

use crate::workload::queries::{read_expected, read_queries, Query};
use crate::workload::{self, Ping};
use std::collections::HashMap;
use std::path::Path;

/// The server's live window (`LIVE_MINUTES`), seconds.
pub const WINDOW_S: i64 = 600;

/// What the benchmark takes from the workload: the volunteers seen in its last
/// [`WINDOW_S`] seconds, the queries and their expected answers.
pub struct Sample {
    /// the workload's now, Unix seconds
    pub now_unix: i64,
    /// the volunteers seen in the window before it
    pub active: Vec<Ping>,
    /// the queries
    pub queries: Vec<Query>,
    /// their expected answers, by query id
    pub expected: HashMap<u32, Vec<(u32, f64)>>,
    /// the workload's size, for the figures' lines
    pub size: String,
}

impl Sample {
    /// Reads it from the workload directory.
    pub fn read(dir: &Path) -> anyhow::Result<Sample> {
        let now_unix = workload::now_unix(dir)?;
        let mut volunteers = Vec::new();
        workload::read_pings(&dir.join("volunteers.csv"), "id", |p| volunteers.push(p))?;
        let queries = read_queries(&dir.join("queries.csv"))?;
        let expected = read_expected(&dir.join("queries_expected.csv"))?;
        let active: Vec<Ping> = volunteers
            .iter()
            .filter(|v| v.ts >= now_unix - WINDOW_S)
            .copied()
            .collect();
        let size = format!(
            "{} live envoys of {}, {} queries (k {}, {} m)",
            active.len(),
            volunteers.len(),
            queries.len(),
            queries.first().map_or(0, |q| q.k),
            queries.first().map_or(0.0, |q| q.radius_m)
        );
        Ok(Sample {
            now_unix,
            active,
            queries,
            expected,
            size,
        })
    }
}
