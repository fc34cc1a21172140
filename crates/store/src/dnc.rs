//! The do-not-call list: numbers no call may reach, per client or for every client.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::{AsExec, Result, now, sql};

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[schema(as = DncEntry)]
pub struct Entry {
    pub id: i64,
    pub client_id: Option<i64>,
    pub phone: String,
    pub reason: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// Whether `phone` (E.164) is blocked for `client_id`, by its own list or the global one.
pub async fn is_blocked(ex: &mut impl AsExec, client_id: i64, phone: &str) -> Result<bool> {
    Ok(
        sql("SELECT COUNT(*) FROM dnc WHERE phone = $1 AND (client_id = $2 OR client_id IS NULL)")
            .arg(phone)
            .arg(client_id)
            .fetch_one::<(i64,)>(ex)
            .await?
            .0
            > 0,
    )
}

/// Add a number; adding one already listed changes nothing. Returns whether it was new.
pub async fn add(
    ex: &mut impl AsExec,
    client_id: Option<i64>,
    phone: &str,
    reason: Option<&str>,
    user_id: Option<i64>,
) -> Result<bool> {
    let n = sql("INSERT INTO dnc (client_id, phone, reason, created_by, created_at) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (COALESCE(client_id, 0), phone) DO NOTHING")
        .arg(client_id)
        .arg(phone)
        .arg(reason)
        .arg(user_id)
        .arg(now())
        .execute(ex)
        .await?;
    Ok(n == 1)
}

/// Add many numbers (`(phone, reason)`, E.164) in one statement; those listed already, or
/// twice in `rows`, change nothing. Returns how many were new.
pub async fn add_many(
    ex: &mut impl AsExec,
    client_id: Option<i64>,
    rows: &[(String, Option<String>)],
    user_id: Option<i64>,
) -> Result<u64> {
    if rows.is_empty() {
        return Ok(0);
    }
    let at = now();
    let mut q = sql("INSERT INTO dnc (client_id, phone, reason, created_by, created_at) VALUES ");
    for (i, (phone, reason)) in rows.iter().enumerate() {
        if i > 0 {
            q.push(", ");
        }
        q.push("(")
            .push_arg(client_id)
            .push(", ")
            .push_arg(phone.as_str())
            .push(", ")
            .push_arg(reason.as_deref())
            .push(", ")
            .push_arg(user_id)
            .push(", ")
            .push_arg(at)
            .push(")");
    }
    q.push(" ON CONFLICT (COALESCE(client_id, 0), phone) DO NOTHING");
    q.execute(ex).await
}

/// A page of a client's entries (global ones included), newest first, and their total.
pub async fn list(
    ex: &mut impl AsExec,
    client_id: i64,
    search: Option<&str>,
    limit: u32,
    offset: u64,
) -> Result<(Vec<Entry>, u64)> {
    let filter = |q: &mut crate::Sql| {
        q.push(" WHERE (client_id = ")
            .push_arg(client_id)
            .push(" OR client_id IS NULL)");
        if let Some(s) = search.filter(|s| !s.is_empty()) {
            q.push(" AND phone LIKE ")
                .push_arg(format!("%{}%", s.replace(['%', '_', '\\'], "")));
        }
    };
    let mut count = sql("SELECT COUNT(*) FROM dnc");
    filter(&mut count);
    let (total,) = count.fetch_one::<(i64,)>(ex).await?;
    let mut page = sql("SELECT id, client_id, phone, reason, created_at FROM dnc");
    filter(&mut page);
    page.push(" ORDER BY created_at DESC, id DESC LIMIT ")
        .push_arg(i64::from(limit))
        .push(" OFFSET ")
        .push_arg(offset as i64);
    Ok((page.fetch_all(ex).await?, total as u64))
}

/// Remove a client's own entry (global entries are removed only by a super admin, `client_id` None).
pub async fn remove(ex: &mut impl AsExec, client_id: Option<i64>, id: i64) -> Result<bool> {
    let mut q = sql("DELETE FROM dnc WHERE id = $1").arg(id);
    match client_id {
        Some(c) => q.push(" AND client_id = ").push_arg(c),
        None => q.push(" AND client_id IS NULL"),
    };
    Ok(q.execute(ex).await? == 1)
}
