//! Incident reports and their timelines: the [`IncidentStore`] (compiled with the rest of
//! `sql/`, once per backend; the routing rules a report follows are `admin.rs`'s).

use super::admin::check_department;
use super::{not_found, push_in, Db, SqlStore};
use crate::incidents::{IncidentRow, TimelineRow};
use crate::{
    IncidentChange, IncidentFilter, IncidentStore, IncidentView, StoreError, StoreResult,
    TimelineView,
};
use async_trait::async_trait;
use pp_domain::incident::{Actor, Incident, NewIncident, TimelineEntry};
use pp_domain::time::{to_millis, Timestamp};
use pp_domain::{IncidentId, UserId};
use sqlx::{QueryBuilder, Transaction};

const INCIDENTS: &str =
    "SELECT i.id, i.reporter_id, u.name AS reporter_name, i.category, i.description, i.lat, i.lng,
        i.team_id, i.department, i.status, i.photos, i.media_url, i.created_at, i.updated_at,
        i.acknowledged_at, i.closed_at
     FROM incidents i JOIN users u ON u.id = i.reporter_id";

async fn incident_in(tx: &mut Transaction<'_, Db>, id: IncidentId) -> StoreResult<IncidentView> {
    let sql = format!("{INCIDENTS} WHERE i.id = $1");
    let mut view: IncidentView = sqlx::query_as::<_, IncidentRow>(&sql)
        .bind(id.0)
        .fetch_one(&mut **tx)
        .await
        .map_err(not_found("incident"))?
        .try_into()?;
    view.timeline = timeline_in(tx, id).await?;
    Ok(view)
}

/// Locks the report's row (on PostgreSQL; SQLite has one writer), so that two changes of one
/// report take turns.
async fn lock_incident(tx: &mut Transaction<'_, Db>, id: IncidentId) -> StoreResult<()> {
    sqlx::query_scalar::<_, uuid::Uuid>(locked!("SELECT id FROM incidents WHERE id = $1"))
        .bind(id.0)
        .fetch_one(&mut **tx)
        .await
        .map_err(not_found("incident"))?;
    Ok(())
}

async fn timeline_in(
    tx: &mut Transaction<'_, Db>,
    id: IncidentId,
) -> StoreResult<Vec<TimelineView>> {
    sqlx::query_as::<_, TimelineRow>(
        "SELECT e.at, e.actor_id, u.name AS actor_name, e.kind, e.status, e.department, e.note
         FROM incident_events e JOIN users u ON u.id = e.actor_id
         WHERE e.incident_id = $1 ORDER BY e.seq",
    )
    .bind(id.0)
    .fetch_all(&mut **tx)
    .await?
    .into_iter()
    .map(TimelineView::try_from)
    .collect()
}

async fn append_entry(
    tx: &mut Transaction<'_, Db>,
    id: IncidentId,
    e: &TimelineEntry,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO incident_events (incident_id, seq, at, actor_id, kind, status, department, note)
         VALUES ($1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM incident_events WHERE incident_id = $1),
                 $2, $3, $4, $5, $6, $7)",
    )
    .bind(id.0)
    .bind(to_millis(e.at))
    .bind(e.actor.0)
    .bind(e.kind.as_str())
    .bind(e.status.as_str())
    .bind(&e.department)
    .bind(&e.note)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[async_trait]
