//! What external dialers report (seed 002's `report-result`): the numbers a batch of reports
//! names, and on PostgreSQL the whole batch written by one statement.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use switchboard_core::dialer::RetryRules;

use crate::calls::NewCall;
use crate::db::Exec;
use crate::dialer::{ATTEMPT_SETS, Attempt, rule_values};
use crate::leads::{COLUMNS, Lead};
use crate::{AsExec, Result, StoreError, Tx, now, sql};

/// A live lead an external dialer reports on, with its client's settings read by the same
/// query: the retry rules and the schedule's switch and version (`None` when never set).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReportedNumber {
    pub id: i64,
    pub phone: String,
    pub batch_id: Option<String>,
    pub rules: Option<Json<serde_json::Value>>,
    pub enabled: Option<bool>,
    pub version: Option<i64>,
}

/// The client's live leads among `ids` and `phones` (E.164), at most one query each.
pub async fn reported_numbers(
    tx: &mut Tx,
    client_id: i64,
    ids: &[i64],
    phones: &[String],
) -> Result<Vec<ReportedNumber>> {
    let mut out = Vec::new();
    let keys: [(&str, Vec<crate::Arg>); 2] = [
        ("id", ids.iter().map(|&i| i.into()).collect()),
        ("phone", phones.iter().map(Into::into).collect()),
    ];
    for (column, keys) in keys {
        if keys.is_empty() {
            continue;
        }
        let mut q = sql(
            "SELECT id, phone, batch_id, (SELECT rules FROM dialer_settings WHERE client_id = $1) AS rules, \
             (SELECT enabled FROM schedules WHERE client_id = $1) AS enabled, \
             (SELECT version FROM schedules WHERE client_id = $1) AS version \
             FROM leads WHERE client_id = $1 AND deleted_at IS NULL AND ",
        )
        .arg(client_id);
        q.push(column).push(" IN ").push_list(keys);
        out.extend(q.fetch_all::<ReportedNumber>(tx).await?);
    }
    Ok(out)
}

/// One report for [`write_attempts`]: the attempt as the call log keeps it and what it does to
/// its lead. The call's `to_number` and its metadata's `batch_id` are the lead's, read by the
/// statement.
pub struct AttemptReport<'a> {
    pub call: &'a NewCall,
    pub attempt: Attempt<'a>,
    pub notes: Option<&'a str>,
    /// The lead must have this phone (E.164) too, else the report is left out as unknown.
    pub expect_phone: Option<&'a str>,
}

/// The retry rules a client's reports were computed with: as parsed, and as stored
/// (`dialer_settings.rules`, `None` when never set), which the statement compares with what
/// is stored when it runs.
pub struct RulesUsed<'a> {
    pub client_id: i64,
    pub stored: Option<&'a Json<Value>>,
    pub rules: &'a RetryRules,
}

/// What [`write_attempts`] did with one report.
#[derive(Debug, sqlx::FromRow)]
pub struct AttemptWritten {
    /// The report's place in the list, from 0.
    pub ord: i64,
    /// The client's rules were still the ones given. When not, nothing was written for this
    /// report: read the rules again and write it again.
    pub fresh: bool,
    /// Stored now; `false` for a repeat of a stored attempt (the lead is as it was).
    pub written: bool,
    /// The schedule's switch and version (`None` when the client never saved a schedule).
    pub enabled: Option<bool>,
    pub version: Option<i64>,
    #[sqlx(flatten)]
    pub lead: Lead,
}

