//! The dialer's storage: per-client settings (retry rules, the call queue's switch), concurrency
//! slots counted in the database, claims of queued leads (`FOR UPDATE SKIP LOCKED` on
//! PostgreSQL), batches leased to external dialers, and the instances sharing the work.

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use switchboard_core::dialer::RetryRules;
use switchboard_core::{Disposition, Priority};

use crate::{AsExec, Backend, Result, Sql, Tx, now, sql};

/// A client's dialer settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub rules: RetryRules,
    pub queue_running: bool,
    pub queue_max_concurrent: i64,
}

#[derive(sqlx::FromRow)]
struct SettingsRow {
    rules: Json<serde_json::Value>,
    queue_running: bool,
    queue_max_concurrent: i64,
}

pub async fn settings(ex: &mut impl AsExec, client_id: i64) -> Result<Settings> {
    let row: Option<SettingsRow> = sql(
        "SELECT rules, queue_running, queue_max_concurrent FROM dialer_settings WHERE client_id = $1",
    )
    .arg(client_id)
    .fetch_optional(ex)
    .await?;
    Ok(match row {
        Some(r) => Settings {
            rules: RetryRules::from_json(&r.rules.0).unwrap_or_default(),
            queue_running: r.queue_running,
            queue_max_concurrent: r.queue_max_concurrent,
        },
        None => Settings {
            rules: RetryRules::default(),
            queue_running: false,
            queue_max_concurrent: 5,
        },
    })
}

/// The client's retry rules (the defaults when it never set any).
pub async fn rules(ex: &mut impl AsExec, client_id: i64) -> Result<RetryRules> {
    Ok(rules_of(stored_rules(ex, client_id).await?))
}

/// The client's retry rules as stored (`None`: never set).
pub async fn stored_rules(
    ex: &mut impl AsExec,
    client_id: i64,
) -> Result<Option<Json<serde_json::Value>>> {
    let row: Option<(Json<serde_json::Value>,)> =
        sql("SELECT rules FROM dialer_settings WHERE client_id = $1")
            .arg(client_id)
            .fetch_optional(ex)
            .await?;
    Ok(row.map(|(r,)| r))
}

/// The rules stored in `dialer_settings.rules` (read by a caller's own query), or the defaults.
pub fn rules_of(stored: Option<Json<serde_json::Value>>) -> RetryRules {
    stored
        .and_then(|r| RetryRules::from_json(&r.0).ok())
        .unwrap_or_default()
}

async fn ensure_settings(ex: &mut impl AsExec, client_id: i64) -> Result<()> {
    sql("INSERT INTO dialer_settings (client_id, updated_at) VALUES ($1, $2) ON CONFLICT (client_id) DO NOTHING")
        .arg(client_id)
        .arg(now())
        .execute(ex)
        .await?;
    Ok(())
}

pub async fn put_rules(ex: &mut impl AsExec, client_id: i64, rules: &RetryRules) -> Result<()> {
    ensure_settings(ex, client_id).await?;
    sql("UPDATE dialer_settings SET rules = $1, updated_at = $2 WHERE client_id = $3")
        .arg(serde_json::to_value(rules).unwrap_or_default())
        .arg(now())
        .arg(client_id)
        .execute(ex)
        .await?;
    Ok(())
}

/// Start or stop the call queue; `max_concurrent` changes the queue's own cap when given.
pub async fn set_queue(
    ex: &mut impl AsExec,
    client_id: i64,
    running: Option<bool>,
    max_concurrent: Option<i64>,
) -> Result<()> {
    ensure_settings(ex, client_id).await?;
    if let Some(r) = running {
        sql("UPDATE dialer_settings SET queue_running = $1, updated_at = $2 WHERE client_id = $3")
            .arg(r)
            .arg(now())
            .arg(client_id)
            .execute(ex)
            .await?;
    }
    if let Some(m) = max_concurrent {
        sql("UPDATE dialer_settings SET queue_max_concurrent = $1, updated_at = $2 WHERE client_id = $3")
            .arg(m)
            .arg(now())
            .arg(client_id)
            .execute(ex)
            .await?;
    }
    Ok(())
}

