//! Coordinates ([`LatLng`]) and bounding boxes ([`BBox`]).

use serde::{Deserialize, Serialize};

use crate::GeoError;

/// A WGS-84 coordinate in decimal degrees.
///
/// [`LatLng::new`] validates its input; the fields are public for convenience
/// (and for serde), so a value built by hand is trusted as is.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LatLng {
    /// Latitude in degrees, -90 ..= 90 (positive north).
    pub lat: f64,
    /// Longitude in degrees, -180 ..= 180 (positive east).
    pub lng: f64,
}

impl LatLng {
    /// Validates and builds a coordinate: both values must be finite, `lat` in
    /// `-90..=90` and `lng` in `-180..=180`; otherwise the error code is
    /// `"coordinate_out_of_range"`.
    pub fn new(lat: f64, lng: f64) -> Result<LatLng, GeoError> {
        check_lat_lng(lat, lng).map_err(|what| GeoError::new("coordinate_out_of_range", what))?;
        Ok(LatLng { lat, lng })
    }

    /// The coordinate as a `geo` point (x = lng, y = lat).
    pub(crate) fn to_point(self) -> geo::Point<f64> {
        geo::Point::new(self.lng, self.lat)
    }
}

/// Checks a latitude / longitude pair; on failure returns a description of
/// the problem (without context), e.g. `"latitude 91 is outside -90..=90"`.
pub(crate) fn check_lat_lng(lat: f64, lng: f64) -> Result<(), String> {
    if !lat.is_finite() {
        return Err(format!("latitude {lat} is not a finite number"));
    }
    if !lng.is_finite() {
        return Err(format!("longitude {lng} is not a finite number"));
    }
    if !(-90.0..=90.0).contains(&lat) {
        return Err(format!("latitude {lat} is outside -90..=90"));
    }
    if !(-180.0..=180.0).contains(&lng) {
        return Err(format!("longitude {lng} is outside -180..=180"));
    }
    Ok(())
}

/// An axis-aligned box in longitude / latitude degrees (edges included).
///
/// Boxes crossing the antimeridian (`min_lng > max_lng`) are not supported.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BBox {
    /// Western edge (degrees of longitude).
    pub min_lng: f64,
    /// Southern edge (degrees of latitude).
    pub min_lat: f64,
    /// Eastern edge (degrees of longitude).
    pub max_lng: f64,
    /// Northern edge (degrees of latitude).
    pub max_lat: f64,
}

impl BBox {
    /// A box holding every point within `radius_m` great-circle metres of `p` (a little larger
    /// than the circle; clamped at the poles and the antimeridian), for prefiltering.
    pub fn around(p: LatLng, radius_m: f64) -> BBox {
        let r = radius_m.max(0.0) * 1.001 + 1.0;
        let dlat = (r / crate::EARTH_RADIUS_M).to_degrees();
        let cos = p.lat.to_radians().cos();
        let dlng = if cos > 1e-6 {
            (dlat / cos).min(180.0)
        } else {
            180.0
        };
        BBox {
            min_lng: (p.lng - dlng).max(-180.0),
            min_lat: (p.lat - dlat).max(-90.0),
            max_lng: (p.lng + dlng).min(180.0),
            max_lat: (p.lat + dlat).min(90.0),
        }
    }

    /// Whether `p` lies in the box; points on the edges are inside.
    pub fn contains(&self, p: LatLng) -> bool {
        p.lng >= self.min_lng
            && p.lng <= self.max_lng
            && p.lat >= self.min_lat
            && p.lat <= self.max_lat
    }

