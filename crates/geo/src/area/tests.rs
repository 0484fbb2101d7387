use serde_json::{json, Value};

use super::*;

const LAT0: f64 = 23.1066;
const LNG0: f64 = 113.3245;

fn ll(lat: f64, lng: f64) -> LatLng {
    LatLng::new(lat, lng).unwrap()
}

/// Position `east` / `north` metres from (lat, lng), local flat-earth offset.
fn offset(lat: f64, lng: f64, east: f64, north: f64) -> [f64; 2] {
    [
        lng + east / (M_PER_DEG * lat.to_radians().cos()),
        lat + north / M_PER_DEG,
    ]
}

/// Closed square ring of side `2 * half` metres around (LAT0, LNG0), CCW.
fn square(half: f64) -> Vec<[f64; 2]> {
    vec![
        offset(LAT0, LNG0, -half, -half),
        offset(LAT0, LNG0, half, -half),
        offset(LAT0, LNG0, half, half),
        offset(LAT0, LNG0, -half, half),
        offset(LAT0, LNG0, -half, -half),
    ]
}

fn poly_json(ring: &[[f64; 2]]) -> Value {
    json!({"type": "Polygon", "coordinates": [ring]})
}

fn code(v: Value) -> &'static str {
    match Area::from_geojson(&v) {
        Ok(a) => panic!("expected an error for {v}, got {a:?}"),
        Err(e) => {
            assert!(!e.message.is_empty());
            e.code
        }
    }
}

fn err(v: Value) -> GeoError {
    Area::from_geojson(&v).unwrap_err()
}

#[test]
fn parses_polygon_and_round_trips() {
    let ring = square(500.0);
    let v = poly_json(&ring);
    let a = Area::from_geojson(&v).unwrap();
    assert_eq!(a, Area::Polygon { ring });
    assert_eq!(a.to_geojson(), v);
    assert_eq!(Area::from_geojson(&a.to_geojson()).unwrap(), a);
}

#[test]
fn parses_circle_and_round_trips() {
    let v = json!({"type": "Circle", "center": [LNG0, LAT0], "radius_m": 250.0});
    let a = Area::from_geojson(&v).unwrap();
    assert_eq!(
        a,
        Area::Circle {
            center: ll(LAT0, LNG0),
            radius_m: 250.0
        }
    );
    assert_eq!(a.to_geojson(), v);
    // integer radius is fine too
    let v = json!({"type": "Circle", "center": [LNG0, LAT0], "radius_m": 250});
    assert_eq!(Area::from_geojson(&v).unwrap(), a);
}

#[test]
fn parses_features() {
    let ring = square(300.0);
    let f = json!({"type": "Feature", "properties": {"name": "x"}, "geometry": poly_json(&ring)});
    assert_eq!(Area::from_geojson(&f).unwrap(), Area::Polygon { ring });
    let f = json!({"type": "Feature", "properties": null,
        "geometry": {"type": "Circle", "center": [LNG0, LAT0], "radius_m": 100}});
    assert!(matches!(
        Area::from_geojson(&f).unwrap(),
        Area::Circle { radius_m, .. } if radius_m == 100.0
    ));
}

#[test]
fn accepts_altitude_and_ignores_it() {
    let ring: Vec<Value> = square(300.0)
        .iter()
        .map(|p| json!([p[0], p[1], 12.5]))
        .collect();
    let a = Area::from_geojson(&json!({"type": "Polygon", "coordinates": [ring]})).unwrap();
    assert_eq!(
        a,
        Area::Polygon {
            ring: square(300.0)
        }
    );
}

