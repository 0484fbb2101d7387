//! [`Area`] as GeoJSON (RFC 7946): parsing with the validity checks, reading back a stored
//! area without them, and writing it out.

use serde_json::{json, Value};

use super::{fmt_pos, too_many, Area, MAX_POSITIONS};
use crate::point::check_lat_lng;
use crate::{GeoError, LatLng};

fn invalid(msg: impl Into<String>) -> GeoError {
    GeoError::new("invalid_geojson", msg)
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Parses a GeoJSON position: two finite numbers `[lng, lat]`; a third
/// (altitude) number, allowed by RFC 7946, is accepted and ignored.
fn parse_position(v: &Value, what: &str) -> Result<[f64; 2], GeoError> {
    let Some(arr) = v.as_array() else {
        return Err(invalid(format!(
            "{what} must be an array [lng, lat], got {}",
            json_kind(v)
        )));
    };
    if !(2..=3).contains(&arr.len()) {
        return Err(invalid(format!(
            "{what} must be two numbers [lng, lat], got {} element(s)",
            arr.len()
        )));
    }
    let mut out = [0.0; 2];
    for (i, (slot, name)) in out.iter_mut().zip(["longitude", "latitude"]).enumerate() {
        match arr[i].as_f64() {
            Some(x) if x.is_finite() => *slot = x,
            _ => {
                return Err(invalid(format!(
                    "{what}: {name} must be a finite number, got {}",
                    arr[i]
                )))
            }
        }
    }
    if let Some(alt) = arr.get(2) {
        if !alt.as_f64().is_some_and(f64::is_finite) {
            return Err(invalid(format!(
                "{what}: altitude must be a finite number, got {alt}"
            )));
        }
    }
    Ok(out)
}

impl Area {
    /// Parses and validates GeoJSON (RFC 7946):
    ///
    /// * `{"type":"Polygon","coordinates":[[[lng,lat],...]]}` — exactly one
    ///   ring; holes are refused with code `"polygon_holes_unsupported"`;
    /// * `{"type":"Circle","center":[lng,lat],"radius_m":R}` — our extension;
    /// * a GeoJSON `Feature` whose `geometry` is one of those.
    ///
    /// Positions may carry a third (altitude) number, which is ignored.
    ///
    /// Error codes (each with a message saying what is wrong, e.g. which
    /// position): `"invalid_geojson"` (not an object, missing or wrongly
    /// typed members, a position that is not two finite numbers),
    /// `"unsupported_geometry"` (any other type), `"polygon_holes_unsupported"`,
    /// `"too_many_positions"` (more than [`MAX_POSITIONS`]),
    /// `"too_few_positions"` (fewer than 4), `"coordinate_out_of_range"`,
    /// `"ring_not_closed"`, `"self_intersecting"` (crossing or touching edges,
    /// or a degenerate ring with zero area, e.g. made of repeated vertices),
    /// `"area_too_large"` (geodesic area above [`MAX_AREA_M2`], or spanning
    /// more than 180° of longitude) and `"radius_out_of_range"`.
    pub fn from_geojson(v: &Value) -> Result<Area, GeoError> {
        Self::parse_geojson(v, true, true)
    }

    /// Reads back an area that [`Area::from_geojson`] validated before it was stored: the same
    /// parsing, without the validity checks (the O(n²) crossing test, the geodesic area), so
    /// listing many stored tasks stays cheap. Malformed JSON is still an error.
    pub fn from_stored_geojson(v: &Value) -> Result<Area, GeoError> {
        Self::parse_geojson(v, false, false)
    }

    fn parse_geojson(v: &Value, allow_feature: bool, validate: bool) -> Result<Area, GeoError> {
        let Some(obj) = v.as_object() else {
            return Err(invalid(format!(
                "GeoJSON must be an object, got {}",
                json_kind(v)
            )));
        };
        let ty = match obj.get("type") {
            None => return Err(invalid("GeoJSON object has no \"type\" member")),
            Some(Value::String(s)) => s.as_str(),
            Some(other) => {
                return Err(invalid(format!(
                    "GeoJSON \"type\" must be a string, got {}",
                    json_kind(other)
                )))
            }
        };
        match ty {
            "Feature" if allow_feature => match obj.get("geometry") {
                None | Some(Value::Null) => Err(invalid("Feature has no geometry")),
                Some(g) => Self::parse_geojson(g, false, validate),
            },
            "Polygon" => {
                let rings = match obj.get("coordinates") {
                    Some(Value::Array(rings)) => rings,
                    None => return Err(invalid("Polygon has no \"coordinates\" member")),
                    Some(other) => {
                        return Err(invalid(format!(
                            "Polygon \"coordinates\" must be an array of rings, got {}",
                            json_kind(other)
                        )))
                    }
                };
                match rings.len() {
                    0 => return Err(invalid("Polygon \"coordinates\" has no ring")),
                    1 => {}
                    n => {
                        return Err(GeoError::new(
                            "polygon_holes_unsupported",
                            format!(
                                "Polygon has {n} rings but holes are not supported: give only the outer ring"
                            ),
                        ))
                    }
                }
                let Some(ring) = rings[0].as_array() else {
                    return Err(invalid(format!(
                        "Polygon ring must be an array of positions, got {}",
                        json_kind(&rings[0])
                    )));
                };
                if ring.len() > MAX_POSITIONS {
                    return Err(too_many(ring.len()));
                }
                let ring = ring
                    .iter()
                    .enumerate()
                    .map(|(i, p)| parse_position(p, &format!("ring position {i}")))
                    .collect::<Result<Vec<_>, _>>()?;
                if validate {
                    Area::polygon(ring)
                } else {
                    Ok(Area::Polygon { ring })
                }
            }
            "Circle" => {
                let center = match obj.get("center") {
                    None => return Err(invalid("Circle has no \"center\" member")),
                    Some(c) => parse_position(c, "Circle \"center\"")?,
                };
                let radius_m = match obj.get("radius_m") {
                    None => return Err(invalid("Circle has no \"radius_m\" member")),
                    Some(r) => r.as_f64().ok_or_else(|| {
                        invalid(format!(
                            "Circle \"radius_m\" must be a number of metres, got {}",
                            json_kind(r)
                        ))
                    })?,
                };
                let center_ll = LatLng {
                    lat: center[1],
                    lng: center[0],
                };
                if !validate {
                    return Ok(Area::Circle {
                        center: center_ll,
                        radius_m,
                    });
                }
                check_lat_lng(center[1], center[0]).map_err(|m| {
                    GeoError::new(
                        "coordinate_out_of_range",
                        format!("Circle center {}: {m}", fmt_pos(center)),
                    )
                })?;
                Area::circle(center_ll, radius_m)
            }
            other => Err(GeoError::new(
                "unsupported_geometry",
                format!(
                    "geometry type {other:?} is not supported: use a Polygon, a Circle or a Feature holding one"
                ),
            )),
        }
    }

    /// The same GeoJSON shapes back: a `Polygon` with its one ring, or the
    /// `Circle` object `{"type":"Circle","center":[lng,lat],"radius_m":R}`.
    pub fn to_geojson(&self) -> Value {
        match self {
            Area::Polygon { ring } => json!({ "type": "Polygon", "coordinates": [ring] }),
            Area::Circle { center, radius_m } => json!({
                "type": "Circle",
                "center": [center.lng, center.lat],
                "radius_m": radius_m,
            }),
        }
    }
}
