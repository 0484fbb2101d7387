//! The holiday the drill replays: Haizhu's 21 patrol landmarks, the places where the crowd
//! gathers (and where emergencies happen), the 86 teams, the incidents the envoys reported and
//! how the departments ended them. All of it is fixed or drawn from one seeded generator; the
//! same generator also decides how the phones answer dispatch alerts, in the order the alerts
//! arrive, so a few draws (which reports end where, the handling delays) differ from run to
//! run. The drill's expected figures come from what each run did, never from this plan.

use crate::seed::landmarks;
use pp_geo::{haversine_m, Area, LatLng};
use rand::rngs::StdRng;
use rand::Rng as _;
use serde_json::{json, Value};

/// Patrol tasks published.
pub const TASKS: usize = 21;
/// Teams formed (84 of 3, one of 4 and one of 5: 261 participants).
pub const TEAMS: usize = 86;
/// Participants over all teams.
pub const PARTICIPANTS: usize = 261;
/// Minutes of the holiday's clock a member must patrol inside the area to qualify.
pub const SIM_PATROL_MINUTES: u32 = 60;
/// The tasks' window on the holiday's clock (09:00 to 21:00).
pub const SIM_WINDOW_MINUTES: i64 = 12 * 60;
/// Seconds of the holiday's clock between two positions of a phone.
pub const SIM_POINT_EVERY_SECS: f64 = 30.0;

/// A patrol landmark: (title, place, area).
pub type Landmark = (String, String, Value);

/// The 21 landmarks of Haizhu district where the command centre published patrols: the demo's
/// three, then 18 more, each a circle (centre, radius) that overlaps no other.
pub fn patrol_landmarks() -> Vec<Landmark> {
    let mut out: Vec<Landmark> = landmarks()
        .into_iter()
        .map(|(title, place, area, _)| (title.to_owned(), place.to_owned(), area))
        .collect();
    // (place, what the patrol watches, lng, lat, radius m)
    const MORE: [(&str, &str, f64, f64, f64); 18] = [
        (
            "中山大学南校园 Sun Yat-sen University south campus",
            "校园开放日 open campus",
            113.2985,
            23.0975,
            300.0,
        ),
        (
            "琶洲会展中心 Canton Fair Complex",
            "展会人流 exhibition crowds",
            113.3640,
            23.1045,
            350.0,
        ),
        (
            "黄埔古港 Huangpu Ancient Port",
            "古港游客 visitors at the old port",
            113.4045,
            23.0935,
            200.0,
        ),
        (
            "海珠国家湿地公园 Haizhu National Wetland Park",
            "湿地游园 wetland visitors",
            113.3560,
            23.0680,
            300.0,
        ),
        (
            "江南西商圈 Jiangnanxi shopping street",
            "商圈秩序 shopping street order",
            113.2730,
            23.1030,
            200.0,
        ),
        (
            "晓港公园 Xiaogang Park",
            "公园巡逻 park patrol",
            113.2850,
            23.0920,
            200.0,
        ),
        (
            "海幢寺 Haizhuang Temple",
            "寺庙香客 temple visitors",
            113.2760,
            23.1135,
            150.0,
        ),
        (
            "珠江琶醍 Party Pier",
            "江边夜市 riverside night market",
            113.3370,
            23.1090,
            200.0,
        ),
        (
            "客村地铁站 Kecun metro station",
            "地铁口秩序 metro exits",
            113.3210,
            23.0950,
            200.0,
        ),
        (
            "赤岗塔 Chigang Pagoda",
            "古塔周边 around the pagoda",
            113.3110,
            23.1060,
            150.0,
        ),
        (
            "琶洲塔 Pazhou Pagoda",
            "塔公园 pagoda park",
            113.3790,
            23.1080,
            150.0,
        ),
        (
            "南华西街 Nanhuaxi Street",
            "老街巡查 old street patrol",
            113.2640,
            23.1110,
            150.0,
        ),
        (
            "滨江东路 Binjiang East riverside",
            "江边步道 riverside walk",
            113.2960,
            23.1150,
            200.0,
        ),
        (
            "万胜围地铁站 Wanshengwei metro station",
            "换乘站 interchange crowds",
            113.3890,
            23.0960,
            150.0,
        ),
        (
            "小洲村 Xiaozhou Village",
            "艺术村游客 art village visitors",
            113.3720,
            23.0630,
            250.0,
        ),
        (
            "瀛洲生态公园 Yingzhou Ecological Park",
            "生态园游园 park visitors",
            113.3900,
            23.0760,
            250.0,
        ),
        (
            "昌岗 Changgang",
            "街区巡逻 street patrol",
            113.2860,
            23.1000,
            150.0,
        ),
        (
            "广州美术学院 Guangzhou Academy of Fine Arts",
            "毕业展人流 exhibition crowds",
            113.2880,
            23.1110,
            150.0,
        ),
    ];
    for (place, what, lng, lat, radius_m) in MORE {
        let short = place.split_whitespace().next().unwrap_or(place);
        out.push((
            format!("国庆{short}巡逻 National Day patrol: {what}"),
            place.to_owned(),
            json!({"type": "Circle", "center": [lng, lat], "radius_m": radius_m}),
        ));
    }
    out
}