/// Clients whose call queue runs.
pub async fn running_queues(ex: &mut impl AsExec) -> Result<Vec<(i64, i64)>> {
    sql("SELECT client_id, queue_max_concurrent FROM dialer_settings WHERE queue_running = $1")
        .arg(true)
        .fetch_all(ex)
        .await
}

/// One attempt ended with `d` at `at`: the lead counts it, takes the disposition, and goes
/// where the retry rules send it (pending after a delay, or failed after the last attempt).
pub async fn record_attempt(
    tx: &mut Tx,
    rules: &RetryRules,
    lead_id: i64,
    d: Disposition,
    at: DateTime<Utc>,
) -> Result<()> {
    let one = Attempt {
        lead_id,
        disposition: d,
        at,
        agent: None,
        notes: None,
    };
    attempts(rules, &[one]).execute(tx).await?;
    Ok(())
}

/// An attempt that ended, as [`record_attempts`] records it.
#[derive(Debug, Clone)]
pub struct Attempt<'a> {
    pub lead_id: i64,
    pub disposition: Disposition,
    pub at: DateTime<Utc>,
    /// The lead is assigned to this user.
    pub agent: Option<i64>,
    /// Kept as the lead's latest note.
    pub notes: Option<&'a str>,
}

/// [`record_attempt`] for several leads in one statement, each also assigned to its agent and
/// keeping its note when given; returns the leads as they now are (in no particular order).
/// Each lead may appear once: a lead's second attempt goes into the next statement.
pub async fn record_attempts(
    tx: &mut Tx,
    rules: &RetryRules,
    list: &[Attempt<'_>],
) -> Result<Vec<crate::leads::Lead>> {
    if list.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = attempts(rules, list);
    q.push(" RETURNING ")
        .push(&crate::leads::COLUMNS.replace("leads.", ""));
    q.fetch_all(tx).await
}

/// What an attempt sets on its lead, with its values in `v`: `v.column2` when, `v.column3` the
/// disposition, `v.column4` the rule's last attempt (NULL when the disposition sets the status
/// outright, `v.column5`), `v.column6` when a retry falls due, `v.column7` the agent and
/// `v.column8` the note. The status depends on the attempts so far, known to the database.
pub(crate) const ATTEMPT_SETS: &str = "attempts = attempts + 1, last_attempt_at = v.column2, disposition = v.column3, \
     status = CASE WHEN v.column4 IS NULL THEN v.column5 WHEN attempts + 1 >= v.column4 THEN 'failed' ELSE 'pending' END, \
     next_attempt_at = CASE WHEN v.column4 IS NULL OR attempts + 1 >= v.column4 THEN NULL ELSE v.column6 END, \
     wait_reason = CASE WHEN v.column4 IS NULL OR attempts + 1 >= v.column4 THEN NULL ELSE 'retry' END, \
     assigned_user_id = COALESCE(v.column7, assigned_user_id), notes = COALESCE(v.column8, notes), \
     batch_id = NULL, leased_until = NULL, updated_at = ";

/// An attempt's rule as [`ATTEMPT_SETS`] reads it: the rule's last attempt, the status the
/// disposition sets outright (when no rule applies), and when a retry falls due.
pub(crate) fn rule_values(
    rules: &RetryRules,
    a: &Attempt<'_>,
) -> (Option<i64>, Option<&'static str>, Option<DateTime<Utc>>) {
    match switchboard_core::dialer::Outcome::of(a.disposition) {
        Some(o) => {
            let r = rules.rule(o);
            let due = a.at + chrono::Duration::seconds(r.delay_seconds);
            (Some(r.max_attempts), None, Some(due))
        }
        None => (None, Some(a.disposition.lead_status().as_str()), None),
    }
}

/// The UPDATE behind [`record_attempts`].
fn attempts(rules: &RetryRules, list: &[Attempt<'_>]) -> Sql {
    let mut q = sql("UPDATE leads SET ");
    q.push(ATTEMPT_SETS).push_arg(now()).push(" FROM (VALUES ");
    for (k, a) in list.iter().enumerate() {
        let (last, fixed, due) = rule_values(rules, a);
        q.push(if k == 0 { "(" } else { ", (" })
            .push_arg(a.lead_id)
            .push(", ")
            .push_arg(a.at)
            .push(", ")
            .push_arg(a.disposition.as_str())
            .push(", ")
            .push_arg(last)
            .push(", ")
            .push_arg(fixed)
            .push(", ")
            .push_arg(due)
            .push(", ")
            .push_arg(a.agent)
            .push(", ")
            .push_arg(a.notes)
            .push(")");
    }
    q.push(") AS v WHERE leads.id = v.column1");
    q
}

/// The caps a call is placed under.
#[derive(Debug, Clone, Copy)]
pub struct Caps {
    pub global: i64,
    pub client: i64,
    /// The campaign and its cap, for campaign calls.
    pub campaign: Option<(i64, i64)>,
}

/// Slots in use per scope.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InUse {
    pub global: i64,
    pub client: i64,
    pub campaign: i64,
}

#[derive(sqlx::FromRow)]
struct SlotRow {
    scope: String,
    active: i64,
}

/// Slots held right now in each scope of `caps`.
pub async fn in_use(ex: &mut impl AsExec, client_id: i64, campaign: Option<i64>) -> Result<InUse> {
    let rows: Vec<SlotRow> = sql(
        "SELECT scope, active FROM concurrency WHERE (scope = 'global' AND key = 0) OR (scope = 'client' AND key = $1) OR (scope = 'campaign' AND key = $2)",
    )
    .arg(client_id)
    .arg(campaign.unwrap_or(-1))
    .fetch_all(ex)
    .await?;
    let mut u = InUse::default();
    for r in rows {
        match r.scope.as_str() {
            "global" => u.global = r.active,
            "client" => u.client = r.active,
            _ => u.campaign = r.active,
        }
    }
    Ok(u)
}

/// Take up to `want` slots in every scope at once (campaign, client and global caps all hold);
/// returns how many were taken. The rows are locked in one order (campaign, client, global)
/// on PostgreSQL, so caps hold across instances and claims never deadlock.
pub async fn take_slots(tx: &mut Tx, client_id: i64, caps: Caps, want: i64) -> Result<i64> {
    if want <= 0 {
        return Ok(0);
    }
    let campaign = caps.campaign.map(|(id, _)| id).unwrap_or(-1);
    let mut ins = sql(
        "INSERT INTO concurrency (scope, key, active) VALUES ('global', 0, 0), ('client', $1, 0)",
    )
    .arg(client_id);
    if caps.campaign.is_some() {
        ins.push(", ('campaign', ").push_arg(campaign).push(", 0)");
    }
    ins.push(" ON CONFLICT (scope, key) DO NOTHING");
    ins.execute(tx).await?;
    let lock = if tx.backend() == Backend::Postgres {
        " FOR UPDATE"
    } else {
        ""
    };
    let rows: Vec<SlotRow> = sql(&format!(
        "SELECT scope, active FROM concurrency WHERE (scope = 'global' AND key = 0) OR (scope = 'client' AND key = $1) OR (scope = 'campaign' AND key = $2) ORDER BY scope, key{lock}"
    ))
    .arg(client_id)
    .arg(campaign)
    .fetch_all(tx)
    .await?;
    let mut free = want;
    for r in &rows {
        let cap = match r.scope.as_str() {
            "global" => caps.global,
            "client" => caps.client,
            _ => caps.campaign.map(|(_, c)| c).unwrap_or(i64::MAX),
        };
        free = free.min(cap - r.active);
    }
    if free <= 0 {
        return Ok(0);
    }
    sql("UPDATE concurrency SET active = active + $1 WHERE (scope = 'global' AND key = 0) OR (scope = 'client' AND key = $2) OR (scope = 'campaign' AND key = $3)")
        .arg(free)
        .arg(client_id)
        .arg(campaign)
        .execute(tx)
        .await?;
    Ok(free)
}

/// Give back slots taken by [`take_slots`] that no call was created for.
pub async fn give_back(tx: &mut Tx, client_id: i64, campaign: Option<i64>, n: i64) -> Result<()> {
    if n <= 0 {
        return Ok(());
    }
    for (scope, key) in [
        ("campaign", campaign.unwrap_or(-1)),
        ("client", client_id),
        ("global", 0),
    ] {
        sql("UPDATE concurrency SET active = CASE WHEN active > $1 THEN active - $1 ELSE 0 END WHERE scope = $2 AND key = $3")
            .arg(n)
            .arg(scope)
            .arg(key)
            .execute(tx)
            .await?;
    }
    Ok(())
}

/// A queued lead offered to a claim.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Candidate {
    pub id: i64,
    pub phone: String,
    pub priority: String,
    pub timezone: Option<String>,
    pub assigned_user_id: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub next_attempt_at: Option<DateTime<Utc>>,
}

