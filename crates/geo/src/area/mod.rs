//! Patrol task geofences: [`Area`], its validation and its queries; reading and writing it
//! as GeoJSON is in [`geojson`].

mod geojson;

use geo::line_intersection::{line_intersection, LineIntersection};
use geo::{Centroid, Contains, Coord, GeodesicArea, Line, LineString, Polygon};

use crate::distance::{wrap_dlng, M_PER_DEG};
use crate::point::check_lat_lng;
use crate::{haversine_m, BBox, GeoError, LatLng, EARTH_RADIUS_M};

/// Largest accepted polygon area in m² (25 km², geodesic area on WGS-84).
pub const MAX_AREA_M2: f64 = 25_000_000.0;
/// Smallest accepted circle radius in metres.
pub const MIN_RADIUS_M: f64 = 10.0;
/// Largest accepted circle radius in metres.
pub const MAX_RADIUS_M: f64 = 5_000.0;
/// Largest accepted number of positions in a polygon ring (the closing
/// position included). Validation is quadratic in the number of edges, so this
/// bounds the work a single request can cause; error code
/// `"too_many_positions"`.
pub const MAX_POSITIONS: usize = 1_000;

/// A patrol task's geofence, always valid once constructed through
/// [`Area::from_geojson`], [`Area::polygon`] or [`Area::circle`].
///
/// The variants' fields are public so the value can be matched on; an area
/// built by hand is not validated, but no method panics on it.
#[derive(Debug, Clone, PartialEq)]
pub enum Area {
    /// A simple polygon without holes.
    Polygon {
        /// Outer ring, `[lng, lat]` positions, closed (first == last), without
        /// repeated consecutive positions.
        ring: Vec<[f64; 2]>,
    },
    /// A circle on the sphere of [`EARTH_RADIUS_M`].
    Circle {
        /// Centre of the circle.
        center: LatLng,
        /// Radius in metres (great-circle distance), within
        /// [`MIN_RADIUS_M`]..=[`MAX_RADIUS_M`].
        radius_m: f64,
    },
}

fn fmt_pos(p: [f64; 2]) -> String {
    format!("[{}, {}]", p[0], p[1])
}

fn coord(p: [f64; 2]) -> Coord<f64> {
    Coord { x: p[0], y: p[1] }
}

fn geo_polygon(ring: &[[f64; 2]]) -> Polygon<f64> {
    Polygon::new(
        LineString::new(ring.iter().copied().map(coord).collect()),
        vec![],
    )
}

/// Geodesic area (WGS-84) of a polygon, whatever its winding.
///
/// `geo`'s `geodesic_area_unsigned` assumes a counter-clockwise exterior and
/// returns the area of the rest of the earth for a clockwise one; the signed
/// area is that of the smaller side (the polygon itself, since areas are
/// limited to a few km²), negative when clockwise.
fn geodesic_area(poly: &Polygon<f64>) -> f64 {
    poly.geodesic_area_signed().abs()
}

impl Area {
    /// Validates a circle: the centre must be a valid coordinate (code
    /// `"coordinate_out_of_range"`) and the radius within
    /// [`MIN_RADIUS_M`]..=[`MAX_RADIUS_M`] metres (code
    /// `"radius_out_of_range"`).
    pub fn circle(center: LatLng, radius_m: f64) -> Result<Area, GeoError> {
        check_lat_lng(center.lat, center.lng)
            .map_err(|m| GeoError::new("coordinate_out_of_range", format!("Circle center: {m}")))?;
        if !radius_m.is_finite() || !(MIN_RADIUS_M..=MAX_RADIUS_M).contains(&radius_m) {
            return Err(GeoError::new(
                "radius_out_of_range",
                format!(
                    "Circle radius_m {radius_m} is outside {MIN_RADIUS_M}..={MAX_RADIUS_M} metres"
                ),
            ));
        }
        Ok(Area::Circle { center, radius_m })
    }

