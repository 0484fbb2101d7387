//! The statistics check: before the drill, that the server is quiet (the figures of active
//! envoys count whole hours, so any other activity in the drill's hours would show); after
//! it, every figure of `GET /stats` against what the drill did, `change_pct` against its own
//! definition, and the CSV and JSON exports against the answer.

use crate::api::Api;
use chrono::{DurationRound as _, SecondsFormat};
use pp_domain::stats;
use pp_domain::time::Timestamp;
use pp_domain::UserId;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// What the drill did, as the statistics count it.
#[derive(Debug, Default)]
pub struct Expected {
    pub tasks_published: usize,
    pub teams_formed: usize,
    /// team size at the start → teams
    pub teams_by_size: BTreeMap<String, usize>,
    pub participants: BTreeSet<UserId>,
    /// members' in-area time recorded at the finishes, ms
    pub patrol_ms: i64,
    pub qualified: BTreeSet<UserId>,
    pub points: i64,
    pub fund_cents: i64,
    pub incidents_reported: usize,
    pub incidents_by_category: BTreeMap<String, usize>,
    pub incidents_by_outcome: BTreeMap<String, usize>,
    /// milliseconds from report to resolution, of the resolved reports
    pub resolve_ms: Vec<i64>,
    pub dispatches: usize,
    /// milliseconds to the first acceptance, of the dispatches someone took
    pub first_accept_ms: Vec<i64>,
    /// milliseconds to the first arrival, of the dispatches someone reached
    pub arrival_ms: Vec<i64>,
    pub envoys_active: usize,
    pub envoys_registered: usize,
}

/// One figure to compare: its name, its key in a map figure, the value expected, and how far
/// the server's may be from it (its rounding).
struct Row {
    figure: &'static str,
    key: Option<String>,
    value: Option<f64>,
    tolerance: f64,
}

impl Expected {
    fn rows(&self) -> Vec<Row> {
        let count = |figure: &'static str, n: usize| Row {
            figure,
            key: None,
            value: Some(n as f64),
            tolerance: 0.0,
        };
        let mut rows = vec![
            count("tasks_published", self.tasks_published),
            count("teams_formed", self.teams_formed),
        ];
        for (k, n) in &self.teams_by_size {
            rows.push(Row {
                key: Some(k.clone()),
                ..count("teams_by_size", *n)
            });
        }
        rows.push(count("participants", self.participants.len()));
        rows.push(Row {
            figure: "patrol_hours",
            key: None,
            value: Some(stats::patrol_hours(self.patrol_ms)),
            tolerance: 0.01,
        });
        rows.push(count("qualified_members", self.qualified.len()));
        rows.push(Row {
            value: Some(self.points as f64),
            ..count("points_awarded", 0)
        });
        rows.push(Row {
            value: Some(self.fund_cents as f64),
            ..count("fund_awarded_cents", 0)
        });
        rows.push(count("incidents_reported", self.incidents_reported));
        for (k, n) in &self.incidents_by_category {
            rows.push(Row {
                key: Some(k.clone()),
                ..count("incidents_by_category", *n)
            });
        }
        for (k, n) in &self.incidents_by_outcome {
            rows.push(Row {
                key: Some(k.clone()),
                ..count("incidents_by_outcome", *n)
            });
        }
        let seconds = |figure: &'static str, ms: &[i64]| Row {
            figure,
            key: None,
            value: stats::median_seconds(ms),
            tolerance: 0.1,
        };
        rows.push(seconds("incident_median_resolve_s", &self.resolve_ms));
        rows.push(count("dispatches", self.dispatches));
        rows.push(seconds(
            "dispatch_median_first_accept_s",
            &self.first_accept_ms,
        ));
        rows.push(seconds("dispatch_median_arrival_s", &self.arrival_ms));
        rows.push(count("envoys_active", self.envoys_active));
        rows.push(count("envoys_registered", self.envoys_registered));
        rows
    }
}

fn rfc3339(t: Timestamp) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn stats_query(from: Timestamp, to: Timestamp) -> String {
    format!(
        "?from={}&to={}&compare=previous_year",
        rfc3339(from),
        rfc3339(to)
    )
}