impl Candidate {
    /// When it entered the queue (its deadline counts from here).
    pub fn queued_at(&self) -> DateTime<Utc> {
        self.next_attempt_at.unwrap_or(self.created_at)
    }

    pub fn priority(&self) -> Priority {
        Priority::parse(&self.priority).unwrap_or(Priority::Medium)
    }
}

/// Up to `limit` pending leads of one priority that are due and not on a do-not-call list,
/// oldest first. On PostgreSQL the rows are locked and rows other claims hold are skipped.
pub async fn candidates(
    tx: &mut Tx,
    client_id: i64,
    priority: Priority,
    limit: i64,
    at: DateTime<Utc>,
) -> Result<Vec<Candidate>> {
    let lock = if tx.backend() == Backend::Postgres {
        " FOR UPDATE SKIP LOCKED"
    } else {
        ""
    };
    // Leads that fell due (retries, holds that ended) first, in the order they fell due; then
    // fresh ones, oldest first. Each part reads its own index.
    let part = |due: bool, n: i64| {
        let mut q = sql(
            "SELECT id, phone, priority, timezone, assigned_user_id, created_at, next_attempt_at FROM leads \
             WHERE client_id = $1 AND priority = $2 AND status = 'pending' AND deleted_at IS NULL",
        )
        .arg(client_id)
        .arg(priority.as_str());
        if due {
            // A call back kept for the lead's agent is theirs: only the queue's bridge to that
            // agent takes it (`agent_callbacks`).
            q.push(" AND next_attempt_at IS NOT NULL AND next_attempt_at <= ")
                .push_arg(at)
                .push(" AND NOT ")
                .push(&crate::leads::kept_for_agent_sql("leads"));
        } else {
            q.push(" AND next_attempt_at IS NULL");
        }
        q.push(
            " AND NOT EXISTS (SELECT 1 FROM dnc WHERE dnc.phone = leads.phone AND (dnc.client_id IS NULL OR dnc.client_id = leads.client_id)) \
             AND NOT EXISTS (SELECT 1 FROM calls WHERE calls.lead_id = leads.id AND calls.status IN ('initiated', 'ringing', 'answered'))",
        );
        // The limit is written out, not a parameter: PostgreSQL plans a parameter limit as a
        // tenth of the matching rows, so the prepared statement's generic plan looked dearer
        // than a plan made for the value, and each of a claim's six to eight queries was
        // planned again on every claim. A claim's limit takes few values (the batch size).
        q.push(if due {
            " ORDER BY next_attempt_at, id LIMIT "
        } else {
            " ORDER BY id LIMIT "
        })
        .push(&n.max(0).to_string())
        .push(lock);
        q
    };
    let mut out: Vec<Candidate> = part(true, limit).fetch_all(&mut *tx).await?;
    let rest = limit - out.len() as i64;
    if rest > 0 {
        out.extend(part(false, rest).fetch_all::<Candidate>(&mut *tx).await?);
    }
    Ok(out)
}

