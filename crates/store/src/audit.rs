//! Who changed what, when.

use chrono::{DateTime, Utc};

use crate::{AsExec, Result, now, sql};

pub struct AuditEntry<'a> {
    pub client_id: Option<i64>,
    pub user_id: Option<i64>,
    pub action: &'a str,
    pub entity: &'a str,
    pub entity_id: Option<i64>,
    pub detail: serde_json::Value,
}

pub async fn record(ex: &mut impl AsExec, e: AuditEntry<'_>) -> Result<()> {
    sql(
        "INSERT INTO audit_log (client_id, user_id, action, entity, entity_id, detail, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .arg(e.client_id)
    .arg(e.user_id)
    .arg(e.action)
    .arg(e.entity)
    .arg(e.entity_id)
    .arg(e.detail)
    .arg(now())
    .execute(ex)
    .await?;
    Ok(())
}

/// An entry as read back, with the username of the user who acted (none for machines).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Entry {
    pub id: i64,
    pub client_id: Option<i64>,
    pub user_id: Option<i64>,
    pub username: Option<String>,
    pub action: String,
    pub entity: String,
    pub entity_id: Option<i64>,
    pub detail: sqlx::types::Json<serde_json::Value>,
    pub created_at: DateTime<Utc>,
}

/// Which entries to read; `None` is any.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub user_id: Option<i64>,
    pub action: Option<String>,
    pub entity: Option<String>,
    pub entity_id: Option<i64>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// One page of a client's entries, newest first, and how many match.
pub async fn list(
    ex: &mut impl AsExec,
    client_id: i64,
    f: &Filter,
    limit: u32,
    offset: u64,
) -> Result<(Vec<Entry>, u64)> {
    let filter = |q: &mut crate::Sql| {
        q.push(" WHERE a.client_id = ").push_arg(client_id);
        if let Some(v) = &f.entity {
            q.push(" AND a.entity = ").push_arg(v.clone());
        }
        if let Some(v) = f.entity_id {
            q.push(" AND a.entity_id = ").push_arg(v);
        }
        if let Some(v) = f.user_id {
            q.push(" AND a.user_id = ").push_arg(v);
        }
        if let Some(v) = &f.action {
            q.push(" AND a.action = ").push_arg(v.clone());
        }
        if let Some(v) = f.from {
            q.push(" AND a.created_at >= ").push_arg(v);
        }
        if let Some(v) = f.to {
            q.push(" AND a.created_at <= ").push_arg(v);
        }
    };
    let mut count = sql("SELECT COUNT(*) FROM audit_log a");
    filter(&mut count);
    let (total,) = count.fetch_one::<(i64,)>(ex).await?;
    let mut page = sql(
        "SELECT a.id, a.client_id, a.user_id, u.username, a.action, a.entity, a.entity_id, \
         a.detail, a.created_at FROM audit_log a LEFT JOIN users u ON u.id = a.user_id",
    );
    filter(&mut page);
    page.push(" ORDER BY a.created_at DESC, a.id DESC LIMIT ")
        .push_arg(i64::from(limit))
        .push(" OFFSET ")
        .push_arg(offset as i64);
    Ok((page.fetch_all(ex).await?, total as u64))
}
