//! District statistics: what the envoys achieved in a period, counted from the stored records
//! (tasks, teams and their members, the ledger, incidents, dispatches, the hourly heat
//! aggregates), each figure beside the same period a year earlier with the change in percent.
//!
//! The store counts a period into a [`Tally`]; [`Stats::new`] turns one or two tallies into
//! the figures clients see, and [`Stats::rows`] flattens them for a CSV export.

use crate::heat::HOUR_MS;
use crate::incident::{Category, IncidentStatus};
use crate::time::Timestamp;
use crate::{DomainError, DomainResult};
use chrono::Months;
use serde::{Serialize, Serializer};
use std::collections::BTreeMap;

/// A period's length when the client names neither end.
pub const DEFAULT_PERIOD_DAYS: i64 = 7;
/// Longest period one request may ask for (a year and a bit, so a whole year with its margins
/// fits).
pub const MAX_PERIOD_DAYS: i64 = 400;

/// `[from, to)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    /// inclusive
    pub from: Timestamp,
    /// exclusive
    pub to: Timestamp,
}

impl Period {
    /// The period a client asked for: `to` defaults to `now`, `from` to
    /// [`DEFAULT_PERIOD_DAYS`] before `to`. `invalid_period` unless `from < to` and the span is
    /// at most [`MAX_PERIOD_DAYS`].
    pub fn new(
        from: Option<Timestamp>,
        to: Option<Timestamp>,
        now: Timestamp,
    ) -> DomainResult<Period> {
        let to = to.unwrap_or(now);
        let from = from.unwrap_or(to - chrono::Duration::days(DEFAULT_PERIOD_DAYS));
        if from >= to {
            return Err(DomainError::invalid(
                "invalid_period",
                "from must be before to",
            ));
        }
        if to - from > chrono::Duration::days(MAX_PERIOD_DAYS) {
            return Err(DomainError::invalid(
                "invalid_period",
                format!("a period is at most {MAX_PERIOD_DAYS} days"),
            ));
        }
        Ok(Period { from, to })
    }

    /// The same dates a year earlier (29 February becomes the 28th).
    pub fn previous_year(self) -> Period {
        let back = |t: Timestamp| t.checked_sub_months(Months::new(12)).unwrap_or(t);
        Period {
            from: back(self.from),
            to: back(self.to),
        }
    }
}

/// What to compare a period with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Compare {
    /// The same dates a year earlier.
    PreviousYear,
}

/// One period counted from the stored records, before any comparison (the store's answer).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tally {
    /// tasks created in the period
    pub tasks_published: u64,
    /// for each team started in the period, its members at the start
    pub team_sizes: Vec<u32>,
    /// distinct members of those teams at their start
    pub participants: u64,
    /// in-area patrol time of those teams' members, as recorded when each team finished
    pub patrol_ms: i64,
    /// distinct members who qualified in those teams
    pub qualified_members: u64,
    /// award entries of the ledger (not corrections) dated in the period: points
    pub points_awarded: i64,
    /// and cents of the fund
    pub fund_awarded_cents: i64,
    /// incidents reported in the period, by category
    pub incidents_by_category: BTreeMap<String, u64>,
    /// the same incidents by their status now
    pub incidents_by_status: BTreeMap<String, u64>,
    /// of those now resolved: milliseconds from report to resolution
    pub resolve_ms: Vec<i64>,
    /// dispatches opened in the period
    pub dispatches: u64,
    /// of those with an acceptance: milliseconds from opening to the first one
    pub first_accept_ms: Vec<i64>,
    /// of those with an arrival: milliseconds from opening to the first one
    pub first_arrival_ms: Vec<i64>,
    /// distinct envoys with a position in the hours the period overlaps
    pub envoys_active: u64,
    /// envoy accounts (pending ones included) made before the period's end
    pub envoys_registered: u64,
}

impl Tally {
    /// Incidents reported in the period.
    pub fn incidents(&self) -> u64 {
        self.incidents_by_category.values().sum()
    }
}

/// One figure: its value in the period, in the compared period, and the change.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Figure {
    /// the period's value (null for a median of nothing)
    #[serde(serialize_with = "number")]
    pub value: Option<f64>,
    /// the compared period's value (null without `compare`, or for a median of nothing)
    #[serde(serialize_with = "number")]
    pub previous: Option<f64>,
    /// `(value − previous) / previous × 100`, one decimal; null when previous is null or 0
    pub change_pct: Option<f64>,
}

