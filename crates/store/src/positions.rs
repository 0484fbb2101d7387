//! Envoy positions and the heat map's aggregates: the [`PositionStore`] trait, what it takes
//! and hands back, and the rows they are read from.

use crate::decode::lat_lng;
use crate::{StoreError, StoreResult};
use async_trait::async_trait;
use pp_domain::position::Position;
use pp_domain::time::{from_millis, Timestamp};
use pp_domain::UserId;
use uuid::Uuid;

/// Envoy positions: the raw track, and each envoy's latest point for the live index.
#[async_trait]
pub trait PositionStore: Send + Sync {
    /// Appends every batch in ONE transaction (the ingest pipeline's group commit), keeping one
    /// point per envoy and `ts` (a point already stored is left as it is), and moves each
    /// envoy's latest unflagged point forward, and adds each new unflagged point to its heat
    /// map aggregate ([`HeatRow`]). Returns, per batch and per point, whether the
    /// point was new. When it returns `Ok` the points are committed.
    async fn append_positions(&self, batches: &[PositionBatch]) -> StoreResult<Vec<Vec<bool>>>;
    /// The heat map's aggregates of the hours `first..=last` (hours since the Unix epoch), in
    /// hour order: each new unflagged point appended adds one visit to its row in the same
    /// transaction. Never purged with the raw positions.
    async fn heat_rows(&self, first: i64, last: i64) -> StoreResult<Vec<HeatRow>>;
    /// The first and last hour that have aggregates (`None` when there are none).
    async fn heat_hours(&self) -> StoreResult<Option<(i64, i64)>>;
    /// Every envoy's latest unflagged point at or after `since` (to rebuild the live index).
    async fn latest_positions(&self, since: Timestamp) -> StoreResult<Vec<LatestPosition>>;
    /// The points of several envoys (a team's members) with `from <= ts <= until`, in one
    /// query: per envoy, ascending, flagged ones included; an envoy without points is absent.
    async fn tracks(
        &self,
        users: &[UserId],
        from: Timestamp,
        until: Timestamp,
    ) -> StoreResult<std::collections::HashMap<UserId, Vec<pp_domain::position::Position>>>;
    /// One envoy's points with `from <= ts <= until`, ascending, flagged ones included.
    async fn positions(
        &self,
        user: UserId,
        from: Timestamp,
        until: Timestamp,
    ) -> StoreResult<Vec<pp_domain::position::Position>> {
        let mut tracks = self.tracks(&[user], from, until).await?;
        Ok(tracks.remove(&user).unwrap_or_default())
    }
    /// One step of the retention sweep: deletes the points older than `before` of the next
    /// `users` envoys (by id) after `after` (`None`: from the first), each step one short
    /// transaction so that ingest is never held up for long. The latest points of the live
    /// index stay. A sweep starts with `after: None` and goes on with the step's `next` until
    /// that is `None`.
    async fn purge_positions(
        &self,
        before: Timestamp,
        after: Option<UserId>,
        users: u32,
    ) -> StoreResult<PurgeStep>;
}

/// One envoy's validated points to append (ascending, distinct `ts`), each with its H3 cells
/// for the heat map's aggregates.
#[derive(Debug, Clone, PartialEq)]
pub struct PositionBatch {
    /// whose points
    pub user: UserId,
    /// the points, WGS-84, ascending `ts`, no two with the same `ts`
    points: Vec<pp_domain::position::Position>,
    /// `cells[i]` holds `points[i]` (made by [`PositionBatch::new`], so they cannot disagree)
    cells: Vec<pp_geo::cells::Cells>,
}

impl PositionBatch {
    /// A batch of `user`'s points, binned into their heat map cells.
    pub fn new(user: UserId, points: Vec<pp_domain::position::Position>) -> PositionBatch {
        let cells = points
            .iter()
            .map(|p| pp_geo::cells::Cells::of(p.at))
            .collect();
        PositionBatch {
            user,
            points,
            cells,
        }
    }

    /// The points.
    pub fn points(&self) -> &[pp_domain::position::Position] {
        &self.points
    }

    /// The heat map cells of each point, in the order of `points`.
    pub fn cells(&self) -> &[pp_geo::cells::Cells] {
        &self.cells
    }
}

/// An envoy's latest unflagged position, as the live index holds it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatestPosition {
    /// whose
    pub user: UserId,
    /// the point (its `ts` is when the envoy was last seen)
    pub position: pp_domain::position::Position,
}

/// What one step of the retention sweep did ([`crate::PositionStore::purge_positions`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PurgeStep {
    /// points deleted
    pub deleted: u64,
    /// the last envoy swept when more may follow (the next step's `after`); `None` when the
    /// sweep has reached the end
    pub next: Option<UserId>,
}

// How they are stored: the rows read back, and what they decode into.

/// One envoy's footprint in one H3 cell combination and hour: the heat map's stored aggregate.
/// A point counts in one row (its cells at every resolution and its hour); `visits` is how many
/// unflagged points of the envoy fell there. Distinct envoys of a cell are the distinct users
/// of its rows, so they stay exact over any sum of hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeatRow {
    /// hours since the Unix epoch
    pub hour: i64,
    /// the point's cells, res 7 to 10
    pub cells: pp_geo::cells::Cells,
    /// whose
    pub user: UserId,
    /// unflagged points
    pub visits: u32,
}

/// A key `INSERT … RETURNING` hands back for a point that was new.
#[derive(sqlx::FromRow)]
pub(crate) struct PositionKeyRow {
    pub user_id: Uuid,
    pub ts: i64,
}

/// A heat map aggregate row.
#[derive(sqlx::FromRow)]
pub(crate) struct HeatRowRow {
    pub hour: i64,
    pub r7: i64,
    pub r8: i64,
    pub r9: i64,
    pub r10: i64,
    pub user_id: Uuid,
    pub visits: i64,
}

impl From<HeatRowRow> for HeatRow {
    fn from(r: HeatRowRow) -> HeatRow {
        // H3 indexes use 63 bits, so they are stored as signed 64-bit integers unchanged
        let cell = |c: i64| c as u64;
        HeatRow {
            hour: r.hour,
            cells: pp_geo::cells::Cells([cell(r.r7), cell(r.r8), cell(r.r9), cell(r.r10)]),
            user: pp_domain::UserId(r.user_id),
            visits: u32::try_from(r.visits).unwrap_or(u32::MAX),
        }
    }
}

/// An envoy's point: of its track, or its latest (selected with `FALSE AS flagged`).
#[derive(sqlx::FromRow)]
pub(crate) struct TrackRow {
    pub user_id: Uuid,
    #[sqlx(flatten)]
    pub point: PositionRow,
}

impl TryFrom<TrackRow> for LatestPosition {
    type Error = StoreError;
    fn try_from(r: TrackRow) -> StoreResult<LatestPosition> {
        Ok(LatestPosition {
            user: UserId(r.user_id),
            position: Position::try_from(r.point)?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct PositionRow {
    ts: i64,
    lat: f64,
    lng: f64,
    accuracy_m: f64,
    flagged: bool,
}

impl TryFrom<PositionRow> for Position {
    type Error = StoreError;
    fn try_from(r: PositionRow) -> StoreResult<Position> {
        Ok(Position {
            ts: from_millis(r.ts),
            at: lat_lng(r.lat, r.lng)?,
            accuracy_m: r.accuracy_m,
            flagged: r.flagged,
        })
    }
}