#[test]
fn invalid_geojson() {
    let ok_ring = square(300.0);
    for v in [
        json!([1, 2]),
        json!("Polygon"),
        json!(null),
        json!(42),
        json!({}),
        json!({"type": 7, "coordinates": [ok_ring]}),
        json!({"type": "Polygon"}),
        json!({"type": "Polygon", "coordinates": "nope"}),
        json!({"type": "Polygon", "coordinates": []}),
        json!({"type": "Polygon", "coordinates": [{"a": 1}]}),
        json!({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], "x", [0, 0]]]}),
        json!({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1], [0, 0]]]}),
        json!({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1, 1, 1], [0, 0]]]}),
        json!({"type": "Polygon", "coordinates": [[[0, 0], [1, "0"], [1, 1], [0, 0]]]}),
        json!({"type": "Polygon", "coordinates": [[[0, 0], [1, null], [1, 1], [0, 0]]]}),
        json!({"type": "Polygon", "coordinates": [[[0, 0], [1, 0, "high"], [1, 1], [0, 0]]]}),
        json!({"type": "Circle", "radius_m": 100}),
        json!({"type": "Circle", "center": [LNG0], "radius_m": 100}),
        json!({"type": "Circle", "center": {"lng": LNG0, "lat": LAT0}, "radius_m": 100}),
        json!({"type": "Circle", "center": [LNG0, LAT0]}),
        json!({"type": "Circle", "center": [LNG0, LAT0], "radius_m": "100"}),
        json!({"type": "Feature", "properties": {}}),
        json!({"type": "Feature", "geometry": null}),
        json!({"type": "Feature", "geometry": [1, 2]}),
    ] {
        assert_eq!(code(v.clone()), "invalid_geojson", "{v}");
    }
    let e = err(json!({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1], [0, 0]]]}));
    assert!(e.message.contains("position 2"), "{}", e.message);
}

#[test]
fn unsupported_geometry() {
    for v in [
        json!({"type": "Point", "coordinates": [LNG0, LAT0]}),
        json!({"type": "MultiPolygon", "coordinates": [[square(100.0)]]}),
        json!({"type": "LineString", "coordinates": square(100.0)}),
        json!({"type": "FeatureCollection", "features": []}),
        json!({"type": "GeometryCollection", "geometries": []}),
        json!({"type": "polygon", "coordinates": [square(100.0)]}),
        // a Feature's geometry cannot itself be a Feature
        json!({"type": "Feature", "geometry": {"type": "Feature", "geometry": poly_json(&square(100.0))}}),
    ] {
        assert_eq!(code(v.clone()), "unsupported_geometry", "{v}");
    }
}

#[test]
fn polygon_holes_unsupported() {
    let outer = square(1000.0);
    let mut hole = square(200.0);
    hole.reverse();
    let v = json!({"type": "Polygon", "coordinates": [outer, hole]});
    assert_eq!(code(v), "polygon_holes_unsupported");
}

#[test]
fn ring_not_closed() {
    let mut ring = square(300.0);
    ring.pop();
    let e = err(poly_json(&ring));
    assert_eq!(e.code, "ring_not_closed");
    assert!(e.message.contains("first position"), "{}", e.message);
}

#[test]
fn too_few_positions() {
    let r = square(300.0);
    assert_eq!(code(poly_json(&[r[0], r[1], r[0]])), "too_few_positions");
    assert_eq!(code(poly_json(&[])), "too_few_positions");
    assert_eq!(code(poly_json(&[r[0]])), "too_few_positions");
}

#[test]
fn too_many_positions() {
    // a valid-looking many-sided polygon, but over the limit
    let n = MAX_POSITIONS;
    let mut ring: Vec<[f64; 2]> = (0..n)
        .map(|i| {
            let t = i as f64 / n as f64 * std::f64::consts::TAU;
            offset(LAT0, LNG0, 500.0 * t.cos(), 500.0 * t.sin())
        })
        .collect();
    ring.push(ring[0]);
    assert_eq!(ring.len(), MAX_POSITIONS + 1);
    assert_eq!(code(poly_json(&ring)), "too_many_positions");
    // exactly at the limit is fine
    ring.truncate(MAX_POSITIONS - 1);
    ring.push(ring[0]);
    assert!(Area::from_geojson(&poly_json(&ring)).is_ok());
}