/// Figures that show activity, checked to be zero before the drill.
const ACTIVITY: [&str; 7] = [
    "tasks_published",
    "teams_formed",
    "incidents_reported",
    "dispatches",
    "envoys_active",
    "points_awarded",
    "fund_awarded_cents",
];

/// Refuses to run unless the statistics of the current hour up to `now` show no activity;
/// returns the envoys registered so far.
pub async fn check_quiet(api: &Api, token: &str, now: Timestamp) -> anyhow::Result<usize> {
    let hour = now
        .duration_trunc(chrono::Duration::hours(1))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let to = now + chrono::Duration::milliseconds(1);
    let reply = api.stats_reply(token, &stats_query(hour, to)).await?;
    let (status, stats) = (reply.status, reply.json());
    anyhow::ensure!(
        status != reqwest::StatusCode::NOT_FOUND,
        "the server has no GET /api/v1/stats: a version without statistics cannot be drilled"
    );
    anyhow::ensure!(status.is_success(), "GET /stats: HTTP {status}: {stats}");
    let busy: Vec<String> = ACTIVITY
        .iter()
        .filter_map(|f| {
            let v = stats[*f]["value"].as_f64().unwrap_or(0.0);
            (v != 0.0).then(|| format!("{f} = {v}"))
        })
        .collect();
    anyhow::ensure!(
        busy.is_empty(),
        "the server is not quiet: since {} it shows {}. The statistics count active envoys by \
         whole hours, so the drill's figures would include that activity: run the drill on a \
         server nobody else uses (a fresh data dir or database), in an hour without activity",
        rfc3339(hour),
        busy.join(", ")
    );
    let registered = stats["envoys_registered"]["value"]
        .as_f64()
        .ok_or_else(|| anyhow::anyhow!("GET /stats has no envoys_registered: {stats}"))?;
    Ok(registered as usize)
}

/// Every figure object `{value, previous, change_pct}` of a statistics answer, by (figure,
/// key): key "" for a plain figure.
fn figures_of(stats: &Value) -> BTreeMap<(String, String), Value> {
    let mut out = BTreeMap::new();
    let Some(obj) = stats.as_object() else {
        return out;
    };
    for (name, v) in obj {
        let Some(inner) = v.as_object() else { continue };
        if inner.contains_key("value") {
            out.insert((name.clone(), String::new()), v.clone());
        } else {
            for (key, f) in inner {
                if f.get("value").is_some() {
                    out.insert((name.clone(), key.clone()), f.clone());
                }
            }
        }
    }
    out
}

/// A number, or None for null / an empty CSV field.
fn number(v: &Value) -> Option<f64> {
    v.as_f64()
}

fn same(a: Option<f64>, b: Option<f64>, tolerance: f64) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => (a - b).abs() <= tolerance + 1e-9,
        _ => false,
    }
}

fn show(v: Option<f64>) -> String {
    v.map_or_else(|| "null".to_owned(), |x| format!("{x}"))
}

fn csv_number(s: &str) -> Option<f64> {
    match s.trim() {
        "" | "null" => None,
        t => t.parse().ok(),
    }
}