/// Due call backs kept for one of `agents` (active operators), soonest first: the call queue
/// bridges each to its own agent. Locked, skipping locked ones, on PostgreSQL.
pub async fn agent_callbacks(
    tx: &mut Tx,
    client_id: i64,
    agents: &[i64],
    at: DateTime<Utc>,
) -> Result<Vec<Candidate>> {
    if agents.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = sql(
        "SELECT id, phone, priority, timezone, assigned_user_id, created_at, next_attempt_at FROM leads \
         WHERE client_id = $1 AND status = 'pending' AND deleted_at IS NULL \
         AND wait_reason = 'agent_callback' AND next_attempt_at IS NOT NULL AND next_attempt_at <= $2 \
         AND assigned_user_id IN ",
    )
    .arg(client_id)
    .arg(at);
    q.push_list(agents.iter().copied());
    q.push(
        " AND NOT EXISTS (SELECT 1 FROM dnc WHERE dnc.phone = leads.phone AND (dnc.client_id IS NULL OR dnc.client_id = leads.client_id)) \
         AND NOT EXISTS (SELECT 1 FROM calls WHERE calls.lead_id = leads.id AND calls.status IN ('initiated', 'ringing', 'answered')) \
         ORDER BY next_attempt_at, id",
    );
    if tx.backend() == Backend::Postgres {
        q.push(" FOR UPDATE SKIP LOCKED");
    }
    q.fetch_all(tx).await
}

