//! What the tests build and check: the tower's place, points and tracks, the ingest's
//! answer, a patrol, the test clock, photos, and assertions on answers.

use chrono::Duration;
use pp_domain::time::{Clock, Timestamp};
use serde_json::{json, Value};
use std::sync::{Mutex, OnceLock};

use super::Resp;

/// The password of every account the helpers make.
pub const PASSWORD: &str = "password1";
/// Canton Tower, the centre of the default task's area.
pub const TOWER_LAT: f64 = 23.1066;
/// Canton Tower, the centre of the default task's area.
pub const TOWER_LNG: f64 = 113.3245;

/// Metres in a degree of latitude (on the sphere of `pp_geo::EARTH_RADIUS_M`).
pub const M_PER_DEG_LAT: f64 = 111_195.08;

/// `(lat, lng)` `north_m` metres north of Canton Tower (south when negative). The default
/// task's area is a 300 m circle around the tower: 100 m is well inside, 1000 m well outside.
pub fn north_of_tower(north_m: f64) -> (f64, f64) {
    (TOWER_LAT + north_m / M_PER_DEG_LAT, TOWER_LNG)
}

/// One point of a position batch as a phone sends it: `{ts, lat, lng, accuracy_m: 10}`.
pub fn point(ts: Timestamp, (lat, lng): (f64, f64)) -> Value {
    json!({"ts": ts.to_rfc3339(), "lat": lat, "lng": lng, "accuracy_m": 10.0})
}

/// `n` points `step_secs` apart from `from` on, all at `at`: a phone reporting while its
/// envoy stands still.
pub fn track(from: Timestamp, n: usize, step_secs: i64, at: (f64, f64)) -> Vec<Value> {
    (0..n)
        .map(|i| {
            let i = i64::try_from(i).unwrap();
            point(from + Duration::seconds(i * step_secs), at)
        })
        .collect()
}

/// Where an envoy's phone reports from: `(offset, (lat, lng))`, the offset in seconds after
/// some start (usually a patrol's `started_at`).
pub type Route = Vec<(i64, (f64, f64))>;

/// Reports every `step` seconds from offset `from` to offset `to` (both inclusive) at `at`.
pub fn steady(from: i64, to: i64, step: i64, at: (f64, f64)) -> Route {
    (0..)
        .map(|i| from + i * step)
        .take_while(|&s| s <= to)
        .map(|s| (s, at))
        .collect()
}

/// The points of `route` taken after `start`, as a phone sends them.
pub fn route_points(start: Timestamp, route: &[(i64, (f64, f64))]) -> Vec<Value> {
    route
        .iter()
        .map(|&(s, at)| point(start + Duration::seconds(s), at))
        .collect()
}

/// Each member's `(minutes_inside, qualified)` by user id, from a progress or finish answer.
#[track_caller]
pub fn outcomes(v: &Value) -> std::collections::BTreeMap<String, (f64, bool)> {
    v["members"]
        .as_array()
        .unwrap_or_else(|| panic!("no members in {v}"))
        .iter()
        .map(|m| {
            let minutes = m["minutes_inside"]
                .as_f64()
                .unwrap_or_else(|| panic!("no minutes_inside in {m}"));
            let qualified = m["qualified"]
                .as_bool()
                .unwrap_or_else(|| panic!("no qualified in {m}"));
            (str_of(m, "user_id").to_owned(), (minutes, qualified))
        })
        .collect()
}

/// The member `user_id` of a progress, finish or team answer.
#[track_caller]
pub fn member_of<'a>(v: &'a Value, user_id: &str) -> &'a Value {
    v["members"]
        .as_array()
        .and_then(|ms| ms.iter().find(|m| m["user_id"] == user_id))
        .unwrap_or_else(|| panic!("no member {user_id} in {v}"))
}

/// An RFC 3339 time of an answer.
#[track_caller]
pub fn time_of(v: &Value) -> Timestamp {
    v.as_str()
        .unwrap_or_else(|| panic!("not a time: {v}"))
        .parse()
        .unwrap_or_else(|e| panic!("not RFC 3339: {v} ({e})"))
}

/// The counts of a `POST /positions` answer, to compare in one assertion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ingested {
    /// points stored now
    pub accepted: u64,
    /// points known already
    pub duplicates: u64,
    /// of the accepted, those flagged for an implausible speed
    pub flagged: u64,
    /// (index, code) of each refused point, in the order answered
    pub rejected: Vec<(u64, String)>,
}

