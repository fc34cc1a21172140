//! Who changed what, when.

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