/// Attempt start times since `since` for each of `leads` (daily caps).
pub async fn attempts_since(
    ex: &mut impl AsExec,
    leads: &[i64],
    since: DateTime<Utc>,
) -> Result<Vec<(i64, DateTime<Utc>)>> {
    if leads.is_empty() {
        return Ok(Vec::new());
    }
    let q = if ex.backend() == Backend::Postgres {
        // One probe of the lead index per lead. As `lead_id IN (…)`, a call log without
        // statistics yet (a fresh install's, growing by thousands a minute before autovacuum
        // first looks at it) is estimated to match a fixed share of its rows per listed lead,
        // so 300 leads "match" all of it and PostgreSQL scanned the whole table on every
        // claim. `OFFSET 0` keeps the subquery a per-lead probe, and the plan is made for the
        // table's size at each run.
        let mut q = sql("SELECT l.id, c.started_at FROM (VALUES ");
        for (i, id) in leads.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.push("(").push_arg(*id).push(")");
        }
        q.push(
            ") AS l(id) CROSS JOIN LATERAL (SELECT started_at FROM calls \
             WHERE calls.lead_id = l.id AND calls.started_at >= ",
        )
        .push_arg(since)
        .push(" OFFSET 0) AS c");
        q.plan_each_time();
        q
    } else {
        let mut q = sql("SELECT lead_id, started_at FROM calls WHERE lead_id IN ");
        q.push_list(leads.iter().copied());
        q.push(" AND started_at >= ").push_arg(since);
        q
    };
    let rows: Vec<(Option<i64>, DateTime<Utc>)> = q.fetch_all(ex).await?;
    Ok(rows
        .into_iter()
        .filter_map(|(l, t)| l.map(|l| (l, t)))
        .collect())
}

/// Hold back a lead that is not dialable now until `until`, saying why (`window` or `cap`).
pub async fn defer(
    ex: &mut impl AsExec,
    lead_ids: &[i64],
    until: DateTime<Utc>,
    reason: &str,
) -> Result<()> {
    if lead_ids.is_empty() {
        return Ok(());
    }
    let mut q = sql("UPDATE leads SET next_attempt_at = $1, wait_reason = $2, updated_at = $3 WHERE status = 'pending' AND id IN ")
        .arg(until)
        .arg(reason)
        .arg(now());
    q.push_list(lead_ids.iter().copied());
    q.execute(ex).await?;
    Ok(())
}

/// A schedule changed: leads held back for its windows are due again at once (they are checked
/// against the new schedule when next claimed).
pub async fn release_window_holds(ex: &mut impl AsExec, client_id: i64) -> Result<u64> {
    sql("UPDATE leads SET next_attempt_at = NULL, wait_reason = NULL WHERE client_id = $1 AND wait_reason = 'window' AND status = 'pending' AND deleted_at IS NULL AND next_attempt_at IS NOT NULL")
        .arg(client_id)
        .execute(ex)
        .await
}

/// The retry rules changed: leads held back for the daily cap are due again at once (they are
/// checked against the new cap when next claimed).
pub async fn release_cap_holds(ex: &mut impl AsExec, client_id: i64) -> Result<u64> {
    sql("UPDATE leads SET next_attempt_at = NULL, wait_reason = NULL WHERE client_id = $1 AND wait_reason = 'cap' AND status = 'pending' AND deleted_at IS NULL AND next_attempt_at IS NOT NULL")
        .arg(client_id)
        .execute(ex)
        .await
}