impl Ingested {
    /// Reads an answer; panics unless it has exactly the documented fields and every refused
    /// point has a message.
    #[track_caller]
    pub fn of(report: &Value) -> Ingested {
        let mut keys: Vec<&String> = report
            .as_object()
            .map(|o| o.keys().collect())
            .unwrap_or_default();
        keys.sort();
        assert_eq!(
            keys,
            ["accepted", "duplicates", "flagged", "rejected"],
            "{report}"
        );
        let n = |k: &str| {
            report[k]
                .as_u64()
                .unwrap_or_else(|| panic!("no count {k:?} in {report}"))
        };
        let rejected = report["rejected"]
            .as_array()
            .unwrap_or_else(|| panic!("no rejected list in {report}"))
            .iter()
            .map(|r| {
                assert!(
                    !str_of(r, "message").is_empty(),
                    "a refused point without a message: {r}"
                );
                (r["index"].as_u64().unwrap(), str_of(r, "code").to_owned())
            })
            .collect();
        Ingested {
            accepted: n("accepted"),
            duplicates: n("duplicates"),
            flagged: n("flagged"),
            rejected,
        }
    }

    /// Counts with nothing refused.
    pub fn ok(accepted: u64, duplicates: u64, flagged: u64) -> Ingested {
        Ingested {
            accepted,
            duplicates,
            flagged,
            rejected: Vec::new(),
        }
    }
}

/// An active patrol made by [`TestApp::active_team`].
#[derive(Debug, Clone)]
pub struct Patrol {
    /// the commander who published the task
    pub commander: String,
    /// the task
    pub task: Value,
    /// the team's id
    pub team_id: String,
    /// (token, user id) of the leader
    pub leader: (String, String),
    /// (token, user id) of the other members, in joining order
    pub members: Vec<(String, String)>,
    /// when the patrol started (the app clock at the start)
    pub started_at: Timestamp,
}

impl Patrol {
    /// (token, user id) of everyone: the leader first, then the members.
    pub fn everyone(&self) -> Vec<(String, String)> {
        std::iter::once(self.leader.clone())
            .chain(self.members.iter().cloned())
            .collect()
    }
}

/// A clock that stands still until the test moves it. It starts at the real now (to the
/// millisecond, as the store keeps instants), so that responses compare equal to it.
#[derive(Debug)]
pub struct TestClock(Mutex<Timestamp>);

impl TestClock {
    /// A clock standing at `t`.
    pub fn new(t: Timestamp) -> TestClock {
        TestClock(Mutex::new(t))
    }
    /// Sets the time.
    pub fn set(&self, t: Timestamp) {
        *self.0.lock().unwrap() = t;
    }
    /// Moves the time forward (or back, with a negative duration).
    pub fn advance(&self, by: Duration) {
        let mut t = self.0.lock().unwrap();
        *t += by;
    }
}

impl Clock for TestClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap()
    }
}

/// A file to upload as the start photo.
#[derive(Debug, Clone)]
pub struct Photo {
    /// content
    pub bytes: Vec<u8>,
    /// file name sent in the multipart part
    pub file_name: &'static str,
    /// content type sent in the multipart part
    pub mime: &'static str,
}

fn picture() -> image::RgbImage {
    image::RgbImage::from_fn(64, 48, |x, y| {
        #[expect(clippy::cast_possible_truncation, reason = "x, y < 256")]
        image::Rgb([(x * 4) as u8, (y * 5) as u8, 128])
    })
}

/// A real 64×48 PNG picture.
pub fn png_photo() -> Photo {
    let mut bytes = std::io::Cursor::new(Vec::new());
    picture()
        .write_to(&mut bytes, image::ImageFormat::Png)
        .unwrap();
    Photo {
        bytes: bytes.into_inner(),
        file_name: "team.png",
        mime: "image/png",
    }
}

/// A real 64×48 JPEG picture.
pub fn jpeg_photo() -> Photo {
    let mut bytes = std::io::Cursor::new(Vec::new());
    picture()
        .write_to(&mut bytes, image::ImageFormat::Jpeg)
        .unwrap();
    Photo {
        bytes: bytes.into_inner(),
        file_name: "team.jpg",
        mime: "image/jpeg",
    }
}

/// Asserts that a response is the error `status`/`code` in the shape
/// `{"error": {"code", "message"}}` with a non-empty message.
#[track_caller]
pub fn expect_error(resp: &Resp, status: u16, code: &str) {
    let (s, body) = resp;
    assert_eq!(
        (*s, body["error"]["code"].as_str()),
        (status, Some(code)),
        "expected {status} {code}, got {s} {body}"
    );
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(!message.is_empty(), "error without a message: {body}");
    let keys: Vec<&String> = body
        .as_object()
        .map(|o| o.keys().collect())
        .unwrap_or_default();
    assert_eq!(
        keys,
        ["error"],
        "extra top-level keys in an error body: {body}"
    );
}

/// Asserts a status and returns the body.
#[track_caller]
pub fn expect(resp: Resp, status: u16) -> Value {
    assert_eq!(
        resp.0, status,
        "expected {status}, got {} {}",
        resp.0, resp.1
    );
    resp.1
}

/// The argon2 hash of [`PASSWORD`], computed once: accounts made through the store reuse it.
pub(super) fn password_hash() -> String {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| pp_domain::account::hash_password(PASSWORD))
        .clone()
}

/// The string at `v[key]`, which must be there.
#[track_caller]
pub fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("no string {key:?} in {v}"))
}
