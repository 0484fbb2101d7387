//! Web Mercator XYZ tiles and the heat map drawn on them.
//!
//! A [`Tile`] is one 256×256 px square of the usual OpenStreetMap / Google / MapLibre slippy map:
//! at zoom `z` the Web Mercator square (longitudes -180..180, latitudes ±85.0511°) is cut into
//! 2^z × 2^z tiles, `x` counting from the antimeridian eastwards and `y` from the north.
//!
//! [`render_heat`] paints H3 cells (see [`crate::cells`]) on a tile as a transparent PNG, each
//! hexagon filled with the [`heat_colour`] of its intensity. [`Tile::heat_res`] picks the H3
//! resolution whose hexagons come out at roughly 15–60 px across on that zoom: big enough to
//! be told apart and pointed at, small enough to show where the activity is. Hexagon width
//! (vertex to vertex, twice the average edge) in pixels at the equator (Mercator pixels shrink
//! with cos(latitude), so hexagons look a little larger elsewhere, ≈ 9 % larger in Guangzhou):
//!
//! | zoom   | resolution | hexagon  | px across            |
//! |--------|------------|----------|----------------------|
//! | ≤ 10   | 7          | ≈ 2.8 km | 18 at z10            |
//! | 11, 12 | 8          | ≈ 1.1 km | 14, 28               |
//! | 13, 14 | 9          | ≈ 400 m  | 21, 42               |
//! | ≥ 15   | 10         | ≈ 150 m  | 32 at z15, 63 at z16 |
//!
//! Below zoom 10 the hexagons shrink to a few pixels and beyond 16 they grow past 100 px:
//! resolutions 7 and 10 are the coarsest and finest the heat map keeps
//! ([`crate::cells::MIN_RES`], [`crate::cells::MAX_RES`]).
//!
//! Drawing is done by `tiny-skia` (anti-aliased path filling and PNG encoding). Hexagons are
//! first clipped to the tile (with a small margin) in `f64` pixel space, so a hexagon far larger
//! than the tile at high zoom is exact and cheap, and one crossing the antimeridian is drawn on
//! both sides.

use crate::cells::{cell_boundary, MAX_RES, MIN_RES};
use crate::{BBox, GeoError, LatLng};
use std::f64::consts::PI;
use tiny_skia::{FillRule, Paint, PathBuilder, Pixmap, Transform};

/// An XYZ tile (OpenStreetMap / Web Mercator numbering: x from the antimeridian eastwards, y from the north).
///
/// The fields are public for convenience; [`Tile::new`] checks them, and every method copes
/// (without panicking) with a tile built by hand out of range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tile {
    /// Zoom level, 0..=[`Tile::MAX_ZOOM`].
    pub z: u8,
    /// Column, 0..2^z, from the antimeridian (longitude -180) eastwards.
    pub x: u32,
    /// Row, 0..2^z, from the north (latitude 85.0511°) southwards.
    pub y: u32,
}

impl Tile {
    /// Width and height of a tile in pixels.
    pub const SIZE: u32 = 256;
    /// The deepest zoom accepted by [`Tile::new`] (about 4 cm a pixel at the equator).
    pub const MAX_ZOOM: u8 = 22;

    /// Err(GeoError code "invalid_tile") when z > MAX_ZOOM or x/y >= 2^z, with a clear message naming the limits.
    pub fn new(z: u8, x: u32, y: u32) -> Result<Tile, GeoError> {
        if z > Tile::MAX_ZOOM {
            return Err(GeoError::new(
                "invalid_tile",
                format!(
                    "tile {z}/{x}/{y}: zoom {z} is above the maximum zoom {}",
                    Tile::MAX_ZOOM
                ),
            ));
        }
        let n = 1_u32 << z;
        if x >= n || y >= n {
            return Err(GeoError::new(
                "invalid_tile",
                format!(
                    "tile {z}/{x}/{y}: at zoom {z} x and y must be in 0..={} (2^{z} = {n} tiles a side)",
                    n - 1
                ),
            ));
        }
        Ok(Tile { z, x, y })
    }