#[test]
fn coordinate_out_of_range() {
    let ring = [[10.0, 10.0], [10.01, 91.0], [10.01, 10.01], [10.0, 10.0]];
    let e = err(poly_json(&ring));
    assert_eq!(e.code, "coordinate_out_of_range");
    assert!(e.message.contains("position 1"), "{}", e.message);
    assert!(e.message.contains("latitude 91"), "{}", e.message);

    let ring = [[179.99, 0.0], [180.01, 0.0], [179.99, 0.01], [179.99, 0.0]];
    let e = err(poly_json(&ring));
    assert_eq!(e.code, "coordinate_out_of_range");
    assert!(e.message.contains("longitude 180.01"), "{}", e.message);

    let v = json!({"type": "Circle", "center": [LNG0, -90.5], "radius_m": 100});
    assert_eq!(code(v), "coordinate_out_of_range");
    let v = json!({"type": "Circle", "center": [-200, LAT0], "radius_m": 100});
    assert_eq!(code(v), "coordinate_out_of_range");

    // also through the typed constructors (which may see non-finite values)
    assert_eq!(
        Area::polygon(vec![
            [f64::NAN, 0.0],
            [1.0, 0.0],
            [1.0, 1.0],
            [f64::NAN, 0.0]
        ])
        .unwrap_err()
        .code,
        "coordinate_out_of_range"
    );
    assert_eq!(
        Area::circle(
            LatLng {
                lat: 95.0,
                lng: 0.0
            },
            100.0
        )
        .unwrap_err()
        .code,
        "coordinate_out_of_range"
    );
}

#[test]
fn bow_tie_is_self_intersecting() {
    let ring = [
        offset(LAT0, LNG0, -500.0, -500.0),
        offset(LAT0, LNG0, 500.0, 500.0),
        offset(LAT0, LNG0, 500.0, -500.0),
        offset(LAT0, LNG0, -500.0, 500.0),
        offset(LAT0, LNG0, -500.0, -500.0),
    ];
    let e = err(poly_json(&ring));
    assert_eq!(e.code, "self_intersecting");
    assert!(e.message.contains("edge 0→1"), "{}", e.message);
    assert!(e.message.contains("edge 2→3"), "{}", e.message);
}

#[test]
fn degenerate_rings_are_self_intersecting() {
    let p = offset(LAT0, LNG0, 0.0, 0.0);
    let q = offset(LAT0, LNG0, 100.0, 0.0);
    let r = offset(LAT0, LNG0, 200.0, 0.0);
    let s = offset(LAT0, LNG0, 100.0, 100.0);
    for ring in [
        // one point repeated
        vec![p, p, p, p],
        // two points, repeated consecutive vertices
        vec![p, q, q, p],
        vec![p, p, q, p],
        // all on one line (zero area)
        vec![p, q, r, p],
        vec![p, r, q, p],
        // a spike: goes out and comes straight back along the same edge
        vec![p, q, s, q, r, q, p],
        // touches itself at a vertex (figure 8 through q)
        vec![
            p,
            q,
            offset(LAT0, LNG0, 200.0, 100.0),
            offset(LAT0, LNG0, 200.0, -100.0),
            q,
            offset(LAT0, LNG0, 0.0, 100.0),
            p,
        ],
        // an edge passing through another vertex
        vec![p, r, s, q, offset(LAT0, LNG0, 100.0, -100.0), p],
    ] {
        let e = Area::polygon(ring.clone()).unwrap_err();
        assert_eq!(e.code, "self_intersecting", "{ring:?}: {}", e.message);
    }
}

#[test]
fn repeated_consecutive_vertices_are_dropped_when_harmless() {
    let sq = square(300.0);
    let ring = vec![
        sq[0], sq[0], sq[1], sq[2], sq[2], sq[2], sq[3], sq[0], sq[0],
    ];
    let a = Area::polygon(ring).unwrap();
    assert_eq!(a, Area::Polygon { ring: sq });
}

