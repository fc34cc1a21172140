//! Counts for the people's panels (seed 001's dashboards and performance reports): calls per
//! person, per day and per lead priority, and leads per status or priority. Every count covers
//! one client's rows that are not deleted.
//!
//! A call was answered when it reached `answered` (live) or `completed` (ended after an
//! answer); talk time is those calls' `duration_secs`. A call an answering machine took ends
//! `no-answer`: neither answered nor talk (its greeting is nobody's conversation).

use chrono::{DateTime, Utc};
use switchboard_core::CallStatus;

use crate::{AsExec, Result, Sql, counters, sql};

/// Calls counted together.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallCounts {
    pub total: i64,
    pub answered: i64,
    pub completed: i64,
    /// Seconds talked, summed.
    pub duration: i64,
}

impl CallCounts {
    /// Seconds talked per completed call, rounded down (0 without completed calls).
    pub fn average_duration(&self) -> i64 {
        if self.completed > 0 {
            self.duration / self.completed
        } else {
            0
        }
    }

    /// The share of calls answered, 0 to 1 (0 without calls).
    pub fn success_rate(&self) -> f64 {
        if self.total > 0 {
            self.answered as f64 / self.total as f64
        } else {
            0.0
        }
    }
}

/// The columns [`CallCounts`] is read from, over calls named `c`.
const COUNTS: &str = "COUNT(c.id), \
    CAST(COALESCE(SUM(CASE WHEN c.status IN ('answered', 'completed') THEN 1 ELSE 0 END), 0) AS BIGINT), \
    CAST(COALESCE(SUM(CASE WHEN c.status = 'completed' THEN 1 ELSE 0 END), 0) AS BIGINT), \
    CAST(COALESCE(SUM(CASE WHEN c.status IN ('answered', 'completed') THEN c.duration_secs END), 0) AS BIGINT)";

/// Which calls to count: a client's, perhaps one person's, perhaps started in `[from, to)`.
#[derive(Debug, Clone, Copy)]
pub struct Calls {
    pub client_id: i64,
    pub user_id: Option<i64>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

impl Calls {
    pub fn of_client(client_id: i64) -> Self {
        Self {
            client_id,
            user_id: None,
            from: None,
            to: None,
        }
    }

    fn push_where(&self, q: &mut Sql) {
        q.push(" WHERE c.client_id = ")
            .push_arg(self.client_id)
            .push(" AND c.deleted_at IS NULL");
        if let Some(u) = self.user_id {
            q.push(" AND c.user_id = ").push_arg(u);
        }
        if let Some(t) = self.from {
            q.push(" AND c.started_at >= ").push_arg(t);
        }
        if let Some(t) = self.to {
            q.push(" AND c.started_at < ").push_arg(t);
        }
    }
}

type CountsRow = (i64, i64, i64, i64);

fn counts((total, answered, completed, duration): CountsRow) -> CallCounts {
    CallCounts {
        total,
        answered,
        completed,
        duration,
    }
}

/// Calls counted from the kept counts' rows (status, how many, talk time).
pub fn counts_of_statuses<'a>(rows: impl IntoIterator<Item = (&'a str, i64, i64)>) -> CallCounts {
    let mut c = CallCounts::default();
    for (status, n, talk) in rows {
        c.total += n;
        let status = CallStatus::parse(status);
        if status.is_some_and(CallStatus::was_answered) {
            c.answered += n;
            c.duration += talk;
        }
        if status == Some(CallStatus::Completed) {
            c.completed += n;
        }
    }
    c
}

impl Calls {
    fn all_time(&self) -> bool {
        self.from.is_none() && self.to.is_none()
    }
}

/// The calls `which` names, counted. All-time counts are read from the counts kept as calls
/// change ([`counters::calls_by_user_status`]), not counted.
pub async fn call_counts(ex: &mut impl AsExec, which: &Calls) -> Result<CallCounts> {
    if which.all_time() {
        let rows = counters::calls_by_user_status(ex, which.client_id, which.user_id).await?;
        return Ok(counts_of_statuses(
            rows.iter().map(|(_, s, n, t)| (s.as_str(), *n, *t)),
        ));
    }
    let mut q = sql(&format!("SELECT {COUNTS} FROM calls c"));
    which.push_where(&mut q);
    Ok(counts(q.fetch_one::<CountsRow>(ex).await?))
}

/// The calls `which` names, counted per person who made them (calls of nobody left out), most
/// calls first. All time, from the kept counts.
pub async fn per_person(ex: &mut impl AsExec, which: &Calls) -> Result<Vec<(i64, CallCounts)>> {
    if which.all_time() {
        let rows = counters::calls_by_user_status(ex, which.client_id, which.user_id).await?;
        let mut by_user: std::collections::BTreeMap<i64, Vec<(&str, i64, i64)>> =
            std::collections::BTreeMap::new();
        for (u, s, n, t) in &rows {
            if *u != 0 {
                by_user.entry(*u).or_default().push((s.as_str(), *n, *t));
            }
        }
        let mut out: Vec<(i64, CallCounts)> = by_user
            .into_iter()
            .map(|(u, r)| (u, counts_of_statuses(r)))
            .filter(|(_, c)| c.total != 0)
            .collect();
        out.sort_by(|a, b| b.1.total.cmp(&a.1.total).then(a.0.cmp(&b.0)));
        return Ok(out);
    }
    let mut q = sql(&format!("SELECT c.user_id, {COUNTS} FROM calls c"));
    which.push_where(&mut q);
    q.push(" AND c.user_id IS NOT NULL GROUP BY c.user_id ORDER BY COUNT(c.id) DESC, c.user_id");
    let rows: Vec<(i64, i64, i64, i64, i64)> = q.fetch_all(ex).await?;
    Ok(rows
        .into_iter()
        .map(|(u, t, a, c, d)| (u, counts((t, a, c, d))))
        .collect())
}