/// Where the background crowd gathers and where the emergencies the command centre dispatched
/// to happened: (name, lat, lng). Each lies at least [`SPOT_CLEARANCE_M`] from every patrol
/// area, so the envoys alerted first are the crowd's, not patrolling team members (who keep
/// patrolling and never answer).
pub const CROWD_SPOTS: [(&str, f64, f64); 8] = [
    ("鹭江 Lujiang", 23.0930, 113.3070),
    ("东晓南 Dongxiaonan", 23.0800, 113.2900),
    ("大塘 Datang", 23.0830, 113.3150),
    ("新港东 Xingang East", 23.1000, 113.3520),
    ("赤沙 Chisha", 23.0850, 113.3700),
    ("南洲 Nanzhou", 23.0700, 113.3000),
    ("沥滘 Lijiao", 23.0600, 113.3300),
    ("仑头 Luntou", 23.0850, 113.3950),
];

/// Least distance from a crowd spot to the edge of any patrol area, metres (the dispatches'
/// first search radius is 500 m).
pub const SPOT_CLEARANCE_M: f64 = 600.0;

/// A crowd spot's position.
pub fn spot(i: usize) -> LatLng {
    let (_, lat, lng) = CROWD_SPOTS[i % CROWD_SPOTS.len()];
    LatLng { lat, lng }
}

/// Sizes of the 86 teams, in the order they are formed: one of 5, one of 4, then 84 of 3.
pub fn team_sizes() -> Vec<usize> {
    let mut sizes = vec![5, 4];
    sizes.resize(TEAMS, 3);
    sizes
}

/// The task (index into [`patrol_landmarks`]) team `t` patrols.
pub fn team_task(t: usize) -> usize {
    t % TASKS
}

/// Teams each task asks for: every task gets 4 or 5 of the 86, and one slot to spare.
pub fn max_teams(task: usize) -> u32 {
    let formed = (0..TEAMS).filter(|&t| team_task(t) == task).count();
    u32::try_from(formed + 1).unwrap_or(u32::MAX)
}

/// How a team member patrols.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Patrol {
    /// Stays inside the area and posts well past the requirement.
    Full,
    /// Inside the area, but the phone stops posting at half the requirement.
    StopsEarly,
    /// Stays by the area, never inside it (waiting at the wrong gate).
    Outside,
}

impl Patrol {
    /// Whether the member is meant to qualify.
    pub fn qualifies(self) -> bool {
        self == Patrol::Full
    }
}

