//! Nearest points on the sphere: an R*-tree (`rstar`) over points on the unit sphere.
//!
//! A point is kept as its position on the unit sphere (x, y, z). The straight-line (chord)
//! distance between two such positions grows with their great-circle distance
//! (`chord = 2 sin(θ / 2)`), so the tree's Euclidean nearest-neighbour order is exactly the
//! great-circle order, with no projection error and no special case at the antimeridian or the
//! poles. Distances are reported in metres on the sphere of [`EARTH_RADIUS_M`].

use crate::{LatLng, EARTH_RADIUS_M};
use rstar::{PointDistance, RTree, RTreeObject, AABB};
use std::collections::HashMap;
use std::hash::Hash;

/// A point on the unit sphere.
type Unit = [f64; 3];

fn unit(p: LatLng) -> Unit {
    let (lat, lng) = (p.lat.to_radians(), p.lng.to_radians());
    [lat.cos() * lng.cos(), lat.cos() * lng.sin(), lat.sin()]
}

/// Squared chord length of a great-circle distance in metres (capped at the antipode).
fn chord2(distance_m: f64) -> f64 {
    let theta = (distance_m / EARTH_RADIUS_M).clamp(0.0, std::f64::consts::PI);
    let c = 2.0 * (theta / 2.0).sin();
    c * c
}

