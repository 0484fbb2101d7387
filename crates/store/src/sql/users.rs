//! Accounts, sessions, availability for dispatch and the bulk onboarding of envoys: the
//! [`UserStore`] (compiled with the rest of `sql/`, once per backend).

use super::{conflict_on_unique, not_found, push_in, Db, SqlStore};
use crate::chunks::shaped_chunks;
use crate::users::{CredentialsRow, UserRow};
use crate::{Activation, ImportOutcome, PendingEnvoy, StoreError, StoreResult, User, UserStore};
use async_trait::async_trait;
use pp_domain::account::{NewUser, Phone};
use pp_domain::time::{to_millis, Timestamp};
use pp_domain::{DomainError, UserId};
use sqlx::QueryBuilder;
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

const USER_COLS: &str = "id, phone, name, role, department, created_at";

/// The head of a multi-row insert of accounts without a department (bulk and imported ones).
const INSERT_USERS: &str = "INSERT INTO users (id, phone, name, role, password_hash, created_at) ";

/// Rows of one import transaction: large enough that 100,000 rows take a few dozen commits,
/// small enough that other writers wait a few milliseconds for each.
const IMPORT_BATCH_ROWS: usize = 4096;

#[async_trait]
impl UserStore for SqlStore {
    async fn create_user(&self, u: &NewUser, now: Timestamp) -> StoreResult<User> {
        let mut tx = self.begin_write().await?;
        let department = match &u.department {
            None => None,
            Some(d) => Some(
                sqlx::query_scalar::<_, String>(
                    "SELECT code FROM departments WHERE code = $1 OR name_en = $1 OR name_zh = $1",
                )
                .bind(d)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or_else(|| {
                    DomainError::invalid(
                        "unknown_department",
                        format!("no department is called {d:?}"),
                    )
                })?,
            ),
        };
        let id = UserId::new();
        let row = sqlx::query_as::<_, UserRow>(&format!(
            "INSERT INTO users (id, phone, name, role, department, password_hash, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             RETURNING {USER_COLS}"
        ))
        .bind(id.0)
        .bind(u.phone.as_str())
        .bind(&u.name)
        .bind(u.role.as_str())
        .bind(department)
        .bind(&u.password_hash)
        .bind(to_millis(now))
        .fetch_one(&mut *tx)
        .await
        .map_err(conflict_on_unique("phone_taken"))?;
        tx.commit().await?;
        row.try_into()
    }

    async fn user(&self, id: UserId) -> StoreResult<User> {
        sqlx::query_as::<_, UserRow>(&format!("SELECT {USER_COLS} FROM users WHERE id = $1"))
            .bind(id.0)
            .fetch_one(&self.read)
            .await
            .map_err(not_found("user"))?
            .try_into()
    }

    async fn user_credentials(&self, phone: &Phone) -> StoreResult<Option<(User, String)>> {
        let row = sqlx::query_as::<_, CredentialsRow>(&format!(
            "SELECT {USER_COLS}, password_hash FROM users WHERE phone = $1"
        ))
        .bind(phone.as_str())
        .fetch_optional(&self.read)
        .await?;
        row.map(|r| Ok((r.user.try_into()?, r.password_hash)))
            .transpose()
    }

