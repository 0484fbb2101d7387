//! District statistics counted from the stored records (compiled with the rest of `sql/`, once
//! per backend). Every count of a period is read in one transaction, so the figures agree with
//! each other even while envoys keep writing.

use super::{SqlStore, KIND};
use crate::{DbKind, StatsStore, StoreResult};
use async_trait::async_trait;
use pp_domain::heat::HOUR_MS;
use pp_domain::stats::Tally;
use pp_domain::time::{to_millis, Timestamp};
use std::collections::{BTreeMap, HashMap, HashSet};
use uuid::Uuid;

/// A member of a team at the team's start.
type MemberAtStart = (Uuid, Uuid, Option<i64>, Option<bool>);

#[async_trait]
impl StatsStore for SqlStore {
    async fn stats_tally(&self, from: Timestamp, to: Timestamp) -> StoreResult<Tally> {
        let (from_ms, to_ms) = (to_millis(from), to_millis(to));
        let mut tx = self.read.begin().await?;
        if KIND == DbKind::Postgres {
            // one snapshot for every statement below (SQLite's read transaction is one already)
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                .execute(&mut *tx)
                .await?;
        }
        let mut tally = Tally::default();

        let tasks: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM tasks WHERE created_at >= $1 AND created_at < $2",
        )
        .bind(from_ms)
        .bind(to_ms)
        .fetch_one(&mut *tx)
        .await?;
        tally.tasks_published = u64::try_from(tasks).unwrap_or(0);

        // the members of each team started in the period, as they were at its start
        let members: Vec<MemberAtStart> = sqlx::query_as(
            "SELECT m.team_id, m.user_id, m.patrol_ms, m.qualified
             FROM teams t JOIN team_members m ON m.team_id = t.id
             WHERE t.started_at >= $1 AND t.started_at < $2
               AND m.joined_at <= t.started_at
               AND (m.left_at IS NULL OR m.left_at > t.started_at)",
        )
        .bind(from_ms)
        .bind(to_ms)
        .fetch_all(&mut *tx)
        .await?;
        let mut sizes: HashMap<Uuid, u32> = HashMap::new();
        let mut participants = HashSet::new();
        let mut qualified = HashSet::new();
        for (team, user, patrol_ms, ok) in members {
            *sizes.entry(team).or_insert(0) += 1;
            participants.insert(user);
            tally.patrol_ms += patrol_ms.unwrap_or(0);
            if ok == Some(true) {
                qualified.insert(user);
            }
        }
        tally.team_sizes = sizes.into_values().collect();
        tally.team_sizes.sort_unstable();
        tally.participants = participants.len() as u64;
        tally.qualified_members = qualified.len() as u64;

        let awards: Vec<(String, i64)> = sqlx::query_as(
            "SELECT kind, CAST(SUM(amount) AS BIGINT) FROM ledger
             WHERE source = 'award' AND created_at >= $1 AND created_at < $2
             GROUP BY kind",
        )
        .bind(from_ms)
        .bind(to_ms)
        .fetch_all(&mut *tx)
        .await?;
        for (kind, sum) in awards {
            match kind.as_str() {
                "points" => tally.points_awarded = sum,
                _ => tally.fund_awarded_cents = sum,
            }
        }

        let incidents: Vec<(String, String, i64, Option<i64>)> = sqlx::query_as(
            "SELECT category, status, created_at, closed_at FROM incidents
             WHERE created_at >= $1 AND created_at < $2",
        )
        .bind(from_ms)
        .bind(to_ms)
        .fetch_all(&mut *tx)
        .await?;
        let mut by_category = BTreeMap::new();
        let mut by_status = BTreeMap::new();
        for (category, status, created, closed) in incidents {
            *by_category.entry(category).or_insert(0) += 1;
            if let (Some(closed), "resolved") = (closed, status.as_str()) {
                tally.resolve_ms.push(closed - created);
            }
            *by_status.entry(status).or_insert(0) += 1;
        }
        tally.incidents_by_category = by_category;
        tally.incidents_by_status = by_status;

        let dispatches: Vec<(i64, Option<i64>, Option<i64>)> = sqlx::query_as(
            "SELECT d.created_at,
                    (SELECT MIN(r.answered_at) FROM dispatch_recipients r
                     WHERE r.dispatch_id = d.id AND r.state IN ('accepted', 'arrived')),
                    (SELECT MIN(r.arrived_at) FROM dispatch_recipients r
                     WHERE r.dispatch_id = d.id)
             FROM dispatches d WHERE d.created_at >= $1 AND d.created_at < $2",
        )
        .bind(from_ms)
        .bind(to_ms)
        .fetch_all(&mut *tx)
        .await?;
        tally.dispatches = dispatches.len() as u64;
        for (created, accepted, arrived) in dispatches {
            tally.first_accept_ms.extend(accepted.map(|a| a - created));
            tally.first_arrival_ms.extend(arrived.map(|a| a - created));
        }

        // every hour the period overlaps
        let first_hour = from_ms.div_euclid(HOUR_MS);
        let end_hour = (to_ms + HOUR_MS - 1).div_euclid(HOUR_MS);
        let active: i64 = sqlx::query_scalar(
            "SELECT COUNT(DISTINCT user_id) FROM heat WHERE hour >= $1 AND hour < $2",
        )
        .bind(first_hour)
        .bind(end_hour)
        .fetch_one(&mut *tx)
        .await?;
        tally.envoys_active = u64::try_from(active).unwrap_or(0);

        let registered: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM users WHERE role = 'envoy' AND created_at < $1",
        )
        .bind(to_ms)
        .fetch_one(&mut *tx)
        .await?;
        tally.envoys_registered = u64::try_from(registered).unwrap_or(0);

        tx.rollback().await?;
        Ok(tally)
    }
}
