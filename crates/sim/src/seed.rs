//! The demo district's seed, as `peacepatrol demo` serves it: Haizhu district's departments
//! (from the migrations), a commander, an admin, staff for each department, a few envoys, and
//! open patrol tasks at real landmarks, made straight in the store. While the demo serves, a
//! simulated crowd walks the district and one team patrols at Canton Tower
//! ([`crate::crowd`]). Safe to run again on the same data: what exists is kept.

use chrono::Duration;
use pp_domain::account::{NewUser, Phone};
use pp_domain::task::{NewTask, Task, TaskStatus};
use pp_domain::time::Timestamp;
use pp_domain::{Role, TaskId, UserId};
use pp_store::{Store, StoreError};
use serde_json::json;

/// Every demo account's password (printed at start; the demo is for a trusted machine).
pub const DEMO_PASSWORD: &str = "peace-demo-2026";

/// The demo accounts: (phone, name, role, department).
pub const ACCOUNTS: &[(&str, &str, Role, Option<&str>)] = &[
    ("13800000000", "管理员 Admin", Role::Admin, None),
    ("13800000001", "指挥中心 Commander", Role::Commander, None),
    (
        "13800000011",
        "公安 Officer Li",
        Role::Staff,
        Some("public_security"),
    ),
    (
        "13800000012",
        "环卫 Worker Chen",
        Role::Staff,
        Some("sanitation"),
    ),
    (
        "13800000013",
        "城管 Inspector Wu",
        Role::Staff,
        Some("urban_management"),
    ),
    ("13900000001", "李明", Role::Envoy, None),
    ("13900000002", "王芳", Role::Envoy, None),
    ("13900000003", "张伟", Role::Envoy, None),
    ("13900000004", "陈静", Role::Envoy, None),
    ("13900000005", "刘洋", Role::Envoy, None),
    ("13900000006", "赵磊", Role::Envoy, None),
];

/// The place of the Canton Tower task, where the demo team patrols.
pub const CANTON_TOWER: &str = "广州塔 Canton Tower";

/// The landmarks of Haizhu district, Guangzhou: (title, place, patrol area, patrol minutes).
pub fn landmarks() -> Vec<(&'static str, &'static str, serde_json::Value, u32)> {
    vec![
        (
            "广州塔夜间巡逻 Canton Tower evening patrol",
            CANTON_TOWER,
            json!({"type": "Circle", "center": [113.3245, 23.1066], "radius_m": 350}),
            30,
        ),
        (
            "海珠客运站秩序巡查 Haizhu passenger station",
            "海珠客运站 Haizhu Passenger Station",
            json!({"type": "Polygon", "coordinates": [[
                [113.2610, 23.0945], [113.2652, 23.0945], [113.2655, 23.0975],
                [113.2612, 23.0978], [113.2610, 23.0945]
            ]]}),
            45,
        ),
        (
            "海珠湖公园安全巡逻 Haizhu Lake park",
            "海珠湖公园 Haizhu Lake Park",
            json!({"type": "Polygon", "coordinates": [[
                [113.3330, 23.0790], [113.3440, 23.0795], [113.3455, 23.0860],
                [113.3385, 23.0885], [113.3320, 23.0850], [113.3330, 23.0790]
            ]]}),
            60,
        ),
    ]
}

/// Creates what is missing of the demo district. A landmark gets a fresh task (open from now
/// for 12 hours) unless an open one is in its window now and for at least another hour, so the
/// demo always has open tasks, however long ago its database was made.
pub async fn seed(store: &dyn Store, now: Timestamp) -> anyhow::Result<()> {
    // one argon2 hash for every demo account
    let hash = pp_domain::account::hash_password(DEMO_PASSWORD);
    let mut commander = None;
    for (phone, name, role, dept) in ACCOUNTS {
        let user = NewUser {
            phone: Phone::parse(phone)?,
            name: (*name).to_owned(),
            role: *role,
            password_hash: hash.clone(),
            department: dept.map(str::to_owned),
        };
        let id = match store.create_user(&user, now).await {
            Ok(u) => u.id,
            Err(StoreError::Conflict("phone_taken")) => {
                match store.user_credentials(&user.phone).await? {
                    Some((u, _)) => u.id,
                    None => continue,
                }
            }
            Err(e) => return Err(e.into()),
        };
        if *role == Role::Commander {
            commander = Some(id);
        }
    }
    let commander = commander.ok_or_else(|| anyhow::anyhow!("demo commander missing"))?;
    let open = store
        .tasks(&pp_store::TaskFilter {
            status: Some(TaskStatus::Open),
            ..pp_store::TaskFilter::default()
        })
        .await?;
    for (title, place, area, minutes) in landmarks() {
        if open.iter().any(|t| {
            t.task.place == place
                && t.task.in_window(now)
                && t.task.in_window(now + Duration::hours(1))
        }) {
            continue;
        }
        store
            .insert_task(&landmark_task(title, place, area, minutes, commander, now)?)
            .await?;
    }
    Ok(())
}

/// A landmark's task, open from 10 minutes before `now` for 12 hours.
fn landmark_task(
    title: &str,
    place: &str,
    area: serde_json::Value,
    patrol_minutes: u32,
    commander: UserId,
    now: Timestamp,
) -> anyhow::Result<Task> {
    Ok(Task::publish(
        NewTask {
            title: title.to_owned(),
            place: place.to_owned(),
            description: "国庆假期人流高峰，请注意走失儿童、可疑人员和乱停放共享单车。Holiday crowds: watch for lost children, suspicious persons and badly parked shared bikes.".to_owned(),
            area,
            starts_at: now - Duration::minutes(10),
            ends_at: now + Duration::hours(12),
            patrol_minutes,
            team_min: 3,
            team_max: 5,
            max_teams: 5,
            reward_points: 10,
            reward_fund_cents: 500,
        },
        commander,
        now,
    )?)
}

/// Publishes another task at the landmark `place` (by the demo commander), for when the open
/// one has no team slot left.
pub async fn publish_landmark(
    store: &dyn Store,
    place: &str,
    now: Timestamp,
) -> anyhow::Result<TaskId> {
    let commander = ACCOUNTS
        .iter()
        .find(|a| a.2 == Role::Commander)
        .map(|a| Phone::parse(a.0))
        .ok_or_else(|| anyhow::anyhow!("no demo commander"))??;
    let (_, commander) = store
        .user_ids_by_phone(&[commander])
        .await?
        .pop()
        .ok_or_else(|| anyhow::anyhow!("demo commander missing"))?;
    let (title, place, area, minutes) = landmarks()
        .into_iter()
        .find(|l| l.1 == place)
        .ok_or_else(|| anyhow::anyhow!("no demo landmark {place}"))?;
    let task = landmark_task(title, place, area, minutes, commander, now)?;
    store.insert_task(&task).await?;
    Ok(task.id)
}