/// How member `m` (0 = the leader, who always patrols in full) of team `t` patrols.
pub fn patrol_of(t: usize, m: usize) -> Patrol {
    if m == 0 {
        return Patrol::Full;
    }
    match (t * 5 + m) % 11 {
        0 => Patrol::StopsEarly,
        5 => Patrol::Outside,
        _ => Patrol::Full,
    }
}

/// Incident reports of the holiday: (category, how many, a description).
pub const INCIDENTS: [(&str, usize, &str); 7] = [
    (
        "sanitation",
        20,
        "垃圾堆积，垃圾桶已满 Rubbish piling up, bins overflowing",
    ),
    (
        "bike_parking",
        300,
        "共享单车乱停放，堵住通道 Shared bikes parked across the walkway",
    ),
    (
        "suspicious_person",
        12,
        "可疑人员在人群中反复拉扯背包 A man tugging at bags in the crowd",
    ),
    (
        "lost_child",
        8,
        "儿童与家人走散，已陪同在原地等候 A child separated from the family, waiting with an envoy",
    ),
    (
        "elderly_assist",
        25,
        "老人身体不适需要帮助 An elderly person feels unwell and needs help",
    ),
    ("public_security", 5, "游客发生争执 Visitors quarrelling"),
    (
        "traffic_civility",
        10,
        "行人闯红灯、翻越护栏 Pedestrians crossing on red and climbing the rail",
    ),
];

/// Where a department leaves a report at the end of the drill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Never looked at.
    Open,
    /// Acknowledged, no more.
    Acknowledged,
    /// Being handled.
    InProgress,
    /// Handled.
    Resolved,
    /// Not for the department (a duplicate, nothing found).
    Rejected,
}

impl Outcome {
    /// Its status name in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Open => "open",
            Outcome::Acknowledged => "acknowledged",
            Outcome::InProgress => "in_progress",
            Outcome::Resolved => "resolved",
            Outcome::Rejected => "rejected",
        }
    }

    /// The statuses a report is moved through to reach this outcome, in order.
    pub fn steps(self) -> &'static [&'static str] {
        match self {
            Outcome::Open => &[],
            Outcome::Acknowledged => &["acknowledged"],
            Outcome::InProgress => &["acknowledged", "in_progress"],
            Outcome::Resolved => &["acknowledged", "in_progress", "resolved"],
            Outcome::Rejected => &["acknowledged", "in_progress", "rejected"],
        }
    }

    /// Every outcome, in the order of the statistics.
    pub const ALL: [Outcome; 5] = [
        Outcome::Open,
        Outcome::Acknowledged,
        Outcome::InProgress,
        Outcome::Resolved,
        Outcome::Rejected,
    ];
}

/// A report's fate: most are resolved, some rejected, a few still being worked at the end.
pub fn outcome(rng: &mut StdRng) -> Outcome {
    match rng.gen_range(0..100) {
        0..=84 => Outcome::Resolved,
        85..=91 => Outcome::Rejected,
        92..=95 => Outcome::InProgress,
        96..=97 => Outcome::Acknowledged,
        _ => Outcome::Open,
    }
}

/// Emergencies the command centre dispatched envoys to: (message, envoys needed).
pub const DISPATCHES: [(&str, u32); 10] = [
    (
        "走失儿童，约五岁，红色外套 Lost child, about five, red coat",
        2,
    ),
    ("老人晕倒，需要协助 An elderly man collapsed", 2),
    ("人群拥挤，需疏导 Crowd building up, help to guide it", 3),
    ("游客受伤 A visitor is hurt", 2),
    ("走失老人，患认知障碍 A lost elderly woman with dementia", 2),
    ("可疑包裹 An unattended bag", 2),
    ("儿童走失 A child is missing", 2),
    ("醉酒人员倒地 A drunk man lying on the path", 1),
    ("电动车与行人相撞 An e-bike hit a pedestrian", 2),
    ("游客求助 A tourist asks for help", 1),
];