impl Figure {
    fn new(value: Option<f64>, previous: Option<Option<f64>>) -> Figure {
        let previous = previous.flatten();
        Figure {
            value,
            previous,
            change_pct: change_pct(value, previous),
        }
    }
}

/// Writes a whole number without a fraction (`21`, not `21.0`): most figures are counts.
fn number<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match *v {
        Some(x) if x.fract() == 0.0 && x.abs() < 9e15 => s.serialize_i64(x as i64),
        Some(x) => s.serialize_f64(x),
        None => s.serialize_none(),
    }
}

/// The same, as CSV text (empty for null).
fn number_text(v: Option<f64>) -> String {
    match v {
        Some(x) if x.fract() == 0.0 && x.abs() < 9e15 => format!("{}", x as i64),
        Some(x) => format!("{x}"),
        None => String::new(),
    }
}

fn round_to(x: f64, decimals: i32) -> f64 {
    let f = 10f64.powi(decimals);
    (x * f).round() / f
}

/// The median (of an even count, the mean of the two middle values); `None` of nothing.
pub fn median(values: &[i64]) -> Option<f64> {
    let mut v = values.to_vec();
    v.sort_unstable();
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2] as f64),
        _ => Some((v[n / 2 - 1] as f64 + v[n / 2] as f64) / 2.0),
    }
}

/// `(value − previous) / previous × 100` to one decimal; `None` when either is missing or
/// `previous` is 0.
pub fn change_pct(value: Option<f64>, previous: Option<f64>) -> Option<f64> {
    match (value, previous) {
        (Some(v), Some(p)) if p != 0.0 => Some(round_to((v - p) / p * 100.0, 1)),
        _ => None,
    }
}

/// The median of durations in milliseconds, as seconds to a tenth (the medians' figures).
pub fn median_seconds(ms: &[i64]) -> Option<f64> {
    median(ms).map(|ms| round_to(ms / 1000.0, 1))
}

/// Patrol time in milliseconds as hours to two decimals (the `patrol_hours` figure).
pub fn patrol_hours(ms: i64) -> f64 {
    round_to(ms as f64 / HOUR_MS as f64, 2)
}

/// A period's statistics (`GET /stats`).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Stats {
    /// the period's start (inclusive)
    #[schema(value_type = String, format = DateTime)]
    pub from: Timestamp,
    /// the period's end (exclusive)
    #[schema(value_type = String, format = DateTime)]
    pub to: Timestamp,
    /// what the figures are compared with, if anything
    pub compare: Option<Compare>,
    /// the compared period's start
    #[schema(value_type = Option<String>, format = DateTime)]
    pub previous_from: Option<Timestamp>,
    /// the compared period's end
    #[schema(value_type = Option<String>, format = DateTime)]
    pub previous_to: Option<Timestamp>,
    /// tasks published (created) in the period
    pub tasks_published: Figure,
    /// teams that started their patrol (on site, with a photo) in the period
    pub teams_formed: Figure,
    /// those teams by their number of members at the start
    pub teams_by_size: BTreeMap<u32, Figure>,
    /// distinct envoys who were members of those teams at the start
    pub participants: Figure,
    /// hours patrolled inside the task areas by the members of those teams that have finished
    /// (two decimals)
    pub patrol_hours: Figure,
    /// distinct members of those finished teams who qualified for the reward
    pub qualified_members: Figure,
    /// points credited by patrol awards dated in the period (corrections not included)
    pub points_awarded: Figure,
    /// fund credited by patrol awards dated in the period, in cents
    pub fund_awarded_cents: Figure,
    /// incidents reported in the period
    pub incidents_reported: Figure,
    /// those incidents by category (every category, zeros included)
    pub incidents_by_category: BTreeMap<String, Figure>,
    /// those incidents by their status now
    pub incidents_by_outcome: BTreeMap<String, Figure>,
    /// of those incidents now resolved, the median seconds from report to resolution
    pub incident_median_resolve_s: Figure,
    /// emergency dispatches opened in the period
    pub dispatches: Figure,
    /// median seconds from a dispatch's opening to its first acceptance (over dispatches
    /// that had one)
    pub dispatch_median_first_accept_s: Figure,
    /// median seconds from a dispatch's opening to the first arrival on the scene
    pub dispatch_median_arrival_s: Figure,
    /// distinct envoys who sent a position in the period, counted by the hour (every hour the
    /// period overlaps counts whole: these come from the hourly heat aggregates, which are
    /// kept when raw positions are purged)
    pub envoys_active: Figure,
    /// envoy accounts (pending ones included) made before the period's end
    pub envoys_registered: Figure,
}

