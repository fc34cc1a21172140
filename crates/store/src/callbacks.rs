//! Reminders of call backs: when a call back people set on a lead comes due, whoever should
//! call it is told once, by the first instance to find it due.
//!
//! A reminder is a row per lead (`callback_reminders`), written with the call back and taken
//! (deleted) when due. The lead is read back as it is then: a lead no longer waiting for that
//! call back (called already, changed, deleted) gets no reminder.

use chrono::{DateTime, Utc};

use crate::leads::{COLUMNS, Lead};
use crate::{AsExec, Db, Result, sql};

/// Set (or with `None` drop) the reminder of a lead's call back, with the change that sets it.
pub async fn set(
    ex: &mut impl AsExec,
    client_id: i64,
    lead_id: i64,
    at: Option<DateTime<Utc>>,
) -> Result<()> {
    sql("DELETE FROM callback_reminders WHERE lead_id = $1")
        .arg(lead_id)
        .execute(&mut *ex)
        .await?;
    if let Some(at) = at {
        sql("INSERT INTO callback_reminders (lead_id, client_id, due_at) VALUES ($1, $2, $3)")
            .arg(lead_id)
            .arg(client_id)
            .arg(at)
            .execute(ex)
            .await?;
    }
    Ok(())
}

/// Reminders taken: how many, and the leads of those still due (soonest first).
#[derive(Debug, Default)]
pub struct Taken {
    pub reminders: usize,
    pub leads: Vec<DueCallback>,
}

/// A lead whose call back came due, and whether the agent it is assigned to (if any) may
/// still take it (an active account): a deactivated agent's call backs go to the admins.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DueCallback {
    #[sqlx(flatten)]
    pub lead: Lead,
    pub agent_active: Option<bool>,
}

impl DueCallback {
    /// The agent to tell, when there is one who can act on it.
    pub fn agent(&self) -> Option<i64> {
        self.lead
            .assigned_user_id
            .filter(|_| self.agent_active == Some(true))
    }
}

/// Take up to `limit` reminders due by `now`, soonest first, and give the leads still waiting
/// for those call backs. Each reminder is taken once across instances: the rows are deleted
/// as they are read (another instance's delete of the same row finds it gone).
pub async fn take_due(db: &Db, now: DateTime<Utc>, limit: i64) -> Result<Taken> {
    // Looked for first on a read connection: most checks find nothing, and need no write
    // transaction (on SQLite, the one writer's lock).
    let any: Option<(i64,)> =
        sql("SELECT lead_id FROM callback_reminders WHERE due_at <= $1 LIMIT 1")
            .arg(now)
            .fetch_optional(&mut db.read().await?)
            .await?;
    if any.is_none() {
        return Ok(Taken::default());
    }
    let mut tx = db.begin().await?;
    let taken: Vec<(i64, DateTime<Utc>)> = sql("DELETE FROM callback_reminders WHERE lead_id IN \
         (SELECT lead_id FROM callback_reminders WHERE due_at <= $1 ORDER BY due_at LIMIT $2) \
         RETURNING lead_id, due_at")
    .arg(now)
    .arg(limit)
    .fetch_all(&mut tx)
    .await?;
    if taken.is_empty() {
        return Ok(Taken::default());
    }
    let mut q = sql(&format!(
        "SELECT {COLUMNS}, u.is_active AS agent_active FROM leads \
         LEFT JOIN users u ON u.id = leads.assigned_user_id \
         WHERE leads.deleted_at IS NULL AND leads.status = 'pending' AND leads.id IN "
    ));
    q.push_list(taken.iter().map(|(id, _)| *id));
    let mut leads: Vec<DueCallback> = q.fetch_all(&mut tx).await?;
    tx.commit().await?;
    // Only a lead whose call back is still the one reminded of.
    leads.retain(|d| {
        taken
            .iter()
            .any(|(id, due)| *id == d.lead.id && d.lead.callback_at() == Some(*due))
    });
    leads.sort_by_key(|d| d.lead.next_attempt_at);
    Ok(Taken {
        reminders: taken.len(),
        leads,
    })
}

/// How many reminders wait (due or not).
pub async fn count(ex: &mut impl AsExec) -> Result<i64> {
    let (n,): (i64,) = sql("SELECT COUNT(*) FROM callback_reminders")
        .fetch_one(ex)
        .await?;
    Ok(n)
}
