//! Campaigns (seed 003): a list dialed by the server, in order, under its own concurrency cap,
//! owned by one instance at a time through a lease renewed by heartbeat.

use chrono::{DateTime, Utc};

use crate::{AsExec, Backend, Result, Tx, now, sql};

#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Campaign {
    pub id: i64,
    pub client_id: i64,
    pub name: String,
    pub list_id: Option<i64>,
    pub from_number: String,
    pub wss_url: Option<String>,
    pub status: String,
    pub max_concurrent: i64,
    pub total_contacts: i64,
    pub current_index: i64,
    pub owner_instance: Option<String>,
    pub heartbeat_at: Option<DateTime<Utc>>,
    pub created_by: Option<i64>,
    pub started_at: DateTime<Utc>,
    pub paused_at: Option<DateTime<Utc>>,
    pub paused_by: Option<String>,
    pub resumed_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub last_activity_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Detect answering machines on its calls; `None`: the server's default.
    pub machine_detection: Option<bool>,
    /// With detection, the message to leave on a machine (none: hang up).
    pub voicemail_message: Option<String>,
    /// Record its calls; `None`: the server's default.
    pub record_calls: Option<bool>,
}

impl Campaign {
    /// Whether its calls are recorded: its own choice, else `default` (the server's).
    pub fn records_calls(&self, default: bool) -> bool {
        self.record_calls.unwrap_or(default)
    }

    /// Whether its calls detect answering machines: its own choice, else `default` (the
    /// server's).
    pub fn detects_machines(&self, default: bool) -> bool {
        self.machine_detection.unwrap_or(default)
    }
}

const COLUMNS: &str = "id, client_id, name, list_id, from_number, wss_url, status, max_concurrent, \
    total_contacts, current_index, owner_instance, heartbeat_at, created_by, started_at, paused_at, \
    paused_by, resumed_at, completed_at, last_activity_at, created_at, updated_at, machine_detection, voicemail_message, \
    record_calls";

pub struct NewCampaign<'a> {
    pub client_id: i64,
    pub name: &'a str,
    pub list_id: i64,
    pub from_number: &'a str,
    pub wss_url: Option<&'a str>,
    pub max_concurrent: i64,
    pub created_by: Option<i64>,
    pub owner_instance: Option<&'a str>,
    pub machine_detection: Option<bool>,
    pub voicemail_message: Option<&'a str>,
    pub record_calls: Option<bool>,
}

/// Create a running campaign over the list's leads as they are now (in lead order).
pub async fn create(tx: &mut Tx, c: &NewCampaign<'_>) -> Result<Campaign> {
    let t = now();
    let camp: Campaign = sql(&format!(
        "INSERT INTO campaigns (client_id, name, list_id, from_number, wss_url, status, max_concurrent, \
         owner_instance, heartbeat_at, created_by, started_at, last_activity_at, created_at, updated_at, \
         machine_detection, voicemail_message, record_calls) \
         VALUES ($1, $2, $3, $4, $5, 'running', $6, $7, $8, $9, $8, $8, $8, $8, $10, $11, $12) RETURNING {COLUMNS}"
    ))
    .arg(c.client_id)
    .arg(c.name)
    .arg(c.list_id)
    .arg(c.from_number)
    .arg(c.wss_url)
    .arg(c.max_concurrent)
    .arg(c.owner_instance)
    .arg(t)
    .arg(c.created_by)
    .arg(c.machine_detection)
    .arg(c.voicemail_message)
    .arg(c.record_calls)
    .fetch_one(tx)
    .await?;
    let n = sql("INSERT INTO campaign_leads (campaign_id, position, lead_id) \
                 SELECT $1, id, id FROM leads WHERE client_id = $2 AND list_id = $3 AND deleted_at IS NULL")
        .arg(camp.id)
        .arg(c.client_id)
        .arg(c.list_id)
        .execute(tx)
        .await?;
    sql(&format!(
        "UPDATE campaigns SET total_contacts = $1 WHERE id = $2 RETURNING {COLUMNS}"
    ))
    .arg(n as i64)
    .arg(camp.id)
    .fetch_one(tx)
    .await
}