/// Applies `f` to the period's tally and to the compared one, if any.
fn pair<T>(now: &Tally, before: Option<&Tally>, f: impl Fn(&Tally) -> T) -> (T, Option<T>) {
    (f(now), before.map(f))
}

fn count(now: &Tally, before: Option<&Tally>, f: impl Fn(&Tally) -> u64) -> Figure {
    let (v, p) = pair(now, before, f);
    Figure::new(Some(v as f64), p.map(|p| Some(p as f64)))
}

fn measure(now: &Tally, before: Option<&Tally>, f: impl Fn(&Tally) -> Option<f64>) -> Figure {
    let (v, p) = pair(now, before, f);
    Figure::new(v, p)
}

/// Figures of a map-valued count, over the keys of both periods and `always`.
fn counts_by<K: Ord + Clone>(
    now: &Tally,
    before: Option<&Tally>,
    always: impl IntoIterator<Item = K>,
    f: impl Fn(&Tally) -> BTreeMap<K, u64>,
) -> BTreeMap<K, Figure> {
    let (v, p) = pair(now, before, f);
    let mut keys: Vec<K> = always.into_iter().collect();
    keys.extend(v.keys().cloned());
    if let Some(p) = &p {
        keys.extend(p.keys().cloned());
    }
    keys.into_iter()
        .map(|k| {
            let of = |m: &BTreeMap<K, u64>| m.get(&k).copied().unwrap_or(0) as f64;
            let figure = Figure::new(Some(of(&v)), p.as_ref().map(|p| Some(of(p))));
            (k, figure)
        })
        .collect()
}

fn sizes(t: &Tally) -> BTreeMap<u32, u64> {
    let mut m = BTreeMap::new();
    for &s in &t.team_sizes {
        *m.entry(s).or_insert(0) += 1;
    }
    m
}

impl Stats {
    /// The figures of `period`'s tally, compared with `previous` (the compared period and its
    /// tally) when given. Every incident category and status is listed, zeros included.
    pub fn new(period: Period, now: &Tally, previous: Option<(Compare, Period, &Tally)>) -> Stats {
        let before = previous.map(|(_, _, t)| t);
        Stats {
            from: period.from,
            to: period.to,
            compare: previous.map(|(c, _, _)| c),
            previous_from: previous.map(|(_, p, _)| p.from),
            previous_to: previous.map(|(_, p, _)| p.to),
            tasks_published: count(now, before, |t| t.tasks_published),
            teams_formed: count(now, before, |t| t.team_sizes.len() as u64),
            teams_by_size: counts_by(now, before, [], sizes),
            participants: count(now, before, |t| t.participants),
            patrol_hours: measure(now, before, |t| Some(patrol_hours(t.patrol_ms))),
            qualified_members: count(now, before, |t| t.qualified_members),
            points_awarded: measure(now, before, |t| Some(t.points_awarded as f64)),
            fund_awarded_cents: measure(now, before, |t| Some(t.fund_awarded_cents as f64)),
            incidents_reported: count(now, before, Tally::incidents),
            incidents_by_category: counts_by(
                now,
                before,
                Category::ALL.map(|c| c.code().to_owned()),
                |t| t.incidents_by_category.clone(),
            ),
            incidents_by_outcome: counts_by(
                now,
                before,
                IncidentStatus::ALL.map(|s| s.as_str().to_owned()),
                |t| t.incidents_by_status.clone(),
            ),
            incident_median_resolve_s: measure(now, before, |t| median_seconds(&t.resolve_ms)),
            dispatches: count(now, before, |t| t.dispatches),
            dispatch_median_first_accept_s: measure(now, before, |t| {
                median_seconds(&t.first_accept_ms)
            }),
            dispatch_median_arrival_s: measure(now, before, |t| {
                median_seconds(&t.first_arrival_ms)
            }),
            envoys_active: count(now, before, |t| t.envoys_active),
            envoys_registered: count(now, before, |t| t.envoys_registered),
        }
    }

