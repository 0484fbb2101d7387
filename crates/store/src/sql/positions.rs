//! Envoy positions: the [`PositionStore`], the raw track, each envoy's latest point for the
//! live index and the heat map's hourly aggregates (compiled with the rest of `sql/`, once per
//! backend). The append itself is each backend's own (`Appender::append_rows`, in
//! `sqlite/positions.rs` and `postgres/positions.rs`), over rows `crate::append` prepares alike
//! for both.

use super::{push_in, Db, SqlStore};
use crate::append::{fresh_points, point_rows};
use crate::chunks::shaped_chunks;
use crate::positions::{HeatRowRow, TrackRow};
use crate::{HeatRow, LatestPosition, PositionBatch, PositionStore, PurgeStep, StoreResult};
use async_trait::async_trait;
use pp_domain::position::Position;
use pp_domain::time::{to_millis, Timestamp};
use pp_domain::UserId;
use sqlx::QueryBuilder;
use std::collections::HashMap;
use uuid::Uuid;

#[async_trait]
impl PositionStore for SqlStore {
    async fn append_positions(&self, batches: &[PositionBatch]) -> StoreResult<Vec<Vec<bool>>> {
        let rows = point_rows(batches);
        // In ONE transaction: the points (skipping those stored already), each envoy's latest
        // point and the heat rows; each backend in its fastest way (see `Appender::append_rows`
        // in `sqlite/positions.rs` and `postgres/positions.rs`).
        let new = if rows.is_empty() {
            Vec::new()
        } else {
            self.appender.append_rows(&rows).await?
        };
        Ok(fresh_points(batches, &rows, &new))
    }

    async fn heat_rows(&self, first: i64, last: i64) -> StoreResult<Vec<HeatRow>> {
        let rows: Vec<HeatRowRow> = sqlx::query_as(
            "SELECT hour, r7, r8, r9, r10, user_id, visits FROM heat
             WHERE hour >= $1 AND hour <= $2 ORDER BY hour, r10, r9, r8, r7, user_id",
        )
        .bind(first)
        .bind(last)
        .fetch_all(&self.read)
        .await?;
        Ok(rows.into_iter().map(HeatRow::from).collect())
    }

    async fn heat_hours(&self) -> StoreResult<Option<(i64, i64)>> {
        let (first, last): (Option<i64>, Option<i64>) =
            sqlx::query_as("SELECT MIN(hour), MAX(hour) FROM heat")
                .fetch_one(&self.read)
                .await?;
        Ok(first.zip(last))
    }

    async fn latest_positions(&self, since: Timestamp) -> StoreResult<Vec<LatestPosition>> {
        let rows = sqlx::query_as::<_, TrackRow>(
            "SELECT user_id, ts, lat, lng, accuracy_m, FALSE AS flagged FROM latest_positions
             WHERE ts >= $1 ORDER BY user_id",
        )
        .bind(to_millis(since))
        .fetch_all(&self.read)
        .await?;
        rows.into_iter().map(LatestPosition::try_from).collect()
    }

    async fn tracks(
        &self,
        users: &[UserId],
        from: Timestamp,
        until: Timestamp,
    ) -> StoreResult<HashMap<UserId, Vec<Position>>> {
        let mut tracks: HashMap<UserId, Vec<Position>> = HashMap::with_capacity(users.len());
        for chunk in shaped_chunks(users) {
            let mut qb = QueryBuilder::<Db>::new(
                "SELECT user_id, ts, lat, lng, accuracy_m, flagged FROM positions WHERE ts >= ",
            );
            qb.push_bind(to_millis(from));
            qb.push(" AND ts <= ");
            qb.push_bind(to_millis(until));
            qb.push(" AND user_id");
            push_in(&mut qb, chunk.iter().map(|u| u.0));
            qb.push(" ORDER BY user_id, ts");
            let rows: Vec<TrackRow> = qb.build_query_as().fetch_all(&self.read).await?;
            for r in rows {
                tracks
                    .entry(UserId(r.user_id))
                    .or_default()
                    .push(Position::try_from(r.point)?);
            }
        }
        Ok(tracks)
    }

    async fn purge_positions(
        &self,
        before: Timestamp,
        after: Option<UserId>,
        users: u32,
    ) -> StoreResult<PurgeStep> {
        // The next `users` envoys that have points, in id order, each found by one seek of the
        // primary key (a skip scan; no index on ts is kept: it would cost every append a second
        // B-tree insert at a random place), then each one's old points by a range of the key.
        let ids: Vec<Uuid> = sqlx::query_scalar(
            "WITH RECURSIVE envoy (id, n) AS (
                SELECT (SELECT user_id FROM positions WHERE user_id > $1 ORDER BY user_id LIMIT 1), 1
                UNION ALL
                SELECT (SELECT user_id FROM positions WHERE user_id > envoy.id ORDER BY user_id LIMIT 1),
                       n + 1
                FROM envoy WHERE envoy.id IS NOT NULL AND n < $2
             )
             SELECT id FROM envoy WHERE id IS NOT NULL",
        )
        .bind(after.map_or(Uuid::nil(), |u| u.0))
        .bind(i64::from(users))
        .fetch_all(&self.read)
        .await?;
        let mut deleted = 0;
        if !ids.is_empty() {
            let mut tx = self.begin_write().await?;
            for chunk in shaped_chunks(&ids) {
                let mut qb = QueryBuilder::<Db>::new("DELETE FROM positions WHERE ts < ");
                qb.push_bind(to_millis(before));
                qb.push(" AND user_id");
                push_in(&mut qb, chunk.iter().copied());
                deleted += qb.build().execute(&mut *tx).await?.rows_affected();
            }
            tx.commit().await?;
        }
        Ok(PurgeStep {
            deleted,
            next: if ids.len() < users as usize {
                None
            } else {
                ids.last().copied().map(UserId)
            },
        })
    }
}
