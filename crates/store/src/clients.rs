//! Clients (tenants).

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::{AsExec, Db, Result, now, sql};

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Client {
    pub id: i64,
    pub name: String,
    pub max_concurrent_calls: i64,
    pub timezone: Option<String>,
    pub is_active: bool,
    #[serde(serialize_with = "crate::api_time::serialize")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "crate::api_time::serialize")]
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, name, max_concurrent_calls, timezone, is_active, created_at, updated_at";

/// A client's own cap on live calls (0 for an unknown client).
pub async fn max_concurrent(ex: &mut impl AsExec, client_id: i64) -> Result<i64> {
    let row: Option<(i64,)> = sql("SELECT max_concurrent_calls FROM clients WHERE id = $1")
        .arg(client_id)
        .fetch_optional(ex)
        .await?;
    Ok(row.map(|r| r.0).unwrap_or(0))
}

pub async fn create(
    ex: &mut impl AsExec,
    name: &str,
    max_concurrent_calls: i64,
    timezone: Option<&str>,
) -> Result<Client> {
    let t = now();
    sql(&format!(
        "INSERT INTO clients (name, max_concurrent_calls, timezone, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $4) RETURNING {COLUMNS}"
    ))
    .arg(name)
    .arg(max_concurrent_calls)
    .arg(timezone)
    .arg(t)
    .fetch_one(ex)
    .await
}

pub async fn get(db: &Db, id: i64) -> Result<Option<Client>> {
    db.fetch_optional(sql(&format!("SELECT {COLUMNS} FROM clients WHERE id = $1")).arg(id))
        .await
}

pub async fn list(db: &Db) -> Result<Vec<Client>> {
    db.fetch_all(sql(&format!("SELECT {COLUMNS} FROM clients ORDER BY id")))
        .await
}

/// The first client's id (the default one, made at first start), if there is any client.
pub async fn first_id(ex: &mut impl AsExec) -> Result<Option<i64>> {
    let found: Option<(i64,)> = sql("SELECT id FROM clients ORDER BY id LIMIT 1")
        .fetch_optional(ex)
        .await?;
    Ok(found.map(|(id,)| id))
}

pub async fn count(db: &Db) -> Result<i64> {
    Ok(db
        .fetch_one::<(i64,)>(sql("SELECT COUNT(*) FROM clients"))
        .await?
        .0)
}