    /// The tile at zoom `z` holding `p` (points beyond the Mercator square's ±85.05° or on its
    /// eastern edge go to the nearest tile); `invalid_tile` when `z` > [`Tile::MAX_ZOOM`].
    pub fn containing(p: LatLng, z: u8) -> Result<Tile, GeoError> {
        if z > Tile::MAX_ZOOM {
            return Tile::new(z, 0, 0);
        }
        let n = f64::from(1_u32 << z);
        let lat = p.lat.to_radians();
        let x = ((p.lng + 180.0) / 360.0 * n).floor();
        let y = ((1.0 - (lat.tan() + 1.0 / lat.cos()).ln() / PI) / 2.0 * n).floor();
        // NaN (at a pole) becomes 0 in the cast; the clamp keeps the edges inside
        let last = n - 1.0;
        Tile::new(z, x.clamp(0.0, last) as u32, y.clamp(0.0, last) as u32)
    }

    /// The tile's extent in WGS-84 degrees (latitudes from the inverse Mercator).
    pub fn bbox(&self) -> BBox {
        let n = self.tiles_per_side();
        let lng = |x: f64| x / n * 360.0 - 180.0;
        let lat = |y: f64| (PI * (1.0 - 2.0 * y / n)).sinh().atan().to_degrees();
        let (x, y) = (f64::from(self.x), f64::from(self.y));
        BBox {
            min_lng: lng(x),
            min_lat: lat(y + 1.0),
            max_lng: lng(x + 1.0),
            max_lat: lat(y),
        }
    }

    /// The heat map resolution that suits the zoom: z<=10 → 7, 11..=12 → 8, 13..=14 → 9, >=15 → 10.
    pub fn heat_res(&self) -> u8 {
        match self.z {
            0..=10 => MIN_RES,
            11..=12 => 8,
            13..=14 => 9,
            _ => MAX_RES,
        }
    }

    /// Pixel position (f32, may lie outside 0..256) of a point in this tile.
    ///
    /// x grows eastwards and y southwards from the tile's north-west corner; the longitude is
    /// taken as given (no wrapping around the antimeridian).
    pub fn pixel(&self, p: LatLng) -> (f32, f32) {
        let (x, y) = self.pixel_f64(p.lat, p.lng);
        (x as f32, y as f32)
    }

    /// Number of tiles along each side of the world at this zoom (2^z).
    fn tiles_per_side(&self) -> f64 {
        f64::from(self.z).exp2()
    }

    /// [`Tile::pixel`] in full precision.
    fn pixel_f64(&self, lat: f64, lng: f64) -> (f64, f64) {
        let n = self.tiles_per_side();
        let size = f64::from(Tile::SIZE);
        // asinh(tan φ) = ln(tan φ + sec φ), finite even at the poles
        let merc = lat.to_radians().tan().asinh();
        let wx = (lng + 180.0) / 360.0 * n;
        let wy = (1.0 - merc / PI) / 2.0 * n;
        (
            (wx - f64::from(self.x)) * size,
            (wy - f64::from(self.y)) * size,
        )
    }
}

/// How far outside the tile (px) hexagons are clipped: enough that no clipped edge shows.
const CLIP_MARGIN: f64 = 2.0;

/// Alpha of the coldest colour.
const ALPHA_MIN: f32 = 0.45;
/// Alpha of the hottest colour.
const ALPHA_MAX: f32 = 0.85;

/// The colour ramp's stops (intensity, RGB), red never decreasing.
const RAMP: [(f32, [u8; 3]); 5] = [
    (0.0, [0, 70, 255]),   // blue
    (0.25, [0, 190, 255]), // cyan
    (0.5, [255, 230, 0]),  // yellow
    (0.75, [255, 140, 0]), // orange
    (1.0, [255, 32, 16]),  // red
];