/// Great-circle metres of a squared chord length.
fn metres(chord2: f64) -> f64 {
    2.0 * (chord2.sqrt() / 2.0).clamp(0.0, 1.0).asin() * EARTH_RADIUS_M
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Entry<K> {
    key: K,
    at: Unit,
}

impl<K> RTreeObject for Entry<K> {
    type Envelope = AABB<Unit>;
    fn envelope(&self) -> Self::Envelope {
        AABB::from_point(self.at)
    }
}

impl<K> PointDistance for Entry<K> {
    fn distance_2(&self, point: &Unit) -> f64 {
        let [a, b, c] = self.at;
        let [x, y, z] = *point;
        (a - x) * (a - x) + (b - y) * (b - y) + (c - z) * (c - z)
    }
}

/// Points by key (an envoy, …), each at one place, with nearest-first search.
#[derive(Debug)]
pub struct PointIndex<K> {
    tree: RTree<Entry<K>>,
    places: HashMap<K, Unit>,
}

impl<K> Default for PointIndex<K> {
    fn default() -> Self {
        PointIndex {
            tree: RTree::new(),
            places: HashMap::new(),
        }
    }
}

impl<K: Copy + Eq + Hash + PartialEq> PointIndex<K> {
    /// An index of `points`; a repeated key keeps its last place. Inserted one by one:
    /// `RTree::bulk_load` of rstar 0.12 can leave leaves at different depths, and a later
    /// insert then panics (georust/rstar pull request 239), found by the property test below.
    pub fn of(points: impl IntoIterator<Item = (K, LatLng)>) -> Self {
        let mut index = PointIndex::default();
        for (key, p) in points {
            index.set(key, p);
        }
        index
    }

    /// Puts `key` at `p` (moving it when it is in the index already).
    pub fn set(&mut self, key: K, p: LatLng) {
        let at = unit(p);
        if let Some(old) = self.places.insert(key, at) {
            if old == at {
                return;
            }
            self.tree.remove(&Entry { key, at: old });
        }
        self.tree.insert(Entry { key, at });
    }

    /// Takes `key` out of the index.
    pub fn remove(&mut self, key: K) {
        if let Some(at) = self.places.remove(&key) {
            self.tree.remove(&Entry { key, at });
        }
    }

    /// How many keys the index holds.
    pub fn len(&self) -> usize {
        self.places.len()
    }

    /// Whether the index is empty.
    pub fn is_empty(&self) -> bool {
        self.places.is_empty()
    }

    /// Up to `k` keys within `radius_m` great-circle metres of `p` for which `keep` holds,
    /// nearest first, with their distance in metres. Only the candidates nearer than the
    /// `k`-th kept one are looked at.
    pub fn nearest(
        &self,
        p: LatLng,
        k: usize,
        radius_m: f64,
        mut keep: impl FnMut(K) -> bool,
    ) -> Vec<(K, f64)> {
        let limit = chord2(radius_m);
        self.tree
            .nearest_neighbor_iter_with_distance_2(&unit(p))
            .take_while(|(_, d2)| *d2 <= limit)
            .filter(|(e, _)| keep(e.key))
            .take(k)
            .map(|(e, d2)| (e.key, metres(d2)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::haversine_m;
    use proptest::prelude::*;

    fn ll(lat: f64, lng: f64) -> LatLng {
        LatLng::new(lat, lng).unwrap()
    }

    #[test]
    fn chords_and_metres_agree_with_haversine() {
        let (a, b) = (ll(23.1066, 113.3245), ll(23.0830, 113.3390));
        let d2 = Entry {
            key: 0,
            at: unit(a),
        }
        .distance_2(&unit(b));
        assert!((metres(d2) - haversine_m(a, b)).abs() < 1e-6);
        assert!((chord2(haversine_m(a, b)) - d2).abs() < 1e-15);
    }

    #[test]
    fn moves_and_removals_are_seen() {
        let mut index = PointIndex::default();
        index.set(1, ll(23.1066, 113.3245));
        index.set(2, ll(23.0830, 113.3390));
        index.set(1, ll(23.0831, 113.3390));
        let near = index.nearest(ll(23.0830, 113.3390), 5, 100.0, |_| true);
        assert_eq!(near.iter().map(|n| n.0).collect::<Vec<_>>(), [2, 1]);
        index.remove(2);
        assert_eq!(index.len(), 1);
        let near = index.nearest(ll(23.0830, 113.3390), 5, 100.0, |k| k != 1);
        assert!(near.is_empty());
        // the antimeridian is no edge
        index.set(3, ll(0.0, 179.9999));
        let near = index.nearest(ll(0.0, -179.9999), 1, 50.0, |_| true);
        assert_eq!(near.first().map(|n| n.0), Some(3));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// The answer is the brute-force great-circle ranking: the same keys in the same order
        /// (ties aside), the same distances, only kept keys, none beyond the radius.
        #[test]
        fn nearest_equals_a_brute_force_ranking(
            points in prop::collection::vec((23.0f64..23.2, 113.2f64..113.45), 1..400),
            moves in prop::collection::vec((0usize..400, 23.0f64..23.2, 113.2f64..113.45), 0..50),
            q in (23.0f64..23.2, 113.2f64..113.45),
            k in 1usize..30,
            radius_m in 100.0f64..20_000.0,
            odd_only in any::<bool>(),
        ) {
            let mut places: Vec<LatLng> = points.iter().map(|&(a, b)| ll(a, b)).collect();
            let mut index = PointIndex::of(places.iter().enumerate().map(|(i, p)| (i, *p)));
            for (i, a, b) in moves {
                let i = i % places.len();
                places[i] = ll(a, b);
                index.set(i, places[i]);
            }
            let q = ll(q.0, q.1);
            let keep = |i: usize| !odd_only || i % 2 == 1;
            let got = index.nearest(q, k, radius_m, keep);
            let mut want: Vec<(usize, f64)> = places
                .iter()
                .enumerate()
                .map(|(i, p)| (i, haversine_m(q, *p)))
                .filter(|&(i, d)| keep(i) && d <= radius_m)
                .collect();
            want.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
            want.truncate(k);
            prop_assert_eq!(got.len(), want.len());
            for (g, w) in got.iter().zip(&want) {
                prop_assert!((g.1 - w.1).abs() < 1e-6, "{:?} {:?}", g, w);
                // equal distances may come in either order; otherwise the same key
                prop_assert!(g.0 == w.0 || (g.1 - w.1).abs() < 1e-6);
            }
        }
    }
}
