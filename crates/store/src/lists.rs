//! Named sets of leads.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::{AsExec, Backend, Db, Result, StoreError, now, sql};

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct List {
    pub id: i64,
    pub client_id: i64,
    pub name: String,
    pub description: Option<String>,
    pub lead_count: i64,
    #[serde(serialize_with = "crate::api_time::serialize")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "crate::api_time::serialize")]
    pub updated_at: DateTime<Utc>,
}

const SELECT: &str = "SELECT l.id, l.client_id, l.name, l.description, \
    (SELECT COUNT(*) FROM leads WHERE leads.list_id = l.id AND leads.client_id = l.client_id \
     AND leads.deleted_at IS NULL) AS lead_count, \
    l.created_at, l.updated_at FROM lists l WHERE l.deleted_at IS NULL";

/// Leads cleared of a deleted list per transaction: about 25 ms of SQLite's write lock.
const CLEAR_BATCH: i64 = 10_000;

pub async fn create(
    ex: &mut impl AsExec,
    client_id: i64,
    name: &str,
    description: Option<&str>,
) -> Result<List> {
    name_not_being_deleted(ex, client_id, name.trim()).await?;
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
    let (id, deleting) =
        sql("SELECT id, deleted_at IS NOT NULL FROM lists WHERE client_id = $1 AND name = $2")
            .arg(client_id)
            .arg(name)
            .fetch_one::<(i64, bool)>(ex)
            .await?;
    if deleting {
        return Err(being_deleted(name));
    }
    Ok(id)
}

pub(crate) fn being_deleted(name: &str) -> StoreError {
    StoreError::Busy(format!(
        "the list '{name}' is being deleted; try again when it is gone"
    ))
}

/// A list being deleted keeps its name until it is gone: say so rather than "already exists".
async fn name_not_being_deleted(ex: &mut impl AsExec, client_id: i64, name: &str) -> Result<()> {
    let deleting =
        sql("SELECT 1 FROM lists WHERE client_id = $1 AND name = $2 AND deleted_at IS NOT NULL")
            .arg(client_id)
            .arg(name)
            .fetch_optional::<(i32,)>(ex)
            .await?;
    match deleting {
        Some(_) => Err(being_deleted(name)),
        None => Ok(()),
    }
}

async fn get_in(ex: &mut impl AsExec, client_id: i64, id: i64) -> Result<Option<List>> {
    sql(&format!("{SELECT} AND l.client_id = $1 AND l.id = $2"))
        .arg(client_id)
        .arg(id)
        .fetch_optional(ex)
        .await
}

pub async fn get(db: &Db, client_id: i64, id: i64) -> Result<Option<List>> {
    get_in(&mut db.read().await?, client_id, id).await
}

pub async fn list(db: &Db, client_id: i64) -> Result<Vec<List>> {
    db.fetch_all(sql(&format!("{SELECT} AND l.client_id = $1 ORDER BY l.id")).arg(client_id))
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
        .push_arg(id)
        .push(" AND deleted_at IS NULL");
    if let Some(n) = name {
        name_not_being_deleted(ex, client_id, n.trim()).await?;
    }
    if q.execute(ex).await? == 0 {
        return Ok(None);
    }
    get_in(ex, client_id, id).await
}

/// Delete a list; its leads stay, without a list. `false` when the client has no such list.
///
/// In steps, so no transaction holds every lead of a large list (on SQLite, the write lock;
/// on PostgreSQL, the leads' rows): the list is marked first, which hides it from every reader
/// and refuses new leads for it; then its leads are cleared of it a batch per transaction;
/// then the campaigns made from it forget it (they keep their contacts) and the row goes.
/// A server stopped on the way finishes with [`finish_deletions`].
pub async fn delete(db: &Db, client_id: i64, id: i64) -> Result<bool> {
    let mut tx = db.begin().await?;
    let marked = sql(
        "UPDATE lists SET deleted_at = $1 WHERE client_id = $2 AND id = $3 AND deleted_at IS NULL",
    )
    .arg(now())
    .arg(client_id)
    .arg(id)
    .execute(&mut tx)
    .await?;
    if marked == 0 {
        return Ok(false);
    }
    tx.commit().await?;
    finish(db, client_id, id).await?;
    Ok(true)
}

/// Clear a marked list's leads of it, a batch per transaction, then remove it.
async fn finish(db: &Db, client_id: i64, id: i64) -> Result<()> {
    // Each statement its own transaction. `list_id` again outside the batch: on PostgreSQL a
    // lead moved to another list while the statement waited for its row is checked again, and
    // keeps its new list. PostgreSQL joined `IN (SELECT …)` by reading every lead (0.45 s a
    // batch over a list of 1,000,000); `= ANY(ARRAY(…))` finds the batch by primary key (0.22 s).
    let batch = match db.backend() {
        Backend::Sqlite => {
            "UPDATE leads SET list_id = NULL WHERE list_id = $1 AND client_id = $2 AND id IN \
             (SELECT id FROM leads WHERE list_id = $1 AND client_id = $2 LIMIT $3)"
        }
        Backend::Postgres => {
            "UPDATE leads SET list_id = NULL WHERE list_id = $1 AND client_id = $2 AND id = ANY(\
             ARRAY(SELECT id FROM leads WHERE list_id = $1 AND client_id = $2 LIMIT $3))"
        }
    };
    loop {
        let cleared = sql(batch).arg(id).arg(client_id).arg(CLEAR_BATCH);
        if db.execute(cleared).await? == 0 {
            break;
        }
    }
    // Campaigns made from the list forget it (one made while it was being marked too, which
    // would otherwise refuse the deletion for ever). Leads added to it by an import that
    // began before the mark lose it here (`ON DELETE SET NULL`).
    let mut tx = db.begin().await?;
    sql("UPDATE campaigns SET list_id = NULL WHERE client_id = $1 AND list_id = $2")
        .arg(client_id)
        .arg(id)
        .execute(&mut tx)
        .await?;
    sql("DELETE FROM lists WHERE client_id = $1 AND id = $2 AND deleted_at IS NOT NULL")
        .arg(client_id)
        .arg(id)
        .execute(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Finish the deletions of lists marked more than `after` ago: a server or a request stopped
/// between the steps of [`delete`]. The server calls it every minute.
pub async fn finish_deletions(db: &Db, after: std::time::Duration) -> Result<usize> {
    let before = now() - chrono::Duration::from_std(after).unwrap_or_default();
    let marked: Vec<(i64, i64)> = db
        .fetch_all(
            sql("SELECT client_id, id FROM lists WHERE deleted_at IS NOT NULL AND deleted_at < $1")
                .arg(before),
        )
        .await?;
    for (client_id, id) in &marked {
        finish(db, *client_id, *id).await?;
    }
    Ok(marked.len())
}
