//! Before the holiday: the server is checked to be quiet, the command centre is made (a
//! commander and each department's staff, `POST /users`), the district's envoys are imported
//! (`POST /users/import`, CSV), the commander publishes the 21 patrol tasks, and the envoys
//! the drill uses sign up with their codes (`POST /auth/activate`).

use super::args::NationalDayArgs;
use super::clock::{Clock, Stopwatch};
use super::district;
use super::figures;
use crate::api::answers::NewAccount;
use crate::api::Api;
use pp_domain::time::{from_millis, to_millis, Clock as _, SystemClock, Timestamp};
use pp_domain::{TaskId, UserId};
use pp_geo::Area;
use rand::Rng as _;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::Semaphore;

/// Password of every account the drill makes.
const PASSWORD: &str = "national-day-2026";
/// Activations (argon2 on the server) in flight at once.
const ACTIVATE_CONCURRENCY: usize = 4;
/// Rows per import request (each well under the 16 MiB limit).
const IMPORT_CHUNK: usize = 200_000;
/// Departments and how many staff each has.
const STAFF: [(&str, usize); 3] = [
    ("public_security", 2),
    ("sanitation", 1),
    ("urban_management", 2),
];

/// A signed-in account.
#[derive(Debug, Clone)]
pub struct Account {
    /// its id
    pub id: UserId,
    /// its session's bearer token
    pub token: String,
}

/// A published task.
pub struct TaskInfo {
    /// its id
    pub id: TaskId,
    /// its patrol area
    pub area: Area,
    /// the end of its window
    pub ends_at: Timestamp,
    /// the patrol a member needs
    pub patrol_minutes: u32,
    /// points per qualified member
    pub reward_points: i64,
    /// fund per qualified member
    pub reward_fund_cents: i64,
}

/// What the drill made before the holiday.
pub struct Prepared {
    /// the admin the drill signed in as
    pub admin: Account,
    /// the start of the drill's statistics period
    pub from: Timestamp,
    /// envoys registered before the drill
    pub registered_before: usize,
    /// envoys the drill imported
    pub imported: usize,
    /// every report category of the routing rules
    pub categories: Vec<String>,
    /// who plays the holiday
    pub cast: Cast,
}

/// Who plays the holiday.
pub struct Cast {
    /// the command centre
    pub commander: Account,
    /// each department's staff
    pub staff: HashMap<String, Vec<Account>>,
    /// the 21 tasks
    pub tasks: Vec<TaskInfo>,
    /// the envoys the drill uses, activated: team members first, then the crowd
    pub envoys: Vec<Account>,
}