impl IncidentStore for SqlStore {
    async fn report_incident(
        &self,
        reporter: UserId,
        new: &NewIncident<'_>,
        now: Timestamp,
    ) -> StoreResult<IncidentView> {
        let mut tx = self.begin_write().await?;
        let department: String =
            sqlx::query_scalar("SELECT department FROM routing WHERE category = $1")
                .bind(new.category.code())
                .fetch_optional(&mut *tx)
                .await?
                .unwrap_or_else(|| new.category.default_department().to_owned());
        if let Some(team) = new.team_id {
            let (teams, memberships): (i64, i64) = sqlx::query_as(
                "SELECT (SELECT COUNT(*) FROM teams WHERE id = $1),
                        (SELECT COUNT(*) FROM team_members WHERE team_id = $1 AND user_id = $2)",
            )
            .bind(team.0)
            .bind(reporter.0)
            .fetch_one(&mut *tx)
            .await?;
            if teams == 0 {
                return Err(StoreError::NotFound("team"));
            }
            pp_domain::incident::check_team(memberships > 0)?;
        }
        let (i, entry) = Incident::report(reporter, new.clone(), &department, now)?;
        sqlx::query(
            "INSERT INTO incidents (id, reporter_id, category, description, lat, lng, team_id, department, status,
                 photos, media_url, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(i.id.0)
        .bind(i.reporter.0)
        .bind(i.category.code())
        .bind(&i.description)
        .bind(i.at.lat)
        .bind(i.at.lng)
        .bind(i.team_id.map(|t| t.0))
        .bind(&i.department)
        .bind(i.status.as_str())
        .bind(i.photos.join(" "))
        .bind(&i.media_url)
        .bind(to_millis(i.created_at))
        .bind(to_millis(i.updated_at))
        .execute(&mut *tx)
        .await
        .map_err(|e| match e {
            // the reporter's row is gone (a foreign key): nothing else refers out
            sqlx::Error::Database(d) if d.is_foreign_key_violation() => StoreError::NotFound("user"),
            other => other.into(),
        })?;
        append_entry(&mut tx, i.id, &entry).await?;
        let view = incident_in(&mut tx, i.id).await?;
        tx.commit().await?;
        Ok(view)
    }

    async fn incident(&self, id: IncidentId) -> StoreResult<IncidentView> {
        let mut tx = self.read.begin().await?;
        let view = incident_in(&mut tx, id).await?;
        tx.commit().await?;
        Ok(view)
    }

    async fn incidents(&self, f: &IncidentFilter) -> StoreResult<Vec<IncidentView>> {
        let mut qb = QueryBuilder::<Db>::new(INCIDENTS);
        qb.push(" WHERE 1 = 1");
        let any_of = |qb: &mut QueryBuilder<'_, Db>, column: &str, values: Vec<String>| {
            if values.is_empty() {
                return;
            }
            qb.push(format!(" AND {column}"));
            push_in(qb, values);
        };
        any_of(
            &mut qb,
            "i.status",
            f.statuses.iter().map(|s| s.as_str().to_owned()).collect(),
        );
        any_of(
            &mut qb,
            "i.category",
            f.categories.iter().map(|c| c.code().to_owned()).collect(),
        );
        if !f.ids.is_empty() {
            qb.push(" AND i.id");
            push_in(&mut qb, f.ids.iter().map(|id| id.0));
        }
        if let Some(d) = &f.department {
            qb.push(" AND i.department = ").push_bind(d.clone());
        }
        if let Some(r) = f.reporter {
            qb.push(" AND i.reporter_id = ").push_bind(r.0);
        }
        if let Some(b) = f.bbox {
            qb.push(" AND i.lat >= ").push_bind(b.min_lat);
            qb.push(" AND i.lat <= ").push_bind(b.max_lat);
            qb.push(" AND i.lng >= ").push_bind(b.min_lng);
            qb.push(" AND i.lng <= ").push_bind(b.max_lng);
        }
        if let Some(from) = f.from {
            qb.push(" AND i.created_at >= ").push_bind(to_millis(from));
        }
        if let Some(to) = f.to {
            qb.push(" AND i.created_at < ").push_bind(to_millis(to));
        }
        qb.push(" ORDER BY i.created_at DESC, i.id DESC LIMIT ")
            .push_bind(i64::from(f.limit.max(1)));
        qb.build_query_as::<IncidentRow>()
            .fetch_all(&self.read)
            .await?
            .into_iter()
            .map(IncidentView::try_from)
            .collect()
    }

    async fn update_incident(
        &self,
        id: IncidentId,
        actor: &Actor<'_>,
        change: &IncidentChange,
        note: &str,
        now: Timestamp,
    ) -> StoreResult<(IncidentView, Option<TimelineEntry>)> {
        let mut tx = self.begin_write().await?;
        lock_incident(&mut tx, id).await?;
        let mut view = incident_in(&mut tx, id).await?;
        if !view.incident.may_see(actor) {
            return Err(StoreError::NotFound("incident"));
        }
        let i = &mut view.incident;
        let entry = match change {
            IncidentChange::Status(to) => Some(i.change_status(actor, *to, note, now)?),
            IncidentChange::Reroute(department) => {
                let entry = i.reroute(actor, department, note, now)?;
                if entry.is_some() {
                    check_department(&mut tx, department).await?;
                }
                entry
            }
        };
        let Some(entry) = entry else {
            return Ok((view, None));
        };
        sqlx::query(
            "UPDATE incidents SET department = $2, status = $3, updated_at = $4, acknowledged_at = $5,
                 closed_at = $6
             WHERE id = $1",
        )
        .bind(id.0)
        .bind(&i.department)
        .bind(i.status.as_str())
        .bind(to_millis(i.updated_at))
        .bind(i.acknowledged_at.map(to_millis))
        .bind(i.closed_at.map(to_millis))
        .execute(&mut *tx)
        .await?;
        append_entry(&mut tx, id, &entry).await?;
        view.timeline = timeline_in(&mut tx, id).await?;
        tx.commit().await?;
        Ok((view, Some(entry)))
    }
}
