//! The reports: each is filed by its envoy when its time comes (a team member's names the
//! team, every fourth has a photo), then the routed department's staff move it step by step
//! to the outcome the plan gave it, after a handling time each.

use super::phone::Duty;
use super::state::{Ev, Holiday};
use crate::api::answers::Incident;
use crate::api::forms::NewReport;
use rand::rngs::StdRng;
use rand::Rng as _;
use std::sync::Arc;
use std::time::Instant;

impl Holiday {
    /// Reports whose time has come are filed by their envoy (a team member names the team).
    pub fn file_reports(&mut self, now: Instant) {
        for i in 0..self.reports.len() {
            let r = &self.reports[i];
            if r.sending || r.filed.is_some() || now < r.due {
                continue;
            }
            let p = &self.phones[r.reporter];
            let team = match p.duty {
                Duty::Member { t, .. } => match self.teams[t].id {
                    Some(id) if self.teams[t].started_at.is_some() => Some(id),
                    // not patrolling yet: reports once it is
                    _ => continue,
                },
                Duty::Crowd => None,
            };
            let (api, token, photo) = (
                Arc::clone(&self.api),
                p.account.token.clone(),
                (i % 4 == 0).then(|| Arc::clone(&self.photo)),
            );
            let (category, description, at) = (r.category, r.description, p.walk.at);
            self.reports[i].sending = true;
            self.spawn(async move {
                let report = NewReport {
                    category,
                    description,
                    at,
                    team,
                    photo: photo.as_deref().map(Vec::as_slice),
                };
                match api.file_report(&token, &report).await {
                    Ok(body) => Ev::Reported { i, body },
                    Err(e) => Ev::Failed(format!("report {category}: {e:#}")),
                }
            });
        }
    }

    /// Report `i` was filed: its department looks at it in 2 to 10 minutes of the holiday.
    pub fn reported(&mut self, i: usize, body: Incident, rng: &mut StdRng) {
        let r = &mut self.reports[i];
        r.sending = false;
        r.filed = Some(body);
        let wait = self.clock.minutes(rng.gen_range(2.0..10.0));
        self.reports[i].next_step = Some(Instant::now() + wait);
    }

    /// The routed department's staff move each report one step when its time has come.
    pub fn work_reports(&mut self, now: Instant) {
        for i in 0..self.reports.len() {
            let r = &self.reports[i];
            let Some(filed) = &r.filed else { continue };
            if r.sending || r.next_step.is_none_or(|at| now < at) {
                continue;
            }
            let Some(&status) = r.outcome.steps().get(r.steps_done) else {
                continue;
            };
            let token = self
                .staff
                .get(&filed.department)
                .and_then(|s| s.get(i % s.len().max(1)))
                .unwrap_or(&self.commander)
                .token
                .clone();
            let (api, id) = (Arc::clone(&self.api), filed.id.clone());
            let note = match status {
                "acknowledged" => "已收到，正在派人 On our way",
                "in_progress" => "现场处理中 Being handled on site",
                "resolved" => "已处理完毕 Done",
                _ => "不属实或重复上报 Nothing found / a duplicate",
            };
            self.reports[i].sending = true;
            self.spawn(async move {
                match api.step_incident(&token, &id, status, note).await {
                    Ok(body) => Ev::Stepped { i, body },
                    Err(e) => Ev::Failed(format!("report {id} to {status}: {e:#}")),
                }
            });
        }
    }

    /// Report `i` moved a step, which must be the one asked for; the next comes after 3 to
    /// 10 minutes of the holiday (the first) or 5 to 30 (the others).
    pub fn stepped(&mut self, i: usize, body: Incident, rng: &mut StdRng) {
        let wait = match self.reports[i].steps_done {
            0 => self.clock.minutes(rng.gen_range(3.0..10.0)),
            _ => self.clock.minutes(rng.gen_range(5.0..30.0)),
        };
        let r = &mut self.reports[i];
        r.sending = false;
        r.steps_done += 1;
        let expected = r.outcome.steps()[r.steps_done - 1];
        if body.status != expected {
            let msg = format!(
                "report {}: status {} after the step to {expected}",
                body.id, body.status
            );
            self.fail(msg);
            return;
        }
        let r = &mut self.reports[i];
        r.filed = Some(body);
        r.next_step = (r.steps_done < r.outcome.steps().len()).then(|| Instant::now() + wait);
    }
}
