//! Dispatches and their recipients (compiled with the rest of `sql/`, once per backend).

use super::{not_found, push_in, Db, SqlStore};
use crate::dispatches::{DispatchRow, RecipientRow};
use crate::{
    Alerted, DispatchFilter, DispatchStore, DispatchView, RecipientView, StoreError, StoreResult,
};
use async_trait::async_trait;
use pp_domain::dispatch::{Dispatch, Recipient};
use pp_domain::time::{to_millis, Timestamp};
use pp_domain::{DispatchId, UserId};
use pp_geo::LatLng;
use sqlx::{QueryBuilder, Transaction};
use std::collections::HashMap;
use uuid::Uuid;

const RECIPIENTS: &str =
    "SELECT r.dispatch_id, r.user_id, u.name, r.state, r.distance_m, r.wave, r.notified_at, r.expires_at, r.answered_at, r.arrived_at
     FROM dispatch_recipients r JOIN users u ON u.id = r.user_id";
/// Recipients in the order they were alerted, nearest first within one alerting.
const RECIPIENT_ORDER: &str = " ORDER BY r.notified_at, r.distance_m, r.user_id";

async fn lock_dispatch(tx: &mut Transaction<'_, Db>, id: DispatchId) -> StoreResult<Dispatch> {
    sqlx::query_as::<_, DispatchRow>(locked!(
        "SELECT id, created_by, created_at, lat, lng, radius_m, needed, message, overfill, alert_timeout_ms,
                escalate_after_ms, max_radius_m, state, escalations, escalated_at, closed_at, closed_by
         FROM dispatches WHERE id = $1"
    ))
    .bind(id.0)
    .fetch_one(&mut **tx)
    .await
    .map_err(not_found("dispatch"))?
    .try_into()
}

async fn recipients_in(
    tx: &mut Transaction<'_, Db>,
    id: DispatchId,
) -> StoreResult<Vec<RecipientView>> {
    let sql = format!("{RECIPIENTS} WHERE r.dispatch_id = $1{RECIPIENT_ORDER}");
    sqlx::query_as::<_, RecipientRow>(&sql)
        .bind(id.0)
        .fetch_all(&mut **tx)
        .await?
        .into_iter()
        .map(RecipientView::try_from)
        .collect()
}

/// Locks the dispatch and reads it with its recipients.
async fn locked_view(tx: &mut Transaction<'_, Db>, id: DispatchId) -> StoreResult<DispatchView> {
    let dispatch = lock_dispatch(tx, id).await?;
    let recipients = recipients_in(tx, id).await?;
    Ok(DispatchView {
        dispatch,
        recipients,
    })
}

/// Stores a recipient's state after a domain transition.
async fn save_recipient(
    tx: &mut Transaction<'_, Db>,
    id: DispatchId,
    r: &Recipient,
    dispatch_open: bool,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE dispatch_recipients SET state = $3, engaged = $4, answered_at = $5, arrived_at = $6
         WHERE dispatch_id = $1 AND user_id = $2",
    )
    .bind(id.0)
    .bind(r.user.0)
    .bind(r.state.as_str())
    .bind(i64::from(dispatch_open && r.state.is_engaged()))
    .bind(r.answered_at.map(to_millis))
    .bind(r.arrived_at.map(to_millis))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Applies `change` to `user`'s alert of the locked dispatch and saves it; returns the view
/// after it and whether anything changed.
async fn change_recipient(
    store: &SqlStore,
    id: DispatchId,
    user: UserId,
    change: impl FnOnce(&mut Recipient, &Dispatch) -> pp_domain::DomainResult<bool>,
) -> StoreResult<(DispatchView, bool)> {
    let mut tx = store.begin_write().await?;
    let mut view = locked_view(&mut tx, id).await?;
    let DispatchView {
        dispatch,
        recipients,
    } = &mut view;
    let r = recipients
        .iter_mut()
        .map(|r| &mut r.recipient)
        .find(|r| r.user == user)
        .ok_or(StoreError::NotFound("alert"))?;
    let changed = change(r, dispatch)?;
    if changed {
        save_recipient(&mut tx, id, r, dispatch.state.is_open()).await?;
        tx.commit().await?;
    }
    Ok((view, changed))
}