/// Whether every crowd spot keeps its clearance from every patrol area.
pub fn spots_clear_of(areas: &[Area]) -> Option<(usize, usize, f64)> {
    for (s, _) in CROWD_SPOTS.iter().enumerate() {
        for (a, area) in areas.iter().enumerate() {
            let d = area.distance_m(spot(s));
            if d < SPOT_CLEARANCE_M {
                return Some((s, a, d));
            }
        }
    }
    None
}

/// A point outside `area`, about `metres` beyond its edge due south of its centre.
pub fn outside_of(area: &Area, metres: f64) -> LatLng {
    let c = area.center();
    let mut p = c;
    for _ in 0..200 {
        if !area.contains(p) && area.distance_m(p) >= metres {
            break;
        }
        p.lat -= 10.0 / 111_320.0;
    }
    p
}

/// Distance between two positions, metres.
pub fn metres(a: LatLng, b: LatLng) -> f64 {
    haversine_m(a, b)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;
    use rand::SeedableRng as _;

    fn areas() -> Vec<Area> {
        patrol_landmarks()
            .iter()
            .map(|(_, _, a)| Area::from_geojson(a).unwrap())
            .collect()
    }

    #[test]
    fn twenty_one_distinct_landmarks_whose_areas_do_not_overlap() {
        let l = patrol_landmarks();
        assert_eq!(l.len(), TASKS);
        let mut places: Vec<&str> = l.iter().map(|x| x.1.as_str()).collect();
        places.sort_unstable();
        places.dedup();
        assert_eq!(places.len(), TASKS);
        let areas = areas();
        for (i, a) in areas.iter().enumerate() {
            assert!(l[i].0.chars().count() <= 100, "{}", l[i].0);
            for (j, b) in areas.iter().enumerate().skip(i + 1) {
                assert!(
                    !a.contains(b.center()) && !b.contains(a.center()),
                    "{} and {} overlap",
                    l[i].1,
                    l[j].1
                );
                assert!(a.distance_m(b.center()) > 200.0, "{} / {}", l[i].1, l[j].1);
            }
        }
    }

    #[test]
    fn crowd_spots_are_clear_of_the_patrol_areas() {
        assert_eq!(spots_clear_of(&areas()), None);
    }

    #[test]
    fn eighty_six_teams_of_261_envoys_over_21_tasks() {
        let sizes = team_sizes();
        assert_eq!(sizes.len(), TEAMS);
        assert_eq!(sizes.iter().sum::<usize>(), PARTICIPANTS);
        assert!(sizes.iter().all(|s| (3..=5).contains(s)));
        for task in 0..TASKS {
            let n = (0..TEAMS).filter(|&t| team_task(t) == task).count();
            assert!((4..=5).contains(&n));
            assert!(max_teams(task) as usize > n);
        }
    }

    #[test]
    fn some_members_fall_short_but_every_leader_qualifies() {
        let sizes = team_sizes();
        let mut short = 0;
        for (t, &size) in sizes.iter().enumerate() {
            assert!(patrol_of(t, 0).qualifies());
            short += (1..size).filter(|&m| !patrol_of(t, m).qualifies()).count();
        }
        assert!((20..=60).contains(&short), "{short} fall short");
    }

    #[test]
    fn outside_points_are_outside() {
        for a in areas() {
            let p = outside_of(&a, 100.0);
            assert!(!a.contains(p));
            assert!(a.distance_m(p) >= 100.0);
        }
    }

    #[test]
    fn most_reports_are_resolved() {
        let mut rng = StdRng::seed_from_u64(1);
        let n = (0..1000)
            .filter(|_| outcome(&mut rng) == Outcome::Resolved)
            .count();
        assert!((800..900).contains(&n), "{n}");
        assert_eq!(INCIDENTS.iter().map(|i| i.1).sum::<usize>(), 380);
    }
}
