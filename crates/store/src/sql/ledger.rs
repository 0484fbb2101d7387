//! Patrol outcomes and the append-only rewards ledger: the [`LedgerStore`] (compiled with the
//! rest of `sql/`, once per backend).

use super::tasks::task_by_id;
use super::teams::{end_team, member_ids, team_by_id};
use super::{Db, SqlStore};
use crate::chunks::shaped_chunks;
use crate::ledger::{BalancesRow, LeaderRowRow, LedgerRow, OutcomeRow};
use crate::{
    FinishOutcome, LeaderRow, LedgerEntry, LedgerStore, MemberOutcome, StoreError, StoreResult,
    Wallet,
};
use async_trait::async_trait;
use pp_domain::ledger::{self, LedgerSource, NewEntry};
use pp_domain::team::TeamState;
use pp_domain::time::{to_millis, Timestamp};
use pp_domain::{DomainError, LedgerId, TeamId, UserId};
use sqlx::{QueryBuilder, Transaction};
use std::collections::HashMap;
use uuid::Uuid;

const LEDGER_COLS: &str =
    "id, user_id, kind, amount, reason, team_id, source, created_by, created_at";

/// The stored outcomes of a team's members (those who had not left), ordered like
/// [`member_ids`]; empty before the finish.
const OUTCOMES_SQL: &str = "SELECT user_id, patrol_ms, qualified FROM team_members
     WHERE team_id = $1 AND left_at IS NULL AND patrol_ms IS NOT NULL
     ORDER BY joined_at, user_id";

/// Appends entries, skipping any award the ledger holds already (its partial unique index: one
/// award per team, member and kind; a correction is never skipped). Returns the entries
/// appended, in `entries` order.
async fn insert_entries(
    tx: &mut Transaction<'_, Db>,
    entries: &[NewEntry],
    now: Timestamp,
) -> StoreResult<Vec<LedgerEntry>> {
    let rows: Vec<(LedgerId, &NewEntry)> = entries.iter().map(|e| (LedgerId::new(), e)).collect();
    let order: HashMap<Uuid, usize> = rows.iter().enumerate().map(|(i, r)| (r.0 .0, i)).collect();
    let created_at = to_millis(now);
    let mut credited = Vec::with_capacity(rows.len());
    for chunk in shaped_chunks(&rows) {
        let mut qb = QueryBuilder::<Db>::new(format!("INSERT INTO ledger ({LEDGER_COLS}) "));
        qb.push_values(chunk, |mut b, (id, e)| {
            b.push_bind(id.0)
                .push_bind(e.user_id.0)
                .push_bind(e.kind.as_str())
                .push_bind(e.amount)
                .push_bind(e.reason.as_str())
                .push_bind(e.team_id.map(|t| t.0))
                .push_bind(e.source.as_str())
                .push_bind(e.created_by.map(|u| u.0))
                .push_bind(created_at);
        });
        // the conflict target names the partial unique index, WHERE clause included (SQLite
        // ≥ 3.35 and PostgreSQL both accept this form)
        qb.push(
            " ON CONFLICT (team_id, user_id, kind) WHERE source = 'award' DO NOTHING RETURNING ",
        );
        qb.push(LEDGER_COLS);
        for row in qb
            .build_query_as::<LedgerRow>()
            .fetch_all(&mut **tx)
            .await?
        {
            credited.push(LedgerEntry::try_from(row)?);
        }
    }
    // RETURNING does not promise the order of the VALUES
    credited.sort_by_key(|e| order.get(&e.id.0).copied().unwrap_or(usize::MAX));
    Ok(credited)
}

#[async_trait]
impl LedgerStore for SqlStore {
    async fn finish_team(
        &self,
        team_id: TeamId,
        by: Option<UserId>,
        outcomes: &[MemberOutcome],
        now: Timestamp,
    ) -> StoreResult<FinishOutcome> {
        let mut tx = self.begin_write().await?;
        let mut team = team_by_id(&mut *tx, team_id, true).await?;
        if team.state == TeamState::Finished {
            let members = sqlx::query_as::<_, OutcomeRow>(OUTCOMES_SQL)
                .bind(team_id.0)
                .fetch_all(&mut *tx)
                .await?;
            tx.rollback().await?;
            return Ok(FinishOutcome {
                team,
                members: members.into_iter().map(MemberOutcome::from).collect(),
                credited: Vec::new(),
                already_finished: true,
            });
        }
        let task = task_by_id(&mut *tx, team.task_id, false).await?;
        team.check_finish(by, &task, now)?;

        let members: Vec<MemberOutcome> = member_ids(&mut tx, team_id)
            .await?
            .into_iter()
            .map(|m| {
                outcomes
                    .iter()
                    .find(|o| o.user_id == m)
                    .copied()
                    .unwrap_or(MemberOutcome {
                        user_id: m,
                        patrol_ms: 0,
                        qualified: false,
                    })
            })
            .collect();
        end_team(&mut tx, team_id, TeamState::Finished, now).await?;
        // at most team_max (≤ 10) members: one statement each
        for m in &members {
            sqlx::query(
                "UPDATE team_members SET patrol_ms = $3, qualified = $4, is_current = 0
                 WHERE team_id = $1 AND user_id = $2",
            )
            .bind(team_id.0)
            .bind(m.user_id.0)
            .bind(m.patrol_ms)
            .bind(m.qualified)
            .execute(&mut *tx)
            .await?;
        }
        let awards: Vec<NewEntry> = members
            .iter()
            .filter(|m| m.qualified)
            .flat_map(|m| ledger::awards(&task, team_id, m.user_id))
            .collect();
        let credited = insert_entries(&mut tx, &awards, now).await?;
        tx.commit().await?;

        team.state = TeamState::Finished;
        team.finished_at = Some(now);
        Ok(FinishOutcome {
            team,
            members,
            credited,
            already_finished: false,
        })
    }

