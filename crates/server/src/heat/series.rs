//! One cell's hourly series: its hours ascending, each with its visits and where its distinct
//! envoys start in one shared, per-hour sorted vector (4 bytes an envoy-hour).

use pp_geo::LatLng;

/// A cell's hour: its visits, and where its envoys start in [`Series::envoys`].
#[derive(Debug, Clone, Copy)]
pub(super) struct Hour {
    pub(super) hour: u32,
    pub(super) visits: u32,
    pub(super) start: u32,
}

/// A cell's hours and their envoys, and its centre (for box filters).
#[derive(Debug)]
pub(super) struct Series {
    pub(super) center: Option<LatLng>,
    /// ascending
    pub(super) hours: Vec<Hour>,
    /// the envoys of `hours[i]` are `envoys[hours[i].start..hours[i + 1].start]`, ascending
    pub(super) envoys: Vec<u32>,
}

impl Series {
    /// Where the envoys of `hours[i]` end.
    pub(super) fn end(&self, i: usize) -> usize {
        self.hours
            .get(i + 1)
            .map_or(self.envoys.len(), |h| h.start as usize)
    }

    pub(super) fn add(&mut self, hour: u32, envoy: u32, visits: u32) {
        // new points are nearly always of the latest hour: look at the end first
        let i = match self.hours.last() {
            Some(last) if last.hour == hour => self.hours.len() - 1,
            Some(last) if last.hour > hour => {
                match self.hours.binary_search_by_key(&hour, |h| h.hour) {
                    Ok(i) => i,
                    Err(i) => {
                        let start = self.hours[i].start;
                        self.hours.insert(
                            i,
                            Hour {
                                hour,
                                visits: 0,
                                start,
                            },
                        );
                        i
                    }
                }
            }
            _ => {
                self.hours.push(Hour {
                    hour,
                    visits: 0,
                    start: u32::try_from(self.envoys.len()).unwrap_or(u32::MAX),
                });
                self.hours.len() - 1
            }
        };
        self.hours[i].visits = self.hours[i].visits.saturating_add(visits);
        let (start, end) = (self.hours[i].start as usize, self.end(i));
        if let Err(at) = self.envoys[start..end].binary_search(&envoy) {
            self.envoys.insert(start + at, envoy);
            for later in &mut self.hours[i + 1..] {
                later.start += 1;
            }
        }
    }

    pub(super) fn shrink(&mut self) {
        self.hours.shrink_to_fit();
        self.envoys.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_series_matches_a_plain_count_whatever_the_order_of_its_points() {
        use rand::{Rng as _, SeedableRng as _};
        use std::collections::{BTreeMap, BTreeSet};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for _ in 0..50 {
            let mut series = Series {
                center: None,
                hours: Vec::new(),
                envoys: Vec::new(),
            };
            let mut want: BTreeMap<u32, (u32, BTreeSet<u32>)> = BTreeMap::new();
            for _ in 0..rng.gen_range(1..300) {
                // mostly the latest hours, sometimes a late point of an older one
                let hour = 1000 + rng.gen_range(0..12);
                let (envoy, visits) = (rng.gen_range(0..20), rng.gen_range(1..4));
                series.add(hour, envoy, visits);
                let w = want.entry(hour).or_default();
                w.0 += visits;
                w.1.insert(envoy);
            }
            let got: BTreeMap<u32, (u32, BTreeSet<u32>)> = series
                .hours
                .iter()
                .enumerate()
                .map(|(i, h)| {
                    let envoys = &series.envoys[h.start as usize..series.end(i)];
                    assert!(envoys.windows(2).all(|w| w[0] < w[1]), "{envoys:?}");
                    (h.hour, (h.visits, envoys.iter().copied().collect()))
                })
                .collect();
            assert_eq!(got, want);
            assert!(series.hours.windows(2).all(|w| w[0].hour < w[1].hour));
        }
    }
}
