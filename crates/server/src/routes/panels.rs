//! Seed 001's dashboards and performance reports: the admin's view of the client's people,
//! leads and calls, and each operator's view of their own work.
//!
//! Days ("today", the daily rows, `startDate`/`endDate` given as dates) are days of the
//! client's calling schedule's time zone, the call center's own. Counts follow
//! [`switchboard_store::performance`]: a call was answered when it reached `answered` or
//! `completed`, and the average duration is talk time per completed call.

use std::collections::HashMap;

use axum::extract::State;
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::Deserialize;
use serde_json::{Value, json};
use switchboard_core::days::{self, Day};
use switchboard_core::{PageRequest, Priority};
use switchboard_store::calls::{self, CallFilter, CallRow};
use switchboard_store::leads::{self, LeadFilter};
use switchboard_store::performance::{self, CallCounts, Calls, LeadsBy};
use switchboard_store::users::{self, User};

use crate::auth::{AdminSession, Session};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Query, ts};
use crate::routes::dialer::stored_or_default;
use crate::routes::operator::{available_leads, seed001_status};
use crate::state::AppState;

/// Most days one report covers.
const MAX_DAYS: i64 = 366;
/// Days a report covers when it is not told (ending today).
const DEFAULT_DAYS: i64 = 30;

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RangeQuery {
    /// First day (`YYYY-MM-DD`, in the client's time zone) or an ISO 8601 time; default 29
    /// days before `endDate`
    #[serde(rename = "startDate", alias = "start_date")]
    start_date: Option<String>,
    /// Last day, included (`YYYY-MM-DD`), or an ISO 8601 time; default today
    #[serde(rename = "endDate", alias = "end_date")]
    end_date: Option<String>,
}

/// The client's time zone: its schedule's.
async fn zone(st: &AppState, client: i64) -> ApiResult<Tz> {
    let s = stored_or_default(&mut st.db.read().await?, &st.config.timezone, client).await?;
    Ok(s.doc.timezone.parse().unwrap_or(chrono_tz::UTC))
}

/// A report's range: `[from, to)` and its days, each cut to the range.
struct Range {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    days: Vec<Day>,
}

/// One end of a range: a local date (its first instant, or with `end` the first instant of
/// the next day) or an exact time (with `end`, included).
fn bound(field: &str, v: &str, tz: Tz, end: bool) -> ApiResult<DateTime<Utc>> {
    let v = v.trim();
    if let Ok(d) = NaiveDate::parse_from_str(v, "%Y-%m-%d") {
        let d = if end { d.succ_opt().unwrap_or(d) } else { d };
        return Ok(days::day_start(tz, d));
    }
    if let Some(t) = crate::extract::parse_iso8601(v) {
        return Ok(if end {
            t + Duration::microseconds(1)
        } else {
            t
        });
    }
    Err(ApiError::bad_request(format!(
        "{field} must be a date (YYYY-MM-DD) or an ISO 8601 time, not '{v}'"
    )))
}

fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().filter(|v| !v.trim().is_empty())
}

fn range(q: &RangeQuery, tz: Tz, now: DateTime<Utc>) -> ApiResult<Range> {
    let today = days::day_of(tz, now);
    let to = match given(&q.end_date) {
        Some(v) => bound("endDate", v, tz, true)?,
        None => days::day_start(tz, today.succ_opt().unwrap_or(today)),
    };
    let from = match given(&q.start_date) {
        Some(v) => bound("startDate", v, tz, false)?,
        None => {
            let last = days::day_of(tz, to - Duration::microseconds(1));
            days::day_start(tz, last - Duration::days(DEFAULT_DAYS - 1))
        }
    };
    if to <= from {
        return Err(ApiError::bad_request(
            "endDate must not be before startDate",
        ));
    }
    let first = days::day_of(tz, from);
    let last = days::day_of(tz, to - Duration::microseconds(1));
    if (last - first).num_days() >= MAX_DAYS {
        return Err(ApiError::bad_request(format!(
            "startDate to endDate covers at most {MAX_DAYS} days"
        )));
    }
    let days = days::days(tz, first, last)
        .into_iter()
        .map(|d| Day {
            start: d.start.max(from),
            end: d.end.min(to),
            ..d
        })
        .collect();
    Ok(Range { from, to, days })
}