/// Mark claimed leads as being dialed, leased to `batch` until `until` when it is a batch.
pub async fn mark_calling(
    tx: &mut Tx,
    lead_ids: &[i64],
    batch: Option<(&str, DateTime<Utc>)>,
) -> Result<()> {
    if lead_ids.is_empty() {
        return Ok(());
    }
    let mut q = sql("UPDATE leads SET status = 'calling', batch_id = $1, leased_until = $2, wait_reason = NULL, updated_at = $3 WHERE id IN ")
        .arg(batch.map(|b| b.0))
        .arg(batch.map(|b| b.1))
        .arg(now());
    q.push_list(lead_ids.iter().copied());
    q.execute(tx).await?;
    Ok(())
}

pub async fn create_batch(
    tx: &mut Tx,
    id: &str,
    client_id: i64,
    key_id: Option<i64>,
    requested: i64,
    returned: i64,
    expires_at: DateTime<Utc>,
) -> Result<()> {
    sql("INSERT INTO batches (id, client_id, key_id, size_requested, size_returned, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .arg(id)
        .arg(client_id)
        .arg(key_id)
        .arg(requested)
        .arg(returned)
        .arg(now())
        .arg(expires_at)
        .execute(tx)
        .await?;
    Ok(())
}

/// Numbers whose batch lease ended unreported go back to the queue. Returns how many.
pub async fn expire_leases(ex: &mut impl AsExec, at: DateTime<Utc>) -> Result<u64> {
    sql("UPDATE leads SET status = 'pending', batch_id = NULL, leased_until = NULL, updated_at = $1 \
         WHERE batch_id IS NOT NULL AND leased_until <= $1 AND status = 'calling'")
        .arg(at)
        .execute(ex)
        .await
}

/// Seed 001's `reset_stuck_leads`: leads left `calling` with no live call and no live lease go
/// back to the queue. Returns how many.
pub async fn reset_stuck(ex: &mut impl AsExec, client_id: i64, at: DateTime<Utc>) -> Result<u64> {
    sql("UPDATE leads SET status = 'pending', batch_id = NULL, leased_until = NULL, updated_at = $1 \
         WHERE client_id = $2 AND status = 'calling' AND deleted_at IS NULL \
         AND (leased_until IS NULL OR leased_until <= $1) \
         AND NOT EXISTS (SELECT 1 FROM calls WHERE calls.lead_id = leads.id AND calls.status IN ('initiated', 'ringing', 'answered'))")
        .arg(at)
        .arg(client_id)
        .execute(ex)
        .await
}

/// Queue counts for `get_queue_status`.
#[derive(Debug, Clone, Copy, Default)]
pub struct QueueCounts {
    pub pending: i64,
    pub due: i64,
    pub calling: i64,
    pub leased: i64,
}

pub async fn queue_counts(
    ex: &mut impl AsExec,
    client_id: i64,
    at: DateTime<Utc>,
) -> Result<QueueCounts> {
    let (pending, due, calling, leased): (i64, i64, i64, i64) = sql(
        "SELECT \
         COALESCE(SUM(CASE WHEN status = 'pending' THEN 1 ELSE 0 END), 0), \
         COALESCE(SUM(CASE WHEN status = 'pending' AND (next_attempt_at IS NULL OR next_attempt_at <= $2) THEN 1 ELSE 0 END), 0), \
         COALESCE(SUM(CASE WHEN status = 'calling' THEN 1 ELSE 0 END), 0), \
         COALESCE(SUM(CASE WHEN status = 'calling' AND batch_id IS NOT NULL THEN 1 ELSE 0 END), 0) \
         FROM leads WHERE client_id = $1 AND deleted_at IS NULL AND status IN ('pending', 'calling')",
    )
    .arg(client_id)
    .arg(at)
    .fetch_one(ex)
    .await?;
    Ok(QueueCounts {
        pending,
        due,
        calling,
        leased,
    })
}

/// Live calls per scope, counted from the calls themselves (the check on the slot counters).
pub async fn live_calls_holding_slots(ex: &mut impl AsExec) -> Result<i64> {
    let (n,): (i64,) = sql("SELECT COUNT(*) FROM calls WHERE slots > 0")
        .fetch_one(ex)
        .await?;
    Ok(n)
}

/// What `GET /metrics` reads per scrape, across the installation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveTotals {
    /// Calls initiated, ringing or answered (counted from the index of live calls).
    pub live_calls: i64,
    /// Global concurrency slots held by live calls.
    pub global_slots: i64,
    /// Campaigns per status.
    pub campaigns: Vec<(String, i64)>,
}