pub async fn get(ex: &mut impl AsExec, client_id: i64, id: i64) -> Result<Option<Campaign>> {
    sql(&format!(
        "SELECT {COLUMNS} FROM campaigns WHERE id = $1 AND client_id = $2"
    ))
    .arg(id)
    .arg(client_id)
    .fetch_optional(ex)
    .await
}

/// What may change of a campaign once made; `None` leaves a field as it is.
#[derive(Debug, Default, Clone, Copy)]
pub struct CampaignPatch<'a> {
    pub name: Option<&'a str>,
    pub from_number: Option<&'a str>,
    pub wss_url: Option<&'a str>,
    pub max_concurrent: Option<i64>,
    pub machine_detection: Option<bool>,
    /// `Some("")` drops the message.
    pub voicemail_message: Option<&'a str>,
    pub record_calls: Option<bool>,
}

/// Change a client's campaign; `None` when it has no such campaign. New calls use the new
/// values (the engine reads them at each turn); calls placed already are left alone.
pub async fn update(
    tx: &mut Tx,
    client_id: i64,
    id: i64,
    p: &CampaignPatch<'_>,
) -> Result<Option<Campaign>> {
    sql(&format!(
        "UPDATE campaigns SET name = COALESCE($3, name), from_number = COALESCE($4, from_number), \
         wss_url = COALESCE($5, wss_url), max_concurrent = COALESCE($6, max_concurrent), \
         updated_at = $7, machine_detection = COALESCE($8, machine_detection), \
         voicemail_message = CASE WHEN $9 IS NULL THEN voicemail_message ELSE NULLIF($9, '') END, \
         record_calls = COALESCE($10, record_calls) \
         WHERE id = $1 AND client_id = $2 RETURNING {COLUMNS}"
    ))
    .arg(id)
    .arg(client_id)
    .arg(p.name)
    .arg(p.from_number)
    .arg(p.wss_url)
    .arg(p.max_concurrent)
    .arg(now())
    .arg(p.machine_detection)
    .arg(p.voicemail_message)
    .arg(p.record_calls)
    .fetch_optional(tx)
    .await
}

/// The campaign as it is now, when it is still running, locked until `tx` ends (on
/// PostgreSQL; SQLite's one writer is alone anyway): a pause or new settings committed
/// meanwhile are seen, and one asked for now waits for `tx`.
pub async fn lock_running(tx: &mut Tx, id: i64) -> Result<Option<Campaign>> {
    let lock = if tx.backend() == Backend::Postgres {
        " FOR UPDATE"
    } else {
        ""
    };
    sql(&format!(
        "SELECT {COLUMNS} FROM campaigns WHERE id = $1 AND status = 'running'{lock}"
    ))
    .arg(id)
    .fetch_optional(tx)
    .await
}

pub async fn get_any(ex: &mut impl AsExec, id: i64) -> Result<Option<Campaign>> {
    sql(&format!("SELECT {COLUMNS} FROM campaigns WHERE id = $1"))
        .arg(id)
        .fetch_optional(ex)
        .await
}

/// A page of a client's campaigns, and how many there are in all.
pub async fn list(
    ex: &mut impl AsExec,
    client_id: i64,
    status: Option<&str>,
    sort: &str,
    desc: bool,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Campaign>, i64)> {
    let mut q = sql(&format!(
        "SELECT {COLUMNS} FROM campaigns WHERE client_id = $1"
    ))
    .arg(client_id);
    if let Some(s) = status {
        q.push(" AND status = ").push_arg(s);
    }
    let mut count = sql("SELECT COUNT(*) FROM campaigns WHERE client_id = $1").arg(client_id);
    if let Some(s) = status {
        count.push(" AND status = ").push_arg(s);
    }
    q.push(&format!(
        " ORDER BY {sort} {}, id {} LIMIT ",
        if desc { "DESC" } else { "ASC" },
        if desc { "DESC" } else { "ASC" }
    ))
    .push_arg(limit)
    .push(" OFFSET ")
    .push_arg(offset);
    let rows = q.fetch_all(ex).await?;
    let (total,): (i64,) = count.fetch_one(ex).await?;
    Ok((rows, total))
}