#[test]
fn collinear_consecutive_vertices_are_fine() {
    // a square with an extra vertex in the middle of its bottom edge
    let sq = square(300.0);
    let mid = offset(LAT0, LNG0, 0.0, -300.0);
    let ring = vec![sq[0], mid, sq[1], sq[2], sq[3], sq[0]];
    assert!(Area::polygon(ring).is_ok());
}

#[test]
fn area_too_large() {
    // 6 km x 6 km = 36 km²
    let e = err(poly_json(&square(3000.0)));
    assert_eq!(e.code, "area_too_large");
    assert!(e.message.contains("km²"), "{}", e.message);
    // 4.9 km x 4.9 km = 24 km² is fine
    assert!(Area::from_geojson(&poly_json(&square(2450.0))).is_ok());
    // spanning the antimeridian the planar way
    let ring = vec![
        [-179.99, 0.0],
        [179.99, 0.0],
        [179.99, 0.01],
        [-179.99, 0.0],
    ];
    assert_eq!(code(poly_json(&ring)), "area_too_large");
}

#[test]
fn radius_out_of_range() {
    for r in [0.0, -5.0, 9.99, 5000.01, 1e9] {
        let v = json!({"type": "Circle", "center": [LNG0, LAT0], "radius_m": r});
        let e = err(v);
        assert_eq!(e.code, "radius_out_of_range", "{r}");
        assert!(e.message.contains("radius_m"), "{}", e.message);
    }
    for r in [MIN_RADIUS_M, MAX_RADIUS_M] {
        assert!(Area::circle(ll(LAT0, LNG0), r).is_ok());
    }
    assert_eq!(
        Area::circle(ll(LAT0, LNG0), f64::NAN).unwrap_err().code,
        "radius_out_of_range"
    );
}

#[test]
fn square_geometry() {
    let a = Area::polygon(square(500.0)).unwrap();
    // geodesic area of a 1 km x 1 km square
    let area = a.area_m2();
    assert!((area - 1e6).abs() < 1e6 * 0.005, "{area}");
    // centroid
    let c = a.center();
    assert!(haversine_m(c, ll(LAT0, LNG0)) < 0.5, "{c:?}");
    // containment
    assert!(a.contains(ll(LAT0, LNG0)));
    let inside = offset(LAT0, LNG0, 450.0, -450.0);
    assert!(a.contains(ll(inside[1], inside[0])));
    let outside = offset(LAT0, LNG0, 550.0, 0.0);
    assert!(!a.contains(ll(outside[1], outside[0])));
    // bbox
    let b = a.bbox();
    let sq = square(500.0);
    assert_eq!(b.min_lng, sq[0][0]);
    assert_eq!(b.min_lat, sq[0][1]);
    assert_eq!(b.max_lng, sq[2][0]);
    assert_eq!(b.max_lat, sq[2][1]);
    assert!(b.contains(c));
}

#[test]
fn orientation_does_not_matter() {
    let mut ring = square(500.0);
    ring.reverse();
    let a = Area::polygon(ring).unwrap();
    assert!(a.contains(ll(LAT0, LNG0)));
    assert!((a.area_m2() - 1e6).abs() < 1e6 * 0.005);
}

#[test]
fn polygon_distance() {
    let a = Area::polygon(square(500.0)).unwrap();
    assert_eq!(a.distance_m(ll(LAT0, LNG0)), 0.0);
    // 500 m east of the east edge
    let p = offset(LAT0, LNG0, 1000.0, 0.0);
    let d = a.distance_m(ll(p[1], p[0]));
    assert!((d - 500.0).abs() < 5.0, "{d}");
    // 300 m north of the north edge
    let p = offset(LAT0, LNG0, 100.0, 800.0);
    let d = a.distance_m(ll(p[1], p[0]));
    assert!((d - 300.0).abs() < 3.0, "{d}");
    // diagonally off the north-east corner: 300 m east and 400 m north -> 500 m
    let p = offset(LAT0, LNG0, 800.0, 900.0);
    let d = a.distance_m(ll(p[1], p[0]));
    assert!((d - 500.0).abs() < 5.0, "{d}");
    // far away: still a sensible great-circle distance
    let d = a.distance_m(ll(39.90469, 116.40717));
    let to_centre = haversine_m(ll(39.90469, 116.40717), ll(LAT0, LNG0));
    assert!(d < to_centre && d > to_centre - 1000.0, "{d} {to_centre}");
}