pub async fn live_totals(ex: &mut impl AsExec) -> Result<LiveTotals> {
    let (live_calls,): (i64,) =
        sql("SELECT COUNT(*) FROM calls WHERE status IN ('initiated', 'ringing', 'answered')")
            .fetch_one(&mut *ex)
            .await?;
    let global: Option<(i64,)> =
        sql("SELECT active FROM concurrency WHERE scope = 'global' AND key = 0")
            .fetch_optional(&mut *ex)
            .await?;
    let campaigns: Vec<(String, i64)> =
        sql("SELECT status, COUNT(*) FROM campaigns GROUP BY status ORDER BY status")
            .fetch_all(ex)
            .await?;
    Ok(LiveTotals {
        live_calls,
        global_slots: global.map_or(0, |g| g.0),
        campaigns,
    })
}

// ---- instances ----

/// Register this instance (or refresh it) and beat its heart.
pub async fn heartbeat_instance(ex: &mut impl AsExec, id: &str, hostname: &str) -> Result<()> {
    let t = now();
    sql(
        "INSERT INTO instances (id, hostname, started_at, heartbeat_at) VALUES ($1, $2, $3, $3) \
         ON CONFLICT (id) DO UPDATE SET heartbeat_at = $3, stopped_at = NULL",
    )
    .arg(id)
    .arg(hostname)
    .arg(t)
    .execute(ex)
    .await?;
    Ok(())
}

pub async fn stop_instance(ex: &mut impl AsExec, id: &str) -> Result<()> {
    sql("UPDATE instances SET stopped_at = $1 WHERE id = $2")
        .arg(now())
        .arg(id)
        .execute(ex)
        .await?;
    Ok(())
}

/// Instances whose heartbeat is newer than `since` and that have not stopped.
pub async fn live_instances(ex: &mut impl AsExec, since: DateTime<Utc>) -> Result<Vec<String>> {
    let rows: Vec<(String,)> =
        sql("SELECT id FROM instances WHERE heartbeat_at >= $1 AND stopped_at IS NULL ORDER BY id")
            .arg(since)
            .fetch_all(ex)
            .await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// A client's free agents at `t`, as `(id, phone_number)` in id order: active operators with a
/// phone, available, not in a live call, and not in their wrap-up after one (`wrapup_seconds`
/// since their last call ended). A call that ended since started at most `call_timeout` (and an
/// hour) before, longer ones being ended by it: an agent's calls are read from that time on, by
/// the index on (user_id, started_at).
pub async fn free_agents(
    ex: &mut impl AsExec,
    client_id: i64,
    t: DateTime<Utc>,
    wrapup_seconds: i64,
    call_timeout: std::time::Duration,
) -> Result<Vec<(i64, String)>> {
    let wrapup = if wrapup_seconds > 0 {
        " AND NOT EXISTS (SELECT 1 FROM calls WHERE calls.user_id = users.id AND calls.started_at > $4 AND calls.ended_at > $3)"
    } else {
        ""
    };
    let mut q = sql(&format!(
        "SELECT id, phone_number FROM users WHERE client_id = $1 AND role = 'operator' AND is_active = $2 \
         AND is_available = $2 AND phone_number IS NOT NULL AND phone_number <> '' \
         AND NOT EXISTS (SELECT 1 FROM calls WHERE calls.user_id = users.id AND calls.status IN ('initiated', 'ringing', 'answered')){wrapup} \
         ORDER BY id"
    ))
    .arg(client_id)
    .arg(true);
    if wrapup_seconds > 0 {
        let since = t - chrono::Duration::seconds(wrapup_seconds);
        let timeout =
            chrono::Duration::from_std(call_timeout).unwrap_or(chrono::Duration::hours(4));
        q = q
            .arg(since)
            .arg(since - timeout - chrono::Duration::hours(1));
    }
    q.fetch_all(ex).await
}
