//! Named sets of leads.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::{AsExec, Db, Result, now, sql};

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct List {
    pub id: i64,
    pub client_id: i64,
    pub name: String,
    pub description: Option<String>,
    pub lead_count: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const SELECT: &str = "SELECT l.id, l.client_id, l.name, l.description, \
    (SELECT COUNT(*) FROM leads WHERE leads.list_id = l.id AND leads.client_id = l.client_id \
     AND leads.deleted_at IS NULL) AS lead_count, \
    l.created_at, l.updated_at FROM lists l";

pub async fn create(
    ex: &mut impl AsExec,
    client_id: i64,
    name: &str,
    description: Option<&str>,
) -> Result<List> {
    let (id,) = sql(
        "INSERT INTO lists (client_id, name, description, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $4) RETURNING id",
    )
    .arg(client_id)
    .arg(name.trim())
    .arg(description)
    .arg(now())
    .fetch_one::<(i64,)>(ex)
    .await?;
    get_in(ex, client_id, id)
        .await?
        .ok_or(crate::StoreError::NotFound)
}

/// The id of the list named `name`, created when missing.
pub async fn ensure(ex: &mut impl AsExec, client_id: i64, name: &str) -> Result<i64> {
    let name = name.trim();
    sql(
        "INSERT INTO lists (client_id, name, created_at, updated_at) VALUES ($1, $2, $3, $3) \
         ON CONFLICT (client_id, name) DO NOTHING",
    )
    .arg(client_id)
    .arg(name)
    .arg(now())
    .execute(ex)
    .await?;
    Ok(
        sql("SELECT id FROM lists WHERE client_id = $1 AND name = $2")
            .arg(client_id)
            .arg(name)
            .fetch_one::<(i64,)>(ex)
            .await?
            .0,
    )
}

async fn get_in(ex: &mut impl AsExec, client_id: i64, id: i64) -> Result<Option<List>> {
    sql(&format!("{SELECT} WHERE l.client_id = $1 AND l.id = $2"))
        .arg(client_id)
        .arg(id)
        .fetch_optional(ex)
        .await
}

pub async fn get(db: &Db, client_id: i64, id: i64) -> Result<Option<List>> {
    get_in(&mut db.read().await?, client_id, id).await
}

pub async fn list(db: &Db, client_id: i64) -> Result<Vec<List>> {
    db.fetch_all(sql(&format!("{SELECT} WHERE l.client_id = $1 ORDER BY l.id")).arg(client_id))
        .await
}

pub async fn update(
    ex: &mut impl AsExec,
    client_id: i64,
    id: i64,
    name: Option<&str>,
    description: Option<Option<&str>>,
) -> Result<Option<List>> {
    let mut q = sql("UPDATE lists SET updated_at = $1").arg(now());
    if let Some(n) = name {
        q.push(", name = ").push_arg(n.trim());
    }
    if let Some(d) = description {
        q.push(", description = ").push_arg(d);
    }
    q.push(" WHERE client_id = ")
        .push_arg(client_id)
        .push(" AND id = ")
        .push_arg(id);
    if q.execute(ex).await? == 0 {
        return Ok(None);
    }
    get_in(ex, client_id, id).await
}

/// Delete a list; its leads stay, without a list.
pub async fn delete(ex: &mut impl AsExec, client_id: i64, id: i64) -> Result<bool> {
    sql("UPDATE leads SET list_id = NULL WHERE client_id = $1 AND list_id = $2")
        .arg(client_id)
        .arg(id)
        .execute(ex)
        .await?;
    Ok(sql("DELETE FROM lists WHERE client_id = $1 AND id = $2")
        .arg(client_id)
        .arg(id)
        .execute(ex)
        .await?
        == 1)
}