/// A date as seed 001's daily rows name it (a MongoDB `$group` key).
fn date_key(d: NaiveDate) -> Value {
    json!({ "year": d.year(), "month": d.month(), "day": d.day() })
}

fn rate(c: &CallCounts) -> f64 {
    (c.success_rate() * 100.0).round() / 100.0
}

/// The client's people by id.
async fn people(st: &AppState, client: i64) -> ApiResult<HashMap<i64, User>> {
    Ok(users::list(&st.db, Some(client))
        .await?
        .into_iter()
        .map(|u| (u.id, u))
        .collect())
}

/// Calls of `which` and how many of them started today.
async fn totals(
    st: &AppState,
    which: Calls,
    tz: Tz,
    now: DateTime<Utc>,
) -> ApiResult<(CallCounts, i64)> {
    let mut rd = st.db.read().await?;
    let all = performance::call_counts(&mut rd, &which).await?;
    let (from, to) = switchboard_core::dialer::day_bounds(now, tz);
    let today = performance::call_counts(
        &mut rd,
        &Calls {
            from: Some(from),
            to: Some(to),
            ..which
        },
    )
    .await?;
    Ok((all, today.total))
}

/// The newest `n` calls a filter matches.
async fn recent(st: &AppState, client: i64, f: &CallFilter, n: u32) -> ApiResult<Vec<CallRow>> {
    let (rows, _) = calls::list_counted(&mut st.db.read().await?, client, f, n, 0, Some(1)).await?;
    Ok(rows)
}

fn lead_of(r: &CallRow) -> Value {
    json!({
        "id": r.call.lead_id,
        "phone": r.lead_phone.clone().or_else(|| r.call.to_number.clone()),
        "name": r.lead_name,
    })
}

#[utoipa::path(
    get,
    path = "/api/admin/dashboard",
    tag = "admin",
    summary = "The client's people, leads and calls at a glance (seed 001)",
    description = "Calls are counted over all time, `todayCalls` over today in the client's time zone; `salespersonPerformance` lists the 50 people with the most calls, `recentActivity` the 10 newest calls.",
    security(("bearerAuth" = [])),
    responses((status = 200, description = "`dashboard`: `userStats`, `leadStats`, `callStats`, `priorityBreakdown`, `salespersonPerformance`, `recentActivity`", body = Object), crate::docs::AdminErrors)
)]
pub async fn admin_dashboard(
    State(st): State<AppState>,
    AdminSession(s): AdminSession,
) -> ApiResult<Json<Value>> {
    let client = s.client_id();
    let now = Utc::now();
    let tz = zone(&st, client).await?;
    let people = people(&st, client).await?;
    let operator = |u: &&User| u.role == "operator";
    let user_stats = json!({
        "totalUsers": people.len(),
        "activeUsers": people.values().filter(|u| u.is_active).count(),
        "availableSalespeople": people.values().filter(operator).filter(|u| u.is_active && u.is_available).count(),
        "totalAdmins": people.values().filter(|u| u.role != "operator").count(),
    });

    let mut rd = st.db.read().await?;
    let by_status: HashMap<String, i64> =
        performance::leads_by(&mut rd, client, LeadsBy::Status, None)
            .await?
            .into_iter()
            .collect();
    let status = |s: &str| by_status.get(s).copied().unwrap_or(0);
    let lead_stats = json!({
        "totalLeads": by_status.values().sum::<i64>(),
        "pendingLeads": status("pending"),
        "claimedLeads": status("claimed"),
        "callingLeads": status("calling"),
        "answeredLeads": status("answered"),
        "transferredLeads": status("transferred"),
        "failedLeads": status("failed"),
    });
    let by_priority: HashMap<String, i64> =
        performance::leads_by(&mut rd, client, LeadsBy::Priority, None)
            .await?
            .into_iter()
            .collect();
    let priority_breakdown: Vec<Value> = Priority::ALL
        .iter()
        .map(|p| json!({ "_id": p.as_str(), "count": by_priority.get(p.as_str()).copied().unwrap_or(0) }))
        .collect();
    let per_person = performance::per_person(&mut rd, &Calls::of_client(client)).await?;
    drop(rd);

    let (calls_all, calls_today) = totals(&st, Calls::of_client(client), tz, now).await?;
    let call_stats = json!({
        "totalCalls": calls_all.total,
        "todayCalls": calls_today,
        "answeredCalls": calls_all.answered,
        "completedCalls": calls_all.completed,
        "totalDuration": calls_all.duration,
        "averageDuration": calls_all.average_duration(),
    });
    let salespeople: Vec<Value> = per_person
        .iter()
        .filter_map(|(id, c)| Some((people.get(id)?, c)))
        .take(50)
        .map(|(u, c)| {
            json!({
                "id": u.id,
                "name": u.full_name(),
                "email": u.email,
                "totalCalls": c.total,
                "successfulCalls": c.answered,
                "totalDuration": c.duration,
            })
        })
        .collect();
    let recent_activity: Vec<Value> = recent(&st, client, &CallFilter::default(), 10)
        .await?
        .iter()
        .map(|r| {
            json!({
                "lead": lead_of(r),
                "salesperson": r.call.user_id.map(|id| json!({ "id": id, "name": r.agent_name })),
                "status": seed001_status(&r.call.status),
                "createdAt": ts(&r.call.started_at),
            })
        })
        .collect();
    Ok(Json(json!({
        "dashboard": {
            "userStats": user_stats,
            "leadStats": lead_stats,
            "callStats": call_stats,
            "priorityBreakdown": priority_breakdown,
            "salespersonPerformance": salespeople,
            "recentActivity": recent_activity,
        }
    })))
}