    /// Every figure as a row `(figure, key, figure)`: the map-valued figures give one row per
    /// key, the others an empty key; in the order of the JSON.
    pub fn rows(&self) -> Vec<(&'static str, String, Figure)> {
        let one = |name: &'static str, f: Figure| (name, String::new(), f);
        let mut rows = vec![
            one("tasks_published", self.tasks_published),
            one("teams_formed", self.teams_formed),
        ];
        rows.extend(
            self.teams_by_size
                .iter()
                .map(|(k, f)| ("teams_by_size", k.to_string(), *f)),
        );
        rows.extend([
            one("participants", self.participants),
            one("patrol_hours", self.patrol_hours),
            one("qualified_members", self.qualified_members),
            one("points_awarded", self.points_awarded),
            one("fund_awarded_cents", self.fund_awarded_cents),
            one("incidents_reported", self.incidents_reported),
        ]);
        rows.extend(
            self.incidents_by_category
                .iter()
                .map(|(k, f)| ("incidents_by_category", k.clone(), *f)),
        );
        rows.extend(
            self.incidents_by_outcome
                .iter()
                .map(|(k, f)| ("incidents_by_outcome", k.clone(), *f)),
        );
        rows.extend([
            one("incident_median_resolve_s", self.incident_median_resolve_s),
            one("dispatches", self.dispatches),
            one(
                "dispatch_median_first_accept_s",
                self.dispatch_median_first_accept_s,
            ),
            one("dispatch_median_arrival_s", self.dispatch_median_arrival_s),
            one("envoys_active", self.envoys_active),
            one("envoys_registered", self.envoys_registered),
        ]);
        rows
    }