/// A fully transparent 256×256 PNG (1-bit palette, one transparent entry), returned when
/// nothing was drawn and as the fallback should encoding ever fail. Built once with Python's
/// `zlib`; the test `blank_png_is_a_transparent_tile` checks it.
const BLANK_PNG: [u8; 116] = [
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x03, 0x00, 0x00, 0x00, 0x66, 0xbc, 0x3a,
    0x25, 0x00, 0x00, 0x00, 0x03, 0x50, 0x4c, 0x54, 0x45, 0x00, 0x00, 0x00, 0xa7, 0x7a, 0x3d, 0xda,
    0x00, 0x00, 0x00, 0x01, 0x74, 0x52, 0x4e, 0x53, 0x00, 0x40, 0xe6, 0xd8, 0x66, 0x00, 0x00, 0x00,
    0x1f, 0x49, 0x44, 0x41, 0x54, 0x78, 0xda, 0xed, 0xc1, 0x01, 0x0d, 0x00, 0x00, 0x00, 0xc2, 0xa0,
    0xf7, 0x4f, 0x6d, 0x0e, 0x37, 0xa0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xbe, 0x0d,
    0x21, 0x00, 0x00, 0x01, 0x60, 0xe4, 0x9d, 0x97, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44,
    0xae, 0x42, 0x60, 0x82,
];

/// Renders a transparent 256×256 PNG: each (cell, intensity 0.0..=1.0) is drawn as its H3 hexagon
/// filled with a heat-ramp colour (low → blue/cyan, middle → yellow, high → red; alpha rising with intensity,
/// e.g. 0.45..0.85, anti-aliased), cells with intensity <= 0 or unknown ids skipped. Returns the PNG bytes.
///
/// Intensities above 1 count as 1 and NaN ones are skipped; cells are painted in the order
/// given, each over the previous ones. A tile that no hexagon reaches is returned as a small
/// constant transparent PNG (palette-based; decoders expand it to RGBA), otherwise the PNG is
/// 8-bit RGBA. The function never panics: should `tiny-skia` ever fail to allocate or encode
/// (it does not for a valid 256×256 pixmap), that same transparent PNG is returned.
pub fn render_heat(tile: &Tile, cells: &[(u64, f32)]) -> Vec<u8> {
    let Some(mut pixmap) = Pixmap::new(Tile::SIZE, Tile::SIZE) else {
        return BLANK_PNG.to_vec();
    };
    let mut drawn = false;
    for &(cell, intensity) in cells {
        if intensity.is_nan() || intensity <= 0.0 {
            continue;
        }
        let Some(boundary) = cell_boundary(cell) else {
            continue;
        };
        let [r, g, b, a] = heat_colour(intensity);
        let mut paint = Paint {
            anti_alias: true,
            ..Paint::default()
        };
        paint.set_color_rgba8(r, g, b, a);
        for polygon in hexagon_pixels(tile, &boundary) {
            if let Some(path) = path_of(&polygon) {
                pixmap.fill_path(
                    &path,
                    &paint,
                    FillRule::Winding,
                    Transform::identity(),
                    None,
                );
                drawn = true;
            }
        }
    }
    if !drawn {
        return BLANK_PNG.to_vec();
    }
    pixmap.encode_png().unwrap_or_else(|_| BLANK_PNG.to_vec())
}

/// The ramp itself (RGBA, straight alpha) so callers/tests can check colours.
///
/// `intensity` is clamped to 0..=1 (NaN counts as 0). The colour is interpolated linearly
/// between blue (0), cyan (0.25), yellow (0.5), orange (0.75) and red (1); its red channel and
/// its alpha (0.45 → 0.85) never decrease as the intensity rises.
pub fn heat_colour(intensity: f32) -> [u8; 4] {
    let t = if intensity.is_nan() {
        0.0
    } else {
        intensity.clamp(0.0, 1.0)
    };
    // the stop at or below t, and the next one (the last stop pairs with itself)
    let i = RAMP.iter().rposition(|&(at, _)| at <= t).unwrap_or(0);
    let (t0, c0) = RAMP[i];
    let (t1, c1) = RAMP[(i + 1).min(RAMP.len() - 1)];
    let f = if t1 > t0 { (t - t0) / (t1 - t0) } else { 0.0 };
    let mix =
        |k: usize| (f32::from(c0[k]) + (f32::from(c1[k]) - f32::from(c0[k])) * f).round() as u8;
    let alpha = ((ALPHA_MIN + (ALPHA_MAX - ALPHA_MIN) * t) * 255.0).round() as u8;
    [mix(0), mix(1), mix(2), alpha]
}

