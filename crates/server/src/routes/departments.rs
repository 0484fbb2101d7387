//! Departments (the offices incidents go to) and the routing rules category → department.

use crate::error::{ApiResult, Created, ErrorBody};
use crate::extract::{ApiJson, AuthUser};
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use pp_domain::incident::{department_code, department_name, Category};
use pp_domain::{DepartmentId, Role, UserId};
use pp_store::{Department, RoutingRule};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(routing, set_routing))
}

/// A department.
#[derive(Debug, Serialize, ToSchema)]
pub struct DepartmentBody {
    /// id
    pub id: DepartmentId,
    /// stable code, e.g. `sanitation`
    pub code: String,
    /// Chinese name
    pub name_zh: String,
    /// English name
    pub name_en: String,
}

impl From<Department> for DepartmentBody {
    fn from(d: Department) -> Self {
        DepartmentBody {
            id: d.id,
            code: d.code,
            name_zh: d.name_zh,
            name_en: d.name_en,
        }
    }
}

/// `GET /departments`.
#[derive(Debug, Serialize, ToSchema)]
pub struct DepartmentList {
    /// by code
    pub departments: Vec<DepartmentBody>,
}

/// The departments incidents are routed to, by code (anyone signed in).
#[utoipa::path(
    get,
    path = "/departments",
    tag = "incidents",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Departments", body = DepartmentList),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    _auth: AuthUser,
) -> ApiResult<Json<DepartmentList>> {
    let departments = state
        .store
        .departments()
        .await?
        .into_iter()
        .map(DepartmentBody::from)
        .collect();
    Ok(Json(DepartmentList { departments }))
}

/// `POST /departments` body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewDepartment {
    /// stable code: 2 to 40 of a-z, 0-9 and `_`, starting with a letter
    pub code: String,
    /// Chinese name (1 to 100 characters)
    pub name_zh: String,
    /// English name (1 to 100 characters)
    pub name_en: String,
}

/// Add a department (admin); staff accounts and routing rules may then name it.
#[utoipa::path(
    post,
    path = "/departments",
    tag = "incidents",
    security(("bearer" = [])),
    request_body = NewDepartment,
    responses(
        (status = 201, description = "The department", body = DepartmentBody),
        (status = 400, description = "`invalid_department_code`, `invalid_department_name`, `invalid_json`, `invalid_body`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`wrong_role`", body = ErrorBody),
        (status = 409, description = "`department_exists`", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, err(level = "info"), fields(user = %auth.user.id))]
pub async fn create(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiJson(body): ApiJson<NewDepartment>,
) -> ApiResult<Created<DepartmentBody>> {
    auth.require(&[Role::Admin])?;
    let code = department_code(&body.code)?;
    let name_zh = department_name("name_zh", &body.name_zh)?;
    let name_en = department_name("name_en", &body.name_en)?;
    let d = state
        .store
        .create_department(&code, &name_zh, &name_en, state.clock.now())
        .await?;
    Ok(Created(d.into()))
}

/// Where one category goes.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RuleBody {
    /// the category (Open311 `service_code`)
    pub category: Category,
    /// the department's code
    pub department: String,
    /// the category's name in Chinese (in answers)
    #[serde(default, skip_deserializing)]
    pub name_zh: String,
    /// the category's name in English (in answers)
    #[serde(default, skip_deserializing)]
    pub name_en: String,
    /// when it was last set (in answers)
    #[serde(default, skip_deserializing)]
    pub updated_at: Option<DateTime<Utc>>,
    /// the admin who set it (in answers; none for the default)
    #[serde(default, skip_deserializing)]
    pub updated_by: Option<UserId>,
}

impl From<RoutingRule> for RuleBody {
    fn from(r: RoutingRule) -> Self {
        let (zh, en) = r.category.names();
        RuleBody {
            category: r.category,
            department: r.department,
            name_zh: zh.to_owned(),
            name_en: en.to_owned(),
            updated_at: Some(r.updated_at),
            updated_by: r.updated_by,
        }
    }
}

/// `GET /routing`, `PUT /routing`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Routing {
    /// one rule per category (a `PUT` may send only those it changes)
    pub rules: Vec<RuleBody>,
}

/// The categories reporters choose from, each with the department it goes to (anyone
/// signed in: the report form lists them).
#[utoipa::path(
    get,
    path = "/routing",
    tag = "incidents",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every category and its department", body = Routing),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
    )
)]
pub async fn routing(State(state): State<AppState>, _auth: AuthUser) -> ApiResult<Json<Routing>> {
    let rules = state
        .store
        .routing()
        .await?
        .into_iter()
        .map(RuleBody::from)
        .collect();
    Ok(Json(Routing { rules }))
}

/// Change where categories go (admin): the rules sent replace those of their categories, all
/// or none; reports filed from then on follow them (filed ones stay where they are).
#[utoipa::path(
    put,
    path = "/routing",
    tag = "incidents",
    security(("bearer" = [])),
    request_body = Routing,
    responses(
        (status = 200, description = "Every category and its department, after the change", body = Routing),
        (status = 400, description = "`unknown_department`, `duplicate_category`, `invalid_json`, `invalid_body`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`wrong_role`", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, err(level = "info"), fields(user = %auth.user.id))]
pub async fn set_routing(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiJson(body): ApiJson<Routing>,
) -> ApiResult<Json<Routing>> {
    auth.require(&[Role::Admin])?;
    let mut rules: Vec<(Category, String)> = Vec::with_capacity(body.rules.len());
    for r in body.rules {
        if rules.iter().any(|(c, _)| *c == r.category) {
            return Err(crate::error::ApiError::bad_request(
                "duplicate_category",
                format!("{} is named twice", r.category.code()),
            ));
        }
        rules.push((r.category, r.department.trim().to_owned()));
    }
    let rules = state
        .store
        .set_routing(&rules, auth.user.id, state.clock.now())
        .await?
        .into_iter()
        .map(RuleBody::from)
        .collect();
    Ok(Json(Routing { rules }))
}