/// Write reports on distinct leads, each named by id, in one statement (PostgreSQL only; its
/// own transaction): find each client's live lead, store the attempt in the call log unless
/// the same attempt is there already, and update the lead as [`crate::dialer::record_attempts`]
/// does. One round trip instead of five (begin, find, insert, update, commit): the external
/// dialer's loop is bound by their latency. Reports of unknown leads, of another client's or
/// whose client's rules changed are left out or marked (see [`AttemptWritten`]).
pub async fn write_attempts(
    ex: &mut impl AsExec,
    rules: &[RulesUsed<'_>],
    list: &[AttemptReport<'_>],
) -> Result<Vec<AttemptWritten>> {
    let Exec::Pg(conn) = ex.exec() else {
        return Err(StoreError::Invalid(
            "write_attempts is PostgreSQL's; SQLite writes reports with record_attempts".into(),
        ));
    };
    let mut by_client = std::collections::HashMap::new();
    for r in rules {
        by_client.insert(r.client_id, r.rules);
    }
    let mut a = Arrays::default();
    for r in list {
        let c = r.call;
        let rules = by_client.get(&c.client_id).ok_or_else(|| {
            StoreError::Invalid(format!("no rules given for client {}", c.client_id))
        })?;
        let (last, fixed, due) = rule_values(rules, &r.attempt);
        a.lead.push(r.attempt.lead_id);
        a.at.push(r.attempt.at);
        a.disposition.push(r.attempt.disposition.as_str());
        a.last.push(last);
        a.fixed.push(fixed);
        a.due.push(due);
        a.agent.push(r.attempt.agent);
        a.lead_note.push(r.attempt.notes);
        a.client.push(c.client_id);
        a.provider.push(c.provider.as_str());
        a.provider_call_id.push(c.provider_call_id.as_deref());
        a.direction.push(c.direction.as_str());
        a.from.push(c.from_number.as_deref());
        a.user.push(c.user_id);
        a.status.push(c.status.as_str());
        a.surface_status.push(c.surface_status.as_deref());
        a.started.push(c.started_at);
        a.ended.push(c.status.is_final().then_some(c.started_at));
        a.language.push(c.language.as_deref());
        a.metadata.push(Json(&c.metadata));
        a.campaign.push(c.campaign_id);
        a.instance.push(c.instance_id.as_deref());
        a.slots.push(c.slots);
        a.call_note.push(r.notes);
        a.expect_phone.push(r.expect_phone);
    }
    let clients: Vec<i64> = rules.iter().map(|r| r.client_id).collect();
    let stored: Vec<Option<Json<&Value>>> =
        rules.iter().map(|r| r.stored.map(|j| Json(&j.0))).collect();
    let t = now();
    let text = statement();
    let rows = sqlx::query_as::<_, AttemptWritten>(sqlx::AssertSqlSafe(text.as_str()))
        .bind(clients)
        .bind(stored)
        .bind(a.lead)
        .bind(a.at)
        .bind(a.disposition)
        .bind(a.last)
        .bind(a.fixed)
        .bind(a.due)
        .bind(a.agent)
        .bind(a.lead_note)
        .bind(a.client)
        .bind(a.provider)
        .bind(a.provider_call_id)
        .bind(a.direction)
        .bind(a.from)
        .bind(a.user)
        .bind(a.status)
        .bind(a.surface_status)
        .bind(a.started)
        .bind(a.ended)
        .bind(a.language)
        .bind(a.metadata)
        .bind(a.campaign)
        .bind(a.instance)
        .bind(a.slots)
        .bind(a.call_note)
        .bind(t)
        .bind(a.expect_phone)
        .fetch_all(&mut *conn)
        .await?;
    Ok(rows)
}

/// One array per column of the reports, bound as `unnest`'s arguments.
#[derive(Default)]
struct Arrays<'a> {
    lead: Vec<i64>,
    at: Vec<DateTime<Utc>>,
    disposition: Vec<&'a str>,
    last: Vec<Option<i64>>,
    fixed: Vec<Option<&'static str>>,
    due: Vec<Option<DateTime<Utc>>>,
    agent: Vec<Option<i64>>,
    lead_note: Vec<Option<&'a str>>,
    client: Vec<i64>,
    provider: Vec<&'a str>,
    provider_call_id: Vec<Option<&'a str>>,
    direction: Vec<&'a str>,
    from: Vec<Option<&'a str>>,
    user: Vec<Option<i64>>,
    status: Vec<&'a str>,
    surface_status: Vec<Option<&'a str>>,
    started: Vec<DateTime<Utc>>,
    ended: Vec<Option<DateTime<Utc>>>,
    language: Vec<Option<&'a str>>,
    metadata: Vec<Json<&'a Value>>,
    campaign: Vec<Option<i64>>,
    instance: Vec<Option<&'a str>>,
    slots: Vec<i64>,
    call_note: Vec<Option<&'a str>>,
    expect_phone: Vec<Option<&'a str>>,
}

/// The statement of [`write_attempts`] (public for benchmarks that replay it). `v`'s first eight columns are the lead's change as
/// [`ATTEMPT_SETS`] reads them. A lead is updated only when its attempt was stored (the
/// INSERT's RETURNING), so a repeated report changes nothing; the last two parts return
/// the leads as updated, or for repeats as they are.
pub fn statement() -> String {
    let updated = COLUMNS.replace("leads.", "u.");
    format!(
        "WITH c (client_id, rules) AS (SELECT * FROM unnest($1::bigint[], $2::jsonb[])), \
         v AS (SELECT * FROM unnest($3::bigint[], $4::timestamptz[], $5::text[], $6::bigint[], $7::text[], \
               $8::timestamptz[], $9::bigint[], $10::text[], $11::bigint[], $12::text[], $13::text[], $14::text[], \
               $15::text[], $16::bigint[], $17::text[], $18::text[], $19::timestamptz[], $20::timestamptz[], \
               $21::text[], $22::jsonb[], $23::bigint[], $24::text[], $25::bigint[], $26::text[], $28::text[]) WITH ORDINALITY \
               AS v(column1, column2, column3, column4, column5, column6, column7, column8, client_id, provider, \
               provider_call_id, direction, from_number, user_id, status, surface_status, started_at, ended_at, \
               language, metadata, campaign_id, instance_id, slots, notes, expect_phone, ord)), \
         found AS (SELECT v.*, l.phone, l.batch_id, d.rules IS NOT DISTINCT FROM c.rules AS fresh \
               FROM v JOIN c ON c.client_id = v.client_id \
               JOIN leads l ON l.id = v.column1 AND l.client_id = v.client_id AND l.deleted_at IS NULL \
               AND (v.expect_phone IS NULL OR l.phone = v.expect_phone) \
               LEFT JOIN dialer_settings d ON d.client_id = v.client_id), \
         ins AS (INSERT INTO calls (client_id, provider, provider_call_id, direction, from_number, to_number, \
               lead_id, user_id, status, surface_status, started_at, ended_at, language, metadata, created_at, \
               updated_at, campaign_id, instance_id, slots, notes) \
               SELECT client_id, provider, provider_call_id, direction, from_number, phone, column1, user_id, \
               status, surface_status, started_at, ended_at, language, \
               metadata || jsonb_build_object('batch_id', batch_id), $27, $27, campaign_id, instance_id, slots, notes \
               FROM found WHERE fresh \
               ON CONFLICT (provider, provider_call_id) DO NOTHING RETURNING lead_id), \
         u AS (UPDATE leads SET {ATTEMPT_SETS}$27 \
               FROM (SELECT column1, column2, column3, column4, column5, column6, column7, column8 \
               FROM found JOIN ins ON ins.lead_id = found.column1) AS v \
               WHERE leads.id = v.column1 RETURNING {COLUMNS}) \
         SELECT f.ord - 1 AS ord, f.fresh, TRUE AS written, s.enabled, s.version, {updated} \
               FROM found f JOIN u ON u.id = f.column1 LEFT JOIN schedules s ON s.client_id = f.client_id \
         UNION ALL \
         SELECT f.ord - 1, f.fresh, FALSE, s.enabled, s.version, {COLUMNS} \
               FROM found f JOIN leads ON leads.id = f.column1 LEFT JOIN schedules s ON s.client_id = f.client_id \
               WHERE NOT EXISTS (SELECT 1 FROM u WHERE u.id = f.column1)"
    )
}