    /// Parses `"minLng,minLat,maxLng,maxLat"` (the GeoJSON / OGC order;
    /// whitespace around the numbers is allowed).
    ///
    /// Every failure has code `"invalid_bbox"`: not exactly four numbers, a
    /// number that does not parse or is not finite, a longitude outside
    /// -180..=180 or latitude outside -90..=90, or a minimum greater than its
    /// maximum.
    pub fn parse(s: &str) -> Result<BBox, GeoError> {
        let err = |m: String| GeoError::new("invalid_bbox", m);
        let parts: Vec<&str> = s.split(',').map(str::trim).collect();
        if parts.len() != 4 {
            return Err(err(format!(
                "bbox must be four comma-separated numbers \"minLng,minLat,maxLng,maxLat\", got {} part(s) in {s:?}",
                parts.len()
            )));
        }
        const NAMES: [&str; 4] = ["minLng", "minLat", "maxLng", "maxLat"];
        let mut v = [0.0_f64; 4];
        for (i, part) in parts.iter().enumerate() {
            let x: f64 = part
                .parse()
                .map_err(|_| err(format!("bbox {} {part:?} is not a number", NAMES[i])))?;
            if !x.is_finite() {
                return Err(err(format!(
                    "bbox {} {part:?} is not a finite number",
                    NAMES[i]
                )));
            }
            v[i] = x;
        }
        let [min_lng, min_lat, max_lng, max_lat] = v;
        for (name, x) in [("minLng", min_lng), ("maxLng", max_lng)] {
            if !(-180.0..=180.0).contains(&x) {
                return Err(err(format!("bbox {name} {x} is outside -180..=180")));
            }
        }
        for (name, x) in [("minLat", min_lat), ("maxLat", max_lat)] {
            if !(-90.0..=90.0).contains(&x) {
                return Err(err(format!("bbox {name} {x} is outside -90..=90")));
            }
        }
        if min_lng > max_lng {
            return Err(err(format!(
                "bbox minLng {min_lng} is greater than maxLng {max_lng} (boxes crossing the antimeridian are not supported)"
            )));
        }
        if min_lat > max_lat {
            return Err(err(format!(
                "bbox minLat {min_lat} is greater than maxLat {max_lat}"
            )));
        }
        Ok(BBox {
            min_lng,
            min_lat,
            max_lng,
            max_lat,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latlng_accepts_limits() {
        for (lat, lng) in [(0.0, 0.0), (90.0, 180.0), (-90.0, -180.0), (23.1, 113.3)] {
            let p = LatLng::new(lat, lng).unwrap();
            assert_eq!((p.lat, p.lng), (lat, lng));
        }
    }

    #[test]
    fn latlng_rejects_out_of_range_and_non_finite() {
        for (lat, lng) in [
            (90.000001, 0.0),
            (-91.0, 0.0),
            (0.0, 180.5),
            (0.0, -181.0),
            (f64::NAN, 0.0),
            (0.0, f64::INFINITY),
            (f64::NEG_INFINITY, 0.0),
        ] {
            let e = LatLng::new(lat, lng).unwrap_err();
            assert_eq!(e.code, "coordinate_out_of_range", "{lat},{lng}");
            assert!(!e.message.is_empty());
        }
        let e = LatLng::new(91.0, 0.0).unwrap_err();
        assert!(e.message.contains("latitude 91"), "{}", e.message);
    }

    #[test]
    fn latlng_serde_shape() {
        let p = LatLng::new(23.5, 113.25).unwrap();
        let v = serde_json::to_value(p).unwrap();
        assert_eq!(v, serde_json::json!({"lat": 23.5, "lng": 113.25}));
        let back: LatLng = serde_json::from_value(v).unwrap();
        assert_eq!(back, p);
    }

    #[test]
    fn bbox_parse_and_contains() {
        let b = BBox::parse("113.2, 23.0,113.5,23.2").unwrap();
        assert_eq!(
            b,
            BBox {
                min_lng: 113.2,
                min_lat: 23.0,
                max_lng: 113.5,
                max_lat: 23.2
            }
        );
        assert!(b.contains(LatLng::new(23.1, 113.3).unwrap()));
        assert!(
            b.contains(LatLng::new(23.0, 113.2).unwrap()),
            "edges are inside"
        );
        assert!(
            b.contains(LatLng::new(23.2, 113.5).unwrap()),
            "edges are inside"
        );
        assert!(!b.contains(LatLng::new(23.3, 113.3).unwrap()));
        assert!(!b.contains(LatLng::new(23.1, 113.6).unwrap()));
        assert!(!b.contains(LatLng::new(22.9, 113.1).unwrap()));
        // a degenerate (point) box is fine
        assert!(BBox::parse("1,2,1,2").is_ok());
    }

    #[test]
    fn bbox_parse_errors() {
        for s in [
            "",
            "1,2,3",
            "1,2,3,4,5",
            "a,2,3,4",
            "1,,3,4",
            "1,2,NaN,4",
            "1,2,inf,4",
            "-181,0,0,1",
            "0,0,181,1",
            "0,-91,1,1",
            "0,0,1,91",
            "10,0,5,1",
            "0,10,1,5",
        ] {
            let e = BBox::parse(s).unwrap_err();
            assert_eq!(e.code, "invalid_bbox", "{s:?}");
            assert!(!e.message.is_empty());
        }
    }
}