#[async_trait]
impl DispatchStore for SqlStore {
    async fn create_dispatch(&self, d: &Dispatch) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO dispatches (id, created_by, created_at, lat, lng, radius_m, needed, message, overfill,
                 alert_timeout_ms, escalate_after_ms, max_radius_m, state, escalations, escalated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        )
        .bind(d.id.0)
        .bind(d.created_by.0)
        .bind(to_millis(d.created_at))
        .bind(d.at.lat)
        .bind(d.at.lng)
        .bind(d.radius_m)
        .bind(i64::from(d.needed))
        .bind(&d.message)
        .bind(i64::from(d.policy.overfill))
        .bind(d.policy.alert_timeout.num_milliseconds())
        .bind(d.policy.escalate_after.num_milliseconds())
        .bind(d.policy.max_radius_m)
        .bind(d.state.as_str())
        .bind(i64::from(d.escalations))
        .bind(to_millis(d.escalated_at))
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn dispatch(&self, id: DispatchId) -> StoreResult<DispatchView> {
        let mut found = self
            .dispatches_where(
                Some(id),
                &DispatchFilter {
                    limit: 1,
                    ..DispatchFilter::default()
                },
            )
            .await?;
        found.pop().ok_or(StoreError::NotFound("dispatch"))
    }

    async fn dispatches(&self, filter: &DispatchFilter) -> StoreResult<Vec<DispatchView>> {
        self.dispatches_where(None, filter).await
    }

    async fn alert_recipients(
        &self,
        id: DispatchId,
        candidates: &[(UserId, f64)],
        now: Timestamp,
    ) -> StoreResult<Alerted> {
        let mut tx = self.begin_write().await?;
        let mut view = locked_view(&mut tx, id).await?;
        let mut wanted = view.dispatch.wanted(&view.tally());
        let mut new = Vec::new();
        for &(user, distance_m) in candidates {
            if wanted == 0 {
                break;
            }
            let r = view.dispatch.alert(user, distance_m, now);
            // skipped when this dispatch alerted them before (the key) or another open one
            // holds them (the unique index of engaged envoys)
            let inserted = sqlx::query(
                "INSERT INTO dispatch_recipients (dispatch_id, user_id, state, engaged, distance_m, wave, notified_at, expires_at)
                 VALUES ($1, $2, $3, 1, $4, $5, $6, $7)
                 ON CONFLICT DO NOTHING",
            )
            .bind(id.0)
            .bind(user.0)
            .bind(r.state.as_str())
            .bind(r.distance_m)
            .bind(i64::from(r.wave))
            .bind(to_millis(r.notified_at))
            .bind(to_millis(r.expires_at))
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if inserted == 1 {
                new.push(r);
                wanted -= 1;
            }
        }
        if !new.is_empty() {
            view.recipients = recipients_in(&mut tx, id).await?;
            tx.commit().await?;
        }
        Ok(Alerted { view, new })
    }

    async fn respond_dispatch(
        &self,
        id: DispatchId,
        user: UserId,
        accept: bool,
        now: Timestamp,
    ) -> StoreResult<(DispatchView, bool)> {
        change_recipient(self, id, user, |r, d| r.respond(accept, d, now)).await
    }

    async fn arrive_dispatch(
        &self,
        id: DispatchId,
        user: UserId,
        at: Option<LatLng>,
        now: Timestamp,
    ) -> StoreResult<(DispatchView, bool)> {
        change_recipient(self, id, user, |r, d| r.arrive(d, at, now)).await
    }

    async fn close_dispatch(
        &self,
        id: DispatchId,
        by: UserId,
        now: Timestamp,
    ) -> StoreResult<DispatchView> {
        let mut tx = self.begin_write().await?;
        let mut view = locked_view(&mut tx, id).await?;
        view.dispatch.close(by, now)?;
        sqlx::query(
            "UPDATE dispatches SET state = $2, closed_at = $3, closed_by = $4 WHERE id = $1",
        )
        .bind(id.0)
        .bind(view.dispatch.state.as_str())
        .bind(to_millis(now))
        .bind(by.0)
        .execute(&mut *tx)
        .await?;
        for r in &mut view.recipients {
            r.recipient.expire(now);
        }
        sqlx::query(
            "UPDATE dispatch_recipients
             SET engaged = 0,
                 state = CASE WHEN state = 'notified' THEN 'expired' ELSE state END,
                 answered_at = CASE WHEN state = 'notified' THEN $2 ELSE answered_at END
             WHERE dispatch_id = $1",
        )
        .bind(id.0)
        .bind(to_millis(now))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(view)
    }

