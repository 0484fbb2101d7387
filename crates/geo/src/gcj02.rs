//! GCJ-02 ("Mars coordinates") <-> WGS-84.
//!
//! Phones and map SDKs in mainland China report GCJ-02, an officially
//! obfuscated datum offset from WGS-84 by a few hundred metres. The forward
//! transform is the widely published formula on the Krasovsky 1940 ellipsoid;
//! the inverse has no closed form and is computed by fixed-point iteration.
//! Outside the usual rough bounding box of China both directions are the
//! identity.

use std::f64::consts::PI;

use crate::LatLng;

/// Semi-major axis of the Krasovsky 1940 ellipsoid (metres).
const KRASOVSKY_A: f64 = 6_378_245.0;
/// First eccentricity squared of the Krasovsky 1940 ellipsoid (the published
/// constant 0.00669342162296594323, rounded to the nearest f64).
const KRASOVSKY_EE: f64 = 0.006_693_421_622_965_943;

/// The conventional rough test: outside this box there is no offset.
fn out_of_china(lat: f64, lng: f64) -> bool {
    !(72.004..=137.8347).contains(&lng) || !(0.8293..=55.8271).contains(&lat)
}

fn transform_lat(x: f64, y: f64) -> f64 {
    let mut r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * x.abs().sqrt();
    r += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    r += (20.0 * (y * PI).sin() + 40.0 * (y / 3.0 * PI).sin()) * 2.0 / 3.0;
    r += (160.0 * (y / 12.0 * PI).sin() + 320.0 * (y * PI / 30.0).sin()) * 2.0 / 3.0;
    r
}

fn transform_lng(x: f64, y: f64) -> f64 {
    let mut r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * x.abs().sqrt();
    r += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    r += (20.0 * (x * PI).sin() + 40.0 * (x / 3.0 * PI).sin()) * 2.0 / 3.0;
    r += (150.0 * (x / 12.0 * PI).sin() + 300.0 * (x / 30.0 * PI).sin()) * 2.0 / 3.0;
    r
}

/// The GCJ-02 offset (Δlat, Δlng) in degrees at WGS-84 position (lat, lng),
/// without the bounding-box test.
fn offset(lat: f64, lng: f64) -> (f64, f64) {
    let dlat = transform_lat(lng - 105.0, lat - 35.0);
    let dlng = transform_lng(lng - 105.0, lat - 35.0);
    let rad_lat = lat.to_radians();
    let magic = 1.0 - KRASOVSKY_EE * rad_lat.sin().powi(2);
    let sqrt_magic = magic.sqrt();
    let dlat = (dlat * 180.0) / ((KRASOVSKY_A * (1.0 - KRASOVSKY_EE)) / (magic * sqrt_magic) * PI);
    let dlng = (dlng * 180.0) / (KRASOVSKY_A / sqrt_magic * rad_lat.cos() * PI);
    (dlat, dlng)
}

/// Converts a WGS-84 coordinate to GCJ-02. Outside mainland China (the usual
/// rough bounding box lng 72.004..137.8347, lat 0.8293..55.8271) this is the
/// identity.
pub fn wgs84_to_gcj02(p: LatLng) -> LatLng {
    if !p.lat.is_finite() || !p.lng.is_finite() || out_of_china(p.lat, p.lng) {
        return p;
    }
    let (dlat, dlng) = offset(p.lat, p.lng);
    LatLng {
        lat: p.lat + dlat,
        lng: p.lng + dlng,
    }
}

/// Converts a GCJ-02 coordinate back to WGS-84, by iterating the forward
/// transform until it reproduces `p` (accurate to far below 0.01 m; the
/// offset varies slowly, so a handful of iterations suffice). Outside the
/// rough bounding box of China this is the identity.
pub fn gcj02_to_wgs84(p: LatLng) -> LatLng {
    if !p.lat.is_finite() || !p.lng.is_finite() || out_of_china(p.lat, p.lng) {
        return p;
    }
    // Solve w + offset(w) = p.
    let (mut lat, mut lng) = (p.lat, p.lng);
    for _ in 0..30 {
        let (dlat, dlng) = offset(lat, lng);
        let err_lat = lat + dlat - p.lat;
        let err_lng = lng + dlng - p.lng;
        lat -= err_lat;
        lng -= err_lng;
        if err_lat.abs() < 1e-12 && err_lng.abs() < 1e-12 {
            break;
        }
    }
    LatLng { lat, lng }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::haversine_m;

    fn ll(lat: f64, lng: f64) -> LatLng {
        LatLng::new(lat, lng).unwrap()
    }

    #[test]
    fn beijing_reference_value() {
        // WGS-84 Tiananmen area -> published GCJ-02 value (Krasovsky formula).
        let g = wgs84_to_gcj02(ll(39.90469, 116.40717));
        assert!((g.lat - 39.90609).abs() < 1e-5, "{g:?}");
        assert!((g.lng - 116.41341).abs() < 1e-5, "{g:?}");
        // more digits, from an independent (Python) evaluation of the formula
        assert!((g.lat - 39.906_093_412_878_71).abs() < 1e-9, "{g:?}");
        assert!((g.lng - 116.413_412_395_436_25).abs() < 1e-9, "{g:?}");
    }

    #[test]
    fn guangzhou_reference_value() {
        let g = wgs84_to_gcj02(ll(23.1066, 113.3245));
        assert!((g.lat - 23.103_998_206_207_19).abs() < 1e-9, "{g:?}");
        assert!((g.lng - 113.329_921_216_893_68).abs() < 1e-9, "{g:?}");
        // the offset is a few hundred metres
        let d = haversine_m(ll(23.1066, 113.3245), g);
        assert!(d > 100.0 && d < 1000.0, "{d}");
    }

    #[test]
    fn identity_outside_china() {
        for p in [
            ll(48.8566, 2.3522),    // Paris
            ll(35.6762, 139.6503),  // Tokyo: east of the box
            ll(-33.8688, 151.2093), // Sydney
            ll(0.5, 100.0),         // south of the box
            ll(60.0, 100.0),        // north of the box
            ll(40.0, 70.0),         // west of the box
            ll(90.0, 180.0),
        ] {
            assert_eq!(wgs84_to_gcj02(p), p);
            assert_eq!(gcj02_to_wgs84(p), p);
        }
    }

    #[test]
    fn inverse_of_reference_value() {
        let w = gcj02_to_wgs84(LatLng {
            lat: 39.906_093_412_878_71,
            lng: 116.413_412_395_436_25,
        });
        let d = haversine_m(w, ll(39.90469, 116.40717));
        assert!(d < 0.01, "{d} m");
    }

    #[test]
    fn non_finite_passes_through() {
        let p = LatLng {
            lat: f64::NAN,
            lng: 116.0,
        };
        assert!(wgs84_to_gcj02(p).lat.is_nan());
        assert!(gcj02_to_wgs84(p).lat.is_nan());
    }
}