#[utoipa::path(
    get,
    path = "/api/admin/reports/performance",
    tag = "admin",
    summary = "Calls per person and per day, and leads per status, over a range (seed 001)",
    description = "Dates are days of the client's time zone, both ends included (default: the last 30 days; at most 366). `leadConversion` counts the leads created in the range by status; `dailyCalls` lists the days with calls.",
    security(("bearerAuth" = [])),
    params(RangeQuery),
    responses((status = 200, description = "`performance`: `salespersonStats`, `leadConversion`, `dailyCalls`", body = Object), (status = 400, description = "A bad date or range", body = crate::docs::ErrorBody), crate::docs::AdminErrors)
)]
pub async fn admin_performance(
    State(st): State<AppState>,
    AdminSession(s): AdminSession,
    Query(q): Query<RangeQuery>,
) -> ApiResult<Json<Value>> {
    let client = s.client_id();
    let tz = zone(&st, client).await?;
    let r = range(&q, tz, Utc::now())?;
    let which = Calls {
        from: Some(r.from),
        to: Some(r.to),
        ..Calls::of_client(client)
    };
    let people = people(&st, client).await?;
    let mut rd = st.db.read().await?;
    let salespeople: Vec<Value> = performance::per_person(&mut rd, &which)
        .await?
        .iter()
        .filter_map(|(id, c)| Some((people.get(id)?, c)))
        .map(|(u, c)| {
            json!({
                "id": u.id,
                "name": u.full_name(),
                "totalCalls": c.total,
                "answeredCalls": c.answered,
                "completedCalls": c.completed,
                "totalDuration": c.duration,
                "successRate": rate(c),
            })
        })
        .collect();
    let conversion: Vec<Value> =
        performance::leads_by(&mut rd, client, LeadsBy::Status, Some((r.from, r.to)))
            .await?
            .into_iter()
            .map(|(status, n)| json!({ "_id": status, "count": n }))
            .collect();
    let periods: Vec<_> = r.days.iter().map(|d| (d.start, d.end)).collect();
    let daily: Vec<Value> = performance::per_period(&mut rd, &which, &periods)
        .await?
        .iter()
        .zip(&r.days)
        .filter(|(c, _)| c.total > 0)
        .map(|(c, d)| {
            json!({ "_id": date_key(d.date), "totalCalls": c.total, "answeredCalls": c.answered })
        })
        .collect();
    Ok(Json(json!({
        "performance": {
            "salespersonStats": salespeople,
            "leadConversion": conversion,
            "dailyCalls": daily,
        }
    })))
}