    async fn expire_alerts(&self, now: Timestamp) -> StoreResult<Vec<(DispatchId, UserId)>> {
        // the dispatches of open alerts are open: closing expires its alerts
        let rows: Vec<(Uuid, Uuid)> = sqlx::query_as(
            "UPDATE dispatch_recipients SET state = 'expired', engaged = 0, answered_at = $1
             WHERE state = 'notified' AND expires_at <= $1
             RETURNING dispatch_id, user_id",
        )
        .bind(to_millis(now))
        .fetch_all(&self.write)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(d, u)| (DispatchId(d), UserId(u)))
            .collect())
    }

    async fn escalate_dispatch(
        &self,
        id: DispatchId,
        now: Timestamp,
    ) -> StoreResult<Option<Dispatch>> {
        let mut tx = self.begin_write().await?;
        let mut view = locked_view(&mut tx, id).await?;
        let Some(radius_m) = view.dispatch.escalation_due(&view.tally(), now) else {
            return Ok(None);
        };
        view.dispatch.escalate(radius_m, now);
        sqlx::query(
            "UPDATE dispatches SET radius_m = $2, escalations = $3, escalated_at = $4 WHERE id = $1",
        )
        .bind(id.0)
        .bind(view.dispatch.radius_m)
        .bind(i64::from(view.dispatch.escalations))
        .bind(to_millis(view.dispatch.escalated_at))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(view.dispatch))
    }

    async fn engaged_envoys(&self) -> StoreResult<Vec<UserId>> {
        let ids: Vec<Uuid> =
            sqlx::query_scalar("SELECT user_id FROM dispatch_recipients WHERE engaged = 1")
                .fetch_all(&self.read)
                .await?;
        Ok(ids.into_iter().map(UserId).collect())
    }
}

impl SqlStore {
    /// Dispatches (`only` one, or as `filter` says), newest first, with their recipients.
    async fn dispatches_where(
        &self,
        only: Option<DispatchId>,
        filter: &DispatchFilter,
    ) -> StoreResult<Vec<DispatchView>> {
        let rows: Vec<DispatchRow> = sqlx::query_as(
            "SELECT id, created_by, created_at, lat, lng, radius_m, needed, message, overfill, alert_timeout_ms,
                    escalate_after_ms, max_radius_m, state, escalations, escalated_at, closed_at, closed_by
             FROM dispatches d
             WHERE ($1 = 0 OR d.id = $2)
               AND (CAST($3 AS TEXT) IS NULL OR d.state = $3)
               AND ($4 = 0 OR EXISTS (SELECT 1 FROM dispatch_recipients r WHERE r.dispatch_id = d.id AND r.user_id = $5))
             ORDER BY d.created_at DESC, d.id DESC
             LIMIT $6",
        )
        .bind(i64::from(only.is_some()))
        .bind(only.map_or(Uuid::nil(), |d| d.0))
        .bind(filter.state.map(|s| s.as_str()))
        .bind(i64::from(filter.recipient.is_some()))
        .bind(filter.recipient.map_or(Uuid::nil(), |u| u.0))
        .bind(i64::from(filter.limit.max(1)))
        .fetch_all(&self.read)
        .await?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let dispatches: Vec<Dispatch> = rows
            .into_iter()
            .map(Dispatch::try_from)
            .collect::<StoreResult<_>>()?;
        let mut qb = QueryBuilder::<Db>::new(RECIPIENTS);
        qb.push(" WHERE r.dispatch_id");
        push_in(&mut qb, dispatches.iter().map(|d| d.id.0));
        qb.push(RECIPIENT_ORDER);
        let mut by_dispatch: HashMap<Uuid, Vec<RecipientView>> = HashMap::new();
        for row in qb
            .build_query_as::<RecipientRow>()
            .fetch_all(&self.read)
            .await?
        {
            let key = row.dispatch_id;
            by_dispatch
                .entry(key)
                .or_default()
                .push(RecipientView::try_from(row)?);
        }
        Ok(dispatches
            .into_iter()
            .map(|dispatch| DispatchView {
                recipients: by_dispatch.remove(&dispatch.id.0).unwrap_or_default(),
                dispatch,
            })
            .collect())
    }
}