/// Everything before the holiday, each step printed as it ends.
pub async fn prepare(
    a: &NationalDayArgs,
    api: &Arc<Api>,
    clock: Clock,
    watch: &Stopwatch,
) -> anyhow::Result<Prepared> {
    let health = api
        .health()
        .await
        .map_err(|e| anyhow::anyhow!("is the server running at {}? {e}", api.base()))?;
    println!(
        "server {} (database {}); speed {}: a point every {:.2} s, patrol requirement {} min",
        api.base(),
        health["database"].as_str().unwrap_or("?"),
        a.speed,
        district::SIM_POINT_EVERY_SECS / f64::from(a.speed),
        clock.patrol_minutes()
    );
    let admin = login(api, &a.admin_phone, &a.admin_password).await?;
    let from = from_millis(to_millis(SystemClock.now()));
    let registered_before = figures::check_quiet(api, &admin.token, from).await?;
    watch.phase(&format!(
        "the server is quiet ({registered_before} envoys registered before the drill)"
    ));

    // phones: a random three-digit tag keeps a second drill on the same database apart
    let tag: u16 = rand::thread_rng().gen_range(0..1000);
    let categories = api
        .routing(&admin.token)
        .await?
        .rules
        .into_iter()
        .map(|r| r.category)
        .collect();

    // the command centre: a commander and each department's staff
    let commander =
        make_account(api, &admin, tag, 0, "指挥中心 Commander", "commander", None).await?;
    let mut staff: HashMap<String, Vec<Account>> = HashMap::new();
    let mut n = 1;
    for (dept, count) in STAFF {
        for i in 0..count {
            let name = format!("{dept} staff {}", i + 1);
            let acc = make_account(api, &admin, tag, n, &name, "staff", Some(dept)).await?;
            staff.entry(dept.to_owned()).or_default().push(acc);
            n += 1;
        }
    }
    watch.phase("commander and department staff made (POST /users) and signed in");

    // the district's envoys, all pending until activated
    let phones: Vec<String> = (0..a.envoys).map(|i| envoy_phone(tag, i)).collect();
    let (imported, codes) = import(api, &admin, tag, &phones).await?;
    anyhow::ensure!(
        imported == a.envoys,
        "imported {imported} of {} envoys",
        a.envoys
    );
    watch.phase(&format!("{imported} envoys imported (POST /users/import)"));

    let tasks = publish_tasks(api, &commander, clock).await?;
    watch.phase(&format!(
        "{} tasks published (POST /tasks): patrol {} min, window {} min",
        tasks.len(),
        clock.patrol_minutes(),
        clock.window().num_minutes()
    ));

    // the envoys the drill uses sign up with their codes
    let used = district::PARTICIPANTS + a.crowd;
    let envoys = activate_all(api, &phones[..used], &codes).await?;
    watch.phase(&format!(
        "{} envoys activated (POST /auth/activate): {} team members, crowd {}",
        envoys.len(),
        district::PARTICIPANTS,
        a.crowd
    ));
    Ok(Prepared {
        admin,
        from,
        registered_before,
        imported,
        categories,
        cast: Cast {
            commander,
            staff,
            tasks,
            envoys,
        },
    })
}

/// Envoy `i`'s phone: `19`, the run's tag, six digits.
fn envoy_phone(tag: u16, i: usize) -> String {
    format!("19{tag:03}{i:06}")
}

async fn login(api: &Api, phone: &str, password: &str) -> anyhow::Result<Account> {
    let s = api.login(phone, password).await?;
    Ok(Account {
        id: s.user.id,
        token: s.token,
    })
}

/// Makes an account with `POST /users` (admin) and signs it in.
async fn make_account(
    api: &Api,
    admin: &Account,
    tag: u16,
    n: usize,
    name: &str,
    role: &str,
    department: Option<&str>,
) -> anyhow::Result<Account> {
    let phone = format!("18{tag:03}{n:06}");
    let account = NewAccount {
        phone: &phone,
        name,
        role,
        department,
        password: PASSWORD,
    };
    api.create_user(&admin.token, &account).await?;
    login(api, &phone, PASSWORD).await
}

/// Imports `phones` as pending envoys, [`IMPORT_CHUNK`] rows a request; returns how many were
/// imported and their activation codes by E.164 phone.
async fn import(
    api: &Api,
    admin: &Account,
    tag: u16,
    phones: &[String],
) -> anyhow::Result<(usize, HashMap<String, String>)> {
    let mut imported = 0;
    let mut codes: HashMap<String, String> = HashMap::new();
    for (c, chunk) in phones.chunks(IMPORT_CHUNK).enumerate() {
        let mut csv = String::with_capacity(chunk.len() * 40);
        csv.push_str("phone,name\n");
        for (i, p) in chunk.iter().enumerate() {
            csv.push_str(&format!("{p},平安志愿者 {}\n", c * IMPORT_CHUNK + i + 1));
        }
        let answer = api.import_envoys(&admin.token, csv).await?;
        anyhow::ensure!(
            answer.refused.is_empty() && answer.reissued == 0,
            "the import refused {} rows and re-issued {} (phones of an earlier drill with the same tag {tag:03}? run it again): {:?}",
            answer.refused.len(),
            answer.reissued,
            answer.refused.first()
        );
        imported += answer.imported;
        for c in answer.codes {
            codes.insert(c.phone, c.code);
        }
    }
    Ok((imported, codes))
}

