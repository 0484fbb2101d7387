//! Property tests for pp-geo.

use std::f64::consts::{PI, TAU};

use pp_geo::{gcj02_to_wgs84, haversine_m, wgs84_to_gcj02, Area, BBox, LatLng, EARTH_RADIUS_M};
use proptest::prelude::*;
use serde_json::{json, Value};

const M_PER_DEG: f64 = EARTH_RADIUS_M * PI / 180.0;

/// `east` / `north` metres from (lat0, lng0), as a `[lng, lat]` position
/// (local flat-earth conversion, an affine map of the plane).
fn at(lat0: f64, lng0: f64, east: f64, north: f64) -> [f64; 2] {
    [
        lng0 + east / (M_PER_DEG * lat0.to_radians().cos()),
        lat0 + north / M_PER_DEG,
    ]
}

fn latlng(p: [f64; 2]) -> LatLng {
    LatLng::new(p[1], p[0]).expect("test coordinate in range")
}

fn polygon_json(verts: &[[f64; 2]]) -> Value {
    let mut ring = verts.to_vec();
    ring.push(verts[0]);
    json!({"type": "Polygon", "coordinates": [ring]})
}

/// A star-shaped polygon around a centre in China: `n` vertices at sorted
/// angles (each gap at most 1.5 · 360°/n ≤ 45°) with radii in [r, 2r].
#[derive(Debug, Clone)]
struct Star {
    lat: f64,
    lng: f64,
    r: f64,
    verts: Vec<[f64; 2]>,
}

fn star() -> impl Strategy<Value = Star> {
    (
        20.0..45.0f64,
        100.0..122.0f64,
        50.0..1000.0f64,
        12usize..=32,
    )
        .prop_flat_map(|(lat, lng, r, n)| {
            (
                Just(lat),
                Just(lng),
                Just(r),
                prop::collection::vec(-0.25..0.25f64, n),
                prop::collection::vec(1.0..2.0f64, n),
            )
        })
        .prop_map(|(lat, lng, r, jitter, radii)| {
            let n = jitter.len();
            let verts = (0..n)
                .map(|i| {
                    let a = (i as f64 + jitter[i]) * TAU / n as f64;
                    let rr = r * radii[i];
                    at(lat, lng, rr * a.cos(), rr * a.sin())
                })
                .collect();
            Star { lat, lng, r, verts }
        })
}

// ---- brute-force simplicity check, independent of the crate ----

fn orient(a: [f64; 2], b: [f64; 2], c: [f64; 2]) -> f64 {
    (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])
}

fn on_segment(a: [f64; 2], b: [f64; 2], p: [f64; 2]) -> bool {
    p[0] >= a[0].min(b[0])
        && p[0] <= a[0].max(b[0])
        && p[1] >= a[1].min(b[1])
        && p[1] <= a[1].max(b[1])
}

/// Do closed segments ab and cd share any point?
fn segments_meet(a: [f64; 2], b: [f64; 2], c: [f64; 2], d: [f64; 2]) -> bool {
    let (o1, o2) = (orient(a, b, c), orient(a, b, d));
    let (o3, o4) = (orient(c, d, a), orient(c, d, b));
    if o1 * o2 < 0.0 && o3 * o4 < 0.0 {
        return true;
    }
    (o1 == 0.0 && on_segment(a, b, c))
        || (o2 == 0.0 && on_segment(a, b, d))
        || (o3 == 0.0 && on_segment(c, d, a))
        || (o4 == 0.0 && on_segment(c, d, b))
}