/// Campaigns per status for a client.
pub async fn status_counts(ex: &mut impl AsExec, client_id: i64) -> Result<Vec<(String, i64)>> {
    sql("SELECT status, COUNT(*) FROM campaigns WHERE client_id = $1 GROUP BY status")
        .arg(client_id)
        .fetch_all(ex)
        .await
}

/// Move a campaign from one of `from` to `to`; false when it was not in one of them.
pub async fn transition(
    ex: &mut impl AsExec,
    client_id: i64,
    id: i64,
    from: &[&str],
    to: &str,
    by: Option<&str>,
) -> Result<bool> {
    let t = now();
    let mut q = sql("UPDATE campaigns SET status = $1, updated_at = $2, last_activity_at = $2")
        .arg(to)
        .arg(t);
    match to {
        "paused" => {
            q.push(", paused_at = ").push_arg(t);
            q.push(", paused_by = ").push_arg(by);
        }
        "running" => {
            q.push(", resumed_at = ").push_arg(t);
            // Whoever owned it paused: the next heartbeat round hands it to an instance.
            q.push(", owner_instance = NULL, heartbeat_at = NULL");
        }
        s if switchboard_core::campaign::has_ended(s) => {
            q.push(", completed_at = ").push_arg(t);
        }
        _ => {}
    }
    q.push(" WHERE id = ")
        .push_arg(id)
        .push(" AND client_id = ")
        .push_arg(client_id)
        .push(" AND status IN ");
    q.push_list(from.iter().copied());
    Ok(q.execute(ex).await? == 1)
}

/// Renew this instance's leases; returns the running campaigns it owns.
pub async fn renew(ex: &mut impl AsExec, instance: &str) -> Result<Vec<Campaign>> {
    sql("UPDATE campaigns SET heartbeat_at = $1 WHERE owner_instance = $2 AND status = 'running'")
        .arg(now())
        .arg(instance)
        .execute(ex)
        .await?;
    owned_running(ex, instance).await
}

/// The running campaigns `instance` owns.
pub async fn owned_running(ex: &mut impl AsExec, instance: &str) -> Result<Vec<Campaign>> {
    sql(&format!(
        "SELECT {COLUMNS} FROM campaigns WHERE owner_instance = $1 AND status = 'running' ORDER BY id"
    ))
    .arg(instance)
    .fetch_all(ex)
    .await
}

/// Take over running campaigns nobody owns or whose owner's heartbeat is older than
/// `stale_before`. Returns each campaign taken and its previous owner.
pub async fn take_over(
    ex: &mut impl AsExec,
    instance: &str,
    stale_before: DateTime<Utc>,
    max: i64,
) -> Result<Vec<(i64, Option<String>)>> {
    let found: Vec<(i64, Option<String>)> = sql(
        "SELECT id, owner_instance FROM campaigns WHERE status = 'running' \
         AND (owner_instance IS NULL OR heartbeat_at IS NULL OR heartbeat_at < $1) ORDER BY id LIMIT $2",
    )
    .arg(stale_before)
    .arg(max)
    .fetch_all(ex)
    .await?;
    let mut taken = Vec::new();
    for (id, prev) in found {
        let n = sql("UPDATE campaigns SET owner_instance = $1, heartbeat_at = $2 WHERE id = $3 AND status = 'running' \
                     AND (owner_instance IS NULL OR heartbeat_at IS NULL OR heartbeat_at < $4)")
            .arg(instance)
            .arg(now())
            .arg(id)
            .arg(stale_before)
            .execute(ex)
            .await?;
        if n == 1 {
            taken.push((id, prev));
        }
    }
    Ok(taken)
}

/// Give up this instance's campaigns (a clean shutdown): another instance takes them at once.
pub async fn release_all(ex: &mut impl AsExec, instance: &str) -> Result<()> {
    sql(
        "UPDATE campaigns SET owner_instance = NULL, heartbeat_at = NULL WHERE owner_instance = $1",
    )
    .arg(instance)
    .execute(ex)
    .await?;
    Ok(())
}