/// The commander publishes a task at each of the 21 landmarks, open now for the holiday's
/// window, and the crowd spots are checked to be clear of them.
async fn publish_tasks(
    api: &Api,
    commander: &Account,
    clock: Clock,
) -> anyhow::Result<Vec<TaskInfo>> {
    let patrol_minutes = clock.patrol_minutes();
    let published_at = SystemClock.now();
    let mut tasks = Vec::with_capacity(district::TASKS);
    for (i, (title, place, area)) in district::patrol_landmarks().into_iter().enumerate() {
        let body = json!({
            "title": title,
            "place": place,
            "description": "国庆假期人流高峰：注意走失儿童、可疑人员、乱停放共享单车和环境卫生。National Day crowds: watch for lost children, suspicious persons, badly parked bikes and litter.",
            "area": area,
            "starts_at": published_at - chrono::Duration::minutes(1),
            "ends_at": published_at + clock.window(),
            "patrol_minutes": patrol_minutes,
            "team_min": 3,
            "team_max": 5,
            "max_teams": district::max_teams(i),
            "reward_points": 10 + 5 * (i % 3) as i64,
            "reward_fund_cents": 500 + 250 * (i % 4) as i64,
        });
        let t = api.publish_task(&commander.token, &body).await?;
        anyhow::ensure!(
            t.patrol_minutes == patrol_minutes,
            "task published with {} patrol minutes",
            t.patrol_minutes
        );
        tasks.push(TaskInfo {
            id: t.id,
            area: Area::from_geojson(&area)?,
            ends_at: t.ends_at,
            patrol_minutes: t.patrol_minutes,
            reward_points: t.reward_points,
            reward_fund_cents: t.reward_fund_cents,
        });
    }
    if let Some((s, t, d)) =
        district::spots_clear_of(&tasks.iter().map(|t| t.area.clone()).collect::<Vec<_>>())
    {
        anyhow::bail!("crowd spot {s} is {d:.0} m from task {t}'s area");
    }
    Ok(tasks)
}

/// Activates `phones` with their codes, a few at a time (each is an argon2 hash on the server).
async fn activate_all(
    api: &Arc<Api>,
    phones: &[String],
    codes: &HashMap<String, String>,
) -> anyhow::Result<Vec<Account>> {
    let gate = Arc::new(Semaphore::new(ACTIVATE_CONCURRENCY));
    let mut jobs = tokio::task::JoinSet::new();
    for (i, phone) in phones.iter().enumerate() {
        let e164 = format!("+86{phone}");
        let code = codes
            .get(&e164)
            .ok_or_else(|| anyhow::anyhow!("the import gave no code for {e164}"))?
            .clone();
        let (api, gate) = (Arc::clone(api), Arc::clone(&gate));
        jobs.spawn(async move {
            let _permit = gate.acquire_owned().await?;
            let s = api.activate(&e164, &code, PASSWORD).await?;
            Ok::<_, anyhow::Error>((
                i,
                Account {
                    id: s.user.id,
                    token: s.token,
                },
            ))
        });
    }
    let mut out: Vec<Option<Account>> = vec![None; phones.len()];
    while let Some(r) = jobs.join_next().await {
        let (i, acc) = r??;
        out[i] = Some(acc);
    }
    out.into_iter()
        .map(|a| a.ok_or_else(|| anyhow::anyhow!("an activation is missing")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envoy_phones_are_mainland_mobiles() {
        for (tag, i) in [(0, 0), (999, 999_999), (42, 110_000)] {
            let p = envoy_phone(tag, i);
            assert!(pp_domain::account::Phone::parse(&p).is_ok(), "{p}");
        }
    }
}