/// Reads the statistics of `[from, to)` and compares them with `expected`; prints the table
/// and fails on any difference.
pub async fn check(
    api: &Api,
    token: &str,
    from: Timestamp,
    to: Timestamp,
    expected: &Expected,
) -> anyhow::Result<()> {
    let query = stats_query(from, to);
    let stats = api.stats(token, &query).await?;
    let csv = api.stats_csv(token, &query).await?;
    let export = api.stats_json(token, &query).await?;
    let got = figures_of(&stats);
    let mut problems: Vec<String> = Vec::new();

    println!(
        "\nstatistics {} .. {} (compare previous_year)",
        rfc3339(from),
        rfc3339(to)
    );
    println!("  {:<44} {:>12} {:>12}  ok", "figure", "expected", "server");
    let rows = expected.rows();
    for row in &rows {
        let key = row.key.clone().unwrap_or_default();
        let server = got
            .get(&(row.figure.to_owned(), key.clone()))
            .and_then(|f| number(&f["value"]));
        let ok = same(row.value, server, row.tolerance);
        let name = if key.is_empty() {
            row.figure.to_owned()
        } else {
            format!("{}[{key}]", row.figure)
        };
        println!(
            "  {name:<44} {:>12} {:>12}  {}",
            show(row.value),
            show(server),
            if ok { "ok" } else { "MISMATCH" }
        );
        if !ok {
            problems.push(format!(
                "{name}: expected {}, server {}",
                show(row.value),
                show(server)
            ));
        }
    }
    // a map figure may hold only the keys the drill made (zeros aside)
    for ((figure, key), f) in &got {
        if key.is_empty() {
            continue;
        }
        let known = rows
            .iter()
            .any(|r| r.figure == figure && r.key.as_deref() == Some(key.as_str()));
        let value = number(&f["value"]).unwrap_or(0.0);
        if !known && value != 0.0 {
            problems.push(format!(
                "{figure}[{key}] = {value}, which the drill did not make"
            ));
        }
    }
    for row in &rows {
        if row.key.is_none() && !got.contains_key(&(row.figure.to_owned(), String::new())) {
            problems.push(format!("GET /stats has no {}", row.figure));
        }
    }
    if stats["compare"] != "previous_year" || stats["previous_from"].is_null() {
        problems.push(format!(
            "compare / previous_from: {} / {}",
            stats["compare"], stats["previous_from"]
        ));
    }
    // change_pct by its definition, on every figure
    for ((figure, key), f) in &got {
        let want = stats::change_pct(number(&f["value"]), number(&f["previous"]));
        if !same(want, number(&f["change_pct"]), 0.1) {
            problems.push(format!(
                "{figure}[{key}]: change_pct {} for value {} and previous {} (expected {})",
                f["change_pct"],
                f["value"],
                f["previous"],
                show(want)
            ));
        }
    }
    // the JSON export is the same figures
    let exported = figures_of(&export);
    if exported != got {
        problems.push(format!(
            "GET /stats/export.json differs from GET /stats ({} figures against {})",
            exported.len(),
            got.len()
        ));
    }
    // the CSV export: figure,key,value,previous,change_pct, one row per figure (and key)
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    match reader.headers() {
        Ok(h)
            if h.iter()
                .eq(["figure", "key", "value", "previous", "change_pct"]) => {}
        h => problems.push(format!("CSV export header {h:?}")),
    }
    let mut csv_rows = 0;
    for record in reader.records() {
        let f = match record {
            Ok(r) if r.len() == 5 => r,
            other => {
                problems.push(format!("CSV export row {other:?}"));
                continue;
            }
        };
        csv_rows += 1;
        let Some(j) = got.get(&(f[0].to_owned(), f[1].to_owned())) else {
            problems.push(format!(
                "CSV export has {}[{}], GET /stats does not",
                &f[0], &f[1]
            ));
            continue;
        };
        for (col, name) in [(2, "value"), (3, "previous"), (4, "change_pct")] {
            if !same(csv_number(&f[col]), number(&j[name]), 1e-6) {
                problems.push(format!(
                    "CSV export {}[{}] {name} {:?}, JSON {}",
                    &f[0], &f[1], &f[col], j[name]
                ));
            }
        }
    }
    if csv_rows != got.len() {
        problems.push(format!(
            "CSV export has {csv_rows} rows, GET /stats {} figures",
            got.len()
        ));
    } else {
        println!("  CSV export: {csv_rows} rows, all equal to the JSON; JSON export equal too");
    }
    if problems.is_empty() {
        println!("every figure matches what the drill did");
        Ok(())
    } else {
        for p in &problems {
            println!("  MISMATCH {p}");
        }
        anyhow::bail!(
            "{} statistics do not match what the drill did",
            problems.len()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_are_numbers_or_null() {
        assert_eq!(csv_number(""), None);
        assert_eq!(csv_number("12.5"), Some(12.5));
    }

    #[test]
    fn figures_are_read_by_name_and_key() {
        let v = serde_json::json!({
            "from": "x",
            "tasks_published": {"value": 21, "previous": null, "change_pct": null},
            "teams_by_size": {"3": {"value": 84, "previous": 0, "change_pct": null}},
        });
        let f = figures_of(&v);
        assert_eq!(f.len(), 2);
        assert!(f.contains_key(&("teams_by_size".to_owned(), "3".to_owned())));
        assert!(f.contains_key(&("tasks_published".to_owned(), String::new())));
    }
}