    /// Validates a polygon's outer ring of `[lng, lat]` positions, with the
    /// same checks and error codes as [`Area::from_geojson`]. Repeated
    /// consecutive positions are dropped from the stored ring.
    pub fn polygon(ring: Vec<[f64; 2]>) -> Result<Area, GeoError> {
        let n = ring.len();
        if n > MAX_POSITIONS {
            return Err(too_many(n));
        }
        if n < 4 {
            return Err(GeoError::new(
                "too_few_positions",
                format!(
                    "Polygon ring has {n} position(s); at least 4 are needed (a triangle plus the closing position)"
                ),
            ));
        }
        for (i, p) in ring.iter().enumerate() {
            check_lat_lng(p[1], p[0]).map_err(|m| {
                GeoError::new(
                    "coordinate_out_of_range",
                    format!("ring position {i} {}: {m}", fmt_pos(*p)),
                )
            })?;
        }
        if ring[0] != ring[n - 1] {
            return Err(GeoError::new(
                "ring_not_closed",
                format!(
                    "Polygon ring is not closed: the first position {} differs from the last {}",
                    fmt_pos(ring[0]),
                    fmt_pos(ring[n - 1])
                ),
            ));
        }

        // Distinct vertices (without the closing position), dropping repeated
        // consecutive ones; remember each one's index in the input.
        let mut verts: Vec<[f64; 2]> = Vec::with_capacity(n);
        let mut orig: Vec<usize> = Vec::with_capacity(n);
        for (i, p) in ring[..n - 1].iter().enumerate() {
            if verts.last() != Some(p) {
                verts.push(*p);
                orig.push(i);
            }
        }
        while verts.len() > 1 && verts.last() == verts.first() {
            verts.pop();
            orig.pop();
        }
        let m = verts.len();
        if m < 3 {
            return Err(GeoError::new(
                "self_intersecting",
                format!(
                    "Polygon ring is degenerate: it has only {m} distinct vertices, so it encloses no area"
                ),
            ));
        }

        let (min_lng, max_lng) = verts
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
                (lo.min(p[0]), hi.max(p[0]))
            });
        if max_lng - min_lng > 180.0 {
            return Err(GeoError::new(
                "area_too_large",
                format!(
                    "Polygon spans {} degrees of longitude (more than 180; crossing the antimeridian is not supported)",
                    max_lng - min_lng
                ),
            ));
        }

        check_simple(&verts, &orig, n - 1)?;

        let mut stored = verts;
        stored.push(stored[0]);
        let poly = geo_polygon(&stored);
        let planar = geo::Area::unsigned_area(&poly);
        let area = geodesic_area(&poly);
        if planar == 0.0 || area == 0.0 || !area.is_finite() {
            return Err(GeoError::new(
                "self_intersecting",
                "Polygon ring is degenerate: it encloses no area",
            ));
        }
        if area > MAX_AREA_M2 {
            return Err(GeoError::new(
                "area_too_large",
                format!(
                    "Polygon area is {:.3} km², more than the maximum of {} km²",
                    area / 1e6,
                    MAX_AREA_M2 / 1e6
                ),
            ));
        }
        Ok(Area::Polygon { ring: stored })
    }

    /// Point-in-area test.
    ///
    /// Polygon: planar even-odd rule in (lng, lat) degrees (points exactly on
    /// the boundary may go either way). Circle: `haversine_m(center, p) <=
    /// radius_m`.
    pub fn contains(&self, p: LatLng) -> bool {
        match self {
            Area::Polygon { ring } => geo_polygon(ring).contains(&p.to_point()),
            Area::Circle { center, radius_m } => haversine_m(*center, p) <= *radius_m,
        }
    }

    /// The polygon's centroid (planar, in degrees) or the circle's centre.
    pub fn center(&self) -> LatLng {
        match self {
            Area::Polygon { ring } => match geo_polygon(ring).centroid() {
                Some(c) => LatLng {
                    lat: c.y(),
                    lng: c.x(),
                },
                None => LatLng { lat: 0.0, lng: 0.0 },
            },
            Area::Circle { center, .. } => *center,
        }
    }

    /// Geodesic area in m²: on the WGS-84 ellipsoid for a polygon (via
    /// `geo`'s `GeodesicArea`), the spherical cap on the sphere of
    /// [`EARTH_RADIUS_M`] for a circle.
    pub fn area_m2(&self) -> f64 {
        match self {
            Area::Polygon { ring } => geodesic_area(&geo_polygon(ring)),
            Area::Circle { radius_m, .. } => {
                // 2πR²(1 − cos ρ) written as 4πR² sin²(ρ/2), stable for small ρ
                let half = radius_m / EARTH_RADIUS_M / 2.0;
                4.0 * std::f64::consts::PI * EARTH_RADIUS_M * EARTH_RADIUS_M * half.sin().powi(2)
            }
        }
    }

    /// 0 when `p` is inside, else the great-circle distance in metres from
    /// `p` to the nearest point of the boundary.
    ///
    /// For a polygon the nearest point of each edge is found in a local
    /// equirectangular projection around `p` and its great-circle distance
    /// is measured: accurate to far better than 1% for areas of a few km.
    /// For a circle this is `haversine_m(center, p) - radius_m`.
    pub fn distance_m(&self, p: LatLng) -> f64 {
        if self.contains(p) {
            return 0.0;
        }
        match self {
            Area::Polygon { ring } => polygon_boundary_distance(ring, p),
            Area::Circle { center, radius_m } => (haversine_m(*center, p) - radius_m).max(0.0),
        }
    }

    /// The bounding box. For a circle it is the exact box of the spherical
    /// cap (whole longitude range when the cap reaches a pole or crosses the
    /// antimeridian).
    pub fn bbox(&self) -> BBox {
        match self {
            Area::Polygon { ring } => {
                if ring.is_empty() {
                    return BBox {
                        min_lng: 0.0,
                        min_lat: 0.0,
                        max_lng: 0.0,
                        max_lat: 0.0,
                    };
                }
                ring.iter().fold(
                    BBox {
                        min_lng: f64::INFINITY,
                        min_lat: f64::INFINITY,
                        max_lng: f64::NEG_INFINITY,
                        max_lat: f64::NEG_INFINITY,
                    },
                    |b, p| BBox {
                        min_lng: b.min_lng.min(p[0]),
                        min_lat: b.min_lat.min(p[1]),
                        max_lng: b.max_lng.max(p[0]),
                        max_lat: b.max_lat.max(p[1]),
                    },
                )
            }
            Area::Circle { center, radius_m } => circle_bbox(*center, *radius_m),
        }
    }
}