#[test]
fn circle_geometry() {
    let c = ll(LAT0, LNG0);
    let a = Area::circle(c, 1000.0).unwrap();
    assert_eq!(a.center(), c);
    let area = a.area_m2();
    let flat = std::f64::consts::PI * 1e6;
    assert!((area - flat).abs() / flat < 1e-6, "{area} vs {flat}");
    assert!(a.contains(c));
    let p = offset(LAT0, LNG0, 0.0, 990.0);
    assert!(a.contains(ll(p[1], p[0])));
    let p = offset(LAT0, LNG0, 0.0, 1010.0);
    let q = ll(p[1], p[0]);
    assert!(!a.contains(q));
    let d = a.distance_m(q);
    assert!((d - 10.0).abs() < 0.01, "{d}");
    assert_eq!(a.distance_m(c), 0.0);
}

#[test]
fn circle_bbox_contains_the_circle() {
    for (lat, lng, r) in [
        (LAT0, LNG0, 5000.0),
        (0.0, 0.0, 10.0),
        (60.0, -20.0, 3000.0),
        (-70.0, 170.0, 4000.0),
        (89.99, 0.0, 5000.0),
        (0.0, 179.99, 5000.0),
    ] {
        let a = Area::circle(ll(lat, lng), r).unwrap();
        let b = a.bbox();
        assert!(b.min_lng <= b.max_lng && b.min_lat <= b.max_lat);
        assert!((-180.0..=180.0).contains(&b.min_lng) && (-180.0..=180.0).contains(&b.max_lng));
        assert!((-90.0..=90.0).contains(&b.min_lat) && (-90.0..=90.0).contains(&b.max_lat));
        // points on the circle at many bearings (spherical destination formula)
        let rho = r / EARTH_RADIUS_M;
        let (phi, lam) = (lat.to_radians(), lng.to_radians());
        for k in 0..360 {
            let brg = (k as f64).to_radians();
            let phi2 = (phi.sin() * rho.cos() + phi.cos() * rho.sin() * brg.cos()).asin();
            let lam2 =
                lam + (brg.sin() * rho.sin() * phi.cos()).atan2(rho.cos() - phi.sin() * phi2.sin());
            let mut lng2 = lam2.to_degrees();
            if lng2 > 180.0 {
                lng2 -= 360.0;
            }
            let q = LatLng {
                lat: phi2.to_degrees(),
                lng: lng2,
            };
            // slightly inside the rim, to stay clear of rounding
            assert!(haversine_m(a.center(), q) <= r + 1e-6);
            assert!(
                b.contains(q),
                "{q:?} outside {b:?} for r={r} at {lat},{lng}"
            );
        }
        // and the box is tight for circles away from poles / antimeridian
        if lat.abs() < 80.0 && lng.abs() < 170.0 {
            let dlat = (r / EARTH_RADIUS_M).to_degrees();
            assert!((b.max_lat - b.min_lat - 2.0 * dlat).abs() < 1e-7);
        }
    }
}

#[test]
fn hand_built_invalid_areas_do_not_panic() {
    for a in [
        Area::Polygon { ring: vec![] },
        Area::Polygon {
            ring: vec![[1.0, 1.0]],
        },
        Area::Polygon {
            ring: vec![[0.0, 0.0], [1.0, 1.0], [1.0, 0.0], [0.0, 1.0]],
        },
        Area::Circle {
            center: LatLng {
                lat: f64::NAN,
                lng: 0.0,
            },
            radius_m: -1.0,
        },
    ] {
        let p = ll(0.5, 0.5);
        let _ = a.contains(p);
        let _ = a.center();
        let _ = a.area_m2();
        let _ = a.distance_m(p);
        let _ = a.bbox();
        let _ = a.to_geojson();
    }
}