/// A cell boundary in the tile's pixel space, clipped to the tile: one polygon, or a few when
/// the hexagon straddles the antimeridian (or at zoom 0, where the world wraps in one tile).
fn hexagon_pixels(tile: &Tile, boundary: &[LatLng]) -> Vec<Vec<[f64; 2]>> {
    // unwrap the longitudes so the ring is continuous across the antimeridian
    let mut ring = Vec::with_capacity(boundary.len());
    let mut prev_lng: Option<f64> = None;
    for v in boundary {
        let lng = match prev_lng {
            Some(prev) => v.lng + 360.0 * ((prev - v.lng) / 360.0).round(),
            None => v.lng,
        };
        prev_lng = Some(lng);
        let (x, y) = tile.pixel_f64(v.lat, lng);
        if !(x.is_finite() && y.is_finite()) {
            return Vec::new();
        }
        ring.push([x, y]);
    }
    // the unwrapped ring lies within a degree or so of -180..180: the copies one world to the
    // west and east cover the tiles on the other side of the antimeridian
    let world = tile.tiles_per_side() * f64::from(Tile::SIZE);
    [-world, 0.0, world]
        .iter()
        .map(|&dx| {
            let moved = ring.iter().map(|&[x, y]| [x + dx, y]).collect();
            clip_to_tile(moved)
        })
        .filter(|p| p.len() >= 3)
        .collect()
}

/// Sutherland–Hodgman clipping of a polygon to the tile plus [`CLIP_MARGIN`].
fn clip_to_tile(polygon: Vec<[f64; 2]>) -> Vec<[f64; 2]> {
    let lo = -CLIP_MARGIN;
    let hi = f64::from(Tile::SIZE) + CLIP_MARGIN;
    // (axis, bound, keep the side below the bound)
    let edges = [(0, lo, false), (0, hi, true), (1, lo, false), (1, hi, true)];
    edges
        .iter()
        .fold(polygon, |polygon, &(axis, bound, below)| {
            clip_edge(&polygon, axis, bound, below)
        })
}

/// Keeps the part of `polygon` on one side of the line `p[axis] == bound`.
fn clip_edge(polygon: &[[f64; 2]], axis: usize, bound: f64, below: bool) -> Vec<[f64; 2]> {
    let inside = |p: &[f64; 2]| {
        if below {
            p[axis] <= bound
        } else {
            p[axis] >= bound
        }
    };
    // where the segment a→b (one end inside, one outside, so a[axis] != b[axis]) meets the line
    let crossing = |a: &[f64; 2], b: &[f64; 2]| {
        let t = (bound - a[axis]) / (b[axis] - a[axis]);
        [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t]
    };
    let mut out = Vec::with_capacity(polygon.len() + 2);
    let Some(mut prev) = polygon.last() else {
        return out;
    };
    for cur in polygon {
        match (inside(prev), inside(cur)) {
            (true, true) => out.push(*cur),
            (true, false) => out.push(crossing(prev, cur)),
            (false, true) => {
                out.push(crossing(prev, cur));
                out.push(*cur);
            }
            (false, false) => {}
        }
        prev = cur;
    }
    out
}

