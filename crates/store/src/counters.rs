//! Counts the database keeps as rows change (migrations 0009, 0010, 0014 and 0017), for totals
//! that an aggregate would compute too slowly while a campaign changes the rows every second,
//! or that grow with the history: a campaign's calls per outcome, a client's calls per person
//! and status, and on PostgreSQL a client's live leads per status and its calls.
//!
//! On PostgreSQL, triggers record each statement's changes as rows in a deltas table (writers
//! only insert, so they never wait on one another for a shared counts row); a reader adds the
//! deltas to the counts, and [`fold`] moves them in. SQLite has one writer at a time: its
//! triggers update the campaign counts in place, and it counts leads and calls from its
//! covering indexes.

use crate::{AsExec, Backend, Db, Result, sql};

/// Fold the recorded changes into the counts rows, so reads stay a few rows. One instance at a
/// time (the others skip); a no-op on SQLite. Returns the counts rows touched.
pub async fn fold(db: &Db) -> Result<u64> {
    if db.backend() != Backend::Postgres {
        return Ok(0);
    }
    let mut tx = db.begin().await?;
    let (mine,): (bool,) = sql("SELECT pg_try_advisory_xact_lock(5309001)")
        .fetch_one(&mut tx)
        .await?;
    if !mine {
        return Ok(0);
    }
    let calls = sql(
        "WITH moved AS (DELETE FROM campaign_call_deltas \
             RETURNING campaign_id, total, live, connected, failed, talk_calls, talk_secs) \
         INSERT INTO campaign_call_counts AS c (campaign_id, total, live, connected, failed, talk_calls, talk_secs) \
         SELECT campaign_id, SUM(total), SUM(live), SUM(connected), SUM(failed), SUM(talk_calls), SUM(talk_secs) \
         FROM moved GROUP BY campaign_id \
         ON CONFLICT (campaign_id) DO UPDATE SET \
             total = c.total + EXCLUDED.total, live = c.live + EXCLUDED.live, \
             connected = c.connected + EXCLUDED.connected, failed = c.failed + EXCLUDED.failed, \
             talk_calls = c.talk_calls + EXCLUDED.talk_calls, talk_secs = c.talk_secs + EXCLUDED.talk_secs",
    )
    .execute(&mut tx)
    .await?;
    let leads = sql(
        "WITH moved AS (DELETE FROM lead_status_deltas RETURNING client_id, status, priority, n) \
         INSERT INTO lead_status_counts AS c (client_id, status, priority, n) \
         SELECT client_id, status, priority, SUM(n) FROM moved GROUP BY client_id, status, priority \
         ON CONFLICT (client_id, status, priority) DO UPDATE SET n = c.n + EXCLUDED.n",
    )
    .execute(&mut tx)
    .await?;
    let totals = sql(
        "WITH moved AS (DELETE FROM call_total_deltas RETURNING client_id, n) \
         INSERT INTO call_totals AS c (client_id, n) \
         SELECT client_id, SUM(n) FROM moved GROUP BY client_id \
         ON CONFLICT (client_id) DO UPDATE SET n = c.n + EXCLUDED.n",
    )
    .execute(&mut tx)
    .await?;
    let per_user = sql(
        "WITH moved AS (DELETE FROM call_user_deltas RETURNING client_id, user_id, status, n, talk) \
         INSERT INTO call_user_counts AS c (client_id, user_id, status, n, talk) \
         SELECT client_id, user_id, status, SUM(n), SUM(talk) FROM moved \
         GROUP BY client_id, user_id, status \
         ON CONFLICT (client_id, user_id, status) DO UPDATE SET n = c.n + EXCLUDED.n, \
             talk = c.talk + EXCLUDED.talk",
    )
    .execute(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(calls + leads + totals + per_user)
}

/// A client's live leads with one of `statuses` and one of `priorities` (all of them where
/// empty), from the counters; `None` where none are kept (SQLite), for the caller to count the
/// rows.
pub async fn live_leads(
    ex: &mut impl AsExec,
    backend: Backend,
    client_id: i64,
    statuses: &[String],
    priorities: &[String],
) -> Result<Option<u64>> {
    if backend != Backend::Postgres {
        return Ok(None);
    }
    let mut q = sql("SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM (");
    lead_counts_union(&mut q, client_id);
    q.push(") AS x WHERE TRUE");
    if !statuses.is_empty() {
        q.push(" AND status IN ")
            .push_list(statuses.iter().cloned());
    }
    if !priorities.is_empty() {
        q.push(" AND priority IN ")
            .push_list(priorities.iter().cloned());
    }
    let (n,): (i64,) = q.fetch_one(ex).await?;
    Ok(Some(n.max(0) as u64))
}

/// A client's live leads per status and priority (pairs without leads left out), from the
/// counters; `None` where none are kept (SQLite).
pub async fn live_leads_by_status_and_priority(
    ex: &mut impl AsExec,
    client_id: i64,
) -> Result<Option<Vec<(String, String, i64)>>> {
    if ex.backend() != Backend::Postgres {
        return Ok(None);
    }
    let mut q = sql("SELECT status, priority, CAST(SUM(n) AS BIGINT) FROM (");
    lead_counts_union(&mut q, client_id);
    q.push(") AS x GROUP BY status, priority HAVING SUM(n) > 0");
    Ok(Some(q.fetch_all(ex).await?))
}

/// The kept lead counts of a client and the changes not folded in yet, as rows of
/// `(status, priority, n)`.
fn lead_counts_union(q: &mut crate::Sql, client_id: i64) {
    for (i, table) in ["lead_status_counts", "lead_status_deltas"]
        .iter()
        .enumerate()
    {
        if i > 0 {
            q.push(" UNION ALL ");
        }
        q.push("SELECT status, priority, n FROM ")
            .push(table)
            .push(" WHERE client_id = ")
            .push_arg(client_id);
    }
}

/// A client's calls that are not deleted, from the counters; `None` where none are kept
/// (SQLite), for the caller to count the rows.
pub async fn live_calls(
    ex: &mut impl AsExec,
    backend: Backend,
    client_id: i64,
) -> Result<Option<u64>> {
    if backend != Backend::Postgres {
        return Ok(None);
    }
    let (n,): (i64,) = sql("SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM \
         (SELECT n FROM call_totals WHERE client_id = $1 \
          UNION ALL SELECT n FROM call_total_deltas WHERE client_id = $1) AS x")
    .arg(client_id)
    .fetch_one(ex)
    .await?;
    Ok(Some(n.max(0) as u64))
}

/// A client's calls that are not deleted (perhaps only one person's), all time: per person
/// (0 for calls of nobody) and status, how many and their summed talk time, from the counts
/// kept as calls change (migration 0017). Groups that are empty now are left out.
pub async fn calls_by_user_status(
    ex: &mut impl AsExec,
    client_id: i64,
    user_id: Option<i64>,
) -> Result<Vec<(i64, String, i64, i64)>> {
    if user_id == Some(0) {
        // 0 stands for nobody in the counts; no person has it.
        return Ok(Vec::new());
    }
    let tables: &[&str] = match ex.backend() {
        Backend::Postgres => &["call_user_counts", "call_user_deltas"],
        Backend::Sqlite => &["call_user_counts"],
    };
    let mut q =
        sql("SELECT user_id, status, CAST(SUM(n) AS BIGINT), CAST(SUM(talk) AS BIGINT) FROM (");
    for (i, table) in tables.iter().enumerate() {
        if i > 0 {
            q.push(" UNION ALL ");
        }
        q.push("SELECT user_id, status, n, talk FROM ")
            .push(table)
            .push(" WHERE client_id = ")
            .push_arg(client_id);
        if let Some(u) = user_id {
            q.push(" AND user_id = ").push_arg(u);
        }
    }
    q.push(") AS x GROUP BY user_id, status HAVING SUM(n) <> 0 OR SUM(talk) <> 0");
    q.fetch_all(ex).await
}
