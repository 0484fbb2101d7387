//! # pp-geo — geometry for Peace Patrol
//!
//! Pure maths, no I/O and no async: everything the server needs to reason about
//! where volunteers are and where a patrol task takes place.
//!
//! * [`LatLng`] — a validated WGS-84 coordinate, and [`BBox`] — a lng/lat box
//!   (parsed from the usual `"minLng,minLat,maxLng,maxLat"` query string).
//! * [`haversine_m`] — great-circle distance in metres on a sphere of
//!   [`EARTH_RADIUS_M`].
//! * [`Area`] — a patrol task's geofence: a simple polygon (one outer ring) or a
//!   circle, parsed from and rendered to GeoJSON (RFC 7946, plus a `Circle`
//!   extension). Once constructed through [`Area::from_geojson`] (or
//!   [`Area::polygon`] / [`Area::circle`]) an area is valid: closed, not
//!   self-intersecting, within range and no larger than [`MAX_AREA_M2`].
//! * [`wgs84_to_gcj02`] / [`gcj02_to_wgs84`] — conversion to and from the
//!   GCJ-02 ("Mars") coordinates reported by phones in mainland China.
//! * [`cells`] — a point's H3 cells at the heat map's resolutions (7 to 10), with
//!   the `h3o` crate, and their hexagon boundaries.
//! * [`near`] — nearest keyed points on the sphere ([`near::PointIndex`], a grid
//!   of ~200 m cells over unit-sphere positions: exact great-circle order, moves in place).
//! * [`tile`] — Web Mercator XYZ map tiles ([`tile::Tile`]) and the heat map PNG
//!   drawn on them ([`tile::render_heat`]): H3 hexagons coloured by intensity.
//!
//! Every failure is a [`GeoError`] carrying a stable snake_case `code` (for API
//! clients) and a human readable `message` saying what is wrong.
//!
//! Polygon work (containment, centroid, segment intersection, geodesic area)
//! is delegated to the georust [`geo`] crate.
//!
//! ```
//! use pp_geo::{haversine_m, Area, LatLng};
//!
//! let area = Area::from_geojson(&serde_json::json!({
//!     "type": "Circle", "center": [113.3245, 23.1066], "radius_m": 500
//! }))?;
//! let tower = LatLng::new(23.1066, 113.3245)?;
//! let lake = LatLng::new(23.0830, 113.3390)?;
//! assert!(area.contains(tower));
//! assert!(!area.contains(lake));
//! assert!((area.distance_m(lake) - (haversine_m(tower, lake) - 500.0)).abs() < 1e-6);
//!
//! let bad = Area::from_geojson(&serde_json::json!({
//!     "type": "Polygon",
//!     "coordinates": [[[0.0, 0.0], [0.01, 0.01], [0.01, 0.0], [0.0, 0.01], [0.0, 0.0]]]
//! }));
//! assert_eq!(bad.unwrap_err().code, "self_intersecting");
//! # Ok::<(), pp_geo::GeoError>(())
//! ```
#![warn(missing_docs)]

mod area;
pub mod cells;
mod distance;
mod error;
mod gcj02;
pub mod near;
mod point;
pub mod tile;

pub use area::{Area, MAX_AREA_M2, MAX_POSITIONS, MAX_RADIUS_M, MIN_RADIUS_M};
pub use distance::{haversine_m, EARTH_RADIUS_M};
pub use error::GeoError;
pub use gcj02::{gcj02_to_wgs84, wgs84_to_gcj02};
pub use point::{BBox, LatLng};
