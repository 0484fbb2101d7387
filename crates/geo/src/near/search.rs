//! One nearest search's state: the candidates seen, what is final, what is pruned.

use super::{distance2, metres, Cell, Unit};

/// A search's state.
pub(super) struct Search<K> {
    /// Where it searches from.
    pub(super) q: Unit,
    /// The points within this squared chord of `q` have been handed to `keep`.
    pub(super) done2: f64,
    /// The points beyond this squared chord are left out: at least `need` candidates are
    /// nearer (or it is the radius). When `keep` says no to some of those, the search looks
    /// again without.
    pub(super) prune2: f64,
    /// How many more keys the answer wants.
    pub(super) need: usize,
    /// Squared chords and keys of the points seen, nearer than `prune2` and not handed over.
    pub(super) candidates: Vec<(f64, K)>,
}

impl<K: Copy> Search<K> {
    /// Takes the points of `cell` not beyond `prune2` and beyond `done2` as candidates
    /// (none when the whole cell is beyond `prune2`).
    pub(super) fn offer(&mut self, cell: &Cell<K>) {
        let (q, done2) = (self.q, self.done2);
        let mut prune2 = self.prune2;
        if !cell.may_reach(&q, prune2.sqrt()) {
            return;
        }
        for entry in &cell.entries {
            let d2 = distance2(&entry.at, &q);
            if d2 <= prune2 && d2 > done2 {
                self.insert(d2, entry.key);
                prune2 = self.prune2;
            }
        }
    }

    /// Takes a candidate not beyond `prune2`. The first `need` are only pushed, then sorted
    /// nearest first, and `prune2` comes down to the `need`-th; after that a candidate goes
    /// into its place among the first `need` and the `need`-th goes out, with its ties (or
    /// stays with them when the new `need`-th is its tie).
    pub(super) fn insert(&mut self, d2: f64, key: K) {
        let (c, need) = (&mut self.candidates, self.need);
        if c.len() + 1 < need {
            c.push((d2, key));
        } else if c.len() + 1 == need {
            c.push((d2, key));
            sort(c);
            self.prune2 = self.prune2.min(c[need - 1].0);
        } else if d2 >= self.prune2 {
            // a tie of the `need`-th
            c.push((d2, key));
        } else {
            let at = c[..need].partition_point(|x| x.0 <= d2);
            if need == 1 || c[need - 2].0 < self.prune2 {
                c.truncate(need);
                c.copy_within(at..need - 1, at + 1);
                c[at] = (d2, key);
                self.prune2 = c[need - 1].0;
            } else {
                c.insert(at, (d2, key));
            }
        }
    }

    /// Starts over from the points beyond `done2` (those nearer were handed over), leaving
    /// none out.
    pub(super) fn restart(&mut self, done2: f64, limit2: f64) {
        self.done2 = done2;
        self.prune2 = limit2;
        self.candidates.clear();
    }

    /// Hands the candidates within `final2` (squared chord) to `keep` nearest first and takes
    /// them out, pushing the kept ones onto `out` until `need` are; true when they are.
    pub(super) fn hand_over(
        &mut self,
        final2: f64,
        keep: &mut impl FnMut(K) -> bool,
        out: &mut Vec<(K, f64)>,
    ) -> bool {
        if self.candidates.len() < self.need {
            // still as pushed
            sort(&mut self.candidates);
        }
        let ready = self.candidates.partition_point(|c| c.0 <= final2);
        for &(d2, key) in &self.candidates[..ready] {
            if keep(key) {
                out.push((key, metres(d2)));
                self.need -= 1;
                if self.need == 0 {
                    return true;
                }
            }
        }
        self.candidates.drain(..ready);
        false
    }
}

/// Sorts candidates nearest first.
fn sort<K>(c: &mut [(f64, K)]) {
    c.sort_unstable_by(by_distance);
}

pub(super) fn by_distance<K>(a: &(f64, K), b: &(f64, K)) -> std::cmp::Ordering {
    a.0.total_cmp(&b.0)
}