/// The calls `which` names, counted per the priority of their lead (calls without a lead left
/// out), in the order urgent, high, medium, low; priorities without calls are left out.
pub async fn per_priority(
    ex: &mut impl AsExec,
    which: &Calls,
) -> Result<Vec<(String, CallCounts)>> {
    let mut q = sql(&format!(
        "SELECT l.priority, {COUNTS} FROM calls c JOIN leads l ON l.id = c.lead_id"
    ));
    which.push_where(&mut q);
    q.push(
        " GROUP BY l.priority ORDER BY CASE l.priority WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 \
         WHEN 'medium' THEN 2 ELSE 3 END",
    );
    let rows: Vec<(String, i64, i64, i64, i64)> = q.fetch_all(ex).await?;
    Ok(rows
        .into_iter()
        .map(|(p, t, a, c, d)| (p, counts((t, a, c, d))))
        .collect())
}

/// The calls `which` names (its own range aside), counted per period: each period is
/// `[start, end)`, and the answer has one entry per period, in the same order. Periods are
/// days of a time zone for the reports (a day is not always 24 hours).
pub async fn per_period(
    ex: &mut impl AsExec,
    which: &Calls,
    periods: &[(DateTime<Utc>, DateTime<Utc>)],
) -> Result<Vec<CallCounts>> {
    let mut out = vec![CallCounts::default(); periods.len()];
    // A statement of at most 200 periods (600 arguments) at a time.
    for (part, chunk) in periods.chunks(200).enumerate() {
        let mut q = sql(&format!("SELECT p.column1, {COUNTS} FROM (VALUES "));
        for (i, (start, end)) in chunk.iter().enumerate() {
            q.push(if i == 0 { "(" } else { ", (" })
                .push_arg((part * 200 + i) as i64)
                .push(", ")
                .push_arg(*start)
                .push(", ")
                .push_arg(*end)
                .push(")");
        }
        q.push(") AS p JOIN calls c ON c.started_at >= p.column2 AND c.started_at < p.column3");
        let only = Calls {
            from: None,
            to: None,
            ..*which
        };
        only.push_where(&mut q);
        q.push(" GROUP BY p.column1");
        let rows: Vec<(i64, i64, i64, i64, i64)> = q.fetch_all(ex).await?;
        for (i, t, a, c, d) in rows {
            if let Some(slot) = usize::try_from(i).ok().and_then(|i| out.get_mut(i)) {
                *slot = counts((t, a, c, d));
            }
        }
    }
    Ok(out)
}

/// What a client's live leads are counted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeadsBy {
    Status,
    Priority,
}

/// A client's leads that are not deleted, per status and priority.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeadCounts(pub Vec<(String, String, i64)>);

impl LeadCounts {
    /// Per status or per priority, in the values' order (values without leads left out).
    pub fn by(&self, by: LeadsBy) -> Vec<(String, i64)> {
        let mut out: std::collections::BTreeMap<&str, i64> = Default::default();
        for (status, priority, n) in &self.0 {
            let key = match by {
                LeadsBy::Status => status,
                LeadsBy::Priority => priority,
            };
            *out.entry(key).or_default() += n;
        }
        out.into_iter()
            .filter(|(_, n)| *n > 0)
            .map(|(k, n)| (k.to_string(), n))
            .collect()
    }
}

/// A client's leads that are not deleted, counted per status and priority: PostgreSQL keeps
/// these counts (migration 0018); SQLite counts them in one pass over its status index, whose
/// order is the grouping's (0.13 s at 1,000,000 leads, where counting per priority alone took
/// a walk of the table, 0.6 s).
pub async fn live_lead_counts(ex: &mut impl AsExec, client_id: i64) -> Result<LeadCounts> {
    if let Some(rows) = counters::live_leads_by_status_and_priority(&mut *ex, client_id).await? {
        return Ok(LeadCounts(rows));
    }
    let rows = sql(
        "SELECT status, priority, COUNT(*) FROM leads WHERE client_id = $1 AND deleted_at IS NULL \
         GROUP BY status, priority",
    )
    .arg(client_id)
    .fetch_all(ex)
    .await?;
    Ok(LeadCounts(rows))
}

/// A client's leads that are not deleted and were created in `[from, to)`, counted per status
/// or per priority (values without leads left out).
pub async fn leads_created_by(
    ex: &mut impl AsExec,
    client_id: i64,
    by: LeadsBy,
    (from, to): (DateTime<Utc>, DateTime<Utc>),
) -> Result<Vec<(String, i64)>> {
    let column = match by {
        LeadsBy::Status => "status",
        LeadsBy::Priority => "priority",
    };
    let mut q = sql(&format!("SELECT {column}, COUNT(*) FROM leads"));
    q.push(" WHERE client_id = ")
        .push_arg(client_id)
        .push(" AND deleted_at IS NULL");
    q.push(" AND created_at >= ")
        .push_arg(from)
        .push(" AND created_at < ")
        .push_arg(to);
    q.push(&format!(" GROUP BY {column}"));
    q.fetch_all(ex).await
}