    async fn team_outcomes(&self, team: TeamId) -> StoreResult<Vec<MemberOutcome>> {
        let rows = sqlx::query_as::<_, OutcomeRow>(OUTCOMES_SQL)
            .bind(team.0)
            .fetch_all(&self.read)
            .await?;
        Ok(rows.into_iter().map(MemberOutcome::from).collect())
    }

    async fn add_correction(&self, e: &NewEntry, now: Timestamp) -> StoreResult<LedgerEntry> {
        if e.source != LedgerSource::Correction {
            return Err(DomainError::invalid(
                "invalid_source",
                "only corrections are added by hand; awards come from finishing a patrol",
            )
            .into());
        }
        let mut tx = self.begin_write().await?;
        sqlx::query_scalar::<_, Uuid>("SELECT id FROM users WHERE id = $1")
            .bind(e.user_id.0)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound("user"))?;
        let entry = insert_entries(&mut tx, std::slice::from_ref(e), now)
            .await?
            .pop()
            .ok_or_else(|| StoreError::Other(anyhow::anyhow!("the correction was not appended")))?;
        tx.commit().await?;
        Ok(entry)
    }

    async fn wallet(&self, user: UserId, limit: u32) -> StoreResult<Wallet> {
        // one read transaction, so the balances and the entries agree
        let mut tx = self.read.begin().await?;
        let balances = sqlx::query_as::<_, BalancesRow>(
            "SELECT CAST(COALESCE(SUM(CASE WHEN kind = 'points' THEN amount ELSE 0 END), 0) AS BIGINT) AS points,
                    CAST(COALESCE(SUM(CASE WHEN kind = 'fund' THEN amount ELSE 0 END), 0) AS BIGINT) AS fund_cents
             FROM ledger WHERE user_id = $1",
        )
        .bind(user.0)
        .fetch_one(&mut *tx)
        .await?;
        let rows = sqlx::query_as::<_, LedgerRow>(&format!(
            "SELECT {LEDGER_COLS} FROM ledger WHERE user_id = $1
             ORDER BY created_at DESC, id DESC LIMIT $2"
        ))
        .bind(user.0)
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Wallet {
            points: balances.points,
            fund_cents: balances.fund_cents,
            entries: rows
                .into_iter()
                .map(LedgerEntry::try_from)
                .collect::<StoreResult<_>>()?,
        })
    }

    async fn leaderboard(
        &self,
        from: Timestamp,
        to: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<LeaderRow>> {
        let rows = sqlx::query_as::<_, LeaderRowRow>(
            "SELECT p.user_id, u.name, p.points, CAST(COALESCE(t.patrol_ms, 0) AS BIGINT) AS patrol_ms
             FROM (SELECT user_id, CAST(SUM(amount) AS BIGINT) AS points FROM ledger
                   WHERE kind = 'points' AND created_at >= $1 AND created_at < $2
                   GROUP BY user_id HAVING SUM(amount) > 0) p
             JOIN users u ON u.id = p.user_id
             LEFT JOIN (SELECT m.user_id, CAST(SUM(m.patrol_ms) AS BIGINT) AS patrol_ms
                        FROM team_members m JOIN teams f ON f.id = m.team_id
                        WHERE f.state = 'finished' AND f.finished_at >= $1 AND f.finished_at < $2
                          AND m.patrol_ms IS NOT NULL
                        GROUP BY m.user_id) t ON t.user_id = p.user_id
             ORDER BY p.points DESC, COALESCE(t.patrol_ms, 0) DESC, p.user_id
             LIMIT $3",
        )
        .bind(to_millis(from))
        .bind(to_millis(to))
        .bind(i64::from(limit))
        .fetch_all(&self.read)
        .await?;
        Ok(rows.into_iter().map(LeaderRow::from).collect())
    }

    async fn overdue_teams(&self, now: Timestamp) -> StoreResult<Vec<TeamId>> {
        let ids: Vec<Uuid> = sqlx::query_scalar(
            "SELECT t.id FROM teams t JOIN tasks k ON k.id = t.task_id
             WHERE t.state = 'active' AND k.ends_at <= $1
             ORDER BY k.ends_at, t.id",
        )
        .bind(to_millis(now))
        .fetch_all(&self.read)
        .await?;
        Ok(ids.into_iter().map(TeamId).collect())
    }
}