fn too_many(n: usize) -> GeoError {
    GeoError::new(
        "too_many_positions",
        format!("Polygon ring has {n} positions, more than the maximum of {MAX_POSITIONS}"),
    )
}

/// Checks that the closed ring through `verts` (distinct consecutive
/// vertices, not repeated at the end) is simple: adjacent edges meet only at
/// their shared vertex, non-adjacent edges do not meet at all. Uses `geo`'s
/// robust segment intersection. `orig` maps vertex indices to input
/// positions (for messages); `closing` is the input index of the closing
/// position.
fn check_simple(verts: &[[f64; 2]], orig: &[usize], closing: usize) -> Result<(), GeoError> {
    let m = verts.len();
    let edge = |i: usize| Line::new(coord(verts[i]), coord(verts[(i + 1) % m]));
    let edge_name = |i: usize| {
        let to = if i + 1 == m { closing } else { orig[i + 1] };
        format!("edge {}→{to}", orig[i])
    };
    for i in 0..m {
        let a = edge(i);
        for j in i + 1..m {
            let adjacent = j == i + 1 || (i == 0 && j == m - 1);
            let problem = match line_intersection(a, edge(j)) {
                // adjacent edges always meet at their shared vertex
                Some(LineIntersection::SinglePoint { intersection, .. }) if !adjacent => {
                    Some(format!("meet at [{}, {}]", intersection.x, intersection.y))
                }
                // collinear adjacent edges are fine when they only touch at
                // the shared vertex, not when one folds back over the other
                Some(LineIntersection::Collinear { intersection })
                    if !adjacent || intersection.start != intersection.end =>
                {
                    Some(format!(
                        "overlap between [{}, {}] and [{}, {}]",
                        intersection.start.x,
                        intersection.start.y,
                        intersection.end.x,
                        intersection.end.y
                    ))
                }
                _ => None,
            };
            if let Some(problem) = problem {
                return Err(GeoError::new(
                    "self_intersecting",
                    format!(
                        "Polygon ring intersects itself: {} and {} {problem}",
                        edge_name(i),
                        edge_name(j)
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Great-circle distance from `p` to the nearest point on the ring's edges.
fn polygon_boundary_distance(ring: &[[f64; 2]], p: LatLng) -> f64 {
    if ring.is_empty() {
        return f64::INFINITY;
    }
    // Local equirectangular projection around p (metres, p at the origin).
    let kx = M_PER_DEG * p.lat.to_radians().cos();
    let ky = M_PER_DEG;
    let mut best = f64::INFINITY;
    let n = ring.len();
    for i in 0..n {
        let a = ring[i];
        let b = ring[(i + 1) % n];
        let (adx, ady) = (wrap_dlng(p.lng, a[0]), a[1] - p.lat);
        let (ex, ey) = (wrap_dlng(a[0], b[0]), b[1] - a[1]);
        let (ax, ay) = (adx * kx, ady * ky);
        let (bx, by) = (ex * kx, ey * ky);
        let len2 = bx * bx + by * by;
        let t = if len2 > 0.0 {
            (-(ax * bx + ay * by) / len2).clamp(0.0, 1.0)
        } else {
            0.0
        };
        let q = LatLng {
            lat: (a[1] + t * ey).clamp(-90.0, 90.0),
            lng: a[0] + t * ex,
        };
        best = best.min(haversine_m(p, q));
    }
    best
}

fn circle_bbox(center: LatLng, radius_m: f64) -> BBox {
    // small margin so that points counted as inside by `contains` despite
    // rounding are always inside the box
    const EPS: f64 = 1e-9;
    let rho = radius_m / EARTH_RADIUS_M;
    let dlat = rho.to_degrees() + EPS;
    let min_lat = center.lat - dlat;
    let max_lat = center.lat + dlat;
    if max_lat >= 90.0 || min_lat <= -90.0 {
        return BBox {
            min_lng: -180.0,
            min_lat: min_lat.max(-90.0),
            max_lng: 180.0,
            max_lat: max_lat.min(90.0),
        };
    }
    let ratio = (rho.sin() / center.lat.to_radians().cos()).min(1.0);
    let dlng = ratio.asin().to_degrees() + EPS;
    let (min_lng, max_lng) = (center.lng - dlng, center.lng + dlng);
    let (min_lng, max_lng) = if min_lng < -180.0 || max_lng > 180.0 {
        (-180.0, 180.0)
    } else {
        (min_lng, max_lng)
    };
    BBox {
        min_lng,
        min_lat,
        max_lng,
        max_lat,
    }
}

#[cfg(test)]
mod tests;
