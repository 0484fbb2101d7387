//! How a simulated envoy walks, in the demo's crowd and in the drill alike: a little turn at
//! each step, pulled back toward where it belongs ([`Anchor`]) the further it strays, and a
//! detour at a hurry to a scene when it answers a dispatch. Flat-earth geometry, fine within a
//! district.

use pp_geo::{haversine_m, Area, LatLng};
use rand::rngs::StdRng;
use rand::Rng as _;
use std::f64::consts::{PI, TAU};

/// The district the wanderers roam: latitudes and longitudes (Haizhu's bounding box).
pub const DISTRICT_LAT: (f64, f64) = (23.045, 23.125);
/// See [`DISTRICT_LAT`].
pub const DISTRICT_LNG: (f64, f64) = (113.235, 113.420);
/// Metres per degree of latitude (and of longitude at the equator).
const M_PER_DEG: f64 = 111_320.0;

/// Where a walker heads.
#[derive(Debug, Clone)]
pub enum Anchor {
    /// Strolls within about `spread_m` of a landmark.
    Around {
        /// the landmark
        at: LatLng,
        /// how far it strays, metres
        spread_m: f64,
    },
    /// Heads for a random point of the district, then for another.
    Wander {
        /// the point it heads for
        target: LatLng,
    },
    /// Patrols inside `area`, within about `spread_m` of `at`.
    Inside {
        /// the patrol area
        area: Area,
        /// its centre
        at: LatLng,
        /// how far it strays, metres
        spread_m: f64,
    },
}

/// A walker's place, pace and way.
#[derive(Debug, Clone)]
pub struct Walk {
    /// where it is
    pub at: LatLng,
    /// radians clockwise from north
    pub heading: f64,
    /// metres a second
    pub speed_mps: f64,
    /// where it heads
    pub anchor: Anchor,
    /// the way and pace it left to hurry to a scene
    home: Option<(Anchor, f64)>,
}

impl Walk {
    /// A walk from `at` toward `anchor` at `speed_mps`, heading `heading`.
    pub fn new(at: LatLng, anchor: Anchor, speed_mps: f64, heading: f64) -> Walk {
        Walk {
            at,
            heading,
            speed_mps,
            anchor,
            home: None,
        }
    }

    /// Walks `secs` seconds: a little turn each step, pulled back toward the anchor the further
    /// it strays.
    pub fn step(&mut self, rng: &mut StdRng, secs: f64) {
        let (goal, spread_m) = match &mut self.anchor {
            Anchor::Around { at, spread_m } | Anchor::Inside { at, spread_m, .. } => {
                (*at, *spread_m)
            }
            Anchor::Wander { target } => {
                if haversine_m(self.at, *target) < 100.0 {
                    *target = district_point(rng);
                }
                (*target, 0.0)
            }
        };
        let to_goal = bearing(self.at, goal);
        let pull = if spread_m > 0.0 {
            ((haversine_m(self.at, goal) / spread_m).powi(2) * 0.15).min(0.8)
        } else {
            0.35
        };
        self.heading = (self.heading
            + angle_between(self.heading, to_goal) * pull
            + rng.gen_range(-0.35..0.35))
        .rem_euclid(TAU);
        let distance = self.speed_mps * secs;
        let mut next = move_by(self.at, self.heading, distance);
        if let Anchor::Inside { area, .. } = &self.anchor {
            if !area.contains(next) {
                self.heading = to_goal;
                next = move_by(self.at, to_goal, distance);
            }
        }
        self.at = next;
    }

    /// Leaves its way for a scene: strolls within `spread_m` of `scene`, at `speed_mps`, until
    /// [`Walk::go_home`].
    pub fn hurry_to(&mut self, scene: LatLng, spread_m: f64, speed_mps: f64) {
        let anchor = std::mem::replace(
            &mut self.anchor,
            Anchor::Around {
                at: scene,
                spread_m,
            },
        );
        self.home.get_or_insert((anchor, self.speed_mps));
        self.speed_mps = speed_mps;
    }

    /// Back to the way and pace it left for a scene, if it did.
    pub fn go_home(&mut self) {
        if let Some((anchor, speed)) = self.home.take() {
            self.anchor = anchor;
            self.speed_mps = speed;
        }
    }
}

/// Bearing from `a` to `b`, radians clockwise from north.
fn bearing(a: LatLng, b: LatLng) -> f64 {
    let north = b.lat - a.lat;
    let east = (b.lng - a.lng) * a.lat.to_radians().cos();
    east.atan2(north).rem_euclid(TAU)
}

/// The signed turn, -π..π, from heading `from` to heading `to`.
fn angle_between(from: f64, to: f64) -> f64 {
    (to - from + PI).rem_euclid(TAU) - PI
}

/// The point `metres` from `p` along `heading`.
pub fn move_by(p: LatLng, heading: f64, metres: f64) -> LatLng {
    let lat = p.lat + metres * heading.cos() / M_PER_DEG;
    let lng = p.lng + metres * heading.sin() / (M_PER_DEG * p.lat.to_radians().cos());
    LatLng { lat, lng }
}

/// A random point of the district.
pub fn district_point(rng: &mut StdRng) -> LatLng {
    LatLng {
        lat: rng.gen_range(DISTRICT_LAT.0..DISTRICT_LAT.1),
        lng: rng.gen_range(DISTRICT_LNG.0..DISTRICT_LNG.1),
    }
}

/// A random point within `radius_m` of `c`.
pub fn near(rng: &mut StdRng, c: LatLng, radius_m: f64) -> LatLng {
    let heading = rng.gen_range(0.0..TAU);
    let r = radius_m * rng.gen_range(0.0_f64..1.0).sqrt();
    move_by(c, heading, r)
}

/// Whether `p` lies in the district.
pub fn in_district(p: LatLng) -> bool {
    (DISTRICT_LAT.0..=DISTRICT_LAT.1).contains(&p.lat)
        && (DISTRICT_LNG.0..=DISTRICT_LNG.1).contains(&p.lng)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng as _;

    #[test]
    fn turns_take_the_short_way() {
        assert!((angle_between(0.1, TAU - 0.1) + 0.2).abs() < 1e-9);
        assert!((angle_between(TAU - 0.1, 0.1) - 0.2).abs() < 1e-9);
        let a = LatLng {
            lat: 23.1,
            lng: 113.3,
        };
        let b = move_by(a, PI / 2.0, 1000.0);
        assert!((haversine_m(a, b) - 1000.0).abs() < 5.0);
        assert!((bearing(a, b) - PI / 2.0).abs() < 1e-3);
    }

    #[test]
    fn a_walker_hurries_to_a_scene_and_back_to_its_way() {
        let home = LatLng::new(23.1, 113.3).unwrap();
        let scene = LatLng::new(23.101, 113.3).unwrap();
        let mut w = Walk::new(
            home,
            Anchor::Around {
                at: home,
                spread_m: 500.0,
            },
            1.3,
            0.0,
        );
        w.hurry_to(scene, 15.0, 2.5);
        // a second alert while it hurries does not make the scene its home
        w.hurry_to(scene, 15.0, 2.5);
        let mut rng = StdRng::seed_from_u64(3);
        for _ in 0..120 {
            w.step(&mut rng, 1.0);
        }
        assert!(haversine_m(w.at, scene) < 60.0, "{:?}", w.at);
        w.go_home();
        assert_eq!(w.speed_mps, 1.3);
        assert!(
            matches!(w.anchor, Anchor::Around { at, spread_m } if at == home && spread_m == 500.0)
        );
    }
}
