//! Departments, the routing of incident categories to them, and server settings: the
//! [`AdminStore`], and the department check incident re-routing shares (compiled with the rest
//! of `sql/`, once per backend).

use super::{conflict_on_unique, Db, SqlStore};
use crate::admin::{DepartmentRow, RoutingRow};
use crate::{AdminStore, Department, RoutingRule, StoreResult};
use async_trait::async_trait;
use pp_domain::incident::Category;
use pp_domain::time::{to_millis, Timestamp};
use pp_domain::{DepartmentId, DomainError, UserId};
use sqlx::Transaction;

/// `Domain(unknown_department)` unless a department has the code.
pub(super) async fn check_department(tx: &mut Transaction<'_, Db>, code: &str) -> StoreResult<()> {
    let known: Option<String> = sqlx::query_scalar("SELECT code FROM departments WHERE code = $1")
        .bind(code)
        .fetch_optional(&mut **tx)
        .await?;
    match known {
        Some(_) => Ok(()),
        None => Err(DomainError::invalid(
            "unknown_department",
            format!("no department has the code {code:?}"),
        )
        .into()),
    }
}

#[async_trait]
impl AdminStore for SqlStore {
    async fn departments(&self) -> StoreResult<Vec<Department>> {
        let rows = sqlx::query_as::<_, DepartmentRow>(
            "SELECT id, code, name_zh, name_en FROM departments ORDER BY code",
        )
        .fetch_all(&self.read)
        .await?;
        Ok(rows.into_iter().map(Department::from).collect())
    }

    async fn create_department(
        &self,
        code: &str,
        name_zh: &str,
        name_en: &str,
        now: Timestamp,
    ) -> StoreResult<Department> {
        sqlx::query_as::<_, DepartmentRow>(
            "INSERT INTO departments (id, code, name_zh, name_en, created_at) VALUES ($1, $2, $3, $4, $5)
             RETURNING id, code, name_zh, name_en",
        )
        .bind(DepartmentId::new().0)
        .bind(code)
        .bind(name_zh)
        .bind(name_en)
        .bind(to_millis(now))
        .fetch_one(&self.write)
        .await
        .map(Department::from)
        .map_err(conflict_on_unique("department_exists"))
    }

    async fn routing(&self) -> StoreResult<Vec<RoutingRule>> {
        let rows: Vec<RoutingRow> =
            sqlx::query_as("SELECT category, department, updated_at, updated_by FROM routing")
                .fetch_all(&self.read)
                .await?;
        let mut rules = rows
            .into_iter()
            .map(RoutingRule::try_from)
            .collect::<StoreResult<Vec<_>>>()?;
        rules.sort_by_key(|r| Category::ALL.iter().position(|c| *c == r.category));
        Ok(rules)
    }

    async fn set_routing(
        &self,
        rules: &[(Category, String)],
        by: UserId,
        now: Timestamp,
    ) -> StoreResult<Vec<RoutingRule>> {
        let mut tx = self.begin_write().await?;
        for (category, department) in rules {
            check_department(&mut tx, department).await?;
            sqlx::query(
                "INSERT INTO routing (category, department, updated_at, updated_by) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (category) DO UPDATE SET department = $2, updated_at = $3, updated_by = $4",
            )
            .bind(category.code())
            .bind(department)
            .bind(to_millis(now))
            .bind(by.0)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        self.routing().await
    }

    async fn secret(&self, key: &str, fresh: &[u8]) -> StoreResult<Vec<u8>> {
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
        )
        .bind(key)
        .bind(fresh)
        .execute(&self.write)
        .await?;
        Ok(
            sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
                .bind(key)
                .fetch_one(&self.write)
                .await?,
        )
    }
}