/// A closed `tiny-skia` path through the points, or `None` when tiny-skia refuses them
/// (fewer than two points, or one not finite).
fn path_of(polygon: &[[f64; 2]]) -> Option<tiny_skia::Path> {
    let (first, rest) = polygon.split_first()?;
    let mut pb = PathBuilder::with_capacity(polygon.len() + 1, polygon.len() + 1);
    pb.move_to(first[0] as f32, first[1] as f32);
    for p in rest {
        pb.line_to(p[0] as f32, p[1] as f32);
    }
    pb.close();
    pb.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cells::{cell_center, Cells};

    const TOWER: (f64, f64) = (23.1066, 113.3245);

    fn ll(lat: f64, lng: f64) -> LatLng {
        LatLng::new(lat, lng).unwrap()
    }

    /// The standard slippy-map formula (OpenStreetMap wiki) for the tile holding a point.
    fn slippy_tile(lat: f64, lng: f64, z: u8) -> Tile {
        let n = f64::from(1_u32 << z);
        let lat_r = lat.to_radians();
        let x = ((lng + 180.0) / 360.0 * n).floor() as u32;
        let y = ((1.0 - (lat_r.tan() + 1.0 / lat_r.cos()).ln() / PI) / 2.0 * n).floor() as u32;
        Tile::new(z, x, y).unwrap()
    }

    fn decode(png: &[u8]) -> image::RgbaImage {
        let img = image::load_from_memory_with_format(png, image::ImageFormat::Png).unwrap();
        assert_eq!((img.width(), img.height()), (256, 256));
        img.to_rgba8()
    }

    fn is_transparent(img: &image::RgbaImage) -> bool {
        img.pixels().all(|p| p.0[3] == 0)
    }

    /// The pixel holding a position (which must lie in the tile).
    fn at(img: &image::RgbaImage, (x, y): (f32, f32)) -> [u8; 4] {
        assert!(
            (0.0..256.0).contains(&x) && (0.0..256.0).contains(&y),
            "{x},{y}"
        );
        img.get_pixel(x as u32, y as u32).0
    }

    #[test]
    fn new_checks_zoom_and_range() {
        assert_eq!(Tile::new(0, 0, 0).unwrap(), Tile { z: 0, x: 0, y: 0 });
        assert!(Tile::new(22, (1 << 22) - 1, (1 << 22) - 1).is_ok());

        let e = Tile::new(23, 0, 0).unwrap_err();
        assert_eq!(e.code, "invalid_tile");
        assert!(e.message.contains("22"), "{}", e.message);

        let e = Tile::new(3, 8, 0).unwrap_err();
        assert_eq!(e.code, "invalid_tile");
        assert!(e.message.contains("0..=7"), "{}", e.message);
        assert_eq!(Tile::new(3, 0, 8).unwrap_err().code, "invalid_tile");
        assert_eq!(Tile::new(0, 1, 0).unwrap_err().code, "invalid_tile");
    }

    #[test]
    fn tile_zero_covers_the_mercator_world() {
        let b = Tile::new(0, 0, 0).unwrap().bbox();
        assert!((b.min_lng + 180.0).abs() < 1e-12);
        assert!((b.max_lng - 180.0).abs() < 1e-12);
        assert!((b.max_lat - 85.0511287798).abs() < 1e-9, "{}", b.max_lat);
        assert!((b.min_lat + 85.0511287798).abs() < 1e-9, "{}", b.min_lat);
    }

    #[test]
    fn the_canton_tower_tile_holds_the_tower() {
        let tower = ll(TOWER.0, TOWER.1);
        let tile = slippy_tile(TOWER.0, TOWER.1, 14);
        assert_eq!((tile.x, tile.y), (13349, 7110));
        assert_eq!(Tile::containing(tower, 14).unwrap(), tile);
        assert_eq!(
            Tile::containing(ll(89.0, 180.0), 3).unwrap(),
            Tile::new(3, 7, 0).unwrap()
        );
        assert_eq!(
            Tile::containing(ll(-90.0, -180.0), 3).unwrap(),
            Tile::new(3, 0, 7).unwrap()
        );
        assert!(Tile::containing(tower, 23).is_err());
        assert!(tile.bbox().contains(tower));
        let (x, y) = tile.pixel(tower);
        assert!(
            (0.0..256.0).contains(&x) && (0.0..256.0).contains(&y),
            "{x},{y}"
        );

        // the corners of the box are the corners of the pixel square
        let b = tile.bbox();
        let (x0, y0) = tile.pixel(ll(b.max_lat, b.min_lng));
        let (x1, y1) = tile.pixel(ll(b.min_lat, b.max_lng));
        for (got, want) in [(x0, 0.0), (y0, 0.0), (x1, 256.0), (y1, 256.0)] {
            assert!((got - want).abs() < 1e-3, "{got} vs {want}");
        }
        // the neighbouring tile to the south-east starts where this one ends
        let next = Tile::new(14, tile.x + 1, tile.y + 1).unwrap().bbox();
        assert_eq!((next.min_lng, next.max_lat), (b.max_lng, b.min_lat));
    }

    #[test]
    fn heat_res_follows_the_zoom() {
        let res = |z| Tile { z, x: 0, y: 0 }.heat_res();
        let got: Vec<u8> = (0..=22).map(res).collect();
        let mut want = vec![7; 11];
        want.extend([8, 8, 9, 9]);
        want.extend([10; 8]);
        assert_eq!(got, want);
        assert_eq!(res(255), 10);
    }

    #[test]
    fn heat_colour_rises_from_blue_to_red() {
        let mut prev = heat_colour(0.0);
        for i in 1..=100 {
            let c = heat_colour(i as f32 / 100.0);
            assert!(c[0] >= prev[0], "red falls at {i}%: {prev:?} → {c:?}");
            assert!(c[3] >= prev[3], "alpha falls at {i}%: {prev:?} → {c:?}");
            prev = c;
        }
        let [r, g, b, a] = heat_colour(0.0);
        assert!(
            b > 200 && r < 50 && g < 120,
            "blue at 0: {:?}",
            [r, g, b, a]
        );
        assert_eq!(a, (0.45_f32 * 255.0).round() as u8);
        let [r, g, b, _] = heat_colour(0.5);
        assert!(
            r > 200 && g > 200 && b < 60,
            "yellow at 0.5: {:?}",
            [r, g, b]
        );
        let [r, g, b, a] = heat_colour(1.0);
        assert!(r > 200 && g < 80 && b < 80, "red at 1: {:?}", [r, g, b]);
        assert_eq!(a, (0.85_f32 * 255.0).round() as u8);
        assert!(heat_colour(1.0)[0] > heat_colour(0.0)[0]);
        assert!(heat_colour(1.0)[3] > heat_colour(0.1)[3]);
        // out of range and NaN clamp
        assert_eq!(heat_colour(7.0), heat_colour(1.0));
        assert_eq!(heat_colour(-1.0), heat_colour(0.0));
        assert_eq!(heat_colour(f32::NAN), heat_colour(0.0));
    }

    #[test]
    fn blank_png_is_a_transparent_tile() {
        assert!(is_transparent(&decode(&BLANK_PNG)));
    }

    #[test]
    fn an_empty_cell_list_renders_a_transparent_tile() {
        let tile = slippy_tile(TOWER.0, TOWER.1, 14);
        assert!(is_transparent(&decode(&render_heat(&tile, &[]))));
        // zero, negative and NaN intensities and unknown ids draw nothing either
        let cell = Cells::of(ll(TOWER.0, TOWER.1)).at(9);
        let skipped = [
            (cell, 0.0),
            (cell, -1.0),
            (cell, f32::NAN),
            (0, 1.0),
            (u64::MAX, 1.0),
        ];
        assert!(is_transparent(&decode(&render_heat(&tile, &skipped))));
    }

    #[test]
    fn a_hot_cell_is_drawn_red_on_its_tile_and_nowhere_else() {
        let tower = ll(TOWER.0, TOWER.1);
        let tile = slippy_tile(TOWER.0, TOWER.1, 14);
        assert_eq!(tile.heat_res(), 9);
        let cell = Cells::of(tower).at(9);
        let png = render_heat(&tile, &[(cell, 1.0)]);

        let img = image::load_from_memory_with_format(&png, image::ImageFormat::Png).unwrap();
        assert_eq!(img.color(), image::ColorType::Rgba8);
        let img = decode(&png);

        let [r, g, b, a] = at(&img, tile.pixel(tower));
        assert!(a > 100, "alpha {a}");
        assert!(r > 200 && g < 80 && b < 80, "not red: {:?}", [r, g, b, a]);

        // the tile corner farthest from the cell's centre lies well outside the hexagon
        let (cx, cy) = tile.pixel(cell_center(cell).unwrap());
        let radius = cell_boundary(cell)
            .unwrap()
            .iter()
            .map(|&v| {
                let (x, y) = tile.pixel(v);
                (x - cx).hypot(y - cy)
            })
            .fold(0.0_f32, f32::max);
        let corner = [(0.0, 0.0), (255.0, 0.0), (0.0, 255.0), (255.0, 255.0)]
            .into_iter()
            .max_by(|a: &(f32, f32), b| {
                let d = |p: &(f32, f32)| (p.0 - cx).hypot(p.1 - cy);
                d(a).total_cmp(&d(b))
            })
            .unwrap();
        assert!((corner.0 - cx).hypot(corner.1 - cy) > radius + 3.0);
        assert_eq!(at(&img, corner)[3], 0, "corner {corner:?}");

        // some of the tile is painted, most of it not (a res-9 hexagon is ≈ 45 px across here)
        let painted = img.pixels().filter(|p| p.0[3] > 0).count();
        assert!((500..20_000).contains(&painted), "{painted} px painted");
    }

    #[test]
    fn a_cell_far_away_draws_nothing() {
        let tile = slippy_tile(TOWER.0, TOWER.1, 14);
        let greenwich = Cells::of(ll(51.4769, -0.0005));
        let cells: Vec<(u64, f32)> = greenwich.0.iter().map(|&c| (c, 1.0)).collect();
        assert!(is_transparent(&decode(&render_heat(&tile, &cells))));
        // and the Canton Tower's cells draw nothing on Greenwich's tile
        let tile = slippy_tile(51.4769, -0.0005, 14);
        let tower = Cells::of(ll(TOWER.0, TOWER.1));
        let cells: Vec<(u64, f32)> = tower.0.iter().map(|&c| (c, 1.0)).collect();
        assert!(is_transparent(&decode(&render_heat(&tile, &cells))));
    }

    #[test]
    fn a_hexagon_larger_than_the_tile_fills_it() {
        // at zoom 22 a res-7 hexagon is tens of thousands of pixels across
        let tile = slippy_tile(TOWER.0, TOWER.1, 22);
        let cell = Cells::of(ll(TOWER.0, TOWER.1)).at(7);
        let img = decode(&render_heat(&tile, &[(cell, 0.5)]));
        let colour = heat_colour(0.5);
        for p in img.pixels() {
            assert_eq!(p.0[3], colour[3]);
            for k in 0..3 {
                assert!(p.0[k].abs_diff(colour[k]) <= 2, "{:?} vs {colour:?}", p.0);
            }
        }
    }

    #[test]
    fn a_hexagon_across_the_antimeridian_is_drawn_on_both_sides() {
        let cell = Cells::of(ll(0.0, 179.999)).at(7);
        let boundary = cell_boundary(cell).unwrap();
        assert!(boundary.iter().any(|v| v.lng > 0.0) && boundary.iter().any(|v| v.lng < 0.0));
        let z = 12;
        let east = slippy_tile(0.0, 179.999, z);
        let west = slippy_tile(0.0, -179.999, z);
        assert_eq!((east.x, west.x), ((1 << z) - 1, 0));
        for tile in [east, west] {
            let img = decode(&render_heat(&tile, &[(cell, 1.0)]));
            assert!(!is_transparent(&img), "{tile:?}");
        }
        // the whole world at zoom 0 (where the hexagon is a speck of 0.02 px) and out-of-range
        // tiles built by hand do not panic
        for tile in [
            Tile::new(0, 0, 0).unwrap(),
            Tile {
                z: 22,
                x: u32::MAX,
                y: u32::MAX,
            },
            Tile { z: 255, x: 0, y: 0 },
            Tile { z: 40, x: 3, y: 9 },
        ] {
            decode(&render_heat(&tile, &[(cell, 1.0)]));
            let _ = (tile.bbox(), tile.pixel(ll(90.0, 180.0)), tile.heat_res());
        }
    }
}