/// Contacts whose wait is over become dialable again.
pub async fn wake_waiting(
    ex: &mut impl AsExec,
    campaign_id: i64,
    at: DateTime<Utc>,
) -> Result<u64> {
    sql("UPDATE campaign_leads SET state = 'pending', not_before = NULL WHERE campaign_id = $1 AND state = 'waiting' AND not_before <= $2")
        .arg(campaign_id)
        .arg(at)
        .execute(ex)
        .await
}

/// A contact offered to the campaign's next round.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Contact {
    pub position: i64,
    pub lead_id: i64,
    pub phone: String,
    pub timezone: Option<String>,
    pub deleted: bool,
    pub on_dnc: bool,
    pub in_call: bool,
    /// The lead's own status (`calling` while an operator or an external dialer has it).
    pub lead_status: String,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub leased_until: Option<DateTime<Utc>>,
    /// A call back kept for the lead's agent holds it (`leads::kept_for_agent_sql`).
    pub kept_for_agent: bool,
}

/// The next `limit` pending contacts in order; locked (skipping locked ones) on PostgreSQL.
pub async fn next_contacts(tx: &mut Tx, campaign_id: i64, limit: i64) -> Result<Vec<Contact>> {
    let pg = tx.backend() == Backend::Postgres;
    let lock = if pg {
        " FOR UPDATE OF cl SKIP LOCKED"
    } else {
        ""
    };
    sql(&format!(
        "SELECT cl.position, cl.lead_id, l.phone, l.timezone, \
         (l.deleted_at IS NOT NULL) AS deleted, \
         EXISTS (SELECT 1 FROM dnc WHERE dnc.phone = l.phone AND (dnc.client_id IS NULL OR dnc.client_id = l.client_id)) AS on_dnc, \
         EXISTS (SELECT 1 FROM calls c WHERE c.lead_id = l.id AND c.status IN ('initiated', 'ringing', 'answered')) AS in_call, \
         l.status AS lead_status, l.next_attempt_at, l.leased_until, {kept} AS kept_for_agent \
         FROM campaign_leads cl JOIN leads l ON l.id = cl.lead_id \
         WHERE cl.campaign_id = $1 AND cl.state = 'pending' ORDER BY cl.position LIMIT $2{lock}",
        kept = crate::leads::kept_for_agent_sql("l")
    ))
    .arg(campaign_id)
    .arg(limit)
    .fetch_all(tx)
    .await
}

/// Set contacts' state: `called` (with the call), `skipped` (with why) or `waiting` (until).
pub async fn set_contact(
    tx: &mut Tx,
    campaign_id: i64,
    position: i64,
    state: &str,
    call_id: Option<i64>,
    not_before: Option<DateTime<Utc>>,
    note: Option<&str>,
) -> Result<()> {
    sql("UPDATE campaign_leads SET state = $1, call_id = $2, not_before = $3, note = $4 WHERE campaign_id = $5 AND position = $6")
        .arg(state)
        .arg(call_id)
        .arg(not_before)
        .arg(note)
        .arg(campaign_id)
        .arg(position)
        .execute(tx)
        .await?;
    Ok(())
}

/// Mark contacts called (their calls carry the campaign and the lead).
pub async fn set_called(tx: &mut Tx, campaign_id: i64, positions: &[i64]) -> Result<()> {
    if positions.is_empty() {
        return Ok(());
    }
    let mut q = sql("UPDATE campaign_leads SET state = 'called', not_before = NULL WHERE campaign_id = $1 AND position IN ")
        .arg(campaign_id);
    q.push_list(positions.iter().copied());
    q.execute(tx).await?;
    Ok(())
}

/// Count processed contacts into the cursor and note activity.
pub async fn advance(tx: &mut Tx, campaign_id: i64, processed: i64) -> Result<()> {
    let t = now();
    sql("UPDATE campaigns SET current_index = current_index + $1, last_activity_at = $2, updated_at = $2 WHERE id = $3")
        .arg(processed)
        .arg(t)
        .arg(campaign_id)
        .execute(tx)
        .await?;
    Ok(())
}

