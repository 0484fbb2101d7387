//! Appending positions on PostgreSQL: multi-row statements, a round trip per table and chunk.

use crate::append::{heat_visits, latest_rows, PointRow};
use crate::chunks::shaped_chunks;
use crate::positions::PositionKeyRow;
use crate::StoreResult;
use sqlx::query_builder::Separated;
use sqlx::{PgPool, Postgres as Db, QueryBuilder, Transaction};
use std::collections::HashSet;
use uuid::Uuid;

/// The pool position appends go through (the store's one pool).
#[derive(Debug, Clone)]
pub(crate) struct Appender(pub(super) PgPool);

impl Appender {
    /// Appends `rows` (distinct keys, in key order) with each envoy's latest point and the heat
    /// rows, in one transaction; says for each row whether it was new.
    pub(crate) async fn append_rows(&self, rows: &[PointRow<'_>]) -> StoreResult<Vec<bool>> {
        // Usually every point is new (a retry of a stored batch is rare): insert and count.
        // When fewer went in than were sent, some were stored already; then the call is done
        // again, finding out with RETURNING which points it inserts.
        let mut tx = self.0.begin().await?;
        let (inserted, _) = insert_points(&mut tx, rows, false).await?;
        let new: Vec<bool> = if inserted == rows.len() as u64 {
            vec![true; rows.len()]
        } else {
            tx.rollback().await?;
            tx = self.0.begin().await?;
            let (_, keys) = insert_points(&mut tx, rows, true).await?;
            rows.iter()
                .map(|r| keys.contains(&(r.user, r.ts)))
                .collect()
        };
        for chunk in shaped_chunks(&latest_rows(rows, &new)) {
            let mut qb = QueryBuilder::<Db>::new(
                "INSERT INTO latest_positions (user_id, ts, lat, lng, accuracy_m) ",
            );
            qb.push_values(chunk, |mut b, r| bind_point(&mut b, r));
            qb.push(
                " ON CONFLICT (user_id) DO UPDATE SET ts = excluded.ts, lat = excluded.lat,
                    lng = excluded.lng, accuracy_m = excluded.accuracy_m
                  WHERE excluded.ts > latest_positions.ts",
            );
            qb.build().execute(&mut *tx).await?;
        }
        for chunk in shaped_chunks(&heat_visits(rows, &new)) {
            let mut qb = QueryBuilder::<Db>::new(
                "INSERT INTO heat (hour, r10, r9, r8, r7, user_id, visits) ",
            );
            qb.push_values(chunk, |mut b, ((hour, cells, user), n)| {
                // H3 indexes use 63 bits: stored as signed 64-bit integers unchanged
                let [r7, r8, r9, r10] = cells.0.map(|c| c as i64);
                b.push_bind(*hour)
                    .push_bind(r10)
                    .push_bind(r9)
                    .push_bind(r8)
                    .push_bind(r7)
                    .push_bind(*user)
                    .push_bind(*n);
            });
            qb.push(
                " ON CONFLICT (hour, r10, r9, r8, r7, user_id)
                  DO UPDATE SET visits = heat.visits + excluded.visits",
            );
            qb.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(new)
    }
}

/// Inserts the points (distinct keys), skipping those stored already. With `returning` it
/// collects the keys of the points it inserted; without, it only counts them.
async fn insert_points(
    tx: &mut Transaction<'_, Db>,
    rows: &[PointRow<'_>],
    returning: bool,
) -> StoreResult<(u64, HashSet<(Uuid, i64)>)> {
    let mut inserted = 0;
    let mut keys = HashSet::new();
    for chunk in shaped_chunks(rows) {
        let mut qb = QueryBuilder::<Db>::new(
            "INSERT INTO positions (user_id, ts, lat, lng, accuracy_m, flagged) ",
        );
        qb.push_values(chunk, |mut b, r| {
            bind_point(&mut b, r);
            b.push_bind(r.point.flagged);
        });
        qb.push(" ON CONFLICT (user_id, ts) DO NOTHING");
        if returning {
            qb.push(" RETURNING user_id, ts");
            let new = qb
                .build_query_as::<PositionKeyRow>()
                .fetch_all(&mut **tx)
                .await?;
            inserted += new.len() as u64;
            keys.extend(new.into_iter().map(|k| (k.user_id, k.ts)));
        } else {
            inserted += qb.build().execute(&mut **tx).await?.rows_affected();
        }
    }
    Ok((inserted, keys))
}

/// Binds a point's `user_id, ts, lat, lng, accuracy_m`, the columns `positions` and
/// `latest_positions` share.
fn bind_point(b: &mut Separated<'_, '_, Db, &'static str>, r: &PointRow<'_>) {
    b.push_bind(r.user)
        .push_bind(r.ts)
        .push_bind(r.point.at.lat)
        .push_bind(r.point.at.lng)
        .push_bind(r.point.accuracy_m);
}
