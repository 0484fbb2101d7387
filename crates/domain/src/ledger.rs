//! The rewards ledger: append-only entries of points and fund awards (in cents).
//!
//! A qualified member of a finished patrol earns the task's `reward_points` and
//! `reward_fund_cents`, each as one **award** entry; the store's uniqueness rule (one award per
//! team, member and kind) makes double credit impossible. Mistakes are never edited away: an
//! admin appends a **correction** (any non-zero amount, with a reason).

use crate::task::Task;
use crate::{DomainError, DomainResult, TeamId, UserId};

/// Longest reason of a correction, in characters.
pub const MAX_REASON_CHARS: usize = 500;
/// Largest absolute amount of one correction (points, or cents).
pub const MAX_CORRECTION: i64 = 100_000_000;

/// What an entry counts.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum LedgerKind {
    /// Points (the leaderboard counts these).
    Points,
    /// The "Safe Public Welfare Fund" award, in cents.
    Fund,
}

impl LedgerKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            LedgerKind::Points => "points",
            LedgerKind::Fund => "fund",
        }
    }

    /// Reads a stored name.
    pub fn parse(s: &str) -> DomainResult<LedgerKind> {
        match s {
            "points" => Ok(LedgerKind::Points),
            "fund" => Ok(LedgerKind::Fund),
            other => Err(DomainError::invalid(
                "invalid_kind",
                format!("ledger kind must be points or fund (got {other:?})"),
            )),
        }
    }
}

/// Why an entry exists.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum LedgerSource {
    /// Credited for a qualified patrol (at most one per team, member and kind).
    Award,
    /// Added by an admin to correct the balance.
    Correction,
}

impl LedgerSource {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            LedgerSource::Award => "award",
            LedgerSource::Correction => "correction",
        }
    }

    /// Reads a stored name.
    pub fn parse(s: &str) -> DomainResult<LedgerSource> {
        match s {
            "award" => Ok(LedgerSource::Award),
            "correction" => Ok(LedgerSource::Correction),
            other => Err(DomainError::invalid(
                "invalid_source",
                format!("unknown ledger source {other:?}"),
            )),
        }
    }
}

/// An entry about to be appended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEntry {
    /// whose balance it changes
    pub user_id: UserId,
    /// points or fund
    pub kind: LedgerKind,
    /// signed amount (points, or cents)
    pub amount: i64,
    /// why, in words
    pub reason: String,
    /// the patrol it rewards, for awards
    pub team_id: Option<TeamId>,
    /// award or correction
    pub source: LedgerSource,
    /// the admin who made a correction
    pub created_by: Option<UserId>,
}

/// The award entries a qualified member of `team` earns on `task`: one per non-zero reward.
pub fn awards(task: &Task, team: TeamId, member: UserId) -> Vec<NewEntry> {
    let reason = format!("patrol: {}", task.title);
    [
        (LedgerKind::Points, task.reward_points),
        (LedgerKind::Fund, task.reward_fund_cents),
    ]
    .into_iter()
    .filter(|&(_, amount)| amount != 0)
    .map(|(kind, amount)| NewEntry {
        user_id: member,
        kind,
        amount,
        reason: reason.clone(),
        team_id: Some(team),
        source: LedgerSource::Award,
        created_by: None,
    })
    .collect()
}

/// An admin's correcting entry: a non-zero amount within ±[`MAX_CORRECTION`] and a reason of
/// 1..=[`MAX_REASON_CHARS`] characters (surrounding whitespace trimmed).
pub fn correction(
    user_id: UserId,
    kind: LedgerKind,
    amount: i64,
    reason: &str,
    admin: UserId,
) -> DomainResult<NewEntry> {
    if amount == 0 || amount.unsigned_abs() > MAX_CORRECTION.unsigned_abs() {
        return Err(DomainError::invalid(
            "invalid_amount",
            format!("a correction's amount must be non-zero and within ±{MAX_CORRECTION}"),
        ));
    }
    let reason = reason.trim();
    let chars = reason.chars().count();
    if chars == 0 || chars > MAX_REASON_CHARS {
        return Err(DomainError::invalid(
            "invalid_reason",
            format!("a correction needs a reason of 1 to {MAX_REASON_CHARS} characters"),
        ));
    }
    Ok(NewEntry {
        user_id,
        kind,
        amount,
        reason: reason.to_owned(),
        team_id: None,
        source: LedgerSource::Correction,
        created_by: Some(admin),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    #[test]
    fn awards_follow_the_task() {
        let now = Utc.with_ymd_and_hms(2026, 10, 1, 10, 0, 0).unwrap();
        let mut task = Task::publish(crate::task::tests::input(now), UserId::new(), now).unwrap();
        let (team, member) = (TeamId::new(), UserId::new());
        let a = awards(&task, team, member);
        assert_eq!(a.len(), 2);
        assert_eq!(a[0].kind, LedgerKind::Points);
        assert_eq!(a[0].amount, task.reward_points);
        assert_eq!(a[1].kind, LedgerKind::Fund);
        assert_eq!(a[1].amount, task.reward_fund_cents);
        assert!(a.iter().all(|e| e.team_id == Some(team)
            && e.user_id == member
            && e.source == LedgerSource::Award));
        task.reward_fund_cents = 0;
        assert_eq!(awards(&task, team, member).len(), 1);
    }

    #[test]
    fn corrections_need_an_amount_and_a_reason() {
        let (u, a) = (UserId::new(), UserId::new());
        let c = correction(u, LedgerKind::Fund, -500, "  duplicate award  ", a).unwrap();
        assert_eq!(c.reason, "duplicate award");
        assert_eq!(c.source, LedgerSource::Correction);
        assert_eq!(c.created_by, Some(a));
        let code = |r: DomainResult<NewEntry>| r.unwrap_err().code();
        assert_eq!(
            code(correction(u, LedgerKind::Points, 0, "x", a)),
            "invalid_amount"
        );
        assert_eq!(
            code(correction(
                u,
                LedgerKind::Points,
                MAX_CORRECTION + 1,
                "x",
                a
            )),
            "invalid_amount"
        );
        assert!(correction(u, LedgerKind::Points, -MAX_CORRECTION, "x", a).is_ok());
        assert_eq!(
            code(correction(u, LedgerKind::Points, 1, "   ", a)),
            "invalid_reason"
        );
        let long = "长".repeat(MAX_REASON_CHARS + 1);
        assert_eq!(
            code(correction(u, LedgerKind::Points, 1, &long, a)),
            "invalid_reason"
        );
        assert!(correction(u, LedgerKind::Points, 1, &long[..MAX_REASON_CHARS * 3], a).is_ok());
        assert_eq!(LedgerKind::parse("fund").unwrap(), LedgerKind::Fund);
        assert!(LedgerKind::parse("gold").is_err());
    }
}
