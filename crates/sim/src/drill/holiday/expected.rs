//! What the holiday did, as the server's statistics must count it ([`Expected`]), read from
//! the drill's own record of every team, report and dispatch; on the way, each member's
//! patrol time at the finish is checked against the points the server accepted of it.

use super::super::district::Outcome;
use super::super::figures::Expected;
use super::phone::Duty;
use super::state::Holiday;
use crate::api::answers::Recipient;
use pp_domain::patrol::seconds_inside;
use pp_domain::time::Timestamp;
use pp_domain::UserId;

impl Holiday {
    /// The figures the server's statistics must show for what this holiday did.
    pub fn expected(
        &self,
        categories: &[String],
        envoys_registered: usize,
    ) -> anyhow::Result<Expected> {
        let mut e = Expected {
            tasks_published: self.tasks.len(),
            envoys_registered,
            ..Expected::default()
        };
        for team in &self.teams {
            let (Some(started_at), Some(finish)) = (team.started_at, &team.finish) else {
                anyhow::bail!("a team did not start or finish");
            };
            let task = &self.tasks[team.task];
            let finished_at = finish
                .finished_at
                .ok_or_else(|| anyhow::anyhow!("a finish without finished_at"))?;
            let until = finished_at.min(task.ends_at);
            e.teams_formed += 1;
            *e.teams_by_size
                .entry(team.members_at_start.len().to_string())
                .or_default() += 1;
            e.participants.extend(team.members_at_start.iter().copied());
            for &pi in &team.phones {
                let p = &self.phones[pi];
                let Duty::Member { patrol, .. } = p.duty else {
                    continue;
                };
                let ms = (seconds_inside(&p.acked, &task.area, started_at, until) * 1000.0).round()
                    as i64;
                let qualified = ms >= i64::from(task.patrol_minutes) * 60_000;
                let Some(got) = finish.members.iter().find(|m| m.user_id == p.account.id) else {
                    anyhow::bail!("member {} missing from a finish", p.account.id);
                };
                let minutes = ms as f64 / 60_000.0;
                anyhow::ensure!(
                    (got.minutes_inside - minutes).abs() <= 0.006 && got.qualified == qualified,
                    "member {}: the finish says {} min, qualified {}; their points say {minutes:.3} min, qualified {qualified}",
                    p.account.id,
                    got.minutes_inside,
                    got.qualified
                );
                anyhow::ensure!(
                    qualified == patrol.qualifies(),
                    "member {} patrolled as {patrol:?} but qualified = {qualified}",
                    p.account.id
                );
                e.patrol_ms += ms;
                if qualified {
                    e.qualified.insert(p.account.id);
                    anyhow::ensure!(
                        got.points == task.reward_points
                            && got.fund_cents == task.reward_fund_cents,
                        "member {} was credited {} points and {} cents",
                        p.account.id,
                        got.points,
                        got.fund_cents
                    );
                    e.points += task.reward_points;
                    e.fund_cents += task.reward_fund_cents;
                }
            }
        }
        for c in categories {
            e.incidents_by_category.insert(c.clone(), 0);
        }
        for o in Outcome::ALL {
            e.incidents_by_outcome.insert(o.as_str().to_owned(), 0);
        }
        for r in &self.reports {
            let Some(f) = &r.filed else {
                anyhow::bail!("a report was not filed");
            };
            anyhow::ensure!(
                f.status == r.outcome.as_str(),
                "report {} is {}, not {}",
                f.id,
                f.status,
                r.outcome.as_str()
            );
            e.incidents_reported += 1;
            *e.incidents_by_category
                .entry(r.category.to_owned())
                .or_default() += 1;
            *e.incidents_by_outcome.entry(f.status.clone()).or_default() += 1;
            if r.outcome == Outcome::Resolved {
                let closed = f
                    .closed_at
                    .ok_or_else(|| anyhow::anyhow!("resolved report {} has no closed_at", f.id))?;
                e.resolve_ms.push(ms_between(f.created_at, closed));
            }
        }
        for d in &self.dispatches {
            let Some(v) = &d.closed else {
                anyhow::bail!("a dispatch was not closed");
            };
            e.dispatches += 1;
            let took: Vec<&Recipient> = v
                .recipients
                .iter()
                .filter(|r| r.state == "accepted" || r.state == "arrived")
                .collect();
            let mut accepted: Vec<UserId> = took.iter().map(|r| r.user_id).collect();
            let mut by: Vec<UserId> = d.accepted_by.clone();
            accepted.sort_unstable();
            by.sort_unstable();
            anyhow::ensure!(
                accepted == by,
                "dispatch {}: the server lists {} who took it, the envoys' answers say {}",
                v.id,
                accepted.len(),
                by.len()
            );
            let arrived = v.recipients.iter().filter(|r| r.state == "arrived").count();
            anyhow::ensure!(
                arrived == d.arrived_by.len(),
                "dispatch {}: the server lists {arrived} arrived, the envoys marked {}",
                v.id,
                d.arrived_by.len()
            );
            if let Some(first) = took.iter().filter_map(|r| r.answered_at).min() {
                e.first_accept_ms.push(ms_between(v.created_at, first));
            }
            if let Some(first) = v.recipients.iter().filter_map(|r| r.arrived_at).min() {
                e.arrival_ms.push(ms_between(v.created_at, first));
            }
        }
        e.envoys_active = self.phones.iter().filter(|p| p.seen).count();
        Ok(e)
    }
}

/// Milliseconds from `a` to `b`.
fn ms_between(a: Timestamp, b: Timestamp) -> i64 {
    (b - a).num_milliseconds()
}
