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
    pub leads: Vec<Lead>,
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
        "SELECT {COLUMNS} FROM leads WHERE deleted_at IS NULL AND status = 'pending' AND id IN "
    ));
    q.push_list(taken.iter().map(|(id, _)| *id));
    let mut leads: Vec<Lead> = q.fetch_all(&mut tx).await?;
    tx.commit().await?;
    // Only a lead whose call back is still the one reminded of.
    leads.retain(|l| {
        taken
            .iter()
            .any(|(id, due)| *id == l.id && l.callback_at() == Some(*due))
    });
    leads.sort_by_key(|l| l.next_attempt_at);
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
