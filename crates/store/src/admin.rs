//! Departments, the routing of incident categories to them, and server settings: the
//! [`AdminStore`] trait, what it hands back, and the rows they are read from.

use crate::decode::corrupt;
use crate::{StoreError, StoreResult};
use async_trait::async_trait;
use pp_domain::incident::Category;
use pp_domain::time::{from_millis, Timestamp};
use pp_domain::{DepartmentId, UserId};
use uuid::Uuid;

/// Departments and server settings.
#[async_trait]
pub trait AdminStore: Send + Sync {
    /// All departments, by code.
    async fn departments(&self) -> StoreResult<Vec<Department>>;
    /// Adds a department (`Conflict("department_exists")` when the code is taken).
    async fn create_department(
        &self,
        code: &str,
        name_zh: &str,
        name_en: &str,
        now: Timestamp,
    ) -> StoreResult<Department>;
    /// The routing rule of every category, in the order of `Category::ALL`.
    async fn routing(&self) -> StoreResult<Vec<RoutingRule>>;
    /// Sets the department of each category in `rules` (others keep theirs), all or nothing:
    /// `Domain(unknown_department)` when one names no department. Returns every rule after it.
    async fn set_routing(
        &self,
        rules: &[(Category, String)],
        by: UserId,
        now: Timestamp,
    ) -> StoreResult<Vec<RoutingRule>>;
    /// The stored value of a secret named `key`, storing `fresh` first when there is none, so
    /// every node of a cluster signs with the same key.
    async fn secret(&self, key: &str, fresh: &[u8]) -> StoreResult<Vec<u8>>;
}

/// A department incidents are routed to.
#[derive(Debug, Clone, PartialEq)]
pub struct Department {
    /// id
    pub id: DepartmentId,
    /// stable code, e.g. `public_security`
    pub code: String,
    /// Chinese name
    pub name_zh: String,
    /// English name
    pub name_en: String,
}

/// Which department a category goes to.
#[derive(Debug, Clone, PartialEq)]
pub struct RoutingRule {
    /// the category
    pub category: pp_domain::incident::Category,
    /// the department's code
    pub department: String,
    /// when it was last set (the epoch for the seeded default)
    pub updated_at: pp_domain::time::Timestamp,
    /// the admin who set it
    pub updated_by: Option<UserId>,
}

// How they are stored: the rows read back, and what they decode into.

#[derive(sqlx::FromRow)]
pub(crate) struct DepartmentRow {
    id: Uuid,
    code: String,
    name_zh: String,
    name_en: String,
}

impl From<DepartmentRow> for Department {
    fn from(r: DepartmentRow) -> Department {
        Department {
            id: DepartmentId(r.id),
            code: r.code,
            name_zh: r.name_zh,
            name_en: r.name_en,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct RoutingRow {
    category: String,
    department: String,
    updated_at: i64,
    updated_by: Option<Uuid>,
}

impl TryFrom<RoutingRow> for RoutingRule {
    type Error = StoreError;
    fn try_from(r: RoutingRow) -> StoreResult<Self> {
        Ok(RoutingRule {
            category: Category::parse(&r.category).map_err(|e| corrupt("category", e))?,
            department: r.department,
            updated_at: from_millis(r.updated_at),
            updated_by: r.updated_by.map(UserId),
        })
    }
}
