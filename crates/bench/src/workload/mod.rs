//! Reading the shared workload of `../shared/bench/` (`gen_workload.py --out DIR`): plain CSV,
//! one header line, `,` separators, no quoting ([`read_pings`], the queries of [`queries`],
//! `meta.json` in [`meta`]); and the files `bench load` writes next to them: the envoys'
//! sessions for `bench ingest`, the time shift and a commander's session for `bench heatmap`.

pub mod meta;
pub mod queries;

use anyhow::Context as _;
use std::collections::HashMap;
use std::path::Path;

/// The file of `bench load`'s sessions, in the workload directory: `volunteer_id,token`.
pub const SESSIONS_FILE: &str = "peacepatrol-sessions.csv";

/// The file of `bench load`'s time shift and commander session, in the workload directory:
/// `{"shift_ms": …, "commander_token": "…"}` ([`BenchFile`]).
pub const BENCH_FILE: &str = "peacepatrol-bench.json";

/// The accuracy radius given to every workload point (its GPS noise is 4 m, one sigma).
pub const ACCURACY_M: f64 = 5.0;

/// The password of every envoy `bench load` creates (their phones are [`phone_of`]).
pub const BENCH_PASSWORD: &str = "peace-bench-2026";

/// The phone of the workload's volunteer `id`: `170` and the id on 8 digits, a mainland
/// mobile number that no real district roster uses for its volunteers' own phones.
pub fn phone_of(id: u32) -> String {
    format!("170{id:08}")
}

/// A row of `footprints.csv` or `updates.csv`: `volunteer_id,lat,lng,ts`, or of
/// `volunteers.csv`: `id,lat,lng,last_seen_unix`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ping {
    /// volunteer id (1..)
    pub id: u32,
    /// WGS-84 degrees
    pub lat: f64,
    /// WGS-84 degrees
    pub lng: f64,
    /// Unix seconds
    pub ts: i64,
}

/// `meta.json`'s reference time: the workload's "now", in Unix seconds.
pub fn now_unix(dir: &Path) -> anyhow::Result<i64> {
    let path = dir.join("meta.json");
    let meta: serde_json::Value = serde_json::from_slice(
        &std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?,
    )
    .with_context(|| format!("parsing {}", path.display()))?;
    meta["now_unix"]
        .as_i64()
        .with_context(|| format!("{} has no now_unix", path.display()))
}

/// Reads a `id,lat,lng,ts` file (`volunteers.csv`, `footprints.csv`, `updates.csv`) whose
/// header starts with `id_column`, calling `each` on every row in file order.
pub fn read_pings(
    path: &Path,
    id_column: &str,
    mut each: impl FnMut(Ping),
) -> anyhow::Result<usize> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    anyhow::ensure!(
        header.starts_with(&format!("{id_column},lat,lng,")),
        "{}: unexpected header {header:?}",
        path.display()
    );
    let mut n = 0;
    for (i, line) in lines.enumerate() {
        let ping = parse_ping(line)
            .with_context(|| format!("{} line {}: {line:?}", path.display(), i + 2))?;
        each(ping);
        n += 1;
    }
    Ok(n)
}

fn parse_ping(line: &str) -> anyhow::Result<Ping> {
    let mut f = line.split(',');
    let mut next = || f.next().context("too few columns");
    Ok(Ping {
        id: next()?.parse()?,
        lat: next()?.parse()?,
        lng: next()?.parse()?,
        ts: next()?.parse()?,
    })
}

/// Writes the sessions file: `volunteer_id,token` per envoy.
pub fn write_sessions(dir: &Path, sessions: &[(u32, String)]) -> anyhow::Result<()> {
    let mut out = String::with_capacity(sessions.len() * 56 + 32);
    out.push_str("volunteer_id,token\n");
    for (id, token) in sessions {
        out.push_str(&format!("{id},{token}\n"));
    }
    let path = dir.join(SESSIONS_FILE);
    std::fs::write(&path, out).with_context(|| format!("writing {}", path.display()))
}

/// What `bench load` tells the benches that read its database: [`BENCH_FILE`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BenchFile {
    /// What every workload time was shifted by, in milliseconds: workload `ts` (Unix seconds)
    /// is stored as `ts * 1000 + shift_ms` Unix milliseconds.
    pub shift_ms: i64,
    /// A session token of the bench's commander (who sees every heat map cell).
    pub commander_token: String,
}

impl BenchFile {
    /// Writes `DIR/peacepatrol-bench.json`.
    pub fn write(&self, dir: &Path) -> anyhow::Result<()> {
        let path = dir.join(BENCH_FILE);
        let mut json = serde_json::to_string_pretty(self)?;
        json.push('\n');
        std::fs::write(&path, json).with_context(|| format!("writing {}", path.display()))
    }

    /// Reads `DIR/peacepatrol-bench.json`.
    pub fn read(dir: &Path) -> anyhow::Result<BenchFile> {
        let path = dir.join(BENCH_FILE);
        let text = std::fs::read(&path).with_context(|| {
            format!(
                "reading {} (run `peacepatrol bench load --workload {}` first)",
                path.display(),
                dir.display()
            )
        })?;
        serde_json::from_slice(&text).with_context(|| format!("parsing {}", path.display()))
    }
}

/// Reads the sessions file `bench load` wrote.
pub fn read_sessions(dir: &Path) -> anyhow::Result<HashMap<u32, String>> {
    let path = dir.join(SESSIONS_FILE);
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "reading {} (run `peacepatrol bench load --workload {}` first)",
            path.display(),
            dir.display()
        )
    })?;
    text.lines()
        .skip(1)
        .map(|line| {
            let (id, token) = line
                .split_once(',')
                .with_context(|| format!("{}: bad line {line:?}", path.display()))?;
            Ok((id.parse()?, token.to_owned()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_of_volunteers_are_valid_mainland_mobiles() {
        for id in [1, 110_000, 99_999_999] {
            let phone = pp_domain::account::Phone::parse(&phone_of(id)).unwrap();
            assert_eq!(phone.as_str(), format!("+86{}", phone_of(id)));
        }
    }

    #[test]
    fn rows_parse_and_headers_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("updates.csv");
        std::fs::write(
            &path,
            "volunteer_id,lat,lng,ts\n66,23.107996,113.318595,1781524801\n",
        )
        .unwrap();
        let mut rows = Vec::new();
        assert_eq!(
            read_pings(&path, "volunteer_id", |p| rows.push(p)).unwrap(),
            1
        );
        assert_eq!(
            rows,
            [Ping {
                id: 66,
                lat: 23.107996,
                lng: 113.318595,
                ts: 1781524801
            }]
        );
        assert!(read_pings(&path, "id", |_| ()).is_err());
        write_sessions(dir.path(), &[(66, "tok".to_owned())]).unwrap();
        assert_eq!(read_sessions(dir.path()).unwrap()[&66], "tok");
        let bench = BenchFile {
            shift_ms: -3_600_000,
            commander_token: "c".to_owned(),
        };
        bench.write(dir.path()).unwrap();
        assert_eq!(BenchFile::read(dir.path()).unwrap(), bench);
    }
}