    async fn create_session(
        &self,
        token_hash: &[u8],
        user: UserId,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> StoreResult<()> {
        sqlx::query("INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(token_hash)
            .bind(user.0)
            .bind(to_millis(now))
            .bind(to_millis(expires_at))
            .execute(&self.write)
            .await?;
        Ok(())
    }

    async fn session_user(&self, token_hash: &[u8], now: Timestamp) -> StoreResult<Option<User>> {
        let row = sqlx::query_as::<_, UserRow>(
            "SELECT u.id, u.phone, u.name, u.role, u.department, u.created_at
             FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.token_hash = $1 AND s.expires_at > $2",
        )
        .bind(token_hash)
        .bind(to_millis(now))
        .fetch_optional(&self.read)
        .await?;
        row.map(User::try_from).transpose()
    }

    async fn delete_session(&self, token_hash: &[u8]) -> StoreResult<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    async fn purge_sessions(&self, now: Timestamp) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM sessions WHERE expires_at < $1")
            .bind(to_millis(now))
            .execute(&self.write)
            .await?;
        Ok(done.rows_affected())
    }

    async fn set_available(&self, user: UserId, available: bool) -> StoreResult<()> {
        let done = sqlx::query("UPDATE users SET available = $1 WHERE id = $2")
            .bind(available)
            .bind(user.0)
            .execute(&self.write)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("user"));
        }
        Ok(())
    }

    async fn unavailable_users(&self) -> StoreResult<Vec<UserId>> {
        let ids: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM users WHERE NOT available")
            .fetch_all(&self.read)
            .await?;
        Ok(ids.into_iter().map(UserId).collect())
    }

    async fn create_users_bulk(&self, users: &[NewUser], now: Timestamp) -> StoreResult<u64> {
        if users.iter().any(|u| u.department.is_some()) {
            return Err(DomainError::invalid(
                "department_not_allowed",
                "accounts made in bulk belong to no department: create staff accounts one by one",
            )
            .into());
        }
        if users.is_empty() {
            return Ok(0);
        }
        let created_at = to_millis(now);
        let mut tx = self.begin_write().await?;
        let mut created = 0;
        for chunk in shaped_chunks(users) {
            let mut qb = QueryBuilder::<Db>::new(INSERT_USERS);
            qb.push_values(chunk, |mut b, u| {
                b.push_bind(UserId::new().0)
                    .push_bind(u.phone.as_str())
                    .push_bind(u.name.as_str())
                    .push_bind(u.role.as_str())
                    .push_bind(u.password_hash.as_str())
                    .push_bind(created_at);
            });
            qb.push(" ON CONFLICT (phone) DO NOTHING");
            created += qb.build().execute(&mut *tx).await?.rows_affected();
        }
        tx.commit().await?;
        Ok(created)
    }

    async fn user_ids_by_phone(&self, phones: &[Phone]) -> StoreResult<Vec<(Phone, UserId)>> {
        let mut found: HashMap<String, Uuid> = HashMap::with_capacity(phones.len());
        for chunk in shaped_chunks(phones) {
            let mut qb = QueryBuilder::<Db>::new("SELECT phone, id FROM users WHERE phone");
            push_in(&mut qb, chunk.iter().map(Phone::as_str));
            let rows: Vec<(String, Uuid)> = qb.build_query_as().fetch_all(&self.read).await?;
            found.extend(rows);
        }
        // in the order asked, each phone once
        Ok(phones
            .iter()
            .filter_map(|p| found.remove(p.as_str()).map(|id| (p.clone(), UserId(id))))
            .collect())
    }

    async fn import_envoys(
        &self,
        rows: &[PendingEnvoy],
        expires_at: Timestamp,
        now: Timestamp,
    ) -> StoreResult<Vec<ImportOutcome>> {
        let created_at = to_millis(now);
        let expires_at = to_millis(expires_at);
        let mut outcomes = Vec::with_capacity(rows.len());
        for batch in rows.chunks(IMPORT_BATCH_ROWS) {
            let mut tx = self.begin_write().await?;
            // the accounts some rows name already, with their password hash (empty: pending)
            let mut existing: HashMap<String, (Uuid, String)> = HashMap::new();
            for chunk in shaped_chunks(batch) {
                let mut qb = QueryBuilder::<Db>::new(
                    "SELECT phone, id, password_hash FROM users WHERE phone",
                );
                push_in(&mut qb, chunk.iter().map(|r| r.phone.as_str()));
                let found: Vec<(String, Uuid, String)> =
                    qb.build_query_as().fetch_all(&mut *tx).await?;
                existing.extend(found.into_iter().map(|(p, id, h)| (p, (id, h))));
            }
            let fresh: Vec<(Uuid, &PendingEnvoy)> = batch
                .iter()
                .filter(|r| !existing.contains_key(r.phone.as_str()))
                .map(|r| (UserId::new().0, r))
                .collect();
            let mut inserted: HashSet<Uuid> = HashSet::with_capacity(fresh.len());
            for chunk in shaped_chunks(&fresh) {
                let mut qb = QueryBuilder::<Db>::new(INSERT_USERS);
                qb.push_values(chunk, |mut b, (id, r)| {
                    b.push_bind(*id)
                        .push_bind(r.phone.as_str())
                        .push_bind(r.name.as_str())
                        .push_bind("envoy")
                        .push_bind("")
                        .push_bind(created_at);
                });
                // a phone registered meanwhile (another node) is skipped and reported taken
                qb.push(" ON CONFLICT (phone) DO NOTHING RETURNING id");
                let ids: Vec<Uuid> = qb.build_query_scalar().fetch_all(&mut *tx).await?;
                inserted.extend(ids);
            }
            let mut codes: Vec<(Uuid, &[u8])> = Vec::with_capacity(batch.len());
            let mut fresh_ids = fresh.iter();
            for r in batch {
                let outcome = match existing.get(r.phone.as_str()) {
                    Some((id, hash)) if hash.is_empty() => {
                        codes.push((*id, &r.code_hash));
                        ImportOutcome::Reissued
                    }
                    Some(_) => ImportOutcome::Taken,
                    None => {
                        let id = fresh_ids.next().map(|f| f.0).unwrap_or_default();
                        if inserted.contains(&id) {
                            codes.push((id, &r.code_hash));
                            ImportOutcome::Created
                        } else {
                            ImportOutcome::Taken
                        }
                    }
                };
                outcomes.push(outcome);
            }
            for chunk in shaped_chunks(&codes) {
                let mut qb = QueryBuilder::<Db>::new(
                    "INSERT INTO activations (user_id, code_hash, expires_at, attempts, created_at) ",
                );
                qb.push_values(chunk, |mut b, (id, hash)| {
                    b.push_bind(*id)
                        .push_bind(*hash)
                        .push_bind(expires_at)
                        .push_bind(0i32)
                        .push_bind(created_at);
                });
                qb.push(
                    " ON CONFLICT (user_id) DO UPDATE SET code_hash = excluded.code_hash,
                      expires_at = excluded.expires_at, attempts = 0,
                      created_at = excluded.created_at",
                );
                qb.build().execute(&mut *tx).await?;
            }
            tx.commit().await?;
        }
        Ok(outcomes)
    }

    async fn activate(
        &self,
        phone: &Phone,
        code_hash: &[u8],
        password_hash: &str,
        max_attempts: i32,
        now: Timestamp,
    ) -> StoreResult<Activation> {
        let mut tx = self.begin_write().await?;
        // the user row's lock serialises activations of one account (PostgreSQL; SQLite has
        // one writer)
        let Some((id, hash)) = sqlx::query_as::<_, (Uuid, String)>(locked!(
            "SELECT id, password_hash FROM users WHERE phone = $1"
        ))
        .bind(phone.as_str())
        .fetch_optional(&mut *tx)
        .await?
        else {
            return Ok(Activation::WrongCode);
        };
        let pending = sqlx::query_as::<_, (Vec<u8>, i64, i32)>(locked!(
            "SELECT code_hash, expires_at, attempts FROM activations WHERE user_id = $1"
        ))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((stored, expires_at, attempts)) = pending else {
            return Ok(if hash.is_empty() {
                Activation::Locked
            } else {
                Activation::AlreadyActive
            });
        };
        if attempts >= max_attempts {
            return Ok(Activation::Locked);
        }
        if expires_at <= to_millis(now) {
            return Ok(Activation::Expired);
        }
        if stored != code_hash {
            sqlx::query("UPDATE activations SET attempts = attempts + 1 WHERE user_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            return Ok(Activation::WrongCode);
        }
        sqlx::query("DELETE FROM activations WHERE user_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let row = sqlx::query_as::<_, UserRow>(&format!(
            "UPDATE users SET password_hash = $1 WHERE id = $2 AND password_hash = ''
             RETURNING {USER_COLS}"
        ))
        .bind(password_hash)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(Activation::AlreadyActive);
        };
        tx.commit().await?;
        Ok(Activation::Activated(row.try_into()?))
    }
}