/// O(n²) check of the closed ring through distinct vertices `v`.
fn brute_self_intersects(v: &[[f64; 2]]) -> bool {
    let n = v.len();
    for i in 0..n {
        let (a, b) = (v[i], v[(i + 1) % n]);
        for j in i + 1..n {
            let (c, d) = (v[j], v[(j + 1) % n]);
            let adjacent = j == i + 1 || (i == 0 && j == n - 1);
            if adjacent {
                // they share one vertex; bad only if they fold back onto each other
                let (shared, p, q) = if j == i + 1 { (b, a, d) } else { (a, b, c) };
                if orient(p, shared, q) == 0.0 {
                    let dot = (p[0] - shared[0]) * (q[0] - shared[0])
                        + (p[1] - shared[1]) * (q[1] - shared[1]);
                    if dot > 0.0 {
                        return true;
                    }
                }
            } else if segments_meet(a, b, c, d) {
                return true;
            }
        }
    }
    false
}

/// Reference boundary distance: golden-section search along every edge
/// (edges are straight in lng/lat, as in the crate).
fn brute_boundary_distance(v: &[[f64; 2]], p: LatLng) -> f64 {
    let n = v.len();
    let mut best = f64::INFINITY;
    for i in 0..n {
        let (a, b) = (v[i], v[(i + 1) % n]);
        let f = |t: f64| {
            haversine_m(
                p,
                LatLng {
                    lat: a[1] + t * (b[1] - a[1]),
                    lng: a[0] + t * (b[0] - a[0]),
                },
            )
        };
        let g = (5f64.sqrt() - 1.0) / 2.0;
        let (mut lo, mut hi) = (0.0, 1.0);
        for _ in 0..80 {
            let m1 = hi - g * (hi - lo);
            let m2 = lo + g * (hi - lo);
            if f(m1) <= f(m2) {
                hi = m2;
            } else {
                lo = m1;
            }
        }
        best = best.min(f(lo)).min(f(0.0)).min(f(1.0));
    }
    best
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// (1) star-shaped polygons are valid, contain their centre and the
    /// disc of radius 0.9 r, and nothing beyond 2.1 r.
    #[test]
    fn star_polygon_is_valid_and_contains_its_core(
        s in star(),
        inner in prop::collection::vec((0.0..0.9f64, 0.0..TAU), 16),
        outer in prop::collection::vec((2.1..20.0f64, 0.0..TAU), 16),
    ) {
        let area = Area::from_geojson(&polygon_json(&s.verts));
        prop_assert!(area.is_ok(), "{:?}", area);
        let area = area.unwrap();
        let centre = LatLng::new(s.lat, s.lng).unwrap();
        prop_assert!(area.contains(centre));
        prop_assert_eq!(area.distance_m(centre), 0.0);
        prop_assert!(area.bbox().contains(centre));
        let c = area.center();
        prop_assert!(haversine_m(c, centre) < 2.0 * s.r);
        let m2 = area.area_m2();
        // between the inscribed disc (0.9 r) and the enclosing one (2 r)
        prop_assert!(m2 > PI * (0.9 * s.r).powi(2) && m2 < PI * (2.0 * s.r).powi(2) * 1.01, "{}", m2);
        for (f, brg) in inner {
            let p = latlng(at(s.lat, s.lng, f * s.r * brg.cos(), f * s.r * brg.sin()));
            prop_assert!(area.contains(p), "{:?} at {}r not contained", p, f);
            prop_assert_eq!(area.distance_m(p), 0.0);
        }
        for (f, brg) in outer {
            let p = latlng(at(s.lat, s.lng, f * s.r * brg.cos(), f * s.r * brg.sin()));
            prop_assert!(!area.contains(p), "{:?} at {}r contained", p, f);
            let d = area.distance_m(p);
            prop_assert!(d > 0.0);
            // at least (f - 2) r away, up to the small flat-earth distortion
            prop_assert!(d >= (f - 2.0) * s.r * 0.99 - 0.5, "{} vs {}", d, (f - 2.0) * s.r);
        }
    }

    /// (2) Circle::contains agrees with haversine_m, and the bbox holds what
    /// the circle contains.
    #[test]
    fn circle_contains_agrees_with_haversine(
        lat in -85.0..85.0f64,
        lng in -179.0..179.0f64,
        radius in 10.0..5000.0f64,
        pts in prop::collection::vec((0.0..2.0f64, 0.0..TAU), 32),
    ) {
        let centre = LatLng::new(lat, lng).unwrap();
        let area = Area::circle(centre, radius).unwrap();
        let bbox = area.bbox();
        for (f, brg) in pts {
            let q = at(lat, lng, f * radius * brg.cos(), f * radius * brg.sin());
            let Ok(p) = LatLng::new(q[1], q[0]) else { continue };
            let inside = haversine_m(centre, p) <= radius;
            prop_assert_eq!(area.contains(p), inside);
            if inside {
                prop_assert!(bbox.contains(p), "{:?} not in {:?}", p, bbox);
            }
        }
    }

    /// (3) swapping two non-adjacent vertices of a valid polygon: the crate
    /// refuses it as self_intersecting exactly when a brute-force O(n²)
    /// segment check finds an intersection.
    #[test]
    fn swapped_vertices_agree_with_brute_force(s in star(), a in any::<prop::sample::Index>(), b in any::<prop::sample::Index>()) {
        let n = s.verts.len();
        let (i, j) = (a.index(n), b.index(n));
        let (i, j) = (i.min(j), i.max(j));
        let adjacent = j - i <= 1 || (i == 0 && j == n - 1);
        prop_assume!(!adjacent);
        let mut v = s.verts;
        v.swap(i, j);
        let expected = brute_self_intersects(&v);
        match Area::from_geojson(&polygon_json(&v)) {
            Ok(_) => prop_assert!(!expected, "accepted but brute force finds an intersection"),
            Err(e) => {
                prop_assert_eq!(e.code, "self_intersecting", "{}", e.message);
                prop_assert!(expected, "refused ({}) but brute force finds none", e.message);
            }
        }
    }

    /// (3b) random small polygons (often self-intersecting) agree with the
    /// brute-force check.
    #[test]
    fn random_polygons_agree_with_brute_force(
        lat in 20.0..45.0f64,
        lng in 100.0..122.0f64,
        pts in prop::collection::vec((-1000.0..1000.0f64, -1000.0..1000.0f64), 3..9),
    ) {
        let v: Vec<[f64; 2]> = pts.iter().map(|&(e, n)| at(lat, lng, e, n)).collect();
        let expected = brute_self_intersects(&v);
        match Area::from_geojson(&polygon_json(&v)) {
            Ok(area) => {
                prop_assert!(!expected);
                prop_assert!(area.area_m2() > 0.0);
            }
            Err(e) => {
                prop_assert_eq!(e.code, "self_intersecting", "{}", e.message);
                prop_assert!(expected, "refused ({}) but brute force finds none", e.message);
            }
        }
    }

    /// (4) GCJ-02 round trip within 0.01 m anywhere in China's box.
    #[test]
    fn gcj02_round_trip(lat in 0.9..55.75f64, lng in 72.1..137.75f64) {
        let p = LatLng::new(lat, lng).unwrap();
        let g = wgs84_to_gcj02(p);
        let shift = haversine_m(p, g);
        prop_assert!(shift > 0.0 && shift < 1500.0, "shift {}", shift);
        let back = gcj02_to_wgs84(g);
        let err = haversine_m(p, back);
        prop_assert!(err < 0.01, "round trip error {} m", err);
    }

    /// (5a) polygon distance: 0 inside, positive outside, within 1% of a
    /// brute-force nearest-point search.
    #[test]
    fn polygon_distance_matches_brute_force(
        s in star(),
        pts in prop::collection::vec((0.0..6.0f64, 0.0..TAU), 16),
    ) {
        let area = Area::from_geojson(&polygon_json(&s.verts)).unwrap();
        for (f, brg) in pts {
            let p = latlng(at(s.lat, s.lng, f * s.r * brg.cos(), f * s.r * brg.sin()));
            let d = area.distance_m(p);
            if area.contains(p) {
                prop_assert_eq!(d, 0.0);
            } else {
                prop_assert!(d > 0.0, "outside but distance {}", d);
                let reference = brute_boundary_distance(&s.verts, p);
                prop_assert!(
                    (d - reference).abs() <= 0.01 * reference + 0.01,
                    "distance {} vs brute force {}", d, reference
                );
            }
        }
    }

    /// (5b) circle distance: 0 inside, else haversine to the centre minus the
    /// radius (within 0.5 m).
    #[test]
    fn circle_distance_is_haversine_minus_radius(
        lat in 18.0..54.0f64,
        lng in 73.0..135.0f64,
        radius in 10.0..5000.0f64,
        pts in prop::collection::vec((0.0..10.0f64, 0.0..TAU), 16),
    ) {
        let centre = LatLng::new(lat, lng).unwrap();
        let area = Area::circle(centre, radius).unwrap();
        for (f, brg) in pts {
            let p = latlng(at(lat, lng, f * radius * brg.cos(), f * radius * brg.sin()));
            let d = area.distance_m(p);
            let h = haversine_m(centre, p);
            if area.contains(p) {
                prop_assert_eq!(d, 0.0);
            } else {
                prop_assert!(d > 0.0);
                prop_assert!((d - (h - radius)).abs() <= 0.5, "{} vs {}", d, h - radius);
            }
        }
    }

    /// Every point within r of p lies in BBox::around(p, r).
    #[test]
    fn bbox_around_holds_the_circle(lat in -80.0..80.0f64, lng in -170.0..170.0f64, r in 0.0..50_000.0f64, bearing in 0.0..360.0f64, f in 0.0..1.0f64) {
        let p = LatLng::new(lat, lng).unwrap();
        let (d, b) = (r * f / EARTH_RADIUS_M, bearing.to_radians());
        let (la, lo) = (lat.to_radians(), lng.to_radians());
        let la2 = (la.sin() * d.cos() + la.cos() * d.sin() * b.cos()).asin();
        let lo2 = lo + (b.sin() * d.sin() * la.cos()).atan2(d.cos() - la.sin() * la2.sin());
        let q = LatLng::new(la2.to_degrees(), lo2.to_degrees()).unwrap();
        prop_assert!(BBox::around(p, r).contains(q), "{q:?} at {} m not in {:?}", haversine_m(p, q), BBox::around(p, r));
    }

    /// to_geojson / from_geojson round trip for valid areas.
    #[test]
    fn geojson_round_trip(s in star(), radius in 10.0..5000.0f64) {
        let poly = Area::from_geojson(&polygon_json(&s.verts)).unwrap();
        prop_assert_eq!(&Area::from_geojson(&poly.to_geojson()).unwrap(), &poly);
        let circle = Area::circle(LatLng::new(s.lat, s.lng).unwrap(), radius).unwrap();
        prop_assert_eq!(&Area::from_geojson(&circle.to_geojson()).unwrap(), &circle);
        // what was validated and stored reads back the same without re-validation
        prop_assert_eq!(Area::from_stored_geojson(&poly.to_geojson()).unwrap(), poly);
        prop_assert_eq!(Area::from_stored_geojson(&circle.to_geojson()).unwrap(), circle);
    }

    /// haversine_m is symmetric, non-negative and obeys the triangle inequality.
    #[test]
    fn haversine_is_a_metric(
        a in (-90.0..=90.0f64, -180.0..=180.0f64),
        b in (-90.0..=90.0f64, -180.0..=180.0f64),
        c in (-90.0..=90.0f64, -180.0..=180.0f64),
    ) {
        let (a, b, c) = (
            LatLng::new(a.0, a.1).unwrap(),
            LatLng::new(b.0, b.1).unwrap(),
            LatLng::new(c.0, c.1).unwrap(),
        );
        let ab = haversine_m(a, b);
        prop_assert!((0.0..=PI * EARTH_RADIUS_M + 1e-6).contains(&ab));
        prop_assert!((ab - haversine_m(b, a)).abs() < 1e-6);
        prop_assert!(ab <= haversine_m(a, c) + haversine_m(c, b) + 1e-3);
    }
}
