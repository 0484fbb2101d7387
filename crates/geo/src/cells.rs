//! H3 cells (Uber's hexagonal grid, through the `h3o` crate) for the heat map.
//!
//! A point is binned at each of the heat map's resolutions, [`MIN_RES`]..=[`MAX_RES`]
//! (7: ≈5.2 km², 8: ≈0.74 km², 9: ≈0.11 km², 10: ≈0.015 km² a cell), each cell found directly
//! from the point at that resolution (as the H3 reference `latLngToCell` does): H3 children do
//! not tile their parent exactly, so a point's res-9 cell is not always its res-10 cell's parent.
//! Cells travel as their 64-bit index; [`cell_string`] gives the usual 15-hex-digit form.

use crate::{BBox, LatLng};
use h3o::{CellIndex, Resolution};

/// The finest heat map resolution.
pub const MAX_RES: u8 = 10;
/// The coarsest heat map resolution.
pub const MIN_RES: u8 = 7;
/// How many resolutions a point is binned at.
pub const RES_COUNT: usize = (MAX_RES - MIN_RES + 1) as usize;

/// A point's H3 cell at each heat map resolution, coarsest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cells(pub [u64; RES_COUNT]);

impl Cells {
    /// The cells holding `p`.
    pub fn of(p: LatLng) -> Cells {
        // a LatLng is valid by construction, so h3o accepts it
        let ll = h3o::LatLng::new(p.lat, p.lng).unwrap_or_else(|_| unreachable_ll());
        let mut cells = [0; RES_COUNT];
        for (i, c) in cells.iter_mut().enumerate() {
            *c = u64::from(ll.to_cell(resolution(MIN_RES + i as u8)));
        }
        Cells(cells)
    }

    /// The cell at resolution `res` (clamped to the heat map's range).
    pub fn at(&self, res: u8) -> u64 {
        self.0[usize::from(res.clamp(MIN_RES, MAX_RES) - MIN_RES)]
    }
}

fn unreachable_ll() -> h3o::LatLng {
    // Null Island: only reached if a validated LatLng were out of range
    h3o::LatLng::new(0.0, 0.0).unwrap_or_else(|_| unreachable!("0,0 is a valid coordinate"))
}

fn resolution(res: u8) -> Resolution {
    Resolution::try_from(res.clamp(MIN_RES, MAX_RES)).unwrap_or(Resolution::Nine)
}

fn cell(index: u64) -> Option<CellIndex> {
    CellIndex::try_from(index).ok()
}

/// The cell's index as the usual lowercase hexadecimal string (15 digits for these
/// resolutions), or an empty string for a value that is not a cell index.
pub fn cell_string(index: u64) -> String {
    cell(index).map(|c| c.to_string()).unwrap_or_default()
}

/// The centre of a cell.
pub fn cell_center(index: u64) -> Option<LatLng> {
    let ll = h3o::LatLng::from(cell(index)?);
    LatLng::new(ll.lat(), ll.lng()).ok()
}

/// A cell's boundary, counter-clockwise, not closed (6 vertices for a hexagon).
pub fn cell_boundary(index: u64) -> Option<Vec<LatLng>> {
    cell(index)?
        .boundary()
        .iter()
        .map(|v| LatLng::new(v.lat(), v.lng()).ok())
        .collect()
}

/// Half a cell's extent at `res` in degrees, a little more than its circumradius: a cell whose
/// centre lies within this of a box overlaps the box or is close to it.
pub fn cell_margin_deg(res: u8) -> f64 {
    // H3 average hexagon edge lengths in km (the circumradius equals the edge length)
    const EDGE_KM: [f64; RES_COUNT] = [1.406475763, 0.531414010, 0.200786148, 0.075863783];
    let edge = EDGE_KM[usize::from(res.clamp(MIN_RES, MAX_RES) - MIN_RES)];
    // pentagon distortion and latitude: generous factor, then km → degrees of latitude
    edge * 1.5 / 111.0
}

/// Whether a cell of resolution `res` centred at `c` may overlap `b` (for latitudes below 80°:
/// the margin in longitude grows with 1/cos(lat)).
pub fn cell_may_overlap(c: LatLng, res: u8, b: &BBox) -> bool {
    let m = cell_margin_deg(res);
    let mlng = m / c.lat.to_radians().cos().max(0.17);
    c.lat >= b.min_lat - m
        && c.lat <= b.max_lat + m
        && c.lng >= b.min_lng - mlng
        && c.lng <= b.max_lng + mlng
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ll(lat: f64, lng: f64) -> LatLng {
        LatLng::new(lat, lng).unwrap()
    }

    /// Reference values computed once with the H3 reference library (h3-py 4.5.0,
    /// `h3.latlng_to_cell(lat, lng, res)`), for res 7, 8, 9, 10.
    #[test]
    fn cells_equal_the_h3_reference() {
        let cases: [(f64, f64, [&str; 4]); 4] = [
            // Canton Tower
            (23.1066, 113.3245, REF_CANTON_TOWER),
            // Haizhu passenger station
            (23.0960, 113.2630, REF_STATION),
            // Haizhu Lake
            (23.0830, 113.3390, REF_LAKE),
            // the Greenwich observatory, far from the district
            (51.4769, -0.0005, REF_GREENWICH),
        ];
        for (lat, lng, want) in cases {
            let cells = Cells::of(ll(lat, lng));
            let got: Vec<String> = cells.0.iter().map(|&c| cell_string(c)).collect();
            assert_eq!(got, want, "cells of {lat},{lng}");
            for (i, c) in cells.0.iter().enumerate() {
                assert_eq!(cells.at(MIN_RES + i as u8), *c);
                assert_eq!(cell_string(*c).len(), 15);
            }
        }
    }

    const REF_CANTON_TOWER: [&str; 4] = [
        "87411d4d2ffffff",
        "88411d4d25fffff",
        "89411d4d243ffff",
        "8a411d4d2417fff",
    ];
    const REF_STATION: [&str; 4] = [
        "87411d4deffffff",
        "88411d4de3fffff",
        "89411d4de23ffff",
        "8a411d4de21ffff",
    ];
    const REF_LAKE: [&str; 4] = [
        "87411d4d6ffffff",
        "88411d4d6dfffff",
        "89411d4d6cfffff",
        "8a411d4d6ccffff",
    ];
    const REF_GREENWICH: [&str; 4] = [
        "87194ad23ffffff",
        "88194ad231fffff",
        "89194ad2307ffff",
        "8a194ad23067fff",
    ];

    #[test]
    fn a_cell_contains_its_points_and_its_boundary_is_a_hexagon_around_its_centre() {
        let p = ll(23.1066, 113.3245);
        for res in MIN_RES..=MAX_RES {
            let c = Cells::of(p).at(res);
            let centre = cell_center(c).unwrap();
            let boundary = cell_boundary(c).unwrap();
            assert_eq!(boundary.len(), 6);
            // the centre's own cell is the cell
            assert_eq!(Cells::of(centre).at(res), c);
            let r = crate::haversine_m(centre, boundary[0]);
            assert!(crate::haversine_m(centre, p) <= r * 1.01, "res {res}");
            let b = BBox {
                min_lng: p.lng,
                min_lat: p.lat,
                max_lng: p.lng,
                max_lat: p.lat,
            };
            assert!(cell_may_overlap(centre, res, &b));
        }
        assert!(cell_boundary(0).is_none());
        assert_eq!(cell_string(42), "");
    }
}