#[utoipa::path(
    get,
    path = "/api/operator/dashboard",
    tag = "seed 001: operator",
    summary = "The caller's own calls and leads, the leads waiting, and the ranking (seed 001)",
    description = "`personalStats` counts the caller's calls over all time (`todayCalls`: today in the client's time zone); `assignedLeads` are the caller's open leads (pending, claimed or calling, 20 at most), `recentCalls` the 10 newest, `availableLeads` the 10 most urgent leads the caller may claim; `performanceRanking` ranks the client's 10 people with the most calls, and `operatorRank` is the caller's place (after everyone with calls when the caller has none).",
    security(("bearerAuth" = [])),
    responses((status = 200, description = "`dashboard`: `personalStats`, `assignedLeads`, `recentCalls`, `availableLeads`, `performanceRanking`, `operatorRank`", body = Object), crate::docs::AuthErrors)
)]
pub async fn operator_dashboard(State(st): State<AppState>, s: Session) -> ApiResult<Json<Value>> {
    let client = s.client_id();
    let now = Utc::now();
    let tz = zone(&st, client).await?;
    let mine = Calls {
        user_id: Some(s.user.id),
        ..Calls::of_client(client)
    };
    let (c, calls_today) = totals(&st, mine, tz, now).await?;
    let personal = json!({
        "totalCalls": c.total,
        "todayCalls": calls_today,
        "answeredCalls": c.answered,
        "completedCalls": c.completed,
        "totalDuration": c.duration,
        "averageDuration": c.average_duration(),
    });
    let assigned_filter = LeadFilter {
        statuses: vec!["pending".into(), "claimed".into(), "calling".into()],
        assigned_user_id: Some(s.user.id),
        ..Default::default()
    };
    let (assigned, _) = leads::list(
        &st.db,
        client,
        &assigned_filter,
        &leads::LeadSort::parse(Some("updated_at"), Some("desc")).map_err(ApiError::bad_request)?,
        20,
        0,
    )
    .await?;
    let mine_filter = CallFilter {
        user_id: Some(s.user.id),
        ..Default::default()
    };
    let recent_calls: Vec<Value> = recent(&st, client, &mine_filter, 10)
        .await?
        .iter()
        .map(|r| {
            json!({
                "id": r.call.id,
                "lead": lead_of(r),
                "status": seed001_status(&r.call.status),
                "duration": r.call.duration_secs.unwrap_or(0),
                "createdAt": ts(&r.call.started_at),
            })
        })
        .collect();
    let (available, _) = available_leads(
        &st,
        &s,
        &LeadFilter::default(),
        PageRequest::new(Some(1), Some(10)),
    )
    .await?;
    let people = people(&st, client).await?;
    let ranked: Vec<(&User, CallCounts)> =
        performance::per_person(&mut st.db.read().await?, &Calls::of_client(client))
            .await?
            .into_iter()
            .filter_map(|(id, c)| Some((people.get(&id)?, c)))
            .collect();
    let rank = ranked
        .iter()
        .position(|(u, _)| u.id == s.user.id)
        .unwrap_or(ranked.len())
        + 1;
    Ok(Json(json!({
        "dashboard": {
            "personalStats": personal,
            "assignedLeads": assigned.iter().map(|l| json!({
                "id": l.id, "phone": l.phone, "name": l.name, "priority": l.priority, "status": l.status,
            })).collect::<Vec<_>>(),
            "recentCalls": recent_calls,
            "availableLeads": available.iter().map(|l| json!({
                "id": l.id, "phone": l.phone, "name": l.name, "priority": l.priority,
            })).collect::<Vec<_>>(),
            "performanceRanking": ranked.iter().take(10).map(|(u, c)| json!({
                "id": u.id, "name": u.full_name(), "totalCalls": c.total, "successRate": rate(c),
            })).collect::<Vec<_>>(),
            "operatorRank": rank,
        }
    })))
}

