//! How nearest-envoy answers compare with the workload's expected ones: recall, order, and
//! distance error ([`Score`]), for the server's answers and its peers' alike.

use crate::workload::queries::Query;
use std::collections::HashMap;

/// How a set of answers compares with the expected ones.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Score {
    /// expected entries found
    pub found: usize,
    /// expected entries
    pub expected: usize,
    /// entries answered
    pub answered: usize,
    /// ranks with a different id whose distances differ by more than 0.01 m (or an id not
    /// expected at all)
    pub order_mismatches: usize,
    /// largest |answered distance - expected distance| of the found entries, m
    pub max_dist_err_m: f64,
}

impl Score {
    /// Scores one query's answer (`(volunteer id, metres)`, nearest first) against the
    /// expected one (the same, ordered by distance then id).
    pub fn of(ours: &[(u32, f64)], expected: &[(u32, f64)]) -> Score {
        let want: HashMap<u32, f64> = expected.iter().copied().collect();
        let mut s = Score {
            expected: expected.len(),
            answered: ours.len(),
            ..Score::default()
        };
        for (rank, &(id, d)) in ours.iter().enumerate() {
            if let Some(&e) = want.get(&id) {
                s.found += 1;
                if d.is_finite() {
                    s.max_dist_err_m = s.max_dist_err_m.max((d - e).abs());
                }
            }
            match (want.get(&id), expected.get(rank)) {
                (_, Some(&(eid, _))) if eid == id => {}
                (Some(&d_ours), Some(&(_, d_exp))) if (d_ours - d_exp).abs() <= 0.01 => {}
                _ => s.order_mismatches += 1,
            }
        }
        s
    }

    pub fn add(&mut self, o: Score) {
        self.found += o.found;
        self.expected += o.expected;
        self.answered += o.answered;
        self.order_mismatches += o.order_mismatches;
        self.max_dist_err_m = self.max_dist_err_m.max(o.max_dist_err_m);
    }

    pub fn recall(&self) -> f64 {
        if self.expected == 0 {
            1.0
        } else {
            self.found as f64 / self.expected as f64
        }
    }

    pub fn line(&self) -> String {
        format!(
            "recall {:.4} ({} of {} expected found; {} answered), order mismatches {}, max distance error {:.2} m",
            self.recall(),
            self.found,
            self.expected,
            self.answered,
            self.order_mismatches,
            self.max_dist_err_m
        )
    }
}

/// Scores every query's answer against `expected` (by query id).
pub fn score_all(
    queries: &[Query],
    answers: &[Vec<(u32, f64)>],
    expected: &HashMap<u32, Vec<(u32, f64)>>,
) -> Score {
    let mut total = Score::default();
    for (q, a) in queries.iter().zip(answers) {
        let e = expected.get(&q.id).map_or(&[][..], Vec::as_slice);
        total.add(Score::of(a, e));
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recall_counts_found_entries_and_ties_are_not_mismatches() {
        let expected = [(1, 10.0), (2, 20.0), (3, 20.005), (4, 30.0)];
        // all found, 2 and 3 swapped (a tie within 0.01 m)
        let s = Score::of(&[(1, 10.0), (3, 20.0), (2, 20.0), (4, 30.04)], &expected);
        assert_eq!((s.found, s.expected, s.order_mismatches), (4, 4, 0));
        assert!((s.max_dist_err_m - 0.04).abs() < 1e-9);
        assert_eq!(s.recall(), 1.0);
        // 4 missing, 9 in its place; 1 and 2 swapped (10 m apart)
        let s = Score::of(&[(2, 20.0), (1, 10.0), (3, 20.0), (9, 31.0)], &expected);
        assert_eq!((s.found, s.order_mismatches), (3, 3));
        let mut total = s;
        total.add(Score::of(&[], &[(5, 1.0)]));
        assert_eq!((total.found, total.expected), (3, 5));
        assert!((total.recall() - 0.6).abs() < 1e-12);
        assert_eq!(Score::default().recall(), 1.0);
    }
}