    /// The CSV export: a header `figure,key,value,previous,change_pct`, then [`Stats::rows`]
    /// (null cells empty). No field needs quoting: names and keys are plain identifiers and
    /// sizes.
    pub fn to_csv(&self) -> String {
        let mut out = String::from("figure,key,value,previous,change_pct\n");
        for (name, key, f) in self.rows() {
            out.push_str(&format!(
                "{name},{key},{},{},{}\n",
                number_text(f.value),
                number_text(f.previous),
                number_text(f.change_pct)
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use proptest::prelude::*;

    fn t(y: i32, m: u32, d: u32) -> Timestamp {
        Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap()
    }

    #[test]
    fn periods_are_checked_and_go_back_a_year() {
        let now = t(2026, 10, 8);
        let p = Period::new(None, None, now).unwrap();
        assert_eq!((p.from, p.to), (t(2026, 10, 1), now));
        let p = Period::new(Some(t(2026, 10, 1)), Some(t(2026, 10, 8)), now).unwrap();
        assert_eq!(
            p.previous_year(),
            Period {
                from: t(2025, 10, 1),
                to: t(2025, 10, 8)
            }
        );
        let leap = Period::new(Some(t(2024, 2, 29)), Some(t(2024, 3, 1)), now).unwrap();
        assert_eq!(leap.previous_year().from, t(2023, 2, 28));
        for (from, to) in [
            (t(2026, 10, 8), t(2026, 10, 8)),
            (t(2026, 10, 9), t(2026, 10, 8)),
            (t(2025, 1, 1), t(2026, 10, 8)),
        ] {
            let e = Period::new(Some(from), Some(to), now).unwrap_err();
            assert_eq!(e.code(), "invalid_period");
        }
        assert!(Period::new(Some(t(2025, 9, 4)), Some(t(2026, 10, 8)), now).is_ok());
    }

    #[test]
    fn medians_of_odd_and_even_counts() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[5]), Some(5.0));
        assert_eq!(median(&[9, 1, 5]), Some(5.0));
        assert_eq!(median(&[4, 1, 3, 2]), Some(2.5));
        assert_eq!(median_seconds(&[12_340, 12_360]), Some(12.4));
        assert_eq!(median_seconds(&[]), None);
        assert_eq!(patrol_hours(4_680_000), 1.3);
    }

    #[test]
    fn changes_in_percent() {
        assert_eq!(change_pct(Some(150.0), Some(100.0)), Some(50.0));
        assert_eq!(change_pct(Some(1.0), Some(3.0)), Some(-66.7));
        assert_eq!(change_pct(Some(1.0), Some(0.0)), None);
        assert_eq!(change_pct(None, Some(2.0)), None);
        assert_eq!(change_pct(Some(1.0), None), None);
    }

    fn tally() -> Tally {
        Tally {
            tasks_published: 21,
            team_sizes: vec![3, 3, 4, 5],
            participants: 15,
            patrol_ms: 5_400_000,
            qualified_members: 12,
            points_awarded: 120,
            fund_awarded_cents: 6_000,
            incidents_by_category: [("sanitation".to_owned(), 2), ("lost_child".to_owned(), 1)]
                .into(),
            incidents_by_status: [("resolved".to_owned(), 2), ("open".to_owned(), 1)].into(),
            resolve_ms: vec![60_000, 90_000],
            dispatches: 2,
            first_accept_ms: vec![12_340],
            first_arrival_ms: vec![],
            envoys_active: 300,
            envoys_registered: 110_000,
        }
    }

    #[test]
    fn figures_compare_with_the_previous_year() {
        let period =
            Period::new(Some(t(2026, 10, 1)), Some(t(2026, 10, 8)), t(2026, 11, 1)).unwrap();
        let now = tally();
        let mut before = Tally {
            tasks_published: 14,
            team_sizes: vec![3, 6],
            ..Tally::default()
        };
        before
            .incidents_by_category
            .insert("bike_parking".to_owned(), 4);
        let s = Stats::new(
            period,
            &now,
            Some((Compare::PreviousYear, period.previous_year(), &before)),
        );
        assert_eq!(s.previous_from, Some(t(2025, 10, 1)));
        assert_eq!(
            s.tasks_published,
            Figure {
                value: Some(21.0),
                previous: Some(14.0),
                change_pct: Some(50.0)
            }
        );
        assert_eq!(s.teams_formed.change_pct, Some(100.0));
        // sizes of both periods, a size missing in one is 0 there
        assert_eq!(
            s.teams_by_size.keys().copied().collect::<Vec<_>>(),
            [3, 4, 5, 6]
        );
        assert_eq!(s.teams_by_size[&3].value, Some(2.0));
        assert_eq!(s.teams_by_size[&6].value, Some(0.0));
        assert_eq!(s.teams_by_size[&6].change_pct, Some(-100.0));
        // nothing a year ago: no percentage
        assert_eq!(s.participants.previous, Some(0.0));
        assert_eq!(s.participants.change_pct, None);
        assert_eq!(s.patrol_hours.value, Some(1.5));
        assert_eq!(s.incident_median_resolve_s.value, Some(75.0));
        assert_eq!(s.incident_median_resolve_s.previous, None);
        assert_eq!(s.dispatch_median_first_accept_s.value, Some(12.3));
        assert_eq!(s.dispatch_median_arrival_s.value, None);
        // every category, zeros included
        assert_eq!(s.incidents_by_category.len(), Category::ALL.len());
        assert_eq!(s.incidents_by_category["bike_parking"].previous, Some(4.0));
        assert_eq!(s.incidents_by_category["other"].value, Some(0.0));
        assert_eq!(s.incidents_reported.value, Some(3.0));
        assert_eq!(s.incidents_by_outcome.len(), 5);
        assert_eq!(s.incidents_by_outcome["rejected"].value, Some(0.0));
    }

    #[test]
    fn without_a_comparison_previous_is_null() {
        let period = Period::new(None, None, t(2026, 10, 8)).unwrap();
        let s = Stats::new(period, &tally(), None);
        assert_eq!(s.compare, None);
        assert_eq!(s.tasks_published.previous, None);
        assert_eq!(s.tasks_published.change_pct, None);
        let json = serde_json::to_value(&s).unwrap();
        // counts are whole numbers on the wire
        assert_eq!(json["tasks_published"]["value"].to_string(), "21");
        assert_eq!(json["patrol_hours"]["value"].to_string(), "1.5");
        assert_eq!(json["teams_by_size"]["3"]["value"].to_string(), "2");
        assert!(json["tasks_published"]["previous"].is_null());
    }

    #[test]
    fn the_csv_has_a_row_per_figure_and_key() {
        let period = Period::new(None, None, t(2026, 10, 8)).unwrap();
        let before = Tally::default();
        let s = Stats::new(
            period,
            &tally(),
            Some((Compare::PreviousYear, period.previous_year(), &before)),
        );
        let csv = s.to_csv();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], "figure,key,value,previous,change_pct");
        assert_eq!(lines[1], "tasks_published,,21,0,");
        assert!(lines.contains(&"teams_by_size,3,2,0,"));
        assert!(lines.contains(&"patrol_hours,,1.5,0,"));
        assert!(lines.contains(&"dispatch_median_arrival_s,,,,"));
        assert_eq!(lines.len(), 1 + s.rows().len());
    }

    proptest! {
        #[test]
        fn the_median_splits_the_values(mut v in proptest::collection::vec(-1_000_000i64..1_000_000, 1..50)) {
            let m = median(&v).unwrap();
            v.sort_unstable();
            let below = v.iter().filter(|&&x| (x as f64) < m).count();
            let above = v.iter().filter(|&&x| (x as f64) > m).count();
            prop_assert!(below <= v.len() / 2 && above <= v.len() / 2);
            prop_assert!(m >= v[0] as f64 && m <= v[v.len() - 1] as f64);
        }
    }
}
