//! Great-circle distances.

use geo::{Distance, Haversine};

use crate::LatLng;

/// Mean earth radius in metres (IUGG R₁), the sphere used by [`haversine_m`].
///
/// This is the radius used by `geo`'s `Haversine` metric space as well.
pub const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// Great-circle distance in metres between `a` and `b` (haversine formula on a
/// sphere of [`EARTH_RADIUS_M`]).
pub fn haversine_m(a: LatLng, b: LatLng) -> f64 {
    let d = Haversine::distance(a.to_point(), b.to_point());
    if d.is_nan() && [a.lat, a.lng, b.lat, b.lng].iter().all(|x| x.is_finite()) {
        // Rounding can push the haversine term a hair above 1 for (nearly)
        // antipodal points, making `asin` return NaN: that is half a great circle.
        return std::f64::consts::PI * EARTH_RADIUS_M;
    }
    d
}

/// Metres per degree of latitude (and of longitude at the equator) on the
/// sphere of [`EARTH_RADIUS_M`].
pub(crate) const M_PER_DEG: f64 = EARTH_RADIUS_M * std::f64::consts::PI / 180.0;

/// Longitude difference `to - from` in degrees, wrapped into -180..=180.
pub(crate) fn wrap_dlng(from: f64, to: f64) -> f64 {
    let mut d = to - from;
    if d > 180.0 {
        d -= 360.0;
    } else if d < -180.0 {
        d += 360.0;
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Independent reference: the spherical Vincenty (atan2) formula, which is
    /// well conditioned at every distance.
    fn reference_m(a: LatLng, b: LatLng) -> f64 {
        let (p1, p2) = (a.lat.to_radians(), b.lat.to_radians());
        let dl = (b.lng - a.lng).to_radians();
        let y = ((p2.cos() * dl.sin()).powi(2)
            + (p1.cos() * p2.sin() - p1.sin() * p2.cos() * dl.cos()).powi(2))
        .sqrt();
        let x = p1.sin() * p2.sin() + p1.cos() * p2.cos() * dl.cos();
        EARTH_RADIUS_M * y.atan2(x)
    }

    fn ll(lat: f64, lng: f64) -> LatLng {
        LatLng::new(lat, lng).unwrap()
    }

    #[test]
    fn canton_tower_to_haizhu_lake() {
        let tower = ll(23.1066, 113.3245);
        let lake = ll(23.0830, 113.3390);
        let d = haversine_m(tower, lake);
        let r = reference_m(tower, lake);
        assert!((d - r).abs() < 1.0, "haversine {d} vs reference {r}");
        // computed independently (haversine, R = 6371008.8 m): 3014.31 m
        assert!((d - 3014.31).abs() < 1.0, "{d}");
        assert_eq!(haversine_m(lake, tower), d);
    }

    #[test]
    fn one_degree_of_latitude() {
        let d = haversine_m(ll(0.0, 0.0), ll(1.0, 0.0));
        assert!((d - 111_195.08).abs() < 0.01, "{d}");
        assert!((d - M_PER_DEG).abs() < 1e-6);
        // same along any meridian
        let d2 = haversine_m(ll(45.0, 120.0), ll(46.0, 120.0));
        assert!((d2 - 111_195.08).abs() < 0.01, "{d2}");
    }

    #[test]
    fn zero_and_antipodal() {
        let p = ll(23.1, 113.3);
        assert_eq!(haversine_m(p, p), 0.0);
        let half = std::f64::consts::PI * EARTH_RADIUS_M;
        for (a, b) in [
            (ll(0.0, 0.0), ll(0.0, 180.0)),
            (ll(90.0, 0.0), ll(-90.0, 0.0)),
            (ll(23.1, 113.3), ll(-23.1, -66.7)),
        ] {
            let d = haversine_m(a, b);
            assert!((d - half).abs() < 1.0, "{d}");
        }
    }

    #[test]
    fn agrees_with_reference_over_many_pairs() {
        let mut worst = 0.0_f64;
        for i in 0..40 {
            for j in 0..40 {
                let a = ll(-80.0 + 4.0 * i as f64, -170.0 + 8.5 * j as f64);
                let b = ll(10.0 + 1.7 * j as f64, 100.0 + 2.0 * i as f64);
                let d = haversine_m(a, b);
                let r = reference_m(a, b);
                worst = worst.max((d - r).abs());
            }
        }
        assert!(worst < 0.01, "worst {worst}");
    }

    #[test]
    fn dlng_wraps() {
        assert_eq!(wrap_dlng(179.0, -179.0), 2.0);
        assert_eq!(wrap_dlng(-179.0, 179.0), -2.0);
        assert_eq!(wrap_dlng(10.0, 20.0), 10.0);
    }
}