#[utoipa::path(
    get,
    path = "/api/operator/profile/performance",
    tag = "seed 001: operator",
    summary = "The caller's calls over a range, per day and per lead priority (seed 001)",
    description = "Dates are days of the client's time zone, both ends included (default: the last 30 days; at most 366). `dailyPerformance` lists the days with calls; `leadConversion` the priorities of the leads called.",
    security(("bearerAuth" = [])),
    params(RangeQuery),
    responses((status = 200, description = "`performance`, `dailyPerformance`, `leadConversion`", body = Object), (status = 400, description = "A bad date or range", body = crate::docs::ErrorBody), crate::docs::AuthErrors)
)]
pub async fn operator_performance(
    State(st): State<AppState>,
    s: Session,
    Query(q): Query<RangeQuery>,
) -> ApiResult<Json<Value>> {
    let client = s.client_id();
    let tz = zone(&st, client).await?;
    let r = range(&q, tz, Utc::now())?;
    let mine = Calls {
        user_id: Some(s.user.id),
        from: Some(r.from),
        to: Some(r.to),
        ..Calls::of_client(client)
    };
    let mut rd = st.db.read().await?;
    let c = performance::call_counts(&mut rd, &mine).await?;
    let periods: Vec<_> = r.days.iter().map(|d| (d.start, d.end)).collect();
    let daily: Vec<Value> = performance::per_period(&mut rd, &mine, &periods)
        .await?
        .iter()
        .zip(&r.days)
        .filter(|(c, _)| c.total > 0)
        .map(|(c, d)| {
            json!({
                "_id": date_key(d.date),
                "calls": c.total,
                "answered": c.answered,
                "completed": c.completed,
                "duration": c.duration,
            })
        })
        .collect();
    let conversion: Vec<Value> = performance::per_priority(&mut rd, &mine)
        .await?
        .iter()
        .map(|(p, c)| {
            json!({
                "_id": p,
                "totalCalls": c.total,
                "answeredCalls": c.answered,
                "completedCalls": c.completed,
            })
        })
        .collect();
    Ok(Json(json!({
        "performance": {
            "totalCalls": c.total,
            "answeredCalls": c.answered,
            "completedCalls": c.completed,
            "totalDuration": c.duration,
            "averageDuration": c.average_duration(),
        },
        "dailyPerformance": daily,
        "leadConversion": conversion,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn q(start: Option<&str>, end: Option<&str>) -> RangeQuery {
        RangeQuery {
            start_date: start.map(String::from),
            end_date: end.map(String::from),
        }
    }

    #[test]
    fn ranges_are_local_days_both_ends_included() {
        let tehran: Tz = "Asia/Tehran".parse().unwrap();
        let now = at("2026-01-20T10:00:00Z");
        let r = range(&q(Some("2026-01-01"), Some("2026-01-31")), tehran, now).unwrap();
        assert_eq!(r.from, at("2025-12-31T20:30:00Z"));
        assert_eq!(r.to, at("2026-01-31T20:30:00Z"));
        assert_eq!(r.days.len(), 31);

        // Default: the 30 days ending today, local.
        let r = range(&q(None, None), tehran, at("2026-01-20T21:00:00Z")).unwrap();
        assert_eq!(r.days.len(), 30);
        assert_eq!(r.days[29].date.to_string(), "2026-01-21");

        // Exact times cut the first and last day.
        let r = range(
            &q(Some("2026-01-01T12:00:00Z"), Some("2026-01-02T06:00:00Z")),
            chrono_tz::UTC,
            now,
        )
        .unwrap();
        assert_eq!(r.days.len(), 2);
        assert_eq!(r.days[0].start, at("2026-01-01T12:00:00Z"));
        assert_eq!(r.days[1].end, at("2026-01-02T06:00:00.000001Z"));
    }

    #[test]
    fn bad_ranges_are_refused() {
        let now = at("2026-01-20T10:00:00Z");
        for (s, e) in [
            (Some("2026-02-01"), Some("2026-01-01")),
            (Some("yesterday"), None),
            (None, Some("2026-13-01")),
            (Some("2024-01-01"), Some("2026-01-01")),
        ] {
            assert!(range(&q(s, e), chrono_tz::UTC, now).is_err(), "{s:?} {e:?}");
        }
        assert!(
            range(
                &q(Some("2026-01-05"), Some("2026-01-05")),
                chrono_tz::UTC,
                now
            )
            .is_ok()
        );
    }
}