/// Whether any contact is still to be called (`pending`) or waits for its time (`waiting`).
/// Two probes of `campaign_leads_state_idx` (campaign, state, position) that stop at the first
/// hit: the engine asks this every round once nothing is left to start, while the last calls
/// end, so it must not read the whole campaign the way [`contact_counts`] does. Written as
/// ordered single-row lookups so that a planner without statistics on a fresh, fast-changing
/// table still walks the index rather than scanning the table.
pub async fn has_open_contacts(ex: &mut impl AsExec, campaign_id: i64) -> Result<bool> {
    let found: Option<(i64,)> = sql(
        "SELECT position FROM (SELECT position FROM campaign_leads WHERE campaign_id = $1 AND state = 'pending' ORDER BY position LIMIT 1) p \
         UNION ALL SELECT position FROM (SELECT position FROM campaign_leads WHERE campaign_id = $1 AND state = 'waiting' ORDER BY position LIMIT 1) w \
         LIMIT 1",
    )
    .arg(campaign_id)
    .fetch_optional(ex)
    .await?;
    Ok(found.is_some())
}

/// Contacts per state (reads every contact of the campaign).
pub async fn contact_counts(ex: &mut impl AsExec, campaign_id: i64) -> Result<Vec<(String, i64)>> {
    sql("SELECT state, COUNT(*) FROM campaign_leads WHERE campaign_id = $1 GROUP BY state")
        .arg(campaign_id)
        .fetch_all(ex)
        .await
}

/// The campaign's calls: per status, with the summed talk time of answered ones.
#[derive(Debug, Clone, Default)]
pub struct CallStats {
    pub total: i64,
    pub live: i64,
    pub connected: i64,
    pub failed: i64,
    pub avg_duration: f64,
}

/// Read from the counts the database keeps as calls are placed and change (migration 0009's
/// triggers): the campaign's counts row plus the changes not yet folded into it, so this costs
/// a few rows however many calls the campaign has made.
pub async fn call_stats(ex: &mut impl AsExec, campaign_id: i64) -> Result<CallStats> {
    let (total, live, connected, failed, talk_calls, talk_secs): (i64, i64, i64, i64, i64, i64) =
        sql("SELECT CAST(COALESCE(SUM(total), 0) AS BIGINT), CAST(COALESCE(SUM(live), 0) AS BIGINT), \
             CAST(COALESCE(SUM(connected), 0) AS BIGINT), CAST(COALESCE(SUM(failed), 0) AS BIGINT), \
             CAST(COALESCE(SUM(talk_calls), 0) AS BIGINT), CAST(COALESCE(SUM(talk_secs), 0) AS BIGINT) FROM ( \
             SELECT total, live, connected, failed, talk_calls, talk_secs FROM campaign_call_counts WHERE campaign_id = $1 \
             UNION ALL \
             SELECT total, live, connected, failed, talk_calls, talk_secs FROM campaign_call_deltas WHERE campaign_id = $1) AS x")
        .arg(campaign_id)
        .fetch_one(ex)
        .await?;
    Ok(CallStats {
        total,
        live,
        connected,
        failed,
        avg_duration: if talk_calls > 0 {
            talk_secs as f64 / talk_calls as f64
        } else {
            0.0
        },
    })
}

/// Live calls of a campaign placed by `instance` (to reconcile after a takeover).
pub async fn live_calls_of(
    ex: &mut impl AsExec,
    campaign_id: i64,
    instance: &str,
) -> Result<Vec<crate::calls::Call>> {
    sql(&format!(
        "SELECT {} FROM calls WHERE calls.campaign_id = $1 AND calls.instance_id = $2 AND calls.status IN ('initiated', 'ringing', 'answered')",
        crate::calls::COLUMNS
    ))
    .arg(campaign_id)
    .arg(instance)
    .fetch_all(ex)
    .await
}
